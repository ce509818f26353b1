/* Serialization of parameters, plaintexts, ciphertexts and keys.
 *
 * Every format (docs/ckks-formats.md, "Serialization formats") is
 *
 *   magic[4] | u16 version | u16 flags | u64 total length
 *   | fingerprint[32] (every kind but the parameters) | body | BLAKE2b-256[32]
 *
 * little-endian, the checksum covering every byte before it. Residues are
 * packed LSB-first to the bit length of their prime; seeded polynomials are
 * stored as their 32-byte seed and re-expanded on loading. The encoding is
 * canonical: reserved fields must be zero, booleans 0 or 1, residues below
 * their prime, so an object loads from exactly one byte string and
 * re-serializes to it.
 *
 * Loading checks, in order: magic (CL_ERR_FORMAT), version (CL_ERR_VERSION),
 * the total length against len (CL_ERR_TRUNCATED if short, CL_ERR_FORMAT if
 * bytes follow), the checksum (CL_ERR_CHECKSUM), the fingerprint
 * (CL_ERR_PARAMS), then every field against the parameters (CL_ERR_FORMAT)
 * before anything large is allocated: all sizes follow from the parameters
 * and from small fields, and must add up to the total length exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ckks/ckks_internal.h"

#define SER_VERSION 1u
#define SER_HEADER 16u /* magic, version, flags, total length */
#define SER_SUM 32u    /* BLAKE2b-256 of everything before it */
#define SER_FP CKKS_FINGERPRINT_BYTES

static const uint8_t MAGIC_PARAMS[4] = {'C', 'K', 'P', 'A'};
static const uint8_t MAGIC_CT[4] = {'C', 'K', 'C', 'T'};
static const uint8_t MAGIC_PT[4] = {'C', 'K', 'P', 'T'};
static const uint8_t MAGIC_PK[4] = {'C', 'K', 'P', 'K'};
static const uint8_t MAGIC_EK[4] = {'C', 'K', 'E', 'K'};
static const uint8_t MAGIC_SK[4] = {'C', 'K', 'S', 'K'};

/* ------------------------------------------------------------ byte helpers */

static inline void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t double_bits(double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return v;
}

static double bits_double(uint64_t v)
{
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

static bool valid_scale(double s)
{
    return isfinite(s) && s > 0;
}

static bool valid_slots(const ckks_params *p, uint64_t slots)
{
    return slots >= 1 && slots <= p->n / 2 && (slots & (slots - 1)) == 0;
}

/* -------------------------------------------------------- residue packing */

static size_t limb_bytes(const ckks_params *p, size_t prime)
{
    return (p->n * (size_t)p->mod[prime].bits + 7) / 8;
}

/* Bytes of `count` limbs whose prime indices are first, first+1, ... */
static size_t limbs_bytes(const ckks_params *p, size_t first, size_t count)
{
    size_t s = 0;
    for (size_t i = 0; i < count; i++)
        s += limb_bytes(p, first + i);
    return s;
}

/* Writes n residues at `bits` bits each, LSB first; returns the end. */
static uint8_t *pack_limb(const uint64_t *src, size_t n, int bits, uint8_t *dst)
{
    unsigned __int128 acc = 0;
    unsigned nacc = 0;
    for (size_t k = 0; k < n; k++) {
        acc |= (unsigned __int128)src[k] << nacc;
        nacc += (unsigned)bits;
        if (nacc >= 64) {
            put_u64(dst, (uint64_t)acc);
            dst += 8;
            acc >>= 64;
            nacc -= 64;
        }
    }
    for (; nacc > 0; nacc = nacc > 8 ? nacc - 8 : 0) {
        *dst++ = (uint8_t)acc;
        acc >>= 8;
    }
    return dst;
}

/* Reads what pack_limb wrote (nbytes = ceil(n*bits/8) bytes); false if a
 * residue is not below q or a padding bit is set. */
static bool unpack_limb(const uint8_t *src, size_t nbytes, size_t n, int bits, uint64_t q, uint64_t *dst)
{
    const uint64_t mask = ((uint64_t)1 << bits) - 1; /* bits <= 61 */
    unsigned __int128 acc = 0;
    unsigned nacc = 0;
    size_t pos = 0;
    uint64_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        if (nacc < (unsigned)bits) {
            if (nbytes - pos >= 8) {
                acc |= (unsigned __int128)get_u64(src + pos) << nacc;
                nacc += 64;
                pos += 8;
            } else {
                while (nacc < (unsigned)bits) {
                    acc |= (unsigned __int128)src[pos++] << nacc;
                    nacc += 8;
                }
            }
        }
        const uint64_t v = (uint64_t)acc & mask;
        acc >>= bits;
        nacc -= (unsigned)bits;
        bad |= (uint64_t)(v >= q);
        dst[k] = v;
    }
    return !bad && acc == 0 && pos == nbytes;
}

