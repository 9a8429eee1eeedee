/*
 * docx.h - text from Word (.docx) documents.
 *
 * Reads word/document.xml out of the archive (zip.h) and streams it:
 * paragraphs, headings (Heading1-9 and Title styles), list paragraphs,
 * tables (one line per row), tabs and line breaks. Title, author and date
 * come from docProps/core.xml. Thread-safe.
 */
#ifndef Q_DOCX_H
#define Q_DOCX_H

#include <stddef.h>

#include "doc.h"

/* Largest uncompressed XML part we inflate. */
#define DOCX_MAX_XML_BYTES (64u * 1024 * 1024)
/* ... and docProps/core.xml (title, author, date), parsed whole. */
#define DOCX_MAX_CORE_BYTES (1u * 1024 * 1024)
/* Elements of word/document.xml read before the rest is left out (a
 * 500-page book has ~300,000); the deadline is looked at every
 * DOCX_CHECK_EVERY elements. */
#define DOCX_MAX_NODES 4000000u
#define DOCX_CHECK_EVERY 4096

/*
 * Read data[0..len) as DOCX into out (format, deadline and cancel from
 * opt, which may be NULL). word/document.xml is streamed, never built as
 * a tree. Returns 0 (out->note set when cut at DOCX_MAX_NODES),
 * Q_EPARSE for a damaged file, Q_ETOOBIG, Q_ETIMEOUT, Q_ENOMEM.
 */
int docx_extract(const char *data, size_t len, const struct doc_options *opt, struct doc *out,
		 struct q_error *err);

#endif
