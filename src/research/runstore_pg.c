/*
 * runstore_pg.c - the run records on PostgreSQL (runstore.h, runstore_pg.h).
 *
 * Every operation is one SQL statement (CTEs where it takes several
 * steps), so it is atomic without an explicit transaction and pgconn can
 * send it again after a lost connection. A statement whose reply was lost
 * may have committed; the two that would do harm twice carry a random
 * token and find their first effect instead of repeating it:
 *   - an event append (run_events.token): the same event is not stored
 *     twice under two numbers;
 *   - a claim (runs.claim_token): a worker does not take a second run
 *     while the first it took sits leased to it.
 * The rest are idempotent (upserts, updates to a value, deletes).
 *
 * Event numbers: the run row's last_seq is incremented by the append's
 * UPDATE, whose row lock orders concurrent appenders to one run; the
 * event is inserted with the number it returns. The stored JSON lacks
 * "seq"; reads put it back.
 *
 * Leases and times use the server's clock (now()), so workers on
 * machines whose clocks differ agree on when a lease lapsed. A running
 * run whose lease lapsed reads "interrupted" (status_now below) until a
 * worker claims it.
 *
 * Announcements: pg_notify(RUNSTORE_PG_CHANNEL_EVENTS, "RUN SEQ") in the
 * same statement as an append or a status change (delivered at commit),
 * pg_notify(RUNSTORE_PG_CHANNEL_JOBS, "RUN") when a run becomes queued.
 * One channel for all runs: a watcher filters by payload, which keeps
 * LISTENs fixed per connection; past thousands of events a second a
 * channel per run would wake fewer watchers.
 */
#include "runstore_pg.h"

#include <stdio.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/random.h"
#include "pgconn.h"
#include "runstore_int.h"

/* The migrations, in order: entry i takes the schema from i to i + 1.
 * Never edit one that shipped; add the next. */
static const char *const pg_migrations[] = {
	/* 1: runs, events, caches, the queue, and the triggers that announce
	 * new jobs and new events */
	"CREATE TABLE runs("
	"  id BIGSERIAL PRIMARY KEY,"
	"  question TEXT NOT NULL,"
	"  options TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  updated BIGINT NOT NULL,"
	"  worker TEXT NOT NULL DEFAULT '',"
	"  lease_until BIGINT," /* server-clock ms; NULL: no worker holds it */
	"  token TEXT,"         /* of the last create or claim (see above) */
	"  cancel_requested BOOLEAN NOT NULL DEFAULT false,"
	"  last_seq BIGINT NOT NULL DEFAULT 0,"
	"  report_md TEXT,"
	"  report TEXT);"
	"CREATE INDEX runs_queue ON runs(id) WHERE status IN ('queued', 'running');"
	"CREATE INDEX runs_token ON runs(token);"
	"CREATE TABLE run_events("
	"  run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  seq BIGINT NOT NULL,"
	"  token TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  PRIMARY KEY(run_id, seq));"
	"CREATE UNIQUE INDEX run_events_token ON run_events(run_id, token);"
	"CREATE TABLE run_cache("
	"  run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY(run_id, key));"
	"CREATE TABLE page_cache("
	"  url TEXT PRIMARY KEY,"
	"  fetched BIGINT NOT NULL,"
	"  value TEXT NOT NULL);"
	"CREATE TABLE llm_cache("
	"  key TEXT PRIMARY KEY,"
	"  model TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  reply TEXT NOT NULL);"
	"CREATE FUNCTION quarry_announce_run() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	"  IF NEW.status = 'queued' THEN"
	"    PERFORM pg_notify('" RUNSTORE_PG_CHANNEL_JOBS "', NEW.id::text);"
	"  END IF;"
	"  IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN"
	"    PERFORM pg_notify('" RUNSTORE_PG_CHANNEL_EVENTS "', NEW.id::text || ' 0');"
	"  END IF;"
	"  RETURN NULL; END $$;"
	"CREATE TRIGGER runs_announce AFTER INSERT OR UPDATE OF status ON runs"
	"  FOR EACH ROW EXECUTE FUNCTION quarry_announce_run();"
	"CREATE FUNCTION quarry_announce_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	"  PERFORM pg_notify('" RUNSTORE_PG_CHANNEL_EVENTS "', NEW.run_id::text || ' ' || NEW.seq::text);"
	"  RETURN NULL; END $$;"
	"CREATE TRIGGER run_events_announce AFTER INSERT ON run_events"
	"  FOR EACH ROW EXECUTE FUNCTION quarry_announce_event();",
	/* 2: the workers registry (runstore_worker_beat); times are the
	 * workers' wall clocks in ms, as the SQLite store keeps them */
	"CREATE TABLE workers("
	"  name TEXT PRIMARY KEY,"
	"  host TEXT NOT NULL,"
	"  pid BIGINT NOT NULL,"
	"  started BIGINT NOT NULL,"
	"  seen BIGINT NOT NULL,"
	"  slots INTEGER NOT NULL);",
};

_Static_assert(sizeof pg_migrations / sizeof pg_migrations[0] == RUNSTORE_PG_SCHEMA_VERSION,
	       "one migration per schema version");

int runstore_pg_schema_version(struct pgconn *c, int *version, struct q_error *err)
{
	PGresult *res = NULL;
	*version = 0;
	int rc = pgconn_exec(c, "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL, &res, err);
	if (rc != 0)
		return rc;
	int have = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!have)
		return 0;
	rc = pgconn_exec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version", 0, NULL, &res, err);
	if (rc != 0)
		return rc;
	*version = (int)pgconn_long(res, 0, 0);
	PQclear(res);
	return 0;
}

