/*
 * peer.h — the peer protocol: frames, messages, the shared key, and one
 * connection's authentication state (a "session").
 *
 * The two nodes of a pair talk over one TCP connection (DESIGN.md "The pair",
 * docs/peer-protocol.md). Every message travels in a frame:
 *
 *   magic "TWPL" | version u8 | type u8 | flags u16 | length u32 | sequence u64 |
 *   sender u32 | nonce u64 | payload (length bytes) | HMAC-SHA256 (32 bytes)
 *
 * all integers big-endian, the MAC over header and payload with the pair's shared
 * key. Replay is refused twice over: within a connection by the sequence number
 * (strictly increasing, starting at 1), across connections by the nonce: each side
 * opens a connection with a HELLO carrying a fresh random nonce, and every later
 * frame carries the RECEIVER's nonce, so a frame recorded on an old connection
 * names a nonce nobody uses any more.
 *
 * Invariants:
 *   - The parser never reads outside the bytes it is given and never allocates;
 *     a frame's payload is at most PEER_MAX_PAYLOAD, and before the partner's
 *     HELLO is accepted at most PEER_MAX_PAYLOAD_PREAUTH (an unauthenticated
 *     connector cannot make us wait for a megabyte).
 *   - Every rejection has its own status. Only PEER_EMAGIC and PEER_ETOOBIG lose
 *     the framing (peer_status_fatal()); after any other rejection the frame has
 *     been skipped whole and the stream goes on.
 *   - The sequence number advances on every authentic, fresh frame, whatever its
 *     type or payload, so an accepted frame can never be accepted twice.
 *
 * This module does no I/O (link.h does) and keeps no global state. A session is
 * used by one thread at a time. Left out: key rotation, encryption (the link
 * carries request-table records, not file data, and runs on the pair's own
 * network), more than one protocol version.
 */
#ifndef TWINFS_FAILOVER_PEER_PEER_H
#define TWINFS_FAILOVER_PEER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PEER_MAGIC		 "TWPL"
#define PEER_VERSION		 1
#define PEER_HDR_LEN		 32
#define PEER_MAC_LEN		 32
#define PEER_MAX_PAYLOAD	 (1u << 20) /* a MIRROR batch */
#define PEER_MAX_PAYLOAD_PREAUTH 256	    /* until the partner's HELLO is accepted */
#define PEER_MAX_FRAME		 (PEER_HDR_LEN + PEER_MAX_PAYLOAD + PEER_MAC_LEN)
#define PEER_KEY_MIN		 32
#define PEER_KEY_MAX		 1024
#define PEER_DETAIL_MAX		 256 /* bytes of text in FAULT, TAKEOVER_REQUEST, REFUSE */
#define PEER_HELLO_LEN		 22
/* MIRROR: position u64 + count u32, then the records */
#define PEER_MIRROR_HDR_LEN   12
#define PEER_MIRROR_MAX_BYTES (PEER_MAX_PAYLOAD - PEER_MIRROR_HDR_LEN)

/* Wire numbers: never reuse one. */
enum peer_type {
	PEER_HELLO = 1,
	PEER_HEARTBEAT = 2,
	PEER_FAULT = 3,
	PEER_TAKEOVER_REQUEST = 4,
	PEER_SHUTDOWN_REQUEST = 5,
	PEER_REFUSE = 6,
	PEER_RELEASED = 7,
	PEER_STAY_DOWN = 8,
	PEER_GIVEBACK = 9,
	PEER_MIRROR = 10,
	PEER_MIRROR_ACK = 11,
	PEER_CLIENTS = 12,
	PEER_TYPE_MAX = PEER_CLIENTS,
};

enum peer_status {
	PEER_OK = 0,
	PEER_NEED_MORE = 1, /* a partial frame (or a connect in progress): wait for input */

	/* The framing is lost: close the connection and connect again. */
	PEER_EMAGIC = -1,  /* the bytes at a frame boundary are not "TWPL" */
	PEER_ETOOBIG = -2, /* length over the limit (or, sending, a payload over it) */

