/*
 * test_handle.c — the export table (server/export): SipHash-2-4, file handles,
 * the handle secret, squashing, client access and lookup by path.
 *
 * File handles are tested on the wire format export.h documents (version, key length,
 * big-endian export id, key, MAC), with the mem backend so that no directory tree is
 * needed. The properties that matter to a client: a handle decodes to the object it
 * was made for, on this node and on the partner (same secret); any change to it, or
 * a handle made under another secret, is BADHANDLE (-EBADMSG); a genuine handle of an
 * export that is no longer served is STALE (-ESTALE).
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "fsal/fsal.h"
#include "server/export/export.h"
#include "server/export/siphash.h"

int twinfs_register_tests(void);

#define ANONUID 60001
#define ANONGID 60002

/* Two distinct secrets, as two different clusters would have. */
static const uint8_t secret_a[EXPORT_SECRET_LEN] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
						    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t secret_b[EXPORT_SECRET_LEN] = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
						    0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

/* ---- helpers ---- */

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Adds a mem export with the given id, path /srv/eN (pseudo /pN), client 127.0.0.1/32,
 * root_squash with distinctive anon ids. */
static struct config_export *cfg_add(struct twinfs_config *cfg, uint32_t id)
{
	struct config_export *e = &cfg->exports[cfg->nexports++];

	memset(e, 0, sizeof(*e));
	e->id = id;
	snprintf(e->path, sizeof(e->path), "/srv/e%u", id);
	snprintf(e->pseudo, sizeof(e->pseudo), "/p%u", id);
	snprintf(e->fsal, sizeof(e->fsal), "mem");
	CU_ASSERT_EQUAL_FATAL(config_parse_client("127.0.0.1/32", &e->clients[0]), 0);
	e->nclients = 1;
	e->squash = SQUASH_ROOT;
	e->anonuid = ANONUID;
	e->anongid = ANONGID;
	return e;
}

static struct twinfs_config *cfg_new(void)
{
	struct twinfs_config *cfg = calloc(1, sizeof(*cfg));

	CU_ASSERT_FATAL(cfg != NULL);
	config_defaults(cfg);
	return cfg;
}

/* A table of mem exports with the given ids (0-terminated list). */
static struct export_table *table_with(const uint32_t *ids, const uint8_t *secret)
{
	struct twinfs_config *cfg = cfg_new();
	struct export_table *t = NULL;

	for (; *ids; ids++)
		cfg_add(cfg, *ids);
	CU_ASSERT_EQUAL_FATAL(export_table_open(cfg, secret, &t), 0);
	CU_ASSERT_FATAL(t != NULL);
	free(cfg);
	return t;
}

static const struct export *by_id(const struct export_table *t, uint32_t id)
{
	for (unsigned i = 0; i < export_count(t); i++)
		if (export_config(export_at(t, i))->id == id)
			return export_at(t, i);
	return NULL;
}

static size_t root_fh(const struct export_table *t, uint32_t id, uint8_t fh[EXPORT_FH_MAX])
{
	const struct export *e = by_id(t, id);
	struct fsobj obj;

	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_EQUAL(export_root(e, &obj), 0);
	return export_fh_encode(t, &obj, fh);
}

static struct sockaddr_in sin4(const char *addr, uint16_t port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	CU_ASSERT_EQUAL(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	return sa;
}

static struct sockaddr_in6 sin6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(port);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, addr, &sa.sin6_addr), 1);
	return sa;
}

/* ---- SipHash-2-4 ---- */

/* From the reference implementation's vectors.h (vectors_sip64): key 00..0f, message
 * 00 01 .. (len-1), output as 8 little-endian bytes. */
static const struct {
	size_t len;
	uint8_t out[8];
} sip_vectors[] = {
    {0, {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72}},
    {1, {0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74}},
    {7, {0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab}},
    {8, {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93}},
    {9, {0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e}},
    {15, {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1}},
    {16, {0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f}},
    {17, {0x94, 0x47, 0xbe, 0x2c, 0xf5, 0xe9, 0x9a, 0x69}},
    {63, {0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95}},
};

