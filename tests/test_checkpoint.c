/* Training checkpoints: a run stopped at any step and resumed from its
 * checkpoint goes on bit for bit as the uninterrupted run (DQN and TD3 with
 * Ornstein-Uhlenbeck noise, stopped mid-episode and mid-rollout); every
 * truncation, every corrupted byte, and every byte changed behind a valid
 * checksum is refused or yields a state that runs, never a crash; and
 * through the program: --stop-after, SIGINT, --resume with the run's log and
 * trace, and the refusals that protect a user's files. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cipherl/rl.h"
#include "cli_util.h"
#include "rl/bytes_internal.h"

static rl_agent *make_agent(rl_algo algo, const char *env_id, const char *const *hps, int n_hp,
                            int64_t total, rl_env **env, rl_rng *env_rng)
{
    rl_hparams hp;
    char err[1280];
    assert_int_equal(rl_hp_defaults(algo, env_id, &hp), CL_OK);
    for (int i = 0; i < n_hp; i++)
        assert_int_equal(rl_hp_assign(&hp, hps[i], err, sizeof err), CL_OK);
    hp.n_timesteps = total;
    rl_agent *ag;
    assert_int_equal(rl_agent_create(&hp, rl_env_find(env_id), 77, &ag), CL_OK);
    assert_int_equal(rl_env_create(env_id, env), CL_OK);
    rl_rng_seed(env_rng, 5);
    assert_int_equal(rl_agent_begin(ag, *env, env_rng, total), CL_OK);
    return ag;
}

static void steps(rl_agent *ag, rl_env *env, rl_rng *env_rng, int n, double *actions)
{
    rl_step_info info;
    for (int i = 0; i < n; i++) {
        assert_int_equal(rl_agent_step(ag, env, env_rng, &info), CL_OK);
        actions[i] = info.action[0];
    }
}

static const char *const DQN_HP[] = {"net_arch=[16,16]", "batch_size=8", "buffer_size=300",
                                     "learning_starts=50", "train_freq=4",
                                     "gradient_steps=2"};
static const char *const TD3_HP[] = {"net_arch=[8,8]", "batch_size=8", "buffer_size=300",
                                     "learning_starts=50",
                                     "noise_type=ornstein-uhlenbeck"};

/* Uninterrupted vs. stopped at `cut`, serialized, freed, restored and run
 * on: the same actions, and at the end the same checkpoint, byte for byte
 * (networks, targets, Adam moments, replay, counters, generators). */
