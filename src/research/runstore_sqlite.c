/*
 * runstore_sqlite.c - the run records on the SQLite store (runstore.h):
 * every SQL statement about runs, their events, their caches and the
 * queue.
 *
 * Tables (store.c, schemas 3 to 5): runs(id, question, options, status,
 * created, updated, report_md, report, worker, lease_until,
 * cancel_requested), run_events(run_id, seq, event), run_cache(run_id,
 * key, value), page_cache(url, fetched, value). Statuses are stored by
 * name (run_status_name), as before the enum, so older databases read
 * the same. lease_until is wall-clock milliseconds, NULL for a run no
 * worker holds (a foreground run is told live by its owner process).
 *
 * Two things must be atomic across processes, and each is one BEGIN
 * IMMEDIATE transaction (SQLite lets one writer in at a time, so the
 * read and the write inside cannot interleave with another process's):
 * numbering an event (the next seq and the insert) and claiming a job
 * (finding the oldest claimable run and taking it). Everything else is a
 * single statement.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "runstore_int.h"

struct sq {
	struct runstore rs;
	struct store own; /* the connection runstore_open made */
	struct store *s;  /* &own, or the caller's (runstore_wrap) */
};

static struct sq *sq_of(struct runstore *rs) { return rs->backend; }

/* Prepare sql on rs's connection; store_error's message on failure. */
static int prep(struct sq *q, sqlite3_stmt **st, const char *sql, const char *what, struct q_error *err)
{
	int rc = sqlite3_prepare_v2(q->s->db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		*st = NULL;
		return store_error(q->s, rc, what, err);
	}
	return 0;
}

/* Step a statement that returns no rows, finalize it. */
static int step_done(struct sq *q, sqlite3_stmt *st, const char *what, struct q_error *err)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_error(q->s, rc, what, err);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? q_strdup((const char *)t) : NULL;
}

