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

#endif
