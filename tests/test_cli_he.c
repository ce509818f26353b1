/* Tests of `cipherl census` and `cipherl experiment gap` through the built
 * program: the census JSON (keys, layout, counts > 0, phase sums equal to the
 * training step's totals), the refusal of an insecure preset without
 * --insecure, a small gap experiment (JSON keys in order, per-seed values, the
 * gap formula recomputed from the JSON, CSV logs), and bad command lines. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/cipherl_test_cli_he_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs a shell command, captures its stdout (stderr too if the command merges
 * it), returns the exit status; *out is malloc'd. */
static int run_capture(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    assert_non_null(buf);
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

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------ tiny JSON reads */

/* The position just after "key": in [p, end) (end NULL: to the end), or NULL. */
static const char *jkey(const char *p, const char *end, const char *key)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *q = strstr(p, pat);
    if (!q || (end && q >= end))
        return NULL;
    q += strlen(pat);
    while (*q == ' ')
        q++;
    return q;
}

static double jnum(const char *p, const char *end, const char *key)
{
    const char *q = jkey(p, end, key);
    if (!q)
        fail_msg("JSON key '%s' missing in: %.400s", key, p);
    char *e;
    double v = strtod(q, &e);
    if (e == q)
        fail_msg("JSON key '%s' is not a number: %.40s", key, q);
    return v;
}

/* The end of the object or array that starts at p ('{' or '['). */
static const char *jclose(const char *p)
{
    int depth = 0, in_str = 0;
    for (; *p; p++) {
        if (in_str) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_str = 0;
        } else if (*p == '"') {
            in_str = 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (--depth == 0)
                return p;
        }
    }
    fail_msg("unbalanced JSON");
    return NULL;
}

/* The numbers of the array under key (at most cap); returns the count. */
static size_t jarray(const char *p, const char *end, const char *key, double *v, size_t cap)
{
    const char *q = jkey(p, end, key);
    if (!q || *q != '[')
        fail_msg("JSON array '%s' missing", key);
    const char *e = jclose(q);
    size_t n = 0;
    q++;
    while (q < e) {
        while (*q == ' ' || *q == ',')
            q++;
        if (q >= e)
            break;
        char *ne;
        double x = strtod(q, &ne);
        if (ne == q)
            fail_msg("JSON array '%s' holds a non-number: %.20s", key, q);
        if (n < cap)
            v[n] = x;
        n++;
        q = ne;
    }
    return n;
}

/* ------------------------------------------------------------ census */

static const char *const counters[] = {"mul_ct", "mul_plain", "mul_const", "rotations",
                                       "additions", "refreshes", "depth"};
#define N_COUNTERS (sizeof counters / sizeof counters[0])

