/* The CKKS evaluator: arithmetic, rescaling, level control and hybrid key
 * switching (relinearization, rotations, conjugation, hoisted rotations).
 *
 * Key switching of a polynomial c at level l (Han–Ki hybrid method):
 *   ModUp:   split Q_l into digits of alpha primes; extend each digit's limbs
 *            to every other prime of Q_l and to P by fast base conversion.
 *   Inner:   acc = sum_j digit_j * key_j over Q_l and P.
 *   ModDown: divide acc by P (exactly up to a small rounding error).
 * A rotation applies the automorphism to the extended digits (a permutation in
 * NTT form), so one ModUp serves any number of rotations: plain rotations use
 * the same code path as hoisted ones and their results are identical. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"

typedef struct perm_entry {
    uint64_t galois;
    uint32_t *perm;
} perm_entry;

struct ckks_evaluator {
    const ckks_params *p;
    const ckks_eval_keys *keys;
    uint64_t *coeff;   /* q_count limbs: input in coefficient form */
    uint64_t *digits;  /* digits x qp_count limbs: extended digits, NTT form */
    uint64_t *acc;     /* 2 x qp_count limbs */
    uint64_t *conv;    /* qp_count limbs: base-conversion output */
    uint64_t *save;    /* q_count limbs: c0 kept across hoisted rotations */
    perm_entry *perms;
    size_t nperms;
};

void ckks_set_threads(int threads)
{
    if (threads > 0)
        omp_set_num_threads(threads);
}

cl_status ckks_evaluator_create(const ckks_params *p, const ckks_eval_keys *keys, ckks_evaluator **out)
{
    if (!p || !out)
        return CL_ERR_INVALID;
    if (keys && keys->params != p)
        return CL_ERR_PARAMS;
    ckks_evaluator *ev = calloc(1, sizeof *ev);
    if (!ev)
        return CL_ERR_NOMEM;
    const size_t n = p->n, qp = p->qp_count;
    ev->p = p;
    ev->keys = keys;
    ev->coeff = malloc(p->q_count * n * sizeof(uint64_t));
    ev->digits = malloc((size_t)p->spec.digits * qp * n * sizeof(uint64_t));
    ev->acc = malloc(2 * qp * n * sizeof(uint64_t));
    ev->conv = malloc(qp * n * sizeof(uint64_t));
    ev->save = malloc(p->q_count * n * sizeof(uint64_t));
    if (!ev->coeff || !ev->digits || !ev->acc || !ev->conv || !ev->save) {
        ckks_evaluator_free(ev);
        return CL_ERR_NOMEM;
    }
    *out = ev;
    return CL_OK;
}

void ckks_evaluator_free(ckks_evaluator *ev)
{
    if (!ev)
        return;
    free(ev->coeff);
    free(ev->digits);
    free(ev->acc);
    free(ev->conv);
    free(ev->save);
    for (size_t i = 0; i < ev->nperms; i++)
        free(ev->perms[i].perm);
    free(ev->perms);
    free(ev);
}

static const uint32_t *get_perm(ckks_evaluator *ev, uint64_t galois)
{
    for (size_t i = 0; i < ev->nperms; i++)
        if (ev->perms[i].galois == galois)
            return ev->perms[i].perm;
    perm_entry *np = realloc(ev->perms, (ev->nperms + 1) * sizeof *np);
    if (!np)
        return NULL;
    ev->perms = np;
    uint32_t *perm = malloc(ev->p->n * sizeof *perm);
    if (!perm)
        return NULL;
    ring_automorphism_ntt_table(ev->p->n, galois, perm);
    ev->perms[ev->nperms].galois = galois;
    ev->perms[ev->nperms].perm = perm;
    ev->nperms++;
    return perm;
}

/* ------------------------------------------------------------- checks */

