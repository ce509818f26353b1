/* Tests of the message framing of the owner/platform protocol (src/net/wire.h,
 * docs/protocol.md "Framing"): the exact byte layout; round trips of every
 * message type, with empty blob lists and 1 MB blobs; the builder's errors;
 * the accessors; one test per kind of malformed input, each expecting its
 * own status code; and a random-mutation fuzz test (a fixed-seed splitmix64)
 * over FUZZ_ITERS inputs derived from valid messages of every type. Every
 * fuzzed input sits in its own allocation of exactly its length, so that the
 * sanitizer build catches any read outside it; every parse that succeeds
 * must satisfy the schema, keep its items inside the input, and build back
 * to exactly the input bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "net/wire.h"

#define FUZZ_ITERS 500000
#define MAX_SPEC 16
#define MAX_BLOB 64
#define NO_LIMIT SIZE_MAX
/* header field offsets (docs/protocol.md) */
#define OFF_COUNT 16
#define OFF_RESERVED 20

/* -------------------------------------------------------------------- PRNG */

static uint64_t prng_state;

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

/* ----------------------------------------------------------------- helpers */

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

/* An independent schema matcher (backtracking) for the checks. */
static int schema_match(const char *p, const char *k)
{
    if (!*p)
        return !*k;
    if (p[1] == '*')
        return schema_match(p + 2, k) || (*k == *p && schema_match(p, k + 1));
    return *k == *p && schema_match(p + 1, k + 1);
}

static char kind_char(uint8_t kind)
{
    return kind == 1 ? 'u' : kind == 2 ? 'f' : kind == 3 ? 's' : kind == 4 ? 'b' : '?';
}

/* A message as a list of items, to build and to compare with what parses. */
typedef struct spec {
    int type;
    uint64_t seq;
    uint32_t n;
    char kind[MAX_SPEC];
    uint64_t u[MAX_SPEC];
    const char *s[MAX_SPEC];
    uint8_t blob[MAX_SPEC][MAX_BLOB];
    size_t blen[MAX_SPEC];
} spec;

static const char *const sample_strings[] = {
    "", "CartPole-v1", "lr=0.001 gamma=0.99 batch=32 arch=[64,64]", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e",
    "bad request: item 3",
};

/* Items following type's schema, each starred kind repeated reps times;
 * blobs of at most max_blob random bytes. */
static void gen_spec(spec *sp, int type, uint32_t reps, size_t max_blob)
{
    memset(sp, 0, sizeof *sp);
    sp->type = type;
    sp->seq = prng_below(4) == 0 ? UINT64_MAX : prng();
    const char *p = net_msg_schema(type);
    assert_non_null(p);
    for (; *p; p++) {
        if (*p == '*')
            continue;
        uint32_t times = p[1] == '*' ? reps : 1;
        for (uint32_t t = 0; t < times; t++) {
            uint32_t i = sp->n++;
            assert_true(i < MAX_SPEC);
            sp->kind[i] = *p;
            switch (*p) {
            case 'u': sp->u[i] = prng_below(3) == 0 ? (prng_below(2) ? 0 : UINT64_MAX) : prng(); break;
            case 's': sp->s[i] = sample_strings[prng_below(sizeof sample_strings / sizeof *sample_strings)]; break;
            case 'b':
                sp->blen[i] = prng_below(max_blob + 1);
                for (size_t j = 0; j < sp->blen[i]; j++)
                    sp->blob[i][j] = (uint8_t)prng();
                break;
            default: fail_msg("unexpected schema kind %c", *p);
            }
        }
    }
}

static cl_status build_spec(net_buf *b, const spec *sp)
{
    net_msg_begin(b, (net_msg_type)sp->type, sp->seq);
    for (uint32_t i = 0; i < sp->n; i++) {
        switch (sp->kind[i]) {
        case 'u': net_msg_put_u64(b, sp->u[i]); break;
        case 's': net_msg_put_str(b, sp->s[i]); break;
        default: net_msg_put_blob(b, sp->blob[i], sp->blen[i]); break;
        }
    }
    return net_msg_finish(b);
}

static void check_spec(const net_msg *m, const spec *sp)
{
    assert_int_equal(m->version, NET_WIRE_VERSION);
    assert_int_equal(m->type, sp->type);
    assert_true(m->seq == sp->seq);
    assert_int_equal(m->n_items, sp->n);
    for (uint32_t i = 0; i < sp->n; i++) {
        assert_int_equal(kind_char(m->items[i].kind), sp->kind[i]);
        if (sp->kind[i] == 'u') {
            uint64_t v;
            assert_int_equal(net_msg_u64(m, i, &v), CL_OK);
            assert_true(v == sp->u[i]);
        } else if (sp->kind[i] == 's') {
            char s[128];
            assert_int_equal(net_msg_str(m, i, s, sizeof s), CL_OK);
            assert_string_equal(s, sp->s[i]);
        } else {
            const uint8_t *d;
            size_t len;
            assert_int_equal(net_msg_blob(m, i, &d, &len), CL_OK);
            assert_int_equal(len, sp->blen[i]);
            if (len)
                assert_memory_equal(d, sp->blob[i], len);
        }
    }
}

/* Parses buf and expects status want; on failure also checks that *out was
 * zeroed and that a reason was given. */
static void expect_parse(const uint8_t *buf, size_t len, size_t max_len, cl_status want)
{
    net_msg m;
    memset(&m, 0xa5, sizeof m);
    char why[160] = "unset";
    cl_status st = net_msg_parse(buf, len, max_len, &m, why, sizeof why);
    if (st != want)
        fail_msg("parse of %zu bytes: got %d (%s), want %d (%s)", len, (int)st, why, (int)want,
                 cl_strerror(want));
    if (st == CL_OK) {
        assert_string_equal(why, "");
        net_msg_free(&m);
    } else {
        assert_true(why[0] != '\0' && strcmp(why, "unset") != 0);
        assert_int_equal(m.version, 0);
        assert_int_equal(m.type, 0);
        assert_true(m.seq == 0);
        assert_int_equal(m.n_items, 0);
        assert_null(m.items);
    }
}

/* A copy of b's message in its own exact-size allocation (caller frees). */
static uint8_t *dup_msg(const net_buf *b)
{
    uint8_t *p = malloc(b->len);
    assert_non_null(p);
    memcpy(p, b->data, b->len);
    return p;
}

/* Byte offset of item i's kind byte in a well-formed message. */
static size_t item_offset(const uint8_t *buf, uint32_t i)
{
    size_t off = NET_WIRE_HEADER_BYTES;
    while (i--)
        off += NET_ITEM_HEADER_BYTES + (size_t)get_le(buf + off + 1, 8);
    return off;
}

