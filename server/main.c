/*
 * twinfsd — the twinfs NFS server daemon.
 *
 *   twinfsd --config FILE           serve what FILE says
 *   twinfsd --check FILE            validate FILE and exit (0 = ok, 1 = errors)
 *   twinfsd --export DIR [opts]     quick start: serve DIR read-write to loopback
 *
 * Runs in the foreground and logs to stderr (systemd style) unless the config says
 * syslog. SIGTERM or SIGINT stops it cleanly (exit 0). Exit 1: bad usage or
 * configuration; exit 2: the server could not start (e.g. a port in use).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "config/config.h"
#include <fcntl.h>

#include "failover/mirror/mirror.h"
#include "failover/pair/pair.h"
#include "failover/probe/probe.h"
#include "failover/tickle/tickle.h"
#include "failover/peer/peer.h"
#include "server/admin/admin.h"
#include "server/export/siphash.h"
#include "server/drc/drc.h"
#include "server/export/export.h"
#include "server/log/log.h"
#include "server/mount/mount.h"
#include "server/nfs3/nfs3.h"
#include "server/nfs4/nfs4.h"
#include "server/server.h"

#define TWINFS_VERSION "0.1.0"

enum { EXIT_USAGE = 1, EXIT_START = 2 };

struct options {
	const char *config;
	const char *check;
	const char *export_dir;
	const char *bind;
	const char *state_dir;
	const char *log_level;
	long port, mount_port, threads;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: twinfsd --config FILE [options]\n"
		"       twinfsd --check FILE\n"
		"       twinfsd --export DIR [options]   (quick start: DIR read-write, loopback "
		"clients only)\n"
		"options:\n"
		"  --port N          NFS port (default 2049)\n"
		"  --mount-port N    MOUNT port (default 20048)\n"
		"  --bind ADDR       listen address (config default 0.0.0.0; quick start "
		"127.0.0.1)\n"
		"  --state-dir DIR   where the handle key lives (default /var/lib/twinfs)\n"
		"  --threads N       worker threads (default 8)\n"
		"  --log-level L     error|warn|info|debug (default info)\n"
		"  --help-config     print every configuration key\n"
		"  --version\n");
}

static long parse_num(const char *s, const char *what, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "twinfsd: %s '%s' is not a number in %ld..%ld\n", what, s, lo, hi);
		exit(EXIT_USAGE);
	}
	return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {{"config", required_argument, 0, 'c'},
						 {"check", required_argument, 0, 'C'},
						 {"export", required_argument, 0, 'e'},
						 {"port", required_argument, 0, 'p'},
						 {"mount-port", required_argument, 0, 'm'},
						 {"bind", required_argument, 0, 'b'},
						 {"state-dir", required_argument, 0, 's'},
						 {"threads", required_argument, 0, 't'},
						 {"log-level", required_argument, 0, 'l'},
						 {"help", no_argument, 0, 'h'},
						 {"help-config", no_argument, 0, 'H'},
						 {"version", no_argument, 0, 'V'},
						 {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "c:e:p:m:b:s:t:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'C':
			o->check = optarg;
			break;
		case 'e':
			o->export_dir = optarg;
			break;
		case 'p':
			o->port = parse_num(optarg, "--port", 0, 65535);
			break;
		case 'm':
			o->mount_port = parse_num(optarg, "--mount-port", 0, 65535);
			break;
		case 'b':
			o->bind = optarg;
			break;
		case 's':
			o->state_dir = optarg;
			break;
		case 't':
			o->threads = parse_num(optarg, "--threads", 1, 256);
			break;
		case 'l':
			o->log_level = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'H':
			config_print_reference(stdout);
			exit(0);
		case 'V':
			printf("twinfsd %s\n", TWINFS_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc || (!!o->config + !!o->check + !!o->export_dir) != 1) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
}

static void quickstart_config(const char *dir, struct twinfs_config *cfg)
{
	char real[PATH_MAX];
	if (!realpath(dir, real)) {
		fprintf(stderr, "twinfsd: --export %s: %s\n", dir, strerror(errno));
		exit(EXIT_USAGE);
	}
	if (strlen(real) >= CONFIG_PATH_MAX) {
		fprintf(stderr, "twinfsd: --export %s: path longer than %d bytes\n", dir,
			CONFIG_PATH_MAX - 1);
		exit(EXIT_USAGE);
	}
	config_defaults(cfg);
	snprintf(cfg->bind, sizeof(cfg->bind), "127.0.0.1");
	struct config_export *e = &cfg->exports[0];
	memset(e, 0, sizeof(*e));
	e->id = 1;
	memcpy(e->path, real, strlen(real) + 1);
	memcpy(e->pseudo, real, strlen(real) + 1);
	snprintf(e->fsal, sizeof(e->fsal), "vfs");
	config_parse_client("127.0.0.0/8", &e->clients[0]);
	config_parse_client("::1", &e->clients[1]);
	e->nclients = 2;
	e->squash = SQUASH_NONE;
	e->anonuid = e->anongid = 65534;
	cfg->nexports = 1;
}

static int log_level_of(const char *name)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i]))
			return i;
	fprintf(stderr, "twinfsd: --log-level '%s'; expected error, warn, info or debug\n", name);
	exit(EXIT_USAGE);
}

static void apply_overrides(const struct options *o, struct twinfs_config *cfg)
{
	if (o->port >= 0)
		cfg->nfs_port = (uint16_t)o->port;
	if (o->mount_port >= 0)
		cfg->mount_port = (uint16_t)o->mount_port;
	if (o->threads > 0)
		cfg->threads = (unsigned)o->threads;
	if (o->bind)
		snprintf(cfg->bind, sizeof(cfg->bind), "%s", o->bind);
	if (o->state_dir)
		snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", o->state_dir);
	if (o->log_level)
		cfg->log_level = (enum config_log_level)log_level_of(o->log_level);
}

static const struct prog_desc *const programs[] = {&nfs3_program, &mount3_program, &nfs4_program};

static void server_dispatch(void *arg, struct rpc_req *req)
{
	struct server *srv = arg;
	bool serving = atomic_load(&srv->serving) && dispatch_may_answer(srv);
	dispatch_request(srv, srv->drc, srv->progs, srv->nprogs, serving, req);
}

static int server_start(struct server *srv)
{
	pthread_mutex_init(&srv->drop_lock, NULL);
	uint8_t secret[EXPORT_SECRET_LEN];
	int rc = export_load_secret(srv->cfg.state_dir, secret);
	if (rc < 0) {
		log_error("state directory %s: cannot read or create handle.key: %s",
			  srv->cfg.state_dir, strerror(-rc));
		return rc;
	}
	rc = export_table_open(&srv->cfg, secret, &srv->exports);
	if (rc < 0)
		return rc;
	if (srv->cfg.drc) {
		struct drc_params dp = {.max_entries = srv->cfg.drc_entries,
					.max_reply_bytes = srv->cfg.drc_bytes,
					.max_age_ms = srv->cfg.drc_max_age * 1000u};
		if (drc_create(&dp, &srv->drc) < 0)
			return -ENOMEM;
	}
	rc = nfs4_server_create(srv, srv->cfg.nfs4_lease, &srv->nfs4);
	if (rc < 0)
		return rc;
	srv->mounts = mount_table_new();
	if (!srv->mounts || getrandom(srv->write_verf, sizeof(srv->write_verf), 0) < 0)
		return -ENOMEM;
	atomic_store(&srv->serving, !srv->cfg.pair.enabled);
	srv->progs = programs;
	srv->nprogs = sizeof(programs) / sizeof(programs[0]);
	if (!dispatch_tables_ok(srv->progs, srv->nprogs))
		return -EINVAL;
	struct rpc_params p = {
	    .listen = {{srv->cfg.bind, srv->cfg.nfs_port}, {srv->cfg.bind, srv->cfg.mount_port}},
	    .nlisten = 2,
	    .threads = srv->cfg.threads,
	    .max_connections = srv->cfg.max_connections,
	    .max_record = srv->cfg.max_record,
	    .dispatch = server_dispatch,
	    .dispatch_arg = srv,
	};
	return rpc_server_start(&p, &srv->rpc);
}

/* ---- what the pair asks of this server (failover/pair/pair.h) ---- */

