/*
 * server.c - the HTTP front process: one libevent loop, its connections,
 * and the dispatch of each request through the checks to a route.
 *
 * Why evhttp and what it lacks (docs/SERVE.md): it caps header and body
 * sizes and has an idle timeout per connection, but in 2.1 no cap on
 * connections and no deadline for a request's headers (its timeout is
 * reset by every byte, so a client sending one header byte every few
 * seconds holds a connection for hours). Both are added here: every
 * connection gets a bufferevent of ours (we keep a reference, and see
 * that evhttp let it go when its callbacks are cleared: right after the
 * connection's close callback, or within a second), a deadline armed at accept and again after each answer, disarmed while a
 * request is being answered. At the deadline the socket is shut down and
 * evhttp closes the connection as if the client had. Past
 * max_connections a new connection is shut down at once.
 *
 * A request goes: path decoding -> Host check -> route match (404, 405)
 * -> token (401) -> Origin (403) -> rate (429) -> body cap (413) ->
 * handler. Every answer is counted per route with its latency.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/qbuf.h"
#include "../index/store.h"
#include "../research/runstore.h"
#include "serve_int.h"

#define SERVE_STOP_FLUSH_MS 300 /* on stop: time to write the streams' last chunks */

/* One accepted connection. */
struct serve_conn {
	struct serve *srv;
	struct bufferevent *bev; /* ours (the filter evhttp uses); freed by evhttp */
	struct event *deadline;
	struct evhttp_connection *evcon; /* known from its first request */
	struct serve_req *cur;           /* the request being answered, if any */
	int refused;                     /* over max_connections */
	struct serve_conn *prev, *next;
};

struct serve_req {
	struct serve *srv;
	struct serve_conn *conn;
	struct evhttp_request *req;
	const struct serve_route *route;
	size_t route_index;
	char *path; /* decoded */
	char *param_names[SERVE_MAX_PARAMS], *param_values[SERVE_MAX_PARAMS];
	int n_params;
	struct evkeyvalq query;
	int have_query;
	unsigned char *body; /* copied, NUL-terminated */
	size_t body_len;
	const char *token;
	double start_ms;
	int status;
	int started; /* chunked answer begun */
	int answered;
	int watcher; /* holds a watcher slot */
	serve_gone_fn gone;
	void *gone_arg;
};

void serve_limits_default(struct serve_limits *l)
{
	l->body_max = SERVE_BODY_MAX;
	l->upload_max = SERVE_UPLOAD_MAX;
	l->headers_max = SERVE_HEADERS_MAX;
	l->header_timeout_ms = SERVE_HEADER_TIMEOUT_MS;
	l->idle_timeout_ms = SERVE_IDLE_TIMEOUT_MS;
	l->max_connections = SERVE_MAX_CONNECTIONS;
	l->max_watchers = SERVE_MAX_WATCHERS;
	l->rate_per_min = SERVE_RATE_PER_MIN;
	l->queue_max = SERVE_QUEUE_MAX;
	l->sse_buffer_max = SERVE_SSE_BUFFER_MAX;
}

static struct timeval ms_tv(long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	return tv;
}

/* --- connections ------------------------------------------------------ */

static void conn_arm(struct serve_conn *c, long ms)
{
	struct timeval tv = ms_tv(ms);
	evtimer_add(c->deadline, &tv);
}