/* ------------------------------------------------------------ type table */

static void test_type_table(void **state)
{
    (void)state;
    static const char *const names[] = {"?", "HELLO", "HELLO_OK", "INIT", "ACT", "Q", "STEP",
                                        "ACK", "REFRESH_REQ", "REFRESH", "PULL", "WEIGHTS", "ERROR"};
    static const char *const schemas[] = {NULL, "ssubb", "uuuu", "b*", "b", "b", "ubbbbbuu",
                                          "u", "ub*", "ub*", "", "ssb*", "us"};
    assert_int_equal(NET_MSG_TYPE_END, 13);
    for (int t = 0; t < NET_MSG_TYPE_END; t++) {
        assert_string_equal(net_msg_type_name(t), names[t]);
        if (!schemas[t]) {
            assert_null(net_msg_schema(t));
            continue;
        }
        const char *s = net_msg_schema(t);
        assert_non_null(s);
        assert_string_equal(s, schemas[t]);
    }
    assert_string_equal(net_msg_type_name(-1), "?");
    assert_string_equal(net_msg_type_name(NET_MSG_TYPE_END), "?");
    assert_string_equal(net_msg_type_name(999), "?");
    assert_null(net_msg_schema(NET_MSG_TYPE_END));
    assert_null(net_msg_schema(-5));

    /* Every schema is well-formed for the library's greedy matcher: only
     * kinds and stars, a star follows a kind, and a starred kind is not
     * allowed again before the next unstarred element. */
    for (int t = 1; t < NET_MSG_TYPE_END; t++) {
        const char *s = net_msg_schema(t);
        for (size_t i = 0; s[i]; i++) {
            if (s[i] == '*') {
                assert_true(i > 0 && s[i - 1] != '*');
                continue;
            }
            assert_non_null(strchr("ufsb", s[i]));
            if (s[i + 1] != '*')
                continue;
            for (size_t j = i + 2; s[j]; j += (s[j + 1] == '*') ? 2 : 1) {
                assert_true(s[j] != s[i]);
                if (s[j + 1] != '*')
                    break;
            }
        }
    }
}

/* ---------------------------------------------------------- layout, trips */

static void test_exact_layout(void **state)
{
    (void)state;
    net_buf b = {0};
    net_msg_begin(&b, NET_MSG_ERROR, 0x0102030405060708ULL);
    net_msg_put_u64(&b, 0x1122334455667788ULL);
    net_msg_put_str(&b, "ab");
    assert_int_equal(net_msg_finish(&b), CL_OK);
    static const uint8_t want[] = {
        'C', 'L', 'R', 'L', 2, 0, 12, 0,            /* magic, version 2, type ERROR */
        8, 7, 6, 5, 4, 3, 2, 1,                     /* seq */
        2, 0, 0, 0, 0, 0, 0, 0,                     /* n_items 2, reserved 0 */
        1, 8, 0, 0, 0, 0, 0, 0, 0,                  /* u64, 8 bytes */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* its value */
        3, 2, 0, 0, 0, 0, 0, 0, 0, 'a', 'b',        /* string "ab" */
    };
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    expect_parse(want, sizeof want, sizeof want, CL_OK);

    /* The smallest message: PULL, the header alone. */
    net_msg_begin(&b, NET_MSG_PULL, 7);
    assert_int_equal(net_msg_finish(&b), CL_OK);
    assert_int_equal(b.len, NET_WIRE_HEADER_BYTES);
    net_msg m;
    assert_int_equal(net_msg_parse(b.data, b.len, NO_LIMIT, &m, NULL, 0), CL_OK);
    assert_int_equal(m.type, NET_MSG_PULL);
    assert_true(m.seq == 7);
    assert_int_equal(m.n_items, 0);
    assert_null(m.items);
    net_msg_free(&m);
    net_buf_free(&b);
    assert_null(b.data);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    prng_state = 0x7e57001;
    net_buf b = {0};
    spec sp;
    for (int t = 1; t < NET_MSG_TYPE_END; t++) {
        for (uint32_t reps = 0; reps <= 5; reps++) {
            for (int k = 0; k < 4; k++) {
                gen_spec(&sp, t, reps, MAX_BLOB);
                assert_int_equal(build_spec(&b, &sp), CL_OK);
                uint8_t *copy = dup_msg(&b);
                net_msg m;
                char why[160];
                cl_status st = net_msg_parse(copy, b.len, b.len, &m, why, sizeof why);
                if (st != CL_OK)
                    fail_msg("%s: %s", net_msg_type_name(t), why);
                check_spec(&m, &sp);
                net_msg_free(&m);
                free(copy);
            }
        }
    }
    net_buf_free(&b);
}

static void test_round_trip_empty_lists(void **state)
{
    (void)state;
    static const int listy[] = {NET_MSG_INIT, NET_MSG_PULL};
    net_buf b = {0};
    for (size_t i = 0; i < sizeof listy / sizeof *listy; i++) {
        net_msg_begin(&b, (net_msg_type)listy[i], i);
        assert_int_equal(net_msg_finish(&b), CL_OK);
        assert_int_equal(b.len, NET_WIRE_HEADER_BYTES);
        net_msg m;
        assert_int_equal(net_msg_parse(b.data, b.len, NO_LIMIT, &m, NULL, 0), CL_OK);
        assert_int_equal(m.type, listy[i]);
        assert_true(m.seq == i);
        assert_int_equal(m.n_items, 0);
        const uint8_t *d;
        size_t len;
        assert_int_equal(net_msg_blob(&m, 0, &d, &len), CL_ERR_FORMAT);
        net_msg_free(&m);
    }
    /* REFRESH_REQ and REFRESH with their number and no ciphertext; without the number they are malformed. */
    static const int numbered[] = {NET_MSG_REFRESH_REQ, NET_MSG_REFRESH};
    for (size_t i = 0; i < sizeof numbered / sizeof *numbered; i++) {
        net_msg_begin(&b, (net_msg_type)numbered[i], 5);
        assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);
        net_msg_begin(&b, (net_msg_type)numbered[i], 5);
        net_msg_put_u64(&b, 42);
        assert_int_equal(net_msg_finish(&b), CL_OK);
        net_msg m;
        assert_int_equal(net_msg_parse(b.data, b.len, NO_LIMIT, &m, NULL, 0), CL_OK);
        assert_int_equal(m.n_items, 1);
        uint64_t v = 0;
        assert_int_equal(net_msg_u64(&m, 0, &v), CL_OK);
        assert_true(v == 42);
        net_msg_free(&m);
    }
    /* And empty blobs inside a list. */
    net_msg_begin(&b, NET_MSG_INIT, 1);
    for (int i = 0; i < 3; i++)
        net_msg_put_blob(&b, NULL, 0);
    assert_int_equal(net_msg_finish(&b), CL_OK);
    net_msg m;
    assert_int_equal(net_msg_parse(b.data, b.len, NO_LIMIT, &m, NULL, 0), CL_OK);
    assert_int_equal(m.n_items, 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_true(m.items[i].len == 0);
    net_msg_free(&m);
    net_buf_free(&b);
}