/* `count` limbs of n residues, limb i belonging to prime first + i. */
static uint8_t *pack_limbs(const ckks_params *p, const uint64_t *src, size_t first, size_t count, uint8_t *dst)
{
    for (size_t i = 0; i < count; i++)
        dst = pack_limb(src + i * p->n, p->n, p->mod[first + i].bits, dst);
    return dst;
}

static bool unpack_limbs(const ckks_params *p, const uint8_t **src, size_t first, size_t count, uint64_t *dst)
{
    for (size_t i = 0; i < count; i++) {
        const size_t nb = limb_bytes(p, first + i);
        const ring_modulus *m = &p->mod[first + i];
        if (!unpack_limb(*src, nb, p->n, m->bits, m->q, dst + i * p->n))
            return false;
        *src += nb;
    }
    return true;
}

/* ------------------------------------------------------- header, checksum */

static size_t header_size(bool with_fp)
{
    return SER_HEADER + (with_fp ? SER_FP : 0);
}

/* Checks the caller's buffer; on success the object is written from buf. */
static cl_status begin_write(uint8_t *buf, size_t cap, size_t *len, size_t need, bool *size_only)
{
    if (!len)
        return CL_ERR_INVALID;
    *size_only = buf == NULL;
    if (!buf) {
        *len = need;
        return CL_OK;
    }
    if (cap < need) {
        *len = need;
        return CL_ERR_INVALID;
    }
    return CL_OK;
}

/* Writes the header (and fingerprint when p != NULL); returns the body. */
static uint8_t *write_header(uint8_t *buf, const uint8_t magic[4], size_t total, const ckks_params *p)
{
    memcpy(buf, magic, 4);
    put_u16(buf + 4, SER_VERSION);
    put_u16(buf + 6, 0);
    put_u64(buf + 8, (uint64_t)total);
    if (!p)
        return buf + SER_HEADER;
    memcpy(buf + SER_HEADER, p->fingerprint, SER_FP);
    return buf + SER_HEADER + SER_FP;
}

static void write_checksum(uint8_t *buf, size_t total)
{
    crypto_generichash(buf + total - SER_SUM, SER_SUM, buf, total - SER_SUM, NULL, 0);
}

/* Checks everything common to the formats; on success *body and *body_len
 * are the bytes between the header (with fingerprint) and the checksum. */
static cl_status read_header(const uint8_t *buf, size_t len, const uint8_t magic[4], const ckks_params *p,
                             const uint8_t **body, size_t *body_len)
{
    if (len < 4)
        return CL_ERR_TRUNCATED;
    if (memcmp(buf, magic, 4) != 0)
        return CL_ERR_FORMAT;
    if (len < 6)
        return CL_ERR_TRUNCATED;
    if (get_u16(buf + 4) != SER_VERSION)
        return CL_ERR_VERSION;
    if (len < SER_HEADER)
        return CL_ERR_TRUNCATED;
    const uint64_t total = get_u64(buf + 8);
    const size_t hs = header_size(p != NULL);
    if (total > (uint64_t)len)
        return CL_ERR_TRUNCATED;
    if (total < (uint64_t)len || total < hs + SER_SUM)
        return CL_ERR_FORMAT;
    uint8_t sum[SER_SUM];
    crypto_generichash(sum, sizeof sum, buf, len - SER_SUM, NULL, 0);
    if (sodium_memcmp(sum, buf + len - SER_SUM, SER_SUM) != 0)
        return CL_ERR_CHECKSUM;
    if (get_u16(buf + 6) != 0) /* no flags are defined in version 1 */
        return CL_ERR_FORMAT;
    if (p && memcmp(buf + SER_HEADER, p->fingerprint, SER_FP) != 0)
        return CL_ERR_PARAMS;
    *body = buf + hs;
    *body_len = len - hs - SER_SUM;
    return CL_OK;
}

