/* The platform's durable state store, on SQLite (see store.h).
 *
 * Schema (user_version 1, application_id "CPLS", 64 KiB pages):
 *
 *   tenants(id INTEGER PRIMARY KEY, client_key TEXT UNIQUE, created INTEGER)
 *   blobs(id INTEGER PRIMARY KEY, tenant -> tenants, name, idx, data BLOB,
 *         UNIQUE(tenant, name, idx))
 *   ints(tenant -> tenants, key, value INTEGER, PRIMARY KEY(tenant, key))
 *   texts(tenant -> tenants, key, value TEXT, PRIMARY KEY(tenant, key))
 *
 * blobs keeps a rowid (incremental blob I/O needs one) and its data last, so
 * that reading a row's key and length never touches the overflow pages. Blobs
 * up to BLOB_INLINE_MAX bytes go through ordinary binds; larger ones are
 * written as a zeroblob and then streamed in with sqlite3_blob_write(), and
 * read with sqlite3_blob_read() straight into the caller's buffer, so SQLite
 * never holds a second copy of a large blob in memory. Every SQL text is a
 * constant; data always goes through binds. */
#include "net/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <sqlite3.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* Blobs up to this size are bound and read whole; larger ones are streamed. */
#define BLOB_INLINE_MAX ((int64_t)1 << 20)
/* The size of one sqlite3_blob_read/write call for a large blob. */
#define BLOB_CHUNK ((size_t)1 << 24)
/* Longest name or key (bytes), so that a row's overhead stays bounded. */
#define NAME_MAX_BYTES 255
/* What the rest of a blob's row may take, under SQLite's length limit. */
#define ROW_OVERHEAD 4096
/* The page size of a new store (a literal: it goes into a PRAGMA). */
#define DB_PAGE_SIZE 65536
/* The WAL file is truncated to this size after a checkpoint. */
#define WAL_SIZE_LIMIT 67108864 /* 64 MiB; a literal: it goes into a PRAGMA */

static const char SCHEMA_SQL[] =
    "CREATE TABLE tenants ("
    "  id         INTEGER PRIMARY KEY,"
    "  client_key TEXT NOT NULL UNIQUE,"
    "  created    INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER))"
    ");"
    "CREATE TABLE blobs ("
    "  id     INTEGER PRIMARY KEY,"
    "  tenant INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    "  name   TEXT NOT NULL,"
    "  idx    INTEGER NOT NULL,"
    "  data   BLOB NOT NULL,"
    "  UNIQUE (tenant, name, idx)"
    ");"
    "CREATE TABLE ints ("
    "  tenant INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    "  key    TEXT NOT NULL,"
    "  value  INTEGER NOT NULL,"
    "  PRIMARY KEY (tenant, key)"
    ") WITHOUT ROWID;"
    "CREATE TABLE texts ("
    "  tenant INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    "  key    TEXT NOT NULL,"
    "  value  TEXT NOT NULL,"
    "  PRIMARY KEY (tenant, key)"
    ") WITHOUT ROWID;"
    "PRAGMA application_id = " STR(NET_STORE_APP_ID) ";"
    "PRAGMA user_version = " STR(NET_STORE_SCHEMA_VERSION) ";";

enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SAVEPOINT,
    Q_RELEASE,
    Q_ROLLBACK_TO,
    Q_TENANT_FIND,
    Q_TENANT_ADD,
    Q_TENANT_COUNT,
    Q_TENANT_BYTES,
    Q_BLOB_PUT,
    Q_BLOB_ID,
    Q_BLOB_GET,
    Q_BLOB_DEL,
    Q_INT_PUT,
    Q_INT_GET,
    Q_TEXT_PUT,
    Q_TEXT_GET,
    Q_COUNT
};