static int begin(struct sq *q, const char *what, struct q_error *err)
{
	int rc = sqlite3_exec(q->s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_error(q->s, rc, what, err);
}

/* COMMIT when rc is 0 (its failure becomes rc), else ROLLBACK. */
static int end(struct sq *q, int rc, const char *what, struct q_error *err)
{
	if (rc == 0) {
		int src = sqlite3_exec(q->s->db, "COMMIT", NULL, NULL, NULL);
		if (src == SQLITE_OK)
			return 0;
		rc = store_error(q->s, src, what, err);
	}
	sqlite3_exec(q->s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void sq_close(struct runstore *rs)
{
	struct sq *q = sq_of(rs);

	if (q->s == &q->own)
		store_close(&q->own);
	q_free(q);
}

static int sq_create(struct runstore *rs, const char *question, const json_t *options, enum run_status status,
		     const char *worker, long *id, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	char *opts = options ? json_dumps(options, JSON_COMPACT) : NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	if (options && !opts)
		return q_error_set(err, Q_ENOMEM, "out of memory saving the run");
	/* The id after the highest ever given (run_ids), not after the highest
	 * left: a deleted run's id is never handed out again. */
	if ((rc = prep(q, &st,
		       "INSERT INTO runs(id, question, options, status, created, updated, "
		       "worker) VALUES ((SELECT MAX(last, (SELECT COALESCE(MAX(id), 0) FROM runs)) + 1 "
		       "FROM run_ids), ?1, ?2, ?3, strftime('%s','now'), strftime('%s','now'), ?4)",
		       "saving the run", err)))
		goto out;
	sqlite3_bind_text(st, 1, question, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, opts ? opts : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, run_status_name(status), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, worker ? worker : "", -1, SQLITE_STATIC);
	if ((rc = step_done(q, st, "saving the run", err)))
		goto out;
	*id = (long)sqlite3_last_insert_rowid(q->s->db);
out:
	free(opts);
	return rc;
}

/* The columns of a run record, ?9 set when the report is wanted. */
#define RECORD_COLUMNS \
	"SELECT r.id, r.question, r.options, r.status, r.created, r.updated, r.worker, " \
	"r.cancel_requested, r.lease_until, " \
	"(SELECT COALESCE(MAX(e.seq), 0) FROM run_events e WHERE e.run_id = r.id), c.value, " \
	"CASE WHEN ?9 THEN r.report END, CASE WHEN ?9 THEN r.report_md END " \
	"FROM runs r LEFT JOIN run_cache c ON c.run_id = r.id AND c.key = '" RUNSTORE_OWNER_KEY "' "

/* A row of RECORD_COLUMNS into out; Q_ENOMEM when memory ran out. */
static int read_record(sqlite3_stmt *st, long long now_ms, struct run_record *out)
{
	const char *t;

	memset(out, 0, sizeof(*out));
	out->id = (long)sqlite3_column_int64(st, 0);
	out->question = col_dup(st, 1);
	if ((t = (const char *)sqlite3_column_text(st, 2)))
		out->options = json_loads(t, 0, NULL);
	out->status = runstore_status_now((const char *)sqlite3_column_text(st, 3), sqlite3_column_int64(st, 8),
					  now_ms, (const char *)sqlite3_column_text(st, 10));
	out->created = sqlite3_column_int64(st, 4);
	out->updated = sqlite3_column_int64(st, 5);
	if ((t = (const char *)sqlite3_column_text(st, 6)))
		snprintf(out->worker, sizeof(out->worker), "%s", t);
	out->status = runstore_status_held(out->status, out->worker);
	out->cancel_requested = sqlite3_column_int(st, 7) != 0;
	out->last_seq = (long)sqlite3_column_int64(st, 9);
	if ((t = (const char *)sqlite3_column_text(st, 11)))
		out->report = json_loads(t, 0, NULL);
	out->report_md = col_dup(st, 12);
	if (!out->question || (sqlite3_column_text(st, 12) && !out->report_md)) {
		run_record_release(out);
		return Q_ENOMEM;
	}
	return 0;
}

static int sq_get(struct runstore *rs, long id, int with_report, struct run_record *out, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prep(q, &st, RECORD_COLUMNS "WHERE r.id = ?1", "loading the run", err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 9, with_report != 0);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_record(st, runstore_now_ms(), out)
			     ? q_error_set(err, Q_ENOMEM, "out of memory loading run %ld", id)
			     : 0;
	else if (rc == SQLITE_DONE)
		rc = q_error_set(err, Q_ENOTFOUND, "no run %ld: 'quarry runs ls' lists them", id);
	else
		rc = store_error(q->s, rc, "loading the run", err);
	sqlite3_finalize(st);
	return rc;
}

static int sq_list(struct runstore *rs, const struct runstore_filter *f, struct run_record **out, size_t *n,
		   struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	struct run_record *v = NULL;
	long long now_ms = runstore_now_ms();
	int rc, step = SQLITE_DONE;

	if ((rc = prep(q, &st,
		       RECORD_COLUMNS "WHERE (?1 IS NULL OR r.status IN (?1, ?2)) "
				      "AND (?3 IS NULL OR instr(lower(r.question), lower(?3)) > 0) "
				      "AND (?4 <= 0 OR r.id < ?4) ORDER BY r.id DESC",
		       "listing the runs", err)))
		return rc;
	if (f->status >= 0) {
		/* Stored running may read interrupted (and the other way round
		 * never): the rows are checked again below. */
		enum run_status s = (enum run_status)f->status;
		sqlite3_bind_text(st, 1, run_status_name(s), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, run_status_name(s == RUN_INTERRUPTED ? RUN_RUNNING : s), -1,
				  SQLITE_STATIC);
	}
	if (f->text)
		sqlite3_bind_text(st, 3, f->text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, f->before_id);
	sqlite3_bind_int(st, 9, 0);
	if (!(v = q_calloc((size_t)f->limit, sizeof(*v)))) {
		rc = q_error_set(err, Q_ENOMEM, "out of memory listing the runs");
		goto out;
	}
	while (*n < (size_t)f->limit && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (read_record(st, now_ms, &v[*n])) {
			rc = q_error_set(err, Q_ENOMEM, "out of memory listing the runs");
			goto out;
		}
		if (f->status >= 0 && (int)v[*n].status != f->status)
			run_record_release(&v[*n]);
		else
			(*n)++;
	}
	if (*n < (size_t)f->limit && step != SQLITE_DONE)
		rc = store_error(q->s, step, "listing the runs", err);
out:
	sqlite3_finalize(st);
	if (rc) {
		runstore_list_free(v, *n);
		*n = 0;
		v = NULL;
	}
	*out = v;
	return rc;
}

static int sq_counts(struct runstore *rs, long counts[RUN_STATUS_N], struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	long long now_ms = runstore_now_ms();
	int rc;

	/* Running rows one by one: each may read interrupted. */
	if ((rc = prep(q, &st,
		       "SELECT r.status, CASE WHEN r.status = 'running' THEN r.lease_until END, "
		       "CASE WHEN r.status = 'running' THEN c.value END, count(*), "
		       "CASE WHEN r.status = 'running' THEN r.worker END FROM runs r LEFT JOIN "
		       "run_cache c ON c.run_id = r.id AND c.key = '" RUNSTORE_OWNER_KEY "' GROUP BY 1, "
		       "CASE WHEN r.status = 'running' THEN r.id END",
		       "counting the runs", err)))
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum run_status s = runstore_status_now((const char *)sqlite3_column_text(st, 0),
							sqlite3_column_int64(st, 1), now_ms,
							(const char *)sqlite3_column_text(st, 2));
		s = runstore_status_held(s, (const char *)sqlite3_column_text(st, 4));
		counts[s] += (long)sqlite3_column_int64(st, 3);
	}
	rc = rc == SQLITE_DONE ? 0 : store_error(q->s, rc, "counting the runs", err);
	sqlite3_finalize(st);
	return rc;
}

static int sq_event_add(struct runstore *rs, long id, json_t *event, long *seq, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	char *line = NULL;
	long next = 0;
	int rc;

	*seq = 0;
	if ((rc = begin(q, "saving an event", err)))
		return rc;
	if ((rc = prep(q, &st, "SELECT COALESCE(MAX(seq), 0) + 1 FROM run_events WHERE run_id = ?1",
		       "saving an event", err)))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		rc = store_error(q->s, rc, "saving an event", err);
		goto out;
	}
	next = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	json_object_set_new(event, "seq", json_integer(next));
	if (!(line = json_dumps(event, JSON_COMPACT))) {
		rc = q_error_set(err, Q_ENOMEM, "out of memory saving an event");
		goto out;
	}
	if ((rc = prep(q, &st, "INSERT INTO run_events(run_id, seq, event) VALUES (?1, ?2, ?3)",
		       "saving an event", err)))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, next);
	sqlite3_bind_text(st, 3, line, -1, SQLITE_STATIC);
	rc = step_done(q, st, "saving an event", err);
	st = NULL;
out:
	sqlite3_finalize(st);
	free(line);
	rc = end(q, rc, "saving an event", err);
	if (rc == 0)
		*seq = next;
	return rc;
}

