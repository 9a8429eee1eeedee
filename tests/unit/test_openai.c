/*
 * Unit tests: the OpenAI-compatible protocol (src/serve/openai.c):
 * request checks, context and the run a follow-up names, the chunk
 * stream's shape, and errors in OpenAI's format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../src/serve/openai.h"

static int parse(const char *body, struct openai_request *r, struct openai_error *e)
{
	memset(e, 0, sizeof(*e));
	return openai_parse_request(body, strlen(body), r, e);
}

static void requests_are_checked(void **state)
{
	struct openai_request r;
	struct openai_error e;
	char *b;

	(void)state;
	assert_int_equal(
		parse("{\"model\":\"gpt-4\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}", &r, &e),
		-1);
	assert_int_equal(e.status, 404);
	assert_string_equal(e.code, "model_not_found");
	b = openai_error_body(&e);
	assert_non_null(strstr(b, "\"error\":{\"message\":\"The model 'gpt-4' does not exist"));
	assert_non_null(strstr(b, "\"param\":\"model\""));
	free(b);
	assert_int_equal(parse("{\"model\":\"quarry-ask\",\"messages\":[]}", &r, &e), -1);
	assert_int_equal(e.status, 400);
	assert_int_equal(parse("{\"model\":\"quarry-ask\",\"messages\":[{\"role\":\"system\","
			       "\"content\":\"be brief\"}]}",
			       &r, &e),
			 -1);
	assert_non_null(strstr(e.message, "no user message"));
	assert_int_equal(parse("{\"model\":\"quarry-ask\",\"messages\":[{\"role\":\"hacker\","
			       "\"content\":\"x\"}]}",
			       &r, &e),
			 -1);
	assert_int_equal(parse("{\"model\":\"quarry-ask\",\"stream\":\"yes\",\"messages\":"
			       "[{\"role\":\"user\",\"content\":\"q\"}]}",
			       &r, &e),
			 -1);
	assert_string_equal(e.param, "stream");
	assert_int_equal(parse("[1]", &r, &e), -1);
	assert_int_equal(parse("{\"model\":\"quarry-ask\",\"messages\":[{\"role\":\"user\",\"content\":"
			       "\"  \"}]}",
			       &r, &e),
			 -1);
}

static void the_last_user_message_is_the_question(void **state)
{
	struct openai_request r;
	struct openai_error e;
	struct research_opts o;

	(void)state;
	assert_int_equal(parse("{\"model\":\"quarry-research-deep\",\"stream\":true,\"messages\":["
			       "{\"role\":\"system\",\"content\":\"You are helpful\"},"
			       "{\"role\":\"user\",\"content\":\"Why did SA end?\"},"
			       "{\"role\":\"assistant\",\"content\":\"Because [1].\\n\\n*quarry run 7*\\n\"},"
			       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"And when?\"},"
			       "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/\"}}]}]}",
			       &r, &e),
			 0);
	assert_string_equal(r.question, "And when?");
	assert_int_equal(r.stream, 1);
	assert_int_equal(r.model, OPENAI_RESEARCH_DEEP);
	assert_int_equal(r.follow_run, 7);
	assert_non_null(strstr(r.context, "user: Why did SA end?\n"));
	assert_non_null(strstr(r.context, "system: You are helpful\n"));
	openai_request_opts(&r, &o);
	assert_int_equal(o.depth, 3);
	assert_string_equal(o.question, "And when?");
	openai_request_release(&r);
}

static void run_lines_round_trip(void **state)
{
	char line[64];

	(void)state;
	openai_run_line(42, line, sizeof(line));
	assert_int_equal(openai_run_named(line), 42);
	assert_int_equal(openai_run_named("quarry run 0*"), 0);
	assert_int_equal(openai_run_named("quarry run 12 and more"), 0); /* not the mark */
	assert_int_equal(openai_run_named("no mark here"), 0);
	assert_int_equal(openai_run_named("*quarry run 3*\n*quarry run 5*"), 5);
}

/* The SSE events of out as parsed chunks ("[DONE]" as NULL). */
static int chunks(const char *text, json_t **out, int max)
{
	int n = 0;
	const char *p = text;

	while (n < max && (p = strstr(p, "data: "))) {
		const char *end = strstr(p, "\n\n");
		assert_non_null(end);
		p += 6;
		out[n++] = strncmp(p, "[DONE]", 6) ? json_loadb(p, (size_t)(end - p), 0, NULL) : NULL;
		p = end + 2;
	}
	return n;
}

static void a_stream_ends_with_finish_usage_and_done(void **state)
{
	struct openai_answer a;
	struct qbuf b;
	json_t *c[8];
	int n, i;

	(void)state;
	openai_answer_init(&a, OPENAI_RESEARCH, 1700000000);
	qbuf_init(&b, 1 << 20);
	openai_sse_delta(&a, &b, "planning", NULL);
	openai_sse_delta(&a, &b, NULL, "The answer [1].");
	openai_sse_finish(&a, &b, "stop", 120, 30);
	assert_int_equal(b.err, 0);
	n = chunks(qbuf_cstr(&b), c, 8);
	assert_int_equal(n, 5);
	assert_string_equal(json_string_value(json_object_get(c[0], "object")), "chat.completion.chunk");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(json_object_get(c[0], "choices"), 0), "delta"), "role")),
		"assistant");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(json_object_get(c[0], "choices"), 0), "delta"),
			"reasoning_content")),
		"planning");
	assert_null(json_object_get(
		json_object_get(json_array_get(json_object_get(c[1], "choices"), 0), "delta"), "role"));
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(c[2], "choices"), 0), "finish_reason")),
			    "stop");
	assert_int_equal(json_array_size(json_object_get(c[3], "choices")), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c[3], "usage"), "total_tokens")),
			 150);
	assert_null(c[4]); /* [DONE] */
	for (i = 0; i < 4; i++) {
		assert_string_equal(json_string_value(json_object_get(c[i], "id")), a.id);
		json_decref(c[i]);
	}
	qbuf_release(&b);
}

