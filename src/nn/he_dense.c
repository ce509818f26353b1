/* Packed dense layers on the slot machine, for mini-batches.
 *
 * Layout (docs/he-dense.md). S = B blocks of 2D slots, with D a power of two
 * at least the widest layer. Block b holds sample b. A vector is "single" when
 * its D features fill the first half of each block and the second half is zero.
 * It is "doubled" when the second half repeats the first; then
 * double(v) = v + rot(v, -D) at no level. On a doubled x, a rotation by k < D
 * reads x[(i + k) mod D] at position i < D without leaving the block. So with
 * the diagonals diag_k[i] = W[i][(i + k) mod D] (first halves, replicated over
 * the batch, second halves zero):
 *     y = W x = sum_k diag_k * rot(x_doubled, k)            (one level)
 * and with the transposed diagonals tdiag_k[j] = W[(j + k) mod D][j]:
 *     dx = W^T dy = sum_k tdiag_k * rot(dy_doubled, k)      (one level)
 *     dW diagonal k:  sum over the batch of dy * rot(x_doubled, k)
 *     dW^T diagonal k: sum over the batch of rot(dy_doubled, k) * x
 * Batch sums are strided sums (stride 2D, span B), exact and replicated in
 * every block. Rotations of one vector share one key-switching decomposition
 * on CKKS (slots_rotate; hoisting is the backend's business). */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_he.h"

cl_status nn_dense_layout_check(const nn_dense_layout *L, size_t slots)
{
    if (!L || L->d == 0 || (L->d & (L->d - 1)) || L->batch == 0 || (L->batch & (L->batch - 1)))
        return CL_ERR_INVALID;
    if (2 * L->d * L->batch != slots)
        return CL_ERR_INVALID;
    return CL_OK;
}

void nn_pack_batch(const nn_dense_layout *L, const double *x, size_t dim, bool doubled, double *slots)
{
    const size_t w = 2 * L->d;
    memset(slots, 0, L->batch * w * sizeof *slots);
    for (size_t b = 0; b < L->batch; b++)
        for (size_t j = 0; j < dim && j < L->d; j++) {
            slots[b * w + j] = x[b * dim + j];
            if (doubled)
                slots[b * w + L->d + j] = x[b * dim + j];
        }
}

void nn_unpack_batch(const nn_dense_layout *L, const double *slots, size_t dim, double *x)
{
    const size_t w = 2 * L->d;
    for (size_t b = 0; b < L->batch; b++)
        for (size_t j = 0; j < dim; j++)
            x[b * dim + j] = slots[b * w + j];
}

void nn_pack_diagonal(const nn_dense_layout *L, const double *W, size_t out, size_t in, bool transposed, size_t k,
                      double *slots)
{
    const size_t d = L->d, w = 2 * d;
    memset(slots, 0, L->batch * w * sizeof *slots);
    for (size_t i = 0; i < d; i++) {
        size_t r, c; /* the weight W[r][c] this position holds */
        if (!transposed) {
            r = i;
            c = (i + k) % d;
        } else {
            r = (i + k) % d;
            c = i;
        }
        const double v = (r < out && c < in) ? W[r * in + c] : 0.0;
        for (size_t b = 0; b < L->batch; b++)
            slots[b * w + i] = v;
    }
}

void nn_unpack_diagonal(const nn_dense_layout *L, const double *slots, size_t out, size_t in, bool transposed,
                        size_t k, double *W)
{
    const size_t d = L->d;
    for (size_t i = 0; i < d; i++) {
        size_t r = transposed ? (i + k) % d : i, c = transposed ? i : (i + k) % d;
        if (r < out && c < in)
            W[r * in + c] = slots[i];
    }
}

cl_status nn_double_slots(slots_ctx *ctx, const nn_dense_layout *L, const slots_vec *v, slots_vec *out)
{
    slots_vec *t;
    cl_status st = slots_vec_create(ctx, &t);
    if (st != CL_OK)
        return st;
    if ((st = slots_rotate(ctx, v, -(int)L->d, t)) == CL_OK)
        st = slots_add(ctx, v, t, out);
    slots_vec_free(t);
    return st;
}

/* out = sum_k diag[k] * rot(x, k): rotations computed once into rot[] (kept when
 * rot is given; the caller frees them), products summed. */
static cl_status diagonal_product(slots_ctx *ctx, const nn_dense_layout *L, slots_vec *const *diag,
                                  const slots_vec *x, slots_vec **rot, slots_vec *out)
{
    /* the d rotations of x share one key-switching decomposition, and the d
     * products one relinearization (slots_rotate_many, slots_dot) */
    cl_status st = CL_OK;
    const size_t d = L->d;
    slots_vec **r = rot;
    int *steps = calloc(d, sizeof *steps);
    if (!steps)
        return CL_ERR_NOMEM;
    if (!rot && !(r = calloc(d, sizeof *r)))
        st = CL_ERR_NOMEM;
    for (size_t k = 0; k < d && st == CL_OK; k++) {
        steps[k] = (int)k;
        if (!rot)
            st = slots_vec_create(ctx, &r[k]);
    }
    if (st == CL_OK && (st = slots_rotate_many(ctx, x, steps, d, r)) == CL_OK)
        st = slots_dot(ctx, (const slots_vec *const *)diag, (const slots_vec *const *)r, d, out);
    if (!rot && r) {
        for (size_t k = 0; k < d; k++)
            slots_vec_free(r[k]);
        free(r);
    }
    free(steps);
    return st;
}

