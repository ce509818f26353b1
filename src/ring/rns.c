/* RNS: fast base conversion and exact centered CRT reconstruction. */
#include <stdlib.h>
#include <string.h>

#include "cipherl/ring.h"

cl_status ring_baseconv_init(ring_baseconv *bc, const ring_modulus *in, size_t in_count,
                             const ring_modulus *out, size_t out_count)
{
    if (!bc)
        return CL_ERR_INVALID;
    memset(bc, 0, sizeof *bc);
    if (!in || !out || in_count == 0 || out_count == 0 || in_count > 64)
        return CL_ERR_INVALID;
    bc->in_count = in_count;
    bc->out_count = out_count;
    bc->in = malloc(in_count * sizeof *bc->in);
    bc->out = malloc(out_count * sizeof *bc->out);
    bc->qhat_inv = malloc(in_count * sizeof(uint64_t));
    bc->qhat_inv_shoup = malloc(in_count * sizeof(uint64_t));
    bc->qhat_mod_p = malloc(in_count * out_count * sizeof(uint64_t));
    bc->q_mod_p = malloc(out_count * sizeof(uint64_t));
    bc->q_inv = malloc(in_count * sizeof(double));
    if (!bc->in || !bc->out || !bc->qhat_inv || !bc->qhat_inv_shoup || !bc->qhat_mod_p || !bc->q_mod_p ||
        !bc->q_inv) {
        ring_baseconv_free(bc);
        return CL_ERR_NOMEM;
    }
    memcpy(bc->in, in, in_count * sizeof *in);
    memcpy(bc->out, out, out_count * sizeof *out);
    for (size_t i = 0; i < in_count; i++) {
        /* (Q/q_i) mod q_i = prod_{k != i} q_k mod q_i */
        uint64_t prod = 1;
        for (size_t k = 0; k < in_count; k++)
            if (k != i)
                prod = ring_mulmod(prod, ring_reduce64(in[k].q, &in[i]), &in[i]);
        if (prod == 0) { /* repeated modulus */
            ring_baseconv_free(bc);
            return CL_ERR_PARAMS;
        }
        bc->qhat_inv[i] = ring_invmod(prod, &in[i]);
        bc->qhat_inv_shoup[i] = ring_shoup(bc->qhat_inv[i], in[i].q);
    }
    for (size_t j = 0; j < out_count; j++)
        for (size_t i = 0; i < in_count; i++) {
            uint64_t prod = 1;
            for (size_t k = 0; k < in_count; k++)
                if (k != i)
                    prod = ring_mulmod(prod, ring_reduce64(in[k].q, &out[j]), &out[j]);
            bc->qhat_mod_p[j * in_count + i] = prod;
        }
    for (size_t j = 0; j < out_count; j++) {
        uint64_t prod = 1;
        for (size_t k = 0; k < in_count; k++)
            prod = ring_mulmod(prod, ring_reduce64(in[k].q, &out[j]), &out[j]);
        bc->q_mod_p[j] = prod;
    }
    for (size_t i = 0; i < in_count; i++)
        bc->q_inv[i] = 1.0 / (double)in[i].q;
    return CL_OK;
}

void ring_baseconv_free(ring_baseconv *bc)
{
    if (!bc)
        return;
    free(bc->in);
    free(bc->out);
    free(bc->qhat_inv);
    free(bc->qhat_inv_shoup);
    free(bc->qhat_mod_p);
    free(bc->q_mod_p);
    free(bc->q_inv);
    memset(bc, 0, sizeof *bc);
}

#define BC_BLOCK 256

