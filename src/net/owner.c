/* The owner's side of the protocol (docs/protocol.md): requests with a
 * sequence number, refreshes of the ciphertexts the platform hands back, and
 * retries on a fresh connection after silence. A retried request carries the
 * same sequence number, so the platform applies it once. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cipherl/net.h"
#include "net/transport.h"
#include "net/wire.h"
#include "rl/he_dqn.h"

struct net_owner {
    net_owner_config cfg;
    const ckks_params *params;
    slots_ctx *ctx;
    slots_owner *owner;
    net_client *cli;
    net_keypair kp;
    char server_key[NET_KEY_Z85_LEN + 1];
    char endpoint[256];
    uint64_t seq;
    net_buf req, aux;
    uint8_t *reply; /* the last reply (owned), parsed into msg */
    size_t reply_len;
    net_msg msg;
    net_owner_stats stats;
    char last_error[512];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void logf_(net_owner *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(net_owner *o, const char *fmt, ...)
{
    if (!o->cfg.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->cfg.log(o->cfg.log_user, line);
}

cl_status net_owner_open(const net_owner_config *cfg, const ckks_params *params, slots_ctx *ctx, slots_owner *owner,
                         net_owner **out)
{
    if (!cfg || !cfg->endpoint || !cfg->server_key || !cfg->key_file || !params || !ctx || !owner || !out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (!net_key_z85_valid(cfg->server_key) || strlen(cfg->endpoint) >= 256)
        return CL_ERR_INVALID;
    net_owner *o = calloc(1, sizeof *o);
    if (!o)
        return CL_ERR_NOMEM;
    o->cfg = *cfg;
    if (o->cfg.timeout_ms <= 0)
        o->cfg.timeout_ms = 120000;
    if (o->cfg.retries <= 0)
        o->cfg.retries = 20;
    o->params = params;
    o->ctx = ctx;
    o->owner = owner;
    snprintf(o->server_key, sizeof o->server_key, "%s", cfg->server_key);
    snprintf(o->endpoint, sizeof o->endpoint, "%s", cfg->endpoint);
    o->cfg.endpoint = o->endpoint;
    o->cfg.server_key = o->server_key;
    o->cfg.key_file = NULL;
    cl_status st = net_keypair_load(cfg->key_file, &o->kp);
    if (st == CL_OK)
        st = net_client_open(o->endpoint, &o->kp, o->server_key, &o->cli);
    if (st != CL_OK) {
        net_owner_close(o);
        return st;
    }
    *out = o;
    return CL_OK;
}

void net_owner_close(net_owner *o)
{
    if (!o)
        return;
    net_client_close(o->cli);
    net_keypair_wipe(&o->kp);
    net_buf_free(&o->req);
    net_buf_free(&o->aux);
    net_msg_free(&o->msg);
    free(o->reply);
    free(o);
}

const char *net_owner_last_error(const net_owner *o)
{
    return o ? o->last_error : "";
}

const net_owner_stats *net_owner_get_stats(const net_owner *o)
{
    return o ? &o->stats : NULL;
}

/* Serializes v as the next blob of b. */
static cl_status put_vec(net_buf *b, const slots_vec *v)
{
    size_t len;
    cl_status st = slots_vec_serialize(v, NULL, 0, &len);
    if (st != CL_OK)
        return st;
    uint8_t *dst = net_msg_put_blob_space(b, len);
    if (!dst)
        return b->failed ? (cl_status)b->failed : CL_ERR_NOMEM;
    return slots_vec_serialize(v, dst, len, &len);
}

/* The platform asked for refreshes: decrypt-free re-encryption by the owner
 * (slots_ckks_owner_refresh never hands back a decrypted value). */
static cl_status answer_refresh(net_owner *o, const net_msg *m)
{
    /* the refresh's number goes back with it: the platform knows a late answer to one it already had */
    uint64_t number = 0;
    cl_status st = net_msg_u64(m, 0, &number);
    if (st != CL_OK)
        return st;
    net_msg_begin(&o->aux, NET_MSG_REFRESH, m->seq);
    net_msg_put_u64(&o->aux, number);
    for (uint32_t i = 1; i < m->n_items && st == CL_OK; i++) {
        const uint8_t *data;
        size_t len;
        ckks_ciphertext *ct = NULL;
        if ((st = net_msg_blob(m, i, &data, &len)) != CL_OK ||
            (st = ckks_ciphertext_deserialize(o->params, data, len, &ct)) != CL_OK)
            break;
        st = slots_ckks_owner_refresh(o->owner, ct);
        size_t need = 0;
        if (st == CL_OK)
            st = ckks_ciphertext_serialize(ct, NULL, 0, &need);
        uint8_t *dst = st == CL_OK ? net_msg_put_blob_space(&o->aux, need) : NULL;
        if (st == CL_OK && !dst)
            st = CL_ERR_NOMEM;
        if (st == CL_OK)
            st = ckks_ciphertext_serialize(ct, dst, need, &need);
        ckks_ciphertext_free(ct);
        o->stats.refreshes++;
    }
    if (st == CL_OK)
        st = net_msg_finish(&o->aux);
    if (st == CL_OK) {
        st = net_client_send(o->cli, o->aux.data, o->aux.len);
        o->stats.bytes_sent += o->aux.len;
    }
    return st;
}

/* The silence to allow on the next try after a try that waited `wait_ms`. */
static int next_wait_ms(int wait_ms, int first_ms)
{
    const int cap = first_ms > NET_OWNER_MAX_WAIT_MS ? first_ms : NET_OWNER_MAX_WAIT_MS;
    return wait_ms >= cap / 2 ? cap : 2 * wait_ms;
}

/* Sends o->req (finished, with sequence number seq) and waits for its reply
 * of type `want`, answering refresh requests on the way; on silence, sends it
 * again on a fresh connection. The reply is parsed into o->msg. */
static cl_status transact(net_owner *o, net_msg_type want)
{
    const uint64_t seq = o->seq;
    const double t0 = now_s();
    cl_status st = CL_OK;
    o->last_error[0] = '\0';
    o->stats.requests++;
    int wait_ms = o->cfg.timeout_ms, waited_ms = 0;
    for (int attempt = 0; attempt <= o->cfg.retries; attempt++) {
        if (attempt > 0) {
            o->stats.retries++;
            logf_(o, "no answer from %s for %.3g s: reconnecting and sending request %llu again (try %d of %d, "
                  "waiting up to %.3g s)",
                  o->endpoint, waited_ms / 1000.0, (unsigned long long)seq, attempt, o->cfg.retries, wait_ms / 1000.0);
            if ((st = net_client_reconnect(o->cli)) != CL_OK)
                break;
        }
        if ((st = net_client_send(o->cli, o->req.data, o->req.len)) != CL_OK)
            break;
        o->stats.bytes_sent += o->req.len;
        for (;;) {
            free(o->reply);
            o->reply = NULL;
            net_msg_free(&o->msg);
            st = net_client_recv(o->cli, wait_ms, &o->reply, &o->reply_len);
            if (st != CL_OK)
                break;
            o->stats.bytes_received += o->reply_len;
            char why[256];
            if ((st = net_msg_parse(o->reply, o->reply_len, SIZE_MAX, &o->msg, why, sizeof why)) != CL_OK) {
                snprintf(o->last_error, sizeof o->last_error, "malformed reply: %s", why);
                o->stats.seconds += now_s() - t0;
                return st;
            }
            if (o->msg.seq != seq)
                continue; /* a stale reply to an earlier try */
            if (o->msg.type == NET_MSG_REFRESH_REQ) {
                if ((st = answer_refresh(o, &o->msg)) != CL_OK) {
                    snprintf(o->last_error, sizeof o->last_error, "refresh failed: %s", cl_strerror(st));
                    o->stats.seconds += now_s() - t0;
                    return st;
                }
                continue;
            }
            if (o->msg.type == NET_MSG_ERROR) {
                uint64_t code = 0;
                char text[400] = "";
                net_msg_u64(&o->msg, 0, &code);
                net_msg_str(&o->msg, 1, text, sizeof text);
                snprintf(o->last_error, sizeof o->last_error, "%s (%s)", text,
                         code < CL_STATUS_COUNT ? cl_strerror((cl_status)code) : "?");
                o->stats.seconds += now_s() - t0;
                return CL_ERR_REFUSED;
            }
            if (o->msg.type != (uint16_t)want) {
                snprintf(o->last_error, sizeof o->last_error, "unexpected reply %s to a request waiting for %s",
                         net_msg_type_name(o->msg.type), net_msg_type_name(want));
                o->stats.seconds += now_s() - t0;
                return CL_ERR_FORMAT;
            }
            o->stats.seconds += now_s() - t0;
            return CL_OK;
        }
        if (st != CL_ERR_TIMEOUT)
            break;
        /* A platform still busy with a long request would be asked to start it over at every try: wait
         * twice as long each time, up to NET_OWNER_MAX_WAIT_MS (or the configured timeout, if longer). */
        waited_ms = wait_ms;
        wait_ms = next_wait_ms(wait_ms, o->cfg.timeout_ms);
    }
    if (st == CL_ERR_TIMEOUT)
        snprintf(o->last_error, sizeof o->last_error, "the platform at %s did not answer", o->endpoint);
    o->stats.seconds += now_s() - t0;
    return st;
}

cl_status net_owner_hello(net_owner *o, const char *env_id, const char *hparams, uint64_t sample_seed,
                          const uint8_t *params, size_t params_len, const uint8_t *eval_keys, size_t eval_keys_len,
                          net_session_info *info)
{
    if (!o || !env_id || !hparams || !params || !eval_keys)
        return CL_ERR_INVALID;
    /* HELLO is idempotent: it always carries sequence number 0 */
    o->seq = 0;
    net_msg_begin(&o->req, NET_MSG_HELLO, 0);
    net_msg_put_str(&o->req, env_id);
    net_msg_put_str(&o->req, hparams);
    net_msg_put_u64(&o->req, sample_seed);
    net_msg_put_blob(&o->req, params, params_len);
    net_msg_put_blob(&o->req, eval_keys, eval_keys_len);
    cl_status st = net_msg_finish(&o->req);
    if (st == CL_OK)
        st = transact(o, NET_MSG_HELLO_OK);
    if (st != CL_OK)
        return st;
    net_session_info in = {0};
    if ((st = net_msg_u64(&o->msg, 0, &in.env_steps)) != CL_OK || (st = net_msg_u64(&o->msg, 1, &in.initialized)) != CL_OK ||
        (st = net_msg_u64(&o->msg, 2, &in.train_steps)) != CL_OK || (st = net_msg_u64(&o->msg, 3, &in.last_seq)) != CL_OK)
        return st;
    o->seq = in.last_seq;
    if (info)
        *info = in;
    return CL_OK;
}

cl_status net_owner_init(net_owner *o, slots_vec *const *vecs, size_t n)
{
    if (!o || !vecs)
        return CL_ERR_INVALID;
    const uint64_t seq = o->seq + 1;
    net_msg_begin(&o->req, NET_MSG_INIT, seq);
    cl_status st = CL_OK;
    for (size_t i = 0; i < n && st == CL_OK; i++)
        st = put_vec(&o->req, vecs[i]);
    if (st == CL_OK)
        st = net_msg_finish(&o->req);
    if (st != CL_OK)
        return st;
    o->seq = seq;
    return transact(o, NET_MSG_ACK);
}

cl_status net_owner_pull(net_owner *o, char *env_id, size_t env_cap, char *hparams, size_t hp_cap)
{
    if (!o || !env_id || !hparams)
        return CL_ERR_INVALID;
    net_msg_begin(&o->req, NET_MSG_PULL, o->seq);
    cl_status st = net_msg_finish(&o->req);
    if (st == CL_OK)
        st = transact(o, NET_MSG_WEIGHTS);
    if (st == CL_OK && (st = net_msg_str(&o->msg, 0, env_id, env_cap)) == CL_OK)
        st = net_msg_str(&o->msg, 1, hparams, hp_cap);
    return st;
}

cl_status net_owner_pulled_weights(net_owner *o, slots_ctx *ctx, slots_vec *const *w, size_t n)
{
    if (!o || !ctx || !w || o->msg.type != NET_MSG_WEIGHTS)
        return CL_ERR_INVALID;
    if (o->msg.n_items != n + 2) {
        snprintf(o->last_error, sizeof o->last_error, "the platform sent %u weight vectors; the network has %zu",
                 o->msg.n_items - 2, n);
        return CL_ERR_FORMAT;
    }
    cl_status st = CL_OK;
    for (size_t i = 0; i < n && st == CL_OK; i++) {
        const uint8_t *data;
        size_t len;
        if ((st = net_msg_blob(&o->msg, (uint32_t)(i + 2), &data, &len)) == CL_OK)
            st = slots_vec_deserialize(ctx, data, len, w[i]);
    }
    return st;
}

static uint64_t bytes_moved(const net_owner *o)
{
    return o->stats.bytes_sent + o->stats.bytes_received;
}

static cl_status link_act(void *user, slots_vec *x, slots_vec *q)
{
    net_owner *o = user;
    const uint64_t b0 = bytes_moved(o);
    const double t0 = now_s();
    /* read-only on the platform: it carries the last applied sequence number */
    net_msg_begin(&o->req, NET_MSG_ACT, o->seq);
    cl_status st = put_vec(&o->req, x);
    if (st == CL_OK)
        st = net_msg_finish(&o->req);
    if (st == CL_OK)
        st = transact(o, NET_MSG_Q);
    const uint8_t *data;
    size_t len;
    if (st == CL_OK && (st = net_msg_blob(&o->msg, 0, &data, &len)) == CL_OK)
        st = slots_vec_deserialize(o->ctx, data, len, q);
    o->stats.acts++;
    o->stats.bytes_act += bytes_moved(o) - b0;
    o->stats.seconds_act += now_s() - t0;
    return st;
}

static cl_status link_step(void *user, int64_t step, slots_vec *const tr[RL_HE_DQN_TRANSITION_VECS],
                           int64_t gradient_steps, bool update_target)
{
    net_owner *o = user;
    const uint64_t seq = o->seq + 1;
    net_msg_begin(&o->req, NET_MSG_STEP, seq);
    net_msg_put_u64(&o->req, (uint64_t)step);
    cl_status st = CL_OK;
    for (int k = 0; k < RL_HE_DQN_TRANSITION_VECS && st == CL_OK; k++)
        st = put_vec(&o->req, tr[k]);
    net_msg_put_u64(&o->req, (uint64_t)gradient_steps);
    net_msg_put_u64(&o->req, update_target ? 1 : 0);
    if (st == CL_OK)
        st = net_msg_finish(&o->req);
    if (st != CL_OK)
        return st;
    o->seq = seq;
    const uint64_t b0 = bytes_moved(o);
    const double t0 = now_s();
    st = transact(o, NET_MSG_ACK);
    if (gradient_steps > 0) {
        o->stats.trains++;
        o->stats.train_gradient_steps += (uint64_t)gradient_steps;
        o->stats.bytes_train += bytes_moved(o) - b0;
        o->stats.seconds_train += now_s() - t0;
    } else {
        o->stats.stores++;
        o->stats.bytes_store += bytes_moved(o) - b0;
        o->stats.seconds_store += now_s() - t0;
    }
    if (st != CL_OK)
        return st;
    uint64_t acked;
    if ((st = net_msg_u64(&o->msg, 0, &acked)) != CL_OK)
        return st;
    return acked == (uint64_t)step ? CL_OK : CL_ERR_STATE;
}

void net_owner_link(net_owner *o, struct rl_he_dqn_link *link)
{
    link->user = o;
    link->act = link_act;
    link->step = link_step;
}
