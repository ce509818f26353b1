/* Training checkpoints (rl.h): the whole state of a plain DQN or TD3 run,
 * written so that a run stopped at any step goes on bit for bit as if it
 * had not stopped. The layout, after the "CIPHERLC" magic and the version,
 * little-endian:
 *
 *   u32 algo, u32 n + environment id, u32 n + hyperparameters as
 *   rl_hp_format writes them (read back through rl_hp_assign, which gives
 *   the same doubles: the format prints them exactly),
 *   4 x u64 agent generator, 4 x u64 environment generator,
 *   i64 total_steps, num_timesteps, n_calls, episodes, grad_steps,
 *   n_updates, rollout_steps, ep_len, f64 ep_ret, exploration_rate,
 *   u32 obs_dim, u32 act_dim, f64 obs[obs_dim], f64 ou[act_dim],
 *   u32 state_dim, f64 state[state_dim], u32 has_state, done_before,
 *   elapsed (the environment),
 *   u32 n_nets, then per network u64 n + f64 params[n] (DQN: Q, target;
 *   TD3: actor, actor target, critics 1 and 2, their targets),
 *   u32 n_opts, then per Adam u64 n, i64 t, f64 m[n], f64 v[n] (DQN: Q;
 *   TD3: actor, critics 1 and 2),
 *   u64 capacity, size, pos, then the size stored transitions: f64
 *   obs[size][obs_dim], next_obs[size][obs_dim], act[size][act_dim],
 *   rew[size], done[size],
 *   u64 n + the caller's block,
 *   u64 FNV-1a 64 of all the bytes before it.
 *
 * Reading builds a fresh agent from the hyperparameters (so every size is
 * the one the code would allocate) and then overwrites its state; every
 * count read is checked against that agent before it is used. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rl/agent_internal.h"
#include "rl/bytes_internal.h"
#include "rl/env_internal.h"

static const char MAGIC[8] = {'C', 'I', 'P', 'H', 'E', 'R', 'L', 'C'};
#define MAX_HP_TEXT 4096
#define MAX_FILE ((size_t)1 << 40)

/* the networks and optimizers of an agent, in file order */
static int agent_nets(const rl_agent *ag, nn_mlp **nets)
{
    if (ag->hp.algo == RL_ALGO_DQN) {
        nets[0] = ag->q;
        nets[1] = ag->q_target;
        return 2;
    }
    nets[0] = ag->actor;
    nets[1] = ag->actor_target;
    nets[2] = ag->critic[0];
    nets[3] = ag->critic[1];
    nets[4] = ag->critic_target[0];
    nets[5] = ag->critic_target[1];
    return 6;
}

static int agent_opts(const rl_agent *ag, nn_adam **opts)
{
    if (ag->hp.algo == RL_ALGO_DQN) {
        opts[0] = ag->q_opt;
        return 1;
    }
    opts[0] = ag->actor_opt;
    opts[1] = ag->critic_opt[0];
    opts[2] = ag->critic_opt[1];
    return 3;
}

/* ------------------------------------------------------------ writing */

/* With p == NULL it only counts the bytes. */
typedef struct writer {
    uint8_t *p;
    size_t n;
} writer;

static void w_u32(writer *w, uint32_t v)
{
    if (w->p)
        rl_put_u32(&w->p, v);
    w->n += 4;
}

static void w_u64(writer *w, uint64_t v)
{
    if (w->p)
        rl_put_u64(&w->p, v);
    w->n += 8;
}

static void w_f64s(writer *w, const double *v, size_t n)
{
    if (w->p)
        for (size_t i = 0; i < n; i++)
            rl_put_f64(&w->p, v[i]);
    w->n += 8 * n;
}

static void w_bytes(writer *w, const void *b, size_t n)
{
    if (w->p && n) {
        memcpy(w->p, b, n);
        w->p += n;
    }
    w->n += n;
}

