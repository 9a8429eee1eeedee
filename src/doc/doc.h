/*
 * doc.h - a document turned into readable text, whatever it came from.
 *
 * struct doc is what every reader (HTML, PDF, DOCX, Markdown, text)
 * fills in and what fetch/extract print. doc_extract() picks the reader
 * from the content type (or by sniffing the bytes) and converts the
 * charset first. Callers own the doc and release it with doc_release.
 *
 * Thread safety: doc_extract may run in several threads at once on
 * different inputs (libxml2 is initialised once by doc_global_init).
 */
#ifndef Q_DOC_H
#define Q_DOC_H

#include <stddef.h>

#include "../core/err.h"

/* Caps on what we accept and produce. */
#define DOC_MAX_TEXT_BYTES (64u * 1024 * 1024) /* extracted text */
#define DOC_MAX_META_BYTES 1024                /* title, author, ... */
#define DOC_NOTE_MAX 160                       /* doc.note */

enum doc_format {
	DOC_FORMAT_TEXT = 0,    /* plain paragraphs, "- " list items */
	DOC_FORMAT_MARKDOWN = 1 /* headings as #, lists, tables, code fences */
};

enum doc_kind {
	DOC_KIND_UNKNOWN = 0,
	DOC_KIND_HTML,
	DOC_KIND_PDF,
	DOC_KIND_DOCX,
	DOC_KIND_MARKDOWN,
	DOC_KIND_TEXT
};

/* What kind of page an HTML document declares itself to be (schema.org
 * JSON-LD, Open Graph) or its address suggests. */
enum doc_page_type {
	DOC_PAGE_UNKNOWN = 0,
	DOC_PAGE_ARTICLE,
	DOC_PAGE_PRODUCT,
	DOC_PAGE_FORUM /* a discussion: its replies are the content */
};

/* An extracted document. All strings are UTF-8 and owned; NULL if absent. */
struct doc {
	enum doc_kind kind; /* what the input was read as */
	char charset[32];   /* source encoding, "" if not applicable */
	char *title;
	char *author;
	char *date; /* published date as found (ISO 8601 if given so) */
	char *lang; /* language tag, e.g. "en", "zh-CN" */
	char *site_name;
	char *description;
	enum doc_page_type page_type;
	char *text; /* main content, in the requested format */
	size_t text_len;
	char note[DOC_NOTE_MAX]; /* "" or why only part was read, e.g. "the
				  * page was cut: it has more than 500000 tags" */
};

/* Options for doc_extract; zero-initialise for defaults. */
struct doc_options {
	enum doc_format format;
	const char *base_url;     /* the document's address, may be NULL */
	const char *content_type; /* e.g. "text/html; charset=gbk", may be NULL */
	const char *filename;     /* used for the extension when sniffing */
	unsigned pdf_timeout_s;   /* pdftotext wall limit; 0 = 30 s */
	double deadline_ms;       /* q_now_ms() by which extraction gives up
				     * (Q_ETIMEOUT); 0 = none */
	volatile int *cancel;     /* non-zero: give up soon (Q_ETIMEOUT,
				     * "cancelled"); may be NULL */
};

/* Initialise libraries once per process, before any thread uses doc_*. */
void doc_global_init(void);

/*
 * Turn data[0..len) into a doc. Returns 0 or a Q_E* code with err set:
 * Q_EUNSUPPORTED for content we do not read (images, archives, binaries),
 * Q_EEMPTY when nothing readable came out, Q_ETIMEOUT when the deadline
 * passed or cancel was set (checked while parsing and scoring).
 * A page cut at a parsing limit (html_int.h, docs/SECURITY.md) returns 0
 * with the text of what came before the cut and out->note saying so.
 */
int doc_extract(const char *data, size_t len, const struct doc_options *opt, struct doc *out,
		struct q_error *err);

/* Guess the kind from a content type, then the bytes, then the filename. */
enum doc_kind doc_sniff(const char *data, size_t len, const char *content_type, const char *filename);

const char *doc_kind_name(enum doc_kind kind);
/* "article", "product", "forum", or NULL when not known. */
const char *doc_page_type_name(enum doc_page_type type);

/* Free everything the doc owns and zero it. */
void doc_release(struct doc *doc);

#endif
