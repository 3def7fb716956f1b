/*
 * test_nfs3.c - NFSv3 + MOUNT v3 integration test, driven through libnfs's raw RPC API
 * (a real, independent client implementation).
 *
 * Every NFSv3 procedure of RFC 1813 and every MOUNT v3 procedure is called at least once,
 * with the main error paths (NOENT, EXIST, NOTDIR, ISDIR, NOTEMPTY, NAMETOOLONG, ACCES,
 * ROFS, STALE, BADHANDLE, NOT_SYNC, BADTYPE) and the export access rules (read-only,
 * root_squash, client address lists). Effects are also checked on the local file system.
 *
 * Environment (set by run_with_server.sh):
 *   TWINFS_PORT         NFS port
 *   TWINFS_MOUNT_PORT   MOUNT port
 *   TWINFS_DIR          D: exports D/rw, D/ro (holds readme.txt), D/squash, D/limited
 *   TWINFS_HOST         server address (default 127.0.0.1)
 * Only for validating this test against another server:
 *   TWINFS_ONLY_RW=1    ro/squash/limited exports may be missing: their checks are skipped
 *   TWINFS_RW_EXPORT    MOUNT path of the rw export (default D/rw)
 *   TWINFS_RW_DIR       local directory behind the rw export (default D/rw)
 *
 * Output: one "ok - name" / "not ok - name: details" line per check, then
 * "N passed, N failed". Exit status 1 on any failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#define CALL_TIMEOUT_MS 10000 /* every RPC (and every batch) is bounded by this */
#define TOTAL_TIMEOUT_S 115   /* the whole test */
#define MAX_TIMEOUTS	3     /* calls without a reply before the test gives up */
#define BIG_N		5000  /* entries in the READDIR test directory */
#define BATCH		64    /* CREATE calls in flight while filling it */
#define MAX_DIR_CALLS	20000
#define NAME_BUF	1024
#define FATTR3_XDR	84 /* encoded size of a fattr3 */
#define USER_UID	1000
#define USER_GID	1000
#define ANON_ID		65534
#define KIB		1024u
#define MIB		(1024u * 1024u)
#define PRINTF(a, b)	__attribute__((format(printf, a, b)))

/* ------------------------------------------------------------------------------------ */
/* Output                                                                               */
/* ------------------------------------------------------------------------------------ */

static int n_pass, n_fail, n_skip, n_timeouts;

static void pass(const char *name)
{
	printf("ok - %s\n", name);
	n_pass++;
}

PRINTF(2, 0) static void vfail(const char *name, const char *fmt, va_list ap)
{
	printf("not ok - %s: ", name);
	vprintf(fmt, ap);
	printf("\n");
	n_fail++;
}

PRINTF(2, 3) static void fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(name, fmt, ap);
	va_end(ap);
}

/* Passes if cond, else fails with the formatted details. Returns cond. */
PRINTF(3, 4) static int check(int cond, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (cond) {
		pass(name);
		return 1;
	}
	va_start(ap, fmt);
	vfail(name, fmt, ap);
	va_end(ap);
	return 0;
}

static void skip(const char *name, const char *why)
{
	printf("ok - %s # SKIP %s\n", name, why);
	n_skip++;
}

static void summary_and_exit(void)
{
	if (n_skip > 0)
		printf("# %d skipped\n", n_skip);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	exit(n_fail > 0 ? 1 : 0);
}

static void on_alarm(int sig)
{
	static const char msg[] = "not ok - whole test finished in time: still running after "
				  "the global limit\n";

	(void)sig;
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

struct code_name {
	int code;
	const char *name;
};

static const struct code_name nfs_codes[] = {
    {NFS3_OK, "NFS3_OK"},
    {NFS3ERR_PERM, "NFS3ERR_PERM"},
    {NFS3ERR_NOENT, "NFS3ERR_NOENT"},
    {NFS3ERR_IO, "NFS3ERR_IO"},
    {NFS3ERR_NXIO, "NFS3ERR_NXIO"},
    {NFS3ERR_ACCES, "NFS3ERR_ACCES"},
    {NFS3ERR_EXIST, "NFS3ERR_EXIST"},
    {NFS3ERR_XDEV, "NFS3ERR_XDEV"},
    {NFS3ERR_NODEV, "NFS3ERR_NODEV"},
    {NFS3ERR_NOTDIR, "NFS3ERR_NOTDIR"},
    {NFS3ERR_ISDIR, "NFS3ERR_ISDIR"},
    {NFS3ERR_INVAL, "NFS3ERR_INVAL"},
    {NFS3ERR_FBIG, "NFS3ERR_FBIG"},
    {NFS3ERR_NOSPC, "NFS3ERR_NOSPC"},
    {NFS3ERR_ROFS, "NFS3ERR_ROFS"},
    {NFS3ERR_MLINK, "NFS3ERR_MLINK"},
    {NFS3ERR_NAMETOOLONG, "NFS3ERR_NAMETOOLONG"},
    {NFS3ERR_NOTEMPTY, "NFS3ERR_NOTEMPTY"},
    {NFS3ERR_DQUOT, "NFS3ERR_DQUOT"},
    {NFS3ERR_STALE, "NFS3ERR_STALE"},
    {NFS3ERR_REMOTE, "NFS3ERR_REMOTE"},
    {NFS3ERR_BADHANDLE, "NFS3ERR_BADHANDLE"},
    {NFS3ERR_NOT_SYNC, "NFS3ERR_NOT_SYNC"},
    {NFS3ERR_BAD_COOKIE, "NFS3ERR_BAD_COOKIE"},
    {NFS3ERR_NOTSUPP, "NFS3ERR_NOTSUPP"},
    {NFS3ERR_TOOSMALL, "NFS3ERR_TOOSMALL"},
    {NFS3ERR_SERVERFAULT, "NFS3ERR_SERVERFAULT"},
    {NFS3ERR_BADTYPE, "NFS3ERR_BADTYPE"},
    {NFS3ERR_JUKEBOX, "NFS3ERR_JUKEBOX"},
};

static const struct code_name mnt_codes[] = {
    {MNT3_OK, "MNT3_OK"},
    {MNT3ERR_PERM, "MNT3ERR_PERM"},
    {MNT3ERR_NOENT, "MNT3ERR_NOENT"},
    {MNT3ERR_IO, "MNT3ERR_IO"},
    {MNT3ERR_ACCES, "MNT3ERR_ACCES"},
    {MNT3ERR_NOTDIR, "MNT3ERR_NOTDIR"},
    {MNT3ERR_INVAL, "MNT3ERR_INVAL"},
    {MNT3ERR_NAMETOOLONG, "MNT3ERR_NAMETOOLONG"},
    {MNT3ERR_NOTSUPP, "MNT3ERR_NOTSUPP"},
    {MNT3ERR_SERVERFAULT, "MNT3ERR_SERVERFAULT"},
};

static const char *code_str(int code, int is_mount)
{
	const struct code_name *t = is_mount ? mnt_codes : nfs_codes;
	size_t n = is_mount ? sizeof(mnt_codes) / sizeof(mnt_codes[0])
			    : sizeof(nfs_codes) / sizeof(nfs_codes[0]);

	for (size_t i = 0; i < n; i++) {
		if (t[i].code == code)
			return t[i].name;
	}
	return "unknown status";
}

/* ------------------------------------------------------------------------------------ */
/* Configuration                                                                        */
/* ------------------------------------------------------------------------------------ */

static struct config {
	const char *host;
	int nfs_port;
	int mnt_port;
	int only_rw;
	char dir[PATH_MAX];
	char rw_path[PATH_MAX];
	char rw_local[PATH_MAX];
	char ro_path[PATH_MAX];
	char sq_path[PATH_MAX];
	char lim_path[PATH_MAX];
} cfg;

/* snprintf that refuses to truncate silently: a truncated path would test the wrong thing. */
PRINTF(3, 4) static char *fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "test_nfs3: string too long: %s\n", buf);
		exit(2);
	}
	return buf;
}

static int env_port(const char *name)
{
	const char *v = getenv(name);
	long p = v ? strtol(v, NULL, 10) : 0;

	if (p <= 0 || p > 65535) {
		printf("not ok - environment: %s must be a port number (got %s)\n", name,
		       v ? v : "nothing");
		n_fail++;
		summary_and_exit();
	}
	return (int)p;
}

static void load_config(void)
{
	const char *d = getenv("TWINFS_DIR");
	const char *v;

	cfg.host = getenv("TWINFS_HOST") ? getenv("TWINFS_HOST") : "127.0.0.1";
	cfg.nfs_port = env_port("TWINFS_PORT");
	cfg.mnt_port = env_port("TWINFS_MOUNT_PORT");
	v = getenv("TWINFS_ONLY_RW");
	cfg.only_rw = v != NULL && strcmp(v, "1") == 0;
	if (d == NULL && !cfg.only_rw) {
		printf("not ok - environment: TWINFS_DIR is not set\n");
		n_fail++;
		summary_and_exit();
	}
	d = d ? d : "/nonexistent";
	fmt(cfg.dir, sizeof(cfg.dir), "%s", d);
	fmt(cfg.rw_path, sizeof(cfg.rw_path), "%s", getenv("TWINFS_RW_EXPORT") ?: "");
	if (cfg.rw_path[0] == '\0')
		fmt(cfg.rw_path, sizeof(cfg.rw_path), "%s/rw", d);
	fmt(cfg.rw_local, sizeof(cfg.rw_local), "%s", getenv("TWINFS_RW_DIR") ?: "");
	if (cfg.rw_local[0] == '\0')
		fmt(cfg.rw_local, sizeof(cfg.rw_local), "%s/rw", d);
	fmt(cfg.ro_path, sizeof(cfg.ro_path), "%s/ro", d);
	fmt(cfg.sq_path, sizeof(cfg.sq_path), "%s/squash", d);
	fmt(cfg.lim_path, sizeof(cfg.lim_path), "%s/limited", d);
}

/* ------------------------------------------------------------------------------------ */
/* Replies: every callback copies what the checks need out of libnfs's decode buffer,  */
/* which is freed as soon as the callback returns.                                      */
/* ------------------------------------------------------------------------------------ */

struct fh {
	uint32_t len;
	char data[NFS3_FHSIZE];
};

struct dent {
	char name[NAME_BUF];
	uint64_t fileid;
	uint64_t cookie;
	int has_attr;
	fattr3 attr;
	int has_fh;
	struct fh fh;
};

struct dirlist {
	struct dent *v;
	int n;
	int cap;
	int oom;
	size_t max_reply; /* XDR size of the largest READDIR3resok / READDIRPLUS3resok */
};

struct reply {
	int done;
	int timed_out;
	int rpc_status;
	int is_mount;
	char err[256];
	int stat; /* nfsstat3 or mountstat3; -1 when there was no reply */
	struct fh fh;
	int has_fh;
	fattr3 attr; /* GETATTR result, or the object's post-op attributes */
	int has_attr;
	uint32_t count;
	uint32_t eof;
	uint32_t committed;
	uint32_t access;
	char verf[NFS3_WRITEVERFSIZE]; /* write verifier or cookie verifier */
	char *buf;		       /* caller's buffer: READ data, READLINK path, lists */
	size_t bufsize;
	size_t buflen;
	union {
		FSINFO3resok fsinfo;
		FSSTAT3resok fsstat;
		PATHCONF3resok pathconf;
	} u;
	struct dirlist *dir; /* READDIR / READDIRPLUS entries are appended here */
	int flavor_sys;	     /* MNT listed AUTH_SYS */
	int nflavors;
};

static void reply_init(struct reply *r)
{
	memset(r, 0, sizeof(*r));
	r->stat = -1;
	r->rpc_status = -1;
}

static void reply_buf(struct reply *r, char *buf, size_t size)
{
	r->buf = buf;
	r->bufsize = size;
	r->buflen = 0;
	if (size > 0)
		buf[0] = '\0';
}

static int reply_begin(struct reply *r, int status, void *data)
{
	r->done = 1;
	r->rpc_status = status;
	if (status == RPC_STATUS_SUCCESS)
		return 1;
	if (status == RPC_STATUS_ERROR && data != NULL)
		fmt(r->err, sizeof(r->err), "RPC error: %.200s", (const char *)data);
	else
		fmt(r->err, sizeof(r->err), "RPC status %d", status);
	return 0;
}

/* Common start of every NFS callback: returns the result if its status is NFS3_OK. */
static void *begin_nfs(int status, void *data, void *priv)
{
	struct reply *r = priv;

	if (!reply_begin(r, status, data) || data == NULL)
		return NULL;
	r->stat = (int)*(nfsstat3 *)data; /* every *3res starts with its nfsstat3 */
	return r->stat == NFS3_OK ? data : NULL;
}

static void take_fh(struct reply *r, const nfs_fh3 *f)
{
	if (f->data.data_len > NFS3_FHSIZE)
		return;
	r->fh.len = f->data.data_len;
	memcpy(r->fh.data, f->data.data_val, f->data.data_len);
	r->has_fh = 1;
}

static void take_attr(struct reply *r, const post_op_attr *a)
{
	if (!a->attributes_follow)
		return;
	r->attr = a->post_op_attr_u.attributes;
	r->has_attr = 1;
}

static void take_newobj(struct reply *r, const post_op_fh3 *obj, const post_op_attr *a)
{
	if (obj->handle_follows)
		take_fh(r, &obj->post_op_fh3_u.handle);
	take_attr(r, a);
}

static void buf_put(struct reply *r, const char *s, size_t n, int newline)
{
	if (r->buf == NULL || r->buflen + n + 2 > r->bufsize)
		return;
	memcpy(r->buf + r->buflen, s, n);
	r->buflen += n;
	if (newline)
		r->buf[r->buflen++] = '\n';
	r->buf[r->buflen] = '\0';
}

static void cb_void(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct reply *r = priv;

	(void)rpc;
	if (reply_begin(r, status, data))
		r->stat = 0;
}

static void cb_status(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	begin_nfs(status, data, priv);
}

static void cb_getattr(struct rpc_context *rpc, int status, void *data, void *priv)
{
	GETATTR3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;

	(void)rpc;
	if (res != NULL) {
		r->attr = res->GETATTR3res_u.resok.obj_attributes;
		r->has_attr = 1;
	}
}

static void cb_setattr(struct rpc_context *rpc, int status, void *data, void *priv)
{
	SETATTR3res *res = begin_nfs(status, data, priv);

	(void)rpc;
	if (res != NULL)
		take_attr(priv, &res->SETATTR3res_u.resok.obj_wcc.after);
}

static void cb_lookup(struct rpc_context *rpc, int status, void *data, void *priv)
{
	LOOKUP3res *res = begin_nfs(status, data, priv);

	(void)rpc;
	if (res != NULL) {
		take_fh(priv, &res->LOOKUP3res_u.resok.object);
		take_attr(priv, &res->LOOKUP3res_u.resok.obj_attributes);
	}
}

static void cb_access(struct rpc_context *rpc, int status, void *data, void *priv)
{
	ACCESS3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;

	(void)rpc;
	if (res != NULL) {
		r->access = res->ACCESS3res_u.resok.access;
		take_attr(r, &res->ACCESS3res_u.resok.obj_attributes);
	}
}

static void cb_readlink(struct rpc_context *rpc, int status, void *data, void *priv)
{
	READLINK3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;
	const char *p;

	(void)rpc;
	if (res == NULL)
		return;
	p = res->READLINK3res_u.resok.data;
	p = p ? p : "";
	buf_put(r, p, strlen(p), 0);
	take_attr(r, &res->READLINK3res_u.resok.symlink_attributes);
}

static void cb_read(struct rpc_context *rpc, int status, void *data, void *priv)
{
	READ3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;
	READ3resok *ok;
	size_t n;

	(void)rpc;
	if (res == NULL)
		return;
	ok = &res->READ3res_u.resok;
	r->count = ok->count;
	r->eof = ok->eof;
	n = ok->data.data_len < r->bufsize ? ok->data.data_len : r->bufsize;
	if (r->buf != NULL)
		memcpy(r->buf, ok->data.data_val, n);
	r->buflen = ok->data.data_len;
	take_attr(r, &ok->file_attributes);
}

