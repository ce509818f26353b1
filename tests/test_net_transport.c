/* Tests of the CURVE transport (src/net/transport.h), over tcp://127.0.0.1:*
 * (ephemeral ports only): keypair files (round trip, modes, refusals); one
 * and two clients, each seen by the server under its own public key and
 * answered on its own connection; a client with the wrong server key, or
 * without CURVE, which never gets through; a 64 MB message; messages over the server's limit,
 * never delivered, the server serving on; reconnection, with no stale reply,
 * and across a restart of the server on the same port; a receive timeout that
 * signals do not cut short; argument checks. */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "net/transport.h"

#define ANY_PORT "tcp://127.0.0.1:*"
#define WAIT_MS 5000   /* for what must arrive (returns as soon as it does) */
#define SHORT_MS 300   /* for what must not arrive */
#define BIG_BYTES ((size_t)64 << 20)

static char tmpdir[64];
static net_keypair server_kp, alice_kp, bob_kp;

static int group_setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/cipherl_test_net_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    if (net_keypair_generate(&server_kp) != CL_OK || net_keypair_generate(&alice_kp) != CL_OK ||
        net_keypair_generate(&bob_kp) != CL_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char path[sizeof tmpdir + 260];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    net_keypair_wipe(&server_kp);
    net_keypair_wipe(&alice_kp);
    net_keypair_wipe(&bob_kp);
    return 0;
}

static void path_in_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static size_t entries_in_tmp(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------- helpers */

static net_server *open_server(size_t max_msg_bytes)
{
    net_server *s = NULL;
    assert_int_equal(net_server_open(ANY_PORT, &server_kp, max_msg_bytes, &s), CL_OK);
    assert_non_null(s);
    return s;
}

static net_client *open_client(const net_server *s, const net_keypair *kp)
{
    net_client *c = NULL;
    assert_int_equal(net_client_open(net_server_endpoint(s), kp, server_kp.public_z85, &c), CL_OK);
    assert_non_null(c);
    return c;
}

static void client_send_str(net_client *c, const char *text)
{
    assert_int_equal(net_client_send(c, (const uint8_t *)text, strlen(text)), CL_OK);
}

/* The server's next message must be text; returns who sent it. */
static net_peer server_expect(net_server *s, const char *text)
{
    net_peer from;
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(net_server_recv(s, WAIT_MS, &from, &msg, &len), CL_OK);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(msg, text, len);
    free(msg);
    return from;
}

static void client_expect(net_client *c, const char *text)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(net_client_recv(c, WAIT_MS, &msg, &len), CL_OK);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(msg, text, len);
    free(msg);
}

static void server_expect_nothing(net_server *s, int timeout_ms)
{
    net_peer from;
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(net_server_recv(s, timeout_ms, &from, &msg, &len), CL_ERR_TIMEOUT);
    assert_null(msg);
}

static void client_expect_nothing(net_client *c, int timeout_ms)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(net_client_recv(c, timeout_ms, &msg, &len), CL_ERR_TIMEOUT);
    assert_null(msg);
}

