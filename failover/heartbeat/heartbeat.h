/*
 * heartbeat.h — authenticated UDP heartbeats over the pair's optional second link
 * (config key peer_address2).
 *
 * The main peer link is one TCP connection (failover/peer). This second link
 * carries liveness only, so that the partner is taken for dead only when every
 * link is silent: a cut cable or a stuck switch on the main link alone does not
 * start a takeover. Each node sends one datagram per heartbeat interval (the
 * caller's timer) and reads what arrives when hb_fd() polls readable.
 *
 * Datagram, fixed length HB_LEN, all integers big-endian:
 *
 *   magic "TWHB" | version u8 | sender node id u8 | state u8 | pad u8 (0) |
 *   boot nonce u64 | counter u64 | HMAC-SHA256 over the 24 bytes before (32)
 *
 * The MAC key is the pair's shared key (peer_key_load()); the magic differs from
 * the peer protocol's "TWPL", so a heartbeat can never pass for a peer frame nor
 * the reverse. The boot nonce is random per hb_open (getrandom), the counter
 * starts at 1 and grows by one per hb_send. The state byte is the caller's (the
 * sender's role state); this module only carries it.
 *
 * Checks, in order, each drop counted and never an error: length other than
 * HB_LEN, wrong magic or version, non-zero pad (malformed); MAC (bad_mac); sender
 * not the partner, e.g. our own datagram reflected back (wrong_node); freshness
 * (replays).
 *
 * Freshness. The receiver keeps the (nonce, counter) of the last datagram it
 * accepted and takes a datagram when:
 *   1. it has accepted none yet (we just started: any nonce, any counter);
 *   2. same nonce, counter greater than the last one;
 *   3. another nonce with counter < HB_FRESH_COUNT: the partner restarted;
 *   4. another nonce with a larger counter, seen in HB_ADOPT_RUN consecutive
 *      datagrams with strictly increasing counters and no accepted datagram in
 *      between: the partner restarted while this link was down for more than
 *      HB_FRESH_COUNT heartbeats. Without this rule the link would stay deaf until
 *      the partner's next restart. The datagrams of the run before the last are
 *      counted as replays.
 * Trade-off: there are no timestamps (the nodes' clocks need not agree), so an
 * attacker on this network who recorded datagrams of an earlier boot of the
 * partner can replay them through rules 1, 3 and 4 and make a dead partner look
 * alive on this link for as long as the recording lasts. That delays a takeover;
 * it cannot make both nodes serve, because serving needs the storage lease
 * (failover/fence) and the lease fences. Replaying datagrams of the current boot
 * gains nothing (rule 2). A forged datagram needs the key.
 *
 * Received datagrams are not checked against the configured partner address (the
 * MAC is the authentication; NAT or multi-homing may change the source). One
 * hb_receive reads at most HB_RECV_BUDGET datagrams, so a flood cannot keep the
 * caller's loop in here; the rest stay queued and the fd stays readable.
 *
 * No global state; an hb is used by one thread at a time. Left out: key rotation,
 * more than one protocol version, round-trip time measurement.
 */
#ifndef TWINFS_FAILOVER_HEARTBEAT_HEARTBEAT_H
#define TWINFS_FAILOVER_HEARTBEAT_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HB_MAGIC       "TWHB"
#define HB_VERSION     1
#define HB_BODY_LEN    24 /* everything the MAC covers */
#define HB_MAC_LEN     32
#define HB_LEN	       (HB_BODY_LEN + HB_MAC_LEN)
#define HB_FRESH_COUNT 1000 /* a new nonce below this counter is a fresh boot */
#define HB_ADOPT_RUN   3    /* datagrams of a new nonce that adopt it anyway (rule 4) */
#define HB_RECV_BUDGET 64   /* datagrams read per hb_receive at most */

struct hb;

struct hb_params {
	const uint8_t *key;	     /* the pair's shared secret, copied; the caller may wipe it */
	size_t keylen;		     /* PEER_KEY_MIN..PEER_KEY_MAX */
	uint32_t node_id;	     /* 1 or 2; the partner is 3 - node_id */
	const struct sockaddr *bind; /* local address:port to listen on (port 0: any) */
	socklen_t bindlen;
	const struct sockaddr *peer; /* partner's second address:port; NULL: hb_set_peer */
	socklen_t peerlen;
};

struct hb_stats {
	uint64_t sent;	     /* datagrams handed to the kernel */
	uint64_t received;   /* authentic, fresh heartbeats accepted */
	uint64_t bad_mac;    /* MAC did not verify: forged, corrupted or another key */
	uint64_t replays;    /* authentic but not fresh (see "Freshness") */
	uint64_t malformed;  /* wrong length, magic, version or pad */
	uint64_t wrong_node; /* authentic but not from the partner (a reflection) */
};

/*
 * hb_open - a UDP socket bound to p->bind (non-blocking, close-on-exec), the MAC
 * context and a fresh boot nonce. IPv4 or IPv6; p->peer, when given, must be of
 * the same family. Returns 0 and *out, or -errno (-EINVAL for bad parameters).
 */
int hb_open(const struct hb_params *p, struct hb **out);
void hb_close(struct hb *h);

/* The socket, for poll() in the caller's loop. */
int hb_fd(const struct hb *h);

/* The bound address (the port chosen when bind asked for 0). 0 or -errno. */
int hb_local_addr(const struct hb *h, struct sockaddr_storage *ss, socklen_t *len);

/* Sets or changes the partner's address. 0, or -EINVAL (size, family). */
int hb_set_peer(struct hb *h, const struct sockaddr *peer, socklen_t peerlen);

/*
 * hb_send - sends one heartbeat carrying state. 0, or -errno: -EDESTADDRREQ
 * without a partner address, -EAGAIN when the socket buffer is full (the
 * heartbeat is lost, the next one will do), others from sendto.
 */
int hb_send(struct hb *h, uint8_t state);

/*
 * hb_receive - reads the datagrams waiting (at most HB_RECV_BUDGET, without
 * blocking). Returns how many authentic, fresh heartbeats from the partner
 * arrived (0 if none) and, when some did, the state byte of the last in *state.
 * Dropped datagrams are counted, never an error; -errno only when the socket
 * itself fails.
 */
int hb_receive(struct hb *h, uint8_t *state);

/*
 * hb_input - runs the checks on one datagram's bytes, as hb_receive does for each
 * datagram read (exposed for tests and a fuzz target). Returns 1 and *state when
 * accepted, 0 when dropped (and counted).
 */
int hb_input(struct hb *h, const uint8_t *buf, size_t len, uint8_t *state);

void hb_get_stats(const struct hb *h, struct hb_stats *s);

#endif /* TWINFS_FAILOVER_HEARTBEAT_HEARTBEAT_H */
