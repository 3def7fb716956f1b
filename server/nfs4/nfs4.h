/*
 * nfs4.h — NFSv4.0, 4.1 and 4.2 (RFC 7530, RFC 8881, RFC 7862): program 100003
 * version 4, NULL and COMPOUND, on the same port, exports and FSAL as NFSv3.
 *
 * The module's state (clients, sessions, stateids, the pseudo filesystem) lives
 * in one struct nfs4_server that struct server owns (server->nfs4).
 */
#ifndef TWINFS_SERVER_NFS4_NFS4_H
#define TWINFS_SERVER_NFS4_NFS4_H

#include <stdbool.h>
#include <stdint.h>

#include "server/nfs/dispatch.h"

struct server;
struct nfs4_server;

extern const struct prog_desc nfs4_program;

/* Builds the pseudo filesystem from the exports and starts the lease reaper.
 * 0 or a negative errno. lease_sec 0 = the default (90 s; TWINFS_NFS4_LEASE in
 * the environment overrides it, for tests). */
int nfs4_server_create(struct server *srv, uint32_t lease_sec, struct nfs4_server **out);
void nfs4_server_destroy(struct nfs4_server *n);
/* A pair node starts or stops serving. Starting: clients of any earlier period
 * of service are forgotten (a new epoch: they see a reboot) and the client records
 * are read again, from the shared storage, for a grace period in which the
 * partner's clients reclaim. Stopping: the records are no longer written, as the
 * partner owns them. */
void nfs4_server_serving(struct nfs4_server *n, bool on);

#endif
