/* DQN as Stable-Baselines3 trains it: epsilon-greedy with a linear schedule
 * over exploration_fraction of training, a Q-network and its target, Huber
 * (smooth L1) loss on the taken action's value against
 * r + gamma (1 - terminated) max_a' Q_target(s', a'), gradient norm clipped
 * to max_grad_norm, Adam, and a Polyak target update (tau = 1: hard copy)
 * every target_update_interval environment steps. activation_fn=poly2 swaps
 * ReLU for HE-DQN's quadratic, to measure what it costs. */
#include <stdlib.h>
#include <string.h>

#include "rl/agent_internal.h"

cl_status rl_dqn_init(rl_agent *ag)
{
    const rl_hparams *hp = &ag->hp;
    int nA = ag->spec->n_actions;
    cl_status st = nn_mlp_create(ag->obs_dim, hp->net_arch, hp->n_net_arch, nA, hp->activation_fn,
                                 NN_ACT_IDENTITY, &ag->q);
    if (st == CL_OK)
        st = nn_mlp_create(ag->obs_dim, hp->net_arch, hp->n_net_arch, nA, hp->activation_fn,
                           NN_ACT_IDENTITY, &ag->q_target);
    if (st == CL_OK && hp->activation_fn == NN_ACT_POLY2) {
        st = nn_mlp_set_act_bound(ag->q, hp->activation_bound);
        if (st == CL_OK)
            st = nn_mlp_set_act_bound(ag->q_target, hp->activation_bound);
    }
    if (st != CL_OK)
        return st;
    nn_mlp_init_default(ag->q, rl_uniform_cb, &ag->rng);
    nn_mlp_copy_params(ag->q_target, ag->q);
    st = nn_mlp_ws_create(ag->q, hp->batch_size, &ag->ws_q);
    if (st == CL_OK)
        st = nn_mlp_ws_create(ag->q_target, hp->batch_size, &ag->ws_qt);
    if (st == CL_OK)
        st = nn_adam_create(ag->q->n_params, hp->learning_rate, 0.9, 0.999, hp->adam_eps,
                            &ag->q_opt);
    if (st != CL_OK)
        return st;
    ag->q_grad = malloc(ag->q->n_params * sizeof(double));
    /* targets, current values, their gradients, the output gradient */
    ag->scratch = malloc((size_t)hp->batch_size * (3 + (size_t)nA) * sizeof(double));
    if (!ag->q_grad || !ag->scratch)
        return CL_ERR_NOMEM;
    return CL_OK;
}

void rl_dqn_free(rl_agent *ag)
{
    nn_mlp_free(ag->q);
    nn_mlp_free(ag->q_target);
    nn_mlp_ws_free(ag->ws_q);
    nn_mlp_ws_free(ag->ws_qt);
    nn_adam_free(ag->q_opt);
    free(ag->q_grad);
}

/* stable_baselines3.common.utils.get_linear_fn */
static double linear_schedule(double start, double end, double end_fraction, double progress)
{
    if (progress > end_fraction || end_fraction <= 0.0)
        return progress > 0.0 || end_fraction > 0.0 ? end : start;
    return start + progress * (end - start) / end_fraction;
}

void rl_dqn_update_exploration(rl_agent *ag)
{
    const rl_hparams *hp = &ag->hp;
    double progress = (double)ag->num_timesteps / (double)ag->total_steps;
    ag->exploration_rate = linear_schedule(hp->exploration_initial_eps,
                                           hp->exploration_final_eps,
                                           hp->exploration_fraction, progress);
}

void rl_dqn_after_step(rl_agent *ag)
{
    if (ag->n_calls % ag->hp.target_update_interval == 0)
        nn_mlp_polyak(ag->q_target, ag->q, ag->hp.tau);
    rl_dqn_update_exploration(ag);
}

void rl_dqn_act(rl_agent *ag, double *env_action, double *buf_action)
{
    uint32_t nA = (uint32_t)ag->spec->n_actions;
    double a;
    if (ag->num_timesteps < ag->hp.learning_starts)
        a = (double)rl_rng_below(&ag->rng, nA);
    else if (rl_rng_uniform(&ag->rng) < ag->exploration_rate)
        a = (double)rl_rng_below(&ag->rng, nA);
    else
        rl_policy_act(&ag->policy, ag->obs, &a);
    env_action[0] = a;
    buf_action[0] = a;
}

void rl_dqn_train(rl_agent *ag, int64_t gradient_steps)
{
    const rl_hparams *hp = &ag->hp;
    const int B = hp->batch_size, nA = ag->spec->n_actions;
    double *target = ag->scratch, *current = target + B, *dcur = current + B,
           *dout = dcur + B;
    ag->q_opt->lr = rl_scheduled_lr(ag);
    for (int64_t g = 0; g < gradient_steps; g++) {
        rl_replay_sample(ag->rb, &ag->rng, B, ag->b_obs, ag->b_act, ag->b_rew, ag->b_next,
                         ag->b_done);
        const double *qn = nn_mlp_forward(ag->q_target, ag->ws_qt, ag->b_next, B);
        for (int b = 0; b < B; b++) {
            const double *row = qn + (size_t)b * nA;
            double m = row[0];
            for (int a = 1; a < nA; a++)
                m = row[a] > m ? row[a] : m;
            target[b] = ag->b_rew[b] + (1.0 - ag->b_done[b]) * hp->gamma * m;
        }
        const double *q = nn_mlp_forward(ag->q, ag->ws_q, ag->b_obs, B);
        for (int b = 0; b < B; b++)
            current[b] = q[(size_t)b * nA + (size_t)ag->b_act[b]];
        nn_loss_huber(current, target, (size_t)B, 1.0, dcur);
        memset(dout, 0, (size_t)B * (size_t)nA * sizeof(double));
        for (int b = 0; b < B; b++)
            dout[(size_t)b * nA + (size_t)ag->b_act[b]] = dcur[b];
        memset(ag->q_grad, 0, ag->q->n_params * sizeof(double));
        nn_mlp_backward(ag->q, ag->ws_q, dout, ag->q_grad, NULL);
        nn_clip_grad_norm(ag->q_grad, ag->q->n_params, hp->max_grad_norm);
        nn_adam_step(ag->q_opt, ag->q->params, ag->q_grad);
        ag->grad_steps++;
        ag->n_updates++;
    }
}
