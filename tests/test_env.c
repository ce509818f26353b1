/* Tests of the classic-control environments: every row of the Gymnasium
 * reference rollouts (shared/fixtures/gymnasium_rollouts.jsonl) through the
 * library and through `cipherl env rollout`, bad command lines, reset
 * distributions, time-limit truncation, seeding and the PRNG. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cipherl/rl.h"

#define FIXTURE_PATH CIPHERL_SHARED_DIR "/fixtures/gymnasium_rollouts.jsonl"
#define TOL 1e-5

/* ------------------------------------------------------------ JSON fixtures */

/* One line of the fixture: {"env": s, "state": [..], "actions": [..],
 * "steps": [[obs..., reward, terminated, truncated], ...]} */
typedef struct fixture {
    char env[64];
    double state[RL_MAX_STATE];
    size_t n_state;
    double *actions;
    size_t n_actions;
    double *steps; /* n_steps rows of width values; booleans as 0/1 */
    size_t n_steps, width;
} fixture;

typedef struct jcur {
    const char *p;
    int ok;
} jcur;

static void jws(jcur *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n')
        c->p++;
}

static int jexpect(jcur *c, char ch)
{
    jws(c);
    if (*c->p != ch) {
        c->ok = 0;
        return 0;
    }
    c->p++;
    return 1;
}

static int jpeek(jcur *c, char ch)
{
    jws(c);
    return *c->p == ch;
}

/* A string without escapes (all the fixture holds) into buf. */
static void jstring(jcur *c, char *buf, size_t len)
{
    if (!jexpect(c, '"'))
        return;
    size_t n = 0;
    while (*c->p && *c->p != '"') {
        if (*c->p == '\\' || n + 1 >= len) {
            c->ok = 0;
            return;
        }
        buf[n++] = *c->p++;
    }
    buf[n] = '\0';
    if (*c->p != '"')
        c->ok = 0;
    else
        c->p++;
}

/* A number, true (1) or false (0). */
static double jscalar(jcur *c)
{
    jws(c);
    if (!strncmp(c->p, "true", 4)) {
        c->p += 4;
        return 1.0;
    }
    if (!strncmp(c->p, "false", 5)) {
        c->p += 5;
        return 0.0;
    }
    char *end;
    double v = strtod(c->p, &end);
    if (end == c->p)
        c->ok = 0;
    c->p = end;
    return v;
}

/* An array of scalars appended to a growing buffer; returns its length. */
static size_t jscalars(jcur *c, double **buf, size_t *used, size_t *cap)
{
    size_t n = 0;
    if (!jexpect(c, '['))
        return 0;
    if (jpeek(c, ']')) {
        c->p++;
        return 0;
    }
    do {
        if (*used == *cap) {
            *cap = *cap ? 2 * *cap : 64;
            double *nb = realloc(*buf, *cap * sizeof *nb);
            if (!nb) {
                c->ok = 0;
                return n;
            }
            *buf = nb;
        }
        (*buf)[(*used)++] = jscalar(c);
        n++;
        jws(c);
    } while (c->ok && *c->p == ',' && c->p++);
    jexpect(c, ']');
    return n;
}

static void fixture_free(fixture *f)
{
    free(f->actions);
    free(f->steps);
    memset(f, 0, sizeof *f);
}

