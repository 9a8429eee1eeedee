/*
 * serve.h - `quarry serve`: the HTTP front process and the interface its
 * route modules (research, corpus, UI, and later OpenAI-compatible and
 * MCP endpoints) are written against.
 *
 * One event loop (libevent's evhttp, see docs/SERVE.md) serves every
 * connection. Handlers run on the loop thread and must not block for long:
 * a handler reads the store (a few milliseconds), answers, and returns.
 * Work that takes longer goes to a thread, which hands its result back
 * with serve_post; long answers (Server-Sent Events) are written
 * piecewise with the SSE writer below.
 *
 * Adding routes: define a table of struct serve_route ending with a
 * zeroed entry and mount it with serve_mount before serve_run (cmd_serve.c
 * mounts the built-in tables; add yours there). Patterns are matched
 * segment by segment: "{name}" takes one segment (serve_param gives it),
 * a final "*" takes the rest of the path. The first matching route wins,
 * tables in mount order. Every route needs the token unless it is flagged
 * SERVE_PUBLIC; Host is checked on all, Origin on all but GET and HEAD.
 *
 * Thread safety: everything here is for the loop thread, except
 * serve_post.
 */
#ifndef Q_SERVE_H
#define Q_SERVE_H

#include <jansson.h>
#include <stddef.h>

#include "../core/err.h"

#define SERVE_DEFAULT_LISTEN "127.0.0.1:8787"
#define SERVE_TOKEN_FILE "server-token" /* under $QUARRY_HOME, mode 0600 */
#define SERVE_TOKEN_MAX 256             /* bytes of a token */
#define SERVE_COOKIE "quarry_token"
#define SERVE_MAX_ROUTES 128
#define SERVE_MAX_PARAMS 4
#define SERVE_MAX_PATH 2048 /* bytes of a request path */

/* Default limits (cmd_serve.c takes flags for each). */
#define SERVE_BODY_MAX (1L * 1024 * 1024)    /* JSON request bodies */
#define SERVE_UPLOAD_MAX (32L * 1024 * 1024) /* POST /v1/documents */
#define SERVE_HEADERS_MAX (16 * 1024)        /* request line + headers */
#define SERVE_HEADER_TIMEOUT_MS 10000        /* a request's headers and body must arrive in this */
#define SERVE_IDLE_TIMEOUT_MS 30000          /* a keep-alive connection may wait this long */
#define SERVE_MAX_CONNECTIONS 4096
#define SERVE_MAX_WATCHERS 256                  /* SSE streams at once */
#define SERVE_RATE_PER_MIN 600                  /* requests per token per minute */
#define SERVE_QUEUE_MAX 100                     /* queued runs before POST /v1/research gets 429 */
#define SERVE_SSE_BUFFER_MAX (1L * 1024 * 1024) /* unsent bytes before a watcher is dropped */

struct serve;     /* the server (opaque) */
struct serve_req; /* one request (opaque); valid until answered or gone */

struct serve_limits {
	long body_max; /* bytes */
	long upload_max;
	long headers_max;
	long header_timeout_ms;
	long idle_timeout_ms;
	int max_connections;
	int max_watchers;
	int rate_per_min; /* 0: no limit */
	int queue_max;
	long sse_buffer_max;
};
void serve_limits_default(struct serve_limits *l);

struct serve_config {
	const char *listen;               /* "HOST:PORT" ("[::1]:8787"); NULL: SERVE_DEFAULT_LISTEN */
	const char *home;                 /* the quarry home (database, token file) */
	const char *database_url;         /* the run store on PostgreSQL, or NULL (home's SQLite) */
	const char *token;                /* the API token (required) */
	const char *const *allowed_hosts; /* extra Host names (a proxy's), NULL-terminated, may be NULL */
	int allow_private; /* runs may read pages on private addresses (the operator's choice) */
	struct serve_limits limits;
};

/* The server on cfg: bound and listening (port 0 picks one: serve_port).
 * Q_EINVAL for a bad address, Q_EIO when it cannot bind (err says why). */
int serve_new(struct serve **out, const struct serve_config *cfg, struct q_error *err);
/* Serve until serve_stop; 0, or Q_EIO when the loop failed. */
int serve_run(struct serve *s);
/* Ask the loop to end (from any thread or a signal handler through
 * serve_post is not needed: this only sets a flag and wakes the loop). */
void serve_stop(struct serve *s);
void serve_free(struct serve *s);
/* The port listened on. */
int serve_port(const struct serve *s);
const char *serve_home(const struct serve *s);
const struct serve_limits *serve_get_limits(const struct serve *s);
/* The run records and the corpus, on the loop thread's connections. */
struct runstore *serve_runstore(struct serve *s);
struct store *serve_store(struct serve *s);
/* The loop's event_base (struct event_base *), for timers of route modules. */
void *serve_event_base(struct serve *s);

/* Run fn(arg) on the loop thread soon. Thread-safe. 0, or Q_ENOMEM. */
int serve_post(struct serve *s, void (*fn)(void *arg), void *arg);

/* The token: the first line of token_file when given (it must not be
 * readable by others), else $home/SERVE_TOKEN_FILE, created with 32
 * random bytes (hex) and mode 0600 when missing (*generated set). out has
 * out_size bytes. Q_EIO, Q_EINVAL with err saying what to fix. */