static const char *const QUERY_SQL[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT net_store_op",
    [Q_RELEASE] = "RELEASE net_store_op",
    [Q_ROLLBACK_TO] = "ROLLBACK TO net_store_op",
    [Q_TENANT_FIND] = "SELECT id FROM tenants WHERE client_key = ?1",
    [Q_TENANT_ADD] = "INSERT INTO tenants (client_key) VALUES (?1)",
    [Q_TENANT_COUNT] = "SELECT count(*) FROM tenants",
    [Q_TENANT_BYTES] = "SELECT coalesce(sum(length(data)), 0) FROM blobs WHERE tenant = ?1",
    [Q_BLOB_PUT] = "INSERT INTO blobs (tenant, name, idx, data) VALUES (?1, ?2, ?3, ?4)"
                   " ON CONFLICT (tenant, name, idx) DO UPDATE SET data = excluded.data",
    [Q_BLOB_ID] = "SELECT id FROM blobs WHERE tenant = ?1 AND name = ?2 AND idx = ?3",
    /* length() of a blob column reads no overflow page; data only when small */
    [Q_BLOB_GET] = "SELECT id, length(data), CASE WHEN length(data) <= ?4 THEN data END"
                   " FROM blobs WHERE tenant = ?1 AND name = ?2 AND idx = ?3",
    [Q_BLOB_DEL] = "DELETE FROM blobs WHERE tenant = ?1 AND name = ?2 AND idx = ?3",
    [Q_INT_PUT] = "INSERT INTO ints (tenant, key, value) VALUES (?1, ?2, ?3)"
                  " ON CONFLICT (tenant, key) DO UPDATE SET value = excluded.value",
    [Q_INT_GET] = "SELECT value FROM ints WHERE tenant = ?1 AND key = ?2",
    [Q_TEXT_PUT] = "INSERT INTO texts (tenant, key, value) VALUES (?1, ?2, ?3)"
                   " ON CONFLICT (tenant, key) DO UPDATE SET value = excluded.value",
    [Q_TEXT_GET] = "SELECT value FROM texts WHERE tenant = ?1 AND key = ?2",
};

struct net_store {
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
    bool in_tx; /* net_store_begin() succeeded and no commit/rollback since */
    char msg[256];
};

/* ------------------------------------------------------------------ errors */

static cl_status map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return CL_OK;
    case SQLITE_NOMEM:
        return CL_ERR_NOMEM;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
        return CL_ERR_FORMAT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return CL_ERR_TIMEOUT;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
        return CL_ERR_INVALID;
    case SQLITE_MISUSE:
        return CL_ERR_STATE;
    default: /* IOERR, FULL, CANTOPEN, READONLY, PERM, PROTOCOL, ... */
        return CL_ERR_IO;
    }
}

static cl_status fail(net_store *s, cl_status st, const char *what)
{
    snprintf(s->msg, sizeof s->msg, "%s", what);
    return st;
}

/* The status of a failed SQLite call rc, with SQLite's message. */
static cl_status fail_db(net_store *s, int rc)
{
    const char *m = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        m = "unknown tenant (FOREIGN KEY constraint failed)";
    snprintf(s->msg, sizeof s->msg, "%s", m ? m : sqlite3_errstr(rc));
    return map_rc(rc);
}

/* A call that may write or read inside the caller's transaction: refuse if
 * SQLite has aborted that transaction behind our back (running on in
 * autocommit mode would commit half of it). */
static cl_status guard(net_store *s)
{
    if (s->in_tx && sqlite3_get_autocommit(s->db))
        return fail(s, CL_ERR_STATE, "the transaction was aborted by SQLite (roll it back)");
    return CL_OK;
}

static bool name_ok(const char *name)
{
    return name && strnlen(name, NAME_MAX_BYTES + 1) <= NAME_MAX_BYTES;
}

