/*
 * mcp.c - the MCP protocol: JSON-RPC 2.0 messages in, responses and
 * notifications out, tool calls on their own threads.
 *
 * A message goes through three gates before anything acts on it: its
 * size (MCP_MAX_MESSAGE_BYTES), its nesting (a scan that counts brackets
 * outside strings, so jansson never recurses deeper than MCP_MAX_DEPTH),
 * and its shape (an object with "jsonrpc": "2.0", a string method, an id
 * that is a string or an integer). Then requests are answered from the
 * method table; notifications are never answered.
 *
 * tools/call runs detached on a thread of its own: research takes
 * minutes, and the session must stay free for ping, other calls and
 * notifications/cancelled meanwhile. The running calls sit in a fixed
 * table of MCP_MAX_PENDING slots under the server's lock; a cancel marks
 * the call and stops its research (research_cancel) or fetch (the
 * transfer's cancel flag), and the call's thread then sends nothing.
 * mcp_server_free cancels what runs and waits for the threads to leave.
 * Rejected: a thread pool (calls are few and long, and a pool would make
 * a long research wait behind others); answering cancelled calls with an
 * error (the specification says not to answer).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../core/alloc.h"
#include "../core/version.h"
#include "mcp.h"
#include "mcp_int.h"

struct mcp_server {
	struct mcp_env env;
	mcp_send_fn send;
	void *ctx;
	pthread_mutex_t send_mu;                 /* one message out at a time */
	pthread_mutex_t mu;                      /* guards calls and n_threads */
	pthread_cond_t idle;                     /* n_threads fell */
	struct mcp_call *calls[MCP_MAX_PENDING]; /* running tool calls */
	int n_threads;                           /* call threads not yet gone */
	char version[16];                        /* negotiated, "" before initialize */
};

static const char *const supported_versions[] = {MCP_PROTOCOL_LATEST, "2025-06-18", "2025-03-26",
						 "2024-11-05", NULL};

const char *mcp_negotiate_version(const char *requested)
{
	int i;

	for (i = 0; requested && supported_versions[i]; i++)
		if (!strcmp(requested, supported_versions[i]))
			return supported_versions[i];
	return MCP_PROTOCOL_LATEST;
}

/* Send a message (taken: its reference is dropped here) about the
 * request with id about (NULL: none). */
static void send_json(struct mcp_server *s, json_t *msg, const json_t *about)
{
	char *text;

	if (!msg)
		return;
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text)
		return;
	pthread_mutex_lock(&s->send_mu);
	s->send(s->ctx, text, strlen(text), about);
	pthread_mutex_unlock(&s->send_mu);
	free(text); /* jansson's allocator */
}

/* Answer a request (result taken); 0, so handlers can return it. */
static int send_result(struct mcp_server *s, const json_t *id, json_t *result)
{
	if (!result)
		result = json_object();
	send_json(s, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result), id);
	return 0;
}

/* Answer with a JSON-RPC error (id NULL: null); 0. */
static int send_error(struct mcp_server *s, const json_t *id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int send_error(struct mcp_server *s, const json_t *id, int code, const char *fmt, ...)
{
	char msg[Q_ERROR_MSG_MAX];
	va_list ap;
	json_t *null_id = NULL;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!id)
		id = null_id = json_null();
	send_json(s,
		  json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error", "code", code,
			    "message", msg),
		  id);
	json_decref(null_id);
	return 0;
}

/* Nesting deeper than max anywhere in msg (brackets outside strings). */
static int too_deep(const char *msg, size_t len, int max)
{
	int depth = 0, in_string = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = msg[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return 1;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 0;
}

/* A request id MCP allows: a string (not too long) or an integer. */
static int valid_id(const json_t *id)
{
	return json_is_integer(id) || (json_is_string(id) && json_string_length(id) <= MCP_MAX_ID_BYTES);
}

void mcp_call_progress(struct mcp_call *c, const char *message)
{
	json_t *params;

	if (!c->progress_token)
		return;
	/* Under the call's lock, so events from the run's threads go out in
	 * the order of their numbers (progress must grow). */
	pthread_mutex_lock(&c->mu);
	if (!c->cancelled) {
		c->progress += 1;
		params = json_pack("{s:O, s:f}", "progressToken", c->progress_token, "progress", c->progress);
		if (params && message)
			json_object_set_new(params, "message", json_string(message));
		send_json(c->srv,
			  json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", "notifications/progress",
				    "params", params),
			  c->id);
	}
	pthread_mutex_unlock(&c->mu);
}

/* The string field key of ev, "" when it has none. */
static const char *ev_str(const json_t *ev, const char *key)
{
	const char *v = json_string_value(json_object_get(ev, key));

	return v ? v : "";
}

