/*
 * fuzz_config.c — libFuzzer target for the config parser.
 *
 * Feeds arbitrary bytes to config_parse() (the input is not NUL-terminated, as the
 * parser must not need it to be) and to config_parse_client(), then runs the access
 * check over whatever exports came out. The parser's contract is: any input, no crash,
 * no read or write outside its buffers, a non-negative error count, and a result
 * within the named limits.
 *
 * Build (not part of the default build):
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *         tests/fuzz/fuzz_config.c config/config*.c -o fuzz_config
 *   ./fuzz_config -max_len=8192 config/examples config/bad
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	check_one_client(data, size);
	free(cfg);
	return 0;
}
