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

void rl_he_obs_scale(const rl_env_spec *spec, int normalize, double scale[RL_MAX_OBS])
{
    for (int j = 0; j < RL_MAX_OBS; j++) {
        const double bound = j < spec->obs_dim ? fmax(fabs(spec->obs_low[j]), fabs(spec->obs_high[j])) : NAN;
        scale[j] = normalize && isfinite(bound) && bound > 0 ? 1.0 / bound : 1.0;
    }
}

/* ------------------------------------------------------------- chunked replay */

size_t rl_he_replay_chunks(size_t B, int64_t buffer_size)
{
    const size_t c = ((size_t)buffer_size + B - 1) / B;
    return c < 2 ? 2 : c;
}

cl_status rl_he_replay_init(rl_he_replay *rb, slots_ctx *ctx, size_t B, size_t blk, int64_t buffer_size, int level)
{
    memset(rb, 0, sizeof *rb);
    if (!ctx || B == 0 || blk == 0 || buffer_size < 1 || level < 1 || B * blk > slots_count(ctx))
        return CL_ERR_INVALID;
    rb->B = B;
    rb->blk = blk;
    rb->S = slots_count(ctx);
    rb->chunks = rl_he_replay_chunks(B, buffer_size);
    rb->cap = rb->chunks * B;
    rb->level = level;
    rb->pick = malloc(B * sizeof *rb->pick);
    rb->mask = calloc(rb->S, sizeof *rb->mask);
    if (!rb->pick || !rb->mask)
        return CL_ERR_NOMEM;
    cl_status st = slots_vec_create(ctx, &rb->tmp);
    for (int k = 0; k < RL_HE_REPLAY_KINDS && st == CL_OK; k++)
        st = rl_he_vecs_create(ctx, &rb->set[k], rb->chunks);
    return st;
}

void rl_he_replay_free(rl_he_replay *rb)
{
    if (!rb)
        return;
    for (int k = 0; k < RL_HE_REPLAY_KINDS; k++)
        rl_he_vecs_free(rb->set[k], rb->chunks);
    slots_vec_free(rb->tmp);
    free(rb->pick);
    free(rb->mask);
    memset(rb, 0, sizeof *rb);
}

cl_status rl_he_replay_put(rl_he_replay *rb, slots_ctx *ctx, slots_vec *const v[RL_HE_REPLAY_KINDS])
{
    const size_t c = rb->pos / rb->B;
    cl_status st = CL_OK;
    for (int k = 0; k < RL_HE_REPLAY_KINDS && st == CL_OK; k++) {
        const int lvl = slots_level(v[k]) < rb->level ? slots_level(v[k]) : rb->level;
        if ((st = slots_drop_level(ctx, v[k], lvl, v[k])) != CL_OK)
            break;
        if (rb->pos % rb->B == 0)
            st = slots_copy(ctx, v[k], rb->set[k][c]);
        else
            st = slots_add(ctx, rb->set[k][c], v[k], rb->set[k][c]);
    }
    if (st != CL_OK)
        return st;
    rb->pos = (rb->pos + 1) % rb->cap;
    if (rb->stored < rb->cap)
        rb->stored++;
    return CL_OK;
}

void rl_he_replay_sample(const rl_he_replay *rb, rl_rng *rng, size_t *idx)
{
    const size_t B = rb->B, wc = rb->pos / B, wb = rb->pos % B;
    const bool full = rb->stored == rb->cap;
    for (size_t b = 0; b < B; b++) {
        const size_t older = full ? rb->chunks - 1 : wc, count = older + (b < wb ? 1 : 0);
        const size_t u = (size_t)rl_rng_below(rng, (uint32_t)count);
        const size_t c = u == older ? wc : (full ? (wc + 1 + u) % rb->chunks : u);
        idx[b] = b + B * c;
    }
}

bool rl_he_replay_select(rl_he_replay *rb, const size_t *idx)
{
    const size_t B = rb->B, wc = rb->pos / B, wb = rb->pos % B;
    for (size_t b = 0; b < B; b++)
        if (idx[b] >= rb->stored || idx[b] % B != b ||
            (rb->stored == rb->cap && idx[b] / B == wc && b >= wb)) /* wiped when its chunk restarted */
            return false;
    for (size_t b = 0; b < B; b++)
        rb->pick[b] = idx[b] / B;
    return true;
}