static void cb_write(struct rpc_context *rpc, int status, void *data, void *priv)
{
	WRITE3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;

	(void)rpc;
	if (res == NULL)
		return;
	r->count = res->WRITE3res_u.resok.count;
	r->committed = res->WRITE3res_u.resok.committed;
	memcpy(r->verf, res->WRITE3res_u.resok.verf, NFS3_WRITEVERFSIZE);
	take_attr(r, &res->WRITE3res_u.resok.file_wcc.after);
}

static void cb_commit(struct rpc_context *rpc, int status, void *data, void *priv)
{
	COMMIT3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;

	(void)rpc;
	if (res != NULL)
		memcpy(r->verf, res->COMMIT3res_u.resok.verf, NFS3_WRITEVERFSIZE);
}

static void cb_create(struct rpc_context *rpc, int status, void *data, void *priv)
{
	CREATE3res *res = begin_nfs(status, data, priv);

	(void)rpc;
	if (res != NULL)
		take_newobj(priv, &res->CREATE3res_u.resok.obj,
			    &res->CREATE3res_u.resok.obj_attributes);
}

static void cb_mkdir(struct rpc_context *rpc, int status, void *data, void *priv)
{
	MKDIR3res *res = begin_nfs(status, data, priv);

	(void)rpc;
	if (res != NULL)
		take_newobj(priv, &res->MKDIR3res_u.resok.obj,
			    &res->MKDIR3res_u.resok.obj_attributes);
}

static void cb_symlink(struct rpc_context *rpc, int status, void *data, void *priv)
{
	SYMLINK3res *res = begin_nfs(status, data, priv);

	(void)rpc;
	if (res != NULL)
		take_newobj(priv, &res->SYMLINK3res_u.resok.obj,
			    &res->SYMLINK3res_u.resok.obj_attributes);
}

static void cb_mknod(struct rpc_context *rpc, int status, void *data, void *priv)
{
	MKNOD3res *res = begin_nfs(status, data, priv);

	(void)rpc;
	if (res != NULL)
		take_newobj(priv, &res->MKNOD3res_u.resok.obj,
			    &res->MKNOD3res_u.resok.obj_attributes);
}

static void cb_link(struct rpc_context *rpc, int status, void *data, void *priv)
{
	LINK3res *res = begin_nfs(status, data, priv);

	(void)rpc;
	if (res != NULL)
		take_attr(priv, &res->LINK3res_u.resok.file_attributes);
}

static void cb_fsinfo(struct rpc_context *rpc, int status, void *data, void *priv)
{
	FSINFO3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;

	(void)rpc;
	if (res != NULL)
		r->u.fsinfo = res->FSINFO3res_u.resok;
}

static void cb_fsstat(struct rpc_context *rpc, int status, void *data, void *priv)
{
	FSSTAT3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;

	(void)rpc;
	if (res != NULL)
		r->u.fsstat = res->FSSTAT3res_u.resok;
}

static void cb_pathconf(struct rpc_context *rpc, int status, void *data, void *priv)
{
	PATHCONF3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;

	(void)rpc;
	if (res != NULL)
		r->u.pathconf = res->PATHCONF3res_u.resok;
}

static struct dent *dir_add(struct dirlist *d, const char *name, uint64_t fileid, uint64_t cookie)
{
	struct dent *e;

	if (d->n == d->cap) {
		int cap = d->cap ? 2 * d->cap : 256;
		struct dent *v = realloc(d->v, (size_t)cap * sizeof(*v));

		if (v == NULL) {
			d->oom = 1;
			return NULL;
		}
		d->v = v;
		d->cap = cap;
	}
	e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	fmt(e->name, sizeof(e->name), "%s", name ? name : "");
	e->fileid = fileid;
	e->cookie = cookie;
	return e;
}

static size_t xdr_opaque(size_t len)
{
	return 4 + ((len + 3) & ~(size_t)3);
}

/* status, dir_attributes, cookieverf, end of the entry list, eof */
static size_t readdir_fixed_size(const post_op_attr *dir)
{
	return 4 + 4 + (dir->attributes_follow ? FATTR3_XDR : 0) + 8 + 4 + 4;
}

static void note_reply_size(struct dirlist *d, size_t size)
{
	if (size > d->max_reply)
		d->max_reply = size;
}

static void cb_readdir(struct rpc_context *rpc, int status, void *data, void *priv)
{
	READDIR3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;
	size_t size;
	entry3 e;

	(void)rpc;
	if (res == NULL)
		return;
	memcpy(r->verf, res->READDIR3res_u.resok.cookieverf, NFS3_COOKIEVERFSIZE);
	r->eof = res->READDIR3res_u.resok.reply.eof;
	size = readdir_fixed_size(&res->READDIR3res_u.resok.dir_attributes);
	for (const void *p = res->READDIR3res_u.resok.reply.entries; p != NULL; p = e.nextentry) {
		memcpy(&e, p, sizeof(e)); /* libnfs 4.0 does not align list nodes */
		dir_add(r->dir, e.name, e.fileid, e.cookie);
		size += 4 + 8 + xdr_opaque(e.name ? strlen(e.name) : 0) + 8;
		r->count++;
	}
	note_reply_size(r->dir, size);
}

static void cb_readdirplus(struct rpc_context *rpc, int status, void *data, void *priv)
{
	READDIRPLUS3res *res = begin_nfs(status, data, priv);
	struct reply *r = priv;
	struct reply tmp;
	struct dent *d;
	size_t size;
	entryplus3 e;

	(void)rpc;
	if (res == NULL)
		return;
	memcpy(r->verf, res->READDIRPLUS3res_u.resok.cookieverf, NFS3_COOKIEVERFSIZE);
	r->eof = res->READDIRPLUS3res_u.resok.reply.eof;
	size = readdir_fixed_size(&res->READDIRPLUS3res_u.resok.dir_attributes);
	for (const void *p = res->READDIRPLUS3res_u.resok.reply.entries; p; p = e.nextentry) {
		memcpy(&e, p, sizeof(e)); /* libnfs 4.0 does not align list nodes */
		r->count++;
		reply_init(&tmp);
		take_newobj(&tmp, &e.name_handle, &e.name_attributes);
		size += 4 + 8 + xdr_opaque(e.name ? strlen(e.name) : 0) + 8;
		size += 4 + (tmp.has_attr ? FATTR3_XDR : 0);
		size += 4 + (e.name_handle.handle_follows ? xdr_opaque(tmp.fh.len) : 0);
		d = dir_add(r->dir, e.name, e.fileid, e.cookie);
		if (d == NULL)
			continue;
		d->has_attr = tmp.has_attr;
		d->attr = tmp.attr;
		d->has_fh = tmp.has_fh;
		d->fh = tmp.fh;
	}
	note_reply_size(r->dir, size);
}

static void cb_mnt(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct reply *r = priv;
	mountres3 *res = data;
	mountres3_ok *ok;

	(void)rpc;
	r->is_mount = 1;
	if (!reply_begin(r, status, data) || res == NULL)
		return;
	r->stat = (int)res->fhs_status;
	if (res->fhs_status != MNT3_OK)
		return;
	ok = &res->mountres3_u.mountinfo;
	if (ok->fhandle.fhandle3_len <= NFS3_FHSIZE) {
		r->fh.len = ok->fhandle.fhandle3_len;
		memcpy(r->fh.data, ok->fhandle.fhandle3_val, r->fh.len);
		r->has_fh = 1;
	}
	r->nflavors = (int)ok->auth_flavors.auth_flavors_len;
	for (u_int i = 0; i < ok->auth_flavors.auth_flavors_len; i++) {
		int flavor;

		memcpy(&flavor, &ok->auth_flavors.auth_flavors_val[i], sizeof(flavor));
		r->flavor_sys |= flavor == AUTH_UNIX;
	}
}

/* EXPORT and DUMP: the directories, one per line, after a leading newline. */
static void cb_export(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct reply *r = priv;
	exportnode e;

	(void)rpc;
	r->is_mount = 1;
	if (!reply_begin(r, status, data) || data == NULL)
		return;
	r->stat = 0;
	for (const void *p = *(exports *)data; p != NULL; p = e.ex_next) {
		memcpy(&e, p, sizeof(e)); /* libnfs 4.0 does not align list nodes */
		if (e.ex_dir != NULL)
			buf_put(r, e.ex_dir, strlen(e.ex_dir), 1);
		r->count++;
	}
}

static void cb_dump(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct reply *r = priv;
	mountbody m;

	(void)rpc;
	r->is_mount = 1;
	if (!reply_begin(r, status, data) || data == NULL)
		return;
	r->stat = 0;
	for (const void *p = *(mountlist *)data; p != NULL; p = m.ml_next) {
		memcpy(&m, p, sizeof(m)); /* libnfs 4.0 does not align list nodes */
		if (m.ml_directory != NULL)
			buf_put(r, m.ml_directory, strlen(m.ml_directory), 1);
		r->count++;
	}
}

/* ------------------------------------------------------------------------------------ */
/* Connections and the synchronous call loop                                            */
/* ------------------------------------------------------------------------------------ */

struct conn {
	struct rpc_context *rpc;
	const char *label;
	int port;
	int prog;
	int vers;
	const char *src; /* source address to connect from, or NULL */
	int uid;
	int gid;
	char err[300];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int all_done(const struct reply *rs, int n)
{
	for (int i = 0; i < n; i++) {
		if (!rs[i].done)
			return 0;
	}
	return 1;
}

/* 0 when every reply is in, -1 on timeout, -2 when the connection failed. */
static int poll_until(struct rpc_context *rpc, const struct reply *rs, int n, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (!all_done(rs, n)) {
		int64_t left = deadline - now_ms();
		struct pollfd p = {.fd = rpc_get_fd(rpc), .events = (short)rpc_which_events(rpc)};
		int k;

		if (left <= 0)
			return -1;
		k = poll(&p, 1, left < 100 ? (int)left : 100);
		if (k < 0 && errno != EINTR)
			return -2;
		if (rpc_service(rpc, k > 0 ? p.revents : 0) < 0)
			return -2;
	}
	return 0;
}

/* Replace the connected socket with one bound to c->src (libnfs cannot bind a source
 * address). The new socket uses a reserved port as libnfs does when run as root, so a
 * server that requires one cannot refuse it for that reason. */
static int rebind_source(struct conn *c)
{
	struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
	int one = 1;

	if (inet_pton(AF_INET, c->src, &src.sin_addr) != 1 ||
	    inet_pton(AF_INET, cfg.host, &dst.sin_addr) != 1) {
		fmt(c->err, sizeof(c->err), "bad address %s or %s", c->src, cfg.host);
		return -1;
	}
	dst.sin_port = htons((uint16_t)c->port);
	for (int i = 0; i <= 424; i++) {
		int port = i < 424 ? 1023 - i : 0; /* 1023..600, then any port */
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		src.sin_port = htons((uint16_t)port);
		if (bind(s, (struct sockaddr *)&src, sizeof(src)) == 0 &&
		    connect(s, (struct sockaddr *)&dst, sizeof(dst)) == 0) {
			setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
			e = dup2(s, rpc_get_fd(c->rpc)) < 0 ? errno : 0;
			close(s);
			if (e != 0)
				fmt(c->err, sizeof(c->err), "dup2: %s", strerror(e));
			return e ? -1 : 0;
		}
		e = errno;
		close(s);
		if (e == EACCES && port > 0)
			i = 423; /* not allowed to bind a reserved port: try port 0 */
		else if (e != EADDRINUSE && e != EADDRNOTAVAIL) {
			fmt(c->err, sizeof(c->err), "connect from %s: %s", c->src, strerror(e));
			return -1;
		}
	}
	fmt(c->err, sizeof(c->err), "no free source port on %s", c->src);
	return -1;
}

static void conn_close(struct conn *c)
{
	if (c->rpc != NULL)
		rpc_destroy_context(c->rpc);
	c->rpc = NULL;
}

static int conn_open(struct conn *c)
{
	struct reply r;
	int rc;

	c->err[0] = '\0';
	c->rpc = rpc_init_context();
	if (c->rpc == NULL) {
		fmt(c->err, sizeof(c->err), "rpc_init_context failed");
		return -1;
	}
	rpc_set_uid(c->rpc, c->uid);
	rpc_set_gid(c->rpc, c->gid);
	reply_init(&r);
	if (rpc_connect_port_async(c->rpc, cfg.host, c->port, c->prog, c->vers, cb_void, &r) != 0) {
		fmt(c->err, sizeof(c->err), "connect: %.200s", rpc_get_error(c->rpc));
		conn_close(c);
		return -1;
	}
	rc = poll_until(c->rpc, &r, 1, CALL_TIMEOUT_MS);
	if (rc != 0 || r.rpc_status != RPC_STATUS_SUCCESS) {
		fmt(c->err, sizeof(c->err), "connect to %s:%d: %.200s", cfg.host, c->port,
		    rc ? "timed out or failed" : r.err);
		conn_close(c);
		return -1;
	}
	if (c->src != NULL && rebind_source(c) != 0) {
		conn_close(c);
		return -1;
	}
	return 0;
}

static void conn_init(struct conn *c, const char *label, int port, int prog, int vers,
		      const char *src)
{
	memset(c, 0, sizeof(*c));
	c->label = label;
	c->port = port;
	c->prog = prog;
	c->vers = vers;
	c->src = src;
	c->uid = 0;
	c->gid = 0;
}

static void conn_cred(struct conn *c, int uid, int gid)
{
	c->uid = uid;
	c->gid = gid;
	if (c->rpc != NULL) {
		rpc_set_uid(c->rpc, uid);
		rpc_set_gid(c->rpc, gid);
	}
}

/* Wait for n replies; on timeout or connection failure, start a fresh connection so the
 * remaining checks can still run. */
static void wait_replies(struct conn *c, struct reply *rs, int n)
{
	char why[200];
	int rc = poll_until(c->rpc, rs, n, CALL_TIMEOUT_MS);

	if (rc == 0)
		return;
	if (rc == -1)
		fmt(why, sizeof(why), "no reply within %d ms", CALL_TIMEOUT_MS);
	else
		fmt(why, sizeof(why), "connection failed: %.150s", rpc_get_error(c->rpc));
	for (int i = 0; i < n; i++)
		rs[i].timed_out = !rs[i].done;
	conn_close(c); /* cancels what is pending: the callbacks run now */
	for (int i = 0; i < n; i++) {
		if (rs[i].timed_out) {
			rs[i].stat = -1;
			rs[i].rpc_status = RPC_STATUS_TIMEOUT;
			fmt(rs[i].err, sizeof(rs[i].err), "%s", why);
		}
	}
	if (rc == -1 && ++n_timeouts >= MAX_TIMEOUTS) {
		fail("server keeps answering", "%d calls got no reply within %d ms: giving up",
		     n_timeouts, CALL_TIMEOUT_MS);
		summary_and_exit();
	}
	if (conn_open(c) != 0)
		printf("# %s connection could not be reopened: %s\n", c->label, c->err);
}

static int issue_done(struct conn *c, struct reply *r, const char *what, int queued)
{
	if (queued == -1000) {
		r->done = 1;
		fmt(r->err, sizeof(r->err), "%s: %s connection is down", what, c->label);
		return -1;
	}
	if (queued != 0) {
		r->done = 1;
		r->stat = -1;
		fmt(r->err, sizeof(r->err), "%s not sent: %.150s", what, rpc_get_error(c->rpc));
		return -1;
	}
	wait_replies(c, r, 1);
	return r->stat;
}

#define ISSUE(c, r, fn, ...)                                                                       \
	issue_done((c), (r), #fn, (c)->rpc ? fn((c)->rpc, __VA_ARGS__, (r)) : -1000)

/* ------------------------------------------------------------------------------------ */
/* One wrapper per procedure                                                            */
/* ------------------------------------------------------------------------------------ */

static nfs_fh3 fh3(struct fh *f)
{
	nfs_fh3 x;

	x.data.data_len = f->len;
	x.data.data_val = f->data;
	return x;
}

static sattr3 sa_none(void)
{
	sattr3 s;

	memset(&s, 0, sizeof(s));
	return s;
}

static sattr3 sa_mode(uint32_t mode)
{
	sattr3 s = sa_none();

	s.mode.set_it = 1;
	s.mode.set_mode3_u.mode = mode;
	return s;
}

static sattr3 sa_size(uint64_t size)
{
	sattr3 s = sa_none();

	s.size.set_it = 1;
	s.size.set_size3_u.size = size;
	return s;
}

static int mnt_null(struct conn *c, struct reply *r)
{
	reply_init(r);
	r->is_mount = 1;
	return ISSUE(c, r, rpc_mount3_null_async, cb_void);
}

static int mnt_mnt(struct conn *c, const char *path, struct reply *r)
{
	char p[PATH_MAX];

	reply_init(r);
	r->is_mount = 1;
	fmt(p, sizeof(p), "%s", path);
	return ISSUE(c, r, rpc_mount3_mnt_async, cb_mnt, p);
}

static int mnt_umnt(struct conn *c, const char *path, struct reply *r)
{
	char p[PATH_MAX];

	reply_init(r);
	r->is_mount = 1;
	fmt(p, sizeof(p), "%s", path);
	return ISSUE(c, r, rpc_mount3_umnt_async, cb_void, p);
}

static int mnt_umntall(struct conn *c, struct reply *r)
{
	reply_init(r);
	r->is_mount = 1;
	return ISSUE(c, r, rpc_mount3_umntall_async, cb_void);
}

static int mnt_export(struct conn *c, char *buf, size_t size, struct reply *r)
{
	reply_init(r);
	reply_buf(r, buf, size);
	buf_put(r, "", 0, 1);
	r->is_mount = 1;
	return ISSUE(c, r, rpc_mount3_export_async, cb_export);
}

static int mnt_dump(struct conn *c, char *buf, size_t size, struct reply *r)
{
	reply_init(r);
	reply_buf(r, buf, size);
	buf_put(r, "", 0, 1);
	r->is_mount = 1;
	return ISSUE(c, r, rpc_mount3_dump_async, cb_dump);
}

static int v3_null(struct conn *c, struct reply *r)
{
	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_null_async, cb_void);
}

static int v3_getattr(struct conn *c, struct fh *f, struct reply *r)
{
	GETATTR3args a = {.object = fh3(f)};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_getattr_async, cb_getattr, &a);
}

