/*
 * plan.c - the plan step of a run (see run.c): the model turns the question
 * into a brief, sub-questions and search queries; without a model, or when
 * the plan call fails, the question itself is the one query. Also the
 * plan-only report and the edited plan that `runs resume --plan` keeps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "prompts.h"
#include "run_int.h"
#include "text.h"

/* ---- plan ---- */

#define PLAN_QUERY_NORM_MAX_BYTES 1024    /* a query normalised: queries over 400 bytes are not kept */
#define PLAN_PROMPT_MAX_BYTES (64 * 1024) /* the plan prompt: the question and the instructions */

void run_add_query(struct run *r, const char *q)
{
	struct qbuf a, b;
	int i, dup = 0;

	if (!q || !*q || r->n_queries >= MAX_QUERIES || strlen(q) > 400)
		return;
	qbuf_init(&a, PLAN_QUERY_NORM_MAX_BYTES);
	text_normalize(q, strlen(q), &a);
	for (i = 0; i < r->n_queries && !dup; i++) {
		qbuf_init(&b, PLAN_QUERY_NORM_MAX_BYTES);
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
	static const char *const names[][2] = {{"en", "English"},
					       {"zh", "Chinese (简体中文)"},
					       {"ja", "Japanese (日本語)"},
					       {"ko", "Korean (한국어)"},
					       {"fr", "French (français)"},
					       {"de", "German (Deutsch)"},
					       {"es", "Spanish (español)"},
					       {"pt", "Portuguese (português)"},
					       {"it", "Italian (italiano)"},
					       {"ru", "Russian (русский)"},
					       {"und", "the language the question is written in"}};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(lang, names[i][0]) == 0)
			return names[i][1];
	return lang; /* a --lang tag the model will know */
}

long run_reply_cap(const struct run *r, long want, const struct llm_message *m, size_t n)
{
	long room = llm_client_config(r->env->llm)->context - llm_estimate_prompt(m, n) - 16;

	if (room < want)
		want = room;
	return want >= REPLY_MIN_TOKENS ? want : 0;
}

/* A system + user request for a JSON reply checked against schema. */
void run_json_request(struct llm_request *req, struct llm_message m[2], const char *system, const char *user,
		      json_t *schema, const char *name)
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
json_t *run_string_list(const json_t *from, size_t max)
{
	json_t *a = json_array(), *v;
	size_t i;

	json_array_foreach (from, i, v)
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
	json_object_set_new(r->brief, "sections", run_string_list(json_object_get(b, "sections"), 10));
	json_object_set_new(r->brief, "entities", run_string_list(json_object_get(b, "entities"), 16));
	json_array_foreach (json_object_get(b, "tables"), i, t) {
		const char *title = json_string_value(json_object_get(t, "title"));
		if (json_array_size(tables) < 4 && json_array_size(json_object_get(t, "columns")))
			json_array_append_new(tables,
					      json_pack("{s:s, s:o}", "title",
							title && strlen(title) < 300 ? title : "", "columns",
							run_string_list(json_object_get(t, "columns"), 10)));
	}
	json_object_set_new(r->brief, "tables", tables);
}

/* 0, or the model's error when it cannot be used at all (no point going on). */
int run_plan(struct run *r, int breadth, struct q_error *fatal)
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
		run_add_query(r, r->opts->question);
		return 0;
	}
	qbuf_init(&u, PLAN_PROMPT_MAX_BYTES);
	qbuf_init(&sys, RUN_SYSTEM_MAX_BYTES);
	prompt_plan(&u, r->opts->question, breadth, run_lang_name(r->lang));
	prompt_system(&sys, PROMPT_PLAN_ROLE, r->date);
	schema = json_loads(schema_text, 0, NULL);
	run_json_request(&req, m, qbuf_cstr(&sys), qbuf_cstr(&u), schema, "plan");
	req.account = r->acct;
	req.max_tokens = run_reply_cap(r, RUN_JSON_MAX_TOKENS, m, 2);
	/* The question itself is always searched: a planner's queries may all miss. */
	run_add_query(r, r->opts->question);
	if ((edited = run_rcache_get(r, "edited_plan")) != NULL) { /* runs resume --plan FILE */
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
		json_array_foreach (json_object_get(resp.json, "sub_questions"), i, q)
			if (json_is_string(q) && json_array_size(r->sub_questions) < (size_t)breadth)
				json_array_append(r->sub_questions, q);
		json_array_foreach (json_object_get(resp.json, "outline"), i, q)
			if (json_is_string(q) && json_array_size(r->outline) < 8)
				json_array_append(r->outline, q);
		json_array_foreach (json_object_get(resp.json, "queries"), i, q)
			if (json_is_string(q) && (int)i < breadth)
				run_add_query(r, json_string_value(q));
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
		run_add_query(r, r->opts->question);
	run_emit(r, "plan",
		 json_pack("{s:O, s:O, s:O}", "sub_questions", r->sub_questions, "outline", r->outline,
			   "brief", r->brief));
	{ /* the queries, in their own field */
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

/* The plan of a plan-only run as its report: stored, status "planned". */
void run_plan_report(struct run *r, struct research_result *out)
{
	json_t *qs = json_array(), *rep;
	struct qbuf md;
	struct q_error err = {0};
	int k;

	for (k = 0; k < r->n_queries; k++)
		json_array_append_new(qs, json_string(r->queries[k]));
	rep = json_pack("{s:b, s:s, s:s, s:s, s:I, s:O, s:o, s:O, s:O, s:s}", "plan_only", 1, "title",
			r->opts->question, "question", r->opts->question, "lang", r->lang, "run",
			(json_int_t)r->id, "sub_questions", r->sub_questions, "queries", qs, "outline",
			r->outline, "brief", r->brief, "stopped", r->stopped);
	qbuf_init(&md, RESEARCH_PLAN_MAX_BYTES);
	if (rep && research_render(rep, "md", &md, &err) == 0)
		out->markdown = qbuf_detach(&md, NULL);
	qbuf_release(&md);
	/* Stored as interrupted (resume goes on from the plan): the run
	 * records have no status of their own for a plan. */
	run_save_report(r, rep, out->markdown ? out->markdown : "", RUN_INTERRUPTED);
	run_emit(r, "planned", NULL);
	snprintf(out->status, sizeof(out->status), "planned");
	out->report = rep;
}

/* Keep an edited plan (runs resume --plan FILE) with the run for run_plan(). */
int run_keep_edited_plan(struct run *r, const char *text, struct q_error *err)
{
	json_error_t jerr;
	json_t *p = json_loads(text, 0, &jerr), *qs = json_object_get(p, "queries");
	char *clean;

	if (!json_is_object(p) || !json_is_array(qs) || json_array_size(qs) == 0) {
		json_decref(p);
		return q_error_set(err, Q_EINVAL,
				   "the plan file is not a plan: it needs a JSON object "
				   "with \"queries\" (and may have \"sub_questions\", \"outline\" and "
				   "\"brief\"), as 'quarry research --plan-only -f json' writes (%s)",
				   json_is_object(p) ? "no queries" : jerr.text);
	}
	clean = json_dumps(p, JSON_COMPACT);
	if (clean)
		run_rcache_put(r, "edited_plan", clean);
	free(clean);
	json_decref(p);
	return 0;
}
