/* The owner/platform transport: ZeroMQ with the CURVE mechanism, so every
 * byte between an owner (client) and the platform (server) is encrypted and
 * both ends are authenticated by long-term Curve25519 keys.
 *
 * The platform binds a ROUTER socket as CURVE server. Each owner connects a
 * DEALER socket as CURVE client with its own keypair and the server's public
 * key, so a client that does not know the server's key never completes the
 * handshake. A client's identity is its CURVE public key: every net_server
 * owns a ZeroMQ context and a ZAP handler thread (RFC 27) on it that accepts
 * any CURVE client and labels the connection with the Z85 text of the
 * client's public key; net_server_recv returns that label with each message
 * and never returns a message that lacks it. Deciding which keys may do what
 * is the protocol's job above this layer.
 *
 * A message is one frame of arbitrary bytes (the framing layer is separate).
 * Messages larger than the server's max_msg_bytes are never returned: libzmq
 * drops the connection of a client whose frame is clearly too large, and
 * net_server_recv discards what gets through above the limit.
 *
 * Secret keys are 32 bytes from the operating system's random generator
 * (getrandom), the public key their X25519 base-point multiple, as
 * crypto_box_keypair makes them; this layer wipes its copies of secrets
 * (sodium_memzero) when done with them (libzmq keeps its own copy in each
 * socket). Nothing here prints, exits or keeps global state; one object must
 * not be used by two threads at once, different objects may.
 *
 * Known limit (libzmq 4.3.4): a connected client that picks its own routing
 * id of the form libzmq generates (a zero byte, then 4 bytes) can make a later
 * connection's generated id collide, and libzmq then aborts the server
 * process (an assertion in its ROUTER). It takes an authenticated client, so
 * accepting only known keys narrows it to known owners.
 *
 * (Internal for now: include as "net/transport.h".) */
#ifndef CIPHERL_NET_TRANSPORT_H
#define CIPHERL_NET_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cipherl/common.h"

/* Z85 text of a 32-byte CURVE key (without the terminating NUL). */
#define NET_KEY_Z85_LEN 40
/* The longest ZeroMQ routing id (bytes). */
#define NET_ROUTING_ID_MAX 255

/* ------------------------------------------------------------------- keys */

typedef struct net_keypair {
    char public_z85[NET_KEY_Z85_LEN + 1]; /* NUL-terminated */
    char secret_z85[NET_KEY_Z85_LEN + 1]; /* NUL-terminated; wipe with net_keypair_wipe */
} net_keypair;

/* A fresh CURVE keypair from the OS random generator (CL_ERR_RNG if it fails). */
cl_status net_keypair_generate(net_keypair *kp);

/* Zeroes kp (sodium_memzero); kp may be NULL. */
void net_keypair_wipe(net_keypair *kp);

/* Whether z85 is exactly NET_KEY_Z85_LEN Z85 characters encoding 32 bytes. */
bool net_key_z85_valid(const char *z85);

/* Whether kp holds two valid keys and its public key is the one of its secret. */
bool net_keypair_valid(const net_keypair *kp);

/* Writes the secret file (mode 0600)
 *     "cipherl-curve-secret-v1\n<secret z85>\n<public z85>\n"
 * and, unless public_path is NULL, the public file (mode 0644)
 *     "cipherl-curve-public-v1\n<public z85>\n".
 * Each is written to a temporary file in its directory, flushed to disk and
 * linked to its name only when complete, so a crash never leaves half a key.
 * An existing file is never replaced: if either name exists, nothing is
 * written (CL_ERR_IO). The directory's file system must support hard links. CL_ERR_INVALID if kp is not a valid keypair or the two
 * paths are the same string. */
cl_status net_keypair_save(const net_keypair *kp, const char *secret_path, const char *public_path);

/* Loads a secret file written by net_keypair_save. CL_ERR_IO if it cannot be
 * opened or read; CL_ERR_INVALID if it is not a regular file or is readable or
 * writable by group or others (chmod 600 it); CL_ERR_FORMAT if its content is
 * not exactly the format above, a key is not valid Z85, or the public key does
 * not belong to the secret. kp is written only on success. */
cl_status net_keypair_load(const char *secret_path, net_keypair *kp);

/* Loads a public file written by net_keypair_save (CL_ERR_IO, CL_ERR_FORMAT as
 * above); out is written only on success. */
cl_status net_public_key_load(const char *public_path, char out[NET_KEY_Z85_LEN + 1]);

/* ----------------------------------------------------------------- server */

typedef struct net_server net_server;

/* Who sent a message: the connection to reply on and the client's key. */
typedef struct net_peer {
    uint8_t routing_id[NET_ROUTING_ID_MAX + 1];
    size_t routing_len;
    char client_key[NET_KEY_Z85_LEN + 1]; /* the client's CURVE public key, Z85, NUL-terminated */
} net_peer;

