/* The message framing of the owner/platform protocol: a builder, a parser
 * and the schema of each message type (wire.h, docs/protocol.md).
 *
 * The parser walks the input twice. The first pass checks everything (every
 * length against the bytes left, every kind against the schema, every
 * string) and allocates nothing; the second, which cannot fail, fills the
 * item array, whose size is then the number of items actually present. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire.h"

static const uint8_t net_magic[4] = {'C', 'L', 'R', 'L'};

/* Header layout: magic at 0, version at 4, type at 6, seq at 8, then: */
#define NET_OFF_COUNT 16    /* u32 n_items */
#define NET_OFF_RESERVED 20 /* u32, 0 */

/* The one table of message types: a new type is one line here and one in the
 * enum. Schema: 'u' u64, 'f' f64, 's' string, 'b' blob; "x*" is zero or more
 * items of kind x. The matcher is greedy, so a starred kind must not be
 * followed by the same kind (test_net_wire checks every schema). */
static const struct {
    const char *name;
    const char *schema;
} net_types[NET_MSG_TYPE_END] = {
    [NET_MSG_HELLO] = {"HELLO", "ssubb"},
    [NET_MSG_HELLO_OK] = {"HELLO_OK", "uuuu"},
    [NET_MSG_INIT] = {"INIT", "b*"},
    [NET_MSG_ACT] = {"ACT", "b"},
    [NET_MSG_Q] = {"Q", "b"},
    [NET_MSG_STEP] = {"STEP", "ubbbbbuu"},
    [NET_MSG_ACK] = {"ACK", "u"},
    [NET_MSG_REFRESH_REQ] = {"REFRESH_REQ", "ub*"},
    [NET_MSG_REFRESH] = {"REFRESH", "ub*"},
    [NET_MSG_PULL] = {"PULL", ""},
    [NET_MSG_WEIGHTS] = {"WEIGHTS", "ssb*"},
    [NET_MSG_ERROR] = {"ERROR", "us"},
};

const char *net_msg_type_name(int type)
{
    if (type <= 0 || type >= NET_MSG_TYPE_END || !net_types[type].name)
        return "?";
    return net_types[type].name;
}

const char *net_msg_schema(int type)
{
    if (type <= 0 || type >= NET_MSG_TYPE_END)
        return NULL;
    return net_types[type].schema;
}

/* ------------------------------------------------------------------ helpers */

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static char kind_char(uint8_t kind)
{
    switch (kind) {
    case NET_KIND_U64: return 'u';
    case NET_KIND_F64: return 'f';
    case NET_KIND_STR: return 's';
    case NET_KIND_BLOB: return 'b';
    default: return 0;
    }
}

static const char *kind_word(char c)
{
    switch (c) {
    case 'u': return "u64";
    case 'f': return "f64";
    case 's': return "string";
    default: return "blob";
    }
}

/* Advances the schema position *pp over one item of kind c; 0 if the schema
 * does not allow it there. */
static int schema_step(const char **pp, char c)
{
    const char *p = *pp;
    while (*p) {
        if (p[1] == '*') {
            if (*p == c) {
                *pp = p;
                return 1;
            }
            p += 2;
        } else {
            if (*p != c)
                return 0;
            *pp = p + 1;
            return 1;
        }
    }
    return 0;
}

/* 1 if the schema may end at position p. */
static int schema_done(const char *p)
{
    while (*p) {
        if (p[1] != '*')
            return 0;
        p += 2;
    }
    return 1;
}

/* The fewest items the schema allows, and whether it allows more. */
static void schema_count(const char *p, uint32_t *min, int *unbounded)
{
    *min = 0;
    *unbounded = 0;
    while (*p) {
        if (p[1] == '*') {
            *unbounded = 1;
            p += 2;
        } else {
            (*min)++;
            p++;
        }
    }
}

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF)
 * without NUL. */
