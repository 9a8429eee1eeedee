/*
 * sse.h - incremental Server-Sent Events parser (the WHATWG event-stream
 * format), for streaming chat completions.
 *
 * Bytes are fed as they arrive, split anywhere (inside a line, inside a
 * CRLF, inside a UTF-8 sequence); events come out through a callback and
 * are the same whatever the split. Lines end in LF, CRLF or CR; lines
 * starting with ':' are comments (keep-alives); "data:" lines of one event
 * are joined with '\n'; a blank line dispatches; a leading BOM is
 * dropped. Every buffer is capped, so a server that never sends a newline
 * cannot grow us without bound. One parser per stream; not thread-safe.
 */
#ifndef Q_SSE_H
#define Q_SSE_H

#include <stddef.h>

#include "../core/qbuf.h"

#define SSE_MAX_LINE_BYTES (1024 * 1024)
#define SSE_MAX_EVENT_BYTES (8 * 1024 * 1024)
#define SSE_MAX_NAME_BYTES 256

struct sse_event {
	const char *event; /* "message" unless the stream named it */
	const char *data;  /* NUL-terminated; valid during the callback */
	size_t data_len;
	const char *id; /* last event id seen, "" if none */
};

/* Return non-zero to stop parsing; sse_feed then returns that value. */
typedef int (*sse_event_fn)(void *ctx, const struct sse_event *ev);

struct sse_parser {
	sse_event_fn fn;
	void *ctx;
	struct qbuf line;  /* the line being read */
	struct qbuf data;  /* data of the event being built */
	struct qbuf event; /* its event name */
	struct qbuf id;    /* last event id */
	int has_data;      /* a data field arrived since the last dispatch */
	int after_cr;      /* the previous byte was CR (a following LF is part of it) */
	int at_start;      /* nothing read yet (for the BOM) */
	long retry_ms;     /* last "retry:" value, -1 if none */
};

void sse_init(struct sse_parser *p, sse_event_fn fn, void *ctx);
void sse_release(struct sse_parser *p);

/* Feed n bytes. Returns 0, Q_ETOOBIG past a cap, Q_ENOMEM, or the
 * callback's non-zero value. */
int sse_feed(struct sse_parser *p, const char *buf, size_t n);

/*
 * The stream ended. An event whose blank line never came is NOT
 * dispatched: a truncated stream must not pass for a complete one.
 * Returns 1 if such a partial event (or line) was pending, else 0.
 */
int sse_finish(struct sse_parser *p);

#endif
