/* Tests of the plaintext baselines: hyperparameters (defaults, parsing,
 * errors), replay buffer, SB3 training-loop bookkeeping, model files (round
 * trip, every truncation and every corrupted byte refused, version 1 and 2
 * files still read), policies made from networks trained elsewhere (the HE-friendly
 * NN_ACT_POLY2 activation), a TD3 smoke run and a short DQN run on CartPole-v1
 * that must really learn. */
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
#include "rl/agent_internal.h"

static void test_hp_defaults(void **state)
{
    (void)state;
    rl_hparams hp;
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "CartPole-v1", &hp), CL_OK);
    assert_int_equal(hp.n_timesteps, 50000);
    assert_true(hp.learning_rate == 2.3e-3);
    assert_int_equal(hp.batch_size, 64);
    assert_int_equal(hp.train_freq, 256);
    assert_int_equal(hp.gradient_steps, 128);
    assert_int_equal(hp.target_update_interval, 10);
    assert_true(hp.tau == 1.0 && hp.max_grad_norm == 10.0 && hp.exploration_final_eps == 0.04);
    assert_int_equal(hp.n_net_arch, 2);
    assert_int_equal(hp.net_arch[0], 256);
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "Acrobot-v1", &hp), CL_OK);
    assert_int_equal(hp.gradient_steps, -1);
    assert_int_equal(hp.n_timesteps, 100000);
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "MountainCar-v0", &hp), CL_OK);
    assert_true(hp.gamma == 0.98 && hp.learning_rate == 4e-3);
    assert_int_equal(rl_hp_defaults(RL_ALGO_TD3, "Pendulum-v1", &hp), CL_OK);
    assert_int_equal(hp.learning_starts, 10000);
    assert_int_equal(hp.n_timesteps, 20000);
    assert_true(hp.tau == 0.005 && hp.policy_delay == 2 && hp.target_policy_noise == 0.2 &&
                hp.target_noise_clip == 0.5 && hp.noise_type == RL_NOISE_NORMAL);
    assert_int_equal(hp.net_arch[0], 400);
    assert_int_equal(hp.net_arch[1], 300);
    assert_int_equal(rl_hp_defaults(RL_ALGO_TD3, "MountainCarContinuous-v0", &hp), CL_OK);
    assert_int_equal(hp.noise_type, RL_NOISE_OU);
    assert_true(hp.noise_std == 0.5);
    assert_int_equal(rl_hp_defaults(RL_ALGO_TD3, "CartPole-v1", &hp), CL_ERR_UNSUPPORTED);
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "Pendulum-v1", &hp), CL_ERR_UNSUPPORTED);
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "NoSuchEnv-v0", &hp), CL_ERR_INVALID);
}

static void test_hp_parse(void **state)
{
    (void)state;
    rl_hparams hp;
    char err[1280];
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "CartPole-v1", &hp), CL_OK);
    assert_int_equal(rl_hp_assign(&hp, "learning_rate=1e-3", err, sizeof err), CL_OK);
    assert_true(hp.learning_rate == 1e-3);
    assert_int_equal(rl_hp_assign(&hp, "buffer_size=1e4", err, sizeof err), CL_OK);
    assert_int_equal(hp.buffer_size, 10000);
    assert_int_equal(rl_hp_assign(&hp, "net_arch=[32, 16,8]", err, sizeof err), CL_OK);
    assert_int_equal(hp.n_net_arch, 3);
    assert_int_equal(hp.net_arch[2], 8);
    assert_int_equal(rl_hp_assign(&hp, "net_arch=64,64", err, sizeof err), CL_OK);
    assert_int_equal(hp.n_net_arch, 2);
    assert_int_equal(rl_hp_assign(&hp, "net_arch=[]", err, sizeof err), CL_OK);
    assert_int_equal(hp.n_net_arch, 0);
    assert_int_equal(rl_hp_assign(&hp, "gradient_steps=-1", err, sizeof err), CL_OK);
    assert_int_equal(rl_hp_assign(&hp, "batch_size=32", err, sizeof err), CL_OK);
    assert_int_equal(hp.batch_size, 32);

    /* unknown names, names of the other algorithm, bad values */
    assert_int_equal(rl_hp_assign(&hp, "lerning_rate=1", err, sizeof err), CL_ERR_INVALID);
    assert_non_null(strstr(err, "unknown hyperparameter 'lerning_rate'"));
    assert_int_equal(rl_hp_assign(&hp, "policy_delay=2", err, sizeof err), CL_ERR_INVALID);
    assert_non_null(strstr(err, "does not apply to dqn"));
    assert_int_equal(rl_hp_assign(&hp, "learning_rate", err, sizeof err), CL_ERR_PARSE);
    assert_int_equal(rl_hp_assign(&hp, "=3", err, sizeof err), CL_ERR_PARSE);
    const char *bad[] = {"learning_rate=abc", "learning_rate=0", "learning_rate=-1",
                         "learning_rate=nan", "learning_rate=", "batch_size=0",
                         "batch_size=2.5", "batch_size=12x", "gamma=1.01", "tau=0",
                         "train_freq=0", "gradient_steps=-2", "exploration_fraction=2",
                         "net_arch=[64,0]", "net_arch=[64,", "net_arch=[a]",
                         "net_arch=[1,2,3,4,5,6,7]", "net_arch=[5000]",
                         "buffer_size=1e20", "max_grad_norm=0", "learning_starts=-5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rl_hparams keep = hp;
        err[0] = 0;
        assert_int_equal(rl_hp_assign(&hp, bad[i], err, sizeof err), CL_ERR_PARSE);
        assert_true(strlen(err) > 0);
        assert_memory_equal(&keep, &hp, sizeof hp); /* nothing changed */
    }
    assert_int_equal(rl_hp_check(&hp, err, sizeof err), CL_OK);

    assert_int_equal(rl_hp_defaults(RL_ALGO_TD3, "Pendulum-v1", &hp), CL_OK);
    assert_int_equal(rl_hp_assign(&hp, "noise_type=ornstein-uhlenbeck", err, sizeof err), CL_OK);
    assert_int_equal(hp.noise_type, RL_NOISE_OU);
    assert_int_equal(rl_hp_assign(&hp, "noise_type=uniform", err, sizeof err), CL_ERR_PARSE);
    assert_int_equal(rl_hp_assign(&hp, "target_update_interval=5", err, sizeof err), CL_ERR_INVALID);
    assert_int_equal(rl_hp_assign(&hp, "policy_delay=3", err, sizeof err), CL_OK);
    assert_int_equal(hp.policy_delay, 3);

    /* format lists every applicable name once */
    char buf[2048];
    size_t n = rl_hp_format(&hp, buf, sizeof buf);
    assert_true(n < sizeof buf);
    assert_non_null(strstr(buf, "policy_delay=3"));
    assert_non_null(strstr(buf, "net_arch=[400,300]"));
    assert_null(strstr(buf, "exploration_fraction"));
    /* and parses back */
    rl_hparams back;
    assert_int_equal(rl_hp_defaults(RL_ALGO_TD3, "Pendulum-v1", &back), CL_OK);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        assert_int_equal(rl_hp_assign(&back, tok, err, sizeof err), CL_OK);
    assert_memory_equal(&back, &hp, sizeof hp);
    /* a short buffer is truncated but still terminated */
    char small[8];
    assert_true(rl_hp_format(&hp, small, sizeof small) == n);
    assert_int_equal(strlen(small), 7);

    rl_algo a;
    assert_int_equal(rl_algo_parse("td3", &a), CL_OK);
    assert_int_equal(a, RL_ALGO_TD3);
    assert_int_equal(rl_algo_parse("ppo", &a), CL_ERR_INVALID);
}

