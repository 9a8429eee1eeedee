/*
 * docx.h - text from Word (.docx) documents.
 *
 * Reads word/document.xml out of the archive (zip.h) and walks it:
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

int docx_extract(const char *data, size_t len, enum doc_format format,
		 struct q_doc *out, struct q_error *err);

#endif
