/* The generic half of the slot machine: argument checks, level rules,
 * counters and the census of rotation steps. Backends compute. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slots/slots_internal.h"

size_t slots_count(const slots_ctx *ctx) { return ctx ? ctx->slots : 0; }
int slots_top_level(const slots_ctx *ctx) { return ctx ? ctx->top_level : -1; }
const slots_counters *slots_get_counters(const slots_ctx *ctx) { return ctx ? &slots_root(ctx)->counters : NULL; }
int slots_level(const slots_vec *v) { return v ? v->level : -1; }
slots_ctx *slots_vec_context(const slots_vec *v) { return v ? v->ctx : NULL; }

void slots_reset_counters(slots_ctx *ctx)
{
    if (!ctx)
        return;
    ctx = slots_root(ctx);
    memset(&slots_root(ctx)->counters, 0, sizeof slots_root(ctx)->counters);
    slots_root(ctx)->counters.min_level = ctx->top_level;
}

void slots_ctx_free(slots_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->be && ctx->be->ctx_release)
        ctx->be->ctx_release(ctx);
    free(ctx->extra_steps);
    free(ctx);
}

void slots_owner_free(slots_owner *o)
{
    if (!o)
        return;
    if (o->be && o->be->owner_release)
        o->be->owner_release(o);
    free(o);
}

cl_status slots_vec_create(slots_ctx *ctx, slots_vec **out)
{
    if (!ctx || !out)
        return CL_ERR_INVALID;
    slots_vec *v = calloc(1, sizeof *v);
    if (!v)
        return CL_ERR_NOMEM;
    v->ctx = ctx;
    v->level = -1;
    cl_status st = ctx->be->vec_init(ctx, v);
    if (st != CL_OK) {
        free(v);
        return st;
    }
    *out = v;
    return CL_OK;
}

void slots_vec_free(slots_vec *v)
{
    if (!v)
        return;
    v->ctx->be->vec_release(v);
    free(v);
}

static void note_level(slots_ctx *ctx, int level)
{
    if (level < slots_root(ctx)->counters.min_level)
        slots_root(ctx)->counters.min_level = level;
}

/* After a backend call: on success, the result's level and the count. */
static cl_status finish(slots_ctx *ctx, cl_status st, slots_vec *out, int level, uint64_t *counter)
{
    if (st != CL_OK)
        return st;
    out->level = level;
    (*counter)++;
    if (level < slots_root(ctx)->counters.min_level)
        slots_root(ctx)->counters.min_level = level;
    return CL_OK;
}

static cl_status check1(const slots_ctx *ctx, const slots_vec *a, const slots_vec *out)
{
    if (!ctx || !a || !out)
        return CL_ERR_INVALID;
    if (a->ctx != ctx || out->ctx != ctx)
        return CL_ERR_PARAMS;
    if (a->level < 0)
        return CL_ERR_STATE;
    return CL_OK;
}

static cl_status check2(const slots_ctx *ctx, const slots_vec *a, const slots_vec *b, const slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK)
        return st;
    if (!b)
        return CL_ERR_INVALID;
    if (b->ctx != ctx)
        return CL_ERR_PARAMS;
    if (b->level < 0)
        return CL_ERR_STATE;
    return CL_OK;
}

cl_status slots_encrypt(slots_owner *o, const double *values, size_t n, slots_vec *out)
{
    if (!o || !out || (n && !values) || n > o->ctx->slots)
        return CL_ERR_INVALID;
    if (out->ctx != o->ctx)
        return CL_ERR_PARAMS;
    cl_status st = o->be->encrypt(o, values, n, out);
    if (st == CL_OK) {
        out->level = o->ctx->top_level;
        slots_root(o->ctx)->counters.encrypt++;
        if (o->be->wire_bytes)
            slots_root(o->ctx)->counters.bytes_to_platform += o->be->wire_bytes(out);
    }
    return st;
}

cl_status slots_decrypt(slots_owner *o, const slots_vec *v, double *values, size_t n)
{
    if (!o || !v || (n && !values) || n > o->ctx->slots)
        return CL_ERR_INVALID;
    if (v->ctx != o->ctx)
        return CL_ERR_PARAMS;
    if (v->level < 0)
        return CL_ERR_STATE;
    slots_root(o->ctx)->counters.decrypt++;
    if (o->be->wire_bytes)
        slots_root(o->ctx)->counters.bytes_to_owner += o->be->wire_bytes(v);
    return o->be->decrypt(o, v, values, n);
}

cl_status slots_copy(slots_ctx *ctx, const slots_vec *a, slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK || a == out)
        return st;
    if ((st = ctx->be->copy(ctx, a, out)) == CL_OK)
        out->level = a->level;
    return st;
}