static void test_siphash_paper_vector(void)
{
	uint8_t key[16], msg[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	/* The paper's Appendix A example and the empty message. */
	CU_ASSERT_EQUAL(siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
	CU_ASSERT_EQUAL(siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
}

static void test_siphash_vectors(void)
{
	uint8_t key[16], msg[64];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(sip_vectors) / sizeof(sip_vectors[0]); i++) {
		uint64_t got = siphash24(key, msg, sip_vectors[i].len);

		if (got != load_le64(sip_vectors[i].out))
			fprintf(stderr, "\nsiphash len %zu: got %016llx\n", sip_vectors[i].len,
				(unsigned long long)got);
		CU_ASSERT_EQUAL(got, load_le64(sip_vectors[i].out));
	}
	/* Unaligned input gives the same result. */
	uint8_t *shifted = malloc(65);
	CU_ASSERT_FATAL(shifted != NULL);
	memcpy(shifted + 1, msg, 64);
	CU_ASSERT_EQUAL(siphash24(key, shifted + 1, 15), 0xa129ca6149be45e5ULL);
	free(shifted);
}

/* ---- file handles ---- */

static void test_fh_root_roundtrip(void)
{
	static const uint32_t ids[] = {7, 9, 0};
	struct export_table *t = table_with(ids, secret_a);
	uint8_t fh[EXPORT_FH_MAX];
	struct fsobj obj, root;
	size_t len = root_fh(t, 7, fh);

	/* version 1, key length 8 (mem: ino as 8 LE bytes), id 7 big-endian, key, MAC */
	static const uint8_t head[14] = {1, 8, 0, 0, 0, 7, 1, 0, 0, 0, 0, 0, 0, 0};
	CU_ASSERT_EQUAL(len, 6 + 8 + 8);
	CU_ASSERT(len <= EXPORT_FH_MAX);
	CU_ASSERT_EQUAL(memcmp(fh, head, sizeof(head)), 0);
	/* The MAC is SipHash-2-4 of the rest under the secret, in its canonical
	 * little-endian byte order: the same bytes whatever the node's byte order. */
	CU_ASSERT_EQUAL(load_le64(fh + 14), siphash24(secret_a, fh, 14));

	memset(&obj, 0xee, sizeof(obj));
	CU_ASSERT_EQUAL(export_fh_decode(t, fh, len, &obj), 0);
	CU_ASSERT_EQUAL(export_root(by_id(t, 7), &root), 0);
	CU_ASSERT_PTR_EQUAL(obj.exp, by_id(t, 7));
	CU_ASSERT_PTR_EQUAL(obj.ops, &fsal_mem_ops);
	CU_ASSERT_PTR_EQUAL(obj.fs, root.fs);
	CU_ASSERT(fsal_key_eq(&obj.key, &root.key));

	/* The other export's root is a different handle that decodes to that export. */
	uint8_t fh9[EXPORT_FH_MAX];
	size_t len9 = root_fh(t, 9, fh9);
	CU_ASSERT_EQUAL(len9, len);
	CU_ASSERT_EQUAL(fh9[5], 9);
	CU_ASSERT_NOT_EQUAL(memcmp(fh, fh9, len), 0);
	CU_ASSERT_EQUAL(export_fh_decode(t, fh9, len9, &obj), 0);
	CU_ASSERT_PTR_EQUAL(obj.exp, by_id(t, 9));
	CU_ASSERT_PTR_NOT_EQUAL(obj.fs, root.fs);
	export_table_close(t);
}

/* A handle of an object below the root names that object: the backend finds it. */
static void test_fh_object_roundtrip(void)
{
	static const uint32_t ids[] = {7, 0};
	struct export_table *t = table_with(ids, secret_a);
	struct fsal_cred cred = {.uid = 0, .gid = 0};
	struct fsobj root, dir, back;
	struct fsal_attr attr;
	uint8_t fh[EXPORT_FH_MAX];

	CU_ASSERT_EQUAL_FATAL(export_root(by_id(t, 7), &root), 0);
	export_obj_sibling(&root, &dir);
	CU_ASSERT_EQUAL_FATAL(root.ops->mkdir(root.fs, &cred, &root.key, "sub", 0750, &dir.key), 0);
	size_t len = export_fh_encode(t, &dir, fh);
	CU_ASSERT_EQUAL(len, 6 + dir.key.len + 8);
	CU_ASSERT_EQUAL(export_fh_decode(t, fh, len, &back), 0);
	CU_ASSERT(fsal_key_eq(&back.key, &dir.key));
	CU_ASSERT_FALSE(fsal_key_eq(&back.key, &root.key));
	CU_ASSERT_EQUAL(back.ops->getattr(back.fs, &back.key, &attr), 0);
	CU_ASSERT_EQUAL(attr.type, FSAL_DIR);
	CU_ASSERT_EQUAL(attr.mode, 0750);
	export_table_close(t);
}

/* The longest key a backend may produce still fits an NFSv3 handle. */
static void test_fh_longest_key(void)
{
	static const uint32_t ids[] = {7, 0};
	struct export_table *t = table_with(ids, secret_a);
	struct fsobj root, obj, back;
	uint8_t fh[EXPORT_FH_MAX];

	CU_ASSERT_EQUAL_FATAL(export_root(by_id(t, 7), &root), 0);
	export_obj_sibling(&root, &obj);
	obj.key.len = FSAL_KEY_MAX;
	for (int i = 0; i < FSAL_KEY_MAX; i++)
		obj.key.data[i] = (unsigned char)(0xc0 + i);
	size_t len = export_fh_encode(t, &obj, fh);
	CU_ASSERT_EQUAL(len, 6 + FSAL_KEY_MAX + 8);
	CU_ASSERT(len <= 64); /* NFS3_FHSIZE, RFC 1813 §2.5 */
	CU_ASSERT_EQUAL(export_fh_decode(t, fh, len, &back), 0);
	CU_ASSERT_EQUAL(back.key.len, FSAL_KEY_MAX);
	CU_ASSERT(fsal_key_eq(&back.key, &obj.key));
	export_table_close(t);
}

static void test_fh_bitflips(void)
{
	static const uint32_t ids[] = {7, 9, 0};
	struct export_table *t = table_with(ids, secret_a);
	uint8_t fh[EXPORT_FH_MAX], bad[EXPORT_FH_MAX];
	size_t len = root_fh(t, 7, fh);
	struct fsobj obj;
	int failures = 0;

	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, fh, len);
			bad[i] ^= (uint8_t)(1u << bit);
			int rc = export_fh_decode(t, bad, len, &obj);
			if (rc != -EBADMSG) {
				fprintf(stderr, "\nflip byte %zu bit %d: rc %d\n", i, bit, rc);
				failures++;
			}
		}
		/* A whole-byte change too (e.g. the id byte 7 -> 9, a served export). */
		memcpy(bad, fh, len);
		bad[i] = (uint8_t)(i == 5 ? 9 : bad[i] ^ 0xff);
		CU_ASSERT_EQUAL(export_fh_decode(t, bad, len, &obj), -EBADMSG);
	}
	CU_ASSERT_EQUAL(failures, 0);
	CU_ASSERT_EQUAL(export_fh_decode(t, fh, len, &obj), 0);
	export_table_close(t);
}

