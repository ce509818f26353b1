/* HE-DQN on the slot machine (docs/he-dqn.md).
 *
 * Network obs_dim -> H -> H -> n_actions, packed dense layers of padded width D
 * (docs/he-dense.md), batch B, S = 2 D B slots. Activation p(x) = x/2 +
 * x^2/(2 b) (the ReLU quadratic without its constant: p(0) = 0 keeps padding
 * at zero), derivative 1/2 + x/b, both through nn_poly_eval_slots.
 *
 * Each layer's parameters are 2D + 1 slot vectors: D diagonals of W, D
 * diagonals of W^T, the bias. HE-Adam keeps m and r for each of them, and the
 * target network keeps copies of the diagonals and the bias only (it never
 * runs backward).
 *
 * Replay: transition i (ring position) lives in block (i mod B) of chunk
 * i / B: five slot vectors per chunk (state and next state single, one-hot
 * action, reward and (1 - done) over the action slots), each holding B
 * consecutive transitions, kept at level REPLAY_LEVEL. The owner encrypts a
 * transition in its block (the rest zero); the platform adds it into its
 * chunk (the first block of a chunk starts it afresh). A mini-batch takes one
 * transition per block: for each chunk drawn, one plaintext mask of the
 * blocks that drew it, then a sum: no rotation.
 *
 * Levels: every operation is preceded by ensure_level(v, need), which asks the
 * owner to refresh v when it has fewer levels than the operation consumes, so
 * the algorithm runs at any level budget >= nn_he_adam_depth(). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cipherl/nn.h"
#include "cipherl/rl.h"
#include "nn/nn_he.h"
#include "rl/he_common.h"
#include "rl/he_dqn.h"

#define NLAYERS 3
#define REPLAY_LEVEL 2 /* a mask product, then a dense product or a multiplication */

struct he_dqn {
    he_dqn_hparams hp;
    const rl_env_spec *spec;
    rl_env *env;
    slots_ctx *ctx;
    slots_owner *owner;
    nn_dense_layout lay;
    size_t D, B, S, P; /* P = 2D + 1 parameter vectors per layer */
    size_t in[NLAYERS], out[NLAYERS];
    int n_act;

    slots_vec **w[NLAYERS], **m[NLAYERS], **r[NLAYERS], **g[NLAYERS], **tw[NLAYERS];
    /* training caches: each layer's single input, its doubled input's rotations, pre-activations */
    slots_vec *x[NLAYERS], **rot[NLAYERS], *z[NLAYERS - 1];
    slots_vec *q, *y, *t0, *t1, *t2, *xd, *dq, *dh;

    /* replay */
    size_t cap, stored, pos;
    size_t chunks; /* cap / B */
    slots_vec **rs, **rn, **ra, **rr, **rd; /* chunks vectors each */
    size_t *pick;  /* B scratch: the chunk each block drew */
    slots_vec **tmp_store;

    nn_poly act, dact;
    nn_abs_approx mx;
    nn_he_adam_config adam;
    rl_rng rng_owner, rng_env, rng_sample;

    double obs[RL_MAX_OBS];
    double ep_ret;
    int ep_len;
    bool started;
    int64_t total_timesteps;
    int *actions;
    size_t actions_cap;

    he_dqn_stats stats;
    int phase_open; /* the phase being counted, or -1 */
    slots_counters phase_start;
    double phase_t0;
    double *buf, *mask, *mask2;
};

void he_dqn_hparams_default(he_dqn_hparams *hp)
{
    memset(hp, 0, sizeof *hp);
    hp->n_timesteps = 50000;
    hp->learning_rate = 2.3e-3;
    hp->buffer_size = 10000;
    hp->learning_starts = 1000;
    hp->batch_size = 32;
    hp->gamma = 0.99;
    hp->train_freq = 4;
    hp->gradient_steps = 1;
    hp->target_update_interval = 250;
    hp->exploration_fraction = 0.16;
    hp->exploration_initial_eps = 1.0;
    hp->exploration_final_eps = 0.04;
    hp->net_arch = 16;
    hp->activation_bound = 4.0;
    hp->max_degree = 4;
    hp->max_bound = 16.0;
    hp->adam_beta1 = 0.9;
    hp->adam_beta2 = 0.999;
    hp->adam_delta = 0.1;
    hp->adam_prior = 0.1;
    hp->optimizer = HE_DQN_OPT_HE_ADAM;
    hp->reward_scale = 1.0;
}

cl_status he_dqn_hparams_for_env(const char *env_id, he_dqn_hparams *hp)
{
    if (!env_id || !hp)
        return CL_ERR_INVALID;
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec)
        return CL_ERR_INVALID;
    if (spec->action_kind != RL_ACTION_DISCRETE)
        return CL_ERR_UNSUPPORTED;
    he_dqn_hparams_default(hp);
    /* The RL Zoo's schedule for each task (n_timesteps, learning_rate, gamma,
     * exploration, target interval) with the HE-sized network, batch and
     * buffer of the CartPole set; first settings, see docs/he-dqn.md. */
    if (!strcmp(env_id, "CartPole-v1")) {
        /* The long-run set (docs/he-dqn.md, "Stability over long runs"): with
         * the defaults above every 50 000-step run diverged. beta2 0.9999
         * keeps HE-Adam's u = kappa (g^2 + delta) r^2 below 4/3, where its
         * Taylor factor turns from shrinking r to growing it; a slower target
         * and a linear learning-rate decay (public constants) keep the
         * learned policy. */
        hp->adam_beta2 = 0.9999;
        hp->target_update_interval = 1000;
        hp->learning_rate_decay = 0.99;
    } else if (!strcmp(env_id, "Acrobot-v1")) {
        hp->n_timesteps = 100000;
        hp->learning_rate = 6.3e-4;
        hp->learning_starts = 1000;
        hp->exploration_fraction = 0.12;
        hp->exploration_final_eps = 0.1;
        hp->target_update_interval = 250;
        hp->activation_bound = 8.0; /* angular velocities reach 4 pi and 9 pi */
    } else if (!strcmp(env_id, "MountainCar-v0")) {
        hp->n_timesteps = 120000;
        hp->learning_rate = 4e-3;
        hp->gamma = 0.98;
        hp->train_freq = 16;
        hp->gradient_steps = 8;
        hp->exploration_fraction = 0.2;
        hp->exploration_final_eps = 0.07;
        hp->target_update_interval = 600;
    }
    return CL_OK;
}

/* ------------------------------------------------------------- hyperparameters by name */