static void write_all(writer *w, const rl_agent *ag, const rl_env *env, const rl_rng *env_rng,
                      const char *hp_text, const void *user, size_t user_len)
{
    const size_t od = (size_t)ag->obs_dim, ad = (size_t)ag->act_dim;
    w_bytes(w, MAGIC, 8);
    w_u32(w, RL_CHECKPOINT_VERSION);
    w_u32(w, (uint32_t)ag->hp.algo);
    w_u32(w, (uint32_t)strlen(ag->spec->id));
    w_bytes(w, ag->spec->id, strlen(ag->spec->id));
    w_u32(w, (uint32_t)strlen(hp_text));
    w_bytes(w, hp_text, strlen(hp_text));
    for (int i = 0; i < 4; i++)
        w_u64(w, ag->rng.s[i]);
    for (int i = 0; i < 4; i++)
        w_u64(w, env_rng->s[i]);
    const int64_t counters[8] = {ag->total_steps, ag->num_timesteps, ag->n_calls,
                                 ag->episodes,    ag->grad_steps,    ag->n_updates,
                                 ag->rollout_steps, ag->ep_len};
    for (int i = 0; i < 8; i++)
        w_u64(w, (uint64_t)counters[i]);
    w_f64s(w, &ag->ep_ret, 1);
    w_f64s(w, &ag->exploration_rate, 1);
    w_u32(w, (uint32_t)od);
    w_u32(w, (uint32_t)ad);
    w_f64s(w, ag->obs, od);
    w_f64s(w, ag->ou, ad);

    rl_env_raw raw;
    rl_env_raw_get(env, &raw);
    w_u32(w, (uint32_t)ag->spec->state_dim);
    w_f64s(w, raw.s, (size_t)ag->spec->state_dim);
    w_u32(w, raw.has_state);
    w_u32(w, raw.done_before);
    w_u32(w, (uint32_t)raw.elapsed);

    nn_mlp *nets[6];
    int nn = agent_nets(ag, nets);
    w_u32(w, (uint32_t)nn);
    for (int i = 0; i < nn; i++) {
        w_u64(w, nets[i]->n_params);
        w_f64s(w, nets[i]->params, nets[i]->n_params);
    }
    nn_adam *opts[3];
    int no = agent_opts(ag, opts);
    w_u32(w, (uint32_t)no);
    for (int i = 0; i < no; i++) {
        w_u64(w, opts[i]->n);
        w_u64(w, (uint64_t)opts[i]->t);
        w_f64s(w, opts[i]->m, opts[i]->n);
        w_f64s(w, opts[i]->v, opts[i]->n);
    }

    const rl_replay *rb = ag->rb;
    w_u64(w, rb->capacity);
    w_u64(w, rb->size);
    w_u64(w, rb->pos);
    w_f64s(w, rb->obs, rb->size * od);
    w_f64s(w, rb->next_obs, rb->size * od);
    w_f64s(w, rb->act, rb->size * ad);
    w_f64s(w, rb->rew, rb->size);
    w_f64s(w, rb->done, rb->size);

    w_u64(w, user_len);
    w_bytes(w, user, user_len);
}

cl_status rl_checkpoint_serialize(const rl_agent *ag, const rl_env *env, const rl_rng *env_rng,
                                  const void *user, size_t user_len, uint8_t **buf, size_t *len)
{
    if (!buf || !len)
        return CL_ERR_INVALID;
    *buf = NULL;
    *len = 0;
    if (!ag || !env || !env_rng || (user_len && !user))
        return CL_ERR_INVALID;
    if (!ag->begun)
        return CL_ERR_STATE;
    if (rl_env_get_spec(env) != ag->spec)
        return CL_ERR_PARAMS;
    char hp_text[MAX_HP_TEXT];
    if (rl_hp_format(&ag->hp, hp_text, sizeof hp_text) >= sizeof hp_text)
        return CL_ERR_INVALID;
    writer count = {NULL, 0};
    write_all(&count, ag, env, env_rng, hp_text, user, user_len);
    size_t total = count.n + 8;
    uint8_t *b = malloc(total);
    if (!b)
        return CL_ERR_NOMEM;
    writer w = {b, 0};
    write_all(&w, ag, env, env_rng, hp_text, user, user_len);
    rl_put_u64(&w.p, rl_fnv1a64(b, count.n));
    *buf = b;
    *len = total;
    return CL_OK;
}

/* ------------------------------------------------------------ reading */

