/* cipherl train / eval — train a plaintext DQN or TD3 agent (mode plain) on a
 * classic-control task, and evaluate a saved model deterministically. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cipherl/rl.h"
#include "cli/cli.h"
#include "cli/train.h"


static void train_usage(FILE *f)
{
    fprintf(f,
        "usage: cipherl train --mode MODE --env ENV [--algo dqn|td3] [--seed S] [--steps N]\n"
        "                     [--log FILE.csv] [--trace FILE.csv] [--out MODEL]\n"
        "                     [--hp NAME=VALUE]... [--progress]\n"
        "                     [--preset P [--insecure]] [--levels L] [--noise SD] [--threads T]\n"
        "\n"
        "Trains an agent on ENV (see 'cipherl env list'). Modes (docs: DESIGN.md):\n"
        "  plain        standard DQN / TD3 in doubles (ReLU, exact max, Adam), the reference\n"
        "  clear        the HE-friendly algorithm on the clear slot machine: the twin of an\n"
        "               encrypted run (polynomial activations and max, HE-compatible Adam)\n"
        "  interactive  the HE-friendly algorithm on CKKS ciphertexts; the owner refreshes\n"
        "--algo defaults to dqn for discrete actions and td3 for continuous ones.\n"
        "Hyperparameters default to the mode's tuned set for ENV (plain: Stable-Baselines3's\n"
        "defaults overridden by the RL Zoo's; clear and interactive: docs/he-dqn.md for\n"
        "HE-DQN, docs/he-td3.md for HE-TD3) and each\n"
        "can be set with --hp NAME=VALUE, Stable-Baselines3's names: learning_rate,\n"
        "buffer_size, learning_starts, batch_size, gamma, train_freq, gradient_steps,\n"
        "net_arch, n_timesteps; DQN: target_update_interval, exploration_fraction,\n"
        "exploration_initial_eps, exploration_final_eps; plain also tau, adam_eps,\n"
        "max_grad_norm, TD3's policy_delay, target_policy_noise, target_noise_clip,\n"
        "noise_type, noise_std, and the HE pieces (docs/baselines.md): activation_fn\n"
        "(DQN), actor_activation_fn, critic_activation_fn (relu|poly2), activation_bound,\n"
        "actor_output (tanh|squash3|squash5), squash_bound; clear/interactive also\n"
        "activation_bound, max_degree, max_bound, adam_beta1, adam_beta2, adam_delta, adam_prior, reward_scale and\n"
        "optimizer=he_adam|sgd|adam (adam: exact, clear only); HE-DQN also\n"
        "learning_rate_decay; HE-TD3 also tau, policy_delay, target_policy_noise,\n"
        "target_noise_clip, noise_type, noise_std, squash_degree, squash_bound,\n"
        "normalize_obs, actor_adam_delta, actor_adam_prior.\n"
        "--steps defaults to n_timesteps.\n"
        "--log writes one CSV row per episode: step,episode,return,length.\n"
        "--trace writes one CSV row per environment step: step,action (the executed,\n"
        "noisy action for TD3).\n"
        "--out saves the deterministic policy as a model file for 'cipherl eval'\n"
        "(clear/interactive: the owner decrypts the network).\n"
        "--preset P (clear: default none, 6 levels; interactive: default n15) sets the CKKS\n"
        "parameters: their levels decide where refreshes fall; the test presets need\n"
        "--insecure. --levels overrides the clear level budget, --noise adds Gaussian noise of\n"
        "that standard deviation to each clear result (to rehearse CKKS), --threads sets the\n"
        "CKKS threads. A progress line is drawn on stderr when it is a terminal, or with\n"
        "--progress.\n"
        "\n"
        "A remote run: cipherl train --server ADDR --keys DIR --env ENV [options]\n"
        "trains encrypted on the platform at ADDR ('cipherl serve'); this process is the\n"
        "owner, with the keys of 'cipherl keygen --out DIR'. --server-key (Z85 text or a\n"
        "file; default DIR/server.curve.pub) is the platform's transport key, --timeout S\n"
        "(default 120) the silence after which a request is sent again on a new connection.\n");
}

void cli_train_progress(int64_t step, int64_t total, double elapsed, int64_t episodes,
                          const double *recent, int n_recent, int final)
{
    double sps = elapsed > 0 ? (double)step / elapsed : 0.0;
    double left = sps > 0 ? (double)(total - step) / sps : 0.0;
    char mean[32] = "-";
    if (n_recent > 0) {
        double s = 0;
        for (int i = 0; i < n_recent; i++)
            s += recent[i];
        snprintf(mean, sizeof mean, "%.1f", s / n_recent);
    }
    long l = (long)(left + 0.5);
    fprintf(stderr,
            "\r%lld/%lld steps | %.0f steps/s | %lld episodes | mean return (last 20) %s | "
            "left %ld:%02ld:%02ld   ",
            (long long)step, (long long)total, sps, (long long)episodes, mean, l / 3600,
            (l / 60) % 60, l % 60);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

static int train_plain(const cli_train_opts *o);

int cli_cmd_train(int argc, char **argv)
{
    cli_train_opts o = {.mode = "plain", .progress = isatty(STDERR_FILENO), .threads = 1};
    int missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            train_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--progress")) {
            o.progress = 1;
        } else if (!strcmp(argv[i], "--no-progress")) {
            o.progress = 0;
        } else if (!strcmp(argv[i], "--insecure")) {
            o.insecure = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--mode", &missing))) {
            o.mode = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--env", &missing))) {
            o.env_id = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--algo", &missing))) {
            o.algo = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", &missing))) {
            if (!cli_parse_u64(v, &o.seed)) {
                cli_error("train: --seed: '%s' is not a non-negative integer", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--steps", &missing))) {
            if (!cli_parse_steps(v, &o.steps)) {
                cli_error("train: --steps: '%s' is not a positive integer", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--log", &missing))) {
            o.log_path = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &missing))) {
            o.out_path = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--trace", &missing))) {
            o.trace_path = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--preset", &missing))) {
            o.preset = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--server", &missing))) {
            o.server = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--keys", &missing))) {
            o.keys_dir = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--server-key", &missing))) {
            o.server_key = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--timeout", &missing))) {
            uint64_t t;
            if (!cli_parse_u64(v, &t) || t < 1 || t > 86400) {
                cli_error("train: --timeout: '%s' is not a number of seconds in [1, 86400]", v);
                return 2;
            }
            o.timeout_ms = (int)(t * 1000);
        } else if ((v = cli_opt_value(argc, argv, &i, "--levels", &missing))) {
            uint64_t l;
            if (!cli_parse_u64(v, &l) || l < 1 || l > 64) {
                cli_error("train: --levels: '%s' is not an integer in [1, 64]", v);
                return 2;
            }
            o.levels = (int)l;
        } else if ((v = cli_opt_value(argc, argv, &i, "--threads", &missing))) {
            uint64_t t;
            if (!cli_parse_u64(v, &t) || t < 1 || t > 256) {
                cli_error("train: --threads: '%s' is not an integer in [1, 256]", v);
                return 2;
            }
            o.threads = (int)t;
        } else if ((v = cli_opt_value(argc, argv, &i, "--noise", &missing))) {
            char *end;
            errno = 0;
            o.noise = strtod(v, &end);
            if (!*v || *end || errno || !(o.noise >= 0) || !isfinite(o.noise)) {
                cli_error("train: --noise: '%s' is not a non-negative number", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--hp", &missing))) {
            if (o.n_hp == CLI_TRAIN_MAX_HP) {
                cli_error("train: too many --hp options");
                return 2;
            }
            o.hps[o.n_hp++] = v;
        } else if (!missing) {
            cli_error("train: unknown option '%s' (try 'cipherl train --help')", argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("train: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    if (!o.env_id) {
        cli_error("train: --env ENV is required (see 'cipherl env list')");
        return 2;
    }
    if (o.server || o.keys_dir) {
        if (!o.server || !o.keys_dir) {
            cli_error("train: a remote run needs both --server ADDR and --keys DIR");
            return 2;
        }
        return cli_train_remote(&o);
    }
    if (o.server_key || o.timeout_ms) {
        cli_error("train: --server-key and --timeout belong to a remote run (--server)");
        return 2;
    }
    if (!strcmp(o.mode, "plain")) {
        if (o.preset || o.levels || o.noise > 0) {
            cli_error("train: --preset, --levels and --noise belong to modes clear and interactive");
            return 2;
        }
        return train_plain(&o);
    }
    if (!strcmp(o.mode, "clear") || !strcmp(o.mode, "interactive"))
        return cli_train_he(&o);
    if (!strcmp(o.mode, "bootstrap"))
        cli_error("train: mode bootstrap is not available yet (available: plain, clear, interactive)");
    else
        cli_error("train: unknown mode '%s' (modes: plain, clear, interactive, bootstrap)", o.mode);
    return 2;
}

static int train_plain(const cli_train_opts *o)
{
    const char *env_id = o->env_id, *algo_s = o->algo, *log_path = o->log_path, *out_path = o->out_path;
    const int progress = o->progress;
    const uint64_t seed = o->seed;
    int64_t steps = o->steps;
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec) {
        cli_error("train: unknown environment '%s' (see 'cipherl env list')", env_id);
        return 2;
    }
    rl_algo algo = rl_algo_default_for(spec);
    if (algo_s && rl_algo_parse(algo_s, &algo) != CL_OK) {
        cli_error("train: unknown algorithm '%s' (dqn or td3)", algo_s);
        return 2;
    }
    rl_hparams hp;
    cl_status st = rl_hp_defaults(algo, env_id, &hp);
    if (st == CL_ERR_UNSUPPORTED) {
        cli_error("train: %s needs %s actions; %s has %s actions", rl_algo_name(algo),
                  algo == RL_ALGO_DQN ? "discrete" : "continuous", env_id,
                  spec->action_kind == RL_ACTION_DISCRETE ? "discrete" : "continuous");
        return 2;
    } else if (st != CL_OK) {
        cli_error("train: %s", cl_strerror(st));
        return 1;
    }
    char err[1280];
    for (int k = 0; k < o->n_hp; k++)
        if (rl_hp_assign(&hp, o->hps[k], err, sizeof err) != CL_OK) {
            cli_error("train: --hp %s: %s", o->hps[k], err);
            return 2;
        }
    if (rl_hp_check(&hp, err, sizeof err) != CL_OK) {
        cli_error("train: %s", err);
        return 2;
    }
    if (steps == 0)
        steps = hp.n_timesteps;
    hp.n_timesteps = steps; /* so the hyperparameter line says what ran, as in clear mode */

    FILE *log = NULL, *trace = NULL;
    if (log_path) {
        log = fopen(log_path, "w");
        if (!log) {
            cli_error("train: cannot write '%s': %s", log_path, strerror(errno));
            return 1;
        }
        fprintf(log, "step,episode,return,length\n");
    }
    if (o->trace_path) {
        trace = fopen(o->trace_path, "w");
        if (!trace) {
            cli_error("train: cannot write '%s': %s", o->trace_path, strerror(errno));
            if (log)
                fclose(log);
            return 1;
        }
        fprintf(trace, "step,action\n");
    }
    rl_env *env = NULL;
    rl_agent *ag = NULL;
    st = rl_env_create(env_id, &env);
    if (st == CL_OK)
        st = rl_agent_create(&hp, spec, seed ^ 0x5bd1e9955bd1e995ULL, &ag);
    if (st != CL_OK) {
        cli_error("train: cannot set up: %s", cl_strerror(st));
        rl_env_free(env);
        if (log)
            fclose(log);
        if (trace)
            fclose(trace);
        return 1;
    }
    rl_rng env_rng;
    rl_rng_seed(&env_rng, seed);
    rl_agent_begin(ag, env, &env_rng, steps);

    double recent[20];
    int n_recent = 0, recent_pos = 0;
    double t0 = cli_now_s(), last_draw = 0.0;
    rl_step_info info = {0};
    int rc = 0;
    for (int64_t s = 0; s < steps; s++) {
        st = rl_agent_step(ag, env, &env_rng, &info);
        if (st != CL_OK) {
            if (progress)
                fputc('\n', stderr);
            cli_error("train: step %lld failed: %s", (long long)s + 1, cl_strerror(st));
            rc = 1;
            break;
        }
        if (trace) {
            if (spec->action_kind == RL_ACTION_DISCRETE)
                fprintf(trace, "%lld,%d\n", (long long)info.step, (int)info.action[0]);
            else
                fprintf(trace, "%lld,%.17g\n", (long long)info.step, info.action[0]);
        }
        if (info.episode_done) {
            recent[recent_pos] = info.episode_return;
            recent_pos = (recent_pos + 1) % 20;
            if (n_recent < 20)
                n_recent++;
            if (log)
                fprintf(log, "%lld,%lld,%.10g,%lld\n", (long long)info.step,
                        (long long)info.episode, info.episode_return,
                        (long long)info.episode_length);
        }
        if (progress && (s & 63) == 0) {
            double t = cli_now_s();
            if (t - last_draw >= 0.25) {
                last_draw = t;
                cli_train_progress(info.step, steps, t - t0, info.episode, recent, n_recent, 0);
            }
        }
    }
    double elapsed = cli_now_s() - t0;
    if (progress && rc == 0)
        cli_train_progress(info.step, steps, elapsed, info.episode, recent, n_recent, 1);
    if (log && fclose(log) != 0 && rc == 0) {
        cli_error("train: writing '%s' failed", log_path);
        rc = 1;
    }
    if (trace && fclose(trace) != 0 && rc == 0) {
        cli_error("train: writing '%s' failed", o->trace_path);
        rc = 1;
    }
    if (rc == 0 && out_path) {
        st = rl_agent_save(ag, out_path);
        if (st != CL_OK) {
            cli_error("train: cannot save the model to '%s': %s", out_path, cl_strerror(st));
            rc = 1;
        }
    }
    if (rc == 0) {
        double mean = 0;
        for (int i = 0; i < n_recent; i++)
            mean += recent[i];
        char mtxt[64] = "n/a (no episode finished)";
        if (n_recent)
            snprintf(mtxt, sizeof mtxt, "%.2f", mean / n_recent);
        printf("trained %s on %s (mode plain, seed %llu): %lld steps, %lld episodes, "
               "%lld gradient steps in %.2f s (%.0f env steps/s); mean return of the last %d "
               "episodes %s\n",
               rl_algo_name(algo), env_id, (unsigned long long)seed, (long long)info.step,
               (long long)info.episode, (long long)info.gradient_steps, elapsed,
               elapsed > 0 ? (double)info.step / elapsed : 0.0, n_recent, mtxt);
        char hpbuf[2048];
        rl_hp_format(&hp, hpbuf, sizeof hpbuf);
        printf("hyperparameters: %s\n", hpbuf);
    }
    rl_agent_free(ag);
    rl_env_free(env);
    return rc;
}

