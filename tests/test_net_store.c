/* Tests of the platform's durable state store (src/net/store.h): opening
 * (directory mode 0700, reopening), blobs (empty, 1 byte, streamed 32 MB,
 * replace, delete), integers and texts, tenants kept apart, transactions,
 * and files that are not a store of this version. Crash durability: children
 * that kill themselves with SIGKILL at chosen points (a fixed-seed PRNG
 * picks them), after which the store holds exactly what was committed and
 * passes PRAGMA integrity_check; and children killed by the parent at a
 * random moment of a commit loop, after which the store holds the last
 * acknowledged commit or the one in flight, never anything else. Every test
 * works in a fresh mkdtemp directory that it removes. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "net/store.h"

/* two client keys: 40 characters of the Z85 alphabet */
static const char KEY1[] = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
static const char KEY2[] = "EFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{";
static const char KEY3[] = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

#define BIG_BYTES ((size_t)32 << 20)
#define CRASH_ITERS 20
#define ASYNC_ITERS 8
#define CK_TENANTS 2
#define CK_SLOTS 6
/* above the store's inline limit (1 MiB), so the streamed path is killed too */
#define CK_STREAMED (((size_t)1 << 20) + 17)

/* ----------------------------------------------------------------- helpers */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Bytes determined by seed (the first 8 hold the seed itself when len >= 8,
 * so that a blob can be checked without knowing which version it is). */
static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t s = seed;
    size_t i = 0;
    if (len >= 8) {
        memcpy(buf, &seed, 8);
        i = 8;
    }
    for (; i < len; i += 8) {
        uint64_t r = splitmix(&s);
        memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
    }
}

static bool matches(const uint8_t *buf, size_t len, uint64_t seed, uint8_t *scratch)
{
    fill(scratch, len, seed);
    return len == 0 || memcmp(buf, scratch, len) == 0;
}

/* A fresh temporary directory (malloc'ed path). */
static char *tmp_dir(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base) + 64;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/cipherl-store-XXXXXX", base);
    assert_non_null(mkdtemp(p));
    return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(char *dir)
{
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
}

/* dir/name (static buffer of the caller) */
static void join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static net_store *open_ok(const char *dir)
{
    net_store *s = NULL;
    char err[256];
    cl_status st = net_store_open(dir, &s, err, sizeof err);
    if (st != CL_OK)
        fail_msg("net_store_open(%s): %s: %s", dir, cl_strerror(st), err);
    assert_non_null(s);
    return s;
}

/* Opens the store's file directly with SQLite: integrity_check says "ok",
 * foreign_key_check finds nothing. */
static void check_integrity(const char *dir)
{
    char path[4096];
    join(path, sizeof path, dir, NET_STORE_FILE);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void raw_exec(const char *dir, const char *sql)
{
    char path[4096];
    join(path, sizeof path, dir, NET_STORE_FILE);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void expect_blob(net_store *s, int64_t t, const char *name, int64_t idx, const void *want, size_t len)
{
    uint8_t *got = NULL;
    size_t n = 99;
    assert_int_equal(net_store_get(s, t, name, idx, &got, &n), CL_OK);
    assert_non_null(got); /* present, even when empty */
    assert_int_equal(n, len);
    if (len)
        assert_memory_equal(got, want, len);
    free(got);
}

static void expect_no_blob(net_store *s, int64_t t, const char *name, int64_t idx)
{
    uint8_t *got = (uint8_t *)&got;
    size_t n = 99;
    assert_int_equal(net_store_get(s, t, name, idx, &got, &n), CL_OK);
    assert_null(got);
    assert_int_equal(n, 0);
}

static void expect_int(net_store *s, int64_t t, const char *key, bool has, int64_t want)
{
    int64_t v = 0;
    bool found = !has;
    assert_int_equal(net_store_get_int(s, t, key, &v, &found), CL_OK);
    assert_int_equal(found, has);
    if (has)
        assert_int_equal(v, want);
}

static void expect_text(net_store *s, int64_t t, const char *key, const char *want)
{
    char buf[256];
    bool found = want == NULL;
    assert_int_equal(net_store_get_text(s, t, key, buf, sizeof buf, &found), CL_OK);
    assert_int_equal(found, want != NULL);
    if (want)
        assert_string_equal(buf, want);
}

/* ------------------------------------------------------------------- basics */

static void test_open_creates_and_reopens(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    char dir[4096], path[4096];
    join(dir, sizeof dir, tmp, "store");
    join(path, sizeof path, dir, NET_STORE_FILE);

    net_store *s = open_ok(dir);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 07777, 0700);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_string_equal(net_store_errmsg(s), "");
    assert_true(net_store_blob_max(s) >= BIG_BYTES);

    int64_t n = -1, t = -1;
    assert_int_equal(net_store_tenant_count(s, &n), CL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(net_store_tenant_add(s, KEY1, &t), CL_OK);
    assert_true(t > 0);
    assert_int_equal(net_store_put_int(s, t, "step", 7), CL_OK);
    net_store_close(s);

    /* the file is in WAL mode, with this code's schema version */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), NET_STORE_SCHEMA_VERSION);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 65536);
    sqlite3_finalize(q);
    sqlite3_close(db);

    /* an existing directory keeps its mode; reopening sees the data */
    assert_int_equal(chmod(dir, 0750), 0);
    s = open_ok(dir);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0750);
    int64_t t2 = -1;
    assert_int_equal(net_store_tenant_find(s, KEY1, &t2), CL_OK);
    assert_int_equal(t2, t);
    expect_int(s, t, "step", true, 7);
    assert_int_equal(net_store_tenant_count(s, &n), CL_OK);
    assert_int_equal(n, 1);
    net_store_close(s);
    net_store_close(NULL);

    check_integrity(dir);
    rm_tree(tmp);
}

