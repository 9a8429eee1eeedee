/*
 * run_int.h - what the files of a research run share: run.c (events,
 * plan, gather, read, note, reflect and the run itself) and compose.c
 * (write, brief, verify, the report object).
 */
#ifndef Q_RUN_INT_H
#define Q_RUN_INT_H

#include <jansson.h>

#include "../core/qbuf.h"
#include "../index/neardup.h"
#include "../search/search.h"
#include "research.h"
#include "runstore.h"

#define MAX_QUERIES 200
#define MAX_FINDINGS 800
#define WRITE_MAX_FINDINGS 240       /* sections share them out; one write call takes what fits */
#define NOTE_EXCERPT_MAX_TOKENS 8000 /* of one source in one note prompt */
#define NOTE_FINDINGS 15             /* findings asked of one source */
#define NOTE_FINDINGS_QUICK 6        /* in `ask` */
#define LARGE_CONTEXT_TOKENS 65536   /* from here the defaults read more: depth 3, 40 sources */
#define SITE_MIN_CAP 3               /* sources of one site: a fifth of the sources, at least this */
#define REPLY_MIN_TOKENS 256
#define RUN_JSON_MAX_TOKENS \
	4096 /* reply cap of the plan, note and reflect calls: the
					  * reservation a call without one had, so budgets
					  * behave as before */
#define BRIEF_PASSAGES 8
#define RUN_SYSTEM_MAX_BYTES 4096 /* a system prompt: the role and the date, a few hundred bytes */
#define RUN_PROMPT_MAX_BYTES ((size_t)4 * 1024 * 1024) /* a user prompt: 1M tokens is ~4 MB */
#define RUN_QUOTE_MAX_BYTES 16000                      /* a checked quote: a sentence or a few table rows */
#define RUN_FOCUS_MAX_BYTES (64 * 1024) /* the focus query: the question and the brief's entities */

/* Why a source could not be read, for "all 8 pages failed (5 timeouts, ...)". */
enum run_fail_kind {
	RUN_FAIL_TIMEOUT,
	RUN_FAIL_POLICY,
	RUN_FAIL_ROBOTS,
	RUN_FAIL_HTTP,
	RUN_FAIL_UNREACHABLE,
	RUN_FAIL_NO_TEXT,
	RUN_FAIL_OTHER,
	RUN_FAIL_KINDS
};

struct source {
	char *url; /* web address or corpus path */
	char *title;
	char *text; /* extracted (Markdown) */
	char *norm; /* normal form for quote checks */
	int corpus;
	int plain; /* plain text (a corpus .txt file): no heading structure */
	int round;
	char site[128];         /* web: the site's name or host; "" for the corpus */
	char date[16];          /* web: published (YYYY-MM-DD), else the day it was read */
	int date_fetched;       /* date is the day it was read, not its publication */
	struct neardup_sig sig; /* to keep out near-copies of this text */
};

struct finding {
	int source;
	char *claim;
	char *quote;
	int sub_question; /* 1-based, 0 if none */
};

struct candidate {
	char key[2048];
	char *url, *title, *snippet;
	int corpus;
	double score;
};

