/* TD3 as Stable-Baselines3 trains it: a tanh actor whose output in [-1, 1]
 * is rescaled to the action bounds, twin critics Q(s, a) on the rescaled
 * action, target policy smoothing (noise N(0, target_policy_noise) clipped
 * to target_noise_clip), the smaller twin target, MSE losses, Adam, and every
 * policy_delay critic updates one actor update (maximize Q1(s, actor(s)))
 * followed by Polyak updates of all targets. Exploration: Gaussian or
 * Ornstein-Uhlenbeck noise added to the rescaled action, clipped to
 * [-1, 1]; uniform actions before learning_starts. actor_activation_fn,
 * critic_activation_fn (poly2) and actor_output (squash3/5) put HE-TD3's
 * polynomials in place of ReLU and tanh, to measure what each costs; a
 * squash can leave [-1, 1] past 2A, and the clips above then apply. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rl/agent_internal.h"

#define OU_THETA 0.15
#define OU_DT 1e-2

cl_status rl_td3_init(rl_agent *ag)
{
    const rl_hparams *hp = &ag->hp;
    const int od = ag->obs_dim, ad = ag->act_dim, B = hp->batch_size;
    cl_status st;
#define TRY(x)                                                                                 \
    do {                                                                                       \
        st = (x);                                                                              \
        if (st != CL_OK)                                                                       \
            return st;                                                                         \
    } while (0)
    TRY(nn_mlp_create(od, hp->net_arch, hp->n_net_arch, ad, hp->actor_activation_fn,
                      hp->actor_output, &ag->actor));
    TRY(nn_mlp_create(od, hp->net_arch, hp->n_net_arch, ad, hp->actor_activation_fn,
                      hp->actor_output, &ag->actor_target));
    if (hp->actor_activation_fn == NN_ACT_POLY2) {
        TRY(nn_mlp_set_act_bound(ag->actor, hp->activation_bound));
        TRY(nn_mlp_set_act_bound(ag->actor_target, hp->activation_bound));
    }
    if (hp->actor_output != NN_ACT_TANH) {
        TRY(nn_mlp_set_squash_bound(ag->actor, hp->squash_bound));
        TRY(nn_mlp_set_squash_bound(ag->actor_target, hp->squash_bound));
    }
    nn_mlp_init_default(ag->actor, rl_uniform_cb, &ag->rng);
    nn_mlp_copy_params(ag->actor_target, ag->actor);
    for (int i = 0; i < 2; i++) {
        TRY(nn_mlp_create(od + ad, hp->net_arch, hp->n_net_arch, 1, hp->critic_activation_fn,
                          NN_ACT_IDENTITY, &ag->critic[i]));
        TRY(nn_mlp_create(od + ad, hp->net_arch, hp->n_net_arch, 1, hp->critic_activation_fn,
                          NN_ACT_IDENTITY, &ag->critic_target[i]));
        if (hp->critic_activation_fn == NN_ACT_POLY2) {
            TRY(nn_mlp_set_act_bound(ag->critic[i], hp->activation_bound));
            TRY(nn_mlp_set_act_bound(ag->critic_target[i], hp->activation_bound));
        }
        nn_mlp_init_default(ag->critic[i], rl_uniform_cb, &ag->rng);
        nn_mlp_copy_params(ag->critic_target[i], ag->critic[i]);
        TRY(nn_mlp_ws_create(ag->critic[i], B, &ag->ws_c[i]));
        TRY(nn_mlp_ws_create(ag->critic_target[i], B, &ag->ws_ct[i]));
        TRY(nn_adam_create(ag->critic[i]->n_params, hp->learning_rate, 0.9, 0.999, hp->adam_eps,
                           &ag->critic_opt[i]));
        ag->critic_grad[i] = malloc(ag->critic[i]->n_params * sizeof(double));
        if (!ag->critic_grad[i])
            return CL_ERR_NOMEM;
    }
    TRY(nn_mlp_ws_create(ag->actor, B, &ag->ws_a));
    TRY(nn_mlp_ws_create(ag->actor_target, B, &ag->ws_at));
    TRY(nn_adam_create(ag->actor->n_params, hp->learning_rate, 0.9, 0.999, hp->adam_eps,
                       &ag->actor_opt));
#undef TRY
    ag->actor_grad = malloc(ag->actor->n_params * sizeof(double));
    /* critic input, its gradient, target values, output gradient, action gradient */
    ag->scratch = malloc((size_t)B * (2 * (size_t)(od + ad) + 3 + (size_t)ad) * sizeof(double));
    if (!ag->actor_grad || !ag->scratch)
        return CL_ERR_NOMEM;
    return CL_OK;
}

void rl_td3_free(rl_agent *ag)
{
    nn_mlp_free(ag->actor);
    nn_mlp_free(ag->actor_target);
    nn_mlp_ws_free(ag->ws_a);
    nn_mlp_ws_free(ag->ws_at);
    nn_adam_free(ag->actor_opt);
    free(ag->actor_grad);
    for (int i = 0; i < 2; i++) {
        nn_mlp_free(ag->critic[i]);
        nn_mlp_free(ag->critic_target[i]);
        nn_mlp_ws_free(ag->ws_c[i]);
        nn_mlp_ws_free(ag->ws_ct[i]);
        nn_adam_free(ag->critic_opt[i]);
        free(ag->critic_grad[i]);
    }
}

void rl_td3_episode_end(rl_agent *ag)
{
    memset(ag->ou, 0, sizeof ag->ou);
}

