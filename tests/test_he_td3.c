/* HE-TD3 on the slot machine: one training step's gradients (critics, actor
 * through dQ/da) and Polyak targets against a plain double reference of the
 * same polynomial networks, the CKKS run following its clear twin (actions
 * and weights within a bound), learning Pendulum-v1 in clear, the
 * hyperparameter interface, and the actor exported as an nn_mlp policy
 * acting as the agent does.
 *
 * Knobs for experiments (the defaults are what the test asserts):
 * RL_HE_TD3_TEST=<test name> runs one test; RL_HE_TD3_CLEAR_ONLY=1 stops the
 * fidelity test after its clear run; RL_HE_TD3_STEPS, RL_HE_TD3_SEED and
 * RL_HE_TD3_HP="name=value,name=value" override the learning test's steps, seed
 * and hyperparameters. Run CKKS tests with OMP_NUM_THREADS=1 on a shared
 * 2-core machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cipherl/ckks.h"
#include "cipherl/rl.h"
#include "nn/nn_he.h"
#include "rl/he_td3.h"

#define ENV "Pendulum-v1"
enum { H = 8, NB = 4, OBS = 3, ACT = 1, CIN = OBS + ACT };

/* ------------------------------------------------ plain reference networks */

typedef struct pnet {
    size_t in[3], out[3];
    double W[3][H * H], b[3][H];
} pnet;

/* z[l]: pre-activations, h[l]: inputs of layer l; o: output (out[2] values). */
static void pfwd(const pnet *n, const nn_poly *act, const double *x, double z[3][H], double h[3][H], double *o)
{
    memcpy(h[0], x, n->in[0] * sizeof *x);
    for (int l = 0; l < 3; l++) {
        for (size_t r = 0; r < n->out[l]; r++) {
            double v = n->b[l][r];
            for (size_t c = 0; c < n->in[l]; c++)
                v += n->W[l][r * n->in[l] + c] * h[l][c];
            z[l][r] = v;
        }
        if (l < 2)
            for (size_t r = 0; r < n->out[l]; r++)
                h[l + 1][r] = nn_poly_eval(act, z[l][r]);
    }
    memcpy(o, z[2], n->out[2] * sizeof *o);
}

/* Backpropagation of dout: adds the weight gradients to grad (if given) and
 * writes d/dx (in[0] values) to dx (if given). */
static void pback(const pnet *n, const nn_poly *act, double z[3][H], double h[3][H], const double *dout, pnet *grad,
                  double *dx)
{
    const nn_poly dact = nn_poly_derivative(act);
    double dy[H] = {0};
    memcpy(dy, dout, n->out[2] * sizeof *dy);
    for (int l = 2; l >= 0; l--) {
        double d[H] = {0};
        for (size_t r = 0; r < n->out[l]; r++) {
            if (grad)
                grad->b[l][r] += dy[r];
            for (size_t c = 0; c < n->in[l]; c++) {
                if (grad)
                    grad->W[l][r * n->in[l] + c] += dy[r] * h[l][c];
                d[c] += n->W[l][r * n->in[l] + c] * dy[r];
            }
        }
        if (l > 0) {
            for (size_t c = 0; c < n->in[l]; c++)
                dy[c] = d[c] * nn_poly_eval(&dact, z[l - 1][c]);
        } else if (dx) {
            memcpy(dx, d, n->in[0] * sizeof *dx);
        }
    }
}

static void zero_like(const pnet *a, pnet *z)
{
    memset(z, 0, sizeof *z);
    memcpy(z->in, a->in, sizeof z->in);
    memcpy(z->out, a->out, sizeof z->out);
}

typedef struct batch {
    double s[NB][OBS], s2[NB][OBS], a[NB][ACT], r[NB], noise[NB][ACT];
    bool term[NB];
} batch;

typedef struct polys {
    nn_poly act, sq;
    nn_abs_approx mx;
    double gamma, nscale, rscale;
    double penalty; /* squash_penalty: lambda of the actor's lambda mean((u/A)^4) */
    double A;       /* squash_bound */
} polys;

/* y_b = rho r + gamma (1 - term) min(Q1'(a~, s'), Q2'(a~, s')), min = q1 + q2 - max2. */
static void targets(const pnet *ta, const pnet *tc1, const pnet *tc2, const polys *P, const batch *bt, double *y)
{
    for (int b = 0; b < NB; b++) {
        double z[3][H], h[3][H], u[ACT], x[CIN], q1, q2;
        pfwd(ta, &P->act, bt->s2[b], z, h, u);
        for (int j = 0; j < ACT; j++)
            x[j] = nn_poly_eval(&P->sq, u[j] + bt->noise[b][j] * P->nscale);
        memcpy(x + ACT, bt->s2[b], OBS * sizeof *x);
        pfwd(tc1, &P->act, x, z, h, &q1);
        pfwd(tc2, &P->act, x, z, h, &q2);
        const double mn = q1 + q2 - nn_max2(&P->mx, q1, q2);
        y[b] = P->rscale * bt->r[b] + P->gamma * (bt->term[b] ? 0.0 : 1.0) * mn;
    }
}

