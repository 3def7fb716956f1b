/*
 * test_config.c — the config parser: examples, error messages, bounds, access lists,
 * the schema table and the generated reference.
 *
 * Error messages are part of the interface (administrators read them, scripts grep
 * them), so the tests compare whole lines. The files under config/examples/ must parse
 * cleanly and those under config/bad/ must produce exactly the errors listed in their
 * "# expect: LINE: message" comments; both directories are globbed, so a new file is
 * tested without touching this one.
 *
 * The source tree is found through $TWINFS_SRC_DIR, else the TWINFS_SOURCE_DIR compile
 * definition, else the directory this file was compiled from.
 *
 * The pair block has its own section: defaults, every key's bounds, each check between
 * keys (and between the pair and the server block) with its exact message, and the two
 * example nodes pair-a.conf / pair-b.conf.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_int.h"

int twinfs_register_tests(void);

/* CU_FAIL() shows its argument's source text; this records the message itself. */
#define FAIL_MSG(msg) CU_assertImplementation(CU_FALSE, __LINE__, (msg), __FILE__, "", CU_FALSE)

/* ---- helpers ---- */

static struct twinfs_config *cfg_new(void)
{
	struct twinfs_config *cfg = calloc(1, sizeof(*cfg));

	CU_ASSERT_FATAL(cfg != NULL);
	return cfg;
}

/* Parses `text` as "t.conf"; the messages land in *msgs (to be freed). */
static int parse_msgs(const char *text, struct twinfs_config *cfg, char **msgs)
{
	size_t n = 0;
	FILE *f;
	int rc;

	*msgs = NULL;
	f = open_memstream(msgs, &n);
	CU_ASSERT_FATAL(f != NULL);
	rc = config_parse("t.conf", text, strlen(text), cfg, f);
	fclose(f);
	return rc;
}

/* Parses `text` and asserts it is accepted without a message. */
static void parse_ok(const char *text, struct twinfs_config *cfg)
{
	char *msgs;
	int rc = parse_msgs(text, cfg, &msgs);

	if (rc != 0 || msgs[0] != '\0')
		fprintf(stderr, "\nunexpected errors (%d):\n%s", rc, msgs);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	free(msgs);
}

/* Asserts that `text` gives exactly `expect` (all lines) and `nerrs` errors. */
static void expect_errors(const char *text, int nerrs, const char *expect)
{
	struct twinfs_config *cfg = cfg_new();
	char *msgs;
	int rc = parse_msgs(text, cfg, &msgs);

	if (rc != nerrs || strcmp(msgs, expect) != 0)
		fprintf(stderr, "\n--- input:\n%s--- expected %d:\n%s--- got %d:\n%s", text, nerrs,
			expect, rc, msgs);
	CU_ASSERT_EQUAL(rc, nerrs);
	CU_ASSERT_STRING_EQUAL(msgs, expect);
	free(msgs);
	free(cfg);
}

static const char *src_dir(void)
{
	const char *env = getenv("TWINFS_SRC_DIR");

	if (env && env[0])
		return env;
#ifdef TWINFS_SOURCE_DIR
	return TWINFS_SOURCE_DIR;
#else
	return NULL;
#endif
}

/* <source dir>/<rel>, falling back to the directory this file was compiled from. */
static void src_path(char *buf, size_t n, const char *rel)
{
	const char *dir = src_dir();
	const char *me = __FILE__, *tail = "tests/unit/test_config.c";
	size_t len = strlen(me), tlen = strlen(tail);

	if (dir) {
		snprintf(buf, n, "%s/%s", dir, rel);
	} else if (len >= tlen && strcmp(me + len - tlen, tail) == 0 && len > tlen) {
		snprintf(buf, n, "%.*s%s", (int)(len - tlen), me, rel);
	} else {
		snprintf(buf, n, "%s", rel); /* compiled from the source root: run from there */
	}
}

static char *read_whole(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = calloc(1, CONFIG_MAX_FILE_SIZE + 1);
	n = buf ? fread(buf, 1, CONFIG_MAX_FILE_SIZE, f) : 0;
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

static struct sockaddr_storage addr_of(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else {
		CU_ASSERT_FATAL(inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1);
		sin6->sin6_family = AF_INET6;
	}
	return ss;
}

/* Builds an export whose access list is `list` (config syntax). */
static void export_with(struct config_export *e, const char *list)
{
	const struct config__key *k = config__key(CONFIG__K_CLIENTS);
	char why[CONFIG__WHY_MAX];

	memset(e, 0, sizeof(*e));
	CU_ASSERT_EQUAL_FATAL(config__set(k, e, list, false, why, sizeof(why)), 0);
}

static bool allowed(const struct config_export *e, const char *client)
{
	struct sockaddr_storage ss = addr_of(client);

	return config_client_allowed(e, (const struct sockaddr *)&ss);
}

#define EXPORT_OK "export {\n\tid = 1\n\tpath = /srv\n\tclients = *\n}\n" /* lines 1..5 */

/* A pair block with its required keys only: lines 1..7 of its own. */
#define PAIR_OK                                                                                    \
	"pair {\n\tnode_id = 1\n\tpeer_address = 192.0.2.12\n\tkey_file = /etc/twinfs/peer.key\n"  \
	"\tservice_address = 192.0.2.100\n\tservice_interface = eth0\n}\n"

/* The same, with `extra` (whole lines) before the closing brace: the block starts at
 * line 6 after EXPORT_OK, and `extra` at line 12. */
#define PAIR_WITH(extra)                                                                           \
	EXPORT_OK "pair {\n\tnode_id = 1\n\tpeer_address = 192.0.2.12\n"                           \
		  "\tkey_file = /etc/twinfs/peer.key\n\tservice_address = 192.0.2.100\n"           \
		  "\tservice_interface = eth0\n" extra "}\n"

/* ---- defaults ---- */

static void test_defaults_server(void)
{
	struct twinfs_config *cfg = cfg_new();

	memset(cfg, 0xa5, sizeof(*cfg));
	config_defaults(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->bind, "0.0.0.0");
	CU_ASSERT_EQUAL(cfg->nfs_port, 2049);
	CU_ASSERT_EQUAL(cfg->mount_port, 20048);
	CU_ASSERT_EQUAL(cfg->threads, 8);
	CU_ASSERT_EQUAL(cfg->max_connections, 1024);
	CU_ASSERT_EQUAL(cfg->max_record, 1052672);
	CU_ASSERT_EQUAL(cfg->max_io, 1048576);
	CU_ASSERT_TRUE(cfg->rpcbind);
	CU_ASSERT_STRING_EQUAL(cfg->state_dir, "/var/lib/twinfs");
	CU_ASSERT_EQUAL(cfg->log_dest, LOG_DEST_STDERR);
	CU_ASSERT_EQUAL(cfg->log_level, LOGL_INFO);
	CU_ASSERT_EQUAL(cfg->nexports, 0);
	free(cfg);
}

static void test_defaults_export(void)
{
	struct twinfs_config *cfg = cfg_new();
	const struct config_export *e = &cfg->exports[0];

	parse_ok("\n" EXPORT_OK, cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->nexports, 1);
	CU_ASSERT_EQUAL(e->id, 1);
	CU_ASSERT_STRING_EQUAL(e->path, "/srv");
	CU_ASSERT_STRING_EQUAL(e->pseudo, "/srv");
	CU_ASSERT_STRING_EQUAL(e->fsal, "vfs");
	CU_ASSERT_STRING_EQUAL(e->fsal_options, "");
	CU_ASSERT_EQUAL(e->nclients, 2); /* '*' is 0.0.0.0/0 and ::/0 */
	CU_ASSERT_FALSE(e->read_only);
	CU_ASSERT_EQUAL(e->squash, SQUASH_ROOT);
	CU_ASSERT_EQUAL(e->anonuid, 65534);
	CU_ASSERT_EQUAL(e->anongid, 65534);
	CU_ASSERT_FALSE(e->secure);
	CU_ASSERT_EQUAL(e->line, 2);
	CU_ASSERT_EQUAL(cfg->nfs_port, 2049); /* no server block: server defaults */
	free(cfg);
}

/* Every key is documented, and every default passes its own key's checks. */
static void test_schema_table(void)
{
	struct twinfs_config *scratch = cfg_new();
	char why[CONFIG__WHY_MAX];

	for (int id = 0; id < CONFIG__NKEYS; id++) {
		const struct config__key *k = config__key(id);
		void *base = k->block == CONFIG__BLK_PAIR ? (void *)&scratch->pair : scratch;
		size_t limit = k->block == CONFIG__BLK_SERVER ? sizeof(struct twinfs_config)
			       : k->block == CONFIG__BLK_PAIR ? sizeof(struct config_pair)
							      : sizeof(struct config_export);

		CU_ASSERT_PTR_NOT_NULL_FATAL(k->name);
		CU_ASSERT_PTR_EQUAL(config__key_find(k->block, k->name), k);
		CU_ASSERT(k->help && k->help[0] && !strchr(k->help, '|'));
		CU_ASSERT(k->offset + k->size <= limit);
		CU_ASSERT(k->def == NULL || !(k->flags & CONFIG__REQUIRED));
		/* "" for none: only for a field that holds text, and never with required */
		CU_ASSERT(!(k->flags & CONFIG__NONE_OK) ||
			  ((k->type == CONFIG__T_PATH || k->type == CONFIG__T_ADDRESS ||
			    k->type == CONFIG__T_STRING) &&
			   !(k->flags & CONFIG__REQUIRED)));
		if (k->def && config__set(k, base, k->def, true, why, sizeof(why)) != 0)
			FAIL_MSG(why);
	}
	CU_ASSERT_PTR_NULL(config__key_find(CONFIG__BLK_SERVER, "id"));
	CU_ASSERT_PTR_NULL(config__key_find(CONFIG__BLK_EXPORT, "nfs_port"));
	CU_ASSERT_PTR_NULL(config__key_find(CONFIG__BLK_PAIR, "bind"));
	CU_ASSERT_PTR_NULL(config__key_find(CONFIG__BLK_SERVER, "node_id"));
	/* "expected one of: ..." lists are never cut */
	for (int blk = -1; blk < CONFIG__NBLOCKS; blk++) {
		char names[CONFIG__NAMES_MAX];

		config__list_names(blk, names, sizeof(names));
		CU_ASSERT(strlen(names) + 1 < sizeof(names));
	}
	free(scratch);
}

/* ---- examples ---- */

static void test_examples_parse(void)
{
	struct twinfs_config *cfg = cfg_new();
	char pattern[1024];
	glob_t g;

	src_path(pattern, sizeof(pattern), "config/examples/*.conf");
	CU_ASSERT_EQUAL_FATAL(glob(pattern, 0, NULL, &g), 0);
	CU_ASSERT(g.gl_pathc >= 3);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char *msgs = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&msgs, &n);
		int rc = config_load(g.gl_pathv[i], cfg, f);

		fclose(f);
		if (rc != 0)
			fprintf(stderr, "\n%s:\n%s", g.gl_pathv[i], msgs);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_STRING_EQUAL(msgs, "");
		CU_ASSERT(cfg->nexports >= 1);
		free(msgs);
	}
	globfree(&g);
	free(cfg);
}

