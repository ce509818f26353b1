/* Tests of the plain nn layer: gradients by finite differences, losses, Adam
 * against hand-computed steps, clipping, Polyak updates, serialization, the
 * HE-friendly activation NN_ACT_POLY2 and the output squashes
 * NN_ACT_SQUASH3/5 (the same nn_poly as the HE networks). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cipherl/nn.h"
#include "nn/nn_he.h"

/* splitmix64 as a uniform source */
static double uniform01(void *ctx)
{
    uint64_t *s = ctx;
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* loss = sum_i c_i * out_i (+ MSE or Huber to a target), gradients checked
 * against central differences for every parameter and every input. */
static double net_loss(const nn_mlp *net, nn_mlp_ws *ws, const double *x, int batch,
                       const double *target, int which, double *dout)
{
    const double *y = nn_mlp_forward(net, ws, x, batch);
    size_t n = (size_t)batch * (size_t)nn_mlp_outputs(net);
    if (which == 0)
        return nn_loss_mse(y, target, n, dout);
    return nn_loss_huber(y, target, n, 1.0, dout);
}

static void check_gradients(nn_act hidden, nn_act outact, int which)
{
    uint64_t seed = 42 + (uint64_t)which * 7 + (uint64_t)hidden * 3 + (uint64_t)outact;
    const int widths[2] = {7, 5};
    nn_mlp *net;
    assert_int_equal(nn_mlp_create(3, widths, 2, 2, hidden, outact, &net), CL_OK);
    nn_mlp_init_default(net, uniform01, &seed);
    if (nn_mlp_uses_poly2(net))
        assert_int_equal(nn_mlp_set_act_bound(net, 3.0), CL_OK);
    if (nn_mlp_uses_squash(net))
        assert_int_equal(nn_mlp_set_squash_bound(net, 1.25), CL_OK); /* some outputs past the bound */
    nn_mlp_ws *ws;
    const int B = 6;
    assert_int_equal(nn_mlp_ws_create(net, B, &ws), CL_OK);
    double x[6 * 3], target[6 * 2], dout[6 * 2], dx[6 * 3];
    for (int i = 0; i < B * 3; i++)
        x[i] = 4.0 * uniform01(&seed) - 2.0;
    for (int i = 0; i < B * 2; i++)
        target[i] = 3.0 * uniform01(&seed) - 1.5;
    double *grad = calloc(net->n_params, sizeof(double));
    net_loss(net, ws, x, B, target, which, dout);
    assert_int_equal(nn_mlp_backward(net, ws, dout, grad, dx), CL_OK);
    const double h = 1e-6;
    double worst = 0.0;
    for (size_t i = 0; i < net->n_params; i++) {
        double keep = net->params[i];
        net->params[i] = keep + h;
        double lp = net_loss(net, ws, x, B, target, which, NULL);
        net->params[i] = keep - h;
        double lm = net_loss(net, ws, x, B, target, which, NULL);
        net->params[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double err = fabs(fd - grad[i]) / fmax(1.0, fabs(fd));
        if (err > worst)
            worst = err;
    }
    for (int i = 0; i < B * 3; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double lp = net_loss(net, ws, x, B, target, which, NULL);
        x[i] = keep - h;
        double lm = net_loss(net, ws, x, B, target, which, NULL);
        x[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double err = fabs(fd - dx[i]) / fmax(1.0, fabs(fd));
        if (err > worst)
            worst = err;
    }
    assert_true(worst < 1e-6);
    /* gradients accumulate: a second backward doubles them */
    double *g2 = calloc(net->n_params, sizeof(double));
    memcpy(g2, grad, net->n_params * sizeof(double));
    net_loss(net, ws, x, B, target, which, dout);
    assert_int_equal(nn_mlp_backward(net, ws, dout, g2, NULL), CL_OK);
    for (size_t i = 0; i < net->n_params; i++)
        assert_true(fabs(g2[i] - 2 * grad[i]) <= 1e-12 * fmax(1.0, fabs(grad[i])));
    free(g2);
    free(grad);
    nn_mlp_ws_free(ws);
    nn_mlp_free(net);
}

static void test_grad_relu_identity_mse(void **state) { (void)state; check_gradients(NN_ACT_RELU, NN_ACT_IDENTITY, 0); }
static void test_grad_relu_tanh_mse(void **state) { (void)state; check_gradients(NN_ACT_RELU, NN_ACT_TANH, 0); }
static void test_grad_tanh_identity_huber(void **state) { (void)state; check_gradients(NN_ACT_TANH, NN_ACT_IDENTITY, 1); }
static void test_grad_relu_identity_huber(void **state) { (void)state; check_gradients(NN_ACT_RELU, NN_ACT_IDENTITY, 1); }
static void test_grad_poly2_identity_mse(void **state) { (void)state; check_gradients(NN_ACT_POLY2, NN_ACT_IDENTITY, 0); }
static void test_grad_poly2_identity_huber(void **state) { (void)state; check_gradients(NN_ACT_POLY2, NN_ACT_IDENTITY, 1); }
static void test_grad_poly2_tanh_mse(void **state) { (void)state; check_gradients(NN_ACT_POLY2, NN_ACT_TANH, 0); }
static void test_grad_poly2_poly2_mse(void **state) { (void)state; check_gradients(NN_ACT_POLY2, NN_ACT_POLY2, 0); }
static void test_grad_relu_poly2_huber(void **state) { (void)state; check_gradients(NN_ACT_RELU, NN_ACT_POLY2, 1); }
static void test_grad_poly2_squash3_mse(void **state) { (void)state; check_gradients(NN_ACT_POLY2, NN_ACT_SQUASH3, 0); }
static void test_grad_poly2_squash5_mse(void **state) { (void)state; check_gradients(NN_ACT_POLY2, NN_ACT_SQUASH5, 0); }
static void test_grad_relu_squash3_huber(void **state) { (void)state; check_gradients(NN_ACT_RELU, NN_ACT_SQUASH3, 1); }

/* the HE networks' activation: nn_relu_quadratic(b) without its constant */
static nn_poly he_act(double b)
{
    nn_poly p = nn_relu_quadratic(b);
    p.c[0] = 0.0;
    return p;
}

/* NN_ACT_POLY2 applies exactly nn_poly_eval of the HE networks' polynomial
 * to every pre-activation, in hidden layers and at the output. */
static void test_poly2_forward(void **state)
{
    (void)state;
    uint64_t seed = 21;
    const double b = 2.5;
    const nn_poly p = he_act(b);
    /* a single layer: the POLY2 output against the identity output, elementwise and exact */
    nn_mlp *lin, *pol;
    assert_int_equal(nn_mlp_create(5, NULL, 0, 13, NN_ACT_RELU, NN_ACT_IDENTITY, &lin), CL_OK);
    assert_int_equal(nn_mlp_create(5, NULL, 0, 13, NN_ACT_RELU, NN_ACT_POLY2, &pol), CL_OK);
    nn_mlp_init_default(lin, uniform01, &seed);
    assert_int_equal(nn_mlp_copy_params(pol, lin), CL_ERR_PARAMS); /* other activation */
    memcpy(pol->params, lin->params, lin->n_params * sizeof(double));
    const int B = 9;
    nn_mlp_ws *wl, *wp, *wrong;
    assert_int_equal(nn_mlp_ws_create(lin, B, &wl), CL_OK);
    assert_int_equal(nn_mlp_ws_create(pol, B, &wp), CL_OK);
    double x[9 * 5];
    for (int i = 0; i < B * 5; i++)
        x[i] = 6.0 * uniform01(&seed) - 3.0;
    /* no bound yet: no forward pass */
    assert_null(nn_mlp_forward(pol, wp, x, B));
    assert_int_equal(nn_mlp_set_act_bound(pol, 0.0), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_set_act_bound(pol, -1.0), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_set_act_bound(pol, NAN), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_set_act_bound(pol, INFINITY), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_set_act_bound(NULL, 1.0), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_set_act_bound(pol, b), CL_OK);
    assert_true(pol->act_bound == b);
    /* a workspace made for the identity network keeps no pre-activations */
    assert_int_equal(nn_mlp_ws_create(lin, B, &wrong), CL_OK);
    assert_null(nn_mlp_forward(pol, wrong, x, B));
    nn_mlp_ws_free(wrong);
    const double *z = nn_mlp_forward(lin, wl, x, B);
    const double *y = nn_mlp_forward(pol, wp, x, B);
    assert_non_null(z);
    assert_non_null(y);
    for (int i = 0; i < B * 13; i++) {
        assert_true(y[i] == nn_poly_eval(&p, z[i]));
        /* and that polynomial is x/2 + x^2/(2b) */
        assert_true(fabs(y[i] - (z[i] / 2 + z[i] * z[i] / (2 * b))) <= 1e-14 * fmax(1.0, fabs(y[i])));
    }
    nn_mlp_ws_free(wl);
    nn_mlp_ws_free(wp);
    nn_mlp_free(lin);
    nn_mlp_free(pol);

    /* hidden POLY2 layers (wide, for the GEMM tiles) against a naive evaluation */
    const int widths[2] = {37, 20};
    nn_mlp *net;
    assert_int_equal(nn_mlp_create(4, widths, 2, 3, NN_ACT_POLY2, NN_ACT_IDENTITY, &net), CL_OK);
    nn_mlp_init_default(net, uniform01, &seed);
    assert_int_equal(nn_mlp_set_act_bound(net, b), CL_OK);
    nn_mlp_ws *ws;
    assert_int_equal(nn_mlp_ws_create(net, B, &ws), CL_OK);
    y = nn_mlp_forward(net, ws, x, B);
    assert_non_null(y);
    for (int r = 0; r < B; r++) {
        double cur[64], nxt[64];
        memcpy(cur, x + r * 4, 4 * sizeof(double));
        for (int l = 0; l < net->n_layers; l++) {
            int n = net->sizes[l], m = net->sizes[l + 1];
            for (int j = 0; j < m; j++) {
                double s = net->params[net->b_off[l] + (size_t)j];
                for (int k = 0; k < n; k++)
                    s += cur[k] * net->params[net->w_off[l] + (size_t)k * m + (size_t)j];
                nxt[j] = l + 1 < net->n_layers ? nn_poly_eval(&p, s) : s;
            }
            memcpy(cur, nxt, (size_t)m * sizeof(double));
        }
        for (int j = 0; j < 3; j++)
            assert_true(fabs(cur[j] - y[r * 3 + j]) < 1e-12);
    }
    /* one row at a time (the policy's path) gives the same */
    double yall[9 * 3];
    memcpy(yall, y, sizeof yall);
    for (int r = 0; r < B; r++) {
        const double *y1 = nn_mlp_forward(net, ws, x + r * 4, 1);
        for (int j = 0; j < 3; j++)
            assert_true(fabs(y1[j] - yall[r * 3 + j]) < 1e-12);
    }
    nn_mlp_ws_free(ws);
    nn_mlp_free(net);
}

/* The bound is part of a POLY2 network's architecture. */
static void test_poly2_same_arch(void **state)
{
    (void)state;
    const int w[1] = {4};
    nn_mlp *a, *b, *r1, *r2;
    assert_int_equal(nn_mlp_create(2, w, 1, 1, NN_ACT_POLY2, NN_ACT_IDENTITY, &a), CL_OK);
    assert_int_equal(nn_mlp_create(2, w, 1, 1, NN_ACT_POLY2, NN_ACT_IDENTITY, &b), CL_OK);
    assert_int_equal(nn_mlp_create(2, w, 1, 1, NN_ACT_RELU, NN_ACT_IDENTITY, &r1), CL_OK);
    assert_int_equal(nn_mlp_create(2, w, 1, 1, NN_ACT_RELU, NN_ACT_IDENTITY, &r2), CL_OK);
    assert_true(nn_mlp_uses_poly2(a) && !nn_mlp_uses_poly2(r1));
    assert_int_equal(nn_mlp_set_act_bound(a, 4.0), CL_OK);
    assert_int_equal(nn_mlp_set_act_bound(b, 2.0), CL_OK);
    assert_false(nn_mlp_same_arch(a, b));
    assert_int_equal(nn_mlp_copy_params(b, a), CL_ERR_PARAMS);
    assert_int_equal(nn_mlp_polyak(b, a, 0.5), CL_ERR_PARAMS);
    assert_int_equal(nn_mlp_set_act_bound(b, 4.0), CL_OK);
    assert_true(nn_mlp_same_arch(a, b));
    a->params[0] = 1.0;
    assert_int_equal(nn_mlp_polyak(b, a, 0.5), CL_OK);
    assert_true(b->params[0] == 0.5);
    assert_false(nn_mlp_same_arch(a, r1));
    /* the bound does not matter to networks without POLY2 */
    assert_int_equal(nn_mlp_set_act_bound(r1, 7.0), CL_OK);
    assert_true(nn_mlp_same_arch(r1, r2));
    nn_mlp_free(a);
    nn_mlp_free(b);
    nn_mlp_free(r1);
    nn_mlp_free(r2);
}

/* NN_ACT_SQUASH3/5 apply exactly nn_poly_eval of nn_squash_poly (HE-TD3's
 * actor output) to every output pre-activation; that polynomial is f_k(z/A). */
static void test_squash_forward(void **state)
{
    (void)state;
    uint64_t seed = 23;
    const double A = 1.5;
    const int B = 9;
    double x[9 * 5];
    for (int i = 0; i < B * 5; i++)
        x[i] = 6.0 * uniform01(&seed) - 3.0;
    nn_mlp *lin;
    assert_int_equal(nn_mlp_create(5, NULL, 0, 13, NN_ACT_RELU, NN_ACT_IDENTITY, &lin), CL_OK);
    nn_mlp_init_default(lin, uniform01, &seed);
    nn_mlp_ws *wl;
    assert_int_equal(nn_mlp_ws_create(lin, B, &wl), CL_OK);
    const double *z = nn_mlp_forward(lin, wl, x, B);
    assert_non_null(z);
    int past = 0;
    for (int k = 0; k < 2; k++) {
        const nn_act act = k == 0 ? NN_ACT_SQUASH3 : NN_ACT_SQUASH5;
        const nn_poly f = nn_squash_poly(k == 0 ? 3 : 5, A);
        assert_int_equal(f.degree, k == 0 ? 3 : 5);
        nn_mlp *sq;
        nn_mlp_ws *ws;
        assert_int_equal(nn_mlp_create(5, NULL, 0, 13, NN_ACT_RELU, act, &sq), CL_OK);
        assert_true(nn_mlp_uses_squash(sq) && !nn_mlp_uses_poly2(sq));
        assert_int_equal(nn_mlp_copy_params(sq, lin), CL_ERR_PARAMS); /* other activation */
        memcpy(sq->params, lin->params, lin->n_params * sizeof(double));
        assert_int_equal(nn_mlp_ws_create(sq, B, &ws), CL_OK);
        /* no bound yet: no forward pass, no backward pass */
        assert_null(nn_mlp_forward(sq, ws, x, B));
        assert_int_equal(nn_mlp_set_squash_bound(sq, 0.0), CL_ERR_INVALID);
        assert_int_equal(nn_mlp_set_squash_bound(sq, -0.0), CL_ERR_INVALID);
        assert_int_equal(nn_mlp_set_squash_bound(sq, -2.0), CL_ERR_INVALID);
        assert_int_equal(nn_mlp_set_squash_bound(sq, NAN), CL_ERR_INVALID);
        assert_int_equal(nn_mlp_set_squash_bound(sq, INFINITY), CL_ERR_INVALID);
        assert_int_equal(nn_mlp_set_squash_bound(sq, -INFINITY), CL_ERR_INVALID);
        assert_int_equal(nn_mlp_set_squash_bound(NULL, 1.0), CL_ERR_INVALID);
        assert_true(sq->squash_bound == 0.0);
        /* the activation bound is not the squash bound */
        assert_int_equal(nn_mlp_set_act_bound(sq, A), CL_OK);
        assert_null(nn_mlp_forward(sq, ws, x, B));
        assert_int_equal(nn_mlp_set_squash_bound(sq, A), CL_OK);
        assert_true(sq->squash_bound == A);
        const double *y = nn_mlp_forward(sq, ws, x, B);
        assert_non_null(y);
        for (int i = 0; i < B * 13; i++) {
            assert_true(y[i] == nn_poly_eval(&f, z[i]));
            const double u = z[i] / A;
            const double want = k == 0 ? (3 * u - u * u * u) / 2
                                       : (15 * u - 10 * u * u * u + 3 * u * u * u * u * u) / 8;
            assert_true(fabs(y[i] - want) <= 1e-13 * fmax(1.0, fabs(want)));
            past += fabs(z[i]) > A;
        }
        /* f(+-A) = +-1, f(0) = 0, f'(+-A) = 0 */
        const nn_poly df = nn_poly_derivative(&f);
        assert_true(fabs(nn_poly_eval(&f, A) - 1.0) < 1e-15 && fabs(nn_poly_eval(&f, -A) + 1.0) < 1e-15);
        assert_true(nn_poly_eval(&f, 0.0) == 0.0);
        assert_true(fabs(nn_poly_eval(&df, A)) < 1e-15 && fabs(nn_poly_eval(&df, -A)) < 1e-15);
        /* the bound is part of the architecture */
        nn_mlp *other;
        assert_int_equal(nn_mlp_create(5, NULL, 0, 13, NN_ACT_RELU, act, &other), CL_OK);
        assert_int_equal(nn_mlp_set_act_bound(other, 7.0), CL_OK); /* ignored: no POLY2 */
        assert_int_equal(nn_mlp_set_squash_bound(other, 2 * A), CL_OK);
        assert_false(nn_mlp_same_arch(sq, other));
        assert_int_equal(nn_mlp_copy_params(other, sq), CL_ERR_PARAMS);
        assert_int_equal(nn_mlp_polyak(other, sq, 0.5), CL_ERR_PARAMS);
        assert_int_equal(nn_mlp_set_squash_bound(other, A), CL_OK);
        assert_true(nn_mlp_same_arch(sq, other));
        assert_int_equal(nn_mlp_copy_params(other, sq), CL_OK);
        nn_mlp_free(other);
        /* and not of networks without a squash */
        assert_int_equal(nn_mlp_set_squash_bound(lin, 3.0), CL_OK);
        nn_mlp *lin2;
        assert_int_equal(nn_mlp_create(5, NULL, 0, 13, NN_ACT_RELU, NN_ACT_IDENTITY, &lin2), CL_OK);
        assert_true(nn_mlp_same_arch(lin, lin2));
        nn_mlp_free(lin2);
        nn_mlp_ws_free(ws);
        nn_mlp_free(sq);
    }
    assert_true(past > 0); /* some outputs beyond the bound, where f leaves [-1, 1] */
    nn_mlp_ws_free(wl);
    nn_mlp_free(lin);

    /* POLY2 hidden layers and a squash output, as HE-TD3's actor, against a naive evaluation */
    const int widths[2] = {37, 20};
    nn_mlp *net;
    assert_int_equal(nn_mlp_create(4, widths, 2, 3, NN_ACT_POLY2, NN_ACT_SQUASH5, &net), CL_OK);
    nn_mlp_init_default(net, uniform01, &seed);
    assert_int_equal(nn_mlp_set_act_bound(net, 2.5), CL_OK);
    assert_int_equal(nn_mlp_set_squash_bound(net, A), CL_OK);
    const nn_poly p = he_act(2.5), f = nn_squash_poly(5, A);
    nn_mlp_ws *ws;
    assert_int_equal(nn_mlp_ws_create(net, B, &ws), CL_OK);
    const double *y = nn_mlp_forward(net, ws, x, B);
    assert_non_null(y);
    for (int r = 0; r < B; r++) {
        double cur[64], nxt[64];
        memcpy(cur, x + r * 4, 4 * sizeof(double));
        for (int l = 0; l < net->n_layers; l++) {
            int n = net->sizes[l], m = net->sizes[l + 1];
            for (int j = 0; j < m; j++) {
                double s = net->params[net->b_off[l] + (size_t)j];
                for (int k = 0; k < n; k++)
                    s += cur[k] * net->params[net->w_off[l] + (size_t)k * m + (size_t)j];
                nxt[j] = nn_poly_eval(l + 1 < net->n_layers ? &p : &f, s);
            }
            memcpy(cur, nxt, (size_t)m * sizeof(double));
        }
        for (int j = 0; j < 3; j++)
            assert_true(fabs(cur[j] - y[r * 3 + j]) < 1e-12);
    }
    nn_mlp_ws_free(ws);
    nn_mlp_free(net);
}

/* Wide layers exercise the 4 x 8 GEMM tiles and their remainders. */
static void test_forward_matches_naive(void **state)
{
    (void)state;
    uint64_t seed = 7;
    const int widths[2] = {37, 70};
    nn_mlp *net;
    assert_int_equal(nn_mlp_create(5, widths, 2, 3, NN_ACT_RELU, NN_ACT_IDENTITY, &net), CL_OK);
    nn_mlp_init_default(net, uniform01, &seed);
    nn_mlp_ws *ws;
    const int B = 11;
    assert_int_equal(nn_mlp_ws_create(net, B, &ws), CL_OK);
    double x[11 * 5];
    for (int i = 0; i < B * 5; i++)
        x[i] = uniform01(&seed) * 2 - 1;
    const double *y = nn_mlp_forward(net, ws, x, B);
    assert_non_null(y);
    for (int b = 0; b < B; b++) {
        double cur[128], nxt[128];
        memcpy(cur, x + b * 5, 5 * sizeof(double));
        for (int l = 0; l < net->n_layers; l++) {
            int n = net->sizes[l], m = net->sizes[l + 1];
            for (int j = 0; j < m; j++) {
                double s = net->params[net->b_off[l] + (size_t)j];
                for (int k = 0; k < n; k++)
                    s += cur[k] * net->params[net->w_off[l] + (size_t)k * m + (size_t)j];
                nxt[j] = (l + 1 < net->n_layers && s < 0) ? 0 : s;
            }
            memcpy(cur, nxt, (size_t)m * sizeof(double));
        }
        for (int j = 0; j < 3; j++)
            assert_true(fabs(cur[j] - y[b * 3 + j]) < 1e-12);
    }
    /* the same rows one and three at a time (the few-rows kernel) */
    double yall[11 * 3];
    memcpy(yall, y, sizeof yall);
    for (int b = 0; b + 3 <= B; b += 3) {
        const double *y3 = nn_mlp_forward(net, ws, x + b * 5, 3);
        for (int j = 0; j < 9; j++)
            assert_true(fabs(y3[j] - yall[b * 3 + j]) < 1e-12);
        const double *y1 = nn_mlp_forward(net, ws, x + b * 5, 1);
        for (int j = 0; j < 3; j++)
            assert_true(fabs(y1[j] - yall[b * 3 + j]) < 1e-12);
    }
    /* batch out of range */
    assert_null(nn_mlp_forward(net, ws, x, B + 1));
    assert_null(nn_mlp_forward(net, ws, x, 0));
    nn_mlp_ws_free(ws);
    nn_mlp_free(net);
}

/* One linear layer y = x W + b exercises each GEMM of the layer directly:
 * the forward product, dW = X^T dY (accumulated onto what grad holds) and
 * dX = dY W^T. Shapes cover every tile of both kernels (4-wide, and 8-wide
 * with AVX-512) and their remainders: rows 1..3 (the few-rows kernel), 4, 7,
 * 8, 9 and 19; widths from 1 to 70 across multiples of 8 and 16 and the masked
 * tails. The reference sums each element in the order k = 0, 1, ...; a
 * compiler that fuses products into FMAs may differ in the last bits, hence
 * the relative bound. */
static void check_linear_layer(int B, int n, int m, uint64_t *seed)
{
    nn_mlp *net;
    assert_int_equal(nn_mlp_create(n, NULL, 0, m, NN_ACT_RELU, NN_ACT_IDENTITY, &net), CL_OK);
    nn_mlp_init_default(net, uniform01, seed);
    nn_mlp_ws *ws;
    assert_int_equal(nn_mlp_ws_create(net, B, &ws), CL_OK);
    const size_t nb = (size_t)B;
    double *x = malloc(nb * (size_t)n * sizeof(double));
    double *dy = malloc(nb * (size_t)m * sizeof(double));
    double *grad = malloc(net->n_params * sizeof(double));
    double *grad0 = malloc(net->n_params * sizeof(double));
    double *dx = malloc(nb * (size_t)n * sizeof(double));
    assert_true(x && dy && grad && grad0 && dx);
    for (size_t i = 0; i < nb * (size_t)n; i++)
        x[i] = uniform01(seed) * 2 - 1;
    for (size_t i = 0; i < nb * (size_t)m; i++)
        dy[i] = uniform01(seed) * 2 - 1;
    for (size_t i = 0; i < net->n_params; i++)
        grad0[i] = grad[i] = uniform01(seed) - 0.5;
    const double *W = net->params + net->w_off[0], *bias = net->params + net->b_off[0];
#define NEAR(a, b) assert_true(fabs((a) - (b)) <= 1e-13 * (1.0 + fabs(b)))
    const double *y = nn_mlp_forward(net, ws, x, B);
    assert_non_null(y);
    for (int r = 0; r < B; r++)
        for (int j = 0; j < m; j++) {
            double s = bias[j];
            for (int k = 0; k < n; k++)
                s += x[(size_t)r * n + k] * W[(size_t)k * m + j];
            NEAR(y[(size_t)r * m + j], s);
        }
    assert_int_equal(nn_mlp_backward(net, ws, dy, grad, dx), CL_OK);
    const double *gW = grad + net->w_off[0], *gb = grad + net->b_off[0];
    const double *gW0 = grad0 + net->w_off[0], *gb0 = grad0 + net->b_off[0];
    for (int k = 0; k < n; k++)
        for (int j = 0; j < m; j++) {
            double s = gW0[(size_t)k * m + j];
            for (int r = 0; r < B; r++)
                s += x[(size_t)r * n + k] * dy[(size_t)r * m + j];
            NEAR(gW[(size_t)k * m + j], s);
        }
    for (int j = 0; j < m; j++) {
        double s = gb0[j];
        for (int r = 0; r < B; r++)
            s += dy[(size_t)r * m + j];
        NEAR(gb[j], s);
    }
    for (int r = 0; r < B; r++)
        for (int k = 0; k < n; k++) {
            double s = 0.0;
            for (int j = 0; j < m; j++)
                s += dy[(size_t)r * m + j] * W[(size_t)k * m + j];
            NEAR(dx[(size_t)r * n + k], s);
        }
#undef NEAR
    free(x);
    free(dy);
    free(grad);
    free(grad0);
    free(dx);
    nn_mlp_ws_free(ws);
    nn_mlp_free(net);
}

static void test_gemm_tiles(void **state)
{
    (void)state;
    uint64_t seed = 11;
    const int rows[] = {1, 2, 3, 4, 7, 8, 9, 19};
    const int widths[] = {1, 3, 4, 5, 8, 12, 15, 16, 17, 24, 31, 32, 40, 63, 64, 70};
    const int nr = (int)(sizeof rows / sizeof rows[0]), nw = (int)(sizeof widths / sizeof widths[0]);
    for (int a = 0; a < nr; a++)
        for (int b = 0; b < nw; b++)
            check_linear_layer(rows[a], widths[(a + b) % nw], widths[b], &seed);
    /* the few-rows path's 64-column blocks */
    check_linear_layer(1, 9, 130, &seed);
    check_linear_layer(3, 130, 67, &seed);
}

static void test_losses(void **state)
{
    (void)state;
    double p[4] = {0.0, 2.0, -3.0, 0.5}, t[4] = {0.5, 0.0, 0.0, 0.5}, d[4];
    /* MSE: (0.25 + 4 + 9 + 0) / 4 */
    assert_true(fabs(nn_loss_mse(p, t, 4, d) - 13.25 / 4) < 1e-15);
    assert_true(fabs(d[0] - (-0.25)) < 1e-15 && fabs(d[2] - (-1.5)) < 1e-15);
    /* Huber beta 1: 0.125, 1.5, 2.5, 0 */
    assert_true(fabs(nn_loss_huber(p, t, 4, 1.0, d) - 4.125 / 4) < 1e-15);
    assert_true(fabs(d[0] - (-0.125)) < 1e-15);
    assert_true(fabs(d[1] - 0.25) < 1e-15);
    assert_true(fabs(d[2] - (-0.25)) < 1e-15);
    assert_true(d[3] == 0.0);
}

static void test_adam_hand_computed(void **state)
{
    (void)state;
    nn_adam *opt;
    assert_int_equal(nn_adam_create(2, 0.1, 0.9, 0.999, 1e-8, &opt), CL_OK);
    double p[2] = {1.0, -2.0};
    double g1[2] = {0.5, -3.0}, g2[2] = {-1.0, 0.25};
    nn_adam_step(opt, p, g1);
    /* step 1: m = 0.1 g, v = 0.001 g^2, p -= 0.1 * sign(g) / (1 + 1e-8 / |g|) */
    assert_true(fabs(p[0] - 0.900000002) < 1e-15);
    assert_true(fabs(p[1] - (-1.9000000003333333)) < 1e-15);
    nn_adam_step(opt, p, g2);
    assert_true(fabs(p[0] - 0.9366103542405654) < 1e-14);
    assert_true(fabs(p[1] - (-1.8394086508071494)) < 1e-14);
    assert_int_equal(opt->t, 2);
    nn_adam_reset(opt);
    assert_int_equal(opt->t, 0);
    assert_true(opt->m[0] == 0.0 && opt->v[1] == 0.0);
    nn_adam_free(opt);
    assert_int_equal(nn_adam_create(2, 0.1, 1.0, 0.999, 1e-8, &opt), CL_ERR_INVALID);
}

static void test_sgd_clip_polyak(void **state)
{
    (void)state;
    double p[3] = {1, 2, 3}, g[3] = {3, 0, 4};
    nn_sgd_step(p, g, 3, 0.5);
    assert_true(p[0] == -0.5 && p[1] == 2 && p[2] == 1);
    double n = nn_clip_grad_norm(g, 3, 1.0);
    assert_true(fabs(n - 5.0) < 1e-15);
    assert_true(fabs(sqrt(g[0] * g[0] + g[2] * g[2]) - 1.0) < 1e-6);
    double h[2] = {0.3, 0.4};
    nn_clip_grad_norm(h, 2, 10.0);
    assert_true(h[0] == 0.3 && h[1] == 0.4);

    uint64_t seed = 3;
    const int w[1] = {4};
    nn_mlp *a, *b, *c;
    assert_int_equal(nn_mlp_create(2, w, 1, 1, NN_ACT_RELU, NN_ACT_IDENTITY, &a), CL_OK);
    assert_int_equal(nn_mlp_create(2, w, 1, 1, NN_ACT_RELU, NN_ACT_IDENTITY, &b), CL_OK);
    assert_int_equal(nn_mlp_create(2, w, 1, 2, NN_ACT_RELU, NN_ACT_IDENTITY, &c), CL_OK);
    nn_mlp_init_default(a, uniform01, &seed);
    nn_mlp_init_default(b, uniform01, &seed);
    double b0 = b->params[0], a0 = a->params[0];
    assert_int_equal(nn_mlp_polyak(b, a, 0.25), CL_OK);
    assert_true(fabs(b->params[0] - (0.75 * b0 + 0.25 * a0)) < 1e-15);
    assert_int_equal(nn_mlp_polyak(b, a, 1.0), CL_OK);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(double));
    assert_int_equal(nn_mlp_polyak(c, a, 0.5), CL_ERR_PARAMS);
    assert_int_equal(nn_mlp_copy_params(c, a), CL_ERR_PARAMS);
    nn_mlp_free(a);
    nn_mlp_free(b);
    nn_mlp_free(c);
}

static void test_create_invalid(void **state)
{
    (void)state;
    nn_mlp *net = (nn_mlp *)1;
    const int bad[1] = {0};
    assert_int_equal(nn_mlp_create(0, NULL, 0, 1, NN_ACT_RELU, NN_ACT_IDENTITY, &net), CL_ERR_INVALID);
    assert_null(net);
    assert_int_equal(nn_mlp_create(2, bad, 1, 1, NN_ACT_RELU, NN_ACT_IDENTITY, &net), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_create(2, NULL, NN_MLP_MAX_LAYERS, 1, NN_ACT_RELU, NN_ACT_IDENTITY, &net), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_create(2, NULL, 0, 1, (nn_act)9, NN_ACT_IDENTITY, &net), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_create(2, NULL, 0, 1, NN_ACT_RELU, (nn_act)(NN_ACT_SQUASH5 + 1), &net), CL_ERR_INVALID);
    /* the squashes are output activations only */
    assert_int_equal(nn_mlp_create(2, NULL, 0, 1, NN_ACT_SQUASH3, NN_ACT_TANH, &net), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_create(2, NULL, 0, 1, NN_ACT_SQUASH5, NN_ACT_IDENTITY, &net), CL_ERR_INVALID);
    assert_null(net);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64d(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* a round trip of net, every truncation refused; returns the bytes */
static uint8_t *round_trip(const nn_mlp *net, size_t *size)
{
    size_t sz = nn_mlp_serialized_size(net), wr = 0, used = 0;
    uint8_t *buf = malloc(sz);
    nn_mlp *back;
    assert_int_equal(nn_mlp_serialize(net, buf, sz - 1, &wr), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_serialize(net, buf, sz, &wr), CL_OK);
    assert_int_equal(wr, sz);
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_OK);
    assert_int_equal(used, sz);
    assert_true(nn_mlp_same_arch(net, back));
    assert_true(back->hidden_act == net->hidden_act && back->out_act == net->out_act);
    assert_memory_equal(net->params, back->params, net->n_params * sizeof(double));
    if (nn_mlp_uses_poly2(net))
        assert_true(back->act_bound == net->act_bound);
    nn_mlp_free(back);
    for (size_t len = 0; len < sz; len++) {
        back = (nn_mlp *)1;
        assert_int_equal(nn_mlp_deserialize(buf, len, &used, &back), CL_ERR_TRUNCATED);
        assert_null(back);
    }
    *size = sz;
    return buf;
}

static void test_serialize_round_trip(void **state)
{
    (void)state;
    uint64_t seed = 11;
    const int w[2] = {6, 4};
    nn_mlp *net, *back;
    size_t sz, used;
    assert_int_equal(nn_mlp_create(3, w, 2, 2, NN_ACT_RELU, NN_ACT_TANH, &net), CL_OK);
    nn_mlp_init_default(net, uniform01, &seed);
    uint8_t *buf = round_trip(net, &sz);
    /* header: magic, version, 2 + 1 layers, ReLU, tanh, no bounds */
    assert_memory_equal(buf, "NMLP", 4);
    assert_int_equal(buf[4], NN_MLP_FORMAT_VERSION);
    assert_int_equal(buf[8], 3);
    /* impossible architectures, NaN weight, activation out of range */
    buf[8] = 200;
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
    buf[8] = 0;
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
    buf[8] = 3;
    buf[12] = 4;
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
    buf[12] = 1;
    buf[16] = 0xff;
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
    buf[16] = 2;
    put64d(buf + 20, 1.0); /* a bound without POLY2 */
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
    put64d(buf + 20, 0.0);
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_OK);
    nn_mlp_free(back);
    /* unknown block versions, a bad magic */
    buf[4] = 4;
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_VERSION);
    buf[4] = 1;
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_VERSION);
    buf[4] = NN_MLP_FORMAT_VERSION;
    buf[0] = 'X';
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
    buf[0] = 'N';
    memset(buf + sz - 8, 0xff, 8);
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
    assert_null(back);

    /* a version 1 block (older builds: no magic, version nor bounds) still reads */
    size_t sz1 = sz - 24;
    uint8_t *old = malloc(sz1);
    memcpy(old, buf + 8, 12);             /* n_layers, hidden_act, out_act */
    memcpy(old + 12, buf + 36, sz - 36);  /* sizes, params */
    assert_int_equal(nn_mlp_deserialize(old, sz1, &used, &back), CL_ERR_FORMAT); /* NaN weight */
    put64d(old + sz1 - 8, net->params[net->n_params - 1]);
    assert_int_equal(nn_mlp_deserialize(old, sz1, &used, &back), CL_OK);
    assert_int_equal(used, sz1);
    assert_true(nn_mlp_same_arch(net, back));
    assert_memory_equal(net->params, back->params, net->n_params * sizeof(double));
    nn_mlp_free(back);
    for (size_t len = 0; len < sz1; len++)
        assert_int_equal(nn_mlp_deserialize(old, len, &used, &back), CL_ERR_TRUNCATED);
    put32(old + 4, NN_ACT_POLY2); /* version 1 had no POLY2 (and no bound) */
    assert_int_equal(nn_mlp_deserialize(old, sz1, &used, &back), CL_ERR_FORMAT);
    put32(old, 0);
    assert_int_equal(nn_mlp_deserialize(old, sz1, &used, &back), CL_ERR_FORMAT);
    assert_null(back);
    free(old);
    free(buf);
    nn_mlp_free(net);
}

