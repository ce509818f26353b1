/* Slot vectors on the wire: slots_vec_serialize / slots_vec_deserialize on
 * both backends, as an owner and a platform in different processes would use
 * them (every object the second side uses is rebuilt from bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cipherl/slots.h"

#define S 16

/* ------------------------------------------------------------------ helpers */

/* v's wire form in a new buffer (checks the size query against the write). */
static uint8_t *wire(const slots_vec *v, size_t *len)
{
    size_t need = 0;
    assert_int_equal(slots_vec_serialize(v, NULL, 0, &need), CL_OK);
    assert_true(need > 0);
    uint8_t *buf = malloc(need);
    assert_non_null(buf);
    assert_int_equal(slots_vec_serialize(v, buf, need, len), CL_OK);
    assert_int_equal(*len, need);
    return buf;
}

/* Re-seals a clear record after the test edited a field (a valid checksum). */
static void reseal(uint8_t *buf, size_t len)
{
    assert_true(sodium_init() >= 0);
    crypto_generichash(buf + len - 32, 32, buf, len - 32, NULL, 0);
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* ------------------------------------------------------------ clear backend */

static slots_ctx *clear_ctx(size_t slots, int levels, double noise, slots_owner **owner)
{
    slots_clear_config cfg = {.slots = slots, .levels = levels, .noise = noise, .seed = 7};
    slots_ctx *ctx = NULL;
    assert_int_equal(slots_clear_create(&cfg, &ctx, owner), CL_OK);
    return ctx;
}

static void test_clear_round_trip(void **state)
{
    (void)state;
    slots_owner *oa, *ob;
    /* noise on the sender: values with full 53-bit mantissas */
    slots_ctx *a = clear_ctx(S, 3, 1e-3, &oa), *b = clear_ctx(S, 3, 0, &ob);
    double x[S], y[S], got[S], want[S];
    for (int i = 0; i < S; i++) {
        x[i] = sin(0.37 * i) * 1e3;
        y[i] = cos(0.11 * i) - 0.5;
    }
    x[3] = -0.0;
    slots_vec *va, *wa, *vb;
    assert_int_equal(slots_vec_create(a, &va), CL_OK);
    assert_int_equal(slots_vec_create(a, &wa), CL_OK);
    assert_int_equal(slots_vec_create(b, &vb), CL_OK);

    /* fresh, at the top level */
    assert_int_equal(slots_encrypt(oa, x, S, va), CL_OK);
    size_t len;
    uint8_t *buf = wire(va, &len);
    assert_int_equal(len, 16 + 8 + 8 * S + 32);
    assert_memory_equal(buf, "CLSV", 4);
    assert_int_equal(slots_vec_deserialize(b, buf, len, vb), CL_OK);
    assert_int_equal(slots_level(vb), 3);
    assert_int_equal(slots_decrypt(oa, va, want, S), CL_OK);
    assert_int_equal(slots_decrypt(ob, vb, got, S), CL_OK);
    assert_memory_equal(got, want, sizeof got); /* bit for bit, -0.0 included */
    /* canonical: the receiver writes the same bytes */
    size_t len2;
    uint8_t *buf2 = wire(vb, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf2);
    free(buf);

    /* after operations, at a lower level */
    assert_int_equal(slots_encrypt(oa, y, S, wa), CL_OK);
    assert_int_equal(slots_mul(a, va, wa, va), CL_OK);
    assert_int_equal(slots_rotate(a, va, 3, va), CL_OK);
    assert_int_equal(slots_mul_const(a, va, 0.25, va), CL_OK);
    assert_int_equal(slots_add(a, va, wa, va), CL_OK);
    assert_int_equal(slots_level(va), 1);
    buf = wire(va, &len);
    assert_int_equal(slots_vec_deserialize(b, buf, len, vb), CL_OK);
    assert_int_equal(slots_level(vb), 1);
    assert_int_equal(slots_decrypt(oa, va, want, S), CL_OK);
    assert_int_equal(slots_decrypt(ob, vb, got, S), CL_OK);
    assert_memory_equal(got, want, sizeof got);
    /* the receiver keeps computing with it under the same level rules */
    assert_int_equal(slots_mul_const(b, vb, 2.0, vb), CL_OK);
    assert_int_equal(slots_level(vb), 0);
    assert_int_equal(slots_mul_const(b, vb, 2.0, vb), CL_ERR_LEVEL);
    free(buf);

    /* level 0 round trips too */
    buf = wire(vb, &len);
    assert_int_equal(slots_vec_deserialize(a, buf, len, wa), CL_OK);
    assert_int_equal(slots_level(wa), 0);
    free(buf);

    /* a buffer too small: refused, with the size needed */
    uint8_t small[8];
    size_t need = 0;
    assert_int_equal(slots_vec_serialize(va, small, sizeof small, &need), CL_ERR_INVALID);
    assert_int_equal(need, 16 + 8 + 8 * S + 32);
    /* serialization counts nothing */
    assert_int_equal(slots_get_counters(b)->bytes_to_owner, 0);
    assert_int_equal(slots_get_counters(b)->bytes_to_platform, 0);

    slots_vec_free(va);
    slots_vec_free(wa);
    slots_vec_free(vb);
    slots_owner_free(oa);
    slots_owner_free(ob);
    slots_ctx_free(a);
    slots_ctx_free(b);
}

/* out still holds `keep` at level `level`. */
static void assert_unchanged(slots_owner *o, const slots_vec *out, const double *keep, int level)
{
    double got[S];
    assert_int_equal(slots_level(out), level);
    assert_int_equal(slots_decrypt(o, out, got, S), CL_OK);
    assert_memory_equal(got, keep, sizeof got);
}

static void test_clear_refused(void **state)
{
    (void)state;
    slots_owner *o;
    slots_ctx *ctx = clear_ctx(S, 3, 0, &o);
    double x[S], keep[S];
    for (int i = 0; i < S; i++) {
        x[i] = 1.5 * i - 4;
        keep[i] = -100.0 - i;
    }
    slots_vec *v, *out, *empty;
    assert_int_equal(slots_vec_create(ctx, &v), CL_OK);
    assert_int_equal(slots_vec_create(ctx, &out), CL_OK);
    assert_int_equal(slots_vec_create(ctx, &empty), CL_OK);
    assert_int_equal(slots_encrypt(o, x, S, v), CL_OK);
    /* out: `keep` at level 2 */
    assert_int_equal(slots_encrypt(o, keep, S, out), CL_OK);
    assert_int_equal(slots_drop_level(ctx, out, 2, out), CL_OK);

    size_t len;
    uint8_t *good = wire(v, &len);
    uint8_t *bad = malloc(len + 1);
    assert_non_null(bad);

    /* arguments, empty vector */
    size_t n;
    assert_int_equal(slots_vec_serialize(empty, NULL, 0, &n), CL_ERR_STATE);
    assert_int_equal(slots_vec_serialize(v, NULL, 0, NULL), CL_ERR_INVALID);
    assert_int_equal(slots_vec_serialize(NULL, NULL, 0, &n), CL_ERR_INVALID);
    assert_int_equal(slots_vec_deserialize(ctx, NULL, len, out), CL_ERR_INVALID);
    assert_int_equal(slots_vec_deserialize(NULL, good, len, out), CL_ERR_INVALID);
    assert_int_equal(slots_vec_deserialize(ctx, good, len, NULL), CL_ERR_INVALID);

    /* another slot count, another top level: other parameters */
    slots_owner *o32;
    slots_ctx *c32 = clear_ctx(2 * S, 3, 0, &o32), *c4 = clear_ctx(S, 4, 0, NULL);
    slots_vec *v32, *v4;
    assert_int_equal(slots_vec_create(c32, &v32), CL_OK);
    assert_int_equal(slots_vec_create(c4, &v4), CL_OK);
    assert_int_equal(slots_vec_deserialize(c32, good, len, v32), CL_ERR_PARAMS);
    assert_int_equal(slots_vec_deserialize(c4, good, len, v4), CL_ERR_PARAMS);
    assert_int_equal(slots_level(v32), -1);
    assert_int_equal(slots_level(v4), -1);
    /* the other way: a 2S-slot vector into an S-slot context */
    double x32[2 * S] = {0};
    assert_int_equal(slots_encrypt(o32, x32, 2 * S, v32), CL_OK);
    size_t len32;
    uint8_t *w32 = wire(v32, &len32);
    assert_int_equal(slots_vec_deserialize(ctx, w32, len32, out), CL_ERR_PARAMS);
    free(w32);
    /* a vector of another context as out */
    assert_int_equal(slots_vec_deserialize(ctx, good, len, v4), CL_ERR_PARAMS);
    assert_unchanged(o, out, keep, 2);

    /* truncated, at every length */
    for (size_t l = 0; l < len; l++)
        assert_int_equal(slots_vec_deserialize(ctx, good, l, out), CL_ERR_TRUNCATED);
    /* a byte too many */
    memcpy(bad, good, len);
    bad[len] = 0;
    assert_int_equal(slots_vec_deserialize(ctx, bad, len + 1, out), CL_ERR_FORMAT);
    /* every single flipped byte is refused */
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, good, len);
        bad[i] ^= 0x10;
        cl_status st = slots_vec_deserialize(ctx, bad, len, out);
        if (i < 4)
            assert_int_equal(st, CL_ERR_FORMAT); /* magic */
        else if (i < 6)
            assert_int_equal(st, CL_ERR_VERSION);
        else if (i >= 8 && i < 16)
            assert_true(st == CL_ERR_TRUNCATED || st == CL_ERR_FORMAT); /* total length */
        else
            assert_int_equal(st, CL_ERR_CHECKSUM);
    }
    assert_unchanged(o, out, keep, 2);

    /* fields with a valid checksum: flags, level above the top, length not matching S */
    memcpy(bad, good, len);
    put_u16(bad + 6, 1);
    reseal(bad, len);
    assert_int_equal(slots_vec_deserialize(ctx, bad, len, out), CL_ERR_FORMAT);
    memcpy(bad, good, len);
    put_u16(bad + 22, 4);
    reseal(bad, len);
    assert_int_equal(slots_vec_deserialize(ctx, bad, len, out), CL_ERR_FORMAT);
    put_u16(bad + 22, 0xffff);
    reseal(bad, len);
    assert_int_equal(slots_vec_deserialize(ctx, bad, len, out), CL_ERR_FORMAT);
    put_u16(bad + 22, 3); /* the top level itself is fine */
    reseal(bad, len);
    assert_int_equal(slots_vec_deserialize(ctx, bad, len, v), CL_OK);
    assert_int_equal(slots_level(v), 3);
    memcpy(bad, good, len);
    put_u16(bad + 4, 2);
    assert_int_equal(slots_vec_deserialize(ctx, bad, len, out), CL_ERR_VERSION);
    /* shorter record claiming S slots, internally consistent length */
    memcpy(bad, good, len - 40);
    bad[8] = (uint8_t)(len - 8);
    reseal(bad, len - 8);
    assert_int_equal(slots_vec_deserialize(ctx, bad, len - 8, out), CL_ERR_FORMAT);

    /* garbage */
    uint8_t junk[16 + 8 + 8 * S + 32];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131u + 7u);
    assert_int_equal(slots_vec_deserialize(ctx, junk, sizeof junk, out), CL_ERR_FORMAT);
    memset(junk, 0, sizeof junk);
    assert_int_equal(slots_vec_deserialize(ctx, junk, sizeof junk, out), CL_ERR_FORMAT);
    assert_unchanged(o, out, keep, 2);

    /* and the good bytes still load */
    assert_int_equal(slots_vec_deserialize(ctx, good, len, out), CL_OK);
    assert_unchanged(o, out, x, 3);

    free(good);
    free(bad);
    slots_vec_free(v);
    slots_vec_free(out);
    slots_vec_free(empty);
    slots_vec_free(v32);
    slots_vec_free(v4);
    slots_owner_free(o32);
    slots_owner_free(o);
    slots_ctx_free(c32);
    slots_ctx_free(c4);
    slots_ctx_free(ctx);
}

