/* The negacyclic number-theoretic transform, after Harvey (2014): Cooley–Tukey
 * forward and Gentleman–Sande inverse butterflies with Shoup multiplication and
 * lazy reduction (values kept in [0, 4q) forward and [0, 2q) inverse). */
#include <stdlib.h>
#include <string.h>

#include "cipherl/ring.h"

/* gcc does not vectorize the 64-bit Shoup butterfly; clang does, and its own
 * code measured faster than these intrinsics (and slower with them), so the
 * explicit AVX2 path is for gcc only. */
#if defined(__AVX2__) && !defined(__clang__)
#define RING_NTT_AVX2 1
#include <immintrin.h>

/* AVX2 has no 64x64-bit multiply: build it from 32x32 -> 64 products. */
static inline __m256i mul64_lo(__m256i a, __m256i b, __m256i b_hi)
{
    __m256i lo = _mm256_mul_epu32(a, b);
    __m256i c1 = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), b);
    __m256i c2 = _mm256_mul_epu32(a, b_hi);
    return _mm256_add_epi64(lo, _mm256_slli_epi64(_mm256_add_epi64(c1, c2), 32));
}

static inline __m256i mul64_hi(__m256i a, __m256i b, __m256i b_hi)
{
    const __m256i mask = _mm256_set1_epi64x(0xffffffff);
    __m256i a_hi = _mm256_srli_epi64(a, 32);
    __m256i lo = _mm256_mul_epu32(a, b);
    __m256i m1 = _mm256_mul_epu32(a_hi, b);
    __m256i m2 = _mm256_mul_epu32(a, b_hi);
    __m256i hi = _mm256_mul_epu32(a_hi, b_hi);
    __m256i mid = _mm256_add_epi64(_mm256_srli_epi64(lo, 32),
                                   _mm256_add_epi64(_mm256_and_si256(m1, mask), _mm256_and_si256(m2, mask)));
    return _mm256_add_epi64(hi, _mm256_add_epi64(_mm256_add_epi64(_mm256_srli_epi64(m1, 32),
                                                                  _mm256_srli_epi64(m2, 32)),
                                                 _mm256_srli_epi64(mid, 32)));
}

/* a*w mod q in [0, 2q) (Shoup), four lanes. */
static inline __m256i mulmod_shoup_lazy4(__m256i a, __m256i w, __m256i w_hi, __m256i ws, __m256i ws_hi,
                                         __m256i q, __m256i q_hi)
{
    __m256i quot = mul64_hi(a, ws, ws_hi);
    return _mm256_sub_epi64(mul64_lo(a, w, w_hi), mul64_lo(quot, q, q_hi));
}

/* x - m if x >= m, for x, m < 2^63 (signed compare is then exact). */
static inline __m256i sub_if_ge(__m256i x, __m256i m)
{
    __m256i t = _mm256_sub_epi64(x, m);
    __m256i neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), t);
    return _mm256_blendv_epi8(t, x, neg);
}

/* Gentleman–Sande butterflies of one group, four lanes at a time. */
static void inv_butterflies_avx2(uint64_t *restrict x, uint64_t *restrict y, size_t gap, uint64_t w, uint64_t ws,
                                 uint64_t q)
{
    const __m256i vw = _mm256_set1_epi64x((long long)w), vws = _mm256_set1_epi64x((long long)ws);
    const __m256i vw_hi = _mm256_srli_epi64(vw, 32), vws_hi = _mm256_srli_epi64(vws, 32);
    const __m256i vq = _mm256_set1_epi64x((long long)q), vq_hi = _mm256_srli_epi64(vq, 32);
    const __m256i v2q = _mm256_set1_epi64x((long long)(2 * q));
    for (size_t j = 0; j < gap; j += 4) {
        __m256i u = _mm256_loadu_si256((const __m256i *)(x + j));
        __m256i v = _mm256_loadu_si256((const __m256i *)(y + j));
        _mm256_storeu_si256((__m256i *)(x + j), sub_if_ge(_mm256_add_epi64(u, v), v2q));
        __m256i d = _mm256_add_epi64(_mm256_sub_epi64(u, v), v2q);
        _mm256_storeu_si256((__m256i *)(y + j), mulmod_shoup_lazy4(d, vw, vw_hi, vws, vws_hi, vq, vq_hi));
    }
}
#endif

/* With AVX-512 (F and DQ), eight lanes: a native 64-bit low product, the
 * high product from four 32 x 32 -> 64 products, and x - m if x >= m as an
 * unsigned minimum (x - m wraps above x when x < m). gcc only, as above. */
