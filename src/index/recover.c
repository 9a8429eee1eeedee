/*
 * recover.c - moving a damaged database aside and reading back what it
 * still holds (see recover.h).
 *
 * Why not SQLite's recovery extension or `.dump`: the extension is not in
 * Debian's libsqlite3 and the sqlite3 shell is not a dependency. What
 * quarry needs back is small and regular: every table worth copying is a
 * rowid table, so each is walked one row at a time by rowid ("the next
 * rowid after the last one read", a b-tree seek), and a seek or read that
 * fails skips ahead by a growing step (1, 2, 4, ...) until a readable row
 * is found again or RECOVER_MAX_SKIPS seeks in a row have failed. A
 * damaged leaf page so costs the rows on it, not the whole table; damage
 * in an interior page costs the rows below it. The passages and the
 * full-text index are not copied at all: they are rebuilt from the files.
 */
#include "recover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/alloc.h"

/* The tables copied, parents before children (foreign keys). */
static const char *const table_names[RECOVER_N_TABLES] = {"documents", "runs",      "run_events",
							  "run_cache", "llm_cache", "page_cache"};

/* Page sizes tried when the header must be rebuilt, likeliest first. */
static const unsigned page_sizes[] = {4096, 1024, 2048, 8192, 16384, 32768, 65536, 512};

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* A valid 100-byte header for a file of n_pages pages of page_size. */
static void make_header(unsigned char h[100], unsigned page_size, uint32_t n_pages)
{
	memset(h, 0, 100);
	memcpy(h, "SQLite format 3", 16);
	h[16] = (unsigned char)(page_size == 65536 ? 0 : page_size >> 8);
	h[17] = (unsigned char)(page_size == 65536 ? 1 : page_size & 0xff);
	h[18] = h[19] = 1; /* rollback journal: a rebuilt copy has no WAL */
	h[21] = 64;
	h[22] = h[23] = 32;
	put_be32(h + 24, 1); /* change counter */
	put_be32(h + 28, n_pages);
	put_be32(h + 40, 1); /* schema cookie */
	put_be32(h + 44, 4); /* schema format */
	put_be32(h + 56, 1); /* UTF-8 */
	put_be32(h + 92, 1); /* size valid for change counter 1 */
	put_be32(h + 96, SQLITE_VERSION_NUMBER);
}

/* Copy src to dst with a new header. 0 or -1 (errno set). */
static int copy_with_header(const char *src, const char *dst, unsigned page_size)
{
	unsigned char buf[65536], header[100];
	struct stat st;
	int in = -1, out = -1, rc = -1, first = 1;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0 || fstat(in, &st))
		goto out;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0)
		goto out;
	make_header(header, page_size, (uint32_t)(st.st_size / page_size));
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (first && n >= 100)
			memcpy(buf, header, 100);
		first = 0;
		if (write(out, buf, (size_t)n) != n)
			goto out;
	}
	rc = n < 0 ? -1 : 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out))
		rc = -1;
	return rc;
}

/* 1 if the schema of db can be read and names the documents table. */
static int schema_readable(sqlite3 *db)
{
	sqlite3_stmt *st;
	int ok = 0;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'documents'", -1, &st,
			       NULL) != SQLITE_OK)
		return 0;
	ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
	sqlite3_finalize(st);
	return ok;
}

static int open_source(const char *path, sqlite3 **db)
{
	int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc == SQLITE_OK && schema_readable(*db))
		return 0;
	sqlite3_close(*db);
	*db = NULL;
	return -1;
}

/* Open the damaged file for reading, rebuilding its header in a copy
 * (tmp) when it cannot be read as it is. */
static sqlite3 *open_damaged(struct store_recovery *rec, const char *tmp)
{
	sqlite3 *db = NULL;
	size_t i;

	if (!open_source(rec->aside, &db))
		return db;
	for (i = 0; i < sizeof(page_sizes) / sizeof(page_sizes[0]); i++) {
		if (copy_with_header(rec->aside, tmp, page_sizes[i]))
			break;
		if (!open_source(tmp, &db)) {
			rec->header_rebuilt = 1;
			return db;
		}
	}
	unlink(tmp);
	rec->unreadable_schema = 1;
	return NULL;
}

