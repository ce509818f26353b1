/* HE-TD3 on the slot machine (docs/he-td3.md).
 *
 * Three online networks (actor, critic 1, critic 2) and their targets, each
 * 3 packed dense layers of padded width D (docs/he-dense.md), batch B,
 * S = 2 D B slots. Hidden activation p(x) = x/2 + x^2/(2 b) as in HE-DQN. The
 * actor's output is squashed by the odd polynomial f_k(u / A), f_1(x) =
 * (3x - x^3)/2 or f_2(x) = (15x - 10x^3 + 3x^5)/8: monotone on [-A, A],
 * f(+-A) = +-1 with zero slope there (docs/he-td3.md, "squash").
 *
 * Block layout (2D slots, first half used): the action at slots 0..ad-1, the
 * observation at slots ad..ad+od-1. A critic's input is then the plain sum
 * of an action vector and a state vector (no rotation, no level), and
 * dQ/d(input) has dQ/da exactly where the actor's output lives. The actor's
 * first layer reads the same state vector: its columns 0..ad-1 are zero and
 * stay zero (their inputs are zero, so are their gradients).
 *
 * Replay: HE-DQN's chunked replay (rl_he_replay, he_common.h). The owner
 * encrypts transition t in block (t mod B) of five slot vectors (state, next
 * state, action, reward at slot 0, 1 - terminated at slot 0); the platform
 * adds them into chunk t / B, B transitions per ciphertext. A stratified
 * mini-batch masks each chunk drawn to its blocks (one plaintext product,
 * which also carries gamma and the reward scale) and sums.
 *
 * Levels: every operation is preceded by ensure_level(v, need), which asks the
 * owner to refresh v when it has fewer levels than the operation consumes, so
 * the algorithm runs at any level budget >= nn_he_adam_depth(). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cipherl/rl.h"
#include "nn/nn_he.h"
#include "rl/he_common.h"
#include "rl/he_td3.h"

#define NL 3   /* layers per network */
#define NNET 3 /* online networks: actor, critic 1, critic 2 */
#define ACTOR 0
#define OU_THETA 0.15
#define OU_DT 1e-2
#define REPLAY_LEVEL 2 /* a mask product, then a dense product or a multiplication */

struct rl_he_td3 {
    rl_he_td3_hparams hp;
    const rl_env_spec *spec;
    rl_env *env;
    slots_ctx *ctx;
    slots_owner *owner;
    nn_dense_layout lay;
    size_t D, B, S, P, T; /* P = 2D + 1 parameter vectors per layer; T = D + 1 of them trained (the diagonals,
                           * then the bias): gradients and optimizer state exist for those only */
    int od, ad;
    size_t in[NNET][NL], out[NNET][NL], col0[NNET][NL]; /* packed columns; col0: first real column */

    slots_vec **w[NNET][NL], **m[NNET][NL], **r[NNET][NL], **g[NNET][NL], **tw[NNET][NL];
    /* training caches per network: single inputs, rotations of doubled inputs, pre-activations */
    slots_vec *cx[NNET][NL], **crot[NNET][NL], *cz[NNET][NL - 1];
    slots_vec *u, *a, *y, *mn, *q1, *q2, *sb, *t0, *t1, *t2, *t3, *xd, *dq, *dh;

    rl_he_replay rb;                   /* chunked, at REPLAY_LEVEL */
    slots_vec *tr[RL_HE_REPLAY_KINDS]; /* the owner's transition, one block filled */

    nn_poly act, dact, sq, dsq;
    nn_abs_approx mx;
    nn_he_adam_config adam[NNET]; /* the actor's, then the critics' */
    double noise_scale; /* pre-squash scale of the smoothing noise: A / f'(0) in x */
    rl_rng rng_owner, rng_env, rng_sample, rng_platform;

    double obs[RL_MAX_OBS];
    double obs_scale[RL_MAX_OBS]; /* the owner's observation normalization */
    double ou[RL_MAX_ACT];
    double ep_ret;
    int ep_len;
    bool started;
    double *actions;
    size_t actions_cap;
    bool trained[NNET];

    rl_he_td3_stats stats;
    int phase_open;
    slots_counters phase_start;
    double phase_t0;
    double *buf, *plain, *amask, *nbuf;
};

void rl_he_td3_hparams_default(rl_he_td3_hparams *hp)
{
    memset(hp, 0, sizeof *hp);
    hp->n_timesteps = 20000;
    hp->learning_rate = 5e-3;
    hp->buffer_size = 10000;
    hp->learning_starts = 1000;
    hp->batch_size = 32;
    hp->gamma = 0.98;
    hp->tau = 0.005;
    hp->train_freq = 1;
    hp->gradient_steps = 1;
    hp->policy_delay = 2;
    hp->target_policy_noise = 0.2;
    hp->target_noise_clip = 0.5;
    hp->noise_type = RL_HE_TD3_NOISE_NORMAL;
    hp->noise_std = 0.1;
    hp->net_arch = 16;
    hp->activation_bound = 1.0; /* on normalized observations: a visible quadratic term */
    hp->max_degree = 4;
    hp->max_bound = 16.0;
    hp->squash_degree = 3;
    hp->squash_bound = 2.0;
    hp->squash_penalty = 0.0;
    hp->adam_beta1 = 0.9;
    hp->adam_beta2 = 0.999;
    hp->normalize_obs = 1;
    hp->reward_scale = 0.1;
    hp->adam_delta = 0.1;
    hp->adam_prior = 0.1;
    hp->actor_adam_delta = 1e-3;
    hp->actor_adam_prior = 1e-3;
    hp->optimizer = RL_HE_OPT_HE_ADAM;
}

cl_status rl_he_td3_hparams_for_env(const char *env_id, rl_he_td3_hparams *hp)
{
    if (!env_id || !hp)
        return CL_ERR_INVALID;
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec)
        return CL_ERR_INVALID;
    if (spec->action_kind != RL_ACTION_CONTINUOUS)
        return CL_ERR_UNSUPPORTED;
    rl_he_td3_hparams_default(hp);
    /* The long-run set (docs/he-td3.md, "The squash penalty"): with the
     * defaults above, 20 000-step runs diverged in two of three seeds. The
     * penalty keeps the actor's pre-squash output where the squash is
     * monotone; beta2 0.9999 keeps HE-Adam's u below 4/3 on the critics'
     * gradient spikes, as for HE-DQN. The defaults stay the short-run set
     * that the 8000-step learning test uses. */
    hp->squash_penalty = 0.1;
    hp->adam_beta2 = 0.9999;
    if (!strcmp(env_id, "MountainCarContinuous-v0")) {
        /* the RL Zoo's td3.yml entry: SB3's gamma 0.99, OU noise 0.5. Its
         * 300k steps at lr 5e-3 diverged on every seed tried (steps 21k-42k,
         * after reaching the flag); lr 1e-3 for 30k steps did not diverge on
         * held-out seeds 100-104 and solved three of them
         * (docs/results/gap.md, "MountainCarContinuous-v0") */
        hp->n_timesteps = 30000;
        hp->learning_rate = 1e-3;
        hp->gamma = 0.99;
        hp->noise_type = RL_HE_TD3_NOISE_OU;
        hp->noise_std = 0.5;
    }
    return CL_OK;
}