static void check_exact_resume(rl_algo algo, const char *env_id, const char *const *hps,
                               int n_hp, int total, int cut)
{
    rl_env *env_a, *env_b;
    rl_rng rng_a, rng_b;
    rl_agent *a = make_agent(algo, env_id, hps, n_hp, total, &env_a, &rng_a);
    rl_agent *b = make_agent(algo, env_id, hps, n_hp, total, &env_b, &rng_b);
    double *act_a = malloc(sizeof(double) * (size_t)total);
    double *act_b = malloc(sizeof(double) * (size_t)total);
    assert_non_null(act_a);
    assert_non_null(act_b);
    steps(a, env_a, &rng_a, total, act_a);
    steps(b, env_b, &rng_b, cut, act_b);

    const char note[] = "the caller's own\0bytes";
    uint8_t *buf, *user;
    size_t len, user_len;
    assert_int_equal(rl_checkpoint_serialize(b, env_b, &rng_b, note, sizeof note, &buf, &len),
                     CL_OK);
    rl_agent_free(b);
    rl_env_free(env_b);
    memset(&rng_b, 0, sizeof rng_b);
    assert_int_equal(rl_checkpoint_deserialize(buf, len, &b, &env_b, &rng_b, &user, &user_len),
                     CL_OK);
    free(buf);
    assert_int_equal(user_len, sizeof note);
    assert_memory_equal(user, note, sizeof note);
    assert_int_equal(user[user_len], 0);
    free(user);
    int64_t at;
    rl_agent_counters(b, &at, NULL, NULL);
    assert_int_equal(at, cut);
    steps(b, env_b, &rng_b, total - cut, act_b + cut);
    assert_memory_equal(act_a, act_b, sizeof(double) * (size_t)total);

    uint8_t *ca, *cb;
    size_t la = 0, lb = 0;
    assert_int_equal(rl_checkpoint_serialize(a, env_a, &rng_a, NULL, 0, &ca, &la), CL_OK);
    assert_int_equal(rl_checkpoint_serialize(b, env_b, &rng_b, NULL, 0, &cb, &lb), CL_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(ca, cb, la);
    free(ca);
    free(cb);
    free(act_a);
    free(act_b);
    rl_agent_free(a);
    rl_agent_free(b);
    rl_env_free(env_a);
    rl_env_free(env_b);
}

static void test_dqn_resumes_exactly(void **state)
{
    (void)state;
    /* 237: mid-episode, mid-rollout (237 % 4 != 0), the replay not yet full;
     * 700 wraps the ring of 300 */
    check_exact_resume(RL_ALGO_DQN, "CartPole-v1", DQN_HP, 6, 400, 237);
    check_exact_resume(RL_ALGO_DQN, "Acrobot-v1", DQN_HP, 6, 700, 613);
    check_exact_resume(RL_ALGO_DQN, "CartPole-v1", DQN_HP, 6, 100, 10); /* before learning */
}

static void test_td3_resumes_exactly(void **state)
{
    (void)state;
    /* the OU process and the actor delay carried across the cut */
    check_exact_resume(RL_ALGO_TD3, "MountainCarContinuous-v0", TD3_HP, 5, 400, 171);
    check_exact_resume(RL_ALGO_TD3, "Pendulum-v1", TD3_HP, 4, 450, 333);
}

static void test_refusals(void **state)
{
    (void)state;
    rl_env *env, *other;
    rl_rng rng;
    uint8_t *buf = (uint8_t *)"x";
    size_t len = 1;
    rl_hparams hp;
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "CartPole-v1", &hp), CL_OK);
    rl_agent *fresh;
    assert_int_equal(rl_agent_create(&hp, rl_env_find("CartPole-v1"), 1, &fresh), CL_OK);
    assert_int_equal(rl_env_create("CartPole-v1", &env), CL_OK);
    assert_int_equal(rl_env_create("Acrobot-v1", &other), CL_OK);
    rl_rng_seed(&rng, 1);
    /* not begun: nothing to go on from */
    assert_int_equal(rl_checkpoint_serialize(fresh, env, &rng, NULL, 0, &buf, &len),
                     CL_ERR_STATE);
    assert_null(buf);
    assert_int_equal(rl_agent_begin(fresh, env, &rng, 1000), CL_OK);
    assert_int_equal(rl_checkpoint_serialize(fresh, other, &rng, NULL, 0, &buf, &len),
                     CL_ERR_PARAMS);
    assert_int_equal(rl_checkpoint_serialize(fresh, env, &rng, NULL, 3, &buf, &len),
                     CL_ERR_INVALID);
    assert_int_equal(rl_checkpoint_serialize(NULL, env, &rng, NULL, 0, &buf, &len),
                     CL_ERR_INVALID);
    rl_agent *ag;
    rl_env *e;
    uint8_t *user;
    size_t ul;
    assert_int_equal(rl_checkpoint_deserialize(NULL, 0, &ag, &e, &rng, &user, &ul),
                     CL_ERR_INVALID);
    assert_int_equal(rl_checkpoint_load("/nonexistent/cipherl.ck", &ag, &e, &rng, &user, &ul),
                     CL_ERR_IO);
    assert_null(ag);
    assert_null(e);
    assert_null(user);
    rl_agent_free(fresh);
    rl_env_free(env);
    rl_env_free(other);
}

