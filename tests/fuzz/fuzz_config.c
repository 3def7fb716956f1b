/*
 * fuzz_config.c — libFuzzer target for the config parser.
 *
 * Feeds arbitrary bytes to config_parse() (the input is not NUL-terminated, as the
 * parser must not need it to be) and to config_parse_client(), then runs the access
 * check over whatever exports came out. The parser's contract is: any input, no crash,
 * no read or write outside its buffers, a non-negative error count, and a result
 * within the named limits. A file accepted with a pair block also satisfies every check
 * between the pair's keys; one accepted without leaves the pair at its defaults.
 *
 * Build (not part of the default build):
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *         tests/fuzz/fuzz_config.c config/config*.c -o fuzz_config
 *   ./fuzz_config -max_len=8192 config/examples config/bad
 * The seeds include both nodes of a pair (config/examples/pair-*.conf) and the broken
 * pair files (config/bad/pair-*.conf).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two spellings of one address (an IPv4-mapped one is its IPv4 address) are equal. */
static bool same_address(const char *a, const char *b)
{
	struct config_client ca, cb;

	return config_parse_client(a, &ca) == 0 && config_parse_client(b, &cb) == 0 &&
	       ca.family == cb.family && memcmp(ca.addr, cb.addr, sizeof(ca.addr)) == 0;
}

static bool is_wildcard(const char *a)
{
	return same_address(a, "0.0.0.0") || same_address(a, "::");
}

/* What an accepted pair block promises (config.c's checks between keys). */
static bool pair_valid(const struct twinfs_config *cfg)
{
	const struct config_pair *p = &cfg->pair;
	struct in_addr v4;

	if (p->node_id < 1 || p->node_id > 2 || !p->peer_address[0] || p->key_file[0] != '/' ||
	    !p->service_address[0] || !p->service_interface[0])
		return false;
	if (p->dead_ms < 3 * p->heartbeat_ms || p->lease_ms <= 2 * p->heartbeat_ms)
		return false;
	if (inet_pton(AF_INET, p->service_address, &v4) == 1 && p->service_prefix > 32)
		return false;
	if (!is_wildcard(p->listen_address) && same_address(p->peer_address, p->listen_address))
		return false;
	return is_wildcard(cfg->bind) || same_address(cfg->bind, p->service_address);
}

/* Accepted: a pair block keeps its promises; no block leaves the defaults in place. */
static void check_pair(const struct twinfs_config *cfg)
{
	struct twinfs_config *def;

	if (cfg->pair.enabled) {
		if (!pair_valid(cfg))
			abort();
		return;
	}
	def = malloc(sizeof(*def));
	if (!def)
		return;
	config_defaults(def);
	if (memcmp(&def->pair, &cfg->pair, sizeof(def->pair)) != 0)
		abort();
	free(def);
}

/* Every export's access list, against an IPv4, a mapped and an IPv6 client. */
static void check_clients(const struct twinfs_config *cfg)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

	inet_pton(AF_INET, "10.0.0.1", &sin.sin_addr);
	for (unsigned i = 0; i < cfg->nexports; i++) {
		const struct config_export *e = &cfg->exports[i];

		config_client_allowed(e, (const struct sockaddr *)&sin);
		inet_pton(AF_INET6, "::ffff:10.0.0.1", &sin6.sin6_addr);
		config_client_allowed(e, (const struct sockaddr *)&sin6);
		inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
		config_client_allowed(e, (const struct sockaddr *)&sin6);
	}
}

/* The input as one client entry: a NUL-terminated copy of at most 128 bytes. */
static void check_one_client(const uint8_t *data, size_t size)
{
	struct config_client c;
	char text[129];
	size_t n = size < 128 ? size : 128;

	memcpy(text, data, n);
	text[n] = '\0';
	if (config_parse_client(text, &c) == 0 && c.prefix > (c.family == AF_INET ? 32 : 128))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct twinfs_config *cfg = malloc(sizeof(*cfg));
	int rc;

	if (!cfg)
		return 0;
	rc = config_parse("fuzz.conf", (const char *)data, size, cfg, NULL);
	if (rc < 0 || cfg->nexports > CONFIG_MAX_EXPORTS || (rc == 0 && cfg->nexports == 0))
		abort();
	for (unsigned i = 0; i < cfg->nexports; i++) {
		if (cfg->exports[i].nclients > CONFIG_MAX_CLIENTS)
			abort();
	}
	check_clients(cfg);
	if (rc == 0)
		check_pair(cfg);
	check_one_client(data, size);
	free(cfg);
	return 0;
}
