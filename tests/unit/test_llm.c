/* Unit tests: the Server-Sent Events parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/err.h"
#include "../../src/llm/sse.h"

/* Events serialised as "event|id|data;" for comparison. */
static int record(void *ctx, const struct sse_event *ev)
{
	struct qbuf *b = ctx;

	qbuf_addf(b, "%s|%s|", ev->event, ev->id);
	qbuf_add(b, ev->data, ev->data_len);
	qbuf_addc(b, ';');
	return 0;
}

static void parse_all(const char *stream, size_t n, size_t split, struct qbuf *out, int *pending)
{
	struct sse_parser p;
	size_t i;

	sse_init(&p, record, out);
	for (i = 0; i < n; i += split)
		assert_int_equal(sse_feed(&p, stream + i, n - i < split ? n - i : split), 0);
	*pending = sse_finish(&p);
	sse_release(&p);
}

static const char openai_stream[] =
	"\xEF\xBB\xBF"
	": keep-alive\r\n"
	"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n"
	"data: {\"choices\":[{\"delta\":{\"content\":\"lo \xe4\xb8\xad\"}}]}\n\n"
	"event: ping\rid: 7\rdata\r\r"
	"data: line one\n"
	"data:line two\n"
	"retry: 1500\n"
	"unknown: field\n"
	"\n"
	"data: [DONE]\n\n";

static const char expected[] =
	"message||{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]};"
	"message||{\"choices\":[{\"delta\":{\"content\":\"lo \xe4\xb8\xad\"}}]};"
	"ping|7|;"
	"message|7|line one\nline two;"
	"message|7|[DONE];";

static void parses_a_stream(void **state)
{
	struct qbuf out;
	int pending;

	(void)state;
	qbuf_init(&out, 1 << 16);
	parse_all(openai_stream, sizeof(openai_stream) - 1, sizeof(openai_stream), &out, &pending);
	assert_string_equal(qbuf_cstr(&out), expected);
	assert_int_equal(pending, 0);
	qbuf_release(&out);
}

/* The same events whatever the chunk size: every split point, CRLF and
 * UTF-8 sequences cut in two included. (The BOM is only dropped when it
 * arrives whole, as servers send it, so splits start after it.) */
static void same_events_at_any_split(void **state)
{
	const char *s = openai_stream + 3;
	size_t n = sizeof(openai_stream) - 1 - 3, split;

	(void)state;
	for (split = 1; split <= n; split++) {
		struct qbuf out;
		int pending;

		qbuf_init(&out, 1 << 16);
		parse_all(s, n, split, &out, &pending);
		if (strcmp(qbuf_cstr(&out), expected))
			fail_msg("chunks of %zu bytes gave: %s", split, qbuf_cstr(&out));
		qbuf_release(&out);
	}
}

static void truncated_stream_is_not_complete(void **state)
{
	const char s[] = "data: {\"partial\": tr";
	struct qbuf out;
	int pending;

	(void)state;
	qbuf_init(&out, 1 << 16);
	parse_all(s, sizeof(s) - 1, 4, &out, &pending);
	assert_string_equal(qbuf_cstr(&out), "");   /* never dispatched */
	assert_int_equal(pending, 1);
	qbuf_reset(&out);
	parse_all("data: x\n", 8, 8, &out, &pending);   /* no blank line yet */
	assert_string_equal(qbuf_cstr(&out), "");
	assert_int_equal(pending, 1);
	qbuf_release(&out);
}

static void endless_line_hits_the_cap(void **state)
{
	struct sse_parser p;
	struct qbuf out;
	char *chunk = malloc(65536);
	int i, rc = 0;

	(void)state;
	memset(chunk, 'x', 65536);
	qbuf_init(&out, 1 << 16);
	sse_init(&p, record, &out);
	rc = sse_feed(&p, "data: ", 6);
	for (i = 0; i < 40 && rc == 0; i++)   /* 2.5 MB, no newline */
		rc = sse_feed(&p, chunk, 65536);
	assert_int_equal(rc, Q_ETOOBIG);
	sse_release(&p);
	qbuf_release(&out);
	free(chunk);
}

static int stop_at_second(void *ctx, const struct sse_event *ev)
{
	int *count = ctx;

	(void)ev;
	return ++*count == 2 ? 42 : 0;
}

static void callback_can_stop(void **state)
{
	struct sse_parser p;
	int count = 0;
	const char s[] = "data: a\n\ndata: b\n\ndata: c\n\n";

	(void)state;
	sse_init(&p, stop_at_second, &count);
	assert_int_equal(sse_feed(&p, s, sizeof(s) - 1), 42);
	assert_int_equal(count, 2);
	assert_int_equal(p.retry_ms, -1);
	assert_int_equal(sse_feed(&p, "retry: 1500\nretry: 15x\n", 23), 0);
	assert_int_equal(p.retry_ms, 1500);   /* a malformed value is ignored */
	sse_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_stream),
		cmocka_unit_test(same_events_at_any_split),
		cmocka_unit_test(truncated_stream_is_not_complete),
		cmocka_unit_test(endless_line_hits_the_cap),
		cmocka_unit_test(callback_can_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