static const char *const opt_names[] = {"he_adam", "sgd", "adam"};
#define HOFF(f) offsetof(he_dqn_hparams, f)
static const rl_he_field hfields[] = {
    {"n_timesteps", RL_HE_INT64, HOFF(n_timesteps), 1, 1e12, 0, NULL, 0},
    {"learning_rate", RL_HE_REAL, HOFF(learning_rate), 0, 10, 1, NULL, 0},
    {"learning_rate_decay", RL_HE_REAL, HOFF(learning_rate_decay), 0, 0.999, 0, NULL, 0},
    {"buffer_size", RL_HE_INT64, HOFF(buffer_size), 1, 1e8, 0, NULL, 0},
    {"learning_starts", RL_HE_INT64, HOFF(learning_starts), 0, 1e12, 0, NULL, 0},
    {"batch_size", RL_HE_INT32, HOFF(batch_size), 1, 65536, 0, NULL, 0},
    {"gamma", RL_HE_REAL, HOFF(gamma), 0, 1, 0, NULL, 0},
    {"train_freq", RL_HE_INT64, HOFF(train_freq), 1, 1e9, 0, NULL, 0},
    {"gradient_steps", RL_HE_INT64, HOFF(gradient_steps), -1, 1e9, 0, NULL, 0},
    {"target_update_interval", RL_HE_INT64, HOFF(target_update_interval), 1, 1e12, 0, NULL, 0},
    {"exploration_fraction", RL_HE_REAL, HOFF(exploration_fraction), 0, 1, 0, NULL, 0},
    {"exploration_initial_eps", RL_HE_REAL, HOFF(exploration_initial_eps), 0, 1, 0, NULL, 0},
    {"exploration_final_eps", RL_HE_REAL, HOFF(exploration_final_eps), 0, 1, 0, NULL, 0},
    {"net_arch", RL_HE_ARCH, HOFF(net_arch), 1, 1024, 0, NULL, 0},
    {"activation_bound", RL_HE_REAL, HOFF(activation_bound), 0, 1e6, 1, NULL, 0},
    {"max_degree", RL_HE_INT32, HOFF(max_degree), 1, 12, 0, NULL, 0},
    {"max_bound", RL_HE_REAL, HOFF(max_bound), 0, 1e6, 1, NULL, 0},
    {"adam_beta1", RL_HE_REAL, HOFF(adam_beta1), 0, 1, 0, NULL, 0},
    {"adam_beta2", RL_HE_REAL, HOFF(adam_beta2), 0, 1, 1, NULL, 0},
    {"adam_delta", RL_HE_REAL, HOFF(adam_delta), 0, 1e6, 0, NULL, 0},
    {"adam_prior", RL_HE_REAL, HOFF(adam_prior), 0, 1e6, 1, NULL, 0},
    {"optimizer", RL_HE_ENUM, HOFF(optimizer), 0, 0, 0, opt_names, 3},
    {"reward_scale", RL_HE_REAL, HOFF(reward_scale), 0, 1e6, 1, NULL, 0},
};
#define N_HFIELDS (sizeof hfields / sizeof hfields[0])

_Static_assert(sizeof(he_dqn_optimizer) == sizeof(int), "enum fields are set as int");

cl_status he_dqn_hp_assign(he_dqn_hparams *hp, const char *assignment, char *err, size_t errlen)
{
    return rl_he_hp_assign(hp, hfields, N_HFIELDS, "HE-DQN", assignment, err, errlen);
}

cl_status he_dqn_hp_check(const he_dqn_hparams *hp, char *err, size_t errlen)
{
    if (!hp)
        return rl_he_fail(err, errlen, "no hyperparameters");
    if (hp->batch_size < 1 || !rl_he_pow2((size_t)hp->batch_size))
        return rl_he_fail(err, errlen, "batch_size %d is not a power of two (the packing needs one)", hp->batch_size);
    if (hp->buffer_size < hp->batch_size)
        return rl_he_fail(err, errlen, "buffer_size %lld is below batch_size %d", (long long)hp->buffer_size,
                     hp->batch_size);
    if (hp->learning_starts < hp->batch_size)
        return rl_he_fail(err, errlen, "learning_starts %lld is below batch_size %d (HE-DQN needs a full stratified batch)",
                     (long long)hp->learning_starts, hp->batch_size);
    if (hp->gradient_steps == 0 || hp->gradient_steps < -1)
        return rl_he_fail(err, errlen, "gradient_steps must be >= 1 or -1");
    if (hp->train_freq < 1 || hp->target_update_interval < 1 || hp->net_arch < 1)
        return rl_he_fail(err, errlen, "train_freq, target_update_interval and net_arch must be >= 1");
    if (!(hp->gamma >= 0 && hp->gamma <= 1) || !(hp->exploration_fraction >= 0) || !(hp->activation_bound > 0) ||
        !(hp->max_bound > 0) || hp->max_degree < 1)
        return rl_he_fail(err, errlen, "gamma, exploration_fraction, activation_bound, max_bound or max_degree out of range");
    if (!(hp->reward_scale > 0) || !isfinite(hp->reward_scale))
        return rl_he_fail(err, errlen, "reward_scale must be > 0");
    if (!(hp->learning_rate_decay >= 0 && hp->learning_rate_decay < 1))
        return rl_he_fail(err, errlen, "learning_rate_decay must be in [0, 1)");
    if ((unsigned)hp->optimizer > HE_DQN_OPT_ADAM)
        return rl_he_fail(err, errlen, "unknown optimizer");
    nn_he_adam_config c = {.alpha = hp->learning_rate, .beta1 = hp->adam_beta1, .beta2 = hp->adam_beta2,
                           .delta = hp->adam_delta, .prior = hp->adam_prior};
    if (nn_he_adam_check(&c) != CL_OK)
        return rl_he_fail(err, errlen, "the Adam settings (learning_rate, adam_beta1, adam_beta2, adam_delta, adam_prior) "
                                  "are out of range");
    return CL_OK;
}

void he_dqn_hp_format(const he_dqn_hparams *hp, char *buf, size_t cap)
{
    rl_he_hp_format(hp, hfields, N_HFIELDS, buf, cap);
}

cl_status he_dqn_layout(const char *env_id, const he_dqn_hparams *hp, size_t *d_out, size_t *slots_out)
{
    if (!env_id || !hp)
        return CL_ERR_INVALID;
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec)
        return CL_ERR_INVALID;
    if (spec->action_kind != RL_ACTION_DISCRETE)
        return CL_ERR_UNSUPPORTED;
    if (hp->net_arch < 1 || hp->batch_size < 1 || !rl_he_pow2((size_t)hp->batch_size))
        return CL_ERR_INVALID;
    size_t w = (size_t)spec->obs_dim;
    if ((size_t)hp->net_arch > w)
        w = (size_t)hp->net_arch;
    if ((size_t)spec->n_actions > w)
        w = (size_t)spec->n_actions;
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
static cl_status ensure_level(he_dqn *ag, slots_vec *v, int need)
{
    return rl_he_ensure_level(ag->ctx, v, need);
}

static nn_dense_slots layer_view(const he_dqn *ag, slots_vec **p)
{
    nn_dense_slots l = {.diag = p, .tdiag = p + ag->D, .bias = p[2 * ag->D]};
    return l;
}

/* ------------------------------------------------------------- optimizers */

#define EXACT_ADAM_EPS 1e-8 /* PyTorch's default */

/* 1 / (sqrt(v / (1 - beta2^t)) + eps); user points to 1 - beta2^t */
static double exact_adam_denominator(double v, void *user)
{
    const double c2 = user ? *(const double *)user : 1.0;
    return 1.0 / (sqrt(fmax(v, 0.0) / c2) + EXACT_ADAM_EPS);
}

/* The learning rate of the next training step: learning_rate, decayed
 * linearly with the public progress env_steps / n_timesteps. */
