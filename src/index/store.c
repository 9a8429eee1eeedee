/*
 * store.c - opening and migrating the quarry database (see store.h).
 */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/clock.h"
#include "../core/config.h"
#include "../core/random.h"
#include "rank.h"
#include "tokenize.h"

/* Migration N takes a database from user_version N-1 to N. Append only. */
static const char *const migrations[] = {
	/* 1: the corpus */
	"CREATE TABLE documents("
	"  id INTEGER PRIMARY KEY,"
	"  path TEXT NOT NULL UNIQUE,"
	"  title TEXT,"
	"  kind TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  mtime_ns INTEGER NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  chars INTEGER NOT NULL,"
	"  indexed_at INTEGER NOT NULL);"
	"CREATE TABLE passages("
	"  id INTEGER PRIMARY KEY,"
	"  doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
	"  ord INTEGER NOT NULL,"
	"  heading TEXT NOT NULL,"
	"  start INTEGER NOT NULL,"
	"  end INTEGER NOT NULL,"
	"  char_start INTEGER NOT NULL,"
	"  char_end INTEGER NOT NULL,"
	"  body TEXT NOT NULL);"
	"CREATE INDEX passages_doc ON passages(doc_id);"
	"CREATE VIEW passage_content AS"
	"  SELECT p.id AS id, d.title AS title, p.heading AS heading, p.body AS body"
	"  FROM passages p JOIN documents d ON d.id = p.doc_id;"
	"CREATE VIRTUAL TABLE passages_fts USING fts5(title, heading, body,"
	"  content='passage_content', content_rowid='id', tokenize='quarry');",
	/* 2: model replies, keyed by the SHA-256 of the request */
	"CREATE TABLE llm_cache("
	"  key TEXT PRIMARY KEY,"
	"  model TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  reply TEXT NOT NULL);",
	/* 3: research runs, their events and what they fetched */
	"CREATE TABLE runs("
	"  id INTEGER PRIMARY KEY,"
	"  question TEXT NOT NULL,"
	"  options TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  report_md TEXT,"
	"  report TEXT);"
	"CREATE TABLE run_events("
	"  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  PRIMARY KEY(run_id, seq));"
	"CREATE TABLE run_cache("
	"  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY(run_id, key));",
	/* 4: pages read by any run, reused for a day */
	"CREATE TABLE page_cache("
	"  url TEXT PRIMARY KEY,"
	"  fetched INTEGER NOT NULL,"
	"  value TEXT NOT NULL);",
	/* 5: runs as jobs: the worker holding a run, its lease (wall-clock
	 * ms), a cancel asked for through the database; the workers alive */
	"ALTER TABLE runs ADD COLUMN worker TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE runs ADD COLUMN lease_until INTEGER;"
	"ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX runs_status ON runs(status, id);"
	"CREATE TABLE workers("
	"  name TEXT PRIMARY KEY,"
	"  host TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  started INTEGER NOT NULL,"
	"  seen INTEGER NOT NULL,"
	"  slots INTEGER NOT NULL);",
	/* 6: run ids are never reused (clients, SSE Last-Event-ID and
	 * quarry://runs/N name one run for good): the highest id ever given,
	 * kept past deletion (INTEGER PRIMARY KEY gives max+1, which a
	 * deleted newest run hands out again; AUTOINCREMENT would need a
	 * rebuild of a table others reference) */
	"CREATE TABLE run_ids(last INTEGER NOT NULL);"
	"INSERT INTO run_ids SELECT COALESCE(MAX(id), 0) FROM runs;"
	"CREATE TRIGGER runs_id_kept AFTER INSERT ON runs BEGIN"
	"  UPDATE run_ids SET last = MAX(last, NEW.id);"
	"END;",
};

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t i, n = strlen(path);

	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];
			tmp[i] = '\0';
			if (mkdir(tmp, 0700) && errno != EEXIST)
				return -1;
			tmp[i] = c;
		}
	}
	return 0;
}

