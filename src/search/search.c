/*
 * search.c - web search providers and the corpus (see search.h).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/pool.h"
#include "../core/qbuf.h"

#define SEARCH_URL_MAX_BYTES 16384   /* a provider's address with the escaped query */
#define SEARCH_POST_MAX_BYTES 16384  /* a JSON request body: the query and a few options */
#define SEARCH_HEADER_MAX_BYTES 8192 /* the key's header line */
#include "../core/version.h"
#include "../index/corpus.h"
#include "../index/store.h"
#include "../net/http.h"
#include "search.h"

static int add_web(struct search_provider *out, size_t *n, enum search_kind kind, const char *name,
		   const char *url, const char *key_env, const char *key)
{
	struct search_provider *p = &out[*n];

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->url, sizeof(p->url), "%s", url);
	snprintf(p->key_env, sizeof(p->key_env), "%s", key_env ? key_env : "");
	if (key && !(p->key = q_strdup(key)))
		return Q_ENOMEM;
	(*n)++;
	return 0;
}

static int wants(const char *sources, const char *name, int web)
{
	const char *p = sources;
	size_t n = strlen(name);

	while (p && *p) {
		size_t k = strcspn(p, ",");
		if ((k == n && strncmp(p, name, n) == 0) || (web && k == 3 && strncmp(p, "web", 3) == 0))
			return 1;
		p += k + (p[k] == ',');
	}
	return 0;
}

int search_providers(const char *sources, const char *home, const struct config *file,
		     struct search_provider *out, size_t *n, char *missing, size_t missing_size,
		     struct q_error *err)
{
	static const struct {
		enum search_kind kind;
		const char *name, *key_env, *key_cfg, *url_env, *url_cfg, *url_default;
	} web[] = {
		{SEARCH_SEARXNG, "searxng", NULL, NULL, "QUARRY_SEARXNG_URL", "searxng_url", NULL},
		{SEARCH_BRAVE, "brave", "QUARRY_BRAVE_API_KEY", "brave_api_key_env", "QUARRY_BRAVE_URL",
		 "brave_url", "https://api.search.brave.com/res/v1/web/search"},
		{SEARCH_TAVILY, "tavily", "QUARRY_TAVILY_API_KEY", "tavily_api_key_env", "QUARRY_TAVILY_URL",
		 "tavily_url", "https://api.tavily.com/search"},
		{SEARCH_SERPER, "serper", "QUARRY_SERPER_API_KEY", "serper_api_key_env", "QUARRY_SERPER_URL",
		 "serper_url", "https://google.serper.dev/search"},
	};
	size_t i;
	int want_web = 0, rc;
	const char *p;

	*n = 0;
	if (missing_size)
		missing[0] = '\0';
	for (p = sources; *p;) { /* every name must be one we know */
		size_t k = strcspn(p, ","), j;
		int known = (k == 3 && !strncmp(p, "web", 3)) || (k == 6 && !strncmp(p, "corpus", 6));
		for (j = 0; j < 4; j++)
			known |= k == strlen(web[j].name) && !strncmp(p, web[j].name, k);
		if (!known && k > 0)
			return q_error_set(err, Q_EINVAL,
					   "unknown source '%.*s': use web, corpus, searxng, "
					   "brave, tavily or serper, separated by commas",
					   (int)k, p);
		p += k + (p[k] == ',');
	}
	for (i = 0; i < 4; i++) {
		const char *url, *key = NULL, *kenv = web[i].key_env;
		if (!wants(sources, web[i].name, 1))
			continue;
		want_web = 1;
		url = config_setting(file, web[i].url_env, web[i].url_cfg);
		if (!url)
			url = web[i].url_default;
		if (web[i].key_env) {
			const char *named = config_get(file, web[i].key_cfg);
			key = config_env(file, web[i].key_env);
			if ((!key || !*key) && named) {
				key = config_env(file, named);
				kenv = named;
			}
			if (!key || !*key)
				continue;
		}
		if (!url)
			continue;
		if ((rc = add_web(out, n, web[i].kind, web[i].name, url, kenv, key))) {
			search_providers_release(out, *n);
			return q_error_set(err, rc, "out of memory");
		}
	}
	if (want_web && *n == 0 && missing_size)
		snprintf(missing, missing_size,
			 "no web search configured: set QUARRY_SEARXNG_URL (a SearXNG instance, no key), "
			 "QUARRY_BRAVE_API_KEY, QUARRY_TAVILY_API_KEY or QUARRY_SERPER_API_KEY");
	if (wants(sources, "corpus", 0)) {
		struct search_provider *c = &out[*n];
		memset(c, 0, sizeof(*c));
		c->kind = SEARCH_CORPUS;
		snprintf(c->name, sizeof(c->name), "corpus");
		snprintf(c->url, sizeof(c->url), "%s", home ? home : "");
		(*n)++;
	}
	if (*n == 0)
		return q_error_set(
			err, Q_EINVAL,
			"%s%sno source to search: configure web search or "
			"index your files ('quarry index add DIR') and include corpus in the sources setting",
			missing_size ? missing : "", missing_size && *missing ? "; " : "");
	return 0;
}