static void test_census_json(void **state)
{
    (void)state;
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "'%s' census --env CartPole-v1 --algo dqn --preset test-n12 --insecure --json",
             CIPHERL_CLI);
    int rc = run_capture(cmd, &out);
    if (rc != 0)
        fail_msg("census exited %d: %s", rc, out);
    const char *j = out;
    assert_true(j[0] == '{');
    assert_non_null(strstr(j, "\"env\": \"CartPole-v1\""));
    assert_non_null(strstr(j, "\"algo\": \"dqn\""));
    assert_non_null(strstr(j, "\"preset\": \"test-n12\""));
    const int levels = (int)jnum(j, NULL, "levels");
    assert_int_equal(levels, 6); /* test-n12's L */
    assert_int_equal((int)jnum(j, NULL, "width"), 16);
    assert_int_equal((int)jnum(j, NULL, "slots"), 1024); /* 2 D B, B = 32 */
    assert_true(jnum(j, NULL, "slots") <= jnum(j, NULL, "max_slots"));
    double steps[64];
    size_t n_steps = jarray(j, NULL, "rotation_steps", steps, 64);
    assert_true(n_steps > 0);
    assert_int_equal((size_t)jnum(j, NULL, "rotation_keys"), n_steps);
    for (size_t k = 0; k < n_steps; k++) {
        assert_true(steps[k] > 0 && steps[k] < 1024);
        if (k)
            assert_true(steps[k] > steps[k - 1]);
    }

    const char *train = jkey(j, NULL, "train_step");
    const char *act = jkey(j, NULL, "action");
    const char *phases = jkey(j, NULL, "phases");
    assert_non_null(train);
    assert_non_null(act);
    assert_non_null(phases);
    const char *train_end = jclose(train), *act_end = jclose(act), *phases_end = jclose(phases);
    for (size_t c = 0; c < N_COUNTERS; c++) {
        (void)jnum(train, train_end, counters[c]);
        (void)jnum(act, act_end, counters[c]);
    }
    assert_true(jnum(train, train_end, "rotations") > 0);
    assert_true(jnum(train, train_end, "refreshes") > 0);
    assert_true(jnum(train, train_end, "mul_ct") > 0);
    assert_true(jnum(train, train_end, "additions") > 0);
    const double depth = jnum(train, train_end, "depth");
    assert_true(depth >= 1 && depth <= levels);
    assert_true(jnum(act, act_end, "rotations") > 0);
    assert_true(jnum(act, act_end, "decryptions") >= 1);

    /* the phases, in order, and their sums */
    static const char *const names[] = {"target forward", "target max", "forward",
                                        "loss",           "backward",   "optimizer"};
    const char *p = phases;
    double sum[N_COUNTERS] = {0};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\"phase\": \"%s\"", names[k]);
        const char *q = strstr(p, pat);
        if (!q || q > phases_end)
            fail_msg("phase '%s' missing or out of order", names[k]);
        const char *cts = jkey(q, phases_end, "counts");
        assert_non_null(cts);
        const char *cend = jclose(cts);
        for (size_t c = 0; c < N_COUNTERS - 1; c++) /* all but depth */
            sum[c] += jnum(cts, cend, counters[c]);
        p = cend;
    }
    for (size_t c = 0; c < N_COUNTERS - 1; c++)
        if (sum[c] != jnum(train, train_end, counters[c]))
            fail_msg("sum over phases of %s: %g, training step: %g", counters[c], sum[c],
                     jnum(train, train_end, counters[c]));
    free(out);

    /* the text form: both tables */
    snprintf(cmd, sizeof cmd, "'%s' census --env CartPole-v1 --preset test-n12 --insecure",
             CIPHERL_CLI);
    rc = run_capture(cmd, &out);
    if (rc != 0)
        fail_msg("census (text) exited %d: %s", rc, out);
    assert_non_null(strstr(out, "training step"));
    assert_non_null(strstr(out, "action selection"));
    assert_non_null(strstr(out, "target max"));
    assert_non_null(strstr(out, "optimizer"));
    assert_non_null(strstr(out, "Galois keys"));
    free(out);
}

/* HE-TD3's census: the documented layout and keys (docs/he-td3.md), its seven
 * phases in order, and the training step = critic phases + actor phases /
 * policy_delay (the actor updates every 2nd step; counts are means, so up to
 * rounding). */
