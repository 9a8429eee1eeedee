/*
 * alloc.c - allocation wrappers with overflow checks and fault injection.
 */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long fail_after = -1;

static int should_fail(void)
{
	if (fail_after < 0)
		return 0;
	if (fail_after == 0)
		return 1;
	fail_after--;
	return 0;
}

void q_alloc_fail_after(long n) { fail_after = n; }

void *q_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *q_calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *q_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void *q_reallocarray(void *p, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	return q_realloc(p, count * size);
}

char *q_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = q_malloc(len + 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *q_strdup(const char *s) { return s ? q_strndup(s, SIZE_MAX) : NULL; }

void q_free(void *p) { free(p); }
