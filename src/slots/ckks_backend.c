/* The CKKS backend of the slot machine: vectors are ciphertexts of the ckks
 * layer.
 *
 * Scales. Every vector at level l has exactly the scale s_l, with
 * s_L = 2^scale_bits and s_{l-1} = s_l^2 / q_l. Then:
 *   - a product of two vectors at level l, rescaled, has scale s_l^2/q_l = s_{l-1};
 *   - plaintext values and constants are encoded at s_l, so the same holds for them;
 *   - bringing a vector from level l down to l' < l drops limbs to l'+1 (the
 *     scale stays s_l), multiplies by the constant 1 encoded at
 *     s_{l'} q_{l'+1} / s_l, and rescales. The scale lands exactly on s_{l'}
 *     (one constant multiplication, no extra level). Dividing by s_{l'+1}
 *     instead would be off by s_l / s_{l'+1}, a relative error of 1e-6 at
 *     test-n12 and of percents at n15, where the s_l drift further apart.
 * Additions therefore always see equal scales, and the learning code never
 * deals with scales.
 *
 * Roles. The platform's context holds the evaluation keys and an evaluator.
 * The owner holds the secret key. It encrypts with it (ckks_encrypt_sk: the
 * uniform part is expanded from a fresh seed, so a fresh ciphertext travels
 * at half the size of a public-key encryption, and costs about a third of its
 * time), and refreshes by decrypting and re-encrypting so at the top level. In a single process, the context reaches the
 * owner through a callback; the platform never sees a decrypted value. Across
 * processes, vectors travel as ciphertexts in the ckks serialization format
 * (slots_vec_serialize), and a context made with keys == NULL serves an owner
 * that only encrypts, decrypts and (de)serializes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/ckks.h"
#include "slots/slots_internal.h"

typedef struct ckks_state {
    const ckks_params *params;
    ckks_evaluator *ev;
    ckks_encoder *enc;
    ckks_plaintext *pt;
    ckks_ciphertext *tmp_a, *tmp_b; /* level alignment */
    ckks_ciphertext *acc, *prod;    /* slots_dot: a sum of unrelinearized products */
    double scale[64];               /* s_l */
    slots_refresh_fn refresh;
    void *refresh_user;
    /* Encoded plaintext values, reused while the same values come back at the
     * same level and slot count (masks: the replay's, HE-Adam's packing);
     * looked up by content, so a caller may change its buffer freely. */
    struct pt_entry {
        ckks_plaintext *pt;
        double *values;
        size_t slots;
        int level;
        uint64_t used;
    } cache[16];
    uint64_t clock;
} ckks_state;

typedef struct ckks_owner_state {
    const ckks_secret_key *sk;
    ckks_encoder *enc;
    ckks_plaintext *pt;
    double *buf;
} ckks_owner_state;

static ckks_ciphertext *ct_of(const slots_vec *v)
{
    return (ckks_ciphertext *)v->impl;
}

static cl_status k_vec_init(slots_ctx *ctx, slots_vec *v)
{
    ckks_state *s = ctx->impl;
    ckks_ciphertext *ct;
    cl_status st = ckks_ciphertext_create(s->params, &ct);
    if (st == CL_OK)
        v->impl = ct;
    return st;
}

static void k_vec_release(slots_vec *v)
{
    ckks_ciphertext_free(ct_of(v));
}

enum { PT_CACHE = sizeof(((ckks_state *)0)->cache) / sizeof(((ckks_state *)0)->cache[0]) };

/* The context's S values encoded at `level` (scale s_level), from the cache
 * when they were encoded there before; else encoded into the least recently
 * used entry. */
