/* Tests of the ring layer: primality and NTT-friendly prime generation,
 * Barrett and Shoup modular arithmetic, the negacyclic NTT (against schoolbook
 * multiplication), automorphisms, RNS base conversion and centered CRT
 * (against a small big-integer implementation written here), and the samplers.
 *
 * Every input is drawn from a fixed-seed generator, so a failure reproduces. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cipherl/ckks.h"
#include "cipherl/ring.h"
#include "ckks/ckks_internal.h"

typedef unsigned __int128 u128;

/* ------------------------------------------------------------------ helpers */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound) (bound > 0), by rejection. */
static uint64_t rand_below(uint64_t *s, uint64_t bound)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % bound;
    for (;;) {
        uint64_t v = splitmix(s);
        if (v < lim)
            return v % bound;
    }
}

static uint64_t mulmod_ref(uint64_t a, uint64_t b, uint64_t q)
{
    return (uint64_t)(((u128)a * b) % q);
}

static uint64_t powmod_ref(uint64_t b, uint64_t e, uint64_t q)
{
    uint64_t r = 1 % q;
    b %= q;
    while (e) {
        if (e & 1)
            r = mulmod_ref(r, b, q);
        b = mulmod_ref(b, b, q);
        e >>= 1;
    }
    return r;
}

/* One prime q ≡ 1 (mod 2n) of exactly `bits` bits. */
static uint64_t one_prime(int bits, size_t n)
{
    uint64_t q = 0;
    assert_int_equal(ring_gen_primes(bits, n, 1, false, NULL, 0, &q), CL_OK);
    return q;
}

/* ------------------------------------------------------------- big integers
 * Unsigned multiprecision integers on little-endian uint32 limbs: just enough
 * for an independent CRT. */

#define BI_LIMBS 160

typedef struct big {
    uint32_t w[BI_LIMBS];
    size_t len; /* limbs in use; w[len..] are zero */
} big;

static void big_norm(big *a)
{
    while (a->len > 0 && a->w[a->len - 1] == 0)
        a->len--;
}

static void big_set(big *a, uint64_t v)
{
    memset(a, 0, sizeof *a);
    a->w[0] = (uint32_t)v;
    a->w[1] = (uint32_t)(v >> 32);
    a->len = 2;
    big_norm(a);
}