void search_providers_release(struct search_provider *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i].key) {
			explicit_bzero(p[i].key, strlen(p[i].key));
			q_free(p[i].key);
			p[i].key = NULL;
		}
	}
}

/* ---- replies ---- */

static int add_result(struct search_outcome *o, const char *url, const char *title, const char *snippet, int max)
{
	struct search_result *r;

	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) || (int)o->n >= max)
		return 0;
	r = q_reallocarray(o->results, o->n + 1, sizeof(*r));
	if (!r)
		return Q_ENOMEM;
	o->results = r;
	r = &o->results[o->n];
	memset(r, 0, sizeof(*r));
	r->url = q_strndup(url, 4096);
	r->title = q_strndup(title ? title : "", 1024);
	r->snippet = q_strndup(snippet ? snippet : "", 4096);
	if (!r->url || !r->title || !r->snippet) {
		q_free(r->url);
		q_free(r->title);
		q_free(r->snippet);
		return Q_ENOMEM;
	}
	r->rank = (int)o->n + 1;
	o->n++;
	return 0;
}

int search_parse_reply(enum search_kind kind, const char *body, size_t n, int max, struct search_outcome *out)
{
	json_error_t jerr;
	json_t *o = json_loadb(body, n, 0, &jerr), *list, *it;
	const char *ukey = "url", *skey = "content";
	size_t i;
	int rc = 0;

	if (!o) {
		snprintf(out->msg, sizeof(out->msg), "the reply is not JSON (%s)", jerr.text);
		return Q_EPARSE;
	}
	switch (kind) {
	case SEARCH_BRAVE:
		list = json_object_get(json_object_get(o, "web"), "results");
		skey = "description"; /* no "web" key: no results, not an error */
		break;
	case SEARCH_SERPER:
		list = json_object_get(o, "organic");
		ukey = "link";
		skey = "snippet";
		break;
	default:
		list = json_object_get(o, "results");
	}
	if (!list && kind != SEARCH_BRAVE) {
		json_decref(o);
		snprintf(out->msg, sizeof(out->msg), "the reply has no result list");
		return Q_EPARSE;
	}
	json_array_foreach (list, i, it) {
		if (!json_is_object(it))
			continue;
		if ((rc = add_result(out, json_string_value(json_object_get(it, ukey)),
				     json_string_value(json_object_get(it, "title")),
				     json_string_value(json_object_get(it, skey)), max)))
			break;
	}
	json_decref(o);
	return rc;
}

/* ---- the requests ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	return qbuf_add(ctx, p, size * n) ? 0 : size * n;
}

struct task {
	const struct search_provider *p;
	const char *query;
	int qi;
	int per_query;
	const char *lang;
	volatile int *cancel;
	struct search_outcome *out;
};

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct task *t = ctx;

	return t->cancel && __atomic_load_n(t->cancel, __ATOMIC_RELAXED); /* set by another thread */
}

