/*
 * tokenize.h - the search tokenizer, for indexing and for queries.
 *
 * One tokenizer serves both sides so a query matches what was indexed:
 *   - words are runs of letters and digits; Unicode case folding (own
 *     tables for Latin, Greek, Cyrillic and full-width forms, glibc's
 *     towlower_l for every other script) and diacritic removal for Latin,
 *     Vietnamese included ("Café" and "cafe" match, "Straße" is "strasse",
 *     "Việt" is "viet");
 *   - English words are stemmed with Snowball (libstemmer), so "running"
 *     finds "runs";
 *   - Chinese, Japanese and Korean text has no spaces: every CJK
 *     character is indexed on its own and as a bigram with the next one,
 *     at the same position. A one-character query matches the unigram; a
 *     longer one becomes a phrase of its bigrams, so "选择可用" finds the
 *     document containing it and not one holding the characters apart
 *     (corpus search quotes only what the user quoted: corpus_search.c splits
 *     unquoted CJK into separate bigram terms).
 * Tokens longer than TOKEN_MAX_BYTES are cut there.
 *
 * tokenizer_register_fts5() makes it available to SQLite FTS5 as
 * tokenize='quarry'. A struct tokenizer is not thread-safe (the stemmer
 * keeps state); FTS5 creates one per table per connection.
 */
#ifndef Q_TOKENIZE_H
#define Q_TOKENIZE_H

#include <sqlite3.h>
#include <stddef.h>

#include "../core/err.h"

#define TOKEN_MAX_BYTES 64

enum tokenize_mode {
	TOKENIZE_DOCUMENT = 0, /* unigrams and bigrams for CJK */
	TOKENIZE_QUERY = 1     /* unigram only for a lone CJK character */
};

/*
 * Called per token: the folded token text (not NUL-terminated), the byte
 * span in the input, and whether it shares the previous token's position.
 * Return non-zero to stop; tokenize() then returns that value.
 */
typedef int (*token_fn)(void *ctx, const char *tok, size_t len, size_t start, size_t end, int colocated);

struct tokenizer;

/* NULL when out of memory. stem=0 switches stemming off. */
struct tokenizer *tokenizer_new(int stem);
void tokenizer_free(struct tokenizer *t);

/* Tokenize text[0..len) (UTF-8; invalid bytes separate words). */
int tokenizer_run(struct tokenizer *t, const char *text, size_t len, enum tokenize_mode mode, token_fn fn,
		  void *ctx);

/* db's FTS5 API (for registering tokenizers and functions); NULL with
 * err set when this SQLite has no FTS5. */
fts5_api *tokenize_fts5_api(sqlite3 *db, struct q_error *err);

/* Register the FTS5 tokenizer "quarry" on db. */
int tokenizer_register_fts5(sqlite3 *db, struct q_error *err);

#endif
