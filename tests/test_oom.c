/* Out-of-memory paths, tested rather than hoped for: each operation below
 * (CKKS keys and arithmetic, the clear slot machine, networks and Adam, DQN
 * and TD3 agents with their checkpoints, the CKKS slot machine with its
 * owner's refresh, HE-DQN and HE-TD3 on the clear backend, the platform's
 * wire messages) is run once per allocation it makes, with exactly that one
 * allocation failing. Every run must fail cleanly: no crash, the status
 * CL_ERR_NOMEM (not success, not another error), and nothing leaked (the
 * sanitizer build's LeakSanitizer checks that at exit). A run in which no
 * allocation was made to fail must succeed, so the sweep covers the whole
 * operation.
 *
 * The failures are injected by the linker: this test is linked with
 * --wrap=malloc (and calloc, realloc, strdup, strndup), which sends every
 * call from the library's objects to the __wrap_ functions below. That needs
 * the static library (CMakeLists.txt leaves the test out of shared builds).
 * Allocations inside other libraries (libc's stdio, OpenMP) are not seen. An
 * operation with more than OOM_MAX_RUNS allocations gets that many runs, at
 * allocation indices spread evenly over its whole length, the first ones
 * always included. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cipherl/ckks.h"
#include "cipherl/nn.h"
#include "cipherl/rl.h"
#include "cipherl/slots.h"
#include "net/wire.h"
#include "rl/he_dqn.h"
#include "rl/he_td3.h"

/* ------------------------------------------------------------ injection */

/* volatile: the test's own calls name malloc, which the compiler takes for a
 * function that cannot see these statics, so it would drop or move stores
 * to them around the calls; the linker sends those calls here. */
static volatile long oom_target = -1; /* the allocation (0-based, counted while armed) that fails; -1: none */
static volatile long oom_count;       /* allocations seen while armed */
static volatile int oom_hit;          /* the chosen allocation was made, and failed */

static int oom_fail_now(void)
{
    if (oom_target < 0)
        return 0;
    if (oom_count++ != oom_target)
        return 0;
    oom_hit = 1;
    return 1;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n)
{
    return oom_fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return oom_fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return oom_fail_now() ? NULL : __real_realloc(p, n); /* on failure p stays the caller's */
}

char *__wrap_strdup(const char *s)
{
    return oom_fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return oom_fail_now() ? NULL : __real_strndup(s, n);
}

/* ------------------------------------------------------------ the sweep */

#define OOM_MAX_RUNS 600

typedef cl_status (*oom_op)(void);

/* Runs op with allocation k failing, for every k (or OOM_MAX_RUNS of them). */
static void sweep(const char *what, oom_op op)
{
    /* A run with no failure: it must succeed, and it says how many allocations there are. */
    oom_count = 0;
    oom_hit = 0;
    oom_target = LONG_MAX;
    cl_status st = op();
    oom_target = -1;
    long total = oom_count;
    if (st != CL_OK)
        fail_msg("%s: fails (%s) with every allocation succeeding", what, cl_strerror(st));
    if (total == 0)
        fail_msg("%s: made no allocation through the wrapped functions (is the test linked with --wrap?)",
                 what);

    long runs = total < OOM_MAX_RUNS ? total : OOM_MAX_RUNS;
    long prev = -1;
    for (long i = 0; i < runs; i++) {
        /* the first half of the runs takes the first allocations one by one,
         * the other half spreads evenly over the rest, the last one included */
        long half = runs / 2, k;
        if (runs == total || i < half)
            k = i;
        else
            k = half + (long)((double)(i - half + 1) * (double)(total - 1 - half) / (double)(runs - half));
        if (k <= prev)
            continue;
        prev = k;
        oom_count = 0;
        oom_hit = 0;
        oom_target = k;
        st = op();
        oom_target = -1;
        if (!oom_hit)
            fail_msg("%s: allocation %ld of %ld was not made on the second pass (the operation is not deterministic)",
                     what, k, total);
        if (st == CL_OK)
            fail_msg("%s: allocation %ld of %ld failed and the operation reported success", what, k, total);
        if (st != CL_ERR_NOMEM)
            fail_msg("%s: allocation %ld of %ld failed and the operation reported '%s', not out of memory",
                     what, k, total, cl_strerror(st));
    }
    print_message("  %-28s %6ld allocations, %ld failed one at a time\n", what, total, runs);
}

