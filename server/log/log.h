/*
 * log.h — leveled logging, one line per event, to stderr or syslog.
 *
 * The sink and level are process-wide by nature (stderr, syslog and the level an
 * operator chose are per process), so this is the one module with static state; it
 * is set once at start-up before any thread runs and only read afterwards.
 * Nothing on the request path logs at the default level (info) except real events
 * (a refused mount, a dropped connection for an oversized record).
 */
#ifndef TWINFS_SERVER_LOG_LOG_H
#define TWINFS_SERVER_LOG_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

void log_setup(bool use_syslog, enum log_level level, const char *ident);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_LVL_DEBUG))                                                    \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)

#endif