/* ------------------------------------------------------------- ckks backend */

#define KS 64 /* slots of the ckks contexts */

/* The owner process: its own parameters, keys, and a context with no
 * evaluation keys. */
typedef struct owner_side {
    ckks_params *params;
    ckks_secret_key *sk;
    ckks_public_key *pk;
    slots_ctx *ctx;
    slots_owner *owner;
} owner_side;

/* The platform process: parameters and evaluation keys rebuilt from bytes,
 * and (for the checks) an owner of its own with the secret key from bytes. */
typedef struct platform_side {
    ckks_params *params;
    ckks_eval_keys *keys;
    ckks_secret_key *sk;
    ckks_public_key *pk;
    slots_ctx *ctx;
    slots_owner *owner;
} platform_side;

static void owner_open(owner_side *o, const char *preset, size_t slots)
{
    memset(o, 0, sizeof *o);
    assert_int_equal(ckks_params_from_preset(preset, CKKS_ALLOW_INSECURE, &o->params), CL_OK);
    assert_int_equal(ckks_secret_key_create(o->params, &o->sk), CL_OK);
    assert_int_equal(ckks_public_key_create(o->sk, &o->pk), CL_OK);
    assert_int_equal(slots_ckks_create(o->params, NULL, slots, &o->ctx), CL_OK);
    assert_int_equal(slots_ckks_owner_create(o->ctx, o->sk, &o->owner), CL_OK);
}