static bool z85_key(const char *k)
{
    static const char Z85[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    if (!k)
        return false;
    for (size_t i = 0; i < NET_STORE_KEY_LEN; i++)
        if (k[i] == '\0' || !strchr(Z85, k[i]))
            return false;
    return k[NET_STORE_KEY_LEN] == '\0';
}

/* -------------------------------------------------------------- statements */

static void done(sqlite3_stmt *q)
{
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

/* Runs a cached statement that returns no row. */
static cl_status run_q(net_store *s, int which)
{
    sqlite3_stmt *q = s->q[which];
    int rc = sqlite3_step(q);
    cl_status st = rc == SQLITE_DONE ? CL_OK : fail_db(s, rc);
    done(q);
    return st;
}

/* Runs a cached statement without touching s->msg (clean-up after a failure). */
static void run_quiet(net_store *s, int which)
{
    sqlite3_step(s->q[which]);
    done(s->q[which]);
}

/* Binds (tenant, name[, idx]) to ?1, ?2[, ?3]. */
static int bind_key(sqlite3_stmt *q, int64_t tenant, const char *name, const int64_t *idx)
{
    int rc = sqlite3_bind_int64(q, 1, tenant);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && idx)
        rc = sqlite3_bind_int64(q, 3, *idx);
    return rc;
}

/* A multi-statement operation runs inside a savepoint: a transaction of its
 * own outside net_store_begin(), a nested one inside. */
static cl_status op_begin(net_store *s)
{
    return run_q(s, Q_SAVEPOINT);
}

static cl_status op_end(net_store *s, cl_status st)
{
    if (st == CL_OK) {
        st = run_q(s, Q_RELEASE);
        if (st == CL_OK)
            return CL_OK;
    }
    if (!sqlite3_get_autocommit(s->db)) {
        if (s->in_tx) {
            run_quiet(s, Q_ROLLBACK_TO);
            run_quiet(s, Q_RELEASE);
        } else {
            run_quiet(s, Q_ROLLBACK);
        }
    }
    return st;
}

/* -------------------------------------------------------------- open/close */

static cl_status exec_sql(net_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CL_OK : fail_db(s, rc);
}

/* The first column of the first row of a constant query, as an integer
 * (*v) or text (buf); no row: CL_ERR_IO. */
static cl_status query_one(net_store *s, const char *sql, int64_t *v, char *buf, size_t cap)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return fail_db(s, rc);
    cl_status st = CL_OK;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        if (v)
            *v = sqlite3_column_int64(q, 0);
        if (buf) {
            const unsigned char *t = sqlite3_column_text(q, 0);
            snprintf(buf, cap, "%s", t ? (const char *)t : "");
        }
    } else if (rc == SQLITE_DONE) {
        snprintf(s->msg, sizeof s->msg, "no result from: %s", sql);
        st = CL_ERR_IO;
    } else {
        st = fail_db(s, rc);
    }
    sqlite3_finalize(q);
    return st;
}

/* Whether the file is a platform store of a version this code reads (*fresh:
 * an empty database, to be given the schema). */
static cl_status check_header(net_store *s, bool *fresh)
{
    int64_t app = 0, ver = 0, objects = 0;
    cl_status st = query_one(s, "PRAGMA application_id", &app, NULL, 0);
    if (st == CL_OK)
        st = query_one(s, "PRAGMA user_version", &ver, NULL, 0);
    if (st == CL_OK)
        st = query_one(s, "SELECT count(*) FROM sqlite_master", &objects, NULL, 0);
    if (st != CL_OK)
        return st;
    *fresh = false;
    if (app == 0) {
        if (ver != 0 || objects != 0)
            return fail(s, CL_ERR_FORMAT, "an SQLite database that is not a cipherl platform store");
        *fresh = true;
        return CL_OK;
    }
    if (app != NET_STORE_APP_ID)
        return fail(s, CL_ERR_FORMAT, "an SQLite database of another application");
    if (ver > NET_STORE_SCHEMA_VERSION) {
        snprintf(s->msg, sizeof s->msg, "platform store schema version %lld is newer than this cipherl's (%d)",
                 (long long)ver, NET_STORE_SCHEMA_VERSION);
        return CL_ERR_VERSION;
    }
    if (ver < 1)
        return fail(s, CL_ERR_FORMAT, "a platform store without a schema version");
    return CL_OK;
}

