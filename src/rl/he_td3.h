/* HE-TD3: TD3 whose whole training step runs on the slot machine, so the same
 * code trains in clear (doubles) and on CKKS ciphertexts. Design, costs and
 * approximations: docs/he-td3.md.
 *
 * The platform side (slots_ctx) runs the target actor with public smoothing
 * noise, the twin target critics and their polynomial minimum, the critic
 * loss gradient, backpropagation, the actor gradient through the critic
 * (dQ/da), the delayed actor update, the HE-compatible Adam on every
 * parameter vector and the Polyak target updates. The owner side
 * (slots_owner, in the same process for now) encrypts states, actions,
 * rewards, done flags and initial weights, decrypts the actor's output to act
 * (adding its exploration noise and clipping to the action bounds), and
 * refreshes ciphertexts whose levels ran out (interactive mode).
 *
 * (Internal for now: include as "rl/he_td3.h".) */
#ifndef CIPHERL_RL_HE_TD3_H
#define CIPHERL_RL_HE_TD3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cipherl/common.h"
#include "cipherl/slots.h"
#include "rl/he_common.h"

/* Exploration noise of the owner (SB3's action_noise). */
typedef enum rl_he_td3_noise {
    RL_HE_TD3_NOISE_NONE = 0,   /* "none" */
    RL_HE_TD3_NOISE_NORMAL = 1, /* "normal": NormalActionNoise(0, noise_std) */
    RL_HE_TD3_NOISE_OU = 2      /* "ornstein-uhlenbeck": theta 0.15, dt 0.01, sigma noise_std */
} rl_he_td3_noise;

/* Hyperparameters: Stable-Baselines3 / RL Zoo names where they exist. */
typedef struct rl_he_td3_hparams {
    int64_t n_timesteps;        /* default training length (the CLI's --steps) */
    double learning_rate;
    int64_t buffer_size;        /* transitions kept (rounded up to a multiple of batch_size, at least 2 batches) */
    int64_t learning_starts;    /* environment steps of uniform random actions before training (>= batch_size) */
    int batch_size;             /* B: a power of two */
    double gamma;
    double tau;                 /* Polyak coefficient of the target updates */
    int64_t train_freq;         /* environment steps between training phases */
    int64_t gradient_steps;     /* training steps per phase; -1: train_freq */
    int policy_delay;           /* critic updates per actor (and target) update */
    double target_policy_noise; /* std of the target smoothing noise (action units, [-1, 1] scale) */
    double target_noise_clip;   /* its clip */
    rl_he_td3_noise noise_type;    /* exploration noise */
    double noise_std;           /* its sigma (action units, [-1, 1] scale) */
    int net_arch;               /* H: width of both hidden layers of every network */
    /* HE-specific */
    double activation_bound;    /* b of p(x) = x/2 + x^2/(2b) (ReLU quadratic without its constant) */
    int max_degree;             /* n: degree (in d^2) of the |d| polynomial of the twin minimum */
    double max_bound;           /* the minimum is accurate for |Q1 - Q2| <= max_bound */
    int squash_degree;          /* 3 or 5: the actor's output a = f_k(u / squash_bound) */
    double squash_bound;        /* A: f saturates at a = +-1 for u = +-A */
    double squash_penalty;      /* lambda of the actor's extra loss lambda mean((u/A)^4) on its pre-squash
                                   output (0: none): keeps u where f is monotone (docs/he-td3.md) */
    int normalize_obs;          /* 1: the owner divides each observation by its bound max(|low|, |high|) */
    double reward_scale;        /* the platform trains on reward_scale * r (keeps |Q| and |Q1 - Q2| in range) */
    double adam_beta1, adam_beta2;
    double adam_delta;          /* the critics' HE-Adam variance floor (squared-gradient units) */
    double adam_prior;          /* the critics' HE-Adam prior second moment */
    double actor_adam_delta;    /* the actor's (its gradients live on another scale) */
    double actor_adam_prior;
    rl_he_optimizer optimizer;  /* he_adam (default), sgd, or adam (exact; clear only): the ablation */
} rl_he_td3_hparams;

/* Defaults for Pendulum-v1 (docs/he-td3.md). */
void rl_he_td3_hparams_default(rl_he_td3_hparams *hp);
/* The tuned defaults for a continuous task (Pendulum-v1,
 * MountainCarContinuous-v0; other continuous tasks get the Pendulum-v1 set):
 * CL_ERR_UNSUPPORTED for a discrete task, CL_ERR_INVALID for an unknown one. */
cl_status rl_he_td3_hparams_for_env(const char *env_id, rl_he_td3_hparams *hp);
/* "NAME=VALUE" with the names of the fields above (net_arch also as "[H,H]";
 * noise_type normal|ornstein-uhlenbeck|none). An unknown name or a bad value:
 * CL_ERR_INVALID and a message in err. */