static void test_replay(void **state)
{
    (void)state;
    rl_replay *rb;
    assert_int_equal(rl_replay_create(0, 2, 1, &rb), CL_ERR_INVALID);
    assert_int_equal(rl_replay_create(3, 2, 1, &rb), CL_OK);
    for (int i = 0; i < 5; i++) {
        double o[2] = {i, -i}, n[2] = {i + 1, -i - 1}, a = i % 2;
        rl_replay_add(rb, o, &a, 10.0 * i, n, i == 4);
    }
    assert_int_equal(rb->size, 3);
    assert_int_equal(rb->pos, 2);
    rl_rng rng;
    rl_rng_seed(&rng, 1);
    double o[64], a[32], r[32], n[64], d[32];
    int seen[5] = {0};
    rl_replay_sample(rb, &rng, 32, o, a, r, n, d);
    for (int b = 0; b < 32; b++) {
        int i = (int)o[2 * b];
        assert_true(i >= 2 && i <= 4); /* only the newest three remain */
        seen[i] = 1;
        assert_true(o[2 * b + 1] == -i && n[2 * b] == i + 1 && n[2 * b + 1] == -i - 1);
        assert_true(a[b] == i % 2 && r[b] == 10.0 * i && d[b] == (i == 4 ? 1.0 : 0.0));
    }
    assert_true(seen[2] && seen[3] && seen[4]);
    rl_replay_free(rb);
}

static rl_agent *small_agent(rl_algo algo, const char *env_id, uint64_t seed,
                             const char *const *extra, int n_extra)
{
    rl_hparams hp;
    char err[1280];
    assert_int_equal(rl_hp_defaults(algo, env_id, &hp), CL_OK);
    assert_int_equal(rl_hp_assign(&hp, "net_arch=[16,16]", err, sizeof err), CL_OK);
    assert_int_equal(rl_hp_assign(&hp, "batch_size=8", err, sizeof err), CL_OK);
    assert_int_equal(rl_hp_assign(&hp, "buffer_size=1000", err, sizeof err), CL_OK);
    for (int i = 0; i < n_extra; i++)
        assert_int_equal(rl_hp_assign(&hp, extra[i], err, sizeof err), CL_OK);
    rl_agent *ag;
    assert_int_equal(rl_agent_create(&hp, rl_env_find(env_id), seed, &ag), CL_OK);
    return ag;
}

/* train_freq / gradient_steps / learning_starts counted as SB3 does */
static void test_dqn_bookkeeping(void **state)
{
    (void)state;
    const char *extra[] = {"learning_starts=20", "train_freq=4", "gradient_steps=-1",
                           "target_update_interval=7"};
    rl_agent *ag = small_agent(RL_ALGO_DQN, "CartPole-v1", 5, extra, 4);
    rl_env *env;
    assert_int_equal(rl_env_create("CartPole-v1", &env), CL_OK);
    rl_rng er;
    rl_rng_seed(&er, 9);
    rl_step_info info;
    assert_int_equal(rl_agent_step(ag, env, &er, &info), CL_ERR_STATE); /* not begun */
    assert_int_equal(rl_agent_begin(ag, env, &er, 100), CL_OK);
    int64_t episodes = 0, len_sum = 0;
    for (int s = 1; s <= 100; s++) {
        assert_int_equal(rl_agent_step(ag, env, &er, &info), CL_OK);
        assert_int_equal(info.step, s);
        /* phases at 4, 8, ...; training only once past learning_starts */
        int64_t want = s < 24 ? 0 : (s / 4 - 5) * 4;
        assert_int_equal(info.gradient_steps, want);
        if (info.episode_done) {
            episodes++;
            len_sum += info.episode_length;
            assert_int_equal(info.episode, episodes);
            assert_true(info.episode_return == (double)info.episode_length); /* +1 per step */
        }
    }
    assert_true(episodes >= 1 && len_sum <= 100);
    rl_env_free(env);
    rl_agent_free(ag);
}

