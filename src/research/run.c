/*
 * run.c - the research run, top to bottom (see research.h).
 *
 * research_run reads like DESIGN.md's list: plan, then rounds of gather,
 * select, read, note and reflect, then write and verify. Each step is a
 * function below; the batch calls inside them are where work happens in
 * parallel. Writing, the extractive brief and the report object are in
 * compose.c; what both files share is in run_int.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/procmem.h"
#include "../core/qbuf.h"
#include "../core/sha256.h"
#include "../core/utf8.h"
#include "../doc/doc.h"
#include "../net/http.h"
#include "../net/url.h"
#include "../search/search.h"
#include "prompts.h"
#include "report.h"
#include "research.h"
#include "run_int.h"
#include "runstore.h"
#include "text.h"

/* ---- events and the run record ---- */

void run_emit(struct run *r, const char *type, json_t *fields)
{
	json_t *ev = fields ? fields : json_object();
	char *line;
	long seq = 0;

	json_object_set_new(ev, "type", json_string(type));
	json_object_set_new(ev, "t", json_real((q_now_ms() - r->t0) / 1000.0));
	json_object_set_new(ev, "run", json_integer(r->id));
	/* numbered and stored first, so the stream shows the stored "seq" */
	if (runstore_event_add(r->rs, r->id, ev, &seq, NULL) == 0)
		r->seq = seq;
	line = json_dumps(ev, JSON_COMPACT);
	if (line && r->env->events) {
		fprintf(r->env->events, "%s\n", line);
		fflush(r->env->events);
	}
	if (r->env->on_event)
		r->env->on_event(r->env->ctx, ev);
	free(line);
	json_decref(ev);
}

static char *rcache_get(struct run *r, const char *key)
{
	char *v = NULL;

	runstore_cache_get(r->rs, r->id, key, &v, NULL);
	return v;
}

static void rcache_put(struct run *r, const char *key, const char *value)
{
	runstore_cache_put(r->rs, r->id, key, value, NULL);
}

/* Pages read by earlier runs are reused for PAGE_CACHE_SECONDS. */
#define PAGE_CACHE_SECONDS (24 * 3600)

/* Pages fetched from private addresses under --allow-private are marked
 * "private" and served only to runs that allow private addresses too. */
static int page_allowed_here(const struct run *r, const char *value)
{
	json_t *v;
	int ok;

	if (r->o->allow_private)
		return 1;
	v = json_loads(value, 0, NULL);
	ok = v && !json_is_true(json_object_get(v, "private"));
	json_decref(v);
	return ok;
}

static char *page_cache_get(struct run *r, const char *url)
{
	char *v = NULL;

	if (runstore_page_get(r->rs, url, PAGE_CACHE_SECONDS, &v, NULL) == 0 && v &&
	    !page_allowed_here(r, v)) {
		q_free(v);
		v = NULL;
	}
	return v;
}

static void page_cache_put(struct run *r, const char *url, const char *value)
{
	runstore_page_put(r->rs, url, value, NULL);
}

static void set_status(struct run *r, enum run_status status)
{
	runstore_set_status(r->rs, r->id, status, NULL);
}

/* ---- who carries a run ---- */

/* Record this process as the one carrying the run. */
static void set_owner(struct run *r)
{
	runstore_set_owner(r->rs, r->id, NULL);
}

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
void research_cancel(struct research_env *env)
{
	__atomic_store_n(&env->cancelled, 1, __ATOMIC_RELAXED);
}

void research_cancel_final(struct research_env *env)
{
	__atomic_store_n(&env->cancelled, RESEARCH_CANCEL_FINAL, __ATOMIC_RELAXED);
}

/* Whether the run was cancelled (research_cancel, research_cancel_final). */
static int run_cancelled(const struct run *r)
{
	return __atomic_load_n(&r->env->cancelled, __ATOMIC_RELAXED);
}

/* The run stops: why (RUN_STOPPED for a budget, RUN_INTERRUPTED or
 * RUN_CANCELLED) and the reason for the report. */
static void stop_run(struct run *r, enum run_status why, const char *reason)
{
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
static int should_stop(struct run *r)
{
	char why[160];

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
	if (!r->env->llm && r->o->time_limit_ms > 0 && q_now_ms() - r->t0 > (double)r->o->time_limit_ms) {
		stop_run(r, RUN_STOPPED, "the time limit is reached");
		return 1;
	}
	return 0;
}

/* Whether the run's wall-time limit (if any) has run out. */
static int out_of_time(const struct run *r)
{
	return r->o->time_limit_ms > 0 && q_now_ms() - r->t0 >= (double)r->o->time_limit_ms;
}

/*
 * Whether the first round may not search and read: only Ctrl-C or no time
 * left. A token or money budget that the plan could not fit still lets
 * the question be searched and its sources read for the extractive brief
 * (searching and reading cost no tokens).
 */
static int first_round_barred(struct run *r)
{
	should_stop(r);   /* sets r->stopped for the report */
	return r->stop == RUN_INTERRUPTED || r->stop == RUN_CANCELLED || out_of_time(r);
}

/* Record a model-call failure: budgets stop the run, the rest is a warning. */
void run_model_failed(struct run *r, const char *step, int rc, const char *msg)
{
	if (rc == Q_EBUDGET) {   /* said once; the calls of a batch that did not fit say nothing more */
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

/* ---- plan ---- */

static void add_query(struct run *r, const char *q)
{
	struct qbuf a, b;
	int i, dup = 0;

	if (!q || !*q || r->n_queries >= MAX_QUERIES || strlen(q) > 400)
		return;
	qbuf_init(&a, 1024);
	text_normalize(q, strlen(q), &a);
	for (i = 0; i < r->n_queries && !dup; i++) {
		qbuf_init(&b, 1024);
		text_normalize(r->queries[i], strlen(r->queries[i]), &b);
		dup = strcmp(qbuf_cstr(&a), qbuf_cstr(&b)) == 0;
		qbuf_release(&b);
	}
	qbuf_release(&a);
	if (!dup && (r->queries[r->n_queries] = q_strdup(q)) != NULL)
		r->n_queries++;
}

const char *run_lang_name(const char *lang)
{
	static const char *const names[][2] = {
		{"en", "English"}, {"zh", "Chinese (简体中文)"}, {"ja", "Japanese (日本語)"},
		{"ko", "Korean (한국어)"}, {"fr", "French (français)"}, {"de", "German (Deutsch)"},
		{"es", "Spanish (español)"}, {"pt", "Portuguese (português)"},
		{"it", "Italian (italiano)"}, {"ru", "Russian (русский)"},
		{"und", "the language the question is written in"}};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(lang, names[i][0]) == 0)
			return names[i][1];
	return lang;   /* a --lang tag the model will know */
}

long run_reply_cap(const struct run *r, long want, const struct llm_message *m, size_t n)
{
	long room = r->env->llm->cfg->context - llm_estimate_prompt(m, n) - 16;

	if (room < want)
		want = room;
	return want >= REPLY_MIN_TOKENS ? want : 0;
}

/* A system + user request for a JSON reply checked against schema. */
static void json_request(struct llm_request *req, struct llm_message m[2], const char *system,
			 const char *user, json_t *schema, const char *name)
{
	m[0].role = "system";
	m[0].content = system;
	m[0].tool_call_id = NULL;
	m[1].role = "user";
	m[1].content = user;
	m[1].tool_call_id = NULL;
	memset(req, 0, sizeof(*req));
	req->messages = m;
	req->n_messages = 2;
	req->temperature = 0.2;
	req->json = 1;
	req->schema = schema;
	req->schema_name = name;
}

/* The strings of from (up to max, each under 300 bytes) as a new array. */
static json_t *string_list(const json_t *from, size_t max)
{
	json_t *a = json_array(), *v;
	size_t i;

	json_array_foreach(from, i, v)
		if (json_is_string(v) && json_string_length(v) < 300 && json_array_size(a) < max)
			json_array_append(a, v);
	return a;
}

/* Keep the plan's brief, checked field by field: a model's brief is
 * data, and later prompts quote it. */
static void keep_brief(struct run *r, const json_t *b)
{
	json_t *tables = json_array(), *t;
	const char *s;
	size_t i;

	if (!json_is_object(b)) {
		json_decref(tables);
		return;
	}
	if ((s = json_string_value(json_object_get(b, "answer"))) && strlen(s) < 600)
		json_object_set_new(r->brief, "answer", json_string(s));
	if ((s = json_string_value(json_object_get(b, "time_window"))) && strlen(s) < 100)
		json_object_set_new(r->brief, "time_window", json_string(s));
	json_object_set_new(r->brief, "sections", string_list(json_object_get(b, "sections"), 10));
	json_object_set_new(r->brief, "entities", string_list(json_object_get(b, "entities"), 16));
	json_array_foreach(json_object_get(b, "tables"), i, t) {
		const char *title = json_string_value(json_object_get(t, "title"));
		if (json_array_size(tables) < 4 && json_array_size(json_object_get(t, "columns")))
			json_array_append_new(tables, json_pack("{s:s, s:o}", "title",
				title && strlen(title) < 300 ? title : "",
				"columns", string_list(json_object_get(t, "columns"), 10)));
	}
	json_object_set_new(r->brief, "tables", tables);
}

/* 0, or the model's error when it cannot be used at all (no point going on). */
static int plan(struct run *r, int breadth, struct q_error *fatal)
{
	static const char schema_text[] =
		"{\"type\":\"object\",\"required\":[\"sub_questions\",\"queries\"],\"properties\":{"
		"\"sub_questions\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
		"\"queries\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"string\"}},"
		"\"outline\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
		"\"brief\":{\"type\":\"object\"}}}";
	struct llm_message m[2];
	struct llm_request req;
	struct llm_response resp;
	struct q_error err = {0};
	struct qbuf u, sys;
	json_t *schema, *q;
	size_t i;
	char *edited;
	int plan_rc;

	r->sub_questions = json_array();
	r->outline = json_array();
	r->brief = json_object();
	if (!r->env->llm) {
		add_query(r, r->o->question);
		return 0;
	}
	qbuf_init(&u, 64 * 1024);
	qbuf_init(&sys, 1024);
	prompt_plan(&u, r->o->question, breadth, run_lang_name(r->lang));
	prompt_system(&sys, PROMPT_PLAN_ROLE, r->date);
	schema = json_loads(schema_text, 0, NULL);
	json_request(&req, m, qbuf_cstr(&sys), qbuf_cstr(&u), schema, "plan");
	req.account = r->acct;
	req.max_tokens = run_reply_cap(r, RUN_JSON_MAX_TOKENS, m, 2);
	/* The question itself is always searched: a planner's queries may all miss. */
	add_query(r, r->o->question);
	if ((edited = rcache_get(r, "edited_plan")) != NULL) {   /* runs resume --plan FILE */
		memset(&resp, 0, sizeof(resp));
		resp.json = json_loads(edited, 0, NULL);
		q_free(edited);
		plan_rc = resp.json ? 0 : Q_EPARSE;
		if (plan_rc)
			q_error_set(&err, Q_EPARSE, "the edited plan is not JSON");
	} else {
		r->critical_calls++;
		plan_rc = llm_chat_json(r->env->llm, &req, &resp, &err);
	}
	if (plan_rc == 0) {
		json_array_foreach(json_object_get(resp.json, "sub_questions"), i, q)
			if (json_is_string(q) && json_array_size(r->sub_questions) < (size_t)breadth)
				json_array_append(r->sub_questions, q);
		json_array_foreach(json_object_get(resp.json, "outline"), i, q)
			if (json_is_string(q) && json_array_size(r->outline) < 8)
				json_array_append(r->outline, q);
		json_array_foreach(json_object_get(resp.json, "queries"), i, q)
			if (json_is_string(q) && (int)i < breadth)
				add_query(r, json_string_value(q));
		keep_brief(r, json_object_get(resp.json, "brief"));
		llm_response_release(&resp);
	} else if (err.code == Q_ENET || err.code == Q_EINVAL || err.code == Q_EHTTP ||
		   (err.code == Q_ETIMEOUT && !r->stopped[0] && !run_cancelled(r))) {
		/* Unreachable, refused key, unknown model: every later call would fail too. */
		json_decref(schema);
		qbuf_release(&u);
		qbuf_release(&sys);
		return q_error_set(fatal, err.code, "the model failed: %s", err.msg);
	} else {
		run_model_failed(r, "plan", err.code, err.msg);
	}
	if (r->n_queries == 0)
		add_query(r, r->o->question);
	run_emit(r, "plan", json_pack("{s:O, s:O, s:O}", "sub_questions", r->sub_questions, "outline",
				  r->outline, "brief", r->brief));
	{   /* the queries, in their own field */
		json_t *qs = json_array();
		int k;
		for (k = 0; k < r->n_queries; k++)
			json_array_append_new(qs, json_string(r->queries[k]));
		run_emit(r, "queries", json_pack("{s:o, s:i}", "queries", qs, "round", 0));
	}
	json_decref(schema);
	qbuf_release(&u);
	qbuf_release(&sys);
	return 0;
}

/* ---- gather and select ---- */

static void site_of(const char *url, char *out, size_t size);

static int seen_key(struct run *r, const char *key)
{
	int i;

	for (i = 0; i < r->n_read_keys; i++)
		if (strcmp(r->read_keys[i], key) == 0)
			return 1;
	return 0;
}

/* A JSON string of any bytes (file names need not be UTF-8). */
static json_t *json_u8(const char *s)
{
	char *clean = utf8_sanitize_dup(s);
	json_t *j = json_string(clean ? clean : "");

	q_free(clean);
	return j ? j : json_string("");
}

/* A corpus path that is not UTF-8 travels as "hex:..." so it still finds its file. */
static json_t *json_path(const char *s)
{
	static const char digits[] = "0123456789abcdef";
	struct qbuf b;
	json_t *j;
	size_t i;

	if (utf8_valid(s, strlen(s)))
		return json_string(s);
	qbuf_init(&b, 64 * 1024);
	qbuf_adds(&b, "hex:");
	for (i = 0; s[i]; i++) {
		qbuf_addc(&b, digits[(unsigned char)s[i] >> 4]);
		qbuf_addc(&b, digits[(unsigned char)s[i] & 15]);
	}
	j = json_string(qbuf_cstr(&b));
	qbuf_release(&b);
	return j ? j : json_string("");
}

static char *path_from_json(const char *s)
{
	size_t n, i;
	char *out;

	if (strncmp(s, "hex:", 4) != 0)
		return q_strdup(s);
	s += 4;
	n = strlen(s) / 2;
	out = q_malloc(n + 1);
	for (i = 0; out && i < n; i++) {
		char h[3] = {s[2 * i], s[2 * i + 1], 0};
		out[i] = (char)strtol(h, NULL, 16);
	}
	if (out)
		out[n] = '\0';
	return out;
}

static json_t *outcome_to_json(const struct search_outcome *o)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < o->n; i++)
		json_array_append_new(a, json_pack("{s:o, s:o, s:o}", "url", json_path(o->results[i].url),
						   "title", json_u8(o->results[i].title), "snippet",
						   json_u8(o->results[i].snippet)));
	return json_pack("{s:i, s:s, s:o}", "rc", o->rc, "msg", o->msg, "results", a);
}

