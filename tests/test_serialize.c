/* Tests of the ckks serialization formats (docs/ckks-formats.md): round trips
 * of every object (parameters, plaintexts, ciphertexts fresh, seeded and of
 * size 3, public, evaluation and secret keys) that still work after loading;
 * wrong kind, wrong parameters, wrong version; and, for every format, at
 * least FUZZ_ITERS random corruptions and truncations (a fixed PRNG seed),
 * some with the checksum recomputed so that the field validation behind it is
 * exercised. Every load either fails with an error, leaving its output alone,
 * or — only where the bytes are unchanged — gives an object equal to the
 * original; a load of re-checksummed bytes that succeeds must give an object
 * that serializes back to exactly those bytes (the encoding is canonical). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "cipherl/ckks.h"
#include "ckks/ckks_internal.h"

#define FUZZ_ITERS 10000
#define TOL 1e-4
#define SUM_BYTES 32
#define HEADER_BYTES 16

/* ----------------------------------------------------------------- fixture */

typedef struct fixture {
    ckks_params *p, *p12;
    ckks_encoder *enc;
    ckks_secret_key *sk;
    ckks_public_key *pk;
    ckks_eval_keys *ek;      /* relinearization and a rotation by 1 */
    ckks_eval_keys *ek_fuzz; /* a rotation by 1 only (small, for the fuzz loop) */
    ckks_evaluator *ev;
    ckks_secret_key *sk12;
    size_t slots;
    double *x, *y; /* slots values each */
} fixture;

static fixture F;

static uint64_t prng_state = 0x5eed5e71a11e0001ULL;

