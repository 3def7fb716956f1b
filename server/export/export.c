#include "server/export/export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/export/siphash.h"
#include "server/log/log.h"

#define FH_VERSION 1
#define FH_HEADER  6
#define FH_MAC	   8

struct export
{
	struct config_export cfg;
	const struct fsal_ops *ops;
	struct fsal_export *fs;
	struct fsal_key root;
};

struct export_table {
	uint8_t secret[EXPORT_SECRET_LEN];
	unsigned count;
	struct export exports[];
};

static int export_open_one(struct export *e, const struct config_export *cfg)
{
	e->cfg = *cfg;
	e->ops = fsal_find(cfg->fsal);
	if (!e->ops) {
		log_error("export %u: unknown fsal '%s'", cfg->id, cfg->fsal);
		return -EINVAL;
	}
	int rc =
	    e->ops->export_open(cfg->path, cfg->fsal_options[0] ? cfg->fsal_options : NULL, &e->fs);
	if (rc < 0) {
		log_error("export %u: cannot open %s (%s): %s", cfg->id, cfg->path, cfg->fsal,
			  strerror(-rc));
		return rc;
	}
	rc = e->ops->root(e->fs, &e->root);
	if (rc < 0) {
		log_error("export %u: no root for %s: %s", cfg->id, cfg->path, strerror(-rc));
		e->ops->export_close(e->fs);
		e->fs = NULL;
	}
	return rc;
}

int export_table_open(const struct twinfs_config *cfg, const uint8_t secret[EXPORT_SECRET_LEN],
		      struct export_table **out)
{
	struct export_table *t = calloc(1, sizeof(*t) + cfg->nexports * sizeof(struct export));
	if (!t)
		return -ENOMEM;
	memcpy(t->secret, secret, EXPORT_SECRET_LEN);
	for (unsigned i = 0; i < cfg->nexports; i++) {
		int rc = export_open_one(&t->exports[i], &cfg->exports[i]);
		if (rc < 0) {
			export_table_close(t);
			return rc;
		}
		t->count++;
	}
	*out = t;
	return 0;
}

void export_table_close(struct export_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->count; i++)
		if (t->exports[i].fs)
			t->exports[i].ops->export_close(t->exports[i].fs);
	free(t);
}

void export_table_drop_caches(struct export_table *t)
{
	for (unsigned i = 0; t && i < t->count; i++)
		if (t->exports[i].fs && t->exports[i].ops->drop_caches)
			t->exports[i].ops->drop_caches(t->exports[i].fs);
}

/* Written whole under a temporary name, then linked into place: a concurrent reader
 * sees no file or a complete one, and link() fails if another instance won. */
static int secret_create(const char *file, uint8_t secret[EXPORT_SECRET_LEN])
{
	char tmp[CONFIG_PATH_MAX + 48];

	if (getrandom(secret, EXPORT_SECRET_LEN, 0) != EXPORT_SECRET_LEN)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", file, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, secret, EXPORT_SECRET_LEN);
	int rc = (n == EXPORT_SECRET_LEN && fsync(fd) == 0) ? 0 : -EIO;
	close(fd);
	if (rc == 0 && link(tmp, file) < 0)
		rc = -errno;
	unlink(tmp);
	return rc;
}

int export_load_secret(const char *state_dir, uint8_t secret[EXPORT_SECRET_LEN])
{
	char file[CONFIG_PATH_MAX + 32];

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(file, sizeof(file), "%s/handle.key", state_dir);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		int rc = secret_create(file, secret);
		/* Lost a race with another instance creating it: read theirs. */
		if (rc != -EEXIST)
			return rc;
		fd = open(file, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, secret, EXPORT_SECRET_LEN);
	close(fd);
	return n == EXPORT_SECRET_LEN ? 0 : -EBADMSG;
}

unsigned export_count(const struct export_table *t)
{
	return t->count;
}

const struct export *export_at(const struct export_table *t, unsigned i)
{
	return i < t->count ? &t->exports[i] : NULL;
}

const struct config_export *export_config(const struct export *e)
{
	return &e->cfg;
}