static int sq_events(struct runstore *rs, long id, long after_seq, int max, json_t **events, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int rc;

	if (!arr)
		return q_error_set(err, Q_ENOMEM, "out of memory reading events");
	if ((rc = prep(q, &st,
		       "SELECT seq, event FROM run_events WHERE run_id = ?1 AND seq > ?2 "
		       "ORDER BY seq LIMIT ?3",
		       "reading the run's events", err)))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, after_seq);
	sqlite3_bind_int(st, 3, max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 1);
		json_t *ev = t ? json_loads(t, 0, NULL) : NULL;
		if (!json_is_object(ev)) { /* a damaged row: its number still counts */
			json_decref(ev);
			ev = json_pack("{s:s}", "type", "damaged");
		}
		/* events stored before numbering lack "seq" in their text */
		json_object_set_new(ev, "seq", json_integer(sqlite3_column_int64(st, 0)));
		if (json_array_append_new(arr, ev)) {
			rc = q_error_set(err, Q_ENOMEM, "out of memory reading events");
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : store_error(q->s, rc, "reading the run's events", err);
out:
	sqlite3_finalize(st);
	if (rc)
		json_decref(arr);
	else
		*events = arr;
	return rc;
}

/* The one text column of a one-row query bound by bind_id (run id, or 0)
 * and key: a copy in *value, NULL when no row. */