/* Parses one line; 0 on success. */
static int fixture_parse(const char *line, fixture *f)
{
    memset(f, 0, sizeof *f);
    jcur c = {line, 1};
    if (!jexpect(&c, '{'))
        return -1;
    do {
        char key[32];
        jstring(&c, key, sizeof key);
        jexpect(&c, ':');
        if (!c.ok)
            break;
        if (!strcmp(key, "env")) {
            jstring(&c, f->env, sizeof f->env);
        } else if (!strcmp(key, "state")) {
            double *buf = NULL;
            size_t used = 0, cap = 0;
            f->n_state = jscalars(&c, &buf, &used, &cap);
            if (f->n_state > RL_MAX_STATE)
                c.ok = 0;
            else if (f->n_state)
                memcpy(f->state, buf, f->n_state * sizeof *buf);
            free(buf);
        } else if (!strcmp(key, "actions")) {
            size_t cap = 0;
            f->n_actions = 0;
            jscalars(&c, &f->actions, &f->n_actions, &cap);
        } else if (!strcmp(key, "steps")) {
            size_t used = 0, cap = 0;
            jexpect(&c, '[');
            if (jpeek(&c, ']')) {
                c.p++;
            } else {
                do {
                    size_t w = jscalars(&c, &f->steps, &used, &cap);
                    if (f->n_steps == 0)
                        f->width = w;
                    else if (w != f->width)
                        c.ok = 0;
                    f->n_steps++;
                    jws(&c);
                } while (c.ok && *c.p == ',' && c.p++);
                jexpect(&c, ']');
            }
        } else {
            c.ok = 0; /* no other key in this fixed format */
        }
        jws(&c);
    } while (c.ok && *c.p == ',' && c.p++);
    jexpect(&c, '}');
    if (!c.ok || !f->env[0] || !f->n_state || !f->n_actions || f->n_steps == 0) {
        fixture_free(f);
        return -1;
    }
    return 0;
}

/* Reads every line of the fixture file; fails the test if it cannot. */
static fixture *fixtures_load(size_t *count)
{
    FILE *fp = fopen(FIXTURE_PATH, "r");
    if (!fp)
        fail_msg("cannot open the fixture %s: the shared directory is required", FIXTURE_PATH);
    fixture *all = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, fp) != -1) {
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        fixture *na = realloc(all, (n + 1) * sizeof *na);
        assert_non_null(na);
        all = na;
        if (fixture_parse(line, &all[n]) != 0)
            fail_msg("fixture line %zu does not parse", n + 1);
        n++;
    }
    free(line);
    fclose(fp);
    if (n == 0)
        fail_msg("the fixture %s holds no rollout", FIXTURE_PATH);
    *count = n;
    return all;
}

static void fixtures_free(fixture *all, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fixture_free(&all[i]);
    free(all);
}

static int close_enough(double got, double want)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;
    return fabs(got - want) <= TOL * scale;
}

/* Compares one produced row (obs, reward, terminated, truncated) to the fixture. */
static void check_row(const fixture *f, size_t t, const double *obs, int obs_dim, double reward,
                      int term, int trunc)
{
    const double *want = &f->steps[t * f->width];
    if ((int)f->width != obs_dim + 3)
        fail_msg("%s: fixture rows have %zu values, expected %d", f->env, f->width, obs_dim + 3);
    for (int k = 0; k < obs_dim; k++)
        if (!close_enough(obs[k], want[k]))
            fail_msg("%s step %zu obs_%d: got %.17g, want %.17g", f->env, t + 1, k, obs[k],
                     want[k]);
    if (!close_enough(reward, want[obs_dim]))
        fail_msg("%s step %zu reward: got %.17g, want %.17g", f->env, t + 1, reward,
                 want[obs_dim]);
    if (term != (int)want[obs_dim + 1] || trunc != (int)want[obs_dim + 2])
        fail_msg("%s step %zu flags: got terminated=%d truncated=%d, want %d %d", f->env, t + 1,
                 term, trunc, (int)want[obs_dim + 1], (int)want[obs_dim + 2]);
}

static void test_fixtures_library(void **state)
{
    (void)state;
    size_t n = 0;
    fixture *all = fixtures_load(&n);
    int seen[8] = {0};
    for (size_t i = 0; i < n; i++) {
        const fixture *f = &all[i];
        rl_env *env = NULL;
        if (rl_env_create(f->env, &env) != CL_OK)
            fail_msg("unknown environment '%s' in the fixture", f->env);
        const rl_env_spec *spec = rl_env_get_spec(env);
        seen[rl_env_find(f->env) - rl_env_spec_at(0)] = 1;
        assert_int_equal(f->n_actions, f->n_steps);
        double obs[RL_MAX_OBS];
        assert_int_equal(rl_env_set_state(env, f->state, f->n_state, obs), CL_OK);
        size_t t = 0;
        for (; t < f->n_actions; t++) {
            double reward = 0;
            bool term = false, trunc = false;
            assert_int_equal(rl_env_step(env, &f->actions[t], obs, &reward, &term, &trunc),
                             CL_OK);
            check_row(f, t, obs, spec->obs_dim, reward, term, trunc);
            assert_int_equal(rl_env_elapsed_steps(env), (int)t + 1);
            if (term || trunc)
                break;
        }
        /* the rollout ends where Gymnasium's ended */
        assert_int_equal(t + 1, f->n_steps);
        rl_env_free(env);
    }
    /* the fixture covers all five environments */
    for (size_t e = 0; e < rl_env_count(); e++)
        if (!seen[e])
            fail_msg("no fixture rollout for %s", rl_env_spec_at(e)->id);
    fixtures_free(all, n);
}

