/* cipherl rl layer: environments, replay, agents, evaluation.
 * Includes only layers below it (ring, ckks, slots, nn). */
#ifndef CIPHERL_RL_H
#define CIPHERL_RL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "cipherl/common.h"
#include "cipherl/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================ environments */
/* (section owned by the environments work: rl_env_*, rl_rng_*) */

/* The project's own PRNG (xoshiro256**, seeded through splitmix64): fast,
 * reproducible, NOT for secrets (those come from ring_random_bytes). */
typedef struct rl_rng {
    uint64_t s[4];
} rl_rng;

void rl_rng_seed(rl_rng *rng, uint64_t seed);
uint64_t rl_rng_next(rl_rng *rng);
double rl_rng_uniform(rl_rng *rng);                    /* [0, 1) */
double rl_rng_range(rl_rng *rng, double lo, double hi); /* [lo, hi) */
double rl_rng_normal(rl_rng *rng);                     /* N(0, 1) */
uint32_t rl_rng_below(rl_rng *rng, uint32_t n);        /* uniform in [0, n), n > 0 */

#define RL_MAX_OBS 8   /* largest observation dimension of any environment */
#define RL_MAX_STATE 8 /* largest internal state dimension */
#define RL_MAX_ACT 4   /* largest continuous action dimension */

typedef enum rl_action_kind { RL_ACTION_DISCRETE, RL_ACTION_CONTINUOUS } rl_action_kind;

/* What Gymnasium 1.x declares for an environment. */
typedef struct rl_env_spec {
    const char *id;            /* "CartPole-v1", ... */
    int obs_dim;
    int state_dim;             /* length of the internal state (fixtures' "state") */
    rl_action_kind action_kind;
    int n_actions;             /* discrete: actions are 0 .. n_actions-1 */
    int action_dim;            /* continuous: dimension, with bounds below */
    double action_low, action_high;
    int max_episode_steps;     /* time-limit truncation */
    double reward_threshold;   /* Gymnasium's "solved" threshold (NAN if none) */
    double obs_low[RL_MAX_OBS], obs_high[RL_MAX_OBS];
} rl_env_spec;

size_t rl_env_count(void);
const rl_env_spec *rl_env_spec_at(size_t i);
const rl_env_spec *rl_env_find(const char *id); /* NULL if unknown */

typedef struct rl_env rl_env;

/* CL_ERR_INVALID for an unknown id, CL_ERR_NOMEM. */
cl_status rl_env_create(const char *id, rl_env **out);
void rl_env_free(rl_env *env);
const rl_env_spec *rl_env_get_spec(const rl_env *env);
/* Continuous actions: maps each of spec->action_dim values from [-1, 1]
 * (clipped there first) to [action_low, action_high], as SB3's
 * unscale_action after its clip. Every TD3 policy acts through it. */
void rl_env_unscale_action(const rl_env_spec *spec, const double *scaled, double *action);
/* Draws the initial state as Gymnasium's reset does (from rng), writes obs. */
void rl_env_reset(rl_env *env, rl_rng *rng, double *obs);
/* Sets the internal state (fixtures' layout) and resets the step counter. */
cl_status rl_env_set_state(rl_env *env, const double *state, size_t len, double *obs);
/* One step. Discrete: action[0] holds the action index (an integral value in
 * range, else CL_ERR_INVALID and nothing changes). Continuous: action_dim values,
 * clipped as Gymnasium clips them. */
cl_status rl_env_step(rl_env *env, const double *action, double *obs, double *reward,
                      bool *terminated, bool *truncated);
/* Copies the internal state (fixtures' layout, spec->state_dim doubles) into
 * state: CL_ERR_INVALID if len < state_dim, CL_ERR_STATE before the first
 * reset or set_state. */
cl_status rl_env_get_state(const rl_env *env, double *state, size_t len);
/* Steps taken since the last reset or set_state (what the time limit counts). */
int rl_env_elapsed_steps(const rl_env *env);

/* ========================================================= end environments */

/* ================================================================== agents */
/* (section owned by the baselines work: rl_dqn_*, rl_td3_*, rl_replay_*, rl_hp_*) */

/* ---- hyperparameters: Stable-Baselines3's names, RL Zoo's tuned defaults */

typedef enum rl_algo { RL_ALGO_DQN = 1, RL_ALGO_TD3 = 2 } rl_algo;
typedef enum rl_noise_type {
    RL_NOISE_NONE = 0,
    RL_NOISE_NORMAL = 1,      /* "normal": N(0, noise_std^2) per step */
    RL_NOISE_OU = 2           /* "ornstein-uhlenbeck": theta 0.15, dt 0.01 */
} rl_noise_type;

