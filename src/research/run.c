/*
 * run.c - the research run, top to bottom (see research.h).
 *
 * research_run reads like the design's list of steps: plan, then rounds of gather,
 * select, read, note and reflect, then write and verify. This file keeps
 * the loop itself, the stop checks, the events (run_emit) and the run's
 * account; each step is a named function in its own file: plan.c,
 * gather.c (gather and select), read.c, note.c, reflect.c, followup.c
 * (ask --run), and compose.c (write, the extractive brief and the report
 * object). What they share is in run_int.h. The batch calls inside the
 * steps are where work happens in parallel.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/procmem.h"
#include "../index/corpus.h"
#include "run_int.h"
#include "text.h"

/* ---- events and the run record ---- */

/* Events after a model step carry the run's figures so far ("tokens",
 * "cost_usd"), so a watcher in another process can show them as the
 * run goes on: a few per round, so the lock they take costs nothing. */
static int carries_usage(const char *type)
{
	static const char *const types[] = {"plan", "note", "reflect", "writing", "report"};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return 1;
	return 0;
}

void run_emit(struct run *r, const char *type, json_t *fields)
{
	json_t *ev = fields ? fields : json_object();
	struct q_error err = {0};
	char *line, why[600];
	long seq = 0, lost = 0;

	json_object_set_new(ev, "type", json_string(type));
	json_object_set_new(ev, "t", json_real((q_now_ms() - r->start_ms) / 1000.0));
	json_object_set_new(ev, "run", json_integer(r->id));
	if (r->acct && carries_usage(type)) {
		struct llm_totals u = llm_account_totals(r->acct);
		json_object_set_new(ev, "tokens", json_integer(u.prompt + u.completion));
		if (!u.cost_unknown)
			json_object_set_new(ev, "cost_usd", json_real(u.cost_usd));
	}
	/* numbered and stored first, so the stream shows the stored "seq" */
	if (runstore_event_add(r->rs, r->id, ev, &seq, &err) == 0)
		r->seq = seq;
	else
		lost = ++r->events_lost;
	/* from the first loss on every event carries the count, so the
	 * stream and the final "report" event say how many a watcher missed */
	if (r->events_lost > 0)
		json_object_set_new(ev, "events_lost", json_integer(r->events_lost));
	line = json_dumps(ev, JSON_COMPACT);
	if (line && r->env->events) {
		fprintf(r->env->events, "%s\n", line);
		fflush(r->env->events);
	}
	if (r->env->on_event)
		r->env->on_event(r->env->ctx, ev);
	free(line);
	json_decref(ev);
	if (lost == 1) { /* once: the warning's own loss only counts */
		snprintf(why, sizeof(why),
			 "an event of the run could not be stored (%.300s): watchers "
			 "of the run miss it and any others that fail (counted as events_lost)",
			 err.msg);
		run_emit(r, "warning", json_pack("{s:s, s:s}", "step", "events", "message", why));
	}
}

char *run_rcache_get(struct run *r, const char *key)
{
	char *v = NULL;

	runstore_cache_get(r->rs, r->id, key, &v, NULL);
	return v;
}

void run_rcache_put(struct run *r, const char *key, const char *value)
{
	runstore_cache_put(r->rs, r->id, key, value, NULL);
}

/* The run's time over every attempt is kept under this key (ms), stored
 * every RUN_ELAPSED_SAVE_MS and when an attempt ends, so the figures of
 * a resumed run count the earlier attempts too (one killed with kill -9
 * counts up to its last save). */
#define RUN_ELAPSED_KEY "elapsed_ms"
#define RUN_ELAPSED_SAVE_MS 5000.0

static void elapsed_load(struct run *r)
{
	char *v = run_rcache_get(r, RUN_ELAPSED_KEY);

	r->prior_ms = v ? strtod(v, NULL) : 0;
	if (!(r->prior_ms > 0) || r->prior_ms > 1e12)
		r->prior_ms = 0;
	q_free(v);
}

/* Store the time so far (throttled unless force). */
static void elapsed_save(struct run *r, int force)
{
	double now = q_now_ms();
	char text[32];

	if (r->id <= 0 || (!force && now - r->elapsed_saved_ms < RUN_ELAPSED_SAVE_MS))
		return;
	r->elapsed_saved_ms = now;
	snprintf(text, sizeof(text), "%.0f", r->prior_ms + (now - r->start_ms));
	run_rcache_put(r, RUN_ELAPSED_KEY, text);
}

