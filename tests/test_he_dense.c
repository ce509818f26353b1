/* Packed dense layers on slots against plain matrix arithmetic, on the clear
 * backend and on CKKS (keys from the clear run's census of rotations). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_he.h"

enum { D = 8, B = 4, S = 2 * D * B, IN = 6, OUT = 5 };

static uint64_t lcg = 99;
static double uniform(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) * 0x1p-53 - 0.5;
}

typedef struct problem {
    double W[OUT * IN], bias[OUT], x[B * IN], dy[B * OUT];
    double y[B * OUT], dx[B * IN], dW[OUT * IN], db[OUT];
} problem;

static void make_problem(problem *p)
{
    for (int i = 0; i < OUT * IN; i++) p->W[i] = uniform();
    for (int i = 0; i < OUT; i++) p->bias[i] = uniform();
    for (int i = 0; i < B * IN; i++) p->x[i] = uniform();
    for (int i = 0; i < B * OUT; i++) p->dy[i] = uniform();
    memset(p->dx, 0, sizeof p->dx);
    memset(p->dW, 0, sizeof p->dW);
    memset(p->db, 0, sizeof p->db);
    for (int b = 0; b < B; b++)
        for (int r = 0; r < OUT; r++) {
            double s = p->bias[r];
            for (int c = 0; c < IN; c++) {
                s += p->W[r * IN + c] * p->x[b * IN + c];
                p->dx[b * IN + c] += p->W[r * IN + c] * p->dy[b * OUT + r];
                p->dW[r * IN + c] += p->dy[b * OUT + r] * p->x[b * IN + c];
            }
            p->y[b * OUT + r] = s;
            p->db[r] += p->dy[b * OUT + r];
        }
}

/* Runs forward and backward on ctx; checks against p within tol. */
static void run(slots_ctx *ctx, slots_owner *owner, const problem *p, double tol)
{
    const nn_dense_layout L = {.d = D, .batch = B};
    assert_int_equal(nn_dense_layout_check(&L, slots_count(ctx)), CL_OK);
    double buf[S];
    slots_vec *diag[D], *tdiag[D], *gd[D], *gt[D], *rot[D], *bias, *x, *xd, *y, *dy, *dx, *gb;
    nn_dense_slots layer = {.diag = diag, .tdiag = tdiag, .bias = NULL};
    for (int k = 0; k < D; k++) {
        assert_int_equal(slots_vec_create(ctx, &diag[k]), CL_OK);
        assert_int_equal(slots_vec_create(ctx, &tdiag[k]), CL_OK);
        assert_int_equal(slots_vec_create(ctx, &gd[k]), CL_OK);
        assert_int_equal(slots_vec_create(ctx, &gt[k]), CL_OK);
        assert_int_equal(slots_vec_create(ctx, &rot[k]), CL_OK);
        nn_pack_diagonal(&L, p->W, OUT, IN, false, (size_t)k, buf);
        assert_int_equal(slots_encrypt(owner, buf, S, diag[k]), CL_OK);
        nn_pack_diagonal(&L, p->W, OUT, IN, true, (size_t)k, buf);
        assert_int_equal(slots_encrypt(owner, buf, S, tdiag[k]), CL_OK);
    }
    slots_vec **all[] = {&bias, &x, &xd, &y, &dy, &dx, &gb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        assert_int_equal(slots_vec_create(ctx, all[i]), CL_OK);
    double brow[B * OUT];
    for (int b = 0; b < B; b++)
        memcpy(brow + b * OUT, p->bias, sizeof p->bias);
    nn_pack_batch(&L, brow, OUT, false, buf);
    assert_int_equal(slots_encrypt(owner, buf, S, bias), CL_OK);
    layer.bias = bias;
    nn_pack_batch(&L, p->x, IN, false, buf);
    assert_int_equal(slots_encrypt(owner, buf, S, x), CL_OK);
    assert_int_equal(nn_double_slots(ctx, &L, x, xd), CL_OK);
    assert_int_equal(slots_level(xd), slots_top_level(ctx)); /* doubling costs no level */

    assert_int_equal(nn_dense_forward_slots(ctx, &L, &layer, xd, rot, y), CL_OK);
    assert_int_equal(slots_level(y), slots_top_level(ctx) - 1);
    double got[B * IN > B * OUT ? B * IN : B * OUT];
    assert_int_equal(slots_decrypt(owner, y, buf, S), CL_OK);
    nn_unpack_batch(&L, buf, OUT, got);
    for (int i = 0; i < B * OUT; i++)
        assert_true(fabs(got[i] - p->y[i]) < tol);
    for (int b = 0; b < B; b++) /* padding and second halves stay zero */
        for (int i = OUT; i < 2 * D; i++)
            assert_true(fabs(buf[b * 2 * D + i]) < tol);

    nn_pack_batch(&L, p->dy, OUT, false, buf);
    assert_int_equal(slots_encrypt(owner, buf, S, dy), CL_OK);
    assert_int_equal(nn_dense_backward_slots(ctx, &L, &layer, x, rot, dy, dx, gd, gt, gb), CL_OK);
    assert_int_equal(slots_decrypt(owner, dx, buf, S), CL_OK);
    nn_unpack_batch(&L, buf, IN, got);
    for (int i = 0; i < B * IN; i++)
        assert_true(fabs(got[i] - p->dx[i]) < tol);

    double dW[OUT * IN], dWt[OUT * IN];
    for (int k = 0; k < D; k++) {
        assert_int_equal(slots_decrypt(owner, gd[k], buf, S), CL_OK);
        nn_unpack_diagonal(&L, buf, OUT, IN, false, (size_t)k, dW);
        for (int b = 1; b < B; b++) /* replicated in every block */
            for (int i = 0; i < 2 * D; i++)
                assert_true(fabs(buf[b * 2 * D + i] - buf[i]) < tol);
        for (int i = 0; i < D; i++) { /* padded weights get no gradient */
            int r = i, c = (i + k) % D;
            if (r >= OUT || c >= IN)
                assert_true(fabs(buf[i]) < tol);
        }
        assert_int_equal(slots_decrypt(owner, gt[k], buf, S), CL_OK);
        nn_unpack_diagonal(&L, buf, OUT, IN, true, (size_t)k, dWt);
    }
    for (int i = 0; i < OUT * IN; i++) {
        assert_true(fabs(dW[i] - p->dW[i]) < tol);
        assert_true(fabs(dWt[i] - p->dW[i]) < tol);
    }
    assert_int_equal(slots_decrypt(owner, gb, buf, S), CL_OK);
    for (int r = 0; r < OUT; r++)
        assert_true(fabs(buf[r] - p->db[r]) < tol);

    /* a first layer: no dx, no transposed gradients; the others unchanged, and
     * no rotation of dy at all */
    const slots_counters before = *slots_get_counters(ctx);
    assert_int_equal(nn_dense_backward_slots(ctx, &L, &layer, x, rot, dy, NULL, gd, NULL, gb), CL_OK);
    const slots_counters *after = slots_get_counters(ctx);
    int log2b = 0;
    while ((1 << log2b) < B)
        log2b++;
    /* the D diagonals' and the bias's batch sums, log2 B rotations each */
    assert_int_equal(after->rotate - before.rotate, (uint64_t)(D + 1) * (uint64_t)log2b);
    for (int k = 0; k < D; k++) {
        assert_int_equal(slots_decrypt(owner, gd[k], buf, S), CL_OK);
        nn_unpack_diagonal(&L, buf, OUT, IN, false, (size_t)k, dW);
    }
    for (int i = 0; i < OUT * IN; i++)
        assert_true(fabs(dW[i] - p->dW[i]) < tol);
    assert_int_equal(slots_decrypt(owner, gb, buf, S), CL_OK);
    for (int r = 0; r < OUT; r++)
        assert_true(fabs(buf[r] - p->db[r]) < tol);

    /* the transposed set rebuilt from the diagonals: what nn_pack_diagonal
     * packs transposed, second halves zero; exact in clear */
    assert_int_equal(nn_dense_transpose_slots(ctx, &L, diag, gt), CL_OK);
    double want[S];
    for (int k = 0; k < D; k++) {
        nn_pack_diagonal(&L, p->W, OUT, IN, true, (size_t)k, want);
        assert_int_equal(slots_decrypt(owner, gt[k], buf, S), CL_OK);
        for (int i = 0; i < S; i++)
            assert_true(fabs(buf[i] - want[i]) < tol);
        if (k > 0)
            assert_int_equal(slots_level(gt[k]), slots_level(diag[k]) - 1);
    }
    assert_int_equal(nn_dense_transpose_slots(ctx, &L, NULL, gt), CL_ERR_INVALID);

    for (int k = 0; k < D; k++) {
        slots_vec_free(diag[k]);
        slots_vec_free(tdiag[k]);
        slots_vec_free(gd[k]);
        slots_vec_free(gt[k]);
        slots_vec_free(rot[k]);
    }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        slots_vec_free(*all[i]);
}

static void test_dense(void **state)
{
    (void)state;
    problem p;
    make_problem(&p);
    slots_ctx *ctx;
    slots_owner *owner;
    slots_clear_config cfg = {.slots = S, .levels = 4};
    assert_int_equal(slots_clear_create(&cfg, &ctx, &owner), CL_OK);
    run(ctx, owner, &p, 1e-12);
    int steps[S];
    size_t nsteps = slots_rotation_steps(ctx, steps, S);
    /* d - 1 diagonal steps, the doubling step and the batch-sum strides */
    assert_true(nsteps >= D - 1 + 1 + 1 && nsteps <= D + 3);
    slots_owner_free(owner);
    slots_ctx_free(ctx);

    ckks_params *params;
    assert_int_equal(ckks_params_from_preset("test-n12", CKKS_ALLOW_INSECURE, &params), CL_OK);
    ckks_secret_key *sk;
    ckks_public_key *pk;
    ckks_eval_keys *keys;
    assert_int_equal(ckks_secret_key_create(params, &sk), CL_OK);
    assert_int_equal(ckks_public_key_create(sk, &pk), CL_OK);
    assert_int_equal(ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, steps, nsteps, &keys), CL_OK);
    assert_int_equal(slots_ckks_create(params, keys, S, &ctx), CL_OK);
    assert_int_equal(slots_ckks_owner_create(ctx, sk, &owner), CL_OK);
    run(ctx, owner, &p, 1e-5);
    slots_owner_free(owner);
    slots_ctx_free(ctx);
    ckks_eval_keys_free(keys);
    ckks_public_key_free(pk);
    ckks_secret_key_free(sk);
    ckks_params_free(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_dense)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
