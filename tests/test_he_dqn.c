/* HE-DQN on the slot machine: one training step's gradients against a plain
 * double reference of the same polynomial network, the CKKS run following its
 * clear twin (same actions, weights within a bound), and learning CartPole in
 * clear.
 *
 * Knobs for experiments (the defaults are what the test asserts):
 * RL_HE_DQN_TEST=<test name> runs one test; RL_HE_DQN_CLEAR_ONLY=1 stops the
 * fidelity test after its clear run; RL_HE_DQN_STEPS, RL_HE_DQN_H, RL_HE_DQN_B,
 * RL_HE_DQN_LS, RL_HE_DQN_LEVELS override the learning test's steps, width, batch,
 * learning_starts and level budget. Run CKKS tests with OMP_NUM_THREADS=1 on a shared 2-core
 * machine: spinning OpenMP threads slow them tenfold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/ckks.h"
#include "cipherl/rl.h"
#include "nn/nn_he.h"
#include "rl/he_common.h"
#include "rl/he_dqn.h"

enum { H = 8, NB = 4, OBS = 4, NA = 2 };

static rl_he_dqn_hparams small_hparams(void)
{
    rl_he_dqn_hparams hp;
    rl_he_dqn_hparams_default(&hp);
    hp.net_arch = H;
    hp.batch_size = NB;
    return hp;
}

/* ------------------------------------------------ plain reference network */

typedef struct plain_net {
    size_t in[3], out[3];
    double W[3][H * H], b[3][H];
} plain_net;

static void plain_forward(const plain_net *n, const nn_poly *act, const double *s, double z[2][H], double h[3][H],
                          double *q)
{
    memcpy(h[0], s, OBS * sizeof *s);
    for (int l = 0; l < 3; l++) {
        double *o = l == 2 ? q : z[l];
        for (size_t r = 0; r < n->out[l]; r++) {
            double v = n->b[l][r];
            for (size_t c = 0; c < n->in[l]; c++)
                v += n->W[l][r * n->in[l] + c] * h[l][c];
            o[r] = v;
        }
        if (l < 2)
            for (size_t r = 0; r < n->out[l]; r++)
                h[l + 1][r] = nn_poly_eval(act, z[l][r]);
    }
}

typedef struct batch {
    double s[NB][OBS], s2[NB][OBS], r[NB];
    int a[NB];
    bool term[NB];
} batch;

/* Loss (1/B) sum_b (Q(s_b, a_b) - y_b)^2 with y from the target net (fixed), and its gradient. */
static double plain_loss_grad(const plain_net *n, const plain_net *tgt, const nn_poly *act, const nn_abs_approx *mx,
                              double gamma, const batch *bt, plain_net *grad)
{
    const nn_poly dact = nn_poly_derivative(act);
    double loss = 0;
    if (grad) {
        memset(grad, 0, sizeof *grad);
        memcpy(grad->in, n->in, sizeof grad->in);
        memcpy(grad->out, n->out, sizeof grad->out);
    }
    for (int b = 0; b < NB; b++) {
        double z[2][H], h[3][H], q[NA], zt[2][H], ht[3][H], qt[NA];
        plain_forward(tgt, act, bt->s2[b], zt, ht, qt);
        const double y = bt->r[b] + gamma * (bt->term[b] ? 0.0 : 1.0) * nn_max2(mx, qt[0], qt[1]);
        plain_forward(n, act, bt->s[b], z, h, q);
        const double e = q[bt->a[b]] - y;
        loss += e * e / NB;
        if (!grad)
            continue;
        double dy[H] = {0};
        dy[bt->a[b]] = 2.0 * e / NB;
        for (int l = 2; l >= 0; l--) {
            double dx[H] = {0};
            for (size_t r = 0; r < n->out[l]; r++) {
                grad->b[l][r] += dy[r];
                for (size_t c = 0; c < n->in[l]; c++) {
                    grad->W[l][r * n->in[l] + c] += dy[r] * h[l][c];
                    dx[c] += n->W[l][r * n->in[l] + c] * dy[r];
                }
            }
            if (l > 0)
                for (size_t c = 0; c < n->in[l]; c++)
                    dy[c] = dx[c] * nn_poly_eval(&dact, z[l - 1][c]);
        }
    }
    return loss;
}