/* Compares paths ignoring trailing slashes ("/srv/a/" names "/srv/a"). */
static bool path_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

const struct export *export_by_path(const struct export_table *t, const char *path)
{
	for (unsigned i = 0; i < t->count; i++) {
		const struct export *e = &t->exports[i];
		if (path_eq(path, e->cfg.path) || path_eq(path, e->cfg.pseudo))
			return e;
	}
	return NULL;
}

static uint16_t sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

enum export_access export_client_access(const struct export *e, const struct sockaddr *sa)
{
	if (!config_client_allowed(&e->cfg, sa))
		return EXPORT_DENIED;
	/* "secure": only privileged source ports, i.e. root on the client host. */
	if (e->cfg.secure && sockaddr_port(sa) >= 1024)
		return EXPORT_DENIED;
	return e->cfg.read_only ? EXPORT_RO : EXPORT_RW;
}

static void cred_anon(const struct export *e, struct fsal_cred *out)
{
	out->uid = e->cfg.anonuid;
	out->gid = e->cfg.anongid;
	out->ngroups = 0;
}

void export_squash(const struct export *e, bool auth_sys, const struct fsal_cred *in,
		   struct fsal_cred *out)
{
	if (!auth_sys || e->cfg.squash == SQUASH_ALL) {
		cred_anon(e, out);
		return;
	}
	*out = *in;
	if (e->cfg.squash != SQUASH_ROOT)
		return;
	/* root_squash maps uid 0 and, like knfsd, gid 0 in the primary and
	 * supplementary groups, so root's group rights do not leak through. */
	if (out->uid == 0)
		out->uid = e->cfg.anonuid;
	if (out->gid == 0)
		out->gid = e->cfg.anongid;
	for (uint32_t i = 0; i < out->ngroups; i++)
		if (out->groups[i] == 0)
			out->groups[i] = e->cfg.anongid;
}

int export_root(const struct export *e, struct fsobj *out)
{
	out->exp = e;
	out->ops = e->ops;
	out->fs = e->fs;
	out->key = e->root;
	return 0;
}

/* The MAC in little-endian byte order, so nodes of either byte order agree. */
static void fh_mac(const struct export_table *t, const uint8_t *fh, size_t len, uint8_t out[8])
{
	uint64_t mac = siphash24(t->secret, fh, len);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(mac >> (8 * i));
}

size_t export_fh_encode(const struct export_table *t, const struct fsobj *obj, uint8_t *out)
{
	uint32_t id = obj->exp->cfg.id;
	size_t n = FH_HEADER + obj->key.len;

	out[0] = FH_VERSION;
	out[1] = (uint8_t)obj->key.len;
	out[2] = id >> 24;
	out[3] = id >> 16;
	out[4] = id >> 8;
	out[5] = id;
	memcpy(out + FH_HEADER, obj->key.data, obj->key.len);
	fh_mac(t, out, n, out + n);
	return n + FH_MAC;
}

static const struct export *export_by_id(const struct export_table *t, uint32_t id)
{
	for (unsigned i = 0; i < t->count; i++)
		if (t->exports[i].cfg.id == id)
			return &t->exports[i];
	return NULL;
}

int export_fh_decode(const struct export_table *t, const uint8_t *fh, size_t len, struct fsobj *out)
{
	if (len < FH_HEADER + FH_MAC || fh[0] != FH_VERSION || fh[1] > FSAL_KEY_MAX)
		return -EBADMSG;
	size_t n = FH_HEADER + fh[1];
	if (len != n + FH_MAC)
		return -EBADMSG;
	uint8_t mac[FH_MAC];
	fh_mac(t, fh, n, mac);
	if (memcmp(mac, fh + n, FH_MAC) != 0)
		return -EBADMSG;
	uint32_t id = (uint32_t)fh[2] << 24 | (uint32_t)fh[3] << 16 | (uint32_t)fh[4] << 8 | fh[5];
	const struct export *e = export_by_id(t, id);
	if (!e)
		return -ESTALE;
	export_root(e, out);
	out->key.len = fh[1];
	memcpy(out->key.data, fh + FH_HEADER, fh[1]);
	return 0;
}