static int v3_setattr(struct conn *c, struct fh *f, sattr3 sa, const nfstime3 *guard,
		      struct reply *r)
{
	SETATTR3args a = {.object = fh3(f), .new_attributes = sa};

	if (guard != NULL) {
		a.guard.check = 1;
		a.guard.sattrguard3_u.obj_ctime = *guard;
	}
	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_setattr_async, cb_setattr, &a);
}

static int v3_lookup(struct conn *c, struct fh *dir, const char *name, struct reply *r)
{
	char nb[NAME_BUF];
	LOOKUP3args a = {.what = {.dir = fh3(dir), .name = fmt(nb, sizeof(nb), "%s", name)}};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_lookup_async, cb_lookup, &a);
}

static int v3_access(struct conn *c, struct fh *f, uint32_t want, struct reply *r)
{
	ACCESS3args a = {.object = fh3(f), .access = want};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_access_async, cb_access, &a);
}

static int v3_readlink(struct conn *c, struct fh *f, char *buf, size_t size, struct reply *r)
{
	READLINK3args a = {.symlink = fh3(f)};

	reply_init(r);
	reply_buf(r, buf, size);
	return ISSUE(c, r, rpc_nfs3_readlink_async, cb_readlink, &a);
}

static int v3_read(struct conn *c, struct fh *f, uint64_t off, uint32_t count, char *buf,
		   struct reply *r)
{
	READ3args a = {.file = fh3(f), .offset = off, .count = count};

	reply_init(r);
	r->buf = buf;
	r->bufsize = buf ? count : 0;
	return ISSUE(c, r, rpc_nfs3_read_async, cb_read, &a);
}

static int v3_write(struct conn *c, struct fh *f, uint64_t off, const char *data, uint32_t len,
		    stable_how how, struct reply *r)
{
	WRITE3args a = {.file = fh3(f), .offset = off, .count = len, .stable = how};

	a.data.data_len = len;
	a.data.data_val = (char *)(uintptr_t)data; /* only encoded, never written to */
	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_write_async, cb_write, &a);
}

static int v3_commit(struct conn *c, struct fh *f, uint64_t off, uint32_t count, struct reply *r)
{
	COMMIT3args a = {.file = fh3(f), .offset = off, .count = count};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_commit_async, cb_commit, &a);
}

static void create_args(CREATE3args *a, struct fh *dir, char *name, createmode3 how,
			const sattr3 *sa, const char *verf)
{
	memset(a, 0, sizeof(*a));
	a->where.dir = fh3(dir);
	a->where.name = name;
	a->how.mode = how;
	if (how == EXCLUSIVE)
		memcpy(a->how.createhow3_u.verf, verf, NFS3_CREATEVERFSIZE);
	else
		a->how.createhow3_u.obj_attributes = *sa;
}

static int v3_create(struct conn *c, struct fh *dir, const char *name, createmode3 how, sattr3 sa,
		     const char *verf, struct reply *r)
{
	char nb[NAME_BUF];
	CREATE3args a;

	create_args(&a, dir, fmt(nb, sizeof(nb), "%s", name), how, &sa, verf);
	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_create_async, cb_create, &a);
}

/* GUARDED create with a mode: the usual way to make a fresh file. */
static int v3_mkfile(struct conn *c, struct fh *dir, const char *name, uint32_t mode,
		     struct reply *r)
{
	return v3_create(c, dir, name, GUARDED, sa_mode(mode), NULL, r);
}

static int v3_mkdir(struct conn *c, struct fh *dir, const char *name, uint32_t mode,
		    struct reply *r)
{
	char nb[NAME_BUF];
	MKDIR3args a = {.where = {.dir = fh3(dir), .name = fmt(nb, sizeof(nb), "%s", name)},
			.attributes = sa_mode(mode)};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_mkdir_async, cb_mkdir, &a);
}

static int v3_symlink(struct conn *c, struct fh *dir, const char *name, const char *target,
		      struct reply *r)
{
	char nb[NAME_BUF], tb[2 * NAME_BUF];
	SYMLINK3args a = {.where = {.dir = fh3(dir), .name = fmt(nb, sizeof(nb), "%s", name)}};

	a.symlink.symlink_attributes = sa_none();
	a.symlink.symlink_data = fmt(tb, sizeof(tb), "%s", target);
	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_symlink_async, cb_symlink, &a);
}

static int v3_mknod(struct conn *c, struct fh *dir, const char *name, ftype3 type, uint32_t mode,
		    uint32_t major_, uint32_t minor_, struct reply *r)
{
	char nb[NAME_BUF];
	MKNOD3args a = {.where = {.dir = fh3(dir), .name = fmt(nb, sizeof(nb), "%s", name)}};

	a.what.type = type;
	if (type == NF3CHR || type == NF3BLK) {
		a.what.mknoddata3_u.chr_device.dev_attributes = sa_mode(mode);
		a.what.mknoddata3_u.chr_device.spec.specdata1 = major_;
		a.what.mknoddata3_u.chr_device.spec.specdata2 = minor_;
	} else if (type == NF3FIFO || type == NF3SOCK) {
		a.what.mknoddata3_u.pipe_attributes = sa_mode(mode);
	}
	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_mknod_async, cb_mknod, &a);
}

static int v3_remove(struct conn *c, struct fh *dir, const char *name, struct reply *r)
{
	char nb[NAME_BUF];
	REMOVE3args a = {.object = {.dir = fh3(dir), .name = fmt(nb, sizeof(nb), "%s", name)}};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_remove_async, cb_status, &a);
}

static int v3_rmdir(struct conn *c, struct fh *dir, const char *name, struct reply *r)
{
	char nb[NAME_BUF];
	RMDIR3args a = {.object = {.dir = fh3(dir), .name = fmt(nb, sizeof(nb), "%s", name)}};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_rmdir_async, cb_status, &a);
}

static int v3_rename(struct conn *c, struct fh *from, const char *fname, struct fh *to,
		     const char *tname, struct reply *r)
{
	char fb[NAME_BUF], tb[NAME_BUF];
	RENAME3args a = {.from = {.dir = fh3(from), .name = fmt(fb, sizeof(fb), "%s", fname)},
			 .to = {.dir = fh3(to), .name = fmt(tb, sizeof(tb), "%s", tname)}};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_rename_async, cb_status, &a);
}

static int v3_link(struct conn *c, struct fh *file, struct fh *dir, const char *name,
		   struct reply *r)
{
	char nb[NAME_BUF];
	LINK3args a = {.file = fh3(file),
		       .link = {.dir = fh3(dir), .name = fmt(nb, sizeof(nb), "%s", name)}};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_link_async, cb_link, &a);
}

static int v3_readdir(struct conn *c, struct fh *dir, uint64_t cookie, const char *verf,
		      uint32_t count, struct dirlist *out, struct reply *r)
{
	READDIR3args a = {.dir = fh3(dir), .cookie = cookie, .count = count};

	memcpy(a.cookieverf, verf, NFS3_COOKIEVERFSIZE);
	reply_init(r);
	r->dir = out;
	return ISSUE(c, r, rpc_nfs3_readdir_async, cb_readdir, &a);
}

static int v3_readdirplus(struct conn *c, struct fh *dir, uint64_t cookie, const char *verf,
			  uint32_t dircount, uint32_t maxcount, struct dirlist *out,
			  struct reply *r)
{
	READDIRPLUS3args a = {
	    .dir = fh3(dir), .cookie = cookie, .dircount = dircount, .maxcount = maxcount};

	memcpy(a.cookieverf, verf, NFS3_COOKIEVERFSIZE);
	reply_init(r);
	r->dir = out;
	return ISSUE(c, r, rpc_nfs3_readdirplus_async, cb_readdirplus, &a);
}

static int v3_fsstat(struct conn *c, struct fh *f, struct reply *r)
{
	FSSTAT3args a = {.fsroot = fh3(f)};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_fsstat_async, cb_fsstat, &a);
}

static int v3_fsinfo(struct conn *c, struct fh *f, struct reply *r)
{
	FSINFO3args a = {.fsroot = fh3(f)};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_fsinfo_async, cb_fsinfo, &a);
}

static int v3_pathconf(struct conn *c, struct fh *f, struct reply *r)
{
	PATHCONF3args a = {.object = fh3(f)};

	reply_init(r);
	return ISSUE(c, r, rpc_nfs3_pathconf_async, cb_pathconf, &a);
}

/* ------------------------------------------------------------------------------------ */
/* Check helpers                                                                        */
/* ------------------------------------------------------------------------------------ */

static const char *describe(const struct reply *r, char *out, size_t n)
{
	if (r->stat >= 0)
		return fmt(out, n, "%s (%d)", code_str(r->stat, r->is_mount), r->stat);
	return fmt(out, n, "no reply (%s)", r->err);
}

static int expect_in(const char *name, const struct reply *r, const int *want, int nwant)
{
	char got[400], w[300] = "";
	size_t off = 0;

	for (int i = 0; i < nwant; i++) {
		if (r->stat == want[i]) {
			pass(name);
			return 1;
		}
	}
	for (int i = 0; i < nwant; i++) {
		fmt(w + off, sizeof(w) - off, "%s%s", i ? " or " : "",
		    code_str(want[i], r->is_mount));
		off = strlen(w);
	}
	fail(name, "got %s, want %s", describe(r, got, sizeof(got)), w);
	return 0;
}

#define EXPECT(name, r, ...)                                                                       \
	expect_in((name), (r), (const int[]){__VA_ARGS__},                                         \
		  (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))

/* Any NFS error (a refused or garbage request also counts): the operation must not work. */
static int expect_err(const char *name, const struct reply *r)
{
	char got[400];

	return check(r->stat != NFS3_OK, name, "got %s, want an error",
		     describe(r, got, sizeof(got)));
}

/* Fetch attributes with GETATTR; on failure the attributes are zero. */
static int get_attr(struct conn *c, struct fh *f, fattr3 *out)
{
	struct reply r;

	v3_getattr(c, f, &r);
	memset(out, 0, sizeof(*out));
	if (r.stat == NFS3_OK)
		*out = r.attr;
	return r.stat;
}

/* Post-op attributes if the reply had them, else GETATTR on the reply's handle. */
static int obj_attr(struct conn *c, struct reply *r, fattr3 *out)
{
	if (r->has_attr) {
		*out = r->attr;
		return 0;
	}
	if (r->has_fh)
		return get_attr(c, &r->fh, out);
	memset(out, 0, sizeof(*out));
	return -1;
}

/* Handle of a just-created object: from the reply, else by LOOKUP (the handle is
 * optional in CREATE/MKDIR/SYMLINK/MKNOD replies). */
static int obj_fh(struct conn *c, struct fh *dir, const char *name, struct reply *r, struct fh *out)
{
	struct reply l;

	if (r->stat == NFS3_OK && r->has_fh) {
		*out = r->fh;
		return 0;
	}
	v3_lookup(c, dir, name, &l);
	memset(out, 0, sizeof(*out));
	if (l.stat != NFS3_OK || !l.has_fh)
		return -1;
	*out = l.fh;
	return 0;
}

static int list_has(const char *list, const char *entry)
{
	char needle[PATH_MAX + 2];

	fmt(needle, sizeof(needle), "\n%s\n", entry);
	return strstr(list, needle) != NULL;
}

static int is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static char *long_name(char *buf, size_t len)
{
	memset(buf, 'n', len);
	buf[len] = '\0';
	return buf;
}

/* ------------------------------------------------------------------------------------ */
/* The test state                                                                       */
/* ------------------------------------------------------------------------------------ */

struct t {
	struct conn mnt;
	struct conn nfs;
	struct fh rw, ro, sq, lim; /* export roots from MNT */
	int have_ro, have_sq, have_lim;
	fattr3 rw_attr;
	struct fh base; /* our own directory in the rw export */
	fattr3 base_attr;
	char base_name[64];
	char base_local[PATH_MAX];
	uint32_t rtmax, wtmax;
};

static const char *local(const struct t *t, const char *name, char *buf, size_t n)
{
	return fmt(buf, n, "%s/%s", t->base_local, name);
}

static int lstat_local(const struct t *t, const char *name, struct stat *st)
{
	char p[PATH_MAX];

	memset(st, 0, sizeof(*st));
	return lstat(local(t, name, p, sizeof(p)), st);
}

static int read_local(const char *path, char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	*len = 0;
	if (fd < 0)
		return -1;
	while (*len < size && (k = read(fd, buf + *len, size - *len)) > 0)
		*len += (size_t)k;
	close(fd);
	return 0;
}

static void fill_pattern(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)((i * 131 + seed * 7 + (i >> 12)) & 0xff);
}

/* Create a file with some content, returning its handle. */
static int make_file(struct t *t, struct fh *dir, const char *name, uint32_t mode, const char *data,
		     struct fh *out)
{
	struct reply r;

	if (v3_mkfile(&t->nfs, dir, name, mode, &r) != NFS3_OK ||
	    obj_fh(&t->nfs, dir, name, &r, out) != 0) {
		char got[400];

		fail("setup: create file", "%s: %s", name, describe(&r, got, sizeof(got)));
		return -1;
	}
	if (data != NULL && *data != '\0')
		v3_write(&t->nfs, out, 0, data, (uint32_t)strlen(data), FILE_SYNC, &r);
	return 0;
}

