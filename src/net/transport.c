/* The owner/platform transport: ZeroMQ CURVE (see transport.h).
 *
 * Server: one ZeroMQ context per net_server, holding the ROUTER socket (CURVE
 * server) and a REP socket bound at inproc://zeromq.zap.01, served by a thread
 * of the object: the ZAP handler (RFC 27). libzmq asks it about every CURVE
 * handshake; it accepts any well-formed CURVE request for our domain and
 * answers with User-Id = Z85(client public key), which libzmq then attaches
 * to every message of that connection. The handler is bound before the ROUTER
 * so no handshake can happen without it, and net_server_recv also discards
 * any message without a valid User-Id.
 *
 * Closing: the ROUTER is closed, zmq_ctx_shutdown() makes the handler's
 * blocking receive fail with ETERM, the thread closes its socket and is
 * joined, then zmq_ctx_term() waits out the (short) linger.
 *
 * Client: one context per net_client with one DEALER socket (CURVE client),
 * replaced by a fresh one on net_client_reconnect.
 *
 * libzmq's ZMQ_MAXMSGSIZE applies to every wire frame: the handshake
 * commands, and messages as CURVE MESSAGE commands, 33 bytes longer than the
 * payload. The server sets it to max_msg_bytes (at least HANDSHAKE_FLOOR)
 * plus a slack for that overhead, and enforces the exact bound itself in
 * net_server_recv. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cipherl/ring.h"
#include "net/transport.h"

#define KEY_BYTES 32
#define LINGER_MS 100           /* on close: a short chance to flush what was queued */
#define CURVE_SLACK 64          /* >= the 33 bytes CURVE adds to each wire frame */
#define HANDSHAKE_FLOOR 4096    /* ZMQ_MAXMSGSIZE also bounds the CURVE handshake commands
                                   (HELLO is 200 bytes, INITIATE about 300 plus metadata) */
#define ENDPOINT_MAX 1024
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "cipherl"
#define ZAP_CURVE_PARTS 7 /* version, request id, domain, address, identity, mechanism, key */

#define SECRET_HEADER "cipherl-curve-secret-v1\n"
#define PUBLIC_HEADER "cipherl-curve-public-v1\n"
#define HEADER_LEN (sizeof SECRET_HEADER - 1)
#define SECRET_FILE_LEN (HEADER_LEN + 2 * (NET_KEY_Z85_LEN + 1))
#define PUBLIC_FILE_LEN (HEADER_LEN + NET_KEY_Z85_LEN + 1)

_Static_assert(sizeof SECRET_HEADER == sizeof PUBLIC_HEADER, "headers of one length");

/* ===================================================================== keys */

