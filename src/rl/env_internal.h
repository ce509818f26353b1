/* The whole state of an environment, for training checkpoints (rl layer
 * internal, not installed). */
#ifndef CIPHERL_RL_ENV_INTERNAL_H
#define CIPHERL_RL_ENV_INTERNAL_H

#include "cipherl/rl.h"

typedef struct rl_env_raw {
    double s[RL_MAX_STATE]; /* spec->state_dim values used, the rest 0 */
    bool has_state, done_before;
    int elapsed;
} rl_env_raw;

void rl_env_raw_get(const rl_env *env, rl_env_raw *raw);
/* CL_ERR_FORMAT for a state that env could not have reached: a non-finite
 * value, an elapsed count outside [0, max_episode_steps], or steps counted
 * without a state. */
cl_status rl_env_raw_set(rl_env *env, const rl_env_raw *raw);

#endif