static void baseconv(const ring_baseconv *bc, const uint64_t *in, uint64_t *out, size_t n, bool exact)
{
    const size_t ic = bc->in_count, oc = bc->out_count;
    /* Blocks of coefficients are independent: they run on OpenMP threads,
     * each with its own stack buffers. */
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < n; b += BC_BLOCK) {
        uint64_t tmp[64 * BC_BLOCK];
        const size_t len = (n - b < BC_BLOCK) ? n - b : BC_BLOCK;
        uint64_t over[BC_BLOCK];
        for (size_t i = 0; i < ic; i++) {
            const uint64_t w = bc->qhat_inv[i], ws = bc->qhat_inv_shoup[i], q = bc->in[i].q;
            const uint64_t *x = in + i * n + b;
            uint64_t *t = tmp + i * BC_BLOCK;
            for (size_t k = 0; k < len; k++)
                t[k] = ring_mulmod_shoup(x[k], w, ws, q);
        }
        if (exact)
            for (size_t k = 0; k < len; k++) {
                double v = 0;
                for (size_t i = 0; i < ic; i++)
                    v += (double)tmp[i * BC_BLOCK + k] * bc->q_inv[i];
                over[k] = (uint64_t)v;
            }
        for (size_t j = 0; j < oc; j++) {
            const ring_modulus *p = &bc->out[j];
            const uint64_t *c = bc->qhat_mod_p + j * ic;
            uint64_t *y = out + j * n + b;
            /* Sums of up to 64 products of two values below 2^61 fit in 128 bits. */
            for (size_t k = 0; k < len; k++) {
                unsigned __int128 acc = 0;
                for (size_t i = 0; i < ic; i++)
                    acc += (unsigned __int128)tmp[i * BC_BLOCK + k] * c[i];
                y[k] = ring_reduce128(acc, p);
            }
            if (exact) {
                const uint64_t qm = bc->q_mod_p[j];
                for (size_t k = 0; k < len; k++)
                    y[k] = ring_submod(y[k], ring_reduce128((unsigned __int128)over[k] * qm, p), p->q);
            }
        }
    }
}

void ring_baseconv_apply(const ring_baseconv *bc, const uint64_t *in, uint64_t *out, size_t n)
{
    baseconv(bc, in, out, n, false);
}

void ring_baseconv_apply_exact(const ring_baseconv *bc, const uint64_t *in, uint64_t *out, size_t n)
{
    baseconv(bc, in, out, n, true);
}

cl_status ring_crt_init(ring_crt *crt, const ring_modulus *mod, size_t count)
{
    if (!crt)
        return CL_ERR_INVALID;
    memset(crt, 0, sizeof *crt);
    if (!mod || count == 0)
        return CL_ERR_INVALID;
    crt->count = count;
    crt->mod = malloc(count * sizeof *crt->mod);
    crt->inv = calloc(count * count, sizeof(uint64_t));
    if (!crt->mod || !crt->inv) {
        ring_crt_free(crt);
        return CL_ERR_NOMEM;
    }
    memcpy(crt->mod, mod, count * sizeof *mod);
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < i; j++) {
            uint64_t inv = ring_invmod(mod[j].q, &mod[i]);
            if (inv == 0) {
                ring_crt_free(crt);
                return CL_ERR_PARAMS;
            }
            crt->inv[i * count + j] = inv;
        }
    return CL_OK;
}

void ring_crt_free(ring_crt *crt)
{
    if (!crt)
        return;
    free(crt->mod);
    free(crt->inv);
    memset(crt, 0, sizeof *crt);
}

long double ring_crt_centered(const ring_crt *crt, const uint64_t *residues, uint64_t *digit)
{
    /* Garner's algorithm with centered digits d_i in (-q_i/2, q_i/2]:
     * x = d_0 + q_0 (d_1 + q_1 (d_2 + ...)). With odd moduli these digits cover
     * exactly the centered range of Z_Q, so the sum is the centered residue. */
    const size_t c = crt->count;
    int64_t sd[64];
    for (size_t i = 0; i < c; i++) {
        const ring_modulus *m = &crt->mod[i];
        uint64_t v = residues[i];
        for (size_t j = 0; j < i; j++) {
            /* v = (v - d_j) * q_j^-1 mod q_i, with d_j signed */
            uint64_t dj = ring_from_signed(sd[j], m->q);
            v = ring_mulmod(ring_submod(v, dj, m->q), crt->inv[i * c + j], m);
        }
        digit[i] = v;
        sd[i] = (v > (m->q >> 1)) ? (int64_t)v - (int64_t)m->q : (int64_t)v;
    }
    long double x = 0;
    for (size_t i = c; i-- > 0;)
        x = x * (long double)crt->mod[i].q + (long double)sd[i];
    return x;
}
