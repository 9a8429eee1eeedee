/*
 * search.h - web search providers and the local corpus behind one call.
 *
 * Providers come from the environment (or the config file's lower-case
 * keys): QUARRY_SEARXNG_URL (a SearXNG instance; its JSON API must be
 * enabled), QUARRY_BRAVE_API_KEY, QUARRY_TAVILY_API_KEY,
 * QUARRY_SERPER_API_KEY; QUARRY_BRAVE_URL, QUARRY_TAVILY_URL and
 * QUARRY_SERPER_URL change their endpoints (proxies, tests). The corpus
 * is the quarry database's full-text index.
 *
 * search_many sends every query to every provider at once (threads, one
 * libcurl handle each) and returns when all are done. Each (query,
 * provider) pair succeeds or fails on its own, so one broken provider
 * does not stop a run. Endpoints the user configured are trusted: the
 * address policy applies to the result URLs when they are fetched, not
 * to the search API.
 */
#ifndef Q_SEARCH_H
#define Q_SEARCH_H

#include <stddef.h>

#include "../core/config.h"
#include "../core/err.h"

#define SEARCH_MAX_PROVIDERS 8
#define SEARCH_MAX_RESULTS 20 /* per query per provider */
#define SEARCH_MAX_REPLY_BYTES (4L * 1024 * 1024)
#define SEARCH_TIMEOUT_MS 20000L

enum search_kind { SEARCH_SEARXNG, SEARCH_BRAVE, SEARCH_TAVILY, SEARCH_SERPER, SEARCH_CORPUS };

struct search_provider {
	enum search_kind kind;
	char name[16];  /* "searxng", "brave", ..., "corpus" */
	char url[1024]; /* endpoint; the corpus: the database folder */
	char key_env[40];
	char *key; /* owned secret, NULL if none */
};

struct search_result {
	char *url; /* web: the page; corpus: the file's path */
	char *title;
	char *snippet;
	char *text;    /* corpus: the passage text; NULL for web */
	char *heading; /* corpus: heading path */
	char provider[16];
	int rank;  /* 1-based within its (query, provider) list */
	int query; /* index of the query that found it */
};

struct search_outcome {
	int rc;        /* 0 or Q_E* */
	char msg[300]; /* why it failed */
	struct search_result *results;
	size_t n;
	double ms;
};

/*
 * The providers for `sources` ("web", "corpus", "web,corpus", or provider
 * names such as "searxng,corpus"). home: the database folder for the
 * corpus. Web sources without any configured provider are left out and
 * noted in *missing (a sentence for the user); Q_EINVAL when nothing is
 * usable at all, with a message that says how to configure one.
 */
int search_providers(const char *sources, const char *home, const struct config *file,
		     struct search_provider *out, size_t *n, char *missing, size_t missing_size,
		     struct q_error *err);
void search_providers_release(struct search_provider *p, size_t n);

/*
 * Run queries[0..nq) on providers[0..np): out must hold nq*np outcomes,
 * out[q*np + p]. per_query results at most (<= SEARCH_MAX_RESULTS).
 * lang: a language hint ("en", "zh") or NULL. cancel: polled; may be NULL.
 */
void search_many(const struct search_provider *providers, size_t np, const char *const *queries, size_t nq,
		 int per_query, const char *lang, volatile int *cancel, struct search_outcome *out);
void search_outcome_release(struct search_outcome *o);

/* Parse one provider's JSON reply into results (exposed for tests and
 * fuzzing). 0, or Q_EPARSE with a message. */
int search_parse_reply(enum search_kind kind, const char *body, size_t n, int max, struct search_outcome *out);

#endif
