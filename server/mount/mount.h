/*
 * mount.h — the MOUNT protocol version 3 (RFC 1813 Appendix I), program 100005.
 *
 * MNT hands out the root handle of an export (or of a directory below it) to a
 * client the export lists; DUMP and UMNT keep the advisory list of who mounted
 * what, as every MOUNT server does: nothing depends on it, so it is bounded and
 * kept in memory only.
 */
#ifndef TWINFS_SERVER_MOUNT_MOUNT_H
#define TWINFS_SERVER_MOUNT_MOUNT_H

#include "server/nfs/dispatch.h"

#define MOUNT_TABLE_MAX 1024

struct mount_table;

extern const struct prog_desc mount3_program;

struct mount_table *mount_table_new(void);
void mount_table_free(struct mount_table *t);
unsigned mount_table_count(struct mount_table *t);

#endif