#define TRY(expr)                                                                                   \
    do {                                                                                            \
        if ((st = (expr)) != CL_OK)                                                                 \
            goto done;                                                                              \
    } while (0)

/* ------------------------------------------------------------ operations */

/* Keys, encryption both ways, a multiplication with relinearization and
 * rescale, rotations (single and hoisted), decryption, and a round trip of
 * a ciphertext and of the evaluation keys through their serialized form. */
static cl_status op_ckks(void)
{
    cl_status st;
    ckks_params *p = NULL;
    ckks_secret_key *sk = NULL;
    ckks_public_key *pk = NULL;
    ckks_eval_keys *keys = NULL, *keys2 = NULL;
    ckks_encoder *enc = NULL;
    ckks_evaluator *ev = NULL;
    ckks_plaintext *pt = NULL;
    ckks_ciphertext *a = NULL, *b = NULL, *c = NULL, *r[2] = {NULL, NULL}, *back = NULL;
    uint8_t *buf = NULL;
    const int steps[2] = {1, -2};
    double v[8] = {0.5, -1, 0.25, 2, -0.75, 1.5, 0, 1}, out[8];

    TRY(ckks_params_from_preset("test-n10", CKKS_ALLOW_INSECURE, &p));
    TRY(ckks_secret_key_create(p, &sk));
    TRY(ckks_public_key_create(sk, &pk));
    TRY(ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, steps, 2, &keys));
    TRY(ckks_encoder_create(p, &enc));
    TRY(ckks_evaluator_create(p, keys, &ev));
    TRY(ckks_plaintext_create(p, &pt));
    TRY(ckks_ciphertext_create(p, &a));
    TRY(ckks_ciphertext_create(p, &b));
    TRY(ckks_ciphertext_create(p, &c));
    TRY(ckks_ciphertext_create(p, &r[0]));
    TRY(ckks_ciphertext_create(p, &r[1]));
    const size_t slots = ckks_params_max_slots(p);
    const int L = ckks_params_max_level(p);
    TRY(ckks_encode(enc, v, 8, slots, L, ckks_params_default_scale(p), pt));
    TRY(ckks_encrypt_pk(pk, pt, a));
    TRY(ckks_encrypt_sk(sk, pt, b));
    TRY(ckks_mul_relin(ev, a, b, c));
    TRY(ckks_rescale(ev, c, c));
    TRY(ckks_rotate(ev, c, 1, c));
    TRY(ckks_rotate_hoisted(ev, a, steps, 2, r));
    TRY(ckks_add(ev, r[0], r[1], a));
    TRY(ckks_decrypt(sk, c, pt));
    TRY(ckks_decode(enc, pt, out, NULL, 8));

    size_t len = 0, cap = (size_t)1 << 22;
    buf = malloc(cap); /* the test's own allocations count too: this one must be refused cleanly */
    if (!buf) {
        st = CL_ERR_NOMEM;
        goto done;
    }
    TRY(ckks_ciphertext_serialize(c, buf, cap, &len));
    TRY(ckks_ciphertext_deserialize(p, buf, len, &back));
    TRY(ckks_eval_keys_serialize(keys, buf, cap, &len));
    TRY(ckks_eval_keys_deserialize(p, buf, len, &keys2));
done:
    free(buf);
    ckks_ciphertext_free(back);
    ckks_ciphertext_free(r[1]);
    ckks_ciphertext_free(r[0]);
    ckks_ciphertext_free(c);
    ckks_ciphertext_free(b);
    ckks_ciphertext_free(a);
    ckks_plaintext_free(pt);
    ckks_evaluator_free(ev);
    ckks_encoder_free(enc);
    ckks_eval_keys_free(keys2);
    ckks_eval_keys_free(keys);
    ckks_public_key_free(pk);
    ckks_secret_key_free(sk);
    ckks_params_free(p);
    return st;
}

/* One program on the slot machine, for either backend: the owner encrypts,
 * the platform multiplies, rotates (single and many from one input), sums
 * by rotations and has the owner refresh, multiplies again, and the owner
 * decrypts. */