/* a = a * m + c, for m, c < 2^63. */
static void big_muladd(big *a, uint64_t m, uint64_t c)
{
    u128 carry = c;
    for (size_t i = 0; i < a->len; i++) {
        u128 t = (u128)a->w[i] * m + carry;
        a->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    size_t i = a->len;
    while (carry) {
        assert_true(i < BI_LIMBS);
        a->w[i++] = (uint32_t)carry;
        carry >>= 32;
    }
    a->len = i;
    big_norm(a);
}

static uint64_t big_mod(const big *a, uint64_t q)
{
    u128 r = 0;
    for (size_t i = a->len; i-- > 0;)
        r = ((r << 32) | a->w[i]) % q;
    return (uint64_t)r;
}

static int big_cmp(const big *a, const big *b)
{
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    for (size_t i = a->len; i-- > 0;)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

/* r = a + b (r may alias either; r need not be initialized). */
static void big_add(big *r, const big *a, const big *b)
{
    big t;
    memset(&t, 0, sizeof t);
    size_t len = a->len > b->len ? a->len : b->len;
    uint64_t carry = 0;
    for (size_t i = 0; i < len; i++) {
        uint64_t v = (uint64_t)a->w[i] + b->w[i] + carry;
        t.w[i] = (uint32_t)v;
        carry = v >> 32;
    }
    if (carry) {
        assert_true(len < BI_LIMBS);
        t.w[len++] = (uint32_t)carry;
    }
    t.len = len;
    big_norm(&t);
    *r = t;
}

/* r = a - b for a >= b (r may alias either; r need not be initialized). */
static void big_sub(big *r, const big *a, const big *b)
{
    assert_true(big_cmp(a, b) >= 0);
    big t;
    memset(&t, 0, sizeof t);
    int64_t borrow = 0;
    for (size_t i = 0; i < a->len; i++) {
        int64_t v = (int64_t)a->w[i] - (int64_t)b->w[i] - borrow;
        borrow = v < 0;
        t.w[i] = (uint32_t)(v + (borrow ? ((int64_t)1 << 32) : 0));
    }
    assert_true(borrow == 0);
    t.len = a->len;
    big_norm(&t);
    *r = t;
}

static void big_shr1(big *a)
{
    for (size_t i = 0; i < a->len; i++) {
        a->w[i] >>= 1;
        if (i + 1 < a->len)
            a->w[i] |= a->w[i + 1] << 31;
    }
    big_norm(a);
}

static long double big_to_ld(const big *a)
{
    long double v = 0;
    for (size_t i = a->len; i-- > 0;)
        v = v * 4294967296.0L + (long double)a->w[i];
    return v;
}

static void big_prod(big *r, const ring_modulus *m, size_t count, size_t skip)
{
    big_set(r, 1);
    for (size_t i = 0; i < count; i++)
        if (i != skip)
            big_muladd(r, m[i].q, 0);
}

/* A uniform x in [0, Q) by mixed-radix digits. */
static void big_random_below(big *x, const ring_modulus *m, size_t count, uint64_t *s)
{
    big_set(x, 0);
    for (size_t i = count; i-- > 0;)
        big_muladd(x, m[i].q, rand_below(s, m[i].q));
}

/* --------------------------------------------------------------- primality */

static bool is_prime_trial(uint64_t x, const uint32_t *primes, size_t np)
{
    if (x < 2)
        return false;
    for (size_t i = 0; i < np; i++) {
        uint64_t p = primes[i];
        if (p * p > x)
            return true;
        if (x % p == 0)
            return x == p;
    }
    return true;
}

/* Primes below 2^16 (enough to trial-divide any 32-bit number). */
static size_t small_primes(uint32_t *out)
{
    static uint8_t composite[65536];
    memset(composite, 0, sizeof composite);
    size_t np = 0;
    for (uint32_t i = 2; i < 65536; i++) {
        if (composite[i])
            continue;
        out[np++] = i;
        for (uint32_t j = i * i; j < 65536; j += i)
            composite[j] = 1;
    }
    return np;
}

static void test_is_prime_small(void **state)
{
    (void)state;
    static uint32_t primes[6600];
    size_t np = small_primes(primes);
    assert_int_equal(np, 6542);
    /* every x below 2^16 + 100, exhaustively */
    for (uint64_t x = 0; x < 65636; x++)
        assert_int_equal(ring_is_prime(x), is_prime_trial(x, primes, np));
    /* random 32-bit numbers, and random odd ones (more primes among them) */
    uint64_t s = 1;
    for (int i = 0; i < 20000; i++) {
        uint64_t x = splitmix(&s) >> 32;
        if (i & 1)
            x |= 1;
        assert_int_equal(ring_is_prime(x), is_prime_trial(x, primes, np));
    }
    /* around 2^32 (trial division by primes below 2^16 decides x < 65537^2) */
    for (uint64_t x = 4294967200ULL; x < 4294967296ULL + 200; x++)
        assert_int_equal(ring_is_prime(x), is_prime_trial(x, primes, np));
    assert_true(ring_is_prime(4294967291ULL));
    assert_true(ring_is_prime(4294967311ULL));
}

static void test_is_prime_64(void **state)
{
    (void)state;
    static const uint64_t primes[] = {
        2305843009213693951ULL,  /* 2^61 - 1 */
        18446744073709551557ULL, /* 2^64 - 59, the largest 64-bit prime */
        18446744073709551533ULL, /* 2^64 - 83 */
        9223372036854775783ULL,  /* 2^63 - 25 */
        4611686018427387847ULL,  /* 2^62 - 57 */
        1000000007ULL, 998244353ULL, 4294967291ULL, 4294967311ULL,
    };
    static const uint64_t composites[] = {
        /* Carmichael numbers */
        561, 1105, 1729, 2465, 2821, 6601, 8911, 41041, 825265, 321197185ULL, 5394826801ULL,
        232250619601ULL, 9746347772161ULL,
        /* strong pseudoprimes to the first k prime bases */
        2047ULL,                 /* base 2 */
        1373653ULL,              /* 2, 3 */
        25326001ULL,             /* 2, 3, 5 */
        3215031751ULL,           /* 2, 3, 5, 7 */
        2152302898747ULL,        /* 2 .. 11 */
        3474749660383ULL,        /* 2 .. 13 */
        341550071728321ULL,      /* 2 .. 17 */
        3825123056546413051ULL,  /* 2 .. 23 */
        /* others */
        18446744073709551615ULL,  /* 2^64 - 1 */
        18446744030759878681ULL,  /* (2^32 - 5)^2 */
        998244359987710471ULL,    /* 1000000007 * 998244353 */
        4611686018427387903ULL,   /* 2^62 - 1 */
        2305843009213693953ULL,   /* 2^61 + 1 */
        0, 1, 4, 9, 25, 49,
    };
    for (size_t i = 0; i < sizeof composites / sizeof composites[0]; i++)
        assert_false(ring_is_prime(composites[i]));
    for (size_t i = 0; i < sizeof primes / sizeof primes[0]; i++)
        assert_true(ring_is_prime(primes[i]));
    /* products of two random 31-bit primes are composite */
    static uint32_t sp[6600];
    size_t np = small_primes(sp);
    uint64_t s = 2;
    for (int i = 0; i < 200; i++) {
        uint64_t a, b;
        do a = (splitmix(&s) >> 33) | 1; while (!is_prime_trial(a, sp, np));
        do b = (splitmix(&s) >> 33) | 1; while (!is_prime_trial(b, sp, np));
        assert_false(ring_is_prime(a * b));
        assert_true(ring_is_prime(a));
    }
}

static void test_gen_primes(void **state)
{
    (void)state;
    static const int bits[] = {20, 30, 40, 50, 60, 61};
    static const size_t ns[] = {2, 16, 4096, 65536};
    for (size_t bi = 0; bi < sizeof bits / sizeof bits[0]; bi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            const int b = bits[bi];
            const size_t n = ns[ni];
            if (b == 20 && n >= 4096)
                continue; /* too few such primes: see the error test below */
            for (int around = 0; around < 2; around++) {
                uint64_t q[6];
                const size_t count = 6;
                assert_int_equal(ring_gen_primes(b, n, count, around, NULL, 0, q), CL_OK);
                for (size_t i = 0; i < count; i++) {
                    assert_true(ring_is_prime(q[i]));
                    assert_int_equal(q[i] % (2 * n), 1);
                    assert_true(q[i] < (1ULL << RING_MAX_MODULUS_BITS));
                    if (!around) {
                        /* exactly b bits */
                        assert_true(q[i] < (1ULL << b));
                        assert_true(q[i] > (1ULL << (b - 1)));
                    } else {
                        assert_true(q[i] > (1ULL << (b - 1)));
                        if (b < RING_MAX_MODULUS_BITS)
                            assert_true(q[i] < (1ULL << (b + 1)));
                    }
                    for (size_t j = 0; j < i; j++)
                        assert_true(q[i] != q[j]);
                }
                if (!around) {
                    /* the largest ones: no prime ≡ 1 mod 2n between q[0] and 2^b,
                     * and they come in decreasing order */
                    for (uint64_t c = q[0] + 2 * n; c < (1ULL << b); c += 2 * n)
                        assert_false(ring_is_prime(c));
                    for (size_t i = 1; i < count; i++)
                        assert_true(q[i] < q[i - 1]);
                } else if (b < RING_MAX_MODULUS_BITS) {
                    /* alternately below and above 2^b, each side moving away from
                     * it, so the product stays near 2^(b*count) */
                    for (size_t i = 0; i < count; i++) {
                        assert_true((i % 2 == 0) == (q[i] < (1ULL << b)));
                        if (i >= 2)
                            assert_true(i % 2 == 0 ? q[i] < q[i - 2] : q[i] > q[i - 2]);
                    }
                    if (b >= 40) {
                        double lg = 0;
                        for (size_t i = 0; i < count; i++)
                            lg += log2((double)q[i]);
                        assert_true(fabs(lg - (double)(b * (int)count)) < 0.01);
                    }
                } else {
                    /* nothing above 2^61 is allowed: all below, decreasing */
                    for (size_t i = 1; i < count; i++)
                        assert_true(q[i] < q[i - 1]);
                }
                /* excluding the first batch gives new primes */
                uint64_t r[6];
                assert_int_equal(ring_gen_primes(b, n, count, around, q, count, r), CL_OK);
                for (size_t i = 0; i < count; i++)
                    for (size_t j = 0; j < count; j++)
                        assert_true(r[i] != q[j]);
            }
        }
    uint64_t q[4];
    assert_int_equal(ring_gen_primes(9, 16, 1, false, NULL, 0, q), CL_ERR_INVALID);
    assert_int_equal(ring_gen_primes(62, 16, 1, false, NULL, 0, q), CL_ERR_INVALID);
    assert_int_equal(ring_gen_primes(40, 24, 1, false, NULL, 0, q), CL_ERR_INVALID);
    assert_int_equal(ring_gen_primes(40, 1, 1, false, NULL, 0, q), CL_ERR_INVALID);
    assert_int_equal(ring_gen_primes(40, 16, 1, false, NULL, 0, NULL), CL_ERR_INVALID);
    assert_int_equal(ring_gen_primes(40, 16, 1, false, NULL, 2, q), CL_ERR_INVALID);
    /* 10-bit primes ≡ 1 mod 1024 cannot exist below 2^10 */
    assert_int_equal(ring_gen_primes(10, 512, 1, false, NULL, 0, q), CL_ERR_PRIME);
    /* 20-bit primes ≡ 1 mod 2^17: only a handful; asking for many fails cleanly */
    uint64_t many[64];
    assert_int_equal(ring_gen_primes(20, 65536, 64, false, NULL, 0, many), CL_ERR_PRIME);
}

/* ------------------------------------------------------- modular arithmetic */

static size_t test_moduli(uint64_t *out, uint64_t *s)
{
    size_t k = 0;
    const uint64_t fixed[] = {3, 5, 7, 65537, 4294967291ULL, (1ULL << 61) - 1, (1ULL << 61) - 3,
                              (1ULL << 60) + 1, (1ULL << 32) + 1};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        out[k++] = fixed[i];
    for (int b = 20; b <= 61; b++)
        out[k++] = one_prime(b, 1024);
    for (int b = 3; b <= 61; b += 2) /* random odd moduli of b bits */
        out[k++] = ((splitmix(s) >> (64 - b)) | (1ULL << (b - 1)) | 1);
    return k;
}

static void test_barrett_shoup(void **state)
{
    (void)state;
    uint64_t s = 3, mods[128];
    size_t nm = test_moduli(mods, &s);
    for (size_t mi = 0; mi < nm; mi++) {
        const uint64_t q = mods[mi];
        ring_modulus m;
        assert_int_equal(ring_modulus_init(&m, q), CL_OK);
        assert_true(m.q == q);
        assert_int_equal(m.bits, 64 - __builtin_clzll(q));
        u128 ratio = ((u128)m.ratio_hi << 64) | m.ratio_lo;
        /* floor(2^128 / q): ratio * q <= 2^128 - 1 < (ratio + 1) * q */
        assert_true(ratio == (~(u128)0) / q);

        /* 128-bit Barrett */
        const u128 x128_edges[] = {0, 1, q - 1, q, (u128)q + 1, 2 * (u128)q - 1, UINT64_MAX,
                                   (u128)UINT64_MAX + 1, (u128)UINT64_MAX + q, (u128)(q - 1) * (q - 1),
                                   ~(u128)0, ~(u128)0 - q, (u128)1 << 127, ((u128)1 << 127) - 1,
                                   (~(u128)0 / q) * q, (~(u128)0 / q) * q - 1};
        for (size_t i = 0; i < sizeof x128_edges / sizeof x128_edges[0]; i++)
            assert_true(ring_reduce128(x128_edges[i], &m) == (uint64_t)(x128_edges[i] % q));
        for (int i = 0; i < 3000; i++) {
            u128 x;
            switch (i % 4) {
            case 0: x = ((u128)splitmix(&s) << 64) | splitmix(&s); break;
            case 1: x = (u128)rand_below(&s, q) * rand_below(&s, q); break;
            case 2: x = (u128)splitmix(&s) * q + (i & 8 ? q - 1 : 0); break; /* near multiples */
            default: x = splitmix(&s); break;
            }
            assert_true(ring_reduce128(x, &m) == (uint64_t)(x % q));
        }
        /* 64-bit Barrett */
        const uint64_t x64_edges[] = {0, 1, q - 1, q, q + 1, UINT64_MAX, UINT64_MAX - 1,
                                      (UINT64_MAX / q) * q, (UINT64_MAX / q) * q - 1};
        for (size_t i = 0; i < sizeof x64_edges / sizeof x64_edges[0]; i++)
            assert_true(ring_reduce64(x64_edges[i], &m) == x64_edges[i] % q);
        for (int i = 0; i < 3000; i++) {
            uint64_t x = splitmix(&s) >> (i % 64);
            assert_true(ring_reduce64(x, &m) == x % q);
        }
        /* mulmod, addmod, submod, negmod */
        const uint64_t ops[] = {0, 1, 2, q - 1, q - 2, q / 2, q / 2 + 1};
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            for (size_t j = 0; j < sizeof ops / sizeof ops[0]; j++) {
                uint64_t a = ops[i], b = ops[j];
                assert_true(ring_mulmod(a, b, &m) == mulmod_ref(a, b, q));
                assert_true(ring_addmod(a, b, q) == (uint64_t)(((u128)a + b) % q));
                assert_true(ring_submod(a, b, q) == (uint64_t)(((u128)a + q - b) % q));
            }
        for (int i = 0; i < 3000; i++) {
            uint64_t a = rand_below(&s, q), b = rand_below(&s, q);
            assert_true(ring_mulmod(a, b, &m) == mulmod_ref(a, b, q));
            assert_true(ring_addmod(a, b, q) == (uint64_t)(((u128)a + b) % q));
            assert_true(ring_submod(a, b, q) == (uint64_t)(((u128)a + q - b) % q));
            assert_true(ring_negmod(a, q) == (q - a) % q);
        }
        assert_true(ring_negmod(0, q) == 0);
        /* Shoup: any a < 2^64, fixed w < q */
        const uint64_t ws_list[] = {0, 1, q - 1, q / 2, rand_below(&s, q), rand_below(&s, q)};
        for (size_t wi = 0; wi < sizeof ws_list / sizeof ws_list[0]; wi++) {
            const uint64_t w = ws_list[wi], wsh = ring_shoup(w, q);
            assert_true(wsh == (uint64_t)(((u128)w << 64) / q));
            const uint64_t a_edges[] = {0, 1, q - 1, q, 2 * q - 1, 4 * q - 1, UINT64_MAX, UINT64_MAX - 1};
            for (int i = 0; i < 2000 + (int)(sizeof a_edges / sizeof a_edges[0]); i++) {
                uint64_t a = i < (int)(sizeof a_edges / sizeof a_edges[0]) ? a_edges[i] : splitmix(&s) >> (i % 64);
                uint64_t want = mulmod_ref(a % q, w, q);
                uint64_t lazy = ring_mulmod_shoup_lazy(a, w, wsh, q);
                assert_true(lazy < 2 * q);
                assert_true(lazy % q == want);
                assert_true(ring_mulmod_shoup(a, w, wsh, q) == want);
            }
        }
    }
    /* invalid moduli */
    ring_modulus m;
    assert_int_equal(ring_modulus_init(&m, 0), CL_ERR_INVALID);
    assert_int_equal(ring_modulus_init(&m, 1), CL_ERR_INVALID);
    assert_int_equal(ring_modulus_init(&m, 2), CL_ERR_INVALID);
    assert_int_equal(ring_modulus_init(&m, 1000), CL_ERR_INVALID);
    assert_int_equal(ring_modulus_init(&m, 1ULL << 61), CL_ERR_INVALID);
    assert_int_equal(ring_modulus_init(&m, (1ULL << 61) + 1), CL_ERR_INVALID);
    assert_int_equal(ring_modulus_init(NULL, 17), CL_ERR_INVALID);
}

static void test_pow_inv_signed(void **state)
{
    (void)state;
    uint64_t s = 4, mods[128];
    size_t nm = test_moduli(mods, &s);
    for (size_t mi = 0; mi < nm; mi++) {
        const uint64_t q = mods[mi];
        ring_modulus m;
        assert_int_equal(ring_modulus_init(&m, q), CL_OK);
        for (int i = 0; i < 200; i++) {
            uint64_t b = i < 4 ? (uint64_t)i : splitmix(&s);
            uint64_t e = i % 3 == 0 ? (uint64_t)i : splitmix(&s);
            assert_true(ring_powmod(b, e, &m) == powmod_ref(b, e, q));
        }
        assert_true(ring_powmod(0, 0, &m) == 1);
        assert_true(ring_powmod(q, 5, &m) == 0);
        assert_true(ring_powmod(UINT64_MAX, UINT64_MAX, &m) == powmod_ref(UINT64_MAX, UINT64_MAX, q));
        /* x to integers of either sign */
        const int64_t xs[] = {0, 1, -1, 2, -2, INT64_MAX, INT64_MIN, INT64_MIN + 1, (int64_t)q, -(int64_t)q,
                              (int64_t)q - 1, -(int64_t)q + 1};
        for (int i = 0; i < 300 + (int)(sizeof xs / sizeof xs[0]); i++) {
            int64_t x = i < (int)(sizeof xs / sizeof xs[0]) ? xs[i] : (int64_t)splitmix(&s) >> (i % 64);
            __int128 r = (__int128)x % (__int128)q;
            if (r < 0)
                r += q;
            assert_true(ring_from_signed(x, q) == (uint64_t)r);
        }
    }
    /* inverses modulo primes */
    for (int b = 20; b <= 61; b += 3) {
        const uint64_t q = one_prime(b, 64);
        ring_modulus m;
        assert_int_equal(ring_modulus_init(&m, q), CL_OK);
        assert_true(ring_invmod(0, &m) == 0);
        assert_true(ring_invmod(q, &m) == 0);
        assert_true(ring_invmod(1, &m) == 1);
        assert_true(ring_invmod(q + 1, &m) == 1);
        assert_true(ring_invmod(q - 1, &m) == q - 1);
        for (int i = 0; i < 300; i++) {
            uint64_t a = i < 100 ? rand_below(&s, q - 1) + 1 : splitmix(&s);
            if (a % q == 0)
                continue;
            uint64_t inv = ring_invmod(a, &m);
            assert_true(inv < q);
            assert_true(mulmod_ref(a % q, inv, q) == 1);
        }
    }
}

/* ------------------------------------------------------------------- NTT */

/* c = a * b in Z_q[X]/(X^n + 1), schoolbook, with lazy 128-bit accumulation. */
static void negacyclic_ref(const uint64_t *a, const uint64_t *b, uint64_t *c, size_t n, uint64_t q)
{
    for (size_t k = 0; k < n; k++) {
        u128 pos = 0, neg = 0;
        uint64_t pos_r = 0, neg_r = 0;
        for (size_t i = 0; i < n; i++) {
            if (i <= k)
                pos += (u128)a[i] * b[k - i];
            else
                neg += (u128)a[i] * b[k + n - i];
            if ((i & 31) == 31) { /* 32 products below 2^122 each: no overflow */
                pos_r = (uint64_t)((pos_r + pos % q) % q);
                neg_r = (uint64_t)((neg_r + neg % q) % q);
                pos = neg = 0;
            }
        }
        pos_r = (uint64_t)((pos_r + pos % q) % q);
        neg_r = (uint64_t)((neg_r + neg % q) % q);
        c[k] = pos_r >= neg_r ? pos_r - neg_r : pos_r + q - neg_r;
    }
}

static void test_ntt_vs_schoolbook(void **state)
{
    (void)state;
    static const int bits[] = {30, 40, 50, 60, 61};
    uint64_t s = 5;
    for (int logn = 1; logn <= 12; logn++) {
        const size_t n = (size_t)1 << logn;
        uint64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
        uint64_t *want = malloc(n * sizeof *want), *a0 = malloc(n * sizeof *a0);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(c);
        assert_non_null(want);
        assert_non_null(a0);
        for (size_t bi = 0; bi < sizeof bits / sizeof bits[0]; bi++) {
            if (logn == 12 && bi % 2 == 1)
                continue; /* the largest size with three primes only (time) */
            const uint64_t q = one_prime(bits[bi], n);
            ring_ntt t;
            assert_int_equal(ring_ntt_init(&t, n, q), CL_OK);
            assert_int_equal(t.n, n);
            assert_int_equal(t.logn, logn);
            /* psi is a primitive 2n-th root of unity */
            assert_true(powmod_ref(t.psi, n, q) == q - 1);
            assert_true(powmod_ref(t.psi, 2 * n, q) == 1);
            for (int rep = 0; rep < 2; rep++) {
                for (size_t i = 0; i < n; i++) {
                    a[i] = rand_below(&s, q);
                    b[i] = rand_below(&s, q);
                }
                if (rep == 1) /* edge values */
                    for (size_t i = 0; i < n; i += 2) {
                        a[i] = q - 1;
                        b[i + 1] = q - 1;
                    }
                negacyclic_ref(a, b, want, n, q);
                memcpy(a0, a, n * sizeof *a);
                ring_ntt_forward(&t, a);
                ring_ntt_forward(&t, b);
                for (size_t i = 0; i < n; i++) {
                    assert_true(a[i] < q);
                    assert_true(b[i] < q);
                    c[i] = mulmod_ref(a[i], b[i], q);
                }
                ring_ntt_inverse(&t, c);
                for (size_t i = 0; i < n; i++)
                    assert_true(c[i] == want[i]);
                /* inverse ∘ forward = identity */
                ring_ntt_inverse(&t, a);
                for (size_t i = 0; i < n; i++)
                    assert_true(a[i] == a0[i]);
            }
            ring_ntt_free(&t);
            ring_ntt_free(&t); /* idempotent */
        }
        free(a);
        free(b);
        free(c);
        free(want);
        free(a0);
    }
}

static void test_ntt_identity_and_lazy_input(void **state)
{
    (void)state;
    static const int bits[] = {30, 40, 50, 60, 61};
    uint64_t s = 6;
    for (int logn = 1; logn <= 15; logn++) {
        const size_t n = (size_t)1 << logn;
        uint64_t *a = malloc(n * sizeof *a), *a0 = malloc(n * sizeof *a0), *l = malloc(n * sizeof *l);
        assert_non_null(a);
        assert_non_null(a0);
        assert_non_null(l);
        for (size_t bi = 0; bi < sizeof bits / sizeof bits[0]; bi++) {
            const uint64_t q = one_prime(bits[bi], n);
            ring_ntt t;
            assert_int_equal(ring_ntt_init(&t, n, q), CL_OK);
            for (size_t i = 0; i < n; i++)
                a[i] = a0[i] = (i % 7 == 0) ? q - 1 : rand_below(&s, q);
            /* the same input lifted into [0, 4q) */
            for (size_t i = 0; i < n; i++)
                l[i] = a[i] + q * (i % 4 == 3 ? 3 : rand_below(&s, 4));
            ring_ntt_forward(&t, a);
            ring_ntt_forward(&t, l);
            for (size_t i = 0; i < n; i++) {
                assert_true(a[i] < q);
                assert_true(l[i] == a[i]);
            }
            ring_ntt_inverse(&t, a);
            for (size_t i = 0; i < n; i++)
                assert_true(a[i] == a0[i]);
            /* forward ∘ inverse = identity as well */
            ring_ntt_inverse(&t, a);
            ring_ntt_forward(&t, a);
            for (size_t i = 0; i < n; i++)
                assert_true(a[i] == a0[i]);
            /* the largest lazy input, 4q - 1 everywhere, transforms like q - 1 */
            for (size_t i = 0; i < n; i++)
                l[i] = 4 * q - 1;
            ring_ntt_forward(&t, l);
            for (size_t i = 0; i < n; i++)
                a[i] = q - 1;
            ring_ntt_forward(&t, a);
            for (size_t i = 0; i < n; i++)
                assert_true(l[i] == a[i]);
            ring_ntt_free(&t);
        }
        free(a);
        free(a0);
        free(l);
    }
    ring_ntt t;
    const uint64_t q = one_prime(40, 1024);
    assert_int_equal(ring_ntt_init(&t, 1, q), CL_ERR_INVALID);
    assert_int_equal(ring_ntt_init(&t, 24, q), CL_ERR_INVALID);
    assert_int_equal(ring_ntt_init(&t, 16, 1000000007ULL), CL_ERR_PARAMS); /* prime, not 1 mod 32 */
    assert_int_equal(ring_ntt_init(&t, 16, 33 * 97), CL_ERR_PARAMS);       /* 3201 ≡ 1 mod 32, composite */
    assert_int_equal(ring_ntt_init(NULL, 16, q), CL_ERR_INVALID);
}

static void test_ntt_slot_of_exponent(void **state)
{
    (void)state;
    uint64_t s = 7;
    for (int logn = 1; logn <= 10; logn++) {
        const size_t n = (size_t)1 << logn;
        const uint64_t q = one_prime(50, n);
        ring_ntt t;
        ring_modulus m;
        assert_int_equal(ring_ntt_init(&t, n, q), CL_OK);
        assert_int_equal(ring_modulus_init(&m, q), CL_OK);
        uint64_t *a = malloc(n * sizeof *a), *A = malloc(n * sizeof *A);
        uint8_t *seen = calloc(n, 1);
        assert_non_null(a);
        assert_non_null(A);
        assert_non_null(seen);
        for (size_t i = 0; i < n; i++)
            a[i] = A[i] = rand_below(&s, q);
        ring_ntt_forward(&t, A);
        for (uint64_t e = 1; e < 2 * n; e += 2) {
            const uint64_t x = ring_powmod(t.psi, e, &m);
            uint64_t v = 0; /* Horner */
            for (size_t i = n; i-- > 0;)
                v = (uint64_t)(((u128)v * x + a[i]) % q);
            size_t j = ring_ntt_slot_of_exponent(n, e);
            assert_true(j < n);
            assert_true(A[j] == v);
            seen[j]++;
            /* exponents are taken modulo 2n */
            assert_int_equal(ring_ntt_slot_of_exponent(n, e + 2 * n), j);
        }
        for (size_t j = 0; j < n; j++)
            assert_int_equal(seen[j], 1); /* a bijection */
        free(a);
        free(A);
        free(seen);
        ring_ntt_free(&t);
    }
}

static void test_automorphisms(void **state)
{
    (void)state;
    uint64_t s = 8;
    for (int logn = 1; logn <= 13; logn++) {
        const size_t n = (size_t)1 << logn;
        const uint64_t q = one_prime(60, n);
        ring_ntt t;
        assert_int_equal(ring_ntt_init(&t, n, q), CL_OK);
        uint64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *A = malloc(n * sizeof *A);
        uint64_t *B = malloc(n * sizeof *B), *c = malloc(n * sizeof *c);
        uint32_t *perm = malloc(n * sizeof *perm);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(A);
        assert_non_null(B);
        assert_non_null(c);
        assert_non_null(perm);
        const uint64_t two_n = 2 * (uint64_t)n;
        uint64_t gs[8] = {1, 3, 5, 25 % two_n, two_n - 1, two_n - 5, 0, 0};
        gs[6] = powmod_ref(5, rand_below(&s, n), two_n);
        gs[7] = rand_below(&s, n) * 2 + 1;
        for (size_t gi = 0; gi < 8; gi++) {
            const uint64_t g = gs[gi] % two_n;
            for (size_t i = 0; i < n; i++)
                a[i] = A[i] = (i % 5 == 0) ? 0 : rand_below(&s, q);
            ring_automorphism_coeff(a, b, n, g, q);
            /* directly: X^i -> X^(i g) mod (X^n + 1) */
            for (size_t i = 0; i < n; i++) {
                uint64_t k = ((uint64_t)i * g) % two_n;
                uint64_t want = k < n ? a[i] : (a[i] ? q - a[i] : 0);
                assert_true(b[k % n] == want);
            }
            /* NTT(b) = NTT(a) permuted */
            ring_automorphism_ntt_table(n, g, perm);
            ring_ntt_forward(&t, A);
            memcpy(B, b, n * sizeof *b);
            ring_ntt_forward(&t, B);
            ring_permute(A, c, perm, n);
            for (size_t j = 0; j < n; j++) {
                assert_true(perm[j] < n);
                assert_true(c[j] == B[j]);
            }
            /* a permutation: its inverse table is that of g^-1 */
            uint64_t ginv = 1;
            while ((ginv * g) % two_n != 1)
                ginv += 2;
            uint32_t *pinv = malloc(n * sizeof *pinv);
            assert_non_null(pinv);
            ring_automorphism_ntt_table(n, ginv, pinv);
            for (size_t j = 0; j < n; j++)
                assert_int_equal(pinv[perm[j]], j);
            free(pinv);
            /* composition: (X -> X^g) twice is X -> X^(g^2) */
            ring_automorphism_coeff(b, c, n, g, q);
            ring_automorphism_coeff(a, b, n, (g * g) % two_n, q);
            for (size_t i = 0; i < n; i++)
                assert_true(c[i] == b[i]);
        }
        free(a);
        free(b);
        free(A);
        free(B);
        free(c);
        free(perm);
        ring_ntt_free(&t);
    }
}

/* ------------------------------------------------------- base conversion */

/* Residues of x for each modulus, into limb layout in[i * n + k]. */
static void big_residues(const big *x, const ring_modulus *m, size_t count, uint64_t *in, size_t n, size_t k)
{
    for (size_t i = 0; i < count; i++)
        in[i * n + k] = big_mod(x, m[i].q);
}

/* Fills x[k] for k < n: some chosen edge values, then uniform ones. */
static void baseconv_inputs(big *xs, size_t n, const ring_modulus *m, size_t count, uint64_t *s)
{
    big Q, half;
    big_prod(&Q, m, count, SIZE_MAX);
    half = Q;
    big_shr1(&half); /* (Q - 1) / 2 */
    big one;
    big_set(&one, 1);
    for (size_t k = 0; k < n; k++) {
        switch (k) {
        case 0: big_set(&xs[k], 0); break;
        case 1: xs[k] = half; break;                                   /* (Q-1)/2 */
        case 2: big_add(&xs[k], &half, &one); break;                   /* (Q+1)/2 */
        case 3: big_sub(&xs[k], &half, &one); break;
        case 4: big_set(&xs[k], m[0].q - 1); break; /* small: x/Q near 0 */
        default: big_random_below(&xs[k], m, count, s); break;
        }
    }
}

static void check_baseconv(const int *in_bits, size_t in_count, const int *out_bits, size_t out_count,
                           uint64_t *s)
{
    const size_t n = 600; /* not a multiple of the conversion's block size */
    ring_modulus in[64], out[8];
    uint64_t primes[72] = {0};
    size_t have = 0;
    for (size_t i = 0; i < in_count + out_count; i++) {
        int b = i < in_count ? in_bits[i] : out_bits[i - in_count];
        assert_int_equal(ring_gen_primes(b, 16, 1, false, primes, have, primes + have), CL_OK);
        have++;
        assert_int_equal(ring_modulus_init(i < in_count ? &in[i] : &out[i - in_count], primes[i]), CL_OK);
    }
    ring_baseconv bc;
    assert_int_equal(ring_baseconv_init(&bc, in, in_count, out, out_count), CL_OK);
    big *xs = malloc(n * sizeof *xs);
    uint64_t *x = malloc(in_count * n * sizeof *x);
    uint64_t *y = malloc(out_count * n * sizeof *y), *ye = malloc(out_count * n * sizeof *ye);
    assert_non_null(xs);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(ye);
    baseconv_inputs(xs, n, in, in_count, s);
    for (size_t k = 0; k < n; k++)
        big_residues(&xs[k], in, in_count, x, n, k);
    ring_baseconv_apply(&bc, x, y, n);
    ring_baseconv_apply_exact(&bc, x, ye, n);

    /* The reference: S = sum_i v_i * (Q/q_i) with v_i = [x_i (Q/q_i)^-1]_{q_i}. */
    big Q, qhat[64];
    big_prod(&Q, in, in_count, SIZE_MAX);
    uint64_t qhat_inv[64];
    for (size_t i = 0; i < in_count; i++) {
        big_prod(&qhat[i], in, in_count, i);
        uint64_t r = big_mod(&qhat[i], in[i].q);
        qhat_inv[i] = powmod_ref(r, in[i].q - 2, in[i].q);
        assert_true(mulmod_ref(r, qhat_inv[i], in[i].q) == 1);
    }
    for (size_t k = 0; k < n; k++) {
        big S, term, xe;
        big_set(&S, 0);
        for (size_t i = 0; i < in_count; i++) {
            uint64_t v = mulmod_ref(x[i * n + k], qhat_inv[i], in[i].q);
            term = qhat[i];
            big_muladd(&term, v, 0);
            big_add(&S, &S, &term);
        }
        /* S = x + e Q with 0 <= e < in_count */
        xe = xs[k];
        size_t e = 0;
        while (big_cmp(&xe, &S) < 0) {
            big_add(&xe, &xe, &Q);
            e++;
        }
        assert_int_equal(big_cmp(&xe, &S), 0);
        assert_true(e < in_count);
        for (size_t j = 0; j < out_count; j++) {
            assert_true(y[j * n + k] == big_mod(&S, out[j].q));
            assert_true(y[j * n + k] < out[j].q);
            /* exact conversion: x mod p_j. It is documented to be wrong only
             * when x/Q is within ~2^-50 of an integer: x = 0 is exact, x = 4
             * (a small nonzero x) is skipped; uniform x hits that with
             * probability ~2^-49. */
            if (k != 4)
                assert_true(ye[j * n + k] == big_mod(&xs[k], out[j].q));
        }
    }
    free(xs);
    free(x);
    free(y);
    free(ye);
    ring_baseconv_free(&bc);
    ring_baseconv_free(&bc); /* idempotent */
}

static void test_baseconv(void **state)
{
    (void)state;
    uint64_t s = 9;
    const int b60[64] = {60, 60, 60, 60, 60, 60, 60, 60};
    const int b61[64] = {61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61,
                         61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61,
                         61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61,
                         61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61};
    const int mixed[] = {60, 40, 40, 50, 30, 61, 45, 35};
    const int out1[] = {61}, out3[] = {60, 40, 61}, out8[] = {61, 61, 30, 40, 50, 60, 55, 35};
    check_baseconv(b60, 1, out1, 1, &s);
    check_baseconv(b60, 1, out3, 3, &s);
    check_baseconv(b60, 2, out3, 3, &s);
    check_baseconv(mixed, 3, out1, 1, &s);
    check_baseconv(mixed, 5, out8, 8, &s);
    check_baseconv(mixed, 8, out3, 3, &s);
    check_baseconv(b61, 12, out3, 3, &s);
    check_baseconv(b61, 64, out3, 3, &s); /* the largest input basis: 128-bit sums at their limit */

    /* invalid set-ups */
    ring_modulus m[2];
    assert_int_equal(ring_modulus_init(&m[0], one_prime(40, 16)), CL_OK);
    m[1] = m[0];
    ring_baseconv bc;
    assert_int_equal(ring_baseconv_init(&bc, m, 2, m, 1), CL_ERR_PARAMS); /* repeated modulus */
    assert_int_equal(ring_baseconv_init(&bc, m, 0, m, 1), CL_ERR_INVALID);
    assert_int_equal(ring_baseconv_init(&bc, m, 1, m, 0), CL_ERR_INVALID);
    assert_int_equal(ring_baseconv_init(&bc, NULL, 1, m, 1), CL_ERR_INVALID);
    assert_int_equal(ring_baseconv_init(NULL, m, 1, m, 1), CL_ERR_INVALID);
    ring_baseconv_free(NULL);
}

static void check_crt(const int *bits, size_t count, uint64_t *s)
{
    ring_modulus m[64];
    uint64_t primes[64] = {0};
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(ring_gen_primes(bits[i], 16, 1, false, primes, i, primes + i), CL_OK);
        assert_int_equal(ring_modulus_init(&m[i], primes[i]), CL_OK);
    }
    ring_crt crt;
    assert_int_equal(ring_crt_init(&crt, m, count), CL_OK);
    big Q, half, one;
    big_prod(&Q, m, count, SIZE_MAX);
    half = Q;
    big_shr1(&half); /* (Q-1)/2: the centered range is [-(Q-1)/2, (Q-1)/2] */
    big_set(&one, 1);
    uint64_t res[64], scratch[64];
    for (int t = 0; t < 400; t++) {
        big x;
        switch (t) {
        case 0: big_set(&x, 0); break;
        case 1: big_set(&x, 1); break;
        case 2: big_sub(&x, &Q, &one); break; /* -1 */
        case 3: x = half; break;              /* the largest positive */
        case 4: big_add(&x, &half, &one); break; /* the most negative */
        case 5: big_sub(&x, &half, &one); break;
        default:
            if (t < 100) { /* small magnitudes of either sign */
                big_set(&x, splitmix(s) >> (t % 64));
                if (big_cmp(&x, &half) > 0)
                    big_set(&x, big_mod(&x, m[0].q) / 2);
                if ((t & 1) && x.len > 0)
                    big_sub(&x, &Q, &x);
            } else if (t < 150) { /* within 2^40 of +-Q/2 */
                big d;
                big_set(&d, splitmix(s) >> 24);
                if (big_cmp(&d, &half) >= 0)
                    big_set(&d, 0);
                if (t & 1) {
                    big_sub(&x, &half, &d);
                } else {
                    big_add(&x, &half, &d);
                    big_add(&x, &x, &one);
                }
            } else {
                big_random_below(&x, m, count, s);
            }
            break;
        }
        big_residues(&x, m, count, res, 1, 0);
        long double want;
        if (big_cmp(&x, &half) <= 0) {
            want = big_to_ld(&x);
        } else {
            big neg;
            big_sub(&neg, &Q, &x);
            want = -big_to_ld(&neg);
        }
        long double got = ring_crt_centered(&crt, res, scratch);
        long double tol = fabsl(want) * (long double)(count + 2) * 0x1p-62L;
        if (fabsl(want) < 0x1p63L)
            tol = 0; /* small values come out exactly */
        assert_true(fabsl(got - want) <= tol);
    }
    ring_crt_free(&crt);
    ring_crt_free(&crt);
}

static void test_crt_centered(void **state)
{
    (void)state;
    uint64_t s = 10;
    const int b1[] = {60}, b2[] = {60, 40}, b6[] = {60, 40, 40, 40, 40, 40},
              b20[] = {61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 30, 30, 30, 30, 30, 50, 50, 50, 50, 50},
              small[] = {20, 21, 22};
    check_crt(b1, 1, &s);
    check_crt(b2, 2, &s);
    check_crt(b6, 6, &s);
    check_crt(b20, 20, &s);
    check_crt(small, 3, &s);
    ring_modulus m[2];
    assert_int_equal(ring_modulus_init(&m[0], one_prime(40, 16)), CL_OK);
    m[1] = m[0];
    ring_crt crt;
    assert_int_equal(ring_crt_init(&crt, m, 2), CL_ERR_PARAMS);
    assert_int_equal(ring_crt_init(&crt, m, 0), CL_ERR_INVALID);
    assert_int_equal(ring_crt_init(NULL, m, 1), CL_ERR_INVALID);
    ring_crt_free(NULL);
}

/* --------------------------------------------------------------- samplers */

static void test_random_bytes(void **state)
{
    (void)state;
    /* Behavioural checks only: the bytes come from the OS (getrandom, the only
     * source sample.c uses; see its header comment), so two large draws differ
     * and are byte-uniform. A C test cannot see the system call itself. */
    const size_t len = (size_t)1 << 20;
    uint8_t *a = malloc(len), *b = malloc(len);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 0, len);
    memset(b, 0, len);
    assert_int_equal(ring_random_bytes(a, len), CL_OK);
    assert_int_equal(ring_random_bytes(b, len), CL_OK);
    assert_int_equal(ring_random_bytes(a, 0), CL_OK);
    assert_true(memcmp(a, b, len) != 0);
    size_t same = 0;
    for (size_t i = 0; i < len; i++)
        same += a[i] == b[i];
    assert_true(same < len / 128); /* expected len/256 */
    /* byte histogram: chi-square with 255 degrees of freedom; 400 is exceeded
     * with probability below 1e-8 */
    double cnt[256] = {0};
    for (size_t i = 0; i < len; i++)
        cnt[a[i]]++;
    double e = (double)len / 256, chi = 0;
    for (int v = 0; v < 256; v++)
        chi += (cnt[v] - e) * (cnt[v] - e) / e;
    assert_true(chi < 400);
    /* the tail of a large buffer is filled too (no short read left as zero) */
    size_t zeros = 0;
    for (size_t i = len - 4096; i < len; i++)
        zeros += a[i] == 0;
    assert_true(zeros < 64);
    /* odd lengths and small draws */
    uint8_t small[3][33];
    for (int i = 0; i < 3; i++)
        assert_int_equal(ring_random_bytes(small[i], sizeof small[i]), CL_OK);
    assert_true(memcmp(small[0], small[1], 33) != 0 || memcmp(small[1], small[2], 33) != 0);
    free(a);
    free(b);
}