cl_status rl_he_td3_hp_assign(rl_he_td3_hparams *hp, const char *assignment, char *err, size_t errlen);
/* Whole-set consistency (what rl_he_td3_create refuses), with a message. */
cl_status rl_he_td3_hp_check(const rl_he_td3_hparams *hp, char *err, size_t errlen);
/* One line "name=value ..." of every field. */
void rl_he_td3_hp_format(const rl_he_td3_hparams *hp, char *buf, size_t cap);

/* The padded width D (a power of two >= max(obs_dim + action_dim, H)) and the
 * slot count S = 2 D B the slot machine must have for env_id and hp
 * (CL_ERR_UNSUPPORTED for a discrete environment, CL_ERR_INVALID for an
 * unknown one or a bad net_arch / batch_size). */
cl_status rl_he_td3_layout(const char *env_id, const rl_he_td3_hparams *hp, size_t *d_out, size_t *slots_out);

typedef struct rl_he_td3 rl_he_td3;

/* Creates the agent: its environment, the actor, the twin critics and their
 * targets (initialized PyTorch-style from seed and encrypted by the owner),
 * HE-Adam states and replay. ctx must have rl_he_td3_layout's slot count and at
 * least nn_he_adam_depth() levels; ctx and owner stay the caller's. */
cl_status rl_he_td3_create(const char *env_id, const rl_he_td3_hparams *hp, slots_ctx *ctx, slots_owner *owner,
                        uint64_t seed, rl_he_td3 **out);
void rl_he_td3_free(rl_he_td3 *ag);

/* Called at the end of every episode during learning. */
typedef void (*rl_he_td3_episode_fn)(void *user, int64_t step, double episode_return, int episode_length);

/* Runs n_steps environment steps: exploration, storage, training phases,
 * delayed actor updates and target updates as SB3's TD3 schedules them. Can
 * be called repeatedly. */
cl_status rl_he_td3_learn(rl_he_td3 *ag, int64_t n_steps, rl_he_td3_episode_fn cb, void *user);
/* One training step on a stratified mini-batch drawn as learning draws it,
 * with the actor update when the policy delay says so (CL_ERR_STATE before
 * batch_size transitions are stored). For benchmarks. */
cl_status rl_he_td3_train_sampled(rl_he_td3 *ag);

/* Deterministic action for obs: the owner decrypts the actor's output and
 * rescales it to the action bounds (clipped). action: action_dim values. */
cl_status rl_he_td3_act(rl_he_td3 *ag, const double *obs, double *action);
/* Runs `episodes` deterministic episodes in a fresh environment reset from seed. */
cl_status rl_he_td3_evaluate(rl_he_td3 *ag, int episodes, uint64_t seed, double *returns);

/* The phases of a training step, in order, each with its own counters. */
enum {
    RL_HE_TD3_PHASE_TARGET = 0,      /* target actor, smoothing noise, twin target critics, minimum, y */
    RL_HE_TD3_PHASE_CRITIC_FORWARD,  /* both online critics with caches */
    RL_HE_TD3_PHASE_CRITIC_BACKWARD, /* loss gradients and backpropagation of both critics */
    RL_HE_TD3_PHASE_CRITIC_OPTIMIZER,/* HE-Adam on the critics' parameter vectors */
    RL_HE_TD3_PHASE_ACTOR_FORWARD,   /* actor with caches, squash, critic 1 (hidden layers only) */
    RL_HE_TD3_PHASE_ACTOR_BACKWARD,  /* dQ1/da through critic 1, squash', actor backpropagation */
    RL_HE_TD3_PHASE_ACTOR_OPTIMIZER, /* HE-Adam on the actor's parameter vectors */
    RL_HE_TD3_PHASES
};
const char *rl_he_td3_phase_name(int phase);

/* What training and acting cost so far, counted by the slot machine. */
typedef struct rl_he_td3_stats {
    int64_t env_steps;
    int64_t train_steps;   /* critic updates */
    int64_t actor_updates; /* delayed actor updates (each followed by a target update) */
    int64_t episodes;
    int64_t actor_calls;   /* action selections that ran the actor */
    slots_counters train;  /* summed over all training steps, actor updates included (min_level: lowest) */
    slots_counters act;    /* summed over all actor calls */
    slots_counters target; /* summed over all Polyak target updates */
    slots_counters phase[RL_HE_TD3_PHASES]; /* train, split by phase */
    double phase_seconds[RL_HE_TD3_PHASES]; /* wall-clock time of each phase, summed */
} rl_he_td3_stats;
const rl_he_td3_stats *rl_he_td3_get_stats(const rl_he_td3 *ag);

