/*
 * Unit tests: the run records (src/research/runstore.h) on the SQLite
 * store: runs created, read, listed with filters and pages; events
 * numbered from 1 per run and read after a number; the caches; the
 * queue (claim of queued runs and of lapsed leases, heartbeats that tell
 * a worker it lost its run, cancels, release) and two threads on two
 * connections claiming 50 jobs, each exactly once.
 *
 * Every case but the first runs twice: on SQLite, then on PostgreSQL
 * (a fresh database on the cluster of QUARRY_TEST_DATABASE_URL, which
 * make test starts when PostgreSQL is installed; skipped without it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/research/pgconn.h"
#include "../../src/research/runstore.h"

static char home[256];
static char pg_url[1024];  /* the fresh database, "" without PostgreSQL */
static const char *db_url; /* the backend of the case running: NULL for SQLite */
static int pg_mode;

static int use_sqlite(void **state)
{
	(void)state;
	pg_mode = 0;
	db_url = NULL;
	return 0;
}

static int use_pg(void **state)
{
	(void)state;
	pg_mode = 1;
	db_url = pg_url;
	return 0;
}

/* A database of its own on the test cluster, for the PostgreSQL cases. */
static void make_pg_database(void)
{
	const char *u = getenv("QUARRY_TEST_DATABASE_URL");
	struct pgconn *c = NULL;
	struct q_error err = {0};
	char sql[128];

	if (!u || !*u || !strrchr(u, '/') || pgconn_open(&c, u, NULL, &err))
		return;
	snprintf(sql, sizeof(sql), "CREATE DATABASE quarry_rs%ld", (long)getpid());
	if (pgconn_exec(c, sql, 0, NULL, NULL, &err) == 0)
		snprintf(pg_url, sizeof(pg_url), "%.*s/quarry_rs%ld", (int)(strrchr(u, '/') - u), u,
			 (long)getpid());
	pgconn_close(c);
}

static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/quarry-runstore-XXXXXX");
	assert_non_null(mkdtemp(home));
	make_pg_database();
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", home);
	return 0;
}

static struct runstore *open_rs(void)
{
	struct runstore *rs = NULL;
	struct q_error err = {0};

	if (pg_mode && !pg_url[0]) {
		fprintf(stderr, "skipped: no QUARRY_TEST_DATABASE_URL (PostgreSQL)\n");
		skip();
	}
	if (runstore_open_db(&rs, home, db_url, &err))
		fail_msg("runstore_open: %s", err.msg);
	return rs;
}

static long new_run(struct runstore *rs, const char *q, enum run_status s, const char *worker)
{
	struct q_error err = {0};
	json_t *o = json_pack("{s:s, s:i}", "question", q, "depth", 2);
	long id = 0;

	assert_int_equal(runstore_create(rs, q, o, s, worker, &id, &err), 0);
	assert_true(id > 0);
	json_decref(o);
	return id;
}

/* Put a report on id, so it is done and leaves the queue. */
static void finish(struct runstore *rs, long id)
{
	json_t *rep = json_pack("{s:s}", "title", "t");

	assert_int_equal(runstore_save_report(rs, id, RUN_DONE, rep, "# t\n", NULL), 0);
	json_decref(rep);
}

static void test_status_names(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < RUN_STATUS_N; i++)
		assert_int_equal(run_status_parse(run_status_name((enum run_status)i)), i);
	assert_int_equal(run_status_parse("nonsense"), -1);
	assert_int_equal(run_status_parse(NULL), -1);
	assert_string_equal(run_status_name(RUN_INTERRUPTED), "interrupted");
	assert_true(run_status_final(RUN_DONE) && run_status_final(RUN_CANCELLED) &&
		    run_status_final(RUN_STOPPED) && run_status_final(RUN_FAILED));
	assert_false(run_status_final(RUN_QUEUED) || run_status_final(RUN_RUNNING) ||
		     run_status_final(RUN_INTERRUPTED));
}

