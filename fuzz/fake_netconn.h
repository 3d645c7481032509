/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The connection layer of tpo_netconn.h without sockets, for the memcached
 * and Redis reply parsers: every byte "received" comes from the fuzzer. */
#ifndef FAKE_NETCONN_H
#define FAKE_NETCONN_H

#include <stddef.h>
#include <stdint.h>

/* The bytes the server will answer with, for the operations that follow. */
void fake_netconn_feed(const uint8_t *data, size_t size);
/* Connections opened and broken so far. */
unsigned fake_netconn_opened(void);
unsigned fake_netconn_broken(void);

#endif
