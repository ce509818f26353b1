/* cipherl train in every mode, through the program: traces (step,action) in
 * plain, clear and interactive; the encrypted run at the insecure test-n12
 * preset takes exactly the clear twin's actions; the owner's decrypted
 * network is a model file that eval runs; bad input is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"

static char dir[] = "/tmp/cipherl_modes_XXXXXX";

/* The whole file (malloc'ed), NULL-terminated text. */
static char *slurp(const char *path)
{
    char *t = read_whole(path, NULL);
    assert_non_null(t);
    return t;
}

static void path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* Checks a trace: the header, rows 1..steps in order, actions in [0, n_actions). */
static void check_trace(const char *file, int steps, int n_actions)
{
    char *t = slurp(file);
    assert_true(!strncmp(t, "step,action\n", 12));
    char *p = t + 12;
    for (int s = 1; s <= steps; s++) {
        char *end;
        long step = strtol(p, &end, 10);
        assert_int_equal(step, s);
        assert_int_equal(*end, ',');
        long a = strtol(end + 1, &p, 10);
        assert_true(a >= 0 && a < n_actions);
        assert_int_equal(*p, '\n');
        p++;
    }
    assert_int_equal(*p, 0);
    free(t);
}

/* Reads a continuous trace: the header, rows 1..steps in order, one action
 * each in [lo, hi]; the actions into a (steps values). */
static void read_trace_cont(const char *file, int steps, double lo, double hi, double *a)
{
    char *t = slurp(file);
    assert_true(!strncmp(t, "step,action\n", 12));
    char *p = t + 12;
    for (int s = 1; s <= steps; s++) {
        char *end;
        long step = strtol(p, &end, 10);
        assert_int_equal(step, s);
        assert_int_equal(*end, ',');
        a[s - 1] = strtod(end + 1, &p);
        assert_true(a[s - 1] >= lo && a[s - 1] <= hi);
        assert_int_equal(*p, '\n');
        p++;
    }
    assert_int_equal(*p, 0);
    free(t);
}

static void test_plain_trace(void **state)
{
    (void)state;
    char out[512], tr[512], args[2048];
    path(out, sizeof out, "out.txt");
    path(tr, sizeof tr, "plain.csv");
    snprintf(args, sizeof args,
             "train --mode plain --env CartPole-v1 --seed 1 --steps 700 --hp net_arch=[16] --trace '%s'", tr);
    assert_int_equal(run_cli(args, out), 0);
    check_trace(tr, 700, 2);
}

static void test_clear_trains_and_exports(void **state)
{
    (void)state;
    char out[512], tr[512], log[512], model[512], args[2048];
    path(out, sizeof out, "out.txt");
    path(tr, sizeof tr, "clear.csv");
    path(log, sizeof log, "clear_log.csv");
    path(model, sizeof model, "clear.model");
    snprintf(args, sizeof args,
             "train --mode clear --env CartPole-v1 --seed 2 --steps 1500 --hp learning_starts=500 "
             "--trace '%s' --log '%s' --out '%s'",
             tr, log, model);
    assert_int_equal(run_cli(args, out), 0);
    char *o = slurp(out);
    assert_non_null(strstr(o, "mode clear"));
    assert_non_null(strstr(o, "per training step"));
    assert_non_null(strstr(o, "optimizer=he_adam"));
    free(o);
    check_trace(tr, 1500, 2);
    char *l = slurp(log);
    assert_true(!strncmp(l, "step,episode,return,length\n", 27));
    free(l);
    snprintf(args, sizeof args, "eval --model '%s' --env CartPole-v1 --episodes 3 --json", model);
    assert_int_equal(run_cli(args, out), 0);
    o = slurp(out);
    assert_non_null(strstr(o, "\"mean_return\""));
    free(o);
    /* the ablation optimizers run in clear */
    snprintf(args, sizeof args, "train --mode clear --env CartPole-v1 --steps 300 --hp learning_starts=100 --hp optimizer=sgd");
    assert_int_equal(run_cli(args, out), 0);
    snprintf(args, sizeof args, "train --mode clear --env CartPole-v1 --steps 300 --hp learning_starts=100 --hp optimizer=adam");
    assert_int_equal(run_cli(args, out), 0);
}