struct run {
	const struct research_opts *opts;
	struct research_env *env;
	/* The run's model account: env->account or own_account; NULL
	 * without a model. Every request of the run names it. */
	struct llm_account *acct;
	struct llm_account own_account;
	int own_account_ready;     /* own_account was initialised */
	struct runstore *rs;       /* the run records: env->runs or own_rs */
	struct runstore *own_rs;   /* on env->store, when env->runs is NULL */
	struct runstore *reply_rs; /* the model's replies: a handle of their own (llm_account_set_run) */
	long id;
	double start_ms;         /* q_now_ms() when this attempt began */
	double prior_ms;         /* earlier attempts' time (a resumed run), from its cache */
	double elapsed_saved_ms; /* when this attempt last stored its time */
	long seq;                /* the newest event's number */
	long events_lost;        /* events the run store failed to keep (run_emit) */
	char lang[8];
	char date[16];         /* the run's day (YYYY-MM-DD), kept for resume */
	json_t *sub_questions; /* array of strings */
	json_t *outline;
	json_t *brief; /* the plan's research brief (an object, maybe empty) */
	char *queries[MAX_QUERIES];
	int n_queries;
	char *gaps_seen;  /* normalised gaps of the last reflection */
	json_t *gaps;     /* those gaps as written (strings), or NULL */
	json_t *all_gaps; /* every gap of the run's reflections, once, or NULL */
	struct source *sources;
	int n_sources;
	char **read_keys; /* url keys tried, read or not */
	int n_read_keys;
	struct finding *findings;
	int n_findings;
	int quotes_dropped;
	int sources_failed;
	int failed_by_kind[RUN_FAIL_KINDS]; /* sources_failed by run_fail_kind() */
	int results_found;                  /* search results, before dedupe */
	int searches_failed;
	int critical_calls;    /* model calls one after another */
	int write_calls;       /* report write calls so far (report_delta "call") */
	long mem_hwm_start_kb; /* the process's VmHWM when the run began */
	long mem_rss_peak_kb;  /* the highest VmRSS sampled during the run */
	int no_content_words;  /* the brief's query has only stop words ("what is it") */
	int notes_answered;    /* note calls the model answered (0: no note was taken) */
	/* What reached the models, for the figures (docs/BENCHMARKS.md). */
	long noted_source_bytes;  /* text of the sources sent to the note step */
	long noted_excerpt_bytes; /* of which the excerpts the note model saw */
	int writer_findings;      /* findings in the write prompt(s) */
	long writer_prompt_bytes; /* bytes of the write prompt(s) */
	/* RUN_RUNNING, or why the run stops: RUN_STOPPED (a budget or the
	 * time limit), RUN_INTERRUPTED (research_cancel), RUN_CANCELLED
	 * (research_cancel_final); the reason, for the report, in stopped. */
	enum run_status stop;
	int site_cap; /* sources of one site before the others go first */
	char stopped[200];
	struct search_provider providers[SEARCH_MAX_PROVIDERS];
	size_t n_providers;
};

/* run.c: the loop, the stop checks, events and the run's caches */
/* Record an event of the run: stored, streamed to the caller. Takes fields. */
void run_emit(struct run *r, const char *type, json_t *fields);
/* Record a model-call failure: budgets stop the run, the rest is a warning. */
void run_model_failed(struct run *r, const char *step, int rc, const char *msg);
/* A value of the run's cache (search outcomes, page records, the edited
 * plan) by key; the caller frees it. NULL when there is none. */
char *run_rcache_get(struct run *r, const char *key);
/* Keep value under key in the run's cache (a failure only costs a replay). */
void run_rcache_put(struct run *r, const char *key, const char *value);
/* Whether the run was cancelled (research_cancel, research_cancel_final). */
int run_cancelled(const struct run *r);
/* Stop conditions: cancel and budgets. Sets r->stop and r->stopped. */
int run_should_stop(struct run *r);
/* Whether the first round may not search and read: only Ctrl-C or no time
 * left (searching and reading cost no tokens, so a spent token or money
 * budget still lets the question be searched for the extractive brief). */
int run_first_round_barred(struct run *r);
/* Store the run's report object and Markdown with its final status. */
void run_save_report(struct run *r, const json_t *report, const char *md, enum run_status status);

/* plan.c */
/* Add q to the run's queries unless it is there already or MAX_QUERIES
 * are kept. */
void run_add_query(struct run *r, const char *q);
/* The language's name for prompts ("English", "Chinese (简体中文)"). */
const char *run_lang_name(const char *lang);
/* The reply cap of a call with messages m[0..n): want, or what the
 * model's context leaves beside the prompt; 0 (the server's default, as
 * before caps were set) when that is under REPLY_MIN_TOKENS, where a cap
 * would only make the client refuse the call. */
long run_reply_cap(const struct run *r, long want, const struct llm_message *m, size_t n);
/* A system + user request for a JSON reply checked against schema (m is
 * the caller's room for the two messages; name labels the call). */
void run_json_request(struct llm_request *req, struct llm_message m[2], const char *system, const char *user,
		      json_t *schema, const char *name);
/* The strings of from (up to max, each under 300 bytes) as a new array. */
json_t *run_string_list(const json_t *from, size_t max);
/* The plan step: brief, sub-questions and queries. 0, or the model's
 * error in *fatal when it cannot be used at all (no point going on). */