static void read_net(rl_he_dqn *ag, plain_net *n, bool grads, bool transposed)
{
    memset(n, 0, sizeof *n);
    for (int l = 0; l < 3; l++) {
        rl_he_dqn_layer_shape(ag, l, &n->in[l], &n->out[l]);
        /* transposed sets have no gradients of their own (they are rebuilt
         * from the diagonals), and the first layer's is not kept (no gradient
         * of the input needs it): refused, and read from the diagonal set */
        bool t = transposed;
        if (transposed && (grads || l == 0)) {
            assert_int_equal(grads ? rl_he_dqn_get_grads(ag, l, true, n->W[l], n->b[l])
                                   : rl_he_dqn_get_weights(ag, l, true, n->W[l], n->b[l]),
                             CL_ERR_UNSUPPORTED);
            t = false;
        }
        if (grads)
            assert_int_equal(rl_he_dqn_get_grads(ag, l, t, n->W[l], n->b[l]), CL_OK);
        else
            assert_int_equal(rl_he_dqn_get_weights(ag, l, t, n->W[l], n->b[l]), CL_OK);
    }
}

static double net_diff(const plain_net *a, const plain_net *b)
{
    double e = 0;
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < a->in[l] * a->out[l]; i++)
            e = fmax(e, fabs(a->W[l][i] - b->W[l][i]));
        for (size_t i = 0; i < a->out[l]; i++)
            e = fmax(e, fabs(a->b[l][i] - b->b[l][i]));
    }
    return e;
}

static double net_max(const plain_net *a)
{
    plain_net z;
    memset(&z, 0, sizeof z);
    memcpy(z.in, a->in, sizeof z.in);
    memcpy(z.out, a->out, sizeof z.out);
    return net_diff(a, &z);
}

/* ------------------------------------------------ 2. gradients of one step */

static void test_gradients_match_plain(void **state)
{
    (void)state;
    rl_he_dqn_hparams hp = small_hparams();
    hp.learning_starts = NB;
    size_t d, S;
    assert_int_equal(rl_he_dqn_layout("CartPole-v1", &hp, &d, &S), CL_OK);
    assert_int_equal(d, 8);
    assert_int_equal(S, 64);
    slots_ctx *ctx;
    slots_owner *own;
    slots_clear_config cfg = {.slots = S, .levels = 6};
    assert_int_equal(slots_clear_create(&cfg, &ctx, &own), CL_OK);
    rl_he_dqn *ag;
    assert_int_equal(rl_he_dqn_create("CartPole-v1", &hp, ctx, own, 7, &ag), CL_OK);

    rl_rng rng;
    rl_rng_seed(&rng, 3);
    batch bt;
    for (int b = 0; b < NB; b++) {
        for (int j = 0; j < OBS; j++) {
            bt.s[b][j] = rl_rng_range(&rng, -1.5, 1.5);
            bt.s2[b][j] = rl_rng_range(&rng, -1.5, 1.5);
        }
        bt.a[b] = (int)rl_rng_below(&rng, NA);
        bt.r[b] = rl_rng_range(&rng, 0, 2);
        bt.term[b] = b == 2;
        assert_int_equal(rl_he_dqn_store(ag, bt.s[b], bt.a[b], bt.r[b], bt.s2[b], bt.term[b]), CL_OK);
    }
    plain_net w0, wt;
    read_net(ag, &w0, false, false);
    read_net(ag, &wt, false, true);
    assert_true(net_diff(&w0, &wt) == 0); /* both packings of one matrix */

    const size_t idx[NB] = {0, 1, 2, 3};
    assert_int_equal(rl_he_dqn_train_on(ag, idx), CL_OK);

    nn_poly act = nn_relu_quadratic(hp.activation_bound);
    act.c[0] = 0;
    nn_abs_approx mx;
    assert_int_equal(nn_abs_approx_make(hp.max_degree, hp.max_bound, &mx), CL_OK);
    plain_net want, got, got_t;
    const double loss = plain_loss_grad(&w0, &w0, &act, &mx, hp.gamma, &bt, &want);
    assert_true(loss > 0);
    read_net(ag, &got, true, false);
    read_net(ag, &got_t, true, true);
    const double scale = net_max(&want);
    assert_true(scale > 1e-3);
    assert_true(net_diff(&got, &want) < 1e-10 * (1 + scale));
    assert_true(net_diff(&got_t, &want) < 1e-10 * (1 + scale));

    /* the reference itself against central finite differences of the loss */
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < w0.in[l] * w0.out[l]; i += 3) {
            plain_net wp = w0, wm = w0;
            const double h = 1e-6;
            wp.W[l][i] += h;
            wm.W[l][i] -= h;
            const double fd = (plain_loss_grad(&wp, &w0, &act, &mx, hp.gamma, &bt, NULL) -
                               plain_loss_grad(&wm, &w0, &act, &mx, hp.gamma, &bt, NULL)) /
                              (2 * h);
            assert_true(fabs(fd - want.W[l][i]) < 1e-6 * (1 + fabs(fd)));
        }

    /* the step moved the weights, and both packings stayed equal */
    plain_net w1, w1t;
    read_net(ag, &w1, false, false);
    read_net(ag, &w1t, false, true);
    assert_true(net_diff(&w1, &w0) > 0);
    assert_true(net_diff(&w1, &w1t) < 1e-12);

    rl_he_dqn_free(ag);
    slots_owner_free(own);
    slots_ctx_free(ctx);
}

