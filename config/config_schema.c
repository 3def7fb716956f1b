/*
 * config_schema.c — every block and key of twinfs.conf, described as data.
 *
 * One table says, for each key, where its value goes (offset and size in the struct its
 * block fills), its type and bounds, its default and its help text. Everything else is
 * derived from the table: the defaults (config_defaults() parses the default text with
 * the same setter a file goes through, so a default cannot disagree with its bounds),
 * the "expected one of: ..." lists in error messages, and the reference printed by
 * config_print_reference() that docs/config.md embeds (a unit test keeps the two equal).
 *
 * Types are a second, smaller table: a setter and a bounds phrase per type. A setter
 * validates completely before it stores, so a rejected value leaves the field as it was.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "config/config_int.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* Where a key's value lives: the struct of its block, and the field in it. */
#define SRV(m)                                                                                     \
	.block = CONFIG__BLK_SERVER, .offset = offsetof(struct twinfs_config, m),                  \
	.size = sizeof(((struct twinfs_config *)0)->m)
#define EXP(m)                                                                                     \
	.block = CONFIG__BLK_EXPORT, .offset = offsetof(struct config_export, m),                  \
	.size = sizeof(((struct config_export *)0)->m)
#define PAIR(m)                                                                                    \
	.block = CONFIG__BLK_PAIR, .offset = offsetof(struct config_pair, m),                      \
	.size = sizeof(((struct config_pair *)0)->m)

#define ADDR_MAX 63 /* characters in an address field of 64 bytes */

static const char *const access_names[] = {"rw", "ro", NULL}; /* index = read_only */
static const char *const squash_names[] = {
    [SQUASH_ROOT] = "root_squash",
    [SQUASH_NONE] = "no_root_squash",
    [SQUASH_ALL] = "all_squash",
    [SQUASH_ALL + 1] = NULL,
};
static const char *const log_names[] = {
    [LOG_DEST_STDERR] = "stderr", [LOG_DEST_SYSLOG] = "syslog", [LOG_DEST_SYSLOG + 1] = NULL};
static const char *const mirror_names[] = {[MIRROR_SYNC] = "sync",
					   [MIRROR_ASYNC] = "async",
					   [MIRROR_STRICT] = "strict",
					   [MIRROR_STRICT + 1] = NULL};
static const char *const level_names[] = {
    [LOGL_ERROR] = "error", [LOGL_WARN] = "warn",    [LOGL_INFO] = "info",
    [LOGL_DEBUG] = "debug", [LOGL_DEBUG + 1] = NULL,
};

