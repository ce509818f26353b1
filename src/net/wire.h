/* The message framing of the owner/platform protocol (docs/protocol.md,
 * "Framing"). Internal to the net layer.
 *
 * A message is a 24-byte header followed by typed items, all integers
 * little-endian:
 *
 *   "CLRL" | u16 version | u16 type | u64 seq | u32 n_items | u32 reserved (0)
 *   then n_items times: u8 kind | u64 len | len bytes
 *
 * Each message type has a schema, a fixed sequence of item kinds in which a
 * kind may repeat (net_msg_schema). The builder refuses to finish a message
 * that does not match its schema and the parser refuses to accept one, so a
 * message that parses is well-formed for its type.
 *
 * The encoding is canonical: a byte string parses to at most one message, and
 * building that message again gives exactly the same bytes.
 *
 * Nothing here prints, exits or keeps global mutable state. */
#ifndef CIPHERL_NET_WIRE_H
#define CIPHERL_NET_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "cipherl/common.h"

#define NET_WIRE_VERSION 2 /* 2: REFRESH_REQ and REFRESH carry the refresh's number */
#define NET_WIRE_HEADER_BYTES 24 /* magic, version, type, seq, n_items, reserved */
#define NET_ITEM_HEADER_BYTES 9  /* kind u8 and len u64 */
#define NET_MAX_ITEMS 65536      /* items in one message, at most */

/* Item kinds. */
enum {
    NET_KIND_U64 = 1,  /* 8 bytes */
    NET_KIND_F64 = 2,  /* 8 bytes: the IEEE-754 bits of a double */
    NET_KIND_STR = 3,  /* UTF-8, no NUL, no terminator */
    NET_KIND_BLOB = 4, /* any bytes */
};

/* Message types; the comment is the schema ('u' u64, 'f' f64, 's' string,
 * 'b' blob; "x*" is zero or more items of kind x). */
typedef enum net_msg_type {
    NET_MSG_HELLO = 1,       /* "ssubb"    env id, hyperparameters, sampling seed, CKKS parameters, evaluation keys */
    NET_MSG_HELLO_OK = 2,    /* "uuuu"     transitions stored, initialized, training steps done, last seq applied */
    NET_MSG_INIT = 3,        /* "b*"       encrypted initial weights */
    NET_MSG_ACT = 4,         /* "b"        Enc(observation) */
    NET_MSG_Q = 5,           /* "b"        Enc(Q(s, .)) */
    NET_MSG_STEP = 6,        /* "ubbbbbuu" step index, Enc(s), Enc(s'), Enc(a), Enc(r), Enc(not done), grad steps, update target */
    NET_MSG_ACK = 7,         /* "u"        a step index or a count */
    NET_MSG_REFRESH_REQ = 8, /* "ub*"      the refresh's number within its request, ciphertexts to re-encrypt */
    NET_MSG_REFRESH = 9,     /* "ub*"      that number, the re-encrypted ciphertexts, same count and order */
    NET_MSG_PULL = 10,       /* ""         ask for the encrypted weights */
    NET_MSG_WEIGHTS = 11,    /* "ssb*"     environment, hyperparameters, the encrypted weights */
    NET_MSG_ERROR = 12,      /* "us"       a cl_status code and a message */
    NET_MSG_TYPE_END         /* one past the last type */
} net_msg_type;

/* "HELLO", "HELLO_OK", ...; "?" for an unknown type. */
const char *net_msg_type_name(int type);
/* The schema of a type ("ssubb", "b*", ...); NULL for an unknown type. */
const char *net_msg_schema(int type);

/* ----------------------------------------------------------------- builder
 *
 * net_buf b = {0};
 * net_msg_begin(&b, NET_MSG_ACK, seq);
 * net_msg_put_u64(&b, step);
 * if (net_msg_finish(&b) == CL_OK) send(b.data, b.len);
 * ...                 (the buffer may be reused by the next net_msg_begin)
 * net_buf_free(&b);
 *
 * Errors are sticky: the first one is kept in `failed` (a cl_status, 0 if
 * none), later puts do nothing, and net_msg_finish returns it. A message may
 * not exceed PTRDIFF_MAX bytes (CL_ERR_NOMEM, before any allocation). A
 * net_buf must start zeroed. */