static void test_blobs(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    net_store *s = open_ok(tmp);
    int64_t t = -1, bytes = -1;
    assert_int_equal(net_store_tenant_add(s, KEY1, &t), CL_OK);

    uint8_t *big = malloc(BIG_BYTES), *scratch = malloc(BIG_BYTES);
    assert_non_null(big);
    assert_non_null(scratch);
    fill(big, BIG_BYTES, 42);
    const uint8_t one = 0xa5, three[3] = {1, 2, 3};

    expect_no_blob(s, t, "w", 0);
    assert_int_equal(net_store_put(s, t, "w", 0, NULL, 0), CL_OK); /* empty */
    assert_int_equal(net_store_put(s, t, "w", 1, &one, 1), CL_OK);
    assert_int_equal(net_store_put(s, t, "w", 2, big, BIG_BYTES), CL_OK); /* streamed */
    assert_int_equal(net_store_put(s, t, "w", -5, three, 3), CL_OK);
    assert_int_equal(net_store_put(s, t, "", 0, three, 2), CL_OK);
    expect_blob(s, t, "w", 0, NULL, 0);
    expect_blob(s, t, "w", 1, &one, 1);
    expect_blob(s, t, "w", 2, big, BIG_BYTES);
    expect_blob(s, t, "w", -5, three, 3);
    expect_blob(s, t, "", 0, three, 2);
    expect_no_blob(s, t, "w", 3);
    expect_no_blob(s, t, "W", 1);
    assert_int_equal(net_store_tenant_bytes(s, t, &bytes), CL_OK);
    assert_int_equal(bytes, (int64_t)(1 + BIG_BYTES + 3 + 2));

    /* replace: small by large, large by small, large by large */
    assert_int_equal(net_store_put(s, t, "w", 1, big + 1, 3u << 20), CL_OK);
    expect_blob(s, t, "w", 1, big + 1, 3u << 20);
    assert_int_equal(net_store_put(s, t, "w", 2, three, 3), CL_OK);
    expect_blob(s, t, "w", 2, three, 3);
    assert_int_equal(net_store_put(s, t, "w", 1, big + 7, (2u << 20) + 1), CL_OK);
    expect_blob(s, t, "w", 1, big + 7, (2u << 20) + 1);
    assert_int_equal(net_store_put(s, t, "w", 2, big, BIG_BYTES), CL_OK);
    /* exactly the inline limit, and one past it */
    assert_int_equal(net_store_put(s, t, "edge", 0, big + 3, 1u << 20), CL_OK);
    assert_int_equal(net_store_put(s, t, "edge", 1, big + 5, (1u << 20) + 1), CL_OK);
    expect_blob(s, t, "edge", 0, big + 3, 1u << 20);
    expect_blob(s, t, "edge", 1, big + 5, (1u << 20) + 1);

    /* delete; deleting what is absent is a no-op */
    assert_int_equal(net_store_del(s, t, "w", -5), CL_OK);
    expect_no_blob(s, t, "w", -5);
    assert_int_equal(net_store_del(s, t, "w", -5), CL_OK);
    assert_int_equal(net_store_del(s, t, "nothing", 9), CL_OK);

    /* bad arguments */
    int64_t ghost = t + 1000;
    assert_int_equal(net_store_put(s, ghost, "w", 0, &one, 1), CL_ERR_INVALID); /* unknown tenant */
    assert_true(strlen(net_store_errmsg(s)) > 0);
    assert_int_equal(net_store_put(s, ghost, "w", 0, big, (2u << 20)), CL_ERR_INVALID); /* streamed */
    expect_no_blob(s, ghost, "w", 0);
    assert_int_equal(net_store_put(s, t, "w", 0, NULL, 1), CL_ERR_INVALID);
    assert_int_equal(net_store_put(s, t, NULL, 0, &one, 1), CL_ERR_INVALID);
    assert_int_equal(net_store_put(s, t, "w", 0, &one, net_store_blob_max(s) + 1), CL_ERR_INVALID);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(net_store_put(s, t, longname, 0, &one, 1), CL_ERR_INVALID);
    uint8_t *got = NULL;
    size_t n = 0;
    assert_int_equal(net_store_get(s, t, "w", 0, NULL, &n), CL_ERR_INVALID);
    assert_int_equal(net_store_get(s, t, "w", 0, &got, NULL), CL_ERR_INVALID);
    assert_int_equal(net_store_get(NULL, t, "w", 0, &got, &n), CL_ERR_INVALID);
    net_store_close(s);

    /* reopen: everything is there */
    s = open_ok(tmp);
    expect_blob(s, t, "w", 0, NULL, 0);
    expect_blob(s, t, "w", 1, big + 7, (2u << 20) + 1);
    expect_blob(s, t, "w", 2, big, BIG_BYTES);
    expect_blob(s, t, "", 0, three, 2);
    expect_no_blob(s, t, "w", -5);
    assert_int_equal(net_store_tenant_bytes(s, t, &bytes), CL_OK);
    assert_int_equal(bytes, (int64_t)(0 + (2u << 20) + 1 + BIG_BYTES + 2 + (1u << 20) + (1u << 20) + 1));
    assert_int_equal(net_store_tenant_bytes(s, ghost, &bytes), CL_OK);
    assert_int_equal(bytes, 0);
    net_store_close(s);

    check_integrity(tmp);
    free(big);
    free(scratch);
    rm_tree(tmp);
}