int serve_token_load(const char *home, const char *token_file, char *out, size_t out_size, int *generated,
		     struct q_error *err);

/* --- routes ----------------------------------------------------------- */

enum {
	SERVE_PUBLIC = 1,      /* no token needed (health, login, UI assets) */
	SERVE_STARTS_WORK = 2, /* counts apart in the latency figures (POST a run) */
	SERVE_RAW_BODY = 4     /* body may be up to limits.upload_max (not JSON-capped) */
};

typedef void (*serve_handler_fn)(struct serve_req *req);

struct serve_route {
	const char *method;  /* "GET", "POST", "DELETE", ...; GET also answers HEAD */
	const char *pattern; /* "/v1/research/{id}/events" */
	serve_handler_fn fn;
	unsigned flags;
	const char *name; /* label in /metrics ("research_get") */
};

/* Mount a table (ends with a zeroed entry; borrowed: keep it static).
 * Q_ETOOBIG past SERVE_MAX_ROUTES. */
int serve_mount(struct serve *s, const struct serve_route *table, struct q_error *err);
/* Mount the built-in tables: health, login, UI, metrics, research, corpus. */
int serve_mount_builtin(struct serve *s, struct q_error *err);
/* The mounted routes, for the OpenAPI check and /metrics: n in *n. */
const struct serve_route *const *serve_routes(const struct serve *s, size_t *n);

/* --- a request -------------------------------------------------------- */

struct serve *serve_req_server(struct serve_req *r);
const char *serve_method(struct serve_req *r); /* "GET" */
const char *serve_path(struct serve_req *r);   /* decoded path, no query */
/* A {name} of the route's pattern, or NULL. */
const char *serve_param(struct serve_req *r, const char *name);
/* A query parameter (decoded), or NULL. */
const char *serve_query(struct serve_req *r, const char *name);
/* A request header, or NULL. */
const char *serve_header(struct serve_req *r, const char *name);
/* The body: its bytes and length (not NUL-terminated; may contain NULs). */
const unsigned char *serve_body(struct serve_req *r, size_t *len);
/* The body as a JSON object. On failure the 400 (or 413, 415) is already
 * answered and NULL returned. The caller owns the result (json_decref). */
json_t *serve_body_json(struct serve_req *r);
/* The token the request was let in with ("" for public routes). */
const char *serve_req_token(struct serve_req *r);

/* --- answers (each answers the request once; it is gone afterwards) --- */

void serve_add_header(struct serve_req *r, const char *name, const char *value);
/* Answer with body bytes of content_type. */
void serve_reply(struct serve_req *r, int status, const char *content_type, const void *body, size_t len);
/* Answer with JSON (steals j; NULL answers 500). */
void serve_reply_json(struct serve_req *r, int status, json_t *j);
/* Answer {"error": {"code", "message", "field"}}; field may be NULL. code
 * is a short word ("bad_request", "not_found", "rate_limited"), message a
 * sentence saying what happened and what to do. */
void serve_reply_error(struct serve_req *r, int status, const char *code, const char *field, const char *fmt,
		       ...) __attribute__((format(printf, 5, 6)));
/* The error status and code for a Q_E* code (404 not_found for
 * Q_ENOTFOUND, 409 for Q_ECONFLICT, 400 for Q_EINVAL, else 500). */
void serve_reply_qerror(struct serve_req *r, const struct q_error *err);

/* --- keeping a request open (SSE, streaming) -------------------------- */

/* Called once when the client goes away before the request is answered
 * (or the server stops): after it, r is gone. */
typedef void (*serve_gone_fn)(struct serve_req *r, void *arg);
void serve_on_gone(struct serve_req *r, serve_gone_fn fn, void *arg);

/* Start a chunked answer (status 200, content_type) for writing in pieces.
 * Then serve_write (bytes, copied), serve_end (finish). serve_pending is
 * how many bytes the client has not taken yet: a writer drops a client
 * that falls too far behind (serve_abort) instead of buffering. */
void serve_start(struct serve_req *r, const char *content_type);
void serve_write(struct serve_req *r, const void *p, size_t n);
size_t serve_pending(struct serve_req *r);
void serve_end(struct serve_req *r);
/* Close the connection now; the gone callback is not called. */
void serve_abort(struct serve_req *r);

/* Server-Sent Events on a started request (text/event-stream). Each
 * writes one event: "id:" (when id >= 0), "event:" (when non-NULL), the
 * data split into "data:" lines. 0, or Q_ETOOBIG when the client is more
 * than limits.sse_buffer_max behind: the connection is dropped then (r is
 * gone, no gone callback), and the client resumes with Last-Event-ID. */
void serve_sse_start(struct serve_req *r);
int serve_sse_event(struct serve_req *r, long id, const char *event, const char *data);
/* A comment line (": text"), for heartbeats. */
int serve_sse_comment(struct serve_req *r, const char *text);

/* The limit on streams open at once (limits.max_watchers): take a slot
 * for r (0), or Q_ETOOBIG when all are taken (then answer 503). The slot
 * is given back when r ends or its client goes. */
int serve_watcher_take(struct serve_req *r);

#endif
