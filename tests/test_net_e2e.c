/* Owner and platform as separate processes over loopback (test-n12,
 * insecure): keygen, serve, train --server, kill -9 of the platform in the
 * middle of training, restart on the same address, finish. The run must
 * resume from the store with no transition lost or applied twice: its action
 * trace must equal the clear twin's (an uninterrupted run with the same seeds;
 * a lost or repeated transition would shift the replay and the mini-batches
 * the platform draws). The pulled model must match the clear twin's within
 * CKKS precision, and a platform must refuse a state directory holding a
 * secret key.
 *
 * Two owners with different keys also train at the same time on one platform:
 * each run must follow its own clear twin step for step and pull its own
 * model; a pull with one owner's keys gets that owner's model and never the
 * other's, and a key that never trained is refused. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"

#define STEPS "72"
static const char *const HP[] = {"--hp", "learning_starts=32", "--hp", "train_freq=16", "--hp", "batch_size=32"};

static char dir[256];

/* Runs the CLI with args (NULL-terminated), stdout and stderr to files; waits unless pid_out. */
static int run(pid_t *pid_out, const char *out, const char *err, const char *first, ...)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = CIPHERL_CLI;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 62; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644), fe = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fo < 0 || fe < 0)
            _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(CIPHERL_CLI, (char *const *)argv);
        _exit(127);
    }
    if (pid_out) {
        *pid_out = pid;
        return 0;
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char *slurp(const char *path)
{
    return read_whole(path, NULL);
}

static void path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static int wait_for_text(const char *file, const char *text, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        char *s = slurp(file);
        const int found = s && strstr(s, text);
        free(s);
        if (found)
            return 1;
        usleep(100000);
    }
    return 0;
}

/* Processes a test started, ended by its teardown if an assertion left them running. */
static pid_t leftover[3];

static int kill_leftovers(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        if (leftover[i] > 0 && waitpid(leftover[i], NULL, WNOHANG) == 0) {
            kill(leftover[i], SIGKILL);
            waitpid(leftover[i], NULL, 0);
        }
    memset(leftover, 0, sizeof leftover);
    return 0;
}

