/* cipherl env — list the classic-control environments, or replay a sequence of
 * actions from a given state and print what each step returned, as CSV. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/rl.h"
#include "cli/cli.h"

static void env_usage(FILE *f)
{
    fprintf(f,
        "usage: cipherl env list\n"
        "       cipherl env rollout ENV (--state V1,V2,... | --seed N) --actions FILE\n"
        "\n"
        "list     the environments with their observation and action spaces,\n"
        "         time limits and reward thresholds\n"
        "rollout  set ENV's internal state (--state, in the layout of\n"
        "         shared/fixtures: CartPole x,x_dot,theta,theta_dot; Acrobot\n"
        "         theta1,theta2,dtheta1,dtheta2; MountainCar* position,velocity;\n"
        "         Pendulum theta,theta_dot) or draw it as reset does (--seed),\n"
        "         apply the actions of FILE ('-' for stdin; one per line: an\n"
        "         integer for discrete actions, a number for continuous ones;\n"
        "         blank lines at the end are ignored) and print one CSV row per\n"
        "         step, stopping at termination or truncation:\n"
        "           step,obs_0,...,obs_{k-1},reward,terminated,truncated\n"
        "         step counts from 1 (the row after the first action); numbers\n"
        "         are printed with %%.17g, flags as 0/1.\n"
        "\n"
        "exit status: 0 on success, 2 on a usage error, 1 on a bad actions file.\n");
}

static void print_bounds(const double *v, int n)
{
    putchar('[');
    for (int i = 0; i < n; i++)
        printf("%s%g", i ? ", " : "", (double)(float)v[i]);
    putchar(']');
}

static int env_list(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
            env_usage(stdout);
            return 0;
        }
        cli_error("env list: unexpected argument '%s'", argv[1]);
        return 2;
    }
    for (size_t i = 0; i < rl_env_count(); i++) {
        const rl_env_spec *s = rl_env_spec_at(i);
        printf("%s\n", s->id);
        printf("  observation       Box(dim=%d, low=", s->obs_dim);
        print_bounds(s->obs_low, s->obs_dim);
        printf(", high=");
        print_bounds(s->obs_high, s->obs_dim);
        printf(")\n");
        if (s->action_kind == RL_ACTION_DISCRETE)
            printf("  action            Discrete(%d)\n", s->n_actions);
        else
            printf("  action            Box(low=%g, high=%g, dim=%d)\n", s->action_low,
                   s->action_high, s->action_dim);
        printf("  max episode steps %d\n", s->max_episode_steps);
        if (isnan(s->reward_threshold))
            printf("  reward threshold  none\n");
        else
            printf("  reward threshold  %g\n", s->reward_threshold);
    }
    return 0;
}

/* Parses a finite double filling the whole of [s, end) but for blanks. */
static int parse_double(const char *s, const char *end, double *out)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        end--;
    if (s == end || end - s > 64)
        return -1;
    char buf[80];
    memcpy(buf, s, (size_t)(end - s));
    buf[end - s] = '\0';
    char *stop;
    errno = 0;
    double v = strtod(buf, &stop);
    if (*stop != '\0' || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Parses a comma-separated list of up to max doubles; returns the count or -1. */
static int parse_list(const char *text, double *out, int max)
{
    int n = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        if (n == max)
            return -2;
        if (parse_double(p, end, &out[n]) != 0)
            return -1;
        n++;
        if (!comma)
            return n;
        p = comma + 1;
    }
}

/* Parses one action line. Returns 0, or -1 with a message in err. */
static int parse_action(const rl_env_spec *spec, char *line, double *action, char *err,
                        size_t errlen)
{
    if (spec->action_kind == RL_ACTION_DISCRETE) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        char *stop;
        errno = 0;
        long v = strtol(s, &stop, 10);
        while (*stop == ' ' || *stop == '\t' || *stop == '\r' || *stop == '\n')
            stop++;
        if (stop == s || *stop != '\0' || errno == ERANGE) {
            snprintf(err, errlen, "'%s' is not an integer action", s);
            return -1;
        }
        if (v < 0 || v >= spec->n_actions) {
            snprintf(err, errlen, "action %ld is out of range: %s takes 0 to %d", v, spec->id,
                     spec->n_actions - 1);
            return -1;
        }
        action[0] = (double)v;
        return 0;
    }
    int n = parse_list(line, action, spec->action_dim);
    if (n != spec->action_dim) {
        snprintf(err, errlen, "expected %d number%s", spec->action_dim,
                 spec->action_dim == 1 ? "" : "s separated by commas");
        return -1;
    }
    return 0;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    return 1;
}

/* Reads and checks every action of the file before any step is taken. */
static int read_actions(const rl_env_spec *spec, const char *path, double **out, size_t *count)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        cli_error("env rollout: cannot open actions file '%s': %s", path, strerror(errno));
        return 1;
    }
    const size_t dim = (size_t)spec->action_dim;
    double *acts = NULL;
    size_t n = 0, cap = 0, lineno = 0, blank_from = 0;
    char *line = NULL;
    size_t linecap = 0;
    int rc = 0;
    while (getline(&line, &linecap, f) != -1) {
        lineno++;
        if (is_blank(line)) {
            if (!blank_from)
                blank_from = lineno;
            continue;
        }
        if (blank_from) {
            cli_error("env rollout: %s:%zu: blank line before further actions", path, blank_from);
            rc = 1;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 256;
            double *na = realloc(acts, ncap * dim * sizeof *na);
            if (!na) {
                cli_error("env rollout: out of memory");
                rc = 1;
                break;
            }
            acts = na;
            cap = ncap;
        }
        char err[200];
        if (parse_action(spec, line, &acts[n * dim], err, sizeof err) != 0) {
            cli_error("env rollout: %s:%zu: %s", path, lineno, err);
            rc = 1;
            break;
        }
        n++;
    }
    if (rc == 0 && ferror(f)) {
        cli_error("env rollout: reading '%s' failed", path);
        rc = 1;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (rc != 0) {
        free(acts);
        return rc;
    }
    *out = acts;
    *count = n;
    return 0;
}