cl_status nn_dense_forward_slots(slots_ctx *ctx, const nn_dense_layout *L, const nn_dense_slots *layer,
                                 const slots_vec *x_doubled, slots_vec **rot_cache, slots_vec *y)
{
    if (!ctx || !L || !layer || !x_doubled || !y)
        return CL_ERR_INVALID;
    cl_status st = nn_dense_layout_check(L, slots_count(ctx));
    if (st != CL_OK)
        return st;
    if ((st = diagonal_product(ctx, L, layer->diag, x_doubled, rot_cache, y)) != CL_OK)
        return st;
    return layer->bias ? slots_add(ctx, y, layer->bias, y) : CL_OK;
}

cl_status nn_dense_transpose_slots(slots_ctx *ctx, const nn_dense_layout *L, slots_vec *const *diag,
                                   slots_vec **tdiag)
{
    if (!ctx || !L || !diag || !tdiag)
        return CL_ERR_INVALID;
    const size_t S = slots_count(ctx), d = L->d;
    cl_status st = nn_dense_layout_check(L, S);
    if (st != CL_OK)
        return st;
    double *mask = malloc(S * sizeof *mask);
    slots_vec *dd = NULL, *r = NULL;
    if (!mask)
        return CL_ERR_NOMEM;
    for (size_t i = 0; i < S; i++)
        mask[i] = (i % (2 * d)) < d ? 1.0 : 0.0;
    if ((st = slots_vec_create(ctx, &dd)) != CL_OK || (st = slots_vec_create(ctx, &r)) != CL_OK)
        goto done;
    /* tdiag_k[j] = W[(j + k) mod d][j] = diag_{-k}[(j + k) mod d] */
    st = slots_copy(ctx, diag[0], tdiag[0]);
    for (size_t k = 1; k < d && st == CL_OK; k++)
        if ((st = nn_double_slots(ctx, L, diag[d - k], dd)) == CL_OK &&
            (st = slots_rotate(ctx, dd, (int)k, r)) == CL_OK)
            st = slots_mul_plain(ctx, r, mask, tdiag[k]);
done:
    slots_vec_free(dd);
    slots_vec_free(r);
    free(mask);
    return st;
}

static cl_status batch_sum(slots_ctx *ctx, const nn_dense_layout *L, const slots_vec *v, slots_vec *out)
{
    return slots_sum(ctx, v, 2 * L->d, L->batch, out);
}

cl_status nn_dense_backward_slots(slots_ctx *ctx, const nn_dense_layout *L, const nn_dense_slots *layer,
                                  const slots_vec *x, slots_vec *const *rot_cache, const slots_vec *dy,
                                  slots_vec *dx, slots_vec **grad_diag, slots_vec **grad_tdiag, slots_vec *grad_bias)
{
    if (!ctx || !L || !layer || !x || !rot_cache || !dy || !grad_diag)
        return CL_ERR_INVALID;
    cl_status st = nn_dense_layout_check(L, slots_count(ctx));
    if (st != CL_OK)
        return st;
    slots_vec *dyd = NULL, *p = NULL;
    slots_vec **rdy = calloc(L->d, sizeof *rdy);
    if (!rdy)
        return CL_ERR_NOMEM;
    if ((st = slots_vec_create(ctx, &dyd)) != CL_OK || (st = slots_vec_create(ctx, &p)) != CL_OK)
        goto done;
    const bool rotate_dy = dx || grad_tdiag;
    for (size_t k = 0; k < L->d && st == CL_OK && rotate_dy; k++)
        st = slots_vec_create(ctx, &rdy[k]);
    if (st != CL_OK || (rotate_dy && (st = nn_double_slots(ctx, L, dy, dyd)) != CL_OK))
        goto done;
    /* dx = sum_k tdiag_k * rot(dy_doubled, k); the rotations serve the gradients too */
    if (!rotate_dy) {
        /* a first layer: only the diagonals' and the bias's gradients */
    } else if (dx) {
        if ((st = diagonal_product(ctx, L, layer->tdiag, dyd, rdy, dx)) != CL_OK)
            goto done;
    } else {
        int *steps = malloc(L->d * sizeof *steps);
        if (!steps) {
            st = CL_ERR_NOMEM;
            goto done;
        }
        for (size_t k = 0; k < L->d; k++)
            steps[k] = (int)k;
        st = slots_rotate_many(ctx, dyd, steps, L->d, rdy);
        free(steps);
        if (st != CL_OK)
            goto done;
    }
    for (size_t k = 0; k < L->d && st == CL_OK; k++) {
        /* diagonal k of dW: batch sum of dy * rot(x_doubled, k) */
        if ((st = slots_mul(ctx, dy, rot_cache[k], p)) != CL_OK || (st = batch_sum(ctx, L, p, grad_diag[k])) != CL_OK)
            break;
        /* diagonal k of dW^T: batch sum of rot(dy_doubled, k) * x */
        if (grad_tdiag &&
            ((st = slots_mul(ctx, rdy[k], x, p)) != CL_OK || (st = batch_sum(ctx, L, p, grad_tdiag[k])) != CL_OK))
            break;
    }
    if (st == CL_OK && grad_bias)
        st = batch_sum(ctx, L, dy, grad_bias);
done:
    if (rdy)
        for (size_t k = 0; k < L->d; k++)
            slots_vec_free(rdy[k]);
    free(rdy);
    slots_vec_free(dyd);
    slots_vec_free(p);
    return st;
}
