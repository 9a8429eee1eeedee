/*
 * Unit tests: the MCP JSON-RPC handler (src/mcp) without a transport:
 * error codes, version negotiation, the caps, argument checks, and a
 * cancelled call that is stopped and not answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "../../src/core/clock.h"
#include "../../src/mcp/mcp.h"
#include "../../src/research/runstore.h"

#define MAX_SEEN 64

struct seen {
	pthread_mutex_t mu;
	json_t *msgs[MAX_SEEN];
	int n;
};

static void capture(void *ctx, const char *json, size_t len, const json_t *about)
{
	struct seen *s = ctx;
	json_t *m = json_loadb(json, len, 0, NULL);

	assert_non_null(m);               /* everything the server sends is JSON */
	if (json_object_get(m, "result")) /* a response names its request for the transport */
		assert_true(about && json_equal(about, json_object_get(m, "id")));
	pthread_mutex_lock(&s->mu);
	if (s->n < MAX_SEEN)
		s->msgs[s->n++] = m;
	else
		json_decref(m);
	pthread_mutex_unlock(&s->mu);
}

static struct mcp_server *start(struct seen *s, struct mcp_env *env)
{
	struct mcp_server *srv = NULL;
	static char home[64];

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	snprintf(home, sizeof(home), "/tmp/quarry-test-mcp-%d", (int)getpid());
	env->home = home;
	assert_int_equal(mcp_server_new(&srv, env, capture, s, NULL), 0);
	return srv;
}

static void finish(struct mcp_server *srv, struct seen *s)
{
	int i;

	mcp_server_free(srv);
	for (i = 0; i < s->n; i++)
		json_decref(s->msgs[i]);
	pthread_mutex_destroy(&s->mu);
}

static void send_text(struct mcp_server *srv, const char *text)
{
	mcp_server_handle(srv, text, strlen(text));
}

/* The error code of the last message, 0 if it is no error. */
static int last_code(struct seen *s)
{
	json_t *e;

	assert_true(s->n > 0);
	e = json_object_get(s->msgs[s->n - 1], "error");
	return e ? (int)json_integer_value(json_object_get(e, "code")) : 0;
}

static void json_rpc_errors_have_their_codes(void **state)
{
	struct seen s;
	struct mcp_env env = {0};
	struct mcp_server *srv = start(&s, &env);

	(void)state;
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":1,");
	assert_int_equal(last_code(&s), -32700);
	assert_true(json_is_null(json_object_get(s.msgs[0], "id")));
	send_text(srv, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
	assert_int_equal(last_code(&s), -32600);
	send_text(srv, "{\"jsonrpc\":\"1.0\",\"id\":2,\"method\":\"ping\"}");
	assert_int_equal(last_code(&s), -32600);
	assert_int_equal(json_integer_value(json_object_get(s.msgs[s.n - 1], "id")), 2);
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":{\"x\":1},\"method\":\"ping\"}");
	assert_int_equal(last_code(&s), -32600);
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"frobnicate\"}");
	assert_int_equal(last_code(&s), -32601);
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\",\"params\":[1]}");
	assert_int_equal(last_code(&s), -32602);
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"initialize\",\"params\":{}}");
	assert_int_equal(last_code(&s), -32602);
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"rm\"}}");
	assert_int_equal(last_code(&s), -32602);
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/read\","
		       "\"params\":{\"uri\":\"file:///etc/passwd\"}}");
	assert_int_equal(last_code(&s), -32002);
	/* Notifications are never answered, not even unknown ones. */
	int before = s.n;
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}");
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}");
	assert_int_equal(s.n, before);
	finish(srv, &s);
}

static void initialize_negotiates_the_version(void **state)
{
	struct seen s;
	struct mcp_env env = {0};
	struct mcp_server *srv = start(&s, &env);
	json_t *r;

	(void)state;
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
		       "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}");
	r = json_object_get(s.msgs[0], "result");
	assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), "2025-06-18");
	assert_non_null(json_object_get(json_object_get(r, "capabilities"), "tools"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")),
			    "quarry");
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":"
		       "{\"protocolVersion\":\"1999-01-01\"}}");
	r = json_object_get(s.msgs[1], "result");
	assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), MCP_PROTOCOL_LATEST);
	assert_string_equal(mcp_server_version(srv), MCP_PROTOCOL_LATEST);
	assert_string_equal(mcp_negotiate_version("2024-11-05"), "2024-11-05");
	assert_string_equal(mcp_negotiate_version(NULL), MCP_PROTOCOL_LATEST);
	finish(srv, &s);
}