static void load_example(const char *name, struct twinfs_config *cfg)
{
	char rel[256], path[1024];

	snprintf(rel, sizeof(rel), "config/examples/%s", name);
	src_path(path, sizeof(path), rel);
	CU_ASSERT_EQUAL_FATAL(config_load(path, cfg, stderr), 0);
}

static void test_example_quickstart(void)
{
	struct twinfs_config *cfg = cfg_new();
	const struct config_export *e = &cfg->exports[0];

	load_example("quickstart.conf", cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->nexports, 1);
	CU_ASSERT_EQUAL(e->id, 1);
	CU_ASSERT_STRING_EQUAL(e->path, "/srv/twinfs");
	CU_ASSERT_STRING_EQUAL(e->pseudo, "/srv/twinfs");
	CU_ASSERT_EQUAL(e->nclients, 1);
	CU_ASSERT_TRUE(allowed(e, "127.0.0.1"));
	CU_ASSERT_TRUE(allowed(e, "::ffff:127.0.0.1"));
	CU_ASSERT_FALSE(allowed(e, "127.0.0.2"));
	CU_ASSERT_FALSE(allowed(e, "::1"));
	free(cfg);
}

static void test_example_lan(void)
{
	struct twinfs_config *cfg = cfg_new();
	const struct config_export *rw = &cfg->exports[0], *ro = &cfg->exports[1];

	load_example("lan.conf", cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->nexports, 2);
	CU_ASSERT_EQUAL(cfg->threads, 16);
	CU_ASSERT_EQUAL(cfg->log_dest, LOG_DEST_SYSLOG);
	CU_ASSERT_FALSE(rw->read_only);
	CU_ASSERT_TRUE(rw->secure);
	CU_ASSERT_STRING_EQUAL(rw->pseudo, "/projects");
	CU_ASSERT_TRUE(allowed(rw, "192.168.10.77"));
	CU_ASSERT_TRUE(allowed(rw, "fd00:10::5"));
	CU_ASSERT_FALSE(allowed(rw, "192.168.11.1"));
	CU_ASSERT_TRUE(ro->read_only);
	CU_ASSERT_EQUAL(ro->squash, SQUASH_ALL);
	CU_ASSERT_EQUAL(ro->anonuid, 1500);
	CU_ASSERT_EQUAL(ro->anongid, 1500);
	CU_ASSERT_EQUAL(ro->nclients, 2);
	CU_ASSERT_EQUAL(ro->clients[0].prefix, 16);
	CU_ASSERT_TRUE(allowed(ro, "10.8.0.200"));
	CU_ASSERT_FALSE(allowed(ro, "10.8.1.1"));
	free(cfg);
}

/* full.conf names every key of the server and export blocks, each with its default (the
 * pair block's keys are named by pair-a.conf and pair-b.conf, see below). */
static void test_example_full(void)
{
	struct twinfs_config *cfg = cfg_new(), *def = cfg_new();
	struct config_export e;
	char path[1024], want[64];
	char *text;

	load_example("full.conf", cfg);
	config_defaults(def);
	CU_ASSERT_EQUAL_FATAL(cfg->nexports, 1);
	CU_ASSERT_EQUAL(memcmp(cfg, def, offsetof(struct twinfs_config, exports)), 0);
	memset(&e, 0, sizeof(e));
	config__apply_defaults(CONFIG__BLK_EXPORT, &e);
	CU_ASSERT_STRING_EQUAL(cfg->exports[0].fsal, e.fsal);
	CU_ASSERT_EQUAL(cfg->exports[0].squash, e.squash);
	CU_ASSERT_EQUAL(cfg->exports[0].anonuid, e.anonuid);
	CU_ASSERT_EQUAL(cfg->exports[0].secure, e.secure);
	src_path(path, sizeof(path), "config/examples/full.conf");
	text = read_whole(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_FALSE(cfg->pair.enabled);
	for (int id = 0; id < CONFIG__NKEYS; id++) {
		if (config__key(id)->block == CONFIG__BLK_PAIR)
			continue;
		snprintf(want, sizeof(want), "\t%s = ", config__key(id)->name);
		if (!strstr(text, want))
			FAIL_MSG(want);
	}
	free(text);
	free(def);
	free(cfg);
}

/* ---- error messages ---- */

static const struct {
	const char *text;
	const char *expect;
} bad_cases[] = {
    {"export {\n\tid = 1\n\tpath = /srv\n\tclients = *\n\tacess = ro\n}\n",
     "t.conf:5: unknown key 'acess' in block 'export'; expected one of: id, path, pseudo, "
     "fsal, fsal_options, clients, access, squash, anonuid, anongid, secure\n"},
    {"server {\n\tnfs_port = 70000\n}\n" EXPORT_OK,
     "t.conf:2: value '70000' for 'nfs_port' out of range; expected 1..65535\n"},
    {"server {\n\tthreads = 8x\n}\n" EXPORT_OK,
     "t.conf:2: value '8x' for 'threads' is not a number; expected an integer 1..256\n"},
    {"server {\n\tthreads = -1\n}\n" EXPORT_OK,
     "t.conf:2: value '-1' for 'threads' is not a number; expected an integer 1..256\n"},
    {"server {\n\tmax_io = 1G\n}\n" EXPORT_OK,
     "t.conf:2: value '1G' for 'max_io' is not a number; expected an integer "
     "4096..1048576 (4K..1M)\n"},
    {"server {\n\tbind = localhost\n}\n" EXPORT_OK,
     "t.conf:2: value 'localhost' for 'bind' is not an IP address; expected an IPv4 or "
     "IPv6 address such as 0.0.0.0 or ::\n"},
    {"server {\n\tlog = file\n}\n" EXPORT_OK,
     "t.conf:2: value 'file' for 'log' is not valid; expected one of: stderr, syslog\n"},
    {"server {\n\trpcbind = maybe\n}\n" EXPORT_OK,
     "t.conf:2: value 'maybe' for 'rpcbind' is not a boolean; expected true or false "
     "(also yes/no, on/off, 1/0)\n"},
    {"exports {\n\tid = 1\n}\n" EXPORT_OK,
     "t.conf:1: unknown block 'exports'; expected one of: server, export, pair\n"},
    {EXPORT_OK "}\n",
     "t.conf:6: stray '}' outside of any block; expected a block such as 'export {' "
     "before it\n"},
    {"export {\n\tid = 1\n\tpath = /srv\n\tclients = *\n",
     "t.conf:1: block 'export' is not closed; expected '}' before the end of the file\n"},
    {"export {\n\tid = 1\n\tpath = \"/srv\n\tclients = *\n}\n",
     "t.conf:3: unterminated string for 'path'; expected a closing '\"' on the same line\n"},
    {"export {\n\tid = 1\n\tpath = \"/srv\\\n\tclients = *\n}\n",
     "t.conf:3: unterminated string for 'path'; expected a closing '\"' on the same line\n"},
    {"export {\n\tid = 1\n\tpath = /srv\n\tclients = *\n\tpath = /x\n}\n",
     "t.conf:5: duplicate key 'path' in block 'export' (first set at line 3); expected "
     "each key at most once per block\n"},
    {EXPORT_OK "export {\n\tid = 1\n\tpath = /other\n\tclients = *\n}\n",
     "t.conf:7: export id 1 is already used by the export at line 1; expected a unique "
     "id\n"},
    {EXPORT_OK "export {\n\tid = 2\n\tpath = /srv/\n\tclients = *\n}\n",
     "t.conf:8: pseudo path '/srv' (taken from 'path') is already used by the export at "
     "line 1; expected a unique pseudo path\n"},
    {EXPORT_OK "export {\n\tid = 2\n\tpath = /other\n\tpseudo = /srv\n\tclients = *\n}\n",
     "t.conf:9: pseudo path '/srv' is already used by the export at line 1; expected a "
     "unique pseudo path\n"},
    {"export {\n\tid = 1\n\tpath = srv\n\tclients = *\n}\n",
     "t.conf:3: path 'srv' for 'path' is relative; expected an absolute path starting "
     "with '/'\n"},
    {"export {\n\tid = 1\n\tpath = /srv\n\tpseudo = ./srv\n\tclients = *\n}\n",
     "t.conf:4: path './srv' for 'pseudo' is relative; expected an absolute path starting "
     "with '/'\n"},
    {"export {\n\tid = 0\n\tpath = /srv\n\tclients = *\n}\n",
     "t.conf:2: value '0' for 'id' out of range; expected 1..2147483647\n"},
    {"server {\n\tmount_port = 2049\n}\n" EXPORT_OK,
     "t.conf:2: nfs_port and mount_port are both 2049; expected two different ports\n"},
    {"server {\n\tnfs_port = 111\n\tmount_port = 111\n}\n" EXPORT_OK,
     "t.conf:3: nfs_port and mount_port are both 111; expected two different ports\n"},
    {"server {\n\tmax_record = 64K\n}\n" EXPORT_OK,
     "t.conf:2: max_record 65536 is too small for max_io 1048576; expected at least "
     "max_io + 4096 = 1052672\n"},
    {"server {\n}\n", "t.conf:2: no export block; expected at least one 'export { ... }'\n"},
    {"", "t.conf:1: no export block; expected at least one 'export { ... }'\n"},
    {"export {\n\tpath = /srv\n}\n",
     "t.conf:1: block 'export' has no 'id'; expected 'id = ...' in every export block\n"
     "t.conf:1: block 'export' has no 'clients'; expected 'clients = ...' in every export "
     "block\n"},
    {"export {\n\tid = 1\n\tclients = *\n}\n",
     "t.conf:1: block 'export' has no 'path'; expected 'path = ...' in every export "
     "block\n"},
    {"threads = 4\n" EXPORT_OK,
     "t.conf:1: key 'threads' outside of a block; expected it inside 'server {', "
     "'export {' or 'pair {'\n"},
    {"server {\n}\nserver {\n\tthreads = x\n}\n" EXPORT_OK,
     "t.conf:3: second 'server' block (the first is at line 1); expected at most one\n"},
    {"export {\n\tid = 1\n\tpath = /srv\n\tclients = *\n\tacl {\n\tx = 1\n\t}\n}\n",
     "t.conf:5: block 'acl' opened inside block 'export' (line 1); expected '}' to close "
     "'export' first\n"},
    {"export {\n\tid = 1\n\tpath = /srv\n\tclients = 10.0.0.0/33\n}\n",
     "t.conf:4: client '10.0.0.0/33' in 'clients' is not valid; expected ADDR or "
     "ADDR/PREFIX (IPv4 /0../32, IPv6 /0../128) or *\n"},
    {"export {\n\tid = 1\n\tpath = /srv\n\tclients = 10.0.0.1,,10.0.0.2\n}\n",
     "t.conf:4: empty entry in 'clients'; expected 1..32 entries: ADDR, ADDR/PREFIX or *\n"},
    {"export {\n\tid = 1\n\tpath = /srv\n\tclients = \"\"\n}\n",
     "t.conf:4: empty list for 'clients'; expected 1..32 entries: ADDR, ADDR/PREFIX or *\n"},
    {"export {\n\tid = 1\n\tpath = /srv\n\tclients = *\n\tfsal = averyveryverylongname\n}\n",
     "t.conf:5: value for 'fsal' is 21 characters long; expected 1..15 characters\n"},
    {"export {\n\tid = 1\n\tpath = /srv\n\tclients = *\n\tfsal = \"\"\n}\n",
     "t.conf:5: value for 'fsal' is empty; expected 1..15 characters\n"},
    {"export {\n\tid = 1\n\tpath = /my share\n\tclients = *\n}\n",
     "t.conf:3: value '/my share' for 'path' contains blanks; expected one word, or a "
     "\"quoted string\"\n"},
    {"export {\n\tid = 1\n\tpath = \"/a\\tb\"\n\tclients = *\n}\n",
     "t.conf:3: unknown escape: backslash before 't' in the string for 'path'; expected "
     "\\\" or \\\\\n"},
    {"export {\n\tid = 1\n\tpath = \"/a\" x\n\tclients = *\n}\n",
     "t.conf:3: unexpected text after the string for 'path'; expected the end of the "
     "line\n"},
    {"export {\n\tid = 1\n\tpath = /a\"b\"\n\tclients = *\n}\n",
     "t.conf:3: stray '\"' in the value for 'path'; expected the whole value in double "
     "quotes\n"},
    {"export {\n\tid =   # nothing\n\tpath = /srv\n\tclients = *\n}\n",
     "t.conf:2: missing value for 'id'; expected 'id = value'\n"},
    {"export {\n\tid 1\n\tpath = /srv\n\tclients = *\n}\n",
     "t.conf:2: unexpected '1' after 'id'; expected '=' or '{'\n"},
    {"export {\n\tid\n\tpath = /srv\n\tclients = *\n}\n",
     "t.conf:2: 'id' alone on a line; expected 'id = value' or 'id {'\n"},
    {"export {\n\t= 1\n\tid = 1\n\tpath = /srv\n\tclients = *\n}\n",
     "t.conf:2: unexpected '='; expected a key, a block name or '}'\n"},
    {"export { id = 1\n\tid = 1\n\tpath = /srv\n\tclients = *\n}\n",
     "t.conf:1: unexpected text after 'export {'; expected the block's keys on the lines "
     "below\n"},
    {EXPORT_OK "server {\n} # ok\n} x\n",
     "t.conf:8: unexpected text after '}'; expected '}' alone on its line\n"
     "t.conf:8: stray '}' outside of any block; expected a block such as 'export {' "
     "before it\n"},
    {"export {\n\tid = 1\x01\n\tpath = /srv\n\tclients = *\n}\n",
     "t.conf:2: control character 0x01 at column 8; expected printable text\n"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa = 1\n" EXPORT_OK,
     "t.conf:1: name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is too long; expected at most 32 "
     "characters\n"},
};

static void test_bad_messages(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		int lines = 0;

		for (const char *s = bad_cases[i].expect; *s; s++)
			lines += *s == '\n';
		expect_errors(bad_cases[i].text, lines, bad_cases[i].expect);
	}
}

