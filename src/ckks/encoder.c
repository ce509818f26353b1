/* The CKKS encoder: slots <-> polynomial through the canonical embedding.
 *
 * A vector z of `slots` complex numbers (slots a power of two <= N/2) is the
 * evaluation of m(X) at the roots zeta^(5^j), j < slots, zeta = exp(i*pi/N'),
 * of the subring in X^(N/N') with N' = 2*slots. The special FFT below
 * evaluates and interpolates in O(n log n); rotation j -> j+1 of the slots is
 * the automorphism X -> X^5. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"

struct ckks_encoder {
    const ckks_params *params;
    size_t m;                 /* 2N */
    double complex *roots;    /* exp(2 pi i k / M), k <= M */
    uint64_t *rot_group;      /* 5^j mod M, j < N/2 */
    double complex *buf;      /* N/2 slots */
    uint64_t *work;           /* (L+1) * N scratch */
    uint64_t *digits;         /* CRT scratch */
};

cl_status ckks_encoder_create(const ckks_params *params, ckks_encoder **out)
{
    if (!params || !out)
        return CL_ERR_INVALID;
    ckks_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return CL_ERR_NOMEM;
    const size_t n = params->n;
    e->params = params;
    e->m = 2 * n;
    e->roots = malloc((e->m + 1) * sizeof *e->roots);
    e->rot_group = malloc(n / 2 * sizeof *e->rot_group);
    e->buf = malloc(n / 2 * sizeof *e->buf);
    e->work = malloc(params->q_count * n * sizeof *e->work);
    e->digits = malloc(params->q_count * sizeof *e->digits);
    if (!e->roots || !e->rot_group || !e->buf || !e->work || !e->digits) {
        ckks_encoder_free(e);
        return CL_ERR_NOMEM;
    }
    for (size_t k = 0; k <= e->m; k++) {
        /* Reduce the angle to the first octant's accuracy by symmetry-free sin/cos
         * in long double: exact enough (errors ~1e-19) for 2^-50 precision goals. */
        long double a = 2.0L * 3.14159265358979323846264338327950288L * (long double)k / (long double)e->m;
        e->roots[k] = (double)cosl(a) + (double)sinl(a) * I;
    }
    uint64_t g = 1;
    for (size_t j = 0; j < n / 2; j++) {
        e->rot_group[j] = g;
        g = (g * 5) % e->m;
    }
    *out = e;
    return CL_OK;
}

void ckks_encoder_free(ckks_encoder *e)
{
    if (!e)
        return;
    free(e->roots);
    free(e->rot_group);
    free(e->buf);
    free(e->work);
    free(e->digits);
    free(e);
}

static void bit_reverse(double complex *v, size_t n)
{
    for (size_t i = 1, j = 0; i < n; i++) {
        size_t bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double complex t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
    }
}

/* Evaluation: coefficients (in the slot layout) -> slot values. */
static void fft_special(const ckks_encoder *e, double complex *v, size_t n)
{
    bit_reverse(v, n);
    for (size_t len = 2; len <= n; len <<= 1) {
        const size_t lenh = len >> 1, lenq = len << 2, stride = e->m / lenq;
        for (size_t i = 0; i < n; i += len)
            for (size_t j = 0; j < lenh; j++) {
                size_t idx = (e->rot_group[j] % lenq) * stride;
                double complex u = v[i + j], w = v[i + j + lenh] * e->roots[idx];
                v[i + j] = u + w;
                v[i + j + lenh] = u - w;
            }
    }
}

/* Interpolation: slot values -> coefficients (inverse of fft_special). */
static void fft_special_inv(const ckks_encoder *e, double complex *v, size_t n)
{
    for (size_t len = n; len >= 2; len >>= 1) {
        const size_t lenh = len >> 1, lenq = len << 2, stride = e->m / lenq;
        for (size_t i = 0; i < n; i += len)
            for (size_t j = 0; j < lenh; j++) {
                size_t idx = (lenq - (e->rot_group[j] % lenq)) * stride;
                double complex u = v[i + j] + v[i + j + lenh];
                double complex w = (v[i + j] - v[i + j + lenh]) * e->roots[idx];
                v[i + j] = u;
                v[i + j + lenh] = w;
            }
    }
    bit_reverse(v, n);
    const double inv = 1.0 / (double)n;
    for (size_t i = 0; i < n; i++)
        v[i] *= inv;
}

static bool valid_slots(const ckks_params *p, size_t slots)
{
    return slots >= 1 && slots <= p->n / 2 && (slots & (slots - 1)) == 0;
}

/* Declared in ckks_internal.h; the evaluator uses it for constants. */
uint64_t ckks_residue_of_real(long double x, const ring_modulus *m)
{
    long double r = roundl(x);
    bool neg = r < 0;
    if (neg)
        r = -r;
    unsigned __int128 mag;
    if (r < 18446744073709551616.0L) {
        mag = (uint64_t)r;
    } else {
        long double hi = floorl(r / 18446744073709551616.0L);
        long double lo = r - hi * 18446744073709551616.0L;
        mag = ((unsigned __int128)(uint64_t)hi << 64) | (uint64_t)lo;
    }
    uint64_t v = ring_reduce128(mag, m);
    return neg ? ring_negmod(v, m->q) : v;
}

