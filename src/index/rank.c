/*
 * rank.c - qrank(), BM25 with a positive IDF (see rank.h).
 */
#include "rank.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "tokenize.h"

#define BM25_K1 1.2
#define BM25_B 0.75
#define RANK_MAX_PHRASES 64
#define RANK_MAX_COLUMNS 16

/* Per-query figures, computed on the first row and kept as aux data. */
struct rank_data {
	int n_phrases;
	double avgdl;
	double idf[RANK_MAX_PHRASES];
};

static int count_row(const Fts5ExtensionApi *api, Fts5Context *fts, void *ctx)
{
	(void)api;
	(void)fts;
	(*(sqlite3_int64 *)ctx)++;
	return SQLITE_OK;
}

static struct rank_data *query_data(const Fts5ExtensionApi *api, Fts5Context *fts, int *rc)
{
	struct rank_data *d = api->xGetAuxdata(fts, 0);
	sqlite3_int64 rows = 0, tokens = 0;
	int i;

	if (d)
		return d;
	d = q_calloc(1, sizeof(*d));
	if (!d) {
		*rc = SQLITE_NOMEM;
		return NULL;
	}
	d->n_phrases = api->xPhraseCount(fts);
	if (d->n_phrases > RANK_MAX_PHRASES)
		d->n_phrases = RANK_MAX_PHRASES;
	*rc = api->xRowCount(fts, &rows);
	if (*rc == SQLITE_OK)
		*rc = api->xColumnTotalSize(fts, -1, &tokens);
	d->avgdl = rows > 0 ? (double)tokens / (double)rows : 1.0;
	for (i = 0; *rc == SQLITE_OK && i < d->n_phrases; i++) {
		sqlite3_int64 n = 0;
		*rc = api->xQueryPhrase(fts, i, &n, count_row);
		d->idf[i] = log(1.0 + ((double)rows - (double)n + 0.5) / ((double)n + 0.5));
	}
	if (*rc == SQLITE_OK)
		*rc = api->xSetAuxdata(fts, d, q_free);
	if (*rc != SQLITE_OK) {
		q_free(d);
		return NULL;
	}
	return d;
}

static void qrank(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_args,
		  sqlite3_value **args)
{
	double weight[RANK_MAX_COLUMNS], freq[RANK_MAX_PHRASES], score = 0;
	struct rank_data *d;
	int rc = SQLITE_OK, n_inst = 0, dl = 0, i;

	d = query_data(api, fts, &rc);
	if (!d) {
		sqlite3_result_error_code(ctx, rc);
		return;
	}
	assert(d->n_phrases >= 0 && d->n_phrases <= RANK_MAX_PHRASES); /* idf[] holds them */
	for (i = 0; i < RANK_MAX_COLUMNS; i++)
		weight[i] = i < n_args ? sqlite3_value_double(args[i]) : 1.0;
	memset(freq, 0, sizeof(freq));
	rc = api->xInstCount(fts, &n_inst);
	for (i = 0; rc == SQLITE_OK && i < n_inst; i++) {
		int phrase, col, off;
		rc = api->xInst(fts, i, &phrase, &col, &off);
		assert(rc != SQLITE_OK || (phrase >= 0 && col >= 0));
		if (rc == SQLITE_OK && phrase < RANK_MAX_PHRASES && col < RANK_MAX_COLUMNS)
			freq[phrase] += weight[col];
	}
	if (rc == SQLITE_OK)
		rc = api->xColumnSize(fts, -1, &dl);
	if (rc != SQLITE_OK) {
		sqlite3_result_error_code(ctx, rc);
		return;
	}
	for (i = 0; i < d->n_phrases; i++) {
		double f = freq[i];
		score += d->idf[i] * (f * (BM25_K1 + 1)) /
			 (f + BM25_K1 * (1 - BM25_B + BM25_B * (double)dl / d->avgdl));
	}
	sqlite3_result_double(ctx, -score);
}

int rank_register_fts5(sqlite3 *db, struct q_error *err)
{
	fts5_api *api = tokenize_fts5_api(db, err);

	if (!api)
		return Q_EUNSUPPORTED;
	if (api->xCreateFunction(api, "qrank", NULL, qrank, NULL) != SQLITE_OK)
		return q_error_set(err, Q_EUNSUPPORTED, "cannot register the qrank function");
	return 0;
}