/* (1/B) sum_b (Q(a_b, s_b) - y_b)^2 and its gradient. */
static double critic_loss(const pnet *c, const polys *P, const batch *bt, const double *y, pnet *grad)
{
    double loss = 0;
    if (grad)
        zero_like(c, grad);
    for (int b = 0; b < NB; b++) {
        double z[3][H], h[3][H], x[CIN], q;
        memcpy(x, bt->a[b], ACT * sizeof *x);
        memcpy(x + ACT, bt->s[b], OBS * sizeof *x);
        pfwd(c, &P->act, x, z, h, &q);
        const double e = q - y[b], dq = 2.0 * e / NB;
        loss += e * e / NB;
        if (grad)
            pback(c, &P->act, z, h, &dq, grad, NULL);
    }
    return loss;
}

/* -(1/B) sum_b Q1(f(u(s_b)), s_b) + lambda (1/B) sum_b |u(s_b)|^2 and its
 * gradient in the actor's weights. */
static double actor_loss(const pnet *actor, const pnet *c1, const polys *P, const batch *bt, pnet *grad)
{
    const nn_poly dsq = nn_poly_derivative(&P->sq);
    double loss = 0;
    if (grad)
        zero_like(actor, grad);
    for (int b = 0; b < NB; b++) {
        double za[3][H], ha[3][H], zc[3][H], hc[3][H], u[ACT], x[CIN], q, dx[CIN], du[ACT];
        pfwd(actor, &P->act, bt->s[b], za, ha, u);
        for (int j = 0; j < ACT; j++)
            x[j] = nn_poly_eval(&P->sq, u[j]);
        memcpy(x + ACT, bt->s[b], OBS * sizeof *x);
        pfwd(c1, &P->act, x, zc, hc, &q);
        loss -= q / NB;
        for (int j = 0; j < ACT; j++)
            loss += P->penalty * pow(u[j] / P->A, 4) / NB;
        if (!grad)
            continue;
        const double dq = -1.0 / NB;
        pback(c1, &P->act, zc, hc, &dq, NULL, dx);
        for (int j = 0; j < ACT; j++)
            du[j] = dx[j] * nn_poly_eval(&dsq, u[j]) + 4.0 * P->penalty * pow(u[j], 3) / (pow(P->A, 4) * NB);
        pback(actor, &P->act, za, ha, du, grad, NULL);
    }
    return loss;
}

static void read_net(rl_he_td3 *ag, int net, pnet *n, bool grads, bool transposed)
{
    memset(n, 0, sizeof *n);
    for (int l = 0; l < 3; l++) {
        assert_int_equal(rl_he_td3_layer_shape(ag, net, l, &n->in[l], &n->out[l]), CL_OK);
        assert_true(n->in[l] <= H && n->out[l] <= H);
        /* transposed sets have no gradients of their own (they are rebuilt
         * from the diagonals), and the actor's first one is not kept (no
         * gradient of the state needs it): refused, and read from the
         * diagonal set */
        bool t = transposed;
        if (transposed && (grads || (net == RL_HE_TD3_ACTOR && l == 0))) {
            assert_int_equal(grads ? rl_he_td3_get_grads(ag, net, l, true, n->W[l], n->b[l])
                                   : rl_he_td3_get_weights(ag, net, l, true, n->W[l], n->b[l]),
                             CL_ERR_UNSUPPORTED);
            t = false;
        }
        if (grads)
            assert_int_equal(rl_he_td3_get_grads(ag, net, l, t, n->W[l], n->b[l]), CL_OK);
        else
            assert_int_equal(rl_he_td3_get_weights(ag, net, l, t, n->W[l], n->b[l]), CL_OK);
    }
}

static double net_diff(const pnet *a, const pnet *b)
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

static double net_max(const pnet *a)
{
    pnet z;
    zero_like(a, &z);
    return net_diff(a, &z);
}

static rl_he_td3_hparams small_hparams(void)
{
    rl_he_td3_hparams hp;
    assert_int_equal(rl_he_td3_hparams_for_env(ENV, &hp), CL_OK);
    hp.net_arch = H;
    hp.batch_size = NB;
    hp.learning_starts = NB;
    return hp;
}

/* ------------------------------------------------ 1. gradients of one step */

