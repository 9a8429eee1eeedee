/*
 * followup.c - follow-up questions (`ask --run ID`): the earlier run's
 * sources read again from what it kept, and its findings whose quotes are
 * still found in them, so the follow-up searches only for what they lack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../net/url.h"
#include "run_int.h"
#include "text.h"

/* ---- follow-up questions (ask --run ID) ---- */

/* Another run's record: its report (key NULL) or a value of its cache. */
static char *prior_get(struct run *r, long run_id, const char *key)
{
	struct run_record rec;
	struct q_error err = {0};
	char *v = NULL;

	if (key) {
		if (runstore_cache_get(r->rs, run_id, key, &v, &err))
			return NULL;
		return v;
	}
	if (runstore_get(r->rs, run_id, 1, &rec, &err))
		return NULL;
	if (rec.report)
		v = json_dumps(rec.report, JSON_COMPACT);
	run_record_release(&rec);
	return v;
}

/* Read source s of a prior run's report again: the page it kept (or the
 * corpus file). The new index, or -1. */
static int prior_source(struct run *r, long run_id, const json_t *s)
{
	const char *url = json_string_value(json_object_get(s, "url"));
	const char *title = json_string_value(json_object_get(s, "title"));
	int corpus = !strcmp(json_string_value(json_object_get(s, "kind"))
				     ? json_string_value(json_object_get(s, "kind"))
				     : "",
			     "corpus");
	char key[4200], *cached;
	json_t *rec;
	int idx = -1, plain = 0;

	if (!url)
		return -1;
	if (corpus) {
		struct qbuf t;
		char *t_title = NULL;
		qbuf_init(&t, (size_t)RESEARCH_SOURCE_MAX_BYTES);
		if (run_corpus_text(r, url, &t, &t_title, &plain) && t.len > 0 &&
		    (idx = run_add_source(r, url, title, qbuf_cstr(&t), t.len, 1, 0)) >= 0)
			r->sources[idx].plain = plain;
		qbuf_release(&t);
		q_free(t_title);
		return idx;
	}
	snprintf(key, sizeof(key), "page:%.4000s", url);
	cached = prior_get(r, run_id, key);
	rec = cached ? json_loads(cached, 0, NULL) : NULL;
	q_free(cached);
	if (json_string_value(json_object_get(rec, "text")) &&
	    (idx = run_add_source(r, url, title, json_string_value(json_object_get(rec, "text")),
				  strlen(json_string_value(json_object_get(rec, "text"))), 0, 0)) >= 0) {
		char canon[URL_MAX_BYTES], k2[2048];
		run_source_meta(r, idx, rec);
		if (url_canonical(url, canon, sizeof(canon), NULL) == 0 &&
		    text_url_key(canon, k2, sizeof(k2)) == 0)
			run_remember_key(r, k2); /* not fetched again when a search finds it */
	}
	json_decref(rec);
	return idx;
}

/*
 * Start a follow-up from run run_id: its sources read again from what it
 * kept, its findings whose quotes are still found in them. 0, or Q_EINVAL
 * with err set when the run has no report to follow up.
 */
int run_load_prior(struct run *r, long run_id, struct q_error *err)
{
	char *text = prior_get(r, run_id, NULL);
	json_t *rep = text ? json_loads(text, 0, NULL) : NULL, *s, *f;
	int *map = NULL, n_src = 0, kept = 0;
	size_t i;

	q_free(text);
	if (!json_is_array(json_object_get(rep, "sources"))) {
		json_decref(rep);
		return q_error_set(err, Q_EINVAL,
				   "run %ld has no report to follow up: 'quarry runs ls' "
				   "lists the runs, and 'quarry runs resume %ld' finishes one",
				   run_id, run_id);
	}
	n_src = (int)json_array_size(json_object_get(rep, "sources"));
	map = q_calloc((size_t)n_src + 1, sizeof(int));
	json_array_foreach (json_object_get(rep, "sources"), i, s) {
		int k = (int)json_integer_value(json_object_get(s, "source"));
		if (map && k >= 1 && k <= n_src)
			map[k] = prior_source(r, run_id, s) + 1;
	}
	json_array_foreach (json_object_get(rep, "findings"), i, f) {
		int k = (int)json_integer_value(json_object_get(f, "source"));
		const char *claim = json_string_value(json_object_get(f, "claim"));
		const char *quote = json_string_value(json_object_get(f, "quote"));
		struct qbuf checked;
		int dropped;
		if (!map || k < 1 || k > n_src || !map[k] || !claim || !quote || r->n_findings >= MAX_FINDINGS)
			continue;
		qbuf_init(&checked, RUN_QUOTE_MAX_BYTES);
		if (text_quote_rows(r->sources[map[k] - 1].norm, quote, &checked, &dropped) > 0 &&
		    run_add_finding(r, map[k] - 1, claim, 2000, qbuf_cstr(&checked), 16000, 0) >= 0)
			kept++;
		qbuf_release(&checked);
	}
	run_emit(r, "follow_up",
		 json_pack("{s:I, s:i, s:i}", "from_run", (json_int_t)run_id, "sources", r->n_sources,
			   "findings", kept));
	q_free(map);
	json_decref(rep);
	return 0;
}
