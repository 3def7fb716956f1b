/*
 * twinctl — administer the twinfsd on this node through its admin socket.
 *
 *   twinctl [-s SOCKET] COMMAND [ARGS...]     e.g. twinctl status, twinctl stats
 *   twinctl help                              the daemon's list of commands
 *
 * Prints the daemon's reply; exit 0 when it said "ok", 1 when it said
 * "error: ...", 2 when the daemon could not be reached.
 *
 * handover, takeover and giveback start a move that takes a moment (a drain, a
 * release, a claim): twinctl then waits for its outcome, watching `pair`, and
 * says how it ended: done (exit 0), refused with the reason (exit 1), or still
 * under way after the wait (-w SECONDS, default 60; exit 1). --no-wait returns
 * as soon as the daemon accepted the command.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/var/lib/twinfs/admin.sock"

static int connect_admin(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "twinctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "twinctl: cannot reach twinfsd at %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_command(int fd, int argc, char **argv)
{
	char line[256];
	size_t n = 0;
	for (int i = 0; i < argc; i++) {
		int w = snprintf(line + n, sizeof(line) - n, "%s%s", i ? " " : "", argv[i]);
		if (w < 0 || (size_t)w >= sizeof(line) - n - 1) {
			fprintf(stderr, "twinctl: command too long\n");
			return -1;
		}
		n += (size_t)w;
	}
	line[n++] = '\n';
	return write(fd, line, n) == (ssize_t)n ? 0 : -1;
}

/* One command; its whole reply into buf (NUL-terminated). 0 ok, 1 error, 2 no daemon. */
static int run(const char *path, int argc, char **argv, char *buf, size_t cap)
{
	int fd = connect_admin(path);
	if (fd < 0 || send_command(fd, argc, argv) < 0) {
		if (fd >= 0)
			close(fd);
		return 2;
	}
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
	return n == 0 ? 2 : strncmp(buf, "ok", 2) == 0 ? 0 : 1;
}

/* The value of `key` in a text reply ("key value" lines) into out. */
static bool field(const char *reply, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *l = reply; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, key, kl) && l[kl] == ' ') {
			size_t vl = strcspn(l + kl + 1, "\n");
			snprintf(out, cap, "%.*s", (int)vl, l + kl + 1);
			return true;
		}
	}
	return false;
}

struct pair_view {
	char role[32], peer_role[32], refusal[512];
	unsigned long long refusals;
};

static int pair_view(const char *path, struct pair_view *v)
{
	static char reply[8192];
	char *argv[] = {"pair"}, n[32] = "0";
	int rc = run(path, 1, argv, reply, sizeof(reply));
	if (rc != 0)
		return rc;
	field(reply, "role", v->role, sizeof(v->role));
	field(reply, "peer_role", v->peer_role, sizeof(v->peer_role));
	field(reply, "last_refusal", v->refusal, sizeof(v->refusal));
	field(reply, "refusals", n, sizeof(n));
	v->refusals = strtoull(n, NULL, 10);
	return 0;
}

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Has the move that `cmd` started (from role `from`) ended here? */
static bool move_done(const char *cmd, const char *from, const struct pair_view *v)
{
	bool serving = !strcmp(v->role, "ACTIVE");
	bool peer_serving = !strcmp(v->peer_role, "ACTIVE");
	if (!strcmp(cmd, "takeover"))
		return serving;
	if (!strcmp(cmd, "handover"))
		return !serving && peer_serving;
	/* giveback: the service moves to whichever node did not hold it */
	return !strcmp(from, "ACTIVE") ? !serving && peer_serving : serving;
}

/* Waits for the outcome of a move: 0 done, 1 refused or still under way. */
static int wait_move(const char *path, const char *cmd, const struct pair_view *before,
		     unsigned wait_s)
{
	uint64_t t0 = ms_now(), end = t0 + (uint64_t)wait_s * 1000;
	struct pair_view v = {0};
	while (ms_now() < end) {
		usleep(50000);
		if (pair_view(path, &v) != 0)
			continue;
		if (v.refusals > before->refusals) {
			printf("refused: %s\n", v.refusal);
			return 1;
		}
		if (move_done(cmd, before->role, &v)) {
			printf("done in %llu ms: this node %s, partner %s\n",
			       (unsigned long long)(ms_now() - t0), v.role, v.peer_role);
			return 0;
		}
	}
	printf("still under way after %u s: this node %s, partner %s (twinctl pair)\n", wait_s,
	       v.role, v.peer_role);
	return 1;
}

static bool is_move(const char *cmd, int argc, char **argv)
{
	if (strcmp(cmd, "handover") && strcmp(cmd, "takeover") && strcmp(cmd, "giveback"))
		return false;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--dry-run"))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	const char *path =
	    getenv("TWINFS_ADMIN_SOCKET") ? getenv("TWINFS_ADMIN_SOCKET") : DEFAULT_SOCKET;
	int first = 1;
	unsigned wait_s = 60;
	bool wait = true;
	while (first < argc && argv[first][0] == '-') {
		if (!strcmp(argv[first], "-s") && first + 1 < argc)
			path = argv[first + 1], first += 2;
		else if (!strcmp(argv[first], "-w") && first + 1 < argc &&
			 atoi(argv[first + 1]) > 0)
			wait_s = (unsigned)atoi(argv[first + 1]), first += 2;
		else if (!strcmp(argv[first], "--no-wait"))
			wait = false, first++;
		else
			break;
	}
	if (first >= argc) {
		fprintf(stderr, "usage: twinctl [-s SOCKET] [-w SECONDS] [--no-wait] COMMAND "
				"[ARGS...]   (twinctl help)\n");
		return 2;
	}
	struct pair_view before = {0};
	bool move = wait && is_move(argv[first], argc - first, argv + first) &&
		    pair_view(path, &before) == 0;
	int fd = connect_admin(path);
	if (fd < 0 || send_command(fd, argc - first, argv + first) < 0)
		return 2;
	char buf[4096];
	ssize_t r;
	int status = -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (status < 0)
			status = strncmp(buf, "ok", 2) == 0 ? 0 : 1;
		fwrite(buf, 1, (size_t)r, stdout);
	}
	close(fd);
	if (status == 0 && move) {
		fflush(stdout);
		return wait_move(path, argv[first], &before, wait_s);
	}
	return status < 0 ? 2 : status;
}
