/* Helpers shared by the HE algorithms of the rl layer (HE-DQN, HE-TD3):
 * slot-vector arrays, the refresh-on-demand rule, counter deltas and the
 * parsing of "NAME=VALUE" hyperparameters. Internal. */
#ifndef CIPHERL_RL_HE_COMMON_H
#define CIPHERL_RL_HE_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "cipherl/common.h"
#include "cipherl/slots.h"
#include "nn/nn_he.h"

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