static void owner_close(owner_side *o)
{
    slots_owner_free(o->owner);
    slots_ctx_free(o->ctx);
    ckks_public_key_free(o->pk);
    ckks_secret_key_free(o->sk);
    ckks_params_free(o->params);
}

static uint8_t *params_bytes(const ckks_params *p, size_t *len)
{
    assert_int_equal(ckks_params_serialize(p, NULL, 0, len), CL_OK);
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    assert_int_equal(ckks_params_serialize(p, b, *len, len), CL_OK);
    return b;
}

static void platform_open(platform_side *p, const owner_side *o, size_t slots)
{
    memset(p, 0, sizeof *p);
    size_t len;
    uint8_t *b = params_bytes(o->params, &len);
    assert_int_equal(ckks_params_deserialize(b, len, CKKS_ALLOW_INSECURE, &p->params), CL_OK);
    free(b);
    /* evaluation keys made by the owner, shipped as bytes */
    ckks_eval_keys *keys;
    const int steps[] = {1, 3};
    assert_int_equal(ckks_eval_keys_create(o->sk, CKKS_KEYS_RELIN, steps, 2, &keys), CL_OK);
    assert_int_equal(ckks_eval_keys_serialize(keys, NULL, 0, &len), CL_OK);
    b = malloc(len);
    assert_non_null(b);
    assert_int_equal(ckks_eval_keys_serialize(keys, b, len, &len), CL_OK);
    assert_int_equal(ckks_eval_keys_deserialize(p->params, b, len, &p->keys), CL_OK);
    free(b);
    ckks_eval_keys_free(keys);
    /* the same secret key, for decrypting on this side in the checks */
    assert_int_equal(ckks_secret_key_serialize(o->sk, NULL, 0, &len), CL_OK);
    b = malloc(len);
    assert_non_null(b);
    assert_int_equal(ckks_secret_key_serialize(o->sk, b, len, &len), CL_OK);
    assert_int_equal(ckks_secret_key_deserialize(p->params, b, len, &p->sk), CL_OK);
    sodium_memzero(b, len);
    free(b);
    assert_int_equal(ckks_public_key_create(p->sk, &p->pk), CL_OK);
    assert_int_equal(slots_ckks_create(p->params, p->keys, slots, &p->ctx), CL_OK);
    assert_int_equal(slots_ckks_owner_create(p->ctx, p->sk, &p->owner), CL_OK);
}