static void web_search(struct task *t)
{
	const struct search_provider *p = t->p;
	struct qbuf body, url, post, hdr;
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	char *q = NULL;
	CURLcode cc;
	long status = 0;
	int attempt;

	qbuf_init(&body, SEARCH_MAX_REPLY_BYTES);
	qbuf_init(&url, SEARCH_URL_MAX_BYTES);
	qbuf_init(&post, SEARCH_POST_MAX_BYTES);
	qbuf_init(&hdr, SEARCH_HEADER_MAX_BYTES);
	if (!c || !(q = curl_easy_escape(c, t->query, 0))) {
		t->out->rc = Q_ENOMEM;
		snprintf(t->out->msg, sizeof(t->out->msg), "out of memory");
		goto out;
	}
	h = curl_slist_append(h, "Accept: application/json");
	switch (p->kind) {
	case SEARCH_SEARXNG:
		qbuf_addf(&url, "%s%ssearch?q=%s&format=json", p->url,
			  p->url[strlen(p->url) - 1] == '/' ? "" : "/", q);
		if (t->lang)
			qbuf_addf(&url, "&language=%s", t->lang);
		break;
	case SEARCH_BRAVE:
		qbuf_addf(&url, "%s?q=%s&count=%d", p->url, q, t->per_query);
		qbuf_addf(&hdr, "X-Subscription-Token: %s", p->key);
		h = curl_slist_append(h, qbuf_cstr(&hdr));
		break;
	case SEARCH_TAVILY:
	case SEARCH_SERPER: { /* both take a JSON body; names and key headers differ */
		int tav = p->kind == SEARCH_TAVILY;
		json_t *o = json_pack("{s:s, s:i}", tav ? "query" : "q", t->query,
				      tav ? "max_results" : "num", t->per_query);
		char *s = json_dumps(o, JSON_COMPACT);
		qbuf_adds(&url, p->url);
		qbuf_adds(&post, s ? s : "{}");
		free(s);
		json_decref(o);
		qbuf_addf(&hdr, tav ? "Authorization: Bearer %s" : "X-API-KEY: %s", p->key);
		h = curl_slist_append(h, qbuf_cstr(&hdr));
		h = curl_slist_append(h, "Content-Type: application/json");
		break;
	}
	default:
		break;
	}
	if (hdr.len)
		explicit_bzero(hdr.data, hdr.len); /* curl copied it */
	for (attempt = 0; attempt < 2; attempt++) {
		qbuf_reset(&body);
		curl_easy_setopt(c, CURLOPT_URL, qbuf_cstr(&url));
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		if (post.len)
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, qbuf_cstr(&post));
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, http_open_cloexec_socket);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, SEARCH_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "quarry/" QUARRY_VERSION);
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc == CURLE_OK && status != 429 && status < 500)
			break;
		if (t->cancel && __atomic_load_n(t->cancel, __ATOMIC_RELAXED))
			break;
		if (attempt == 0) {
			struct timespec ts = {1, 0};
			nanosleep(&ts, NULL);
		}
	}
	if (cc != CURLE_OK) {
		t->out->rc = cc == CURLE_OPERATION_TIMEDOUT ? Q_ETIMEOUT : Q_ENET;
		snprintf(t->out->msg, sizeof(t->out->msg), "%s: %s", p->name,
			 body.err ? "reply too large" : curl_easy_strerror(cc));
	} else if (status == 403 && p->kind == SEARCH_SEARXNG) {
		/* SearXNG answers 403 to format=json when the format is off. */
		t->out->rc = Q_EHTTP;
		snprintf(t->out->msg, sizeof(t->out->msg),
			 "searxng refused format=json (HTTP 403): its "
			 "JSON format is off; enable it with 'search: formats: [html, json]' in its "
			 "settings.yml and restart it");
	} else if (status == 401 || status == 403) {
		t->out->rc = Q_EHTTP;
		snprintf(t->out->msg, sizeof(t->out->msg), "%s refused the key (%ld): check %s", p->name,
			 status, p->key_env[0] ? p->key_env : "its configuration");
	} else if (status != 200) {
		t->out->rc = Q_EHTTP;
		snprintf(t->out->msg, sizeof(t->out->msg), "%s answered HTTP %ld", p->name, status);
	} else if ((t->out->rc = search_parse_reply(p->kind, qbuf_cstr(&body), body.len, t->per_query,
						    t->out)) != 0) {
		char why[300];
		memcpy(why, t->out->msg, sizeof(why));
		snprintf(t->out->msg, sizeof(t->out->msg), "%s: %.200s%s", p->name, why,
			 p->kind == SEARCH_SEARXNG ? " (is the json format enabled in settings.yml?)" : "");
	}
out:
	if (q)
		curl_free(q);
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	qbuf_release(&body);
	qbuf_release(&url);
	qbuf_release(&post);
	qbuf_release(&hdr);
}

