/* Replay buffer: a ring of transitions, sampled uniformly with replacement
 * (Stable-Baselines3's ReplayBuffer; `done` holds terminations only, so a
 * time-limit truncation still bootstraps). */
#include <stdlib.h>
#include <string.h>

#include "cipherl/rl.h"

cl_status rl_replay_create(size_t capacity, int obs_dim, int act_dim, rl_replay **out)
{
    if (!out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (capacity < 1 || capacity > ((size_t)1 << 32) || obs_dim < 1 || act_dim < 1 ||
        obs_dim > 4096 || act_dim > 4096)
        return CL_ERR_INVALID;
    rl_replay *rb = calloc(1, sizeof *rb);
    if (!rb)
        return CL_ERR_NOMEM;
    size_t per = 2 * (size_t)obs_dim + (size_t)act_dim + 2;
    rb->obs = malloc(capacity * per * sizeof(double));
    if (!rb->obs) {
        free(rb);
        return CL_ERR_NOMEM;
    }
    rb->next_obs = rb->obs + capacity * (size_t)obs_dim;
    rb->act = rb->next_obs + capacity * (size_t)obs_dim;
    rb->rew = rb->act + capacity * (size_t)act_dim;
    rb->done = rb->rew + capacity;
    rb->capacity = capacity;
    rb->obs_dim = obs_dim;
    rb->act_dim = act_dim;
    *out = rb;
    return CL_OK;
}

void rl_replay_free(rl_replay *rb)
{
    if (!rb)
        return;
    free(rb->obs);
    free(rb);
}

void rl_replay_add(rl_replay *rb, const double *obs, const double *act, double reward,
                   const double *next_obs, bool terminated)
{
    size_t i = rb->pos, od = (size_t)rb->obs_dim, ad = (size_t)rb->act_dim;
    memcpy(rb->obs + i * od, obs, od * sizeof(double));
    memcpy(rb->next_obs + i * od, next_obs, od * sizeof(double));
    memcpy(rb->act + i * ad, act, ad * sizeof(double));
    rb->rew[i] = reward;
    rb->done[i] = terminated ? 1.0 : 0.0;
    rb->pos = (i + 1) % rb->capacity;
    if (rb->size < rb->capacity)
        rb->size++;
}

void rl_replay_sample(const rl_replay *rb, rl_rng *rng, int batch, double *obs, double *act,
                      double *reward, double *next_obs, double *done)
{
    size_t od = (size_t)rb->obs_dim, ad = (size_t)rb->act_dim;
    for (int b = 0; b < batch; b++) {
        size_t i = (size_t)(rl_rng_next(rng) % rb->size);
        memcpy(obs + (size_t)b * od, rb->obs + i * od, od * sizeof(double));
        memcpy(next_obs + (size_t)b * od, rb->next_obs + i * od, od * sizeof(double));
        memcpy(act + (size_t)b * ad, rb->act + i * ad, ad * sizeof(double));
        reward[b] = rb->rew[i];
        done[b] = rb->done[i];
    }
}