static int make_dir(struct t *t, struct fh *dir, const char *name, uint32_t mode, struct fh *out)
{
	struct reply r;

	if (v3_mkdir(&t->nfs, dir, name, mode, &r) != NFS3_OK ||
	    obj_fh(&t->nfs, dir, name, &r, out) != 0) {
		char got[400];

		fail("setup: mkdir", "%s: %s", name, describe(&r, got, sizeof(got)));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* MOUNT                                                                                */
/* ------------------------------------------------------------------------------------ */

static int mount_root(struct t *t, const char *path, struct fh *out, const char *label)
{
	struct reply r;
	char name[200];

	mnt_mnt(&t->mnt, path, &r);
	if (!EXPECT(fmt(name, sizeof(name), "MNT %s export", label), &r, MNT3_OK))
		return 0;
	check(r.has_fh && r.fh.len > 0, fmt(name, sizeof(name), "MNT %s returns a handle", label),
	      "got length %u, want 1..64", r.fh.len);
	check(
	    r.flavor_sys,
	    fmt(name, sizeof(name), "MNT %s lists AUTH_SYS among %d flavor(s)", label, r.nflavors),
	    "AUTH_SYS (1) missing");
	*out = r.fh;
	return r.has_fh && r.fh.len > 0;
}

static char export_list[16384]; /* what MOUNT EXPORT returned */

/* With TWINFS_ONLY_RW, an export the server does not list is skipped. */
static int optional_root(struct t *t, const char *path, struct fh *out, const char *label)
{
	char name[200];

	if (cfg.only_rw && !list_has(export_list, path)) {
		skip(fmt(name, sizeof(name), "MNT %s export", label),
		     "not exported (TWINFS_ONLY_RW)");
		return 0;
	}
	return mount_root(t, path, out, label);
}

static void test_mount_export(struct t *t)
{
	char *list = export_list;
	const char *paths[] = {cfg.ro_path, cfg.sq_path, cfg.lim_path};
	const char *labels[] = {"ro", "squash", "limited"};
	struct reply r;
	char name[200];

	mnt_null(&t->mnt, &r);
	EXPECT("MOUNT NULL", &r, 0);
	mnt_export(&t->mnt, list, sizeof(export_list), &r);
	if (!EXPECT("MOUNT EXPORT", &r, 0))
		return;
	check(list_has(list, cfg.rw_path), "MOUNT EXPORT lists the rw export", "want %s in [%s]",
	      cfg.rw_path, list);
	for (int i = 0; i < 3; i++) {
		fmt(name, sizeof(name), "MOUNT EXPORT lists the %s export", labels[i]);
		if (cfg.only_rw && !list_has(list, paths[i]))
			skip(name, "TWINFS_ONLY_RW");
		else
			check(list_has(list, paths[i]), name, "want %s in [%s]", paths[i], list);
	}
}

static void test_mount_mnt(struct t *t)
{
	char parent[PATH_MAX], *slash;
	struct reply r;

	if (!mount_root(t, cfg.rw_path, &t->rw, "rw")) {
		fail("MNT rw export", "cannot continue without the rw export");
		summary_and_exit();
	}
	t->have_ro = optional_root(t, cfg.ro_path, &t->ro, "ro");
	t->have_sq = optional_root(t, cfg.sq_path, &t->sq, "squash");
	t->have_lim = optional_root(t, cfg.lim_path, &t->lim, "limited");
	mnt_mnt(&t->mnt, fmt(parent, sizeof(parent), "%s/no-such-export", cfg.dir), &r);
	EXPECT("MNT of a path that does not exist is refused", &r, MNT3ERR_NOENT, MNT3ERR_ACCES);
	fmt(parent, sizeof(parent), "%s", cfg.rw_local);
	slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent)
		*slash = '\0';
	mnt_mnt(&t->mnt, parent, &r);
	EXPECT("MNT of the (unexported) parent of an export is refused", &r, MNT3ERR_ACCES,
	       MNT3ERR_NOENT, MNT3ERR_PERM);
}

static void test_mount_dump(struct t *t, int want_rw, const char *label)
{
	static char list[16384];
	struct reply r;
	char name[200];

	mnt_dump(&t->mnt, list, sizeof(list), &r);
	if (!EXPECT(fmt(name, sizeof(name), "MOUNT DUMP %s", label), &r, 0))
		return;
	fmt(name, sizeof(name), "MOUNT DUMP %s %s the rw export", label,
	    want_rw ? "lists" : "no longer lists");
	if (cfg.only_rw && want_rw && r.count == 0) {
		skip(name, "the server keeps no mount list (TWINFS_ONLY_RW)");
		return;
	}
	check(list_has(list, cfg.rw_path) == want_rw, name, "got [%s] (%u entries)", list, r.count);
}

static void test_mount_unmount(struct t *t)
{
	static char list[16384];
	struct reply r;

	mnt_umnt(&t->mnt, cfg.rw_path, &r);
	EXPECT("MOUNT UMNT rw", &r, 0);
	test_mount_dump(t, 0, "after UMNT");
	mnt_umntall(&t->mnt, &r);
	EXPECT("MOUNT UMNTALL", &r, 0);
	mnt_dump(&t->mnt, list, sizeof(list), &r);
	check(r.stat == 0 && r.count == 0, "MOUNT DUMP after UMNTALL is empty",
	      "stat %d, entries [%s]", r.stat, list);
	v3_getattr(&t->nfs, &t->rw, &r);
	EXPECT("handle still usable after UMNT (RFC 1813: UMNT does not revoke handles)", &r,
	       NFS3_OK);
}

/* ------------------------------------------------------------------------------------ */
/* NULL, GETATTR, FSINFO, FSSTAT, PATHCONF, LOOKUP at the export root                   */
/* ------------------------------------------------------------------------------------ */

static void test_fs_info(struct t *t)
{
	const uint32_t props = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME;
	struct reply r;
	FSINFO3resok *fi = &r.u.fsinfo;

	v3_null(&t->nfs, &r);
	EXPECT("NFS NULL", &r, 0);
	v3_getattr(&t->nfs, &t->rw, &r);
	if (EXPECT("GETATTR export root", &r, NFS3_OK))
		check(r.attr.type == NF3DIR, "GETATTR export root is a directory", "type %d",
		      r.attr.type);
	t->rw_attr = r.attr;
	v3_fsinfo(&t->nfs, &t->rw, &r);
	if (!EXPECT("FSINFO", &r, NFS3_OK))
		return;
	t->rtmax = fi->rtmax;
	t->wtmax = fi->wtmax;
	check(fi->rtmax >= 64 * KIB, "FSINFO rtmax >= 64 KiB", "got %u", fi->rtmax);
	check(fi->wtmax >= 64 * KIB, "FSINFO wtmax >= 64 KiB", "got %u", fi->wtmax);
	check(fi->rtpref > 0 && fi->rtpref <= fi->rtmax, "FSINFO 0 < rtpref <= rtmax",
	      "rtpref %u rtmax %u", fi->rtpref, fi->rtmax);
	check(fi->wtpref > 0 && fi->wtpref <= fi->wtmax, "FSINFO 0 < wtpref <= wtmax",
	      "wtpref %u wtmax %u", fi->wtpref, fi->wtmax);
	check(fi->dtpref > 0, "FSINFO dtpref > 0", "got %u", fi->dtpref);
	check(fi->maxfilesize >= (1ull << 32), "FSINFO maxfilesize >= 4 GiB", "got %" PRIu64,
	      (uint64_t)fi->maxfilesize);
	check((fi->properties & props) == props,
	      "FSINFO properties have LINK|SYMLINK|HOMOGENEOUS|CANSETTIME", "got 0x%x, want 0x%x",
	      fi->properties, props);
	check(fi->time_delta.seconds <= 1, "FSINFO time_delta <= 1 s", "got %u.%09u",
	      fi->time_delta.seconds, fi->time_delta.nseconds);
}

static void test_fsstat_pathconf(struct t *t)
{
	struct reply r;
	FSSTAT3resok *fs = &r.u.fsstat;
	PATHCONF3resok *pc = &r.u.pathconf;
	struct statvfs sv;

	v3_fsstat(&t->nfs, &t->rw, &r);
	if (EXPECT("FSSTAT", &r, NFS3_OK)) {
		check(fs->tbytes > 0 && fs->fbytes <= fs->tbytes && fs->abytes <= fs->fbytes,
		      "FSSTAT 0 < tbytes, abytes <= fbytes <= tbytes",
		      "t %" PRIu64 " f %" PRIu64 " a %" PRIu64, (uint64_t)fs->tbytes,
		      (uint64_t)fs->fbytes, (uint64_t)fs->abytes);
		check(fs->ffiles <= fs->tfiles && fs->afiles <= fs->ffiles,
		      "FSSTAT afiles <= ffiles <= tfiles", "t %" PRIu64 " f %" PRIu64 " a %" PRIu64,
		      (uint64_t)fs->tfiles, (uint64_t)fs->ffiles, (uint64_t)fs->afiles);
		if (statvfs(cfg.rw_local, &sv) == 0) {
			double local_t = (double)sv.f_blocks * (double)sv.f_frsize;

			check(fs->tbytes > local_t * 0.99 && fs->tbytes < local_t * 1.01,
			      "FSSTAT tbytes matches the local file system",
			      "got %" PRIu64 ", local %.0f", (uint64_t)fs->tbytes, local_t);
		}
	}
	v3_pathconf(&t->nfs, &t->rw, &r);
	if (!EXPECT("PATHCONF", &r, NFS3_OK))
		return;
	check(pc->name_max == 255, "PATHCONF name_max == 255", "got %u", pc->name_max);
	check(pc->no_trunc, "PATHCONF no_trunc", "got %u", pc->no_trunc);
	check(!pc->case_insensitive && pc->case_preserving,
	      "PATHCONF case sensitive and preserving", "insensitive %u preserving %u",
	      pc->case_insensitive, pc->case_preserving);
	check(pc->linkmax >= 1, "PATHCONF linkmax >= 1", "got %u", pc->linkmax);
	check(pc->chown_restricted, "PATHCONF chown_restricted", "got %u", pc->chown_restricted);
}

/* LOOKUP of "." and ".." in an export root stays in the export root. */
static void test_root_dotdot(struct t *t, struct fh *root, const char *label)
{
	const char *names[] = {"..", "."};
	fattr3 want, got;
	struct reply r;
	char name[200];

	if (get_attr(&t->nfs, root, &want) != NFS3_OK) {
		fail("GETATTR export root", "%s root unreadable", label);
		return;
	}
	for (int i = 0; i < 2; i++) {
		v3_lookup(&t->nfs, root, names[i], &r);
		if (!EXPECT(fmt(name, sizeof(name), "LOOKUP \"%s\" at the %s export root", names[i],
				label),
			    &r, NFS3_OK))
			continue;
		get_attr(&t->nfs, &r.fh, &got);
		check(got.fileid == want.fileid && got.type == NF3DIR,
		      fmt(name, sizeof(name),
			  "LOOKUP \"%s\" at the %s export root returns the root", names[i], label),
		      "got fileid %" PRIu64 ", want the root's %" PRIu64, (uint64_t)got.fileid,
		      (uint64_t)want.fileid);
	}
}

/* ------------------------------------------------------------------------------------ */
/* MKDIR, LOOKUP                                                                        */
/* ------------------------------------------------------------------------------------ */

static void test_base_dir(struct t *t)
{
	int rc;
	struct reply r;
	struct stat st;
	fattr3 a;

	fmt(t->base_name, sizeof(t->base_name), "nfs3test-%d", (int)getpid());
	fmt(t->base_local, sizeof(t->base_local), "%s/%s", cfg.rw_local, t->base_name);
	v3_mkdir(&t->nfs, &t->rw, t->base_name, 0755, &r);
	if (!EXPECT("MKDIR", &r, NFS3_OK) || obj_fh(&t->nfs, &t->rw, t->base_name, &r, &t->base)) {
		fail("MKDIR", "cannot continue without the test directory");
		summary_and_exit();
	}
	obj_attr(&t->nfs, &r, &a);
	t->base_attr = a;
	check(a.type == NF3DIR && (a.mode & 07777) == 0755, "MKDIR attributes: directory, 0755",
	      "type %d mode %o", a.type, a.mode & 07777);
	rc = lstat(t->base_local, &st);
	check(rc == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 && st.st_uid == 0,
	      "MKDIR made a local directory, mode 0755, owner root", "%s: mode %o uid %d",
	      t->base_local, st.st_mode, (int)st.st_uid);
	v3_mkdir(&t->nfs, &t->rw, t->base_name, 0755, &r);
	EXPECT("MKDIR of an existing name -> EXIST", &r, NFS3ERR_EXIST);
	v3_lookup(&t->nfs, &t->rw, t->base_name, &r);
	if (EXPECT("LOOKUP", &r, NFS3_OK))
		check(r.has_attr && r.attr.fileid == a.fileid, "LOOKUP returns the new directory",
		      "fileid %" PRIu64 " want %" PRIu64, (uint64_t)r.attr.fileid,
		      (uint64_t)a.fileid);
	v3_lookup(&t->nfs, &t->base, "..", &r);
	if (EXPECT("LOOKUP \"..\" in a subdirectory", &r, NFS3_OK) &&
	    obj_attr(&t->nfs, &r, &a) == 0)
		check(a.fileid == t->rw_attr.fileid,
		      "LOOKUP \"..\" in a subdirectory returns its parent",
		      "fileid %" PRIu64 " want %" PRIu64, (uint64_t)a.fileid,
		      (uint64_t)t->rw_attr.fileid);
	v3_lookup(&t->nfs, &t->base, "no-such-name", &r);
	EXPECT("LOOKUP of a missing name -> NOENT", &r, NFS3ERR_NOENT);
}

/* ------------------------------------------------------------------------------------ */
/* CREATE                                                                               */
/* ------------------------------------------------------------------------------------ */

static void test_create_unchecked(struct t *t)
{
	int rc;
	struct reply r;
	struct stat st;
	struct fh f;
	fattr3 a;
	uint64_t id;

	v3_create(&t->nfs, &t->base, "unchecked", UNCHECKED, sa_mode(0644), NULL, &r);
	if (!EXPECT("CREATE UNCHECKED", &r, NFS3_OK) ||
	    obj_fh(&t->nfs, &t->base, "unchecked", &r, &f) != 0)
		return;
	obj_attr(&t->nfs, &r, &a);
	id = a.fileid;
	check(a.type == NF3REG && (a.mode & 07777) == 0644 && a.size == 0,
	      "CREATE UNCHECKED attributes: regular, 0644, empty", "type %d mode %o size %" PRIu64,
	      a.type, a.mode & 07777, (uint64_t)a.size);
	rc = lstat_local(t, "unchecked", &st);
	check(rc == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644,
	      "CREATE UNCHECKED made a local regular file, mode 0644", "mode %o", st.st_mode);
	v3_write(&t->nfs, &f, 0, "0123456789", 10, FILE_SYNC, &r);
	v3_create(&t->nfs, &t->base, "unchecked", UNCHECKED, sa_size(0), NULL, &r);
	if (!EXPECT("CREATE UNCHECKED of an existing file succeeds", &r, NFS3_OK))
		return;
	obj_attr(&t->nfs, &r, &a);
	check(a.fileid == id && a.size == 0,
	      "CREATE UNCHECKED of an existing file with size 0 truncates that file",
	      "fileid %" PRIu64 " (want %" PRIu64 ") size %" PRIu64, (uint64_t)a.fileid,
	      (uint64_t)id, (uint64_t)a.size);
}

static void test_create_guarded(struct t *t)
{
	struct reply r;
	fattr3 a;

	v3_create(&t->nfs, &t->base, "guarded", GUARDED, sa_mode(0600), NULL, &r);
	if (EXPECT("CREATE GUARDED", &r, NFS3_OK)) {
		obj_attr(&t->nfs, &r, &a);
		check(a.type == NF3REG && (a.mode & 07777) == 0600,
		      "CREATE GUARDED attributes: regular, 0600", "type %d mode %o", a.type,
		      a.mode & 07777);
	}
	v3_create(&t->nfs, &t->base, "guarded", GUARDED, sa_mode(0600), NULL, &r);
	EXPECT("CREATE GUARDED of an existing name -> EXIST", &r, NFS3ERR_EXIST);
}

static void test_create_exclusive(struct t *t)
{
	struct reply r;
	struct fh f;
	fattr3 a, b;

	v3_create(&t->nfs, &t->base, "excl", EXCLUSIVE, sa_none(), "verf-one", &r);
	if (!EXPECT("CREATE EXCLUSIVE", &r, NFS3_OK) ||
	    obj_fh(&t->nfs, &t->base, "excl", &r, &f) != 0)
		return;
	get_attr(&t->nfs, &f, &a);
	check(a.type == NF3REG, "CREATE EXCLUSIVE made a regular file", "type %d", a.type);
	v3_create(&t->nfs, &t->base, "excl", EXCLUSIVE, sa_none(), "verf-one", &r);
	if (EXPECT("CREATE EXCLUSIVE retransmitted with the same verifier succeeds", &r, NFS3_OK)) {
		struct fh g;

		obj_fh(&t->nfs, &t->base, "excl", &r, &g);
		get_attr(&t->nfs, &g, &b);
		check(b.fileid == a.fileid, "CREATE EXCLUSIVE retransmission returns the same file",
		      "fileid %" PRIu64 " want %" PRIu64, (uint64_t)b.fileid, (uint64_t)a.fileid);
	}
	v3_create(&t->nfs, &t->base, "excl", EXCLUSIVE, sa_none(), "verf-two", &r);
	EXPECT("CREATE EXCLUSIVE with another verifier -> EXIST", &r, NFS3ERR_EXIST);
	v3_create(&t->nfs, &t->base, "guarded", EXCLUSIVE, sa_none(), "verf-one", &r);
	EXPECT("CREATE EXCLUSIVE over a file made by GUARDED -> EXIST", &r, NFS3ERR_EXIST);
	v3_setattr(&t->nfs, &f, sa_mode(0640), NULL, &r);
	if (EXPECT("SETATTR after CREATE EXCLUSIVE", &r, NFS3_OK) &&
	    get_attr(&t->nfs, &f, &a) == NFS3_OK)
		check((a.mode & 07777) == 0640, "SETATTR after CREATE EXCLUSIVE sets the mode",
		      "mode %o", a.mode & 07777);
}

static void test_create_names(struct t *t)
{
	int rc;
	char name[300], p[PATH_MAX];
	struct reply r;
	struct stat st;
	struct fh f;

	v3_mkfile(&t->nfs, &t->base, long_name(name, 255), 0644, &r);
	EXPECT("CREATE with a 255-byte name", &r, NFS3_OK);
	rc = lstat(local(t, name, p, sizeof(p)), &st) == 0 ? 0 : errno;
	check(rc == 0, "255-byte name exists locally", "%s", strerror(rc));
	v3_mkfile(&t->nfs, &t->base, long_name(name, 256), 0644, &r);
	EXPECT("CREATE with a 256-byte name -> NAMETOOLONG", &r, NFS3ERR_NAMETOOLONG);
	v3_mkdir(&t->nfs, &t->base, name, 0755, &r);
	EXPECT("MKDIR with a 256-byte name -> NAMETOOLONG", &r, NFS3ERR_NAMETOOLONG);
	v3_lookup(&t->nfs, &t->base, name, &r);
	EXPECT("LOOKUP with a 256-byte name -> NAMETOOLONG", &r, NFS3ERR_NAMETOOLONG);
	v3_symlink(&t->nfs, &t->base, name, "x", &r);
	EXPECT("SYMLINK with a 256-byte name -> NAMETOOLONG", &r, NFS3ERR_NAMETOOLONG);
	v3_mkfile(&t->nfs, &t->base, "a/b", 0644, &r);
	expect_err("CREATE of a name containing '/' is refused", &r);
	v3_mkfile(&t->nfs, &t->base, "", 0644, &r);
	expect_err("CREATE of an empty name is refused", &r);
	v3_mkfile(&t->nfs, &t->base, ".", 0644, &r);
	expect_err("CREATE of \".\" is refused", &r);
	v3_mkdir(&t->nfs, &t->base, "..", 0755, &r);
	expect_err("MKDIR of \"..\" is refused", &r);
	if (v3_lookup(&t->nfs, &t->base, "guarded", &r) == NFS3_OK) {
		f = r.fh;
		v3_mkfile(&t->nfs, &f, "inside", 0644, &r);
		EXPECT("CREATE in a regular file -> NOTDIR", &r, NFS3ERR_NOTDIR);
	}
}

/* ------------------------------------------------------------------------------------ */
/* WRITE, COMMIT, READ                                                                  */
/* ------------------------------------------------------------------------------------ */

struct wstep {
	const char *name;
	stable_how how;
	uint32_t min_committed;
};

static const struct wstep wsteps[] = {
    {"WRITE UNSTABLE", UNSTABLE, UNSTABLE},
    {"WRITE DATA_SYNC", DATA_SYNC, DATA_SYNC},
    {"WRITE FILE_SYNC", FILE_SYNC, FILE_SYNC},
};

/* Three 4 KiB writes, one of each stability, then one of wtmax bytes. Returns the size. */
static size_t do_writes(struct t *t, struct fh *f, const char *data, size_t big, char *verf)
{
	char name[200];
	struct reply r;
	size_t off = 0;

	for (size_t i = 0; i < 3; i++, off += 4096) {
		v3_write(&t->nfs, f, off, data + off, 4096, wsteps[i].how, &r);
		if (!EXPECT(wsteps[i].name, &r, NFS3_OK))
			continue;
		check(r.count == 4096 && r.committed >= wsteps[i].min_committed &&
			  r.committed <= FILE_SYNC,
		      fmt(name, sizeof(name), "%s: count 4096, committed >= %d", wsteps[i].name,
			  wsteps[i].min_committed),
		      "count %u committed %u", r.count, r.committed);
		if (i == 0)
			memcpy(verf, r.verf, NFS3_WRITEVERFSIZE);
		else
			check(memcmp(verf, r.verf, NFS3_WRITEVERFSIZE) == 0,
			      fmt(name, sizeof(name), "%s: same write verifier", wsteps[i].name),
			      "verifier changed between writes");
	}
	v3_write(&t->nfs, f, off, data + off, (uint32_t)big, UNSTABLE, &r);
	if (EXPECT("WRITE of wtmax bytes", &r, NFS3_OK)) {
		check(r.count == big, "WRITE of wtmax bytes writes all of them",
		      "count %u want %zu", r.count, big);
		check(memcmp(verf, r.verf, NFS3_WRITEVERFSIZE) == 0,
		      "WRITE of wtmax bytes: same write verifier", "verifier changed");
		check(!r.has_attr || r.attr.size == off + big, "WRITE post-op size",
		      "size %" PRIu64 " want %zu", (uint64_t)r.attr.size, off + big);
	}
	return off + big;
}

static void check_read_back(struct t *t, struct fh *f, const char *data, size_t size,
			    uint32_t chunk)
{
	char *buf = malloc(chunk);
	size_t off = 0;
	struct reply r;
	int first = 1, same = 1;

	reply_init(&r);
	while (buf != NULL && off < size) {
		if (v3_read(&t->nfs, f, off, chunk, buf, &r) != NFS3_OK || r.count == 0)
			break;
		if (first)
			check(r.count == (chunk < size ? chunk : size),
			      "READ of rtmax bytes returns them in one call", "count %u want %zu",
			      r.count, (size_t)(chunk < size ? chunk : size));
		first = 0;
		same = same && r.buflen == r.count && memcmp(buf, data + off, r.count) == 0;
		off += r.count;
		if (r.eof)
			break;
	}
	EXPECT("READ", &r, NFS3_OK);
	check(off == size && same && r.eof, "READ returns exactly the data written, then eof",
	      "read %zu of %zu bytes, data %s, eof %u", off, size, same ? "same" : "DIFFERENT",
	      r.eof);
	v3_read(&t->nfs, f, size, 100, buf, &r);
	check(r.stat == NFS3_OK && r.count == 0 && r.eof, "READ at end of file: 0 bytes, eof",
	      "stat %d count %u eof %u", r.stat, r.count, r.eof);
	/* Ranges that start and end inside pages, of lengths that need XDR padding,
	 * and one across the end: the data (spliced from the page cache when it can
	 * be) and the record around it must come out exact. */
	static const struct {
		size_t off, count;
	} odd[] = {{1, 1}, {4095, 3}, {4097, 4093}, {12287, 65537}, {2, 131071}};
	int odd_ok = 1;
	for (size_t i = 0; buf && i < sizeof(odd) / sizeof(odd[0]); i++) {
		size_t want_n = odd[i].off >= size		   ? 0
				: size - odd[i].off < odd[i].count ? size - odd[i].off
								   : odd[i].count;
		if (odd[i].count > chunk)
			continue;
		if (v3_read(&t->nfs, f, odd[i].off, (uint32_t)odd[i].count, buf, &r) != NFS3_OK ||
		    r.count != want_n || r.buflen != want_n ||
		    memcmp(buf, data + odd[i].off, want_n) != 0 ||
		    (r.eof != 0) != (odd[i].off + want_n >= size)) {
			odd_ok = 0;
			fprintf(stderr, "# READ %zu@%zu: stat %d count %u eof %u, want %zu\n",
				odd[i].count, odd[i].off, r.stat, r.count, r.eof, want_n);
		}
	}
	v3_read(&t->nfs, f, size - 5, 100, buf, &r);
	odd_ok = odd_ok && r.stat == NFS3_OK && r.count == 5 && r.eof &&
		 memcmp(buf, data + size - 5, 5) == 0;
	check(odd_ok, "READs of unaligned ranges and odd lengths return exactly their bytes",
	      "see above");
	/* rtmax bytes from inside a page span one page more than rtmax: a server may
	 * return fewer (its pipe of rtmax), but only the file's own bytes, no eof */
	if (buf && size > 4097 + (size_t)chunk) {
		v3_read(&t->nfs, f, 4097, chunk, buf, &r);
		check(r.stat == NFS3_OK && r.count > 0 && r.count <= chunk && r.buflen == r.count &&
			  !r.eof && memcmp(buf, data + 4097, r.count) == 0,
		      "an unaligned READ of rtmax bytes returns the file's bytes from there",
		      "stat %d count %u eof %u", r.stat, r.count, r.eof);
	}
	free(buf);
}

static void test_write_read(struct t *t)
{
	size_t big = t->wtmax < MIB ? t->wtmax : MIB, size;
	uint32_t chunk = t->rtmax < MIB ? t->rtmax : MIB;
	char *data = malloc(3 * 4096 + big), *local_buf = malloc(3 * 4096 + big + 1);
	char verf[NFS3_WRITEVERFSIZE], p[PATH_MAX];
	struct reply r;
	struct fh f;
	size_t len;

	if (data == NULL || local_buf == NULL || big == 0 || chunk == 0 ||
	    make_file(t, &t->base, "data", 0644, NULL, &f) != 0)
		goto out;
	fill_pattern(data, 3 * 4096 + big, 1);
	size = do_writes(t, &f, data, big, verf);
	v3_commit(&t->nfs, &f, 0, 0, &r);
	if (EXPECT("COMMIT", &r, NFS3_OK))
		check(memcmp(verf, r.verf, NFS3_WRITEVERFSIZE) == 0,
		      "COMMIT returns the same verifier as the writes", "verifier changed");
	v3_commit(&t->nfs, &f, 4096, 8192, &r);
	EXPECT("COMMIT of a range", &r, NFS3_OK);
	check_read_back(t, &f, data, size, chunk);
	read_local(local(t, "data", p, sizeof(p)), local_buf, size + 1, &len);
	check(len == size && memcmp(local_buf, data, size) == 0,
	      "written data is in the local file", "local size %zu want %zu", len, size);
	v3_write(&t->nfs, &f, 10 * MIB, "tail", 4, FILE_SYNC, &r);
	EXPECT("WRITE far past the end of file", &r, NFS3_OK);
	check(r.has_attr ? r.attr.size == 10 * MIB + 4 : 1, "WRITE past the end extends the file",
	      "size %" PRIu64, (uint64_t)r.attr.size);
out:
	free(data);
	free(local_buf);
}

/* ------------------------------------------------------------------------------------ */
/* SETATTR                                                                              */
/* ------------------------------------------------------------------------------------ */

static void test_setattr_basic(struct t *t, struct fh *f)
{
	struct reply r;
	struct stat st;
	sattr3 sa;
	fattr3 a;

	v3_setattr(&t->nfs, f, sa_size(100), NULL, &r);
	EXPECT("SETATTR size (truncate)", &r, NFS3_OK);
	get_attr(&t->nfs, f, &a);
	lstat_local(t, "attrs", &st);
	check(a.size == 100 && st.st_size == 100, "SETATTR size: 100 bytes over NFS and locally",
	      "nfs %" PRIu64 " local %lld", (uint64_t)a.size, (long long)st.st_size);
	v3_setattr(&t->nfs, f, sa_mode(0604), NULL, &r);
	EXPECT("SETATTR mode", &r, NFS3_OK);
	get_attr(&t->nfs, f, &a);
	lstat_local(t, "attrs", &st);
	check((a.mode & 07777) == 0604 && (st.st_mode & 07777) == 0604,
	      "SETATTR mode: 0604 over NFS and locally", "nfs %o local %o", a.mode & 07777,
	      st.st_mode & 07777);
	sa = sa_none();
	sa.uid.set_it = 1;
	sa.uid.set_uid3_u.uid = USER_UID;
	sa.gid.set_it = 1;
	sa.gid.set_gid3_u.gid = USER_GID;
	v3_setattr(&t->nfs, f, sa, NULL, &r);
	EXPECT("SETATTR uid/gid as root", &r, NFS3_OK);
	get_attr(&t->nfs, f, &a);
	lstat_local(t, "attrs", &st);
	check(a.uid == USER_UID && a.gid == USER_GID && st.st_uid == USER_UID &&
		  st.st_gid == USER_GID,
	      "SETATTR uid/gid: 1000:1000 over NFS and locally", "nfs %u:%u local %d:%d", a.uid,
	      a.gid, (int)st.st_uid, (int)st.st_gid);
}

static void test_setattr_times(struct t *t, struct fh *f)
{
	struct reply r;
	sattr3 sa = sa_none();
	fattr3 a;
	time_t now;

	sa.atime.set_it = SET_TO_CLIENT_TIME;
	sa.atime.set_atime_u.atime = (nfstime3){1000000000, 250000000};
	sa.mtime.set_it = SET_TO_CLIENT_TIME;
	sa.mtime.set_mtime_u.mtime = (nfstime3){1234567890, 500000000};
	v3_setattr(&t->nfs, f, sa, NULL, &r);
	EXPECT("SETATTR atime/mtime to client time", &r, NFS3_OK);
	get_attr(&t->nfs, f, &a);
	check(a.mtime.seconds == 1234567890 && a.mtime.nseconds == 500000000 &&
		  a.atime.seconds == 1000000000 && a.atime.nseconds == 250000000,
	      "SETATTR client times are stored exactly", "mtime %u.%09u atime %u.%09u",
	      a.mtime.seconds, a.mtime.nseconds, a.atime.seconds, a.atime.nseconds);
	sa = sa_none();
	sa.mtime.set_it = SET_TO_SERVER_TIME;
	v3_setattr(&t->nfs, f, sa, NULL, &r);
	EXPECT("SETATTR mtime to server time", &r, NFS3_OK);
	get_attr(&t->nfs, f, &a);
	now = time(NULL);
	check(a.mtime.seconds + 60 >= (uint64_t)now && a.mtime.seconds <= (uint64_t)now + 60,
	      "SETATTR server time is now", "mtime %u, now %lld", a.mtime.seconds, (long long)now);
}

static void test_setattr_guard(struct t *t, struct fh *f)
{
	struct reply r;
	nfstime3 wrong;
	fattr3 a;

	get_attr(&t->nfs, f, &a);
	wrong = a.ctime;
	wrong.seconds -= 7;
	v3_setattr(&t->nfs, f, sa_mode(0640), &wrong, &r);
	EXPECT("SETATTR with a wrong ctime guard -> NOT_SYNC", &r, NFS3ERR_NOT_SYNC);
	get_attr(&t->nfs, f, &a);
	check((a.mode & 07777) == 0604, "SETATTR refused by the guard changes nothing",
	      "mode %o want 604", a.mode & 07777);
	v3_setattr(&t->nfs, f, sa_mode(0640), &a.ctime, &r);
	EXPECT("SETATTR with the right ctime guard", &r, NFS3_OK);
	get_attr(&t->nfs, f, &a);
	check((a.mode & 07777) == 0640, "SETATTR with the right guard applies", "mode %o",
	      a.mode & 07777);
}

static void test_setattr(struct t *t)
{
	char data[1000];
	struct reply r;
	struct fh f;

	memset(data, 'a', sizeof(data) - 1);
	data[sizeof(data) - 1] = '\0';
	if (make_file(t, &t->base, "attrs", 0644, data, &f) != 0)
		return;
	test_setattr_basic(t, &f);
	test_setattr_times(t, &f);
	test_setattr_guard(t, &f);
	v3_setattr(&t->nfs, &t->base, sa_size(0), NULL, &r);
	expect_err("SETATTR size on a directory is refused", &r);
	v3_lookup(&t->nfs, &t->base, "attrs", &r);
	EXPECT("the directory is intact after SETATTR size", &r, NFS3_OK);
}

/* ------------------------------------------------------------------------------------ */
/* ACCESS, SYMLINK/READLINK, MKNOD                                                      */
/* ------------------------------------------------------------------------------------ */

#define ACC_ALL                                                                                    \
	(ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE |        \
	 ACCESS3_EXECUTE)
#define ACC_RW (ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND)

static void test_access_root(struct t *t)
{
	const uint32_t dir_want =
	    ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE;
	struct reply r;
	struct fh f;

	v3_access(&t->nfs, &t->base, ACC_ALL, &r);
	if (EXPECT("ACCESS on a directory", &r, NFS3_OK))
		check((r.access & dir_want) == dir_want && (r.access & ~(uint32_t)ACC_ALL) == 0,
		      "ACCESS: root may read, look up, modify, extend and delete in its directory",
		      "got 0x%x", r.access);
	if (v3_lookup(&t->nfs, &t->base, "data", &r) != NFS3_OK)
		return;
	f = r.fh; /* the call below resets r before it encodes the handle */
	v3_access(&t->nfs, &f, ACC_RW, &r);
	if (EXPECT("ACCESS on a file", &r, NFS3_OK))
		check(r.access == ACC_RW, "ACCESS: root may read and write a 0644 file",
		      "got 0x%x want 0x%x", r.access, ACC_RW);
}

static int list_dir(struct t *t, struct fh *dir, int plus, uint32_t count, struct dirlist *dl,
		    int *calls, char *why, size_t wsz);

/* READDIRPLUS describes a symlink as a symlink: it must not follow it (to /etc). */
static void check_plus_symlink(struct t *t, const char *name)
{
	struct dirlist dl = {0};
	char why[400] = "";
	const struct dent *e = NULL;
	int calls;
	fattr3 a = {0};

	if (list_dir(t, &t->base, 1, 32768, &dl, &calls, why, sizeof(why)) != 0) {
		fail("READDIRPLUS of the test directory", "%s", why);
		return;
	}
	for (int i = 0; i < dl.n && e == NULL; i++)
		e = strcmp(dl.v[i].name, name) == 0 ? &dl.v[i] : NULL;
	if (e != NULL && e->has_fh) {
		struct fh f = e->fh;

		get_attr(&t->nfs, &f, &a);
	}
	check(e != NULL && (!e->has_attr || e->attr.type == NF3LNK) &&
		  (!e->has_fh || a.type == NF3LNK),
	      "READDIRPLUS does not follow a symlink to /etc (attributes and handle are NF3LNK)",
	      "entry %s, attr type %d, handle's type %d", e ? "found" : "missing",
	      e && e->has_attr ? (int)e->attr.type : -1, (int)a.type);
	free(dl.v);
}

static void test_symlink(struct t *t)
{
	char buf[2 * NAME_BUF], target[1001], p[PATH_MAX];
	struct reply r;
	struct fh l;
	fattr3 a;
	ssize_t n;

	v3_symlink(&t->nfs, &t->base, "etc", "/etc", &r);
	if (!EXPECT("SYMLINK", &r, NFS3_OK) || obj_fh(&t->nfs, &t->base, "etc", &r, &l) != 0)
		return;
	obj_attr(&t->nfs, &r, &a);
	check(a.type == NF3LNK, "SYMLINK made a symlink", "type %d", a.type);
	v3_readlink(&t->nfs, &l, buf, sizeof(buf), &r);
	if (EXPECT("READLINK", &r, NFS3_OK))
		check(strcmp(buf, "/etc") == 0, "READLINK returns the target", "got \"%s\"", buf);
	n = readlink(local(t, "etc", p, sizeof(p)), buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	check(strcmp(buf, "/etc") == 0, "SYMLINK made a local symlink to /etc", "got \"%s\"", buf);
	v3_lookup(&t->nfs, &t->base, "etc", &r);
	if (EXPECT("LOOKUP of a symlink to /etc", &r, NFS3_OK) && obj_attr(&t->nfs, &r, &a) == 0)
		check(a.type == NF3LNK, "LOOKUP does not follow a symlink to /etc (type NF3LNK)",
		      "type %d", a.type);
	v3_lookup(&t->nfs, &l, "passwd", &r);
	EXPECT("LOOKUP through a symlink to /etc -> NOTDIR", &r, NFS3ERR_NOTDIR);
	check_plus_symlink(t, "etc");
	v3_symlink(&t->nfs, &t->base, "etc", "/tmp", &r);
	EXPECT("SYMLINK of an existing name -> EXIST", &r, NFS3ERR_EXIST);
	memset(target, 't', 1000);
	target[1000] = '\0';
	v3_symlink(&t->nfs, &t->base, "longlink", target, &r);
	if (EXPECT("SYMLINK with a 1000-byte target", &r, NFS3_OK) &&
	    obj_fh(&t->nfs, &t->base, "longlink", &r, &l) == 0) {
		v3_readlink(&t->nfs, &l, buf, sizeof(buf), &r);
		check(r.stat == NFS3_OK && strcmp(buf, target) == 0,
		      "READLINK returns a 1000-byte target intact", "stat %d length %zu", r.stat,
		      strlen(buf));
	}
	if (v3_lookup(&t->nfs, &t->base, "data", &r) == NFS3_OK) {
		l = r.fh;
		v3_readlink(&t->nfs, &l, buf, sizeof(buf), &r);
		EXPECT("READLINK of a regular file -> INVAL", &r, NFS3ERR_INVAL);
	}
}

static void test_mknod(struct t *t)
{
	struct reply r;
	struct stat st;
	fattr3 a;

	v3_mknod(&t->nfs, &t->base, "fifo", NF3FIFO, 0640, 0, 0, &r);
	if (EXPECT("MKNOD FIFO", &r, NFS3_OK)) {
		obj_attr(&t->nfs, &r, &a);
		check(a.type == NF3FIFO && (a.mode & 07777) == 0640,
		      "MKNOD FIFO attributes: fifo, 0640", "type %d mode %o", a.type,
		      a.mode & 07777);
		lstat_local(t, "fifo", &st);
		check(S_ISFIFO(st.st_mode), "MKNOD FIFO made a local fifo", "mode %o", st.st_mode);
	}
	v3_mknod(&t->nfs, &t->base, "chr", NF3CHR, 0600, 1, 3, &r);
	if (EXPECT("MKNOD CHR", &r, NFS3_OK)) {
		obj_attr(&t->nfs, &r, &a);
		check(a.type == NF3CHR && a.rdev.specdata1 == 1 && a.rdev.specdata2 == 3,
		      "MKNOD CHR attributes: char device 1,3", "type %d rdev %u,%u", a.type,
		      a.rdev.specdata1, a.rdev.specdata2);
		lstat_local(t, "chr", &st);
		check(S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3,
		      "MKNOD CHR made a local device 1,3", "mode %o rdev %u,%u", st.st_mode,
		      major(st.st_rdev), minor(st.st_rdev));
	}
	v3_mknod(&t->nfs, &t->base, "fifo", NF3FIFO, 0640, 0, 0, &r);
	EXPECT("MKNOD of an existing name -> EXIST", &r, NFS3ERR_EXIST);
	v3_mknod(&t->nfs, &t->base, "reg", NF3REG, 0640, 0, 0, &r);
	EXPECT("MKNOD of type NF3REG -> BADTYPE", &r, NFS3ERR_BADTYPE);
}

/* ------------------------------------------------------------------------------------ */
/* LINK, RENAME, REMOVE, RMDIR                                                          */
/* ------------------------------------------------------------------------------------ */

static void test_link(struct t *t)
{
	struct stat s1, s2;
	struct reply r;
	struct fh f;
	fattr3 a;

	if (make_file(t, &t->base, "orig", 0644, "original", &f) != 0)
		return;
	v3_link(&t->nfs, &f, &t->base, "hard", &r);
	if (EXPECT("LINK", &r, NFS3_OK)) {
		get_attr(&t->nfs, &f, &a);
		check(a.nlink == 2, "LINK: nlink is 2", "nlink %u", a.nlink);
		lstat_local(t, "orig", &s1);
		lstat_local(t, "hard", &s2);
		check(s1.st_ino != 0 && s1.st_ino == s2.st_ino, "LINK made a local hard link",
		      "inodes %llu %llu", (unsigned long long)s1.st_ino,
		      (unsigned long long)s2.st_ino);
	}
	v3_link(&t->nfs, &f, &t->base, "hard", &r);
	EXPECT("LINK to an existing name -> EXIST", &r, NFS3ERR_EXIST);
	v3_link(&t->nfs, &t->base, &t->base, "dirlink", &r);
	expect_err("LINK of a directory is refused", &r);
}

static void test_rename_basic(struct t *t)
{
	int rc;
	struct reply r;
	struct stat st;
	struct fh sub;
	fattr3 a, b;

	v3_lookup(&t->nfs, &t->base, "orig", &r);
	obj_attr(&t->nfs, &r, &a);
	v3_rename(&t->nfs, &t->base, "hard", &t->base, "renamed", &r);
	EXPECT("RENAME", &r, NFS3_OK);
	v3_lookup(&t->nfs, &t->base, "hard", &r);
	EXPECT("RENAME: the old name is gone", &r, NFS3ERR_NOENT);
	v3_lookup(&t->nfs, &t->base, "renamed", &r);
	if (EXPECT("RENAME: the new name exists", &r, NFS3_OK)) {
		obj_attr(&t->nfs, &r, &b);
		check(b.fileid == a.fileid, "RENAME: the new name is the same file",
		      "fileid %" PRIu64 " want %" PRIu64, (uint64_t)b.fileid, (uint64_t)a.fileid);
	}
	v3_rename(&t->nfs, &t->base, "no-such-name", &t->base, "x", &r);
	EXPECT("RENAME of a missing name -> NOENT", &r, NFS3ERR_NOENT);
	if (make_dir(t, &t->base, "sub", 0755, &sub) != 0)
		return;
	v3_rename(&t->nfs, &t->base, "renamed", &sub, "moved", &r);
	EXPECT("RENAME into another directory", &r, NFS3_OK);
	rc = lstat_local(t, "sub/moved", &st) == 0 && lstat_local(t, "renamed", &st) != 0;
	check(rc, "RENAME into another directory moved the local file", "not moved");
	v3_mkfile(&t->nfs, &t->base, "victim", 0644, &r);
	v3_rename(&t->nfs, &t->base, "orig", &t->base, "victim", &r);
	EXPECT("RENAME over an existing file", &r, NFS3_OK);
	v3_lookup(&t->nfs, &t->base, "victim", &r);
	b.fileid = 0;
	if (r.stat == NFS3_OK)
		obj_attr(&t->nfs, &r, &b);
	check(b.fileid == a.fileid, "RENAME over an existing file replaces it",
	      "fileid %" PRIu64 " want %" PRIu64, (uint64_t)b.fileid, (uint64_t)a.fileid);
}

static void test_rename_errors(struct t *t)
{
	struct fh full, empty, sub;
	struct reply r;

	if (make_dir(t, &t->base, "full", 0755, &full) != 0 ||
	    make_dir(t, &t->base, "empty", 0755, &empty) != 0 ||
	    v3_lookup(&t->nfs, &t->base, "sub", &r) != NFS3_OK)
		return;
	sub = r.fh;
	v3_mkfile(&t->nfs, &full, "child", 0644, &r);
	v3_rename(&t->nfs, &t->base, "empty", &t->base, "full", &r);
	EXPECT("RENAME a directory over a non-empty directory -> NOTEMPTY or EXIST", &r,
	       NFS3ERR_NOTEMPTY, NFS3ERR_EXIST);
	v3_rename(&t->nfs, &t->base, "sub", &sub, "inner", &r);
	EXPECT("RENAME a directory into itself -> INVAL", &r, NFS3ERR_INVAL);
	v3_rename(&t->nfs, &t->base, "victim", &t->base, "full", &r);
	EXPECT("RENAME a file over a directory -> ISDIR or EXIST", &r, NFS3ERR_ISDIR,
	       NFS3ERR_EXIST);
	v3_rename(&t->nfs, &t->base, "full", &t->base, "victim", &r);
	EXPECT("RENAME a directory over a file -> NOTDIR or EXIST", &r, NFS3ERR_NOTDIR,
	       NFS3ERR_EXIST);
}

static void test_remove(struct t *t)
{
	int rc;
	struct reply r;
	struct stat st;
	char name[300];

	v3_remove(&t->nfs, &t->base, "victim", &r);
	EXPECT("REMOVE", &r, NFS3_OK);
	v3_lookup(&t->nfs, &t->base, "victim", &r);
	EXPECT("REMOVE: the name is gone", &r, NFS3ERR_NOENT);
	rc = lstat_local(t, "victim", &st) != 0 && errno == ENOENT;
	check(rc, "REMOVE: the local file is gone", "still there");
	v3_remove(&t->nfs, &t->base, "victim", &r);
	EXPECT("REMOVE of a missing name -> NOENT", &r, NFS3ERR_NOENT);
	v3_remove(&t->nfs, &t->base, "sub", &r);
	EXPECT("REMOVE of a directory -> ISDIR or INVAL", &r, NFS3ERR_ISDIR, NFS3ERR_INVAL);
	v3_remove(&t->nfs, &t->base, long_name(name, 256), &r);
	EXPECT("REMOVE with a 256-byte name -> NAMETOOLONG or NOENT", &r, NFS3ERR_NAMETOOLONG,
	       NFS3ERR_NOENT);
	v3_rmdir(&t->nfs, &t->base, "full", &r);
	EXPECT("RMDIR of a non-empty directory -> NOTEMPTY", &r, NFS3ERR_NOTEMPTY);
	v3_rmdir(&t->nfs, &t->base, "data", &r);
	EXPECT("RMDIR of a file -> NOTDIR", &r, NFS3ERR_NOTDIR);
	v3_rmdir(&t->nfs, &t->base, "no-such-dir", &r);
	EXPECT("RMDIR of a missing name -> NOENT", &r, NFS3ERR_NOENT);
	v3_rmdir(&t->nfs, &t->base, ".", &r);
	expect_err("RMDIR of \".\" is refused", &r);
	v3_remove(&t->nfs, &t->base, "..", &r);
	expect_err("REMOVE of \"..\" is refused", &r);
	v3_rmdir(&t->nfs, &t->base, "empty", &r);
	EXPECT("RMDIR", &r, NFS3_OK);
	rc = lstat_local(t, "empty", &st) != 0 && errno == ENOENT;
	check(rc, "RMDIR: the local directory is gone", "still there");
}

/* ------------------------------------------------------------------------------------ */
/* Type errors, bad and stale handles                                                   */
/* ------------------------------------------------------------------------------------ */

static void test_type_errors(struct t *t)
{
	static const char verf0[NFS3_COOKIEVERFSIZE];
	struct dirlist dl = {0};
	char buf[64];
	struct reply r;
	struct fh f;

	if (v3_lookup(&t->nfs, &t->base, "data", &r) != NFS3_OK)
		return;
	f = r.fh;
	v3_lookup(&t->nfs, &f, "x", &r);
	EXPECT("LOOKUP in a regular file -> NOTDIR", &r, NFS3ERR_NOTDIR);
	v3_mkdir(&t->nfs, &f, "x", 0755, &r);
	EXPECT("MKDIR in a regular file -> NOTDIR", &r, NFS3ERR_NOTDIR);
	v3_readdir(&t->nfs, &f, 0, verf0, 4096, &dl, &r);
	EXPECT("READDIR of a regular file -> NOTDIR", &r, NFS3ERR_NOTDIR);
	v3_read(&t->nfs, &t->base, 0, sizeof(buf), buf, &r);
	EXPECT("READ of a directory -> ISDIR or INVAL", &r, NFS3ERR_ISDIR, NFS3ERR_INVAL);
	v3_write(&t->nfs, &t->base, 0, "x", 1, FILE_SYNC, &r);
	EXPECT("WRITE to a directory -> ISDIR or INVAL", &r, NFS3ERR_ISDIR, NFS3ERR_INVAL);
	v3_readlink(&t->nfs, &t->base, buf, sizeof(buf), &r);
	EXPECT("READLINK of a directory -> INVAL", &r, NFS3ERR_INVAL);
	free(dl.v);
}

static void test_bad_handles(struct t *t)
{
	struct fh bad[4];
	const char *what[] = {"32 bytes of garbage", "64 bytes of 0xff", "an empty handle",
			      "a truncated root handle"};
	char name[200];
	struct reply r;

	memset(bad, 0, sizeof(bad));
	bad[0].len = 32;
	memset(bad[0].data, 0xab, 32);
	bad[1].len = 64;
	memset(bad[1].data, 0xff, 64);
	bad[2].len = 0;
	bad[3] = t->rw;
	bad[3].len = t->rw.len / 2;
	for (int i = 0; i < 4; i++) {
		v3_getattr(&t->nfs, &bad[i], &r);
		EXPECT(fmt(name, sizeof(name), "GETATTR of %s -> BADHANDLE or STALE", what[i]), &r,
		       NFS3ERR_BADHANDLE, NFS3ERR_STALE);
	}
	v3_lookup(&t->nfs, &bad[0], "x", &r);
	EXPECT("LOOKUP in a garbage handle -> BADHANDLE or STALE", &r, NFS3ERR_BADHANDLE,
	       NFS3ERR_STALE);
	v3_mkfile(&t->nfs, &bad[0], "x", 0644, &r);
	EXPECT("CREATE in a garbage handle -> BADHANDLE or STALE", &r, NFS3ERR_BADHANDLE,
	       NFS3ERR_STALE);
}

static void test_stale(struct t *t)
{
	char buf[16];
	struct reply r;
	struct fh f, d;

	if (make_file(t, &t->base, "doomed", 0644, "bye", &f) != 0 ||
	    make_dir(t, &t->base, "doomed-dir", 0755, &d) != 0)
		return;
	v3_getattr(&t->nfs, &f, &r);
	EXPECT("GETATTR before REMOVE", &r, NFS3_OK);
	v3_remove(&t->nfs, &t->base, "doomed", &r);
	v3_rmdir(&t->nfs, &t->base, "doomed-dir", &r);
	v3_getattr(&t->nfs, &f, &r);
	EXPECT("GETATTR of a removed file -> STALE", &r, NFS3ERR_STALE);
	v3_read(&t->nfs, &f, 0, sizeof(buf), buf, &r);
	EXPECT("READ of a removed file -> STALE", &r, NFS3ERR_STALE);
	v3_write(&t->nfs, &f, 0, "x", 1, FILE_SYNC, &r);
	EXPECT("WRITE to a removed file -> STALE", &r, NFS3ERR_STALE);
	v3_getattr(&t->nfs, &d, &r);
	EXPECT("GETATTR of a removed directory -> STALE", &r, NFS3ERR_STALE);
	v3_mkfile(&t->nfs, &d, "x", 0644, &r);
	EXPECT("CREATE in a removed directory -> STALE", &r, NFS3ERR_STALE);
}

/* ------------------------------------------------------------------------------------ */
/* READDIR and READDIRPLUS of a large directory                                         */
/* ------------------------------------------------------------------------------------ */

/* Fill dir with e0000..e(n-1), BATCH CREATE calls in flight at a time. */
static int create_many(struct conn *c, struct fh *dir, int n, char *why, size_t wsz)
{
	struct reply *rs = calloc(BATCH, sizeof(*rs));
	int bad = 0;

	for (int start = 0; rs != NULL && start < n && c->rpc != NULL; start += BATCH) {
		int k = n - start < BATCH ? n - start : BATCH;

		for (int i = 0; i < k; i++) {
			char nb[16];
			sattr3 sa = sa_mode(0644);
			CREATE3args a;

			create_args(&a, dir, fmt(nb, sizeof(nb), "e%04d", start + i), GUARDED, &sa,
				    NULL);
			reply_init(&rs[i]);
			if (rpc_nfs3_create_async(c->rpc, cb_create, &a, &rs[i]) != 0) {
				rs[i].done = 1;
				fmt(rs[i].err, sizeof(rs[i].err), "not sent");
			}
		}
		wait_replies(c, rs, k);
		for (int i = 0; i < k; i++) {
			if (rs[i].stat != NFS3_OK && bad++ == 0)
				describe(&rs[i], why, wsz);
		}
	}
	free(rs);
	return rs == NULL ? -1 : bad;
}

/* List a directory to the end, passing back each reply's last cookie and cookieverf. */
static int list_dir(struct t *t, struct fh *dir, int plus, uint32_t count, struct dirlist *dl,
		    int *calls, char *why, size_t wsz)
{
	char verf[NFS3_COOKIEVERFSIZE] = {0};
	uint64_t cookie = 0;
	int empty = 0;
	struct reply r;

	for (*calls = 1; *calls <= MAX_DIR_CALLS; (*calls)++) {
		int before = dl->n;

		if (plus)
			v3_readdirplus(&t->nfs, dir, cookie, verf, count / 4, count, dl, &r);
		else
			v3_readdir(&t->nfs, dir, cookie, verf, count, dl, &r);
		if (r.stat != NFS3_OK) {
			describe(&r, why, wsz);
			return -1;
		}
		memcpy(verf, r.verf, sizeof(verf));
		if (dl->n > before)
			cookie = dl->v[dl->n - 1].cookie;
		if (r.eof)
			return 0;
		if (dl->n == before && ++empty >= 3) {
			fmt(why, wsz, "no entries and no eof, 3 times in a row");
			return -1;
		}
	}
	fmt(why, wsz, "no eof after %d calls", MAX_DIR_CALLS);
	return -1;
}

/* Every e#### exactly once, "." and ".." at most once, nothing else. */
static void check_big_listing(const char *label, const struct dirlist *dl, int n)
{
	unsigned char *seen = calloc((size_t)n, 1);
	int dup = 0, other = 0, dots = 0, missing = 0;
	char name[200], first_bad[NAME_BUF + 16] = "";

	for (int i = 0; seen != NULL && i < dl->n; i++) {
		const char *s = dl->v[i].name;
		char *end;
		long k = s[0] == 'e' ? strtol(s + 1, &end, 10) : -1;

		if (is_dot(s)) {
			dots++;
		} else if (k >= 0 && k < n && *end == '\0' && strlen(s) == 5) {
			if (seen[k]++ && dup++ == 0)
				fmt(first_bad, sizeof(first_bad), "duplicate %s", s);
		} else if (other++ == 0) {
			fmt(first_bad, sizeof(first_bad), "unexpected \"%s\"", s);
		}
	}
	for (int i = 0; seen != NULL && i < n; i++)
		missing += !seen[i];
	check(seen != NULL && !dl->oom && dup == 0 && other == 0 && missing == 0 && dots <= 2,
	      fmt(name, sizeof(name), "%s lists all %d entries exactly once", label, n),
	      "%d entries: %d missing, %d duplicates, %d unexpected, %d dot entries; %s", dl->n,
	      missing, dup, other, dots, first_bad);
	free(seen);
}

static void check_plus_entries(struct t *t, const struct dirlist *dl)
{
	int no_attr = 0, no_fh = 0, mismatch = 0, sample = -1;
	fattr3 a;

	for (int i = 0; i < dl->n; i++) {
		const struct dent *e = &dl->v[i];

		if (is_dot(e->name))
			continue;
		no_attr += !e->has_attr;
		no_fh += !e->has_fh;
		mismatch += e->has_attr && e->attr.fileid != e->fileid;
		if (e->has_fh && strcmp(e->name, "e1234") == 0)
			sample = i;
	}
	check(no_attr == 0 && no_fh == 0,
	      "READDIRPLUS returns attributes and a handle for every entry",
	      "%d without attributes, %d without handle", no_attr, no_fh);
	check(mismatch == 0, "READDIRPLUS entry fileids match their attributes", "%d mismatches",
	      mismatch);
	if (sample < 0) {
		fail("READDIRPLUS handle of e1234 works", "no handle for e1234");
		return;
	}
	get_attr(&t->nfs, &dl->v[sample].fh, &a);
	check(a.fileid == dl->v[sample].fileid && a.type == NF3REG,
	      "READDIRPLUS handle of e1234 works", "fileid %" PRIu64 " want %" PRIu64,
	      (uint64_t)a.fileid, (uint64_t)dl->v[sample].fileid);
}

static void test_readdir_big(struct t *t)
{
	struct dirlist dl = {0};
	char why[400] = "", name[200];
	int calls, bad;
	struct fh big;

	if (make_dir(t, &t->base, "big", 0755, &big) != 0)
		return;
	bad = create_many(&t->nfs, &big, BIG_N, why, sizeof(why));
	if (!check(bad == 0, "CREATE 5000 files, 64 calls in flight", "%d failed, first: %s", bad,
		   why))
		return;
	for (int plus = 0; plus <= 1; plus++) {
		const char *label = plus ? "READDIRPLUS" : "READDIR";

		dl.n = 0;
		dl.max_reply = 0;
		if (list_dir(t, &big, plus, plus ? 4096 : 1024, &dl, &calls, why, sizeof(why))) {
			fail(fmt(name, sizeof(name), "%s of 5000 entries", label), "%s", why);
			continue;
		}
		check(calls >= 10,
		      fmt(name, sizeof(name), "%s with a small count takes many calls", label),
		      "%d calls", calls);
		check(dl.max_reply <= (plus ? 4096u : 1024u),
		      fmt(name, sizeof(name), "%s replies fit in %s (%u bytes)", label,
			  plus ? "maxcount" : "count", plus ? 4096u : 1024u),
		      "largest reply %zu bytes", dl.max_reply);
		check_big_listing(label, &dl, BIG_N);
		if (plus)
			check_plus_entries(t, &dl);
	}
	free(dl.v);
}

/* A small directory listed over NFS equals its local listing. */
/* Names of the local directory (without "." and ".."), one per line after a newline. */
static int local_names(const char *path, char *out, size_t size, int *n)
{
	struct dirent *de;
	size_t off = 1;
	DIR *d = opendir(path);

	*n = 0;
	fmt(out, size, "\n");
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (is_dot(de->d_name))
			continue;
		fmt(out + off, size - off, "%s\n", de->d_name);
		off += strlen(out + off);
		(*n)++;
	}
	if (d != NULL)
		closedir(d);
	return d != NULL ? 0 : -1;
}

/* A small directory listed over NFS has exactly the local directory's names. The RFC
 * lets a server leave out "." and "..", so they are not compared. */
static void test_readdir_small(struct t *t)
{
	static const char verf0[NFS3_COOKIEVERFSIZE];
	static char names[64 * 1024];
	struct dirlist dl = {0};
	int calls, local_n, nfs_n = 0, unknown = 0;
	char why[400] = "", first[NAME_BUF] = "";
	struct reply r;

	if (list_dir(t, &t->base, 0, 8192, &dl, &calls, why, sizeof(why)) != 0) {
		fail("READDIR of the test directory", "%s", why);
		return;
	}
	local_names(t->base_local, names, sizeof(names), &local_n);
	for (int i = 0; i < dl.n; i++) {
		if (is_dot(dl.v[i].name))
			continue;
		nfs_n++;
		if (!list_has(names, dl.v[i].name) && unknown++ == 0)
			fmt(first, sizeof(first), "%s", dl.v[i].name);
	}
	check(nfs_n == local_n && unknown == 0,
	      "READDIR lists the same names as the local directory",
	      "%d names over NFS, %d locally, %d not local (first: %s)", nfs_n, local_n, unknown,
	      first);
	dl.n = 0;
	v3_readdir(&t->nfs, &t->base, 0, verf0, 8, &dl, &r);
	check(r.stat == NFS3ERR_TOOSMALL || (r.stat == NFS3_OK && (dl.n > 0 || r.eof)),
	      "READDIR with count 8: TOOSMALL, or a reply that makes progress",
	      "stat %d, %d entries, eof %u", r.stat, dl.n, r.eof);
	free(dl.v);
}

/* ------------------------------------------------------------------------------------ */
/* Credentials: a non-root uid on the no_root_squash export                             */
/* ------------------------------------------------------------------------------------ */

static int user_setup(struct t *t, struct fh *priv, struct fh *pub, struct fh *rootfile,
		      struct fh *secret)
{
	struct reply r;

	if (make_dir(t, &t->base, "private", 0700, priv) != 0 ||
	    make_dir(t, &t->base, "pub", 0777, pub) != 0 ||
	    make_file(t, &t->base, "rootfile", 0644, "root's", rootfile) != 0 ||
	    make_file(t, &t->base, "secret", 0600, "secret", secret) != 0)
		return -1;
	v3_setattr(&t->nfs, pub, sa_mode(0777), NULL, &r); /* in case a umask applied */
	return 0;
}

static void test_user_denied(struct t *t, struct fh *priv, struct fh *rootfile, struct fh *secret)
{
	char buf[16];
	struct reply r;

	v3_mkfile(&t->nfs, priv, "x", 0644, &r);
	EXPECT("uid 1000: CREATE in root's 0700 directory -> ACCES", &r, NFS3ERR_ACCES);
	v3_lookup(&t->nfs, priv, "x", &r);
	EXPECT("uid 1000: LOOKUP in root's 0700 directory -> ACCES", &r, NFS3ERR_ACCES);
	v3_mkfile(&t->nfs, &t->base, "userfile", 0644, &r);
	EXPECT("uid 1000: CREATE in root's 0755 directory -> ACCES", &r, NFS3ERR_ACCES);
	v3_read(&t->nfs, secret, 0, sizeof(buf), buf, &r);
	EXPECT("uid 1000: READ of root's 0600 file -> ACCES", &r, NFS3ERR_ACCES);
	v3_write(&t->nfs, rootfile, 0, "x", 1, FILE_SYNC, &r);
	EXPECT("uid 1000: WRITE to root's 0644 file -> ACCES", &r, NFS3ERR_ACCES);
	v3_setattr(&t->nfs, rootfile, sa_mode(0666), NULL, &r);
	EXPECT("uid 1000: SETATTR mode of root's file -> PERM", &r, NFS3ERR_PERM);
	v3_remove(&t->nfs, &t->base, "rootfile", &r);
	EXPECT("uid 1000: REMOVE in root's 0755 directory -> ACCES", &r, NFS3ERR_ACCES);
	v3_access(&t->nfs, priv, ACC_ALL, &r);
	if (EXPECT("uid 1000: ACCESS on root's 0700 directory", &r, NFS3_OK))
		check(r.access == 0, "uid 1000: ACCESS grants nothing on root's 0700 directory",
		      "got 0x%x", r.access);
	v3_access(&t->nfs, &t->base, ACC_ALL, &r);
	check(r.stat == NFS3_OK &&
		  (r.access & (ACCESS3_READ | ACCESS3_LOOKUP)) == (ACCESS3_READ | ACCESS3_LOOKUP) &&
		  !(r.access & (ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE)),
	      "uid 1000: ACCESS on root's 0755 directory grants read+lookup only",
	      "stat %d access 0x%x", r.stat, r.access);
}

static void test_user_allowed(struct t *t, struct fh *pub)
{
	struct reply r;
	struct stat st;
	struct fh f;
	sattr3 sa = sa_none();
	fattr3 a;

	v3_mkfile(&t->nfs, pub, "userfile", 0644, &r);
	if (!EXPECT("uid 1000: CREATE in a 0777 directory", &r, NFS3_OK) ||
	    obj_fh(&t->nfs, pub, "userfile", &r, &f) != 0)
		return;
	obj_attr(&t->nfs, &r, &a);
	check(a.uid == USER_UID && a.gid == USER_GID,
	      "uid 1000: the new file is owned by 1000:1000", "owner %u:%u", a.uid, a.gid);
	lstat_local(t, "pub/userfile", &st);
	check(st.st_ino != 0 && st.st_uid == USER_UID && st.st_gid == USER_GID,
	      "uid 1000: the local file is owned by 1000:1000", "owner %d:%d", (int)st.st_uid,
	      (int)st.st_gid);
	v3_access(&t->nfs, &f, ACC_RW, &r);
	check(r.stat == NFS3_OK && r.access == ACC_RW,
	      "uid 1000: ACCESS read+write on its own file", "stat %d access 0x%x", r.stat,
	      r.access);
	v3_setattr(&t->nfs, &f, sa_mode(0600), NULL, &r);
	EXPECT("uid 1000: SETATTR mode of its own file", &r, NFS3_OK);
	sa.uid.set_it = 1;
	sa.uid.set_uid3_u.uid = 0;
	v3_setattr(&t->nfs, &f, sa, NULL, &r);
	EXPECT("uid 1000: SETATTR giving its file to root -> PERM", &r, NFS3ERR_PERM);
}

static void test_user(struct t *t)
{
	struct fh priv, pub, rootfile, secret;

	if (user_setup(t, &priv, &pub, &rootfile, &secret) != 0)
		return;
	conn_cred(&t->nfs, USER_UID, USER_GID);
	test_user_denied(t, &priv, &rootfile, &secret);
	test_user_allowed(t, &pub);
	conn_cred(&t->nfs, 0, 0);
}

/* ------------------------------------------------------------------------------------ */
/* The read-only export                                                                 */
/* ------------------------------------------------------------------------------------ */

/* Operation i of the read-only table; returns its name, or NULL past the end. */
static const char *ro_op(struct t *t, int i, struct fh *f, struct reply *r)
{
	switch (i) {
	case 0:
		v3_mkfile(&t->nfs, &t->ro, "new", 0644, r);
		return "CREATE";
	case 1:
		v3_mkdir(&t->nfs, &t->ro, "newdir", 0755, r);
		return "MKDIR";
	case 2:
		v3_write(&t->nfs, f, 0, "x", 1, FILE_SYNC, r);
		return "WRITE";
	case 3:
		v3_setattr(&t->nfs, f, sa_mode(0666), NULL, r);
		return "SETATTR";
	case 4:
		v3_remove(&t->nfs, &t->ro, "readme.txt", r);
		return "REMOVE";
	case 5:
		v3_rename(&t->nfs, &t->ro, "readme.txt", &t->ro, "moved", r);
		return "RENAME";
	case 6:
		v3_symlink(&t->nfs, &t->ro, "link", "readme.txt", r);
		return "SYMLINK";
	case 7:
		v3_link(&t->nfs, f, &t->ro, "hard", r);
		return "LINK";
	case 8:
		v3_mknod(&t->nfs, &t->ro, "fifo", NF3FIFO, 0644, 0, 0, r);
		return "MKNOD";
	default:
		return NULL;
	}
}

static void test_ro_refusals(struct t *t, struct fh *f)
{
	const char *what;
	char name[200];
	struct reply r;

	for (int i = 0; (what = ro_op(t, i, f, &r)) != NULL; i++)
		EXPECT(fmt(name, sizeof(name), "read-only export: %s -> ROFS", what), &r,
		       NFS3ERR_ROFS);
}

static void test_ro(struct t *t)
{
	char want[8192], buf[8192], p[PATH_MAX];
	struct reply r;
	struct stat st;
	size_t len;
	struct fh f;

	if (!t->have_ro) {
		skip("read-only export checks", "no ro export (TWINFS_ONLY_RW)");
		return;
	}
	test_root_dotdot(t, &t->ro, "ro");
	v3_lookup(&t->nfs, &t->ro, "readme.txt", &r);
	if (!EXPECT("read-only export: LOOKUP readme.txt", &r, NFS3_OK))
		return;
	f = r.fh;
	read_local(fmt(p, sizeof(p), "%s/readme.txt", cfg.ro_path), want, sizeof(want), &len);
	v3_read(&t->nfs, &f, 0, sizeof(buf), buf, &r);
	check(r.stat == NFS3_OK && r.count == len && memcmp(buf, want, len) == 0,
	      "read-only export: READ returns the file's content", "stat %d count %u want %zu",
	      r.stat, r.count, len);
	test_ro_refusals(t, &f);
	v3_access(&t->nfs, &f, ACC_RW, &r);
	check(r.stat == NFS3_OK && (r.access & ACCESS3_READ) &&
		  !(r.access & (ACCESS3_MODIFY | ACCESS3_EXTEND)),
	      "read-only export: ACCESS grants read but not modify/extend", "stat %d access 0x%x",
	      r.stat, r.access);
	len = lstat(fmt(p, sizeof(p), "%s/new", cfg.ro_path), &st) != 0 &&
	      lstat(fmt(buf, sizeof(buf), "%s/readme.txt", cfg.ro_path), &st) == 0;
	check(len, "read-only export: nothing changed locally",
	      "new file exists or readme.txt gone");
}

/* ------------------------------------------------------------------------------------ */
/* The root_squash export                                                               */
/* ------------------------------------------------------------------------------------ */

static void test_squash_anon(struct t *t, const char *pubname)
{
	char p[PATH_MAX];
	struct reply r;
	struct stat st;
	struct fh pub, f;

	v3_lookup(&t->nfs, &t->sq, pubname, &r);
	if (!EXPECT("root_squash: LOOKUP of a 0777 directory", &r, NFS3_OK))
		return;
	pub = r.fh;
	v3_mkfile(&t->nfs, &pub, "byroot", 0644, &r);
	if (EXPECT("root_squash: uid 0 may CREATE in a 0777 directory", &r, NFS3_OK)) {
		fmt(p, sizeof(p), "%s/%s/byroot", cfg.sq_path, pubname);
		memset(&st, 0, sizeof(st));
		lstat(p, &st);
		check(st.st_ino != 0 && st.st_uid == ANON_ID,
		      "root_squash: uid 0's new file is owned by anon uid 65534", "owner %d",
		      (int)st.st_uid);
		check(st.st_gid == ANON_ID, "root_squash: uid 0's new file has anon gid 65534",
		      "group %d", (int)st.st_gid);
	}
	conn_cred(&t->nfs, USER_UID, USER_GID);
	v3_mkfile(&t->nfs, &pub, "byuser", 0644, &r);
	obj_fh(&t->nfs, &pub, "byuser", &r, &f);
	conn_cred(&t->nfs, 0, 0);
	if (EXPECT("root_squash: uid 1000 may CREATE in a 0777 directory", &r, NFS3_OK)) {
		fmt(p, sizeof(p), "%s/%s/byuser", cfg.sq_path, pubname);
		memset(&st, 0, sizeof(st));
		lstat(p, &st);
		check(st.st_ino != 0 && st.st_uid == USER_UID,
		      "root_squash: uid 1000 is not squashed", "owner %d", (int)st.st_uid);
		v3_setattr(&t->nfs, &f, sa_mode(0666), NULL, &r);
		EXPECT("root_squash: squashed uid 0 may not chmod uid 1000's file -> PERM", &r,
		       NFS3ERR_PERM);
	}
}

static void test_squash(struct t *t)
{
	char pubname[64], p[PATH_MAX];
	struct reply r;

	if (!t->have_sq) {
		skip("root_squash export checks", "no squash export (TWINFS_ONLY_RW)");
		return;
	}
	v3_getattr(&t->nfs, &t->sq, &r);
	EXPECT("root_squash: GETATTR of the root as uid 0", &r, NFS3_OK);
	test_root_dotdot(t, &t->sq, "squash");
	v3_mkfile(&t->nfs, &t->sq, "rootfile", 0644, &r);
	EXPECT("root_squash: uid 0 CREATE in root's 0755 directory -> ACCES", &r, NFS3ERR_ACCES);
	v3_mkdir(&t->nfs, &t->sq, "rootdir", 0755, &r);
	EXPECT("root_squash: uid 0 MKDIR in root's 0755 directory -> ACCES", &r, NFS3ERR_ACCES);
	conn_cred(&t->nfs, USER_UID, USER_GID);
	v3_mkfile(&t->nfs, &t->sq, "userfile", 0644, &r);
	conn_cred(&t->nfs, 0, 0);
	EXPECT("root_squash: uid 1000 CREATE in root's 0755 directory -> ACCES", &r, NFS3ERR_ACCES);
	/* A world-writable directory, made locally before the server has seen it. */
	fmt(pubname, sizeof(pubname), "pub-%d", (int)getpid());
	fmt(p, sizeof(p), "%s/%s", cfg.sq_path, pubname);
	if (mkdir(p, 0777) != 0 || chmod(p, 0777) != 0) {
		fail("root_squash: local setup", "mkdir %s: %s", p, strerror(errno));
		return;
	}
	test_squash_anon(t, pubname);
}

/* ------------------------------------------------------------------------------------ */
/* Client address lists: requests from 127.0.0.2                                        */
/* ------------------------------------------------------------------------------------ */

static int open_from(struct conn *c, const char *label, int port, int prog, int vers)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char name[200], addr[INET_ADDRSTRLEN] = "?";

	conn_init(c, label, port, prog, vers, "127.0.0.2");
	if (conn_open(c) != 0) {
		fail(fmt(name, sizeof(name), "connect to %s from 127.0.0.2", label), "%s", c->err);
		return -1;
	}
	if (getsockname(rpc_get_fd(c->rpc), (struct sockaddr *)&sa, &len) == 0)
		inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
	if (!check(strcmp(addr, "127.0.0.2") == 0,
		   fmt(name, sizeof(name), "%s connection comes from 127.0.0.2", label), "from %s",
		   addr)) {
		conn_close(c);
		return -1;
	}
	return 0;
}