/* Two networks (4 inputs, 2 outputs) give bit-identical outputs on 3 random rows. */
static void assert_same_outputs(const nn_mlp *a, const nn_mlp *b, uint64_t *seed)
{
    nn_mlp_ws *w1, *w2;
    assert_int_equal(nn_mlp_ws_create(a, 3, &w1), CL_OK);
    assert_int_equal(nn_mlp_ws_create(b, 3, &w2), CL_OK);
    double x[12];
    for (int i = 0; i < 12; i++)
        x[i] = 4.0 * uniform01(seed) - 2.0;
    const double *y1 = nn_mlp_forward(a, w1, x, 3), *y2 = nn_mlp_forward(b, w2, x, 3);
    assert_non_null(y1);
    assert_non_null(y2);
    assert_memory_equal(y1, y2, 6 * sizeof(double));
    nn_mlp_ws_free(w1);
    nn_mlp_ws_free(w2);
}

static void test_serialize_poly2(void **state)
{
    (void)state;
    uint64_t seed = 12;
    const int w[2] = {8, 5};
    nn_mlp *net, *back;
    size_t sz, used;
    assert_int_equal(nn_mlp_create(4, w, 2, 2, NN_ACT_POLY2, NN_ACT_IDENTITY, &net), CL_OK);
    nn_mlp_init_default(net, uniform01, &seed);
    /* no bound: nothing to write */
    uint8_t tmp[1024];
    assert_true(nn_mlp_serialized_size(net) <= sizeof tmp);
    assert_int_equal(nn_mlp_serialize(net, tmp, sizeof tmp, NULL), CL_ERR_INVALID);
    assert_int_equal(nn_mlp_set_act_bound(net, 4.0), CL_OK);
    uint8_t *buf = round_trip(net, &sz);
    /* the restored network computes the same */
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_OK);
    assert_same_outputs(net, back, &seed);
    nn_mlp_free(back);
    /* a corrupted bound is refused: not finite, zero, negative */
    const double bad[6] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, -4.0};
    for (int i = 0; i < 6; i++) {
        put64d(buf + 20, bad[i]);
        back = (nn_mlp *)1;
        assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
        assert_null(back);
    }
    /* every bit of the bound flipped: refused or a valid positive bound */
    put64d(buf + 20, 4.0);
    for (int bit = 0; bit < 64; bit++) {
        buf[20 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cl_status st = nn_mlp_deserialize(buf, sz, &used, &back);
        if (st == CL_OK) {
            assert_true(isfinite(back->act_bound) && back->act_bound > 0.0);
            nn_mlp_free(back);
        } else {
            assert_int_equal(st, CL_ERR_FORMAT);
        }
        buf[20 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_OK);
    nn_mlp_free(back);
    /* an output POLY2 alone also carries the bound */
    nn_mlp *o;
    assert_int_equal(nn_mlp_create(4, w, 2, 2, NN_ACT_RELU, NN_ACT_POLY2, &o), CL_OK);
    nn_mlp_init_default(o, uniform01, &seed);
    assert_int_equal(nn_mlp_set_act_bound(o, 0.75), CL_OK);
    uint8_t *b2 = round_trip(o, &sz);
    free(b2);
    nn_mlp_free(o);
    free(buf);
    nn_mlp_free(net);
}

/* Version 3 blocks carry the squash bound; squashed networks round-trip bit
 * for bit, malformed blocks are refused. */
static void test_serialize_squash(void **state)
{
    (void)state;
    uint64_t seed = 13;
    const int w[2] = {8, 5};
    for (int k = 0; k < 2; k++) {
        const nn_act act = k == 0 ? NN_ACT_SQUASH3 : NN_ACT_SQUASH5;
        nn_mlp *net, *back;
        size_t sz, used;
        assert_int_equal(nn_mlp_create(4, w, 2, 2, NN_ACT_POLY2, act, &net), CL_OK);
        nn_mlp_init_default(net, uniform01, &seed);
        assert_int_equal(nn_mlp_set_act_bound(net, 1.0), CL_OK);
        /* no squash bound: nothing to write */
        uint8_t tmp[1024];
        assert_true(nn_mlp_serialized_size(net) <= sizeof tmp);
        assert_int_equal(nn_mlp_serialize(net, tmp, sizeof tmp, NULL), CL_ERR_INVALID);
        assert_int_equal(nn_mlp_set_squash_bound(net, 2.0 / 3.0), CL_OK);
        uint8_t *buf = round_trip(net, &sz);
        assert_int_equal(buf[4], 3);
        assert_int_equal(buf[16], act);
        assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_OK);
        assert_true(back->out_act == act && back->squash_bound == net->squash_bound &&
                    back->act_bound == net->act_bound);
        assert_memory_equal(back->params, net->params, net->n_params * sizeof(double));
        /* and computes the same, bit for bit */
        assert_same_outputs(net, back, &seed);
        nn_mlp_free(back);
        /* a squash whose bound is not finite and > 0 */
        const double bad[6] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, -2.0};
        for (int i = 0; i < 6; i++) {
            put64d(buf + 28, bad[i]);
            back = (nn_mlp *)1;
            assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
            assert_null(back);
        }
        put64d(buf + 28, 2.0 / 3.0);
        /* a squash as hidden activation; activations past SQUASH5 */
        put32(buf + 12, act);
        assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
        put32(buf + 12, NN_ACT_POLY2);
        put32(buf + 16, 6);
        assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
        /* a squash bound without a squash */
        put32(buf + 16, NN_ACT_TANH);
        assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_ERR_FORMAT);
        put64d(buf + 28, 0.0);
        assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_OK);
        assert_true(back->out_act == NN_ACT_TANH && back->squash_bound == 0.0);
        nn_mlp_free(back);
        put32(buf + 16, act);
        put64d(buf + 28, 2.0 / 3.0);
        assert_int_equal(nn_mlp_deserialize(buf, sz, &used, &back), CL_OK);
        nn_mlp_free(back);
        /* the same bytes as a version 2 block: version 2 had no squash */
        const size_t sz2 = sz - 8;
        uint8_t *v2 = malloc(sz2);
        memcpy(v2, buf, 28);
        memcpy(v2 + 28, buf + 36, sz - 36);
        put32(v2 + 4, 2);
        assert_int_equal(nn_mlp_deserialize(v2, sz2, &used, &back), CL_ERR_FORMAT);
        free(v2);
        free(buf);
        nn_mlp_free(net);
    }
    /* a network without a squash writes a zero squash bound */
    nn_mlp *t;
    size_t sz;
    assert_int_equal(nn_mlp_create(4, w, 2, 2, NN_ACT_RELU, NN_ACT_TANH, &t), CL_OK);
    assert_int_equal(nn_mlp_set_squash_bound(t, 5.0), CL_OK);
    uint8_t *b = round_trip(t, &sz);
    for (int i = 28; i < 36; i++)
        assert_int_equal(b[i], 0);
    free(b);
    nn_mlp_free(t);
}