static double scheduled_lr(const he_dqn *ag)
{
    double progress = ag->total_timesteps > 0 ? (double)ag->stats.env_steps / (double)ag->total_timesteps : 0.0;
    if (progress > 1.0)
        progress = 1.0;
    return ag->hp.learning_rate * (1.0 - ag->hp.learning_rate_decay * progress);
}

/* theta -= lr * g: one level on g. */
static cl_status sgd_step(he_dqn *ag, slots_vec *theta, const slots_vec *g)
{
    cl_status st = slots_mul_const(ag->ctx, g, ag->adam.alpha, ag->t0);
    if (st == CL_OK)
        st = slots_sub(ag->ctx, theta, ag->t0, theta);
    return st;
}

/* Exact Adam (PyTorch's formulation; clear backend only): m and v start at 0;
 * m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
 * theta -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).
 * Levels: 2 on g, 1 on m and v, then one for m * den and one for the step. */
static cl_status exact_adam_step(he_dqn *ag, long t, slots_vec *theta, slots_vec *m, slots_vec *v, const slots_vec *g)
{
    slots_ctx *ctx = ag->ctx;
    const double b1 = ag->hp.adam_beta1, b2 = ag->hp.adam_beta2;
    double c2 = 1.0 - pow(b2, (double)t);
    const double alpha_t = ag->adam.alpha / (1.0 - pow(b1, (double)t));
    cl_status st = slots_mul_const(ctx, m, b1, m);
    if (st == CL_OK)
        st = slots_mul_const(ctx, g, 1.0 - b1, ag->t0);
    if (st == CL_OK)
        st = slots_add(ctx, m, ag->t0, m);
    if (st == CL_OK)
        st = slots_mul(ctx, g, g, ag->t0);
    if (st == CL_OK)
        st = slots_mul_const(ctx, ag->t0, 1.0 - b2, ag->t0);
    if (st == CL_OK)
        st = slots_mul_const(ctx, v, b2, v);
    if (st == CL_OK)
        st = slots_add(ctx, v, ag->t0, v);
    if (st == CL_OK)
        st = slots_clear_map(ctx, v, exact_adam_denominator, &c2, ag->t1);
    if (st == CL_OK)
        st = ensure_level(ag, m, 2);
    if (st == CL_OK)
        st = ensure_level(ag, ag->t1, 2);
    if (st == CL_OK)
        st = slots_mul(ctx, m, ag->t1, ag->t0);
    if (st == CL_OK)
        st = slots_mul_const(ctx, ag->t0, alpha_t, ag->t0);
    if (st == CL_OK)
        st = slots_sub(ctx, theta, ag->t0, theta);
    return st;
}

static cl_status optimizer_init(he_dqn *ag, slots_vec *m, slots_vec *r)
{
    if (ag->hp.optimizer == HE_DQN_OPT_HE_ADAM)
        return nn_he_adam_init_slots(&ag->adam, ag->ctx, ag->owner, m, r);
    if (ag->hp.optimizer == HE_DQN_OPT_SGD)
        return CL_OK;
    memset(ag->buf, 0, ag->S * sizeof *ag->buf);
    cl_status st = slots_encrypt(ag->owner, ag->buf, ag->S, m);
    return st == CL_OK ? slots_encrypt(ag->owner, ag->buf, ag->S, r) : st;
}

static cl_status optimizer_step(he_dqn *ag, long t, slots_vec *theta, slots_vec *m, slots_vec *r, slots_vec *g)
{
    cl_status st;
    switch (ag->hp.optimizer) {
    case HE_DQN_OPT_SGD:
        if ((st = ensure_level(ag, g, 1)) != CL_OK)
            return st;
        return sgd_step(ag, theta, g);
    case HE_DQN_OPT_ADAM:
        if ((st = ensure_level(ag, g, 3)) != CL_OK || (st = ensure_level(ag, m, 2)) != CL_OK ||
            (st = ensure_level(ag, r, 2)) != CL_OK)
            return st;
        return exact_adam_step(ag, t, theta, m, r, g);
    default: {
        const int ad = nn_he_adam_depth();
        if ((st = ensure_level(ag, g, ad)) != CL_OK || (st = ensure_level(ag, r, ad)) != CL_OK ||
            (st = ensure_level(ag, m, 3)) != CL_OK)
            return st;
        return nn_he_adam_step_slots(ag->ctx, &ag->adam, t, theta, m, r, g);
    }
    }
}

/* ------------------------------------------------------------- creation */

static cl_status init_weights(he_dqn *ag)
{
    const size_t D = ag->D, S = ag->S;
    cl_status st = CL_OK;
    for (int l = 0; l < NLAYERS && st == CL_OK; l++) {
        const size_t in = ag->in[l], out = ag->out[l];
        double *W = malloc(in * out * sizeof *W);
        if (!W)
            return CL_ERR_NOMEM;
        const double a = 1.0 / sqrt((double)in);
        for (size_t i = 0; i < in * out; i++)
            W[i] = rl_rng_range(&ag->rng_owner, -a, a);
        for (size_t k = 0; k < D && st == CL_OK; k++) {
            nn_pack_diagonal(&ag->lay, W, out, in, false, k, ag->buf);
            if ((st = slots_encrypt(ag->owner, ag->buf, S, ag->w[l][k])) != CL_OK)
                break;
            nn_pack_diagonal(&ag->lay, W, out, in, true, k, ag->buf);
            st = slots_encrypt(ag->owner, ag->buf, S, ag->w[l][D + k]);
        }
        memset(ag->buf, 0, S * sizeof *ag->buf);
        for (size_t j = 0; j < out; j++) {
            const double b = rl_rng_range(&ag->rng_owner, -a, a);
            for (size_t blk = 0; blk < ag->B; blk++)
                ag->buf[blk * 2 * D + j] = b;
        }
        if (st == CL_OK)
            st = slots_encrypt(ag->owner, ag->buf, S, ag->w[l][2 * D]);
        free(W);
        for (size_t p = 0; p < ag->P && st == CL_OK; p++)
            st = optimizer_init(ag, ag->m[l][p], ag->r[l][p]);
    }
    return st;
}

