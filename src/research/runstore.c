/*
 * runstore.c - the run records' front (see runstore.h): status names,
 * the checks every backend shares, and the hand-over of each call to the
 * backend's operation (runstore_int.h). The SQL is in runstore_sqlite.c.
 *
 * Whether a run marked running is really carried is decided here, for
 * every backend: a worker's run by its lease (the worker renews it every
 * RUNSTORE_HEARTBEAT_MS; RUNSTORE_LEASE_MS without a renewal means its
 * worker died or hangs), a foreground run (no lease) by the process it
 * stored as its owner (pid, host and the process's start time, so a pid
 * reused by another program does not count).
 */
#include "runstore_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "runstore_pg.h"

static const char *const status_names[RUN_STATUS_N] = {"queued",    "running",     "done",  "stopped",
						       "cancelled", "interrupted", "failed"};

const char *run_status_name(enum run_status s)
{
	return (int)s >= 0 && s < RUN_STATUS_N ? status_names[s] : "failed";
}

int run_status_parse(const char *name)
{
	int i;

	for (i = 0; name && i < RUN_STATUS_N; i++)
		if (strcmp(name, status_names[i]) == 0)
			return i;
	return -1;
}

int run_status_final(enum run_status s)
{
	return s == RUN_DONE || s == RUN_STOPPED || s == RUN_CANCELLED || s == RUN_FAILED;
}

long long runstore_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A process's start time in clock ticks since boot (/proc/PID/stat field
 * 22), so a pid reused by another process is not taken for the run's;
 * -1 where /proc cannot tell. */
static long long proc_start_ticks(long pid)
{
	char path[64], buf[1024], *p;
	long long ticks = -1;
	size_t n;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "re")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')'))) /* the command name may hold spaces */
		return -1;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		ticks = strtoll(p, NULL, 10);
	return ticks;
}

int runstore_set_owner(struct runstore *rs, long id, struct q_error *err)
{
	char host[256] = "";
	json_t *o;
	char *text;
	int rc;

	gethostname(host, sizeof(host) - 1);
	o = json_pack("{s:I, s:s, s:I, s:I}", "pid", (json_int_t)getpid(), "host", host, "start_ticks",
		      (json_int_t)proc_start_ticks((long)getpid()), "since", (json_int_t)time(NULL));
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return q_error_set(err, Q_ENOMEM, "out of memory recording the run's process");
	rc = runstore_cache_put(rs, id, RUNSTORE_OWNER_KEY, text, err);
	free(text);
	return rc;
}

int runstore_process_alive(const char *host, long pid, long long start_ticks)
{
	char here[256] = "";

	gethostname(here, sizeof(here) - 1);
	if (strcmp(host ? host : "", here) != 0)
		return 1;
	if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
		return 0;
	return start_ticks < 0 || proc_start_ticks(pid) < 0 || proc_start_ticks(pid) == start_ticks;
}

/* Whether the owner a run stored is a live process. */
static int owner_alive(const char *owner_json)
{
	json_t *o = owner_json ? json_loads(owner_json, 0, NULL) : NULL;
	int alive;

	if (!o)
		return 0; /* never claimed: no process carries it */
	alive = runstore_process_alive(json_string_value(json_object_get(o, "host")),
				       (long)json_integer_value(json_object_get(o, "pid")),
				       (long long)json_integer_value(json_object_get(o, "start_ticks")));
	json_decref(o);
	return alive;
}

enum run_status runstore_status_now(const char *status_name, long long lease_until_ms, long long now_ms,
				    const char *owner_json)
{
	int s = run_status_parse(status_name);

	if (s < 0)
		return RUN_FAILED;
	if (s != RUN_RUNNING)
		return (enum run_status)s;
	if (lease_until_ms > 0)
		return lease_until_ms < now_ms ? RUN_INTERRUPTED : RUN_RUNNING;
	return owner_alive(owner_json) ? RUN_RUNNING : RUN_INTERRUPTED;
}

enum run_status runstore_status_held(enum run_status s, const char *worker)
{
	char host[256];
	const char *colon;
	long pid;