static void test_kill9_resume(void **state)
{
    (void)state;
    char keys[300], st[300], plog1[300], plog2[300], oout[300], oerr[300], trace[300], ctrace[300], sink[300],
        model[300], cmodel[300], ep_file[300];
    path(keys, sizeof keys, "keys");
    path(st, sizeof st, "state");
    path(plog1, sizeof plog1, "platform1.log");
    path(plog2, sizeof plog2, "platform2.log");
    path(oout, sizeof oout, "owner.out");
    path(oerr, sizeof oerr, "owner.err");
    path(trace, sizeof trace, "remote.csv");
    path(ctrace, sizeof ctrace, "clear.csv");
    path(sink, sizeof sink, "sink.txt");
    path(model, sizeof model, "remote.model");
    path(cmodel, sizeof cmodel, "clear.model");
    path(ep_file, sizeof ep_file, "state/endpoint");

    assert_int_equal(run(NULL, sink, sink, "keygen", "--preset", "test-n12", "--insecure", "--out", keys, NULL), 0);
    char skpath[320];
    snprintf(skpath, sizeof skpath, "%s/secret.key", keys);
    struct stat sb;
    assert_int_equal(stat(skpath, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* the platform, on a free port */
    pid_t platform;
    run(&platform, sink, plog1, "serve", "--listen", "tcp://127.0.0.1:*", "--state", st, "--insecure", NULL);
    leftover[2] = platform;
    assert_true(wait_for_text(plog1, "listening on", 30));
    char *ep = slurp(ep_file);
    assert_non_null(ep);
    char spub[320];
    snprintf(spub, sizeof spub, "%s/server.curve.pub", st);

    /* the owner; the platform dies under it once training has begun */
    pid_t owner;
    run(&owner, oout, oerr, "train", "--server", ep, "--keys", keys, "--server-key", spub, "--insecure", "--timeout",
        "3", "--env", "CartPole-v1", "--steps", STEPS, "--seed", "7", HP[0], HP[1], HP[2], HP[3], HP[4], HP[5],
        "--trace", trace, "--out", model, "--no-progress", NULL);
    leftover[0] = owner;
    assert_true(wait_for_text(plog1, "new session", 120));
    sleep(8); /* INIT and some steps (the first training step comes at step 48) */
    kill(platform, SIGKILL);
    int status;
    waitpid(platform, &status, 0);
    assert_true(WIFSIGNALED(status));
    run(&platform, sink, plog2, "serve", "--listen", ep, "--state", st, "--insecure", NULL);
    leftover[2] = platform;
    waitpid(owner, &status, 0);
    leftover[0] = 0;
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) {
        char *e = slurp(oerr);
        fprintf(stderr, "owner failed:\n%s\n", e ? e : "");
        free(e);
    }
    assert_int_equal(WEXITSTATUS(status), 0);
    kill(platform, SIGTERM);
    waitpid(platform, &status, 0);
    leftover[2] = 0;

    /* it did resume: a retry after the kill, a session reloaded from the store */
    char *oe = slurp(oerr), *p2 = slurp(plog2);
    assert_non_null(oe);
    assert_non_null(p2);
    assert_non_null(strstr(oe, "sending request"));
    assert_non_null(strstr(p2, "session reloaded from the store"));
    free(oe);
    free(p2);

    /* the uninterrupted twin */
    assert_int_equal(run(NULL, sink, sink, "train", "--mode", "clear", "--preset", "test-n12", "--insecure", "--env",
                         "CartPole-v1", "--steps", STEPS, "--seed", "7", HP[0], HP[1], HP[2], HP[3], HP[4], HP[5],
                         "--trace", ctrace, "--out", cmodel, "--no-progress", NULL),
                     0);
    char *a = slurp(trace), *b = slurp(ctrace);
    assert_non_null(a);
    assert_non_null(b);
    int rows = 0;
    for (const char *c = a; *c; c++)
        rows += *c == '\n';
    assert_int_equal(rows, 1 + atoi(STEPS));
    assert_string_equal(a, b);
    free(a);
    free(b);

    /* the pulled, decrypted network is the twin's within CKKS precision */
    char diff[300];
    path(diff, sizeof diff, "diff.json");
    assert_int_equal(run(NULL, diff, sink, "model", "diff", model, cmodel, "--json", NULL), 0);
    char *d = slurp(diff);
    assert_non_null(d);
    const char *k = strstr(d, "\"max_abs_diff\": ");
    assert_non_null(k);
    const double md = atof(k + 16);
    assert_true(md < 1e-3);
    free(d);
    free(ep);
}

/* The largest weight difference between two model files ("model diff --json"); -1 if it fails. */
static double model_max_diff(const char *a, const char *b)
{
    char out[300], sink[300];
    path(out, sizeof out, "diff2.json");
    path(sink, sizeof sink, "sink3.txt");
    unlink(out);
    if (run(NULL, out, sink, "model", "diff", a, b, "--json", NULL) != 0)
        return -1;
    char *d = slurp(out);
    const char *k = d ? strstr(d, "\"max_abs_diff\": ") : NULL;
    const double md = k ? atof(k + 16) : -1;
    free(d);
    return md;
}

/* Waits for pid; its exit code, or 128 + the signal that ended it. */
static int wait_exit(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void print_file(const char *what, const char *file)
{
    char *e = slurp(file);
    fprintf(stderr, "%s:\n%s\n", what, e ? e : "");
    free(e);
}

#define STEPS2 "48"

/* One owner of the concurrent test: its files. */
typedef struct owner_run {
    const char *name, *seed;
    char keys[400], out[400], err[400], trace[400], ctrace[400], model[400], cmodel[400], pulled[400];
    pid_t pid;
} owner_run;

static void owner_paths(owner_run *o, const char *name, const char *seed)
{
    char n[64];
    o->name = name;
    o->seed = seed;
#define P(field, suffix)                                                                                               \
    snprintf(n, sizeof n, "%s.%s", name, suffix);                                                                      \
    path(o->field, sizeof o->field, n)
    P(keys, "keys");
    P(out, "out");
    P(err, "err");
    P(trace, "remote.csv");
    P(ctrace, "clear.csv");
    P(model, "remote.model");
    P(cmodel, "clear.model");
    P(pulled, "pulled.model");
#undef P
}

static void test_two_owners_concurrently(void **state)
{
    (void)state;
    char st[300], plog[300], sink[300], ep_file[300], spub[400];
    path(st, sizeof st, "state2");
    path(plog, sizeof plog, "platform3.log");
    path(sink, sizeof sink, "sink4.txt");
    path(ep_file, sizeof ep_file, "state2/endpoint");
    snprintf(spub, sizeof spub, "%s/server.curve.pub", st);
    owner_run own[2];
    owner_paths(&own[0], "alice", "21");
    owner_paths(&own[1], "bob", "22");
    owner_run nobody;
    owner_paths(&nobody, "carol", "23");
    for (int i = 0; i < 2; i++)
        assert_int_equal(run(NULL, sink, sink, "keygen", "--preset", "test-n12", "--insecure", "--out", own[i].keys,
                             NULL),
                         0);
    assert_int_equal(run(NULL, sink, sink, "keygen", "--preset", "test-n12", "--insecure", "--out", nobody.keys, NULL),
                     0);

    pid_t platform;
    run(&platform, sink, plog, "serve", "--listen", "tcp://127.0.0.1:*", "--state", st, "--insecure", NULL);
    leftover[2] = platform;
    assert_true(wait_for_text(plog, "listening on", 30));
    char *ep = slurp(ep_file);
    assert_non_null(ep);

    /* both owners at once; a generous --timeout, so that waiting behind the other owner's request is no retry */
    for (int i = 0; i < 2; i++)
        run(&own[i].pid, own[i].out, own[i].err, "train", "--server", ep, "--keys", own[i].keys, "--server-key", spub,
            "--insecure", "--timeout", "120", "--env", "CartPole-v1", "--steps", STEPS2, "--seed", own[i].seed, HP[0],
            HP[1], HP[2], HP[3], HP[4], HP[5], "--trace", own[i].trace, "--out", own[i].model, "--no-progress", NULL);
    leftover[0] = own[0].pid;
    leftover[1] = own[1].pid;
    /* they do run side by side: both sessions open while both owners still run (a run takes ~20 s after it) */
    int sessions = 0;
    for (int t = 0; t < 1200 && sessions < 2; t++) {
        char *pl = slurp(plog);
        sessions = 0;
        for (const char *c = pl; c && (c = strstr(c, "new session")) != NULL; c++)
            sessions++;
        free(pl);
        if (sessions < 2)
            usleep(100000);
    }
    assert_int_equal(sessions, 2);
    assert_int_equal(waitpid(own[0].pid, NULL, WNOHANG), 0);
    assert_int_equal(waitpid(own[1].pid, NULL, WNOHANG), 0);
    int rc[2];
    for (int i = 0; i < 2; i++) {
        rc[i] = wait_exit(own[i].pid);
        leftover[i] = 0;
        if (rc[i] != 0)
            print_file(own[i].name, own[i].err);
    }
    if (rc[0] || rc[1])
        print_file("platform", plog);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);

    /* each owner pulls with its own keys; a key that never trained is refused */
    for (int i = 0; i < 2; i++)
        assert_int_equal(run(NULL, sink, sink, "model", "pull", "--server", ep, "--keys", own[i].keys, "--server-key",
                             spub, "--insecure", "--out", own[i].pulled, NULL),
                         0);
    char nerr[300];
    path(nerr, sizeof nerr, "carol.pull.err");
    assert_int_not_equal(run(NULL, sink, nerr, "model", "pull", "--server", ep, "--keys", nobody.keys, "--server-key",
                             spub, "--insecure", "--out", nobody.pulled, NULL),
                         0);
    kill(platform, SIGTERM);
    leftover[2] = 0;
    assert_int_equal(wait_exit(platform), 0);
    char *ne = slurp(nerr);
    assert_non_null(ne);
    if (!strstr(ne, "no session"))
        fprintf(stderr, "carol's pull:\n%s\n", ne);
    assert_non_null(strstr(ne, "no session"));
    free(ne);
    struct stat sb;
    assert_int_not_equal(stat(nobody.pulled, &sb), 0); /* no model written */

    /* the clear twins, one per owner */
    for (int i = 0; i < 2; i++)
        assert_int_equal(run(NULL, sink, sink, "train", "--mode", "clear", "--preset", "test-n12", "--insecure",
                             "--levels", "6", "--env", "CartPole-v1", "--steps", STEPS2, "--seed", own[i].seed, HP[0],
                             HP[1], HP[2], HP[3], HP[4], HP[5], "--trace", own[i].ctrace, "--out", own[i].cmodel,
                             "--no-progress", NULL),
                         0);

    for (int i = 0; i < 2; i++) {
        /* each run followed its own twin step for step: the other owner never shifted its replay or its batches */
        char *a = slurp(own[i].trace), *b = slurp(own[i].ctrace);
        assert_non_null(a);
        assert_non_null(b);
        int rows = 0;
        for (const char *c = a; *c; c++)
            rows += *c == '\n';
        assert_int_equal(rows, 1 + atoi(STEPS2));
        assert_string_equal(a, b);
        free(a);
        free(b);
        /* the model at the end of the run, and the one pulled later with the same keys, are the twin's */
        const double d_run = model_max_diff(own[i].model, own[i].cmodel);
        const double d_pull = model_max_diff(own[i].pulled, own[i].cmodel);
        print_message("%s: |remote - twin| %.3g at the end of the run, %.3g pulled later\n", own[i].name, d_run,
                      d_pull);
        assert_true(d_run >= 0 && d_run < 1e-3);
        assert_true(d_pull >= 0 && d_pull < 1e-3);
    }
    /* isolation: the two twins differ (other seeds), and each owner's keys pull that owner's model, never the
     * other's */
    const double twins = model_max_diff(own[0].cmodel, own[1].cmodel);
    const double cross0 = model_max_diff(own[1].pulled, own[0].cmodel);
    const double cross1 = model_max_diff(own[0].pulled, own[1].cmodel);
    print_message("twins differ by %.3g; bob's pull vs alice's twin %.3g, alice's pull vs bob's twin %.3g\n", twins,
                  cross0, cross1);
    assert_true(twins > 1e-2);
    assert_true(cross0 > 1e-2);
    assert_true(cross1 > 1e-2);
    free(ep);
}

static void test_platform_refuses_secret_keys(void **state)
{
    (void)state;
    char keys[300], sink[300], err[300];
    path(keys, sizeof keys, "keys2");
    path(sink, sizeof sink, "sink2.txt");
    path(err, sizeof err, "refuse.err");
    assert_int_equal(run(NULL, sink, sink, "keygen", "--preset", "test-n12", "--insecure", "--out", keys, NULL), 0);
    /* the owner's own key directory as a state directory */
    assert_int_not_equal(run(NULL, sink, err, "serve", "--listen", "tcp://127.0.0.1:*", "--state", keys, "--insecure",
                             NULL),
                         0);
    char *e = slurp(err);
    assert_non_null(e);
    assert_non_null(strstr(e, "secret key material"));
    free(e);
    assert_int_equal(run(NULL, sink, sink, "serve", "--listen", "tcp://127.0.0.1:*", "--state", keys, "--keys", keys,
                         NULL),
                     2);
    /* keygen never overwrites keys */
    assert_int_not_equal(run(NULL, sink, sink, "keygen", "--preset", "test-n12", "--insecure", "--out", keys, NULL), 0);
}

/* --timeout takes seconds in [0.01, 86400], fractions included; anything else is refused before any
 * connection is tried. */
static void test_timeout_option(void **state)
{
    (void)state;
    char out[300], err[300];
    path(out, sizeof out, "timeout.out");
    path(err, sizeof err, "timeout.err");
    static const char *const bad[] = {"0", "0.001", "-1", "abc", "1e9", "2s", "", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        unlink(err);
        assert_int_equal(run(NULL, out, err, "train", "--server", "tcp://127.0.0.1:1", "--keys", dir, "--timeout",
                             bad[i], "--env", "CartPole-v1", "--steps", "1", NULL),
                         2);
        char *e = slurp(err);
        assert_non_null(e);
        if (!strstr(e, "--timeout") || !strstr(e, "[0.01, 86400]"))
            fail_msg("--timeout %s: %s", bad[i], e);
        free(e);
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/cipherl-e2e-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kill9_resume, kill_leftovers),
        cmocka_unit_test_teardown(test_two_owners_concurrently, kill_leftovers),
        cmocka_unit_test(test_platform_refuses_secret_keys),
        cmocka_unit_test(test_timeout_option),
    };
    if (getenv("CIPHERL_TEST_FILTER")) /* e.g. CIPHERL_TEST_FILTER='*two_owners*' */
        cmocka_set_test_filter(getenv("CIPHERL_TEST_FILTER"));
    const int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return rc;
}