/* the 85 characters of ZeroMQ RFC 32, digit values 0 to 84 */
static const char Z85_ALPHABET[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static int z85_digit(char ch)
{
    const char *p = ch ? strchr(Z85_ALPHABET, ch) : NULL;
    return p ? (int)(p - Z85_ALPHABET) : -1;
}

bool net_key_z85_valid(const char *z85)
{
    if (!z85)
        return false;
    for (size_t i = 0; i < NET_KEY_Z85_LEN; i += 5) {
        uint64_t v = 0;
        for (size_t j = 0; j < 5; j++) {
            int d = z85_digit(z85[i + j]); /* stops at a NUL: z85_digit('\0') < 0 */
            if (d < 0)
                return false;
            v = v * 85 + (uint64_t)d;
        }
        if (v > UINT32_MAX)
            return false;
    }
    return z85[NET_KEY_Z85_LEN] == '\0';
}

static bool key_decode(const char *z85, uint8_t out[KEY_BYTES])
{
    return net_key_z85_valid(z85) && zmq_z85_decode(out, z85) != NULL;
}

void net_keypair_wipe(net_keypair *kp)
{
    if (kp)
        sodium_memzero(kp, sizeof *kp);
}

bool net_keypair_valid(const net_keypair *kp)
{
    if (!kp || sodium_init() < 0)
        return false;
    uint8_t sk[KEY_BYTES], pk[KEY_BYTES], derived[KEY_BYTES];
    bool ok = key_decode(kp->secret_z85, sk) && key_decode(kp->public_z85, pk) &&
              crypto_scalarmult_base(derived, sk) == 0 && sodium_memcmp(derived, pk, KEY_BYTES) == 0;
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(derived, sizeof derived);
    return ok;
}

cl_status net_keypair_generate(net_keypair *kp)
{
    if (!kp)
        return CL_ERR_INVALID;
    if (sodium_init() < 0)
        return CL_ERR_RNG;
    /* what crypto_box_keypair does, with getrandom failures reported instead of aborting */
    uint8_t sk[KEY_BYTES], pk[KEY_BYTES];
    cl_status st = ring_random_bytes(sk, sizeof sk);
    if (st == CL_OK && crypto_scalarmult_base(pk, sk) != 0)
        st = CL_ERR_RNG;
    if (st == CL_OK) {
        net_keypair k;
        if (!zmq_z85_encode(k.public_z85, pk, KEY_BYTES) || !zmq_z85_encode(k.secret_z85, sk, KEY_BYTES))
            st = CL_ERR_INVALID; /* cannot happen: 32 is a multiple of 4 */
        else
            *kp = k;
        sodium_memzero(&k, sizeof k);
    }
    sodium_memzero(sk, sizeof sk);
    return st;
}

/* ---------------------------------------------------------------- files */

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Writes text to a fresh temporary file next to path, with the given mode,
 * flushed to disk; returns its malloc'ed name, or NULL (nothing left behind). */
static char *write_temp(const char *path, const char *text, size_t len, mode_t mode)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof suffix);
    if (!tmp)
        return NULL;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    int fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, mode 0600 */
    if (fd < 0) {
        free(tmp);
        return NULL;
    }
    bool ok = fchmod(fd, mode) == 0 && write_all(fd, text, len) && fsync(fd) == 0;
    if (close(fd) != 0)
        ok = false;
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return NULL;
    }
    return tmp;
}

/* Best effort: makes a new name in path's directory durable. */
static void sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

static void unlink_free(char *tmp)
{
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
}

cl_status net_keypair_save(const net_keypair *kp, const char *secret_path, const char *public_path)
{
    if (!kp || !secret_path || !*secret_path || !net_keypair_valid(kp))
        return CL_ERR_INVALID;
    if (public_path && (!*public_path || !strcmp(public_path, secret_path)))
        return CL_ERR_INVALID;
    char stext[SECRET_FILE_LEN + 1], ptext[PUBLIC_FILE_LEN + 1];
    snprintf(stext, sizeof stext, SECRET_HEADER "%s\n%s\n", kp->secret_z85, kp->public_z85);
    snprintf(ptext, sizeof ptext, PUBLIC_HEADER "%s\n", kp->public_z85);

    cl_status st = CL_ERR_IO;
    char *stmp = write_temp(secret_path, stext, SECRET_FILE_LEN, 0600);
    sodium_memzero(stext, sizeof stext);
    char *ptmp = NULL;
    if (!stmp || (public_path && !(ptmp = write_temp(public_path, ptext, PUBLIC_FILE_LEN, 0644))))
        goto done;
    /* link() never replaces an existing name: the files appear whole or not at all */
    if (link(stmp, secret_path) != 0)
        goto done;
    if (ptmp && link(ptmp, public_path) != 0) {
        unlink(secret_path);
        goto done;
    }
    st = CL_OK;
done:
    unlink_free(stmp);
    unlink_free(ptmp);
    if (st == CL_OK) {
        sync_dir_of(secret_path);
        if (public_path)
            sync_dir_of(public_path);
    }
    return st;
}

/* Reads a small regular file into buf (at most cap bytes; CL_ERR_FORMAT if
 * longer). A secret file must not be accessible by group or others. */
static cl_status read_key_file(const char *path, bool secret, char *buf, size_t cap, size_t *len)
{
    if (!path)
        return CL_ERR_INVALID;
    /* O_NONBLOCK: a FIFO in place of the file must not hang us (refused below) */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return CL_ERR_IO;
    cl_status st = CL_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        st = CL_ERR_IO;
    else if (!S_ISREG(sb.st_mode) || (secret && (sb.st_mode & (S_IRWXG | S_IRWXO))))
        st = CL_ERR_INVALID;
    size_t n = 0;
    while (st == CL_OK) {
        if (n > cap) {
            st = CL_ERR_FORMAT;
            break;
        }
        /* one byte past cap tells a too-long file */
        char extra;
        char *dst = n < cap ? buf + n : &extra;
        ssize_t r = read(fd, dst, n < cap ? cap - n : 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            st = CL_ERR_IO;
        } else if (r == 0) {
            break;
        } else {
            n += (size_t)r;
        }
    }
    close(fd);
    *len = n;
    return st;
}

