/*
 * rawrpc.h — a minimal ONC RPC client over TCP, for tests only.
 *
 * Messages are built by hand (XDR, RFC 4506) and framed with RFC 5531 record
 * marking (§11) on a plain socket, with no RPC library in between, so a test
 * can send exactly what no well-behaved library would: wrong versions, broken
 * credentials, huge lengths, fragments that never end. The NFSv3/MOUNT v3
 * helpers (RFC 1813) cover what the tests need to check the server is healthy
 * and to follow a file handle across a restart.
 *
 * Every socket has send and receive timeouts, every parser is bounded by the
 * buffer it was given, and nothing here allocates. Errors are negative errno.
 */
#ifndef TWINFS_TESTS_INTEGRATION_RAWRPC_H
#define TWINFS_TESTS_INTEGRATION_RAWRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RR_NFS_PROG	100003
#define RR_NFS_VERS	3
#define RR_MOUNT_PROG	100005
#define RR_MOUNT_VERS	3
#define RR_FHSIZE3	64	   /* RFC 1813 §2.4: NFS3_FHSIZE */
#define RR_TIMEOUT_MS	5000	   /* default send/receive timeout per socket */
#define RR_MAX_REPLY	(2u << 20) /* largest reply record we accept */
#define RR_LAST_FRAG	0x80000000u
#define RR_MSG_CALL	0
#define RR_MSG_REPLY	1
#define RR_MSG_ACCEPTED 0
#define RR_MSG_DENIED	1
#define RR_AUTH_NONE	0
#define RR_AUTH_SYS	1

/* accept_stat (RFC 5531 §9) */
enum rr_accept_stat {
	RR_SUCCESS = 0,
	RR_PROG_UNAVAIL = 1,
	RR_PROG_MISMATCH = 2,
	RR_PROC_UNAVAIL = 3,
	RR_GARBAGE_ARGS = 4,
	RR_SYSTEM_ERR = 5,
};

/* reject_stat */
enum rr_reject_stat {
	RR_RPC_MISMATCH = 0,
	RR_AUTH_ERROR = 1,
};

/* nfsstat3 values the tests look for (RFC 1813 §2.6) */
enum rr_nfsstat3 {
	RR_NFS3_OK = 0,
	RR_NFS3ERR_NOENT = 2,
	RR_NFS3ERR_NAMETOOLONG = 63,
	RR_NFS3ERR_STALE = 70,
	RR_NFS3ERR_BADHANDLE = 10001,
};

/* An XDR encoder over a caller's buffer. Writing past the end sets `overflow`
 * and writes nothing more, so a whole message is checked once at the end. */
struct rr_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool overflow;
};

/* An XDR decoder over a received record. Reading past the end sets `error` and
 * returns zeros, so a whole reply is checked once at the end. */
struct rr_cursor {
	const uint8_t *data;
	size_t len;
	size_t pos;
	bool error;
};

/* A connection to 127.0.0.1:port and the next XID to use on it. */
struct rr_conn {
	int fd;
	uint32_t xid;
};

/* A parsed reply header (RFC 5531 §9: reply_body). */
struct rr_reply {
	uint32_t xid;
	uint32_t reply_stat;   /* RR_MSG_ACCEPTED or RR_MSG_DENIED */
	uint32_t stat;	       /* accept_stat if accepted, reject_stat if denied */
	uint32_t low, high;    /* PROG_MISMATCH or RPC_MISMATCH */
	uint32_t auth_stat;    /* AUTH_ERROR */
	struct rr_cursor body; /* the procedure's results (accepted SUCCESS) */
};

struct rr_fh {
	uint32_t len;
	uint8_t data[RR_FHSIZE3];
};

/* The parts of fattr3 (RFC 1813 §2.5) the tests look at. */
struct rr_fattr {
	uint32_t type;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	uint64_t fileid;
};

/* Formats a test failure's reason into why[n]; returns -1, for `return rr_fail(...)`. */
__attribute__((format(printf, 3, 4))) int rr_fail(char *why, size_t n, const char *fmt, ...);