/* One try at migrating, in one transaction under the advisory lock. */
static int migrate_once(struct pgconn *c, int *from, struct q_error *err)
{
	PGresult *res = NULL;
	char lock[32];
	snprintf(lock, sizeof lock, "%lld", RUNSTORE_PG_LOCK_KEY);
	const char *lp[] = {lock};
	int rc = pgconn_begin(c, err);
	if (rc != 0)
		return rc;
	if ((rc = pgconn_exec(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lp, NULL, err)) ||
	    (rc = pgconn_exec(c,
			      "CREATE TABLE IF NOT EXISTS schema_version("
			      "  version INTEGER PRIMARY KEY,"
			      "  applied BIGINT NOT NULL,"
			      "  by TEXT NOT NULL)",
			      0, NULL, NULL, err)) ||
	    (rc = pgconn_exec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version", 0, NULL, &res, err)))
		goto out;
	*from = (int)pgconn_long(res, 0, 0);
	if (*from > RUNSTORE_PG_SCHEMA_VERSION) {
		rc = q_error_set(err, Q_EUNSUPPORTED,
				 "the database at %s has schema %d, newer than this quarry knows (%d); "
				 "upgrade quarry on this machine",
				 pgconn_shown(c), *from, RUNSTORE_PG_SCHEMA_VERSION);
		goto out;
	}
	for (int v = *from; v < RUNSTORE_PG_SCHEMA_VERSION; v++) {
		char ver[16];
		snprintf(ver, sizeof ver, "%d", v + 1);
		const char *vp[] = {ver};
		if ((rc = pgconn_exec(c, pg_migrations[v], 0, NULL, NULL, err)) ||
		    (rc = pgconn_exec(c,
				      "INSERT INTO schema_version(version, applied, by) "
				      "VALUES ($1::int, extract(epoch from now())::bigint, "
				      "'quarry ' || current_setting('application_name'))",
				      1, vp, NULL, err)))
			goto out;
	}
	rc = pgconn_commit(c, err);
out:
	PQclear(res);
	if (rc != 0)
		pgconn_rollback(c);
	return rc;
}

int runstore_pg_migrate(struct pgconn *c, int *from, int *to, struct q_error *err)
{
	int found = 0, rc;
	/* The common case (nothing to do) takes no lock. */
	rc = runstore_pg_schema_version(c, &found, err);
	if (rc == 0 && found < RUNSTORE_PG_SCHEMA_VERSION) {
		/* A connection lost mid-way rolled everything back: start over. */
		for (int attempt = 0; attempt < 3; attempt++) {
			rc = migrate_once(c, &found, err);
			if (rc != Q_ENET)
				break;
		}
	} else if (rc == 0 && found > RUNSTORE_PG_SCHEMA_VERSION) {
		rc = q_error_set(err, Q_EUNSUPPORTED,
				 "the database at %s has schema %d, newer than this quarry knows (%d); "
				 "upgrade quarry on this machine",
				 pgconn_shown(c), found, RUNSTORE_PG_SCHEMA_VERSION);
	}
	if (from)
		*from = found;
	if (to)
		*to = rc == 0 ? RUNSTORE_PG_SCHEMA_VERSION : found;
	return rc;
}

/* The server's clock, in the units the columns use. */
#define NOW_MS "(extract(epoch from now()) * 1000)::bigint"
#define NOW_S "extract(epoch from now())::bigint"

/* ---- the ops table ---- */

struct pgrs {
	struct runstore rs;
	struct pgconn *c;
	int listen_events, listen_jobs; /* LISTEN done on c */
};

static struct pgconn *conn_of(struct runstore *rs) { return ((struct pgrs *)rs->backend)->c; }

/* A random token (see the file's comment). */
static void new_token(char out[24]) { snprintf(out, 24, "%016llx", (unsigned long long)q_random_u64()); }

/* Text of a number, for a parameter. */
struct num {
	char s[24];
};
static struct num num(long long v)
{
	struct num n;
	snprintf(n.s, sizeof n.s, "%lld", v);
	return n;
}

/* A copy of row 0, column col, or NULL when SQL NULL; *oom set when the
 * copy failed. */
static char *dup_value(const PGresult *res, int row, int col, int *oom)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	char *t = q_strdup(PQgetvalue(res, row, col));
	if (!t)
		*oom = 1;
	return t;
}

static json_t *load_json(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : json_loads(PQgetvalue(res, row, col), 0, NULL);
}

static void pg_close(struct runstore *rs)
{
	struct pgrs *p = rs->backend;
	pgconn_close(p->c);
	q_free(p);
}

static int pg_create(struct runstore *rs, const char *question, const json_t *options, enum run_status status,
		     const char *worker, long *id, struct q_error *err)
{
	PGresult *res = NULL;
	char *opts = options ? json_dumps(options, JSON_COMPACT) : NULL;
	char token[24];
	int rc;

	if (options && !opts)
		return q_error_set(err, Q_ENOMEM, "out of memory saving the run");
	new_token(token);
	const char *p[] = {question, opts ? opts : "{}", run_status_name(status), worker ? worker : "", token};
	/* A resend after a lost reply finds the run it made (the token). */
	rc = pgconn_exec(conn_of(rs),
			 "WITH prev AS (SELECT id FROM runs WHERE token = $5), "
			 "i AS (INSERT INTO runs(question, options, status, created, updated, worker, "
			 "token) SELECT $1, $2, $3, " NOW_S ", " NOW_S ", $4, $5 "
			 "WHERE NOT EXISTS (SELECT 1 FROM prev) RETURNING id) "
			 "SELECT id FROM i UNION ALL SELECT id FROM prev",
			 5, p, &res, err);
	if (rc == 0)
		*id = pgconn_long(res, 0, 0);
	PQclear(res);
	free(opts);
	return rc;
}

/* The columns of a run record, $2 true when the report is wanted. */
#define RECORD_COLUMNS \
	"SELECT r.id, r.question, r.options, r.status, r.created, r.updated, r.worker, " \
	"r.cancel_requested, COALESCE(r.lease_until, 0), r.last_seq, c.value, " \
	"CASE WHEN $2 THEN r.report END, CASE WHEN $2 THEN r.report_md END, " NOW_MS " " \
	"FROM runs r LEFT JOIN run_cache c ON c.run_id = r.id AND c.key = '" RUNSTORE_OWNER_KEY "' "

/* Row `row` of RECORD_COLUMNS into out; Q_ENOMEM when memory ran out. */
static int read_record(const PGresult *res, int row, struct run_record *out)
{
	int oom = 0;
	memset(out, 0, sizeof *out);
	out->id = pgconn_long(res, row, 0);
	out->question = dup_value(res, row, 1, &oom);
	out->options = load_json(res, row, 2);
	out->status = runstore_status_now(PQgetvalue(res, row, 3), strtoll(PQgetvalue(res, row, 8), NULL, 10),
					  strtoll(PQgetvalue(res, row, 13), NULL, 10),
					  PQgetisnull(res, row, 10) ? NULL : PQgetvalue(res, row, 10));
	out->created = pgconn_long(res, row, 4);
	out->updated = pgconn_long(res, row, 5);
	snprintf(out->worker, sizeof out->worker, "%s", PQgetvalue(res, row, 6));
	out->status = runstore_status_held(out->status, out->worker);
	out->cancel_requested = strcmp(PQgetvalue(res, row, 7), "t") == 0;
	out->last_seq = pgconn_long(res, row, 9);
	out->report = load_json(res, row, 11);
	out->report_md = dup_value(res, row, 12, &oom);
	if (oom || !out->question) {
		run_record_release(out);
		return Q_ENOMEM;
	}
	return 0;
}

static int pg_get(struct runstore *rs, long id, int with_report, struct run_record *out, struct q_error *err)
{
	PGresult *res = NULL;
	struct num n = num(id);
	const char *p[] = {n.s, with_report ? "t" : "f"};
	memset(out, 0, sizeof *out);
	int rc = pgconn_exec(conn_of(rs), RECORD_COLUMNS "WHERE r.id = $1", 2, p, &res, err);
	if (rc == 0 && PQntuples(res) == 0)
		rc = q_error_set(err, Q_ENOTFOUND, "no run %ld: 'quarry runs ls' lists them", id);
	else if (rc == 0 && read_record(res, 0, out))
		rc = q_error_set(err, Q_ENOMEM, "out of memory loading run %ld", id);
	PQclear(res);
	return rc;
}

static int pg_list(struct runstore *rs, const struct runstore_filter *f, struct run_record **out, size_t *n,
		   struct q_error *err)
{
	PGresult *res = NULL;
	struct run_record *v = NULL;
	struct num before = num(f->before_id), limit = num(f->limit);
	const char *s1 = NULL, *s2 = NULL;
	int rc;

	if (f->status >= 0) {
		/* Stored running may read interrupted: rows are checked again below,
		 * so those two statuses take no LIMIT (running rows are few). */
		enum run_status s = (enum run_status)f->status;
		s1 = run_status_name(s);
		s2 = run_status_name(s == RUN_INTERRUPTED ? RUN_RUNNING : s);
		if (s == RUN_RUNNING || s == RUN_INTERRUPTED)
			limit = num(1000000);
	}
	const char *p[] = {s1, "f", s2, f->text, before.s, limit.s};
	rc = pgconn_exec(conn_of(rs),
			 RECORD_COLUMNS
			 "WHERE ($1::text IS NULL OR r.status IN ($1, $3)) "
			 "AND ($4::text IS NULL OR strpos(lower(r.question), lower($4)) > 0) "
			 "AND ($5::bigint <= 0 OR r.id < $5::bigint) ORDER BY r.id DESC LIMIT $6::bigint",
			 6, p, &res, err);
	if (rc != 0)
		goto out;
	if (!(v = q_calloc((size_t)f->limit, sizeof *v))) {
		rc = q_error_set(err, Q_ENOMEM, "out of memory listing the runs");
		goto out;
	}
	for (int i = 0; i < PQntuples(res) && *n < (size_t)f->limit; i++) {
		if (read_record(res, i, &v[*n])) {
			rc = q_error_set(err, Q_ENOMEM, "out of memory listing the runs");
			goto out;
		}
		if (f->status >= 0 && (int)v[*n].status != f->status)
			run_record_release(&v[*n]);
		else
			(*n)++;
	}
out:
	PQclear(res);
	if (rc) {
		runstore_list_free(v, *n);
		*n = 0;
		v = NULL;
	}
	*out = v;
	return rc;
}

/* Runs by status as it is (running rows one by one: each may read
 * interrupted). */
static int count_runs(struct pgconn *c, long counts[RUN_STATUS_N], struct q_error *err)
{
	PGresult *res = NULL;
	int rc = pgconn_exec(c,
			     "SELECT r.status, CASE WHEN r.status = 'running' THEN "
			     "COALESCE(r.lease_until, 0) END, CASE WHEN r.status = 'running' THEN "
			     "c.value END, count(*), " NOW_MS ", CASE WHEN r.status = 'running' THEN "
			     "r.worker END FROM runs r LEFT JOIN run_cache c ON c.run_id = r.id AND "
			     "c.key = '" RUNSTORE_OWNER_KEY "' GROUP BY 1, 2, 3, 6",
			     0, NULL, &res, err);
	if (rc != 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		enum run_status s = runstore_status_now(PQgetvalue(res, i, 0),
							strtoll(PQgetvalue(res, i, 1), NULL, 10),
							strtoll(PQgetvalue(res, i, 4), NULL, 10),
							PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2));
		s = runstore_status_held(s, PQgetvalue(res, i, 5));
		counts[s] += pgconn_long(res, i, 3);
	}
	PQclear(res);
	return 0;
}