/* Whether text[0..len) is header, then NET_KEY_Z85_LEN characters and '\n'
 * for each of nkeys keys; copies the keys out (NUL-terminated). */
static bool parse_key_file(const char *text, size_t len, const char *header, size_t nkeys,
                           char keys[][NET_KEY_Z85_LEN + 1])
{
    if (len != HEADER_LEN + nkeys * (NET_KEY_Z85_LEN + 1) || memcmp(text, header, HEADER_LEN) != 0)
        return false;
    for (size_t k = 0; k < nkeys; k++) {
        const char *p = text + HEADER_LEN + k * (NET_KEY_Z85_LEN + 1);
        if (p[NET_KEY_Z85_LEN] != '\n')
            return false;
        memcpy(keys[k], p, NET_KEY_Z85_LEN);
        keys[k][NET_KEY_Z85_LEN] = '\0';
        if (!net_key_z85_valid(keys[k]))
            return false;
    }
    return true;
}

cl_status net_keypair_load(const char *secret_path, net_keypair *kp)
{
    if (!secret_path || !kp)
        return CL_ERR_INVALID;
    char text[SECRET_FILE_LEN];
    size_t len = 0;
    cl_status st = read_key_file(secret_path, true, text, sizeof text, &len);
    if (st == CL_OK) {
        net_keypair k;
        char keys[2][NET_KEY_Z85_LEN + 1];
        if (!parse_key_file(text, len, SECRET_HEADER, 2, keys)) {
            st = CL_ERR_FORMAT;
        } else {
            memcpy(k.secret_z85, keys[0], sizeof k.secret_z85);
            memcpy(k.public_z85, keys[1], sizeof k.public_z85);
            if (net_keypair_valid(&k))
                *kp = k;
            else
                st = CL_ERR_FORMAT; /* the public key is not the secret's */
        }
        sodium_memzero(keys, sizeof keys);
        sodium_memzero(&k, sizeof k);
    }
    sodium_memzero(text, sizeof text);
    return st;
}

cl_status net_public_key_load(const char *public_path, char out[NET_KEY_Z85_LEN + 1])
{
    if (!public_path || !out)
        return CL_ERR_INVALID;
    char text[PUBLIC_FILE_LEN];
    size_t len = 0;
    cl_status st = read_key_file(public_path, false, text, sizeof text, &len);
    if (st != CL_OK)
        return st;
    char key[1][NET_KEY_Z85_LEN + 1];
    if (!parse_key_file(text, len, PUBLIC_HEADER, 1, key))
        return CL_ERR_FORMAT;
    memcpy(out, key[0], NET_KEY_Z85_LEN + 1);
    return CL_OK;
}

void net_allowlist_free(net_allowlist *a)
{
    if (!a)
        return;
    free(a->keys);
    a->keys = NULL;
    a->n = 0;
}

cl_status net_allowlist_load(const char *path, net_allowlist *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!path || !out)
        return CL_ERR_INVALID;
    out->keys = NULL;
    out->n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return CL_ERR_IO;
    }
    net_allowlist a = {0};
    size_t cap = 0;
    char line[256];
    cl_status st = CL_OK;
    for (long no = 1; fgets(line, sizeof line, f); no++) {
        size_t len = strlen(line);
        const bool whole = len > 0 && (line[len - 1] == '\n' || feof(f));
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            line[--len] = '\0';
        const char *t = line;
        while (*t == ' ' || *t == '\t')
            t++;
        if (!whole) {
            st = CL_ERR_FORMAT;
            if (err && errlen)
                snprintf(err, errlen, "%s:%ld: line too long for a key", path, no);
            break;
        }
        const bool key = net_key_z85_valid(t); /* first: '#' is a Z85 digit */
        if (!key && (!*t || *t == '#' || !strncmp(t, PUBLIC_HEADER, HEADER_LEN - 1)))
            continue;
        if (!key) {
            st = CL_ERR_FORMAT;
            if (err && errlen)
                snprintf(err, errlen, "%s:%ld: not a CURVE public key in Z85 (40 characters)", path, no);
            break;
        }
        if (a.n == cap) {
            size_t nc = cap ? 2 * cap : 8;
            void *k = realloc(a.keys, nc * sizeof *a.keys);
            if (!k) {
                st = CL_ERR_NOMEM;
                break;
            }
            a.keys = k;
            cap = nc;
        }
        memcpy(a.keys[a.n++], t, NET_KEY_Z85_LEN + 1);
    }
    if (st == CL_OK && ferror(f)) {
        st = CL_ERR_IO;
        if (err && errlen)
            snprintf(err, errlen, "cannot read %s", path);
    }
    fclose(f);
    if (st != CL_OK) {
        net_allowlist_free(&a);
        return st;
    }
    *out = a;
    return CL_OK;
}

