/*
 * openai_http.c - the OpenAI-compatible endpoint on `quarry serve`:
 * GET /v1/models and POST /v1/chat/completions (the protocol is
 * openai.c; this file is the HTTP side).
 *
 * An answer is a queued run (openai_chat_start): the workers carry it,
 * and the request only follows it, polling its events every
 * OPENAI_POLL_MS on the loop thread (a store read of a few
 * milliseconds), streaming them as they come or holding the whole
 * answer until the run ends. A client that goes away only stops the
 * following: the run goes on, and asking again finds it.
 *
 * The token is the API key. These routes check it themselves (they are
 * mounted SERVE_PUBLIC) so that a wrong key gets a 401 in OpenAI's
 * error shape, which OpenAI clients read, rather than the server's own;
 * the per-token rate limit applies as on every route.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "openai.h"
#include "openai_http.h"
#include "serve_int.h"

#define OPENAI_HEARTBEAT_MS 10000                        /* an SSE comment while a run is quiet */
#define OPENAI_MAX_WAIT_MS (3L * 3600 * 1000)            /* a request follows its run this long at most */
#define OPENAI_POLL_MAX_BYTES ((size_t)80 * 1024 * 1024) /* one poll: a 64 MB report as chunks */

/* One request following its run. */
struct follow {
	struct serve_req *req;
	struct serve *srv;
	struct event *timer;
	struct openai_chat chat;
	double started_ms, last_write_ms;
};

static void reply_openai_error(struct serve_req *r, const struct openai_error *e)
{
	char *body = openai_error_body(e);

	if (!body) {
		serve_reply(r, 500, "application/json", "{}", 2);
		return;
	}
	serve_reply(r, e->status, "application/json", body, strlen(body));
	free(body);
}

/* The API key check, in OpenAI's error shape. 0 when the request may go on. */
static int check_key(struct serve_req *r)
{
	struct serve *s = serve_req_server(r);
	const char *auth = serve_header(r, "Authorization");
	struct openai_error e;

	if (auth && !strncasecmp(auth, "Bearer ", 7) && serve_token_equal(auth + 7, s->token))
		return serve_check_rate(s, r, s->token);
	memset(&e, 0, sizeof(e));
	openai_error_set(&e, 401, "invalid_request_error", NULL, "invalid_api_key",
			 auth ? "Incorrect API key provided: use the token of this quarry server "
				"($QUARRY_HOME/%s, or QUARRY_SERVER_TOKEN)"
			      : "You didn't provide an API key: "
				"send the token of this quarry server ($QUARRY_HOME/%s) as the API key",
			 SERVE_TOKEN_FILE);
	serve_add_header(r, "WWW-Authenticate", "Bearer realm=\"quarry\"");
	reply_openai_error(r, &e);
	return -1;
}

static void models(struct serve_req *r)
{
	if (check_key(r))
		return;
	serve_reply_json(r, 200, openai_models((long long)time(NULL)));
}

static void follow_free(struct follow *f)
{
	if (f->timer)
		event_free(f->timer);
	q_free(f);
}

/* The client went: the run goes on without it. */
static void on_gone(struct serve_req *r, void *arg)
{
	(void)r;
	follow_free(arg);
}

static void schedule(struct follow *f)
{
	struct timeval tv = {0, OPENAI_POLL_MS * 1000};

	evtimer_add(f->timer, &tv);
}

static void poll_run(evutil_socket_t fd, short what, void *arg)
{
	struct follow *f = arg;
	struct openai_error e;
	struct qbuf out;
	int done = 0;
	double now = q_now_ms();

	(void)fd;
	(void)what;
	memset(&e, 0, sizeof(e));
	qbuf_init(&out, OPENAI_POLL_MAX_BYTES);
	if (openai_chat_poll(&f->chat, serve_runstore(f->srv), &out, &done, &e)) {
		if (f->chat.stream) {
			serve_end(f->req); /* the stream has begun: end it; the client asks again */
		} else {
			reply_openai_error(f->req, &e);
		}
		goto gone;
	}
	if (f->chat.stream && out.len) {
		serve_write(f->req, qbuf_cstr(&out), out.len);
		f->last_write_ms = now;
	} else if (f->chat.stream && now - f->last_write_ms > OPENAI_HEARTBEAT_MS) {
		serve_write(f->req, ": the run goes on\n\n", 19);
		f->last_write_ms = now;
	}
	if (f->chat.stream && serve_pending(f->req) > (size_t)serve_get_limits(f->srv)->sse_buffer_max) {
		serve_abort(f->req); /* a client that does not read: the run goes on */
		goto gone;
	}
	if (done) {
		if (f->chat.stream)
			serve_end(f->req);
		else
			serve_reply(f->req, 200, "application/json", qbuf_cstr(&out), out.len);
		goto gone;
	}
	if (now - f->started_ms > OPENAI_MAX_WAIT_MS) {
		if (f->chat.stream) {
			serve_end(f->req);
		} else {
			openai_error_set(&e, 504, "server_error", NULL, "timeout",
					 "run %ld is still going "
					 "after %ld minutes; ask again later for its report",
					 f->chat.run_id, OPENAI_MAX_WAIT_MS / 60000);
			reply_openai_error(f->req, &e);
		}
		goto gone;
	}
	qbuf_release(&out);
	schedule(f);
	return;
gone:
	qbuf_release(&out);
	follow_free(f);
}

static void chat_completions(struct serve_req *r)
{
	struct serve *s = serve_req_server(r);
	struct openai_request req;
	struct openai_error e;
	struct follow *f = NULL;
	const unsigned char *body;
	size_t len;

	if (check_key(r))
		return;
	memset(&e, 0, sizeof(e));
	body = serve_body(r, &len);
	if (openai_parse_request((const char *)body, len, &req, &e)) {
		reply_openai_error(r, &e);
		return;
	}
	f = q_calloc(1, sizeof(*f));
	if (!f || !(f->timer = evtimer_new(serve_event_base(s), poll_run, f))) {
		openai_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
		goto fail;
	}
	f->req = r;
	f->srv = s;
	f->started_ms = f->last_write_ms = q_now_ms();
	if (openai_chat_start(&f->chat, serve_runstore(s), &req, s->allow_private, (long long)time(NULL), &e))
		goto fail;
	if (req.stream) {
		if (serve_watcher_take(r)) {
			openai_error_set(&e, 503, "server_error", NULL, NULL,
					 "too many answers are "
					 "streaming; try again soon (run %ld goes on)",
					 f->chat.run_id);
			goto fail;
		}
		serve_add_header(r, "Cache-Control", "no-cache");
		serve_start(r, "text/event-stream");
	}
	openai_request_release(&req);
	serve_on_gone(r, on_gone, f);
	poll_run(-1, 0, f); /* at once: a stored report needs no wait (f may be gone after) */
	return;
fail:
	openai_request_release(&req);
	if (f)
		follow_free(f);
	reply_openai_error(r, &e);
}

const struct serve_route openai_routes[] = {
	{"GET", "/v1/models", models, SERVE_PUBLIC, "openai_models"},
	{"POST", "/v1/chat/completions", chat_completions, SERVE_PUBLIC | SERVE_STARTS_WORK, "openai_chat"},
	{NULL, NULL, NULL, 0, NULL}};
