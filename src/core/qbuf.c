/*
 * qbuf.c - capped growable buffer (see qbuf.h).
 */
#include "qbuf.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

void qbuf_init(struct qbuf *b, size_t max_bytes)
{
	memset(b, 0, sizeof(*b));
	b->max = max_bytes;
}

void qbuf_release(struct qbuf *b)
{
	size_t max = b->max;

	q_free(b->data);
	qbuf_init(b, max);
}

void qbuf_reset(struct qbuf *b)
{
	b->len = 0;
	b->err = 0;
	if (b->data)
		b->data[0] = '\0';
}

const char *qbuf_cstr(const struct qbuf *b) { return b->data ? b->data : ""; }

char *qbuf_detach(struct qbuf *b, size_t *out_len)
{
	char *d;

	if (b->err)
		return NULL;
	if (!b->data && qbuf_grow(b, 1))
		return NULL;
	d = b->data;
	if (out_len)
		*out_len = b->len;
	qbuf_init(b, b->max);
	return d;
}

int qbuf_grow(struct qbuf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->err)
		return b->err;
	assert(b->len <= b->max && (b->data ? b->len < b->cap : b->len == 0));
	if (n > b->max || b->len > b->max - n) {
		b->err = Q_ETOOBIG;
		return b->err;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	p = q_realloc(b->data, cap);
	if (!p) {
		b->err = Q_ENOMEM;
		return b->err;
	}
	b->data = p;
	b->data[b->len] = '\0'; /* a fresh block must read as a string too */
	b->cap = cap;
	return 0;
}

int qbuf_add(struct qbuf *b, const void *p, size_t n)
{
	if (qbuf_grow(b, n))
		return b->err;
	assert(b->len + n < b->cap); /* grow left room for the bytes and the NUL */
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int qbuf_addc(struct qbuf *b, char c) { return qbuf_add(b, &c, 1); }

int qbuf_adds(struct qbuf *b, const char *s) { return qbuf_add(b, s, strlen(s)); }

int qbuf_vaddf(struct qbuf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (b->err)
		return b->err;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->err = Q_EINVAL;
		return b->err;
	}
	if (qbuf_grow(b, (size_t)n))
		return b->err;
	assert(b->len + (size_t)n < b->cap);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int qbuf_addf(struct qbuf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = qbuf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void qbuf_rtrim(struct qbuf *b, const char *chars)
{
	while (b->len && strchr(chars, b->data[b->len - 1]))
		b->data[--b->len] = '\0';
}

int qbuf_read_stream(struct qbuf *b, FILE *f)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (qbuf_add(b, chunk, n))
			return b->err;
	return ferror(f) ? Q_EIO : 0;
}
