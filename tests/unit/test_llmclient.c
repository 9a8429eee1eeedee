/*
 * Unit tests: the chat client against tests/fakellm (started per test
 * with a scripted set of replies), plus configuration, schema checks,
 * token estimates and SHA-256.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/core/alloc.h"
#include "../../src/core/config.h"
#include "../../src/core/qbuf.h"
#include "../../src/core/sha256.h"
#include "../../src/index/store.h"
#include "../../src/llm/llm.h"
#include "../../src/llm/llm_int.h"
#include "../../src/research/runstore.h"

#include "resolve_env.h"

static char tmpdir[256];
static pid_t fake_pid;
static int fake_port;

/* Start the fake model server with this script; returns its port. */
static int start_fake(const char *script)
{
	char path[512], portf[512], logf[512], bin[512];
	const char *build = getenv("BUILD");
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/script.json", tmpdir);
	snprintf(portf, sizeof(portf), "%s/port", tmpdir);
	snprintf(logf, sizeof(logf), "%s/log", tmpdir);
	snprintf(bin, sizeof(bin), "%s/fakellm", build && *build ? build : "build");
	unlink(portf);
	unlink(logf);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	fake_pid = fork();
	if (fake_pid == 0) {
		execl(bin, bin, portf, path, logf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		f = fopen(portf, "r");
		if (f && fscanf(f, "%d", &fake_port) == 1) {
			fclose(f);
			return fake_port;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	fail_msg("fakellm did not start (%s)", bin);
	return 0;
}

static void stop_fake(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
		fake_pid = 0;
	}
}

/* Requests the fake server saw. */
static int requests_seen(void)
{
	char logf[512], line[1 << 16];
	FILE *f;
	int n = 0;

	snprintf(logf, sizeof(logf), "%s/log", tmpdir);
	f = fopen(logf, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

static int log_has(const char *s)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "grep -qF -- '%s' %s/log", s, tmpdir);
	return system(cmd) == 0;
}

struct fixture {
	struct llm_config cfg;
	struct llm_client c;
};

static void setup_client(struct fixture *fx, const char *script)
{
	char url[128];
	struct q_error err = {0};
	struct llm_overrides o = {0};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", start_fake(script));
	o.base_url = url;
	o.model = "fake-model";
	setenv("QUARRY_LLM_API_KEY", "sk-fixture-key-42", 1);
	assert_int_equal(resolve_env(&fx->cfg, &o, NULL, &err), 0);
	unsetenv("QUARRY_LLM_API_KEY");
	fx->cfg.idle_ms = 700;
	fx->cfg.max_retries = 3;
	assert_int_equal(llm_client_init(&fx->c, &fx->cfg, &err), 0);
}

static void teardown_client(struct fixture *fx)
{
	llm_client_release(&fx->c);
	llm_config_release(&fx->cfg);
	stop_fake();
}

static const struct llm_message hello[] = {{"user", "hello", NULL}};

static struct llm_request simple(const char *text)
{
	static struct llm_message m[1];
	struct llm_request r;

	m[0].role = "user";
	m[0].content = text;
	m[0].tool_call_id = NULL;
	memset(&r, 0, sizeof(r));
	r.messages = m;
	r.n_messages = 1;
	r.temperature = -1;
	r.no_cache = 1;
	return r;
}

struct seen {
	struct qbuf text, reasoning, tools;
	int retries;
};

static void seen_init(struct seen *s)
{
	qbuf_init(&s->text, 1 << 20);
	qbuf_init(&s->reasoning, 1 << 20);
	qbuf_init(&s->tools, 1 << 20);
	s->retries = 0;
}

static void seen_release(struct seen *s)
{
	qbuf_release(&s->text);
	qbuf_release(&s->reasoning);
	qbuf_release(&s->tools);
}

static void s_text(void *ctx, const char *t, size_t n) { qbuf_add(&((struct seen *)ctx)->text, t, n); }
static void s_reason(void *ctx, const char *t, size_t n) { qbuf_add(&((struct seen *)ctx)->reasoning, t, n); }
static void s_tool(void *ctx, int i, const char *name, const char *args, size_t n)
{
	struct seen *s = ctx;
	qbuf_addf(&s->tools, "%d:%s:", i, name ? name : "");
	qbuf_add(&s->tools, args, n);
	qbuf_addc(&s->tools, ';');
}
static void s_retry(void *ctx, int attempt, const char *why, long ms) { ((struct seen *)ctx)->retries++; }

/* ---- streaming, reasoning, tool calls ---- */

static void streams_reasoning_apart_at_any_split(void **state)
{
	static const char *const scripts[] = {
		"[{\"reasoning\":\"First, think.\",\"content\":\"<think>inline too</think>\\n\\nThe answer: 42 — 四十二.\",\"chunk\":1}]",
		"[{\"reasoning\":\"First, think.\",\"content\":\"<think>inline too</think>\\n\\nThe answer: 42 — 四十二.\",\"chunk\":5}]",
		"[{\"reasoning\":\"First, think.\",\"content\":\"<think>inline too</think>\\n\\nThe answer: 42 — 四十二.\",\"stream\":false}]",
	};
	size_t i;

	for (i = 0; i < 3; i++) {
		struct fixture fx;
		struct llm_request r = simple("q");
		struct llm_response resp;
		struct llm_callbacks cb = {s_text, s_reason, s_tool, s_retry, NULL};
		struct seen s;
		struct q_error err = {0};

		seen_init(&s);
		cb.ctx = &s;
		r.cb = &cb;
		setup_client(&fx, scripts[i]);
		assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
		assert_string_equal(resp.content, "The answer: 42 — 四十二.");
		assert_string_equal(resp.reasoning, "First, think.\ninline too");
		assert_string_equal(qbuf_cstr(&s.text), "The answer: 42 — 四十二.");
		assert_string_equal(qbuf_cstr(&s.reasoning), "First, think.inline too");
		assert_string_equal(resp.finish_reason, "stop");
		assert_int_equal(resp.usage.prompt, 100);
		assert_int_equal(resp.usage.completion, 20);
		if (i < 2) { /* the streamed usage chunk carries details */
			assert_int_equal(resp.usage.cached, 40);
			assert_int_equal(resp.usage.reasoning, 5);
		}
		assert_int_equal(resp.usage.estimated, 0);
		assert_true(log_has("Bearer sk-fixture-key-42"));
		if (i < 2)
			assert_true(log_has("include_usage"));
		llm_response_release(&resp);
		teardown_client(&fx);
		seen_release(&s);
	}
}

static void assembles_tool_calls(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("weather?");
	struct llm_response resp;
	struct llm_callbacks cb = {s_text, s_reason, s_tool, s_retry, NULL};
	struct seen s;
	struct q_error err = {0};
	json_t *tools = json_loads("[{\"type\":\"function\",\"function\":{\"name\":\"search\","
				   "\"parameters\":{\"type\":\"object\"}}}]",
				   0, NULL);

	seen_init(&s);
	cb.ctx = &s;
	r.cb = &cb;
	r.tools = tools;
	r.tool_choice = "auto";
	setup_client(&fx, "[{\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"search\",\"arguments\":"
			  "\"{\\\"query\\\": \\\"GPS selective availability\\\"}\"},{\"id\":\"call_2\","
			  "\"name\":\"read\",\"arguments\":\"{\\\"url\\\": \\\"https://x.test/\\\"}\"}],"
			  "\"chunk\":3}]");
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_int_equal(resp.n_calls, 2);
	assert_string_equal(resp.calls[0].id, "call_1");
	assert_string_equal(resp.calls[0].name, "search");
	assert_string_equal(resp.calls[0].arguments, "{\"query\": \"GPS selective availability\"}");
	assert_string_equal(resp.calls[1].name, "read");
	assert_string_equal(resp.calls[1].arguments, "{\"url\": \"https://x.test/\"}");
	assert_string_equal(resp.finish_reason, "tool_calls");
	assert_true(log_has("\\\"tools\\\""));
	assert_non_null(strstr(qbuf_cstr(&s.tools), "0:search:"));
	llm_response_release(&resp);
	json_decref(tools);
	teardown_client(&fx);
	seen_release(&s);
}

static void estimates_usage_when_none_sent(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("hello there, how are you today?");
	struct llm_response resp;
	struct q_error err = {0};

	setup_client(&fx, "[{\"content\":\"I am fine, thank you.\",\"usage\":false}]");
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_int_equal(resp.usage.estimated, 1);
	assert_true(resp.usage.prompt > 5 && resp.usage.prompt < 30);
	assert_true(resp.usage.completion > 2 && resp.usage.completion < 15);
	llm_response_release(&resp);
	teardown_client(&fx);
}

/* ---- faults ---- */

static void retries_429_honouring_retry_after(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct llm_callbacks cb = {0};
	struct seen s = {0};
	struct q_error err = {0};
	struct timespec t0, t1;

	cb.on_retry = s_retry;
	cb.ctx = &s;
	r.cb = &cb;
	setup_client(&fx, "[{\"times\":1,\"status\":429,\"headers\":\"Retry-After: 1\\r\\n\"},"
			  "{\"times\":1,\"status\":503},{\"content\":\"ok\"}]");
	setenv("QUARRY_LLM_BACKOFF_MS", "10", 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_string_equal(resp.content, "ok");
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(s.retries, 2);
	assert_true(t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9 >= 0.95); /* waited 1 s */
	assert_int_equal(llm_client_totals(&fx.c).retries, 2);
	llm_response_release(&resp);
	teardown_client(&fx);
}

static void retries_stall_truncation_and_bad_chunks(void **state)
{
	static const char *const faults[] = {"truncate", "invalid_json", "drop"};
	size_t i;
	char script[512];

	setenv("QUARRY_LLM_BACKOFF_MS", "10", 1);
	for (i = 0; i < 3; i++) {
		struct fixture fx;
		struct llm_request r = simple("q");
		struct llm_response resp;
		struct q_error err = {0};

		snprintf(script, sizeof(script),
			 "[{\"times\":1,\"fault\":\"%s\",\"content\":\"a long answer that will break in the middle\"},"
			 "{\"content\":\"complete answer\"}]",
			 faults[i]);
		setup_client(&fx, script);
		assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
		assert_string_equal(resp.content, "complete answer");
		assert_int_equal(resp.attempts, 2);
		llm_response_release(&resp);
		teardown_client(&fx);
	}
}

static double secs_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* SSE comments, blank lines and empty deltas are not progress: a server
 * sending only those stalls (and is retried, nothing having come), and
 * one that goes quiet that way mid-answer is not asked again. */
static void keepalives_are_not_progress(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct q_error err = {0};
	struct timespec t0;
	struct seen sn;
	struct llm_callbacks cb = {0};

	setenv("QUARRY_LLM_BACKOFF_MS", "10", 1);
	setup_client(&fx, "[{\"fault\":\"keepalive\"}]");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_not_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_true(secs_since(&t0) < 10); /* 4 attempts x 0.7 s idle, not forever */
	assert_int_equal(err.code, Q_ETIMEOUT);
	assert_non_null(strstr(err.msg, "sent no answer for 0.7 s"));
	assert_non_null(strstr(err.msg, "after 4 attempts"));
	assert_int_equal(requests_seen(), 4);
	teardown_client(&fx);

	seen_init(&sn);
	cb.on_text = s_text;
	cb.on_retry = s_retry;
	cb.ctx = &sn;
	r.cb = &cb;
	setup_client(&fx, "[{\"fault\":\"keepalive\",\"content\":\"the first half, then only pings\"}]");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_not_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_true(secs_since(&t0) < 5);
	assert_non_null(strstr(err.msg, "stopped sending its answer"));
	assert_non_null(strstr(err.msg, "bytes came, then nothing more for 0.7 s"));
	assert_null(strstr(err.msg, "attempts"));
	assert_int_equal(requests_seen(), 1);
	assert_int_equal(sn.retries, 0);
	assert_true(sn.text.len > 0); /* the half that came was shown once */
	seen_release(&sn);
	teardown_client(&fx);
}

static void truncated_stream_is_never_complete(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct q_error err = {0};

	setenv("QUARRY_LLM_BACKOFF_MS", "10", 1);
	setup_client(&fx, "[{\"fault\":\"truncate\",\"content\":\"always cut off in the middle of it\"}]");
	assert_int_not_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_non_null(strstr(err.msg, "cut off"));
	assert_non_null(strstr(err.msg, "after 4 attempts"));
	assert_int_equal(requests_seen(), 4);
	teardown_client(&fx);
	/* A chunk that is not JSON is named as such, not as a cut. */
	setup_client(&fx, "[{\"fault\":\"invalid_json\",\"content\":\"an answer with a broken chunk in it\"}]");
	assert_int_not_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_non_null(strstr(err.msg, "not JSON"));
	teardown_client(&fx);
}

static void client_errors_are_not_retried(void **state)
{
	static const struct {
		int status;
		const char *body, *want;
	} cases[] = {
		{401, "{\"error\":{\"message\":\"Incorrect API key provided: sk-test-key-0123456789\"}}",
		 "refused the API key"},
		{404, "{\"error\":{\"message\":\"model not found\"}}", "does not exist (404)"},
		{400, "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens\"}}",
		 "context"},
		{403, "{\"error\":{\"message\":\"forbidden\"}}", "no access"},
		{402, "{\"error\":{\"message\":\"Insufficient Balance\"}}", "no credit"},
	};
	size_t i;
	char script[512];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture fx;
		struct llm_request r = simple("q");
		struct llm_response resp;
		struct q_error err = {0};
		char *key;

		json_t *b = json_string(cases[i].body);
		char *quoted = json_dumps(b, JSON_ENCODE_ANY);
		snprintf(script, sizeof(script), "[{\"status\":%d,\"body\":%s}]", cases[i].status, quoted);
		free(quoted);
		json_decref(b);
		setup_client(&fx, script);
		key = fx.cfg.api_key;
		fx.cfg.api_key = strdup("sk-test-key-0123456789");
		assert_int_not_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
		assert_non_null(strstr(err.msg, cases[i].want));
		assert_null(strstr(err.msg, "sk-test-key-0123456789")); /* masked */
		assert_int_equal(requests_seen(), 1);
		free(fx.cfg.api_key);
		fx.cfg.api_key = key;
		teardown_client(&fx);
	}
}

static void odd_replies_get_clear_errors(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct q_error err = {0};

	setup_client(&fx, "[{\"status\":200,\"content_type\":\"text/html\",\"body\":\"<html>login</html>\"}]");
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), Q_EPARSE);
	assert_non_null(strstr(err.msg, "web page"));
	teardown_client(&fx);

	/* An event stream labelled text/plain is still read as one. */
	setup_client(&fx, "[{\"content_type\":\"text/plain\",\"content\":\"streamed anyway\"}]");
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_string_equal(resp.content, "streamed anyway");
	llm_response_release(&resp);
	teardown_client(&fx);

	setup_client(&fx, "[{\"fault\":\"huge\",\"huge_bytes\":9000000}]");
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), Q_ETOOBIG);
	assert_int_equal(requests_seen(), 1);
	teardown_client(&fx);
}