static cl_status encode_cached(slots_ctx *ctx, const double *values, int level, const ckks_plaintext **out)
{
    ckks_state *s = ctx->impl;
    const size_t n = ctx->slots;
    size_t victim = 0;
    for (size_t i = 0; i < PT_CACHE; i++) {
        struct pt_entry *e = &s->cache[i];
        if (e->pt && e->slots == n && e->level == level && !memcmp(e->values, values, n * sizeof *values)) {
            e->used = ++s->clock;
            *out = e->pt;
            return CL_OK;
        }
        if (!s->cache[i].pt || s->cache[i].used < s->cache[victim].used)
            victim = i;
        if (!s->cache[victim].pt)
            break;
    }
    struct pt_entry *e = &s->cache[victim];
    cl_status st;
    if (!e->pt && (st = ckks_plaintext_create(s->params, &e->pt)) != CL_OK)
        return st;
    if (e->slots != n || !e->values) {
        double *v = realloc(e->values, n * sizeof *v);
        if (!v)
            return CL_ERR_NOMEM;
        e->values = v;
        e->slots = n;
    }
    e->level = -1; /* not valid until encoded */
    if ((st = ckks_encode(s->enc, values, n, n, level, s->scale[level], e->pt)) != CL_OK)
        return st;
    memcpy(e->values, values, n * sizeof *values);
    e->level = level;
    e->used = ++s->clock;
    *out = e->pt;
    return CL_OK;
}

/* a (at a level >= level) as a ciphertext at `level` with scale s_level: a itself
 * when it is there already, else a copy brought down in `tmp`. */
static cl_status at_level(slots_ctx *ctx, const ckks_ciphertext *a, int level, ckks_ciphertext *tmp,
                          const ckks_ciphertext **res)
{
    ckks_state *s = ctx->impl;
    int la = ckks_ciphertext_level(a);
    if (la == level) {
        *res = a;
        return CL_OK;
    }
    cl_status st;
    if ((st = ckks_drop_level(s->ev, a, level + 1, tmp)) != CL_OK)
        return st;
    /* Dropping primes keeps the scale: tmp still has a's, s_la, which is not
     * s_{level+1} when a was more than one level up (the s_l drift apart,
     * s_{l-1} = s_l^2 / q_l). The constant divides by the scale tmp has. */
    const double c_scale = s->scale[level] * (double)ckks_params_prime(s->params, (size_t)level + 1) /
                           ckks_ciphertext_scale(tmp);
    if ((st = ckks_mul_const(s->ev, tmp, 1.0, c_scale, tmp)) != CL_OK || (st = ckks_rescale(s->ev, tmp, tmp)) != CL_OK)
        return st;
    /* The product of the doubles above equals s_level up to rounding; pin it. */
    if ((st = ckks_ciphertext_set_scale(tmp, s->scale[level])) != CL_OK)
        return st;
    *res = tmp;
    return CL_OK;
}

static cl_status k_encrypt(slots_owner *o, const double *values, size_t n, slots_vec *out)
{
    ckks_owner_state *os = o->impl;
    ckks_state *s = o->ctx->impl;
    const int top = o->ctx->top_level;
    cl_status st = ckks_encode(os->enc, values, n, o->ctx->slots, top, s->scale[top], os->pt);
    if (st != CL_OK)
        return st;
    return ckks_encrypt_sk(os->sk, os->pt, ct_of(out));
}

static cl_status k_decrypt(slots_owner *o, const slots_vec *v, double *values, size_t n)
{
    ckks_owner_state *os = o->impl;
    cl_status st = ckks_decrypt(os->sk, ct_of(v), os->pt);
    if (st != CL_OK)
        return st;
    return ckks_decode(os->enc, os->pt, values, NULL, n);
}

static cl_status k_copy(slots_ctx *ctx, const slots_vec *a, slots_vec *out)
{
    (void)ctx;
    return ckks_ciphertext_copy(ct_of(out), ct_of(a));
}

static cl_status k_add(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, int sign, int level, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    const ckks_ciphertext *x, *y;
    cl_status st;
    if ((st = at_level(ctx, ct_of(a), level, s->tmp_a, &x)) != CL_OK ||
        (st = at_level(ctx, ct_of(b), level, s->tmp_b, &y)) != CL_OK)
        return st;
    return sign > 0 ? ckks_add(s->ev, x, y, ct_of(out)) : ckks_sub(s->ev, x, y, ct_of(out));
}

