/*
 * fsal.c — backend registry and the checks every backend shares.
 *
 * The set of backends is fixed at build time: a table, not a registration API, so
 * there is no mutable state here at all.
 */
#include "fsal/fsal.h"
#include "fsal/fsal_int.h"

#include <errno.h>
#include <string.h>

static const struct fsal_ops *const fsal_backends[] = {
    &fsal_vfs_ops,
    &fsal_mem_ops,
};

const struct fsal_ops *fsal_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(fsal_backends) / sizeof(fsal_backends[0]); i++)
		if (strcmp(fsal_backends[i]->name, name) == 0)
			return fsal_backends[i];
	return NULL;
}

int fsal__check_name(const char *name, bool dots_ok)
{
	if (!name || name[0] == '\0')
		return -EINVAL;
	if (strnlen(name, FSAL_NAME_MAX + 1) > FSAL_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	if (!dots_ok && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
		return -EINVAL;
	return 0;
}

int fsal__check_target(const char *target)
{
	if (!target || target[0] == '\0')
		return -ENOENT;
	if (strnlen(target, FSAL_PATH_MAX) >= FSAL_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}
