/* cipherl bench plain: training throughput of the plaintext baselines (DQN,
 * TD3) in environment steps per second, one thread. Each repetition is a
 * fresh agent with the task's hyperparameters (and any --hp): it takes its
 * learning_starts random steps untimed, so the replay holds what a real run
 * holds when learning begins, then K timed steps of the whole loop (acting,
 * the environment, storing, every gradient and target update). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/rl.h"
#include "cli/cli.h"

#define MAX_HP 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cipherl bench plain --env ENV [--algo dqn|td3] [--steps K] [--reps R] [--seed S]\n"
            "                           [--hp NAME=VALUE]... [--json]\n"
            "  Training throughput of plain DQN (discrete tasks) or TD3 (continuous ones), one thread:\n"
            "  each of R fresh agents (seeds S, S+1, ...) takes its learning_starts random steps untimed,\n"
            "  then K timed environment steps with every gradient step SB3 does in them. Prints the median\n"
            "  (and the range) of environment steps per second, gradient steps per environment step and\n"
            "  milliseconds per gradient step (the timed time over its gradient steps).\n"
            "  Defaults: --steps 2048, --reps 3, --seed 0, the task's RL Zoo set. JSON keys: env, algo,\n"
            "  threads, steps, reps, env_steps_per_s, env_steps_per_s_min, env_steps_per_s_max,\n"
            "  gradient_steps_per_env_step, ms_per_gradient_step.\n");
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One repetition: the steps per second of the timed part and its gradient steps. */
static cl_status one_rep(const rl_hparams *hp, const rl_env_spec *spec, uint64_t seed, int64_t steps,
                         double *per_s, int64_t *grads)
{
    rl_env *env = NULL;
    rl_agent *ag = NULL;
    rl_rng er;
    rl_rng_seed(&er, seed);
    cl_status st = rl_env_create(spec->id, &env);
    if (st == CL_OK)
        st = rl_agent_create(hp, spec, seed ^ 0x5bd1e9955bd1e995ULL, &ag);
    if (st == CL_OK)
        st = rl_agent_begin(ag, env, &er, hp->learning_starts + steps);
    for (int64_t s = 0; st == CL_OK && s < hp->learning_starts; s++)
        st = rl_agent_step(ag, env, &er, NULL);
    int64_t g0 = 0, g1 = 0;
    double t0 = 0.0, t1 = 0.0;
    if (st == CL_OK) {
        rl_agent_counters(ag, NULL, NULL, &g0);
        t0 = cli_now_s();
    }
    for (int64_t s = 0; st == CL_OK && s < steps; s++)
        st = rl_agent_step(ag, env, &er, NULL);
    if (st == CL_OK) {
        t1 = cli_now_s();
        rl_agent_counters(ag, NULL, NULL, &g1);
        *per_s = (double)steps / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9);
        *grads = g1 - g0;
    }
    rl_agent_free(ag);
    rl_env_free(env);
    return st;
}