static void eval_usage(FILE *f)
{
    fprintf(f,
        "usage: cipherl eval --model MODEL --env ENV [--episodes K] [--seed S] [--json]\n"
        "\n"
        "Runs K episodes (default 100) of MODEL's deterministic policy (greedy for DQN,\n"
        "the actor's action for TD3) on ENV, resets drawn from seed S (default 0), and\n"
        "prints the mean and standard deviation (over episodes) of the episode return;\n"
        "with --json one object {\"env\", \"episodes\", \"mean_return\", \"std_return\"}.\n");
}

int cli_cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *env_id = NULL;
    uint64_t seed = 0, episodes = 100;
    int json = 0, missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            eval_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--model", &missing))) {
            model = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--env", &missing))) {
            env_id = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--episodes", &missing))) {
            if (!cli_parse_u64(v, &episodes) || episodes < 1 || episodes > 10000000) {
                cli_error("eval: --episodes: '%s' is not an integer in [1, 10000000]", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", &missing))) {
            if (!cli_parse_u64(v, &seed)) {
                cli_error("eval: --seed: '%s' is not a non-negative integer", v);
                return 2;
            }
        } else if (!missing) {
            cli_error("eval: unknown option '%s' (try 'cipherl eval --help')", argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("eval: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    if (!model || !env_id) {
        cli_error("eval: --model MODEL and --env ENV are required");
        return 2;
    }
    if (!rl_env_find(env_id)) {
        cli_error("eval: unknown environment '%s' (see 'cipherl env list')", env_id);
        return 2;
    }
    rl_policy *pol;
    cl_status st = rl_policy_load(model, &pol);
    if (st != CL_OK) {
        if (st == CL_ERR_IO)
            cli_error("eval: cannot read '%s': %s", model, strerror(errno));
        else
            cli_error("eval: '%s' is not a usable model file: %s", model, cl_strerror(st));
        return 1;
    }
    if (strcmp(rl_policy_env_id(pol), env_id)) {
        cli_error("eval: the model was trained on %s, not %s", rl_policy_env_id(pol), env_id);
        rl_policy_free(pol);
        return 1;
    }
    rl_env *env;
    double *ret = malloc((size_t)episodes * sizeof(double));
    st = ret ? rl_env_create(env_id, &env) : CL_ERR_NOMEM;
    if (st != CL_OK) {
        cli_error("eval: %s", cl_strerror(st));
        free(ret);
        rl_policy_free(pol);
        return 1;
    }
    rl_rng rng;
    rl_rng_seed(&rng, seed);
    st = rl_policy_evaluate(pol, env, &rng, (int)episodes, ret);
    rl_env_free(env);
    rl_policy_free(pol);
    if (st != CL_OK) {
        cli_error("eval: %s", cl_strerror(st));
        free(ret);
        return 1;
    }
    double mean, sd;
    cli_mean_std(ret, (size_t)episodes, &mean, &sd);
    free(ret);
    if (json)
        printf("{\"env\": \"%s\", \"episodes\": %llu, \"mean_return\": %.6f, \"std_return\": %.6f}\n",
               env_id, (unsigned long long)episodes, mean, sd);
    else
        printf("%s: mean return %.2f ± %.2f over %llu deterministic episodes (seed %llu)\n", env_id,
               mean, sd, (unsigned long long)episodes, (unsigned long long)seed);
    return 0;
}
