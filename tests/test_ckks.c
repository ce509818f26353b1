/* Tests of the ckks layer: encoding, encryption, every evaluator operation
 * against the same operation in doubles, chains that consume every level,
 * rotations, conjugation, hoisted rotations (bit-identical to plain ones),
 * error codes, and the HE Standard security check of the parameters.
 *
 * Most checks run twice: on the small insecure preset "test-n12" and on the
 * real preset "n14", where the issue asks for at least 20 bits of precision
 * (precision: -log2 of the largest absolute error over the slots). Keys are
 * made once per group. Set CIPHERL_TEST_VERBOSE=1 to print the precisions. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cipherl/ckks.h"
#include "ckks/ckks_internal.h"

#define MIN_BITS 20.0       /* every homomorphic result, at n14 too */
#define MIN_BITS_ENCODE 30.0 /* encode/decode alone */

/* ------------------------------------------------------------------ fixture */

typedef struct fx {
    const char *preset;
    ckks_params *p;
    ckks_secret_key *sk;
    ckks_public_key *pk;
    ckks_eval_keys *keys;
    ckks_encoder *enc;
    ckks_evaluator *ev;
    ckks_evaluator *ev_nokeys;
    size_t n, slots; /* N, N/2 */
    int L;
    double scale;
    int steps[32];
    size_t nsteps;
    uint64_t rng;
} fx;

static int verbose(void)
{
    const char *v = getenv("CIPHERL_TEST_VERBOSE");
    return v && *v && *v != '0';
}

static void note_bits(const fx *f, const char *what, double bits)
{
    if (verbose())
        fprintf(stderr, "  [%s] %-40s %6.2f bits\n", f->preset, what, bits);
}

static int fx_setup(void **state, const char *preset, const int *steps, size_t nsteps)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->preset = preset;
    f->rng = 0x5eed0000u + (uint64_t)strlen(preset);
    if (ckks_params_from_preset(preset, CKKS_ALLOW_INSECURE, &f->p) != CL_OK)
        return -1;
    f->n = ckks_params_n(f->p);
    f->slots = ckks_params_max_slots(f->p);
    f->L = ckks_params_max_level(f->p);
    f->scale = ckks_params_default_scale(f->p);
    for (size_t i = 0; i < nsteps; i++) {
        int s = steps[i];
        if (s == 99999) /* placeholder: N/2 - 1 */
            s = (int)f->slots - 1;
        else if (s == -99999)
            s = -((int)f->slots - 1);
        f->steps[f->nsteps++] = s;
    }
    if (ckks_secret_key_create(f->p, &f->sk) != CL_OK || ckks_public_key_create(f->sk, &f->pk) != CL_OK ||
        ckks_eval_keys_create(f->sk, CKKS_KEYS_RELIN | CKKS_KEYS_CONJUGATE, f->steps, f->nsteps, &f->keys) !=
            CL_OK ||
        ckks_encoder_create(f->p, &f->enc) != CL_OK || ckks_evaluator_create(f->p, f->keys, &f->ev) != CL_OK ||
        ckks_evaluator_create(f->p, NULL, &f->ev_nokeys) != CL_OK)
        return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    if (!f)
        return 0;
    ckks_evaluator_free(f->ev);
    ckks_evaluator_free(f->ev_nokeys);
    ckks_encoder_free(f->enc);
    ckks_eval_keys_free(f->keys);
    ckks_public_key_free(f->pk);
    ckks_secret_key_free(f->sk);
    ckks_params_free(f->p);
    free(f);
    return 0;
}

/* Rotation steps with keys (99999 stands for N/2 - 1). */
static const int steps_n12[] = {1, -1, 2, -2, 3, -3, 5, 7, -7, 16, 100, -100, 99999, -99999};
static const int steps_n14[] = {1, -1, 3, 5, -7, 100, 99999};

static int setup_n12(void **state)
{
    return fx_setup(state, "test-n12", steps_n12, sizeof steps_n12 / sizeof steps_n12[0]);
}

static int setup_n14(void **state)
{
    return fx_setup(state, "n14", steps_n14, sizeof steps_n14 / sizeof steps_n14[0]);
}

/* ------------------------------------------------------------------ helpers */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [-bound, bound]. */
static double urand(fx *f, double bound)
{
    return ((double)(splitmix(&f->rng) >> 11) * 0x1p-53 * 2.0 - 1.0) * bound;
}

typedef struct vec {
    size_t count;
    double *re, *im;
} vec;

static vec vec_new(size_t count)
{
    vec v = {count, calloc(count ? count : 1, sizeof(double)), calloc(count ? count : 1, sizeof(double))};
    assert_non_null(v.re);
    assert_non_null(v.im);
    return v;
}

static void vec_free(vec *v)
{
    free(v->re);
    free(v->im);
    v->re = v->im = NULL;
}

static vec vec_rand(fx *f, size_t count, double bound, bool complex_values)
{
    vec v = vec_new(count);
    for (size_t i = 0; i < count; i++) {
        v.re[i] = urand(f, bound);
        v.im[i] = complex_values ? urand(f, bound) : 0.0;
    }
    return v;
}

/* -log2 of the largest absolute error (capped at 60 bits). */
static double precision_bits(const vec *got, const vec *want)
{
    assert_int_equal(got->count, want->count);
    double worst = 0;
    for (size_t i = 0; i < got->count; i++) {
        double e = fmax(fabs(got->re[i] - want->re[i]), fabs(got->im[i] - want->im[i]));
        if (!(e <= worst)) /* NaN counts as the worst */
            worst = isnan(e) ? INFINITY : e;
    }
    return worst > 0x1p-60 ? -log2(worst) : 60.0;
}

#define CHECK_BITS(f, what, got, want, min)                                                                  \
    do {                                                                                                     \
        double bits_ = precision_bits((got), (want));                                                        \
        note_bits((f), (what), bits_);                                                                       \
        if (!(bits_ >= (min)))                                                                               \
            fail_msg("[%s] %s: %.2f bits of precision, want >= %.1f", (f)->preset, (what), bits_, (double)(min)); \
    } while (0)

static ckks_plaintext *pt_new(fx *f)
{
    ckks_plaintext *pt;
    assert_int_equal(ckks_plaintext_create(f->p, &pt), CL_OK);
    return pt;
}

static ckks_ciphertext *ct_new(fx *f)
{
    ckks_ciphertext *ct;
    assert_int_equal(ckks_ciphertext_create(f->p, &ct), CL_OK);
    return ct;
}

static void encode_vec(fx *f, const vec *v, size_t slots, int level, double scale, ckks_plaintext *pt)
{
    assert_int_equal(ckks_encode_complex(f->enc, v->re, v->im, v->count, slots, level, scale, pt), CL_OK);
}

/* Encryption of v (public key unless use_sk). */
static ckks_ciphertext *encrypt_vec(fx *f, const vec *v, size_t slots, int level, double scale, bool use_sk)
{
    ckks_plaintext *pt = pt_new(f);
    encode_vec(f, v, slots, level, scale, pt);
    ckks_ciphertext *ct = ct_new(f);
    if (use_sk)
        assert_int_equal(ckks_encrypt_sk(f->sk, pt, ct), CL_OK);
    else
        assert_int_equal(ckks_encrypt_pk(f->pk, pt, ct), CL_OK);
    ckks_plaintext_free(pt);
    return ct;
}

static vec decrypt_vec(fx *f, const ckks_ciphertext *ct, size_t count)
{
    ckks_plaintext *pt = pt_new(f);
    assert_int_equal(ckks_decrypt(f->sk, ct, pt), CL_OK);
    vec v = vec_new(count);
    assert_int_equal(ckks_decode(f->enc, pt, v.re, v.im, count), CL_OK);
    ckks_plaintext_free(pt);
    return v;
}

static void check_ct(fx *f, const char *what, const ckks_ciphertext *ct, const vec *want, double min)
{
    vec got = decrypt_vec(f, ct, want->count);
    CHECK_BITS(f, what, &got, want, min);
    vec_free(&got);
}

/* Polynomial data of two ciphertexts is identical. */
static void assert_ct_identical(const ckks_ciphertext *a, const ckks_ciphertext *b)
{
    assert_int_equal(a->level, b->level);
    assert_int_equal(a->size, b->size);
    assert_true(a->scale == b->scale);
    assert_int_equal(a->slots, b->slots);
    const size_t len = (size_t)(a->level + 1) * a->params->n * sizeof(uint64_t);
    for (int i = 0; i < a->size; i++)
        assert_memory_equal(a->poly[i], b->poly[i], len);
}

static const size_t slot_counts[] = {1, 2, 16, 0 /* N/2 */};
#define NSLOTCOUNTS (sizeof slot_counts / sizeof slot_counts[0])

static size_t slots_at(const fx *f, size_t i)
{
    return slot_counts[i] ? slot_counts[i] : f->slots;
}

/* ------------------------------------------------------------ encoding */

