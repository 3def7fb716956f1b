/*
 * config.c — the parser: statements become blocks, blocks fill struct twinfs_config,
 * and the checks that span keys or blocks run as each block closes.
 *
 * Everything happens in one pass and an error never stops it, so an administrator sees
 * every mistake of a file at once. Follow-on errors are avoided rather than reported:
 *   - a key whose value was rejected still counts as set, so no "missing key" error
 *     follows, and a cross-key check that would read the rejected value is skipped;
 *   - a malformed line is treated as what it was meant to be (a block still opens);
 *   - an unknown, surplus or nested block is skipped to its '}' without more errors.
 * Errors are counted without limit; at most CONFIG_MAX_ERRORS are printed.
 *
 * The one check between blocks (with a pair, the server's bind is a wildcard or the
 * service address) runs at the end of the file, since either block may come first.
 *
 * The parser's state is one struct on the stack; the only allocation is config_load()'s
 * read buffer, bounded by CONFIG_MAX_FILE_SIZE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* Room for the RPC and NFS headers of a WRITE beside its max_io bytes of data. */
#define RECORD_HEADROOM 4096

#define SCOPE_TOP  (-1)
#define SCOPE_SKIP CONFIG__NBLOCKS /* an unknown or surplus block: contents ignored */

/* Where each export got the values that must be unique, for the messages. */
struct export_lines {
	int id;	    /* line of an accepted `id`, 0 if none */
	int pseudo; /* line of an accepted `pseudo`, or of `path` when it stands in; 0 if none */
};

struct parser {
	const char *file;
	FILE *errs;
	unsigned nerrs;
	struct twinfs_config *cfg;
	struct config__lexer lx;
	struct config__stmt st;
	int scope;	/* SCOPE_TOP, an enum config__block, or SCOPE_SKIP */
	unsigned depth; /* blocks opened inside the current one; they are skipped */
	char block[CONFIG__NAME_MAX + 1];
	int block_line;
	void *base;		     /* the struct the current block fills */
	int key_line[CONFIG__NKEYS]; /* where the current block set each key; 0 if not */
	uint64_t key_ok;	     /* keys of the current block whose value was accepted */
	int server_line;
	int pair_line;
	int bind_line;	  /* of an accepted `bind`; 0 if none, or rejected */
	int service_line; /* of an accepted `service_address`; 0 if none */
	struct export_lines exp[CONFIG_MAX_EXPORTS];
};

_Static_assert(CONFIG__NKEYS <= 64, "key_ok is a 64-bit mask");

__attribute__((format(printf, 3, 4))) static void report(struct parser *p, int line,
							 const char *fmt, ...)
{
	va_list ap;

	p->nerrs++;
	if (!p->errs || p->nerrs > CONFIG_MAX_ERRORS)
		return;
	fprintf(p->errs, "%s:%d: ", p->file, line);
	va_start(ap, fmt);
	vfprintf(p->errs, fmt, ap);
	va_end(ap);
	fputc('\n', p->errs);
}

static bool is_accepted(const struct parser *p, enum config__key_id id)
{
	return p->key_ok & (1ull << id);
}

/* Set in this block, but its value was rejected. */
static bool is_rejected(const struct parser *p, enum config__key_id id)
{
	return p->key_line[id] != 0 && !is_accepted(p, id);
}

static void enter_block(struct parser *p, int scope, void *base)
{
	p->scope = scope;
	p->base = base;
	p->block_line = p->lx.line;
	snprintf(p->block, sizeof(p->block), "%s", p->st.name);
	memset(p->key_line, 0, sizeof(p->key_line));
	p->key_ok = 0;
}

/* A block of which a file has at most one; *first is where it was opened, 0 if not yet. */
static void open_single(struct parser *p, enum config__block blk, void *base, int *first)
{
	const char *name = config__block_name(blk);

	if (*first) {
		report(p, p->lx.line,
		       "second '%s' block (the first is at line %d); expected at most one", name,
		       *first);
		enter_block(p, SCOPE_SKIP, NULL);
		return;
	}
	*first = p->lx.line;
	enter_block(p, blk, base);
}

