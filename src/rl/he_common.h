/* Helpers shared by the HE algorithms of the rl layer (HE-DQN, HE-TD3):
 * slot-vector arrays, the refresh-on-demand rule, counter deltas, the
 * optimizers, the chunked replay of encrypted transitions and the parsing of
 * "NAME=VALUE" hyperparameters. Internal. */
#ifndef CIPHERL_RL_HE_COMMON_H
#define CIPHERL_RL_HE_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "cipherl/common.h"
#include "cipherl/rl.h"
#include "cipherl/slots.h"
#include "nn/nn_he.h"

bool rl_he_pow2(size_t v);
/* n empty vectors of ctx in *out (freed by rl_he_vecs_free even on failure). */
cl_status rl_he_vecs_create(slots_ctx *ctx, slots_vec ***out, size_t n);
void rl_he_vecs_free(slots_vec **v, size_t n);
/* Refresh v (the owner re-encrypts it at the top level) when it has fewer
 * than `need` levels; CL_ERR_LEVEL if the budget itself is smaller. */
cl_status rl_he_ensure_level(slots_ctx *ctx, slots_vec *v, int need);
/* The owner's observation scaling, public constants: with normalize set,
 * scale[j] = 1 / max(|obs_low[j]|, |obs_high[j]|) where that bound is finite
 * and positive, else 1 (for all j when normalize is 0). An exported network
 * folds it into its first layer, so it takes raw observations. */
void rl_he_obs_scale(const rl_env_spec *spec, int normalize, double scale[RL_MAX_OBS]);
/* acc += b - a, field by field (min_level: b's). */
void rl_he_counters_acc(slots_counters *acc, const slots_counters *a, const slots_counters *b);
/* Formats a message into err and returns CL_ERR_INVALID. */
cl_status rl_he_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A finite number with nothing around it; 1 on success. */
int rl_he_parse_real(const char *s, double *out);
/* A hidden width "H", "[H]" or "[H,H]" (both hidden layers one width); 1 on success. */
int rl_he_parse_arch(const char *s, double *out);

/* The optimizer of an HE algorithm's training step (hyperparameter
 * "optimizer", value names rl_he_optimizer_names). */
typedef enum rl_he_optimizer {
    RL_HE_OPT_HE_ADAM = 0, /* "he_adam": the HE-compatible Adam (docs/he-adam.md), the default */
    RL_HE_OPT_SGD = 1,     /* "sgd": theta -= learning_rate * g (one level) */
    RL_HE_OPT_ADAM = 2     /* "adam": exact Adam with 1/sqrt evaluated exactly: an ablation that only
                              the clear backend can run (CL_ERR_UNSUPPORTED on ciphertexts) */
} rl_he_optimizer;
extern const char *const rl_he_optimizer_names[3];
/* Whether the optimizer keeps a state (m and r / v) per parameter vector. */
bool rl_he_optimizer_has_state(rl_he_optimizer opt);
/* CL_ERR_UNSUPPORTED if ctx cannot run opt (exact Adam off the clear backend). */
cl_status rl_he_optimizer_supported(slots_ctx *ctx, rl_he_optimizer opt);
/* The owner's initial state of m and r: HE-Adam's (nn_he_adam_init_slots),
 * zeros for exact Adam; buf: S doubles of scratch. Nothing for SGD. */
cl_status rl_he_optimizer_init(slots_ctx *ctx, slots_owner *owner, rl_he_optimizer opt, const nn_he_adam_config *cfg,
                               slots_vec *m, slots_vec *r, double *buf, size_t S);
/* One step of opt on theta with gradient g at the 1-based step t, cfg->alpha
 * the learning rate (HE-Adam's settings; exact Adam uses beta1, beta2 and
 * PyTorch's eps 1e-8). Refreshes its inputs first where they have too few
 * levels. t0, t1: scratch vectors. m and r are unused by SGD. */
cl_status rl_he_optimizer_step(slots_ctx *ctx, rl_he_optimizer opt, const nn_he_adam_config *cfg, long t,
                               slots_vec *theta, slots_vec *m, slots_vec *r, slots_vec *g, slots_vec *t0,
                               slots_vec *t1);

/* HE-Adam on n narrow parameter vectors packed k to a wide vector
 * (hyperparameter adam_pack; docs/he-adam.md, "Packing"). Group w holds
 * vectors w k + b in block b (b < k) of k S slots: G = sum_b mask_b (.)
 * widen(g_{wk+b}) (one plaintext product: one level), HE-Adam's m and r are
 * kept packed, its step delta = alpha_t m r is computed once per group, and
 * each vector's share comes back S-periodic by the k - 1 rotations of delta by
 * multiples of S (hoisted) and k block masks: delta_i = narrow(sum_j mask_j (.)
 * rot(delta, ((b - j) mod k) S)) (one level). Masks by 0 and 1, additions of
 * zeros and rotations are exact in doubles, so on the clear backend without
 * noise theta, m and r follow the unpacked optimizer bit for bit; only the
 * levels, and so the refreshes, differ. */
typedef struct rl_he_pack {
    slots_ctx *narrow, *wide;
    size_t k, S, n, groups;
    double *masks;        /* k block masks of k S slots */
    slots_vec **m, **r;   /* the packed state: groups wide vectors each */
    slots_vec *acc, *delta, *one;
    slots_vec **rot;      /* k - 1: delta rotated by S, 2S, ... */
    slots_vec **wv;       /* k: a group's inputs, widened */
} rl_he_pack;
/* A packing of n vectors of narrow, k >= 2 a power of two; CL_ERR_INVALID
 * when k S exceeds what narrow's backend holds (on ckks N/2). */