/* The report's figures over every attempt: "seconds" the run's whole
 * time, "seconds_this_attempt" beside it for a resumed run. */
static void elapsed_figures(struct run *r, json_t *report)
{
	json_t *fig = json_object_get(report, "figures");
	double attempt_s = (q_now_ms() - r->start_ms) / 1000.0;

	if (!fig || r->prior_ms <= 0)
		return;
	json_object_set_new(fig, "seconds", json_real(r->prior_ms / 1000.0 + attempt_s));
	json_object_set_new(fig, "seconds_this_attempt", json_real(attempt_s));
}

static void set_status(struct run *r, enum run_status status)
{
	runstore_set_status(r->rs, r->id, status, NULL);
}

/* ---- who carries a run ---- */

/* Record this process as the one carrying the run. */
static void set_owner(struct run *r) { runstore_set_owner(r->rs, r->id, NULL); }

int research_run_alive(struct store *s, long run_id)
{
	struct runstore *rs = NULL;
	struct run_record rec;
	int alive = 0;

	if (runstore_wrap(&rs, s, NULL))
		return 0;
	if (runstore_get(rs, run_id, 0, &rec, NULL) == 0) {
		alive = rec.status == RUN_RUNNING;
		run_record_release(&rec);
	}
	runstore_close(rs);
	return alive;
}

int research_run_remove(struct store *s, long run_id, struct q_error *err)
{
	struct runstore *rs = NULL;
	int rc;

	if ((rc = runstore_wrap(&rs, s, err)))
		return rc;
	rc = runstore_remove(rs, run_id, err);
	runstore_close(rs);
	return rc;
}

/* An atomic store: lock-free for an int, so safe in a signal handler. */
void research_cancel(struct research_env *env) { __atomic_store_n(&env->cancelled, 1, __ATOMIC_RELAXED); }

void research_cancel_final(struct research_env *env)
{
	__atomic_store_n(&env->cancelled, RESEARCH_CANCEL_FINAL, __ATOMIC_RELAXED);
}

/* Whether the run was cancelled (research_cancel, research_cancel_final). */
int run_cancelled(const struct run *r) { return __atomic_load_n(&r->env->cancelled, __ATOMIC_RELAXED); }

/* The run stops: why (RUN_STOPPED for a budget, RUN_INTERRUPTED or
 * RUN_CANCELLED) and the reason for the report. */
static void stop_run(struct run *r, enum run_status why, const char *reason)
{
	assert(why == RUN_STOPPED || why == RUN_INTERRUPTED || why == RUN_CANCELLED);
	r->stop = why;
	snprintf(r->stopped, sizeof(r->stopped), "%s", reason);
}

/* A cancel stops the run, even one a budget stopped before. */
static void stop_if_cancelled(struct run *r)
{
	int c = run_cancelled(r);

	if (c == RESEARCH_CANCEL_FINAL)
		stop_run(r, RUN_CANCELLED, "cancelled");
	else if (c)
		stop_run(r, RUN_INTERRUPTED, "interrupted");
}

/* Stop conditions: cancel and budgets. Sets r->stop and r->stopped. */
int run_should_stop(struct run *r)
{
	char why[160];

	elapsed_save(r, 0);
	if (r->stop != RUN_RUNNING)
		return 1;
	stop_if_cancelled(r);
	if (r->stop != RUN_RUNNING)
		return 1;
	if (r->env->llm && llm_account_spent(r->acct, r->env->llm, why, sizeof(why))) {
		stop_run(r, RUN_STOPPED, why);
		run_emit(r, "budget_spent", json_pack("{s:s}", "reason", why));
		return 1;
	}
	if (!r->env->llm && r->opts->time_limit_ms > 0 &&
	    q_now_ms() - r->start_ms > (double)r->opts->time_limit_ms) {
		stop_run(r, RUN_STOPPED, "the time limit is reached");
		return 1;
	}
	return 0;
}

