/* cipherl ring layer: modular arithmetic, NTT-friendly primes, the negacyclic
 * number-theoretic transform, RNS bases and fast base conversion,
 * automorphisms X -> X^k, and samplers.
 *
 * It knows nothing of encryption. All moduli are odd primes below 2^62, and
 * every residue handed to or returned by a function here is in [0, q) unless a
 * function says otherwise. Polynomials are arrays of n = 2^logn uint64_t. */
#ifndef CIPHERL_RING_H
#define CIPHERL_RING_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "cipherl/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RING_MAX_MODULUS_BITS 61 /* the lazy NTT needs 4q < 2^64 */
#define RING_MIN_LOGN 1
#define RING_MAX_LOGN 17
#define RING_SEED_BYTES 32

/* ---------------------------------------------------------------- modulus */

/* A prime modulus with its Barrett constant floor(2^128 / q). */
typedef struct ring_modulus {
    uint64_t q;
    uint64_t ratio_hi, ratio_lo; /* floor(2^128 / q) */
    int bits;                    /* bit length of q */
} ring_modulus;

/* Fill *m for the odd modulus q (2 < q < 2^61). */
cl_status ring_modulus_init(ring_modulus *m, uint64_t q);

static inline uint64_t ring_mulhi(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/* x mod q for any 128-bit x, by Barrett reduction (no division). */
static inline uint64_t ring_reduce128(unsigned __int128 x, const ring_modulus *m)
{
    uint64_t lo = (uint64_t)x, hi = (uint64_t)(x >> 64);
    /* floor(x * ratio / 2^128), up to an error of 2, computed in 64-bit words. */
    unsigned __int128 t = (unsigned __int128)lo * m->ratio_lo;
    uint64_t carry = (uint64_t)(t >> 64);
    t = (unsigned __int128)lo * m->ratio_hi + carry;
    uint64_t mid_lo = (uint64_t)t, mid_hi = (uint64_t)(t >> 64);
    t = (unsigned __int128)hi * m->ratio_lo + mid_lo;
    carry = (uint64_t)(t >> 64);
    uint64_t quot = hi * m->ratio_hi + mid_hi + carry;
    uint64_t r = lo - quot * m->q;
    r -= (r >= m->q) ? m->q : 0;
    r -= (r >= m->q) ? m->q : 0;
    return r;
}

/* x mod q for a 64-bit x: ratio_hi is floor(2^64 / q), so one high product
 * gives a quotient short by at most 2. */
static inline uint64_t ring_reduce64(uint64_t x, const ring_modulus *m)
{
    uint64_t r = x - ring_mulhi(x, m->ratio_hi) * m->q;
    r -= (r >= m->q) ? m->q : 0;
    r -= (r >= m->q) ? m->q : 0;
    return r;
}

static inline uint64_t ring_addmod(uint64_t a, uint64_t b, uint64_t q)
{
    uint64_t s = a + b;
    return s >= q ? s - q : s;
}

static inline uint64_t ring_submod(uint64_t a, uint64_t b, uint64_t q)
{
    return a >= b ? a - b : a + q - b;
}

static inline uint64_t ring_negmod(uint64_t a, uint64_t q)
{
    return a ? q - a : 0;
}

static inline uint64_t ring_mulmod(uint64_t a, uint64_t b, const ring_modulus *m)
{
    return ring_reduce128((unsigned __int128)a * b, m);
}

/* Shoup's constant floor(w * 2^64 / q) for a fixed multiplicand w < q. */
static inline uint64_t ring_shoup(uint64_t w, uint64_t q)
{
    return (uint64_t)(((unsigned __int128)w << 64) / q);
}

/* a * w mod q in [0, 2q) for any a < 2^64, with ws = ring_shoup(w, q). */
static inline uint64_t ring_mulmod_shoup_lazy(uint64_t a, uint64_t w, uint64_t ws, uint64_t q)
{
    return a * w - ring_mulhi(a, ws) * q;
}

/* a * w mod q in [0, q). */
static inline uint64_t ring_mulmod_shoup(uint64_t a, uint64_t w, uint64_t ws, uint64_t q)
{
    uint64_t r = ring_mulmod_shoup_lazy(a, w, ws, q);
    return r >= q ? r - q : r;
}

uint64_t ring_powmod(uint64_t base, uint64_t exp, const ring_modulus *m);
/* Inverse of a modulo the prime q; 0 when a == 0 mod q. */
uint64_t ring_invmod(uint64_t a, const ring_modulus *m);

/* Residue of a signed integer modulo q, without branching on x. */
static inline uint64_t ring_from_signed(int64_t x, uint64_t q)
{
    uint64_t mag = (uint64_t)(x < 0 ? -(x + 1) : x) + (x < 0);
    uint64_t neg = -(uint64_t)(x < 0);
    uint64_t r = mag % q; /* magnitudes handed here are small or public */
    uint64_t nr = r ? q - r : 0;
    return (nr & neg) | (r & ~neg);
}

/* ----------------------------------------------------------------- primes */

/* Deterministic Miller–Rabin for 64-bit integers. */
bool ring_is_prime(uint64_t x);

/* `count` distinct primes q ≡ 1 (mod 2n) close to 2^bits, none of them in
 * exclude[0..nexclude). With around_power, candidates are taken alternately
 * just below and just above 2^bits, which keeps a product of k of them close
 * to 2^(bits·k), as CKKS scaling primes want. Otherwise, only below 2^bits
 * (so each has exactly `bits` bits). */
cl_status ring_gen_primes(int bits, size_t n, size_t count, bool around_power,
                          const uint64_t *exclude, size_t nexclude, uint64_t *out);

/* -------------------------------------------------------------------- NTT */

/* Tables of the negacyclic NTT of size n modulo one prime q ≡ 1 (mod 2n).
 * Forward: coefficients -> evaluations; slot j of the output holds
 * a(psi^(2*bitrev(j)+1)) where psi is the table's primitive 2n-th root. */
typedef struct ring_ntt {
    size_t n;
    int logn;
    ring_modulus mod;
    uint64_t psi;          /* primitive 2n-th root of unity */
    uint64_t *fwd, *fwd_shoup; /* psi^bitrev(i), i < n */
    uint64_t *inv, *inv_shoup; /* psi^-bitrev(i), i < n (Gentleman–Sande order) */
    uint64_t n_inv, n_inv_shoup;
    uint64_t last_inv, last_inv_shoup; /* n^-1 * psi^-bitrev(1), merged last stage */
} ring_ntt;

cl_status ring_ntt_init(ring_ntt *t, size_t n, uint64_t q);
void ring_ntt_free(ring_ntt *t);
/* In place; input in [0, q) (forward accepts [0, 4q)); output in [0, q). */
void ring_ntt_forward(const ring_ntt *t, uint64_t *a);
void ring_ntt_inverse(const ring_ntt *t, uint64_t *a);
/* Index of the output slot that holds the evaluation at psi^e (e odd, < 2n). */
size_t ring_ntt_slot_of_exponent(size_t n, uint64_t e);

/* ---------------------------------------------------- base conversion (RNS) */

/* Fast (approximate) conversion from basis {q_i} (in_count moduli) to basis
 * {p_j} (out_count moduli): y_j = sum_i [x_i * (Q/q_i)^-1]_{q_i} * (Q/q_i) mod p_j,
 * which equals x + e*Q for a small 0 <= e < in_count, as for Bajard et al. */
typedef struct ring_baseconv {
    size_t in_count, out_count;
    ring_modulus *in, *out;
    uint64_t *qhat_inv, *qhat_inv_shoup; /* [in_count]: (Q/q_i)^-1 mod q_i */
    uint64_t *qhat_mod_p;                 /* [out_count][in_count]: (Q/q_i) mod p_j */
    uint64_t *q_mod_p;                    /* [out_count]: Q mod p_j */
    double *q_inv;                        /* [in_count]: 1 / q_i */
} ring_baseconv;

cl_status ring_baseconv_init(ring_baseconv *bc, const ring_modulus *in, size_t in_count,
                             const ring_modulus *out, size_t out_count);
void ring_baseconv_free(ring_baseconv *bc);
/* in: in_count limbs of n coefficients (coefficient form), out: out_count limbs. */
void ring_baseconv_apply(const ring_baseconv *bc, const uint64_t *in, uint64_t *out, size_t n);

/* Exact conversion: y_j = x mod p_j for x in [0, Q). The overflow e is
 * found as floor(sum_i [x_i (Q/q_i)^-1]_{q_i} / q_i) in double precision and
 * removed; this is wrong only when x/Q lies within ~2^-50 of an integer. */
void ring_baseconv_apply_exact(const ring_baseconv *bc, const uint64_t *in, uint64_t *out, size_t n);

/* Exact CRT reconstruction of the centered representative, used by decoding:
 * x in (-Q/2, Q/2] as a long double, from its residues (one per modulus), by
 * mixed-radix (Garner) digits in centered form. */
typedef struct ring_crt {
    size_t count;
    ring_modulus *mod;
    uint64_t *inv; /* [i][j], j < i: q_j^-1 mod q_i (row-major, count x count) */
} ring_crt;

cl_status ring_crt_init(ring_crt *crt, const ring_modulus *mod, size_t count);
void ring_crt_free(ring_crt *crt);
/* residues: count values, one per modulus; `scratch` holds count uint64_t. */
long double ring_crt_centered(const ring_crt *crt, const uint64_t *residues, uint64_t *scratch);

/* ----------------------------------------------------------- automorphisms */

/* out(X) = in(X^g) mod (X^n + 1, q) in coefficient form; g odd, out != in. */
void ring_automorphism_coeff(const uint64_t *in, uint64_t *out, size_t n, uint64_t g, uint64_t q);
/* Permutation table for X -> X^g in NTT form: out[j] = in[perm[j]]. */
void ring_automorphism_ntt_table(size_t n, uint64_t g, uint32_t *perm);
static inline void ring_permute(const uint64_t *in, uint64_t *out, const uint32_t *perm, size_t n)
{
    for (size_t j = 0; j < n; j++)
        out[j] = in[perm[j]];
}

/* ---------------------------------------------------------------- samplers */

/* Bytes from the operating system's CSPRNG (getrandom). */
cl_status ring_random_bytes(void *buf, size_t len);

/* Uniform ternary coefficients in {-1, 0, 1}, from getrandom, constant time. */
cl_status ring_sample_ternary(int8_t *out, size_t n);

#define RING_GAUSSIAN_SIGMA 3.2
#define RING_GAUSSIAN_BOUND 19 /* about 6 sigma: samples lie in [-19, 19] */
/* Rounded Gaussian of standard deviation 3.2, truncated at |x| <= 19, from
 * getrandom, by a constant-time scan of a cumulative table. */
cl_status ring_sample_gaussian(int8_t *out, size_t n);

/* Uniform residues mod q expanded from a 32-byte seed by ChaCha20 (libsodium);
 * `domain` separates independent streams from one seed (key part, limb, ...). */
void ring_expand_uniform(const uint8_t seed[RING_SEED_BYTES], uint64_t domain,
                         const ring_modulus *m, size_t n, uint64_t *out);

/* Small signed coefficients to residues mod q, without branching on their values. */
void ring_small_to_residues(const int8_t *in, size_t n, uint64_t q, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
