/*
 * runstore.h - the records of research runs: the run itself, its events,
 * its caches, and the job queue with its leases.
 *
 * Every SQL statement about runs lives behind this API (runstore.c on the
 * SQLite store; a PostgreSQL store can implement the same functions
 * later without the loop, the worker, the CLI or the server changing).
 * The corpus stays in store.h/corpus.h.
 *
 * A run is a job. It is created queued (`research --detach`, the HTTP
 * API) or running (a foreground `quarry research`, which carries it
 * itself). A worker claims the oldest queued run, or a running one whose
 * lease lapsed (its worker died), with an atomic update: two workers
 * never hold one run. The holder renews its lease with a heartbeat well
 * inside RUNSTORE_LEASE_MS; the heartbeat also reports whether a cancel
 * was asked for (from another process or thread, through the database).
 *
 * Events are numbered per run from 1 upwards (stored, monotonic across
 * resumes and workers): a watcher asks for the events after the last
 * number it saw.
 *
 * One struct runstore is one connection: use it from one thread at a
 * time (open one per thread; they may share a home).
 */
#ifndef Q_RUNSTORE_H
#define Q_RUNSTORE_H

#include <jansson.h>

#include "../core/err.h"
#include "../index/store.h"

#define RUNSTORE_LEASE_MS 30000L    /* a lapsed lease puts the run back in the queue */
#define RUNSTORE_HEARTBEAT_MS 5000L /* how often a holder renews it */
#define RUNSTORE_LIST_MAX 1000      /* rows a list returns at most */
#define RUNSTORE_EVENTS_MAX 5000    /* events one read returns at most */
#define RUNSTORE_WORKER_MAX 128     /* bytes of a worker's name */

enum run_status {
	RUN_QUEUED,      /* waiting for a worker */
	RUN_RUNNING,     /* a worker (or a foreground process) carries it */
	RUN_DONE,        /* the report is written */
	RUN_STOPPED,     /* a budget ran out; the report says so */
	RUN_CANCELLED,   /* a user asked; the best report it could make is kept */
	RUN_INTERRUPTED, /* its process died or was stopped; resume continues it */
	RUN_FAILED,
	RUN_STATUS_N
};

/* "queued", "running", ... ; and back (-1 for an unknown name). */
const char *run_status_name(enum run_status s);
int run_status_parse(const char *name);
/* Whether the status is final (done, stopped, cancelled, failed). */
int run_status_final(enum run_status s);

struct runstore; /* opaque */

/* Open the run records of the quarry database of home (migrating it as
 * store_open does). */
int runstore_open(struct runstore **out, const char *home, struct q_error *err);
/* The run records on PostgreSQL when database_url is set (a
 * postgresql:// URL or a key=value connection string; the CLI resolves
 * it from QUARRY_DATABASE_URL or database_url: the core reads no
 * environment), else those of home as runstore_open. The PostgreSQL
 * schema is migrated as `quarry db migrate` does; a lost connection is
 * made again with backoff (pgconn.h). Messages never show the URL's
 * password. */
int runstore_open_db(struct runstore **out, const char *home, const char *database_url, struct q_error *err);
/* The process's shared database: from now on runstore_open and
 * runstore_wrap give the run records on it (a PostgreSQL URL, copied)
 * instead of a home's or a store's, so every front end, the worker and
 * the loop use it without each being told; NULL or "" goes back to the
 * homes' SQLite stores. The CLI calls it once at start, before any
 * thread, with what it resolved (QUARRY_DATABASE_URL, database_url):
 * the core reads no environment. runstore_open_db is not affected. Not
 * thread-safe. */
int runstore_set_database(const char *database_url, struct q_error *err);
/* The URL runstore_set_database set, or NULL. */
const char *runstore_database(void);
/* "sqlite" or "postgresql". */
const char *runstore_backend(const struct runstore *rs);
/* Another connection to the database rs is on (for another thread).
 * Q_EUNSUPPORTED on SQLite (open that one by its home). */
int runstore_reopen(struct runstore **out, struct runstore *rs, struct q_error *err);
/* The run records on an open store connection (borrowed: closing the
 * runstore leaves it open). */
int runstore_wrap(struct runstore **out, struct store *s, struct q_error *err);
/* The run records of s itself (borrowed), whatever runstore_set_database
 * set: the home's shared reply cache, or a second handle on a SQLite
 * run store's connection. */
int runstore_wrap_sqlite(struct runstore **out, struct store *s, struct q_error *err);
void runstore_close(struct runstore *rs);