/* -------------------------------------------------------------- parameters */

#define PARAMS_NAME 24
/* name, 7 x u16 spec fields, u8 insecure, u8 reserved, u16 prime count */
#define PARAMS_FIXED (PARAMS_NAME + 7 * 2 + 2 + 2)

cl_status ckks_params_serialize(const ckks_params *params, uint8_t *buf, size_t cap, size_t *len)
{
    if (!params)
        return CL_ERR_INVALID;
    const ckks_param_spec *s = &params->spec;
    const size_t total = header_size(false) + PARAMS_FIXED + 8 * params->qp_count + SER_FP + SER_SUM;
    bool size_only;
    cl_status st = begin_write(buf, cap, len, total, &size_only);
    if (st != CL_OK || size_only)
        return st;
    uint8_t *w = write_header(buf, MAGIC_PARAMS, total, NULL);
    memset(w, 0, PARAMS_NAME);
    const size_t nl = strnlen(s->name, sizeof s->name);
    memcpy(w, s->name, nl < PARAMS_NAME ? nl : PARAMS_NAME - 1);
    w += PARAMS_NAME;
    const int fields[7] = {s->logn, s->first_bits, s->scale_bits, s->levels,
                           s->special_bits, s->special_count, s->digits};
    for (int i = 0; i < 7; i++, w += 2)
        put_u16(w, (uint16_t)fields[i]);
    *w++ = s->insecure ? 1 : 0;
    *w++ = 0;
    put_u16(w, (uint16_t)params->qp_count);
    w += 2;
    for (size_t i = 0; i < params->qp_count; i++, w += 8)
        put_u64(w, params->mod[i].q);
    memcpy(w, params->fingerprint, SER_FP);
    write_checksum(buf, total);
    *len = total;
    return CL_OK;
}

static int bit_length(uint64_t v)
{
    int b = 0;
    while (v) {
        b++;
        v >>= 1;
    }
    return b;
}

