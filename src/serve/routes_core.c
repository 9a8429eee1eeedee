/*
 * routes_core.c - the routes every server has: health, the browser login,
 * the web UI's files and the Prometheus figures.
 */
#include <stdio.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/qbuf.h"
#include "../research/runstore.h"
#include "assets.h"
#include "serve_int.h"

/* The UI loads only its own files: no inline script, no other origin. */
#define UI_CSP \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
#define LOGIN_COOKIE_MAX_AGE_S (30L * 24 * 3600)
#define METRICS_MAX_BYTES ((size_t)4 * 1024 * 1024) /* /metrics: a few hundred lines */

/* ok; or degraded when runs are queued and no live worker is registered
 * to carry them (they would wait for ever). Both 200: the server itself is
 * alive (a liveness probe restarting it would not help); 503 only when
 * the store cannot be read. */
static void healthz(struct serve_req *r)
{
	struct runstore *rs = serve_runstore(serve_req_server(r));
	struct runstore_worker *live = NULL;
	struct q_error err = {0};
	long counts[RUN_STATUS_N] = {0};
	size_t workers = 0;

	if (runstore_counts(rs, counts, &err) ||
	    runstore_workers(rs, RUNSTORE_LEASE_MS, &live, &workers, &err)) {
		serve_reply_json(r, 503, json_pack("{s:s,s:s}", "status", "degraded", "message", err.msg));
		goto out;
	}
	if (counts[RUN_QUEUED] > 0 && workers == 0)
		serve_reply_json(r, 200,
				 json_pack("{s:s,s:I,s:I,s:s}", "status", "degraded", "workers",
					   (json_int_t)0, "queued", (json_int_t)counts[RUN_QUEUED], "message",
					   "runs are queued and no worker is running: start "
					   "'quarry worker' for this home or restart serve"));
	else
		serve_reply_json(r, 200,
				 json_pack("{s:s,s:I,s:I}", "status", "ok", "workers", (json_int_t)workers,
					   "queued", (json_int_t)counts[RUN_QUEUED]));
out:
	q_free(live);
}

/* GET /login?token=T: the token becomes the browser's cookie. */
static void login(struct serve_req *r)
{
	struct serve *s = serve_req_server(r);
	const char *t = serve_query(r, "token");
	char cookie[SERVE_TOKEN_MAX + 128];

	if (!t || !serve_token_equal(t, s->token)) {
		serve_reply_error(r, 401, "unauthorized", "token",
				  "this login link's token is wrong or missing; use the URL "
				  "'quarry serve' printed");
		return;
	}
	snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld",
		 SERVE_COOKIE, s->token, LOGIN_COOKIE_MAX_AGE_S);
	serve_add_header(r, "Set-Cookie", cookie);
	serve_add_header(r, "Location", "/");
	serve_reply(r, 303, "text/plain; charset=utf-8", "logged in\n", 10);
}

/* POST /logout: forget the cookie. */
static void logout(struct serve_req *r)
{
	serve_add_header(r, "Set-Cookie", SERVE_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
	serve_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static const struct serve_asset *find_asset(const char *path)
{
	const struct serve_asset *a;

	for (a = serve_assets; a->path; a++)
		if (!strcmp(a->path, path))
			return a;
	return NULL;
}

static void ui_file(struct serve_req *r)
{
	const char *path = serve_path(r);
	const struct serve_asset *a;

	if (!strcmp(path, "/"))
		path = "/ui/index.html";
	else if (!strcmp(path, "/v1/openapi.json"))
		path = "/api/openapi.json";
	a = find_asset(path);
	if (!a) {
		serve_reply_error(r, 404, "not_found", NULL, "no such file in the web UI: %s", path);
		return;
	}
	serve_add_header(r, "Content-Security-Policy", UI_CSP);
	serve_add_header(r, "X-Frame-Options", "DENY");
	serve_reply(r, 200, a->content_type, a->data, a->len);
}

/* HTTP figures in Prometheus text format. */
static void metrics_http(struct serve *s, struct qbuf *b)
{
	static const char *const bounds[SERVE_LATENCY_BUCKETS] = {"0.001", "0.0025", "0.005", "0.01",
								  "0.025", "0.05",   "0.1",   "0.25",
								  "0.5",   "1",      "2.5",   "+Inf"};
	size_t i;
	int c, k;

	qbuf_adds(b, "# HELP quarry_http_requests_total HTTP requests answered, by route and status class.\n"
		     "# TYPE quarry_http_requests_total counter\n");
	for (i = 0; i <= s->n_routes; i++) {
		const char *name = i < s->n_routes ? s->routes[i]->name : "unmatched";
		for (c = 1; c <= 5; c++)
			if (s->stats[i].by_class[c])
				qbuf_addf(b, "quarry_http_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n",
					  name, c, s->stats[i].by_class[c]);
	}
	qbuf_adds(b, "# HELP quarry_http_request_seconds Time to the answer's first byte.\n"
		     "# TYPE quarry_http_request_seconds histogram\n");
	for (i = 0; i <= s->n_routes; i++) {
		const char *name = i < s->n_routes ? s->routes[i]->name : "unmatched";
		unsigned long long cum = 0;
		if (!s->stats[i].requests)
			continue;
		for (k = 0; k < SERVE_LATENCY_BUCKETS; k++) {
			cum += s->stats[i].latency_le[k];
			qbuf_addf(b, "quarry_http_request_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
				  name, bounds[k], cum);
		}
		qbuf_addf(b,
			  "quarry_http_request_seconds_sum{route=\"%s\"} %.6f\n"
			  "quarry_http_request_seconds_count{route=\"%s\"} %llu\n",
			  name, s->stats[i].latency_sum_s, name, s->stats[i].requests);
	}
	qbuf_addf(b,
		  "# HELP quarry_http_connections Open connections.\n"
		  "# TYPE quarry_http_connections gauge\nquarry_http_connections %d\n"
		  "# HELP quarry_http_connections_dropped_total Connections closed for being idle or slow, or refused over the cap.\n"
		  "# TYPE quarry_http_connections_dropped_total counter\n"
		  "quarry_http_connections_dropped_total{why=\"timeout\"} %llu\n"
		  "quarry_http_connections_dropped_total{why=\"cap\"} %llu\n"
		  "# HELP quarry_sse_watchers Event streams open.\n"
		  "# TYPE quarry_sse_watchers gauge\nquarry_sse_watchers %d\n",
		  s->n_conns, s->conns_timed_out, s->conns_refused, s->n_watchers);
}

static void metrics(struct serve_req *r)
{
	struct serve *s = serve_req_server(r);
	struct qbuf b;

	qbuf_init(&b, METRICS_MAX_BYTES);
	metrics_http(s, &b);
	serve_metrics_runs(s, &b);
	if (b.err)
		serve_reply_error(r, 500, "internal", NULL, "the figures did not fit; try again");
	else
		serve_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	qbuf_release(&b);
}

const struct serve_route serve_core_routes[] = {{"GET", "/healthz", healthz, SERVE_PUBLIC, "healthz"},
						{"GET", "/login", login, SERVE_PUBLIC, "login"},
						{"POST", "/logout", logout, SERVE_PUBLIC, "logout"},
						{"GET", "/metrics", metrics, 0, "metrics"},
						{"GET", "/", ui_file, SERVE_PUBLIC, "ui_page"},
						{"GET", "/ui/*", ui_file, SERVE_PUBLIC, "ui_asset"},
						{"GET", "/v1/openapi.json", ui_file, SERVE_PUBLIC, "openapi"},
						{NULL, NULL, NULL, 0, NULL}};
