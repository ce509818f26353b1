/* Helpers shared by HE-DQN and HE-TD3 (he_common.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl/he_common.h"

bool rl_he_pow2(size_t v)
{
    return v && !(v & (v - 1));
}

cl_status rl_he_vecs_create(slots_ctx *ctx, slots_vec ***out, size_t n)
{
    slots_vec **v = calloc(n, sizeof *v);
    if (!v)
        return CL_ERR_NOMEM;
    *out = v;
    for (size_t i = 0; i < n; i++) {
        cl_status st = slots_vec_create(ctx, &v[i]);
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

void rl_he_vecs_free(slots_vec **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        slots_vec_free(v[i]);
    free(v);
}

cl_status rl_he_ensure_level(slots_ctx *ctx, slots_vec *v, int need)
{
    if (need > slots_top_level(ctx))
        return CL_ERR_LEVEL;
    if (slots_level(v) >= need)
        return CL_OK;
    return slots_refresh(ctx, v);
}

void rl_he_counters_acc(slots_counters *acc, const slots_counters *a, const slots_counters *b)
{
    acc->mul += b->mul - a->mul;
    acc->mul_plain += b->mul_plain - a->mul_plain;
    acc->mul_const += b->mul_const - a->mul_const;
    acc->add += b->add - a->add;
    acc->rotate += b->rotate - a->rotate;
    acc->refresh += b->refresh - a->refresh;
    acc->encrypt += b->encrypt - a->encrypt;
    acc->decrypt += b->decrypt - a->decrypt;
    acc->bytes_to_platform += b->bytes_to_platform - a->bytes_to_platform;
    acc->bytes_to_owner += b->bytes_to_owner - a->bytes_to_owner;
    acc->min_level = b->min_level;
}

cl_status rl_he_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return CL_ERR_INVALID;
}

int rl_he_parse_real(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return 0;
    char *end;
    errno = 0;
    const double d = strtod(s, &end);
    if (errno || *end || !isfinite(d))
        return 0;
    *out = d;
    return 1;
}

int rl_he_parse_arch(const char *s, double *out)
{
    char tmp[64];
    const size_t n = strlen(s);
    if (n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, s, n + 1);
    char *p = tmp;
    if (*p == '[') {
        if (tmp[n - 1] != ']')
            return 0;
        tmp[n - 1] = 0;
        p++;
    }
    char *comma = strchr(p, ',');
    double a, b;
    if (comma) {
        *comma = 0;
        if (!rl_he_parse_real(p, &a) || !rl_he_parse_real(comma + 1, &b) || a != b)
            return 0;
    } else if (!rl_he_parse_real(p, &a)) {
        return 0;
    }
    *out = a;
    return 1;
}