void rl_td3_act(rl_agent *ag, double *env_action, double *buf_action)
{
    const rl_env_spec *s = ag->spec;
    const int ad = ag->act_dim;
    const double lo = s->action_low, hi = s->action_high;
    double scaled[RL_MAX_ACT];
    if (ag->num_timesteps < ag->hp.learning_starts) {
        for (int j = 0; j < ad; j++) {
            double u = rl_rng_range(&ag->rng, lo, hi);
            scaled[j] = 2.0 * (u - lo) / (hi - lo) - 1.0;
        }
    } else {
        const double *y = nn_mlp_forward(ag->actor, ag->policy.ws, ag->obs, 1);
        memcpy(scaled, y, sizeof(double) * (size_t)ad);
    }
    if (ag->hp.noise_type != RL_NOISE_NONE) {
        for (int j = 0; j < ad; j++) {
            double n;
            if (ag->hp.noise_type == RL_NOISE_NORMAL) {
                n = ag->hp.noise_std * rl_rng_normal(&ag->rng);
            } else {
                ag->ou[j] += OU_THETA * (0.0 - ag->ou[j]) * OU_DT +
                             ag->hp.noise_std * sqrt(OU_DT) * rl_rng_normal(&ag->rng);
                n = ag->ou[j];
            }
            double v = scaled[j] + n;
            scaled[j] = v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v;
        }
    }
    memcpy(buf_action, scaled, sizeof(double) * (size_t)ad);
    rl_env_unscale_action(s, scaled, env_action);
}

static void concat_rows(double *dst, const double *obs, int od, const double *act, int ad, int B)
{
    for (int b = 0; b < B; b++) {
        memcpy(dst + (size_t)b * (od + ad), obs + (size_t)b * od, sizeof(double) * (size_t)od);
        memcpy(dst + (size_t)b * (od + ad) + od, act + (size_t)b * ad, sizeof(double) * (size_t)ad);
    }
}

void rl_td3_train(rl_agent *ag, int64_t gradient_steps)
{
    const rl_hparams *hp = &ag->hp;
    const int B = hp->batch_size, od = ag->obs_dim, ad = ag->act_dim, w = od + ad;
    double *cin = ag->scratch, *dcin = cin + (size_t)B * w, *target = dcin + (size_t)B * w;
    double *dq = target + B, *dmean = dq + B, *da = dmean + B, *next_a = da;
    const double lr = rl_scheduled_lr(ag);
    ag->actor_opt->lr = ag->critic_opt[0]->lr = ag->critic_opt[1]->lr = lr;
    for (int64_t g = 0; g < gradient_steps; g++) {
        ag->n_updates++;
        rl_replay_sample(ag->rb, &ag->rng, B, ag->b_obs, ag->b_act, ag->b_rew, ag->b_next,
                         ag->b_done);
        /* targets with policy smoothing */
        const double *at = nn_mlp_forward(ag->actor_target, ag->ws_at, ag->b_next, B);
        for (int i = 0; i < B * ad; i++) {
            double n = hp->target_policy_noise * rl_rng_normal(&ag->rng);
            n = n < -hp->target_noise_clip ? -hp->target_noise_clip
                : n > hp->target_noise_clip ? hp->target_noise_clip : n;
            double v = at[i] + n;
            next_a[i] = v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v;
        }
        concat_rows(cin, ag->b_next, od, next_a, ad, B);
        const double *q1 = nn_mlp_forward(ag->critic_target[0], ag->ws_ct[0], cin, B);
        const double *q2 = nn_mlp_forward(ag->critic_target[1], ag->ws_ct[1], cin, B);
        for (int b = 0; b < B; b++) {
            double m = q1[b] < q2[b] ? q1[b] : q2[b];
            target[b] = ag->b_rew[b] + (1.0 - ag->b_done[b]) * hp->gamma * m;
        }
        /* critics: sum of the two MSE losses, one Adam over both */
        concat_rows(cin, ag->b_obs, od, ag->b_act, ad, B);
        for (int i = 0; i < 2; i++) {
            const double *q = nn_mlp_forward(ag->critic[i], ag->ws_c[i], cin, B);
            nn_loss_mse(q, target, (size_t)B, dq);
            memset(ag->critic_grad[i], 0, ag->critic[i]->n_params * sizeof(double));
            nn_mlp_backward(ag->critic[i], ag->ws_c[i], dq, ag->critic_grad[i], NULL);
            nn_adam_step(ag->critic_opt[i], ag->critic[i]->params, ag->critic_grad[i]);
        }
        ag->grad_steps++;
        if (ag->n_updates % hp->policy_delay != 0)
            continue;
        /* actor: minimize -mean Q1(s, actor(s)) */
        const double *a = nn_mlp_forward(ag->actor, ag->ws_a, ag->b_obs, B);
        concat_rows(cin, ag->b_obs, od, a, ad, B);
        nn_mlp_forward(ag->critic[0], ag->ws_c[0], cin, B);
        for (int b = 0; b < B; b++)
            dmean[b] = -1.0 / B;
        nn_mlp_backward(ag->critic[0], ag->ws_c[0], dmean, NULL, dcin);
        for (int b = 0; b < B; b++)
            memcpy(da + (size_t)b * ad, dcin + (size_t)b * w + od, sizeof(double) * (size_t)ad);
        memset(ag->actor_grad, 0, ag->actor->n_params * sizeof(double));
        nn_mlp_backward(ag->actor, ag->ws_a, da, ag->actor_grad, NULL);
        nn_adam_step(ag->actor_opt, ag->actor->params, ag->actor_grad);
        for (int i = 0; i < 2; i++)
            nn_mlp_polyak(ag->critic_target[i], ag->critic[i], hp->tau);
        nn_mlp_polyak(ag->actor_target, ag->actor, hp->tau);
    }
}