static void test_gradients_match_plain(void **state)
{
    (void)state;
    rl_he_td3_hparams hp = small_hparams();
    hp.squash_penalty = 0.5; /* large enough to move the actor's gradient visibly */
    size_t d, S;
    assert_int_equal(rl_he_td3_layout(ENV, &hp, &d, &S), CL_OK);
    assert_int_equal(d, 8);
    assert_int_equal(S, 64);
    slots_ctx *ctx;
    slots_owner *own;
    slots_clear_config cfg = {.slots = S, .levels = 6};
    assert_int_equal(slots_clear_create(&cfg, &ctx, &own), CL_OK);
    rl_he_td3 *ag;
    assert_int_equal(rl_he_td3_create(ENV, &hp, ctx, own, 7, &ag), CL_OK);
    assert_int_equal(rl_he_td3_get_grads(ag, RL_HE_TD3_ACTOR, 0, false, (double[H * H]){0}, NULL), CL_ERR_STATE);

    rl_rng rng;
    rl_rng_seed(&rng, 3);
    batch bt;
    for (int b = 0; b < NB; b++) {
        for (int j = 0; j < OBS; j++) {
            bt.s[b][j] = rl_rng_range(&rng, -2, 2);
            bt.s2[b][j] = rl_rng_range(&rng, -2, 2);
        }
        for (int j = 0; j < ACT; j++) {
            bt.a[b][j] = rl_rng_range(&rng, -1, 1);
            bt.noise[b][j] = rl_rng_range(&rng, -0.5, 0.5);
        }
        bt.r[b] = rl_rng_range(&rng, -8, 0);
        bt.term[b] = b == 2;
        assert_int_equal(rl_he_td3_store(ag, bt.s[b], bt.a[b], bt.r[b], bt.s2[b], bt.term[b]), CL_OK);
    }
    pnet w0[RL_HE_TD3_NETS], wt;
    for (int n = 0; n < RL_HE_TD3_NETS; n++)
        read_net(ag, n, &w0[n], false, false);
    for (int n = 0; n < 3; n++) {
        read_net(ag, n, &wt, false, true);
        assert_true(net_diff(&w0[n], &wt) == 0); /* both packings of one matrix */
        assert_true(net_diff(&w0[n], &w0[n + 3]) == 0); /* targets start as copies */
    }
    assert_int_equal(w0[RL_HE_TD3_ACTOR].in[0], OBS);
    assert_int_equal(w0[RL_HE_TD3_CRITIC1].in[0], CIN);

    polys P;
    rl_he_td3_polys(ag, &P.sq, &P.act);
    assert_int_equal(nn_abs_approx_make(hp.max_degree, hp.max_bound, &P.mx), CL_OK);
    P.gamma = hp.gamma;
    P.rscale = hp.reward_scale;
    P.nscale = rl_he_td3_noise_scale(ag);
    P.penalty = hp.squash_penalty;
    P.A = hp.squash_bound;
    assert_true(fabs(nn_poly_eval(&P.sq, hp.squash_bound) - 1.0) < 1e-12);
    assert_true(fabs(nn_poly_eval(&P.sq, 0.0)) == 0.0);

    /* the platform sees observations normalized by the owner: divided by max(|low|, |high|) */
    const rl_env_spec *spec = rl_env_find(ENV);
    assert_true(hp.normalize_obs == 1);
    for (int b = 0; b < NB; b++)
        for (int j = 0; j < OBS; j++) {
            const double bound = fmax(fabs(spec->obs_low[j]), fabs(spec->obs_high[j]));
            bt.s[b][j] /= bound;
            bt.s2[b][j] /= bound;
        }
    const size_t idx[NB] = {0, 1, 2, 3};
    assert_int_equal(rl_he_td3_train_on(ag, idx, &bt.noise[0][0], true), CL_OK);
    const rl_he_td3_stats *st = rl_he_td3_get_stats(ag);
    assert_int_equal(st->train_steps, 1);
    assert_int_equal(st->actor_updates, 1);

    /* critics: gradients of the MSE to the smoothed twin-min targets */
    double y[NB];
    targets(&w0[RL_HE_TD3_ACTOR_TARGET], &w0[RL_HE_TD3_CRITIC1_TARGET], &w0[RL_HE_TD3_CRITIC2_TARGET], &P, &bt, y);
    double worst = 0;
    for (int c = RL_HE_TD3_CRITIC1; c <= RL_HE_TD3_CRITIC2; c++) {
        pnet want, got, got_t;
        assert_true(critic_loss(&w0[c], &P, &bt, y, &want) > 0);
        read_net(ag, c, &got, true, false);
        read_net(ag, c, &got_t, true, true);
        const double scale = net_max(&want);
        assert_true(scale > 1e-3);
        worst = fmax(worst, fmax(net_diff(&got, &want), net_diff(&got_t, &want)) / (1 + scale));
        /* the reference against central finite differences */
        for (int l = 0; l < 3; l++)
            for (size_t i = 0; i < w0[c].in[l] * w0[c].out[l]; i += 3) {
                pnet wp = w0[c], wm = w0[c];
                const double h = 1e-6;
                wp.W[l][i] += h;
                wm.W[l][i] -= h;
                const double fd = (critic_loss(&wp, &P, &bt, y, NULL) - critic_loss(&wm, &P, &bt, y, NULL)) / (2 * h);
                assert_true(fabs(fd - want.W[l][i]) < 1e-6 * (1 + fabs(fd)));
            }
    }

    /* actor: through the critic 1 just updated (SB3's order) */
    pnet c1, want, got, got_t;
    read_net(ag, RL_HE_TD3_CRITIC1, &c1, false, false);
    assert_true(net_diff(&c1, &w0[RL_HE_TD3_CRITIC1]) > 0);
    actor_loss(&w0[RL_HE_TD3_ACTOR], &c1, &P, &bt, &want);
    read_net(ag, RL_HE_TD3_ACTOR, &got, true, false);
    read_net(ag, RL_HE_TD3_ACTOR, &got_t, true, true);
    const double ascale = net_max(&want);
    assert_true(ascale > 1e-4);
    worst = fmax(worst, fmax(net_diff(&got, &want), net_diff(&got_t, &want)) / (1 + ascale));
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < w0[0].in[l] * w0[0].out[l]; i += 2) {
            pnet wp = w0[0], wm = w0[0];
            const double h = 1e-6;
            wp.W[l][i] += h;
            wm.W[l][i] -= h;
            const double fd = (actor_loss(&wp, &c1, &P, &bt, NULL) - actor_loss(&wm, &c1, &P, &bt, NULL)) / (2 * h);
            assert_true(fabs(fd - want.W[l][i]) < 1e-6 * (1 + fabs(fd)));
        }
    print_message("# HE-TD3 gradients: largest relative difference from the plain reference %.3g\n", worst);
    assert_true(worst < 1e-9);

    /* the step moved every online network, both packings stayed equal, and the
     * targets moved by tau: target = t0 + tau (w1 - t0) */
    double perr = 0;
    for (int n = 0; n < 3; n++) {
        pnet w1, w1t, t1, expect;
        read_net(ag, n, &w1, false, false);
        read_net(ag, n, &w1t, false, true);
        read_net(ag, n + 3, &t1, false, false);
        assert_true(net_diff(&w1, &w0[n]) > 0);
        assert_true(net_diff(&w1, &w1t) < 1e-12);
        expect = w0[n + 3];
        for (int l = 0; l < 3; l++) {
            for (size_t i = 0; i < expect.in[l] * expect.out[l]; i++)
                expect.W[l][i] += hp.tau * (w1.W[l][i] - expect.W[l][i]);
            for (size_t i = 0; i < expect.out[l]; i++)
                expect.b[l][i] += hp.tau * (w1.b[l][i] - expect.b[l][i]);
        }
        perr = fmax(perr, net_diff(&t1, &expect));
        assert_true(net_diff(&t1, &w0[n + 3]) > 0);
    }
    assert_true(perr < 1e-14);

    /* a critic-only step leaves the actor and the targets alone */
    pnet a1, t1;
    read_net(ag, RL_HE_TD3_ACTOR, &a1, false, false);
    read_net(ag, RL_HE_TD3_CRITIC1_TARGET, &t1, false, false);
    assert_int_equal(rl_he_td3_train_on(ag, idx, NULL, false), CL_OK);
    pnet a2, t2;
    read_net(ag, RL_HE_TD3_ACTOR, &a2, false, false);
    read_net(ag, RL_HE_TD3_CRITIC1_TARGET, &t2, false, false);
    assert_true(net_diff(&a1, &a2) == 0 && net_diff(&t1, &t2) == 0);
    assert_int_equal(st->train_steps, 2);
    assert_int_equal(st->actor_updates, 1);

    rl_he_td3_free(ag);
    slots_owner_free(own);
    slots_ctx_free(ctx);
}

