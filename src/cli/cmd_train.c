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
        "                     [--checkpoint FILE [--checkpoint-every N]] [--stop-after N]\n"
        "                     [--preset P [--insecure]] [--levels L] [--noise SD] [--threads T]\n"
        "       cipherl train --resume FILE [--log FILE.csv] [--trace FILE.csv] [--out MODEL] ...\n"
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
        "learning_rate_decay (SB3's linear schedule), max_grad_norm, TD3's policy_delay,\n"
        "target_policy_noise, target_noise_clip, noise_type, noise_std, and the HE pieces\n"
        "(docs/baselines.md): activation_fn (DQN), actor_activation_fn, critic_activation_fn\n"
        "(relu|poly2), activation_bound, actor_output (tanh|squash3|squash5), squash_bound;\n"
        "clear/interactive also activation_bound, max_degree, max_bound, adam_beta1,\n"
        "adam_beta2, adam_delta, adam_prior, reward_scale and optimizer=he_adam|sgd|adam\n"
        "(adam: exact, clear only); HE-DQN also learning_rate_decay; HE-TD3 also tau,\n"
        "policy_delay, target_policy_noise, target_noise_clip, noise_type, noise_std,\n"
        "squash_degree, squash_bound, normalize_obs, actor_adam_delta, actor_adam_prior.\n"
        "--steps defaults to n_timesteps.\n"
        "--log writes one CSV row per episode: step,episode,return,length.\n"
        "--trace writes one CSV row per environment step: step,action (the executed,\n"
        "noisy action for TD3).\n"
        "--out saves the deterministic policy as a model file for 'cipherl eval'\n"
        "(clear/interactive: the owner decrypts the network).\n"
        "Checkpoints (mode plain): --checkpoint FILE keeps the whole training state\n"
        "(networks, optimizer, replay buffer, random generators, environment) in FILE,\n"
        "every N steps with --checkpoint-every N (default: every 5 minutes), at the end,\n"
        "and when the run stops: after --stop-after N steps of this invocation (exit 3)\n"
        "or on SIGINT/SIGTERM (exit 130). --resume FILE goes on from FILE exactly as if\n"
        "the run had not stopped, and keeps checkpointing to it; give the same --log and\n"
        "--trace files (they are cut back to the checkpoint and continued); --env,\n"
        "--algo, --seed, --steps and --hp may be repeated and must agree with FILE.\n"
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
        "(default 120) the silence after which a request is sent again on a new connection;\n"
        "each further try of the same request waits twice as long (up to 600 s).\n");
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
            o.seed_given = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--steps", &missing))) {
            if (!cli_parse_steps(v, &o.steps)) {
                cli_error("train: --steps: '%s' is not a positive integer", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--checkpoint", &missing))) {
            o.checkpoint_path = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--resume", &missing))) {
            o.resume_path = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--checkpoint-every", &missing))) {
            if (!cli_parse_steps(v, &o.checkpoint_every)) {
                cli_error("train: --checkpoint-every: '%s' is not a positive integer", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--stop-after", &missing))) {
            if (!cli_parse_steps(v, &o.stop_after)) {
                cli_error("train: --stop-after: '%s' is not a positive integer", v);
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
            char *end;
            errno = 0;
            const double t = strtod(v, &end);
            if (errno || end == v || *end || !(t >= 0.01 && t <= 86400)) {
                cli_error("train: --timeout: '%s' is not a number of seconds in [0.01, 86400]", v);
                return 2;
            }
            o.timeout_ms = (int)lround(t * 1000);
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
    const int ckpt = o.checkpoint_path || o.resume_path || o.checkpoint_every || o.stop_after;
    if (ckpt && (strcmp(o.mode, "plain") || o.server || o.keys_dir)) {
        cli_error("train: --checkpoint, --resume, --checkpoint-every and --stop-after are "
                  "available in mode plain only");
        return 2;
    }
    if (o.checkpoint_every && !o.checkpoint_path && !o.resume_path) {
        cli_error("train: --checkpoint-every needs --checkpoint FILE");
        return 2;
    }
    if (!o.env_id && !o.resume_path) {
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
        return cli_train_plain(&o);
    }
    if (!strcmp(o.mode, "clear") || !strcmp(o.mode, "interactive"))
        return cli_train_he(&o);
    if (!strcmp(o.mode, "bootstrap"))
        cli_error("train: mode bootstrap is not available yet (available: plain, clear, interactive)");
    else
        cli_error("train: unknown mode '%s' (modes: plain, clear, interactive, bootstrap)", o.mode);
    return 2;
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