static void test_interactive_follows_clear(void **state)
{
    (void)state;
    char out[512], trc[512], tri[512], args[2048];
    path(out, sizeof out, "out.txt");
    path(trc, sizeof trc, "twin.csv");
    path(tri, sizeof tri, "enc.csv");
    const char *common = "--env CartPole-v1 --seed 5 --steps 40 --hp learning_starts=32 --hp buffer_size=64";
    snprintf(args, sizeof args, "train --mode clear --levels 6 %s --trace '%s'", common, trc);
    assert_int_equal(run_cli(args, out), 0);
    snprintf(args, sizeof args, "train --mode interactive --preset test-n12 --insecure %s --trace '%s'", common, tri);
    assert_int_equal(run_cli(args, out), 0);
    char *o = slurp(out);
    assert_non_null(strstr(o, "mode interactive"));
    free(o);
    check_trace(tri, 40, 2);
    char *a = slurp(trc), *b = slurp(tri);
    assert_string_equal(a, b); /* identical action sequences */
    free(a);
    free(b);
}

/* HE-TD3 in mode clear: trace, log, the ablation optimizers; and encrypted at
 * test-n12 it executes the clear twin's actions up to CKKS noise. */
static void test_td3_clear_and_interactive(void **state)
{
    (void)state;
    char out[512], trc[512], tri[512], log[512], args[2048];
    path(out, sizeof out, "out.txt");
    path(trc, sizeof trc, "td3_twin.csv");
    path(tri, sizeof tri, "td3_enc.csv");
    path(log, sizeof log, "td3_log.csv");
    char model[512];
    path(model, sizeof model, "td3.model");
    snprintf(args, sizeof args,
             "train --mode clear --env Pendulum-v1 --seed 3 --steps 1300 --hp learning_starts=1000 --log '%s' "
             "--out '%s'",
             log, model);
    assert_int_equal(run_cli(args, out), 0);
    char *o = slurp(out);
    assert_non_null(strstr(o, "trained HE-TD3 on Pendulum-v1 (mode clear"));
    assert_non_null(strstr(o, "300 training steps"));
    assert_non_null(strstr(o, "optimizer=he_adam"));
    free(o);
    char *l = slurp(log);
    assert_true(!strncmp(l, "step,episode,return,length\n", 27));
    assert_non_null(strstr(l, "\n200,1,")); /* Pendulum: every episode is truncated at 200 steps */
    free(l);
    /* the owner's decrypted actor is a model that eval runs */
    snprintf(args, sizeof args, "eval --model '%s' --env Pendulum-v1 --episodes 2 --json", model);
    assert_int_equal(run_cli(args, out), 0);
    o = slurp(out);
    const char *mr = strstr(o, "\"mean_return\": ");
    assert_non_null(mr);
    const double ret = strtod(mr + 15, NULL);
    assert_true(ret <= 0 && ret >= -3300); /* 200 steps of at most 16.3 each */
    free(o);
    static const char *const opts[] = {"sgd", "adam"};
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "train --mode clear --env Pendulum-v1 --steps 80 --hp learning_starts=64 "
                                    "--hp optimizer=%s", opts[k]);
        assert_int_equal(run_cli(args, out), 0);
        o = slurp(out);
        assert_non_null(strstr(o, opts[k]));
        free(o);
    }

    const char *common = "--env Pendulum-v1 --seed 4 --steps 6 --hp learning_starts=4 --hp batch_size=4 "
                         "--hp net_arch=4";
    snprintf(args, sizeof args, "train --mode clear --levels 6 %s --trace '%s'", common, trc);
    assert_int_equal(run_cli(args, out), 0);
    snprintf(args, sizeof args, "train --mode interactive --preset test-n12 --insecure %s --trace '%s'", common, tri);
    assert_int_equal(run_cli(args, out), 0);
    o = slurp(out);
    assert_non_null(strstr(o, "trained HE-TD3 on Pendulum-v1 (mode interactive"));
    assert_non_null(strstr(o, "2 training steps"));
    free(o);
    double a[6], b[6];
    read_trace_cont(trc, 6, -2.0, 2.0, a);
    read_trace_cont(tri, 6, -2.0, 2.0, b);
    for (int s = 0; s < 6; s++)
        if (!(fabs(a[s] - b[s]) < 1e-6))
            fail_msg("step %d: clear %.17g, encrypted %.17g", s + 1, a[s], b[s]);
    /* exact Adam has no ciphertext form */
    snprintf(args, sizeof args, "train --mode interactive --preset test-n12 --insecure %s --hp optimizer=adam", common);
    assert_int_equal(run_cli(args, out), 2);
}