static void test_create_get_list(void **state)
{
	struct runstore *rs = open_rs();
	struct run_record rec, *v = NULL;
	struct runstore_filter f = {-1, NULL, 0, 0};
	struct q_error err = {0};
	long ids[7], counts[RUN_STATUS_N];
	size_t n = 0;
	int i;

	(void)state;
	for (i = 0; i < 7; i++) {
		char q[64];
		snprintf(q, sizeof(q), "%s question %d", i % 2 ? "Odd" : "even", i);
		ids[i] = new_run(rs, q, RUN_QUEUED, NULL);
	}
	finish(rs, ids[0]);
	assert_int_equal(runstore_get(rs, ids[0], 1, &rec, &err), 0);
	assert_string_equal(rec.question, "even question 0");
	assert_int_equal(rec.status, RUN_DONE);
	assert_int_equal(json_integer_value(json_object_get(rec.options, "depth")), 2);
	assert_string_equal(json_string_value(json_object_get(rec.report, "title")), "t");
	assert_string_equal(rec.report_md, "# t\n");
	assert_true(rec.created > 0 && rec.updated >= rec.created);
	assert_int_equal(rec.last_seq, 0);
	run_record_release(&rec);
	assert_int_equal(runstore_get(rs, ids[0], 0, &rec, &err), 0);
	assert_null(rec.report);
	assert_null(rec.report_md);
	run_record_release(&rec);
	assert_int_equal(runstore_get(rs, 99999, 0, &rec, &err), Q_ENOTFOUND);

	/* newest first */
	assert_int_equal(runstore_list(rs, &f, &v, &n, &err), 0);
	assert_int_equal(n, 7);
	for (i = 0; i < 7; i++)
		assert_int_equal(v[i].id, ids[6 - i]);
	assert_null(v[0].report);
	runstore_list_free(v, n);

	/* filters: status, text (case-insensitive), paging */
	f.status = RUN_DONE;
	assert_int_equal(runstore_list(rs, &f, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, ids[0]);
	runstore_list_free(v, n);
	f.status = RUN_QUEUED;
	f.text = "odd";
	assert_int_equal(runstore_list(rs, &f, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	runstore_list_free(v, n);
	f.status = -1;
	f.text = NULL;
	f.limit = 3;
	assert_int_equal(runstore_list(rs, &f, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[2].id, ids[4]);
	f.before_id = v[2].id;
	runstore_list_free(v, n);
	assert_int_equal(runstore_list(rs, &f, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, ids[3]);
	assert_int_equal(v[2].id, ids[1]);
	f.before_id = v[2].id;
	runstore_list_free(v, n);
	assert_int_equal(runstore_list(rs, &f, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	runstore_list_free(v, n);

	assert_int_equal(runstore_counts(rs, counts, &err), 0);
	assert_int_equal(counts[RUN_DONE], 1);
	assert_int_equal(counts[RUN_QUEUED], 6);
	assert_int_equal(counts[RUN_RUNNING], 0);
	runstore_close(rs);
}

static void test_events(void **state)
{
	struct runstore *rs = open_rs(), *rs2 = open_rs();
	struct q_error err = {0};
	struct run_record rec;
	json_t *evs = NULL;
	long a = new_run(rs, "events a", RUN_RUNNING, "w"), b = new_run(rs, "events b", RUN_RUNNING, "w");
	long seq = 0;
	int i;

	(void)state;
	/* two runs, two connections, interleaved: each run counts from 1 */
	for (i = 1; i <= 10; i++) {
		json_t *ev = json_pack("{s:s, s:i}", "type", "step", "i", i);
		assert_int_equal(runstore_event_add(i % 2 ? rs : rs2, a, ev, &seq, &err), 0);
		assert_int_equal(seq, i);
		assert_int_equal(json_integer_value(json_object_get(ev, "seq")), i);
		json_decref(ev);
		if (i <= 3) {
			ev = json_pack("{s:s}", "type", "other");
			assert_int_equal(runstore_event_add(rs2, b, ev, &seq, &err), 0);
			assert_int_equal(seq, i);
			json_decref(ev);
		}
	}
	assert_int_equal(runstore_events(rs, a, 0, 0, &evs, &err), 0);
	assert_int_equal(json_array_size(evs), 10);
	for (i = 0; i < 10; i++) {
		json_t *ev = json_array_get(evs, (size_t)i);
		assert_int_equal(json_integer_value(json_object_get(ev, "seq")), i + 1);
		assert_int_equal(json_integer_value(json_object_get(ev, "i")), i + 1);
	}
	json_decref(evs);
	assert_int_equal(runstore_events(rs, a, 7, 0, &evs, &err), 0);
	assert_int_equal(json_array_size(evs), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 0), "seq")), 8);
	json_decref(evs);
	assert_int_equal(runstore_events(rs, a, 2, 4, &evs, &err), 0);
	assert_int_equal(json_array_size(evs), 4);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 3), "seq")), 6);
	json_decref(evs);
	assert_int_equal(runstore_events(rs, a, 10, 0, &evs, &err), 0);
	assert_int_equal(json_array_size(evs), 0);
	json_decref(evs);
	assert_int_equal(runstore_get(rs, a, 0, &rec, &err), 0);
	assert_int_equal(rec.last_seq, 10);
	run_record_release(&rec);
	assert_int_equal(runstore_get(rs, b, 0, &rec, &err), 0);
	assert_int_equal(rec.last_seq, 3);
	run_record_release(&rec);
	/* not an object: refused, nothing numbered */
	evs = json_array();
	assert_int_equal(runstore_event_add(rs, a, evs, &seq, &err), Q_EINVAL);
	json_decref(evs);
	runstore_close(rs2);
	runstore_close(rs);
}