/* Binds a CURVE server on endpoint, e.g. "tcp://127.0.0.1:5555", or
 * "tcp://127.0.0.1:*" for an ephemeral port (see net_server_endpoint);
 * "tcp://[::1]:5555" (IPv6 literals in brackets) and "ipc:///path" work too.
 * max_msg_bytes (> 0) bounds the messages net_server_recv returns.
 * CL_ERR_INVALID for a bad argument or keypair, CL_ERR_NET if the endpoint
 * cannot be bound, CL_ERR_NOMEM. */
cl_status net_server_open(const char *endpoint, const net_keypair *server_kp, size_t max_msg_bytes,
                          net_server **out);

/* The owners a server lets in: CURVE public keys, Z85. */
typedef struct net_allowlist {
    char (*keys)[NET_KEY_Z85_LEN + 1];
    size_t n;
} net_allowlist;

/* Reads an allow-list file: one owner key per line, a bare Z85 key or the
 * contents of an owner.curve.pub file (its header line is skipped); blank
 * lines and lines starting with '#' that are not keys ('#' is a Z85 digit)
 * are ignored. An empty list is allowed (it
 * lets nobody in). CL_ERR_FORMAT with the line named in err, CL_ERR_IO,
 * CL_ERR_NOMEM. */
cl_status net_allowlist_load(const char *path, net_allowlist *out, char *err, size_t errlen);
void net_allowlist_free(net_allowlist *a);

/* net_server_open whose handshakes succeed only for the keys in allow (a
 * copy is kept; NULL lets in any key). The ZAP handler refuses other keys
 * before any message of theirs reaches the server. */
cl_status net_server_open_allow(const char *endpoint, const net_keypair *server_kp, size_t max_msg_bytes,
                                const net_allowlist *allow, net_server **out);

/* The bound endpoint, with the real port, e.g. "tcp://127.0.0.1:40123".
 * Valid until net_server_close. */
const char *net_server_endpoint(const net_server *s);

/* Waits up to timeout_ms (-1: forever; 0: only what has arrived) for a
 * message from an authenticated client: *msg is malloc'ed (the caller frees
 * it; never NULL on success, even for an empty message), *len its size, *from
 * who sent it. CL_ERR_TIMEOUT if none came in time; CL_ERR_NET if the socket
 * failed; CL_ERR_NOMEM. Messages over max_msg_bytes, of several frames or
 * without a client key are discarded, never returned. */
cl_status net_server_recv(net_server *s, int timeout_ms, net_peer *from, uint8_t **msg, size_t *len);

/* Queues msg for the peer `to` (copied; returns without waiting for the
 * network). CL_ERR_NET if that connection is gone (the client closed it or
 * reconnected: the reply is dropped, never delivered to a later connection)
 * or its queue is full. */
cl_status net_server_send(net_server *s, const net_peer *to, const uint8_t *msg, size_t len);

/* As net_server_send, without the copy: takes msg, a malloc'ed buffer (NULL
 * if len is 0), and frees it whatever the outcome, once sent or at once on
 * failure. The caller must not touch msg after the call. */
cl_status net_server_send_owned(net_server *s, const net_peer *to, uint8_t *msg, size_t len);

/* Closes the socket, stops the ZAP handler, frees everything; s may be NULL. */
void net_server_close(net_server *s);

/* ----------------------------------------------------------------- client */

typedef struct net_client net_client;

/* Connects to the server at endpoint whose CURVE public key is
 * server_public_z85, as client_kp. Returns at once: ZeroMQ connects (and
 * reconnects) in the background and net_client_send queues until it has.
 * CL_ERR_INVALID for a bad argument, key or keypair; CL_ERR_NET; CL_ERR_NOMEM. */
cl_status net_client_open(const char *endpoint, const net_keypair *client_kp, const char *server_public_z85,
                          net_client **out);

/* Queues msg (copied) for the server. CL_ERR_NET if the socket failed or
 * its queue is full. */
cl_status net_client_send(net_client *c, const uint8_t *msg, size_t len);

/* As net_client_send, without the copy: takes msg (malloc'ed, NULL if len
 * is 0) and frees it whatever the outcome; see net_server_send_owned. */
cl_status net_client_send_owned(net_client *c, uint8_t *msg, size_t len);

/* Waits up to timeout_ms (-1: forever; 0: only what has arrived) for a
 * message from the server: *msg is malloc'ed (the caller frees it; never NULL
 * on success), *len its size. CL_ERR_TIMEOUT if none came in time, which is
 * also what a wrong server key or an unreachable server looks like. */
cl_status net_client_recv(net_client *c, int timeout_ms, uint8_t **msg, size_t *len);

/* Drops the connection, with whatever is queued in either direction, and
 * connects again on a fresh socket (a new routing id on the server), so no
 * reply to an earlier request can arrive afterwards. Use it after a timeout,
 * before resending, and after the server restarted. */
cl_status net_client_reconnect(net_client *c);

/* Closes the connection, wipes the keys, frees everything; c may be NULL. */
void net_client_close(net_client *c);

#endif
