/*
 * twinctl — administer the twinfsd on this node through its admin socket.
 *
 *   twinctl [-s SOCKET] COMMAND [ARGS...]     e.g. twinctl status, twinctl stats
 *   twinctl help                              the daemon's list of commands
 *
 * Prints the daemon's reply; exit 0 when it said "ok", 1 when it said
 * "error: ...", 2 when the daemon could not be reached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

int main(int argc, char **argv)
{
	const char *path =
	    getenv("TWINFS_ADMIN_SOCKET") ? getenv("TWINFS_ADMIN_SOCKET") : DEFAULT_SOCKET;
	int first = 1;
	if (argc > 2 && !strcmp(argv[1], "-s")) {
		path = argv[2];
		first = 3;
	}
	if (first >= argc) {
		fprintf(stderr, "usage: twinctl [-s SOCKET] COMMAND [ARGS...]   (twinctl help)\n");
		return 2;
	}
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
	return status < 0 ? 2 : status;
}
