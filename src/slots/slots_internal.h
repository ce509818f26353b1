/* The slot machine's backend interface (not installed). The generic layer
 * (slots.c) checks arguments, computes result levels, counts operations and
 * records rotation steps; a backend only computes. Operands of binary
 * operations may be at different levels: the backend brings the higher one
 * down to `level` (the result's input level). */
#ifndef CIPHERL_SLOTS_INTERNAL_H
#define CIPHERL_SLOTS_INTERNAL_H

#include "cipherl/slots.h"

typedef struct slots_backend {
    const char *name;
    cl_status (*vec_init)(slots_ctx *ctx, slots_vec *v);
    void (*vec_release)(slots_vec *v);
    cl_status (*encrypt)(slots_owner *o, const double *values, size_t n, slots_vec *out);
    cl_status (*decrypt)(slots_owner *o, const slots_vec *v, double *values, size_t n);
    cl_status (*copy)(slots_ctx *ctx, const slots_vec *a, slots_vec *out);
    /* out = a + sign * b, both brought to `level` */
    cl_status (*add)(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, int sign, int level, slots_vec *out);
    cl_status (*neg)(slots_ctx *ctx, const slots_vec *a, slots_vec *out);
    cl_status (*add_plain)(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out);
    cl_status (*add_const)(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out);
    /* multiplications: inputs brought to `level`, result at level - 1 */
    cl_status (*mul)(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, int level, slots_vec *out);
    cl_status (*mul_plain)(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out);
    cl_status (*mul_const)(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out);
    cl_status (*rotate)(slots_ctx *ctx, const slots_vec *a, int k, slots_vec *out);
    /* Optional (NULL: the generic layer composes mul and add, rotate): the sum
     * of n >= 2 products, inputs brought to `level`, result at level - 1; n
     * rotations of a by nonzero steps in [1, S) */
    cl_status (*dot)(slots_ctx *ctx, const slots_vec *const *a, const slots_vec *const *b, size_t n, int level,
                     slots_vec *out);
    cl_status (*rotate_many)(slots_ctx *ctx, const slots_vec *a, const int *steps, size_t n, slots_vec *const *outs);
    /* Optional: the sum of n >= 2 plaintext products, inputs brought to `level`, result at level - 1 */
    cl_status (*dot_plain)(slots_ctx *ctx, const slots_vec *const *a, const double *const *values, size_t n,
                           int level, slots_vec *out);
    cl_status (*drop_level)(slots_ctx *ctx, const slots_vec *a, int level, slots_vec *out);
    cl_status (*refresh)(slots_ctx *ctx, slots_vec *v);
    void (*ctx_release)(slots_ctx *ctx);
    void (*owner_release)(slots_owner *o);
    /* serialized size of v on the wire (NULL: nothing travels, the clear backend) */
    uint64_t (*wire_bytes)(const slots_vec *v);
    /* v's wire form (slots_vec_serialize; v is not empty) */
    cl_status (*serialize)(const slots_vec *v, uint8_t *buf, size_t cap, size_t *len);
    /* Wide contexts (slots_wide_create): set up wide->impl for narrow's
     * backend state (wide->slots, top_level and parent already set); free
     * with ctx_release as any context. relabel writes a's values into out
     * read at out's context width (widen: repeat; narrow: block 0, checked
     * as the backend can). */
    cl_status (*wide_init)(slots_ctx *narrow, slots_ctx *wide);
    cl_status (*relabel)(const slots_vec *a, slots_vec *out);
    /* Checks the whole wire form (level within [0, top] included) before
     * touching out; on success writes out's contents and its level to *level
     * (the generic layer sets out->level). */
    cl_status (*deserialize)(slots_ctx *ctx, const uint8_t *buf, size_t len, slots_vec *out, int *level);
} slots_backend;

#define SLOTS_MAX_STEPS 4096

struct slots_ctx {
    const slots_backend *be;
    size_t slots;
    int top_level;
    slots_counters counters;
    bool step_used[SLOTS_MAX_STEPS]; /* when slots <= SLOTS_MAX_STEPS */
    int *extra_steps;                /* otherwise: a sorted list */
    size_t n_extra_steps;
    void *impl;                      /* backend state */
    slots_ctx *parent;               /* a wide context's narrow one (NULL: none) */
};

/* The context whose counters and census a context shares: its narrow one. */
static inline slots_ctx *slots_root(const slots_ctx *ctx)
{
    return ctx->parent ? ctx->parent : (slots_ctx *)ctx;
}

struct slots_vec {
    slots_ctx *ctx;
    int level; /* -1: empty */
    void *impl; /* backend storage */
};

struct slots_owner {
    slots_ctx *ctx;
    const slots_backend *be;
    void *impl;
};

#endif
