/* CKKS parameter sets: presets, the HE Standard security check, primes and
 * every precomputation the other ckks files need. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ckks/ckks_internal.h"

/* 128-bit presets with the anchors' ciphertext moduli (shared/anchors.md),
 * plus n14-l6: the deepest 40-bit chain N = 2^14 allows (HE-DQN's 6 levels);
 * special primes and digits chosen so log2(QP) stays under the HE Standard
 * bound; small sets for tests, refused without CKKS_ALLOW_INSECURE. */
static const ckks_param_spec presets[] = {
    /* name      logn first scale L  sp.bits K digits insecure */
    {"n14",      14,  60,   40,   5,  60,    2, 3,     false},
    {"n14-l6",   14,  60,   40,   6,  60,    2, 4,     false},
    {"n15",      15,  60,   40,  14,  60,    4, 3,     false},
    {"n16",      16,  60,   40,  29,  60,    8, 3,     false},
    {"test-n10", 10,  60,   40,   4,  60,    2, 3,     true},
    {"test-n12", 12,  60,   40,   6,  60,    2, 4,     true},
};

size_t ckks_preset_count(void)
{
    return sizeof presets / sizeof presets[0];
}

const ckks_param_spec *ckks_preset_at(size_t i)
{
    return i < ckks_preset_count() ? &presets[i] : NULL;
}

const ckks_param_spec *ckks_preset_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < ckks_preset_count(); i++)
        if (!strcmp(presets[i].name, name))
            return &presets[i];
    return NULL;
}

int ckks_security_bound(int logn)
{
    /* Homomorphic Encryption Standard (2018), Table 1, ternary secret,
     * classical 128-bit security. */
    switch (logn) {
    case 10: return 27;
    case 11: return 54;
    case 12: return 109;
    case 13: return 218;
    case 14: return 438;
    case 15: return 881;
    case 16: return 1772;
    default: return 0;
    }
}

static cl_status check_spec(const ckks_param_spec *s)
{
    if (s->logn < 4 || s->logn > 16)
        return CL_ERR_INVALID;
    if (s->first_bits < 20 || s->first_bits > 60 || s->scale_bits < 20 || s->scale_bits > 60 ||
        s->special_bits < 20 || s->special_bits > 60)
        return CL_ERR_INVALID;
    if (s->levels < 0 || s->special_count < 1 || s->digits < 1 || s->digits > s->levels + 1)
        return CL_ERR_INVALID;
    if (s->levels + 1 + s->special_count > CKKS_MAX_PRIMES)
        return CL_ERR_INVALID;
    if (memchr(s->name, '\0', sizeof s->name) == NULL)
        return CL_ERR_INVALID;
    return CL_OK;
}

void ckks_params_free(ckks_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->qp_count; i++)
        ring_ntt_free(&p->ntt[i]);
    if (p->modup) {
        for (size_t i = 0; i < p->q_count * (size_t)p->spec.digits; i++)
            ring_baseconv_free(&p->modup[i]);
        free(p->modup);
    }
    if (p->moddown) {
        for (size_t l = 0; l < p->q_count; l++)
            ring_baseconv_free(&p->moddown[l]);
        free(p->moddown);
    }
    if (p->crt) {
        for (size_t l = 0; l < p->q_count; l++)
            ring_crt_free(&p->crt[l]);
        free(p->crt);
    }
    free(p->rescale_inv);
    free(p->rescale_inv_shoup);
    free(p);
}