static void test_round_trip_large_blob(void **state)
{
    (void)state;
    const size_t big = 1u << 20;
    net_buf b = {0};

    /* HELLO carrying 1 MB of "evaluation keys", written in place. */
    net_msg_begin(&b, NET_MSG_HELLO, 42);
    net_msg_put_str(&b, "MountainCar-v0");
    net_msg_put_str(&b, "gamma=0.99");
    net_msg_put_u64(&b, 12345);
    net_msg_put_blob(&b, "params", 6);
    uint8_t *p = net_msg_put_blob_space(&b, big);
    assert_non_null(p);
    for (size_t i = 0; i < big; i++)
        p[i] = (uint8_t)(i * 2654435761u >> 13);
    assert_int_equal(net_msg_finish(&b), CL_OK);
    assert_int_equal(b.len, NET_WIRE_HEADER_BYTES + 5 * NET_ITEM_HEADER_BYTES + 14 + 10 + 8 + 6 + big);

    net_msg m;
    assert_int_equal(net_msg_parse(b.data, b.len, b.len, &m, NULL, 0), CL_OK);
    assert_int_equal(m.type, NET_MSG_HELLO);
    char s[32];
    uint64_t seed;
    assert_int_equal(net_msg_str(&m, 0, s, sizeof s), CL_OK);
    assert_string_equal(s, "MountainCar-v0");
    assert_int_equal(net_msg_u64(&m, 2, &seed), CL_OK);
    assert_true(seed == 12345);
    const uint8_t *d;
    size_t len;
    assert_int_equal(net_msg_blob(&m, 4, &d, &len), CL_OK);
    assert_int_equal(len, big);
    assert_true(d >= b.data && d + len == b.data + b.len); /* zero copy */
    for (size_t i = 0; i < big; i++)
        if (d[i] != (uint8_t)(i * 2654435761u >> 13))
            fail_msg("byte %zu differs", i);
    net_msg_free(&m);
    /* One byte over the limit. */
    expect_parse(b.data, b.len, b.len - 1, CL_ERR_INVALID);

    /* REFRESH_REQ: its number, 1 MB, an empty blob and a small one. */
    uint8_t *w = malloc(big);
    assert_non_null(w);
    for (size_t i = 0; i < big; i++)
        w[i] = (uint8_t)(i ^ (i >> 8));
    net_msg_begin(&b, NET_MSG_REFRESH_REQ, 9);
    net_msg_put_u64(&b, 3);
    net_msg_put_blob(&b, w, big);
    net_msg_put_blob(&b, NULL, 0);
    net_msg_put_blob(&b, "xyz", 3);
    assert_int_equal(net_msg_finish(&b), CL_OK);
    assert_int_equal(net_msg_parse(b.data, b.len, NO_LIMIT, &m, NULL, 0), CL_OK);
    assert_int_equal(m.n_items, 4);
    assert_int_equal(net_msg_u64(&m, 0, &seed), CL_OK);
    assert_true(seed == 3);
    assert_int_equal(net_msg_blob(&m, 1, &d, &len), CL_OK);
    assert_int_equal(len, big);
    assert_memory_equal(d, w, big);
    assert_int_equal(net_msg_blob(&m, 2, &d, &len), CL_OK);
    assert_int_equal(len, 0);
    assert_int_equal(net_msg_blob(&m, 3, &d, &len), CL_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(d, "xyz", 3);
    net_msg_free(&m);
    free(w);
    net_buf_free(&b);
}

/* ---------------------------------------------------------------- builder */

static void test_builder_errors(void **state)
{
    (void)state;
    net_buf b = {0};

    /* Unknown types. */
    net_msg_begin(&b, (net_msg_type)0, 1);
    assert_int_equal(net_msg_finish(&b), CL_ERR_INVALID);
    net_msg_begin(&b, (net_msg_type)999, 1);
    net_msg_put_u64(&b, 1);
    assert_int_equal(net_msg_finish(&b), CL_ERR_INVALID);

    /* begin resets a failure and keeps the allocation. */
    uint8_t *before = b.data;
    net_msg_begin(&b, NET_MSG_ACK, 1);
    net_msg_put_u64(&b, 5);
    assert_int_equal(net_msg_finish(&b), CL_OK);
    assert_ptr_equal(b.data, before);
    net_buf_free(&b);

    /* Puts before any begin; finish of nothing. */
    net_msg_put_u64(&b, 1);
    assert_int_equal(net_msg_finish(&b), CL_ERR_INVALID);
    net_buf_free(&b);
    assert_int_equal(net_msg_finish(&b), CL_ERR_INVALID);
    assert_int_equal(net_msg_finish(NULL), CL_ERR_INVALID);
    net_msg_begin(NULL, NET_MSG_ACK, 0);
    net_msg_put_u64(NULL, 0);
    net_msg_put_f64(NULL, 0.0);
    net_msg_put_str(NULL, "x");
    net_msg_put_blob(NULL, "x", 1);
    assert_null(net_msg_put_blob_space(NULL, 1));
    net_buf_free(NULL);

    /* Bad strings and blobs; the first error sticks. */
    net_msg_begin(&b, NET_MSG_ERROR, 0);
    net_msg_put_u64(&b, CL_ERR_FORMAT);
    net_msg_put_str(&b, "\xff\xfe");
    net_msg_put_blob(&b, NULL, 3);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);
    assert_null(net_msg_put_blob_space(&b, 4));
    net_msg_begin(&b, NET_MSG_ERROR, 0);
    net_msg_put_u64(&b, CL_ERR_FORMAT);
    net_msg_put_str(&b, NULL);
    assert_int_equal(net_msg_finish(&b), CL_ERR_INVALID);
    net_msg_begin(&b, NET_MSG_ACT, 0);
    net_msg_put_blob(&b, NULL, 3);
    assert_int_equal(net_msg_finish(&b), CL_ERR_INVALID);

    /* Items that do not fit the schema. */
    net_msg_begin(&b, NET_MSG_ACK, 0);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT); /* missing */
    net_msg_begin(&b, NET_MSG_ACK, 0);
    net_msg_put_u64(&b, 1);
    net_msg_put_u64(&b, 2);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT); /* one too many */
    net_msg_begin(&b, NET_MSG_ACK, 0);
    net_msg_put_blob(&b, "12345678", 8);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT); /* wrong kind */
    net_msg_begin(&b, NET_MSG_INIT, 0);
    net_msg_put_blob(&b, "a", 1);
    net_msg_put_u64(&b, 1);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT); /* wrong kind in a list */
    net_msg_begin(&b, NET_MSG_PULL, 0);
    net_msg_put_f64(&b, 1.0);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);

    /* Exactly NET_MAX_ITEMS items, then one more. */
    net_msg_begin(&b, NET_MSG_INIT, 0);
    for (uint32_t i = 0; i < NET_MAX_ITEMS; i++)
        net_msg_put_blob(&b, NULL, 0);
    assert_int_equal(net_msg_finish(&b), CL_OK);
    net_msg m;
    assert_int_equal(net_msg_parse(b.data, b.len, NO_LIMIT, &m, NULL, 0), CL_OK);
    assert_int_equal(m.n_items, NET_MAX_ITEMS);
    net_msg_free(&m);
    net_msg_put_blob(&b, NULL, 0);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);

    /* Blobs too large for any object (refused before any allocation). */
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4, SIZE_MAX - 40, (size_t)PTRDIFF_MAX,
                                  (size_t)PTRDIFF_MAX - NET_WIRE_HEADER_BYTES - NET_ITEM_HEADER_BYTES + 1};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        net_msg_begin(&b, NET_MSG_ACT, 0);
        assert_null(net_msg_put_blob_space(&b, huge[i]));
        assert_int_equal(b.failed, CL_ERR_NOMEM);
        net_msg_put_blob(&b, "x", 1); /* ignored: the error sticks */
        assert_int_equal(net_msg_finish(&b), CL_ERR_NOMEM);
    }
    net_buf_free(&b);
}