/* learning_rate_decay: parsed within [0, 1], said in the text only when not
 * 0, and each training phase runs at learning_rate x (1 - d x steps/total),
 * the three TD3 optimizers alike; d = 0 leaves the rate as it was. */
static void test_learning_rate_decay(void **state)
{
    (void)state;
    rl_hparams hp;
    char err[1280], buf[2048];
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "CartPole-v1", &hp), CL_OK);
    assert_true(hp.learning_rate_decay == 0.0);
    rl_hp_format(&hp, buf, sizeof buf);
    assert_null(strstr(buf, "learning_rate_decay"));
    const char *bad[] = {"learning_rate_decay=1.5", "learning_rate_decay=-0.1", "learning_rate_decay=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rl_hp_assign(&hp, bad[i], err, sizeof err), CL_ERR_PARSE);
    assert_int_equal(rl_hp_assign(&hp, "learning_rate_decay=0.5", err, sizeof err), CL_OK);
    rl_hp_format(&hp, buf, sizeof buf);
    assert_non_null(strstr(buf, "learning_rate_decay=0.5"));

    for (int algo = 0; algo < 2; algo++) {
        for (int d = 0; d < 2; d++) {
            const char *extra[] = {"learning_starts=20", "train_freq=4", "gradient_steps=1",
                                   d ? "learning_rate_decay=1" : "learning_rate_decay=0",
                                   "learning_rate=0.01"};
            rl_agent *ag = algo ? small_agent(RL_ALGO_TD3, "Pendulum-v1", 3, extra, 5)
                                : small_agent(RL_ALGO_DQN, "CartPole-v1", 3, extra, 5);
            const char *id = algo ? "Pendulum-v1" : "CartPole-v1";
            rl_env *env;
            assert_int_equal(rl_env_create(id, &env), CL_OK);
            rl_rng er;
            rl_rng_seed(&er, 4);
            assert_int_equal(rl_agent_begin(ag, env, &er, 64), CL_OK);
            rl_step_info info;
            for (int s = 1; s <= 60; s++) {
                assert_int_equal(rl_agent_step(ag, env, &er, &info), CL_OK);
                if (s > 20 && s % 4 == 0) { /* a phase ran at this step */
                    double want = d ? 0.01 * (1.0 - (double)s / 64.0) : 0.01;
                    nn_adam *o = algo ? ag->critic_opt[1] : ag->q_opt;
                    assert_true(fabs(o->lr - want) < 1e-15);
                    if (algo) {
                        assert_true(ag->actor_opt->lr == o->lr);
                        assert_true(ag->critic_opt[0]->lr == o->lr);
                    }
                }
            }
            rl_env_free(env);
            rl_agent_free(ag);
        }
    }
}

/* TD3 runs, its gradient steps are counted, its actions stay in bounds */
static void test_td3_smoke(void **state)
{
    (void)state;
    const char *extra[] = {"learning_starts=50", "noise_type=ornstein-uhlenbeck"};
    rl_agent *ag = small_agent(RL_ALGO_TD3, "MountainCarContinuous-v0", 3, extra, 2);
    rl_env *env;
    assert_int_equal(rl_env_create("MountainCarContinuous-v0", &env), CL_OK);
    rl_rng er;
    rl_rng_seed(&er, 2);
    assert_int_equal(rl_agent_begin(ag, env, &er, 300), CL_OK);
    rl_step_info info;
    for (int s = 0; s < 300; s++)
        assert_int_equal(rl_agent_step(ag, env, &er, &info), CL_OK);
    assert_int_equal(info.gradient_steps, 250);
    rl_policy *pol = rl_agent_policy(ag);
    double obs[2] = {-0.5, 0.01}, act[1];
    assert_int_equal(rl_policy_act(pol, obs, act), CL_OK);
    assert_true(act[0] >= -1.0 && act[0] <= 1.0 && isfinite(act[0]));
    double ret[2];
    assert_int_equal(rl_policy_evaluate(pol, env, &er, 2, ret), CL_OK);
    assert_true(isfinite(ret[0]) && isfinite(ret[1]));
    rl_env_free(env);
    rl_agent_free(ag);
}

/* The HE-friendly pieces in plain mode: parsed, refused where they do not
 * apply or make no sense, built into the networks (the policy's own network
 * carries them), trained, saved and loaded back acting bit for bit alike. */