static void test_sample_ternary(void **state)
{
    (void)state;
    const size_t n = 3 << 16;
    int8_t *a = malloc(n), *b = malloc(n);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 5, n);
    assert_int_equal(ring_sample_ternary(a, n), CL_OK);
    assert_int_equal(ring_sample_ternary(b, n), CL_OK);
    double cnt[3] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(a[i] >= -1 && a[i] <= 1);
        cnt[a[i] + 1]++;
    }
    /* chi-square, 2 degrees of freedom: P(chi > 50) = exp(-25) */
    double e = (double)n / 3, chi = 0;
    for (int v = 0; v < 3; v++)
        chi += (cnt[v] - e) * (cnt[v] - e) / e;
    assert_true(chi < 50);
    assert_true(memcmp(a, b, n) != 0);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += a[i] == b[i];
    assert_true(fabs((double)same / (double)n - 1.0 / 3) < 0.01); /* independent draws */
    /* odd sizes across the internal chunking */
    int8_t c[1027];
    memset(c, 7, sizeof c);
    assert_int_equal(ring_sample_ternary(c, sizeof c), CL_OK);
    for (size_t i = 0; i < sizeof c; i++)
        assert_true(c[i] >= -1 && c[i] <= 1);
    assert_int_equal(ring_sample_ternary(NULL, 0), CL_OK);
    assert_int_equal(ring_sample_ternary(NULL, 4), CL_ERR_INVALID);
    free(a);
    free(b);
}