static void add_candidate(struct candidate **cv, int *n, const char *url, const char *title,
			  const char *snippet, int corpus, int rank)
{
	char key[2048], canon[URL_MAX_BYTES];
	struct candidate *c;
	int i;

	if (corpus)
		snprintf(key, sizeof(key), "file:%s", url);
	else if (url_canonical(url, canon, sizeof(canon), NULL) ||   /* no trackers shown */
		 text_url_key((url = canon), key, sizeof(key)))
		return;
	for (i = 0; i < *n; i++)
		if (strcmp((*cv)[i].key, key) == 0) {
			(*cv)[i].score += 1.0 / (60.0 + rank);   /* reciprocal rank fusion */
			return;
		}
	c = q_reallocarray(*cv, (size_t)*n + 1, sizeof(**cv));
	if (!c)
		return;
	*cv = c;
	c = &(*cv)[*n];
	memset(c, 0, sizeof(*c));
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->url = corpus ? path_from_json(url) : q_strdup(url);
	c->title = q_strdup(title ? title : "");
	c->snippet = q_strdup(snippet ? snippet : "");
	c->corpus = corpus;
	c->score = 1.0 / (60.0 + rank);
	if (c->url && c->title && c->snippet)
		(*n)++;
}

static int by_candidate_score(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return strcmp(x->key, y->key);
}

/*
 * search_many for qs[0..nq), each query with the search language that
 * suits it: the one it is written in (an English query of a Chinese
 * question is searched in English), none when that is unclear, and the
 * user's --lang for all when given. One search_many per language.
 */
static void search_in_languages(struct run *r, const char *const *qs, int nq, int per_query,
				struct search_outcome *out)
{
	size_t np = r->n_providers, k;
	const char **lang = q_calloc((size_t)nq, sizeof(char *));
	const char **sub = q_calloc((size_t)nq, sizeof(char *));
	int *idx = q_calloc((size_t)nq, sizeof(int)), *done = q_calloc((size_t)nq, sizeof(int));
	struct search_outcome *part = q_calloc((size_t)nq * np, sizeof(*part));
	int i, j, m;

	if (!lang || !sub || !idx || !done || !part || (r->o->lang && *r->o->lang)) {
		search_many(r->providers, np, qs, (size_t)nq, per_query, r->lang, &r->env->cancelled, out);
		goto out;
	}
	for (i = 0; i < nq; i++) {
		lang[i] = text_guess_lang(qs[i]);
		if (strcmp(lang[i], "und") == 0)
			lang[i] = NULL;
	}
	for (i = 0; i < nq; i++) {
		if (done[i])
			continue;
		for (j = i, m = 0; j < nq; j++)
			if (!done[j] && (lang[i] == lang[j] || (lang[i] && lang[j] && !strcmp(lang[i], lang[j])))) {
				done[j] = 1;
				idx[m] = j;
				sub[m++] = qs[j];
			}
		search_many(r->providers, np, sub, (size_t)m, per_query, lang[i], &r->env->cancelled, part);
		for (j = 0; j < m; j++)
			for (k = 0; k < np; k++)
				out[(size_t)idx[j] * np + k] = part[(size_t)j * np + k];   /* moved, not copied */
	}
out:
	q_free(lang);
	q_free(sub);
	q_free(idx);
	q_free(done);
	q_free(part);
}

/*
 * At most r->site_cap sources of one site (sources read before count):
 * the candidates of a site that has had its share move after all the
 * others, in their order, so one domain cannot crowd out the rest while
 * there is anything else to read (and is still read when there is not).
 */
static void cap_per_site(struct run *r, struct candidate *cv, int n)
{
	char (*host)[256] = q_calloc((size_t)(n ? n : 1), sizeof(*host)), h[256];
	struct candidate *sorted = q_calloc((size_t)(n ? n : 1), sizeof(*sorted));
	int *over = q_calloc((size_t)(n ? n : 1), sizeof(int)), i, j, seen, m = 0;

	if (n == 0 || !host || !sorted || !over || r->site_cap <= 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (cv[i].corpus)
			continue;
		site_of(cv[i].url, host[i], sizeof(host[i]));
		for (j = 0, seen = 0; j < r->n_src; j++)
			if (!r->src[j].corpus) {
				site_of(r->src[j].url, h, sizeof(h));
				seen += strcmp(h, host[i]) == 0;
			}
		for (j = 0; j < i; j++)
			seen += !over[j] && !cv[j].corpus && strcmp(host[j], host[i]) == 0;
		over[i] = host[i][0] && seen >= r->site_cap;
	}
	for (i = 0; i < n; i++)
		if (!over[i])
			sorted[m++] = cv[i];
	for (i = 0; i < n; i++)
		if (over[i])
			sorted[m++] = cv[i];
	memcpy(cv, sorted, (size_t)n * sizeof(*cv));
out:
	q_free(host);
	q_free(sorted);
	q_free(over);
}