/* ------------------------------------------------ 2. CKKS follows clear */

enum { FID_STEPS = 12, FH = 4 };

static rl_he_td3_hparams fidelity_hparams(void)
{
    rl_he_td3_hparams hp;
    assert_int_equal(rl_he_td3_hparams_for_env(ENV, &hp), CL_OK);
    hp.net_arch = FH;
    hp.batch_size = NB;
    hp.learning_starts = NB;
    hp.buffer_size = 8;
    hp.learning_rate = 5e-3;
    hp.tau = 0.1;
    return hp;
}

static double weight_diff(rl_he_td3 *a, rl_he_td3 *b)
{
    double err = 0;
    for (int n = 0; n < RL_HE_TD3_NETS; n++) {
        pnet x, y;
        read_net(a, n, &x, false, false);
        read_net(b, n, &y, false, false);
        err = fmax(err, net_diff(&x, &y));
    }
    return err;
}

static void test_ckks_follows_clear(void **state)
{
    (void)state;
    rl_he_td3_hparams hp = fidelity_hparams();
    size_t S;
    assert_int_equal(rl_he_td3_layout(ENV, &hp, NULL, &S), CL_OK);
    ckks_params *params;
    assert_int_equal(ckks_params_from_preset("test-n12", CKKS_ALLOW_INSECURE, &params), CL_OK);
    const int levels = ckks_params_max_level(params);

    /* the clear twin */
    slots_ctx *cctx;
    slots_owner *cown;
    slots_clear_config cfg = {.slots = S, .levels = levels};
    assert_int_equal(slots_clear_create(&cfg, &cctx, &cown), CL_OK);
    rl_he_td3 *cag;
    assert_int_equal(rl_he_td3_create(ENV, &hp, cctx, cown, 11, &cag), CL_OK);
    assert_int_equal(rl_he_td3_learn(cag, FID_STEPS, NULL, NULL), CL_OK);
    const rl_he_td3_stats *cs = rl_he_td3_get_stats(cag);
    assert_true(cs->train_steps >= 4);
    assert_true(cs->actor_updates >= 2);
    int steps[64];
    const size_t nsteps = slots_rotation_steps(cctx, steps, 64);
    assert_true(nsteps > 0 && nsteps < 64);
    print_message("# clear: %lld train steps, %lld actor updates: rot %llu mul %llu refresh %llu; %lld actor calls: "
                  "refresh %llu; %zu rotation keys\n",
                  (long long)cs->train_steps, (long long)cs->actor_updates, (unsigned long long)cs->train.rotate,
                  (unsigned long long)cs->train.mul, (unsigned long long)cs->train.refresh,
                  (long long)cs->actor_calls, (unsigned long long)cs->act.refresh, nsteps);
    if (getenv("RL_HE_TD3_CLEAR_ONLY")) {
        rl_he_td3_free(cag);
        slots_owner_free(cown);
        slots_ctx_free(cctx);
        ckks_params_free(params);
        return;
    }

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
    rl_he_td3 *kag;
    assert_int_equal(rl_he_td3_create(ENV, &hp, kctx, kown, 11, &kag), CL_OK);
    assert_int_equal(rl_he_td3_learn(kag, FID_STEPS, NULL, NULL), CL_OK);
    const rl_he_td3_stats *ks = rl_he_td3_get_stats(kag);

    /* same schedule, same operations, actions and weights within the bound */
    assert_int_equal(ks->env_steps, cs->env_steps);
    assert_int_equal(ks->train_steps, cs->train_steps);
    assert_int_equal(ks->actor_updates, cs->actor_updates);
    assert_int_equal(ks->train.rotate, cs->train.rotate);
    assert_int_equal(ks->train.refresh, cs->train.refresh);
    assert_int_equal(ks->act.refresh, cs->act.refresh);
    assert_int_equal(ks->target.refresh, cs->target.refresh);
    const double *ka = rl_he_td3_actions(kag), *ca = rl_he_td3_actions(cag);
    double aerr = 0;
    for (int i = 0; i < FID_STEPS * ACT; i++)
        aerr = fmax(aerr, fabs(ka[i] - ca[i]));
    const double werr = weight_diff(cag, kag);
    print_message("# HE-TD3 fidelity: %lld train steps, largest action difference %.3g, largest weight difference "
                  "%.3g\n",
                  (long long)cs->train_steps, aerr, werr);
    /* CKKS noise at test-n12 leaves ~1e-8 here (measured: actions 5.1e-9,
     * weights 1.9e-8); 1e-6 keeps a margin of 50 and catches a systematic
     * mismatch of the backends such as the level-drop scale error, which made
     * these 2.1e-6 and 1.5e-5. */
    assert_true(aerr < 1e-6);
    assert_true(werr < 1e-6);

    rl_he_td3_free(kag);
    slots_owner_free(kown);
    slots_ctx_free(kctx);
    ckks_eval_keys_free(keys);
    ckks_public_key_free(pk);
    ckks_secret_key_free(sk);
    rl_he_td3_free(cag);
    slots_owner_free(cown);
    slots_ctx_free(cctx);
    ckks_params_free(params);
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

static void apply_env_hp(rl_he_td3_hparams *hp)
{
    const char *s = getenv("RL_HE_TD3_HP");
    if (!s)
        return;
    char tmp[1024], err[256];
    snprintf(tmp, sizeof tmp, "%s", s);
    for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ","))
        if (rl_he_td3_hp_assign(hp, tok, err, sizeof err) != CL_OK)
            fail_msg("RL_HE_TD3_HP: %s", err);
}