static void test_fh_truncated_and_extended(void)
{
	static const uint32_t ids[] = {7, 0};
	struct export_table *t = table_with(ids, secret_a);
	uint8_t fh[EXPORT_FH_MAX + 1];
	size_t len = root_fh(t, 7, fh);
	struct fsobj obj;

	for (size_t n = 0; n < len; n++) {
		/* An exact-size copy, so that a read past the end shows under ASan. */
		uint8_t *cut = malloc(n ? n : 1);
		CU_ASSERT_FATAL(cut != NULL);
		memcpy(cut, fh, n);
		CU_ASSERT_EQUAL(export_fh_decode(t, cut, n, &obj), -EBADMSG);
		free(cut);
	}
	fh[len] = 0;
	CU_ASSERT_EQUAL(export_fh_decode(t, fh, len + 1, &obj), -EBADMSG);
	export_table_close(t);
}

/* A key length above FSAL_KEY_MAX is refused even with a valid MAC (a leaked secret
 * must not turn into an overflow of struct fsal_key). */
static void test_fh_key_length_bound(void)
{
	static const uint32_t ids[] = {7, 0};
	struct export_table *t = table_with(ids, secret_a);
	uint8_t fh[6 + FSAL_KEY_MAX + 1 + 8] = {1, FSAL_KEY_MAX + 1, 0, 0, 0, 7};
	size_t n = 6 + FSAL_KEY_MAX + 1;
	struct fsobj obj;

	uint64_t mac = siphash24(secret_a, fh, n);
	for (int i = 0; i < 8; i++)
		fh[n + i] = (uint8_t)(mac >> (8 * i));
	CU_ASSERT_EQUAL(export_fh_decode(t, fh, sizeof(fh), &obj), -EBADMSG);

	/* The same construction with a legal length is accepted: the test above
	 * fails for the length, not for the MAC. */
	fh[1] = 8;
	n = 6 + 8;
	mac = siphash24(secret_a, fh, n);
	for (int i = 0; i < 8; i++)
		fh[n + i] = (uint8_t)(mac >> (8 * i));
	CU_ASSERT_EQUAL(export_fh_decode(t, fh, n + 8, &obj), 0);
	export_table_close(t);
}