cl_status ckks_params_deserialize(const uint8_t *buf, size_t len, unsigned flags, ckks_params **out)
{
    if (!buf || !out)
        return CL_ERR_INVALID;
    if (sodium_init() < 0) /* possibly the first call into the library */
        return CL_ERR_RNG;
    const uint8_t *b;
    size_t blen;
    cl_status st = read_header(buf, len, MAGIC_PARAMS, NULL, &b, &blen);
    if (st != CL_OK)
        return st;
    if (blen < PARAMS_FIXED + SER_FP)
        return CL_ERR_FORMAT;

    ckks_param_spec s;
    memset(&s, 0, sizeof s);
    /* A NUL-terminated name, zero-padded. */
    const uint8_t *nul = memchr(b, 0, PARAMS_NAME);
    if (!nul)
        return CL_ERR_FORMAT;
    for (const uint8_t *c = nul; c < b + PARAMS_NAME; c++)
        if (*c)
            return CL_ERR_FORMAT;
    memcpy(s.name, b, (size_t)(nul - b));
    const uint8_t *r = b + PARAMS_NAME;
    int f[7];
    for (int i = 0; i < 7; i++, r += 2)
        f[i] = get_u16(r);
    s.logn = f[0];
    s.first_bits = f[1];
    s.scale_bits = f[2];
    s.levels = f[3];
    s.special_bits = f[4];
    s.special_count = f[5];
    s.digits = f[6];
    const uint8_t insecure = *r++, reserved = *r++;
    const size_t prime_count = get_u16(r);
    r += 2;
    if (insecure > 1 || reserved != 0)
        return CL_ERR_FORMAT;
    s.insecure = insecure;
    /* The ranges ckks_params_create accepts. */
    if (s.logn < 4 || s.logn > 16 || s.first_bits < 20 || s.first_bits > 60 || s.scale_bits < 20 ||
        s.scale_bits > 60 || s.special_bits < 20 || s.special_bits > 60 || s.special_count < 1 ||
        s.digits < 1 || s.digits > s.levels + 1 || s.levels + 1 + s.special_count > CKKS_MAX_PRIMES)
        return CL_ERR_FORMAT;
    if (prime_count != (size_t)(s.levels + 1 + s.special_count) ||
        blen != PARAMS_FIXED + 8 * prime_count + SER_FP)
        return CL_ERR_FORMAT;

    /* Cheap checks of the primes against the spec before the (costly) set-up:
     * q = 1 mod 2N, of the bit sizes the spec asks for. */
    uint64_t primes[CKKS_MAX_PRIMES];
    const uint64_t two_n = (uint64_t)2 << s.logn;
    const size_t q_count = (size_t)s.levels + 1;
    for (size_t i = 0; i < prime_count; i++, r += 8) {
        const uint64_t q = primes[i] = get_u64(r);
        const int bits = bit_length(q);
        bool ok = q % two_n == 1 && bits <= RING_MAX_MODULUS_BITS;
        if (i == 0)
            ok = ok && bits == s.first_bits;
        else if (i < q_count)
            ok = ok && (bits == s.scale_bits || bits == s.scale_bits + 1);
        else
            ok = ok && bits == s.special_bits;
        if (!ok)
            return CL_ERR_PARAMS;
    }
    const uint8_t *fp = r;

    ckks_params *p;
    st = ckks_params_create(&s, flags, &p);
    if (st == CL_ERR_INVALID)
        return CL_ERR_FORMAT;
    if (st == CL_ERR_PRIME) /* the spec cannot yield the stored primes */
        return CL_ERR_PARAMS;
    if (st != CL_OK) /* CL_ERR_INSECURE without CKKS_ALLOW_INSECURE, CL_ERR_PARAMS, ... */
        return st;
    /* The stored spec must be the one the set keeps (digits reduced). */
    const ckks_param_spec *ps = &p->spec;
    if (ps->logn != s.logn || ps->first_bits != s.first_bits || ps->scale_bits != s.scale_bits ||
        ps->levels != s.levels || ps->special_bits != s.special_bits ||
        ps->special_count != s.special_count || ps->digits != s.digits || ps->insecure != s.insecure ||
        strcmp(ps->name, s.name) != 0) {
        ckks_params_free(p);
        return CL_ERR_FORMAT;
    }
    st = CL_OK;
    if (p->qp_count != prime_count)
        st = CL_ERR_PARAMS;
    for (size_t i = 0; st == CL_OK && i < prime_count; i++)
        if (p->mod[i].q != primes[i])
            st = CL_ERR_PARAMS;
    if (st == CL_OK && memcmp(p->fingerprint, fp, SER_FP) != 0)
        st = CL_ERR_PARAMS;
    if (st != CL_OK) {
        ckks_params_free(p);
        return st;
    }
    *out = p;
    return CL_OK;
}

/* -------------------------------------------------------------- ciphertexts */

/* u16 level, u8 size, u8 seeded, u32 slots, u64 scale */
#define CT_FIXED 16