static const struct config__key keys[CONFIG__NKEYS] = {
    [CONFIG__K_BIND] = {"bind", SRV(bind), .type = CONFIG__T_ADDRESS, .max = ADDR_MAX,
			.def = "0.0.0.0",
			.help = "Address the NFS and MOUNT services listen on: 0.0.0.0 is "
				"every IPv4 address, :: every IPv6 address. With a pair "
				"block, a wildcard or the pair's service_address."},
    [CONFIG__K_NFS_PORT] = {"nfs_port", SRV(nfs_port), .type = CONFIG__T_PORT, .min = 1,
			    .max = 65535, .def = "2049", .help = "Port of the NFS service."},
    [CONFIG__K_MOUNT_PORT] = {"mount_port", SRV(mount_port), .type = CONFIG__T_PORT, .min = 1,
			      .max = 65535, .def = "20048",
			      .help = "Port of the MOUNT service, which NFSv3 clients ask "
				      "for an export's root file handle. Must differ from "
				      "nfs_port."},
    [CONFIG__K_THREADS] = {"threads", SRV(threads), .type = CONFIG__T_UINT, .min = 1, .max = 256,
			   .def = "8", .help = "Worker threads that execute requests."},
    [CONFIG__K_MAX_CONNECTIONS] = {"max_connections", SRV(max_connections), .type = CONFIG__T_UINT,
				   .min = 1, .max = 65536, .def = "1024",
				   .help = "Most client connections open at the same time."},
    [CONFIG__K_MAX_RECORD] = {"max_record", SRV(max_record), .type = CONFIG__T_SIZE,
			      .min = 64 * KIB, .max = 16 * MIB, .def = "1052672",
			      .help = "Largest RPC record accepted, in bytes. Must be at least "
				      "max_io + 4K so that a full-size WRITE fits."},
    [CONFIG__K_MAX_IO] = {"max_io", SRV(max_io), .type = CONFIG__T_SIZE, .min = 4 * KIB,
			  .max = 1 * MIB, .def = "1048576",
			  .help = "Largest READ or WRITE payload, in bytes, that clients are "
				  "told to use."},
    [CONFIG__K_RPCBIND] = {"rpcbind", SRV(rpcbind), .type = CONFIG__T_BOOL, .def = "true",
			   .help = "Register the NFS and MOUNT services with rpcbind when "
				   "one runs on this host."},
    [CONFIG__K_DRC] = {"drc", SRV(drc), .type = CONFIG__T_BOOL, .def = "true",
		       .help = "Keep the duplicate request cache: a retransmitted non-idempotent "
			       "call (REMOVE, CREATE, WRITE, ...) gets its saved reply instead of "
			       "running twice. Off only to measure its cost."},
    [CONFIG__K_DRC_ENTRIES] = {"drc_entries", SRV(drc_entries), .type = CONFIG__T_UINT, .min = 16,
			       .max = 1048576, .def = "16384",
			       .help = "Most replied calls kept in the duplicate request cache "
				       "(oldest first out)."},
    [CONFIG__K_DRC_BYTES] = {"drc_bytes", SRV(drc_bytes), .type = CONFIG__T_SIZE, .min = 64 * KIB,
			     .max = 1024 * MIB, .def = "67108864",
			     .help = "Most bytes of saved replies the duplicate request cache "
				     "keeps."},
    [CONFIG__K_DRC_MAX_AGE] = {"drc_max_age", SRV(drc_max_age), .type = CONFIG__T_UINT, .min = 1,
			       .max = 3600, .def = "120",
			       .help = "Seconds a replied call stays in the duplicate request "
				       "cache."},
    [CONFIG__K_STATE_DIR] = {"state_dir", SRV(state_dir), .type = CONFIG__T_PATH, .min = 1,
			     .max = CONFIG_PATH_MAX - 1, .def = "/var/lib/twinfs",
			     .help = "Directory where the node keeps the state it needs "
				     "after a restart or a takeover."},
    [CONFIG__K_LOG] = {"log", SRV(log_dest), .type = CONFIG__T_ENUM, .names = log_names,
		       .def = "stderr", .help = "Where log messages go."},
    [CONFIG__K_LOG_LEVEL] = {"log_level", SRV(log_level), .type = CONFIG__T_ENUM,
			     .names = level_names, .def = "info",
			     .help = "Least severe message that is logged."},
    [CONFIG__K_NFS4_LEASE] = {"nfs4_lease", SRV(nfs4_lease), .type = CONFIG__T_UINT, .min = 5,
			      .max = 3600, .def = "90",
			      .help = "NFSv4 lease time in seconds: a client silent for longer "
				      "loses its opens and locks."},
    [CONFIG__K_NFS4_RECOVERY_DIR] = {"nfs4_recovery_dir", SRV(nfs4_recovery_dir),
				     .type = CONFIG__T_PATH, .min = 1, .max = CONFIG_PATH_MAX - 1,
				     .def = "", .flags = CONFIG__NONE_OK,
				     .help = "Directory of the NFSv4 client records, from which "
					     "a restarted node, or the partner after a takeover, "
					     "lets those clients reclaim their opens and locks. "
					     "Empty: state_dir; in a pair with a lease_path, the "
					     "lease file's directory (the shared storage)."},

    [CONFIG__K_ID] = {"id", EXP(id), .type = CONFIG__T_UINT, .min = 1, .max = INT32_MAX,
		      .flags = CONFIG__REQUIRED,
		      .help = "Number that identifies the export inside every file "
			      "handle. Unique; changing it makes the handles clients hold "
			      "stale."},
    [CONFIG__K_PATH] = {"path", EXP(path), .type = CONFIG__T_PATH, .min = 1,
			.max = CONFIG_PATH_MAX - 1, .flags = CONFIG__REQUIRED,
			.help = "Directory to export. Trailing slashes are removed."},
    [CONFIG__K_PSEUDO] = {"pseudo", EXP(pseudo), .type = CONFIG__T_PATH, .min = 1,
			  .max = CONFIG_PATH_MAX - 1, .def_doc = "same as `path`",
			  .help = "Path under which NFSv4 clients see the export and NFSv3 "
				  "clients mount it. Unique."},
    [CONFIG__K_FSAL] = {"fsal", EXP(fsal), .type = CONFIG__T_STRING, .min = 1, .max = 15,
			.def = "vfs",
			.help = "Backend that serves the export: vfs (a local directory) or "
				"mem (in memory, for tests)."},
    [CONFIG__K_FSAL_OPTIONS] = {"fsal_options", EXP(fsal_options), .type = CONFIG__T_STRING,
				.max = 255, .def = "",
				.help = "Options handed to the backend unchanged."},
    [CONFIG__K_CLIENTS] = {"clients", EXP(clients), .type = CONFIG__T_CLIENTS, .min = 1,
			   .max = CONFIG_MAX_CLIENTS, .flags = CONFIG__REQUIRED,
			   .help = "Who may use the export. `*` is everyone. An IPv4 entry "
				   "also matches IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)."},
    [CONFIG__K_ACCESS] = {"access", EXP(read_only), .type = CONFIG__T_ENUM, .names = access_names,
			  .def = "rw",
			  .help = "ro refuses every change to the export; rw allows them."},
    [CONFIG__K_SQUASH] = {"squash", EXP(squash), .type = CONFIG__T_ENUM, .names = squash_names,
			  .def = "root_squash",
			  .help = "root_squash maps uid 0 to anonuid and anongid, "
				  "all_squash maps every user, no_root_squash maps nobody."},
    [CONFIG__K_ANONUID] = {"anonuid", EXP(anonuid), .type = CONFIG__T_UINT, .max = UINT32_MAX - 1,
			   .def = "65534", .help = "User id that squashed users get."},
    [CONFIG__K_ANONGID] = {"anongid", EXP(anongid), .type = CONFIG__T_UINT, .max = UINT32_MAX - 1,
			   .def = "65534", .help = "Group id that squashed users get."},
    [CONFIG__K_SECURE] = {"secure", EXP(secure), .type = CONFIG__T_BOOL, .def = "false",
			  .help = "Accept requests only from a source port below 1024, "
				  "which only root can bind on the client."},

    /* pair { }: the times are in milliseconds; the checks between them are in config.c */
    [CONFIG__K_NODE_ID] = {"node_id", PAIR(node_id), .type = CONFIG__T_UINT, .min = 1, .max = 2,
			   .flags = CONFIG__REQUIRED,
			   .help = "This node's number in the pair: 1 on one node, 2 on the "
				   "other. Every peer-link message carries it, so that a node "
				   "never takes its own messages for its partner's."},
    [CONFIG__K_LISTEN_ADDRESS] = {"listen_address", PAIR(listen_address), .type = CONFIG__T_ADDRESS,
				  .max = ADDR_MAX, .def = "0.0.0.0",
				  .help = "Where the peer link listens for the partner: this "
					  "node's address on the network the two share, or "
					  "0.0.0.0 (every IPv4 address) or :: (every IPv6 "
					  "address)."},
    [CONFIG__K_LISTEN_PORT] = {"listen_port", PAIR(listen_port), .type = CONFIG__T_PORT, .min = 1,
			       .max = 65535, .def = "7049",
			       .help = "Port the peer link listens on."},
    [CONFIG__K_PEER_ADDRESS] = {"peer_address", PAIR(peer_address), .type = CONFIG__T_ADDRESS,
				.max = ADDR_MAX, .flags = CONFIG__REQUIRED,
				.help = "The partner's peer-link address (its listen_address), "
					"which this node connects to. Not this node's own "
					"listen_address."},
    [CONFIG__K_PEER_PORT] = {"peer_port", PAIR(peer_port), .type = CONFIG__T_PORT, .min = 1,
			     .max = 65535, .def = "7049",
			     .help = "The partner's peer-link port (its listen_port)."},
    [CONFIG__K_PEER_ADDRESS2] = {"peer_address2", PAIR(peer_address2), .type = CONFIG__T_ADDRESS,
				 .max = ADDR_MAX, .def = "", .flags = CONFIG__NONE_OK,
				 .help = "A second address of the partner, on another network, "
					 "for a second link that carries heartbeats only: the "
					 "partner is taken for dead only when every link is "
					 "silent. The heartbeats are authenticated UDP "
					 "datagrams, from any local address to this address "
					 "and peer_port, received on listen_port. Empty: one "
					 "link."},
    [CONFIG__K_KEY_FILE] = {"key_file", PAIR(key_file), .type = CONFIG__T_PATH, .min = 1,
			    .max = CONFIG_PATH_MAX - 1, .flags = CONFIG__REQUIRED,
			    .help = "File holding the pair's shared secret, a copy of the same "
				    "file on both nodes: every peer-link message carries an "
				    "HMAC-SHA256 made with it. Read at start: 32 to 1024 bytes, "
				    "owned by root, mode 0600 or 0400 (docs/peer-protocol.md)."},
    [CONFIG__K_SERVICE_ADDRESS] =
	{"service_address", PAIR(service_address), .type = CONFIG__T_ADDRESS, .max = ADDR_MAX,
	 .flags = CONFIG__REQUIRED,
	 .help = "The floating address clients mount. One node of the "
		 "pair holds it and it moves on a takeover, so the "
		 "server's bind must be a wildcard or this address."},
    [CONFIG__K_SERVICE_PREFIX] = {"service_prefix", PAIR(service_prefix), .type = CONFIG__T_UINT,
				  .min = 1, .max = 128, .def = "24",
				  .help = "Prefix length the service address gets on "
					  "service_interface: at most 32 for an IPv4 "
					  "address."},
    [CONFIG__K_SERVICE_INTERFACE] = {"service_interface", PAIR(service_interface),
				     .type = CONFIG__T_IFNAME, .min = 1, .max = 15,
				     .flags = CONFIG__REQUIRED,
				     .help = "Network interface the service address is added "
					     "to, such as eth0."},
    [CONFIG__K_PREFERRED] = {"preferred", PAIR(preferred), .type = CONFIG__T_BOOL, .def = "false",
			     .help = "When both nodes start and neither serves, the preferred "
				     "one takes the service. True on one node of the pair "
				     "only."},
    [CONFIG__K_HEARTBEAT_MS] = {"heartbeat_ms", PAIR(heartbeat_ms), .type = CONFIG__T_UINT,
				.min = 20, .max = 10000, .def = "200",
				.help = "Milliseconds between two heartbeats on each peer "
					"link."},
    [CONFIG__K_DEAD_MS] = {"dead_ms", PAIR(dead_ms), .type = CONFIG__T_UINT, .min = 100,
			   .max = 60000, .def = "1000",
			   .help = "Milliseconds without a heartbeat on every link after which "
				   "the partner is taken for dead and an unplanned takeover "
				   "starts (after fencing). At least 3 x heartbeat_ms."},
    [CONFIG__K_DRAIN_TIMEOUT_MS] = {"drain_timeout_ms", PAIR(drain_timeout_ms),
				    .type = CONFIG__T_UINT, .min = 100, .max = 600000,
				    .def = "10000",
				    .help = "Milliseconds a releasing node waits for its "
					    "requests in flight to complete before it releases "
					    "the service anyway."},
    [CONFIG__K_RELEASE_TIMEOUT_MS] = {"release_timeout_ms", PAIR(release_timeout_ms),
				      .type = CONFIG__T_UINT, .min = 100, .max = 600000,
				      .def = "30000",
				      .help = "Milliseconds a standby waits for the partner's "
					      "RELEASED after asking it to shut down."},
    [CONFIG__K_STAY_DOWN_MS] = {"stay_down_ms", PAIR(stay_down_ms), .type = CONFIG__T_UINT,
				.min = 20, .max = 60000, .def = "1000",
				.help = "Milliseconds between two STAY_DOWN messages that the "
					"node holding the partner's service sends it."},
    [CONFIG__K_RELEASE_HOOK] = {"release_hook", PAIR(release_hook), .type = CONFIG__T_PATH,
				.min = 1, .max = CONFIG_PATH_MAX - 1, .def = "",
				.flags = CONFIG__NONE_OK,
				.help = "Command run when this node has released the service "
					"(requests done, exports closed, address removed), before "
					"it says RELEASED; in quotes when it has arguments. Empty: "
					"none."},
    [CONFIG__K_ACQUIRE_HOOK] = {"acquire_hook", PAIR(acquire_hook), .type = CONFIG__T_PATH,
				.min = 1, .max = CONFIG_PATH_MAX - 1, .def = "",
				.flags = CONFIG__NONE_OK,
				.help = "Command run when this node takes the service, before "
					"it adds the address and serves; in quotes when it has "
					"arguments. Empty: none."},
    [CONFIG__K_FENCE_COMMAND] = {"fence_command", PAIR(fence_command), .type = CONFIG__T_PATH,
				 .min = 1, .max = CONFIG_PATH_MAX - 1, .def = "",
				 .flags = CONFIG__NONE_OK,
				 .help = "External fencing command (a power switch, for "
					 "example) run before an unplanned takeover, to make "
					 "sure the partner has stopped; in quotes when it has "
					 "arguments. Empty: none."},
    [CONFIG__K_LEASE_PATH] = {"lease_path", PAIR(lease_path), .type = CONFIG__T_PATH, .min = 1,
			      .max = CONFIG_PATH_MAX - 1, .def = "", .flags = CONFIG__NONE_OK,
			      .help = "File on the shared storage holding the lease: each node "
				      "renews its record, a node that cannot renew stops serving "
				      "before its lease runs out, and the partner takes over only "
				      "once that lease has expired. Empty: no lease."},
    [CONFIG__K_LEASE_MS] = {"lease_ms", PAIR(lease_ms), .type = CONFIG__T_UINT, .min = 500,
			    .max = 600000, .def = "3000",
			    .help = "Milliseconds a lease lasts after its last renewal. More "
				    "than 2 x heartbeat_ms."},
    [CONFIG__K_PROBE_INTERVAL_MS] = {"probe_interval_ms", PAIR(probe_interval_ms),
				     .type = CONFIG__T_UINT, .min = 100, .max = 600000,
				     .def = "1000",
				     .help = "Milliseconds between two health probes of this "
					     "node's exports and storage."},
    [CONFIG__K_PROBE_TIMEOUT_MS] = {"probe_timeout_ms", PAIR(probe_timeout_ms),
				    .type = CONFIG__T_UINT, .min = 100, .max = 600000,
				    .def = "2000",
				    .help = "Milliseconds after which a health probe that has "
					    "not answered counts as a fault."},
    [CONFIG__K_STUCK_REQUEST_MS] = {"stuck_request_ms", PAIR(stuck_request_ms),
				    .type = CONFIG__T_UINT, .min = 1000, .max = 3600000,
				    .def = "30000",
				    .help = "A request EXECUTING for longer than this many "
					    "milliseconds is a fault (a hung storage call, for "
					    "example)."},
    [CONFIG__K_PROBE_DIR] = {"probe_dir", PAIR(probe_dir), .type = CONFIG__T_PATH, .min = 1,
			     .max = CONFIG_PATH_MAX - 1, .def = "", .flags = CONFIG__NONE_OK,
			     .help = "Directory on the shared storage where the health probe "
				     "writes, fsyncs and reads back a small file of this node's "
				     "every probe_interval_ms (the file is named after node_id). "
				     "Empty: the probe only stats the export roots."},
    [CONFIG__K_MIRROR] = {"mirror", PAIR(mirror), .type = CONFIG__T_ENUM, .names = mirror_names,
			  .def = "sync",
			  .help = "How the serving node streams non-idempotent calls (CREATE, "
				  "REMOVE, RENAME...) to the standby. sync: a call runs only "
				  "once the standby has it, and its saved reply is sent to the "
				  "standby before it goes to the client, so a takeover never "
				  "runs it twice. strict: as sync, and the reply also waits "
				  "until the standby holds it (one more round trip per call). "
				  "async: nothing waits, and the standby may miss the last "
				  "few."},
    [CONFIG__K_MIRROR_TIMEOUT_MS] = {"mirror_timeout_ms", PAIR(mirror_timeout_ms),
				     .type = CONFIG__T_UINT, .min = 10, .max = 60000, .def = "1000",
				     .help =
					 "Longest a sync or strict call waits for the standby's "
					 "acknowledgement. Past it the mirror counts as behind "
					 "(replies go unmirrored and twinctl status says so) until "
					 "the standby has caught up again."},
};