static void corpus_query(struct task *t)
{
	struct store s;
	struct q_error err = {0};
	struct corpus_hit *hits = NULL;
	sqlite3_stmt *st = NULL;
	int n = 0, i;

	if (store_open(&s, t->p->url, &err)) {
		t->out->rc = err.code ? err.code : Q_EIO;
		snprintf(t->out->msg, sizeof(t->out->msg), "corpus: %.280s", err.msg);
		return;
	}
	if (corpus_search(&s, t->query, t->per_query, "", "", &hits, &n, &err)) {
		t->out->rc = err.code ? err.code : Q_EIO;
		snprintf(t->out->msg, sizeof(t->out->msg), "corpus: %.280s", err.msg);
		store_close(&s);
		return;
	}
	sqlite3_prepare_v2(s.db, "SELECT body FROM passages WHERE id = ?1", -1, &st, NULL);
	t->out->results = n ? q_calloc((size_t)n, sizeof(*t->out->results)) : NULL;
	for (i = 0; i < n && t->out->results; i++) {
		struct search_result *r = &t->out->results[t->out->n];
		r->url = q_strdup(hits[i].path);
		r->title = q_strdup(hits[i].title ? hits[i].title : "");
		r->snippet = q_strdup(hits[i].snippet ? hits[i].snippet : "");
		r->heading = q_strdup(hits[i].heading ? hits[i].heading : "");
		if (st) {
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, hits[i].passage_id);
			if (sqlite3_step(st) == SQLITE_ROW)
				r->text = q_strdup((const char *)sqlite3_column_text(st, 0));
		}
		r->rank = i + 1;
		t->out->n++;
	}
	sqlite3_finalize(st);
	corpus_hits_free(hits, n);
	store_close(&s);
}

/* Tasks of one batch at once: a search is a network wait, and eight
 * keep a SearXNG and a hosted API busy without flooding either. */
#define SEARCH_PARALLEL 8

static void search_one(void *arg, size_t i)
{
	struct task *t = &((struct task *)arg)[i];
	double t0 = q_now_ms();

	if (t->cancel && __atomic_load_n(t->cancel, __ATOMIC_RELAXED)) {
		t->out->rc = Q_ETIMEOUT;
		snprintf(t->out->msg, sizeof(t->out->msg), "cancelled");
	} else if (t->p->kind == SEARCH_CORPUS) {
		corpus_query(t);
	} else {
		web_search(t);
	}
	for (size_t k = 0; k < t->out->n; k++) {
		snprintf(t->out->results[k].provider, sizeof(t->out->results[k].provider), "%s", t->p->name);
		t->out->results[k].query = t->qi;
	}
	t->out->ms = q_now_ms() - t0;
}

void search_many(const struct search_provider *providers, size_t np, const char *const *queries, size_t nq,
		 int per_query, const char *lang, volatile int *cancel, struct search_outcome *out)
{
	struct task *tasks;
	size_t i, j, n = nq * np;

	memset(out, 0, n * sizeof(*out));
	if (per_query < 1)
		per_query = 1;
	if (per_query > SEARCH_MAX_RESULTS)
		per_query = SEARCH_MAX_RESULTS;
	tasks = q_calloc(n ? n : 1, sizeof(*tasks));
	if (!tasks) {
		for (i = 0; i < n; i++) {
			out[i].rc = Q_ENOMEM;
			snprintf(out[i].msg, sizeof(out[i].msg), "out of memory");
		}
		return;
	}
	for (i = 0; i < nq; i++)
		for (j = 0; j < np; j++) {
			struct task *t = &tasks[i * np + j];
			t->p = &providers[j];
			t->query = queries[i];
			t->qi = (int)i;
			t->per_query = per_query;
			t->lang = lang;
			t->cancel = cancel;
			t->out = &out[i * np + j];
		}
	pool_run(pool_shared(), n, SEARCH_PARALLEL, search_one, tasks);
	q_free(tasks);
}

void search_outcome_release(struct search_outcome *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		q_free(o->results[i].url);
		q_free(o->results[i].title);
		q_free(o->results[i].snippet);
		q_free(o->results[i].text);
		q_free(o->results[i].heading);
	}
	q_free(o->results);
	o->results = NULL;
	o->n = 0;
}