cl_status ckks_ciphertext_serialize(const ckks_ciphertext *ct, uint8_t *buf, size_t cap, size_t *len)
{
    if (!ct || !ct->params || ct->level < 0 || (ct->size != 2 && ct->size != 3))
        return CL_ERR_INVALID;
    const ckks_params *p = ct->params;
    const size_t limbs = (size_t)ct->level + 1;
    const bool seeded = ct->seeded && ct->size == 2;
    const int stored = seeded ? 1 : ct->size;
    const size_t total = header_size(true) + CT_FIXED + (seeded ? RING_SEED_BYTES : 0) +
                         (size_t)stored * limbs_bytes(p, 0, limbs) + SER_SUM;
    bool size_only;
    cl_status st = begin_write(buf, cap, len, total, &size_only);
    if (st != CL_OK || size_only)
        return st;
    uint8_t *w = write_header(buf, MAGIC_CT, total, p);
    put_u16(w, (uint16_t)ct->level);
    w[2] = (uint8_t)ct->size;
    w[3] = seeded ? 1 : 0;
    put_u32(w + 4, (uint32_t)ct->slots);
    put_u64(w + 8, double_bits(ct->scale));
    w += CT_FIXED;
    if (seeded) {
        memcpy(w, ct->seed, RING_SEED_BYTES);
        w += RING_SEED_BYTES;
    }
    for (int i = 0; i < stored; i++)
        w = pack_limbs(p, ct->poly[i], 0, limbs, w);
    write_checksum(buf, total);
    *len = total;
    return CL_OK;
}

cl_status ckks_ciphertext_deserialize(const ckks_params *params, const uint8_t *buf, size_t len,
                                      ckks_ciphertext **out)
{
    if (!params || !buf || !out)
        return CL_ERR_INVALID;
    const uint8_t *b;
    size_t blen;
    cl_status st = read_header(buf, len, MAGIC_CT, params, &b, &blen);
    if (st != CL_OK)
        return st;
    if (blen < CT_FIXED)
        return CL_ERR_FORMAT;
    const unsigned level = get_u16(b), size = b[2], seeded = b[3];
    const uint32_t slots = get_u32(b + 4);
    const double scale = bits_double(get_u64(b + 8));
    if (level >= params->q_count || (size != 2 && size != 3) || seeded > 1 || (seeded && size != 2) ||
        !valid_slots(params, slots) || !valid_scale(scale))
        return CL_ERR_FORMAT;
    const size_t limbs = (size_t)level + 1;
    const int stored = seeded ? 1 : (int)size;
    if (blen != CT_FIXED + (seeded ? RING_SEED_BYTES : 0) + (size_t)stored * limbs_bytes(params, 0, limbs))
        return CL_ERR_FORMAT;
    const uint8_t *r = b + CT_FIXED;

    ckks_ciphertext *ct;
    if ((st = ckks_ciphertext_create(params, &ct)) != CL_OK)
        return st;
    if ((st = ckks_ciphertext_reserve(ct, (int)level, (int)size)) != CL_OK)
        goto fail;
    if (seeded) {
        memcpy(ct->seed, r, RING_SEED_BYTES);
        r += RING_SEED_BYTES;
    }
    for (int i = 0; i < stored; i++)
        if (!unpack_limbs(params, &r, 0, limbs, ct->poly[i])) {
            st = CL_ERR_FORMAT;
            goto fail;
        }
    if (seeded)
        ckks_expand_poly(params, ct->seed, CKKS_DOMAIN_CT, 0, limbs, ct->poly[1]);
    ct->level = (int)level;
    ct->size = (int)size;
    ct->seeded = seeded;
    ct->slots = slots;
    ct->scale = scale;
    *out = ct;
    return CL_OK;
fail:
    ckks_ciphertext_free(ct);
    return st;
}

/* --------------------------------------------------------------- plaintexts */

/* u16 level, u16 reserved, u32 slots, u64 scale */
#define PT_FIXED 16

cl_status ckks_plaintext_serialize(const ckks_plaintext *pt, uint8_t *buf, size_t cap, size_t *len)
{
    if (!pt || !pt->params || pt->level < 0)
        return CL_ERR_INVALID;
    const ckks_params *p = pt->params;
    const size_t limbs = (size_t)pt->level + 1;
    const size_t total = header_size(true) + PT_FIXED + limbs_bytes(p, 0, limbs) + SER_SUM;
    bool size_only;
    cl_status st = begin_write(buf, cap, len, total, &size_only);
    if (st != CL_OK || size_only)
        return st;
    uint8_t *w = write_header(buf, MAGIC_PT, total, p);
    put_u16(w, (uint16_t)pt->level);
    put_u16(w + 2, 0);
    put_u32(w + 4, (uint32_t)pt->slots);
    put_u64(w + 8, double_bits(pt->scale));
    w += PT_FIXED;
    pack_limbs(p, pt->data, 0, limbs, w);
    write_checksum(buf, total);
    *len = total;
    return CL_OK;
}