/* -------------------------------------------------------------- accessors */

static void test_accessors(void **state)
{
    (void)state;
    net_buf b = {0};
    net_msg_begin(&b, NET_MSG_ERROR, 3);
    net_msg_put_u64(&b, CL_ERR_STATE);
    net_msg_put_str(&b, "abcd");
    assert_int_equal(net_msg_finish(&b), CL_OK);
    net_msg m;
    assert_int_equal(net_msg_parse(b.data, b.len, NO_LIMIT, &m, NULL, 0), CL_OK);

    uint64_t v = 0;
    double f;
    char s[8];
    const uint8_t *d;
    size_t len;
    assert_int_equal(net_msg_u64(&m, 0, &v), CL_OK);
    assert_true(v == CL_ERR_STATE);
    assert_int_equal(net_msg_u64(&m, 1, &v), CL_ERR_FORMAT); /* a string */
    assert_int_equal(net_msg_u64(&m, 2, &v), CL_ERR_FORMAT); /* no item 2 */
    assert_int_equal(net_msg_u64(&m, UINT32_MAX, &v), CL_ERR_FORMAT);
    assert_int_equal(net_msg_f64(&m, 0, &f), CL_ERR_FORMAT);
    assert_int_equal(net_msg_blob(&m, 1, &d, &len), CL_ERR_FORMAT);
    assert_int_equal(net_msg_str(&m, 0, s, sizeof s), CL_ERR_FORMAT);
    assert_string_equal(s, "");
    assert_int_equal(net_msg_str(&m, 1, s, 5), CL_OK); /* exactly fits */
    assert_string_equal(s, "abcd");
    assert_int_equal(net_msg_str(&m, 1, s, 4), CL_ERR_INVALID);
    assert_string_equal(s, "");
    assert_int_equal(net_msg_str(&m, 1, s, 0), CL_ERR_INVALID);
    assert_int_equal(net_msg_u64(NULL, 0, &v), CL_ERR_INVALID);
    assert_int_equal(net_msg_u64(&m, 0, NULL), CL_ERR_INVALID);
    assert_int_equal(net_msg_str(&m, 1, NULL, 8), CL_ERR_INVALID);
    assert_int_equal(net_msg_blob(&m, 0, NULL, &len), CL_ERR_INVALID);
    assert_int_equal(net_msg_blob(&m, 0, &d, NULL), CL_ERR_INVALID);
    net_msg_free(&m);
    assert_null(m.items);
    assert_int_equal(m.n_items, 0);
    net_msg_free(NULL);

    /* f64: no current schema holds one, so check the builder's bytes and
     * read them through a hand-made view. */
    const double x = -1234.5678e-9;
    net_msg_begin(&b, NET_MSG_ACK, 0);
    net_msg_put_f64(&b, x);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT); /* ACK takes a u64 */
    assert_int_equal(b.len, NET_WIRE_HEADER_BYTES + NET_ITEM_HEADER_BYTES + 8);
    assert_int_equal(b.data[NET_WIRE_HEADER_BYTES], NET_KIND_F64);
    assert_true(get_le(b.data + NET_WIRE_HEADER_BYTES + 1, 8) == 8);
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    assert_true(get_le(b.data + NET_WIRE_HEADER_BYTES + NET_ITEM_HEADER_BYTES, 8) == bits);
    net_item it = {NET_KIND_F64, 8, b.data + NET_WIRE_HEADER_BYTES + NET_ITEM_HEADER_BYTES};
    net_msg fake = {NET_WIRE_VERSION, NET_MSG_ACK, 0, 1, &it};
    assert_int_equal(net_msg_f64(&fake, 0, &f), CL_OK);
    assert_memory_equal(&f, &x, sizeof f);
    assert_int_equal(net_msg_u64(&fake, 0, &v), CL_ERR_FORMAT);
    net_buf_free(&b);
}

/* -------------------------------------------------------- malformed input */

/* A valid message of the given type (a small representative one). */
static void make_valid(net_buf *b, int type)
{
    spec sp;
    prng_state = 0xba5e0000u + (uint64_t)type;
    gen_spec(&sp, type, 2, 16);
    /* fixed strings, so that offsets are predictable */
    for (uint32_t i = 0; i < sp.n; i++)
        if (sp.kind[i] == 's')
            sp.s[i] = "abcd";
    assert_int_equal(build_spec(b, &sp), CL_OK);
}

