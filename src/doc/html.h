/*
 * html.h - main-content extraction from HTML.
 *
 * Input must already be UTF-8 (see charset.h). The extractor parses with
 * libxml2's forgiving HTML parser, finds the element that holds what a
 * reader came for, and renders it as text or Markdown. Metadata (title,
 * author, date, language, site name, description) comes from <title>,
 * <meta>, Open Graph, JSON-LD and the page's own markup.
 *
 * The approach and the numbers behind it are in html_extract.c.
 * Thread-safe (no shared state beyond libxml2's, which is initialised by
 * doc_global_init).
 */
#ifndef Q_HTML_H
#define Q_HTML_H

#include <stddef.h>

#include "doc.h"

/* Inputs larger than this are refused rather than parsed. */
#define HTML_MAX_INPUT_BYTES (64u * 1024 * 1024)

/*
 * Extract main content and metadata from utf8[0..len) into out (whose
 * title, author, ... and text it sets). Returns 0, Q_EPARSE when libxml2
 * gives up, Q_ETOOBIG past HTML_MAX_INPUT_BYTES, Q_ETIMEOUT past
 * opt->deadline_ms or on opt->cancel, Q_ENOMEM. A page cut at a parsing
 * limit (html_int.h) returns 0 with out->note saying which.
 * An HTML page with no content yields 0 and empty text.
 */
int html_extract(const char *utf8, size_t len, const struct doc_options *opt, struct doc *out,
		 struct q_error *err);

/* 1 if the extractor's table of tag kinds is in order (a unit test). */
int html_tags_sorted(void);

#endif