/* A small checkpoint of a begun DQN run, and its length. */
static uint8_t *small_checkpoint(size_t *len)
{
    static const char *const hp[] = {"net_arch=[4]", "batch_size=4", "buffer_size=40",
                                     "learning_starts=10", "train_freq=4"};
    rl_env *env;
    rl_rng rng;
    rl_agent *ag = make_agent(RL_ALGO_DQN, "CartPole-v1", hp, 5, 200, &env, &rng);
    double act[30];
    steps(ag, env, &rng, 30, act);
    uint8_t *buf;
    assert_int_equal(rl_checkpoint_serialize(ag, env, &rng, "book", 4, &buf, len), CL_OK);
    rl_agent_free(ag);
    rl_env_free(env);
    return buf;
}

/* deserializes; on success runs some steps (must not crash) and frees */
static cl_status try_load(const uint8_t *buf, size_t len)
{
    rl_agent *ag = (rl_agent *)1;
    rl_env *env = (rl_env *)1;
    rl_rng rng;
    uint8_t *user = (uint8_t *)1;
    size_t ul;
    cl_status st = rl_checkpoint_deserialize(buf, len, &ag, &env, &rng, &user, &ul);
    if (st != CL_OK) {
        assert_null(ag);
        assert_null(env);
        assert_null(user);
        return st;
    }
    rl_step_info info;
    for (int i = 0; i < 20; i++)
        if (rl_agent_step(ag, env, &rng, &info) != CL_OK)
            break;
    rl_agent_free(ag);
    rl_env_free(env);
    free(user);
    return st;
}

static void reseal(uint8_t *buf, size_t len)
{
    uint8_t *p = buf + len - 8;
    rl_put_u64(&p, rl_fnv1a64(buf, len - 8));
}

static void test_malformed_never_crash(void **state)
{
    (void)state;
    size_t len;
    uint8_t *good = small_checkpoint(&len);
    assert_int_equal(try_load(good, len), CL_OK);
    uint8_t *b = malloc(len);
    assert_non_null(b);

    /* every truncation */
    for (size_t n = 0; n < len; n++) {
        memcpy(b, good, n);
        cl_status st = try_load(b, n);
        assert_true(st == CL_ERR_TRUNCATED || st == CL_ERR_CHECKSUM || st == CL_ERR_FORMAT);
    }
    /* the magic, the version, the checksum */
    memcpy(b, good, len);
    b[0] ^= 0x20;
    assert_int_equal(try_load(b, len), CL_ERR_FORMAT);
    memcpy(b, good, len);
    b[8]++;
    assert_int_equal(try_load(b, len), CL_ERR_VERSION);
    /* every byte flipped: the checksum catches it */
    for (size_t i = 12; i < len; i++) {
        memcpy(b, good, len);
        b[i] ^= 0x01;
        assert_int_equal(try_load(b, len), CL_ERR_CHECKSUM);
    }
    /* every byte changed behind a valid checksum (a crafted file): refused or
     * a state that runs, never a crash; counters, sizes and text fields
     * changed by one bit are refused */
    int refused = 0, ran = 0;
    for (size_t i = 12; i < len - 8; i++)
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(b, good, len);
            b[i] ^= (uint8_t)(1u << bit);
            reseal(b, len);
            cl_status st = try_load(b, len);
            if (st == CL_OK)
                ran++;
            else
                refused++;
        }
    assert_true(refused > 0 && ran > 0);
    /* a user block longer than the file: the top byte of its u64 length,
     * which lies before the 4 bytes of "book" and the checksum */
    memcpy(b, good, len);
    b[len - 8 - 4 - 8 + 7] = 0x7f;
    reseal(b, len);
    assert_int_equal(try_load(b, len), CL_ERR_TRUNCATED);
    free(b);
    free(good);
}

static char dir[] = "/tmp/cipherl_ckpt_XXXXXX";

static void path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static void assert_same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *ta = read_whole(a, &la), *tb = read_whole(b, &lb);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    free(ta);
    free(tb);
}

#define RUN "train --mode plain --env Pendulum-v1 --seed 4 --hp net_arch=[8,8] " \
            "--hp batch_size=8 --hp learning_starts=100"