cl_status he_dqn_create(const char *env_id, const he_dqn_hparams *hp, slots_ctx *ctx, slots_owner *owner,
                        uint64_t seed, he_dqn **out)
{
    if (!env_id || !hp || !ctx || !owner || !out)
        return CL_ERR_INVALID;
    *out = NULL;
    size_t D, S;
    cl_status st = he_dqn_layout(env_id, hp, &D, &S);
    if (st != CL_OK)
        return st;
    if (slots_count(ctx) != S)
        return CL_ERR_PARAMS;
    if (slots_top_level(ctx) < nn_he_adam_depth())
        return CL_ERR_LEVEL;
    if (he_dqn_hp_check(hp, NULL, 0) != CL_OK)
        return CL_ERR_INVALID;
    if (hp->optimizer == HE_DQN_OPT_ADAM) {
        /* exact Adam: only the clear backend can evaluate 1/sqrt exactly */
        slots_vec *probe;
        if ((st = slots_vec_create(ctx, &probe)) != CL_OK)
            return st;
        /* an empty vector: the clear backend answers CL_ERR_STATE, any other CL_ERR_UNSUPPORTED */
        st = slots_clear_map(ctx, probe, exact_adam_denominator, NULL, probe);
        slots_vec_free(probe);
        if (st == CL_ERR_UNSUPPORTED)
            return st;
    }

    he_dqn *ag = calloc(1, sizeof *ag);
    if (!ag)
        return CL_ERR_NOMEM;
    ag->hp = *hp;
    ag->phase_open = -1;
    ag->ctx = ctx;
    ag->owner = owner;
    ag->D = D;
    ag->B = (size_t)hp->batch_size;
    ag->S = S;
    ag->P = 2 * D + 1;
    ag->lay.d = D;
    ag->lay.batch = ag->B;
    ag->adam = (nn_he_adam_config){.alpha = hp->learning_rate,
                                   .beta1 = hp->adam_beta1,
                                   .beta2 = hp->adam_beta2,
                                   .delta = hp->adam_delta,
                                   .prior = hp->adam_prior};
    if ((st = nn_he_adam_check(&ag->adam)) != CL_OK)
        goto fail;
    if ((st = nn_abs_approx_make(hp->max_degree, hp->max_bound, &ag->mx)) != CL_OK)
        goto fail;
    ag->act = nn_relu_quadratic(hp->activation_bound);
    ag->act.c[0] = 0.0; /* p(0) = 0: padding stays zero; the next bias absorbs the shift */
    ag->dact = nn_poly_derivative(&ag->act);
    if ((st = rl_env_create(env_id, &ag->env)) != CL_OK)
        goto fail;
    ag->spec = rl_env_get_spec(ag->env);
    ag->n_act = ag->spec->n_actions;
    ag->in[0] = (size_t)ag->spec->obs_dim;
    ag->out[0] = ag->in[1] = ag->out[1] = ag->in[2] = (size_t)hp->net_arch;
    ag->out[2] = (size_t)ag->n_act;
    rl_rng_seed(&ag->rng_owner, seed);
    rl_rng_seed(&ag->rng_env, seed ^ 0x5eed0e11ULL);
    rl_rng_seed(&ag->rng_sample, seed ^ 0x5a3b1e5ULL);

    ag->buf = calloc(S, sizeof *ag->buf);
    ag->mask = calloc(S, sizeof *ag->mask);
    ag->mask2 = calloc(S, sizeof *ag->mask2);
    if (!ag->buf || !ag->mask || !ag->mask2) {
        st = CL_ERR_NOMEM;
        goto fail;
    }
    for (size_t b = 0; b < ag->B; b++)
        ag->mask[b * 2 * D] = hp->gamma; /* slot 0 of each block, with gamma folded in */

    for (int l = 0; l < NLAYERS && st == CL_OK; l++) {
        if ((st = rl_he_vecs_create(ctx, &ag->w[l], ag->P)) != CL_OK || (st = rl_he_vecs_create(ctx, &ag->m[l], ag->P)) != CL_OK ||
            (st = rl_he_vecs_create(ctx, &ag->r[l], ag->P)) != CL_OK || (st = rl_he_vecs_create(ctx, &ag->g[l], ag->P)) != CL_OK ||
            (st = rl_he_vecs_create(ctx, &ag->rot[l], D)) != CL_OK || (st = slots_vec_create(ctx, &ag->x[l])) != CL_OK)
            break;
        /* target: diagonals and bias only */
        if (!(ag->tw[l] = calloc(ag->P, sizeof *ag->tw[l]))) {
            st = CL_ERR_NOMEM;
            break;
        }
        for (size_t k = 0; k < D && st == CL_OK; k++)
            st = slots_vec_create(ctx, &ag->tw[l][k]);
        if (st == CL_OK)
            st = slots_vec_create(ctx, &ag->tw[l][2 * D]);
        if (st == CL_OK && l < NLAYERS - 1)
            st = slots_vec_create(ctx, &ag->z[l]);
    }
    slots_vec **one[] = {&ag->q, &ag->y, &ag->t0, &ag->t1, &ag->t2, &ag->xd, &ag->dq, &ag->dh};
    for (size_t i = 0; i < sizeof one / sizeof one[0] && st == CL_OK; i++)
        st = slots_vec_create(ctx, one[i]);
    if (st != CL_OK)
        goto fail;

    ag->chunks = ((size_t)hp->buffer_size + ag->B - 1) / ag->B;
    if (ag->chunks < 2)
        ag->chunks = 2; /* a wrapped ring must keep one whole chunk to sample from */
    ag->cap = ag->chunks * ag->B;
    if (!(ag->pick = malloc(ag->B * sizeof *ag->pick))) {
        st = CL_ERR_NOMEM;
        goto fail;
    }
    if ((st = rl_he_vecs_create(ctx, &ag->rs, ag->chunks)) != CL_OK || (st = rl_he_vecs_create(ctx, &ag->rn, ag->chunks)) != CL_OK ||
        (st = rl_he_vecs_create(ctx, &ag->ra, ag->chunks)) != CL_OK || (st = rl_he_vecs_create(ctx, &ag->rr, ag->chunks)) != CL_OK ||
        (st = rl_he_vecs_create(ctx, &ag->rd, ag->chunks)) != CL_OK || (st = rl_he_vecs_create(ctx, &ag->tmp_store, 1)) != CL_OK)
        goto fail;

    if ((st = init_weights(ag)) != CL_OK || (st = he_dqn_update_target(ag)) != CL_OK)
        goto fail;
    memset(&ag->stats.target, 0, sizeof ag->stats.target);
    *out = ag;
    return CL_OK;
fail:
    he_dqn_free(ag);
    return st;
}

void he_dqn_free(he_dqn *ag)
{
    if (!ag)
        return;
    for (int l = 0; l < NLAYERS; l++) {
        rl_he_vecs_free(ag->w[l], ag->P);
        rl_he_vecs_free(ag->m[l], ag->P);
        rl_he_vecs_free(ag->r[l], ag->P);
        rl_he_vecs_free(ag->g[l], ag->P);
        rl_he_vecs_free(ag->tw[l], ag->P);
        rl_he_vecs_free(ag->rot[l], ag->D);
        slots_vec_free(ag->x[l]);
        if (l < NLAYERS - 1)
            slots_vec_free(ag->z[l]);
    }
    slots_vec *one[] = {ag->q, ag->y, ag->t0, ag->t1, ag->t2, ag->xd, ag->dq, ag->dh};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        slots_vec_free(one[i]);
    rl_he_vecs_free(ag->rs, ag->chunks);
    rl_he_vecs_free(ag->rn, ag->chunks);
    rl_he_vecs_free(ag->ra, ag->chunks);
    rl_he_vecs_free(ag->rr, ag->chunks);
    rl_he_vecs_free(ag->rd, ag->chunks);
    rl_he_vecs_free(ag->tmp_store, 1);
    free(ag->pick);
    rl_env_free(ag->env);
    free(ag->actions);
    free(ag->buf);
    free(ag->mask);
    free(ag->mask2);
    free(ag);
}

/* ------------------------------------------------------------- platform side */

/* Forward pass of the network with parameters p from the single input x (its
 * content is consumed: x may be refreshed). With caches (training), each
 * layer's single input goes to ag->x[l], rotations to ag->rot[l] and
 * pre-activations to ag->z[l]. Output (single) in out. */
