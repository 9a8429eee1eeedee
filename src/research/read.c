/*
 * read.c - the read step of a run (see run.c): the selected candidates
 * fetched and extracted in parallel (web pages through the shared page
 * cache, corpus documents from the index), each kept as a source with its
 * site and date, or counted as failed with the reason why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/sha256.h"
#include "../core/utf8.h"
#include "../doc/doc.h"
#include "../net/http.h"
#include "../index/corpus.h"
#include "run_int.h"
#include "text.h"

/* Pages read by earlier runs are reused for PAGE_CACHE_SECONDS. */
#define PAGE_CACHE_SECONDS (24 * 3600)

/* Pages fetched from private addresses under --allow-private are marked
 * "private" and served only to runs that allow private addresses too. */
static int page_allowed_here(const struct run *r, const char *value)
{
	json_t *v;
	int ok;

	if (r->opts->allow_private)
		return 1;
	v = json_loads(value, 0, NULL);
	ok = v && !json_is_true(json_object_get(v, "private"));
	json_decref(v);
	return ok;
}

static char *page_cache_get(struct run *r, const char *url)
{
	char *v = NULL;

	if (runstore_page_get(r->rs, url, PAGE_CACHE_SECONDS, &v, NULL) == 0 && v && !page_allowed_here(r, v)) {
		q_free(v);
		v = NULL;
	}
	return v;
}

static void page_cache_put(struct run *r, const char *url, const char *value)
{
	runstore_page_put(r->rs, url, value, NULL);
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

struct corpus_text_ctx {
	struct qbuf *text;
	char **title;
	int *plain;
	char *prev; /* the previous passage's heading path */
};

static void corpus_text_passage(void *vctx, const char *title, const char *heading, const char *body,
				const char *kind)
{
	struct corpus_text_ctx *c = vctx;

	if (!*c->title)
		*c->title = q_strdup(title);
	*c->plain = strcmp(kind, "text") == 0;
	add_headings(c->text, heading, c->prev);
	q_free(c->prev);
	c->prev = q_strdup(heading);
	if (c->text->len)
		qbuf_adds(c->text, "\n\n");
	qbuf_adds(c->text, body);
}

/* The text of corpus file path as stored (passages with their headings). */
int run_corpus_text(struct run *r, const char *path, struct qbuf *text, char **title, int *plain)
{
	struct corpus_text_ctx c = {text, title, plain, NULL};
	int n = corpus_passages(r->env->store, path, corpus_text_passage, &c);

	q_free(c.prev);
	return n > 0;
}

/* Note key as tried (URL keys and "hash:" content keys). 0 or Q_ENOMEM. */
int run_remember_key(struct run *r, const char *key)
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

int run_add_source(struct run *r, const char *url, const char *title, const char *text, size_t len,
		   int corpus, int round)
{
	struct source *s;
	struct qbuf norm;
	struct neardup_sig sig;
	char hash[65], key[80];
	int i;

	if (len > (size_t)RESEARCH_SOURCE_MAX_BYTES) { /* cut before a character, not inside one */
		len = (size_t)RESEARCH_SOURCE_MAX_BYTES;
		while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
			len--;
	}
	sha256_hex(text, len, hash);
	snprintf(key, sizeof(key), "hash:%s", hash);
	if (run_seen_key(r, key))
		return -1;        /* the same text under another address */
	run_remember_key(r, key); /* out of memory: only a later duplicate goes unnoticed */
	neardup_sign(text, len, &sig);
	for (i = 0; i < r->n_sources; i++)
		if (neardup_same(&sig, &r->sources[i].sig))
			return -1; /* nearly the same text: one copy is cited */
	s = q_reallocarray(r->sources, (size_t)r->n_sources + 1, sizeof(*s));
	if (!s)
		return -1;
	r->sources = s;
	s = &r->sources[r->n_sources];
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
	return r->n_sources++;
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
	run_emit(r, "source_read",
		 json_pack("{s:i, s:s, s:s, s:I, s:s}", "source", i + 1, "url", r->sources[i].url, "title",
			   r->sources[i].title, "chars", (json_int_t)strlen(r->sources[i].text), "kind",
			   r->sources[i].corpus ? "corpus" : "web"));
}

/* A web source's site (its own name, else its host) and date (published,
 * else the day the run read it), for the prompts and the Sources list. */
void run_source_meta(struct run *r, int i, const json_t *rec)
{
	struct source *s = &r->sources[i];
	const char *site = json_string_value(json_object_get(rec, "site"));
	const char *pub = json_string_value(json_object_get(rec, "published"));

	if (site && *site && strlen(site) < sizeof(s->site))
		snprintf(s->site, sizeof(s->site), "%s", site);
	else
		run_site_of(s->url, s->site, sizeof(s->site));
	if (pub && strlen(pub) >= 4 && pub[0] >= '0' && pub[0] <= '9') {
		snprintf(s->date, sizeof(s->date), "%.10s", pub); /* the day of an ISO 8601 time */
	} else if (r->date[0]) {
		snprintf(s->date, sizeof(s->date), "%s", r->date);
		s->date_fetched = 1;
	}
	/* Both go into prompts inside quoted attributes. */
	for (i = 0; s->site[i]; i++)
		if (s->site[i] == '"' || s->site[i] == '<' || s->site[i] == '>' ||
		    (unsigned char)s->site[i] < 0x20)
			s->site[i] = ' ';
	for (i = 0; s->date[i]; i++)
		if (s->date[i] == '"' || s->date[i] == '<' || s->date[i] == '>' ||
		    (unsigned char)s->date[i] < 0x20)
			s->date[i] = ' ';
}

struct fetch_ctx {
	struct run *r;
	char **urls;
	char **recs; /* per URL: the record on_fetched made, stored after the batch */
	int round;
};

/* Pages extracted at once on the pool while the downloads go on: two
 * cores, and pdftotext is a process of its own. */
#define RUN_EXTRACT_PARALLEL 4

/* Fetched pages are kept per run as {"title","text"} or {"error"}. Runs
 * on a pool thread (http.h done_parallel), so it touches nothing shared:
 * the record goes into fc->recs[i] and run_read_sources stores it. */
static void on_fetched(size_t i, struct http_response *resp, void *vctx)
{
	struct fetch_ctx *fc = vctx;
	struct doc doc;
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
		dopt.cancel = &fc->r->env->cancelled; /* extraction obeys cancel and --time-limit */
		if (fc->r->opts->time_limit_ms > 0)
			dopt.deadline_ms = fc->r->start_ms + (double)fc->r->opts->time_limit_ms;
		if (doc_extract(qbuf_cstr(&resp->body), resp->body.len, &dopt, &doc, &derr))
			rec = json_pack("{s:s}", "error", derr.msg);
		else
			rec = json_pack("{s:s, s:s%, s:s?, s:s?}", "title", doc.title ? doc.title : "",
					"text", doc.text ? doc.text : "", doc.text ? doc.text_len : (size_t)0,
					"published", doc.date, "site", doc.site_name);
		doc_release(&doc);
		qbuf_release(&resp->body); /* the batch keeps every response until it ends */
		if (rec && resp->private_addr)
			json_object_set_new(rec, "private", json_true());
	}
	if (!rec) /* invalid UTF-8 cannot happen after extraction; be safe */
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
		run_rcache_put(fc->r, key, fc->recs[i]);
		if (strncmp(fc->recs[i], "{\"error\":", 9) != 0) /* failures are tried again next time */
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

	if (!r->opts->allow_private)
		return 0;
	rec = json_loads(rec_text, 0, NULL);
	why = json_string_value(json_object_get(rec, "error"));
	yes = why && fail_kind(why) == RUN_FAIL_POLICY;
	json_decref(rec);
	return yes;
}

