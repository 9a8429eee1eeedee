/*
 * tokenize.c - the search tokenizer (design in tokenize.h).
 */
#include "tokenize.h"

#include <assert.h>
#include <libstemmer.h>
#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wctype.h>

#include "../core/alloc.h"
#include "../core/utf8.h"

/* Lower-case ASCII spelling of U+00C0..U+024F without diacritics; "" for
 * characters that are not letters (x, /). Generated from Unicode NFKD. */
static const char *const latin_fold[] = {
	"a",  "a",  "a", "a", "a",  "a",  "ae", "c",  "e",  "e",  "e",  "e",  "i",  "i",  "i",  "i", "d",
	"n",  "o",  "o", "o", "o",  "o",  "",   "o",  "u",  "u",  "u",  "u",  "y",  "th", "ss", "a", "a",
	"a",  "a",  "a", "a", "ae", "c",  "e",  "e",  "e",  "e",  "i",  "i",  "i",  "i",  "d",  "n", "o",
	"o",  "o",  "o", "o", "",   "o",  "u",  "u",  "u",  "u",  "y",  "th", "y",  "a",  "a",  "a", "a",
	"a",  "a",  "c", "c", "c",  "c",  "c",  "c",  "c",  "c",  "d",  "d",  "d",  "d",  "e",  "e", "e",
	"e",  "e",  "e", "e", "e",  "e",  "e",  "g",  "g",  "g",  "g",  "g",  "g",  "g",  "g",  "h", "h",
	"h",  "h",  "i", "i", "i",  "i",  "i",  "i",  "i",  "i",  "i",  "i",  "ij", "ij", "j",  "j", "k",
	"k",  "",   "l", "l", "l",  "l",  "l",  "l",  "",   "",   "l",  "l",  "n",  "n",  "n",  "n", "n",
	"n",  "n",  "",  "",  "o",  "o",  "o",  "o",  "o",  "o",  "oe", "oe", "r",  "r",  "r",  "r", "r",
	"r",  "s",  "s", "s", "s",  "s",  "s",  "s",  "s",  "t",  "t",  "t",  "t",  "t",  "t",  "u", "u",
	"u",  "u",  "u", "u", "u",  "u",  "u",  "u",  "u",  "u",  "w",  "w",  "y",  "y",  "y",  "z", "z",
	"z",  "z",  "z", "z", "s",  "",   "",   "",   "",   "",   "",   "",   "",   "",   "",   "",  "",
	"",   "",   "",  "",  "",   "f",  "f",  "",   "",   "",   "",   "",   "",   "",   "",   "",  "",
	"",   "",   "",  "o", "o",  "",   "",   "",   "",   "",   "",   "",   "",   "",   "",   "",  "",
	"",   "u",  "u", "",  "",   "",   "",   "",   "",   "",   "",   "",   "",   "",   "",   "",  "",
	"",   "",   "",  "",  "",   "dz", "dz", "dz", "lj", "lj", "lj", "nj", "nj", "nj", "a",  "a", "i",
	"i",  "o",  "o", "u", "u",  "u",  "u",  "u",  "u",  "u",  "u",  "u",  "u",  "",   "a",  "a", "a",
	"a",  "",   "",  "",  "",   "g",  "g",  "k",  "k",  "o",  "o",  "o",  "o",  "",   "",   "j", "dz",
	"dz", "dz", "g", "g", "",   "",   "n",  "n",  "a",  "a",  "",   "",   "",   "",   "a",  "a", "a",
	"a",  "e",  "e", "e", "e",  "i",  "i",  "i",  "i",  "o",  "o",  "o",  "o",  "r",  "r",  "r", "r",
	"u",  "u",  "u", "u", "s",  "s",  "t",  "t",  "",   "",   "h",  "h",  "",   "",   "",   "",  "",
	"",   "a",  "a", "e", "e",  "o",  "o",  "o",  "o",  "o",  "o",  "o",  "o",  "y",  "y",  "",  "",
	"",   "",   "",  "",  "",   "",   "",   "",   "",   "",   "",   "",   "",   "",   "",   "",  "",
	"",   "",   "",  "",  "",   "",   "",   "",   "",
};
_Static_assert(sizeof(latin_fold) / sizeof(latin_fold[0]) == 0x250 - 0xC0, "one entry a code point");