static void ops_set_answer_until(void *arg, uint64_t until)
{
	struct server *srv = arg;
	atomic_store(&srv->answer_until, until);
}

/* The exports' caches are dropped both ways: a node that starts serving must not
 * use a descriptor of a file its partner removed meanwhile (a WRITE would land in a
 * file nobody can reach, instead of ESTALE), and one that stops must not keep such
 * files' blocks allocated on the shared storage. The latter runs beside the rest
 * of the release, not in it: closing a full descriptor cache (16k) takes ~20 ms,
 * which the partner's claim need not wait for. */
static void *drop_caches_main(void *arg)
{
	struct server *srv = arg;
	export_table_drop_caches(srv->exports);
	return NULL;
}

/* Under drop_lock. */
static void drop_caches_join(struct server *srv)
{
	if (srv->dropping)
		pthread_join(srv->drop_thread, NULL);
	srv->dropping = false;
}

static void drop_caches(struct server *srv, bool wait)
{
	pthread_mutex_lock(&srv->drop_lock);
	drop_caches_join(srv);
	if (!wait)
		srv->dropping = pthread_create(&srv->drop_thread, NULL, drop_caches_main, srv) == 0;
	if (!srv->dropping)
		export_table_drop_caches(srv->exports);
	pthread_mutex_unlock(&srv->drop_lock);
}