static void test_cli_stop_and_resume(void **state)
{
    (void)state;
    char out[512], args[4096], ref_m[512], ref_l[512], ref_t[512], m[512], l[512], t[512],
        ck[512];
    path(out, sizeof out, "out.txt");
    path(ref_m, sizeof ref_m, "ref.model");
    path(ref_l, sizeof ref_l, "ref.csv");
    path(ref_t, sizeof ref_t, "ref.trace");
    path(m, sizeof m, "run.model");
    path(l, sizeof l, "run.csv");
    path(t, sizeof t, "run.trace");
    path(ck, sizeof ck, "run.ck");
    snprintf(args, sizeof args, RUN " --steps 1500 --log '%s' --trace '%s' --out '%s'", ref_l,
             ref_t, ref_m);
    assert_int_equal(run_cli(args, out), 0);

    /* stopped twice (once by --stop-after on a resumed run), then finished */
    snprintf(args, sizeof args,
             RUN " --steps 1500 --log '%s' --trace '%s' --out '%s' --checkpoint '%s' "
                 "--checkpoint-every 250 --stop-after 333",
             l, t, m, ck);
    assert_int_equal(run_cli(args, out), 3);
    char *o = read_whole(out, NULL);
    assert_non_null(strstr(o, "stopped at step 333 of 1500"));
    assert_non_null(strstr(o, "--resume"));
    free(o);
    struct stat st;
    assert_int_not_equal(stat(m, &st), 0); /* no model from a stopped run */
    snprintf(args, sizeof args,
             "train --resume '%s' --log '%s' --trace '%s' --out '%s' --stop-after 400", ck, l, t,
             m);
    assert_int_equal(run_cli(args, out), 3);
    /* what the command line repeats must agree; what differs is refused */
    snprintf(args, sizeof args,
             "train --resume '%s' --env Pendulum-v1 --seed 4 --steps 1500 --hp batch_size=8 "
             "--log '%s' --trace '%s' --out '%s'",
             ck, l, t, m);
    assert_int_equal(run_cli(args, out), 0);
    o = read_whole(out, NULL);
    assert_non_null(strstr(o, "resuming td3 on Pendulum-v1 (seed 4) at step 733 of 1500"));
    assert_non_null(strstr(o, "1500 steps"));
    free(o);
    assert_same_file(ref_m, m);
    assert_same_file(ref_l, l);
    assert_same_file(ref_t, t);
}