static void test_parse_arguments(void **state)
{
    (void)state;
    net_buf b = {0};
    make_valid(&b, NET_MSG_ACK);
    char why[64];
    assert_int_equal(net_msg_parse(b.data, b.len, NO_LIMIT, NULL, why, sizeof why), CL_ERR_INVALID);
    expect_parse(NULL, 5, NO_LIMIT, CL_ERR_INVALID);
    expect_parse(NULL, 0, NO_LIMIT, CL_ERR_TRUNCATED);
    net_msg m;
    /* why may be NULL, or too short for the whole reason. */
    assert_int_equal(net_msg_parse(b.data, b.len - 1, NO_LIMIT, &m, NULL, 0), CL_ERR_TRUNCATED);
    assert_int_equal(net_msg_parse(b.data, b.len - 1, NO_LIMIT, &m, why, 4), CL_ERR_TRUNCATED);
    assert_int_equal(strlen(why), 3);
    net_buf_free(&b);
}

static void test_bad_magic(void **state)
{
    (void)state;
    net_buf b = {0};
    make_valid(&b, NET_MSG_STEP);
    for (size_t i = 0; i < 4; i++) {
        uint8_t *p = dup_msg(&b);
        p[i] ^= 0x20;
        expect_parse(p, b.len, NO_LIMIT, CL_ERR_FORMAT);
        expect_parse(p, i + 1, NO_LIMIT, CL_ERR_FORMAT); /* wrong from the first bad byte */
        free(p);
    }
    expect_parse((const uint8_t *)"HTTP/1.1 200 OK\r\n\r\n", 19, NO_LIMIT, CL_ERR_FORMAT);
    net_buf_free(&b);
}

static void test_bad_version(void **state)
{
    (void)state;
    net_buf b = {0};
    make_valid(&b, NET_MSG_HELLO);
    static const uint16_t versions[] = {0, 1, 3, 0x100, 0xffff};
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        uint8_t *p = dup_msg(&b);
        put_le(p + 4, versions[i], 2);
        expect_parse(p, b.len, NO_LIMIT, CL_ERR_VERSION);
        expect_parse(p, 6, NO_LIMIT, CL_ERR_VERSION); /* known as soon as it is read */
        free(p);
    }
    net_buf_free(&b);
}

static void test_truncated_header(void **state)
{
    (void)state;
    net_buf b = {0};
    make_valid(&b, NET_MSG_HELLO_OK);
    for (size_t n = 0; n < NET_WIRE_HEADER_BYTES; n++) {
        uint8_t *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, b.data, n);
        expect_parse(p, n, NO_LIMIT, CL_ERR_TRUNCATED);
        free(p);
    }
    net_buf_free(&b);
}

static void test_truncated_item(void **state)
{
    (void)state;
    net_buf b = {0};
    /* Every cut of every type, between the header and the end. */
    for (int t = 1; t < NET_MSG_TYPE_END; t++) {
        make_valid(&b, t);
        for (size_t n = NET_WIRE_HEADER_BYTES; n < b.len; n++) {
            uint8_t *p = malloc(n);
            assert_non_null(p);
            memcpy(p, b.data, n);
            expect_parse(p, n, NO_LIMIT, CL_ERR_TRUNCATED);
            free(p);
        }
        expect_parse(b.data, b.len, NO_LIMIT, CL_OK);
    }
    net_buf_free(&b);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    net_buf b = {0};
    for (int t = 1; t < NET_MSG_TYPE_END; t++) {
        make_valid(&b, t);
        uint8_t *p = malloc(b.len + NET_ITEM_HEADER_BYTES);
        assert_non_null(p);
        memcpy(p, b.data, b.len);
        p[b.len] = 0;
        expect_parse(p, b.len + 1, NO_LIMIT, CL_ERR_FORMAT);
        /* an extra empty blob that the count does not include */
        p[b.len] = NET_KIND_BLOB;
        put_le(p + b.len + 1, 0, 8);
        expect_parse(p, b.len + NET_ITEM_HEADER_BYTES, NO_LIMIT, CL_ERR_FORMAT);
        free(p);
    }
    net_buf_free(&b);
}

static void test_reserved_nonzero(void **state)
{
    (void)state;
    net_buf b = {0};
    make_valid(&b, NET_MSG_Q);
    for (int byte = OFF_RESERVED; byte < OFF_RESERVED + 4; byte++) {
        uint8_t *p = dup_msg(&b);
        p[byte] = 1;
        expect_parse(p, b.len, NO_LIMIT, CL_ERR_FORMAT);
        free(p);
    }
    net_buf_free(&b);
}

static void test_unknown_type(void **state)
{
    (void)state;
    net_buf b = {0};
    make_valid(&b, NET_MSG_ACK);
    static const unsigned types[] = {0, NET_MSG_TYPE_END, 999, 0xffff};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        uint8_t *p = dup_msg(&b);
        put_le(p + 6, types[i], 2);
        expect_parse(p, b.len, NO_LIMIT, CL_ERR_FORMAT);
        free(p);
    }
    net_buf_free(&b);
}

static void test_schema_mismatch(void **state)
{
    (void)state;
    net_buf b = {0};

    /* HELLO without its evaluation keys (finish refuses it, but the bytes
     * are there to send). */
    net_msg_begin(&b, NET_MSG_HELLO, 1);
    net_msg_put_str(&b, "CartPole-v1");
    net_msg_put_str(&b, "gamma=0.99");
    net_msg_put_u64(&b, 7);
    net_msg_put_blob(&b, "params", 6);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);
    expect_parse(b.data, b.len, NO_LIMIT, CL_ERR_FORMAT);

    /* HELLO with one item too many. */
    net_msg_put_blob(&b, "keys", 4);
    net_msg_put_blob(&b, "more", 4);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);
    expect_parse(b.data, b.len, NO_LIMIT, CL_ERR_FORMAT);

    /* STEP with a string where Enc(s) belongs. */
    net_msg_begin(&b, NET_MSG_STEP, 2);
    net_msg_put_u64(&b, 10);
    net_msg_put_str(&b, "not a ciphertext");
    for (int i = 0; i < 4; i++)
        net_msg_put_blob(&b, "ct", 2);
    net_msg_put_u64(&b, 1);
    net_msg_put_u64(&b, 0);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);
    expect_parse(b.data, b.len, NO_LIMIT, CL_ERR_FORMAT);

    /* The same STEP, valid, then with that item's kind byte changed in place. */
    make_valid(&b, NET_MSG_STEP);
    uint8_t *p = dup_msg(&b);
    size_t off = item_offset(p, 1);
    assert_int_equal(p[off], NET_KIND_BLOB);
    p[off] = NET_KIND_STR;
    expect_parse(p, b.len, NO_LIMIT, CL_ERR_FORMAT);
    free(p);

    /* INIT with a u64 among its blobs; ACK with an f64. */
    net_msg_begin(&b, NET_MSG_INIT, 0);
    net_msg_put_blob(&b, "a", 1);
    net_msg_put_u64(&b, 5);
    net_msg_put_blob(&b, "b", 1);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);
    expect_parse(b.data, b.len, NO_LIMIT, CL_ERR_FORMAT);
    net_msg_begin(&b, NET_MSG_ACK, 0);
    net_msg_put_f64(&b, 1.5);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);
    expect_parse(b.data, b.len, NO_LIMIT, CL_ERR_FORMAT);

    /* PULL with an item; the item count and the schema disagree. */
    net_msg_begin(&b, NET_MSG_PULL, 0);
    net_msg_put_blob(&b, NULL, 0);
    assert_int_equal(net_msg_finish(&b), CL_ERR_FORMAT);
    expect_parse(b.data, b.len, NO_LIMIT, CL_ERR_FORMAT);
    net_buf_free(&b);
}