/* Stems of recent words, direct-mapped by hash. Word frequencies follow
 * Zipf's law, so a few thousand entries answer most lookups and Snowball
 * runs only for the long tail (tokenizer throughput +40% on the bench). */
#define STEM_CACHE_SLOTS 16384
#define STEM_CACHE_WORD 31

struct stem_slot {
	unsigned char word_len, stem_len;
	char word[STEM_CACHE_WORD];
	char stem[STEM_CACHE_WORD];
} __attribute__((aligned(64))); /* one cache line per lookup */

/* The same for Latin Extended Additional, U+1E00..U+1EFF (Vietnamese). */
static const char *const latin_ext_fold[] = {
	"a", "a", "b", "b", "b", "b", "b", "b", "c", "c", "d", "d", "d", "d", "d", "d", "d", "d", "d", "d",
	"e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "f", "f", "g", "g", "h", "h", "h", "h", "h", "h",
	"h", "h", "h", "h", "i", "i", "i", "i", "k", "k", "k", "k", "k", "k", "l", "l", "l", "l", "l", "l",
	"l", "l", "m", "m", "m", "m", "m", "m", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
	"o", "o", "o", "o", "p", "p", "p", "p", "r", "r", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s",
	"s", "s", "s", "s", "s", "s", "t", "t", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u",
	"u", "u", "u", "u", "v", "v", "v", "v", "w", "w", "w", "w", "w", "w", "w", "w", "w", "w", "x", "x",
	"x", "x", "y", "y", "z", "z", "z", "z", "z", "z", "h", "t", "w", "y", "",  "s", "",  "",  "",  "",
	"a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a",
	"a", "a", "a", "a", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e",
	"i", "i", "i", "i", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o",
	"o", "o", "o", "o", "o", "o", "o", "o", "u", "u", "u", "u", "u", "u", "u", "u", "u", "u", "u", "u",
	"u", "u", "y", "y", "y", "y", "y", "y", "y", "y", "",  "",  "",  "",  "",  "",
};
_Static_assert(sizeof(latin_ext_fold) / sizeof(latin_ext_fold[0]) == 0x100, "one entry a code point");

/* glibc's Unicode case mapping through a private C.UTF-8 locale object:
 * no change to the process locale, safe from any thread. */
static locale_t utf8_locale;
static pthread_once_t locale_once = PTHREAD_ONCE_INIT;

static void make_locale(void) { utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0); }

struct tokenizer {
	struct sb_stemmer *stemmer; /* NULL when stemming is off */
	struct stem_slot *cache;    /* STEM_CACHE_SLOTS entries, or NULL */
	void *cache_mem;            /* what was allocated: cache, unaligned */
};

struct tokenizer *tokenizer_new(int stem)
{
	struct tokenizer *t = q_calloc(1, sizeof(*t));

	pthread_once(&locale_once, make_locale);

	if (!t)
		return NULL;
	if (stem) {
		t->stemmer = sb_stemmer_new("english", "UTF_8");
		/* One slot more, to start the slots on a cache line. */
		t->cache_mem = q_calloc(STEM_CACHE_SLOTS + 1, sizeof(*t->cache));
		if (t->cache_mem)
			t->cache = (struct stem_slot *)(((uintptr_t)t->cache_mem + sizeof(*t->cache) - 1) &
							~(uintptr_t)(sizeof(*t->cache) - 1));
		if (!t->stemmer || !t->cache) {
			tokenizer_free(t);
			return NULL;
		}
	}
	return t;
}