/* "# expect: LINE: message" comments in `text`, as "PATH:LINE: message" lines. */
static char *expected_from_comments(const char *path, const char *text)
{
	const char *tag = "# expect: ";
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	for (const char *s = strstr(text, tag); s; s = strstr(s, tag)) {
		s += strlen(tag);
		fprintf(f, "%s:%.*s\n", path, (int)strcspn(s, "\n"), s);
	}
	fclose(f);
	return out;
}

static void check_bad_file(const char *path)
{
	struct twinfs_config *cfg = cfg_new();
	char *text = read_whole(path), *expect, *msgs = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&msgs, &n);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	expect = expected_from_comments(path, text);
	rc = config_load(path, cfg, f);
	fclose(f);
	if (strcmp(msgs, expect) != 0)
		fprintf(stderr, "\n--- %s expected:\n%s--- got:\n%s", path, expect, msgs);
	CU_ASSERT(rc > 0);
	CU_ASSERT_STRING_EQUAL(msgs, expect);
	free(msgs);
	free(expect);
	free(text);
	free(cfg);
}

static void test_bad_files(void)
{
	char pattern[1024];
	glob_t g;

	src_path(pattern, sizeof(pattern), "config/bad/*.conf");
	CU_ASSERT_EQUAL_FATAL(glob(pattern, 0, NULL, &g), 0);
	CU_ASSERT(g.gl_pathc >= 1);
	for (size_t i = 0; i < g.gl_pathc; i++)
		check_bad_file(g.gl_pathv[i]);
	globfree(&g);
}

/* Three unrelated mistakes: three errors, one pass. */
static void test_three_errors(void)
{
	expect_errors("server {\n"
		      "\tnfs_port = 0\n"
		      "\tthreads = many\n"
		      "}\n"
		      "export {\n"
		      "\tid = 1\n"
		      "\tpath = /srv\n"
		      "\tclients = *\n"
		      "\taccess = rx\n"
		      "}\n",
		      3,
		      "t.conf:2: value '0' for 'nfs_port' out of range; expected 1..65535\n"
		      "t.conf:3: value 'many' for 'threads' is not a number; expected an integer "
		      "1..256\n"
		      "t.conf:9: value 'rx' for 'access' is not valid; expected one of: rw, ro\n");
}

/* 40 errors: 32 printed, the rest counted. */
static void test_error_cap(void)
{
	struct twinfs_config *cfg = cfg_new();
	char *text = NULL, *msgs;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	int rc, lines = 0;

	for (int i = 0; i < 40; i++)
		fprintf(f, "bogus%d {\n}\n", i);
	fputs(EXPORT_OK, f);
	fclose(f);
	rc = parse_msgs(text, cfg, &msgs);
	CU_ASSERT_EQUAL(rc, 40);
	for (const char *s = msgs; *s; s++)
		lines += *s == '\n';
	CU_ASSERT_EQUAL(lines, CONFIG_MAX_ERRORS + 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "t.conf:63: unknown block 'bogus31';"));
	CU_ASSERT_PTR_NULL(strstr(msgs, "bogus32"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "\nt.conf: 8 more errors\n"));
	CU_ASSERT_EQUAL(config_parse("t.conf", text, strlen(text), cfg, NULL), 40);
	free(msgs);
	free(text);
	free(cfg);
}

static void test_long_line(void)
{
	struct twinfs_config *cfg = cfg_new();
	char *text = malloc(16384), *msgs;
	int len = snprintf(text, 16384, "%s# ", EXPORT_OK);

	memset(text + len, 'x', 4094); /* "# " + 4094 = 4096: just fits */
	strcpy(text + len + 4094, "\n# ");
	memset(text + len + 4097, 'x', 4095); /* 4097 characters: one too many */
	strcpy(text + len + 4097 + 4095, "\n");
	CU_ASSERT_EQUAL(parse_msgs(text, cfg, &msgs), 1);
	CU_ASSERT_STRING_EQUAL(msgs, "t.conf:7: line is 4097 characters long; expected at most "
				     "4096\n");
	free(msgs);
	free(text);
	free(cfg);
}

static void test_file_limits(void)
{
	struct twinfs_config *cfg = cfg_new();
	char *big = calloc(1, CONFIG_MAX_FILE_SIZE + 2), *msgs = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&msgs, &n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, '\n', CONFIG_MAX_FILE_SIZE + 1);
	CU_ASSERT_EQUAL(config_parse("big.conf", big, CONFIG_MAX_FILE_SIZE + 1, cfg, f), 1);
	CU_ASSERT_EQUAL(config_load("/nonexistent/twinfs.conf", cfg, f), 1);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(msgs,
			       "big.conf: file is 1048577 bytes long; expected at most 1048576 "
			       "bytes\n"
			       "/nonexistent/twinfs.conf: cannot read the file (No such file or "
			       "directory); expected a readable file\n");
	/* Exactly at the limit is fine (blank lines, then one export). */
	memcpy(big + CONFIG_MAX_FILE_SIZE - strlen(EXPORT_OK), EXPORT_OK, strlen(EXPORT_OK));
	CU_ASSERT_EQUAL(config_parse("big.conf", big, CONFIG_MAX_FILE_SIZE, cfg, NULL), 0);
	CU_ASSERT_EQUAL(cfg->nexports, 1);
	free(msgs);
	free(big);
	free(cfg);
}

/* ---- values ---- */

/* A pair block with `key = value` and the other required keys, on IPv6 addresses (so
 * that service_prefix can reach 128). The shortest heartbeat leaves every other timer
 * free to take its whole range; heartbeat_ms itself gets the longest dead_ms and
 * lease_ms. */
static void pair_text(char *text, size_t n, const char *key, const char *value)
{
	bool hb = strcmp(key, "heartbeat_ms") == 0;

	snprintf(text, n, EXPORT_OK "pair {\n\t%s = %s\n%s%s%s%s%s%s}\n", key, value,
		 strcmp(key, "node_id") ? "\tnode_id = 1\n" : "",
		 strcmp(key, "peer_address") ? "\tpeer_address = 2001:db8::12\n" : "",
		 strcmp(key, "key_file") ? "\tkey_file = /etc/twinfs/peer.key\n" : "",
		 strcmp(key, "service_address") ? "\tservice_address = 2001:db8::100\n" : "",
		 strcmp(key, "service_interface") ? "\tservice_interface = eth0\n" : "",
		 hb ? "\tdead_ms = 60000\n\tlease_ms = 600000\n" : "\theartbeat_ms = 20\n");
}

