/*
 * config.h — twinfs.conf: the node's settings and its exports.
 *
 * One file per node. The parser is driven by a schema held as data (name, type,
 * bounds, default, help) so that every error carries file:line and what was
 * expected, and all errors are reported in one pass. The result is a plain value
 * (struct twinfs_config) that the daemon copies what it needs from; the parser
 * allocates nothing past the limits named below.
 *
 * Syntax (see docs/config.md and config/examples/):
 *
 *     # comment                       key = value   # comment
 *     server {
 *         bind = 0.0.0.0
 *         nfs_port = 2049
 *         ...
 *     }
 *     export {
 *         id = 1
 *         path = /srv/share
 *         ...
 *     }
 *     pair {                          # only on the two nodes of a failover pair
 *         node_id = 1
 *         peer_address = 192.0.2.12
 *         ...
 *     }
 *
 * Values are a bare word or a "double-quoted string" (backslash escapes \" and \\).
 * Lists are comma-separated. Unknown blocks and keys are errors (a typo must not be
 * silently ignored).
 */
#ifndef TWINFS_CONFIG_CONFIG_H
#define TWINFS_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define CONFIG_MAX_EXPORTS   64
#define CONFIG_MAX_CLIENTS   32 /* access-list entries per export */
#define CONFIG_MAX_ERRORS    32 /* reported in one pass; more are counted */
#define CONFIG_PATH_MAX	     1024
#define CONFIG_MAX_FILE_SIZE (1024 * 1024)

enum config_squash {
	SQUASH_ROOT = 0, /* root_squash (default): uid 0 becomes anonuid */
	SQUASH_NONE,	 /* no_root_squash */
	SQUASH_ALL,	 /* all_squash: everybody becomes anonuid/anongid */
};

enum config_log_dest {
	LOG_DEST_STDERR = 0,
	LOG_DEST_SYSLOG,
};

enum config_mirror_mode {
	MIRROR_SYNC = 0,   /* a non-idempotent call runs once the standby has it */
	MIRROR_ASYNC = 1,  /* nothing waits; the standby may lag a little */
	MIRROR_STRICT = 2, /* as sync, and its reply waits for the standby too */
};

enum config_log_level {
	LOGL_ERROR = 0,
	LOGL_WARN,
	LOGL_INFO, /* default */
	LOGL_DEBUG,
};

/* One entry of an access list: an address with a prefix length (a host is /32 or /128).
 * IPv4 entries also match IPv4-mapped IPv6 client addresses. */
struct config_client {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefix;
};

struct config_export {
	uint32_t id;		      /* 1..2^31-1, unique; carried in every file handle */
	char path[CONFIG_PATH_MAX];   /* absolute directory path */
	char pseudo[CONFIG_PATH_MAX]; /* NFSv4 pseudo path and MOUNT path; default = path */
	char fsal[16];		      /* "vfs" (default) or "mem" */
	char fsal_options[256];	      /* passed to the backend; default empty */
	struct config_client clients[CONFIG_MAX_CLIENTS];
	unsigned nclients;	   /* required, >= 1 */
	bool read_only;		   /* access = ro | rw (default rw) */
	enum config_squash squash; /* default root_squash */
	uint32_t anonuid;	   /* default 65534 */
	uint32_t anongid;	   /* default 65534 */
	bool secure;		   /* require a source port < 1024; default false */
	int line;		   /* where the block starts, for later messages */
};

/*
 * pair { }: this node is one of two that share storage and one service (the exports and
 * the floating service address); DESIGN.md "The pair". Without the block the node serves
 * alone and `enabled` is false; the other fields then hold their defaults and mean
 * nothing. The parser sees one node's file only: that the partner's agrees (the other
 * node_id, the same key, service address and exports) is not checked here. Every time
 * is in milliseconds.
 */
