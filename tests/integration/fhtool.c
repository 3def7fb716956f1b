/*
 * fhtool.c — get an NFSv3 file handle, and use it later without mounting again.
 *
 * The restart test needs to hold on to a file handle across a server restart and
 * present it again without a new MNT, as a kernel client does with the handles in
 * its cache. libnfs hides handles, so this small raw-RPC tool (rawrpc.h) prints
 * them as hex and takes them back:
 *
 *     fhtool [-p NFSPORT] [-m MOUNTPORT] mnt PATH          root handle of export PATH
 *     fhtool [-p NFSPORT] [-m MOUNTPORT] lookup PATH NAME  handle of PATH/NAME (NAME may
 *                                                          contain '/': one LOOKUP each)
 *     fhtool [-p NFSPORT] [-t MS] getattr HEX              "type=T mode=M size=S fileid=F"
 *     fhtool [-p NFSPORT] read HEX                         the file's bytes on stdout
 *     fhtool [-p NFSPORT] [-t MS] remove DIRHEX NAME XID   one REMOVE with this XID;
 *                                                          prints "nfsstat3 N"
 *
 * The pair test sends a REMOVE whose reply the server drops, then retransmits
 * it (same XID, same arguments) to the partner after a takeover: the partner
 * must answer from its mirror of the request table, NFS3_OK, not NOENT.
 *
 * Ports default to $TWINFS_PORT and $TWINFS_MOUNT_PORT; the server is 127.0.0.1
 * or -H ADDRESS (IPv4). Exit status: 0 success, 1 the server answered with an
 * error (printed as "nfsstat3 N" or "mountstat3 N" on stderr), 2 usage or
 * transport failure, 3 (remove) no reply within -t milliseconds (default 5000).
 */
#include "tests/integration/rawrpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
	uint16_t port;
	uint16_t mport;
	const char *host;
	int timeout_ms;
};

static int usage(void)
{
	fprintf(stderr, "usage: fhtool [-p NFSPORT] [-m MOUNTPORT] mnt PATH\n"
			"       fhtool [-p NFSPORT] [-m MOUNTPORT] lookup PATH NAME\n"
			"       fhtool [-p NFSPORT] getattr HEX\n"
			"       fhtool [-p NFSPORT] read HEX\n"
			"       fhtool [-p NFSPORT] [-t MS] remove DIRHEX NAME XID\n"
			"       (-H ADDRESS: the server, default 127.0.0.1)\n");
	return 2;
}

/* Maps a helper's result to the exit status, saying what went wrong. */
static int report(const char *what, const char *kind, int st)
{
	if (st == 0)
		return 0;
	if (st > 0) {
		fprintf(stderr, "fhtool: %s: %s %d\n", what, kind, st);
		return 1;
	}
	fprintf(stderr, "fhtool: %s: %s\n", what,
		st == -EPROTO ? "call not accepted by the server" : strerror(-st));
	return 2;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	long p;

	if (!s)
		return 0;
	p = strtol(s, &end, 10);
	if (*s == '\0' || *end || p <= 0 || p > 65535)
		return -1;
	*out = (uint16_t)p;
	return 0;
}

static int do_mnt(const struct opts *o, const char *path, struct rr_fh *fh)
{
	struct rr_conn c = {.xid = 0};
	int st;

	if (o->mport == 0) {
		fprintf(stderr, "fhtool: set -m or TWINFS_MOUNT_PORT\n");
		return 2;
	}
	st = rr_open_addr(&c, o->host, o->mport);
	if (st == 0)
		st = rr_mnt(&c, path, fh);
	rr_close(&c);
	return report("MNT", "mountstat3", st);
}

/* One LOOKUP per component of name, from dir. */
static int do_lookup(const struct opts *o, struct rr_fh *fh, char *name)
{
	struct rr_conn c = {.xid = 0};
	char *save = NULL, *part;
	int st = rr_open_addr(&c, o->host, o->port);

	for (part = strtok_r(name, "/", &save); part && st == 0; part = strtok_r(NULL, "/", &save))
		st = rr_lookup(&c, fh, part, fh);
	rr_close(&c);
	return report("LOOKUP", "nfsstat3", st);
}

static int print_fh(const struct rr_fh *fh)
{
	char hex[2 * RR_FHSIZE3 + 1];

	rr_fh_to_hex(fh, hex);
	printf("%s\n", hex);
	return 0;
}

static int cmd_getattr(const struct opts *o, const struct rr_fh *fh)
{
	struct rr_conn c = {.xid = 0};
	struct rr_fattr a;
	int st = rr_open_addr(&c, o->host, o->port);

	if (st == 0)
		st = rr_set_timeout(c.fd, o->timeout_ms);
	if (st == 0)
		st = rr_getattr(&c, fh, &a);
	rr_close(&c);
	if (st != 0)
		return report("GETATTR", "nfsstat3", st);
	printf("type=%u mode=%04o size=%llu fileid=%llu\n", a.type, a.mode & 07777,
	       (unsigned long long)a.size, (unsigned long long)a.fileid);
	return 0;
}

