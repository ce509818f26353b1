/* The platform's side of the protocol (docs/protocol.md).
 *
 * One thread serves every owner. A session is the state of one owner's agent
 * (rl_he_dqn_pf on a ckks slot context built from the owner's parameters and
 * evaluation keys), bound to the owner's CURVE public key. Each request that
 * changes state (INIT, STEP) must carry the next sequence number; it is
 * applied, and what it changed is written to the store together with its
 * reply in one transaction, and only then is the reply sent. A request with
 * the last applied number is a retry: the stored reply is sent again and
 * nothing is applied. A failed request (a refresh that never came, a bad
 * ciphertext) drops the session from memory; the next message reloads it
 * from the store, as after a crash.
 *
 * While a request waits for a refresh, messages from other owners wait in a
 * queue and are served after it. There is no decryption anywhere here: the
 * platform never holds a secret key. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cipherl/net.h"
#include "net/platform_internal.h"
#include "net/store.h"
#include "net/transport.h"
#include "net/wire.h"
#include "rl/he_dqn.h"

#define DEFAULT_MAX_MSG ((size_t)2 << 30)
#define QUEUE_MAX 64

typedef struct session {
    char key[NET_KEY_Z85_LEN + 1];
    int64_t tenant;
    char env[64];
    rl_he_dqn_hparams hp;
    ckks_params *params;
    ckks_eval_keys *keys;
    slots_ctx *ctx;
    rl_he_dqn_pf *pf;
    slots_vec *in[RL_HE_DQN_TRANSITION_VECS], *x, *q;
    uint64_t last_seq;
    struct session *next;
} session;

typedef struct queued {
    net_peer peer;
    uint8_t *msg;
    size_t len;
} queued;

struct net_platform {
    net_platform_config cfg;
    char state_dir[1024];
    net_store *store;
    net_server *srv;
    net_keypair kp;
    session *sessions;
    /* the request being served: where refresh requests go (and its reply), and its bytes (to know a
     * retry of it); cur_peer points to the caller's peer or, once the owner sent the request again on a
     * new connection, to cur_peer_buf */
    const net_peer *cur_peer;
    net_peer cur_peer_buf;
    const uint8_t *cur_raw;
    size_t cur_raw_len;
    session *cur;
    uint64_t cur_seq;
    uint64_t cur_refresh; /* refreshes asked for during this request: the number of the one awaited */
    bool cur_aborted;
    queued queue[QUEUE_MAX];
    size_t q_head, q_len;
    net_buf out, aux;
    uint8_t *scratch;
    size_t scratch_cap;
};

