/* The project's own PRNG: xoshiro256** (Blackman & Vigna, 2018) seeded through
 * splitmix64. Fast and reproducible across platforms; NOT for secrets. */
#include <math.h>

#include "cipherl/rl.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rl_rng_seed(rl_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
    /* splitmix64 is a bijection of its counter, so the four words cannot all
     * be zero; keep the guard anyway (the all-zero state is a fixed point). */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        rng->s[0] = UINT64_C(0x9E3779B97F4A7C15);
}

uint64_t rl_rng_next(rl_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rl_rng_uniform(rl_rng *rng)
{
    /* the top 53 bits, scaled to [0, 1) */
    return (double)(rl_rng_next(rng) >> 11) * 0x1.0p-53;
}

double rl_rng_range(rl_rng *rng, double lo, double hi)
{
    /* the same form as numpy's Generator.uniform: lo + (hi - lo) * u */
    return lo + (hi - lo) * rl_rng_uniform(rng);
}

double rl_rng_normal(rl_rng *rng)
{
    /* Box-Muller, one draw per call (no cached second value, so the stream
     * position depends only on the number of calls). u1 is in (0, 1]. */
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = 1.0 - rl_rng_uniform(rng);
    double u2 = rl_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

uint32_t rl_rng_below(rl_rng *rng, uint32_t n)
{
    /* Lemire's multiply-and-reject: unbiased. n == 0 is a caller error;
     * return 0 rather than loop forever. */
    if (n == 0)
        return 0;
    uint64_t m = (rl_rng_next(rng) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (rl_rng_next(rng) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