static const struct {
	const char *name;
	unsigned min, max; /* how many blocks a file may have */
	const char *help;
} blocks[CONFIG__NBLOCKS] = {
    [CONFIG__BLK_SERVER] = {"server", 0, 1,
			    "Settings of this node's NFS service. Every key is optional."},
    [CONFIG__BLK_EXPORT] = {"export", 1, CONFIG_MAX_EXPORTS,
			    "One directory offered to clients. id, path and clients are "
			    "required."},
    [CONFIG__BLK_PAIR] = {"pair", 0, 1,
			  "Makes this node one of a failover pair: the partner, the peer "
			  "link, the service address clients mount, the timers and the "
			  "hooks. node_id, peer_address, key_file, service_address and "
			  "service_interface are required. Without the block the node "
			  "serves alone, without failover."},
};

const struct config__key *config__key(enum config__key_id id)
{
	return &keys[id];
}

const struct config__key *config__key_find(enum config__block blk, const char *name)
{
	for (size_t i = 0; i < CONFIG__NKEYS; i++) {
		if (keys[i].block == blk && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

int config__block_find(const char *name)
{
	for (int i = 0; i < CONFIG__NBLOCKS; i++) {
		if (strcmp(blocks[i].name, name) == 0)
			return i;
	}
	return -ENOENT;
}

const char *config__block_name(enum config__block blk)
{
	return blocks[blk].name;
}

/* Appends to a bounded buffer; a message that does not fit is cut, never overrun. */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t n, const char *fmt, ...)
{
	size_t used = strnlen(buf, n);
	va_list ap;

	if (used + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
}

void config__list_names(int blk, char *buf, size_t n)
{
	const char *sep = "";

	buf[0] = '\0';
	for (int i = 0; blk < 0 && i < CONFIG__NBLOCKS; i++, sep = ", ")
		append(buf, n, "%s%s", sep, blocks[i].name);
	for (int i = 0; blk >= 0 && i < CONFIG__NKEYS; i++) {
		if (keys[i].block != (enum config__block)blk)
			continue;
		append(buf, n, "%s%s", sep, keys[i].name);
		sep = ", ";
	}
}

const char *config__excerpt(char *out, size_t n, const char *s)
{
	size_t len = strlen(s);

	if (len > 60)
		snprintf(out, n, "%.60s...", s);
	else
		snprintf(out, n, "%s", s);
	return out;
}

/* ---- the value types ---- */

__attribute__((format(printf, 3, 4))) static int reject(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void *field_of(const struct config__key *k, void *base)
{
	return (char *)base + k->offset;
}

/* Appended to what an optional path or address expects. */
static const char *none_hint(const struct config__key *k)
{
	return (k->flags & CONFIG__NONE_OK) ? ", or \"\" for none" : "";
}

/* Stores into an unsigned field of 1, 2, 4 or 8 bytes (enums and bools included). */
static void store_uint(const struct config__key *k, void *base, uint64_t v)
{
	uint8_t v8 = (uint8_t)v;
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;
	void *f = field_of(k, base);

	if (k->size == 1)
		memcpy(f, &v8, 1);
	else if (k->size == 2)
		memcpy(f, &v16, 2);
	else if (k->size == 4)
		memcpy(f, &v32, 4);
	else
		memcpy(f, &v, sizeof(v));
}

/* "4096", "64K", "1M" (the suffix only when `suffix`). Saturates far above any bound
 * so that an absurdly long number is "out of range", not "not a number". */
static int parse_number(const char *s, bool suffix, uint64_t *out)
{
	const uint64_t cap = 1ull << 40;
	uint64_t v = 0, mult = 1;
	size_t i;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > cap)
			v = cap + 1;
	}
	if (suffix && (s[i] == 'K' || s[i] == 'k'))
		mult = KIB;
	else if (suffix && (s[i] == 'M' || s[i] == 'm'))
		mult = MIB;
	if (mult > 1)
		i++;
	if (s[i] != '\0')
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static void size_text(char *buf, size_t n, uint64_t v)
{
	if (v >= MIB && v % MIB == 0)
		snprintf(buf, n, "%lluM", (unsigned long long)(v / MIB));
	else if (v >= KIB && v % KIB == 0)
		snprintf(buf, n, "%lluK", (unsigned long long)(v / KIB));
	else
		snprintf(buf, n, "%llu", (unsigned long long)v);
}

static void bounds_uint(const struct config__key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%llu..%llu", (unsigned long long)k->min, (unsigned long long)k->max);
}

static void bounds_size(const struct config__key *k, char *buf, size_t n)
{
	char lo[24], hi[24];

	size_text(lo, sizeof(lo), k->min);
	size_text(hi, sizeof(hi), k->max);
	snprintf(buf, n, "%llu..%llu (%s..%s)", (unsigned long long)k->min,
		 (unsigned long long)k->max, lo, hi);
}

static int set_uint(const struct config__key *k, void *base, const char *v, bool quoted, char *why,
		    size_t n)
{
	char b[64], x[80];
	uint64_t val;

	(void)quoted;
	if (k->type == CONFIG__T_SIZE)
		bounds_size(k, b, sizeof(b));
	else
		bounds_uint(k, b, sizeof(b));
	if (parse_number(v, k->type == CONFIG__T_SIZE, &val) < 0)
		return reject(why, n, "value '%s' for '%s' is not a number; expected an integer %s",
			      config__excerpt(x, sizeof(x), v), k->name, b);
	if (val < k->min || val > k->max)
		return reject(why, n, "value '%s' for '%s' out of range; expected %s",
			      config__excerpt(x, sizeof(x), v), k->name, b);
	store_uint(k, base, val);
	return 0;
}

static void bounds_bool(const struct config__key *k, char *buf, size_t n)
{
	(void)k;
	snprintf(buf, n, "true or false (also yes/no, on/off, 1/0)");
}

static int set_bool(const struct config__key *k, void *base, const char *v, bool quoted, char *why,
		    size_t n)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	char b[64], x[80];

	(void)quoted;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*(bool *)field_of(k, base) = strcasecmp(v, yes[i]) == 0;
			return 0;
		}
	}
	bounds_bool(k, b, sizeof(b));
	return reject(why, n, "value '%s' for '%s' is not a boolean; expected %s",
		      config__excerpt(x, sizeof(x), v), k->name, b);
}

