/*
 * hash.h - a fast non-cryptographic hash (FNV-1a, 64 bits) for tables
 * in memory: word bags, seen-paragraph sets, document ids. Not for
 * anything an attacker can aim at (use sha256.h there).
 */
#ifndef Q_HASH_H
#define Q_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t q_fnv1a(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

#endif
