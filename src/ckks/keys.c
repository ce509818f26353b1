/* Keys: secret (uniform ternary, from getrandom), public, and hybrid
 * key-switching keys for relinearization and Galois automorphisms. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ckks/ckks_internal.h"

void ckks_secret_key_free(ckks_secret_key *sk)
{
    if (!sk)
        return;
    if (sk->coeffs)
        sodium_memzero(sk->coeffs, sk->params->n);
    if (sk->ntt)
        sodium_memzero(sk->ntt, sk->params->qp_count * sk->params->n * sizeof(uint64_t));
    free(sk->coeffs);
    free(sk->ntt);
    free(sk);
}

/* Fills sk->ntt from sk->coeffs. */
static void secret_to_ntt(ckks_secret_key *sk)
{
    const ckks_params *p = sk->params;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->qp_count; i++) {
        uint64_t *d = sk->ntt + i * p->n;
        ring_small_to_residues(sk->coeffs, p->n, p->mod[i].q, d);
        ring_ntt_forward(&p->ntt[i], d);
    }
}

static cl_status secret_key_alloc(const ckks_params *params, ckks_secret_key **out)
{
    ckks_secret_key *sk = calloc(1, sizeof *sk);
    if (!sk)
        return CL_ERR_NOMEM;
    sk->params = params;
    sk->coeffs = malloc(params->n);
    sk->ntt = malloc(params->qp_count * params->n * sizeof(uint64_t));
    if (!sk->coeffs || !sk->ntt) {
        ckks_secret_key_free(sk);
        return CL_ERR_NOMEM;
    }
    *out = sk;
    return CL_OK;
}

cl_status ckks_secret_key_create(const ckks_params *params, ckks_secret_key **out)
{
    if (!params || !out)
        return CL_ERR_INVALID;
    ckks_secret_key *sk;
    cl_status st = secret_key_alloc(params, &sk);
    if (st != CL_OK)
        return st;
    if ((st = ring_sample_ternary(sk->coeffs, params->n)) != CL_OK) {
        ckks_secret_key_free(sk);
        return st;
    }
    secret_to_ntt(sk);
    *out = sk;
    return CL_OK;
}

/* Used by deserialization: a key from given ternary coefficients. */
cl_status ckks_secret_key_from_coeffs(const ckks_params *params, const int8_t *coeffs, ckks_secret_key **out)
{
    ckks_secret_key *sk;
    cl_status st = secret_key_alloc(params, &sk);
    if (st != CL_OK)
        return st;
    memcpy(sk->coeffs, coeffs, params->n);
    secret_to_ntt(sk);
    *out = sk;
    return CL_OK;
}

/* e in NTT form over limbs [first, first+count), from one Gaussian sample. */
static void error_to_ntt(const ckks_params *p, const int8_t *e, size_t first, size_t count, uint64_t *out)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++) {
        uint64_t *d = out + i * p->n;
        ring_small_to_residues(e, p->n, p->mod[first + i].q, d);
        ring_ntt_forward(&p->ntt[first + i], d);
    }
}

void ckks_public_key_free(ckks_public_key *pk)
{
    if (!pk)
        return;
    free(pk->a);
    free(pk->b);
    free(pk);
}

cl_status ckks_public_key_create(const ckks_secret_key *sk, ckks_public_key **out)
{
    if (!sk || !out)
        return CL_ERR_INVALID;
    const ckks_params *p = sk->params;
    const size_t n = p->n, limbs = p->qp_count;
    ckks_public_key *pk = calloc(1, sizeof *pk);
    int8_t *e = malloc(n);
    if (!pk || !e) {
        free(pk);
        free(e);
        return CL_ERR_NOMEM;
    }
    pk->params = p;
    pk->a = malloc(limbs * n * sizeof(uint64_t));
    pk->b = malloc(limbs * n * sizeof(uint64_t));
    cl_status st = CL_ERR_NOMEM;
    if (!pk->a || !pk->b)
        goto fail;
    if ((st = ring_random_bytes(pk->seed, sizeof pk->seed)) != CL_OK)
        goto fail;
    if ((st = ring_sample_gaussian(e, n)) != CL_OK)
        goto fail;
    ckks_expand_poly(p, pk->seed, CKKS_DOMAIN_PK, 0, limbs, pk->a);
    error_to_ntt(p, e, 0, limbs, pk->b);
    for (size_t i = 0; i < limbs; i++) {
        const ring_modulus *m = &p->mod[i];
        const uint64_t *a = pk->a + i * n, *s = sk->ntt + i * n;
        uint64_t *b = pk->b + i * n;
        for (size_t k = 0; k < n; k++)
            b[k] = ring_submod(b[k], ring_mulmod(a[k], s[k], m), m->q);
    }
    sodium_memzero(e, n);
    free(e);
    *out = pk;
    return CL_OK;
fail:
    sodium_memzero(e, n);
    free(e);
    ckks_public_key_free(pk);
    return st;
}

