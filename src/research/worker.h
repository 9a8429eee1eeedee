/*
 * worker.h - a worker: it carries queued research runs, several at once.
 *
 * worker_run claims the oldest queued run (or one whose worker died: its
 * lease lapsed) from the run records, runs it on a thread of its own with
 * its own store connection, research_env and model account, and goes on
 * until told to stop or, with idle_exit_ms, until the queue has been
 * empty that long. While a run goes on the worker renews its lease every
 * heartbeat_ms and reads the run's cancel flag every
 * WORKER_CANCEL_CHECK_MS: a `runs cancel` from any process stops the run
 * within about a second (research_cancel_final: the run ends cancelled
 * with its best report). A run another worker took over (this one hung
 * past its lease) is interrupted here and its writes refused
 * (runstore_hold). A run resumed after its worker died replays the
 * model replies stored with it: no completed call is paid twice.
 *
 * Stopping (*stop set, e.g. from a SIGTERM handler): the runs in flight
 * are interrupted, kept as far as they got, and released back to the
 * queue at once (not left for their leases to lapse), so the next worker
 * resumes them.
 *
 * The core reads no environment: the front end gives the model client
 * for each run (llm_open, from its configuration and the run's stored
 * options).
 */
#ifndef Q_WORKER_H
#define Q_WORKER_H

#include <jansson.h>

#include "../core/config.h"
#include "../core/err.h"
#include "../index/store.h"
#include "../llm/llm.h"

#define WORKER_MAX_SLOTS 64
#define WORKER_POLL_MS 200         /* how often a worker looks at the queue and its runs */
#define WORKER_CANCEL_CHECK_MS 500 /* how often a run's cancel flag is read (a cheap read) */

/* The model client for a run with these stored options (research_opts_to_json
 * plus what the front end added): *client NULL and 0 for a run without a
 * model. store is the run's own connection (for a reply cache). Called on
 * the run's thread; the client serves that run only. *model is the front
 * end's own handle on what it made (the client, its configuration, a
 * cache), handed back to llm_close when the run is done. */
typedef int (*worker_llm_open_fn)(void *ctx, const json_t *options, struct store *store,
				  struct llm_client **client, void **model, struct q_error *err);
typedef void (*worker_llm_close_fn)(void *ctx, void *model);
/* One line on what the worker does ("run 5: claimed"), without a newline.
 * Called from the worker's threads, one at a time. */
typedef void (*worker_log_fn)(void *ctx, const char *line);

struct worker_config {
	const char *home;            /* the quarry home whose queue it serves */
	const struct config *file;   /* settings for search providers (may be NULL) */
	int slots;                   /* runs at once: 1 to WORKER_MAX_SLOTS */
	long idle_exit_ms;           /* > 0: return once nothing was queued or running this long */
	long lease_ms;               /* 0: RUNSTORE_LEASE_MS */
	long heartbeat_ms;           /* 0: RUNSTORE_HEARTBEAT_MS */
	worker_llm_open_fn llm_open; /* NULL: every run goes without a model */
	worker_llm_close_fn llm_close;
	worker_log_fn log; /* may be NULL */
	void *ctx;
	int ready_fd; /* > 2: closed once the worker is registered (it holds
				       * the lock of the `--detach` that started it) */
};

/* This process's worker name, "host:pid", into out. */
void worker_name(char *out, size_t size);

/* Serve the queue until *stop is non-zero (read atomically; a signal
 * handler may set it) or the idle time ran out. 0, or Q_E* with err set
 * when the run records cannot be opened. */
int worker_run(const struct worker_config *wc, volatile int *stop, struct q_error *err);

#endif