	/* One frame rejected and skipped whole; the stream goes on. */
	PEER_EVERSION = -3,  /* a protocol version other than PEER_VERSION */
	PEER_EFLAGS = -4,    /* reserved flag bits set */
	PEER_EMAC = -5,	     /* MAC does not verify: forged, corrupted, or another key */
	PEER_ESENDER = -6,   /* sender is this node (a reflection) or not the partner */
	PEER_ENONCE = -7,    /* not addressed to this connection (an old session) */
	PEER_EREPLAY = -8,   /* sequence number not above the last one accepted */
	PEER_EUNKNOWN = -9,  /* authentic, but a type this version does not know */
	PEER_EPAYLOAD = -10, /* authentic, but the payload is malformed for its type */
	PEER_ESTATE = -11,   /* not allowed at this point of the handshake */

	/* Local errors. */
	PEER_EINVAL = -12,    /* bad argument: a message that cannot be encoded */
	PEER_ENOSPC = -13,    /* output buffer too small */
	PEER_ENOMEM = -14,    /* allocation failed */
	PEER_ECRYPTO = -15,   /* OpenSSL or getrandom failed */
	PEER_EIO = -16,	      /* a system call failed; errno (or peer_link_errno()) says why */
	PEER_ECLOSED = -17,   /* the partner closed the connection, or there is none */
	PEER_ETIMEDOUT = -18, /* a send or connect did not finish in time */
};

/* Fixed-size messages. Field meanings are the role module's (failover/role). */
struct peer_hello {
	uint16_t version;   /* PEER_VERSION */
	uint32_t node_id;   /* the sender's, as in the frame header */
	uint64_t nonce;	    /* the sender's fresh nonce for this connection, non-zero */
	uint64_t config_fp; /* fingerprint of the exports; equal on compatible nodes */
};

struct peer_heartbeat {
	uint8_t state;	     /* the sender's node state */
	uint32_t health;     /* health flags */
	uint64_t mirror_pos; /* last mirror position sent (serving) or stored (standby) */
	uint64_t epoch;
	uint64_t uptime_ms;
};

/* FAULT(type), TAKEOVER_REQUEST(reason), REFUSE(reason): a code and a sentence. */
struct peer_notice {
	uint16_t code;
	/* NUL-terminated; no control characters (it ends up in logs and twinctl) */
	char detail[PEER_DETAIL_MAX + 1];
};

/* SHUTDOWN_REQUEST: an id that the RELEASED answering it names. */
struct peer_shutdown {
	uint64_t request;
};

struct peer_released {
	uint64_t mirror_pos;
	uint8_t verifier[8]; /* the NFSv3 write verifier to keep */
	uint64_t request;    /* the SHUTDOWN_REQUEST answered: a late answer is dropped */
};

struct peer_stay_down {
	uint64_t epoch;
};

/*
 * A batch of opaque request-table records, each u32-length-prefixed. Decoded,
 * `records` points into the frame (valid until the next receive on the link).
 * Positions count records since the mirror stream began: this batch holds
 * records position .. position + count - 1.
 */
struct peer_mirror {
	uint64_t position;
	uint32_t count;
	uint32_t records_len; /* bytes at `records`, at most PEER_MIRROR_MAX_BYTES */
	const uint8_t *records;
};

/* Every record before `position` is stored on the standby. */
struct peer_mirror_ack {
	uint64_t position;
};

/*
 * CLIENTS: the serving node's client connections to the service address, so
 * that the node taking over can tickle each (DESIGN.md "fast reconnect"). Each
 * entry is PEER_CLIENT_LEN bytes: family u8 (4 or 6), server address (16, an
 * IPv4 address in the first 4), server port u16, client address (16), client
 * port u16. `entries` points into the frame, like MIRROR records.
 */
#define PEER_CLIENT_LEN	 37
#define PEER_CLIENTS_MAX ((PEER_MAX_PAYLOAD - 4) / PEER_CLIENT_LEN)
struct peer_clients {
	uint32_t count;
	const uint8_t *entries;
};

