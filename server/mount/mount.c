#include "server/mount/mount.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log/log.h"
#include "server/server.h"
#include "server/xdr/mount3_prot.h"

#define MOUNT_PROGRAM	100005
#define MOUNT_VERSION	3
#define AUTH_SYS_FLAVOR 1

struct mount_entry {
	char host[INET6_ADDRSTRLEN];
	char dir[MNTPATHLEN + 1];
};

struct mount_table {
	pthread_mutex_t lock;
	unsigned count;
	struct mount_entry entries[MOUNT_TABLE_MAX];
};

struct mount_table *mount_table_new(void)
{
	struct mount_table *t = calloc(1, sizeof(*t));
	if (t)
		pthread_mutex_init(&t->lock, NULL);
	return t;
}

void mount_table_free(struct mount_table *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

unsigned mount_table_count(struct mount_table *t)
{
	pthread_mutex_lock(&t->lock);
	unsigned n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void host_string(const struct sockaddr *sa, char *out, size_t len)
{
	const void *addr = sa->sa_family == AF_INET6
			       ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
			       : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if (!inet_ntop(sa->sa_family, addr, out, (socklen_t)len))
		snprintf(out, len, "?");
}

static void mount_record(struct mount_table *t, const char *host, const char *dir)
{
	pthread_mutex_lock(&t->lock);
	bool found = false;
	for (unsigned i = 0; i < t->count && !found; i++)
		found = !strcmp(t->entries[i].host, host) && !strcmp(t->entries[i].dir, dir);
	/* Full: the list is advisory (RFC 1813 Appendix I), so the mount still works. */
	if (!found && t->count < MOUNT_TABLE_MAX) {
		struct mount_entry *e = &t->entries[t->count++];
		snprintf(e->host, sizeof(e->host), "%s", host);
		snprintf(e->dir, sizeof(e->dir), "%s", dir);
	}
	pthread_mutex_unlock(&t->lock);
}

/* Removes the host's entries for dir, or all of them when dir is NULL. */
static void mount_forget(struct mount_table *t, const char *host, const char *dir)
{
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->count;) {
		struct mount_entry *e = &t->entries[i];
		if (!strcmp(e->host, host) && (!dir || !strcmp(e->dir, dir)))
			*e = t->entries[--t->count];
		else
			i++;
	}
	pthread_mutex_unlock(&t->lock);
}

/* The export containing `path` and the rest of the path below its root. */
static const struct export *mount_find(const struct export_table *t, const char *path,
				       const char **rest)
{
	const struct export *best = NULL;
	size_t bestlen = 0;
	for (unsigned i = 0; i < export_count(t); i++) {
		const struct export *e = export_at(t, i);
		const char *cands[2] = {export_config(e)->path, export_config(e)->pseudo};
		for (int c = 0; c < 2; c++) {
			size_t n = strlen(cands[c]);
			while (n > 1 && cands[c][n - 1] == '/')
				n--;
			bool match = !strncmp(path, cands[c], n) &&
				     (path[n] == '\0' || path[n] == '/' || n == 1);
			if (match && n > bestlen) {
				best = e;
				bestlen = n;
			}
		}
	}
	*rest = best ? path + bestlen : NULL;
	return best;
}

/* Walks the components below the export root, refusing anything but directories;
 * lookups never follow symlinks, so a mount cannot leave the export. */
static int mount_walk(struct fsobj *obj, const struct fsal_cred *cred, const char *rest)
{
	char comp[FSAL_NAME_MAX + 1];
	while (*rest) {
		while (*rest == '/')
			rest++;
		size_t n = strcspn(rest, "/");
		if (n == 0)
			break;
		if (n > FSAL_NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(comp, rest, n);
		comp[n] = '\0';
		rest += n;
		struct fsal_key next;
		int rc = obj->ops->lookup(obj->fs, cred, &obj->key, comp, &next);
		if (rc < 0)
			return rc;
		obj->key = next;
		struct fsal_attr a;
		rc = obj->ops->getattr(obj->fs, &obj->key, &a);
		if (rc < 0)
			return rc;
		if (a.type != FSAL_DIR)
			return -ENOTDIR;
	}
	return 0;
}

static mountstat3 mount_errno(int rc)
{
	switch (-rc) {
	case 0:
		return MNT3_OK;
	case ENOENT:
	case ESTALE:
		return MNT3ERR_NOENT;
	case EACCES:
	case EPERM:
		return MNT3ERR_ACCES;
	case ENOTDIR:
		return MNT3ERR_NOTDIR;
	case ENAMETOOLONG:
		return MNT3ERR_NAMETOOLONG;
	default:
		return MNT3ERR_IO;
	}
}

static mountstat3 mount_resolve(struct req_ctx *ctx, const char *path, struct fsobj *obj)
{
	const char *rest;
	char host[INET6_ADDRSTRLEN];
	const struct export *e = mount_find(ctx->srv->exports, path, &rest);
	if (!e)
		return MNT3ERR_NOENT;
	if (export_client_access(e, ctx->remote) == EXPORT_DENIED) {
		host_string(ctx->remote, host, sizeof(host));
		log_info("mount of %s refused for %s: not in the export's client list", path, host);
		return MNT3ERR_ACCES;
	}
	struct fsal_cred cred;
	export_squash(e, ctx->flavor == RPC_AUTH_SYS, &ctx->cred, &cred);
	export_root(e, obj);
	return mount_errno(mount_walk(obj, &cred, rest));
}

static void mount_null(struct req_ctx *ctx, void *args, void *res)
{
	(void)ctx;
	(void)args;
	(void)res;
}

static void mount_mnt(struct req_ctx *ctx, void *argp, void *resp)
{
	dirpath *path = argp;
	mountres3 *res = resp;
	struct fsobj obj;
	char host[INET6_ADDRSTRLEN];

	res->fhs_status = *path ? mount_resolve(ctx, *path, &obj) : MNT3ERR_INVAL;
	if (res->fhs_status != MNT3_OK)
		return;
	mountres3_ok *ok = &res->mountres3_u.mountinfo;
	uint8_t *fh = arena_alloc(ctx->arena, EXPORT_FH_MAX);
	int *flavors = arena_alloc(ctx->arena, sizeof(int));
	if (!fh || !flavors) {
		res->fhs_status = MNT3ERR_SERVERFAULT;
		return;
	}
	ok->fhandle.fhandle3_len = (u_int)export_fh_encode(ctx->srv->exports, &obj, fh);
	ok->fhandle.fhandle3_val = (char *)fh;
	flavors[0] = AUTH_SYS_FLAVOR;
	ok->auth_flavors.auth_flavors_len = 1;
	ok->auth_flavors.auth_flavors_val = flavors;
	host_string(ctx->remote, host, sizeof(host));
	mount_record(ctx->srv->mounts, host, *path);
}

static void mount_umnt(struct req_ctx *ctx, void *argp, void *resp)
{
	dirpath *path = argp;
	char host[INET6_ADDRSTRLEN];
	(void)resp;
	host_string(ctx->remote, host, sizeof(host));
	if (*path)
		mount_forget(ctx->srv->mounts, host, *path);
}

static void mount_umntall(struct req_ctx *ctx, void *argp, void *resp)
{
	char host[INET6_ADDRSTRLEN];
	(void)argp;
	(void)resp;
	host_string(ctx->remote, host, sizeof(host));
	mount_forget(ctx->srv->mounts, host, NULL);
}

static char *arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

static void mount_dump(struct req_ctx *ctx, void *argp, void *resp)
{
	mountlist *res = resp;
	struct mount_table *t = ctx->srv->mounts;
	(void)argp;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->count; i++) {
		struct mountbody *b = arena_alloc(ctx->arena, sizeof(*b));
		if (!b)
			break;
		b->ml_hostname = arena_strdup(ctx->arena, t->entries[i].host);
		b->ml_directory = arena_strdup(ctx->arena, t->entries[i].dir);
		if (!b->ml_hostname || !b->ml_directory)
			break;
		b->ml_next = *res;
		*res = b;
	}
	pthread_mutex_unlock(&t->lock);
}

static void client_string(const struct config_client *c, char *out, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	if (c->prefix == 0) {
		snprintf(out, len, "*");
		return;
	}
	inet_ntop(c->family, c->addr, addr, sizeof(addr));
	unsigned full = c->family == AF_INET ? 32 : 128;
	if (c->prefix == full)
		snprintf(out, len, "%s", addr);
	else
		snprintf(out, len, "%s/%u", addr, c->prefix);
}

static struct exportnode *mount_export_node(struct arena *a, const struct config_export *cfg)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct exportnode *n = arena_alloc(a, sizeof(*n));
	if (!n || !(n->ex_dir = arena_strdup(a, cfg->path)))
		return NULL;
	for (unsigned c = cfg->nclients; c-- > 0;) {
		struct groupnode *g = arena_alloc(a, sizeof(*g));
		client_string(&cfg->clients[c], buf, sizeof(buf));
		if (!g || !(g->gr_name = arena_strdup(a, buf)))
			return NULL;
		g->gr_next = n->ex_groups;
		n->ex_groups = g;
	}
	return n;
}