static int get_text(struct sq *q, const char *sql, long id, const char *key, long arg, char **value,
		    struct q_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prep(q, &st, sql, "reading the run's cache", err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, arg);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = sqlite3_column_text(st, 0) && !(*value = col_dup(st, 0))
			     ? q_error_set(err, Q_ENOMEM, "out of memory reading the run's cache")
			     : 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : store_error(q->s, rc, "reading the run's cache", err);
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_cache_get(struct runstore *rs, long id, const char *key, char **value, struct q_error *err)
{
	return get_text(sq_of(rs), "SELECT value FROM run_cache WHERE run_id = ?1 AND key = ?2 AND ?3 = 0",
			id, key, 0, value, err);
}

static int sq_cache_put(struct runstore *rs, long id, const char *key, const char *value, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prep(q, &st, "INSERT OR REPLACE INTO run_cache(run_id, key, value) VALUES (?1, ?2, ?3)",
		       "saving to the run's cache", err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
	return step_done(q, st, "saving to the run's cache", err);
}

static int sq_cache_each(struct runstore *rs, long id, const char *prefix,
			 int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
			 struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	int rc, n = 0;

	if ((rc = prep(q, &st,
		       "SELECT key, value FROM run_cache WHERE run_id = ?1 AND "
		       "substr(key, 1, length(?2)) = ?2 ORDER BY key",
		       "reading the run's cache", err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n++ < RUNSTORE_CACHE_EACH_MAX) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		const char *value = (const char *)sqlite3_column_text(st, 1);

		if (fn(ctx, key ? key : "", value ? value : "")) {
			rc = SQLITE_DONE;
			break;
		}
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_error(q->s, rc, "reading the run's cache", err);
	sqlite3_finalize(st);
	return rc;
}

static int sq_reply_get(struct runstore *rs, const char *key, char **reply, struct q_error *err)
{
	return get_text(sq_of(rs), "SELECT reply FROM llm_cache WHERE ?1 = 0 AND key = ?2 AND ?3 = 0", 0, key,
			0, reply, err);
}

static int sq_reply_put(struct runstore *rs, const char *key, const char *model, const char *reply,
			struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prep(q, &st,
		       "INSERT OR REPLACE INTO llm_cache(key, model, created, reply) "
		       "VALUES (?1, ?2, strftime('%s','now'), ?3)",
		       "saving to the reply cache", err)))
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, reply, -1, SQLITE_STATIC);
	return step_done(q, st, "saving to the reply cache", err);
}

static int sq_page_get(struct runstore *rs, const char *url, long max_age_s, char **value, struct q_error *err)
{
	return get_text(sq_of(rs),
			"SELECT value FROM page_cache WHERE ?1 = 0 AND url = ?2 AND "
			"fetched > strftime('%s','now') - ?3",
			0, url, max_age_s, value, err);
}

static int sq_page_put(struct runstore *rs, const char *url, const char *value, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prep(q, &st,
		       "INSERT OR REPLACE INTO page_cache(url, fetched, value) "
		       "VALUES (?1, strftime('%s','now'), ?2)",
		       "saving a page", err)))
		return rc;
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return step_done(q, st, "saving a page", err);
}

static int not_held(struct sq *q, long id, const char *worker, struct q_error *err);

/* Run an UPDATE of run id whose ?8 is the holder runstore_hold set
 * (statements say "AND (?8 = '' OR worker = ?8)"): Q_ENOTFOUND when it
 * changed no row, Q_ECONFLICT when the run is another's. */
static int update_run(struct sq *q, sqlite3_stmt *st, long id, const char *what, struct q_error *err)
{
	int rc;

	sqlite3_bind_text(st, 8, q->rs.holder, -1, SQLITE_STATIC);
	rc = step_done(q, st, what, err);
	if (rc == 0 && sqlite3_changes(q->s->db) == 0)
		rc = q->rs.holder[0]
			     ? not_held(q, id, q->rs.holder, err)
			     : q_error_set(err, Q_ENOTFOUND, "no run %ld: 'quarry runs ls' lists them", id);
	return rc;
}