static void test_cli_resume_refusals(void **state)
{
    (void)state;
    char out[512], args[4096], ck[512], l[512], other[512];
    path(out, sizeof out, "out2.txt");
    path(ck, sizeof ck, "r.ck");
    path(l, sizeof l, "r.csv");
    path(other, sizeof other, "other.csv");
    snprintf(args, sizeof args,
             RUN " --steps 1000 --log '%s' --checkpoint '%s' --stop-after 300", l, ck);
    assert_int_equal(run_cli(args, out), 3);
    /* another run's log: refused and left as it is */
    snprintf(args, sizeof args, RUN " --seed 5 --steps 600 --log '%s'", other);
    assert_int_equal(run_cli(args, out), 0);
    size_t before_len = 0;
    char *before = read_whole(other, &before_len);
    snprintf(args, sizeof args, "train --resume '%s' --log '%s'", ck, other);
    assert_int_equal(run_cli(args, out), 2);
    char *o = read_whole(out, NULL);
    assert_non_null(strstr(o, "is not the log of the checkpoint's run"));
    free(o);
    size_t after_len = 0;
    char *after = read_whole(other, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);
    /* a trace the run never wrote */
    snprintf(args, sizeof args, "train --resume '%s' --trace '%s'", ck, other);
    assert_int_equal(run_cli(args, out), 2);
    /* settings that differ from the checkpoint's */
    static const char *const differ[] = {"--seed 5", "--env CartPole-v1", "--steps 999",
                                         "--hp batch_size=16", "--algo dqn"};
    for (size_t i = 0; i < sizeof differ / sizeof *differ; i++) {
        snprintf(args, sizeof args, "train --resume '%s' %s", ck, differ[i]);
        assert_int_equal(run_cli(args, out), 2);
    }
    /* not a checkpoint, a missing one, one cut short */
    snprintf(args, sizeof args, "train --resume '%s'", l);
    assert_int_equal(run_cli(args, out), 1);
    o = read_whole(out, NULL);
    assert_non_null(strstr(o, "is not a usable checkpoint"));
    free(o);
    snprintf(args, sizeof args, "train --resume '%s/none.ck'", dir);
    assert_int_equal(run_cli(args, out), 1);
    size_t cl = 0;
    char *c = read_whole(ck, &cl);
    assert_non_null(c);
    FILE *f = fopen(ck, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(c, 1, cl / 2, f), cl / 2);
    fclose(f);
    free(c);
    snprintf(args, sizeof args, "train --resume '%s'", ck);
    assert_int_equal(run_cli(args, out), 1);
    /* options that have no meaning there */
    assert_int_equal(run_cli("train --mode clear --env CartPole-v1 --checkpoint x.ck", out), 2);
    assert_int_equal(run_cli("train --env CartPole-v1 --stop-after 10", out), 2);
    assert_int_equal(run_cli("train --env CartPole-v1 --checkpoint-every 10", out), 2);
    assert_int_equal(run_cli("train --env CartPole-v1 --checkpoint x.ck --stop-after 0", out), 2);
}

/* SIGINT stops the run at a step boundary with a checkpoint (exit 130);
 * resumed, it ends where the uninterrupted run ends. */
static void test_cli_sigint(void **state)
{
    (void)state;
    char ref_m[512], ref_l[512], m[512], l[512], ck[512], out[512], args[4096];
    path(ref_m, sizeof ref_m, "sref.model");
    path(ref_l, sizeof ref_l, "sref.csv");
    path(m, sizeof m, "s.model");
    path(l, sizeof l, "s.csv");
    path(ck, sizeof ck, "s.ck");
    path(out, sizeof out, "s.out");
    /* long enough that the signal lands before the end: 40 000 steps */
    const char *run = "train --mode plain --env CartPole-v1 --seed 2 --steps 40000 "
                      "--hp net_arch=[32,32] --hp learning_starts=1000";
    snprintf(args, sizeof args, "%s --log '%s' --out '%s'", run, ref_l, ref_m);
    assert_int_equal(run_cli(args, out), 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *devnull = freopen("/dev/null", "w", stderr);
        (void)devnull;
        execl(CIPHERL_CLI, CIPHERL_CLI, "train", "--mode", "plain", "--env", "CartPole-v1",
              "--seed", "2", "--steps", "40000", "--hp", "net_arch=[32,32]", "--hp",
              "learning_starts=1000", "--log", l, "--out", m, "--checkpoint", ck,
              "--no-progress", (char *)NULL);
        _exit(127);
    }
    /* signal once the run has logged an episode */
    for (int i = 0; i < 2000; i++) {
        struct stat st;
        if (stat(l, &st) == 0 && st.st_size > 40)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(kill(pid, SIGINT), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    struct stat st;
    assert_int_not_equal(stat(m, &st), 0);
    snprintf(args, sizeof args, "train --resume '%s' --log '%s' --out '%s'", ck, l, m);
    assert_int_equal(run_cli(args, out), 0);
    assert_same_file(ref_m, m);
    assert_same_file(ref_l, l);
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
        cmocka_unit_test(test_dqn_resumes_exactly),
        cmocka_unit_test(test_td3_resumes_exactly),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_malformed_never_crash),
        cmocka_unit_test(test_cli_stop_and_resume),
        cmocka_unit_test(test_cli_resume_refusals),
        cmocka_unit_test(test_cli_sigint),
    };
    return cmocka_run_group_tests_name("checkpoint", tests, setup, teardown);
}
