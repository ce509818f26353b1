/* Helpers shared by the HE algorithms of the rl layer (HE-DQN, HE-TD3):
 * slot-vector arrays, the refresh-on-demand rule, counter deltas and the
 * parsing of "NAME=VALUE" hyperparameters. Internal. */
#ifndef CIPHERL_RL_HE_COMMON_H
#define CIPHERL_RL_HE_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "cipherl/common.h"
#include "cipherl/slots.h"

bool rl_he_pow2(size_t v);
/* n empty vectors of ctx in *out (freed by rl_he_vecs_free even on failure). */
cl_status rl_he_vecs_create(slots_ctx *ctx, slots_vec ***out, size_t n);
void rl_he_vecs_free(slots_vec **v, size_t n);
/* Refresh v (the owner re-encrypts it at the top level) when it has fewer
 * than `need` levels; CL_ERR_LEVEL if the budget itself is smaller. */
cl_status rl_he_ensure_level(slots_ctx *ctx, slots_vec *v, int need);
/* acc += b - a, field by field (min_level: b's). */
void rl_he_counters_acc(slots_counters *acc, const slots_counters *a, const slots_counters *b);
/* Formats a message into err and returns CL_ERR_INVALID. */
cl_status rl_he_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A finite number with nothing around it; 1 on success. */
int rl_he_parse_real(const char *s, double *out);
/* A hidden width "H", "[H]" or "[H,H]" (both hidden layers one width); 1 on success. */
int rl_he_parse_arch(const char *s, double *out);

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
