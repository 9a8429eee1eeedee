/*
 * sha256.h - SHA-256 (FIPS 180-4), for cache keys and content hashes.
 * Streaming: init, update any number of times, final. Pure; no allocation.
 */
#ifndef Q_SHA256_H
#define Q_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t total; /* bytes hashed so far */
	unsigned char block[64];
	size_t used; /* bytes waiting in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
void sha256_final(struct sha256 *s, unsigned char out[32]);
/* One call: 64 lowercase hex digits and a NUL into hex. */
void sha256_hex(const void *p, size_t n, char hex[65]);

#endif
