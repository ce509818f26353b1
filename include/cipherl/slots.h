/* cipherl slots layer: the slot-vector machine.
 *
 * One interface for vectors of S real slots (S a power of two), with the
 * operations, level budget and rotation keys of CKKS. Learning code is
 * written once against it and runs on either backend:
 *   - clear: doubles, with the same packing, rotations, polynomial
 *     approximations and level budget as ciphertexts. It can add Gaussian
 *     noise of CKKS magnitude to every result, and it counts what each step
 *     costs (multiplications, rotations, levels, refreshes).
 *   - ckks: ciphertexts of the CKKS engine, with level alignment and scales
 *     managed by the backend (see src/slots/ckks_backend.c).
 *
 * Level bookkeeping mirrors CKKS. A fresh vector is at the top level L. A
 * multiplication of any kind (by a vector, by plaintext values, by a
 * constant) consumes one level, and a vector at level 0 cannot be multiplied
 * (CL_ERR_LEVEL). Binary operations on vectors at different levels first
 * bring the higher one down. A refresh (in interactive mode, the owner
 * decrypts and re-encrypts at the top level; it never hands a decrypted value
 * to the platform) puts a vector back at level L.
 *
 * Roles: a slots_ctx is the platform's side, with no way to decrypt. A
 * slots_owner is the owner's side: it encrypts, decrypts and refreshes.
 * Outputs may alias inputs. */
#ifndef CIPHERL_SLOTS_H
#define CIPHERL_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cipherl/common.h"
#include "cipherl/ckks.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct slots_ctx slots_ctx;
typedef struct slots_vec slots_vec;
typedef struct slots_owner slots_owner;

/* What the operations cost, counted by the backend (both backends count the same). */
typedef struct slots_counters {
    uint64_t mul;        /* vector x vector multiplications (ciphertext x ciphertext) */
    uint64_t mul_plain;  /* multiplications by plaintext values */
    uint64_t mul_const;  /* multiplications by one constant */
    uint64_t add;        /* additions, subtractions, negations (any operand kind) */
    uint64_t rotate;     /* rotations */
    uint64_t refresh;    /* refreshes by the owner */
    uint64_t encrypt;    /* vectors encrypted by the owner */
    uint64_t decrypt;    /* vectors decrypted by the owner */
    uint64_t bytes_to_platform; /* serialized ciphertext bytes the owner sends (encryptions, refreshed vectors) */
    uint64_t bytes_to_owner;    /* serialized ciphertext bytes the platform sends (decryptions, vectors to refresh) */
    int min_level;       /* lowest level any result reached (L - depth used) */
} slots_counters;

typedef struct slots_clear_config {
    size_t slots;    /* S: a power of two, >= 1 */
    int levels;      /* L: multiplicative depth between refreshes, >= 1 */
    double noise;    /* standard deviation of Gaussian noise added to each result (0: exact) */
    uint64_t seed;   /* seed of that noise */
} slots_clear_config;

/* The clear backend and its owner (owner_out may be NULL). */
cl_status slots_clear_create(const slots_clear_config *cfg, slots_ctx **ctx_out, slots_owner **owner_out);
void slots_ctx_free(slots_ctx *ctx);
void slots_owner_free(slots_owner *owner);

/* The CKKS backend (the platform's side): evaluation keys only. `keys` must
 * hold a relinearization key and the Galois keys of every rotation step the
 * algorithm uses (slots_rotation_steps of its clear run); keys without a
 * relinearization key are refused (CL_ERR_NOKEY). keys == NULL makes a context
 * with no evaluation keys, enough for an owner process that only encrypts,
 * decrypts and (de)serializes: its multiplications by vectors and rotations
 * return CL_ERR_NOKEY. params and keys must outlive the context. slots <= N/2. */
cl_status slots_ckks_create(const ckks_params *params, const ckks_eval_keys *keys, size_t slots, slots_ctx **out);
/* The CKKS parameters of a ckks-backend context (NULL on the clear backend). */
const ckks_params *slots_ckks_params(const slots_ctx *ctx);
/* How the platform reaches the owner to refresh a ciphertext (interactive mode):
 * fn re-encrypts ct at the top level in place. */
