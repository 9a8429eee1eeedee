/*
 * runstore_int.h - what a run-store backend provides (see runstore.h).
 *
 * struct runstore is a pointer to a backend's table of operations and
 * the backend's own state. The table is one to one with the public
 * functions of runstore.h: runstore.c checks the arguments they share and
 * hands each call to the matching operation, so a backend (SQLite in
 * runstore_sqlite.c; PostgreSQL can be another) implements only the
 * storage. What every backend needs beyond SQL (whether the process that
 * stored itself as a run's owner still lives, the wall clock) is here too.
 */
#ifndef Q_RUNSTORE_INT_H
#define Q_RUNSTORE_INT_H

#include "runstore.h"

struct runstore_ops {
	const char *name; /* "sqlite" */
	/* Free the backend's state (and its connection, when it owns it). */
	void (*close)(struct runstore *rs);
	int (*create)(struct runstore *rs, const char *question, const json_t *options,
		      enum run_status status, const char *worker, long *id, struct q_error *err);
	int (*get)(struct runstore *rs, long id, int with_report, struct run_record *out, struct q_error *err);
	/* f is filled in: limit between 1 and RUNSTORE_LIST_MAX. */
	int (*list)(struct runstore *rs, const struct runstore_filter *f, struct run_record **out, size_t *n,
		    struct q_error *err);
	int (*counts)(struct runstore *rs, long counts[RUN_STATUS_N], struct q_error *err);
	int (*event_add)(struct runstore *rs, long id, json_t *event, long *seq, struct q_error *err);
	/* max is filled in: between 1 and RUNSTORE_EVENTS_MAX. */
	int (*events)(struct runstore *rs, long id, long after_seq, int max, json_t **events,
		      struct q_error *err);
	int (*cache_get)(struct runstore *rs, long id, const char *key, char **value, struct q_error *err);
	int (*cache_put)(struct runstore *rs, long id, const char *key, const char *value, struct q_error *err);
	int (*page_get)(struct runstore *rs, const char *url, long max_age_s, char **value,
			struct q_error *err);
	int (*page_put)(struct runstore *rs, const char *url, const char *value, struct q_error *err);
	int (*set_status)(struct runstore *rs, long id, enum run_status status, struct q_error *err);
	int (*set_options)(struct runstore *rs, long id, const json_t *options, struct q_error *err);
	int (*save_report)(struct runstore *rs, long id, enum run_status status, const json_t *report,
			   const char *md, struct q_error *err);
	int (*claim)(struct runstore *rs, const char *worker, long lease_ms, long *id, struct q_error *err);
	int (*heartbeat)(struct runstore *rs, long id, const char *worker, long lease_ms, int *cancel,
			 struct q_error *err);
	int (*release)(struct runstore *rs, long id, const char *worker, struct q_error *err);
	int (*request_cancel)(struct runstore *rs, long id, struct q_error *err);
	int (*remove)(struct runstore *rs, long id, struct q_error *err);
	/* May be NULL: runstore.c polls (runstore_wait_events, _wait_jobs). */
	int (*wait_events)(struct runstore *rs, long id, long after_seq, long timeout_ms, struct q_error *err);
	int (*wait_jobs)(struct runstore *rs, long timeout_ms, struct q_error *err);
	int (*worker_beat)(struct runstore *rs, const struct runstore_worker *w, struct q_error *err);
	int (*worker_gone)(struct runstore *rs, const char *name, struct q_error *err);
	/* all seen since min_seen_ms; the front drops the dead ones */
	int (*workers)(struct runstore *rs, long long min_seen_ms, struct runstore_worker **out, size_t *n,
		       struct q_error *err);
	/* May be NULL: nothing is announced (runstore_watch_fd gives -1). */
	int (*watch_fd)(struct runstore *rs, struct q_error *err);
	int (*watch_take)(struct runstore *rs, void (*fn)(void *ctx, long run, long seq), void *ctx,
			  struct q_error *err);
	/* May be NULL: runstore_reopen is not supported. */
	int (*reopen)(struct runstore **out, struct runstore *rs, struct q_error *err);
	/* May be NULL: runstore_cache_each gives Q_EUNSUPPORTED. */
	int (*cache_each)(struct runstore *rs, long id, const char *prefix,
			  int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
			  struct q_error *err);
	/* May be NULL: no shared replies (get finds none, put keeps none). */
	int (*reply_get)(struct runstore *rs, const char *key, char **reply, struct q_error *err);
	int (*reply_put)(struct runstore *rs, const char *key, const char *model, const char *reply,
			 struct q_error *err);
};

struct runstore {
	const struct runstore_ops *ops;
	void *backend; /* the backend's own state */
	/* runstore_hold: "" or the worker whose hold set_status and
	 * save_report require (the backend checks it in the same statement) */
	char holder[RUNSTORE_WORKER_MAX];
};

/* The SQLite backend: on a connection of its own (own set) or borrowed. */
int runstore_sqlite_open(struct runstore **out, const char *home, struct q_error *err);
int runstore_sqlite_wrap(struct runstore **out, struct store *s, struct q_error *err);

/* Wall-clock milliseconds since the epoch (leases are compared across
 * processes, so not the monotonic clock). */
long long runstore_now_ms(void);

/*
 * The status of a run as it is, from what is stored: a running run whose
 * lease (lease_until_ms, 0 for none) lapsed before now_ms, or that has no
 * lease and whose owner (the JSON research_run stores under the run's
 * cache key "owner", may be NULL) is a process that is gone, reads
 * interrupted. status_name is the stored name (an unknown one reads
 * failed).
 */
/* Whether process pid on host is alive (another host's counts as alive:
 * we cannot tell). start_ticks, when not negative, must match its start
 * time too (a reused pid is another process). */
int runstore_process_alive(const char *host, long pid, long long start_ticks);

enum run_status runstore_status_now(const char *status_name, long long lease_until_ms, long long now_ms,
				    const char *owner_json);
/* A status runstore_status_now read running, checked against its holder
 * (worker, "host:pid/N" or ""): a worker on this host whose process is
 * gone (kill -9) holds nothing, so the run reads interrupted before its
 * lease lapses. Every backend applies it to what it reads. */
enum run_status runstore_status_held(enum run_status s, const char *worker);

#endif
