/*
 * pseudo.c — the pseudo filesystem as a flat array of nodes (index 0 is "/"),
 * each with its parent, first child and next sibling. An export whose pseudo
 * path is P hangs on the node for P; the nodes on the way are plain read-only
 * directories. An export at "/" hangs on the root itself.
 *
 * Left out: hiding the branches a client may not reach (every client sees the
 * same tree; crossing into an export checks its access list).
 */
#include "server/nfs4/pseudo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/export/export.h"

struct pseudo_node {
	char name[256];
	uint32_t parent, first_child, next_sibling;
	const struct export *exp;
};

#define PSEUDO_NONE UINT32_MAX

struct nfs4_pseudo {
	unsigned n, cap;
	struct pseudo_node *nodes;
};

static int pseudo_add(struct nfs4_pseudo *p, uint32_t parent, const char *name, size_t len,
		      uint32_t *out)
{
	if (len >= sizeof(p->nodes[0].name))
		return -EINVAL;
	if (p->n == p->cap) {
		unsigned cap = p->cap ? p->cap * 2 : 16;
		struct pseudo_node *nn = realloc(p->nodes, cap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		p->nodes = nn;
		p->cap = cap;
	}
	struct pseudo_node *x = &p->nodes[p->n];
	memset(x, 0, sizeof(*x));
	memcpy(x->name, name, len);
	x->parent = parent;
	x->first_child = PSEUDO_NONE;
	x->next_sibling = PSEUDO_NONE;
	if (parent != PSEUDO_NONE) {
		/* append, so READDIR lists in configuration order */
		uint32_t *link = &p->nodes[parent].first_child;
		while (*link != PSEUDO_NONE)
			link = &p->nodes[*link].next_sibling;
		*link = p->n;
	}
	*out = p->n++;
	return 0;
}

/* Walks (creating) the nodes of an absolute path; returns the last one. */
static int pseudo_path(struct nfs4_pseudo *p, const char *path, uint32_t *out)
{
	uint32_t cur = PSEUDO_ROOT;
	if (path[0] != '/')
		return -EINVAL;
	for (const char *s = path; *s;) {
		while (*s == '/')
			s++;
		size_t len = strcspn(s, "/");
		if (!len)
			break;
		uint32_t next;
		if (nfs4_pseudo_lookup(p, cur, s, len, &next) < 0) {
			int rc = pseudo_add(p, cur, s, len, &next);
			if (rc < 0)
				return rc;
		}
		cur = next;
		s += len;
	}
	*out = cur;
	return 0;
}

int nfs4_pseudo_build(const struct export_table *t, struct nfs4_pseudo **out)
{
	struct nfs4_pseudo *p = calloc(1, sizeof(*p));
	uint32_t root;
	int rc = p ? pseudo_add(p, PSEUDO_NONE, "", 0, &root) : -ENOMEM;

	for (unsigned i = 0; rc == 0 && i < export_count(t); i++) {
		const struct export *e = export_at(t, i);
		uint32_t node;
		rc = pseudo_path(p, export_config(e)->pseudo, &node);
		if (rc == 0)
			p->nodes[node].exp = e;
	}
	if (rc < 0) {
		nfs4_pseudo_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void nfs4_pseudo_free(struct nfs4_pseudo *p)
{
	if (!p)
		return;
	free(p->nodes);
	free(p);
}

unsigned nfs4_pseudo_count(const struct nfs4_pseudo *p)
{
	return p->n;
}

int nfs4_pseudo_lookup(const struct nfs4_pseudo *p, uint32_t dir, const char *name, size_t namelen,
		       uint32_t *child)
{
	if (dir >= p->n)
		return -ENOENT;
	for (uint32_t c = p->nodes[dir].first_child; c != PSEUDO_NONE; c = p->nodes[c].next_sibling)
		if (strlen(p->nodes[c].name) == namelen &&
		    !memcmp(p->nodes[c].name, name, namelen)) {
			*child = c;
			return 0;
		}
	return -ENOENT;
}

uint32_t nfs4_pseudo_parent(const struct nfs4_pseudo *p, uint32_t node)
{
	return node < p->n && node != PSEUDO_ROOT ? p->nodes[node].parent : PSEUDO_ROOT;
}

const char *nfs4_pseudo_name(const struct nfs4_pseudo *p, uint32_t node)
{
	return node < p->n ? p->nodes[node].name : "";
}

const struct export *nfs4_pseudo_export(const struct nfs4_pseudo *p, uint32_t node)
{
	return node < p->n ? p->nodes[node].exp : NULL;
}

bool nfs4_pseudo_node_of(const struct nfs4_pseudo *p, const struct export *e, uint32_t *node)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (p->nodes[i].exp == e) {
			*node = i;
			return true;
		}
	return false;
}

bool nfs4_pseudo_next_child(const struct nfs4_pseudo *p, uint32_t dir, uint32_t after,
			    uint32_t *child)
{
	if (dir >= p->n)
		return false;
	uint32_t c = after == UINT32_MAX ? p->nodes[dir].first_child
		     : after < p->n	 ? p->nodes[after].next_sibling
					 : PSEUDO_NONE;
	if (c == PSEUDO_NONE)
		return false;
	*child = c;
	return true;
}