typedef cl_status (*slots_refresh_fn)(void *user, ckks_ciphertext *ct);
void slots_ckks_set_refresher(slots_ctx *ctx, slots_refresh_fn fn, void *user);
/* The owner's side of a CKKS context: encrypts, decrypts, refreshes. It
 * encrypts with the secret key (fresh encryptions and refreshes are seeded:
 * half the bytes of a public-key encryption). sk must outlive the owner. */
cl_status slots_ckks_owner_create(slots_ctx *ctx, const ckks_secret_key *sk, slots_owner **out);
/* A slots_refresh_fn for an owner in the same process (user = the slots_owner). */
cl_status slots_ckks_owner_refresh(void *owner, ckks_ciphertext *ct);

size_t slots_count(const slots_ctx *ctx);
int slots_top_level(const slots_ctx *ctx);

const slots_counters *slots_get_counters(const slots_ctx *ctx);
void slots_reset_counters(slots_ctx *ctx);
/* The distinct rotation steps used so far, normalized to (0, S), ascending:
 * the Galois keys an encrypted run needs. Writes at most cap; returns the count. */
size_t slots_rotation_steps(const slots_ctx *ctx, int *steps, size_t cap);

/* Vectors. A new vector is empty (level -1) until written. */
cl_status slots_vec_create(slots_ctx *ctx, slots_vec **out);
void slots_vec_free(slots_vec *v);
int slots_level(const slots_vec *v);
/* The context v belongs to (a wide one for a wide vector). */
slots_ctx *slots_vec_context(const slots_vec *v);

/* ---- owner side ---- */
/* Encrypt n <= S values (the rest zero) at the top level. */
cl_status slots_encrypt(slots_owner *owner, const double *values, size_t n, slots_vec *out);
/* Decrypt the first n <= S slots. */
cl_status slots_decrypt(slots_owner *owner, const slots_vec *v, double *values, size_t n);

/* ---- platform side ---- */
cl_status slots_copy(slots_ctx *ctx, const slots_vec *a, slots_vec *out);
cl_status slots_add(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, slots_vec *out);
cl_status slots_sub(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, slots_vec *out);
cl_status slots_neg(slots_ctx *ctx, const slots_vec *a, slots_vec *out);
/* values: S public plaintext values (encoded by the backend at a's level). */
cl_status slots_add_plain(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out);
cl_status slots_add_const(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out);
/* Multiplications: one level each. */
cl_status slots_mul(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, slots_vec *out);
cl_status slots_mul_plain(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out);
cl_status slots_mul_const(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out);
/* out = a[0] * b[0] + ... + a[n-1] * b[n-1] (n >= 1): the value, level and
 * counts of n slots_mul and n - 1 slots_add in that order (one level, from
 * the lowest operand's). On the ckks backend the products are summed before
 * one relinearization and one rescale, instead of n of each: the inner
 * product of a packed dense layer costs about one product. out may alias
 * neither a[i] nor b[i] when n > 1. */
cl_status slots_dot(slots_ctx *ctx, const slots_vec *const *a, const slots_vec *const *b, size_t n, slots_vec *out);
/* out = a[0] (.) values[0] + ... + a[n-1] (.) values[n-1] (n >= 1, each
 * values[i] S public plaintext values): the value, level and counts of n
 * slots_mul_plain and n - 1 slots_add in that order (one level, from the
 * lowest operand's). On the ckks backend the products are summed before one
 * rescale. out may alias no a[i] when n > 1. */
cl_status slots_dot_plain(slots_ctx *ctx, const slots_vec *const *a, const double *const *values, size_t n,
                          slots_vec *out);
/* Left rotation by k (negative: right): out[i] = a[(i + k) mod S]. */
cl_status slots_rotate(slots_ctx *ctx, const slots_vec *a, int k, slots_vec *out);
/* outs[i] = slots_rotate(a, steps[i]) for i < n, counted as those; on the
 * ckks backend the rotations share one key-switching decomposition
 * (hoisting), with results identical to single rotations. No outs[i] may
 * alias a. */
cl_status slots_rotate_many(slots_ctx *ctx, const slots_vec *a, const int *steps, size_t n, slots_vec *const *outs);
/* out[i] = sum_{j < span} a[(i + j*stride) mod S], by log2(span) rotations and
 * additions (span a power of two). With stride 1 and span S, every slot holds
 * the total. */