static void test_poly_pieces(void **state)
{
    (void)state;
    char err[1280];
    rl_hparams hp;
    assert_int_equal(rl_hp_defaults(RL_ALGO_TD3, "Pendulum-v1", &hp), CL_OK);
    assert_int_equal(hp.actor_activation_fn, NN_ACT_RELU);
    assert_int_equal(hp.critic_activation_fn, NN_ACT_RELU);
    assert_int_equal(hp.actor_output, NN_ACT_TANH);
    const char *good[] = {"actor_activation_fn=poly2", "critic_activation_fn=poly2",
                          "actor_output=squash5", "squash_bound=1.5", "activation_bound=0.5"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(rl_hp_assign(&hp, good[i], err, sizeof err), CL_OK);
    assert_int_equal(hp.actor_activation_fn, NN_ACT_POLY2);
    assert_int_equal(hp.critic_activation_fn, NN_ACT_POLY2);
    assert_int_equal(hp.actor_output, NN_ACT_SQUASH5);
    assert_true(hp.squash_bound == 1.5 && hp.activation_bound == 0.5);
    const char *bad[] = {"actor_output=sigmoid", "actor_output=", "actor_activation_fn=tanh",
                         "critic_activation_fn=POLY2", "squash_bound=0", "activation_bound=-1",
                         "activation_bound=inf"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rl_hparams keep = hp;
        err[0] = 0;
        assert_int_equal(rl_hp_assign(&hp, bad[i], err, sizeof err), CL_ERR_PARSE);
        assert_true(strlen(err) > 0);
        assert_memory_equal(&keep, &hp, sizeof hp);
    }
    assert_int_equal(rl_hp_assign(&hp, "activation_fn=poly2", err, sizeof err), CL_ERR_INVALID);
    assert_non_null(strstr(err, "does not apply to td3"));
    rl_hparams broken = hp;
    broken.actor_output = NN_ACT_RELU;
    assert_int_equal(rl_hp_check(&broken, err, sizeof err), CL_ERR_INVALID);
    broken = hp;
    broken.critic_activation_fn = NN_ACT_SQUASH3;
    assert_int_equal(rl_hp_check(&broken, err, sizeof err), CL_ERR_INVALID);
    char buf[2048];
    rl_hp_format(&hp, buf, sizeof buf);
    assert_non_null(strstr(buf, "actor_activation_fn=poly2 critic_activation_fn=poly2 "
                                "activation_bound=0.5 actor_output=squash5 squash_bound=1.5"));
    rl_hparams dq;
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "CartPole-v1", &dq), CL_OK);
    assert_int_equal(rl_hp_assign(&dq, "activation_fn=poly2", err, sizeof err), CL_OK);
    assert_int_equal(dq.activation_fn, NN_ACT_POLY2);
    assert_int_equal(rl_hp_assign(&dq, "actor_output=squash3", err, sizeof err), CL_ERR_INVALID);

    char dir[] = "/tmp/cipherl_poly_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/p.model", dir);
    const struct {
        rl_algo algo;
        const char *env;
        const char *extra[5];
        int n;
        nn_act hidden, out;
    } cases[] = {
        {RL_ALGO_TD3, "Pendulum-v1",
         {"learning_starts=50", "actor_activation_fn=poly2", "critic_activation_fn=poly2",
          "actor_output=squash3", "activation_bound=0.5"},
         5, NN_ACT_POLY2, NN_ACT_SQUASH3},
        {RL_ALGO_TD3, "Pendulum-v1", {"learning_starts=50", "critic_activation_fn=poly2"}, 2,
         NN_ACT_RELU, NN_ACT_TANH},
        {RL_ALGO_DQN, "CartPole-v1", {"learning_starts=50", "activation_fn=poly2", "activation_bound=4"},
         3, NN_ACT_POLY2, NN_ACT_IDENTITY},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        rl_agent *ag = small_agent(cases[c].algo, cases[c].env, 7, cases[c].extra, cases[c].n);
        rl_env *env;
        assert_int_equal(rl_env_create(cases[c].env, &env), CL_OK);
        rl_rng er;
        rl_rng_seed(&er, 3);
        assert_int_equal(rl_agent_begin(ag, env, &er, 400), CL_OK);
        rl_step_info info;
        for (int s = 0; s < 400; s++)
            assert_int_equal(rl_agent_step(ag, env, &er, &info), CL_OK);
        assert_true(info.gradient_steps > 0);
        rl_policy *pol = rl_agent_policy(ag);
        const nn_mlp *net = rl_policy_network(pol);
        assert_non_null(net);
        assert_int_equal(net->hidden_act, cases[c].hidden);
        assert_int_equal(net->out_act, cases[c].out);
        if (cases[c].hidden == NN_ACT_POLY2)
            assert_true(net->act_bound == (c == 0 ? 0.5 : 4.0));
        if (cases[c].out == NN_ACT_SQUASH3)
            assert_true(net->squash_bound == 2.0);
        assert_int_equal(rl_agent_save(ag, path), CL_OK);
        rl_policy *back;
        assert_int_equal(rl_policy_load(path, &back), CL_OK);
        const int od = rl_env_find(cases[c].env)->obs_dim;
        for (int k = 0; k < 20; k++) {
            double obs[4], a1[1], a2[1];
            for (int i = 0; i < od; i++)
                obs[i] = 2.0 * rl_rng_uniform(&er) - 1.0;
            assert_int_equal(rl_policy_act(pol, obs, a1), CL_OK);
            assert_int_equal(rl_policy_act(back, obs, a2), CL_OK);
            assert_true(isfinite(a1[0]) && a1[0] == a2[0]);
        }
        rl_policy_free(back);
        rl_env_free(env);
        rl_agent_free(ag);
    }
    remove(path);
    rmdir(dir);
}

