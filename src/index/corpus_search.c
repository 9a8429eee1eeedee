/*
 * corpus_search.c - searching the corpus (see corpus.h): the user's query syntax
 * turned into FTS5 expressions, very common words kept from scanning
 * the whole index, ranking with qrank() (rank.h), then snippets for the
 * top k only.
 *
 * Unquoted Chinese, Japanese or Korean text has no spaces, so a question
 * such as "美国关闭GPS选择可用性原因" would be one word, and one word of
 * CJK is a strict phrase of its bigrams: it found nothing unless the
 * document held the whole question verbatim. Such a word is split here
 * into its tokens (the bigrams of each CJK run, and any Latin words), and
 * each becomes a plain word: passages with all of them first, then those
 * with any, ranked by BM25, so more matching bigrams rank higher. Quoted
 * text keeps its phrase meaning ("选择可用性" in quotes).
 */
#include <sqlite3.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/utf8.h"
#include "corpus.h"
#include "tokenize.h"

/* At most this many terms from one unquoted CJK word (qrank() scores up
 * to 64 phrases; a 4 KB query of CJK would otherwise give 1,300). */
#define CORPUS_MAX_CJK_TERMS 48

static void add_fts_string(struct qbuf *out, const char *s, size_t n)
{
	size_t i;

	qbuf_addc(out, '"');
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			qbuf_addc(out, '"');
		qbuf_addc(out, s[i]);
	}
	qbuf_addc(out, '"');
}

/* Is this plain query word very common? (drop it when rarer terms are
 * there to rank by). NULL means nothing is. */
typedef int (*common_fn)(void *ctx, const char *word, size_t len);

static int build_fts_query(const char *q, common_fn is_common, void *cctx, struct qbuf *out_and,
			   struct qbuf *out_or, int *all_common, int *n_words, struct q_error *err);

int corpus_query_to_fts(const char *q, struct qbuf *out, struct q_error *err)
{
	int all_common, n_words;

	return build_fts_query(q, NULL, NULL, NULL, out, &all_common, &n_words, err);
}

/* A phrase whose every word is very common costs a walk of their whole
 * posting lists, however rare the phrase itself. */
static int phrase_is_common(common_fn is_common, void *cctx, const char *p, size_t n)
{
	size_t i = 0;
	int words = 0;

	while (i < n) {
		size_t start;
		while (i < n && p[i] == ' ')
			i++;
		start = i;
		while (i < n && p[i] != ' ')
			i++;
		if (i > start) {
			words++;
			if (!is_common(cctx, p + start, i - start))
				return 0;
		}
	}
	return words > 0;
}

/* must AND (words) NOT (exclusions), leaving out the empty parts. */
static void compose(struct qbuf *out, const struct qbuf *must, const struct qbuf *words,
		    const struct qbuf * not )
{
	if (must->len) {
		qbuf_addc(out, '(');
		qbuf_add(out, must->data, must->len);
		qbuf_addc(out, ')');
	}
	if (words->len) {
		if (must->len)
			qbuf_adds(out, " AND ");
		qbuf_addc(out, '(');
		qbuf_add(out, words->data, words->len);
		qbuf_addc(out, ')');
	}
	if (not ->len) {
		qbuf_adds(out, " NOT (");
		qbuf_add(out, not ->data, not ->len);
		qbuf_addc(out, ')');
	}
}

static void append_term(struct qbuf *b, const char *sep, const char *t, size_t n)
{
	if (b->len)
		qbuf_adds(b, sep);
	add_fts_string(b, t, n);
}

/* Does s[0..n) hold a CJK character? (Their UTF-8 lead bytes are 0xE3
 * and above, so ASCII words are answered without decoding.) */
static int has_cjk(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp = 0;
		if ((unsigned char)s[i] < 0xE3) {
			i++;
			continue;
		}
		i += utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (utf8_is_cjk(cp))
			return 1;
	}
	return 0;
}