static bool scales_match(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

static cl_status check_ct(const ckks_evaluator *ev, const ckks_ciphertext *a)
{
    if (!a)
        return CL_ERR_INVALID;
    if (a->params != ev->p)
        return CL_ERR_PARAMS;
    if (a->level < 0)
        return CL_ERR_INVALID;
    return CL_OK;
}

/* Every operation checks its output first: an output made for other
 * parameters could be too small for the result. */
static cl_status check_out(const ckks_evaluator *ev, const ckks_ciphertext *out)
{
    if (!ev || !out)
        return CL_ERR_INVALID;
    return out->params == ev->p ? CL_OK : CL_ERR_PARAMS;
}

static cl_status check_unary(const ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *out)
{
    cl_status st = check_out(ev, out);
    return st != CL_OK ? st : check_ct(ev, a);
}

static cl_status check_pair(const ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b,
                            bool same_scale)
{
    cl_status st;
    if ((st = check_ct(ev, a)) != CL_OK || (st = check_ct(ev, b)) != CL_OK)
        return st;
    if (a->level != b->level)
        return CL_ERR_LEVEL;
    if (a->slots != b->slots)
        return CL_ERR_INVALID;
    if (same_scale && !scales_match(a->scale, b->scale))
        return CL_ERR_SCALE;
    return CL_OK;
}

static cl_status check_plain(const ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_plaintext *pt)
{
    cl_status st = check_ct(ev, a);
    if (st != CL_OK)
        return st;
    if (!pt || pt->level < 0)
        return CL_ERR_INVALID;
    if (pt->params != ev->p)
        return CL_ERR_PARAMS;
    if (pt->level < a->level)
        return CL_ERR_LEVEL;
    return CL_OK;
}

static void finish(ckks_ciphertext *out, int level, int size, double scale, size_t slots)
{
    out->level = level;
    out->size = size;
    out->scale = scale;
    out->slots = slots;
    out->seeded = false;
}

/* -------------------------------------------------------- additive ops */

static cl_status add_sub(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b,
                         ckks_ciphertext *out, bool sub)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK || (st = check_pair(ev, a, b, true)) != CL_OK)
        return st;
    const int size = a->size > b->size ? a->size : b->size;
    if ((st = ckks_ciphertext_reserve(out, a->level, size)) != CL_OK)
        return st;
    const size_t n = ev->p->n, limbs = (size_t)a->level + 1;
    for (int c = 0; c < size; c++) {
        const uint64_t *x = c < a->size ? a->poly[c] : NULL, *y = c < b->size ? b->poly[c] : NULL;
        uint64_t *z = out->poly[c];
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < limbs; i++) {
            const uint64_t q = ev->p->mod[i].q;
            const size_t o = i * n;
            if (x && y) {
                if (sub)
                    for (size_t k = 0; k < n; k++) z[o + k] = ring_submod(x[o + k], y[o + k], q);
                else
                    for (size_t k = 0; k < n; k++) z[o + k] = ring_addmod(x[o + k], y[o + k], q);
            } else if (x) {
                if (z != x) memcpy(z + o, x + o, n * sizeof *z);
            } else {
                if (sub)
                    for (size_t k = 0; k < n; k++) z[o + k] = ring_negmod(y[o + k], q);
                else if (z != y)
                    memcpy(z + o, y + o, n * sizeof *z);
            }
        }
    }
    finish(out, a->level, size, a->scale, a->slots);
    return CL_OK;
}

cl_status ckks_add(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b, ckks_ciphertext *out)
{
    return ev ? add_sub(ev, a, b, out, false) : CL_ERR_INVALID;
}

cl_status ckks_sub(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b, ckks_ciphertext *out)
{
    return ev ? add_sub(ev, a, b, out, true) : CL_ERR_INVALID;
}

cl_status ckks_negate(ckks_evaluator *ev, const ckks_ciphertext *a, ckks_ciphertext *out)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK)
        return st;
    st = check_ct(ev, a);
    if (st != CL_OK || (st = ckks_ciphertext_reserve(out, a->level, a->size)) != CL_OK)
        return st;
    const size_t n = ev->p->n, limbs = (size_t)a->level + 1;
    for (int c = 0; c < a->size; c++)
        for (size_t i = 0; i < limbs; i++) {
            const uint64_t q = ev->p->mod[i].q;
            for (size_t k = 0; k < n; k++)
                out->poly[c][i * n + k] = ring_negmod(a->poly[c][i * n + k], q);
        }
    finish(out, a->level, a->size, a->scale, a->slots);
    return CL_OK;
}

