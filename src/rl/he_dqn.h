/* HE-DQN: DQN whose whole training step runs on the slot machine, so the same
 * code trains in clear (doubles) and on CKKS ciphertexts. Design and costs:
 * docs/he-dqn.md.
 *
 * The platform side (slots_ctx) runs forward passes, polynomial targets, the
 * loss gradient, backpropagation, the HE-compatible Adam and target updates.
 * The owner side (slots_owner, in the same process for now) encrypts states,
 * actions, rewards and initial weights, decrypts Q(s) to choose actions, and
 * refreshes ciphertexts whose levels ran out (interactive mode).
 *
 * (Internal for now: include as "rl/he_dqn.h".) */
#ifndef CIPHERL_RL_HE_DQN_H
#define CIPHERL_RL_HE_DQN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cipherl/common.h"
#include "cipherl/slots.h"
#include "rl/he_common.h"


/* Hyperparameters: Stable-Baselines3 / RL Zoo names where they exist. */
typedef struct rl_he_dqn_hparams {
    int64_t n_timesteps;            /* length of the exploration schedule (<= 0: the first learn call's n_steps) */
    double learning_rate;
    double learning_rate_decay;     /* linear schedule: the step at progress p = env_steps / n_timesteps uses
                                       learning_rate * (1 - learning_rate_decay * min(p, 1)); 0: constant */
    int64_t buffer_size;            /* transitions kept (rounded up to a multiple of batch_size) */
    int64_t learning_starts;        /* environment steps of uniform random actions before training (>= batch_size) */
    int batch_size;                 /* B: a power of two */
    double gamma;
    int64_t train_freq;             /* environment steps between training phases */
    int64_t gradient_steps;         /* training steps per phase; -1: train_freq */
    int64_t target_update_interval; /* environment steps between hard target updates */
    double exploration_fraction;
    double exploration_initial_eps;
    double exploration_final_eps;
    int net_arch;                   /* H: width of both hidden layers */
    /* HE-specific */
    double activation_bound;        /* b of p(x) = x/2 + x^2/(2b) (ReLU quadratic without its constant) */
    int max_degree;                 /* n: degree of the polynomial of |x| (in x^2) of the maximum */
    double max_bound;               /* the maximum is accurate for |Q(s',a) - Q(s',a')| <= max_bound */
    double adam_beta1, adam_beta2;
    double adam_delta;              /* HE-Adam's variance floor */
    double adam_prior;              /* HE-Adam's prior second moment */
    rl_he_optimizer optimizer;     /* he_adam (default), sgd, or adam (exact; clear only) */
    int adam_pack;                  /* HE-Adam on this many parameter vectors per ciphertext (1: one each;
                                       a power of two, adam_pack x S <= N/2 on ckks; rl_he_pack) */
    double reward_scale;            /* the owner multiplies rewards by this before encrypting them: keeps
                                       Q-values inside the polynomials' intervals (returns are reported unscaled) */
    int normalize_obs;              /* 1: the owner divides each observation by its bound max(|low|, |high|)
                                       where that is finite (rl_he_obs_scale); 0: raw observations */
} rl_he_dqn_hparams;

/* Defaults for CartPole-v1 (docs/he-dqn.md). */
void rl_he_dqn_hparams_default(rl_he_dqn_hparams *hp);
/* The tuned defaults for a discrete task (CL_ERR_UNSUPPORTED for a continuous
 * one, CL_ERR_INVALID for an unknown one). */
cl_status rl_he_dqn_hparams_for_env(const char *env_id, rl_he_dqn_hparams *hp);
/* "NAME=VALUE" with the names of the fields above (Stable-Baselines3's where
 * they exist; net_arch also as "[H,H]"; optimizer he_adam|sgd|adam). An
 * unknown name or a bad value: CL_ERR_INVALID and a message in err. */
cl_status rl_he_dqn_hp_assign(rl_he_dqn_hparams *hp, const char *assignment, char *err, size_t errlen);
/* Whole-set consistency (what rl_he_dqn_create refuses), with a message. */
cl_status rl_he_dqn_hp_check(const rl_he_dqn_hparams *hp, char *err, size_t errlen);
/* One line "name=value ..." of every field. */
void rl_he_dqn_hp_format(const rl_he_dqn_hparams *hp, char *buf, size_t cap);
/* The inverse of rl_he_dqn_hp_format: the defaults, then each space-separated
 * NAME=VALUE of line, then the whole-set check (CL_ERR_INVALID and a message). */
cl_status rl_he_dqn_hp_parse_line(const char *line, rl_he_dqn_hparams *hp, char *err, size_t errlen);