static cl_status forward(he_dqn *ag, slots_vec **const p[NLAYERS], slots_vec *x, bool cache, slots_vec *out)
{
    cl_status st = CL_OK;
    const int ad = nn_poly_depth(&ag->act);
    slots_vec *cur = x;
    for (int l = 0; l < NLAYERS && st == CL_OK; l++) {
        nn_dense_slots layer = {.diag = p[l], .tdiag = NULL, .bias = p[l][2 * ag->D]};
        for (size_t k = 0; k < ag->D && st == CL_OK; k++)
            st = ensure_level(ag, p[l][k], 1);
        if (st != CL_OK || (st = ensure_level(ag, cur, 1)) != CL_OK)
            break;
        /* the bias joins the product's level: keep it there rather than drag the sum down */
        int lvl = slots_level(cur);
        for (size_t k = 0; k < ag->D; k++)
            if (slots_level(p[l][k]) < lvl)
                lvl = slots_level(p[l][k]);
        if ((st = ensure_level(ag, p[l][2 * ag->D], lvl - 1)) != CL_OK)
            break;
        if (cache && (st = slots_copy(ag->ctx, cur, ag->x[l])) != CL_OK)
            break;
        if ((st = nn_double_slots(ag->ctx, &ag->lay, cur, ag->xd)) != CL_OK)
            break;
        slots_vec *zo = (l == NLAYERS - 1) ? out : (cache ? ag->z[l] : ag->t0);
        if ((st = nn_dense_forward_slots(ag->ctx, &ag->lay, &layer, ag->xd, cache ? ag->rot[l] : NULL, zo)) != CL_OK)
            break;
        if (l == NLAYERS - 1)
            break;
        if ((st = ensure_level(ag, zo, ad)) != CL_OK)
            break;
        st = nn_poly_eval_slots(ag->ctx, &ag->act, zo, ag->t1);
        cur = ag->t1;
    }
    return st;
}

/* m (slot 0 of each block) = max over the action slots 0..n_act-1 of q's block,
 * by the polynomial maximum; q may be refreshed. Other slots: garbage. */
static cl_status max_actions(he_dqn *ag, slots_vec *q, slots_vec *m, slots_vec *tmp)
{
    const int need = nn_max2_depth(&ag->mx);
    const int n = ag->n_act;
    cl_status st = ensure_level(ag, q, need);
    if (st != CL_OK || (st = slots_copy(ag->ctx, q, m)) != CL_OK)
        return st;
    if (rl_he_pow2((size_t)n)) {
        /* tournament: after the round with stride s, slot i holds max(q_i .. q_{i+2s-1}) */
        for (int s = 1; s < n && st == CL_OK; s *= 2) {
            if ((st = ensure_level(ag, m, need)) != CL_OK || (st = slots_rotate(ag->ctx, m, s, tmp)) != CL_OK)
                break;
            st = nn_max2_slots(ag->ctx, &ag->mx, m, tmp, m);
        }
    } else {
        /* max(...max(max(q0, q1), q2)..., q_{n-1}): never a padded slot */
        for (int j = 1; j < n && st == CL_OK; j++) {
            if ((st = ensure_level(ag, m, need)) != CL_OK || (st = ensure_level(ag, q, need)) != CL_OK ||
                (st = slots_rotate(ag->ctx, q, j, tmp)) != CL_OK)
                break;
            st = nn_max2_slots(ag->ctx, &ag->mx, m, tmp, m);
        }
    }
    return st;
}

/* out = the mini-batch of one kind: block b from chunk ag->pick[b]. Each
 * distinct chunk is masked to the blocks that drew it (one plaintext
 * product, so one level; the mask carries `scale`), and the masked chunks are
 * summed. */
static cl_status batch_of(he_dqn *ag, slots_vec **store, double scale, slots_vec *out)
{
    const size_t B = ag->B, blk = 2 * ag->D;
    cl_status st = CL_OK;
    bool first = true;
    for (size_t b = 0; b < B && st == CL_OK; b++) {
        const size_t c = ag->pick[b];
        bool seen = false;
        for (size_t e = 0; e < b && !seen; e++)
            seen = ag->pick[e] == c;
        if (seen)
            continue;
        memset(ag->mask2, 0, ag->S * sizeof *ag->mask2);
        for (size_t e = b; e < B; e++)
            if (ag->pick[e] == c)
                for (size_t k = 0; k < blk; k++)
                    ag->mask2[e * blk + k] = scale;
        if ((st = ensure_level(ag, store[c], 1)) != CL_OK)
            break;
        if (first) {
            st = slots_mul_plain(ag->ctx, store[c], ag->mask2, out);
            first = false;
        } else if ((st = slots_mul_plain(ag->ctx, store[c], ag->mask2, ag->tmp_store[0])) == CL_OK) {
            st = slots_add(ag->ctx, out, ag->tmp_store[0], out);
        }
    }
    return st;
}

static const char *const phase_names[HE_DQN_PHASES] = {"target forward", "target max", "forward", "loss",
                                                       "backward", "optimizer"};

const char *he_dqn_phase_name(int phase)
{
    return phase >= 0 && phase < HE_DQN_PHASES ? phase_names[phase] : "?";
}

/* Closes the running phase (its counters since the last mark) and opens `next`
 * (HE_DQN_PHASES: none). */