struct peer_msg {
	enum peer_type type;
	union {
		struct peer_hello hello;
		struct peer_heartbeat heartbeat;
		struct peer_notice fault;
		struct peer_notice takeover;
		struct peer_notice refuse;
		struct peer_shutdown shutdown;
		struct peer_released released;
		struct peer_stay_down stay_down;
		struct peer_mirror mirror;
		struct peer_mirror_ack mirror_ack;
		struct peer_clients clients;
		/* GIVEBACK carries nothing */
	} u;
};

/* A decoded frame header. */
struct peer_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t len; /* payload bytes */
	uint64_t seq;
	uint32_t sender;
	uint64_t nonce;
};

/* "bad MAC" etc.: a short constant phrase for logs. */
const char *peer_strerror(enum peer_status st);
/* True for the statuses after which the stream cannot be resynchronised. */
bool peer_status_fatal(enum peer_status st);
/* "HEARTBEAT" etc., or NULL for a number this version does not know. */
const char *peer_type_name(unsigned type);

/* ---- messages (pure, no session) ---- */

/*
 * peer_msg_encode - writes m's payload (not a frame) into buf.
 * Returns PEER_OK and *len, PEER_EINVAL (unknown type, a detail too long or with
 * control characters, MIRROR records that do not match their count), PEER_ETOOBIG
 * (over PEER_MAX_PAYLOAD) or PEER_ENOSPC (over cap).
 */
enum peer_status peer_msg_encode(const struct peer_msg *m, uint8_t *buf, size_t cap, size_t *len);

/*
 * peer_msg_decode - parses a payload of the given type into *m. Exact: a short
 * payload, trailing bytes, a detail over PEER_DETAIL_MAX or with a NUL or control
 * character, a MIRROR whose records overrun or do not add up to count are
 * PEER_EPAYLOAD; an unknown type is PEER_EUNKNOWN. MIRROR records point into p.
 */
enum peer_status peer_msg_decode(unsigned type, const uint8_t *p, size_t len, struct peer_msg *m);

/*
 * peer_mirror_add - appends one record (u32 length + bytes) to a records buffer
 * being built for a MIRROR batch: buf[0..*used) grows, *count is incremented.
 * PEER_ENOSPC when it does not fit in cap (send the batch, start another);
 * cap larger than PEER_MIRROR_MAX_BYTES counts as PEER_MIRROR_MAX_BYTES.
 */
enum peer_status peer_mirror_add(uint8_t *buf, size_t cap, uint32_t *used, uint32_t *count,
				 const void *rec, uint32_t rec_len);

/* Appends one connection (server side, client side: AF_INET or AF_INET6) to
 * entries being built for CLIENTS; PEER_ENOSPC past cap, PEER_EINVAL for
 * another family. */
enum peer_status peer_clients_add(uint8_t *buf, size_t cap, uint32_t *count,
				  const struct sockaddr *server, const struct sockaddr *client);
/* Entry i of a decoded CLIENTS as socket addresses. */
void peer_clients_get(const struct peer_clients *c, uint32_t i, struct sockaddr_storage *server,
		      struct sockaddr_storage *client);

/* Walks the records of a decoded MIRROR: *off starts at 0. False at the end. */
bool peer_mirror_next(const struct peer_mirror *m, uint32_t *off, const uint8_t **rec,
		      uint32_t *rec_len);

/* ---- frames (pure, no session) ---- */

/*
 * peer_frame_scan - looks for one frame at the start of buf[0..avail), which may
 * be a partial frame. PEER_OK: a whole frame is there, *h is its header and
 * PEER_HDR_LEN + h->len + PEER_MAC_LEN its size. PEER_NEED_MORE: not yet.
 * PEER_EMAGIC / PEER_ETOOBIG (payload over max_payload, capped at
 * PEER_MAX_PAYLOAD): the framing is lost. Checks nothing else (no MAC).
 */