static int sq_set_status(struct runstore *rs, long id, enum run_status status, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	long long now_ms = runstore_now_ms();
	struct run_record r;
	int rc;

	/* A holder whose process is gone (kill -9) has no live lease, lapsed
	 * or not: a resume in the foreground drops it. */
	if (status == RUN_RUNNING && sq_get(rs, id, 0, &r, NULL) == 0) {
		if (r.status == RUN_INTERRUPTED && r.worker[0])
			now_ms = LLONG_MAX;
		run_record_release(&r);
	}
	/* Running again: a holder with a live lease keeps it (a worker's run);
	 * a lapsed lease is dropped, so the process that took the run over
	 * in the foreground is told live by its owner record, and no worker
	 * claims the run from under it. Any other status ends the lease. */
	if ((rc = prep(q, &st,
		       "UPDATE runs SET status = ?1, updated = strftime('%s','now'), "
		       "lease_until = CASE WHEN ?1 = 'running' AND lease_until >= ?3 THEN lease_until END, "
		       "worker = CASE WHEN ?1 != 'running' OR lease_until >= ?3 THEN worker ELSE '' END "
		       "WHERE id = ?2 AND (?8 = '' OR worker = ?8)",
		       "saving the run's status", err)))
		return rc;
	sqlite3_bind_text(st, 1, run_status_name(status), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, now_ms);
	return update_run(q, st, id, "saving the run's status", err);
}

static int sq_set_options(struct runstore *rs, long id, const json_t *options, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	char *text = json_dumps(options, JSON_COMPACT);
	sqlite3_stmt *st = NULL;
	int rc;

	if (!text)
		return q_error_set(err, Q_ENOMEM, "out of memory saving the run's options");
	if ((rc = prep(q, &st, "UPDATE runs SET options = ?1 WHERE id = ?2", "saving the run's options", err)) ==
	    0) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		rc = update_run(q, st, id, "saving the run's options", err);
	}
	free(text);
	return rc;
}

static int sq_save_report(struct runstore *rs, long id, enum run_status status, const json_t *report,
			  const char *md, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	char *text = report ? json_dumps(report, JSON_COMPACT) : NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	if (report && !text)
		return q_error_set(err, Q_ENOMEM, "out of memory saving the report");
	if ((rc = prep(q, &st,
		       "UPDATE runs SET status = ?1, report_md = ?2, report = ?3, lease_until = "
		       "NULL, updated = strftime('%s','now') WHERE id = ?4 AND (?8 = '' OR worker = ?8)",
		       "saving the report", err)) == 0) {
		sqlite3_bind_text(st, 1, run_status_name(status), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, md, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, text ? text : "{}", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, id);
		rc = update_run(q, st, id, "saving the report", err);
	}
	free(text);
	return rc;
}

static int sq_claim(struct runstore *rs, const char *worker, long lease_ms, long *id, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	long long now_ms = runstore_now_ms();
	long found = 0;
	int rc;

	if ((rc = begin(q, "claiming a run", err)))
		return rc;
	if ((rc = prep(q, &st,
		       "SELECT id FROM runs WHERE status = 'queued' OR (status = 'running' AND "
		       "lease_until IS NOT NULL AND lease_until < ?1) ORDER BY id LIMIT 1",
		       "claiming a run", err)))
		goto out;
	sqlite3_bind_int64(st, 1, now_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		found = (long)sqlite3_column_int64(st, 0);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_error(q->s, rc, "claiming a run", err);
	sqlite3_finalize(st);
	st = NULL;
	if (rc || !found)
		goto out;
	if ((rc = prep(q, &st,
		       "UPDATE runs SET status = 'running', worker = ?1, lease_until = ?2, "
		       "updated = strftime('%s','now') WHERE id = ?3",
		       "claiming a run", err)))
		goto out;
	sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_ms + lease_ms);
	sqlite3_bind_int64(st, 3, found);
	rc = step_done(q, st, "claiming a run", err);
	st = NULL;
out:
	sqlite3_finalize(st);
	rc = end(q, rc, "claiming a run", err);
	if (rc == 0)
		*id = found;
	return rc;
}