cl_status ckks_plaintext_deserialize(const ckks_params *params, const uint8_t *buf, size_t len,
                                     ckks_plaintext **out)
{
    if (!params || !buf || !out)
        return CL_ERR_INVALID;
    const uint8_t *b;
    size_t blen;
    cl_status st = read_header(buf, len, MAGIC_PT, params, &b, &blen);
    if (st != CL_OK)
        return st;
    if (blen < PT_FIXED)
        return CL_ERR_FORMAT;
    const unsigned level = get_u16(b), reserved = get_u16(b + 2);
    const uint32_t slots = get_u32(b + 4);
    const double scale = bits_double(get_u64(b + 8));
    if (level >= params->q_count || reserved != 0 || !valid_slots(params, slots) || !valid_scale(scale))
        return CL_ERR_FORMAT;
    const size_t limbs = (size_t)level + 1;
    if (blen != PT_FIXED + limbs_bytes(params, 0, limbs))
        return CL_ERR_FORMAT;
    const uint8_t *r = b + PT_FIXED;

    ckks_plaintext *pt;
    if ((st = ckks_plaintext_create(params, &pt)) != CL_OK)
        return st;
    if ((st = ckks_plaintext_reserve(pt, (int)level)) != CL_OK)
        goto fail;
    if (!unpack_limbs(params, &r, 0, limbs, pt->data)) {
        st = CL_ERR_FORMAT;
        goto fail;
    }
    pt->level = (int)level;
    pt->slots = slots;
    pt->scale = scale;
    *out = pt;
    return CL_OK;
fail:
    ckks_plaintext_free(pt);
    return st;
}

/* -------------------------------------------------------------- public key */

cl_status ckks_public_key_serialize(const ckks_public_key *pk, uint8_t *buf, size_t cap, size_t *len)
{
    if (!pk || !pk->params)
        return CL_ERR_INVALID;
    const ckks_params *p = pk->params;
    const size_t total = header_size(true) + RING_SEED_BYTES + limbs_bytes(p, 0, p->qp_count) + SER_SUM;
    bool size_only;
    cl_status st = begin_write(buf, cap, len, total, &size_only);
    if (st != CL_OK || size_only)
        return st;
    uint8_t *w = write_header(buf, MAGIC_PK, total, p);
    memcpy(w, pk->seed, RING_SEED_BYTES);
    w += RING_SEED_BYTES;
    pack_limbs(p, pk->b, 0, p->qp_count, w);
    write_checksum(buf, total);
    *len = total;
    return CL_OK;
}

cl_status ckks_public_key_deserialize(const ckks_params *params, const uint8_t *buf, size_t len,
                                      ckks_public_key **out)
{
    if (!params || !buf || !out)
        return CL_ERR_INVALID;
    const uint8_t *b;
    size_t blen;
    cl_status st = read_header(buf, len, MAGIC_PK, params, &b, &blen);
    if (st != CL_OK)
        return st;
    const size_t qp = params->qp_count, n = params->n;
    if (blen != RING_SEED_BYTES + limbs_bytes(params, 0, qp))
        return CL_ERR_FORMAT;
    ckks_public_key *pk = calloc(1, sizeof *pk);
    if (!pk)
        return CL_ERR_NOMEM;
    pk->params = params;
    pk->a = malloc(qp * n * sizeof(uint64_t));
    pk->b = malloc(qp * n * sizeof(uint64_t));
    if (!pk->a || !pk->b) {
        ckks_public_key_free(pk);
        return CL_ERR_NOMEM;
    }
    memcpy(pk->seed, b, RING_SEED_BYTES);
    const uint8_t *r = b + RING_SEED_BYTES;
    if (!unpack_limbs(params, &r, 0, qp, pk->b)) {
        ckks_public_key_free(pk);
        return CL_ERR_FORMAT;
    }
    ckks_expand_poly(params, pk->seed, CKKS_DOMAIN_PK, 0, qp, pk->a);
    *out = pk;
    return CL_OK;
}