/* The deadline: headers too slow, idle too long, or over the cap. */
static void on_deadline(evutil_socket_t fd_unused, short what, void *arg)
{
	struct serve_conn *c = arg;
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	if (c->cur) /* answering: not idle */
		return;
	if (!c->refused)
		c->srv->conns_timed_out++;
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

/* Forget c: evhttp has let its connection go; dropping our reference
 * closes the socket. */
static void conn_forget(struct serve_conn *c)
{
	struct serve *s = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	event_free(c->deadline);
	bufferevent_decref(c->bev);
	q_free(c);
}

/* evhttp frees a connection's bufferevent, which clears its callbacks;
 * we hold a reference, so the pointer stays valid until we see that. */
static void sweep_conns(evutil_socket_t fd_unused, short what, void *arg)
{
	struct serve *s = arg;
	struct serve_conn *c, *next;
	bufferevent_data_cb rcb, wcb;
	bufferevent_event_cb ecb;

	for (c = s->conns; c; c = next) {
		next = c->next;
		bufferevent_getcb(c->bev, &rcb, &wcb, &ecb, NULL);
		if (!rcb && !wcb && !ecb)
			conn_forget(c);
	}
}

static struct bufferevent *on_new_connection(struct event_base *base, void *arg)
{
	struct serve *s = arg;
	struct serve_conn *c = q_calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->srv = s;
	c->deadline = evtimer_new(base, on_deadline, c);
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->deadline || !c->bev)
		goto fail;
	bufferevent_incref(c->bev);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	if (s->n_conns > s->limits.max_connections) {
		c->refused = 1;
		s->conns_refused++;
		conn_arm(c, 0); /* after evhttp has given it its socket */
	} else {
		conn_arm(c, s->limits.header_timeout_ms);
	}
	return c->bev;
fail:
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->deadline)
		event_free(c->deadline);
	q_free(c);
	return NULL;
}

static struct serve_conn *conn_of(struct serve *s, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	struct serve_conn *c;

	for (c = s->conns; c; c = c->next)
		if (c->bev == bev)
			return c;
	return NULL;
}

/* --- requests --------------------------------------------------------- */

static void req_free(struct serve_req *r)
{
	int i;

	if (!r)
		return;
	if (r->watcher && r->srv->n_watchers > 0)
		r->srv->n_watchers--;
	for (i = 0; i < r->n_params; i++) {
		q_free(r->param_names[i]);
		q_free(r->param_values[i]);
	}
	if (r->have_query)
		evhttp_clear_headers(&r->query);
	if (r->conn && r->conn->cur == r)
		r->conn->cur = NULL;
	q_free(r->path);
	q_free(r->body);
	q_free(r);
}

static const double latency_bounds_s[SERVE_LATENCY_BUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
								   0.1,   0.25,   0.5,   1,    2.5};

static void count_answer(struct serve_req *r)
{
	struct serve *s = r->srv;
	struct serve_route_stats *st = &s->stats[r->route ? r->route_index : s->n_routes];
	double secs = (q_now_ms() - r->start_ms) / 1000.0;
	int i, cls = r->status / 100;

	st->requests++;
	if (cls >= 1 && cls <= 5)
		st->by_class[cls]++;
	for (i = 0; i < SERVE_LATENCY_BUCKETS - 1 && secs > latency_bounds_s[i]; i++)
		;
	st->latency_le[i]++;
	st->latency_sum_s += secs;
}

/* evhttp has sent the whole answer. */
static void on_complete(struct evhttp_request *req, void *arg)
{
	struct serve_req *r = arg;
	struct serve_conn *c = r->conn;

	req_free(r);
	if (c)
		conn_arm(c, c->srv->limits.idle_timeout_ms);
}

/* The connection goes away (client closed, timeout, server stopping). */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct serve *s = arg;
	struct serve_conn *c;
	struct serve_req *r;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);

	event_active(s->sweep_now, EV_READ, 0); /* close the socket once evhttp let it go */
	for (c = s->conns; c && c->bev != bev; c = c->next)
		;
	if (!c || !c->cur)
		return;
	r = c->cur;
	evhttp_request_set_on_complete_cb(r->req, NULL, NULL);
	if (r->gone)
		r->gone(r, r->gone_arg);
	req_free(r);
}

static void answer_begin(struct serve_req *r, int status)
{
	r->status = status;
	r->answered = 1;
	count_answer(r);
}

/* Headers every answer carries. */
static void common_headers(struct serve_req *r)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cache-Control", "no-store");
}