static int env_rollout(int argc, char **argv)
{
    const char *env_id = NULL, *state_text = NULL, *seed_text = NULL, *actions_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        const char *name = arg;
        const char *value = NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            env_usage(stdout);
            return 0;
        }
        if (!strncmp(arg, "--", 2)) {
            const char *eq = strchr(arg, '=');
            size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
            if (len == 7 && !strncmp(arg, "--state", len)) slot = &state_text;
            else if (len == 6 && !strncmp(arg, "--seed", len)) slot = &seed_text;
            else if (len == 9 && !strncmp(arg, "--actions", len)) slot = &actions_path;
            else {
                cli_error("env rollout: unknown option '%.*s' (try 'cipherl env --help')",
                          (int)len, arg);
                return 2;
            }
            if (eq) {
                value = eq + 1;
            } else {
                if (i + 1 >= argc) {
                    cli_error("env rollout: option '%s' needs a value", name);
                    return 2;
                }
                value = argv[++i];
            }
            *slot = value;
            continue;
        }
        if (env_id) {
            cli_error("env rollout: unexpected argument '%s'", arg);
            return 2;
        }
        env_id = arg;
    }
    if (!env_id) {
        cli_error("env rollout: missing ENV (see 'cipherl env list')");
        return 2;
    }
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec) {
        cli_error("env rollout: unknown environment '%s' (see 'cipherl env list')", env_id);
        return 2;
    }
    if (!state_text && !seed_text) {
        cli_error("env rollout: missing --state V1,V2,... (or --seed N)");
        return 2;
    }
    if (state_text && seed_text) {
        cli_error("env rollout: give --state or --seed, not both");
        return 2;
    }
    if (!actions_path) {
        cli_error("env rollout: missing --actions FILE");
        return 2;
    }

    double state[RL_MAX_STATE];
    uint64_t seed = 0;
    if (state_text) {
        int n = parse_list(state_text, state, RL_MAX_STATE);
        if (n == -1) {
            cli_error("env rollout: --state '%s' is not a comma-separated list of finite numbers",
                      state_text);
            return 2;
        }
        if (n != spec->state_dim) {
            cli_error("env rollout: %s's state has %d values, --state gave %s%d", spec->id,
                      spec->state_dim, n < 0 ? "more than " : "", n < 0 ? RL_MAX_STATE : n);
            return 2;
        }
    } else {
        char *stop;
        errno = 0;
        unsigned long long v = strtoull(seed_text, &stop, 10);
        if (*seed_text == '\0' || *seed_text == '-' || *stop != '\0' || errno == ERANGE) {
            cli_error("env rollout: --seed '%s' is not a non-negative integer", seed_text);
            return 2;
        }
        seed = (uint64_t)v;
    }

    double *acts = NULL;
    size_t n_acts = 0;
    int rc = read_actions(spec, actions_path, &acts, &n_acts);
    if (rc != 0)
        return rc;

    rl_env *env = NULL;
    cl_status st = rl_env_create(spec->id, &env);
    if (st != CL_OK) {
        cli_error("env rollout: %s", cl_strerror(st));
        free(acts);
        return 1;
    }
    double obs[RL_MAX_OBS];
    if (state_text) {
        st = rl_env_set_state(env, state, (size_t)spec->state_dim, obs);
        if (st != CL_OK) {
            cli_error("env rollout: cannot set the state: %s", cl_strerror(st));
            rl_env_free(env);
            free(acts);
            return 2;
        }
    } else {
        rl_rng rng;
        rl_rng_seed(&rng, seed);
        rl_env_reset(env, &rng, obs);
    }

    fputs("step", stdout);
    for (int k = 0; k < spec->obs_dim; k++)
        printf(",obs_%d", k);
    fputs(",reward,terminated,truncated\n", stdout);
    for (size_t t = 0; t < n_acts; t++) {
        double reward;
        bool term, trunc;
        st = rl_env_step(env, &acts[t * (size_t)spec->action_dim], obs, &reward, &term, &trunc);
        if (st != CL_OK) {
            cli_error("env rollout: action %zu: %s", t + 1, cl_strerror(st));
            rc = 1;
            break;
        }
        printf("%zu", t + 1);
        for (int k = 0; k < spec->obs_dim; k++)
            printf(",%.17g", obs[k]);
        printf(",%.17g,%d,%d\n", reward, term ? 1 : 0, trunc ? 1 : 0);
        if (term || trunc)
            break;
    }
    if (fflush(stdout) != 0 && rc == 0) {
        cli_error("env rollout: writing the output failed");
        rc = 1;
    }
    rl_env_free(env);
    free(acts);
    return rc;
}

int cli_cmd_env(int argc, char **argv)
{
    if (argc < 2) {
        env_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        env_usage(stdout);
        return 0;
    }
    if (!strcmp(sub, "list"))
        return env_list(argc - 1, argv + 1);
    if (!strcmp(sub, "rollout"))
        return env_rollout(argc - 1, argv + 1);
    cli_error("env: unknown sub-command '%s' (expected 'list' or 'rollout')", sub);
    return 2;
}