/* A script of n tool calls, each with args_bytes of arguments. */
static char *tool_script(int n, long args_bytes)
{
	struct qbuf b;
	int i;

	qbuf_init(&b, 1 << 20);
	qbuf_addf(&b, "[{\"tool_args_bytes\":%ld,\"tool_calls\":[", args_bytes);
	for (i = 0; i < n; i++)
		qbuf_addf(&b, "%s{\"id\":\"call_%d\",\"name\":\"f\",\"arguments\":\"{}\"}", i ? "," : "", i);
	qbuf_adds(&b, "]}]");
	return qbuf_detach(&b, NULL);
}

/* 64 tool calls of 8 MB each once took 1 GB: the reply as a whole, each
 * call's arguments and the number of calls are capped, and passing a
 * cap is an error that says so, not a memory blow-up. */
static void oversized_replies_are_errors(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct q_error err = {0};
	char *script;
	struct qbuf body;
	int i;

	(void)state;
	script = tool_script(64, 1L << 20); /* 64 MB in all */
	setup_client(&fx, script);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), Q_ETOOBIG);
	assert_non_null(strstr(err.msg, "the model's reply is too big ("));
	assert_non_null(strstr(err.msg, " bytes, limit 8388608)"));
	assert_int_equal(requests_seen(), 1);
	teardown_client(&fx);
	free(script);

	script = tool_script(1, 3L << 20);
	setup_client(&fx, script);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), Q_ETOOBIG);
	assert_non_null(strstr(err.msg, "a tool call's arguments passed 2097152 bytes, limit 2097152"));
	teardown_client(&fx);
	free(script);

	script = tool_script(65, 10);
	setup_client(&fx, script);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), Q_ETOOBIG);
	assert_non_null(strstr(err.msg, "more than 64 tool calls, limit 64"));
	teardown_client(&fx);
	free(script);

	script = tool_script(64, 100); /* 64 is fine */
	setup_client(&fx, script);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_int_equal(resp.n_calls, 64);
	assert_int_equal(strlen(resp.calls[63].arguments), 100);
	llm_response_release(&resp);
	teardown_client(&fx);
	free(script);

	/* A small body of very many values (7M zeros took 315 MB to parse). */
	qbuf_init(&body, 4 << 20);
	qbuf_adds(&body, "[{\"content_type\":\"application/json\",\"body\":\"{\\\"choices\\\":[],\\\"x\\\":[0");
	for (i = 0; i < 200000; i++)
		qbuf_adds(&body, ",0");
	qbuf_adds(&body, "]}\"}]");
	setup_client(&fx, qbuf_cstr(&body));
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), Q_ETOOBIG);
	assert_non_null(strstr(err.msg, "more than 100000 JSON values in one message"));
	teardown_client(&fx);
	qbuf_release(&body);
}