cl_status slots_sum(slots_ctx *ctx, const slots_vec *a, size_t stride, size_t span, slots_vec *out);
/* Bring a down to `level` (no cost in levels beyond that). */
cl_status slots_drop_level(slots_ctx *ctx, const slots_vec *a, int level, slots_vec *out);
/* Ask the owner to re-encrypt v at the top level. */
cl_status slots_refresh(slots_ctx *ctx, slots_vec *v);

/* A vector's wire form, so that owner and platform in different processes can
 * exchange vectors. On the ckks backend: its ciphertext in the ckks
 * serialization format (ckks_ciphertext_serialize: versioned, parameter
 * fingerprint, checksum; the slot count and scale travel inside). On the clear
 * backend a small versioned record: magic "CLSV", u16 version, u16 flags,
 * u64 total length, u32 slot count S, u16 top level L, u16 level, S doubles
 * (IEEE-754 bits), BLAKE2b-256 of everything before it; little-endian.
 * With buf == NULL: the size needed in *len. Else writes at most cap bytes
 * (CL_ERR_INVALID, with the size needed in *len, if cap is too small).
 * CL_ERR_STATE for an empty vector. Nothing is counted (the counters'
 * bytes_to_* already model the traffic of encryptions, decryptions, refreshes). */
cl_status slots_vec_serialize(const slots_vec *v, uint8_t *buf, size_t cap, size_t *len);
/* Reads a wire form made by a context of the same backend and parameters into
 * out (a vector of ctx), at the level it was written at. Refused, with out
 * left unchanged: input of another backend or malformed (CL_ERR_FORMAT),
 * cut short (CL_ERR_TRUNCATED), corrupted (CL_ERR_CHECKSUM), of another format
 * version (CL_ERR_VERSION), made for other parameters (CL_ERR_PARAMS: on ckks
 * another parameter fingerprint; on either backend another slot count S; on
 * clear another top level L). A level outside [0, L], and on ckks a ciphertext
 * that is not relinearized or whose scale is not the one this context keeps at
 * its level, are CL_ERR_FORMAT. */
cl_status slots_vec_deserialize(slots_ctx *ctx, const uint8_t *buf, size_t len, slots_vec *out);

/* Wide vectors: k S slots, where a vector of S slots reads as itself
 * repeated k times, so that k narrow vectors can share one ciphertext's
 * operations (HE-Adam on k parameter vectors at once: see rl/he_common.c).
 * slots_wide_create makes a context of k S slots (k >= 2 a power of two; on
 * ckks k S <= N/2) on narrow's backend, parameters, keys, level budget, noise
 * and refresher; it counts into narrow's counters, and its rotation steps
 * join narrow's census (slots_rotation_steps of narrow lists them, those of
 * S and above included: a step's Galois key does not depend on the slot
 * count). narrow must outlive it; a wide context of a wide one is refused. */
cl_status slots_wide_create(slots_ctx *narrow, size_t k, slots_ctx **out);
/* out (of wide) = a (of wide's narrow context) read with k S slots: its S
 * values repeated k times, at a's level. Exact and free (nothing counted). */
cl_status slots_widen(slots_ctx *wide, const slots_vec *a, slots_vec *out);
/* out (of narrow) = the first S slots of a (of a wide context of narrow), at
 * a's level, free. a must repeat with period S: the clear backend without
 * noise refuses one that does not (CL_ERR_INVALID); on ckks the other
 * blocks are not looked at, so a non-periodic a gives block 0 plus noise. */
cl_status slots_narrow(slots_ctx *narrow, const slots_vec *a, slots_vec *out);

/* Clear backend only, for ablations no ciphertext could run (exact Adam's
 * 1/sqrt): out[i] = fn(a[i], user), at a's level, uncounted.
 * CL_ERR_UNSUPPORTED on any other backend. */
cl_status slots_clear_map(slots_ctx *ctx, const slots_vec *a, double (*fn)(double x, void *user), void *user,
                          slots_vec *out);

#ifdef __cplusplus
}
#endif
#endif