/* Whether the run's wall-time limit (if any) has run out. */
static int out_of_time(const struct run *r)
{
	return r->opts->time_limit_ms > 0 && q_now_ms() - r->start_ms >= (double)r->opts->time_limit_ms;
}

/*
 * Whether the first round may not search and read: only Ctrl-C or no time
 * left. A token or money budget that the plan could not fit still lets
 * the question be searched and its sources read for the extractive brief
 * (searching and reading cost no tokens).
 */
int run_first_round_barred(struct run *r)
{
	run_should_stop(r); /* sets r->stopped for the report */
	return r->stop == RUN_INTERRUPTED || r->stop == RUN_CANCELLED || out_of_time(r);
}

/* Record a model-call failure: budgets stop the run, the rest is a warning. */
void run_model_failed(struct run *r, const char *step, int rc, const char *msg)
{
	if (rc == Q_EBUDGET) { /* said once; the calls of a batch that did not fit say nothing more */
		if (r->stop == RUN_RUNNING) {
			stop_run(r, RUN_STOPPED, msg);
			run_emit(r, "budget_spent", json_pack("{s:s}", "reason", msg));
		}
	} else if (rc == Q_ETIMEOUT && run_cancelled(r)) {
		stop_if_cancelled(r);
	} else {
		run_emit(r, "warning", json_pack("{s:s, s:s}", "step", step, "message", msg));
	}
}

/* ---- the run ---- */

json_t *research_opts_to_json(const struct research_opts *o)
{
	json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:I, s:f, s:I, s:s, s:s?, s:b, s:b, s:b, s:b, s:s?, "
			      "s:s?, s:s?}",
			      "question", o->question, "depth", o->depth, "breadth", o->breadth,
			      "max_sources", o->max_sources, "budget_tokens", (json_int_t)o->budget_tokens,
			      "budget_usd", o->budget_usd, "time_limit_ms", (json_int_t)o->time_limit_ms,
			      "sources", o->sources ? o->sources : "web,corpus", "lang", o->lang, "no_llm",
			      o->no_llm, "quick", o->quick, "allow_private", o->allow_private, "ignore_robots",
			      o->ignore_robots, "output", o->output, "format", o->format, "length", o->length);
	if (j && o->follow_run > 0)
		json_object_set_new(j, "follow_run", json_integer(o->follow_run));
	return j;
}

void research_opts_from_json(const json_t *j, struct research_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->question = json_string_value(json_object_get(j, "question"));
	o->depth = (int)json_integer_value(json_object_get(j, "depth"));
	o->breadth = (int)json_integer_value(json_object_get(j, "breadth"));
	o->max_sources = (int)json_integer_value(json_object_get(j, "max_sources"));
	o->budget_tokens = (long)json_integer_value(json_object_get(j, "budget_tokens"));
	o->budget_usd = json_number_value(json_object_get(j, "budget_usd"));
	o->time_limit_ms = (long)json_integer_value(json_object_get(j, "time_limit_ms"));
	o->sources = json_string_value(json_object_get(j, "sources"));
	o->lang = json_string_value(json_object_get(j, "lang"));
	o->no_llm = json_is_true(json_object_get(j, "no_llm"));
	o->quick = json_is_true(json_object_get(j, "quick"));
	o->allow_private = json_is_true(json_object_get(j, "allow_private"));
	o->ignore_robots = json_is_true(json_object_get(j, "ignore_robots"));
	o->output = json_string_value(json_object_get(j, "output"));
	o->format = json_string_value(json_object_get(j, "format"));
	o->length = json_string_value(json_object_get(j, "length"));
	o->follow_run = (long)json_integer_value(json_object_get(j, "follow_run"));
}

static void run_free(struct run *r)
{
	int i;

	for (i = 0; i < r->n_queries; i++)
		q_free(r->queries[i]);
	for (i = 0; i < r->n_sources; i++) {
		q_free(r->sources[i].url);
		q_free(r->sources[i].title);
		q_free(r->sources[i].text);
		q_free(r->sources[i].norm);
	}
	q_free(r->sources);
	for (i = 0; i < r->n_read_keys; i++)
		q_free(r->read_keys[i]);
	q_free(r->read_keys);
	for (i = 0; i < r->n_findings; i++) {
		q_free(r->findings[i].claim);
		q_free(r->findings[i].quote);
	}
	q_free(r->findings);
	q_free(r->gaps_seen);
	json_decref(r->sub_questions);
	json_decref(r->outline);
	json_decref(r->brief);
	json_decref(r->gaps);
	json_decref(r->all_gaps);
	search_providers_release(r->providers, r->n_providers);
	if (r->own_account_ready)
		llm_account_release(&r->own_account);
	runstore_close(r->reply_rs);
	runstore_close(r->own_rs);
}

