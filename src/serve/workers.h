/*
 * workers.h - the worker processes `quarry serve` starts for its queue.
 *
 * The server never runs research itself (a hostile page that crashes a
 * run must not take every watcher's stream with it): runs are carried by
 * `quarry worker` processes on the same home. serve starts some unless a
 * live one is already registered, and stops those it started when it
 * ends; runs outlive both (they are in the database, and a lapsed lease
 * puts a run back in the queue).
 */
#ifndef Q_WORKERS_H
#define Q_WORKERS_H

#include "../core/err.h"

struct serve_workers;

struct runstore;
/* Start n worker processes for home, each carrying one run at a time (so
 * a crash takes one run with it); n < 0: WORKERS_DEFAULT; 0: none. None
 * either when rs shows a live worker registered already (*existing set to
 * how many). 0, or Q_ESUBPROC with err set (the server still runs; runs
 * stay queued until a worker comes). */
#define WORKERS_DEFAULT 2
int serve_workers_start(struct serve_workers **out, const char *home, int n, struct runstore *rs,
			size_t *existing, struct q_error *err);
/* Reap the workers that died and start each again after its backoff (1 s,
 * doubled for each quick death up to 60 s): call it every second or so
 * from the event loop. What happened goes to note (lines for stderr, ""
 * when nothing did). The count of live workers started. */
int serve_workers_tend(struct serve_workers *w, char *note, size_t cap);
/* The pid of worker i (0 when none or not running). */
int serve_workers_pid(const struct serve_workers *w, int i);
/* Stop and reap the workers started (may be NULL). */
void serve_workers_stop(struct serve_workers *w);

#endif
