/* cipherl bench train: what encrypted (interactive) training of an HE
 * algorithm (HE-DQN or HE-TD3, through the table of src/cli/he_algo.c) costs
 * per step on this machine — seconds per training step and per environment
 * step (medians), refreshes per training step, ciphertext bytes moved between
 * owner and platform, and peak memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cipherl/ckks.h"
#include "cipherl/rl.h"
#include "cipherl/slots.h"
#include "cli/cli.h"
#include "cli/he_algo.h"
#include "cli/train.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cipherl bench train --env ENV [--algo dqn|td3] [--preset P] [--insecure] [--steps K]\n"
            "                           [--threads T] [--hp NAME=VALUE]... [--json]\n"
            "  Runs K training steps and K environment steps of HE-DQN (discrete tasks) or HE-TD3\n"
            "  (continuous ones) on CKKS ciphertexts (mode interactive: the owner refreshes) and\n"
            "  prints the median seconds per training step and per environment step (the owner's\n"
            "  action from the encrypted network, then it encrypts the transition; HE-TD3's steps\n"
            "  alternate with and without the delayed actor update), refreshes per training step, serialized\n"
            "  ciphertext bytes moved between owner and platform per step, and peak memory.\n"
            "  Defaults: --preset n15, --steps 5, --threads 1. The mini-batch is filled with\n"
            "  batch_size random steps first (not timed). JSON keys: env, algo, preset, threads,\n"
            "  train_step_s, env_step_s, refreshes_per_train_step, bytes_per_env_step,\n"
            "  bytes_per_train_step, peak_rss_mb.\n");
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The owner's refresh, timed: what interactive refreshes cost the run. */
typedef struct timed_refresher {
    slots_owner *owner;
    double seconds;
} timed_refresher;

static cl_status timed_refresh(void *user, ckks_ciphertext *ct)
{
    timed_refresher *r = user;
    const double t0 = cli_now_s();
    cl_status st = slots_ckks_owner_refresh(r->owner, ct);
    r->seconds += cli_now_s() - t0;
    return st;
}

static uint64_t moved(const slots_counters *c)
{
    return c->bytes_to_owner + c->bytes_to_platform;
}