static void test_ints_and_texts(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    net_store *s = open_ok(tmp);
    int64_t t = -1;
    assert_int_equal(net_store_tenant_add(s, KEY1, &t), CL_OK);

    expect_int(s, t, "n", false, 0);
    assert_int_equal(net_store_put_int(s, t, "n", 1), CL_OK);
    assert_int_equal(net_store_put_int(s, t, "min", INT64_MIN), CL_OK);
    assert_int_equal(net_store_put_int(s, t, "max", INT64_MAX), CL_OK);
    expect_int(s, t, "n", true, 1);
    assert_int_equal(net_store_put_int(s, t, "n", -3), CL_OK); /* replace */
    expect_int(s, t, "n", true, -3);
    expect_int(s, t, "min", true, INT64_MIN);
    expect_int(s, t, "max", true, INT64_MAX);

    expect_text(s, t, "name", NULL);
    assert_int_equal(net_store_put_text(s, t, "name", "cartpole"), CL_OK);
    assert_int_equal(net_store_put_text(s, t, "empty", ""), CL_OK);
    assert_int_equal(net_store_put_text(s, t, "utf8", "\xc3\xa9t\xc3\xa9"), CL_OK);
    expect_text(s, t, "name", "cartpole");
    assert_int_equal(net_store_put_text(s, t, "name", "pendulum"), CL_OK); /* replace */
    expect_text(s, t, "name", "pendulum");
    expect_text(s, t, "empty", "");
    expect_text(s, t, "utf8", "\xc3\xa9t\xc3\xa9");
    /* the same key names an int and a text independently */
    assert_int_equal(net_store_put_int(s, t, "name", 5), CL_OK);
    expect_text(s, t, "name", "pendulum");

    /* a buffer one byte too small */
    char small[8] = "xxxxxxx";
    bool found = false;
    assert_int_equal(net_store_get_text(s, t, "name", small, 8, &found), CL_ERR_INVALID);
    assert_true(found);
    assert_string_equal(small, "");
    char exact[9];
    assert_int_equal(net_store_get_text(s, t, "name", exact, 9, &found), CL_OK);
    assert_string_equal(exact, "pendulum");
    assert_int_equal(net_store_get_text(s, t, "empty", NULL, 0, &found), CL_ERR_INVALID);
    assert_int_equal(net_store_get_text(s, t, "absent", NULL, 0, &found), CL_OK);
    assert_false(found);

    /* bad arguments */
    int64_t v = 0;
    assert_int_equal(net_store_put_int(s, t + 1000, "n", 1), CL_ERR_INVALID); /* unknown tenant */
    assert_int_equal(net_store_put_text(s, t + 1000, "n", "x"), CL_ERR_INVALID);
    assert_int_equal(net_store_put_text(s, t, "n", NULL), CL_ERR_INVALID);
    assert_int_equal(net_store_put_int(s, t, NULL, 1), CL_ERR_INVALID);
    assert_int_equal(net_store_get_int(s, t, "n", NULL, &found), CL_ERR_INVALID);
    assert_int_equal(net_store_get_int(s, t, "n", &v, NULL), CL_ERR_INVALID);
    net_store_close(s);

    s = open_ok(tmp);
    expect_int(s, t, "n", true, -3);
    expect_int(s, t, "name", true, 5);
    expect_text(s, t, "name", "pendulum");
    expect_text(s, t, "empty", "");
    net_store_close(s);
    check_integrity(tmp);
    rm_tree(tmp);
}

