/*
 * reflect.c - the reflect step of a run (see run.c): the model reads what
 * the findings cover and names the gaps left, which become the next
 * round's queries; the same gaps twice, or none, end the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "prompts.h"
#include "run_int.h"
#include "text.h"

/* ---- reflect ---- */

#define REFLECT_PROMPT_MAX_BYTES (256 * 1024) /* the question and the claims so far (not the quotes) */
#define REFLECT_GAPS_MAX_BYTES (64 * 1024)    /* the gaps named, one line each */

/* Every gap the run looked into, once, for the follow-up questions. */
static void remember_gaps(struct run *r, const json_t *gaps)
{
	json_t *g, *h;
	size_t i, j;
	int seen;

	if (!r->all_gaps)
		r->all_gaps = json_array();
	json_array_foreach (gaps, i, g) {
		seen = 0;
		json_array_foreach (r->all_gaps, j, h)
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
	for (i = 0; i < r->n_findings; i++)
		n += strcasestr(r->findings[i].claim, what) != NULL ||
		     strcasestr(r->findings[i].quote, what) != NULL;
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
	json_array_foreach (r->sub_questions, k, e) {
		for (i = 0, n = 0; i < r->n_findings; i++)
			n += r->findings[i].sub_question == (int)k + 1;
		qbuf_addf(u, "%zu. %s: %d\n", k + 1, json_string_value(e), n);
	}
	if (json_array_size(json_object_get(r->brief, "entities")))
		qbuf_adds(u, "Findings per entity or date to cover:\n");
	json_array_foreach (json_object_get(r->brief, "entities"), k, e)
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

	json_array_foreach (r->sub_questions, k, e) {
		for (i = 0, n = 0; i < r->n_findings; i++)
			n += r->findings[i].sub_question == (int)k + 1;
		if (n == 0 && r->n_queries - before < breadth)
			run_add_query(r, json_string_value(e));
	}
	json_array_foreach (json_object_get(r->brief, "entities"), k, e)
		if (findings_naming(r, json_string_value(e)) == 0 && r->n_queries - before < breadth) {
			snprintf(q, sizeof(q), "%.200s %.200s", json_string_value(e),
				 json_string_value(json_object_get(r->brief, "time_window"))
					 ? json_string_value(json_object_get(r->brief, "time_window"))
					 : "");
			run_add_query(r, q);
		}
}

/* New queries for what is still unknown; 0 when the loop should end. */
int run_reflect(struct run *r, int breadth)
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

	if (!r->env->llm || run_should_stop(r))
		return 0;
	qbuf_init(&u, REFLECT_PROMPT_MAX_BYTES);
	qbuf_init(&sys, RUN_SYSTEM_MAX_BYTES);
	qbuf_addf(&u, "Research question: %s\n\nWhat we know so far (claims from sources):\n",
		  r->opts->question);
	{
		long room = llm_client_config(r->env->llm)->context / 2;
		for (i = 0; i < r->n_findings && i < 80; i++) {
			room -= 4 + llm_estimate_tokens(r->findings[i].claim, strlen(r->findings[i].claim));
			if (room < 0)
				break;
			qbuf_addf(&u, "- %s\n", r->findings[i].claim);
		}
	}
	if (r->n_findings == 0)
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
	run_json_request(&req, m, qbuf_cstr(&sys), qbuf_cstr(&u), schema, "reflection");
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
	qbuf_init(&gaps, REFLECT_GAPS_MAX_BYTES);
	json_array_foreach (json_object_get(resp.json, "gaps"), k, q)
		if (json_is_string(q))
			text_normalize(json_string_value(q), strlen(json_string_value(q)), &gaps),
				qbuf_addc(&gaps, '\n');
	same_gaps = gaps.len > 0 && r->gaps_seen && strcmp(r->gaps_seen, qbuf_cstr(&gaps)) == 0;
	json_decref(r->gaps); /* as the model wrote them, for the limitations */
	r->gaps = run_string_list(json_object_get(resp.json, "gaps"), 8);
	remember_gaps(r, r->gaps);
	q_free(r->gaps_seen);
	r->gaps_seen = qbuf_detach(&gaps, NULL);
	json_array_foreach (json_object_get(resp.json, "queries"), k, q)
		if (json_is_string(q) && (int)k < breadth)
			run_add_query(r, json_string_value(q));
	if (!same_gaps && json_array_size(json_object_get(resp.json, "gaps")))
		fan_out(r, before, breadth);
	{
		json_t *qs = json_array();
		for (i = before; i < r->n_queries; i++)
			json_array_append_new(qs, json_string(r->queries[i]));
		run_emit(r, "reflect",
			 json_pack("{s:O, s:o, s:b}", "gaps",
				   json_object_get(resp.json, "gaps") ? json_object_get(resp.json, "gaps")
								      : json_null(),
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
