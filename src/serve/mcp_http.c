/*
 * mcp_http.c - MCP's Streamable HTTP transport at /mcp on `quarry serve`
 * (the protocol itself is src/mcp).
 *
 * POST /mcp carries one JSON-RPC message. initialize opens a session: a
 * server of its own (mcp_server_new) named by the Mcp-Session-Id header
 * of the answer, which every later request must send (400 without it,
 * 404 for a session that is gone: the client then starts a new one).
 * Notifications and responses are taken with 202 and no body. A request
 * is answered with application/json, except tools/call when the client
 * accepts text/event-stream: then the answer is an SSE stream carrying
 * the call's progress notifications and, last, its response. GET /mcp is
 * 405 (the server sends nothing unasked); DELETE /mcp ends the session,
 * cancelling its calls. The token is checked as on every route, Origin
 * on POST and DELETE (a web page elsewhere cannot drive the tools), and
 * an MCP-Protocol-Version header must name a version quarry speaks.
 *
 * The session's server answers from any thread (tool calls run on their
 * own); each message is handed to the loop thread with serve_post and
 * put on the stream of the request it is about, or dropped when that
 * client went away (a dropped stream is not a cancel: the 2025-11-25
 * specification says so; notifications/cancelled is). A session is freed
 * on the loop thread after its server has ended (on a thread of its own,
 * as ending waits for the calls) and after every message posted before.
 *
 * The research and ask tools queue their runs for the workers here
 * (mcp_env.queue): serve never runs research itself.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "../core/alloc.h"
#include "../mcp/mcp.h"
#include "openai_http.h"
#include "serve_int.h"

#define MCP_HTTP_MAX_SESSIONS 64
#define MCP_HTTP_IDLE_S 3600    /* a session unused this long is ended */
#define MCP_HTTP_HEARTBEAT_S 10 /* an SSE comment on open streams */
#define MCP_HTTP_SESSION_ID_BYTES 16

struct stream;

struct session {
	char id[2 * MCP_HTTP_SESSION_ID_BYTES + 1];
	struct serve *serve;
	struct mcp_server *srv;
	struct mcp_env env;
	time_t last_used;
	int closing;            /* DELETE or expiry: its server is ending */
	struct stream *streams; /* requests waiting for their answers */
	struct event *heartbeat;
	struct session *next;
};

/* A POST request waiting for its answer. */
struct stream {
	struct session *sess;
	struct serve_req *req;
	json_t *id;
	int sse;           /* answering as text/event-stream */
	int opens_session; /* initialize: the answer names the session */
	struct stream *next;
};

/* A message from the session's server, on its way to the loop thread. */
struct posted_msg {
	struct session *sess;
	char *json;
	json_t *about;
};

/* The sessions of the one server of this process (loop thread only). */
static struct session *sessions;
static int n_sessions;

static void stream_drop(struct stream *st)
{
	struct stream **p;

	for (p = &st->sess->streams; *p; p = &(*p)->next)
		if (*p == st) {
			*p = st->next;
			break;
		}
	json_decref(st->id);
	q_free(st);
}

static void stream_gone(struct serve_req *r, void *arg)
{
	(void)r;
	stream_drop(arg);
}

/* Deliver one message of the session's server (loop thread). */
static void deliver(void *arg)
{
	struct posted_msg *m = arg;
	struct session *s = m->sess;
	struct stream *st;
	json_t *msg = NULL;
	int final;

	for (st = s->streams; st && !(m->about && json_equal(st->id, m->about)); st = st->next)
		;
	if (!st)
		goto out; /* its client went away, or nobody asked (no GET stream here) */
	msg = json_loads(m->json, 0, NULL);
	final = msg && (json_object_get(msg, "result") || json_object_get(msg, "error"));
	if (st->sse) {
		if (serve_sse_event(st->req, -1, "message", m->json)) {
			stream_drop(st); /* dropped for falling behind: its request is gone */
			goto out;
		}
		if (final) {
			serve_end(st->req);
			stream_drop(st);
		}
	} else if (final) {
		if (st->opens_session)
			serve_add_header(st->req, "Mcp-Session-Id", s->id);
		serve_reply(st->req, 200, "application/json", m->json, strlen(m->json));
		stream_drop(st);
	}
out:
	json_decref(msg);
	json_decref(m->about);
	q_free(m->json);
	q_free(m);
}

