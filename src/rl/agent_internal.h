/* Internals shared by the agent files of the rl layer (not installed). */
#ifndef CIPHERL_RL_AGENT_INTERNAL_H
#define CIPHERL_RL_AGENT_INTERNAL_H

#include "cipherl/nn.h"
#include "cipherl/rl.h"

struct rl_policy {
    rl_algo algo;
    char env_id[64];
    const rl_env_spec *spec;
    nn_mlp *net;     /* DQN: Q-network; TD3: actor (tanh output in [-1, 1]); hidden ReLU or POLY2 */
    nn_mlp_ws *ws;   /* batch of one */
    int owns_net;
};

/* Makes a policy around net (owned if owns_net). */
cl_status rl_policy_wrap(rl_algo algo, const rl_env_spec *spec, nn_mlp *net, int owns_net,
                         rl_policy *pol);
void rl_policy_release(rl_policy *pol); /* frees what pol holds, not pol */
cl_status rl_policy_serialize(const rl_policy *pol, uint8_t **buf, size_t *len);

struct rl_agent {
    rl_hparams hp;
    const rl_env_spec *spec;
    rl_rng rng;
    int obs_dim, act_dim;        /* act_dim: 1 for DQN (the index), action_dim for TD3 */
    rl_replay *rb;
    double *b_obs, *b_act, *b_rew, *b_next, *b_done; /* a sampled batch */
    double *scratch;             /* per-algorithm batch buffers */

    int64_t total_steps, num_timesteps, n_calls, episodes, grad_steps, n_updates;
    int64_t rollout_steps;
    bool begun;
    double obs[RL_MAX_OBS];
    double ep_ret;
    int64_t ep_len;

    /* DQN */
    double exploration_rate;
    nn_mlp *q, *q_target;
    nn_mlp_ws *ws_q, *ws_qt;
    nn_adam *q_opt;
    double *q_grad;

    /* TD3 */
    nn_mlp *actor, *actor_target, *critic[2], *critic_target[2];
    nn_mlp_ws *ws_a, *ws_at, *ws_c[2], *ws_ct[2];
    nn_adam *actor_opt, *critic_opt[2];
    double *actor_grad, *critic_grad[2];
    double ou[RL_MAX_ACT];

    rl_policy policy;
};

double rl_uniform_cb(void *rng);

/* The learning rate of a training phase, as SB3's schedules see it: with
 * learning_rate_decay d, learning_rate x (1 - d x progress), progress being
 * the steps taken over the steps of the run (d = 1 is the RL Zoo's lin_). */
static inline double rl_scheduled_lr(const rl_agent *ag)
{
    double progress = (double)ag->num_timesteps / (double)ag->total_steps;
    progress = progress < 0.0 ? 0.0 : progress > 1.0 ? 1.0 : progress;
    return ag->hp.learning_rate * (1.0 - ag->hp.learning_rate_decay * progress);
}

cl_status rl_dqn_init(rl_agent *ag);
void rl_dqn_free(rl_agent *ag);
void rl_dqn_act(rl_agent *ag, double *env_action, double *buf_action);
void rl_dqn_after_step(rl_agent *ag);
void rl_dqn_update_exploration(rl_agent *ag);
void rl_dqn_train(rl_agent *ag, int64_t gradient_steps);

cl_status rl_td3_init(rl_agent *ag);
void rl_td3_free(rl_agent *ag);
void rl_td3_act(rl_agent *ag, double *env_action, double *buf_action);
void rl_td3_episode_end(rl_agent *ag);
void rl_td3_train(rl_agent *ag, int64_t gradient_steps);

#endif