static void test_caches(void **state)
{
	struct runstore *rs = open_rs();
	struct q_error err = {0};
	long a = new_run(rs, "cache a", RUN_RUNNING, NULL), b = new_run(rs, "cache b", RUN_RUNNING, NULL);
	char *v = NULL;

	(void)state;
	assert_int_equal(runstore_cache_get(rs, a, "k", &v, &err), 0);
	assert_null(v);
	assert_int_equal(runstore_cache_put(rs, a, "k", "one", &err), 0);
	assert_int_equal(runstore_cache_put(rs, a, "k", "two", &err), 0);
	assert_int_equal(runstore_cache_get(rs, a, "k", &v, &err), 0);
	assert_string_equal(v, "two");
	free(v);
	assert_int_equal(runstore_cache_get(rs, b, "k", &v, &err), 0);
	assert_null(v); /* a run's own */

	assert_int_equal(runstore_page_get(rs, "http://x/", 3600, &v, &err), 0);
	assert_null(v);
	assert_int_equal(runstore_page_put(rs, "http://x/", "{\"text\":\"p\"}", &err), 0);
	assert_int_equal(runstore_page_get(rs, "http://x/", 3600, &v, &err), 0);
	assert_string_equal(v, "{\"text\":\"p\"}");
	free(v);
	assert_int_equal(runstore_page_get(rs, "http://x/", -5, &v, &err), 0);
	assert_null(v); /* older than asked for */

	/* removing a run takes its cache along */
	finish(rs, a);
	assert_int_equal(runstore_remove(rs, a, &err), 0);
	assert_int_equal(runstore_cache_get(rs, a, "k", &v, &err), 0);
	assert_null(v);
	runstore_close(rs);
}

/* runstore_cache_each's visits, keys and values joined. */
static int collect(void *ctx, const char *key, const char *value)
{
	char *buf = ctx;
	size_t n = strlen(buf);

	snprintf(buf + n, 256 - n, "%s=%s;", key, value);
	return strstr(key, "stop") != NULL;
}

/* The model client's records: a run's replies listed by prefix (on both
 * backends, in byte order of key whatever the locale), and the replies
 * shared by every run, which PostgreSQL keeps nowhere by design (each
 * machine's SQLite does): it finds nothing, never crashes. */