static void bounds_enum(const struct config__key *k, char *buf, size_t n)
{
	buf[0] = '\0';
	append(buf, n, "one of: ");
	for (size_t i = 0; k->names[i]; i++)
		append(buf, n, "%s%s", i ? ", " : "", k->names[i]);
}

static int set_enum(const struct config__key *k, void *base, const char *v, bool quoted, char *why,
		    size_t n)
{
	char b[128], x[80];

	(void)quoted;
	for (size_t i = 0; k->names[i]; i++) {
		if (strcasecmp(v, k->names[i]) == 0) {
			store_uint(k, base, i);
			return 0;
		}
	}
	bounds_enum(k, b, sizeof(b));
	return reject(why, n, "value '%s' for '%s' is not valid; expected %s",
		      config__excerpt(x, sizeof(x), v), k->name, b);
}

static void bounds_string(const struct config__key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%llu..%llu characters", (unsigned long long)k->min,
		 (unsigned long long)k->max);
}

/* Checks shared by strings and paths; a bare value is one word, so that a forgotten
 * comment sign or quote does not end up inside a path. */
static int check_string(const struct config__key *k, const char *v, bool quoted, char *why,
			size_t n)
{
	size_t len = strlen(v);
	char b[64], x[80];

	bounds_string(k, b, sizeof(b));
	if (!quoted && strpbrk(v, " \t"))
		return reject(why, n,
			      "value '%s' for '%s' contains blanks; expected one word, or a "
			      "\"quoted string\"",
			      config__excerpt(x, sizeof(x), v), k->name);
	if (len < k->min)
		return reject(why, n, "value for '%s' is empty; expected %s", k->name, b);
	if (len > k->max)
		return reject(why, n, "value for '%s' is %zu characters long; expected %s", k->name,
			      len, b);
	return 0;
}