static void caps_refuse_deep_and_huge_messages(void **state)
{
	struct seen s;
	struct mcp_env env = {0};
	struct mcp_server *srv = start(&s, &env);
	char deep[512];
	char *huge;
	size_t n = (size_t)MCP_MAX_MESSAGE_BYTES + 10;
	int i, k = 0;

	(void)state;
	k += snprintf(deep + k, sizeof(deep) - k,
		      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
		      "\"params\":{\"x\":");
	for (i = 0; i < MCP_MAX_DEPTH + 5; i++)
		deep[k++] = '[';
	for (i = 0; i < MCP_MAX_DEPTH + 5; i++)
		deep[k++] = ']';
	k += snprintf(deep + k, sizeof(deep) - k, "}}");
	mcp_server_handle(srv, deep, (size_t)k);
	assert_int_equal(last_code(&s), -32600);
	assert_non_null(strstr(
		json_string_value(json_object_get(json_object_get(s.msgs[0], "error"), "message")), "nested"));
	/* Brackets inside strings do not count. */
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"params\":{\"x\":"
		       "\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}}");
	assert_int_equal(last_code(&s), 0);
	huge = malloc(n);
	assert_non_null(huge);
	memset(huge, ' ', n);
	huge[0] = '{';
	huge[n - 1] = '}';
	mcp_server_handle(srv, huge, n);
	free(huge);
	assert_int_equal(last_code(&s), -32600);
	finish(srv, &s);
}

/* A tool result's error text, NULL when it is no error. */
static const char *tool_error(json_t *msg)
{
	json_t *r = json_object_get(msg, "result");

	if (!json_is_true(json_object_get(r, "isError")))
		return NULL;
	return json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));
}

static void tool_arguments_are_checked(void **state)
{
	struct seen s;
	struct mcp_env env = {0};
	struct mcp_server *srv;
	static const char *const bad[] = {
		"{\"name\":\"research\",\"arguments\":{}}",
		"{\"name\":\"research\",\"arguments\":{\"question\":\"q\",\"depth\":99}}",
		"{\"name\":\"research\",\"arguments\":{\"question\":\"q\",\"depth\":\"2\"}}",
		"{\"name\":\"research\",\"arguments\":{\"question\":\"q\",\"sources\":\"web,files\"}}",
		"{\"name\":\"research\",\"arguments\":{\"question\":\"q\",\"command\":\"rm -rf /\"}}",
		"{\"name\":\"research\",\"arguments\":{\"question\":\"\"}}",
		"{\"name\":\"fetch_url\",\"arguments\":{\"url\":\"http://a.example/\",\"format\":\"pdf\"}}",
		"{\"name\":\"fetch_url\",\"arguments\":{\"url\":\"http://a.example/\\u0000x\"}}",
		"{\"name\":\"get_run\",\"arguments\":{\"run_id\":1.5}}",
	};
	char msg[512];
	size_t i;

	(void)state;
	env.validate_only = 1;
	srv = start(&s, &env);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(msg, sizeof(msg),
			 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/call\","
			 "\"params\":%s}",
			 i, bad[i]);
		send_text(srv, msg);
		assert_int_equal(s.n, (int)i + 1);
		assert_non_null(tool_error(s.msgs[i]));
		assert_null(strstr(tool_error(s.msgs[i]), "validate_only"));
	}
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"tools/call\",\"params\":{\"name\":"
		       "\"research\",\"arguments\":{\"question\":\"q\",\"sources\":\"web,corpus\","
		       "\"depth\":3}}}");
	assert_non_null(strstr(tool_error(s.msgs[s.n - 1]), "validate_only")); /* it passed */
	finish(srv, &s);
}