/* ------------------------------------------------------------------- CLI */

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/cipherl_test_env_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* Runs a shell command, captures stdout (and stderr if merged by the caller),
 * returns the exit status; *out is malloc'd. */
static int run_capture(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = '\0';
    int status = pclose(p);
    *out = buf;
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_fixtures_cli(void **state)
{
    (void)state;
    size_t n = 0;
    fixture *all = fixtures_load(&n);
    char actions_path[128];
    snprintf(actions_path, sizeof actions_path, "%s/actions.txt", tmpdir);
    for (size_t i = 0; i < n; i++) {
        const fixture *f = &all[i];
        const rl_env_spec *spec = rl_env_find(f->env);
        assert_non_null(spec);
        FILE *fp = fopen(actions_path, "w");
        assert_non_null(fp);
        for (size_t t = 0; t < f->n_actions; t++) {
            if (spec->action_kind == RL_ACTION_DISCRETE)
                fprintf(fp, "%d\n", (int)f->actions[t]);
            else
                fprintf(fp, "%.17g\n", f->actions[t]);
        }
        fputs("\n\n", fp); /* blank trailing lines are allowed */
        assert_int_equal(fclose(fp), 0);

        char cmd[1024];
        int len = snprintf(cmd, sizeof cmd, "'%s' env rollout %s --actions '%s' --state ",
                           CIPHERL_CLI, f->env, actions_path);
        for (size_t k = 0; k < f->n_state; k++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, "%s%.17g", k ? "," : "",
                            f->state[k]);
        assert_true(len < (int)sizeof cmd);
        char *out = NULL;
        int rc = run_capture(cmd, &out);
        if (rc != 0)
            fail_msg("'%s' exited with %d", cmd, rc);

        /* header */
        char header[512];
        int hl = snprintf(header, sizeof header, "step");
        for (int k = 0; k < spec->obs_dim; k++)
            hl += snprintf(header + hl, sizeof header - (size_t)hl, ",obs_%d", k);
        snprintf(header + hl, sizeof header - (size_t)hl, ",reward,terminated,truncated\n");
        assert_true(!strncmp(out, header, strlen(header)));

        /* one row per step, numbered from 1 */
        char *p = out + strlen(header);
        size_t rows = 0;
        while (*p) {
            char *end;
            long step = strtol(p, &end, 10);
            assert_int_equal(step, (long)rows + 1);
            p = end;
            double vals[RL_MAX_OBS + 3];
            for (int k = 0; k < spec->obs_dim + 3; k++) {
                assert_true(*p == ',');
                vals[k] = strtod(p + 1, &end);
                assert_true(end != p + 1);
                p = end;
            }
            assert_true(*p == '\n');
            p++;
            assert_true(rows < f->n_steps);
            check_row(f, rows, vals, spec->obs_dim, vals[spec->obs_dim],
                      (int)vals[spec->obs_dim + 1], (int)vals[spec->obs_dim + 2]);
            rows++;
        }
        assert_int_equal(rows, f->n_steps);
        free(out);
    }
    fixtures_free(all, n);
}

static void test_cli_bad_inputs(void **state)
{
    (void)state;
    char good[128], frac[128], range[128], junk[128], negative[128], middle[128], cont[128];
    snprintf(good, sizeof good, "%s/good.txt", tmpdir);
    snprintf(frac, sizeof frac, "%s/frac.txt", tmpdir);
    snprintf(range, sizeof range, "%s/range.txt", tmpdir);
    snprintf(junk, sizeof junk, "%s/junk.txt", tmpdir);
    snprintf(negative, sizeof negative, "%s/negative.txt", tmpdir);
    snprintf(middle, sizeof middle, "%s/middle.txt", tmpdir);
    snprintf(cont, sizeof cont, "%s/cont.txt", tmpdir);
    write_file(good, "0\n1\n");
    write_file(frac, "1\n0.5\n");
    write_file(range, "0\n2\n");
    write_file(junk, "1\nleft\n");
    write_file(negative, "-1\n");
    write_file(middle, "1\n\n0\n");
    write_file(cont, "0.5\n1e999\n");

    const struct {
        const char *fmt; /* %1$s: good file; other files spelled out below */
        const char *file;
        int rc;
        const char *msg;
    } cases[] = {
        {"", NULL, 2, "usage"},
        {"dance", NULL, 2, "unknown sub-command"},
        {"rollout --state 0,0,0,0 --actions %s", "good", 2, "missing ENV"},
        {"rollout CartPole-v9 --state 0,0,0,0 --actions %s", "good", 2, "unknown environment"},
        {"rollout CartPole-v1 --actions %s", "good", 2, "missing --state"},
        {"rollout CartPole-v1 --state 0,0,0,0", NULL, 2, "missing --actions"},
        {"rollout CartPole-v1 --state 0,0,0 --actions %s", "good", 2, "state has 4 values"},
        {"rollout CartPole-v1 --state 0,0,0,0,0 --actions %s", "good", 2, "state has 4 values"},
        {"rollout CartPole-v1 --state 0,0,x,0 --actions %s", "good", 2, "finite numbers"},
        {"rollout CartPole-v1 --state 0,0,nan,0 --actions %s", "good", 2, "finite numbers"},
        {"rollout CartPole-v1 --state 0,0,0,0 --seed 3 --actions %s", "good", 2, "not both"},
        {"rollout CartPole-v1 --seed -3 --actions %s", "good", 2, "--seed"},
        {"rollout CartPole-v1 --state 0,0,0,0 --speed 3 --actions %s", "good", 2, "unknown option"},
        {"rollout CartPole-v1 --state", NULL, 2, "needs a value"},
        {"rollout CartPole-v1 --state 0,0,0,0 --actions %s/missing.txt", "dir", 1, "cannot open"},
        {"rollout CartPole-v1 --state 0,0,0,0 --actions %s", "frac", 1, "not an integer"},
        {"rollout CartPole-v1 --state 0,0,0,0 --actions %s", "range", 1, "out of range"},
        {"rollout CartPole-v1 --state 0,0,0,0 --actions %s", "negative", 1, "out of range"},
        {"rollout CartPole-v1 --state 0,0,0,0 --actions %s", "junk", 1, "not an integer"},
        {"rollout CartPole-v1 --state 0,0,0,0 --actions %s", "middle", 1, "blank line"},
        {"rollout Pendulum-v1 --state 0,0 --actions %s", "junk", 1, "expected 1 number"},
        {"rollout Pendulum-v1 --state 0,0 --actions %s", "cont", 1, "expected 1 number"},
        {"list extra", NULL, 2, "unexpected argument"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *file = "";
        if (cases[i].file) {
            if (!strcmp(cases[i].file, "good")) file = good;
            else if (!strcmp(cases[i].file, "frac")) file = frac;
            else if (!strcmp(cases[i].file, "range")) file = range;
            else if (!strcmp(cases[i].file, "junk")) file = junk;
            else if (!strcmp(cases[i].file, "negative")) file = negative;
            else if (!strcmp(cases[i].file, "middle")) file = middle;
            else if (!strcmp(cases[i].file, "cont")) file = cont;
            else file = tmpdir;
        }
        char args[512], cmd[1024];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(args, sizeof args, cases[i].fmt, file);
#pragma GCC diagnostic pop
        snprintf(cmd, sizeof cmd, "'%s' env %s 2>&1 >/dev/null", CIPHERL_CLI, args);
        char *err = NULL;
        int rc = run_capture(cmd, &err);
        if (rc != cases[i].rc || !strstr(err, cases[i].msg)
            || (cases[i].fmt[0] && !strstr(err, "cipherl: ")))
            fail_msg("'cipherl env %s': exit %d (want %d), stderr: %s", args, rc, cases[i].rc,
                     err);
        free(err);
    }

    /* --help and list succeed */
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' env rollout --help", CIPHERL_CLI);
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "usage: cipherl env"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' env list", CIPHERL_CLI);
    assert_int_equal(run_capture(cmd, &out), 0);
    for (size_t e = 0; e < rl_env_count(); e++)
        assert_non_null(strstr(out, rl_env_spec_at(e)->id));
    assert_non_null(strstr(out, "Discrete(2)"));
    assert_non_null(strstr(out, "Box(low=-2, high=2, dim=1)"));
    free(out);

    /* --seed gives the same rows as the library's reset with that seed */
    snprintf(cmd, sizeof cmd, "'%s' env rollout CartPole-v1 --seed 7 --actions %s", CIPHERL_CLI,
             good);
    assert_int_equal(run_capture(cmd, &out), 0);
    rl_env *env = NULL;
    assert_int_equal(rl_env_create("CartPole-v1", &env), CL_OK);
    rl_rng rng;
    rl_rng_seed(&rng, 7);
    double obs[RL_MAX_OBS], a = 0.0, r;
    bool term, trunc;
    rl_env_reset(env, &rng, obs);
    assert_int_equal(rl_env_step(env, &a, obs, &r, &term, &trunc), CL_OK);
    char row[512];
    snprintf(row, sizeof row, "\n1,%.17g,%.17g,%.17g,%.17g,1,0,0\n", obs[0], obs[1], obs[2],
             obs[3]);
    if (!strstr(out, row))
        fail_msg("--seed 7: row %s not in %s", row, out);
    free(out);
    rl_env_free(env);
}

/* ------------------------------------------------------------- properties */

static void test_reset_ranges(void **state)
{
    (void)state;
    const double pi = 3.14159265358979323846;
    for (size_t e = 0; e < rl_env_count(); e++) {
        const rl_env_spec *spec = rl_env_spec_at(e);
        rl_env *env = NULL;
        assert_int_equal(rl_env_create(spec->id, &env), CL_OK);
        rl_rng rng;
        rl_rng_seed(&rng, 1234 + e);
        double lo[RL_MAX_STATE], hi[RL_MAX_STATE];
        for (int k = 0; k < spec->state_dim; k++) {
            lo[k] = INFINITY;
            hi[k] = -INFINITY;
        }
        for (int trial = 0; trial < 5000; trial++) {
            double obs[RL_MAX_OBS], s[RL_MAX_STATE];
            rl_env_reset(env, &rng, obs);
            assert_int_equal(rl_env_get_state(env, s, RL_MAX_STATE), CL_OK);
            assert_int_equal(rl_env_elapsed_steps(env), 0);
            for (int k = 0; k < spec->state_dim; k++) {
                lo[k] = fmin(lo[k], s[k]);
                hi[k] = fmax(hi[k], s[k]);
            }
            for (int k = 0; k < spec->obs_dim; k++) {
                assert_true(obs[k] >= spec->obs_low[k]);
                assert_true(obs[k] <= spec->obs_high[k]);
                assert_true(obs[k] == (double)(float)obs[k]); /* float32 observations */
            }
        }
        /* Gymnasium's reset ranges, and draws that fill them */
        double want_lo[RL_MAX_STATE], want_hi[RL_MAX_STATE];
        if (!strcmp(spec->id, "CartPole-v1")) {
            for (int k = 0; k < 4; k++) { want_lo[k] = -0.05; want_hi[k] = 0.05; }
        } else if (!strcmp(spec->id, "Acrobot-v1")) {
            for (int k = 0; k < 4; k++) { want_lo[k] = -0.1; want_hi[k] = 0.1; }
        } else if (!strcmp(spec->id, "Pendulum-v1")) {
            want_lo[0] = -pi; want_hi[0] = pi; want_lo[1] = -1.0; want_hi[1] = 1.0;
        } else { /* both mountain cars */
            want_lo[0] = -0.6; want_hi[0] = -0.4; want_lo[1] = 0.0; want_hi[1] = 0.0;
        }
        for (int k = 0; k < spec->state_dim; k++) {
            double width = want_hi[k] - want_lo[k];
            /* Acrobot rounds its reset state to float32 */
            double slack = 1e-7;
            assert_true(lo[k] >= want_lo[k] - slack);
            assert_true(hi[k] <= want_hi[k] + slack);
            assert_true(lo[k] <= want_lo[k] + 0.01 * width);
            assert_true(hi[k] >= want_hi[k] - 0.01 * width);
        }
        rl_env_free(env);
    }
}

/* A fixed policy for each environment that never ends an episode early. */
static double calm_action(const char *id, const double *s)
{
    if (!strcmp(id, "CartPole-v1")) /* a linear state-feedback balance */
        return (0.05 * s[0] + 0.2 * s[1] + 3.0 * s[2] + 0.5 * s[3]) > 0.0 ? 1.0 : 0.0;
    if (!strcmp(id, "Acrobot-v1") || !strcmp(id, "MountainCar-v0"))
        return 1.0; /* no torque / no push */
    return 0.0;     /* continuous: no force */
}

static void test_truncation(void **state)
{
    (void)state;
    for (size_t e = 0; e < rl_env_count(); e++) {
        const rl_env_spec *spec = rl_env_spec_at(e);
        rl_env *env = NULL;
        assert_int_equal(rl_env_create(spec->id, &env), CL_OK);
        double s0[RL_MAX_STATE] = {0};
        if (strstr(spec->id, "MountainCar"))
            s0[0] = -0.5;
        for (int episode = 0; episode < 2; episode++) {
            double obs[RL_MAX_OBS], s[RL_MAX_STATE], r;
            bool term = false, trunc = false;
            assert_int_equal(rl_env_set_state(env, s0, (size_t)spec->state_dim, obs), CL_OK);
            for (int t = 1; t <= spec->max_episode_steps; t++) {
                assert_int_equal(rl_env_get_state(env, s, RL_MAX_STATE), CL_OK);
                double a = calm_action(spec->id, s);
                assert_int_equal(rl_env_step(env, &a, obs, &r, &term, &trunc), CL_OK);
                if (term)
                    fail_msg("%s terminated at step %d", spec->id, t);
                if (trunc != (t == spec->max_episode_steps))
                    fail_msg("%s: truncated=%d at step %d of %d", spec->id, trunc, t,
                             spec->max_episode_steps);
            }
            assert_int_equal(rl_env_elapsed_steps(env), spec->max_episode_steps);
        }
        rl_env_free(env);
    }
}

static void test_seeding(void **state)
{
    (void)state;
    for (size_t e = 0; e < rl_env_count(); e++) {
        const rl_env_spec *spec = rl_env_spec_at(e);
        rl_env *a = NULL, *b = NULL;
        assert_int_equal(rl_env_create(spec->id, &a), CL_OK);
        assert_int_equal(rl_env_create(spec->id, &b), CL_OK);
        rl_rng ra, rb, rc;
        rl_rng_seed(&ra, 42);
        rl_rng_seed(&rb, 42);
        rl_rng_seed(&rc, 43);
        double oa[RL_MAX_OBS], ob[RL_MAX_OBS], oc[RL_MAX_OBS];
        for (int ep = 0; ep < 3; ep++) {
            rl_env_reset(a, &ra, oa);
            rl_env_reset(b, &rb, ob);
            rl_env_reset(b, &rc, oc);
            assert_memory_equal(oa, ob, (size_t)spec->obs_dim * sizeof(double));
            assert_memory_not_equal(oa, oc, (size_t)spec->obs_dim * sizeof(double));
            /* the same rollout from the same state and the same action draws */
            double sa[RL_MAX_STATE];
            assert_int_equal(rl_env_get_state(a, sa, RL_MAX_STATE), CL_OK);
            assert_int_equal(rl_env_set_state(b, sa, (size_t)spec->state_dim, ob), CL_OK);
            assert_memory_equal(oa, ob, (size_t)spec->obs_dim * sizeof(double));
            rl_rng pa, pb;
            rl_rng_seed(&pa, 9);
            rl_rng_seed(&pb, 9);
            for (int t = 0; t < 50; t++) {
                double act_a, act_b, r1, r2;
                bool t1, t2, u1, u2;
                if (spec->action_kind == RL_ACTION_DISCRETE) {
                    act_a = rl_rng_below(&pa, (uint32_t)spec->n_actions);
                    act_b = rl_rng_below(&pb, (uint32_t)spec->n_actions);
                } else {
                    act_a = rl_rng_range(&pa, spec->action_low, spec->action_high);
                    act_b = rl_rng_range(&pb, spec->action_low, spec->action_high);
                }
                assert_int_equal(rl_env_step(a, &act_a, oa, &r1, &t1, &u1), CL_OK);
                assert_int_equal(rl_env_step(b, &act_b, ob, &r2, &t2, &u2), CL_OK);
                assert_memory_equal(oa, ob, (size_t)spec->obs_dim * sizeof(double));
                assert_true(r1 == r2 && t1 == t2 && u1 == u2);
            }
        }
        rl_env_free(a);
        rl_env_free(b);
    }
}

static void test_rng(void **state)
{
    (void)state;
    rl_rng a, b;
    rl_rng_seed(&a, 0);
    rl_rng_seed(&b, 0);
    for (int i = 0; i < 100; i++)
        assert_true(rl_rng_next(&a) == rl_rng_next(&b));
    rl_rng_seed(&b, 1);
    assert_true(rl_rng_next(&a) != rl_rng_next(&b));

    const int n = 200000;
    double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
    unsigned counts[7] = {0};
    rl_rng_seed(&a, 2024);
    for (int i = 0; i < n; i++) {
        double u = rl_rng_uniform(&a);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
        sum2 += u * u;
        double v = rl_rng_range(&a, -3.0, 5.0);
        assert_true(v >= -3.0 && v < 5.0);
        uint32_t k = rl_rng_below(&a, 7);
        assert_true(k < 7);
        counts[k]++;
        double z = rl_rng_normal(&a);
        assert_true(isfinite(z));
        nsum += z;
        nsum2 += z * z;
    }
    assert_true(fabs(sum / n - 0.5) < 0.005);
    assert_true(fabs(sum2 / n - 1.0 / 3.0) < 0.005);
    assert_true(fabs(nsum / n) < 0.01);
    assert_true(fabs(nsum2 / n - 1.0) < 0.02);
    for (int k = 0; k < 7; k++)
        assert_true(fabs((double)counts[k] / n - 1.0 / 7.0) < 0.005);
    assert_int_equal(rl_rng_below(&a, 1), 0);
}

static void test_api_errors(void **state)
{
    (void)state;
    rl_env *env = (rl_env *)&env;
    assert_int_equal(rl_env_create("CartPole-v0", &env), CL_ERR_INVALID);
    assert_null(env);
    assert_int_equal(rl_env_create(NULL, &env), CL_ERR_INVALID);
    assert_null(rl_env_find("cartpole-v1"));
    assert_null(rl_env_spec_at(rl_env_count()));
    assert_int_equal(rl_env_count(), 5);

    assert_int_equal(rl_env_create("CartPole-v1", &env), CL_OK);
    double obs[RL_MAX_OBS], s[RL_MAX_STATE], r, a = 1.0;
    bool term, trunc;
    /* no state yet */
    assert_int_equal(rl_env_step(env, &a, obs, &r, &term, &trunc), CL_ERR_STATE);
    assert_int_equal(rl_env_get_state(env, s, RL_MAX_STATE), CL_ERR_STATE);
    double s0[4] = {0.01, 0.02, 0.03, 0.04};
    assert_int_equal(rl_env_set_state(env, s0, 3, obs), CL_ERR_INVALID);
    assert_int_equal(rl_env_set_state(env, s0, 5, obs), CL_ERR_INVALID);
    double bad[4] = {0, NAN, 0, 0};
    assert_int_equal(rl_env_set_state(env, bad, 4, obs), CL_ERR_INVALID);
    assert_int_equal(rl_env_set_state(env, s0, 4, obs), CL_OK);
    for (int k = 0; k < 4; k++)
        assert_true(obs[k] == (double)(float)s0[k]);
    assert_int_equal(rl_env_get_state(env, s, 3), CL_ERR_INVALID);
    /* invalid discrete actions leave the environment untouched */
    const double bad_actions[] = {-1.0, 2.0, 0.5, NAN, INFINITY, 1e300};
    for (size_t i = 0; i < sizeof bad_actions / sizeof bad_actions[0]; i++) {
        assert_int_equal(rl_env_step(env, &bad_actions[i], obs, &r, &term, &trunc),
                         CL_ERR_INVALID);
        assert_int_equal(rl_env_get_state(env, s, RL_MAX_STATE), CL_OK);
        assert_memory_equal(s, s0, sizeof s0);
        assert_int_equal(rl_env_elapsed_steps(env), 0);
    }
    /* CartPole after termination: reward 1 on the terminating step, 0 after */
    double tipped[4] = {0.0, 0.0, 0.2, 3.0};
    assert_int_equal(rl_env_set_state(env, tipped, 4, obs), CL_OK);
    assert_int_equal(rl_env_step(env, &a, obs, &r, &term, &trunc), CL_OK);
    assert_true(term && !trunc);
    assert_true(r == 1.0);
    assert_int_equal(rl_env_step(env, &a, obs, &r, &term, &trunc), CL_OK);
    assert_true(term);
    assert_true(r == 0.0);
    rl_env_free(env);

    /* continuous: non-finite refused, out-of-range clipped for the dynamics
     * while MountainCarContinuous still charges the unclipped action */
    assert_int_equal(rl_env_create("MountainCarContinuous-v0", &env), CL_OK);
    rl_env *twin = NULL;
    assert_int_equal(rl_env_create("MountainCarContinuous-v0", &twin), CL_OK);
    double mc[2] = {-0.5, 0.0}, o2[RL_MAX_OBS], r2;
    assert_int_equal(rl_env_set_state(env, mc, 2, obs), CL_OK);
    assert_int_equal(rl_env_set_state(twin, mc, 2, o2), CL_OK);
    double nan_action = NAN, big = 5.0, one = 1.0;
    assert_int_equal(rl_env_step(env, &nan_action, obs, &r, &term, &trunc), CL_ERR_INVALID);
    assert_int_equal(rl_env_step(env, &big, obs, &r, &term, &trunc), CL_OK);
    assert_int_equal(rl_env_step(twin, &one, o2, &r2, &term, &trunc), CL_OK);
    assert_memory_equal(obs, o2, 2 * sizeof(double));
    assert_true(fabs(r - (-2.5)) < 1e-12);
    assert_true(fabs(r2 - (-0.1)) < 1e-12);
    rl_env_free(env);
    rl_env_free(twin);

    /* Pendulum clips the torque for both dynamics and cost */
    assert_int_equal(rl_env_create("Pendulum-v1", &env), CL_OK);
    assert_int_equal(rl_env_create("Pendulum-v1", &twin), CL_OK);
    double pd[2] = {0.3, -0.2}, two = 2.0, huge = 40.0;
    assert_int_equal(rl_env_set_state(env, pd, 2, obs), CL_OK);
    assert_int_equal(rl_env_set_state(twin, pd, 2, o2), CL_OK);
    assert_int_equal(rl_env_step(env, &huge, obs, &r, &term, &trunc), CL_OK);
    assert_int_equal(rl_env_step(twin, &two, o2, &r2, &term, &trunc), CL_OK);
    assert_memory_equal(obs, o2, 3 * sizeof(double));
    assert_true(r == r2);
    rl_env_free(env);
    rl_env_free(twin);
}

/* The one clip-and-rescale every TD3 policy acts through. */
static void test_unscale_action(void **state)
{
    (void)state;
    const rl_env_spec *pend = rl_env_find("Pendulum-v1"), *mcc = rl_env_find("MountainCarContinuous-v0");
    assert_non_null(pend);
    assert_non_null(mcc);
    const double in[] = {-3.0, -1.0, -0.5, 0.0, 0.25, 1.0, 7.0};
    const double want_pend[] = {-2.0, -2.0, -1.0, 0.0, 0.5, 2.0, 2.0};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        double out = NAN;
        rl_env_unscale_action(pend, &in[i], &out);
        assert_float_equal(out, want_pend[i], 1e-15);
        rl_env_unscale_action(mcc, &in[i], &out);
        assert_float_equal(out, want_pend[i] / 2.0, 1e-15);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_library),
        cmocka_unit_test(test_fixtures_cli),
        cmocka_unit_test(test_cli_bad_inputs),
        cmocka_unit_test(test_reset_ranges),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_seeding),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_unscale_action),
    };
    return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