static cl_status add_sub(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, int sign, slots_vec *out)
{
    cl_status st = check2(ctx, a, b, out);
    if (st != CL_OK)
        return st;
    int level = a->level < b->level ? a->level : b->level;
    return finish(ctx, ctx->be->add(ctx, a, b, sign, level, out), out, level, &slots_root(ctx)->counters.add);
}

cl_status slots_add(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, slots_vec *out)
{
    return add_sub(ctx, a, b, 1, out);
}

cl_status slots_sub(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, slots_vec *out)
{
    return add_sub(ctx, a, b, -1, out);
}

cl_status slots_neg(slots_ctx *ctx, const slots_vec *a, slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK)
        return st;
    return finish(ctx, ctx->be->neg(ctx, a, out), out, a->level, &slots_root(ctx)->counters.add);
}

cl_status slots_add_plain(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK)
        return st;
    if (!values)
        return CL_ERR_INVALID;
    return finish(ctx, ctx->be->add_plain(ctx, a, values, out), out, a->level, &slots_root(ctx)->counters.add);
}

cl_status slots_add_const(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK)
        return st;
    return finish(ctx, ctx->be->add_const(ctx, a, c, out), out, a->level, &slots_root(ctx)->counters.add);
}

cl_status slots_mul(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, slots_vec *out)
{
    cl_status st = check2(ctx, a, b, out);
    if (st != CL_OK)
        return st;
    int level = a->level < b->level ? a->level : b->level;
    if (level < 1)
        return CL_ERR_LEVEL;
    return finish(ctx, ctx->be->mul(ctx, a, b, level, out), out, level - 1, &slots_root(ctx)->counters.mul);
}

cl_status slots_mul_plain(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK)
        return st;
    if (!values)
        return CL_ERR_INVALID;
    int level = a->level;
    if (level < 1)
        return CL_ERR_LEVEL;
    return finish(ctx, ctx->be->mul_plain(ctx, a, values, out), out, level - 1, &slots_root(ctx)->counters.mul_plain);
}

cl_status slots_mul_const(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK)
        return st;
    int level = a->level;
    if (level < 1)
        return CL_ERR_LEVEL;
    return finish(ctx, ctx->be->mul_const(ctx, a, c, out), out, level - 1, &slots_root(ctx)->counters.mul_const);
}

static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* Steps below the root's S (and SLOTS_MAX_STEPS) in its table, the rest (a
 * large S, or a wide context's steps of S and above) in its sorted list. */
static cl_status record_step(slots_ctx *c, int k)
{
    slots_ctx *ctx = slots_root(c);
    if (ctx->slots <= SLOTS_MAX_STEPS && (size_t)k < ctx->slots) {
        ctx->step_used[k] = true;
        return CL_OK;
    }
    if (ctx->n_extra_steps > 0 && bsearch(&k, ctx->extra_steps, ctx->n_extra_steps, sizeof k, cmp_int))
        return CL_OK;
    int *np = realloc(ctx->extra_steps, (ctx->n_extra_steps + 1) * sizeof *np);
    if (!np)
        return CL_ERR_NOMEM;
    ctx->extra_steps = np;
    np[ctx->n_extra_steps++] = k;
    qsort(np, ctx->n_extra_steps, sizeof *np, cmp_int);
    return CL_OK;
}

cl_status slots_rotate(slots_ctx *ctx, const slots_vec *a, int k, slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK)
        return st;
    long long s = (long long)k % (long long)ctx->slots;
    if (s < 0)
        s += (long long)ctx->slots;
    if (s == 0)
        return slots_copy(ctx, a, out);
    if ((st = record_step(ctx, (int)s)) != CL_OK)
        return st;
    return finish(ctx, ctx->be->rotate(ctx, a, (int)s, out), out, a->level, &slots_root(ctx)->counters.rotate);
}

cl_status slots_dot(slots_ctx *ctx, const slots_vec *const *a, const slots_vec *const *b, size_t n, slots_vec *out)
{
    if (!ctx || !a || !b || !out || n < 1)
        return CL_ERR_INVALID;
    int level = ctx->top_level;
    for (size_t i = 0; i < n; i++) {
        cl_status st = check2(ctx, a[i], b[i], out);
        if (st != CL_OK)
            return st;
        if (n > 1 && (a[i] == out || b[i] == out))
            return CL_ERR_INVALID;
        level = a[i]->level < level ? a[i]->level : level;
        level = b[i]->level < level ? b[i]->level : level;
    }
    if (level < 1)
        return CL_ERR_LEVEL;
    if (n == 1 || !ctx->be->dot) {
        /* n products and n - 1 sums, exactly as a caller would write them */
        cl_status st = slots_mul(ctx, a[0], b[0], out);
        slots_vec *t = NULL;
        if (st == CL_OK && n > 1)
            st = slots_vec_create(ctx, &t);
        for (size_t i = 1; i < n && st == CL_OK; i++)
            if ((st = slots_mul(ctx, a[i], b[i], t)) == CL_OK)
                st = slots_add(ctx, out, t, out);
        slots_vec_free(t);
        return st;
    }
    cl_status st = ctx->be->dot(ctx, a, b, n, level, out);
    if (st != CL_OK)
        return st;
    out->level = level - 1;
    note_level(ctx, level - 1);
    slots_root(ctx)->counters.mul += n;
    slots_root(ctx)->counters.add += n - 1;
    return CL_OK;
}