static void test_learns_pendulum_clear(void **state)
{
    (void)state;
    /* the short-run set (rl_he_td3_hparams_default): the long-run set of
     * rl_he_td3_hparams_for_env trades early learning for stability over 20 000
     * steps (docs/he-td3.md, "The squash penalty") */
    rl_he_td3_hparams hp;
    rl_he_td3_hparams_default(&hp);
    apply_env_hp(&hp);
    const int64_t steps = getenv("RL_HE_TD3_STEPS") ? atoll(getenv("RL_HE_TD3_STEPS")) : 8000;
    const uint64_t seed = getenv("RL_HE_TD3_SEED") ? (uint64_t)atoll(getenv("RL_HE_TD3_SEED")) : 1;
    size_t S;
    assert_int_equal(rl_he_td3_layout(ENV, &hp, NULL, &S), CL_OK);
    slots_ctx *ctx;
    slots_owner *own;
    slots_clear_config cfg = {.slots = S, .levels = 6};
    assert_int_equal(slots_clear_create(&cfg, &ctx, &own), CL_OK);
    rl_he_td3 *ag;
    assert_int_equal(rl_he_td3_create(ENV, &hp, ctx, own, seed, &ag), CL_OK);
    curve *c = calloc(1, sizeof *c);
    assert_non_null(c);
    assert_int_equal(rl_he_td3_learn(ag, steps, on_episode, c), CL_OK);
    double last = 0;
    const int k = c->n < 5 ? c->n : 5;
    for (int i = c->n - k; i < c->n; i++)
        last += c->ret[i] / k;
    double ev[10], evm = 0;
    assert_int_equal(rl_he_td3_evaluate(ag, 10, 99, ev), CL_OK);
    for (int i = 0; i < 10; i++)
        evm += ev[i] / 10;
    /* the random policy's return in the same evaluation episodes: uniform actions */
    double rnd = 0;
    {
        rl_env *env;
        assert_int_equal(rl_env_create(ENV, &env), CL_OK);
        rl_rng r, ra;
        rl_rng_seed(&r, 99);
        rl_rng_seed(&ra, 5);
        for (int e = 0; e < 10; e++) {
            double obs[RL_MAX_OBS], rew, a;
            bool term = false, trunc = false;
            rl_env_reset(env, &r, obs);
            while (!term && !trunc) {
                a = rl_rng_range(&ra, -2, 2);
                assert_int_equal(rl_env_step(env, &a, obs, &rew, &term, &trunc), CL_OK);
                rnd += rew / 10;
            }
        }
        rl_env_free(env);
    }
    const rl_he_td3_stats *s = rl_he_td3_get_stats(ag);
    char line[1024];
    rl_he_td3_hp_format(&hp, line, sizeof line);
    print_message("# HE-TD3 Pendulum-v1 clear, seed %llu, %lld steps: %d episodes, last-5 mean %.1f, deterministic "
                  "eval %.1f (10 episodes; random %.1f); %lld train steps, %lld actor updates\n# %s\n",
                  (unsigned long long)seed, (long long)steps, c->n, last, evm, rnd, (long long)s->train_steps,
                  (long long)s->actor_updates, line);
    for (int i = 0; i < c->n; i++)
        print_message("%s%.0f%s", i % 15 == 0 ? "#  " : " ", c->ret[i], i % 15 == 14 || i == c->n - 1 ? "\n" : "");
    /* seed 1 measured -904 against -1201 (docs/he-td3.md); a frozen actor (about zero torque) stays near
     * random, a wrong-signed one saturates against the swing (about -1500) */
    assert_true(evm > rnd + 150.0);
    free(c);
    rl_he_td3_free(ag);
    slots_owner_free(own);
    slots_ctx_free(ctx);
}