int mcp_event_summary(const json_t *ev, char *msg, size_t size)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *s;

	if (!type || !size)
		return 0;
	msg[0] = '\0';
	if (!strcmp(type, "run_started"))
		snprintf(msg, size, "started run %lld",
			 (long long)json_integer_value(json_object_get(ev, "run")));
	else if (!strcmp(type, "plan"))
		snprintf(msg, size, "planned %zu sub-questions",
			 json_array_size(json_object_get(ev, "sub_questions")));
	else if (!strcmp(type, "queries") || !strcmp(type, "reflect"))
		snprintf(msg, size, "%s %zu queries",
			 !strcmp(type, "queries") ? "searching" : "still unknown; searching",
			 json_array_size(json_object_get(ev, "queries")));
	else if (!strcmp(type, "search"))
		snprintf(msg, size, "searched %s: %s (%lld results)", ev_str(ev, "provider"),
			 ev_str(ev, "query"), (long long)json_integer_value(json_object_get(ev, "results")));
	else if (!strcmp(type, "source_read"))
		snprintf(msg, size, "read [%lld] %s",
			 (long long)json_integer_value(json_object_get(ev, "source")),
			 *(s = ev_str(ev, "title")) ? s : ev_str(ev, "url"));
	else if (!strcmp(type, "source_failed"))
		snprintf(msg, size, "could not read %s: %s", ev_str(ev, "url"), ev_str(ev, "reason"));
	else if (!strcmp(type, "noting"))
		snprintf(msg, size, "taking notes on %lld sources",
			 (long long)json_integer_value(json_object_get(ev, "sources")));
	else if (!strcmp(type, "writing"))
		snprintf(msg, size, "writing the report from %lld findings",
			 (long long)json_integer_value(json_object_get(ev, "findings")));
	else if (!strcmp(type, "budget_spent"))
		snprintf(msg, size, "stopping: %s", ev_str(ev, "reason"));
	else if (!strcmp(type, "report"))
		snprintf(msg, size, "report written");
	return msg[0] != '\0';
}

int mcp_call_research(struct mcp_call *c, const struct research_opts *o, struct research_env *env,
		      struct research_result *res, struct q_error *err)
{
	int rc;

	pthread_mutex_lock(&c->mu);
	if (c->cancelled) {
		pthread_mutex_unlock(&c->mu);
		memset(res, 0, sizeof(*res));
		return q_error_set(err, Q_ETIMEOUT, "the call was cancelled");
	}
	c->research = env;
	pthread_mutex_unlock(&c->mu);
	rc = research_run(o, env, 0, res, err);
	pthread_mutex_lock(&c->mu);
	c->research = NULL;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int mcp_call_cancelled(struct mcp_call *c)
{
	int v;

	pthread_mutex_lock(&c->mu);
	v = c->cancelled;
	pthread_mutex_unlock(&c->mu);
	return v;
}

static void call_cancel(struct mcp_call *c)
{
	pthread_mutex_lock(&c->mu);
	__atomic_store_n(&c->cancelled, 1, __ATOMIC_RELEASE); /* the fetch loop reads it unlocked */
	if (c->research)
		research_cancel(c->research);
	pthread_mutex_unlock(&c->mu);
}

static void call_free(struct mcp_call *c)
{
	if (!c)
		return;
	json_decref(c->id);
	json_decref(c->progress_token);
	json_decref(c->args);
	q_free(c->name);
	pthread_mutex_destroy(&c->mu);
	q_free(c);
}

static void *call_thread(void *arg)
{
	struct mcp_call *c = arg;
	struct mcp_server *s = c->srv;
	json_t *result = mcp_tool_run(c, &s->env);
	int i, cancelled;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < MCP_MAX_PENDING; i++)
		if (s->calls[i] == c)
			s->calls[i] = NULL;
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_lock(&c->mu);
	cancelled = c->cancelled;
	pthread_mutex_unlock(&c->mu);
	if (cancelled)
		json_decref(result); /* a cancelled request is not answered */
	else if (result)
		send_result(s, c->id, result);
	else
		send_error(s, c->id, MCP_INTERNAL_ERROR, "out of memory");
	call_free(c);
	pthread_mutex_lock(&s->mu);
	s->n_threads--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* The running call with this id, or NULL (caller holds s->mu). */
static struct mcp_call *find_call(struct mcp_server *s, const json_t *id)
{
	int i;