static int pg_counts(struct runstore *rs, long counts[RUN_STATUS_N], struct q_error *err)
{
	return count_runs(conn_of(rs), counts, err);
}

static int pg_event_add(struct runstore *rs, long id, json_t *event, long *seq, struct q_error *err)
{
	PGresult *res = NULL;
	struct num n = num(id);
	char token[24];
	int rc;

	*seq = 0;
	json_object_del(event, "seq"); /* the number is the database's */
	char *line = json_dumps(event, JSON_COMPACT);
	if (!line)
		return q_error_set(err, Q_ENOMEM, "out of memory saving an event");
	new_token(token);
	const char *p[] = {n.s, line, token};
	/* The UPDATE's row lock orders appenders to one run; a resend finds
	 * the event its first send stored (the token). */
	rc = pgconn_exec(conn_of(rs),
			 "WITH prev AS (SELECT seq FROM run_events WHERE run_id = $1::bigint AND "
			 "token = $3), "
			 "r AS (UPDATE runs SET last_seq = last_seq + 1 WHERE id = $1::bigint AND "
			 "NOT EXISTS (SELECT 1 FROM prev) RETURNING last_seq), "
			 "i AS (INSERT INTO run_events(run_id, seq, token, event) "
			 "SELECT $1::bigint, last_seq, $3, $2 FROM r RETURNING seq) "
			 "SELECT seq FROM i UNION ALL SELECT seq FROM prev",
			 3, p, &res, err);
	if (rc == 0 && PQntuples(res) == 0)
		rc = q_error_set(err, Q_ENOTFOUND, "no run %ld to add an event to", id);
	if (rc == 0) {
		*seq = pgconn_long(res, 0, 0);
		json_object_set_new(event, "seq", json_integer(*seq));
	}
	PQclear(res);
	free(line);
	return rc;
}