static void test_census_td3(void **state)
{
    (void)state;
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' census --env Pendulum-v1 --preset test-n12 --insecure --json", CIPHERL_CLI);
    int rc = run_capture(cmd, &out);
    if (rc != 0)
        fail_msg("census exited %d: %s", rc, out);
    const char *j = out;
    assert_non_null(strstr(j, "\"algo\": \"td3\""));
    assert_int_equal((int)jnum(j, NULL, "width"), 16);
    assert_int_equal((int)jnum(j, NULL, "slots"), 1024);
    assert_int_equal((int)jnum(j, NULL, "rotation_keys"), 21);
    const char *train = jkey(j, NULL, "train_step"), *phases = jkey(j, NULL, "phases");
    assert_non_null(train);
    assert_non_null(phases);
    const char *train_end = jclose(train), *phases_end = jclose(phases);
    static const char *const names[] = {"target",        "critic forward", "critic backward", "critic optimizer",
                                        "actor forward", "actor backward", "actor optimizer"};
    const char *p = phases;
    double critic = 0, actor = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\"phase\": \"%s\"", names[k]);
        const char *q = strstr(p, pat);
        if (!q || q > phases_end)
            fail_msg("phase '%s' missing or out of order", names[k]);
        const char *cts = jkey(q, phases_end, "counts");
        const char *cend = jclose(cts);
        if (k < 4)
            critic += jnum(cts, cend, "rotations");
        else
            actor += jnum(cts, cend, "rotations");
        p = cend;
    }
    const double tr = jnum(train, train_end, "rotations");
    if (!(fabs(critic + actor / 2 - tr) <= 1.0))
        fail_msg("rotations: critic %g + actor %g / 2 vs training step %g", critic, actor, tr);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' census --env Pendulum-v1 --preset test-n12 --insecure", CIPHERL_CLI);
    rc = run_capture(cmd, &out);
    if (rc != 0)
        fail_msg("census (text) exited %d: %s", rc, out);
    assert_non_null(strstr(out, "HE-TD3 on Pendulum-v1"));
    assert_non_null(strstr(out, "actor optimizer"));
    assert_non_null(strstr(out, "per actor update"));
    free(out);
}

/* The gap experiment on a continuous task runs plain TD3 against HE-TD3. */
static void test_gap_td3(void **state)
{
    (void)state;
    char json[128], cmd[1024], *out = NULL;
    snprintf(json, sizeof json, "%s/gap_td3.json", tmpdir);
    snprintf(cmd, sizeof cmd,
             "'%s' experiment gap --env Pendulum-v1 --seeds 1 --steps 1100 --episodes 2 --hp learning_starts=1000 "
             "--json '%s' 2>/dev/null",
             CIPHERL_CLI, json);
    int rc = run_capture(cmd, &out);
    if (rc != 0)
        fail_msg("experiment gap exited %d: %s", rc, out);
    assert_non_null(strstr(out, "summary: gap Pendulum-v1"));
    assert_non_null(strstr(out, "HE-TD3"));
    free(out);
    char *j = read_file(json);
    assert_non_null(strstr(j, "\"env\": \"Pendulum-v1\""));
    assert_non_null(strstr(j, "\"algo\": \"td3\""));
    const double random = jnum(j, NULL, "random_return");
    assert_true(random < -900 && random > -1600); /* Pendulum's random policy: about -1200 */
    const char *clear = jkey(j, NULL, "clear");
    const double cm = jnum(clear, jclose(clear), "mean");
    assert_true(cm <= 0 && cm >= -2000); /* 200 steps of at most 16.3 each */
    const char *per = jkey(j, NULL, "per_seed");
    double tsteps[2];
    assert_int_equal(jarray(per, jclose(per), "clear_train_steps", tsteps, 2), 1);
    assert_true(tsteps[0] == 100.0); /* 1100 steps, training from step 1001 */
    free(j);
}