/* ------------------------------------------------ 4. hyperparameters */

static void test_hparams(void **state)
{
    (void)state;
    rl_he_td3_hparams hp;
    char err[512];
    assert_int_equal(rl_he_td3_hparams_for_env("CartPole-v1", &hp), CL_ERR_UNSUPPORTED);
    assert_int_equal(rl_he_td3_hparams_for_env("NoSuchEnv-v0", &hp), CL_ERR_INVALID);
    assert_int_equal(rl_he_td3_hparams_for_env("MountainCarContinuous-v0", &hp), CL_OK);
    assert_int_equal(hp.noise_type, RL_HE_TD3_NOISE_OU);
    assert_int_equal(rl_he_td3_hparams_for_env(ENV, &hp), CL_OK);
    assert_int_equal(hp.noise_type, RL_HE_TD3_NOISE_NORMAL);
    assert_true(hp.squash_penalty == 0.1 && hp.adam_beta2 == 0.9999); /* the long-run set */
    rl_he_td3_hparams_default(&hp);
    assert_true(hp.squash_penalty == 0.0 && hp.adam_beta2 == 0.999); /* the short-run set */
    assert_int_equal(rl_he_td3_hparams_for_env(ENV, &hp), CL_OK);
    assert_int_equal(rl_he_td3_hp_check(&hp, err, sizeof err), CL_OK);
    assert_int_equal(rl_he_td3_hp_assign(&hp, "net_arch=[8,8]", err, sizeof err), CL_OK);
    assert_int_equal(hp.net_arch, 8);
    assert_int_equal(rl_he_td3_hp_assign(&hp, "noise_type=ornstein-uhlenbeck", err, sizeof err), CL_OK);
    assert_int_equal(hp.noise_type, RL_HE_TD3_NOISE_OU);
    assert_int_equal(rl_he_td3_hp_assign(&hp, "tau=0.01", err, sizeof err), CL_OK);
    assert_true(hp.tau == 0.01);
    assert_int_equal(rl_he_td3_hp_assign(&hp, "policy_delay=3", err, sizeof err), CL_OK);
    assert_int_equal(hp.policy_delay, 3);
    assert_int_equal(rl_he_td3_hp_assign(&hp, "bogus=1", err, sizeof err), CL_ERR_INVALID);
    assert_non_null(strstr(err, "unknown hyperparameter 'bogus'"));
    assert_int_equal(rl_he_td3_hp_assign(&hp, "tau=abc", err, sizeof err), CL_ERR_INVALID);
    assert_non_null(strstr(err, "tau"));
    assert_int_equal(rl_he_td3_hp_assign(&hp, "squash_degree=4", err, sizeof err), CL_ERR_INVALID);
    assert_int_equal(rl_he_td3_hp_assign(&hp, "batch_size=2.5", err, sizeof err), CL_ERR_INVALID);
    assert_int_equal(rl_he_td3_hp_assign(&hp, "noise_type=pink", err, sizeof err), CL_ERR_INVALID);
    assert_int_equal(rl_he_td3_hp_assign(&hp, "gamma", err, sizeof err), CL_ERR_INVALID);
    assert_int_equal(rl_he_td3_hp_assign(&hp, "batch_size=24", err, sizeof err), CL_OK);
    assert_int_equal(rl_he_td3_hp_check(&hp, err, sizeof err), CL_ERR_INVALID);
    assert_non_null(strstr(err, "power of two"));
    size_t D, S;
    assert_int_equal(rl_he_td3_layout("CartPole-v1", &hp, &D, &S), CL_ERR_UNSUPPORTED);
    hp.batch_size = 32;
    assert_int_equal(rl_he_td3_layout(ENV, &hp, &D, &S), CL_OK);
    assert_int_equal(D, 8);
    assert_int_equal(S, 512);
    char line[1024];
    rl_he_td3_hp_format(&hp, line, sizeof line);
    assert_non_null(strstr(line, "net_arch=[8,8]"));
    assert_non_null(strstr(line, "noise_type=ornstein-uhlenbeck"));
    /* the format reads back */
    rl_he_td3_hparams back;
    assert_int_equal(rl_he_td3_hparams_for_env(ENV, &back), CL_OK);
    for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " "))
        assert_int_equal(rl_he_td3_hp_assign(&back, tok, err, sizeof err), CL_OK);
    assert_memory_equal(&back, &hp, sizeof hp);
    for (int p = 0; p < RL_HE_TD3_PHASES; p++)
        assert_string_not_equal(rl_he_td3_phase_name(p), "?");

    /* the census of the default step */
    assert_int_equal(rl_he_td3_hparams_for_env(ENV, &hp), CL_OK);
    rl_he_td3_census cen;
    assert_int_equal(rl_he_td3_census_run(ENV, &hp, 6, &cen), CL_OK);
    print_message("# HE-TD3 census (%s defaults, D %zu, B %d, S %zu, L 6): per training step rot %llu mul %llu "
                  "mul_plain %llu mul_const %llu add %llu refresh %llu; per actor call rot %llu refresh %llu; per "
                  "target update mul_const %llu refresh %llu; %zu rotation keys\n",
                  ENV, cen.width, hp.batch_size, cen.slots, (unsigned long long)cen.train_step.rotate,
                  (unsigned long long)cen.train_step.mul, (unsigned long long)cen.train_step.mul_plain,
                  (unsigned long long)cen.train_step.mul_const, (unsigned long long)cen.train_step.add,
                  (unsigned long long)cen.train_step.refresh, (unsigned long long)cen.act.rotate,
                  (unsigned long long)cen.act.refresh, (unsigned long long)cen.target.mul_const,
                  (unsigned long long)cen.target.refresh, cen.n_rot_steps);
    for (int p = 0; p < RL_HE_TD3_PHASES; p++)
        print_message("#   %-17s rot %5llu mul %5llu mul_plain %4llu mul_const %5llu refresh %4llu\n",
                      rl_he_td3_phase_name(p), (unsigned long long)cen.phase[p].rotate,
                      (unsigned long long)cen.phase[p].mul, (unsigned long long)cen.phase[p].mul_plain,
                      (unsigned long long)cen.phase[p].mul_const, (unsigned long long)cen.phase[p].refresh);
    assert_true(cen.train_step.rotate > 0 && cen.n_rot_steps > 0);
    assert_true(cen.phase[RL_HE_TD3_PHASE_ACTOR_BACKWARD].mul_plain > 0);
}

