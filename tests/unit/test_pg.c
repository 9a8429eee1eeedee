/*
 * Unit tests: the PostgreSQL connection layer (pgconn) and the schema's
 * migrations (runstore_pg). Redaction needs no server; the rest runs
 * against the private cluster of tests/pg/cluster.sh, whose URL is in
 * QUARRY_TEST_DATABASE_URL (make test starts it when PostgreSQL is
 * installed), and is skipped, saying so, without it. Each case that
 * needs a clean schema makes a database of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/clock.h"
#include "../../src/core/random.h"
#include "../../src/research/pgconn.h"
#include "../../src/research/runstore.h"
#include "../../src/research/runstore_pg.h"

static const char *test_url(void)
{
	const char *u = getenv("QUARRY_TEST_DATABASE_URL");
	return u && *u ? u : NULL;
}

#define NEED_PG() \
	do { \
		if (!test_url()) { \
			fprintf(stderr, "skipped: no QUARRY_TEST_DATABASE_URL (PostgreSQL)\n"); \
			skip(); \
		} \
	} while (0)

/* A fresh database on the test cluster: its URL in out. */
static void fresh_database(char *out, size_t size)
{
	struct pgconn *c = NULL;
	struct q_error err = {0};
	char name[64], sql[128];
	snprintf(name, sizeof name, "quarry_t%llx", (unsigned long long)(q_random_u64() >> 16));
	assert_int_equal(pgconn_open(&c, test_url(), NULL, &err), 0);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	assert_int_equal(pgconn_exec(c, sql, 0, NULL, NULL, &err), 0);
	pgconn_close(c);
	const char *u = test_url();
	const char *slash = strrchr(u, '/');
	snprintf(out, size, "%.*s/%s", (int)(slash - u), u, name);
}

static void redact_hides_passwords(void **state)
{
	char out[512];
	pgconn_redact("postgresql://alice:s3cret@db.example:5432/quarry", out, sizeof out);
	assert_string_equal(out, "postgresql://alice:***@db.example:5432/quarry");
	pgconn_redact("postgres://alice:p@ss@db/q?sslmode=require&password=two", out, sizeof out);
	assert_string_equal(out, "postgres://alice:***@db/q?sslmode=require&password=***");
	pgconn_redact("postgresql://alice@db/q", out, sizeof out);
	assert_string_equal(out, "postgresql://alice@db/q");
	pgconn_redact("postgresql://db/q?password=x#frag", out, sizeof out);
	assert_string_equal(out, "postgresql://db/q?password=***#frag");
	pgconn_redact("host=db user=alice password='a b\\' c' dbname=q", out, sizeof out);
	assert_string_equal(out, "host=db user=alice password=*** dbname=q");
	pgconn_redact("host=db password = plain dbname=q", out, sizeof out);
	assert_string_equal(out, "host=db password = *** dbname=q");
	/* Truncation keeps the terminator and never the password. */
	pgconn_redact("postgresql://alice:s3cret@db/q", out, 20);
	assert_int_equal(strlen(out), 19);
	assert_null(strstr(out, "s3cret"));
	assert_true(pgconn_is_url("postgresql://x/y"));
	assert_true(pgconn_is_url("host=db dbname=q"));
	assert_false(pgconn_is_url("/var/lib/quarry"));
}

static void wrong_password_is_not_echoed(void **state)
{
	NEED_PG();
	struct pgconn *c = NULL;
	struct q_error err = {0};
	char url[1024];
	const char *u = test_url();
	const char *at = strchr(u + 13, '@');
	snprintf(url, sizeof url, "postgresql://quarry:Wr0ngPassw0rd%s", at);
	assert_int_equal(pgconn_open(&c, url, NULL, &err), Q_EINVAL);
	assert_null(c);
	assert_non_null(strstr(err.msg, "password authentication failed"));
	assert_non_null(strstr(err.msg, "quarry:***@"));
	assert_null(strstr(err.msg, "Wr0ngPassw0rd"));
}

static void unreachable_server_gives_up_after_retry_ms(void **state)
{
	struct pgconn *c = NULL;
	struct q_error err = {0};
	struct pgconn_opts o = {.retry_ms = 600, .backoff_first_ms = 50};
	double t0 = q_now_ms();
	assert_int_equal(pgconn_open(&c, "postgresql://u:TopSecret@127.0.0.1:1/q", &o, &err), Q_ENET);
	double ms = q_now_ms() - t0;
	assert_true(ms >= 500 && ms < 5000);
	assert_non_null(strstr(err.msg, "cannot reach PostgreSQL"));
	assert_null(strstr(err.msg, "TopSecret"));
}