static void test_tenants(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    net_store *s = open_ok(tmp);
    assert_int_equal(strlen(KEY1), NET_STORE_KEY_LEN);
    assert_int_equal(strlen(KEY2), NET_STORE_KEY_LEN);
    assert_int_equal(strlen(KEY3), NET_STORE_KEY_LEN);

    int64_t t1 = -1, t2 = -1, id = 0, n = 0;
    assert_int_equal(net_store_tenant_find(s, KEY1, &id), CL_OK);
    assert_int_equal(id, -1);
    assert_int_equal(net_store_tenant_add(s, KEY1, &t1), CL_OK);
    assert_int_equal(net_store_tenant_add(s, KEY2, &t2), CL_OK);
    assert_true(t1 > 0 && t2 > 0 && t1 != t2);
    assert_int_equal(net_store_tenant_add(s, KEY1, &id), CL_ERR_STATE);
    assert_int_equal(id, -1);
    assert_int_equal(net_store_tenant_find(s, KEY2, &id), CL_OK);
    assert_int_equal(id, t2);
    assert_int_equal(net_store_tenant_find(s, KEY3, &id), CL_OK);
    assert_int_equal(id, -1);
    assert_int_equal(net_store_tenant_count(s, &n), CL_OK);
    assert_int_equal(n, 2);

    /* keys that are not 40 Z85 characters */
    assert_int_equal(net_store_tenant_add(s, "short", &id), CL_ERR_INVALID);
    assert_int_equal(net_store_tenant_add(s, NULL, &id), CL_ERR_INVALID);
    char bad[NET_STORE_KEY_LEN + 2];
    memcpy(bad, KEY3, sizeof KEY3);
    bad[5] = ' ';
    assert_int_equal(net_store_tenant_find(s, bad, &id), CL_ERR_INVALID);
    bad[5] = '"';
    assert_int_equal(net_store_tenant_add(s, bad, &id), CL_ERR_INVALID);
    memcpy(bad, KEY3, sizeof KEY3);
    bad[NET_STORE_KEY_LEN] = 'x';
    bad[NET_STORE_KEY_LEN + 1] = '\0';
    assert_int_equal(net_store_tenant_add(s, bad, &id), CL_ERR_INVALID);
    assert_int_equal(net_store_tenant_count(s, &n), CL_OK);
    assert_int_equal(n, 2);

    /* the same (name, idx) and keys hold separate values per tenant */
    const uint8_t a[4] = {1, 1, 1, 1}, b[2] = {2, 2};
    assert_int_equal(net_store_put(s, t1, "w", 0, a, sizeof a), CL_OK);
    assert_int_equal(net_store_put(s, t2, "w", 0, b, sizeof b), CL_OK);
    assert_int_equal(net_store_put_int(s, t1, "k", 1), CL_OK);
    assert_int_equal(net_store_put_int(s, t2, "k", 2), CL_OK);
    assert_int_equal(net_store_put_text(s, t1, "x", "one"), CL_OK);
    assert_int_equal(net_store_put_text(s, t2, "x", "two"), CL_OK);
    expect_blob(s, t1, "w", 0, a, sizeof a);
    expect_blob(s, t2, "w", 0, b, sizeof b);
    expect_int(s, t1, "k", true, 1);
    expect_int(s, t2, "k", true, 2);
    expect_text(s, t1, "x", "one");
    expect_text(s, t2, "x", "two");

    /* tenant 1's other rows are invisible to tenant 2, and its deletes miss them */
    assert_int_equal(net_store_put(s, t1, "secret", 3, a, sizeof a), CL_OK);
    assert_int_equal(net_store_put_int(s, t1, "secret", 99), CL_OK);
    assert_int_equal(net_store_put_text(s, t1, "secret", "s"), CL_OK);
    expect_no_blob(s, t2, "secret", 3);
    expect_int(s, t2, "secret", false, 0);
    expect_text(s, t2, "secret", NULL);
    assert_int_equal(net_store_del(s, t2, "secret", 3), CL_OK);
    assert_int_equal(net_store_del(s, t2, "w", 0), CL_OK);
    expect_blob(s, t1, "secret", 3, a, sizeof a);
    expect_blob(s, t1, "w", 0, a, sizeof a);
    expect_no_blob(s, t2, "w", 0);

    int64_t bytes1 = 0, bytes2 = -1;
    assert_int_equal(net_store_tenant_bytes(s, t1, &bytes1), CL_OK);
    assert_int_equal(net_store_tenant_bytes(s, t2, &bytes2), CL_OK);
    assert_int_equal(bytes1, 8);
    assert_int_equal(bytes2, 0);
    net_store_close(s);

    s = open_ok(tmp);
    assert_int_equal(net_store_tenant_find(s, KEY1, &id), CL_OK);
    assert_int_equal(id, t1);
    expect_text(s, t2, "x", "two");
    net_store_close(s);
    check_integrity(tmp);
    rm_tree(tmp);
}

static void test_transactions(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    net_store *s = open_ok(tmp);
    int64_t t = -1;
    assert_int_equal(net_store_tenant_add(s, KEY1, &t), CL_OK);
    assert_false(net_store_in_transaction(s));
    assert_int_equal(net_store_commit(s), CL_ERR_STATE);
    assert_int_equal(net_store_rollback(s), CL_OK); /* none open: no-op */

    uint8_t *big = malloc(3u << 20);
    assert_non_null(big);
    fill(big, 3u << 20, 7);

    /* rollback discards, including a streamed blob and a new tenant */
    assert_int_equal(net_store_begin(s), CL_OK);
    assert_true(net_store_in_transaction(s));
    assert_int_equal(net_store_begin(s), CL_ERR_STATE);
    assert_int_equal(net_store_put_int(s, t, "n", 1), CL_OK);
    assert_int_equal(net_store_put(s, t, "w", 0, big, 3u << 20), CL_OK);
    assert_int_equal(net_store_put_text(s, t, "x", "gone"), CL_OK);
    int64_t t2 = -1;
    assert_int_equal(net_store_tenant_add(s, KEY2, &t2), CL_OK);
    expect_int(s, t, "n", true, 1); /* the transaction sees its own writes */
    expect_blob(s, t, "w", 0, big, 3u << 20);
    assert_int_equal(net_store_rollback(s), CL_OK);
    assert_false(net_store_in_transaction(s));
    expect_int(s, t, "n", false, 0);
    expect_no_blob(s, t, "w", 0);
    expect_text(s, t, "x", NULL);
    assert_int_equal(net_store_tenant_find(s, KEY2, &t2), CL_OK);
    assert_int_equal(t2, -1);

    /* a failed call inside a transaction leaves the transaction usable */
    assert_int_equal(net_store_begin(s), CL_OK);
    assert_int_equal(net_store_put_int(s, t, "n", 2), CL_OK);
    assert_int_equal(net_store_put(s, t + 1000, "w", 0, big, 3u << 20), CL_ERR_INVALID);
    assert_int_equal(net_store_tenant_add(s, KEY1, &t2), CL_ERR_STATE);
    assert_int_equal(net_store_put(s, t, "w", 1, big, 2u << 20), CL_OK);

    /* another connection does not see the open transaction */
    net_store *other = open_ok(tmp);
    expect_int(other, t, "n", false, 0);
    expect_no_blob(other, t, "w", 1);

    assert_int_equal(net_store_commit(s), CL_OK);
    assert_false(net_store_in_transaction(s));
    expect_int(other, t, "n", true, 2);
    expect_blob(other, t, "w", 1, big, 2u << 20);
    net_store_close(other);

    /* closing with a transaction open rolls it back */
    assert_int_equal(net_store_begin(s), CL_OK);
    assert_int_equal(net_store_put_int(s, t, "n", 3), CL_OK);
    net_store_close(s);

    s = open_ok(tmp);
    expect_int(s, t, "n", true, 2);
    expect_blob(s, t, "w", 1, big, 2u << 20);
    net_store_close(s);
    check_integrity(tmp);
    free(big);
    rm_tree(tmp);
}