static int pg_events(struct runstore *rs, long id, long after_seq, int max, json_t **events, struct q_error *err)
{
	PGresult *res = NULL;
	struct num n = num(id), a = num(after_seq), m = num(max);
	const char *p[] = {n.s, a.s, m.s};
	json_t *arr = json_array();
	int rc;

	if (!arr)
		return q_error_set(err, Q_ENOMEM, "out of memory reading events");
	rc = pgconn_exec(conn_of(rs),
			 "SELECT seq, event FROM run_events WHERE run_id = $1::bigint AND "
			 "seq > $2::bigint ORDER BY seq LIMIT $3::int",
			 3, p, &res, err);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		json_t *ev = load_json(res, i, 1);
		if (!json_is_object(ev)) { /* a damaged row: its number still counts */
			json_decref(ev);
			ev = json_pack("{s:s}", "type", "damaged");
		}
		if (!ev || json_object_set_new(ev, "seq", json_integer(pgconn_long(res, i, 0))) ||
		    json_array_append_new(arr, ev))
			rc = q_error_set(err, Q_ENOMEM, "out of memory reading events");
	}
	PQclear(res);
	if (rc)
		json_decref(arr);
	else
		*events = arr;
	return rc;
}

/* The one text column of a one-row query: a copy in *value, NULL when no
 * row. */
static int get_text(struct pgconn *c, const char *sql, int n, const char *const *p, char **value,
		    const char *what, struct q_error *err)
{
	PGresult *res = NULL;
	int rc = pgconn_exec(c, sql, n, p, &res, err), oom = 0;
	if (rc == 0 && PQntuples(res) > 0) {
		*value = dup_value(res, 0, 0, &oom);
		if (oom)
			rc = q_error_set(err, Q_ENOMEM, "out of memory %s", what);
	}
	PQclear(res);
	return rc;
}

static int pg_cache_get(struct runstore *rs, long id, const char *key, char **value, struct q_error *err)
{
	struct num n = num(id);
	const char *p[] = {n.s, key};
	return get_text(conn_of(rs), "SELECT value FROM run_cache WHERE run_id = $1::bigint AND key = $2", 2,
			p, value, "reading the run's cache", err);
}

static int pg_cache_put(struct runstore *rs, long id, const char *key, const char *value, struct q_error *err)
{
	struct num n = num(id);
	const char *p[] = {n.s, key, value};
	return pgconn_exec(conn_of(rs),
			   "INSERT INTO run_cache(run_id, key, value) VALUES ($1::bigint, $2, $3) "
			   "ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
			   3, p, NULL, err);
}

