/* One program, two backends: the CKKS backend of the slot machine must follow
 * the clear backend step for step, differing only by CKKS noise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "cipherl/slots.h"

#define S 64

/* A program that uses every operation, mixes levels, and needs a refresh:
 * writes the decrypted results of several stages to out[0..6*S). */
static cl_status program(slots_ctx *ctx, slots_owner *owner, double *out)
{
    double x[S], y[S], mask[S];
    for (int i = 0; i < S; i++) {
        x[i] = 0.5 * sin(0.3 * i);
        y[i] = 0.25 * cos(0.7 * i) + 0.1;
        mask[i] = (i % 4 == 0) ? 1.0 : 0.0;
    }
    slots_vec *a, *b, *c, *d;
    cl_status st;
    if ((st = slots_vec_create(ctx, &a)) || (st = slots_vec_create(ctx, &b)) || (st = slots_vec_create(ctx, &c)) ||
        (st = slots_vec_create(ctx, &d)))
        return st;
    if ((st = slots_encrypt(owner, x, S, a)) || (st = slots_encrypt(owner, y, S, b)))
        goto done;
    /* c = x*y + rot(x, 3) - 2 (levels L-1 and L mixed) */
    if ((st = slots_mul(ctx, a, b, c)) || (st = slots_rotate(ctx, a, 3, d)) || (st = slots_add(ctx, c, d, c)) ||
        (st = slots_add_const(ctx, c, -2.0, c)) || (st = slots_decrypt(owner, c, out, S)))
        goto done;
    /* d = sum over blocks of 4 of mask * c * 0.5 + y (levels L-3 and L) */
    if ((st = slots_mul_plain(ctx, c, mask, d)) || (st = slots_mul_const(ctx, d, 0.5, d)) ||
        (st = slots_sum(ctx, d, 1, 4, d)) || (st = slots_add_plain(ctx, d, y, d)) || (st = slots_sub(ctx, d, b, d)) ||
        (st = slots_decrypt(owner, d, out + S, S)))
        goto done;
    /* drain the levels with squarings, refresh, continue */
    while (slots_level(d) > 0)
        if ((st = slots_mul(ctx, d, d, d)))
            goto done;
    if ((st = slots_decrypt(owner, d, out + 2 * S, S)) || (st = slots_refresh(ctx, d)) ||
        (st = slots_mul(ctx, d, a, d)) || (st = slots_neg(ctx, d, d)) || (st = slots_rotate(ctx, d, -1, d)) ||
        (st = slots_decrypt(owner, d, out + 3 * S, S)))
        goto done;
    if (slots_level(d) != slots_top_level(ctx) - 1) {
        st = CL_ERR_STATE;
        goto done;
    }
    /* several rotations of one vector (a zero step, a left and a right one),
     * then an inner product over operands at different levels */
    const int steps[3] = {0, 3, -1};
    slots_vec *r[3] = {NULL, NULL, NULL}, *e = NULL;
    for (int i = 0; i < 3 && st == CL_OK; i++)
        st = slots_vec_create(ctx, &r[i]);
    if (st == CL_OK)
        st = slots_vec_create(ctx, &e);
    if (st == CL_OK && (st = slots_rotate_many(ctx, a, steps, 3, r)) == CL_OK &&
        (st = slots_decrypt(owner, r[2], out + 4 * S, S)) == CL_OK) {
        const slots_vec *xs[4] = {r[0], r[1], r[2], c}, *ys[4] = {b, a, d, r[1]};
        if ((st = slots_dot(ctx, xs, ys, 4, e)) == CL_OK && (st = slots_decrypt(owner, e, out + 5 * S, S)) == CL_OK &&
            slots_level(e) != slots_top_level(ctx) - 2)
            st = CL_ERR_STATE;
    }
    for (int i = 0; i < 3; i++)
        slots_vec_free(r[i]);
    slots_vec_free(e);
done:
    slots_vec_free(a);
    slots_vec_free(b);
    slots_vec_free(c);
    slots_vec_free(d);
    return st;
}