static void test_fh_other_secret(void)
{
	static const uint32_t ids[] = {7, 0};
	struct export_table *ta = table_with(ids, secret_a);
	struct export_table *tb = table_with(ids, secret_b);
	uint8_t fa[EXPORT_FH_MAX], fb[EXPORT_FH_MAX];
	size_t la = root_fh(ta, 7, fa), lb = root_fh(tb, 7, fb);
	struct fsobj obj;

	CU_ASSERT_EQUAL(la, lb);
	CU_ASSERT_NOT_EQUAL(memcmp(fa, fb, la), 0);
	CU_ASSERT_EQUAL(export_fh_decode(tb, fa, la, &obj), -EBADMSG);
	CU_ASSERT_EQUAL(export_fh_decode(ta, fb, lb, &obj), -EBADMSG);
	CU_ASSERT_EQUAL(export_fh_decode(ta, fa, la, &obj), 0);
	CU_ASSERT_EQUAL(export_fh_decode(tb, fb, lb, &obj), 0);
	export_table_close(ta);
	export_table_close(tb);
}

static void test_fh_unknown_export_is_stale(void)
{
	static const uint32_t both[] = {7, 9, 0}, only7[] = {7, 0};
	struct export_table *t79 = table_with(both, secret_a);
	struct export_table *t7 = table_with(only7, secret_a);
	uint8_t fh[EXPORT_FH_MAX];
	struct fsobj obj;

	size_t len = root_fh(t79, 9, fh);
	CU_ASSERT_EQUAL(export_fh_decode(t7, fh, len, &obj), -ESTALE);
	/* The export that is still served keeps working in the smaller table. */
	len = root_fh(t79, 7, fh);
	CU_ASSERT_EQUAL(export_fh_decode(t7, fh, len, &obj), 0);
	CU_ASSERT_PTR_EQUAL(obj.exp, by_id(t7, 7));
	export_table_close(t79);
	export_table_close(t7);
}

/* Two nodes (two tables) with the same secret make the same bytes for the same
 * object, and each accepts the other's handles. */
static void test_fh_node_independent(void)
{
	static const uint32_t ids[] = {7, 9, 0};
	struct export_table *n1 = table_with(ids, secret_a);
	struct export_table *n2 = table_with(ids, secret_a);
	uint8_t f1[EXPORT_FH_MAX], f2[EXPORT_FH_MAX];
	struct fsobj obj;

	for (uint32_t id = 7; id <= 9; id += 2) {
		size_t l1 = root_fh(n1, id, f1), l2 = root_fh(n2, id, f2);
		CU_ASSERT_EQUAL(l1, l2);
		CU_ASSERT_EQUAL(memcmp(f1, f2, l1), 0);
		CU_ASSERT_EQUAL(export_fh_decode(n2, f1, l1, &obj), 0);
		CU_ASSERT_PTR_EQUAL(obj.exp, by_id(n2, id));
		CU_ASSERT_EQUAL(export_fh_decode(n1, f2, l2, &obj), 0);
		CU_ASSERT_PTR_EQUAL(obj.exp, by_id(n1, id));
	}
	export_table_close(n1);
	export_table_close(n2);
}