/* ---------------------------------------------------------- evaluation keys */

/* u8 relin present, u8 reserved, u16 reserved, u32 Galois key count */
#define EK_FIXED 8

/* seed, then b_j over all qp limbs for each digit j */
static size_t switch_key_bytes(const ckks_params *p)
{
    return RING_SEED_BYTES + (size_t)p->spec.digits * limbs_bytes(p, 0, p->qp_count);
}

static uint8_t *write_switch_key(const ckks_switch_key *k, uint8_t *w)
{
    const ckks_params *p = k->params;
    memcpy(w, k->seed, RING_SEED_BYTES);
    w += RING_SEED_BYTES;
    for (size_t j = 0; j < k->digits; j++)
        w = pack_limbs(p, k->b + j * p->qp_count * p->n, 0, p->qp_count, w);
    return w;
}

static cl_status read_switch_key(const ckks_params *p, uint64_t galois, const uint8_t **r, ckks_switch_key **out)
{
    ckks_switch_key *k;
    cl_status st = ckks_switch_key_alloc(p, &k);
    if (st != CL_OK)
        return st;
    k->galois = galois;
    memcpy(k->seed, *r, RING_SEED_BYTES);
    *r += RING_SEED_BYTES;
    for (size_t j = 0; j < k->digits; j++)
        if (!unpack_limbs(p, r, 0, p->qp_count, k->b + j * p->qp_count * p->n)) {
            ckks_switch_key_free(k);
            return CL_ERR_FORMAT;
        }
    ckks_switch_key_expand(k);
    *out = k;
    return CL_OK;
}

cl_status ckks_eval_keys_serialize(const ckks_eval_keys *keys, uint8_t *buf, size_t cap, size_t *len)
{
    if (!keys || !keys->params || keys->galois_count > UINT32_MAX)
        return CL_ERR_INVALID;
    const ckks_params *p = keys->params;
    const size_t kb = switch_key_bytes(p);
    const size_t total = header_size(true) + EK_FIXED + (keys->relin ? kb : 0) + keys->galois_count * (8 + kb) +
                         SER_SUM;
    bool size_only;
    cl_status st = begin_write(buf, cap, len, total, &size_only);
    if (st != CL_OK || size_only)
        return st;
    uint8_t *w = write_header(buf, MAGIC_EK, total, p);
    w[0] = keys->relin ? 1 : 0;
    w[1] = 0;
    put_u16(w + 2, 0);
    put_u32(w + 4, (uint32_t)keys->galois_count);
    w += EK_FIXED;
    if (keys->relin)
        w = write_switch_key(keys->relin, w);
    for (size_t i = 0; i < keys->galois_count; i++) {
        put_u64(w, keys->galois[i]->galois);
        w = write_switch_key(keys->galois[i], w + 8);
    }
    write_checksum(buf, total);
    *len = total;
    return CL_OK;
}