static cl_status make_dir(net_store *s, const char *dir)
{
    if (mkdir(dir, 0700) == 0) {
        /* exactly 0700, whatever the umask */
        if (chmod(dir, 0700) != 0) {
            snprintf(s->msg, sizeof s->msg, "cannot set the mode of %s: %s", dir, strerror(errno));
            return CL_ERR_IO;
        }
        return CL_OK;
    }
    int e = errno;
    struct stat sb;
    if (e == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
        return CL_OK;
    if (e == EEXIST)
        snprintf(s->msg, sizeof s->msg, "%s exists and is not a directory", dir);
    else
        snprintf(s->msg, sizeof s->msg, "cannot create %s: %s", dir, strerror(e));
    return CL_ERR_IO;
}

static cl_status open_db(net_store *s, const char *dir)
{
    cl_status st = make_dir(s, dir);
    if (st != CL_OK)
        return st;
    size_t dl = strlen(dir);
    char *path = malloc(dl + sizeof "/" NET_STORE_FILE);
    if (!path)
        return fail(s, CL_ERR_NOMEM, "out of memory");
    memcpy(path, dir, dl);
    memcpy(path + dl, "/" NET_STORE_FILE, sizeof "/" NET_STORE_FILE);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    free(path);
    if (rc != SQLITE_OK)
        return s->db ? fail_db(s, rc) : fail(s, CL_ERR_NOMEM, "out of memory");
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, NET_STORE_BUSY_MS);
#ifdef SQLITE_DBCONFIG_DEFENSIVE
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
#endif

    /* Look before changing anything: a file that is not ours stays as it is. */
    bool fresh = false;
    st = check_header(s, &fresh);
    if (st != CL_OK)
        return st;

    /* Large pages: a streamed 200 MB blob is written about twice as fast as
     * with 4 KiB pages, and a small commit costs the same (its fsync). The
     * page size is fixed when the first table is created. */
    if (fresh) {
        st = exec_sql(s, "PRAGMA page_size = " STR(DB_PAGE_SIZE));
        if (st != CL_OK)
            return st;
    }
    char mode[16] = "";
    st = query_one(s, "PRAGMA journal_mode = WAL", NULL, mode, sizeof mode);
    if (st != CL_OK)
        return st;
    if (strcmp(mode, "wal") != 0) {
        snprintf(s->msg, sizeof s->msg, "cannot use WAL mode (journal mode is %s)", mode);
        return CL_ERR_IO;
    }
    st = exec_sql(s, "PRAGMA synchronous = FULL;"
                     "PRAGMA foreign_keys = ON;"
                     "PRAGMA journal_size_limit = " STR(WAL_SIZE_LIMIT) ";");
    if (st != CL_OK)
        return st;
    int64_t sync = 0, fk = 0;
    st = query_one(s, "PRAGMA synchronous", &sync, NULL, 0);
    if (st == CL_OK)
        st = query_one(s, "PRAGMA foreign_keys", &fk, NULL, 0);
    if (st != CL_OK)
        return st;
    if (sync != 2 || fk != 1)
        return fail(s, CL_ERR_UNSUPPORTED, "this SQLite cannot set synchronous=FULL and foreign_keys=ON");

    /* An empty database gets the schema: check again under the write lock
     * (another process may have created it meanwhile). An existing store
     * needs no write lock to open, so opening never waits for a writer. */
    if (fresh) {
        st = exec_sql(s, "BEGIN IMMEDIATE");
        if (st != CL_OK)
            return st;
        st = check_header(s, &fresh);
        if (st == CL_OK && fresh)
            st = exec_sql(s, SCHEMA_SQL);
        if (st == CL_OK)
            st = exec_sql(s, "COMMIT");
        if (st != CL_OK) {
            if (!sqlite3_get_autocommit(s->db))
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return st;
        }
    }

    for (int i = 0; i < Q_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, QUERY_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL);
        if (rc != SQLITE_OK)
            return fail_db(s, rc);
    }
    return CL_OK;
}

cl_status net_store_open(const char *dir, net_store **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (out)
        *out = NULL;
    if (!dir || !*dir || !out) {
        if (err && errlen)
            snprintf(err, errlen, "net_store_open: no directory or no output");
        return CL_ERR_INVALID;
    }
    net_store *s = calloc(1, sizeof *s);
    if (!s) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return CL_ERR_NOMEM;
    }
    cl_status st = open_db(s, dir);
    if (st != CL_OK) {
        if (err && errlen)
            snprintf(err, errlen, "%s", s->msg);
        net_store_close(s);
        return st;
    }
    s->msg[0] = '\0';
    *out = s;
    return CL_OK;
}

void net_store_close(net_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    if (s->db) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    free(s);
}

const char *net_store_errmsg(const net_store *s)
{
    return s ? s->msg : "no store";
}

