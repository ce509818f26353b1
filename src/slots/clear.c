/* The clear backend of the slot machine: vectors of doubles with the level
 * rules of CKKS, and optional Gaussian noise on every result that CKKS would
 * make noisy (encryption, refresh, multiplications, rotations), to rehearse
 * encrypted runs. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "slots/slots_internal.h"

typedef struct clear_state {
    double noise;
    uint64_t rng;   /* splitmix64 state for the noise */
    double *tmp;    /* S scratch doubles (rotations) */
} clear_state;

static double *data(const slots_vec *v)
{
    return (double *)v->impl;
}

/* splitmix64 -> uniform (0, 1] -> Box–Muller; only for simulated noise. */
static double noise_normal(clear_state *s)
{
    uint64_t z[2];
    for (int i = 0; i < 2; i++) {
        uint64_t x = (s->rng += 0x9e3779b97f4a7c15ULL);
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        z[i] = x ^ (x >> 31);
    }
    double u1 = ((double)(z[0] >> 11) + 1.0) * 0x1p-53, u2 = (double)(z[1] >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

static void add_noise(slots_ctx *ctx, double *v)
{
    clear_state *s = ctx->impl;
    if (s->noise <= 0)
        return;
    for (size_t i = 0; i < ctx->slots; i++)
        v[i] += s->noise * noise_normal(s);
}

static cl_status c_vec_init(slots_ctx *ctx, slots_vec *v)
{
    v->impl = calloc(ctx->slots, sizeof(double));
    return v->impl ? CL_OK : CL_ERR_NOMEM;
}

static void c_vec_release(slots_vec *v)
{
    free(v->impl);
}

static cl_status c_encrypt(slots_owner *o, const double *values, size_t n, slots_vec *out)
{
    double *d = data(out);
    for (size_t i = 0; i < o->ctx->slots; i++)
        d[i] = i < n ? values[i] : 0.0;
    add_noise(o->ctx, d);
    return CL_OK;
}

static cl_status c_decrypt(slots_owner *o, const slots_vec *v, double *values, size_t n)
{
    (void)o;
    memcpy(values, data(v), n * sizeof *values);
    return CL_OK;
}

static cl_status c_copy(slots_ctx *ctx, const slots_vec *a, slots_vec *out)
{
    memcpy(data(out), data(a), ctx->slots * sizeof(double));
    return CL_OK;
}

static cl_status c_add(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, int sign, int level, slots_vec *out)
{
    (void)level;
    const double *x = data(a), *y = data(b);
    double *z = data(out);
    for (size_t i = 0; i < ctx->slots; i++)
        z[i] = sign > 0 ? x[i] + y[i] : x[i] - y[i];
    return CL_OK;
}

static cl_status c_neg(slots_ctx *ctx, const slots_vec *a, slots_vec *out)
{
    const double *x = data(a);
    double *z = data(out);
    for (size_t i = 0; i < ctx->slots; i++)
        z[i] = -x[i];
    return CL_OK;
}

static cl_status c_add_plain(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out)
{
    const double *x = data(a);
    double *z = data(out);
    for (size_t i = 0; i < ctx->slots; i++)
        z[i] = x[i] + values[i];
    return CL_OK;
}

static cl_status c_add_const(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out)
{
    const double *x = data(a);
    double *z = data(out);
    for (size_t i = 0; i < ctx->slots; i++)
        z[i] = x[i] + c;
    return CL_OK;
}

static cl_status c_mul(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, int level, slots_vec *out)
{
    (void)level;
    const double *x = data(a), *y = data(b);
    double *z = data(out);
    for (size_t i = 0; i < ctx->slots; i++)
        z[i] = x[i] * y[i];
    add_noise(ctx, z);
    return CL_OK;
}

static cl_status c_mul_plain(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out)
{
    const double *x = data(a);
    double *z = data(out);
    for (size_t i = 0; i < ctx->slots; i++)
        z[i] = x[i] * values[i];
    add_noise(ctx, z);
    return CL_OK;
}

static cl_status c_mul_const(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out)
{
    const double *x = data(a);
    double *z = data(out);
    for (size_t i = 0; i < ctx->slots; i++)
        z[i] = x[i] * c;
    add_noise(ctx, z);
    return CL_OK;
}

static cl_status c_rotate(slots_ctx *ctx, const slots_vec *a, int k, slots_vec *out)
{
    clear_state *s = ctx->impl;
    const size_t n = ctx->slots, sk = (size_t)k;
    const double *x = data(a);
    for (size_t i = 0; i < n; i++)
        s->tmp[i] = x[(i + sk) % n];
    memcpy(data(out), s->tmp, n * sizeof(double));
    add_noise(ctx, data(out));
    return CL_OK;
}

static cl_status c_drop_level(slots_ctx *ctx, const slots_vec *a, int level, slots_vec *out)
{
    (void)level;
    if (a != out)
        memcpy(data(out), data(a), ctx->slots * sizeof(double));
    return CL_OK;
}

static cl_status c_refresh(slots_ctx *ctx, slots_vec *v)
{
    add_noise(ctx, data(v)); /* a fresh encryption's noise */
    return CL_OK;
}

/* ---- wire form (see slots_vec_serialize):
 * magic "CLSV" | u16 version | u16 flags | u64 total | u32 S | u16 L | u16 level
 * | S x u64 (IEEE-754 bits) | BLAKE2b-256 of everything before it; little-endian. */
#define CLEAR_WIRE_VERSION 1u
#define CLEAR_WIRE_HEADER 16u /* magic, version, flags, total length */
#define CLEAR_WIRE_FIXED 8u   /* S, L, level */
#define CLEAR_WIRE_SUM 32u
static const uint8_t CLEAR_WIRE_MAGIC[4] = {'C', 'L', 'S', 'V'};

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Total bytes for S slots, or 0 if that does not fit a size_t. */
static size_t clear_wire_size(uint64_t slots)
{
    const uint64_t fixed = CLEAR_WIRE_HEADER + CLEAR_WIRE_FIXED + CLEAR_WIRE_SUM;
    if (slots > (SIZE_MAX - fixed) / 8)
        return 0;
    return (size_t)(fixed + 8 * slots);
}

static cl_status c_serialize(const slots_vec *v, uint8_t *buf, size_t cap, size_t *len)
{
    const slots_ctx *ctx = v->ctx;
    const size_t total = clear_wire_size(ctx->slots);
    *len = total;
    if (!buf)
        return CL_OK;
    if (cap < total)
        return CL_ERR_INVALID;
    if (sodium_init() < 0)
        return CL_ERR_RNG;
    memcpy(buf, CLEAR_WIRE_MAGIC, 4);
    put_le(buf + 4, CLEAR_WIRE_VERSION, 2);
    put_le(buf + 6, 0, 2);
    put_le(buf + 8, (uint64_t)total, 8);
    put_le(buf + 16, (uint64_t)ctx->slots, 4);
    put_le(buf + 20, (uint64_t)ctx->top_level, 2);
    put_le(buf + 22, (uint64_t)v->level, 2);
    uint8_t *w = buf + CLEAR_WIRE_HEADER + CLEAR_WIRE_FIXED;
    const double *x = data(v);
    for (size_t i = 0; i < ctx->slots; i++, w += 8) {
        uint64_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        put_le(w, bits, 8);
    }
    crypto_generichash(w, CLEAR_WIRE_SUM, buf, total - CLEAR_WIRE_SUM, NULL, 0);
    return CL_OK;
}

/* Checks, in the order of the ckks formats: magic (FORMAT), version (VERSION),
 * total length against len (TRUNCATED if short, FORMAT if bytes follow),
 * checksum (CHECKSUM), flags (FORMAT), S and L against the context (PARAMS),
 * the length S implies and the level (FORMAT). out is written only at the end. */
static cl_status c_deserialize(slots_ctx *ctx, const uint8_t *buf, size_t len, slots_vec *out, int *level)
{
    if (len < 4)
        return CL_ERR_TRUNCATED;
    if (memcmp(buf, CLEAR_WIRE_MAGIC, 4) != 0)
        return CL_ERR_FORMAT;
    if (len < 6)
        return CL_ERR_TRUNCATED;
    if (get_le(buf + 4, 2) != CLEAR_WIRE_VERSION)
        return CL_ERR_VERSION;
    if (len < CLEAR_WIRE_HEADER)
        return CL_ERR_TRUNCATED;
    const uint64_t total = get_le(buf + 8, 8);
    if (total > (uint64_t)len)
        return CL_ERR_TRUNCATED;
    if (total < (uint64_t)len || total < CLEAR_WIRE_HEADER + CLEAR_WIRE_FIXED + CLEAR_WIRE_SUM)
        return CL_ERR_FORMAT;
    if (sodium_init() < 0)
        return CL_ERR_RNG;
    uint8_t sum[CLEAR_WIRE_SUM];
    crypto_generichash(sum, sizeof sum, buf, len - CLEAR_WIRE_SUM, NULL, 0);
    if (sodium_memcmp(sum, buf + len - CLEAR_WIRE_SUM, CLEAR_WIRE_SUM) != 0)
        return CL_ERR_CHECKSUM;
    if (get_le(buf + 6, 2) != 0) /* no flags are defined in version 1 */
        return CL_ERR_FORMAT;
    const uint64_t slots = get_le(buf + 16, 4), top = get_le(buf + 20, 2), lev = get_le(buf + 22, 2);
    if (slots != (uint64_t)ctx->slots || top != (uint64_t)ctx->top_level)
        return CL_ERR_PARAMS;
    if ((uint64_t)len != clear_wire_size(slots) || lev > top)
        return CL_ERR_FORMAT;
    const uint8_t *r = buf + CLEAR_WIRE_HEADER + CLEAR_WIRE_FIXED;
    double *x = data(out);
    for (size_t i = 0; i < ctx->slots; i++, r += 8) {
        const uint64_t bits = get_le(r, 8);
        memcpy(&x[i], &bits, sizeof x[i]);
    }
    *level = (int)lev;
    return CL_OK;
}

/* A wide context: its own scratch and noise stream, the narrow one's noise level. */
static cl_status c_wide_init(slots_ctx *narrow, slots_ctx *wide)
{
    const clear_state *ns = narrow->impl;
    clear_state *s = calloc(1, sizeof *s);
    if (!s || !(s->tmp = malloc(wide->slots * sizeof(double)))) {
        free(s);
        return CL_ERR_NOMEM;
    }
    s->noise = ns->noise;
    s->rng = ns->rng ^ 0x6a09e667f3bcc909ULL;
    wide->impl = s;
    return CL_OK;
}

static cl_status c_relabel(const slots_vec *a, slots_vec *out)
{
    const size_t na = a->ctx->slots, no = out->ctx->slots;
    const double *x = data(a);
    double *y = data(out);
    if (no >= na) { /* widen: repeat */
        for (size_t b = 0; b < no; b += na)
            memmove(y + b, x, na * sizeof *y);
        return CL_OK;
    }
    /* narrow: block 0, which every block must equal when nothing is noisy */
    const clear_state *s = a->ctx->impl;
    if (s->noise <= 0)
        for (size_t i = no; i < na; i++)
            if (x[i] != x[i % no] && !(isnan(x[i]) && isnan(x[i % no])))
                return CL_ERR_INVALID;
    memmove(y, x, no * sizeof *y);
    return CL_OK;
}

static void c_ctx_release(slots_ctx *ctx)
{
    clear_state *s = ctx->impl;
    if (s)
        free(s->tmp);
    free(s);
}

static const slots_backend clear_backend = {
    .name = "clear",
    .vec_init = c_vec_init,
    .vec_release = c_vec_release,
    .encrypt = c_encrypt,
    .decrypt = c_decrypt,
    .copy = c_copy,
    .add = c_add,
    .neg = c_neg,
    .add_plain = c_add_plain,
    .add_const = c_add_const,
    .mul = c_mul,
    .mul_plain = c_mul_plain,
    .mul_const = c_mul_const,
    .rotate = c_rotate,
    .drop_level = c_drop_level,
    .refresh = c_refresh,
    .ctx_release = c_ctx_release,
    .owner_release = NULL,
    .serialize = c_serialize,
    .deserialize = c_deserialize,
    .wide_init = c_wide_init,
    .relabel = c_relabel,
};

cl_status slots_clear_create(const slots_clear_config *cfg, slots_ctx **ctx_out, slots_owner **owner_out)
{
    if (!cfg || !ctx_out)
        return CL_ERR_INVALID;
    if (cfg->slots == 0 || (cfg->slots & (cfg->slots - 1)) || cfg->slots > ((size_t)1 << 20) || cfg->levels < 1 ||
        cfg->levels > 64 || !(cfg->noise >= 0) || !isfinite(cfg->noise))
        return CL_ERR_INVALID;
    slots_ctx *ctx = calloc(1, sizeof *ctx);
    clear_state *s = calloc(1, sizeof *s);
    slots_owner *o = owner_out ? calloc(1, sizeof *o) : NULL;
    if (!ctx || !s || (owner_out && !o) || !(s->tmp = malloc(cfg->slots * sizeof(double)))) {
        if (s)
            free(s->tmp);
        free(s);
        free(ctx);
        free(o);
        return CL_ERR_NOMEM;
    }
    s->noise = cfg->noise;
    s->rng = cfg->seed;
    ctx->be = &clear_backend;
    ctx->slots = cfg->slots;
    ctx->top_level = cfg->levels;
    ctx->impl = s;
    slots_reset_counters(ctx);
    if (o) {
        o->ctx = ctx;
        o->be = &clear_backend;
        *owner_out = o;
    }
    *ctx_out = ctx;
    return CL_OK;
}

cl_status slots_clear_map(slots_ctx *ctx, const slots_vec *a, double (*fn)(double x, void *user), void *user,
                          slots_vec *out)
{
    if (!ctx || !a || !fn || !out || a->ctx != ctx || out->ctx != ctx)
        return CL_ERR_INVALID;
    if (ctx->be != &clear_backend)
        return CL_ERR_UNSUPPORTED;
    if (a->level < 0)
        return CL_ERR_STATE;
    const double *x = data(a);
    double *y = data(out);
    for (size_t i = 0; i < ctx->slots; i++)
        y[i] = fn(x[i], user);
    out->level = a->level;
    return CL_OK;
}