static void open_pair(struct parser *p)
{
	open_single(p, CONFIG__BLK_PAIR, &p->cfg->pair, &p->pair_line);
	if (p->scope == CONFIG__BLK_PAIR)
		p->cfg->pair.enabled = true;
}

static void open_export(struct parser *p)
{
	struct config_export *e;

	if (p->cfg->nexports >= CONFIG_MAX_EXPORTS) {
		report(p, p->lx.line, "too many export blocks; expected at most %d",
		       CONFIG_MAX_EXPORTS);
		enter_block(p, SCOPE_SKIP, NULL);
		return;
	}
	e = &p->cfg->exports[p->cfg->nexports];
	memset(e, 0, sizeof(*e));
	config__apply_defaults(CONFIG__BLK_EXPORT, e);
	e->line = p->lx.line;
	enter_block(p, CONFIG__BLK_EXPORT, e);
}

static void on_open(struct parser *p)
{
	char names[CONFIG__NAMES_MAX];
	int blk;

	if (p->depth > 0 || p->scope == SCOPE_SKIP) {
		p->depth++;
		return;
	}
	if (p->scope != SCOPE_TOP) {
		report(p, p->lx.line,
		       "block '%s' opened inside block '%s' (line %d); expected '}' to close "
		       "'%s' first",
		       p->st.name, p->block, p->block_line, p->block);
		p->depth++;
		return;
	}
	blk = config__block_find(p->st.name);
	if (blk == CONFIG__BLK_SERVER) {
		open_single(p, CONFIG__BLK_SERVER, p->cfg, &p->server_line);
	} else if (blk == CONFIG__BLK_EXPORT) {
		open_export(p);
	} else if (blk == CONFIG__BLK_PAIR) {
		open_pair(p);
	} else {
		config__list_names(-1, names, sizeof(names));
		report(p, p->lx.line, "unknown block '%s'; expected one of: %s", p->st.name, names);
		enter_block(p, SCOPE_SKIP, NULL);
	}
}

static void check_required(struct parser *p)
{
	for (int id = 0; id < CONFIG__NKEYS; id++) {
		const struct config__key *k = config__key(id);

		if (k->block != (enum config__block)p->scope || !(k->flags & CONFIG__REQUIRED))
			continue;
		if (p->key_line[id] == 0)
			report(p, p->block_line,
			       "block '%s' has no '%s'; expected '%s = ...' in every %s block",
			       p->block, k->name, k->name, p->block);
	}
}

static void check_unique_id(struct parser *p, unsigned n)
{
	const struct config_export *e = &p->cfg->exports[n];

	if (!p->exp[n].id)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (p->exp[i].id && p->cfg->exports[i].id == e->id) {
			report(p, p->exp[n].id,
			       "export id %u is already used by the export at line %d; expected "
			       "a unique id",
			       e->id, p->cfg->exports[i].line);
			return;
		}
	}
}

static void check_unique_pseudo(struct parser *p, unsigned n)
{
	const struct config_export *e = &p->cfg->exports[n];
	const char *from = p->key_line[CONFIG__K_PSEUDO] ? "" : " (taken from 'path')";
	char x[80];

	if (!p->exp[n].pseudo)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (p->exp[i].pseudo && strcmp(p->cfg->exports[i].pseudo, e->pseudo) == 0) {
			report(p, p->exp[n].pseudo,
			       "pseudo path '%s'%s is already used by the export at line %d; "
			       "expected a unique pseudo path",
			       config__excerpt(x, sizeof(x), e->pseudo), from,
			       p->cfg->exports[i].line);
			return;
		}
	}
}

static void finish_export(struct parser *p)
{
	unsigned n = p->cfg->nexports;
	struct config_export *e = &p->cfg->exports[n];
	struct export_lines *el = &p->exp[n];

	check_required(p);
	el->id = is_accepted(p, CONFIG__K_ID) ? p->key_line[CONFIG__K_ID] : 0;
	if (p->key_line[CONFIG__K_PSEUDO] == 0) {
		memcpy(e->pseudo, e->path, sizeof(e->pseudo));
		el->pseudo = is_accepted(p, CONFIG__K_PATH) ? p->key_line[CONFIG__K_PATH] : 0;
	} else {
		el->pseudo = is_accepted(p, CONFIG__K_PSEUDO) ? p->key_line[CONFIG__K_PSEUDO] : 0;
	}
	check_unique_id(p, n);
	check_unique_pseudo(p, n);
	p->cfg->nexports++;
}