/* Wide vectors (k = 4): four narrow vectors packed into one by block masks
 * (slots_dot_plain),
 * squared there once, refreshed as one, and unpacked by hoisted rotations by
 * multiples of S and masks: out[i*S..] = x_i^2. */
#define K 4
static void block_mask(double *m, int b)
{
    for (int i = 0; i < K * S; i++)
        m[i] = (i / S == b) ? 1.0 : 0.0;
}

static cl_status wide_program(slots_ctx *ctx, slots_owner *owner, double *out)
{
    slots_ctx *wide = NULL;
    slots_vec *x[K] = {0}, *g = NULL, *t = NULL, *u = NULL, *r[K] = {0}, *nv = NULL;
    double vals[S], mask[K * S];
    cl_status st = slots_wide_create(ctx, K, &wide);
    for (int b = 0; b < K && st == CL_OK; b++)
        if ((st = slots_vec_create(ctx, &x[b])) == CL_OK)
            st = slots_vec_create(wide, &r[b]);
    if (st == CL_OK && !((st = slots_vec_create(wide, &g)) ||
                         (st = slots_vec_create(wide, &t)) || (st = slots_vec_create(wide, &u)) ||
                         (st = slots_vec_create(ctx, &nv)))) {
        /* g = sum_b mask_b (.) widen(x_b): one plaintext inner product (r[] hold the widened x_b) */
        static double masks[K][K * S];
        const slots_vec *in[K];
        const double *mk[K];
        for (int b = 0; b < K && st == CL_OK; b++) {
            for (int i = 0; i < S; i++)
                vals[i] = 0.3 * sin(0.2 * i + b) + 0.05 * b;
            block_mask(masks[b], b);
            in[b] = r[b];
            mk[b] = masks[b];
            if ((st = slots_encrypt(owner, vals, S, x[b])) == CL_OK)
                st = slots_widen(wide, x[b], r[b]);
        }
        if (st == CL_OK)
            st = slots_dot_plain(wide, in, mk, K, g);
        if (st == CL_OK && slots_level(g) != slots_top_level(ctx) - 1)
            st = CL_ERR_STATE;
        /* drain g's levels, refresh it as one wide vector, square it */
        while (st == CL_OK && slots_level(g) > 1)
            st = slots_mul_const(wide, g, 1.0, g);
        if (st == CL_OK && !(st = slots_refresh(wide, g)) && slots_level(g) != slots_top_level(ctx))
            st = CL_ERR_STATE;
        if (st == CL_OK)
            st = slots_mul(wide, g, g, g);
        /* r[d] = g rotated left by d S: block b of r[d] is block b + d of g */
        const int steps[K - 1] = {S, 2 * S, 3 * S};
        if (st == CL_OK && (st = slots_copy(wide, g, r[0])) == CL_OK)
            st = slots_rotate_many(wide, g, steps, K - 1, r + 1);
        for (int i = 0; i < K && st == CL_OK; i++) {
            /* every block j of vector i's copy is block i of g: r[(i - j) mod K] there */
            for (int j = 0; j < K && st == CL_OK; j++) {
                block_mask(mask, j);
                st = slots_mul_plain(wide, r[(i - j + K) % K], mask, j ? t : u);
                if (st == CL_OK && j)
                    st = slots_add(wide, u, t, u);
            }
            if (st == CL_OK && (st = slots_narrow(ctx, u, nv)) == CL_OK)
                st = slots_decrypt(owner, nv, out + i * S, S);
        }
    }
    for (int b = 0; b < K; b++) {
        slots_vec_free(x[b]);
        slots_vec_free(r[b]);
    }
    slots_vec_free(g);
    slots_vec_free(t);
    slots_vec_free(u);
    slots_vec_free(nv);
    slots_ctx_free(wide);
    return st;
}

/* The two backends of one test: the clear twin at test-n12's levels, then
 * the CKKS backend with the rotation keys the twin's census asked for. */
typedef struct twins {
    ckks_params *params;
    slots_ctx *cctx, *kctx;
    slots_owner *cown, *kown;
    ckks_secret_key *sk;
    ckks_eval_keys *keys;
} twins;