static void platform_close(platform_side *p)
{
    slots_owner_free(p->owner);
    slots_ctx_free(p->ctx);
    ckks_public_key_free(p->pk);
    ckks_secret_key_free(p->sk);
    ckks_eval_keys_free(p->keys);
    ckks_params_free(p->params);
}

/* v's ciphertext travels to `to` and is loaded into a fresh vector there. */
static slots_vec *ship(const slots_vec *v, slots_ctx *to)
{
    size_t len;
    uint8_t *b = wire(v, &len);
    slots_vec *w;
    assert_int_equal(slots_vec_create(to, &w), CL_OK);
    assert_int_equal(slots_vec_deserialize(to, b, len, w), CL_OK);
    assert_int_equal(slots_level(w), slots_level(v));
    free(b);
    return w;
}

static double max_err(slots_owner *o, const slots_vec *v, const double *want)
{
    double got[KS], err = 0;
    assert_int_equal(slots_decrypt(o, v, got, KS), CL_OK);
    for (int i = 0; i < KS; i++)
        err = fmax(err, fabs(got[i] - want[i]));
    return err;
}

/* A refresher as the platform of a two-process run would have it: the
 * ciphertext it is handed is a plain ckks ciphertext, serialized to the owner,
 * re-encrypted there and serialized back. */
typedef struct remote_owner {
    owner_side *o;
    const ckks_params *platform_params;
    int calls;
} remote_owner;

