/*
 * recguard.h — the record-size guard for libntirpc's TCP transport.
 *
 * libntirpc 4.3 never checks an incoming record's size: one 4-byte record mark makes
 * it allocate up to 2 GiB, and endless non-final fragments grow it without bound
 * (ntirpc-guide §5.8, measured). Its svc_vc_recv reads every record mark with
 * recv(fd, p, 4, MSG_WAITALL) through the PLT, so this executable defines recv()
 * itself: it passes every call on to libc, adds up the fragment lengths of the
 * record in progress per descriptor, and fails the read with EMSGSIZE once the sum
 * passes the limit, which makes libntirpc close that connection. The clean fix is a
 * bounds check inside libntirpc; tests/integration/test_badinput pins this one.
 *
 * The state is per file descriptor in a static array because an interposed libc
 * function has no context to carry it in.
 */
#ifndef TWINFS_SERVER_RPC_RECGUARD_H
#define TWINFS_SERVER_RPC_RECGUARD_H

#include <stdint.h>

void recguard_set_limit(uint32_t max_record);
/* A new connection got this descriptor: forget the previous owner's record. */
void recguard_reset(int fd);
/* Records refused so far. */
uint64_t recguard_refused(void);

#endif