struct run_record {
	long id;
	char *question;
	json_t *options;        /* research_opts_to_json */
	enum run_status status; /* as it is: running with a lapsed lease or a dead process reads interrupted */
	long long created, updated;       /* Unix seconds */
	char worker[RUNSTORE_WORKER_MAX]; /* holder ("host:pid/N"), "" if none */
	int cancel_requested;
	long last_seq;  /* its newest event's number, 0 if none */
	json_t *report; /* NULL unless asked for and written */
	char *report_md;
};
void run_record_release(struct run_record *r);

/* A new run. status RUN_QUEUED makes it a job for a worker; RUN_RUNNING
 * makes it held by the caller (worker names the caller). */
int runstore_create(struct runstore *rs, const char *question, const json_t *options, enum run_status status,
		    const char *worker, long *id, struct q_error *err);
/* One run, its report too when with_report. Q_ENOTFOUND when none. */
int runstore_get(struct runstore *rs, long id, int with_report, struct run_record *out, struct q_error *err);

struct runstore_filter {
	int status;       /* enum run_status, or -1 for all */
	const char *text; /* substring of the question, or NULL */
	long before_id;   /* 0, or only runs older than this (paging) */
	int limit;        /* 0 = 50; at most RUNSTORE_LIST_MAX */
};
/* Runs newest first, without reports. */
int runstore_list(struct runstore *rs, const struct runstore_filter *f, struct run_record **out, size_t *n,
		  struct q_error *err);
void runstore_list_free(struct run_record *v, size_t n);
/* How many runs have each status (counts[RUN_STATUS_N]). */
int runstore_counts(struct runstore *rs, long counts[RUN_STATUS_N], struct q_error *err);

/* Append an event (a JSON object; its "seq" is set to the next number and
 * stored with it): the number in *seq. */
int runstore_event_add(struct runstore *rs, long id, json_t *event, long *seq, struct q_error *err);
/* The run's events after number after_seq, oldest first, at most max
 * (0 = RUNSTORE_EVENTS_MAX): a new array in *events, each with "seq". */
int runstore_events(struct runstore *rs, long id, long after_seq, int max, json_t **events,
		    struct q_error *err);

/* The run's own cache (searches, pages, model replies, the plan): value
 * NULL in *value when the key is not there. */
int runstore_cache_get(struct runstore *rs, long id, const char *key, char **value, struct q_error *err);
int runstore_cache_put(struct runstore *rs, long id, const char *key, const char *value, struct q_error *err);
/* fn(ctx, key, value) for each of run id's cache entries whose key
 * starts with prefix, in key order, at most RUNSTORE_CACHE_EACH_MAX;
 * fn returns non-zero to stop there. Q_EUNSUPPORTED on a backend
 * without it (PostgreSQL for now). key and value are valid during the
 * call only. */
#define RUNSTORE_CACHE_EACH_MAX 100000
int runstore_cache_each(struct runstore *rs, long id, const char *prefix,
			int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
			struct q_error *err);
/* The model replies shared by every run (keyed by the request's hash;
 * llm_cache on SQLite): reply NULL in *reply when the key is not there.
 * A backend without them (PostgreSQL for now) gives 0 and NULL, and
 * keeps nothing. */
int runstore_reply_get(struct runstore *rs, const char *key, char **reply, struct q_error *err);
/* Keep reply (from model, stamped now) under key, replacing one there. */
int runstore_reply_put(struct runstore *rs, const char *key, const char *model, const char *reply,
		       struct q_error *err);
/* Pages read by any run, shared for max_age_s seconds. */
int runstore_page_get(struct runstore *rs, const char *url, long max_age_s, char **value, struct q_error *err);
int runstore_page_put(struct runstore *rs, const char *url, const char *value, struct q_error *err);

int runstore_set_status(struct runstore *rs, long id, enum run_status status, struct q_error *err);
int runstore_set_options(struct runstore *rs, long id, const json_t *options, struct q_error *err);
int runstore_save_report(struct runstore *rs, long id, enum run_status status, const json_t *report,
			 const char *md, struct q_error *err);

/* The queue. Claim the oldest queued run, or a running one whose lease
 * lapsed, for worker, leased for lease_ms: its id in *id, 0 when there is
 * none. */
int runstore_claim(struct runstore *rs, const char *worker, long lease_ms, long *id, struct q_error *err);
/* Renew worker's lease on run id; *cancel (may be NULL) set when a
 * cancel was asked for. Q_ECONFLICT when the run is no longer worker's
 * (its lease lapsed and another worker took it: stop working on it). */