static void ops_set_serving(void *arg, bool on)
{
	struct server *srv = arg;
	if (on)
		drop_caches(srv, true);
	atomic_store(&srv->serving, on);
	if (srv->drc)
		drc_set_admitting(srv->drc, on);
	if (srv->nfs4)
		nfs4_server_serving(srv->nfs4, on);
	if (!on)
		drop_caches(srv, false);
}

static int ops_drain(void *arg, uint32_t timeout_ms)
{
	struct server *srv = arg;
	uint64_t left = 0;
	if (!srv->drc)
		return 0;
	drc_set_admitting(srv->drc, false);
	int rc = drc_wait_idle(srv->drc, timeout_ms, &left);
	if (rc < 0)
		log_warn("drain: %" PRIu64 " requests still executing after %u ms", left,
			 timeout_ms);
	return rc;
}

/* syncfs of every export: unstable WRITEs reach stable storage before release. */
static int ops_flush(void *arg)
{
	struct server *srv = arg;
	int rc = 0;
	for (unsigned i = 0; i < export_count(srv->exports); i++) {
		const struct config_export *e = export_config(export_at(srv->exports, i));
		if (strcmp(e->fsal, "vfs") != 0)
			continue;
		int fd = open(e->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd) < 0) {
			rc = -errno;
			log_error("flush of export %u (%s): %s", e->id, e->path, strerror(errno));
		}
		if (fd >= 0)
			close(fd);
	}
	return rc;
}

static void ops_close_clients(void *arg)
{
	struct server *srv = arg;
	rpc_server_close_clients(srv->rpc);
}

static void ops_bump_verifier(void *arg)
{
	struct server *srv = arg;
	if (getrandom(srv->write_verf, sizeof(srv->write_verf), 0) < 0)
		srv->write_verf[0]++;
	log_info("new write verifier: clients resend their uncommitted writes");
}

static void ops_get_verifier(void *arg, uint8_t verf[8])
{
	struct server *srv = arg;
	memcpy(verf, srv->write_verf, 8);
}

