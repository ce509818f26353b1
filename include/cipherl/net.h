/* cipherl net layer: the owner and the platform as separate processes.
 *
 * The platform (net_platform) serves owners over ZeroMQ with CURVE
 * (authenticated encryption; an owner's identity is its CURVE public key). It
 * holds evaluation keys and ciphertexts only, and keeps every owner's state
 * (encrypted replay, weights, target, optimizer state, counters) in a SQLite
 * store, committing each request with its reply before it answers: after a
 * crash it resumes from the last reply it sent, and a request the owner
 * retries is never applied twice. The owner (net_owner) drives the session:
 * HELLO, INIT, then ACT and STEP for each environment step, refreshing the
 * ciphertexts the platform hands back, and PULL for the weights.
 * docs/protocol.md describes the messages. */
#ifndef CIPHERL_NET_H
#define CIPHERL_NET_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cipherl/ckks.h"
#include "cipherl/common.h"
#include "cipherl/slots.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A line for the operator's log (no newline); the library never prints. */
typedef void (*net_log_fn)(void *user, const char *line);

/* ------------------------------------------------------------ platform */

typedef struct net_platform_config {
    const char *listen;     /* "tcp://HOST:PORT", or "tcp://127.0.0.1:*" for a free port */
    const char *state_dir;  /* its store and its CURVE keypair; created 0700 if missing */
    bool allow_insecure;    /* accept parameter sets below 128-bit security (tests only) */
    size_t max_msg_bytes;   /* 0: 2 GiB */
    int refresh_timeout_ms; /* how long a refresh may take the owner (0: 600 000) */
    int64_t max_buffer_size; /* the largest replay buffer a session may ask for, in transitions (0: 1 000 000) */
    const char *allow_file; /* the owners let in: one CURVE public key (Z85) per line, or their
                               owner.curve.pub files concatenated; NULL lets in any key */
    net_log_fn log;         /* may be NULL */
    void *log_user;
} net_platform_config;

typedef struct net_platform net_platform;

/* Refuses a state directory that holds secret key material (a CKKS secret key
 * in any file): CL_ERR_INVALID with the file named in err. */
cl_status net_platform_check_state_dir(const char *dir, char *err, size_t errlen);
/* Opens the store, loads or creates the platform's CURVE keypair
 * (DIR/server.curve, DIR/server.curve.pub) and binds. */
cl_status net_platform_open(const net_platform_config *cfg, net_platform **out, char *err, size_t errlen);
const char *net_platform_endpoint(const net_platform *p);   /* the bound endpoint */
const char *net_platform_public_key(const net_platform *p); /* Z85 */
/* Serves until *stop becomes non-zero (checked every 200 ms). */
cl_status net_platform_serve(net_platform *p, volatile sig_atomic_t *stop);
void net_platform_close(net_platform *p);

/* ------------------------------------------------------------ owner */

#define NET_OWNER_MAX_WAIT_MS 600000 /* the longest silence a retried request waits for (10 minutes) */

typedef struct net_owner_config {
    const char *endpoint;    /* the platform's endpoint */
    const char *server_key;  /* the platform's CURVE public key, Z85 */
    const char *key_file;    /* the owner's CURVE keypair file (mode 0600) */
    int timeout_ms;          /* silence after which a request is sent again on a new connection (0: 120 000);
                              * each further try waits twice as long as the one before, up to
                              * NET_OWNER_MAX_WAIT_MS (or timeout_ms, if that is longer) */
    int retries;             /* how many times (0: 20) */
    net_log_fn log;          /* may be NULL: reconnections are reported here */
    void *log_user;
} net_owner_config;

typedef struct net_owner_stats {
    uint64_t requests, bytes_sent, bytes_received, refreshes, retries;
    double seconds; /* waiting for replies, refreshes included */
    /* The same traffic split by what it served (bytes both ways, refreshes
     * and retries included; the rest is session set-up: HELLO, INIT, PULL):
     * greedy actions (ACT), environment steps that only stored a transition,
     * and steps whose STEP also ran training (train_gradient_steps in all). */
    uint64_t acts, stores, trains, train_gradient_steps;
    uint64_t bytes_act, bytes_store, bytes_train;
    double seconds_act, seconds_store, seconds_train; /* round trips, summed */
} net_owner_stats;

typedef struct net_owner net_owner;

/* ctx and owner: the owner's side of a ckks context for params (no evaluation
 * keys needed); they stay the caller's. */
cl_status net_owner_open(const net_owner_config *cfg, const ckks_params *params, slots_ctx *ctx, slots_owner *owner,
                         net_owner **out);
void net_owner_close(net_owner *o);
/* The platform's answer to the last refused request (empty if none). */
const char *net_owner_last_error(const net_owner *o);
const net_owner_stats *net_owner_get_stats(const net_owner *o);

typedef struct net_session_info {
    uint64_t env_steps, initialized, train_steps, last_seq;
} net_session_info;
/* Opens or resumes this owner's session: environment, hyperparameter line,
 * the platform's sampling seed, serialized parameters and evaluation keys. */
cl_status net_owner_hello(net_owner *o, const char *env_id, const char *hparams, uint64_t sample_seed,
                          const uint8_t *params, size_t params_len, const uint8_t *eval_keys, size_t eval_keys_len,
                          net_session_info *info);
/* Sends the encrypted initial state. */
cl_status net_owner_init(net_owner *o, slots_vec *const *vecs, size_t n);
/* Asks for the encrypted online weights: receives the session's environment
 * and hyperparameter line; then net_owner_pulled_weights decodes the n
 * weight vectors of that reply into w[0..n) (vectors of ctx). */
cl_status net_owner_pull(net_owner *o, char *env_id, size_t env_cap, char *hparams, size_t hp_cap);
cl_status net_owner_pulled_weights(net_owner *o, slots_ctx *ctx, slots_vec *const *w, size_t n);
/* The rl_he_dqn_link (rl/he_dqn.h) that runs ACT and STEP on the platform. */
struct rl_he_dqn_link;
void net_owner_link(net_owner *o, struct rl_he_dqn_link *link);

#ifdef __cplusplus
}
#endif
#endif