/* Parses `key = value` in `block` and returns the number of errors. */
static int try_value(const char *block, const char *key, const char *value,
		     struct twinfs_config *cfg)
{
	char text[1024];

	/* The block's required keys, minus the one under test. */
	if (strcmp(block, "export") == 0)
		snprintf(text, sizeof(text), "export {\n\t%s = %s\n%s%s%s}\n", key, value,
			 strcmp(key, "id") ? "\tid = 1\n" : "",
			 strcmp(key, "path") ? "\tpath = /srv\n" : "",
			 strcmp(key, "clients") ? "\tclients = *\n" : "");
	else if (strcmp(block, "pair") == 0)
		pair_text(text, sizeof(text), key, value);
	else
		snprintf(text, sizeof(text), "server {\n\t%s = %s\n}\n" EXPORT_OK, key, value);
	return config_parse("t.conf", text, strlen(text), cfg, NULL);
}

static const struct {
	const char *block, *key, *value;
	int errors;
} bounds_cases[] = {
    {"server", "nfs_port", "0", 1},
    {"server", "nfs_port", "1", 0},
    {"server", "nfs_port", "65535", 0},
    {"server", "nfs_port", "65536", 1},
    {"server", "threads", "256", 0},
    {"server", "threads", "257", 1},
    {"server", "max_connections", "65536", 0},
    {"server", "max_connections", "65537", 1},
    {"server", "max_record", "1028K", 0},
    {"server", "max_record", "65535", 1},
    {"server", "max_record", "16M", 0},
    {"server", "max_record", "16777217", 1},
    {"server", "max_io", "4096", 0},
    {"server", "max_io", "4095", 1},
    {"server", "max_io", "1M", 0},
    {"server", "max_io", "1025K", 1},
    {"server", "threads", "99999999999999999999999999", 1},
    {"server", "threads", "4K", 1}, /* suffixes only for sizes */
    {"server", "bind", "::", 0},
    {"server", "bind", "fe80::1%eth0", 1},
    {"server", "state_dir", "var/lib", 1},
    {"export", "id", "2147483647", 0},
    {"export", "id", "2147483648", 1},
    {"export", "anonuid", "0", 0},
    {"export", "anonuid", "4294967294", 0},
    {"export", "anonuid", "4294967295", 1},
    {"export", "fsal", "mem", 0},
    {"export", "fsal", "sixteen_chars_xx", 1},
    /* pair: every key, at and beyond each bound */
    {"pair", "node_id", "0", 1},
    {"pair", "node_id", "1", 0},
    {"pair", "node_id", "2", 0},
    {"pair", "node_id", "3", 1},
    {"pair", "listen_address", "::", 0},
    {"pair", "listen_address", "2001:db8::11", 0},
    {"pair", "listen_address", "192.0.2.11", 0},
    {"pair", "listen_address", "nodea", 1},
    {"pair", "listen_address", "\"\"", 1},
    {"pair", "listen_port", "0", 1},
    {"pair", "listen_port", "1", 0},
    {"pair", "listen_port", "65535", 0},
    {"pair", "listen_port", "65536", 1},
    {"pair", "peer_address", "192.0.2.12", 0},
    {"pair", "peer_address", "nodeb", 1},
    {"pair", "peer_address", "\"\"", 1},
    {"pair", "peer_port", "0", 1},
    {"pair", "peer_port", "1", 0},
    {"pair", "peer_port", "65535", 0},
    {"pair", "peer_port", "65536", 1},
    {"pair", "peer_address2", "\"\"", 0},
    {"pair", "peer_address2", "198.51.100.12", 0},
    {"pair", "peer_address2", "fd00::12", 0},
    {"pair", "peer_address2", "nodeb", 1},
    {"pair", "key_file", "/etc/twinfs/peer.key", 0},
    {"pair", "key_file", "peer.key", 1},
    {"pair", "key_file", "\"\"", 1},
    {"pair", "service_address", "192.0.2.100", 0},
    {"pair", "service_address", "service.lan", 1},
    {"pair", "service_address", "\"\"", 1},
    {"pair", "service_prefix", "0", 1},
    {"pair", "service_prefix", "1", 0},
    {"pair", "service_prefix", "128", 0},
    {"pair", "service_prefix", "129", 1},
    {"pair", "service_interface", "eth0", 0},
    {"pair", "service_interface", "fifteen_chars_x", 0},
    {"pair", "service_interface", "sixteen_chars_xx", 1},
    {"pair", "service_interface", "\"\"", 1},
    {"pair", "service_interface", "\"eth 0\"", 1},
    {"pair", "service_interface", "\"eth\t0\"", 1},
    {"pair", "service_interface", "eth0:1", 1},
    {"pair", "service_interface", "net/eth0", 1},
    {"pair", "service_interface", ".", 1},
    {"pair", "service_interface", "..", 1},
    {"pair", "service_interface", "br-lan.10", 0},
    {"pair", "preferred", "yes", 0},
    {"pair", "preferred", "false", 0},
    {"pair", "preferred", "2", 1},
    {"pair", "heartbeat_ms", "19", 1},
    {"pair", "heartbeat_ms", "20", 0},
    {"pair", "heartbeat_ms", "10000", 0},
    {"pair", "heartbeat_ms", "10001", 1},
    {"pair", "dead_ms", "99", 1},
    {"pair", "dead_ms", "100", 0},
    {"pair", "dead_ms", "60000", 0},
    {"pair", "dead_ms", "60001", 1},
    {"pair", "drain_timeout_ms", "99", 1},
    {"pair", "drain_timeout_ms", "100", 0},
    {"pair", "drain_timeout_ms", "600000", 0},
    {"pair", "drain_timeout_ms", "600001", 1},
    {"pair", "release_timeout_ms", "99", 1},
    {"pair", "release_timeout_ms", "100", 0},
    {"pair", "release_timeout_ms", "600000", 0},
    {"pair", "release_timeout_ms", "600001", 1},
    {"pair", "stay_down_ms", "19", 1},
    {"pair", "stay_down_ms", "20", 0},
    {"pair", "stay_down_ms", "60000", 0},
    {"pair", "stay_down_ms", "60001", 1},
    {"pair", "release_hook", "\"\"", 0},
    {"pair", "release_hook", "/etc/twinfs/release", 0},
    {"pair", "release_hook", "release", 1},
    {"pair", "acquire_hook", "\"\"", 0},
    {"pair", "acquire_hook", "/etc/twinfs/acquire", 0},
    {"pair", "acquire_hook", "./acquire", 1},
    {"pair", "fence_command", "\"\"", 0},
    {"pair", "fence_command", "\"/usr/sbin/fence_ipmilan --ip 192.0.2.201\"", 0},
    {"pair", "fence_command", "fence_ipmilan", 1},
    {"pair", "lease_path", "\"\"", 0},
    {"pair", "lease_path", "/srv/shared/twinfs.lease", 0},
    {"pair", "lease_path", "twinfs.lease", 1},
    {"pair", "lease_ms", "499", 1},
    {"pair", "lease_ms", "500", 0},
    {"pair", "lease_ms", "600000", 0},
    {"pair", "lease_ms", "600001", 1},
    {"pair", "probe_interval_ms", "99", 1},
    {"pair", "probe_interval_ms", "100", 0},
    {"pair", "probe_interval_ms", "600000", 0},
    {"pair", "probe_interval_ms", "600001", 1},
    {"pair", "probe_timeout_ms", "99", 1},
    {"pair", "probe_timeout_ms", "100", 0},
    {"pair", "probe_timeout_ms", "600000", 0},
    {"pair", "probe_timeout_ms", "600001", 1},
    {"pair", "stuck_request_ms", "999", 1},
    {"pair", "stuck_request_ms", "1000", 0},
    {"pair", "stuck_request_ms", "3600000", 0},
    {"pair", "stuck_request_ms", "3600001", 1},
    {"pair", "stuck_request_ms", "30s", 1},
    {"pair", "probe_dir", "\"\"", 0},
    {"pair", "probe_dir", "/srv/shared/.twinfs", 0},
    {"pair", "probe_dir", "relative/dir", 1},
    {"pair", "mirror", "sync", 0},
    {"pair", "mirror", "async", 0},
    {"pair", "mirror", "off", 1},
    {"pair", "mirror_timeout_ms", "9", 1},
    {"pair", "mirror_timeout_ms", "10", 0},
    {"pair", "mirror_timeout_ms", "60000", 0},
    {"pair", "mirror_timeout_ms", "60001", 1},
};

static void test_bounds(void)
{
	struct twinfs_config *cfg = cfg_new();

	for (size_t i = 0; i < sizeof(bounds_cases) / sizeof(bounds_cases[0]); i++) {
		const char *key = bounds_cases[i].key, *value = bounds_cases[i].value;
		int rc = try_value(bounds_cases[i].block, key, value, cfg);

		if (rc != bounds_cases[i].errors)
			fprintf(stderr, "\n%s = %s: %d errors\n", key, value, rc);
		CU_ASSERT_EQUAL(rc, bounds_cases[i].errors);
	}
	free(cfg);
}

static void test_sizes(void)
{
	struct twinfs_config *cfg = cfg_new();

	CU_ASSERT_EQUAL(try_value("server", "max_record", "2m", cfg), 0);
	CU_ASSERT_EQUAL(cfg->max_record, 2 * 1024 * 1024);
	CU_ASSERT_EQUAL(try_value("server", "max_record", "1028K", cfg), 0);
	CU_ASSERT_EQUAL(cfg->max_record, 1052672);
	CU_ASSERT_EQUAL(try_value("server", "max_io", "64k", cfg), 0);
	CU_ASSERT_EQUAL(cfg->max_io, 65536);
	CU_ASSERT_EQUAL(try_value("server", "max_io", "8192", cfg), 0);
	CU_ASSERT_EQUAL(cfg->max_io, 8192);
	/* The smallest record is fine once max_io leaves room for the headers. */
	parse_ok("server {\n\tmax_io = 60K\n\tmax_record = 64K\n}\n" EXPORT_OK, cfg);
	CU_ASSERT_EQUAL(cfg->max_record, 65536);
	CU_ASSERT_EQUAL(cfg->max_io, 61440);
	free(cfg);
}