static cl_status add_sub_plain(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_plaintext *pt,
                               ckks_ciphertext *out, bool sub)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK)
        return st;
    st = check_plain(ev, a, pt);
    if (st != CL_OK)
        return st;
    if (!scales_match(a->scale, pt->scale))
        return CL_ERR_SCALE;
    if (pt->slots != a->slots)
        return CL_ERR_INVALID;
    if (out != a && (st = ckks_ciphertext_copy(out, a)) != CL_OK)
        return st;
    const size_t n = ev->p->n, limbs = (size_t)a->level + 1;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < limbs; i++) {
        const uint64_t q = ev->p->mod[i].q;
        uint64_t *z = out->poly[0] + i * n;
        const uint64_t *y = pt->data + i * n;
        if (sub)
            for (size_t k = 0; k < n; k++) z[k] = ring_submod(z[k], y[k], q);
        else
            for (size_t k = 0; k < n; k++) z[k] = ring_addmod(z[k], y[k], q);
    }
    out->seeded = false;
    return CL_OK;
}

cl_status ckks_add_plain(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_plaintext *p, ckks_ciphertext *out)
{
    return add_sub_plain(ev, a, p, out, false);
}

cl_status ckks_sub_plain(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_plaintext *p, ckks_ciphertext *out)
{
    return add_sub_plain(ev, a, p, out, true);
}

cl_status ckks_add_const(ckks_evaluator *ev, const ckks_ciphertext *a, double c, ckks_ciphertext *out)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK)
        return st;
    if (!isfinite(c))
        return CL_ERR_INVALID;
    st = check_ct(ev, a);
    if (st != CL_OK)
        return st;
    long double v = (long double)c * (long double)a->scale;
    if (fabsl(v) >= 0x1p125L)
        return CL_ERR_INVALID;
    if (out != a && (st = ckks_ciphertext_copy(out, a)) != CL_OK)
        return st;
    /* A constant polynomial has the same value at every NTT point. */
    const size_t n = ev->p->n, limbs = (size_t)a->level + 1;
    for (size_t i = 0; i < limbs; i++) {
        const ring_modulus *m = &ev->p->mod[i];
        const uint64_t r = ckks_residue_of_real(v, m);
        uint64_t *z = out->poly[0] + i * n;
        for (size_t k = 0; k < n; k++)
            z[k] = ring_addmod(z[k], r, m->q);
    }
    out->seeded = false;
    return CL_OK;
}

cl_status ckks_mul_const(ckks_evaluator *ev, const ckks_ciphertext *a, double c, double const_scale,
                         ckks_ciphertext *out)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK)
        return st;
    if (!isfinite(c) || !(const_scale >= 0) || !isfinite(const_scale))
        return CL_ERR_INVALID;
    st = check_ct(ev, a);
    if (st != CL_OK)
        return st;
    if (const_scale == 0)
        const_scale = (double)ev->p->mod[a->level].q;
    long double v = (long double)c * (long double)const_scale;
    if (fabsl(v) >= 0x1p125L)
        return CL_ERR_INVALID;
    if ((st = ckks_ciphertext_reserve(out, a->level, a->size)) != CL_OK)
        return st;
    const size_t n = ev->p->n, limbs = (size_t)a->level + 1;
    for (size_t i = 0; i < limbs; i++) {
        const ring_modulus *m = &ev->p->mod[i];
        const uint64_t w = ckks_residue_of_real(v, m), ws = ring_shoup(w, m->q);
        for (int s = 0; s < a->size; s++) {
            const uint64_t *x = a->poly[s] + i * n;
            uint64_t *z = out->poly[s] + i * n;
            for (size_t k = 0; k < n; k++)
                z[k] = ring_mulmod_shoup(x[k], w, ws, m->q);
        }
    }
    finish(out, a->level, a->size, a->scale * const_scale, a->slots);
    return CL_OK;
}

static double log2_q_at(const ckks_params *p, int level)
{
    double s = 0;
    for (int i = 0; i <= level; i++)
        s += log2((double)p->mod[i].q);
    return s;
}