enum peer_status peer_frame_scan(const uint8_t *buf, size_t avail, uint32_t max_payload,
				 struct peer_hdr *h);

static inline size_t peer_frame_size(const struct peer_hdr *h)
{
	return (size_t)PEER_HDR_LEN + h->len + PEER_MAC_LEN;
}

/* ---- key ---- */

/*
 * peer_key_load - reads the pair's shared key: the file's bytes, exactly (no
 * whitespace is stripped, so copy the file between the nodes rather than retype
 * it). Refuses, with a sentence in err, anything that is not a regular file
 * owned by root (or by the current effective user), a file group or others may
 * read or write (mode & 077), and a size outside PEER_KEY_MIN..PEER_KEY_MAX.
 * Returns 0 and *len, or -errno. Wipe key once the session holds it.
 */
int peer_key_load(const char *path, uint8_t key[PEER_KEY_MAX], size_t *len, char *err,
		  size_t errlen);

/* ---- session: one connection's authentication state ---- */

struct peer_session;

struct peer_params {
	const uint8_t *key; /* copied into the MAC context; the caller may wipe it */
	size_t key_len;	    /* PEER_KEY_MIN..PEER_KEY_MAX */
	uint32_t self_id;   /* this node's id, non-zero */
	uint32_t peer_id;   /* the partner's id; 0: any id but self_id */
	uint64_t config_fp; /* sent in HELLO */
};

/* NULL on a bad parameter or when OpenSSL fails (errno EINVAL / ENOMEM). */
struct peer_session *peer_session_new(const struct peer_params *p);
void peer_session_free(struct peer_session *s);

/* A fresh random nonce (getrandom), never 0. PEER_OK or PEER_ECRYPTO. */
enum peer_status peer_nonce_random(uint64_t *nonce);

/*
 * peer_session_reset - starts a connection: this side's nonce (non-zero; from
 * peer_nonce_random() except in tests), sequence numbers back to 0, the
 * partner's HELLO forgotten. PEER_EINVAL for a zero nonce.
 */
enum peer_status peer_session_reset(struct peer_session *s, uint64_t nonce);

/*
 * peer_session_seal_hello - this side's HELLO, the first frame of a connection
 * (sequence 1, header nonce 0). PEER_ESTATE if already sent.
 */
enum peer_status peer_session_seal_hello(struct peer_session *s, uint8_t *out, size_t cap,
					 size_t *len);

/*
 * peer_session_seal - one frame carrying m (not a HELLO: PEER_EINVAL), addressed
 * to the partner's nonce: PEER_ESTATE before the partner's HELLO was accepted.
 * cap PEER_MAX_FRAME always suffices. Consumes a sequence number on success.
 */
enum peer_status peer_session_seal(struct peer_session *s, const struct peer_msg *m, uint8_t *out,
				   size_t cap, size_t *len);

/*
 * peer_session_open - checks one whole frame (as found by peer_frame_scan()),
 * in this order: framing, version, MAC, flags, sender, nonce and handshake
 * state, sequence, type, payload. PEER_OK: *m is the message (a HELLO included:
 * the caller compares its config_fp), pointing into frame for MIRROR records.
 * Any other status: the frame is rejected; see enum peer_status. PEER_EINVAL if
 * len is not the size the header announces.
 */
enum peer_status peer_session_open(struct peer_session *s, const uint8_t *frame, size_t len,
				   struct peer_msg *m);

/* The largest payload the next frame may carry (smaller before the HELLO). */
uint32_t peer_session_max_payload(const struct peer_session *s);
/* The partner's HELLO was accepted: frames can be sealed for it. */
bool peer_session_hello_done(const struct peer_session *s);
/* A frame other than HELLO was accepted: the partner has proved it saw our
 * nonce, so it is live on this connection (a replayed HELLO cannot do that). */
bool peer_session_verified(const struct peer_session *s);
/* The partner's HELLO (zeros before it arrives). */
const struct peer_hello *peer_session_peer_hello(const struct peer_session *s);

#endif
