/*
 * worker.c - carrying queued runs (see worker.h).
 *
 * One control thread (the caller of worker_run) owns a connection to the
 * run records and every decision: it claims runs for free slots, renews
 * their leases, reads their cancel flags, and joins their threads. Each
 * run's thread only runs research_run on its own connection and says
 * when it is done. So the only state two threads share is a slot's
 * "finished" flag and its research_env's cancel flag, both atomic.
 *
 * Figures: a lease of RUNSTORE_LEASE_MS (30 s), renewed every
 * RUNSTORE_HEARTBEAT_MS (5 s): six renewals can fail (a busy database, a
 * pause) before another worker takes the run; a dead worker's runs wait
 * at most 30 s. Cancel flags are read every WORKER_CANCEL_CHECK_MS (0.5
 * s), and the run stops within a second of research_cancel: under 2 s
 * from `runs cancel`. The control loop wakes every WORKER_POLL_MS.
 */
#include "worker.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/clock.h"
#include "research.h"
#include "runstore.h"

struct slot {
	const struct worker_config *wc;
	pthread_mutex_t *log_mu;
	char name[RUNSTORE_WORKER_MAX]; /* the holder name, "host:pid/N" */
	pthread_t th;
	int busy;     /* a thread runs or is to be joined (control thread only) */
	int finished; /* atomic: the thread is done */
	int lost;     /* another worker took the run */
	int cancel_sent;
	int stopping; /* the worker stops: release the run when its thread ends */
	long run_id;
	double next_beat_ms, next_check_ms;
	struct research_env env;
	struct store store;
	char status[16]; /* research_result.status when done */
};