	if (s != RUN_RUNNING || !worker || !*worker || !(colon = strrchr(worker, ':')) ||
	    (size_t)(colon - worker) >= sizeof(host))
		return s;
	memcpy(host, worker, (size_t)(colon - worker));
	host[colon - worker] = '\0';
	pid = strtol(colon + 1, NULL, 10);
	if (pid <= 0)
		return s; /* not a worker's name: its lease decides */
	return runstore_process_alive(host, pid, -1) ? s : RUN_INTERRUPTED;
}

/* runstore_set_database's URL: set once at start, read-only after. */
static char *shared_database;

int runstore_set_database(const char *database_url, struct q_error *err)
{
	char *copy = NULL;

	if (database_url && *database_url && !(copy = q_strdup(database_url)))
		return q_error_set(err, Q_ENOMEM, "out of memory");
	q_free(shared_database);
	shared_database = copy;
	return 0;
}

const char *runstore_database(void) { return shared_database; }

int runstore_open(struct runstore **out, const char *home, struct q_error *err)
{
	*out = NULL;
	if (shared_database)
		return runstore_pg_open(out, shared_database, err);
	return runstore_sqlite_open(out, home, err);
}

int runstore_open_db(struct runstore **out, const char *home, const char *database_url, struct q_error *err)
{
	*out = NULL;
	if (database_url && *database_url)
		return runstore_pg_open(out, database_url, err);
	return runstore_sqlite_open(out, home, err);
}

const char *runstore_backend(const struct runstore *rs) { return rs->ops->name; }

int runstore_reopen(struct runstore **out, struct runstore *rs, struct q_error *err)
{
	*out = NULL;
	if (!rs->ops->reopen)
		return q_error_set(err, Q_EUNSUPPORTED, "the %s run store opens by its home", rs->ops->name);
	return rs->ops->reopen(out, rs, err);
}

int runstore_wrap(struct runstore **out, struct store *s, struct q_error *err)
{
	*out = NULL;
	if (shared_database)
		return runstore_pg_open(out, shared_database, err);
	return runstore_sqlite_wrap(out, s, err);
}

int runstore_wrap_sqlite(struct runstore **out, struct store *s, struct q_error *err)
{
	*out = NULL;
	return runstore_sqlite_wrap(out, s, err);
}

void runstore_close(struct runstore *rs)
{
	if (rs)
		rs->ops->close(rs);
}

void run_record_release(struct run_record *r)
{
	if (!r)
		return;
	q_free(r->question);
	json_decref(r->options);
	json_decref(r->report);
	q_free(r->report_md);
	memset(r, 0, sizeof(*r));
}

static int bad_status(enum run_status s, struct q_error *err)
{
	if ((int)s < 0 || s >= RUN_STATUS_N)
		return q_error_set(err, Q_EINVAL, "unknown run status %d", (int)s);
	return 0;
}

static int bad_worker(const char *worker, struct q_error *err)
{
	if (!worker || strlen(worker) >= RUNSTORE_WORKER_MAX)
		return q_error_set(err, Q_EINVAL, "a worker's name must be 1 to %d bytes",
				   RUNSTORE_WORKER_MAX - 1);
	return 0;
}

int runstore_create(struct runstore *rs, const char *question, const json_t *options, enum run_status status,
		    const char *worker, long *id, struct q_error *err)
{
	*id = 0;
	if (!question)
		return q_error_set(err, Q_EINVAL, "a run needs a question");
	if (bad_status(status, err) || (worker && bad_worker(worker, err)))
		return err ? err->code : Q_EINVAL;
	return rs->ops->create(rs, question, options, status, worker, id, err);
}

int runstore_get(struct runstore *rs, long id, int with_report, struct run_record *out, struct q_error *err)
{
	memset(out, 0, sizeof(*out));
	return rs->ops->get(rs, id, with_report, out, err);
}

int runstore_list(struct runstore *rs, const struct runstore_filter *f, struct run_record **out, size_t *n,
		  struct q_error *err)
{
	struct runstore_filter g = {-1, NULL, 0, 0};

