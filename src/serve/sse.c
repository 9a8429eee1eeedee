/*
 * sse.c - the Server-Sent Events writer: one event is "id:", "event:" and
 * one "data:" line per line of its data, then a blank line.
 *
 * A writer never queues without bound: before each event it looks at how
 * much the client has not taken yet, and a client more than
 * limits.sse_buffer_max behind is dropped (it reconnects with
 * Last-Event-ID and misses nothing), so one stalled reader costs a
 * bounded buffer and blocks no one.
 */
#include <stdio.h>
#include <string.h>

#include "../core/qbuf.h"
#include "serve_int.h"

#define SSE_EVENT_MAX (8L * 1024 * 1024) /* one event's bytes */

void serve_sse_start(struct serve_req *r)
{
	serve_add_header(r, "X-Accel-Buffering", "no"); /* nginx: do not hold events back */
	serve_start(r, "text/event-stream; charset=utf-8");
}

/* Drop the client when it lags too far; 0 when it may take more. */
static int too_far_behind(struct serve_req *r)
{
	if ((long)serve_pending(r) <= serve_get_limits(serve_req_server(r))->sse_buffer_max)
		return 0;
	serve_abort(r);
	return Q_ETOOBIG;
}

int serve_sse_event(struct serve_req *r, long id, const char *event, const char *data)
{
	struct qbuf b;
	const char *p = data ? data : "", *nl;
	int rc;

	if ((rc = too_far_behind(r)))
		return rc;
	qbuf_init(&b, SSE_EVENT_MAX);
	if (id >= 0)
		qbuf_addf(&b, "id: %ld\n", id);
	if (event)
		qbuf_addf(&b, "event: %s\n", event);
	for (;;) {
		nl = strchr(p, '\n');
		qbuf_adds(&b, "data: ");
		qbuf_add(&b, p, nl ? (size_t)(nl - p) : strlen(p));
		qbuf_addc(&b, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	qbuf_addc(&b, '\n');
	rc = b.err;
	if (!rc)
		serve_write(r, b.data, b.len);
	qbuf_release(&b);
	return rc;
}

int serve_sse_comment(struct serve_req *r, const char *text)
{
	char line[256];
	int n, rc;

	if ((rc = too_far_behind(r)))
		return rc;
	n = snprintf(line, sizeof(line), ": %s\n\n", text);
	if (n > 0)
		serve_write(r, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	return 0;
}