static int set_string(const struct config__key *k, void *base, const char *v, bool quoted,
		      char *why, size_t n)
{
	if (check_string(k, v, quoted, why, n) < 0)
		return -EINVAL;
	memcpy(field_of(k, base), v, strlen(v) + 1); /* fits: len <= max < size */
	return 0;
}

static void bounds_path(const struct config__key *k, char *buf, size_t n)
{
	snprintf(buf, n, "an absolute path of at most %llu characters", (unsigned long long)k->max);
}

static int set_path(const struct config__key *k, void *base, const char *v, bool quoted, char *why,
		    size_t n)
{
	char x[80];
	char *f;
	size_t len;

	if (check_string(k, v, quoted, why, n) < 0)
		return -EINVAL;
	if (v[0] != '/')
		return reject(why, n,
			      "path '%s' for '%s' is relative; expected an absolute path "
			      "starting with '/'%s",
			      config__excerpt(x, sizeof(x), v), k->name, none_hint(k));
	f = field_of(k, base);
	len = strlen(v);
	memcpy(f, v, len + 1);
	while (len > 1 && f[len - 1] == '/') /* "/srv/" and "/srv" are one export */
		f[--len] = '\0';
	return 0;
}

static void bounds_address(const struct config__key *k, char *buf, size_t n)
{
	(void)k;
	snprintf(buf, n, "an IPv4 or IPv6 address");
}