static cl_status remote_refresh(void *user, ckks_ciphertext *ct)
{
    remote_owner *r = user;
    size_t len;
    cl_status st;
    if ((st = ckks_ciphertext_serialize(ct, NULL, 0, &len)) != CL_OK)
        return st;
    uint8_t *b = malloc(len);
    if (!b)
        return CL_ERR_NOMEM;
    ckks_ciphertext *at_owner = NULL, *back = NULL;
    if ((st = ckks_ciphertext_serialize(ct, b, len, &len)) != CL_OK ||
        (st = ckks_ciphertext_deserialize(r->o->params, b, len, &at_owner)) != CL_OK ||
        (st = slots_ckks_owner_refresh(r->o->owner, at_owner)) != CL_OK)
        goto done;
    free(b);
    b = NULL;
    if ((st = ckks_ciphertext_serialize(at_owner, NULL, 0, &len)) != CL_OK)
        goto done;
    if (!(b = malloc(len))) {
        st = CL_ERR_NOMEM;
        goto done;
    }
    if ((st = ckks_ciphertext_serialize(at_owner, b, len, &len)) != CL_OK ||
        (st = ckks_ciphertext_deserialize(r->platform_params, b, len, &back)) != CL_OK)
        goto done;
    st = ckks_ciphertext_copy(ct, back);
    r->calls++;
done:
    free(b);
    ckks_ciphertext_free(at_owner);
    ckks_ciphertext_free(back);
    return st;
}

