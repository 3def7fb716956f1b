/*
 * pseudo.h — the NFSv4 pseudo filesystem (RFC 7530 §7): the directories above
 * the exports' pseudo paths, so that a client that starts at PUTROOTFH can walk
 * down to every export by LOOKUP. Built once from the export table; immutable,
 * so lookups take no lock.
 */
#ifndef TWINFS_SERVER_NFS4_PSEUDO_H
#define TWINFS_SERVER_NFS4_PSEUDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct export;
struct export_table;
struct nfs4_pseudo;

#define PSEUDO_ROOT 0u

/* 0, -ENOMEM or -EINVAL (a pseudo path that is not absolute). */
int nfs4_pseudo_build(const struct export_table *t, struct nfs4_pseudo **out);
void nfs4_pseudo_free(struct nfs4_pseudo *p);

unsigned nfs4_pseudo_count(const struct nfs4_pseudo *p);
/* The child of dir called name (namelen bytes): 0 or -ENOENT. */
int nfs4_pseudo_lookup(const struct nfs4_pseudo *p, uint32_t dir, const char *name, size_t namelen,
		       uint32_t *child);
uint32_t nfs4_pseudo_parent(const struct nfs4_pseudo *p, uint32_t node);
const char *nfs4_pseudo_name(const struct nfs4_pseudo *p, uint32_t node);
/* The export mounted on this node (its pseudo path ends here), or NULL. */
const struct export *nfs4_pseudo_export(const struct nfs4_pseudo *p, uint32_t node);
/* The node an export is mounted on; false if none (it has no pseudo path). */
bool nfs4_pseudo_node_of(const struct nfs4_pseudo *p, const struct export *e, uint32_t *node);
/* Children in order: the first (after = UINT32_MAX) or the one after `after`;
 * false when there is none. */
bool nfs4_pseudo_next_child(const struct nfs4_pseudo *p, uint32_t dir, uint32_t after,
			    uint32_t *child);

#endif
