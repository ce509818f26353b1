/* cipherl experiment — measured comparisons between modes. One experiment so
 * far: `gap`, the normalized score of the clear HE twin against the plaintext
 * agent (DESIGN.md, "How success is measured"; docs/experiment.md).
 *
 * For seeds 0..K-1: train a plain agent (as `cipherl train --mode plain`) and
 * the HE algorithm on the clear backend, evaluate both final policies over E
 * deterministic episodes, and compare the means over seeds with a uniform
 * random policy's return.
 *
 * The HE algorithm is a row of the shared table (cli/he_algo.h): HE-DQN for
 * discrete actions, HE-TD3 for continuous ones. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cipherl/rl.h"
#include "cipherl/slots.h"
#include "cli/cli.h"
#include "cli/he_algo.h"

#define MAX_HP 64
#define MAX_SEEDS 1000
#define MAX_EPISODES 1000000
#define DEFAULT_LEVELS 6
#define EVAL_SEED_BASE 10000u          /* evaluation resets of seed s: 10000 + s */
#define RANDOM_EPISODES 100            /* R_random: episodes of the uniform random policy */
#define RANDOM_RESET_SEED 424242u      /* ... their resets */
#define RANDOM_ACTION_SEED 424243u     /* ... their actions */
#define PLAIN_SEED_MIX 0x5bd1e9955bd1e995ULL /* as cmd_train.c: agent seed = seed ^ this */

/* ------------------------------------------------------------ progress */

typedef struct run_state {
    const char *label; /* "seed 3/10 plain" */
    int progress;
    int64_t total, step, episodes;
    double t0, last_draw;
    double recent[20];
    int n_recent, recent_pos;
    FILE *log;
    int log_failed;
} run_state;

static void run_start(run_state *rs, const char *label, int64_t total, int progress, FILE *log)
{
    memset(rs, 0, sizeof *rs);
    rs->label = label;
    rs->total = total;
    rs->progress = progress;
    rs->log = log;
    rs->t0 = cli_now_s();
}

