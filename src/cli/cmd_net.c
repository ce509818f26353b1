/* cipherl keygen | serve | train --server | model pull: the owner and the
 * platform as separate processes (docs/protocol.md).
 *
 * The owner's key directory (keygen --out DIR):
 *   params.ckks        the CKKS parameters
 *   secret.key         the CKKS secret key (mode 0600): never leaves the owner
 *   public.key         the CKKS public key
 *   eval.keys          relinearization and rotation keys: what the platform gets
 *   owner.curve(.pub)  the owner's transport keypair: its identity on the platform
 * The platform's state directory (serve --state DIR): platform.db (SQLite),
 * server.curve(.pub) (its transport keypair) and endpoint (the bound address). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cipherl/ckks.h"
#include "cipherl/net.h"
#include "cipherl/nn.h"
#include "cipherl/rl.h"
#include "cipherl/slots.h"
#include "cli/cli.h"
#include "cli/net_cli.h"
#include "cli/train.h"
#include "net/transport.h"
#include "nn/nn_he.h"
#include "rl/he_dqn.h"

/* ------------------------------------------------------------ files */

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            uint8_t *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                errno = ENOMEM;
                return -1;
            }
            b = nb;
        }
        const size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    const int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        errno = EIO;
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* Written whole or not at all: a temporary file, fsync, rename. */
static int write_file(const char *path, const uint8_t *buf, size_t len, mode_t mode)
{
    char tmp[2200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        const ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

typedef cl_status (*ser_fn)(const void *obj, uint8_t *buf, size_t cap, size_t *len);

static int save_obj(const char *dir, const char *name, const void *obj, ser_fn fn, mode_t mode, size_t *size)
{
    size_t len;
    cl_status st = fn(obj, NULL, 0, &len);
    uint8_t *buf = st == CL_OK ? malloc(len) : NULL;
    if (st == CL_OK && !buf)
        st = CL_ERR_NOMEM;
    if (st == CL_OK)
        st = fn(obj, buf, len, &len);
    char path[2100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = 0;
    if (st != CL_OK) {
        cli_error("keygen: cannot serialize %s: %s", name, cl_strerror(st));
        rc = 1;
    } else if (write_file(path, buf, len, mode) != 0) {
        cli_error("keygen: cannot write '%s': %s", path, strerror(errno));
        rc = 1;
    }
    if (buf) {
        memset(buf, 0, len); /* the secret key's bytes too */
        free(buf);
    }
    if (size)
        *size = len;
    return rc;
}

static cl_status ser_params(const void *o, uint8_t *b, size_t c, size_t *l) { return ckks_params_serialize(o, b, c, l); }
static cl_status ser_sk(const void *o, uint8_t *b, size_t c, size_t *l) { return ckks_secret_key_serialize(o, b, c, l); }
static cl_status ser_pk(const void *o, uint8_t *b, size_t c, size_t *l) { return ckks_public_key_serialize(o, b, c, l); }
static cl_status ser_ek(const void *o, uint8_t *b, size_t c, size_t *l) { return ckks_eval_keys_serialize(o, b, c, l); }

/* ------------------------------------------------------------ the owner's keys */

typedef struct owner_keys {
    ckks_params *params;
    ckks_secret_key *sk;
    ckks_public_key *pk;
    uint8_t *params_bytes;
    size_t params_len;
} owner_keys;

static void owner_keys_free(owner_keys *k)
{
    ckks_public_key_free(k->pk);
    ckks_secret_key_free(k->sk);
    ckks_params_free(k->params);
    free(k->params_bytes);
    memset(k, 0, sizeof *k);
}

static int owner_keys_load(const char *cmd, const char *dir, int insecure, owner_keys *k)
{
    memset(k, 0, sizeof *k);
    char path[2100];
    uint8_t *sk = NULL, *pk = NULL;
    size_t skl = 0, pkl = 0;
    snprintf(path, sizeof path, "%s/params.ckks", dir);
    if (read_file(path, &k->params_bytes, &k->params_len) != 0) {
        cli_error("%s: cannot read '%s': %s (make keys with 'cipherl keygen --out %s')", cmd, path, strerror(errno), dir);
        return 1;
    }
    cl_status st = ckks_params_deserialize(k->params_bytes, k->params_len, insecure ? CKKS_ALLOW_INSECURE : 0, &k->params);
    if (st == CL_ERR_INSECURE) {
        cli_error("%s: the keys in %s are for a parameter set below 128-bit security: only for tests, with --insecure",
                  cmd, dir);
        owner_keys_free(k);
        return 2;
    }
    snprintf(path, sizeof path, "%s/secret.key", dir);
    struct stat sb;
    if (st == CL_OK && stat(path, &sb) == 0 && (sb.st_mode & 077)) {
        cli_error("%s: '%s' is readable by others (mode %03o): chmod 600 it", cmd, path, (unsigned)(sb.st_mode & 0777));
        owner_keys_free(k);
        return 1;
    }
    if (st == CL_OK && read_file(path, &sk, &skl) != 0) {
        cli_error("%s: cannot read '%s': %s", cmd, path, strerror(errno));
        owner_keys_free(k);
        return 1;
    }
    if (st == CL_OK)
        st = ckks_secret_key_deserialize(k->params, sk, skl, &k->sk);
    if (sk) {
        memset(sk, 0, skl);
        free(sk);
    }
    snprintf(path, sizeof path, "%s/public.key", dir);
    if (st == CL_OK && read_file(path, &pk, &pkl) != 0) {
        cli_error("%s: cannot read '%s': %s", cmd, path, strerror(errno));
        owner_keys_free(k);
        return 1;
    }
    if (st == CL_OK)
        st = ckks_public_key_deserialize(k->params, pk, pkl, &k->pk);
    free(pk);
    if (st != CL_OK) {
        cli_error("%s: the keys in %s do not load: %s", cmd, dir, cl_strerror(st));
        owner_keys_free(k);
        return 1;
    }
    return 0;
}

/* The evaluation keys HE-DQN needs for env and hp: eval.keys if it covers the
 * census's rotations, else new ones (saved over it). Serialized into *bytes. */
static int eval_keys_for(const char *cmd, const char *dir, const owner_keys *k, const char *env_id,
                         const rl_he_dqn_hparams *hp, uint8_t **bytes, size_t *len)
{
    rl_he_dqn_census census;
    cl_status st = rl_he_dqn_census_run(env_id, hp, ckks_params_max_level(k->params), &census);
    if (st != CL_OK) {
        cli_error("%s: census of %s failed: %s", cmd, env_id, cl_strerror(st));
        return 1;
    }
    char path[2100];
    snprintf(path, sizeof path, "%s/eval.keys", dir);
    ckks_eval_keys *ek = NULL;
    if (read_file(path, bytes, len) == 0) {
        if (ckks_eval_keys_deserialize(k->params, *bytes, *len, &ek) == CL_OK) {
            bool ok = ckks_eval_keys_has_relin(ek);
            for (size_t i = 0; i < census.n_rot_steps && ok; i++)
                ok = ckks_eval_keys_has_galois(ek, ckks_galois_element(k->params, census.rot_steps[i]));
            ckks_eval_keys_free(ek);
            if (ok)
                return 0;
        }
        free(*bytes);
        *bytes = NULL;
    }
    fprintf(stderr, "cipherl: %s: making evaluation keys for the %zu rotations %s needs (saved to %s)\n", cmd,
            census.n_rot_steps, env_id, path);
    if ((st = ckks_eval_keys_create(k->sk, CKKS_KEYS_RELIN, census.rot_steps, census.n_rot_steps, &ek)) != CL_OK) {
        cli_error("%s: cannot make evaluation keys: %s", cmd, cl_strerror(st));
        return 1;
    }
    int rc = save_obj(dir, "eval.keys", ek, ser_ek, 0644, NULL);
    ckks_eval_keys_free(ek);
    if (rc == 0 && read_file(path, bytes, len) != 0) {
        cli_error("%s: cannot read back '%s'", cmd, path);
        rc = 1;
    }
    return rc;
}

/* The platform's transport key: Z85 text, a file, or DIR/server.curve.pub. */
static int server_key_resolve(const char *cmd, const char *arg, const char *keys_dir, char out[NET_KEY_Z85_LEN + 1])
{
    char path[2100];
    if (arg && net_key_z85_valid(arg)) {
        snprintf(out, NET_KEY_Z85_LEN + 1, "%s", arg);
        return 0;
    }
    if (arg)
        snprintf(path, sizeof path, "%s", arg);
    else
        snprintf(path, sizeof path, "%s/server.curve.pub", keys_dir);
    cl_status st = net_public_key_load(path, out);
    if (st != CL_OK) {
        cli_error("%s: the platform's key: cannot load '%s': %s (give --server-key with the Z85 key or the "
                  "server.curve.pub file that 'cipherl serve' wrote)",
                  cmd, path, cl_strerror(st));
        return 2;
    }
    return 0;
}

static void log_stderr(void *user, const char *line)
{
    const char *who = user;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "%s %s: %s\n", ts, who, line);
}

/* ------------------------------------------------------------ keygen */

int cli_cmd_keygen(int argc, char **argv)
{
    const char *preset = NULL, *out = NULL, *env_id = "CartPole-v1";
    const char *hps[CLI_TRAIN_MAX_HP];
    int n_hp = 0, insecure = 0, missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: cipherl keygen --preset P --out DIR [--insecure] [--env ENV] [--hp NAME=VALUE]...\n"
                   "Makes an owner's keys in DIR (created 0700): params.ckks, secret.key (mode 0600,\n"
                   "never to leave the owner), public.key, eval.keys (relinearization and the rotations\n"
                   "HE-DQN needs for ENV, default CartPole-v1, with its HE hyperparameters and --hp),\n"
                   "and owner.curve / owner.curve.pub, the owner's transport identity.\n"
                   "Test presets need --insecure.\n");
            return 0;
        } else if (!strcmp(argv[i], "--insecure")) {
            insecure = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--preset", &missing))) {
            preset = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &missing))) {
            out = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--env", &missing))) {
            env_id = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--hp", &missing))) {
            if (n_hp == CLI_TRAIN_MAX_HP) {
                cli_error("keygen: too many --hp options");
                return 2;
            }
            hps[n_hp++] = v;
        } else if (!missing) {
            cli_error("keygen: unknown option '%s' (try 'cipherl keygen --help')", argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("keygen: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    if (!preset || !out) {
        cli_error("keygen: --preset P and --out DIR are required");
        return 2;
    }
    rl_he_dqn_hparams hp;
    if (rl_he_dqn_hparams_for_env(env_id, &hp) != CL_OK) {
        cli_error("keygen: no HE-DQN for environment '%s' (a discrete task from 'cipherl env list')", env_id);
        return 2;
    }
    char err[1280];
    for (int k = 0; k < n_hp; k++)
        if (rl_he_dqn_hp_assign(&hp, hps[k], err, sizeof err) != CL_OK) {
            cli_error("keygen: --hp %s: %s", hps[k], err);
            return 2;
        }
    ckks_params *params = NULL;
    if (cli_load_preset("keygen", preset, insecure, &params))
        return 2;
    char path[2100];
    snprintf(path, sizeof path, "%s/secret.key", out);
    if (access(path, F_OK) == 0) {
        cli_error("keygen: %s already holds keys; refusing to overwrite them (choose another --out)", out);
        ckks_params_free(params);
        return 1;
    }
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        cli_error("keygen: cannot create '%s': %s", out, strerror(errno));
        ckks_params_free(params);
        return 1;
    }
    owner_keys k = {.params = params};
    cl_status st = ckks_secret_key_create(params, &k.sk);
    if (st == CL_OK)
        st = ckks_public_key_create(k.sk, &k.pk);
    if (st != CL_OK) {
        cli_error("keygen: %s", cl_strerror(st));
        owner_keys_free(&k);
        return 1;
    }
    size_t sp = 0, ss = 0, sk = 0;
    int rc = save_obj(out, "params.ckks", params, ser_params, 0644, &sp);
    if (rc == 0)
        rc = save_obj(out, "secret.key", k.sk, ser_sk, 0600, &ss);
    if (rc == 0)
        rc = save_obj(out, "public.key", k.pk, ser_pk, 0644, &sk);
    uint8_t *ek = NULL;
    size_t ekl = 0;
    if (rc == 0)
        rc = eval_keys_for("keygen", out, &k, env_id, &hp, &ek, &ekl);
    free(ek);
    net_keypair kp;
    char sec[2100], pub[2100];
    snprintf(sec, sizeof sec, "%s/owner.curve", out);
    snprintf(pub, sizeof pub, "%s/owner.curve.pub", out);
    if (rc == 0 && ((st = net_keypair_generate(&kp)) != CL_OK || (st = net_keypair_save(&kp, sec, pub)) != CL_OK)) {
        cli_error("keygen: transport keypair: %s", cl_strerror(st));
        rc = 1;
    }
    if (rc == 0)
        printf("keys for preset %s in %s: params.ckks (%zu B), secret.key (%zu B, mode 0600: keep it here), "
               "public.key (%zu B), eval.keys (%zu B, for %s), owner.curve (transport identity %.8s...)\n",
               preset, out, sp, ss, sk, ekl, env_id, kp.public_z85);
    net_keypair_wipe(&kp);
    owner_keys_free(&k);
    return rc;
}