static void test_sample_gaussian(void **state)
{
    (void)state;
    const size_t n = 1 << 18;
    int8_t *a = malloc(n), *b = malloc(n);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(ring_sample_gaussian(a, n), CL_OK);
    assert_int_equal(ring_sample_gaussian(b, n), CL_OK);
    double sum = 0, sum2 = 0;
    size_t tail = 0, pos = 0, neg = 0, zero = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(a[i] >= -RING_GAUSSIAN_BOUND && a[i] <= RING_GAUSSIAN_BOUND);
        sum += a[i];
        sum2 += (double)a[i] * a[i];
        tail += abs(a[i]) >= 10;
        pos += a[i] > 0;
        neg += a[i] < 0;
        zero += a[i] == 0;
    }
    double mean = sum / (double)n, sd = sqrt(sum2 / (double)n - mean * mean);
    /* standard errors: 0.006 for the mean, 0.0045 for the deviation */
    assert_true(fabs(mean) < 0.05);
    assert_true(fabs(sd - RING_GAUSSIAN_SIGMA) < 0.06);
    /* P(|x| >= 10) is about 0.0026 for sigma 3.2: the tails are reached */
    assert_true(tail > n / 1000 && tail < n / 200);
    /* symmetric, and P(0) near 1 / (sigma sqrt(2 pi)) = 0.1247 */
    assert_true(fabs((double)pos - (double)neg) < 6 * sqrt((double)n));
    assert_true(fabs((double)zero / (double)n - 0.1247) < 0.005);
    assert_true(memcmp(a, b, n) != 0);
    int8_t c[1027];
    assert_int_equal(ring_sample_gaussian(c, sizeof c), CL_OK);
    for (size_t i = 0; i < sizeof c; i++)
        assert_true(c[i] >= -RING_GAUSSIAN_BOUND && c[i] <= RING_GAUSSIAN_BOUND);
    assert_int_equal(ring_sample_gaussian(NULL, 0), CL_OK);
    assert_int_equal(ring_sample_gaussian(NULL, 4), CL_ERR_INVALID);
    free(a);
    free(b);
}