static void check_mask(const char *key, const char *msg, const char *want)
{
	struct llm_config cfg;
	char buf[512];

	memset(&cfg, 0, sizeof(cfg));
	cfg.api_key = (char *)key;
	snprintf(buf, sizeof(buf), "%s", msg);
	llm_mask_key(&cfg, buf);
	if (strcmp(buf, want))
		fail_msg("masking [%s] gave [%s], want [%s]", msg, buf, want);
}

/* A key echoed by a server is masked before the message is cut to
 * length (a key across the cut leaked its first part), and so are long
 * pieces of its start or end. */
static void keys_are_masked_before_the_cut(void **state)
{
	static const char key[] = "sk-fixture-key-42";
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct q_error err = {0};
	char script[2048], pad[400];
	size_t cut;

	(void)state;
	check_mask("sk-live-0123456789abcdef", "key sk-live-0123456789abcdef here", "key *** here");
	check_mask("sk-live-0123456789abcdef", "cut sk-live-0123... end", "cut ***... end");
	check_mask("sk-live-0123456789abcdef", "ends in 456789abcdef.", "ends in ***.");
	check_mask("sk-live-0123456789abcdef", "twice sk-live-01 and 89abcdef!", "twice *** and ***!");
	check_mask("sk-live-0123456789abcdef", "short sk-live ok", "short sk-live ok");
	check_mask("abcd", "x abcd y abcd", "x *** y ***");

	/* The key across the 240-character cut of an error message, and
	 * across the 300-byte cut of an error inside a stream. */
	for (cut = 230; cut <= 290; cut += 60) {
		memset(pad, 'x', cut);
		pad[cut] = '\0';
		if (cut == 230)
			snprintf(script, sizeof(script),
				 "[{\"status\":401,\"body\":\"{\\\"error\\\":{\\\"message\\\":"
				 "\\\"%s%s is not valid\\\"}}\"}]",
				 pad, key);
		else
			snprintf(script, sizeof(script),
				 "[{\"content_type\":\"text/event-stream\",\"body\":"
				 "\"data: {\\\"error\\\":{\\\"message\\\":\\\"%s%s\\\",\\\"code\\\":400}}\\n\\n\"}]",
				 pad, key);
		setup_client(&fx, script);
		assert_int_not_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
		if (strstr(err.msg, "sk-fi") || strstr(err.msg, "ixture"))
			fail_msg("the key leaked: %s", err.msg);
		assert_non_null(strstr(err.msg, cut == 230 ? "refused the API key" : "mid-stream"));
		teardown_client(&fx);
	}
}