#if defined(__AVX512F__) && defined(__AVX512DQ__) && !defined(__clang__)
#define RING_NTT_AVX512 1
#include <immintrin.h>

static inline __m512i mulhi8(__m512i a, __m512i b, __m512i b_hi)
{
    const __m512i mask = _mm512_set1_epi64(0xffffffff);
    __m512i a_hi = _mm512_srli_epi64(a, 32);
    __m512i lo = _mm512_mul_epu32(a, b);
    __m512i m1 = _mm512_mul_epu32(a_hi, b);
    __m512i m2 = _mm512_mul_epu32(a, b_hi);
    __m512i hi = _mm512_mul_epu32(a_hi, b_hi);
    __m512i mid = _mm512_add_epi64(_mm512_srli_epi64(lo, 32),
                                   _mm512_add_epi64(_mm512_and_si512(m1, mask), _mm512_and_si512(m2, mask)));
    return _mm512_add_epi64(_mm512_add_epi64(hi, _mm512_srli_epi64(mid, 32)),
                            _mm512_add_epi64(_mm512_srli_epi64(m1, 32), _mm512_srli_epi64(m2, 32)));
}

/* a*w mod q in [0, 2q) (Shoup), eight lanes */
static inline __m512i shoup_lazy8(__m512i a, __m512i w, __m512i ws, __m512i ws_hi, __m512i q)
{
    return _mm512_sub_epi64(_mm512_mullo_epi64(a, w), _mm512_mullo_epi64(mulhi8(a, ws, ws_hi), q));
}

static inline __m512i sub_if_ge8(__m512i x, __m512i m)
{
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, m));
}

/* Cooley–Tukey butterflies of one group (gap a multiple of 8) */
static void fwd_butterflies_avx512(uint64_t *restrict x, uint64_t *restrict y, size_t gap, uint64_t w, uint64_t ws,
                                   uint64_t q)
{
    const __m512i vw = _mm512_set1_epi64((long long)w), vws = _mm512_set1_epi64((long long)ws);
    const __m512i vws_hi = _mm512_srli_epi64(vws, 32), vq = _mm512_set1_epi64((long long)q);
    const __m512i v2q = _mm512_set1_epi64((long long)(2 * q));
    for (size_t j = 0; j < gap; j += 8) {
        __m512i u = sub_if_ge8(_mm512_loadu_si512(x + j), v2q);
        __m512i v = shoup_lazy8(_mm512_loadu_si512(y + j), vw, vws, vws_hi, vq);
        _mm512_storeu_si512(x + j, _mm512_add_epi64(u, v));
        _mm512_storeu_si512(y + j, _mm512_add_epi64(_mm512_sub_epi64(u, v), v2q));
    }
}

/* Gentleman–Sande butterflies of one group (gap a multiple of 8) */
static void inv_butterflies_avx512(uint64_t *restrict x, uint64_t *restrict y, size_t gap, uint64_t w, uint64_t ws,
                                   uint64_t q)
{
    const __m512i vw = _mm512_set1_epi64((long long)w), vws = _mm512_set1_epi64((long long)ws);
    const __m512i vws_hi = _mm512_srli_epi64(vws, 32), vq = _mm512_set1_epi64((long long)q);
    const __m512i v2q = _mm512_set1_epi64((long long)(2 * q));
    for (size_t j = 0; j < gap; j += 8) {
        __m512i u = _mm512_loadu_si512(x + j), v = _mm512_loadu_si512(y + j);
        _mm512_storeu_si512(x + j, sub_if_ge8(_mm512_add_epi64(u, v), v2q));
        __m512i d = _mm512_add_epi64(_mm512_sub_epi64(u, v), v2q);
        _mm512_storeu_si512(y + j, shoup_lazy8(d, vw, vws, vws_hi, vq));
    }
}
#endif

static size_t bitrev(size_t x, int bits)
{
    size_t r = 0;
    for (int i = 0; i < bits; i++) {
        r = (r << 1) | (x & 1);
        x >>= 1;
    }
    return r;
}

/* Smallest primitive 2n-th root of unity modulo the prime q ≡ 1 (mod 2n). */
static uint64_t find_psi(const ring_modulus *m, size_t n)
{
    const uint64_t two_n = 2 * (uint64_t)n;
    const uint64_t cofactor = (m->q - 1) / two_n;
    for (uint64_t g = 2; g < m->q; g++) {
        uint64_t psi = ring_powmod(g, cofactor, m);
        /* psi has order dividing 2n; it is primitive iff psi^n == -1. */
        if (ring_powmod(psi, n, m) == m->q - 1)
            return psi;
    }
    return 0;
}