/* Byte spans of the query tokens of one unquoted word. */
struct term_spans {
	size_t start[CORPUS_MAX_CJK_TERMS], end[CORPUS_MAX_CJK_TERMS];
	int n;
};

static int collect_span(void *ctx, const char *tok, size_t len, size_t start, size_t end, int colocated)
{
	struct term_spans *sp = ctx;

	(void)tok;
	(void)len;
	(void)colocated;
	if (sp->n >= CORPUS_MAX_CJK_TERMS)
		return 1; /* full: the rest of the word is left out */
	sp->start[sp->n] = start;
	sp->end[sp->n] = end;
	sp->n++;
	return 0;
}

/* The word's tokens as the tokenizer would make them for a query; 0 spans
 * when out of memory (the caller then keeps the word whole). */
static void split_cjk_word(const char *w, size_t n, struct term_spans *sp)
{
	struct tokenizer *t = tokenizer_new(0);

	sp->n = 0;
	if (!t)
		return;
	tokenizer_run(t, w, n, TOKENIZE_QUERY, collect_span, sp);
	tokenizer_free(t);
}

/* Where the plain words of a query go while it is parsed. */
struct plain_words {
	struct qbuf *and_terms, *or_terms, *common;
	common_fn is_common;
	void *cctx;
	int *n_words;
};

static void add_plain_word(struct plain_words *pw, const char *w, size_t n)
{
	if (pw->is_common && pw->is_common(pw->cctx, w, n)) {
		append_term(pw->common, " OR ", w, n);
		return;
	}
	(*pw->n_words)++;
	append_term(pw->and_terms, " AND ", w, n);
	append_term(pw->or_terms, " OR ", w, n);
}

/* An unquoted word: CJK text split into its terms, anything else whole. */
static void add_unquoted_word(struct plain_words *pw, const char *w, size_t n)
{
	struct term_spans sp;
	int i;

	if (!has_cjk(w, n)) {
		add_plain_word(pw, w, n);
		return;
	}
	split_cjk_word(w, n, &sp);
	if (!sp.n) {
		add_plain_word(pw, w, n);
		return;
	}
	for (i = 0; i < sp.n; i++)
		add_plain_word(pw, w + sp.start[i], sp.end[i] - sp.start[i]);
}

/*
 * Parse the user's query once into the FTS5 expression with plain words
 * ANDed (out_and, may be NULL) and ORed (out_or). Very common plain words
 * (is_common, may be NULL) are left out when rarer terms are present.
 */
static int build_fts_query(const char *q, common_fn is_common, void *cctx, struct qbuf *out_and,
			   struct qbuf *out_or, int *all_common, int *n_words, struct q_error *err)
{
	struct qbuf any_and, any_or, must, not, common;
	/* cppcheck-suppress ctuuninitvar ; n_words is an out-parameter, set before it is read */
	struct plain_words pw = {&any_and, &any_or, &common, is_common, cctx, n_words};
	size_t i = 0, n = strlen(q);
	int rc = 0, positive = 0, common_phrases = 0;