/* ------------------------------------------------ 5. the actor as a model */

/* The action of pol and of the agent for obs: equal to 1e-9 (the clear
 * backend sums in another order; the largest difference goes to *worst);
 * returns the policy's raw network output. */
static double same_action(rl_he_td3 *ag, rl_policy *pol, rl_policy *back, const double *obs, double *worst)
{
    double a1[RL_MAX_ACT], a2[RL_MAX_ACT], a3[RL_MAX_ACT];
    assert_int_equal(rl_he_td3_act(ag, obs, a1), CL_OK);
    assert_int_equal(rl_policy_act(pol, obs, a2), CL_OK);
    assert_int_equal(rl_policy_act(back, obs, a3), CL_OK);
    for (int j = 0; j < ACT; j++) {
        if (!(fabs(a1[j] - a2[j]) <= 1e-9))
            fail_msg("action %d: agent %.17g, exported policy %.17g", j, a1[j], a2[j]);
        *worst = fmax(*worst, fabs(a1[j] - a2[j]));
        assert_true(a2[j] == a3[j]); /* the saved model acts bit for bit the same */
        assert_true(a2[j] >= -2.0 && a2[j] <= 2.0);
    }
    /* the raw output, to see the squash leave [-1, 1] */
    nn_mlp_ws *ws;
    const nn_mlp *net = rl_policy_network(pol);
    assert_int_equal(nn_mlp_ws_create(net, 1, &ws), CL_OK);
    const double *y = nn_mlp_forward(net, ws, obs, 1);
    assert_non_null(y);
    const double y0 = y[0];
    nn_mlp_ws_free(ws);
    return y0;
}

