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
#define WRITE_MAX_FINDINGS 240   /* sections share them out; one write call takes what fits */
#define NOTE_EXCERPT_MAX_TOKENS 8000   /* of one source in one note prompt */
#define NOTE_FINDINGS 15                /* findings asked of one source */
#define NOTE_FINDINGS_QUICK 6           /* in `ask` */
#define LARGE_CONTEXT_TOKENS 65536     /* from here the defaults read more: depth 3, 40 sources */
#define SITE_MIN_CAP 3                  /* sources of one site: a fifth of the sources, at least this */
#define REPLY_MIN_TOKENS 256
#define RUN_JSON_MAX_TOKENS 4096   /* reply cap of the plan, note and reflect calls: the
					  * reservation a call without one had, so budgets
					  * behave as before */
#define BRIEF_PASSAGES 8

/* Why a source could not be read, for "all 8 pages failed (5 timeouts, ...)". */
enum run_fail_kind {
	RUN_FAIL_TIMEOUT, RUN_FAIL_POLICY, RUN_FAIL_ROBOTS, RUN_FAIL_HTTP, RUN_FAIL_UNREACHABLE,
	RUN_FAIL_NO_TEXT, RUN_FAIL_OTHER, RUN_FAIL_KINDS
};

struct source {
	char *url;          /* web address or corpus path */
	char *title;
	char *text;         /* extracted (Markdown) */
	char *norm;         /* normal form for quote checks */
	int corpus;
	int plain;          /* plain text (a corpus .txt file): no heading structure */
	int round;
	char site[128];     /* web: the site's name or host; "" for the corpus */
	char date[16];      /* web: published (YYYY-MM-DD), else the day it was read */
	int date_fetched;   /* date is the day it was read, not its publication */
	struct neardup_sig sig;   /* to keep out near-copies of this text */
};

struct finding {
	int source;
	char *claim;
	char *quote;
	int sub_question;   /* 1-based, 0 if none */
};

struct candidate {
	char key[2048];
	char *url, *title, *snippet;
	int corpus;
	double score;
};

struct run {
	const struct research_opts *o;
	struct research_env *env;
	/* The run's model account: env->account or own_account; NULL
	 * without a model. Every request of the run names it. */
	struct llm_account *acct;
	struct llm_account own_account;
	int own_account_ready;    /* own_account was initialised */
	struct runstore *rs;      /* the run records: env->runs or own_rs */
	struct runstore *own_rs;  /* on env->store, when env->runs is NULL */
	struct runstore *reply_rs;  /* the model's replies, when rs is not env->store (PostgreSQL) */
	long id;
	double t0;
	long seq;                 /* the newest event's number */
	char lang[8];
	char date[16];            /* the run's day (YYYY-MM-DD), kept for resume */
	json_t *sub_questions;    /* array of strings */
	json_t *outline;
	json_t *brief;            /* the plan's research brief (an object, maybe empty) */
	char *queries[MAX_QUERIES];
	int n_queries;
	char *gaps_seen;          /* normalised gaps of the last reflection */
	json_t *gaps;             /* those gaps as written (strings), or NULL */
	json_t *all_gaps;         /* every gap of the run's reflections, once, or NULL */
	struct source *src;
	int n_src;
	char **read_keys;         /* url keys tried, read or not */
	int n_read_keys;
	struct finding *f;
	int n_f;
	int quotes_dropped;
	int sources_failed;
	int failed_by_kind[RUN_FAIL_KINDS];   /* sources_failed by run_fail_kind() */
	int results_found;        /* search results, before dedupe */
	int searches_failed;
	int critical_calls;       /* model calls one after another */
	int write_calls;          /* report write calls so far (report_delta "call") */
	long mem_hwm_start_kb;    /* the process's VmHWM when the run began */
	long mem_rss_peak_kb;     /* the highest VmRSS sampled during the run */
	int no_content_words;     /* the brief's query has only stop words ("what is it") */
	int notes_answered;       /* note calls the model answered (0: no note was taken) */
	/* What reached the models, for the figures (docs/BENCHMARKS.md). */
	long noted_source_bytes;  /* text of the sources sent to the note step */
	long noted_excerpt_bytes; /* of which the excerpts the note model saw */
	int writer_findings;      /* findings in the write prompt(s) */
	long writer_prompt_bytes; /* bytes of the write prompt(s) */
	/* RUN_RUNNING, or why the run stops: RUN_STOPPED (a budget or the
	 * time limit), RUN_INTERRUPTED (research_cancel), RUN_CANCELLED
	 * (research_cancel_final); the reason, for the report, in stopped. */
	enum run_status stop;
	int site_cap;             /* sources of one site before the others go first */
	char stopped[200];
	struct search_provider providers[SEARCH_MAX_PROVIDERS];
	size_t n_providers;
};

/* run.c */
/* Record an event of the run: stored, streamed to the caller. Takes fields. */
void run_emit(struct run *r, const char *type, json_t *fields);
/* Record a model-call failure: budgets stop the run, the rest is a warning. */
void run_model_failed(struct run *r, const char *step, int rc, const char *msg);
/* The language's name for prompts ("English", "Chinese (简体中文)"). */
const char *run_lang_name(const char *lang);
/* The question and sub-questions as one query for local ranking. */
/* Append a finding (claim and quote copied, cut to claim_n / quote_n
 * bytes); its index, or -1 when memory ran out (nothing kept then). */
int run_add_finding(struct run *r, int source, const char *claim, size_t claim_n,
		    const char *quote, size_t quote_n, int sub_question);
void run_focus_query(struct run *r, struct qbuf *q);
/* The reply cap of a call with messages m[0..n): want, or what the
 * model's context leaves beside the prompt; 0 (the server's default, as
 * before caps were set) when that is under REPLY_MIN_TOKENS, where a cap
 * would only make the client refuse the call. */
long run_reply_cap(const struct run *r, long want, const struct llm_message *m, size_t n);

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
 * (room for r->n_f) and the count in *n_ids. */
char *compose_notes(struct run *r, int *ids, int *n_ids);
/* The extractive brief: best passages for the question, cited. */
char *compose_brief(struct run *r, int **ids_out, int *n_ids);
/* Verify citations in body_raw and build the report object. */
json_t *compose_report(struct run *r, const char *body_raw, int *ids, int n_ids, const char *mode);

#endif