	for (i = 0; i < MCP_MAX_PENDING; i++)
		if (s->calls[i] && json_equal(s->calls[i]->id, id))
			return s->calls[i];
	return NULL;
}

static int tools_call(struct mcp_server *s, const json_t *id, const json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "name"));
	json_t *args = json_object_get(params, "arguments");
	json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
	struct q_error why = {0};
	struct mcp_call *c = NULL;
	pthread_attr_t attr;
	pthread_t th;
	int slot = -1, i;

	if (!name)
		return send_error(s, id, MCP_INVALID_PARAMS, "tools/call needs params.name, a string");
	if (args && !json_is_object(args))
		return send_error(s, id, MCP_INVALID_PARAMS, "params.arguments must be an object");
	if (token && !valid_id(token))
		return send_error(s, id, MCP_INVALID_PARAMS,
				  "_meta.progressToken must be a string or an integer");
	if (!mcp_tool_exists(name))
		return send_error(s, id, MCP_INVALID_PARAMS, "unknown tool '%.64s' (see tools/list)", name);
	/* Bad arguments are a tool error the calling model can read and fix
	 * (MCP 2025-11-25), not a protocol error. */
	if (mcp_tool_check(name, args, &why))
		return send_result(s, id, mcp_tool_error("%s", why.msg));
	if (s->env.validate_only)
		return send_result(s, id, mcp_tool_error("not run: validate_only"));
	c = q_calloc(1, sizeof(*c));
	if (!c)
		return send_error(s, id, MCP_INTERNAL_ERROR, "out of memory");
	pthread_mutex_init(&c->mu, NULL);
	c->srv = s;
	c->id = json_deep_copy(id);
	c->progress_token = token ? json_deep_copy(token) : NULL;
	c->name = q_strdup(name);
	c->args = args ? json_deep_copy(args) : json_object();
	if (!c->id || (token && !c->progress_token) || !c->name || !c->args) {
		call_free(c);
		return send_error(s, id, MCP_INTERNAL_ERROR, "out of memory");
	}
	pthread_mutex_lock(&s->mu);
	if (find_call(s, id)) {
		pthread_mutex_unlock(&s->mu);
		call_free(c);
		return send_error(s, id, MCP_INVALID_REQUEST, "a request with this id is still running");
	}
	for (i = 0; i < MCP_MAX_PENDING && slot < 0; i++)
		if (!s->calls[i])
			slot = i;
	if (slot < 0) {
		pthread_mutex_unlock(&s->mu);
		call_free(c);
		return send_error(s, id, MCP_INTERNAL_ERROR,
				  "%d tool calls are running already, the "
				  "most one session may run at once; wait for one to end",
				  MCP_MAX_PENDING);
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	s->calls[slot] = c;
	s->n_threads++;
	if (pthread_create(&th, &attr, call_thread, c)) {
		s->calls[slot] = NULL;
		s->n_threads--;
		pthread_mutex_unlock(&s->mu);
		pthread_attr_destroy(&attr);
		call_free(c);
		return send_error(s, id, MCP_INTERNAL_ERROR, "could not start a thread for the call");
	}
	pthread_mutex_unlock(&s->mu);
	pthread_attr_destroy(&attr);
	return 0;
}

static json_t *initialize_result(struct mcp_server *s, const char *requested)
{
	snprintf(s->version, sizeof(s->version), "%s", mcp_negotiate_version(requested));
	return json_pack("{s:s, s:{s:{s:b}, s:{s:b, s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion",
			 s->version, "capabilities", "tools", "listChanged", 0, "resources", "listChanged", 0,
			 "subscribe", 0, "serverInfo", "name", "quarry", "title", "quarry deep research",
			 "version", QUARRY_VERSION, "instructions",
			 "quarry researches questions on the web and the user's own documents and "
			 "answers with reports whose every citation is a checked quote. Use 'ask' for "
			 "quick questions, 'research' for thorough ones (minutes), 'search_corpus' "
			 "for the user's indexed files, 'fetch_url' to read one page.");
}

static int handle_request(struct mcp_server *s, const char *method, const json_t *id, const json_t *params)
{
	struct q_error why = {0};
	json_t *r;
	int code = 0;

	if (!strcmp(method, "initialize")) {
		json_t *v = json_object_get(params, "protocolVersion");
		if (!json_is_string(v))
			return send_error(s, id, MCP_INVALID_PARAMS,
					  "initialize needs params.protocolVersion, a string");
		return send_result(s, id, initialize_result(s, json_string_value(v)));
	}
	if (!strcmp(method, "ping"))
		return send_result(s, id, json_object());
	if (!strcmp(method, "tools/list"))
		return send_result(s, id, json_pack("{s:o}", "tools", mcp_tools_list()));
	if (!strcmp(method, "tools/call"))
		return tools_call(s, id, params);
	if (!strcmp(method, "resources/templates/list"))
		return send_result(s, id, json_pack("{s:o}", "resourceTemplates", mcp_resource_templates()));
	if (!strcmp(method, "resources/list")) {
		if (!(r = mcp_resources_list(&s->env, &why)))
			return send_error(s, id, MCP_INTERNAL_ERROR, "%s", why.msg);
		return send_result(s, id, r);
	}
	if (!strcmp(method, "resources/read")) {
		const char *uri = json_string_value(json_object_get(params, "uri"));
		if (!uri)
			return send_error(s, id, MCP_INVALID_PARAMS, "resources/read needs params.uri");
		if (!(r = mcp_resource_read(&s->env, uri, &code, &why)))
			return send_error(s, id, code, "%s", why.msg);
		return send_result(s, id, r);
	}
	return send_error(s, id, MCP_METHOD_NOT_FOUND, "method '%.64s' not found", method);
}