/* A listening socket that never answers: a fetch from it hangs. */
static int silent_server(int *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static void a_cancelled_call_stops_and_is_not_answered(void **state)
{
	struct seen s;
	struct mcp_env env = {0};
	struct mcp_server *srv;
	char msg[256];
	int port, fd = silent_server(&port);
	double t0;

	(void)state;
	env.allow_private = 1;
	srv = start(&s, &env);
	snprintf(msg, sizeof(msg),
		 "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":\"tools/call\","
		 "\"params\":{\"name\":\"fetch_url\",\"arguments\":{\"url\":\"http://127.0.0.1:%d/\"}}}",
		 port);
	send_text(srv, msg);
	usleep(300 * 1000);
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
	assert_int_equal(s.n, 1); /* the session answers while the call runs */
	t0 = q_now_ms();
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
		       "\"params\":{\"requestId\":\"c1\",\"reason\":\"test\"}}");
	mcp_server_wait(srv, NULL);
	assert_true(q_now_ms() - t0 < 5000); /* not the 30 s fetch timeout */
	assert_int_equal(s.n, 1);            /* and no answer for c1 */
	finish(srv, &s);
	close(fd);
}

/* With env.queue (quarry serve), research is a queued run followed
 * through the store; the test plays the worker. */
static void queued_research_follows_its_run(void **state)
{
	struct seen s;
	struct mcp_env env = {0};
	struct mcp_server *srv;
	struct runstore *rs = NULL;
	struct run_record *v = NULL;
	struct runstore_filter f;
	json_t *ev, *report, *r;
	size_t n = 0;
	long seq, id;
	int i;

	(void)state;
	env.queue = 1;
	srv = start(&s, &env);
	send_text(srv, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
		       "\"research\",\"arguments\":{\"question\":\"queued question\"},\"_meta\":"
		       "{\"progressToken\":\"t\"}}}");
	assert_int_equal(runstore_open(&rs, env.home, NULL), 0);
	memset(&f, 0, sizeof(f));
	f.status = RUN_QUEUED;
	f.text = "queued question";
	for (i = 0; i < 100 && n == 0; i++) {
		runstore_list_free(v, n);
		v = NULL;
		assert_int_equal(runstore_list(rs, &f, &v, &n, NULL), 0);
		if (!n)
			usleep(20 * 1000);
	}
	assert_int_equal(n, 1);
	id = v[0].id;
	runstore_list_free(v, n);
	ev = json_pack("{s:s, s:i, s:s, s:s}", "type", "source_read", "source", 1, "url",
		       "https://a.example/", "title", "A page");
	assert_int_equal(runstore_event_add(rs, id, ev, &seq, NULL), 0);
	json_decref(ev);
	report = json_pack("{s:[], s:{s:i}, s:{s:i}}", "sources", "verification", "citations_verified", 1,
			   "figures", "prompt_tokens", 10);
	assert_int_equal(runstore_save_report(rs, id, RUN_DONE, report, "Queued answer [1].\n", NULL), 0);
	json_decref(report);
	mcp_server_wait(srv, NULL);
	r = json_object_get(s.msgs[s.n - 1], "result");
	assert_non_null(r);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r, "structuredContent"), "report")),
		"Queued answer [1].\n");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(r, "structuredContent"), "run_id")), id);
	for (i = 0; i < s.n - 1; i++) /* queued run N, then read [1] A page */
		assert_string_equal(json_string_value(json_object_get(s.msgs[i], "method")),
				    "notifications/progress");
	assert_true(s.n >= 3);
	runstore_close(rs);
	finish(srv, &s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_rpc_errors_have_their_codes),
		cmocka_unit_test(initialize_negotiates_the_version),
		cmocka_unit_test(caps_refuse_deep_and_huge_messages),
		cmocka_unit_test(tool_arguments_are_checked),
		cmocka_unit_test(a_cancelled_call_stops_and_is_not_answered),
		cmocka_unit_test(queued_research_follows_its_run),
	};

	char cmd[96];
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	snprintf(cmd, sizeof(cmd), "rm -rf /tmp/quarry-test-mcp-%d", (int)getpid());
	if (system(cmd))
		rc = rc ? rc : 1;
	return rc;
}