static void plog(net_platform *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plog(net_platform *p, const char *fmt, ...)
{
    if (!p->cfg.log)
        return;
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->cfg.log(p->cfg.log_user, line);
}

static cl_status fail(char *err, size_t errlen, cl_status st, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static cl_status fail(char *err, size_t errlen, cl_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ------------------------------------------------------------ secret key material */

cl_status net_platform_check_state_dir(const char *dir, char *err, size_t errlen)
{
    if (!dir)
        return CL_ERR_INVALID;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? CL_OK : fail(err, errlen, CL_ERR_IO, "cannot read %s: %s", dir, strerror(errno));
    cl_status st = CL_OK;
    struct dirent *e;
    while (st == CL_OK && (e = readdir(d)) != NULL) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        char head[32] = {0};
        const ssize_t n = read(fd, head, sizeof head);
        close(fd);
        /* a CKKS secret key ("CKSK") or an owner's secret files */
        if ((n >= 4 && !memcmp(head, "CKSK", 4)) ||
            (n >= 23 && !memcmp(head, "cipherl-curve-secret-v1", 23) && strncmp(e->d_name, "server.curve", 12) != 0))
            st = fail(err, errlen, CL_ERR_INVALID,
                      "%s holds secret key material of an owner; a platform must never see it (move it away)", path);
    }
    closedir(d);
    return st;
}

/* ------------------------------------------------------------ open / close */

cl_status net_platform_open(const net_platform_config *cfg, net_platform **out, char *err, size_t errlen)
{
    if (!cfg || !cfg->listen || !cfg->state_dir || !out)
        return fail(err, errlen, CL_ERR_INVALID, "missing listen address or state directory");
    *out = NULL;
    if (strlen(cfg->state_dir) >= 900)
        return fail(err, errlen, CL_ERR_INVALID, "state directory path too long");
    cl_status st = net_platform_check_state_dir(cfg->state_dir, err, errlen);
    if (st != CL_OK)
        return st;
    net_platform *p = calloc(1, sizeof *p);
    if (!p)
        return CL_ERR_NOMEM;
    p->cfg = *cfg;
    snprintf(p->state_dir, sizeof p->state_dir, "%s", cfg->state_dir);
    if (!p->cfg.max_msg_bytes)
        p->cfg.max_msg_bytes = DEFAULT_MAX_MSG;
    if (p->cfg.refresh_timeout_ms <= 0)
        p->cfg.refresh_timeout_ms = 600000;
    if (p->cfg.max_buffer_size <= 0)
        p->cfg.max_buffer_size = 1000000;
    char serr[512] = "";
    if ((st = net_store_open(p->state_dir, &p->store, serr, sizeof serr)) != CL_OK) {
        fail(err, errlen, st, "cannot open the store in %s: %s (%s)", p->state_dir, cl_strerror(st), serr);
        goto out_fail;
    }
    char sk_path[1100], pk_path[1100];
    snprintf(sk_path, sizeof sk_path, "%s/server.curve", p->state_dir);
    snprintf(pk_path, sizeof pk_path, "%s/server.curve.pub", p->state_dir);
    if (access(sk_path, F_OK) == 0) {
        if ((st = net_keypair_load(sk_path, &p->kp)) != CL_OK) {
            fail(err, errlen, st, "cannot load the platform's transport key %s: %s", sk_path, cl_strerror(st));
            goto out_fail;
        }
    } else if ((st = net_keypair_generate(&p->kp)) != CL_OK || (st = net_keypair_save(&p->kp, sk_path, pk_path)) != CL_OK) {
        fail(err, errlen, st, "cannot create the platform's transport key in %s: %s", p->state_dir, cl_strerror(st));
        goto out_fail;
    }
    net_allowlist allow = {0};
    if (cfg->allow_file && (st = net_allowlist_load(cfg->allow_file, &allow, serr, sizeof serr)) != CL_OK) {
        fail(err, errlen, st, "allow-list: %s", serr[0] ? serr : cl_strerror(st));
        goto out_fail;
    }
    st = net_server_open_allow(cfg->listen, &p->kp, p->cfg.max_msg_bytes, cfg->allow_file ? &allow : NULL, &p->srv);
    net_allowlist_free(&allow);
    if (st != CL_OK) {
        fail(err, errlen, st, "cannot listen on %s: %s", cfg->listen, cl_strerror(st));
        goto out_fail;
    }
    *out = p;
    return CL_OK;
out_fail:
    net_platform_close(p);
    return st;
}

static void session_free(session *s)
{
    if (!s)
        return;
    for (int k = 0; k < RL_HE_DQN_TRANSITION_VECS; k++)
        slots_vec_free(s->in[k]);
    slots_vec_free(s->x);
    slots_vec_free(s->q);
    rl_he_dqn_pf_free(s->pf);
    slots_ctx_free(s->ctx);
    ckks_eval_keys_free(s->keys);
    ckks_params_free(s->params);
    free(s);
}

void net_platform_close(net_platform *p)
{
    if (!p)
        return;
    while (p->sessions) {
        session *n = p->sessions->next;
        session_free(p->sessions);
        p->sessions = n;
    }
    for (size_t i = 0; i < p->q_len; i++)
        free(p->queue[(p->q_head + i) % QUEUE_MAX].msg);
    net_server_close(p->srv);
    net_store_close(p->store);
    net_keypair_wipe(&p->kp);
    net_buf_free(&p->out);
    net_buf_free(&p->aux);
    free(p->scratch);
    free(p);
}

const char *net_platform_endpoint(const net_platform *p)
{
    return p ? net_server_endpoint(p->srv) : NULL;
}

const char *net_platform_public_key(const net_platform *p)
{
    return p ? p->kp.public_z85 : NULL;
}

/* ------------------------------------------------------------ replies */

static cl_status send_buf(net_platform *p, const net_peer *to, net_buf *b)
{
    return net_server_send(p->srv, to, b->data, b->len);
}

static void reply_error(net_platform *p, const net_peer *to, uint64_t seq, cl_status code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void reply_error(net_platform *p, const net_peer *to, uint64_t seq, cl_status code, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    plog(p, "owner %.8s...: refused: %s (%s)", to->client_key, text, cl_strerror(code));
    net_msg_begin(&p->aux, NET_MSG_ERROR, seq);
    net_msg_put_u64(&p->aux, (uint64_t)code);
    net_msg_put_str(&p->aux, text);
    if (net_msg_finish(&p->aux) == CL_OK)
        send_buf(p, to, &p->aux);
}

/* ------------------------------------------------------------ vectors in the store */

/* What a session's stored vectors mean (the "layout" integer of its tenant): 1 (no integer), HE-Adam's m and r
 * for every parameter vector; 2, for the trained ones only (the diagonals and biases, rl_he_dqn_pf_set_size). */
#define SESSION_LAYOUT 2

static const char *const set_names[RL_HE_DQN_SETS] = {"w", "m", "r", "tw", "rs", "rn", "ra", "rr", "rd"};

static cl_status scratch_fit(net_platform *p, size_t n)
{
    if (n <= p->scratch_cap)
        return CL_OK;
    uint8_t *b = realloc(p->scratch, n);
    if (!b)
        return CL_ERR_NOMEM;
    p->scratch = b;
    p->scratch_cap = n;
    return CL_OK;
}

static cl_status save_vec(net_platform *p, session *s, rl_he_dqn_set set, size_t i)
{
    slots_vec *v = rl_he_dqn_pf_set_vec(s->pf, set, i);
    if (!v || slots_level(v) < 0)
        return CL_OK;
    size_t len;
    cl_status st = slots_vec_serialize(v, NULL, 0, &len);
    if (st == CL_OK)
        st = scratch_fit(p, len);
    if (st == CL_OK)
        st = slots_vec_serialize(v, p->scratch, p->scratch_cap, &len);
    if (st == CL_OK)
        st = net_store_put(p->store, s->tenant, set_names[set], (int64_t)i, p->scratch, len);
    return st;
}

static cl_status save_set(net_platform *p, session *s, rl_he_dqn_set set)
{
    cl_status st = CL_OK;
    const size_t n = rl_he_dqn_pf_set_size(s->pf, set);
    for (size_t i = 0; i < n && st == CL_OK; i++)
        st = save_vec(p, s, set, i);
    return st;
}

static const char *const scalar_keys[] = {"env_steps", "train_steps", "greedy_actions", "pos", "stored",
                                          "rng0", "rng1", "rng2", "rng3", "initialized", "last_seq"};

static cl_status save_scalars(net_platform *p, session *s)
{
    rl_he_dqn_pf_scalars sc;
    rl_he_dqn_pf_get_scalars(s->pf, &sc);
    const int64_t v[] = {sc.env_steps, sc.train_steps, sc.greedy_actions, (int64_t)sc.pos, (int64_t)sc.stored,
                         (int64_t)sc.rng[0], (int64_t)sc.rng[1], (int64_t)sc.rng[2], (int64_t)sc.rng[3],
                         sc.initialized ? 1 : 0, (int64_t)s->last_seq};
    cl_status st = CL_OK;
    for (size_t k = 0; k < sizeof v / sizeof v[0] && st == CL_OK; k++)
        st = net_store_put_int(p->store, s->tenant, scalar_keys[k], v[k]);
    return st;
}

/* Commits what the request changed with its reply (p->out), then sends it.
 * Once committed the request is applied, in memory as in the store, whether
 * or not the reply goes out: a reply that cannot be sent (the owner gave up
 * on this connection and reconnected) is not a failure of the request, and
 * the owner's retry is answered from the store. */
static cl_status commit_and_reply(net_platform *p, session *s, const net_peer *to)
{
    cl_status st = save_scalars(p, s);
    if (st == CL_OK)
        st = net_store_put(p->store, s->tenant, "reply", 0, p->out.data, p->out.len);
    if (st == CL_OK)
        st = net_store_commit(p->store);
    if (st != CL_OK) {
        net_store_rollback(p->store);
        return st;
    }
    if (send_buf(p, to, &p->out) != CL_OK)
        plog(p, "owner %.8s...: request %llu applied, but its connection is gone: the reply waits in the store",
             to->client_key, (unsigned long long)s->last_seq);
    return CL_OK;
}

/* ------------------------------------------------------------ sessions */

/* Builds the in-memory session from its settings (no state yet). */
static cl_status session_build(net_platform *p, session *s, const uint8_t *params, size_t plen, const uint8_t *keys,
                               size_t klen, uint64_t sample_seed, char *err, size_t errlen)
{
    cl_status st = ckks_params_deserialize(params, plen, p->cfg.allow_insecure ? CKKS_ALLOW_INSECURE : 0, &s->params);
    if (st == CL_ERR_INSECURE)
        return fail(err, errlen, st, "these CKKS parameters are below 128-bit security; this platform serves "
                                     "them only when started with --insecure");
    if (st != CL_OK)
        return fail(err, errlen, st, "bad CKKS parameters");
    if ((st = ckks_eval_keys_deserialize(s->params, keys, klen, &s->keys)) != CL_OK)
        return fail(err, errlen, st, "bad evaluation keys");
    size_t S;
    if ((st = rl_he_dqn_layout(s->env, &s->hp, NULL, &S)) != CL_OK)
        return fail(err, errlen, st, "no HE-DQN for environment %s", s->env);
    if (S > ckks_params_max_slots(s->params))
        return fail(err, errlen, CL_ERR_PARAMS, "the network needs %zu slots; the parameters have %zu", S,
                    ckks_params_max_slots(s->params));
    /* the rotations the algorithm will ask for, measured as the owner measured them */
    rl_he_dqn_census census;
    if ((st = rl_he_dqn_census_run(s->env, &s->hp, ckks_params_max_level(s->params), &census)) != CL_OK)
        return fail(err, errlen, st, "census failed");
    for (size_t i = 0; i < census.n_rot_steps; i++)
        if (!ckks_eval_keys_has_galois(s->keys, ckks_galois_element(s->params, census.rot_steps[i])))
            return fail(err, errlen, CL_ERR_NOKEY, "the evaluation keys lack the rotation by %d the training step uses",
                        census.rot_steps[i]);
    if ((st = slots_ckks_create(s->params, s->keys, S, &s->ctx)) != CL_OK)
        return fail(err, errlen, st, "cannot build the slot context");
    if ((st = rl_he_dqn_pf_create(s->env, &s->hp, s->ctx, sample_seed, &s->pf)) != CL_OK)
        return fail(err, errlen, st, "cannot build the agent");
    for (int k = 0; k < RL_HE_DQN_TRANSITION_VECS && st == CL_OK; k++)
        st = slots_vec_create(s->ctx, &s->in[k]);
    if (st == CL_OK)
        st = slots_vec_create(s->ctx, &s->x);
    if (st == CL_OK)
        st = slots_vec_create(s->ctx, &s->q);
    return st == CL_OK ? CL_OK : fail(err, errlen, st, "out of memory");
}

static cl_status remote_refresh(void *user, ckks_ciphertext *ct);

/* Loads a known tenant's session from the store. */
static cl_status session_load(net_platform *p, int64_t tenant, const char *key, session **out, char *err, size_t errlen)
{
    session *s = calloc(1, sizeof *s);
    if (!s)
        return CL_ERR_NOMEM;
    snprintf(s->key, sizeof s->key, "%s", key);
    s->tenant = tenant;
    bool found = false;
    char hpline[4096];
    uint8_t *params = NULL, *keys = NULL;
    size_t plen = 0, klen = 0;
    int64_t seed = 0;
    cl_status st = net_store_get_text(p->store, tenant, "env", s->env, sizeof s->env, &found);
    if (st == CL_OK && found)
        st = net_store_get_text(p->store, tenant, "hparams", hpline, sizeof hpline, &found);
    if (st == CL_OK && found)
        st = net_store_get_int(p->store, tenant, "sample_seed", &seed, &found);
    if (st == CL_OK && found) {
        int64_t layout = 0;
        bool has_layout = false;
        if ((st = net_store_get_int(p->store, tenant, "layout", &layout, &has_layout)) == CL_OK && layout != SESSION_LAYOUT)
            st = fail(err, errlen, CL_ERR_VERSION,
                      "the session was stored by another cipherl (state layout %lld, this one reads %d): start a new "
                      "run with new keys",
                      (long long)(has_layout ? layout : 1), SESSION_LAYOUT);
    }
    if (st == CL_OK && found)
        st = net_store_get(p->store, tenant, "params", 0, &params, &plen);
    if (st == CL_OK && found)
        st = net_store_get(p->store, tenant, "eval_keys", 0, &keys, &klen);
    if (st == CL_OK && (!found || !params || !keys))
        st = fail(err, errlen, CL_ERR_FORMAT, "the stored session is incomplete");
    if (st == CL_OK && (st = rl_he_dqn_hp_parse_line(hpline, &s->hp, err, errlen)) == CL_OK)
        st = session_build(p, s, params, plen, keys, klen, (uint64_t)seed, err, errlen);
    free(params);
    free(keys);
    /* the state: every stored vector, then the scalars */
    for (int set = 0; set < RL_HE_DQN_SETS && st == CL_OK; set++) {
        const size_t n = rl_he_dqn_pf_set_size(s->pf, (rl_he_dqn_set)set);
        for (size_t i = 0; i < n && st == CL_OK; i++) {
            slots_vec *v = rl_he_dqn_pf_set_vec(s->pf, (rl_he_dqn_set)set, i);
            uint8_t *blob = NULL;
            size_t len = 0;
            if (!v)
                continue;
            if ((st = net_store_get(p->store, tenant, set_names[set], (int64_t)i, &blob, &len)) == CL_OK && blob)
                st = slots_vec_deserialize(slots_vec_context(v), blob, len, v); /* wide: HE-Adam packed */
            free(blob);
            if (st != CL_OK)
                fail(err, errlen, st, "stored vector %s[%zu] does not load", set_names[set], i);
        }
    }
    int64_t v[sizeof scalar_keys / sizeof scalar_keys[0]] = {0};
    bool any = false;
    for (size_t k = 0; k < sizeof v / sizeof v[0] && st == CL_OK; k++) {
        bool f = false;
        st = net_store_get_int(p->store, tenant, scalar_keys[k], &v[k], &f);
        any = any || f;
    }
    if (st == CL_OK && any) {
        rl_he_dqn_pf_scalars sc = {.env_steps = v[0], .train_steps = v[1], .greedy_actions = v[2], .pos = (uint64_t)v[3],
                                .stored = (uint64_t)v[4], .rng = {(uint64_t)v[5], (uint64_t)v[6], (uint64_t)v[7], (uint64_t)v[8]},
                                .initialized = v[9] != 0};
        if ((st = rl_he_dqn_pf_set_scalars(s->pf, &sc)) != CL_OK)
            fail(err, errlen, st, "the stored counters are inconsistent");
        s->last_seq = (uint64_t)v[10];
    }
    if (st != CL_OK) {
        session_free(s);
        return st;
    }
    slots_ckks_set_refresher(s->ctx, remote_refresh, p);
    s->next = p->sessions;
    p->sessions = s;
    *out = s;
    return CL_OK;
}

static session *session_find(net_platform *p, const char *key)
{
    for (session *s = p->sessions; s; s = s->next)
        if (!strcmp(s->key, key))
            return s;
    return NULL;
}

static void session_drop(net_platform *p, session *s)
{
    for (session **pp = &p->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            session_free(s);
            return;
        }
}

/* ------------------------------------------------------------ refresh through the owner */

static void enqueue(net_platform *p, const net_peer *from, uint8_t *msg, size_t len)
{
    if (p->q_len == QUEUE_MAX) {
        reply_error(p, from, 0, CL_ERR_STATE, "the platform is busy; send again later");
        free(msg);
        return;
    }
    queued *q = &p->queue[(p->q_head + p->q_len) % QUEUE_MAX];
    q->peer = *from;
    q->msg = msg;
    q->len = len;
    p->q_len++;
}

static cl_status remote_refresh(void *user, ckks_ciphertext *ct)
{
    net_platform *p = user;
    if (!p->cur_peer || p->cur_aborted)
        return CL_ERR_STATE;
    size_t len;
    cl_status st = ckks_ciphertext_serialize(ct, NULL, 0, &len);
    const uint64_t number = ++p->cur_refresh;
    net_msg_begin(&p->aux, NET_MSG_REFRESH_REQ, p->cur_seq);
    net_msg_put_u64(&p->aux, number);
    uint8_t *dst = st == CL_OK ? net_msg_put_blob_space(&p->aux, len) : NULL;
    if (st == CL_OK && !dst)
        st = CL_ERR_NOMEM;
    if (st == CL_OK)
        st = ckks_ciphertext_serialize(ct, dst, len, &len);
    if (st == CL_OK)
        st = net_msg_finish(&p->aux);
    if (st == CL_OK)
        st = send_buf(p, p->cur_peer, &p->aux);
    if (st != CL_OK)
        return st;
    const ckks_params *params = p->cur->params;
    for (;;) {
        net_peer from;
        uint8_t *msg = NULL;
        size_t n = 0;
        st = net_server_recv(p->srv, p->cfg.refresh_timeout_ms, &from, &msg, &n);
        if (st != CL_OK) {
            p->cur_aborted = true;
            return st;
        }
        if (strcmp(from.client_key, p->cur_peer->client_key) != 0) {
            enqueue(p, &from, msg, n); /* another owner: after this request */
            continue;
        }
        net_msg m;
        char why[128];
        uint64_t got = 0;
        const bool parsed = net_msg_parse(msg, n, p->cfg.max_msg_bytes, &m, why, sizeof why) == CL_OK;
        if (parsed && m.type == NET_MSG_REFRESH && (m.seq != p->cur_seq || net_msg_u64(&m, 0, &got) != CL_OK ||
                                                    got != number)) {
            /* a late answer to a refresh already answered (the owner answered it on a connection it then
             * gave up, and again on the new one), or to an earlier request: not the one awaited */
            plog(p, "owner %.8s...: a late answer (request %llu, refresh %llu) dropped", from.client_key,
                 (unsigned long long)m.seq, (unsigned long long)got);
            net_msg_free(&m);
            free(msg);
            continue;
        }
        if (parsed && m.type == NET_MSG_REFRESH && m.n_items == 2) {
            const uint8_t *data;
            size_t dl;
            ckks_ciphertext *fresh = NULL;
            st = net_msg_blob(&m, 1, &data, &dl);
            if (st == CL_OK)
                st = ckks_ciphertext_deserialize(params, data, dl, &fresh);
            /* a fresh encryption at the top level, at the top level's scale (as a vector must be to load), with
             * the slots the vector had */
            const double top_scale = ckks_params_default_scale(params);
            if (st == CL_OK && (ckks_ciphertext_level(fresh) != ckks_params_max_level(params) ||
                                !(fabs(ckks_ciphertext_scale(fresh) - top_scale) <= 1e-9 * top_scale) ||
                                ckks_ciphertext_slots(fresh) != ckks_ciphertext_slots(ct) || ckks_ciphertext_size(fresh) != 2))
                st = CL_ERR_FORMAT;
            if (st == CL_OK)
                st = ckks_ciphertext_copy(ct, fresh);
            ckks_ciphertext_free(fresh);
            net_msg_free(&m);
            free(msg);
            /* a bad answer fails the request, which the owner hears about (an ERROR, not silence) */
            if (st != CL_OK)
                plog(p, "owner %.8s...: refresh for request %llu refused: %s", p->cur_peer->client_key,
                     (unsigned long long)p->cur_seq, cl_strerror(st));
            return st;
        }
        if (parsed)
            net_msg_free(&m);
        /* the owner heard nothing for a while and sent this very request again on a new connection:
         * go on with it, and send the refresh request (and later the reply) there */
        if (p->cur_raw && n == p->cur_raw_len && memcmp(msg, p->cur_raw, n) == 0) {
            free(msg);
            p->cur_peer_buf = from;
            p->cur_peer = &p->cur_peer_buf;
            plog(p, "owner %.8s...: request %llu sent again while it runs: going on with it", from.client_key,
                 (unsigned long long)p->cur_seq);
            if ((st = send_buf(p, p->cur_peer, &p->aux)) != CL_OK)
                return st;
            continue;
        }
        /* the owner sent something else: abandon this request and serve that message next */
        enqueue(p, &from, msg, n);
        p->cur_aborted = true;
        return CL_ERR_STATE;
    }
}

/* ------------------------------------------------------------ requests */

static cl_status load_vec(session *s, const net_msg *m, uint32_t item, slots_vec *v)
{
    const uint8_t *data;
    size_t len;
    cl_status st = net_msg_blob(m, item, &data, &len);
    return st == CL_OK ? slots_vec_deserialize(s->ctx, data, len, v) : st;
}

static void handle_hello(net_platform *p, const net_peer *from, const net_msg *m)
{
    char env[64], hpline[4096], err[512] = "";
    uint64_t seed;
    const uint8_t *params, *keys;
    size_t plen, klen;
    if (net_msg_str(m, 0, env, sizeof env) != CL_OK || net_msg_str(m, 1, hpline, sizeof hpline) != CL_OK ||
        net_msg_u64(m, 2, &seed) != CL_OK || net_msg_blob(m, 3, &params, &plen) != CL_OK ||
        net_msg_blob(m, 4, &keys, &klen) != CL_OK) {
        reply_error(p, from, m->seq, CL_ERR_FORMAT, "HELLO: bad items");
        return;
    }
    int64_t tenant;
    cl_status st = net_store_tenant_find(p->store, from->client_key, &tenant);
    if (st != CL_OK) {
        reply_error(p, from, m->seq, st, "store: %s", net_store_errmsg(p->store));
        return;
    }
    session *s = session_find(p, from->client_key);
    if (tenant >= 0) {
        /* a known owner resumes: the settings must be the ones it started with */
        char old_env[64] = "", old_hp[4096] = "";
        bool f1 = false, f2 = false;
        net_store_get_text(p->store, tenant, "env", old_env, sizeof old_env, &f1);
        net_store_get_text(p->store, tenant, "hparams", old_hp, sizeof old_hp, &f2);
        uint8_t *old_params = NULL, *old_keys = NULL;
        size_t old_plen = 0, old_klen = 0;
        int64_t old_seed = 0;
        bool f3 = false;
        net_store_get(p->store, tenant, "params", 0, &old_params, &old_plen);
        net_store_get_int(p->store, tenant, "sample_seed", &old_seed, &f3);
        /* the evaluation keys too: a resumed session keeps computing with the ones it was opened with */
        net_store_get(p->store, tenant, "eval_keys", 0, &old_keys, &old_klen);
        const bool same = f1 && f2 && f3 && !strcmp(old_env, env) && !strcmp(old_hp, hpline) && old_params &&
                          old_plen == plen && !memcmp(old_params, params, plen) && (uint64_t)old_seed == seed &&
                          old_keys && old_klen == klen && !memcmp(old_keys, keys, klen);
        free(old_params);
        free(old_keys);
        if (!same) {
            reply_error(p, from, m->seq, CL_ERR_STATE,
                        "this key already has a session with other settings (%s); use another key to start anew",
                        old_env);
            return;
        }
        if (!s && (st = session_load(p, tenant, from->client_key, &s, err, sizeof err)) != CL_OK) {
            reply_error(p, from, m->seq, st, "cannot resume the session: %s", err);
            return;
        }
        plog(p, "owner %.8s...: resumed %s at step %lld", from->client_key, env,
             (long long)rl_he_dqn_pf_get_stats(s->pf)->env_steps);
    } else {
        s = calloc(1, sizeof *s);
        if (!s) {
            reply_error(p, from, m->seq, CL_ERR_NOMEM, "out of memory");
            return;
        }
        snprintf(s->key, sizeof s->key, "%s", from->client_key);
        snprintf(s->env, sizeof s->env, "%s", env);
        if ((st = rl_he_dqn_hp_parse_line(hpline, &s->hp, err, sizeof err)) == CL_OK &&
            s->hp.buffer_size > p->cfg.max_buffer_size) {
            /* the replay's slots are allocated with the session: bound what one HELLO can claim */
            st = CL_ERR_INVALID;
            snprintf(err, sizeof err, "buffer_size %lld is above this platform's limit of %lld transitions",
                     (long long)s->hp.buffer_size, (long long)p->cfg.max_buffer_size);
        }
        if (st == CL_OK)
            st = session_build(p, s, params, plen, keys, klen, seed, err, sizeof err);
        if (st == CL_OK && (st = net_store_begin(p->store)) == CL_OK) {
            if ((st = net_store_tenant_add(p->store, from->client_key, &s->tenant)) == CL_OK &&
                (st = net_store_put_text(p->store, s->tenant, "env", env)) == CL_OK &&
                (st = net_store_put_text(p->store, s->tenant, "hparams", hpline)) == CL_OK &&
                (st = net_store_put_int(p->store, s->tenant, "sample_seed", (int64_t)seed)) == CL_OK &&
                (st = net_store_put_int(p->store, s->tenant, "layout", SESSION_LAYOUT)) == CL_OK &&
                (st = net_store_put(p->store, s->tenant, "params", 0, params, plen)) == CL_OK &&
                (st = net_store_put(p->store, s->tenant, "eval_keys", 0, keys, klen)) == CL_OK)
                st = net_store_commit(p->store);
            if (st != CL_OK) {
                snprintf(err, sizeof err, "store: %s", net_store_errmsg(p->store));
                net_store_rollback(p->store);
            }
        }
        if (st != CL_OK) {
            session_free(s);
            reply_error(p, from, m->seq, st, "cannot open a session: %s", err);
            return;
        }
        slots_ckks_set_refresher(s->ctx, remote_refresh, p);
        s->next = p->sessions;
        p->sessions = s;
        plog(p, "owner %.8s...: new session, %s", from->client_key, env);
    }
    rl_he_dqn_pf_scalars sc;
    rl_he_dqn_pf_get_scalars(s->pf, &sc);
    net_msg_begin(&p->out, NET_MSG_HELLO_OK, m->seq);
    net_msg_put_u64(&p->out, (uint64_t)sc.env_steps);
    net_msg_put_u64(&p->out, sc.initialized ? 1 : 0);
    net_msg_put_u64(&p->out, (uint64_t)sc.train_steps);
    net_msg_put_u64(&p->out, s->last_seq);
    if (net_msg_finish(&p->out) == CL_OK)
        send_buf(p, from, &p->out);
}

/* INIT and STEP: applied once, committed with their reply. *touched tells
 * whether the session in memory may have changed before a failure (false: the
 * request was refused before anything was written, and the session stays). */
static cl_status apply_init(net_platform *p, session *s, const net_msg *m, bool *touched)
{
    const size_t n = rl_he_dqn_init_count(&s->hp, s->env);
    if (m->n_items != n)
        return CL_ERR_FORMAT;
    rl_he_dqn_pf_scalars sc;
    rl_he_dqn_pf_get_scalars(s->pf, &sc);
    if (sc.initialized)
        return CL_ERR_STATE;
    *touched = true; /* the vectors load straight into the session's weights */
    cl_status st = CL_OK;
    for (size_t i = 0; i < n && st == CL_OK; i++)
        st = load_vec(s, m, (uint32_t)i, rl_he_dqn_pf_init_vec(s->pf, i));
    if (st == CL_OK)
        st = rl_he_dqn_pf_init_done(s->pf);
    if (st == CL_OK && (st = net_store_begin(p->store)) == CL_OK) {
        for (int set = RL_HE_DQN_SET_W; set <= RL_HE_DQN_SET_TW && st == CL_OK; set++)
            st = save_set(p, s, (rl_he_dqn_set)set);
        if (st != CL_OK)
            net_store_rollback(p->store);
    }
    if (st == CL_OK) {
        net_msg_begin(&p->out, NET_MSG_ACK, m->seq);
        net_msg_put_u64(&p->out, n);
        st = net_msg_finish(&p->out);
        if (st != CL_OK)
            net_store_rollback(p->store);
    }
    return st;
}

static cl_status apply_step(net_platform *p, session *s, const net_msg *m, bool *touched)
{
    uint64_t step, gs, upd;
    cl_status st;
    if ((st = net_msg_u64(m, 0, &step)) != CL_OK || (st = net_msg_u64(m, 6, &gs)) != CL_OK ||
        (st = net_msg_u64(m, 7, &upd)) != CL_OK)
        return st;
    if (step > INT64_MAX || gs > 1024 || upd > 1)
        return CL_ERR_FORMAT;
    /* what rl_he_dqn_pf_step refuses before it changes anything, checked here so that the session stays */
    rl_he_dqn_pf_scalars sc;
    rl_he_dqn_pf_get_scalars(s->pf, &sc);
    if ((int64_t)step != sc.env_steps + 1 || (gs > 0 && sc.stored + 1 < (uint64_t)s->hp.batch_size))
        return CL_ERR_STATE;
    /* s->in are the session's scratch inputs: loading them changes no state */
    for (int k = 0; k < RL_HE_DQN_TRANSITION_VECS && st == CL_OK; k++)
        st = load_vec(s, m, (uint32_t)(1 + k), s->in[k]);
    if (st != CL_OK)
        return st;
    *touched = true;
    st = rl_he_dqn_pf_step(s->pf, (int64_t)step, s->in, (int64_t)gs, upd != 0);
    if (st != CL_OK)
        return st;
    if ((st = net_store_begin(p->store)) != CL_OK)
        return st;
    const size_t c = rl_he_dqn_pf_chunk_of_step(s->pf, (int64_t)step);
    for (int set = RL_HE_DQN_SET_RS; set <= RL_HE_DQN_SET_RD && st == CL_OK; set++)
        st = save_vec(p, s, (rl_he_dqn_set)set, c);
    for (int set = RL_HE_DQN_SET_W; set <= RL_HE_DQN_SET_R && st == CL_OK && gs > 0; set++)
        st = save_set(p, s, (rl_he_dqn_set)set);
    if (st == CL_OK && upd)
        st = save_set(p, s, RL_HE_DQN_SET_TW);
    if (st == CL_OK) {
        net_msg_begin(&p->out, NET_MSG_ACK, m->seq);
        net_msg_put_u64(&p->out, step);
        st = net_msg_finish(&p->out);
    }
    if (st != CL_OK)
        net_store_rollback(p->store);
    return st;
}

static void handle_mutation(net_platform *p, const net_peer *from, session *s, const net_msg *m)
{
    if (m->seq == s->last_seq && m->seq > 0) {
        /* a retry: the stored reply, nothing applied again */
        uint8_t *reply = NULL;
        size_t len = 0;
        if (net_store_get(p->store, s->tenant, "reply", 0, &reply, &len) == CL_OK && reply) {
            net_server_send(p->srv, from, reply, len);
            plog(p, "owner %.8s...: request %llu again: answered from the store", from->client_key,
                 (unsigned long long)m->seq);
        } else {
            reply_error(p, from, m->seq, CL_ERR_STATE, "request %llu was applied but its reply is lost",
                        (unsigned long long)m->seq);
        }
        free(reply);
        return;
    }
    if (m->seq != s->last_seq + 1) {
        reply_error(p, from, m->seq, CL_ERR_STATE, "sequence number %llu out of order (expected %llu): replayed or lost",
                    (unsigned long long)m->seq, (unsigned long long)s->last_seq + 1);
        return;
    }
    p->cur_peer = from;
    p->cur = s;
    p->cur_seq = m->seq;
    p->cur_refresh = 0;
    p->cur_aborted = false;
    bool touched = false;
    cl_status st = m->type == NET_MSG_INIT ? apply_init(p, s, m, &touched) : apply_step(p, s, m, &touched);
    from = p->cur_peer; /* the connection the owner sent it on last */
    if (st == CL_OK) {
        s->last_seq = m->seq;
        st = commit_and_reply(p, s, from);
        if (st != CL_OK)
            s->last_seq = m->seq - 1;
    }
    p->cur_peer = NULL;
    p->cur = NULL;
    if (st != CL_OK) {
        const bool aborted = p->cur_aborted;
        /* whatever the request changed in memory goes; the store has the last good state (a request refused
         * before it changed anything leaves the session as it was) */
        if (touched)
            session_drop(p, s);
        if (!aborted)
            reply_error(p, from, m->seq, st, "%s %llu failed", net_msg_type_name(m->type), (unsigned long long)m->seq);
        else
            plog(p, "owner %.8s...: request %llu abandoned (no refresh came back)", from->client_key,
                 (unsigned long long)m->seq);
    }
}

static void handle_act(net_platform *p, const net_peer *from, session *s, const net_msg *m)
{
    p->cur_peer = from;
    p->cur = s;
    p->cur_seq = m->seq;
    p->cur_refresh = 0;
    p->cur_aborted = false;
    cl_status st = load_vec(s, m, 0, s->x);
    if (st == CL_OK)
        st = rl_he_dqn_pf_act(s->pf, s->x, s->q);
    from = p->cur_peer; /* the connection the owner sent it on last */
    p->cur_peer = NULL;
    p->cur = NULL;
    if (st == CL_OK) {
        net_msg_begin(&p->out, NET_MSG_Q, m->seq);
        size_t len;
        if ((st = slots_vec_serialize(s->q, NULL, 0, &len)) == CL_OK) {
            uint8_t *dst = net_msg_put_blob_space(&p->out, len);
            st = dst ? slots_vec_serialize(s->q, dst, len, &len) : CL_ERR_NOMEM;
        }
        if (st == CL_OK)
            st = net_msg_finish(&p->out);
        if (st == CL_OK) {
            send_buf(p, from, &p->out);
            return;
        }
    }
    if (!p->cur_aborted)
        reply_error(p, from, m->seq, st, "ACT failed");
}

static void handle_pull(net_platform *p, const net_peer *from, session *s, const net_msg *m)
{
    char hpline[4096];
    bool found = false;
    cl_status st = net_store_get_text(p->store, s->tenant, "hparams", hpline, sizeof hpline, &found);
    if (st == CL_OK && !found)
        st = CL_ERR_STATE;
    net_msg_begin(&p->out, NET_MSG_WEIGHTS, m->seq);
    net_msg_put_str(&p->out, s->env);
    net_msg_put_str(&p->out, hpline);
    const size_t n = rl_he_dqn_pf_set_size(s->pf, RL_HE_DQN_SET_W);
    for (size_t i = 0; i < n && st == CL_OK; i++) {
        slots_vec *v = rl_he_dqn_pf_set_vec(s->pf, RL_HE_DQN_SET_W, i);
        size_t len;
        if ((st = slots_vec_serialize(v, NULL, 0, &len)) != CL_OK)
            break;
        uint8_t *dst = net_msg_put_blob_space(&p->out, len);
        st = dst ? slots_vec_serialize(v, dst, len, &len) : CL_ERR_NOMEM;
    }
    if (st == CL_OK)
        st = net_msg_finish(&p->out);
    if (st == CL_OK)
        send_buf(p, from, &p->out);
    else
        reply_error(p, from, m->seq, st, "PULL failed (is the session initialized?)");
}

static void handle_msg(net_platform *p, const net_peer *from, const uint8_t *buf, size_t len)
{
    net_msg m;
    char why[256] = "";
    cl_status st = net_msg_parse(buf, len, p->cfg.max_msg_bytes, &m, why, sizeof why);
    if (st != CL_OK) {
        reply_error(p, from, 0, st, "malformed message: %s", why);
        return;
    }
    if (m.type == NET_MSG_HELLO) {
        handle_hello(p, from, &m);
        net_msg_free(&m);
        return;
    }
    if (m.type == NET_MSG_REFRESH) {
        /* an answer to a refresh of a request that is over (the owner answered it twice, on a connection it
         * gave up and on the next): no one waits for it, and an ERROR would reach an owner that is fine */
        plog(p, "owner %.8s...: a late answer to a refresh of request %llu dropped", from->client_key,
             (unsigned long long)m.seq);
        net_msg_free(&m);
        return;
    }
    if (m.type != NET_MSG_INIT && m.type != NET_MSG_STEP && m.type != NET_MSG_ACT && m.type != NET_MSG_PULL) {
        reply_error(p, from, m.seq, CL_ERR_FORMAT, "a platform does not take %s messages", net_msg_type_name(m.type));
        net_msg_free(&m);
        return;
    }
    session *s = session_find(p, from->client_key);
    if (!s) {
        int64_t tenant = -1;
        char err[512] = "";
        if ((st = net_store_tenant_find(p->store, from->client_key, &tenant)) != CL_OK || tenant < 0) {
            reply_error(p, from, m.seq, CL_ERR_STATE, "no session for this key: send HELLO first");
            net_msg_free(&m);
            return;
        }
        if ((st = session_load(p, tenant, from->client_key, &s, err, sizeof err)) != CL_OK) {
            reply_error(p, from, m.seq, st, "cannot load the session: %s", err);
            net_msg_free(&m);
            return;
        }
        plog(p, "owner %.8s...: session reloaded from the store", from->client_key);
    }
    rl_he_dqn_pf_scalars sc;
    rl_he_dqn_pf_get_scalars(s->pf, &sc);
    if (m.type != NET_MSG_INIT && !sc.initialized)
        reply_error(p, from, m.seq, CL_ERR_STATE, "the session has no weights yet: send INIT first");
    else if (m.type == NET_MSG_INIT || m.type == NET_MSG_STEP)
        handle_mutation(p, from, s, &m);
    else if (m.type == NET_MSG_ACT)
        handle_act(p, from, s, &m);
    else
        handle_pull(p, from, s, &m);
    net_msg_free(&m);
}

static void handle(net_platform *p, const net_peer *from, const uint8_t *buf, size_t len)
{
    p->cur_raw = buf;
    p->cur_raw_len = len;
    handle_msg(p, from, buf, len);
    p->cur_raw = NULL;
    p->cur_raw_len = 0;
}

cl_status net_platform_serve(net_platform *p, volatile sig_atomic_t *stop)
{
    if (!p)
        return CL_ERR_INVALID;
    while (!stop || !*stop) {
        net_peer from;
        uint8_t *msg = NULL;
        size_t len = 0;
        if (p->q_len) {
            queued *q = &p->queue[p->q_head];
            from = q->peer;
            msg = q->msg;
            len = q->len;
            p->q_head = (p->q_head + 1) % QUEUE_MAX;
            p->q_len--;
        } else {
            cl_status st = net_server_recv(p->srv, 200, &from, &msg, &len);
            if (st == CL_ERR_TIMEOUT)
                continue;
            if (st != CL_OK)
                return st;
        }
        handle(p, &from, msg, len);
        free(msg);
    }
    return CL_OK;
}

/* ------------------------------------------------------------ test hooks (net/platform_internal.h) */

void net_platform_handle_for_test(net_platform *p, const char *client_key_z85, const uint8_t *buf, size_t len)
{
    if (!p || !client_key_z85 || strlen(client_key_z85) != NET_KEY_Z85_LEN || (!buf && len))
        return;
    /* no ZeroMQ connection has this routing id: libzmq's own start with a zero byte, and no owner sets one */
    static const char rid[] = "\xff" "cipherl-handler-test";
    net_peer peer;
    memset(&peer, 0, sizeof peer);
    memcpy(peer.routing_id, rid, sizeof rid - 1);
    peer.routing_len = sizeof rid - 1;
    memcpy(peer.client_key, client_key_z85, NET_KEY_Z85_LEN + 1);
    static const uint8_t none = 0;
    handle(p, &peer, buf ? buf : &none, len);
}

bool net_platform_session_for_test(const net_platform *p, const char *client_key_z85, net_session_info *info)
{
    memset(info, 0, sizeof *info);
    for (const session *s = p ? p->sessions : NULL; s && client_key_z85; s = s->next)
        if (!strcmp(s->key, client_key_z85)) {
            rl_he_dqn_pf_scalars sc;
            rl_he_dqn_pf_get_scalars(s->pf, &sc);
            info->env_steps = (uint64_t)sc.env_steps;
            info->initialized = sc.initialized ? 1 : 0;
            info->train_steps = (uint64_t)sc.train_steps;
            info->last_seq = s->last_seq;
            return true;
        }
    return false;
}