/* Search the new queries [first, n_queries) on every provider. */
static struct candidate *gather(struct run *r, int first, int per_query, int *n_out)
{
	int nq = r->n_queries - first, i, n = 0;
	size_t np = r->n_providers, k, j;
	struct search_outcome *out;
	struct candidate *cv = NULL;
	const char *const *qs = (const char *const *)&r->queries[first];
	char *cached, key[700];
	int *need;

	*n_out = 0;
	if (nq <= 0)
		return NULL;
	out = q_calloc((size_t)nq * np, sizeof(*out));
	need = q_calloc((size_t)nq * np, sizeof(int));
	if (!out || !need) {
		q_free(out);
		q_free(need);
		return NULL;
	}
	/* A resumed run replays its searches; only the missing ones are sent. */
	{
		int missing = 0;
		for (i = 0; i < nq; i++)
			for (k = 0; k < np; k++) {
				snprintf(key, sizeof(key), "search:%s:%.600s", r->providers[k].name, qs[i]);
				need[i * (int)np + (int)k] = (cached = rcache_get(r, key)) == NULL;
				missing += cached == NULL;
				q_free(cached);
			}
		if (missing)
			search_in_languages(r, qs, nq, per_query, out);
	}
	for (i = 0; i < nq; i++) {
		for (k = 0; k < np; k++) {
			struct search_outcome *o = &out[(size_t)i * np + k];
			json_t *cj = NULL, *res, *it;
			json_error_t jerr;
			snprintf(key, sizeof(key), "search:%s:%.600s", r->providers[k].name, qs[i]);
			if (!need[i * (int)np + (int)k]) {
				cached = rcache_get(r, key);
				cj = cached ? json_loads(cached, 0, &jerr) : NULL;
				q_free(cached);
			} else {
				cj = outcome_to_json(o);
				if (o->rc == 0) {   /* failures are tried again on resume */
					char *s = json_dumps(cj, JSON_COMPACT);
					if (s)
						rcache_put(r, key, s);
					free(s);
				}
			}
			if (json_integer_value(json_object_get(cj, "rc")) != 0) {
				r->searches_failed++;
				run_emit(r, "search_failed", json_pack("{s:s, s:s, s:s}", "provider",
					r->providers[k].name, "query", qs[i], "message",
					json_string_value(json_object_get(cj, "msg")) ?
					json_string_value(json_object_get(cj, "msg")) : ""));
			} else {
				res = json_object_get(cj, "results");
				r->results_found += (int)json_array_size(res);
				run_emit(r, "search", json_pack("{s:s, s:s, s:i}", "provider", r->providers[k].name,
					"query", qs[i], "results", (int)json_array_size(res)));
				json_array_foreach(res, j, it)
					add_candidate(&cv, &n, json_string_value(json_object_get(it, "url")),
						      json_string_value(json_object_get(it, "title")),
						      json_string_value(json_object_get(it, "snippet")),
						      r->providers[k].kind == SEARCH_CORPUS, (int)j + 1);
			}
			json_decref(cj);
			search_outcome_release(o);
		}
	}
	q_free(out);
	q_free(need);
	if (n > 1)
		qsort(cv, (size_t)n, sizeof(*cv), by_candidate_score);
	cap_per_site(r, cv, n);
	*n_out = n;
	return cv;
}

static void candidates_free(struct candidate *cv, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		q_free(cv[i].url);
		q_free(cv[i].title);
		q_free(cv[i].snippet);
	}
	q_free(cv);
}

/* ---- read ---- */

/* A corpus document's text: its passages in order. */
/* Markdown headings for the levels of heading ("A > B > C") that differ
 * from prev, so the text keeps the document's sections. */
static void add_headings(struct qbuf *text, const char *heading, const char *prev)
{
	int level = 1, same = 1;

	while (*heading) {
		const char *end = strstr(heading, " > ");
		size_t n = end ? (size_t)(end - heading) : strlen(heading);
		const char *pend = prev ? strstr(prev, " > ") : NULL;
		size_t pn = prev ? (pend ? (size_t)(pend - prev) : strlen(prev)) : 0;

		same = same && prev && pn == n && !strncmp(prev, heading, n);
		if (!same && n > 0 && level <= 6) {
			if (text->len)
				qbuf_adds(text, "\n\n");
			qbuf_add(text, "######", (size_t)level);
			qbuf_addc(text, ' ');
			qbuf_add(text, heading, n);
		}
		prev = prev && pend ? pend + 3 : NULL;
		heading += n + (end ? 3 : 0);
		level++;
	}
}

static int corpus_text(struct run *r, const char *path, struct qbuf *text, char **title,
		       int *plain)
{
	sqlite3_stmt *st = NULL;
	char *prev = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(r->env->store->db, "SELECT d.title, p.heading, p.body, d.kind FROM passages p "
			       "JOIN documents d ON d.id = p.doc_id WHERE d.path = ?1 ORDER BY p.ord",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 1);

		if (!found && !*title)
			*title = q_strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
								      : "");
		found = 1;
		*plain = sqlite3_column_text(st, 3) &&
			 strcmp((const char *)sqlite3_column_text(st, 3), "text") == 0;
		add_headings(text, h ? h : "", prev);
		q_free(prev);
		prev = q_strdup(h ? h : "");
		if (text->len)
			qbuf_adds(text, "\n\n");
		qbuf_adds(text, (const char *)sqlite3_column_text(st, 2));
	}
	q_free(prev);
	sqlite3_finalize(st);
	return found;
}

/* Note key as tried (URL keys and "hash:" content keys). 0 or Q_ENOMEM. */
static int remember_key(struct run *r, const char *key)
{
	char **k = q_reallocarray(r->read_keys, (size_t)r->n_read_keys + 1, sizeof(char *));

	if (!k)
		return Q_ENOMEM;
	r->read_keys = k;
	if (!(k[r->n_read_keys] = q_strdup(key)))
		return Q_ENOMEM;
	r->n_read_keys++;
	return 0;
}

static int add_source(struct run *r, const char *url, const char *title, const char *text,
		      size_t len, int corpus, int round)
{
	struct source *s;
	struct qbuf norm;
	struct neardup_sig sig;
	char hash[65], key[80];
	int i;

	if (len > (size_t)RESEARCH_SOURCE_MAX_BYTES) {   /* cut before a character, not inside one */
		len = (size_t)RESEARCH_SOURCE_MAX_BYTES;
		while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
			len--;
	}
	sha256_hex(text, len, hash);
	snprintf(key, sizeof(key), "hash:%s", hash);
	if (seen_key(r, key))
		return -1;   /* the same text under another address */
	remember_key(r, key);   /* out of memory: only a later duplicate goes unnoticed */
	neardup_sign(text, len, &sig);
	for (i = 0; i < r->n_src; i++)
		if (neardup_same(&sig, &r->src[i].sig))
			return -1;   /* nearly the same text: one copy is cited */
	s = q_reallocarray(r->src, (size_t)r->n_src + 1, sizeof(*s));
	if (!s)
		return -1;
	r->src = s;
	s = &r->src[r->n_src];
	memset(s, 0, sizeof(*s));
	s->sig = sig;
	/* Paths and titles may hold any bytes; reports and JSON need UTF-8. */
	s->url = utf8_sanitize_dup(url);
	s->title = utf8_sanitize_dup(title && *title ? title : url);
	s->text = q_strndup(text, len);
	qbuf_init(&norm, (size_t)RESEARCH_SOURCE_MAX_BYTES * 2);
	text_normalize(text, len, &norm);
	s->norm = qbuf_detach(&norm, NULL);
	s->corpus = corpus;
	s->round = round;
	if (!s->url || !s->title || !s->text || !s->norm) {
		q_free(s->url);
		q_free(s->title);
		q_free(s->text);
		q_free(s->norm);
		return -1;
	}
	return r->n_src++;
}

/* The kind of a fetch failure, from the message the fetcher wrote. */
static enum run_fail_kind fail_kind(const char *why)
{
	if (strncmp(why, "timed out", 9) == 0)
		return RUN_FAIL_TIMEOUT;
	if (strncmp(why, "refused to connect", 18) == 0)
		return RUN_FAIL_POLICY;
	if (strncmp(why, "robots.txt", 10) == 0)
		return RUN_FAIL_ROBOTS;
	if (strncmp(why, "HTTP ", 5) == 0)
		return RUN_FAIL_HTTP;
	if (strncmp(why, "cannot connect", 14) == 0 || strncmp(why, "cannot resolve", 14) == 0 ||
	    strncmp(why, "TLS error", 9) == 0)
		return RUN_FAIL_UNREACHABLE;
	if (strcmp(why, "no readable text") == 0)
		return RUN_FAIL_NO_TEXT;
	return RUN_FAIL_OTHER;
}

static void source_failed(struct run *r, const char *url, const char *why)
{
	r->sources_failed++;
	r->failed_by_kind[fail_kind(why ? why : "")]++;
	run_emit(r, "source_failed", json_pack("{s:s, s:s}", "url", url, "reason", why));
}

static void source_read(struct run *r, int i)
{
	run_emit(r, "source_read", json_pack("{s:i, s:s, s:s, s:I, s:s}", "source", i + 1, "url",
					 r->src[i].url, "title", r->src[i].title, "chars",
					 (json_int_t)strlen(r->src[i].text), "kind",
					 r->src[i].corpus ? "corpus" : "web"));
}

/* The host of url without "www." into out ("" when it has none). */
static void site_of(const char *url, char *out, size_t size)
{
	struct url *u = q_malloc(sizeof(*u));
	struct q_error e = {0};

	out[0] = '\0';
	if (u && url_parse(url, u, &e) == 0) {
		const char *h = strncmp(u->host, "www.", 4) == 0 ? u->host + 4 : u->host;
		size_t n = strlen(h) < size ? strlen(h) : size - 1;
		memcpy(out, h, n);
		out[n] = '\0';
	}
	q_free(u);
}

/* A web source's site (its own name, else its host) and date (published,
 * else the day the run read it), for the prompts and the Sources list. */