size_t net_store_blob_max(const net_store *s)
{
    if (!s || !s->db)
        return 0;
    int lim = sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, -1);
    return lim > ROW_OVERHEAD ? (size_t)(lim - ROW_OVERHEAD) : 0;
}

/* ------------------------------------------------------------ transactions */

cl_status net_store_begin(net_store *s)
{
    if (!s)
        return CL_ERR_INVALID;
    if (s->in_tx)
        return fail(s, CL_ERR_STATE, "a transaction is already open");
    cl_status st = run_q(s, Q_BEGIN);
    if (st == CL_OK)
        s->in_tx = true;
    return st;
}

cl_status net_store_commit(net_store *s)
{
    if (!s)
        return CL_ERR_INVALID;
    if (!s->in_tx)
        return fail(s, CL_ERR_STATE, "no transaction is open");
    cl_status st = guard(s);
    if (st == CL_OK)
        st = run_q(s, Q_COMMIT);
    if (st != CL_OK && !sqlite3_get_autocommit(s->db))
        run_quiet(s, Q_ROLLBACK);
    s->in_tx = false;
    return st;
}

cl_status net_store_rollback(net_store *s)
{
    if (!s)
        return CL_ERR_INVALID;
    if (!s->in_tx)
        return CL_OK;
    s->in_tx = false;
    if (sqlite3_get_autocommit(s->db))
        return CL_OK; /* SQLite rolled it back already */
    return run_q(s, Q_ROLLBACK);
}

bool net_store_in_transaction(const net_store *s)
{
    return s && s->in_tx;
}

/* ----------------------------------------------------------------- tenants */

cl_status net_store_tenant_find(net_store *s, const char *client_key, int64_t *id)
{
    if (id)
        *id = -1;
    if (!s || !id)
        return CL_ERR_INVALID;
    if (!z85_key(client_key))
        return fail(s, CL_ERR_INVALID, "a client key is 40 Z85 characters");
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;
    sqlite3_stmt *q = s->q[Q_TENANT_FIND];
    int rc = sqlite3_bind_text(q, 1, client_key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(q, 0);
    else if (rc != SQLITE_DONE)
        st = fail_db(s, rc);
    done(q);
    return st;
}

cl_status net_store_tenant_add(net_store *s, const char *client_key, int64_t *id)
{
    if (id)
        *id = -1;
    if (!s || !id)
        return CL_ERR_INVALID;
    if (!z85_key(client_key))
        return fail(s, CL_ERR_INVALID, "a client key is 40 Z85 characters");
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;
    sqlite3_stmt *q = s->q[Q_TENANT_ADD];
    int rc = sqlite3_bind_text(q, 1, client_key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        *id = sqlite3_last_insert_rowid(s->db);
    } else if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        st = fail(s, CL_ERR_STATE, "a tenant with this client key exists");
    } else {
        st = fail_db(s, rc);
    }
    done(q);
    return st;
}