void tokenizer_free(struct tokenizer *t)
{
	if (!t)
		return;
	if (t->stemmer)
		sb_stemmer_delete(t->stemmer);
	q_free(t->cache_mem);
	q_free(t);
}

/* Symbols and punctuation above ASCII: word separators. */
static int is_separator(uint32_t cp)
{
	if (cp < 0xC0)
		return !(cp == 0xAA || cp == 0xB5 || cp == 0xBA); /* ª µ º are letters */
	return cp == 0xD7 || cp == 0xF7 || utf8_is_space(cp) ||
	       (cp >= 0x2000 && cp <= 0x2BFF) || /* punctuation, symbols, arrows */
	       (cp >= 0x3000 && cp <= 0x303F) || /* CJK punctuation */
	       (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
	       (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
	       (cp >= 0xFF5B && cp <= 0xFF65) || (cp >= 0xE000 && cp <= 0xF8FF) ||
	       (cp >= 0xFFF0 && cp <= 0xFFFF) || (cp >= 0x1F000 && cp <= 0x1FAFF) || cp == UTF8_REPLACEMENT;
}

static int is_combining(uint32_t cp)
{
	return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
	       (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF);
}

/* Append the folded form of cp to buf (room for 4 more bytes assumed). */
static size_t fold(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
		return 1;
	}
	if (cp >= 0xC0 && cp <= 0x24F) {
		const char *f = latin_fold[cp - 0xC0];
		size_t n = strlen(f);
		if (n) {
			memcpy(out, f, n);
			return n;
		}
	}
	if (cp >= 0x1E00 && cp <= 0x1EFF) {
		const char *f = latin_ext_fold[cp - 0x1E00];
		size_t n = strlen(f);
		if (n) {
			memcpy(out, f, n);
			return n;
		}
	}
	if (cp >= 0xFF21 && cp <= 0xFF3A) /* full-width A-Z */
		return fold(cp - 0xFF21 + 'a', out);
	if (cp >= 0xFF41 && cp <= 0xFF5A) /* full-width a-z */
		return fold(cp - 0xFF41 + 'a', out);
	if (cp >= 0xFF10 && cp <= 0xFF19) /* full-width digits */
		return fold(cp - 0xFF10 + '0', out);
	if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) /* Greek capitals */
		cp += 0x20;
	else if (cp == 0x3C2) /* final sigma */
		cp = 0x3C3;
	else if (cp >= 0x410 && cp <= 0x42F) /* Cyrillic capitals */
		cp += 0x20;
	else if (cp >= 0x400 && cp <= 0x40F)
		cp += 0x50;
	else if (utf8_locale)
		cp = (uint32_t)towlower_l((wint_t)cp, utf8_locale); /* every other script */
	return utf8_encode(cp, out);
}

struct word {
	char buf[TOKEN_MAX_BYTES + 8];
	size_t len;
	size_t start, end;
	int ascii_letters_only;
};

static int emit_word(struct tokenizer *t, struct word *w, token_fn fn, void *ctx)
{
	const char *tok = w->buf;
	size_t len = w->len;

	if (!len)
		return 0;
	assert(len <= TOKEN_MAX_BYTES);
	/* Stem plain Latin words; digits and mixed tokens stay as they are. */
	if (t->stemmer && w->ascii_letters_only && len > 3) {
		struct stem_slot *slot = NULL;
		const sb_symbol *s;

		if (len < STEM_CACHE_WORD) {
			uint32_t h = 2166136261u;
			size_t i;
			for (i = 0; i < len; i++)
				h = (h ^ (unsigned char)tok[i]) * 16777619u;
			slot = &t->cache[h & (STEM_CACHE_SLOTS - 1)];
			if (slot->word_len == len && !memcmp(slot->word, tok, len))
				return fn(ctx, slot->stem, slot->stem_len, w->start, w->end, 0);
		}
		s = sb_stemmer_stem(t->stemmer, (const sb_symbol *)tok, (int)len);
		if (s) {
			size_t slen = (size_t)sb_stemmer_length(t->stemmer);
			if (slot && slen < STEM_CACHE_WORD) {
				memcpy(slot->word, tok, len);
				slot->word_len = (unsigned char)len;
				memcpy(slot->stem, s, slen);
				slot->stem_len = (unsigned char)slen;
			}
			tok = (const char *)s;
			len = slen;
		}
	}
	return fn(ctx, tok, len, w->start, w->end, 0);
}