cl_status slots_dot_plain(slots_ctx *ctx, const slots_vec *const *a, const double *const *values, size_t n,
                          slots_vec *out)
{
    if (!ctx || !a || !values || !out || n < 1)
        return CL_ERR_INVALID;
    int level = ctx->top_level;
    for (size_t i = 0; i < n; i++) {
        cl_status st = check1(ctx, a[i], out);
        if (st != CL_OK)
            return st;
        if (!values[i] || (n > 1 && a[i] == out))
            return CL_ERR_INVALID;
        level = a[i]->level < level ? a[i]->level : level;
    }
    if (level < 1)
        return CL_ERR_LEVEL;
    if (n == 1 || !ctx->be->dot_plain) {
        cl_status st = slots_mul_plain(ctx, a[0], values[0], out);
        slots_vec *t = NULL;
        if (st == CL_OK && n > 1)
            st = slots_vec_create(ctx, &t);
        for (size_t i = 1; i < n && st == CL_OK; i++)
            if ((st = slots_mul_plain(ctx, a[i], values[i], t)) == CL_OK)
                st = slots_add(ctx, out, t, out);
        slots_vec_free(t);
        return st;
    }
    cl_status st = ctx->be->dot_plain(ctx, a, values, n, level, out);
    if (st != CL_OK)
        return st;
    out->level = level - 1;
    note_level(ctx, level - 1);
    slots_root(ctx)->counters.mul_plain += n;
    slots_root(ctx)->counters.add += n - 1;
    return CL_OK;
}

cl_status slots_rotate_many(slots_ctx *ctx, const slots_vec *a, const int *steps, size_t n, slots_vec *const *outs)
{
    if (!ctx || !a || !steps || !outs || n < 1)
        return CL_ERR_INVALID;
    int st_steps[64];
    slots_vec *st_outs[64];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        cl_status st = check1(ctx, a, outs[i]);
        if (st != CL_OK)
            return st;
        if (outs[i] == a)
            return CL_ERR_INVALID;
    }
    if (!ctx->be->rotate_many) {
        for (size_t i = 0; i < n; i++) {
            cl_status st = slots_rotate(ctx, a, steps[i], outs[i]);
            if (st != CL_OK)
                return st;
        }
        return CL_OK;
    }
    /* zero steps are copies; the others go to the backend 64 at a time */
    for (size_t i = 0; i <= n; i++) {
        if (i == n || m == 64) {
            if (m) {
                cl_status st = ctx->be->rotate_many(ctx, a, st_steps, m, st_outs);
                if (st != CL_OK)
                    return st;
                for (size_t j = 0; j < m; j++)
                    st_outs[j]->level = a->level;
                slots_root(ctx)->counters.rotate += m;
                m = 0;
            }
            if (i == n)
                break;
        }
        long long s = (long long)steps[i] % (long long)ctx->slots;
        if (s < 0)
            s += (long long)ctx->slots;
        cl_status st;
        if (s == 0) {
            if ((st = slots_copy(ctx, a, outs[i])) != CL_OK)
                return st;
            continue;
        }
        if ((st = record_step(ctx, (int)s)) != CL_OK)
            return st;
        st_steps[m] = (int)s;
        st_outs[m++] = outs[i];
    }
    return CL_OK;
}

size_t slots_rotation_steps(const slots_ctx *ctx, int *steps, size_t cap)
{
    if (!ctx)
        return 0;
    ctx = slots_root(ctx);
    size_t count = 0;
    if (ctx->slots <= SLOTS_MAX_STEPS)
        for (size_t k = 1; k < ctx->slots; k++)
            if (ctx->step_used[k]) {
                if (steps && count < cap)
                    steps[count] = (int)k;
                count++;
            }
    /* the list holds only steps above the table's (ascending either way) */
    for (size_t i = 0; i < ctx->n_extra_steps; i++) {
        if (steps && count < cap)
            steps[count] = ctx->extra_steps[i];
        count++;
    }
    return count;
}