static void refuses_a_prompt_past_the_context(void **state)
{
	struct fixture fx;
	struct llm_request r;
	struct llm_response resp;
	struct q_error err = {0};
	char *big = malloc(200001);

	memset(big, 'a', 200000);
	big[200000] = '\0';
	r = simple(big);
	setup_client(&fx, "[{\"content\":\"ok\"}]");
	fx.cfg.context = 8192;
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), Q_ETOOBIG);
	assert_non_null(strstr(err.msg, "context"));
	assert_int_equal(requests_seen(), 0);
	free(big);
	teardown_client(&fx);
}

/* ---- JSON ---- */

static const char schema_text[] = "{\"type\":\"object\",\"required\":[\"queries\"],\"properties\":{\"queries\":"
				  "{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"string\"}}}}";

static void json_reply_with_corrective_retry(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("plan");
	struct llm_response resp;
	struct q_error err = {0};
	json_t *schema = json_loads(schema_text, 0, NULL);

	r.schema = schema;
	r.json = 1;
	/* First reply: reasoning + a fenced object missing the field; second: right. */
	setup_client(&fx,
		     "[{\"match\":\"cannot be used\",\"content\":\"{'queries': ['gps history', 'SA 2000',]}\"},"
		     "{\"content\":\"<think>hmm</think>```json\\n{\\\"query\\\": \\\"x\\\"}\\n```\"}]");
	assert_int_equal(llm_chat_json(&fx.c, &r, &resp, &err), 0);
	assert_non_null(resp.json);
	assert_int_equal(json_array_size(json_object_get(resp.json, "queries")), 2);
	assert_int_equal(requests_seen(), 2);
	assert_true(log_has("lacks the required field"));
	assert_true(log_has("json_object")); /* custom servers get json_object first */
	llm_response_release(&resp);
	teardown_client(&fx);

	/* Wrong twice: a clear failure, not a guess. */
	setup_client(&fx, "[{\"content\":\"no JSON here at all\"}]");
	assert_int_equal(llm_chat_json(&fx.c, &r, &resp, &err), Q_EPARSE);
	assert_non_null(strstr(err.msg, "twice"));
	teardown_client(&fx);
	json_decref(schema);
}

static void downgrades_when_response_format_is_refused(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("plan");
	struct llm_response resp;
	struct q_error err = {0};
	json_t *schema = json_loads(schema_text, 0, NULL);

	r.schema = schema;
	r.json = 1;
	setup_client(&fx, "[{\"match\":\"response_format\",\"status\":400,\"body\":"
			  "\"{\\\"error\\\":{\\\"message\\\":\\\"response_format is not supported\\\"}}\"},"
			  "{\"content\":\"{\\\"queries\\\":[\\\"a\\\"]}\"}]");
	assert_int_equal(llm_chat_json(&fx.c, &r, &resp, &err), 0);
	assert_int_equal(requests_seen(), 2);
	assert_int_equal(fx.c.json_downgraded, 1);
	llm_response_release(&resp);
	teardown_client(&fx);
	json_decref(schema);
}

static void drops_a_temperature_the_model_refuses(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct q_error err = {0};

	r.temperature = 0.2;
	setup_client(&fx, "[{\"match\":\"temperature\",\"status\":400,\"body\":"
			  "\"{\\\"error\\\":{\\\"message\\\":\\\"Unsupported value: 'temperature' does not "
			  "support 0.2 with this model.\\\"}}\"},{\"content\":\"fine\"}]");
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_string_equal(resp.content, "fine");
	assert_int_equal(requests_seen(), 2);
	assert_int_equal(fx.c.no_temperature, 1);
	llm_response_release(&resp);
	teardown_client(&fx);
}

static void schema_check_names_the_problem(void **state)
{
	json_t *schema = json_loads(
		"{\"type\":\"object\",\"required\":[\"notes\"],\"properties\":{\"notes\":"
		"{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"quote\"],"
		"\"properties\":{\"quote\":{\"type\":\"string\"},\"kind\":{\"enum\":[\"fact\",\"opinion\"]}}}}}}",
		0, NULL);
	json_t *good = json_loads("{\"notes\":[{\"quote\":\"a\",\"kind\":\"fact\"}]}", 0, NULL);
	json_t *bad1 = json_loads("{\"notes\":[{\"quote\":\"a\"},{\"quote\":3}]}", 0, NULL);
	json_t *bad2 = json_loads("{\"notes\":[{\"quote\":\"a\",\"kind\":\"guess\"}]}", 0, NULL);
	json_t *bad3 = json_loads("[1]", 0, NULL);
	struct q_error err = {0};

	assert_int_equal(llm_schema_check(schema, good, &err), 0);
	assert_int_equal(llm_schema_check(schema, bad1, &err), Q_EPARSE);
	assert_non_null(strstr(err.msg, "notes[1].quote should be a string"));
	assert_int_equal(llm_schema_check(schema, bad2, &err), Q_EPARSE);
	assert_non_null(strstr(err.msg, "notes[0].kind must be one of"));
	assert_int_equal(llm_schema_check(schema, bad3, &err), Q_EPARSE);
	json_decref(schema);
	json_decref(good);
	json_decref(bad1);
	json_decref(bad2);
	json_decref(bad3);
}

/* ---- cache, limits, batches ---- */

static void cache_replays_without_a_request(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("cache me");
	struct llm_response resp;
	struct q_error err = {0};
	struct store s;
	struct runstore *replies = NULL;
	struct llm_totals t;
	char home[512];

	snprintf(home, sizeof(home), "%s/home", tmpdir);
	assert_int_equal(store_open(&s, home, &err), 0);
	assert_int_equal(runstore_wrap_sqlite(&replies, &s, &err), 0);
	setup_client(&fx, "[{\"reasoning\":\"why\",\"content\":\"cached answer\"}]");
	llm_client_set_cache(&fx.c, replies);
	r.no_cache = 0;
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_int_equal(resp.from_cache, 0);
	llm_response_release(&resp);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_int_equal(resp.from_cache, 1);
	assert_string_equal(resp.content, "cached answer");
	assert_string_equal(resp.reasoning, "why");
	llm_response_release(&resp);
	assert_int_equal(requests_seen(), 1);
	t = llm_client_totals(&fx.c);
	assert_int_equal(t.calls, 2);
	assert_int_equal(t.cache_hits, 1);
	assert_int_equal(t.prompt, 100); /* the cached call is not paid twice */
	/* The key is nowhere in the database. */
	{
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "grep -c '%s' %s/quarry.db* >/dev/null",
			 fx.cfg.api_key ? fx.cfg.api_key : "no-key-configured", home);
		assert_int_not_equal(system(cmd), 0);
	}
	teardown_client(&fx);
	runstore_close(replies);
	store_close(&s);
}

