/* HE-friendly nn blocks: polynomials on slots and the HE-compatible Adam,
 * against their scalar twins, their exact counterparts and their error bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "nn/nn_he.h"

static uint64_t lcg = 12345;
static double uniform(double lo, double hi)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(lcg >> 11) * 0x1p-53;
}

static const nn_he_adam_config cfg = {.alpha = 0.01, .beta1 = 0.9, .beta2 = 0.999, .delta = 0.01, .prior = 0.01};

/* r tracks the exact (w_t)^-1/2 within the derived bound (docs/he-adam.md). */
static void test_adam_error_bound(void **state)
{
    (void)state;
    const double gmax = 1.0;
    const double bound = nn_he_adam_error_bound(&cfg, gmax);
    assert_true(nn_he_adam_u_max(&cfg, gmax) < 0.11);
    assert_true(bound < 0.004);
    /* adversarial-ish sequences: quiet, spikes at the largest allowed size, drift */
    for (int seq = 0; seq < 4; seq++) {
        double theta = 0, m, r, w = cfg.prior, worst = 0;
        nn_he_adam_init_scalar(&cfg, &m, &r, 1);
        for (long t = 1; t <= 20000; t++) {
            double g;
            switch (seq) {
            case 0: g = uniform(-gmax, gmax); break;
            case 1: g = (t % 500 < 5) ? gmax : 1e-4; break;          /* rare spikes */
            case 2: g = (t < 10000) ? gmax : 0.0; break;             /* loud then silent */
            default: g = gmax * sin(0.001 * (double)t); break;       /* slow drift */
            }
            nn_he_adam_step_scalar(&cfg, t, &theta, &m, &r, &g, 1);
            w = cfg.beta2 * w + (1 - cfg.beta2) * (g * g + cfg.delta);
            double rel = fabs(r * sqrt(w) - 1.0);
            if (rel > worst)
                worst = rel;
        }
        /* the bound is first order in the error; allow 10% for the higher orders */
        assert_true(worst <= 1.1 * bound);
    }
}