static void test_bools_and_enums(void)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes"};
	static const char *const no[] = {"false", "no", "off", "0", "OFF"};
	struct twinfs_config *cfg = cfg_new();

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		CU_ASSERT_EQUAL(try_value("export", "secure", yes[i], cfg), 0);
		CU_ASSERT_TRUE(cfg->exports[0].secure);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		CU_ASSERT_EQUAL(try_value("server", "rpcbind", no[i], cfg), 0);
		CU_ASSERT_FALSE(cfg->rpcbind);
	}
	CU_ASSERT_EQUAL(try_value("export", "secure", "2", cfg), 1);
	CU_ASSERT_EQUAL(try_value("export", "access", "ro", cfg), 0);
	CU_ASSERT_TRUE(cfg->exports[0].read_only);
	CU_ASSERT_EQUAL(try_value("export", "squash", "no_root_squash", cfg), 0);
	CU_ASSERT_EQUAL(cfg->exports[0].squash, SQUASH_NONE);
	CU_ASSERT_EQUAL(try_value("export", "squash", "all_squash", cfg), 0);
	CU_ASSERT_EQUAL(cfg->exports[0].squash, SQUASH_ALL);
	CU_ASSERT_EQUAL(try_value("server", "log_level", "debug", cfg), 0);
	CU_ASSERT_EQUAL(cfg->log_level, LOGL_DEBUG);
	CU_ASSERT_EQUAL(try_value("server", "log_level", "warn", cfg), 0);
	CU_ASSERT_EQUAL(cfg->log_level, LOGL_WARN);
	CU_ASSERT_EQUAL(try_value("server", "log", "syslog", cfg), 0);
	CU_ASSERT_EQUAL(cfg->log_dest, LOG_DEST_SYSLOG);
	free(cfg);
}

static void test_quoted_strings(void)
{
	struct twinfs_config *cfg = cfg_new();
	const struct config_export *e = &cfg->exports[0];

	parse_ok("# leading comment\n"
		 "export {   # comment after the brace\n"
		 "  id = \"7\"\n"
		 "\tpath = \"/srv/with space/#not a comment\"   # a comment\n"
		 "\tfsal_options = \"a=\\\"b\\\" c\\\\d\"\n"
		 "\tclients = 10.0.0.1 ,  10.0.0.2   # blanks around commas\n"
		 "}\r\n",
		 cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->nexports, 1);
	CU_ASSERT_EQUAL(e->id, 7);
	CU_ASSERT_STRING_EQUAL(e->path, "/srv/with space/#not a comment");
	CU_ASSERT_STRING_EQUAL(e->pseudo, "/srv/with space/#not a comment");
	CU_ASSERT_STRING_EQUAL(e->fsal_options, "a=\"b\" c\\d");
	CU_ASSERT_EQUAL(e->nclients, 2);
	CU_ASSERT_TRUE(allowed(e, "10.0.0.2"));
	CU_ASSERT_FALSE(allowed(e, "10.0.0.3"));
	free(cfg);
}

static void test_paths(void)
{
	struct twinfs_config *cfg = cfg_new();

	parse_ok("export {\n\tid = 1\n\tpath = /srv/a///\n\tclients = *\n}\n"
		 "export {\n\tid = 2\n\tpath = /\n\tpseudo = /b/\n\tclients = *\n}\n",
		 cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->nexports, 2);
	CU_ASSERT_STRING_EQUAL(cfg->exports[0].path, "/srv/a");
	CU_ASSERT_STRING_EQUAL(cfg->exports[0].pseudo, "/srv/a");
	CU_ASSERT_STRING_EQUAL(cfg->exports[1].path, "/");
	CU_ASSERT_STRING_EQUAL(cfg->exports[1].pseudo, "/b");
	CU_ASSERT_EQUAL(cfg->exports[1].line, 6);
	free(cfg);
}

/* CONFIG_MAX_EXPORTS blocks are fine, one more is an error; the same for clients. */
static void test_counts(void)
{
	struct twinfs_config *cfg = cfg_new();
	char *text = NULL, *msgs;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	for (int i = 1; i <= CONFIG_MAX_EXPORTS + 1; i++)
		fprintf(f, "export {\n\tid = %d\n\tpath = /e%d\n\tclients = *\n}\n", i, i);
	fclose(f);
	CU_ASSERT_EQUAL(parse_msgs(text, cfg, &msgs), 1);
	CU_ASSERT_STRING_EQUAL(msgs, "t.conf:321: too many export blocks; expected at most 64\n");
	CU_ASSERT_EQUAL(cfg->nexports, CONFIG_MAX_EXPORTS);
	CU_ASSERT_EQUAL(cfg->exports[63].id, 64);
	free(msgs);
	free(text);

	CU_ASSERT_EQUAL(
	    try_value("export", "clients",
		      "*, 1.0.0.1, 1.0.0.2, 1.0.0.3, 1.0.0.4, 1.0.0.5, 1.0.0.6, 1.0.0.7, "
		      "1.0.0.8, 1.0.0.9, 1.0.0.10, 1.0.0.11, 1.0.0.12, 1.0.0.13, "
		      "1.0.0.14, 1.0.0.15, 1.0.0.16, 1.0.0.17, 1.0.0.18, 1.0.0.19, "
		      "1.0.0.20, 1.0.0.21, 1.0.0.22, 1.0.0.23, 1.0.0.24, 1.0.0.25, "
		      "1.0.0.26, 1.0.0.27, 1.0.0.28, 1.0.0.29, 1.0.0.30",
		      cfg),
	    0);
	CU_ASSERT_EQUAL(cfg->exports[0].nclients, 32);
	CU_ASSERT_EQUAL(
	    try_value("export", "clients",
		      "*, 1.0.0.1, 1.0.0.2, 1.0.0.3, 1.0.0.4, 1.0.0.5, 1.0.0.6, 1.0.0.7, "
		      "1.0.0.8, 1.0.0.9, 1.0.0.10, 1.0.0.11, 1.0.0.12, 1.0.0.13, "
		      "1.0.0.14, 1.0.0.15, 1.0.0.16, 1.0.0.17, 1.0.0.18, 1.0.0.19, "
		      "1.0.0.20, 1.0.0.21, 1.0.0.22, 1.0.0.23, 1.0.0.24, 1.0.0.25, "
		      "1.0.0.26, 1.0.0.27, 1.0.0.28, 1.0.0.29, 1.0.0.30, 1.0.0.31",
		      cfg),
	    1);
	free(cfg);
}

/* ---- pair { } ---- */

static void test_pair_defaults(void)
{
	struct twinfs_config *cfg = cfg_new();
	const struct config_pair *c = &cfg->pair;

	memset(cfg, 0xa5, sizeof(*cfg));
	config_defaults(cfg);
	CU_ASSERT_FALSE(c->enabled);
	CU_ASSERT_EQUAL(c->node_id, 0); /* required: no default */
	CU_ASSERT_STRING_EQUAL(c->listen_address, "0.0.0.0");
	CU_ASSERT_EQUAL(c->listen_port, 7049);
	CU_ASSERT_STRING_EQUAL(c->peer_address, "");
	CU_ASSERT_EQUAL(c->peer_port, 7049);
	CU_ASSERT_STRING_EQUAL(c->peer_address2, "");
	CU_ASSERT_STRING_EQUAL(c->key_file, "");
	CU_ASSERT_STRING_EQUAL(c->service_address, "");
	CU_ASSERT_EQUAL(c->service_prefix, 24);
	CU_ASSERT_STRING_EQUAL(c->service_interface, "");
	CU_ASSERT_FALSE(c->preferred);
	CU_ASSERT_EQUAL(c->heartbeat_ms, 200);
	CU_ASSERT_EQUAL(c->dead_ms, 1000);
	CU_ASSERT_EQUAL(c->drain_timeout_ms, 10000);
	CU_ASSERT_EQUAL(c->release_timeout_ms, 30000);
	CU_ASSERT_EQUAL(c->stay_down_ms, 1000);
	CU_ASSERT_STRING_EQUAL(c->release_hook, "");
	CU_ASSERT_STRING_EQUAL(c->acquire_hook, "");
	CU_ASSERT_STRING_EQUAL(c->fence_command, "");
	CU_ASSERT_STRING_EQUAL(c->lease_path, "");
	CU_ASSERT_EQUAL(c->lease_ms, 3000);
	CU_ASSERT_EQUAL(c->probe_interval_ms, 1000);
	CU_ASSERT_EQUAL(c->probe_timeout_ms, 2000);
	CU_ASSERT_EQUAL(c->stuck_request_ms, 30000);
	CU_ASSERT_STRING_EQUAL(c->probe_dir, "");
	CU_ASSERT_EQUAL(c->mirror, MIRROR_SYNC);
	CU_ASSERT_EQUAL(c->mirror_timeout_ms, 1000);
	/* The defaults pass the checks between the keys. */
	CU_ASSERT(c->dead_ms >= 3 * c->heartbeat_ms);
	CU_ASSERT(c->lease_ms > 2 * c->heartbeat_ms);
	free(cfg);
}

/* No pair block: a single node, the pair at its defaults. */
static void test_pair_absent(void)
{
	struct twinfs_config *cfg = cfg_new(), *def = cfg_new();

	config_defaults(def);
	memset(cfg, 0xa5, sizeof(*cfg));
	parse_ok("server {\n\tbind = 10.0.0.1\n}\n" EXPORT_OK, cfg);
	CU_ASSERT_FALSE(cfg->pair.enabled);
	CU_ASSERT_EQUAL(memcmp(&cfg->pair, &def->pair, sizeof(def->pair)), 0);
	load_example("lan.conf", cfg);
	CU_ASSERT_FALSE(cfg->pair.enabled);
	free(def);
	free(cfg);
}

/* The required keys only: present, everything else at its default. */
static void test_pair_minimal(void)
{
	struct twinfs_config *cfg = cfg_new(), *def = cfg_new();
	struct config_pair want;

	config_defaults(def);
	parse_ok(PAIR_OK EXPORT_OK, cfg);
	want = def->pair;
	want.enabled = true;
	want.node_id = 1;
	strcpy(want.peer_address, "192.0.2.12");
	strcpy(want.key_file, "/etc/twinfs/peer.key");
	strcpy(want.service_address, "192.0.2.100");
	strcpy(want.service_interface, "eth0");
	CU_ASSERT_EQUAL(memcmp(&cfg->pair, &want, sizeof(want)), 0);
	CU_ASSERT_EQUAL(cfg->nexports, 1);
	free(def);
	free(cfg);
}