#define RL_MAX_NET_ARCH 6

typedef struct rl_hparams {
    rl_algo algo;
    int64_t n_timesteps;            /* training steps when --steps is not given */
    double learning_rate;
    double learning_rate_decay;     /* learning_rate x (1 - decay x progress); 0: constant */
    int64_t buffer_size;
    int64_t learning_starts;
    int batch_size;
    double tau;
    double gamma;
    int64_t train_freq;             /* environment steps between training phases */
    int64_t gradient_steps;         /* per phase; -1: as many as steps collected */
    int n_net_arch;                 /* hidden layers (of every network) */
    int net_arch[RL_MAX_NET_ARCH];
    double adam_eps;                /* torch.optim.Adam's eps */
    /* DQN */
    int64_t target_update_interval; /* environment steps between target updates */
    double exploration_fraction;
    double exploration_initial_eps;
    double exploration_final_eps;
    double max_grad_norm;
    /* TD3 */
    int policy_delay;
    double target_policy_noise;
    double target_noise_clip;
    rl_noise_type noise_type;
    double noise_std;
    /* The HE-friendly pieces in plain mode, to measure what each costs
     * (docs/he-td3.md, "Where the learning is lost"). Defaults: ReLU, tanh. */
    nn_act activation_fn;        /* DQN's Q-network: NN_ACT_RELU or NN_ACT_POLY2 */
    nn_act actor_activation_fn;  /* TD3's actor hidden layers: the same two */
    nn_act critic_activation_fn; /* TD3's critics' hidden layers: the same two */
    double activation_bound;     /* b of NN_ACT_POLY2 (every network that uses it) */
    nn_act actor_output;         /* TD3: NN_ACT_TANH, NN_ACT_SQUASH3 or NN_ACT_SQUASH5 */
    double squash_bound;         /* A of the squash */
} rl_hparams;

const char *rl_algo_name(rl_algo algo);            /* "dqn", "td3" */
cl_status rl_algo_parse(const char *name, rl_algo *out);
/* The algorithm for an environment's action space: DQN for discrete, TD3 for
 * continuous. */
rl_algo rl_algo_default_for(const rl_env_spec *spec);
/* Stable-Baselines3's defaults for algo, overridden by the RL Zoo's tuned set
 * for env_id when it has one. CL_ERR_UNSUPPORTED if algo cannot act in that
 * environment's action space, CL_ERR_INVALID for an unknown env_id. */
cl_status rl_hp_defaults(rl_algo algo, const char *env_id, rl_hparams *hp);
/* Sets one hyperparameter by its Stable-Baselines3 name from text
 * ("net_arch" takes "[256,256]" or "256,256"; "noise_type" takes "normal",
 * "ornstein-uhlenbeck" or "none"; "activation_fn", "actor_activation_fn" and
 * "critic_activation_fn" take "relu" or "poly2"; "actor_output" takes "tanh",
 * "squash3" or "squash5"). On error, returns CL_ERR_INVALID (unknown
 * name, or a name that does not apply to hp->algo) or CL_ERR_PARSE (bad
 * value) and writes a one-line explanation to err. */
cl_status rl_hp_set(rl_hparams *hp, const char *name, const char *value, char *err,
                    size_t errlen);
/* The same from "NAME=VALUE". */
cl_status rl_hp_assign(rl_hparams *hp, const char *assignment, char *err, size_t errlen);
/* Checks the whole set (ranges that depend on each other). */
cl_status rl_hp_check(const rl_hparams *hp, char *err, size_t errlen);
/* Writes "name=value" pairs separated by spaces (the ones that apply to
 * hp->algo); returns the length it needed (snprintf-style). */
size_t rl_hp_format(const rl_hparams *hp, char *buf, size_t len);

/* ---- replay buffer (Stable-Baselines3's ReplayBuffer with
 * handle_timeout_termination: `done` holds true terminations only) */

typedef struct rl_replay {
    size_t capacity, size, pos;
    int obs_dim, act_dim;
    double *obs, *next_obs, *act, *rew, *done;
} rl_replay;

cl_status rl_replay_create(size_t capacity, int obs_dim, int act_dim, rl_replay **out);
void rl_replay_free(rl_replay *rb);
void rl_replay_add(rl_replay *rb, const double *obs, const double *act, double reward,
                   const double *next_obs, bool terminated);
/* batch indices uniform with replacement in [0, size); size must be > 0. */
void rl_replay_sample(const rl_replay *rb, rl_rng *rng, int batch, double *obs, double *act,
                      double *reward, double *next_obs, double *done);

/* ---- deterministic policies (what a model file holds) */