static const char *const noise_names[] = {"none", "normal", "ornstein-uhlenbeck"};
#define HOFF(f) offsetof(rl_he_td3_hparams, f)
static const rl_he_field hfields[] = {
    {"n_timesteps", RL_HE_INT64, HOFF(n_timesteps), 1, 1e12, 0, NULL, 0},
    {"learning_rate", RL_HE_REAL, HOFF(learning_rate), 0, 10, 1, NULL, 0},
    {"buffer_size", RL_HE_INT64, HOFF(buffer_size), 1, 1e8, 0, NULL, 0},
    {"learning_starts", RL_HE_INT64, HOFF(learning_starts), 0, 1e12, 0, NULL, 0},
    {"batch_size", RL_HE_INT32, HOFF(batch_size), 1, 65536, 0, NULL, 0},
    {"gamma", RL_HE_REAL, HOFF(gamma), 0, 1, 0, NULL, 0},
    {"tau", RL_HE_REAL, HOFF(tau), 0, 1, 0, NULL, 0},
    {"train_freq", RL_HE_INT64, HOFF(train_freq), 1, 1e9, 0, NULL, 0},
    {"gradient_steps", RL_HE_INT64, HOFF(gradient_steps), -1, 1e9, 0, NULL, 0},
    {"policy_delay", RL_HE_INT32, HOFF(policy_delay), 1, 1e6, 0, NULL, 0},
    {"target_policy_noise", RL_HE_REAL, HOFF(target_policy_noise), 0, 10, 0, NULL, 0},
    {"target_noise_clip", RL_HE_REAL, HOFF(target_noise_clip), 0, 10, 0, NULL, 0},
    {"noise_type", RL_HE_ENUM, HOFF(noise_type), 0, 0, 0, noise_names, 3},
    {"noise_std", RL_HE_REAL, HOFF(noise_std), 0, 10, 0, NULL, 0},
    {"net_arch", RL_HE_ARCH, HOFF(net_arch), 1, 1024, 0, NULL, 0},
    {"activation_bound", RL_HE_REAL, HOFF(activation_bound), 0, 1e6, 1, NULL, 0},
    {"max_degree", RL_HE_INT32, HOFF(max_degree), 1, 12, 0, NULL, 0},
    {"max_bound", RL_HE_REAL, HOFF(max_bound), 0, 1e6, 1, NULL, 0},
    {"squash_degree", RL_HE_INT32, HOFF(squash_degree), 3, 5, 0, NULL, 0},
    {"squash_bound", RL_HE_REAL, HOFF(squash_bound), 0, 1e6, 1, NULL, 0},
    {"squash_penalty", RL_HE_REAL, HOFF(squash_penalty), 0, 1e6, 0, NULL, 0},
    {"normalize_obs", RL_HE_INT32, HOFF(normalize_obs), 0, 1, 0, NULL, 0},
    {"reward_scale", RL_HE_REAL, HOFF(reward_scale), 0, 1e6, 1, NULL, 0},
    {"adam_beta1", RL_HE_REAL, HOFF(adam_beta1), 0, 1, 0, NULL, 0},
    {"adam_beta2", RL_HE_REAL, HOFF(adam_beta2), 0, 1, 1, NULL, 0},
    {"adam_delta", RL_HE_REAL, HOFF(adam_delta), 0, 1e6, 0, NULL, 0},
    {"adam_prior", RL_HE_REAL, HOFF(adam_prior), 0, 1e6, 1, NULL, 0},
    {"actor_adam_delta", RL_HE_REAL, HOFF(actor_adam_delta), 0, 1e6, 0, NULL, 0},
    {"actor_adam_prior", RL_HE_REAL, HOFF(actor_adam_prior), 0, 1e6, 1, NULL, 0},
    {"optimizer", RL_HE_ENUM, HOFF(optimizer), 0, 0, 0, rl_he_optimizer_names, 3},
};
#define N_HFIELDS (sizeof hfields / sizeof hfields[0])

_Static_assert(sizeof(rl_he_td3_noise) == sizeof(int), "enum fields are set as int");
_Static_assert(sizeof(rl_he_optimizer) == sizeof(int), "enum fields are set as int");

cl_status rl_he_td3_hp_assign(rl_he_td3_hparams *hp, const char *assignment, char *err, size_t errlen)
{
    if (!hp)
        return rl_he_fail(err, errlen, "no hyperparameters");
    const int old_degree = hp->squash_degree;
    cl_status st = rl_he_hp_assign(hp, hfields, N_HFIELDS, "HE-TD3", assignment, err, errlen);
    if (st == CL_OK && hp->squash_degree != 3 && hp->squash_degree != 5) {
        hp->squash_degree = old_degree; /* the squash polynomials exist for degrees 3 and 5 only */
        return rl_he_fail(err, errlen, "squash_degree: %s is not 3 or 5", strchr(assignment, '=') + 1);
    }
    return st;
}

cl_status rl_he_td3_hp_check(const rl_he_td3_hparams *hp, char *err, size_t errlen)
{
    if (!hp)
        return rl_he_fail(err, errlen, "no hyperparameters");
    if (hp->batch_size < 1 || !rl_he_pow2((size_t)hp->batch_size))
        return rl_he_fail(err, errlen, "batch_size %d is not a power of two (the packing needs one)", hp->batch_size);
    if (hp->buffer_size < hp->batch_size)
        return rl_he_fail(err, errlen, "buffer_size %lld is below batch_size %d", (long long)hp->buffer_size,
                     hp->batch_size);
    if (hp->learning_starts < hp->batch_size)
        return rl_he_fail(err, errlen, "learning_starts %lld is below batch_size %d (HE-TD3 needs a full stratified batch)",
                     (long long)hp->learning_starts, hp->batch_size);
    if (hp->gradient_steps == 0 || hp->gradient_steps < -1)
        return rl_he_fail(err, errlen, "gradient_steps must be >= 1 or -1");
    if (hp->train_freq < 1 || hp->policy_delay < 1 || hp->net_arch < 1)
        return rl_he_fail(err, errlen, "train_freq, policy_delay and net_arch must be >= 1");
    if (!(hp->gamma >= 0 && hp->gamma <= 1) || !(hp->tau > 0 && hp->tau <= 1))
        return rl_he_fail(err, errlen, "gamma must be in [0, 1] and tau in (0, 1]");
    if (!(hp->target_policy_noise >= 0) || !(hp->target_noise_clip >= 0) || !(hp->noise_std >= 0) ||
        (unsigned)hp->noise_type > RL_HE_TD3_NOISE_OU)
        return rl_he_fail(err, errlen, "target_policy_noise, target_noise_clip, noise_type or noise_std out of range");
    if (!(hp->activation_bound > 0) || !(hp->max_bound > 0) || hp->max_degree < 1 || hp->max_degree > 12)
        return rl_he_fail(err, errlen, "activation_bound, max_bound or max_degree out of range");
    if ((hp->squash_degree != 3 && hp->squash_degree != 5) || !(hp->squash_bound > 0))
        return rl_he_fail(err, errlen, "squash_degree must be 3 or 5 and squash_bound > 0");
    nn_he_adam_config c = {.alpha = hp->learning_rate, .beta1 = hp->adam_beta1, .beta2 = hp->adam_beta2,
                           .delta = hp->adam_delta, .prior = hp->adam_prior};
    nn_he_adam_config ca = c;
    ca.delta = hp->actor_adam_delta;
    ca.prior = hp->actor_adam_prior;
    if (nn_he_adam_check(&c) != CL_OK || nn_he_adam_check(&ca) != CL_OK)
        return rl_he_fail(err, errlen, "the Adam settings (learning_rate, adam_beta1, adam_beta2, adam_delta, adam_prior, "
                                  "actor_adam_delta, actor_adam_prior) are out of range");
    if (!(hp->reward_scale > 0))
        return rl_he_fail(err, errlen, "reward_scale must be > 0");
    if ((unsigned)hp->optimizer > RL_HE_OPT_ADAM)
        return rl_he_fail(err, errlen, "unknown optimizer");
    return CL_OK;
}

void rl_he_td3_hp_format(const rl_he_td3_hparams *hp, char *buf, size_t cap)
{
    rl_he_hp_format(hp, hfields, N_HFIELDS, buf, cap);
}

cl_status rl_he_td3_layout(const char *env_id, const rl_he_td3_hparams *hp, size_t *d_out, size_t *slots_out)
{
    if (!env_id || !hp)
        return CL_ERR_INVALID;
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec)
        return CL_ERR_INVALID;
    if (spec->action_kind != RL_ACTION_CONTINUOUS)
        return CL_ERR_UNSUPPORTED;
    if (hp->net_arch < 1 || hp->batch_size < 1 || !rl_he_pow2((size_t)hp->batch_size))
        return CL_ERR_INVALID;
    size_t w = (size_t)spec->obs_dim + (size_t)spec->action_dim;
    if ((size_t)hp->net_arch > w)
        w = (size_t)hp->net_arch;
    size_t d = 1;
    while (d < w)
        d *= 2;
    if (d_out)
        *d_out = d;
    if (slots_out)
        *slots_out = 2 * d * (size_t)hp->batch_size;
    return CL_OK;
}

/* ------------------------------------------------------------- helpers */

/* Refresh v when an operation needing `need` levels could not run on it. */
static cl_status ensure_level(rl_he_td3 *ag, slots_vec *v, int need)
{
    return rl_he_ensure_level(ag->ctx, v, need);
}