/* Every pair key has at least one accepted and one refused value in bounds_cases. */
static void test_pair_bounds_cover(void)
{
	for (int id = 0; id < CONFIG__NKEYS; id++) {
		const struct config__key *k = config__key(id);
		bool ok = false, bad = false;

		if (k->block != CONFIG__BLK_PAIR)
			continue;
		for (size_t i = 0; i < sizeof(bounds_cases) / sizeof(bounds_cases[0]); i++) {
			if (strcmp(bounds_cases[i].block, "pair") != 0 ||
			    strcmp(bounds_cases[i].key, k->name) != 0)
				continue;
			ok |= bounds_cases[i].errors == 0;
			bad |= bounds_cases[i].errors != 0;
		}
		if (!ok || !bad)
			FAIL_MSG(k->name);
	}
}

static void test_pair_values(void)
{
	struct twinfs_config *cfg = cfg_new();
	const struct config_pair *c = &cfg->pair;

	CU_ASSERT_EQUAL(
	    try_value("pair", "fence_command", "\"/usr/sbin/fence_ipmilan --ip 192.0.2.201\"", cfg),
	    0);
	CU_ASSERT_STRING_EQUAL(c->fence_command, "/usr/sbin/fence_ipmilan --ip 192.0.2.201");
	CU_ASSERT_TRUE(c->enabled);
	CU_ASSERT_EQUAL(try_value("pair", "lease_path", "/srv/shared/lease/", cfg), 0);
	CU_ASSERT_STRING_EQUAL(c->lease_path, "/srv/shared/lease");
	CU_ASSERT_EQUAL(try_value("pair", "release_hook", "\"\"", cfg), 0);
	CU_ASSERT_STRING_EQUAL(c->release_hook, "");
	CU_ASSERT_EQUAL(try_value("pair", "peer_address2", "fd00::12", cfg), 0);
	CU_ASSERT_STRING_EQUAL(c->peer_address2, "fd00::12");
	CU_ASSERT_EQUAL(try_value("pair", "service_prefix", "64", cfg), 0);
	CU_ASSERT_EQUAL(c->service_prefix, 64);
	CU_ASSERT_STRING_EQUAL(c->service_address, "2001:db8::100");
	CU_ASSERT_EQUAL(try_value("pair", "node_id", "2", cfg), 0);
	CU_ASSERT_EQUAL(c->node_id, 2);
	CU_ASSERT_EQUAL(try_value("pair", "preferred", "on", cfg), 0);
	CU_ASSERT_TRUE(c->preferred);
	CU_ASSERT_EQUAL(try_value("pair", "heartbeat_ms", "10000", cfg), 0);
	CU_ASSERT_EQUAL(c->heartbeat_ms, 10000);
	CU_ASSERT_EQUAL(c->dead_ms, 60000);
	CU_ASSERT_EQUAL(try_value("pair", "stuck_request_ms", "3600000", cfg), 0);
	CU_ASSERT_EQUAL(c->stuck_request_ms, 3600000);
	CU_ASSERT_EQUAL(try_value("pair", "service_interface", "\"br-lan.10\"", cfg), 0);
	CU_ASSERT_STRING_EQUAL(c->service_interface, "br-lan.10");
	free(cfg);
}

/* Each check between keys, with its exact message; PAIR_WITH's extra lines start at 12. */
static const struct {
	const char *text;
	const char *expect;
} pair_bad_cases[] = {
    {EXPORT_OK "pair {\n}\n",
     "t.conf:6: block 'pair' has no 'node_id'; expected 'node_id = ...' in every pair block\n"
     "t.conf:6: block 'pair' has no 'peer_address'; expected 'peer_address = ...' in every "
     "pair block\n"
     "t.conf:6: block 'pair' has no 'key_file'; expected 'key_file = ...' in every pair "
     "block\n"
     "t.conf:6: block 'pair' has no 'service_address'; expected 'service_address = ...' in "
     "every pair block\n"
     "t.conf:6: block 'pair' has no 'service_interface'; expected 'service_interface = ...' "
     "in every pair block\n"},
    {PAIR_WITH("\theartbeat_ms = 500\n"),
     "t.conf:12: dead_ms 1000 is too short for heartbeat_ms 500; expected at least 3 x "
     "heartbeat_ms = 1500\n"},
    {PAIR_WITH("\tdead_ms = 599\n"),
     "t.conf:12: dead_ms 599 is too short for heartbeat_ms 200; expected at least 3 x "
     "heartbeat_ms = 600\n"},
    {PAIR_WITH("\tdead_ms = 2000\n\theartbeat_ms = 1000\n\tlease_ms = 5000\n"),
     "t.conf:13: dead_ms 2000 is too short for heartbeat_ms 1000; expected at least 3 x "
     "heartbeat_ms = 3000\n"},
    {PAIR_WITH("\tlease_ms = 500\n\theartbeat_ms = 250\n"),
     "t.conf:13: lease_ms 500 is too short for heartbeat_ms 250; expected more than 2 x "
     "heartbeat_ms = 500\n"},
    {PAIR_WITH("\theartbeat_ms = 2000\n\tdead_ms = 6000\n"),
     "t.conf:12: lease_ms 3000 is too short for heartbeat_ms 2000; expected more than 2 x "
     "heartbeat_ms = 4000\n"},
    {PAIR_WITH("\tservice_prefix = 33\n"),
     "t.conf:12: service_prefix 33 is too long for the IPv4 service_address 192.0.2.100; "
     "expected 1..32 for an IPv4 address\n"},
    {PAIR_WITH("\tlisten_address = 192.0.2.12\n"),
     "t.conf:12: peer_address and listen_address are both 192.0.2.12; expected the "
     "partner's address as peer_address (listen_address is this node's own)\n"},
    {PAIR_WITH("\tlisten_address = ::ffff:192.0.2.12\n"),
     "t.conf:12: peer_address and listen_address are both 192.0.2.12; expected the "
     "partner's address as peer_address (listen_address is this node's own)\n"},
    {"server {\n\tbind = 192.0.2.11\n}\n" PAIR_OK EXPORT_OK,
     "t.conf:2: bind 192.0.2.11 is neither a wildcard nor the pair's service_address "
     "192.0.2.100 (line 8); expected 0.0.0.0, :: or 192.0.2.100, because clients mount the "
     "service address and it moves between the nodes\n"},
    /* the server block after the pair: the check waits for the end of the file */
    {PAIR_WITH("") "server {\n\tbind = 127.0.0.1\n}\n",
     "t.conf:14: bind 127.0.0.1 is neither a wildcard nor the pair's service_address "
     "192.0.2.100 (line 10); expected 0.0.0.0, :: or 192.0.2.100, because clients mount the "
     "service address and it moves between the nodes\n"},
    {PAIR_WITH("") "pair {\n\tnode_id = 2\n}\n",
     "t.conf:13: second 'pair' block (the first is at line 6); expected at most one\n"},
    {PAIR_WITH("\tnode_id = 2\n"),
     "t.conf:12: duplicate key 'node_id' in block 'pair' (first set at line 7); expected "
     "each key at most once per block\n"},
    {PAIR_WITH("\tpeer_address2 = ::\n"),
     "t.conf:12: peer_address2 :: is a wildcard; expected the partner's own address, which "
     "this node connects to\n"},
    {EXPORT_OK "pair {\n\tnode_id = 1\n\tpeer_address = 0.0.0.0\n\tkey_file = /k\n"
	       "\tservice_address = 192.0.2.100\n\tservice_interface = eth0\n}\n",
     "t.conf:8: peer_address 0.0.0.0 is a wildcard; expected the partner's own address, which "
     "this node connects to\n"},
    {PAIR_WITH("\tpeer_address2 = any\n"),
     "t.conf:12: value 'any' for 'peer_address2' is not an IP address; expected an IPv4 or "
     "IPv6 address such as 0.0.0.0 or ::, or \"\" for none\n"},
    {PAIR_WITH("\tacquire_hook = acquire.sh\n"),
     "t.conf:12: path 'acquire.sh' for 'acquire_hook' is relative; expected an absolute path "
     "starting with '/', or \"\" for none\n"},
    {PAIR_WITH("\tlease_path = \"/srv/my lease\" x\n"),
     "t.conf:12: unexpected text after the string for 'lease_path'; expected the end of the "
     "line\n"},
    {EXPORT_OK
     "pair {\n\tnode_id = 1\n\tpeer_address = 192.0.2.12\n"
     "\tkey_file = /k\n\tservice_address = 192.0.2.100\n\tservice_interface = eth0:1\n}\n",
     "t.conf:11: value 'eth0:1' for 'service_interface' is not an interface name; expected "
     "1..15 characters, no '/', ':' or blanks, such as eth0\n"},
    {PAIR_WITH("\tbind = 0.0.0.0\n"),
     "t.conf:12: unknown key 'bind' in block 'pair'; expected one of: node_id, "
     "listen_address, listen_port, peer_address, peer_port, peer_address2, key_file, "
     "service_address, service_prefix, service_interface, preferred, heartbeat_ms, dead_ms, "
     "drain_timeout_ms, release_timeout_ms, stay_down_ms, release_hook, acquire_hook, "
     "fence_command, lease_path, lease_ms, probe_interval_ms, probe_timeout_ms, "
     "stuck_request_ms, probe_dir, mirror, mirror_timeout_ms\n"},
    {"node_id = 1\n" EXPORT_OK,
     "t.conf:1: key 'node_id' outside of a block; expected it inside 'server {', 'export {' "
     "or 'pair {'\n"},
    {"pair {\n\tnode_id = 1\n\texport {\n\t}\n}\n" EXPORT_OK,
     "t.conf:3: block 'export' opened inside block 'pair' (line 1); expected '}' to close "
     "'pair' first\n"
     "t.conf:1: block 'pair' has no 'peer_address'; expected 'peer_address = ...' in every "
     "pair block\n"
     "t.conf:1: block 'pair' has no 'key_file'; expected 'key_file = ...' in every pair "
     "block\n"
     "t.conf:1: block 'pair' has no 'service_address'; expected 'service_address = ...' in "
     "every pair block\n"
     "t.conf:1: block 'pair' has no 'service_interface'; expected 'service_interface = ...' "
     "in every pair block\n"},
};

static void test_pair_checks(void)
{
	for (size_t i = 0; i < sizeof(pair_bad_cases) / sizeof(pair_bad_cases[0]); i++) {
		int lines = 0;

		for (const char *s = pair_bad_cases[i].expect; *s; s++)
			lines += *s == '\n';
		expect_errors(pair_bad_cases[i].text, lines, pair_bad_cases[i].expect);
	}
}

