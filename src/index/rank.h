/*
 * rank.h - qrank(), our BM25 for FTS5.
 *
 * FTS5's built-in bm25() uses IDF = log((N - n + 0.5) / (n + 0.5)) and
 * floors it at 1e-6 when a term is in half the rows or more. In a small
 * corpus (a user's few documents) every query word is "common" that way,
 * all scores collapse to nearly zero and the order becomes arbitrary.
 * qrank() is the same BM25 (k1 = 1.2, b = 0.75, per-column weights) with
 * Lucene's IDF, log(1 + (N - n + 0.5) / (n + 0.5)), which stays positive.
 * Like bm25(), it returns the negated score, so ORDER BY qrank(...) puts
 * the best first.
 *
 * SQL: qrank(fts_table, weight_col0, weight_col1, ...)
 */
#ifndef Q_RANK_H
#define Q_RANK_H

#include <sqlite3.h>

#include "../core/err.h"

int rank_register_fts5(sqlite3 *db, struct q_error *err);

#endif