/* The session server's send callback (any thread). */
static void session_send(void *ctx, const char *json, size_t len, const json_t *about)
{
	struct session *s = ctx;
	struct posted_msg *m = q_calloc(1, sizeof(*m));

	if (!m)
		return;
	m->sess = s;
	m->json = q_strndup(json, len);
	m->about = about ? json_deep_copy(about) : NULL;
	if (!m->json || serve_post(s->serve, deliver, m)) {
		q_free(m->json);
		json_decref(m->about);
		q_free(m);
	}
}

static void session_free(void *arg)
{
	struct session *s = arg;

	while (s->streams) {
		serve_end(s->streams->req);
		stream_drop(s->streams);
	}
	if (s->heartbeat)
		event_free(s->heartbeat);
	q_free(s);
}

/* Ending a server waits for its calls: on a thread, then free on the loop. */
static void *session_end_thread(void *arg)
{
	struct session *s = arg;

	mcp_server_free(s->srv);
	s->srv = NULL;
	/* Out of memory, the session leaks rather than being freed off the loop. */
	(void)serve_post(s->serve, session_free, s);
	return NULL;
}

static void session_close(struct session *s)
{
	struct session **p;
	pthread_attr_t attr;
	pthread_t th;

	for (p = &sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			n_sessions--;
			break;
		}
	s->closing = 1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, session_end_thread, s))
		session_end_thread(s); /* no thread: end it here, the loop waits a moment */
	pthread_attr_destroy(&attr);
}

static void heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct stream *st, *next;

	(void)fd;
	(void)what;
	for (st = s->streams; st; st = next) {
		next = st->next;
		if (st->sse && serve_sse_comment(st->req, "the call goes on"))
			stream_drop(st); /* dropped for falling behind: r is gone */
	}
}

static struct session *session_find(const char *id)
{
	struct session *s;

	for (s = sessions; s; s = s->next)
		if (!strcmp(s->id, id))
			return s;
	return NULL;
}

static void sweep_idle(time_t now)
{
	struct session *s, *next;

	for (s = sessions; s; s = next) {
		next = s->next;
		if (!s->streams && now - s->last_used > MCP_HTTP_IDLE_S)
			session_close(s);
	}
}

static struct session *session_new(struct serve *srv, struct q_error *err)
{
	struct session *s;
	unsigned char raw[MCP_HTTP_SESSION_ID_BYTES];
	struct timeval tv = {MCP_HTTP_HEARTBEAT_S, 0};
	size_t i;

	sweep_idle(time(NULL));
	if (n_sessions >= MCP_HTTP_MAX_SESSIONS) {
		q_error_set(err, Q_ETOOBIG,
			    "%d MCP sessions are open, the most this server keeps; "
			    "end one (DELETE /mcp) or wait an hour for idle ones to end",
			    MCP_HTTP_MAX_SESSIONS);
		return NULL;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		q_error_set(err, Q_EIO, "no random bytes for a session id");
		return NULL;
	}
	if (!(s = q_calloc(1, sizeof(*s)))) {
		q_error_set(err, Q_ENOMEM, "out of memory");
		return NULL;
	}
	for (i = 0; i < sizeof(raw); i++)
		snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
	s->serve = srv;
	s->env.home = serve_home(srv);
	s->env.allow_private = srv->allow_private; /* the operator's --allow-private */
	s->env.queue = 1;
	s->last_used = time(NULL);
	s->heartbeat = event_new(serve_event_base(srv), -1, EV_PERSIST, heartbeat, s);
	if (!s->heartbeat || event_add(s->heartbeat, &tv) ||
	    mcp_server_new(&s->srv, &s->env, session_send, s, err)) {
		if (s->heartbeat)
			event_free(s->heartbeat);
		q_free(s);
		return NULL;
	}
	s->next = sessions;
	sessions = s;
	n_sessions++;
	return s;
}

/* An HTTP error with a JSON-RPC error body (id null). */
static void reply_rpc_error(struct serve_req *r, int status, int code, const char *msg)
{
	json_t *j = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error", "code", code,
			      "message", msg);

	serve_reply_json(r, status, j);
}