static void test_encode_decode(void **state)
{
    fx *f = *state;
    ckks_plaintext *pt = pt_new(f);
    for (size_t si = 0; si < NSLOTCOUNTS; si++) {
        const size_t slots = slots_at(f, si);
        for (int cplx = 0; cplx < 2; cplx++)
            for (int li = 0; li < 2; li++) {
                const int level = li ? 0 : f->L;
                /* all slots, then the first half (the rest decode as zero) */
                for (int half = 0; half < 2 && (half == 0 || slots > 1); half++) {
                    const size_t count = half ? slots / 2 : slots;
                    vec v = vec_rand(f, count, 1.0, cplx);
                    if (cplx)
                        assert_int_equal(ckks_encode_complex(f->enc, v.re, v.im, count, slots, level, f->scale, pt),
                                         CL_OK);
                    else
                        assert_int_equal(ckks_encode(f->enc, v.re, count, slots, level, f->scale, pt), CL_OK);
                    assert_int_equal(ckks_plaintext_level(pt), level);
                    assert_true(ckks_plaintext_scale(pt) == f->scale);
                    assert_int_equal(ckks_plaintext_slots(pt), slots);
                    vec got = vec_new(slots), want = vec_new(slots);
                    memcpy(want.re, v.re, count * sizeof(double));
                    memcpy(want.im, v.im, count * sizeof(double));
                    assert_int_equal(ckks_decode(f->enc, pt, got.re, got.im, slots), CL_OK);
                    char what[64];
                    snprintf(what, sizeof what, "encode %s slots=%zu count=%zu level=%d", cplx ? "complex" : "real",
                             slots, count, level);
                    CHECK_BITS(f, what, &got, &want, MIN_BITS_ENCODE);
                    /* im may be NULL; fewer values may be asked for */
                    vec part = vec_new(count);
                    assert_int_equal(ckks_decode(f->enc, pt, part.re, NULL, count), CL_OK);
                    for (size_t i = 0; i < count; i++)
                        assert_true(part.re[i] == got.re[i]);
                    vec_free(&part);
                    vec_free(&got);
                    vec_free(&want);
                    vec_free(&v);
                }
            }
    }
    /* a large scale (coefficients past 2^62) and large values at the top level */
    const double big_scales[] = {0x1p80, 0x1p100};
    for (size_t i = 0; i < 2; i++) {
        vec v = vec_rand(f, f->slots, 1.0, true);
        encode_vec(f, &v, f->slots, f->L, big_scales[i], pt);
        vec got = vec_new(f->slots);
        assert_int_equal(ckks_decode(f->enc, pt, got.re, got.im, f->slots), CL_OK);
        CHECK_BITS(f, "encode at a scale above 2^62", &got, &v, 40.0);
        vec_free(&got);
        vec_free(&v);
    }
    {
        vec v = vec_rand(f, f->slots, 1e6, false);
        encode_vec(f, &v, f->slots, f->L, f->scale, pt);
        vec got = vec_new(f->slots);
        assert_int_equal(ckks_decode(f->enc, pt, got.re, got.im, f->slots), CL_OK);
        CHECK_BITS(f, "encode values up to 1e6", &got, &v, 25.0);
        vec_free(&got);
        vec_free(&v);
    }
    ckks_plaintext_free(pt);
}

/* --------------------------------------------------------- encrypt/decrypt */

static void test_encrypt_decrypt(void **state)
{
    fx *f = *state;
    const int levels[] = {f->L, f->L > 2 ? f->L - 2 : 0, 0};
    for (size_t si = 0; si < NSLOTCOUNTS; si++) {
        const size_t slots = slots_at(f, si);
        for (int use_sk = 0; use_sk < 2; use_sk++)
            for (size_t li = 0; li < 3; li++) {
                vec v = vec_rand(f, slots, 1.0, slots != 2);
                ckks_ciphertext *ct = encrypt_vec(f, &v, slots, levels[li], f->scale, use_sk);
                assert_int_equal(ckks_ciphertext_level(ct), levels[li]);
                assert_true(ckks_ciphertext_scale(ct) == f->scale);
                assert_int_equal(ckks_ciphertext_slots(ct), slots);
                assert_int_equal(ckks_ciphertext_size(ct), 2);
                assert_int_equal(ckks_ciphertext_is_seeded(ct), use_sk);
                char what[64];
                snprintf(what, sizeof what, "encrypt_%s slots=%zu level=%d", use_sk ? "sk" : "pk", slots, levels[li]);
                check_ct(f, what, ct, &v, MIN_BITS);
                /* a copy decrypts the same */
                ckks_ciphertext *cp = ct_new(f);
                assert_int_equal(ckks_ciphertext_copy(cp, ct), CL_OK);
                assert_ct_identical(cp, ct);
                assert_int_equal(ckks_ciphertext_is_seeded(cp), use_sk);
                ckks_ciphertext_free(cp);
                ckks_ciphertext_free(ct);
                vec_free(&v);
            }
    }
    /* two encryptions of one plaintext differ (fresh randomness) */
    vec v = vec_rand(f, f->slots, 1.0, false);
    for (int use_sk = 0; use_sk < 2; use_sk++) {
        ckks_ciphertext *a = encrypt_vec(f, &v, f->slots, f->L, f->scale, use_sk);
        ckks_ciphertext *b = encrypt_vec(f, &v, f->slots, f->L, f->scale, use_sk);
        assert_true(memcmp(a->poly[1], b->poly[1], f->n * sizeof(uint64_t)) != 0);
        assert_true(memcmp(a->poly[0], b->poly[0], f->n * sizeof(uint64_t)) != 0);
        if (use_sk)
            assert_true(memcmp(a->seed, b->seed, sizeof a->seed) != 0);
        ckks_ciphertext_free(a);
        ckks_ciphertext_free(b);
    }
    vec_free(&v);
}

/* ---------------------------------------------------------- additive ops */

static void test_add_sub_negate(void **state)
{
    fx *f = *state;
    for (size_t si = 0; si < NSLOTCOUNTS; si++) {
        const size_t slots = slots_at(f, si);
        vec a = vec_rand(f, slots, 1.0, true), b = vec_rand(f, slots, 1.0, true);
        vec sum = vec_new(slots), diff = vec_new(slots), neg = vec_new(slots);
        for (size_t i = 0; i < slots; i++) {
            sum.re[i] = a.re[i] + b.re[i];
            sum.im[i] = a.im[i] + b.im[i];
            diff.re[i] = a.re[i] - b.re[i];
            diff.im[i] = a.im[i] - b.im[i];
            neg.re[i] = -a.re[i];
            neg.im[i] = -a.im[i];
        }
        ckks_ciphertext *ca = encrypt_vec(f, &a, slots, f->L, f->scale, false);
        ckks_ciphertext *cb = encrypt_vec(f, &b, slots, f->L, f->scale, true);
        ckks_ciphertext *out = ct_new(f);
        assert_int_equal(ckks_add(f->ev, ca, cb, out), CL_OK);
        assert_false(ckks_ciphertext_is_seeded(out));
        check_ct(f, "add", out, &sum, MIN_BITS);
        assert_int_equal(ckks_sub(f->ev, ca, cb, out), CL_OK);
        check_ct(f, "sub", out, &diff, MIN_BITS);
        assert_int_equal(ckks_negate(f->ev, ca, out), CL_OK);
        check_ct(f, "negate", out, &neg, MIN_BITS);
        /* in place: the output aliases an input */
        ckks_ciphertext *t = ct_new(f);
        assert_int_equal(ckks_ciphertext_copy(t, ca), CL_OK);
        assert_int_equal(ckks_add(f->ev, t, cb, t), CL_OK);
        check_ct(f, "add in place", t, &sum, MIN_BITS);
        assert_int_equal(ckks_ciphertext_copy(t, cb), CL_OK);
        assert_int_equal(ckks_sub(f->ev, ca, t, t), CL_OK);
        check_ct(f, "sub in place (second operand)", t, &diff, MIN_BITS);
        assert_int_equal(ckks_negate(f->ev, t, t), CL_OK);
        assert_int_equal(ckks_negate(f->ev, t, t), CL_OK);
        check_ct(f, "negate twice in place", t, &diff, MIN_BITS);
        /* a - a = 0 */
        assert_int_equal(ckks_sub(f->ev, ca, ca, t), CL_OK);
        vec zero = vec_new(slots);
        check_ct(f, "a - a", t, &zero, MIN_BITS);
        vec_free(&zero);
        /* at a lower level */
        assert_int_equal(ckks_drop_level(f->ev, ca, 1, ca), CL_OK);
        assert_int_equal(ckks_drop_level(f->ev, cb, 1, cb), CL_OK);
        assert_int_equal(ckks_add(f->ev, ca, cb, out), CL_OK);
        assert_int_equal(ckks_ciphertext_level(out), 1);
        check_ct(f, "add at level 1", out, &sum, MIN_BITS);
        ckks_ciphertext_free(t);
        ckks_ciphertext_free(ca);
        ckks_ciphertext_free(cb);
        ckks_ciphertext_free(out);
        vec_free(&a);
        vec_free(&b);
        vec_free(&sum);
        vec_free(&diff);
        vec_free(&neg);
    }
}

/* ------------------------------------------------------ plaintext operands */