typedef struct rl_policy rl_policy;
/* The greedy (DQN) or deterministic actor (TD3) action for obs, as the
 * environment takes it (discrete: the index in action[0]; continuous: the
 * actor's output clipped to [-1, 1], then rescaled to the action bounds). */
cl_status rl_policy_act(rl_policy *pol, const double *obs, double *action);
const char *rl_policy_env_id(const rl_policy *pol);
rl_algo rl_policy_algo(const rl_policy *pol);
/* The policy's network (owned by the policy), to inspect its weights. */
const nn_mlp *rl_policy_network(const rl_policy *pol);
/* Runs `episodes` deterministic episodes (resets drawn from rng), writes each
 * return to returns. CL_ERR_PARAMS if env is not the policy's environment. */
cl_status rl_policy_evaluate(rl_policy *pol, rl_env *env, rl_rng *rng, int episodes,
                             double *returns);
void rl_policy_free(rl_policy *pol);

/* A policy around a network trained elsewhere (HE-DQN's decrypted network,
 * HE-TD3's actor, say): algo's policy network for environment env_id, with
 * obs_dim inputs and n_actions (DQN) or action_dim (TD3) outputs, hidden
 * activation NN_ACT_RELU or NN_ACT_POLY2 (then net->act_bound finite and
 * > 0), output NN_ACT_IDENTITY (DQN's Q-values) or, for TD3's actor,
 * NN_ACT_TANH or NN_ACT_SQUASH3/5 (then net->squash_bound finite and > 0).
 * Takes ownership of net on success (rl_policy_free frees it); on failure
 * the caller keeps it. CL_ERR_PARAMS if net does not fit (sizes, activations,
 * bound), CL_ERR_UNSUPPORTED if algo does not fit the action space,
 * CL_ERR_INVALID for NULL arguments, an unknown env_id, an unknown algo or a
 * non-finite parameter, CL_ERR_NOMEM. */
cl_status rl_policy_from_mlp(rl_algo algo, const char *env_id, nn_mlp *net, rl_policy **out);

/* Model files: "CIPHERLM" magic, u32 format version, algorithm, environment
 * id and spaces, the policy network, FNV-1a 64 checksum of all that precedes
 * it. Version 3 carries the network block of version 3 (NN_MLP_FORMAT_VERSION:
 * activations including NN_ACT_POLY2, NN_ACT_SQUASH3/5 and their bounds);
 * version 2 files (network block 2: NN_ACT_POLY2 and its bound) and version 1
 * files (ReLU networks of older builds) are still read. Loading returns
 * CL_ERR_FORMAT/TRUNCATED/VERSION/CHECKSUM/IO, never crashes. */
#define RL_MODEL_VERSION 3
cl_status rl_policy_deserialize(const uint8_t *buf, size_t len, rl_policy **out);
cl_status rl_policy_load(const char *path, rl_policy **out);
/* Writes pol's model file (version RL_MODEL_VERSION) to path atomically: to
 * "path.tmp" first, then renamed. CL_ERR_IO, CL_ERR_NOMEM. */
cl_status rl_policy_save(const rl_policy *pol, const char *path);

/* ---- the gap of DESIGN.md and its uncertainty over seeds */
typedef struct rl_gap {
    double normalized; /* (R - R_random) / (R_plain - R_random), R the mean over seeds */
    double gap;        /* 1 - normalized */
    double lo, hi;     /* the central `level` interval of the gap (percentile bootstrap) */
} rl_gap;
/* The gap of the agent whose per-seed evaluation returns are r (n_seeds of
 * them) against the plain agent's r_plain on the same seeds, with R_random
 * the random policy's return; and how much it could move with other seeds:
 * `resamples` draws of n_seeds seeds with replacement, each seed keeping its
 * plain and its own return together (a paired bootstrap), give the gap's
 * central interval of probability `level` (0.95: the 2.5th and 97.5th
 * percentiles, nearest rank). A draw whose plain mean is not above R_random
 * has no gap and counts as +infinity; so does the estimate itself (then
 * normalized is NAN). The draws come from rl_rng seeded with `seed`:
 * the same inputs give the same interval. CL_ERR_INVALID for n_seeds 0,
 * a level outside (0, 1), resamples < 1 or a non-finite return. */
cl_status rl_gap_score(const double *r_plain, const double *r, size_t n_seeds, double r_random,
                       double level, int resamples, uint64_t seed, rl_gap *out);
/* ---- agents: DQN and TD3 with Stable-Baselines3's training loop */

typedef struct rl_agent rl_agent;