/* The number of vectors of the initial state the owner encrypts (weights,
 * then the optimizer's state), in rl_he_dqn_pf_init_vec's order; 0 if the
 * settings are unusable. */
size_t rl_he_dqn_init_count(const rl_he_dqn_hparams *hp, const char *env_id);

/* The padded width D and the slot count S = 2 D B the slot machine must have
 * for env_id and hp (CL_ERR_INVALID for an unknown or continuous environment). */
cl_status rl_he_dqn_layout(const char *env_id, const rl_he_dqn_hparams *hp, size_t *d_out, size_t *slots_out);

typedef struct rl_he_dqn rl_he_dqn;

/* Creates the agent: its environment, networks (initialized PyTorch-style from
 * seed and encrypted by the owner), HE-Adam state and replay. ctx must have
 * rl_he_dqn_layout's slot count and at least nn_he_adam_depth() levels; ctx and
 * owner stay the caller's. */
cl_status rl_he_dqn_create(const char *env_id, const rl_he_dqn_hparams *hp, slots_ctx *ctx, slots_owner *owner,
                        uint64_t seed, rl_he_dqn **out);
void rl_he_dqn_free(rl_he_dqn *ag);

/* Called at the end of every episode during learning. */
typedef void (*rl_he_dqn_episode_fn)(void *user, int64_t step, double episode_return, int episode_length);

/* Runs n_steps environment steps: exploration, storage, training phases and
 * target updates as SB3's DQN schedules them. Can be called repeatedly. */
cl_status rl_he_dqn_learn(rl_he_dqn *ag, int64_t n_steps, rl_he_dqn_episode_fn cb, void *user);

/* Greedy action for obs (the owner decrypts Q(obs, .) and takes the argmax);
 * q (n_actions values, or NULL) receives the decrypted Q-values. */
cl_status rl_he_dqn_act(rl_he_dqn *ag, const double *obs, int *action, double *q);
/* Runs `episodes` greedy episodes in a fresh environment reset from seed. */
cl_status rl_he_dqn_evaluate(rl_he_dqn *ag, int episodes, uint64_t seed, double *returns);

/* The phases of a training step, in order, each with its own counters. */
enum {
    RL_HE_DQN_PHASE_TARGET_FORWARD = 0, /* Q_target(s') */
    RL_HE_DQN_PHASE_TARGET_MAX,         /* polynomial max, gamma, broadcast, r + (1 - done) ... */
    RL_HE_DQN_PHASE_FORWARD,            /* online forward with caches */
    RL_HE_DQN_PHASE_LOSS,               /* dQ = 2 (Q - y) A / B */
    RL_HE_DQN_PHASE_BACKWARD,           /* backpropagation through the three layers */
    RL_HE_DQN_PHASE_OPTIMIZER,          /* the optimizer on every parameter vector */
    RL_HE_DQN_PHASES
};
const char *rl_he_dqn_phase_name(int phase);

/* What training and acting cost so far, counted by the slot machine. */
typedef struct rl_he_dqn_stats {
    int64_t env_steps;
    int64_t train_steps;
    int64_t episodes;
    int64_t greedy_actions;  /* action selections that ran the network */
    slots_counters train;    /* summed over all training steps (min_level: lowest reached) */
    slots_counters act;      /* summed over all greedy action selections */
    slots_counters target;   /* summed over all target updates */
    slots_counters phase[RL_HE_DQN_PHASES]; /* train, split by phase */
    double phase_seconds[RL_HE_DQN_PHASES]; /* wall-clock time of each phase, summed */
} rl_he_dqn_stats;
const rl_he_dqn_stats *rl_he_dqn_get_stats(const rl_he_dqn *ag);

/* Layer sizes: layer 0..2, in x out. */
int rl_he_dqn_layer_count(void);
void rl_he_dqn_layer_shape(const rl_he_dqn *ag, int layer, size_t *in, size_t *out);
/* The owner decrypts layer's weights: W (out x in, row-major) from the diagonal
 * set (transposed = false) or the transposed set, and the bias (b may be NULL). */
cl_status rl_he_dqn_get_weights(rl_he_dqn *ag, int layer, bool transposed, double *W, double *b);
/* (The first layer's transposed set is never used, so never updated:
 * CL_ERR_UNSUPPORTED for layer 0 transposed.) */
/* The gradients of the last training step, decrypted the same way; only the
 * diagonal set has them (transposed: CL_ERR_UNSUPPORTED). */
