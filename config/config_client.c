/*
 * config_client.c — export access lists: "ADDR" or "ADDR/PREFIX" entries and the match
 * of a client's address against them.
 *
 * A dual-stack listener sees an IPv4 client as the IPv4-mapped IPv6 address
 * ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2). An administrator writes IPv4 entries, so
 * an IPv4 entry matches both forms. For the same reason a mapped entry written by hand
 * (::ffff:10.0.0.0/104) is stored as the IPv4 entry it stands for (10.0.0.0/8). IPv6
 * entries are compared with the address bytes as received and never with a plain
 * AF_INET address.
 *
 * Matching compares the first `prefix` bits only, so host bits set in an entry
 * (10.1.2.3/8) are ignored rather than rejected, as most NFS servers do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "config/config_int.h"

/* "0".."32" or "0".."128"; no sign, no blanks, no leading zeros beyond "0". */
static int parse_prefix(const char *s, unsigned max, uint8_t *out)
{
	unsigned v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -EINVAL;
	for (i = 0; i < 3 && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (s[i] != '\0' || v > max)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

/* ::ffff:a.b.c.d/96+n becomes a.b.c.d/n. */
static void unmap_v4(struct config_client *c)
{
	struct in6_addr a;

	memcpy(&a, c->addr, sizeof(a));
	if (c->family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a) || c->prefix < 96)
		return;
	c->family = AF_INET;
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
	c->prefix -= 96;
}

int config_parse_client(const char *text, struct config_client *out)
{
	struct config_client c = {0};
	char addr[INET6_ADDRSTRLEN];
	const char *slash;
	size_t alen;
	unsigned max;

	if (!text || !out)
		return -EINVAL;
	slash = strchr(text, '/');
	alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c.addr) == 1)
		c.family = AF_INET6;
	else
		return -EINVAL;
	max = c.family == AF_INET ? 32 : 128;
	c.prefix = (uint8_t)max;
	if (slash && parse_prefix(slash + 1, max, &c.prefix) < 0)
		return -EINVAL;
	unmap_v4(&c);
	*out = c;
	return 0;
}

/* Do the first `bits` bits of a and b agree? */
static bool prefix_matches(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return ((a[full] ^ b[full]) & mask) == 0;
}

/* The client's address in the forms entries are compared with. */
struct client_forms {
	uint8_t v4[4];
	uint8_t v6[16];
	bool has_v4, has_v6;
};

static bool client_forms(const struct sockaddr *sa, struct client_forms *f)
{
	memset(f, 0, sizeof(*f));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		memcpy(f->v4, &sin->sin_addr, 4);
		f->has_v4 = true;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		memcpy(f->v6, &sin6->sin6_addr, 16);
		f->has_v6 = true;
		f->has_v4 = IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
		memcpy(f->v4, f->v6 + 12, 4);
	}
	return f->has_v4 || f->has_v6;
}

static bool entry_matches(const struct config_client *c, const struct client_forms *f)
{
	if (c->family == AF_INET && f->has_v4)
		return prefix_matches(c->addr, f->v4, c->prefix > 32 ? 32 : c->prefix);
	if (c->family == AF_INET6 && f->has_v6)
		return prefix_matches(c->addr, f->v6, c->prefix > 128 ? 128 : c->prefix);
	return false;
}

bool config_client_allowed(const struct config_export *exp, const struct sockaddr *sa)
{
	struct client_forms f;
	unsigned n;

	if (!exp || !sa || !client_forms(sa, &f))
		return false;
	n = exp->nclients < CONFIG_MAX_CLIENTS ? exp->nclients : CONFIG_MAX_CLIENTS;
	for (unsigned i = 0; i < n; i++) {
		if (entry_matches(&exp->clients[i], &f))
			return true;
	}
	return false;
}