static void test_model_round_trip_and_corruption(void **state)
{
    (void)state;
    const char *envs[2] = {"Acrobot-v1", "Pendulum-v1"};
    rl_algo algos[2] = {RL_ALGO_DQN, RL_ALGO_TD3};
    for (int e = 0; e < 2; e++) {
        rl_agent *ag = small_agent(algos[e], envs[e], 17, NULL, 0);
        uint8_t *buf;
        size_t len;
        assert_int_equal(rl_agent_serialize(ag, &buf, &len), CL_OK);
        rl_policy *pol;
        assert_int_equal(rl_policy_deserialize(buf, len, &pol), CL_OK);
        assert_string_equal(rl_policy_env_id(pol), envs[e]);
        assert_int_equal(rl_policy_algo(pol), algos[e]);
        rl_rng rng;
        rl_rng_seed(&rng, 4);
        for (int t = 0; t < 20; t++) {
            double obs[RL_MAX_OBS], a1[RL_MAX_ACT], a2[RL_MAX_ACT];
            for (int i = 0; i < 6; i++)
                obs[i] = rl_rng_range(&rng, -1, 1);
            assert_int_equal(rl_policy_act(rl_agent_policy(ag), obs, a1), CL_OK);
            assert_int_equal(rl_policy_act(pol, obs, a2), CL_OK);
            assert_true(a1[0] == a2[0]);
        }
        rl_policy_free(pol);
        /* every truncation */
        for (size_t n = 0; n < len; n++) {
            pol = (rl_policy *)1;
            cl_status st = rl_policy_deserialize(buf, n, &pol);
            assert_true(st == CL_ERR_TRUNCATED || st == CL_ERR_FORMAT);
            assert_null(pol);
        }
        /* every corrupted byte (one bit flipped) */
        for (size_t i = 0; i < len; i++) {
            uint8_t keep = buf[i];
            buf[i] ^= (uint8_t)(1u << (i % 8));
            pol = (rl_policy *)1;
            assert_int_not_equal(rl_policy_deserialize(buf, len, &pol), CL_OK);
            assert_null(pol);
            buf[i] = keep;
        }
        /* trailing garbage, another version */
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, buf, len);
        longer[len] = 0;
        assert_int_equal(rl_policy_deserialize(longer, len + 1, &pol), CL_ERR_FORMAT);
        free(longer);
        assert_int_equal(buf[8], RL_MODEL_VERSION);
        buf[8] = RL_MODEL_VERSION + 1;
        assert_int_equal(rl_policy_deserialize(buf, len, &pol), CL_ERR_VERSION);
        buf[8] = 0;
        assert_int_equal(rl_policy_deserialize(buf, len, &pol), CL_ERR_VERSION);
        buf[8] = RL_MODEL_VERSION;
        buf[0] = 'X';
        assert_int_equal(rl_policy_deserialize(buf, len, &pol), CL_ERR_FORMAT);
        buf[0] = 'C';

        /* through a file */
        char path[] = "/tmp/cipherl_test_model_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(rl_agent_save(ag, path), CL_OK);
        assert_int_equal(rl_policy_load(path, &pol), CL_OK);
        rl_policy_free(pol);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len / 2, f), len / 2);
        fclose(f);
        assert_int_equal(rl_policy_load(path, &pol), CL_ERR_TRUNCATED);
        remove(path);
        assert_int_equal(rl_policy_load(path, &pol), CL_ERR_IO);
        free(buf);
        rl_agent_free(ag);
    }
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A version 3 model file rewritten as older builds wrote it: model version 1
 * (network block version 1: no magic, version nor bounds) or 2 (network block
 * version 2: no squash bound); *len is updated. */
static uint8_t *as_version(int version, const uint8_t *buf, size_t *len)
{
    size_t id_len = buf[16], net_pos = 20 + id_len + 32 + 8;
    size_t net_len = (size_t)rd64(buf + net_pos - 8);
    const size_t cut = version == 1 ? 24 : 8, n1 = *len - cut;
    uint8_t *old = malloc(n1);
    memcpy(old, buf, net_pos);
    old[8] = (uint8_t)version;
    wr64(old + net_pos - 8, net_len - cut);
    if (version == 1) {
        memcpy(old + net_pos, buf + net_pos + 8, 12);                   /* layers, acts */
    } else {
        memcpy(old + net_pos, buf + net_pos, 28);                       /* up to act_bound */
        old[net_pos + 4] = 2;
    }
    memcpy(old + net_pos + 36 - cut, buf + net_pos + 36, net_len - 36); /* sizes, params */
    wr64(old + n1 - 8, fnv1a64(old, n1 - 8));
    *len = n1;
    return old;
}

/* Model files of older builds (versions 1 and 2) still load, and act the
 * same; a file whose network block does not go with its version is refused. */
static void test_model_version1(void **state)
{
    (void)state;
    const char *envs[2] = {"CartPole-v1", "Pendulum-v1"};
    rl_algo algos[2] = {RL_ALGO_DQN, RL_ALGO_TD3};
    for (int e = 0; e < 2; e++) {
        rl_agent *ag = small_agent(algos[e], envs[e], 23, NULL, 0);
        uint8_t *buf;
        size_t len, len1, len2;
        assert_int_equal(rl_agent_serialize(ag, &buf, &len), CL_OK);
        assert_int_equal(buf[8], 3);
        len1 = len2 = len;
        uint8_t *old = as_version(1, buf, &len1), *old2 = as_version(2, buf, &len2);
        rl_policy *pol, *pol2;
        assert_int_equal(rl_policy_deserialize(old, len1, &pol), CL_OK);
        assert_int_equal(rl_policy_deserialize(old2, len2, &pol2), CL_OK);
        rl_rng rng;
        rl_rng_seed(&rng, 5);
        for (int t = 0; t < 20; t++) {
            double obs[RL_MAX_OBS], a1[RL_MAX_ACT], a2[RL_MAX_ACT], a3[RL_MAX_ACT];
            for (int i = 0; i < RL_MAX_OBS; i++)
                obs[i] = rl_rng_range(&rng, -1, 1);
            assert_int_equal(rl_policy_act(rl_agent_policy(ag), obs, a1), CL_OK);
            assert_int_equal(rl_policy_act(pol, obs, a2), CL_OK);
            assert_int_equal(rl_policy_act(pol2, obs, a3), CL_OK);
            assert_true(a1[0] == a2[0] && a1[0] == a3[0]);
        }
        rl_policy_free(pol);
        rl_policy_free(pol2);
        for (size_t n = 0; n < len1; n++) {
            cl_status st = rl_policy_deserialize(old, n, &pol);
            assert_true(st == CL_ERR_TRUNCATED || st == CL_ERR_FORMAT);
        }
        for (size_t n = 0; n < len2; n++) {
            cl_status st = rl_policy_deserialize(old2, n, &pol);
            assert_true(st == CL_ERR_TRUNCATED || st == CL_ERR_FORMAT);
        }
        /* a header whose version does not go with its network block's: 2 and 3 around a
         * version 1 block, 1 and 3 around a version 2 block, 1 and 2 around a version 3 block */
        uint8_t *files[3] = {old, old2, buf};
        const size_t lens[3] = {len1, len2, len};
        for (int f = 0; f < 3; f++)
            for (int v = 1; v <= 3; v++) {
                if (v == f + 1)
                    continue;
                files[f][8] = (uint8_t)v;
                wr64(files[f] + lens[f] - 8, fnv1a64(files[f], lens[f] - 8));
                pol = (rl_policy *)1;
                assert_int_equal(rl_policy_deserialize(files[f], lens[f], &pol), CL_ERR_FORMAT);
                assert_null(pol);
            }
        free(old);
        free(old2);
        free(buf);
        rl_agent_free(ag);
    }
}

