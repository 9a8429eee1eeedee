/*
 * qbuf.h - growable byte buffer with a size cap and a sticky error.
 *
 * A qbuf always holds a NUL-terminated string (data may be NULL while
 * empty; use qbuf_cstr). Appends past `max` bytes or a failed allocation
 * set `err` (Q_ETOOBIG / Q_ENOMEM) and turn every later append into a
 * no-op, so a caller can append freely and check once at the end.
 *
 * Lifecycle: qbuf_init -> appends -> qbuf_release (frees) or qbuf_detach
 * (hands the string to the caller, who frees it with q_free).
 * Not thread-safe; one owner at a time.
 */
#ifndef Q_QBUF_H
#define Q_QBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct qbuf {
	char *data; /* owned, NUL-terminated when non-NULL */
	size_t len; /* bytes used, terminator excluded */
	size_t cap; /* bytes allocated */
	size_t max; /* cap on len; exceeding it sets err */
	int err;    /* 0, Q_ETOOBIG or Q_ENOMEM; sticky */
};

void qbuf_init(struct qbuf *b, size_t max_bytes);
void qbuf_release(struct qbuf *b);                  /* free and re-init, same max */
void qbuf_reset(struct qbuf *b);                    /* len = 0, keeps memory and clears err */
char *qbuf_detach(struct qbuf *b, size_t *out_len); /* caller frees; never NULL unless err */
const char *qbuf_cstr(const struct qbuf *b);        /* "" when empty */

int qbuf_add(struct qbuf *b, const void *p, size_t n);
int qbuf_addc(struct qbuf *b, char c);
int qbuf_adds(struct qbuf *b, const char *s);
int qbuf_addf(struct qbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int qbuf_vaddf(struct qbuf *b, const char *fmt, va_list ap);
/* Ensure room for n more bytes; returns b->err. */
int qbuf_grow(struct qbuf *b, size_t n);
/* Append everything f has left (its end, or b's cap). Returns 0,
 * b->err (Q_ETOOBIG past the cap) or Q_EIO on a read error. */
int qbuf_read_stream(struct qbuf *b, FILE *f);
/* Drop trailing bytes in `chars` (e.g. " \n"). */
void qbuf_rtrim(struct qbuf *b, const char *chars);

#endif