static void test_bad_kinds_and_scalar_lengths(void **state)
{
    (void)state;
    net_buf b = {0};
    make_valid(&b, NET_MSG_HELLO_OK);
    static const uint8_t kinds[] = {0, 5, 0x80, 0xff};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        uint8_t *p = dup_msg(&b);
        p[item_offset(p, 2)] = kinds[i];
        expect_parse(p, b.len, NO_LIMIT, CL_ERR_FORMAT);
        free(p);
    }
    /* A u64 of 7 or 9 bytes, or of a huge length. */
    static const uint64_t lens[] = {0, 7, 9, UINT64_MAX};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        uint8_t *p = dup_msg(&b);
        put_le(p + item_offset(p, 3) + 1, lens[i], 8);
        expect_parse(p, b.len, NO_LIMIT, CL_ERR_FORMAT);
        free(p);
    }
    net_buf_free(&b);
}

static void test_string_with_nul(void **state)
{
    (void)state;
    net_buf b = {0};
    net_msg_begin(&b, NET_MSG_ERROR, 0);
    net_msg_put_u64(&b, CL_ERR_INVALID);
    net_msg_put_str(&b, "abXcd");
    assert_int_equal(net_msg_finish(&b), CL_OK);
    expect_parse(b.data, b.len, NO_LIMIT, CL_OK);
    for (size_t at = 0; at < 5; at++) {
        uint8_t *p = dup_msg(&b);
        p[item_offset(p, 1) + NET_ITEM_HEADER_BYTES + at] = 0;
        expect_parse(p, b.len, NO_LIMIT, CL_ERR_FORMAT);
        free(p);
    }
    net_buf_free(&b);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"plain ascii", 1},
        {"\xc3\xa9", 1},                 /* U+00E9 */
        {"\xe2\x82\xac", 1},             /* U+20AC */
        {"\xf0\x9f\x98\x80", 1},         /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 1},         /* U+10FFFF */
        {"\xef\xbf\xbf", 1},             /* U+FFFF */
        {"\xff", 0},                     /* never valid */
        {"\x80", 0},                     /* lone continuation */
        {"\xc3", 0},                     /* cut short */
        {"\xe2\x82", 0},                 /* cut short */
        {"\xc3\x28", 0},                 /* bad continuation */
        {"\xc0\x80", 0},                 /* overlong NUL */
        {"\xc1\xbf", 0},                 /* overlong */
        {"\xe0\x80\xaf", 0},             /* overlong */
        {"\xf0\x80\x80\xaf", 0},         /* overlong */
        {"\xed\xa0\x80", 0},             /* surrogate U+D800 */
        {"\xed\xbf\xbf", 0},             /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 0},         /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 0},         /* above U+10FFFF */
        {"\xf8\x88\x80\x80\x80", 0},     /* 5-byte form */
    };
    net_buf b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* through the parser: build with a placeholder, then patch */
        size_t n = strlen(cases[i].s);
        char placeholder[16];
        memset(placeholder, 'x', n);
        placeholder[n] = '\0';
        net_msg_begin(&b, NET_MSG_ERROR, i);
        net_msg_put_u64(&b, 0);
        net_msg_put_str(&b, placeholder);
        assert_int_equal(net_msg_finish(&b), CL_OK);
        uint8_t *p = dup_msg(&b);
        memcpy(p + item_offset(p, 1) + NET_ITEM_HEADER_BYTES, cases[i].s, n);
        expect_parse(p, b.len, NO_LIMIT, cases[i].ok ? CL_OK : CL_ERR_FORMAT);
        free(p);
        /* and through the builder */
        net_msg_begin(&b, NET_MSG_ERROR, i);
        net_msg_put_u64(&b, 0);
        net_msg_put_str(&b, cases[i].s);
        assert_int_equal(net_msg_finish(&b), cases[i].ok ? CL_OK : CL_ERR_FORMAT);
    }
    net_buf_free(&b);
}

static void test_max_len(void **state)
{
    (void)state;
    net_buf b = {0};
    make_valid(&b, NET_MSG_INIT);
    expect_parse(b.data, b.len, b.len, CL_OK);
    expect_parse(b.data, b.len, b.len - 1, CL_ERR_INVALID);
    expect_parse(b.data, b.len, 0, CL_ERR_INVALID);
    expect_parse(b.data, b.len, NET_WIRE_HEADER_BYTES, CL_ERR_INVALID);
    net_buf_free(&b);
}

static void test_huge_item_count(void **state)
{
    (void)state;
    /* A 40-byte INIT whose header claims up to 2^32 - 1 items: refused
     * from the header alone, before anything is allocated. */
    static const struct {
        uint32_t n;
        cl_status want;
    } cases[] = {
        {UINT32_MAX, CL_ERR_FORMAT},        /* over NET_MAX_ITEMS */
        {0x80000000u, CL_ERR_FORMAT},
        {NET_MAX_ITEMS + 1, CL_ERR_FORMAT},
        {NET_MAX_ITEMS, CL_ERR_TRUNCATED},  /* allowed, but 16 bytes hold one item at most */
        {2, CL_ERR_TRUNCATED},
    };
    uint8_t p[40] = {'C', 'L', 'R', 'L', NET_WIRE_VERSION, 0, NET_MSG_INIT, 0};
    p[NET_WIRE_HEADER_BYTES] = NET_KIND_BLOB;
    put_le(p + NET_WIRE_HEADER_BYTES + 1, sizeof p - NET_WIRE_HEADER_BYTES - NET_ITEM_HEADER_BYTES, 8);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        put_le(p + OFF_COUNT, cases[i].n, 4);
        uint8_t *q = malloc(sizeof p);
        assert_non_null(q);
        memcpy(q, p, sizeof p);
        clock_t t0 = clock();
        expect_parse(q, sizeof p, NO_LIMIT, cases[i].want);
        assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 0.1);
        free(q);
    }
    /* 1 item filling the 40 bytes: valid. */
    put_le(p + OFF_COUNT, 1, 4);
    expect_parse(p, sizeof p, NO_LIMIT, CL_OK);
    /* Many empty blobs claimed, far fewer present. */
    net_buf b = {0};
    net_msg_begin(&b, NET_MSG_INIT, 0);
    for (int i = 0; i < 1000; i++)
        net_msg_put_blob(&b, NULL, 0);
    assert_int_equal(net_msg_finish(&b), CL_OK);
    put_le(b.data + OFF_COUNT, 1001, 4);
    expect_parse(b.data, b.len, NO_LIMIT, CL_ERR_TRUNCATED);
    put_le(b.data + OFF_COUNT, 999, 4);
    expect_parse(b.data, b.len, NO_LIMIT, CL_ERR_FORMAT); /* one item left over */
    net_buf_free(&b);
}

