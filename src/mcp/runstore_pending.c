/*
 * runstore_pending.c - TEMPORARY: stands in for the run store until its
 * SQLite implementation (src/research/runstore.c) is merged; every call
 * says so. Deleted by the merge that brings runstore.c.
 */
#include "../research/runstore.h"

const char *run_status_name(enum run_status s)
{
	return s == RUN_DONE ? "done" : "unknown";
}

int runstore_open(struct runstore **out, const char *home, struct q_error *err)
{
	*out = NULL;
	return q_error_set(err, Q_EUNSUPPORTED, "the run store is not built in yet");
}

void runstore_close(struct runstore *rs) { (void)rs; }

void run_record_release(struct run_record *r) { (void)r; }

int runstore_get(struct runstore *rs, long id, int with_report, struct run_record *out,
		 struct q_error *err)
{
	return q_error_set(err, Q_EUNSUPPORTED, "the run store is not built in yet");
}

int runstore_list(struct runstore *rs, const struct runstore_filter *f, struct run_record **out,
		  size_t *n, struct q_error *err)
{
	return q_error_set(err, Q_EUNSUPPORTED, "the run store is not built in yet");
}

void runstore_list_free(struct run_record *v, size_t n) { (void)v; (void)n; }