static double uniform_cb(void *ctx) { return rl_rng_uniform(ctx); }

static nn_mlp *poly2_net(int n_in, int n_out, nn_act out_act, double bound, uint64_t seed)
{
    const int w[2] = {16, 16};
    nn_mlp *net;
    assert_int_equal(nn_mlp_create(n_in, w, 2, n_out, NN_ACT_POLY2, out_act, &net), CL_OK);
    rl_rng rng;
    rl_rng_seed(&rng, seed);
    nn_mlp_init_default(net, uniform_cb, &rng);
    if (bound > 0)
        assert_int_equal(nn_mlp_set_act_bound(net, bound), CL_OK);
    return net;
}

/* A network trained elsewhere (HE-DQN's decrypted Q-network: hidden
 * NN_ACT_POLY2) becomes a model file that loads and acts identically. */
static void test_policy_from_mlp(void **state)
{
    (void)state;
    char path[] = "/tmp/cipherl_test_poly2_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char tmp[sizeof path + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    const char *envs[2] = {"CartPole-v1", "Pendulum-v1"};
    rl_algo algos[2] = {RL_ALGO_DQN, RL_ALGO_TD3};
    for (int e = 0; e < 2; e++) {
        const rl_env_spec *spec = rl_env_find(envs[e]);
        int n_out = algos[e] == RL_ALGO_DQN ? spec->n_actions : spec->action_dim;
        nn_act oact = algos[e] == RL_ALGO_DQN ? NN_ACT_IDENTITY : NN_ACT_TANH;
        nn_mlp *net = poly2_net(spec->obs_dim, n_out, oact, 4.0, 31 + (uint64_t)e);
        /* a twin to compute the expected actions with */
        nn_mlp *twin = poly2_net(spec->obs_dim, n_out, oact, 4.0, 31 + (uint64_t)e);
        nn_mlp_ws *ws;
        assert_int_equal(nn_mlp_ws_create(twin, 1, &ws), CL_OK);
        rl_policy *pol, *back;
        assert_int_equal(rl_policy_from_mlp(algos[e], envs[e], net, &pol), CL_OK); /* owns net */
        assert_string_equal(rl_policy_env_id(pol), envs[e]);
        assert_int_equal(rl_policy_algo(pol), algos[e]);
        assert_int_equal(rl_policy_save(pol, path), CL_OK);
        assert_int_equal(access(tmp, F_OK), -1); /* renamed away */
        assert_int_equal(rl_policy_load(path, &back), CL_OK);
        assert_string_equal(rl_policy_env_id(back), envs[e]);
        assert_int_equal(rl_policy_algo(back), algos[e]);
        rl_rng rng;
        rl_rng_seed(&rng, 8);
        int counts[2] = {0, 0};
        for (int t = 0; t < 200; t++) {
            double obs[RL_MAX_OBS], a1[RL_MAX_ACT], a2[RL_MAX_ACT];
            for (int i = 0; i < spec->obs_dim; i++)
                obs[i] = rl_rng_range(&rng, -3, 3);
            assert_int_equal(rl_policy_act(pol, obs, a1), CL_OK);
            assert_int_equal(rl_policy_act(back, obs, a2), CL_OK);
            const double *y = nn_mlp_forward(twin, ws, obs, 1);
            assert_non_null(y);
            if (algos[e] == RL_ALGO_DQN) {
                assert_true(a1[0] == a2[0]);
                int best = y[1] > y[0] ? 1 : 0;
                assert_true(a1[0] == (double)best);
                counts[best]++;
            } else {
                assert_memory_equal(a1, a2, (size_t)spec->action_dim * sizeof(double));
                double want = spec->action_low +
                              0.5 * (y[0] + 1.0) * (spec->action_high - spec->action_low);
                assert_true(a1[0] == want);
            }
        }
        if (algos[e] == RL_ALGO_DQN)
            assert_true(counts[0] > 0 && counts[1] > 0); /* both actions taken */
        /* whole episodes: the same returns */
        rl_env *env;
        assert_int_equal(rl_env_create(envs[e], &env), CL_OK);
        double r1[3], r2[3];
        rl_rng_seed(&rng, 77);
        assert_int_equal(rl_policy_evaluate(pol, env, &rng, 3, r1), CL_OK);
        rl_rng_seed(&rng, 77);
        assert_int_equal(rl_policy_evaluate(back, env, &rng, 3, r2), CL_OK);
        assert_memory_equal(r1, r2, sizeof r1);
        rl_env_free(env);
        /* the file re-serializes byte for byte */
        uint8_t *b1 = NULL;
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long flen = ftell(f);
        fseek(f, 0, SEEK_SET);
        b1 = malloc((size_t)flen);
        assert_int_equal(fread(b1, 1, (size_t)flen, f), (size_t)flen);
        fclose(f);
        assert_int_equal(b1[8], RL_MODEL_VERSION);
        assert_int_equal(rl_policy_save(back, path), CL_OK);
        f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t *b2 = malloc((size_t)flen + 1);
        assert_int_equal(fread(b2, 1, (size_t)flen + 1, f), (size_t)flen);
        fclose(f);
        assert_memory_equal(b1, b2, (size_t)flen);
        free(b1);
        free(b2);
        rl_policy_free(back);
        rl_policy_free(pol);
        nn_mlp_ws_free(ws);
        nn_mlp_free(twin);
    }

    /* networks that do not fit are refused, and stay the caller's */
    rl_policy *pol = (rl_policy *)1;
    nn_mlp *net = poly2_net(5, 2, NN_ACT_IDENTITY, 4.0, 1); /* CartPole has 4 inputs */
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "CartPole-v1", net, &pol), CL_ERR_PARAMS);
    assert_null(pol);
    nn_mlp_free(net);
    net = poly2_net(4, 3, NN_ACT_IDENTITY, 4.0, 1); /* 2 actions */
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "CartPole-v1", net, &pol), CL_ERR_PARAMS);
    nn_mlp_free(net);
    net = poly2_net(4, 2, NN_ACT_TANH, 4.0, 1); /* Q-values are not squashed */
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "CartPole-v1", net, &pol), CL_ERR_PARAMS);
    nn_mlp_free(net);
    net = poly2_net(4, 2, NN_ACT_IDENTITY, 0.0, 1); /* no bound */
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "CartPole-v1", net, &pol), CL_ERR_PARAMS);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_TD3, "CartPole-v1", net, &pol), CL_ERR_UNSUPPORTED);
    assert_int_equal(nn_mlp_set_act_bound(net, 4.0), CL_OK);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "NoSuchEnv-v0", net, &pol), CL_ERR_INVALID);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, NULL, net, &pol), CL_ERR_INVALID);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "CartPole-v1", NULL, &pol), CL_ERR_INVALID);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "CartPole-v1", net, NULL), CL_ERR_INVALID);
    net->params[3] = NAN;
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "CartPole-v1", net, &pol), CL_ERR_INVALID);
    net->params[3] = 0.0;
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "CartPole-v1", net, &pol), CL_OK);
    assert_int_equal(rl_policy_save(pol, NULL), CL_ERR_INVALID);
    assert_int_equal(rl_policy_save(NULL, path), CL_ERR_INVALID);
    assert_int_equal(rl_policy_save(pol, "/nonexistent-dir/cipherl/model"), CL_ERR_IO);
    rl_policy_free(pol);
    const int w1[1] = {8};
    assert_int_equal(nn_mlp_create(3, w1, 1, 1, NN_ACT_TANH, NN_ACT_TANH, &net), CL_OK);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_TD3, "Pendulum-v1", net, &pol), CL_ERR_PARAMS);
    nn_mlp_free(net);
    /* a ReLU network as the plaintext agents make is accepted too */
    assert_int_equal(nn_mlp_create(3, w1, 1, 1, NN_ACT_RELU, NN_ACT_TANH, &net), CL_OK);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_TD3, "Pendulum-v1", net, &pol), CL_OK);
    rl_policy_free(pol);
    /* HE-TD3's squashed actor: needs its squash bound, and is no Q-network */
    net = poly2_net(3, 1, NN_ACT_SQUASH3, 4.0, 2);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_TD3, "Pendulum-v1", net, &pol), CL_ERR_PARAMS);
    assert_int_equal(nn_mlp_set_squash_bound(net, 2.0), CL_OK);
    nn_mlp *q = poly2_net(4, 2, NN_ACT_SQUASH5, 4.0, 2);
    assert_int_equal(nn_mlp_set_squash_bound(q, 2.0), CL_OK);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_DQN, "CartPole-v1", q, &pol), CL_ERR_PARAMS);
    nn_mlp_free(q);
    assert_int_equal(rl_policy_from_mlp(RL_ALGO_TD3, "Pendulum-v1", net, &pol), CL_OK);
    /* actions stay in the bounds where the squash leaves [-1, 1] */
    net->params[net->b_off[2]] = 1e3;
    double obs3[3] = {0.1, 0.2, 0.3}, act1;
    assert_int_equal(rl_policy_act(pol, obs3, &act1), CL_OK);
    assert_true(act1 == -2.0 || act1 == 2.0);
    rl_policy_free(pol);
    remove(path);
}