static void test_expand_uniform(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    uint8_t seed[RING_SEED_BYTES], seed2[RING_SEED_BYTES];
    for (int i = 0; i < RING_SEED_BYTES; i++)
        seed[i] = seed2[i] = (uint8_t)(i * 7 + 1);
    seed2[31] ^= 1;
    const size_t n = 1 << 16;
    uint64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    /* moduli: a prime just above a power of two rejects about half the words */
    uint64_t qs[5] = {one_prime(60, 16), one_prime(40, 16), 0, (1ULL << 61) - 1, 3};
    {
        uint64_t two[2];
        assert_int_equal(ring_gen_primes(50, 16, 2, true, NULL, 0, two), CL_OK);
        qs[2] = two[1]; /* the one just above 2^50 */
        assert_true(qs[2] > (1ULL << 50));
    }
    for (size_t qi = 0; qi < 5; qi++) {
        ring_modulus m;
        assert_int_equal(ring_modulus_init(&m, qs[qi]), CL_OK);
        ring_expand_uniform(seed, 7, &m, n, a);
        ring_expand_uniform(seed, 7, &m, n, b);
        assert_memory_equal(a, b, n * sizeof *a); /* deterministic */
        ring_expand_uniform(seed, 8, &m, n, b);
        ring_expand_uniform(seed2, 7, &m, n, c);
        size_t same_dom = 0, same_seed = 0;
        double sum = 0, cnt[16] = {0};
        for (size_t i = 0; i < n; i++) {
            assert_true(a[i] < m.q);
            same_dom += a[i] == b[i];
            same_seed += a[i] == c[i];
            double u = (double)a[i] / (double)m.q;
            sum += u;
            cnt[(int)(u * 16)]++;
        }
        if (m.q > 1000) {
            assert_true(same_dom < 4);
            assert_true(same_seed < 4);
            /* uniform: mean of u within 12 standard errors, 16-bucket chi-square
             * (15 degrees of freedom; 80 is exceeded with probability < 1e-10) */
            assert_true(fabs(sum / (double)n - 0.5) < 12 * 0.2887 / sqrt((double)n));
            double e = (double)n / 16, chi = 0;
            for (int k = 0; k < 16; k++)
                chi += (cnt[k] - e) * (cnt[k] - e) / e;
            assert_true(chi < 80);
        } else {
            assert_true(same_dom < n / 2);
            assert_true(same_seed < n / 2);
            double cnt3[3] = {0};
            for (size_t i = 0; i < n; i++)
                cnt3[a[i]]++;
            for (int k = 0; k < 3; k++)
                assert_true(fabs(cnt3[k] / (double)n - 1.0 / 3) < 0.01);
        }
        /* a prefix of a longer expansion */
        uint64_t head[100];
        ring_expand_uniform(seed, 7, &m, 100, head);
        assert_memory_equal(head, a, sizeof head);

        /* The documented construction: ChaCha20-IETF keystream (key = seed,
         * nonce = domain little-endian || 4 zero bytes), 64-bit little-endian
         * words masked to the bit length of q, values >= q rejected. */
        uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
        for (int i = 0; i < 8; i++)
            nonce[i] = (uint8_t)((uint64_t)7 >> (8 * i));
        const size_t ks_len = 64 * 1024;
        uint8_t *ks = malloc(ks_len);
        assert_non_null(ks);
        assert_int_equal(crypto_stream_chacha20_ietf(ks, ks_len, nonce, seed), 0);
        const uint64_t mask = (1ULL << m.bits) - 1;
        size_t got = 0;
        for (size_t w = 0; w + 8 <= ks_len && got < 2000; w += 8) {
            uint64_t v = 0;
            for (int k = 0; k < 8; k++)
                v |= (uint64_t)ks[w + (size_t)k] << (8 * k);
            v &= mask;
            if (v < m.q)
                assert_true(a[got++] == v);
        }
        assert_int_equal(got, 2000);
        free(ks);
    }
    free(a);
    free(b);
    free(c);
}