static void test_bad_files(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    char dir[4096], path[4096], err[256];
    net_store *s = (net_store *)&s;

    /* not a database: a long and a short garbage file, both left unchanged */
    join(dir, sizeof dir, tmp, "garbage");
    assert_int_equal(mkdir(dir, 0700), 0);
    join(path, sizeof path, dir, NET_STORE_FILE);
    char junk[5000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)('a' + i % 23);
    write_file(path, junk, sizeof junk);
    assert_int_equal(net_store_open(dir, &s, err, sizeof err), CL_ERR_FORMAT);
    assert_null(s);
    assert_true(strlen(err) > 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, (off_t)sizeof junk);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char back[sizeof junk];
    assert_int_equal(fread(back, 1, sizeof back, f), sizeof back);
    fclose(f);
    assert_memory_equal(back, junk, sizeof junk);
    write_file(path, "not sqlite", 10);
    assert_int_equal(net_store_open(dir, &s, NULL, 0), CL_ERR_FORMAT);
    assert_null(s);

    /* an SQLite database of someone else */
    join(dir, sizeof dir, tmp, "foreign");
    assert_int_equal(mkdir(dir, 0700), 0);
    raw_exec(dir, "CREATE TABLE foo (x); INSERT INTO foo VALUES (1);");
    assert_int_equal(net_store_open(dir, &s, err, sizeof err), CL_ERR_FORMAT);
    join(dir, sizeof dir, tmp, "foreign-app");
    assert_int_equal(mkdir(dir, 0700), 0);
    raw_exec(dir, "PRAGMA application_id = 1234; CREATE TABLE foo (x);");
    assert_int_equal(net_store_open(dir, &s, err, sizeof err), CL_ERR_FORMAT);

    /* a newer schema version; this one is refused, the data stays */
    join(dir, sizeof dir, tmp, "newer");
    s = open_ok(dir);
    int64_t t = -1;
    assert_int_equal(net_store_tenant_add(s, KEY1, &t), CL_OK);
    net_store_close(s);
    raw_exec(dir, "PRAGMA user_version = 2");
    s = (net_store *)&s;
    assert_int_equal(net_store_open(dir, &s, err, sizeof err), CL_ERR_VERSION);
    assert_null(s);
    assert_non_null(strstr(err, "version"));
    raw_exec(dir, "PRAGMA user_version = 1");
    s = open_ok(dir);
    int64_t id = -1;
    assert_int_equal(net_store_tenant_find(s, KEY1, &id), CL_OK);
    assert_int_equal(id, t);
    net_store_close(s);

    /* directories that cannot be created */
    join(path, sizeof path, tmp, "plain-file");
    write_file(path, "x", 1);
    assert_int_equal(net_store_open(path, &s, err, sizeof err), CL_ERR_IO); /* exists, not a directory */
    assert_true(strlen(err) > 0);
    join(dir, sizeof dir, path, "sub");
    assert_int_equal(net_store_open(dir, &s, err, sizeof err), CL_ERR_IO); /* under a file */
    join(dir, sizeof dir, tmp, "missing/sub");
    assert_int_equal(net_store_open(dir, &s, err, sizeof err), CL_ERR_IO); /* parent missing */
    assert_null(s);
    /* DIR/platform.db is a directory */
    join(dir, sizeof dir, tmp, "dbdir");
    assert_int_equal(mkdir(dir, 0700), 0);
    join(path, sizeof path, dir, NET_STORE_FILE);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(net_store_open(dir, &s, err, sizeof err), CL_ERR_IO);

    /* bad arguments */
    assert_int_equal(net_store_open(NULL, &s, err, sizeof err), CL_ERR_INVALID);
    assert_int_equal(net_store_open("", &s, err, sizeof err), CL_ERR_INVALID);
    assert_int_equal(net_store_open(tmp, NULL, err, sizeof err), CL_ERR_INVALID);
    assert_int_equal(net_store_begin(NULL), CL_ERR_INVALID);
    rm_tree(tmp);
}

/* ---------------------------------------------------- crash: explicit points */

/* Child side: no cmocka (a failure is an exit code the parent reports). */
#define CHILD_CHECK(cond, code) \
    do {                        \
        if (!(cond))            \
            _exit(code);        \
    } while (0)

static void die(void)
{
    kill(getpid(), SIGKILL);
    _exit(99); /* not reached */
}

/* Forks; the child runs fn(dir, arg) and must die by SIGKILL. */
static void run_child(void (*fn)(const char *, uint64_t), const char *dir, uint64_t arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn(dir, arg);
        _exit(98);
    }
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL)
        fail_msg("child ended with %s %d", WIFEXITED(ws) ? "exit code" : "signal",
                 WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
}

static const uint8_t VAL_A[5] = {'A', 'A', 'A', 'A', 'A'}, VAL_B[3] = {'B', 'B', 'B'};