/* A rejected value does not feed a check between keys. */
static void test_pair_no_follow_on(void)
{
	expect_errors(PAIR_WITH("\theartbeat_ms = 5\n"), 1,
		      "t.conf:12: value '5' for 'heartbeat_ms' out of range; expected "
		      "20..10000\n");
	/* dead_ms fits the heartbeat meant, not the default 200 that stays in its place */
	expect_errors(PAIR_WITH("\theartbeat_ms = 5\n\tdead_ms = 500\n"), 1,
		      "t.conf:12: value '5' for 'heartbeat_ms' out of range; expected "
		      "20..10000\n");
	expect_errors(PAIR_WITH("\tservice_prefix = 200\n"), 1,
		      "t.conf:12: value '200' for 'service_prefix' out of range; expected "
		      "1..128\n");
	expect_errors(PAIR_WITH("\tlisten_address = 192.0.2.12x\n"), 1,
		      "t.conf:12: value '192.0.2.12x' for 'listen_address' is not an IP address; "
		      "expected an IPv4 or IPv6 address such as 0.0.0.0 or ::\n");
	/* no service address: no bind check, only the missing key */
	expect_errors("server {\n\tbind = 10.0.0.1\n}\n" EXPORT_OK
		      "pair {\n\tnode_id = 1\n\tpeer_address = 192.0.2.12\n\tkey_file = /k\n"
		      "\tservice_interface = eth0\n}\n",
		      1,
		      "t.conf:9: block 'pair' has no 'service_address'; expected "
		      "'service_address = ...' in every pair block\n");
	/* a refused bind is not compared with the service address */
	expect_errors("server {\n\tbind = 10.0.0.300\n}\n" PAIR_OK EXPORT_OK, 1,
		      "t.conf:2: value '10.0.0.300' for 'bind' is not an IP address; expected an "
		      "IPv4 or IPv6 address such as 0.0.0.0 or ::\n");
}

/* What the checks let through, at their edges. */
static void test_pair_checks_pass(void)
{
	static const char *const ok[] = {
	    PAIR_WITH("\tdead_ms = 600\n"), /* = 3 x 200 */
	    PAIR_WITH("\tlease_ms = 500\n\theartbeat_ms = 249\n\tdead_ms = 747\n"),
	    PAIR_WITH("\tservice_prefix = 32\n"),
	    PAIR_WITH("\tlisten_address = 192.0.2.11\n"),
	    PAIR_WITH("\tlisten_address = ::\n"),	 /* a wildcard is never the peer */
	    PAIR_WITH("\tpeer_address2 = 192.0.2.12\n"), /* not checked against the others */
	    "server {\n\tbind = 0.0.0.0\n}\n" PAIR_OK EXPORT_OK,
	    "server {\n\tbind = ::\n}\n" PAIR_OK EXPORT_OK,
	    "server {\n\tbind = 192.0.2.100\n}\n" PAIR_OK EXPORT_OK,
	    "server {\n\tbind = ::ffff:192.0.2.100\n}\n" PAIR_OK EXPORT_OK,
	    PAIR_WITH("") "server {\n\tbind = 192.0.2.100\n}\n",
	    EXPORT_OK "pair {\n\tnode_id = 2\n\tpeer_address = 2001:db8::11\n\tkey_file = /k\n"
		      "\tservice_address = 2001:db8::100\n\tservice_prefix = 128\n"
		      "\tservice_interface = eth0\n\tlisten_address = 2001:db8::12\n}\n"
		      "server {\n\tbind = 2001:DB8:0::100\n}\n",
	};
	struct twinfs_config *cfg = cfg_new();

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		parse_ok(ok[i], cfg);
		CU_ASSERT_TRUE(cfg->pair.enabled);
	}
	free(cfg);
}

/* The two nodes of the example pair: both parse, each is the other's partner, and the
 * files differ only on the lines that name this node. */
static void test_example_pair(void)
{
	struct twinfs_config *a = cfg_new(), *b = cfg_new();

	load_example("pair-a.conf", a);
	load_example("pair-b.conf", b);
	CU_ASSERT_TRUE(a->pair.enabled);
	CU_ASSERT_TRUE(b->pair.enabled);
	CU_ASSERT_EQUAL(a->pair.node_id, 1);
	CU_ASSERT_EQUAL(b->pair.node_id, 2);
	CU_ASSERT_STRING_EQUAL(a->pair.listen_address, "192.0.2.11");
	CU_ASSERT_STRING_EQUAL(b->pair.listen_address, "192.0.2.12");
	CU_ASSERT_STRING_EQUAL(a->pair.peer_address, b->pair.listen_address);
	CU_ASSERT_STRING_EQUAL(b->pair.peer_address, a->pair.listen_address);
	CU_ASSERT_EQUAL(a->pair.peer_port, b->pair.listen_port);
	CU_ASSERT_EQUAL(b->pair.peer_port, a->pair.listen_port);
	CU_ASSERT_TRUE(a->pair.preferred);
	CU_ASSERT_FALSE(b->pair.preferred);
	CU_ASSERT_STRING_EQUAL(a->pair.service_address, "192.0.2.100");
	CU_ASSERT_EQUAL(a->pair.service_prefix, 24);
	CU_ASSERT_STRING_EQUAL(a->pair.service_interface, "eth0");
	CU_ASSERT_STRING_EQUAL(a->pair.key_file, "/etc/twinfs/peer.key");
	CU_ASSERT_STRING_EQUAL(a->bind, "192.0.2.100");
	/* What the two nodes share is equal: service, key, timers, exports. */
	CU_ASSERT_STRING_EQUAL(a->pair.service_address, b->pair.service_address);
	CU_ASSERT_STRING_EQUAL(a->pair.key_file, b->pair.key_file);
	CU_ASSERT_STRING_EQUAL(a->pair.lease_path, b->pair.lease_path);
	CU_ASSERT_EQUAL(a->pair.heartbeat_ms, b->pair.heartbeat_ms);
	CU_ASSERT_EQUAL(a->pair.dead_ms, b->pair.dead_ms);
	CU_ASSERT_EQUAL(a->pair.lease_ms, b->pair.lease_ms);
	CU_ASSERT_EQUAL_FATAL(a->nexports, b->nexports);
	CU_ASSERT_EQUAL(memcmp(a->exports, b->exports, a->nexports * sizeof(a->exports[0])), 0);
	free(b);
	free(a);
}

/* Is `line` an assignment to one of the keys that name this node? */
static bool names_this_node(const char *line, size_t len)
{
	static const char *const keys[] = {"node_id", "listen_address", "peer_address",
					   "preferred"};
	char want[64];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(want, sizeof(want), "\t%s = ", keys[i]);
		if (len >= strlen(want) && strncmp(line, want, strlen(want)) == 0)
			return true;
	}
	return false;
}

static const char *next_line(const char *s)
{
	s += strcspn(s, "\n");
	return *s ? s + 1 : s;
}

/* `diff pair-a.conf pair-b.conf` shows the four lines that name the node, nothing else;
 * and between them the two files name every key of the pair block. */
static void test_example_pair_diff(void)
{
	char pa[1024], pb[1024], want[64];
	char *ta, *tb;
	const char *a, *b;
	int differ = 0;

	src_path(pa, sizeof(pa), "config/examples/pair-a.conf");
	src_path(pb, sizeof(pb), "config/examples/pair-b.conf");
	ta = read_whole(pa);
	tb = read_whole(pb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ta);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
	for (a = ta, b = tb; *a || *b; a = next_line(a), b = next_line(b)) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");

		if (la == lb && memcmp(a, b, la) == 0)
			continue;
		differ++;
		if (!names_this_node(a, la) || !names_this_node(b, lb))
			FAIL_MSG("pair-a.conf and pair-b.conf differ on another line");
	}
	CU_ASSERT_EQUAL(differ, 4);
	for (int id = 0; id < CONFIG__NKEYS; id++) {
		snprintf(want, sizeof(want), "\t%s = ", config__key(id)->name);
		if (config__key(id)->block == CONFIG__BLK_PAIR &&
		    (!strstr(ta, want) || !strstr(tb, want)))
			FAIL_MSG(want);
	}
	free(tb);
	free(ta);
}

/* ---- access lists ---- */

static void test_parse_client(void)
{
	static const char *const bad[] = {
	    "",		  "/8",		"10.0.0.0/", "10.0.0.0/33",  "::/129",	    "10.0.0.0/08",
	    "10.0.0",	  "1.2.3.4/8x", "host.lan",  " 10.0.0.1",    "10.0.0.1/-1", "*",
	    "1.2.3.4/+8", "1.2.3.4//8", "::1 ",	     "10.0.0.1/1000"};
	struct config_client c;

	CU_ASSERT_EQUAL(config_parse_client("10.1.2.3", &c), 0);
	CU_ASSERT_EQUAL(c.family, AF_INET);
	CU_ASSERT_EQUAL(c.prefix, 32);
	CU_ASSERT(c.addr[0] == 10 && c.addr[1] == 1 && c.addr[2] == 2 && c.addr[3] == 3);
	CU_ASSERT_EQUAL(config_parse_client("10.0.0.0/8", &c), 0);
	CU_ASSERT_EQUAL(c.prefix, 8);
	CU_ASSERT_EQUAL(config_parse_client("0.0.0.0/0", &c), 0);
	CU_ASSERT_EQUAL(c.prefix, 0);
	CU_ASSERT_EQUAL(config_parse_client("::1", &c), 0);
	CU_ASSERT_EQUAL(c.family, AF_INET6);
	CU_ASSERT_EQUAL(c.prefix, 128);
	CU_ASSERT_EQUAL(c.addr[15], 1);
	CU_ASSERT_EQUAL(config_parse_client("2001:db8::/32", &c), 0);
	CU_ASSERT_EQUAL(c.prefix, 32);
	CU_ASSERT_EQUAL(c.addr[0], 0x20);
	/* A mapped entry is the IPv4 entry it stands for. */
	CU_ASSERT_EQUAL(config_parse_client("::ffff:10.0.0.0/104", &c), 0);
	CU_ASSERT_EQUAL(c.family, AF_INET);
	CU_ASSERT_EQUAL(c.prefix, 8);
	CU_ASSERT_EQUAL(c.addr[0], 10);
	CU_ASSERT_EQUAL(config_parse_client("::ffff:0:0/64", &c), 0);
	CU_ASSERT_EQUAL(c.family, AF_INET6); /* shorter than /96: not an IPv4 range */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (config_parse_client(bad[i], &c) != -EINVAL)
			FAIL_MSG(bad[i]);
	}
	CU_ASSERT_EQUAL(config_parse_client(NULL, &c), -EINVAL);
}

