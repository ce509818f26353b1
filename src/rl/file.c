/* Whole-file reading and crash-safe writing for the rl layer's files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl/bytes_internal.h"

cl_status rl_file_read(const char *path, size_t max_len, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return CL_ERR_IO;
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    cl_status st = b ? CL_OK : CL_ERR_NOMEM;
    while (st == CL_OK) {
        if (n == cap) {
            if (cap > max_len) {
                st = CL_ERR_FORMAT;
                break;
            }
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                st = CL_ERR_NOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (st == CL_OK && ferror(f))
        st = CL_ERR_IO;
    if (st == CL_OK && n > max_len)
        st = CL_ERR_FORMAT;
    fclose(f);
    if (st != CL_OK) {
        free(b);
        return st;
    }
    *buf = b;
    *len = n;
    return CL_OK;
}

cl_status rl_file_write_atomic(const char *path, const uint8_t *buf, size_t len)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 5);
    if (!tmp)
        return CL_ERR_NOMEM;
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(tmp);
        return CL_ERR_IO;
    }
    int ok = fwrite(buf, 1, len, f) == len;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return CL_ERR_IO;
    }
    free(tmp);
    return CL_OK;
}