/* The networks. */
enum {
    RL_HE_TD3_ACTOR = 0,
    RL_HE_TD3_CRITIC1,
    RL_HE_TD3_CRITIC2,
    RL_HE_TD3_ACTOR_TARGET,
    RL_HE_TD3_CRITIC1_TARGET,
    RL_HE_TD3_CRITIC2_TARGET,
    RL_HE_TD3_NETS
};
/* Layers per network (3). */
int rl_he_td3_layer_count(void);
/* Layer sizes, in x out. The actor's first layer reads the observation
 * (obs_dim columns). A critic's first layer reads (action, observation) in
 * that order: obs_dim + action_dim columns, the action first. */
cl_status rl_he_td3_layer_shape(const rl_he_td3 *ag, int net, int layer, size_t *in, size_t *out);
/* The owner decrypts a layer: W (out x in, row-major) from the diagonal set
 * (transposed = false) or the transposed set (online networks only), and the
 * bias (b may be NULL). */
cl_status rl_he_td3_get_weights(rl_he_td3 *ag, int net, int layer, bool transposed, double *W, double *b);
/* The gradients of the last update of an online network, decrypted the same
 * way (CL_ERR_STATE before its first update). Only the diagonal sets have
 * them: the transposed sets are rebuilt from the diagonals after each update
 * (transposed: CL_ERR_UNSUPPORTED; so is the actor's first transposed set in
 * rl_he_td3_get_weights, which nothing uses and nothing updates). */
cl_status rl_he_td3_get_grads(rl_he_td3 *ag, int net, int layer, bool transposed, double *dW, double *db);
/* The executed (noisy, clipped, environment-scale) actions of learning so far:
 * rl_he_td3_get_stats()->env_steps rows of action_dim doubles. */
const double *rl_he_td3_actions(const rl_he_td3 *ag);
int rl_he_td3_action_dim(const rl_he_td3 *ag);
/* The owner decrypts the actor into a plain MLP that takes raw observations
 * (the owner's normalization folded into the first layer): obs_dim -> H -> H
 * -> action_dim, hidden NN_ACT_POLY2 (act_bound = activation_bound), output
 * NN_ACT_SQUASH3 or NN_ACT_SQUASH5 (squash_degree; squash_bound). Wrapped as a
 * TD3 policy (rl_policy_from_mlp) it acts as rl_he_td3_act; *out is the
 * caller's (nn_mlp_free). */
struct nn_mlp;
cl_status rl_he_td3_export_actor(rl_he_td3 *ag, struct nn_mlp **out);

/* Census: what one training step (critic update; actor updates averaged in),
 * one actor update, one target update and one actor call cost at a level
 * budget, measured by a short run on the clear backend, and the rotation steps
 * (the Galois keys) an encrypted run needs. */
#define RL_HE_TD3_MAX_ROT_STEPS 64
typedef struct rl_he_td3_census {
    size_t slots;                        /* S */
    size_t width;                        /* D */
    int levels;                          /* the level budget it was measured at */
    int64_t train_steps, actor_updates;  /* of the run measured */
    slots_counters train_step;           /* per training step (mean of the run; min_level: lowest) */
    slots_counters act;                  /* per actor call */
    slots_counters target;               /* per target update */
    slots_counters phase[RL_HE_TD3_PHASES]; /* critic phases per training step, actor phases per actor update */
    int rot_steps[RL_HE_TD3_MAX_ROT_STEPS]; /* distinct rotation steps, normalized to (0, S) */
    size_t n_rot_steps;
} rl_he_td3_census;
cl_status rl_he_td3_census_run(const char *env_id, const rl_he_td3_hparams *hp, int levels, rl_he_td3_census *out);

/* ---- lower level, for tests ---- */
/* The owner stores one transition (obs and next_obs: obs_dim values; action:
 * action_dim values on the [-1, 1] scale). */
cl_status rl_he_td3_store(rl_he_td3 *ag, const double *obs, const double *action, double reward, const double *next_obs,
                       bool terminated);
/* One training step on the stored transitions idx[0..B) (ring positions,
 * idx[b] ≡ b mod B, none in the part of the chunk being rewritten:
 * CL_ERR_INVALID otherwise): critic update, then, if update_actor, the
 * actor update and the Polyak target update. noise: B x action_dim target
 * smoothing noises (action units, already clipped), or NULL for the
 * platform's own draw. */
cl_status rl_he_td3_train_on(rl_he_td3 *ag, const size_t *idx, const double *noise, bool update_actor);
/* The actor's output polynomial f (a = f(u)) and the hidden activation p (for
 * plain references; either may be NULL). */
struct nn_poly;
void rl_he_td3_polys(const rl_he_td3 *ag, struct nn_poly *squash, struct nn_poly *act);
/* Pre-squash scale of the smoothing noise: the platform adds noise * scale to u. */
double rl_he_td3_noise_scale(const rl_he_td3 *ag);

#endif