static void statement_timeout_cancels(void **state)
{
	NEED_PG();
	struct pgconn *c = NULL;
	struct q_error err = {0};
	struct pgconn_opts o = {.statement_timeout_ms = 200};
	assert_int_equal(pgconn_open(&c, test_url(), &o, &err), 0);
	double t0 = q_now_ms();
	assert_int_equal(pgconn_exec(c, "SELECT pg_sleep(3)", 0, NULL, NULL, &err), Q_ETIMEOUT);
	assert_true(q_now_ms() - t0 < 2000);
	assert_non_null(strstr(err.msg, "statement_timeout"));
	/* The connection is still good. */
	assert_int_equal(pgconn_exec(c, "SELECT 1", 0, NULL, NULL, &err), 0);
	pgconn_close(c);
}

/* Kill c's server process from another connection (what a restart or a
 * failover does to it). */
static void kill_backend(struct pgconn *c)
{
	struct pgconn *killer = NULL;
	struct q_error err = {0};
	char pid[32];
	snprintf(pid, sizeof pid, "%d", PQbackendPID(c->conn));
	const char *p[] = {pid};
	assert_int_equal(pgconn_open(&killer, test_url(), NULL, &err), 0);
	assert_int_equal(pgconn_exec(killer, "SELECT pg_terminate_backend($1::int)", 1, p, NULL, &err), 0);
	pgconn_close(killer);
}

static void lost_connection_is_made_again(void **state)
{
	NEED_PG();
	struct pgconn *c = NULL;
	struct q_error err = {0};
	PGresult *res = NULL;
	assert_int_equal(pgconn_open(&c, test_url(), NULL, &err), 0);
	int before = PQbackendPID(c->conn);
	kill_backend(c);
	const char *p[] = {"41"};
	assert_int_equal(pgconn_exec(c, "SELECT $1::int + 1", 1, p, &res, &err), 0);
	assert_int_equal(pgconn_long(res, 0, 0), 42);
	PQclear(res);
	assert_int_equal(c->reconnects, 1);
	assert_int_not_equal(PQbackendPID(c->conn), before);
	/* Inside a transaction nothing is sent again: the caller starts over. */
	assert_int_equal(pgconn_begin(c, &err), 0);
	kill_backend(c);
	assert_int_equal(pgconn_exec(c, "SELECT 1", 0, NULL, NULL, &err), Q_ENET);
	assert_non_null(strstr(err.msg, "inside a transaction"));
	pgconn_rollback(c);
	assert_int_equal(pgconn_exec(c, "SELECT 1", 0, NULL, NULL, &err), 0);
	pgconn_close(c);
}

static void notifications_arrive_and_survive_a_reconnect(void **state)
{
	NEED_PG();
	struct pgconn *l = NULL, *n = NULL;
	struct q_error err = {0};
	char payload[PGCONN_PAYLOAD_MAX];
	assert_int_equal(pgconn_open(&l, test_url(), NULL, &err), 0);
	assert_int_equal(pgconn_open(&n, test_url(), NULL, &err), 0);
	assert_int_equal(pgconn_listen(l, "quarry_test", &err), 0);
	double t0 = q_now_ms();
	assert_int_equal(pgconn_wait(l, 150, payload, sizeof payload, &err), 0);
	assert_true(q_now_ms() - t0 >= 140);
	const char *p[] = {"7 3"};
	assert_int_equal(pgconn_exec(n, "SELECT pg_notify('quarry_test', $1)", 1, p, NULL, &err), 0);
	assert_int_equal(pgconn_wait(l, 5000, payload, sizeof payload, &err), 1);
	assert_string_equal(payload, "7 3");
	/* Lost and made again: the wait says "look again", and the LISTEN
	 * holds on the new connection. */
	kill_backend(l);
	assert_int_equal(pgconn_wait(l, 5000, payload, sizeof payload, &err), 1);
	assert_int_equal(l->reconnects, 1);
	const char *p2[] = {"8 1"};
	assert_int_equal(pgconn_exec(n, "SELECT pg_notify('quarry_test', $1)", 1, p2, NULL, &err), 0);
	assert_int_equal(pgconn_wait(l, 5000, payload, sizeof payload, &err), 1);
	assert_string_equal(payload, "8 1");
	assert_int_equal(pgconn_listen(l, "Bad-Name", &err), Q_EINVAL);
	pgconn_close(l);
	pgconn_close(n);
}

#define MIGRATORS 8

struct migrator {
	const char *url;
	pthread_barrier_t *go;
	int rc;
	char msg[Q_ERROR_MSG_MAX];
};

