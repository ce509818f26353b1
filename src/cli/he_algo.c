/* The HE algorithms' rows (he_algo.h). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/he_algo.h"
#include "nn/nn_he.h"

const char *cli_he_optimizer_name(rl_he_optimizer opt)
{
    return (unsigned)opt <= RL_HE_OPT_ADAM ? rl_he_optimizer_names[opt] : "?";
}

static void copy_census(cli_he_census *out, size_t slots, size_t width, int batch, int levels,
                        const slots_counters *train, const slots_counters *act, int n_phases,
                        const char *(*phase_name)(int), const slots_counters *phase, int add_up,
                        const int *rot, size_t n_rot)
{
    out->slots = slots;
    out->width = width;
    out->batch = (size_t)batch;
    out->levels = levels;
    out->train = *train;
    out->act = *act;
    out->n_phases = n_phases < CLI_HE_MAX_PHASES ? n_phases : CLI_HE_MAX_PHASES;
    for (int p = 0; p < out->n_phases; p++) {
        out->phase_name[p] = phase_name(p);
        out->phase[p] = phase[p];
    }
    out->phases_add_up = add_up;
    out->n_rot = n_rot < CLI_HE_MAX_ROT ? n_rot : CLI_HE_MAX_ROT;
    memcpy(out->rot_steps, rot, out->n_rot * sizeof out->rot_steps[0]);
}

static void copy_phases(cli_he_stats *out, int n_phases, const char *(*phase_name)(int), const slots_counters *phase,
                        const double *seconds)
{
    out->n_phases = n_phases < CLI_HE_MAX_PHASES ? n_phases : CLI_HE_MAX_PHASES;
    for (int p = 0; p < out->n_phases; p++) {
        out->phase_name[p] = phase_name(p);
        out->phase[p] = phase[p];
        out->phase_seconds[p] = seconds[p];
    }
}

/* ------------------------------------------------------------ HE-DQN */

static cl_status dqn_hp_for_env(const char *env_id, cli_he_hp *hp)
{
    return rl_he_dqn_hparams_for_env(env_id, &hp->dqn);
}
static cl_status dqn_hp_assign(cli_he_hp *hp, const char *a, char *err, size_t errlen)
{
    return rl_he_dqn_hp_assign(&hp->dqn, a, err, errlen);
}
static cl_status dqn_hp_check(const cli_he_hp *hp, char *err, size_t errlen)
{
    return rl_he_dqn_hp_check(&hp->dqn, err, errlen);
}
static void dqn_hp_format(const cli_he_hp *hp, char *buf, size_t cap)
{
    rl_he_dqn_hp_format(&hp->dqn, buf, cap);
}
static int64_t *dqn_hp_timesteps(cli_he_hp *hp)
{
    return &hp->dqn.n_timesteps;
}
static rl_he_optimizer dqn_hp_optimizer(const cli_he_hp *hp)
{
    return hp->dqn.optimizer;
}
static int dqn_hp_batch(const cli_he_hp *hp)
{
    return hp->dqn.batch_size;
}
static cl_status dqn_layout(const char *env_id, const cli_he_hp *hp, size_t *slots)
{
    return rl_he_dqn_layout(env_id, &hp->dqn, NULL, slots);
}

static cl_status dqn_census(const char *env_id, const cli_he_hp *hp, int levels, cli_he_census *out)
{
    rl_he_dqn_census *c = calloc(1, sizeof *c);
    if (!c)
        return CL_ERR_NOMEM;
    cl_status st = rl_he_dqn_census_run(env_id, &hp->dqn, levels, c);
    if (st == CL_OK)
        copy_census(out, c->slots, c->width, hp->dqn.batch_size, c->levels, &c->train_step, &c->act,
                    RL_HE_DQN_PHASES, rl_he_dqn_phase_name, c->phase, 1, c->rot_steps, c->n_rot_steps);
    free(c);
    return st;
}