static void twins_open_clear(twins *t)
{
    *t = (twins){0};
    assert_int_equal(ckks_params_from_preset("test-n12", CKKS_ALLOW_INSECURE, &t->params), CL_OK);
    slots_clear_config cfg = {.slots = S, .levels = ckks_params_max_level(t->params)};
    assert_int_equal(slots_clear_create(&cfg, &t->cctx, &t->cown), CL_OK);
}

/* Keys for S-slot rotations: a rotation by k of S slots is a Galois step of k. */
static void twins_open_ckks(twins *t, const int *steps, size_t nsteps)
{
    assert_int_equal(ckks_secret_key_create(t->params, &t->sk), CL_OK);
    assert_int_equal(ckks_eval_keys_create(t->sk, CKKS_KEYS_RELIN, steps, nsteps, &t->keys), CL_OK);
    assert_int_equal(slots_ckks_create(t->params, t->keys, S, &t->kctx), CL_OK);
    assert_int_equal(slots_ckks_owner_create(t->kctx, t->sk, &t->kown), CL_OK);
    slots_ckks_set_refresher(t->kctx, slots_ckks_owner_refresh, t->kown);
}

/* Both backends counted the same operations. */
static void twins_same_counts(const twins *t)
{
    const slots_counters *a = slots_get_counters(t->cctx), *b = slots_get_counters(t->kctx);
    assert_int_equal(a->mul, b->mul);
    assert_int_equal(a->mul_plain, b->mul_plain);
    assert_int_equal(a->rotate, b->rotate);
    assert_int_equal(a->add, b->add);
    assert_int_equal(a->refresh, b->refresh);
    assert_int_equal(a->min_level, b->min_level);
}

static void twins_close(twins *t)
{
    slots_owner_free(t->kown);
    slots_ctx_free(t->kctx);
    slots_owner_free(t->cown);
    slots_ctx_free(t->cctx);
    ckks_eval_keys_free(t->keys);
    ckks_secret_key_free(t->sk);
    ckks_params_free(t->params);
}

static void test_wide_vectors(void **state)
{
    (void)state;
    twins t;
    twins_open_clear(&t);
    slots_ctx *cctx = t.cctx;
    slots_owner *cown = t.cown;
    double want[K * S];
    assert_int_equal(wide_program(cctx, cown, want), CL_OK);
    for (int b = 0; b < K; b++)
        for (int i = 0; i < S; i++) {
            const double v = 0.3 * sin(0.2 * i + b) + 0.05 * b;
            assert_true(want[b * S + i] == v * v); /* masks, zeros and rotations are exact in doubles */
        }
    /* the wide steps S, 2S, 3S join the narrow context's census */
    int steps[16];
    size_t nsteps = slots_rotation_steps(cctx, steps, 16);
    assert_int_equal(nsteps, 3);
    assert_int_equal(steps[0], S);
    assert_int_equal(steps[1], 2 * S);
    assert_int_equal(steps[2], 3 * S);
    const slots_counters *cc = slots_get_counters(cctx);
    assert_int_equal(cc->mul_plain, K + K * K); /* pack, then unpack */
    assert_int_equal(cc->rotate, K - 1);
    assert_int_equal(cc->refresh, 1);

    twins_open_ckks(&t, steps, nsteps);
    slots_ctx *kctx = t.kctx;
    double got[K * S];
    assert_int_equal(wide_program(kctx, t.kown, got), CL_OK);
    double err = 0;
    for (int i = 0; i < K * S; i++)
        err = fmax(err, fabs(got[i] - want[i]));
    if (err >= 1e-5)
        fail_msg("wide program: error %.3e", err);
    twins_same_counts(&t);

    /* refusals */
    slots_ctx *w = NULL, *ww = NULL;
    assert_int_equal(slots_wide_create(cctx, 3, &w), CL_ERR_INVALID);
    assert_int_equal(slots_wide_create(cctx, 1, &w), CL_ERR_INVALID);
    assert_int_equal(slots_wide_create(kctx, 4096, &w), CL_ERR_INVALID); /* more than N/2 slots */
    assert_int_equal(slots_wide_create(cctx, 2, &w), CL_OK);
    assert_int_equal(slots_wide_create(w, 2, &ww), CL_ERR_INVALID);
    slots_vec *a, *wa, *kv;
    assert_int_equal(slots_vec_create(cctx, &a), CL_OK);
    assert_int_equal(slots_vec_create(w, &wa), CL_OK);
    assert_int_equal(slots_vec_create(kctx, &kv), CL_OK);
    assert_int_equal(slots_widen(w, a, wa), CL_ERR_STATE); /* empty */
    assert_int_equal(slots_encrypt(cown, want, S, a), CL_OK);
    assert_int_equal(slots_widen(w, wa, wa), CL_ERR_PARAMS);  /* not of the narrow context */
    assert_int_equal(slots_narrow(cctx, a, a), CL_ERR_PARAMS); /* not of a wide one */
    assert_int_equal(slots_widen(w, a, wa), CL_OK);
    assert_int_equal(slots_narrow(kctx, wa, kv), CL_ERR_PARAMS); /* another narrow context */
    double m2[2 * S];
    for (int i = 0; i < 2 * S; i++)
        m2[i] = i < S;
    assert_int_equal(slots_mul_plain(w, wa, m2, wa), CL_OK); /* block 1 zeroed: no longer of period S */
    assert_int_equal(slots_narrow(cctx, wa, a), CL_ERR_INVALID);
    slots_vec_free(a);
    slots_vec_free(wa);
    slots_vec_free(kv);
    slots_ctx_free(w);
    twins_close(&t);
}