/* commits A, then writes B in an open transaction and dies */
static void child_a_then_b(const char *dir, uint64_t arg)
{
    (void)arg;
    net_store *s = NULL;
    CHILD_CHECK(net_store_open(dir, &s, NULL, 0) == CL_OK, 10);
    int64_t t = -1;
    CHILD_CHECK(net_store_begin(s) == CL_OK, 11);
    CHILD_CHECK(net_store_tenant_add(s, KEY1, &t) == CL_OK, 12);
    CHILD_CHECK(net_store_put(s, t, "v", 0, VAL_A, sizeof VAL_A) == CL_OK, 13);
    CHILD_CHECK(net_store_put_int(s, t, "v", 1) == CL_OK, 14);
    CHILD_CHECK(net_store_put_text(s, t, "v", "A") == CL_OK, 15);
    CHILD_CHECK(net_store_commit(s) == CL_OK, 16);

    uint8_t *big = malloc(CK_STREAMED);
    CHILD_CHECK(big != NULL, 17);
    fill(big, CK_STREAMED, 5);
    int64_t t2 = -1;
    CHILD_CHECK(net_store_begin(s) == CL_OK, 18);
    CHILD_CHECK(net_store_put(s, t, "v", 0, VAL_B, sizeof VAL_B) == CL_OK, 19);
    CHILD_CHECK(net_store_put(s, t, "v", 1, big, CK_STREAMED) == CL_OK, 20);
    CHILD_CHECK(net_store_put_int(s, t, "v", 2) == CL_OK, 21);
    CHILD_CHECK(net_store_put_text(s, t, "v", "B") == CL_OK, 22);
    CHILD_CHECK(net_store_tenant_add(s, KEY2, &t2) == CL_OK, 23);
    CHILD_CHECK(net_store_put_int(s, t2, "v", 3) == CL_OK, 24);
    die();
}

/* commits B and dies as soon as the commit returns */
static void child_commit_b(const char *dir, uint64_t arg)
{
    (void)arg;
    net_store *s = NULL;
    CHILD_CHECK(net_store_open(dir, &s, NULL, 0) == CL_OK, 10);
    int64_t t = -1;
    CHILD_CHECK(net_store_tenant_find(s, KEY1, &t) == CL_OK && t > 0, 11);
    CHILD_CHECK(net_store_begin(s) == CL_OK, 12);
    CHILD_CHECK(net_store_put(s, t, "v", 0, VAL_B, sizeof VAL_B) == CL_OK, 13);
    CHILD_CHECK(net_store_put_int(s, t, "v", 2) == CL_OK, 14);
    CHILD_CHECK(net_store_put_text(s, t, "v", "B") == CL_OK, 15);
    CHILD_CHECK(net_store_commit(s) == CL_OK, 16);
    die();
}

static void test_crash_points(void **state)
{
    (void)state;
    char *tmp = tmp_dir();

    run_child(child_a_then_b, tmp, 0);
    net_store *s = open_ok(tmp);
    int64_t t = -1, id = 0, n = 0;
    assert_int_equal(net_store_tenant_find(s, KEY1, &t), CL_OK);
    assert_true(t > 0);
    assert_int_equal(net_store_tenant_find(s, KEY2, &id), CL_OK);
    assert_int_equal(id, -1);
    assert_int_equal(net_store_tenant_count(s, &n), CL_OK);
    assert_int_equal(n, 1);
    expect_blob(s, t, "v", 0, VAL_A, sizeof VAL_A);
    expect_no_blob(s, t, "v", 1);
    expect_int(s, t, "v", true, 1);
    expect_text(s, t, "v", "A");
    net_store_close(s);
    check_integrity(tmp);

    run_child(child_commit_b, tmp, 0);
    s = open_ok(tmp);
    expect_blob(s, t, "v", 0, VAL_B, sizeof VAL_B);
    expect_int(s, t, "v", true, 2);
    expect_text(s, t, "v", "B");
    net_store_close(s);
    check_integrity(tmp);
    rm_tree(tmp);
}

/* ------------------------------------------------ crash: random kill points */

enum { OP_PUT_BLOB, OP_DEL_BLOB, OP_PUT_INT, OP_PUT_TEXT, OP_KINDS };

typedef struct ck_op {
    int kind, tenant, slot;
    uint64_t v;
    size_t len;
} ck_op;

typedef struct ck_model {
    bool blob_has[CK_TENANTS][CK_SLOTS];
    size_t blob_len[CK_TENANTS][CK_SLOTS];
    uint64_t blob_seed[CK_TENANTS][CK_SLOTS];
    bool int_has[CK_TENANTS][CK_SLOTS];
    int64_t int_val[CK_TENANTS][CK_SLOTS];
    bool text_has[CK_TENANTS][CK_SLOTS];
    uint64_t text_val[CK_TENANTS][CK_SLOTS];
} ck_model;

static ck_op ck_gen(uint64_t *rng)
{
    ck_op o;
    o.kind = (int)(splitmix(rng) % OP_KINDS);
    o.tenant = (int)(splitmix(rng) % CK_TENANTS);
    o.slot = (int)(splitmix(rng) % CK_SLOTS);
    o.v = splitmix(rng);
    o.len = (size_t)(splitmix(rng) % 2048);
    if (o.kind == OP_PUT_BLOB && splitmix(rng) % 8 == 0)
        o.len = CK_STREAMED;
    return o;
}

static void ck_text(char *buf, size_t cap, uint64_t v)
{
    snprintf(buf, cap, "text-%llx", (unsigned long long)v);
}

static void ck_model_apply(ck_model *m, const ck_op *o)
{
    int t = o->tenant, k = o->slot;
    switch (o->kind) {
    case OP_PUT_BLOB:
        m->blob_has[t][k] = true;
        m->blob_len[t][k] = o->len;
        m->blob_seed[t][k] = o->v;
        break;
    case OP_DEL_BLOB:
        m->blob_has[t][k] = false;
        break;
    case OP_PUT_INT:
        m->int_has[t][k] = true;
        m->int_val[t][k] = (int64_t)o->v;
        break;
    default:
        m->text_has[t][k] = true;
        m->text_val[t][k] = o->v;
        break;
    }
}