static void source_meta(struct run *r, int i, const json_t *rec)
{
	struct source *s = &r->src[i];
	const char *site = json_string_value(json_object_get(rec, "site"));
	const char *pub = json_string_value(json_object_get(rec, "published"));

	if (site && *site && strlen(site) < sizeof(s->site))
		snprintf(s->site, sizeof(s->site), "%s", site);
	else
		site_of(s->url, s->site, sizeof(s->site));
	if (pub && strlen(pub) >= 4 && pub[0] >= '0' && pub[0] <= '9') {
		snprintf(s->date, sizeof(s->date), "%.10s", pub);   /* the day of an ISO 8601 time */
	} else if (r->date[0]) {
		snprintf(s->date, sizeof(s->date), "%s", r->date);
		s->date_fetched = 1;
	}
	/* Both go into prompts inside quoted attributes. */
	for (i = 0; s->site[i]; i++)
		if (s->site[i] == '"' || s->site[i] == '<' || s->site[i] == '>' || (unsigned char)s->site[i] < 0x20)
			s->site[i] = ' ';
	for (i = 0; s->date[i]; i++)
		if (s->date[i] == '"' || s->date[i] == '<' || s->date[i] == '>' || (unsigned char)s->date[i] < 0x20)
			s->date[i] = ' ';
}

struct fetch_ctx {
	struct run *r;
	char **urls;
	char **recs;   /* per URL: the record on_fetched made, stored after the batch */
	int round;
};

/* Pages extracted at once on the pool while the downloads go on: two
 * cores, and pdftotext is a process of its own. */
#define RUN_EXTRACT_PARALLEL 4

/* Fetched pages are kept per run as {"title","text"} or {"error"}. Runs
 * on a pool thread (http.h done_parallel), so it touches nothing shared:
 * the record goes into fc->recs[i] and read_sources stores it. */
static void on_fetched(size_t i, struct http_response *resp, void *vctx)
{
	struct fetch_ctx *fc = vctx;
	struct q_doc doc;
	struct doc_options dopt;
	struct q_error derr = {0};
	json_t *rec;

	memset(&dopt, 0, sizeof(dopt));
	memset(&doc, 0, sizeof(doc));
	if (resp->rc) {
		rec = json_pack("{s:s}", "error", resp->err.msg);
	} else {
		dopt.format = DOC_FORMAT_MARKDOWN;
		dopt.base_url = resp->final_url ? resp->final_url : fc->urls[i];
		dopt.content_type = resp->content_type;
		dopt.cancel = &fc->r->env->cancelled;   /* extraction obeys cancel and --time-limit */
		if (fc->r->o->time_limit_ms > 0)
			dopt.deadline_ms = fc->r->t0 + (double)fc->r->o->time_limit_ms;
		if (doc_extract(qbuf_cstr(&resp->body), resp->body.len, &dopt, &doc, &derr))
			rec = json_pack("{s:s}", "error", derr.msg);
		else
			rec = json_pack("{s:s, s:s%, s:s?, s:s?}", "title", doc.title ? doc.title : "",
					"text", doc.text ? doc.text : "", doc.text ? doc.text_len : (size_t)0,
					"published", doc.date, "site", doc.site_name);
		doc_release(&doc);
		qbuf_release(&resp->body);   /* the batch keeps every response until it ends */
		if (rec && resp->private_addr)
			json_object_set_new(rec, "private", json_true());
	}
	if (!rec)   /* invalid UTF-8 cannot happen after extraction; be safe */
		rec = json_pack("{s:s}", "error", "the page could not be stored");
	fc->recs[i] = json_dumps(rec, JSON_COMPACT);
	json_decref(rec);
}

/* Keep the records of a fetch batch (run thread: the store is ours). */
static void store_fetched(struct fetch_ctx *fc, int n)
{
	char key[4200];
	int i;

	for (i = 0; i < n; i++) {
		if (!fc->recs[i])
			continue;
		snprintf(key, sizeof(key), "page:%.4000s", fc->urls[i]);
		rcache_put(fc->r, key, fc->recs[i]);
		if (strncmp(fc->recs[i], "{\"error\":", 9) != 0)   /* failures are tried again next time */
			page_cache_put(fc->r, fc->urls[i], fc->recs[i]);
		free(fc->recs[i]);
		fc->recs[i] = NULL;
	}
}

/* Whether a kept fetch failure is the address policy's refusal and the
 * run allows private addresses now (resumed with --allow-private). */
static int refused_but_allowed(const struct run *r, const char *rec_text)
{
	json_t *rec;
	const char *why;
	int yes;

	if (!r->o->allow_private)
		return 0;
	rec = json_loads(rec_text, 0, NULL);
	why = json_string_value(json_object_get(rec, "error"));
	yes = why && fail_kind(why) == RUN_FAIL_POLICY;
	json_decref(rec);
	return yes;
}

/* Read up to want candidates not read before. Returns the first new source index. */
static int read_sources(struct run *r, struct candidate *cv, int n, int want, int round)
{
	const char **urls = q_calloc((size_t)(n ? n : 1), sizeof(char *));
	char key[4200];
	int i, picked = 0, n_fetch = 0, first = r->n_src;
	int *pick = q_calloc((size_t)(n ? n : 1), sizeof(int));

	if (!urls || !pick) {
		q_free(urls);
		q_free(pick);
		return first;
	}
	for (i = 0; i < n && picked < want; i++) {
		if (seen_key(r, cv[i].key))
			continue;
		if (remember_key(r, cv[i].key))
			break;
		pick[picked++] = i;
		if (!cv[i].corpus) {
			char *cached;
			snprintf(key, sizeof(key), "page:%.4000s", cv[i].url);
			if ((cached = rcache_get(r, key)) != NULL && refused_but_allowed(r, cached)) {
				q_free(cached);   /* --allow-private given to resume: fetch again */
				cached = NULL;
				urls[n_fetch++] = cv[i].url;
			} else if (!cached && !r->o->fresh &&
			    (cached = page_cache_get(r, cv[i].url)) != NULL)
				rcache_put(r, key, cached);   /* read by an earlier run today */
			else if (!cached)
				urls[n_fetch++] = cv[i].url;
			q_free(cached);
		}
	}
	if (n_fetch > 0 && !(round == 0 ? first_round_barred(r) : should_stop(r))) {
		struct http_options hopt;
		struct http_response *resps = q_calloc((size_t)n_fetch, sizeof(*resps));
		struct fetch_ctx fc = {r, (char **)urls, q_calloc((size_t)n_fetch, sizeof(char *)), round};
		memset(&hopt, 0, sizeof(hopt));
		hopt.allow_private = r->o->allow_private;
		hopt.ignore_robots = r->o->ignore_robots;
		hopt.max_parallel = r->o->fetch_parallel > 0 ? r->o->fetch_parallel : 8;
		hopt.timeout_ms = 20000;
		hopt.cancel = &r->env->cancelled;
		hopt.done_parallel = RUN_EXTRACT_PARALLEL;   /* a slow PDF holds up no download */
		if (r->o->time_limit_ms > 0) {
			double left = (double)r->o->time_limit_ms - (q_now_ms() - r->t0);
			if (left < 1000)
				left = 1000;
			if (left < (double)hopt.timeout_ms)
				hopt.timeout_ms = (long)left;
		}
		if (resps && fc.recs) {
			run_emit(r, "fetching", json_pack("{s:i}", "urls", n_fetch));
			http_fetch_many(urls, (size_t)n_fetch, &hopt, resps, on_fetched, &fc);
			store_fetched(&fc, n_fetch);
			run_sample_memory(r);   /* the pages of a batch are all in memory here */
			for (i = 0; i < n_fetch; i++)
				http_response_release(&resps[i]);
		}
		q_free(resps);
		q_free(fc.recs);
	}
	for (i = 0; i < picked; i++) {
		struct candidate *c = &cv[pick[i]];
		int idx = -1;
		if (c->corpus) {
			struct qbuf t;
			char *title = NULL;
			int plain = 0;
			qbuf_init(&t, (size_t)RESEARCH_SOURCE_MAX_BYTES);
			if (corpus_text(r, c->url, &t, &title, &plain) && t.len > 0) {
				idx = add_source(r, c->url, title && *title ? title : c->title,
						 qbuf_cstr(&t), t.len, 1, round);
				if (idx >= 0)
					r->src[idx].plain = plain;
			} else
				source_failed(r, c->url, "no longer in the corpus");
			qbuf_release(&t);
			q_free(title);
		} else {
			char *cached;
			json_t *rec;
			json_error_t jerr;
			snprintf(key, sizeof(key), "page:%.4000s", c->url);
			cached = rcache_get(r, key);
			rec = cached ? json_loads(cached, 0, &jerr) : NULL;
			q_free(cached);
			if (!rec) {
				source_failed(r, c->url, r->stopped[0] ? r->stopped : "not fetched");
			} else if (json_object_get(rec, "error")) {
				source_failed(r, c->url, json_string_value(json_object_get(rec, "error")));
			} else {
				const char *text = json_string_value(json_object_get(rec, "text"));
				const char *title = json_string_value(json_object_get(rec, "title"));
				if (!text || strlen(text) < 80)
					source_failed(r, c->url, "no readable text");
				else
					idx = add_source(r, c->url, title && *title ? title : c->title, text,
							 strlen(text), 0, round);
				if (idx >= 0)
					source_meta(r, idx, rec);
			}
			json_decref(rec);
		}
		if (idx >= 0)
			source_read(r, idx);
	}
	q_free(urls);
	q_free(pick);
	return first;
}

/* ---- note ---- */

/* The question and sub-questions as one query for local ranking. */
/* Append a finding (claim and quote copied, each cut to its cap); its
 * index, or -1 when memory ran out (nothing is kept then). */
int run_add_finding(struct run *r, int source, const char *claim, size_t claim_n,
		    const char *quote, size_t quote_n, int sub_question)
{
	struct finding *f = q_reallocarray(r->f, (size_t)r->n_f + 1, sizeof(*f));

	if (!f)
		return -1;
	r->f = f;
	f = &r->f[r->n_f];
	f->source = source;
	f->claim = q_strndup(claim, claim_n);
	f->quote = q_strndup(quote, quote_n);
	f->sub_question = sub_question;
	if (!f->claim || !f->quote) {
		q_free(f->claim);
		q_free(f->quote);
		return -1;
	}
	return r->n_f++;
}