static void test_plain_ops(void **state)
{
    fx *f = *state;
    for (size_t si = 0; si < NSLOTCOUNTS; si++) {
        const size_t slots = slots_at(f, si);
        vec a = vec_rand(f, slots, 1.0, true), b = vec_rand(f, slots, 1.0, true);
        vec want = vec_new(slots);
        ckks_ciphertext *ca = encrypt_vec(f, &a, slots, f->L, f->scale, false);
        ckks_plaintext *pb = pt_new(f);
        encode_vec(f, &b, slots, f->L, f->scale, pb);
        ckks_ciphertext *out = ct_new(f);

        for (size_t i = 0; i < slots; i++) {
            want.re[i] = a.re[i] + b.re[i];
            want.im[i] = a.im[i] + b.im[i];
        }
        assert_int_equal(ckks_add_plain(f->ev, ca, pb, out), CL_OK);
        check_ct(f, "add_plain", out, &want, MIN_BITS);
        for (size_t i = 0; i < slots; i++) {
            want.re[i] = a.re[i] - b.re[i];
            want.im[i] = a.im[i] - b.im[i];
        }
        assert_int_equal(ckks_sub_plain(f->ev, ca, pb, out), CL_OK);
        check_ct(f, "sub_plain", out, &want, MIN_BITS);

        /* constants */
        const double consts[] = {0.375, -2.5, 0.0, 1e-3};
        for (size_t c = 0; c < 4; c++) {
            for (size_t i = 0; i < slots; i++) {
                want.re[i] = a.re[i] + consts[c];
                want.im[i] = a.im[i];
            }
            assert_int_equal(ckks_add_const(f->ev, ca, consts[c], out), CL_OK);
            check_ct(f, "add_const", out, &want, MIN_BITS);
            for (size_t i = 0; i < slots; i++) {
                want.re[i] = a.re[i] * consts[c];
                want.im[i] = a.im[i] * consts[c];
            }
            /* an explicit constant scale: the scale is multiplied by it */
            assert_int_equal(ckks_mul_const(f->ev, ca, consts[c], 0x1p40, out), CL_OK);
            assert_true(ckks_ciphertext_scale(out) == f->scale * 0x1p40);
            assert_int_equal(ckks_ciphertext_level(out), f->L);
            check_ct(f, "mul_const (scale 2^40)", out, &want, MIN_BITS);
            assert_int_equal(ckks_rescale(f->ev, out, out), CL_OK);
            assert_true(ckks_ciphertext_scale(out) ==
                        f->scale * 0x1p40 / (double)ckks_params_prime(f->p, (size_t)f->L));
            check_ct(f, "mul_const (scale 2^40) + rescale", out, &want, MIN_BITS);
            /* 0 = q_level: the rescale restores the scale exactly */
            assert_int_equal(ckks_mul_const(f->ev, ca, consts[c], 0, out), CL_OK);
            assert_true(ckks_ciphertext_scale(out) == f->scale * (double)ckks_params_prime(f->p, (size_t)f->L));
            assert_int_equal(ckks_rescale(f->ev, out, out), CL_OK);
            assert_int_equal(ckks_ciphertext_level(out), f->L - 1);
            assert_true(ckks_ciphertext_scale(out) == f->scale);
            check_ct(f, "mul_const (q_level) + rescale", out, &want, MIN_BITS);
        }
        /* in place */
        assert_int_equal(ckks_ciphertext_copy(out, ca), CL_OK);
        assert_int_equal(ckks_add_const(f->ev, out, 0.5, out), CL_OK);
        assert_int_equal(ckks_mul_const(f->ev, out, -2.0, 0, out), CL_OK);
        assert_int_equal(ckks_rescale(f->ev, out, out), CL_OK);
        for (size_t i = 0; i < slots; i++) {
            want.re[i] = (a.re[i] + 0.5) * -2.0;
            want.im[i] = a.im[i] * -2.0;
        }
        check_ct(f, "add_const, mul_const in place", out, &want, MIN_BITS);

        /* plaintext product: (a+bi)(c+di) */
        for (size_t i = 0; i < slots; i++) {
            want.re[i] = a.re[i] * b.re[i] - a.im[i] * b.im[i];
            want.im[i] = a.re[i] * b.im[i] + a.im[i] * b.re[i];
        }
        assert_int_equal(ckks_mul_plain(f->ev, ca, pb, out), CL_OK);
        assert_true(ckks_ciphertext_scale(out) == f->scale * f->scale);
        check_ct(f, "mul_plain", out, &want, MIN_BITS);
        assert_int_equal(ckks_rescale(f->ev, out, out), CL_OK);
        check_ct(f, "mul_plain + rescale", out, &want, MIN_BITS);
        /* a plaintext above the ciphertext's level is accepted */
        ckks_ciphertext *low = ct_new(f);
        assert_int_equal(ckks_drop_level(f->ev, ca, f->L - 2, low), CL_OK);
        assert_int_equal(ckks_mul_plain(f->ev, low, pb, out), CL_OK);
        assert_int_equal(ckks_ciphertext_level(out), f->L - 2);
        assert_int_equal(ckks_rescale(f->ev, out, out), CL_OK);
        check_ct(f, "mul_plain (plaintext above the level)", out, &want, MIN_BITS);
        for (size_t i = 0; i < slots; i++) {
            want.re[i] = a.re[i] + b.re[i];
            want.im[i] = a.im[i] + b.im[i];
        }
        assert_int_equal(ckks_add_plain(f->ev, low, pb, out), CL_OK);
        check_ct(f, "add_plain (plaintext above the level)", out, &want, MIN_BITS);
        /* in place */
        assert_int_equal(ckks_sub_plain(f->ev, low, pb, low), CL_OK);
        assert_int_equal(ckks_add_plain(f->ev, low, pb, low), CL_OK);
        check_ct(f, "sub_plain, add_plain in place", low, &a, MIN_BITS);

        ckks_ciphertext_free(low);
        ckks_ciphertext_free(ca);
        ckks_ciphertext_free(out);
        ckks_plaintext_free(pb);
        vec_free(&a);
        vec_free(&b);
        vec_free(&want);
    }
}

/* The exact restoration of the scale by mul_const(.., 0) + rescale, below the
 * top level too (where the scale is no longer a power of two). */
static void test_mul_const_scale_exact(void **state)
{
    fx *f = *state;
    vec a = vec_rand(f, f->slots, 1.0, false), b = vec_rand(f, f->slots, 1.0, false);
    ckks_ciphertext *ca = encrypt_vec(f, &a, f->slots, f->L, f->scale, false);
    ckks_ciphertext *cb = encrypt_vec(f, &b, f->slots, f->L, f->scale, false);
    vec want = vec_new(f->slots);
    for (size_t i = 0; i < f->slots; i++)
        want.re[i] = a.re[i] * b.re[i];
    assert_int_equal(ckks_mul_relin(f->ev, ca, cb, ca), CL_OK);
    assert_int_equal(ckks_rescale(f->ev, ca, ca), CL_OK);
    /* now the scale is scale^2 / q_L */
    for (int level = f->L - 1; level >= 1; level--) {
        const double before = ckks_ciphertext_scale(ca);
        assert_int_equal(ckks_mul_const(f->ev, ca, 0.75, 0, ca), CL_OK);
        assert_int_equal(ckks_rescale(f->ev, ca, ca), CL_OK);
        assert_int_equal(ckks_ciphertext_level(ca), level - 1);
        if (!(ckks_ciphertext_scale(ca) == before))
            fail_msg("[%s] mul_const(c, 0) + rescale at level %d: scale %.17g, was %.17g", f->preset, level,
                     ckks_ciphertext_scale(ca), before);
        for (size_t i = 0; i < f->slots; i++)
            want.re[i] *= 0.75;
    }
    check_ct(f, "mul_const(q_level) + rescale down to level 0", ca, &want, MIN_BITS);
    ckks_ciphertext_free(ca);
    ckks_ciphertext_free(cb);
    vec_free(&a);
    vec_free(&b);
    vec_free(&want);
}

/* ------------------------------------------------------ multiplication */

static void test_mul_relin_rescale(void **state)
{
    fx *f = *state;
    for (size_t si = 0; si < NSLOTCOUNTS; si++) {
        const size_t slots = slots_at(f, si);
        vec a = vec_rand(f, slots, 1.0, true), b = vec_rand(f, slots, 1.0, true);
        vec prod = vec_new(slots), sq = vec_new(slots), two = vec_new(slots);
        for (size_t i = 0; i < slots; i++) {
            prod.re[i] = a.re[i] * b.re[i] - a.im[i] * b.im[i];
            prod.im[i] = a.re[i] * b.im[i] + a.im[i] * b.re[i];
            sq.re[i] = a.re[i] * a.re[i] - a.im[i] * a.im[i];
            sq.im[i] = 2 * a.re[i] * a.im[i];
            two.re[i] = prod.re[i] + sq.re[i];
            two.im[i] = prod.im[i] + sq.im[i];
        }
        ckks_ciphertext *ca = encrypt_vec(f, &a, slots, f->L, f->scale, false);
        ckks_ciphertext *cb = encrypt_vec(f, &b, slots, f->L, f->scale, true);
        ckks_ciphertext *t = ct_new(f), *u = ct_new(f), *w = ct_new(f);

        assert_int_equal(ckks_mul(f->ev, ca, cb, t), CL_OK);
        assert_int_equal(ckks_ciphertext_size(t), 3);
        assert_true(ckks_ciphertext_scale(t) == f->scale * f->scale);
        assert_int_equal(ckks_ciphertext_level(t), f->L);
        check_ct(f, "mul (size 3, decrypted as is)", t, &prod, MIN_BITS);
        /* size-3 arithmetic before relinearization */
        assert_int_equal(ckks_mul(f->ev, ca, ca, u), CL_OK);
        assert_int_equal(ckks_add(f->ev, t, u, w), CL_OK);
        assert_int_equal(ckks_ciphertext_size(w), 3);
        check_ct(f, "mul + mul (size 3 add)", w, &two, MIN_BITS);
        assert_int_equal(ckks_relinearize(f->ev, w, w), CL_OK);
        assert_int_equal(ckks_rescale(f->ev, w, w), CL_OK);
        check_ct(f, "(mul + mul) relin rescale", w, &two, MIN_BITS);

        assert_int_equal(ckks_relinearize(f->ev, t, u), CL_OK);
        assert_int_equal(ckks_ciphertext_size(u), 2);
        assert_true(ckks_ciphertext_scale(u) == f->scale * f->scale);
        check_ct(f, "mul + relinearize", u, &prod, MIN_BITS);
        assert_int_equal(ckks_rescale(f->ev, u, w), CL_OK);
        assert_int_equal(ckks_ciphertext_level(w), f->L - 1);
        assert_true(ckks_ciphertext_scale(w) == f->scale * f->scale / (double)ckks_params_prime(f->p, (size_t)f->L));
        check_ct(f, "mul + relinearize + rescale", w, &prod, MIN_BITS);

        /* mul_relin equals mul then relinearize, bit for bit */
        assert_int_equal(ckks_mul_relin(f->ev, ca, cb, w), CL_OK);
        assert_ct_identical(w, u);
        /* squaring in place */
        assert_int_equal(ckks_ciphertext_copy(w, ca), CL_OK);
        assert_int_equal(ckks_mul_relin(f->ev, w, w, w), CL_OK);
        assert_int_equal(ckks_rescale(f->ev, w, w), CL_OK);
        check_ct(f, "square in place + rescale", w, &sq, MIN_BITS);
        /* relinearizing a size-2 ciphertext is a copy */
        assert_int_equal(ckks_relinearize(f->ev, ca, u), CL_OK);
        assert_ct_identical(u, ca);

        ckks_ciphertext_free(ca);
        ckks_ciphertext_free(cb);
        ckks_ciphertext_free(t);
        ckks_ciphertext_free(u);
        ckks_ciphertext_free(w);
        vec_free(&a);
        vec_free(&b);
        vec_free(&prod);
        vec_free(&sq);
        vec_free(&two);
    }
}