/* A run of CJK characters at text[start..end): unigrams and colocated
 * bigrams for documents; bigrams (or the lone unigram) for queries. */
static int emit_cjk_run(const char *text, const size_t *offs, size_t count, enum tokenize_mode mode,
			token_fn fn, void *ctx)
{
	size_t i;
	int rc;

	assert(count >= 1); /* offs[0..count] are set, offs[count] the end */
	for (i = 0; i < count; i++) {
		size_t s = offs[i], e = offs[i + 1];
		if (mode == TOKENIZE_DOCUMENT || count == 1) {
			rc = fn(ctx, text + s, e - s, s, e, 0);
			if (rc)
				return rc;
		}
		if (i + 1 < count) {
			size_t e2 = offs[i + 2];
			rc = fn(ctx, text + s, e2 - s, s, e2, mode == TOKENIZE_DOCUMENT);
			if (rc)
				return rc;
		}
	}
	return 0;
}

#define CJK_RUN_MAX 256

static int ascii_word_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int tokenizer_run(struct tokenizer *t, const char *text, size_t len, enum tokenize_mode mode, token_fn fn,
		  void *ctx)
{
	const unsigned char *p = (const unsigned char *)text;
	struct word w;
	size_t offs[CJK_RUN_MAX + 1];
	size_t n_cjk = 0, i = 0;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	w.ascii_letters_only = 1;
	while (i <= len) {
		/* Fast path: ASCII letters and digits extend the current word
		 * (most text is ASCII; this skips decoding and the tables). */
		if (i < len && !n_cjk && p[i] < 0x80 && ascii_word_char(p[i])) {
			/* The whole ASCII run at once, in locals: stores through
			 * the char buffer would otherwise make the compiler
			 * reload w's fields after every byte. */
			size_t wl = w.len;
			int letters = w.ascii_letters_only;
			if (!wl)
				w.start = i;
			do {
				unsigned char c = p[i];
				if (wl < TOKEN_MAX_BYTES) {
					if (c >= 'A' && c <= 'Z')
						c = (unsigned char)(c + 32);
					else if (c < 'a')
						letters = 0; /* a digit */
					w.buf[wl++] = (char)c;
				}
				i++;
			} while (i < len && p[i] < 0x80 && ascii_word_char(p[i]));
			w.len = wl;
			w.ascii_letters_only = letters;
			w.end = i;
			continue;
		}
		/* Fast path: an ASCII separator after ASCII (spaces and
		 * punctuation between English words) ends the word, if any. */
		if (i < len && !n_cjk && p[i] < 0x80) {
			if (w.len) {
				rc = emit_word(t, &w, fn, ctx);
				if (rc)
					return rc;
				w.len = 0;
				w.ascii_letters_only = 1;
			}
			i++;
			continue;
		}
		uint32_t cp = 0;
		size_t k = 1;
		int cjk, sep;

		if (i < len)
			k = utf8_decode(p + i, len - i, &cp);
		else
			cp = ' ';                            /* flush at the end */
		assert(k >= 1 && k <= len - i + (i == len)); /* the loop moves on and stays in text */
		cjk = i < len && utf8_is_cjk(cp);
		sep = !cjk && (cp < 0x80 ? !ascii_word_char((unsigned char)cp) : is_separator(cp));
		/* A CJK run ends at any non-CJK character, or when full. */
		if (n_cjk && (!cjk || n_cjk == CJK_RUN_MAX)) {
			offs[n_cjk] = i;
			rc = emit_cjk_run(text, offs, n_cjk, mode, fn, ctx);
			n_cjk = 0;
			if (rc)
				return rc;
		}
		if ((sep || cjk) && w.len) {
			rc = emit_word(t, &w, fn, ctx);
			if (rc)
				return rc;
			w.len = 0;
			w.ascii_letters_only = 1;
		}
		if (cjk) {
			assert(n_cjk < CJK_RUN_MAX); /* a full run was emitted above */
			offs[n_cjk++] = i;
		} else if (!sep && !is_combining(cp)) {
			if (!w.len)
				w.start = i;
			if (w.len + 4 <= TOKEN_MAX_BYTES) {
				size_t before = w.len, j;
				w.len += fold(cp, w.buf + w.len);
				assert(w.len <= TOKEN_MAX_BYTES); /* fold writes 4 bytes at most */
				for (j = before; j < w.len; j++)
					if (!(w.buf[j] >= 'a' && w.buf[j] <= 'z'))
						w.ascii_letters_only = 0;
			}
			w.end = i + k;
		} else if (is_combining(cp) && w.len) {
			w.end = i + k; /* a combining mark belongs to the word, unwritten */
		}
		i += k;
	}
	return 0;
}

