/*
 * text.c - language guess, quote checking, URL keys, passage ranking
 * (see text.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/utf8.h"
#include "../index/split.h"
#include "../index/tokenize.h"
#include "../net/url.h"
#include "text.h"

#define MAX_QUERY_TERMS 64
#define MIN_QUOTE_CHARS 12
#define QUOTE_NORM_MAX_BYTES (64 * 1024) /* a model's quote normalised: a sentence or a few rows */

/*
 * Latin-script languages by their most frequent short words: a question
 * of ten words holds two or three of them, and they rarely overlap (the
 * shared ones, "que", "de", "a", are left out). Accented letters that
 * mark one language count too. The winner needs two hits and more than
 * English; a question with letters but no clear winner is "und" (the
 * prompts then ask for the question's own language).
 */
struct lang_words {
	const char *lang;
	const char *words; /* space-separated, with a space at both ends */
	const char *marks; /* UTF-8 letters that mark the language */
};

static const struct lang_words latin_langs[] = {
	{"en",
	 " the and of is are was were what how why did does to in for which who when with "
	 "on from by each ",
	 ""},
	{"fr",
	 " le la les des est et du une ont aux pour dans sont comment quels quelles qui "
	 "pourquoi cette sur ",
	 "çéèêàùâîô"},
	{"de",
	 " der die das und ist nicht wie haben mit den für von auf warum welche wurde im "
	 "dem des ein eine ",
	 "äöüß"},
	{"es",
	 " el los las del por una cómo qué para con es son cuál cuáles fue han por qué en "
	 "lo ",
	 "ñ¿¡áíóú"},
	{"pt", " os não uma com para do da como são em foi qual quais dos das porque ", "ãõçáê"},
	{"it", " il gli che della sono come per una non di del nel perché quale quali delle è ", "àèìòù"},
};

/* How many of table's words s holds (as whole words, case folded), and
 * of its marks. */
static int lang_hits(const char *s, const struct lang_words *l)
{
	char word[64];
	size_t i = 0, n = strlen(s), w;
	int hits = 0;

	while (i < n) {
		while (i < n && !(((unsigned char)s[i] | 0x20) >= 'a' && ((unsigned char)s[i] | 0x20) <= 'z') &&
		       (unsigned char)s[i] < 0x80)
			i++;
		w = 0;
		word[w++] = ' ';
		while (i < n && w < sizeof(word) - 2 &&
		       (((unsigned char)s[i] | 0x20) >= 'a' && ((unsigned char)s[i] | 0x20) <= 'z'
				? 1
				: (unsigned char)s[i] >= 0x80)) {
			char c = s[i++];
			word[w++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		while (i < n && (unsigned char)s[i] >= 0x80) /* the rest of an overlong word */
			i++;
		word[w++] = ' ';
		word[w] = '\0';
		if (w > 2 && strstr(l->words, word))
			hits++;
		if (i < n && w <= 2)
			i++;
	}
	for (i = 0; l->marks[i];) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)l->marks + i, strlen(l->marks + i), &cp);
		char mark[8];
		if (k == 0)
			break;
		memcpy(mark, l->marks + i, k);
		mark[k] = '\0';
		if (strstr(s, mark))
			hits++;
		i += k;
	}
	return hits;
}

const char *text_guess_lang(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), han = 0, kana = 0, hangul = 0, cyr = 0, letters = 0, i = 0;
	int best = 0, best_hits = 0, j;

	while (i < n) {
		uint32_t cp;
		size_t k = utf8_decode(p + i, n - i, &cp);
		if (k == 0)
			k = 1;
		if (cp >= 0x3040 && cp <= 0x30FF)
			kana++;
		else if ((cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x1100 && cp <= 0x11FF) ||
			 (cp >= 0x3130 && cp <= 0x318F))
			hangul++;
		else if (utf8_is_cjk(cp))
			han++;
		else if (cp >= 0x0400 && cp <= 0x04FF)
			cyr++;
		else if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
			letters++;
		i += k;
	}
	if (kana > 0 && kana * 5 >= han)
		return "ja";
	if (hangul > 0 && hangul * 3 >= letters)
		return "ko";
	if (han * 3 >= letters && han > 0)
		return "zh";
	if (cyr > 0 && cyr * 2 >= letters)
		return "ru";
	for (j = 0; j < (int)(sizeof(latin_langs) / sizeof(latin_langs[0])); j++) {
		int h = lang_hits(s, &latin_langs[j]);
		if (h > best_hits) {
			best_hits = h;
			best = j;
		}
	}
	if (best == 0 || best_hits < 2)
		return best_hits == 0 && letters >= 12 ? "und" : "en";
	return best_hits > lang_hits(s, &latin_langs[0]) ? latin_langs[best].lang : "en";
}