static void test_rescale_drop_level(void **state)
{
    fx *f = *state;
    vec a = vec_rand(f, f->slots, 1.0, true);
    /* a plaintext at scale 2^40 * q_L rescales to 2^40 */
    const double qL = (double)ckks_params_prime(f->p, (size_t)f->L);
    ckks_ciphertext *ca = encrypt_vec(f, &a, f->slots, f->L, f->scale * qL, false);
    ckks_ciphertext *out = ct_new(f);
    assert_int_equal(ckks_rescale(f->ev, ca, out), CL_OK);
    assert_int_equal(ckks_ciphertext_level(out), f->L - 1);
    assert_true(ckks_ciphertext_scale(out) == f->scale * qL / qL);
    check_ct(f, "rescale", out, &a, MIN_BITS);
    /* every level down from the top, scale unchanged */
    ckks_ciphertext *cs = encrypt_vec(f, &a, f->slots, f->L, f->scale, true);
    for (int level = f->L; level >= 0; level--) {
        assert_int_equal(ckks_drop_level(f->ev, cs, level, out), CL_OK);
        assert_int_equal(ckks_ciphertext_level(out), level);
        assert_true(ckks_ciphertext_scale(out) == f->scale);
        assert_true(ckks_ciphertext_is_seeded(out)); /* limbs of expand(seed) stay so */
        check_ct(f, "drop_level", out, &a, MIN_BITS);
    }
    /* to the same level: unchanged; in place */
    assert_int_equal(ckks_drop_level(f->ev, cs, f->L, out), CL_OK);
    assert_ct_identical(out, cs);
    assert_int_equal(ckks_drop_level(f->ev, cs, 1, cs), CL_OK);
    assert_int_equal(ckks_ciphertext_level(cs), 1);
    check_ct(f, "drop_level in place", cs, &a, MIN_BITS);
    /* rescale of a ciphertext with a wide scale at every level */
    for (int level = f->L; level >= 1; level--) {
        const double ql = (double)ckks_params_prime(f->p, (size_t)level);
        ckks_ciphertext *c = encrypt_vec(f, &a, f->slots, level, f->scale * ql, level & 1);
        assert_int_equal(ckks_rescale(f->ev, c, c), CL_OK);
        assert_int_equal(ckks_ciphertext_level(c), level - 1);
        assert_false(ckks_ciphertext_is_seeded(c));
        check_ct(f, "rescale at every level", c, &a, MIN_BITS);
        ckks_ciphertext_free(c);
    }
    ckks_ciphertext_free(ca);
    ckks_ciphertext_free(cs);
    ckks_ciphertext_free(out);
    vec_free(&a);
}

/* Multiply-rescale down to level 0, consuming every level, with other
 * operations on the way; checked at every level. */
static void test_chain_all_levels(void **state)
{
    fx *f = *state;
    for (size_t si = 0; si < 2; si++) {
        const size_t slots = si ? 16 : f->slots;
        vec x = vec_rand(f, slots, 1.0, true);
        vec want = vec_new(slots);
        memcpy(want.re, x.re, slots * sizeof(double));
        memcpy(want.im, x.im, slots * sizeof(double));
        ckks_ciphertext *acc = encrypt_vec(f, &x, slots, f->L, f->scale, false);
        ckks_ciphertext *cy = ct_new(f);
        ckks_plaintext *py = pt_new(f);
        for (int level = f->L; level >= 1; level--) {
            vec y = vec_rand(f, slots, 0.7, true); /* |y| < 1 */
            if (level % 2 == 0) {
                /* ciphertext x ciphertext: y encrypted at the top, dropped to this level */
                ckks_ciphertext *top = encrypt_vec(f, &y, slots, f->L, f->scale, level % 4 == 0);
                assert_int_equal(ckks_drop_level(f->ev, top, level, cy), CL_OK);
                ckks_ciphertext_free(top);
                assert_int_equal(ckks_mul_relin(f->ev, acc, cy, acc), CL_OK);
            } else {
                /* ciphertext x plaintext */
                encode_vec(f, &y, slots, level, f->scale, py);
                assert_int_equal(ckks_mul_plain(f->ev, acc, py, acc), CL_OK);
            }
            assert_int_equal(ckks_rescale(f->ev, acc, acc), CL_OK);
            assert_int_equal(ckks_ciphertext_level(acc), level - 1);
            /* keep magnitudes near 1: acc * y + 0.25 */
            assert_int_equal(ckks_add_const(f->ev, acc, 0.25, acc), CL_OK);
            for (size_t i = 0; i < slots; i++) {
                double re = want.re[i] * y.re[i] - want.im[i] * y.im[i];
                double im = want.re[i] * y.im[i] + want.im[i] * y.re[i];
                want.re[i] = re + 0.25;
                want.im[i] = im;
            }
            char what[64];
            snprintf(what, sizeof what, "chain slots=%zu, at level %d", slots, level - 1);
            check_ct(f, what, acc, &want, MIN_BITS);
            vec_free(&y);
        }
        assert_int_equal(ckks_ciphertext_level(acc), 0);
        /* nothing is left to rescale */
        assert_int_equal(ckks_rescale(f->ev, acc, cy), CL_ERR_LEVEL);
        ckks_ciphertext_free(acc);
        ckks_ciphertext_free(cy);
        ckks_plaintext_free(py);
        vec_free(&x);
        vec_free(&want);
    }
    /* repeated squaring of values near 1 in magnitude, every level */
    vec x = vec_new(f->slots);
    for (size_t i = 0; i < f->slots; i++) {
        double t = urand(f, 3.14159265358979);
        x.re[i] = cos(t);
        x.im[i] = sin(t); /* on the unit circle: powers stay there */
    }
    vec want = vec_new(f->slots);
    memcpy(want.re, x.re, f->slots * sizeof(double));
    memcpy(want.im, x.im, f->slots * sizeof(double));
    ckks_ciphertext *acc = encrypt_vec(f, &x, f->slots, f->L, f->scale, true);
    for (int level = f->L; level >= 1; level--) {
        assert_int_equal(ckks_mul_relin(f->ev, acc, acc, acc), CL_OK);
        assert_int_equal(ckks_rescale(f->ev, acc, acc), CL_OK);
        for (size_t i = 0; i < f->slots; i++) {
            double re = want.re[i] * want.re[i] - want.im[i] * want.im[i];
            double im = 2 * want.re[i] * want.im[i];
            want.re[i] = re;
            want.im[i] = im;
        }
    }
    check_ct(f, "repeated squaring down to level 0", acc, &want, MIN_BITS);
    ckks_ciphertext_free(acc);
    vec_free(&x);
    vec_free(&want);
}

/* ------------------------------------------------------------ rotations */

static void rotated(const vec *v, int step, vec *out)
{
    const long long s = (long long)v->count;
    for (size_t j = 0; j < v->count; j++) {
        long long k = (((long long)j + step) % s + s) % s;
        out->re[j] = v->re[k];
        out->im[j] = v->im[k];
    }
}

static void test_rotate(void **state)
{
    fx *f = *state;
    const size_t sl[] = {f->slots, 16, 2};
    for (size_t si = 0; si < 3; si++) {
        const size_t slots = sl[si];
        vec a = vec_rand(f, slots, 1.0, true), want = vec_new(slots);
        ckks_ciphertext *ca = encrypt_vec(f, &a, slots, f->L, f->scale, si == 1);
        ckks_ciphertext *out = ct_new(f);
        for (size_t k = 0; k < f->nsteps; k++) {
            const int step = f->steps[k];
            assert_int_equal(ckks_rotate(f->ev, ca, step, out), CL_OK);
            assert_int_equal(ckks_ciphertext_level(out), f->L);
            assert_true(ckks_ciphertext_scale(out) == f->scale);
            assert_int_equal(ckks_ciphertext_slots(out), slots);
            rotated(&a, step, &want);
            char what[64];
            snprintf(what, sizeof what, "rotate %d (slots=%zu)", step, slots);
            check_ct(f, what, out, &want, MIN_BITS);
        }
        /* composition of rotations, in place: 1 then -1 is the identity */
        assert_int_equal(ckks_ciphertext_copy(out, ca), CL_OK);
        assert_int_equal(ckks_rotate(f->ev, out, 1, out), CL_OK);
        assert_int_equal(ckks_rotate(f->ev, out, 5, out), CL_OK);
        rotated(&a, 6, &want);
        check_ct(f, "rotate 1 then 5 in place", out, &want, MIN_BITS);
        /* a multiple of N/2 (and 0) needs no key: identity */
        assert_int_equal(ckks_rotate(f->ev_nokeys, ca, 0, out), CL_OK);
        assert_ct_identical(out, ca);
        assert_int_equal(ckks_rotate(f->ev_nokeys, ca, (int)f->slots, out), CL_OK);
        check_ct(f, "rotate N/2", out, &a, MIN_BITS);
        /* below the top level */
        assert_int_equal(ckks_drop_level(f->ev, ca, 1, ca), CL_OK);
        assert_int_equal(ckks_rotate(f->ev, ca, -1, out), CL_OK);
        assert_int_equal(ckks_ciphertext_level(out), 1);
        rotated(&a, -1, &want);
        check_ct(f, "rotate -1 at level 1", out, &want, MIN_BITS);
        assert_int_equal(ckks_drop_level(f->ev, ca, 0, ca), CL_OK);
        assert_int_equal(ckks_rotate(f->ev, ca, 3, out), CL_OK);
        rotated(&a, 3, &want);
        check_ct(f, "rotate 3 at level 0", out, &want, MIN_BITS);
        ckks_ciphertext_free(ca);
        ckks_ciphertext_free(out);
        vec_free(&a);
        vec_free(&want);
    }
    /* the Galois elements */
    assert_int_equal(ckks_galois_element(f->p, 1), 5);
    assert_int_equal(ckks_galois_element(f->p, 0), 1);
    assert_int_equal(ckks_galois_element(f->p, (int)f->slots), 1);
    assert_int_equal(ckks_galois_conjugate(f->p), 2 * f->n - 1);
    assert_int_equal((ckks_galois_element(f->p, 1) * ckks_galois_element(f->p, -1)) % (2 * f->n), 1);
    assert_int_equal(ckks_galois_element(f->p, 3), 125);
    assert_true(ckks_eval_keys_has_relin(f->keys));
    assert_true(ckks_eval_keys_has_galois(f->keys, ckks_galois_conjugate(f->p)));
    for (size_t k = 0; k < f->nsteps; k++)
        assert_true(ckks_eval_keys_has_galois(f->keys, ckks_galois_element(f->p, f->steps[k])));
}