static void test_ckks_follows_clear(void **state)
{
    (void)state;
    /* the clear twin first: it also tells which rotation keys are needed */
    twins t;
    twins_open_clear(&t);
    double want[6 * S];
    assert_int_equal(program(t.cctx, t.cown, want), CL_OK);
    int steps[16];
    size_t nsteps = slots_rotation_steps(t.cctx, steps, 16);
    assert_true(nsteps >= 3 && nsteps <= 16);

    twins_open_ckks(&t, steps, nsteps);
    double got[6 * S];
    assert_int_equal(program(t.kctx, t.kown, got), CL_OK);
    /* the rotations and the inner product against their definitions */
    for (int i = 0; i < S; i++)
        assert_true(fabs(want[4 * S + i] - 0.5 * sin(0.3 * ((i + S - 1) % S))) < 1e-12);

    double err = 0;
    for (int i = 0; i < 6 * S; i++)
        err = fmax(err, fabs(got[i] - want[i]));
    assert_true(err < 1e-5);

    twins_same_counts(&t);

    /* a rotation without its key is refused */
    slots_vec *v;
    assert_int_equal(slots_vec_create(t.kctx, &v), CL_OK);
    assert_int_equal(slots_encrypt(t.kown, want, S, v), CL_OK);
    assert_int_equal(slots_rotate(t.kctx, v, 5, v), CL_ERR_NOKEY);
    slots_vec_free(v);
    twins_close(&t);
}

/* Adding a vector from the top level to one several levels down brings the
 * first down: its primes are dropped (the ciphertext keeps the scale s_L),
 * then a constant and a rescale land it on s_l. The constant must divide by
 * the scale the ciphertext has, s_L. Dividing by s_{l+1} instead scaled the
 * value by s_L / s_{l+1}: 1e-6 at test-n12 (the clear twin's biases drifted by
 * that factor at every training step), percents at n15. */
