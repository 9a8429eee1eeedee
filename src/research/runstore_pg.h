/*
 * runstore_pg.h - the run records on PostgreSQL: the schema, its
 * migrations, and what `quarry db status` shows.
 *
 * The run store (runstore.h) picks this backend when it is given a
 * database URL; the corpus stays in the local SQLite store (see
 * docs/ARCHITECTURE.md). Tables: schema_version(version, applied, by),
 * runs, run_events, run_cache, page_cache, llm_cache, workers
 * (runstore_pg.c has the columns). Migrations run inside one transaction holding
 * pg_advisory_xact_lock(RUNSTORE_PG_LOCK_KEY), so any number of processes
 * may start at once: one applies them, the others wait and find nothing
 * left to do.
 */
#ifndef Q_RUNSTORE_PG_H
#define Q_RUNSTORE_PG_H

#include "../core/err.h"
#include "runstore.h"

#define RUNSTORE_PG_SCHEMA_VERSION 2
#define RUNSTORE_PG_LOCK_KEY 7264570001LL          /* the advisory lock of migrations */
#define RUNSTORE_PG_CHANNEL_EVENTS "quarry_events" /* payload "RUN SEQ" */
#define RUNSTORE_PG_CHANNEL_JOBS "quarry_jobs"     /* payload "RUN" */

struct pgconn;

/* The run records on the PostgreSQL database at url (a connection of
 * their own, migrated as runstore_pg_migrate does). */
int runstore_pg_open(struct runstore **out, const char *url, struct q_error *err);

/* Apply every migration the database lacks. *from (may be NULL) is the
 * version found, *to (may be NULL) the version now. Q_EUNSUPPORTED when
 * the database is newer than this binary (upgrade quarry first). */
int runstore_pg_migrate(struct pgconn *c, int *from, int *to, struct q_error *err);

/* The schema version of the database: 0 for an empty one. */
int runstore_pg_schema_version(struct pgconn *c, int *version, struct q_error *err);

/* What an operator asks `quarry db status` about. */
struct runstore_pg_status {
	char server_version[64];   /* "15.18" */
	int schema_version;        /* found */
	long counts[RUN_STATUS_N]; /* runs by status as runstore_counts sees them */
	long workers;              /* distinct workers holding a live lease */
	long oldest_queued_s;      /* age of the oldest queued run, 0 if none */
	long events;               /* event rows */
};
/* Fill *st (the counts only when the schema is current). */
int runstore_pg_status(struct pgconn *c, struct runstore_pg_status *st, struct q_error *err);

#endif