void serve_add_header(struct serve_req *r, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

/* The reason phrase of status: libevent 2.1 says "Client Error" for codes
 * its table lacks (429, 421, ...); name the ones we send. */
static const char *status_reason(int status)
{
	static const struct {
		int code;
		const char *reason;
	} t[] = {
		{200, "OK"},
		{201, "Created"},
		{202, "Accepted"},
		{204, "No Content"},
		{303, "See Other"},
		{304, "Not Modified"},
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{406, "Not Acceptable"},
		{409, "Conflict"},
		{410, "Gone"},
		{411, "Length Required"},
		{413, "Content Too Large"},
		{415, "Unsupported Media Type"},
		{421, "Misdirected Request"},
		{422, "Unprocessable Content"},
		{429, "Too Many Requests"},
		{500, "Internal Server Error"},
		{501, "Not Implemented"},
		{502, "Bad Gateway"},
		{503, "Service Unavailable"},
		{504, "Gateway Timeout"},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == status)
			return t[i].reason;
	return NULL; /* libevent's own */
}

void serve_reply(struct serve_req *r, int status, const char *content_type, const void *body, size_t len)
{
	struct evbuffer *b;

	if (r->answered)
		return;
	answer_begin(r, status);
	common_headers(r);
	if (content_type)
		serve_add_header(r, "Content-Type", content_type);
	b = evbuffer_new();
	if (b && len)
		evbuffer_add(b, body, len);
	evhttp_send_reply(r->req, status, status_reason(status), b);
	if (b)
		evbuffer_free(b);
}

void serve_reply_json(struct serve_req *r, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!text) {
		serve_reply_error(r, 500, "internal", NULL,
				  "the server ran out of memory writing the answer; try again");
		return;
	}
	serve_reply(r, status, "application/json", text, strlen(text));
	free(text); /* jansson's allocator */
}

void serve_reply_error(struct serve_req *r, int status, const char *code, const char *field, const char *fmt,
		       ...)
{
	char msg[1024];
	va_list ap;
	json_t *j;
	char *text;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j = json_pack("{s:{s:s,s:s,s:s?}}", "error", "code", code, "message", msg, "field", field);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text) {
		serve_reply(r, status, "application/json", text, strlen(text));
		free(text);
	} else {
		serve_reply(r, status, "text/plain; charset=utf-8", msg, strlen(msg));
	}
}

void serve_reply_qerror(struct serve_req *r, const struct q_error *err)
{
	const char *msg = err->msg[0] ? err->msg : q_strerror(err->code);

	switch (err->code) {
	case Q_ENOTFOUND:
		serve_reply_error(r, 404, "not_found", NULL, "%s", msg);
		break;
	case Q_ECONFLICT:
		serve_reply_error(r, 409, "conflict", NULL, "%s", msg);
		break;
	case Q_EINVAL:
	case Q_EPARSE:
		serve_reply_error(r, 400, "bad_request", NULL, "%s", msg);
		break;
	case Q_ETOOBIG:
		serve_reply_error(r, 413, "too_large", NULL, "%s", msg);
		break;
	case Q_EUNSUPPORTED:
		serve_reply_error(r, 415, "unsupported", NULL, "%s", msg);
		break;
	default:
		serve_reply_error(r, 500, "internal", NULL, "%s", msg);
	}
}

void serve_on_gone(struct serve_req *r, serve_gone_fn fn, void *arg)
{
	r->gone = fn;
	r->gone_arg = arg;
}

void serve_start(struct serve_req *r, const char *content_type)
{
	if (r->answered)
		return;
	answer_begin(r, 200);
	r->started = 1;
	common_headers(r);
	serve_add_header(r, "Content-Type", content_type);
	/* The stream is not idle while it waits for news: evhttp's timeout
	 * would cut it. A stalled reader is caught by serve_pending. */
	if (r->conn && r->conn->evcon)
		evhttp_connection_set_timeout(r->conn->evcon, 24 * 3600);
	evhttp_send_reply_start(r->req, 200, "OK");
}

void serve_write(struct serve_req *r, const void *p, size_t n)
{
	struct evbuffer *b = evbuffer_new();

	if (!b)
		return;
	evbuffer_add(b, p, n);
	evhttp_send_reply_chunk(r->req, b);
	evbuffer_free(b);
}

size_t serve_pending(struct serve_req *r)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	struct bufferevent *under = bev ? bufferevent_get_underlying(bev) : NULL;
	size_t n = 0;

	if (bev)
		n += evbuffer_get_length(bufferevent_get_output(bev));
	if (under)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

void serve_end(struct serve_req *r) { evhttp_send_reply_end(r->req); }