/* Give the run its model account: the caller's or its own, watching the
 * run's cancel flag, with the run's budgets and its record of replies. */
static int run_account_open(struct run *r, struct q_error *err)
{
	int rc;

	if (r->env->account) {
		r->acct = r->env->account;
	} else {
		if ((rc = llm_account_init(&r->own_account, err)))
			return rc;
		r->own_account_ready = 1;
		r->acct = &r->own_account;
	}
	llm_account_watch(r->acct, &r->env->cancelled);
	llm_account_set_budget(r->acct, r->opts->budget_tokens, r->opts->budget_usd, r->opts->time_limit_ms);
	/* The replies are kept with the run through a run store of their own:
	 * the model calls run on the pool's threads, under the client's lock
	 * (on SQLite it shares env->store's connection, as the reply cache
	 * may, which that lock guards; on PostgreSQL a connection of its own). */
	if (strcmp(runstore_backend(r->rs), "sqlite") != 0)
		rc = runstore_reopen(&r->reply_rs, r->rs, err);
	else
		rc = r->env->store ? runstore_wrap_sqlite(&r->reply_rs, r->env->store, err) : 0;
	if (rc)
		return rc;
	llm_account_set_run(r->acct, r->env->llm, r->reply_rs, r->id);
	return 0;
}

/* The run's model figures into out; the account lets go of the run. */
static void run_account_close(struct run *r, struct research_result *out)
{
	if (!r->acct)
		return;
	out->llm = llm_account_totals(r->acct);
	llm_account_set_run(r->acct, r->env->llm, NULL, 0);
	llm_account_watch(r->acct, NULL);
	runstore_close(r->reply_rs);
	r->reply_rs = NULL;
}

struct run_day {
	char day[16];
};

/* Create the run record, or load a stored one for resume. */
static int open_run(struct run *r, long run_id, json_t **opts_json, struct q_error *err)
{
	struct run_record rec;
	int rc;

	if (run_id <= 0)
		return runstore_create(r->rs, r->opts->question, *opts_json, RUN_RUNNING, NULL, &r->id, err);
	if ((rc = runstore_get(r->rs, run_id, 0, &rec, err)))
		return rc;
	*opts_json = json_incref(rec.options);
	r->seq = rec.last_seq;
	run_record_release(&rec);
	if (!*opts_json)
		return q_error_set(err, Q_EPARSE, "run %ld's stored options are damaged", run_id);
	r->id = run_id;
	return 0;
}

/* Store changed options with the run (best effort: the run goes on with
 * them either way). */
static void save_opts(struct run *r, const json_t *opts_json)
{
	runstore_set_options(r->rs, r->id, opts_json, NULL);
}

void run_save_report(struct run *r, const json_t *report, const char *md, enum run_status status)
{
	assert(status != RUN_QUEUED && status != RUN_RUNNING); /* a report ends the run */
	runstore_save_report(r->rs, r->id, status, report, md, NULL);
}

/* Today (UTC) as YYYY-MM-DD, the day a run keeps for its prompts. */
static struct run_day run_today(void)
{
	struct run_day d = {""};
	time_t now = time(NULL);
	struct tm tm;

	/* gmtime's shared result raced between runs in one process. */
	if (gmtime_r(&now, &tm))
		strftime(d.day, sizeof(d.day), "%Y-%m-%d", &tm);
	return d;
}