static cl_status ck_store_apply(net_store *s, const int64_t tid[CK_TENANTS], const ck_op *o, uint8_t *scratch)
{
    char key[16], text[32];
    snprintf(key, sizeof key, "k%d", o->slot);
    int64_t t = tid[o->tenant];
    switch (o->kind) {
    case OP_PUT_BLOB:
        fill(scratch, o->len, o->v);
        return net_store_put(s, t, "b", o->slot, scratch, o->len);
    case OP_DEL_BLOB:
        return net_store_del(s, t, "b", o->slot);
    case OP_PUT_INT:
        return net_store_put_int(s, t, key, (int64_t)o->v);
    default:
        ck_text(text, sizeof text, o->v);
        return net_store_put_text(s, t, key, text);
    }
}

typedef struct ck_plan {
    int ntx;
    int nops[3];
    bool tail;    /* a last transaction left open when the child dies */
    int tail_ops; /* its operations (0 possible) */
} ck_plan;

static ck_plan ck_plan_of(uint64_t *rng)
{
    ck_plan p;
    p.ntx = 1 + (int)(splitmix(rng) % 3);
    for (int i = 0; i < 3; i++)
        p.nops[i] = 1 + (int)(splitmix(rng) % 5);
    p.tail = splitmix(rng) % 3 != 0;
    p.tail_ops = (int)(splitmix(rng) % 6);
    return p;
}

static uint64_t ck_seed(uint64_t iter)
{
    return 0xc1f3e5a7b9d00001ULL ^ (iter * 0x9e3779b97f4a7c15ULL);
}

static void child_random(const char *dir, uint64_t iter)
{
    uint8_t *scratch = malloc(CK_STREAMED);
    CHILD_CHECK(scratch != NULL, 9);
    net_store *s = NULL;
    CHILD_CHECK(net_store_open(dir, &s, NULL, 0) == CL_OK, 10);
    int64_t tid[CK_TENANTS];
    CHILD_CHECK(net_store_tenant_find(s, KEY1, &tid[0]) == CL_OK && tid[0] > 0, 11);
    CHILD_CHECK(net_store_tenant_find(s, KEY2, &tid[1]) == CL_OK && tid[1] > 0, 12);
    uint64_t rng = ck_seed(iter);
    ck_plan p = ck_plan_of(&rng);
    for (int x = 0; x < p.ntx; x++) {
        CHILD_CHECK(net_store_begin(s) == CL_OK, 13);
        for (int i = 0; i < p.nops[x]; i++) {
            ck_op o = ck_gen(&rng);
            CHILD_CHECK(ck_store_apply(s, tid, &o, scratch) == CL_OK, 14);
        }
        CHILD_CHECK(net_store_commit(s) == CL_OK, 15);
    }
    if (p.tail) {
        CHILD_CHECK(net_store_begin(s) == CL_OK, 16);
        for (int i = 0; i < p.tail_ops; i++) {
            ck_op o = ck_gen(&rng);
            CHILD_CHECK(ck_store_apply(s, tid, &o, scratch) == CL_OK, 17);
        }
    }
    die();
}

static void ck_check(net_store *s, const int64_t tid[CK_TENANTS], const ck_model *m, uint8_t *scratch, int iter)
{
    for (int t = 0; t < CK_TENANTS; t++)
        for (int k = 0; k < CK_SLOTS; k++) {
            char key[16], want[32], got[32];
            snprintf(key, sizeof key, "k%d", k);
            uint8_t *data = NULL;
            size_t len = 0;
            assert_int_equal(net_store_get(s, tid[t], "b", k, &data, &len), CL_OK);
            if ((data != NULL) != m->blob_has[t][k])
                fail_msg("iteration %d, tenant %d, blob %d: %s", iter, t, k, data ? "uncommitted" : "lost");
            if (data) {
                assert_int_equal(len, m->blob_len[t][k]);
                assert_true(matches(data, len, m->blob_seed[t][k], scratch));
            }
            free(data);

            int64_t v = 0;
            bool found = false;
            assert_int_equal(net_store_get_int(s, tid[t], key, &v, &found), CL_OK);
            assert_int_equal(found, m->int_has[t][k]);
            if (found)
                assert_int_equal(v, m->int_val[t][k]);

            assert_int_equal(net_store_get_text(s, tid[t], key, got, sizeof got, &found), CL_OK);
            assert_int_equal(found, m->text_has[t][k]);
            if (found) {
                ck_text(want, sizeof want, m->text_val[t][k]);
                assert_string_equal(got, want);
            }
        }
}

static void test_crash_random(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    uint8_t *scratch = malloc(CK_STREAMED);
    assert_non_null(scratch);
    int64_t tid[CK_TENANTS];
    net_store *s = open_ok(tmp);
    assert_int_equal(net_store_tenant_add(s, KEY1, &tid[0]), CL_OK);
    assert_int_equal(net_store_tenant_add(s, KEY2, &tid[1]), CL_OK);
    net_store_close(s);

    static ck_model m; /* what has been committed */
    memset(&m, 0, sizeof m);
    int tails = 0;
    for (int iter = 0; iter < CRASH_ITERS; iter++) {
        run_child(child_random, tmp, (uint64_t)iter);
        /* replay the child's plan: committed transactions only */
        uint64_t rng = ck_seed((uint64_t)iter);
        ck_plan p = ck_plan_of(&rng);
        for (int x = 0; x < p.ntx; x++)
            for (int i = 0; i < p.nops[x]; i++) {
                ck_op o = ck_gen(&rng);
                ck_model_apply(&m, &o);
            }
        tails += p.tail && p.tail_ops > 0;
        s = open_ok(tmp);
        ck_check(s, tid, &m, scratch, iter);
        net_store_close(s);
        check_integrity(tmp);
    }
    assert_true(tails >= CRASH_ITERS / 3); /* the seed kills inside transactions often */
    free(scratch);
    rm_tree(tmp);
}