void rr_buf_init(struct rr_buf *b, void *mem, size_t cap);
void rr_put_u32(struct rr_buf *b, uint32_t v);
void rr_put_u64(struct rr_buf *b, uint64_t v);
void rr_put_raw(struct rr_buf *b, const void *p, size_t n);
void rr_put_opaque(struct rr_buf *b, const void *p, uint32_t n); /* length, bytes, pad */
void rr_put_string(struct rr_buf *b, const char *s);
void rr_put_fh(struct rr_buf *b, const struct rr_fh *fh);
/* CALL header up to and including the verifier: rpcvers 2, AUTH_SYS uid 0 gid 0. */
void rr_put_call(struct rr_buf *b, uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc);

void rr_cursor_init(struct rr_cursor *c, const void *data, size_t len);
uint32_t rr_get_u32(struct rr_cursor *c);
uint64_t rr_get_u64(struct rr_cursor *c);
void rr_skip(struct rr_cursor *c, size_t n); /* n bytes plus XDR padding */
/* Variable-length opaque of at most `max` bytes into `out`. 0 or -EBADMSG. */
int rr_get_opaque(struct rr_cursor *c, void *out, uint32_t max, uint32_t *n);

/* TCP to 127.0.0.1:port, send/receive timeouts RR_TIMEOUT_MS. 0 or -errno. */
int rr_open(struct rr_conn *c, uint16_t port);
/* The same to another IPv4 address (a service address in a test namespace). */
int rr_open_addr(struct rr_conn *c, const char *ipv4, uint16_t port);
void rr_close(struct rr_conn *c);
int rr_set_timeout(int fd, int ms);
/* All of it or -errno (never SIGPIPE). */
int rr_send_all(int fd, const void *p, size_t n);
/* One record in one last fragment. */
int rr_send_record(int fd, const void *p, size_t n);
/*
 * One whole record (all fragments) into buf. 0, or -ETIMEDOUT (nothing within the
 * socket's timeout), -ECONNRESET (closed by the peer, cleanly or not), -EMSGSIZE
 * (larger than cap), or another -errno.
 */
int rr_recv_record(int fd, uint8_t *buf, size_t cap, size_t *len);
/* 0, or -EBADMSG when the record is not a well-formed RPC reply. */
int rr_parse_reply(const uint8_t *rec, size_t len, struct rr_reply *r);

/*
 * Sends `args` as the arguments of prog/vers/proc (AUTH_SYS root) and waits for the
 * reply with the same XID. 0 when a well-formed reply arrived (whatever its status:
 * the caller looks at *r), else -errno. r->body points into buf.
 */
int rr_call(struct rr_conn *c, uint32_t prog, uint32_t vers, uint32_t proc, const void *args,
	    size_t alen, uint8_t *buf, size_t cap, struct rr_reply *r);

/*
 * The helpers below return the protocol status (mountstat3 or nfsstat3, >= 0), or
 * -errno for a transport failure, or -EPROTO when the call was not accepted with
 * SUCCESS (then *r, when given, says how).
 */
int rr_null(struct rr_conn *c, uint32_t prog, uint32_t vers);
int rr_mnt(struct rr_conn *c, const char *path, struct rr_fh *fh);
int rr_getattr(struct rr_conn *c, const struct rr_fh *fh, struct rr_fattr *a);
int rr_lookup(struct rr_conn *c, const struct rr_fh *dir, const char *name, struct rr_fh *out);
/* READ of up to `count` bytes (≤ 64 KiB) at `offset` into out; *n and *eof set. */
int rr_read(struct rr_conn *c, const struct rr_fh *fh, uint64_t offset, uint32_t count,
	    uint8_t *out, uint32_t *n, bool *eof);

/* Hex form of a handle ("" for a zero-length one); out needs 2 * RR_FHSIZE3 + 1. */
void rr_fh_to_hex(const struct rr_fh *fh, char *out);
/* 0 or -EINVAL (odd length, non-hex digit, longer than RR_FHSIZE3). */
int rr_fh_from_hex(const char *hex, struct rr_fh *fh);

const char *rr_accept_name(uint32_t stat);

#endif