/* The line to blame for a clash between two keys: the later of the two. */
static int clash_line(const struct parser *p, enum config__key_id a, enum config__key_id b)
{
	int line = p->key_line[a] > p->key_line[b] ? p->key_line[a] : p->key_line[b];

	return line ? line : p->block_line;
}

static void finish_server(struct parser *p)
{
	const struct twinfs_config *cfg = p->cfg;
	enum config__key_id np = CONFIG__K_NFS_PORT, mp = CONFIG__K_MOUNT_PORT;
	enum config__key_id mr = CONFIG__K_MAX_RECORD, mi = CONFIG__K_MAX_IO;

	if (!is_rejected(p, np) && !is_rejected(p, mp) && cfg->nfs_port == cfg->mount_port)
		report(p, clash_line(p, np, mp),
		       "nfs_port and mount_port are both %u; expected two different ports",
		       cfg->nfs_port);
	/* A WRITE of max_io bytes plus its headers must fit in one record. */
	if (!is_rejected(p, mr) && !is_rejected(p, mi) &&
	    cfg->max_record < cfg->max_io + RECORD_HEADROOM)
		report(p, clash_line(p, mr, mi),
		       "max_record %u is too small for max_io %u; expected at least max_io + "
		       "%d = %u",
		       cfg->max_record, cfg->max_io, RECORD_HEADROOM,
		       cfg->max_io + RECORD_HEADROOM);
	p->bind_line = is_accepted(p, CONFIG__K_BIND) ? p->key_line[CONFIG__K_BIND] : 0;
}

/* An address as config_parse_client() reads it (an IPv4-mapped one is the IPv4 address
 * it stands for), so that two spellings of one address compare equal. The values were
 * accepted by the address setter already. */
static bool same_address(const char *a, const char *b)
{
	struct config_client ca, cb;

	if (config_parse_client(a, &ca) < 0 || config_parse_client(b, &cb) < 0)
		return false;
	return ca.family == cb.family && memcmp(ca.addr, cb.addr, sizeof(ca.addr)) == 0;
}

static bool is_wildcard(const char *a)
{
	return same_address(a, "0.0.0.0") || same_address(a, "::");
}

static bool is_ipv4(const char *a)
{
	struct in_addr bin;

	return inet_pton(AF_INET, a, &bin) == 1;
}

/* Heartbeats against the times built on them. */
static void check_pair_timers(struct parser *p)
{
	const struct config_pair *c = &p->cfg->pair;
	enum config__key_id hb = CONFIG__K_HEARTBEAT_MS, dead = CONFIG__K_DEAD_MS;
	enum config__key_id lease = CONFIG__K_LEASE_MS;

	if (is_rejected(p, hb))
		return;
	/* One or two heartbeats lost on a busy network must not look like a dead partner. */
	if (!is_rejected(p, dead) && c->dead_ms < 3 * c->heartbeat_ms)
		report(p, clash_line(p, dead, hb),
		       "dead_ms %u is too short for heartbeat_ms %u; expected at least 3 x "
		       "heartbeat_ms = %u",
		       c->dead_ms, c->heartbeat_ms, 3 * c->heartbeat_ms);
	/* The lease is renewed with the heartbeats: one late renewal must not lose it. */
	if (!is_rejected(p, lease) && c->lease_ms <= 2 * c->heartbeat_ms)
		report(p, clash_line(p, lease, hb),
		       "lease_ms %u is too short for heartbeat_ms %u; expected more than 2 x "
		       "heartbeat_ms = %u",
		       c->lease_ms, c->heartbeat_ms, 2 * c->heartbeat_ms);
}

/* The partner's addresses are ones to connect to: a wildcard there connects this node to
 * itself (Linux takes 0.0.0.0 and :: for the local host), a partner always alive. */
static void check_peer_address(struct parser *p, enum config__key_id id, const char *addr)
{
	if (is_accepted(p, id) && addr[0] != '\0' && is_wildcard(addr))
		report(p, p->key_line[id],
		       "%s %s is a wildcard; expected the partner's own address, which this "
		       "node connects to",
		       config__key(id)->name, addr);
}