int store_home_in(const char *home_flag, char *const *envp, char *out, size_t out_size, struct q_error *err)
{
	const char *v;
	int k;

	if (home_flag && *home_flag)
		k = snprintf(out, out_size, "%s", home_flag);
	else if ((v = config_envp_get(envp, "QUARRY_HOME")))
		k = snprintf(out, out_size, "%s", v);
	else if ((v = config_envp_get(envp, "XDG_DATA_HOME")))
		k = snprintf(out, out_size, "%s/quarry", v);
	else if ((v = config_envp_get(envp, "HOME")))
		k = snprintf(out, out_size, "%s/.local/share/quarry", v);
	else
		return q_error_set(err, Q_EINVAL, "no home folder: set QUARRY_HOME or use the home setting");
	if (k < 0 || (size_t)k >= out_size)
		return q_error_set(err, Q_ETOOBIG, "home folder path too long");
	return 0;
}

int store_error(struct store *s, int rc, const char *what, struct q_error *err)
{
	const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return q_error_set(err, Q_EPARSE,
				   "%s: the database %s is damaged (%s); 'quarry index check' shows the "
				   "damage, and 'quarry index rebuild' moves the file aside and recovers "
				   "what can be read",
				   what, s->path, msg);
	case SQLITE_FULL:
		return q_error_set(err, Q_EIO, "%s: the disk is full; nothing of this batch was written", what);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return q_error_set(err, Q_EIO,
				   "%s: the database is busy (another quarry is writing); try again", what);
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		return q_error_set(
			err, Q_EIO,
			"%s: cannot write %s (%s); check the folder's permissions or use the home setting",
			what, s->path, msg);
	}
	return q_error_set(err, Q_EIO, "%s: %s", what, msg);
}

int store_exec(struct store *s, const char *sql, struct q_error *err)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_error(s, rc, "database error", err);
}

static int user_version(struct store *s, int *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Apply the migrations the file lacks. The version is read inside the
 * write transaction (BEGIN IMMEDIATE waits for any other writer), so two
 * quarry processes opening a new or old database at once do not both run
 * one migration ("table documents already exists"). */
static int migrate(struct store *s, struct q_error *err)
{
	int version = 0, rc, target = (int)(sizeof(migrations) / sizeof(migrations[0]));

	rc = user_version(s, &version);
	if (rc != SQLITE_OK)
		return store_error(s, rc, "cannot read the database", err);
	while (version < target) {
		char pragma[64];
		if (store_exec(s, "BEGIN IMMEDIATE", err))
			return err ? err->code : Q_EIO;
		rc = user_version(s, &version);
		if (rc == SQLITE_OK && version < target) {
			rc = sqlite3_exec(s->db, migrations[version], NULL, NULL, NULL);
			snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
			if (rc == SQLITE_OK)
				rc = sqlite3_exec(s->db, pragma, NULL, NULL, NULL);
		}
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			int code = store_error(s, rc, "cannot upgrade the database", err);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return code;
		}
		rc = user_version(s, &version);
		if (rc != SQLITE_OK)
			return store_error(s, rc, "cannot read the database", err);
	}
	if (version > target)
		return q_error_set(
			err, Q_EUNSUPPORTED,
			"%s was written by a newer quarry (schema %d, this one knows %d); upgrade quarry",
			s->path, version, target);
	return 0;
}

/* Switching a new database to WAL needs an exclusive lock, and SQLite
 * does not call the busy handler for it: when several quarry processes
 * open a fresh home at once, wait for the lock here. */
static int set_pragmas(struct store *s)
{
	int rc, waited_ms = 0;

	for (;;) {
		rc = sqlite3_exec(s->db,
				  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
				  "PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;",
				  NULL, NULL, NULL);
		if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) ||
		    waited_ms >= STORE_BUSY_TIMEOUT_MS)
			return rc;
		sqlite3_sleep(20);
		waited_ms += 20;
	}
}