static int set_address(const struct config__key *k, void *base, const char *v, bool quoted,
		       char *why, size_t n)
{
	unsigned char bin[16];
	char x[80];

	(void)quoted;
	if (strlen(v) > k->max ||
	    (inet_pton(AF_INET, v, bin) != 1 && inet_pton(AF_INET6, v, bin) != 1))
		return reject(why, n,
			      "value '%s' for '%s' is not an IP address; expected an IPv4 or "
			      "IPv6 address such as 0.0.0.0 or ::%s",
			      config__excerpt(x, sizeof(x), v), k->name, none_hint(k));
	memcpy(field_of(k, base), v, strlen(v) + 1);
	return 0;
}

static void bounds_ifname(const struct config__key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%llu..%llu characters, no '/', ':' or blanks", (unsigned long long)k->min,
		 (unsigned long long)k->max);
}

/* The kernel's rule for a device name (dev_valid_name() in net/core/dev.c): shorter than
 * IFNAMSIZ, not "." or "..", and no '/', ':' or white space. A ':' would be an address
 * label such as eth0:1, which is not a device the address can be added to. */
static int set_ifname(const struct config__key *k, void *base, const char *v, bool quoted,
		      char *why, size_t n)
{
	char b[64], x[80];

	if (check_string(k, v, quoted, why, n) < 0)
		return -EINVAL;
	bounds_ifname(k, b, sizeof(b));
	if (strpbrk(v, "/: \t") || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
		return reject(why, n,
			      "value '%s' for '%s' is not an interface name; expected %s, "
			      "such as eth0",
			      config__excerpt(x, sizeof(x), v), k->name, b);
	memcpy(field_of(k, base), v, strlen(v) + 1); /* fits: len <= max < size */
	return 0;
}

static void bounds_clients(const struct config__key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%llu..%llu entries: ADDR, ADDR/PREFIX or *", (unsigned long long)k->min,
		 (unsigned long long)k->max);
}