static cl_status k_neg(slots_ctx *ctx, const slots_vec *a, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    return ckks_negate(s->ev, ct_of(a), ct_of(out));
}

static cl_status k_add_plain(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    const ckks_plaintext *pt;
    cl_status st = encode_cached(ctx, values, a->level, &pt);
    return st != CL_OK ? st : ckks_add_plain(s->ev, ct_of(a), pt, ct_of(out));
}

static cl_status k_add_const(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    return ckks_add_const(s->ev, ct_of(a), c, ct_of(out));
}

static cl_status k_mul(slots_ctx *ctx, const slots_vec *a, const slots_vec *b, int level, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    const ckks_ciphertext *x, *y;
    cl_status st;
    if ((st = at_level(ctx, ct_of(a), level, s->tmp_a, &x)) != CL_OK ||
        (st = at_level(ctx, ct_of(b), level, s->tmp_b, &y)) != CL_OK ||
        (st = ckks_mul_relin(s->ev, x, y, ct_of(out))) != CL_OK || (st = ckks_rescale(s->ev, ct_of(out), ct_of(out))) != CL_OK)
        return st;
    return ckks_ciphertext_set_scale(ct_of(out), s->scale[level - 1]);
}

/* sum_i a[i] * b[i]: tensor products summed while still of size 3, then one
 * relinearization and one rescale (relinearization is linear, so this is the
 * sum of the relinearized products up to the key-switching noise of one). */
static cl_status k_dot(slots_ctx *ctx, const slots_vec *const *a, const slots_vec *const *b, size_t n, int level,
                       slots_vec *out)
{
    ckks_state *s = ctx->impl;
    cl_status st = CL_OK;
    for (size_t i = 0; i < n && st == CL_OK; i++) {
        const ckks_ciphertext *x, *y;
        if ((st = at_level(ctx, ct_of(a[i]), level, s->tmp_a, &x)) != CL_OK ||
            (st = at_level(ctx, ct_of(b[i]), level, s->tmp_b, &y)) != CL_OK)
            break;
        if (i == 0)
            st = ckks_mul(s->ev, x, y, s->acc);
        else if ((st = ckks_mul(s->ev, x, y, s->prod)) == CL_OK)
            st = ckks_add(s->ev, s->acc, s->prod, s->acc);
    }
    if (st != CL_OK || (st = ckks_relinearize(s->ev, s->acc, ct_of(out))) != CL_OK ||
        (st = ckks_rescale(s->ev, ct_of(out), ct_of(out))) != CL_OK)
        return st;
    return ckks_ciphertext_set_scale(ct_of(out), s->scale[level - 1]);
}

static cl_status k_mul_plain(slots_ctx *ctx, const slots_vec *a, const double *values, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    const int level = a->level;
    const ckks_plaintext *pt;
    cl_status st;
    if ((st = encode_cached(ctx, values, level, &pt)) != CL_OK ||
        (st = ckks_mul_plain(s->ev, ct_of(a), pt, ct_of(out))) != CL_OK ||
        (st = ckks_rescale(s->ev, ct_of(out), ct_of(out))) != CL_OK)
        return st;
    return ckks_ciphertext_set_scale(ct_of(out), s->scale[level - 1]);
}