	*out = NULL;
	*n = 0;
	if (f)
		g = *f;
	if (g.limit <= 0)
		g.limit = 50;
	if (g.limit > RUNSTORE_LIST_MAX)
		g.limit = RUNSTORE_LIST_MAX;
	if (g.status >= RUN_STATUS_N)
		return q_error_set(err, Q_EINVAL, "unknown run status %d", g.status);
	return rs->ops->list(rs, &g, out, n, err);
}

void runstore_list_free(struct run_record *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		run_record_release(&v[i]);
	q_free(v);
}

int runstore_counts(struct runstore *rs, long counts[RUN_STATUS_N], struct q_error *err)
{
	memset(counts, 0, sizeof(long) * RUN_STATUS_N);
	return rs->ops->counts(rs, counts, err);
}

int runstore_event_add(struct runstore *rs, long id, json_t *event, long *seq, struct q_error *err)
{
	long dummy;

	if (!json_is_object(event))
		return q_error_set(err, Q_EINVAL, "an event is a JSON object");
	return rs->ops->event_add(rs, id, event, seq ? seq : &dummy, err);
}

int runstore_events(struct runstore *rs, long id, long after_seq, int max, json_t **events, struct q_error *err)
{
	*events = NULL;
	if (max <= 0 || max > RUNSTORE_EVENTS_MAX)
		max = RUNSTORE_EVENTS_MAX;
	return rs->ops->events(rs, id, after_seq < 0 ? 0 : after_seq, max, events, err);
}

int runstore_cache_get(struct runstore *rs, long id, const char *key, char **value, struct q_error *err)
{
	*value = NULL;
	return rs->ops->cache_get(rs, id, key, value, err);
}

int runstore_cache_put(struct runstore *rs, long id, const char *key, const char *value, struct q_error *err)
{
	return rs->ops->cache_put(rs, id, key, value, err);
}

int runstore_cache_each(struct runstore *rs, long id, const char *prefix,
			int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
			struct q_error *err)
{
	if (!rs->ops->cache_each)
		return q_error_set(err, Q_EUNSUPPORTED, "the %s run store cannot list a run's cache",
				   rs->ops->name);
	return rs->ops->cache_each(rs, id, prefix ? prefix : "", fn, ctx, err);
}

int runstore_reply_get(struct runstore *rs, const char *key, char **reply, struct q_error *err)
{
	*reply = NULL;
	return rs->ops->reply_get ? rs->ops->reply_get(rs, key, reply, err) : 0;
}

int runstore_reply_put(struct runstore *rs, const char *key, const char *model, const char *reply,
		       struct q_error *err)
{
	return rs->ops->reply_put ? rs->ops->reply_put(rs, key, model ? model : "", reply, err) : 0;
}

int runstore_page_get(struct runstore *rs, const char *url, long max_age_s, char **value, struct q_error *err)
{
	*value = NULL;
	return rs->ops->page_get(rs, url, max_age_s, value, err);
}

int runstore_page_put(struct runstore *rs, const char *url, const char *value, struct q_error *err)
{
	return rs->ops->page_put(rs, url, value, err);
}

int runstore_set_status(struct runstore *rs, long id, enum run_status status, struct q_error *err)
{
	if (bad_status(status, err))
		return Q_EINVAL;
	return rs->ops->set_status(rs, id, status, err);
}

int runstore_set_options(struct runstore *rs, long id, const json_t *options, struct q_error *err)
{
	return rs->ops->set_options(rs, id, options, err);
}

int runstore_save_report(struct runstore *rs, long id, enum run_status status, const json_t *report,
			 const char *md, struct q_error *err)
{
	if (bad_status(status, err))
		return Q_EINVAL;
	return rs->ops->save_report(rs, id, status, report, md, err);
}

int runstore_claim(struct runstore *rs, const char *worker, long lease_ms, long *id, struct q_error *err)
{
	*id = 0;
	if (bad_worker(worker, err))
		return Q_EINVAL;
	return rs->ops->claim(rs, worker, lease_ms > 0 ? lease_ms : RUNSTORE_LEASE_MS, id, err);
}