int runstore_heartbeat(struct runstore *rs, long id, const char *worker, long lease_ms, int *cancel,
		       struct q_error *err);
/* Give the run up (the worker stops without finishing it): back to the
 * queue. */
int runstore_release(struct runstore *rs, long id, const char *worker, struct q_error *err);
/* Ask run id to stop: a queued run is cancelled at once; a running one
 * is flagged for its holder, which cancels it within a heartbeat (its
 * best report is kept). Q_ENOTFOUND when there is no such run; 0 (and
 * nothing done) for a run already ended. */
int runstore_request_cancel(struct runstore *rs, long id, struct q_error *err);
/* Delete a run with its events and caches. Q_EINVAL when it is queued or
 * running. */
int runstore_remove(struct runstore *rs, long id, struct q_error *err);

/* How often the SQLite store is polled by the waits below. */
#define RUNSTORE_POLL_MS 100L
/* Wait up to timeout_ms until run id has events after after_seq or has
 * ended: 1 when it has (or may have: read them and look again), 0 when
 * the time ran out; Q_ENOTFOUND for no such run. On PostgreSQL a
 * LISTEN/NOTIFY wakes it the moment any process, on any machine,
 * appends; on SQLite it polls every RUNSTORE_POLL_MS. */
int runstore_wait_events(struct runstore *rs, long id, long after_seq, long timeout_ms, struct q_error *err);
/* Wait up to timeout_ms for a new job: 1 when one may be queued (claim
 * to find out), 0 when the time ran out. A lapsed lease is not
 * announced: claim every few seconds anyway. */
int runstore_wait_jobs(struct runstore *rs, long timeout_ms, struct q_error *err);
/* Writes of a run's status and report through rs (runstore_set_status,
 * runstore_save_report) from now on apply only while worker holds the
 * run (the run's worker field names it); otherwise they change nothing
 * and return Q_ECONFLICT. A worker whose lease lapsed and whose run
 * another worker took so cannot overwrite the new holder's record. NULL
 * or "" lifts it. Q_EINVAL for a name of RUNSTORE_WORKER_MAX bytes or
 * more. */
int runstore_hold(struct runstore *rs, const char *worker, struct q_error *err);

/* A worker process as it registers itself (the workers table). */
struct runstore_worker {
	char name[RUNSTORE_WORKER_MAX]; /* "host:pid"; its runs' holders are "host:pid/N" */
	char host[256];
	long pid;
	long long started_ms, seen_ms; /* wall clock */
	int slots;                     /* runs it carries at once */
};
/* Register worker w, or renew its registration (seen_ms set to now;
 * started_ms kept from the first). */
int runstore_worker_beat(struct runstore *rs, const struct runstore_worker *w, struct q_error *err);
/* The worker is gone (it stops): its registration removed. */
int runstore_worker_gone(struct runstore *rs, const char *name, struct q_error *err);
/* The workers seen within max_age_ms, oldest first, at most
 * RUNSTORE_LIST_MAX; those on this host whose process is gone are left
 * out. A new array in *out (q_free it). */
int runstore_workers(struct runstore *rs, long max_age_ms, struct runstore_worker **out, size_t *n,
		     struct q_error *err);

/* For an event loop, which cannot block in runstore_wait_events: a
 * descriptor that turns readable when events may have been announced
 * (PostgreSQL: the LISTEN connection's socket; it changes after a
 * reconnect, so ask again after each runstore_watch_take), or -1 when
 * the backend announces nothing (SQLite: poll). Use rs for nothing else
 * while watching with it. */
int runstore_watch_fd(struct runstore *rs, struct q_error *err);
/* Take the announcements that arrived, without blocking: fn(ctx, run,
 * seq) for each (seq 0: the run's status changed), and fn(ctx, 0, 0)
 * when the connection was lost and made again (anything may have been
 * missed: look at every run watched). 0, or an error. */
int runstore_watch_take(struct runstore *rs, void (*fn)(void *ctx, long run, long seq), void *ctx,
			struct q_error *err);

/* The run's cache key under which its owner is kept. */
#define RUNSTORE_OWNER_KEY "owner"
/* Record this process (pid, host, start time) as the one carrying run id,
 * under RUNSTORE_OWNER_KEY: a running run without a lease (a foreground
 * run) whose owner is gone reads interrupted. Made of runstore_cache_put,
 * so no backend implements it. */
int runstore_set_owner(struct runstore *rs, long id, struct q_error *err);

#endif