/* sum_i a[i] (.) values[i]: the products summed at scale s_l^2, one rescale */
static cl_status k_dot_plain(slots_ctx *ctx, const slots_vec *const *a, const double *const *values, size_t n,
                             int level, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    cl_status st = CL_OK;
    for (size_t i = 0; i < n && st == CL_OK; i++) {
        const ckks_ciphertext *x;
        const ckks_plaintext *pt;
        if ((st = at_level(ctx, ct_of(a[i]), level, s->tmp_a, &x)) != CL_OK ||
            (st = encode_cached(ctx, values[i], level, &pt)) != CL_OK)
            break;
        if (i == 0)
            st = ckks_mul_plain(s->ev, x, pt, ct_of(out));
        else if ((st = ckks_mul_plain(s->ev, x, pt, s->prod)) == CL_OK)
            st = ckks_add(s->ev, ct_of(out), s->prod, ct_of(out));
    }
    if (st != CL_OK || (st = ckks_rescale(s->ev, ct_of(out), ct_of(out))) != CL_OK)
        return st;
    return ckks_ciphertext_set_scale(ct_of(out), s->scale[level - 1]);
}

static cl_status k_mul_const(slots_ctx *ctx, const slots_vec *a, double c, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    const int level = a->level;
    cl_status st;
    if ((st = ckks_mul_const(s->ev, ct_of(a), c, s->scale[level], ct_of(out))) != CL_OK ||
        (st = ckks_rescale(s->ev, ct_of(out), ct_of(out))) != CL_OK)
        return st;
    return ckks_ciphertext_set_scale(ct_of(out), s->scale[level - 1]);
}

static cl_status k_rotate(slots_ctx *ctx, const slots_vec *a, int k, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    return ckks_rotate(s->ev, ct_of(a), k, ct_of(out));
}

static cl_status k_rotate_many(slots_ctx *ctx, const slots_vec *a, const int *steps, size_t n, slots_vec *const *outs)
{
    ckks_state *s = ctx->impl;
    ckks_ciphertext *cts[64];
    if (n > 64)
        return CL_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        cts[i] = ct_of(outs[i]);
    return ckks_rotate_hoisted(s->ev, ct_of(a), steps, n, cts);
}

static cl_status k_drop_level(slots_ctx *ctx, const slots_vec *a, int level, slots_vec *out)
{
    ckks_state *s = ctx->impl;
    const ckks_ciphertext *x;
    cl_status st = at_level(ctx, ct_of(a), level, s->tmp_a, &x);
    if (st != CL_OK)
        return st;
    return ckks_ciphertext_copy(ct_of(out), x);
}

static cl_status k_refresh(slots_ctx *ctx, slots_vec *v)
{
    ckks_state *s = ctx->impl;
    if (!s->refresh)
        return CL_ERR_STATE;
    return s->refresh(s->refresh_user, ct_of(v));
}

static void k_ctx_release(slots_ctx *ctx)
{
    ckks_state *s = ctx->impl;
    if (!s || ctx->parent) /* a wide context shares its narrow one's state */
        return;
    ckks_evaluator_free(s->ev);
    ckks_encoder_free(s->enc);
    ckks_plaintext_free(s->pt);
    ckks_ciphertext_free(s->tmp_a);
    ckks_ciphertext_free(s->tmp_b);
    ckks_ciphertext_free(s->acc);
    ckks_ciphertext_free(s->prod);
    for (size_t i = 0; i < PT_CACHE; i++) {
        ckks_plaintext_free(s->cache[i].pt);
        free(s->cache[i].values);
    }
    free(s);
}

static void k_owner_release(slots_owner *o)
{
    ckks_owner_state *os = o->impl;
    if (!os)
        return;
    ckks_encoder_free(os->enc);
    ckks_plaintext_free(os->pt);
    free(os->buf);
    free(os);
}

static uint64_t k_wire_bytes(const slots_vec *v)
{
    size_t len = 0;
    return ckks_ciphertext_serialize(ct_of(v), NULL, 0, &len) == CL_OK ? (uint64_t)len : 0;
}

static cl_status k_serialize(const slots_vec *v, uint8_t *buf, size_t cap, size_t *len)
{
    return ckks_ciphertext_serialize(ct_of(v), buf, cap, len);
}

