#include "server/admin/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/log/log.h"

#define ADMIN_READ_TIMEOUT_MS 2000

struct admin {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	bool running;
	unsigned ncmds;
	struct admin_command cmds[ADMIN_MAX_COMMANDS];
};

static int admin_help(void *arg, int argc, char **argv, FILE *out, char *msg)
{
	struct admin *a = arg;
	(void)argc, (void)argv, (void)msg;
	for (unsigned i = 0; i < a->ncmds; i++)
		fprintf(out, "%-24s %s\n", a->cmds[i].usage, a->cmds[i].help);
	return 0;
}

int admin_create(const char *socket_path, struct admin **out)
{
	struct admin *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (strlen(socket_path) >= sizeof(a->path)) {
		free(a);
		return -ENAMETOOLONG;
	}
	strcpy(a->path, socket_path);
	a->fd = -1;
	a->stop_pipe[0] = a->stop_pipe[1] = -1;
	admin_add(a, &(struct admin_command){"help", "help", "list the commands", admin_help, a});
	*out = a;
	return 0;
}

int admin_add(struct admin *a, const struct admin_command *cmd)
{
	if (a->ncmds >= ADMIN_MAX_COMMANDS)
		return -ENOSPC;
	a->cmds[a->ncmds++] = *cmd;
	return 0;
}

void admin_kv_begin(struct admin_kv *kv, FILE *out, bool json)
{
	kv->out = out;
	kv->json = json;
	kv->first = true;
	if (json)
		fputc('{', out);
}

static void admin_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void admin_kv_key(struct admin_kv *kv, const char *key)
{
	if (!kv->json) {
		fprintf(kv->out, "%s ", key);
		return;
	}
	if (!kv->first)
		fputc(',', kv->out);
	kv->first = false;
	admin_json_string(kv->out, key);
	fputc(':', kv->out);
}

void admin_kv_str(struct admin_kv *kv, const char *key, const char *value)
{
	admin_kv_key(kv, key);
	if (kv->json)
		admin_json_string(kv->out, value);
	else
		fprintf(kv->out, "%s\n", value);
}

void admin_kv_u64(struct admin_kv *kv, const char *key, uint64_t value)
{
	admin_kv_key(kv, key);
	fprintf(kv->out, kv->json ? "%llu" : "%llu\n", (unsigned long long)value);
}

void admin_kv_end(struct admin_kv *kv)
{
	if (kv->json)
		fputs("}\n", kv->out);
}

bool admin_want_json(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			return true;
	return false;
}

int admin_split(char *line, size_t len, char **argv, int max)
{
	int argc = 0;
	if (len == 0 || len >= ADMIN_MAX_LINE)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return -EINVAL; /* printable ASCII only: names, numbers, types */
	line[len] = '\0';
	for (char *save = NULL, *w = strtok_r(line, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		if (argc == max)
			return -EINVAL;
		argv[argc++] = w;
	}
	return argc ? argc : -EINVAL;
}

/* Reads one line (up to '\n' or EOF), bounded in bytes and time. */
static ssize_t admin_read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	while (n < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, ADMIN_READ_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		ssize_t r = read(fd, buf + n, size - n);
		if (r < 0)
			return -errno;
		if (r == 0)
			return (ssize_t)n;
		char *nl = memchr(buf + n, '\n', (size_t)r);
		n += (size_t)r;
		if (nl)
			return nl - buf;
	}
	return -EMSGSIZE;
}

static void admin_run(struct admin *a, int argc, char **argv, FILE *out)
{
	char msg[ADMIN_MAX_LINE] = "";
	char *body = NULL;
	size_t bodylen = 0;
	FILE *mem = open_memstream(&body, &bodylen);
	int rc = -ENOENT;

	snprintf(msg, sizeof(msg), "unknown command '%s' (try: help)", argv[0]);
	for (unsigned i = 0; i < a->ncmds && mem; i++)
		if (!strcmp(a->cmds[i].name, argv[0])) {
			msg[0] = '\0';
			rc = a->cmds[i].fn(a->cmds[i].arg, argc, argv, mem, msg);
			break;
		}
	if (mem)
		fclose(mem);
	if (rc < 0)
		fprintf(out, "error: %s\n", msg[0] ? msg : strerror(-rc));
	else
		fprintf(out, "ok\n%s", body ? body : "");
	free(body);
}

static void admin_serve_one(struct admin *a, int cfd)
{
	char line[ADMIN_MAX_LINE + 1];
	char *argv[ADMIN_MAX_ARGS];
	FILE *out = fdopen(cfd, "w");
	if (!out) {
		close(cfd);
		return;
	}
	ssize_t n = admin_read_line(cfd, line, ADMIN_MAX_LINE);
	int argc = n < 0 ? (int)n : admin_split(line, (size_t)n, argv, ADMIN_MAX_ARGS);
	if (argc < 0)
		fprintf(out,
			"error: expected one command line of at most %d printable bytes and "
			"%d words\n",
			ADMIN_MAX_LINE - 1, ADMIN_MAX_ARGS);
	else
		admin_run(a, argc, argv, out);
	fclose(out);
}

static void *admin_thread(void *arg)
{
	struct admin *a = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN},
				      {.fd = a->stop_pipe[0], .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int cfd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd >= 0)
			admin_serve_one(a, cfd);
	}
	return NULL;
}

int admin_start(struct admin *a)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	strcpy(sun.sun_path, a->path);
	unlink(a->path); /* a stale socket of a previous run */
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(077);
	int rc = (a->fd < 0 || bind(a->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
		  listen(a->fd, 16) < 0 || pipe2(a->stop_pipe, O_CLOEXEC) < 0)
		     ? -errno
		     : 0;
	umask(old);
	if (rc == 0)
		rc = -pthread_create(&a->thread, NULL, admin_thread, a);
	if (rc < 0) {
		log_error("admin socket %s: %s", a->path, strerror(-rc));
		return rc;
	}
	a->running = true;
	return 0;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	if (a->running) {
		(void)!write(a->stop_pipe[1], "x", 1);
		pthread_join(a->thread, NULL);
		unlink(a->path);
	}
	if (a->fd >= 0)
		close(a->fd);
	if (a->stop_pipe[0] >= 0) {
		close(a->stop_pipe[0]);
		close(a->stop_pipe[1]);
	}
	free(a);
}