/* The error of a run that read no source: which step came up empty. */
static int nothing_read(struct run *r, struct q_error *err)
{
	static const char *const kind_names[RUN_FAIL_KINDS][2] = {
		{"timeout", "timeouts"},
		{"refused by the address policy", "refused by the address policy"},
		{"disallowed by robots.txt", "disallowed by robots.txt"},
		{"HTTP error", "HTTP errors"},
		{"unreachable", "unreachable"},
		{"without readable text", "without readable text"},
		{"other failure", "other failures"}};
	int searches = r->n_queries * (int)r->n_providers, k, any = 0;
	char why[400];
	size_t n = 0;

	if (r->results_found == 0) {
		if (r->searches_failed > 0)
			return q_error_set(err, Q_EEMPTY,
					   "no source could be read: %d of %d searches "
					   "failed and the rest returned nothing; try other words or "
					   "check the search configuration with 'quarry doctor'",
					   r->searches_failed, searches);
		return q_error_set(err, Q_EEMPTY,
				   "no source could be read: %d search%s returned "
				   "nothing; try other words, or other sources (the sources setting)",
				   searches, searches == 1 ? "" : "es");
	}
	why[0] = '\0';
	for (k = 0; k < RUN_FAIL_KINDS && n < sizeof(why); k++) {
		int c = r->failed_by_kind[k];
		if (c == 0)
			continue;
		n += (size_t)snprintf(why + n, sizeof(why) - n, "%s%d %s", any ? ", " : "", c,
				      kind_names[k][c != 1]);
		any = 1;
	}
	if (r->sources_failed == 0)
		return q_error_set(err, Q_EEMPTY,
				   "no source could be read: the %d search results "
				   "were all read before or not readable",
				   r->results_found);
	/* Q_EPOLICY tells the front end that allowing private addresses
	 * would help; it names its own flag or setting. */
	return q_error_set(err, r->failed_by_kind[RUN_FAIL_POLICY] ? Q_EPOLICY : Q_EEMPTY,
			   "no source could be read: %s %d page%s failed (%s)%s",
			   r->sources_failed == 1 ? "the" : "all", r->sources_failed,
			   r->sources_failed == 1 ? "" : "s", why,
			   r->failed_by_kind[RUN_FAIL_POLICY] ? "; the policy keeps out private "
								"and loopback addresses"
							      : "");
}

int research_run(const struct research_opts *opts_in, struct research_env *env, long run_id,
		 struct research_result *out, struct q_error *err)
{
	struct run r;
	struct research_opts o;
	json_t *opts_json = NULL, *report = NULL;
	char missing[300];
	int depth, breadth, max_sources, round, rc, *ids = NULL, n_ids = 0, i;
	char *body = NULL;
	const char *mode;
	struct qbuf md;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.stop = RUN_RUNNING;
	r.env = env;
	r.start_ms = q_now_ms();
	{
		struct q_procmem m; /* peak_rss_mb counts from here */
		if (q_procmem_read(&m) == 0)
			r.mem_hwm_start_kb = m.hwm_kb;
	}
	if (run_id <= 0) {
		assert(opts_in); /* a new run has options; only a resume may pass NULL */
		opts_json = research_opts_to_json(opts_in);
		json_object_set_new(opts_json, "date", json_string(run_today().day));
		if (opts_in->plan_only) { /* the plan's -o is not the report's */
			json_object_del(opts_json, "output");
			json_object_del(opts_json, "format");
		}
	}
	r.opts = opts_in;
	r.rs = env->runs;
	if (!r.rs && !(rc = runstore_wrap(&r.own_rs, env->store, err)))
		r.rs = r.own_rs;
	if (!r.rs || (rc = open_run(&r, run_id, &opts_json, err)))
		goto fail_early;
	if (run_id > 0)
		elapsed_load(&r);
	if (run_id > 0) {
		research_opts_from_json(opts_json, &o);
		if (!o.question) {
			rc = q_error_set(err, Q_EPARSE, "run %ld has no question stored", run_id);
			goto fail_early;
		}
		if (!json_string_value(json_object_get(opts_json, "date"))) {
			/* queued (research --detach, the HTTP API): its day starts now */
			json_object_set_new(opts_json, "date", json_string(run_today().day));
			save_opts(&r, opts_json);
		}
		if (opts_in && opts_in->allow_private && !o.allow_private) {
			o.allow_private = 1; /* given again to resume: kept with the run */
			json_object_set_new(opts_json, "allow_private", json_true());
			save_opts(&r, opts_json);
		}
		r.opts = &o;
		if (opts_in && opts_in->plan_json && (rc = run_keep_edited_plan(&r, opts_in->plan_json, err)))
			goto fail_early;
	}
	out->run_id = r.id;
	set_owner(&r);
	if (run_id > 0)
		set_status(&r, RUN_RUNNING);
	depth = r.opts->depth > 0 ? r.opts->depth : 2;
	breadth = r.opts->breadth > 0 ? r.opts->breadth : 4;
	max_sources = r.opts->max_sources > 0 ? r.opts->max_sources : 20;
	if (env->llm && !r.opts->quick && !r.opts->no_llm &&
	    llm_client_config(env->llm)->context >= LARGE_CONTEXT_TOKENS) {
		/* A large context reads more for little money (docs/BENCHMARKS.md). */
		if (r.opts->depth <= 0)
			depth = 3;
		if (r.opts->max_sources <= 0)
			max_sources = 40;
	}
	if (r.opts->quick) {
		depth = 1;
		if (r.opts->max_sources <= 0)
			max_sources = 6;
		if (r.opts->breadth <= 0)
			breadth = 2;
	}
	if (depth > RESEARCH_MAX_DEPTH)
		depth = RESEARCH_MAX_DEPTH;
	if (breadth > RESEARCH_MAX_BREADTH)
		breadth = RESEARCH_MAX_BREADTH;
	if (max_sources > RESEARCH_MAX_SOURCES)
		max_sources = RESEARCH_MAX_SOURCES;
	r.site_cap = max_sources / 5 > SITE_MIN_CAP ? max_sources / 5 : SITE_MIN_CAP;
	snprintf(r.lang, sizeof(r.lang), "%s",
		 r.opts->lang && *r.opts->lang ? r.opts->lang : text_guess_lang(r.opts->question));
	snprintf(r.date, sizeof(r.date), "%.15s",
		 json_string_value(json_object_get(opts_json, "date"))
			 ? json_string_value(json_object_get(opts_json, "date"))
			 : "");
	if (r.opts->no_llm)
		env->llm = NULL;
	if (env->llm && (rc = run_account_open(&r, err)))
		goto fail;