static int pg_page_get(struct runstore *rs, const char *url, long max_age_s, char **value, struct q_error *err)
{
	struct num a = num(max_age_s);
	const char *p[] = {url, a.s};
	return get_text(conn_of(rs),
			"SELECT value FROM page_cache WHERE url = $1 AND fetched > " NOW_S " - $2::bigint", 2,
			p, value, "reading the page cache", err);
}

static int pg_page_put(struct runstore *rs, const char *url, const char *value, struct q_error *err)
{
	const char *p[] = {url, value};
	return pgconn_exec(conn_of(rs),
			   "INSERT INTO page_cache(url, fetched, value) VALUES ($1, " NOW_S ", $2) "
			   "ON CONFLICT (url) DO UPDATE SET fetched = EXCLUDED.fetched, "
			   "value = EXCLUDED.value",
			   2, p, NULL, err);
}

/* The run's cache entries whose key starts with prefix, in byte order of
 * key (COLLATE "C": as on SQLite, whatever the database's locale), at
 * most RUNSTORE_CACHE_EACH_MAX; fn returning non-zero stops the walk. */
static int pg_cache_each(struct runstore *rs, long id, const char *prefix,
			 int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
			 struct q_error *err)
{
	PGresult *res = NULL;
	struct num n = num(id), max = num(RUNSTORE_CACHE_EACH_MAX);
	const char *p[] = {n.s, prefix, max.s};
	int rc = pgconn_exec(conn_of(rs),
			     "SELECT key, value FROM run_cache WHERE run_id = $1::bigint AND "
			     "left(key, length($2)) = $2 ORDER BY key COLLATE \"C\" LIMIT $3::bigint",
			     3, p, &res, err);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++)
		if (fn(ctx, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)))
			break;
	PQclear(res);
	return rc;
}

static int not_held(struct pgconn *c, long id, const char *worker, struct q_error *err);

/* An UPDATE ... RETURNING id of run id: Q_ENOTFOUND when no row changed;
 * with holder (runstore_hold; its statements say "AND ($N = '' OR worker
 * = $N)") Q_ECONFLICT when the run is another's. */
static int update_run(struct pgconn *c, long id, const char *holder, const char *sql, int n,
		      const char *const *p, struct q_error *err)
{
	PGresult *res = NULL;
	int rc = pgconn_exec(c, sql, n, p, &res, err);
	if (rc == 0 && PQntuples(res) == 0)
		rc = holder && holder[0]
			     ? not_held(c, id, holder, err)
			     : q_error_set(err, Q_ENOTFOUND, "no run %ld: 'quarry runs ls' lists them", id);
	PQclear(res);
	return rc;
}

static int pg_set_status(struct runstore *rs, long id, enum run_status status, struct q_error *err)
{
	struct num n = num(id);
	struct run_record r;
	char dead[RUNSTORE_WORKER_MAX] = "";
	/* A holder whose process is gone (kill -9) has no live lease, lapsed
	 * or not: a resume in the foreground drops it ($4, that holder, so a
	 * worker that claimed the run meanwhile keeps it). */
	if (status == RUN_RUNNING && pg_get(rs, id, 0, &r, NULL) == 0) {
		if (r.status == RUN_INTERRUPTED && r.worker[0])
			snprintf(dead, sizeof dead, "%s", r.worker);
		run_record_release(&r);
	}
	const char *p[] = {run_status_name(status), n.s, rs->holder, dead};
	/* As on SQLite: running again keeps a live lease and drops a lapsed
	 * one (the foreground process that took over is told live by its
	 * owner record); any other status ends the lease. */
	return update_run(conn_of(rs), id, rs->holder,
			  "UPDATE runs SET status = $1, updated = " NOW_S ", "
			  "lease_until = CASE WHEN $1 = 'running' AND lease_until >= " NOW_MS
			  " AND ($4 = '' OR worker != $4) THEN lease_until END, "
			  "worker = CASE WHEN $1 != 'running' OR (lease_until >= " NOW_MS
			  " AND ($4 = '' OR worker != $4)) THEN worker ELSE '' END "
			  "WHERE id = $2::bigint AND ($3 = '' OR worker = $3) RETURNING id",
			  4, p, err);
}

static int pg_set_options(struct runstore *rs, long id, const json_t *options, struct q_error *err)
{
	struct num n = num(id);
	char *text = json_dumps(options, JSON_COMPACT);
	if (!text)
		return q_error_set(err, Q_ENOMEM, "out of memory saving the run's options");
	const char *p[] = {text, n.s};
	int rc = update_run(conn_of(rs), id, NULL,
			    "UPDATE runs SET options = $1 WHERE id = $2::bigint RETURNING id", 2, p, err);
	free(text);
	return rc;
}

static int pg_save_report(struct runstore *rs, long id, enum run_status status, const json_t *report,
			  const char *md, struct q_error *err)
{
	struct num n = num(id);
	char *text = report ? json_dumps(report, JSON_COMPACT) : NULL;
	if (report && !text)
		return q_error_set(err, Q_ENOMEM, "out of memory saving the report");
	const char *p[] = {run_status_name(status), md, text ? text : "{}", n.s, rs->holder};
	int rc = update_run(conn_of(rs), id, rs->holder,
			    "UPDATE runs SET status = $1, report_md = $2, report = $3, "
			    "lease_until = NULL, updated = " NOW_S " WHERE id = $4::bigint AND "
			    "($5 = '' OR worker = $5) RETURNING id",
			    5, p, err);
	free(text);
	return rc;
}