void ckks_switch_key_free(ckks_switch_key *k)
{
    if (!k)
        return;
    free(k->a);
    free(k->b);
    free(k);
}

cl_status ckks_switch_key_alloc(const ckks_params *p, ckks_switch_key **out)
{
    ckks_switch_key *k = calloc(1, sizeof *k);
    if (!k)
        return CL_ERR_NOMEM;
    k->params = p;
    k->digits = (size_t)p->spec.digits;
    const size_t len = k->digits * p->qp_count * p->n;
    k->a = malloc(len * sizeof(uint64_t));
    k->b = malloc(len * sizeof(uint64_t));
    if (!k->a || !k->b) {
        ckks_switch_key_free(k);
        return CL_ERR_NOMEM;
    }
    *out = k;
    return CL_OK;
}

/* Expands every a_j of a switching key from its seed. */
void ckks_switch_key_expand(ckks_switch_key *k)
{
    const ckks_params *p = k->params;
    for (size_t j = 0; j < k->digits; j++)
        ckks_expand_poly(p, k->seed, CKKS_DOMAIN_KEY + j, 0, p->qp_count, k->a + j * p->qp_count * p->n);
}

cl_status ckks_switch_key_make(const ckks_secret_key *sk, const uint64_t *s_prime_ntt, uint64_t galois,
                               ckks_switch_key **out)
{
    const ckks_params *p = sk->params;
    const size_t n = p->n, qp = p->qp_count;
    ckks_switch_key *k;
    cl_status st = ckks_switch_key_alloc(p, &k);
    if (st != CL_OK)
        return st;
    k->galois = galois;
    int8_t *e = malloc(n);
    if (!e) {
        ckks_switch_key_free(k);
        return CL_ERR_NOMEM;
    }
    if ((st = ring_random_bytes(k->seed, sizeof k->seed)) != CL_OK)
        goto fail;
    ckks_switch_key_expand(k);
    for (size_t j = 0; j < k->digits; j++) {
        uint64_t *a = k->a + j * qp * n, *b = k->b + j * qp * n;
        if ((st = ring_sample_gaussian(e, n)) != CL_OK)
            goto fail;
        error_to_ntt(p, e, 0, qp, b);
        const size_t lo = j * p->alpha, hi = lo + p->alpha;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < qp; i++) {
            const ring_modulus *m = &p->mod[i];
            const uint64_t *ai = a + i * n, *si = sk->ntt + i * n, *spi = s_prime_ntt + i * n;
            uint64_t *bi = b + i * n;
            const bool in_digit = i >= lo && i < hi && i < p->q_count;
            const uint64_t g = in_digit ? p->p_mod_q[i] : 0;
            for (size_t t = 0; t < n; t++) {
                uint64_t v = ring_submod(bi[t], ring_mulmod(ai[t], si[t], m), m->q);
                if (in_digit)
                    v = ring_addmod(v, ring_mulmod(g, spi[t], m), m->q);
                bi[t] = v;
            }
        }
    }
    sodium_memzero(e, n);
    free(e);
    *out = k;
    return CL_OK;
fail:
    sodium_memzero(e, n);
    free(e);
    ckks_switch_key_free(k);
    return st;
}

uint64_t ckks_galois_element(const ckks_params *p, int step)
{
    const uint64_t m = 2 * (uint64_t)p->n, half = p->n / 2;
    long long s = step % (long long)half;
    if (s < 0)
        s += (long long)half;
    uint64_t g = 1, base = 5;
    for (uint64_t e = (uint64_t)s; e; e >>= 1) {
        if (e & 1)
            g = (g * base) % m;
        base = (base * base) % m;
    }
    return g;
}