	if (n > CORPUS_MAX_QUERY_BYTES)
		return q_error_set(err, Q_EINVAL, "query longer than %d bytes", CORPUS_MAX_QUERY_BYTES);
	qbuf_init(&any_and, CORPUS_MAX_QUERY_BYTES * 4);
	qbuf_init(&any_or, CORPUS_MAX_QUERY_BYTES * 4);
	qbuf_init(&must, CORPUS_MAX_QUERY_BYTES * 4);
	qbuf_init(&not, CORPUS_MAX_QUERY_BYTES * 4);
	qbuf_init(&common, CORPUS_MAX_QUERY_BYTES * 4);
	*all_common = 0;
	*n_words = 0;
	while (i < n) {
		int negate = 0;
		size_t start, end;

		while (i < n && (q[i] == ' ' || q[i] == '\t' || q[i] == '\n'))
			i++;
		if (i >= n)
			break;
		if (q[i] == '-' && i + 1 < n && q[i + 1] != ' ') {
			negate = 1;
			i++;
		}
		if (q[i] == '"') {
			start = ++i;
			while (i < n && q[i] != '"')
				i++;
			end = i;
			if (i < n)
				i++;
			if (end == start)
				continue;
			if (negate) {
				append_term(&not, " OR ", q + start, end - start); /* NOT (a OR b) */
				continue;
			}
			positive++;
			if (is_common && phrase_is_common(is_common, cctx, q + start, end - start))
				common_phrases++;
			append_term(&must, " AND ", q + start, end - start);
			continue;
		}
		start = i;
		while (i < n && q[i] != ' ' && q[i] != '\t' && q[i] != '\n')
			i++;
		end = i;
		if (end == start)
			continue;
		if (negate)
			append_term(&not, " OR ", q + start, end - start);
		else
			add_unquoted_word(&pw, q + start, end - start);
	}
	/* Common words only: search them, but the caller must bound the
	 * work. With rarer terms present they are left out. */
	if (!any_or.len && !must.len && common.len) {
		qbuf_add(&any_and, common.data, common.len);
		qbuf_add(&any_or, common.data, common.len);
		*all_common = 1;
	} else if (!any_or.len && !common.len && positive && common_phrases == positive) {
		*all_common = 1; /* phrases made only of very common words */
	}
	if (!any_or.len && !must.len) {
		rc = q_error_set(err, Q_EINVAL, "the query has no words to search for (only exclusions)");
		goto out;
	}
	if (out_and)
		compose(out_and, &must, &any_and, &not );
	compose(out_or, &must, &any_or, &not );
	rc = out_or->err ? out_or->err : (out_and ? out_and->err : 0);
out:
	qbuf_release(&any_and);
	qbuf_release(&any_or);
	qbuf_release(&must);
	qbuf_release(&not );
	qbuf_release(&common);
	return rc;
}

/* ---- very common words ---- */

/*
 * FTS5's bm25() counts each term's matching passages for its IDF, a scan
 * of the term's whole posting list: 30-50 ms per query for a word in
 * every passage of a million. So common words are found by probing the
 * newest COMMON_PROBE passages (a rowid-bounded match, well under a
 * millisecond), left out when rarer terms can rank the results, and a
 * query of nothing else gets the newest matching passages unranked.
 */
struct common_ctx {
	sqlite3_stmt *probe; /* matches of ?1 among rowid > ?2, at most ?3 */
	long long since;     /* the probe's first rowid - 1 */
	int threshold;       /* more matches than this in the probe: common */
};