cl_status ckks_mul_plain(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_plaintext *pt, ckks_ciphertext *out)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK)
        return st;
    st = check_plain(ev, a, pt);
    if (st != CL_OK)
        return st;
    if (pt->slots != a->slots)
        return CL_ERR_INVALID;
    if (log2(a->scale) + log2(pt->scale) >= log2_q_at(ev->p, a->level) - 1)
        return CL_ERR_SCALE;
    if ((st = ckks_ciphertext_reserve(out, a->level, a->size)) != CL_OK)
        return st;
    const size_t n = ev->p->n, limbs = (size_t)a->level + 1;
    for (int s = 0; s < a->size; s++) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < limbs; i++) {
            const ring_modulus *m = &ev->p->mod[i];
            const uint64_t *x = a->poly[s] + i * n, *y = pt->data + i * n;
            uint64_t *z = out->poly[s] + i * n;
            for (size_t k = 0; k < n; k++)
                z[k] = ring_mulmod(x[k], y[k], m);
        }
    }
    finish(out, a->level, a->size, a->scale * pt->scale, a->slots);
    return CL_OK;
}

cl_status ckks_mul(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b, ckks_ciphertext *out)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK)
        return st;
    st = check_pair(ev, a, b, false);
    if (st != CL_OK)
        return st;
    if (a->size != 2 || b->size != 2)
        return CL_ERR_INVALID; /* relinearize first */
    if (log2(a->scale) + log2(b->scale) >= log2_q_at(ev->p, a->level) - 1)
        return CL_ERR_SCALE;
    if ((st = ckks_ciphertext_reserve(out, a->level, 3)) != CL_OK)
        return st;
    const size_t n = ev->p->n, limbs = (size_t)a->level + 1;
    const double scale = a->scale * b->scale;
    const size_t slots = a->slots;
    const int level = a->level;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < limbs; i++) {
        const ring_modulus *m = &ev->p->mod[i];
        const uint64_t *a0 = a->poly[0] + i * n, *a1 = a->poly[1] + i * n;
        const uint64_t *b0 = b->poly[0] + i * n, *b1 = b->poly[1] + i * n;
        uint64_t *d0 = out->poly[0] + i * n, *d1 = out->poly[1] + i * n, *d2 = out->poly[2] + i * n;
        for (size_t k = 0; k < n; k++) {
            uint64_t x0 = a0[k], x1 = a1[k], y0 = b0[k], y1 = b1[k];
            unsigned __int128 cross = (unsigned __int128)x0 * y1 + (unsigned __int128)x1 * y0;
            d0[k] = ring_reduce128((unsigned __int128)x0 * y0, m);
            d1[k] = ring_reduce128(cross, m);
            d2[k] = ring_reduce128((unsigned __int128)x1 * y1, m);
        }
    }
    finish(out, level, 3, scale, slots);
    return CL_OK;
}

/* ----------------------------------------------------------- rescaling */

cl_status ckks_rescale(ckks_evaluator *ev, const ckks_ciphertext *a, ckks_ciphertext *out)
{
    cl_status st = check_unary(ev, a, out);
    if (st != CL_OK)
        return st;
    if (a->level < 1)
        return CL_ERR_LEVEL;
    const ckks_params *p = ev->p;
    const size_t n = p->n, l = (size_t)a->level, qc = p->q_count;
    if (out != a && (st = ckks_ciphertext_reserve(out, a->level - 1, a->size)) != CL_OK)
        return st;
    const ring_modulus *ml = &p->mod[l];
    const uint64_t half = ml->q >> 1;
    for (int s = 0; s < a->size; s++) {
        /* last limb to coefficients, shifted by q_l/2 for rounding */
        uint64_t *last = ev->coeff;
        memcpy(last, a->poly[s] + l * n, n * sizeof *last);
        ring_ntt_inverse(&p->ntt[l], last);
        for (size_t k = 0; k < n; k++)
            last[k] = ring_addmod(last[k], half, ml->q);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < l; i++) {
            const ring_modulus *m = &p->mod[i];
            uint64_t *t = ev->conv + i * n;
            const uint64_t half_i = ring_reduce64(half, m);
            for (size_t k = 0; k < n; k++)
                t[k] = ring_submod(ring_reduce64(last[k], m), half_i, m->q);
            ring_ntt_forward(&p->ntt[i], t);
            const uint64_t w = p->rescale_inv[l * qc + i], ws = p->rescale_inv_shoup[l * qc + i];
            const uint64_t *x = a->poly[s] + i * n;
            uint64_t *z = out->poly[s] + i * n;
            for (size_t k = 0; k < n; k++)
                z[k] = ring_mulmod_shoup(x[k] + m->q - t[k], w, ws, m->q);
        }
    }
    finish(out, a->level - 1, a->size, a->scale / (double)ml->q, a->slots);
    return CL_OK;
}