/* A version 2 block (older builds: no squash bound), built by hand, still
 * reads: a POLY2 network with a tanh output. */
static void test_serialize_version2(void **state)
{
    (void)state;
    uint64_t seed = 14;
    const int w[2] = {6, 4};
    nn_mlp *net, *back;
    assert_int_equal(nn_mlp_create(3, w, 2, 2, NN_ACT_POLY2, NN_ACT_TANH, &net), CL_OK);
    nn_mlp_init_default(net, uniform01, &seed);
    assert_int_equal(nn_mlp_set_act_bound(net, 2.0), CL_OK);
    /* magic, version 2, n_layers, hidden_act, out_act, act_bound, sizes, params */
    const size_t sz = 4 * 5 + 8 + 4 * 4 + 8 * net->n_params;
    uint8_t *v2 = malloc(sz);
    memcpy(v2, "NMLP", 4);
    put32(v2 + 4, 2);
    put32(v2 + 8, 3);
    put32(v2 + 12, NN_ACT_POLY2);
    put32(v2 + 16, NN_ACT_TANH);
    put64d(v2 + 20, 2.0);
    const uint32_t sizes[4] = {3, 6, 4, 2};
    for (int l = 0; l < 4; l++)
        put32(v2 + 28 + 4 * l, sizes[l]);
    for (size_t i = 0; i < net->n_params; i++)
        put64d(v2 + 44 + 8 * i, net->params[i]);
    size_t used = 0;
    assert_int_equal(nn_mlp_deserialize(v2, sz, &used, &back), CL_OK);
    assert_int_equal(used, sz);
    assert_true(nn_mlp_same_arch(net, back));
    assert_true(back->act_bound == 2.0 && back->squash_bound == 0.0);
    assert_memory_equal(net->params, back->params, net->n_params * sizeof(double));
    nn_mlp_free(back);
    for (size_t len = 0; len < sz; len++)
        assert_int_equal(nn_mlp_deserialize(v2, len, &used, &back), CL_ERR_TRUNCATED);
    /* version 2's own checks stay: a bound without POLY2 */
    put32(v2 + 12, NN_ACT_RELU);
    assert_int_equal(nn_mlp_deserialize(v2, sz, &used, &back), CL_ERR_FORMAT);
    assert_null(back);
    free(v2);
    nn_mlp_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_relu_identity_mse),
        cmocka_unit_test(test_grad_relu_tanh_mse),
        cmocka_unit_test(test_grad_tanh_identity_huber),
        cmocka_unit_test(test_grad_relu_identity_huber),
        cmocka_unit_test(test_grad_poly2_identity_mse),
        cmocka_unit_test(test_grad_poly2_identity_huber),
        cmocka_unit_test(test_grad_poly2_tanh_mse),
        cmocka_unit_test(test_grad_poly2_poly2_mse),
        cmocka_unit_test(test_grad_relu_poly2_huber),
        cmocka_unit_test(test_grad_poly2_squash3_mse),
        cmocka_unit_test(test_grad_poly2_squash5_mse),
        cmocka_unit_test(test_grad_relu_squash3_huber),
        cmocka_unit_test(test_poly2_forward),
        cmocka_unit_test(test_poly2_same_arch),
        cmocka_unit_test(test_squash_forward),
        cmocka_unit_test(test_forward_matches_naive),
        cmocka_unit_test(test_gemm_tiles),
        cmocka_unit_test(test_losses),
        cmocka_unit_test(test_adam_hand_computed),
        cmocka_unit_test(test_sgd_clip_polyak),
        cmocka_unit_test(test_create_invalid),
        cmocka_unit_test(test_serialize_round_trip),
        cmocka_unit_test(test_serialize_poly2),
        cmocka_unit_test(test_serialize_squash),
        cmocka_unit_test(test_serialize_version2),
    };
    return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}
