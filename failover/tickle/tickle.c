/*
 * tickle.c — bare TCP ACKs from the service address to each known client
 * connection (see tickle.h for why).
 *
 * IPv4: one IPPROTO_RAW socket (IP_HDRINCL implied, raw(7)); we write the IP
 * header, so any source address goes out as given, and the kernel fills in the
 * header checksum and packet id. IPv6: one IPPROTO_TCP raw socket; the kernel
 * writes the IPv6 header, the source comes from an IPV6_PKTINFO control
 * message per segment (connections may name different service addresses), and
 * we compute the TCP checksum ourselves over the IPv6 pseudo-header, as the
 * kernel only does that for ICMPv6 unless told an offset (RFC 3542 §3.1).
 *
 * Left out: TCP options (a bare ACK needs none), sending an RST ourselves (we
 * do not know the client's sequence number; getting its kernel to tell ours is
 * the whole trick), and retry timing beyond a fixed interval.
 */
#include "failover/tickle/tickle.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Any value: the client ignores the window of a segment it drops as out of
 * window. CTDB uses the same. */
#define TICKLE__WINDOW 1234

struct tickle__ends {
	sa_family_t family;
	struct sockaddr_in in4[2];  /* [0] server, [1] client */
	struct sockaddr_in6 in6[2]; /* likewise */
};