static void phase_mark(he_dqn *ag, int next)
{
    const slots_counters *now = slots_get_counters(ag->ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double t = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    if (ag->phase_open >= 0) {
        rl_he_counters_acc(&ag->stats.phase[ag->phase_open], &ag->phase_start, now);
        ag->stats.phase_seconds[ag->phase_open] += t - ag->phase_t0;
    }
    ag->phase_start = *now;
    ag->phase_t0 = t;
    ag->phase_open = next < HE_DQN_PHASES ? next : -1;
}

static cl_status train_step(he_dqn *ag, const size_t *idx)
{
    for (size_t b = 0; b < ag->B; b++)
        ag->pick[b] = idx[b] / ag->B;
    slots_ctx *ctx = ag->ctx;
    const size_t D = ag->D;
    cl_status st;
    slots_vec **tp[NLAYERS] = {ag->tw[0], ag->tw[1], ag->tw[2]};
    slots_vec **op[NLAYERS] = {ag->w[0], ag->w[1], ag->w[2]};

    /* target: y = R + gamma (1 - done) max_a Q_target(s', a), over the action slots */
    phase_mark(ag, HE_DQN_PHASE_TARGET_FORWARD);
    if ((st = batch_of(ag, ag->rn, 1.0, ag->t2)) != CL_OK || (st = forward(ag, tp, ag->t2, false, ag->y)) != CL_OK)
        return st;
    phase_mark(ag, HE_DQN_PHASE_TARGET_MAX);
    if ((st = max_actions(ag, ag->y, ag->t2, ag->t0)) != CL_OK || (st = ensure_level(ag, ag->t2, 1)) != CL_OK ||
        (st = slots_mul_plain(ctx, ag->t2, ag->mask, ag->t2)) != CL_OK) /* gamma * max at slot 0 */
        return st;
    if ((st = slots_copy(ctx, ag->t2, ag->y)) != CL_OK)
        return st;
    for (int j = 1; j < ag->n_act && st == CL_OK; j++) /* broadcast to the action slots */
        if ((st = slots_rotate(ctx, ag->t2, -j, ag->t0)) == CL_OK)
            st = slots_add(ctx, ag->y, ag->t0, ag->y);
    if (st != CL_OK || (st = batch_of(ag, ag->rd, 1.0, ag->t1)) != CL_OK ||
        (st = ensure_level(ag, ag->y, 1)) != CL_OK || (st = slots_mul(ctx, ag->y, ag->t1, ag->y)) != CL_OK ||
        (st = batch_of(ag, ag->rr, 1.0, ag->t1)) != CL_OK || (st = slots_add(ctx, ag->y, ag->t1, ag->y)) != CL_OK)
        return st;

    /* online forward with caches, then dQ = 2 (Q - y) A / B */
    phase_mark(ag, HE_DQN_PHASE_FORWARD);
    if ((st = batch_of(ag, ag->rs, 1.0, ag->t2)) != CL_OK || (st = forward(ag, op, ag->t2, true, ag->q)) != CL_OK)
        return st;
    phase_mark(ag, HE_DQN_PHASE_LOSS);
    if ((st = slots_sub(ctx, ag->q, ag->y, ag->dq)) != CL_OK || (st = batch_of(ag, ag->ra, 2.0 / (double)ag->B, ag->t1)) != CL_OK ||
        (st = ensure_level(ag, ag->dq, 1)) != CL_OK || (st = slots_mul(ctx, ag->dq, ag->t1, ag->dq)) != CL_OK)
        return st;

    /* backward: dq is dy of the last layer; dh = dx; dy of layer l-1 = dh p'(z) */
    phase_mark(ag, HE_DQN_PHASE_BACKWARD);
    for (int l = NLAYERS - 1; l >= 0; l--) {
        nn_dense_slots layer = layer_view(ag, ag->w[l]);
        for (size_t k = 0; k < D && l > 0 && st == CL_OK; k++)
            st = ensure_level(ag, ag->w[l][D + k], 1);
        if (st != CL_OK || (st = ensure_level(ag, ag->dq, 1)) != CL_OK)
            return st;
        if ((st = nn_dense_backward_slots(ctx, &ag->lay, &layer, ag->x[l], ag->rot[l], ag->dq, l > 0 ? ag->dh : NULL,
                                          ag->g[l], ag->g[l] + D, ag->g[l][2 * D])) != CL_OK)
            return st;
        if (l == 0)
            break;
        if ((st = ensure_level(ag, ag->z[l - 1], nn_poly_depth(&ag->dact))) != CL_OK ||
            (st = nn_poly_eval_slots(ctx, &ag->dact, ag->z[l - 1], ag->t0)) != CL_OK ||
            (st = ensure_level(ag, ag->dh, 1)) != CL_OK || (st = ensure_level(ag, ag->t0, 1)) != CL_OK ||
            (st = slots_mul(ctx, ag->dh, ag->t0, ag->dq)) != CL_OK)
            return st;
    }

    /* the optimizer (HE-compatible Adam by default) on every parameter vector */
    phase_mark(ag, HE_DQN_PHASE_OPTIMIZER);
    const long t = (long)ag->stats.train_steps + 1;
    ag->adam.alpha = scheduled_lr(ag); /* a public constant per step */
    for (int l = 0; l < NLAYERS; l++)
        for (size_t p = 0; p < ag->P; p++)
            if ((st = optimizer_step(ag, t, ag->w[l][p], ag->m[l][p], ag->r[l][p], ag->g[l][p])) != CL_OK)
                return st;
    phase_mark(ag, HE_DQN_PHASES);
    ag->stats.train_steps++;
    return CL_OK;
}

cl_status he_dqn_train_on(he_dqn *ag, const size_t *idx)
{
    if (!ag || !idx)
        return CL_ERR_INVALID;
    const size_t wc = ag->pos / ag->B, wb = ag->pos % ag->B;
    for (size_t b = 0; b < ag->B; b++)
        if (idx[b] >= ag->stored || idx[b] % ag->B != b ||
            (ag->stored == ag->cap && idx[b] / ag->B == wc && b >= wb)) /* wiped when its chunk restarted */
            return CL_ERR_INVALID;
    slots_counters before = *slots_get_counters(ag->ctx);
    cl_status st = train_step(ag, idx);
    rl_he_counters_acc(&ag->stats.train, &before, slots_get_counters(ag->ctx));
    return st;
}

cl_status he_dqn_update_target(he_dqn *ag)
{
    if (!ag)
        return CL_ERR_INVALID;
    slots_counters before = *slots_get_counters(ag->ctx);
    cl_status st = CL_OK;
    for (int l = 0; l < NLAYERS && st == CL_OK; l++) {
        for (size_t k = 0; k < ag->D && st == CL_OK; k++)
            st = slots_copy(ag->ctx, ag->w[l][k], ag->tw[l][k]);
        if (st == CL_OK)
            st = slots_copy(ag->ctx, ag->w[l][2 * ag->D], ag->tw[l][2 * ag->D]);
    }
    rl_he_counters_acc(&ag->stats.target, &before, slots_get_counters(ag->ctx));
    return st;
}

/* ------------------------------------------------------------- owner side */

/* The platform puts the owner's single-transition vector v (block i mod B)
 * into chunk i / B at REPLAY_LEVEL: the first block restarts the chunk. */
static cl_status put_block(he_dqn *ag, slots_vec **store, size_t i, slots_vec *v)
{
    const size_t c = i / ag->B;
    const int lvl = slots_level(v) < REPLAY_LEVEL ? slots_level(v) : REPLAY_LEVEL;
    cl_status st = slots_drop_level(ag->ctx, v, lvl, v);
    if (st != CL_OK)
        return st;
    if (i % ag->B == 0)
        return slots_copy(ag->ctx, v, store[c]);
    return slots_add(ag->ctx, store[c], v, store[c]);
}

cl_status he_dqn_store(he_dqn *ag, const double *obs, int action, double reward, const double *next_obs,
                       bool terminated)
{
    if (!ag || !obs || !next_obs || action < 0 || action >= ag->n_act)
        return CL_ERR_INVALID;
    const size_t S = ag->S, off = (ag->pos % ag->B) * 2 * ag->D, od = ag->in[0];
    const size_t i = ag->pos;
    double *v = ag->buf;
    slots_vec *t = ag->tmp_store[0];
    cl_status st;
    memset(v, 0, S * sizeof *v);
    memcpy(v + off, obs, od * sizeof *v);
    if ((st = slots_encrypt(ag->owner, v, S, t)) != CL_OK || (st = put_block(ag, ag->rs, i, t)) != CL_OK)
        return st;
    memcpy(v + off, next_obs, od * sizeof *v);
    if ((st = slots_encrypt(ag->owner, v, S, t)) != CL_OK || (st = put_block(ag, ag->rn, i, t)) != CL_OK)
        return st;
    memset(v + off, 0, od * sizeof *v);
    v[off + (size_t)action] = 1.0;
    if ((st = slots_encrypt(ag->owner, v, S, t)) != CL_OK || (st = put_block(ag, ag->ra, i, t)) != CL_OK)
        return st;
    for (int j = 0; j < ag->n_act; j++)
        v[off + (size_t)j] = reward * ag->hp.reward_scale;
    if ((st = slots_encrypt(ag->owner, v, S, t)) != CL_OK || (st = put_block(ag, ag->rr, i, t)) != CL_OK)
        return st;
    for (int j = 0; j < ag->n_act; j++)
        v[off + (size_t)j] = terminated ? 0.0 : 1.0;
    if ((st = slots_encrypt(ag->owner, v, S, t)) != CL_OK || (st = put_block(ag, ag->rd, i, t)) != CL_OK)
        return st;
    ag->pos = (ag->pos + 1) % ag->cap;
    if (ag->stored < ag->cap)
        ag->stored++;
    return CL_OK;
}

cl_status he_dqn_act(he_dqn *ag, const double *obs, int *action, double *q)
{
    if (!ag || !obs || !action)
        return CL_ERR_INVALID;
    slots_counters before = *slots_get_counters(ag->ctx);
    double *v = ag->buf;
    memset(v, 0, ag->S * sizeof *v);
    memcpy(v, obs, ag->in[0] * sizeof *v); /* batch position 0 */
    slots_vec **op[NLAYERS] = {ag->w[0], ag->w[1], ag->w[2]};
    cl_status st = slots_encrypt(ag->owner, v, ag->S, ag->t2);
    if (st == CL_OK)
        st = forward(ag, op, ag->t2, false, ag->q);
    double *qv = ag->buf;
    if (st == CL_OK)
        st = slots_decrypt(ag->owner, ag->q, qv, (size_t)ag->n_act);
    rl_he_counters_acc(&ag->stats.act, &before, slots_get_counters(ag->ctx));
    if (st != CL_OK)
        return st;
    int best = 0;
    for (int a = 1; a < ag->n_act; a++)
        if (qv[a] > qv[best])
            best = a;
    *action = best;
    if (q)
        memcpy(q, qv, (size_t)ag->n_act * sizeof *q);
    ag->stats.greedy_actions++;
    return CL_OK;
}

/* stable_baselines3.common.utils.get_linear_fn */
static double exploration_eps(const he_dqn *ag)
{
    const he_dqn_hparams *hp = &ag->hp;
    const double progress = (double)ag->stats.env_steps / (double)ag->total_timesteps;
    if (hp->exploration_fraction <= 0 || progress > hp->exploration_fraction)
        return hp->exploration_final_eps;
    return hp->exploration_initial_eps +
           progress * (hp->exploration_final_eps - hp->exploration_initial_eps) / hp->exploration_fraction;
}

static cl_status sample_and_train(he_dqn *ag)
{
    size_t idx[64] = {0}, *ip = ag->B <= 64 ? idx : malloc(ag->B * sizeof *ip);
    if (!ip)
        return CL_ERR_NOMEM;
    /* stratified: block b gets a uniform stored transition with index ≡ b (mod B),
     * among the chunks that hold one there: every chunk but the one being
     * written, and that one for the blocks already written anew */
    const size_t wc = ag->pos / ag->B, wb = ag->pos % ag->B;
    const bool full = ag->stored == ag->cap;
    for (size_t b = 0; b < ag->B; b++) {
        const size_t older = full ? ag->chunks - 1 : wc, count = older + (b < wb ? 1 : 0);
        const size_t u = (size_t)rl_rng_below(&ag->rng_sample, (uint32_t)count);
        const size_t c = u == older ? wc : (full ? (wc + 1 + u) % ag->chunks : u);
        ip[b] = b + ag->B * c;
    }
    cl_status st = he_dqn_train_on(ag, ip);
    if (ip != idx)
        free(ip);
    return st;
}

cl_status he_dqn_train_sampled(he_dqn *ag)
{
    if (!ag)
        return CL_ERR_INVALID;
    if (ag->stored < ag->B)
        return CL_ERR_STATE;
    return sample_and_train(ag);
}

cl_status he_dqn_learn(he_dqn *ag, int64_t n_steps, he_dqn_episode_fn cb, void *user)
{
    if (!ag || n_steps < 0)
        return CL_ERR_INVALID;
    const he_dqn_hparams *hp = &ag->hp;
    if (!ag->started) {
        ag->total_timesteps = hp->n_timesteps > 0 ? hp->n_timesteps : (n_steps > 0 ? n_steps : 1);
        rl_env_reset(ag->env, &ag->rng_env, ag->obs);
        ag->ep_ret = 0;
        ag->ep_len = 0;
        ag->started = true;
    }
    cl_status st = CL_OK;
    for (int64_t i = 0; i < n_steps && st == CL_OK; i++) {
        /* owner: epsilon-greedy on the decrypted Q(s) */
        const double eps = exploration_eps(ag);
        const double u = rl_rng_uniform(&ag->rng_owner);
        const int random_action = (int)rl_rng_below(&ag->rng_owner, (uint32_t)ag->n_act);
        int a = random_action;
        if (ag->stats.env_steps >= hp->learning_starts && u >= eps)
            if ((st = he_dqn_act(ag, ag->obs, &a, NULL)) != CL_OK)
                break;
        if ((size_t)ag->stats.env_steps >= ag->actions_cap) {
            size_t nc = ag->actions_cap ? 2 * ag->actions_cap : 1024;
            int *na = realloc(ag->actions, nc * sizeof *na);
            if (!na)
                return CL_ERR_NOMEM;
            ag->actions = na;
            ag->actions_cap = nc;
        }
        ag->actions[ag->stats.env_steps] = a;
        double next[RL_MAX_OBS], reward, action = (double)a;
        bool term, trunc;
        if ((st = rl_env_step(ag->env, &action, next, &reward, &term, &trunc)) != CL_OK)
            break;
        /* a time-limit truncation still bootstraps (SB3's handle_timeout_termination) */
        if ((st = he_dqn_store(ag, ag->obs, a, reward, next, term)) != CL_OK)
            break;
        ag->stats.env_steps++;
        ag->ep_ret += reward;
        ag->ep_len++;
        if (term || trunc) {
            ag->stats.episodes++;
            if (cb)
                cb(user, ag->stats.env_steps, ag->ep_ret, ag->ep_len);
            rl_env_reset(ag->env, &ag->rng_env, ag->obs);
            ag->ep_ret = 0;
            ag->ep_len = 0;
        } else {
            memcpy(ag->obs, next, sizeof next);
        }
        /* platform: training phase and target update */
        const int64_t n = ag->stats.env_steps;
        if (n > hp->learning_starts && n % hp->train_freq == 0) {
            const int64_t gs = hp->gradient_steps < 0 ? hp->train_freq : hp->gradient_steps;
            for (int64_t k = 0; k < gs && st == CL_OK; k++)
                st = sample_and_train(ag);
        }
        if (st == CL_OK && n % hp->target_update_interval == 0)
            st = he_dqn_update_target(ag);
    }
    return st;
}

cl_status he_dqn_evaluate(he_dqn *ag, int episodes, uint64_t seed, double *returns)
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
        double obs[RL_MAX_OBS], ret = 0, reward;
        bool term = false, trunc = false;
        rl_env_reset(env, &rng, obs);
        while (!term && !trunc && st == CL_OK) {
            int a;
            if ((st = he_dqn_act(ag, obs, &a, NULL)) != CL_OK)
                break;
            double action = (double)a;
            if ((st = rl_env_step(env, &action, obs, &reward, &term, &trunc)) != CL_OK)
                break;
            ret += reward;
        }
        returns[e] = ret;
    }
    rl_env_free(env);
    return st;
}