static cl_status slots_program(slots_ctx *ctx, slots_owner *own)
{
    cl_status st;
    slots_vec *a = NULL, *b = NULL, *r[2] = {NULL, NULL};
    const int many[2] = {1, 3};
    double v[16], out[16];
    for (int i = 0; i < 16; i++)
        v[i] = 0.05 * i - 0.4;

    TRY(slots_vec_create(ctx, &a));
    TRY(slots_vec_create(ctx, &b));
    TRY(slots_vec_create(ctx, &r[0]));
    TRY(slots_vec_create(ctx, &r[1]));
    TRY(slots_encrypt(own, v, 16, a));
    TRY(slots_mul(ctx, a, a, b));
    TRY(slots_rotate(ctx, b, 1, b));
    TRY(slots_rotate_many(ctx, a, many, 2, r));
    TRY(slots_sum(ctx, b, 1, 16, b));
    TRY(slots_refresh(ctx, b));
    TRY(slots_mul(ctx, b, r[0], b));
    TRY(slots_decrypt(own, b, out, 16));
done:
    slots_vec_free(r[1]);
    slots_vec_free(r[0]);
    slots_vec_free(b);
    slots_vec_free(a);
    return st;
}

/* The clear backend (with its rehearsal noise). */
static cl_status op_slots_clear(void)
{
    cl_status st;
    slots_ctx *ctx = NULL;
    slots_owner *own = NULL;
    slots_clear_config cfg = {.slots = 16, .levels = 4, .noise = 1e-9, .seed = 3};
    TRY(slots_clear_create(&cfg, &ctx, &own));
    TRY(slots_program(ctx, own));
done:
    slots_owner_free(own);
    slots_ctx_free(ctx);
    return st;
}

/* The CKKS backend, both sides, with the rotation keys the program needs. */
static cl_status op_slots_ckks(void)
{
    cl_status st;
    ckks_params *p = NULL;
    ckks_secret_key *sk = NULL;
    ckks_eval_keys *keys = NULL;
    slots_ctx *ctx = NULL;
    slots_owner *own = NULL;
    const int steps[5] = {1, 2, 3, 4, 8};
    TRY(ckks_params_from_preset("test-n10", CKKS_ALLOW_INSECURE, &p));
    TRY(ckks_secret_key_create(p, &sk));
    TRY(ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, steps, 5, &keys));
    TRY(slots_ckks_create(p, keys, 16, &ctx));
    TRY(slots_ckks_owner_create(ctx, sk, &own));
    slots_ckks_set_refresher(ctx, slots_ckks_owner_refresh, own);
    TRY(slots_program(ctx, own));
done:
    slots_owner_free(own);
    slots_ctx_free(ctx);
    ckks_eval_keys_free(keys);
    ckks_secret_key_free(sk);
    ckks_params_free(p);
    return st;
}

static double lcg_uniform(void *ctx)
{
    uint64_t *s = ctx;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53;
}

/* A network: forward, backward, an Adam step, and a serialization round trip. */
static cl_status op_nn(void)
{
    cl_status st;
    nn_mlp *net = NULL, *copy = NULL;
    nn_mlp_ws *ws = NULL;
    nn_adam *opt = NULL;
    double *grad = NULL;
    uint8_t *buf = NULL;
    const int hidden[2] = {8, 6};
    double x[3 * 4], dout[3 * 2];
    uint64_t seed = 9;
    for (int i = 0; i < 12; i++)
        x[i] = 0.3 * i - 1.0;
    for (int i = 0; i < 6; i++)
        dout[i] = 0.1 * i;

    TRY(nn_mlp_create(4, hidden, 2, 2, NN_ACT_RELU, NN_ACT_IDENTITY, &net));
    nn_mlp_init_default(net, lcg_uniform, &seed);
    TRY(nn_mlp_ws_create(net, 3, &ws));
    TRY(nn_adam_create(net->n_params, 1e-3, 0.9, 0.999, 1e-8, &opt));
    grad = calloc(net->n_params, sizeof *grad);
    if (!grad) {
        st = CL_ERR_NOMEM;
        goto done;
    }
    if (!nn_mlp_forward(net, ws, x, 3)) {
        st = CL_ERR_INVALID;
        goto done;
    }
    TRY(nn_mlp_backward(net, ws, dout, grad, NULL));
    nn_adam_step(opt, net->params, grad);
    size_t cap = nn_mlp_serialized_size(net), len = 0, used = 0;
    buf = malloc(cap);
    if (!buf) {
        st = CL_ERR_NOMEM;
        goto done;
    }
    TRY(nn_mlp_serialize(net, buf, cap, &len));
    TRY(nn_mlp_deserialize(buf, len, &used, &copy));
done:
    free(buf);
    free(grad);
    nn_adam_free(opt);
    nn_mlp_ws_free(ws);
    nn_mlp_free(copy);
    nn_mlp_free(net);
    return st;
}

