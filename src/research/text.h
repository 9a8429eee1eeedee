/*
 * text.h - text helpers of a research run: language guess, quote
 * checking, canonical URLs and BM25 over in-memory passages.
 */
#ifndef Q_RTEXT_H
#define Q_RTEXT_H

#include <stddef.h>

#include "../core/qbuf.h"

/* The language of a question: "zh" when the text is mostly Han, "ja"
 * with kana, "ko" (Hangul), "ru" (Cyrillic), "fr", "de", "es", "pt", "it"
 * by their common words and accented letters, "en" by its own or when in
 * doubt, "und" for letters with none of these languages' words. */
const char *text_guess_lang(const char *s);

/*
 * Normal form for quote matching: case folded (ASCII and full-width
 * forms), curly quotes and dashes made plain, zero-width and soft-hyphen
 * characters dropped, every run of white space one space. Appends to out.
 */
int text_normalize(const char *s, size_t n, struct qbuf *out);

/*
 * Is quote (as a model wrote it) verbatim in the source, whose normal
 * form is norm_source? Ellipses ("..." or "…") may join pieces that must
 * appear in order. Quotes shorter than 12 characters after normalising
 * (a number, one word) prove nothing and are refused. 1 or 0.
 */
int text_quote_found(const char *norm_source, const char *quote);

/*
 * A quote of several lines (a block of table rows, a list) checked row
 * by row: each line must be verbatim in the source on its own (table
 * separator rows pass). The rows found go to kept, joined by newlines;
 * *dropped counts the others. A one-line quote is checked whole. Returns
 * the rows found (0: nothing to keep).
 */
int text_quote_rows(const char *norm_source, const char *quote, struct qbuf *kept, int *dropped);

/* A key for dedupe: host without "www.", path without a trailing '/',
 * no fragment, no tracking parameters (url_drop_tracking). 0 or -1. */
int text_url_key(const char *url, char *out, size_t size);

/* One passage of a source for ranking. */
struct rpassage {
	int source;        /* index of its source */
	size_t start, end; /* byte span in the source text */
	char heading[256];
	double score;
	int matched; /* distinct query content terms in it (and its heading) */
	int n_terms; /* content terms of the query */
};

/*
 * Split each text into passages and score them with BM25 against query.
 * texts[i] may be NULL (skipped). On success *out holds *n passages
 * sorted best first (ties: source order). 0 or Q_ENOMEM.
 */
int text_rank_passages(const char *const *texts, size_t n_texts, const char *query, struct rpassage **out,
		       size_t *n);
/* The same, where plain[i] (if plain is not NULL) says texts[i] is plain
 * text whose "# " lines are not headings (split_passages_plain). */
int text_rank_passages_ex(const char *const *texts, const int *plain, size_t n_texts, const char *query,
			  struct rpassage **out, size_t *n);

/* How many of query's terms are content words (not stop words such as
 * "the", "what", "is"): 0 means nothing in it can rank a passage. -1 when
 * out of memory. */
int text_content_terms(const char *query);
/* The sentence of text[start..end) that shares the most query words:
 * its byte span. Returns 0 (span found) or -1. */
int text_key_sentence(const char *text, size_t start, size_t end, const char *query, size_t *s_start,
		      size_t *s_end);
#endif