cl_status rl_he_dqn_get_grads(rl_he_dqn *ag, int layer, bool transposed, double *dW, double *db);
/* The decrypted action sequence of learning so far (rl_he_dqn_get_stats()->env_steps of them). */
const int *rl_he_dqn_actions(const rl_he_dqn *ag);

/* Census: what one training step and one greedy action cost at a level
 * budget, measured by a short run on the clear backend, and the rotation
 * steps (the Galois keys) an encrypted run needs. */
#define RL_HE_DQN_MAX_ROT_STEPS 64
typedef struct rl_he_dqn_census {
    size_t slots;                        /* S */
    size_t width;                        /* D */
    int levels;                          /* the level budget it was measured at */
    slots_counters train_step;           /* per training step (mean of the run; min_level: lowest) */
    slots_counters act;                  /* per greedy action */
    slots_counters phase[RL_HE_DQN_PHASES]; /* per training step, by phase */
    int rot_steps[RL_HE_DQN_MAX_ROT_STEPS]; /* distinct rotation steps, normalized to (0, S) */
    size_t n_rot_steps;
} rl_he_dqn_census;
cl_status rl_he_dqn_census_run(const char *env_id, const rl_he_dqn_hparams *hp, int levels, rl_he_dqn_census *out);

/* The owner decrypts the online network into a plain MLP (hidden activation
 * NN_ACT_POLY2 with hp.activation_bound), the model `cipherl eval` runs;
 * *out is the caller's (nn_mlp_free). */
struct nn_mlp;
cl_status rl_he_dqn_export_mlp(rl_he_dqn *ag, struct nn_mlp **out);

/* ---- lower level, for tests ---- */
/* The owner stores one transition (obs and next_obs: obs_dim values). */
cl_status rl_he_dqn_store(rl_he_dqn *ag, const double *obs, int action, double reward, const double *next_obs,
                       bool terminated);
/* One training step on the stored transitions idx[0..B) (idx[b] ≡ b mod B,
 * indices into the replay's slots) followed by no target update. */
cl_status rl_he_dqn_train_on(rl_he_dqn *ag, const size_t *idx);
/* One training step on a stratified mini-batch drawn as learning draws it
 * (CL_ERR_STATE before batch_size transitions are stored). */
cl_status rl_he_dqn_train_sampled(rl_he_dqn *ag);
/* Hard target update now. */
cl_status rl_he_dqn_update_target(rl_he_dqn *ag);

/* ============================================================ owner and platform apart
 *
 * An agent is two objects: the platform (rl_he_dqn_pf: weights, target,
 * optimizer state, replay, the training step; evaluation keys only) and the
 * owner (rl_he_dqn_ow: environment, exploration, encryption, decryption). The
 * owner reaches the platform through a rl_he_dqn_link: in one process a direct
 * call (rl_he_dqn below), across processes the net layer's protocol. */

#define RL_HE_DQN_TRANSITION_VECS 5 /* s, s', one-hot a, reward, 1 - terminated */

typedef struct rl_he_dqn_pf rl_he_dqn_pf;
typedef struct rl_he_dqn_ow rl_he_dqn_ow;

typedef struct rl_he_dqn_link {
    void *user;
    /* q = Enc(Q(s, .)) from x = Enc(s) at batch position 0 (x may be consumed) */
    cl_status (*act)(void *user, slots_vec *x, slots_vec *q);
    /* environment step `step` (1, 2, ...): store its transition, run gradient_steps training steps, then a
     * hard target update if asked */
    cl_status (*step)(void *user, int64_t step, slots_vec *const tr[RL_HE_DQN_TRANSITION_VECS], int64_t gradient_steps,
                      bool update_target);
} rl_he_dqn_link;

/* The seed of the platform's mini-batch sampler for an agent seeded `seed`
 * (so that a remote platform samples as an in-process one does). */
uint64_t rl_he_dqn_sample_seed(uint64_t seed);

/* ---- platform ---- */
cl_status rl_he_dqn_pf_create(const char *env_id, const rl_he_dqn_hparams *hp, slots_ctx *ctx, uint64_t sample_seed,
                           rl_he_dqn_pf **out);
void rl_he_dqn_pf_free(rl_he_dqn_pf *pf);
/* The i-th vector of the initial state (i < rl_he_dqn_init_count), to receive the
 * owner's encryption; then rl_he_dqn_pf_init_done (CL_ERR_STATE if one is empty). */