typedef struct net_buf {
    uint8_t *data;
    size_t len, cap;
    uint32_t n_items;
    int failed; /* the first cl_status that went wrong, CL_OK if none */
} net_buf;

/* Starts a message in b, dropping whatever b held but keeping its allocation.
 * An unknown type makes the message fail with CL_ERR_INVALID. */
void net_msg_begin(net_buf *b, net_msg_type type, uint64_t seq);
void net_msg_put_u64(net_buf *b, uint64_t v);
void net_msg_put_f64(net_buf *b, double v);
/* s: a NUL-terminated UTF-8 string (invalid UTF-8: CL_ERR_FORMAT; NULL:
 * CL_ERR_INVALID). */
void net_msg_put_str(net_buf *b, const char *s);
/* data may be NULL only when len is 0. */
void net_msg_put_blob(net_buf *b, const void *data, size_t len);
/* Appends a blob of len bytes and returns where to write them; the pointer
 * is valid until the next put or begin. NULL if b has failed. */
uint8_t *net_msg_put_blob_space(net_buf *b, size_t len);
/* Writes the item count into the header. CL_OK: b->data[0 .. b->len) is the
 * message. Otherwise the sticky error (CL_ERR_NOMEM, CL_ERR_INVALID,
 * CL_ERR_FORMAT for a bad string or more than NET_MAX_ITEMS items), or
 * CL_ERR_FORMAT if the items do not match the type's schema. */
cl_status net_msg_finish(net_buf *b);
/* Frees the allocation and zeroes b (NULL is fine). */
void net_buf_free(net_buf *b);

/* ------------------------------------------------------------------ parser */

/* An item: its bytes lie inside the parsed buffer (zero copy). */
typedef struct net_item {
    uint8_t kind;
    uint64_t len;
    const uint8_t *data;
} net_item;

/* A parsed message: a view of the caller's buffer, which must outlive it. */
typedef struct net_msg {
    uint16_t version;
    uint16_t type;
    uint64_t seq;
    uint32_t n_items;
    net_item *items; /* n_items of them; NULL when there are none */
} net_msg;

/* Parses and checks the message in buf[0 .. len). Checks, in order:
 *   NULL out, NULL buf with len > 0, len > max_len    CL_ERR_INVALID
 *   magic (as much of it as len holds)                CL_ERR_FORMAT
 *   version                                           CL_ERR_VERSION
 *   header shorter than 24 bytes                      CL_ERR_TRUNCATED
 *   unknown type, reserved field not 0, more than
 *   NET_MAX_ITEMS items, an item count the type's
 *   schema does not allow                             CL_ERR_FORMAT
 *   more items than the bytes left could hold         CL_ERR_TRUNCATED
 *   then item by item:
 *     item header past the end                        CL_ERR_TRUNCATED
 *     unknown kind, u64/f64 whose length is not 8     CL_ERR_FORMAT
 *     payload past the end                            CL_ERR_TRUNCATED
 *     a kind the schema does not allow there, a
 *     string with a NUL or invalid UTF-8              CL_ERR_FORMAT
 *   bytes after the last item                         CL_ERR_FORMAT
 * Never reads outside buf, and allocates only once every check has passed:
 * n_items entries, all of them present in buf. why (may be NULL) receives a
 * one-line reason ("" on success). On error *out is zeroed. Pass
 * max_len = SIZE_MAX for no limit. */
cl_status net_msg_parse(const uint8_t *buf, size_t len, size_t max_len, net_msg *out, char *why, size_t whylen);
/* Frees the item array and zeroes m (NULL is fine); the buffer is the caller's. */
void net_msg_free(net_msg *m);

/* Item i of m, of the given kind. CL_ERR_FORMAT if m has no item i or it is
 * of another kind; CL_ERR_INVALID for NULL arguments. */
cl_status net_msg_u64(const net_msg *m, uint32_t i, uint64_t *v);
cl_status net_msg_f64(const net_msg *m, uint32_t i, double *v);
/* Copies the string and its NUL into buf; CL_ERR_INVALID if that does not
 * fit in cap bytes (buf is then "" when cap > 0). */
cl_status net_msg_str(const net_msg *m, uint32_t i, char *buf, size_t cap);
cl_status net_msg_blob(const net_msg *m, uint32_t i, const uint8_t **data, size_t *len);

#endif