static void *migrate_main(void *arg)
{
	struct migrator *m = arg;
	struct pgconn *c = NULL;
	struct q_error err = {0};
	m->rc = pgconn_open(&c, m->url, NULL, &err);
	pthread_barrier_wait(m->go);
	if (m->rc == 0)
		m->rc = runstore_pg_migrate(c, NULL, NULL, &err);
	memcpy(m->msg, err.msg, sizeof m->msg);
	pgconn_close(c);
	return NULL;
}

static void migrations_are_safe_when_many_start_at_once(void **state)
{
	NEED_PG();
	char url[1024];
	fresh_database(url, sizeof url);
	pthread_t t[MIGRATORS];
	struct migrator m[MIGRATORS];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, MIGRATORS);
	for (int i = 0; i < MIGRATORS; i++) {
		m[i] = (struct migrator){.url = url, .go = &go};
		assert_int_equal(pthread_create(&t[i], NULL, migrate_main, &m[i]), 0);
	}
	for (int i = 0; i < MIGRATORS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < MIGRATORS; i++) {
		if (m[i].rc != 0)
			fprintf(stderr, "migrator %d: %s\n", i, m[i].msg);
		assert_int_equal(m[i].rc, 0);
	}
	struct pgconn *c = NULL;
	struct q_error err = {0};
	PGresult *res = NULL;
	int from = -1, to = -1;
	assert_int_equal(pgconn_open(&c, url, NULL, &err), 0);
	assert_int_equal(
		pgconn_exec(c, "SELECT count(*), max(version) FROM schema_version", 0, NULL, &res, &err), 0);
	assert_int_equal(pgconn_long(res, 0, 0), RUNSTORE_PG_SCHEMA_VERSION);
	assert_int_equal(pgconn_long(res, 0, 1), RUNSTORE_PG_SCHEMA_VERSION);
	PQclear(res);
	assert_int_equal(runstore_pg_migrate(c, &from, &to, &err), 0);
	assert_int_equal(from, RUNSTORE_PG_SCHEMA_VERSION);
	assert_int_equal(to, RUNSTORE_PG_SCHEMA_VERSION);
	/* A database newer than this binary is refused, not damaged. */
	assert_int_equal(
		pgconn_exec(c, "INSERT INTO schema_version VALUES (999, 0, 'future')", 0, NULL, NULL, &err), 0);
	assert_int_equal(runstore_pg_migrate(c, &from, &to, &err), Q_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "upgrade quarry"));
	pgconn_close(c);
}

/* ---- the run store on PostgreSQL: what the shared case needs ---- */

static struct runstore *open_store(const char *url)
{
	struct runstore *rs = NULL;
	struct q_error err = {0};
	if (runstore_open_db(&rs, "/nonexistent-home", url, &err))
		fail_msg("runstore_open_db: %s", err.msg);
	assert_string_equal(runstore_backend(rs), "postgresql");
	return rs;
}

struct appender {
	const char *url;
	long run, first_seq, n;
	long seqs[64];
	int failed;
};

static void *append_main(void *arg)
{
	struct appender *a = arg;
	struct runstore *rs = NULL;
	struct q_error err = {0};
	if (runstore_open_db(&rs, "/nonexistent-home", a->url, &err)) {
		a->failed = 1;
		return NULL;
	}
	for (long i = 0; i < a->n; i++) {
		json_t *ev = json_pack("{s:s, s:I}", "type", "step", "i", (json_int_t)i);
		if (runstore_event_add(rs, a->run, ev, &a->seqs[i], &err))
			a->failed = 1;
		json_decref(ev);
	}
	runstore_close(rs);
	return NULL;
}

/* Eight connections append to one run at once: 1..N, no gap, no repeat. */
static void concurrent_appenders_number_events_once(void **state)
{
	NEED_PG();
	char url[1024];
	fresh_database(url, sizeof url);
	struct runstore *rs = open_store(url);
	struct q_error err = {0};
	long id = 0;
	assert_int_equal(runstore_create(rs, "q", NULL, RUN_RUNNING, "w", &id, &err), 0);
	enum { T = 8, N = 40 };
	struct appender a[T];
	pthread_t t[T];
	for (int i = 0; i < T; i++) {
		a[i] = (struct appender){.url = url, .run = id, .n = N};
		assert_int_equal(pthread_create(&t[i], NULL, append_main, &a[i]), 0);
	}
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	static int seen[T * N + 1];
	memset(seen, 0, sizeof seen);
	for (int i = 0; i < T; i++) {
		assert_false(a[i].failed);
		for (int j = 0; j < N; j++) {
			assert_true(a[i].seqs[j] >= 1 && a[i].seqs[j] <= T * N);
			seen[a[i].seqs[j]]++;
			if (j > 0) /* one appender's events keep their order */
				assert_true(a[i].seqs[j] > a[i].seqs[j - 1]);
		}
	}
	for (int s = 1; s <= T * N; s++)
		assert_int_equal(seen[s], 1);
	json_t *evs = NULL;
	assert_int_equal(runstore_events(rs, id, 0, 0, &evs, &err), 0);
	assert_int_equal(json_array_size(evs), T * N);
	for (size_t i = 0; i < json_array_size(evs); i++)
		assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, i), "seq")),
				 (long)i + 1);
	json_decref(evs);
	runstore_close(rs);
}