/* RFC 1071 one's complement sum, 16 bits at a time in network order. */
static uint32_t tickle__sum(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t tickle__fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void tickle__tcp(struct tcphdr *th, in_port_t sport, in_port_t dport)
{
	memset(th, 0, sizeof(*th));
	th->source = sport; /* both already in network order */
	th->dest = dport;
	th->seq = 0;
	th->ack_seq = 0;
	th->doff = sizeof(*th) / 4;
	th->ack = 1;
	th->window = htons(TICKLE__WINDOW);
}

/* The server or client side as plain IPv4 if it is IPv4-mapped. */
static sa_family_t tickle__side(const struct sockaddr_storage *ss, struct sockaddr_in *in4,
				struct sockaddr_in6 *in6)
{
	if (ss->ss_family == AF_INET) {
		memcpy(in4, ss, sizeof(*in4));
		return AF_INET;
	}
	if (ss->ss_family != AF_INET6)
		return AF_UNSPEC;
	memcpy(in6, ss, sizeof(*in6));
	if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return AF_INET6;
	memset(in4, 0, sizeof(*in4));
	in4->sin_family = AF_INET;
	in4->sin_port = in6->sin6_port;
	memcpy(&in4->sin_addr, &in6->sin6_addr.s6_addr[12], 4);
	return AF_INET;
}

/* Both sides in one family, or AF_UNSPEC for a connection we cannot tickle. */
static sa_family_t tickle__ends(const struct tickle_conn *c, struct tickle__ends *e)
{
	memset(e, 0, sizeof(*e));
	sa_family_t s = tickle__side(&c->server, &e->in4[0], &e->in6[0]);
	sa_family_t d = tickle__side(&c->client, &e->in4[1], &e->in6[1]);
	e->family = s == d ? s : AF_UNSPEC;
	return e->family;
}

static int tickle__send4(int fd, const struct sockaddr_in *srv, const struct sockaddr_in *cli)
{
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
	} pkt;
	memset(&pkt, 0, sizeof(pkt));
	pkt.ip.version = 4;
	pkt.ip.ihl = sizeof(pkt.ip) / 4;
	pkt.ip.tot_len = htons(sizeof(pkt));
	pkt.ip.frag_off = htons(IP_DF);
	pkt.ip.ttl = 64;
	pkt.ip.protocol = IPPROTO_TCP;
	pkt.ip.saddr = srv->sin_addr.s_addr;
	pkt.ip.daddr = cli->sin_addr.s_addr;
	tickle__tcp(&pkt.tcp, srv->sin_port, cli->sin_port);

	/* Pseudo-header (RFC 9293 §3.1): source, destination, zero, protocol, TCP length. */
	uint32_t sum = tickle__sum(0, &pkt.ip.saddr, 8);
	sum += IPPROTO_TCP + sizeof(pkt.tcp);
	pkt.tcp.check = tickle__fold(tickle__sum(sum, &pkt.tcp, sizeof(pkt.tcp)));

	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = cli->sin_addr};
	if (sendto(fd, &pkt, sizeof(pkt), 0, (const struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

static int tickle__send6(int fd, const struct sockaddr_in6 *srv, const struct sockaddr_in6 *cli)
{
	struct tcphdr th;
	tickle__tcp(&th, srv->sin6_port, cli->sin6_port);

	/* Pseudo-header (RFC 8200 §8.1): source, destination, upper-layer length
	 * (32 bits), three zero bytes, next header. */
	uint32_t sum = tickle__sum(0, &srv->sin6_addr, 16);
	sum = tickle__sum(sum, &cli->sin6_addr, 16);
	sum += sizeof(th) + IPPROTO_TCP;
	th.check = tickle__fold(tickle__sum(sum, &th, sizeof(th)));

	/* The port field of a raw socket's address is the protocol: 0 = the socket's. */
	struct sockaddr_in6 to = *cli;
	to.sin6_port = 0;
	if (!to.sin6_scope_id)
		to.sin6_scope_id = srv->sin6_scope_id;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = {.iov_base = &th, .iov_len = sizeof(th)};
	struct msghdr msg = {.msg_name = &to,
			     .msg_namelen = sizeof(to),
			     .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
	struct in6_pktinfo pi = {.ipi6_addr = srv->sin6_addr, .ipi6_ifindex = srv->sin6_scope_id};
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	if (sendmsg(fd, &msg, 0) < 0)
		return -errno;
	return 0;
}

static int tickle__socket(int family)
{
	int fd = family == AF_INET ? socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW)
				   : socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		/* A service address still in duplicate address detection is not yet
		 * usable as a source; FREEBIND lets the segment go anyway. Best effort:
		 * kernels before 4.15 lack it, and the address is normally ready. */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	}
	return fd;
}

/* Opens the raw socket of each family some connection needs: fd[0] IPv4, fd[1] IPv6. */
static int tickle__open(const struct tickle_conn *conns, size_t n, int fd[2])
{
	struct tickle__ends e;
	for (size_t i = 0; i < n; i++) {
		sa_family_t f = tickle__ends(&conns[i], &e);
		int k = f == AF_INET ? 0 : 1;
		if (f == AF_UNSPEC || fd[k] >= 0)
			continue;
		fd[k] = tickle__socket(f);
		if (fd[k] < 0)
			return fd[k];
	}
	return 0;
}

static void tickle__pause(void)
{
	struct timespec ts = {.tv_sec = TICKLE_INTERVAL_MS / 1000,
			      .tv_nsec = (TICKLE_INTERVAL_MS % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One segment to each connection; marks in sent[] those that went out. */
static void tickle__round(const struct tickle_conn *conns, size_t n, const int fd[2], bool *sent)
{
	struct tickle__ends e;
	for (size_t i = 0; i < n; i++) {
		int rc;
		switch (tickle__ends(&conns[i], &e)) {
		case AF_INET:
			rc = tickle__send4(fd[0], &e.in4[0], &e.in4[1]);
			break;
		case AF_INET6:
			rc = tickle__send6(fd[1], &e.in6[0], &e.in6[1]);
			break;
		default:
			continue;
		}
		if (rc == 0)
			sent[i] = true;
	}
}

int tickle_send(const struct tickle_conn *conns, size_t n, unsigned count)
{
	if (n == 0 || count == 0)
		return 0;
	if (!conns || n > INT_MAX)
		return -EINVAL;
	bool *sent = calloc(n, sizeof(*sent));
	if (!sent)
		return -ENOMEM;
	int fd[2] = {-1, -1};
	int rc = tickle__open(conns, n, fd);
	for (unsigned r = 0; rc == 0 && r < count; r++) {
		if (r > 0)
			tickle__pause();
		tickle__round(conns, n, fd, sent);
	}
	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc += sent[i];
	for (int k = 0; k < 2; k++)
		if (fd[k] >= 0)
			close(fd[k]);
	free(sent);
	return rc;
}