cl_status ckks_eval_keys_deserialize(const ckks_params *params, const uint8_t *buf, size_t len,
                                     ckks_eval_keys **out)
{
    if (!params || !buf || !out)
        return CL_ERR_INVALID;
    const uint8_t *b;
    size_t blen;
    cl_status st = read_header(buf, len, MAGIC_EK, params, &b, &blen);
    if (st != CL_OK)
        return st;
    if (blen < EK_FIXED)
        return CL_ERR_FORMAT;
    const unsigned relin = b[0], reserved = b[1] | (unsigned)get_u16(b + 2);
    const uint32_t count = get_u32(b + 4);
    /* Distinct odd elements of (Z/2N)^*, the identity excluded: at most N-1. */
    if (relin > 1 || reserved != 0 || count > params->n - 1)
        return CL_ERR_FORMAT;
    const size_t kb = switch_key_bytes(params), gb = 8 + kb;
    const size_t fixed = EK_FIXED + (relin ? kb : 0);
    if (blen < fixed || (blen - fixed) / gb != count || (blen - fixed) % gb != 0)
        return CL_ERR_FORMAT;
    /* Galois elements: odd, in (1, 2N), strictly increasing. */
    const uint8_t *g0 = b + fixed;
    uint64_t prev = 1;
    for (uint32_t i = 0; i < count; i++) {
        const uint64_t g = get_u64(g0 + (size_t)i * gb);
        if (!(g & 1) || g <= prev || g >= 2 * (uint64_t)params->n)
            return CL_ERR_FORMAT;
        prev = g;
    }

    ckks_eval_keys *keys = calloc(1, sizeof *keys);
    if (!keys)
        return CL_ERR_NOMEM;
    keys->params = params;
    keys->galois = calloc(count ? count : 1, sizeof *keys->galois);
    if (!keys->galois) {
        ckks_eval_keys_free(keys);
        return CL_ERR_NOMEM;
    }
    const uint8_t *r = b + EK_FIXED;
    if (relin && (st = read_switch_key(params, 0, &r, &keys->relin)) != CL_OK)
        goto fail;
    for (uint32_t i = 0; i < count; i++) {
        const uint64_t g = get_u64(r);
        r += 8;
        if ((st = read_switch_key(params, g, &r, &keys->galois[i])) != CL_OK)
            goto fail;
        keys->galois_count = (size_t)i + 1;
    }
    *out = keys;
    return CL_OK;
fail:
    ckks_eval_keys_free(keys);
    return st;
}

/* -------------------------------------------------------------- secret key */

/* n coefficients at 2 bits each, four to a byte, LSB first:
 * 0 -> 00, 1 -> 01, -1 -> 10 (11 is invalid). No branch on key data. */
static size_t secret_bytes(const ckks_params *p)
{
    return (p->n + 3) / 4;
}

cl_status ckks_secret_key_serialize(const ckks_secret_key *sk, uint8_t *buf, size_t cap, size_t *len)
{
    if (!sk || !sk->params)
        return CL_ERR_INVALID;
    const ckks_params *p = sk->params;
    const size_t total = header_size(true) + secret_bytes(p) + SER_SUM;
    bool size_only;
    cl_status st = begin_write(buf, cap, len, total, &size_only);
    if (st != CL_OK || size_only)
        return st;
    uint8_t *w = write_header(buf, MAGIC_SK, total, p);
    memset(w, 0, secret_bytes(p));
    for (size_t k = 0; k < p->n; k++) {
        const uint8_t u = (uint8_t)sk->coeffs[k];
        const uint8_t neg = u >> 7;
        const uint8_t code = (uint8_t)((u & 1 & (neg ^ 1)) | (neg << 1));
        w[k / 4] |= (uint8_t)(code << (2 * (k % 4)));
    }
    write_checksum(buf, total);
    *len = total;
    return CL_OK;
}

cl_status ckks_secret_key_deserialize(const ckks_params *params, const uint8_t *buf, size_t len,
                                      ckks_secret_key **out)
{
    if (!params || !buf || !out)
        return CL_ERR_INVALID;
    const uint8_t *b;
    size_t blen;
    cl_status st = read_header(buf, len, MAGIC_SK, params, &b, &blen);
    if (st != CL_OK)
        return st;
    const size_t n = params->n;
    if (blen != secret_bytes(params))
        return CL_ERR_FORMAT;
    int8_t *coeffs = malloc(n);
    if (!coeffs)
        return CL_ERR_NOMEM;
    uint8_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        const uint8_t code = (uint8_t)((b[k / 4] >> (2 * (k % 4))) & 3);
        bad |= (uint8_t)(code & (code >> 1));
        coeffs[k] = (int8_t)((int)(code & 1) - (int)(code >> 1));
    }
    /* padding bits of a last partial byte (none when 4 divides n) */
    for (size_t k = n; k < 4 * secret_bytes(params); k++)
        bad |= (uint8_t)((b[k / 4] >> (2 * (k % 4))) & 3);
    st = CL_ERR_FORMAT;
    if (!bad)
        st = ckks_secret_key_from_coeffs(params, coeffs, out);
    sodium_memzero(coeffs, n);
    free(coeffs);
    return st;
}
