/* The platform's whole request handler under mutated input (the parser alone
 * has its own fuzz test in test_net_wire.c).
 *
 * A platform is opened on a temporary state directory (test-n12, insecure).
 * Two owners, A and B, with their own CKKS and transport keys, open genuine
 * sessions through the handler: HELLO with the parameters, evaluation keys
 * and hyperparameter line, INIT with the encrypted initial state, a few
 * STEPs. Then FUZZ_ITERS (20 000) mutated requests go through the handler
 * under several keys (net_platform_handle_for_test: a connection no socket
 * has, so every reply and refresh request is dropped): bit flips, byte
 * changes, truncation, extension, header fields (type, version, magic, seq,
 * item count, reserved), item lengths, kinds and u64 values (step index,
 * gradient steps, target update, seed), fields inside blobs with their
 * checksum made good again, deleted or repeated ranges, splices, replays of
 * earlier genuine messages, and well-formed requests carrying blobs of other
 * parameters, other slot counts, lower levels, other kinds, other backends
 * or another owner's key, and HELLOs with other settings. A request is built
 * with the key's next sequence number and step index before it is mutated,
 * so mutations reach the code behind the sequence check. The keys: A's (a
 * session), keys that never send a HELLO (no session), keys that get HELLOs
 * (they may open sessions of their own; some HELLOs go to keys never used
 * before), and B's, which gets only verbatim replays of its own messages.
 *
 * After every message: A's committed counters advance by at most one step,
 * and only together with its sequence number (a step is never applied twice,
 * nothing is applied without its number), no training step ever completes (it
 * needs refreshes, which reach nobody here), the session in memory, when
 * there is one, has the counters of the store, and B's counters do not move.
 * Every 2 500 messages and at the end: B's whole stored state (every blob,
 * integer and text) is unchanged byte for byte, and the keys that never sent
 * a HELLO have no session.
 *
 * Afterwards the platform must still serve. Through the handler: A's genuine
 * next STEP advances A by exactly one step, its retries change nothing, a
 * STEP refused before it changed anything keeps the session in memory, and a
 * STEP whose training step fails half way (no refresh can come) leaves the
 * store as it was and drops the session, which the next STEP reloads. Then
 * over real connections (a thread runs the platform's loop): bad answers to
 * the platform's refresh requests (another scale, a ciphertext not refreshed,
 * other slots, other parameters, cut short) each fail their request with an
 * ERROR and apply nothing; A's HELLO reports the store's counters; A's next
 * STEP and an ACT go through; A's pulled weights decrypt to the initial
 * weights A sent; an ACT and a training step sent again on a new connection
 * in the middle (the first refresh request left unanswered, the next one
 * answered twice) go on, are answered on the new connection, and the training
 * step completes once; B resumes at its own counters and steps on. An owner
 * facing a platform that never answers tries again, waiting twice as long
 * each time, then gives up.
 *
 * Run under ASan and UBSan (-DCIPHERL_SANITIZE=ON) this also checks that no
 * input reads or writes out of bounds or leaks: each mutated message lies at
 * the very end of its allocation. CIPHERL_FUZZ_ITERS=N overrides the count,
 * CIPHERL_FUZZ_VERBOSE=1 prints the platform's log, CIPHERL_FUZZ_SLOW=1 the
 * messages that took the handler over 30 ms. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "cipherl/ckks.h"
#include "cipherl/net.h"
#include "cipherl/slots.h"
#include "net/platform_internal.h"
#include "net/store.h"
#include "net/transport.h"
#include "net/wire.h"
#include "rl/he_dqn.h"

#ifndef FUZZ_ITERS
#define FUZZ_ITERS 20000
#endif
#define ENV "CartPole-v1"
#define A_STEPS 4 /* genuine steps of A before the fuzz */
#define B_STEPS 3 /* and of B */
#define N_NOKEYS 2
#define N_HKEYS 2
#define MAX_ONESHOT_SESSIONS 3 /* sessions that mutated HELLOs may open under fresh keys (each holds ~250 MB) */

/* ------------------------------------------------------------------ prng */

static uint64_t prng_state;

