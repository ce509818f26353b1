/* Owner and platform as separate processes over loopback (test-n12,
 * insecure): keygen, serve, train --server, kill -9 of the platform in the
 * middle of training, restart on the same address, finish. The run must
 * resume from the store with no transition lost or applied twice: its action
 * trace must equal the clear twin's (an uninterrupted run with the same seeds;
 * a lost or repeated transition would shift the replay and the mini-batches
 * the platform draws). The pulled model must match the clear twin's within
 * CKKS precision, and a platform must refuse a state directory holding a
 * secret key. */
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
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc((size_t)n + 1, 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
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
    assert_true(wait_for_text(plog1, "new session", 120));
    sleep(8); /* INIT and some steps (the first training step comes at step 48) */
    kill(platform, SIGKILL);
    int status;
    waitpid(platform, &status, 0);
    assert_true(WIFSIGNALED(status));
    run(&platform, sink, plog2, "serve", "--listen", ep, "--state", st, "--insecure", NULL);
    waitpid(owner, &status, 0);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) {
        char *e = slurp(oerr);
        fprintf(stderr, "owner failed:\n%s\n", e ? e : "");
        free(e);
    }
    assert_int_equal(WEXITSTATUS(status), 0);
    kill(platform, SIGTERM);
    waitpid(platform, &status, 0);

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

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/cipherl-e2e-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_resume),
        cmocka_unit_test(test_platform_refuses_secret_keys),
    };
    const int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return rc;
}