/* What one environment step did. */
typedef struct rl_step_info {
    int64_t step;         /* environment steps so far, this one included */
    bool episode_done;    /* an episode ended at this step (then the fields below) */
    int64_t episode;      /* episodes finished so far */
    double episode_return;
    int64_t episode_length;
    int64_t gradient_steps; /* gradient steps so far */
    double action[RL_MAX_ACT]; /* the action taken at this step (DQN: its index) */
} rl_step_info;

/* An agent for env_spec with hyperparameters hp, its networks and its own
 * random stream seeded from seed. CL_ERR_INVALID for bad hyperparameters,
 * CL_ERR_UNSUPPORTED for an algorithm that does not fit the action space. */
cl_status rl_agent_create(const rl_hparams *hp, const rl_env_spec *spec, uint64_t seed,
                          rl_agent **out);
void rl_agent_free(rl_agent *ag);
const rl_hparams *rl_agent_hparams(const rl_agent *ag);
/* Starts training in env for total_steps environment steps (the length the
 * exploration schedule spans): resets env from env_rng. */
cl_status rl_agent_begin(rl_agent *ag, rl_env *env, rl_rng *env_rng, int64_t total_steps);
/* One environment step with exploration, storage, and whatever training and
 * target updates Stable-Baselines3 does after it. */
cl_status rl_agent_step(rl_agent *ag, rl_env *env, rl_rng *env_rng, rl_step_info *info);
/* Counters so far (any pointer may be NULL): environment steps taken,
 * episodes finished, gradient steps done. */
void rl_agent_counters(const rl_agent *ag, int64_t *steps, int64_t *episodes,
                       int64_t *gradient_steps);
/* The agent's current deterministic policy (owned by the agent). */
rl_policy *rl_agent_policy(rl_agent *ag);
/* The model file of the current policy: *buf is malloc'ed, caller frees. */
cl_status rl_agent_serialize(const rl_agent *ag, uint8_t **buf, size_t *len);
cl_status rl_agent_save(const rl_agent *ag, const char *path);

/* ---- training checkpoints: the whole state of a training run, so that a
 * run stopped at any step goes on exactly (bit for bit) as if it had not
 * stopped. A checkpoint holds the hyperparameters, every network with its
 * target and Adam moments, the replay buffer's contents, the agent's
 * counters, exploration rate, action noise and random generator, the
 * environment's state and the environment's random generator, and an
 * opaque block of the caller's (a program's own bookkeeping: its progress
 * statistics, the length of its logs). File: "CIPHERLC" magic, u32
 * version, then all of the above little-endian, then the FNV-1a 64 checksum
 * of everything before it. Plain DQN and TD3 (rl_agent) only. */
#define RL_CHECKPOINT_VERSION 1
/* Writes the checkpoint of a begun agent, its environment and env_rng to
 * *buf (malloc'ed; the caller frees). user (user_len bytes, may be NULL when
 * user_len is 0) is stored as it is. CL_ERR_STATE before rl_agent_begin,
 * CL_ERR_PARAMS if env is not the agent's environment, CL_ERR_INVALID,
 * CL_ERR_NOMEM. */
cl_status rl_checkpoint_serialize(const rl_agent *ag, const rl_env *env, const rl_rng *env_rng,
                                  const void *user, size_t user_len, uint8_t **buf, size_t *len);
/* Rebuilds what rl_checkpoint_serialize wrote: a new agent (begun, ready
 * for rl_agent_step), a new environment and the environment's generator;
 * *user (malloc'ed, NUL-terminated after its *user_len bytes; the caller
 * frees) is the caller's block. On failure nothing is allocated:
 * CL_ERR_FORMAT (not a checkpoint, or contents no run could have reached:
 * unknown environment, bad hyperparameters, counters out of range, a
 * non-finite value), CL_ERR_TRUNCATED, CL_ERR_VERSION, CL_ERR_CHECKSUM,
 * CL_ERR_NOMEM. Never crashes on any input. */
cl_status rl_checkpoint_deserialize(const uint8_t *buf, size_t len, rl_agent **ag, rl_env **env,
                                    rl_rng *env_rng, uint8_t **user, size_t *user_len);
/* The same through a file; saving is atomic (a crash leaves the previous
 * checkpoint or the new one, whole). CL_ERR_IO besides the codes above. */
cl_status rl_checkpoint_save(const rl_agent *ag, const rl_env *env, const rl_rng *env_rng,
                             const void *user, size_t user_len, const char *path);
cl_status rl_checkpoint_load(const char *path, rl_agent **ag, rl_env **env, rl_rng *env_rng,
                             uint8_t **user, size_t *user_len);
/* ============================================================== end agents */

#ifdef __cplusplus
}
#endif
#endif