static cl_status precompute(ckks_params *p)
{
    const size_t qc = p->q_count, pc = p->p_count, dn = (size_t)p->spec.digits;
    cl_status st;
    for (size_t i = 0; i < p->qp_count; i++)
        if ((st = ring_ntt_init(&p->ntt[i], p->n, p->mod[i].q)) != CL_OK)
            return st;

    p->rescale_inv = calloc(qc * qc, sizeof(uint64_t));
    p->rescale_inv_shoup = calloc(qc * qc, sizeof(uint64_t));
    if (!p->rescale_inv || !p->rescale_inv_shoup)
        return CL_ERR_NOMEM;
    for (size_t l = 1; l < qc; l++)
        for (size_t i = 0; i < l; i++) {
            uint64_t inv = ring_invmod(p->mod[l].q, &p->mod[i]);
            p->rescale_inv[l * qc + i] = inv;
            p->rescale_inv_shoup[l * qc + i] = ring_shoup(inv, p->mod[i].q);
        }

    p->modup = calloc(qc * dn, sizeof *p->modup);
    p->moddown = calloc(qc, sizeof *p->moddown);
    p->crt = calloc(qc, sizeof *p->crt);
    if (!p->modup || !p->moddown || !p->crt)
        return CL_ERR_NOMEM;
    ring_modulus target[CKKS_MAX_PRIMES];
    for (size_t l = 0; l < qc; l++) {
        for (size_t j = 0; j < dn; j++) {
            size_t lo = j * p->alpha;
            if (lo > l)
                break;
            size_t hi = lo + p->alpha < l + 1 ? lo + p->alpha : l + 1;
            size_t t = 0;
            for (size_t i = 0; i <= l; i++)
                if (i < lo || i >= hi)
                    target[t++] = p->mod[i];
            for (size_t k = 0; k < pc; k++)
                target[t++] = p->mod[qc + k];
            if ((st = ring_baseconv_init(&p->modup[l * dn + j], &p->mod[lo], hi - lo, target, t)) != CL_OK)
                return st;
        }
        if ((st = ring_baseconv_init(&p->moddown[l], &p->mod[qc], pc, p->mod, l + 1)) != CL_OK)
            return st;
        if ((st = ring_crt_init(&p->crt[l], p->mod, l + 1)) != CL_OK)
            return st;
    }
    for (size_t i = 0; i < qc; i++) {
        uint64_t pm = 1;
        for (size_t k = 0; k < pc; k++)
            pm = ring_mulmod(pm, ring_reduce64(p->mod[qc + k].q, &p->mod[i]), &p->mod[i]);
        p->p_mod_q[i] = pm;
        p->p_inv[i] = ring_invmod(pm, &p->mod[i]);
        p->p_inv_shoup[i] = ring_shoup(p->p_inv[i], p->mod[i].q);
        /* (P-1)/2 = (P - 1) * 2^-1 mod q_i */
        uint64_t inv2 = (p->mod[i].q + 1) / 2;
        p->half_p_mod_q[i] = ring_mulmod(ring_submod(pm, 1, p->mod[i].q), inv2, &p->mod[i]);
    }
    return CL_OK;
}

static void fingerprint(ckks_params *p)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, CKKS_FINGERPRINT_BYTES);
    const char tag[] = "cipherl-ckks-params-v1";
    crypto_generichash_update(&h, (const unsigned char *)tag, sizeof tag);
    uint8_t hdr[16] = {(uint8_t)p->logn, (uint8_t)p->q_count, (uint8_t)p->p_count,
                       (uint8_t)p->spec.digits, (uint8_t)p->spec.scale_bits};
    crypto_generichash_update(&h, hdr, sizeof hdr);
    for (size_t i = 0; i < p->qp_count; i++) {
        uint8_t b[8];
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)(p->mod[i].q >> (8 * k));
        crypto_generichash_update(&h, b, sizeof b);
    }
    crypto_generichash_final(&h, p->fingerprint, CKKS_FINGERPRINT_BYTES);
}