/* After an UPDATE ... WHERE worker = ? changed nothing: why. */
static int not_held(struct sq *q, long id, const char *worker, struct q_error *err)
{
	char *status = NULL;
	int rc = get_text(q, "SELECT status FROM runs WHERE id = ?1 AND ?2 IS NOT NULL AND ?3 = 0", id, "", 0,
			  &status, err);

	if (rc == 0 && !status)
		rc = q_error_set(err, Q_ENOTFOUND, "no run %ld", id);
	else if (rc == 0)
		rc = q_error_set(err, Q_ECONFLICT, "run %ld is no longer held by %s (it is %s)", id, worker,
				 status);
	q_free(status);
	return rc;
}

static int sq_heartbeat(struct runstore *rs, long id, const char *worker, long lease_ms, int *cancel,
			struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	char *flag = NULL;
	int rc;

	*cancel = 0;
	if ((rc = prep(q, &st,
		       "UPDATE runs SET lease_until = ?3 WHERE id = ?1 AND worker = ?2 AND "
		       "status = 'running'",
		       "renewing the run's lease", err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, runstore_now_ms() + lease_ms);
	if ((rc = step_done(q, st, "renewing the run's lease", err)))
		return rc;
	if (sqlite3_changes(q->s->db) == 0)
		return not_held(q, id, worker, err);
	rc = get_text(q, "SELECT cancel_requested FROM runs WHERE id = ?1 AND ?2 IS NOT NULL AND ?3 = 0", id,
		      "", 0, &flag, err);
	*cancel = flag && strcmp(flag, "0") != 0;
	q_free(flag);
	return rc;
}

static int sq_release(struct runstore *rs, long id, const char *worker, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prep(q, &st,
		       "UPDATE runs SET status = 'queued', worker = '', lease_until = NULL, "
		       "updated = strftime('%s','now') WHERE id = ?1 AND worker = ?2 AND "
		       "status IN ('running', 'interrupted')",
		       "giving the run back", err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
	if ((rc = step_done(q, st, "giving the run back", err)))
		return rc;
	return sqlite3_changes(q->s->db) ? 0 : not_held(q, id, worker, err);
}

static int sq_request_cancel(struct runstore *rs, long id, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	struct run_record r;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = begin(q, "cancelling the run", err)))
		return rc;
	if ((rc = sq_get(rs, id, 0, &r, err)) || run_status_final(r.status))
		goto out;
	/* Nobody carries a queued or interrupted run: it ends here. A running
	 * one is flagged for its holder's heartbeat. */
	if ((rc = prep(q, &st,
		       "UPDATE runs SET cancel_requested = 1, status = CASE WHEN ?2 THEN "
		       "'cancelled' ELSE status END, lease_until = CASE WHEN ?2 THEN NULL ELSE "
		       "lease_until END, updated = strftime('%s','now') WHERE id = ?1",
		       "cancelling the run", err)))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, r.status != RUN_RUNNING);
	rc = step_done(q, st, "cancelling the run", err);
out:
	run_record_release(&r);
	return end(q, rc, "cancelling the run", err);
}