	if ((rc = search_providers(r.opts->sources ? r.opts->sources : "web,corpus", env->home, env->file,
				   r.providers, &r.n_providers, missing, sizeof(missing), err)))
		goto fail;
	{ /* an empty corpus alone is nothing to search */
		long docs = 1;
		size_t k;
		for (k = 0; k < r.n_providers; k++)
			if (r.providers[k].kind != SEARCH_CORPUS)
				break;
		if (k == r.n_providers)
			docs = corpus_document_count(env->store);
		if (docs == 0) {
			rc = q_error_set(err, Q_EINVAL,
					 "%s%sthe corpus is empty: add files with 'quarry "
					 "index add DIR'",
					 missing, missing[0] ? "; and " : "");
			goto fail;
		}
	}
	run_emit(&r, run_id > 0 && r.seq > 0 ? "run_resumed" : "run_started",
		 json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "question", r.opts->question, "lang", r.lang,
			   "mode", env->llm ? "model" : "extractive", "depth", depth, "breadth", breadth,
			   "max_sources", max_sources));
	if (missing[0])
		run_emit(&r, "warning", json_pack("{s:s, s:s}", "step", "search", "message", missing));

	if (r.opts->follow_run > 0 && env->llm) {
		/* A follow-up: what the run had, then searches only for what it lacks. */
		r.sub_questions = json_array();
		r.outline = json_array();
		r.brief = json_object();
		if ((rc = run_load_prior(&r, r.opts->follow_run, err)))
			goto fail;
		if (!run_reflect(&r, breadth))
			depth = 0; /* the run's findings answer it: no search */
	} else if ((rc = run_plan(&r, breadth, err))) {
		goto fail;
	}
	if (r.opts->plan_only && run_id <= 0) {
		elapsed_save(&r, 1); /* a resume counts the plan's time */
		run_plan_report(&r, out);
		run_account_close(&r, out);
		json_decref(opts_json);
		run_free(&r);
		return 0;
	}
	for (round = 0, i = 0;
	     round < depth && !(round == 0 ? run_first_round_barred(&r) : run_should_stop(&r)); round++) {
		int n_cand, first, want;
		struct candidate *cv;
		int q0 = i;
		i = r.n_queries;
		cv = run_gather(&r, q0, r.opts->quick ? 5 : 8, &n_cand);
		want = max_sources - r.n_sources;
		if (env->llm && depth > 1 && round < depth - 1 && want > (max_sources + depth - 1) / depth)
			want = (max_sources + depth - 1) / depth; /* leave room for later rounds */
		first = run_read_sources(&r, cv, n_cand, want, round);
		run_candidates_free(cv, n_cand);
		run_note(&r, first);
		if (round + 1 >= depth || r.n_sources >= max_sources || !run_reflect(&r, breadth)) {
			if (round + 1 < depth && !r.stopped[0] && env->llm)
				run_emit(&r, "loop_done",
					 json_pack("{s:s}", "reason",
						   r.n_sources >= max_sources ? "source limit reached"
									      : "no new gaps or queries"));
			break;
		}
	}
	stop_if_cancelled(&r); /* searches and fetches a cancel cut short are no failure */
	if (r.n_sources == 0 && r.searches_failed > 0 && !r.stopped[0]) {
		/* Web searches only: the corpus never fails, so an empty corpus beside
		 * a dead SearXNG must not turn into an empty report. */
		int searches = 0;
		size_t k;
		for (k = 0; k < r.n_providers; k++)
			searches += r.providers[k].kind != SEARCH_CORPUS ? r.n_queries : 0;
		if (r.searches_failed >= searches) {
			rc = q_error_set(err, Q_ENET,
					 "every search failed (see the messages above); check "
					 "the search configuration with 'quarry doctor'");
			goto fail;
		}
	}
	if (r.n_sources == 0 && r.stop == RUN_CANCELLED) {
		rc = q_error_set(err, Q_ETIMEOUT, "cancelled before any source was read");
		set_status(&r, RUN_CANCELLED);
		snprintf(out->status, sizeof(out->status), "%s", run_status_name(RUN_CANCELLED));
		run_emit(&r, "run_cancelled", NULL);
		goto fail_keep_status;
	}
	if (r.n_sources == 0 && r.stop != RUN_INTERRUPTED) {
		/* A "report" of nothing would mislead, budget or not. */
		if (out_of_time(&r))
			rc = q_error_set(err, Q_ETIMEOUT,
					 "no source could be read: the time limit "
					 "(%ld ms) ran out before any source was read; allow more time "
					 "with the time_limit setting",
					 r.opts->time_limit_ms);
		else
			rc = nothing_read(&r, err);
		goto fail;
	}

	/* Write. A budget that ran out still gets the best report we can make. */
	run_should_stop(&r); /* a Ctrl-C during the last step */
	if (r.stop == RUN_INTERRUPTED && run_id >= 0) {
		set_status(&r, RUN_INTERRUPTED);
		run_emit(&r, "run_interrupted", NULL);
		snprintf(out->status, sizeof(out->status), "%s", run_status_name(RUN_INTERRUPTED));
		rc = q_error_set(err, Q_ETIMEOUT, "interrupted; resume with 'quarry runs resume %ld'", r.id);
		goto fail_keep_status;
	}
	if (env->llm && r.n_findings > 0) {
		ids = q_calloc((size_t)r.n_findings, sizeof(int));
		n_ids = ids ? compose_pick_findings(&r, ids, WRITE_MAX_FINDINGS) : 0;
		if (r.stop == RUN_RUNNING ||
		    (r.stop == RUN_STOPPED && !llm_account_spent(r.acct, env->llm, missing, sizeof(missing))))
			body = compose_write(&r, ids, n_ids);
		mode = "model";
		if (!body) {
			body = compose_notes(&r, ids, &n_ids);
			mode = "notes";
		}
	} else {
		body = compose_brief(&r, &ids, &n_ids);
		mode = "extractive";
		if (body && n_ids == 0 && r.stop == RUN_CANCELLED) {
			/* A user's cancel wins over "nothing found": the run ends
			 * cancelled with what it has, and says so. */
			char say[200];
			snprintf(say, sizeof(say),
				 "Cancelled before anything relevant was found: %d "
				 "source%s read, none sharing enough of the question's words.\n",
				 r.n_sources, r.n_sources == 1 ? "" : "s");
			q_free(body);
			body = q_strdup(say);
		} else if (body && n_ids == 0) { /* a brief of nothing would mislead */
			if (r.no_content_words)
				rc = q_error_set(err, Q_EEMPTY,
						 "nothing relevant found for \"%.200s\" "
						 "(the question has no content words, only words such "
						 "as \"the\" or \"what\"); ask about a thing by name",
						 r.opts->question);
			else
				rc = q_error_set(err, Q_EEMPTY,
						 "nothing relevant found for \"%.200s\" in "
						 "%d document%s read: no passage shares enough of the "
						 "question's words; try other words, or other sources "
						 "(the sources setting)",
						 r.opts->question, r.n_sources, r.n_sources == 1 ? "" : "s");
			goto fail;
		}
		if (env->llm && r.n_sources > 0) {
			char say[300];
			if (r.notes_answered > 0)
				snprintf(say, sizeof(say),
					 "no finding survived the quote check; the "
					 "report is an extractive brief");
			else /* "survived" would say notes were taken and failed the check */
				snprintf(say, sizeof(say),
					 "no note was taken because %.200s; the report "
					 "is an extractive brief",
					 r.stopped[0] ? r.stopped
						      : "every note call failed (see the messages above)");
			run_emit(&r, "warning", json_pack("{s:s, s:s}", "step", "note", "message", say));
		}
	}
	if (r.stop == RUN_INTERRUPTED) {
		set_status(&r, RUN_INTERRUPTED);
		snprintf(out->status, sizeof(out->status), "%s", run_status_name(RUN_INTERRUPTED));
		rc = q_error_set(err, Q_ETIMEOUT, "interrupted; resume with 'quarry runs resume %ld'", r.id);
		goto fail_keep_status;
	}
	if (env->llm && !r.stopped[0]) { /* a budget can bind without stopping the run */
		struct llm_totals t = llm_account_totals(r.acct);
		if (t.budget_capped > 0) {
			char msg[160];
			snprintf(msg, sizeof(msg), "%ld model replies were capped to fit the %s budget",
				 t.budget_capped, r.opts->budget_tokens > 0 ? "token" : "money");
			run_emit(&r, "warning", json_pack("{s:s, s:s}", "step", "budget", "message", msg));
		}
	}
	report = body ? compose_report(&r, body, ids, n_ids, mode) : NULL;
	elapsed_figures(&r, report);
	elapsed_save(&r, 1);
	if (!report) {
		rc = q_error_set(err, Q_ENOMEM, "out of memory composing the report");
		goto fail;
	}
	qbuf_init(&md, RESEARCH_REPORT_MAX_BYTES);
	if ((rc = research_render(report, "md", &md, err))) {
		qbuf_release(&md);
		goto fail;
	}
	if (r.stop == RUN_RUNNING)
		r.stop = RUN_DONE;
	snprintf(out->status, sizeof(out->status), "%s", run_status_name(r.stop));
	run_save_report(&r, report, qbuf_cstr(&md), r.stop);
	{
		json_t *v = json_object_get(report, "verification");
		run_emit(&r, "report",
			 json_pack("{s:s, s:s, s:O, s:O}", "status", out->status, "mode", mode,
				   "verification", v, "figures", json_object_get(report, "figures")));
	}
	out->markdown = qbuf_detach(&md, NULL);
	out->report = report;
	run_account_close(&r, out);
	q_free(body);
	q_free(ids);
	json_decref(opts_json);
	run_free(&r);
	return 0;

fail:
	set_status(&r, RUN_FAILED);
	snprintf(out->status, sizeof(out->status), "%s", run_status_name(RUN_FAILED));
	run_emit(&r, "run_failed", json_pack("{s:s}", "message", err ? err->msg : ""));
fail_keep_status:
	elapsed_save(&r, 1);
	run_account_close(&r, out);
	q_free(body);
	q_free(ids);
	json_decref(report);
	json_decref(opts_json);
	run_free(&r);
	return rc;
fail_early:
	runstore_close(r.own_rs);
	json_decref(opts_json);
	return rc;
}

void research_result_release(struct research_result *r)
{
	q_free(r->markdown);
	json_decref(r->report);
	memset(r, 0, sizeof(*r));
}