static void test_conjugate(void **state)
{
    fx *f = *state;
    const size_t sl[] = {f->slots, 16, 1};
    for (size_t si = 0; si < 3; si++) {
        const size_t slots = sl[si];
        vec a = vec_rand(f, slots, 1.0, true), want = vec_new(slots);
        for (size_t i = 0; i < slots; i++) {
            want.re[i] = a.re[i];
            want.im[i] = -a.im[i];
        }
        ckks_ciphertext *ca = encrypt_vec(f, &a, slots, f->L, f->scale, si == 0);
        ckks_ciphertext *out = ct_new(f);
        assert_int_equal(ckks_conjugate(f->ev, ca, out), CL_OK);
        check_ct(f, "conjugate", out, &want, MIN_BITS);
        /* twice, in place: back to a */
        assert_int_equal(ckks_conjugate(f->ev, out, out), CL_OK);
        check_ct(f, "conjugate twice", out, &a, MIN_BITS);
        /* real part: (z + conj z) / 2 */
        assert_int_equal(ckks_conjugate(f->ev, ca, out), CL_OK);
        assert_int_equal(ckks_add(f->ev, ca, out, out), CL_OK);
        assert_int_equal(ckks_mul_const(f->ev, out, 0.5, 0, out), CL_OK);
        assert_int_equal(ckks_rescale(f->ev, out, out), CL_OK);
        for (size_t i = 0; i < slots; i++)
            want.im[i] = 0;
        check_ct(f, "real part by conjugation", out, &want, MIN_BITS);
        ckks_ciphertext_free(ca);
        ckks_ciphertext_free(out);
        vec_free(&a);
        vec_free(&want);
    }
}

static void test_rotate_hoisted(void **state)
{
    fx *f = *state;
    int steps[40];
    size_t count = 0;
    for (size_t k = 0; k < f->nsteps; k++)
        steps[count++] = f->steps[k];
    steps[count++] = 0;           /* identity */
    steps[count++] = f->steps[0]; /* a repeat */
    steps[count++] = (int)f->slots; /* identity again */
    ckks_ciphertext *outs[40], *plain = ct_new(f);
    for (size_t k = 0; k < count; k++)
        outs[k] = ct_new(f);
    for (int variant = 0; variant < 3; variant++) {
        const size_t slots = variant == 1 ? 16 : f->slots;
        const int level = variant == 2 ? 1 : f->L;
        vec a = vec_rand(f, slots, 1.0, true), want = vec_new(slots);
        ckks_ciphertext *ca = encrypt_vec(f, &a, slots, level, f->scale, variant == 0);
        assert_int_equal(ckks_rotate_hoisted(f->ev, ca, steps, count, outs), CL_OK);
        for (size_t k = 0; k < count; k++) {
            assert_int_equal(ckks_rotate(f->ev, ca, steps[k], plain), CL_OK);
            assert_ct_identical(outs[k], plain);
        }
        /* and they are right */
        for (size_t k = 0; k < count; k += 3) {
            rotated(&a, steps[k], &want);
            check_ct(f, "rotate_hoisted", outs[k], &want, MIN_BITS);
        }
        /* the last output may alias the input */
        ckks_ciphertext *copy = ct_new(f);
        assert_int_equal(ckks_ciphertext_copy(copy, ca), CL_OK);
        ckks_ciphertext *alias[2] = {outs[0], copy};
        const int two[2] = {steps[1], steps[2]};
        assert_int_equal(ckks_rotate_hoisted(f->ev, copy, two, 2, alias), CL_OK);
        assert_int_equal(ckks_rotate(f->ev, ca, two[0], plain), CL_OK);
        assert_ct_identical(outs[0], plain);
        assert_int_equal(ckks_rotate(f->ev, ca, two[1], plain), CL_OK);
        assert_ct_identical(copy, plain);
        /* but not an earlier one */
        ckks_ciphertext *bad[2] = {copy, outs[0]};
        assert_int_equal(ckks_rotate_hoisted(f->ev, copy, two, 2, bad), CL_ERR_INVALID);
        ckks_ciphertext_free(copy);
        ckks_ciphertext_free(ca);
        vec_free(&a);
        vec_free(&want);
    }
    for (size_t k = 0; k < count; k++)
        ckks_ciphertext_free(outs[k]);
    ckks_ciphertext_free(plain);
}

/* ---------------------------------------------------------------- errors */