/* ------------------------------------------- crash: killed at a random time */

/* Commits transactions seq = last + 1, last + 2, ... for ever; each sets the
 * int "seq", a blob and a text derived from seq, and touches a streamed blob
 * every few rounds; seq goes down the pipe once its commit has returned. */
static void child_commit_loop(const char *dir, uint64_t fd)
{
    uint8_t *scratch = malloc(CK_STREAMED);
    CHILD_CHECK(scratch != NULL, 9);
    net_store *s = NULL;
    CHILD_CHECK(net_store_open(dir, &s, NULL, 0) == CL_OK, 10);
    int64_t t = -1, seq = 0;
    bool found = false;
    CHILD_CHECK(net_store_tenant_find(s, KEY1, &t) == CL_OK && t > 0, 11);
    CHILD_CHECK(net_store_get_int(s, t, "seq", &seq, &found) == CL_OK, 12);
    for (;;) {
        seq++;
        char text[32];
        ck_text(text, sizeof text, (uint64_t)seq);
        size_t len = 16 + (size_t)seq % 500;
        fill(scratch, len, (uint64_t)seq);
        CHILD_CHECK(net_store_begin(s) == CL_OK, 13);
        CHILD_CHECK(net_store_put_int(s, t, "seq", seq) == CL_OK, 14);
        CHILD_CHECK(net_store_put(s, t, "a", 0, scratch, len) == CL_OK, 15);
        CHILD_CHECK(net_store_put_text(s, t, "seq", text) == CL_OK, 16);
        if (seq % 4 == 0) {
            fill(scratch, CK_STREAMED, (uint64_t)seq);
            CHILD_CHECK(net_store_put(s, t, "big", 0, scratch, CK_STREAMED) == CL_OK, 17);
            CHILD_CHECK(net_store_put_int(s, t, "big", seq) == CL_OK, 18);
        }
        CHILD_CHECK(net_store_commit(s) == CL_OK, 19);
        CHILD_CHECK(write((int)fd, &seq, sizeof seq) == (ssize_t)sizeof seq, 20);
    }
}

static void test_crash_async(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    uint8_t *scratch = malloc(CK_STREAMED);
    assert_non_null(scratch);
    net_store *s = open_ok(tmp);
    int64_t t = -1;
    assert_int_equal(net_store_tenant_add(s, KEY1, &t), CL_OK);
    net_store_close(s);

    uint64_t rng = 0xa5a5a5a5deadbeefULL;
    int64_t prev = 0;
    for (int iter = 0; iter < ASYNC_ITERS; iter++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_commit_loop(tmp, (uint64_t)fds[1]);
            _exit(98);
        }
        close(fds[1]);
        struct timespec ts = {0, (long)(5 + splitmix(&rng) % 60) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int ws = 0;
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL)
            fail_msg("commit loop ended with %s %d", WIFEXITED(ws) ? "exit code" : "signal",
                     WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
        int64_t acked = prev, v = 0;
        ssize_t r;
        while ((r = read(fds[0], &v, sizeof v)) == (ssize_t)sizeof v)
            acked = v;
        assert_int_equal(r, 0);
        close(fds[0]);

        /* the last acknowledged commit, or the one in flight */
        s = open_ok(tmp);
        int64_t seq = 0, bigseq = 0;
        bool found = false;
        assert_int_equal(net_store_get_int(s, t, "seq", &seq, &found), CL_OK);
        assert_true(found || acked == 0);
        if (seq != acked && seq != acked + 1)
            fail_msg("iteration %d: store at %lld, last acknowledged %lld", iter, (long long)seq,
                     (long long)acked);
        if (seq > 0) {
            char want[32], got[32];
            ck_text(want, sizeof want, (uint64_t)seq);
            assert_int_equal(net_store_get_text(s, t, "seq", got, sizeof got, &found), CL_OK);
            assert_true(found);
            assert_string_equal(got, want);
            uint8_t *data = NULL;
            size_t len = 0;
            assert_int_equal(net_store_get(s, t, "a", 0, &data, &len), CL_OK);
            assert_non_null(data);
            assert_int_equal(len, 16 + (size_t)seq % 500);
            assert_true(matches(data, len, (uint64_t)seq, scratch));
            free(data);
        }
        assert_int_equal(net_store_get_int(s, t, "big", &bigseq, &found), CL_OK);
        if (found) {
            /* the streamed blob belongs to the latest seq that is a multiple of 4 */
            assert_int_equal(bigseq, seq - seq % 4);
            uint8_t *data = NULL;
            size_t len = 0;
            assert_int_equal(net_store_get(s, t, "big", 0, &data, &len), CL_OK);
            assert_int_equal(len, CK_STREAMED);
            assert_true(matches(data, len, (uint64_t)bigseq, scratch));
            free(data);
        } else {
            assert_true(seq < 4);
        }
        net_store_close(s);
        check_integrity(tmp);
        prev = seq;
    }
    assert_true(prev > 0); /* the children did commit */
    free(scratch);
    rm_tree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_and_reopens),
        cmocka_unit_test(test_blobs),
        cmocka_unit_test(test_ints_and_texts),
        cmocka_unit_test(test_tenants),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_crash_points),
        cmocka_unit_test(test_crash_random),
        cmocka_unit_test(test_crash_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