/* The run's replies found by runstore_cache_each: the last one's key and
 * its value with the content rewritten. */
struct kept_reply {
	int n;
	char key[128];
	char *edited;
};

static int edit_reply(void *ctx, const char *key, const char *value)
{
	struct kept_reply *k = ctx;
	json_t *o = json_loads(value, 0, NULL);

	assert_non_null(o);
	json_object_set_new(o, "content", json_string("answer from the run store"));
	free(k->edited);
	k->edited = json_dumps(o, JSON_COMPACT);
	snprintf(k->key, sizeof(k->key), "%s", key);
	json_decref(o);
	k->n++;
	return 0;
}

/* A run's reply goes to its run store and is replayed from there (not
 * from SQL of the client's own): the record edited through the runstore
 * API is what a resumed run gets, without a request, and what it cost
 * is counted again on attaching. */
static void run_replies_replay_through_the_runstore(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("keep me with the run");
	struct llm_response resp;
	struct q_error err = {0};
	struct runstore *rs = NULL;
	struct kept_reply k = {0};
	struct llm_totals t;
	char home[512];
	long id = 0;

	(void)state;
	snprintf(home, sizeof(home), "%s/home-run", tmpdir);
	assert_int_equal(runstore_open(&rs, home, &err), 0);
	assert_int_equal(runstore_create(rs, "q", NULL, RUN_RUNNING, "test", &id, &err), 0);
	setup_client(&fx, "[{\"content\":\"first answer\"}]");
	llm_client_set_run(&fx.c, rs, id);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_int_equal(resp.from_cache, 0);
	assert_string_equal(resp.content, "first answer");
	llm_response_release(&resp);
	llm_client_set_run(&fx.c, NULL, 0);
	assert_int_equal(runstore_cache_each(rs, id, "llm:", edit_reply, &k, &err), 0);
	assert_int_equal(k.n, 1);
	assert_int_equal(runstore_cache_put(rs, id, k.key, k.edited, &err), 0);
	t = llm_client_totals(&fx.c);
	assert_int_equal(t.prompt, 100);
	llm_client_set_run(&fx.c, rs, id); /* the resume */
	t = llm_client_totals(&fx.c);
	assert_int_equal(t.prompt, 200); /* the kept reply's cost counted with the run */
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	assert_int_equal(resp.from_cache, 1);
	assert_string_equal(resp.content, "answer from the run store");
	llm_response_release(&resp);
	assert_int_equal(requests_seen(), 1);
	llm_client_set_run(&fx.c, NULL, 0);
	teardown_client(&fx);
	free(k.edited);
	runstore_close(rs);
}

static void batch_keeps_to_the_concurrency_limit(void **state)
{
	struct fixture fx;
	struct llm_request reqs[6];
	struct llm_response resps[6];
	struct q_error errs[6];
	int rcs[6], i;
	struct timespec t0, t1;
	double secs;

	setup_client(&fx, "[{\"fault\":\"slow_start\",\"delay_ms\":300,\"content\":\"done\"}]");
	fx.cfg.max_concurrent = 2;
	for (i = 0; i < 6; i++)
		reqs[i] = simple("q");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	llm_chat_many(&fx.c, reqs, 6, 0, resps, rcs, errs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (i = 0; i < 6; i++) {
		assert_int_equal(rcs[i], 0);
		assert_string_equal(resps[i].content, "done");
		llm_response_release(&resps[i]);
	}
	/* 6 requests of 0.3 s, 2 at a time: about 0.9 s; never 0.3 (all at once). */
	assert_true(secs >= 0.85);
	assert_true(secs < 3.0);
	teardown_client(&fx);

	setup_client(&fx, "[{\"content\":\"paced\"}]");
	fx.cfg.rpm = 600; /* one start per 100 ms */
	fx.cfg.max_concurrent = 6;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	llm_chat_many(&fx.c, reqs, 6, 0, resps, rcs, errs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (i = 0; i < 6; i++) {
		assert_int_equal(rcs[i], 0);
		llm_response_release(&resps[i]);
	}
	assert_true(secs >= 0.45);
	teardown_client(&fx);
}

static void tokens_per_minute_limit_paces_requests(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct q_error err = {0};
	struct timespec t0, t1;
	const char *stop[] = {"END"};
	double secs;

	setup_client(&fx, "[{\"content\":\"ok\"}]");
	fx.cfg.tpm = 6000; /* 100 tokens a second, 6000 at once */
	fx.c.tpm_tokens = 6000;
	r.max_tokens = 3092; /* with the prompt about 3100 tokens a request */
	r.stop = stop;
	r.n_stop = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	llm_response_release(&resp);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0); /* waits for about 200 tokens */
	llm_response_release(&resp);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs >= 1.5);
	assert_true(secs < 5.0);
	assert_true(log_has("\\\"stop\\\":[\\\"END\\\"]"));
	assert_true(log_has("\\\"max_tokens\\\":3092"));
	teardown_client(&fx);
}

/* Calls reuse their connections (no new TCP or TLS handshake each time). */
static void connections_are_reused(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct q_error err = {0};
	char cmd[512];
	int i;

	setenv("FAKELLM_KEEPALIVE", "1", 1);
	setup_client(&fx, "[{\"content\":\"ok\"}]");
	unsetenv("FAKELLM_KEEPALIVE");
	fx.cfg.stream = 0; /* streams end with the connection; JSON replies keep it */
	for (i = 0; i < 20; i++) {
		assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
		llm_response_release(&resp);
	}
	assert_int_equal(requests_seen(), 20);
	snprintf(cmd, sizeof(cmd), "test $(grep -o '\"conn\":[0-9]*' %s/log | sort -u | wc -l) -eq 1", tmpdir);
	assert_int_equal(system(cmd), 0);
	teardown_client(&fx);
}

static void cancel_stops_a_waiting_request(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("q");
	struct llm_response resp;
	struct q_error err = {0};

	setup_client(&fx, "[{\"content\":\"x\"}]");
	llm_client_cancel(&fx.c);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), Q_ETIMEOUT);
	teardown_client(&fx);
}