struct later {
	const char *url;
	long run, delay_ms;
	double at_ms; /* when the event was stored */
};

static void *append_later(void *arg)
{
	struct later *l = arg;
	struct runstore *rs = open_store(l->url);
	struct timespec ts = {l->delay_ms / 1000, (l->delay_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	json_t *ev = json_pack("{s:s}", "type", "note");
	long seq = 0;
	struct q_error err = {0};
	assert_int_equal(runstore_event_add(rs, l->run, ev, &seq, &err), 0);
	l->at_ms = q_now_ms();
	json_decref(ev);
	runstore_close(rs);
	return NULL;
}

/* A watcher on another connection wakes when the event is stored (LISTEN),
 * not at the end of a poll; it times out when nothing comes. */
static void watcher_wakes_on_an_event_elsewhere(void **state)
{
	NEED_PG();
	char url[1024];
	fresh_database(url, sizeof url);
	struct runstore *rs = open_store(url);
	struct q_error err = {0};
	long id = 0, other = 0;
	assert_int_equal(runstore_create(rs, "q", NULL, RUN_RUNNING, "w", &id, &err), 0);
	assert_int_equal(runstore_create(rs, "q2", NULL, RUN_RUNNING, "w", &other, &err), 0);
	double t0 = q_now_ms();
	assert_int_equal(runstore_wait_events(rs, id, 0, 200, &err), 0);
	assert_true(q_now_ms() - t0 >= 190);
	/* another run's event does not wake this watcher */
	struct later l2 = {url, other, 50, 0};
	pthread_t t2;
	pthread_create(&t2, NULL, append_later, &l2);
	t0 = q_now_ms();
	assert_int_equal(runstore_wait_events(rs, id, 0, 400, &err), 0);
	assert_true(q_now_ms() - t0 >= 390);
	pthread_join(t2, NULL);
	struct later l = {url, id, 300, 0};
	pthread_t t;
	pthread_create(&t, NULL, append_later, &l);
	assert_int_equal(runstore_wait_events(rs, id, 0, 10000, &err), 1);
	double woke = q_now_ms();
	pthread_join(t, NULL);
	assert_true(woke - l.at_ms < 100); /* at once, not at the next poll */
	/* what it announced is there to read */
	json_t *evs = NULL;
	assert_int_equal(runstore_events(rs, id, 0, 0, &evs, &err), 0);
	assert_int_equal(json_array_size(evs), 1);
	json_decref(evs);
	/* already there: no wait at all; an ended run does not keep it waiting */
	assert_int_equal(runstore_wait_events(rs, id, 0, 10000, &err), 1);
	assert_int_equal(runstore_save_report(rs, other, RUN_DONE, NULL, "r", &err), 0);
	assert_int_equal(runstore_wait_events(rs, other, 1, 10000, &err), 1);
	assert_int_equal(runstore_wait_events(rs, 9999, 0, 100, &err), Q_ENOTFOUND);
	runstore_close(rs);
}

struct seen {
	long run[8], seq[8];
	int n;
};

static void on_announce(void *ctx, long run, long seq)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		s->run[s->n] = run;
		s->seq[s->n++] = seq;
	}
}