/* =========================================================== zmq helpers */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until sock is readable: CL_OK, CL_ERR_TIMEOUT past deadline (unless
 * forever), CL_ERR_NET. */
static cl_status wait_readable(void *sock, bool forever, int64_t deadline)
{
    for (;;) {
        long wait = -1;
        if (!forever) {
            int64_t left = deadline - now_ms();
            wait = left > 0 ? (long)left : 0;
        }
        zmq_pollitem_t item = {.socket = sock, .fd = 0, .events = ZMQ_POLLIN, .revents = 0};
        int rc = zmq_poll(&item, 1, wait);
        if (rc > 0 && (item.revents & ZMQ_POLLIN))
            return CL_OK;
        if (rc < 0 && errno != EINTR)
            return CL_ERR_NET;
        if (!forever && wait == 0 && rc == 0)
            return CL_ERR_TIMEOUT;
    }
}

/* After a discarded message: whether to give up (so that a stream of
 * discarded messages cannot hold a receive past its deadline). */
static bool expired(bool forever, int64_t deadline)
{
    return !forever && now_ms() >= deadline;
}

/* zmq_msg_recv, retried on EINTR; -1 with errno otherwise */
static int msg_recv(zmq_msg_t *m, void *sock, int flags)
{
    for (;;) {
        int rc = zmq_msg_recv(m, sock, flags);
        if (rc >= 0 || errno != EINTR)
            return rc;
    }
}

/* zmq_send, retried on EINTR; never passes NULL data */
static int send_part(void *sock, const void *buf, size_t len, int flags)
{
    static const uint8_t none = 0;
    if (!buf)
        buf = &none;
    for (;;) {
        int rc = zmq_send(sock, buf, len, flags);
        if (rc >= 0 || errno != EINTR)
            return rc;
    }
}

static void free_buffer(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Sends the malloc'ed msg without copying it: libzmq frees it once sent (from
 * its I/O thread); on failure it is freed here. */
static int send_owned(void *sock, uint8_t *msg, size_t len, int flags)
{
    if (!msg)
        return send_part(sock, NULL, 0, flags);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, msg, len, free_buffer, NULL) != 0) {
        free(msg);
        return -1;
    }
    for (;;) {
        if (zmq_msg_send(&m, sock, flags) >= 0)
            return 0; /* the message (and msg) now belong to libzmq */
        if (errno != EINTR)
            break;
    }
    int err = errno;
    zmq_msg_close(&m); /* frees msg */
    errno = err;
    return -1;
}

/* Reads and discards the remaining parts of a multipart message. */
static void drain_parts(void *sock)
{
    int more = 1;
    size_t sz = sizeof more;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = msg_recv(&m, sock, 0); /* parts of a message arrive together */
        zmq_msg_close(&m);
        if (rc < 0)
            return;
        sz = sizeof more;
    }
}

static void ctx_term(void *ctx)
{
    while (zmq_ctx_term(ctx) != 0 && errno == EINTR) {
    }
}

static void close_socket(void *sock, int linger)
{
    if (sock) {
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(sock);
    }
}

/* A malloc'ed copy of m's data (one byte allocated for an empty message). */
static uint8_t *copy_out(zmq_msg_t *m)
{
    size_t n = zmq_msg_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf && n)
        memcpy(buf, zmq_msg_data(m), n);
    return buf;
}