static void test_census_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        int rc;
        const char *msg;
    } cases[] = {
        /* a test preset needs --insecure */
        {"census --env CartPole-v1 --algo dqn --preset test-n12", 2, "--insecure"},
        {"census --env CartPole-v1 --algo dqn --preset test-n12 --json", 2, "--insecure"},
        {"census --env MountainCarContinuous-v0 --algo dqn --preset test-n12 --insecure", 2,
         "discrete actions"},
        {"census --env Pendulum-v1 --preset test-n12 --insecure --hp squash_degree=4", 2,
         "squash_degree"},
        {"census --env Pendulum-v1 --algo dqn --preset test-n12 --insecure", 2,
         "discrete actions"},
        {"census --env CartPole-v1 --algo td3 --preset test-n12 --insecure", 2,
         "continuous actions"},
        {"census --env CartPole-v1 --algo ppo --preset test-n12 --insecure", 2,
         "unknown algorithm"},
        {"census --env CartPole-v1", 2, "--preset P is required"},
        {"census --preset test-n12", 2, "--env ENV is required"},
        {"census --env Nope-v0 --preset test-n12", 2, "unknown environment"},
        {"census --env CartPole-v1 --preset n99", 2, "unknown preset"},
        {"census --env CartPole-v1 --preset test-n12 --insecure --hp bogus=1", 2,
         "unknown hyperparameter"},
        {"census --env CartPole-v1 --preset test-n12 --insecure --hp batch_size=24", 2,
         "power of two"},
        {"census --env CartPole-v1 --preset", 2, "needs a value"},
        {"census --env CartPole-v1 --preset test-n12 --frob", 2, "unknown option"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512], *err = NULL;
        snprintf(cmd, sizeof cmd, "'%s' %s 2>&1 >/dev/null", CIPHERL_CLI, cases[i].args);
        int rc = run_capture(cmd, &err);
        if (rc != cases[i].rc || !strstr(err, cases[i].msg) || !strstr(err, "cipherl: "))
            fail_msg("'cipherl %s': exit %d (want %d), stderr: %s", cases[i].args, rc,
                     cases[i].rc, err);
        free(err);
    }
    char cmd[256], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' census --help", CIPHERL_CLI);
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "usage: cipherl census"));
    free(out);
}

/* ------------------------------------------------------------ experiment gap */

