/*
 * viptool — drives failover/vip from the command line, for test_vip.sh:
 *   viptool add|del|present|announce IFACE ADDR PREFIX
 * Exit 0 on success (present: 0 if configured, 1 if not).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover/vip/vip.h"

int main(int argc, char **argv)
{
	char err[256] = "";
	struct vip v;
	int rc;

	if (argc != 5) {
		fprintf(stderr, "usage: viptool add|del|present|announce IFACE ADDR PREFIX\n");
		return 2;
	}
	snprintf(v.iface, sizeof(v.iface), "%s", argv[2]);
	snprintf(v.addr, sizeof(v.addr), "%s", argv[3]);
	v.prefix = (unsigned)atoi(argv[4]);
	if (!strcmp(argv[1], "present"))
		return vip_present(&v) ? 0 : 1;
	if (!strcmp(argv[1], "add"))
		rc = vip_add(&v, err, sizeof(err));
	else if (!strcmp(argv[1], "del"))
		rc = vip_del(&v, err, sizeof(err));
	else if (!strcmp(argv[1], "announce"))
		rc = vip_announce(&v, 3);
	else
		return 2;
	if (rc < 0)
		fprintf(stderr, "viptool %s: %s (%s)\n", argv[1], strerror(-rc), err);
	return rc < 0 ? 1 : 0;
}
