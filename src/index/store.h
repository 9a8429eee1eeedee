/*
 * store.h - the quarry database: one SQLite file under $QUARRY_HOME.
 *
 * Holds the corpus (documents, their passages and the FTS5 index over
 * them) and, later, runs and caches. Opened in WAL mode so searches run
 * while an indexing run writes. The schema is versioned with
 * PRAGMA user_version; store_open applies every migration the file lacks,
 * each in its own transaction.
 *
 * Tables (schema 1):
 *   documents(id, path UNIQUE, title, kind, size, mtime_ns, hash, chars,
 *             indexed_at)
 *   passages(id, doc_id -> documents ON DELETE CASCADE, ord, heading,
 *            start, end, char_start, char_end, body)
 *            start/end: UTF-8 byte offsets in the extracted text;
 *            char_start/char_end: the same span in characters
 *   passages_fts  FTS5(title, heading, body), external content from the
 *                 view passage_content, tokenize='quarry'
 * Schema 2:
 *   llm_cache(key = SHA-256 of the request, model, created, reply JSON)
 * Schema 3:
 *   runs(id, question, options JSON, status, created, updated, report_md,
 *        report JSON); run_events(run_id, seq, event JSON);
 *   run_cache(run_id, key, value): a run's searches and fetched pages
 * Schema 4:
 *   page_cache(url, fetched, value): extracted pages shared by runs for a day
 * Schema 5:
 *   runs gains worker (its holder, "" if none), lease_until (wall-clock
 *   ms, NULL if no worker holds it) and cancel_requested;
 *   workers(name, host, pid, started, seen, slots): the workers alive
 *
 * A struct store is one connection: use it from one thread at a time.
 */
#ifndef Q_STORE_H
#define Q_STORE_H

#include <sqlite3.h>

#include "../core/err.h"

#define STORE_SCHEMA_VERSION 5
#define STORE_DB_NAME "quarry.db"
#define STORE_BUSY_TIMEOUT_MS 10000
/* How long a write waits for other writers in all: SQLite's busy handler
 * (STORE_BUSY_TIMEOUT_MS a try), then tries again after a backoff. Every
 * writer keeps its transactions short (index add writes a small batch of
 * extracted files at a time), so a wait this long means a stuck writer. */
#define STORE_WRITE_WAIT_MS 60000
#define STORE_BACKOFF_FIRST_MS 20
#define STORE_BACKOFF_MAX_MS 1000

struct store {
	sqlite3 *db;
	char path[4096];
};

/*
 * Find the home folder: home_flag, else $QUARRY_HOME, else
 * $XDG_DATA_HOME/quarry, else ~/.local/share/quarry, the variables taken
 * from envp (NULL-terminated NAME=value; the front end passes its
 * environment: the core reads none). Writes it to out.
 */
int store_home_in(const char *home_flag, char *const *envp, char *out, size_t out_size, struct q_error *err);

/* Create the home folder if needed, open (or create) the database and
 * migrate it. A damaged file gives Q_EPARSE with a message naming
 * `quarry index check` and `quarry index rebuild` (which recovers it:
 * recover.h). */
int store_open(struct store *s, const char *home, struct q_error *err);
/* Open the database for reading only (search, ls, stats, check), so a
 * read-only file or folder can still be searched; a WAL database whose
 * folder cannot be written is opened immutable. No migrations run: an
 * older schema is read as it is. A missing database is created with
 * store_open. Errors as for store_open. */
int store_open_readonly(struct store *s, const char *home, struct q_error *err);
void store_close(struct store *s);

/* Run SQL without results; on failure set err with context. */
int store_exec(struct store *s, const char *sql, struct q_error *err);

/*
 * Writes that wait for other writers. A "busy" answer (the busy handler
 * gave up) is retried with a jittered, doubling backoff from
 * STORE_BACKOFF_FIRST_MS to STORE_BACKOFF_MAX_MS until STORE_WRITE_WAIT_MS
 * have passed. Keep what runs between store_begin_write and
 * store_commit to writes: extraction and other slow work goes before.
 */
/* BEGIN IMMEDIATE. 0 or a Q_E* code with err set (what names the work). */
int store_begin_write(struct store *s, const char *what, struct q_error *err);
/* COMMIT; on failure the transaction is rolled back. 0 or Q_E*. */
int store_commit(struct store *s, const char *what, struct q_error *err);
/* ROLLBACK if a transaction is open. */
void store_rollback(struct store *s);
/* sqlite3_step on a write statement outside an explicit transaction,
 * reset and tried again while the database is busy. Returns SQLite's
 * code (SQLITE_DONE on success). */
int store_step_retry(sqlite3_stmt *st);

/* Describe a SQLite failure for a user (corruption, full disk, locks). */
int store_error(struct store *s, int sqlite_rc, const char *what, struct q_error *err);

/* The first column of the first row of sql as a number; -1 when it
 * fails or gives no row. For the store modules' own count queries. */
long long store_query_int(struct store *s, const char *sql);

/* Whole-database facts and checks (index stats, check, rebuild). */
/* Bytes the full-text index takes (its pages times the page size); -1
 * when SQLite cannot tell (no dbstat). */
long long store_fts_bytes(struct store *s);
/* Called with each problem PRAGMA integrity_check reports. */
typedef void (*store_problem_fn)(void *ctx, const char *problem);
/* PRAGMA integrity_check, every problem it finds to fn (SQLite stops at
 * 100). 1 if none, 0 if some (or the check could not run). */
int store_integrity_check(struct store *s, store_problem_fn fn, void *ctx);
/* The FTS5 integrity-check of the full-text index. 0 if sound, 1 if it
 * could not be checked because the database is read-only, else a Q_E*
 * code with SQLite's own message in err. */
int store_fts_check(struct store *s, struct q_error *err);
/* PRAGMA quick_check(1): 1 if "ok", 0 if it finds damage, -1 if it could
 * not run for another reason (err set then). */
int store_quick_check(struct store *s, struct q_error *err);
/* Rebuild the full-text index from the passages and VACUUM. 0 or Q_E*. */
int store_rebuild_fts(struct store *s, struct q_error *err);

#endif