static void mount_export(struct req_ctx *ctx, void *argp, void *resp)
{
	exports *res = resp;
	const struct export_table *t = ctx->srv->exports;
	(void)argp;

	for (unsigned i = export_count(t); i-- > 0;) {
		struct exportnode *n =
		    mount_export_node(ctx->arena, export_config(export_at(t, i)));
		if (!n)
			return;
		n->ex_next = *res;
		*res = n;
	}
}

typedef char mount_void;
static bool xdr_mount_void(XDR *x, mount_void *v)
{
	(void)x;
	(void)v;
	return true;
}

#define MOUNT_PROC(num, fn, argt, rest, fl)                                                        \
	[num] = {.name = #fn,                                                                      \
		 .decode = (xdrproc_t)xdr_##argt,                                                  \
		 .encode = (xdrproc_t)xdr_##rest,                                                  \
		 .argsize = sizeof(argt),                                                          \
		 .ressize = sizeof(rest),                                                          \
		 .handler = fn,                                                                    \
		 .flags = (fl)}

/* Procedure numbers from RFC 1813 Appendix I. */
static const struct proc_desc mount3_procs[6] = {
    MOUNT_PROC(0, mount_null, mount_void, mount_void, PROC_STANDBY_OK),
    MOUNT_PROC(1, mount_mnt, dirpath, mountres3, PROC_NONIDEMPOTENT),
    MOUNT_PROC(2, mount_dump, mount_void, mountlist, 0),
    MOUNT_PROC(3, mount_umnt, dirpath, mount_void, PROC_NONIDEMPOTENT),
    MOUNT_PROC(4, mount_umntall, mount_void, mount_void, PROC_NONIDEMPOTENT),
    MOUNT_PROC(5, mount_export, mount_void, exports, 0),
};

const struct prog_desc mount3_program = {
    .prog = MOUNT_PROGRAM,
    .vers = MOUNT_VERSION,
    .procs = mount3_procs,
    .nprocs = 6,
};