/* ------------------------------------------------------------- inspection */

const he_dqn_stats *he_dqn_get_stats(const he_dqn *ag)
{
    return ag ? &ag->stats : NULL;
}

const int *he_dqn_actions(const he_dqn *ag)
{
    return ag ? ag->actions : NULL;
}

int he_dqn_layer_count(void)
{
    return NLAYERS;
}

void he_dqn_layer_shape(const he_dqn *ag, int layer, size_t *in, size_t *out)
{
    if (!ag || layer < 0 || layer >= NLAYERS)
        return;
    if (in)
        *in = ag->in[layer];
    if (out)
        *out = ag->out[layer];
}

static cl_status unpack_set(he_dqn *ag, slots_vec **set, int layer, bool transposed, double *W, double *b)
{
    if (!ag || layer < 0 || layer >= NLAYERS || !W)
        return CL_ERR_INVALID;
    const size_t in = ag->in[layer], out = ag->out[layer], D = ag->D;
    cl_status st = CL_OK;
    for (size_t k = 0; k < D && st == CL_OK; k++)
        if ((st = slots_decrypt(ag->owner, set[(transposed ? D : 0) + k], ag->buf, ag->S)) == CL_OK)
            nn_unpack_diagonal(&ag->lay, ag->buf, out, in, transposed, k, W);
    if (st == CL_OK && b && (st = slots_decrypt(ag->owner, set[2 * D], ag->buf, ag->S)) == CL_OK)
        memcpy(b, ag->buf, out * sizeof *b);
    return st;
}