static void models_are_listed(void **state)
{
	json_t *m = openai_models(1700000000);
	char *s = json_dumps(m, JSON_COMPACT);

	(void)state;
	assert_non_null(strstr(s, "\"object\":\"list\""));
	assert_non_null(strstr(s, "\"id\":\"quarry-research\""));
	assert_non_null(strstr(s, "\"id\":\"quarry-ask\""));
	assert_non_null(strstr(s, "\"id\":\"quarry-research-deep\""));
	free(s);
	json_decref(m);
}

/* A chat against a real run store, with the test playing the worker. */
static void an_answer_follows_its_run_and_is_reused(void **state)
{
	struct runstore *rs = NULL;
	struct openai_request r;
	struct openai_error e;
	struct openai_chat c, c2, c3;
	struct qbuf out;
	char home[64], cmd[96], body[512];
	json_t *ev, *report;
	long seq, first;
	int done = 0;

	(void)state;
	snprintf(home, sizeof(home), "/tmp/quarry-test-openai-%d", (int)getpid());
	assert_int_equal(runstore_open(&rs, home, NULL), 0);
	assert_int_equal(parse("{\"model\":\"quarry-ask\",\"stream\":true,\"messages\":["
			       "{\"role\":\"user\",\"content\":\"Why did SA end?\"}]}",
			       &r, &e),
			 0);
	assert_int_equal(openai_chat_start(&c, rs, &r, 0, 1700000000, &e), 0);
	assert_false(c.reused);
	first = c.run_id;
	qbuf_init(&out, 1 << 20);
	assert_int_equal(openai_chat_poll(&c, rs, &out, &done, &e), 0);
	assert_false(done);
	assert_non_null(strstr(qbuf_cstr(&out), "waiting for a worker"));
	/* The worker reads a source and writes the report. */
	ev = json_pack("{s:s, s:i, s:s, s:s}", "type", "source_read", "source", 1, "url",
		       "https://a.example/", "title", "The SA story");
	assert_int_equal(runstore_event_add(rs, first, ev, &seq, NULL), 0);
	json_decref(ev);
	qbuf_reset(&out);
	assert_int_equal(openai_chat_poll(&c, rs, &out, &done, &e), 0);
	assert_false(done);
	assert_non_null(strstr(qbuf_cstr(&out), "\"reasoning_content\":\"read [1] The SA story\\n\""));
	report = json_pack("{s:{s:i, s:i}}", "figures", "prompt_tokens", 900, "completion_tokens", 100);
	assert_int_equal(runstore_save_report(rs, first, RUN_DONE, report, "SA ended in 2000 [1].\n", NULL), 0);
	json_decref(report);
	qbuf_reset(&out);
	assert_int_equal(openai_chat_poll(&c, rs, &out, &done, &e), 0);
	assert_true(done);
	assert_non_null(strstr(qbuf_cstr(&out), "\"content\":\"SA ended in 2000 [1].\\n\\n*quarry run "));
	assert_non_null(strstr(qbuf_cstr(&out), "\"total_tokens\":1000"));
	assert_non_null(strstr(qbuf_cstr(&out), "data: [DONE]\n\n"));
	/* The same question again: the stored report, at once. */
	assert_int_equal(openai_chat_start(&c2, rs, &r, 0, 1700000100, &e), 0);
	assert_true(c2.reused);
	assert_int_equal(c2.run_id, first);
	openai_request_release(&r);
	/* A follow-up names the run: a new run, asked with the earlier question. */
	snprintf(body, sizeof(body),
		 "{\"model\":\"quarry-ask\",\"messages\":[{\"role\":\"user\","
		 "\"content\":\"Why did SA end?\"},{\"role\":\"assistant\",\"content\":\"SA ended "
		 "[1].\\n\\n*quarry run %ld*\\n\"},{\"role\":\"user\",\"content\":\"Who decided?\"}]}",
		 first);
	assert_int_equal(parse(body, &r, &e), 0);
	assert_int_equal(r.follow_run, first);
	assert_int_equal(openai_chat_start(&c3, rs, &r, 0, 1700000200, &e), 0);
	assert_false(c3.reused);
	{
		struct run_record rec;
		memset(&rec, 0, sizeof(rec));
		assert_int_equal(runstore_get(rs, c3.run_id, 0, &rec, NULL), 0);
		assert_string_equal(rec.question, "Who decided? (a follow-up to: Why did SA end?)");
		assert_int_equal(rec.status, RUN_QUEUED);
		run_record_release(&rec);
	}
	openai_request_release(&r);
	qbuf_release(&out);
	runstore_close(rs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(requests_are_checked),
		cmocka_unit_test(the_last_user_message_is_the_question),
		cmocka_unit_test(run_lines_round_trip),
		cmocka_unit_test(a_stream_ends_with_finish_usage_and_done),
		cmocka_unit_test(models_are_listed),
		cmocka_unit_test(an_answer_follows_its_run_and_is_reused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