/* DQN on CartPole-v1 with SB3's default network size and the RL Zoo's other
 * settings: 25k steps must give a deterministic policy far above a random
 * one (about 22). */
static void test_dqn_learns_cartpole(void **state)
{
    (void)state;
    rl_hparams hp;
    char err[1280];
    assert_int_equal(rl_hp_defaults(RL_ALGO_DQN, "CartPole-v1", &hp), CL_OK);
    assert_int_equal(rl_hp_assign(&hp, "net_arch=[64,64]", err, sizeof err), CL_OK);
    rl_agent *ag;
    assert_int_equal(rl_agent_create(&hp, rl_env_find("CartPole-v1"), 7 ^ 0x5bd1e9955bd1e995ULL,
                                     &ag), CL_OK);
    rl_env *env;
    assert_int_equal(rl_env_create("CartPole-v1", &env), CL_OK);
    rl_rng er;
    rl_rng_seed(&er, 7);
    const int64_t steps = 25000;
    assert_int_equal(rl_agent_begin(ag, env, &er, steps), CL_OK);
    rl_step_info info;
    for (int64_t s = 0; s < steps; s++)
        assert_int_equal(rl_agent_step(ag, env, &er, &info), CL_OK);
    double ret[20], mean = 0;
    rl_rng_seed(&er, 12345);
    assert_int_equal(rl_policy_evaluate(rl_agent_policy(ag), env, &er, 20, ret), CL_OK);
    for (int i = 0; i < 20; i++)
        mean += ret[i] / 20;
    print_message("DQN CartPole-v1, 25k steps, net [64,64]: mean eval return %.1f\n", mean);
    assert_true(mean >= 100.0);
    rl_env_free(env);
    rl_agent_free(ag);
}