/* Bounds-checked reader: once short, every read returns 0 and `shortage` stays set. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
    int shortage;
} reader;

static const uint8_t *r_bytes(reader *r, size_t n)
{
    if (r->shortage || r->left < n) {
        r->shortage = 1;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += n;
    r->left -= n;
    return q;
}

static uint32_t r_u32(reader *r)
{
    const uint8_t *q = r_bytes(r, 4);
    return q ? rl_get_u32(q) : 0;
}

static uint64_t r_u64(reader *r)
{
    const uint8_t *q = r_bytes(r, 8);
    return q ? rl_get_u64(q) : 0;
}

static int64_t r_i64(reader *r)
{
    return (int64_t)r_u64(r);
}

/* n doubles into v; 0 if short or one of them is not finite */
static int r_f64s(reader *r, double *v, size_t n)
{
    if (n > r->left / 8) {
        r->shortage = 1;
        return 0;
    }
    const uint8_t *q = r_bytes(r, 8 * n);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        v[i] = rl_get_f64(q + 8 * i);
        ok &= isfinite(v[i]) != 0;
    }
    return ok;
}

/* The hyperparameters from their text: defaults for (algo, env), then each
 * "name=value" in turn; the result must format back to the same text. */
static cl_status read_hparams(rl_algo algo, const char *env_id, const char *text, rl_hparams *hp)
{
    if (rl_hp_defaults(algo, env_id, hp) != CL_OK)
        return CL_ERR_FORMAT;
    char *copy = malloc(strlen(text) + 1);
    if (!copy)
        return CL_ERR_NOMEM;
    strcpy(copy, text);
    cl_status st = CL_OK;
    for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok && st == CL_OK;
         tok = strtok_r(NULL, " ", &save))
        if (rl_hp_assign(hp, tok, NULL, 0) != CL_OK)
            st = CL_ERR_FORMAT;
    free(copy);
    if (st != CL_OK)
        return st;
    if (rl_hp_check(hp, NULL, 0) != CL_OK)
        return CL_ERR_FORMAT;
    char again[MAX_HP_TEXT];
    if (rl_hp_format(hp, again, sizeof again) >= sizeof again || strcmp(again, text))
        return CL_ERR_FORMAT;
    return CL_OK;
}

