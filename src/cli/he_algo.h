/* The HE algorithms as the command line sees them: one row per algorithm
 * (HE-DQN for discrete actions, HE-TD3 for continuous ones) with the same
 * functions, so that `train --mode clear|interactive`, `census` and
 * `experiment gap` are written once for both. */
#ifndef CIPHERL_CLI_HE_ALGO_H
#define CIPHERL_CLI_HE_ALGO_H

#include <stddef.h>
#include <stdint.h>

#include "cipherl/nn.h"
#include "cipherl/rl.h"
#include "cipherl/slots.h"
#include "rl/he_dqn.h"
#include "rl/he_td3.h"

/* Every algorithm's hyperparameters. */
typedef union cli_he_hp {
    rl_he_dqn_hparams dqn;
    rl_he_td3_hparams td3;
} cli_he_hp;

/* What a census reduces to. */
#define CLI_HE_MAX_PHASES 8
#define CLI_HE_MAX_ROT 64
typedef struct cli_he_census {
    size_t slots, width, batch;
    int levels;
    slots_counters train, act;
    int n_phases;
    const char *phase_name[CLI_HE_MAX_PHASES];
    slots_counters phase[CLI_HE_MAX_PHASES];
    int phases_add_up; /* the phases sum to the training step (print their sum) */
    int rot_steps[CLI_HE_MAX_ROT];
    size_t n_rot;
} cli_he_census;

/* What a run has done so far. */
typedef struct cli_he_stats {
    int64_t env_steps, episodes, train_steps;
    slots_counters train; /* summed over the training steps */
    int n_phases;         /* the training step's phases, as the census names them */
    const char *phase_name[CLI_HE_MAX_PHASES];
    slots_counters phase[CLI_HE_MAX_PHASES];
    double phase_seconds[CLI_HE_MAX_PHASES];
} cli_he_stats;

typedef void (*cli_he_episode_fn)(void *user, int64_t step, double episode_return, int episode_length);

typedef struct cli_he_algo {
    const char *name;      /* "dqn", as --algo */
    const char *long_name; /* "HE-DQN" */
    rl_action_kind kind;   /* the action space it acts in */
    rl_algo plain;         /* its plaintext twin */
    cl_status (*hp_for_env)(const char *env_id, cli_he_hp *hp);
    cl_status (*hp_assign)(cli_he_hp *hp, const char *assignment, char *err, size_t errlen);
    cl_status (*hp_check)(const cli_he_hp *hp, char *err, size_t errlen);
    void (*hp_format)(const cli_he_hp *hp, char *buf, size_t cap);
    int64_t *(*hp_timesteps)(cli_he_hp *hp);       /* its n_timesteps (the exploration schedule) */
    rl_he_optimizer (*hp_optimizer)(const cli_he_hp *hp);
    int (*hp_batch)(const cli_he_hp *hp);
    cl_status (*layout)(const char *env_id, const cli_he_hp *hp, size_t *slots);
    cl_status (*census)(const char *env_id, const cli_he_hp *hp, int levels, cli_he_census *out);
    cl_status (*create)(const char *env_id, const cli_he_hp *hp, slots_ctx *ctx, slots_owner *owner,
                        uint64_t seed, void **out);
    cl_status (*learn)(void *ag, int64_t n_steps, cli_he_episode_fn cb, void *user);
    cl_status (*evaluate)(void *ag, int episodes, uint64_t seed, double *returns);
    void (*destroy)(void *ag);
    void (*stats)(const void *ag, cli_he_stats *out);
    /* executed actions of learning so far: values per step, and step i's */
    int (*action_dim)(const void *ag);
    void (*action)(const void *ag, int64_t i, double *out);
    /* the owner decrypts the deterministic policy as a plain network (NULL:
     * the algorithm cannot export one yet) */
    cl_status (*export_mlp)(void *ag, nn_mlp **out);
    int (*min_levels)(void); /* the level budget it needs at least */
    /* `bench train`: hyperparameters that fill one batch with random steps and
     * then act without training, and one training step on a drawn batch */
    void (*bench_hp)(cli_he_hp *hp);
    cl_status (*train_sampled)(void *ag);
} cli_he_algo;

/* The row for --algo NAME, or NULL. */
const cli_he_algo *cli_he_algo_find(const char *name);
/* The row for an action space. */
const cli_he_algo *cli_he_algo_for_kind(rl_action_kind kind);
/* Its hyperparameter set for env_id, then each "NAME=VALUE" of hps, then
 * steps (> 0) as n_timesteps, then the whole-set check. On failure prints
 * "<cmd>: ..." and returns 2 (a usage error) or 1. */
int cli_he_algo_hparams(const cli_he_algo *algo, const char *cmd, const char *env_id, const char *const *hps,
                        int n_hp, int64_t steps, cli_he_hp *hp);
/* The optimizer's name ("he_adam", "sgd", "adam"). */
const char *cli_he_optimizer_name(rl_he_optimizer opt);

#endif