cl_status ckks_params_create(const ckks_param_spec *spec, unsigned flags, ckks_params **out)
{
    if (!spec || !out)
        return CL_ERR_INVALID;
    cl_status st = check_spec(spec);
    if (st != CL_OK)
        return st;
    if (sodium_init() < 0)
        return CL_ERR_RNG;
    ckks_params *p = calloc(1, sizeof *p);
    if (!p)
        return CL_ERR_NOMEM;
    p->spec = *spec;
    p->logn = spec->logn;
    p->n = (size_t)1 << spec->logn;
    p->q_count = (size_t)spec->levels + 1;
    p->p_count = (size_t)spec->special_count;
    p->qp_count = p->q_count + p->p_count;
    p->alpha = (p->q_count + (size_t)spec->digits - 1) / (size_t)spec->digits;
    /* The digit count is what the caller asked for; with alpha per digit some
     * trailing digits may be empty: reduce to the digits actually used. */
    p->spec.digits = (int)((p->q_count + p->alpha - 1) / p->alpha);

    uint64_t primes[CKKS_MAX_PRIMES];
    size_t have = 0;
    /* q_0: largest primes below 2^first_bits. */
    if ((st = ring_gen_primes(spec->first_bits, p->n, 1, false, NULL, 0, primes)) != CL_OK)
        goto fail;
    have = 1;
    if (spec->levels > 0) {
        if ((st = ring_gen_primes(spec->scale_bits, p->n, (size_t)spec->levels, true, primes, have,
                                  primes + have)) != CL_OK)
            goto fail;
        have += (size_t)spec->levels;
    }
    if ((st = ring_gen_primes(spec->special_bits, p->n, p->p_count, false, primes, have, primes + have)) != CL_OK)
        goto fail;
    have += p->p_count;

    p->log2_q = 0;
    for (size_t i = 0; i < p->qp_count; i++) {
        if ((st = ring_modulus_init(&p->mod[i], primes[i])) != CL_OK)
            goto fail;
        double lg = log2((double)primes[i]);
        if (i < p->q_count)
            p->log2_q += lg;
        p->log2_qp += lg;
    }
    /* Key switching needs P at least as large as every digit, or its noise grows. */
    for (size_t j = 0; j * p->alpha < p->q_count; j++) {
        double digit_bits = 0;
        for (size_t i = j * p->alpha; i < (j + 1) * p->alpha && i < p->q_count; i++)
            digit_bits += log2((double)primes[i]);
        if (digit_bits > p->log2_qp - p->log2_q + 1e-9) {
            st = CL_ERR_PARAMS;
            goto fail;
        }
    }
    int bound = ckks_security_bound(spec->logn);
    p->secure = bound > 0 && p->log2_qp <= (double)bound && !spec->insecure;
    if (!p->secure && !(flags & CKKS_ALLOW_INSECURE)) {
        st = CL_ERR_INSECURE;
        goto fail;
    }
    if ((st = precompute(p)) != CL_OK)
        goto fail;
    fingerprint(p);
    *out = p;
    return CL_OK;
fail:
    ckks_params_free(p);
    return st;
}

cl_status ckks_params_from_preset(const char *name, unsigned flags, ckks_params **out)
{
    const ckks_param_spec *s = ckks_preset_find(name);
    if (!s)
        return CL_ERR_INVALID;
    return ckks_params_create(s, flags, out);
}

const ckks_param_spec *ckks_params_spec(const ckks_params *p) { return &p->spec; }
size_t ckks_params_n(const ckks_params *p) { return p->n; }
size_t ckks_params_max_slots(const ckks_params *p) { return p->n / 2; }
int ckks_params_max_level(const ckks_params *p) { return (int)p->q_count - 1; }
double ckks_params_default_scale(const ckks_params *p) { return ldexp(1.0, p->spec.scale_bits); }
double ckks_params_log2_q(const ckks_params *p) { return p->log2_q; }
double ckks_params_log2_qp(const ckks_params *p) { return p->log2_qp; }
bool ckks_params_is_secure(const ckks_params *p) { return p->secure; }
size_t ckks_params_prime_count(const ckks_params *p) { return p->qp_count; }
uint64_t ckks_params_prime(const ckks_params *p, size_t i) { return i < p->qp_count ? p->mod[i].q : 0; }
const uint8_t *ckks_params_fingerprint(const ckks_params *p) { return p->fingerprint; }

void ckks_expand_poly(const ckks_params *p, const uint8_t seed[RING_SEED_BYTES], uint64_t domain,
                      size_t first, size_t count, uint64_t *out)
{
    for (size_t i = 0; i < count; i++)
        ring_expand_uniform(seed, (domain << 8) | (first + i), &p->mod[first + i], p->n, out + i * p->n);
}