/* ------------------------------------------------ 1. CKKS follows clear */

enum { FID_STEPS = 10 };

static rl_he_dqn_hparams fidelity_hparams(void)
{
    rl_he_dqn_hparams hp = small_hparams();
    hp.n_timesteps = FID_STEPS;
    hp.learning_starts = 4;
    hp.buffer_size = 12;
    hp.train_freq = 3;
    hp.gradient_steps = 1;
    hp.target_update_interval = 8;
    hp.exploration_initial_eps = 0.25;
    hp.exploration_final_eps = 0.25;
    hp.learning_rate = 5e-3;
    return hp;
}

/* pack > 1: HE-Adam packed (adam_pack), which the clear backend runs bit for
 * bit as the unpacked optimizer, at other refresh points */
static void ckks_follows_clear(int pack)
{
    rl_he_dqn_hparams hp = fidelity_hparams();
    hp.adam_pack = pack;
    size_t S;
    assert_int_equal(rl_he_dqn_layout("CartPole-v1", &hp, NULL, &S), CL_OK);
    ckks_params *params;
    assert_int_equal(ckks_params_from_preset("test-n12", CKKS_ALLOW_INSECURE, &params), CL_OK);
    const int levels = ckks_params_max_level(params);

    /* the clear twin */
    slots_ctx *cctx;
    slots_owner *cown;
    slots_clear_config cfg = {.slots = S, .levels = levels};
    assert_int_equal(slots_clear_create(&cfg, &cctx, &cown), CL_OK);
    rl_he_dqn *cag;
    assert_int_equal(rl_he_dqn_create("CartPole-v1", &hp, cctx, cown, 11, &cag), CL_OK);
    assert_int_equal(rl_he_dqn_learn(cag, FID_STEPS, NULL, NULL), CL_OK);
    const rl_he_dqn_stats *cs = rl_he_dqn_get_stats(cag);
    assert_true(cs->train_steps >= 2);
    assert_true(cs->greedy_actions >= 2);
    int steps[64];
    const size_t nsteps = slots_rotation_steps(cctx, steps, 64);
    assert_true(nsteps > 0 && nsteps < 64);
    print_message("# clear: train %lld steps: rot %llu mul %llu mulp %llu mulc %llu refresh %llu enc %llu; act %lld: rot %llu refresh %llu; nsteps %zu\n",
                  (long long)cs->train_steps, (unsigned long long)cs->train.rotate, (unsigned long long)cs->train.mul,
                  (unsigned long long)cs->train.mul_plain, (unsigned long long)cs->train.mul_const,
                  (unsigned long long)cs->train.refresh, (unsigned long long)slots_get_counters(cctx)->encrypt,
                  (long long)cs->greedy_actions, (unsigned long long)cs->act.rotate,
                  (unsigned long long)cs->act.refresh, nsteps);

    /* the encrypted run */
    ckks_secret_key *sk;
    ckks_public_key *pk;
    ckks_eval_keys *keys;
    assert_int_equal(ckks_secret_key_create(params, &sk), CL_OK);
    assert_int_equal(ckks_public_key_create(sk, &pk), CL_OK);
    assert_int_equal(ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, steps, nsteps, &keys), CL_OK);
    slots_ctx *kctx;
    slots_owner *kown;
    assert_int_equal(slots_ckks_create(params, keys, S, &kctx), CL_OK);
    assert_int_equal(slots_ckks_owner_create(kctx, sk, &kown), CL_OK);
    slots_ckks_set_refresher(kctx, slots_ckks_owner_refresh, kown);
    if (getenv("RL_HE_DQN_CLEAR_ONLY"))
        return;
    rl_he_dqn *kag;
    assert_int_equal(rl_he_dqn_create("CartPole-v1", &hp, kctx, kown, 11, &kag), CL_OK);
    assert_int_equal(rl_he_dqn_learn(kag, FID_STEPS, NULL, NULL), CL_OK);
    const rl_he_dqn_stats *ks = rl_he_dqn_get_stats(kag);

    /* same actions, same operations, weights within the bound */
    assert_int_equal(ks->env_steps, cs->env_steps);
    assert_int_equal(ks->train_steps, cs->train_steps);
    assert_memory_equal(rl_he_dqn_actions(kag), rl_he_dqn_actions(cag), FID_STEPS * sizeof(int));
    assert_int_equal(ks->train.rotate, cs->train.rotate);
    assert_int_equal(ks->train.refresh, cs->train.refresh);
    assert_int_equal(ks->act.refresh, cs->act.refresh);
    double err = 0;
    for (int t = 0; t < 2; t++) {
        plain_net a, b;
        read_net(cag, &a, false, t);
        read_net(kag, &b, false, t);
        err = fmax(err, net_diff(&a, &b));
    }
    print_message("# HE-DQN fidelity: %lld train steps, largest weight difference %.3g\n",
                  (long long)cs->train_steps, err);
    /* CKKS noise at a 40-bit scale and N = 2^12 is ~1e-9 on values of order 1
     * per rescaled product (measured: 2.5e-9 after these 2 training steps).
     * 1e-6 leaves a margin of 400 and still catches a systematic mismatch of
     * the backends like the level-drop scale error, which made it 3.6e-6. */
    assert_true(err < 1e-6);

    if (pack > 1) {
        /* the unpacked optimizer in clear: the same weights, more products */
        rl_he_dqn_hparams hp1 = hp;
        hp1.adam_pack = 1;
        slots_ctx *c1;
        slots_owner *o1;
        assert_int_equal(slots_clear_create(&cfg, &c1, &o1), CL_OK);
        rl_he_dqn *ag1;
        assert_int_equal(rl_he_dqn_create("CartPole-v1", &hp1, c1, o1, 11, &ag1), CL_OK);
        assert_int_equal(rl_he_dqn_learn(ag1, FID_STEPS, NULL, NULL), CL_OK);
        assert_memory_equal(rl_he_dqn_actions(ag1), rl_he_dqn_actions(cag), FID_STEPS * sizeof(int));
        for (int t = 0; t < 2; t++) {
            plain_net a, b;
            read_net(cag, &a, false, t);
            read_net(ag1, &b, false, t);
            assert_true(net_diff(&a, &b) == 0.0);
        }
        print_message("# packed by %d: %llu products and %llu refreshes per run, unpacked %llu and %llu\n", pack,
                      (unsigned long long)cs->train.mul, (unsigned long long)cs->train.refresh,
                      (unsigned long long)rl_he_dqn_get_stats(ag1)->train.mul,
                      (unsigned long long)rl_he_dqn_get_stats(ag1)->train.refresh);
        assert_true(rl_he_dqn_get_stats(ag1)->train.mul > cs->train.mul);
        rl_he_dqn_free(ag1);
        slots_owner_free(o1);
        slots_ctx_free(c1);
    }

    rl_he_dqn_free(kag);
    slots_owner_free(kown);
    slots_ctx_free(kctx);
    ckks_eval_keys_free(keys);
    ckks_public_key_free(pk);
    ckks_secret_key_free(sk);
    rl_he_dqn_free(cag);
    slots_owner_free(cown);
    slots_ctx_free(cctx);
    ckks_params_free(params);
}

