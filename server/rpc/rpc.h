/*
 * rpc.h — the thin transport interface: ONC RPC (RFC 5531) over TCP.
 *
 * Behind it is the project's own lean transport (rpc.c: one epoll set served by
 * the worker threads, the thread that reads a call runs it). Everything above sees
 * only struct rpc_req and these functions. Argument and result coding uses XDR
 * routines (xdrproc_t, libntirpc's xdrmem).
 *
 * Limits enforced here: the size of an incoming record (the sum of its fragments)
 * and the number of connections; credentials and verifiers of at most 400 bytes
 * (RFC 5531 §8.2), AUTH_SYS with at most 16 groups.
 */
#ifndef TWINFS_SERVER_RPC_RPC_H
#define TWINFS_SERVER_RPC_RPC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <rpc/xdr.h>

#include "fsal/fsal.h"

struct rpc_server;
struct rpc_req;

/* Called on a worker thread for every call; must answer it (reply or error) once. */
typedef void (*rpc_dispatch_fn)(void *arg, struct rpc_req *req);

struct rpc_listen {
	const char *bind; /* IPv4 or IPv6 literal; "0.0.0.0" or "::" for all */
	uint16_t port;	  /* 0 = choose one (see rpc_server_port) */
};

struct rpc_params {
	struct rpc_listen listen[2]; /* the NFS port and the MOUNT port */
	unsigned nlisten;
	unsigned threads;	  /* worker threads */
	unsigned max_connections; /* beyond it new connections are refused */
	uint32_t max_record;	  /* largest record accepted; a bigger one closes the connection */
	rpc_dispatch_fn dispatch;
	void *dispatch_arg;
};

/* The programs to register with a local rpcbind. */
struct rpc_registration {
	uint32_t prog;
	uint32_t vers;
	unsigned listen_index; /* which listener's port */
};

/* Starts listening and serving. 0 or negative errno. */
int rpc_server_start(const struct rpc_params *p, struct rpc_server **out);
uint16_t rpc_server_port(const struct rpc_server *s, unsigned listen_index);
/* Records refused for exceeding max_record (their connections were closed). */
uint64_t rpc_server_records_refused(const struct rpc_server *s);
/* Registers with rpcbind if one answers on 127.0.0.1:111; never fails the start. */
void rpc_server_register(struct rpc_server *s, const struct rpc_registration *regs, unsigned n);
/* Closes every client connection (not the listeners): clients see their
 * connection drop and reconnect, to whichever node then holds the address. */
void rpc_server_close_clients(struct rpc_server *s);
/* Calls cb with the two ends of each client connection, as this server's
 * socket sees them, until it returns false; returns how many it was given. cb
 * runs under the connection list's lock: it must not call back in here. */
typedef bool (*rpc_conn_fn)(void *arg, const struct sockaddr_storage *local,
			    const struct sockaddr_storage *peer);
size_t rpc_server_list_clients(struct rpc_server *s, rpc_conn_fn cb, void *arg);
/* Stops listening, closes every connection, waits for the workers; unregisters. */
void rpc_server_stop(struct rpc_server *s);

/* The call. */
uint32_t rpc_req_xid(const struct rpc_req *r);
uint32_t rpc_req_prog(const struct rpc_req *r);
uint32_t rpc_req_vers(const struct rpc_req *r);
uint32_t rpc_req_proc(const struct rpc_req *r);
const struct sockaddr *rpc_req_remote(const struct rpc_req *r);

enum rpc_flavor {
	RPC_AUTH_NONE = 0,
	RPC_AUTH_SYS = 1,
};

/* Authenticates the call (AUTH_NONE, AUTH_SYS). On success fills the flavor and, for
 * AUTH_SYS, the credential, and returns true. On failure it has already sent the
 * authentication error and returns false. */
bool rpc_req_auth(struct rpc_req *r, enum rpc_flavor *flavor, struct fsal_cred *cred);
/* Decodes the arguments into `args` (zeroed by the caller). false = garbage. */
bool rpc_req_decode(struct rpc_req *r, xdrproc_t proc, void *args);
void rpc_req_reply(struct rpc_req *r, xdrproc_t proc, void *res);
/* The same for results whose encoding ends with an empty variable-length opaque
 * (READ data): the opaque's length becomes tail_len and tail's bytes follow,
 * written from where they are instead of copied into the reply. */
void rpc_req_reply_tail(struct rpc_req *r, xdrproc_t proc, void *res, const void *tail,
			size_t tail_len);
/* Zero-copy READ data: a pipe (its write end) that holds len bytes, lent to this
 * call for the data (spliced into it from the page cache), or -1 when there is
 * none to be had or len is too small to gain from it (then the data goes by
 * rpc_req_reply_tail). */
int rpc_req_pipe(struct rpc_req *r, size_t len);
/* rpc_req_reply_tail with the tail_len bytes in the pipe of rpc_req_pipe: spliced
 * into the socket, never copied through user space. A call that leaves data in
 * the pipe unsent (it answered otherwise) costs a new pipe, not a wrong reply. */
void rpc_req_reply_piped(struct rpc_req *r, xdrproc_t proc, void *res, size_t tail_len);
/* Sends results already encoded (a saved reply from the request table). */
void rpc_req_reply_raw(struct rpc_req *r, const void *bytes, size_t len);
/* Leaves the call unanswered (a retransmission of a call still running). */
void rpc_req_drop(struct rpc_req *r);
/* Leaves the call unanswered and resets its connection: a client retransmits a
 * call over TCP only on a new connection (libnfs never on the same one, Linux
 * after a minute), so this sends it to reconnect and resend at once, to
 * whichever node then holds the service address. */
void rpc_req_drop_reset(struct rpc_req *r);
/* A checksum of the call's argument bytes: all of them up to 1 KiB, and their
 * length (request-table keys: a reused XID with other arguments is a new call). */
uint64_t rpc_req_cksum(const struct rpc_req *r);

void rpc_req_err_noprog(struct rpc_req *r);
void rpc_req_err_progvers(struct rpc_req *r, uint32_t low, uint32_t high);
void rpc_req_err_noproc(struct rpc_req *r);
void rpc_req_err_garbage(struct rpc_req *r);
void rpc_req_err_system(struct rpc_req *r);

#endif
