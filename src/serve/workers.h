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

/* Start n workers for home (n < 0: the default, 1 process carrying 2 runs
 * at once; 0: none). 0, or Q_ESUBPROC with err set (the server still
 * runs; runs stay queued until a worker comes). */
int serve_workers_start(struct serve_workers **out, const char *home, int n, struct q_error *err);
/* Stop and reap the workers started (may be NULL). */
void serve_workers_stop(struct serve_workers *w);

#endif
