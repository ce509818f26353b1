/* The platform's durable state store (net layer, internal), on SQLite.
 *
 * One file, DIR/platform.db, holds the state of every tenant (an owner,
 * identified by its transport public key: 40 characters of Z85). Each tenant
 * has blobs addressed by (name, index), integers by key and texts by key;
 * every lookup is scoped by tenant, so a tenant never sees another's rows.
 *
 * Durability: the database runs in WAL mode with synchronous=FULL, so a
 * transaction is on disk when net_store_commit() returns CL_OK, and a crash
 * (kill -9, power loss) at any moment leaves exactly the committed
 * transactions. The platform applies a request and records its reply in one
 * transaction, and sends the reply only after the commit.
 *
 * Outside net_store_begin()/net_store_commit() every call is its own
 * transaction (atomic on its own). Inside, nothing is durable before commit.
 * If SQLite aborts an open transaction on its own (disk full, I/O error),
 * every later call fails with CL_ERR_STATE until net_store_rollback() (or a
 * failed net_store_commit()) closes it, so no half of it is ever committed.
 *
 * Errors: CL_ERR_INVALID (bad argument, unknown tenant on a write, blob over
 * net_store_blob_max(), buffer too small), CL_ERR_NOMEM, CL_ERR_IO (file
 * system), CL_ERR_FORMAT (not a platform store, or a corrupt one),
 * CL_ERR_VERSION (written by a newer cipherl), CL_ERR_STATE (transaction
 * misuse, or an existing tenant), CL_ERR_TIMEOUT (another connection held the
 * write lock past the busy timeout). net_store_errmsg() says more.
 *
 * One object is used by one thread at a time. No call prints or exits. */
#ifndef CIPHERL_NET_STORE_H
#define CIPHERL_NET_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cipherl/common.h"

/* The schema version this code writes (PRAGMA user_version). */
#define NET_STORE_SCHEMA_VERSION 1
/* PRAGMA application_id of a platform store: 0x43504C53, "CPLS" (decimal,
 * because it is written into a PRAGMA). */
#define NET_STORE_APP_ID 1129335891
/* The database file inside the store's directory. */
#define NET_STORE_FILE "platform.db"
/* A tenant's key: a Z85-encoded 32-byte public key. */
#define NET_STORE_KEY_LEN 40
/* How long a call waits for another connection's write lock. */
#define NET_STORE_BUSY_MS 5000

typedef struct net_store net_store;

/* Opens DIR/platform.db, creating the file and its schema if needed. DIR is
 * created with mode 0700 if missing (its parent must exist; an existing DIR
 * keeps its mode). CL_ERR_IO if DIR cannot be created or is not a directory;
 * CL_ERR_FORMAT if the file is not an SQLite database, or is one that is not
 * a platform store; CL_ERR_VERSION if its schema is newer than this code's.
 * A file that fails to open is left unchanged. err (may be NULL) receives a
 * message on failure. */
cl_status net_store_open(const char *dir, net_store **out, char *err, size_t errlen);
/* Closes s (NULL: no-op); an open transaction is rolled back. */
void net_store_close(net_store *s);
/* The message of the last failure on s ("" when none). */
const char *net_store_errmsg(const net_store *s);
/* The largest blob net_store_put() accepts (SQLite's length limit, 1e9 by default). */
size_t net_store_blob_max(const net_store *s);

/* BEGIN IMMEDIATE (takes the write lock now); CL_ERR_STATE if one is open. */
cl_status net_store_begin(net_store *s);
/* Commits; CL_ERR_STATE if none is open. On failure the transaction is
 * rolled back and closed (on an I/O error during the commit itself, whether
 * it reached the disk is unknown, as always). */
cl_status net_store_commit(net_store *s);
/* Rolls back the open transaction; a no-op if none is open. */
cl_status net_store_rollback(net_store *s);
/* Whether a transaction is open. */
bool net_store_in_transaction(const net_store *s);

/* The tenant of client_key in *id, or -1 when there is none. */
cl_status net_store_tenant_find(net_store *s, const char *client_key, int64_t *id);
/* Adds a tenant; its id (> 0) in *id. CL_ERR_STATE if client_key has one,
 * CL_ERR_INVALID if client_key is not 40 Z85 characters. */
cl_status net_store_tenant_add(net_store *s, const char *client_key, int64_t *id);
/* How many tenants there are. */
cl_status net_store_tenant_count(net_store *s, int64_t *n);
/* Total bytes of the tenant's blobs (0 for an unknown tenant). */
cl_status net_store_tenant_bytes(net_store *s, int64_t tenant, int64_t *bytes);

/* Blobs by (name, idx). put inserts or replaces (len 0 is an empty blob; data
 * may be NULL only then); a put for an unknown tenant is CL_ERR_INVALID. get
 * gives a malloc'ed copy that the caller frees: *data NULL and *len 0 when
 * absent (an empty blob gives a non-NULL *data and *len 0). del removes (an
 * absent blob: no-op). Large blobs are streamed (incremental blob I/O), so a
 * put or get needs no memory beyond the caller's buffer. */
cl_status net_store_put(net_store *s, int64_t tenant, const char *name, int64_t idx, const void *data, size_t len);
cl_status net_store_get(net_store *s, int64_t tenant, const char *name, int64_t idx, uint8_t **data, size_t *len);
cl_status net_store_del(net_store *s, int64_t tenant, const char *name, int64_t idx);

/* Integers by key: put inserts or replaces; get sets *found (and *v when found). */
cl_status net_store_put_int(net_store *s, int64_t tenant, const char *key, int64_t v);
cl_status net_store_get_int(net_store *s, int64_t tenant, const char *key, int64_t *v, bool *found);
/* Texts (NUL-terminated) by key: put inserts or replaces; get copies into buf
 * (cap bytes with the NUL) and sets *found; CL_ERR_INVALID if the text does not
 * fit (then buf holds "" when cap > 0, and *found is true). */
cl_status net_store_put_text(net_store *s, int64_t tenant, const char *key, const char *v);
cl_status net_store_get_text(net_store *s, int64_t tenant, const char *key, char *buf, size_t cap, bool *found);

#endif