/* Everything after the header, into a fresh agent and environment. */
static cl_status read_state(reader *r, rl_agent *ag, rl_env *env, rl_rng *env_rng,
                            uint8_t **user, size_t *user_len)
{
    const size_t od = (size_t)ag->obs_dim, ad = (size_t)ag->act_dim;
    rl_rng arng;
    for (int i = 0; i < 4; i++)
        arng.s[i] = r_u64(r);
    for (int i = 0; i < 4; i++)
        env_rng->s[i] = r_u64(r);
    int64_t c[8];
    for (int i = 0; i < 8; i++)
        c[i] = r_i64(r);
    double ep_ret, eps;
    int fin = r_f64s(r, &ep_ret, 1) & r_f64s(r, &eps, 1);
    uint32_t rod = r_u32(r), rad = r_u32(r);
    if (r->shortage)
        return CL_ERR_TRUNCATED;
    /* total, num_timesteps, n_calls, episodes, grad_steps, n_updates, rollout, ep_len */
    if (!fin || rod != od || rad != ad || c[0] < 1 || c[1] < 0 || c[1] > c[0] || c[2] < 0 ||
        c[3] < 0 || c[3] > c[1] || c[4] < 0 || c[5] < 0 || c[6] < 0 ||
        c[6] >= ag->hp.train_freq || c[7] < 0 || c[7] > c[1] || !(eps >= 0.0 && eps <= 1.0))
        return CL_ERR_FORMAT;
    ag->rng = arng;
    ag->total_steps = c[0];
    ag->num_timesteps = c[1];
    ag->n_calls = c[2];
    ag->episodes = c[3];
    ag->grad_steps = c[4];
    ag->n_updates = c[5];
    ag->rollout_steps = c[6];
    ag->ep_len = c[7];
    ag->ep_ret = ep_ret;
    ag->exploration_rate = eps;
    fin = r_f64s(r, ag->obs, od) & r_f64s(r, ag->ou, ad);

    rl_env_raw raw;
    memset(&raw, 0, sizeof raw);
    uint32_t sd = r_u32(r);
    if (r->shortage)
        return CL_ERR_TRUNCATED;
    if (!fin || sd != (uint32_t)ag->spec->state_dim)
        return CL_ERR_FORMAT;
    fin = r_f64s(r, raw.s, sd);
    uint32_t hs = r_u32(r), db = r_u32(r), el = r_u32(r);
    if (r->shortage)
        return CL_ERR_TRUNCATED;
    if (!fin || hs > 1 || db > 1 || el > (uint32_t)ag->spec->max_episode_steps || !hs)
        return CL_ERR_FORMAT;
    raw.has_state = hs;
    raw.done_before = db;
    raw.elapsed = (int)el;
    if (rl_env_raw_set(env, &raw) != CL_OK)
        return CL_ERR_FORMAT;

    nn_mlp *nets[6];
    int nn = agent_nets(ag, nets);
    uint32_t rn = r_u32(r);
    if (r->shortage)
        return CL_ERR_TRUNCATED;
    if (rn != (uint32_t)nn)
        return CL_ERR_FORMAT;
    for (int i = 0; i < nn; i++) {
        uint64_t n = r_u64(r);
        if (r->shortage)
            return CL_ERR_TRUNCATED;
        if (n != nets[i]->n_params)
            return CL_ERR_FORMAT;
        if (!r_f64s(r, nets[i]->params, n))
            return r->shortage ? CL_ERR_TRUNCATED : CL_ERR_FORMAT;
    }
    nn_adam *opts[3];
    int no = agent_opts(ag, opts);
    uint32_t ro = r_u32(r);
    if (r->shortage)
        return CL_ERR_TRUNCATED;
    if (ro != (uint32_t)no)
        return CL_ERR_FORMAT;
    for (int i = 0; i < no; i++) {
        uint64_t n = r_u64(r);
        int64_t t = r_i64(r);
        if (r->shortage)
            return CL_ERR_TRUNCATED;
        if (n != opts[i]->n || t < 0)
            return CL_ERR_FORMAT;
        opts[i]->t = t;
        if (!(r_f64s(r, opts[i]->m, n) & r_f64s(r, opts[i]->v, n)))
            return r->shortage ? CL_ERR_TRUNCATED : CL_ERR_FORMAT;
        for (size_t k = 0; k < n; k++)
            if (opts[i]->v[k] < 0.0)
                return CL_ERR_FORMAT;
    }

    rl_replay *rb = ag->rb;
    uint64_t cap = r_u64(r), size = r_u64(r), pos = r_u64(r);
    if (r->shortage)
        return CL_ERR_TRUNCATED;
    if (cap != rb->capacity || size > cap || pos >= cap || (size < cap && pos != size) ||
        size > (uint64_t)c[1])
        return CL_ERR_FORMAT;
    rb->size = (size_t)size;
    rb->pos = (size_t)pos;
    fin = r_f64s(r, rb->obs, size * od) & r_f64s(r, rb->next_obs, size * od) &
          r_f64s(r, rb->act, size * ad) & r_f64s(r, rb->rew, size) &
          r_f64s(r, rb->done, size);
    if (r->shortage)
        return CL_ERR_TRUNCATED;
    if (!fin)
        return CL_ERR_FORMAT;
    for (size_t k = 0; k < size; k++)
        if (rb->done[k] != 0.0 && rb->done[k] != 1.0)
            return CL_ERR_FORMAT;

    uint64_t ul = r_u64(r);
    if (r->shortage)
        return CL_ERR_TRUNCATED;
    if (ul > r->left)
        return CL_ERR_TRUNCATED;
    const uint8_t *ub = r_bytes(r, (size_t)ul);
    if (r->left)
        return CL_ERR_FORMAT; /* bytes after the caller's block */
    uint8_t *u = malloc((size_t)ul + 1);
    if (!u)
        return CL_ERR_NOMEM;
    if (ul)
        memcpy(u, ub, (size_t)ul);
    u[ul] = 0;
    *user = u;
    *user_len = (size_t)ul;
    ag->begun = true;
    return CL_OK;
}

