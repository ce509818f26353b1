/* Moduli, modular exponentiation and inverses, primality, prime generation. */
#include <string.h>

#include "cipherl/ring.h"

cl_status ring_modulus_init(ring_modulus *m, uint64_t q)
{
    if (!m || q < 3 || (q & 1) == 0 || q >= (1ULL << RING_MAX_MODULUS_BITS))
        return CL_ERR_INVALID;
    memset(m, 0, sizeof *m);
    m->q = q;
    /* floor(2^128 / q): 2^128 = (2^128 - 1) + 1, and q does not divide 2^128. */
    unsigned __int128 all = ~(unsigned __int128)0;
    unsigned __int128 r = all / q;
    m->ratio_hi = (uint64_t)(r >> 64);
    m->ratio_lo = (uint64_t)r;
    m->bits = 64 - __builtin_clzll(q);
    return CL_OK;
}

uint64_t ring_powmod(uint64_t base, uint64_t exp, const ring_modulus *m)
{
    uint64_t result = 1 % m->q;
    base = ring_reduce64(base, m);
    while (exp) {
        if (exp & 1)
            result = ring_mulmod(result, base, m);
        base = ring_mulmod(base, base, m);
        exp >>= 1;
    }
    return result;
}

uint64_t ring_invmod(uint64_t a, const ring_modulus *m)
{
    a = ring_reduce64(a, m);
    if (a == 0)
        return 0;
    return ring_powmod(a, m->q - 2, m); /* Fermat: q is prime */
}

static uint64_t powmod_plain(uint64_t b, uint64_t e, uint64_t n)
{
    unsigned __int128 r = 1, x = b % n;
    while (e) {
        if (e & 1)
            r = (r * x) % n;
        x = (x * x) % n;
        e >>= 1;
    }
    return (uint64_t)r;
}

bool ring_is_prime(uint64_t x)
{
    if (x < 2)
        return false;
    static const uint64_t small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        if (x == small[i])
            return true;
        if (x % small[i] == 0)
            return false;
    }
    uint64_t d = x - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        s++;
    }
    /* These twelve bases are a proof of primality for every x < 2^64. */
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        uint64_t y = powmod_plain(small[i], d, x);
        if (y == 1 || y == x - 1)
            continue;
        bool composite = true;
        for (int r = 1; r < s; r++) {
            y = (uint64_t)(((unsigned __int128)y * y) % x);
            if (y == x - 1) {
                composite = false;
                break;
            }
        }
        if (composite)
            return false;
    }
    return true;
}

static bool excluded(uint64_t q, const uint64_t *ex, size_t nex, const uint64_t *got, size_t ngot)
{
    for (size_t i = 0; i < nex; i++)
        if (ex[i] == q)
            return true;
    for (size_t i = 0; i < ngot; i++)
        if (got[i] == q)
            return true;
    return false;
}

cl_status ring_gen_primes(int bits, size_t n, size_t count, bool around_power,
                          const uint64_t *exclude, size_t nexclude, uint64_t *out)
{
    if (!out || bits < 10 || bits > RING_MAX_MODULUS_BITS || n < 2 || (n & (n - 1)))
        return CL_ERR_INVALID;
    if (nexclude && !exclude)
        return CL_ERR_INVALID;
    const uint64_t step = 2 * (uint64_t)n;
    const uint64_t center = 1ULL << bits;
    const uint64_t upper_limit = (bits < RING_MAX_MODULUS_BITS) ? (1ULL << (bits + 1)) : (1ULL << RING_MAX_MODULUS_BITS);
    const uint64_t lower_limit = 1ULL << (bits - 1);
    uint64_t below = center + 1 - step; /* ≡ 1 mod 2n, < 2^bits */
    uint64_t above = center + 1;        /* ≡ 1 mod 2n, > 2^bits */
    size_t found = 0;
    bool take_below = true;
    while (found < count) {
        bool can_below = below > lower_limit;
        bool can_above = around_power && above < upper_limit;
        if (!can_below && !can_above)
            return CL_ERR_PRIME;
        uint64_t *cand;
        if (can_below && (take_below || !can_above))
            cand = &below;
        else
            cand = &above;
        /* Advance the chosen side to its next prime. */
        for (;;) {
            uint64_t c = *cand;
            if (cand == &below) {
                if (c <= lower_limit)
                    break;
                *cand -= step;
            } else {
                if (c >= upper_limit)
                    break;
                *cand += step;
            }
            if (ring_is_prime(c) && !excluded(c, exclude, nexclude, out, found)) {
                out[found++] = c;
                break;
            }
        }
        if (around_power)
            take_below = !take_below;
    }
    return CL_OK;
}
