/*
 * split.h - cut a document's text into passages for the index.
 *
 * Input is extracted text in Markdown form (doc.h, DOC_FORMAT_MARKDOWN):
 * paragraphs separated by blank lines, headings as "# ...". Passages are
 * runs of whole paragraphs of about SPLIT_TARGET_WORDS words that never
 * cross a heading; a paragraph longer than SPLIT_MAX_WORDS is cut at
 * sentence ends. Each passage keeps its heading path ("Setup > Linux")
 * and its byte span in the text, so a citation can point at it exactly.
 * A CJK character counts as half a word. Pure, thread-safe.
 */
#ifndef Q_SPLIT_H
#define Q_SPLIT_H

#include <stddef.h>

#define SPLIT_TARGET_WORDS 200
#define SPLIT_MAX_WORDS 300
#define SPLIT_MAX_HEADING_BYTES 512
#define SPLIT_MAX_DEPTH 6

struct passage {
	size_t start, end;                     /* byte span in the text */
	char heading[SPLIT_MAX_HEADING_BYTES]; /* "A > B", "" at top level */
	int words;
};

/* Called per passage, in order; non-zero stops and is returned. */
typedef int (*passage_fn)(void *ctx, const struct passage *p);

int split_passages(const char *text, size_t len, passage_fn fn, void *ctx);
/* The same for plain text (a .txt file, source code): no line is a
 * heading there, so "# comment" lines stay prose and passages have none. */
int split_passages_plain(const char *text, size_t len, passage_fn fn, void *ctx);

#endif