static uint64_t prng(void)
{
    uint64_t z = (prng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t prng_below(size_t n)
{
    return n ? (size_t)(prng() % n) : 0;
}

static double prng_unit(void)
{
    return (double)(prng() >> 11) / 9007199254740992.0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

/* ------------------------------------------------------------------ messages */

typedef struct msg {
    uint8_t *d;
    size_t len;
} msg;

static msg finish(net_buf *b)
{
    assert_int_equal(net_msg_finish(b), CL_OK);
    msg m = {malloc(b->len ? b->len : 1), b->len};
    assert_non_null(m.d);
    memcpy(m.d, b->data, b->len);
    return m;
}

static msg blob_of_vec(const slots_vec *v)
{
    msg m;
    assert_int_equal(slots_vec_serialize(v, NULL, 0, &m.len), CL_OK);
    m.d = malloc(m.len);
    assert_non_null(m.d);
    assert_int_equal(slots_vec_serialize(v, m.d, m.len, &m.len), CL_OK);
    return m;
}

static void put_vec(net_buf *b, const slots_vec *v)
{
    size_t len;
    assert_int_equal(slots_vec_serialize(v, NULL, 0, &len), CL_OK);
    uint8_t *dst = net_msg_put_blob_space(b, len);
    assert_non_null(dst);
    assert_int_equal(slots_vec_serialize(v, dst, len, &len), CL_OK);
}

/* ------------------------------------------------------------------ the fixture */

typedef struct owner {
    const char *name;
    net_keypair kp; /* its transport identity */
    char key_file[600];
    uint64_t seed;
    ckks_secret_key *sk;
    ckks_public_key *pk;
    uint8_t *ek;
    size_t ekl;
    slots_ctx *ctx;
    slots_owner *own;
    rl_he_dqn_ow *ow;
    size_t n_init;
    slots_vec **init;
    slots_vec *tr[RL_HE_DQN_TRANSITION_VECS], *x;
    /* its genuine messages, in the order sent */
    msg hello, init_msg, steps[8], act;
    int n_steps;
} owner;

static struct {
    char dir[256], state[300];
    ckks_params *params;
    uint8_t *pbytes;
    size_t plen;
    rl_he_dqn_hparams hp;
    char hpline[2048];
    size_t D, S;
    net_platform *p;
    net_store *st; /* the test's own connection to the platform's store */
    owner A, B;
    net_keypair nokey[N_NOKEYS], hkey[N_HKEYS];
    size_t log_lines;
    char last_log[4][800];
    /* platform log lines of a request sent again while it ran, and of late refresh answers dropped (written by
     * the platform's thread once it serves real connections) */
    atomic_size_t n_going_on, n_late;
} F;

static void on_log(void *user, const char *line)
{
    (void)user;
    snprintf(F.last_log[F.log_lines % 4], sizeof F.last_log[0], "%s", line);
    F.log_lines++;
    if (strstr(line, "going on with it"))
        atomic_fetch_add(&F.n_going_on, 1);
    if (strstr(line, "a late answer"))
        atomic_fetch_add(&F.n_late, 1);
    if (getenv("CIPHERL_FUZZ_VERBOSE"))
        fprintf(stderr, "platform: %s\n", line);
}

static void print_last_log(void)
{
    for (size_t i = F.log_lines > 4 ? F.log_lines - 4 : 0; i < F.log_lines; i++)
        fprintf(stderr, "  platform log: %s\n", F.last_log[i % 4]);
}

static cl_status no_act(void *user, slots_vec *x, slots_vec *q)
{
    (void)user, (void)x, (void)q;
    return CL_ERR_STATE;
}

static cl_status no_step(void *user, int64_t step, slots_vec *const tr[RL_HE_DQN_TRANSITION_VECS], int64_t gs, bool upd)
{
    (void)user, (void)step, (void)tr, (void)gs, (void)upd;
    return CL_ERR_STATE;
}

/* Evaluation keys for the census's rotations (all of them, or all but the last; with or without relinearization). */
static msg make_eval_keys(const ckks_secret_key *sk, int drop_last, unsigned flags)
{
    rl_he_dqn_census census;
    assert_int_equal(rl_he_dqn_census_run(ENV, &F.hp, ckks_params_max_level(F.params), &census), CL_OK);
    assert_true(census.n_rot_steps > 1);
    ckks_eval_keys *ek = NULL;
    assert_int_equal(ckks_eval_keys_create(sk, flags, census.rot_steps, census.n_rot_steps - (drop_last ? 1 : 0), &ek),
                     CL_OK);
    msg m;
    assert_int_equal(ckks_eval_keys_serialize(ek, NULL, 0, &m.len), CL_OK);
    m.d = malloc(m.len);
    assert_non_null(m.d);
    assert_int_equal(ckks_eval_keys_serialize(ek, m.d, m.len, &m.len), CL_OK);
    ckks_eval_keys_free(ek);
    return m;
}

static void owner_setup(owner *o, const char *name, uint64_t seed)
{
    o->name = name;
    o->seed = seed;
    assert_int_equal(net_keypair_generate(&o->kp), CL_OK);
    snprintf(o->key_file, sizeof o->key_file, "%s/%s.curve", F.dir, name);
    assert_int_equal(net_keypair_save(&o->kp, o->key_file, NULL), CL_OK);
    assert_int_equal(ckks_secret_key_create(F.params, &o->sk), CL_OK);
    assert_int_equal(ckks_public_key_create(o->sk, &o->pk), CL_OK);
    msg ek = make_eval_keys(o->sk, 0, CKKS_KEYS_RELIN);
    o->ek = ek.d;
    o->ekl = ek.len;
    assert_int_equal(slots_ckks_create(F.params, NULL, F.S, &o->ctx), CL_OK);
    assert_int_equal(slots_ckks_owner_create(o->ctx, o->sk, &o->own), CL_OK);
    rl_he_dqn_link link = {.user = NULL, .act = no_act, .step = no_step};
    assert_int_equal(rl_he_dqn_ow_create(ENV, &F.hp, o->ctx, o->own, seed, &link, &o->ow), CL_OK);
    o->n_init = rl_he_dqn_init_count(&F.hp, ENV);
    assert_true(o->n_init > 0);
    o->init = calloc(o->n_init, sizeof *o->init);
    assert_non_null(o->init);
    for (size_t i = 0; i < o->n_init; i++)
        assert_int_equal(slots_vec_create(o->ctx, &o->init[i]), CL_OK);
    assert_int_equal(rl_he_dqn_ow_initial_state(o->ow, o->init, o->n_init), CL_OK);
    for (int k = 0; k < RL_HE_DQN_TRANSITION_VECS; k++)
        assert_int_equal(slots_vec_create(o->ctx, &o->tr[k]), CL_OK);
    assert_int_equal(slots_vec_create(o->ctx, &o->x), CL_OK);
}

static void owner_free(owner *o)
{
    for (size_t i = 0; o->init && i < o->n_init; i++)
        slots_vec_free(o->init[i]);
    free(o->init);
    for (int k = 0; k < RL_HE_DQN_TRANSITION_VECS; k++)
        slots_vec_free(o->tr[k]);
    slots_vec_free(o->x);
    rl_he_dqn_ow_free(o->ow);
    slots_owner_free(o->own);
    slots_ctx_free(o->ctx);
    ckks_public_key_free(o->pk);
    ckks_secret_key_free(o->sk);
    free(o->ek);
    free(o->hello.d);
    free(o->init_msg.d);
    free(o->act.d);
    for (int i = 0; i < o->n_steps; i++)
        free(o->steps[i].d);
    net_keypair_wipe(&o->kp);
}

/* The five vectors of environment step `step` (replay position step - 1), laid out as
 * rl_he_dqn_ow_encrypt_transition lays them out. */
static void encrypt_transition(owner *o, int64_t step)
{
    const size_t B = (size_t)F.hp.batch_size, off = ((size_t)(step - 1) % B) * 2 * F.D;
    double *v = calloc(F.S, sizeof *v);
    assert_non_null(v);
    double obs[4], next[4];
    for (int j = 0; j < 4; j++) {
        obs[j] = 0.2 * prng_unit() - 0.1;
        next[j] = 0.2 * prng_unit() - 0.1;
    }
    const int action = (int)prng_below(2);
    memcpy(v + off, obs, sizeof obs);
    assert_int_equal(slots_encrypt(o->own, v, F.S, o->tr[0]), CL_OK);
    memcpy(v + off, next, sizeof next);
    assert_int_equal(slots_encrypt(o->own, v, F.S, o->tr[1]), CL_OK);
    memset(v + off, 0, sizeof obs);
    v[off + (size_t)action] = 1.0;
    assert_int_equal(slots_encrypt(o->own, v, F.S, o->tr[2]), CL_OK);
    v[off] = v[off + 1] = 1.0; /* reward 1 */
    assert_int_equal(slots_encrypt(o->own, v, F.S, o->tr[3]), CL_OK);
    assert_int_equal(slots_encrypt(o->own, v, F.S, o->tr[4]), CL_OK); /* not done */
    free(v);
}

static msg build_hello(const char *env, const char *hpline, uint64_t seed, const uint8_t *params, size_t plen,
                       const uint8_t *ek, size_t ekl)
{
    net_buf b = {0};
    net_msg_begin(&b, NET_MSG_HELLO, 0);
    net_msg_put_str(&b, env);
    net_msg_put_str(&b, hpline);
    net_msg_put_u64(&b, seed);
    net_msg_put_blob(&b, params, plen);
    net_msg_put_blob(&b, ek, ekl);
    msg m = finish(&b);
    net_buf_free(&b);
    return m;
}

static msg build_init(owner *o, uint64_t seq, size_t n)
{
    net_buf b = {0};
    net_msg_begin(&b, NET_MSG_INIT, seq);
    for (size_t i = 0; i < n; i++)
        put_vec(&b, o->init[i % o->n_init]);
    msg m = finish(&b);
    net_buf_free(&b);
    return m;
}

/* STEP with o->tr; blob k (0..4) replaced by `alt` when alt is given. */
static msg build_step(owner *o, uint64_t seq, uint64_t step, uint64_t gs, uint64_t upd, int k, const msg *alt)
{
    net_buf b = {0};
    net_msg_begin(&b, NET_MSG_STEP, seq);
    net_msg_put_u64(&b, step);
    for (int i = 0; i < RL_HE_DQN_TRANSITION_VECS; i++)
        if (alt && i == k)
            net_msg_put_blob(&b, alt->d, alt->len);
        else
            put_vec(&b, o->tr[i]);
    net_msg_put_u64(&b, gs);
    net_msg_put_u64(&b, upd);
    msg m = finish(&b);
    net_buf_free(&b);
    return m;
}

static msg build_one_blob(net_msg_type type, uint64_t seq, const msg *blob)
{
    net_buf b = {0};
    net_msg_begin(&b, type, seq);
    net_msg_put_blob(&b, blob->d, blob->len);
    msg m = finish(&b);
    net_buf_free(&b);
    return m;
}

/* REFRESH_REQ and REFRESH: a refresh number, then blobs (nblobs of blob). */
static msg build_refresh(net_msg_type type, uint64_t seq, uint64_t number, const msg *blob, int nblobs)
{
    net_buf b = {0};
    net_msg_begin(&b, type, seq);
    net_msg_put_u64(&b, number);
    for (int i = 0; i < nblobs; i++)
        net_msg_put_blob(&b, blob->d, blob->len);
    msg m = finish(&b);
    net_buf_free(&b);
    return m;
}

static msg build_empty(net_msg_type type, uint64_t seq)
{
    net_buf b = {0};
    net_msg_begin(&b, type, seq);
    msg m = finish(&b);
    net_buf_free(&b);
    return m;
}

/* ------------------------------------------------------------------ reading the store */

typedef struct counters {
    int64_t last_seq, env_steps, train_steps, initialized;
} counters;

static int64_t tenant_of(const char *key)
{
    int64_t t = -1;
    assert_int_equal(net_store_tenant_find(F.st, key, &t), CL_OK);
    return t;
}

static int64_t get_int(int64_t tenant, const char *key)
{
    int64_t v = -1;
    bool found = false;
    assert_int_equal(net_store_get_int(F.st, tenant, key, &v, &found), CL_OK);
    return found ? v : -1;
}

static counters read_counters(int64_t tenant)
{
    counters c = {get_int(tenant, "last_seq"), get_int(tenant, "env_steps"), get_int(tenant, "train_steps"),
                  get_int(tenant, "initialized")};
    return c;
}

static const char *const blob_names[] = {"w", "m", "r", "tw", "rs", "rn", "ra", "rr", "rd", "reply", "params",
                                         "eval_keys"};
static const char *const int_names[] = {"env_steps", "train_steps", "greedy_actions", "pos", "stored", "rng0", "rng1",
                                        "rng2", "rng3", "initialized", "last_seq", "sample_seed", "layout"};
static const char *const text_names[] = {"env", "hparams"};

/* A digest of everything stored for the tenant (blobs by name and index, up to the first gap after index 64;
 * integers; texts), and how many blobs. */
static void tenant_digest(int64_t tenant, uint8_t out[32], size_t *n_blobs)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    *n_blobs = 0;
    for (size_t k = 0; k < sizeof blob_names / sizeof *blob_names; k++)
        for (int64_t i = 0; i < 4096; i++) {
            uint8_t *d = NULL;
            size_t len = 0;
            assert_int_equal(net_store_get(F.st, tenant, blob_names[k], i, &d, &len), CL_OK);
            if (!d) {
                if (i >= 64)
                    break;
                continue;
            }
            uint8_t hdr[24];
            put_le(hdr, (uint64_t)k, 8);
            put_le(hdr + 8, (uint64_t)i, 8);
            put_le(hdr + 16, len, 8);
            crypto_generichash_update(&h, hdr, sizeof hdr);
            crypto_generichash_update(&h, d, len);
            free(d);
            (*n_blobs)++;
        }
    for (size_t k = 0; k < sizeof int_names / sizeof *int_names; k++) {
        uint8_t b[8];
        put_le(b, (uint64_t)get_int(tenant, int_names[k]), 8);
        crypto_generichash_update(&h, b, 8);
    }
    for (size_t k = 0; k < sizeof text_names / sizeof *text_names; k++) {
        char t[4096] = "";
        bool found = false;
        assert_int_equal(net_store_get_text(F.st, tenant, text_names[k], t, sizeof t, &found), CL_OK);
        crypto_generichash_update(&h, (const uint8_t *)t, strlen(t) + 1);
    }
    crypto_generichash_final(&h, out, 32);
}

/* The session in memory (if any) agrees with the store. */
static void check_memory(const char *key, int64_t tenant)
{
    net_session_info in;
    if (!net_platform_session_for_test(F.p, key, &in))
        return;
    const counters c = read_counters(tenant);
    if ((int64_t)in.last_seq != (c.last_seq < 0 ? 0 : c.last_seq) ||
        (int64_t)in.env_steps != (c.env_steps < 0 ? 0 : c.env_steps) ||
        (int64_t)in.train_steps != (c.train_steps < 0 ? 0 : c.train_steps) ||
        (int64_t)in.initialized != (c.initialized < 0 ? 0 : c.initialized)) {
        print_last_log();
        fail_msg("session in memory (seq %llu, steps %llu, trained %llu, init %llu) differs from the store (seq %lld, "
                 "steps %lld, trained %lld, init %lld)",
                 (unsigned long long)in.last_seq, (unsigned long long)in.env_steps, (unsigned long long)in.train_steps,
                 (unsigned long long)in.initialized, (long long)c.last_seq, (long long)c.env_steps,
                 (long long)c.train_steps, (long long)c.initialized);
    }
}

static void handle(const char *key, const msg *m)
{
    /* an exact-size copy, so that ASan sees any read past the end */
    uint8_t *buf = malloc(m->len ? m->len : 1);
    assert_non_null(buf);
    memcpy(buf, m->d, m->len);
    net_platform_handle_for_test(F.p, key, buf, m->len);
    free(buf);
}

/* ------------------------------------------------------------------ mutations */

/* The structure of a message as far as it parses: item headers and blobs. */
typedef struct layout {
    size_t n;
    size_t off[64];  /* offset of item i's kind byte */
    uint8_t kind[64];
    size_t len[64];  /* payload length, when it fits */
} layout;

static void layout_of(const uint8_t *w, size_t len, layout *L)
{
    L->n = 0;
    size_t off = NET_WIRE_HEADER_BYTES;
    while (L->n < 64 && len >= NET_ITEM_HEADER_BYTES && off <= len - NET_ITEM_HEADER_BYTES) {
        const uint64_t l = get_le(w + off + 1, 8);
        L->off[L->n] = off;
        L->kind[L->n] = w[off];
        L->len[L->n] = l > len - off - NET_ITEM_HEADER_BYTES ? len - off - NET_ITEM_HEADER_BYTES : (size_t)l;
        L->n++;
        if (l > len - off - NET_ITEM_HEADER_BYTES)
            break;
        off += NET_ITEM_HEADER_BYTES + (size_t)l;
    }
}

/* A position worth changing: the header, an item header, the start or end of a payload, or anywhere. */
static size_t pick_pos(const uint8_t *w, size_t len)
{
    if (!len)
        return 0;
    layout L;
    layout_of(w, len, &L);
    const size_t r = prng_below(8);
    if (r == 0 || L.n == 0)
        return prng_below(len < NET_WIRE_HEADER_BYTES ? len : NET_WIRE_HEADER_BYTES);
    if (r == 1)
        return prng_below(len);
    const size_t i = prng_below(L.n);
    size_t pos;
    if (r == 2)
        pos = L.off[i] + prng_below(NET_ITEM_HEADER_BYTES);
    else if (r <= 5)
        pos = L.off[i] + NET_ITEM_HEADER_BYTES + prng_below(L.len[i] < 96 ? L.len[i] + 1 : 96);
    else
        pos = L.off[i] + NET_ITEM_HEADER_BYTES +
              (L.len[i] > 40 ? L.len[i] - 40 + prng_below(40) : prng_below(L.len[i] + 1));
    return pos < len ? pos : len - 1;
}

static uint64_t interesting_u64(uint64_t near)
{
    static const uint64_t v[] = {0, 1, 2, 7, 8, 9, 31, 32, 255, 256, 1024, 1025, 65535, 65536, 65537, UINT32_MAX,
                                 1ULL << 32, INT64_MAX, 1ULL << 63, UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 8};
    switch (prng_below(4)) {
    case 0: return near + prng_below(5) - 2;
    case 1: return prng();
    default: return v[prng_below(sizeof v / sizeof *v)];
    }
}

/* Makes a blob's CKKS checksum (BLAKE2b-256 of all before it, the last 32 bytes) good again, if it has one. */
static void fix_checksum(uint8_t *w, size_t len, const layout *L, size_t item)
{
    if (item >= L->n || L->kind[item] != NET_KIND_BLOB)
        return;
    uint8_t *b = w + L->off[item] + NET_ITEM_HEADER_BYTES;
    const size_t bl = L->len[item];
    if (bl < 80 || (size_t)(b - w) + bl > len || memcmp(b, "CK", 2) != 0)
        return;
    crypto_generichash(b + bl - 32, 32, b, bl - 32, NULL, 0);
}

static const msg *g_bases;
static size_t g_n_bases;

/* One random change to the message d[0 .. *len), in a buffer of cap bytes (growth is cut at cap). */
static void mutate(uint8_t *d, size_t *len, size_t cap)
{
    size_t n = *len;
    switch (prng_below(15)) {
    case 0: /* bit flips */
        for (size_t k = 1 + prng_below(3); k-- && n;)
            d[pick_pos(d, n)] ^= (uint8_t)(1u << prng_below(8));
        break;
    case 1: /* byte changes */
        for (size_t k = 1 + prng_below(4); k-- && n;)
            d[pick_pos(d, n)] = (uint8_t)prng();
        break;
    case 2: { /* truncation: anywhere, or near an item boundary */
        layout L;
        layout_of(d, n, &L);
        size_t to = prng_below(n + 1);
        if (L.n && prng_below(2)) {
            const size_t i = prng_below(L.n);
            to = L.off[i] + prng_below(NET_ITEM_HEADER_BYTES + 2);
            if (to > n)
                to = n;
        } else if (prng_below(2) && n) {
            to = n - 1 - prng_below(n < 64 ? n : 64);
        }
        *len = to;
        break;
    }
    case 3: { /* extension with random bytes */
        size_t k = 1 + prng_below(prng_below(2) ? 8 : 300);
        if (k > cap - n)
            k = cap - n;
        for (size_t i = 0; i < k; i++)
            d[n + i] = (uint8_t)prng();
        *len = n + k;
        break;
    }
    case 4: { /* an item's length */
        layout L;
        layout_of(d, n, &L);
        if (!L.n)
            break;
        const size_t off = L.off[prng_below(L.n)] + 1;
        if (off + 8 <= n)
            put_le(d + off, interesting_u64(get_le(d + off, 8)), 8);
        break;
    }
    case 5: /* the item count */
        if (n >= 24)
            put_le(d + 16, (uint32_t)interesting_u64(get_le(d + 16, 4)), 4);
        break;
    case 6: /* the type */
        if (n >= 8)
            put_le(d + 6, prng_below(4) ? prng_below(NET_MSG_TYPE_END + 2) : (uint16_t)prng(), 2);
        break;
    case 7: /* the sequence number */
        if (n >= 16)
            put_le(d + 8, interesting_u64(get_le(d + 8, 8)), 8);
        break;
    case 8: /* version, magic or reserved */
        if (n >= 24) {
            const size_t r = prng_below(3);
            if (r == 0)
                put_le(d + 4, prng_below(3), 2);
            else if (r == 1)
                d[prng_below(4)] ^= (uint8_t)(1 + prng_below(255));
            else
                put_le(d + 20, prng_below(2) ? 1 : prng(), 4);
        }
        break;
    case 9: { /* a u64 item's value (step index, gradient steps, target update, seed) */
        layout L;
        layout_of(d, n, &L);
        size_t u[64], m = 0;
        for (size_t i = 0; i < L.n; i++)
            if (L.kind[i] == NET_KIND_U64 && L.off[i] + NET_ITEM_HEADER_BYTES + 8 <= n)
                u[m++] = i;
        if (m) {
            uint8_t *p = d + L.off[u[prng_below(m)]] + NET_ITEM_HEADER_BYTES;
            put_le(p, interesting_u64(get_le(p, 8)), 8);
        }
        break;
    }
    case 10: /* an item's kind */
    {
        layout L;
        layout_of(d, n, &L);
        if (L.n)
            d[L.off[prng_below(L.n)]] = (uint8_t)(prng_below(4) ? prng_below(6) : prng());
        break;
    }
    case 11:
    case 12: { /* a field inside a blob (CKKS header: level, size, slots, scale, fingerprint...), checksum fixed */
        layout L;
        layout_of(d, n, &L);
        if (!L.n)
            break;
        const size_t i = prng_below(L.n);
        if (L.kind[i] != NET_KIND_BLOB || L.len[i] < 80)
            break;
        uint8_t *b = d + L.off[i] + NET_ITEM_HEADER_BYTES;
        const size_t r = prng_below(4);
        if (r == 0)
            b[4 + prng_below(60)] ^= (uint8_t)(1u << prng_below(8)); /* version .. body start */
        else if (r == 1)
            put_le(b + 48 + 2 * prng_below(4), interesting_u64(get_le(b + 48, 2)), 2);
        else if (r == 2)
            put_le(b + 56, interesting_u64(get_le(b + 56, 8)), 8); /* the scale, for a ciphertext */
        else
            b[48 + prng_below(L.len[i] - 80)] ^= (uint8_t)(1u << prng_below(8)); /* a residue */
        fix_checksum(d, n, &L, i);
        break;
    }
    case 13: { /* splice: a prefix of this one, a suffix of another (of at most 2 MB, to keep the test quick) */
        const msg *o = &g_bases[prng_below(g_n_bases)];
        const size_t cut = prng_below(n + 1);
        size_t from = prng_below(2) ? prng_below(o->len + 1) : cut;
        if (from > o->len || o->len - from > ((size_t)2 << 20))
            from = o->len - prng_below(o->len < ((size_t)2 << 20) ? o->len + 1 : ((size_t)2 << 20) + 1);
        size_t k = o->len - from;
        if (k > cap - cut)
            k = cap - cut;
        memcpy(d + cut, o->d + from, k);
        *len = cut + k;
        break;
    }
    default: { /* delete or duplicate a range */
        if (!n)
            break;
        const size_t at = pick_pos(d, n);
        size_t k = 1 + prng_below(prng_below(2) ? 16 : 4096);
        if (k > n - at)
            k = n - at;
        if (prng_below(2)) {
            memmove(d + at, d + at + k, n - at - k);
            *len = n - k;
        } else if (k <= cap - n) {
            memmove(d + at + k, d + at, n - at);
            *len = n + k;
        }
        break;
    }
    }
}

/* ------------------------------------------------------------------ bad answers to refresh requests */

enum { BAD_SCALE, BAD_LEVEL, BAD_SLOTS, BAD_PARAMS, BAD_TRUNCATED, BAD_N };
static const char *const bad_names[BAD_N] = {"another scale", "not refreshed (a low level)", "other slots",
                                             "other parameters", "cut short"};

/* Sends req (sequence number seq) as A on a raw connection and answers the platform's first refresh request
 * badly (variant `bad`); returns the ERROR the platform answers the request with (its text in text). Fails the
 * test if the platform answers anything else or refuses no refresh. */
static uint64_t send_with_bad_refresh(net_client *c, const msg *req, uint64_t seq, int bad, const msg *other_slots,
                                      const msg *other_params, char *text, size_t cap)
{
    assert_int_equal(net_client_send(c, req->d, req->len), CL_OK);
    bool answered = false;
    for (;;) {
        uint8_t *rep = NULL;
        size_t rl = 0;
        assert_int_equal(net_client_recv(c, 120000, &rep, &rl), CL_OK);
        net_msg m;
        assert_int_equal(net_msg_parse(rep, rl, SIZE_MAX, &m, NULL, 0), CL_OK);
        if (m.seq != seq) {
            net_msg_free(&m);
            free(rep);
            continue;
        }
        if (m.type == NET_MSG_ERROR) {
            uint64_t code = 0;
            assert_int_equal(net_msg_u64(&m, 0, &code), CL_OK);
            assert_int_equal(net_msg_str(&m, 1, text, cap), CL_OK);
            net_msg_free(&m);
            free(rep);
            assert_true(answered);
            return code;
        }
        if (m.type != NET_MSG_REFRESH_REQ || answered)
            fail_msg("%s: the platform answered a bad refresh with %s", bad_names[bad], net_msg_type_name(m.type));
        const uint8_t *data;
        size_t dl;
        uint64_t number = 0;
        assert_int_equal(net_msg_u64(&m, 0, &number), CL_OK);
        assert_true(number >= 1);
        assert_int_equal(net_msg_blob(&m, 1, &data, &dl), CL_OK);
        ckks_ciphertext *ct = NULL;
        assert_int_equal(ckks_ciphertext_deserialize(F.params, data, dl, &ct), CL_OK);
        assert_true(ckks_ciphertext_level(ct) < ckks_params_max_level(F.params));
        if (bad != BAD_LEVEL)
            assert_int_equal(slots_ckks_owner_refresh(F.A.own, ct), CL_OK);
        msg ans;
        assert_int_equal(ckks_ciphertext_serialize(ct, NULL, 0, &ans.len), CL_OK);
        ans.d = malloc(ans.len);
        assert_int_equal(ckks_ciphertext_serialize(ct, ans.d, ans.len, &ans.len), CL_OK);
        ckks_ciphertext_free(ct);
        if (bad == BAD_SCALE) { /* the scale field (body offset 8), with the checksum made good */
            double sc;
            uint64_t bits = get_le(ans.d + 56, 8);
            memcpy(&sc, &bits, 8);
            sc *= 2;
            memcpy(&bits, &sc, 8);
            put_le(ans.d + 56, bits, 8);
            crypto_generichash(ans.d + ans.len - 32, 32, ans.d, ans.len - 32, NULL, 0);
        } else if (bad == BAD_SLOTS || bad == BAD_PARAMS) {
            const msg *o = bad == BAD_SLOTS ? other_slots : other_params;
            free(ans.d);
            ans.d = malloc(o->len);
            memcpy(ans.d, o->d, o->len);
            ans.len = o->len;
        } else if (bad == BAD_TRUNCATED) {
            ans.len--;
        }
        net_buf b = {0};
        net_msg_begin(&b, NET_MSG_REFRESH, seq);
        net_msg_put_u64(&b, number);
        net_msg_put_blob(&b, ans.d, ans.len);
        assert_int_equal(net_msg_finish(&b), CL_OK);
        assert_int_equal(net_client_send(c, b.data, b.len), CL_OK);
        net_buf_free(&b);
        free(ans.d);
        answered = true;
        net_msg_free(&m);
        free(rep);
    }
}

/* An honest owner's answer to a parsed REFRESH_REQ: the same number, the ciphertext re-encrypted. */
static msg honest_refresh(owner *o, const net_msg *m)
{
    uint64_t number = 0;
    const uint8_t *data;
    size_t dl, len;
    assert_int_equal(net_msg_u64(m, 0, &number), CL_OK);
    assert_int_equal(net_msg_blob(m, 1, &data, &dl), CL_OK);
    ckks_ciphertext *ct = NULL;
    assert_int_equal(ckks_ciphertext_deserialize(F.params, data, dl, &ct), CL_OK);
    assert_int_equal(slots_ckks_owner_refresh(o->own, ct), CL_OK);
    assert_int_equal(ckks_ciphertext_serialize(ct, NULL, 0, &len), CL_OK);
    net_buf b = {0};
    net_msg_begin(&b, NET_MSG_REFRESH, m->seq);
    net_msg_put_u64(&b, number);
    uint8_t *dst = net_msg_put_blob_space(&b, len);
    assert_non_null(dst);
    assert_int_equal(ckks_ciphertext_serialize(ct, dst, len, &len), CL_OK);
    ckks_ciphertext_free(ct);
    msg r = finish(&b);
    net_buf_free(&b);
    return r;
}

/* The next message on c that carries seq, parsed into *m (its bytes in *raw, to free after net_msg_free). */
static void recv_for(net_client *c, uint64_t seq, net_msg *m, uint8_t **raw)
{
    for (;;) {
        uint8_t *rep = NULL;
        size_t rl = 0;
        assert_int_equal(net_client_recv(c, 120000, &rep, &rl), CL_OK);
        assert_int_equal(net_msg_parse(rep, rl, SIZE_MAX, m, NULL, 0), CL_OK);
        if (m->seq == seq) {
            *raw = rep;
            return;
        }
        net_msg_free(m);
        free(rep);
    }
}

/* An owner that gives up on its connection in the middle of a request: it sends req on c, leaves the first
 * refresh request unanswered, reconnects and sends req again. The platform must go on with the request, not
 * start it over: the same refresh request (number 1) comes again on the new connection. The owner answers
 * it twice (the second a late duplicate, as when an answer on the connection given up did get through),
 * every later one once. The duplicate must be dropped, never taken for the next refresh, and draw no ERROR.
 * The reply, of type want, is left in *out (its bytes in *raw); returns the number of refreshes answered. */
static int resend_midway(owner *o, net_client *c, const msg *req, uint64_t seq, net_msg_type want, net_msg *out,
                         uint8_t **raw)
{
    const size_t going0 = atomic_load(&F.n_going_on), late0 = atomic_load(&F.n_late);
    net_msg m;
    uint8_t *rep = NULL;
    uint64_t number = 0;
    assert_int_equal(net_client_send(c, req->d, req->len), CL_OK);
    recv_for(c, seq, &m, &rep);
    if (m.type != NET_MSG_REFRESH_REQ)
        fail_msg("%s %llu: a %s, not a refresh request", net_msg_type_name(want), (unsigned long long)seq,
                 net_msg_type_name(m.type));
    assert_int_equal(net_msg_u64(&m, 0, &number), CL_OK);
    assert_true(number == 1);
    net_msg_free(&m);
    free(rep);
    assert_int_equal(net_client_reconnect(c), CL_OK);
    assert_int_equal(net_client_send(c, req->d, req->len), CL_OK);
    int answered = 0;
    for (;;) {
        recv_for(c, seq, &m, &rep);
        if (m.type != NET_MSG_REFRESH_REQ)
            break;
        assert_int_equal(net_msg_u64(&m, 0, &number), CL_OK);
        assert_true(number == (uint64_t)answered + 1); /* 1 again on the new connection, then 2, 3, ... */
        msg ans = honest_refresh(o, &m);
        assert_int_equal(net_client_send(c, ans.d, ans.len), CL_OK);
        if (answered == 0)
            assert_int_equal(net_client_send(c, ans.d, ans.len), CL_OK);
        free(ans.d);
        answered++;
        net_msg_free(&m);
        free(rep);
    }
    if (m.type != want) {
        print_last_log();
        fail_msg("%s %llu sent again midway: got %s", net_msg_type_name(want), (unsigned long long)seq,
                 net_msg_type_name(m.type));
    }
    *out = m;
    *raw = rep;
    /* the platform logged both, and the duplicate drew nothing */
    for (int i = 0; i < 600 && atomic_load(&F.n_late) == late0; i++)
        usleep(50000);
    assert_true(atomic_load(&F.n_going_on) == going0 + 1);
    assert_true(atomic_load(&F.n_late) == late0 + 1);
    uint8_t *extra = NULL;
    size_t el = 0;
    assert_int_equal(net_client_recv(c, 300, &extra, &el), CL_ERR_TIMEOUT);
    return answered;
}

/* What an owner logs while a platform stays silent. */
typedef struct silence_log {
    int n;
    char lines[8][400];
} silence_log;

static void on_owner_log(void *user, const char *line)
{
    silence_log *l = user;
    if (l->n < 8)
        snprintf(l->lines[l->n], sizeof l->lines[0], "%s", line);
    l->n++;
}

/* An owner facing a platform that never answers sends its request again on a new connection, waiting twice
 * as long each time (20, 40, 80, 160 ms), then gives up with CL_ERR_TIMEOUT. */
static void check_owner_backoff(owner *o)
{
    net_keypair skp;
    assert_int_equal(net_keypair_generate(&skp), CL_OK);
    net_server *silent = NULL;
    assert_int_equal(net_server_open("tcp://127.0.0.1:*", &skp, 1u << 30, &silent), CL_OK);
    silence_log log = {0};
    net_owner_config oc = {.endpoint = net_server_endpoint(silent), .server_key = skp.public_z85,
                           .key_file = o->key_file, .timeout_ms = 20, .retries = 3, .log = on_owner_log,
                           .log_user = &log};
    net_owner *no = NULL;
    assert_int_equal(net_owner_open(&oc, F.params, o->ctx, o->own, &no), CL_OK);
    net_session_info info;
    assert_int_equal(net_owner_hello(no, ENV, F.hpline, rl_he_dqn_sample_seed(o->seed), F.pbytes, F.plen, o->ek, o->ekl,
                                     &info),
                     CL_ERR_TIMEOUT);
    assert_true(net_owner_get_stats(no)->retries == 3);
    assert_int_equal(log.n, 3);
    static const char *const want[3][2] = {{"for 0.02 s", "try 1 of 3, waiting up to 0.04 s"},
                                           {"for 0.04 s", "try 2 of 3, waiting up to 0.08 s"},
                                           {"for 0.08 s", "try 3 of 3, waiting up to 0.16 s"}};
    for (int i = 0; i < 3; i++)
        if (!strstr(log.lines[i], want[i][0]) || !strstr(log.lines[i], want[i][1]))
            fail_msg("owner log line %d: '%s'", i, log.lines[i]);
    assert_non_null(strstr(net_owner_last_error(no), "did not answer"));
    net_owner_close(no);
    net_server_close(silent);
    net_keypair_wipe(&skp);
}

/* ------------------------------------------------------------------ the platform's loop in a thread */

static volatile sig_atomic_t g_stop;

static void *serve_main(void *arg)
{
    static cl_status rc;
    rc = net_platform_serve(arg, &g_stop);
    return &rc;
}

/* ------------------------------------------------------------------ the test */

enum { BASE_STEP, BASE_ACT, BASE_PULL, BASE_INIT, BASE_HELLO, BASE_OTHER, BASE_REPLAY, BASE_KINDS };

/* One of the replays in [from, to): an INIT (70 MB to copy) or an ACT (a forward pass) seldom, to keep the
 * test quick. */
static size_t pick_replay(size_t from, size_t to)
{
    for (;;) {
        const size_t i = from + prng_below(to - from);
        const uint16_t type = (uint16_t)get_le(g_bases[i].d + 6, 2);
        if ((type != NET_MSG_INIT && type != NET_MSG_ACT) || prng_below(128) == 0)
            return i;
    }
}

static void test_handler_fuzz(void **state)
{
    (void)state;
    prng_state = 0x5eed0f5eed0fULL;
    snprintf(F.dir, sizeof F.dir, "/tmp/cipherl-handler-XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    snprintf(F.state, sizeof F.state, "%s/state", F.dir);

    /* the settings of the sessions: test-n12, CartPole, the e2e test's hyperparameters */
    assert_int_equal(ckks_params_from_preset("test-n12", CKKS_ALLOW_INSECURE, &F.params), CL_OK);
    assert_int_equal(ckks_params_serialize(F.params, NULL, 0, &F.plen), CL_OK);
    F.pbytes = malloc(F.plen);
    assert_int_equal(ckks_params_serialize(F.params, F.pbytes, F.plen, &F.plen), CL_OK);
    assert_int_equal(rl_he_dqn_hparams_for_env(ENV, &F.hp), CL_OK);
    char err[1280];
    const char *hps[] = {"learning_starts=32", "train_freq=16", "batch_size=32", "n_timesteps=48"};
    for (size_t i = 0; i < sizeof hps / sizeof *hps; i++)
        assert_int_equal(rl_he_dqn_hp_assign(&F.hp, hps[i], err, sizeof err), CL_OK);
    rl_he_dqn_hp_format(&F.hp, F.hpline, sizeof F.hpline);
    assert_int_equal(rl_he_dqn_layout(ENV, &F.hp, &F.D, &F.S), CL_OK);

    const double t_setup = now_s();
    owner_setup(&F.A, "A", 31);
    owner_setup(&F.B, "B", 32);
    for (int i = 0; i < N_NOKEYS; i++)
        assert_int_equal(net_keypair_generate(&F.nokey[i]), CL_OK);
    for (int i = 0; i < N_HKEYS; i++)
        assert_int_equal(net_keypair_generate(&F.hkey[i]), CL_OK);

    net_platform_config cfg = {.listen = "tcp://127.0.0.1:*", .state_dir = F.state, .allow_insecure = true,
                               .max_msg_bytes = (size_t)256 << 20, .refresh_timeout_ms = 30000, .log = on_log};
    assert_int_equal(net_platform_open(&cfg, &F.p, err, sizeof err), CL_OK);
    assert_int_equal(net_store_open(F.state, &F.st, err, sizeof err), CL_OK);

    /* ---- genuine sessions through the handler */
    owner *const owners[2] = {&F.A, &F.B};
    const int n_steps[2] = {A_STEPS, B_STEPS};
    int64_t tenant[2];
    for (int o = 0; o < 2; o++) {
        owner *ow = owners[o];
        const char *key = ow->kp.public_z85;
        ow->hello = build_hello(ENV, F.hpline, rl_he_dqn_sample_seed(ow->seed), F.pbytes, F.plen, ow->ek, ow->ekl);
        handle(key, &ow->hello);
        tenant[o] = tenant_of(key);
        assert_true(tenant[o] > 0);
        net_session_info in;
        assert_true(net_platform_session_for_test(F.p, key, &in));
        assert_true(in.env_steps == 0 && in.initialized == 0 && in.last_seq == 0);
        ow->init_msg = build_init(ow, 1, ow->n_init);
        handle(key, &ow->init_msg);
        counters c = read_counters(tenant[o]);
        assert_int_equal(c.last_seq, 1);
        assert_int_equal(c.initialized, 1);
        for (int s = 1; s <= n_steps[o]; s++) {
            encrypt_transition(ow, s);
            ow->steps[ow->n_steps++] = build_step(ow, (uint64_t)s + 1, (uint64_t)s, 0, 0, -1, NULL);
            handle(key, &ow->steps[ow->n_steps - 1]);
            c = read_counters(tenant[o]);
            assert_int_equal(c.last_seq, s + 1);
            assert_int_equal(c.env_steps, s);
            check_memory(key, tenant[o]);
        }
        double obs[4] = {0.01, -0.02, 0.03, -0.04};
        double *v = calloc(F.S, sizeof *v);
        memcpy(v, obs, sizeof obs);
        assert_int_equal(slots_encrypt(ow->own, v, F.S, ow->x), CL_OK);
        free(v);
        net_buf b = {0};
        net_msg_begin(&b, NET_MSG_ACT, (uint64_t)n_steps[o] + 1);
        put_vec(&b, ow->x);
        ow->act = finish(&b);
        net_buf_free(&b);
    }
    assert_true(tenant[0] != tenant[1]);
    const int64_t tA = tenant[0], tB = tenant[1];
    uint8_t b_digest[32], d[32];
    size_t b_blobs, nb;
    tenant_digest(tB, b_digest, &b_blobs);
    /* at least: weights (3 layers of 2D + 1), HE-Adam's m and r of the trained ones (3 layers of D + 1 each), the
     * reply, params and keys (and some of the target's vectors and replay chunks) */
    assert_true(b_blobs > 3 * (2 * F.D + 1) + 2 * 3 * (F.D + 1) + 3);
    const counters b_counters = read_counters(tB);

    /* ---- blobs that are well-formed but wrong here */
    ckks_params *p10 = NULL;
    ckks_secret_key *sk10 = NULL;
    ckks_public_key *pk10 = NULL;
    slots_ctx *ctx10 = NULL, *ctx512 = NULL;
    slots_owner *own10 = NULL, *own512 = NULL;
    slots_vec *v10 = NULL, *v512 = NULL, *vlow = NULL;
    assert_int_equal(ckks_params_from_preset("test-n10", CKKS_ALLOW_INSECURE, &p10), CL_OK);
    assert_int_equal(ckks_secret_key_create(p10, &sk10), CL_OK);
    assert_int_equal(ckks_public_key_create(sk10, &pk10), CL_OK);
    assert_int_equal(slots_ckks_create(p10, NULL, 512, &ctx10), CL_OK);
    assert_int_equal(slots_ckks_owner_create(ctx10, sk10, &own10), CL_OK);
    assert_int_equal(slots_ckks_create(F.params, NULL, F.S / 2, &ctx512), CL_OK);
    assert_int_equal(slots_ckks_owner_create(ctx512, F.A.sk, &own512), CL_OK);
    double *ones = calloc(F.S, sizeof *ones);
    for (size_t i = 0; i < F.S; i++)
        ones[i] = 0.5;
    assert_int_equal(slots_vec_create(ctx10, &v10), CL_OK);
    assert_int_equal(slots_encrypt(own10, ones, 512, v10), CL_OK);
    assert_int_equal(slots_vec_create(ctx512, &v512), CL_OK);
    assert_int_equal(slots_encrypt(own512, ones, F.S / 2, v512), CL_OK);
    assert_int_equal(slots_vec_create(F.A.ctx, &vlow), CL_OK);
    assert_int_equal(slots_drop_level(F.A.ctx, F.A.tr[0], 1, vlow), CL_OK);
    uint8_t *p10b;
    size_t p10l;
    assert_int_equal(ckks_params_serialize(p10, NULL, 0, &p10l), CL_OK);
    p10b = malloc(p10l);
    assert_int_equal(ckks_params_serialize(p10, p10b, p10l, &p10l), CL_OK);
    ckks_eval_keys *ek10 = NULL;
    const int one_step = 1;
    assert_int_equal(ckks_eval_keys_create(sk10, CKKS_KEYS_RELIN, &one_step, 1, &ek10), CL_OK);
    msg ek10b;
    assert_int_equal(ckks_eval_keys_serialize(ek10, NULL, 0, &ek10b.len), CL_OK);
    ek10b.d = malloc(ek10b.len);
    assert_int_equal(ckks_eval_keys_serialize(ek10, ek10b.d, ek10b.len, &ek10b.len), CL_OK);
    ckks_eval_keys_free(ek10);
    slots_ctx *cctx = NULL;
    slots_owner *cown = NULL;
    slots_vec *vclear = NULL;
    slots_clear_config ccfg = {.slots = F.S, .levels = ckks_params_max_level(F.params)};
    assert_int_equal(slots_clear_create(&ccfg, &cctx, &cown), CL_OK);
    assert_int_equal(slots_vec_create(cctx, &vclear), CL_OK);
    assert_int_equal(slots_encrypt(cown, ones, F.S, vclear), CL_OK);
    free(ones);

    enum { ALT_N10, ALT_SLOTS, ALT_LOW, ALT_OTHER_KEY, ALT_PARAMS, ALT_EMPTY, ALT_CLEAR, ALT_EK, ALT_N };
    msg alt[ALT_N];
    alt[ALT_N10] = blob_of_vec(v10);
    alt[ALT_SLOTS] = blob_of_vec(v512);
    alt[ALT_LOW] = blob_of_vec(vlow);
    alt[ALT_OTHER_KEY] = blob_of_vec(F.B.tr[1]);
    alt[ALT_PARAMS] = (msg){malloc(F.plen), F.plen};
    memcpy(alt[ALT_PARAMS].d, F.pbytes, F.plen);
    alt[ALT_EMPTY] = (msg){malloc(1), 0};
    alt[ALT_CLEAR] = blob_of_vec(vclear);
    alt[ALT_EK] = ek10b;

    /* ---- the messages the fuzz starts from */
    msg bases[96];
    int kind[96];
    size_t nbase = 0;
#define ADD(k, m)                                                                                                      \
    do {                                                                                                               \
        assert_true(nbase < sizeof bases / sizeof *bases);                                                             \
        kind[nbase] = (k);                                                                                             \
        bases[nbase++] = (m);                                                                                          \
    } while (0)
    /* A's current requests; the loop sets their sequence number and step index to A's next ones */
    const size_t i_step = nbase;
    ADD(BASE_STEP, build_step(&F.A, 0, 0, 0, 0, -1, NULL));
    ADD(BASE_STEP, build_step(&F.A, 0, 0, 1, 0, -1, NULL));
    ADD(BASE_STEP, build_step(&F.A, 0, 0, 0, 1, -1, NULL));
    for (int a = 0; a < ALT_N; a++)
        ADD(BASE_STEP, build_step(&F.A, 0, 0, 0, 0, (int)prng_below(RL_HE_DQN_TRANSITION_VECS), &alt[a]));
    const size_t n_step_bases = nbase - i_step;
    const size_t i_act = nbase;
    ADD(BASE_ACT, build_one_blob(NET_MSG_ACT, 0, &(msg){F.A.act.d + 33, F.A.act.len - 33}));
    for (int a = 0; a < ALT_N; a++)
        ADD(BASE_ACT, build_one_blob(NET_MSG_ACT, 0, &alt[a]));
    const size_t n_act_bases = nbase - i_act;
    const size_t i_pull = nbase;
    ADD(BASE_PULL, build_empty(NET_MSG_PULL, 0));
    const size_t i_init = nbase;
    {
        /* A's genuine INIT, and the same without its last vector */
        msg full = {malloc(F.A.init_msg.len), F.A.init_msg.len};
        memcpy(full.d, F.A.init_msg.d, full.len);
        ADD(BASE_INIT, full);
        ADD(BASE_INIT, build_init(&F.A, 0, 3));
        layout L;
        layout_of(full.d, full.len, &L);
        assert_true(L.n == 64); /* (the layout stops at 64 items) */
        size_t off = L.off[63];
        for (size_t i = 63; i + 1 < F.A.n_init; i++)
            off += NET_ITEM_HEADER_BYTES + (size_t)get_le(full.d + off + 1, 8);
        msg shorter = {malloc(off), off};
        memcpy(shorter.d, full.d, off);
        put_le(shorter.d + 16, F.A.n_init - 1, 4);
        net_msg pm;
        assert_int_equal(net_msg_parse(shorter.d, shorter.len, SIZE_MAX, &pm, NULL, 0), CL_OK);
        assert_int_equal(pm.n_items, F.A.n_init - 1);
        net_msg_free(&pm);
        ADD(BASE_INIT, shorter);
    }
    ADD(BASE_INIT, build_one_blob(NET_MSG_INIT, 0, &alt[ALT_N10]));
    const size_t n_init_bases = nbase - i_init;
    const size_t i_hello = nbase;
    ADD(BASE_HELLO, build_hello(ENV, F.hpline, 7, F.pbytes, F.plen, F.A.ek, F.A.ekl));
    ADD(BASE_HELLO, build_hello(ENV, F.hpline, 7, p10b, p10l, F.A.ek, F.A.ekl));
    ADD(BASE_HELLO, build_hello(ENV, F.hpline, 7, p10b, p10l, ek10b.d, ek10b.len));
    ADD(BASE_HELLO, build_hello(ENV, F.hpline, 7, F.pbytes, F.plen, ek10b.d, ek10b.len));
    ADD(BASE_HELLO, build_hello(ENV, F.hpline, 7, F.pbytes, F.plen, alt[ALT_OTHER_KEY].d, alt[ALT_OTHER_KEY].len));
    ADD(BASE_HELLO, build_hello(ENV, F.hpline, 7, alt[ALT_N10].d, alt[ALT_N10].len, F.A.ek, F.A.ekl));
    {
        msg lacking = make_eval_keys(F.A.sk, 1, CKKS_KEYS_RELIN);
        ADD(BASE_HELLO, build_hello(ENV, F.hpline, 7, F.pbytes, F.plen, lacking.d, lacking.len));
        free(lacking.d);
        msg norelin = make_eval_keys(F.A.sk, 0, 0);
        ADD(BASE_HELLO, build_hello(ENV, F.hpline, 7, F.pbytes, F.plen, norelin.d, norelin.len));
        free(norelin.d);
    }
    {
        /* other settings: hyperparameters, environments */
        static const char *const envs[] = {"MountainCar-v0", "Pendulum-v1", "Nope-v0", "", "Acrobot-v1"};
        for (size_t i = 0; i < sizeof envs / sizeof *envs; i++)
            ADD(BASE_HELLO, build_hello(envs[i], F.hpline, 7, F.pbytes, F.plen, F.A.ek, F.A.ekl));
        static const char *const lines[] = {"batch_size=16 learning_starts=16", "net_arch=[64,64]", "foo=1",
                                            "batch_size=3", "buffer_size=0", "optimizer=adam", "gamma=nan",
                                            "learning_starts=32 train_freq=16 batch_size=32 gradient_steps=0"};
        for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
            ADD(BASE_HELLO, build_hello(ENV, lines[i], 7, F.pbytes, F.plen, F.A.ek, F.A.ekl));
        char *longline = malloc(5000);
        memset(longline, 'a', 4999);
        longline[4999] = '\0';
        ADD(BASE_HELLO, build_hello(ENV, longline, 7, F.pbytes, F.plen, F.A.ek, F.A.ekl));
        free(longline);
    }
    const size_t n_hello_bases = nbase - i_hello;
    const size_t i_other = nbase;
    {
        /* types a platform does not take, well-formed */
        net_buf b = {0};
        net_msg_begin(&b, NET_MSG_HELLO_OK, 3);
        for (int i = 0; i < 4; i++)
            net_msg_put_u64(&b, 1);
        ADD(BASE_OTHER, finish(&b));
        net_msg_begin(&b, NET_MSG_ACK, 3);
        net_msg_put_u64(&b, 3);
        ADD(BASE_OTHER, finish(&b));
        net_msg_begin(&b, NET_MSG_ERROR, 3);
        net_msg_put_u64(&b, CL_ERR_STATE);
        net_msg_put_str(&b, "an error");
        ADD(BASE_OTHER, finish(&b));
        net_msg_begin(&b, NET_MSG_WEIGHTS, 3);
        net_msg_put_str(&b, ENV);
        net_msg_put_str(&b, F.hpline);
        put_vec(&b, F.A.tr[0]);
        ADD(BASE_OTHER, finish(&b));
        net_buf_free(&b);
        ADD(BASE_OTHER, build_one_blob(NET_MSG_Q, 3, &alt[ALT_OTHER_KEY]));
        ADD(BASE_OTHER, build_refresh(NET_MSG_REFRESH, 3, 1, &alt[ALT_OTHER_KEY], 1));
        ADD(BASE_OTHER, build_refresh(NET_MSG_REFRESH_REQ, 3, 1, &alt[ALT_OTHER_KEY], 1));
        ADD(BASE_OTHER, build_refresh(NET_MSG_REFRESH, 3, 7, &alt[ALT_OTHER_KEY], 0));
        /* REFRESH without its number (INIT's and PULL's bytes under REFRESH's type, byte 6): malformed */
        msg nonum = build_one_blob(NET_MSG_INIT, 3, &alt[ALT_OTHER_KEY]), none = build_empty(NET_MSG_PULL, 3);
        nonum.d[6] = none.d[6] = NET_MSG_REFRESH;
        ADD(BASE_OTHER, nonum);
        ADD(BASE_OTHER, none);
        ADD(BASE_OTHER, ((msg){calloc(1, 1), 0})); /* an empty message */
        msg junk = {malloc(200), 200};
        for (size_t i = 0; i < junk.len; i++)
            junk.d[i] = (uint8_t)prng();
        memcpy(junk.d, "CLRL\x02\x00", 6);
        ADD(BASE_OTHER, junk);
    }
    const size_t n_other_bases = nbase - i_other;
    /* replays of earlier genuine messages (copies: bases are freed at the end) */
    const size_t i_replay = nbase;
    size_t i_replay_b = 0;
    for (int o = 0; o < 2; o++) {
        owner *ow = owners[o];
        if (o == 1)
            i_replay_b = nbase;
        const msg *gen[] = {&ow->init_msg, &ow->act};
        for (size_t i = 0; i < 2; i++) {
            msg c = {malloc(gen[i]->len), gen[i]->len};
            memcpy(c.d, gen[i]->d, c.len);
            ADD(BASE_REPLAY, c);
        }
        for (int s = 0; s < ow->n_steps; s++) {
            msg c = {malloc(ow->steps[s].len), ow->steps[s].len};
            memcpy(c.d, ow->steps[s].d, c.len);
            ADD(BASE_REPLAY, c);
        }
    }
    const size_t n_replay_bases = nbase - i_replay;
    g_bases = bases;
    /* two buffers for every try, allocated once (a fresh allocation per try costs page faults, which dominate
     * under ASan): mutations work in `work`, and the result is copied to the end of `exact` */
    size_t work_cap = 0;
    for (size_t i = 0; i < nbase; i++)
        if (bases[i].len > work_cap)
            work_cap = bases[i].len;
    work_cap += (size_t)8 << 20;
    uint8_t *work = malloc(work_cap), *exact = malloc(work_cap);
    assert_non_null(work);
    assert_non_null(exact);
    g_n_bases = nbase;
    const double setup_s = now_s() - t_setup;

    /* ---- the fuzz (CIPHERL_FUZZ_ITERS overrides the count, e.g. for a long run) */
    const long iters = getenv("CIPHERL_FUZZ_ITERS") ? atol(getenv("CIPHERL_FUZZ_ITERS")) : FUZZ_ITERS;
    double kind_s[BASE_KINDS] = {0}, prep_s = 0, prep_k[BASE_KINDS] = {0}, post_s = 0;
    size_t kind_n[BASE_KINDS] = {0};
    size_t by_class[4] = {0}, a_applied = 0, hello_sessions = 0, oneshot_sessions = 0, oneshot_msgs = 0;
    net_keypair oneshot;
    assert_int_equal(net_keypair_generate(&oneshot), CL_OK);
    counters a = read_counters(tA);
    const double t0 = now_s();
    for (long iter = 0; iter < iters; iter++) {
        /* the key: A (55%), no session (15%), mutated HELLOs allowed (20%), B's own replays (10%) */
        const size_t r = prng_below(100);
        const int cls = r < 55 ? 0 : r < 70 ? 1 : r < 90 ? 2 : 3;
        by_class[cls]++;
        const char *key = cls == 0   ? F.A.kp.public_z85
                          : cls == 1 ? F.nokey[prng_below(N_NOKEYS)].public_z85
                          : cls == 2 ? F.hkey[prng_below(N_HKEYS)].public_z85
                                     : F.B.kp.public_z85;
        size_t bi;
        bool verbatim = false;
        if (cls == 3) {
            /* B: only its own earlier messages, unchanged (INIT, ACT, steps) */
            bi = pick_replay(i_replay_b, i_replay + n_replay_bases);
            verbatim = true;
        } else {
            const size_t q = prng_below(1000);
            if (q < 460)
                bi = i_step + (prng_below(3) ? prng_below(3) : prng_below(n_step_bases));
            else if (q < 580)
                bi = i_act + (prng_below(8) ? 1 + prng_below(n_act_bases - 1) : 0);
            else if (q < 595)
                bi = i_pull;
            else if (q < 600)
                /* seldom the 70 MB ones */
                bi = i_init + (prng_below(8) == 0 ? prng_below(n_init_bases) : prng_below(2) ? 1 : 3);
            else if (q < 630)
                bi = i_hello + (prng_below(3) ? 0 : prng_below(n_hello_bases));
            else if (q < 760)
                bi = i_other + prng_below(n_other_bases);
            else {
                bi = pick_replay(i_replay, i_replay + n_replay_bases);
                verbatim = prng_below(2);
            }
            if (cls == 2 && prng_below(10) == 0) { /* more HELLOs of other settings for keys that may open sessions */
                bi = i_hello + 1 + prng_below(n_hello_bases - 1);
                verbatim = false;
            }
        }
        const double m0 = now_s();
        const msg *base = &bases[bi];
        size_t len = base->len;
        /* now and then the genuine HELLO as it is, so that keys open sessions of their own */
        if (bi == i_hello && prng_below(8) == 0)
            verbatim = true;
        const uint8_t *in = base->d; /* a base is allocated at its size: ASan sees any read past its end */
        if (!verbatim) {
            uint8_t *w = work;
            memcpy(w, base->d, len);
            /* the key's current numbers, as its next genuine request would carry them */
            const int64_t kt = cls == 0 ? tA : cls == 2 ? tenant_of(key) : -1;
            counters kc = {0, 0, 0, 0};
            if (kt >= 0)
                kc = cls == 0 ? a : read_counters(kt);
            if (kc.last_seq < 0 || kc.env_steps < 0)
                kc.last_seq = kc.env_steps = 0;
            if (kind[bi] == BASE_STEP || kind[bi] == BASE_INIT)
                put_le(w + 8, (uint64_t)kc.last_seq + 1, 8);
            if (kind[bi] == BASE_ACT || kind[bi] == BASE_PULL)
                put_le(w + 8, (uint64_t)kc.last_seq, 8);
            /* (seldom once a session has 16 steps: a mutated STEP that goes through costs a commit, and sessions
             * must stay below a full batch, where a STEP asking for training would start one) */
            if (kind[bi] == BASE_STEP && (kc.env_steps < 16 || prng_below(32) == 0))
                put_le(w + NET_WIRE_HEADER_BYTES + NET_ITEM_HEADER_BYTES, (uint64_t)kc.env_steps + 1, 8);
            for (size_t k = 1 + prng_below(3); k--;)
                mutate(w, &len, work_cap);
            /* the message at the very end of its allocation, so that ASan sees any read past its end */
            in = exact + work_cap - len;
            memcpy(exact + work_cap - len, w, len);
        }
        /* a HELLO other than the genuine one goes, while few have opened sessions, to a key never used before,
         * so that a new session's checks (parameters, hyperparameters, evaluation keys) see it */
        if (cls == 2 && kind[bi] == BASE_HELLO && bi != i_hello && oneshot_sessions < MAX_ONESHOT_SESSIONS) {
            if (tenant_of(oneshot.public_z85) >= 0) {
                oneshot_sessions++;
                assert_int_equal(net_keypair_generate(&oneshot), CL_OK);
            }
            if (oneshot_sessions < MAX_ONESHOT_SESSIONS) {
                key = oneshot.public_z85;
                oneshot_msgs++;
            }
        }
        /* a message that parses as HELLO goes only to keys that may open sessions */
        if (cls == 1 && len >= 8 && get_le(in + 6, 2) == NET_MSG_HELLO) {
            net_msg pm;
            if (net_msg_parse(in, len, SIZE_MAX, &pm, NULL, 0) == CL_OK) {
                net_msg_free(&pm);
                key = F.hkey[0].public_z85;
            }
        }
        const double m1 = now_s();
        prep_s += m1 - m0;
        prep_k[verbatim ? BASE_REPLAY : kind[bi]] += m1 - m0;
        const bool hkey_had = cls == 2 && tenant_of(key) >= 0;
        const double h0 = now_s();
        net_platform_handle_for_test(F.p, key, in, len);
        const double dt = now_s() - h0;
        const int kk = verbatim ? BASE_REPLAY : kind[bi];
        kind_s[kk] += dt;
        kind_n[kk]++;
        if (getenv("CIPHERL_FUZZ_SLOW")) {
            if (dt > 0.03)
                fprintf(stderr, "slow: %.3f s, iteration %ld, base %zu (kind %d, %zu bytes), class %d%s: %s\n", dt, iter,
                        bi, kind[bi], len, cls, verbatim ? " verbatim" : "", F.last_log[(F.log_lines + 3) % 4]);
        }
        if (cls == 2 && !hkey_had && tenant_of(key) >= 0)
            hello_sessions++;

        const double p0 = now_s();
        /* A: at most one step further, and only with its sequence number; never trained */
        const counters c = read_counters(tA);
        if (c.last_seq < a.last_seq || c.last_seq > a.last_seq + 1 ||
            c.env_steps - a.env_steps != c.last_seq - a.last_seq || c.env_steps != c.last_seq - 1 || c.train_steps != 0 ||
            c.initialized != 1 || (verbatim && c.last_seq != a.last_seq)) {
            print_last_log();
            fail_msg("iteration %ld (base %zu, key class %d%s): A went from seq %lld step %lld to seq %lld step %lld "
                     "(trained %lld)",
                     iter, bi, cls, verbatim ? ", a verbatim replay" : "", (long long)a.last_seq,
                     (long long)a.env_steps, (long long)c.last_seq, (long long)c.env_steps, (long long)c.train_steps);
        }
        if (c.last_seq != a.last_seq)
            a_applied++;
        a = c;
        check_memory(F.A.kp.public_z85, tA);
        /* B never moves */
        const counters cb = read_counters(tB);
        if (memcmp(&cb, &b_counters, sizeof cb) != 0) {
            print_last_log();
            fail_msg("iteration %ld: B's counters changed (seq %lld -> %lld)", iter, (long long)b_counters.last_seq,
                     (long long)cb.last_seq);
        }
        if (cls == 3)
            check_memory(F.B.kp.public_z85, tB);
        post_s += now_s() - p0;
        if ((iter + 1) % 2500 == 0 || iter + 1 == iters) {
            tenant_digest(tB, d, &nb);
            assert_int_equal(nb, b_blobs);
            assert_memory_equal(d, b_digest, 32);
            for (int i = 0; i < N_NOKEYS; i++)
                assert_true(tenant_of(F.nokey[i].public_z85) < 0);
        }
    }
    const double fuzz_s = now_s() - t0;
    print_message("handler fuzz: %ld messages in %.1f s (set-up %.1f s): to A %zu, to keys without a session %zu, to "
                  "keys that may open one %zu (%zu HELLOs to fresh keys), B's replays %zu; A stepped %zu times by "
                  "mutated requests; %zu sessions opened by mutated HELLOs; %zu log lines\n",
                  iters, fuzz_s, setup_s, by_class[0], by_class[1], by_class[2], oneshot_msgs, by_class[3], a_applied,
                  hello_sessions + oneshot_sessions + (tenant_of(oneshot.public_z85) >= 0), F.log_lines);
    net_keypair_wipe(&oneshot);
    print_message("  preparing the messages: %.3f s\n", prep_s);
    static const char *const kind_names[BASE_KINDS] = {"STEP", "ACT",   "PULL",           "INIT",
                                                       "HELLO", "other", "verbatim replay"};
    for (int k = 0; k < BASE_KINDS; k++)
        print_message("  %-15s %6zu messages, %7.3f s in the handler, %7.3f s to prepare\n", kind_names[k], kind_n[k],
                      kind_s[k], prep_k[k]);
    print_message("  checks after each: %.3f s\n", post_s);

    /* ---- afterwards: a genuine next request of A is applied once */
    const counters before = read_counters(tA);
    encrypt_transition(&F.A, before.env_steps + 1);
    msg next = build_step(&F.A, (uint64_t)before.last_seq + 1, (uint64_t)before.env_steps + 1, 0, 0, -1, NULL);
    handle(F.A.kp.public_z85, &next);
    counters after = read_counters(tA);
    if (after.last_seq != before.last_seq + 1 || after.env_steps != before.env_steps + 1)
        print_last_log();
    assert_int_equal(after.last_seq, before.last_seq + 1);
    assert_int_equal(after.env_steps, before.env_steps + 1);
    check_memory(F.A.kp.public_z85, tA);
    {
        /* a request refused before it changed anything (a ciphertext of other parameters) keeps the session */
        msg bad = build_step(&F.A, (uint64_t)after.last_seq + 1, (uint64_t)after.env_steps + 1, 0, 0, 2, &alt[ALT_N10]);
        handle(F.A.kp.public_z85, &bad);
        free(bad.d);
        net_session_info in;
        assert_true(net_platform_session_for_test(F.p, F.A.kp.public_z85, &in));
        const counters same = read_counters(tA);
        assert_memory_equal(&same, &after, sizeof same);
    }
    handle(F.A.kp.public_z85, &next); /* its retry: answered from the store */
    handle(F.A.kp.public_z85, &next);
    const counters again = read_counters(tA);
    assert_memory_equal(&again, &after, sizeof again);
    free(next.d);
    tenant_digest(tB, d, &nb);
    assert_memory_equal(d, b_digest, 32);

    /* ---- a request that fails half way (its training step needs refreshes, which reach nobody here) leaves
     * nothing behind: the store is as before, the session is dropped from memory, and the next request reloads it */
    counters c = read_counters(tA);
    while (c.env_steps + 1 < F.hp.batch_size) {
        encrypt_transition(&F.A, c.env_steps + 1);
        msg m = build_step(&F.A, (uint64_t)c.last_seq + 1, (uint64_t)c.env_steps + 1, 0, 0, -1, NULL);
        handle(F.A.kp.public_z85, &m);
        free(m.d);
        const counters c2 = read_counters(tA);
        assert_int_equal(c2.env_steps, c.env_steps + 1);
        c = c2;
    }
    uint8_t a_digest[32];
    size_t a_blobs;
    tenant_digest(tA, a_digest, &a_blobs);
    encrypt_transition(&F.A, c.env_steps + 1);
    msg train = build_step(&F.A, (uint64_t)c.last_seq + 1, (uint64_t)c.env_steps + 1, 1, 0, -1, NULL);
    const size_t lines_before = F.log_lines;
    handle(F.A.kp.public_z85, &train);
    free(train.d);
    assert_true(F.log_lines > lines_before);
    assert_non_null(strstr(F.last_log[(F.log_lines + 3) % 4], "failed"));
    net_session_info in;
    assert_false(net_platform_session_for_test(F.p, F.A.kp.public_z85, &in));
    tenant_digest(tA, d, &nb);
    assert_int_equal(nb, a_blobs);
    assert_memory_equal(d, a_digest, 32);
    msg resume = build_step(&F.A, (uint64_t)c.last_seq + 1, (uint64_t)c.env_steps + 1, 0, 0, -1, NULL);
    handle(F.A.kp.public_z85, &resume);
    free(resume.d);
    after = read_counters(tA);
    assert_int_equal(after.last_seq, c.last_seq + 1);
    assert_int_equal(after.env_steps, c.env_steps + 1);
    assert_int_equal(after.train_steps, 0);
    assert_true(net_platform_session_for_test(F.p, F.A.kp.public_z85, &in));
    check_memory(F.A.kp.public_z85, tA);

    /* ---- a new session may not claim a larger replay than the platform allows (default 1 000 000) */
    {
        net_keypair big;
        assert_int_equal(net_keypair_generate(&big), CL_OK);
        rl_he_dqn_hparams hp = F.hp;
        hp.buffer_size = 2000000;
        char line[2048];
        rl_he_dqn_hp_format(&hp, line, sizeof line);
        msg h = build_hello(ENV, line, 7, F.pbytes, F.plen, F.A.ek, F.A.ekl);
        net_platform_handle_for_test(F.p, big.public_z85, h.d, h.len);
        net_session_info none;
        assert_false(net_platform_session_for_test(F.p, big.public_z85, &none));
        int64_t t = -1;
        assert_int_equal(net_store_tenant_find(F.st, big.public_z85, &t), CL_OK);
        assert_true(t < 0);
        free(h.d);
        net_keypair_wipe(&big);
    }

    /* ---- and the platform serves real connections: A and B resume, step, act and pull */
    pthread_t th;
    g_stop = 0;
    assert_int_equal(pthread_create(&th, NULL, serve_main, F.p), 0);
    for (int o = 0; o < 2; o++) {
        owner *ow = owners[o];
        const counters c0 = read_counters(tenant[o]);
        net_owner_config oc = {.endpoint = net_platform_endpoint(F.p), .server_key = net_platform_public_key(F.p),
                               .key_file = ow->key_file, .timeout_ms = 60000, .retries = 1};
        net_owner *no = NULL;
        assert_int_equal(net_owner_open(&oc, F.params, ow->ctx, ow->own, &no), CL_OK);
        net_session_info info;
        /* a known key cannot change its sampling seed or its evaluation keys half way */
        const owner *other = owners[1 - o];
        assert_int_equal(net_owner_hello(no, ENV, F.hpline, rl_he_dqn_sample_seed(ow->seed) + 1, F.pbytes, F.plen, ow->ek,
                                         ow->ekl, &info),
                         CL_ERR_REFUSED);
        assert_non_null(strstr(net_owner_last_error(no), "other settings"));
        assert_int_equal(net_owner_hello(no, ENV, F.hpline, rl_he_dqn_sample_seed(ow->seed), F.pbytes, F.plen, other->ek,
                                         other->ekl, &info),
                         CL_ERR_REFUSED);
        assert_non_null(strstr(net_owner_last_error(no), "other settings"));
        cl_status st = net_owner_hello(no, ENV, F.hpline, rl_he_dqn_sample_seed(ow->seed), F.pbytes, F.plen, ow->ek,
                                       ow->ekl, &info);
        if (st != CL_OK)
            fail_msg("%s: HELLO: %s: %s", ow->name, cl_strerror(st), net_owner_last_error(no));
        assert_int_equal((int64_t)info.last_seq, c0.last_seq);
        assert_int_equal((int64_t)info.env_steps, c0.env_steps);
        assert_int_equal(info.initialized, 1);
        assert_int_equal(info.train_steps, 0);
        rl_he_dqn_link link;
        net_owner_link(no, &link);
        encrypt_transition(ow, c0.env_steps + 1);
        st = link.step(link.user, c0.env_steps + 1, ow->tr, 0, false);
        if (st != CL_OK)
            fail_msg("%s: STEP: %s: %s", ow->name, cl_strerror(st), net_owner_last_error(no));
        const counters c1 = read_counters(tenant[o]);
        assert_int_equal(c1.last_seq, c0.last_seq + 1);
        assert_int_equal(c1.env_steps, c0.env_steps + 1);
        if (o == 0) {
            /* bad answers to the platform's refresh requests, on a raw connection with A's key: each fails its
             * request with an ERROR (never silence, never a Q), and a STEP whose training step got one applies
             * nothing */
            net_client *rc = NULL;
            assert_int_equal(net_client_open(net_platform_endpoint(F.p), &ow->kp, net_platform_public_key(F.p), &rc),
                             CL_OK);
            char text[512];
            for (int bad = 0; bad < BAD_N; bad++) {
                net_buf b = {0};
                net_msg_begin(&b, NET_MSG_ACT, (uint64_t)c1.last_seq);
                put_vec(&b, ow->x);
                msg act = finish(&b);
                net_buf_free(&b);
                const uint64_t code =
                    send_with_bad_refresh(rc, &act, (uint64_t)c1.last_seq, bad, &alt[ALT_SLOTS], &alt[ALT_N10], text,
                                          sizeof text);
                print_message("refresh answered with %s: ERROR %s (%s)\n", bad_names[bad], text,
                              code < CL_STATUS_COUNT ? cl_strerror((cl_status)code) : "?");
                assert_true(code != CL_OK && strstr(text, "ACT failed"));
                free(act.d);
            }
            uint8_t a_before[32];
            tenant_digest(tA, a_before, &nb);
            encrypt_transition(ow, c1.env_steps + 1);
            msg step = build_step(ow, (uint64_t)c1.last_seq + 1, (uint64_t)c1.env_steps + 1, 1, 0, -1, NULL);
            const uint64_t code = send_with_bad_refresh(rc, &step, (uint64_t)c1.last_seq + 1, BAD_SCALE,
                                                        &alt[ALT_SLOTS], &alt[ALT_N10], text, sizeof text);
            free(step.d);
            assert_true(code != CL_OK && strstr(text, "STEP") && strstr(text, "failed"));
            tenant_digest(tA, d, &nb);
            assert_memory_equal(d, a_before, 32);

            /* an ACT sent again in the middle: the platform goes on with it and answers on the new connection */
            {
                net_buf ab = {0};
                net_msg_begin(&ab, NET_MSG_ACT, (uint64_t)c1.last_seq);
                put_vec(&ab, ow->x);
                msg act = finish(&ab);
                net_buf_free(&ab);
                net_msg qm;
                uint8_t *qraw = NULL;
                const int nref = resend_midway(ow, rc, &act, (uint64_t)c1.last_seq, NET_MSG_Q, &qm, &qraw);
                const uint8_t *qd;
                size_t ql;
                assert_int_equal(net_msg_blob(&qm, 0, &qd, &ql), CL_OK);
                slots_vec *q = NULL;
                assert_int_equal(slots_vec_create(ow->ctx, &q), CL_OK);
                assert_int_equal(slots_vec_deserialize(ow->ctx, qd, ql, q), CL_OK);
                double qv[2];
                assert_int_equal(slots_decrypt(ow->own, q, qv, 2), CL_OK);
                assert_true(isfinite(qv[0]) && isfinite(qv[1]) && fabs(qv[0]) < 100 && fabs(qv[1]) < 100);
                print_message("ACT sent again midway: %d refreshes answered, Q = (%.4f, %.4f)\n", nref, qv[0], qv[1]);
                slots_vec_free(q);
                net_msg_free(&qm);
                free(qraw);
                free(act.d);
            }
            net_client_close(rc);

            /* an ACT, refreshes and all */
            slots_vec *q = NULL;
            assert_int_equal(slots_vec_create(ow->ctx, &q), CL_OK);
            assert_int_equal(slots_encrypt(ow->own, (double[4]){0.01, -0.02, 0.03, -0.04}, 4, ow->x), CL_OK);
            st = link.act(link.user, ow->x, q);
            if (st != CL_OK)
                fail_msg("A: ACT: %s: %s", cl_strerror(st), net_owner_last_error(no));
            double qv[2];
            assert_int_equal(slots_decrypt(ow->own, q, qv, 2), CL_OK);
            assert_true(isfinite(qv[0]) && isfinite(qv[1]) && fabs(qv[0]) < 100 && fabs(qv[1]) < 100);
            slots_vec_free(q);
            /* the weights: still the initial ones A sent (no training step ever completed) */
            char env[64], hpline[4096];
            st = net_owner_pull(no, env, sizeof env, hpline, sizeof hpline);
            if (st != CL_OK)
                fail_msg("A: PULL: %s: %s", cl_strerror(st), net_owner_last_error(no));
            assert_string_equal(env, ENV);
            assert_string_equal(hpline, F.hpline);
            /* per layer: its P vectors, then HE-Adam's m and r of its T = D + 1 trained ones */
            const size_t P = 2 * F.D + 1, nw = 3 * P, per = P + 2 * (F.D + 1);
            slots_vec **wv = calloc(nw, sizeof *wv);
            for (size_t i = 0; i < nw; i++)
                assert_int_equal(slots_vec_create(ow->ctx, &wv[i]), CL_OK);
            assert_int_equal(net_owner_pulled_weights(no, ow->ctx, wv, nw), CL_OK);
            double *x = malloc(F.S * sizeof *x), *y = malloc(F.S * sizeof *y), worst = 0;
            for (size_t i = 0; i < nw; i++) {
                assert_int_equal(slots_decrypt(ow->own, wv[i], x, F.S), CL_OK);
                assert_int_equal(slots_decrypt(ow->own, ow->init[(i / P) * per + i % P], y, F.S), CL_OK);
                for (size_t j = 0; j < F.S; j++)
                    worst = fmax(worst, fabs(x[j] - y[j]));
                slots_vec_free(wv[i]);
            }
            free(wv);
            free(x);
            free(y);
            print_message("A's pulled weights vs its initial ones: %.3g\n", worst);
            assert_true(worst < 1e-6);

            /* a training step, with its refreshes answered, sent again in the middle of it (the owner gave up
             * on its connection): the platform goes on with it, and it completes, once */
            const counters c2 = read_counters(tA);
            encrypt_transition(ow, c2.env_steps + 1);
            msg tstep = build_step(ow, (uint64_t)c2.last_seq + 1, (uint64_t)c2.env_steps + 1, 1, 0, -1, NULL);
            net_client *tc = NULL;
            assert_int_equal(net_client_open(net_platform_endpoint(F.p), &ow->kp, net_platform_public_key(F.p), &tc),
                             CL_OK);
            net_msg ack;
            uint8_t *ackraw = NULL;
            const int nref = resend_midway(ow, tc, &tstep, (uint64_t)c2.last_seq + 1, NET_MSG_ACK, &ack, &ackraw);
            net_msg_free(&ack);
            free(ackraw);
            free(tstep.d);
            net_client_close(tc);
            const counters c3 = read_counters(tA);
            assert_int_equal(c3.last_seq, c2.last_seq + 1);
            assert_int_equal(c3.env_steps, c2.env_steps + 1);
            assert_int_equal(c3.train_steps, 1);
            check_memory(F.A.kp.public_z85, tA);
            print_message("A trained once over the network, sent again midway: %d refreshes\n", nref);
        }
        net_owner_close(no);
    }
    g_stop = 1;
    void *ret = NULL;
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_int_equal(*(cl_status *)ret, CL_OK);
    for (int i = 0; i < N_NOKEYS; i++)
        assert_true(tenant_of(F.nokey[i].public_z85) < 0);
    check_owner_backoff(&F.A);

    /* ---- a session stored with another layout of its vectors (an older cipherl's, which kept HE-Adam's state
     * for the transposed diagonals too) is refused when a new platform loads it, never read as this one's */
    net_platform_close(F.p);
    F.p = NULL;
    assert_int_equal(net_store_put_int(F.st, tB, "layout", 1), CL_OK);
    assert_int_equal(net_platform_open(&cfg, &F.p, err, sizeof err), CL_OK);
    {
        encrypt_transition(&F.B, b_counters.env_steps + 1);
        msg bstep = build_step(&F.B, (uint64_t)b_counters.last_seq + 1, (uint64_t)b_counters.env_steps + 1, 0, 0, -1,
                               NULL);
        const size_t lines = F.log_lines;
        handle(F.B.kp.public_z85, &bstep);
        free(bstep.d);
        net_session_info none;
        assert_false(net_platform_session_for_test(F.p, F.B.kp.public_z85, &none));
        bool refused = false;
        for (size_t i = lines; i < F.log_lines; i++)
            refused = refused || strstr(F.last_log[i % 4], "state layout 1");
        if (!refused)
            print_last_log();
        assert_true(refused);
    }

    /* ---- clean up */
    net_store_close(F.st);
    net_platform_close(F.p);
    for (size_t i = 0; i < nbase; i++)
        free(bases[i].d);
    free(work);
    free(exact);
    for (int a2 = 0; a2 < ALT_N; a2++)
        free(alt[a2].d);
    free(p10b);
    slots_vec_free(v10);
    slots_vec_free(v512);
    slots_vec_free(vlow);
    slots_vec_free(vclear);
    slots_owner_free(own10);
    slots_owner_free(own512);
    slots_owner_free(cown);
    slots_ctx_free(ctx10);
    slots_ctx_free(ctx512);
    slots_ctx_free(cctx);
    ckks_public_key_free(pk10);
    ckks_secret_key_free(sk10);
    ckks_params_free(p10);
    owner_free(&F.A);
    owner_free(&F.B);
    for (int i = 0; i < N_NOKEYS; i++)
        net_keypair_wipe(&F.nokey[i]);
    for (int i = 0; i < N_HKEYS; i++)
        net_keypair_wipe(&F.hkey[i]);
    free(F.pbytes);
    ckks_params_free(F.params);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handler_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