static void test_gap(void **state)
{
    (void)state;
    char json[128], logs[128], cmd[1024], *out = NULL;
    snprintf(json, sizeof json, "%s/gap.json", tmpdir);
    snprintf(logs, sizeof logs, "%s/logs", tmpdir);
    /* a narrower plain network than the RL Zoo's 256x256 keeps this fast in
     * sanitizer builds; the rest is the command's defaults */
    snprintf(cmd, sizeof cmd,
             "'%s' experiment gap --env CartPole-v1 --seeds 2 --steps 2000 --episodes 20 "
             "--plain-hp 'net_arch=[32,32]' --json '%s' --logs '%s' 2>/dev/null",
             CIPHERL_CLI, json, logs);
    int rc = run_capture(cmd, &out);
    if (rc != 0)
        fail_msg("experiment gap exited %d: %s", rc, out);
    assert_non_null(strstr(out, "summary: gap CartPole-v1"));
    assert_non_null(strstr(out, "normalized score"));
    free(out);

    char *j = read_file(json);
    /* one object, the required keys first and in this order */
    assert_true(j[0] == '{');
    assert_ptr_equal(jclose(j), strrchr(j, '}'));
    static const char *const order[] = {"\"env\":", "\"seeds\":", "\"random_return\":",
                                        "\"plain\":", "\"clear\":", "\"gap\":"};
    const char *prev = j;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        const char *q = strstr(j, order[k]);
        if (!q || q < prev)
            fail_msg("key %s missing or out of order in %s", order[k], j);
        prev = q;
    }
    assert_non_null(strstr(j, "\"env\": \"CartPole-v1\""));
    assert_int_equal((int)jnum(j, NULL, "seeds"), 2);
    const double random = jnum(j, NULL, "random_return");
    const char *plain = jkey(j, NULL, "plain"), *clear = jkey(j, NULL, "clear");
    assert_true(*plain == '{' && *clear == '{');
    const double pm = jnum(plain, jclose(plain), "mean"), ps = jnum(plain, jclose(plain), "std");
    const double cm = jnum(clear, jclose(clear), "mean"), cs = jnum(clear, jclose(clear), "std");
    const double gap = jnum(j, NULL, "gap");
    assert_true(random > 5 && random < 60); /* CartPole's random policy: about 22 */
    assert_true(pm >= 8 && pm <= 500 && cm >= 8 && cm <= 500);
    assert_true(ps >= 0 && cs >= 0);
    const double want = 1.0 - (cm - random) / (pm - random);
    if (!(fabs(gap - want) <= 1e-9 * fmax(1.0, fabs(want))))
        fail_msg("gap %.17g, from the JSON values %.17g", gap, want);
    /* the bootstrap interval holds the estimate (its top is null when some
     * draw of the seeds has a plain agent no better than random) */
    const char *ci = jkey(j, NULL, "gap_ci95");
    assert_true(ci && *ci == '[');
    char *ce;
    const double ci_lo = strtod(ci + 1, &ce);
    assert_true(ce > ci + 1 && *ce == ',' && ci_lo <= gap);
    ce++;
    while (*ce == ' ')
        ce++;
    if (strncmp(ce, "null]", 5)) {
        char *ce2;
        const double ci_hi = strtod(ce, &ce2);
        assert_true(ce2 > ce && *ce2 == ']' && gap <= ci_hi);
    }

    /* the per-seed values make the means and standard deviations */
    const char *per = jkey(j, NULL, "per_seed");
    assert_non_null(per);
    const char *per_end = jclose(per);
    double pv[4], cv[4];
    assert_int_equal(jarray(per, per_end, "plain", pv, 4), 2);
    assert_int_equal(jarray(per, per_end, "clear", cv, 4), 2);
    assert_true(fabs((pv[0] + pv[1]) / 2 - pm) < 1e-9);
    assert_true(fabs((cv[0] + cv[1]) / 2 - cm) < 1e-9);
    assert_true(fabs(fabs(pv[0] - pv[1]) / 2 - ps) < 1e-9);
    assert_true(fabs(fabs(cv[0] - cv[1]) / 2 - cs) < 1e-9);
    assert_non_null(strstr(j, "\"optimizer\": \"he_adam\""));
    assert_non_null(strstr(j, "net_arch=[32,32]")); /* --plain-hp reached the plain agent */
    free(j);

    /* the training logs */
    static const char *const kinds[] = {"plain", "clear"};
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 2; s++) {
            char path[256];
            snprintf(path, sizeof path, "%s/%s_seed%d.csv", logs, kinds[k], s);
            char *csv = read_file(path);
            assert_true(!strncmp(csv, "step,episode,return,length\n", 27));
            /* 2000 steps of CartPole: many episodes, the last step <= 2000 */
            const char *line = csv + 27;
            long rows = 0, last_step = 0, last_ep = 0;
            while (*line) {
                long st, ep, len;
                double ret;
                assert_int_equal(sscanf(line, "%ld,%ld,%lf,%ld", &st, &ep, &ret, &len), 4);
                assert_true(st > last_step && st <= 2000 && ep == last_ep + 1);
                assert_true(ret == (double)len); /* CartPole: reward 1 per step */
                last_step = st;
                last_ep = ep;
                rows++;
                line = strchr(line, '\n');
                assert_non_null(line);
                line++;
            }
            assert_true(rows >= 4);
            free(csv);
        }
}

/* A clear run that diverges is a result, not a failure: the seed stays in
 * the table at the random policy's return and the JSON says where it blew up. */
static void test_gap_diverged(void **state)
{
    (void)state;
    char json[128], cmd[1024], *out = NULL;
    snprintf(json, sizeof json, "%s/gap_div.json", tmpdir);
    snprintf(cmd, sizeof cmd,
             "'%s' experiment gap --env CartPole-v1 --seeds 1 --steps 3000 --episodes 5 "
             "--plain-hp 'net_arch=[32,32]' --hp learning_starts=500 --hp learning_rate=10 "
             "--hp adam_beta2=0.9 --json '%s' 2>&1",
             CIPHERL_CLI, json);
    int rc = run_capture(cmd, &out);
    if (rc != 0)
        fail_msg("experiment gap exited %d: %s", rc, out);
    assert_non_null(strstr(out, "the training diverged near step"));
    assert_non_null(strstr(out, "diverged and counts at the random policy's return"));
    assert_non_null(strstr(out, "(1 diverged)"));
    free(out);
    char *j = read_file(json);
    const double random = jnum(j, NULL, "random_return");
    const char *clear = jkey(j, NULL, "clear");
    assert_true(jnum(clear, jclose(clear), "mean") == random);
    const char *per = jkey(j, NULL, "per_seed");
    double cv[2];
    assert_int_equal(jarray(per, jclose(per), "clear", cv, 2), 1);
    assert_true(cv[0] == random);
    const char *at = strstr(j, "\"clear_diverged_at\": [");
    assert_non_null(at);
    const long step = strtol(at + strlen("\"clear_diverged_at\": ["), NULL, 10);
    assert_true(step > 500 && step <= 3000);
    free(j);
}