/* The errno of a failed connect/bind as a status: a malformed endpoint is the
 * caller's mistake. */
static cl_status endpoint_error(int err)
{
    return (err == EINVAL || err == EPROTONOSUPPORT || err == ENOCOMPATPROTO) ? CL_ERR_INVALID : CL_ERR_NET;
}

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

/* IPv6 only for IPv6 literals ("tcp://[::1]:5555"): with ZMQ_IPV6 set,
 * libzmq would report an IPv4 endpoint as "tcp://[::ffff:127.0.0.1]:...". */
static int set_ipv6_for(void *sock, const char *endpoint)
{
    return set_int(sock, ZMQ_IPV6, strncmp(endpoint, "tcp://[", 7) == 0);
}

/* =============================================================== ZAP */

static bool part_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* What the ZAP handler thread reads: its socket and the allow-list (NULL:
 * any key), which the server keeps until the thread has ended. */
typedef struct zap_args {
    void *sock;
    const net_allowlist *allow;
} zap_args;

static bool allowed(const net_allowlist *allow, const char *key)
{
    if (!allow)
        return true;
    for (size_t i = 0; i < allow->n; i++)
        if (!strcmp(allow->keys[i], key))
            return true;
    return false;
}

/* One ZAP reply (6 parts) to the request in parts[0..n); complete is false if
 * it had more parts than we kept. Returns -1 if the socket failed. */