cl_status ckks_encode_complex(ckks_encoder *e, const double *re, const double *im, size_t count,
                              size_t slots, int level, double scale, ckks_plaintext *pt)
{
    if (!e || !pt || (!re && count))
        return CL_ERR_INVALID;
    if (pt->params != e->params)
        return CL_ERR_PARAMS;
    const ckks_params *p = e->params;
    if (!valid_slots(p, slots) || count > slots || level < 0 || level > (int)p->q_count - 1)
        return CL_ERR_INVALID;
    if (!(scale >= 1.0) || !isfinite(scale))
        return CL_ERR_INVALID;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(re[i]) || (im && !isfinite(im[i])))
            return CL_ERR_INVALID;
    cl_status st = ckks_plaintext_reserve(pt, level);
    if (st != CL_OK)
        return st;

    double complex *z = e->buf;
    for (size_t i = 0; i < slots; i++)
        z[i] = i < count ? re[i] + (im ? im[i] : 0.0) * I : 0.0;
    fft_special_inv(e, z, slots);

    /* Largest coefficient must stay below Q_level / 2. */
    double max_abs = 0;
    for (size_t i = 0; i < slots; i++) {
        double a = fabs(creal(z[i])), b = fabs(cimag(z[i]));
        if (a > max_abs) max_abs = a;
        if (b > max_abs) max_abs = b;
    }
    double log2_q = 0;
    for (int i = 0; i <= level; i++)
        log2_q += log2((double)p->mod[i].q);
    if (max_abs * scale >= ldexp(1.0, 125) || (max_abs > 0 && log2(max_abs * scale) + 1.0 >= log2_q))
        return CL_ERR_INVALID;

    const size_t n = p->n, gap = n / (2 * slots);
    if (max_abs * scale < 0x1p62) {
        /* Round each coefficient once, then reduce it for every limb. */
        int64_t *c = (int64_t *)e->work;
        for (size_t k = 0; k < slots; k++) {
            c[2 * k] = llround(creal(z[k]) * scale);
            c[2 * k + 1] = llround(cimag(z[k]) * scale);
        }
        for (int i = 0; i <= level; i++) {
            const uint64_t q = p->mod[i].q;
            uint64_t *d = pt->data + (size_t)i * n;
            if (gap > 1)
                memset(d, 0, n * sizeof *d);
            for (size_t k = 0; k < slots; k++) {
                int64_t re_k = c[2 * k], im_k = c[2 * k + 1];
                uint64_t rr = ring_reduce64((uint64_t)(re_k < 0 ? -re_k : re_k), &p->mod[i]);
                uint64_t ri = ring_reduce64((uint64_t)(im_k < 0 ? -im_k : im_k), &p->mod[i]);
                d[k * gap] = re_k < 0 ? ring_negmod(rr, q) : rr;
                d[n / 2 + k * gap] = im_k < 0 ? ring_negmod(ri, q) : ri;
            }
        }
    } else {
        for (int i = 0; i <= level; i++) {
            uint64_t *d = pt->data + (size_t)i * n;
            memset(d, 0, n * sizeof *d);
            for (size_t k = 0; k < slots; k++) {
                d[k * gap] = ckks_residue_of_real((long double)creal(z[k]) * scale, &p->mod[i]);
                d[n / 2 + k * gap] = ckks_residue_of_real((long double)cimag(z[k]) * scale, &p->mod[i]);
            }
        }
    }
#pragma omp parallel for schedule(static)
    for (int i = 0; i <= level; i++)
        ring_ntt_forward(&p->ntt[i], pt->data + (size_t)i * n);
    pt->level = level;
    pt->scale = scale;
    pt->slots = slots;
    return CL_OK;
}

cl_status ckks_encode(ckks_encoder *e, const double *values, size_t count, size_t slots, int level,
                      double scale, ckks_plaintext *pt)
{
    return ckks_encode_complex(e, values, NULL, count, slots, level, scale, pt);
}

cl_status ckks_decode(ckks_encoder *e, const ckks_plaintext *pt, double *re, double *im, size_t count)
{
    if (!e || !pt || !re || pt->level < 0 || count > pt->slots)
        return CL_ERR_INVALID;
    if (pt->params != e->params)
        return CL_ERR_PARAMS;
    const ckks_params *p = e->params;
    const size_t n = p->n, slots = pt->slots, gap = n / (2 * slots);
    const int level = pt->level;
    memcpy(e->work, pt->data, (size_t)(level + 1) * n * sizeof *e->work);
#pragma omp parallel for schedule(static)
    for (int i = 0; i <= level; i++)
        ring_ntt_inverse(&p->ntt[i], e->work + (size_t)i * n);

    const ring_crt *crt = &p->crt[level];
    const long double inv_scale = 1.0L / (long double)pt->scale;
    uint64_t res[CKKS_MAX_PRIMES];
    double complex *z = e->buf;
    for (size_t k = 0; k < slots; k++) {
        size_t idx[2] = {k * gap, n / 2 + k * gap};
        double part[2];
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i <= level; i++)
                res[i] = e->work[(size_t)i * n + idx[h]];
            part[h] = (double)(ring_crt_centered(crt, res, e->digits) * inv_scale);
        }
        z[k] = part[0] + part[1] * I;
    }
    fft_special(e, z, slots);
    for (size_t k = 0; k < count; k++) {
        re[k] = creal(z[k]);
        if (im)
            im[k] = cimag(z[k]);
    }
    return CL_OK;
}
