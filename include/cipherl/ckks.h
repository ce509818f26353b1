/* cipherl ckks layer: RNS-CKKS on top of the ring layer.
 *
 * Parameters and presets (with the Homomorphic Encryption Standard's 128-bit
 * check), the encoder (canonical embedding), keys, encryption and decryption,
 * the evaluator (add, multiply, relinearize, rescale, rotate, conjugate, level
 * control, hybrid key switching, hoisted rotations) and serialization.
 *
 * Conventions
 * - Every object type is opaque and made by a *_create function that returns a
 *   cl_status and writes the new object through its last argument; *_free(NULL)
 *   is a no-op.
 * - A ciphertext or plaintext at level l has l+1 RNS limbs q_0..q_l; the top
 *   level is ckks_params_max_level(). Polynomials are kept in NTT form.
 * - Operations never print and never exit. An output object may alias an input.
 * - An evaluator holds scratch memory: use one evaluator per thread.
 * - Objects keep a pointer to the parameters they were made with: the
 *   parameters must outlive them. Objects of different parameters never mix
 *   (CL_ERR_PARAMS). */
#ifndef CIPHERL_CKKS_H
#define CIPHERL_CKKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cipherl/common.h"
#include "cipherl/ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- parameters */

/* What defines a parameter set. Ciphertext primes: one of first_bits, then
 * `levels` of scale_bits (close to 2^scale_bits, so rescaling keeps the scale
 * near 2^scale_bits). Key switching: special_count special primes of
 * special_bits, and `digits` digits (hybrid key switching). */
typedef struct ckks_param_spec {
    char name[24];
    int logn;          /* ring degree N = 2^logn */
    int first_bits;    /* bits of q_0 */
    int scale_bits;    /* bits of q_1..q_L and of the default scale */
    int levels;        /* L: number of rescales available; L+1 ciphertext primes */
    int special_bits;  /* bits of each special prime */
    int special_count; /* K: number of special primes (product P) */
    int digits;        /* key-switching digits (dnum), 1 <= digits <= L+1 */
    bool insecure;     /* a small set for tests: refused unless CKKS_ALLOW_INSECURE */
} ckks_param_spec;

/* Pass to ckks_params_create to allow sets below 128-bit security (tests only). */
#define CKKS_ALLOW_INSECURE 1u

typedef struct ckks_params ckks_params;

/* The built-in presets: n14, n15, n16 (128-bit) and small insecure test sets. */
size_t ckks_preset_count(void);
const ckks_param_spec *ckks_preset_at(size_t i);
const ckks_param_spec *ckks_preset_find(const char *name); /* NULL if unknown */

/* The HE Standard's bound on log2(QP) for ternary secrets at 128-bit security,
 * or 0 when the table has no entry for this N. */
int ckks_security_bound(int logn);

cl_status ckks_params_create(const ckks_param_spec *spec, unsigned flags, ckks_params **out);
cl_status ckks_params_from_preset(const char *name, unsigned flags, ckks_params **out);
void ckks_params_free(ckks_params *params);

const ckks_param_spec *ckks_params_spec(const ckks_params *params);
size_t ckks_params_n(const ckks_params *params);
size_t ckks_params_max_slots(const ckks_params *params);  /* N/2 */
int ckks_params_max_level(const ckks_params *params);     /* L */
double ckks_params_default_scale(const ckks_params *params); /* 2^scale_bits */
double ckks_params_log2_q(const ckks_params *params);     /* ciphertext modulus */
double ckks_params_log2_qp(const ckks_params *params);    /* with the special primes */
bool ckks_params_is_secure(const ckks_params *params);    /* within the HE Standard bound */
/* Prime i: i < L+1 are q_0..q_L, then the special primes. */
size_t ckks_params_prime_count(const ckks_params *params); /* L+1+K */
uint64_t ckks_params_prime(const ckks_params *params, size_t i);
/* 32-byte digest of everything that defines the set (serialized objects carry it). */
const uint8_t *ckks_params_fingerprint(const ckks_params *params);
#define CKKS_FINGERPRINT_BYTES 32

/* ---------------------------------------------------------- plaintexts, ciphertexts */

typedef struct ckks_plaintext ckks_plaintext;
typedef struct ckks_ciphertext ckks_ciphertext;

cl_status ckks_plaintext_create(const ckks_params *params, ckks_plaintext **out);
void ckks_plaintext_free(ckks_plaintext *pt);
int ckks_plaintext_level(const ckks_plaintext *pt);
double ckks_plaintext_scale(const ckks_plaintext *pt);
size_t ckks_plaintext_slots(const ckks_plaintext *pt);

cl_status ckks_ciphertext_create(const ckks_params *params, ckks_ciphertext **out);
void ckks_ciphertext_free(ckks_ciphertext *ct);
cl_status ckks_ciphertext_copy(ckks_ciphertext *dst, const ckks_ciphertext *src);
int ckks_ciphertext_level(const ckks_ciphertext *ct);
double ckks_ciphertext_scale(const ckks_ciphertext *ct);
size_t ckks_ciphertext_slots(const ckks_ciphertext *ct);
int ckks_ciphertext_size(const ckks_ciphertext *ct); /* 2, or 3 before relinearization */
bool ckks_ciphertext_is_seeded(const ckks_ciphertext *ct); /* fresh secret-key encryption */
/* Override the tracked scale (for callers that know better, e.g. after an
 * exact division); the ciphertext itself is unchanged. */
