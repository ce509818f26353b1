/* cipherl demo: the main job on embedded defaults.
 *
 * Outsourced encrypted training, end to end, on one machine: the demo makes
 * throwaway owner keys at a 128-bit preset, starts a platform (`cipherl
 * serve`, a separate process on loopback), and trains HE-DQN on CartPole-v1
 * as the owner (`train --server`) for a short budget. Then it trains the plain
 * DQN and the clear twin of the HE-DQN run (the same algorithm on the clear
 * slot machine, same seed, same level budget) for the same budget, evaluates
 * the three networks greedily, checks that the encrypted run chose the twin's
 * actions, and ends with a table and a learning-curve plot (gnuplot).
 *
 * Everything it writes goes to --dir (default ./cipherl-demo); the keys and
 * the platform's state live in a work directory inside it, deleted at the
 * end. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cipherl/ckks.h"
#include "cipherl/rl.h"
#include "cli/cli.h"
#include "cli/net_cli.h"
#include "cli/train.h"

#define DEMO_ENV "CartPole-v1"

typedef struct demo_opts {
    const char *preset, *dir;
    int insecure;
    int64_t steps;
    uint64_t seed, episodes;
    int64_t learning_starts, train_freq;
} demo_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cipherl demo [--dir DIR] [--preset P] [--steps N] [--seed S] [--episodes K]\n"
            "                    [--learning-starts L] [--train-freq F] [--insecure]\n"
            "Outsourced encrypted training on one machine. The demo makes throwaway owner keys at a\n"
            "128-bit preset (default n14-l6), starts a platform ('cipherl serve') on loopback and\n"
            "trains HE-DQN on " DEMO_ENV " as the owner ('train --server') for N environment steps\n"
            "(default 96: L = 64 random steps fill the replay, then a greedy action on the\n"
            "encrypted network per step and a training step every F = 16). Then the plain DQN and\n"
            "the clear twin of the HE-DQN run train for the same steps with the same seed, the three\n"
            "networks are evaluated greedily over K episodes (default 20), and it prints a table\n"
            "(returns, whether the encrypted run chose the twin's actions, wall time, bytes moved).\n"
            "Writes to DIR (default ./cipherl-demo): summary.md, the training logs and traces, the\n"
            "models, platform.log, and curves.png (with gnuplot; curves.gp to render it). The keys\n"
            "and the platform's state are kept in DIR/work-XXXXXX and deleted at the end.\n"
            "About 2 minutes at n14-l6 on 2 cores. Test presets need --insecure.\n");
}

/* ------------------------------------------------------------ files */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

static int remove_tree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int join(char *out, size_t cap, const char *dir, const char *name)
{
    const size_t a = strlen(dir), b = strlen(name);
    if (a + b + 2 > cap)
        return -1;
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return 0;
}

/* Episodes of a training log (step,episode,return,length): count, mean
 * return over all of them and over the last 20. */
typedef struct log_summary {
    int64_t episodes;
    double mean_all, mean_last;
} log_summary;

static int read_log(const char *path, log_summary *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    double last[CLI_RECENT];
    double sum = 0;
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (first) {
            first = 0;
            continue;
        }
        long long step, ep, len;
        double ret;
        if (sscanf(line, "%lld,%lld,%lf,%lld", &step, &ep, &ret, &len) != 4)
            continue;
        last[out->episodes % CLI_RECENT] = ret;
        out->episodes++;
        sum += ret;
    }
    fclose(f);
    if (out->episodes) {
        out->mean_all = sum / (double)out->episodes;
        const int64_t k = out->episodes < CLI_RECENT ? out->episodes : CLI_RECENT;
        double s = 0;
        for (int64_t i = 0; i < k; i++)
            s += last[i];
        out->mean_last = s / (double)k;
    }
    return 0;
}

/* Compares two traces (step,action rows): the number of equal leading rows
 * in *same and the rows of the longer one in *rows; 0 if both read. */