cl_status slots_sum(slots_ctx *ctx, const slots_vec *a, size_t stride, size_t span, slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK)
        return st;
    if (span == 0 || (span & (span - 1)) || stride == 0 || stride * span > ctx->slots)
        return CL_ERR_INVALID;
    slots_vec *tmp;
    if ((st = slots_vec_create(ctx, &tmp)) != CL_OK)
        return st;
    if ((st = slots_copy(ctx, a, out)) != CL_OK)
        goto done;
    for (size_t s = 1; s < span; s <<= 1) {
        if ((st = slots_rotate(ctx, out, (int)(s * stride), tmp)) != CL_OK ||
            (st = slots_add(ctx, out, tmp, out)) != CL_OK)
            goto done;
    }
done:
    slots_vec_free(tmp);
    return st;
}

cl_status slots_drop_level(slots_ctx *ctx, const slots_vec *a, int level, slots_vec *out)
{
    cl_status st = check1(ctx, a, out);
    if (st != CL_OK)
        return st;
    if (level < 0 || level > a->level)
        return CL_ERR_LEVEL;
    if ((st = ctx->be->drop_level(ctx, a, level, out)) == CL_OK) {
        out->level = level;
        note_level(ctx, level);
    }
    return st;
}

cl_status slots_refresh(slots_ctx *ctx, slots_vec *v)
{
    if (!ctx || !v)
        return CL_ERR_INVALID;
    if (v->ctx != ctx)
        return CL_ERR_PARAMS;
    if (v->level < 0)
        return CL_ERR_STATE;
    const uint64_t sent = ctx->be->wire_bytes ? ctx->be->wire_bytes(v) : 0;
    cl_status st = ctx->be->refresh(ctx, v);
    if (st == CL_OK) {
        v->level = ctx->top_level;
        slots_root(ctx)->counters.refresh++;
        slots_root(ctx)->counters.bytes_to_owner += sent;
        if (ctx->be->wire_bytes)
            slots_root(ctx)->counters.bytes_to_platform += ctx->be->wire_bytes(v);
    }
    return st;
}

cl_status slots_vec_serialize(const slots_vec *v, uint8_t *buf, size_t cap, size_t *len)
{
    if (!v || !len)
        return CL_ERR_INVALID;
    if (v->level < 0)
        return CL_ERR_STATE;
    return v->ctx->be->serialize(v, buf, cap, len);
}

cl_status slots_vec_deserialize(slots_ctx *ctx, const uint8_t *buf, size_t len, slots_vec *out)
{
    if (!ctx || !buf || !out)
        return CL_ERR_INVALID;
    if (out->ctx != ctx)
        return CL_ERR_PARAMS;
    int level = -1;
    cl_status st = ctx->be->deserialize(ctx, buf, len, out, &level);
    if (st != CL_OK)
        return st;
    out->level = level;
    return CL_OK;
}

/* ------------------------------------------------------------ wide vectors */

cl_status slots_wide_create(slots_ctx *narrow, size_t k, slots_ctx **out)
{
    if (!narrow || !out || k < 2 || (k & (k - 1)) || narrow->parent)
        return CL_ERR_INVALID;
    if (!narrow->be->wide_init || !narrow->be->relabel)
        return CL_ERR_UNSUPPORTED;
    if (narrow->slots > SIZE_MAX / k || narrow->slots * k > ((size_t)1 << 24))
        return CL_ERR_INVALID;
    slots_ctx *w = calloc(1, sizeof *w);
    if (!w)
        return CL_ERR_NOMEM;
    w->be = narrow->be;
    w->slots = narrow->slots * k;
    w->top_level = narrow->top_level;
    w->parent = narrow;
    cl_status st = narrow->be->wide_init(narrow, w);
    if (st != CL_OK) {
        free(w);
        return st;
    }
    *out = w;
    return CL_OK;
}

cl_status slots_widen(slots_ctx *wide, const slots_vec *a, slots_vec *out)
{
    if (!wide || !a || !out)
        return CL_ERR_INVALID;
    if (!wide->parent || a->ctx != wide->parent || out->ctx != wide)
        return CL_ERR_PARAMS;
    if (a->level < 0)
        return CL_ERR_STATE;
    cl_status st = wide->be->relabel(a, out);
    if (st == CL_OK)
        out->level = a->level;
    return st;
}

cl_status slots_narrow(slots_ctx *narrow, const slots_vec *a, slots_vec *out)
{
    if (!narrow || !a || !out)
        return CL_ERR_INVALID;
    if (a->ctx->parent != narrow || out->ctx != narrow)
        return CL_ERR_PARAMS;
    if (a->level < 0)
        return CL_ERR_STATE;
    cl_status st = narrow->be->relabel(a, out);
    if (st == CL_OK)
        out->level = a->level;
    return st;
}