cl_status ckks_ciphertext_set_scale(ckks_ciphertext *ct, double scale);
/* Read the ciphertext with another slot count (a power of two <= N/2). A
 * plaintext of S slots read with kS slots is its S values repeated k times;
 * one of kS slots that repeats with period S reads as those S values (what
 * the other coefficients hold is then noise). The ciphertext is unchanged. */
cl_status ckks_ciphertext_set_slots(ckks_ciphertext *ct, size_t slots);

/* ------------------------------------------------------------------ encoder */

typedef struct ckks_encoder ckks_encoder;

cl_status ckks_encoder_create(const ckks_params *params, ckks_encoder **out);
void ckks_encoder_free(ckks_encoder *enc);

/* Encode `count` values into a plaintext of `slots` slots (a power of two,
 * count <= slots <= N/2; missing values are zero) at `level` and `scale`.
 * Real values have imaginary part zero. CL_ERR_INVALID if a scaled value does
 * not fit the modulus at that level. */
cl_status ckks_encode(ckks_encoder *enc, const double *values, size_t count, size_t slots,
                      int level, double scale, ckks_plaintext *pt);
cl_status ckks_encode_complex(ckks_encoder *enc, const double *re, const double *im, size_t count,
                              size_t slots, int level, double scale, ckks_plaintext *pt);
/* Decode the first `count` slots (count <= slots of pt); im may be NULL. */
cl_status ckks_decode(ckks_encoder *enc, const ckks_plaintext *pt, double *re, double *im, size_t count);

/* --------------------------------------------------------------------- keys */

typedef struct ckks_secret_key ckks_secret_key;
typedef struct ckks_public_key ckks_public_key;
typedef struct ckks_switch_key ckks_switch_key; /* relinearization or Galois key */
typedef struct ckks_eval_keys ckks_eval_keys;   /* a relinearization key and Galois keys */

/* A uniform ternary secret drawn from getrandom. */
cl_status ckks_secret_key_create(const ckks_params *params, ckks_secret_key **out);
void ckks_secret_key_free(ckks_secret_key *sk); /* wipes the key */
cl_status ckks_public_key_create(const ckks_secret_key *sk, ckks_public_key **out);
void ckks_public_key_free(ckks_public_key *pk);

/* Galois element of a left rotation of the slots by `step` (negative: right),
 * for a ciphertext of N/2 slots; of the complex conjugation. */
uint64_t ckks_galois_element(const ckks_params *params, int step);
uint64_t ckks_galois_conjugate(const ckks_params *params);

#define CKKS_KEYS_RELIN 1u     /* include a relinearization key */
#define CKKS_KEYS_CONJUGATE 2u /* include the conjugation key */
/* Evaluation keys: relinearization (flag), Galois keys for each rotation step
 * in steps[0..nsteps) (duplicates and 0 are ignored) and conjugation (flag). */
cl_status ckks_eval_keys_create(const ckks_secret_key *sk, unsigned flags, const int *steps,
                                size_t nsteps, ckks_eval_keys **out);
void ckks_eval_keys_free(ckks_eval_keys *keys);
bool ckks_eval_keys_has_relin(const ckks_eval_keys *keys);
bool ckks_eval_keys_has_galois(const ckks_eval_keys *keys, uint64_t galois_element);
size_t ckks_eval_keys_galois_count(const ckks_eval_keys *keys);
uint64_t ckks_eval_keys_galois_at(const ckks_eval_keys *keys, size_t i);

/* --------------------------------------------------------- encrypt, decrypt */

/* Public-key encryption at the plaintext's level and scale. */
cl_status ckks_encrypt_pk(const ckks_public_key *pk, const ckks_plaintext *pt, ckks_ciphertext *ct);
/* Secret-key encryption; the uniform part is expanded from a fresh seed, which
 * serialization stores in place of the polynomial (half the size). */
cl_status ckks_encrypt_sk(const ckks_secret_key *sk, const ckks_plaintext *pt, ckks_ciphertext *ct);
cl_status ckks_decrypt(const ckks_secret_key *sk, const ckks_ciphertext *ct, ckks_plaintext *pt);

/* ---------------------------------------------------------------- evaluator */

typedef struct ckks_evaluator ckks_evaluator;

/* keys may be NULL (no relinearization or rotations); it must outlive the evaluator. */
cl_status ckks_evaluator_create(const ckks_params *params, const ckks_eval_keys *keys,
                                ckks_evaluator **out);
void ckks_evaluator_free(ckks_evaluator *ev);

/* Binary operations need equal levels (CL_ERR_LEVEL) and equal scales up to a
 * relative 1e-9 (CL_ERR_SCALE); align first with ckks_drop_level. */