static void reply_str(net_server *s, const net_peer *to, const char *text)
{
    assert_int_equal(net_server_send(s, to, (const uint8_t *)text, strlen(text)), CL_OK);
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ------------------------------------------------------------------- keys */

static void test_z85_valid(void **state)
{
    (void)state;
    assert_true(net_key_z85_valid(server_kp.public_z85));
    assert_true(net_key_z85_valid(server_kp.secret_z85));
    assert_true(net_keypair_valid(&server_kp));
    assert_false(net_key_z85_valid(NULL));
    assert_false(net_key_z85_valid(""));
    char k[NET_KEY_Z85_LEN + 2];
    memcpy(k, server_kp.public_z85, sizeof server_kp.public_z85);
    k[NET_KEY_Z85_LEN - 1] = '\0'; /* 39 characters */
    assert_false(net_key_z85_valid(k));
    memcpy(k, server_kp.public_z85, sizeof server_kp.public_z85);
    k[NET_KEY_Z85_LEN] = 'a'; /* 41 characters */
    k[NET_KEY_Z85_LEN + 1] = '\0';
    assert_false(net_key_z85_valid(k));
    memcpy(k, server_kp.public_z85, sizeof server_kp.public_z85);
    k[7] = '"'; /* not in the alphabet */
    assert_false(net_key_z85_valid(k));
    memcpy(k, server_kp.public_z85, sizeof server_kp.public_z85);
    memcpy(k + 10, "#####", 5); /* 85^5 - 1 > 2^32 - 1 */
    assert_false(net_key_z85_valid(k));
    memcpy(k + 10, "%nSc0", 5); /* exactly 2^32 - 1 */
    assert_true(net_key_z85_valid(k));

    /* two fresh keypairs differ; a keypair whose halves do not belong together is invalid */
    assert_string_not_equal(alice_kp.public_z85, bob_kp.public_z85);
    assert_string_not_equal(alice_kp.secret_z85, bob_kp.secret_z85);
    net_keypair mixed = alice_kp;
    memcpy(mixed.public_z85, bob_kp.public_z85, sizeof mixed.public_z85);
    assert_false(net_keypair_valid(&mixed));
    net_keypair_wipe(&mixed);
    for (size_t i = 0; i < sizeof mixed; i++)
        assert_int_equal(((const unsigned char *)&mixed)[i], 0);
    assert_false(net_keypair_valid(&mixed));
}

static void test_keypair_files(void **state)
{
    (void)state;
    char sec[256], pub[256], other[256];
    path_in_tmp(sec, sizeof sec, "owner.secret");
    path_in_tmp(pub, sizeof pub, "owner.public");
    path_in_tmp(other, sizeof other, "other");
    size_t before = entries_in_tmp();

    assert_int_equal(net_keypair_save(&alice_kp, sec, pub), CL_OK);
    assert_int_equal(entries_in_tmp(), before + 2); /* no temporary file left */
    struct stat sb;
    assert_int_equal(stat(sec, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(pub, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);

    net_keypair kp;
    memset(&kp, 0, sizeof kp);
    assert_int_equal(net_keypair_load(sec, &kp), CL_OK);
    assert_string_equal(kp.public_z85, alice_kp.public_z85);
    assert_string_equal(kp.secret_z85, alice_kp.secret_z85);
    char key[NET_KEY_Z85_LEN + 1];
    assert_int_equal(net_public_key_load(pub, key), CL_OK);
    assert_string_equal(key, alice_kp.public_z85);

    /* the exact text */
    char want[256], got[256] = {0};
    snprintf(want, sizeof want, "cipherl-curve-public-v1\n%s\n", alice_kp.public_z85);
    FILE *f = fopen(pub, "r");
    assert_non_null(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    assert_int_equal(n, strlen(want));
    assert_string_equal(got, want);

    /* never overwrites: neither an existing secret nor an existing public file */
    assert_int_equal(net_keypair_save(&bob_kp, sec, pub), CL_ERR_IO);
    assert_int_equal(net_keypair_save(&bob_kp, other, pub), CL_ERR_IO);
    assert_int_equal(access(other, F_OK), -1);
    assert_int_equal(entries_in_tmp(), before + 2);
    assert_int_equal(net_keypair_load(sec, &kp), CL_OK);
    assert_string_equal(kp.secret_z85, alice_kp.secret_z85);
    /* the public file is optional; the two paths must differ; the keypair must be valid */
    assert_int_equal(net_keypair_save(&bob_kp, other, NULL), CL_OK);
    assert_int_equal(net_keypair_load(other, &kp), CL_OK);
    assert_string_equal(kp.public_z85, bob_kp.public_z85);
    unlink(other);
    assert_int_equal(net_keypair_save(&bob_kp, other, other), CL_ERR_INVALID);
    net_keypair mixed = alice_kp;
    memcpy(mixed.public_z85, bob_kp.public_z85, sizeof mixed.public_z85);
    assert_int_equal(net_keypair_save(&mixed, other, NULL), CL_ERR_INVALID);
    assert_int_equal(access(other, F_OK), -1);

    /* a secret file others can read is refused, then accepted again once 0600 */
    assert_int_equal(chmod(sec, 0644), 0);
    assert_int_equal(net_keypair_load(sec, &kp), CL_ERR_INVALID);
    assert_int_equal(chmod(sec, 0640), 0);
    assert_int_equal(net_keypair_load(sec, &kp), CL_ERR_INVALID);
    assert_int_equal(chmod(sec, 0600), 0);
    assert_int_equal(net_keypair_load(sec, &kp), CL_OK);
    /* a directory is not a key file */
    assert_int_equal(net_keypair_load(tmpdir, &kp), CL_ERR_INVALID);
    assert_int_equal(net_public_key_load(tmpdir, key), CL_ERR_INVALID);

    /* missing files */
    path_in_tmp(other, sizeof other, "missing");
    assert_int_equal(net_keypair_load(other, &kp), CL_ERR_IO);
    assert_int_equal(net_public_key_load(other, key), CL_ERR_IO);

    /* garbage, each refused with CL_ERR_FORMAT and kp left alone */
    char text[512];
    const char *bad[8];
    char b0[256], b1[256], b2[256], b3[256], b4[256], b5[256];
    const char *sk = alice_kp.secret_z85, *pk = alice_kp.public_z85;
    snprintf(b0, sizeof b0, "cipherl-curve-secret-v1\n%s\n%s", sk, pk);         /* no final newline */
    snprintf(b1, sizeof b1, "cipherl-curve-secret-v1\n%s\n%s\n\n", sk, pk);    /* a line too many */
    snprintf(b2, sizeof b2, "cipherl-curve-secret-v2\n%s\n%s\n", sk, pk);       /* unknown version */
    snprintf(b3, sizeof b3, "cipherl-curve-secret-v1\n%s\n%s\n", sk, bob_kp.public_z85); /* not its key */
    snprintf(b4, sizeof b4, "cipherl-curve-secret-v1\n%s\n%s\n", pk, sk);       /* swapped */
    snprintf(b5, sizeof b5, "cipherl-curve-public-v1\n%s\n", pk);                /* a public file */
    bad[0] = "";
    bad[1] = "garbage\n";
    bad[2] = b0;
    bad[3] = b1;
    bad[4] = b2;
    bad[5] = b3;
    bad[6] = b4;
    bad[7] = b5;
    path_in_tmp(other, sizeof other, "bad.secret");
    for (size_t i = 0; i < 8; i++) {
        write_file(other, bad[i], 0600);
        memset(&kp, 0x5a, sizeof kp);
        assert_int_equal(net_keypair_load(other, &kp), CL_ERR_FORMAT);
        assert_int_equal(((unsigned char *)&kp)[0], 0x5a);
    }
    memset(text, 'x', sizeof text - 1); /* long */
    text[sizeof text - 1] = '\0';
    write_file(other, text, 0600);
    assert_int_equal(net_keypair_load(other, &kp), CL_ERR_FORMAT);
    assert_int_equal(net_public_key_load(other, key), CL_ERR_FORMAT);
    /* a key with a character outside Z85 */
    snprintf(text, sizeof text, "cipherl-curve-public-v1\n%s\n", alice_kp.public_z85);
    text[30] = ' ';
    write_file(other, text, 0644);
    assert_int_equal(net_public_key_load(other, key), CL_ERR_FORMAT);
    write_file(other, "cipherl-curve-public-v1\n", 0644);
    assert_int_equal(net_public_key_load(other, key), CL_ERR_FORMAT);
    /* a secret file is not a public file */
    assert_int_equal(net_public_key_load(sec, key), CL_ERR_FORMAT);
    unlink(other);
    unlink(sec);
    unlink(pub);
    net_keypair_wipe(&kp);
}

/* ---------------------------------------------------------------- traffic */

static void test_round_trip(void **state)
{
    (void)state;
    net_server *s = open_server(1 << 20);
    const char *ep = net_server_endpoint(s);
    assert_non_null(ep);
    assert_int_equal(strncmp(ep, "tcp://127.0.0.1:", 16), 0);
    assert_int_equal(strchr(ep, '*'), NULL);
    assert_true(atoi(ep + 16) > 0);

    net_client *c = open_client(s, &alice_kp);
    client_send_str(c, "ping");
    net_peer from = server_expect(s, "ping");
    assert_string_equal(from.client_key, alice_kp.public_z85);
    assert_true(from.routing_len > 0);
    reply_str(s, &from, "pong");
    client_expect(c, "pong");

    /* empty messages are messages */
    assert_int_equal(net_client_send(c, NULL, 0), CL_OK);
    from = server_expect(s, "");
    assert_int_equal(net_server_send(s, &from, NULL, 0), CL_OK);
    client_expect(c, "");

    /* without a copy: the buffer is taken, whatever happens */
    uint8_t *owned = malloc(5);
    assert_non_null(owned);
    memcpy(owned, "owned", 5);
    assert_int_equal(net_client_send_owned(c, owned, 5), CL_OK);
    from = server_expect(s, "owned");
    owned = malloc(6);
    assert_non_null(owned);
    memcpy(owned, "thanks", 6);
    assert_int_equal(net_server_send_owned(s, &from, owned, 6), CL_OK);
    client_expect(c, "thanks");
    assert_int_equal(net_client_send_owned(c, NULL, 0), CL_OK);
    from = server_expect(s, "");
    assert_int_equal(net_server_send_owned(s, &from, NULL, 0), CL_OK);
    client_expect(c, "");

    /* several in flight keep their order */
    client_send_str(c, "one");
    client_send_str(c, "two");
    client_send_str(c, "three");
    server_expect(s, "one");
    server_expect(s, "two");
    from = server_expect(s, "three");
    reply_str(s, &from, "a");
    reply_str(s, &from, "b");
    client_expect(c, "a");
    client_expect(c, "b");
    client_expect_nothing(c, 0);
    server_expect_nothing(s, 0);

    net_client_close(c);
    net_server_close(s);
}

static void test_two_clients(void **state)
{
    (void)state;
    net_server *s = open_server(1 << 20);
    net_client *a = open_client(s, &alice_kp);
    net_client *b = open_client(s, &bob_kp);
    client_send_str(a, "from a");
    client_send_str(b, "from b");
    net_peer pa, pb;
    int got_a = 0, got_b = 0;
    for (int i = 0; i < 2; i++) {
        net_peer from;
        uint8_t *msg = NULL;
        size_t len = 0;
        assert_int_equal(net_server_recv(s, WAIT_MS, &from, &msg, &len), CL_OK);
        assert_int_equal(len, 6);
        if (!memcmp(msg, "from a", 6)) {
            assert_string_equal(from.client_key, alice_kp.public_z85);
            pa = from;
            got_a++;
        } else {
            assert_memory_equal(msg, "from b", 6);
            assert_string_equal(from.client_key, bob_kp.public_z85);
            pb = from;
            got_b++;
        }
        free(msg);
    }
    assert_int_equal(got_a, 1);
    assert_int_equal(got_b, 1);
    assert_string_not_equal(pa.client_key, pb.client_key);
    assert_false(pa.routing_len == pb.routing_len && !memcmp(pa.routing_id, pb.routing_id, pa.routing_len));
    /* each reply to its own client: answer b first */
    reply_str(s, &pb, pb.client_key);
    reply_str(s, &pa, pa.client_key);
    client_expect(a, alice_kp.public_z85);
    client_expect(b, bob_kp.public_z85);
    client_expect_nothing(a, 0);
    client_expect_nothing(b, 0);
    net_client_close(a);
    net_client_close(b);
    net_server_close(s);
}

static void test_wrong_server_key(void **state)
{
    (void)state;
    net_server *s = open_server(1 << 20);
    net_client *c = NULL;
    /* bob's public key instead of the server's: the handshake cannot complete */
    assert_int_equal(net_client_open(net_server_endpoint(s), &alice_kp, bob_kp.public_z85, &c), CL_OK);
    client_send_str(c, "let me in");
    client_expect_nothing(c, SHORT_MS);
    server_expect_nothing(s, SHORT_MS);
    net_client_close(c);

    /* a plain ZeroMQ client without CURVE gets nowhere either */
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    void *plain = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(plain);
    int zero = 0;
    assert_int_equal(zmq_setsockopt(plain, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_connect(plain, net_server_endpoint(s)), 0);
    assert_int_equal(zmq_send(plain, "plain", 5, 0), 5);
    server_expect_nothing(s, SHORT_MS);
    zmq_close(plain);

    /* a CURVE client that sends several frames: discarded, its next single frame is not */
    void *multi = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(multi);
    assert_int_equal(zmq_setsockopt(multi, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_setsockopt(multi, ZMQ_CURVE_SERVERKEY, server_kp.public_z85, NET_KEY_Z85_LEN), 0);
    assert_int_equal(zmq_setsockopt(multi, ZMQ_CURVE_PUBLICKEY, bob_kp.public_z85, NET_KEY_Z85_LEN), 0);
    assert_int_equal(zmq_setsockopt(multi, ZMQ_CURVE_SECRETKEY, bob_kp.secret_z85, NET_KEY_Z85_LEN), 0);
    assert_int_equal(zmq_connect(multi, net_server_endpoint(s)), 0);
    assert_int_equal(zmq_send(multi, "two", 3, ZMQ_SNDMORE), 3);
    assert_int_equal(zmq_send(multi, "frames", 6, 0), 6);
    assert_int_equal(zmq_send(multi, "one frame", 9, 0), 9);
    net_peer who = server_expect(s, "one frame");
    assert_string_equal(who.client_key, bob_kp.public_z85);
    zmq_close(multi);
    zmq_ctx_term(ctx);

    /* the server is fine */
    c = open_client(s, &alice_kp);
    client_send_str(c, "hello");
    net_peer from = server_expect(s, "hello");
    reply_str(s, &from, "hi");
    client_expect(c, "hi");
    net_client_close(c);
    net_server_close(s);
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void test_large_message(void **state)
{
    (void)state;
    uint8_t *big = malloc(BIG_BYTES);
    assert_non_null(big);
    for (size_t i = 0; i < BIG_BYTES; i += 8) {
        uint64_t v = mix(i);
        memcpy(big + i, &v, 8);
    }
    net_server *s = open_server(BIG_BYTES);
    net_client *c = open_client(s, &alice_kp);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(net_client_send(c, big, BIG_BYTES), CL_OK);
    net_peer from;
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(net_server_recv(s, 4 * WAIT_MS, &from, &msg, &len), CL_OK);
    assert_int_equal(len, BIG_BYTES);
    assert_true(memcmp(msg, big, BIG_BYTES) == 0);
    assert_string_equal(from.client_key, alice_kp.public_z85);
    /* and back without a copy (the server hands its buffer over), reversed in
     * 8-byte words so that it is not an echo */
    for (size_t i = 0; i < BIG_BYTES / 2; i += 8) {
        uint8_t t[8];
        memcpy(t, msg + i, 8);
        memcpy(msg + i, msg + BIG_BYTES - 8 - i, 8);
        memcpy(msg + BIG_BYTES - 8 - i, t, 8);
    }
    assert_int_equal(net_server_send_owned(s, &from, msg, len), CL_OK);
    msg = NULL;
    uint8_t *back = NULL;
    size_t back_len = 0;
    assert_int_equal(net_client_recv(c, 4 * WAIT_MS, &back, &back_len), CL_OK);
    assert_int_equal(back_len, BIG_BYTES);
    size_t wrong = 0;
    for (size_t i = 0; i < BIG_BYTES; i += 8)
        wrong += memcmp(back + i, big + BIG_BYTES - 8 - i, 8) != 0;
    assert_int_equal(wrong, 0);
    print_message("64 MiB each way: %.0f ms\n", elapsed_ms(&t0));
    free(back);
    free(big);
    net_client_close(c);
    net_server_close(s);
}

static void test_oversized(void **state)
{
    (void)state;
    enum { LIMIT = 1024 };
    static uint8_t buf[8 * LIMIT];
    memset(buf, 0xab, sizeof buf);
    net_server *s = open_server(LIMIT);
    net_client *good = open_client(s, &alice_kp);
    net_client *bad = open_client(s, &bob_kp);

    /* one byte over: passes libzmq's check (it leaves room for CURVE's bytes), not ours */
    assert_int_equal(net_client_send(bad, buf, LIMIT + 1), CL_OK);
    server_expect_nothing(s, SHORT_MS);
    /* far over: libzmq drops the connection */
    assert_int_equal(net_client_send(bad, buf, sizeof buf), CL_OK);
    server_expect_nothing(s, SHORT_MS);

    /* a message of exactly the limit is delivered; the good client is served */
    assert_int_equal(net_client_send(good, buf, LIMIT), CL_OK);
    net_peer from;
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(net_server_recv(s, WAIT_MS, &from, &msg, &len), CL_OK);
    assert_int_equal(len, LIMIT);
    assert_memory_equal(msg, buf, LIMIT);
    assert_string_equal(from.client_key, alice_kp.public_z85);
    free(msg);
    reply_str(s, &from, "ok");
    client_expect(good, "ok");

    /* the offender too, once it behaves, on a fresh connection */
    assert_int_equal(net_client_reconnect(bad), CL_OK);
    client_send_str(bad, "sorry");
    from = server_expect(s, "sorry");
    assert_string_equal(from.client_key, bob_kp.public_z85);
    reply_str(s, &from, "ok");
    client_expect(bad, "ok");
    client_expect_nothing(bad, 0);
    net_client_close(good);
    net_client_close(bad);
    net_server_close(s);
}

static void test_tiny_limit(void **state)
{
    (void)state;
    /* a limit below the size of the handshake commands still lets clients in */
    net_server *s = open_server(1);
    net_client *c = open_client(s, &alice_kp);
    client_send_str(c, "no");
    server_expect_nothing(s, 100);
    client_send_str(c, "y");
    net_peer from = server_expect(s, "y");
    assert_int_equal(net_client_send(c, NULL, 0), CL_OK);
    from = server_expect(s, "");
    reply_str(s, &from, "a reply is not limited");
    client_expect(c, "a reply is not limited");
    net_client_close(c);
    net_server_close(s);
}

static void test_reconnect(void **state)
{
    (void)state;
    net_server *s = open_server(1 << 20);
    net_client *c = open_client(s, &alice_kp);

    /* a request the server answers only after the client gave up on it */
    client_send_str(c, "first");
    net_peer old = server_expect(s, "first");
    assert_int_equal(net_client_reconnect(c), CL_OK);
    /* the old connection goes away: replies on it fail, sooner or later */
    cl_status st = CL_OK;
    for (int i = 0; i < 200 && st == CL_OK; i++) {
        st = net_server_send(s, &old, (const uint8_t *)"stale", 5);
        if (st == CL_OK)
            usleep(10 * 1000);
    }
    assert_int_equal(st, CL_ERR_NET);
    client_send_str(c, "again");
    net_peer now = server_expect(s, "again");
    assert_string_equal(now.client_key, alice_kp.public_z85);
    assert_false(now.routing_len == old.routing_len && !memcmp(now.routing_id, old.routing_id, old.routing_len));
    reply_str(s, &now, "fresh");
    client_expect(c, "fresh");
    client_expect_nothing(c, 50); /* nothing stale */

    /* the platform restarts on the same port with the same key */
    char endpoint[256];
    snprintf(endpoint, sizeof endpoint, "%s", net_server_endpoint(s));
    net_server_close(s);
    s = NULL;
    assert_int_equal(net_server_open(endpoint, &server_kp, 1 << 20, &s), CL_OK);
    assert_string_equal(net_server_endpoint(s), endpoint);
    assert_int_equal(net_client_reconnect(c), CL_OK);
    client_send_str(c, "are you back");
    now = server_expect(s, "are you back");
    assert_string_equal(now.client_key, alice_kp.public_z85);
    reply_str(s, &now, "yes");
    client_expect(c, "yes");

    /* a second reconnect in a row is harmless */
    assert_int_equal(net_client_reconnect(c), CL_OK);
    assert_int_equal(net_client_reconnect(c), CL_OK);
    client_send_str(c, "still");
    now = server_expect(s, "still");
    reply_str(s, &now, "here");
    client_expect(c, "here");
    net_client_close(c);
    net_server_close(s);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static void test_timeout_survives_signals(void **state)
{
    (void)state;
    net_server *s = open_server(1 << 20);
    net_client *c = open_client(s, &alice_kp);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: poll() fails with EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
    struct itimerval every = {.it_interval = {0, 30000}, .it_value = {0, 30000}}, off;
    memset(&off, 0, sizeof off);
    alarms = 0;
    assert_int_equal(setitimer(ITIMER_REAL, &every, NULL), 0);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    server_expect_nothing(s, SHORT_MS);
    assert_true(elapsed_ms(&t0) >= SHORT_MS - 5);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    client_expect_nothing(c, SHORT_MS);
    assert_true(elapsed_ms(&t0) >= SHORT_MS - 5);
    /* and traffic goes on under the signals */
    client_send_str(c, "tick");
    net_peer from = server_expect(s, "tick");
    reply_str(s, &from, "tock");
    client_expect(c, "tock");

    assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
    assert_int_equal(sigaction(SIGALRM, &old_sa, NULL), 0);
    assert_true(alarms >= 5);
    net_client_close(c);
    net_server_close(s);
}

/* An allow-list lets in the owners it names and no one else; its file format
 * takes bare keys and concatenated owner.curve.pub files, and refuses junk. */
static void test_allowlist(void **state)
{
    (void)state;
    char path[300], sec[300], pub[300], err[400];
    net_keypair carol_kp;
    assert_int_equal(net_keypair_generate(&carol_kp), CL_OK);
    path_in_tmp(sec, sizeof sec, "carol.curve");
    path_in_tmp(pub, sizeof pub, "carol.curve.pub");
    assert_int_equal(net_keypair_save(&carol_kp, sec, pub), CL_OK);
    FILE *pf = fopen(pub, "r");
    assert_non_null(pf);
    char pubtext[256] = "";
    assert_true(fread(pubtext, 1, sizeof pubtext - 1, pf) > 0);
    fclose(pf);

    char text[1024];
    snprintf(text, sizeof text, "# owners of this platform\n\n  %s  \r\n%s", alice_kp.public_z85, pubtext);
    path_in_tmp(path, sizeof path, "allowed");
    write_file(path, text, 0644);
    net_allowlist a;
    assert_int_equal(net_allowlist_load(path, &a, err, sizeof err), CL_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.keys[0], alice_kp.public_z85);
    assert_string_equal(a.keys[1], carol_kp.public_z85);

    net_server *s = NULL;
    assert_int_equal(net_server_open_allow(ANY_PORT, &server_kp, 1 << 20, &a, &s), CL_OK);
    net_allowlist_free(&a); /* the server keeps its own copy */
    assert_null(a.keys);
    net_client *c = open_client(s, &alice_kp);
    client_send_str(c, "alice");
    net_peer from = server_expect(s, "alice");
    assert_string_equal(from.client_key, alice_kp.public_z85);
    reply_str(s, &from, "welcome");
    client_expect(c, "welcome");
    net_client *b = open_client(s, &bob_kp); /* not listed: the handshake fails */
    client_send_str(b, "bob");
    server_expect_nothing(s, SHORT_MS);
    client_expect_nothing(b, 0);
    net_client *k = open_client(s, &carol_kp);
    client_send_str(k, "carol");
    from = server_expect(s, "carol");
    assert_string_equal(from.client_key, carol_kp.public_z85);
    /* alice is still served after bob's refusal */
    client_send_str(c, "again");
    server_expect(s, "again");
    net_client_close(k);
    net_client_close(b);
    net_client_close(c);
    net_server_close(s);

    /* an empty list lets nobody in */
    write_file(path, "# nobody yet\n", 0644);
    assert_int_equal(net_allowlist_load(path, &a, err, sizeof err), CL_OK);
    assert_int_equal(a.n, 0);
    assert_int_equal(net_server_open_allow(ANY_PORT, &server_kp, 1 << 20, &a, &s), CL_OK);
    c = open_client(s, &alice_kp);
    client_send_str(c, "alice");
    server_expect_nothing(s, SHORT_MS);
    net_client_close(c);
    net_server_close(s);
    net_allowlist_free(&a);

    /* junk is refused with its line number */
    snprintf(text, sizeof text, "%s\nnot a key\n", alice_kp.public_z85);
    write_file(path, text, 0644);
    assert_int_equal(net_allowlist_load(path, &a, err, sizeof err), CL_ERR_FORMAT);
    assert_non_null(strstr(err, ":2:"));
    assert_null(a.keys);
    char longline[600];
    memset(longline, 'x', sizeof longline - 2);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    write_file(path, longline, 0644);
    assert_int_equal(net_allowlist_load(path, &a, err, sizeof err), CL_ERR_FORMAT);
    char bad_key[NET_KEY_Z85_LEN + 2];
    memcpy(bad_key, alice_kp.public_z85, NET_KEY_Z85_LEN + 1);
    bad_key[NET_KEY_Z85_LEN - 1] = '\0'; /* 39 characters */
    write_file(path, bad_key, 0644);
    assert_int_equal(net_allowlist_load(path, &a, err, sizeof err), CL_ERR_FORMAT);
    path_in_tmp(path, sizeof path, "no-such-list");
    assert_int_equal(net_allowlist_load(path, &a, err, sizeof err), CL_ERR_IO);
    assert_int_equal(net_allowlist_load(NULL, &a, err, sizeof err), CL_ERR_INVALID);
    /* a list holding something that is not a key is refused by the server */
    char keys[1][NET_KEY_Z85_LEN + 1];
    memcpy(keys[0], bad_key, NET_KEY_Z85_LEN);
    keys[0][NET_KEY_Z85_LEN] = '\0';
    keys[0][0] = ' ';
    net_allowlist junk = {.keys = keys, .n = 1};
    assert_int_equal(net_server_open_allow(ANY_PORT, &server_kp, 1 << 20, &junk, &s), CL_ERR_INVALID);
    net_keypair_wipe(&carol_kp);
}

static void test_arguments(void **state)
{
    (void)state;
    net_server *s = NULL;
    net_client *c = NULL;
    net_keypair mixed = alice_kp;
    memcpy(mixed.public_z85, bob_kp.public_z85, sizeof mixed.public_z85);
    assert_int_equal(net_keypair_generate(NULL), CL_ERR_INVALID);
    assert_int_equal(net_server_open(NULL, &server_kp, 1, &s), CL_ERR_INVALID);
    assert_int_equal(net_server_open(ANY_PORT, NULL, 1, &s), CL_ERR_INVALID);
    assert_int_equal(net_server_open(ANY_PORT, &server_kp, 0, &s), CL_ERR_INVALID);
    assert_int_equal(net_server_open(ANY_PORT, &server_kp, 1, NULL), CL_ERR_INVALID);
    assert_int_equal(net_server_open(ANY_PORT, &mixed, 1, &s), CL_ERR_INVALID);
    assert_int_equal(net_server_open("no endpoint", &server_kp, 1, &s), CL_ERR_INVALID);
    assert_null(s);
    assert_int_equal(net_client_open(NULL, &alice_kp, server_kp.public_z85, &c), CL_ERR_INVALID);
    assert_int_equal(net_client_open(ANY_PORT, &mixed, server_kp.public_z85, &c), CL_ERR_INVALID);
    assert_int_equal(net_client_open("tcp://127.0.0.1:1", &alice_kp, "not a key", &c), CL_ERR_INVALID);
    assert_int_equal(net_client_open("no endpoint", &alice_kp, server_kp.public_z85, &c), CL_ERR_INVALID);
    assert_null(c);

    s = open_server(16);
    /* the same endpoint twice: in use */
    net_server *s2 = NULL;
    assert_int_equal(net_server_open(net_server_endpoint(s), &server_kp, 16, &s2), CL_ERR_NET);
    assert_null(s2);
    c = open_client(s, &alice_kp);
    net_peer from;
    memset(&from, 0, sizeof from);
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(net_server_recv(NULL, 0, &from, &msg, &len), CL_ERR_INVALID);
    assert_int_equal(net_server_recv(s, -2, &from, &msg, &len), CL_ERR_INVALID);
    assert_int_equal(net_server_recv(s, 0, NULL, &msg, &len), CL_ERR_INVALID);
    assert_int_equal(net_server_send(s, &from, (const uint8_t *)"x", 1), CL_ERR_INVALID); /* no routing id */
    from.routing_len = 5;                                                               /* nobody's */
    assert_int_equal(net_server_send(s, &from, (const uint8_t *)"x", 1), CL_ERR_NET);
    assert_int_equal(net_server_send(s, &from, NULL, 1), CL_ERR_INVALID);
    /* the owned variants free the buffer on every failure (ASan would see a leak) */
    assert_int_equal(net_server_send_owned(s, &from, malloc(3), 3), CL_ERR_NET);
    assert_int_equal(net_server_send_owned(NULL, &from, malloc(3), 3), CL_ERR_INVALID);
    assert_int_equal(net_client_send_owned(NULL, malloc(3), 3), CL_ERR_INVALID);
    assert_int_equal(net_client_send(NULL, (const uint8_t *)"x", 1), CL_ERR_INVALID);
    assert_int_equal(net_client_send(c, NULL, 1), CL_ERR_INVALID);
    assert_int_equal(net_client_recv(c, -2, &msg, &len), CL_ERR_INVALID);
    assert_int_equal(net_client_recv(c, 0, NULL, &len), CL_ERR_INVALID);
    assert_int_equal(net_client_reconnect(NULL), CL_ERR_INVALID);
    assert_null(msg);
    assert_null(net_server_endpoint(NULL));
    net_client_close(c);
    net_server_close(s);
    net_client_close(NULL);
    net_server_close(NULL);
    net_keypair_wipe(&mixed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_z85_valid),
        cmocka_unit_test(test_keypair_files),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_two_clients),
        cmocka_unit_test(test_wrong_server_key),
        cmocka_unit_test(test_large_message),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_tiny_limit),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_timeout_survives_signals),
        cmocka_unit_test(test_allowlist),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