/* An event loop's way: a descriptor to poll, then take what came. */
static void watch_fd_turns_readable_on_an_event(void **state)
{
	NEED_PG();
	char url[1024];
	fresh_database(url, sizeof url);
	struct runstore *w = open_store(url), *rs = open_store(url);
	struct q_error err = {0};
	struct seen seen = {0};
	long id = 0, seq = 0;
	assert_int_equal(runstore_create(rs, "q", NULL, RUN_RUNNING, "w", &id, &err), 0);
	int fd = runstore_watch_fd(w, &err);
	assert_true(fd >= 0);
	json_t *ev = json_pack("{s:s}", "type", "x");
	assert_int_equal(runstore_event_add(rs, id, ev, &seq, &err), 0);
	json_decref(ev);
	struct pollfd pfd = {fd, POLLIN, 0};
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(runstore_watch_take(w, on_announce, &seen, &err), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.run[0], id);
	assert_int_equal(seen.seq[0], 1);
	seen.n = 0;
	assert_int_equal(runstore_watch_take(w, on_announce, &seen, &err), 0);
	assert_int_equal(seen.n, 0); /* nothing new */
	runstore_close(rs);
	runstore_close(w);
	/* SQLite announces nothing: poll there */
	char home[] = "/tmp/quarry-pgwatch-XXXXXX";
	assert_non_null(mkdtemp(home));
	struct runstore *sq = NULL;
	assert_int_equal(runstore_open_db(&sq, home, NULL, &err), 0);
	assert_int_equal(runstore_watch_fd(sq, &err), -1);
	runstore_close(sq);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", home);
	assert_int_equal(system(cmd), 0);
}

/* A worker waiting for jobs wakes when one is queued elsewhere. */
static void new_jobs_are_announced(void **state)
{
	NEED_PG();
	char url[1024];
	fresh_database(url, sizeof url);
	struct runstore *w = open_store(url), *front = open_store(url);
	struct q_error err = {0};
	long id = 0, got = 0;
	assert_int_equal(runstore_wait_jobs(w, 1000, &err), 1); /* the first: claim to see */
	assert_int_equal(runstore_claim(w, "w1", 60000, &got, &err), 0);
	assert_int_equal(got, 0);
	double t0 = q_now_ms();
	assert_int_equal(runstore_wait_jobs(w, 150, &err), 0);
	assert_true(q_now_ms() - t0 >= 140);
	assert_int_equal(runstore_create(front, "job", NULL, RUN_QUEUED, NULL, &id, &err), 0);
	t0 = q_now_ms();
	assert_int_equal(runstore_wait_jobs(w, 10000, &err), 1);
	assert_true(q_now_ms() - t0 < 1000);
	assert_int_equal(runstore_claim(w, "w1", 60000, &got, &err), 0);
	assert_int_equal(got, id);
	runstore_close(front);
	runstore_close(w);
}

/* A restart (here: the server process of the store's connection killed)
 * between calls is survived; the claim and the append still happen once. */
static void store_survives_a_lost_connection(void **state)
{
	NEED_PG();
	char url[1024];
	fresh_database(url, sizeof url);
	struct runstore *rs = open_store(url);
	struct pgconn *probe = NULL;
	struct q_error err = {0};
	PGresult *res = NULL;
	long id = 0, got = 0, seq = 0;
	assert_int_equal(runstore_create(rs, "job", NULL, RUN_QUEUED, NULL, &id, &err), 0);
	assert_int_equal(pgconn_open(&probe, url, NULL, &err), 0);
	assert_int_equal(pgconn_exec(probe,
				     "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
				     "WHERE datname = current_database() AND pid != pg_backend_pid()",
				     0, NULL, NULL, &err),
			 0);
	assert_int_equal(runstore_claim(rs, "w1", 60000, &got, &err), 0);
	assert_int_equal(got, id);
	assert_int_equal(pgconn_exec(probe,
				     "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
				     "WHERE datname = current_database() AND pid != pg_backend_pid()",
				     0, NULL, NULL, &err),
			 0);
	json_t *ev = json_pack("{s:s}", "type", "x");
	assert_int_equal(runstore_event_add(rs, id, ev, &seq, &err), 0);
	json_decref(ev);
	assert_int_equal(seq, 1);
	assert_int_equal(pgconn_exec(probe, "SELECT count(*) FROM run_events", 0, NULL, &res, &err), 0);
	assert_int_equal(pgconn_long(res, 0, 0), 1);
	PQclear(res);
	pgconn_close(probe);
	runstore_close(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(redact_hides_passwords),
		cmocka_unit_test(wrong_password_is_not_echoed),
		cmocka_unit_test(unreachable_server_gives_up_after_retry_ms),
		cmocka_unit_test(statement_timeout_cancels),
		cmocka_unit_test(lost_connection_is_made_again),
		cmocka_unit_test(notifications_arrive_and_survive_a_reconnect),
		cmocka_unit_test(migrations_are_safe_when_many_start_at_once),
		cmocka_unit_test(concurrent_appenders_number_events_once),
		cmocka_unit_test(watcher_wakes_on_an_event_elsewhere),
		cmocka_unit_test(watch_fd_turns_readable_on_an_event),
		cmocka_unit_test(new_jobs_are_announced),
		cmocka_unit_test(store_survives_a_lost_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