static void test_item_length_near_max(void **state)
{
    (void)state;
    net_buf b = {0};
    make_valid(&b, NET_MSG_STEP);
    static const uint64_t lens[] = {UINT64_MAX,      UINT64_MAX - 1,  UINT64_MAX - 8, UINT64_MAX - 27,
                                    UINT64_MAX - 36, 1ULL << 63,      (uint64_t)SIZE_MAX, 1ULL << 32};
    for (uint32_t item = 1; item <= 5; item++) {
        for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
            uint8_t *p = dup_msg(&b);
            put_le(p + item_offset(b.data, item) + 1, lens[i], 8);
            expect_parse(p, b.len, NO_LIMIT, CL_ERR_TRUNCATED);
            free(p);
        }
        /* one byte more than is there */
        uint8_t *p = dup_msg(&b);
        size_t off = item_offset(b.data, item);
        put_le(p + off + 1, b.len - off - NET_ITEM_HEADER_BYTES + 1, 8);
        expect_parse(p, b.len, NO_LIMIT, CL_ERR_TRUNCATED);
        free(p);
    }
    net_buf_free(&b);
}

/* -------------------------------------------------------------------- fuzz */

#define FUZZ_BASES (4 * (NET_MSG_TYPE_END - 1))
#define FUZZ_CAP 4096

typedef struct fuzz_base {
    uint8_t *data;
    size_t len;
} fuzz_base;

/* Offsets of the length fields of the items of a well-formed prefix of buf. */
static size_t length_fields(const uint8_t *buf, size_t len, size_t *offs, size_t cap)
{
    size_t n = 0, off = NET_WIRE_HEADER_BYTES;
    while (n < cap && len >= NET_ITEM_HEADER_BYTES && off <= len - NET_ITEM_HEADER_BYTES) {
        offs[n++] = off + 1;
        uint64_t l = get_le(buf + off + 1, 8);
        if (l > len - off - NET_ITEM_HEADER_BYTES)
            break;
        off += NET_ITEM_HEADER_BYTES + (size_t)l;
    }
    return n;
}

static uint64_t interesting_u64(void)
{
    static const uint64_t v[] = {0, 1, 7, 8, 9, 255, 256, 65535, 65536, 65537, UINT32_MAX, 1ULL << 32,
                                 1ULL << 63, UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 8};
    return prng_below(3) ? v[prng_below(sizeof v / sizeof *v)] : prng();
}

/* Applies one random mutation to w[0 .. *len) (capacity FUZZ_CAP). */
static void mutate(uint8_t *w, size_t *len, const fuzz_base *bases)
{
    size_t n = *len;
    switch (prng_below(11)) {
    case 0: /* bit flips */
        for (size_t k = 1 + prng_below(3); k-- && n;)
            w[prng_below(n)] ^= (uint8_t)(1u << prng_below(8));
        break;
    case 1: /* byte overwrites */
        for (size_t k = 1 + prng_below(4); k-- && n;)
            w[prng_below(n)] = (uint8_t)prng();
        break;
    case 2: /* truncation */
        *len = prng_below(n + 1);
        break;
    case 3: { /* extension with random bytes */
        size_t k = 1 + prng_below(prng_below(2) ? 4 : 64);
        if (n + k > FUZZ_CAP)
            k = FUZZ_CAP - n;
        for (size_t i = 0; i < k; i++)
            w[n + i] = (uint8_t)prng();
        *len = n + k;
        break;
    }
    case 4: case 5: { /* item length corruption */
        size_t offs[64];
        size_t m = length_fields(w, n, offs, 64);
        if (!m)
            break;
        size_t off = offs[prng_below(m)];
        uint64_t old = get_le(w + off, 8);
        uint64_t v;
        switch (prng_below(4)) {
        case 0: v = old + 1; break;
        case 1: v = old - 1; break;
        case 2: v = old + (prng() & 0xff) - 0x80; break;
        default: v = interesting_u64(); break;
        }
        put_le(w + off, v, 8);
        break;
    }
    case 6: { /* item count corruption */
        if (n < OFF_COUNT + 4)
            break;
        uint32_t old = (uint32_t)get_le(w + OFF_COUNT, 4), v;
        switch (prng_below(3)) {
        case 0: v = old + 1; break;
        case 1: v = old - 1; break;
        default: v = (uint32_t)interesting_u64(); break;
        }
        put_le(w + OFF_COUNT, v, 4);
        break;
    }
    case 7: { /* splice: a prefix of this one, a suffix of another */
        const fuzz_base *o = &bases[prng_below(FUZZ_BASES)];
        size_t cut = prng_below(n + 1), from = prng_below(o->len + 1);
        size_t k = o->len - from;
        if (cut + k > FUZZ_CAP)
            k = FUZZ_CAP - cut;
        memcpy(w + cut, o->data + from, k);
        *len = cut + k;
        break;
    }
    case 8: /* type corruption */
        if (n >= 8)
            put_le(w + 6, prng_below(4) ? prng_below(NET_MSG_TYPE_END + 2) : (uint16_t)prng(), 2);
        break;
    case 9: { /* kind byte corruption */
        size_t offs[64];
        size_t m = length_fields(w, n, offs, 64);
        if (m)
            w[offs[prng_below(m)] - 1] = (uint8_t)(prng_below(4) ? prng_below(6) : prng());
        break;
    }
    default: { /* delete or duplicate a range */
        if (!n)
            break;
        size_t at = prng_below(n), k = 1 + prng_below(16);
        if (k > n - at)
            k = n - at;
        if (prng_below(2)) {
            memmove(w + at, w + at + k, n - at - k);
            *len = n - k;
        } else if (n + k <= FUZZ_CAP) {
            memmove(w + at + k, w + at, n - at);
            *len = n + k;
        }
        break;
    }
    }
}