static int zap_reply(void *sock, const net_allowlist *allow, zmq_msg_t *parts, size_t n, bool complete)
{
    char user_id[NET_KEY_Z85_LEN + 1] = "";
    bool ok = complete && n == ZAP_CURVE_PARTS && part_is(&parts[0], "1.0") && part_is(&parts[2], ZAP_DOMAIN) &&
              part_is(&parts[5], "CURVE") && zmq_msg_size(&parts[6]) == KEY_BYTES &&
              zmq_z85_encode(user_id, zmq_msg_data(&parts[6]), KEY_BYTES) != NULL;
    const bool let_in = ok && allowed(allow, user_id);
    const void *req_id = n >= 2 ? zmq_msg_data(&parts[1]) : NULL;
    size_t req_len = n >= 2 ? zmq_msg_size(&parts[1]) : 0;
    const char *code = let_in ? "200" : "400";
    const char *text = let_in ? "OK" : ok ? "not on the allow-list" : "bad request";
    ok = let_in;
    if (send_part(sock, "1.0", 3, ZMQ_SNDMORE) < 0 || send_part(sock, req_id, req_len, ZMQ_SNDMORE) < 0 ||
        send_part(sock, code, 3, ZMQ_SNDMORE) < 0 || send_part(sock, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        send_part(sock, user_id, ok ? NET_KEY_Z85_LEN : 0, ZMQ_SNDMORE) < 0 || send_part(sock, NULL, 0, 0) < 0)
        return -1;
    return 0;
}

/* The ZAP handler thread: serves requests until the context shuts down. */
static void *zap_main(void *arg)
{
    const zap_args *za = arg;
    void *sock = za->sock;
    for (;;) {
        zmq_msg_t parts[ZAP_CURVE_PARTS];
        size_t n = 0;
        bool complete = true, failed = false;
        int more = 1;
        while (more) {
            zmq_msg_t extra;
            zmq_msg_t *m = n < ZAP_CURVE_PARTS ? &parts[n] : &extra;
            zmq_msg_init(m);
            if (msg_recv(m, sock, 0) < 0) { /* ETERM: the server is closing */
                zmq_msg_close(m);
                failed = true;
                break;
            }
            more = zmq_msg_more(m);
            if (m == &extra) {
                zmq_msg_close(m);
                complete = false;
            } else {
                n++;
            }
        }
        int rc = failed ? -1 : zap_reply(sock, za->allow, parts, n, complete);
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
        if (rc < 0)
            break;
    }
    close_socket(sock, 0);
    return NULL;
}

/* ============================================================ server */

struct net_server {
    void *ctx;
    void *router;
    void *zap; /* until the thread owns it */
    pthread_t zap_thread;
    bool zap_started;
    zap_args zap_arg;
    net_allowlist allow; /* the copy zap_arg.allow points to, if any */
    size_t max_msg_bytes;
    char endpoint[ENDPOINT_MAX];
};

void net_server_close(net_server *s)
{
    if (!s)
        return;
    close_socket(s->router, LINGER_MS);
    close_socket(s->zap, 0);
    if (s->ctx) {
        zmq_ctx_shutdown(s->ctx); /* the handler's receive fails with ETERM */
        if (s->zap_started)
            pthread_join(s->zap_thread, NULL);
        ctx_term(s->ctx);
    }
    net_allowlist_free(&s->allow);
    free(s);
}

cl_status net_server_open(const char *endpoint, const net_keypair *server_kp, size_t max_msg_bytes,
                          net_server **out)
{
    return net_server_open_allow(endpoint, server_kp, max_msg_bytes, NULL, out);
}

cl_status net_server_open_allow(const char *endpoint, const net_keypair *server_kp, size_t max_msg_bytes,
                                const net_allowlist *allow, net_server **out)
{
    if (out)
        *out = NULL;
    if (!endpoint || !server_kp || !out || !net_keypair_valid(server_kp))
        return CL_ERR_INVALID;
    if (max_msg_bytes == 0 || max_msg_bytes > (size_t)(INT64_MAX - CURVE_SLACK))
        return CL_ERR_INVALID;
    if (allow && allow->n && !allow->keys)
        return CL_ERR_INVALID;
    for (size_t i = 0; allow && i < allow->n; i++)
        if (!net_key_z85_valid(allow->keys[i]))
            return CL_ERR_INVALID;
    net_server *s = calloc(1, sizeof *s);
    if (!s)
        return CL_ERR_NOMEM;
    s->max_msg_bytes = max_msg_bytes;
    if (allow) {
        s->allow.n = allow->n;
        s->allow.keys = malloc((allow->n ? allow->n : 1) * sizeof *s->allow.keys);
        if (!s->allow.keys) {
            free(s);
            return CL_ERR_NOMEM;
        }
        if (allow->n)
            memcpy(s->allow.keys, allow->keys, allow->n * sizeof *s->allow.keys);
        s->zap_arg.allow = &s->allow;
    }
    cl_status st = CL_ERR_NET;
    s->ctx = zmq_ctx_new();
    if (!s->ctx)
        goto fail;

    /* the ZAP handler first: no handshake may happen without it */
    s->zap = zmq_socket(s->ctx, ZMQ_REP);
    if (!s->zap || set_int(s->zap, ZMQ_LINGER, 0) != 0 || zmq_bind(s->zap, ZAP_ENDPOINT) != 0)
        goto fail;
    /* the handler takes no signals (as libzmq's own threads): they stay with the caller's threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    s->zap_arg.sock = s->zap;
    int prc = pthread_create(&s->zap_thread, NULL, zap_main, &s->zap_arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        st = CL_ERR_NOMEM;
        goto fail;
    }
    s->zap_started = true;
    s->zap = NULL; /* the thread's now */

    int64_t maxsize = (int64_t)(max_msg_bytes > HANDSHAKE_FLOOR ? max_msg_bytes : HANDSHAKE_FLOOR) + CURVE_SLACK;
    s->router = zmq_socket(s->ctx, ZMQ_ROUTER);
    if (!s->router || set_int(s->router, ZMQ_LINGER, LINGER_MS) != 0 || set_ipv6_for(s->router, endpoint) != 0 ||
        set_int(s->router, ZMQ_ROUTER_MANDATORY, 1) != 0 || set_int(s->router, ZMQ_CURVE_SERVER, 1) != 0 ||
        zmq_setsockopt(s->router, ZMQ_CURVE_SECRETKEY, server_kp->secret_z85, NET_KEY_Z85_LEN) != 0 ||
        zmq_setsockopt(s->router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0 ||
        zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize) != 0)
        goto fail;
    if (zmq_bind(s->router, endpoint) != 0) {
        st = endpoint_error(errno);
        goto fail;
    }
    size_t elen = sizeof s->endpoint;
    if (zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, s->endpoint, &elen) != 0)
        goto fail;
    s->endpoint[sizeof s->endpoint - 1] = '\0';
    *out = s;
    return CL_OK;
fail:
    net_server_close(s);
    return st;
}

const char *net_server_endpoint(const net_server *s)
{
    return s ? s->endpoint : NULL;
}