int store_open(struct store *s, const char *home, struct q_error *err)
{
	int rc;

	memset(s, 0, sizeof(s[0]));
	if (mkdir_p(home))
		return q_error_set(err, Q_EIO, "cannot create %s: %s", home, strerror(errno));
	if (snprintf(s->path, sizeof(s->path), "%s/%s", home, STORE_DB_NAME) >= (int)sizeof(s->path))
		return q_error_set(err, Q_ETOOBIG, "home folder path too long");
	rc = sqlite3_open_v2(s->path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int code = store_error(s, rc, "cannot open the database", err);
		store_close(s);
		return code;
	}
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if (tokenizer_register_fts5(s->db, err) || rank_register_fts5(s->db, err)) {
		store_close(s);
		return err ? err->code : Q_EUNSUPPORTED;
	}
	rc = set_pragmas(s);
	if (rc != SQLITE_OK || migrate(s, err)) {
		int code = rc != SQLITE_OK ? store_error(s, rc, "cannot open the database", err)
					   : (err ? err->code : Q_EIO);
		store_close(s);
		return code;
	}
	return 0;
}

/* "file:" URI of path with immutable=1, for a database nobody can write:
 * reserved characters percent-encoded. 0, or -1 if it does not fit. */
static int immutable_uri(const char *path, char *out, size_t size)
{
	size_t o = 0;
	const char *p;
	int k = snprintf(out, size, "file:");

	if (k < 0 || (size_t)k >= size)
		return -1;
	o = (size_t)k;
	for (p = path; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (o + 4 >= size)
			return -1;
		if (c == '%' || c == '?' || c == '#' || c < 0x21 || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "%%%02X", c);
		else
			out[o++] = (char)c;
	}
	k = snprintf(out + o, size - o, "?immutable=1");
	return k < 0 || (size_t)k >= size - o ? -1 : 0;
}

static int open_ro(struct store *s, int immutable, struct q_error *err)
{
	char uri[4096 * 3 + 32];
	int rc;

	if (immutable && immutable_uri(s->path, uri, sizeof(uri)))
		return q_error_set(err, Q_ETOOBIG, "home folder path too long");
	rc = sqlite3_open_v2(immutable ? uri : s->path, &s->db,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | (immutable ? SQLITE_OPEN_URI : 0),
			     NULL);
	if (rc != SQLITE_OK)
		return store_error(s, rc, "cannot open the database", err);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if (tokenizer_register_fts5(s->db, err) || rank_register_fts5(s->db, err))
		return err ? err->code : Q_EUNSUPPORTED;
	return 0;
}

int store_open_readonly(struct store *s, const char *home, struct q_error *err)
{
	int rc, version = 0, target = (int)(sizeof(migrations) / sizeof(migrations[0]));
	struct stat st;

	memset(s, 0, sizeof(s[0]));
	if (snprintf(s->path, sizeof(s->path), "%s/%s", home, STORE_DB_NAME) >= (int)sizeof(s->path))
		return q_error_set(err, Q_ETOOBIG, "home folder path too long");
	if (stat(s->path, &st) && errno == ENOENT)
		return store_open(s, home, err); /* nothing yet: create it, as before */
	rc = open_ro(s, 0, err);
	if (!rc && (rc = user_version(s, &version)) != SQLITE_OK) {
		/* A WAL database in a folder we cannot write: no -shm can be
		 * made. Nobody can write there either, so read it as is. */
		if ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY) {
			store_close(s);
			rc = open_ro(s, 1, err);
			if (!rc && (rc = user_version(s, &version)) != SQLITE_OK)
				rc = store_error(s, rc, "cannot read the database", err);
		} else {
			rc = store_error(s, rc, "cannot read the database", err);
		}
	}
	if (!rc && version == 0) { /* created but never set up */
		store_close(s);
		return store_open(s, home, err);
	}
	if (!rc && version > target)
		rc = q_error_set(
			err, Q_EUNSUPPORTED,
			"%s was written by a newer quarry (schema %d, this one knows %d); upgrade quarry",
			s->path, version, target);
	if (rc)
		store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (s->db)
		sqlite3_close(s->db);
	s->db = NULL;
}

