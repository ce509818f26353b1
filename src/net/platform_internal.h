/* Test hooks into the platform (src/net/platform.c). Internal to the net
 * layer and its tests: nothing else may call them.
 *
 * (Include as "net/platform_internal.h".) */
#ifndef CIPHERL_NET_PLATFORM_INTERNAL_H
#define CIPHERL_NET_PLATFORM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cipherl/net.h"

/* Serves buf[0 .. len) exactly as the platform's loop serves a message that
 * arrived from the owner whose CURVE public key is client_key_z85 (40 Z85
 * characters), without a connection: the peer's routing id is one no ZeroMQ
 * connection ever has ("\xff" then text; libzmq generates a zero byte then 4
 * bytes), so the ROUTER socket (ZMQ_ROUTER_MANDATORY) refuses every reply and
 * refresh request at once (EHOSTUNREACH) and nothing is sent. A request that
 * needs a refresh therefore fails there, as when its owner went away. buf
 * stays the caller's. */
void net_platform_handle_for_test(net_platform *p, const char *client_key_z85, const uint8_t *buf, size_t len);

/* The in-memory counters of the session of client_key_z85, as HELLO_OK would
 * report them: false (and *info zeroed) if no session of that key is in
 * memory now (none, or dropped until its next message reloads it). */
bool net_platform_session_for_test(const net_platform *p, const char *client_key_z85, net_session_info *info);

#endif