static uint64_t prng(void)
{
    /* splitmix64 */
    uint64_t z = (prng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t prng_below(size_t n)
{
    return n ? (size_t)(prng() % n) : 0;
}

static int group_setup(void **state)
{
    (void)state;
    if (ckks_params_from_preset("test-n10", CKKS_ALLOW_INSECURE, &F.p) != CL_OK ||
        ckks_params_from_preset("test-n12", CKKS_ALLOW_INSECURE, &F.p12) != CL_OK ||
        ckks_encoder_create(F.p, &F.enc) != CL_OK || ckks_secret_key_create(F.p, &F.sk) != CL_OK ||
        ckks_public_key_create(F.sk, &F.pk) != CL_OK || ckks_secret_key_create(F.p12, &F.sk12) != CL_OK)
        return -1;
    const int step = 1;
    if (ckks_eval_keys_create(F.sk, CKKS_KEYS_RELIN, &step, 1, &F.ek) != CL_OK ||
        ckks_eval_keys_create(F.sk, 0, &step, 1, &F.ek_fuzz) != CL_OK ||
        ckks_evaluator_create(F.p, F.ek, &F.ev) != CL_OK)
        return -1;
    F.slots = ckks_params_max_slots(F.p);
    F.x = malloc(F.slots * sizeof *F.x);
    F.y = malloc(F.slots * sizeof *F.y);
    if (!F.x || !F.y)
        return -1;
    for (size_t i = 0; i < F.slots; i++) {
        F.x[i] = (double)(prng() % 2000001) / 1e6 - 1.0;
        F.y[i] = (double)(prng() % 2000001) / 1e6 - 1.0;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ckks_evaluator_free(F.ev);
    ckks_eval_keys_free(F.ek);
    ckks_eval_keys_free(F.ek_fuzz);
    ckks_public_key_free(F.pk);
    ckks_secret_key_free(F.sk);
    ckks_secret_key_free(F.sk12);
    ckks_encoder_free(F.enc);
    ckks_params_free(F.p);
    ckks_params_free(F.p12);
    free(F.x);
    free(F.y);
    return 0;
}

/* ------------------------------------------------------- generic handling */

typedef enum kind { K_PARAMS, K_PT, K_CT, K_PK, K_EK, K_SK, K_COUNT } kind;

static const char *kind_name[K_COUNT] = {"params", "plaintext", "ciphertext", "public key", "eval keys",
                                         "secret key"};

static cl_status ser_any(kind k, const void *obj, uint8_t *buf, size_t cap, size_t *len)
{
    switch (k) {
    case K_PARAMS: return ckks_params_serialize(obj, buf, cap, len);
    case K_PT: return ckks_plaintext_serialize(obj, buf, cap, len);
    case K_CT: return ckks_ciphertext_serialize(obj, buf, cap, len);
    case K_PK: return ckks_public_key_serialize(obj, buf, cap, len);
    case K_EK: return ckks_eval_keys_serialize(obj, buf, cap, len);
    case K_SK: return ckks_secret_key_serialize(obj, buf, cap, len);
    default: return CL_ERR_INVALID;
    }
}

static void free_any(kind k, void *obj)
{
    switch (k) {
    case K_PARAMS: ckks_params_free(obj); break;
    case K_PT: ckks_plaintext_free(obj); break;
    case K_CT: ckks_ciphertext_free(obj); break;
    case K_PK: ckks_public_key_free(obj); break;
    case K_EK: ckks_eval_keys_free(obj); break;
    case K_SK: ckks_secret_key_free(obj); break;
    default: break;
    }
}

/* Loads; on error asserts that the output pointer was left alone. */
static cl_status de_any(kind k, const ckks_params *p, const uint8_t *buf, size_t len, void **out)
{
    static char sentinel_obj;
    void *const sentinel = &sentinel_obj;
    cl_status st;
    void *res = sentinel;
    switch (k) {
    case K_PARAMS: {
        ckks_params *o = sentinel;
        st = ckks_params_deserialize(buf, len, CKKS_ALLOW_INSECURE, &o);
        res = o;
        break;
    }
    case K_PT: {
        ckks_plaintext *o = sentinel;
        st = ckks_plaintext_deserialize(p, buf, len, &o);
        res = o;
        break;
    }
    case K_CT: {
        ckks_ciphertext *o = sentinel;
        st = ckks_ciphertext_deserialize(p, buf, len, &o);
        res = o;
        break;
    }
    case K_PK: {
        ckks_public_key *o = sentinel;
        st = ckks_public_key_deserialize(p, buf, len, &o);
        res = o;
        break;
    }
    case K_EK: {
        ckks_eval_keys *o = sentinel;
        st = ckks_eval_keys_deserialize(p, buf, len, &o);
        res = o;
        break;
    }
    case K_SK: {
        ckks_secret_key *o = sentinel;
        st = ckks_secret_key_deserialize(p, buf, len, &o);
        res = o;
        break;
    }
    default: return CL_ERR_INVALID;
    }
    if (st != CL_OK) {
        assert_ptr_equal(res, sentinel);
        *out = NULL;
    } else {
        assert_ptr_not_equal(res, sentinel);
        assert_non_null(res);
        *out = res;
    }
    return st;
}

static uint8_t *ser_alloc(kind k, const void *obj, size_t *len)
{
    size_t need = 0;
    assert_int_equal(ser_any(k, obj, NULL, 0, &need), CL_OK);
    assert_true(need > HEADER_BYTES + SUM_BYTES);
    uint8_t *buf = malloc(need);
    assert_non_null(buf);
    size_t got = 0;
    assert_int_equal(ser_any(k, obj, buf, need, &got), CL_OK);
    assert_int_equal(got, need);
    *len = need;
    return buf;
}

static void *load_ok(kind k, const ckks_params *p, const uint8_t *buf, size_t len)
{
    void *obj;
    assert_int_equal(de_any(k, p, buf, len, &obj), CL_OK);
    return obj;
}

static void fix_checksum(uint8_t *buf, size_t len)
{
    crypto_generichash(buf + len - SUM_BYTES, SUM_BYTES, buf, len - SUM_BYTES, NULL, 0);
}

/* ---------------------------------------------------------------- equality */

static bool same_u64(const uint64_t *a, const uint64_t *b, size_t count)
{
    return memcmp(a, b, count * sizeof *a) == 0;
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static bool params_equal(const ckks_params *a, const ckks_params *b)
{
    const ckks_param_spec *x = &a->spec, *y = &b->spec;
    if (strcmp(x->name, y->name) || x->logn != y->logn || x->first_bits != y->first_bits ||
        x->scale_bits != y->scale_bits || x->levels != y->levels || x->special_bits != y->special_bits ||
        x->special_count != y->special_count || x->digits != y->digits || x->insecure != y->insecure)
        return false;
    if (a->qp_count != b->qp_count || a->n != b->n || a->secure != b->secure)
        return false;
    for (size_t i = 0; i < a->qp_count; i++)
        if (a->mod[i].q != b->mod[i].q)
            return false;
    return memcmp(a->fingerprint, b->fingerprint, CKKS_FINGERPRINT_BYTES) == 0;
}

static bool pt_equal(const ckks_plaintext *a, const ckks_plaintext *b)
{
    return a->level == b->level && a->slots == b->slots && same_double(a->scale, b->scale) &&
           same_u64(a->data, b->data, (size_t)(a->level + 1) * a->params->n);
}

static bool ct_equal(const ckks_ciphertext *a, const ckks_ciphertext *b)
{
    if (a->level != b->level || a->size != b->size || a->slots != b->slots || !same_double(a->scale, b->scale) ||
        a->seeded != b->seeded)
        return false;
    if (a->seeded && memcmp(a->seed, b->seed, RING_SEED_BYTES))
        return false;
    for (int i = 0; i < a->size; i++)
        if (!same_u64(a->poly[i], b->poly[i], (size_t)(a->level + 1) * a->params->n))
            return false;
    return true;
}

static bool pk_equal(const ckks_public_key *a, const ckks_public_key *b)
{
    const size_t len = a->params->qp_count * a->params->n;
    return memcmp(a->seed, b->seed, RING_SEED_BYTES) == 0 && same_u64(a->a, b->a, len) &&
           same_u64(a->b, b->b, len);
}

static bool swk_equal(const ckks_switch_key *a, const ckks_switch_key *b)
{
    const size_t len = a->digits * a->params->qp_count * a->params->n;
    return a->galois == b->galois && a->digits == b->digits && memcmp(a->seed, b->seed, RING_SEED_BYTES) == 0 &&
           same_u64(a->a, b->a, len) && same_u64(a->b, b->b, len);
}

static bool ek_equal(const ckks_eval_keys *a, const ckks_eval_keys *b)
{
    if ((a->relin == NULL) != (b->relin == NULL) || a->galois_count != b->galois_count)
        return false;
    if (a->relin && !swk_equal(a->relin, b->relin))
        return false;
    for (size_t i = 0; i < a->galois_count; i++)
        if (!swk_equal(a->galois[i], b->galois[i]))
            return false;
    return true;
}

static bool sk_equal(const ckks_secret_key *a, const ckks_secret_key *b)
{
    const ckks_params *p = a->params;
    return memcmp(a->coeffs, b->coeffs, p->n) == 0 && same_u64(a->ntt, b->ntt, p->qp_count * p->n);
}

static bool equal_any(kind k, const void *a, const void *b)
{
    switch (k) {
    case K_PARAMS: return params_equal(a, b);
    case K_PT: return pt_equal(a, b);
    case K_CT: return ct_equal(a, b);
    case K_PK: return pk_equal(a, b);
    case K_EK: return ek_equal(a, b);
    case K_SK: return sk_equal(a, b);
    default: return false;
    }
}

/* ---------------------------------------------------------------- helpers */

static ckks_plaintext *encode(const double *v, int level)
{
    ckks_plaintext *pt;
    assert_int_equal(ckks_plaintext_create(F.p, &pt), CL_OK);
    assert_int_equal(ckks_encode(F.enc, v, F.slots, F.slots, level, ckks_params_default_scale(F.p), pt), CL_OK);
    return pt;
}

static ckks_ciphertext *encrypt_pk(const ckks_public_key *pk, const double *v, int level)
{
    ckks_plaintext *pt = encode(v, level);
    ckks_ciphertext *ct;
    assert_int_equal(ckks_ciphertext_create(F.p, &ct), CL_OK);
    assert_int_equal(ckks_encrypt_pk(pk, pt, ct), CL_OK);
    ckks_plaintext_free(pt);
    return ct;
}

static ckks_ciphertext *encrypt_sk(const ckks_secret_key *sk, const double *v, int level)
{
    ckks_plaintext *pt = encode(v, level);
    ckks_ciphertext *ct;
    assert_int_equal(ckks_ciphertext_create(F.p, &ct), CL_OK);
    assert_int_equal(ckks_encrypt_sk(sk, pt, ct), CL_OK);
    ckks_plaintext_free(pt);
    return ct;
}

static ckks_ciphertext *new_ct(void)
{
    ckks_ciphertext *ct;
    assert_int_equal(ckks_ciphertext_create(F.p, &ct), CL_OK);
    return ct;
}

/* Decrypts with sk and compares slot i with want[(i + shift) % slots] * mul[..]. */
static void check_decrypts(const ckks_secret_key *sk, const ckks_ciphertext *ct, const double *want,
                           const double *mul, size_t shift)
{
    ckks_plaintext *pt;
    assert_int_equal(ckks_plaintext_create(F.p, &pt), CL_OK);
    assert_int_equal(ckks_decrypt(sk, ct, pt), CL_OK);
    double *got = malloc(F.slots * sizeof *got);
    assert_non_null(got);
    assert_int_equal(ckks_decode(F.enc, pt, got, NULL, F.slots), CL_OK);
    double worst = 0;
    for (size_t i = 0; i < F.slots; i++) {
        const size_t j = (i + shift) % F.slots;
        const double w = want[j] * (mul ? mul[j] : 1.0);
        worst = fmax(worst, fabs(got[i] - w));
    }
    if (!(worst < TOL))
        fail_msg("decryption error %g", worst);
    free(got);
    ckks_plaintext_free(pt);
}

/* Serialize, check the size query and a short buffer, load, compare. */
static void *round_trip(kind k, const ckks_params *p, const void *obj, size_t *len_out)
{
    size_t len;
    uint8_t *buf = ser_alloc(k, obj, &len);
    /* a buffer one byte short is refused and reports the size needed */
    size_t got = 0;
    uint8_t *small = malloc(len);
    assert_non_null(small);
    assert_int_equal(ser_any(k, obj, small, len - 1, &got), CL_ERR_INVALID);
    assert_int_equal(got, len);
    assert_int_equal(ser_any(k, obj, small, len, NULL), CL_ERR_INVALID);
    free(small);
    void *copy = load_ok(k, p, buf, len);
    assert_true(equal_any(k, obj, copy));
    /* and it serializes back to the same bytes */
    size_t len2;
    uint8_t *buf2 = ser_alloc(k, copy, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(buf, buf2, len);
    free(buf2);
    free(buf);
    if (len_out)
        *len_out = len;
    return copy;
}

/* ---------------------------------------------------------- round trips */

static void test_params_round_trip(void **state)
{
    (void)state;
    ckks_params *q = round_trip(K_PARAMS, NULL, F.p, NULL);
    assert_int_equal(ckks_params_max_level(q), ckks_params_max_level(F.p));
    ckks_params_free(q);

    size_t len;
    uint8_t *buf = ser_alloc(K_PARAMS, F.p, &len);
    /* an insecure set is refused unless allowed */
    ckks_params *r = NULL;
    assert_int_equal(ckks_params_deserialize(buf, len, 0, &r), CL_ERR_INSECURE);
    assert_null(r);
    free(buf);

    /* the other test set, and a 128-bit preset (no insecure flag needed) */
    q = round_trip(K_PARAMS, NULL, F.p12, NULL);
    ckks_params_free(q);
    ckks_params *n14;
    assert_int_equal(ckks_params_from_preset("n14", 0, &n14), CL_OK);
    buf = ser_alloc(K_PARAMS, n14, &len);
    assert_int_equal(ckks_params_deserialize(buf, len, 0, &r), CL_OK);
    assert_true(params_equal(n14, r));
    assert_true(ckks_params_is_secure(r));
    ckks_params_free(r);
    ckks_params_free(n14);
    free(buf);
}

static void test_plaintext_round_trip(void **state)
{
    (void)state;
    ckks_plaintext *pt;
    assert_int_equal(ckks_plaintext_create(F.p, &pt), CL_OK);
    assert_int_equal(ckks_encode(F.enc, F.x, 16, 16, 2, ckks_params_default_scale(F.p), pt), CL_OK);
    ckks_plaintext *q = round_trip(K_PT, F.p, pt, NULL);
    assert_int_equal(ckks_plaintext_slots(q), 16);
    assert_int_equal(ckks_plaintext_level(q), 2);
    double got[16];
    assert_int_equal(ckks_decode(F.enc, q, got, NULL, 16), CL_OK);
    for (int i = 0; i < 16; i++)
        assert_true(fabs(got[i] - F.x[i]) < 1e-6);
    ckks_plaintext_free(q);
    ckks_plaintext_free(pt);

    /* an empty plaintext cannot be serialized */
    size_t len;
    assert_int_equal(ckks_plaintext_create(F.p, &pt), CL_OK);
    assert_int_equal(ckks_plaintext_serialize(pt, NULL, 0, &len), CL_ERR_INVALID);
    ckks_plaintext_free(pt);
}

static void test_ciphertext_pk_round_trip(void **state)
{
    (void)state;
    const int top = ckks_params_max_level(F.p);
    for (int level = top; level >= 0; level -= top) {
        ckks_ciphertext *ct = encrypt_pk(F.pk, F.x, level);
        assert_false(ckks_ciphertext_is_seeded(ct));
        ckks_ciphertext *q = round_trip(K_CT, F.p, ct, NULL);
        assert_false(ckks_ciphertext_is_seeded(q));
        check_decrypts(F.sk, q, F.x, NULL, 0);
        ckks_ciphertext_free(q);
        ckks_ciphertext_free(ct);
        if (top == 0)
            break;
    }
}

static void test_ciphertext_seeded_round_trip(void **state)
{
    (void)state;
    const int top = ckks_params_max_level(F.p);
    ckks_ciphertext *full = encrypt_pk(F.pk, F.y, top);
    ckks_ciphertext *ct = encrypt_sk(F.sk, F.x, top);
    assert_true(ckks_ciphertext_is_seeded(ct));
    size_t full_len, seeded_len;
    ckks_ciphertext *q = round_trip(K_CT, F.p, full, &full_len);
    ckks_ciphertext_free(q);
    q = round_trip(K_CT, F.p, ct, &seeded_len);
    print_message("ciphertext at level %d: %zu bytes, seeded %zu bytes (%.3f)\n", top, full_len, seeded_len,
                  (double)seeded_len / (double)full_len);
    assert_true(seeded_len * 100 <= full_len * 52);
    assert_true(seeded_len * 100 >= full_len * 48);
    assert_true(ckks_ciphertext_is_seeded(q));
    check_decrypts(F.sk, q, F.x, NULL, 0);
    /* the loaded copy computes like the original: add, then compare bitwise */
    ckks_ciphertext *s1 = new_ct(), *s2 = new_ct();
    assert_int_equal(ckks_add(F.ev, ct, full, s1), CL_OK);
    assert_int_equal(ckks_add(F.ev, q, full, s2), CL_OK);
    assert_true(ct_equal(s1, s2));
    ckks_ciphertext_free(s1);
    ckks_ciphertext_free(s2);
    ckks_ciphertext_free(q);

    /* a seeded ciphertext dropped a level stays seeded and round-trips */
    ckks_ciphertext *d = new_ct();
    assert_int_equal(ckks_drop_level(F.ev, ct, 1, d), CL_OK);
    q = round_trip(K_CT, F.p, d, NULL);
    assert_int_equal(ckks_ciphertext_is_seeded(q), ckks_ciphertext_is_seeded(d));
    check_decrypts(F.sk, q, F.x, NULL, 0);
    ckks_ciphertext_free(q);
    ckks_ciphertext_free(d);
    ckks_ciphertext_free(ct);
    ckks_ciphertext_free(full);
}

static void test_ciphertext_size3_round_trip(void **state)
{
    (void)state;
    const int top = ckks_params_max_level(F.p);
    ckks_ciphertext *a = encrypt_pk(F.pk, F.x, top), *b = encrypt_sk(F.sk, F.y, top), *m = new_ct();
    assert_int_equal(ckks_mul(F.ev, a, b, m), CL_OK);
    assert_int_equal(ckks_ciphertext_size(m), 3);
    ckks_ciphertext *q = round_trip(K_CT, F.p, m, NULL);
    assert_int_equal(ckks_ciphertext_size(q), 3);
    check_decrypts(F.sk, q, F.x, F.y, 0);
    /* relinearize and rescale both: identical results */
    ckks_ciphertext *r1 = new_ct(), *r2 = new_ct();
    assert_int_equal(ckks_relinearize(F.ev, m, r1), CL_OK);
    assert_int_equal(ckks_rescale(F.ev, r1, r1), CL_OK);
    assert_int_equal(ckks_relinearize(F.ev, q, r2), CL_OK);
    assert_int_equal(ckks_rescale(F.ev, r2, r2), CL_OK);
    assert_true(ct_equal(r1, r2));
    check_decrypts(F.sk, r2, F.x, F.y, 0);
    ckks_ciphertext_free(r1);
    ckks_ciphertext_free(r2);
    ckks_ciphertext_free(q);
    ckks_ciphertext_free(a);
    ckks_ciphertext_free(b);
    ckks_ciphertext_free(m);

    /* an empty ciphertext cannot be serialized */
    ckks_ciphertext *e = new_ct();
    size_t len;
    assert_int_equal(ckks_ciphertext_serialize(e, NULL, 0, &len), CL_ERR_INVALID);
    ckks_ciphertext_free(e);
}

static void test_public_key_round_trip(void **state)
{
    (void)state;
    ckks_public_key *pk = round_trip(K_PK, F.p, F.pk, NULL);
    ckks_ciphertext *ct = encrypt_pk(pk, F.x, ckks_params_max_level(F.p));
    check_decrypts(F.sk, ct, F.x, NULL, 0);
    ckks_ciphertext_free(ct);
    ct = encrypt_pk(pk, F.y, 0);
    check_decrypts(F.sk, ct, F.y, NULL, 0);
    ckks_ciphertext_free(ct);
    ckks_public_key_free(pk);
}

static void test_eval_keys_round_trip(void **state)
{
    (void)state;
    ckks_eval_keys *ek = round_trip(K_EK, F.p, F.ek, NULL);
    assert_true(ckks_eval_keys_has_relin(ek));
    assert_int_equal(ckks_eval_keys_galois_count(ek), 1);
    assert_true(ckks_eval_keys_has_galois(ek, ckks_galois_element(F.p, 1)));
    ckks_evaluator *ev;
    assert_int_equal(ckks_evaluator_create(F.p, ek, &ev), CL_OK);
    const int top = ckks_params_max_level(F.p);
    ckks_ciphertext *a = encrypt_pk(F.pk, F.x, top), *b = encrypt_pk(F.pk, F.y, top);
    ckks_ciphertext *r1 = new_ct(), *r2 = new_ct();
    /* rotation: correct, and bit-identical to the original keys' result */
    assert_int_equal(ckks_rotate(ev, a, 1, r2), CL_OK);
    assert_int_equal(ckks_rotate(F.ev, a, 1, r1), CL_OK);
    assert_true(ct_equal(r1, r2));
    check_decrypts(F.sk, r2, F.x, NULL, 1);
    /* relinearization */
    assert_int_equal(ckks_mul_relin(ev, a, b, r2), CL_OK);
    assert_int_equal(ckks_mul_relin(F.ev, a, b, r1), CL_OK);
    assert_true(ct_equal(r1, r2));
    assert_int_equal(ckks_ciphertext_size(r2), 2);
    assert_int_equal(ckks_rescale(ev, r2, r2), CL_OK);
    check_decrypts(F.sk, r2, F.x, F.y, 0);
    /* a missing step is still missing */
    assert_int_equal(ckks_rotate(ev, a, 2, r2), CL_ERR_NOKEY);
    ckks_ciphertext_free(r1);
    ckks_ciphertext_free(r2);
    ckks_ciphertext_free(a);
    ckks_ciphertext_free(b);
    ckks_evaluator_free(ev);
    ckks_eval_keys_free(ek);

    /* no keys at all, and several Galois keys with conjugation */
    ckks_eval_keys *none, *many;
    const int steps[] = {1, -1, 3, 100};
    assert_int_equal(ckks_eval_keys_create(F.sk, 0, NULL, 0, &none), CL_OK);
    ek = round_trip(K_EK, F.p, none, NULL);
    assert_false(ckks_eval_keys_has_relin(ek));
    assert_int_equal(ckks_eval_keys_galois_count(ek), 0);
    ckks_eval_keys_free(ek);
    ckks_eval_keys_free(none);
    assert_int_equal(ckks_eval_keys_create(F.sk, CKKS_KEYS_CONJUGATE, steps, 4, &many), CL_OK);
    ek = round_trip(K_EK, F.p, many, NULL);
    assert_int_equal(ckks_eval_keys_galois_count(ek), 5);
    ckks_eval_keys_free(ek);
    ckks_eval_keys_free(many);
}

static void test_secret_key_round_trip(void **state)
{
    (void)state;
    const int top = ckks_params_max_level(F.p);
    ckks_ciphertext *a = encrypt_pk(F.pk, F.x, top), *b = encrypt_sk(F.sk, F.y, 1);
    ckks_secret_key *sk = round_trip(K_SK, F.p, F.sk, NULL);
    check_decrypts(sk, a, F.x, NULL, 0);
    check_decrypts(sk, b, F.y, NULL, 0);
    ckks_secret_key_free(sk);
    ckks_ciphertext_free(a);
    ckks_ciphertext_free(b);
}

/* ------------------------------------------------------ rejected input */

typedef struct blobs {
    uint8_t *buf[K_COUNT];
    size_t len[K_COUNT];
    ckks_plaintext *pt;
    ckks_ciphertext *ct;
} blobs;

static void make_blobs(blobs *b, const ckks_params *p, const ckks_secret_key *sk)
{
    ckks_public_key *pk;
    ckks_eval_keys *ek;
    const int step = 1;
    assert_int_equal(ckks_public_key_create(sk, &pk), CL_OK);
    assert_int_equal(ckks_eval_keys_create(sk, 0, &step, 1, &ek), CL_OK);
    ckks_encoder *enc;
    assert_int_equal(ckks_encoder_create(p, &enc), CL_OK);
    assert_int_equal(ckks_plaintext_create(p, &b->pt), CL_OK);
    assert_int_equal(ckks_encode(enc, F.x, 8, 8, 1, ckks_params_default_scale(p), b->pt), CL_OK);
    assert_int_equal(ckks_ciphertext_create(p, &b->ct), CL_OK);
    assert_int_equal(ckks_encrypt_sk(sk, b->pt, b->ct), CL_OK);
    const void *objs[K_COUNT] = {p, b->pt, b->ct, pk, ek, sk};
    for (int k = 0; k < K_COUNT; k++)
        b->buf[k] = ser_alloc((kind)k, objs[k], &b->len[k]);
    ckks_encoder_free(enc);
    ckks_public_key_free(pk);
    ckks_eval_keys_free(ek);
}

static void free_blobs(blobs *b)
{
    for (int k = 0; k < K_COUNT; k++)
        free(b->buf[k]);
    ckks_plaintext_free(b->pt);
    ckks_ciphertext_free(b->ct);
}

static void test_wrong_kind(void **state)
{
    (void)state;
    blobs b;
    make_blobs(&b, F.p, F.sk);
    for (int k = 0; k < K_COUNT; k++)
        for (int j = 0; j < K_COUNT; j++) {
            void *obj;
            cl_status st = de_any((kind)j, F.p, b.buf[k], b.len[k], &obj);
            if (j == k) {
                assert_int_equal(st, CL_OK);
                free_any((kind)j, obj);
            } else if (st != CL_ERR_FORMAT) {
                fail_msg("a %s blob given to the %s loader: %s", kind_name[k], kind_name[j], cl_strerror(st));
            }
        }
    free_blobs(&b);
}

static void test_wrong_params(void **state)
{
    (void)state;
    blobs b;
    make_blobs(&b, F.p, F.sk);
    for (int k = K_PT; k < K_COUNT; k++) {
        void *obj;
        cl_status st = de_any((kind)k, F.p12, b.buf[k], b.len[k], &obj);
        if (st != CL_ERR_PARAMS)
            fail_msg("a test-n10 %s loaded with test-n12: %s", kind_name[k], cl_strerror(st));
    }
    free_blobs(&b);
    /* and the other way round */
    make_blobs(&b, F.p12, F.sk12);
    for (int k = K_PT; k < K_COUNT; k++) {
        void *obj;
        assert_int_equal(de_any((kind)k, F.p, b.buf[k], b.len[k], &obj), CL_ERR_PARAMS);
        assert_int_equal(de_any((kind)k, F.p12, b.buf[k], b.len[k], &obj), CL_OK);
        free_any((kind)k, obj);
    }
    free_blobs(&b);
}

static void test_wrong_version(void **state)
{
    (void)state;
    blobs b;
    make_blobs(&b, F.p, F.sk);
    const uint16_t versions[] = {0, 2, 0x100, 0xffff};
    for (int k = 0; k < K_COUNT; k++) {
        uint8_t *m = malloc(b.len[k]);
        assert_non_null(m);
        for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++)
            for (int fix = 0; fix < 2; fix++) {
                memcpy(m, b.buf[k], b.len[k]);
                m[4] = (uint8_t)versions[v];
                m[5] = (uint8_t)(versions[v] >> 8);
                if (fix)
                    fix_checksum(m, b.len[k]);
                void *obj;
                assert_int_equal(de_any((kind)k, F.p, m, b.len[k], &obj), CL_ERR_VERSION);
            }
        free(m);
    }
    free_blobs(&b);
}

static void test_bad_headers(void **state)
{
    (void)state;
    blobs b;
    make_blobs(&b, F.p, F.sk);
    for (int k = 0; k < K_COUNT; k++) {
        const size_t len = b.len[k];
        uint8_t *m = malloc(len + 1);
        assert_non_null(m);
        void *obj;
        /* NULL arguments */
        assert_int_equal(de_any((kind)k, F.p, NULL, len, &obj), CL_ERR_INVALID);
        if (k != K_PARAMS)
            assert_int_equal(de_any((kind)k, NULL, b.buf[k], len, &obj), CL_ERR_INVALID);
        /* every truncation; near both ends from an allocation of exactly t
         * bytes, so that ASan would see a read past the end */
        for (size_t t = 0; t < len; t++) {
            if (t < 200 || t + 64 >= len) {
                uint8_t *exact = malloc(t ? t : 1);
                assert_non_null(exact);
                memcpy(exact, b.buf[k], t);
                assert_int_equal(de_any((kind)k, F.p, exact, t, &obj), CL_ERR_TRUNCATED);
                free(exact);
            } else {
                assert_int_equal(de_any((kind)k, F.p, b.buf[k], t, &obj), CL_ERR_TRUNCATED);
            }
        }
        /* one trailing byte */
        memcpy(m, b.buf[k], len);
        m[len] = 0;
        assert_int_equal(de_any((kind)k, F.p, m, len + 1, &obj), CL_ERR_FORMAT);
        /* a flag bit, checksum recomputed */
        memcpy(m, b.buf[k], len);
        m[6] |= 1;
        fix_checksum(m, len);
        assert_int_equal(de_any((kind)k, F.p, m, len, &obj), CL_ERR_FORMAT);
        /* the checksum itself */
        memcpy(m, b.buf[k], len);
        m[len - 1] ^= 0x80;
        assert_int_equal(de_any((kind)k, F.p, m, len, &obj), CL_ERR_CHECKSUM);
        /* a body byte */
        memcpy(m, b.buf[k], len);
        m[len / 2] ^= 1;
        assert_int_equal(de_any((kind)k, F.p, m, len, &obj), CL_ERR_CHECKSUM);
        /* the fingerprint, checksum recomputed */
        if (k != K_PARAMS) {
            memcpy(m, b.buf[k], len);
            m[HEADER_BYTES + 3] ^= 4;
            fix_checksum(m, len);
            assert_int_equal(de_any((kind)k, F.p, m, len, &obj), CL_ERR_PARAMS);
        }
        free(m);
    }
    free_blobs(&b);
}

/* A residue >= its prime, a bad secret coefficient, bad fields: with the
 * checksum recomputed, each is refused by the field checks. */
static void test_bad_fields(void **state)
{
    (void)state;
    blobs b;
    make_blobs(&b, F.p, F.sk);
    void *obj;
    const size_t body = HEADER_BYTES + CKKS_FINGERPRINT_BYTES;
    /* ciphertext: level, size, seeded, slots, scale */
    {
        const size_t len = b.len[K_CT];
        uint8_t *m = malloc(len);
        assert_non_null(m);
        const struct {
            size_t off;
            uint8_t val;
        } edits[] = {
            {body + 0, 9},    /* level beyond L */
            {body + 2, 4},    /* size */
            {body + 2, 3},    /* size 3 with a seed */
            {body + 3, 2},    /* seeded flag */
            {body + 4, 3},    /* slots not a power of two */
            {body + 4, 0},    /* zero slots */
            {body + 5, 4},    /* slots > N/2 */
            {body + 15, 0xff}, /* scale NaN */
            {body + 15, 0xbf}, /* scale negative */
        };
        for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
            memcpy(m, b.buf[K_CT], len);
            m[edits[e].off] = edits[e].val;
            if (edits[e].off == body + 15)
                m[body + 14] = 0xf8;
            fix_checksum(m, len);
            if (de_any(K_CT, F.p, m, len, &obj) != CL_ERR_FORMAT)
                fail_msg("ciphertext edit %zu accepted", e);
        }
        /* the first residue of c0 set to all ones (>= q_0) */
        memcpy(m, b.buf[K_CT], len);
        memset(m + body + 16 + RING_SEED_BYTES, 0xff, 8);
        fix_checksum(m, len);
        assert_int_equal(de_any(K_CT, F.p, m, len, &obj), CL_ERR_FORMAT);
        free(m);
    }
    /* secret key: a coefficient coded 11 */
    {
        const size_t len = b.len[K_SK];
        uint8_t *m = malloc(len);
        assert_non_null(m);
        memcpy(m, b.buf[K_SK], len);
        m[body + 7] |= 0x30;
        fix_checksum(m, len);
        assert_int_equal(de_any(K_SK, F.p, m, len, &obj), CL_ERR_FORMAT);
        free(m);
    }
    /* eval keys: an even Galois element, the identity, a relin flag of 2 */
    {
        const size_t len = b.len[K_EK];
        uint8_t *m = malloc(len);
        assert_non_null(m);
        const size_t g = body + 8;
        memcpy(m, b.buf[K_EK], len);
        m[g] &= 0xfe;
        fix_checksum(m, len);
        assert_int_equal(de_any(K_EK, F.p, m, len, &obj), CL_ERR_FORMAT);
        memcpy(m, b.buf[K_EK], len);
        memset(m + g, 0, 8);
        m[g] = 1;
        fix_checksum(m, len);
        assert_int_equal(de_any(K_EK, F.p, m, len, &obj), CL_ERR_FORMAT);
        memcpy(m, b.buf[K_EK], len);
        m[g + 2] = 0x40; /* >= 2N */
        fix_checksum(m, len);
        assert_int_equal(de_any(K_EK, F.p, m, len, &obj), CL_ERR_FORMAT);
        memcpy(m, b.buf[K_EK], len);
        m[body] = 2;
        fix_checksum(m, len);
        assert_int_equal(de_any(K_EK, F.p, m, len, &obj), CL_ERR_FORMAT);
        memcpy(m, b.buf[K_EK], len);
        m[body + 4] = 0xff; /* Galois count */
        fix_checksum(m, len);
        assert_int_equal(de_any(K_EK, F.p, m, len, &obj), CL_ERR_FORMAT);
        memcpy(m, b.buf[K_EK], len);
        m[body + 7] = 0xff; /* a huge Galois count: refused before allocating */
        fix_checksum(m, len);
        assert_int_equal(de_any(K_EK, F.p, m, len, &obj), CL_ERR_FORMAT);
        free(m);
    }
    /* parameters: a prime changed, a name byte after the NUL, a spec field */
    {
        const size_t len = b.len[K_PARAMS];
        uint8_t *m = malloc(len);
        assert_non_null(m);
        const size_t prim = HEADER_BYTES + 24 + 14 + 4;
        memcpy(m, b.buf[K_PARAMS], len);
        m[prim + 8] ^= 0x08; /* q_1 no longer 1 mod 2N: refused before the set-up */
        fix_checksum(m, len);
        assert_int_equal(de_any(K_PARAMS, NULL, m, len, &obj), CL_ERR_PARAMS);
        memcpy(m, b.buf[K_PARAMS], len);
        m[prim + 8 + 2] ^= 0x01; /* q_1 +- 2^16: still 1 mod 2N, not the spec's prime */
        fix_checksum(m, len);
        assert_int_equal(de_any(K_PARAMS, NULL, m, len, &obj), CL_ERR_PARAMS);
        memcpy(m, b.buf[K_PARAMS], len);
        m[HEADER_BYTES + 23] = 'x';
        fix_checksum(m, len);
        assert_int_equal(de_any(K_PARAMS, NULL, m, len, &obj), CL_ERR_FORMAT);
        memcpy(m, b.buf[K_PARAMS], len);
        m[HEADER_BYTES + 24] = 40; /* logn */
        fix_checksum(m, len);
        assert_int_equal(de_any(K_PARAMS, NULL, m, len, &obj), CL_ERR_FORMAT);
        memcpy(m, b.buf[K_PARAMS], len);
        m[len - SUM_BYTES - 1] ^= 1; /* the stored fingerprint */
        fix_checksum(m, len);
        assert_int_equal(de_any(K_PARAMS, NULL, m, len, &obj), CL_ERR_PARAMS);
        free(m);
    }
    free_blobs(&b);
}

/* -------------------------------------------------------------------- fuzz */

typedef struct fuzz_stats {
    size_t iters, rejected, accepted_other, unchanged;
    size_t by_code[CL_STATUS_COUNT];
} fuzz_stats;

/* Offset just past the fixed fields (where bytes are most structural). */
static size_t structural_end(kind k, size_t len)
{
    size_t e = HEADER_BYTES + (k == K_PARAMS ? 24 + 18 : CKKS_FINGERPRINT_BYTES + 16) + 48;
    return e < len - SUM_BYTES ? e : len - SUM_BYTES;
}

static void fuzz_format(kind k, const ckks_params *p, const void *orig, const char *label)
{
    size_t len;
    uint8_t *blob = ser_alloc(k, orig, &len);
    /* mutations are built in mut, then loaded from the end of area, so that
     * a read past len runs off the allocation (and ASan reports it) */
    uint8_t *mut = malloc(len + 64), *re = malloc(len + 64), *area = malloc(len + 64);
    assert_non_null(mut);
    assert_non_null(area);
    assert_non_null(re);
    fuzz_stats s;
    memset(&s, 0, sizeof s);
    const size_t body_end = len - SUM_BYTES, send = structural_end(k, len);
    struct timespec t0, t1;
    timespec_get(&t0, TIME_UTC);
    for (int it = 0; it < FUZZ_ITERS; it++) {
        memcpy(mut, blob, len);
        size_t mlen = len;
        bool fix = false;
        int expect = -1; /* a specific error code, or any */
        const int mode = (int)prng_below(9);
        switch (mode) {
        case 0: /* flip 1-8 random bits anywhere */
        case 1: {
            const int nb = 1 + (int)prng_below(8);
            for (int i = 0; i < nb; i++) {
                const size_t bit = prng_below(len * 8);
                mut[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            break;
        }
        case 2: { /* overwrite 1-8 random bytes anywhere */
            const int nb = 1 + (int)prng_below(8);
            for (int i = 0; i < nb; i++)
                mut[prng_below(len)] = (uint8_t)prng();
            break;
        }
        case 3: /* truncate */
            mlen = prng_below(len);
            expect = CL_ERR_TRUNCATED;
            break;
        case 4: /* extend with garbage */
            mlen = len + 1 + prng_below(64);
            for (size_t i = len; i < mlen; i++)
                mut[i] = (uint8_t)prng();
            expect = CL_ERR_FORMAT;
            break;
        case 5: { /* flip 1-8 bits before the checksum, recompute it */
            const int nb = 1 + (int)prng_below(8);
            for (int i = 0; i < nb; i++) {
                const size_t bit = prng_below(body_end * 8);
                mut[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            fix = true;
            break;
        }
        case 6: { /* overwrite 1-4 bytes before the checksum, recompute it */
            const int nb = 1 + (int)prng_below(4);
            for (int i = 0; i < nb; i++)
                mut[prng_below(body_end)] = (uint8_t)prng();
            fix = true;
            break;
        }
        case 7: { /* flip 1-2 bits among the header and fixed fields, recompute */
            const int nb = 1 + (int)prng_below(2);
            for (int i = 0; i < nb; i++) {
                const size_t bit = prng_below(send * 8);
                mut[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            fix = true;
            break;
        }
        default: { /* an extreme value in a structural byte, recompute */
            static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0xfe, 0xff};
            mut[prng_below(send)] = vals[prng_below(sizeof vals)];
            fix = true;
            break;
        }
        }
        if (fix)
            fix_checksum(mut, mlen);
        void *obj;
        uint8_t *in = area + (len + 64 - mlen);
        memcpy(in, mut, mlen);
        const cl_status st = de_any(k, p, in, mlen, &obj);
        const bool same = mlen == len && memcmp(mut, blob, len) == 0;
        s.iters++;
        s.by_code[st]++;
        if (same) {
            /* nothing meaningful changed: the same object */
            s.unchanged++;
            if (st != CL_OK)
                fail_msg("%s: unchanged bytes refused (%s), iteration %d", label, cl_strerror(st), it);
            assert_true(equal_any(k, orig, obj));
        } else if (st != CL_OK) {
            s.rejected++;
            if (expect >= 0 && st != (cl_status)expect)
                fail_msg("%s: mode %d gave %s, iteration %d", label, mode, cl_strerror(st), it);
        } else if (!fix) {
            fail_msg("%s: corrupted input accepted, mode %d, iteration %d", label, mode, it);
        } else {
            /* a valid object that differs: it must be exactly what these bytes say */
            s.accepted_other++;
            size_t rl = 0;
            assert_int_equal(ser_any(k, obj, re, len + 64, &rl), CL_OK);
            if (rl != mlen || memcmp(re, mut, mlen) != 0)
                fail_msg("%s: accepted bytes do not re-serialize identically, iteration %d", label, it);
            assert_false(equal_any(k, orig, obj));
        }
        if (st == CL_OK)
            free_any(k, obj);
    }
    timespec_get(&t1, TIME_UTC);
    const double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    print_message("%-20s %6zu bytes, %.2f s: %zu loads, %zu rejected (truncated %zu, format %zu, checksum %zu, "
                  "version %zu, params %zu), %zu unchanged, %zu other valid objects\n",
                  label, len, secs, s.iters, s.rejected, s.by_code[CL_ERR_TRUNCATED], s.by_code[CL_ERR_FORMAT],
                  s.by_code[CL_ERR_CHECKSUM], s.by_code[CL_ERR_VERSION], s.by_code[CL_ERR_PARAMS], s.unchanged,
                  s.accepted_other);
    assert_int_equal(s.iters, FUZZ_ITERS);
    free(blob);
    free(mut);
    free(area);
    free(re);
}

static void test_fuzz_params(void **state)
{
    (void)state;
    fuzz_format(K_PARAMS, NULL, F.p, "params");
}

static void test_fuzz_plaintext(void **state)
{
    (void)state;
    ckks_plaintext *pt = encode(F.x, 2);
    fuzz_format(K_PT, F.p, pt, "plaintext");
    ckks_plaintext_free(pt);
}

static void test_fuzz_ciphertext(void **state)
{
    (void)state;
    ckks_ciphertext *ct = encrypt_pk(F.pk, F.x, ckks_params_max_level(F.p));
    fuzz_format(K_CT, F.p, ct, "ciphertext");
    ckks_ciphertext_free(ct);
}

static void test_fuzz_ciphertext_seeded(void **state)
{
    (void)state;
    ckks_ciphertext *ct = encrypt_sk(F.sk, F.x, ckks_params_max_level(F.p));
    fuzz_format(K_CT, F.p, ct, "ciphertext (seeded)");
    ckks_ciphertext_free(ct);
}

static void test_fuzz_ciphertext_size3(void **state)
{
    (void)state;
    ckks_ciphertext *a = encrypt_pk(F.pk, F.x, 1), *m = new_ct();
    assert_int_equal(ckks_mul(F.ev, a, a, m), CL_OK);
    fuzz_format(K_CT, F.p, m, "ciphertext (size 3)");
    ckks_ciphertext_free(a);
    ckks_ciphertext_free(m);
}

static void test_fuzz_public_key(void **state)
{
    (void)state;
    fuzz_format(K_PK, F.p, F.pk, "public key");
}

static void test_fuzz_eval_keys(void **state)
{
    (void)state;
    fuzz_format(K_EK, F.p, F.ek_fuzz, "eval keys");
}

static void test_fuzz_secret_key(void **state)
{
    (void)state;
    fuzz_format(K_SK, F.p, F.sk, "secret key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_round_trip),
        cmocka_unit_test(test_plaintext_round_trip),
        cmocka_unit_test(test_ciphertext_pk_round_trip),
        cmocka_unit_test(test_ciphertext_seeded_round_trip),
        cmocka_unit_test(test_ciphertext_size3_round_trip),
        cmocka_unit_test(test_public_key_round_trip),
        cmocka_unit_test(test_eval_keys_round_trip),
        cmocka_unit_test(test_secret_key_round_trip),
        cmocka_unit_test(test_wrong_kind),
        cmocka_unit_test(test_wrong_params),
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_fuzz_params),
        cmocka_unit_test(test_fuzz_plaintext),
        cmocka_unit_test(test_fuzz_ciphertext),
        cmocka_unit_test(test_fuzz_ciphertext_seeded),
        cmocka_unit_test(test_fuzz_ciphertext_size3),
        cmocka_unit_test(test_fuzz_public_key),
        cmocka_unit_test(test_fuzz_eval_keys),
        cmocka_unit_test(test_fuzz_secret_key),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
