/*
 * tickletool — drives failover/tickle from the command line, for test_tickle.sh:
 *   tickletool [-c COUNT] SERVER_IP SERVER_PORT CLIENT_IP CLIENT_PORT [...]
 * (one quadruple per connection; IPv4, IPv6 or IPv4-mapped literals). Prints
 * "tickled N" and exits 0 when every connection was tickled.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failover/tickle/tickle.h"

/* Fills ss from an address literal and a port; 0, or -1 if either is bad. */
static int parse_side(const char *addr, const char *port, struct sockaddr_storage *ss)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		return 0;
	}
	return -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: tickletool [-c COUNT] SERVER_IP SERVER_PORT CLIENT_IP "
			"CLIENT_PORT [...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned count = 3;
	int opt;
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt != 'c')
			return usage();
		count = (unsigned)strtoul(optarg, NULL, 10);
	}
	int left = argc - optind;
	if (left == 0 || left % 4 != 0)
		return usage();
	size_t n = (size_t)left / 4;
	struct tickle_conn *conns = calloc(n, sizeof(*conns));
	if (!conns)
		return 1;
	for (size_t i = 0; i < n; i++) {
		char **a = &argv[optind + 4 * i];
		if (parse_side(a[0], a[1], &conns[i].server) < 0 ||
		    parse_side(a[2], a[3], &conns[i].client) < 0) {
			fprintf(stderr, "tickletool: bad address or port in connection %zu\n",
				i + 1);
			free(conns);
			return 2;
		}
	}
	int rc = tickle_send(conns, n, count);
	free(conns);
	if (rc < 0) {
		fprintf(stderr, "tickletool: %s\n", strerror(-rc));
		return 1;
	}
	printf("tickled %d\n", rc);
	return (size_t)rc == n ? 0 : 1;
}
