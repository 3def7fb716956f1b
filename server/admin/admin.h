/*
 * admin.h — the local administration interface that twinctl talks to.
 *
 * A Unix stream socket (mode 0600, in the state directory: only root on this node
 * may use it). One command per connection: a single line of at most
 * ADMIN_MAX_LINE bytes, words separated by spaces; the reply is text lines, the
 * first of which is "ok" or "error: <why>". Reading is bounded in size and time, so
 * a client that sends nothing or too much cannot hold the thread.
 *
 * Commands are a table (name, handler, help) that other modules add to before
 * admin_start(): the pair adds handover/takeover/giveback/fault, the server adds
 * status and stats.
 */
#ifndef TWINFS_SERVER_ADMIN_ADMIN_H
#define TWINFS_SERVER_ADMIN_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ADMIN_MAX_LINE	   256
#define ADMIN_MAX_ARGS	   8
#define ADMIN_MAX_COMMANDS 32

struct admin;

/* Writes the reply to out (after admin has written nothing); returns 0 for "ok" or
 * a negative errno, in which case admin writes "error: <msg>" with msg from the
 * handler (msg is a buffer of ADMIN_MAX_LINE bytes). */
typedef int (*admin_fn)(void *arg, int argc, char **argv, FILE *out, char *msg);

struct admin_command {
	const char *name;
	const char *usage;
	const char *help;
	admin_fn fn;
	void *arg;
};

int admin_create(const char *socket_path, struct admin **out);
/* Before admin_start only. -ENOSPC when the table is full. */
int admin_add(struct admin *a, const struct admin_command *cmd);
/* Starts the thread that serves the socket. */
int admin_start(struct admin *a);
void admin_stop(struct admin *a);

/*
 * Key-value replies: "key value" lines, or with --json one JSON object, from the
 * same calls, so both forms always carry the same fields.
 */
struct admin_kv {
	FILE *out;
	bool json;
	bool first;
};

void admin_kv_begin(struct admin_kv *kv, FILE *out, bool json);
void admin_kv_str(struct admin_kv *kv, const char *key, const char *value);
void admin_kv_u64(struct admin_kv *kv, const char *key, uint64_t value);
void admin_kv_end(struct admin_kv *kv);
/* Is "--json" among argv[1..]? */
bool admin_want_json(int argc, char **argv);

/* The parser, exposed for tests and the fuzz target: splits a line into words.
 * Returns argc (>= 0) or -EINVAL (empty, too long, too many words, bad bytes). */
int admin_split(char *line, size_t len, char **argv, int max);

#endif
