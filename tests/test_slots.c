/* The slot machine's generic rules and its clear backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "cipherl/slots.h"

#define S 16

typedef struct fixture {
    slots_ctx *ctx;
    slots_owner *owner;
    slots_vec *a, *b, *c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    slots_clear_config cfg = {.slots = S, .levels = 3, .noise = 0, .seed = 1};
    if (!f || slots_clear_create(&cfg, &f->ctx, &f->owner) != CL_OK)
        return -1;
    if (slots_vec_create(f->ctx, &f->a) || slots_vec_create(f->ctx, &f->b) || slots_vec_create(f->ctx, &f->c))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    slots_vec_free(f->a);
    slots_vec_free(f->b);
    slots_vec_free(f->c);
    slots_owner_free(f->owner);
    slots_ctx_free(f->ctx);
    free(f);
    return 0;
}

static void fill(double *v, double base)
{
    for (int i = 0; i < S; i++)
        v[i] = base + i;
}

static void test_arithmetic(void **state)
{
    fixture *f = *state;
    double x[S], y[S], r[S];
    fill(x, 1.0);
    fill(y, -3.0);
    assert_int_equal(slots_encrypt(f->owner, x, S, f->a), CL_OK);
    assert_int_equal(slots_encrypt(f->owner, y, S, f->b), CL_OK);
    assert_int_equal(slots_level(f->a), 3);

    assert_int_equal(slots_add(f->ctx, f->a, f->b, f->c), CL_OK);
    assert_int_equal(slots_decrypt(f->owner, f->c, r, S), CL_OK);
    for (int i = 0; i < S; i++)
        assert_true(r[i] == x[i] + y[i]);
    assert_int_equal(slots_sub(f->ctx, f->a, f->b, f->c), CL_OK);
    assert_int_equal(slots_decrypt(f->owner, f->c, r, S), CL_OK);
    for (int i = 0; i < S; i++)
        assert_true(r[i] == x[i] - y[i]);
    assert_int_equal(slots_level(f->c), 3);

    assert_int_equal(slots_mul(f->ctx, f->a, f->b, f->c), CL_OK);
    assert_int_equal(slots_level(f->c), 2);
    assert_int_equal(slots_decrypt(f->owner, f->c, r, S), CL_OK);
    for (int i = 0; i < S; i++)
        assert_true(r[i] == x[i] * y[i]);

    assert_int_equal(slots_mul_plain(f->ctx, f->c, x, f->c), CL_OK);
    assert_int_equal(slots_level(f->c), 1);
    assert_int_equal(slots_mul_const(f->ctx, f->c, 0.5, f->c), CL_OK);
    assert_int_equal(slots_level(f->c), 0);
    assert_int_equal(slots_add_const(f->ctx, f->c, 2.0, f->c), CL_OK);
    assert_int_equal(slots_add_plain(f->ctx, f->c, y, f->c), CL_OK);
    assert_int_equal(slots_neg(f->ctx, f->c, f->c), CL_OK);
    assert_int_equal(slots_decrypt(f->owner, f->c, r, S), CL_OK);
    for (int i = 0; i < S; i++)
        assert_true(fabs(r[i] + (x[i] * y[i] * x[i] * 0.5 + 2.0 + y[i])) < 1e-12);
    /* level 0: no more multiplications until a refresh */
    assert_int_equal(slots_mul_const(f->ctx, f->c, 2.0, f->c), CL_ERR_LEVEL);
    assert_int_equal(slots_mul(f->ctx, f->c, f->a, f->b), CL_ERR_LEVEL);
    assert_int_equal(slots_refresh(f->ctx, f->c), CL_OK);
    assert_int_equal(slots_level(f->c), 3);
    assert_int_equal(slots_mul_const(f->ctx, f->c, 2.0, f->c), CL_OK);

    const slots_counters *k = slots_get_counters(f->ctx);
    assert_int_equal(k->mul, 1);
    assert_int_equal(k->mul_plain, 1);
    assert_int_equal(k->mul_const, 2);
    assert_int_equal(k->refresh, 1);
    assert_int_equal(k->encrypt, 2);
    assert_int_equal(k->min_level, 0);
}

