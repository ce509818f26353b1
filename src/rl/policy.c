/* Deterministic policies and the model file format.
 *
 * Model file (all integers little-endian):
 *   "CIPHERLM"            8 bytes magic
 *   u32 version           RL_MODEL_VERSION (3; 2 and 1 are still read)
 *   u32 algo              rl_algo
 *   u32 id_len, id bytes  environment id (1..63 bytes, no NUL)
 *   u32 obs_dim, u32 action_kind, u32 n_actions, u32 action_dim
 *   f64 action_low, f64 action_high
 *   u64 net_len, net      nn_mlp_serialize's bytes: the network block of
 *                         the file's version: 3 (NN_MLP_FORMAT_VERSION, with
 *                         the activation and squash bounds) in a version 3
 *                         file, 2 (activation bound only) in a version 2
 *                         file, 1 (no magic, no bound) in a version 1 file
 *   u64 checksum          FNV-1a 64 of every byte before it
 * Loading checks lengths first (CL_ERR_TRUNCATED, or CL_ERR_FORMAT for
 * trailing bytes), then the checksum, then that everything agrees with the
 * environment's spaces. The hidden activation is ReLU or NN_ACT_POLY2 (the
 * HE networks'); the output is the identity (DQN's Q-values), or for TD3's
 * actor tanh or HE-TD3's polynomial squash NN_ACT_SQUASH3/5. A TD3 action is
 * the output clipped to [-1, 1] (a squash leaves it past its bound; tanh
 * never does), then rescaled to the action bounds, as HE-TD3's owner acts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl/agent_internal.h"
#include "rl/bytes_internal.h"

static const char MAGIC[8] = {'C', 'I', 'P', 'H', 'E', 'R', 'L', 'M'};

/* Whether net can be algo's policy network in the environment spec. */
static cl_status check_net(rl_algo algo, const rl_env_spec *spec, const nn_mlp *net)
{
    if (algo != RL_ALGO_DQN && algo != RL_ALGO_TD3)
        return CL_ERR_INVALID;
    if ((algo == RL_ALGO_DQN) != (spec->action_kind == RL_ACTION_DISCRETE))
        return CL_ERR_UNSUPPORTED;
    int outs = algo == RL_ALGO_DQN ? spec->n_actions : spec->action_dim;
    if (nn_mlp_inputs(net) != spec->obs_dim || nn_mlp_outputs(net) != outs)
        return CL_ERR_PARAMS;
    if (net->hidden_act != NN_ACT_RELU && net->hidden_act != NN_ACT_POLY2)
        return CL_ERR_PARAMS;
    if (algo == RL_ALGO_DQN ? net->out_act != NN_ACT_IDENTITY
                            : (net->out_act != NN_ACT_TANH && !nn_mlp_uses_squash(net)))
        return CL_ERR_PARAMS;
    if (nn_mlp_uses_poly2(net) && !(isfinite(net->act_bound) && net->act_bound > 0.0))
        return CL_ERR_PARAMS;
    if (nn_mlp_uses_squash(net) && !(isfinite(net->squash_bound) && net->squash_bound > 0.0))
        return CL_ERR_PARAMS;
    return CL_OK;
}

cl_status rl_policy_wrap(rl_algo algo, const rl_env_spec *spec, nn_mlp *net, int owns_net,
                         rl_policy *pol)
{
    memset(pol, 0, sizeof *pol);
    if (strlen(spec->id) >= sizeof pol->env_id)
        return CL_ERR_INVALID;
    pol->algo = algo;
    pol->spec = spec;
    strcpy(pol->env_id, spec->id);
    pol->net = net;
    pol->owns_net = owns_net;
    cl_status st = nn_mlp_ws_create(net, 1, &pol->ws);
    if (st != CL_OK)
        return st;
    return CL_OK;
}

void rl_policy_release(rl_policy *pol)
{
    nn_mlp_ws_free(pol->ws);
    if (pol->owns_net)
        nn_mlp_free(pol->net);
    pol->ws = NULL;
    pol->net = NULL;
}

void rl_policy_free(rl_policy *pol)
{
    if (!pol)
        return;
    rl_policy_release(pol);
    free(pol);
}

const char *rl_policy_env_id(const rl_policy *pol) { return pol->env_id; }
rl_algo rl_policy_algo(const rl_policy *pol) { return pol->algo; }
const nn_mlp *rl_policy_network(const rl_policy *pol) { return pol ? pol->net : NULL; }