/* HE-Adam minimizes like exact Adam with the same floor and prior. */
static void test_adam_optimizes(void **state)
{
    (void)state;
    enum { N = 32 };
    double th_he[N], th_ex[N], m_he[N], r_he[N], m_ex[N], w_ex[N], target[N], scale[N], g[N];
    for (int i = 0; i < N; i++) {
        target[i] = uniform(-1, 1);
        scale[i] = exp(uniform(-3, 1)); /* curvatures over 2 decades: what Adam is for */
        th_he[i] = th_ex[i] = 0;
        m_ex[i] = 0;
        w_ex[i] = cfg.prior;
    }
    nn_he_adam_init_scalar(&cfg, m_he, r_he, N);
    double loss_he = 0, loss_ex = 0, loss0 = 0;
    for (int i = 0; i < N; i++)
        loss0 += scale[i] * target[i] * target[i];
    for (long t = 1; t <= 3000; t++) {
        for (int i = 0; i < N; i++)
            g[i] = fmax(-1, fmin(1, 2 * scale[i] * (th_he[i] - target[i]) + uniform(-0.05, 0.05)));
        nn_he_adam_step_scalar(&cfg, t, th_he, m_he, r_he, g, N);
        const double at = cfg.alpha / (1 - pow(cfg.beta1, (double)t));
        for (int i = 0; i < N; i++) {
            double ge = fmax(-1, fmin(1, 2 * scale[i] * (th_ex[i] - target[i]) + uniform(-0.05, 0.05)));
            m_ex[i] = cfg.beta1 * m_ex[i] + (1 - cfg.beta1) * ge;
            w_ex[i] = cfg.beta2 * w_ex[i] + (1 - cfg.beta2) * (ge * ge + cfg.delta);
            th_ex[i] -= at * m_ex[i] / sqrt(w_ex[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        loss_he += scale[i] * (th_he[i] - target[i]) * (th_he[i] - target[i]);
        loss_ex += scale[i] * (th_ex[i] - target[i]) * (th_ex[i] - target[i]);
    }
    assert_true(loss_he < 0.01 * loss0);
    assert_true(loss_he < 2.0 * loss_ex + 1e-4);
}

/* One program on the scalar twin, the clear slot machine and CKKS. */
static void run_slots_step(slots_ctx *ctx, slots_owner *owner, size_t n, const double *g0, const double *th0,
                           double *theta_out, double *r_out)
{
    slots_vec *th, *m, *r, *g;
    assert_int_equal(slots_vec_create(ctx, &th), CL_OK);
    assert_int_equal(slots_vec_create(ctx, &m), CL_OK);
    assert_int_equal(slots_vec_create(ctx, &r), CL_OK);
    assert_int_equal(slots_vec_create(ctx, &g), CL_OK);
    assert_int_equal(nn_he_adam_init_slots(&cfg, ctx, owner, m, r), CL_OK);
    assert_int_equal(slots_encrypt(owner, th0, n, th), CL_OK);
    assert_int_equal(slots_encrypt(owner, g0, n, g), CL_OK);
    const int top = slots_top_level(ctx);
    assert_int_equal(nn_he_adam_step_slots(ctx, &cfg, 1, th, m, r, g), CL_OK);
    assert_int_equal(slots_level(th), top - nn_he_adam_depth());
    assert_int_equal(slots_decrypt(owner, th, theta_out, n), CL_OK);
    assert_int_equal(slots_decrypt(owner, r, r_out, n), CL_OK);
    slots_vec_free(th);
    slots_vec_free(m);
    slots_vec_free(r);
    slots_vec_free(g);
}

static void test_adam_slots_follow_scalar(void **state)
{
    (void)state;
    enum { S = 64 };
    double g[S], th[S], m[S], r[S], th_s[S], r_s[S];
    for (int i = 0; i < S; i++) {
        g[i] = uniform(-1, 1);
        th[i] = uniform(-0.5, 0.5);
    }
    nn_he_adam_init_scalar(&cfg, m, r, S);
    double want_th[S], want_r[S];
    for (int i = 0; i < S; i++)
        want_th[i] = th[i];
    nn_he_adam_step_scalar(&cfg, 1, want_th, m, r, g, S);
    for (int i = 0; i < S; i++)
        want_r[i] = r[i];

    slots_ctx *ctx;
    slots_owner *owner;
    slots_clear_config cc = {.slots = S, .levels = 6};
    assert_int_equal(slots_clear_create(&cc, &ctx, &owner), CL_OK);
    run_slots_step(ctx, owner, S, g, th, th_s, r_s);
    for (int i = 0; i < S; i++) {
        assert_true(fabs(th_s[i] - want_th[i]) < 1e-12);
        assert_true(fabs(r_s[i] - want_r[i]) < 1e-12 * want_r[i]);
    }
    /* a step needs six levels: with five it is refused */
    slots_owner_free(owner);
    slots_ctx_free(ctx);

    ckks_params *params;
    assert_int_equal(ckks_params_from_preset("test-n12", CKKS_ALLOW_INSECURE, &params), CL_OK);
    ckks_secret_key *sk;
    ckks_public_key *pk;
    ckks_eval_keys *keys;
    assert_int_equal(ckks_secret_key_create(params, &sk), CL_OK);
    assert_int_equal(ckks_public_key_create(sk, &pk), CL_OK);
    assert_int_equal(ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, NULL, 0, &keys), CL_OK);
    assert_int_equal(slots_ckks_create(params, keys, S, &ctx), CL_OK);
    assert_int_equal(slots_ckks_owner_create(ctx, sk, &owner), CL_OK);
    run_slots_step(ctx, owner, S, g, th, th_s, r_s);
    for (int i = 0; i < S; i++) {
        assert_true(fabs(th_s[i] - want_th[i]) < 1e-5);
        assert_true(fabs(r_s[i] - want_r[i]) < 1e-4 * want_r[i]);
    }
    slots_owner_free(owner);
    slots_ctx_free(ctx);
    ckks_eval_keys_free(keys);
    ckks_public_key_free(pk);
    ckks_secret_key_free(sk);
    ckks_params_free(params);
}

static void test_poly_slots(void **state)
{
    (void)state;
    enum { S = 32 };
    nn_poly polys[4] = {
        nn_relu_quadratic(4.0),
        {.degree = 7, .c = {0.1, 0, 0, 0.3, 0, 0, 0, -0.2}}, /* sparse: x^3 and x^7 only */
        {.degree = 5, .c = {0, 1, -0.5, 0.25, -0.125, 0.0625}},
        {.degree = 0, .c = {0.75}},
    };
    for (int pi = 0; pi < 4; pi++) {
        slots_ctx *ctx;
        slots_owner *owner;
        slots_clear_config cc = {.slots = S, .levels = 5};
        assert_int_equal(slots_clear_create(&cc, &ctx, &owner), CL_OK);
        double x[S], y[S];
        for (int i = 0; i < S; i++)
            x[i] = uniform(-1, 1);
        slots_vec *vx, *vy;
        assert_int_equal(slots_vec_create(ctx, &vx), CL_OK);
        assert_int_equal(slots_vec_create(ctx, &vy), CL_OK);
        assert_int_equal(slots_encrypt(owner, x, S, vx), CL_OK);
        assert_int_equal(nn_poly_eval_slots(ctx, &polys[pi], vx, vy), CL_OK);
        assert_int_equal(slots_decrypt(owner, vy, y, S), CL_OK);
        for (int i = 0; i < S; i++)
            assert_true(fabs(y[i] - nn_poly_eval(&polys[pi], x[i])) < 1e-12);
        /* the depth used is the depth promised */
        int used = 5 - slots_get_counters(ctx)->min_level;
        assert_int_equal(used, nn_poly_depth(&polys[pi]) > 0 ? nn_poly_depth(&polys[pi]) : 1);
        slots_vec_free(vx);
        slots_vec_free(vy);
        slots_owner_free(owner);
        slots_ctx_free(ctx);
    }
    nn_poly d = nn_poly_derivative(&polys[2]);
    assert_int_equal(d.degree, 4);
    assert_true(d.c[0] == 1 && d.c[1] == -1 && d.c[2] == 0.75 && d.c[3] == -0.5 && d.c[4] == 0.3125);

    /* the ReLU quadratic's error on [-B, B] is B/16, reached at 0, ±B/2, ±B */
    const double B = 4.0;
    nn_poly q = nn_relu_quadratic(B);
    double worst = 0;
    for (int i = 0; i <= 4000; i++) {
        double x = -B + 2 * B * i / 4000.0;
        worst = fmax(worst, fabs(nn_poly_eval(&q, x) - fmax(x, 0.0)));
    }
    assert_true(fabs(worst - B / 16) < 1e-9);
}

/* The polynomial maximum: within its bound, equal on slots, promised depth. */
static void test_max2(void **state)
{
    (void)state;
    /* the degree-1 minimax of sqrt on [0,1] is t + 1/8: error 1/8 exactly */
    nn_abs_approx a1;
    assert_int_equal(nn_abs_approx_make(1, 1.0, &a1), CL_OK);
    assert_true(fabs(a1.error - 0.125) < 1e-6);
    assert_true(fabs(a1.q.c[0] - 0.125) < 1e-6 && fabs(a1.q.c[1] - 1.0) < 1e-6);
    double prev = 1;
    for (int n = 1; n <= 8; n++) {
        nn_abs_approx a;
        assert_int_equal(nn_abs_approx_make(n, 20.0, &a), CL_OK);
        assert_true(a.error < prev * 20.0 || n == 1); /* more degree, less error */
        prev = a.error / 20.0;
        for (int i = 0; i < 2000; i++) {
            double x = uniform(-10, 10), y = uniform(-10, 10);
            assert_true(fabs(nn_max2(&a, x, y) - fmax(x, y)) <= a.error / 2 + 1e-12);
        }
    }
    assert_int_equal(nn_abs_approx_make(0, 1.0, &a1), CL_ERR_INVALID);
    assert_int_equal(nn_abs_approx_make(3, -1.0, &a1), CL_ERR_INVALID);

    enum { S = 32 };
    nn_abs_approx a;
    assert_int_equal(nn_abs_approx_make(4, 4.0, &a), CL_OK);
    slots_ctx *ctx;
    slots_owner *owner;
    slots_clear_config cc = {.slots = S, .levels = 6};
    assert_int_equal(slots_clear_create(&cc, &ctx, &owner), CL_OK);
    double x[S], y[S], z[S];
    for (int i = 0; i < S; i++) {
        x[i] = uniform(-2, 2);
        y[i] = uniform(-2, 2);
    }
    slots_vec *vx, *vy, *vz;
    assert_int_equal(slots_vec_create(ctx, &vx), CL_OK);
    assert_int_equal(slots_vec_create(ctx, &vy), CL_OK);
    assert_int_equal(slots_vec_create(ctx, &vz), CL_OK);
    assert_int_equal(slots_encrypt(owner, x, S, vx), CL_OK);
    assert_int_equal(slots_encrypt(owner, y, S, vy), CL_OK);
    assert_int_equal(nn_max2_slots(ctx, &a, vx, vy, vz), CL_OK);
    assert_int_equal(slots_decrypt(owner, vz, z, S), CL_OK);
    for (int i = 0; i < S; i++)
        assert_true(fabs(z[i] - nn_max2(&a, x[i], y[i])) < 1e-12);
    assert_int_equal(6 - slots_level(vz), nn_max2_depth(&a));
    slots_vec_free(vx);
    slots_vec_free(vy);
    slots_vec_free(vz);
    slots_owner_free(owner);
    slots_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_error_bound),
        cmocka_unit_test(test_adam_optimizes),
        cmocka_unit_test(test_adam_slots_follow_scalar),
        cmocka_unit_test(test_poly_slots),
        cmocka_unit_test(test_max2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