/* Phase accounting: closing the open phase adds what it cost to its counters. */
static void phase_to(rl_he_td3 *ag, int phase)
{
    const slots_counters *now = slots_get_counters(ag->ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double t = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    if (ag->phase_open >= 0) {
        rl_he_counters_acc(&ag->stats.phase[ag->phase_open], &ag->phase_start, now);
        ag->stats.phase_seconds[ag->phase_open] += t - ag->phase_t0;
    }
    ag->phase_open = phase;
    ag->phase_start = *now;
    ag->phase_t0 = t;
}

static const char *const phase_names[RL_HE_TD3_PHASES] = {
    "target", "critic forward", "critic backward", "critic optimizer", "actor forward", "actor backward",
    "actor optimizer"};

const char *rl_he_td3_phase_name(int phase)
{
    return phase >= 0 && phase < RL_HE_TD3_PHASES ? phase_names[phase] : "?";
}

/* ------------------------------------------------------------- creation */

static cl_status init_weights(rl_he_td3 *ag)
{
    const size_t D = ag->D, S = ag->S;
    cl_status st = CL_OK;
    for (int n = 0; n < NNET && st == CL_OK; n++)
        for (int l = 0; l < NL && st == CL_OK; l++) {
            const size_t in = ag->in[n][l], out = ag->out[n][l], c0 = ag->col0[n][l];
            double *W = calloc(in * out, sizeof *W);
            if (!W)
                return CL_ERR_NOMEM;
            const double a = 1.0 / sqrt((double)(in - c0)); /* PyTorch's nn.Linear: uniform(+-1/sqrt(fan_in)) */
            for (size_t i = 0; i < out; i++)
                for (size_t j = c0; j < in; j++)
                    W[i * in + j] = rl_rng_range(&ag->rng_owner, -a, a);
            for (size_t k = 0; k < D && st == CL_OK; k++) {
                nn_pack_diagonal(&ag->lay, W, out, in, false, k, ag->buf);
                if ((st = slots_encrypt(ag->owner, ag->buf, S, ag->w[n][l][k])) != CL_OK)
                    break;
                nn_pack_diagonal(&ag->lay, W, out, in, true, k, ag->buf);
                st = slots_encrypt(ag->owner, ag->buf, S, ag->w[n][l][D + k]);
            }
            memset(ag->buf, 0, S * sizeof *ag->buf);
            for (size_t j = 0; j < out; j++) {
                const double b = rl_rng_range(&ag->rng_owner, -a, a);
                for (size_t blk = 0; blk < ag->B; blk++)
                    ag->buf[blk * 2 * D + j] = b;
            }
            if (st == CL_OK)
                st = slots_encrypt(ag->owner, ag->buf, S, ag->w[n][l][2 * D]);
            free(W);
            for (size_t t = 0; t < ag->T && st == CL_OK; t++)
                st = rl_he_optimizer_init(ag->ctx, ag->owner, ag->hp.optimizer, &ag->adam[n], ag->m[n][l][t],
                                          ag->r[n][l][t], ag->buf, S);
        }
    return st;
}

/* The targets start as copies of the online networks (diagonals and biases). */
static cl_status copy_targets(rl_he_td3 *ag)
{
    cl_status st = CL_OK;
    for (int n = 0; n < NNET; n++)
        for (int l = 0; l < NL; l++) {
            for (size_t k = 0; k < ag->D && st == CL_OK; k++)
                st = slots_copy(ag->ctx, ag->w[n][l][k], ag->tw[n][l][k]);
            if (st == CL_OK)
                st = slots_copy(ag->ctx, ag->w[n][l][2 * ag->D], ag->tw[n][l][2 * ag->D]);
        }
    return st;
}

cl_status rl_he_td3_create(const char *env_id, const rl_he_td3_hparams *hp, slots_ctx *ctx, slots_owner *owner,
                        uint64_t seed, rl_he_td3 **out)
{
    if (!env_id || !hp || !ctx || !owner || !out)
        return CL_ERR_INVALID;
    *out = NULL;
    size_t D, S;
    cl_status st = rl_he_td3_layout(env_id, hp, &D, &S);
    if (st != CL_OK)
        return st;
    if (slots_count(ctx) != S)
        return CL_ERR_PARAMS;
    if (slots_top_level(ctx) < nn_he_adam_depth())
        return CL_ERR_LEVEL;
    if (rl_he_td3_hp_check(hp, NULL, 0) != CL_OK)
        return CL_ERR_INVALID;
    if ((st = rl_he_optimizer_supported(ctx, hp->optimizer)) != CL_OK)
        return st; /* exact Adam: only the clear backend can evaluate 1/sqrt exactly */

    rl_he_td3 *ag = calloc(1, sizeof *ag);
    if (!ag)
        return CL_ERR_NOMEM;
    ag->hp = *hp;
    ag->ctx = ctx;
    ag->owner = owner;
    ag->D = D;
    ag->B = (size_t)hp->batch_size;
    ag->S = S;
    ag->P = 2 * D + 1;
    ag->T = D + 1;
    ag->lay.d = D;
    ag->lay.batch = ag->B;
    ag->phase_open = -1;
    for (int n = 0; n < NNET && st == CL_OK; n++) {
        ag->adam[n] = (nn_he_adam_config){.alpha = hp->learning_rate,
                                          .beta1 = hp->adam_beta1,
                                          .beta2 = hp->adam_beta2,
                                          .delta = n == ACTOR ? hp->actor_adam_delta : hp->adam_delta,
                                          .prior = n == ACTOR ? hp->actor_adam_prior : hp->adam_prior};
        st = nn_he_adam_check(&ag->adam[n]);
    }
    if (st != CL_OK)
        goto fail;
    if ((st = nn_abs_approx_make(hp->max_degree, hp->max_bound, &ag->mx)) != CL_OK)
        goto fail;
    ag->act = nn_relu_quadratic(hp->activation_bound);
    ag->act.c[0] = 0.0; /* p(0) = 0: padding stays zero; the next bias absorbs the shift */
    ag->dact = nn_poly_derivative(&ag->act);
    ag->sq = nn_squash_poly(hp->squash_degree, hp->squash_bound);
    ag->dsq = nn_poly_derivative(&ag->sq);
    ag->noise_scale = 1.0 / ag->sq.c[1]; /* f(u + n / f'(0)) ~ f(u) + n near u = 0 */
    if ((st = rl_env_create(env_id, &ag->env)) != CL_OK)
        goto fail;
    ag->spec = rl_env_get_spec(ag->env);
    ag->od = ag->spec->obs_dim;
    ag->ad = ag->spec->action_dim;
    const size_t H = (size_t)hp->net_arch, od = (size_t)ag->od, ad = (size_t)ag->ad;
    rl_he_obs_scale(ag->spec, hp->normalize_obs, ag->obs_scale);
    for (int n = 0; n < NNET; n++) {
        ag->in[n][0] = od + ad;
        ag->col0[n][0] = n == ACTOR ? ad : 0;
        ag->out[n][0] = ag->in[n][1] = ag->out[n][1] = ag->in[n][2] = H;
        ag->out[n][2] = n == ACTOR ? ad : 1;
    }
    rl_rng_seed(&ag->rng_owner, seed);
    rl_rng_seed(&ag->rng_env, seed ^ 0x5eed0e11ULL);
    rl_rng_seed(&ag->rng_sample, seed ^ 0x5a3b1e5ULL);
    rl_rng_seed(&ag->rng_platform, seed ^ 0x7d3a0b15eULL);

    ag->buf = calloc(S, sizeof *ag->buf);
    ag->plain = calloc(S, sizeof *ag->plain);
    ag->amask = calloc(S, sizeof *ag->amask);
    ag->nbuf = calloc(ag->B * ad, sizeof *ag->nbuf);
    if (!ag->buf || !ag->plain || !ag->amask || !ag->nbuf) {
        st = CL_ERR_NOMEM;
        goto fail;
    }
    for (size_t b = 0; b < ag->B; b++)
        for (size_t j = 0; j < ad; j++)
            ag->amask[b * 2 * D + j] = 1.0; /* the action slots */

    for (int n = 0; n < NNET && st == CL_OK; n++)
        for (int l = 0; l < NL && st == CL_OK; l++) {
            if ((st = rl_he_vecs_create(ctx, &ag->w[n][l], ag->P)) != CL_OK ||
                (st = rl_he_vecs_create(ctx, &ag->m[n][l], ag->T)) != CL_OK ||
                (st = rl_he_vecs_create(ctx, &ag->r[n][l], ag->T)) != CL_OK ||
                (st = rl_he_vecs_create(ctx, &ag->g[n][l], ag->T)) != CL_OK ||
                (st = rl_he_vecs_create(ctx, &ag->crot[n][l], D)) != CL_OK ||
                (st = slots_vec_create(ctx, &ag->cx[n][l])) != CL_OK)
                break;
            /* target: diagonals and bias only (it never runs backward) */
            if (!(ag->tw[n][l] = calloc(ag->P, sizeof *ag->tw[n][l]))) {
                st = CL_ERR_NOMEM;
                break;
            }
            for (size_t k = 0; k < D && st == CL_OK; k++)
                st = slots_vec_create(ctx, &ag->tw[n][l][k]);
            if (st == CL_OK)
                st = slots_vec_create(ctx, &ag->tw[n][l][2 * D]);
            if (st == CL_OK && l < NL - 1)
                st = slots_vec_create(ctx, &ag->cz[n][l]);
        }
    slots_vec **one[] = {&ag->u,  &ag->a,  &ag->y,  &ag->mn, &ag->q1, &ag->q2, &ag->sb,
                         &ag->t0, &ag->t1, &ag->t2, &ag->t3, &ag->xd, &ag->dq, &ag->dh};
    for (size_t i = 0; i < sizeof one / sizeof one[0] && st == CL_OK; i++)
        st = slots_vec_create(ctx, one[i]);
    if (st != CL_OK)
        goto fail;

    if ((st = rl_he_replay_init(&ag->rb, ctx, ag->B, 2 * D, hp->buffer_size, REPLAY_LEVEL)) != CL_OK)
        goto fail;
    for (int k = 0; k < RL_HE_REPLAY_KINDS && st == CL_OK; k++)
        st = slots_vec_create(ctx, &ag->tr[k]);
    if (st != CL_OK)
        goto fail;

    if ((st = init_weights(ag)) != CL_OK || (st = copy_targets(ag)) != CL_OK)
        goto fail;
    *out = ag;
    return CL_OK;
fail:
    rl_he_td3_free(ag);
    return st;
}

void rl_he_td3_free(rl_he_td3 *ag)
{
    if (!ag)
        return;
    for (int n = 0; n < NNET; n++)
        for (int l = 0; l < NL; l++) {
            rl_he_vecs_free(ag->w[n][l], ag->P);
            rl_he_vecs_free(ag->m[n][l], ag->T);
            rl_he_vecs_free(ag->r[n][l], ag->T);
            rl_he_vecs_free(ag->g[n][l], ag->T);
            rl_he_vecs_free(ag->tw[n][l], ag->P);
            rl_he_vecs_free(ag->crot[n][l], ag->D);
            slots_vec_free(ag->cx[n][l]);
            if (l < NL - 1)
                slots_vec_free(ag->cz[n][l]);
        }
    slots_vec *one[] = {ag->u,  ag->a,  ag->y,  ag->mn, ag->q1, ag->q2, ag->sb,
                        ag->t0, ag->t1, ag->t2, ag->t3, ag->xd, ag->dq, ag->dh};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        slots_vec_free(one[i]);
    rl_he_replay_free(&ag->rb);
    for (int k = 0; k < RL_HE_REPLAY_KINDS; k++)
        slots_vec_free(ag->tr[k]);
    rl_env_free(ag->env);
    free(ag->actions);
    free(ag->buf);
    free(ag->plain);
    free(ag->amask);
    free(ag->nbuf);
    free(ag);
}

/* ------------------------------------------------------------- platform side */

/* Forward pass of a network with parameters p from the single input x (x may
 * be refreshed; it must not be t0, t1 or xd). With cache >= 0, the
 * pre-activations go to cz[cache][.], and with rot also each layer's single
 * input to cx[cache][.] and the rotations of its doubled input to
 * crot[cache][.] (what the weight gradients need). hidden_only stops after
 * the second pre-activation (out unused). Output (single) in out. */
static cl_status forward(rl_he_td3 *ag, slots_vec **const p[NL], slots_vec *x, int cache, bool rot, bool hidden_only,
                         slots_vec *out)
{
    cl_status st = CL_OK;
    const size_t D = ag->D;
    const int pd = nn_poly_depth(&ag->act);
    slots_vec *cur = x;
    for (int l = 0; l < NL && st == CL_OK; l++) {
        nn_dense_slots layer = {.diag = p[l], .tdiag = NULL, .bias = p[l][2 * D]};
        for (size_t k = 0; k < D && st == CL_OK; k++)
            st = ensure_level(ag, p[l][k], 1);
        if (st != CL_OK || (st = ensure_level(ag, cur, 1)) != CL_OK)
            break;
        /* the bias joins the product's level: keep it there rather than drag the sum down */
        int lvl = slots_level(cur);
        for (size_t k = 0; k < D; k++)
            if (slots_level(p[l][k]) < lvl)
                lvl = slots_level(p[l][k]);
        if ((st = ensure_level(ag, p[l][2 * D], lvl - 1)) != CL_OK)
            break;
        const bool keep = cache >= 0 && rot;
        if (keep && (st = slots_copy(ag->ctx, cur, ag->cx[cache][l])) != CL_OK)
            break;
        if ((st = nn_double_slots(ag->ctx, &ag->lay, cur, ag->xd)) != CL_OK)
            break;
        slots_vec *zo = (l == NL - 1) ? out : (cache >= 0 ? ag->cz[cache][l] : ag->t0);
        if ((st = nn_dense_forward_slots(ag->ctx, &ag->lay, &layer, ag->xd, keep ? ag->crot[cache][l] : NULL, zo)) !=
            CL_OK)
            break;
        if (l == NL - 1 || (hidden_only && l == NL - 2))
            break;
        if ((st = ensure_level(ag, zo, pd)) != CL_OK)
            break;
        st = nn_poly_eval_slots(ag->ctx, &ag->act, zo, ag->t1);
        cur = ag->t1;
    }
    return st;
}

/* out = f(u) (the actor's squash); u may be refreshed. */
static cl_status squash(rl_he_td3 *ag, slots_vec *u, slots_vec *out)
{
    cl_status st = ensure_level(ag, u, nn_poly_depth(&ag->sq));
    return st != CL_OK ? st : nn_poly_eval_slots(ag->ctx, &ag->sq, u, out);
}

/* out = W^T dy (single) from the transposed diagonals tdiag; dy may be refreshed. */
static cl_status dense_transposed(rl_he_td3 *ag, slots_vec **tdiag, slots_vec *dy, slots_vec *out)
{
    cl_status st = CL_OK;
    for (size_t k = 0; k < ag->D && st == CL_OK; k++)
        st = ensure_level(ag, tdiag[k], 1);
    if (st != CL_OK || (st = ensure_level(ag, dy, 1)) != CL_OK ||
        (st = nn_double_slots(ag->ctx, &ag->lay, dy, ag->xd)) != CL_OK)
        return st;
    nn_dense_slots t = {.diag = tdiag, .tdiag = NULL, .bias = NULL};
    return nn_dense_forward_slots(ag->ctx, &ag->lay, &t, ag->xd, NULL, out);
}

/* Backpropagation through network n from dy = ag->dq (consumed) of its last
 * layer, with the caches of its forward pass: the weight gradients go to g[n]. */
static cl_status backprop(rl_he_td3 *ag, int n)
{
    const size_t D = ag->D;
    cl_status st = CL_OK;
    for (int l = NL - 1; l >= 0; l--) {
        nn_dense_slots layer = {.diag = ag->w[n][l], .tdiag = ag->w[n][l] + D, .bias = ag->w[n][l][2 * D]};
        for (size_t k = 0; k < D && l > 0 && st == CL_OK; k++)
            st = ensure_level(ag, ag->w[n][l][D + k], 1);
        if (st != CL_OK || (st = ensure_level(ag, ag->dq, 1)) != CL_OK)
            return st;
        /* the transposed sets are rebuilt after the update (adam_net), not
         * differentiated */
        if ((st = nn_dense_backward_slots(ag->ctx, &ag->lay, &layer, ag->cx[n][l], ag->crot[n][l], ag->dq,
                                          l > 0 ? ag->dh : NULL, ag->g[n][l], NULL, ag->g[n][l][D])) != CL_OK)
            return st;
        if (l == 0)
            break;
        if ((st = ensure_level(ag, ag->cz[n][l - 1], nn_poly_depth(&ag->dact))) != CL_OK ||
            (st = nn_poly_eval_slots(ag->ctx, &ag->dact, ag->cz[n][l - 1], ag->t0)) != CL_OK ||
            (st = ensure_level(ag, ag->dh, 1)) != CL_OK || (st = ensure_level(ag, ag->t0, 1)) != CL_OK ||
            (st = slots_mul(ag->ctx, ag->dh, ag->t0, ag->dq)) != CL_OK)
            return st;
    }
    ag->trained[n] = true;
    return st;
}

/* The optimizer (HE-compatible Adam by default) on the diagonals and biases
 * of network n, at step t; then its transposed diagonals, rebuilt from the
 * diagonals (nn_dense_transpose_slots), except the actor's first set, which
 * nothing uses (no gradient with respect to the state); the critics' first
 * set carries dQ/da to the actor. */
static cl_status adam_net(rl_he_td3 *ag, int n, long t)
{
    cl_status st = CL_OK;
    for (int l = 0; l < NL && st == CL_OK; l++)
        for (size_t k = 0; k < ag->T && st == CL_OK; k++) /* diagonal k, then (k = D) the bias */
            st = rl_he_optimizer_step(ag->ctx, ag->hp.optimizer, &ag->adam[n], t, ag->w[n][l][k < ag->D ? k : 2 * ag->D],
                                      ag->m[n][l][k], ag->r[n][l][k], ag->g[n][l][k], ag->t0, ag->t1);
    for (int l = (n == ACTOR); l < NL && st == CL_OK; l++) {
        for (size_t k = 1; k < ag->D && st == CL_OK; k++)
            st = ensure_level(ag, ag->w[n][l][k], 1);
        if (st == CL_OK)
            st = nn_dense_transpose_slots(ag->ctx, &ag->lay, ag->w[n][l], ag->w[n][l] + ag->D);
    }
    return st;
}

/* out = the selected mini-batch of one kind, times scale (rl_he_replay_batch: one level) */
static cl_status batch_of(rl_he_td3 *ag, rl_he_replay_kind kind, double scale, slots_vec *out)
{
    return rl_he_replay_batch(&ag->rb, ag->ctx, kind, scale, out);
}

/* y = rho R + gamma (1 - done) min(Q1'(s', a~), Q2'(s', a~)), a~ = f(u'(s') + public noise). */
static cl_status phase_target(rl_he_td3 *ag, const double *noise)
{
    slots_ctx *ctx = ag->ctx;
    const size_t D = ag->D, ad = (size_t)ag->ad;
    cl_status st;
    slots_vec **ta[NL] = {ag->tw[ACTOR][0], ag->tw[ACTOR][1], ag->tw[ACTOR][2]};
    slots_vec **tc1[NL] = {ag->tw[1][0], ag->tw[1][1], ag->tw[1][2]};
    slots_vec **tc2[NL] = {ag->tw[2][0], ag->tw[2][1], ag->tw[2][2]};
    if ((st = batch_of(ag, RL_HE_REPLAY_NEXT, 1.0, ag->t2)) != CL_OK || (st = forward(ag, ta, ag->t2, -1, false, false, ag->u)) != CL_OK)
        return st;
    /* target policy smoothing: public noise, added before the squash keeps a~ in [-1, 1] */
    memset(ag->plain, 0, ag->S * sizeof *ag->plain);
    for (size_t b = 0; b < ag->B; b++)
        for (size_t j = 0; j < ad; j++)
            ag->plain[b * 2 * D + j] = noise[b * ad + j] * ag->noise_scale;
    if ((st = slots_add_plain(ctx, ag->u, ag->plain, ag->u)) != CL_OK || (st = squash(ag, ag->u, ag->a)) != CL_OK ||
        (st = slots_add(ctx, ag->a, ag->t2, ag->t3)) != CL_OK)
        return st;
    if ((st = forward(ag, tc1, ag->t3, -1, false, false, ag->q1)) != CL_OK ||
        (st = forward(ag, tc2, ag->t3, -1, false, false, ag->q2)) != CL_OK)
        return st;
    /* min(q1, q2) = q1 + q2 - max(q1, q2) */
    const int need = nn_max2_depth(&ag->mx);
    if ((st = ensure_level(ag, ag->q1, need)) != CL_OK || (st = ensure_level(ag, ag->q2, need)) != CL_OK ||
        (st = nn_max2_slots(ctx, &ag->mx, ag->q1, ag->q2, ag->mn)) != CL_OK ||
        (st = slots_add(ctx, ag->q1, ag->q2, ag->t0)) != CL_OK || (st = slots_sub(ctx, ag->t0, ag->mn, ag->mn)) != CL_OK)
        return st;
    /* gamma (1 - done) is zero off slot 0 of each block: it also clears the minimum's garbage there */
    if ((st = batch_of(ag, RL_HE_REPLAY_DONE, ag->hp.gamma, ag->t1)) != CL_OK ||
        (st = ensure_level(ag, ag->mn, 1)) != CL_OK || (st = ensure_level(ag, ag->t1, 1)) != CL_OK ||
        (st = slots_mul(ctx, ag->mn, ag->t1, ag->y)) != CL_OK ||
        (st = batch_of(ag, RL_HE_REPLAY_REW, ag->hp.reward_scale, ag->t1)) != CL_OK)
        return st;
    return slots_add(ctx, ag->y, ag->t1, ag->y);
}

static void draw_noise(rl_he_td3 *ag)
{
    const double c = ag->hp.target_noise_clip, s = ag->hp.target_policy_noise;
    for (size_t i = 0; i < ag->B * (size_t)ag->ad; i++) {
        double n = s * rl_rng_normal(&ag->rng_platform);
        ag->nbuf[i] = n < -c ? -c : n > c ? c : n;
    }
}

/* One training step on the batch rl_he_replay_select chose. */
static cl_status train_step(rl_he_td3 *ag, const double *noise, bool update_actor)
{
    slots_ctx *ctx = ag->ctx;
    const size_t D = ag->D;
    cl_status st;
    slots_vec **on[NNET][NL];
    for (int n = 0; n < NNET; n++)
        for (int l = 0; l < NL; l++)
            on[n][l] = ag->w[n][l];

    phase_to(ag, RL_HE_TD3_PHASE_TARGET);
    if (!noise) {
        draw_noise(ag);
        noise = ag->nbuf;
    }
    if ((st = phase_target(ag, noise)) != CL_OK)
        return st;

    /* online critics on (a, s) with caches */
    phase_to(ag, RL_HE_TD3_PHASE_CRITIC_FORWARD);
    if ((st = batch_of(ag, RL_HE_REPLAY_S, 1.0, ag->sb)) != CL_OK || (st = batch_of(ag, RL_HE_REPLAY_ACT, 1.0, ag->t2)) != CL_OK ||
        (st = slots_add(ctx, ag->t2, ag->sb, ag->t2)) != CL_OK ||
        (st = forward(ag, on[1], ag->t2, 1, true, false, ag->q1)) != CL_OK ||
        (st = forward(ag, on[2], ag->t2, 2, true, false, ag->q2)) != CL_OK)
        return st;

    /* dQ_i = 2 (Q_i - y) / B (Q and y vanish off slot 0), then backpropagation */
    phase_to(ag, RL_HE_TD3_PHASE_CRITIC_BACKWARD);
    for (int c = 1; c <= 2; c++) {
        if ((st = slots_sub(ctx, c == 1 ? ag->q1 : ag->q2, ag->y, ag->dq)) != CL_OK ||
            (st = ensure_level(ag, ag->dq, 1)) != CL_OK ||
            (st = slots_mul_const(ctx, ag->dq, 2.0 / (double)ag->B, ag->dq)) != CL_OK || (st = backprop(ag, c)) != CL_OK)
            return st;
    }
    phase_to(ag, RL_HE_TD3_PHASE_CRITIC_OPTIMIZER);
    const long tc = (long)ag->stats.train_steps + 1;
    if ((st = adam_net(ag, 1, tc)) != CL_OK || (st = adam_net(ag, 2, tc)) != CL_OK)
        return st;
    ag->stats.train_steps++;
    if (!update_actor) {
        phase_to(ag, -1);
        return CL_OK;
    }

    /* actor: maximize mean Q1(s, f(u(s))) with the critic just updated */
    phase_to(ag, RL_HE_TD3_PHASE_ACTOR_FORWARD);
    if ((st = forward(ag, on[ACTOR], ag->sb, ACTOR, true, false, ag->u)) != CL_OK ||
        (st = squash(ag, ag->u, ag->a)) != CL_OK || (st = slots_add(ctx, ag->a, ag->sb, ag->t2)) != CL_OK ||
        (st = forward(ag, on[1], ag->t2, 1, false, true, NULL)) != CL_OK)
        return st;

    /* d(-mean Q1)/d(input) through critic 1: the output gradient -1/B at slot 0 is public */
    phase_to(ag, RL_HE_TD3_PHASE_ACTOR_BACKWARD);
    slots_vec **td2 = ag->w[1][2] + D;
    for (size_t k = 0; k < D && st == CL_OK; k++) {
        /* rot(dy doubled, k) at slot j < D is dy[(j + k) mod D]: nonzero where (j + k) mod D = 0 */
        memset(ag->plain, 0, ag->S * sizeof *ag->plain);
        for (size_t b = 0; b < ag->B; b++)
            ag->plain[b * 2 * D + (D - k) % D] = -1.0 / (double)ag->B;
        if ((st = ensure_level(ag, td2[k], 1)) != CL_OK ||
            (st = slots_mul_plain(ctx, td2[k], ag->plain, k == 0 ? ag->dh : ag->t1)) != CL_OK)
            break;
        if (k > 0)
            st = slots_add(ctx, ag->dh, ag->t1, ag->dh);
    }
    for (int l = NL - 2; l >= 0 && st == CL_OK; l--) {
        if ((st = ensure_level(ag, ag->cz[1][l], nn_poly_depth(&ag->dact))) != CL_OK ||
            (st = nn_poly_eval_slots(ctx, &ag->dact, ag->cz[1][l], ag->t0)) != CL_OK ||
            (st = ensure_level(ag, ag->dh, 1)) != CL_OK || (st = ensure_level(ag, ag->t0, 1)) != CL_OK ||
            (st = slots_mul(ctx, ag->dh, ag->t0, ag->dq)) != CL_OK)
            break;
        st = dense_transposed(ag, ag->w[1][l] + D, ag->dq, ag->dh);
    }
    /* dy of the actor's output: dh at the action slots times f'(u) (masked: f'(0) != 0) */
    if (st != CL_OK || (st = ensure_level(ag, ag->u, nn_poly_depth(&ag->dsq))) != CL_OK ||
        (st = nn_poly_eval_slots(ctx, &ag->dsq, ag->u, ag->t0)) != CL_OK || (st = ensure_level(ag, ag->t0, 1)) != CL_OK ||
        (st = slots_mul_plain(ctx, ag->t0, ag->amask, ag->t0)) != CL_OK || (st = ensure_level(ag, ag->t0, 1)) != CL_OK ||
        (st = ensure_level(ag, ag->dh, 1)) != CL_OK || (st = slots_mul(ctx, ag->dh, ag->t0, ag->dq)) != CL_OK)
        return st;
    /* the squash penalty lambda mean((u/A)^4): + 4 lambda u^3 / (A^4 B) at the action slots */
    if (ag->hp.squash_penalty > 0) {
        const double A = ag->hp.squash_bound;
        for (size_t i = 0; i < ag->S; i++)
            ag->plain[i] = ag->amask[i] * 4.0 * ag->hp.squash_penalty / (A * A * A * A * (double)ag->B);
        if ((st = ensure_level(ag, ag->u, 2)) != CL_OK || (st = slots_mul(ctx, ag->u, ag->u, ag->t1)) != CL_OK ||
            (st = ensure_level(ag, ag->t1, 1)) != CL_OK || (st = slots_mul(ctx, ag->t1, ag->u, ag->t1)) != CL_OK ||
            (st = ensure_level(ag, ag->t1, 1)) != CL_OK || (st = slots_mul_plain(ctx, ag->t1, ag->plain, ag->t1)) != CL_OK ||
            (st = slots_add(ctx, ag->dq, ag->t1, ag->dq)) != CL_OK)
            return st;
    }
    if ((st = backprop(ag, ACTOR)) != CL_OK)
        return st;
    phase_to(ag, RL_HE_TD3_PHASE_ACTOR_OPTIMIZER);
    if ((st = adam_net(ag, ACTOR, (long)ag->stats.actor_updates + 1)) != CL_OK)
        return st;
    ag->stats.actor_updates++;
    phase_to(ag, -1);
    return CL_OK;
}

/* target <- target + tau (online - target) on every diagonal and bias: one level. */
static cl_status polyak(rl_he_td3 *ag)
{
    cl_status st = CL_OK;
    const size_t D = ag->D;
    for (int n = 0; n < NNET && st == CL_OK; n++)
        for (int l = 0; l < NL && st == CL_OK; l++)
            for (size_t p = 0; p <= D && st == CL_OK; p++) {
                const size_t i = p < D ? p : 2 * D;
                slots_vec *t = ag->tw[n][l][i], *w = ag->w[n][l][i];
                if ((st = ensure_level(ag, t, 1)) != CL_OK || (st = ensure_level(ag, w, 1)) != CL_OK ||
                    (st = slots_sub(ag->ctx, w, t, ag->t0)) != CL_OK ||
                    (st = slots_mul_const(ag->ctx, ag->t0, ag->hp.tau, ag->t0)) != CL_OK)
                    break;
                st = slots_add(ag->ctx, t, ag->t0, t);
            }
    return st;
}

cl_status rl_he_td3_train_on(rl_he_td3 *ag, const size_t *idx, const double *noise, bool update_actor)
{
    if (!ag || !idx)
        return CL_ERR_INVALID;
    if (!rl_he_replay_select(&ag->rb, idx))
        return CL_ERR_INVALID;
    slots_counters before = *slots_get_counters(ag->ctx);
    cl_status st = train_step(ag, noise, update_actor);
    if (st != CL_OK)
        phase_to(ag, -1);
    rl_he_counters_acc(&ag->stats.train, &before, slots_get_counters(ag->ctx));
    if (st == CL_OK && update_actor) {
        before = *slots_get_counters(ag->ctx);
        st = polyak(ag);
        rl_he_counters_acc(&ag->stats.target, &before, slots_get_counters(ag->ctx));
    }
    return st;
}

/* ------------------------------------------------------------- owner side */

cl_status rl_he_td3_store(rl_he_td3 *ag, const double *obs, const double *action, double reward, const double *next_obs,
                       bool terminated)
{
    if (!ag || !obs || !action || !next_obs)
        return CL_ERR_INVALID;
    const size_t S = ag->S, off = (ag->rb.pos % ag->B) * 2 * ag->D, od = (size_t)ag->od, ad = (size_t)ag->ad;
    double *v = ag->buf;
    cl_status st;
    memset(v, 0, S * sizeof *v);
    for (size_t j = 0; j < od; j++)
        v[off + ad + j] = obs[j] * ag->obs_scale[j];
    if ((st = slots_encrypt(ag->owner, v, S, ag->tr[RL_HE_REPLAY_S])) != CL_OK)
        return st;
    for (size_t j = 0; j < od; j++)
        v[off + ad + j] = next_obs[j] * ag->obs_scale[j];
    if ((st = slots_encrypt(ag->owner, v, S, ag->tr[RL_HE_REPLAY_NEXT])) != CL_OK)
        return st;
    memset(v + off + ad, 0, od * sizeof *v);
    memcpy(v + off, action, ad * sizeof *v);
    if ((st = slots_encrypt(ag->owner, v, S, ag->tr[RL_HE_REPLAY_ACT])) != CL_OK)
        return st;
    memset(v + off, 0, ad * sizeof *v);
    v[off] = reward;
    if ((st = slots_encrypt(ag->owner, v, S, ag->tr[RL_HE_REPLAY_REW])) != CL_OK)
        return st;
    v[off] = terminated ? 0.0 : 1.0;
    if ((st = slots_encrypt(ag->owner, v, S, ag->tr[RL_HE_REPLAY_DONE])) != CL_OK)
        return st;
    return rl_he_replay_put(&ag->rb, ag->ctx, ag->tr); /* the platform's side */
}

/* The owner encrypts obs (batch position 0), the platform runs the actor and
 * its squash, the owner decrypts the action on the [-1, 1] scale (unclipped). */
static cl_status actor_output(rl_he_td3 *ag, const double *obs, double *a)
{
    slots_counters before = *slots_get_counters(ag->ctx);
    double *v = ag->buf;
    memset(v, 0, ag->S * sizeof *v);
    for (int j = 0; j < ag->od; j++)
        v[ag->ad + j] = obs[j] * ag->obs_scale[j];
    slots_vec **on[NL] = {ag->w[ACTOR][0], ag->w[ACTOR][1], ag->w[ACTOR][2]};
    cl_status st = slots_encrypt(ag->owner, v, ag->S, ag->t2);
    if (st == CL_OK)
        st = forward(ag, on, ag->t2, -1, false, false, ag->u);
    if (st == CL_OK)
        st = squash(ag, ag->u, ag->a);
    if (st == CL_OK)
        st = slots_decrypt(ag->owner, ag->a, v, (size_t)ag->ad);
    rl_he_counters_acc(&ag->stats.act, &before, slots_get_counters(ag->ctx));
    if (st != CL_OK)
        return st;
    for (int j = 0; j < ag->ad; j++)
        if (!isfinite(v[j]))
            return CL_ERR_DIVERGED;
    memcpy(a, v, (size_t)ag->ad * sizeof *a);
    ag->stats.actor_calls++;
    return CL_OK;
}

cl_status rl_he_td3_act(rl_he_td3 *ag, const double *obs, double *action)
{
    if (!ag || !obs || !action)
        return CL_ERR_INVALID;
    double a[RL_MAX_ACT];
    cl_status st = actor_output(ag, obs, a);
    if (st == CL_OK)
        rl_env_unscale_action(ag->spec, a, action);
    return st;
}

static cl_status sample_and_train(rl_he_td3 *ag)
{
    size_t idx[64], *ip = ag->B <= 64 ? idx : malloc(ag->B * sizeof *ip);
    if (!ip)
        return CL_ERR_NOMEM;
    rl_he_replay_sample(&ag->rb, &ag->rng_sample, ip);
    const bool actor = (ag->stats.train_steps + 1) % ag->hp.policy_delay == 0;
    cl_status st = rl_he_td3_train_on(ag, ip, NULL, actor);
    if (ip != idx)
        free(ip);
    return st;
}

cl_status rl_he_td3_train_sampled(rl_he_td3 *ag)
{
    if (!ag)
        return CL_ERR_INVALID;
    if (ag->rb.stored < ag->B)
        return CL_ERR_STATE;
    return sample_and_train(ag);
}

cl_status rl_he_td3_learn(rl_he_td3 *ag, int64_t n_steps, rl_he_td3_episode_fn cb, void *user)
{
    if (!ag || n_steps < 0)
        return CL_ERR_INVALID;
    const rl_he_td3_hparams *hp = &ag->hp;
    const int ad = ag->ad;
    if (!ag->started) {
        rl_env_reset(ag->env, &ag->rng_env, ag->obs);
        memset(ag->ou, 0, sizeof ag->ou);
        ag->ep_ret = 0;
        ag->ep_len = 0;
        ag->started = true;
    }
    cl_status st = CL_OK;
    for (int64_t i = 0; i < n_steps && st == CL_OK; i++) {
        /* owner: uniform before learning_starts, else the decrypted actor; plus noise, clipped */
        double scaled[RL_MAX_ACT], env_action[RL_MAX_ACT];
        if (ag->stats.env_steps < hp->learning_starts) {
            for (int j = 0; j < ad; j++)
                scaled[j] = rl_rng_range(&ag->rng_owner, -1.0, 1.0);
        } else if ((st = actor_output(ag, ag->obs, scaled)) != CL_OK) {
            break;
        }
        for (int j = 0; j < ad; j++) {
            double n = 0;
            if (hp->noise_type == RL_HE_TD3_NOISE_NORMAL) {
                n = hp->noise_std * rl_rng_normal(&ag->rng_owner);
            } else if (hp->noise_type == RL_HE_TD3_NOISE_OU) {
                ag->ou[j] += OU_THETA * (0.0 - ag->ou[j]) * OU_DT + hp->noise_std * sqrt(OU_DT) * rl_rng_normal(&ag->rng_owner);
                n = ag->ou[j];
            }
            const double v = scaled[j] + n;
            scaled[j] = v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v;
        }
        rl_env_unscale_action(ag->spec, scaled, env_action);
        if ((size_t)(ag->stats.env_steps + 1) * (size_t)ad > ag->actions_cap) {
            size_t nc = ag->actions_cap ? 2 * ag->actions_cap : 1024 * (size_t)ad;
            double *na = realloc(ag->actions, nc * sizeof *na);
            if (!na)
                return CL_ERR_NOMEM;
            ag->actions = na;
            ag->actions_cap = nc;
        }
        memcpy(ag->actions + (size_t)ag->stats.env_steps * (size_t)ad, env_action, (size_t)ad * sizeof *env_action);
        double next[RL_MAX_OBS], reward;
        bool term, trunc;
        if ((st = rl_env_step(ag->env, env_action, next, &reward, &term, &trunc)) != CL_OK)
            break;
        /* a time-limit truncation still bootstraps (SB3's handle_timeout_termination) */
        if ((st = rl_he_td3_store(ag, ag->obs, scaled, reward, next, term)) != CL_OK)
            break;
        ag->stats.env_steps++;
        ag->ep_ret += reward;
        ag->ep_len++;
        if (term || trunc) {
            ag->stats.episodes++;
            if (cb)
                cb(user, ag->stats.env_steps, ag->ep_ret, ag->ep_len);
            rl_env_reset(ag->env, &ag->rng_env, ag->obs);
            memset(ag->ou, 0, sizeof ag->ou); /* SB3 resets the noise process at episode ends */
            ag->ep_ret = 0;
            ag->ep_len = 0;
        } else {
            memcpy(ag->obs, next, sizeof next);
        }
        /* platform: training phase (critic updates, delayed actor and target updates) */
        const int64_t n = ag->stats.env_steps;
        if (n > hp->learning_starts && n % hp->train_freq == 0) {
            const int64_t gs = hp->gradient_steps < 0 ? hp->train_freq : hp->gradient_steps;
            for (int64_t k = 0; k < gs && st == CL_OK; k++)
                st = sample_and_train(ag);
        }
    }
    return st;
}

cl_status rl_he_td3_evaluate(rl_he_td3 *ag, int episodes, uint64_t seed, double *returns)
{
    if (!ag || episodes < 0 || (episodes > 0 && !returns))
        return CL_ERR_INVALID;
    rl_env *env;
    cl_status st = rl_env_create(ag->spec->id, &env);
    if (st != CL_OK)
        return st;
    rl_rng rng;
    rl_rng_seed(&rng, seed);
    for (int e = 0; e < episodes && st == CL_OK; e++) {
        double obs[RL_MAX_OBS], ret = 0, reward, action[RL_MAX_ACT];
        bool term = false, trunc = false;
        rl_env_reset(env, &rng, obs);
        while (!term && !trunc && st == CL_OK) {
            if ((st = rl_he_td3_act(ag, obs, action)) != CL_OK)
                break;
            if ((st = rl_env_step(env, action, obs, &reward, &term, &trunc)) != CL_OK)
                break;
            ret += reward;
        }
        returns[e] = ret;
    }
    rl_env_free(env);
    return st;
}

/* ------------------------------------------------------------- inspection */

const rl_he_td3_stats *rl_he_td3_get_stats(const rl_he_td3 *ag)
{
    return ag ? &ag->stats : NULL;
}

const double *rl_he_td3_actions(const rl_he_td3 *ag)
{
    return ag ? ag->actions : NULL;
}

int rl_he_td3_action_dim(const rl_he_td3 *ag)
{
    return ag ? ag->ad : 0;
}

int rl_he_td3_layer_count(void)
{
    return NL;
}

cl_status rl_he_td3_layer_shape(const rl_he_td3 *ag, int net, int layer, size_t *in, size_t *out)
{
    if (!ag || net < 0 || net >= RL_HE_TD3_NETS || layer < 0 || layer >= NL)
        return CL_ERR_INVALID;
    const int n = net % NNET;
    if (in)
        *in = ag->in[n][layer] - ag->col0[n][layer];
    if (out)
        *out = ag->out[n][layer];
    return CL_OK;
}

/* Decrypt a set of diagonals into W (out x logical in), dropping structural zero columns. */
/* W from the D diagonals set[0..D-1] (transposed: set[D..2D-1]), b from bias. */
static cl_status unpack_set(rl_he_td3 *ag, slots_vec **set, const slots_vec *bias, int n, int layer, bool transposed,
                            double *W, double *b)
{
    const size_t in = ag->in[n][layer], out = ag->out[n][layer], c0 = ag->col0[n][layer], D = ag->D;
    double *full = calloc(in * out, sizeof *full);
    if (!full)
        return CL_ERR_NOMEM;
    cl_status st = CL_OK;
    for (size_t k = 0; k < D && st == CL_OK; k++)
        if ((st = slots_decrypt(ag->owner, set[(transposed ? D : 0) + k], ag->buf, ag->S)) == CL_OK)
            nn_unpack_diagonal(&ag->lay, ag->buf, out, in, transposed, k, full);
    if (st == CL_OK)
        for (size_t i = 0; i < out; i++)
            memcpy(W + i * (in - c0), full + i * in + c0, (in - c0) * sizeof *W);
    free(full);
    if (st == CL_OK && b && (st = slots_decrypt(ag->owner, bias, ag->buf, ag->S)) == CL_OK)
        memcpy(b, ag->buf, out * sizeof *b);
    return st;
}

cl_status rl_he_td3_get_weights(rl_he_td3 *ag, int net, int layer, bool transposed, double *W, double *b)
{
    if (!ag || net < 0 || net >= RL_HE_TD3_NETS || layer < 0 || layer >= NL || !W)
        return CL_ERR_INVALID;
    if (net >= NNET && transposed)
        return CL_ERR_INVALID; /* targets keep no transposed set */
    if (net == RL_HE_TD3_ACTOR && layer == 0 && transposed)
        return CL_ERR_UNSUPPORTED; /* not trained: see backprop */
    const int n = net % NNET;
    slots_vec **set = net >= NNET ? ag->tw[n][layer] : ag->w[n][layer];
    return unpack_set(ag, set, set[2 * ag->D], n, layer, transposed, W, b);
}

cl_status rl_he_td3_get_grads(rl_he_td3 *ag, int net, int layer, bool transposed, double *dW, double *db)
{
    if (!ag || net < 0 || net >= NNET || layer < 0 || layer >= NL || !dW)
        return CL_ERR_INVALID;
    if (transposed)
        return CL_ERR_UNSUPPORTED; /* the transposed sets are rebuilt, not differentiated */
    if (!ag->trained[net])
        return CL_ERR_STATE;
    return unpack_set(ag, ag->g[net][layer], ag->g[net][layer][ag->D], net, layer, transposed, dW, db);
}

void rl_he_td3_polys(const rl_he_td3 *ag, nn_poly *sq, nn_poly *act)
{
    if (!ag)
        return;
    if (sq)
        *sq = ag->sq;
    if (act)
        *act = ag->act;
}

double rl_he_td3_noise_scale(const rl_he_td3 *ag)
{
    return ag ? ag->noise_scale : 0.0;
}

/* ------------------------------------------------------------- census */

#define CENSUS_UPDATES 2

cl_status rl_he_td3_census_run(const char *env_id, const rl_he_td3_hparams *hp, int levels, rl_he_td3_census *out)
{
    if (!env_id || !hp || !out || levels < 1)
        return CL_ERR_INVALID;
    memset(out, 0, sizeof *out);
    size_t D, S;
    cl_status st = rl_he_td3_layout(env_id, hp, &D, &S);
    if (st != CL_OK)
        return st;
    if (rl_he_td3_hp_check(hp, NULL, 0) != CL_OK)
        return CL_ERR_INVALID;
    /* the same networks and step, on a schedule that trains from the first batch */
    rl_he_td3_hparams h = *hp;
    h.buffer_size = h.batch_size;
    h.learning_starts = h.batch_size;
    h.train_freq = 1;
    h.gradient_steps = 1;
    slots_ctx *ctx;
    slots_owner *owner;
    slots_clear_config cfg = {.slots = S, .levels = levels};
    if ((st = slots_clear_create(&cfg, &ctx, &owner)) != CL_OK)
        return st;
    rl_he_td3 *ag = NULL;
    st = rl_he_td3_create(env_id, &h, ctx, owner, 1, &ag);
    /* warm up (the first steps refresh fresh encryptions differently), then count whole actor periods */
    rl_he_td3_stats s0;
    const int64_t warm = h.batch_size + 2 * h.policy_delay;
    if (st == CL_OK)
        st = rl_he_td3_learn(ag, warm, NULL, NULL);
    if (st == CL_OK) {
        s0 = ag->stats;
        st = rl_he_td3_learn(ag, (int64_t)CENSUS_UPDATES * h.policy_delay, NULL, NULL);
    }
    if (st == CL_OK) {
        const rl_he_td3_stats *s = &ag->stats;
        const int64_t nt = s->train_steps - s0.train_steps, na = s->actor_updates - s0.actor_updates,
                      nc = s->actor_calls - s0.actor_calls;
        if (nt < 1 || na < 1 || nc < 1) {
            st = CL_ERR_STATE;
        } else {
            out->slots = S;
            out->width = D;
            out->levels = levels;
            out->train_steps = nt;
            out->actor_updates = na;
            rl_he_counters_acc(&out->train_step, &s0.train, &s->train);
            rl_he_counters_acc(&out->act, &s0.act, &s->act);
            rl_he_counters_acc(&out->target, &s0.target, &s->target);
            for (int p = 0; p < RL_HE_TD3_PHASES; p++)
                rl_he_counters_acc(&out->phase[p], &s0.phase[p], &s->phase[p]);
            /* means: per training step, per actor call, per target update; actor phases per actor update */
            slots_counters *all[3 + RL_HE_TD3_PHASES];
            int64_t div[3 + RL_HE_TD3_PHASES];
            all[0] = &out->train_step, div[0] = nt;
            all[1] = &out->act, div[1] = nc;
            all[2] = &out->target, div[2] = na;
            for (int p = 0; p < RL_HE_TD3_PHASES; p++) {
                all[3 + p] = &out->phase[p];
                div[3 + p] = p >= RL_HE_TD3_PHASE_ACTOR_FORWARD ? na : nt;
            }
            for (int i = 0; i < 3 + RL_HE_TD3_PHASES; i++) {
                slots_counters *c = all[i];
                const uint64_t d = (uint64_t)div[i];
                c->mul = (c->mul + d / 2) / d;
                c->mul_plain = (c->mul_plain + d / 2) / d;
                c->mul_const = (c->mul_const + d / 2) / d;
                c->add = (c->add + d / 2) / d;
                c->rotate = (c->rotate + d / 2) / d;
                c->refresh = (c->refresh + d / 2) / d;
                c->encrypt = (c->encrypt + d / 2) / d;
                c->decrypt = (c->decrypt + d / 2) / d;
            }
            out->n_rot_steps = slots_rotation_steps(ctx, out->rot_steps, RL_HE_TD3_MAX_ROT_STEPS);
            if (out->n_rot_steps > RL_HE_TD3_MAX_ROT_STEPS)
                st = CL_ERR_UNSUPPORTED;
        }
    }
    rl_he_td3_free(ag);
    slots_owner_free(owner);
    slots_ctx_free(ctx);
    return st;
}

/* ------------------------------------------------------------- export */

cl_status rl_he_td3_export_actor(rl_he_td3 *ag, nn_mlp **out)
{
    if (!ag || !out)
        return CL_ERR_INVALID;
    *out = NULL;
    const int H = ag->hp.net_arch;
    const int hidden[2] = {H, H};
    nn_mlp *net;
    cl_status st = nn_mlp_create(ag->od, hidden, 2, ag->ad, NN_ACT_POLY2,
                                 ag->hp.squash_degree == 5 ? NN_ACT_SQUASH5 : NN_ACT_SQUASH3, &net);
    if (st != CL_OK)
        return st;
    /* the same p (x/2 + x^2/(2b), no constant) and f as ag->act and ag->sq */
    if ((st = nn_mlp_set_act_bound(net, ag->hp.activation_bound)) != CL_OK ||
        (st = nn_mlp_set_squash_bound(net, ag->hp.squash_bound)) != CL_OK) {
        nn_mlp_free(net);
        return st;
    }
    size_t maxw = 0;
    for (int l = 0; l < NL; l++)
        if ((size_t)net->sizes[l] * (size_t)net->sizes[l + 1] > maxw)
            maxw = (size_t)net->sizes[l] * (size_t)net->sizes[l + 1];
    double *W = malloc(maxw * sizeof *W);
    if (!W) {
        nn_mlp_free(net);
        return CL_ERR_NOMEM;
    }
    for (int l = 0; l < NL && st == CL_OK; l++) {
        const size_t in = (size_t)net->sizes[l], ou = (size_t)net->sizes[l + 1];
        double *Wl = net->params + net->w_off[l], *bl = net->params + net->b_off[l];
        /* W: out x in (the actor's first layer: obs_dim columns); the MLP keeps in x out, and takes raw
         * observations: the owner's normalization folds into the first layer */
        if ((st = rl_he_td3_get_weights(ag, RL_HE_TD3_ACTOR, l, false, W, bl)) != CL_OK)
            break;
        for (size_t i = 0; i < in; i++)
            for (size_t j = 0; j < ou; j++)
                Wl[i * ou + j] = W[j * in + i] * (l == 0 ? ag->obs_scale[i] : 1.0);
    }
    free(W);
    if (st != CL_OK) {
        nn_mlp_free(net);
        return st;
    }
    *out = net;
    return CL_OK;
}