/* Read up to want candidates not read before. Returns the first new source index. */
int run_read_sources(struct run *r, struct candidate *cv, int n, int want, int round)
{
	const char **urls = q_calloc((size_t)(n ? n : 1), sizeof(char *));
	char key[4200];
	int i, picked = 0, n_fetch = 0, first = r->n_sources;
	int *pick = q_calloc((size_t)(n ? n : 1), sizeof(int));

	if (!urls || !pick) {
		q_free(urls);
		q_free(pick);
		return first;
	}
	for (i = 0; i < n && picked < want; i++) {
		if (run_seen_key(r, cv[i].key))
			continue;
		if (run_remember_key(r, cv[i].key))
			break;
		pick[picked++] = i;
		if (!cv[i].corpus) {
			char *cached;
			snprintf(key, sizeof(key), "page:%.4000s", cv[i].url);
			if ((cached = run_rcache_get(r, key)) != NULL && refused_but_allowed(r, cached)) {
				q_free(cached); /* --allow-private given to resume: fetch again */
				cached = NULL;
				urls[n_fetch++] = cv[i].url;
			} else if (!cached && !r->opts->fresh && (cached = page_cache_get(r, cv[i].url)) != NULL)
				run_rcache_put(r, key, cached); /* read by an earlier run today */
			else if (!cached)
				urls[n_fetch++] = cv[i].url;
			q_free(cached);
		}
	}
	if (n_fetch > 0 && !(round == 0 ? run_first_round_barred(r) : run_should_stop(r))) {
		struct http_options hopt;
		struct http_response *resps = q_calloc((size_t)n_fetch, sizeof(*resps));
		struct fetch_ctx fc = {r, (char **)urls, q_calloc((size_t)n_fetch, sizeof(char *)), round};
		memset(&hopt, 0, sizeof(hopt));
		hopt.allow_private = r->opts->allow_private;
		hopt.ignore_robots = r->opts->ignore_robots;
		hopt.max_parallel = r->opts->fetch_parallel > 0 ? r->opts->fetch_parallel : 8;
		hopt.timeout_ms = 20000;
		hopt.cancel = &r->env->cancelled;
		hopt.done_parallel = RUN_EXTRACT_PARALLEL; /* a slow PDF holds up no download */
		if (r->opts->time_limit_ms > 0) {
			double left = (double)r->opts->time_limit_ms - (q_now_ms() - r->start_ms);
			if (left < 1000)
				left = 1000;
			if (left < (double)hopt.timeout_ms)
				hopt.timeout_ms = (long)left;
		}
		if (resps && fc.recs) {
			run_emit(r, "fetching", json_pack("{s:i}", "urls", n_fetch));
			http_fetch_many(urls, (size_t)n_fetch, &hopt, resps, on_fetched, &fc);
			store_fetched(&fc, n_fetch);
			run_sample_memory(r); /* the pages of a batch are all in memory here */
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
			if (run_corpus_text(r, c->url, &t, &title, &plain) && t.len > 0) {
				idx = run_add_source(r, c->url, title && *title ? title : c->title,
						     qbuf_cstr(&t), t.len, 1, round);
				if (idx >= 0)
					r->sources[idx].plain = plain;
			} else
				source_failed(r, c->url, "no longer in the corpus");
			qbuf_release(&t);
			q_free(title);
		} else {
			char *cached;
			json_t *rec;
			json_error_t jerr;
			snprintf(key, sizeof(key), "page:%.4000s", c->url);
			cached = run_rcache_get(r, key);
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
					idx = run_add_source(r, c->url, title && *title ? title : c->title,
							     text, strlen(text), 0, round);
				if (idx >= 0)
					run_source_meta(r, idx, rec);
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