cl_status ckks_drop_level(ckks_evaluator *ev, const ckks_ciphertext *a, int level, ckks_ciphertext *out)
{
    cl_status st = check_unary(ev, a, out);
    if (st != CL_OK)
        return st;
    if (level < 0 || level > a->level)
        return CL_ERR_LEVEL;
    if (out != a) {
        if ((st = ckks_ciphertext_reserve(out, level, a->size)) != CL_OK)
            return st;
        for (int s = 0; s < a->size; s++)
            memcpy(out->poly[s], a->poly[s], (size_t)(level + 1) * ev->p->n * sizeof(uint64_t));
        out->seeded = a->seeded;
        memcpy(out->seed, a->seed, sizeof out->seed);
    }
    bool seeded = a->seeded; /* limbs of expand(seed) stay expand(seed) */
    finish(out, level, a->size, a->scale, a->slots);
    out->seeded = seeded;
    return CL_OK;
}

/* ------------------------------------------------------- key switching */

/* Limb t of the extended basis Q_l ∪ P at level l -> prime index. */
static inline size_t ext_prime(const ckks_params *p, size_t l, size_t t)
{
    return t <= l ? t : p->q_count + (t - l - 1);
}

/* Extends c (NTT form, level l) digit by digit into ev->digits. */
static void modup(ckks_evaluator *ev, const uint64_t *c, size_t l)
{
    const ckks_params *p = ev->p;
    const size_t n = p->n, ext = l + 1 + p->p_count, dn = ckks_digits_at_level(p, (int)l);
    memcpy(ev->coeff, c, (l + 1) * n * sizeof(uint64_t));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i <= l; i++)
        ring_ntt_inverse(&p->ntt[i], ev->coeff + i * n);
    for (size_t j = 0; j < dn; j++) {
        const size_t lo = j * p->alpha, hi = (lo + p->alpha < l + 1) ? lo + p->alpha : l + 1;
        const ring_baseconv *bc = &p->modup[l * (size_t)p->spec.digits + j];
        uint64_t *d = ev->digits + j * ext * n;
        ring_baseconv_apply(bc, ev->coeff + lo * n, ev->conv, n);
        /* scatter: targets are Q_l minus [lo,hi), then P */
#pragma omp parallel for schedule(static)
        for (size_t t = 0; t < ext; t++) {
            uint64_t *dst = d + t * n;
            if (t >= lo && t < hi) {
                memcpy(dst, c + t * n, n * sizeof *dst);
                continue;
            }
            size_t src = t < lo ? t : t - (hi - lo);
            memcpy(dst, ev->conv + src * n, n * sizeof *dst);
            ring_ntt_forward(&p->ntt[ext_prime(p, l, t)], dst);
        }
    }
}

/* acc0/acc1 over Q_l ∪ P = sum_j digit_j∘perm * (b_j, a_j). */
static void inner_product(ckks_evaluator *ev, const ckks_switch_key *key, size_t l, const uint32_t *perm)
{
    const ckks_params *p = ev->p;
    const size_t n = p->n, ext = l + 1 + p->p_count, dn = ckks_digits_at_level(p, (int)l), qp = p->qp_count;
    uint64_t *acc0 = ev->acc, *acc1 = ev->acc + ext * n;
#pragma omp parallel for schedule(static)
    for (size_t t = 0; t < ext; t++) {
        const size_t pi = ext_prime(p, l, t);
        const ring_modulus *m = &p->mod[pi];
        uint64_t *z0 = acc0 + t * n, *z1 = acc1 + t * n;
        const uint64_t *d[CKKS_MAX_PRIMES], *kb[CKKS_MAX_PRIMES], *ka[CKKS_MAX_PRIMES];
        for (size_t j = 0; j < dn; j++) {
            d[j] = ev->digits + (j * ext + t) * n;
            kb[j] = key->b + (j * qp + pi) * n;
            ka[j] = key->a + (j * qp + pi) * n;
        }
        if (perm) {
            for (size_t k = 0; k < n; k++) {
                unsigned __int128 s0 = 0, s1 = 0;
                const uint32_t pk = perm[k];
                for (size_t j = 0; j < dn; j++) {
                    uint64_t x = d[j][pk];
                    s0 += (unsigned __int128)x * kb[j][k];
                    s1 += (unsigned __int128)x * ka[j][k];
                }
                z0[k] = ring_reduce128(s0, m);
                z1[k] = ring_reduce128(s1, m);
            }
        } else {
            for (size_t k = 0; k < n; k++) {
                unsigned __int128 s0 = 0, s1 = 0;
                for (size_t j = 0; j < dn; j++) {
                    uint64_t x = d[j][k];
                    s0 += (unsigned __int128)x * kb[j][k];
                    s1 += (unsigned __int128)x * ka[j][k];
                }
                z0[k] = ring_reduce128(s0, m);
                z1[k] = ring_reduce128(s1, m);
            }
        }
    }
}