static void ops_set_verifier(void *arg, const uint8_t verf[8])
{
	struct server *srv = arg;
	memcpy(srv->write_verf, verf, 8);
}

static int ops_storage_check(void *arg, char *why, size_t len)
{
	struct server *srv = arg;
	for (unsigned i = 0; i < export_count(srv->exports); i++) {
		const struct export *e = export_at(srv->exports, i);
		struct fsobj root;
		struct fsal_attr a;
		struct fsal_statfs sf;
		export_root(e, &root);
		int rc = root.ops->getattr(root.fs, &root.key, &a);
		if (rc == 0)
			rc = root.ops->statfs(root.fs, &root.key, &sf);
		if (rc < 0) {
			snprintf(why, len, "export %u (%s): %s", export_config(e)->id,
				 export_config(e)->path, strerror(-rc));
			return rc;
		}
	}
	/* The health probe's round: the roots stat'ed and the probe file written,
	 * fsync'd and read back, each bounded by probe_timeout_ms. */
	return srv->probe ? probe_run_once(srv->probe, why, len) : 0;
}

static uint64_t probe_oldest(void *arg)
{
	struct server *srv = arg;
	return srv->drc ? drc_oldest_executing_ms(srv->drc) : 0;
}

static void probe_fault(void *arg, enum role_fault f, const char *why)
{
	struct server *srv = arg;
	pair_report_fault(srv->pair, f, why);
}

/* The periodic health probe (failover/probe) of a pair node: on the serving
 * node a failing round reports FAULT and asks the partner to take over. */
static int server_probe(struct server *srv)
{
	const struct config_pair *c = &srv->cfg.pair;
	const char *roots[CONFIG_MAX_EXPORTS];
	unsigned n = 0;
	for (unsigned i = 0; i < export_count(srv->exports); i++) {
		const struct config_export *e = export_config(export_at(srv->exports, i));
		if (!strcmp(e->fsal, "vfs"))
			roots[n++] = e->path;
	}
	struct probe_params pp = {.roots = roots,
				  .nroots = n,
				  .dir = c->probe_dir,
				  .node_id = c->node_id,
				  .interval_ms = c->probe_interval_ms,
				  .timeout_ms = c->probe_timeout_ms,
				  .stuck_ms = c->stuck_request_ms,
				  .oldest_executing_ms = probe_oldest,
				  .arg = srv,
				  .on_fault = probe_fault,
				  .fault_arg = srv};
	int rc = probe_create(&pp, &srv->probe);
	if (rc == 0)
		rc = probe_start(srv->probe);
	if (rc < 0)
		log_error("health probe: %s", strerror(-rc));
	return rc;
}

struct catch_up {
	struct mirror *m;
	uint32_t n;
};

static bool catch_up_one(void *arg, const struct drc_record *r)
{
	struct catch_up *c = arg;
	uint8_t rec[DRC_RECORD_MAX];
	if (r->state == DRC_REPLIED && !r->reply_len)
		return true;
	int len = drc_record_encode(r, rec, sizeof(rec));
	if (len < 0)
		return true;
	if (!mirror_push(c->m, rec, (uint32_t)len))
		return false; /* detached (queue full): the next attach tries again */
	c->n++;
	return true;
}

static uint32_t ops_mirror_catch_up(void *arg)
{
	struct server *srv = arg;
	struct catch_up c = {srv->mirror, 0};
	if (srv->drc) {
		drc_replied_in_order(srv->drc, catch_up_one, &c);
		drc_intents_each(srv->drc, catch_up_one, &c);
	}
	return c.n;
}

/* Each non-idempotent call before it runs, and its saved reply before it goes
 * out (server.h), to the standby. In sync mode the call runs only once the
 * standby has its record; its reply record is sent, not waited for: were this
 * node to die before the standby had it, the standby still knows the call may
 * have run, which is all a retransmission needs (the "already done" error
 * counts as success), and a client that holds the reply does not retransmit.
 * Strict mode waits for the reply record too. A wait that times out detaches
 * the stream (the standby is behind) and the call goes on: the client must not
 * hang because the standby is slow. */
