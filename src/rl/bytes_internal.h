/* Little-endian byte writing and reading and the FNV-1a 64 checksum, shared
 * by the rl layer's file formats (model files, training checkpoints). Rl
 * layer internal, not installed. */
#ifndef CIPHERL_RL_BYTES_INTERNAL_H
#define CIPHERL_RL_BYTES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cipherl/common.h"

/* Reads the whole file at path into *buf (malloc'ed; the caller frees) and
 * its length into *len. CL_ERR_IO if it cannot be opened or read,
 * CL_ERR_FORMAT if it is longer than max_len bytes, CL_ERR_NOMEM. */
cl_status rl_file_read(const char *path, size_t max_len, uint8_t **buf, size_t *len);
/* Writes len bytes to path so that a crash leaves either the old file or the
 * new one, never half of one: to "path.tmp", flushed to the disk, then
 * renamed over path. CL_ERR_IO, CL_ERR_NOMEM. */
cl_status rl_file_write_atomic(const char *path, const uint8_t *buf, size_t len);

static inline uint64_t rl_fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static inline void rl_put_u32(uint8_t **p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        (*p)[i] = (uint8_t)(v >> (8 * i));
    *p += 4;
}

static inline void rl_put_u64(uint8_t **p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        (*p)[i] = (uint8_t)(v >> (8 * i));
    *p += 8;
}

static inline void rl_put_f64(uint8_t **p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    rl_put_u64(p, v);
}

static inline uint32_t rl_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t rl_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline double rl_get_f64(const uint8_t *p)
{
    uint64_t v = rl_get_u64(p);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

#endif
