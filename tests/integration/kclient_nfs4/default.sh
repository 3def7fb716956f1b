#!/bin/sh
# default.sh MNT SERVER PORT EXPORT — runs inside the kclient guest (busybox sh).
#
# A mount without vers=: what mount.nfs does for `mount server:/path /mnt`
# (nfs-utils' v4 negotiation: 4.2, then 4.1, then 4.0, each tried until the
# server accepts one; the guest has no mount.nfs, so it is done here with the
# same mount(2) options). Also tries the kernel's own bare `vers=4`, for the
# record. Then a short read/write/rename/remove on the mount it got. Exit 0 only
# if the negotiation ended on 4.2 and the workload passed.
set -u
server=$2 port=$3 export=$4
m=/tmp/m
mkdir -p $m
base="proto=tcp,port=$port,addr=$server,clientaddr=0.0.0.0"
got=""
for v in 4.2 4.1 4.0; do
	if kcmount -w 10 -t nfs4 -o "vers=$v,$base" "$server:$export" $m; then
		got=$v
		break
	fi
done
line=$(grep " $m " /proc/mounts)
echo "KC-DEFAULT: negotiated=$got mount: $line"
case "$line" in *vers=4.2,*) ;; *) echo "KC-DEFAULT: FAIL not on 4.2"; exit 1 ;; esac
d=$m/kc.default.$$
mkdir $d || exit 1
dd if=/dev/urandom of=/tmp/src bs=64k count=16 2>/dev/null
dd if=/tmp/src of=$d/f bs=64k conv=fsync 2>/dev/null || exit 1
echo 3 >/proc/sys/vm/drop_caches
[ "$(sha256sum </tmp/src)" = "$(sha256sum <$d/f)" ] || { echo "KC-DEFAULT: FAIL data"; exit 1; }
mv $d/f $d/g && [ ! -e $d/f ] && rm $d/g && rmdir $d || { echo "KC-DEFAULT: FAIL namespace"; exit 1; }
umount $m || exit 1
# the kernel alone, without mount.nfs: informational
if kcmount -w 10 -t nfs4 -o "vers=4,$base" "$server:$export" $m; then
	echo "KC-DEFAULT: kernel vers=4 alone: $(grep " $m " /proc/mounts)"
	umount $m
fi
echo "KC-DEFAULT: PASS"
exit 0