/* A statement of one integer result, tenant bound to ?1 if tenant >= 0. */
static cl_status count_q(net_store *s, int which, int64_t tenant, int64_t *n)
{
    *n = 0;
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;
    sqlite3_stmt *q = s->q[which];
    int rc = tenant >= 0 ? sqlite3_bind_int64(q, 1, tenant) : SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(q, 0);
    else
        st = fail_db(s, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    done(q);
    return st;
}

cl_status net_store_tenant_count(net_store *s, int64_t *n)
{
    if (!s || !n)
        return CL_ERR_INVALID;
    return count_q(s, Q_TENANT_COUNT, -1, n);
}

cl_status net_store_tenant_bytes(net_store *s, int64_t tenant, int64_t *bytes)
{
    if (!s || !bytes)
        return CL_ERR_INVALID;
    if (tenant < 0) {
        *bytes = 0;
        return CL_OK;
    }
    return count_q(s, Q_TENANT_BYTES, tenant, bytes);
}

/* ------------------------------------------------------------------- blobs */

/* Writes a large blob: a zeroblob row, then the bytes streamed into it. */
static cl_status put_large(net_store *s, int64_t tenant, const char *name, int64_t idx, const uint8_t *data,
                           size_t len)
{
    cl_status st = op_begin(s);
    if (st != CL_OK)
        return st;
    sqlite3_stmt *q = s->q[Q_BLOB_PUT];
    int rc = bind_key(q, tenant, name, &idx);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_zeroblob64(q, 4, (sqlite3_uint64)len);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
        st = fail_db(s, rc);
    done(q);

    int64_t rowid = -1;
    if (st == CL_OK) {
        q = s->q[Q_BLOB_ID];
        rc = bind_key(q, tenant, name, &idx);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            rowid = sqlite3_column_int64(q, 0);
        else
            st = fail_db(s, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc);
        done(q);
    }
    if (st == CL_OK) {
        sqlite3_blob *b = NULL;
        rc = sqlite3_blob_open(s->db, "main", "blobs", "data", rowid, 1, &b);
        for (size_t off = 0; rc == SQLITE_OK && off < len; off += BLOB_CHUNK) {
            size_t n = len - off < BLOB_CHUNK ? len - off : BLOB_CHUNK;
            rc = sqlite3_blob_write(b, data + off, (int)n, (int)off);
        }
        if (rc != SQLITE_OK)
            st = fail_db(s, rc);
        rc = sqlite3_blob_close(b);
        if (st == CL_OK && rc != SQLITE_OK)
            st = fail_db(s, rc);
    }
    return op_end(s, st);
}

cl_status net_store_put(net_store *s, int64_t tenant, const char *name, int64_t idx, const void *data, size_t len)
{
    if (!s || (!data && len))
        return CL_ERR_INVALID;
    if (!name_ok(name))
        return fail(s, CL_ERR_INVALID, "a blob name is at most " STR(NAME_MAX_BYTES) " bytes");
    if (len > net_store_blob_max(s))
        return fail(s, CL_ERR_INVALID, "blob larger than the store's limit");
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;
    if ((int64_t)len > BLOB_INLINE_MAX)
        return put_large(s, tenant, name, idx, data, len);

    sqlite3_stmt *q = s->q[Q_BLOB_PUT];
    int rc = bind_key(q, tenant, name, &idx);
    if (rc == SQLITE_OK)
        rc = len ? sqlite3_bind_blob64(q, 4, data, (sqlite3_uint64)len, SQLITE_STATIC)
                 : sqlite3_bind_zeroblob(q, 4, 0); /* a NULL pointer would bind NULL */
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
        st = fail_db(s, rc);
    done(q);
    return st;
}

cl_status net_store_get(net_store *s, int64_t tenant, const char *name, int64_t idx, uint8_t **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!s || !data || !len)
        return CL_ERR_INVALID;
    if (!name_ok(name))
        return fail(s, CL_ERR_INVALID, "a blob name is at most " STR(NAME_MAX_BYTES) " bytes");
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;

    /* The statement stays on its row (holding its read transaction, so one
     * snapshot) while a large blob is read. */
    sqlite3_stmt *q = s->q[Q_BLOB_GET];
    int rc = bind_key(q, tenant, name, &idx);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 4, BLOB_INLINE_MAX);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        done(q);
        return CL_OK;
    }
    if (rc != SQLITE_ROW) {
        st = fail_db(s, rc);
        done(q);
        return st;
    }
    int64_t rowid = sqlite3_column_int64(q, 0);
    int64_t n = sqlite3_column_int64(q, 1);
    uint8_t *buf = n >= 0 ? malloc(n ? (size_t)n : 1) : NULL;
    if (!buf) {
        done(q);
        return fail(s, n >= 0 ? CL_ERR_NOMEM : CL_ERR_FORMAT, n >= 0 ? "out of memory" : "bad blob length");
    }
    if (n <= BLOB_INLINE_MAX) {
        const void *p = sqlite3_column_blob(q, 2);
        if (n > 0 && (!p || sqlite3_column_bytes(q, 2) != n))
            st = p ? fail(s, CL_ERR_FORMAT, "blob length changed") : fail(s, CL_ERR_NOMEM, "out of memory");
        else if (n > 0)
            memcpy(buf, p, (size_t)n);
    } else {
        sqlite3_blob *b = NULL;
        rc = sqlite3_blob_open(s->db, "main", "blobs", "data", rowid, 0, &b);
        if (rc == SQLITE_OK && sqlite3_blob_bytes(b) != n)
            st = fail(s, CL_ERR_FORMAT, "blob length changed");
        for (size_t off = 0; st == CL_OK && rc == SQLITE_OK && off < (size_t)n; off += BLOB_CHUNK) {
            size_t k = (size_t)n - off < BLOB_CHUNK ? (size_t)n - off : BLOB_CHUNK;
            rc = sqlite3_blob_read(b, buf + off, (int)k, (int)off);
        }
        if (st == CL_OK && rc != SQLITE_OK)
            st = fail_db(s, rc);
        sqlite3_blob_close(b);
    }
    done(q);
    if (st != CL_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    *len = (size_t)n;
    return CL_OK;
}