static void server_mirror_record(struct server *srv, const struct drc_record *r)
{
	uint8_t rec[DRC_RECORD_MAX];
	int len = drc_record_encode(r, rec, sizeof(rec));
	if (len < 0)
		return;
	if (srv->cfg.pair.mirror == MIRROR_ASYNC) {
		mirror_push(srv->mirror, rec, (uint32_t)len);
		return;
	}
	uint64_t pos = mirror_push_send(srv->mirror, rec, (uint32_t)len);
	if (pos && (r->state != DRC_REPLIED || srv->cfg.pair.mirror == MIRROR_STRICT))
		mirror_wait(srv->mirror, pos, srv->cfg.pair.mirror_timeout_ms);
}

static int ops_mirror_load(void *arg, const uint8_t *rec, size_t len)
{
	struct server *srv = arg;
	struct drc_record r;
	if (!srv->drc || drc_record_decode(rec, len, &r, NULL) < 0)
		return -EINVAL;
	if (r.state != DRC_REPLIED) {
		drc_intent_add(srv->drc, &r.key);
		return 0;
	}
	return drc_load(srv->drc, &r);
}

struct conn_fill {
	struct tickle_conn *out;
	size_t n, max;
};

static bool conn_fill_one(void *arg, const struct sockaddr_storage *local,
			  const struct sockaddr_storage *peer)
{
	struct conn_fill *f = arg;
	f->out[f->n++] = (struct tickle_conn){*local, *peer};
	return f->n < f->max;
}

static size_t ops_client_conns(void *arg, struct tickle_conn *out, size_t max)
{
	struct server *srv = arg;
	struct conn_fill f = {out, 0, max};
	if (max)
		rpc_server_list_clients(srv->rpc, conn_fill_one, &f);
	return f.n;
}

/* Equal on two nodes that serve the same exports: ids and paths. */
static uint64_t exports_fingerprint(const struct twinfs_config *cfg)
{
	static const uint8_t key[16] = "twinfs-exportsfp";
	uint64_t fp = 0;
	for (unsigned i = 0; i < cfg->nexports; i++) {
		const struct config_export *e = &cfg->exports[i];
		fp ^= siphash24(key, e->path, strlen(e->path)) + e->id;
	}
	return fp;
}

static int server_pair(struct server *srv)
{
	if (!srv->cfg.pair.enabled)
		return 0;
	if (mirror_create(&srv->mirror) < 0)
		return -ENOMEM;
	srv->mirror_record = server_mirror_record;
	struct pair_ops ops = {
	    .arg = srv,
	    .set_serving = ops_set_serving,
	    .set_answer_until = ops_set_answer_until,
	    .drain = ops_drain,
	    .flush = ops_flush,
	    .close_clients = ops_close_clients,
	    .bump_verifier = ops_bump_verifier,
	    .get_verifier = ops_get_verifier,
	    .set_verifier = ops_set_verifier,
	    .storage_check = ops_storage_check,
	    .mirror_catch_up = ops_mirror_catch_up,
	    .mirror_load = ops_mirror_load,
	    .client_conns = ops_client_conns,
	    .mirror = srv->mirror,
	};
	int rc = pair_create(&srv->cfg.pair, exports_fingerprint(&srv->cfg), &ops, &srv->pair);
	if (rc == 0)
		rc = pair_start(srv->pair, srv->admin);
	return rc < 0 ? rc : server_probe(srv);
}