static void check_pair_addresses(struct parser *p)
{
	const struct config_pair *c = &p->cfg->pair;
	enum config__key_id sa = CONFIG__K_SERVICE_ADDRESS, sp = CONFIG__K_SERVICE_PREFIX;
	enum config__key_id pa = CONFIG__K_PEER_ADDRESS, la = CONFIG__K_LISTEN_ADDRESS;

	if (is_accepted(p, sa) && !is_rejected(p, sp) && is_ipv4(c->service_address) &&
	    c->service_prefix > 32)
		report(p, clash_line(p, sp, sa),
		       "service_prefix %u is too long for the IPv4 service_address %s; expected "
		       "1..32 for an IPv4 address",
		       c->service_prefix, c->service_address);
	check_peer_address(p, pa, c->peer_address);
	check_peer_address(p, CONFIG__K_PEER_ADDRESS2, c->peer_address2);
	if (is_accepted(p, pa) && !is_rejected(p, la) && !is_wildcard(c->listen_address) &&
	    same_address(c->peer_address, c->listen_address))
		report(p, clash_line(p, pa, la),
		       "peer_address and listen_address are both %s; expected the partner's "
		       "address as peer_address (listen_address is this node's own)",
		       c->peer_address);
}

static void finish_pair(struct parser *p)
{
	check_required(p);
	check_pair_timers(p);
	check_pair_addresses(p);
	p->service_line =
	    is_accepted(p, CONFIG__K_SERVICE_ADDRESS) ? p->key_line[CONFIG__K_SERVICE_ADDRESS] : 0;
}

/* With a pair, clients reach the NFS service at the service address only, and that
 * address moves between the nodes: an address of this node's own would be served by
 * this node alone, and not after a takeover. */
static void check_bind(struct parser *p)
{
	const struct twinfs_config *cfg = p->cfg;

	if (!p->bind_line || !p->service_line || is_wildcard(cfg->bind) ||
	    same_address(cfg->bind, cfg->pair.service_address))
		return;
	report(p, p->bind_line,
	       "bind %s is neither a wildcard nor the pair's service_address %s (line %d); "
	       "expected 0.0.0.0, :: or %s, because clients mount the service address and "
	       "it moves between the nodes",
	       cfg->bind, cfg->pair.service_address, p->service_line, cfg->pair.service_address);
}

static void close_block(struct parser *p)
{
	if (p->scope == CONFIG__BLK_SERVER)
		finish_server(p);
	else if (p->scope == CONFIG__BLK_EXPORT)
		finish_export(p);
	else if (p->scope == CONFIG__BLK_PAIR)
		finish_pair(p);
	p->scope = SCOPE_TOP;
	p->depth = 0;
}

static void on_close(struct parser *p)
{
	if (p->depth > 0) {
		p->depth--;
		return;
	}
	if (p->scope == SCOPE_TOP) {
		report(p, p->lx.line,
		       "stray '}' outside of any block; expected a block such as 'export {' "
		       "before it");
		return;
	}
	close_block(p);
}

/* Returns the key the current statement names in the current block, or NULL after
 * reporting why there is none. */
static const struct config__key *lookup_key(struct parser *p)
{
	const struct config__key *k;
	char names[CONFIG__NAMES_MAX];

	if (p->scope == SCOPE_TOP) {
		report(p, p->lx.line,
		       "key '%s' outside of a block; expected it inside 'server {', 'export {' "
		       "or 'pair {'",
		       p->st.name);
		return NULL;
	}
	k = config__key_find((enum config__block)p->scope, p->st.name);
	if (!k) {
		config__list_names(p->scope, names, sizeof(names));
		report(p, p->lx.line, "unknown key '%s' in block '%s'; expected one of: %s",
		       p->st.name, p->block, names);
	}
	return k;
}