void ckks_moddown(const ckks_params *p, const uint64_t *x, size_t l, uint64_t *out, const uint64_t *add,
                  const uint32_t *perm, uint64_t *pcoeff, uint64_t *conv)
{
    /* (documented in ckks_internal.h) */
    const size_t n = p->n, pc = p->p_count;
    memcpy(pcoeff, x + (l + 1) * n, pc * n * sizeof(uint64_t));
    /* Round rather than floor: convert [x + (P-1)/2]_P exactly, subtract (P-1)/2.
     * (P-1)/2 mod p_k = (p_k - 1)/2 since P ≡ 0 mod p_k. */
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < pc; k++) {
        const ring_modulus *m = &p->mod[p->q_count + k];
        uint64_t *c = pcoeff + k * n;
        const uint64_t h = (m->q - 1) / 2;
        ring_ntt_inverse(&p->ntt[p->q_count + k], c);
        for (size_t t = 0; t < n; t++)
            c[t] = ring_addmod(c[t], h, m->q);
    }
    ring_baseconv_apply_exact(&p->moddown[l], pcoeff, conv, n);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i <= l; i++) {
        const ring_modulus *m = &p->mod[i];
        uint64_t *t = conv + i * n;
        const uint64_t hq = p->half_p_mod_q[i];
        for (size_t k = 0; k < n; k++)
            t[k] = ring_submod(t[k], hq, m->q);
        ring_ntt_forward(&p->ntt[i], t);
        const uint64_t w = p->p_inv[i], ws = p->p_inv_shoup[i], q = m->q;
        const uint64_t *xi = x + i * n;
        uint64_t *z = out + i * n;
        if (!add) {
            for (size_t k = 0; k < n; k++)
                z[k] = ring_mulmod_shoup(xi[k] + q - t[k], w, ws, q);
        } else {
            const uint64_t *ai = add + i * n;
            if (perm)
                for (size_t k = 0; k < n; k++)
                    z[k] = ring_addmod(ai[perm[k]], ring_mulmod_shoup(xi[k] + q - t[k], w, ws, q), q);
            else
                for (size_t k = 0; k < n; k++)
                    z[k] = ring_addmod(ai[k], ring_mulmod_shoup(xi[k] + q - t[k], w, ws, q), q);
        }
    }
}

cl_status ckks_relinearize(ckks_evaluator *ev, const ckks_ciphertext *a, ckks_ciphertext *out)
{
    cl_status st = check_unary(ev, a, out);
    if (st != CL_OK)
        return st;
    if (a->size == 2)
        return out == a ? CL_OK : ckks_ciphertext_copy(out, a);
    if (!ev->keys || !ev->keys->relin)
        return CL_ERR_NOKEY;
    const size_t l = (size_t)a->level, n = ev->p->n, ext = l + 1 + ev->p->p_count;
    if (out != a && (st = ckks_ciphertext_reserve(out, a->level, 2)) != CL_OK)
        return st;
    modup(ev, a->poly[2], l);
    inner_product(ev, ev->keys->relin, l, NULL);
    /* c0 += ModDown(acc0), c1 += ModDown(acc1) */
    ckks_moddown(ev->p, ev->acc, l, out->poly[0], a->poly[0], NULL, ev->coeff, ev->conv);
    ckks_moddown(ev->p, ev->acc + ext * n, l, out->poly[1], a->poly[1], NULL, ev->coeff, ev->conv);
    finish(out, a->level, 2, a->scale, a->slots);
    return CL_OK;
}

