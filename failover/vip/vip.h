/*
 * vip.h — the service address: the floating IP that clients mount, held by
 * exactly one node of a pair (DESIGN.md "The pair").
 *
 * Adding and removing the address goes through iproute2 (`ip addr`), as CTDB and
 * keepalived-style tools do: it is the interface administrators know and debug
 * with. The gratuitous ARP that tells the LAN where the address went is sent here
 * directly from a packet socket (RFC 5227 §3 "ARP Announcement"), because without
 * it clients keep talking to the old node's MAC for up to two minutes.
 */
#ifndef TWINFS_FAILOVER_VIP_VIP_H
#define TWINFS_FAILOVER_VIP_VIP_H

#include <stdbool.h>
#include <stddef.h>

struct vip {
	char iface[32];	 /* interface name, e.g. "eth0" */
	char addr[64];	 /* IPv4 or IPv6 literal */
	unsigned prefix; /* e.g. 24 */
};

/* 0, or a negative errno with a one-line reason in err (from `ip` when it ran). */
int vip_add(const struct vip *v, char *err, size_t errlen);
int vip_del(const struct vip *v, char *err, size_t errlen);
/* Is the address configured on any local interface? */
bool vip_present(const struct vip *v);
/* Sends `count` ARP announcements for an IPv4 address, 100 ms apart. 0 or -errno;
 * an IPv6 address returns 0 (unsolicited neighbour advertisements come later). */
int vip_announce(const struct vip *v, unsigned count);

#endif