static void say(const struct worker_config *wc, pthread_mutex_t *mu, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(const struct worker_config *wc, pthread_mutex_t *mu, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!wc->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(mu);
	wc->log(wc->ctx, line);
	pthread_mutex_unlock(mu);
}

void worker_name(char *out, size_t size)
{
	char host[200] = "";

	gethostname(host, sizeof(host) - 1);
	snprintf(out, size, "%.100s:%ld", host, (long)getpid());
}

/* A run that cannot start (no store, no model): failed, with the reason
 * as its last event. */
static void fail_run(struct runstore *rs, long id, const char *msg)
{
	json_t *ev = json_pack("{s:s, s:s, s:I}", "type", "run_failed", "message", msg, "run", (json_int_t)id);

	if (ev)
		runstore_event_add(rs, id, ev, NULL, NULL);
	json_decref(ev);
	runstore_set_status(rs, id, RUN_FAILED, NULL);
}

/* The run's thread: its own connection, model client and research_run. */
static void *slot_main(void *arg)
{
	struct slot *sl = arg;
	const struct worker_config *wc = sl->wc;
	struct runstore *rs = NULL;
	struct llm_client *llm = NULL;
	void *model = NULL; /* llm_open's handle on llm */
	struct research_result res;
	struct run_record rec;
	struct q_error err = {0};
	int have_store = 0, rc;

	memset(&res, 0, sizeof(res));
	if ((rc = store_open(&sl->store, wc->home, &err)))
		goto out;
	have_store = 1;
	if ((rc = runstore_wrap(&rs, &sl->store, &err)) || (rc = runstore_hold(rs, sl->name, &err)))
		goto out;
	if ((rc = runstore_get(rs, sl->run_id, 0, &rec, &err)))
		goto out;
	rc = wc->llm_open ? wc->llm_open(wc->ctx, rec.options, &sl->store, &llm, &model, &err) : 0;
	run_record_release(&rec);
	if (rc) {
		fail_run(rs, sl->run_id, err.msg);
		snprintf(sl->status, sizeof(sl->status), "failed");
		goto out;
	}
	sl->env.store = &sl->store;
	sl->env.runs = rs;
	sl->env.llm = llm;
	rc = research_run(NULL, &sl->env, sl->run_id, &res, &err);
	snprintf(sl->status, sizeof(sl->status), "%s", res.status[0] ? res.status : "failed");
	research_result_release(&res);
out:
	if (!sl->status[0])
		snprintf(sl->status, sizeof(sl->status), "failed");
	if (rc && run_status_parse(sl->status) == RUN_FAILED && !__atomic_load_n(&sl->lost, __ATOMIC_RELAXED))
		say(wc, sl->log_mu, "run %ld: failed: %s", sl->run_id, err.msg);
	if (llm && wc->llm_close)
		wc->llm_close(wc->ctx, model);
	runstore_close(rs);
	if (have_store)
		store_close(&sl->store);
	assert(run_status_parse(sl->status) >= 0); /* slot_reap reads it as a status */
	__atomic_store_n(&sl->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Start run id on a free slot's thread. */
static int slot_start(struct slot *sl, long id, double now_ms, long heartbeat_ms)
{
	const struct worker_config *wc = sl->wc;

	assert(!sl->busy); /* a slot carries one run at a time */
	memset(&sl->env, 0, sizeof(sl->env));
	sl->env.home = wc->home;
	sl->env.file = wc->file;
	sl->run_id = id;
	sl->finished = 0;
	sl->lost = 0;
	sl->cancel_sent = 0;
	sl->stopping = 0;
	sl->status[0] = '\0';
	sl->next_beat_ms = now_ms + (double)heartbeat_ms;
	sl->next_check_ms = now_ms; /* a cancel asked for before the claim counts at once */
	if (pthread_create(&sl->th, NULL, slot_main, sl) != 0)
		return Q_ENOMEM;
	sl->busy = 1;
	return 0;
}

/* Renew the lease and read the cancel flag of a running slot's run. */
static void slot_watch(struct slot *sl, struct runstore *rs, double now_ms, long lease_ms, long heartbeat_ms)
{
	struct q_error err = {0};
	int cancel = 0, rc = 0;

	assert(sl->busy);
	if (sl->lost || now_ms < sl->next_check_ms)
		return;
	sl->next_check_ms = now_ms + WORKER_CANCEL_CHECK_MS;
	if (now_ms >= sl->next_beat_ms) {
		sl->next_beat_ms = now_ms + (double)heartbeat_ms;
		rc = runstore_heartbeat(rs, sl->run_id, sl->name, lease_ms, &cancel, &err);
	} else {
		struct run_record rec;
		if ((rc = runstore_get(rs, sl->run_id, 0, &rec, &err)) == 0) {
			cancel = rec.cancel_requested;
			if (strcmp(rec.worker, sl->name) != 0 || rec.status != RUN_RUNNING)
				rc = Q_ECONFLICT;
			run_record_release(&rec);
		}
	}
	if (rc == Q_ECONFLICT || rc == Q_ENOTFOUND) {
		__atomic_store_n(&sl->lost, 1, __ATOMIC_RELAXED);
		research_cancel(&sl->env);
		say(sl->wc, sl->log_mu, "run %ld: no longer ours (%s); stopped here", sl->run_id,
		    rc == Q_ENOTFOUND ? "removed" : "another worker took it over");
	} else if (rc == 0 && cancel && !sl->cancel_sent) {
		sl->cancel_sent = 1;
		research_cancel_final(&sl->env);
		say(sl->wc, sl->log_mu, "run %ld: cancel asked for; stopping it", sl->run_id);
	}
	/* other failures (a busy database): try again at the next check */
}

/* Join a slot whose thread is done; a run stopped with the worker goes
 * back to the queue. */
static void slot_reap(struct slot *sl, struct runstore *rs)
{
	struct q_error err = {0};

	assert(sl->busy && __atomic_load_n(&sl->finished, __ATOMIC_RELAXED));
	pthread_join(sl->th, NULL);
	sl->busy = 0;
	if (sl->lost)
		return;
	if (sl->stopping && run_status_parse(sl->status) == RUN_INTERRUPTED) {
		if (runstore_release(rs, sl->run_id, sl->name, &err) == 0)
			say(sl->wc, sl->log_mu, "run %ld: given back to the queue", sl->run_id);
		else
			say(sl->wc, sl->log_mu, "run %ld: %s", sl->run_id, err.msg);
		return;
	}
	if (run_status_parse(sl->status) != RUN_FAILED) /* a failure said why already */
		say(sl->wc, sl->log_mu, "run %ld: %s", sl->run_id, sl->status);
}

/* Claim queued runs for the free slots: how many were started. */
static int fill_slots(struct slot *sv, int n, struct runstore *rs, double now_ms, long lease_ms,
		      long heartbeat_ms)
{
	struct q_error err = {0};
	int i, started = 0;

	for (i = 0; i < n; i++) {
		long id = 0;
		if (sv[i].busy)
			continue;
		if (runstore_claim(rs, sv[i].name, lease_ms, &id, &err) || id == 0)
			break;
		if (slot_start(&sv[i], id, now_ms, heartbeat_ms)) {
			runstore_release(rs, id, sv[i].name, NULL);
			break;
		}
		say(sv[i].wc, sv[i].log_mu, "run %ld: claimed (%s)", id, sv[i].name);
		started++;
	}
	return started;
}

static void register_worker(struct runstore *rs, const char *name, int slots)
{
	struct runstore_worker w;

	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "%s", name);
	gethostname(w.host, sizeof(w.host) - 1);
	w.pid = (long)getpid();
	w.slots = slots;
	runstore_worker_beat(rs, &w, NULL);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int worker_run(const struct worker_config *wc, volatile int *stop, struct q_error *err)
{
	long lease_ms = wc->lease_ms > 0 ? wc->lease_ms : RUNSTORE_LEASE_MS;
	long heartbeat_ms = wc->heartbeat_ms > 0 ? wc->heartbeat_ms : RUNSTORE_HEARTBEAT_MS;
	int n = wc->slots < 1 ? 1 : wc->slots > WORKER_MAX_SLOTS ? WORKER_MAX_SLOTS : wc->slots;
	struct slot sv[WORKER_MAX_SLOTS];
	pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
	struct runstore *rs = NULL;
	char name[RUNSTORE_WORKER_MAX - 8];
	double idle_since, next_register = 0;
	int i, rc, any, ready_fd = wc->ready_fd;

	if ((rc = runstore_open(&rs, wc->home, err))) {
		if (ready_fd > 2)
			close(ready_fd);
		return rc;
	}
	worker_name(name, sizeof(name));
	memset(sv, 0, sizeof(sv));
	for (i = 0; i < n; i++) {
		sv[i].wc = wc;
		sv[i].log_mu = &log_mu;
		snprintf(sv[i].name, sizeof(sv[i].name), "%.100s/%d", name, i + 1);
	}
	say(wc, &log_mu, "worker %s: serving %s, %d run%s at once", name, wc->home, n, n == 1 ? "" : "s");
	idle_since = q_now_ms();
	for (;;) {
		double now = q_now_ms();
		if (__atomic_load_n(stop, __ATOMIC_RELAXED))
			break;
		if (now >= next_register) {
			register_worker(rs, name, n);
			next_register = now + (double)heartbeat_ms;
			if (ready_fd > 2) { /* registered: another --detach now sees this worker */
				close(ready_fd);
				ready_fd = -1;
			}
		}
		for (i = 0, any = 0; i < n; i++) {
			if (sv[i].busy && __atomic_load_n(&sv[i].finished, __ATOMIC_ACQUIRE))
				slot_reap(&sv[i], rs);
			else if (sv[i].busy)
				slot_watch(&sv[i], rs, now, lease_ms, heartbeat_ms);
		}
		fill_slots(sv, n, rs, now, lease_ms, heartbeat_ms);
		for (i = 0; i < n; i++)
			any |= sv[i].busy;
		if (any)
			idle_since = now;
		else if (wc->idle_exit_ms > 0 && now - idle_since >= (double)wc->idle_exit_ms) {
			say(wc, &log_mu, "worker %s: the queue has been empty %.0f s; exiting", name,
			    wc->idle_exit_ms / 1000.0);
			break;
		}
		/* PostgreSQL announces new jobs (LISTEN): woken at once; SQLite sleeps. */
		if (runstore_wait_jobs(rs, WORKER_POLL_MS, NULL) < 0)
			sleep_ms(WORKER_POLL_MS);
	}
	/* Stopping: interrupt what runs, keep renewing leases until every
	 * run has stopped, then give them back. */
	for (i = 0; i < n; i++)
		if (sv[i].busy) {
			sv[i].stopping = 1;
			research_cancel(&sv[i].env);
		}
	for (;;) {
		double now = q_now_ms();
		for (i = 0, any = 0; i < n; i++) {
			if (sv[i].busy && __atomic_load_n(&sv[i].finished, __ATOMIC_ACQUIRE))
				slot_reap(&sv[i], rs);
			else if (sv[i].busy)
				slot_watch(&sv[i], rs, now, lease_ms, heartbeat_ms);
			any |= sv[i].busy;
		}
		if (!any)
			break;
		sleep_ms(50);
	}
	runstore_worker_gone(rs, name, NULL);
	say(wc, &log_mu, "worker %s: stopped", name);
	runstore_close(rs);
	return 0;
}
