/*
 * nfs4_int.h — what the NFSv4 operation files share: the COMPOUND's context
 * (current and saved file handle, the session's slot, the minor version), the
 * operation table's flags and the helpers every operation uses. Internal to
 * server/nfs4.
 */
#ifndef TWINFS_SERVER_NFS4_NFS4_INT_H
#define TWINFS_SERVER_NFS4_NFS4_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/export/export.h"
#include "server/nfs/dispatch.h"
#include "server/nfs4/nfs4.h"
#include "server/xdr/nfs4_prot.h"

struct nfs4_state;
struct nfs4_pseudo;
struct nfs4_recovery;
struct nfs4_seq;

/* COMPOUND's bounds (RFC 8881 §2.10.6.4: the session's ca_maxoperations; 4.0 has
 * no negotiation, so the same number answers NFS4ERR_RESOURCE). */
#define NFS4_MAX_OPS	   128
#define NFS4_MAX_TAG	   1024
#define NFS4_MAX_RESP_SIZE (1049600u + 4096u)

/* The lease thread (ops_client.c): expires clients, rewrites the records. */
struct nfs4_reaper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, stop;
	unsigned gen; /* the state's generation the records on disk reflect */
};

struct nfs4_server {
	struct server *srv;
	struct nfs4_state *state;
	struct nfs4_pseudo *pseudo;
	struct nfs4_recovery *recovery; /* client records, grace */
	uint8_t write_verf[8];
	uint8_t server_owner[16]; /* EXCHANGE_ID's so_major_id and scope */
	struct nfs4_reaper reaper;
	_Atomic bool serving; /* a pair node: set by nfs4_server_serving */
};

/* A current or saved file handle. */
enum nfs4_fh_kind {
	FH4_NONE = 0,
	FH4_PSEUDO, /* a directory of the pseudo filesystem */
	FH4_OBJ,    /* an object in an export */
};

struct nfs4_fh {
	enum nfs4_fh_kind kind;
	uint32_t pnode; /* FH4_PSEUDO: the node's index */
	struct fsobj obj;
	enum export_access acc;
	struct fsal_cred cred; /* squashed for obj's export */
	bool have_type;
	enum fsal_type type;
};

struct nfs4_compound {
	struct req_ctx *ctx;
	struct nfs4_server *n4;
	uint32_t minor;
	struct nfs4_fh cur, saved;
	/* RFC 8881 §16.2.3.1.2: the current stateid, for the special stateid (1, 0) */
	bool have_cur_stateid, have_saved_stateid;
	stateid4 cur_stateid, saved_stateid; /* SAVEFH/RESTOREFH carry it */
	/* 4.1: the SEQUENCE that opened this COMPOUND */
	struct nfs4_seq *seq;
	uint64_t clientid; /* the session's client (4.1), 0 = none */
	unsigned opidx, nops;
	uint32_t req_size;	  /* the arguments' bytes (RPC header not counted) */
	uint32_t max_resp;	  /* the reply's budget in bytes (session or default) */
	uint32_t max_resp_cached; /* 4.1: what the slot may keep */
	bool too_many;		  /* 4.1: more operations than the session allows */
};

/* Per-operation flags (STYLE.md: every policy is a flag in the op table). */
enum {
	OP4_NEED_FH = 1u << 0,	  /* NOFILEHANDLE without a current FH */
	OP4_MODIFIES = 1u << 1,	  /* ROFS on a read-only export or the pseudo fs */
	OP4_NO_SESSION = 1u << 2, /* 4.1: may come first without SEQUENCE */
	OP4_ONLY_V40 = 1u << 3,	  /* NOTSUPP in 4.1 and later */
	OP4_SOLE = 1u << 4,	  /* 4.1: first without SEQUENCE, it must be the only op */
	OP4_SEQUENCE = 1u << 5,	  /* 4.1: opens a COMPOUND, and only there */
	/* 4.0: running it twice is not running it once (a retransmitted CREATE
	 * would answer EXIST): the COMPOUND's reply goes into the XID request table */
	OP4_NONIDEMPOTENT = 1u << 6,
};

typedef nfsstat4 (*nfs4_op_fn)(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res);

/* fh.c */
nfsstat4 nfs4_fh_from_wire(struct nfs4_compound *c, const nfs_fh4 *fh, struct nfs4_fh *out);
nfsstat4 nfs4_fh_to_wire(struct nfs4_compound *c, const struct nfs4_fh *fh, nfs_fh4 *out);
void nfs4_fh_set_obj(struct nfs4_compound *c, struct nfs4_fh *fh, const struct fsobj *o);
void nfs4_fh_set_pseudo(struct nfs4_fh *fh, uint32_t node);
/* The current object's type (fetched once). */
nfsstat4 nfs4_fh_type(struct nfs4_compound *c, struct nfs4_fh *fh, enum fsal_type *type);
/* The current FH must be an object of an export (not the pseudo fs); if_pseudo is
 * what an operation answers on a pseudo directory. */
nfsstat4 nfs4_cur_obj(struct nfs4_compound *c, nfsstat4 if_pseudo);
/* The current FH must be a regular file: ISDIR, SYMLINK/INVAL otherwise. */
nfsstat4 nfs4_cur_reg(struct nfs4_compound *c);
/* A component name: 0-length INVAL, too long NAMETOOLONG, '/' or NUL BADCHAR,
 * "." or ".." BADNAME. Copies it NUL-terminated into the arena. */
nfsstat4 nfs4_name(struct nfs4_compound *c, const component4 *name, char **out);
/* errno → nfsstat4, the one map (server/nfs/errmap). */
nfsstat4 nfs4_err(int rc, bool fh_ctx);