static void handle_notification(struct mcp_server *s, const char *method, const json_t *params)
{
	struct mcp_call *c;

	if (strcmp(method, "notifications/cancelled"))
		return; /* initialized, roots changes and others need nothing */
	pthread_mutex_lock(&s->mu);
	c = find_call(s, json_object_get(params, "requestId"));
	if (c)
		call_cancel(c);
	pthread_mutex_unlock(&s->mu);
}

static int handle_message(struct mcp_server *s, const char *msg, size_t len)
{
	json_error_t jerr;
	json_t *m = NULL, *id, *params;
	const char *method;

	if (len > (size_t)MCP_MAX_MESSAGE_BYTES)
		return send_error(s, NULL, MCP_INVALID_REQUEST, "message of %zu bytes; the most is %ld", len,
				  MCP_MAX_MESSAGE_BYTES);
	if (too_deep(msg, len, MCP_MAX_DEPTH))
		return send_error(s, NULL, MCP_INVALID_REQUEST, "message nested more than %d levels deep",
				  MCP_MAX_DEPTH);
	m = json_loadb(msg, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!m)
		return send_error(s, NULL, MCP_PARSE_ERROR, "parse error: %s at byte %d", jerr.text,
				  jerr.position);
	if (json_is_array(m)) {
		send_error(s, NULL, MCP_INVALID_REQUEST,
			   "batches are not part of MCP; send one "
			   "message at a time");
		goto out;
	}
	id = json_object_get(m, "id");
	method = json_string_value(json_object_get(m, "method"));
	params = json_object_get(m, "params");
	if (!json_is_object(m) || !json_is_string(json_object_get(m, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(m, "jsonrpc")), "2.0")) {
		send_error(s, valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
			   "not a JSON-RPC 2.0 message (needs \"jsonrpc\": \"2.0\")");
		goto out;
	}
	if (!method) {
		if (!json_object_get(m, "result") && !json_object_get(m, "error"))
			send_error(s, valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
				   "a request needs a method, a string");
		goto out; /* a response: the server sends no requests, so it answers none */
	}
	if (id && !valid_id(id)) {
		send_error(s, NULL, MCP_INVALID_REQUEST, "the id must be a string or an integer");
		goto out;
	}
	if (params && !json_is_object(params)) {
		if (id)
			send_error(s, id, MCP_INVALID_PARAMS, "params must be an object");
		goto out;
	}
	if (id)
		handle_request(s, method, id, params);
	else
		handle_notification(s, method, params);
out:
	json_decref(m);
	return 0;
}

void mcp_server_handle(struct mcp_server *s, const char *msg, size_t len) { handle_message(s, msg, len); }

const char *mcp_server_version(const struct mcp_server *s) { return s->version; }

int mcp_server_new(struct mcp_server **out, const struct mcp_env *env, mcp_send_fn send, void *ctx,
		   struct q_error *err)
{
	struct mcp_server *s = q_calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return q_error_set(err, Q_ENOMEM, "out of memory");
	s->env = *env;
	s->send = send;
	s->ctx = ctx;
	pthread_mutex_init(&s->send_mu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	*out = s;
	return 0;
}

void mcp_server_wait(struct mcp_server *s, volatile int *stop)
{
	struct timespec until;
	int i, cancelled = 0;

	pthread_mutex_lock(&s->mu);
	while (s->n_threads > 0) {
		if (stop && *stop && !cancelled) {
			for (i = 0; i < MCP_MAX_PENDING; i++)
				if (s->calls[i])
					call_cancel(s->calls[i]);
			cancelled = 1;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100L * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->idle, &s->mu, &until);
	}
	pthread_mutex_unlock(&s->mu);
}

void mcp_server_free(struct mcp_server *s)
{
	int i;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	for (i = 0; i < MCP_MAX_PENDING; i++)
		if (s->calls[i])
			call_cancel(s->calls[i]);
	while (s->n_threads > 0)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->send_mu);
	q_free(s);
}