static int cmd_status(void *arg, int argc, char **argv, FILE *out, char *msg)
{
	struct server *srv = arg;
	struct admin_kv kv;
	struct drc_stats ds = {0};
	char key[32], val[CONFIG_PATH_MAX + 8];
	(void)msg;
	if (srv->drc)
		drc_get_stats(srv->drc, &ds);
	admin_kv_begin(&kv, out, admin_want_json(argc, argv));
	if (srv->pair)
		pair_status_kv(srv->pair, &kv);
	else
		admin_kv_str(&kv, "role", "single");
	admin_kv_str(&kv, "serving", atomic_load(&srv->serving) ? "yes" : "no");
	admin_kv_u64(&kv, "requests_in_flight", ds.executing);
	if (srv->probe) {
		char why[256] = "ok";
		probe_last_ok(srv->probe, why, sizeof(why));
		admin_kv_str(&kv, "storage", why[0] ? why : "ok");
	}
	admin_kv_str(&kv, "version", TWINFS_VERSION);
	admin_kv_u64(&kv, "nfs_port", rpc_server_port(srv->rpc, 0));
	admin_kv_u64(&kv, "mount_port", rpc_server_port(srv->rpc, 1));
	admin_kv_u64(&kv, "exports", export_count(srv->exports));
	for (unsigned i = 0; i < export_count(srv->exports); i++) {
		const struct config_export *e = export_config(export_at(srv->exports, i));
		snprintf(key, sizeof(key), "export_%u", e->id);
		snprintf(val, sizeof(val), "%s %s", e->path, e->read_only ? "ro" : "rw");
		admin_kv_str(&kv, key, val);
	}
	admin_kv_end(&kv);
	return 0;
}

static int cmd_stats(void *arg, int argc, char **argv, FILE *out, char *msg)
{
	struct server *srv = arg;
	struct drc_stats s = {0};
	(void)argc, (void)argv, (void)msg;
	if (srv->drc)
		drc_get_stats(srv->drc, &s);
	fprintf(out,
		"drc %s\ndrc_entries %" PRIu64 "\ndrc_executing %" PRIu64 "\ndrc_hits %" PRIu64
		"\ndrc_drops %" PRIu64 "\ndrc_refused %" PRIu64 "\ndrc_evictions %" PRIu64
		"\ndrc_bytes %" PRIu64 "\nmounts %u\nrecords_refused %" PRIu64 "\n",
		srv->drc ? "on" : "off", s.entries, s.executing, s.hits, s.drops, s.refused,
		s.evictions, s.bytes, mount_table_count(srv->mounts),
		rpc_server_records_refused(srv->rpc));
	return 0;
}

/* A test aid: the next N saved replies are executed, saved and mirrored, then
 * not sent, as if lost on the wire (the pair test's "drop the reply after
 * executing" fault point). */
static int cmd_inject(void *arg, int argc, char **argv, FILE *out, char *msg)
{
	struct server *srv = arg;
	char *end = NULL;
	if (argc == 2 && !strcmp(argv[1], "crash-after-execute")) {
		atomic_store(&srv->crash_after_execute, true);
		fprintf(out, "the next non-idempotent call kills this node once it has run\n");
		return 0;
	}
	long n = argc == 3 ? strtol(argv[2], &end, 10) : -1;
	if (argc != 3 || strcmp(argv[1], "drop-replies") != 0 || *end || n < 0 || n > 1000000) {
		snprintf(msg, ADMIN_MAX_LINE,
			 "usage: inject drop-replies N (0..1000000) | inject crash-after-execute");
		return -EINVAL;
	}
	atomic_store(&srv->drop_replies, (int)n);
	fprintf(out, "the next %ld saved replies will be dropped after executing\n", n);
	return 0;
}