cl_status ckks_mul_relin(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b, ckks_ciphertext *out)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK)
        return st;
    if (!ev->keys || !ev->keys->relin)
        return CL_ERR_NOKEY;
    st = ckks_mul(ev, a, b, out);
    if (st != CL_OK)
        return st;
    return ckks_relinearize(ev, out, out);
}

static cl_status rotate_galois(ckks_evaluator *ev, const ckks_ciphertext *a, const uint64_t *galois,
                               size_t count, ckks_ciphertext *const *outs)
{
    cl_status st = check_ct(ev, a);
    if (st != CL_OK)
        return st;
    if (a->size != 2)
        return CL_ERR_INVALID;
    const ckks_switch_key *keys[64];
    const uint32_t *perms[64];
    if (count > 64)
        return CL_ERR_INVALID;
    for (size_t s = 0; s < count; s++) {
        if (!outs[s])
            return CL_ERR_INVALID;
        if (outs[s]->params != ev->p)
            return CL_ERR_PARAMS;
        keys[s] = NULL;
        if (galois[s] == 1)
            continue;
        if (!(keys[s] = ckks_eval_keys_find(ev->keys, galois[s])))
            return CL_ERR_NOKEY;
        if (!(perms[s] = get_perm(ev, galois[s])))
            return CL_ERR_NOMEM;
    }
    for (size_t s = 0; s < count; s++)
        if ((st = ckks_ciphertext_reserve(outs[s], a->level, 2)) != CL_OK)
            return st;
    const ckks_params *p = ev->p;
    const size_t l = (size_t)a->level, n = p->n, ext = l + 1 + p->p_count;
    const int level = a->level;
    const double scale = a->scale;
    const size_t slots = a->slots;
    memcpy(ev->save, a->poly[0], (l + 1) * n * sizeof(uint64_t));
    bool extended = false;
    for (size_t s = 0; s < count; s++) {
        ckks_ciphertext *o = outs[s];
        if (!keys[s]) { /* identity */
            if (o != a) {
                memcpy(o->poly[0], ev->save, (l + 1) * n * sizeof(uint64_t));
                memcpy(o->poly[1], a->poly[1], (l + 1) * n * sizeof(uint64_t));
            }
            finish(o, level, 2, scale, slots);
            continue;
        }
        if (!extended) {
            modup(ev, a->poly[1], l);
            extended = true;
        }
        inner_product(ev, keys[s], l, perms[s]);
        ckks_moddown(ev->p, ev->acc, l, o->poly[0], ev->save, perms[s], ev->coeff, ev->conv);
        ckks_moddown(ev->p, ev->acc + ext * n, l, o->poly[1], NULL, NULL, ev->coeff, ev->conv);
        finish(o, level, 2, scale, slots);
    }
    return CL_OK;
}

cl_status ckks_rotate_hoisted(ckks_evaluator *ev, const ckks_ciphertext *a, const int *steps, size_t count,
                              ckks_ciphertext *const *outs)
{
    if (!ev || !steps || !outs || count == 0 || count > 64)
        return CL_ERR_INVALID;
    uint64_t g[64];
    for (size_t s = 0; s < count; s++)
        g[s] = ckks_galois_element(ev->p, steps[s]);
    /* An output that aliases the input must be written last. */
    for (size_t s = 0; s + 1 < count; s++)
        if (outs[s] == a)
            return CL_ERR_INVALID;
    return rotate_galois(ev, a, g, count, outs);
}

cl_status ckks_rotate(ckks_evaluator *ev, const ckks_ciphertext *a, int step, ckks_ciphertext *out)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK)
        return st;
    uint64_t g = ckks_galois_element(ev->p, step);
    return rotate_galois(ev, a, &g, 1, &out);
}

cl_status ckks_conjugate(ckks_evaluator *ev, const ckks_ciphertext *a, ckks_ciphertext *out)
{
    cl_status st = check_out(ev, out);
    if (st != CL_OK)
        return st;
    uint64_t g = ckks_galois_conjugate(ev->p);
    return rotate_galois(ev, a, &g, 1, &out);
}
