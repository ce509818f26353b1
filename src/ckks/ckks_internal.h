/* Internal layout of the ckks layer's objects, shared by its source files and
 * by white-box tests. Not installed. */
#ifndef CIPHERL_CKKS_INTERNAL_H
#define CIPHERL_CKKS_INTERNAL_H

#include <complex.h>

#include "cipherl/ckks.h"

#define CKKS_MAX_PRIMES 64

struct ckks_params {
    ckks_param_spec spec;
    size_t n;
    int logn;
    size_t q_count;  /* L + 1 */
    size_t p_count;  /* K */
    size_t qp_count; /* L + 1 + K */
    ring_modulus mod[CKKS_MAX_PRIMES]; /* q_0..q_L, then p_0..p_{K-1} */
    ring_ntt ntt[CKKS_MAX_PRIMES];
    double log2_q, log2_qp;
    bool secure;
    size_t alpha;  /* primes per digit: ceil((L+1) / digits) */
    /* rescale from level l: q_l^-1 mod q_i and q_l mod q_i, i < l: [l * q_count + i] */
    uint64_t *rescale_inv, *rescale_inv_shoup;
    /* key switching at level l, digit j: base conversion from the digit's limbs
     * (those of primes j*alpha .. min((j+1)*alpha, l+1)-1) to every other prime of
     * Q_l and to P. modup[l * digits + j]; valid when j*alpha <= l. */
    ring_baseconv *modup;
    /* ModDown at level l: conversion P -> Q_l, and P^-1 mod q_i */
    ring_baseconv *moddown;
    uint64_t p_inv[CKKS_MAX_PRIMES], p_inv_shoup[CKKS_MAX_PRIMES];
    uint64_t p_mod_q[CKKS_MAX_PRIMES]; /* P mod q_i */
    uint64_t half_p_mod_q[CKKS_MAX_PRIMES]; /* (P-1)/2 mod q_i, for rounding in ModDown */
    /* exact centered CRT over Q_l, for decoding: crt[l] */
    ring_crt *crt;
    uint8_t fingerprint[CKKS_FINGERPRINT_BYTES];
};

struct ckks_plaintext {
    const ckks_params *params;
    int level;
    double scale;
    size_t slots;
    size_t cap_limbs; /* allocated limbs */
    uint64_t *data;   /* (level+1) limbs of n, NTT form */
};

struct ckks_ciphertext {
    const ckks_params *params;
    int level;
    int size; /* 2 or 3 polynomials */
    double scale;
    size_t slots;
    size_t cap_limbs; /* allocated limbs per polynomial */
    uint64_t *poly[3];
    bool seeded; /* poly[1] is expand(seed): a fresh secret-key encryption */
    uint8_t seed[RING_SEED_BYTES];
};

struct ckks_secret_key {
    const ckks_params *params;
    int8_t *coeffs;   /* n ternary coefficients */
    uint64_t *ntt;    /* qp_count limbs: s in NTT form over Q and P */
};

/* Over Q and P, so that encryption can happen in QP and be divided by P,
 * which shrinks the fresh noise to the rounding error (as SEAL does). */
struct ckks_public_key {
    const ckks_params *params;
    uint64_t *b;      /* qp_count limbs: -a*s + e */
    uint64_t *a;      /* qp_count limbs: expand(seed) */
    uint8_t seed[RING_SEED_BYTES];
};

/* Hybrid key-switching key from s' to s: for each digit j,
 * b_j = -a_j*s + e_j + P*[j-th CRT gadget]*s' over Q and P; a_j = expand(seed, j). */
struct ckks_switch_key {
    const ckks_params *params;
    uint64_t galois; /* 0 for relinearization */
    size_t digits;
    uint64_t *b;     /* digits x qp_count limbs */
    uint64_t *a;     /* digits x qp_count limbs */
    uint8_t seed[RING_SEED_BYTES];
};

struct ckks_eval_keys {
    const ckks_params *params;
    ckks_switch_key *relin;   /* NULL if absent */
    size_t galois_count;
    ckks_switch_key **galois; /* sorted by Galois element */
};

/* Domains of the seed expansion of uniform polynomials. */
#define CKKS_DOMAIN_CT 0x100u
#define CKKS_DOMAIN_PK 0x200u
#define CKKS_DOMAIN_KEY 0x300u

/* Expand the uniform polynomial of `domain` over limbs [first, first+count). */
void ckks_expand_poly(const ckks_params *p, const uint8_t seed[RING_SEED_BYTES], uint64_t domain,
                      size_t first, size_t count, uint64_t *out);

/* Residue of round(x) mod q for |x| < 2^126 (encoder and evaluator constants). */
uint64_t ckks_residue_of_real(long double x, const ring_modulus *m);

/* Resizing; contents are unspecified afterwards. */
cl_status ckks_plaintext_reserve(ckks_plaintext *pt, int level);
cl_status ckks_ciphertext_reserve(ckks_ciphertext *ct, int level, int size);

/* Build a switching key from s' (given in NTT form over all qp limbs). */
cl_status ckks_switch_key_make(const ckks_secret_key *sk, const uint64_t *s_prime_ntt, uint64_t galois,
                               ckks_switch_key **out);
void ckks_switch_key_free(ckks_switch_key *k);
/* Allocation with unspecified contents; expansion of every a_j from k->seed. */
cl_status ckks_switch_key_alloc(const ckks_params *p, ckks_switch_key **out);
void ckks_switch_key_expand(ckks_switch_key *k);
/* A secret key from n ternary coefficients (deserialization). */
cl_status ckks_secret_key_from_coeffs(const ckks_params *params, const int8_t *coeffs, ckks_secret_key **out);
const ckks_switch_key *ckks_eval_keys_find(const ckks_eval_keys *keys, uint64_t galois);

/* ModDown: out (l+1 limbs of Q_l) = round(x / P) for x given over
 * the extended basis Q_l ∪ P (limbs 0..l, then the K special primes), all in
 * NTT form. With add != NULL, out = add∘perm + that (perm may be NULL).
 * Scratch: pcoeff holds K limbs, conv l+1 limbs. out may alias add only
 * without perm. */
void ckks_moddown(const ckks_params *p, const uint64_t *x, size_t l, uint64_t *out, const uint64_t *add,
                  const uint32_t *perm, uint64_t *pcoeff, uint64_t *conv);

static inline size_t ckks_digits_at_level(const ckks_params *p, int level)
{
    return ((size_t)level + 1 + p->alpha - 1) / p->alpha;
}

#endif