cl_status ring_ntt_init(ring_ntt *t, size_t n, uint64_t q)
{
    if (!t)
        return CL_ERR_INVALID;
    memset(t, 0, sizeof *t);
    if (n < 2 || (n & (n - 1)) || n > ((size_t)1 << RING_MAX_LOGN))
        return CL_ERR_INVALID;
    cl_status st = ring_modulus_init(&t->mod, q);
    if (st != CL_OK)
        return st;
    if ((q - 1) % (2 * (uint64_t)n) != 0 || !ring_is_prime(q))
        return CL_ERR_PARAMS;
    t->n = n;
    t->logn = __builtin_ctzll(n);
    t->psi = find_psi(&t->mod, n);
    if (!t->psi)
        return CL_ERR_PARAMS;
    t->fwd = malloc(n * sizeof(uint64_t));
    t->fwd_shoup = malloc(n * sizeof(uint64_t));
    t->inv = malloc(n * sizeof(uint64_t));
    t->inv_shoup = malloc(n * sizeof(uint64_t));
    if (!t->fwd || !t->fwd_shoup || !t->inv || !t->inv_shoup) {
        ring_ntt_free(t);
        return CL_ERR_NOMEM;
    }
    const uint64_t psi_inv = ring_invmod(t->psi, &t->mod);
    uint64_t p = 1, pi = 1;
    /* powers[i] = psi^i, stored at bit-reversed positions. */
    for (size_t i = 0; i < n; i++) {
        size_t r = bitrev(i, t->logn);
        t->fwd[r] = p;
        t->inv[r] = pi;
        p = ring_mulmod(p, t->psi, &t->mod);
        pi = ring_mulmod(pi, psi_inv, &t->mod);
    }
    for (size_t i = 0; i < n; i++) {
        t->fwd_shoup[i] = ring_shoup(t->fwd[i], q);
        t->inv_shoup[i] = ring_shoup(t->inv[i], q);
    }
    t->n_inv = ring_invmod(n, &t->mod);
    t->n_inv_shoup = ring_shoup(t->n_inv, q);
    t->last_inv = ring_mulmod(t->n_inv, t->inv[1], &t->mod);
    t->last_inv_shoup = ring_shoup(t->last_inv, q);
    return CL_OK;
}

void ring_ntt_free(ring_ntt *t)
{
    if (!t)
        return;
    free(t->fwd);
    free(t->fwd_shoup);
    free(t->inv);
    free(t->inv_shoup);
    t->fwd = t->fwd_shoup = t->inv = t->inv_shoup = NULL;
}

void ring_ntt_forward(const ring_ntt *t, uint64_t *restrict a)
{
    const size_t n = t->n;
    const uint64_t q = t->mod.q, two_q = 2 * q;
    size_t gap = n >> 1;
    for (size_t m = 1; m < n; m <<= 1, gap >>= 1) {
        if (gap >= 4) {
            for (size_t i = 0; i < m; i++) {
                const uint64_t w = t->fwd[m + i], ws = t->fwd_shoup[m + i];
                uint64_t *restrict x = a + 2 * i * gap;
                uint64_t *restrict y = x + gap;
#ifdef RING_NTT_AVX512
                if (gap >= 8) {
                    fwd_butterflies_avx512(x, y, gap, w, ws, q);
                    continue;
                }
#endif
#ifdef RING_NTT_AVX2
                const __m256i vw = _mm256_set1_epi64x((long long)w), vws = _mm256_set1_epi64x((long long)ws);
                const __m256i vw_hi = _mm256_srli_epi64(vw, 32), vws_hi = _mm256_srli_epi64(vws, 32);
                const __m256i vq = _mm256_set1_epi64x((long long)q), vq_hi = _mm256_srli_epi64(vq, 32);
                const __m256i v2q = _mm256_set1_epi64x((long long)two_q);
                for (size_t j = 0; j < gap; j += 4) {
                    __m256i u = sub_if_ge(_mm256_loadu_si256((const __m256i *)(x + j)), v2q);
                    __m256i v = mulmod_shoup_lazy4(_mm256_loadu_si256((const __m256i *)(y + j)), vw, vw_hi, vws,
                                                   vws_hi, vq, vq_hi);
                    _mm256_storeu_si256((__m256i *)(x + j), _mm256_add_epi64(u, v));
                    _mm256_storeu_si256((__m256i *)(y + j), _mm256_add_epi64(_mm256_sub_epi64(u, v), v2q));
                }
                continue;
#endif
                for (size_t j = 0; j < gap; j++) {
                    uint64_t u = x[j];
                    u -= (u >= two_q) ? two_q : 0;
                    uint64_t v = ring_mulmod_shoup_lazy(y[j], w, ws, q);
                    x[j] = u + v;
                    y[j] = u - v + two_q;
                }
            }
        } else {
            /* Short butterflies: iterate over groups with the gap inner. */
            for (size_t i = 0; i < m; i++) {
                const uint64_t w = t->fwd[m + i], ws = t->fwd_shoup[m + i];
                uint64_t *restrict x = a + 2 * i * gap;
                for (size_t j = 0; j < gap; j++) {
                    uint64_t u = x[j];
                    u -= (u >= two_q) ? two_q : 0;
                    uint64_t v = ring_mulmod_shoup_lazy(x[j + gap], w, ws, q);
                    x[j] = u + v;
                    x[j + gap] = u - v + two_q;
                }
            }
        }
    }
    for (size_t j = 0; j < n; j++) {
        uint64_t v = a[j];
        v -= (v >= two_q) ? two_q : 0;
        v -= (v >= q) ? q : 0;
        a[j] = v;
    }
}