int cli_bench_train(int argc, char **argv)
{
    const char *env_id = NULL, *algo_s = NULL, *preset = "n15";
    const char *hps[CLI_TRAIN_MAX_HP];
    int n_hp = 0, json = 0, insecure = 0, missing = 0;
    uint64_t threads = 1;
    int64_t steps = 5;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--insecure")) {
            insecure = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--env", &missing))) {
            env_id = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--algo", &missing))) {
            algo_s = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--preset", &missing))) {
            preset = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--steps", &missing))) {
            if (!cli_parse_steps(v, &steps) || steps > 1000000) {
                cli_error("bench train: --steps: '%s' is not an integer in [1, 1000000]", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--threads", &missing))) {
            if (!cli_parse_u64(v, &threads) || threads < 1 || threads > 256) {
                cli_error("bench train: --threads: '%s' is not an integer in [1, 256]", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--hp", &missing))) {
            if (n_hp == CLI_TRAIN_MAX_HP) {
                cli_error("bench train: too many --hp options");
                return 2;
            }
            hps[n_hp++] = v;
        } else if (!missing) {
            cli_error("bench train: unknown option '%s' (try 'cipherl bench train --help')", argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("bench train: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    if (!env_id) {
        cli_error("bench train: --env ENV is required");
        return 2;
    }
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec) {
        cli_error("bench train: unknown environment '%s' (see 'cipherl env list')", env_id);
        return 2;
    }
    const cli_he_algo *algo = algo_s ? cli_he_algo_find(algo_s) : cli_he_algo_for_kind(spec->action_kind);
    if (!algo) {
        cli_error("bench train: unknown algorithm '%s' (dqn or td3)", algo_s);
        return 2;
    }
    if (algo->kind != spec->action_kind) {
        cli_error("bench train: %s acts in %s action spaces and %s has %s actions", algo->long_name,
                  algo->kind == RL_ACTION_DISCRETE ? "discrete" : "continuous", env_id,
                  spec->action_kind == RL_ACTION_DISCRETE ? "discrete" : "continuous");
        return 2;
    }
    cli_he_hp hp;
    char err[1280];
    int hrc = cli_he_algo_hparams(algo, "bench train", env_id, hps, n_hp, 0, &hp);
    if (hrc)
        return hrc;
    /* fill one batch with random steps, then act on the network; training only when asked */
    algo->bench_hp(&hp);
    err[0] = '\0';
    if (algo->hp_check(&hp, err, sizeof err) != CL_OK) {
        cli_error("bench train: %s", err);
        return 2;
    }
    if (algo->hp_optimizer(&hp) == RL_HE_OPT_ADAM) {
        cli_error("bench train: optimizer=adam (exact) cannot run on ciphertexts");
        return 2;
    }
    const int batch = algo->hp_batch(&hp);
    size_t S;
    cl_status st = algo->layout(env_id, &hp, &S);
    if (st != CL_OK) {
        cli_error("bench train: %s", cl_strerror(st));
        return 2;
    }
    ckks_params *params;
    if (cli_load_preset("bench train", preset, insecure, &params))
        return 2;
    if (S > ckks_params_max_slots(params) || ckks_params_max_level(params) < algo->min_levels()) {
        cli_error("bench train: preset %s has %zu slots and %d levels; %s needs %zu and %d", preset,
                  ckks_params_max_slots(params), ckks_params_max_level(params), algo->long_name, S,
                  algo->min_levels());
        ckks_params_free(params);
        return 2;
    }
    ckks_set_threads((int)threads);
    cli_he_backend be = {0};
    void *ag = NULL;
    double *t_env = malloc((size_t)steps * sizeof *t_env), *t_train = malloc((size_t)steps * sizeof *t_train);
    st = t_env && t_train ? (cl_status)cli_he_backend_ckks(algo, env_id, &hp, params, &be) : CL_ERR_NOMEM;
    if (st != CL_OK && (!t_env || !t_train))
        ckks_params_free(params);
    if (st == CL_OK)
        st = algo->create(env_id, &hp, be.ctx, be.owner, 1, &ag);
    if (!json && st == CL_OK)
        fprintf(stderr, "bench train: %s %s at %s, %llu thread%s: filling a batch of %d, then %lld steps of each\n",
                env_id, algo->long_name, preset, (unsigned long long)threads, threads == 1 ? "" : "s", batch,
                (long long)steps);
    timed_refresher tr = {.owner = be.owner};
    if (st == CL_OK) {
        slots_ckks_set_refresher(be.ctx, timed_refresh, &tr);
        st = algo->learn(ag, batch, NULL, NULL); /* random actions: no network yet */
    }
    cli_he_stats s0 = {0};
    double refresh_s_train = 0;
    slots_counters c_env = {0}, c_train = {0};
    for (int64_t k = 0; k < steps && st == CL_OK; k++) {
        slots_counters a = *slots_get_counters(be.ctx);
        double t0 = cli_now_s();
        st = algo->learn(ag, 1, NULL, NULL);
        double t1 = cli_now_s();
        slots_counters b = *slots_get_counters(be.ctx);
        if (k == 0 && st == CL_OK)
            algo->stats(ag, &s0);
        const double r0 = tr.seconds;
        if (st == CL_OK)
            st = algo->train_sampled(ag);
        refresh_s_train += tr.seconds - r0;
        double t2 = cli_now_s();
        slots_counters c = *slots_get_counters(be.ctx);
        t_env[k] = t1 - t0;
        t_train[k] = t2 - t1;
        c_env.bytes_to_owner += b.bytes_to_owner - a.bytes_to_owner;
        c_env.bytes_to_platform += b.bytes_to_platform - a.bytes_to_platform;
        c_train.bytes_to_owner += c.bytes_to_owner - b.bytes_to_owner;
        c_train.bytes_to_platform += c.bytes_to_platform - b.bytes_to_platform;
        c_train.refresh += c.refresh - b.refresh;
        if (!json)
            fprintf(stderr, "\r%lld/%lld: env step %.3f s, training step %.2f s   ", (long long)k + 1,
                    (long long)steps, t_env[k], t_train[k]);
    }
    if (!json)
        fputc('\n', stderr);
    int rc = 0;
    if (st != CL_OK) {
        cli_error("bench train: %s", cl_strerror(st));
        rc = 1;
    } else {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        const double rss_mb = (double)ru.ru_maxrss / 1024.0;
        const double train_s = median(t_train, (int)steps), env_s = median(t_env, (int)steps);
        const double refreshes = (double)c_train.refresh / (double)steps;
        const double b_env = (double)moved(&c_env) / (double)steps, b_train = (double)moved(&c_train) / (double)steps;
        if (json)
            printf("{\"env\": \"%s\", \"algo\": \"%s\", \"preset\": \"%s\", \"threads\": %llu, \"train_step_s\": %.6f, "
                   "\"env_step_s\": %.6f, \"refreshes_per_train_step\": %.2f, \"bytes_per_env_step\": %.0f, "
                   "\"bytes_per_train_step\": %.0f, \"peak_rss_mb\": %.1f}\n",
                   env_id, algo->name, preset, (unsigned long long)threads, train_s, env_s, refreshes, b_env, b_train,
                   rss_mb);
        else
            printf("%s %s encrypted at %s (%zu slots of %zu, %d levels), %llu thread%s, median of %lld:\n"
                   "  training step      %10.3f s   (%.1f refreshes)\n"
                   "  environment step   %10.3f s\n"
                   "  bytes moved        %10.1f MB per environment step, %.1f MB per training step "
                   "(owner <-> platform, serialized ciphertexts)\n"
                   "  peak memory        %10.1f MB\n",
                   env_id, algo->long_name, preset, S, ckks_params_max_slots(params), ckks_params_max_level(params),
                   (unsigned long long)threads, threads == 1 ? "" : "s", (long long)steps, train_s, refreshes,
                   env_s, b_env / 1e6, b_train / 1e6, rss_mb);
        if (!json) {
            cli_he_stats s1;
            algo->stats(ag, &s1);
            printf("  where a training step's time goes (mean over %lld; the owner's refreshes counted inside):\n",
                   (long long)steps);
            for (int p = 0; p < s1.n_phases; p++)
                printf("    %-16s %8.3f s  (%llu rotations, %llu products, %llu refreshes)\n", s1.phase_name[p],
                       (s1.phase_seconds[p] - s0.phase_seconds[p]) / (double)steps,
                       (unsigned long long)((s1.phase[p].rotate - s0.phase[p].rotate) / (uint64_t)steps),
                       (unsigned long long)((s1.phase[p].mul - s0.phase[p].mul) / (uint64_t)steps),
                       (unsigned long long)((s1.phase[p].refresh - s0.phase[p].refresh) / (uint64_t)steps));
            printf("    %-16s %8.3f s  (the owner decrypting and re-encrypting)\n", "refreshes",
                   refresh_s_train / (double)steps);
        }
    }
    if (ag)
        algo->destroy(ag);
    cli_he_backend_free(&be);
    free(t_env);
    free(t_train);
    return rc;
}
