/*
 * split.c - passages from Markdown text (see split.h).
 */
#include "split.h"

#include <string.h>

#include "../core/utf8.h"

struct splitter {
	const char *text;
	passage_fn fn;
	void *ctx;
	char headings[SPLIT_MAX_DEPTH][SPLIT_MAX_HEADING_BYTES / 2];
	int depth;          /* levels in use */
	struct passage cur; /* passage being built; words == 0 if none */
	int open;
	int plain; /* plain text: "# " lines are not headings */
};

/* Words in s[0..n): runs of non-space characters, CJK counting 1/2 each. */
static int count_words(const char *s, size_t n, size_t *cjk_out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, cjk = 0;
	int words = 0, in_word = 0;

	while (i < n) {
		uint32_t cp;
		size_t k;
		if (p[i] < 0x80) { /* ASCII, most text: no decoding */
			int space = p[i] == ' ' || (p[i] >= 0x09 && p[i] <= 0x0D);
			if (!space && !in_word)
				words++;
			in_word = !space;
			i++;
			continue;
		}
		k = utf8_decode(p + i, n - i, &cp);
		if (utf8_is_cjk(cp)) {
			cjk++;
			in_word = 0;
		} else if (utf8_is_space(cp)) {
			in_word = 0;
		} else if (!in_word) {
			in_word = 1;
			words++;
		}
		i += k;
	}
	if (cjk_out)
		*cjk_out = cjk;
	return words + (int)(cjk / 2);
}

static void heading_path(struct splitter *s, char *out)
{
	size_t k = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < s->depth; i++) {
		size_t n = strlen(s->headings[i]);
		if (!n)
			continue;
		if (k && k + 3 < SPLIT_MAX_HEADING_BYTES) {
			memcpy(out + k, " > ", 3);
			k += 3;
		}
		if (k + n >= SPLIT_MAX_HEADING_BYTES) {
			/* Cut, but never inside a UTF-8 sequence. */
			n = SPLIT_MAX_HEADING_BYTES - 1 - k;
			while (n > 0 && ((unsigned char)s->headings[i][n] & 0xC0) == 0x80)
				n--;
		}
		memcpy(out + k, s->headings[i], n);
		k += n;
		out[k] = '\0';
	}
}

static int flush(struct splitter *s)
{
	int rc = 0;

	if (s->open && s->cur.words > 0)
		rc = s->fn(s->ctx, &s->cur);
	s->open = 0;
	s->cur.words = 0;
	return rc;
}

static int add_span(struct splitter *s, size_t start, size_t end, int words)
{
	if (!s->open) {
		s->open = 1;
		s->cur.start = start;
		s->cur.words = 0;
		heading_path(s, s->cur.heading);
	}
	s->cur.end = end;
	s->cur.words += words;
	return s->cur.words >= SPLIT_TARGET_WORDS ? flush(s) : 0;
}

/* A paragraph too long for one passage: cut after sentence ends. */
static int add_long_paragraph(struct splitter *s, size_t start, size_t end)
{
	const unsigned char *p = (const unsigned char *)s->text;
	size_t piece = start, i = start;
	int rc;

	while (i < end) {
		uint32_t cp;
		size_t k = utf8_decode(p + i, end - i, &cp);
		i += k;
		if ((utf8_is_sentence_end(cp) && (i >= end || p[i] == ' ' || p[i] == '\n' || cp >= 0x80)) ||
		    i >= end) {
			int w = count_words(s->text + piece, i - piece, NULL);
			if (s->open && s->cur.words + w > SPLIT_MAX_WORDS && (rc = flush(s)))
				return rc;
			if ((rc = add_span(s, piece, i, w)))
				return rc;
			piece = i;
		}
	}
	return 0;
}

static int heading_level(const struct splitter *s, const char *line, size_t n)
{
	size_t i = 0;

	if (s->plain) /* a "# " line of a .txt file or a script is a comment, not structure */
		return 0;
	while (i < n && line[i] == '#' && i < 7)
		i++;
	return (i >= 1 && i <= 6 && i < n && line[i] == ' ') ? (int)i : 0;
}

static int handle_block(struct splitter *s, size_t start, size_t end)
{
	const char *b = s->text + start;
	size_t n = end - start;
	int level = heading_level(s, b, n), words, rc;

	if (level) {
		size_t h = (size_t)level + 1, hl;
		if ((rc = flush(s)))
			return rc;
		if (level > SPLIT_MAX_DEPTH)
			level = SPLIT_MAX_DEPTH;
		hl = n - h < sizeof(s->headings[0]) - 1 ? n - h : sizeof(s->headings[0]) - 1;
		while (hl > 0 && hl < n - h && ((unsigned char)b[h + hl] & 0xC0) == 0x80)
			hl--; /* cut at a character boundary */
		memcpy(s->headings[level - 1], b + h, hl);
		s->headings[level - 1][hl] = '\0';
		s->depth = level;
		return 0;
	}
	words = count_words(b, n, NULL);
	if (words > SPLIT_MAX_WORDS)
		return add_long_paragraph(s, start, end);
	/* Keep passages under the maximum: close the current one first. */
	if (s->open && s->cur.words + words > SPLIT_MAX_WORDS && (rc = flush(s)))
		return rc;
	return add_span(s, start, end, words);
}

static int split_run(const char *text, size_t len, int plain, passage_fn fn, void *ctx)
{
	struct splitter s;
	size_t i = 0;
	int rc;

	memset(&s, 0, sizeof(s));
	s.plain = plain;
	s.text = text;
	s.fn = fn;
	s.ctx = ctx;
	while (i < len) {
		size_t start, end;

		while (i < len && (text[i] == '\n' || text[i] == ' '))
			i++;
		if (i >= len)
			break;
		start = i;
		/* A block ends at a blank line, or a heading line ends on its own. */
		while (i < len) {
			const char *nl = memchr(text + i, '\n', len - i);
			size_t line_end = nl ? (size_t)(nl - text) : len;
			int heading = heading_level(&s, text + start, line_end - start) && i == start;
			i = line_end;
			if (heading || i >= len || (i + 1 < len && text[i + 1] == '\n') ||
			    heading_level(&s, text + i + 1, len - i - 1))
				break;
			i++;
		}
		end = i;
		if ((rc = handle_block(&s, start, end)))
			return rc;
	}
	return flush(&s);
}

int split_passages(const char *text, size_t len, passage_fn fn, void *ctx)
{
	return split_run(text, len, 0, fn, ctx);
}

int split_passages_plain(const char *text, size_t len, passage_fn fn, void *ctx)
{
	return split_run(text, len, 1, fn, ctx);
}