/* ---- the handle secret ---- */

static char tmp_dir[64];

static int secret_suite_init(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/twinfs-test-handle-XXXXXX");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int secret_suite_clean(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/state/handle.key", tmp_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/state", tmp_dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/short/handle.key", tmp_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/short", tmp_dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/other/handle.key", tmp_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/other", tmp_dir);
	rmdir(p);
	return rmdir(tmp_dir);
}

static void test_secret_create_and_reload(void)
{
	char dir[128], file[160];
	uint8_t s1[EXPORT_SECRET_LEN], s2[EXPORT_SECRET_LEN], disk[EXPORT_SECRET_LEN + 1];
	struct stat st;

	/* The state directory does not exist yet: it is created. */
	snprintf(dir, sizeof(dir), "%s/state", tmp_dir);
	snprintf(file, sizeof(file), "%s/handle.key", dir);
	memset(s1, 0, sizeof(s1));
	CU_ASSERT_EQUAL_FATAL(export_load_secret(dir, s1), 0);
	CU_ASSERT_EQUAL_FATAL(stat(file, &st), 0);
	CU_ASSERT(S_ISREG(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL(st.st_size, EXPORT_SECRET_LEN);

	/* The file holds exactly the secret returned. */
	int fd = open(file, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(read(fd, disk, sizeof(disk)), EXPORT_SECRET_LEN);
	close(fd);
	CU_ASSERT_EQUAL(memcmp(disk, s1, EXPORT_SECRET_LEN), 0);
	static const uint8_t zero[EXPORT_SECRET_LEN];
	CU_ASSERT_NOT_EQUAL(memcmp(s1, zero, EXPORT_SECRET_LEN), 0);

	/* A restart reads the same secret back. */
	memset(s2, 0x5a, sizeof(s2));
	CU_ASSERT_EQUAL(export_load_secret(dir, s2), 0);
	CU_ASSERT_EQUAL(memcmp(s1, s2, EXPORT_SECRET_LEN), 0);

	/* Another state directory gets its own random secret. */
	snprintf(dir, sizeof(dir), "%s/other", tmp_dir);
	CU_ASSERT_EQUAL(export_load_secret(dir, s2), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(s1, s2, EXPORT_SECRET_LEN), 0);
}

/* A truncated key file is an error, not a short secret. */
static void test_secret_short_file(void)
{
	char dir[128], file[160];
	uint8_t s[EXPORT_SECRET_LEN];

	snprintf(dir, sizeof(dir), "%s/short", tmp_dir);
	snprintf(file, sizeof(file), "%s/handle.key", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "12345", 5), 5);
	close(fd);
	CU_ASSERT_EQUAL(export_load_secret(dir, s), -EBADMSG);
}

/* ---- squashing ---- */

struct squash_case {
	struct export_table *t;
	const struct export *e;
};

static struct squash_case squash_table(enum config_squash mode)
{
	struct twinfs_config *cfg = cfg_new();
	struct squash_case c = {0};

	cfg_add(cfg, 7)->squash = mode;
	CU_ASSERT_EQUAL_FATAL(export_table_open(cfg, secret_a, &c.t), 0);
	free(cfg);
	c.e = export_at(c.t, 0);
	CU_ASSERT_FATAL(c.e != NULL);
	return c;
}

static void test_squash_root(void)
{
	struct squash_case c = squash_table(SQUASH_ROOT);
	struct fsal_cred in = {.uid = 0, .gid = 0, .ngroups = 3, .groups = {0, 5, 0}}, out;

	memset(&out, 0xee, sizeof(out));
	export_squash(c.e, true, &in, &out);
	CU_ASSERT_EQUAL(out.uid, ANONUID);
	CU_ASSERT_EQUAL(out.gid, ANONGID);
	CU_ASSERT_EQUAL(out.ngroups, 3);
	CU_ASSERT_EQUAL(out.groups[0], ANONGID);
	CU_ASSERT_EQUAL(out.groups[1], 5);
	CU_ASSERT_EQUAL(out.groups[2], ANONGID);

	/* A non-root user keeps his ids; a group 0 among them is still squashed. */
	struct fsal_cred user = {.uid = 1000, .gid = 0, .ngroups = 2, .groups = {100, 0}};
	export_squash(c.e, true, &user, &out);
	CU_ASSERT_EQUAL(out.uid, 1000);
	CU_ASSERT_EQUAL(out.gid, ANONGID);
	CU_ASSERT_EQUAL(out.ngroups, 2);
	CU_ASSERT_EQUAL(out.groups[0], 100);
	CU_ASSERT_EQUAL(out.groups[1], ANONGID);

	struct fsal_cred plain = {.uid = 1000, .gid = 100, .ngroups = 1, .groups = {200}};
	export_squash(c.e, true, &plain, &out);
	CU_ASSERT_EQUAL(out.uid, 1000);
	CU_ASSERT_EQUAL(out.gid, 100);
	CU_ASSERT_EQUAL(out.ngroups, 1);
	CU_ASSERT_EQUAL(out.groups[0], 200);
	/* The input is not modified. */
	CU_ASSERT_EQUAL(in.uid, 0);
	CU_ASSERT_EQUAL(in.groups[0], 0);
	export_table_close(c.t);
}

static void test_squash_none(void)
{
	struct squash_case c = squash_table(SQUASH_NONE);
	struct fsal_cred in = {.uid = 0, .gid = 0, .ngroups = 2, .groups = {0, 7}}, out;

	export_squash(c.e, true, &in, &out);
	CU_ASSERT_EQUAL(out.uid, 0);
	CU_ASSERT_EQUAL(out.gid, 0);
	CU_ASSERT_EQUAL(out.ngroups, 2);
	CU_ASSERT_EQUAL(out.groups[0], 0);
	CU_ASSERT_EQUAL(out.groups[1], 7);
	export_table_close(c.t);
}

static void test_squash_all(void)
{
	struct squash_case c = squash_table(SQUASH_ALL);
	struct fsal_cred user = {.uid = 1000, .gid = 100, .ngroups = 2, .groups = {5, 6}}, out;
	struct fsal_cred root = {.uid = 0, .gid = 0, .ngroups = 1, .groups = {0}};

	export_squash(c.e, true, &user, &out);
	CU_ASSERT_EQUAL(out.uid, ANONUID);
	CU_ASSERT_EQUAL(out.gid, ANONGID);
	CU_ASSERT_EQUAL(out.ngroups, 0);
	export_squash(c.e, true, &root, &out);
	CU_ASSERT_EQUAL(out.uid, ANONUID);
	CU_ASSERT_EQUAL(out.gid, ANONGID);
	CU_ASSERT_EQUAL(out.ngroups, 0);
	export_table_close(c.t);
}

/* AUTH_NONE carries no identity: anonymous, whatever the export's squash mode. */
static void test_squash_auth_none(void)
{
	enum config_squash modes[] = {SQUASH_ROOT, SQUASH_NONE, SQUASH_ALL};
	struct fsal_cred in = {.uid = 1000, .gid = 100, .ngroups = 1, .groups = {5}}, out;

	for (size_t i = 0; i < 3; i++) {
		struct squash_case c = squash_table(modes[i]);

		memset(&out, 0xee, sizeof(out));
		export_squash(c.e, false, &in, &out);
		CU_ASSERT_EQUAL(out.uid, ANONUID);
		CU_ASSERT_EQUAL(out.gid, ANONGID);
		CU_ASSERT_EQUAL(out.ngroups, 0);
		export_table_close(c.t);
	}
}

/* ---- client access ---- */

static void test_access_lists(void)
{
	struct twinfs_config *cfg = cfg_new();
	struct export_table *t = NULL;

	cfg_add(cfg, 7);
	struct config_export *ro = cfg_add(cfg, 9);
	ro->read_only = true;
	struct config_export *sec = cfg_add(cfg, 11);
	sec->secure = true;
	CU_ASSERT_EQUAL_FATAL(export_table_open(cfg, secret_a, &t), 0);
	free(cfg);

	const struct export *rw = by_id(t, 7), *r = by_id(t, 9), *s = by_id(t, 11);
	struct sockaddr_in lo = sin4("127.0.0.1", 40000), other = sin4("10.1.2.3", 700);
	struct sockaddr_in near = sin4("127.0.0.2", 700);
	struct sockaddr_in6 mapped = sin6("::ffff:127.0.0.1", 40000), v6 = sin6("::1", 700);

	CU_ASSERT_EQUAL(export_client_access(rw, (struct sockaddr *)&lo), EXPORT_RW);
	CU_ASSERT_EQUAL(export_client_access(rw, (struct sockaddr *)&other), EXPORT_DENIED);
	CU_ASSERT_EQUAL(export_client_access(rw, (struct sockaddr *)&near), EXPORT_DENIED);
	CU_ASSERT_EQUAL(export_client_access(rw, (struct sockaddr *)&mapped), EXPORT_RW);
	CU_ASSERT_EQUAL(export_client_access(rw, (struct sockaddr *)&v6), EXPORT_DENIED);
	CU_ASSERT_EQUAL(export_client_access(r, (struct sockaddr *)&lo), EXPORT_RO);
	CU_ASSERT_EQUAL(export_client_access(r, (struct sockaddr *)&other), EXPORT_DENIED);

	/* "secure": privileged source ports only (< 1024). */
	struct sockaddr_in p1023 = sin4("127.0.0.1", 1023), p1024 = sin4("127.0.0.1", 1024);
	struct sockaddr_in p1 = sin4("127.0.0.1", 1), p65535 = sin4("127.0.0.1", 65535);
	struct sockaddr_in6 m1024 = sin6("::ffff:127.0.0.1", 1024);
	struct sockaddr_in6 m1023 = sin6("::ffff:127.0.0.1", 1023);
	CU_ASSERT_EQUAL(export_client_access(s, (struct sockaddr *)&p1023), EXPORT_RW);
	CU_ASSERT_EQUAL(export_client_access(s, (struct sockaddr *)&p1), EXPORT_RW);
	CU_ASSERT_EQUAL(export_client_access(s, (struct sockaddr *)&p1024), EXPORT_DENIED);
	CU_ASSERT_EQUAL(export_client_access(s, (struct sockaddr *)&p65535), EXPORT_DENIED);
	CU_ASSERT_EQUAL(export_client_access(s, (struct sockaddr *)&m1023), EXPORT_RW);
	CU_ASSERT_EQUAL(export_client_access(s, (struct sockaddr *)&m1024), EXPORT_DENIED);
	/* A non-secure export does not care about the port. */
	CU_ASSERT_EQUAL(export_client_access(rw, (struct sockaddr *)&p1024), EXPORT_RW);
	export_table_close(t);
}

/* ---- lookup by path ---- */

static void test_by_path(void)
{
	static const uint32_t ids[] = {7, 9, 0};
	struct export_table *t = table_with(ids, secret_a);
	const struct export *e7 = by_id(t, 7), *e9 = by_id(t, 9);

	CU_ASSERT_EQUAL(export_count(t), 2);
	CU_ASSERT_PTR_NOT_NULL(e7);
	CU_ASSERT_PTR_NOT_NULL(e9);
	CU_ASSERT_PTR_NULL(export_at(t, 2));
	CU_ASSERT_STRING_EQUAL(export_config(e7)->path, "/srv/e7");

	CU_ASSERT_PTR_EQUAL(export_by_path(t, "/srv/e7"), e7);
	CU_ASSERT_PTR_EQUAL(export_by_path(t, "/srv/e7/"), e7);
	CU_ASSERT_PTR_EQUAL(export_by_path(t, "/srv/e7//"), e7);
	CU_ASSERT_PTR_EQUAL(export_by_path(t, "/srv/e9"), e9);
	/* by pseudo path */
	CU_ASSERT_PTR_EQUAL(export_by_path(t, "/p7"), e7);
	CU_ASSERT_PTR_EQUAL(export_by_path(t, "/p7/"), e7);
	CU_ASSERT_PTR_EQUAL(export_by_path(t, "/p9"), e9);
	/* prefixes, extensions and others are not exports */
	CU_ASSERT_PTR_NULL(export_by_path(t, "/srv/e"));
	CU_ASSERT_PTR_NULL(export_by_path(t, "/srv/e77"));
	CU_ASSERT_PTR_NULL(export_by_path(t, "/srv/e7/sub"));
	CU_ASSERT_PTR_NULL(export_by_path(t, "/srv"));
	CU_ASSERT_PTR_NULL(export_by_path(t, "/"));
	CU_ASSERT_PTR_NULL(export_by_path(t, ""));
	CU_ASSERT_PTR_NULL(export_by_path(t, "srv/e7"));
	CU_ASSERT_PTR_NULL(export_by_path(t, "/p"));
	export_table_close(t);
}

/* ---- opening ---- */

static void test_open_unknown_fsal(void)
{
	struct twinfs_config *cfg = cfg_new();
	struct export_table *t = NULL;

	cfg_add(cfg, 7);
	struct config_export *bad = cfg_add(cfg, 9);
	snprintf(bad->fsal, sizeof(bad->fsal), "nosuch");
	CU_ASSERT_EQUAL(export_table_open(cfg, secret_a, &t), -EINVAL);
	CU_ASSERT_PTR_NULL(t);
	free(cfg);
}

int twinfs_register_tests(void)
{
	CU_pSuite sip = CU_add_suite("siphash", NULL, NULL);
	CU_pSuite fh = CU_add_suite("handles", NULL, NULL);
	CU_pSuite sec = CU_add_suite("secret", secret_suite_init, secret_suite_clean);
	CU_pSuite pol = CU_add_suite("policy", NULL, NULL);

	if (!sip || !fh || !sec || !pol)
		return -1;
	if (!CU_add_test(sip, "paper vector and empty message", test_siphash_paper_vector) ||
	    !CU_add_test(sip, "reference vectors", test_siphash_vectors) ||
	    !CU_add_test(fh, "root handle round trip", test_fh_root_roundtrip) ||
	    !CU_add_test(fh, "object handle round trip", test_fh_object_roundtrip) ||
	    !CU_add_test(fh, "longest key", test_fh_longest_key) ||
	    !CU_add_test(fh, "any bit flipped is BADHANDLE", test_fh_bitflips) ||
	    !CU_add_test(fh, "truncated or extended is BADHANDLE",
			 test_fh_truncated_and_extended) ||
	    !CU_add_test(fh, "key length bound", test_fh_key_length_bound) ||
	    !CU_add_test(fh, "other secret is BADHANDLE", test_fh_other_secret) ||
	    !CU_add_test(fh, "unknown export is STALE", test_fh_unknown_export_is_stale) ||
	    !CU_add_test(fh, "node independent", test_fh_node_independent) ||
	    !CU_add_test(sec, "created 0600, reloaded", test_secret_create_and_reload) ||
	    !CU_add_test(sec, "short key file", test_secret_short_file) ||
	    !CU_add_test(pol, "root_squash", test_squash_root) ||
	    !CU_add_test(pol, "no_root_squash", test_squash_none) ||
	    !CU_add_test(pol, "all_squash", test_squash_all) ||
	    !CU_add_test(pol, "AUTH_NONE is anonymous", test_squash_auth_none) ||
	    !CU_add_test(pol, "client access", test_access_lists) ||
	    !CU_add_test(pol, "export by path", test_by_path) ||
	    !CU_add_test(pol, "unknown fsal", test_open_unknown_fsal))
		return -1;
	return 0;
}