/* Adds one entry of a list; `*` stands for two: 0.0.0.0/0 and ::/0. */
static int add_client(const char *item, struct config_client *list, unsigned *count)
{
	const char *all[] = {"0.0.0.0/0", "::/0"};
	size_t nall = strcmp(item, "*") == 0 ? 2 : 1;

	for (size_t i = 0; i < nall; i++) {
		if (*count >= CONFIG_MAX_CLIENTS)
			return -ENOSPC;
		if (config_parse_client(nall == 2 ? all[i] : item, &list[*count]) < 0)
			return -EINVAL;
		(*count)++;
	}
	return 0;
}

/* Cuts the next comma-separated item out of *s into buf, without surrounding blanks. */
static void next_item(const char **s, char *buf, size_t n)
{
	const char *p = *s;
	size_t len;

	while (*p == ' ' || *p == '\t')
		p++;
	len = strcspn(p, ",");
	*s = p[len] ? p + len + 1 : p + len;
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len >= n)
		len = n - 1; /* too long for any address: fails to parse below */
	memcpy(buf, p, len);
	buf[len] = '\0';
}

static int set_clients(const struct config__key *k, void *base, const char *v, bool quoted,
		       char *why, size_t n)
{
	struct config_client list[CONFIG_MAX_CLIENTS];
	struct config_export *e = base;
	unsigned count = 0;
	char item[128], x[80], b[64];
	int rc;

	(void)quoted;
	bounds_clients(k, b, sizeof(b));
	for (const char *s = v; *s;) {
		next_item(&s, item, sizeof(item));
		if (item[0] == '\0')
			return reject(why, n, "empty entry in '%s'; expected %s", k->name, b);
		rc = add_client(item, list, &count);
		if (rc == -ENOSPC)
			return reject(why, n, "too many entries in '%s'; expected %s", k->name, b);
		if (rc < 0)
			return reject(why, n,
				      "client '%s' in '%s' is not valid; expected ADDR or "
				      "ADDR/PREFIX (IPv4 /0../32, IPv6 /0../128) or *",
				      config__excerpt(x, sizeof(x), item), k->name);
	}
	if (count < k->min)
		return reject(why, n, "empty list for '%s'; expected %s", k->name, b);
	memcpy(e->clients, list, count * sizeof(list[0]));
	e->nclients = count;
	return 0;
}

