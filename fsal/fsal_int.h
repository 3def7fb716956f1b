/*
 * fsal_int.h — helpers shared by the backends, not part of the FSAL API.
 *
 * Both backends must reject the same names with the same errno, so the checks the
 * contract in fsal.h spells out ("names are single components") live here once.
 */
#ifndef TWINFS_FSAL_FSAL_INT_H
#define TWINFS_FSAL_FSAL_INT_H

#include <stdbool.h>

/*
 * A name for a directory entry: non-empty, no '/', at most FSAL_NAME_MAX bytes
 * (else -EINVAL or -ENAMETOOLONG). "." and ".." are accepted only when dots_ok (LOOKUP);
 * every op that creates, removes or renames an entry gets -EINVAL for them, in both
 * backends, rather than the assorted errnos the kernel gives per syscall.
 */
int fsal__check_name(const char *name, bool dots_ok);

/* A symlink target: non-empty (-ENOENT, as symlink(2)) and shorter than FSAL_PATH_MAX
 * (-ENAMETOOLONG). */
int fsal__check_target(const char *target);

#endif
