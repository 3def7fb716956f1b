/*
 * tickle.h — "tickle ACKs" (the trick is CTDB's): after the service address
 * moved to this node, make every client connection that still points at the
 * old node fail at once, instead of after the client's own TCP timers
 * (DESIGN.md "The pair").
 *
 * For each connection the new node sends a bare ACK from the server's side
 * (service address, NFS port) to the client's side, with sequence and
 * acknowledgement numbers 0. The segment is outside the client's window, so
 * its TCP drops it and answers with an ACK carrying its real numbers (RFC 9293
 * §3.10.7.4, first check; RFC 5961 §5.2). That ACK reaches this node, whose
 * kernel has no such connection and replies RST with exactly the sequence
 * number the client expects (RFC 9293 §3.5.2, case 1): the client's connection
 * resets and the NFS client reconnects to this node immediately.
 *
 * Each segment is sent `count` times, TICKLE_INTERVAL_MS apart, because the
 * client's answer to the first one may still go to the old node's MAC if the
 * gratuitous ARP has not reached it yet. The interval is longer than Linux's
 * per-connection limit on such answers (net.ipv4.tcp_invalid_ratelimit, 500 ms
 * by default): a repeat sent sooner is silently ignored by the client.
 *
 * Raw sockets, so the caller needs CAP_NET_RAW. Stateless; no threads; the
 * call blocks for (count - 1) * TICKLE_INTERVAL_MS.
 */
#ifndef TWINFS_FAILOVER_TICKLE_TICKLE_H
#define TWINFS_FAILOVER_TICKLE_TICKLE_H

#include <stddef.h>
#include <sys/socket.h>

#define TICKLE_INTERVAL_MS 600

/* One client connection as the serving node saw it: the server's side (service
 * address and port) and the client's side. AF_INET or AF_INET6; an IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d, as a dual-stack listener reports it) is treated
 * as IPv4. Both sides must end up in the same family. */
struct tickle_conn {
	struct sockaddr_storage server, client;
};

/* Sends `count` bare ACKs to each connection, round by round. Returns how many
 * connections had at least one segment sent (a connection with mixed or
 * unknown families is skipped), or -errno if a raw socket needed for them
 * cannot be opened (-EPERM without CAP_NET_RAW). The source address should be
 * local by now (the caller adds the service address first); IPv4 does not
 * check, IPv6 is allowed a tentative or absent one where the kernel supports
 * IPV6_FREEBIND. */
int tickle_send(const struct tickle_conn *conns, size_t n, unsigned count);

#endif