static int pg_claim(struct runstore *rs, const char *worker, long lease_ms, long *id, struct q_error *err)
{
	PGresult *res = NULL;
	struct num l = num(lease_ms);
	char token[24];
	new_token(token);
	const char *p[] = {worker, l.s, token};
	/* SKIP LOCKED: concurrent claimers pass over the row another is
	 * taking instead of queueing behind it; the locked row's conditions
	 * are checked again on its newest version. */
	int rc = pgconn_exec(conn_of(rs),
			     "WITH prev AS (SELECT id FROM runs WHERE token = $3 AND worker = $1 "
			     "AND status = 'running'), "
			     "c AS (SELECT id FROM runs WHERE NOT EXISTS (SELECT 1 FROM prev) AND "
			     "(status = 'queued' OR (status = 'running' AND lease_until IS NOT NULL "
			     "AND lease_until < " NOW_MS ")) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED), "
			     "u AS (UPDATE runs r SET status = 'running', worker = $1, "
			     "lease_until = " NOW_MS " + $2::bigint, token = $3, updated = " NOW_S " "
			     "FROM c WHERE r.id = c.id RETURNING r.id) "
			     "SELECT id FROM u UNION ALL SELECT id FROM prev",
			     3, p, &res, err);
	if (rc == 0 && PQntuples(res) > 0)
		*id = pgconn_long(res, 0, 0);
	PQclear(res);
	return rc;
}

/* After an UPDATE ... WHERE worker = $ changed nothing: why. */
static int not_held(struct pgconn *c, long id, const char *worker, struct q_error *err)
{
	char *status = NULL;
	struct num n = num(id);
	const char *p[] = {n.s};
	int rc = get_text(c, "SELECT status FROM runs WHERE id = $1::bigint", 1, p, &status,
			  "reading the run", err);
	if (rc == 0 && !status)
		rc = q_error_set(err, Q_ENOTFOUND, "no run %ld", id);
	else if (rc == 0)
		rc = q_error_set(err, Q_ECONFLICT, "run %ld is no longer held by %s (it is %s)", id, worker,
				 status);
	q_free(status);
	return rc;
}