static int add_path(struct store_recovery *rec, size_t *cap, const char *path)
{
	if (rec->n_paths == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		char **p = q_reallocarray(rec->paths, c, sizeof(*p));
		if (!p)
			return Q_ENOMEM;
		rec->paths = p;
		*cap = c;
	}
	if (!(rec->paths[rec->n_paths] = q_strdup(path)))
		return Q_ENOMEM;
	rec->n_paths++;
	return 0;
}

/* Copy the row with this rowid: into fresh (ins), or its path into rec.
 * 0, or -1 when it cannot be read or written. */
static int copy_row(sqlite3_stmt *sel, sqlite3_stmt *ins, long long rowid, struct store_recovery *rec,
		    size_t *paths_cap)
{
	int i, n, rc = -1;

	sqlite3_reset(sel);
	sqlite3_bind_int64(sel, 1, rowid);
	if (sqlite3_step(sel) != SQLITE_ROW)
		return -1;
	if (!ins) {
		const char *path = (const char *)sqlite3_column_text(sel, 0);
		return path && !add_path(rec, paths_cap, path) ? 0 : -1;
	}
	n = sqlite3_column_count(sel);
	sqlite3_reset(ins);
	for (i = 0; i < n; i++)
		sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, i));
	if (sqlite3_step(ins) == SQLITE_DONE && sqlite3_changes(sqlite3_db_handle(ins)) == 1)
		rc = 0;
	return rc;
}

/* An INSERT naming the old table's columns, so a fresh database of a
 * newer schema (more columns, with defaults) takes the old rows. */
static int prepare_insert(sqlite3 *fresh, sqlite3 *old, const char *table, sqlite3_stmt **ins)
{
	char sql[2048], vals[512];
	sqlite3_stmt *probe;
	int n, i, k, v = 0;

	snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" LIMIT 0", table);
	if (sqlite3_prepare_v2(old, sql, -1, &probe, NULL) != SQLITE_OK)
		return -1;
	n = sqlite3_column_count(probe);
	k = snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO \"%s\" (", table);
	vals[0] = '\0';
	for (i = 0; i < n && k > 0 && (size_t)k < sizeof(sql) - 80 && (size_t)v < sizeof(vals) - 8; i++) {
		k += snprintf(sql + k, sizeof(sql) - (size_t)k, "%s\"%s\"", i ? ", " : "",
			      sqlite3_column_name(probe, i));
		v += snprintf(vals + v, sizeof(vals) - (size_t)v, i ? ", ?" : "?");
	}
	sqlite3_finalize(probe);
	if (i < n || k <= 0 || (size_t)k >= sizeof(sql) - 80)
		return -1;
	if (snprintf(sql + k, sizeof(sql) - (size_t)k, ") VALUES (%s)", vals) >= (int)(sizeof(sql) - (size_t)k))
		return -1;
	return sqlite3_prepare_v2(fresh, sql, -1, ins, NULL) == SQLITE_OK ? 0 : -1;
}

/* Walk one table of old by rowid, skipping what cannot be read. */
static void copy_table(sqlite3 *old, sqlite3 *fresh, struct recover_table *t, struct store_recovery *rec,
		       size_t *paths_cap)
{
	char sql[256];
	sqlite3_stmt *next = NULL, *sel = NULL, *ins = NULL;
	long long last = INT64_MIN, skip = 1;
	int fails = 0, documents = !strcmp(t->name, "documents");

	snprintf(sql, sizeof(sql), "SELECT rowid FROM \"%s\" WHERE rowid > ?1 ORDER BY rowid LIMIT 1", t->name);
	if (sqlite3_prepare_v2(old, sql, -1, &next, NULL) != SQLITE_OK)
		goto out; /* not in this (older) schema, or its schema is unreadable */
	snprintf(sql, sizeof(sql),
		 documents ? "SELECT path FROM \"%s\" WHERE rowid = ?1"
			   : "SELECT * FROM \"%s\" WHERE rowid = ?1",
		 t->name);
	if (sqlite3_prepare_v2(old, sql, -1, &sel, NULL) != SQLITE_OK ||
	    (!documents && prepare_insert(fresh, old, t->name, &ins)))
		goto out;
	while (fails < RECOVER_MAX_SKIPS) {
		long long rowid;
		int rc;
		sqlite3_reset(next);
		sqlite3_bind_int64(next, 1, last);
		rc = sqlite3_step(next);
		if (rc == SQLITE_DONE)
			break;
		/* A damaged b-tree can answer "the next rowid after last" with
		 * one that is not after it: taken as read, the walk would go
		 * round for ever. It is a failed seek like any other. */
		rowid = rc == SQLITE_ROW ? sqlite3_column_int64(next, 0) : last;
		if (rowid > last) {
			if (copy_row(sel, ins, rowid, rec, paths_cap))
				t->unreadable++;
			else
				t->copied++;
			last = rowid;
			skip = 1;
			fails = 0;
			continue;
		}
		/* The seek itself failed: jump past the damage. */
		t->unreadable++;
		fails++;
		if (last == INT64_MIN)
			last = 0; /* quarry's rowids start at 1 */
		if (last > INT64_MAX - skip)
			break;
		last += skip;
		skip = skip > INT64_MAX / 2 ? skip : skip * 2;
	}
out:
	sqlite3_finalize(next);
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
}