static int utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1Fu;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2;
            cp = c & 0x0Fu;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07u;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            uint8_t d = s[i + j];
            if ((d & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (d & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* ------------------------------------------------------------------ builder */

static void buf_fail(net_buf *b, cl_status st)
{
    if (!b->failed)
        b->failed = (int)st;
}

/* Room for extra more bytes; 0 (and b failed) if there is none. */
static int buf_reserve(net_buf *b, size_t extra)
{
    if (b->failed)
        return 0;
    /* No object may exceed PTRDIFF_MAX bytes; ask for no more. */
    if (extra > (size_t)PTRDIFF_MAX - b->len) {
        buf_fail(b, CL_ERR_NOMEM);
        return 0;
    }
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > (size_t)PTRDIFF_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        buf_fail(b, CL_ERR_NOMEM);
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void net_msg_begin(net_buf *b, net_msg_type type, uint64_t seq)
{
    if (!b)
        return;
    b->len = 0;
    b->n_items = 0;
    b->failed = CL_OK;
    if (!buf_reserve(b, NET_WIRE_HEADER_BYTES))
        return;
    uint8_t *h = b->data;
    memcpy(h, net_magic, 4);
    wr16(h + 4, NET_WIRE_VERSION);
    wr16(h + 6, (uint16_t)type);
    wr64(h + 8, seq);
    wr32(h + NET_OFF_COUNT, 0);
    wr32(h + NET_OFF_RESERVED, 0);
    b->len = NET_WIRE_HEADER_BYTES;
    if (!net_msg_schema((int)type))
        buf_fail(b, CL_ERR_INVALID);
}

/* Appends an item header for len payload bytes and returns where the payload
 * goes (len bytes reserved); NULL if b has failed. */
static uint8_t *put_item(net_buf *b, uint8_t kind, size_t len)
{
    if (!b)
        return NULL;
    if (b->failed)
        return NULL;
    if (b->len < NET_WIRE_HEADER_BYTES || !b->data) { /* never begun */
        buf_fail(b, CL_ERR_INVALID);
        return NULL;
    }
    if (b->n_items >= NET_MAX_ITEMS) {
        buf_fail(b, CL_ERR_FORMAT);
        return NULL;
    }
    if (len > SIZE_MAX - NET_ITEM_HEADER_BYTES) {
        buf_fail(b, CL_ERR_NOMEM);
        return NULL;
    }
    if (!buf_reserve(b, NET_ITEM_HEADER_BYTES + len))
        return NULL;
    uint8_t *p = b->data + b->len;
    p[0] = kind;
    wr64(p + 1, (uint64_t)len);
    b->len += NET_ITEM_HEADER_BYTES + len;
    b->n_items++;
    return p + NET_ITEM_HEADER_BYTES;
}

void net_msg_put_u64(net_buf *b, uint64_t v)
{
    uint8_t *p = put_item(b, NET_KIND_U64, 8);
    if (p)
        wr64(p, v);
}

void net_msg_put_f64(net_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint8_t *p = put_item(b, NET_KIND_F64, 8);
    if (p)
        wr64(p, bits);
}

void net_msg_put_str(net_buf *b, const char *s)
{
    if (!b || b->failed)
        return;
    if (!s) {
        buf_fail(b, CL_ERR_INVALID);
        return;
    }
    size_t n = strlen(s);
    if (!utf8_ok((const uint8_t *)s, n)) {
        buf_fail(b, CL_ERR_FORMAT);
        return;
    }
    uint8_t *p = put_item(b, NET_KIND_STR, n);
    if (p && n)
        memcpy(p, s, n);
}

void net_msg_put_blob(net_buf *b, const void *data, size_t len)
{
    if (!b || b->failed)
        return;
    if (!data && len) {
        buf_fail(b, CL_ERR_INVALID);
        return;
    }
    uint8_t *p = put_item(b, NET_KIND_BLOB, len);
    if (p && len)
        memcpy(p, data, len);
}

uint8_t *net_msg_put_blob_space(net_buf *b, size_t len)
{
    return put_item(b, NET_KIND_BLOB, len);
}

cl_status net_msg_finish(net_buf *b)
{
    if (!b)
        return CL_ERR_INVALID;
    if (b->failed)
        return (cl_status)b->failed;
    if (b->len < NET_WIRE_HEADER_BYTES || !b->data)
        return CL_ERR_INVALID;
    wr32(b->data + NET_OFF_COUNT, b->n_items);
    /* The items are well-formed by construction; check their kinds. */
    const char *p = net_msg_schema(rd16(b->data + 6));
    if (!p)
        return CL_ERR_INVALID;
    size_t off = NET_WIRE_HEADER_BYTES;
    for (uint32_t i = 0; i < b->n_items; i++) {
        if (!schema_step(&p, kind_char(b->data[off])))
            return CL_ERR_FORMAT;
        off += NET_ITEM_HEADER_BYTES + (size_t)rd64(b->data + off + 1);
    }
    return schema_done(p) ? CL_OK : CL_ERR_FORMAT;
}

void net_buf_free(net_buf *b)
{
    if (!b)
        return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------- parser */

__attribute__((format(printf, 5, 6))) static cl_status parse_fail(cl_status st, net_msg *out, char *why,
                                                                   size_t whylen, const char *fmt, ...)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return st;
}

cl_status net_msg_parse(const uint8_t *buf, size_t len, size_t max_len, net_msg *out, char *why, size_t whylen)
{
    if (!out)
        return parse_fail(CL_ERR_INVALID, out, why, whylen, "no output");
    if (!buf && len)
        return parse_fail(CL_ERR_INVALID, out, why, whylen, "no input");
    if (len > max_len)
        return parse_fail(CL_ERR_INVALID, out, why, whylen, "message of %zu bytes, the limit is %zu", len, max_len);
    if (memcmp(buf ? buf : net_magic, net_magic, len < 4 ? len : 4) != 0)
        return parse_fail(CL_ERR_FORMAT, out, why, whylen, "bad magic (not a cipherl message)");
    if (len >= 6 && rd16(buf + 4) != NET_WIRE_VERSION)
        return parse_fail(CL_ERR_VERSION, out, why, whylen, "version %u, expected %u", (unsigned)rd16(buf + 4),
                          (unsigned)NET_WIRE_VERSION);
    if (len < NET_WIRE_HEADER_BYTES)
        return parse_fail(CL_ERR_TRUNCATED, out, why, whylen, "%zu bytes, shorter than the %d-byte header", len,
                          NET_WIRE_HEADER_BYTES);

    uint16_t type = rd16(buf + 6);
    uint64_t seq = rd64(buf + 8);
    uint32_t n = rd32(buf + NET_OFF_COUNT);
    uint32_t reserved = rd32(buf + NET_OFF_RESERVED);
    const char *schema = net_msg_schema(type);
    if (!schema)
        return parse_fail(CL_ERR_FORMAT, out, why, whylen, "unknown message type %u", (unsigned)type);
    const char *name = net_msg_type_name(type);
    if (reserved)
        return parse_fail(CL_ERR_FORMAT, out, why, whylen, "%s: reserved header field is %u, not 0", name,
                          (unsigned)reserved);
    if (n > NET_MAX_ITEMS)
        return parse_fail(CL_ERR_FORMAT, out, why, whylen, "%s: %u items, the limit is %d", name, (unsigned)n,
                          NET_MAX_ITEMS);
    uint32_t min;
    int unbounded;
    schema_count(schema, &min, &unbounded);
    if (n < min || (!unbounded && n > min))
        return parse_fail(CL_ERR_FORMAT, out, why, whylen, "%s: %u items, its schema \"%s\" takes %s%u", name,
                          (unsigned)n, schema, unbounded ? "at least " : "", (unsigned)min);
    size_t body = len - NET_WIRE_HEADER_BYTES;
    if (n > body / NET_ITEM_HEADER_BYTES)
        return parse_fail(CL_ERR_TRUNCATED, out, why, whylen, "%s: %u items cannot fit in %zu bytes", name,
                          (unsigned)n, body);

    /* Pass 1: check every item; allocate nothing. */
    const char *sp = schema;
    size_t off = NET_WIRE_HEADER_BYTES;
    for (uint32_t i = 0; i < n; i++) {
        size_t rem = len - off;
        if (rem < NET_ITEM_HEADER_BYTES)
            return parse_fail(CL_ERR_TRUNCATED, out, why, whylen, "%s: item %u: header past the end", name,
                              (unsigned)i);
        uint8_t kind = buf[off];
        uint64_t ilen = rd64(buf + off + 1);
        char c = kind_char(kind);
        if (!c)
            return parse_fail(CL_ERR_FORMAT, out, why, whylen, "%s: item %u: unknown kind %u", name, (unsigned)i,
                              (unsigned)kind);
        if ((c == 'u' || c == 'f') && ilen != 8)
            return parse_fail(CL_ERR_FORMAT, out, why, whylen, "%s: item %u: %s of %llu bytes, not 8", name,
                              (unsigned)i, kind_word(c), (unsigned long long)ilen);
        if (ilen > rem - NET_ITEM_HEADER_BYTES)
            return parse_fail(CL_ERR_TRUNCATED, out, why, whylen, "%s: item %u: %llu bytes, %zu left", name,
                              (unsigned)i, (unsigned long long)ilen, rem - NET_ITEM_HEADER_BYTES);
        if (!schema_step(&sp, c))
            return parse_fail(CL_ERR_FORMAT, out, why, whylen, "%s: item %u: a %s, which schema \"%s\" does not allow",
                              name, (unsigned)i, kind_word(c), schema);
        if (c == 's' && !utf8_ok(buf + off + NET_ITEM_HEADER_BYTES, (size_t)ilen))
            return parse_fail(CL_ERR_FORMAT, out, why, whylen, "%s: item %u: string with a NUL or invalid UTF-8",
                              name, (unsigned)i);
        off += NET_ITEM_HEADER_BYTES + (size_t)ilen;
    }
    if (!schema_done(sp)) /* unreachable after the count check; kept as a guard */
        return parse_fail(CL_ERR_FORMAT, out, why, whylen, "%s: too few items for schema \"%s\"", name, schema);
    if (off != len)
        return parse_fail(CL_ERR_FORMAT, out, why, whylen, "%s: %zu bytes after the last item", name, len - off);

    /* Pass 2: n items are present; record them. */
    net_item *items = NULL;
    if (n) {
        items = calloc(n, sizeof *items);
        if (!items)
            return parse_fail(CL_ERR_NOMEM, out, why, whylen, "%s: out of memory for %u items", name, (unsigned)n);
        off = NET_WIRE_HEADER_BYTES;
        for (uint32_t i = 0; i < n; i++) {
            items[i].kind = buf[off];
            items[i].len = rd64(buf + off + 1);
            items[i].data = buf + off + NET_ITEM_HEADER_BYTES;
            off += NET_ITEM_HEADER_BYTES + (size_t)items[i].len;
        }
    }
    out->version = NET_WIRE_VERSION;
    out->type = type;
    out->seq = seq;
    out->n_items = n;
    out->items = items;
    if (why && whylen)
        why[0] = '\0';
    return CL_OK;
}

void net_msg_free(net_msg *m)
{
    if (!m)
        return;
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- accessors */

static cl_status get_item(const net_msg *m, uint32_t i, uint8_t kind, const net_item **it)
{
    if (!m)
        return CL_ERR_INVALID;
    if (i >= m->n_items || !m->items || m->items[i].kind != kind)
        return CL_ERR_FORMAT;
    *it = &m->items[i];
    return CL_OK;
}

cl_status net_msg_u64(const net_msg *m, uint32_t i, uint64_t *v)
{
    const net_item *it;
    if (!v)
        return CL_ERR_INVALID;
    cl_status st = get_item(m, i, NET_KIND_U64, &it);
    if (st != CL_OK)
        return st;
    if (it->len != 8)
        return CL_ERR_FORMAT;
    *v = rd64(it->data);
    return CL_OK;
}

cl_status net_msg_f64(const net_msg *m, uint32_t i, double *v)
{
    const net_item *it;
    if (!v)
        return CL_ERR_INVALID;
    cl_status st = get_item(m, i, NET_KIND_F64, &it);
    if (st != CL_OK)
        return st;
    if (it->len != 8)
        return CL_ERR_FORMAT;
    uint64_t bits = rd64(it->data);
    memcpy(v, &bits, sizeof *v);
    return CL_OK;
}

cl_status net_msg_str(const net_msg *m, uint32_t i, char *buf, size_t cap)
{
    const net_item *it;
    if (!buf)
        return CL_ERR_INVALID;
    if (cap)
        buf[0] = '\0';
    cl_status st = get_item(m, i, NET_KIND_STR, &it);
    if (st != CL_OK)
        return st;
    if (it->len >= cap)
        return CL_ERR_INVALID;
    if (it->len)
        memcpy(buf, it->data, (size_t)it->len);
    buf[it->len] = '\0';
    return CL_OK;
}

cl_status net_msg_blob(const net_msg *m, uint32_t i, const uint8_t **data, size_t *len)
{
    const net_item *it;
    if (!data || !len)
        return CL_ERR_INVALID;
    cl_status st = get_item(m, i, NET_KIND_BLOB, &it);
    if (st != CL_OK)
        return st;
    *data = it->data;
    *len = (size_t)it->len;
    return CL_OK;
}