static void test_ckks_follows_clear(void **state)
{
    (void)state;
    ckks_follows_clear(1);
}

/* at test-n12 two S-slot vectors fill the N/2 slots */
static void test_ckks_follows_clear_packed(void **state)
{
    (void)state;
    ckks_follows_clear(2);
}

/* ------------------------------------------------ 3. learning in clear */

typedef struct curve {
    double ret[4096];
    int n;
} curve;

static void on_episode(void *user, int64_t step, double ret, int len)
{
    (void)step;
    (void)len;
    curve *c = user;
    if (c->n < 4096)
        c->ret[c->n++] = ret;
}

static void test_learns_cartpole_clear(void **state)
{
    (void)state;
    rl_he_dqn_hparams hp;
    rl_he_dqn_hparams_default(&hp);
    if (getenv("RL_HE_DQN_H"))
        hp.net_arch = atoi(getenv("RL_HE_DQN_H"));
    if (getenv("RL_HE_DQN_LS"))
        hp.learning_starts = atoi(getenv("RL_HE_DQN_LS"));
    if (getenv("RL_HE_DQN_B"))
        hp.batch_size = atoi(getenv("RL_HE_DQN_B"));
    const int64_t steps = hp.n_timesteps = getenv("RL_HE_DQN_STEPS") ? atoll(getenv("RL_HE_DQN_STEPS")) : 8000;
    size_t S;
    assert_int_equal(rl_he_dqn_layout("CartPole-v1", &hp, NULL, &S), CL_OK);
    slots_ctx *ctx;
    slots_owner *own;
    slots_clear_config cfg = {.slots = S, .levels = getenv("RL_HE_DQN_LEVELS") ? atoi(getenv("RL_HE_DQN_LEVELS")) : 6};
    assert_int_equal(slots_clear_create(&cfg, &ctx, &own), CL_OK);
    rl_he_dqn *ag;
    assert_int_equal(rl_he_dqn_create("CartPole-v1", &hp, ctx, own, 1, &ag), CL_OK);
    curve *c = calloc(1, sizeof *c);
    assert_non_null(c);
    assert_int_equal(rl_he_dqn_learn(ag, steps, on_episode, c), CL_OK);
    double last = 0;
    const int k = c->n < 10 ? c->n : 10;
    for (int i = c->n - k; i < c->n; i++)
        last += c->ret[i] / k;
    double ev[5];
    assert_int_equal(rl_he_dqn_evaluate(ag, 5, 99, ev), CL_OK);
    double evm = (ev[0] + ev[1] + ev[2] + ev[3] + ev[4]) / 5;
    const rl_he_dqn_stats *s = rl_he_dqn_get_stats(ag);
    print_message("# HE-DQN CartPole clear: %d episodes, last-10 mean %.1f, greedy eval %.1f; per train step: "
                  "%.1f rotations, %.1f refreshes, %.1f mul, %.1f mul_const; per greedy action: %.1f rotations, "
                  "%.1f refreshes\n",
                  c->n, last, evm, (double)s->train.rotate / s->train_steps,
                  (double)s->train.refresh / s->train_steps, (double)s->train.mul / s->train_steps,
                  (double)s->train.mul_const / s->train_steps, (double)s->act.rotate / s->greedy_actions,
                  (double)s->act.refresh / s->greedy_actions);
    assert_true(last > 44.0);
    free(c);
    rl_he_dqn_free(ag);
    slots_owner_free(own);
    slots_ctx_free(ctx);
}