/* An agent of the plain baselines: created, trained past learning_starts,
 * its model and its checkpoint serialized, and the checkpoint restored. */
static cl_status run_agent(rl_algo algo, const char *env_id, const char *const *hps, int n_hp, int n_steps)
{
    cl_status st;
    rl_hparams hp;
    char err[256];
    rl_agent *ag = NULL, *ag2 = NULL;
    rl_env *env = NULL, *env2 = NULL;
    rl_rng rng, rng2;
    rl_step_info info;
    uint8_t *model = NULL, *ck = NULL, *user = NULL;
    size_t model_len = 0, ck_len = 0, user_len = 0;

    TRY(rl_hp_defaults(algo, env_id, &hp));
    for (int i = 0; i < n_hp; i++)
        TRY(rl_hp_assign(&hp, hps[i], err, sizeof err));
    hp.n_timesteps = n_steps;
    TRY(rl_agent_create(&hp, rl_env_find(env_id), 5, &ag));
    TRY(rl_env_create(env_id, &env));
    rl_rng_seed(&rng, 2);
    TRY(rl_agent_begin(ag, env, &rng, n_steps));
    for (int i = 0; i < n_steps; i++)
        TRY(rl_agent_step(ag, env, &rng, &info));
    TRY(rl_agent_serialize(ag, &model, &model_len));
    TRY(rl_checkpoint_serialize(ag, env, &rng, "u", 1, &ck, &ck_len));
    TRY(rl_checkpoint_deserialize(ck, ck_len, &ag2, &env2, &rng2, &user, &user_len));
done:
    free(user);
    free(ck);
    free(model);
    rl_env_free(env2);
    rl_agent_free(ag2);
    rl_env_free(env);
    rl_agent_free(ag);
    return st;
}

static cl_status op_dqn(void)
{
    static const char *const hps[] = {"net_arch=[8,8]", "batch_size=4", "buffer_size=64",
                                      "learning_starts=20", "train_freq=4", "gradient_steps=2"};
    return run_agent(RL_ALGO_DQN, "CartPole-v1", hps, 6, 40);
}

static cl_status op_td3(void)
{
    static const char *const hps[] = {"net_arch=[8,8]", "batch_size=4", "buffer_size=64",
                                      "learning_starts=20", "noise_type=ornstein-uhlenbeck"};
    return run_agent(RL_ALGO_TD3, "Pendulum-v1", hps, 5, 40);
}

/* A model file's bytes back into a policy (the bytes are made by
 * policy_setup, before the sweep, with every allocation succeeding). */
static uint8_t *policy_bytes;
static size_t policy_len;

static cl_status op_policy(void)
{
    rl_policy *pol = NULL;
    cl_status st = rl_policy_deserialize(policy_bytes, policy_len, &pol);
    rl_policy_free(pol);
    return st;
}

/* HE-DQN on the clear slot machine: created (networks encrypted by the
 * owner, HE-Adam state, replay) and trained for a few steps past
 * learning_starts. */
static cl_status op_he_dqn(void)
{
    cl_status st;
    rl_he_dqn_hparams hp;
    rl_he_dqn_hparams_default(&hp);
    hp.net_arch = 4;
    hp.batch_size = 4;
    hp.buffer_size = 32;
    hp.learning_starts = 8;
    hp.train_freq = 2;
    hp.target_update_interval = 6;
    size_t d, S;
    slots_ctx *ctx = NULL;
    slots_owner *own = NULL;
    rl_he_dqn *ag = NULL;
    TRY(rl_he_dqn_layout("CartPole-v1", &hp, &d, &S));
    slots_clear_config cfg = {.slots = S, .levels = 6};
    TRY(slots_clear_create(&cfg, &ctx, &own));
    TRY(rl_he_dqn_create("CartPole-v1", &hp, ctx, own, 7, &ag));
    TRY(rl_he_dqn_learn(ag, 14, NULL, NULL));
done:
    rl_he_dqn_free(ag);
    slots_owner_free(own);
    slots_ctx_free(ctx);
    return st;
}

/* HE-TD3 on the clear slot machine: created and trained past learning_starts,
 * through a delayed actor update. */