/* ops_client.c: the current client's owner id recorded as confirmed (before the
 * confirmation is answered), and whether it may reclaim in this grace period */
nfsstat4 nfs4_record_client(struct nfs4_compound *c, uint64_t clientid);
/* The client opens on this export: on stable storage before the OPEN is answered,
 * so that a grace period after a crash covers the export. */
nfsstat4 nfs4_record_export(struct nfs4_compound *c, uint64_t clientid, uint32_t export_id);
bool nfs4_may_reclaim(struct nfs4_compound *c, uint64_t clientid);
/* May the running READ send its data from a pipe (rpc_req_pipe)? Only as the
 * COMPOUND's last operation, in a reply that goes out as it is: not saved (a 4.1
 * slot's, a 4.0 non-idempotent call's) and not trial-encoded for its size. */
bool nfs4_read_may_splice(const struct nfs4_compound *c);

/* ops_open.c: the special current stateid (seqid 1, other 0) resolved */
nfsstat4 nfs4_resolve_sid(struct nfs4_compound *c, stateid4 *sid);

/* compound.c */
void *nfs4_alloc(struct nfs4_compound *c, size_t n);

/* attr.c: the attribute bitmap and values (RFC 7530 §5, RFC 8881 §5). */
struct nfs4_attr_src {
	const struct nfs4_fh *fh;
	const struct fsal_attr *a; /* NULL for a pseudo directory */
	const nfs_fh4 *wirefh;	   /* FATTR4_FILEHANDLE, or NULL */
	nfsstat4 rdattr_error;
};
nfsstat4 nfs4_attr_encode(struct nfs4_compound *c, const bitmap4 *req,
			  const struct nfs4_attr_src *src, fattr4 *out);
/* Fills the attributes of the current FH for GETATTR/VERIFY. */
nfsstat4 nfs4_attr_check_get(const bitmap4 *req);
nfsstat4 nfs4_attr_get(struct nfs4_compound *c, const struct nfs4_fh *fh, const bitmap4 *req,
		       fattr4 *out);
/* Decodes settable attributes (SETATTR, CREATE, OPEN): INVAL/ATTRNOTSUPP/BADXDR. */
struct nfs4_sattr {
	struct fsal_setattr sa;
	bitmap4 set; /* what was decoded, for attrsset */
	uint32_t setwords[3];
};
nfsstat4 nfs4_attr_decode_set(struct nfs4_compound *c, const fattr4 *in, struct nfs4_sattr *out);
/* VERIFY/NVERIFY: SAME (NFS4_OK from the caller's view) or NOT_SAME. */
nfsstat4 nfs4_attr_compare(struct nfs4_compound *c, const fattr4 *in, bool *same);
bool nfs4_bitmap_isset(const bitmap4 *b, unsigned bit);
void nfs4_bitmap_set(uint32_t *words, unsigned bit);
uint64_t nfs4_change(const struct fsal_attr *a);
void nfs4_cinfo(change_info4 *ci, const struct fsal_attr *before, const struct fsal_attr *after);

/* ops_xattr.c: extended attributes (RFC 8276), and ACCESS's bits for them (4.2
 * only), which the RFC 7863 XDR in server/xdr predates. */
#define ACCESS4_XAREAD	0x00000040
#define ACCESS4_XAWRITE 0x00000080
#define ACCESS4_XALIST	0x00000100
/* Whether fh's filesystem has xattrs (the xattr_support attribute). */
bool nfs4_xattr_support(const struct nfs4_fh *fh);
/* The xattr bits ACCESS supports on the current FH, an object of type t. */
uint32_t nfs4_xattr_access(const struct nfs4_compound *c, enum fsal_type t);

/* ops: one function per operation (ops_fs.c, ops_open.c, ops_client.c, ops_xattr.c) */
#define NFS4_OP(name) nfsstat4 nfs4_op_##name(struct nfs4_compound *c, nfs_argop4 *, nfs_resop4 *)
NFS4_OP(access);
NFS4_OP(close);
NFS4_OP(commit);
NFS4_OP(create);
NFS4_OP(delegreturn);
NFS4_OP(getattr);
NFS4_OP(getfh);
NFS4_OP(link);
NFS4_OP(lock);
NFS4_OP(lockt);
NFS4_OP(locku);
NFS4_OP(lookup);
NFS4_OP(lookupp);
NFS4_OP(nverify);
NFS4_OP(open);
NFS4_OP(open_confirm);
NFS4_OP(open_downgrade);
NFS4_OP(putfh);
NFS4_OP(putpubfh);
NFS4_OP(putrootfh);
NFS4_OP(read);
NFS4_OP(readdir);
NFS4_OP(readlink);
NFS4_OP(remove);
NFS4_OP(rename);
NFS4_OP(renew);
NFS4_OP(restorefh);
NFS4_OP(savefh);
NFS4_OP(secinfo);
NFS4_OP(setattr);
NFS4_OP(setclientid);
NFS4_OP(setclientid_confirm);
NFS4_OP(verify);
NFS4_OP(write);
NFS4_OP(release_lockowner);
NFS4_OP(bind_conn_to_session);
NFS4_OP(exchange_id);
NFS4_OP(create_session);
NFS4_OP(destroy_session);
NFS4_OP(free_stateid);
NFS4_OP(secinfo_no_name);
NFS4_OP(sequence);
NFS4_OP(test_stateid);
NFS4_OP(destroy_clientid);
NFS4_OP(reclaim_complete);
NFS4_OP(allocate);
NFS4_OP(deallocate);
NFS4_OP(seek);
NFS4_OP(getxattr);
NFS4_OP(setxattr);
NFS4_OP(listxattrs);
NFS4_OP(removexattr);
#undef NFS4_OP

#endif