static void test_levels_align(void **state)
{
    fixture *f = *state;
    double x[S], r[S];
    fill(x, 0.0);
    assert_int_equal(slots_encrypt(f->owner, x, S, f->a), CL_OK);
    assert_int_equal(slots_mul_const(f->ctx, f->a, 2.0, f->b), CL_OK); /* level 2 */
    /* binary operations bring the higher operand down */
    assert_int_equal(slots_add(f->ctx, f->a, f->b, f->c), CL_OK);
    assert_int_equal(slots_level(f->c), 2);
    assert_int_equal(slots_mul(f->ctx, f->a, f->b, f->c), CL_OK);
    assert_int_equal(slots_level(f->c), 1);
    assert_int_equal(slots_drop_level(f->ctx, f->a, 0, f->c), CL_OK);
    assert_int_equal(slots_level(f->c), 0);
    assert_int_equal(slots_decrypt(f->owner, f->c, r, S), CL_OK);
    for (int i = 0; i < S; i++)
        assert_true(r[i] == x[i]);
    assert_int_equal(slots_drop_level(f->ctx, f->c, 1, f->c), CL_ERR_LEVEL);
}

static void test_rotations_and_census(void **state)
{
    fixture *f = *state;
    double x[S], r[S];
    fill(x, 0.0);
    assert_int_equal(slots_encrypt(f->owner, x, S, f->a), CL_OK);
    const int ks[] = {1, -1, 3, 17, -5, 0};
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        assert_int_equal(slots_rotate(f->ctx, f->a, ks[t], f->c), CL_OK);
        assert_int_equal(slots_decrypt(f->owner, f->c, r, S), CL_OK);
        for (int i = 0; i < S; i++)
            assert_true(r[i] == x[(((i + ks[t]) % S) + S) % S]);
    }
    /* steps used: 1, 15 (-1), 3, 1 (17), 11 (-5); 0 needs no key */
    int steps[8];
    size_t n = slots_rotation_steps(f->ctx, steps, 8);
    assert_int_equal(n, 4);
    assert_int_equal(steps[0], 1);
    assert_int_equal(steps[1], 3);
    assert_int_equal(steps[2], 11);
    assert_int_equal(steps[3], 15);

    /* sums: every slot holds the total; strided partial sums */
    assert_int_equal(slots_sum(f->ctx, f->a, 1, S, f->c), CL_OK);
    assert_int_equal(slots_decrypt(f->owner, f->c, r, S), CL_OK);
    for (int i = 0; i < S; i++)
        assert_true(r[i] == S * (S - 1) / 2.0);
    assert_int_equal(slots_sum(f->ctx, f->a, 4, 4, f->c), CL_OK);
    assert_int_equal(slots_decrypt(f->owner, f->c, r, S), CL_OK);
    for (int i = 0; i < S; i++) {
        double want = 0;
        for (int j = 0; j < 4; j++)
            want += x[(i + 4 * j) % S];
        assert_true(r[i] == want);
    }
    assert_int_equal(slots_sum(f->ctx, f->a, 1, 3, f->c), CL_ERR_INVALID);
    assert_int_equal(slots_sum(f->ctx, f->a, 8, 4, f->c), CL_ERR_INVALID);
}