cl_status rl_policy_act(rl_policy *pol, const double *obs, double *action)
{
    if (!pol || !obs || !action)
        return CL_ERR_INVALID;
    const double *y = nn_mlp_forward(pol->net, pol->ws, obs, 1);
    if (!y)
        return CL_ERR_STATE;
    const rl_env_spec *s = pol->spec;
    if (pol->algo == RL_ALGO_DQN) {
        int best = 0;
        for (int a = 1; a < s->n_actions; a++)
            if (y[a] > y[best])
                best = a;
        action[0] = (double)best;
    } else {
        /* clipped to [-1, 1] (a no-op for tanh, not for a squash), then rescaled */
        rl_env_unscale_action(s, y, action);
    }
    return CL_OK;
}

cl_status rl_policy_evaluate(rl_policy *pol, rl_env *env, rl_rng *rng, int episodes,
                             double *returns)
{
    if (!pol || !env || !rng || episodes < 0 || (episodes > 0 && !returns))
        return CL_ERR_INVALID;
    if (strcmp(rl_env_get_spec(env)->id, pol->env_id))
        return CL_ERR_PARAMS;
    double obs[RL_MAX_OBS], action[RL_MAX_ACT];
    for (int e = 0; e < episodes; e++) {
        rl_env_reset(env, rng, obs);
        double ret = 0.0;
        for (;;) {
            cl_status st = rl_policy_act(pol, obs, action);
            if (st != CL_OK)
                return st;
            double r;
            bool term, trunc;
            st = rl_env_step(env, action, obs, &r, &term, &trunc);
            if (st != CL_OK)
                return st;
            ret += r;
            if (term || trunc)
                break;
        }
        returns[e] = ret;
    }
    return CL_OK;
}

/* ------------------------------------------------------------ the file */

cl_status rl_policy_serialize(const rl_policy *pol, uint8_t **buf, size_t *len)
{
    if (!pol || !buf || !len)
        return CL_ERR_INVALID;
    const rl_env_spec *s = pol->spec;
    size_t id_len = strlen(pol->env_id);
    size_t net_len = nn_mlp_serialized_size(pol->net);
    size_t total = 8 + 4 + 4 + 4 + id_len + 16 + 16 + 8 + net_len + 8;
    uint8_t *b = malloc(total), *p = b;
    if (!b)
        return CL_ERR_NOMEM;
    memcpy(p, MAGIC, 8);
    p += 8;
    rl_put_u32(&p, RL_MODEL_VERSION);
    rl_put_u32(&p, (uint32_t)pol->algo);
    rl_put_u32(&p, (uint32_t)id_len);
    memcpy(p, pol->env_id, id_len);
    p += id_len;
    rl_put_u32(&p, (uint32_t)s->obs_dim);
    rl_put_u32(&p, (uint32_t)s->action_kind);
    rl_put_u32(&p, (uint32_t)s->n_actions);
    rl_put_u32(&p, (uint32_t)s->action_dim);
    rl_put_f64(&p, s->action_low);
    rl_put_f64(&p, s->action_high);
    rl_put_u64(&p, net_len);
    cl_status st = nn_mlp_serialize(pol->net, p, net_len, NULL);
    if (st != CL_OK) {
        free(b);
        return st;
    }
    p += net_len;
    rl_put_u64(&p, rl_fnv1a64(b, (size_t)(p - b)));
    *buf = b;
    *len = total;
    return CL_OK;
}

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

