/*
 * research.h - a research run: question in, cited report out.
 *
 *   plan -> gather -> select -> read -> note -> reflect (loop) -> write
 *   -> verify -> report
 *
 * The steps run in order; parallelism lives in the batch calls they make
 * (search_many, http_fetch_many, llm_chat_many). Without a model the run
 * gathers, reads and composes an extractive brief.
 *
 * Every run is stored in the quarry database (runs, run_events,
 * run_cache). Searches, fetched pages and every model reply are kept per
 * run (replies also in the shared reply cache unless --no-cache), so
 * research_run on an existing run id replays what was done and pays for
 * nothing twice: that is resume. The run also keeps the pid, host and
 * start time of the process carrying it, to tell a live run from a dead
 * one.
 *
 * Budgets (tokens, money, time) are checked between steps and by the
 * model client before each call. When one runs out the run stops and
 * still writes the best report it can from what it has, and says so.
 *
 * Many runs at once. Any number of research_run calls may run at the same
 * time, on their own threads, each with its own research_env and its own
 * store connection (a connection is used by one thread at a time) on the
 * same home, and sharing one llm_client. A run's token and cost figures,
 * budgets and cancel are its own (it counts its model calls with its own
 * llm_account), so runs on one client neither see nor stop each other.
 */
#ifndef Q_RESEARCH_H
#define Q_RESEARCH_H

#include <jansson.h>
#include <stdio.h>

#include "../core/config.h"
#include "../core/err.h"
#include "../core/qbuf.h"
#include "../index/store.h"
#include "../llm/llm.h"

#define RESEARCH_MAX_SOURCES 500
#define RESEARCH_MAX_DEPTH 10
#define RESEARCH_MAX_BREADTH 20
#define RESEARCH_SOURCE_MAX_BYTES (1L * 1024 * 1024) /* of extracted text kept per source */

struct research_opts {
	const char *question;
	int depth;          /* rounds of gather-read-note-reflect; 0 = 2 */
	int breadth;        /* queries per round; 0 = 4 */
	int max_sources;    /* 0 = 20 */
	long budget_tokens; /* 0 = none */
	double budget_usd;
	long time_limit_ms;
	const char *sources; /* "web,corpus" by default */
	const char *lang;    /* NULL: the question's */
	int no_llm;
	int quick;         /* `ask`: one round, few sources, short answer */
	int allow_private; /* fetch result URLs on private addresses */
	int ignore_robots;
	int fetch_parallel; /* 0 = 8 */
	int fresh;          /* fetch pages again even if an earlier run read them today */
	/* Where the report goes (NULL: standard output) and its format
	 * (NULL: md): stored with the run, so `runs resume` writes there too.
	 * An output path is stored as given: make it absolute first. */
	const char *output;
	const char *format;
	/* The report's length: "short", "standard" (NULL) or "long", about
	 * 600, 1,500 and 4,000 words. */
	const char *length;
	/* Plan, print the brief and plan, store the run and stop: the report
	 * is the plan ("plan_only": true), the status "planned", and
	 * resuming the run goes on from the plan. Not stored with the run. */
	int plan_only;
	/* Given to resume a run: an edited plan (JSON text of the object a
	 * plan-only run reports: sub_questions, queries, outline, brief) that
	 * replaces the model's. */
	const char *plan_json;
	/* `ask --run ID`: answer from run ID's sources and findings (their
	 * quotes checked again), searching only for what they lack. Stored. */
	long follow_run;
};

/* Called for every event (also written to the run record), on the thread
 * that runs the run, never on a pool thread, one event at a time. event
 * and all it holds are valid until the callback returns: copy
 * (json_deep_copy, json_dumps) what you keep. docs/EVENTS.md. */
typedef void (*research_event_fn)(void *ctx, const json_t *event);

struct runstore;

struct research_env {
	struct store *store; /* the quarry database: runs, caches, corpus */
	/* Borrowed, may be NULL: where the run's records go (runstore.h);
	 * NULL: the run records on store. */
	struct runstore *runs;
	const char *home; /* its folder (the corpus for searches) */
	const struct config *file;
	struct llm_client *llm; /* NULL: extractive mode */
	FILE *events;           /* JSON lines, may be NULL */
	research_event_fn on_event;
	void *ctx;
	/* Borrowed, may be NULL: the account the run's model calls are
	 * counted, budgeted and cancelled with, for a caller that shows the
	 * figures live (llm_account_totals from another thread). Given, it
	 * serves this run only, from research_run's start to its end, and
	 * research_run sets its budgets; NULL: the run keeps one of its own. */
	struct llm_account *account;
	/* Non-zero stops the run: research_cancel. Zero it before the run. */
	volatile int cancelled;
};

/* Stop the run carried with env: searches, page fetches and model calls
 * in flight end within about a second, and research_run returns
 * Q_ETIMEOUT with status "interrupted" and everything done so far kept
 * (resume continues it). Other runs, on the same model client too, go
 * on. From any thread while the run goes on, or from a signal handler
 * (it only sets env->cancelled). */
void research_cancel(struct research_env *env);
/* The value research_cancel_final leaves in env->cancelled (research_cancel's is 1). */
#define RESEARCH_CANCEL_FINAL 2
/* Cancel the run for good: it stops as research_cancel makes it, then
 * writes the best report it can from what it has without the model
 * (the findings, or an extractive brief), status "cancelled", and
 * research_run returns 0 (Q_ETIMEOUT, and no report, when nothing was
 * read yet). Not resumable. Safe where research_cancel is. */
void research_cancel_final(struct research_env *env);

struct research_result {
	long run_id;
	/* run_status_name: "done", "stopped" (budget), "cancelled",
	 * "interrupted", "failed" */
	char status[16];
	char *markdown;        /* the report */
	json_t *report;        /* everything: report, sources, notes, figures */
	struct llm_totals llm; /* this run's model calls, tokens and cost (zero without a model) */
};

/* Start a new run (run_id 0) or resume run_id with its stored question
 * and options (opts ignored then, but for allow_private: set, it is
 * stored with the run). 0 when a report was written (also after a budget
 * stop); Q_E* with err set otherwise: Q_EPOLICY when no source was read
 * and the address policy refused some of them. */
int research_run(const struct research_opts *opts, struct research_env *env, long run_id,
		 struct research_result *out, struct q_error *err);
void research_result_release(struct research_result *r);

/* Whether run run_id is being carried by a live process now: the pid,
 * host and process start time it stored are checked (kill(pid, 0) on
 * the same host). A run marked running whose process is gone is
 * interrupted. */
int research_run_alive(struct store *s, long run_id);
/* Delete run run_id with its events and records (0). Q_EINVAL with err
 * set when there is no such run or it is running. */
int research_run_remove(struct store *s, long run_id, struct q_error *err);

/* Caps for research_render's out: a report is tens of KB and a plan a
 * few; these stop a runaway model, not a real report. */
#define RESEARCH_REPORT_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define RESEARCH_PLAN_MAX_BYTES ((size_t)4 * 1024 * 1024)
/* Render a stored report JSON as "md", "html" or "json" into out. */
int research_render(const json_t *report, const char *format, struct qbuf *out, struct q_error *err);

/* Options as JSON (stored with the run) and back. */
json_t *research_opts_to_json(const struct research_opts *o);
void research_opts_from_json(const json_t *j, struct research_opts *o);

#endif