static void test_small_to_residues(void **state)
{
    (void)state;
    int8_t in[256];
    uint64_t out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (int8_t)(i - 128);
    const uint64_t qs[] = {257, 65537, one_prime(40, 16), one_prime(61, 16), (1ULL << 61) - 1};
    for (size_t qi = 0; qi < sizeof qs / sizeof qs[0]; qi++) {
        const uint64_t q = qs[qi];
        memset(out, 0xff, sizeof out);
        ring_small_to_residues(in, 256, q, out);
        for (int i = 0; i < 256; i++) {
            assert_true(out[i] < q);
            assert_true(out[i] == ring_from_signed(in[i], q));
            assert_true(out[i] == (uint64_t)(((int64_t)in[i] % (int64_t)q + (int64_t)q) % (int64_t)q));
        }
    }
}

/* The secret key comes from the OS generator: fresh keys differ, and their
 * coefficients are uniform ternary. */
static void test_secret_key_fresh(void **state)
{
    (void)state;
    ckks_params *p;
    assert_int_equal(ckks_params_from_preset("test-n10", CKKS_ALLOW_INSECURE, &p), CL_OK);
    const size_t n = ckks_params_n(p);
    ckks_secret_key *k1, *k2, *k3;
    assert_int_equal(ckks_secret_key_create(p, &k1), CL_OK);
    assert_int_equal(ckks_secret_key_create(p, &k2), CL_OK);
    assert_int_equal(ckks_secret_key_create(p, &k3), CL_OK);
    assert_true(memcmp(k1->coeffs, k2->coeffs, n) != 0);
    assert_true(memcmp(k2->coeffs, k3->coeffs, n) != 0);
    assert_true(memcmp(k1->coeffs, k3->coeffs, n) != 0);
    double cnt[3] = {0};
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(k1->coeffs[i] >= -1 && k1->coeffs[i] <= 1);
        assert_true(k2->coeffs[i] >= -1 && k2->coeffs[i] <= 1);
        cnt[k1->coeffs[i] + 1]++;
        cnt[k2->coeffs[i] + 1]++;
        same += k1->coeffs[i] == k2->coeffs[i];
    }
    for (int v = 0; v < 3; v++) /* 2048 draws: standard error 0.0104 */
        assert_true(fabs(cnt[v] / (double)(2 * n) - 1.0 / 3) < 0.08);
    assert_true(same < n / 2);
    /* the NTT form is that of the coefficients, for every prime */
    uint64_t *limb = malloc(n * sizeof *limb);
    assert_non_null(limb);
    for (size_t i = 0; i < ckks_params_prime_count(p); i++) {
        ring_small_to_residues(k1->coeffs, n, p->mod[i].q, limb);
        ring_ntt_forward(&p->ntt[i], limb);
        assert_memory_equal(limb, k1->ntt + i * n, n * sizeof *limb);
    }
    free(limb);
    ckks_secret_key_free(k1);
    ckks_secret_key_free(k2);
    ckks_secret_key_free(k3);
    ckks_secret_key_free(NULL);
    assert_int_equal(ckks_secret_key_create(NULL, &k1), CL_ERR_INVALID);
    assert_int_equal(ckks_secret_key_create(p, NULL), CL_ERR_INVALID);
    ckks_params_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_prime_small),
        cmocka_unit_test(test_is_prime_64),
        cmocka_unit_test(test_gen_primes),
        cmocka_unit_test(test_barrett_shoup),
        cmocka_unit_test(test_pow_inv_signed),
        cmocka_unit_test(test_ntt_vs_schoolbook),
        cmocka_unit_test(test_ntt_identity_and_lazy_input),
        cmocka_unit_test(test_ntt_slot_of_exponent),
        cmocka_unit_test(test_automorphisms),
        cmocka_unit_test(test_baseconv),
        cmocka_unit_test(test_crt_centered),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_sample_ternary),
        cmocka_unit_test(test_sample_gaussian),
        cmocka_unit_test(test_expand_uniform),
        cmocka_unit_test(test_small_to_residues),
        cmocka_unit_test(test_secret_key_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