static void test_bench_train_json(void **state)
{
    (void)state;
    char out[512];
    path(out, sizeof out, "bench.json");
    assert_int_equal(run_cli("bench train --env CartPole-v1 --preset test-n12 --insecure --steps 1 --json "
                             "--hp batch_size=4 --hp net_arch=8",
                             out),
                     0);
    char *o = slurp(out);
    const char *keys[] = {"\"env\": \"CartPole-v1\"", "\"algo\": \"dqn\"", "\"preset\": \"test-n12\"",
                          "\"threads\": 1", "\"train_step_s\"", "\"env_step_s\"", "\"refreshes_per_train_step\"",
                          "\"bytes_per_env_step\"", "\"bytes_per_train_step\"", "\"peak_rss_mb\""};
    const char *prev = o;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *at = strstr(o, keys[k]);
        assert_non_null(at);
        assert_true(at >= prev); /* in the specified order */
        prev = at;
    }
    /* an environment step moves at least the five ciphertexts of a transition */
    const char *b = strstr(o, "\"bytes_per_env_step\": ");
    assert_true(strtod(b + 22, NULL) > 0);
    free(o);
    assert_int_equal(run_cli("bench train --env CartPole-v1 --preset test-n12", out), 2);
    assert_int_equal(run_cli("bench train --env Pendulum-v1 --algo dqn --preset test-n12 --insecure", out), 2);
    o = slurp(out);
    assert_non_null(strstr(o, "continuous"));
    free(o);
    assert_int_equal(run_cli("bench train --env CartPole-v1 --algo ppo --preset test-n12 --insecure", out), 2);
    /* HE-TD3 through the same command: the same keys, its own name */
    assert_int_equal(run_cli("bench train --env Pendulum-v1 --preset test-n12 --insecure --steps 2 --json "
                             "--hp batch_size=4 --hp net_arch=4",
                             out),
                     0);
    o = slurp(out);
    assert_non_null(strstr(o, "\"env\": \"Pendulum-v1\", \"algo\": \"td3\""));
    b = strstr(o, "\"train_step_s\": ");
    assert_non_null(b);
    assert_true(strtod(b + 16, NULL) > 0);
    b = strstr(o, "\"refreshes_per_train_step\": ");
    assert_non_null(b);
    assert_true(strtod(b + 28, NULL) > 0); /* test-n12's 6 levels: the optimizer refreshes */
    free(o);
    assert_int_equal(run_cli("bench train --preset test-n12 --insecure", out), 2);
}

static void test_refusals(void **state)
{
    (void)state;
    char out[512];
    path(out, sizeof out, "out.txt");
    assert_int_equal(run_cli("train --mode interactive --preset test-n12 --env CartPole-v1", out), 2);
    char *o = slurp(out);
    assert_non_null(strstr(o, "--insecure"));
    free(o);
    assert_int_equal(run_cli("train --mode interactive --preset n14 --env CartPole-v1", out), 2); /* 5 levels */
    assert_int_equal(run_cli("train --mode clear --levels 3 --env CartPole-v1", out), 2);
    assert_int_equal(run_cli("train --mode clear --env CartPole-v1 --hp optimizer=rmsprop", out), 2);
    o = slurp(out);
    assert_non_null(strstr(o, "optimizer"));
    free(o);
    assert_int_equal(run_cli("train --mode clear --env CartPole-v1 --hp batch_size=24", out), 2);
    assert_int_equal(run_cli("train --mode clear --env CartPole-v1 --hp nope=1", out), 2);
    assert_int_equal(run_cli("train --mode interactive --insecure --preset test-n12 --env CartPole-v1 --hp optimizer=adam", out), 2);
    assert_int_equal(run_cli("train --mode plain --env CartPole-v1 --preset n15", out), 2);
    assert_int_equal(run_cli("train --mode clear --env CartPole-v1 --trace /nonexistent/dir/t.csv", out), 1);
    assert_int_equal(run_cli("train --mode warp --env CartPole-v1", out), 2);
    /* a run whose networks blow up stops with a clear error, for both algorithms */
    static const char *const blowups[] = {
        "train --mode clear --env CartPole-v1 --steps 3000 --hp learning_starts=500 --hp learning_rate=10 "
        "--hp adam_beta2=0.9",
        "train --mode clear --env Pendulum-v1 --steps 1600 --hp learning_starts=1000 --hp learning_rate=5"};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(run_cli(blowups[k], out), 1);
        o = slurp(out);
        assert_non_null(strstr(o, "the training diverged"));
        free(o);
    }
}

static int setup(void **state)
{
    (void)state;
    return tmpdir_make(dir);
}

static int teardown(void **state)
{
    (void)state;
    return tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_trace),
        cmocka_unit_test(test_clear_trains_and_exports),
        cmocka_unit_test(test_interactive_follows_clear),
        cmocka_unit_test(test_td3_clear_and_interactive),
        cmocka_unit_test(test_bench_train_json),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("train_modes", tests, setup, teardown);
}
