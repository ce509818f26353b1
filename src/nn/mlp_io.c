/* (De)serialization of a plain MLP: a fixed little-endian layout (the
 * network block described in include/cipherl/nn.h),
 *   version 3: u32 NN_MLP_FORMAT_MAGIC, u32 version, u32 n_layers,
 *              u32 hidden_act, u32 out_act, f64 act_bound, f64 squash_bound,
 *              u32 sizes[n_layers + 1], f64 params[n_params]
 *   version 2: the same without squash_bound (read only; no NN_ACT_SQUASH3/5)
 *   version 1: u32 n_layers, u32 hidden_act, u32 out_act, u32 sizes[n_layers + 1],
 *              f64 params[n_params]   (read only; no NN_ACT_POLY2)
 * (IEEE 754 bit patterns for doubles), read back with every length and value
 * checked. */
#include <math.h>
#include <string.h>

#include "cipherl/nn.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static void put_f64(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static double get_f64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static int bound_ok(double b) { return isfinite(b) && b > 0.0; }

size_t nn_mlp_serialized_size(const nn_mlp *net)
{
    return 4 * (5 + (size_t)net->n_layers + 1) + 8 + 8 + 8 * net->n_params;
}

cl_status nn_mlp_serialize(const nn_mlp *net, uint8_t *buf, size_t cap, size_t *written)
{
    if (!net || !buf)
        return CL_ERR_INVALID;
    if ((unsigned)net->hidden_act > NN_ACT_POLY2 || (unsigned)net->out_act > NN_ACT_SQUASH5)
        return CL_ERR_INVALID;
    int poly = nn_mlp_uses_poly2(net), squash = nn_mlp_uses_squash(net);
    if ((poly && !bound_ok(net->act_bound)) || (squash && !bound_ok(net->squash_bound)))
        return CL_ERR_INVALID;
    size_t need = nn_mlp_serialized_size(net);
    if (cap < need)
        return CL_ERR_INVALID;
    uint8_t *p = buf;
    put_u32(p, NN_MLP_FORMAT_MAGIC); p += 4;
    put_u32(p, NN_MLP_FORMAT_VERSION); p += 4;
    put_u32(p, (uint32_t)net->n_layers); p += 4;
    put_u32(p, (uint32_t)net->hidden_act); p += 4;
    put_u32(p, (uint32_t)net->out_act); p += 4;
    put_f64(p, poly ? net->act_bound : 0.0); p += 8;
    put_f64(p, squash ? net->squash_bound : 0.0); p += 8;
    for (int l = 0; l <= net->n_layers; l++) {
        put_u32(p, (uint32_t)net->sizes[l]);
        p += 4;
    }
    for (size_t i = 0; i < net->n_params; i++, p += 8)
        put_f64(p, net->params[i]);
    if (written)
        *written = need;
    return CL_OK;
}

cl_status nn_mlp_deserialize(const uint8_t *buf, size_t len, size_t *consumed, nn_mlp **out)
{
    if (!buf || !out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (len < 4)
        return CL_ERR_TRUNCATED;
    uint32_t first = get_u32(buf), n_layers, hact, oact;
    double bound = 0.0, sbound = 0.0;
    size_t pos;
    if (first == NN_MLP_FORMAT_MAGIC) {
        if (len < 8)
            return CL_ERR_TRUNCATED;
        const uint32_t version = get_u32(buf + 4);
        if (version != 2 && version != NN_MLP_FORMAT_VERSION)
            return CL_ERR_VERSION;
        pos = version == 2 ? 28 : 36;
        if (len < pos)
            return CL_ERR_TRUNCATED;
        n_layers = get_u32(buf + 8);
        hact = get_u32(buf + 12);
        oact = get_u32(buf + 16);
        bound = get_f64(buf + 20);
        if (version >= 3)
            sbound = get_f64(buf + 28);
        /* hidden: up to POLY2; output: up to SQUASH5 (POLY2 in version 2) */
        if (hact > NN_ACT_POLY2 || oact > (version == 2 ? NN_ACT_POLY2 : NN_ACT_SQUASH5))
            return CL_ERR_FORMAT;
        if (hact == NN_ACT_POLY2 || oact == NN_ACT_POLY2 ? !bound_ok(bound) : bound != 0.0)
            return CL_ERR_FORMAT;
        if (oact == NN_ACT_SQUASH3 || oact == NN_ACT_SQUASH5 ? !bound_ok(sbound) : sbound != 0.0)
            return CL_ERR_FORMAT;
    } else {
        /* version 1: the first word is the layer count */
        if (first < 1 || first > NN_MLP_MAX_LAYERS)
            return CL_ERR_FORMAT;
        if (len < 12)
            return CL_ERR_TRUNCATED;
        n_layers = first;
        hact = get_u32(buf + 4);
        oact = get_u32(buf + 8);
        pos = 12;
        if (hact > NN_ACT_TANH || oact > NN_ACT_TANH)
            return CL_ERR_FORMAT;
    }
    if (n_layers < 1 || n_layers > NN_MLP_MAX_LAYERS)
        return CL_ERR_FORMAT;
    if (len - pos < 4 * ((size_t)n_layers + 1))
        return CL_ERR_TRUNCATED;
    int sizes[NN_MLP_MAX_LAYERS + 1];
    for (uint32_t l = 0; l <= n_layers; l++, pos += 4) {
        uint32_t s = get_u32(buf + pos);
        if (s < 1 || s > NN_MLP_MAX_WIDTH)
            return CL_ERR_FORMAT;
        sizes[l] = (int)s;
    }
    size_t n_params = 0;
    for (uint32_t l = 0; l < n_layers; l++)
        n_params += (size_t)sizes[l] * (size_t)sizes[l + 1] + (size_t)sizes[l + 1];
    if ((len - pos) / 8 < n_params)
        return CL_ERR_TRUNCATED;
    nn_mlp *net;
    cl_status st = nn_mlp_create(sizes[0], sizes + 1, (int)n_layers - 1, sizes[n_layers],
                                 (nn_act)hact, (nn_act)oact, &net);
    if (st != CL_OK)
        return st == CL_ERR_INVALID ? CL_ERR_FORMAT : st;
    net->act_bound = bound;
    net->squash_bound = sbound;
    for (size_t i = 0; i < n_params; i++, pos += 8) {
        double d = get_f64(buf + pos);
        if (!isfinite(d)) {
            nn_mlp_free(net);
            return CL_ERR_FORMAT;
        }
        net->params[i] = d;
    }
    if (consumed)
        *consumed = pos;
    *out = net;
    return CL_OK;
}