void ring_ntt_inverse(const ring_ntt *t, uint64_t *restrict a)
{
    const size_t n = t->n;
    const uint64_t q = t->mod.q, two_q = 2 * q;
    size_t gap = 1;
    /* All stages but the last; values stay in [0, 2q). */
    for (size_t m = n >> 1; m > 1; m >>= 1, gap <<= 1) {
        for (size_t i = 0; i < m; i++) {
            const uint64_t w = t->inv[m + i], ws = t->inv_shoup[m + i];
            uint64_t *restrict x = a + 2 * i * gap;
            uint64_t *restrict y = x + gap;
#ifdef RING_NTT_AVX512
            if (gap >= 8) {
                inv_butterflies_avx512(x, y, gap, w, ws, q);
                continue;
            }
#endif
#ifdef RING_NTT_AVX2
            if (gap >= 4) {
                inv_butterflies_avx2(x, y, gap, w, ws, q);
                continue;
            }
#endif
            for (size_t j = 0; j < gap; j++) {
                uint64_t u = x[j], v = y[j];
                uint64_t s = u + v;
                s -= (s >= two_q) ? two_q : 0;
                x[j] = s;
                y[j] = ring_mulmod_shoup_lazy(u - v + two_q, w, ws, q);
            }
        }
    }
    /* Last stage merged with the multiplication by n^-1. */
    const uint64_t ni = t->n_inv, nis = t->n_inv_shoup;
    const uint64_t li = t->last_inv, lis = t->last_inv_shoup;
    uint64_t *restrict x = a;
    uint64_t *restrict y = a + gap;
    for (size_t j = 0; j < gap; j++) {
        uint64_t u = x[j], v = y[j];
        uint64_t s = u + v;
        s -= (s >= two_q) ? two_q : 0;
        x[j] = ring_mulmod_shoup(s, ni, nis, q);
        y[j] = ring_mulmod_shoup(u - v + two_q, li, lis, q);
    }
}

size_t ring_ntt_slot_of_exponent(size_t n, uint64_t e)
{
    int logn = __builtin_ctzll(n);
    return bitrev((size_t)(((e % (2 * n)) - 1) >> 1), logn);
}

void ring_automorphism_ntt_table(size_t n, uint64_t g, uint32_t *perm)
{
    int logn = __builtin_ctzll(n);
    const uint64_t mask = 2 * (uint64_t)n - 1;
    for (size_t j = 0; j < n; j++) {
        /* slot j holds a(psi^e) with e = 2*bitrev(j)+1; b(X) = a(X^g) gives
         * b(psi^e) = a(psi^(g*e)). */
        uint64_t e = 2 * (uint64_t)bitrev(j, logn) + 1;
        uint64_t ge = (g * e) & mask;
        perm[j] = (uint32_t)bitrev((size_t)((ge - 1) >> 1), logn);
    }
}

void ring_automorphism_coeff(const uint64_t *in, uint64_t *out, size_t n, uint64_t g, uint64_t q)
{
    const uint64_t mask = 2 * (uint64_t)n - 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = ((uint64_t)i * g) & mask;
        if (k < n)
            out[k] = in[i];
        else
            out[k - n] = in[i] ? q - in[i] : 0;
    }
}