static void test_errors(void **state)
{
    fx *f = *state;
    vec a = vec_rand(f, f->slots, 1.0, false);
    ckks_ciphertext *top = encrypt_vec(f, &a, f->slots, f->L, f->scale, false);
    ckks_ciphertext *low = ct_new(f), *out = ct_new(f), *empty = ct_new(f), *sq = ct_new(f);
    ckks_ciphertext *other_scale = encrypt_vec(f, &a, f->slots, f->L, f->scale * 2, false);
    vec a16 = vec_rand(f, 16, 1.0, false);
    ckks_ciphertext *sparse = encrypt_vec(f, &a16, 16, f->L, f->scale, false);
    ckks_plaintext *pt = pt_new(f), *pt_low = pt_new(f), *pt_empty = pt_new(f);
    encode_vec(f, &a, f->slots, f->L, f->scale, pt);
    encode_vec(f, &a, f->slots, 1, f->scale, pt_low);
    assert_int_equal(ckks_drop_level(f->ev, top, f->L - 1, low), CL_OK);
    assert_int_equal(ckks_mul(f->ev, top, top, sq), CL_OK);

    /* mismatched levels */
    assert_int_equal(ckks_add(f->ev, top, low, out), CL_ERR_LEVEL);
    assert_int_equal(ckks_sub(f->ev, low, top, out), CL_ERR_LEVEL);
    assert_int_equal(ckks_mul(f->ev, top, low, out), CL_ERR_LEVEL);
    assert_int_equal(ckks_mul_relin(f->ev, top, low, out), CL_ERR_LEVEL);
    assert_int_equal(ckks_add_plain(f->ev, top, pt_low, out), CL_ERR_LEVEL);
    assert_int_equal(ckks_sub_plain(f->ev, top, pt_low, out), CL_ERR_LEVEL);
    assert_int_equal(ckks_mul_plain(f->ev, top, pt_low, out), CL_ERR_LEVEL);
    assert_int_equal(ckks_drop_level(f->ev, low, f->L, out), CL_ERR_LEVEL);
    assert_int_equal(ckks_drop_level(f->ev, low, -1, out), CL_ERR_LEVEL);
    /* mismatched scales (equal up to 1e-9 relative is accepted) */
    assert_int_equal(ckks_add(f->ev, top, other_scale, out), CL_ERR_SCALE);
    assert_int_equal(ckks_sub(f->ev, other_scale, top, out), CL_ERR_SCALE);
    assert_int_equal(ckks_add_plain(f->ev, other_scale, pt, out), CL_ERR_SCALE);
    assert_int_equal(ckks_sub_plain(f->ev, other_scale, pt, out), CL_ERR_SCALE);
    assert_int_equal(ckks_ciphertext_set_scale(other_scale, f->scale * (1 + 1e-12)), CL_OK);
    assert_int_equal(ckks_add(f->ev, top, other_scale, out), CL_OK);
    assert_int_equal(ckks_ciphertext_set_scale(other_scale, f->scale * (1 + 1e-6)), CL_OK);
    assert_int_equal(ckks_add(f->ev, top, other_scale, out), CL_ERR_SCALE);
    /* a product whose scale would not fit the modulus */
    ckks_ciphertext *l0 = ct_new(f);
    assert_int_equal(ckks_drop_level(f->ev, top, 0, l0), CL_OK);
    assert_int_equal(ckks_mul(f->ev, l0, l0, out), CL_ERR_SCALE);
    /* missing keys */
    assert_int_equal(ckks_rotate(f->ev_nokeys, top, 1, out), CL_ERR_NOKEY);
    assert_int_equal(ckks_rotate(f->ev, top, 9, out), CL_ERR_NOKEY); /* no key for step 9 */
    assert_int_equal(ckks_conjugate(f->ev_nokeys, top, out), CL_ERR_NOKEY);
    const int hs[3] = {1, 9, -1};
    ckks_ciphertext *houts[3] = {out, low, empty};
    assert_int_equal(ckks_rotate_hoisted(f->ev, top, hs, 3, houts), CL_ERR_NOKEY);
    assert_int_equal(ckks_relinearize(f->ev_nokeys, sq, out), CL_ERR_NOKEY);
    assert_int_equal(ckks_mul_relin(f->ev_nokeys, top, top, out), CL_ERR_NOKEY);
    /* rescale at level 0 */
    assert_int_equal(ckks_rescale(f->ev, l0, out), CL_ERR_LEVEL);
    assert_int_equal(ckks_rescale(f->ev, l0, l0), CL_ERR_LEVEL);
    /* wrong shapes */
    assert_int_equal(ckks_rotate(f->ev, sq, 1, out), CL_ERR_INVALID); /* relinearize first */
    assert_int_equal(ckks_mul(f->ev, sq, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add(f->ev, top, sparse, out), CL_ERR_INVALID);    /* slot counts differ */
    assert_int_equal(ckks_add_plain(f->ev, sparse, pt, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_plain(f->ev, sparse, pt, out), CL_ERR_INVALID);
    int many[65] = {0};
    ckks_ciphertext *many_outs[65];
    for (int i = 0; i < 65; i++)
        many_outs[i] = out;
    assert_int_equal(ckks_rotate_hoisted(f->ev, top, many, 65, many_outs), CL_ERR_INVALID);
    assert_int_equal(ckks_rotate_hoisted(f->ev, top, many, 0, many_outs), CL_ERR_INVALID);
    /* empty objects (never written) */
    assert_int_equal(ckks_add(f->ev, empty, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_negate(f->ev, empty, out), CL_ERR_INVALID);
    assert_int_equal(ckks_rescale(f->ev, empty, out), CL_ERR_INVALID);
    assert_int_equal(ckks_rotate(f->ev, empty, 1, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add_plain(f->ev, top, pt_empty, out), CL_ERR_INVALID);
    assert_int_equal(ckks_decrypt(f->sk, empty, pt_empty), CL_ERR_INVALID);
    assert_int_equal(ckks_encrypt_pk(f->pk, pt_empty, out), CL_ERR_INVALID);
    assert_int_equal(ckks_encrypt_sk(f->sk, pt_empty, out), CL_ERR_INVALID);
    double dummy[4];
    assert_int_equal(ckks_decode(f->enc, pt_empty, dummy, NULL, 1), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_copy(out, empty), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_set_scale(out, 0), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_set_scale(out, -1), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_set_scale(out, NAN), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_set_scale(out, INFINITY), CL_ERR_INVALID);
    assert_int_equal(ckks_add_const(f->ev, top, NAN, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add_const(f->ev, top, 1e300, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_const(f->ev, top, INFINITY, 0, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_const(f->ev, top, 1.0, -1.0, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_const(f->ev, top, 1e300, 0, out), CL_ERR_INVALID);
    assert_int_equal(ckks_decode(f->enc, pt, dummy, NULL, f->slots + 1), CL_ERR_INVALID);

    /* NULL arguments */
    assert_int_equal(ckks_add(NULL, top, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add(f->ev, NULL, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add(f->ev, top, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add(f->ev, top, top, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_sub(NULL, top, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_sub(f->ev, top, top, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_negate(NULL, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_negate(f->ev, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_negate(f->ev, top, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_add_plain(NULL, top, pt, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add_plain(f->ev, NULL, pt, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add_plain(f->ev, top, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add_plain(f->ev, top, pt, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_sub_plain(f->ev, top, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add_const(NULL, top, 1.0, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add_const(f->ev, NULL, 1.0, out), CL_ERR_INVALID);
    assert_int_equal(ckks_add_const(f->ev, top, 1.0, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_const(NULL, top, 1.0, 0, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_const(f->ev, NULL, 1.0, 0, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_const(f->ev, top, 1.0, 0, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_plain(NULL, top, pt, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_plain(f->ev, NULL, pt, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_plain(f->ev, top, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_plain(f->ev, top, pt, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_mul(NULL, top, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul(f->ev, NULL, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul(f->ev, top, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul(f->ev, top, top, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_relin(NULL, top, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_relin(f->ev, NULL, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_mul_relin(f->ev, top, top, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_relinearize(NULL, sq, out), CL_ERR_INVALID);
    assert_int_equal(ckks_relinearize(f->ev, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_relinearize(f->ev, sq, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_rescale(NULL, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_rescale(f->ev, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_rescale(f->ev, top, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_drop_level(NULL, top, 0, out), CL_ERR_INVALID);
    assert_int_equal(ckks_drop_level(f->ev, NULL, 0, out), CL_ERR_INVALID);
    assert_int_equal(ckks_drop_level(f->ev, top, 0, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_rotate(NULL, top, 1, out), CL_ERR_INVALID);
    assert_int_equal(ckks_rotate(f->ev, NULL, 1, out), CL_ERR_INVALID);
    assert_int_equal(ckks_rotate(f->ev, top, 1, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_conjugate(NULL, top, out), CL_ERR_INVALID);
    assert_int_equal(ckks_conjugate(f->ev, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_conjugate(f->ev, top, NULL), CL_ERR_INVALID);
    ckks_ciphertext *one_out[1] = {out}, *null_out[1] = {NULL};
    const int one_step[1] = {1};
    assert_int_equal(ckks_rotate_hoisted(NULL, top, one_step, 1, one_out), CL_ERR_INVALID);
    assert_int_equal(ckks_rotate_hoisted(f->ev, NULL, one_step, 1, one_out), CL_ERR_INVALID);
    assert_int_equal(ckks_rotate_hoisted(f->ev, top, NULL, 1, one_out), CL_ERR_INVALID);
    assert_int_equal(ckks_rotate_hoisted(f->ev, top, one_step, 1, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_rotate_hoisted(f->ev, top, one_step, 1, null_out), CL_ERR_INVALID);
    assert_int_equal(ckks_encrypt_pk(NULL, pt, out), CL_ERR_INVALID);
    assert_int_equal(ckks_encrypt_pk(f->pk, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_encrypt_pk(f->pk, pt, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_encrypt_sk(NULL, pt, out), CL_ERR_INVALID);
    assert_int_equal(ckks_encrypt_sk(f->sk, NULL, out), CL_ERR_INVALID);
    assert_int_equal(ckks_encrypt_sk(f->sk, pt, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_decrypt(NULL, top, pt_empty), CL_ERR_INVALID);
    assert_int_equal(ckks_decrypt(f->sk, NULL, pt_empty), CL_ERR_INVALID);
    assert_int_equal(ckks_decrypt(f->sk, top, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(NULL, a.re, 1, 1, 0, f->scale, pt_empty), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, NULL, 1, 1, 0, f->scale, pt_empty), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, a.re, 1, 1, 0, f->scale, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_decode(NULL, pt, dummy, NULL, 1), CL_ERR_INVALID);
    assert_int_equal(ckks_decode(f->enc, NULL, dummy, NULL, 1), CL_ERR_INVALID);
    assert_int_equal(ckks_decode(f->enc, pt, NULL, NULL, 1), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_copy(NULL, top), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_copy(out, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_set_scale(NULL, 1.0), CL_ERR_INVALID);
    ckks_plaintext *ptx;
    ckks_ciphertext *ctx;
    ckks_encoder *encx;
    ckks_evaluator *evx;
    ckks_secret_key *skx;
    ckks_public_key *pkx;
    ckks_eval_keys *ekx;
    assert_int_equal(ckks_plaintext_create(NULL, &ptx), CL_ERR_INVALID);
    assert_int_equal(ckks_plaintext_create(f->p, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_create(NULL, &ctx), CL_ERR_INVALID);
    assert_int_equal(ckks_ciphertext_create(f->p, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_encoder_create(NULL, &encx), CL_ERR_INVALID);
    assert_int_equal(ckks_encoder_create(f->p, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_evaluator_create(NULL, NULL, &evx), CL_ERR_INVALID);
    assert_int_equal(ckks_evaluator_create(f->p, NULL, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_secret_key_create(NULL, &skx), CL_ERR_INVALID);
    assert_int_equal(ckks_public_key_create(NULL, &pkx), CL_ERR_INVALID);
    assert_int_equal(ckks_public_key_create(f->sk, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_eval_keys_create(NULL, CKKS_KEYS_RELIN, NULL, 0, &ekx), CL_ERR_INVALID);
    assert_int_equal(ckks_eval_keys_create(f->sk, 0, NULL, 3, &ekx), CL_ERR_INVALID);
    assert_int_equal(ckks_eval_keys_create(f->sk, CKKS_KEYS_RELIN, NULL, 0, NULL), CL_ERR_INVALID);
    /* the free functions accept NULL */
    ckks_plaintext_free(NULL);
    ckks_ciphertext_free(NULL);
    ckks_encoder_free(NULL);
    ckks_evaluator_free(NULL);
    ckks_secret_key_free(NULL);
    ckks_public_key_free(NULL);
    ckks_eval_keys_free(NULL);
    ckks_params_free(NULL);

    /* encoding: values too large for the modulus, non-finite values, bad shapes */
    ckks_plaintext *pe = pt_new(f);
    const double huge[2] = {1e30, 0.5}, big25[2] = {0x1p25, 0}, ok15[2] = {0x1p15, 0};
    assert_int_equal(ckks_encode(f->enc, huge, 2, 2, f->L, f->scale, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, big25, 2, 2, 0, f->scale, pe), CL_ERR_INVALID); /* 2^65 > q_0 */
    assert_int_equal(ckks_encode(f->enc, ok15, 2, 2, 0, f->scale, pe), CL_OK);
    assert_int_equal(ckks_encode_complex(f->enc, ok15, huge, 2, 2, f->L, f->scale, pe), CL_ERR_INVALID);
    const double nan2[2] = {NAN, 0}, inf2[2] = {0, INFINITY};
    assert_int_equal(ckks_encode(f->enc, nan2, 2, 2, f->L, f->scale, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, inf2, 2, 2, f->L, f->scale, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode_complex(f->enc, ok15, nan2, 2, 2, f->L, f->scale, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, a.re, 3, 3, f->L, f->scale, pe), CL_ERR_INVALID); /* not a power of 2 */
    assert_int_equal(ckks_encode(f->enc, a.re, 4, 2, f->L, f->scale, pe), CL_ERR_INVALID); /* count > slots */
    assert_int_equal(ckks_encode(f->enc, a.re, 1, 2 * f->slots, f->L, f->scale, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, a.re, 0, 0, f->L, f->scale, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, a.re, 1, 1, f->L + 1, f->scale, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, a.re, 1, 1, -1, f->scale, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, a.re, 1, 1, f->L, 0.5, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, a.re, 1, 1, f->L, NAN, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, a.re, 1, 1, f->L, INFINITY, pe), CL_ERR_INVALID);
    assert_int_equal(ckks_encode(f->enc, a.re, 1, 1, f->L, 0x1p400, pe), CL_ERR_INVALID);
    /* count 0 encodes zeros */
    assert_int_equal(ckks_encode(f->enc, NULL, 0, 4, f->L, f->scale, pe), CL_OK);
    assert_int_equal(ckks_decode(f->enc, pe, dummy, NULL, 4), CL_OK);
    for (int i = 0; i < 4; i++)
        assert_true(dummy[i] == 0.0);

    ckks_plaintext_free(pe);
    ckks_ciphertext_free(l0);
    ckks_ciphertext_free(top);
    ckks_ciphertext_free(low);
    ckks_ciphertext_free(out);
    ckks_ciphertext_free(empty);
    ckks_ciphertext_free(sq);
    ckks_ciphertext_free(other_scale);
    ckks_ciphertext_free(sparse);
    ckks_plaintext_free(pt);
    ckks_plaintext_free(pt_low);
    ckks_plaintext_free(pt_empty);
    vec_free(&a);
    vec_free(&a16);
}

/* Objects made for different parameters never mix. The second parameter set
 * is the same preset made again: equal values, a different object. */
typedef struct other {
    ckks_params *p;
    ckks_secret_key *sk;
    ckks_public_key *pk;
    ckks_eval_keys *keys;
    ckks_encoder *enc;
    ckks_ciphertext *ct, *out;
    ckks_plaintext *pt;
} other;

static void other_make(fx *f, other *o)
{
    assert_int_equal(ckks_params_from_preset(f->preset, CKKS_ALLOW_INSECURE, &o->p), CL_OK);
    assert_int_equal(ckks_secret_key_create(o->p, &o->sk), CL_OK);
    assert_int_equal(ckks_public_key_create(o->sk, &o->pk), CL_OK);
    assert_int_equal(ckks_eval_keys_create(o->sk, CKKS_KEYS_RELIN, NULL, 0, &o->keys), CL_OK);
    assert_int_equal(ckks_encoder_create(o->p, &o->enc), CL_OK);
    assert_int_equal(ckks_plaintext_create(o->p, &o->pt), CL_OK);
    assert_int_equal(ckks_ciphertext_create(o->p, &o->ct), CL_OK);
    assert_int_equal(ckks_ciphertext_create(o->p, &o->out), CL_OK);
    const double v[2] = {0.5, -0.25};
    assert_int_equal(ckks_encode(o->enc, v, 2, f->slots, ckks_params_max_level(o->p), f->scale, o->pt), CL_OK);
    assert_int_equal(ckks_encrypt_pk(o->pk, o->pt, o->ct), CL_OK);
}

static void other_free(other *o)
{
    ckks_ciphertext_free(o->ct);
    ckks_ciphertext_free(o->out);
    ckks_plaintext_free(o->pt);
    ckks_encoder_free(o->enc);
    ckks_eval_keys_free(o->keys);
    ckks_public_key_free(o->pk);
    ckks_secret_key_free(o->sk);
    ckks_params_free(o->p);
}

/* Inputs of other parameters. */
static void test_params_mismatch_inputs(void **state)
{
    fx *f = *state;
    other o;
    other_make(f, &o);
    vec a = vec_rand(f, 2, 1.0, false);
    ckks_ciphertext *ct = encrypt_vec(f, &a, f->slots, f->L, f->scale, false);
    ckks_ciphertext *out = ct_new(f);
    ckks_plaintext *pt = pt_new(f);
    encode_vec(f, &a, f->slots, f->L, f->scale, pt);
    ckks_evaluator *evx;

    assert_int_equal(ckks_add(f->ev, ct, o.ct, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_add(f->ev, o.ct, ct, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_sub(f->ev, ct, o.ct, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_mul(f->ev, ct, o.ct, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_mul_relin(f->ev, o.ct, ct, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_negate(f->ev, o.ct, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_add_plain(f->ev, ct, o.pt, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_sub_plain(f->ev, ct, o.pt, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_mul_plain(f->ev, ct, o.pt, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_add_plain(f->ev, o.ct, pt, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_add_const(f->ev, o.ct, 1.0, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_mul_const(f->ev, o.ct, 1.0, 0, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_rescale(f->ev, o.ct, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_drop_level(f->ev, o.ct, 0, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_relinearize(f->ev, o.ct, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_rotate(f->ev, o.ct, 1, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_conjugate(f->ev, o.ct, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_rotate(f->ev, ct, 1, o.out), CL_ERR_PARAMS);
    assert_int_equal(ckks_add(f->ev, ct, ct, o.out), CL_ERR_PARAMS);
    assert_int_equal(ckks_encrypt_pk(f->pk, o.pt, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_encrypt_pk(f->pk, pt, o.out), CL_ERR_PARAMS);
    assert_int_equal(ckks_encrypt_sk(f->sk, o.pt, out), CL_ERR_PARAMS);
    assert_int_equal(ckks_encrypt_sk(f->sk, pt, o.out), CL_ERR_PARAMS);
    assert_int_equal(ckks_decrypt(f->sk, o.ct, pt), CL_ERR_PARAMS);
    assert_int_equal(ckks_decrypt(f->sk, ct, o.pt), CL_ERR_PARAMS);
    assert_int_equal(ckks_evaluator_create(f->p, o.keys, &evx), CL_ERR_PARAMS);

    ckks_ciphertext_free(ct);
    ckks_ciphertext_free(out);
    ckks_plaintext_free(pt);
    vec_free(&a);
    other_free(&o);
}

/* Outputs (and encoder/copy operands) of other parameters are refused with
 * CL_ERR_PARAMS before anything is written (ckks.h: "objects of different
 * parameters never mix"). An output made for a smaller ring would otherwise
 * be overflowed: this test once found every operation that did not check its
 * output. It uses a second parameter object of the same preset, so a missing
 * check fails the assertion instead of overflowing. */
#define EXPECT_PARAMS(call)                                                                            \
    do {                                                                                               \
        cl_status st_ = (call);                                                                        \
        if (st_ != CL_ERR_PARAMS) {                                                                    \
            size_t used_ = strlen(failures);                                                           \
            snprintf(failures + used_, sizeof failures - used_, "\n    %s -> %d", #call, (int)st_);   \
        }                                                                                              \
    } while (0)

static void test_params_mismatch_outputs(void **state)
{
    fx *f = *state;
    other o;
    other_make(f, &o);
    vec a = vec_rand(f, 2, 1.0, false);
    ckks_ciphertext *ct = encrypt_vec(f, &a, f->slots, f->L, f->scale, false);
    ckks_ciphertext *sq = ct_new(f);
    ckks_plaintext *pt = pt_new(f);
    encode_vec(f, &a, f->slots, f->L, f->scale, pt);
    assert_int_equal(ckks_mul(f->ev, ct, ct, sq), CL_OK);
    double re[2];

    /* every call is tried; the failures are listed together */
    char failures[2048] = "";
    EXPECT_PARAMS(ckks_sub(f->ev, ct, ct, o.out));
    EXPECT_PARAMS(ckks_conjugate(f->ev, ct, o.out));
    EXPECT_PARAMS(ckks_negate(f->ev, ct, o.out));
    EXPECT_PARAMS(ckks_add_plain(f->ev, ct, pt, o.out));
    EXPECT_PARAMS(ckks_sub_plain(f->ev, ct, pt, o.out));
    EXPECT_PARAMS(ckks_add_const(f->ev, ct, 1.0, o.out));
    EXPECT_PARAMS(ckks_mul_const(f->ev, ct, 1.0, 0, o.out));
    EXPECT_PARAMS(ckks_mul_plain(f->ev, ct, pt, o.out));
    EXPECT_PARAMS(ckks_mul(f->ev, ct, ct, o.out));
    EXPECT_PARAMS(ckks_mul_relin(f->ev, ct, ct, o.out));
    EXPECT_PARAMS(ckks_relinearize(f->ev, sq, o.out));
    EXPECT_PARAMS(ckks_rescale(f->ev, ct, o.out));
    EXPECT_PARAMS(ckks_drop_level(f->ev, ct, 0, o.out));
    EXPECT_PARAMS(ckks_encode(f->enc, a.re, 2, 2, 0, f->scale, o.pt));
    EXPECT_PARAMS(ckks_decode(f->enc, o.pt, re, NULL, 2));
    EXPECT_PARAMS(ckks_ciphertext_copy(o.out, ct));
    EXPECT_PARAMS(ckks_ciphertext_copy(ct, o.ct));
    if (failures[0])
        fail_msg("[%s] objects of other parameters accepted or misreported (want CL_ERR_PARAMS):%s", f->preset, failures);

    ckks_ciphertext_free(ct);
    ckks_ciphertext_free(sq);
    ckks_plaintext_free(pt);
    vec_free(&a);
    other_free(&o);
}

static void test_eval_keys(void **state)
{
    fx *f = *state;
    /* duplicates, 0 and multiples of N/2 are ignored; sorted Galois elements */
    const int steps[] = {1, 1, 0, (int)f->slots, -1, 1 + (int)f->slots, 2};
    ckks_eval_keys *k;
    assert_int_equal(ckks_eval_keys_create(f->sk, 0, steps, sizeof steps / sizeof steps[0], &k), CL_OK);
    assert_false(ckks_eval_keys_has_relin(k));
    assert_int_equal(ckks_eval_keys_galois_count(k), 3);
    assert_false(ckks_eval_keys_has_galois(k, ckks_galois_conjugate(f->p)));
    for (size_t i = 0; i + 1 < ckks_eval_keys_galois_count(k); i++)
        assert_true(ckks_eval_keys_galois_at(k, i) < ckks_eval_keys_galois_at(k, i + 1));
    assert_int_equal(ckks_eval_keys_galois_at(k, 99), 0);
    assert_true(ckks_eval_keys_has_galois(k, ckks_galois_element(f->p, -1)));
    /* a key set with only the conjugation */
    ckks_eval_keys *c;
    assert_int_equal(ckks_eval_keys_create(f->sk, CKKS_KEYS_CONJUGATE, NULL, 0, &c), CL_OK);
    assert_int_equal(ckks_eval_keys_galois_count(c), 1);
    assert_true(ckks_eval_keys_has_galois(c, ckks_galois_conjugate(f->p)));
    assert_false(ckks_eval_keys_has_relin(c));
    /* rotations work with this smaller key set */
    ckks_evaluator *ev;
    assert_int_equal(ckks_evaluator_create(f->p, k, &ev), CL_OK);
    vec a = vec_rand(f, f->slots, 1.0, true), want = vec_new(f->slots);
    ckks_ciphertext *ct = encrypt_vec(f, &a, f->slots, f->L, f->scale, true), *out = ct_new(f);
    assert_int_equal(ckks_rotate(ev, ct, 1 + (int)f->slots, out), CL_OK);
    rotated(&a, 1, &want);
    check_ct(f, "rotate N/2 + 1", out, &want, MIN_BITS);
    assert_int_equal(ckks_rotate(ev, ct, 3, out), CL_ERR_NOKEY);
    assert_int_equal(ckks_conjugate(ev, ct, out), CL_ERR_NOKEY);
    assert_int_equal(ckks_relinearize(ev, ct, out), CL_OK); /* size 2: nothing to do */
    ckks_ciphertext_free(ct);
    ckks_ciphertext_free(out);
    vec_free(&a);
    vec_free(&want);
    ckks_evaluator_free(ev);
    ckks_eval_keys_free(k);
    ckks_eval_keys_free(c);
}

/* --------------------------------------------------------------- security */

static void test_security_presets(void **state)
{
    (void)state;
    /* the HE Standard table, ternary secrets, 128-bit classical */
    assert_int_equal(ckks_security_bound(14), 438);
    assert_int_equal(ckks_security_bound(15), 881);
    assert_int_equal(ckks_security_bound(16), 1772);
    assert_int_equal(ckks_security_bound(13), 218);
    assert_int_equal(ckks_security_bound(12), 109);
    assert_int_equal(ckks_security_bound(11), 54);
    assert_int_equal(ckks_security_bound(10), 27);
    assert_int_equal(ckks_security_bound(17), 0);
    assert_int_equal(ckks_security_bound(3), 0);

    const struct {
        const char *name;
        int logn, levels;
    } secure[] = {{"n14", 14, 5}, {"n14-l6", 14, 6}, {"n15", 15, 14}, {"n16", 16, 29}};
    for (size_t i = 0; i < sizeof secure / sizeof secure[0]; i++) {
        const ckks_param_spec *s = ckks_preset_find(secure[i].name);
        assert_non_null(s);
        assert_string_equal(s->name, secure[i].name);
        assert_int_equal(s->logn, secure[i].logn);
        assert_int_equal(s->levels, secure[i].levels);
        assert_int_equal(s->first_bits, 60);
        assert_int_equal(s->scale_bits, 40);
        assert_false(s->insecure);
        ckks_params *p;
        assert_int_equal(ckks_params_from_preset(secure[i].name, 0, &p), CL_OK); /* no flag needed */
        assert_true(ckks_params_is_secure(p));
        assert_true(ckks_params_log2_qp(p) <= ckks_security_bound(secure[i].logn));
        assert_true(ckks_params_log2_q(p) < ckks_params_log2_qp(p));
        assert_int_equal(ckks_params_n(p), (size_t)1 << secure[i].logn);
        assert_int_equal(ckks_params_max_slots(p), (size_t)1 << (secure[i].logn - 1));
        assert_int_equal(ckks_params_max_level(p), secure[i].levels);
        assert_true(ckks_params_default_scale(p) == 0x1p40);
        const size_t np = ckks_params_prime_count(p);
        assert_int_equal(np, (size_t)(secure[i].levels + 1 + s->special_count));
        double lq = 0;
        for (size_t k = 0; k < np; k++) {
            uint64_t q = ckks_params_prime(p, k);
            assert_int_equal(q % (2 * ckks_params_n(p)), 1);
            for (size_t j = 0; j < k; j++)
                assert_true(q != ckks_params_prime(p, j));
            if (k == 0)
                assert_true(q < (1ULL << 60) && q > (1ULL << 59));
            else if (k <= (size_t)secure[i].levels)
                assert_true(fabs(log2((double)q) - 40.0) < 0.01); /* scaling primes near 2^40 */
            if (k <= (size_t)secure[i].levels)
                lq += log2((double)q);
        }
        assert_int_equal(ckks_params_prime(p, np), 0);
        assert_true(fabs(lq - ckks_params_log2_q(p)) < 1e-6);
        assert_true(fabs(ckks_params_log2_q(p) - (60.0 + 40.0 * secure[i].levels)) < 0.1);
        ckks_params_free(p);
    }
    /* the test presets are refused without the flag, accepted (insecure) with it */
    const char *tests[] = {"test-n10", "test-n12"};
    for (size_t i = 0; i < 2; i++) {
        const ckks_param_spec *s = ckks_preset_find(tests[i]);
        assert_non_null(s);
        assert_true(s->insecure);
        ckks_params *p = NULL;
        assert_int_equal(ckks_params_from_preset(tests[i], 0, &p), CL_ERR_INSECURE);
        assert_null(p);
        assert_int_equal(ckks_params_create(s, 0, &p), CL_ERR_INSECURE);
        assert_int_equal(ckks_params_from_preset(tests[i], CKKS_ALLOW_INSECURE, &p), CL_OK);
        assert_false(ckks_params_is_secure(p));
        ckks_params_free(p);
    }
    /* every preset is listed and found by name */
    assert_true(ckks_preset_count() >= 5);
    for (size_t i = 0; i < ckks_preset_count(); i++) {
        const ckks_param_spec *s = ckks_preset_at(i);
        assert_non_null(s);
        assert_ptr_equal(ckks_preset_find(s->name), s);
    }
    assert_null(ckks_preset_at(ckks_preset_count()));
    assert_null(ckks_preset_find("n13"));
    assert_null(ckks_preset_find(NULL));
    ckks_params *p;
    assert_int_equal(ckks_params_from_preset("nope", CKKS_ALLOW_INSECURE, &p), CL_ERR_INVALID);
    assert_int_equal(ckks_params_from_preset(NULL, CKKS_ALLOW_INSECURE, &p), CL_ERR_INVALID);
    assert_int_equal(ckks_params_from_preset("n14", 0, NULL), CL_ERR_INVALID);
    assert_int_equal(ckks_params_create(NULL, 0, &p), CL_ERR_INVALID);
}

static void test_security_custom(void **state)
{
    (void)state;
    ckks_params *p = NULL;
    /* logn 14 with 8 levels of 50 bits: log2 QP = 60 + 400 + 120 = 580 > 438 */
    ckks_param_spec big = {"big14", 14, 60, 50, 8, 60, 2, 9, false};
    assert_int_equal(ckks_params_create(&big, 0, &p), CL_ERR_INSECURE);
    assert_null(p);
    assert_int_equal(ckks_params_create(&big, CKKS_ALLOW_INSECURE, &p), CL_OK);
    assert_false(ckks_params_is_secure(p));
    assert_true(ckks_params_log2_qp(p) > 438);
    ckks_params_free(p);
    /* just under the bound is secure without the flag; a set marked insecure is not */
    ckks_param_spec ok = {"ok14", 14, 60, 40, 5, 60, 2, 3, false};
    assert_int_equal(ckks_params_create(&ok, 0, &p), CL_OK);
    assert_true(ckks_params_is_secure(p));
    ckks_params_free(p);
    ok.insecure = true;
    assert_int_equal(ckks_params_create(&ok, 0, &p), CL_ERR_INSECURE);
    /* N with no entry in the table is never secure */
    ckks_param_spec tiny = {"tiny", 5, 30, 25, 1, 40, 1, 2, false};
    assert_int_equal(ckks_params_create(&tiny, 0, &p), CL_ERR_INSECURE);
    assert_int_equal(ckks_params_create(&tiny, CKKS_ALLOW_INSECURE, &p), CL_OK);
    assert_false(ckks_params_is_secure(p));
    ckks_params_free(p);
    /* P smaller than a key-switching digit */
    ckks_param_spec small_p = {"smallp", 12, 60, 40, 6, 30, 1, 1, false};
    assert_int_equal(ckks_params_create(&small_p, CKKS_ALLOW_INSECURE, &p), CL_ERR_PARAMS);
    assert_int_equal(ckks_params_create(&small_p, 0, &p), CL_ERR_PARAMS);
    small_p.digits = 7; /* one prime per digit: q_0 (60 bits) is still above P (30 bits) */
    assert_int_equal(ckks_params_create(&small_p, CKKS_ALLOW_INSECURE, &p), CL_ERR_PARAMS);
    small_p.special_count = 3; /* P of 90 bits, digits of one prime: fine */
    assert_int_equal(ckks_params_create(&small_p, CKKS_ALLOW_INSECURE, &p), CL_OK);
    ckks_params_free(p);
    /* malformed specs */
    const ckks_param_spec bad[] = {
        {"b", 3, 60, 40, 2, 60, 1, 1, true},   /* logn too small */
        {"b", 17, 60, 40, 2, 60, 1, 1, true},  /* logn too large */
        {"b", 12, 61, 40, 2, 60, 1, 1, true},  /* prime too large */
        {"b", 12, 60, 19, 2, 60, 1, 1, true},  /* prime too small */
        {"b", 12, 60, 40, -1, 60, 1, 1, true}, /* negative levels */
        {"b", 12, 60, 40, 2, 60, 0, 1, true},  /* no special prime */
        {"b", 12, 60, 40, 2, 60, 1, 0, true},  /* no digit */
        {"b", 12, 60, 40, 2, 60, 1, 4, true},  /* more digits than primes */
        {"b", 12, 60, 40, 60, 60, 4, 1, true}, /* too many primes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ckks_params_create(&bad[i], CKKS_ALLOW_INSECURE, &p), CL_ERR_INVALID);
    ckks_param_spec unterminated = {"", 12, 60, 40, 2, 60, 1, 1, true};
    memset(unterminated.name, 'x', sizeof unterminated.name);
    assert_int_equal(ckks_params_create(&unterminated, CKKS_ALLOW_INSECURE, &p), CL_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest n12[] = {
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_encrypt_decrypt),
        cmocka_unit_test(test_add_sub_negate),
        cmocka_unit_test(test_plain_ops),
        cmocka_unit_test(test_mul_const_scale_exact),
        cmocka_unit_test(test_mul_relin_rescale),
        cmocka_unit_test(test_rescale_drop_level),
        cmocka_unit_test(test_chain_all_levels),
        cmocka_unit_test(test_rotate),
        cmocka_unit_test(test_conjugate),
        cmocka_unit_test(test_rotate_hoisted),
        cmocka_unit_test(test_eval_keys),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_params_mismatch_inputs),
        cmocka_unit_test(test_params_mismatch_outputs),
    };
    const struct CMUnitTest n14[] = {
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_encrypt_decrypt),
        cmocka_unit_test(test_add_sub_negate),
        cmocka_unit_test(test_plain_ops),
        cmocka_unit_test(test_mul_const_scale_exact),
        cmocka_unit_test(test_mul_relin_rescale),
        cmocka_unit_test(test_rescale_drop_level),
        cmocka_unit_test(test_chain_all_levels),
        cmocka_unit_test(test_rotate),
        cmocka_unit_test(test_conjugate),
        cmocka_unit_test(test_rotate_hoisted),
    };
    const struct CMUnitTest security[] = {
        cmocka_unit_test(test_security_presets),
        cmocka_unit_test(test_security_custom),
    };
    int failed = 0;
    failed += cmocka_run_group_tests_name("ckks test-n12", n12, setup_n12, fx_teardown);
    failed += cmocka_run_group_tests_name("ckks n14", n14, setup_n14, fx_teardown);
    failed += cmocka_run_group_tests_name("ckks security", security, NULL, NULL);
    return failed ? 1 : 0;
}
