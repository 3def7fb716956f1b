/*
 * config_int.h — shared between the files of the config module only.
 *
 * The module is split by concern:
 *   config_lex.c     one line of text -> one statement (block open/close, key = value)
 *   config_schema.c  the schema table (every key: type, bounds, default, help), the
 *                    value setters and the generated reference
 *   config_client.c  access lists: parsing ADDR[/PREFIX] and matching a client
 *   config.c         the parser proper: blocks, error reporting, cross-key checks
 *
 * Nothing here allocates: a statement is a fixed-size value and every limit is named.
 */
#ifndef TWINFS_CONFIG_CONFIG_INT_H
#define TWINFS_CONFIG_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"

#define CONFIG__LINE_MAX 4096 /* characters per line, without the newline */
#define CONFIG__NAME_MAX 32   /* characters in a block or key name */
#define CONFIG__WHY_MAX	 512  /* one error message, without "FILE:LINE: " */

/* ---- lexer (config_lex.c) ---- */

enum config__stmt_kind {
	CONFIG__ST_BLANK = 0, /* empty line or comment, or a line not understood at all */
	CONFIG__ST_OPEN,      /* name {            */
	CONFIG__ST_CLOSE,     /* }                 */
	CONFIG__ST_ASSIGN,    /* name = value      */
};

/*
 * One line. When `why` is not empty the line is malformed and `kind` says what it was
 * meant to be, so the parser can carry on as if it had been right (open the block,
 * count the key as set) instead of piling follow-on errors on the administrator.
 */
struct config__stmt {
	enum config__stmt_kind kind;
	char name[CONFIG__NAME_MAX + 1];
	char value[CONFIG__LINE_MAX + 1]; /* unescaped when quoted */
	bool quoted;
	char why[CONFIG__WHY_MAX];
};

struct config__lexer {
	const char *text;
	size_t len;
	size_t pos;
	int line; /* number of the line last returned, 1-based */
};

void config__lex_init(struct config__lexer *lx, const char *text, size_t len);

/* Reads the next line into *st. Returns false at the end of the input. */
bool config__lex_next(struct config__lexer *lx, struct config__stmt *st);

/* ---- schema (config_schema.c) ---- */

enum config__block {
	CONFIG__BLK_SERVER = 0,
	CONFIG__BLK_EXPORT,
	CONFIG__BLK_PAIR,
	CONFIG__NBLOCKS,
};

/* Every key, in the order the reference lists them. Designated indices into the table,
 * so the parser can name the keys its cross-key checks need. */
enum config__key_id {
	CONFIG__K_BIND = 0,
	CONFIG__K_NFS_PORT,
	CONFIG__K_MOUNT_PORT,
	CONFIG__K_THREADS,
	CONFIG__K_MAX_CONNECTIONS,
	CONFIG__K_MAX_RECORD,
	CONFIG__K_MAX_IO,
	CONFIG__K_RPCBIND,
	CONFIG__K_DRC,
	CONFIG__K_DRC_ENTRIES,
	CONFIG__K_DRC_BYTES,
	CONFIG__K_DRC_MAX_AGE,
	CONFIG__K_STATE_DIR,
	CONFIG__K_LOG,
	CONFIG__K_LOG_LEVEL,
	CONFIG__K_NFS4_LEASE,
	CONFIG__K_NFS4_RECOVERY_DIR,
	CONFIG__K_ID,
	CONFIG__K_PATH,
	CONFIG__K_PSEUDO,
	CONFIG__K_FSAL,
	CONFIG__K_FSAL_OPTIONS,
	CONFIG__K_CLIENTS,
	CONFIG__K_ACCESS,
	CONFIG__K_SQUASH,
	CONFIG__K_ANONUID,
	CONFIG__K_ANONGID,
	CONFIG__K_SECURE,
	CONFIG__K_NODE_ID,
	CONFIG__K_LISTEN_ADDRESS,
	CONFIG__K_LISTEN_PORT,
	CONFIG__K_PEER_ADDRESS,
	CONFIG__K_PEER_PORT,
	CONFIG__K_PEER_ADDRESS2,
	CONFIG__K_KEY_FILE,
	CONFIG__K_SERVICE_ADDRESS,
	CONFIG__K_SERVICE_PREFIX,
	CONFIG__K_SERVICE_INTERFACE,
	CONFIG__K_PREFERRED,
	CONFIG__K_HEARTBEAT_MS,
	CONFIG__K_DEAD_MS,
	CONFIG__K_DRAIN_TIMEOUT_MS,
	CONFIG__K_RELEASE_TIMEOUT_MS,
	CONFIG__K_STAY_DOWN_MS,
	CONFIG__K_RELEASE_HOOK,
	CONFIG__K_ACQUIRE_HOOK,
	CONFIG__K_FENCE_COMMAND,
	CONFIG__K_LEASE_PATH,
	CONFIG__K_LEASE_MS,
	CONFIG__K_PROBE_INTERVAL_MS,
	CONFIG__K_PROBE_TIMEOUT_MS,
	CONFIG__K_STUCK_REQUEST_MS,
	CONFIG__K_PROBE_DIR,
	CONFIG__K_MIRROR,
	CONFIG__K_MIRROR_TIMEOUT_MS,
	CONFIG__NKEYS,
};