static void test_replies(void **state)
{
	struct runstore *rs = open_rs();
	struct q_error err = {0};
	long a = new_run(rs, "replies a", RUN_RUNNING, NULL), b = new_run(rs, "replies b", RUN_RUNNING, NULL);
	char seen[256] = "", *v = NULL;
	int rc;

	(void)state;
	assert_int_equal(runstore_cache_put(rs, a, "llm:2", "{\"n\":2}", &err), 0);
	assert_int_equal(runstore_cache_put(rs, a, "llm:1", "{\"n\":1}", &err), 0);
	assert_int_equal(runstore_cache_put(rs, a, "plan", "p", &err), 0);
	assert_int_equal(runstore_cache_put(rs, b, "llm:3", "{\"n\":3}", &err), 0);
	assert_int_equal(runstore_cache_put(rs, a, "LLM:0", "upper", &err), 0);
	assert_int_equal(runstore_cache_put(rs, a, "llm", "short", &err), 0);
	rc = runstore_cache_each(rs, a, "llm:", collect, seen, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(seen, "llm:1={\"n\":1};llm:2={\"n\":2};");
	seen[0] = 0;
	assert_int_equal(runstore_cache_put(rs, a, "llm:1stop", "x", &err), 0);
	assert_int_equal(runstore_cache_put(rs, a, "llm:1_", "y", &err), 0);
	assert_int_equal(runstore_cache_put(rs, a, "llm:1Z", "z", &err), 0);
	assert_int_equal(runstore_cache_each(rs, a, "llm:", collect, seen, &err), 0);
	/* byte order ('Z' < '_' < 's'), and fn stopped it */
	assert_string_equal(seen, "llm:1={\"n\":1};llm:1Z=z;llm:1_=y;llm:1stop=x;");
	seen[0] = 0;
	assert_int_equal(runstore_cache_each(rs, 99999, "llm:", collect, seen, &err), 0);
	assert_string_equal(seen, ""); /* no such run: nothing */

	assert_int_equal(runstore_reply_get(rs, "h1", &v, &err), 0);
	assert_null(v);
	assert_int_equal(runstore_reply_put(rs, "h1", "m", "{\"content\":\"c\"}", &err), 0);
	assert_int_equal(runstore_reply_put(rs, "h1", NULL, "{\"content\":\"d\"}", &err), 0);
	assert_int_equal(runstore_reply_get(rs, "h1", &v, &err), 0);
	if (strcmp(runstore_backend(rs), "sqlite") == 0)
		assert_string_equal(v, "{\"content\":\"d\"}");
	else
		assert_null(v); /* kept nowhere */
	free(v);
	runstore_close(rs);
}

static void test_claim_lease_heartbeat(void **state)
{
	struct runstore *rs = open_rs();
	struct q_error err = {0};
	struct run_record rec;
	long a, b, id = -1;
	int cancel = -1;

	(void)state;
	/* drain what other tests left queued */
	while (runstore_claim(rs, "drain", 600000, &id, &err) == 0 && id > 0)
		finish(rs, id);
	a = new_run(rs, "job a", RUN_QUEUED, NULL);
	b = new_run(rs, "job b", RUN_QUEUED, NULL);
	assert_int_equal(runstore_claim(rs, "w1", 60000, &id, &err), 0);
	assert_int_equal(id, a); /* the oldest first */
	assert_int_equal(runstore_get(rs, a, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_RUNNING);
	assert_string_equal(rec.worker, "w1");
	run_record_release(&rec);
	assert_int_equal(runstore_claim(rs, "w2", 60000, &id, &err), 0);
	assert_int_equal(id, b);
	assert_int_equal(runstore_claim(rs, "w3", 60000, &id, &err), 0);
	assert_int_equal(id, 0); /* nothing left: both leases are live */

	assert_int_equal(runstore_heartbeat(rs, a, "w1", 60000, &cancel, &err), 0);
	assert_int_equal(cancel, 0);
	assert_int_equal(runstore_heartbeat(rs, a, "w2", 60000, &cancel, &err), Q_ECONFLICT);

	/* w1's lease lapses: the run reads interrupted and w3 takes it */
	assert_int_equal(runstore_heartbeat(rs, a, "w1", 1, &cancel, &err), 0);
	usleep(20 * 1000);
	assert_int_equal(runstore_get(rs, a, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_INTERRUPTED);
	run_record_release(&rec);
	assert_int_equal(runstore_claim(rs, "w3", 60000, &id, &err), 0);
	assert_int_equal(id, a);
	assert_int_equal(runstore_heartbeat(rs, a, "w1", 60000, &cancel, &err), Q_ECONFLICT);
	assert_int_equal(runstore_heartbeat(rs, a, "w3", 60000, &cancel, &err), 0);
	assert_int_equal(runstore_heartbeat(rs, 99999, "w3", 60000, &cancel, &err), Q_ENOTFOUND);

	/* resuming in the foreground (running again) keeps a live lease */
	assert_int_equal(runstore_set_status(rs, a, RUN_RUNNING, &err), 0);
	assert_int_equal(runstore_heartbeat(rs, a, "w3", 60000, &cancel, &err), 0);

	/* release: back in the queue, for anyone; not for someone else to do */
	assert_int_equal(runstore_release(rs, b, "w1", &err), Q_ECONFLICT);
	assert_int_equal(runstore_release(rs, b, "w2", &err), 0);
	assert_int_equal(runstore_get(rs, b, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_QUEUED);
	assert_string_equal(rec.worker, "");
	run_record_release(&rec);
	assert_int_equal(runstore_claim(rs, "w1", 60000, &id, &err), 0);
	assert_int_equal(id, b);

	/* a worker name too long for the record */
	{
		char name[RUNSTORE_WORKER_MAX + 8];
		memset(name, 'x', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		assert_int_equal(runstore_claim(rs, name, 60000, &id, &err), Q_EINVAL);
	}
	finish(rs, a);
	finish(rs, b);
	runstore_close(rs);
}

static void test_cancel_remove(void **state)
{
	struct runstore *rs = open_rs(), *other = open_rs();
	struct q_error err = {0};
	struct run_record rec;
	long q, r, d, id = 0, counts[RUN_STATUS_N];
	int cancel = 0;

	(void)state;
	while (runstore_claim(rs, "drain", 600000, &id, &err) == 0 && id > 0)
		finish(rs, id);
	q = new_run(rs, "to cancel queued", RUN_QUEUED, NULL);
	r = new_run(rs, "to cancel running", RUN_QUEUED, NULL);
	d = new_run(rs, "done already", RUN_QUEUED, NULL);
	finish(rs, d);
	assert_int_equal(runstore_remove(rs, q, &err), Q_EINVAL); /* queued */

	/* queued: cancelled at once, and no worker gets it */
	assert_int_equal(runstore_request_cancel(other, q, &err), 0);
	assert_int_equal(runstore_get(rs, q, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_CANCELLED);
	assert_int_equal(rec.cancel_requested, 1);
	run_record_release(&rec);
	assert_int_equal(runstore_claim(rs, "w", 60000, &id, &err), 0);
	assert_int_equal(id, r);

	/* running: flagged for the holder's heartbeat, from another connection */
	assert_int_equal(runstore_remove(rs, r, &err), Q_EINVAL); /* running */
	assert_int_equal(runstore_heartbeat(rs, r, "w", 60000, &cancel, &err), 0);
	assert_int_equal(cancel, 0);
	assert_int_equal(runstore_request_cancel(other, r, &err), 0);
	assert_int_equal(runstore_get(rs, r, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_RUNNING);
	run_record_release(&rec);
	assert_int_equal(runstore_heartbeat(rs, r, "w", 60000, &cancel, &err), 0);
	assert_int_equal(cancel, 1);
	{
		json_t *rep = json_object();
		assert_int_equal(runstore_save_report(rs, r, RUN_CANCELLED, rep, "best\n", &err), 0);
		json_decref(rep);
	}
	assert_int_equal(runstore_get(rs, r, 1, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_CANCELLED);
	assert_string_equal(rec.report_md, "best\n");
	run_record_release(&rec);

	/* ended: nothing done */
	assert_int_equal(runstore_request_cancel(other, d, &err), 0);
	assert_int_equal(runstore_get(rs, d, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_DONE);
	assert_int_equal(rec.cancel_requested, 0);
	run_record_release(&rec);
	assert_int_equal(runstore_request_cancel(other, 99999, &err), Q_ENOTFOUND);

	assert_int_equal(runstore_counts(rs, counts, &err), 0);
	assert_true(counts[RUN_CANCELLED] >= 2);
	assert_int_equal(runstore_remove(rs, q, &err), 0);
	assert_int_equal(runstore_remove(rs, r, &err), 0);
	assert_int_equal(runstore_remove(rs, r, &err), Q_ENOTFOUND);
	runstore_close(other);
	runstore_close(rs);
}

/* A foreground run (running, no lease) is live while its owner process is. */
static void test_foreground_owner(void **state)
{
	struct runstore *rs = open_rs();
	struct q_error err = {0};
	struct run_record rec;
	long a = new_run(rs, "foreground", RUN_RUNNING, NULL), counts[RUN_STATUS_N];
	char owner[512];
	pid_t pid;

	(void)state;
	assert_int_equal(runstore_get(rs, a, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_INTERRUPTED); /* nobody said they carry it */
	run_record_release(&rec);
	assert_int_equal(runstore_set_owner(rs, a, &err), 0);
	assert_int_equal(runstore_get(rs, a, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_RUNNING);
	run_record_release(&rec);
	assert_int_equal(runstore_remove(rs, a, &err), Q_EINVAL);
	/* a process that is gone */
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	{
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		snprintf(owner, sizeof(owner), "{\"pid\":%ld,\"host\":\"%s\",\"start_ticks\":-1}", (long)pid,
			 host);
	}
	assert_int_equal(runstore_cache_put(rs, a, RUNSTORE_OWNER_KEY, owner, &err), 0);
	assert_int_equal(runstore_get(rs, a, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_INTERRUPTED);
	run_record_release(&rec);
	assert_int_equal(runstore_counts(rs, counts, &err), 0);
	assert_true(counts[RUN_INTERRUPTED] >= 1);
	/* no worker claims a foreground run */
	{
		long id = 0;
		while (runstore_claim(rs, "drain", 600000, &id, &err) == 0 && id > 0) {
			assert_int_not_equal(id, a);
			finish(rs, id);
		}
	}
	assert_int_equal(runstore_remove(rs, a, &err), 0);
	runstore_close(rs);
}

/* A worker that lost its run cannot write its status or report. */
static void test_hold(void **state)
{
	struct runstore *rs = open_rs(), *old = open_rs();
	struct q_error err = {0};
	struct run_record rec;
	json_t *rep = json_object();
	long id = 0, a;
	int cancel;

	(void)state;
	while (runstore_claim(rs, "drain", 600000, &id, &err) == 0 && id > 0)
		finish(rs, id);
	a = new_run(rs, "held", RUN_QUEUED, NULL);
	assert_int_equal(runstore_claim(old, "old/1", 1, &id, &err), 0);
	assert_int_equal(id, a);
	assert_int_equal(runstore_hold(old, "old/1", &err), 0);
	usleep(20 * 1000);
	assert_int_equal(runstore_claim(rs, "new/1", 60000, &id, &err), 0);
	assert_int_equal(id, a);
	assert_int_equal(runstore_set_status(old, a, RUN_INTERRUPTED, &err), Q_ECONFLICT);
	assert_int_equal(runstore_save_report(old, a, RUN_DONE, rep, "old", &err), Q_ECONFLICT);
	assert_int_equal(runstore_get(rs, a, 1, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_RUNNING);
	assert_string_equal(rec.worker, "new/1");
	assert_null(rec.report_md);
	run_record_release(&rec);
	assert_int_equal(runstore_heartbeat(rs, a, "new/1", 60000, &cancel, &err), 0);
	/* the holder itself writes; lifted, anyone does */
	assert_int_equal(runstore_hold(rs, "new/1", &err), 0);
	assert_int_equal(runstore_save_report(rs, a, RUN_DONE, rep, "new", &err), 0);
	assert_int_equal(runstore_hold(old, NULL, &err), 0);
	assert_int_equal(runstore_set_status(old, a, RUN_DONE, &err), 0);
	json_decref(rep);
	runstore_close(old);
	runstore_close(rs);
}

static void test_workers(void **state)
{
	struct runstore *rs = open_rs();
	struct q_error err = {0};
	struct runstore_worker w, *v = NULL;
	size_t n = 0;
	pid_t pid;

	(void)state;
	memset(&w, 0, sizeof(w));
	gethostname(w.host, sizeof(w.host) - 1);
	snprintf(w.name, sizeof(w.name), "%.100s:%ld", w.host, (long)getpid());
	w.pid = (long)getpid();
	w.slots = 2;
	assert_int_equal(runstore_worker_beat(rs, &w, &err), 0);
	assert_int_equal(runstore_worker_beat(rs, &w, &err), 0);
	/* one on this host whose process is gone does not count */
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	w.pid = (long)pid;
	snprintf(w.name, sizeof(w.name), "%.100s:%ld", w.host, (long)pid);
	assert_int_equal(runstore_worker_beat(rs, &w, &err), 0);
	assert_int_equal(runstore_workers(rs, 60000, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].pid, (long)getpid());
	assert_int_equal(v[0].slots, 2);
	assert_true(v[0].seen_ms >= v[0].started_ms && v[0].started_ms > 0);
	free(v);
	assert_int_equal(runstore_worker_gone(rs, w.name, &err), 0);
	snprintf(w.name, sizeof(w.name), "%.100s:%ld", w.host, (long)getpid());
	assert_int_equal(runstore_worker_gone(rs, w.name, &err), 0);
	assert_int_equal(runstore_workers(rs, 60000, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	free(v);
	runstore_close(rs);
}

#define CLAIM_JOBS 50

struct claimer {
	const char *name;
	int *claimed; /* per job index, shared: each slot written by its claimer */
	long first_id;
	int n, failed;
};

static void *claim_loop(void *arg)
{
	struct claimer *c = arg;
	struct runstore *rs = NULL;
	struct q_error err = {0};
	long id;

	if (runstore_open_db(&rs, home, db_url, &err)) {
		c->failed = 1;
		return NULL;
	}
	for (;;) {
		json_t *rep;
		if (runstore_claim(rs, c->name, 600000, &id, &err)) {
			c->failed = 1;
			break;
		}
		if (id == 0)
			break;
		if (id >= c->first_id && id < c->first_id + CLAIM_JOBS)
			__atomic_add_fetch(&c->claimed[id - c->first_id], 1, __ATOMIC_RELAXED);
		c->n++;
		rep = json_object();
		if (runstore_save_report(rs, id, RUN_DONE, rep, "r", &err))
			c->failed = 1;
		json_decref(rep);
	}
	runstore_close(rs);
	return NULL;
}

static void test_two_claimers(void **state)
{
	struct runstore *rs = open_rs();
	struct q_error err = {0};
	static int claimed[CLAIM_JOBS];
	struct claimer c[2] = {{"t1", claimed, 0, 0, 0}, {"t2", claimed, 0, 0, 0}};
	pthread_t th[2];
	long id = 0, first;
	int i;

	(void)state;
	memset(claimed, 0, sizeof(claimed));
	while (runstore_claim(rs, "drain", 600000, &id, &err) == 0 && id > 0)
		finish(rs, id);
	first = new_run(rs, "job 0", RUN_QUEUED, NULL);
	for (i = 1; i < CLAIM_JOBS; i++) {
		char q[32];
		snprintf(q, sizeof(q), "job %d", i);
		assert_int_equal(new_run(rs, q, RUN_QUEUED, NULL), first + i);
	}
	runstore_close(rs);
	for (i = 0; i < 2; i++) {
		c[i].first_id = first;
		assert_int_equal(pthread_create(&th[i], NULL, claim_loop, &c[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_false(c[0].failed || c[1].failed);
	assert_int_equal(c[0].n + c[1].n, CLAIM_JOBS);
	for (i = 0; i < CLAIM_JOBS; i++)
		assert_int_equal(claimed[i], 1);
}

/* The newest run deleted, the next run gets a new id: an id names one
 * run for good (clients, SSE Last-Event-ID, quarry://runs/N). */
static void test_ids_not_reused(void **state)
{
	struct runstore *rs = open_rs();
	struct q_error err = {0};
	long a, b, c;

	(void)state;
	a = new_run(rs, "first", RUN_RUNNING, NULL);
	b = new_run(rs, "newest", RUN_RUNNING, NULL);
	assert_true(b > a);
	finish(rs, b);
	assert_int_equal(runstore_remove(rs, b, &err), 0);
	c = new_run(rs, "after the delete", RUN_RUNNING, NULL);
	assert_true(c > b);
	finish(rs, a);
	finish(rs, c);
	runstore_close(rs);
}

/* A run held by a worker on this host whose process is gone (kill -9)
 * reads interrupted at once, not when its lease lapses, and a cancel of
 * it cancels it at once. */
static void test_dead_holder(void **state)
{
	struct runstore *rs = open_rs();
	struct q_error err = {0};
	struct run_record rec;
	char host[100] = "", name[RUNSTORE_WORKER_MAX];
	long id = 0, got = 0, before[RUN_STATUS_N] = {0}, after[RUN_STATUS_N] = {0};
	pid_t pid;
	int st;

	(void)state;
	while (runstore_claim(rs, "drain", 600000, &got, &err) == 0 && got > 0)
		finish(rs, got);
	if ((pid = fork()) == 0)
		_exit(0);
	assert_true(pid > 0);
	waitpid(pid, &st, 0); /* gone: its pid is free */
	gethostname(host, sizeof(host) - 1);
	snprintf(name, sizeof(name), "%.100s:%ld/1", host, (long)pid);
	id = new_run(rs, "held by the dead", RUN_QUEUED, NULL);
	assert_int_equal(runstore_counts(rs, before, &err), 0);
	assert_int_equal(runstore_claim(rs, name, 600000, &got, &err), 0);
	assert_int_equal(got, id);
	assert_int_equal(runstore_get(rs, id, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_INTERRUPTED);
	run_record_release(&rec);
	/* counted as it reads: queued -> interrupted, not running */
	assert_int_equal(runstore_counts(rs, after, &err), 0);
	assert_int_equal(after[RUN_QUEUED], before[RUN_QUEUED] - 1);
	assert_int_equal(after[RUN_INTERRUPTED], before[RUN_INTERRUPTED] + 1);
	assert_int_equal(after[RUN_RUNNING], before[RUN_RUNNING]);
	assert_int_equal(runstore_request_cancel(rs, id, &err), 0);
	assert_int_equal(runstore_get(rs, id, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_CANCELLED);
	run_record_release(&rec);
	/* resumed in the foreground: the dead holder's lease is dropped */
	id = new_run(rs, "resumed from the dead", RUN_QUEUED, NULL);
	assert_int_equal(runstore_claim(rs, name, 600000, &got, &err), 0);
	assert_int_equal(got, id);
	assert_int_equal(runstore_set_owner(rs, id, &err), 0);
	assert_int_equal(runstore_set_status(rs, id, RUN_RUNNING, &err), 0);
	assert_int_equal(runstore_get(rs, id, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_RUNNING);
	assert_string_equal(rec.worker, "");
	run_record_release(&rec);
	finish(rs, id);
	/* a live holder (this process) keeps its run */
	snprintf(name, sizeof(name), "%.100s:%ld/1", host, (long)getpid());
	id = new_run(rs, "held by the living", RUN_QUEUED, NULL);
	assert_int_equal(runstore_claim(rs, name, 600000, &got, &err), 0);
	assert_int_equal(runstore_get(rs, id, 0, &rec, &err), 0);
	assert_int_equal(rec.status, RUN_RUNNING);
	run_record_release(&rec);
	finish(rs, id);
	runstore_close(rs);
}

/* A case on both backends. */
#define BOTH(f) \
	{#f, f, use_sqlite, NULL, NULL}, { "pg_" #f, f, use_pg, NULL, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_names),
		BOTH(test_create_get_list),
		BOTH(test_events),
		BOTH(test_caches),
		BOTH(test_replies),
		BOTH(test_claim_lease_heartbeat),
		BOTH(test_cancel_remove),
		BOTH(test_foreground_owner),
		BOTH(test_hold),
		BOTH(test_workers),
		BOTH(test_two_claimers),
		BOTH(test_ids_not_reused),
		BOTH(test_dead_holder),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