cl_status rl_policy_deserialize(const uint8_t *buf, size_t len, rl_policy **out)
{
    if (!out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (!buf)
        return CL_ERR_INVALID;
    if (len < 8)
        return len && memcmp(buf, MAGIC, len) ? CL_ERR_FORMAT : CL_ERR_TRUNCATED;
    if (memcmp(buf, MAGIC, 8))
        return CL_ERR_FORMAT;
    if (len < 12)
        return CL_ERR_TRUNCATED;
    uint32_t version = rl_get_u32(buf + 8);
    if (version < 1 || version > RL_MODEL_VERSION)
        return CL_ERR_VERSION;
    if (len < 20)
        return CL_ERR_TRUNCATED;
    uint32_t algo = rl_get_u32(buf + 12), id_len = rl_get_u32(buf + 16);
    if (id_len < 1 || id_len > 63)
        return CL_ERR_FORMAT;
    size_t pos = 20;
    if (len - pos < (size_t)id_len + 16 + 16 + 8)
        return CL_ERR_TRUNCATED;
    char id[64];
    memcpy(id, buf + pos, id_len);
    id[id_len] = 0;
    pos += id_len;
    uint32_t obs_dim = rl_get_u32(buf + pos), kind = rl_get_u32(buf + pos + 4);
    uint32_t n_actions = rl_get_u32(buf + pos + 8), action_dim = rl_get_u32(buf + pos + 12);
    double low = rl_get_f64(buf + pos + 16), high = rl_get_f64(buf + pos + 24);
    pos += 32;
    uint64_t net_len = rl_get_u64(buf + pos);
    pos += 8;
    if (net_len > len - pos || len - pos - net_len < 8)
        return CL_ERR_TRUNCATED;
    if (len - pos - net_len > 8)
        return CL_ERR_FORMAT;
    if (rl_get_u64(buf + len - 8) != rl_fnv1a64(buf, len - 8))
        return CL_ERR_CHECKSUM;
    /* the content must agree with the environment as this build knows it */
    const rl_env_spec *spec = rl_env_find(id);
    if (!spec || (algo != RL_ALGO_DQN && algo != RL_ALGO_TD3) ||
        obs_dim != (uint32_t)spec->obs_dim || kind != (uint32_t)spec->action_kind ||
        (algo == RL_ALGO_DQN) != (spec->action_kind == RL_ACTION_DISCRETE))
        return CL_ERR_FORMAT;
    if (spec->action_kind == RL_ACTION_DISCRETE ? n_actions != (uint32_t)spec->n_actions
                                                : (action_dim != (uint32_t)spec->action_dim ||
                                                   !same_double(low, spec->action_low) ||
                                                   !same_double(high, spec->action_high)))
        return CL_ERR_FORMAT;
    /* the network block's own version goes with the file's: none (version 1)
     * or the same number */
    if (net_len < 4 || (rl_get_u32(buf + pos) == NN_MLP_FORMAT_MAGIC) != (version >= 2) ||
        (version >= 2 && (net_len < 8 || rl_get_u32(buf + pos + 4) != version)))
        return CL_ERR_FORMAT;
    nn_mlp *net;
    size_t used;
    cl_status st = nn_mlp_deserialize(buf + pos, (size_t)net_len, &used, &net);
    if (st != CL_OK)
        return st == CL_ERR_TRUNCATED || st == CL_ERR_VERSION ? CL_ERR_FORMAT : st;
    if (used != net_len || check_net((rl_algo)algo, spec, net) != CL_OK) {
        nn_mlp_free(net);
        return CL_ERR_FORMAT;
    }
    rl_policy *pol = malloc(sizeof *pol);
    if (!pol) {
        nn_mlp_free(net);
        return CL_ERR_NOMEM;
    }
    st = rl_policy_wrap((rl_algo)algo, spec, net, 1, pol);
    if (st != CL_OK) {
        nn_mlp_free(net);
        free(pol);
        return st;
    }
    *out = pol;
    return CL_OK;
}

cl_status rl_policy_load(const char *path, rl_policy **out)
{
    if (!out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (!path)
        return CL_ERR_INVALID;
    uint8_t *buf;
    size_t len;
    cl_status rs = rl_file_read(path, (size_t)1 << 31, &buf, &len);
    if (rs != CL_OK)
        return rs;
    cl_status st = rl_policy_deserialize(buf, len, out);
    free(buf);
    return st;
}

cl_status rl_policy_from_mlp(rl_algo algo, const char *env_id, nn_mlp *net, rl_policy **out)
{
    if (!out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (!env_id || !net)
        return CL_ERR_INVALID;
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec)
        return CL_ERR_INVALID;
    cl_status st = check_net(algo, spec, net);
    if (st != CL_OK)
        return st;
    /* a model file holds finite parameters only */
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(net->params[i]))
            return CL_ERR_INVALID;
    rl_policy *pol = malloc(sizeof *pol);
    if (!pol)
        return CL_ERR_NOMEM;
    st = rl_policy_wrap(algo, spec, net, 1, pol);
    if (st != CL_OK) {
        pol->owns_net = 0; /* on failure the caller keeps net */
        rl_policy_release(pol);
        free(pol);
        return st;
    }
    *out = pol;
    return CL_OK;
}

cl_status rl_policy_save(const rl_policy *pol, const char *path)
{
    if (!pol || !path)
        return CL_ERR_INVALID;
    uint8_t *buf;
    size_t len;
    cl_status st = rl_policy_serialize(pol, &buf, &len);
    if (st != CL_OK)
        return st;
    st = rl_file_write_atomic(path, buf, len);
    free(buf);
    return st;
}