static void test_errors(void **state)
{
    fixture *f = *state;
    double x[S] = {0};
    slots_vec *empty;
    assert_int_equal(slots_vec_create(f->ctx, &empty), CL_OK);
    assert_int_equal(slots_level(empty), -1);
    assert_int_equal(slots_add(f->ctx, empty, empty, f->c), CL_ERR_STATE);
    assert_int_equal(slots_decrypt(f->owner, empty, x, S), CL_ERR_STATE);
    assert_int_equal(slots_encrypt(f->owner, x, S + 1, f->a), CL_ERR_INVALID);
    assert_int_equal(slots_encrypt(f->owner, x, S, f->a), CL_OK);
    assert_int_equal(slots_add(NULL, f->a, f->a, f->c), CL_ERR_INVALID);
    assert_int_equal(slots_mul_plain(f->ctx, f->a, NULL, f->c), CL_ERR_INVALID);

    /* inner products and many rotations: bad counts, aliasing, no level left */
    const slots_vec *xs[2] = {f->a, f->b}, *ys[2] = {f->a, f->a};
    assert_int_equal(slots_encrypt(f->owner, x, S, f->b), CL_OK);
    assert_int_equal(slots_dot(f->ctx, xs, ys, 0, f->c), CL_ERR_INVALID);
    assert_int_equal(slots_dot(f->ctx, xs, ys, 2, f->a), CL_ERR_INVALID); /* out is an operand */
    const slots_vec *es[2] = {f->a, empty};
    assert_int_equal(slots_dot(f->ctx, es, ys, 2, f->c), CL_ERR_STATE);
    const slots_counters before = *slots_get_counters(f->ctx);
    assert_int_equal(slots_dot(f->ctx, xs, ys, 2, f->c), CL_OK); /* counted as 2 products, 1 sum */
    assert_int_equal(slots_get_counters(f->ctx)->mul - before.mul, 2);
    assert_int_equal(slots_get_counters(f->ctx)->add - before.add, 1);
    assert_int_equal(slots_level(f->c), slots_top_level(f->ctx) - 1);
    assert_int_equal(slots_drop_level(f->ctx, f->a, 0, f->c), CL_OK);
    const slots_vec *low[2] = {f->c, f->b};
    assert_int_equal(slots_dot(f->ctx, low, ys, 2, empty), CL_ERR_LEVEL);
    const int steps[2] = {1, 2};
    slots_vec *outs[2] = {f->c, f->a};
    assert_int_equal(slots_rotate_many(f->ctx, f->a, steps, 2, outs), CL_ERR_INVALID); /* outs[1] is a */
    assert_int_equal(slots_rotate_many(f->ctx, f->a, steps, 0, outs), CL_ERR_INVALID);
    assert_int_equal(slots_rotate_many(f->ctx, empty, steps, 1, outs), CL_ERR_STATE);
    slots_vec_free(empty);

    /* vectors of another machine are refused */
    slots_ctx *other;
    slots_vec *ov;
    slots_clear_config cfg = {.slots = S, .levels = 3};
    assert_int_equal(slots_clear_create(&cfg, &other, NULL), CL_OK);
    assert_int_equal(slots_vec_create(other, &ov), CL_OK);
    assert_int_equal(slots_encrypt(f->owner, x, S, f->a), CL_OK);
    assert_int_equal(slots_add(f->ctx, f->a, ov, f->c), CL_ERR_PARAMS);
    slots_vec_free(ov);
    slots_ctx_free(other);

    slots_clear_config bad[] = {{.slots = 0, .levels = 1}, {.slots = 12, .levels = 1},
                                {.slots = 8, .levels = 0}, {.slots = 8, .levels = 2, .noise = -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        slots_ctx *c = NULL;
        assert_int_equal(slots_clear_create(&bad[i], &c, NULL), CL_ERR_INVALID);
        assert_null(c);
    }
}

static void test_noise(void **state)
{
    (void)state;
    /* With noise, results differ from exact by about the configured sigma. */
    enum { N = 4096 };
    slots_ctx *ctx;
    slots_owner *owner;
    slots_clear_config cfg = {.slots = N, .levels = 2, .noise = 1e-3, .seed = 42};
    assert_int_equal(slots_clear_create(&cfg, &ctx, &owner), CL_OK);
    slots_vec *v;
    assert_int_equal(slots_vec_create(ctx, &v), CL_OK);
    double *x = calloc(N, sizeof *x), *r = calloc(N, sizeof *r);
    assert_non_null(x);
    assert_non_null(r);
    assert_int_equal(slots_encrypt(owner, x, N, v), CL_OK);
    assert_int_equal(slots_decrypt(owner, v, r, N), CL_OK);
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++)
        mean += r[i] / N;
    for (int i = 0; i < N; i++)
        var += (r[i] - mean) * (r[i] - mean) / (N - 1);
    assert_true(fabs(mean) < 1e-4);             /* 6 standard errors */
    assert_true(fabs(sqrt(var) - 1e-3) < 1e-4); /* about 7 standard errors */
    free(x);
    free(r);
    slots_vec_free(v);
    slots_owner_free(owner);
    slots_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arithmetic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_align, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotations_and_census, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test(test_noise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