/* ---- FTS5 glue ---- */

struct fts5_ctx {
	void *pCtx;
	int (*xToken)(void *, int, const char *, int, int, int);
};

static int fts5_token(void *ctx, const char *tok, size_t len, size_t start, size_t end, int colocated)
{
	struct fts5_ctx *c = ctx;

	return c->xToken(c->pCtx, colocated ? FTS5_TOKEN_COLOCATED : 0, tok, (int)len, (int)start, (int)end);
}

static int fts5_create(void *unused, const char **args, int n_args, Fts5Tokenizer **out)
{
	int stem = 1, i;

	(void)unused;
	for (i = 0; i < n_args; i++)
		if (!strcmp(args[i], "nostem"))
			stem = 0;
	*out = (Fts5Tokenizer *)tokenizer_new(stem);
	return *out ? SQLITE_OK : SQLITE_NOMEM;
}

static void fts5_delete(Fts5Tokenizer *t) { tokenizer_free((struct tokenizer *)t); }

static int fts5_tokenize(Fts5Tokenizer *t, void *pCtx, int flags, const char *text, int n,
			 int (*xToken)(void *, int, const char *, int, int, int))
{
	struct fts5_ctx c = {pCtx, xToken};

	if (n < 0)
		return SQLITE_ERROR;
	return tokenizer_run((struct tokenizer *)t, text, (size_t)n,
			     (flags & FTS5_TOKENIZE_QUERY) ? TOKENIZE_QUERY : TOKENIZE_DOCUMENT, fts5_token,
			     &c);
}

fts5_api *tokenize_fts5_api(sqlite3 *db, struct q_error *err)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK) {
		q_error_set(err, Q_EUNSUPPORTED, "this SQLite has no FTS5: %s", sqlite3_errmsg(db));
		return NULL;
	}
	sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (!api)
		q_error_set(err, Q_EUNSUPPORTED, "this SQLite has no FTS5");
	return api;
}

int tokenizer_register_fts5(sqlite3 *db, struct q_error *err)
{
	static fts5_tokenizer api_tok = {fts5_create, fts5_delete, fts5_tokenize};
	fts5_api *api = tokenize_fts5_api(db, err);

	if (!api)
		return Q_EUNSUPPORTED;
	if (api->xCreateTokenizer(api, "quarry", NULL, &api_tok, NULL) != SQLITE_OK)
		return q_error_set(err, Q_ENOMEM, "cannot register the quarry tokenizer: %s",
				   sqlite3_errmsg(db));
	return 0;
}