static void test_allowed_v4(void)
{
	struct config_export e;

	export_with(&e, "192.168.1.0/24");
	CU_ASSERT_TRUE(allowed(&e, "192.168.1.0"));
	CU_ASSERT_TRUE(allowed(&e, "192.168.1.255"));
	CU_ASSERT_FALSE(allowed(&e, "192.168.0.255"));
	CU_ASSERT_FALSE(allowed(&e, "192.168.2.0"));
	export_with(&e, "10.0.0.0/25");
	CU_ASSERT_TRUE(allowed(&e, "10.0.0.127"));
	CU_ASSERT_FALSE(allowed(&e, "10.0.0.128"));
	export_with(&e, "10.9.8.7/32");
	CU_ASSERT_TRUE(allowed(&e, "10.9.8.7"));
	CU_ASSERT_FALSE(allowed(&e, "10.9.8.6"));
	export_with(&e, "10.255.255.255/8"); /* host bits are ignored */
	CU_ASSERT_TRUE(allowed(&e, "10.0.0.1"));
	CU_ASSERT_FALSE(allowed(&e, "11.0.0.1"));
	export_with(&e, "0.0.0.0/0");
	CU_ASSERT_TRUE(allowed(&e, "1.2.3.4"));
	CU_ASSERT_TRUE(allowed(&e, "255.255.255.255"));
	CU_ASSERT_TRUE(allowed(&e, "::ffff:1.2.3.4"));
	CU_ASSERT_FALSE(allowed(&e, "2001:db8::1")); /* an IPv4 list admits no IPv6 client */
}

static void test_allowed_v6_and_mapped(void)
{
	struct config_export e;

	export_with(&e, "2001:db8::/32, ::1");
	CU_ASSERT_TRUE(allowed(&e, "2001:db8:ffff::1"));
	CU_ASSERT_FALSE(allowed(&e, "2001:db9::1"));
	CU_ASSERT_TRUE(allowed(&e, "::1"));
	CU_ASSERT_FALSE(allowed(&e, "::2"));
	CU_ASSERT_FALSE(allowed(&e, "127.0.0.1"));
	export_with(&e, "192.168.1.0/24");
	CU_ASSERT_TRUE(allowed(&e, "::ffff:192.168.1.9"));
	CU_ASSERT_FALSE(allowed(&e, "::ffff:192.168.2.9"));
	CU_ASSERT_FALSE(allowed(&e, "::192.168.1.9")); /* IPv4-compatible is not mapped */
	export_with(&e, "::ffff:192.168.1.0/120");
	CU_ASSERT_TRUE(allowed(&e, "192.168.1.9"));
	CU_ASSERT_TRUE(allowed(&e, "::ffff:192.168.1.9"));
	CU_ASSERT_FALSE(allowed(&e, "192.168.2.9"));
	export_with(&e, "::/0");
	CU_ASSERT_TRUE(allowed(&e, "fe80::1"));
	CU_ASSERT_FALSE(allowed(&e, "10.0.0.1"));
	export_with(&e, "*");
	CU_ASSERT_TRUE(allowed(&e, "10.0.0.1"));
	CU_ASSERT_TRUE(allowed(&e, "fe80::1"));
}

static void test_allowed_edges(void)
{
	struct config_export e;
	struct sockaddr_storage ss;

	export_with(&e, "*");
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	CU_ASSERT_FALSE(config_client_allowed(&e, (struct sockaddr *)&ss));
	CU_ASSERT_FALSE(config_client_allowed(&e, NULL));
	CU_ASSERT_FALSE(config_client_allowed(NULL, (struct sockaddr *)&ss));
	e.nclients = 0;
	CU_ASSERT_FALSE(allowed(&e, "10.0.0.1"));
}

/* ---- reference ---- */

static char *reference_text(void)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	config_print_reference(f);
	fclose(f);
	return out;
}

static void test_reference(void)
{
	char *ref = reference_text(), row[64];

	CU_ASSERT_PTR_NOT_NULL(strstr(ref, "### `server { }`"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ref, "### `export { }`"));
	for (int id = 0; id < CONFIG__NKEYS; id++) {
		snprintf(row, sizeof(row), "| `%s` | ", config__key(id)->name);
		if (!strstr(ref, row))
			FAIL_MSG(row);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(ref, "| `nfs_port` | port | `2049` | 1..65535 |"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
	    ref, "| `max_record` | size | `1052672` (1028K) | 65536..16777216 (64K..16M) |"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ref, "| `squash` | enum | `root_squash` | one of: "
					   "root_squash, no_root_squash, all_squash |"));
	free(ref);
}

/* docs/config.md embeds the generated reference; a stale copy fails here. */
static void test_reference_in_docs(void)
{
	char path[1024];
	char *ref = reference_text(), *doc;

	src_path(path, sizeof(path), "docs/config.md");
	doc = read_whole(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	if (!strstr(doc, ref))
		fprintf(stderr,
			"\ndocs/config.md does not contain the output of "
			"config_print_reference():\n%s",
			ref);
	CU_ASSERT_PTR_NOT_NULL(strstr(doc, ref));
	free(doc);
	free(ref);
}

/* ---- robustness: mutated examples never crash (ASan/UBSan watch the accesses) ---- */

static uint32_t next_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static void mutate(char *buf, size_t *len, size_t cap, uint32_t *rnd)
{
	static const char alphabet[] = "{}=\"\\#\n\t ,/*:.0123456789abcxyz\r\x01\x7f\xff";
	size_t pos = *len ? next_random(rnd) % *len : 0;

	switch (next_random(rnd) % 4) {
	case 0: /* replace a byte */
		if (*len)
			buf[pos] = alphabet[next_random(rnd) % (sizeof(alphabet) - 1)];
		break;
	case 1: /* insert a byte */
		if (*len < cap) {
			memmove(buf + pos + 1, buf + pos, *len - pos);
			buf[pos] = alphabet[next_random(rnd) % (sizeof(alphabet) - 1)];
			(*len)++;
		}
		break;
	case 2: /* delete a byte */
		if (*len) {
			memmove(buf + pos, buf + pos + 1, *len - pos - 1);
			(*len)--;
		}
		break;
	default: /* cut the file short */
		*len = pos;
		break;
	}
}

static void mutate_example(const char *name, uint32_t *rnd)
{
	struct twinfs_config *cfg = cfg_new();
	char rel[256], path[1024];
	char *orig, *buf;
	size_t cap = 16384;

	snprintf(rel, sizeof(rel), "config/examples/%s", name);
	src_path(path, sizeof(path), rel);
	orig = read_whole(path);
	buf = malloc(cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	CU_ASSERT_FATAL(strlen(orig) < cap);
	for (int round = 0; round < 2000; round++) {
		size_t len = strlen(orig);

		memcpy(buf, orig, len); /* not NUL-terminated: the parser must honour len */
		for (int m = 0; m <= round % 8; m++)
			mutate(buf, &len, cap, rnd);
		CU_ASSERT(config_parse("m.conf", buf, len, cfg, NULL) >= 0);
		CU_ASSERT(cfg->nexports <= CONFIG_MAX_EXPORTS);
	}
	free(buf);
	free(orig);
	free(cfg);
}

static void test_mutations(void)
{
	uint32_t rnd = 0x2545f491;

	mutate_example("full.conf", &rnd);
	mutate_example("pair-a.conf", &rnd); /* the pair block's setters and checks */
}

/* ---- registration ---- */

static CU_TestInfo defaults_tests[] = {
    {"server defaults", test_defaults_server},
    {"export defaults", test_defaults_export},
    {"schema table", test_schema_table},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo example_tests[] = {
    {"every example parses", test_examples_parse},
    {"quickstart.conf", test_example_quickstart},
    {"lan.conf", test_example_lan},
    {"full.conf has every key at its default", test_example_full},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo error_tests[] = {
    {"messages", test_bad_messages},
    {"config/bad files", test_bad_files},
    {"three errors in one pass", test_three_errors},
    {"at most CONFIG_MAX_ERRORS printed", test_error_cap},
    {"line length limit", test_long_line},
    {"file size limit and unreadable file", test_file_limits},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo value_tests[] = {
    {"bounds", test_bounds},
    {"size suffixes", test_sizes},
    {"booleans and enums", test_bools_and_enums},
    {"quoted strings and comments", test_quoted_strings},
    {"paths", test_paths},
    {"export and client counts", test_counts},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo pair_tests[] = {
    {"defaults", test_pair_defaults},
    {"no pair block: a single node", test_pair_absent},
    {"required keys only", test_pair_minimal},
    {"every key's bounds are tested", test_pair_bounds_cover},
    {"values", test_pair_values},
    {"checks between keys: messages", test_pair_checks},
    {"no follow-on errors", test_pair_no_follow_on},
    {"checks between keys: what passes", test_pair_checks_pass},
    {"pair-a.conf and pair-b.conf", test_example_pair},
    {"pair-a.conf and pair-b.conf differ only on this node's lines", test_example_pair_diff},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo client_tests[] = {
    {"parse ADDR[/PREFIX]", test_parse_client},
    {"IPv4 prefixes", test_allowed_v4},
    {"IPv6 and IPv4-mapped", test_allowed_v6_and_mapped},
    {"edge cases", test_allowed_edges},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo reference_tests[] = {
    {"every key listed", test_reference},
    {"docs/config.md is current", test_reference_in_docs},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo robustness_tests[] = {
    {"mutated input", test_mutations},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"config: defaults", NULL, NULL, NULL, NULL, defaults_tests},
    {"config: examples", NULL, NULL, NULL, NULL, example_tests},
    {"config: errors", NULL, NULL, NULL, NULL, error_tests},
    {"config: values", NULL, NULL, NULL, NULL, value_tests},
    {"config: pair", NULL, NULL, NULL, NULL, pair_tests},
    {"config: clients", NULL, NULL, NULL, NULL, client_tests},
    {"config: reference", NULL, NULL, NULL, NULL, reference_tests},
    {"config: robustness", NULL, NULL, NULL, NULL, robustness_tests},
    CU_SUITE_INFO_NULL,
};

int twinfs_register_tests(void)
{
	return CU_register_suites(suites) == CUE_SUCCESS ? 0 : -1;
}