int run_plan(struct run *r, int breadth, struct q_error *fatal);
/* The plan of a plan-only run as its report: stored, status "planned". */
void run_plan_report(struct run *r, struct research_result *out);
/* Keep an edited plan (runs resume --plan FILE) with the run for
 * run_plan. 0, or Q_EINVAL with err set when text is no usable plan. */
int run_keep_edited_plan(struct run *r, const char *text, struct q_error *err);

/* gather.c: gather and select */
/* Whether key (a URL key or "hash:" content key) was tried already. */
int run_seen_key(struct run *r, const char *key);
/* Search the new queries [first, n_queries) on every provider; the
 * candidates, ranked and capped, with their count in *n_out. The caller
 * frees them with run_candidates_free. */
struct candidate *run_gather(struct run *r, int first, int per_query, int *n_out);
/* Free n candidates cv and the array. */
void run_candidates_free(struct candidate *cv, int n);
/* The host of url without "www." into out ("" when it has none). */
void run_site_of(const char *url, char *out, size_t size);

/* read.c */
/* The text of corpus file path as stored (passages with their headings)
 * into text, its title in *title (caller frees), *plain set for plain
 * text. 0, or an error when the file is not in the corpus. */
int run_corpus_text(struct run *r, const char *path, struct qbuf *text, char **title, int *plain);
/* Note key as tried (URL keys and "hash:" content keys). 0 or Q_ENOMEM. */
int run_remember_key(struct run *r, const char *key);
/* Keep text (len bytes) as a new source unless its content was seen;
 * its index, or -1 when it is a duplicate, over the cap or out of memory. */
int run_add_source(struct run *r, const char *url, const char *title, const char *text, size_t len,
		   int corpus, int round);
/* A web source's site (its own name, else its host) and date (published,
 * else the day the run read it), for the prompts and the Sources list. */
void run_source_meta(struct run *r, int i, const json_t *rec);
/* The read step: up to want of the n candidates cv not read before.
 * Returns the first new source index. */
int run_read_sources(struct run *r, struct candidate *cv, int n, int want, int round);

/* note.c */
/* Append a finding (claim and quote copied, cut to claim_n / quote_n
 * bytes); its index, or -1 when memory ran out (nothing kept then). */
int run_add_finding(struct run *r, int source, const char *claim, size_t claim_n, const char *quote,
		    size_t quote_n, int sub_question);
/* The question and sub-questions as one query for local ranking. */
void run_focus_query(struct run *r, struct qbuf *q);
/* The note step: findings with checked quotes from sources [first, n_sources). */
void run_note(struct run *r, int first);

/* reflect.c */
/* The reflect step: new queries for what is still unknown; 0 when the
 * loop should end (no new gaps, or the same gaps again). */
int run_reflect(struct run *r, int breadth);

/* followup.c */
/* Start a follow-up from run run_id: its sources read again from what it
 * kept, its findings whose quotes are still found in them. 0, or Q_EINVAL
 * with err set when the run has no report to follow up. */
int run_load_prior(struct run *r, long run_id, struct q_error *err);

/* compose.c */
/* Up to max findings for the writer, from every source in turn, as many
 * as fit the model's context; their indexes in ids. Returns the count. */
int compose_pick_findings(struct run *r, int *ids, int max);
/* The model's report on findings ids (Markdown with [F#]), or NULL. */
char *compose_write(struct run *r, int *ids, int n_ids);
/* Note the process's resident memory now, for the run's peak_rss_mb
 * (where memory peaks: after a fetch batch, after the report is written). */
void run_sample_memory(struct run *r);
/* The checked findings themselves as a report, when no model can write:
 * every finding (up to WRITE_MAX_FINDINGS), their indexes put in ids
 * (room for r->n_findings) and the count in *n_ids. */
char *compose_notes(struct run *r, int *ids, int *n_ids);
/* The extractive brief: best passages for the question, cited. */
char *compose_brief(struct run *r, int **ids_out, int *n_ids);
/* Verify citations in body_raw and build the report object. */
json_t *compose_report(struct run *r, const char *body_raw, int *ids, int n_ids, const char *mode);

#endif