static int server_admin(struct server *srv)
{
	char path[CONFIG_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/admin.sock", srv->cfg.state_dir);
	int rc = admin_create(path, &srv->admin);
	if (rc < 0) {
		log_error("admin socket %s: %s", path, strerror(-rc));
		return rc;
	}
	admin_add(srv->admin,
		  &(struct admin_command){"status", "status [--json]",
					  "role, partner, requests in flight, ports, exports",
					  cmd_status, srv});
	admin_add(srv->admin,
		  &(struct admin_command){"stats", "stats", "request table and server counters",
					  cmd_stats, srv});
	admin_add(srv->admin,
		  &(struct admin_command){"inject", "inject drop-replies N | crash-after-execute",
					  "tests: lose the next N saved replies after "
					  "executing the calls, or die after the next one",
					  cmd_inject, srv});
	/* The pair adds its commands before the socket starts answering. */
	rc = server_pair(srv);
	return rc < 0 ? rc : admin_start(srv->admin);
}

static void server_announce(struct server *srv)
{
	const struct rpc_registration regs[] = {{100003, 3, 0}, {100005, 3, 1}, {100003, 4, 0}};
	if (srv->cfg.rpcbind)
		rpc_server_register(srv->rpc, regs, 3);
	log_info("twinfsd %s serving %u export%s on %s: NFSv3 port %u, MOUNT port %u",
		 TWINFS_VERSION, export_count(srv->exports),
		 export_count(srv->exports) == 1 ? "" : "s", srv->cfg.bind,
		 rpc_server_port(srv->rpc, 0), rpc_server_port(srv->rpc, 1));
	for (unsigned i = 0; i < export_count(srv->exports); i++) {
		const struct config_export *e = export_config(export_at(srv->exports, i));
		log_info("export %u: %s (%s, %s)", e->id, e->path, e->read_only ? "ro" : "rw",
			 e->squash == SQUASH_NONE  ? "no_root_squash"
			 : e->squash == SQUASH_ALL ? "all_squash"
						   : "root_squash");
	}
}

static void server_stop(struct server *srv)
{
	admin_stop(srv->admin);
	probe_stop(srv->probe);
	pair_stop(srv->pair);
	probe_destroy(srv->probe);
	if (srv->rpc)
		rpc_server_stop(srv->rpc);
	mirror_destroy(srv->mirror);
	nfs4_server_destroy(srv->nfs4);
	pthread_mutex_lock(&srv->drop_lock);
	drop_caches_join(srv);
	pthread_mutex_unlock(&srv->drop_lock);
	export_table_close(srv->exports);
	mount_table_free(srv->mounts);
	drc_destroy(srv->drc);
}

static int load_config(const struct options *o, struct twinfs_config *cfg)
{
	if (o->export_dir) {
		quickstart_config(o->export_dir, cfg);
		return 0;
	}
	const char *file = o->check ? o->check : o->config;
	int nerr = config_load(file, cfg, stderr);
	if (nerr > 0) {
		fprintf(stderr, "%s: %d error%s\n", file, nerr, nerr == 1 ? "" : "s");
		return -EINVAL;
	}
	return 0;
}

/* Connections (max_connections) and the FSAL's descriptor cache both need more
 * descriptors than the usual soft limit of 1024: take what the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the descriptor limit: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	struct options o = {.port = -1, .mount_port = -1, .threads = -1};
	static struct server srv; /* large (the config); static to keep it off the stack */

	parse_args(argc, argv, &o);
	if (load_config(&o, &srv.cfg) < 0)
		return EXIT_USAGE;
	apply_overrides(&o, &srv.cfg);
	if (o.check) {
		printf("%s: ok\n", o.check);
		return 0;
	}
	log_setup(srv.cfg.log_dest == LOG_DEST_SYSLOG, (enum log_level)srv.cfg.log_level,
		  "twinfsd");

	/* Block the stop signals before any thread starts, so that only sigwait below
	 * sees them; a closed client socket must not kill the server. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	if (server_start(&srv) < 0) {
		log_error("twinfsd could not start");
		server_stop(&srv);
		return EXIT_START;
	}
	if (server_admin(&srv) < 0) {
		server_stop(&srv);
		return EXIT_START;
	}
	server_announce(&srv);
	int sig = 0;
	sigwait(&stop, &sig);
	log_info("signal %d: stopping", sig);
	server_stop(&srv);
	log_info("stopped");
	return 0;
}