/* ------------------------------------------------ the chunked replay (both HE algorithms) */

enum { RB_B = 4, RB_BLK = 16, RB_S = RB_B * RB_BLK };

/* The owner's transition t: every slot of block t mod B holds 100 k + t + 1 for kind k. */
static void rb_put(rl_he_replay *rb, slots_ctx *ctx, slots_owner *own, size_t t)
{
    double v[RB_S];
    slots_vec *tr[RL_HE_REPLAY_KINDS];
    for (int k = 0; k < RL_HE_REPLAY_KINDS; k++) {
        memset(v, 0, sizeof v);
        for (size_t j = 0; j < RB_BLK; j++)
            v[(t % RB_B) * RB_BLK + j] = 100.0 * k + (double)t + 1.0;
        assert_int_equal(slots_vec_create(ctx, &tr[k]), CL_OK);
        assert_int_equal(slots_encrypt(own, v, RB_S, tr[k]), CL_OK);
    }
    assert_int_equal(rl_he_replay_put(rb, ctx, tr), CL_OK);
    for (int k = 0; k < RL_HE_REPLAY_KINDS; k++)
        slots_vec_free(tr[k]);
}

static void test_replay_chunks(void **state)
{
    (void)state;
    slots_ctx *ctx;
    slots_owner *own;
    slots_clear_config cfg = {.slots = RB_S, .levels = 5};
    assert_int_equal(slots_clear_create(&cfg, &ctx, &own), CL_OK);
    rl_he_replay rb;
    assert_int_equal(rl_he_replay_init(&rb, ctx, RB_B, RB_BLK + 1, 10, 2), CL_ERR_INVALID); /* blocks past S */
    rl_he_replay_free(&rb);
    assert_int_equal(rl_he_replay_chunks(RB_B, 1), 2); /* a wrapped ring keeps a whole chunk */
    assert_int_equal(rl_he_replay_init(&rb, ctx, RB_B, RB_BLK, 10, 2), CL_OK);
    assert_int_equal(rb.chunks, 3);
    assert_int_equal(rb.cap, 12);

    /* before the ring is full, draws stay among the stored transitions */
    for (size_t t = 0; t < 6; t++)
        rb_put(&rb, ctx, own, t);
    rl_rng rng;
    rl_rng_seed(&rng, 11);
    size_t idx[RB_B];
    for (int d = 0; d < 200; d++) {
        rl_he_replay_sample(&rb, &rng, idx);
        for (size_t b = 0; b < RB_B; b++)
            assert_true(idx[b] < 6 && idx[b] % RB_B == b);
        assert_true(rl_he_replay_select(&rb, idx));
    }

    /* 14 transitions in a ring of 12: chunk 0 restarted with t = 12, 13 in
     * blocks 0, 1; its blocks 2, 3 (t = 2, 3) were wiped */
    for (size_t t = 6; t < 14; t++)
        rb_put(&rb, ctx, own, t);
    assert_int_equal(rb.stored, 12);
    assert_int_equal(rb.pos, 2);
    assert_int_equal(slots_level(rb.set[RL_HE_REPLAY_S][1]), 2);
    static const size_t wiped[RB_B] = {0, 1, 2, 7}, residue[RB_B] = {0, 1, 6, 6}, past[RB_B] = {12, 1, 6, 7};
    assert_false(rl_he_replay_select(&rb, wiped));
    assert_false(rl_he_replay_select(&rb, residue));
    assert_false(rl_he_replay_select(&rb, past));
    static const size_t ok[RB_B] = {0, 1, 6, 7}; /* ring positions: t = 12, 13, 6, 7 */
    assert_true(rl_he_replay_select(&rb, ok));
    slots_vec *out;
    assert_int_equal(slots_vec_create(ctx, &out), CL_OK);
    double got[RB_S];
    static const double t_of[RB_B] = {12, 13, 6, 7};
    for (int k = 0; k < RL_HE_REPLAY_KINDS; k++) {
        assert_int_equal(rl_he_replay_batch(&rb, ctx, (rl_he_replay_kind)k, 0.5, out), CL_OK);
        assert_int_equal(slots_level(out), 1); /* the mask's product */
        assert_int_equal(slots_decrypt(own, out, got, RB_S), CL_OK);
        for (size_t b = 0; b < RB_B; b++)
            for (size_t j = 0; j < RB_BLK; j++)
                assert_true(got[b * RB_BLK + j] == 0.5 * (100.0 * k + t_of[b] + 1.0));
    }

    /* full ring: every draw is valid, and each block's choices come up evenly
     * (blocks 0, 1: chunks 0, 1, 2; blocks 2, 3: chunks 1, 2) */
    int count[RB_B][3] = {{0}};
    enum { DRAWS = 3000 };
    for (int d = 0; d < DRAWS; d++) {
        rl_he_replay_sample(&rb, &rng, idx);
        assert_true(rl_he_replay_select(&rb, idx));
        for (size_t b = 0; b < RB_B; b++)
            count[b][idx[b] / RB_B]++;
    }
    for (size_t b = 0; b < RB_B; b++)
        for (size_t c = 0; c < 3; c++) {
            const double want = b < 2 ? DRAWS / 3.0 : (c == 0 ? 0.0 : DRAWS / 2.0);
            assert_true(fabs(count[b][c] - want) <= 0.1 * DRAWS);
        }
    slots_vec_free(out);
    rl_he_replay_free(&rb);
    slots_owner_free(own);
    slots_ctx_free(ctx);
}