cl_status rl_he_replay_batch(rl_he_replay *rb, slots_ctx *ctx, rl_he_replay_kind kind, double scale, slots_vec *out)
{
    const size_t B = rb->B, blk = rb->blk;
    slots_vec **store = rb->set[kind];
    cl_status st = CL_OK;
    bool first = true;
    for (size_t b = 0; b < B && st == CL_OK; b++) {
        const size_t c = rb->pick[b];
        bool seen = false;
        for (size_t e = 0; e < b && !seen; e++)
            seen = rb->pick[e] == c;
        if (seen)
            continue;
        memset(rb->mask, 0, rb->S * sizeof *rb->mask);
        for (size_t e = b; e < B; e++)
            if (rb->pick[e] == c)
                for (size_t k = 0; k < blk; k++)
                    rb->mask[e * blk + k] = scale;
        if ((st = rl_he_ensure_level(ctx, store[c], 1)) != CL_OK)
            break;
        if (first) {
            st = slots_mul_plain(ctx, store[c], rb->mask, out);
            first = false;
        } else if ((st = slots_mul_plain(ctx, store[c], rb->mask, rb->tmp)) == CL_OK) {
            st = slots_add(ctx, out, rb->tmp, out);
        }
    }
    return st;
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

/* ------------------------------------------------------------ optimizers */

const char *const rl_he_optimizer_names[3] = {"he_adam", "sgd", "adam"};

#define EXACT_ADAM_EPS 1e-8 /* PyTorch's default */

/* 1 / (sqrt(v / (1 - beta2^t)) + eps); user points to 1 - beta2^t */
static double exact_adam_denominator(double v, void *user)
{
    const double c2 = user ? *(const double *)user : 1.0;
    return 1.0 / (sqrt(fmax(v, 0.0) / c2) + EXACT_ADAM_EPS);
}

bool rl_he_optimizer_has_state(rl_he_optimizer opt)
{
    return opt != RL_HE_OPT_SGD;
}

cl_status rl_he_optimizer_supported(slots_ctx *ctx, rl_he_optimizer opt)
{
    if ((unsigned)opt > RL_HE_OPT_ADAM)
        return CL_ERR_INVALID;
    if (opt != RL_HE_OPT_ADAM)
        return CL_OK;
    /* an empty vector: the clear backend answers CL_ERR_STATE, any other CL_ERR_UNSUPPORTED */
    slots_vec *probe;
    cl_status st = slots_vec_create(ctx, &probe);
    if (st != CL_OK)
        return st;
    st = slots_clear_map(ctx, probe, exact_adam_denominator, NULL, probe);
    slots_vec_free(probe);
    return st == CL_ERR_UNSUPPORTED ? st : CL_OK;
}

cl_status rl_he_optimizer_init(slots_ctx *ctx, slots_owner *owner, rl_he_optimizer opt, const nn_he_adam_config *cfg,
                               slots_vec *m, slots_vec *r, double *buf, size_t S)
{
    switch (opt) {
    case RL_HE_OPT_SGD:
        return CL_OK;
    case RL_HE_OPT_HE_ADAM:
        return nn_he_adam_init_slots(cfg, ctx, owner, m, r);
    case RL_HE_OPT_ADAM: {
        memset(buf, 0, S * sizeof *buf);
        cl_status st = slots_encrypt(owner, buf, S, m);
        return st == CL_OK ? slots_encrypt(owner, buf, S, r) : st;
    }
    }
    return CL_ERR_INVALID;
}

/* Exact Adam (PyTorch's formulation; clear backend only): m and v start at 0;
 * m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
 * theta -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).
 * Levels: 2 on g, 1 on m and v, then one for m * den and one for the step. */
static cl_status exact_adam_step(slots_ctx *ctx, const nn_he_adam_config *cfg, long t, slots_vec *theta, slots_vec *m,
                                 slots_vec *v, const slots_vec *g, slots_vec *t0, slots_vec *t1)
{
    const double b1 = cfg->beta1, b2 = cfg->beta2;
    double c2 = 1.0 - pow(b2, (double)t);
    const double alpha_t = cfg->alpha / (1.0 - pow(b1, (double)t));
    cl_status st = slots_mul_const(ctx, m, b1, m);
    if (st == CL_OK)
        st = slots_mul_const(ctx, g, 1.0 - b1, t0);
    if (st == CL_OK)
        st = slots_add(ctx, m, t0, m);
    if (st == CL_OK)
        st = slots_mul(ctx, g, g, t0);
    if (st == CL_OK)
        st = slots_mul_const(ctx, t0, 1.0 - b2, t0);
    if (st == CL_OK)
        st = slots_mul_const(ctx, v, b2, v);
    if (st == CL_OK)
        st = slots_add(ctx, v, t0, v);
    if (st == CL_OK)
        st = slots_clear_map(ctx, v, exact_adam_denominator, &c2, t1);
    if (st == CL_OK)
        st = rl_he_ensure_level(ctx, m, 2);
    if (st == CL_OK)
        st = rl_he_ensure_level(ctx, t1, 2);
    if (st == CL_OK)
        st = slots_mul(ctx, m, t1, t0);
    if (st == CL_OK)
        st = slots_mul_const(ctx, t0, alpha_t, t0);
    if (st == CL_OK)
        st = slots_sub(ctx, theta, t0, theta);
    return st;
}

cl_status rl_he_optimizer_step(slots_ctx *ctx, rl_he_optimizer opt, const nn_he_adam_config *cfg, long t,
                               slots_vec *theta, slots_vec *m, slots_vec *r, slots_vec *g, slots_vec *t0,
                               slots_vec *t1)
{
    cl_status st;
    switch (opt) {
    case RL_HE_OPT_SGD: /* theta -= lr * g: one level on g */
        if ((st = rl_he_ensure_level(ctx, g, 1)) != CL_OK || (st = slots_mul_const(ctx, g, cfg->alpha, t0)) != CL_OK)
            return st;
        return slots_sub(ctx, theta, t0, theta);
    case RL_HE_OPT_ADAM:
        if ((st = rl_he_ensure_level(ctx, g, 3)) != CL_OK || (st = rl_he_ensure_level(ctx, m, 2)) != CL_OK ||
            (st = rl_he_ensure_level(ctx, r, 2)) != CL_OK)
            return st;
        return exact_adam_step(ctx, cfg, t, theta, m, r, g, t0, t1);
    case RL_HE_OPT_HE_ADAM: {
        const int ad = nn_he_adam_depth();
        if ((st = rl_he_ensure_level(ctx, g, ad)) != CL_OK || (st = rl_he_ensure_level(ctx, r, ad)) != CL_OK ||
            (st = rl_he_ensure_level(ctx, m, 3)) != CL_OK)
            return st;
        return nn_he_adam_step_slots(ctx, cfg, t, theta, m, r, g);
    }
    }
    return CL_ERR_INVALID;
}

/* ------------------------------------------------------------ packed HE-Adam */

void rl_he_pack_free(rl_he_pack *p)
{
    if (!p)
        return;
    rl_he_vecs_free(p->m, p->groups);
    rl_he_vecs_free(p->r, p->groups);
    rl_he_vecs_free(p->rot, p->k ? p->k - 1 : 0);
    rl_he_vecs_free(p->wv, p->k);
    slots_vec_free(p->acc);
    slots_vec_free(p->delta);
    slots_vec_free(p->one);
    free(p->masks);
    slots_ctx_free(p->wide);
    free(p);
}

cl_status rl_he_pack_create(slots_ctx *narrow, size_t k, size_t n, rl_he_pack **out)
{
    if (!narrow || !out || n == 0 || k < 2 || !rl_he_pow2(k) || k > 64)
        return CL_ERR_INVALID;
    *out = NULL;
    rl_he_pack *p = calloc(1, sizeof *p);
    if (!p)
        return CL_ERR_NOMEM;
    p->narrow = narrow;
    p->k = k;
    p->S = slots_count(narrow);
    p->n = n;
    p->groups = (n + k - 1) / k;
    cl_status st = slots_wide_create(narrow, k, &p->wide);
    if (st == CL_OK && !(p->masks = malloc(k * k * p->S * sizeof *p->masks)))
        st = CL_ERR_NOMEM;
    if (st == CL_OK) {
        for (size_t b = 0; b < k; b++)
            for (size_t i = 0; i < k * p->S; i++)
                p->masks[b * k * p->S + i] = i / p->S == b ? 1.0 : 0.0;
        if ((st = rl_he_vecs_create(p->wide, &p->m, p->groups)) == CL_OK &&
            (st = rl_he_vecs_create(p->wide, &p->r, p->groups)) == CL_OK)
            st = rl_he_vecs_create(p->wide, &p->rot, k - 1);
        if (st == CL_OK)
            st = rl_he_vecs_create(p->wide, &p->wv, k);
    }
    slots_vec **one[] = {&p->acc, &p->delta};
    for (size_t i = 0; i < sizeof one / sizeof one[0] && st == CL_OK; i++)
        st = slots_vec_create(p->wide, one[i]);
    if (st == CL_OK)
        st = slots_vec_create(narrow, &p->one);
    if (st != CL_OK) {
        rl_he_pack_free(p);
        return st;
    }
    *out = p;
    return CL_OK;
}

/* out = sum_b mask_b (.) widen(v[w k + b]) over the group's vectors (one
 * plaintext inner product: one rescale on ckks) */
static cl_status pack_group(rl_he_pack *p, slots_vec *const *v, size_t w, slots_vec *out)
{
    const slots_vec *in[64];
    const double *mk[64];
    size_t nb = 0;
    cl_status st = CL_OK;
    for (size_t b = 0; b < p->k && w * p->k + b < p->n && st == CL_OK; b++, nb++) {
        slots_vec *x = v[w * p->k + b];
        if ((st = rl_he_ensure_level(p->narrow, x, 1)) == CL_OK)
            st = slots_widen(p->wide, x, p->wv[b]);
        in[b] = p->wv[b];
        mk[b] = p->masks + b * p->k * p->S;
    }
    return st != CL_OK ? st : slots_dot_plain(p->wide, in, mk, nb, out);
}

cl_status rl_he_pack_state(rl_he_pack *p, slots_vec *const *m, slots_vec *const *r)
{
    if (!p || !m || !r)
        return CL_ERR_INVALID;
    cl_status st = CL_OK;
    for (size_t w = 0; w < p->groups && st == CL_OK; w++)
        if ((st = pack_group(p, m, w, p->m[w])) == CL_OK)
            st = pack_group(p, r, w, p->r[w]);
    return st;
}

cl_status rl_he_pack_step(rl_he_pack *p, const nn_he_adam_config *cfg, long t, slots_vec *const *theta,
                          slots_vec *const *g)
{
    if (!p || !cfg || !theta || !g)
        return CL_ERR_INVALID;
    const int ad = nn_he_adam_depth();
    const size_t k = p->k, S = p->S, kS = k * p->S;
    int steps[64];
    for (size_t d = 1; d < k; d++)
        steps[d - 1] = (int)(d * S);
    cl_status st = CL_OK;
    for (size_t w = 0; w < p->groups && st == CL_OK; w++) {
        /* the group's gradients in one vector, HE-Adam's step on it */
        if ((st = pack_group(p, g, w, p->acc)) != CL_OK || (st = rl_he_ensure_level(p->wide, p->acc, ad)) != CL_OK ||
            (st = rl_he_ensure_level(p->wide, p->r[w], ad)) != CL_OK ||
            (st = rl_he_ensure_level(p->wide, p->m[w], 3)) != CL_OK ||
            (st = nn_he_adam_delta_slots(p->wide, cfg, t, p->m[w], p->r[w], p->acc, p->delta)) != CL_OK ||
            (st = rl_he_ensure_level(p->wide, p->delta, 1)) != CL_OK ||
            (st = slots_rotate_many(p->wide, p->delta, steps, k - 1, p->rot)) != CL_OK)
            break;
        /* vector b of the group: block b of delta in every block (block j
         * of delta rotated by ((b - j) mod k) S is block b) */
        for (size_t b = 0; b < k && w * k + b < p->n && st == CL_OK; b++) {
            const slots_vec *src[64];
            const double *mk[64];
            for (size_t j = 0; j < k; j++) {
                const size_t d = (b + k - j) % k;
                src[j] = d ? p->rot[d - 1] : p->delta;
                mk[j] = p->masks + j * kS;
            }
            if ((st = slots_dot_plain(p->wide, src, mk, k, p->acc)) == CL_OK &&
                (st = slots_narrow(p->narrow, p->acc, p->one)) == CL_OK)
                st = slots_sub(p->narrow, theta[w * k + b], p->one, theta[w * k + b]);
        }
    }
    return st;
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

cl_status rl_he_hp_assign(void *hp, const rl_he_field *fields, size_t n, const char *algo, const char *assignment,
                          char *err, size_t errlen)
{
    if (!hp || !assignment)
        return rl_he_fail(err, errlen, "no assignment");
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return rl_he_fail(err, errlen, "'%s' is not NAME=VALUE", assignment);
    const size_t nl = (size_t)(eq - assignment);
    const char *val = eq + 1;
    const rl_he_field *f = NULL;
    for (size_t i = 0; i < n; i++)
        if (strlen(fields[i].name) == nl && !strncmp(fields[i].name, assignment, nl))
            f = &fields[i];
    if (!f) {
        char names[1024];
        size_t pos = 0;
        for (size_t i = 0; i < n && pos < sizeof names; i++)
            pos += (size_t)snprintf(names + pos, sizeof names - pos, "%s%s", i ? ", " : "", fields[i].name);
        return rl_he_fail(err, errlen, "unknown hyperparameter '%.*s' (%s knows: %s)", (int)nl, assignment, algo,
                          names);
    }
    char *base = (char *)hp + f->off;
    if (f->kind == RL_HE_ENUM) {
        char names[256];
        size_t pos = 0;
        for (int k = 0; k < f->n_names; k++) {
            if (!strcmp(val, f->names[k])) {
                *(int *)(void *)base = k;
                return CL_OK;
            }
            if (pos < sizeof names)
                pos += (size_t)snprintf(names + pos, sizeof names - pos, "%s%s", k ? ", " : "", f->names[k]);
        }
        return rl_he_fail(err, errlen, "%s: '%s' is not one of %s", f->name, val, names);
    }
    double d;
    const int ok = f->kind == RL_HE_ARCH ? rl_he_parse_arch(val, &d) : rl_he_parse_real(val, &d);
    if (!ok)
        return rl_he_fail(err, errlen, "%s: '%s' is not %s", f->name, val,
                          f->kind == RL_HE_ARCH ? "a width H or [H,H]" : "a number");
    if (f->kind != RL_HE_REAL && d != floor(d))
        return rl_he_fail(err, errlen, "%s: '%s' is not an integer", f->name, val);
    if (d < f->lo || d > f->hi || (f->lo_open && d == f->lo))
        return rl_he_fail(err, errlen, "%s: %s is out of range %s%g, %g]", f->name, val, f->lo_open ? "(" : "[",
                          f->lo, f->hi);
    switch (f->kind) {
    case RL_HE_INT64: *(int64_t *)(void *)base = (int64_t)d; break;
    case RL_HE_INT32:
    case RL_HE_ARCH: *(int *)(void *)base = (int)d; break;
    case RL_HE_REAL: *(double *)(void *)base = d; break;
    case RL_HE_ENUM: break;
    }
    return CL_OK;
}

void rl_he_hp_format(const void *hp, const rl_he_field *fields, size_t n, char *buf, size_t cap)
{
    if (!buf || !cap)
        return;
    buf[0] = 0;
    if (!hp)
        return;
    size_t pos = 0;
    for (size_t i = 0; i < n && pos < cap; i++) {
        const rl_he_field *f = &fields[i];
        const char *base = (const char *)hp + f->off;
        const char *sep = i ? " " : "";
        int w = 0;
        switch (f->kind) {
        case RL_HE_INT64:
            w = snprintf(buf + pos, cap - pos, "%s%s=%lld", sep, f->name, (long long)*(const int64_t *)(const void *)base);
            break;
        case RL_HE_INT32:
            w = snprintf(buf + pos, cap - pos, "%s%s=%d", sep, f->name, *(const int *)(const void *)base);
            break;
        case RL_HE_ARCH: {
            const int h = *(const int *)(const void *)base;
            w = snprintf(buf + pos, cap - pos, "%s%s=[%d,%d]", sep, f->name, h, h);
            break;
        }
        case RL_HE_REAL:
            w = snprintf(buf + pos, cap - pos, "%s%s=%g", sep, f->name, *(const double *)(const void *)base);
            break;
        case RL_HE_ENUM: {
            const int k = *(const int *)(const void *)base;
            w = snprintf(buf + pos, cap - pos, "%s%s=%s", sep, f->name, k >= 0 && k < f->n_names ? f->names[k] : "?");
            break;
        }
        }
        if (w < 0)
            break;
        pos += (size_t)w;
    }
}