static void run_draw(run_state *rs, int final)
{
    double t = cli_now_s(), elapsed = t - rs->t0;
    if (!final && t - rs->last_draw < 0.25)
        return;
    rs->last_draw = t;
    double sps = elapsed > 0 ? (double)rs->step / elapsed : 0.0;
    double left = sps > 0 ? (double)(rs->total - rs->step) / sps : 0.0;
    char mean[32] = "-";
    if (rs->n_recent > 0) {
        double s = 0;
        for (int i = 0; i < rs->n_recent; i++)
            s += rs->recent[i];
        snprintf(mean, sizeof mean, "%.1f", s / rs->n_recent);
    }
    long l = (long)(left + 0.5);
    fprintf(stderr,
            "\r%s | %lld/%lld steps | %.0f steps/s | %lld episodes | mean return (last 20) %s | "
            "left %ld:%02ld:%02ld   ",
            rs->label, (long long)rs->step, (long long)rs->total, sps, (long long)rs->episodes,
            mean, l / 3600, (l / 60) % 60, l % 60);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

static void run_episode(run_state *rs, int64_t step, double ret, int64_t length)
{
    rs->episodes++;
    rs->recent[rs->recent_pos] = ret;
    rs->recent_pos = (rs->recent_pos + 1) % 20;
    if (rs->n_recent < 20)
        rs->n_recent++;
    if (rs->log && fprintf(rs->log, "%lld,%lld,%.10g,%lld\n", (long long)step,
                           (long long)rs->episodes, ret, (long long)length) < 0)
        rs->log_failed = 1;
}

static void he_episode_cb(void *user, int64_t step, double ret, int length)
{
    run_state *rs = user;
    rs->step = step;
    run_episode(rs, step, ret, length);
}

/* ------------------------------------------------------------ runs */

static FILE *open_log(const char *dir, const char *kind, uint64_t seed, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s_seed%llu.csv", dir, kind, (unsigned long long)seed);
    FILE *f = fopen(path, "w");
    if (f)
        fprintf(f, "step,episode,return,length\n");
    return f;
}

static int close_log(FILE *f, int failed, const char *path)
{
    if (!f)
        return 0;
    if (fclose(f) != 0 || failed) {
        cli_error("experiment: writing '%s' failed", path);
        return 1;
    }
    return 0;
}

/* Trains the plain agent for one seed as `cipherl train --mode plain` does and
 * evaluates its deterministic policy; *ret_mean gets the evaluation mean. */
static int run_plain(const char *env_id, const rl_hparams *hp, uint64_t seed, int64_t steps,
                     int episodes, double *eval_buf, const char *label, int progress,
                     const char *log_dir, double *ret_mean, double *seconds)
{
    const rl_env_spec *spec = rl_env_find(env_id);
    char log_path[4096];
    FILE *log = NULL;
    if (log_dir && !(log = open_log(log_dir, "plain", seed, log_path, sizeof log_path))) {
        cli_error("experiment: cannot write '%s': %s", log_path, strerror(errno));
        return 1;
    }
    rl_env *env = NULL, *eval_env = NULL;
    rl_agent *ag = NULL;
    cl_status st = rl_env_create(env_id, &env);
    if (st == CL_OK)
        st = rl_env_create(env_id, &eval_env);
    if (st == CL_OK)
        st = rl_agent_create(hp, spec, seed ^ PLAIN_SEED_MIX, &ag);
    rl_rng env_rng;
    rl_rng_seed(&env_rng, seed);
    if (st == CL_OK)
        st = rl_agent_begin(ag, env, &env_rng, steps);
    int rc = 0;
    if (st != CL_OK) {
        cli_error("experiment: %s: cannot set up the plain agent: %s", label, cl_strerror(st));
        rc = 1;
    }
    run_state rs;
    run_start(&rs, label, steps, progress, log);
    rl_step_info info = {0};
    for (int64_t s = 0; s < steps && rc == 0; s++) {
        st = rl_agent_step(ag, env, &env_rng, &info);
        if (st != CL_OK) {
            if (progress)
                fputc('\n', stderr);
            cli_error("experiment: %s: step %lld failed: %s", label, (long long)s + 1,
                      cl_strerror(st));
            rc = 1;
            break;
        }
        rs.step = info.step;
        if (info.episode_done)
            run_episode(&rs, info.step, info.episode_return, info.episode_length);
        if (progress && (s & 63) == 0)
            run_draw(&rs, 0);
    }
    *seconds = cli_now_s() - rs.t0;
    if (rc == 0 && progress)
        run_draw(&rs, 1);
    if (close_log(log, rs.log_failed, log_path))
        rc = 1;
    if (rc == 0) {
        rl_rng eval_rng;
        rl_rng_seed(&eval_rng, EVAL_SEED_BASE + seed);
        st = rl_policy_evaluate(rl_agent_policy(ag), eval_env, &eval_rng, episodes, eval_buf);
        if (st != CL_OK) {
            cli_error("experiment: %s: evaluation failed: %s", label, cl_strerror(st));
            rc = 1;
        } else {
            double sd;
            cli_mean_std(eval_buf, (size_t)episodes, ret_mean, &sd);
        }
    }
    rl_agent_free(ag);
    rl_env_free(env);
    rl_env_free(eval_env);
    return rc;
}

/* Trains the HE algorithm on the clear backend for one seed and evaluates its
 * greedy policy. */
static int run_clear(const cli_he_algo *algo, const char *env_id, const cli_he_hp *hp, size_t slots,
                     int levels, uint64_t seed, int64_t steps, int episodes, double *eval_buf,
                     const char *label, int progress, const char *log_dir, double *ret_mean,
                     double *seconds, int64_t *train_steps, double *refresh_per_step,
                     int64_t *diverged_at)
{
    char log_path[4096];
    *diverged_at = -1;
    FILE *log = NULL;
    if (log_dir && !(log = open_log(log_dir, "clear", seed, log_path, sizeof log_path))) {
        cli_error("experiment: cannot write '%s': %s", log_path, strerror(errno));
        return 1;
    }
    slots_clear_config cfg = {.slots = slots, .levels = levels, .noise = 0.0, .seed = seed};
    slots_ctx *ctx = NULL;
    slots_owner *owner = NULL;
    void *ag = NULL;
    cl_status st = slots_clear_create(&cfg, &ctx, &owner);
    if (st == CL_OK)
        st = algo->create(env_id, hp, ctx, owner, seed, &ag);
    int rc = 0;
    if (st != CL_OK) {
        if (st == CL_ERR_LEVEL)
            cli_error("experiment: %s: %d levels are too few for %s with these hyperparameters "
                      "(see --levels)", label, levels, algo->long_name);
        else
            cli_error("experiment: %s: cannot set up %s: %s", label, algo->long_name,
                      cl_strerror(st));
        rc = 1;
    }
    run_state rs;
    run_start(&rs, label, steps, progress, log);
    const int64_t chunk = 64;
    for (int64_t done = 0; done < steps && rc == 0;) {
        int64_t n = steps - done < chunk ? steps - done : chunk;
        st = algo->learn(ag, n, he_episode_cb, &rs);
        done += n;
        rs.step = done;
        if (st == CL_ERR_DIVERGED) {
            /* a result, not an error: the seed is kept and scored (cmd_gap) */
            if (progress)
                fputc('\n', stderr);
            fprintf(stderr, "experiment: %s: the training diverged near step %lld; the seed "
                            "counts at the random policy's return\n",
                    label, (long long)done);
            *diverged_at = done;
            break;
        }
        if (st != CL_OK) {
            if (progress)
                fputc('\n', stderr);
            cli_error("experiment: %s: training failed near step %lld: %s", label,
                      (long long)done, cl_strerror(st));
            rc = 1;
            break;
        }
        if (progress)
            run_draw(&rs, 0);
    }
    *seconds = cli_now_s() - rs.t0;
    if (rc == 0 && *diverged_at < 0 && progress)
        run_draw(&rs, 1);
    if (close_log(log, rs.log_failed, log_path))
        rc = 1;
    if (rc == 0) {
        cli_he_stats hs;
        algo->stats(ag, &hs);
        *train_steps = hs.train_steps;
        *refresh_per_step = hs.train_steps > 0 ? (double)hs.train.refresh / (double)hs.train_steps : 0.0;
    }
    if (rc == 0 && *diverged_at < 0) {
        st = algo->evaluate(ag, episodes, EVAL_SEED_BASE + seed, eval_buf);
        if (st != CL_OK) {
            cli_error("experiment: %s: evaluation failed: %s", label, cl_strerror(st));
            rc = 1;
        } else {
            double sd;
            cli_mean_std(eval_buf, (size_t)episodes, ret_mean, &sd);
        }
    }
    if (ag)
        algo->destroy(ag);
    slots_owner_free(owner);
    slots_ctx_free(ctx);
    return rc;
}

/* The mean return of the uniform random policy over RANDOM_EPISODES episodes:
 * resets from RANDOM_RESET_SEED, actions from RANDOM_ACTION_SEED (uniform over
 * the discrete actions, or uniform in the box for continuous ones). */
static cl_status random_return(const char *env_id, double *mean)
{
    rl_env *env;
    cl_status st = rl_env_create(env_id, &env);
    if (st != CL_OK)
        return st;
    const rl_env_spec *spec = rl_env_get_spec(env);
    rl_rng reset_rng, act_rng;
    rl_rng_seed(&reset_rng, RANDOM_RESET_SEED);
    rl_rng_seed(&act_rng, RANDOM_ACTION_SEED);
    double total = 0;
    for (int e = 0; e < RANDOM_EPISODES && st == CL_OK; e++) {
        double obs[RL_MAX_OBS], action[RL_MAX_ACT], r, ret = 0;
        bool term = false, trunc = false;
        rl_env_reset(env, &reset_rng, obs);
        while (!term && !trunc) {
            if (spec->action_kind == RL_ACTION_DISCRETE)
                action[0] = (double)rl_rng_below(&act_rng, (uint32_t)spec->n_actions);
            else
                for (int k = 0; k < spec->action_dim; k++)
                    action[k] = rl_rng_range(&act_rng, spec->action_low, spec->action_high);
            if ((st = rl_env_step(env, action, obs, &r, &term, &trunc)) != CL_OK)
                break;
            ret += r;
        }
        total += ret;
    }
    rl_env_free(env);
    *mean = total / RANDOM_EPISODES;
    return st;
}

/* ------------------------------------------------------------ output */

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* Can path be written? (creates nothing that was not there) */
static int check_writable(const char *path)
{
    struct stat sb;
    int existed = stat(path, &sb) == 0;
    if (existed && S_ISDIR(sb.st_mode)) {
        errno = EISDIR;
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (!f)
        return 0;
    fclose(f);
    if (!existed)
        remove(path);
    return 1;
}

/* The gap's interval: a paired bootstrap over seeds (rl_gap_score). */
#define GAP_LEVEL 0.95
#define GAP_RESAMPLES 10000
#define GAP_SEED 20251125u

static void print_interval(double lo, double hi)
{
    printf("gap 95%% interval over seeds: [%.4f, ", lo);
    if (isfinite(hi))
        printf("%.4f]", hi);
    else
        printf("undefined]");
    printf(" (paired bootstrap, %d resamples of the seeds)\n", GAP_RESAMPLES);
}

static void gap_usage(FILE *f)
{
    fprintf(f,
        "usage: cipherl experiment gap --env ENV [--seeds K] [--steps N] [--episodes E]\n"
        "                              [--levels L] [--hp NAME=VALUE]... [--plain-hp NAME=VALUE]...\n"
        "                              [--json FILE] [--logs DIR] [--progress]\n"
        "\n"
        "The gap of DESIGN.md between the clear HE twin and the plaintext agent. For\n"
        "seeds s = 0..K-1 (K default 10) it trains a plain agent (as 'cipherl train\n"
        "--mode plain --seed s': RL Zoo defaults, --plain-hp to override) and the HE\n"
        "algorithm on the clear backend (HE-DQN for discrete actions, HE-TD3 for\n"
        "continuous ones; --hp to override,\n"
        "e.g. optimizer=he_adam|sgd|adam), each for N steps (default: its n_timesteps),\n"
        "with L levels between refreshes (default 6). Each final policy runs E\n"
        "deterministic episodes (default 100), resets from seed 10000 + s. R_random is\n"
        "the mean return of a uniform random policy over 100 episodes (resets from seed\n"
        "424242, actions from seed 424243). With R the mean over seeds of each seed's\n"
        "evaluation mean:\n"
        "    normalized score = (R_clear - R_random) / (R_plain - R_random)\n"
        "    gap = 1 - normalized score\n"
        "and the gap's 95%% interval over seeds: a paired bootstrap (10 000 draws of K\n"
        "seeds with replacement, each keeping its plain and clear returns together).\n"
        "\n"
        "  --json FILE  one JSON object: env, seeds, random_return, plain {mean, std},\n"
        "               clear {mean, std}, gap, normalized_score, gap_ci95, then details\n"
        "               (docs/experiment.md)\n"
        "  --logs DIR   per-seed training logs DIR/plain_seedS.csv, DIR/clear_seedS.csv\n"
        "               (step,episode,return,length); DIR is created if missing\n"
        "  --progress   draw a progress line on stderr (default: when it is a terminal)\n");
}

static void experiment_usage(FILE *f)
{
    fprintf(f,
        "usage: cipherl experiment EXPERIMENT [options]\n"
        "\n"
        "experiments:\n"
        "  gap    plain agent vs its clear HE twin: normalized score and gap over seeds\n"
        "         (cipherl experiment gap --help)\n"
        "  score  the gap and its interval from per-seed returns already measured\n"
        "         (cipherl experiment score --help)\n");
}

static void score_usage(FILE *f)
{
    fprintf(f,
        "usage: cipherl experiment score --random R --plain V1,V2,... --agent W1,W2,...\n"
        "                                [--json]\n"
        "\n"
        "The gap of DESIGN.md of an agent against the plain agent, from their\n"
        "evaluation returns on the same seeds (Vi and Wi: seed i) and the random\n"
        "policy's return R, as 'experiment gap' computes it, with the same 95%%\n"
        "interval (paired bootstrap, %d draws of the seeds). With --json one object\n"
        "{\"seeds\", \"random_return\", \"plain_mean\", \"agent_mean\", \"normalized_score\",\n"
        "\"gap\", \"gap_ci95\"} (null where the plain agent does no better than random).\n",
        GAP_RESAMPLES);
}

/* "v1,v2,..." into a malloc'ed array; 0 on success */
static int parse_list(const char *s, double **out, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    double *v = malloc(cap * sizeof *v);
    if (!v)
        return -1;
    size_t k = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        v[k] = strtod(p, &end);
        if (end == p || errno || !isfinite(v[k]) || (*end && *end != ',')) {
            free(v);
            return -1;
        }
        k++;
        if (!*end)
            break;
        p = end + 1;
    }
    *out = v;
    *n = k;
    return 0;
}

static int cmd_score(int argc, char **argv)
{
    const char *random_s = NULL, *plain_s = NULL, *agent_s = NULL;
    int json = 0, missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            score_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--random", &missing))) {
            random_s = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--plain", &missing))) {
            plain_s = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--agent", &missing))) {
            agent_s = v;
        } else if (!missing) {
            cli_error("experiment score: unknown option '%s' (try 'cipherl experiment score "
                      "--help')", argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("experiment score: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    if (!random_s || !plain_s || !agent_s) {
        cli_error("experiment score: --random, --plain and --agent are required");
        return 2;
    }
    char *end;
    errno = 0;
    double rr = strtod(random_s, &end);
    if (end == random_s || *end || errno || !isfinite(rr)) {
        cli_error("experiment score: --random: '%s' is not a number", random_s);
        return 2;
    }
    double *pv = NULL, *av = NULL;
    size_t np = 0, na = 0;
    if (parse_list(plain_s, &pv, &np) || parse_list(agent_s, &av, &na)) {
        cli_error("experiment score: --%s: '%s' is not a comma-separated list of numbers",
                  pv ? "agent" : "plain", pv ? agent_s : plain_s);
        free(pv);
        return 2;
    }
    if (np != na) {
        cli_error("experiment score: %zu plain returns but %zu agent returns (one each per "
                  "seed)", np, na);
        free(pv);
        free(av);
        return 2;
    }
    rl_gap sc;
    cl_status st = rl_gap_score(pv, av, np, rr, GAP_LEVEL, GAP_RESAMPLES, GAP_SEED, &sc);
    double pm, ps, am, as;
    cli_mean_std(pv, np, &pm, &ps);
    cli_mean_std(av, na, &am, &as);
    free(pv);
    free(av);
    if (st != CL_OK) {
        cli_error("experiment score: %s", cl_strerror(st));
        return 1;
    }
    if (json) {
        printf("{\"seeds\": %zu, \"random_return\": ", np);
        json_num(stdout, rr);
        printf(", \"plain_mean\": ");
        json_num(stdout, pm);
        printf(", \"agent_mean\": ");
        json_num(stdout, am);
        printf(", \"normalized_score\": ");
        json_num(stdout, sc.normalized);
        printf(", \"gap\": ");
        json_num(stdout, sc.gap);
        printf(", \"gap_ci95\": [");
        json_num(stdout, sc.lo);
        printf(", ");
        json_num(stdout, sc.hi);
        printf("]}\n");
        return 0;
    }
    printf("%zu seeds: plain %.2f ± %.2f, agent %.2f ± %.2f, random %.2f\n", np, pm, ps, am, as,
           rr);
    if (!isfinite(sc.normalized)) {
        printf("normalized score: undefined (the plain agent does no better than the random "
               "policy)\n");
        return 0;
    }
    printf("normalized score: %.4f   gap: %.4f (%.2f%%)\n", sc.normalized, sc.gap,
           100.0 * sc.gap);
    print_interval(sc.lo, sc.hi);
    return 0;
}

static int cmd_gap(int argc, char **argv)
{
    const char *env_id = NULL, *json_path = NULL, *log_dir = NULL;
    const char *hps[MAX_HP], *plain_hps[MAX_HP];
    int n_hp = 0, n_plain_hp = 0, progress = isatty(STDERR_FILENO), missing = 0;
    uint64_t n_seeds = 10, episodes = 100, levels_u = DEFAULT_LEVELS;
    int64_t steps = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            gap_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--progress")) {
            progress = 1;
        } else if (!strcmp(argv[i], "--no-progress")) {
            progress = 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--env", &missing))) {
            env_id = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--seeds", &missing))) {
            if (!cli_parse_u64(v, &n_seeds) || n_seeds < 1 || n_seeds > MAX_SEEDS) {
                cli_error("experiment gap: --seeds: '%s' is not an integer in [1, %d]", v,
                          MAX_SEEDS);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--steps", &missing))) {
            if (!cli_parse_steps(v, &steps)) {
                cli_error("experiment gap: --steps: '%s' is not a positive integer", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--episodes", &missing))) {
            if (!cli_parse_u64(v, &episodes) || episodes < 1 || episodes > MAX_EPISODES) {
                cli_error("experiment gap: --episodes: '%s' is not an integer in [1, %d]", v,
                          MAX_EPISODES);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--levels", &missing))) {
            if (!cli_parse_u64(v, &levels_u) || levels_u < 1 || levels_u > 1000) {
                cli_error("experiment gap: --levels: '%s' is not an integer in [1, 1000]", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--json", &missing))) {
            json_path = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--logs", &missing))) {
            log_dir = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--hp", &missing))) {
            if (n_hp == MAX_HP) {
                cli_error("experiment gap: too many --hp options");
                return 2;
            }
            hps[n_hp++] = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--plain-hp", &missing))) {
            if (n_plain_hp == MAX_HP) {
                cli_error("experiment gap: too many --plain-hp options");
                return 2;
            }
            plain_hps[n_plain_hp++] = v;
        } else if (!missing) {
            cli_error("experiment gap: unknown option '%s' (try 'cipherl experiment gap --help')",
                      argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("experiment gap: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    if (!env_id) {
        cli_error("experiment gap: --env ENV is required (see 'cipherl env list')");
        return 2;
    }
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec) {
        cli_error("experiment gap: unknown environment '%s' (see 'cipherl env list')", env_id);
        return 2;
    }
    const cli_he_algo *algo = cli_he_algo_for_kind(spec->action_kind);
    const int levels = (int)levels_u;
    if (levels < algo->min_levels()) {
        cli_error("experiment gap: --levels %d: %s needs at least %d levels between refreshes "
                  "(the depth of its optimizer step)", levels, algo->long_name, algo->min_levels());
        return 2;
    }

    /* plaintext hyperparameters, as cmd_train.c */
    char err[1280];
    rl_hparams php;
    cl_status st = rl_hp_defaults(algo->plain, env_id, &php);
    if (st != CL_OK) {
        cli_error("experiment gap: no plain %s hyperparameters for %s: %s",
                  rl_algo_name(algo->plain), env_id, cl_strerror(st));
        return 1;
    }
    for (int k = 0; k < n_plain_hp; k++) {
        err[0] = '\0';
        if (rl_hp_assign(&php, plain_hps[k], err, sizeof err) != CL_OK) {
            cli_error("experiment gap: --plain-hp %s: %s", plain_hps[k], err);
            return 2;
        }
    }
    err[0] = '\0';
    if (rl_hp_check(&php, err, sizeof err) != CL_OK) {
        cli_error("experiment gap: plain hyperparameters: %s", err);
        return 2;
    }
    if (steps)
        php.n_timesteps = steps; /* so the hyperparameter line says what ran */
    const int64_t plain_steps = php.n_timesteps;

    /* HE hyperparameters: the exploration schedule spans the run, as the plain
     * agent's does (rl_agent_begin's total_steps) */
    cli_he_hp hhp;
    int hrc = cli_he_algo_hparams(algo, "experiment gap", env_id, hps, n_hp, steps, &hhp);
    if (hrc)
        return hrc;
    const int64_t clear_steps = *algo->hp_timesteps(&hhp);
    size_t slots = 0;
    st = algo->layout(env_id, &hhp, &slots);
    if (st != CL_OK) {
        cli_error("experiment gap: no %s layout for %s: %s", algo->long_name, env_id,
                  cl_strerror(st));
        return 2;
    }

    /* outputs: fail now rather than after the training */
    if (json_path && !check_writable(json_path)) {
        cli_error("experiment gap: cannot write '%s': %s", json_path, strerror(errno));
        return 1;
    }
    if (log_dir) {
        struct stat sb;
        if (stat(log_dir, &sb) != 0) {
            if (mkdir(log_dir, 0777) != 0) {
                cli_error("experiment gap: cannot create the log directory '%s': %s", log_dir,
                          strerror(errno));
                return 1;
            }
        } else if (!S_ISDIR(sb.st_mode)) {
            cli_error("experiment gap: --logs: '%s' is not a directory", log_dir);
            return 1;
        }
        if (access(log_dir, W_OK | X_OK) != 0) {
            cli_error("experiment gap: cannot write in '%s': %s", log_dir, strerror(errno));
            return 1;
        }
    }

    const size_t K = (size_t)n_seeds;
    double *plain_r = calloc(K, sizeof *plain_r), *clear_r = calloc(K, sizeof *clear_r);
    double *plain_t = calloc(K, sizeof *plain_t), *clear_t = calloc(K, sizeof *clear_t);
    double *refresh = calloc(K, sizeof *refresh);
    int64_t *tsteps = calloc(K, sizeof *tsteps), *diverged = calloc(K, sizeof *diverged);
    double *eval_buf = malloc((size_t)episodes * sizeof *eval_buf);
    int rc = 0;
    if (!plain_r || !clear_r || !plain_t || !clear_t || !refresh || !tsteps || !diverged || !eval_buf) {
        cli_error("experiment gap: %s", cl_strerror(CL_ERR_NOMEM));
        rc = 1;
    }
    double r_random = 0;
    if (rc == 0 && (st = random_return(env_id, &r_random)) != CL_OK) {
        cli_error("experiment gap: the random policy failed: %s", cl_strerror(st));
        rc = 1;
    }
    const double t_start = cli_now_s();
    for (size_t s = 0; s < K && rc == 0; s++) {
        char label[64];
        snprintf(label, sizeof label, "seed %zu/%zu plain", s, K);
        rc = run_plain(env_id, &php, s, plain_steps, (int)episodes, eval_buf, label, progress,
                       log_dir, &plain_r[s], &plain_t[s]);
        if (rc)
            break;
        snprintf(label, sizeof label, "seed %zu/%zu clear", s, K);
        rc = run_clear(algo, env_id, &hhp, slots, levels, s, clear_steps, (int)episodes, eval_buf,
                       label, progress, log_dir, &clear_r[s], &clear_t[s], &tsteps[s],
                       &refresh[s], &diverged[s]);
        if (rc == 0 && diverged[s] >= 0)
            clear_r[s] = r_random; /* a diverged agent is scored as the random policy */
        if (rc == 0 && progress)
            fprintf(stderr, "seed %zu: plain %.2f, clear %.2f\n", s, plain_r[s], clear_r[s]);
    }
    const double total_s = cli_now_s() - t_start;

    if (rc == 0) {
        double pm, ps, cm, cs;
        cli_mean_std(plain_r, K, &pm, &ps);
        cli_mean_std(clear_r, K, &cm, &cs);
        rl_gap sc;
        if (rl_gap_score(plain_r, clear_r, K, r_random, GAP_LEVEL, GAP_RESAMPLES, GAP_SEED,
                         &sc) != CL_OK) {
            cli_error("experiment gap: a return is not finite");
            rc = 1;
            sc.normalized = sc.gap = sc.lo = sc.hi = NAN;
        }
        const double norm = sc.normalized, gap = sc.gap;
        char php_buf[2048], hhp_buf[2048];
        rl_hp_format(&php, php_buf, sizeof php_buf);
        algo->hp_format(&hhp, hhp_buf, sizeof hhp_buf);
        const char *opt = cli_he_optimizer_name(algo->hp_optimizer(&hhp));

        printf("gap experiment on %s: %zu seeds; plain %s for %lld steps vs clear %s for %lld "
               "steps (%d levels, optimizer %s)\n",
               env_id, K, rl_algo_name(algo->plain), (long long)plain_steps, algo->long_name,
               (long long)clear_steps, levels, opt);
        printf("evaluation: %llu deterministic episodes per agent, resets from seed 10000 + "
               "seed\n\n",
               (unsigned long long)episodes);
        printf("  %6s %14s %14s %10s %10s %12s\n", "seed", "plain return", "clear return",
               "plain s", "clear s", "refresh/step");
        size_t n_div = 0;
        for (size_t s = 0; s < K; s++) {
            if (diverged[s] < 0) {
                printf("  %6zu %14.2f %14.2f %10.1f %10.1f %12.1f\n", s, plain_r[s], clear_r[s],
                       plain_t[s], clear_t[s], refresh[s]);
                continue;
            }
            n_div++;
            printf("  %6zu %14.2f %13.2f* %10.1f %10.1f %12s  diverged near step %lld\n", s,
                   plain_r[s], clear_r[s], plain_t[s], clear_t[s], "-", (long long)diverged[s]);
        }
        printf("  %6s %14.2f %14.2f\n", "mean", pm, cm);
        printf("  %6s %14.2f %14.2f   (population standard deviation across seeds)\n", "std", ps,
               cs);
        if (n_div)
            printf("  * %zu clear run%s diverged and count%s at the random policy's return\n",
                   n_div, n_div > 1 ? "s" : "", n_div > 1 ? "" : "s");
        printf("\nrandom policy return: %.2f (%d episodes)\n", r_random, RANDOM_EPISODES);
        if (isfinite(norm)) {
            printf("normalized score: %.4f   gap: %.4f (%.2f%%)\n", norm, gap, 100.0 * gap);
            print_interval(sc.lo, sc.hi);
        } else {
            printf("normalized score: undefined (the plain agent does no better than the random "
                   "policy)\n");
        }
        printf("plain hyperparameters: %s\nclear hyperparameters: %s\n", php_buf, hhp_buf);

        if (json_path) {
            FILE *f = fopen(json_path, "w");
            if (!f) {
                cli_error("experiment gap: cannot write '%s': %s", json_path, strerror(errno));
                rc = 1;
            } else {
                fprintf(f, "{\"env\": ");
                json_str(f, env_id);
                fprintf(f, ", \"seeds\": %zu, \"random_return\": ", K);
                json_num(f, r_random);
                fprintf(f, ", \"plain\": {\"mean\": ");
                json_num(f, pm);
                fprintf(f, ", \"std\": ");
                json_num(f, ps);
                fprintf(f, "}, \"clear\": {\"mean\": ");
                json_num(f, cm);
                fprintf(f, ", \"std\": ");
                json_num(f, cs);
                fprintf(f, "}, \"gap\": ");
                json_num(f, gap);
                fprintf(f, ", \"normalized_score\": ");
                json_num(f, norm);
                fprintf(f, ", \"gap_ci95\": [");
                json_num(f, sc.lo);
                fprintf(f, ", ");
                json_num(f, sc.hi);
                fprintf(f, "], \"bootstrap_resamples\": %d", GAP_RESAMPLES);
                fprintf(f, ", \"algo\": ");
                json_str(f, algo->name);
                fprintf(f, ", \"optimizer\": ");
                json_str(f, opt);
                fprintf(f, ", \"levels\": %d, \"steps\": {\"plain\": %lld, \"clear\": %lld}, "
                           "\"episodes\": %llu, \"eval_seed_base\": %u, \"random_episodes\": %d, "
                           "\"per_seed\": {\"plain\": [",
                        levels, (long long)plain_steps, (long long)clear_steps,
                        (unsigned long long)episodes, EVAL_SEED_BASE, RANDOM_EPISODES);
                for (size_t s = 0; s < K; s++) {
                    fputs(s ? ", " : "", f);
                    json_num(f, plain_r[s]);
                }
                fprintf(f, "], \"clear\": [");
                for (size_t s = 0; s < K; s++) {
                    fputs(s ? ", " : "", f);
                    json_num(f, clear_r[s]);
                }
                fprintf(f, "], \"plain_seconds\": [");
                for (size_t s = 0; s < K; s++)
                    fprintf(f, "%s%.3f", s ? ", " : "", plain_t[s]);
                fprintf(f, "], \"clear_seconds\": [");
                for (size_t s = 0; s < K; s++)
                    fprintf(f, "%s%.3f", s ? ", " : "", clear_t[s]);
                fprintf(f, "], \"clear_train_steps\": [");
                for (size_t s = 0; s < K; s++)
                    fprintf(f, "%s%lld", s ? ", " : "", (long long)tsteps[s]);
                fprintf(f, "], \"clear_refreshes_per_train_step\": [");
                for (size_t s = 0; s < K; s++) {
                    fputs(s ? ", " : "", f);
                    json_num(f, diverged[s] < 0 ? refresh[s] : NAN);
                }
                fprintf(f, "], \"clear_diverged_at\": [");
                for (size_t s = 0; s < K; s++) {
                    if (diverged[s] < 0)
                        fprintf(f, "%snull", s ? ", " : "");
                    else
                        fprintf(f, "%s%lld", s ? ", " : "", (long long)diverged[s]);
                }
                fprintf(f, "]}, \"plain_hp\": ");
                json_str(f, php_buf);
                fprintf(f, ", \"clear_hp\": ");
                json_str(f, hhp_buf);
                fprintf(f, "}\n");
                if (fclose(f) != 0) {
                    cli_error("experiment gap: writing '%s' failed", json_path);
                    rc = 1;
                }
            }
        }
        if (isfinite(norm))
            printf("summary: gap %s, %zu seeds (%zu diverged): plain %.2f ± %.2f, clear %.2f ± "
                   "%.2f, random %.2f; normalized score %.4f, gap %.4f, 95%% interval "
                   "[%.4f, %.4f] (%.1f s)\n",
                   env_id, K, n_div, pm, ps, cm, cs, r_random, norm, gap, sc.lo, sc.hi, total_s);
        else
            printf("summary: gap %s, %zu seeds (%zu diverged): plain %.2f ± %.2f, clear %.2f ± "
                   "%.2f, random %.2f; normalized score undefined (%.1f s)\n",
                   env_id, K, n_div, pm, ps, cm, cs, r_random, total_s);
    }
    free(plain_r);
    free(clear_r);
    free(plain_t);
    free(clear_t);
    free(refresh);
    free(tsteps);
    free(diverged);
    free(eval_buf);
    return rc;
}

int cli_cmd_experiment(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("experiment: which experiment? (experiments: gap, score; try 'cipherl experiment "
                  "--help')");
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        experiment_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "gap"))
        return cmd_gap(argc - 1, argv + 1);
    if (!strcmp(argv[1], "score"))
        return cmd_score(argc - 1, argv + 1);
    cli_error("experiment: unknown experiment '%s' (experiments: gap, score)", argv[1]);
    return 2;
}