/* Whether the Accept header takes type (no header: anything). */
static int accepts(struct serve_req *r, const char *type)
{
	const char *a = serve_header(r, "Accept");

	return !a || strstr(a, type) || strstr(a, "*/*");
}

static void mcp_post(struct serve_req *r)
{
	const char *sid = serve_header(r, "Mcp-Session-Id");
	const char *version = serve_header(r, "MCP-Protocol-Version");
	const unsigned char *body;
	struct session *s;
	struct stream *st;
	struct q_error err = {0};
	json_t *m, *id;
	const char *method;
	size_t len;
	char why[Q_ERROR_MSG_MAX + 64];

	body = serve_body(r, &len);
	m = json_loadb((const char *)body, len, 0, NULL);
	if (!json_is_object(m)) {
		json_decref(m);
		reply_rpc_error(r, 400, m ? MCP_INVALID_REQUEST : MCP_PARSE_ERROR,
				m ? "one JSON-RPC message per request (batches are not part of MCP)"
				  : "the body is not JSON");
		return;
	}
	method = json_string_value(json_object_get(m, "method"));
	id = json_object_get(m, "id");
	if (version && strcmp(mcp_negotiate_version(version), version)) {
		snprintf(why, sizeof(why),
			 "MCP-Protocol-Version %.40s is not one quarry speaks (newest: "
			 "%s)",
			 version, MCP_PROTOCOL_LATEST);
		reply_rpc_error(r, 400, MCP_INVALID_REQUEST, why);
		goto out;
	}
	if (!sid && method && !strcmp(method, "initialize") && id) {
		if (!(s = session_new(serve_req_server(r), &err))) {
			reply_rpc_error(r, err.code == Q_ETOOBIG ? 503 : 500, MCP_INTERNAL_ERROR, err.msg);
			goto out;
		}
	} else if (!sid) {
		reply_rpc_error(r, 400, MCP_INVALID_REQUEST,
				"no Mcp-Session-Id header: start with "
				"initialize and send the session id it answers with");
		goto out;
	} else if (!(s = session_find(sid))) {
		reply_rpc_error(r, 404, MCP_INVALID_REQUEST,
				"no such session (it ended or the server "
				"restarted): initialize again");
		goto out;
	}
	s->last_used = time(NULL);
	if (!method || !id) { /* a notification or a response: taken, no answer */
		mcp_server_handle(s->srv, (const char *)body, len);
		serve_reply(r, 202, "application/json", "", 0);
		goto out;
	}
	if (!(st = q_calloc(1, sizeof(*st)))) {
		reply_rpc_error(r, 500, MCP_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	st->sess = s;
	st->req = r;
	st->id = json_deep_copy(id);
	st->opens_session = !sid;
	st->sse = !strcmp(method, "tools/call") && accepts(r, "text/event-stream") &&
		  serve_watcher_take(r) == 0;
	st->next = s->streams;
	s->streams = st;
	serve_on_gone(r, stream_gone, st);
	if (st->sse) {
		serve_add_header(r, "Mcp-Session-Id", s->id);
		serve_add_header(r, "Cache-Control", "no-cache");
		serve_sse_start(r);
	}
	mcp_server_handle(s->srv, (const char *)body, len);
out:
	json_decref(m);
}

static void mcp_get(struct serve_req *r)
{
	serve_add_header(r, "Allow", "POST, DELETE");
	serve_reply_error(r, 405, "method_not_allowed", NULL,
			  "this server sends nothing unasked, so it has no GET stream; POST requests");
}

static void mcp_delete(struct serve_req *r)
{
	const char *sid = serve_header(r, "Mcp-Session-Id");
	struct session *s = sid ? session_find(sid) : NULL;

	if (!s) {
		serve_reply_error(r, 404, "not_found", NULL, "no such MCP session");
		return;
	}
	session_close(s);
	serve_reply(r, 204, "application/json", "", 0);
}

const struct serve_route serve_mcp_routes[] = {{"POST", "/mcp", mcp_post, SERVE_STARTS_WORK, "mcp_post"},
					       {"GET", "/mcp", mcp_get, 0, "mcp_get"},
					       {"DELETE", "/mcp", mcp_delete, 0, "mcp_delete"},
					       {NULL, NULL, NULL, 0, NULL}};
