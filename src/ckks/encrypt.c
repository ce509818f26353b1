/* Encryption (public key, or secret key with a seeded uniform part) and
 * decryption. Decryption is c0 + c1*s (+ c2*s^2): no branch on secret data. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ckks/ckks_internal.h"

static cl_status check_pt(const ckks_params *p, const ckks_plaintext *pt)
{
    if (pt->params != p)
        return CL_ERR_PARAMS;
    if (pt->level < 0 || pt->level >= (int)p->q_count)
        return CL_ERR_INVALID;
    return CL_OK;
}

cl_status ckks_encrypt_pk(const ckks_public_key *pk, const ckks_plaintext *pt, ckks_ciphertext *ct)
{
    if (!pk || !pt || !ct)
        return CL_ERR_INVALID;
    const ckks_params *p = pk->params;
    cl_status st = check_pt(p, pt);
    if (st != CL_OK)
        return st;
    if (ct->params != p)
        return CL_ERR_PARAMS;
    /* (u0, u1) = v*(b, a) + (e0, e1) over Q_l ∪ P, then ct = (u0, u1) / P + (m, 0):
     * the division leaves the message untouched and shrinks the noise. */
    const size_t n = p->n, l = (size_t)pt->level, ext = l + 1 + p->p_count;
    int8_t *small = malloc(3 * n);
    uint64_t *u = malloc(2 * ext * n * sizeof *u);
    uint64_t *tmp = malloc(3 * ext * n * sizeof *tmp);
    if (!small || !u || !tmp) {
        st = CL_ERR_NOMEM;
        goto done;
    }
    if ((st = ring_sample_ternary(small, n)) != CL_OK ||
        (st = ring_sample_gaussian(small + n, n)) != CL_OK ||
        (st = ring_sample_gaussian(small + 2 * n, n)) != CL_OK)
        goto done;
    if ((st = ckks_ciphertext_reserve(ct, pt->level, 2)) != CL_OK)
        goto done;
#pragma omp parallel for schedule(static)
    for (size_t t = 0; t < ext; t++) {
        const size_t pi = t <= l ? t : p->q_count + (t - l - 1);
        const ring_modulus *m = &p->mod[pi];
        const ring_ntt *tb = &p->ntt[pi];
        uint64_t *v = tmp + t * n, *e0 = tmp + (ext + t) * n, *e1 = tmp + (2 * ext + t) * n;
        ring_small_to_residues(small, n, m->q, v);
        ring_small_to_residues(small + n, n, m->q, e0);
        ring_small_to_residues(small + 2 * n, n, m->q, e1);
        ring_ntt_forward(tb, v);
        ring_ntt_forward(tb, e0);
        ring_ntt_forward(tb, e1);
        const uint64_t *b = pk->b + pi * n, *a = pk->a + pi * n;
        uint64_t *u0 = u + t * n, *u1 = u + (ext + t) * n;
        for (size_t k = 0; k < n; k++) {
            u0[k] = ring_addmod(ring_mulmod(v[k], b[k], m), e0[k], m->q);
            u1[k] = ring_addmod(ring_mulmod(v[k], a[k], m), e1[k], m->q);
        }
    }
    /* tmp is free again: use it as ModDown's scratch */
    ckks_moddown(p, u, l, ct->poly[0], pt->data, NULL, tmp, tmp + p->p_count * n);
    ckks_moddown(p, u + ext * n, l, ct->poly[1], NULL, NULL, tmp, tmp + p->p_count * n);
    ct->level = pt->level;
    ct->size = 2;
    ct->scale = pt->scale;
    ct->slots = pt->slots;
    ct->seeded = false;
    st = CL_OK;
done:
    if (small)
        sodium_memzero(small, 3 * n);
    if (tmp)
        sodium_memzero(tmp, 3 * ext * n * sizeof *tmp);
    free(small);
    free(u);
    free(tmp);
    return st;
}

cl_status ckks_encrypt_sk(const ckks_secret_key *sk, const ckks_plaintext *pt, ckks_ciphertext *ct)
{
    if (!sk || !pt || !ct)
        return CL_ERR_INVALID;
    const ckks_params *p = sk->params;
    cl_status st = check_pt(p, pt);
    if (st != CL_OK)
        return st;
    if (ct->params != p)
        return CL_ERR_PARAMS;
    const size_t n = p->n, limbs = (size_t)pt->level + 1;
    int8_t *e = malloc(n);
    if (!e)
        return CL_ERR_NOMEM;
    if ((st = ring_sample_gaussian(e, n)) != CL_OK)
        goto done;
    if ((st = ckks_ciphertext_reserve(ct, pt->level, 2)) != CL_OK)
        goto done;
    if ((st = ring_random_bytes(ct->seed, sizeof ct->seed)) != CL_OK)
        goto done;
    ckks_expand_poly(p, ct->seed, CKKS_DOMAIN_CT, 0, limbs, ct->poly[1]);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < limbs; i++) {
        const ring_modulus *m = &p->mod[i];
        uint64_t *c0 = ct->poly[0] + i * n;
        const uint64_t *a = ct->poly[1] + i * n, *s = sk->ntt + i * n, *mi = pt->data + i * n;
        ring_small_to_residues(e, n, m->q, c0);
        ring_ntt_forward(&p->ntt[i], c0);
        for (size_t k = 0; k < n; k++) {
            uint64_t x = ring_submod(c0[k], ring_mulmod(a[k], s[k], m), m->q);
            c0[k] = ring_addmod(x, mi[k], m->q);
        }
    }
    ct->level = pt->level;
    ct->size = 2;
    ct->scale = pt->scale;
    ct->slots = pt->slots;
    ct->seeded = true;
    st = CL_OK;
done:
    sodium_memzero(e, n);
    free(e);
    return st;
}

cl_status ckks_decrypt(const ckks_secret_key *sk, const ckks_ciphertext *ct, ckks_plaintext *pt)
{
    if (!sk || !ct || !pt)
        return CL_ERR_INVALID;
    const ckks_params *p = sk->params;
    if (ct->params != p || pt->params != p)
        return CL_ERR_PARAMS;
    if (ct->level < 0)
        return CL_ERR_INVALID;
    cl_status st = ckks_plaintext_reserve(pt, ct->level);
    if (st != CL_OK)
        return st;
    const size_t n = p->n, limbs = (size_t)ct->level + 1;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < limbs; i++) {
        const ring_modulus *m = &p->mod[i];
        const uint64_t *c0 = ct->poly[0] + i * n, *c1 = ct->poly[1] + i * n, *s = sk->ntt + i * n;
        uint64_t *out = pt->data + i * n;
        if (ct->size == 3) {
            const uint64_t *c2 = ct->poly[2] + i * n;
            for (size_t k = 0; k < n; k++) {
                /* c0 + s*(c1 + s*c2) */
                uint64_t x = ring_addmod(c1[k], ring_mulmod(c2[k], s[k], m), m->q);
                out[k] = ring_addmod(c0[k], ring_mulmod(x, s[k], m), m->q);
            }
        } else {
            for (size_t k = 0; k < n; k++)
                out[k] = ring_addmod(c0[k], ring_mulmod(c1[k], s[k], m), m->q);
        }
    }
    pt->level = ct->level;
    pt->scale = ct->scale;
    pt->slots = ct->slots;
    return CL_OK;
}