slots_vec *rl_he_dqn_pf_init_vec(rl_he_dqn_pf *pf, size_t i);
cl_status rl_he_dqn_pf_init_done(rl_he_dqn_pf *pf);
cl_status rl_he_dqn_pf_act(rl_he_dqn_pf *pf, slots_vec *x, slots_vec *q);
/* CL_ERR_STATE before initialization or when step is not the next one. */
cl_status rl_he_dqn_pf_step(rl_he_dqn_pf *pf, int64_t step, slots_vec *const tr[RL_HE_DQN_TRANSITION_VECS],
                         int64_t gradient_steps, bool update_target);
cl_status rl_he_dqn_pf_store(rl_he_dqn_pf *pf, slots_vec *const tr[RL_HE_DQN_TRANSITION_VECS]);
cl_status rl_he_dqn_pf_train_on(rl_he_dqn_pf *pf, const size_t *idx);
cl_status rl_he_dqn_pf_train_sampled(rl_he_dqn_pf *pf);
cl_status rl_he_dqn_pf_update_target(rl_he_dqn_pf *pf);
const rl_he_dqn_stats *rl_he_dqn_pf_get_stats(const rl_he_dqn_pf *pf);

/* Durable state: the vector sets (an entry may be NULL, as the target's
 * transposed diagonals, or empty, as replay chunks not yet written) and the
 * scalars. A training step changes W, M and R; a target update TW; step n
 * writes replay chunk rl_he_dqn_pf_chunk_of_step(n) of the five replay sets. */
typedef enum rl_he_dqn_set {
    RL_HE_DQN_SET_W = 0, RL_HE_DQN_SET_M, RL_HE_DQN_SET_R, RL_HE_DQN_SET_TW,
    RL_HE_DQN_SET_RS, RL_HE_DQN_SET_RN, RL_HE_DQN_SET_RA, RL_HE_DQN_SET_RR, RL_HE_DQN_SET_RD,
    RL_HE_DQN_SETS
} rl_he_dqn_set;
size_t rl_he_dqn_pf_set_size(const rl_he_dqn_pf *pf, rl_he_dqn_set set);
slots_vec *rl_he_dqn_pf_set_vec(rl_he_dqn_pf *pf, rl_he_dqn_set set, size_t i);
size_t rl_he_dqn_pf_chunk_of_step(const rl_he_dqn_pf *pf, int64_t step);
typedef struct rl_he_dqn_pf_scalars {
    int64_t env_steps, train_steps, greedy_actions;
    uint64_t pos, stored;
    uint64_t rng[4]; /* the sampler's state */
    bool initialized;
} rl_he_dqn_pf_scalars;
void rl_he_dqn_pf_get_scalars(const rl_he_dqn_pf *pf, rl_he_dqn_pf_scalars *s);
/* CL_ERR_FORMAT for values no run could have reached. */
cl_status rl_he_dqn_pf_set_scalars(rl_he_dqn_pf *pf, const rl_he_dqn_pf_scalars *s);

/* ---- owner ---- */
/* ctx: a context of the same backend and slot count as the platform's (it
 * only holds vectors the owner encrypts and decrypts). */
cl_status rl_he_dqn_ow_create(const char *env_id, const rl_he_dqn_hparams *hp, slots_ctx *ctx, slots_owner *owner,
                           uint64_t seed, const rl_he_dqn_link *link, rl_he_dqn_ow **out);
void rl_he_dqn_ow_free(rl_he_dqn_ow *ow);
/* Encrypts the initial state into vecs[0..n) (n = rl_he_dqn_init_count). Call once, first. */
cl_status rl_he_dqn_ow_initial_state(rl_he_dqn_ow *ow, slots_vec *const *vecs, size_t n);
cl_status rl_he_dqn_ow_learn(rl_he_dqn_ow *ow, int64_t n_steps, rl_he_dqn_episode_fn cb, void *user);
cl_status rl_he_dqn_ow_act(rl_he_dqn_ow *ow, const double *obs, int *action, double *q);
cl_status rl_he_dqn_ow_evaluate(rl_he_dqn_ow *ow, int episodes, uint64_t seed, double *returns);
/* Fills the owner's transition vectors for replay position pos (what the link's step sends). */
cl_status rl_he_dqn_ow_encrypt_transition(rl_he_dqn_ow *ow, size_t pos, const double *obs, int action, double reward,
                                       const double *next_obs, bool terminated);
const int *rl_he_dqn_ow_actions(const rl_he_dqn_ow *ow);
/* Decrypts the online weights w[0..n) (RL_HE_DQN_SET_W order, n = its size) into a plain MLP. */
struct nn_mlp;
cl_status rl_he_dqn_ow_weights_to_mlp(rl_he_dqn_ow *ow, slots_vec *const *w, size_t n, struct nn_mlp **out);

#endif