/* quarry.db.damaged-20261201-101500 (-2, -3... if taken). */
static int aside_name(const char *db_path, char *out, size_t size)
{
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	struct stat st;
	int i;

	if (!gmtime_r(&now, &tm) || !strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm))
		return -1;
	for (i = 1; i < 100; i++) {
		int k = i == 1 ? snprintf(out, size, "%s.damaged-%s", db_path, stamp)
			       : snprintf(out, size, "%s.damaged-%s-%d", db_path, stamp, i);
		if (k < 0 || (size_t)k >= size - 8) /* room for "-wal" */
			return -1;
		if (lstat(out, &st) && errno == ENOENT)
			return 0;
	}
	return -1;
}

/* Move quarry.db and its -wal aside; the -shm is only an index of the WAL. */
static int move_aside(const char *db_path, struct store_recovery *rec, struct q_error *err)
{
	char from[4096 + 8], to[sizeof(rec->aside) + 8];

	if (aside_name(db_path, rec->aside, sizeof(rec->aside)))
		return q_error_set(err, Q_EIO, "cannot name a file beside %s to move it to", db_path);
	if (rename(db_path, rec->aside))
		return q_error_set(err, Q_EIO, "cannot move the damaged %s aside: %s", db_path,
				   strerror(errno));
	snprintf(from, sizeof(from), "%s-wal", db_path);
	snprintf(to, sizeof(to), "%s-wal", rec->aside);
	if (rename(from, to) && errno != ENOENT)
		return q_error_set(err, Q_EIO, "cannot move %s aside: %s", from, strerror(errno));
	snprintf(from, sizeof(from), "%s-shm", db_path);
	unlink(from);
	return 0;
}

int store_recover(const char *home, struct store *fresh, struct store_recovery *rec, struct q_error *err)
{
	char db_path[4096], tmp[sizeof(rec->aside) + 16], shm[sizeof(rec->aside) + 8];
	sqlite3 *old = NULL;
	size_t paths_cap = 0;
	int rc, i;

	memset(rec, 0, sizeof(*rec));
	memset(fresh, 0, sizeof(*fresh));
	for (i = 0; i < RECOVER_N_TABLES; i++)
		rec->tables[i].name = table_names[i];
	if (snprintf(db_path, sizeof(db_path), "%s/%s", home, STORE_DB_NAME) >= (int)sizeof(db_path))
		return q_error_set(err, Q_ETOOBIG, "home folder path too long");
	if ((rc = move_aside(db_path, rec, err)))
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.rebuilt", rec->aside);
	snprintf(shm, sizeof(shm), "%s-shm", rec->aside);
	if ((rc = store_open(fresh, home, err)))
		return rc;
	old = open_damaged(rec, tmp);
	if (old) {
		sqlite3_exec(fresh->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		for (i = 0; i < RECOVER_N_TABLES; i++)
			copy_table(old, fresh->db, &rec->tables[i], rec, &paths_cap);
		if (sqlite3_exec(fresh->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			rc = store_error(fresh, sqlite3_errcode(fresh->db), "writing the recovered database",
					 err);
			sqlite3_exec(fresh->db, "ROLLBACK", NULL, NULL, NULL);
		}
		sqlite3_close(old);
	}
	if (rec->header_rebuilt)
		unlink(tmp);
	unlink(shm);
	if (rc) {
		store_close(fresh);
		store_recovery_release(rec);
	}
	return rc;
}

void store_recovery_release(struct store_recovery *rec)
{
	size_t i;

	for (i = 0; i < rec->n_paths; i++)
		q_free(rec->paths[i]);
	q_free(rec->paths);
	rec->paths = NULL;
	rec->n_paths = 0;
}