cl_status ckks_add(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b, ckks_ciphertext *out);
cl_status ckks_sub(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b, ckks_ciphertext *out);
cl_status ckks_negate(ckks_evaluator *ev, const ckks_ciphertext *a, ckks_ciphertext *out);
cl_status ckks_add_plain(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_plaintext *p, ckks_ciphertext *out);
cl_status ckks_sub_plain(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_plaintext *p, ckks_ciphertext *out);
/* Adds the constant c to every slot (at the ciphertext's scale). */
cl_status ckks_add_const(ckks_evaluator *ev, const ckks_ciphertext *a, double c, ckks_ciphertext *out);
/* Multiplies by round(c * const_scale); the scale is multiplied by const_scale.
 * const_scale = 0 means q_level, so that a following rescale restores the scale exactly. */
cl_status ckks_mul_const(ckks_evaluator *ev, const ckks_ciphertext *a, double c, double const_scale,
                         ckks_ciphertext *out);
/* Multiplies by the plaintext (its level must be >= the ciphertext's). */
cl_status ckks_mul_plain(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_plaintext *p, ckks_ciphertext *out);
/* Tensor product: a size-3 ciphertext, scale a*b, no rescale. */
cl_status ckks_mul(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b, ckks_ciphertext *out);
cl_status ckks_relinearize(ckks_evaluator *ev, const ckks_ciphertext *a, ckks_ciphertext *out);
/* Multiply then relinearize (no rescale). */
cl_status ckks_mul_relin(ckks_evaluator *ev, const ckks_ciphertext *a, const ckks_ciphertext *b, ckks_ciphertext *out);
/* Divide by the last prime q_level: one level down, scale / q_level. */
cl_status ckks_rescale(ckks_evaluator *ev, const ckks_ciphertext *a, ckks_ciphertext *out);
/* Drop limbs down to `level` (scale unchanged). */
cl_status ckks_drop_level(ckks_evaluator *ev, const ckks_ciphertext *a, int level, ckks_ciphertext *out);
/* Left rotation of the slots by `step` (needs the Galois key of that step). */
cl_status ckks_rotate(ckks_evaluator *ev, const ckks_ciphertext *a, int step, ckks_ciphertext *out);
cl_status ckks_conjugate(ckks_evaluator *ev, const ckks_ciphertext *a, ckks_ciphertext *out);
/* Several rotations of one ciphertext sharing one key-switching decomposition;
 * outs[i] equals ckks_rotate(a, steps[i]) exactly. */
cl_status ckks_rotate_hoisted(ckks_evaluator *ev, const ckks_ciphertext *a, const int *steps, size_t count,
                              ckks_ciphertext *const *outs);
/* Number of OpenMP threads the evaluator's parallel loops use (0: OpenMP's default). */
void ckks_set_threads(int threads);

/* ------------------------------------------------------------ serialization
 *
 * Versioned binary formats. Each object starts with a 4-byte magic naming its
 * kind, a format version, the parameter fingerprint (except the parameters
 * themselves), and ends with a 32-byte BLAKE2b checksum of everything before
 * it. The secret key has its own magic and is never accepted where another
 * object is expected. Seeded parts are stored as their 32-byte seed.
 * ckks_*_serialize: with buf == NULL, writes the size needed to *len; else
 * writes at most cap bytes (CL_ERR_INVALID if too small) and the size to *len.
 * ckks_*_deserialize: never reads past len, never returns a partly filled
 * object; on error *out is unchanged. */
cl_status ckks_params_serialize(const ckks_params *params, uint8_t *buf, size_t cap, size_t *len);
cl_status ckks_params_deserialize(const uint8_t *buf, size_t len, unsigned flags, ckks_params **out);
cl_status ckks_ciphertext_serialize(const ckks_ciphertext *ct, uint8_t *buf, size_t cap, size_t *len);
cl_status ckks_ciphertext_deserialize(const ckks_params *params, const uint8_t *buf, size_t len, ckks_ciphertext **out);
cl_status ckks_plaintext_serialize(const ckks_plaintext *pt, uint8_t *buf, size_t cap, size_t *len);
cl_status ckks_plaintext_deserialize(const ckks_params *params, const uint8_t *buf, size_t len, ckks_plaintext **out);
cl_status ckks_public_key_serialize(const ckks_public_key *pk, uint8_t *buf, size_t cap, size_t *len);
cl_status ckks_public_key_deserialize(const ckks_params *params, const uint8_t *buf, size_t len, ckks_public_key **out);
cl_status ckks_eval_keys_serialize(const ckks_eval_keys *keys, uint8_t *buf, size_t cap, size_t *len);
cl_status ckks_eval_keys_deserialize(const ckks_params *params, const uint8_t *buf, size_t len, ckks_eval_keys **out);
cl_status ckks_secret_key_serialize(const ckks_secret_key *sk, uint8_t *buf, size_t cap, size_t *len);
cl_status ckks_secret_key_deserialize(const ckks_params *params, const uint8_t *buf, size_t len, ckks_secret_key **out);

#ifdef __cplusplus
}
#endif
#endif