/* ------------------------------------------------------------ serve */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int cli_cmd_serve(int argc, char **argv)
{
    const char *listen = NULL, *state = NULL, *allow = NULL;
    int insecure = 0, missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: cipherl serve --listen ADDR --state DIR [--allow FILE] [--insecure]\n"
                   "Runs a platform: it trains owners' agents on their ciphertexts. ADDR is\n"
                   "tcp://HOST:PORT (tcp://127.0.0.1:* picks a free port; the bound address is written\n"
                   "to DIR/endpoint). DIR keeps the durable state (platform.db) and the platform's\n"
                   "transport keypair; owners need DIR/server.curve.pub. The platform holds no secret\n"
                   "key: it refuses a DIR holding one. --allow FILE lets in only the owners whose\n"
                   "transport keys FILE lists (one Z85 key per line, or their owner.curve.pub files\n"
                   "concatenated); without it any owner who has the platform's key may connect.\n"
                   "--insecure serves test parameter sets.\n"
                   "SIGINT or SIGTERM stop it; kill -9 loses nothing it acknowledged.\n");
            return 0;
        } else if (!strcmp(argv[i], "--insecure")) {
            insecure = 1;
        } else if (!strcmp(argv[i], "--keys") || !strncmp(argv[i], "--keys=", 7) || !strcmp(argv[i], "--secret-key") ||
                   !strncmp(argv[i], "--secret-key=", 13)) {
            cli_error("serve: a platform never takes an owner's keys (%s): owners keep them", argv[i]);
            return 2;
        } else if ((v = cli_opt_value(argc, argv, &i, "--listen", &missing))) {
            listen = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--state", &missing))) {
            state = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--allow", &missing))) {
            allow = v;
        } else if (!missing) {
            cli_error("serve: unknown option '%s' (try 'cipherl serve --help')", argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("serve: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    if (!listen || !state) {
        cli_error("serve: --listen ADDR and --state DIR are required");
        return 2;
    }
    char err[1024] = "";
    net_platform_config cfg = {.listen = listen, .state_dir = state, .allow_insecure = insecure != 0,
                               .allow_file = allow, .log = log_stderr, .log_user = "platform"};
    net_platform *p = NULL;
    cl_status st = net_platform_open(&cfg, &p, err, sizeof err);
    if (st != CL_OK) {
        cli_error("serve: %s", err[0] ? err : cl_strerror(st));
        return 1;
    }
    char path[2100];
    snprintf(path, sizeof path, "%s/endpoint", state);
    const char *ep = net_platform_endpoint(p);
    if (write_file(path, (const uint8_t *)ep, strlen(ep), 0644) != 0)
        cli_error("serve: cannot write '%s': %s", path, strerror(errno));
    fprintf(stderr, "cipherl serve: listening on %s; platform key %s (in %s/server.curve.pub); %s%s%s\n", ep,
            net_platform_public_key(p), state, allow ? "owners allowed by " : "any owner may connect",
            allow ? allow : "", insecure ? "; serving insecure test parameters" : "");
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    st = net_platform_serve(p, &g_stop);
    net_platform_close(p);
    if (st != CL_OK) {
        cli_error("serve: %s", cl_strerror(st));
        return 1;
    }
    fprintf(stderr, "cipherl serve: stopped\n");
    return 0;
}

/* ------------------------------------------------------------ train --server */

/* The owner's side of a session: keys, contexts, connection. */
typedef struct owner_side {
    owner_keys k;
    slots_ctx *ctx;
    slots_owner *owner;
    net_owner *net;
} owner_side;

static void owner_side_free(owner_side *s)
{
    net_owner_close(s->net);
    slots_owner_free(s->owner);
    slots_ctx_free(s->ctx);
    owner_keys_free(&s->k);
}

static int owner_side_open(const char *cmd, const cli_train_opts *o, size_t S, owner_side *s)
{
    char skey[NET_KEY_Z85_LEN + 1], kfile[2100];
    if (server_key_resolve(cmd, o->server_key, o->keys_dir, skey))
        return 2;
    cl_status st = slots_ckks_create(s->k.params, NULL, S, &s->ctx);
    if (st == CL_OK)
        st = slots_ckks_owner_create(s->ctx, s->k.sk, &s->owner);
    if (st != CL_OK) {
        cli_error("%s: cannot set up the owner's side: %s", cmd, cl_strerror(st));
        return 1;
    }
    snprintf(kfile, sizeof kfile, "%s/owner.curve", o->keys_dir);
    net_owner_config nc = {.endpoint = o->server, .server_key = skey, .key_file = kfile, .timeout_ms = o->timeout_ms,
                           .log = log_stderr, .log_user = "owner"};
    if ((st = net_owner_open(&nc, s->k.params, s->ctx, s->owner, &s->net)) != CL_OK) {
        cli_error("%s: cannot connect to %s: %s (keys: %s)", cmd, o->server, cl_strerror(st), kfile);
        return 1;
    }
    return 0;
}

static int save_pulled(const char *cmd, owner_side *s, rl_he_dqn_ow *ow, const char *env_id, const char *out_path)
{
    char env[64], hpline[4096];
    cl_status st = net_owner_pull(s->net, env, sizeof env, hpline, sizeof hpline);
    if (st != CL_OK) {
        cli_error("%s: pull failed: %s%s%s", cmd, cl_strerror(st), net_owner_last_error(s->net)[0] ? ": " : "",
                  net_owner_last_error(s->net));
        return 1;
    }
    if (env_id && strcmp(env, env_id)) {
        cli_error("%s: the platform's session is for %s, not %s", cmd, env, env_id);
        return 1;
    }
    rl_he_dqn_hparams hp;
    char err[1280];
    if (rl_he_dqn_hp_parse_line(hpline, &hp, err, sizeof err) != CL_OK) {
        cli_error("%s: the platform sent unusable hyperparameters: %s", cmd, err);
        return 1;
    }
    size_t D, S;
    if ((st = rl_he_dqn_layout(env, &hp, &D, &S)) != CL_OK) {
        cli_error("%s: the platform's session has no usable layout: %s", cmd, cl_strerror(st));
        return 1;
    }
    const size_t nw = 3 * (2 * D + 1);
    slots_ctx *ctx = s->ctx;
    slots_owner *owner = s->owner;
    slots_ctx *ctx2 = NULL;
    slots_owner *owner2 = NULL;
    if (slots_count(ctx) != S) { /* model pull: the owner learns the layout only now */
        if ((st = slots_ckks_create(s->k.params, NULL, S, &ctx2)) != CL_OK ||
            (st = slots_ckks_owner_create(ctx2, s->k.sk, &owner2)) != CL_OK) {
            cli_error("%s: %s", cmd, cl_strerror(st));
            slots_ctx_free(ctx2);
            return 1;
        }
        ctx = ctx2;
        owner = owner2;
    }
    rl_he_dqn_ow *tmp_ow = NULL;
    if (!ow) {
        rl_he_dqn_link link;
        net_owner_link(s->net, &link);
        if ((st = rl_he_dqn_ow_create(env, &hp, ctx, owner, 0, &link, &tmp_ow)) != CL_OK) {
            cli_error("%s: %s", cmd, cl_strerror(st));
            slots_owner_free(owner2);
            slots_ctx_free(ctx2);
            return 1;
        }
        ow = tmp_ow;
    }
    slots_vec **w = calloc(nw, sizeof *w);
    st = w ? CL_OK : CL_ERR_NOMEM;
    for (size_t i = 0; i < nw && st == CL_OK; i++)
        st = slots_vec_create(ctx, &w[i]);
    if (st == CL_OK)
        st = net_owner_pulled_weights(s->net, ctx, w, nw);
    nn_mlp *net = NULL;
    rl_policy *pol = NULL;
    if (st == CL_OK)
        st = rl_he_dqn_ow_weights_to_mlp(ow, w, nw, &net);
    if (st == CL_OK && (st = rl_policy_from_mlp(RL_ALGO_DQN, env, net, &pol)) != CL_OK)
        nn_mlp_free(net);
    if (st == CL_OK)
        st = rl_policy_save(pol, out_path);
    rl_policy_free(pol);
    for (size_t i = 0; w && i < nw; i++)
        slots_vec_free(w[i]);
    free(w);
    rl_he_dqn_ow_free(tmp_ow);
    slots_owner_free(owner2);
    slots_ctx_free(ctx2);
    if (st != CL_OK) {
        cli_error("%s: cannot write the model '%s': %s", cmd, out_path, cl_strerror(st));
        return 1;
    }
    printf("model: the platform's weights for %s, decrypted here, written to %s\n", env, out_path);
    return 0;
}

int cli_train_remote_ex(const cli_train_opts *o, cli_remote_summary *sum)
{
    if (sum)
        memset(sum, 0, sizeof *sum);
    const rl_env_spec *spec = rl_env_find(o->env_id);
    if (!spec) {
        cli_error("train: unknown environment '%s' (see 'cipherl env list')", o->env_id);
        return 2;
    }
    if (spec->action_kind != RL_ACTION_DISCRETE || (o->algo && strcmp(o->algo, "dqn"))) {
        cli_error("train: a remote run trains HE-DQN on a discrete task; HE-TD3 is not served yet");
        return 2;
    }
    if (o->preset || o->levels || o->noise > 0) {
        cli_error("train: a remote run takes its parameters from the keys (--keys); --preset, --levels and --noise "
                  "do not apply");
        return 2;
    }
    rl_he_dqn_hparams hp;
    rl_he_dqn_hparams_for_env(o->env_id, &hp);
    char err[1280];
    for (int k = 0; k < o->n_hp; k++)
        if (rl_he_dqn_hp_assign(&hp, o->hps[k], err, sizeof err) != CL_OK) {
            cli_error("train: --hp %s: %s", o->hps[k], err);
            return 2;
        }
    if (rl_he_dqn_hp_check(&hp, err, sizeof err) != CL_OK) {
        cli_error("train: %s", err);
        return 2;
    }
    if (hp.optimizer == RL_HE_OPT_ADAM) {
        cli_error("train: optimizer=adam (exact 1/sqrt) cannot run on ciphertexts; use he_adam or sgd");
        return 2;
    }
    const int64_t steps = o->steps ? o->steps : hp.n_timesteps;
    hp.n_timesteps = steps;
    size_t D, S;
    if (rl_he_dqn_layout(o->env_id, &hp, &D, &S) != CL_OK) {
        cli_error("train: bad network shape");
        return 2;
    }
    owner_side s = {0};
    int rc = owner_keys_load("train", o->keys_dir, o->insecure, &s.k);
    if (rc)
        return rc;
    if (S > ckks_params_max_slots(s.k.params) || ckks_params_max_level(s.k.params) < nn_he_adam_depth()) {
        cli_error("train: the keys' parameters have %zu slots and %d levels; HE-DQN needs %zu slots and %d levels "
                  "(make keys with a larger preset, e.g. n14-l6 or n15)",
                  ckks_params_max_slots(s.k.params), ckks_params_max_level(s.k.params), S, nn_he_adam_depth());
        owner_keys_free(&s.k);
        return 2;
    }
    ckks_set_threads(o->threads);
    uint8_t *ek = NULL;
    size_t ekl = 0;
    if ((rc = eval_keys_for("train", o->keys_dir, &s.k, o->env_id, &hp, &ek, &ekl)) != 0 ||
        (rc = owner_side_open("train", o, S, &s)) != 0) {
        free(ek);
        owner_side_free(&s);
        return rc;
    }
    FILE *log = NULL, *trace = NULL;
    if (o->log_path && !(log = fopen(o->log_path, "w")))
        cli_error("train: cannot write '%s': %s", o->log_path, strerror(errno));
    if (o->trace_path && !(trace = fopen(o->trace_path, "w")))
        cli_error("train: cannot write '%s': %s", o->trace_path, strerror(errno));
    if ((o->log_path && !log) || (o->trace_path && !trace)) {
        if (log)
            fclose(log);
        if (trace)
            fclose(trace);
        free(ek);
        owner_side_free(&s);
        return 1;
    }
    if (log)
        fprintf(log, "step,episode,return,length\n");
    if (trace)
        fprintf(trace, "step,action\n");

    char hpline[2048];
    rl_he_dqn_hp_format(&hp, hpline, sizeof hpline);
    net_session_info info;
    const double t_setup = cli_now_s();
    cl_status st = net_owner_hello(s.net, o->env_id, hpline, rl_he_dqn_sample_seed(o->seed), s.k.params_bytes,
                                   s.k.params_len, ek, ekl, &info);
    free(ek);
    rl_he_dqn_ow *ow = NULL;
    rl_he_dqn_link link;
    net_owner_link(s.net, &link);
    if (st == CL_OK && info.env_steps > 0) {
        cli_error("train: the platform already holds %llu steps of this owner's session; the owner's side cannot "
                  "resume a session it did not keep (make new keys to start another)",
                  (unsigned long long)info.env_steps);
        rc = 1;
    }
    if (rc == 0 && st == CL_OK)
        st = rl_he_dqn_ow_create(o->env_id, &hp, s.ctx, s.owner, o->seed, &link, &ow);
    if (rc == 0 && st == CL_OK) {
        /* the encrypted initial state (sent again if an earlier INIT was applied but the run stopped: then the
         * platform refuses it, and the session goes on from its own state) */
        const size_t n = rl_he_dqn_init_count(&hp, o->env_id);
        slots_vec **v = calloc(n, sizeof *v);
        st = v ? CL_OK : CL_ERR_NOMEM;
        for (size_t i = 0; i < n && st == CL_OK; i++)
            st = slots_vec_create(s.ctx, &v[i]);
        if (st == CL_OK)
            st = rl_he_dqn_ow_initial_state(ow, v, n);
        if (st == CL_OK && !info.initialized)
            st = net_owner_init(s.net, v, n);
        for (size_t i = 0; v && i < n; i++)
            slots_vec_free(v[i]);
        free(v);
    }
    if (rc == 0 && st != CL_OK) {
        cli_error("train: cannot open the session on %s: %s%s%s", o->server, cl_strerror(st),
                  net_owner_last_error(s.net)[0] ? ": " : "", net_owner_last_error(s.net));
        rc = 1;
    }
    const double setup_s = cli_now_s() - t_setup;
    cli_episodes rr = {.log = log};
    const double t0 = cli_now_s();
    double last_draw = 0;
    int64_t done = 0;
    while (rc == 0 && done < steps) {
        st = rl_he_dqn_ow_learn(ow, 1, cli_on_episode, &rr);
        if (st != CL_OK) {
            if (o->progress)
                fputc('\n', stderr);
            cli_error("train: step %lld failed: %s%s%s", (long long)done + 1, cl_strerror(st),
                      net_owner_last_error(s.net)[0] ? ": " : "", net_owner_last_error(s.net));
            rc = 1;
            break;
        }
        if (trace)
            fprintf(trace, "%lld,%d\n", (long long)done + 1, rl_he_dqn_ow_actions(ow)[done]);
        done++;
        const double t = cli_now_s();
        if (o->progress && (t - last_draw >= 0.25 || done == steps)) {
            last_draw = t;
            cli_train_progress(done, steps, t - t0, rr.episodes, rr.recent, rr.n_recent, 0);
        }
    }
    const double elapsed = cli_now_s() - t0;
    if (o->progress && rc == 0)
        cli_train_progress(done, steps, elapsed, rr.episodes, rr.recent, rr.n_recent, 1);
    if (log && fclose(log) != 0 && rc == 0)
        rc = 1;
    if (trace && fclose(trace) != 0 && rc == 0)
        rc = 1;
    const net_owner_stats ns = *net_owner_get_stats(s.net);
    if (rc == 0 && o->out_path)
        rc = save_pulled("train", &s, ow, o->env_id, o->out_path);
    if (rc == 0) {
        double mean = 0;
        for (int i = 0; i < rr.n_recent; i++)
            mean += rr.recent[i];
        char mtxt[64] = "n/a (no episode finished)";
        if (rr.n_recent)
            snprintf(mtxt, sizeof mtxt, "%.2f", mean / rr.n_recent);
        const double per = done > 0 ? 1.0 / (double)done : 0.0;
        printf("trained HE-DQN on %s remotely (platform %s, seed %llu): %lld steps, %lld episodes in %.2f s "
               "(%.2f s per environment step); mean return of the last %d episodes %s\n",
               o->env_id, o->server, (unsigned long long)o->seed, (long long)done, (long long)rr.episodes, elapsed,
               elapsed * per, rr.n_recent, mtxt);
        printf("wire: %.0f bytes sent and %.0f received per environment step, %llu requests, %llu refreshes, "
               "%llu retries; session set-up %.2f s\n",
               (double)ns.bytes_sent * per, (double)ns.bytes_received * per, (unsigned long long)ns.requests,
               (unsigned long long)ns.refreshes, (unsigned long long)ns.retries, setup_s);
        cli_print_wire_split(stdout, &ns);
        if (sum) {
            sum->env_steps = done;
            sum->episodes = rr.episodes;
            sum->seconds = elapsed;
            sum->setup_seconds = setup_s;
            sum->bytes_sent = ns.bytes_sent;
            sum->bytes_received = ns.bytes_received;
            sum->refreshes = ns.refreshes;
            sum->mean_return = rr.n_recent ? mean / rr.n_recent : 0.0;
            sum->n_recent = rr.n_recent;
            sum->wire = ns;
        }
    }
    rl_he_dqn_ow_free(ow);
    owner_side_free(&s);
    return rc;
}

static void split_row(FILE *f, const char *what, uint64_t n, uint64_t bytes, double seconds)
{
    if (n)
        fprintf(f, "  %-38s %6llu x %10.3f MB, round trip %8.3f s\n", what, (unsigned long long)n,
                (double)bytes / (double)n / 1e6, seconds / (double)n);
    else
        fprintf(f, "  %-38s      0\n", what);
}

void cli_print_wire_split(FILE *f, const net_owner_stats *ns)
{
    const uint64_t all = ns->bytes_sent + ns->bytes_received;
    const uint64_t split = ns->bytes_act + ns->bytes_store + ns->bytes_train;
    fprintf(f, "wire by kind of request (bytes both ways and round trip, mean per request):\n");
    split_row(f, "greedy action (ACT)", ns->acts, ns->bytes_act, ns->seconds_act);
    split_row(f, "environment step, store only (STEP)", ns->stores, ns->bytes_store, ns->seconds_store);
    split_row(f, "environment step with training (STEP)", ns->trains, ns->bytes_train, ns->seconds_train);
    fprintf(f, "  %-38s %6s   %10.3f MB in all\n", "session set-up (HELLO, INIT, PULL)", "",
            (double)(all > split ? all - split : 0) / 1e6);
}

int cli_train_remote(const cli_train_opts *o)
{
    return cli_train_remote_ex(o, NULL);
}

/* ------------------------------------------------------------ model pull */

int cli_model_pull(int argc, char **argv)
{
    cli_train_opts o = {.threads = 1};
    int missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: cipherl model pull --server ADDR --keys DIR --out MODEL [--server-key K] [--insecure]\n"
                   "Downloads the encrypted weights the platform trained for this owner's key,\n"
                   "decrypts them with DIR/secret.key and writes a model file for 'cipherl eval'.\n");
            return 0;
        } else if (!strcmp(argv[i], "--insecure")) {
            o.insecure = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--server", &missing))) {
            o.server = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--keys", &missing))) {
            o.keys_dir = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &missing))) {
            o.out_path = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--server-key", &missing))) {
            o.server_key = v;
        } else if (!missing) {
            cli_error("model pull: unknown option '%s'", argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("model pull: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    if (!o.server || !o.keys_dir || !o.out_path) {
        cli_error("model pull: --server ADDR, --keys DIR and --out MODEL are required");
        return 2;
    }
    owner_side s = {0};
    int rc = owner_keys_load("model pull", o.keys_dir, o.insecure, &s.k);
    if (rc == 0)
        rc = owner_side_open("model pull", &o, ckks_params_max_slots(s.k.params), &s);
    if (rc == 0)
        rc = save_pulled("model pull", &s, NULL, NULL, o.out_path);
    owner_side_free(&s);
    return rc;
}