cl_status he_dqn_get_weights(he_dqn *ag, int layer, bool transposed, double *W, double *b)
{
    if (!ag || layer < 0 || layer >= NLAYERS)
        return CL_ERR_INVALID;
    return unpack_set(ag, ag->w[layer], layer, transposed, W, b);
}

cl_status he_dqn_get_grads(he_dqn *ag, int layer, bool transposed, double *dW, double *db)
{
    if (!ag || layer < 0 || layer >= NLAYERS)
        return CL_ERR_INVALID;
    if (ag->stats.train_steps == 0)
        return CL_ERR_STATE;
    return unpack_set(ag, ag->g[layer], layer, transposed, dW, db);
}

/* ------------------------------------------------------------- census */

#define CENSUS_TRAIN_STEPS 3

cl_status he_dqn_census_run(const char *env_id, const he_dqn_hparams *hp, int levels, he_dqn_census *out)
{
    if (!env_id || !hp || !out || levels < 1)
        return CL_ERR_INVALID;
    memset(out, 0, sizeof *out);
    size_t D, S;
    cl_status st = he_dqn_layout(env_id, hp, &D, &S);
    if (st != CL_OK)
        return st;
    if (he_dqn_hp_check(hp, NULL, 0) != CL_OK)
        return CL_ERR_INVALID;
    /* the same network and step, on a schedule that trains and acts greedily at once */
    he_dqn_hparams h = *hp;
    h.buffer_size = h.batch_size;
    h.learning_starts = h.batch_size;
    h.train_freq = 1;
    h.gradient_steps = 1;
    h.target_update_interval = h.batch_size;
    h.exploration_initial_eps = h.exploration_final_eps = 0.0;
    slots_ctx *ctx;
    slots_owner *owner;
    slots_clear_config cfg = {.slots = S, .levels = levels};
    if ((st = slots_clear_create(&cfg, &ctx, &owner)) != CL_OK)
        return st;
    he_dqn *ag = NULL;
    st = he_dqn_create(env_id, &h, ctx, owner, 1, &ag);
    /* warm up (the first steps refresh fresh encryptions differently), then count one step */
    he_dqn_stats s0;
    if (st == CL_OK)
        st = he_dqn_learn(ag, h.batch_size + CENSUS_TRAIN_STEPS - 1, NULL, NULL);
    if (st == CL_OK) {
        s0 = ag->stats;
        st = he_dqn_learn(ag, 1, NULL, NULL);
    }
    if (st == CL_OK && (ag->stats.train_steps != s0.train_steps + 1 || ag->stats.greedy_actions != s0.greedy_actions + 1))
        st = CL_ERR_STATE;
    if (st == CL_OK) {
        const he_dqn_stats *s = &ag->stats;
        out->slots = S;
        out->width = D;
        out->levels = levels;
        rl_he_counters_acc(&out->train_step, &s0.train, &s->train);
        rl_he_counters_acc(&out->act, &s0.act, &s->act);
        for (int p = 0; p < HE_DQN_PHASES; p++)
            rl_he_counters_acc(&out->phase[p], &s0.phase[p], &s->phase[p]);
        out->n_rot_steps = slots_rotation_steps(ctx, out->rot_steps, HE_DQN_MAX_ROT_STEPS);
        if (out->n_rot_steps > HE_DQN_MAX_ROT_STEPS)
            st = CL_ERR_UNSUPPORTED;
    }
    he_dqn_free(ag);
    slots_owner_free(owner);
    slots_ctx_free(ctx);
    return st;
}

/* ------------------------------------------------------------- export */

cl_status he_dqn_export_mlp(he_dqn *ag, nn_mlp **out)
{
    if (!ag || !out)
        return CL_ERR_INVALID;
    *out = NULL;
    const int hidden[2] = {(int)ag->out[0], (int)ag->out[1]};
    nn_mlp *net;
    cl_status st = nn_mlp_create((int)ag->in[0], hidden, 2, ag->n_act, NN_ACT_POLY2, NN_ACT_IDENTITY, &net);
    if (st != CL_OK)
        return st;
    if ((st = nn_mlp_set_act_bound(net, ag->hp.activation_bound)) != CL_OK) {
        nn_mlp_free(net);
        return st;
    }
    size_t maxw = 0;
    for (int l = 0; l < NLAYERS; l++)
        if (ag->in[l] * ag->out[l] > maxw)
            maxw = ag->in[l] * ag->out[l];
    double *W = malloc(maxw * sizeof *W);
    if (!W) {
        nn_mlp_free(net);
        return CL_ERR_NOMEM;
    }
    for (int l = 0; l < NLAYERS && st == CL_OK; l++) {
        const size_t in = ag->in[l], o = ag->out[l];
        double *Wl = net->params + net->w_off[l], *bl = net->params + net->b_off[l];
        st = he_dqn_get_weights(ag, l, false, W, bl); /* W: out x in; the MLP keeps in x out */
        for (size_t i = 0; i < in && st == CL_OK; i++)
            for (size_t j = 0; j < o; j++)
                Wl[i * o + j] = W[j * in + i];
    }
    free(W);
    if (st != CL_OK) {
        nn_mlp_free(net);
        return st;
    }
    *out = net;
    return CL_OK;
}