static void on_assign(struct parser *p, bool malformed)
{
	const struct config__key *k;
	char why[CONFIG__WHY_MAX];
	int id;

	if (p->depth > 0 || p->scope == SCOPE_SKIP)
		return;
	if (malformed) { /* already reported; only remember that the key was meant */
		k = p->scope == SCOPE_TOP ? NULL : config__key_find(p->scope, p->st.name);
		id = k ? (int)(k - config__key(0)) : 0;
		if (k && !p->key_line[id])
			p->key_line[id] = p->lx.line;
		return;
	}
	k = lookup_key(p);
	if (!k)
		return;
	id = (int)(k - config__key(0));
	if (p->key_line[id]) {
		report(p, p->lx.line,
		       "duplicate key '%s' in block '%s' (first set at line %d); expected each "
		       "key at most once per block",
		       k->name, p->block, p->key_line[id]);
		return;
	}
	p->key_line[id] = p->lx.line;
	if (config__set(k, p->base, p->st.value, p->st.quoted, why, sizeof(why)) < 0)
		report(p, p->lx.line, "%s", why);
	else
		p->key_ok |= 1ull << id;
}

static void on_statement(struct parser *p)
{
	bool malformed = p->st.why[0] != '\0';

	if (malformed)
		report(p, p->lx.line, "%s", p->st.why);
	if (p->st.kind == CONFIG__ST_OPEN)
		on_open(p);
	else if (p->st.kind == CONFIG__ST_CLOSE)
		on_close(p);
	else if (p->st.kind == CONFIG__ST_ASSIGN)
		on_assign(p, malformed);
}

static void finish_file(struct parser *p)
{
	if (p->scope != SCOPE_TOP) {
		report(p, p->block_line,
		       "block '%s' is not closed; expected '}' before the end of the file",
		       p->block);
		close_block(p);
	}
	check_bind(p);
	if (p->cfg->nexports == 0)
		report(p, p->lx.line > 0 ? p->lx.line : 1,
		       "no export block; expected at least one 'export { ... }'");
}

static int summarize(const struct parser *p)
{
	if (p->errs && p->nerrs > CONFIG_MAX_ERRORS)
		fprintf(p->errs, "%s: %u more errors\n", p->file, p->nerrs - CONFIG_MAX_ERRORS);
	return p->nerrs > INT_MAX ? INT_MAX : (int)p->nerrs;
}

int config_parse(const char *name, const char *text, size_t len, struct twinfs_config *cfg,
		 FILE *errs)
{
	struct parser p = {
	    .file = name ? name : "<config>",
	    .errs = errs,
	    .cfg = cfg,
	    .scope = SCOPE_TOP,
	};

	config_defaults(cfg);
	if (len > CONFIG_MAX_FILE_SIZE) {
		p.nerrs = 1;
		if (errs)
			fprintf(errs, "%s: file is %zu bytes long; expected at most %d bytes\n",
				p.file, len, CONFIG_MAX_FILE_SIZE);
		return 1;
	}
	config__lex_init(&p.lx, text, len);
	while (config__lex_next(&p.lx, &p.st))
		on_statement(&p);
	finish_file(&p);
	return summarize(&p);
}

/* Reads at most one byte more than the limit, so that config_parse() sees an oversized
 * file as such without it ever being held whole. */
static int read_file(const char *path, char *buf, size_t *len, FILE *errs)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f) {
		err = errno;
		goto fail;
	}
	errno = 0;
	*len = fread(buf, 1, CONFIG_MAX_FILE_SIZE + 1, f);
	err = ferror(f) ? (errno ? errno : EIO) : 0;
	fclose(f);
	if (!err)
		return 0;
fail:
	if (errs)
		fprintf(errs, "%s: cannot read the file (%s); expected a readable file\n", path,
			strerror(err));
	return -err;
}

int config_load(const char *path, struct twinfs_config *cfg, FILE *errs)
{
	char *buf;
	size_t len = 0;
	int rc;

	config_defaults(cfg);
	if (!path)
		path = "";
	buf = malloc(CONFIG_MAX_FILE_SIZE + 1);
	if (!buf) {
		if (errs)
			fprintf(errs, "%s: out of memory; expected %d bytes for the file\n", path,
				CONFIG_MAX_FILE_SIZE + 1);
		return 1;
	}
	rc = read_file(path, buf, &len, errs);
	if (rc == 0)
		rc = config_parse(path, buf, len, cfg, errs);
	else
		rc = 1;
	free(buf);
	return rc;
}
