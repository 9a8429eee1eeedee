/*
 * serve_int.h - the server's insides shared by the files of src/serve
 * (not for route modules outside it: they use serve.h).
 */
#ifndef Q_SERVE_INT_H
#define Q_SERVE_INT_H

#include <pthread.h>
#include <time.h>

#include "serve.h"

struct event_base;
struct evhttp;
struct evhttp_request;
struct event;

#define SERVE_RATE_SLOTS 64 /* tokens tracked for the per-minute limit */
#define SERVE_LATENCY_BUCKETS 12

/* Requests per route and their latency, for /metrics. */
struct serve_route_stats {
	unsigned long long requests;
	unsigned long long by_class[6];                       /* 1xx..5xx, [0] unused */
	unsigned long long latency_le[SERVE_LATENCY_BUCKETS]; /* cumulative later */
	double latency_sum_s;
};

struct serve_rate_slot {
	unsigned char key[32]; /* SHA-256 of the token */
	long long minute;      /* the minute counted */
	int used;
	int count;
};

struct serve_post_item {
	void (*fn)(void *arg);
	void *arg;
	struct serve_post_item *next;
};

struct serve_conn;
struct runstore;
struct store;
struct serve_watch;

struct serve {
	struct event_base *base;
	struct evhttp *http;
	char home[4096];
	char token[SERVE_TOKEN_MAX + 1];
	char listen_host[256]; /* as given, without brackets */
	int port;
	int wildcard;         /* listening on 0.0.0.0 or :: */
	int allow_private;    /* runs it queues may read private addresses */
	char **allowed_hosts; /* owned, NULL-terminated */
	struct serve_limits limits;
	const struct serve_route *routes[SERVE_MAX_ROUTES];
	struct serve_route_stats stats[SERVE_MAX_ROUTES + 1]; /* [n_routes] = unmatched */
	size_t n_routes;
	/* connections */
	struct serve_conn *conns; /* list of live ones */
	int n_conns;
	unsigned long long conns_refused, conns_timed_out;
	int n_watchers;
	struct serve_rate_slot rate[SERVE_RATE_SLOTS];
	/* serve_post */
	pthread_mutex_t post_lock;
	struct serve_post_item *posted;
	struct event *post_ev;
	struct event *stop_ev;
	struct event *sweep_ev; /* every second: connections evhttp let go */
	struct event *sweep_now;
	time_t started;
	/* the records, on one connection each for the loop thread */
	struct runstore *rs;
	struct store *corpus;
	struct serve_watch *watches; /* runs with SSE watchers (routes_research.c) */
	/* PostgreSQL's announcements of new events (runstore_watch_fd), on a
	 * connection of their own; NULL on SQLite (the watches poll) */
	struct runstore *announce_rs;
	struct event *announce_ev;
	unsigned long long runs_created, events_sent, watchers_dropped;
};

/* auth.c: the token and origin checks; 0 when the request may go on,
 * else the error is answered. */
int serve_check_host(struct serve *s, struct serve_req *r);
int serve_check_origin(struct serve *s, struct serve_req *r);
int serve_check_token(struct serve *s, struct serve_req *r, const char **token);
int serve_check_rate(struct serve *s, struct serve_req *r, const char *token);
/* Constant-time comparison of a presented token with the server's. */
int serve_token_equal(const char *a, const char *b);

/* routes_research.c: end every stream (the server stops). */
void serve_watches_close(struct serve *s);
/* routes_research.c: read a watched run the moment PostgreSQL announces
 * an event of it (not at its next poll); nothing on SQLite. Never fails
 * the server: without announcements the watches poll. */
void serve_announce_start(struct serve *s);
void serve_announce_stop(struct serve *s);
/* Run figures for /metrics (routes_research.c). */
struct qbuf;
void serve_metrics_runs(struct serve *s, struct qbuf *b);

/* The built-in route tables. */
extern const struct serve_route serve_core_routes[];
extern const struct serve_route serve_research_routes[];
extern const struct serve_route serve_docs_routes[];

#endif