/* Checks a successful parse of buf[0 .. len) against everything it must
 * satisfy, and that building it again gives buf back. */
static void check_success(const uint8_t *buf, size_t len, const net_msg *m, net_buf *rb)
{
    const char *schema = net_msg_schema(m->type);
    assert_non_null(schema);
    assert_int_equal(m->version, NET_WIRE_VERSION);
    assert_true(m->seq == get_le(buf + 8, 8));
    assert_int_equal(m->n_items, get_le(buf + OFF_COUNT, 4));
    assert_true(m->n_items <= NET_MAX_ITEMS);
    char kinds[FUZZ_CAP / NET_ITEM_HEADER_BYTES + 2];
    assert_true(m->n_items < sizeof kinds);
    const uint8_t *next = buf + NET_WIRE_HEADER_BYTES;
    for (uint32_t i = 0; i < m->n_items; i++) {
        const net_item *it = &m->items[i];
        kinds[i] = kind_char(it->kind);
        assert_true(it->data == next + NET_ITEM_HEADER_BYTES);
        assert_true(it->data >= buf && it->len <= (uint64_t)(buf + len - it->data));
        if (it->kind == NET_KIND_U64 || it->kind == NET_KIND_F64)
            assert_true(it->len == 8);
        if (it->kind == NET_KIND_STR)
            assert_null(memchr(it->data, 0, (size_t)it->len));
        next = it->data + it->len;
    }
    kinds[m->n_items] = '\0';
    assert_true(next == buf + len);
    if (!schema_match(schema, kinds))
        fail_msg("%s: kinds \"%s\" do not match schema \"%s\"", net_msg_type_name(m->type), kinds, schema);

    net_msg_begin(rb, (net_msg_type)m->type, m->seq);
    for (uint32_t i = 0; i < m->n_items; i++) {
        switch (m->items[i].kind) {
        case NET_KIND_U64: {
            uint64_t v;
            assert_int_equal(net_msg_u64(m, i, &v), CL_OK);
            net_msg_put_u64(rb, v);
            break;
        }
        case NET_KIND_F64: {
            double v;
            assert_int_equal(net_msg_f64(m, i, &v), CL_OK);
            net_msg_put_f64(rb, v);
            break;
        }
        case NET_KIND_STR: {
            char s[FUZZ_CAP + 1];
            assert_int_equal(net_msg_str(m, i, s, sizeof s), CL_OK);
            net_msg_put_str(rb, s);
            break;
        }
        default: {
            const uint8_t *d;
            size_t l;
            assert_int_equal(net_msg_blob(m, i, &d, &l), CL_OK);
            net_msg_put_blob(rb, d, l);
            break;
        }
        }
    }
    assert_int_equal(net_msg_finish(rb), CL_OK);
    assert_int_equal(rb->len, len);
    assert_memory_equal(rb->data, buf, len);
}

static void test_fuzz(void **state)
{
    (void)state;
    prng_state = 0xf022f022f022ULL;
    fuzz_base bases[FUZZ_BASES];
    net_buf b = {0}, rb = {0};
    spec sp;
    for (int t = 1, k = 0; t < NET_MSG_TYPE_END; t++) {
        for (uint32_t reps = 0; reps < 4; reps++, k++) {
            gen_spec(&sp, t, reps, 24);
            assert_int_equal(build_spec(&b, &sp), CL_OK);
            bases[k].data = dup_msg(&b);
            bases[k].len = b.len;
        }
    }

    uint8_t *w = malloc(FUZZ_CAP);
    assert_non_null(w);
    size_t counts[CL_STATUS_COUNT] = {0};
    clock_t t0 = clock();
    for (long iter = 0; iter < FUZZ_ITERS; iter++) {
        const fuzz_base *base = &bases[prng_below(FUZZ_BASES)];
        memcpy(w, base->data, base->len);
        size_t len = base->len;
        for (size_t k = 1 + prng_below(3); k--;)
            mutate(w, &len, bases);
        size_t max_len = prng_below(16) ? NO_LIMIT : prng_below(len + 8);

        uint8_t *in = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        assert_non_null(in);
        memcpy(in, w, len);
        net_msg m;
        memset(&m, 0x5a, sizeof m);
        char why[128] = "";
        cl_status st = net_msg_parse(in, len, max_len, &m, why, sizeof why);
        assert_true((unsigned)st < CL_STATUS_COUNT);
        counts[st]++;
        if (st == CL_OK) {
            assert_true(len <= max_len);
            check_success(in, len, &m, &rb);
            net_msg_free(&m);
        } else {
            assert_true(st == CL_ERR_FORMAT || st == CL_ERR_TRUNCATED || st == CL_ERR_VERSION ||
                        (st == CL_ERR_INVALID && len > max_len));
            assert_true(why[0] != '\0');
            assert_true(m.items == NULL && m.n_items == 0 && m.type == 0 && m.seq == 0 && m.version == 0);
        }
        free(in);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    print_message("fuzz: %d inputs in %.2f s cpu: ok %zu, format %zu, truncated %zu, version %zu, invalid %zu\n",
                  FUZZ_ITERS, secs, counts[CL_OK], counts[CL_ERR_FORMAT], counts[CL_ERR_TRUNCATED],
                  counts[CL_ERR_VERSION], counts[CL_ERR_INVALID]);
    /* The mutations reach every outcome, and a fair share still parses. */
    assert_true(counts[CL_OK] > FUZZ_ITERS / 50);
    assert_true(counts[CL_ERR_FORMAT] > FUZZ_ITERS / 50);
    assert_true(counts[CL_ERR_TRUNCATED] > FUZZ_ITERS / 50);
    assert_true(counts[CL_ERR_VERSION] > 0);
    assert_true(counts[CL_ERR_INVALID] > 0);
    assert_int_equal(counts[CL_ERR_NOMEM], 0);

    free(w);
    for (int k = 0; k < FUZZ_BASES; k++)
        free(bases[k].data);
    net_buf_free(&b);
    net_buf_free(&rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_exact_layout),
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_round_trip_empty_lists),
        cmocka_unit_test(test_round_trip_large_blob),
        cmocka_unit_test(test_builder_errors),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_parse_arguments),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_truncated_header),
        cmocka_unit_test(test_truncated_item),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_reserved_nonzero),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_schema_mismatch),
        cmocka_unit_test(test_bad_kinds_and_scalar_lengths),
        cmocka_unit_test(test_string_with_nul),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_max_len),
        cmocka_unit_test(test_huge_item_count),
        cmocka_unit_test(test_item_length_near_max),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