/* ---- configuration ---- */

static void resolves_presets_and_precedence(void **state)
{
	struct llm_config c;
	struct llm_overrides o = {0};
	struct config file;
	struct q_error err = {0};
	const char text[] = "# mine\nprovider = qwen\nmodel = qwen-max\nprice.qwen-max = 1.5, 6, 0.3\n"
			    "max_concurrent = 3\n";

	unsetenv("QUARRY_LLM_BASE_URL");
	unsetenv("QUARRY_LLM_MODEL");
	unsetenv("QUARRY_LLM_PROVIDER");
	unsetenv("OPENAI_BASE_URL");
	unsetenv("QUARRY_LLM_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("DEEPSEEK_API_KEY");
	assert_int_equal(resolve_env(&c, &o, NULL, &err), Q_EINVAL);
	/* The core names the setting; the CLI turns it into --provider. */
	assert_non_null(
		strstr(err.msg, "no model configured: set QUARRY_LLM_BASE_URL or use the provider setting"));
	assert_null(strstr(err.msg, "--"));

	o.provider = "deepseek";
	assert_int_equal(resolve_env(&c, &o, NULL, &err), Q_EINVAL);
	assert_non_null(strstr(err.msg, "DEEPSEEK_API_KEY"));
	setenv("DEEPSEEK_API_KEY", "sk-deep", 1);
	setenv("QUARRY_LLM_BASE_URL", "http://elsewhere:1/v1", 1);
	assert_int_equal(resolve_env(&c, &o, NULL, &err), 0);
	assert_string_equal(c.base_url, "https://api.deepseek.com/v1"); /* the flag wins */
	assert_string_equal(c.model, "deepseek-chat");
	assert_string_equal(c.api_key, "sk-deep");
	assert_string_equal(c.key_env, "DEEPSEEK_API_KEY");
	assert_true(c.price_known);
	llm_config_release(&c);
	unsetenv("QUARRY_LLM_BASE_URL");

	o.provider = "nonesuch";
	assert_int_equal(resolve_env(&c, &o, NULL, &err), Q_EINVAL);
	assert_non_null(strstr(err.msg, "unknown provider"));

	memset(&o, 0, sizeof(o));
	assert_int_equal(config_parse(&file, text, sizeof(text) - 1, "cfg", &err), 0);
	setenv("DASHSCOPE_API_KEY", "sk-qwen", 1);
	assert_int_equal(resolve_env(&c, &o, &file, &err), 0);
	assert_string_equal(c.provider, "qwen");
	assert_string_equal(c.model, "qwen-max");
	assert_string_equal(c.fast_model, "qwen-max"); /* the user chose the model */
	assert_int_equal(c.max_concurrent, 3);
	assert_true(c.price.in == 1.5 && c.price.out == 6 && c.price.cached_in == 0.3);
	llm_config_release(&c);
	setenv("QUARRY_LLM_MODEL", "qwen-plus", 1); /* environment beats the file */
	assert_int_equal(resolve_env(&c, &o, &file, &err), 0);
	assert_string_equal(c.model, "qwen-plus");
	llm_config_release(&c);
	unsetenv("QUARRY_LLM_MODEL");
	setenv("QUARRY_LLM_RPM", "lots", 1);
	assert_int_equal(resolve_env(&c, &o, &file, &err), Q_EINVAL);
	assert_non_null(strstr(err.msg, "requests-per-minute"));
	unsetenv("QUARRY_LLM_RPM");
	config_release(&file);

	/* A custom URL on a known host takes that preset's defaults. */
	setenv("QUARRY_LLM_BASE_URL", "https://api.deepseek.com/v1/", 1);
	assert_int_equal(resolve_env(&c, &o, NULL, &err), 0);
	assert_string_equal(c.provider, "deepseek");
	assert_string_equal(c.base_url, "https://api.deepseek.com/v1");
	llm_config_release(&c);
	unsetenv("QUARRY_LLM_BASE_URL");
	unsetenv("DEEPSEEK_API_KEY");
	unsetenv("DASHSCOPE_API_KEY");
}

/* Resolve with base (via QUARRY_LLM_BASE_URL unless NULL) and model m;
 * returns the error code, the key (or "") in key. */
static int resolve_key(const char *base, const struct llm_overrides *ov, char *key, size_t size,
		       struct q_error *err)
{
	struct llm_config c;
	struct llm_overrides o = {0};
	int rc;

	if (ov)
		o = *ov;
	if (!o.model)
		o.model = "m";
	if (base)
		setenv("QUARRY_LLM_BASE_URL", base, 1);
	else
		unsetenv("QUARRY_LLM_BASE_URL");
	memset(err, 0, sizeof(*err));
	rc = resolve_env(&c, &o, NULL, err);
	snprintf(key, size, "%s", rc == 0 && c.api_key ? c.api_key : "");
	if (rc == 0)
		llm_config_release(&c);
	unsetenv("QUARRY_LLM_BASE_URL");
	return rc;
}

/* A provider's key goes to that provider's hosts only (a base URL that
 * merely contains the host got it), OPENAI_API_KEY to OpenAI or to
 * OPENAI_BASE_URL only, and no key crosses the network in clear text. */
static void keys_go_only_to_their_hosts(void **state)
{
	struct llm_overrides o = {0};
	struct q_error err;
	struct llm_config c;
	char key[64];

	(void)state;
	unsetenv("QUARRY_LLM_PROVIDER");
	unsetenv("QUARRY_LLM_API_KEY");
	unsetenv("OPENAI_BASE_URL");
	unsetenv("QUARRY_LLM_ALLOW_INSECURE_HTTP");
	setenv("DEEPSEEK_API_KEY", "sk-deep-secret", 1);
	setenv("OPENAI_API_KEY", "sk-openai-secret", 1);
	setenv("VLLM_API_KEY", "sk-vllm-secret", 1);

	assert_int_equal(resolve_key("https://api.deepseek.com.evil.test/v1", NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, "");
	assert_int_equal(resolve_key("https://evil.test/api.deepseek.com/v1", NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, "");
	assert_int_equal(resolve_key("https://xapi.deepseek.com/v1", NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, "");
	assert_int_equal(resolve_key("https://API.DeepSeek.com./v1", NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, "sk-deep-secret");
	assert_int_equal(resolve_key("https://custom.example/v1", NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, ""); /* not OPENAI_API_KEY */
	assert_int_equal(resolve_key("https://api.openai.com/v1", NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, "sk-openai-secret");
	setenv("OPENAI_BASE_URL", "https://custom.example/v1/", 1);
	assert_int_equal(resolve_key(NULL, NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, "sk-openai-secret"); /* the fallback pair */
	assert_int_equal(resolve_key("https://other.example/v1", NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, "");
	unsetenv("OPENAI_BASE_URL");

	/* A preset named with someone else's address: its key stays home. */
	o.provider = "deepseek";
	o.base_url = "https://proxy.example/v1";
	assert_int_equal(resolve_key(NULL, &o, key, sizeof(key), &err), Q_EINVAL);
	assert_non_null(strstr(err.msg, "DEEPSEEK_API_KEY is only sent to DeepSeek's own servers"));
	assert_non_null(strstr(err.msg, "QUARRY_LLM_API_KEY"));
	o.provider = "vllm"; /* no fixed host: the user's own server */
	o.base_url = "https://cluster.example/v1";
	assert_int_equal(resolve_key(NULL, &o, key, sizeof(key), &err), 0);
	assert_string_equal(key, "sk-vllm-secret");
	memset(&o, 0, sizeof(o));

	/* Presets by exact host, also the second host of a preset. */
	memset(&err, 0, sizeof(err));
	setenv("QUARRY_LLM_BASE_URL", "https://api.moonshot.cn/v1", 1);
	setenv("MOONSHOT_API_KEY", "sk-moon", 1);
	assert_int_equal(resolve_env(&c, &o, NULL, &err), 0);
	assert_string_equal(c.provider, "moonshot");
	llm_config_release(&c);
	setenv("QUARRY_LLM_BASE_URL", "https://api.moonshot.evil/v1", 1);
	o.model = "m";
	assert_int_equal(resolve_env(&c, &o, NULL, &err), 0);
	assert_string_equal(c.provider, "custom");
	assert_null(c.api_key);
	llm_config_release(&c);
	unsetenv("MOONSHOT_API_KEY");
	unsetenv("QUARRY_LLM_BASE_URL");

	/* The user's own key goes to the configured server, but not in clear
	 * text to another machine unless allowed. */
	setenv("QUARRY_LLM_API_KEY", "sk-mine", 1);
	assert_int_equal(resolve_key("https://proxy.example/v1", NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, "sk-mine");
	assert_int_equal(resolve_key("http://proxy.example/v1", NULL, key, sizeof(key), &err), Q_EINVAL);
	assert_non_null(strstr(err.msg, "refusing to send the API key (QUARRY_LLM_API_KEY) in clear "
					"text to proxy.example"));
	assert_non_null(strstr(err.msg, "the allow_insecure_http setting"));
	assert_null(strstr(err.msg, "--"));
	assert_int_equal(resolve_key("http://192.168.1.5:8000/v1", NULL, key, sizeof(key), &err), Q_EINVAL);
	o.allow_insecure_http = 1;
	assert_int_equal(resolve_key("http://proxy.example/v1", &o, key, sizeof(key), &err), 0);
	assert_string_equal(key, "sk-mine");
	memset(&o, 0, sizeof(o));
	setenv("QUARRY_LLM_ALLOW_INSECURE_HTTP", "1", 1);
	assert_int_equal(resolve_key("http://proxy.example/v1", NULL, key, sizeof(key), &err), 0);
	unsetenv("QUARRY_LLM_ALLOW_INSECURE_HTTP");
	assert_int_equal(resolve_key("http://127.0.0.1:8000/v1", NULL, key, sizeof(key), &err), 0);
	assert_int_equal(resolve_key("http://localhost:8000/v1", NULL, key, sizeof(key), &err), 0);
	assert_int_equal(resolve_key("http://[::1]:8000/v1", NULL, key, sizeof(key), &err), 0);
	unsetenv("QUARRY_LLM_API_KEY");
	/* Keyless over http is fine anywhere. */
	assert_int_equal(resolve_key("http://gpu-box.lan:11434/v1", NULL, key, sizeof(key), &err), 0);
	assert_string_equal(key, "");
	unsetenv("DEEPSEEK_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("VLLM_API_KEY");
}

static void config_file_errors_name_the_line(void **state)
{
	struct config c;
	struct q_error err = {0};
	const char bad[] = "a = 1\n\nthis line is wrong\n";
	const char ok[] = "  key.x-y = \"quoted value\"  \r\n#c\nkey.x-y = later\n";

	assert_int_equal(config_parse(&c, bad, sizeof(bad) - 1, "my.conf", &err), Q_EPARSE);
	assert_non_null(strstr(err.msg, "my.conf line 3"));
	assert_int_equal(config_parse(&c, ok, sizeof(ok) - 1, "ok", &err), 0);
	assert_string_equal(config_get(&c, "key.x-y"), "later");
	assert_null(config_get(&c, "missing"));
	config_release(&c);
}

static void prices_and_estimates(void **state)
{
	struct llm_price p;

	assert_int_equal(llm_parse_price("0.28,0.42", &p), 0);
	assert_true(p.in == 0.28 && p.out == 0.42 && p.cached_in == 0.28);
	assert_int_equal(llm_parse_price("1, 2, 0.5", &p), 0);
	assert_true(p.cached_in == 0.5);
	assert_int_equal(llm_parse_price("1", &p), -1);
	assert_int_equal(llm_parse_price("a,b", &p), -1);
	assert_int_equal(llm_parse_price("1,2,3,4", &p), -1);
	assert_int_equal(llm_estimate_tokens("abcdefgh", 8), 2);
	assert_int_equal(llm_estimate_tokens("全球定位系统", strlen("全球定位系统")), 6);
	assert_true(llm_estimate_prompt(hello, 1) >= 8);
}

static void sha256_vectors(void **state)
{
	char hex[65];

	sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* A server's usage figures are untrusted: 2^63-1 prompt tokens are
 * clamped, the totals saturate instead of wrapping negative, and the
 * budget still trips. */
static void hostile_usage_figures_are_clamped(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("hello");
	struct llm_response resp;
	struct q_error err = {0};
	struct llm_totals t;
	char why[200];
	int i;

	(void)state;
	setenv("QUARRY_LLM_PRICE", "1,2", 1);
	setup_client(&fx, "[{\"content\":\"hi\",\"prompt_tokens\":9223372036854775807}]");
	for (i = 0; i < 2; i++) {
		assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
		assert_int_equal(resp.usage.prompt, LLM_MAX_USAGE_TOKENS);
		assert_true(resp.usage.cached <= resp.usage.prompt);
		llm_response_release(&resp);
	}
	t = llm_client_totals(&fx.c);
	assert_int_equal(t.prompt, 2 * LLM_MAX_USAGE_TOKENS);
	assert_true(t.cost_usd >= 0 && t.cost_usd < 1e9);
	llm_client_set_budget(&fx.c, 5000, 0, 0);
	assert_non_null(llm_budget_spent(&fx.c, why, sizeof(why)));
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), Q_EBUDGET);
	assert_non_null(strstr(err.msg, "the token budget (5000) is spent"));
	unsetenv("QUARRY_LLM_PRICE");
	teardown_client(&fx);
}

/* Parallel calls reserve from one pool: eight calls whose replies would
 * each take 4,000 tokens never overrun a 3,000-token budget, each reply
 * is capped (max_tokens sent), and the calls that do not fit fail with
 * Q_EBUDGET instead of starting. */
static void parallel_calls_share_a_hard_budget(void **state)
{
	struct fixture fx;
	struct llm_request reqs[8];
	struct llm_response resps[8];
	struct q_error errs[8];
	int rcs[8], i, ok = 0, refused = 0;
	char script[17000];
	struct llm_totals t;

	(void)state;
	snprintf(script, sizeof(script),
		 "[{\"usage\":\"count\",\"fault\":\"slow_start\","
		 "\"delay_ms\":100,\"content\":\"%0*d\"}]",
		 16000, 7);
	setup_client(&fx, script);
	fx.cfg.max_concurrent = 8;
	llm_client_set_budget(&fx.c, 3000, 0, 0);
	for (i = 0; i < 8; i++)
		reqs[i] = simple("a question of a few words");
	llm_chat_many(&fx.c, reqs, 8, 0, resps, rcs, errs);
	for (i = 0; i < 8; i++) {
		if (rcs[i] == 0) {
			ok++;
			assert_string_equal(resps[i].finish_reason, "length");
		} else {
			assert_int_equal(rcs[i], Q_EBUDGET);
			refused++;
		}
		llm_response_release(&resps[i]);
	}
	t = llm_client_totals(&fx.c);
	assert_true(ok >= 1);
	assert_true(refused >= 1);
	assert_true(t.prompt + t.completion <= 3000);
	assert_true(t.budget_capped >= 1);
	assert_true(log_has("max_tokens"));
	assert_int_equal(fx.c.solo.n_held, 0);
	assert_int_equal(fx.c.solo.held_tokens, 0);
	teardown_client(&fx);
}

/* A server that counts a prompt above our estimate raises the estimate
 * of the calls after it (at most 8 times). */
static void prompt_estimate_learns_from_the_server(void **state)
{
	struct fixture fx;
	struct llm_request r = simple("a short prompt");
	struct llm_response resp;
	struct q_error err = {0};

	(void)state;
	setup_client(&fx, "[{\"content\":\"hi\",\"prompt_tokens\":60}]");
	llm_client_set_budget(&fx.c, 100000, 0, 0);
	assert_int_equal(llm_chat(&fx.c, &r, &resp, &err), 0);
	llm_response_release(&resp);
	assert_true(fx.c.prompt_ratio > 1.0);
	assert_true(fx.c.prompt_ratio <= 8.0);
	assert_int_equal(fx.c.solo.n_held, 0);
	teardown_client(&fx);
}

/* Callers outside src/llm make, read and free a client only through its
 * functions: the config it borrows, the solo account requests without
 * one are counted with, and an allocation that fails. */
static void client_is_opaque_behind_its_functions(void **state)
{
	struct llm_config cfg;
	struct llm_overrides o = {0};
	struct llm_client *c = NULL;
	struct llm_account *a;
	struct q_error err = {0};

	(void)state;
	o.base_url = "http://127.0.0.1:9/v1";
	o.model = "m";
	assert_int_equal(resolve_env(&cfg, &o, NULL, &err), 0);
	q_alloc_fail_after(0);
	assert_int_equal(llm_client_new(&cfg, &c, &err), Q_ENOMEM);
	q_alloc_fail_after(-1);
	assert_null(c);
	assert_int_equal(llm_client_new(&cfg, &c, &err), 0);
	assert_non_null(c);
	assert_ptr_equal(llm_client_config(c), &cfg);
	assert_string_equal(llm_client_config(c)->model, "m");
	a = llm_client_account(c);
	assert_ptr_equal(a, &c->solo);
	llm_client_set_budget(c, 1234, 0, 0);
	assert_int_equal(a->budget_tokens, 1234);
	assert_false(llm_account_cancelled(a));
	llm_client_cancel(c);
	assert_true(llm_account_cancelled(a));
	llm_client_free(c);
	llm_client_free(NULL);
	llm_config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(streams_reasoning_apart_at_any_split),
		cmocka_unit_test(assembles_tool_calls),
		cmocka_unit_test(estimates_usage_when_none_sent),
		cmocka_unit_test(retries_429_honouring_retry_after),
		cmocka_unit_test(retries_stall_truncation_and_bad_chunks),
		cmocka_unit_test(keepalives_are_not_progress),
		cmocka_unit_test(oversized_replies_are_errors),
		cmocka_unit_test(keys_are_masked_before_the_cut),
		cmocka_unit_test(truncated_stream_is_never_complete),
		cmocka_unit_test(client_errors_are_not_retried),
		cmocka_unit_test(odd_replies_get_clear_errors),
		cmocka_unit_test(refuses_a_prompt_past_the_context),
		cmocka_unit_test(json_reply_with_corrective_retry),
		cmocka_unit_test(downgrades_when_response_format_is_refused),
		cmocka_unit_test(drops_a_temperature_the_model_refuses),
		cmocka_unit_test(schema_check_names_the_problem),
		cmocka_unit_test(cache_replays_without_a_request),
		cmocka_unit_test(run_replies_replay_through_the_runstore),
		cmocka_unit_test(batch_keeps_to_the_concurrency_limit),
		cmocka_unit_test(tokens_per_minute_limit_paces_requests),
		cmocka_unit_test(connections_are_reused),
		cmocka_unit_test(cancel_stops_a_waiting_request),
		cmocka_unit_test(resolves_presets_and_precedence),
		cmocka_unit_test(keys_go_only_to_their_hosts),
		cmocka_unit_test(config_file_errors_name_the_line),
		cmocka_unit_test(prices_and_estimates),
		cmocka_unit_test(sha256_vectors),
		cmocka_unit_test(hostile_usage_figures_are_clamped),
		cmocka_unit_test(parallel_calls_share_a_hard_budget),
		cmocka_unit_test(prompt_estimate_learns_from_the_server),
		cmocka_unit_test(client_is_opaque_behind_its_functions),
	};
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/quarry-llmtest-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	unsetenv("QUARRY_LLM_API_KEY");
	setenv("QUARRY_LLM_BACKOFF_MS", "10", 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	stop_fake();
	{
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd)) {
		}
	}
	curl_global_cleanup();
	return rc;
}