/* ---- writes that wait for other writers ---- */

static int is_busy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

/* Sleep before try number `tries` (1, 2, ...): doubling, jittered by up to
 * a half so two waiting writers do not retry in step. 0 when the wait
 * that began at t0 is over. */
static int backoff(int tries, double t0)
{
	double ms = STORE_BACKOFF_FIRST_MS;
	int i;

	if (q_now_ms() - t0 >= STORE_WRITE_WAIT_MS)
		return 0;
	for (i = 1; i < tries && ms < STORE_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > STORE_BACKOFF_MAX_MS)
		ms = STORE_BACKOFF_MAX_MS;
	sqlite3_sleep((int)(ms * (0.5 + q_random_unit() / 2)));
	return 1;
}

/* sqlite3_exec(sql) until it is not busy or the wait is over. */
static int exec_retry(struct store *s, const char *sql)
{
	double t0 = q_now_ms();
	int rc, tries = 0;

	while (is_busy(rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) && backoff(++tries, t0))
		;
	return rc;
}

int store_begin_write(struct store *s, const char *what, struct q_error *err)
{
	int rc = exec_retry(s, "BEGIN IMMEDIATE");

	return rc == SQLITE_OK ? 0 : store_error(s, rc, what, err);
}

int store_commit(struct store *s, const char *what, struct q_error *err)
{
	int rc = exec_retry(s, "COMMIT");

	if (rc == SQLITE_OK)
		return 0;
	rc = store_error(s, rc, what, err);
	store_rollback(s);
	return rc;
}

void store_rollback(struct store *s)
{
	if (s->db && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_step_retry(sqlite3_stmt *st)
{
	double t0 = q_now_ms();
	int rc, tries = 0;

	while (is_busy(rc = sqlite3_step(st)) && backoff(++tries, t0))
		sqlite3_reset(st);
	return rc;
}

long long store_query_int(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

long long store_fts_bytes(struct store *s)
{
	long long page_size = store_query_int(s, "PRAGMA page_size");
	long long pages = store_query_int(s, "SELECT count(*) FROM dbstat WHERE name LIKE 'passages_fts%'");

	return pages < 0 || page_size < 0 ? -1 : pages * page_size;
}

int store_integrity_check(struct store *s, store_problem_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int ok = 1;

	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
		ok = 0;
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *m = (const char *)sqlite3_column_text(st, 0);
		if (m && strcmp(m, "ok")) {
			ok = 0;
			fn(ctx, m);
		}
	}
out:
	sqlite3_finalize(st);
	return ok;
}

int store_fts_check(struct store *s, struct q_error *err)
{
	int rc = sqlite3_exec(s->db,
			      "INSERT INTO passages_fts(passages_fts, rank) VALUES('integrity-check', 1)",
			      NULL, NULL, NULL);

	if ((rc & 0xff) == SQLITE_READONLY)
		return 1;
	if (rc != SQLITE_OK)
		return q_error_set(err, Q_EPARSE, "%s", sqlite3_errmsg(s->db));
	return 0;
}

int store_quick_check(struct store *s, struct q_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc, result = -1;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *m = (const char *)sqlite3_column_text(st, 0);
			result = m && !strcmp(m, "ok");
		}
	}
	sqlite3_finalize(st);
	if (result >= 0)
		return result;
	if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
		return 0;
	store_error(s, sqlite3_errcode(s->db), "checking the database", err);
	return -1;
}

int store_rebuild_fts(struct store *s, struct q_error *err)
{
	return store_exec(s, "INSERT INTO passages_fts(passages_fts) VALUES('rebuild'); VACUUM;", err);
}