void serve_abort(struct serve_req *r)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);

	r->gone = NULL;
	if (evcon)
		evhttp_connection_free(evcon); /* on_conn_close frees r */
}

struct serve *serve_req_server(struct serve_req *r) { return r->srv; }
const char *serve_path(struct serve_req *r) { return r->path; }
const char *serve_req_token(struct serve_req *r) { return r->token ? r->token : ""; }

const char *serve_method(struct serve_req *r)
{
	switch (evhttp_request_get_command(r->req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "OTHER";
	}
}

const char *serve_param(struct serve_req *r, const char *name)
{
	int i;

	for (i = 0; i < r->n_params; i++)
		if (!strcmp(r->param_names[i], name))
			return r->param_values[i];
	return NULL;
}

const char *serve_query(struct serve_req *r, const char *name)
{
	return r->have_query ? evhttp_find_header(&r->query, name) : NULL;
}

const char *serve_header(struct serve_req *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

const unsigned char *serve_body(struct serve_req *r, size_t *len)
{
	*len = r->body_len;
	return r->body ? r->body : (const unsigned char *)"";
}

json_t *serve_body_json(struct serve_req *r)
{
	const char *ct = serve_header(r, "Content-Type");
	json_error_t je;
	json_t *j;

	if (ct && strncmp(ct, "application/json", 16)) {
		serve_reply_error(r, 415, "unsupported_media_type", NULL,
				  "send the body as JSON with Content-Type: application/json");
		return NULL;
	}
	if (!r->body_len) {
		serve_reply_error(r, 400, "bad_request", NULL, "the request needs a JSON object as its body");
		return NULL;
	}
	j = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		serve_reply_error(r, 400, "bad_json", NULL,
				  "the body is not valid JSON (line %d, column %d: %s); send one JSON object",
				  je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		serve_reply_error(r, 400, "bad_request", NULL,
				  "the body must be a JSON object ({...}), not another JSON value");
		return NULL;
	}
	return j;
}

int serve_watcher_take(struct serve_req *r)
{
	struct serve *s = r->srv;

	if (r->watcher)
		return 0;
	if (s->n_watchers >= s->limits.max_watchers)
		return Q_ETOOBIG;
	s->n_watchers++;
	r->watcher = 1;
	return 0;
}

/* --- routing ---------------------------------------------------------- */

/* Whether path matches pattern; on a match r's params are set. */
static int route_match(const char *pattern, const char *path, struct serve_req *r)
{
	const char *p = pattern, *q = path;
	int n = 0;

	while (*p && *q) {
		if (p[0] == '*' && !p[1])
			goto match;
		if (*p == '{') {
			const char *pe = strchr(p, '}'), *qe = strchr(q, '/');
			if (!pe)
				return 0;
			if (!qe)
				qe = q + strlen(q);
			if (qe == q || n >= SERVE_MAX_PARAMS)
				return 0;
			if (r) {
				r->param_names[n] = q_strndup(p + 1, (size_t)(pe - p - 1));
				r->param_values[n] = q_strndup(q, (size_t)(qe - q));
			}
			n++;
			p = pe + 1;
			q = qe;
			continue;
		}
		if (*p != *q)
			goto nomatch;
		p++;
		q++;
	}
	if (*q || (*p && strcmp(p, "*")))
		goto nomatch;
match:
	if (r)
		r->n_params = n;
	return 1;
nomatch:
	if (r) {
		while (n-- > 0) {
			q_free(r->param_names[n]);
			q_free(r->param_values[n]);
			r->param_names[n] = r->param_values[n] = NULL;
		}
	}
	return 0;
}

static int method_is(struct serve_req *r, const char *m)
{
	const char *have = serve_method(r);

	return !strcmp(have, m) || (!strcmp(m, "GET") && !strcmp(have, "HEAD"));
}

/* The route for r (set in r->route), or answer 404/405. */
static int find_route(struct serve *s, struct serve_req *r)
{
	size_t i;
	int path_known = 0;

	for (i = 0; i < s->n_routes; i++) {
		if (!route_match(s->routes[i]->pattern, r->path, NULL))
			continue;
		path_known = 1;
		if (!method_is(r, s->routes[i]->method))
			continue;
		route_match(s->routes[i]->pattern, r->path, r);
		r->route = s->routes[i];
		r->route_index = i;
		return 0;
	}
	if (path_known)
		serve_reply_error(r, 405, "method_not_allowed", NULL,
				  "%s is not allowed on %s (see /v1/openapi.json)", serve_method(r), r->path);
	else
		serve_reply_error(r, 404, "not_found", NULL,
				  "no such endpoint: %s (the API is described at /v1/openapi.json)", r->path);
	return -1;
}

/* Decode the request's path and query into r. */
static int parse_uri(struct serve_req *r)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(r->req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	const char *query = u ? evhttp_uri_get_query(u) : NULL;
	size_t n;

	if (!path || !*path)
		path = "/";
	if (strlen(path) > SERVE_MAX_PATH) {
		serve_reply_error(r, 414, "uri_too_long", NULL, "the path is longer than %d bytes",
				  SERVE_MAX_PATH);
		return -1;
	}
	r->path = evhttp_uridecode(path, 0, &n);
	if (!r->path || strlen(r->path) != n) {
		serve_reply_error(r, 400, "bad_request", NULL, "the path does not decode");
		return -1;
	}
	TAILQ_INIT(&r->query);
	r->have_query = 1;
	if (query && evhttp_parse_query_str(query, &r->query)) {
		serve_reply_error(r, 400, "bad_request", NULL, "the query string does not decode");
		return -1;
	}
	return 0;
}

/* Copy the body, checking the cap of the route. */
static int take_body(struct serve_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t n = evbuffer_get_length(in);
	long cap = (r->route->flags & SERVE_RAW_BODY) ? r->srv->limits.upload_max : r->srv->limits.body_max;

	if ((long)n > cap) {
		serve_reply_error(r, 413, "too_large", NULL,
				  "the body is %zu bytes, over the limit of %ld for %s", n, cap, r->path);
		return -1;
	}
	r->body = q_malloc(n + 1);
	if (!r->body) {
		serve_reply_error(r, 503, "busy", NULL, "out of memory; try again");
		return -1;
	}
	evbuffer_remove(in, r->body, n);
	r->body[n] = 0;
	r->body_len = n;
	return 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct serve *s = arg;
	struct serve_req *r = q_calloc(1, sizeof(*r));

	if (!r) {
		evhttp_send_error(req, 503, "Out of memory");
		return;
	}
	r->srv = s;
	r->req = req;
	r->start_ms = q_now_ms();
	r->conn = conn_of(s, req);
	if (r->conn) {
		r->conn->cur = r;
		if (!r->conn->evcon) {
			r->conn->evcon = evhttp_request_get_connection(req);
			evhttp_connection_set_closecb(r->conn->evcon, on_conn_close, s);
		}
		evtimer_del(r->conn->deadline);
	}
	evhttp_request_set_on_complete_cb(req, on_complete, r);
	if (parse_uri(r) || serve_check_host(s, r) || find_route(s, r))
		return;
	if (!(r->route->flags & SERVE_PUBLIC) &&
	    (serve_check_token(s, r, &r->token) || serve_check_rate(s, r, r->token)))
		return;
	if (serve_check_origin(s, r) || take_body(r))
		return;
	r->route->fn(r);
}

/* --- set-up ----------------------------------------------------------- */

int serve_mount(struct serve *s, const struct serve_route *table, struct q_error *err)
{
	for (; table->pattern; table++) {
		if (s->n_routes >= SERVE_MAX_ROUTES)
			return q_error_set(err, Q_ETOOBIG, "more than %d routes", SERVE_MAX_ROUTES);
		s->routes[s->n_routes++] = table;
	}
	return 0;
}

int serve_mount_builtin(struct serve *s, struct q_error *err)
{
	int rc = serve_mount(s, serve_core_routes, err);

	if (!rc)
		rc = serve_mount(s, serve_research_routes, err);
	if (!rc)
		rc = serve_mount(s, serve_docs_routes, err);
	return rc;
}

const struct serve_route *const *serve_routes(const struct serve *s, size_t *n)
{
	*n = s->n_routes;
	return s->routes;
}

static void on_posted(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;
	struct serve_post_item *list, *next;

	pthread_mutex_lock(&s->post_lock);
	list = s->posted;
	s->posted = NULL;
	pthread_mutex_unlock(&s->post_lock);
	/* Run them in the order they were posted. */
	{
		struct serve_post_item *rev = NULL;
		for (; list; list = next) {
			next = list->next;
			list->next = rev;
			rev = list;
		}
		list = rev;
	}
	for (; list; list = next) {
		next = list->next;
		list->fn(list->arg);
		q_free(list);
	}
}

int serve_post(struct serve *s, void (*fn)(void *arg), void *arg)
{
	struct serve_post_item *it = q_malloc(sizeof(*it));

	if (!it)
		return Q_ENOMEM;
	it->fn = fn;
	it->arg = arg;
	pthread_mutex_lock(&s->post_lock);
	it->next = s->posted;
	s->posted = it;
	pthread_mutex_unlock(&s->post_lock);
	event_active(s->post_ev, EV_READ, 0);
	return 0;
}

/* Stop: end every SSE stream with its final chunk, then give the loop a
 * moment to write them out before it returns (evhttp_free would cut
 * unsent output). */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;
	struct timeval flush = {0, SERVE_STOP_FLUSH_MS * 1000};

	serve_watches_close(s);
	event_base_loopexit(s->base, &flush);
}

void serve_stop(struct serve *s) { event_active(s->stop_ev, EV_READ, 0); }

/* Split "HOST:PORT", "[V6]:PORT" or "PORT" into host and port. */
static int parse_listen(const char *listen, char *host, size_t host_size, int *port, struct q_error *err)
{
	const char *colon, *h = listen;
	size_t hl;
	char *end;
	long p;

	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');
		if (!rb || rb[1] != ':')
			goto bad;
		h = listen + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon) {
			h = "127.0.0.1";
			hl = strlen(h);
			colon = listen - 1;
		} else {
			hl = (size_t)(colon - listen);
		}
	}
	if (hl == 0 || hl >= host_size)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
		goto bad;
	*port = (int)p;
	return 0;