static int exists_in(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	return lstat(fmt(p, sizeof(p), "%s/%s", dir, name), &st) == 0;
}

static void limited_mount_from_other(struct t *t)
{
	struct conn m;
	struct reply r;

	if (open_from(&m, "MOUNT", cfg.mnt_port, MOUNT_PROGRAM, MOUNT_V3) != 0)
		return;
	mnt_mnt(&m, cfg.rw_path, &r);
	EXPECT("MNT of the 127.0.0.0/8 export from 127.0.0.2 (control)", &r, MNT3_OK);
	mnt_umnt(&m, cfg.rw_path, &r);
	EXPECT("UMNT from 127.0.0.2", &r, 0);
	if (t->have_lim) {
		mnt_mnt(&m, cfg.lim_path, &r);
		EXPECT("MNT of the 127.0.0.1-only export from 127.0.0.2 -> ACCES", &r,
		       MNT3ERR_ACCES);
	}
	conn_close(&m);
}

/* RENAME and LINK carry two handles: the target directory's export must be checked too. */
static void limited_two_handles(struct t *t, struct conn *n, struct fh *f)
{
	struct reply r;

	v3_lookup(n, &t->lim, "x", &r);
	EXPECT("LOOKUP in the 127.0.0.1-only export from 127.0.0.2 -> ACCES or PERM", &r,
	       NFS3ERR_ACCES, NFS3ERR_PERM);
	v3_mkfile(n, &t->lim, "planted", 0644, &r);
	EXPECT("CREATE in the 127.0.0.1-only export from 127.0.0.2 -> ACCES or PERM", &r,
	       NFS3ERR_ACCES, NFS3ERR_PERM);
	v3_rename(n, &t->base, "xsrc", &t->lim, "moved-in", &r);
	expect_err("RENAME into the 127.0.0.1-only export from 127.0.0.2 is refused", &r);
	v3_link(n, f, &t->lim, "linked-in", &r);
	expect_err("LINK into the 127.0.0.1-only export from 127.0.0.2 is refused", &r);
	check(!exists_in(cfg.lim_path, "planted") && !exists_in(cfg.lim_path, "moved-in") &&
		  !exists_in(cfg.lim_path, "linked-in"),
	      "nothing from 127.0.0.2 arrived in the 127.0.0.1-only export", "a file arrived in %s",
	      cfg.lim_path);
}