static cl_status op_he_td3(void)
{
    cl_status st;
    rl_he_td3_hparams hp;
    size_t S;
    slots_ctx *ctx = NULL;
    slots_owner *own = NULL;
    rl_he_td3 *ag = NULL;
    TRY(rl_he_td3_hparams_for_env("Pendulum-v1", &hp));
    hp.net_arch = 4;
    hp.batch_size = 4;
    hp.buffer_size = 16;
    hp.learning_starts = 4;
    TRY(rl_he_td3_layout("Pendulum-v1", &hp, NULL, &S));
    slots_clear_config cfg = {.slots = S, .levels = 6};
    TRY(slots_clear_create(&cfg, &ctx, &own));
    TRY(rl_he_td3_create("Pendulum-v1", &hp, ctx, own, 7, &ag));
    TRY(rl_he_td3_learn(ag, 8, NULL, NULL));
done:
    rl_he_td3_free(ag);
    slots_owner_free(own);
    slots_ctx_free(ctx);
    return st;
}

/* The platform's wire format: a STEP message built (the buffer grows as
 * items are put) and parsed back. */
static cl_status op_wire(void)
{
    net_buf b = {0};
    net_msg m = {0};
    static uint8_t blob[3000];
    net_msg_begin(&b, NET_MSG_STEP, 41);
    net_msg_put_u64(&b, 7);
    for (int i = 0; i < 5; i++)
        net_msg_put_blob(&b, blob, sizeof blob);
    net_msg_put_u64(&b, 1);
    net_msg_put_u64(&b, 0);
    cl_status st = net_msg_finish(&b);
    if (st == CL_OK)
        st = net_msg_parse(b.data, b.len, SIZE_MAX, &m, NULL, 0);
    net_msg_free(&m);
    net_buf_free(&b);
    return st;
}

/* One cmocka test per operation: the state is its entry here. */
typedef struct oom_case {
    const char *what;
    oom_op op;
} oom_case;

static void test_sweep(void **state)
{
    const oom_case *c = *state;
    sweep(c->what, c->op);
}

/* The model file that op_policy reads, made with every allocation succeeding. */
static int policy_setup(void **state)
{
    (void)state;
    rl_hparams hp;
    char err[256];
    rl_agent *ag;
    if (rl_hp_defaults(RL_ALGO_DQN, "CartPole-v1", &hp) != CL_OK ||
        rl_hp_assign(&hp, "net_arch=[8,8]", err, sizeof err) != CL_OK ||
        rl_agent_create(&hp, rl_env_find("CartPole-v1"), 5, &ag) != CL_OK)
        return -1;
    cl_status st = rl_agent_serialize(ag, &policy_bytes, &policy_len);
    rl_agent_free(ag);
    return st == CL_OK ? 0 : -1;
}

static int policy_teardown(void **state)
{
    (void)state;
    free(policy_bytes);
    policy_bytes = NULL;
    return 0;
}

/* The injection itself: the wrapped allocator fails exactly the chosen call. */
static void test_injection(void **state)
{
    (void)state;
    oom_count = 0;
    oom_hit = 0;
    oom_target = 1;
    void *a = malloc(8), *b = malloc(8), *c = calloc(1, 8);
    oom_target = -1;
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    assert_true(oom_hit);
    assert_int_equal(oom_count, 3);
    free(a);
    free(c);
}

int main(void)
{
    static oom_case cases[] = {
        {"ckks keys and arithmetic", op_ckks},   {"slots, clear backend", op_slots_clear},
        {"slots, CKKS backend", op_slots_ckks},  {"nn network and Adam", op_nn},
        {"DQN agent and checkpoint", op_dqn},    {"TD3 agent and checkpoint", op_td3},
        {"model file to policy", op_policy},     {"HE-DQN, clear backend", op_he_dqn},
        {"HE-TD3, clear backend", op_he_td3},    {"net wire build and parse", op_wire},
    };
    struct CMUnitTest tests[1 + sizeof cases / sizeof cases[0]];
    tests[0] = (struct CMUnitTest)cmocka_unit_test(test_injection);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool policy = cases[i].op == op_policy;
        tests[1 + i] = (struct CMUnitTest){cases[i].what, test_sweep, policy ? policy_setup : NULL,
                                           policy ? policy_teardown : NULL, &cases[i]};
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