bad:
	return q_error_set(err, Q_EINVAL, "--listen takes HOST:PORT (127.0.0.1:8787, [::1]:8787), not '%s'",
			   listen);
}

/* 1000 idle connections need more descriptors than the usual soft limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static char **copy_hosts(const char *const *hosts)
{
	size_t n = 0, i;
	char **v;

	while (hosts && hosts[n])
		n++;
	v = q_calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < n; i++)
		if (!(v[i] = q_strdup(hosts[i])))
			break;
	return v;
}

int serve_new(struct serve **out, const struct serve_config *cfg, struct q_error *err)
{
	static int threads_ready;
	struct serve *s = NULL;
	struct evhttp_bound_socket *bound;
	struct timeval idle;
	int rc = Q_ENOMEM;

	*out = NULL;
	if (!threads_ready && evthread_use_pthreads() == 0)
		threads_ready = 1;
	s = q_calloc(1, sizeof(*s));
	if (!s)
		goto out;
	pthread_mutex_init(&s->post_lock, NULL);
	s->limits = cfg->limits;
	s->allow_private = cfg->allow_private;
	s->started = time(NULL);
	snprintf(s->home, sizeof(s->home), "%s", cfg->home ? cfg->home : "");
	if (!cfg->token || !*cfg->token || strlen(cfg->token) > SERVE_TOKEN_MAX) {
		rc = q_error_set(err, Q_EINVAL, "the server needs a token of 1 to %d bytes", SERVE_TOKEN_MAX);
		goto out;
	}
	snprintf(s->token, sizeof(s->token), "%s", cfg->token);
	rc = parse_listen(cfg->listen ? cfg->listen : SERVE_DEFAULT_LISTEN, s->listen_host,
			  sizeof(s->listen_host), &s->port, err);
	if (rc)
		goto out;
	s->wildcard = !strcmp(s->listen_host, "0.0.0.0") || !strcmp(s->listen_host, "::");
	rc = Q_ENOMEM;
	if (!(s->allowed_hosts = copy_hosts(cfg->allowed_hosts)))
		goto out;
	if ((rc = runstore_open_db(&s->rs, s->home, cfg->database_url, err)))
		goto out;
	rc = Q_ENOMEM;
	if (!(s->corpus = q_calloc(1, sizeof(*s->corpus))))
		goto out;
	if ((rc = store_open(s->corpus, s->home, err))) {
		q_free(s->corpus);
		s->corpus = NULL;
		goto out;
	}
	rc = Q_ENOMEM;
	raise_fd_limit();
	s->base = event_base_new();
	s->http = s->base ? evhttp_new(s->base) : NULL;
	if (!s->http)
		goto out;
	s->post_ev = event_new(s->base, -1, 0, on_posted, s);
	s->stop_ev = event_new(s->base, -1, 0, on_stop, s);
	s->sweep_now = event_new(s->base, -1, 0, sweep_conns, s);
	s->sweep_ev = event_new(s->base, -1, EV_PERSIST, sweep_conns, s);
	if (!s->post_ev || !s->stop_ev || !s->sweep_now || !s->sweep_ev)
		goto out;
	{
		struct timeval second = {1, 0};
		evtimer_add(s->sweep_ev, &second);
	}
	serve_announce_start(s);
	evhttp_set_max_headers_size(s->http, s->limits.headers_max);
	evhttp_set_max_body_size(s->http, s->limits.upload_max > s->limits.body_max ? s->limits.upload_max
										    : s->limits.body_max);
	idle = ms_tv(s->limits.idle_timeout_ms);
	evhttp_set_timeout_tv(s->http, &idle);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT | EVHTTP_REQ_OPTIONS |
						    EVHTTP_REQ_PATCH);
	evhttp_set_bevcb(s->http, on_new_connection, s);
	evhttp_set_gencb(s->http, on_request, s);
	bound = evhttp_bind_socket_with_handle(s->http, s->listen_host, (ev_uint16_t)s->port);
	if (!bound) {
		rc = q_error_set(err, Q_EIO,
				 "cannot listen on %s:%d (%s); is another server using the port? "
				 "Pick another with --listen",
				 s->listen_host, s->port, strerror(errno));
		goto out;
	}
	if (s->port == 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0)
			s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
								 : ((struct sockaddr_in *)&ss)->sin_port);
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	if (rc == Q_ENOMEM && err && !err->code)
		q_error_set(err, Q_ENOMEM, "out of memory starting the server");
	serve_free(s);
	return rc;
}

int serve_run(struct serve *s) { return event_base_dispatch(s->base) < 0 ? Q_EIO : 0; }

void serve_free(struct serve *s)
{
	size_t i;

	if (!s)
		return;
	serve_watches_close(s);
	serve_announce_stop(s);
	if (s->http)
		evhttp_free(s->http); /* closes every connection (gone callbacks run) */
	if (s->sweep_ev)
		event_free(s->sweep_ev);
	if (s->sweep_now)
		event_free(s->sweep_now);
	if (s->base)
		sweep_conns(-1, 0, s);
	if (s->post_ev)
		event_free(s->post_ev);
	if (s->stop_ev)
		event_free(s->stop_ev);
	if (s->base)
		event_base_free(s->base);
	if (s->rs)
		runstore_close(s->rs);
	if (s->corpus) {
		store_close(s->corpus);
		q_free(s->corpus);
	}
	for (i = 0; s->allowed_hosts && s->allowed_hosts[i]; i++)
		q_free(s->allowed_hosts[i]);
	q_free(s->allowed_hosts);
	while (s->posted) {
		struct serve_post_item *next = s->posted->next;
		q_free(s->posted);
		s->posted = next;
	}
	pthread_mutex_destroy(&s->post_lock);
	q_free(s);
}

int serve_port(const struct serve *s) { return s->port; }
struct runstore *serve_runstore(struct serve *s) { return s->rs; }
struct store *serve_store(struct serve *s) { return s->corpus; }
const char *serve_home(const struct serve *s) { return s->home; }
const struct serve_limits *serve_get_limits(const struct serve *s) { return &s->limits; }
void *serve_event_base(struct serve *s) { return s->base; }