void run_focus_query(struct run *r, struct qbuf *q)
{
	json_t *s;
	size_t i;

	qbuf_adds(q, r->o->question);
	json_array_foreach(r->sub_questions, i, s) {
		qbuf_addc(q, ' ');
		qbuf_adds(q, json_string_value(s));
	}
}

/* The best excerpts of source i for the question, in document order, up
 * to about max_tokens. */
static int by_start(const void *a, const void *b)
{
	const struct rpassage *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void excerpts(struct run *r, int i, long max_tokens, struct qbuf *out)
{
	const char *texts[1] = {r->src[i].text};
	struct rpassage *rank[1 + RESEARCH_MAX_BREADTH] = {NULL};
	size_t nr[1 + RESEARCH_MAX_BREADTH] = {0}, pos[1 + RESEARCH_MAX_BREADTH] = {0}, n, k, j;
	size_t n_sub = json_array_size(r->sub_questions), m, *picked = NULL, n_picked = 0;
	long used = 0;
	int progress = 1;

	if (n_sub > RESEARCH_MAX_BREADTH)
		n_sub = RESEARCH_MAX_BREADTH;
	if (llm_estimate_tokens(r->src[i].text, strlen(r->src[i].text)) <= max_tokens ||
	    text_rank_passages(texts, 1, r->o->question, &rank[0], &nr[0]) || nr[0] == 0) {
		/* Short enough, or cannot rank: the start of the text. */
		size_t len = strlen(r->src[i].text), cut = (size_t)max_tokens * 4;
		if (cut < len) {
			while (cut > 0 && ((unsigned char)r->src[i].text[cut] & 0xC0) == 0x80)
				cut--;
			len = cut;
		}
		qbuf_add(out, r->src[i].text, len);
		q_free(rank[0]);
		return;
	}
	/* One ranking for the question and one per sub-question: the excerpts
	 * take the best passage of each in turn, so every sub-question gets
	 * its evidence, until the budget is used. */
	for (m = 0; m < n_sub; m++)
		if (text_rank_passages(texts, 1, json_string_value(json_array_get(r->sub_questions, m)),
				       &rank[m + 1], &nr[m + 1]))
			nr[m + 1] = 0;
	n = nr[0];
	picked = q_calloc(n, sizeof(size_t));
	while (picked && progress && used < max_tokens) {
		progress = 0;
		for (m = 0; m <= n_sub && used < max_tokens; m++) {
			while (pos[m] < nr[m]) {
				struct rpassage *p = &rank[m][pos[m]++];
				long t;
				int dup = 0;
				if (p->score <= 0 && m > 0)
					break;   /* this sub-question has nothing more here */
				for (k = 0; k < n_picked; k++)
					dup |= picked[k] == p->start;
				if (dup)
					continue;
				t = llm_estimate_tokens(r->src[i].text + p->start, p->end - p->start);
				if (used + t > max_tokens && used > 0)
					continue;
				picked[n_picked++] = p->start;
				used += t;
				progress = 1;
				break;
			}
		}
	}
	/* Document order reads better than score order. */
	qsort(rank[0], nr[0], sizeof(*rank[0]), by_start);
	for (k = 0, j = 0; k < nr[0]; k++) {
		size_t x;
		for (x = 0; x < n_picked && picked[x] != rank[0][k].start; x++)
			;
		if (x == n_picked)
			continue;
		if (j++ > 0)
			qbuf_adds(out, "\n[...]\n");
		qbuf_add(out, r->src[i].text + rank[0][k].start, rank[0][k].end - rank[0][k].start);
	}
	q_free(picked);
	for (m = 0; m <= n_sub; m++)
		q_free(rank[m]);
}

/*
 * The excerpt tokens of one note prompt: they scale with the model's
 * context (half of it, less the instructions), up to NOTE_EXCERPT_MAX_TOKENS.
 * The fixed 2,500 tokens this replaced showed the note model about a
 * fifth of a 40 KB page; 8,000 show it most of one (docs/BENCHMARKS.md,
 * "Research quality"), at about $0.002 a source on DeepSeek.
 */
static long note_room(const struct run *r)
{
	long room = r->env->llm->cfg->context / 2 - 1500;

	if (room > NOTE_EXCERPT_MAX_TOKENS)
		room = NOTE_EXCERPT_MAX_TOKENS;
	if (room < 300)
		room = 300;
	return room;
}

static const char note_schema_text[] =
	"{\"type\":\"object\",\"required\":[\"findings\"],\"properties\":{\"findings\":{\"type\":"
	"\"array\",\"items\":{\"type\":\"object\",\"required\":[\"claim\",\"quote\"],\"properties\":{"
	"\"claim\":{\"type\":\"string\"},\"quote\":{\"type\":\"string\"},\"sub_question\":{\"type\":"
	"\"integer\"}}}}}}";

static void note(struct run *r, int first)
{
	int n = r->n_src - first, i;
	struct llm_request *reqs;
	struct llm_response *resps;
	struct llm_message *msgs;
	struct q_error *errs;
	struct qbuf *prompts, sys;
	int *rcs;
	json_t *schema;

	if (n <= 0 || !r->env->llm || should_stop(r))
		return;
	qbuf_init(&sys, 4096);
	prompt_system(&sys, PROMPT_NOTE_ROLE, r->date);
	reqs = q_calloc((size_t)n, sizeof(*reqs));
	resps = q_calloc((size_t)n, sizeof(*resps));
	msgs = q_calloc((size_t)n * 2, sizeof(*msgs));
	errs = q_calloc((size_t)n, sizeof(*errs));
	prompts = q_calloc((size_t)n, sizeof(*prompts));
	rcs = q_calloc((size_t)n, sizeof(int));
	schema = json_loads(note_schema_text, 0, NULL);
	if (!reqs || !resps || !msgs || !errs || !prompts || !rcs || !schema)
		goto out;
	for (i = 0; i < n; i++) {
		struct source *s = &r->src[first + i];
		struct qbuf *p = &prompts[i];
		json_t *sq;
		size_t k;
		long room = note_room(r);
		qbuf_init(p, 1024 * 1024);
		qbuf_addf(p, "Research question: %s\n", r->o->question);
		if (json_array_size(r->sub_questions)) {
			qbuf_adds(p, "Sub-questions:\n");
			json_array_foreach(r->sub_questions, k, sq)
				qbuf_addf(p, "%zu. %s\n", k + 1, json_string_value(sq));
		}
		prompt_brief(p, r->brief);
		qbuf_addf(p, "\n<source title=\"%s\" url=\"%s\"", s->title, s->url);
		if (s->site[0])
			qbuf_addf(p, " site=\"%s\"", s->site);
		if (s->date[0])
			qbuf_addf(p, " %s=\"%s\"", s->date_fetched ? "read" : "published", s->date);
		qbuf_adds(p, ">\n");
		k = p->len;
		excerpts(r, first + i, room, p);
		r->noted_excerpt_bytes += (long)(p->len - k);
		r->noted_source_bytes += (long)strlen(s->text);
		qbuf_adds(p, "\n</source>\n\n");
		prompt_note_task(p, r->o->quick ? NOTE_FINDINGS_QUICK : NOTE_FINDINGS, run_lang_name(r->lang));
		msgs[2 * i].role = "system";
		msgs[2 * i].content = qbuf_cstr(&sys);
		msgs[2 * i + 1].role = "user";
		msgs[2 * i + 1].content = qbuf_cstr(p);
		reqs[i].messages = &msgs[2 * i];
		reqs[i].n_messages = 2;
		reqs[i].fast = 1;
		reqs[i].temperature = 0;
		reqs[i].json = 1;
		reqs[i].schema = schema;
		reqs[i].schema_name = "findings";
		reqs[i].account = r->acct;
		reqs[i].max_tokens = run_reply_cap(r, RUN_JSON_MAX_TOKENS, &msgs[2 * i], 2);
	}
	run_emit(r, "noting", json_pack("{s:i}", "sources", n));
	r->critical_calls++;
	llm_chat_many(r->env->llm, reqs, (size_t)n, 1, resps, rcs, errs);
	for (i = 0; i < n; i++) {
		json_t *fs, *it;
		size_t k;
		int kept = 0, dropped = 0, src = first + i;
		if (rcs[i]) {
			run_model_failed(r, "note", rcs[i], errs[i].msg);
			continue;
		}
		r->notes_answered++;
		fs = json_object_get(resps[i].json, "findings");
		json_array_foreach(fs, k, it) {
			const char *claim = json_string_value(json_object_get(it, "claim"));
			const char *quote = json_string_value(json_object_get(it, "quote"));
			json_t *sqv = json_object_get(it, "sub_question");
			int d, dup = 0, sub, rows_dropped = 0;
			struct qbuf checked;
			if (!claim || !quote || !*claim || r->n_f >= MAX_FINDINGS)
				continue;
			qbuf_init(&checked, 16000);
			if (text_quote_rows(r->src[src].norm, quote, &checked, &rows_dropped) == 0) {
				dropped++;
				qbuf_release(&checked);
				continue;
			}
			dropped += rows_dropped;   /* rows of a block not in the source */
			for (d = 0; d < r->n_f; d++)
				dup |= r->f[d].source == src && strcmp(r->f[d].quote, qbuf_cstr(&checked)) == 0;
			sub = json_is_integer(sqv) ? (int)json_integer_value(sqv) : 0;
			if (sub < 0 || sub > (int)json_array_size(r->sub_questions))
				sub = 0;
			if (!dup && run_add_finding(r, src, claim, 2000, qbuf_cstr(&checked), 16000, sub) >= 0)
				kept++;
			qbuf_release(&checked);
		}
		r->quotes_dropped += dropped;
		run_emit(r, "note", json_pack("{s:i, s:s, s:i, s:i}", "source", src + 1, "url", r->src[src].url,
					  "findings", kept, "quotes_dropped", dropped));
	}
out:
	for (i = 0; resps && i < n; i++)
		llm_response_release(&resps[i]);
	for (i = 0; prompts && i < n; i++)
		qbuf_release(&prompts[i]);
	q_free(reqs);
	q_free(resps);
	q_free(msgs);
	q_free(errs);
	q_free(prompts);
	q_free(rcs);
	json_decref(schema);
	qbuf_release(&sys);
}

/* ---- reflect ---- */

/* Every gap the run looked into, once, for the follow-up questions. */
static void remember_gaps(struct run *r, const json_t *gaps)
{
	json_t *g, *h;
	size_t i, j;
	int seen;

	if (!r->all_gaps)
		r->all_gaps = json_array();
	json_array_foreach(gaps, i, g) {
		seen = 0;
		json_array_foreach(r->all_gaps, j, h)
			seen |= json_equal(g, h);
		if (!seen && json_array_size(r->all_gaps) < 16)
			json_array_append(r->all_gaps, g);
	}
}

/* Findings whose claim or quote names what (case folded, ASCII). */
static int findings_naming(const struct run *r, const char *what)
{
	int i, n = 0;

	if (!what || !*what)
		return 0;
	for (i = 0; i < r->n_f; i++)
		n += strcasestr(r->f[i].claim, what) != NULL || strcasestr(r->f[i].quote, what) != NULL;
	return n;
}

/* Findings per sub-question and per entity of the brief, for reflect. */
static void coverage(const struct run *r, struct qbuf *u)
{
	json_t *e;
	size_t k;
	int i, n;

	if (json_array_size(r->sub_questions))
		qbuf_adds(u, "Findings per sub-question:\n");
	json_array_foreach(r->sub_questions, k, e) {
		for (i = 0, n = 0; i < r->n_f; i++)
			n += r->f[i].sub_question == (int)k + 1;
		qbuf_addf(u, "%zu. %s: %d\n", k + 1, json_string_value(e), n);
	}
	if (json_array_size(json_object_get(r->brief, "entities")))
		qbuf_adds(u, "Findings per entity or date to cover:\n");
	json_array_foreach(json_object_get(r->brief, "entities"), k, e)
		qbuf_addf(u, "- %s: %d\n", json_string_value(e), findings_naming(r, json_string_value(e)));
}

/*
 * One query per sub-question and per entity of the brief that no finding
 * covers yet, beside the model's (up to breadth new queries in all since
 * before): a gap the model forgets to search is searched anyway.
 */
static void fan_out(struct run *r, int before, int breadth)
{
	json_t *e;
	size_t k;
	int i, n;
	char q[420];

	json_array_foreach(r->sub_questions, k, e) {
		for (i = 0, n = 0; i < r->n_f; i++)
			n += r->f[i].sub_question == (int)k + 1;
		if (n == 0 && r->n_queries - before < breadth)
			add_query(r, json_string_value(e));
	}
	json_array_foreach(json_object_get(r->brief, "entities"), k, e)
		if (findings_naming(r, json_string_value(e)) == 0 && r->n_queries - before < breadth) {
			snprintf(q, sizeof(q), "%.200s %.200s", json_string_value(e),
				 json_string_value(json_object_get(r->brief, "time_window")) ?
				 json_string_value(json_object_get(r->brief, "time_window")) : "");
			add_query(r, q);
		}
}

/* New queries for what is still unknown; 0 when the loop should end. */
static int reflect(struct run *r, int breadth)
{
	static const char schema_text[] =
		"{\"type\":\"object\",\"required\":[\"queries\"],\"properties\":{\"gaps\":{\"type\":"
		"\"array\",\"items\":{\"type\":\"string\"}},\"queries\":{\"type\":\"array\",\"items\":"
		"{\"type\":\"string\"}}}}";
	struct llm_message m[2];
	struct llm_request req;
	struct llm_response resp;
	struct q_error err = {0};
	struct qbuf u, gaps, sys;
	json_t *schema, *q;
	size_t k;
	int i, before = r->n_queries, same_gaps;

	if (!r->env->llm || should_stop(r))
		return 0;
	qbuf_init(&u, 256 * 1024);
	qbuf_init(&sys, 4096);
	qbuf_addf(&u, "Research question: %s\n\nWhat we know so far (claims from sources):\n",
		  r->o->question);
	{
		long room = r->env->llm->cfg->context / 2;
		for (i = 0; i < r->n_f && i < 80; i++) {
			room -= 4 + llm_estimate_tokens(r->f[i].claim, strlen(r->f[i].claim));
			if (room < 0)
				break;
			qbuf_addf(&u, "- %s\n", r->f[i].claim);
		}
	}
	if (r->n_f == 0)
		qbuf_adds(&u, "(nothing yet)\n");
	qbuf_addc(&u, '\n');
	prompt_brief(&u, r->brief);
	coverage(r, &u);
	qbuf_adds(&u, "\nSearch queries already used:\n");
	for (i = 0; i < r->n_queries; i++)
		qbuf_addf(&u, "- %s\n", r->queries[i]);
	prompt_reflect_task(&u, breadth);
	prompt_system(&sys, PROMPT_REFLECT_ROLE, r->date);
	schema = json_loads(schema_text, 0, NULL);
	json_request(&req, m, qbuf_cstr(&sys), qbuf_cstr(&u), schema, "reflection");
	req.account = r->acct;
	req.max_tokens = run_reply_cap(r, RUN_JSON_MAX_TOKENS, m, 2);
	r->critical_calls++;
	if (llm_chat_json(r->env->llm, &req, &resp, &err)) {
		run_model_failed(r, "reflect", err.code, err.msg);
		json_decref(schema);
		qbuf_release(&u);
		qbuf_release(&sys);
		return 0;
	}
	qbuf_init(&gaps, 64 * 1024);
	json_array_foreach(json_object_get(resp.json, "gaps"), k, q)
		if (json_is_string(q))
			text_normalize(json_string_value(q), strlen(json_string_value(q)), &gaps),
				qbuf_addc(&gaps, '\n');
	same_gaps = gaps.len > 0 && r->gaps_seen && strcmp(r->gaps_seen, qbuf_cstr(&gaps)) == 0;
	json_decref(r->gaps);   /* as the model wrote them, for the limitations */
	r->gaps = string_list(json_object_get(resp.json, "gaps"), 8);
	remember_gaps(r, r->gaps);
	q_free(r->gaps_seen);
	r->gaps_seen = qbuf_detach(&gaps, NULL);
	json_array_foreach(json_object_get(resp.json, "queries"), k, q)
		if (json_is_string(q) && (int)k < breadth)
			add_query(r, json_string_value(q));
	if (!same_gaps && json_array_size(json_object_get(resp.json, "gaps")))
		fan_out(r, before, breadth);
	{
		json_t *qs = json_array();
		for (i = before; i < r->n_queries; i++)
			json_array_append_new(qs, json_string(r->queries[i]));
		run_emit(r, "reflect", json_pack("{s:O, s:o, s:b}", "gaps",
					     json_object_get(resp.json, "gaps") ?
					     json_object_get(resp.json, "gaps") : json_null(),
					     "queries", qs, "same_gaps", same_gaps));
	}
	llm_response_release(&resp);
	json_decref(schema);
	qbuf_release(&u);
	qbuf_release(&sys);
	if (same_gaps)
		return 0;
	return r->n_queries > before;
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
			 o->no_llm, "quick", o->quick, "allow_private", o->allow_private,
			 "ignore_robots", o->ignore_robots, "output", o->output, "format", o->format,
			 "length", o->length);
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
	for (i = 0; i < r->n_src; i++) {
		q_free(r->src[i].url);
		q_free(r->src[i].title);
		q_free(r->src[i].text);
		q_free(r->src[i].norm);
	}
	q_free(r->src);
	for (i = 0; i < r->n_read_keys; i++)
		q_free(r->read_keys[i]);
	q_free(r->read_keys);
	for (i = 0; i < r->n_f; i++) {
		q_free(r->f[i].claim);
		q_free(r->f[i].quote);
	}
	q_free(r->f);
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

/* The model's replies kept with a run whose record is not in env->store
 * (the run store on PostgreSQL), on a connection of their own: the model
 * calls run on the pool's threads, under the client's lock. */
static char *reply_load(void *ctx, long run_id, const char *key)
{
	char k[160], *value = NULL;

	snprintf(k, sizeof(k), "llm:%s", key);
	runstore_cache_get(ctx, run_id, k, &value, NULL);
	return value;
}

static void reply_save(void *ctx, long run_id, const char *key, const char *value)
{
	char k[160];

	snprintf(k, sizeof(k), "llm:%s", key);
	runstore_cache_put(ctx, run_id, k, value, NULL);   /* as in llm.c: no failure of the call */
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
	llm_account_set_budget(r->acct, r->o->budget_tokens, r->o->budget_usd, r->o->time_limit_ms);
	if (strcmp(runstore_backend(r->rs), "sqlite") != 0) {
		struct llm_reply_keeper k = {reply_load, reply_save, NULL};
		if ((rc = runstore_reopen(&r->reply_rs, r->rs, err)))
			return rc;
		k.ctx = r->reply_rs;
		llm_account_set_run_keeper(r->acct, r->env->llm, &k, r->id);
	} else {
		llm_account_set_run(r->acct, r->env->llm, r->env->store, r->id);   /* replies kept with the run */
	}
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
		return runstore_create(r->rs, r->o->question, *opts_json, RUN_RUNNING, NULL, &r->id, err);
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

static void save_report(struct run *r, const json_t *report, const char *md, enum run_status status)
{
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
		{"timeout", "timeouts"}, {"refused by the address policy", "refused by the address policy"},
		{"disallowed by robots.txt", "disallowed by robots.txt"}, {"HTTP error", "HTTP errors"},
		{"unreachable", "unreachable"}, {"without readable text", "without readable text"},
		{"other failure", "other failures"}};
	int searches = r->n_queries * (int)r->n_providers, k, any = 0;
	char why[400];
	size_t n = 0;

	if (r->results_found == 0) {
		if (r->searches_failed > 0)
			return q_error_set(err, Q_EEMPTY, "no source could be read: %d of %d searches "
					   "failed and the rest returned nothing; try other words or "
					   "check the search configuration with 'quarry doctor'",
					   r->searches_failed, searches);
		return q_error_set(err, Q_EEMPTY, "no source could be read: %d search%s returned "
				   "nothing; try other words, or other sources (the sources setting)", searches,
				   searches == 1 ? "" : "es");
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
		return q_error_set(err, Q_EEMPTY, "no source could be read: the %d search results "
				   "were all read before or not readable", r->results_found);
	/* Q_EPOLICY tells the front end that allowing private addresses
	 * would help; it names its own flag or setting. */
	return q_error_set(err, r->failed_by_kind[RUN_FAIL_POLICY] ? Q_EPOLICY : Q_EEMPTY,
			   "no source could be read: %s %d page%s failed (%s)%s",
			   r->sources_failed == 1 ? "the" : "all", r->sources_failed,
			   r->sources_failed == 1 ? "" : "s", why,
			   r->failed_by_kind[RUN_FAIL_POLICY] ? "; the policy keeps out private "
			   "and loopback addresses" : "");
}

/* ---- follow-up questions (ask --run ID) ---- */

/* Another run's record: its report (key NULL) or a value of its cache.
 * (To move behind runstore_get / runstore_cache_get with the rest.) */
static char *prior_get(struct run *r, long run_id, const char *key)
{
	sqlite3_stmt *st = NULL;
	char *v = NULL;
	int rc = key ? sqlite3_prepare_v2(r->env->store->db, "SELECT value FROM run_cache WHERE "
					  "run_id = ?1 AND key = ?2", -1, &st, NULL)
		     : sqlite3_prepare_v2(r->env->store->db, "SELECT report FROM runs WHERE id = ?1",
					  -1, &st, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run_id);
		if (key)
			sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			v = q_strdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return v;
}

/* Read source s of a prior run's report again: the page it kept (or the
 * corpus file). The new index, or -1. */
static int prior_source(struct run *r, long run_id, const json_t *s)
{
	const char *url = json_string_value(json_object_get(s, "url"));
	const char *title = json_string_value(json_object_get(s, "title"));
	int corpus = !strcmp(json_string_value(json_object_get(s, "kind")) ?
			     json_string_value(json_object_get(s, "kind")) : "", "corpus");
	char key[4200], *cached;
	json_t *rec;
	int idx = -1, plain = 0;

	if (!url)
		return -1;
	if (corpus) {
		struct qbuf t;
		char *t_title = NULL;
		qbuf_init(&t, (size_t)RESEARCH_SOURCE_MAX_BYTES);
		if (corpus_text(r, url, &t, &t_title, &plain) && t.len > 0 &&
		    (idx = add_source(r, url, title, qbuf_cstr(&t), t.len, 1, 0)) >= 0)
			r->src[idx].plain = plain;
		qbuf_release(&t);
		q_free(t_title);
		return idx;
	}
	snprintf(key, sizeof(key), "page:%.4000s", url);
	cached = prior_get(r, run_id, key);
	rec = cached ? json_loads(cached, 0, NULL) : NULL;
	q_free(cached);
	if (json_string_value(json_object_get(rec, "text")) &&
	    (idx = add_source(r, url, title, json_string_value(json_object_get(rec, "text")),
			      strlen(json_string_value(json_object_get(rec, "text"))), 0, 0)) >= 0) {
		char canon[URL_MAX_BYTES], k2[2048];
		source_meta(r, idx, rec);
		if (url_canonical(url, canon, sizeof(canon), NULL) == 0 &&
		    text_url_key(canon, k2, sizeof(k2)) == 0)
			remember_key(r, k2);   /* not fetched again when a search finds it */
	}
	json_decref(rec);
	return idx;
}

/*
 * Start a follow-up from run run_id: its sources read again from what it
 * kept, its findings whose quotes are still found in them. 0, or Q_EINVAL
 * with err set when the run has no report to follow up.
 */
static int load_prior(struct run *r, long run_id, struct q_error *err)
{
	char *text = prior_get(r, run_id, NULL);
	json_t *rep = text ? json_loads(text, 0, NULL) : NULL, *s, *f;
	int *map = NULL, n_src = 0, kept = 0;
	size_t i;

	q_free(text);
	if (!json_is_array(json_object_get(rep, "sources"))) {
		json_decref(rep);
		return q_error_set(err, Q_EINVAL, "run %ld has no report to follow up: 'quarry runs ls' "
				   "lists the runs, and 'quarry runs resume %ld' finishes one", run_id, run_id);
	}
	n_src = (int)json_array_size(json_object_get(rep, "sources"));
	map = q_calloc((size_t)n_src + 1, sizeof(int));
	json_array_foreach(json_object_get(rep, "sources"), i, s) {
		int k = (int)json_integer_value(json_object_get(s, "source"));
		if (map && k >= 1 && k <= n_src)
			map[k] = prior_source(r, run_id, s) + 1;
	}
	json_array_foreach(json_object_get(rep, "findings"), i, f) {
		int k = (int)json_integer_value(json_object_get(f, "source"));
		const char *claim = json_string_value(json_object_get(f, "claim"));
		const char *quote = json_string_value(json_object_get(f, "quote"));
		struct qbuf checked;
		int dropped;
		if (!map || k < 1 || k > n_src || !map[k] || !claim || !quote || r->n_f >= MAX_FINDINGS)
			continue;
		qbuf_init(&checked, 16000);
		if (text_quote_rows(r->src[map[k] - 1].norm, quote, &checked, &dropped) > 0 &&
		    run_add_finding(r, map[k] - 1, claim, 2000, qbuf_cstr(&checked), 16000, 0) >= 0)
			kept++;
		qbuf_release(&checked);
	}
	run_emit(r, "follow_up", json_pack("{s:I, s:i, s:i}", "from_run", (json_int_t)run_id,
					   "sources", r->n_src, "findings", kept));
	q_free(map);
	json_decref(rep);
	return 0;
}

/* The plan of a plan-only run as its report: stored, status "planned". */
static void plan_report(struct run *r, struct research_result *out)
{
	json_t *qs = json_array(), *rep;
	struct qbuf md;
	struct q_error err = {0};
	int k;

	for (k = 0; k < r->n_queries; k++)
		json_array_append_new(qs, json_string(r->queries[k]));
	rep = json_pack("{s:b, s:s, s:s, s:s, s:I, s:O, s:o, s:O, s:O, s:s}", "plan_only", 1, "title",
			r->o->question, "question", r->o->question, "lang", r->lang, "run",
			(json_int_t)r->id, "sub_questions", r->sub_questions, "queries", qs, "outline",
			r->outline, "brief", r->brief, "stopped", r->stopped);
	qbuf_init(&md, 4 * 1024 * 1024);
	if (rep && research_render(rep, "md", &md, &err) == 0)
		out->markdown = qbuf_detach(&md, NULL);
	qbuf_release(&md);
	/* Stored as interrupted (resume goes on from the plan): the run
	 * records have no status of their own for a plan. */
	save_report(r, rep, out->markdown ? out->markdown : "", RUN_INTERRUPTED);
	run_emit(r, "planned", NULL);
	snprintf(out->status, sizeof(out->status), "planned");
	out->report = rep;
}

/* Keep an edited plan (runs resume --plan FILE) with the run for plan(). */
static int keep_edited_plan(struct run *r, const char *text, struct q_error *err)
{
	json_error_t jerr;
	json_t *p = json_loads(text, 0, &jerr), *qs = json_object_get(p, "queries");
	char *clean;

	if (!json_is_object(p) || !json_is_array(qs) || json_array_size(qs) == 0) {
		json_decref(p);
		return q_error_set(err, Q_EINVAL, "the plan file is not a plan: it needs a JSON object "
				   "with \"queries\" (and may have \"sub_questions\", \"outline\" and "
				   "\"brief\"), as 'quarry research --plan-only -f json' writes (%s)",
				   json_is_object(p) ? "no queries" : jerr.text);
	}
	clean = json_dumps(p, JSON_COMPACT);
	if (clean)
		rcache_put(r, "edited_plan", clean);
	free(clean);
	json_decref(p);
	return 0;
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
	r.t0 = q_now_ms();
	{
		struct q_procmem m;   /* peak_rss_mb counts from here */
		if (q_procmem_read(&m) == 0)
			r.mem_hwm_start_kb = m.hwm_kb;
	}
	if (run_id <= 0) {
		opts_json = research_opts_to_json(opts_in);
		json_object_set_new(opts_json, "date", json_string(run_today().day));
		if (opts_in->plan_only) {   /* the plan's -o is not the report's */
			json_object_del(opts_json, "output");
			json_object_del(opts_json, "format");
		}
	}
	r.o = opts_in;
	r.rs = env->runs;
	if (!r.rs && !(rc = runstore_wrap(&r.own_rs, env->store, err)))
		r.rs = r.own_rs;
	if (!r.rs || (rc = open_run(&r, run_id, &opts_json, err)))
		goto fail_early;
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
			o.allow_private = 1;   /* given again to resume: kept with the run */
			json_object_set_new(opts_json, "allow_private", json_true());
			save_opts(&r, opts_json);
		}
		r.o = &o;
		if (opts_in && opts_in->plan_json && (rc = keep_edited_plan(&r, opts_in->plan_json, err)))
			goto fail_early;
	}
	out->run_id = r.id;
	set_owner(&r);
	if (run_id > 0)
		set_status(&r, RUN_RUNNING);
	depth = r.o->depth > 0 ? r.o->depth : 2;
	breadth = r.o->breadth > 0 ? r.o->breadth : 4;
	max_sources = r.o->max_sources > 0 ? r.o->max_sources : 20;
	if (env->llm && !r.o->quick && !r.o->no_llm && env->llm->cfg->context >= LARGE_CONTEXT_TOKENS) {
		/* A large context reads more for little money (docs/BENCHMARKS.md). */
		if (r.o->depth <= 0)
			depth = 3;
		if (r.o->max_sources <= 0)
			max_sources = 40;
	}
	if (r.o->quick) {
		depth = 1;
		if (r.o->max_sources <= 0)
			max_sources = 6;
		if (r.o->breadth <= 0)
			breadth = 2;
	}
	if (depth > RESEARCH_MAX_DEPTH)
		depth = RESEARCH_MAX_DEPTH;
	if (breadth > RESEARCH_MAX_BREADTH)
		breadth = RESEARCH_MAX_BREADTH;
	if (max_sources > RESEARCH_MAX_SOURCES)
		max_sources = RESEARCH_MAX_SOURCES;
	r.site_cap = max_sources / 5 > SITE_MIN_CAP ? max_sources / 5 : SITE_MIN_CAP;
	snprintf(r.lang, sizeof(r.lang), "%s", r.o->lang && *r.o->lang ? r.o->lang :
		 text_guess_lang(r.o->question));
	snprintf(r.date, sizeof(r.date), "%.15s",
		 json_string_value(json_object_get(opts_json, "date")) ?
		 json_string_value(json_object_get(opts_json, "date")) : "");
	if (r.o->no_llm)
		env->llm = NULL;
	if (env->llm && (rc = run_account_open(&r, err)))
		goto fail;

	if ((rc = search_providers(r.o->sources ? r.o->sources : "web,corpus", env->home, env->file,
				   r.providers, &r.n_providers, missing, sizeof(missing), err)))
		goto fail;
	{   /* an empty corpus alone is nothing to search */
		sqlite3_stmt *st = NULL;
		long docs = 1;
		size_t k;
		for (k = 0; k < r.n_providers; k++)
			if (r.providers[k].kind != SEARCH_CORPUS)
				break;
		if (k == r.n_providers && sqlite3_prepare_v2(env->store->db, "SELECT count(*) FROM "
				"documents", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			docs = (long)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (docs == 0) {
			rc = q_error_set(err, Q_EINVAL, "%s%sthe corpus is empty: add files with 'quarry "
					 "index add DIR'", missing, missing[0] ? "; and " : "");
			goto fail;
		}
	}
	run_emit(&r, run_id > 0 && r.seq > 0 ? "run_resumed" : "run_started",
	     json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "question", r.o->question, "lang", r.lang,
		       "mode", env->llm ? "model" : "extractive", "depth", depth, "breadth", breadth,
		       "max_sources", max_sources));
	if (missing[0])
		run_emit(&r, "warning", json_pack("{s:s, s:s}", "step", "search", "message", missing));

	if (r.o->follow_run > 0 && env->llm) {
		/* A follow-up: what the run had, then searches only for what it lacks. */
		r.sub_questions = json_array();
		r.outline = json_array();
		r.brief = json_object();
		if ((rc = load_prior(&r, r.o->follow_run, err)))
			goto fail;
		if (!reflect(&r, breadth))
			depth = 0;   /* the run's findings answer it: no search */
	} else if ((rc = plan(&r, breadth, err))) {
		goto fail;
	}
	if (r.o->plan_only && run_id <= 0) {
		plan_report(&r, out);
		run_account_close(&r, out);
		json_decref(opts_json);
		run_free(&r);
		return 0;
	}
	for (round = 0, i = 0; round < depth && !(round == 0 ? first_round_barred(&r) :
						   should_stop(&r)); round++) {
		int n_cand, first, want;
		struct candidate *cv;
		int q0 = i;
		i = r.n_queries;
		cv = gather(&r, q0, r.o->quick ? 5 : 8, &n_cand);
		want = max_sources - r.n_src;
		if (env->llm && depth > 1 && round < depth - 1 &&
		    want > (max_sources + depth - 1) / depth)
			want = (max_sources + depth - 1) / depth;   /* leave room for later rounds */
		first = read_sources(&r, cv, n_cand, want, round);
		candidates_free(cv, n_cand);
		note(&r, first);
		if (round + 1 >= depth || r.n_src >= max_sources || !reflect(&r, breadth)) {
			if (round + 1 < depth && !r.stopped[0] && env->llm)
				run_emit(&r, "loop_done", json_pack("{s:s}", "reason", r.n_src >= max_sources ?
					"source limit reached" : "no new gaps or queries"));
			break;
		}
	}
	stop_if_cancelled(&r);   /* searches and fetches a cancel cut short are no failure */
	if (r.n_src == 0 && r.searches_failed > 0 && !r.stopped[0]) {
		/* Web searches only: the corpus never fails, so an empty corpus beside
		 * a dead SearXNG must not turn into an empty report. */
		int searches = 0;
		size_t k;
		for (k = 0; k < r.n_providers; k++)
			searches += r.providers[k].kind != SEARCH_CORPUS ? r.n_queries : 0;
		if (r.searches_failed >= searches) {
			rc = q_error_set(err, Q_ENET, "every search failed (see the messages above); check "
					 "the search configuration with 'quarry doctor'");
			goto fail;
		}
	}
	if (r.n_src == 0 && r.stop == RUN_CANCELLED) {
		rc = q_error_set(err, Q_ETIMEOUT, "cancelled before any source was read");
		set_status(&r, RUN_CANCELLED);
		snprintf(out->status, sizeof(out->status), "%s", run_status_name(RUN_CANCELLED));
		run_emit(&r, "run_cancelled", NULL);
		goto fail_keep_status;
	}
	if (r.n_src == 0 && r.stop != RUN_INTERRUPTED) {
		/* A "report" of nothing would mislead, budget or not. */
		if (out_of_time(&r))
			rc = q_error_set(err, Q_ETIMEOUT, "no source could be read: the time limit "
					 "(%ld ms) ran out before any source was read; allow more time "
					 "with the time_limit setting", r.o->time_limit_ms);
		else
			rc = nothing_read(&r, err);
		goto fail;
	}

	/* Write. A budget that ran out still gets the best report we can make. */
	should_stop(&r);   /* a Ctrl-C during the last step */
	if (r.stop == RUN_INTERRUPTED && run_id >= 0) {
		set_status(&r, RUN_INTERRUPTED);
		run_emit(&r, "run_interrupted", NULL);
		snprintf(out->status, sizeof(out->status), "%s", run_status_name(RUN_INTERRUPTED));
		rc = q_error_set(err, Q_ETIMEOUT, "interrupted; resume with 'quarry runs resume %ld'", r.id);
		goto fail_keep_status;
	}
	if (env->llm && r.n_f > 0) {
		ids = q_calloc((size_t)r.n_f, sizeof(int));
		n_ids = ids ? compose_pick_findings(&r, ids, WRITE_MAX_FINDINGS) : 0;
		if (r.stop == RUN_RUNNING || (r.stop == RUN_STOPPED &&
		    !llm_account_spent(r.acct, env->llm, missing, sizeof(missing))))
			body = compose_write(&r, ids, n_ids);
		mode = "model";
		if (!body) {
			body = compose_notes(&r, ids, &n_ids);
			mode = "notes";
		}
	} else {
		body = compose_brief(&r, &ids, &n_ids);
		mode = "extractive";
		if (body && n_ids == 0) {   /* a brief of nothing would mislead */
			if (r.no_content_words)
				rc = q_error_set(err, Q_EEMPTY, "nothing relevant found for \"%.200s\" "
						 "(the question has no content words, only words such "
						 "as \"the\" or \"what\"); ask about a thing by name",
						 r.o->question);
			else
				rc = q_error_set(err, Q_EEMPTY, "nothing relevant found for \"%.200s\" in "
						 "%d document%s read: no passage shares enough of the "
						 "question's words; try other words, or other sources "
						 "(the sources setting)", r.o->question, r.n_src, r.n_src == 1 ? "" : "s");
			goto fail;
		}
		if (env->llm && r.n_src > 0) {
			char say[300];
			if (r.notes_answered > 0)
				snprintf(say, sizeof(say), "no finding survived the quote check; the "
					 "report is an extractive brief");
			else   /* "survived" would say notes were taken and failed the check */
				snprintf(say, sizeof(say), "no note was taken because %.200s; the report "
					 "is an extractive brief", r.stopped[0] ? r.stopped :
					 "every note call failed (see the messages above)");
			run_emit(&r, "warning", json_pack("{s:s, s:s}", "step", "note", "message", say));
		}
	}
	if (r.stop == RUN_INTERRUPTED) {
		set_status(&r, RUN_INTERRUPTED);
		snprintf(out->status, sizeof(out->status), "%s", run_status_name(RUN_INTERRUPTED));
		rc = q_error_set(err, Q_ETIMEOUT, "interrupted; resume with 'quarry runs resume %ld'", r.id);
		goto fail_keep_status;
	}
	if (env->llm && !r.stopped[0]) {   /* a budget can bind without stopping the run */
		struct llm_totals t = llm_account_totals(r.acct);
		if (t.budget_capped > 0) {
			char msg[160];
			snprintf(msg, sizeof(msg), "%ld model replies were capped to fit the %s budget",
				 t.budget_capped, r.o->budget_tokens > 0 ? "token" : "money");
			run_emit(&r, "warning", json_pack("{s:s, s:s}", "step", "budget", "message", msg));
		}
	}
	report = body ? compose_report(&r, body, ids, n_ids, mode) : NULL;
	if (!report) {
		rc = q_error_set(err, Q_ENOMEM, "out of memory composing the report");
		goto fail;
	}
	qbuf_init(&md, 64 * 1024 * 1024);
	if ((rc = research_render(report, "md", &md, err))) {
		qbuf_release(&md);
		goto fail;
	}
	if (r.stop == RUN_RUNNING)
		r.stop = RUN_DONE;
	snprintf(out->status, sizeof(out->status), "%s", run_status_name(r.stop));
	save_report(&r, report, qbuf_cstr(&md), r.stop);
	{
		json_t *v = json_object_get(report, "verification");
		run_emit(&r, "report", json_pack("{s:s, s:s, s:O, s:O}", "status", out->status, "mode", mode,
					     "verification", v, "figures",
					     json_object_get(report, "figures")));
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