static cl_status dqn_create(const char *env_id, const cli_he_hp *hp, slots_ctx *ctx, slots_owner *owner,
                            uint64_t seed, void **out)
{
    rl_he_dqn *ag = NULL;
    cl_status st = rl_he_dqn_create(env_id, &hp->dqn, ctx, owner, seed, &ag);
    *out = ag;
    return st;
}
static cl_status dqn_learn(void *ag, int64_t n_steps, cli_he_episode_fn cb, void *user)
{
    return rl_he_dqn_learn(ag, n_steps, cb, user);
}
static cl_status dqn_evaluate(void *ag, int episodes, uint64_t seed, double *returns)
{
    return rl_he_dqn_evaluate(ag, episodes, seed, returns);
}
static void dqn_destroy(void *ag)
{
    rl_he_dqn_free(ag);
}
static void dqn_stats(const void *ag, cli_he_stats *out)
{
    const rl_he_dqn_stats *s = rl_he_dqn_get_stats(ag);
    *out = (cli_he_stats){.env_steps = s->env_steps, .episodes = s->episodes, .train_steps = s->train_steps,
                          .train = s->train};
    copy_phases(out, RL_HE_DQN_PHASES, rl_he_dqn_phase_name, s->phase, s->phase_seconds);
}
static int dqn_action_dim(const void *ag)
{
    (void)ag;
    return 1;
}
static void dqn_action(const void *ag, int64_t i, double *out)
{
    out[0] = (double)rl_he_dqn_actions(ag)[i];
}
static cl_status dqn_export(void *ag, nn_mlp **out)
{
    return rl_he_dqn_export_mlp(ag, out);
}
static void dqn_bench_hp(cli_he_hp *hp)
{
    rl_he_dqn_hparams *h = &hp->dqn;
    h->learning_starts = h->batch_size;
    h->exploration_initial_eps = h->exploration_final_eps = 0.0; /* greedy: the network runs each step */
    h->train_freq = 1000000000;
    h->target_update_interval = 1000000000;
    if (h->buffer_size < 2 * (int64_t)h->batch_size)
        h->buffer_size = 2 * (int64_t)h->batch_size;
}
static cl_status dqn_train_sampled(void *ag)
{
    return rl_he_dqn_train_sampled(ag);
}

/* ------------------------------------------------------------ HE-TD3 */

static cl_status td3_hp_for_env(const char *env_id, cli_he_hp *hp)
{
    return rl_he_td3_hparams_for_env(env_id, &hp->td3);
}
static cl_status td3_hp_assign(cli_he_hp *hp, const char *a, char *err, size_t errlen)
{
    return rl_he_td3_hp_assign(&hp->td3, a, err, errlen);
}
static cl_status td3_hp_check(const cli_he_hp *hp, char *err, size_t errlen)
{
    return rl_he_td3_hp_check(&hp->td3, err, errlen);
}
static void td3_hp_format(const cli_he_hp *hp, char *buf, size_t cap)
{
    rl_he_td3_hp_format(&hp->td3, buf, cap);
}
static int64_t *td3_hp_timesteps(cli_he_hp *hp)
{
    return &hp->td3.n_timesteps;
}
static rl_he_optimizer td3_hp_optimizer(const cli_he_hp *hp)
{
    return hp->td3.optimizer;
}
static int td3_hp_batch(const cli_he_hp *hp)
{
    return hp->td3.batch_size;
}
static cl_status td3_layout(const char *env_id, const cli_he_hp *hp, size_t *slots)
{
    return rl_he_td3_layout(env_id, &hp->td3, NULL, slots);
}

/* Critic phases are per training step, actor phases per actor update: they
 * do not add up to the training step (whose counts average the actor in). */
static cl_status td3_census(const char *env_id, const cli_he_hp *hp, int levels, cli_he_census *out)
{
    rl_he_td3_census *c = calloc(1, sizeof *c);
    if (!c)
        return CL_ERR_NOMEM;
    cl_status st = rl_he_td3_census_run(env_id, &hp->td3, levels, c);
    if (st == CL_OK)
        copy_census(out, c->slots, c->width, hp->td3.batch_size, c->levels, &c->train_step, &c->act,
                    RL_HE_TD3_PHASES, rl_he_td3_phase_name, c->phase, 0, c->rot_steps, c->n_rot_steps);
    free(c);
    return st;
}