static int compare_traces(const char *a, const char *b, int64_t *same, int64_t *rows, int64_t *first_diff)
{
    FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
    *same = *rows = 0;
    *first_diff = -1;
    if (!fa || !fb) {
        if (fa)
            fclose(fa);
        if (fb)
            fclose(fb);
        return -1;
    }
    char la[128], lb[128];
    int header = 1;
    for (;;) {
        char *ra = fgets(la, sizeof la, fa), *rb = fgets(lb, sizeof lb, fb);
        if (!ra && !rb)
            break;
        if (header) {
            header = 0;
            continue;
        }
        (*rows)++;
        if (ra && rb && !strcmp(la, lb)) {
            if (*first_diff < 0)
                (*same)++;
        } else if (*first_diff < 0) {
            *first_diff = *rows;
        }
    }
    fclose(fa);
    fclose(fb);
    return 0;
}

/* ------------------------------------------------------------ steps */

/* Runs a sub-command of this program in-process with a NULL-terminated list. */
static int run_cmd(int (*cmd)(int, char **), const char *first, ...)
{
    char *argv[48];
    int n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 47; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    fflush(stdout);
    return cmd(n, argv);
}

/* The platform: `cipherl serve` in a child process that dies with the demo,
 * its output in log_path. */
static pid_t start_platform(const char *state, const char *log_path, int insecure)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    char *argv[] = {"cipherl", "serve", "--listen", "tcp://127.0.0.1:*", "--state", (char *)state,
                    insecure ? "--insecure" : NULL, NULL};
    execv("/proc/self/exe", argv);
    _exit(127);
}