static void test_level_drop_keeps_value(void **state)
{
    (void)state;
    ckks_params *params;
    assert_int_equal(ckks_params_from_preset("test-n12", CKKS_ALLOW_INSECURE, &params), CL_OK);
    const int top = ckks_params_max_level(params);
    ckks_secret_key *sk;
    ckks_public_key *pk;
    ckks_eval_keys *keys;
    assert_int_equal(ckks_secret_key_create(params, &sk), CL_OK);
    assert_int_equal(ckks_public_key_create(sk, &pk), CL_OK);
    assert_int_equal(ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, NULL, 0, &keys), CL_OK);
    slots_ctx *ctx;
    slots_owner *own;
    assert_int_equal(slots_ckks_create(params, keys, S, &ctx), CL_OK);
    assert_int_equal(slots_ckks_owner_create(ctx, sk, &own), CL_OK);
    double x[S], zero[S], got[S];
    for (int i = 0; i < S; i++) {
        x[i] = 0.5 * sin(0.3 * i) + 0.4;
        zero[i] = 0.0;
    }
    slots_vec *a, *b, *c;
    assert_int_equal(slots_vec_create(ctx, &a), CL_OK);
    assert_int_equal(slots_vec_create(ctx, &b), CL_OK);
    assert_int_equal(slots_vec_create(ctx, &c), CL_OK);
    assert_int_equal(slots_encrypt(own, x, S, a), CL_OK);
    for (int l = top - 1; l >= 0; l--) {
        /* b = 0 at level l, then c = a + b: a comes down from the top to l */
        assert_int_equal(slots_encrypt(own, zero, S, b), CL_OK);
        while (slots_level(b) > l)
            assert_int_equal(slots_mul_const(ctx, b, 1.0, b), CL_OK);
        assert_int_equal(slots_add(ctx, a, b, c), CL_OK);
        assert_int_equal(slots_level(c), l);
        assert_int_equal(slots_decrypt(own, c, got, S), CL_OK);
        double err = 0;
        for (int i = 0; i < S; i++)
            err = fmax(err, fabs(got[i] - x[i]));
        if (err >= 1e-8)
            fail_msg("top level down to %d: error %.3e", l, err);
    }
    slots_vec_free(a);
    slots_vec_free(b);
    slots_vec_free(c);
    slots_owner_free(own);
    slots_ctx_free(ctx);
    ckks_eval_keys_free(keys);
    ckks_public_key_free(pk);
    ckks_secret_key_free(sk);
    ckks_params_free(params);
}

static void test_refresh_needs_owner(void **state)
{
    (void)state;
    ckks_params *params;
    assert_int_equal(ckks_params_from_preset("test-n10", CKKS_ALLOW_INSECURE, &params), CL_OK);
    ckks_secret_key *sk;
    ckks_public_key *pk;
    ckks_eval_keys *keys;
    assert_int_equal(ckks_secret_key_create(params, &sk), CL_OK);
    assert_int_equal(ckks_public_key_create(sk, &pk), CL_OK);
    assert_int_equal(ckks_eval_keys_create(sk, 0, NULL, 0, &keys), CL_OK);
    slots_ctx *ctx = NULL;
    /* no relinearization key: refused */
    assert_int_equal(slots_ckks_create(params, keys, 8, &ctx), CL_ERR_NOKEY);
    ckks_eval_keys_free(keys);
    assert_int_equal(ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, NULL, 0, &keys), CL_OK);
    assert_int_equal(slots_ckks_create(params, keys, 3, &ctx), CL_ERR_INVALID);
    assert_int_equal(slots_ckks_create(params, keys, 8, &ctx), CL_OK);
    slots_owner *own;
    assert_int_equal(slots_ckks_owner_create(ctx, sk, &own), CL_OK);
    slots_vec *v;
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(slots_vec_create(ctx, &v), CL_OK);
    assert_int_equal(slots_encrypt(own, x, 8, v), CL_OK);
    /* no refresher registered: the platform cannot refresh by itself */
    assert_int_equal(slots_refresh(ctx, v), CL_ERR_STATE);
    slots_vec_free(v);
    slots_owner_free(own);
    slots_ctx_free(ctx);
    ckks_eval_keys_free(keys);
    ckks_public_key_free(pk);
    ckks_secret_key_free(sk);
    ckks_params_free(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ckks_follows_clear),
        cmocka_unit_test(test_level_drop_keeps_value),
        cmocka_unit_test(test_refresh_needs_owner),
        cmocka_unit_test(test_wide_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
