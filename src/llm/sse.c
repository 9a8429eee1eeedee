/*
 * sse.c - Server-Sent Events parsing (see sse.h).
 */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

void sse_init(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->fn = fn;
	p->ctx = ctx;
	qbuf_init(&p->line, SSE_MAX_LINE_BYTES);
	qbuf_init(&p->data, SSE_MAX_EVENT_BYTES);
	qbuf_init(&p->event, SSE_MAX_NAME_BYTES);
	qbuf_init(&p->id, SSE_MAX_NAME_BYTES);
	p->at_start = 1;
	p->retry_ms = -1;
}

void sse_release(struct sse_parser *p)
{
	qbuf_release(&p->line);
	qbuf_release(&p->data);
	qbuf_release(&p->event);
	qbuf_release(&p->id);
}

static int dispatch(struct sse_parser *p)
{
	struct sse_event ev;
	int rc = 0;

	if (p->has_data) {
		ev.event = p->event.len ? qbuf_cstr(&p->event) : "message";
		ev.data = qbuf_cstr(&p->data);
		ev.data_len = p->data.len;
		ev.id = qbuf_cstr(&p->id);
		rc = p->fn(p->ctx, &ev);
	}
	qbuf_reset(&p->data);
	qbuf_reset(&p->event);
	p->has_data = 0;
	return rc;
}

/* One complete line (without its terminator). */
static int handle_line(struct sse_parser *p)
{
	const char *line = qbuf_cstr(&p->line), *value;
	size_t n = p->line.len, name_len, value_len;
	const char *colon;

	if (n == 0)
		return dispatch(p);
	if (line[0] == ':')
		return 0; /* comment / keep-alive */
	colon = memchr(line, ':', n);
	name_len = colon ? (size_t)(colon - line) : n;
	value = colon ? colon + 1 : line + n;
	if (colon && value < line + n && *value == ' ')
		value++;
	value_len = (size_t)(line + n - value);
	if (name_len == 4 && !memcmp(line, "data", 4)) {
		if (p->has_data && qbuf_addc(&p->data, '\n'))
			return p->data.err;
		if (qbuf_add(&p->data, value, value_len))
			return p->data.err;
		p->has_data = 1;
	} else if (name_len == 5 && !memcmp(line, "event", 5)) {
		qbuf_reset(&p->event);
		if (qbuf_add(&p->event, value, value_len))
			return p->event.err;
	} else if (name_len == 2 && !memcmp(line, "id", 2)) {
		if (!memchr(value, '\0', value_len)) {
			qbuf_reset(&p->id);
			if (qbuf_add(&p->id, value, value_len))
				return p->id.err;
		}
	} else if (name_len == 5 && !memcmp(line, "retry", 5)) {
		size_t i;
		long v = 0;
		for (i = 0; i < value_len && value[i] >= '0' && value[i] <= '9' && v < 100000000; i++)
			v = v * 10 + (value[i] - '0');
		if (i == value_len && value_len > 0)
			p->retry_ms = v;
	}
	/* Unknown fields are ignored, as the format requires. */
	return 0;
}

int sse_feed(struct sse_parser *p, const char *buf, size_t n)
{
	size_t i = 0;
	int rc;

	if (p->at_start && n > 0) {
		/* A BOM may itself arrive split; only a whole one at the very
		 * start is dropped, which is what servers send. */
		if (n >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
			i = 3;
		p->at_start = 0;
	}
	while (i < n) {
		const char *nl;
		size_t run;
		char c = buf[i];

		if (p->after_cr) {
			p->after_cr = 0;
			if (c == '\n') {
				i++;
				continue;
			}
		}
		if (c == '\r' || c == '\n') {
			p->after_cr = c == '\r';
			i++;
			rc = handle_line(p);
			qbuf_reset(&p->line);
			if (rc)
				return rc;
			continue;
		}
		/* Copy the run up to the next line end in one go. */
		nl = buf + i;
		while (nl < buf + n && *nl != '\r' && *nl != '\n')
			nl++;
		run = (size_t)(nl - (buf + i));
		if (qbuf_add(&p->line, buf + i, run))
			return p->line.err;
		i += run;
	}
	return 0;
}

int sse_finish(struct sse_parser *p) { return p->line.len > 0 || p->has_data; }