/* Waits (up to a minute) for the platform to write STATE/endpoint. */
static int wait_endpoint(pid_t pid, const char *state, char *endpoint, size_t cap)
{
    char path[2200];
    join(path, sizeof path, state, "endpoint");
    for (int i = 0; i < 600; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            char *ok = fgets(endpoint, (int)cap, f);
            fclose(f);
            if (ok && endpoint[0]) { /* serve writes it whole (a rename) */
                endpoint[strcspn(endpoint, "\n")] = '\0';
                return 0;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return -1;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void stop_platform(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Greedy evaluation of a model file over `episodes` episodes. */
static int evaluate(const char *model, uint64_t episodes, uint64_t seed, double *mean, double *sd)
{
    rl_policy *pol = NULL;
    rl_env *env = NULL;
    double *ret = malloc((size_t)episodes * sizeof *ret);
    cl_status st = ret ? rl_policy_load(model, &pol) : CL_ERR_NOMEM;
    if (st == CL_OK)
        st = rl_env_create(DEMO_ENV, &env);
    if (st == CL_OK) {
        rl_rng rng;
        rl_rng_seed(&rng, seed);
        st = rl_policy_evaluate(pol, env, &rng, (int)episodes, ret);
    }
    if (st == CL_OK)
        cli_mean_std(ret, (size_t)episodes, mean, sd);
    else
        cli_error("demo: cannot evaluate %s: %s", model, cl_strerror(st));
    rl_env_free(env);
    rl_policy_free(pol);
    free(ret);
    return st == CL_OK ? 0 : 1;
}

static double max_weight_diff(const char *a, const char *b)
{
    rl_policy *pa = NULL, *pb = NULL;
    double d = NAN;
    if (rl_policy_load(a, &pa) == CL_OK && rl_policy_load(b, &pb) == CL_OK && cli_policy_diff(pa, pb, &d, NULL, NULL))
        d = NAN;
    rl_policy_free(pa);
    rl_policy_free(pb);
    return d;
}

/* ------------------------------------------------------------ report */

typedef struct demo_row {
    const char *name, *log;
    log_summary ls;
    double eval_mean, eval_sd, seconds;
    double mb; /* moved between owner and platform; < 0: none */
} demo_row;

static void fmt_return(char *buf, size_t cap, const log_summary *ls)
{
    if (ls->episodes)
        snprintf(buf, cap, "%.1f (%lld)", ls->mean_all, (long long)ls->episodes);
    else
        snprintf(buf, cap, "none finished");
}

static void print_table(FILE *f, const demo_opts *o, const demo_row *rows, int n, const char *fidelity,
                        const char *wire)
{
    fprintf(f, "| agent | training return, mean (episodes) | greedy evaluation, %llu episodes | wall time | "
               "moved owner <-> platform |\n|---|---:|---:|---:|---:|\n",
            (unsigned long long)o->episodes);
    for (int i = 0; i < n; i++) {
        char ret[64], mb[32] = "-";
        fmt_return(ret, sizeof ret, &rows[i].ls);
        if (rows[i].mb >= 0)
            snprintf(mb, sizeof mb, "%.0f MB", rows[i].mb);
        fprintf(f, "| %s | %s | %.1f ± %.1f | %.1f s | %s |\n", rows[i].name, ret, rows[i].eval_mean,
                rows[i].eval_sd, rows[i].seconds, mb);
    }
    fprintf(f, "\n%s\n%s", fidelity, wire);
}

/* The learning-curve plot: episode returns against environment steps. */
static int write_plot(const char *dir, const demo_opts *o, const demo_row *rows, int n, char *png, size_t cap)
{
    char gp[2200];
    if (join(gp, sizeof gp, dir, "curves.gp") || join(png, cap, dir, "curves.png"))
        return -1;
    FILE *f = fopen(gp, "w");
    if (!f)
        return -1;
    fprintf(f,
            "# cipherl demo: episode returns during training (render: gnuplot curves.gp)\n"
            "set terminal pngcairo size 900,520 font 'sans,10'\n"
            "set output 'curves.png'\n"
            "set datafile separator ','\n"
            "set title \"" DEMO_ENV ": return of each training episode (seed %llu, %lld steps, encrypted at %s)\"\n"
            "set xlabel 'environment step'\nset ylabel 'episode return'\nset key top left\nset grid\n"
            "set xrange [0:%lld]\n",
            (unsigned long long)o->seed, (long long)o->steps, o->preset, (long long)o->steps);
    static const char *const style[] = {"with linespoints lw 2 pt 7 ps 0.8", "with lines lw 6 lc rgb '#9ecae1'",
                                        "with points pt 6 ps 2 lc rgb '#d62728'"};
    int plotted = 0;
    for (int i = 0; i < n; i++) {
        if (!rows[i].ls.episodes)
            continue;
        const char *base = strrchr(rows[i].log, '/');
        fprintf(f, "%s '%s' skip 1 using 1:3 %s title '%s'", plotted ? ", \\\n     " : "plot ", base ? base + 1 : rows[i].log,
                style[i % 3], rows[i].name);
        plotted++;
    }
    if (!plotted)
        fprintf(f, "set label 'no episode finished within the budget' at graph 0.3, 0.5\n"
                   "plot NaN notitle");
    fputc('\n', f);
    if (fclose(f) != 0)
        return -1;
    /* render in DIR, where the script names its files */
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(126);
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("gnuplot", "gnuplot", "curves.gp", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1; /* no gnuplot, or it failed: the script stays */
    return 0;
}

/* ------------------------------------------------------------ main */

static int parse(int argc, char **argv, demo_opts *o)
{
    int missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        uint64_t u;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(argv[i], "--insecure")) {
            o->insecure = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--preset", &missing))) {
            o->preset = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--dir", &missing))) {
            o->dir = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--steps", &missing))) {
            if (!cli_parse_steps(v, &o->steps) || o->steps > 1000000) {
                cli_error("demo: --steps: '%s' is not an integer in [1, 1000000]", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", &missing))) {
            if (!cli_parse_u64(v, &o->seed)) {
                cli_error("demo: --seed: '%s' is not a non-negative integer", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--episodes", &missing))) {
            if (!cli_parse_u64(v, &o->episodes) || o->episodes < 1 || o->episodes > 100000) {
                cli_error("demo: --episodes: '%s' is not an integer in [1, 100000]", v);
                return 2;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--learning-starts", &missing))) {
            if (!cli_parse_u64(v, &u) || u > 1000000) {
                cli_error("demo: --learning-starts: '%s' is not an integer in [0, 1000000]", v);
                return 2;
            }
            o->learning_starts = (int64_t)u;
        } else if ((v = cli_opt_value(argc, argv, &i, "--train-freq", &missing))) {
            if (!cli_parse_u64(v, &u) || u < 1 || u > 1000000) {
                cli_error("demo: --train-freq: '%s' is not an integer in [1, 1000000]", v);
                return 2;
            }
            o->train_freq = (int64_t)u;
        } else if (!missing) {
            cli_error("demo: unknown option '%s' (try 'cipherl demo --help')", argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("demo: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    return 0;
}

int cli_cmd_demo(int argc, char **argv)
{
    demo_opts o = {.preset = "n14-l6", .dir = "cipherl-demo", .steps = 96, .seed = 1, .episodes = 20,
                   .learning_starts = 64, .train_freq = 16};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    ckks_params *params = NULL;
    if (cli_load_preset("demo", o.preset, o.insecure, &params))
        return 2;
    const int levels = ckks_params_max_level(params);
    ckks_params_free(params);
    if (mkdir(o.dir, 0755) != 0 && errno != EEXIST) {
        cli_error("demo: cannot create '%s': %s", o.dir, strerror(errno));
        return 1;
    }
    char work[2100], keys[2200], state[2200], path[2300];
    if (join(work, sizeof work, o.dir, "work-XXXXXX") || !mkdtemp(work)) {
        cli_error("demo: cannot create a work directory in '%s': %s", o.dir, strerror(errno));
        return 1;
    }
    join(keys, sizeof keys, work, "keys");
    join(state, sizeof state, work, "state");

    char hp_ls[64], hp_tf[64], seed[32], steps[32], lv[16];
    snprintf(hp_ls, sizeof hp_ls, "learning_starts=%lld", (long long)o.learning_starts);
    snprintf(hp_tf, sizeof hp_tf, "train_freq=%lld", (long long)o.train_freq);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o.seed);
    snprintf(steps, sizeof steps, "%lld", (long long)o.steps);
    snprintf(lv, sizeof lv, "%d", levels);
    const char *ins = o.insecure ? "--insecure" : NULL;

    demo_row rows[3] = {
        {.name = "plain DQN", .mb = -1},
        {.name = "clear HE-DQN (the twin)", .mb = -1},
        {.name = "encrypted HE-DQN", .mb = 0},
    };
    char logs[3][2300], models[3][2300], traces[3][2300], plat_log[2300];
    static const char *const tag[3] = {"plain", "clear", "encrypted"};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.csv", tag[i]);
        join(logs[i], sizeof logs[i], o.dir, name);
        snprintf(name, sizeof name, "%s.model", tag[i]);
        join(models[i], sizeof models[i], o.dir, name);
        snprintf(name, sizeof name, "%s_trace.csv", tag[i]);
        join(traces[i], sizeof traces[i], o.dir, name);
        rows[i].log = logs[i];
    }
    join(plat_log, sizeof plat_log, o.dir, "platform.log");

    const double t_all = cli_now_s();
    printf("cipherl demo: outsourced encrypted training of HE-DQN on " DEMO_ENV ", preset %s (%d levels), "
           "%lld environment steps, seed %llu\n  output in %s/, keys and platform state in %s (deleted at the end)\n",
           o.preset, levels, (long long)o.steps, (unsigned long long)o.seed, o.dir, work);

    pid_t platform = -1;
    cli_remote_summary sum;
    memset(&sum, 0, sizeof sum);
    printf("\n[1/5] the owner's keys (secret key from getrandom; evaluation keys for HE-DQN's rotations)\n");
    double t = cli_now_s();
    rc = run_cmd(cli_cmd_keygen, "keygen", "--preset", o.preset, "--out", keys, "--env", DEMO_ENV, "--hp", hp_ls,
                 "--hp", hp_tf, ins, NULL);
    const double keygen_s = cli_now_s() - t;
    if (rc == 0) {
        printf("      %.1f s\n[2/5] the platform: 'cipherl serve' on loopback (log: %s)\n", keygen_s, plat_log);
        fflush(stdout);
        char endpoint[512], server_key[2300];
        platform = start_platform(state, plat_log, o.insecure);
        if (platform < 0 || wait_endpoint(platform, state, endpoint, sizeof endpoint)) {
            cli_error("demo: the platform did not start (see %s)", plat_log);
            rc = 1;
        } else {
            join(server_key, sizeof server_key, state, "server.curve.pub");
            printf("      listening on %s\n[3/5] the owner trains on the platform: encrypts the initial network "
                   "and every transition, refreshes ciphertexts, picks actions from decrypted Q-values\n",
                   endpoint);
            fflush(stdout);
            cli_train_opts to = {.mode = "remote", .env_id = DEMO_ENV, .seed = o.seed, .steps = o.steps,
                                 .log_path = logs[2], .out_path = models[2], .trace_path = traces[2],
                                 .hps = {hp_ls, hp_tf}, .n_hp = 2, .progress = 1,
                                 .insecure = o.insecure, .threads = 1, .server = endpoint, .keys_dir = keys,
                                 .server_key = server_key};
            t = cli_now_s();
            rc = cli_train_remote_ex(&to, &sum);
            rows[2].seconds = cli_now_s() - t;
            rows[2].mb = (double)(sum.wire.bytes_sent + sum.wire.bytes_received) / 1e6;
        }
    }
    stop_platform(platform);
    if (remove_tree(work) != 0)
        cli_error("demo: could not delete %s (it holds throwaway keys and the platform's state): %s", work,
                  strerror(errno));
    if (rc)
        return rc;

    printf("\n[4/5] the plain DQN and the clear twin, same seed and budget\n");
    t = cli_now_s();
    rc = run_cmd(cli_cmd_train, "train", "--mode", "plain", "--env", DEMO_ENV, "--seed", seed, "--steps", steps,
                 "--hp", hp_ls, "--hp", hp_tf, "--log", logs[0], "--trace", traces[0], "--out", models[0], NULL);
    rows[0].seconds = cli_now_s() - t;
    if (rc == 0) {
        t = cli_now_s();
        rc = run_cmd(cli_cmd_train, "train", "--mode", "clear", "--env", DEMO_ENV, "--seed", seed, "--steps", steps,
                     "--levels", lv, "--hp", hp_ls, "--hp", hp_tf, "--log", logs[1], "--trace", traces[1], "--out",
                     models[1], NULL);
        rows[1].seconds = cli_now_s() - t;
    }
    if (rc)
        return rc;

    printf("\n[5/5] greedy evaluation over %llu episodes, fidelity, plot\n", (unsigned long long)o.episodes);
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (read_log(logs[i], &rows[i].ls) != 0) {
            cli_error("demo: cannot read %s", logs[i]);
            rc = 1;
        } else {
            rc = evaluate(models[i], o.episodes, o.seed + 1000, &rows[i].eval_mean, &rows[i].eval_sd);
        }
    }
    if (rc)
        return rc;
    int64_t same = 0, nrows = 0, first_diff = -1;
    char fidelity[512], wire[1024] = "";
    if (compare_traces(traces[1], traces[2], &same, &nrows, &first_diff) != 0)
        snprintf(fidelity, sizeof fidelity, "Could not compare the traces.");
    else if (first_diff < 0)
        snprintf(fidelity, sizeof fidelity,
                 "The encrypted run chose the clear twin's action at every one of its %lld steps; "
                 "largest weight difference between the two networks: %.2e.",
                 (long long)nrows, max_weight_diff(models[1], models[2]));
    else
        snprintf(fidelity, sizeof fidelity,
                 "The encrypted run chose the clear twin's actions for %lld steps, then differed at step %lld "
                 "(of %lld); largest weight difference: %.2e.",
                 (long long)same, (long long)first_diff, (long long)nrows, max_weight_diff(models[1], models[2]));
    {
        const net_owner_stats *w = &sum.wire;
        int n = snprintf(wire, sizeof wire,
                         "Encrypted run (wall time %.1f s, of which %.1f s opening the session: keys and the "
                         "encrypted initial network sent to the platform):\n",
                         rows[2].seconds, sum.setup_seconds);
        const struct {
            const char *what;
            uint64_t count, bytes;
            double s;
        } k[] = {{"greedy action (ACT)", w->acts, w->bytes_act, w->seconds_act},
                 {"environment step that only stores", w->stores, w->bytes_store, w->seconds_store},
                 {"environment step with a training step", w->trains, w->bytes_train, w->seconds_train}};
        for (int i = 0; i < 3 && n > 0 && (size_t)n < sizeof wire; i++)
            n += k[i].count ? snprintf(wire + n, sizeof wire - (size_t)n,
                                       "- %s: %llu, each %.2f MB and %.2f s round trip (means)\n", k[i].what,
                                       (unsigned long long)k[i].count, (double)k[i].bytes / (double)k[i].count / 1e6,
                                       k[i].s / (double)k[i].count)
                            : snprintf(wire + n, sizeof wire - (size_t)n, "- %s: none\n", k[i].what);
        if (n > 0 && (size_t)n < sizeof wire)
            snprintf(wire + n, sizeof wire - (size_t)n, "- refreshes answered by the owner: %llu\n",
                     (unsigned long long)w->refreshes);
    }
    char png[2300];
    const int plot_rc = write_plot(o.dir, &o, rows, 3, png, sizeof png);

    printf("\n" DEMO_ENV ", %lld environment steps (learning_starts %lld, train_freq %lld), seed %llu, "
           "encrypted at %s:\n\n",
           (long long)o.steps, (long long)o.learning_starts, (long long)o.train_freq, (unsigned long long)o.seed,
           o.preset);
    print_table(stdout, &o, rows, 3, fidelity, wire);
    if (plot_rc == 0)
        printf("\nlearning curves: %s\n", png);
    else
        printf("\nlearning curves: gnuplot is missing or failed; render %s/curves.gp with gnuplot\n", o.dir);
    printf("demo finished in %.1f s. A complete run trains for 50 000 steps: 'cipherl train --mode clear' shows "
           "where it goes, 'cipherl bench train' what it costs encrypted.\n",
           cli_now_s() - t_all);

    join(path, sizeof path, o.dir, "summary.md");
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("demo: cannot write %s: %s", path, strerror(errno));
        return 1;
    }
    fprintf(f, "# cipherl demo\n\n`cipherl demo --preset %s --steps %lld --seed %llu --episodes %llu "
               "--learning-starts %lld --train-freq %lld%s`\n\n",
            o.preset, (long long)o.steps, (unsigned long long)o.seed, (unsigned long long)o.episodes,
            (long long)o.learning_starts, (long long)o.train_freq, o.insecure ? " --insecure" : "");
    print_table(f, &o, rows, 3, fidelity, wire);
    fprintf(f, "\nKeys made in %.1f s. Learning curves: curves.png (curves.gp).\n", keygen_s);
    if (fclose(f) != 0) {
        cli_error("demo: cannot write %s", path);
        return 1;
    }
    return 0;
}