static void test_export_actor(void **state)
{
    (void)state;
    const rl_env_spec *spec = rl_env_find(ENV);
    assert_non_null(spec);
    char path[] = "/tmp/cipherl_test_he_td3_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    /* the owner's normalization folded in (Pendulum-v1: theta-dot divided by 8) or not; both squashes */
    const int normalize[3] = {1, 0, 1}, degree[3] = {3, 5, 5};
    for (int c = 0; c < 3; c++) {
        rl_he_td3_hparams hp = small_hparams();
        hp.normalize_obs = normalize[c];
        hp.squash_degree = degree[c];
        if (!normalize[c])
            hp.activation_bound = 8.0; /* raw theta-dot up to 8: with b = 1 the actions turn non-finite */
        size_t S;
        assert_int_equal(rl_he_td3_layout(ENV, &hp, NULL, &S), CL_OK);
        slots_ctx *ctx;
        slots_owner *own;
        slots_clear_config cfg = {.slots = S, .levels = 6};
        assert_int_equal(slots_clear_create(&cfg, &ctx, &own), CL_OK);
        rl_he_td3 *ag;
        assert_int_equal(rl_he_td3_create(ENV, &hp, ctx, own, 5 + (uint64_t)c, &ag), CL_OK);
        assert_int_equal(rl_he_td3_learn(ag, 40, NULL, NULL), CL_OK);
        assert_true(rl_he_td3_get_stats(ag)->actor_updates >= 10);

        nn_mlp *net = (nn_mlp *)1;
        assert_int_equal(rl_he_td3_export_actor(NULL, &net), CL_ERR_INVALID);
        assert_int_equal(rl_he_td3_export_actor(ag, NULL), CL_ERR_INVALID);
        assert_int_equal(rl_he_td3_export_actor(ag, &net), CL_OK);
        assert_int_equal(net->n_layers, 3);
        assert_true(net->sizes[0] == OBS && net->sizes[1] == H && net->sizes[2] == H && net->sizes[3] == ACT);
        assert_int_equal(net->hidden_act, NN_ACT_POLY2);
        assert_int_equal(net->out_act, degree[c] == 3 ? NN_ACT_SQUASH3 : NN_ACT_SQUASH5);
        assert_true(net->act_bound == hp.activation_bound && net->squash_bound == hp.squash_bound);
        /* the same polynomials as the agent's */
        nn_poly sq, act;
        rl_he_td3_polys(ag, &sq, &act);
        const nn_poly f = nn_squash_poly(degree[c], hp.squash_bound);
        assert_memory_equal(&sq, &f, sizeof f);
        /* the layers as the agent holds them, the first times the owner's scale */
        double W[H * H], b[H];
        for (int l = 0; l < 3; l++) {
            assert_int_equal(rl_he_td3_get_weights(ag, RL_HE_TD3_ACTOR, l, false, W, b), CL_OK);
            const int in = net->sizes[l], out = net->sizes[l + 1];
            for (int i = 0; i < in; i++) {
                const double bound = fmax(fabs(spec->obs_low[i]), fabs(spec->obs_high[i]));
                const double scale = l == 0 && normalize[c] ? 1.0 / bound : 1.0;
                for (int j = 0; j < out; j++)
                    assert_true(net->params[net->w_off[l] + (size_t)(i * out + j)] == W[j * in + i] * scale);
            }
            assert_memory_equal(net->params + net->b_off[l], b, (size_t)out * sizeof *b);
        }

        rl_policy *pol, *back;
        assert_int_equal(rl_policy_from_mlp(RL_ALGO_TD3, ENV, net, &pol), CL_OK); /* owns net */
        assert_int_equal(rl_policy_save(pol, path), CL_OK);
        assert_int_equal(rl_policy_load(path, &back), CL_OK);
        assert_int_equal(rl_policy_algo(back), RL_ALGO_TD3);
        assert_int_equal(rl_policy_network(back)->out_act, net->out_act);

        rl_rng rng;
        rl_rng_seed(&rng, 17 + (uint64_t)c);
        double obs[RL_MAX_OBS];
        double inside = 0, worst = 0;
        for (int t = 0; t < 25; t++) {
            for (int j = 0; j < OBS; j++)
                obs[j] = rl_rng_range(&rng, spec->obs_low[j], spec->obs_high[j]);
            inside = fmax(inside, fabs(same_action(ag, pol, back, obs, &worst)));
        }
        /* far outside the box: the squash saturates, turns back or leaves [-1, 1], and both clip */
        int beyond = 0;
        for (int t = 0; t < 12; t++) {
            const double k = 3.0 * (1 + t % 4);
            for (int j = 0; j < OBS; j++)
                obs[j] = k * rl_rng_range(&rng, spec->obs_low[j], spec->obs_high[j]);
            beyond += fabs(same_action(ag, pol, back, obs, &worst)) > 1.0;
        }
        print_message("# export (normalize_obs=%d, squash_degree=%d): largest |f| inside the box %.3g, %d of 12 "
                      "outside past +-1; largest action difference %.3g\n",
                      normalize[c], degree[c], inside, beyond, worst);
        assert_true(beyond > 0);
        rl_policy_free(back);
        rl_policy_free(pol);
        rl_he_td3_free(ag);
        slots_owner_free(own);
        slots_ctx_free(ctx);
    }
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hparams),
        cmocka_unit_test(test_gradients_match_plain),
        cmocka_unit_test(test_ckks_follows_clear),
        cmocka_unit_test(test_learns_pendulum_clear),
        cmocka_unit_test(test_export_actor),
    };
    const char *filter = getenv("RL_HE_TD3_TEST");
    if (filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