cl_status net_server_recv(net_server *s, int timeout_ms, net_peer *from, uint8_t **msg, size_t *len)
{
    if (!s || !from || !msg || !len || timeout_ms < -1)
        return CL_ERR_INVALID;
    bool forever = timeout_ms == -1;
    int64_t deadline = forever ? 0 : now_ms() + timeout_ms;
    for (;;) {
        cl_status st = wait_readable(s->router, forever, deadline);
        if (st != CL_OK)
            return st;
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        if (msg_recv(&id, s->router, ZMQ_DONTWAIT) < 0) {
            int err = errno;
            zmq_msg_close(&id);
            if (err == EAGAIN)
                continue;
            return CL_ERR_NET;
        }
        if (!zmq_msg_more(&id)) { /* a ROUTER always gives the routing id, then the message */
            zmq_msg_close(&id);
            if (expired(forever, deadline))
                return CL_ERR_TIMEOUT;
            continue;
        }
        zmq_msg_init(&body);
        if (msg_recv(&body, s->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&body);
            return CL_ERR_NET; /* the parts of a message arrive together */
        }
        bool keep = true;
        if (zmq_msg_more(&body)) { /* one frame per message: discard the others */
            drain_parts(s->router);
            keep = false;
        }
        const char *user = zmq_msg_gets(&body, "User-Id");
        size_t idlen = zmq_msg_size(&id);
        keep = keep && user && net_key_z85_valid(user) && idlen > 0 && idlen <= NET_ROUTING_ID_MAX &&
               zmq_msg_size(&body) <= s->max_msg_bytes;
        if (!keep) {
            zmq_msg_close(&id);
            zmq_msg_close(&body);
            if (expired(forever, deadline))
                return CL_ERR_TIMEOUT;
            continue;
        }
        uint8_t *buf = copy_out(&body);
        if (buf) {
            *len = zmq_msg_size(&body);
            memcpy(from->routing_id, zmq_msg_data(&id), idlen);
            from->routing_len = idlen;
            memcpy(from->client_key, user, NET_KEY_Z85_LEN + 1);
            *msg = buf;
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        return buf ? CL_OK : CL_ERR_NOMEM;
    }
}

static bool peer_ok(const net_peer *to)
{
    return to && to->routing_len > 0 && to->routing_len <= NET_ROUTING_ID_MAX;
}

/* ROUTER_MANDATORY: an unknown peer (EHOSTUNREACH) or a full queue (EAGAIN)
 * fails on the routing id, before the message is queued. */
static int send_routing_id(net_server *s, const net_peer *to)
{
    return send_part(s->router, to->routing_id, to->routing_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
}

cl_status net_server_send(net_server *s, const net_peer *to, const uint8_t *msg, size_t len)
{
    if (!s || !peer_ok(to) || (!msg && len))
        return CL_ERR_INVALID;
    if (send_routing_id(s, to) < 0 || send_part(s->router, msg, len, ZMQ_DONTWAIT) < 0)
        return CL_ERR_NET;
    return CL_OK;
}

cl_status net_server_send_owned(net_server *s, const net_peer *to, uint8_t *msg, size_t len)
{
    if (!s || !peer_ok(to) || (!msg && len)) {
        free(msg);
        return CL_ERR_INVALID;
    }
    if (send_routing_id(s, to) < 0) {
        free(msg);
        return CL_ERR_NET;
    }
    return send_owned(s->router, msg, len, ZMQ_DONTWAIT) < 0 ? CL_ERR_NET : CL_OK;
}

/* ============================================================ client */

struct net_client {
    void *ctx;
    void *dealer;
    char *endpoint;
    net_keypair kp;
    char server_key[NET_KEY_Z85_LEN + 1];
};

/* A fresh DEALER, connecting. */
static cl_status client_connect(net_client *c)
{
    c->dealer = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->dealer)
        return CL_ERR_NET;
    if (set_int(c->dealer, ZMQ_LINGER, LINGER_MS) != 0 || set_ipv6_for(c->dealer, c->endpoint) != 0 ||
        zmq_setsockopt(c->dealer, ZMQ_CURVE_SERVERKEY, c->server_key, NET_KEY_Z85_LEN) != 0 ||
        zmq_setsockopt(c->dealer, ZMQ_CURVE_PUBLICKEY, c->kp.public_z85, NET_KEY_Z85_LEN) != 0 ||
        zmq_setsockopt(c->dealer, ZMQ_CURVE_SECRETKEY, c->kp.secret_z85, NET_KEY_Z85_LEN) != 0) {
        close_socket(c->dealer, 0);
        c->dealer = NULL;
        return CL_ERR_NET;
    }
    if (zmq_connect(c->dealer, c->endpoint) != 0) {
        cl_status st = endpoint_error(errno);
        close_socket(c->dealer, 0);
        c->dealer = NULL;
        return st;
    }
    return CL_OK;
}

void net_client_close(net_client *c)
{
    if (!c)
        return;
    close_socket(c->dealer, LINGER_MS);
    if (c->ctx)
        ctx_term(c->ctx);
    free(c->endpoint);
    sodium_memzero(c, sizeof *c);
    free(c);
}

cl_status net_client_open(const char *endpoint, const net_keypair *client_kp, const char *server_public_z85,
                          net_client **out)
{
    if (out)
        *out = NULL;
    if (!endpoint || !client_kp || !server_public_z85 || !out || !net_keypair_valid(client_kp) ||
        !net_key_z85_valid(server_public_z85))
        return CL_ERR_INVALID;
    net_client *c = calloc(1, sizeof *c);
    if (!c)
        return CL_ERR_NOMEM;
    cl_status st = CL_ERR_NOMEM;
    c->endpoint = strdup(endpoint);
    if (!c->endpoint)
        goto fail;
    c->kp = *client_kp;
    memcpy(c->server_key, server_public_z85, sizeof c->server_key);
    st = CL_ERR_NET;
    c->ctx = zmq_ctx_new();
    if (!c->ctx)
        goto fail;
    st = client_connect(c);
    if (st != CL_OK)
        goto fail;
    *out = c;
    return CL_OK;
fail:
    net_client_close(c);
    return st;
}

cl_status net_client_reconnect(net_client *c)
{
    if (!c)
        return CL_ERR_INVALID;
    close_socket(c->dealer, 0); /* drop whatever is queued either way */
    c->dealer = NULL;
    return client_connect(c);
}

cl_status net_client_send(net_client *c, const uint8_t *msg, size_t len)
{
    if (!c || (!msg && len))
        return CL_ERR_INVALID;
    if (!c->dealer)
        return CL_ERR_NET; /* a failed reconnect: call net_client_reconnect again */
    return send_part(c->dealer, msg, len, ZMQ_DONTWAIT) < 0 ? CL_ERR_NET : CL_OK;
}

cl_status net_client_send_owned(net_client *c, uint8_t *msg, size_t len)
{
    if (!c || (!msg && len)) {
        free(msg);
        return CL_ERR_INVALID;
    }
    if (!c->dealer) {
        free(msg);
        return CL_ERR_NET;
    }
    return send_owned(c->dealer, msg, len, ZMQ_DONTWAIT) < 0 ? CL_ERR_NET : CL_OK;
}

cl_status net_client_recv(net_client *c, int timeout_ms, uint8_t **msg, size_t *len)
{
    if (!c || !msg || !len || timeout_ms < -1)
        return CL_ERR_INVALID;
    if (!c->dealer)
        return CL_ERR_NET;
    bool forever = timeout_ms == -1;
    int64_t deadline = forever ? 0 : now_ms() + timeout_ms;
    for (;;) {
        cl_status st = wait_readable(c->dealer, forever, deadline);
        if (st != CL_OK)
            return st;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (msg_recv(&m, c->dealer, ZMQ_DONTWAIT) < 0) {
            int err = errno;
            zmq_msg_close(&m);
            if (err == EAGAIN)
                continue;
            return CL_ERR_NET;
        }
        if (zmq_msg_more(&m)) { /* one frame per message */
            zmq_msg_close(&m);
            drain_parts(c->dealer);
            if (expired(forever, deadline))
                return CL_ERR_TIMEOUT;
            continue;
        }
        uint8_t *buf = copy_out(&m);
        size_t n = zmq_msg_size(&m);
        zmq_msg_close(&m);
        if (!buf)
            return CL_ERR_NOMEM;
        *msg = buf;
        *len = n;
        return CL_OK;
    }
}