struct config_pair {
	bool enabled;			/* the block is present */
	uint32_t node_id;		/* 1 or 2, required; the partner has the other */
	char listen_address[64];	/* peer link, this side; default "0.0.0.0" */
	uint16_t listen_port;		/* default 7049 */
	char peer_address[64];		/* the partner's peer-link address, required */
	uint16_t peer_port;		/* default 7049 */
	char peer_address2[64];		/* second link, heartbeats only; "" = none (default) */
	char key_file[CONFIG_PATH_MAX]; /* shared secret for HMAC-SHA256, required */
	char service_address[64];	/* the floating address clients mount, required */
	unsigned service_prefix;	/* 1..128 (1..32 for IPv4), default 24 */
	char service_interface[16];	/* where the service address goes, required */
	bool preferred;		     /* serves when both start and nobody serves; default false */
	uint32_t heartbeat_ms;	     /* default 200, 20..10000 */
	uint32_t dead_ms;	     /* default 1000, >= 3 x heartbeat_ms */
	uint32_t drain_timeout_ms;   /* default 10000 */
	uint32_t release_timeout_ms; /* how long a standby waits for RELEASED; default 30000 */
	uint32_t stay_down_ms;	     /* STAY_DOWN period; default 1000 */
	char release_hook[CONFIG_PATH_MAX];  /* "" = none (default) */
	char acquire_hook[CONFIG_PATH_MAX];  /* "" = none (default) */
	char fence_command[CONFIG_PATH_MAX]; /* "" = none (default) */
	char lease_path[CONFIG_PATH_MAX];    /* storage lease file; "" = none (default) */
	uint32_t lease_ms;		     /* default 3000, > 2 x heartbeat_ms */
	uint32_t probe_interval_ms;	     /* default 1000 */
	uint32_t probe_timeout_ms;	     /* default 2000 */
	uint32_t stuck_request_ms;	 /* a request EXECUTING longer is a fault; default 30000 */
	char probe_dir[CONFIG_PATH_MAX]; /* write probe directory; "" = stat only (default) */
	enum config_mirror_mode mirror;	 /* default sync */
	uint32_t mirror_timeout_ms;	 /* longest wait for a mirror ack; default 1000 */
};

struct twinfs_config {
	/* server { } */
	char bind[64];		  /* default "0.0.0.0" */
	uint16_t nfs_port;	  /* default 2049 */
	uint16_t mount_port;	  /* default 20048 */
	unsigned threads;	  /* worker threads, default 8, 1..256 */
	unsigned max_connections; /* default 1024, 1..65536 */
	uint32_t max_record;	  /* largest RPC record accepted, bytes; default 1 MiB + 4 KiB,
				     range 64 KiB .. 16 MiB */
	uint32_t max_io;	  /* largest READ/WRITE, bytes; default 1 MiB, 4 KiB .. 1 MiB */
	bool rpcbind;		  /* register with a local rpcbind when one runs; default true */
	bool drc;		  /* duplicate request cache on; default true */
	unsigned drc_entries;	  /* replied calls kept; default 16384 */
	uint32_t drc_bytes;	  /* saved reply bytes kept; default 64 MiB */
	unsigned drc_max_age;	  /* seconds; default 120 */
	char state_dir[CONFIG_PATH_MAX]; /* default /var/lib/twinfs */
	enum config_log_dest log_dest;	 /* log = stderr | syslog; default stderr */
	enum config_log_level log_level; /* log_level = error|warn|info|debug; default info */
	unsigned nfs4_lease;		 /* NFSv4 lease, seconds; default 90 */
	char nfs4_recovery_dir[CONFIG_PATH_MAX]; /* "" = state_dir, or the lease's dir */

	/* pair { } */
	struct config_pair pair; /* enabled = false without the block */

	struct config_export exports[CONFIG_MAX_EXPORTS];
	unsigned nexports; /* >= 1 */
};

/* Defaults for everything, no exports, no pair (pair.enabled = false, its other fields
 * at their defaults). */
void config_defaults(struct twinfs_config *cfg);

/*
 * Parse a file. On success returns 0 and fills *cfg. On failure returns the number of
 * errors (> 0) and writes each, one per line, to `errs` as
 *     FILE:LINE: what is wrong; expected what
 * (at most CONFIG_MAX_ERRORS lines, then "FILE: N more errors").
 * Semantic checks (duplicate export ids or pseudo paths, a relative path, an export
 * without clients, a port clash, the pair's timers and addresses) are reported in the
 * same pass.
 */
int config_load(const char *path, struct twinfs_config *cfg, FILE *errs);

/* The same, from a string in memory; `name` is used in messages. */
int config_parse(const char *name, const char *text, size_t len, struct twinfs_config *cfg,
		 FILE *errs);

/* Parses "ADDR" or "ADDR/PREFIX" (IPv4 or IPv6). 0 or -EINVAL. */
int config_parse_client(const char *text, struct config_client *out);

/* Does the client address match one entry of the export's list? */
bool config_client_allowed(const struct config_export *exp, const struct sockaddr *sa);

/* Writes the documented reference of every block and key (the schema's help text),
 * used by `twinfsd --help-config` and to keep docs/config.md honest. */
void config_print_reference(FILE *out);

#endif