static int pg_heartbeat(struct runstore *rs, long id, const char *worker, long lease_ms, int *cancel,
			struct q_error *err)
{
	PGresult *res = NULL;
	struct num n = num(id), l = num(lease_ms);
	const char *p[] = {n.s, worker, l.s};
	*cancel = 0;
	int rc = pgconn_exec(conn_of(rs),
			     "UPDATE runs SET lease_until = " NOW_MS " + $3::bigint WHERE id = $1::bigint "
			     "AND worker = $2 AND status = 'running' RETURNING cancel_requested",
			     3, p, &res, err);
	if (rc == 0 && PQntuples(res) == 0)
		rc = not_held(conn_of(rs), id, worker, err);
	else if (rc == 0)
		*cancel = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

static int pg_release(struct runstore *rs, long id, const char *worker, struct q_error *err)
{
	PGresult *res = NULL;
	struct num n = num(id);
	const char *p[] = {n.s, worker};
	int rc = pgconn_exec(conn_of(rs),
			     "UPDATE runs SET status = 'queued', worker = '', lease_until = NULL, "
			     "updated = " NOW_S " WHERE id = $1::bigint AND worker = $2 AND "
			     "status IN ('running', 'interrupted') RETURNING id",
			     2, p, &res, err);
	if (rc == 0 && PQntuples(res) == 0)
		rc = not_held(conn_of(rs), id, worker, err);
	PQclear(res);
	return rc;
}

static int pg_request_cancel(struct runstore *rs, long id, struct q_error *err)
{
	struct run_record r;
	int rc = pg_get(rs, id, 0, &r, err);
	if (rc != 0 || run_status_final(r.status)) {
		run_record_release(&r);
		return rc;
	}
	/* Nobody carries a queued or interrupted run: it ends here, decided in
	 * the statement (a worker may claim it meanwhile); a foreground run
	 * without a lease ends here when its owner was found gone ($2). A
	 * running one is flagged for its holder's heartbeat. */
	/* A run whose holder read dead ($3, a worker on this host whose
	 * process is gone) ends here too, if that holder still has it. */
	struct num n = num(id);
	char dead[RUNSTORE_WORKER_MAX] = "";
	if (r.status == RUN_INTERRUPTED)
		snprintf(dead, sizeof dead, "%s", r.worker);
	const char *p[] = {n.s, r.status == RUN_RUNNING ? "f" : "t", dead};
	run_record_release(&r);
	/* No row: it ended meanwhile, and there is nothing to do. */
	return pgconn_exec(conn_of(rs),
			   "WITH d AS (SELECT id, status IN ('queued', 'interrupted') OR "
			   "(status = 'running' AND lease_until IS NOT NULL AND lease_until < " NOW_MS
			   ") OR (status = 'running' AND lease_until IS NULL AND $2::boolean) OR "
			   "(status = 'running' AND $3 != '' AND worker = $3) AS now "
			   "FROM runs WHERE id = $1::bigint AND status NOT IN ('done', 'stopped', "
			   "'cancelled', 'failed') FOR UPDATE) "
			   "UPDATE runs r SET cancel_requested = true, status = CASE WHEN d.now THEN "
			   "'cancelled' ELSE r.status END, lease_until = CASE WHEN d.now THEN NULL ELSE "
			   "r.lease_until END, updated = " NOW_S " FROM d WHERE r.id = d.id RETURNING r.id",
			   3, p, NULL, err);
}

static int pg_remove(struct runstore *rs, long id, struct q_error *err)
{
	struct run_record r;
	int rc = pg_get(rs, id, 0, &r, err);
	if (rc != 0)
		return rc;
	if (r.status == RUN_RUNNING || r.status == RUN_QUEUED) {
		rc = q_error_set(err, Q_EINVAL, "run %ld is %s; %s before removing it", id,
				 run_status_name(r.status),
				 r.status == RUN_QUEUED ? "cancel it" : "stop it (Ctrl-C, or cancel it)");
		run_record_release(&r);
		return rc;
	}
	run_record_release(&r);
	/* run_events and run_cache go with it (ON DELETE CASCADE); a run
	 * claimed since the check above stays. */
	struct num n = num(id);
	const char *p[] = {n.s};
	return pgconn_exec(conn_of(rs),
			   "DELETE FROM runs WHERE id = $1::bigint AND status != 'queued' AND NOT "
			   "(status = 'running' AND lease_until >= " NOW_MS ")",
			   1, p, NULL, err);
}

static int pg_worker_beat(struct runstore *rs, const struct runstore_worker *w, struct q_error *err)
{
	struct num pid = num(w->pid), now = num(runstore_now_ms()), slots = num(w->slots);
	const char *p[] = {w->name, w->host, pid.s, now.s, slots.s};
	return pgconn_exec(conn_of(rs),
			   "INSERT INTO workers(name, host, pid, started, seen, slots) VALUES "
			   "($1, $2, $3::bigint, $4::bigint, $4::bigint, $5::int) ON CONFLICT (name) DO "
			   "UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, seen = EXCLUDED.seen, "
			   "slots = EXCLUDED.slots",
			   5, p, NULL, err);
}

static int pg_worker_gone(struct runstore *rs, const char *name, struct q_error *err)
{
	const char *p[] = {name};
	return pgconn_exec(conn_of(rs), "DELETE FROM workers WHERE name = $1", 1, p, NULL, err);
}

static int pg_workers(struct runstore *rs, long long min_seen_ms, struct runstore_worker **out, size_t *n,
		      struct q_error *err)
{
	PGresult *res = NULL;
	struct num since = num(min_seen_ms), max = num(RUNSTORE_LIST_MAX);
	const char *p[] = {since.s, max.s};
	struct runstore_worker *v = NULL;
	int rc = pgconn_exec(conn_of(rs),
			     "SELECT name, host, pid, started, seen, slots FROM workers WHERE "
			     "seen >= $1::bigint ORDER BY started LIMIT $2::int",
			     2, p, &res, err);
	if (rc != 0)
		return rc;
	if (!(v = q_calloc(RUNSTORE_LIST_MAX, sizeof *v))) {
		PQclear(res);
		return q_error_set(err, Q_ENOMEM, "out of memory listing the workers");
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct runstore_worker *w = &v[(*n)++];
		snprintf(w->name, sizeof w->name, "%s", PQgetvalue(res, i, 0));
		snprintf(w->host, sizeof w->host, "%s", PQgetvalue(res, i, 1));
		w->pid = pgconn_long(res, i, 2);
		w->started_ms = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		w->seen_ms = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		w->slots = (int)pgconn_long(res, i, 5);
	}
	PQclear(res);
	*out = v;
	return 0;
}

/* LISTEN on channel once per connection. */
static int listen_once(struct pgrs *p, int *done, const char *channel, struct q_error *err)
{
	if (*done)
		return 0;
	int rc = pgconn_listen(p->c, channel, err);
	if (rc == 0)
		*done = 1;
	return rc;
}

static int pg_wait_events(struct runstore *rs, long id, long after_seq, long timeout_ms, struct q_error *err)
{
	struct pgrs *p = rs->backend;
	char payload[PGCONN_PAYLOAD_MAX];
	PGresult *res = NULL;
	struct num n = num(id);
	const char *params[] = {n.s};
	double start_ms = q_now_ms();
	int rc;

	if ((rc = listen_once(p, &p->listen_events, RUNSTORE_PG_CHANNEL_EVENTS, err)) != 0)
		return rc;
	/* What was announced before now is in the row read next. */
	while ((rc = pgconn_wait(p->c, 0, NULL, 0, err)) == 1) {
	}
	if (rc < 0)
		return rc;
	rc = pgconn_exec(p->c, "SELECT last_seq, status FROM runs WHERE id = $1::bigint", 1, params, &res, err);
	if (rc == 0 && PQntuples(res) == 0)
		rc = q_error_set(err, Q_ENOTFOUND, "no run %ld", id);
	int ready = rc == 0 && (pgconn_long(res, 0, 0) > after_seq ||
				run_status_final((enum run_status)run_status_parse(PQgetvalue(res, 0, 1))));
	PQclear(res);
	if (rc != 0 || ready)
		return rc != 0 ? rc : 1;
	for (;;) {
		double left = (double)timeout_ms - (q_now_ms() - start_ms);
		if (left <= 0)
			return 0;
		rc = pgconn_wait(p->c, (long)left, payload, sizeof payload, err);
		if (rc <= 0)
			return rc;
		/* "RUN SEQ" of a new event of this run, or "" after a reconnect:
		 * look again. Not "RUN 0" (its status changed): a run stores its
		 * final status just before its last event, and a watcher woken
		 * between the two would take the run for ended without it. */
		char *end = NULL;
		long run = strtol(payload, &end, 10);
		if (!payload[0] || (run == id && end && *end == ' ' && strtol(end + 1, NULL, 10) > after_seq))
			return 1;
	}
}

static int pg_wait_jobs(struct runstore *rs, long timeout_ms, struct q_error *err)
{
	struct pgrs *p = rs->backend;
	if (!p->listen_jobs) {
		/* Jobs queued before the LISTEN were not announced to us. */
		int rc = listen_once(p, &p->listen_jobs, RUNSTORE_PG_CHANNEL_JOBS, err);
		return rc != 0 ? rc : 1;
	}
	return pgconn_wait(p->c, timeout_ms, NULL, 0, err);
}

static int pg_watch_fd(struct runstore *rs, struct q_error *err)
{
	struct pgrs *p = rs->backend;
	int rc = listen_once(p, &p->listen_events, RUNSTORE_PG_CHANNEL_EVENTS, err);
	return rc != 0 ? rc : pgconn_socket(p->c);
}

static int pg_watch_take(struct runstore *rs, void (*fn)(void *ctx, long run, long seq), void *ctx,
			 struct q_error *err)
{
	struct pgrs *p = rs->backend;
	char payload[PGCONN_PAYLOAD_MAX];
	int rc;
	while ((rc = pgconn_wait(p->c, 0, payload, sizeof payload, err)) == 1) {
		char *end = NULL;
		long run = strtol(payload, &end, 10);
		long seq = end && *end == ' ' ? strtol(end + 1, NULL, 10) : 0;
		fn(ctx, payload[0] ? run : 0, payload[0] ? seq : 0);
	}
	return rc < 0 ? rc : 0;
}

static int pg_reopen(struct runstore **out, struct runstore *rs, struct q_error *err)
{
	return runstore_pg_open(out, conn_of(rs)->url, err);
}

static const struct runstore_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.create = pg_create,
	.get = pg_get,
	.list = pg_list,
	.counts = pg_counts,
	.event_add = pg_event_add,
	.events = pg_events,
	.cache_get = pg_cache_get,
	.cache_put = pg_cache_put,
	.page_get = pg_page_get,
	.page_put = pg_page_put,
	.set_status = pg_set_status,
	.set_options = pg_set_options,
	.save_report = pg_save_report,
	.claim = pg_claim,
	.heartbeat = pg_heartbeat,
	.release = pg_release,
	.request_cancel = pg_request_cancel,
	.remove = pg_remove,
	.worker_beat = pg_worker_beat,
	.worker_gone = pg_worker_gone,
	.workers = pg_workers,
	.wait_events = pg_wait_events,
	.wait_jobs = pg_wait_jobs,
	.watch_fd = pg_watch_fd,
	.watch_take = pg_watch_take,
	.reopen = pg_reopen,
	.cache_each = pg_cache_each,
	/* reply_get, reply_put: NULL by design; the replies shared across
	 * runs stay in each machine's SQLite (docs/ARCHITECTURE.md). */
};

