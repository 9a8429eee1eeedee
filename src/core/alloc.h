/*
 * alloc.h - the one allocation wrapper.
 *
 * All project code allocates through these, so tests can make the Nth
 * allocation fail (q_alloc_fail_after) and check that every error path
 * cleans up. They return NULL on failure and refuse size overflow; they
 * never abort.
 *
 * Thread safety: the allocators are thread-safe; the fault-injection
 * counter is meant for single-threaded tests.
 */
#ifndef Q_ALLOC_H
#define Q_ALLOC_H

#include <stddef.h>

void *q_malloc(size_t n);
void *q_calloc(size_t count, size_t size); /* NULL on overflow */
void *q_realloc(void *p, size_t n);
void *q_reallocarray(void *p, size_t count, size_t size);
char *q_strdup(const char *s);
char *q_strndup(const char *s, size_t n); /* copies at most n bytes */
void q_free(void *p);

/*
 * Fault injection for tests: after n more successful allocations, every
 * allocation fails. n < 0 switches it off (the default).
 */
void q_alloc_fail_after(long n);

#endif