uint64_t ckks_galois_conjugate(const ckks_params *p)
{
    return 2 * (uint64_t)p->n - 1;
}

void ckks_eval_keys_free(ckks_eval_keys *keys)
{
    if (!keys)
        return;
    ckks_switch_key_free(keys->relin);
    for (size_t i = 0; i < keys->galois_count; i++)
        ckks_switch_key_free(keys->galois[i]);
    free(keys->galois);
    free(keys);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

cl_status ckks_eval_keys_create(const ckks_secret_key *sk, unsigned flags, const int *steps, size_t nsteps,
                                ckks_eval_keys **out)
{
    if (!sk || !out || (nsteps && !steps))
        return CL_ERR_INVALID;
    const ckks_params *p = sk->params;
    const size_t n = p->n, qp = p->qp_count;
    uint64_t *elts = malloc((nsteps + 1) * sizeof *elts);
    uint64_t *sp = malloc(qp * n * sizeof *sp);
    uint32_t *perm = malloc(n * sizeof *perm);
    ckks_eval_keys *keys = calloc(1, sizeof *keys);
    cl_status st = CL_ERR_NOMEM;
    if (!elts || !sp || !perm || !keys)
        goto done;
    keys->params = p;
    size_t ne = 0;
    for (size_t i = 0; i < nsteps; i++) {
        uint64_t g = ckks_galois_element(p, steps[i]);
        if (g != 1)
            elts[ne++] = g;
    }
    if (flags & CKKS_KEYS_CONJUGATE)
        elts[ne++] = ckks_galois_conjugate(p);
    qsort(elts, ne, sizeof *elts, cmp_u64);
    size_t uniq = 0;
    for (size_t i = 0; i < ne; i++)
        if (uniq == 0 || elts[uniq - 1] != elts[i])
            elts[uniq++] = elts[i];
    keys->galois = calloc(uniq ? uniq : 1, sizeof *keys->galois);
    if (!keys->galois)
        goto done;
    if (flags & CKKS_KEYS_RELIN) {
        for (size_t i = 0; i < qp; i++) {
            const ring_modulus *m = &p->mod[i];
            const uint64_t *s = sk->ntt + i * n;
            for (size_t k = 0; k < n; k++)
                sp[i * n + k] = ring_mulmod(s[k], s[k], m);
        }
        if ((st = ckks_switch_key_make(sk, sp, 0, &keys->relin)) != CL_OK)
            goto done;
    }
    for (size_t e = 0; e < uniq; e++) {
        ring_automorphism_ntt_table(n, elts[e], perm);
        /* The key for X -> X^g switches from s(X^g) back to s. */
        for (size_t i = 0; i < qp; i++)
            ring_permute(sk->ntt + i * n, sp + i * n, perm, n);
        if ((st = ckks_switch_key_make(sk, sp, elts[e], &keys->galois[e])) != CL_OK)
            goto done;
        keys->galois_count = e + 1;
    }
    st = CL_OK;
done:
    if (sp)
        sodium_memzero(sp, qp * n * sizeof *sp);
    free(sp);
    free(elts);
    free(perm);
    if (st == CL_OK)
        *out = keys;
    else
        ckks_eval_keys_free(keys);
    return st;
}

const ckks_switch_key *ckks_eval_keys_find(const ckks_eval_keys *keys, uint64_t galois)
{
    if (!keys)
        return NULL;
    size_t lo = 0, hi = keys->galois_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint64_t g = keys->galois[mid]->galois;
        if (g == galois)
            return keys->galois[mid];
        if (g < galois)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool ckks_eval_keys_has_relin(const ckks_eval_keys *keys) { return keys && keys->relin; }
bool ckks_eval_keys_has_galois(const ckks_eval_keys *keys, uint64_t g) { return ckks_eval_keys_find(keys, g) != NULL; }
size_t ckks_eval_keys_galois_count(const ckks_eval_keys *keys) { return keys ? keys->galois_count : 0; }
uint64_t ckks_eval_keys_galois_at(const ckks_eval_keys *keys, size_t i)
{
    return (keys && i < keys->galois_count) ? keys->galois[i]->galois : 0;
}