/* The ciphertext format carries the fingerprint (checked by the ckks layer),
 * the level, the slot count and the scale. What a vector of this context must
 * also be: S slots (else another context: CL_ERR_PARAMS), relinearized, and at
 * the scale s_l of its level l (else not a vector of such a context:
 * CL_ERR_FORMAT). out changes only once all of that holds. */
static cl_status k_deserialize(slots_ctx *ctx, const uint8_t *buf, size_t len, slots_vec *out, int *level)
{
    ckks_state *s = ctx->impl;
    ckks_ciphertext *ct = NULL;
    cl_status st = ckks_ciphertext_deserialize(s->params, buf, len, &ct);
    if (st != CL_OK)
        return st;
    const int l = ckks_ciphertext_level(ct);
    if (ckks_ciphertext_slots(ct) != ctx->slots)
        st = CL_ERR_PARAMS;
    else if (l < 0 || l > ctx->top_level || ckks_ciphertext_size(ct) != 2 ||
             !(fabs(ckks_ciphertext_scale(ct) - s->scale[l]) <= 1e-9 * s->scale[l]))
        st = CL_ERR_FORMAT;
    else
        st = ckks_ciphertext_set_scale(ct, s->scale[l]); /* pin it, as every operation does */
    if (st != CL_OK) {
        ckks_ciphertext_free(ct);
        return st;
    }
    ckks_ciphertext_free(ct_of(out));
    out->impl = ct;
    *level = l;
    return CL_OK;
}

/* A wide context shares the narrow one's state: evaluator, keys, encoder,
 * scales and refresher; only the slot count it encodes with differs. */
static cl_status k_wide_init(slots_ctx *narrow, slots_ctx *wide)
{
    const ckks_state *s = narrow->impl;
    if (wide->slots > ckks_params_max_slots(s->params))
        return CL_ERR_INVALID;
    wide->impl = narrow->impl;
    return CL_OK;
}

static cl_status k_relabel(const slots_vec *a, slots_vec *out)
{
    cl_status st = ckks_ciphertext_copy(ct_of(out), ct_of(a));
    return st != CL_OK ? st : ckks_ciphertext_set_slots(ct_of(out), out->ctx->slots);
}

static const slots_backend ckks_backend = {
    .wide_init = k_wide_init,
    .relabel = k_relabel,
    .serialize = k_serialize,
    .deserialize = k_deserialize,
    .wire_bytes = k_wire_bytes,
    .name = "ckks",
    .vec_init = k_vec_init,
    .vec_release = k_vec_release,
    .encrypt = k_encrypt,
    .decrypt = k_decrypt,
    .copy = k_copy,
    .add = k_add,
    .neg = k_neg,
    .add_plain = k_add_plain,
    .add_const = k_add_const,
    .mul = k_mul,
    .mul_plain = k_mul_plain,
    .mul_const = k_mul_const,
    .rotate = k_rotate,
    .dot = k_dot,
    .dot_plain = k_dot_plain,
    .rotate_many = k_rotate_many,
    .drop_level = k_drop_level,
    .refresh = k_refresh,
    .ctx_release = k_ctx_release,
    .owner_release = k_owner_release,
};