cl_status rl_he_pack_create(slots_ctx *narrow, size_t k, size_t n, rl_he_pack **out);
void rl_he_pack_free(rl_he_pack *p);
/* The packed state from n narrow m and r (the owner's initial state). */
cl_status rl_he_pack_state(rl_he_pack *p, slots_vec *const *m, slots_vec *const *r);
/* One HE-Adam step on theta[0..n) with gradients g[0..n), refreshing what has
 * too few levels. */
cl_status rl_he_pack_step(rl_he_pack *p, const nn_he_adam_config *cfg, long t, slots_vec *const *theta,
                          slots_vec *const *g);

/* The platform's replay of encrypted transitions, chunked (docs/he-dqn.md,
 * "Replay"). With batch B and blocks of blk slots, transition i (ring
 * position) lives in block i mod B of chunk i / B: one slot vector per kind
 * (state, next state, action, reward, 1 - done) per chunk, B transitions in
 * each, so the buffer holds B times fewer ciphertexts than one per
 * transition. The owner encrypts a transition in its block (the rest zero);
 * rl_he_replay_put adds it into its chunk, and the first block of a chunk
 * starts the chunk afresh, wiping what the ring overwrote. A mini-batch takes
 * one transition per block; rl_he_replay_batch masks each distinct chunk
 * drawn to the blocks that drew it (one plaintext product: one level) and sums
 * them, with no rotation. */
enum { RL_HE_REPLAY_KINDS = 5 };
typedef enum rl_he_replay_kind {
    RL_HE_REPLAY_S = 0, RL_HE_REPLAY_NEXT, RL_HE_REPLAY_ACT, RL_HE_REPLAY_REW, RL_HE_REPLAY_DONE
} rl_he_replay_kind;
typedef struct rl_he_replay {
    size_t B, blk, S;     /* batch (blocks), slots per block, slots */
    size_t chunks, cap;   /* cap = chunks * B transitions */
    size_t stored, pos;   /* transitions held; the next ring position */
    int level;            /* chunks are kept at min(level, the vector's) */
    slots_vec **set[RL_HE_REPLAY_KINDS]; /* chunks vectors each */
    size_t *pick;         /* the chunk each block drew for the current batch */
    double *mask;         /* S doubles of scratch */
    slots_vec *tmp;
} rl_he_replay;
/* Chunks for buffer_size transitions in batches of B: at least 2, so a
 * wrapped ring keeps one whole chunk to sample from. */
size_t rl_he_replay_chunks(size_t B, int64_t buffer_size);
/* An empty replay; rl_he_replay_free releases it, also after a failure. */
cl_status rl_he_replay_init(rl_he_replay *rb, slots_ctx *ctx, size_t B, size_t blk, int64_t buffer_size, int level);
void rl_he_replay_free(rl_he_replay *rb);
/* Puts the owner's transition vectors v[kind] (each filled in block pos mod B
 * only) into the chunks at ring position pos, then advances pos. Drops the
 * v's to the replay's level in place. */
cl_status rl_he_replay_put(rl_he_replay *rb, slots_ctx *ctx, slots_vec *const v[RL_HE_REPLAY_KINDS]);
/* Stratified draw: block b gets a uniform stored transition with index
 * congruent to b (mod B), among the chunks that hold one there (every chunk
 * but the one being written, and that one for the blocks already written
 * anew). Needs stored >= B. */
void rl_he_replay_sample(const rl_he_replay *rb, rl_rng *rng, size_t *idx);
/* Whether idx[0..B) is a batch rl_he_replay_sample could draw; if so, sets
 * the chunks rl_he_replay_batch reads. */
bool rl_he_replay_select(rl_he_replay *rb, const size_t *idx);
/* out = the selected mini-batch of one kind, times scale (carried by the mask). */
cl_status rl_he_replay_batch(rl_he_replay *rb, slots_ctx *ctx, rl_he_replay_kind kind, double scale, slots_vec *out);

/* Hyperparameters by name: a table of fields of a struct. */
typedef enum rl_he_kind {
    RL_HE_INT64, /* int64_t */
    RL_HE_INT32, /* int */
    RL_HE_REAL,  /* double */
    RL_HE_ARCH,  /* int: one hidden width, written "H", "[H]" or "[H,H]" */
    RL_HE_ENUM   /* an enum (int-sized) whose values are the indices of names[] */
} rl_he_kind;
typedef struct rl_he_field {
    const char *name;
    rl_he_kind kind;
    size_t off;         /* offsetof in the hyperparameter struct */
    double lo, hi;      /* inclusive range (numbers) */
    int lo_open;        /* lo excluded */
    const char *const *names; /* RL_HE_ENUM: the value names */
    int n_names;
} rl_he_field;
/* Sets one field of hp from "NAME=VALUE"; an unknown name or a bad value:
 * CL_ERR_INVALID and a message naming `algo` and the known names. */
cl_status rl_he_hp_assign(void *hp, const rl_he_field *fields, size_t n, const char *algo, const char *assignment,
                          char *err, size_t errlen);
/* "name=value ..." of every field. */
void rl_he_hp_format(const void *hp, const rl_he_field *fields, size_t n, char *buf, size_t cap);

#endif