static void limited_nfs_from_other(struct t *t, struct fh *f)
{
	struct conn n;
	struct reply r;

	if (open_from(&n, "NFS", cfg.nfs_port, NFS_PROGRAM, NFS_V3) != 0)
		return;
	v3_getattr(&n, &t->rw, &r);
	EXPECT("GETATTR in the 127.0.0.0/8 export from 127.0.0.2 (control)", &r, NFS3_OK);
	if (t->have_lim) {
		v3_getattr(&n, &t->lim, &r);
		EXPECT("GETATTR in the 127.0.0.1-only export from 127.0.0.2 -> ACCES or PERM", &r,
		       NFS3ERR_ACCES, NFS3ERR_PERM);
		limited_two_handles(t, &n, f);
	}
	conn_close(&n);
}

/* Between two exports (same local file system) RENAME and LINK give XDEV, as knfsd does. */
static void test_cross_export(struct t *t, struct fh *f)
{
	struct reply r;

	v3_rename(&t->nfs, &t->base, "xsrc", &t->lim, "moved-in", &r);
	EXPECT("RENAME from the rw export into another export -> XDEV", &r, NFS3ERR_XDEV);
	v3_link(&t->nfs, f, &t->lim, "linked-in", &r);
	EXPECT("LINK from the rw export into another export -> XDEV", &r, NFS3ERR_XDEV);
	check(!exists_in(cfg.lim_path, "moved-in") && !exists_in(cfg.lim_path, "linked-in") &&
		  exists_in(t->base_local, "xsrc"),
	      "nothing moved between exports", "xsrc moved or linked into %s", cfg.lim_path);
}

