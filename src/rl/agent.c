/* The off-policy training loop shared by DQN and TD3, step by step as
 * Stable-Baselines3's OffPolicyAlgorithm.collect_rollouts/train run it with
 * one environment: act, step, store, count, (DQN) target update and
 * exploration schedule, then every train_freq steps, once past
 * learning_starts, gradient_steps gradient steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl/agent_internal.h"

double rl_uniform_cb(void *rng) { return rl_rng_uniform(rng); }

void rl_agent_free(rl_agent *ag)
{
    if (!ag)
        return;
    rl_policy_release(&ag->policy);
    if (ag->hp.algo == RL_ALGO_DQN)
        rl_dqn_free(ag);
    else
        rl_td3_free(ag);
    rl_replay_free(ag->rb);
    free(ag->b_obs);
    free(ag->scratch);
    free(ag);
}

cl_status rl_agent_create(const rl_hparams *hp, const rl_env_spec *spec, uint64_t seed,
                          rl_agent **out)
{
    if (!out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (!hp || !spec || rl_hp_check(hp, NULL, 0) != CL_OK)
        return CL_ERR_INVALID;
    if ((hp->algo == RL_ALGO_DQN) != (spec->action_kind == RL_ACTION_DISCRETE))
        return CL_ERR_UNSUPPORTED;
    if (spec->obs_dim < 1 || spec->obs_dim > RL_MAX_OBS ||
        (spec->action_kind == RL_ACTION_CONTINUOUS &&
         (spec->action_dim < 1 || spec->action_dim > RL_MAX_ACT)) ||
        (spec->action_kind == RL_ACTION_DISCRETE && spec->n_actions < 1))
        return CL_ERR_UNSUPPORTED;
    rl_agent *ag = calloc(1, sizeof *ag);
    if (!ag)
        return CL_ERR_NOMEM;
    ag->hp = *hp;
    ag->spec = spec;
    rl_rng_seed(&ag->rng, seed);
    ag->obs_dim = spec->obs_dim;
    ag->act_dim = hp->algo == RL_ALGO_DQN ? 1 : spec->action_dim;
    cl_status st = rl_replay_create((size_t)hp->buffer_size, ag->obs_dim, ag->act_dim, &ag->rb);
    size_t B = (size_t)hp->batch_size, od = (size_t)ag->obs_dim, ad = (size_t)ag->act_dim;
    if (st == CL_OK) {
        ag->b_obs = malloc(B * (2 * od + ad + 2) * sizeof(double));
        if (!ag->b_obs)
            st = CL_ERR_NOMEM;
    }
    if (st == CL_OK) {
        ag->b_next = ag->b_obs + B * od;
        ag->b_act = ag->b_next + B * od;
        ag->b_rew = ag->b_act + B * ad;
        ag->b_done = ag->b_rew + B;
        st = hp->algo == RL_ALGO_DQN ? rl_dqn_init(ag) : rl_td3_init(ag);
    }
    if (st == CL_OK)
        st = rl_policy_wrap(hp->algo, spec, hp->algo == RL_ALGO_DQN ? ag->q : ag->actor, 0,
                            &ag->policy);
    if (st != CL_OK) {
        rl_agent_free(ag);
        return st;
    }
    *out = ag;
    return CL_OK;
}

const rl_hparams *rl_agent_hparams(const rl_agent *ag) { return &ag->hp; }
rl_policy *rl_agent_policy(rl_agent *ag) { return &ag->policy; }

void rl_agent_counters(const rl_agent *ag, int64_t *steps, int64_t *episodes,
                       int64_t *gradient_steps)
{
    if (steps)
        *steps = ag ? ag->num_timesteps : 0;
    if (episodes)
        *episodes = ag ? ag->episodes : 0;
    if (gradient_steps)
        *gradient_steps = ag ? ag->grad_steps : 0;
}

cl_status rl_agent_begin(rl_agent *ag, rl_env *env, rl_rng *env_rng, int64_t total_steps)
{
    if (!ag || !env || !env_rng || total_steps < 1)
        return CL_ERR_INVALID;
    if (strcmp(rl_env_get_spec(env)->id, ag->spec->id))
        return CL_ERR_PARAMS;
    ag->total_steps = total_steps;
    rl_env_reset(env, env_rng, ag->obs);
    ag->ep_ret = 0.0;
    ag->ep_len = 0;
    ag->rollout_steps = 0;
    ag->begun = true;
    if (ag->hp.algo == RL_ALGO_DQN)
        rl_dqn_update_exploration(ag); /* the rate at the current progress */
    else
        rl_td3_episode_end(ag); /* fresh noise process */
    return CL_OK;
}

cl_status rl_agent_step(rl_agent *ag, rl_env *env, rl_rng *env_rng, rl_step_info *info)
{
    if (!ag || !env || !env_rng)
        return CL_ERR_INVALID;
    if (!ag->begun)
        return CL_ERR_STATE;
    double env_action[RL_MAX_ACT], buf_action[RL_MAX_ACT], next_obs[RL_MAX_OBS], reward;
    bool term, trunc;
    if (ag->hp.algo == RL_ALGO_DQN)
        rl_dqn_act(ag, env_action, buf_action);
    else
        rl_td3_act(ag, env_action, buf_action);
    cl_status st = rl_env_step(env, env_action, next_obs, &reward, &term, &trunc);
    if (st != CL_OK)
        return st;
    ag->num_timesteps++;
    ag->ep_ret += reward;
    ag->ep_len++;
    rl_replay_add(ag->rb, ag->obs, buf_action, reward, next_obs, term);
    ag->n_calls++;
    if (ag->hp.algo == RL_ALGO_DQN)
        rl_dqn_after_step(ag);
    if (info) {
        memset(info, 0, sizeof *info);
        info->step = ag->num_timesteps;
        memcpy(info->action, env_action, sizeof(double) * (size_t)ag->act_dim);
    }
    if (term || trunc) {
        ag->episodes++;
        if (info) {
            info->episode_done = true;
            info->episode = ag->episodes;
            info->episode_return = ag->ep_ret;
            info->episode_length = ag->ep_len;
        }
        ag->ep_ret = 0.0;
        ag->ep_len = 0;
        if (ag->hp.algo == RL_ALGO_TD3)
            rl_td3_episode_end(ag);
        rl_env_reset(env, env_rng, ag->obs);
    } else {
        memcpy(ag->obs, next_obs, sizeof(double) * (size_t)ag->obs_dim);
    }
    if (++ag->rollout_steps >= ag->hp.train_freq) {
        int64_t collected = ag->rollout_steps;
        ag->rollout_steps = 0;
        if (ag->num_timesteps > ag->hp.learning_starts) {
            int64_t gs = ag->hp.gradient_steps >= 0 ? ag->hp.gradient_steps : collected;
            if (gs > 0) {
                if (ag->hp.algo == RL_ALGO_DQN)
                    rl_dqn_train(ag, gs);
                else
                    rl_td3_train(ag, gs);
            }
        }
    }
    if (info) {
        info->gradient_steps = ag->grad_steps;
        if (!info->episode_done)
            info->episode = ag->episodes;
    }
    return CL_OK;
}

cl_status rl_agent_serialize(const rl_agent *ag, uint8_t **buf, size_t *len)
{
    if (!ag)
        return CL_ERR_INVALID;
    return rl_policy_serialize(&ag->policy, buf, len);
}

cl_status rl_agent_save(const rl_agent *ag, const char *path)
{
    return ag ? rl_policy_save(&ag->policy, path) : CL_ERR_INVALID;
}