static void test_gap_bad_options(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        int rc;
        const char *msg;
    } cases[] = {
        {"experiment", 2, "which experiment"},
        {"experiment frob", 2, "unknown experiment 'frob'"},
        {"experiment gap", 2, "--env ENV is required"},
        {"experiment gap --env Nope-v0", 2, "unknown environment"},
        {"experiment gap --env Pendulum-v1 --hp noise_type=pink", 2, "noise_type"},
        {"experiment gap --env MountainCarContinuous-v0 --hp batch_size=24", 2, "power of two"},
        {"experiment gap --env CartPole-v1 --seeds 0", 2, "--seeds"},
        {"experiment gap --env CartPole-v1 --seeds abc", 2, "--seeds"},
        {"experiment gap --env CartPole-v1 --seeds -3", 2, "--seeds"},
        {"experiment gap --env CartPole-v1 --steps 0", 2, "--steps"},
        {"experiment gap --env CartPole-v1 --steps 1.5", 2, "--steps"},
        {"experiment gap --env CartPole-v1 --episodes x", 2, "--episodes"},
        {"experiment gap --env CartPole-v1 --levels 0", 2, "--levels"},
        {"experiment gap --env CartPole-v1 --hp bogus=1", 2, "unknown hyperparameter"},
        {"experiment gap --env CartPole-v1 --hp optimizer=rmsprop", 2, "optimizer"},
        {"experiment gap --env CartPole-v1 --hp batch_size=24", 2, "power of two"},
        {"experiment gap --env CartPole-v1 --plain-hp bogus=1", 2, "--plain-hp bogus=1"},
        {"experiment gap --env CartPole-v1 --plain-hp learning_rate=abc", 2, "--plain-hp"},
        {"experiment gap --env CartPole-v1 --steps", 2, "needs a value"},
        {"experiment gap --env CartPole-v1 --frob", 2, "unknown option '--frob'"},
        {"experiment gap --env CartPole-v1 --steps 100 --json /nonexistent-dir/x/gap.json", 1,
         "cannot write"},
        {"experiment gap --env CartPole-v1 --steps 100 --logs /nonexistent-dir/x/logs", 1,
         "cannot create the log directory"},
        {"experiment gap --env CartPole-v1 --steps 100 --logs /dev/null", 1, "not a directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512], *err = NULL;
        snprintf(cmd, sizeof cmd, "'%s' %s 2>&1 >/dev/null", CIPHERL_CLI, cases[i].args);
        int rc = run_capture(cmd, &err);
        if (rc != cases[i].rc || !strstr(err, cases[i].msg) || !strstr(err, "cipherl: "))
            fail_msg("'cipherl %s': exit %d (want %d), stderr: %s", cases[i].args, rc,
                     cases[i].rc, err);
        free(err);
    }
    char cmd[256], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' experiment gap --help", CIPHERL_CLI);
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "usage: cipherl experiment gap"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' experiment --help", CIPHERL_CLI);
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "gap"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_census_json),
        cmocka_unit_test(test_census_td3),
        cmocka_unit_test(test_census_refusals),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_gap_td3),
        cmocka_unit_test(test_gap_diverged),
        cmocka_unit_test(test_gap_bad_options),
    };
    return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