int text_normalize(const char *s, size_t n, struct qbuf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	int space = 0;

	while (i < n) {
		uint32_t cp;
		size_t k = utf8_decode(p + i, n - i, &cp);
		char buf[4];
		if (k == 0) {
			i++;
			continue;
		}
		i += k;
		if (cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0xFEFF || cp == 0xAD)
			continue;
		if (cp >= 0xFF01 && cp <= 0xFF5E) /* full-width ASCII */
			cp -= 0xFEE0;
		if (cp == 0x2018 || cp == 0x2019 || cp == 0x201B || cp == 0x2032)
			cp = '\'';
		else if (cp == 0x201C || cp == 0x201D || cp == 0x201F || cp == 0x2033)
			cp = '"';
		else if (cp >= 0x2010 && cp <= 0x2015)
			cp = '-';
		if (utf8_is_space(cp) || cp == '\t' || cp == '\n' || cp == '\r') {
			space = 1;
			continue;
		}
		if (cp == '*' || cp == '`' || cp == '#' || cp == '_') /* Markdown marks */
			continue;
		if (space && out->len > 0)
			qbuf_addc(out, ' ');
		space = 0;
		if (cp < 0x80) {
			qbuf_addc(out, (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
			continue;
		}
		qbuf_add(out, buf, utf8_encode(cp, buf));
	}
	return out->err;
}

/* Trim spaces and surrounding quote marks of a normalised piece. */
static void trim_piece(const char **s, size_t *n)
{
	while (*n > 0 && strchr(" \"'", (*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && strchr(" \"'", (*s)[*n - 1]))
		(*n)--;
}

/* A Markdown table's separator row ("| --- | :-: |"), or a blank line. */
static int separator_row(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr("|-: \t\r", s[i]))
			return 0;
	return 1;
}

int text_quote_rows(const char *norm_source, const char *quote, struct qbuf *kept, int *dropped)
{
	const char *p = quote;
	int found = 0;

	*dropped = 0;
	if (!strchr(quote, '\n')) {
		if (!text_quote_found(norm_source, quote))
			return 0;
		qbuf_adds(kept, quote);
		return 1;
	}
	while (*p) {
		size_t n = strcspn(p, "\n");
		char *row = q_strndup(p, n);
		if (!row)
			return 0;
		if (separator_row(row, n)) {
			if (n > 0 && found > 0) /* keeps the block a table */
				qbuf_addf(kept, "\n%s", row);
		} else if (text_quote_found(norm_source, row)) {
			qbuf_addf(kept, "%s%s", kept->len ? "\n" : "", row);
			found++;
		} else {
			(*dropped)++;
		}
		q_free(row);
		p += n + (p[n] == '\n');
	}
	return found;
}

int text_quote_found(const char *norm_source, const char *quote)
{
	struct qbuf q;
	const char *p, *from = norm_source;
	size_t total = 0;
	int ok = 1;

	qbuf_init(&q, QUOTE_NORM_MAX_BYTES);
	if (text_normalize(quote, strlen(quote), &q) || q.len == 0) {
		qbuf_release(&q);
		return 0;
	}
	p = qbuf_cstr(&q);
	while (*p && ok) {
		/* The next piece ends at "..." or "…" (E2 80 A6). */
		const char *e1 = strstr(p, "..."), *e2 = strstr(p, "\xE2\x80\xA6"), *end;
		size_t skip, n;
		const char *piece = p, *hit;
		if (e1 && (!e2 || e1 < e2)) {
			end = e1;
			skip = 3;
		} else if (e2) {
			end = e2;
			skip = 3;
		} else {
			end = p + strlen(p);
			skip = 0;
		}
		n = (size_t)(end - p);
		trim_piece(&piece, &n);
		if (n > 0) {
			char *needle = q_strndup(piece, n);
			hit = needle ? strstr(from, needle) : NULL;
			q_free(needle);
			if (!hit)
				ok = 0;
			else
				from = hit + n;
			total += n;
		}
		p = end + skip;
		while (*p == '.')
			p++;
	}
	qbuf_release(&q);
	return ok && total >= MIN_QUOTE_CHARS;
}

int text_url_key(const char *url, char *out, size_t size)
{
	struct url u;
	size_t n;

	if (url_parse(url, &u, NULL))
		return -1;
	url_drop_tracking(&u); /* the one list of trackers, in src/net/url.c */
	n = strlen(u.path);
	while (n > 1 && u.path[n - 1] == '/')
		u.path[--n] = '\0';
	snprintf(out, size, "%s%s%s%s", strncmp(u.host, "www.", 4) == 0 ? u.host + 4 : u.host, u.path,
		 u.has_query ? "?" : "", u.query);
	return 0;
}

/* ---- BM25 over passages ---- */

struct qterms {
	char term[MAX_QUERY_TERMS][TOKEN_MAX_BYTES + 1];
	int n;
};

static int collect_term(void *ctx, const char *tok, size_t len, size_t start, size_t end, int col)
{
	struct qterms *q = ctx;
	int i;

	if (len > TOKEN_MAX_BYTES || q->n >= MAX_QUERY_TERMS)
		return 0;
	for (i = 0; i < q->n; i++)
		if (strlen(q->term[i]) == len && memcmp(q->term[i], tok, len) == 0)
			return 0;
	memcpy(q->term[q->n], tok, len);
	q->term[q->n++][len] = '\0';
	return 0;
}

/* Very common English words carry no signal for ranking. */
static int stop_word(const char *t)
{
	static const char *const w[] = {
		"the",  "a",    "an", "of", "and",  "or",    "to",    "in",  "on",   "for",  "is",   "are",
		"was",  "were", "be", "it", "that", "this",  "what",  "how", "why",  "did",  "do",   "doe",
		"with", "by",   "as", "at", "from", "about", "which", "who", "when", "each", "time", NULL};
	int i;

	for (i = 0; w[i]; i++)
		if (strcmp(w[i], t) == 0)
			return 1;
	return 0;
}

struct counter {
	const struct qterms *q;
	int tf[MAX_QUERY_TERMS];
	int len;
};

static int count_term(void *ctx, const char *tok, size_t len, size_t start, size_t end, int col)
{
	struct counter *c = ctx;
	int i;

	if (!col)
		c->len++;
	for (i = 0; i < c->q->n; i++)
		if (strlen(c->q->term[i]) == len && memcmp(c->q->term[i], tok, len) == 0)
			c->tf[i]++;
	return 0;
}

/*
 * Abbreviations a document defines, as in "Selective Availability (SA)":
 * a later "SA" in that document stands for the words, so a passage that
 * only says "SA" still matches a question about selective availability.
 */
#define MAX_ALIASES 8

struct aliases {
	struct qterms abbr;                               /* the abbreviations, as terms */
	unsigned char hits[MAX_ALIASES][MAX_QUERY_TERMS]; /* query terms each stands for */
};

static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_alpha(char c) { return is_upper(c) || (c >= 'a' && c <= 'z'); }

static void find_aliases(struct tokenizer *tok, const char *text, const struct qterms *q, struct aliases *al)
{
	const char *p;

	memset(al, 0, sizeof(*al));
	for (p = strchr(text, '('); p && al->abbr.n < MAX_ALIASES; p = strchr(p + 1, '(')) {
		size_t n = 0, w;
		const char *e, *b;
		struct counter c;
		int i, hit, before = al->abbr.n;

		while (is_upper(p[1 + n]) && n < 7)
			n++;
		if (n < 2 || n > 6 || p[1 + n] != ')')
			continue;
		/* The n words before the bracket must start with its letters. */
		e = p;
		while (e > text && e[-1] == ' ')
			e--;
		b = e;
		for (w = n; w > 0; w--) {
			const char *ws = b;
			while (ws > text && (is_alpha(ws[-1]) || ws[-1] == '\''))
				ws--;
			if (ws == b || (ws[0] | 32) != (p[w] | 32))
				break;
			b = ws;
			if (w > 1) {
				if (b == text || (b[-1] != ' ' && b[-1] != '-'))
					break;
				b--;
			}
		}
		if (w > 0)
			continue;
		memset(&c, 0, sizeof(c));
		c.q = q;
		tokenizer_run(tok, b, (size_t)(e - b), TOKENIZE_DOCUMENT, count_term, &c);
		tokenizer_run(tok, p + 1, n, TOKENIZE_QUERY, collect_term, &al->abbr);
		if (al->abbr.n == before)
			continue; /* already known, or not a term */
		for (i = 0, hit = 0; i < q->n; i++)
			hit |= al->hits[before][i] = c.tf[i] > 0;
		if (!hit) /* stands for nothing asked: not worth a pass per passage */
			al->abbr.n = before;
	}
}

/* Add to c the query terms that the abbreviations in text stand for. */
static void count_aliases(struct tokenizer *tok, const char *text, size_t len, const struct aliases *al,
			  struct counter *c)
{
	struct counter ac;
	int a, i;

	if (al->abbr.n == 0)
		return;
	memset(&ac, 0, sizeof(ac));
	ac.q = &al->abbr;
	tokenizer_run(tok, text, len, TOKENIZE_DOCUMENT, count_term, &ac);
	for (a = 0; a < al->abbr.n; a++)
		for (i = 0; ac.tf[a] > 0 && i < c->q->n; i++)
			if (al->hits[a][i])
				c->tf[i] += ac.tf[a];
}

struct splitter {
	struct rpassage *v;
	size_t n, cap;
	int source;
	int err;
};

static int on_passage(void *ctx, const struct passage *p)
{
	struct splitter *s = ctx;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct rpassage *v = q_reallocarray(s->v, cap, sizeof(*v));
		if (!v) {
			s->err = Q_ENOMEM;
			return 1;
		}
		s->v = v;
		s->cap = cap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
	s->v[s->n].source = s->source;
	s->v[s->n].start = p->start;
	s->v[s->n].end = p->end;
	snprintf(s->v[s->n].heading, sizeof(s->v[s->n].heading), "%.255s", p->heading);
	s->n++;
	return 0;
}

static int by_score(const void *a, const void *b)
{
	const struct rpassage *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	if (x->source != y->source)
		return x->source - y->source;
	return x->start < y->start ? -1 : x->start > y->start;
}

int text_content_terms(const char *query)
{
	struct tokenizer *tok = tokenizer_new(1);
	struct qterms *q = q_calloc(1, sizeof(*q));
	int i, n = -1;

	if (tok && q) {
		tokenizer_run(tok, query, strlen(query), TOKENIZE_QUERY, collect_term, q);
		for (i = 0, n = 0; i < q->n; i++)
			n += !stop_word(q->term[i]);
	}
	tokenizer_free(tok);
	q_free(q);
	return n;
}

int text_rank_passages(const char *const *texts, size_t n_texts, const char *query, struct rpassage **out,
		       size_t *n)
{
	return text_rank_passages_ex(texts, NULL, n_texts, query, out, n);
}

int text_rank_passages_ex(const char *const *texts, const int *plain, size_t n_texts, const char *query,
			  struct rpassage **out, size_t *n)
{
	struct tokenizer *tok = tokenizer_new(1);
	struct qterms q;
	struct splitter sp = {0};
	int *tf = NULL, *len = NULL, df[MAX_QUERY_TERMS] = {0}, i, w = 0;
	struct aliases *al = NULL;
	double avg = 0;
	size_t k;

	*out = NULL;
	*n = 0;
	if (!tok)
		return Q_ENOMEM;
	memset(&q, 0, sizeof(q));
	tokenizer_run(tok, query, strlen(query), TOKENIZE_QUERY, collect_term, &q);
	for (i = 0; i < q.n; i++) /* drop stop words unless that leaves nothing */
		if (!stop_word(q.term[i]))
			memmove(q.term[w++], q.term[i], sizeof(q.term[i]));
	if (w > 0)
		q.n = w;
	for (k = 0; k < n_texts; k++) {
		if (!texts[k])
			continue;
		sp.source = (int)k;
		(plain && plain[k] ? split_passages_plain : split_passages)(texts[k], strlen(texts[k]),
									    on_passage, &sp);
		if (sp.err)
			break;
	}
	if (sp.err || sp.n == 0) {
		tokenizer_free(tok);
		q_free(sp.v);
		return sp.err;
	}
	tf = q_calloc(sp.n * MAX_QUERY_TERMS, sizeof(int));
	len = q_calloc(sp.n, sizeof(int));
	al = q_malloc(sizeof(*al));
	if (!tf || !len || !al) {
		tokenizer_free(tok);
		q_free(sp.v);
		q_free(tf);
		q_free(len);
		q_free(al);
		return Q_ENOMEM;
	}
	for (k = 0; k < sp.n; k++) {
		struct counter c;
		const struct rpassage *p = &sp.v[k];
		if (k == 0 || p->source != sp.v[k - 1].source)
			find_aliases(tok, texts[p->source], &q, al);
		memset(&c, 0, sizeof(c));
		c.q = &q;
		tokenizer_run(tok, texts[p->source] + p->start, p->end - p->start, TOKENIZE_DOCUMENT,
			      count_term, &c);
		count_aliases(tok, texts[p->source] + p->start, p->end - p->start, al, &c);
		/* The heading counts too: a passage under "Selective Availability" is about it. */
		tokenizer_run(tok, p->heading, strlen(p->heading), TOKENIZE_DOCUMENT, count_term, &c);
		memcpy(&tf[k * MAX_QUERY_TERMS], c.tf, sizeof(c.tf));
		len[k] = c.len;
		avg += c.len;
		for (i = 0; i < q.n; i++)
			df[i] += c.tf[i] > 0;
	}
	avg /= (double)sp.n;
	if (avg < 1)
		avg = 1;
	for (k = 0; k < sp.n; k++) {
		double s = 0;
		int matched = 0;
		for (i = 0; i < q.n; i++) {
			double f = tf[k * MAX_QUERY_TERMS + i], idf;
			if (f <= 0)
				continue;
			matched++;
			idf = log(1.0 + ((double)sp.n - df[i] + 0.5) / (df[i] + 0.5));
			s += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * len[k] / avg));
		}
		/* Passages that cover more of the question rank higher. */
		sp.v[k].score = s * (1.0 + 0.5 * matched / (q.n ? q.n : 1));
		sp.v[k].matched = matched;
		sp.v[k].n_terms = q.n;
	}
	qsort(sp.v, sp.n, sizeof(*sp.v), by_score);
	tokenizer_free(tok);
	q_free(tf);
	q_free(len);
	q_free(al);
	*out = sp.v;
	*n = sp.n;
	return 0;
}

int text_key_sentence(const char *text, size_t start, size_t end, const char *query, size_t *s_start,
		      size_t *s_end)
{
	struct tokenizer *tok = tokenizer_new(1);
	struct qterms q;
	size_t i = start, best_s = 0, best_e = 0;
	int best = -1;

	if (!tok)
		return -1;
	memset(&q, 0, sizeof(q));
	tokenizer_run(tok, query, strlen(query), TOKENIZE_QUERY, collect_term, &q);
	while (i < end) {
		size_t j = i, k;
		struct counter c;
		int score = 0, t;
		/* A sentence ends after . ! ? or a CJK full stop, or at a line end. */
		while (j < end) {
			uint32_t cp;
			k = utf8_decode((const unsigned char *)text + j, end - j, &cp);
			if (k == 0)
				k = 1;
			j += k;
			if (cp == '\n' || utf8_is_sentence_end(cp))
				if (cp == '\n' || j >= end || text[j] == ' ' || text[j] == '\n' || cp > 0x7f ||
				    (text[j] == '[' && j + 1 < end && text[j + 1] >= '0' &&
				     text[j + 1] <= '9')) /* "signals.[12] The": a page's own mark */
					break;
		}
		memset(&c, 0, sizeof(c));
		c.q = &q;
		tokenizer_run(tok, text + i, j - i, TOKENIZE_DOCUMENT, count_term, &c);
		for (t = 0; t < q.n; t++)
			score += (c.tf[t] > 0) * (stop_word(q.term[t]) ? 1 : 4);
		if (score > best && c.len >= 4) {
			best = score;
			best_s = i;
			best_e = j;
		}
		i = j;
		while (i < end && (text[i] == ' ' || text[i] == '\n'))
			i++;
	}
	tokenizer_free(tok);
	if (best <= 0)
		return -1;
	while (best_e > best_s && (text[best_e - 1] == '\n' || text[best_e - 1] == ' '))
		best_e--;
	*s_start = best_s;
	*s_end = best_e;
	return 0;
}
