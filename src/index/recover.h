/*
 * recover.h - a way out of a damaged quarry database.
 *
 * store_recover moves the damaged file aside (quarry.db.damaged-TIMESTAMP,
 * with its -wal), creates a fresh database in its place and copies into
 * it what can still be read of the old one: the runs with their events
 * and caches, the page and model-reply caches, row by row, skipping rows
 * and b-tree ranges that cannot be read; and the paths of the indexed
 * documents, which the caller re-indexes from the files themselves (the
 * passages and the full-text index are derived data, never copied).
 *
 * A file whose 100-byte header is damaged ("file is not a database") is
 * read through a copy with a rebuilt header: the page size is the one
 * that makes the schema readable, tried in SQLite's usual order.
 *
 * Not thread-safe with other users of the same home: run it alone.
 */
#ifndef Q_RECOVER_H
#define Q_RECOVER_H

#include <stddef.h>

#include "store.h"

/* Consecutive unreadable seeks in one table before giving up on it. */
#define RECOVER_MAX_SKIPS 64

/* What one table gave back. */
struct recover_table {
	const char *name; /* static */
	long copied;      /* rows now in the fresh database */
	long unreadable;  /* rows or ranges that could not be read */
};

#define RECOVER_N_TABLES 6 /* documents (paths only), runs, run_events, run_cache, llm_cache, page_cache */

struct store_recovery {
	char aside[4096];      /* where the damaged file now is */
	int header_rebuilt;    /* the header had to be rebuilt to read it */
	int unreadable_schema; /* nothing could be read at all */
	struct recover_table tables[RECOVER_N_TABLES];
	char **paths; /* documents' paths read back (owned) */
	size_t n_paths;
};

/*
 * Recover the database of home as described above. On success (0) *fresh
 * is the new, open database (close it with store_close) and *rec says what
 * was read; release it with store_recovery_release. Q_EIO when the file
 * cannot be moved aside or the new one cannot be made (err says which);
 * the old file is then left where it was if it was not moved yet.
 */
int store_recover(const char *home, struct store *fresh, struct store_recovery *rec, struct q_error *err);
void store_recovery_release(struct store_recovery *rec);

#endif