cl_status net_store_del(net_store *s, int64_t tenant, const char *name, int64_t idx)
{
    if (!s)
        return CL_ERR_INVALID;
    if (!name_ok(name))
        return fail(s, CL_ERR_INVALID, "a blob name is at most " STR(NAME_MAX_BYTES) " bytes");
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;
    sqlite3_stmt *q = s->q[Q_BLOB_DEL];
    int rc = bind_key(q, tenant, name, &idx);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
        st = fail_db(s, rc);
    done(q);
    return st;
}

/* ------------------------------------------------------------ ints, texts */

cl_status net_store_put_int(net_store *s, int64_t tenant, const char *key, int64_t v)
{
    if (!s)
        return CL_ERR_INVALID;
    if (!name_ok(key))
        return fail(s, CL_ERR_INVALID, "a key is at most " STR(NAME_MAX_BYTES) " bytes");
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;
    sqlite3_stmt *q = s->q[Q_INT_PUT];
    int rc = bind_key(q, tenant, key, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, v);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
        st = fail_db(s, rc);
    done(q);
    return st;
}

cl_status net_store_get_int(net_store *s, int64_t tenant, const char *key, int64_t *v, bool *found)
{
    if (found)
        *found = false;
    if (!s || !v || !found)
        return CL_ERR_INVALID;
    if (!name_ok(key))
        return fail(s, CL_ERR_INVALID, "a key is at most " STR(NAME_MAX_BYTES) " bytes");
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;
    sqlite3_stmt *q = s->q[Q_INT_GET];
    int rc = bind_key(q, tenant, key, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(q, 0);
        *found = true;
    } else if (rc != SQLITE_DONE) {
        st = fail_db(s, rc);
    }
    done(q);
    return st;
}

cl_status net_store_put_text(net_store *s, int64_t tenant, const char *key, const char *v)
{
    if (!s || !v)
        return CL_ERR_INVALID;
    if (!name_ok(key))
        return fail(s, CL_ERR_INVALID, "a key is at most " STR(NAME_MAX_BYTES) " bytes");
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;
    sqlite3_stmt *q = s->q[Q_TEXT_PUT];
    int rc = bind_key(q, tenant, key, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, 3, v, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
        st = fail_db(s, rc);
    done(q);
    return st;
}

cl_status net_store_get_text(net_store *s, int64_t tenant, const char *key, char *buf, size_t cap, bool *found)
{
    if (found)
        *found = false;
    if (!s || !found || (!buf && cap))
        return CL_ERR_INVALID;
    if (!name_ok(key))
        return fail(s, CL_ERR_INVALID, "a key is at most " STR(NAME_MAX_BYTES) " bytes");
    cl_status st = guard(s);
    if (st != CL_OK)
        return st;
    sqlite3_stmt *q = s->q[Q_TEXT_GET];
    int rc = bind_key(q, tenant, key, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(q, 0);
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        if (!t && n == 0 && sqlite3_errcode(s->db) != SQLITE_NOMEM)
            t = (const unsigned char *)"";
        if (!t) {
            st = fail(s, CL_ERR_NOMEM, "out of memory");
        } else {
            *found = true;
            if (n + 1 > cap) {
                if (cap)
                    buf[0] = '\0';
                st = fail(s, CL_ERR_INVALID, "text larger than the buffer");
            } else {
                memcpy(buf, t, n);
                buf[n] = '\0';
            }
        }
    } else if (rc != SQLITE_DONE) {
        st = fail_db(s, rc);
    }
    done(q);
    return st;
}
