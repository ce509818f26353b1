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
/* Draws the initial state as Gymnasium's reset does (from rng), writes obs. */
void rl_env_reset(rl_env *env, rl_rng *rng, double *obs);
/* Sets the internal state (fixtures' layout) and resets the step counter. */
cl_status rl_env_set_state(rl_env *env, const double *state, size_t len, double *obs);
/* One step. Discrete: action[0] holds the action index (an integral value in
 * range, else CL_ERR_INVALID and nothing changes). Continuous: action_dim values,
 * clipped as Gymnasium clips them. */
cl_status rl_env_step(rl_env *env, const double *action, double *obs, double *reward,
                      bool *terminated, bool *truncated);

/* ========================================================= end environments */

/* ================================================================== agents */
/* (section owned by the baselines work: rl_dqn_*, rl_td3_*, rl_replay_*, rl_hp_*) */

/* ============================================================== end agents */

#ifdef __cplusplus
}
#endif
#endif