static int sq_remove(struct runstore *rs, long id, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	struct run_record r;
	int rc;

	if ((rc = sq_get(rs, id, 0, &r, err)))
		return rc;
	if (r.status == RUN_RUNNING || r.status == RUN_QUEUED) {
		rc = q_error_set(err, Q_EINVAL, "run %ld is %s; %s before removing it", id,
				 run_status_name(r.status),
				 r.status == RUN_QUEUED ? "cancel it" : "stop it (Ctrl-C, or cancel it)");
		run_record_release(&r);
		return rc;
	}
	run_record_release(&r);
	/* run_events and run_cache go with it (ON DELETE CASCADE). */
	if ((rc = prep(q, &st, "DELETE FROM runs WHERE id = ?1", "removing the run", err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return step_done(q, st, "removing the run", err);
}

static int sq_worker_beat(struct runstore *rs, const struct runstore_worker *w, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	long long now_ms = runstore_now_ms();
	int rc;

	if ((rc = prep(q, &st,
		       "INSERT INTO workers(name, host, pid, started, seen, slots) VALUES "
		       "(?1, ?2, ?3, ?4, ?4, ?5) ON CONFLICT(name) DO UPDATE SET host = excluded.host, "
		       "pid = excluded.pid, seen = excluded.seen, slots = excluded.slots",
		       "registering the worker", err)))
		return rc;
	sqlite3_bind_text(st, 1, w->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, w->pid);
	sqlite3_bind_int64(st, 4, now_ms);
	sqlite3_bind_int(st, 5, w->slots);
	return step_done(q, st, "registering the worker", err);
}

static int sq_worker_gone(struct runstore *rs, const char *name, struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prep(q, &st, "DELETE FROM workers WHERE name = ?1", "unregistering the worker", err)))
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return step_done(q, st, "unregistering the worker", err);
}

static int sq_workers(struct runstore *rs, long long min_seen_ms, struct runstore_worker **out, size_t *n,
		      struct q_error *err)
{
	struct sq *q = sq_of(rs);
	sqlite3_stmt *st = NULL;
	struct runstore_worker *v = NULL;
	int rc;

	if ((rc = prep(q, &st,
		       "SELECT name, host, pid, started, seen, slots FROM workers WHERE seen >= ?1 "
		       "ORDER BY started LIMIT ?2",
		       "listing the workers", err)))
		return rc;
	sqlite3_bind_int64(st, 1, min_seen_ms);
	sqlite3_bind_int(st, 2, RUNSTORE_LIST_MAX);
	if (!(v = q_calloc(RUNSTORE_LIST_MAX, sizeof(*v)))) {
		sqlite3_finalize(st);
		return q_error_set(err, Q_ENOMEM, "out of memory listing the workers");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct runstore_worker *w = &v[(*n)++];
		snprintf(w->name, sizeof(w->name), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(w->host, sizeof(w->host), "%s", (const char *)sqlite3_column_text(st, 1));
		w->pid = (long)sqlite3_column_int64(st, 2);
		w->started_ms = sqlite3_column_int64(st, 3);
		w->seen_ms = sqlite3_column_int64(st, 4);
		w->slots = sqlite3_column_int(st, 5);
	}
	rc = rc == SQLITE_DONE ? 0 : store_error(q->s, rc, "listing the workers", err);
	sqlite3_finalize(st);
	if (rc) {
		q_free(v);
		*n = 0;
		v = NULL;
	}
	*out = v;
	return rc;
}

static const struct runstore_ops sqlite_ops = {
	"sqlite",       sq_close,       sq_create,         sq_get,
	sq_list,        sq_counts,      sq_event_add,      sq_events,
	sq_cache_get,   sq_cache_put,   sq_page_get,       sq_page_put,
	sq_set_status,  sq_set_options, sq_save_report,    sq_claim,
	sq_heartbeat,   sq_release,     sq_request_cancel, sq_remove,
	NULL,           NULL, /* wait_events, wait_jobs: runstore.c polls */
	sq_worker_beat, sq_worker_gone, sq_workers,        NULL,
	NULL, /* watch_fd, watch_take: nothing is announced */
	NULL, /* reopen */
	sq_cache_each,  sq_reply_get,   sq_reply_put,
};

static struct sq *sq_new(void)
{
	struct sq *q = q_calloc(1, sizeof(*q));

	if (q) {
		q->rs.ops = &sqlite_ops;
		q->rs.backend = q;
	}
	return q;
}

int runstore_sqlite_open(struct runstore **out, const char *home, struct q_error *err)
{
	struct sq *q = sq_new();
	int rc;

	if (!q)
		return q_error_set(err, Q_ENOMEM, "out of memory opening the run records");
	if ((rc = store_open(&q->own, home, err))) {
		q_free(q);
		return rc;
	}
	q->s = &q->own;
	*out = &q->rs;
	return 0;
}

int runstore_sqlite_wrap(struct runstore **out, struct store *s, struct q_error *err)
{
	struct sq *q = sq_new();

	if (!q)
		return q_error_set(err, Q_ENOMEM, "out of memory opening the run records");
	q->s = s;
	*out = &q->rs;
	return 0;
}
