/* `cipherl demo` at the insecure test preset, so that it runs in seconds:
 * the platform starts as its own process, the owner trains through it, and
 * the demo ends with a table whose encrypted row follows the clear twin
 * action for action, a plot script (and the PNG where gnuplot is installed),
 * the logs and models it names, and no keys or platform state left behind.
 * Bad options are refused with a usage error. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[256];

/* Runs the CLI with args (NULL-terminated), stdout and stderr to files. */
static int run(const char *out, const char *first, ...)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = CIPHERL_CLI;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(CIPHERL_CLI, (char *const *)argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static void path_in(char *out, size_t cap, const char *sub, const char *name)
{
    snprintf(out, cap, "%s/%s/%s", dir, sub, name);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void test_demo_runs_end_to_end(void **state)
{
    (void)state;
    char out[512], d[512], p[600];
    snprintf(out, sizeof out, "%s/demo.out", dir);
    snprintf(d, sizeof d, "%s/run", dir);
    int rc = run(out, "demo", "--preset", "test-n12", "--insecure", "--dir", d, "--steps", "48", "--learning-starts",
                 "32", "--train-freq", "16", "--episodes", "5", NULL);
    char *text = slurp(out);
    assert_non_null(text);
    if (rc != 0)
        fprintf(stderr, "%s\n", text);
    assert_int_equal(rc, 0);
    /* the three rows, and the encrypted run (one training step, at step 48)
     * followed its clear twin */
    assert_non_null(strstr(text, "| plain DQN |"));
    assert_non_null(strstr(text, "| clear HE-DQN (the twin) |"));
    assert_non_null(strstr(text, "| encrypted HE-DQN |"));
    assert_non_null(strstr(text, "chose the clear twin's action at every one of its 48 steps"));
    assert_non_null(strstr(text, "environment step with a training step: 1,"));
    free(text);

    path_in(p, sizeof p, "run", "summary.md");
    char *sum = slurp(p);
    assert_non_null(sum);
    assert_non_null(strstr(sum, "`cipherl demo --preset test-n12 --steps 48"));
    assert_non_null(strstr(sum, "| encrypted HE-DQN |"));
    free(sum);
    /* logs, traces and models of the three agents; traces have a row per step */
    static const char *const files[] = {"plain.csv",   "clear.csv",       "encrypted.csv",
                                        "plain.model", "clear.model",     "encrypted.model",
                                        "curves.gp",   "platform.log"};
    struct stat sb;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        path_in(p, sizeof p, "run", files[i]);
        assert_int_equal(stat(p, &sb), 0);
        assert_true(sb.st_size > 0);
    }
    static const char *const traces[] = {"plain_trace.csv", "clear_trace.csv", "encrypted_trace.csv"};
    for (size_t i = 0; i < 3; i++) {
        path_in(p, sizeof p, "run", traces[i]);
        assert_int_equal(count_lines(p), 49);
    }
    /* the encrypted model is a usable model file */
    path_in(p, sizeof p, "run", "encrypted.model");
    char eout[512];
    snprintf(eout, sizeof eout, "%s/eval.out", dir);
    assert_int_equal(run(eout, "eval", "--model", p, "--env", "CartPole-v1", "--episodes", "2", NULL), 0);
    /* with gnuplot, the picture (test machines without it keep the script) */
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        path_in(p, sizeof p, "run", "curves.png");
        assert_int_equal(stat(p, &sb), 0);
        assert_true(sb.st_size > 1000);
    }
    /* no keys or platform state left: only the files above */
    DIR *dh = opendir(d);
    assert_non_null(dh);
    struct dirent *e;
    while ((e = readdir(dh)))
        assert_null(strstr(e->d_name, "work-"));
    closedir(dh);
}

static void test_demo_refuses_bad_options(void **state)
{
    (void)state;
    char out[512], d[512];
    snprintf(out, sizeof out, "%s/bad.out", dir);
    snprintf(d, sizeof d, "%s/bad", dir);
    assert_int_equal(run(out, "demo", "--preset", "test-n12", "--dir", d, NULL), 2); /* insecure without the flag */
    char *text = slurp(out);
    assert_non_null(text);
    assert_non_null(strstr(text, "insecure"));
    free(text);
    assert_int_equal(run(out, "demo", "--preset", "nope", "--dir", d, NULL), 2);
    assert_int_equal(run(out, "demo", "--steps", "0", "--dir", d, NULL), 2);
    assert_int_equal(run(out, "demo", "--train-freq", "x", "--dir", d, NULL), 2);
    assert_int_equal(run(out, "demo", "--bogus", NULL), 2);
    assert_int_equal(run(out, "demo", "--steps", NULL), 2);
    assert_int_equal(run(out, "demo", "--help", NULL), 0);
    struct stat sb;
    assert_int_not_equal(stat(d, &sb), 0); /* nothing created on a refused command line */
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/cipherl-demo-test-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_refuses_bad_options),
        cmocka_unit_test(test_demo_runs_end_to_end),
    };
    int failed = cmocka_run_group_tests_name("cipherl demo", tests, NULL, NULL);
    if (!failed) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return failed;
}
