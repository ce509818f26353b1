/* What `cipherl train` parsed, shared by its modes (cmd_train.c: plain;
 * train_he.c: clear and interactive). */
#ifndef CIPHERL_CLI_TRAIN_H
#define CIPHERL_CLI_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#define CLI_TRAIN_MAX_HP 64

typedef struct cli_train_opts {
    const char *mode;      /* plain | clear | interactive */
    const char *env_id;
    const char *algo;      /* NULL: the action space's default */
    uint64_t seed;
    int64_t steps;         /* 0: the hyperparameters' n_timesteps */
    const char *log_path, *out_path, *trace_path;
    const char *hps[CLI_TRAIN_MAX_HP];
    int n_hp;
    int progress;
    const char *preset;    /* clear and interactive: the CKKS preset whose levels (and, encrypted, keys) are used */
    int insecure;          /* allow the test presets */
    int levels;            /* clear: level budget (0: the preset's, or 6 without a preset) */
    double noise;          /* clear: Gaussian noise per result (0: exact) */
    int threads;
    const char *server;    /* train --server: the platform's endpoint (the owner's side of a remote run) */
    const char *keys_dir;  /* the owner's keys (cipherl keygen) */
    const char *server_key;/* the platform's CURVE public key: Z85 text or a file (default KEYS/server.curve.pub) */
    int timeout_ms;        /* silence before a request is sent again */
    int seed_given;        /* --seed was on the command line */
    const char *checkpoint_path; /* plain: keep the whole training state in this file */
    int64_t checkpoint_every;    /* plain: steps between checkpoints (0: every CLI_CHECKPOINT_S seconds) */
    const char *resume_path;     /* plain: continue the run of this checkpoint */
    int64_t stop_after;          /* plain: stop after this many steps of this invocation (0: never) */
} cli_train_opts;

#define CLI_CHECKPOINT_S 300.0 /* default seconds between checkpoints */
/* Exit codes of a plain run stopped before its end (resumable with --resume). */
#define CLI_EXIT_STOPPED 3     /* --stop-after reached */
#define CLI_EXIT_INTERRUPTED 130 /* SIGINT or SIGTERM */

/* Mode plain (train_plain.c). */
int cli_train_plain(const cli_train_opts *o);

/* Episodes of a run of the HE modes: the log rows and the last CLI_RECENT
 * returns the progress line shows; cli_on_episode is their rl_he_dqn_episode_fn. */
#define CLI_RECENT 20
typedef struct cli_episodes {
    FILE *log; /* "step,episode,return,length" rows, or NULL */
    double recent[CLI_RECENT];
    int n_recent, recent_pos;
    int64_t episodes;
} cli_episodes;
void cli_on_episode(void *user, int64_t step, double ret, int len);

/* The progress line on stderr. */
void cli_train_progress(int64_t step, int64_t total, double elapsed, int64_t episodes, const double *recent,
                        int n_recent, int final);

/* The encrypted side of an HE run: parameters, the owner's keys and
 * slots_owner, the platform's evaluation keys and slots_ctx (which reaches
 * the owner only through the refresh callback). */
struct ckks_params;
struct ckks_secret_key;
struct ckks_public_key;
struct ckks_eval_keys;
struct slots_ctx;
struct slots_owner;
struct cli_he_algo;
union cli_he_hp;
typedef struct cli_he_backend {
    struct ckks_params *params;
    struct ckks_secret_key *sk;   /* owner */
    struct ckks_public_key *pk;   /* owner */
    struct ckks_eval_keys *keys;  /* platform */
    struct slots_ctx *ctx;        /* platform */
    struct slots_owner *owner;    /* owner */
} cli_he_backend;
/* Takes params; makes the keys the HE algorithm needs for env_id and hp
 * (rotation steps from its census at the preset's levels) and both sides. */
int cli_he_backend_ckks(const struct cli_he_algo *algo, const char *env_id, const union cli_he_hp *hp,
                        struct ckks_params *params, cli_he_backend *out);
void cli_he_backend_free(cli_he_backend *b);

/* Modes clear and interactive (HE algorithms on the slot machine). */
int cli_train_he(const cli_train_opts *o);
/* The owner of a remote run (train --server; cmd_net.c). */
int cli_train_remote(const cli_train_opts *o);

#endif