int runstore_pg_open(struct runstore **out, const char *url, struct q_error *err)
{
	struct pgrs *p = NULL;
	struct pgconn *c = NULL;
	int rc;

	*out = NULL;
	if ((rc = pgconn_open(&c, url, NULL, err)) != 0)
		return rc;
	if ((rc = runstore_pg_migrate(c, NULL, NULL, err)) != 0)
		goto out;
	if (!(p = q_calloc(1, sizeof *p))) {
		rc = q_error_set(err, Q_ENOMEM, "out of memory opening the run store");
		goto out;
	}
	p->c = c;
	c = NULL;
	p->rs.ops = &pg_ops;
	p->rs.backend = p;
	*out = &p->rs;
out:
	pgconn_close(c);
	return rc;
}

int runstore_pg_status(struct pgconn *c, struct runstore_pg_status *st, struct q_error *err)
{
	PGresult *res = NULL;
	memset(st, 0, sizeof *st);
	int rc = pgconn_exec(c, "SELECT current_setting('server_version')", 0, NULL, &res, err);
	if (rc != 0)
		return rc;
	const char *v = PQgetvalue(res, 0, 0);
	snprintf(st->server_version, sizeof st->server_version, "%.*s", (int)strcspn(v, " "), v);
	PQclear(res);
	res = NULL;
	if ((rc = runstore_pg_schema_version(c, &st->schema_version, err)) != 0)
		return rc;
	if (st->schema_version != RUNSTORE_PG_SCHEMA_VERSION)
		return 0;
	if ((rc = count_runs(c, st->counts, err)) != 0)
		return rc;
	rc = pgconn_exec(c,
			 "SELECT (SELECT count(DISTINCT worker) FROM runs WHERE status = 'running' "
			 "AND lease_until >= " NOW_MS "), "
			 "(SELECT COALESCE(extract(epoch from now())::bigint - MIN(created), 0) "
			 "FROM runs WHERE status = 'queued'), "
			 "(SELECT count(*) FROM run_events)",
			 0, NULL, &res, err);
	if (rc != 0)
		return rc;
	st->workers = pgconn_long(res, 0, 0);
	st->oldest_queued_s = pgconn_long(res, 0, 1);
	st->events = pgconn_long(res, 0, 2);
	PQclear(res);
	return 0;
}
