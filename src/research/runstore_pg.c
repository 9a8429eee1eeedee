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
#include "pgconn.h"

/* The migrations, in order: entry i takes the schema from i to i + 1.
 * Never edit one that shipped; add the next. */
static const char *const pg_migrations[] = {
	/* 1: runs, events, caches, the queue */
	"CREATE TABLE runs("
	"  id BIGSERIAL PRIMARY KEY,"
	"  question TEXT NOT NULL,"
	"  options TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  updated BIGINT NOT NULL,"
	"  worker TEXT NOT NULL DEFAULT '',"
	"  lease_until TIMESTAMPTZ,"
	"  claim_token TEXT,"
	"  cancel_requested BOOLEAN NOT NULL DEFAULT false,"
	"  last_seq BIGINT NOT NULL DEFAULT 0,"
	"  report_md TEXT,"
	"  report TEXT);"
	"CREATE INDEX runs_queue ON runs(id) WHERE status IN ('queued', 'running');"
	"CREATE INDEX runs_status ON runs(status, id);"
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
	"  reply TEXT NOT NULL);",
};

_Static_assert(sizeof pg_migrations / sizeof pg_migrations[0] == RUNSTORE_PG_SCHEMA_VERSION,
	       "one migration per schema version");

int runstore_pg_schema_version(struct pgconn *c, int *version, struct q_error *err)
{
	PGresult *res = NULL;
	*version = 0;
	int rc = pgconn_exec(c, "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL, &res,
			     err);
	if (rc != 0)
		return rc;
	int have = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!have)
		return 0;
	rc = pgconn_exec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version", 0, NULL, &res,
			 err);
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
	    (rc = pgconn_exec(c, "CREATE TABLE IF NOT EXISTS schema_version("
				 "  version INTEGER PRIMARY KEY,"
				 "  applied BIGINT NOT NULL,"
				 "  by TEXT NOT NULL)",
			      0, NULL, NULL, err)) ||
	    (rc = pgconn_exec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version", 0, NULL,
			      &res, err)))
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
		    (rc = pgconn_exec(c, "INSERT INTO schema_version(version, applied, by) "
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

/* Until runstore.c lands: the names of enum run_status. */
static int status_parse(const char *name)
{
	static const char *const names[RUN_STATUS_N] = {
		"queued", "running", "done", "stopped", "cancelled", "interrupted", "failed"};
	for (int i = 0; i < RUN_STATUS_N; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* A run's status as it is: running with a lapsed lease reads interrupted. */
#define STATUS_NOW                                                                             \
	"(CASE WHEN status = 'running' AND (lease_until IS NULL OR lease_until < now()) "      \
	"THEN 'interrupted' ELSE status END)"

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
	rc = pgconn_exec(c, "SELECT " STATUS_NOW ", count(*) FROM runs GROUP BY 1", 0, NULL, &res,
			 err);
	if (rc != 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		int s = status_parse(PQgetvalue(res, i, 0));
		if (s >= 0)
			st->counts[s] += pgconn_long(res, i, 1);
	}
	PQclear(res);
	rc = pgconn_exec(c,
			 "SELECT (SELECT count(DISTINCT worker) FROM runs WHERE status = 'running' "
			 "AND lease_until >= now()), "
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