/* normalize_obs: the owner divides observations by their bounds (MountainCar-v0:
 * position by 1.2, velocity by 0.07), and the exported network, which takes
 * raw observations, has the scaling folded into its first layer. */
static void test_normalize_obs_export(void **state)
{
    (void)state;
    const rl_env_spec *mc = rl_env_find("MountainCar-v0"), *cp = rl_env_find("CartPole-v1");
    double scale[RL_MAX_OBS];
    rl_he_obs_scale(mc, 1, scale);
    /* (the bounds are Gymnasium's float32 values) */
    assert_true(fabs(scale[0] * 1.2 - 1) < 1e-6 && fabs(scale[1] * 0.07 - 1) < 1e-6);
    rl_he_obs_scale(cp, 1, scale); /* velocities are unbounded: left as they are */
    assert_true(fabs(scale[0] * 4.8 - 1) < 1e-6 && scale[1] == 1.0 && scale[3] == 1.0);
    rl_he_obs_scale(mc, 0, scale);
    assert_true(scale[0] == 1.0 && scale[1] == 1.0);

    for (int norm = 0; norm <= 1; norm++) {
        rl_he_dqn_hparams hp;
        assert_int_equal(rl_he_dqn_hparams_for_env("MountainCar-v0", &hp), CL_OK);
        hp.normalize_obs = norm;
        hp.learning_starts = 64;
        size_t S;
        assert_int_equal(rl_he_dqn_layout("MountainCar-v0", &hp, NULL, &S), CL_OK);
        slots_ctx *ctx;
        slots_owner *own;
        slots_clear_config cfg = {.slots = S, .levels = 6};
        assert_int_equal(slots_clear_create(&cfg, &ctx, &own), CL_OK);
        rl_he_dqn *ag;
        assert_int_equal(rl_he_dqn_create("MountainCar-v0", &hp, ctx, own, 4, &ag), CL_OK);
        assert_int_equal(rl_he_dqn_learn(ag, 400, NULL, NULL), CL_OK);
        nn_mlp *net;
        assert_int_equal(rl_he_dqn_export_mlp(ag, &net), CL_OK);
        nn_mlp_ws *ws;
        assert_int_equal(nn_mlp_ws_create(net, 1, &ws), CL_OK);
        rl_rng rng;
        rl_rng_seed(&rng, 8);
        double worst = 0;
        for (int i = 0; i < 20; i++) {
            const double obs[2] = {rl_rng_range(&rng, -1.2, 0.6), rl_rng_range(&rng, -0.07, 0.07)};
            double q[3];
            int a;
            assert_int_equal(rl_he_dqn_act(ag, obs, &a, q), CL_OK);
            const double *y = nn_mlp_forward(net, ws, obs, 1);
            for (int k = 0; k < 3; k++)
                worst = fmax(worst, fabs(y[k] - q[k]));
        }
        print_message("# normalize_obs=%d: exported Q vs the owner's, largest difference %.3g\n", norm, worst);
        assert_true(worst < 1e-9);
        nn_mlp_ws_free(ws);
        nn_mlp_free(net);
        rl_he_dqn_free(ag);
        slots_owner_free(own);
        slots_ctx_free(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_chunks),
        cmocka_unit_test(test_normalize_obs_export),
        cmocka_unit_test(test_gradients_match_plain),
        cmocka_unit_test(test_ckks_follows_clear),
        cmocka_unit_test(test_ckks_follows_clear_packed),
        cmocka_unit_test(test_learns_cartpole_clear),
    };
    const char *filter = getenv("RL_HE_DQN_TEST");
    if (filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