static void test_ckks_round_trip(void **state)
{
    (void)state;
    owner_side o;
    platform_side p;
    owner_open(&o, "test-n10", KS);
    platform_open(&p, &o, KS);
    assert_ptr_equal(slots_ckks_params(o.ctx), o.params);
    assert_ptr_equal(slots_ckks_params(p.ctx), p.params);
    const int top = slots_top_level(p.ctx);
    assert_int_equal(slots_top_level(o.ctx), top);

    double x[KS], y[KS], want[KS];
    for (int i = 0; i < KS; i++) {
        x[i] = 0.5 * sin(0.3 * i);
        y[i] = 0.25 * cos(0.7 * i) + 0.1;
    }
    /* the owner encrypts; the platform loads */
    slots_vec *ox, *oy;
    assert_int_equal(slots_vec_create(o.ctx, &ox), CL_OK);
    assert_int_equal(slots_vec_create(o.ctx, &oy), CL_OK);
    assert_int_equal(slots_encrypt(o.owner, x, KS, ox), CL_OK);
    assert_int_equal(slots_encrypt(o.owner, y, KS, oy), CL_OK);
    slots_vec *px = ship(ox, p.ctx), *py = ship(oy, p.ctx);
    assert_int_equal(slots_level(px), top);
    /* decrypted on the second context, by an owner holding the same secret key */
    assert_true(max_err(p.owner, px, x) < 1e-6);
    assert_true(max_err(p.owner, py, y) < 1e-6);
    /* canonical: the platform writes the bytes it read */
    {
        size_t l1, l2;
        uint8_t *b1 = wire(ox, &l1), *b2 = wire(px, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(b1, b2, l1);
        free(b1);
        free(b2);
    }

    /* the platform computes (levels top-1 and top-2, a rotation), and sends back */
    slots_vec *pz;
    assert_int_equal(slots_vec_create(p.ctx, &pz), CL_OK);
    assert_int_equal(slots_mul(p.ctx, px, py, pz), CL_OK);
    assert_int_equal(slots_mul_const(p.ctx, pz, 0.5, pz), CL_OK);
    assert_int_equal(slots_rotate(p.ctx, pz, 1, pz), CL_OK);
    assert_int_equal(slots_add(p.ctx, pz, px, pz), CL_OK);
    assert_int_equal(slots_level(pz), top - 2);
    for (int i = 0; i < KS; i++)
        want[i] = 0.5 * x[(i + 1) % KS] * y[(i + 1) % KS] + x[i];
    slots_vec *oz = ship(pz, o.ctx);
    assert_int_equal(slots_level(oz), top - 2);
    assert_true(max_err(o.owner, oz, want) < 1e-6);
    /* the owner's context computes what needs no key, at the loaded level */
    assert_int_equal(slots_mul_const(o.ctx, oz, 2.0, oz), CL_OK);
    assert_int_equal(slots_level(oz), top - 3);
    for (int i = 0; i < KS; i++)
        want[i] *= 2.0;
    assert_true(max_err(o.owner, oz, want) < 1e-6);
    /* and back to the platform at that level, where it mixes with top-level vectors */
    slots_vec *pw = ship(oz, p.ctx);
    assert_int_equal(slots_add(p.ctx, pw, py, pw), CL_OK);
    assert_int_equal(slots_level(pw), top - 3);
    for (int i = 0; i < KS; i++)
        want[i] += y[i];
    assert_true(max_err(p.owner, pw, want) < 1e-6);

    /* a refresh through a two-process style refresher */
    remote_owner r = {.o = &o, .platform_params = p.params};
    slots_ckks_set_refresher(p.ctx, remote_refresh, &r);
    assert_int_equal(slots_refresh(p.ctx, pw), CL_OK);
    assert_int_equal(r.calls, 1);
    assert_int_equal(slots_level(pw), top);
    assert_true(max_err(p.owner, pw, want) < 1e-6);
    assert_int_equal(slots_mul(p.ctx, pw, px, pw), CL_OK);
    for (int i = 0; i < KS; i++)
        want[i] *= x[i];
    slots_vec *ow = ship(pw, o.ctx);
    assert_true(max_err(o.owner, ow, want) < 1e-6);

    slots_vec *all[] = {ox, oy, px, py, pz, oz, pw, ow};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        slots_vec_free(all[i]);
    platform_close(&p);
    owner_close(&o);
}

static void test_ckks_owner_without_keys(void **state)
{
    (void)state;
    owner_side o;
    owner_open(&o, "test-n10", 8);
    double x[8] = {1, -2, 3, -4, 0.5, 0.25, -0.125, 0}, got[8];
    slots_vec *v, *w;
    assert_int_equal(slots_vec_create(o.ctx, &v), CL_OK);
    assert_int_equal(slots_vec_create(o.ctx, &w), CL_OK);
    assert_int_equal(slots_encrypt(o.owner, x, 8, v), CL_OK);
    assert_int_equal(slots_decrypt(o.owner, v, got, 8), CL_OK);
    for (int i = 0; i < 8; i++)
        assert_true(fabs(got[i] - x[i]) < 1e-6);
    size_t len;
    uint8_t *b = wire(v, &len);
    assert_int_equal(slots_vec_deserialize(o.ctx, b, len, w), CL_OK);
    assert_int_equal(slots_decrypt(o.owner, w, got, 8), CL_OK);
    for (int i = 0; i < 8; i++)
        assert_true(fabs(got[i] - x[i]) < 1e-6);
    free(b);
    /* no evaluation keys: no relinearization, no rotation */
    assert_int_equal(slots_mul(o.ctx, v, w, w), CL_ERR_NOKEY);
    assert_int_equal(slots_rotate(o.ctx, v, 1, w), CL_ERR_NOKEY);
    assert_int_equal(slots_level(w), slots_top_level(o.ctx));
    /* keys present but without a relinearization key: still refused */
    ckks_eval_keys *keys;
    slots_ctx *bad = NULL;
    assert_int_equal(ckks_eval_keys_create(o.sk, 0, NULL, 0, &keys), CL_OK);
    assert_int_equal(slots_ckks_create(o.params, keys, 8, &bad), CL_ERR_NOKEY);
    assert_null(bad);
    ckks_eval_keys_free(keys);
    /* a relinearization key alone: multiplications work, rotations do not */
    assert_int_equal(ckks_eval_keys_create(o.sk, CKKS_KEYS_RELIN, NULL, 0, &keys), CL_OK);
    slots_ctx *rc;
    slots_owner *ro;
    assert_int_equal(slots_ckks_create(o.params, keys, 8, &rc), CL_OK);
    assert_int_equal(slots_ckks_owner_create(rc, o.sk, &ro), CL_OK);
    slots_vec *u;
    assert_int_equal(slots_vec_create(rc, &u), CL_OK);
    assert_int_equal(slots_encrypt(ro, x, 8, u), CL_OK);
    assert_int_equal(slots_mul(rc, u, u, u), CL_OK);
    assert_int_equal(slots_rotate(rc, u, 1, u), CL_ERR_NOKEY);
    assert_int_equal(slots_decrypt(ro, u, got, 8), CL_OK);
    for (int i = 0; i < 8; i++)
        assert_true(fabs(got[i] - x[i] * x[i]) < 1e-6);
    slots_vec_free(u);
    slots_owner_free(ro);
    slots_ctx_free(rc);
    ckks_eval_keys_free(keys);
    /* the clear backend has no ckks parameters */
    slots_ctx *c = clear_ctx(8, 2, 0, NULL);
    assert_null(slots_ckks_params(c));
    assert_null(slots_ckks_params(NULL));
    slots_ctx_free(c);
    slots_vec_free(v);
    slots_vec_free(w);
    owner_close(&o);
}

static void test_ckks_refused(void **state)
{
    (void)state;
    owner_side o;
    owner_open(&o, "test-n10", KS);
    const int top = slots_top_level(o.ctx);
    double x[KS], keep[KS];
    for (int i = 0; i < KS; i++) {
        x[i] = 0.01 * i;
        keep[i] = -0.5 + 0.001 * i;
    }
    slots_vec *v, *out, *empty;
    assert_int_equal(slots_vec_create(o.ctx, &v), CL_OK);
    assert_int_equal(slots_vec_create(o.ctx, &out), CL_OK);
    assert_int_equal(slots_vec_create(o.ctx, &empty), CL_OK);
    assert_int_equal(slots_encrypt(o.owner, x, KS, v), CL_OK);
    assert_int_equal(slots_encrypt(o.owner, keep, KS, out), CL_OK);
    assert_int_equal(slots_drop_level(o.ctx, out, top - 1, out), CL_OK);
    /* what out decrypts to now: it must stay exactly that */
    double before[KS], now[KS];
    assert_int_equal(slots_decrypt(o.owner, out, before, KS), CL_OK);
#define ASSERT_OUT_UNCHANGED()                                                                                         \
    do {                                                                                                               \
        assert_int_equal(slots_level(out), top - 1);                                                                   \
        assert_int_equal(slots_decrypt(o.owner, out, now, KS), CL_OK);                                                 \
        assert_memory_equal(now, before, sizeof now);                                                                  \
    } while (0)

    size_t n, len;
    assert_int_equal(slots_vec_serialize(empty, NULL, 0, &n), CL_ERR_STATE);
    uint8_t *good = wire(v, &len);
    uint8_t *bad = malloc(len);
    assert_non_null(bad);

    /* another parameter set */
    owner_side o12;
    owner_open(&o12, "test-n12", KS);
    slots_vec *v12;
    assert_int_equal(slots_vec_create(o12.ctx, &v12), CL_OK);
    assert_int_equal(slots_encrypt(o12.owner, x, KS, v12), CL_OK);
    size_t len12;
    uint8_t *w12 = wire(v12, &len12);
    assert_int_equal(slots_vec_deserialize(o.ctx, w12, len12, out), CL_ERR_PARAMS);
    assert_int_equal(slots_vec_deserialize(o12.ctx, good, len, v12), CL_ERR_PARAMS);
    free(w12);
    slots_vec_free(v12);
    owner_close(&o12);
    /* the same parameters, another slot count */
    slots_ctx *c32;
    assert_int_equal(slots_ckks_create(o.params, NULL, KS / 2, &c32), CL_OK);
    slots_vec *v32;
    assert_int_equal(slots_vec_create(c32, &v32), CL_OK);
    assert_int_equal(slots_vec_deserialize(c32, good, len, v32), CL_ERR_PARAMS);
    assert_int_equal(slots_level(v32), -1);
    slots_vec_free(v32);
    slots_ctx_free(c32);
    ASSERT_OUT_UNCHANGED();

    /* truncated, flipped, extended, garbage */
    assert_int_equal(slots_vec_deserialize(o.ctx, good, len - 1, out), CL_ERR_TRUNCATED);
    assert_int_equal(slots_vec_deserialize(o.ctx, good, len / 2, out), CL_ERR_TRUNCATED);
    assert_int_equal(slots_vec_deserialize(o.ctx, good, 3, out), CL_ERR_TRUNCATED);
    const size_t spots[] = {len / 3, len / 2, len - 40, len - 1};
    for (size_t k = 0; k < sizeof spots / sizeof spots[0]; k++) {
        memcpy(bad, good, len);
        bad[spots[k]] ^= 0x01;
        assert_int_equal(slots_vec_deserialize(o.ctx, bad, len, out), CL_ERR_CHECKSUM);
    }
    memcpy(bad, good, len);
    bad[0] ^= 0xff;
    assert_int_equal(slots_vec_deserialize(o.ctx, bad, len, out), CL_ERR_FORMAT);
    memcpy(bad, good, len);
    bad[4] ^= 0x02;
    assert_int_equal(slots_vec_deserialize(o.ctx, bad, len, out), CL_ERR_VERSION);
    for (size_t i = 0; i < len; i++)
        bad[i] = (uint8_t)(i * 37u + 11u);
    assert_int_equal(slots_vec_deserialize(o.ctx, bad, len, out), CL_ERR_FORMAT);
    ASSERT_OUT_UNCHANGED();

    /* the other backend's wire form, both ways */
    slots_owner *co;
    slots_ctx *cc = clear_ctx(KS, top, 0, &co);
    slots_vec *cv;
    assert_int_equal(slots_vec_create(cc, &cv), CL_OK);
    assert_int_equal(slots_encrypt(co, x, KS, cv), CL_OK);
    size_t clen;
    uint8_t *cw = wire(cv, &clen);
    assert_int_equal(slots_vec_deserialize(o.ctx, cw, clen, out), CL_ERR_FORMAT);
    assert_int_equal(slots_vec_deserialize(cc, good, len, cv), CL_ERR_FORMAT);
    free(cw);
    slots_vec_free(cv);
    slots_owner_free(co);
    slots_ctx_free(cc);
    ASSERT_OUT_UNCHANGED();

    /* well-formed ckks ciphertexts that are not vectors of this context:
     * another scale, and one not relinearized */
    {
        ckks_encoder *enc;
        ckks_plaintext *pt;
        ckks_ciphertext *ct, *ct3;
        ckks_evaluator *ev;
        assert_int_equal(ckks_encoder_create(o.params, &enc), CL_OK);
        assert_int_equal(ckks_plaintext_create(o.params, &pt), CL_OK);
        assert_int_equal(ckks_ciphertext_create(o.params, &ct), CL_OK);
        assert_int_equal(ckks_ciphertext_create(o.params, &ct3), CL_OK);
        assert_int_equal(ckks_evaluator_create(o.params, NULL, &ev), CL_OK);
        assert_int_equal(ckks_encode(enc, x, KS, KS, top, 0x1p30, pt), CL_OK);
        assert_int_equal(ckks_encrypt_pk(o.pk, pt, ct), CL_OK);
        size_t l;
        uint8_t *b;
        assert_int_equal(ckks_ciphertext_serialize(ct, NULL, 0, &l), CL_OK);
        b = malloc(l);
        assert_non_null(b);
        assert_int_equal(ckks_ciphertext_serialize(ct, b, l, &l), CL_OK);
        assert_int_equal(slots_vec_deserialize(o.ctx, b, l, out), CL_ERR_FORMAT);
        free(b);
        /* scale 2^20 squared: exactly the top level's 2^40, only the size is wrong */
        assert_int_equal(ckks_encode(enc, x, KS, KS, top, 0x1p20, pt), CL_OK);
        assert_int_equal(ckks_encrypt_pk(o.pk, pt, ct), CL_OK);
        assert_int_equal(ckks_mul(ev, ct, ct, ct3), CL_OK);
        assert_int_equal(ckks_ciphertext_size(ct3), 3);
        assert_true(ckks_ciphertext_scale(ct3) == ckks_params_default_scale(o.params));
        assert_int_equal(ckks_ciphertext_serialize(ct3, NULL, 0, &l), CL_OK);
        b = malloc(l);
        assert_non_null(b);
        assert_int_equal(ckks_ciphertext_serialize(ct3, b, l, &l), CL_OK);
        assert_int_equal(slots_vec_deserialize(o.ctx, b, l, out), CL_ERR_FORMAT);
        free(b);
        ckks_evaluator_free(ev);
        ckks_ciphertext_free(ct3);
        ckks_ciphertext_free(ct);
        ckks_plaintext_free(pt);
        ckks_encoder_free(enc);
    }
    ASSERT_OUT_UNCHANGED();

    /* the good bytes still load, at their level */
    assert_int_equal(slots_vec_deserialize(o.ctx, good, len, out), CL_OK);
    assert_int_equal(slots_level(out), top);
    assert_true(max_err(o.owner, out, x) < 1e-6);
#undef ASSERT_OUT_UNCHANGED
    free(good);
    free(bad);
    slots_vec_free(v);
    slots_vec_free(out);
    slots_vec_free(empty);
    owner_close(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clear_round_trip),
        cmocka_unit_test(test_clear_refused),
        cmocka_unit_test(test_ckks_round_trip),
        cmocka_unit_test(test_ckks_owner_without_keys),
        cmocka_unit_test(test_ckks_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
