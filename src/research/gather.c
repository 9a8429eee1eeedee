/*
 * gather.c - the gather and select steps of a run (see run.c): every new
 * query on every provider (in the languages the run searches), each
 * outcome cached with the run, the hits merged into candidates that are
 * deduplicated by key, ranked and capped per site.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/utf8.h"
#include "../net/url.h"
#include "run_int.h"
#include "text.h"

/* ---- gather and select ---- */

#define GATHER_PATH_MAX_BYTES (64 * 1024) /* "hex:" and a non-UTF-8 path: PATH_MAX (4096) doubled fits */

int run_seen_key(struct run *r, const char *key)
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
	qbuf_init(&b, GATHER_PATH_MAX_BYTES);
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
	else if (url_canonical(url, canon, sizeof(canon), NULL) || /* no trackers shown */
		 text_url_key((url = canon), key, sizeof(key)))
		return;
	for (i = 0; i < *n; i++)
		if (strcmp((*cv)[i].key, key) == 0) {
			(*cv)[i].score += 1.0 / (60.0 + rank); /* reciprocal rank fusion */
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

/* The search language of query q: the user's --lang, else the one q is
 * written in, NULL when that is unclear. */
static const char *query_lang(const struct run *r, const char *q)
{
	const char *l;

	if (r->opts->lang && *r->opts->lang)
		return r->lang;
	l = text_guess_lang(q);
	return strcmp(l, "und") == 0 ? NULL : l;
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

	if (!lang || !sub || !idx || !done || !part || (r->opts->lang && *r->opts->lang)) {
		search_many(r->providers, np, qs, (size_t)nq, per_query, r->lang, &r->env->cancelled, out);
		goto out;
	}
	for (i = 0; i < nq; i++)
		lang[i] = query_lang(r, qs[i]);
	for (i = 0; i < nq; i++) {
		if (done[i])
			continue;
		for (j = i, m = 0; j < nq; j++)
			if (!done[j] &&
			    (lang[i] == lang[j] || (lang[i] && lang[j] && !strcmp(lang[i], lang[j])))) {
				done[j] = 1;
				idx[m] = j;
				sub[m++] = qs[j];
			}
		search_many(r->providers, np, sub, (size_t)m, per_query, lang[i], &r->env->cancelled, part);
		for (j = 0; j < m; j++)
			for (k = 0; k < np; k++)
				out[(size_t)idx[j] * np + k] = part[(size_t)j * np + k]; /* moved, not copied */
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
	char(*host)[256] = q_calloc((size_t)(n ? n : 1), sizeof(*host)), h[256];
	struct candidate *sorted = q_calloc((size_t)(n ? n : 1), sizeof(*sorted));
	int *over = q_calloc((size_t)(n ? n : 1), sizeof(int)), i, j, seen, m = 0;

	if (n == 0 || !host || !sorted || !over || r->site_cap <= 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (cv[i].corpus)
			continue;
		run_site_of(cv[i].url, host[i], sizeof(host[i]));
		for (j = 0, seen = 0; j < r->n_sources; j++)
			if (!r->sources[j].corpus) {
				run_site_of(r->sources[j].url, h, sizeof(h));
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
struct candidate *run_gather(struct run *r, int first, int per_query, int *n_out)
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
				need[i * (int)np + (int)k] = (cached = run_rcache_get(r, key)) == NULL;
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
				cached = run_rcache_get(r, key);
				cj = cached ? json_loads(cached, 0, &jerr) : NULL;
				q_free(cached);
			} else {
				cj = outcome_to_json(o);
				if (o->rc == 0) { /* failures are tried again on resume */
					char *s = json_dumps(cj, JSON_COMPACT);
					if (s)
						run_rcache_put(r, key, s);
					free(s);
				}
			}
			if (json_integer_value(json_object_get(cj, "rc")) != 0) {
				r->searches_failed++;
				run_emit(r, "search_failed",
					 json_pack("{s:s, s:s, s:s}", "provider", r->providers[k].name,
						   "query", qs[i], "message",
						   json_string_value(json_object_get(cj, "msg"))
							   ? json_string_value(json_object_get(cj, "msg"))
							   : ""));
			} else {
				res = json_object_get(cj, "results");
				r->results_found += (int)json_array_size(res);
				run_emit(r, "search",
					 json_pack("{s:s, s:s, s:i, s:s?}", "provider", r->providers[k].name,
						   "query", qs[i], "results", (int)json_array_size(res),
						   "lang", query_lang(r, qs[i])));
				json_array_foreach (res, j, it)
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

void run_candidates_free(struct candidate *cv, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		q_free(cv[i].url);
		q_free(cv[i].title);
		q_free(cv[i].snippet);
	}
	q_free(cv);
}

/* The host of url without "www." into out ("" when it has none). */
void run_site_of(const char *url, char *out, size_t size)
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