/* ------------------------------------------------------------- the CLI */

static int run_cli(const char *args, const char *out_path)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s' 2>&1", CIPHERL_CLI, args, out_path);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    return text;
}

static void test_cli_train_eval(void **state)
{
    (void)state;
    char dir[] = "/tmp/cipherl_cli_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[256], model[256], log[256], args[1024];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(model, sizeof model, "%s/m.model", dir);
    snprintf(log, sizeof log, "%s/log.csv", dir);

    snprintf(args, sizeof args,
             "train --mode plain --env CartPole-v1 --seed 3 --steps 3000 --log '%s' --out '%s' "
             "--hp net_arch=[16] --hp learning_starts=500",
             log, model);
    assert_int_equal(run_cli(args, out), 0);
    assert_non_null(strstr(slurp(out), "env steps/s"));
    /* the hyperparameter line says what ran: --steps, not the set's 50000 */
    assert_non_null(strstr(slurp(out), "n_timesteps=3000 "));
    const char *csv = slurp(log);
    assert_true(!strncmp(csv, "step,episode,return,length\n", 27));
    assert_non_null(strchr(csv + 27, ','));

    snprintf(args, sizeof args, "eval --model '%s' --env CartPole-v1 --episodes 3 --json", model);
    assert_int_equal(run_cli(args, out), 0);
    const char *js = slurp(out);
    assert_non_null(strstr(js, "\"env\": \"CartPole-v1\""));
    assert_non_null(strstr(js, "\"episodes\": 3"));
    assert_non_null(strstr(js, "\"mean_return\""));
    assert_non_null(strstr(js, "\"std_return\""));
    snprintf(args, sizeof args, "eval --model '%s' --env CartPole-v1 --episodes 2", model);
    assert_int_equal(run_cli(args, out), 0);
    assert_non_null(strstr(slurp(out), "±"));

    /* refusals */
    snprintf(args, sizeof args, "eval --model '%s' --env Acrobot-v1", model);
    assert_int_equal(run_cli(args, out), 1);
    assert_non_null(strstr(slurp(out), "trained on CartPole-v1"));
    FILE *f = fopen(model, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    snprintf(args, sizeof args, "eval --model '%s' --env CartPole-v1", model);
    assert_int_equal(run_cli(args, out), 1);
    assert_non_null(strstr(slurp(out), "cipherl: eval:"));
    assert_int_equal(run_cli("train --mode bootstrap --env CartPole-v1", out), 2);
    assert_non_null(strstr(slurp(out), "mode bootstrap is not available yet"));
    assert_int_equal(run_cli("train --env CartPole-v1 --hp nope=1", out), 2);
    assert_non_null(strstr(slurp(out), "unknown hyperparameter 'nope'"));
    assert_int_equal(run_cli("train --env CartPole-v1 --hp batch_size=-3", out), 2);
    assert_int_equal(run_cli("train --env CartPole-v1 --algo td3", out), 2);
    assert_int_equal(run_cli("train --env Nope-v0", out), 2);
    assert_int_equal(run_cli("train --env CartPole-v1 --steps 0", out), 2);
    assert_int_equal(run_cli("eval --env CartPole-v1", out), 2);

    /* bench plain: the timed steps hold exactly SB3's gradient steps (here
     * 4 every 16 steps once past learning_starts: 1/4 per step) */
    assert_int_equal(run_cli("bench plain --env CartPole-v1 --steps 64 --reps 2 --json --hp net_arch=[16] "
                             "--hp learning_starts=64 --hp train_freq=16 --hp gradient_steps=4",
                             out),
                     0);
    js = slurp(out);
    const char *keys[] = {"\"env\": \"CartPole-v1\"", "\"algo\": \"dqn\"", "\"threads\": 1",
                          "\"steps\": 64", "\"reps\": 2", "\"env_steps_per_s\": ",
                          "\"env_steps_per_s_min\": ", "\"env_steps_per_s_max\": ",
                          "\"gradient_steps_per_env_step\": 0.2500", "\"ms_per_gradient_step\": "};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        assert_non_null(strstr(js, keys[k]));
    double rate = atof(strstr(js, "\"env_steps_per_s\": ") + 19);
    assert_true(rate > 0 && isfinite(rate));
    assert_int_equal(run_cli("bench plain --env Pendulum-v1 --steps 4 --reps 1 --hp learning_starts=8 "
                             "--hp net_arch=[8]",
                             out),
                     0);
    assert_non_null(strstr(slurp(out), "td3 Pendulum-v1, 1 thread:"));
    assert_int_equal(run_cli("bench plain --env Nope-v0", out), 2);
    assert_int_equal(run_cli("bench plain", out), 2);
    assert_int_equal(run_cli("bench plain --env CartPole-v1 --algo td3", out), 2);
    assert_int_equal(run_cli("bench plain --env CartPole-v1 --steps 0", out), 2);
    assert_int_equal(run_cli("bench plain --env CartPole-v1 --reps", out), 2);
    assert_int_equal(run_cli("bench plain --env CartPole-v1 --hp gamma=2", out), 2);

    remove(out);
    remove(model);
    remove(log);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hp_defaults),
        cmocka_unit_test(test_hp_parse),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_dqn_bookkeeping),
        cmocka_unit_test(test_learning_rate_decay),
        cmocka_unit_test(test_td3_smoke),
        cmocka_unit_test(test_poly_pieces),
        cmocka_unit_test(test_model_round_trip_and_corruption),
        cmocka_unit_test(test_model_version1),
        cmocka_unit_test(test_policy_from_mlp),
        cmocka_unit_test(test_dqn_learns_cartpole),
        cmocka_unit_test(test_cli_train_eval),
    };
    return cmocka_run_group_tests_name("agents", tests, NULL, NULL);
}
