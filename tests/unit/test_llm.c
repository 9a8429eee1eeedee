/* Unit tests: the Server-Sent Events parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/core/err.h"
#include "../../src/llm/jsonx.h"
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

static const char openai_stream[] = "\xEF\xBB\xBF"
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

static const char expected[] = "message||{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]};"
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
	assert_string_equal(qbuf_cstr(&out), ""); /* never dispatched */
	assert_int_equal(pending, 1);
	qbuf_reset(&out);
	parse_all("data: x\n", 8, 8, &out, &pending); /* no blank line yet */
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
	for (i = 0; i < 40 && rc == 0; i++) /* 2.5 MB, no newline */
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
	assert_int_equal(p.retry_ms, 1500); /* a malformed value is ignored */
	sse_release(&p);
}

/* Extract, then compare with the compact serialisation. */
static void check_json(const char *reply, const char *want)
{
	struct q_error e;
	json_t *v;
	char *got;

	memset(&e, 0, sizeof(e));
	v = jsonx_extract(reply, strlen(reply), &e);
	if (!v)
		fail_msg("no JSON from [%s]: %s", reply, e.msg);
	got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	if (strcmp(got, want))
		fail_msg("from [%s] got %s, want %s", reply, got, want);
	free(got);
	json_decref(v);
}

static void json_from_model_output(void **state)
{
	(void)state;
	check_json("{\"a\": 1}", "{\"a\":1}");
	check_json("Sure! Here it is:\n```json\n{\"queries\": [\"x\", \"y\"]}\n```\nHope that helps.",
		   "{\"queries\":[\"x\",\"y\"]}");
	check_json("<think>The user wants {braces} and [brackets]...</think>\n{\"ok\": true}", "{\"ok\":true}");
	/* R1 via some servers: the opening tag was in the prompt. */
	check_json("I should answer with {a: 1}? No.</think>{\"b\": 2}", "{\"b\":2}");
}

static void json_repairs(void **state)
{
	(void)state;
	check_json("{'name': 'Ada', 'tags': ['a', 'b',], }", "{\"name\":\"Ada\",\"tags\":[\"a\",\"b\"]}");
	check_json("{name: \"x\", count: 3, ok: True, none: None, no: False}",
		   "{\"count\":3,\"name\":\"x\",\"no\":false,\"none\":null,\"ok\":true}");
	check_json("{\"a\": 1, // a comment\n \"b\": /* inline */ 2}", "{\"a\":1,\"b\":2}");
	check_json("{\u201cquote\u201d: \u201ccurly\u201d}", "{\"quote\":\"curly\"}");
	check_json("{\"text\": \"line one\nline two\", \"q\": 'it\\'s'}",
		   "{\"q\":\"it's\",\"text\":\"line one\\nline two\"}");
	check_json("[1, 2, 3,]", "[1,2,3]");
	check_json("{\"said\": \"don't\"}", "{\"said\":\"don't\"}");
}

static void json_cut_off(void **state)
{
	(void)state;
	check_json("{\"a\": [1, 2, {\"b\": \"unterminated", "{\"a\":[1,2,{\"b\":\"unterminated\"}]}");
	check_json("{\"a\": 1, \"b\":", "{\"a\":1,\"b\":null}");
	check_json("{\"a\": [1, 2,", "{\"a\":[1,2]}");
}

static void json_failures_explain(void **state)
{
	struct q_error e;
	char deep[600];
	int i;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_null(jsonx_extract("no json here", 12, &e));
	assert_non_null(strstr(e.msg, "no JSON object or array"));
	assert_null(jsonx_extract("{\"a\": [1}", 10, &e));
	assert_non_null(strstr(e.msg, "mismatched"));
	for (i = 0; i < 600; i++)
		deep[i] = '[';
	assert_null(jsonx_extract(deep, sizeof(deep), &e));
	assert_int_equal(e.code, Q_ETOOBIG);
	assert_null(jsonx_extract("<think>{\"only\": \"reasoning\"}", 27, &e));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 80,000 closing tags took 143 s when each one rescanned the rest of
 * the reply for an opening tag; the split must be linear and exact. */
static void think_flood_is_linear(void **state)
{
	const size_t n_tags = 80000;
	struct qbuf text, answer, reasoning;
	double t0, secs;
	size_t i;

	(void)state;
	qbuf_init(&text, 64 * 1024 * 1024);
	qbuf_init(&answer, 64 * 1024 * 1024);
	qbuf_init(&reasoning, 64 * 1024 * 1024);
	for (i = 0; i < n_tags; i++)
		qbuf_adds(&text, i % 2 ? "b</THINK>" : "a</think>");
	qbuf_adds(&text, "the answer");
	t0 = now_s();
	assert_int_equal(jsonx_split_reasoning(qbuf_cstr(&text), text.len, &answer, &reasoning), 0);
	secs = now_s() - t0;
	if (secs > 5.0)
		fail_msg("%zu </think> tags took %.1f s", n_tags, secs);
	assert_string_equal(qbuf_cstr(&answer), "the answer");
	assert_int_equal(reasoning.len, n_tags);
	for (i = 0; i < n_tags; i++)
		assert_int_equal(reasoning.data[i], i % 2 ? 'b' : 'a');

	/* Mixed blocks keep their order: blocks, a stray close, an open one. */
	qbuf_reset(&text);
	qbuf_reset(&answer);
	qbuf_reset(&reasoning);
	for (i = 0; i < n_tags / 4; i++)
		qbuf_adds(&text, "<think>r</think>x");
	qbuf_adds(&text, "s</think>y<think>z");
	t0 = now_s();
	jsonx_split_reasoning(qbuf_cstr(&text), text.len, &answer, &reasoning);
	secs = now_s() - t0;
	if (secs > 5.0)
		fail_msg("mixed blocks took %.1f s", secs);
	/* The last x sits before a stray </think>, so it is reasoning. */
	assert_int_equal(answer.len, n_tags / 4);
	assert_memory_equal(answer.data + answer.len - 2, "xy", 2);
	assert_int_equal(reasoning.len, n_tags / 4 + 3);
	assert_memory_equal(reasoning.data + reasoning.len - 4, "rxsz", 4);
	qbuf_release(&text);
	qbuf_release(&answer);
	qbuf_release(&reasoning);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_stream),
		cmocka_unit_test(same_events_at_any_split),
		cmocka_unit_test(truncated_stream_is_not_complete),
		cmocka_unit_test(endless_line_hits_the_cap),
		cmocka_unit_test(callback_can_stop),
		cmocka_unit_test(json_from_model_output),
		cmocka_unit_test(json_repairs),
		cmocka_unit_test(json_cut_off),
		cmocka_unit_test(json_failures_explain),
		cmocka_unit_test(think_flood_is_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