enum config__type {
	CONFIG__T_UINT = 0,
	CONFIG__T_SIZE, /* uint that also takes a K or M suffix */
	CONFIG__T_PORT,
	CONFIG__T_BOOL,
	CONFIG__T_ENUM,
	CONFIG__T_STRING,
	CONFIG__T_PATH,
	CONFIG__T_ADDRESS,
	CONFIG__T_IFNAME, /* a network interface name, as the kernel allows it */
	CONFIG__T_CLIENTS,
	CONFIG__NTYPES,
};

#define CONFIG__REQUIRED 0x1u /* every block of its kind must set it */
#define CONFIG__NONE_OK	 0x2u /* "" is accepted and means none (optional paths, addresses) */

struct config__key {
	const char *name;
	enum config__block block;
	enum config__type type;
	size_t offset;		  /* of the field in the struct its block fills */
	size_t size;		  /* of that field */
	uint64_t min;		  /* numbers: smallest value; strings: shortest length */
	uint64_t max;		  /* numbers: largest value; strings: longest length */
	const char *const *names; /* enums: value i is called names[i]; NULL-terminated */
	const char *def;	  /* default, written as in a file; NULL if none */
	const char *def_doc;	  /* how the reference shows a NULL default */
	unsigned flags;		  /* CONFIG__REQUIRED, CONFIG__NONE_OK */
	const char *help;
};

const struct config__key *config__key(enum config__key_id id);
const struct config__key *config__key_find(enum config__block blk, const char *name);
int config__block_find(const char *name); /* enum config__block or -ENOENT */
const char *config__block_name(enum config__block blk);

/* "a, b, c": the names of the blocks (blk < 0) or of the keys of one block. A buffer of
 * CONFIG__NAMES_MAX holds any such list whole. */
#define CONFIG__NAMES_MAX (CONFIG__NKEYS * (CONFIG__NAME_MAX + 2))
void config__list_names(int blk, char *buf, size_t n);

/*
 * Parses `value` as key `k` and stores it in `base` (the struct the key's block fills).
 * `quoted` says the value was written in double quotes. On failure the field is left
 * unchanged, `why` holds "what is wrong; expected what" and -EINVAL is returned.
 */
int config__set(const struct config__key *k, void *base, const char *value, bool quoted, char *why,
		size_t whylen);

/* Stores the default of every key of block `blk` that has one. */
void config__apply_defaults(enum config__block blk, void *base);

/* Copies `s` into `out` for an error message: at most 60 characters, then "...". */
const char *config__excerpt(char *out, size_t n, const char *s);

#endif