typedef int (*config_setter_fn)(const struct config__key *k, void *base, const char *v, bool quoted,
				char *why, size_t n);

static const struct {
	const char *name; /* as the reference shows it */
	config_setter_fn set;
	void (*bounds)(const struct config__key *k, char *buf, size_t n);
} types[CONFIG__NTYPES] = {
    [CONFIG__T_UINT] = {"integer", set_uint, bounds_uint},
    [CONFIG__T_SIZE] = {"size", set_uint, bounds_size},
    [CONFIG__T_PORT] = {"port", set_uint, bounds_uint},
    [CONFIG__T_BOOL] = {"boolean", set_bool, bounds_bool},
    [CONFIG__T_ENUM] = {"enum", set_enum, bounds_enum},
    [CONFIG__T_STRING] = {"string", set_string, bounds_string},
    [CONFIG__T_PATH] = {"path", set_path, bounds_path},
    [CONFIG__T_ADDRESS] = {"address", set_address, bounds_address},
    [CONFIG__T_IFNAME] = {"interface", set_ifname, bounds_ifname},
    [CONFIG__T_CLIENTS] = {"client list", set_clients, bounds_clients},
};

int config__set(const struct config__key *k, void *base, const char *value, bool quoted, char *why,
		size_t whylen)
{
	if ((k->flags & CONFIG__NONE_OK) && value[0] == '\0') {
		*(char *)field_of(k, base) = '\0'; /* a string field: "" is none */
		return 0;
	}
	return types[k->type].set(k, base, value, quoted, why, whylen);
}

void config__apply_defaults(enum config__block blk, void *base)
{
	char why[CONFIG__WHY_MAX];

	/* Defaults are checked against their own bounds by the unit tests, which walk
	 * this table; a failure here would leave the zeroed field. */
	for (size_t i = 0; i < CONFIG__NKEYS; i++) {
		if (keys[i].block == blk && keys[i].def)
			config__set(&keys[i], base, keys[i].def, true, why, sizeof(why));
	}
}

void config_defaults(struct twinfs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	config__apply_defaults(CONFIG__BLK_SERVER, cfg);
	config__apply_defaults(CONFIG__BLK_PAIR, &cfg->pair); /* enabled stays false */
}

/* ---- the reference ---- */

static void print_default(FILE *out, const struct config__key *k)
{
	char b[24];

	if (!k->def) {
		fprintf(out, "%s", k->def_doc ? k->def_doc : "required");
	} else if (k->type == CONFIG__T_SIZE) {
		uint64_t v = 0;

		parse_number(k->def, true, &v);
		size_text(b, sizeof(b), v);
		fprintf(out, "`%s` (%s)", k->def, b);
	} else if (k->def[0] == '\0') {
		fprintf(out, "`\"\"` (empty)");
	} else {
		fprintf(out, "`%s`", k->def);
	}
}

static void print_key(FILE *out, const struct config__key *k)
{
	char b[128];

	types[k->type].bounds(k, b, sizeof(b));
	fprintf(out, "| `%s` | %s | ", k->name, types[k->type].name);
	print_default(out, k);
	fprintf(out, " | %s%s | %s |\n", b, none_hint(k), k->help);
}

static void print_block(FILE *out, enum config__block blk)
{
	fprintf(out, "### `%s { }`\n\n%s ", blocks[blk].name, blocks[blk].help);
	if (blocks[blk].max == 1)
		fprintf(out, "At most one block.\n\n");
	else
		fprintf(out, "%u to %u blocks.\n\n", blocks[blk].min, blocks[blk].max);
	fprintf(out, "| key | type | default | bounds | meaning |\n");
	fprintf(out, "| --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < CONFIG__NKEYS; i++) {
		if (keys[i].block == blk)
			print_key(out, &keys[i]);
	}
}

void config_print_reference(FILE *out)
{
	for (int b = 0; b < CONFIG__NBLOCKS; b++) {
		if (b > 0)
			fputc('\n', out);
		print_block(out, (enum config__block)b);
	}
}
