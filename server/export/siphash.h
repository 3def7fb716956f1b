/*
 * siphash.h — SipHash-2-4 (Aumasson & Bernstein, 2012), a keyed PRF for short inputs.
 *
 * Used to MAC file handles: a client cannot forge a handle that reaches an object
 * outside its export, and checking a MAC costs ~20 ns, not the microseconds of an
 * HMAC through a crypto library on every request.
 */
#ifndef TWINFS_SERVER_EXPORT_SIPHASH_H
#define TWINFS_SERVER_EXPORT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