cl_status rl_checkpoint_deserialize(const uint8_t *buf, size_t len, rl_agent **ag_out,
                                    rl_env **env_out, rl_rng *env_rng, uint8_t **user,
                                    size_t *user_len)
{
    if (!ag_out || !env_out || !env_rng || !user || !user_len)
        return CL_ERR_INVALID;
    *ag_out = NULL;
    *env_out = NULL;
    *user = NULL;
    *user_len = 0;
    if (!buf)
        return CL_ERR_INVALID;
    if (len < 8 || memcmp(buf, MAGIC, 8))
        return len < 8 && !memcmp(buf, MAGIC, len) ? CL_ERR_TRUNCATED : CL_ERR_FORMAT;
    if (len < 12 + 8)
        return CL_ERR_TRUNCATED;
    if (rl_get_u32(buf + 8) != RL_CHECKPOINT_VERSION)
        return CL_ERR_VERSION;
    if (rl_get_u64(buf + len - 8) != rl_fnv1a64(buf, len - 8))
        return CL_ERR_CHECKSUM;

    reader r = {buf + 12, len - 12 - 8, 0};
    uint32_t algo = r_u32(&r);
    uint32_t id_len = r_u32(&r);
    if (r.shortage)
        return CL_ERR_TRUNCATED;
    if ((algo != RL_ALGO_DQN && algo != RL_ALGO_TD3) || id_len < 1 || id_len > 63)
        return CL_ERR_FORMAT;
    const uint8_t *idb = r_bytes(&r, id_len);
    uint32_t hp_len = r_u32(&r);
    if (r.shortage)
        return CL_ERR_TRUNCATED;
    if (hp_len >= MAX_HP_TEXT)
        return CL_ERR_FORMAT;
    const uint8_t *hpb = r_bytes(&r, hp_len);
    if (r.shortage)
        return CL_ERR_TRUNCATED;
    char id[64], hp_text[MAX_HP_TEXT];
    memcpy(id, idb, id_len);
    id[id_len] = 0;
    memcpy(hp_text, hpb, hp_len);
    hp_text[hp_len] = 0;
    if (strlen(id) != id_len || strlen(hp_text) != hp_len)
        return CL_ERR_FORMAT; /* a NUL inside */
    const rl_env_spec *spec = rl_env_find(id);
    if (!spec)
        return CL_ERR_FORMAT;
    rl_hparams hp;
    cl_status st = read_hparams((rl_algo)algo, id, hp_text, &hp);
    if (st != CL_OK)
        return st;

    rl_agent *ag = NULL;
    rl_env *env = NULL;
    st = rl_agent_create(&hp, spec, 0, &ag);
    if (st == CL_ERR_INVALID || st == CL_ERR_UNSUPPORTED)
        st = CL_ERR_FORMAT;
    if (st == CL_OK)
        st = rl_env_create(id, &env);
    rl_rng erng;
    if (st == CL_OK)
        st = read_state(&r, ag, env, &erng, user, user_len);
    if (st != CL_OK) {
        rl_agent_free(ag);
        rl_env_free(env);
        return st;
    }
    *env_rng = erng;
    *ag_out = ag;
    *env_out = env;
    return CL_OK;
}

cl_status rl_checkpoint_save(const rl_agent *ag, const rl_env *env, const rl_rng *env_rng,
                             const void *user, size_t user_len, const char *path)
{
    if (!path)
        return CL_ERR_INVALID;
    uint8_t *buf;
    size_t len;
    cl_status st = rl_checkpoint_serialize(ag, env, env_rng, user, user_len, &buf, &len);
    if (st != CL_OK)
        return st;
    st = rl_file_write_atomic(path, buf, len);
    free(buf);
    return st;
}

cl_status rl_checkpoint_load(const char *path, rl_agent **ag, rl_env **env, rl_rng *env_rng,
                             uint8_t **user, size_t *user_len)
{
    if (!ag || !env || !env_rng || !user || !user_len)
        return CL_ERR_INVALID;
    *ag = NULL;
    *env = NULL;
    *user = NULL;
    *user_len = 0;
    if (!path)
        return CL_ERR_INVALID;
    uint8_t *buf;
    size_t len;
    cl_status st = rl_file_read(path, MAX_FILE, &buf, &len);
    if (st != CL_OK)
        return st;
    st = rl_checkpoint_deserialize(buf, len, ag, env, env_rng, user, user_len);
    free(buf);
    return st;
}
