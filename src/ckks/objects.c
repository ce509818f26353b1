/* Plaintext and ciphertext objects: creation, sizing, accessors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"

cl_status ckks_plaintext_create(const ckks_params *params, ckks_plaintext **out)
{
    if (!params || !out)
        return CL_ERR_INVALID;
    ckks_plaintext *pt = calloc(1, sizeof *pt);
    if (!pt)
        return CL_ERR_NOMEM;
    pt->params = params;
    pt->level = -1; /* empty */
    pt->scale = 1.0;
    pt->slots = params->n / 2;
    *out = pt;
    return CL_OK;
}

void ckks_plaintext_free(ckks_plaintext *pt)
{
    if (!pt)
        return;
    free(pt->data);
    free(pt);
}

cl_status ckks_plaintext_reserve(ckks_plaintext *pt, int level)
{
    size_t limbs = (size_t)level + 1;
    if (limbs > pt->cap_limbs) {
        uint64_t *d = realloc(pt->data, limbs * pt->params->n * sizeof *d);
        if (!d)
            return CL_ERR_NOMEM;
        pt->data = d;
        pt->cap_limbs = limbs;
    }
    return CL_OK;
}

int ckks_plaintext_level(const ckks_plaintext *pt) { return pt ? pt->level : -1; }
double ckks_plaintext_scale(const ckks_plaintext *pt) { return pt ? pt->scale : 0; }
size_t ckks_plaintext_slots(const ckks_plaintext *pt) { return pt ? pt->slots : 0; }

cl_status ckks_ciphertext_create(const ckks_params *params, ckks_ciphertext **out)
{
    if (!params || !out)
        return CL_ERR_INVALID;
    ckks_ciphertext *ct = calloc(1, sizeof *ct);
    if (!ct)
        return CL_ERR_NOMEM;
    ct->params = params;
    ct->level = -1; /* empty */
    ct->size = 2;
    ct->scale = 1.0;
    ct->slots = params->n / 2;
    *out = ct;
    return CL_OK;
}

void ckks_ciphertext_free(ckks_ciphertext *ct)
{
    if (!ct)
        return;
    for (int i = 0; i < 3; i++)
        free(ct->poly[i]);
    free(ct);
}

cl_status ckks_ciphertext_reserve(ckks_ciphertext *ct, int level, int size)
{
    size_t limbs = (size_t)level + 1;
    if (limbs > ct->cap_limbs) {
        for (int i = 0; i < 3; i++) {
            free(ct->poly[i]);
            ct->poly[i] = NULL;
        }
        ct->cap_limbs = 0;
    }
    const size_t bytes = (limbs > ct->cap_limbs ? limbs : ct->cap_limbs) * ct->params->n * sizeof(uint64_t);
    for (int i = 0; i < size; i++)
        if (!ct->poly[i] && !(ct->poly[i] = malloc(bytes)))
            return CL_ERR_NOMEM;
    if (limbs > ct->cap_limbs)
        ct->cap_limbs = limbs;
    return CL_OK;
}

cl_status ckks_ciphertext_copy(ckks_ciphertext *dst, const ckks_ciphertext *src)
{
    if (!dst || !src || src->level < 0)
        return CL_ERR_INVALID;
    if (dst->params != src->params)
        return CL_ERR_PARAMS;
    if (dst == src)
        return CL_OK;
    cl_status st = ckks_ciphertext_reserve(dst, src->level, src->size);
    if (st != CL_OK)
        return st;
    const size_t len = (size_t)(src->level + 1) * src->params->n;
    for (int i = 0; i < src->size; i++)
        memcpy(dst->poly[i], src->poly[i], len * sizeof(uint64_t));
    dst->level = src->level;
    dst->size = src->size;
    dst->scale = src->scale;
    dst->slots = src->slots;
    dst->seeded = src->seeded;
    memcpy(dst->seed, src->seed, sizeof dst->seed);
    return CL_OK;
}

int ckks_ciphertext_level(const ckks_ciphertext *ct) { return ct ? ct->level : -1; }
double ckks_ciphertext_scale(const ckks_ciphertext *ct) { return ct ? ct->scale : 0; }
size_t ckks_ciphertext_slots(const ckks_ciphertext *ct) { return ct ? ct->slots : 0; }
int ckks_ciphertext_size(const ckks_ciphertext *ct) { return ct ? ct->size : 0; }
bool ckks_ciphertext_is_seeded(const ckks_ciphertext *ct) { return ct && ct->seeded; }

cl_status ckks_ciphertext_set_scale(ckks_ciphertext *ct, double scale)
{
    if (!ct || !(scale > 0) || !isfinite(scale))
        return CL_ERR_INVALID;
    ct->scale = scale;
    return CL_OK;
}

cl_status ckks_ciphertext_set_slots(ckks_ciphertext *ct, size_t slots)
{
    if (!ct || slots == 0 || (slots & (slots - 1)) || slots > ct->params->n / 2)
        return CL_ERR_INVALID;
    ct->slots = slots;
    return CL_OK;
}
