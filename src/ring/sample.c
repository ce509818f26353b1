/* Samplers. Secrets (secret keys, encryption randomness and errors) come from
 * the operating system's CSPRNG through getrandom(2) only; public uniform
 * polynomials are expanded from a seed with ChaCha20 (libsodium). Sampling of
 * secrets never branches on secret values. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/random.h>

#include <sodium.h>

#include "cipherl/ring.h"

cl_status ring_random_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t got = getrandom(p, len, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return CL_ERR_RNG;
        }
        p += got;
        len -= (size_t)got;
    }
    return CL_OK;
}

#define SAMPLE_CHUNK 512

cl_status ring_sample_ternary(int8_t *out, size_t n)
{
    if (!out && n)
        return CL_ERR_INVALID;
    uint64_t r[SAMPLE_CHUNK];
    for (size_t b = 0; b < n; b += SAMPLE_CHUNK) {
        size_t len = (n - b < SAMPLE_CHUNK) ? n - b : SAMPLE_CHUNK;
        if (ring_random_bytes(r, len * sizeof r[0]) != CL_OK)
            return CL_ERR_RNG;
        for (size_t k = 0; k < len; k++) {
            /* floor(3 r / 2^64) is uniform on {0, 1, 2} up to 2^-64. */
            uint64_t t = (uint64_t)(((unsigned __int128)r[k] * 3) >> 64);
            out[b + k] = (int8_t)((int64_t)t - 1);
        }
        sodium_memzero(r, sizeof r);
    }
    return CL_OK;
}

/* Cumulative table: cdt[k] = round(2^64 * P(X <= k - BOUND)) for k < 2*BOUND,
 * where X is the discrete Gaussian of sigma 3.2 truncated to [-BOUND, BOUND]. */
#define CDT_LEN (2 * RING_GAUSSIAN_BOUND)
static uint64_t cdt[CDT_LEN];
static int cdt_ready; /* the table is a pure function of constants: a benign race */

static void cdt_build(void)
{
    long double w[2 * RING_GAUSSIAN_BOUND + 1], total = 0;
    const long double s2 = 2.0L * RING_GAUSSIAN_SIGMA * RING_GAUSSIAN_SIGMA;
    for (int x = -RING_GAUSSIAN_BOUND; x <= RING_GAUSSIAN_BOUND; x++) {
        w[x + RING_GAUSSIAN_BOUND] = expl(-(long double)x * x / s2);
        total += w[x + RING_GAUSSIAN_BOUND];
    }
    long double acc = 0;
    for (int k = 0; k < CDT_LEN; k++) {
        acc += w[k] / total;
        long double v = ldexpl(acc, 64);
        cdt[k] = v >= 18446744073709551615.0L ? UINT64_MAX : (uint64_t)(v + 0.5L);
    }
    cdt_ready = 1;
}

cl_status ring_sample_gaussian(int8_t *out, size_t n)
{
    if (!out && n)
        return CL_ERR_INVALID;
    if (!cdt_ready)
        cdt_build();
    uint64_t r[SAMPLE_CHUNK];
    for (size_t b = 0; b < n; b += SAMPLE_CHUNK) {
        size_t len = (n - b < SAMPLE_CHUNK) ? n - b : SAMPLE_CHUNK;
        if (ring_random_bytes(r, len * sizeof r[0]) != CL_OK)
            return CL_ERR_RNG;
        for (size_t k = 0; k < len; k++) {
            /* x = -BOUND + #{k : r >= cdt[k]}: a full scan, no early exit. */
            int64_t x = -RING_GAUSSIAN_BOUND;
            for (int t = 0; t < CDT_LEN; t++)
                x += (int64_t)(r[k] >= cdt[t]);
            out[b + k] = (int8_t)x;
        }
        sodium_memzero(r, sizeof r);
    }
    return CL_OK;
}

void ring_small_to_residues(const int8_t *in, size_t n, uint64_t q, uint64_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int64_t x = in[i];
        uint64_t neg = (uint64_t)(x >> 63); /* all ones when negative */
        out[i] = (uint64_t)x + (q & neg);
    }
}

void ring_expand_uniform(const uint8_t seed[RING_SEED_BYTES], uint64_t domain,
                         const ring_modulus *m, size_t n, uint64_t *out)
{
    /* ChaCha20 (IETF) keystream, key = seed, nonce = 64-bit domain || 32 zero bits;
     * 64-bit words masked to the bit length of q, values >= q rejected. */
    uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(domain >> (8 * i));
    const uint64_t mask = (m->bits >= 64) ? UINT64_MAX : ((1ULL << m->bits) - 1);
    uint64_t buf[64 * 8]; /* 64 blocks of 64 bytes */
    const uint8_t zero[sizeof buf] = {0};
    uint32_t counter = 0;
    size_t filled = 0;
    while (filled < n) {
        crypto_stream_chacha20_ietf_xor_ic((unsigned char *)buf, zero, sizeof buf, nonce, counter, seed);
        counter += (uint32_t)(sizeof buf / 64);
        for (size_t k = 0; k < sizeof buf / sizeof buf[0] && filled < n; k++) {
            uint64_t v = buf[k] & mask;
            if (v < m->q)
                out[filled++] = v;
        }
    }
}