static int cmd_read(const struct opts *o, const struct rr_fh *fh)
{
	static uint8_t data[64 * 1024];
	struct rr_conn c = {.xid = 0};
	uint64_t off = 0;
	bool eof = false;
	int st = rr_open_addr(&c, o->host, o->port);

	while (st == 0 && !eof) {
		uint32_t n = 0;

		st = rr_read(&c, fh, off, sizeof(data), data, &n, &eof);
		if (st == 0 && n == 0 && !eof)
			st = -EIO; /* no progress and no EOF: the server is wrong */
		if (st == 0 && fwrite(data, 1, n, stdout) != n)
			st = -errno;
		off += n;
	}
	rr_close(&c);
	if (fflush(stdout) != 0 && st == 0)
		st = -errno;
	return report("READ", "nfsstat3", st);
}

#define NFSPROC3_REMOVE 12

/* One REMOVE with a chosen XID, so that a test can retransmit it exactly. */
static int cmd_remove(const struct opts *o, const struct rr_fh *dir, const char *name,
		      const char *xid_s)
{
	static uint8_t rec[8192];
	uint8_t call[1024];
	struct rr_conn c = {.xid = 0};
	struct rr_buf b;
	struct rr_reply r;
	size_t len = 0;
	char *end;
	unsigned long xid = strtoul(xid_s, &end, 0);

	if (*xid_s == '\0' || *end || xid > UINT32_MAX)
		return usage();
	int st = rr_open_addr(&c, o->host, o->port);
	if (st == 0)
		st = rr_set_timeout(c.fd, o->timeout_ms);
	rr_buf_init(&b, call, sizeof(call));
	rr_put_call(&b, (uint32_t)xid, RR_NFS_PROG, RR_NFS_VERS, NFSPROC3_REMOVE);
	rr_put_fh(&b, dir);
	rr_put_string(&b, name);
	if (st == 0)
		st = rr_send_record(c.fd, b.data, b.len);
	/* Only the reply to this XID counts (a stale one on a reused port would not). */
	do {
		if (st == 0)
			st = rr_recv_record(c.fd, rec, sizeof(rec), &len);
		if (st == 0 && rr_parse_reply(rec, len, &r) < 0)
			st = -EBADMSG;
	} while (st == 0 && r.xid != (uint32_t)xid);
	rr_close(&c);
	if (st == -ETIMEDOUT || st == -EAGAIN) {
		printf("no reply\n");
		return 3;
	}
	if (st == 0 && (r.reply_stat != RR_MSG_ACCEPTED || r.stat != RR_SUCCESS))
		st = -EPROTO;
	if (st != 0)
		return report("REMOVE", "nfsstat3", st);
	printf("nfsstat3 %u\n", rr_get_u32(&r.body));
	return 0;
}

static int run(const struct opts *o, int argc, char **argv)
{
	struct rr_fh fh;
	int st;

	if (argc == 2 && strcmp(argv[0], "mnt") == 0) {
		st = do_mnt(o, argv[1], &fh);
		return st ? st : print_fh(&fh);
	}
	if (argc == 3 && strcmp(argv[0], "lookup") == 0) {
		st = do_mnt(o, argv[1], &fh);
		if (st == 0)
			st = do_lookup(o, &fh, argv[2]);
		return st ? st : print_fh(&fh);
	}
	if (argc == 4 && strcmp(argv[0], "remove") == 0) {
		if (rr_fh_from_hex(argv[1], &fh))
			return usage();
		return cmd_remove(o, &fh, argv[2], argv[3]);
	}
	if (argc != 2)
		return usage();
	if (rr_fh_from_hex(argv[1], &fh)) {
		fprintf(stderr, "fhtool: not a file handle in hex: %s\n", argv[1]);
		return 2;
	}
	if (strcmp(argv[0], "getattr") == 0)
		return cmd_getattr(o, &fh);
	if (strcmp(argv[0], "read") == 0)
		return cmd_read(o, &fh);
	return usage();
}

int main(int argc, char **argv)
{
	struct opts o = {.host = "127.0.0.1", .timeout_ms = RR_TIMEOUT_MS};
	int ch;

	if (parse_port(getenv("TWINFS_PORT"), &o.port) ||
	    parse_port(getenv("TWINFS_MOUNT_PORT"), &o.mport))
		return usage();
	while ((ch = getopt(argc, argv, "+p:m:H:t:")) != -1) {
		if (ch == 'p' && parse_port(optarg, &o.port) == 0)
			continue;
		if (ch == 'H') {
			o.host = optarg;
			continue;
		}
		if (ch == 't' && (o.timeout_ms = atoi(optarg)) > 0)
			continue;
		if (ch == 'm' && parse_port(optarg, &o.mport) == 0)
			continue;
		return usage();
	}
	if (o.port == 0) {
		fprintf(stderr, "fhtool: set -p or TWINFS_PORT\n");
		return 2;
	}
	return run(&o, argc - optind, argv + optind);
}