static cl_status td3_create(const char *env_id, const cli_he_hp *hp, slots_ctx *ctx, slots_owner *owner,
                            uint64_t seed, void **out)
{
    rl_he_td3 *ag = NULL;
    cl_status st = rl_he_td3_create(env_id, &hp->td3, ctx, owner, seed, &ag);
    *out = ag;
    return st;
}
static cl_status td3_learn(void *ag, int64_t n_steps, cli_he_episode_fn cb, void *user)
{
    return rl_he_td3_learn(ag, n_steps, cb, user);
}
static cl_status td3_evaluate(void *ag, int episodes, uint64_t seed, double *returns)
{
    return rl_he_td3_evaluate(ag, episodes, seed, returns);
}
static void td3_destroy(void *ag)
{
    rl_he_td3_free(ag);
}
static void td3_stats(const void *ag, cli_he_stats *out)
{
    const rl_he_td3_stats *s = rl_he_td3_get_stats(ag);
    *out = (cli_he_stats){.env_steps = s->env_steps, .episodes = s->episodes, .train_steps = s->train_steps,
                          .train = s->train};
    copy_phases(out, RL_HE_TD3_PHASES, rl_he_td3_phase_name, s->phase, s->phase_seconds);
}
static int td3_action_dim(const void *ag)
{
    return rl_he_td3_action_dim(ag);
}
static void td3_action(const void *ag, int64_t i, double *out)
{
    const int ad = rl_he_td3_action_dim(ag);
    memcpy(out, rl_he_td3_actions(ag) + i * ad, (size_t)ad * sizeof *out);
}
static cl_status td3_export(void *ag, nn_mlp **out)
{
    return rl_he_td3_export_actor(ag, out);
}
static void td3_bench_hp(cli_he_hp *hp)
{
    rl_he_td3_hparams *h = &hp->td3;
    h->learning_starts = h->batch_size; /* after it, the actor runs each step */
    h->train_freq = 1000000000;
    if (h->buffer_size < 2 * (int64_t)h->batch_size)
        h->buffer_size = 2 * (int64_t)h->batch_size;
}
static cl_status td3_train_sampled(void *ag)
{
    return rl_he_td3_train_sampled(ag);
}

static const cli_he_algo algos[] = {
    {"dqn", "HE-DQN", RL_ACTION_DISCRETE, RL_ALGO_DQN, dqn_hp_for_env, dqn_hp_assign, dqn_hp_check, dqn_hp_format,
     dqn_hp_timesteps, dqn_hp_optimizer, dqn_hp_batch, dqn_layout, dqn_census, dqn_create, dqn_learn, dqn_evaluate,
     dqn_destroy, dqn_stats, dqn_action_dim, dqn_action, dqn_export, nn_he_adam_depth, dqn_bench_hp,
     dqn_train_sampled},
    {"td3", "HE-TD3", RL_ACTION_CONTINUOUS, RL_ALGO_TD3, td3_hp_for_env, td3_hp_assign, td3_hp_check, td3_hp_format,
     td3_hp_timesteps, td3_hp_optimizer, td3_hp_batch, td3_layout, td3_census, td3_create, td3_learn, td3_evaluate,
     td3_destroy, td3_stats, td3_action_dim, td3_action, td3_export, nn_he_adam_depth, td3_bench_hp,
     td3_train_sampled},
};
#define N_ALGOS (sizeof algos / sizeof algos[0])

const cli_he_algo *cli_he_algo_find(const char *name)
{
    for (size_t i = 0; name && i < N_ALGOS; i++)
        if (!strcmp(algos[i].name, name))
            return &algos[i];
    return NULL;
}

const cli_he_algo *cli_he_algo_for_kind(rl_action_kind kind)
{
    for (size_t i = 0; i < N_ALGOS; i++)
        if (algos[i].kind == kind)
            return &algos[i];
    return NULL;
}

int cli_he_algo_hparams(const cli_he_algo *algo, const char *cmd, const char *env_id, const char *const *hps,
                        int n_hp, int64_t steps, cli_he_hp *hp)
{
    cl_status st = algo->hp_for_env(env_id, hp);
    if (st != CL_OK) {
        cli_error("%s: no %s hyperparameters for %s: %s", cmd, algo->long_name, env_id, cl_strerror(st));
        return 1;
    }
    char err[1280];
    for (int k = 0; k < n_hp; k++) {
        err[0] = '\0';
        if (algo->hp_assign(hp, hps[k], err, sizeof err) != CL_OK) {
            cli_error("%s: --hp %s: %s", cmd, hps[k], err[0] ? err : "invalid");
            return 2;
        }
    }
    int64_t *ts = algo->hp_timesteps(hp);
    if (steps > 0)
        *ts = steps; /* the exploration schedule spans the run, as the plain agent's does */
    err[0] = '\0';
    if (algo->hp_check(hp, err, sizeof err) != CL_OK) {
        cli_error("%s: %s hyperparameters: %s", cmd, algo->long_name, err[0] ? err : "inconsistent");
        return 2;
    }
    return 0;
}