int cli_bench_plain(int argc, char **argv)
{
    const char *env_id = NULL, *algo_name = NULL;
    const char *hps[MAX_HP];
    int n_hp = 0;
    int64_t steps = 2048, reps = 3;
    uint64_t seed = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--env", &missing))) {
            env_id = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--algo", &missing))) {
            algo_name = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--steps", &missing))) {
            if (!cli_parse_steps(v, &steps) || steps > 100000000) {
                cli_error("bench plain: --steps needs a positive integer up to 1e8, got '%s'", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--reps", &missing))) {
            if (!cli_parse_steps(v, &reps) || reps > 1000) {
                cli_error("bench plain: --reps needs an integer from 1 to 1000, got '%s'", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", &missing))) {
            if (!cli_parse_u64(v, &seed)) {
                cli_error("bench plain: --seed needs a non-negative integer, got '%s'", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--hp", &missing))) {
            if (n_hp == MAX_HP) {
                cli_error("bench plain: at most %d --hp options", MAX_HP);
                return 2;
            }
            hps[n_hp++] = v;
        } else {
            cli_error(missing ? "bench plain: %s needs a value" : "bench plain: unknown option '%s'", a);
            usage(stderr);
            return 2;
        }
    }
    if (!env_id) {
        cli_error("bench plain: --env is required");
        usage(stderr);
        return 2;
    }
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec) {
        cli_error("bench plain: unknown environment '%s' (see 'cipherl env list')", env_id);
        return 2;
    }
    rl_algo algo = rl_algo_default_for(spec);
    if (algo_name && rl_algo_parse(algo_name, &algo) != CL_OK) {
        cli_error("bench plain: unknown algorithm '%s' (dqn or td3)", algo_name);
        return 2;
    }
    rl_hparams hp;
    cl_status st = rl_hp_defaults(algo, env_id, &hp);
    if (st != CL_OK) {
        cli_error("bench plain: %s does not fit %s's actions", rl_algo_name(algo), env_id);
        return 2;
    }
    char err[1280];
    for (int k = 0; k < n_hp; k++)
        if (rl_hp_assign(&hp, hps[k], err, sizeof err) != CL_OK) {
            cli_error("bench plain: --hp %s: %s", hps[k], err);
            return 2;
        }
    if (rl_hp_check(&hp, err, sizeof err) != CL_OK) {
        cli_error("bench plain: %s", err);
        return 2;
    }

    double *per_s = malloc((size_t)reps * sizeof *per_s);
    if (!per_s) {
        cli_error("bench plain: out of memory");
        return 1;
    }
    int64_t grads = 0;
    if (!json)
        fprintf(stderr, "bench plain: %s %s, 1 thread, %lld learning_starts steps untimed, then %lld timed, %lld reps\n",
                rl_algo_name(algo), env_id, (long long)hp.learning_starts, (long long)steps, (long long)reps);
    for (int64_t r = 0; r < reps; r++) {
        int64_t g = 0;
        st = one_rep(&hp, spec, seed + (uint64_t)r, steps, &per_s[r], &g);
        if (st != CL_OK) {
            cli_error("bench plain: %s", cl_strerror(st));
            free(per_s);
            return 1;
        }
        grads += g;
        if (!json)
            fprintf(stderr, "  rep %lld/%lld: %.0f env steps/s, %lld gradient steps\n", (long long)r + 1,
                    (long long)reps, per_s[r], (long long)g);
    }
    /* ms per gradient step from the summed time of the timed parts */
    double secs = 0.0;
    for (int64_t r = 0; r < reps; r++)
        secs += (double)steps / per_s[r];
    const double ms_per_grad = grads ? 1e3 * secs / (double)grads : 0.0;
    const double grads_per_step = (double)grads / ((double)steps * (double)reps);
    qsort(per_s, (size_t)reps, sizeof *per_s, cmp_double);
    const double med = reps % 2 ? per_s[reps / 2] : 0.5 * (per_s[reps / 2 - 1] + per_s[reps / 2]);
    if (json)
        printf("{\"env\": \"%s\", \"algo\": \"%s\", \"threads\": 1, \"steps\": %lld, \"reps\": %lld, "
               "\"env_steps_per_s\": %.1f, \"env_steps_per_s_min\": %.1f, \"env_steps_per_s_max\": %.1f, "
               "\"gradient_steps_per_env_step\": %.4f, \"ms_per_gradient_step\": %.4f}\n",
               env_id, rl_algo_name(algo), (long long)steps, (long long)reps, med, per_s[0], per_s[reps - 1],
               grads_per_step, ms_per_grad);
    else
        printf("%s %s, 1 thread: %.0f env steps/s (median of %lld; %.0f..%.0f), %.3f gradient steps per env "
               "step, %.3f ms per gradient step (all costs of the timed steps included)\n",
               rl_algo_name(algo), env_id, med, (long long)reps, per_s[0], per_s[reps - 1], grads_per_step,
               ms_per_grad);
    free(per_s);
    return 0;
}