int runstore_heartbeat(struct runstore *rs, long id, const char *worker, long lease_ms, int *cancel,
		       struct q_error *err)
{
	int dummy;

	if (bad_worker(worker, err))
		return Q_EINVAL;
	return rs->ops->heartbeat(rs, id, worker, lease_ms > 0 ? lease_ms : RUNSTORE_LEASE_MS,
				  cancel ? cancel : &dummy, err);
}

int runstore_release(struct runstore *rs, long id, const char *worker, struct q_error *err)
{
	if (bad_worker(worker, err))
		return Q_EINVAL;
	return rs->ops->release(rs, id, worker, err);
}

int runstore_request_cancel(struct runstore *rs, long id, struct q_error *err)
{
	return rs->ops->request_cancel(rs, id, err);
}

int runstore_remove(struct runstore *rs, long id, struct q_error *err)
{
	return rs->ops->remove(rs, id, err);
}

static void poll_sleep(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

int runstore_wait_events(struct runstore *rs, long id, long after_seq, long timeout_ms, struct q_error *err)
{
	double start_ms = q_now_ms();
	struct run_record r;
	int rc, ready;

	if (rs->ops->wait_events)
		return rs->ops->wait_events(rs, id, after_seq, timeout_ms, err);
	for (;;) {
		if ((rc = runstore_get(rs, id, 0, &r, err)))
			return rc;
		ready = r.last_seq > after_seq || run_status_final(r.status);
		run_record_release(&r);
		if (ready)
			return 1;
		double left = (double)timeout_ms - (q_now_ms() - start_ms);
		if (left <= 0)
			return 0;
		poll_sleep(left < RUNSTORE_POLL_MS ? (long)left + 1 : RUNSTORE_POLL_MS);
	}
}

int runstore_wait_jobs(struct runstore *rs, long timeout_ms, struct q_error *err)
{
	if (rs->ops->wait_jobs)
		return rs->ops->wait_jobs(rs, timeout_ms, err);
	/* SQLite: nothing announces a job; claim again soon. */
	poll_sleep(timeout_ms < 5 * RUNSTORE_POLL_MS ? (timeout_ms > 0 ? timeout_ms : 0)
						     : 5 * RUNSTORE_POLL_MS);
	return 1;
}

int runstore_hold(struct runstore *rs, const char *worker, struct q_error *err)
{
	if (worker && strlen(worker) >= RUNSTORE_WORKER_MAX)
		return bad_worker(worker, err);
	snprintf(rs->holder, sizeof(rs->holder), "%s", worker ? worker : "");
	return 0;
}

int runstore_worker_beat(struct runstore *rs, const struct runstore_worker *w, struct q_error *err)
{
	if (bad_worker(w->name, err))
		return Q_EINVAL;
	if (!rs->ops->worker_beat) /* a backend without a workers registry */
		return 0;
	return rs->ops->worker_beat(rs, w, err);
}

int runstore_worker_gone(struct runstore *rs, const char *name, struct q_error *err)
{
	if (bad_worker(name, err))
		return Q_EINVAL;
	if (!rs->ops->worker_gone)
		return 0;
	return rs->ops->worker_gone(rs, name, err);
}

int runstore_workers(struct runstore *rs, long max_age_ms, struct runstore_worker **out, size_t *n,
		     struct q_error *err)
{
	size_t i, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!rs->ops->workers)
		return 0;
	if ((rc = rs->ops->workers(rs, runstore_now_ms() - max_age_ms, out, n, err)))
		return rc;
	for (i = 0; i < *n; i++)
		if (runstore_process_alive((*out)[i].host, (*out)[i].pid, -1))
			(*out)[k++] = (*out)[i];
	*n = k;
	return 0;
}

int runstore_watch_fd(struct runstore *rs, struct q_error *err)
{
	return rs->ops->watch_fd ? rs->ops->watch_fd(rs, err) : -1;
}

int runstore_watch_take(struct runstore *rs, void (*fn)(void *ctx, long run, long seq), void *ctx,
			struct q_error *err)
{
	return rs->ops->watch_take ? rs->ops->watch_take(rs, fn, ctx, err) : 0;
}