static void test_limited(struct t *t)
{
	struct reply r;
	struct fh f;

	if (make_file(t, &t->base, "xsrc", 0644, "cross", &f) != 0)
		return;
	limited_mount_from_other(t);
	limited_nfs_from_other(t, &f);
	if (!t->have_lim) {
		skip("127.0.0.1-only export checks", "no limited export (TWINFS_ONLY_RW)");
		return;
	}
	v3_getattr(&t->nfs, &t->lim, &r);
	EXPECT("GETATTR in the 127.0.0.1-only export from 127.0.0.1 (control)", &r, NFS3_OK);
	test_root_dotdot(t, &t->lim, "limited");
	test_cross_export(t, &f);
}

/* ------------------------------------------------------------------------------------ */

static void run_nfs_tests(struct t *t)
{
	test_fs_info(t);
	test_fsstat_pathconf(t);
	test_root_dotdot(t, &t->rw, "rw");
	test_base_dir(t);
	test_create_unchecked(t);
	test_create_guarded(t);
	test_create_exclusive(t);
	test_create_names(t);
	test_write_read(t);
	test_setattr(t);
	test_access_root(t);
	test_symlink(t);
	test_mknod(t);
	test_link(t);
	test_rename_basic(t);
	test_rename_errors(t);
	test_remove(t);
	test_type_errors(t);
	test_bad_handles(t);
	test_stale(t);
	test_user(t);
	test_readdir_small(t);
	test_readdir_big(t);
	test_ro(t);
	test_squash(t);
	test_limited(t);
}

int main(void)
{
	static struct t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(TOTAL_TIMEOUT_S);
	load_config();
	conn_init(&t.mnt, "MOUNT", cfg.mnt_port, MOUNT_PROGRAM, MOUNT_V3, NULL);
	conn_init(&t.nfs, "NFS", cfg.nfs_port, NFS_PROGRAM, NFS_V3, NULL);
	if (conn_open(&t.mnt) != 0 || conn_open(&t.nfs) != 0) {
		fail("connect", "%s%s", t.mnt.err, t.nfs.err);
		summary_and_exit();
	}
	test_mount_export(&t);
	test_mount_mnt(&t);
	test_mount_dump(&t, 1, "after MNT");
	run_nfs_tests(&t);
	test_mount_unmount(&t);
	conn_close(&t.nfs);
	conn_close(&t.mnt);
	summary_and_exit();
	return 0;
}