static int word_is_common(void *ctx, const char *word, size_t len)
{
	struct common_ctx *c = ctx;
	struct qbuf q;
	int count = 0;

	qbuf_init(&q, CORPUS_MAX_QUERY_BYTES * 2);
	add_fts_string(&q, word, len);
	sqlite3_reset(c->probe);
	sqlite3_bind_text(c->probe, 1, qbuf_cstr(&q), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(c->probe, 2, c->since);
	sqlite3_bind_int(c->probe, 3, c->threshold + 1);
	if (sqlite3_step(c->probe) == SQLITE_ROW)
		count = sqlite3_column_int(c->probe, 0);
	qbuf_release(&q);
	return count > c->threshold;
}

static long long max_passage_id(struct store *s)
{
	sqlite3_stmt *st;
	long long v = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT max(id) FROM passages", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}

void corpus_hits_free(struct corpus_hit *hits, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		q_free(hits[i].path);
		q_free(hits[i].title);
		q_free(hits[i].heading);
		q_free(hits[i].snippet);
	}
	q_free(hits);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? q_strdup(v) : NULL;
}

/* Run one ranking query; append hits whose passage is not there yet. */
static int rank_into(struct store *s, const char *fts, int all_common, int k, struct corpus_hit *hits, int *n)
{
	sqlite3_stmt *st;
	int rc, i;

	/* Row ids and scores only, so nothing costly runs for every match
	 * (snippet() here would re-tokenize each matching passage before
	 * the LIMIT applies). */
	rc = sqlite3_prepare_v2(
		s->db,
		all_common ? "SELECT rowid, 0.0 FROM passages_fts WHERE passages_fts MATCH ?1"
			     " ORDER BY rowid DESC LIMIT ?2"
			   : "SELECT rowid, qrank(passages_fts, 2.0, 1.5, 1.0) AS score FROM passages_fts"
			     " WHERE passages_fts MATCH ?1 ORDER BY score LIMIT ?2",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, fts, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, k);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < k) {
		long id = (long)sqlite3_column_int64(st, 0);
		for (i = 0; i < *n && hits[i].passage_id != id; i++)
			;
		if (i < *n)
			continue;
		hits[*n].passage_id = id;
		hits[*n].score = -sqlite3_column_double(st, 1); /* qrank: lower is better */
		(*n)++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* The UTF-8 character that ends s[0..n): its length, and its code point
 * in *cp (0 when none or not valid). */
static size_t last_char(const char *s, size_t n, uint32_t *cp)
{
	size_t k = 1;

	*cp = 0;
	if (n == 0)
		return 0;
	while (k < 4 && k < n && ((unsigned char)s[n - k] & 0xC0) == 0x80)
		k++;
	if (utf8_decode((const unsigned char *)s + n - k, k, cp) != k)
		*cp = 0;
	return k;
}

/* Would the highlight that ends after b's last character take in the
 * character at next too? Yes when both are CJK and the two together are a
 * bigram of the query. Returns the length of the character to take, or 0. */
static size_t cjk_extends(const struct qbuf *b, const char *next, size_t n, const char *query)
{
	char pair[9];
	uint32_t cp_prev, cp_next = 0;
	size_t lp = last_char(b->data ? b->data : "", b->len, &cp_prev), ln;

	if (!lp || !utf8_is_cjk(cp_prev) || n == 0 || (unsigned char)next[0] < 0xE3)
		return 0;
	ln = utf8_decode((const unsigned char *)next, n, &cp_next);
	if (!ln || ln > 4 || !utf8_is_cjk(cp_next))
		return 0;
	memcpy(pair, b->data + b->len - lp, lp);
	memcpy(pair + lp, next, ln);
	pair[lp + ln] = '\0';
	return strstr(query, pair) ? ln : 0;
}

/*
 * FTS5 highlights the token at each matched position but skips colocated
 * tokens, and a CJK bigram is colocated with its first character's
 * unigram (tokenize.c). So a bigram match shows as its first character
 * only: "[选][择][可][用]性" for 选择可用性, "[选择可用]性" for the phrase.
 * Here each highlight takes in the next character when the two form a
 * bigram of the query, and highlights that touch are merged:
 * "[选择可用性]". Returns a new string (caller frees), or NULL on no memory.
 */
static char *snippet_join_cjk(const char *snip, const char *query, const char *open, const char *close)
{
	size_t n = strlen(snip), lo = strlen(open), lc = strlen(close), i = 0;
	struct qbuf b;

	/* every extension takes a character the snippet already has */
	qbuf_init(&b, n + 16);
	while (i < n) {
		size_t j, ext;
		if (lc == 0 || strncmp(snip + i, close, lc) != 0) {
			qbuf_addc(&b, snip[i++]);
			continue;
		}
		j = i + lc;
		for (;;) {
			if (lo && strncmp(snip + j, open, lo) == 0) {
				j += lo; /* touching highlights: one */
				break;
			}
			if ((ext = cjk_extends(&b, snip + j, n - j, query)) == 0) {
				qbuf_add(&b, close, lc);
				break;
			}
			qbuf_add(&b, snip + j, ext);
			j += ext;
		}
		i = j;
	}
	if (b.err) {
		qbuf_release(&b);
		return NULL;
	}
	return qbuf_detach(&b, NULL);
}

int corpus_search(struct store *s, const char *query, int k, const char *mark_open, const char *mark_close,
		  struct corpus_hit **hits_out, int *n_out, struct q_error *err)
{
	struct qbuf fts;
	sqlite3_stmt *st = NULL;
	struct corpus_hit *hits;
	struct common_ctx cc;
	long long max_id;
	struct qbuf fts_and;
	int n = 0, rc, i, all_common = 0, n_words = 0;

	*hits_out = NULL;
	*n_out = 0;
	qbuf_init(&fts, CORPUS_MAX_QUERY_BYTES * 8);
	qbuf_init(&fts_and, CORPUS_MAX_QUERY_BYTES * 8);
	hits = q_calloc((size_t)k, sizeof(*hits));
	if (!hits)
		return q_error_set(err, Q_ENOMEM, "out of memory");
	max_id = max_passage_id(s);
	memset(&cc, 0, sizeof(cc));
	if (max_id >= COMMON_MIN_PASSAGES) {
		cc.since = max_id - COMMON_PROBE;
		cc.threshold = (int)(COMMON_DF_SHARE * COMMON_PROBE);
		if (sqlite3_prepare_v2(s->db,
				       "SELECT count(*) FROM (SELECT 1 FROM passages_fts"
				       " WHERE passages_fts MATCH ?1 AND rowid > ?2 LIMIT ?3)",
				       -1, &cc.probe, NULL) != SQLITE_OK)
			cc.probe = NULL;
	}
	rc = build_fts_query(query, cc.probe ? word_is_common : NULL, &cc, &fts_and, &fts, &all_common,
			     &n_words, err);
	if (rc) {
		sqlite3_finalize(cc.probe);
		qbuf_release(&fts_and);
		qbuf_release(&fts);
		q_free(hits);
		return err ? err->code : Q_EINVAL;
	}
	/* Passages with all the words first (a small intersection, cheap to
	 * rank); then, if fewer than k, those with any of them. */
	rc = rank_into(s, qbuf_cstr(&fts_and), all_common, k, hits, &n);
	if (rc == SQLITE_OK && n < k && n_words >= 2)
		rc = rank_into(s, qbuf_cstr(&fts), all_common, k, hits, &n);
	qbuf_release(&fts_and);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_finalize(cc.probe);
	cc.probe = NULL;
	/* Then details and a snippet for each of the top k. */
	rc = sqlite3_prepare_v2(s->db,
				"SELECT d.path, d.title, p.heading, p.start, p.end, p.char_start, p.char_end,"
				"  (SELECT snippet(passages_fts, 2, ?3, ?4, '…', 24) FROM passages_fts"
				"   WHERE passages_fts MATCH ?2 AND rowid = ?1)"
				" FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.id = ?1",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 2, qbuf_cstr(&fts), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, mark_open, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, mark_close, -1, SQLITE_STATIC);
	for (i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, hits[i].passage_id);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			if (rc == SQLITE_DONE)
				continue; /* removed meanwhile by a concurrent writer */
			goto fail;
		}
		hits[i].path = col_dup(st, 0);
		hits[i].title = col_dup(st, 1);
		hits[i].heading = col_dup(st, 2);
		hits[i].start = (long)sqlite3_column_int64(st, 3);
		hits[i].end = (long)sqlite3_column_int64(st, 4);
		hits[i].char_start = (long)sqlite3_column_int64(st, 5);
		hits[i].char_end = (long)sqlite3_column_int64(st, 6);
		hits[i].snippet = col_dup(st, 7);
		if (hits[i].snippet && has_cjk(query, strlen(query))) {
			char *joined = snippet_join_cjk(hits[i].snippet, query, mark_open, mark_close);
			if (joined) {
				q_free(hits[i].snippet);
				hits[i].snippet = joined;
			}
		}
	}
	sqlite3_finalize(st);
	qbuf_release(&fts);
	*hits_out = hits;
	*n_out = n;
	return 0;
fail:
	rc = store_error(s, rc, "searching", err);
	sqlite3_finalize(cc.probe);
	sqlite3_finalize(st);
	corpus_hits_free(hits, n);
	qbuf_release(&fts);
	return rc;
}