cl_status slots_ckks_create(const ckks_params *params, const ckks_eval_keys *keys, size_t slots, slots_ctx **out)
{
    if (!params || !out)
        return CL_ERR_INVALID;
    if (slots == 0 || (slots & (slots - 1)) || slots > ckks_params_max_slots(params))
        return CL_ERR_INVALID;
    /* keys == NULL: an encrypt/decrypt/(de)serialize-only context; keys given
     * without a relinearization key are most likely a mistake */
    if (keys && !ckks_eval_keys_has_relin(keys))
        return CL_ERR_NOKEY;
    const int top = ckks_params_max_level(params);
    if (top < 1 || top >= 64)
        return CL_ERR_PARAMS;
    slots_ctx *ctx = calloc(1, sizeof *ctx);
    ckks_state *s = calloc(1, sizeof *s);
    if (!ctx || !s) {
        free(ctx);
        free(s);
        return CL_ERR_NOMEM;
    }
    ctx->be = &ckks_backend;
    ctx->slots = slots;
    ctx->top_level = top;
    ctx->impl = s;
    s->params = params;
    cl_status st;
    if ((st = ckks_evaluator_create(params, keys, &s->ev)) != CL_OK ||
        (st = ckks_encoder_create(params, &s->enc)) != CL_OK || (st = ckks_plaintext_create(params, &s->pt)) != CL_OK ||
        (st = ckks_ciphertext_create(params, &s->tmp_a)) != CL_OK ||
        (st = ckks_ciphertext_create(params, &s->tmp_b)) != CL_OK ||
        (st = ckks_ciphertext_create(params, &s->acc)) != CL_OK ||
        (st = ckks_ciphertext_create(params, &s->prod)) != CL_OK) {
        slots_ctx_free(ctx);
        return st;
    }
    s->scale[top] = ckks_params_default_scale(params);
    for (int l = top; l > 0; l--)
        s->scale[l - 1] = s->scale[l] * s->scale[l] / (double)ckks_params_prime(params, (size_t)l);
    slots_reset_counters(ctx);
    *out = ctx;
    return CL_OK;
}

const ckks_params *slots_ckks_params(const slots_ctx *ctx)
{
    if (!ctx || ctx->be != &ckks_backend)
        return NULL;
    const ckks_state *s = ctx->impl;
    return s->params;
}

void slots_ckks_set_refresher(slots_ctx *ctx, slots_refresh_fn fn, void *user)
{
    if (!ctx || ctx->be != &ckks_backend)
        return;
    ckks_state *s = ctx->impl;
    s->refresh = fn;
    s->refresh_user = user;
}

cl_status slots_ckks_owner_create(slots_ctx *ctx, const ckks_secret_key *sk, slots_owner **out)
{
    if (!ctx || !sk || !out || ctx->be != &ckks_backend)
        return CL_ERR_INVALID;
    ckks_state *s = ctx->impl;
    slots_owner *o = calloc(1, sizeof *o);
    ckks_owner_state *os = calloc(1, sizeof *os);
    if (!o || !os) {
        free(o);
        free(os);
        return CL_ERR_NOMEM;
    }
    o->ctx = ctx;
    o->be = &ckks_backend;
    o->impl = os;
    os->sk = sk;
    cl_status st;
    os->buf = malloc(ckks_params_max_slots(s->params) * sizeof *os->buf); /* wide vectors' refreshes too */
    if (!os->buf)
        st = CL_ERR_NOMEM;
    else if ((st = ckks_encoder_create(s->params, &os->enc)) == CL_OK)
        st = ckks_plaintext_create(s->params, &os->pt);
    if (st != CL_OK) {
        slots_owner_free(o);
        return st;
    }
    *out = o;
    return CL_OK;
}

cl_status slots_ckks_owner_refresh(void *owner, ckks_ciphertext *ct)
{
    slots_owner *o = owner;
    if (!o || !ct || o->be != &ckks_backend)
        return CL_ERR_INVALID;
    ckks_owner_state *os = o->impl;
    ckks_state *s = o->ctx->impl;
    const int top = o->ctx->top_level;
    /* the ciphertext's own slot count: a wide context's vectors come here too */
    const size_t n = ckks_ciphertext_slots(ct);
    cl_status st;
    /* decrypt, then a fresh encryption at the top level; nothing decrypted leaves */
    if ((st = ckks_decrypt(os->sk, ct, os->pt)) != CL_OK || (st = ckks_decode(os->enc, os->pt, os->buf, NULL, n)) != CL_OK ||
        (st = ckks_encode(os->enc, os->buf, n, n, top, s->scale[top], os->pt)) != CL_OK ||
        (st = ckks_encrypt_sk(os->sk, os->pt, ct)) != CL_OK)
        return st;
    return CL_OK;
}
