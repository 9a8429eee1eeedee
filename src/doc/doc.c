/*
 * doc.c - choose a reader for a document and run it (see doc.h).
 */
#include "doc.h"

#include <libxml/parser.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "../core/ctl.h"
#include "../core/qbuf.h"
#include "../core/utf8.h"
#include "charset.h"
#include "docx.h"
#include "html.h"
#include "pdf.h"
#include "zip.h"

#include <zlib.h>

static int doc_extract_plain(const char *data, size_t len, const struct doc_options *opt, struct doc *out,
			     struct q_error *err);

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libs(void) { xmlInitParser(); }

void doc_global_init(void) { pthread_once(&init_once, init_libs); }

const char *doc_kind_name(enum doc_kind kind)
{
	switch (kind) {
	case DOC_KIND_HTML:
		return "html";
	case DOC_KIND_PDF:
		return "pdf";
	case DOC_KIND_DOCX:
		return "docx";
	case DOC_KIND_MARKDOWN:
		return "markdown";
	case DOC_KIND_TEXT:
		return "text";
	case DOC_KIND_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *doc_page_type_name(enum doc_page_type type)
{
	switch (type) {
	case DOC_PAGE_ARTICLE:
		return "article";
	case DOC_PAGE_PRODUCT:
		return "product";
	case DOC_PAGE_FORUM:
		return "forum";
	case DOC_PAGE_UNKNOWN:
		break;
	}
	return NULL;
}

static int ct_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	return ct && !strncasecmp(ct, type, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n, m;

	if (!s)
		return 0;
	n = strlen(s);
	m = strlen(suffix);
	return n >= m && !strcasecmp(s + n - m, suffix);
}

/* Share of bytes that cannot appear in text: NULs and C0 controls
 * other than tab, newline, carriage return and form feed. */
static int looks_binary(const char *data, size_t len)
{
	size_t i, n = len < 4096 ? len : 4096, bad = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b))
			bad++;
	}
	return n && bad * 20 > n; /* over 5% */
}

static int looks_html(const char *data, size_t len)
{
	size_t i = 0, n = len < 1024 ? len : 1024;

	if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < n && strchr(" \t\r\n", data[i]))
		i++;
	if (i < n && data[i] == '<') {
		const char *p = data + i;
		size_t left = n - i;
		static const char *const starts[] = {"<!doctype html", "<html",  "<head", "<body", "<!--",
						     "<meta",          "<title", "<div",  "<p",    "<h1",
						     "<script",        NULL};
		int k;
		for (k = 0; starts[k]; k++)
			if (left >= strlen(starts[k]) && !strncasecmp(p, starts[k], strlen(starts[k])))
				return 1;
	}
	return 0;
}

enum doc_kind doc_sniff(const char *data, size_t len, const char *ct, const char *filename)
{
	if (ct_is(ct, "text/html") || ct_is(ct, "application/xhtml+xml"))
		return DOC_KIND_HTML;
	if (ct_is(ct, "application/pdf") || ct_is(ct, "application/x-pdf"))
		return DOC_KIND_PDF;
	if (ct_is(ct, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
		return DOC_KIND_DOCX;
	if (ct_is(ct, "text/markdown") || ct_is(ct, "text/x-markdown"))
		return DOC_KIND_MARKDOWN;
	if (pdf_sniff(data, len))
		return DOC_KIND_PDF;
	if (zip_sniff(data, len))
		return ends_with(filename, ".docx") || !filename ? DOC_KIND_DOCX : DOC_KIND_UNKNOWN;
	if (looks_binary(data, len))
		return DOC_KIND_UNKNOWN;
	if (looks_html(data, len) || ends_with(filename, ".html") || ends_with(filename, ".htm") ||
	    ends_with(filename, ".xhtml"))
		return DOC_KIND_HTML;
	if (ends_with(filename, ".md") || ends_with(filename, ".markdown"))
		return DOC_KIND_MARKDOWN;
	if (ct_is(ct, "text/plain") || !ct || !strncasecmp(ct, "text/", 5))
		return DOC_KIND_TEXT;
	return DOC_KIND_UNKNOWN;
}

/* Markdown and plain text: decode, normalise line ends, trim. A Markdown
 * document's first "# " heading is its title. */
static int plain_extract(const char *utf8, size_t len, enum doc_kind kind, struct doc *out, struct q_error *err)
{
	struct qbuf b;
	size_t i;

	qbuf_init(&b, DOC_MAX_TEXT_BYTES);
	for (i = 0; i < len; i++) {
		if (utf8[i] == '\r') {
			if (i + 1 < len && utf8[i + 1] == '\n')
				continue;
			qbuf_addc(&b, '\n');
		} else {
			qbuf_addc(&b, utf8[i]);
		}
	}
	qbuf_rtrim(&b, " \t\n");
	if (b.err) {
		int rc = b.err;
		qbuf_release(&b);
		return q_error_set(err, rc, "text over the size limit");
	}
	out->text = qbuf_detach(&b, &out->text_len);
	if (!out->text)
		return q_error_set(err, Q_ENOMEM, "out of memory");
	if (kind == DOC_KIND_MARKDOWN) {
		const char *p = out->text;
		while (p && *p) {
			if (p[0] == '#' && p[1] == ' ') {
				out->title = q_strndup(p + 2, strcspn(p + 2, "\n"));
				break;
			}
			p = strchr(p, '\n');
			if (p)
				p++;
		}
	}
	return 0;
}

static int is_gzip(const char *data, size_t len)
{
	return len >= 3 && (unsigned char)data[0] == 0x1f && (unsigned char)data[1] == 0x8b && data[2] == 8;
}

/* What well-known binary format data starts with, or NULL. */
static const char *binary_magic(const char *data, size_t len)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *what;
	} magics[] = {
		{"\x89PNG\r\n\x1a\n", 8, "PNG image"},
		{"GIF87a", 6, "GIF image"},
		{"GIF89a", 6, "GIF image"},
		{"\xff\xd8\xff", 3, "JPEG image"},
		{"PK\x03\x04", 4, "ZIP archive"},
		{"\x1f\x8b", 2, "gzip data"},
		{"\x7f"
		 "ELF",
		 4, "ELF executable"},
		{"%PDF-", 5, "PDF document"},
		{"\0asm", 4, "WebAssembly module"},
		{"7z\xbc\xaf\x27\x1c", 6, "7-Zip archive"},
		{"BZh", 3, "bzip2 data"},
		{"\xfd"
		 "7zXZ",
		 5, "xz data"},
		{"\x28\xb5\x2f\xfd", 4, "zstd data"},
	};
	size_t i;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (len >= magics[i].len && !memcmp(data, magics[i].magic, magics[i].len))
			return magics[i].what;
	if (len >= 12 && !memcmp(data, "RIFF", 4) && !memcmp(data + 8, "WEBP", 4))
		return "WebP image";
	return NULL;
}

/* UTF-16 and UTF-32 text is full of NULs: a BOM or a label says so. */
static int wide_text(const char *data, size_t len, const char *ct)
{
	const unsigned char *u = (const unsigned char *)data;

	if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff)))
		return 1;
	return ct && (strcasestr(ct, "utf-16") || strcasestr(ct, "utf-32") || strcasestr(ct, "ucs-2") ||
		      strcasestr(ct, "utf16") || strcasestr(ct, "utf32"));
}

/*
 * A body labelled as text (text/html, text/plain, XHTML...) that is an
 * image, archive or program would be "extracted" as garbage: refuse it
 * with what it is. A gzip body so labelled is refused too rather than
 * inflated here (net/ decodes Content-Encoding under its byte cap; a
 * gzip file left after that is not a page).
 */
static int refuse_mislabelled(const char *data, size_t len, const struct doc_options *opt, struct q_error *err)
{
	const char *ct = opt ? opt->content_type : NULL, *what, *where;

	if (!ct || !(ct_is(ct, "application/xhtml+xml") || !strncasecmp(ct, "text/", 5)))
		return 0;
	what = binary_magic(data, len);
	if (!what && !wide_text(data, len, ct) && looks_binary(data, len))
		what = "";
	if (!what)
		return 0;
	where = opt->base_url ? opt->base_url : (opt->filename ? opt->filename : "input");
	return q_error_set(err, Q_EUNSUPPORTED,
			   "the %s at %s is binary data%s%s%s though labelled "
			   "%.*s; there is no text to read in it",
			   opt->base_url ? "page" : "file", where, *what ? " (" : "", what, *what ? ")" : "",
			   (int)strcspn(ct, "; "), ct);
}

int doc_extract(const char *data, size_t len, const struct doc_options *opt, struct doc *out,
		struct q_error *err)
{
	int refused = refuse_mislabelled(data, len, opt, err);

	if (refused) {
		memset(out, 0, sizeof(*out));
		return refused;
	}
	/* A gzipped file (a saved page.html.gz): read what is inside, once. */
	if (is_gzip(data, len)) {
		struct qbuf plain;
		struct doc_options inner;
		int rc;

		qbuf_init(&plain, DOC_MAX_TEXT_BYTES);
		memset(out, 0, sizeof(*out));
		rc = zip_inflate((const unsigned char *)data, len, 16 + MAX_WBITS, &plain, err);
		if (!rc && is_gzip(qbuf_cstr(&plain), plain.len))
			rc = q_error_set(err, Q_EUNSUPPORTED, "nested gzip content is not read");
		if (!rc) {
			char name[512];
			inner = opt ? *opt : (struct doc_options){0};
			/* "page.html.gz" is read as "page.html". */
			if (inner.filename) {
				size_t fl = strlen(inner.filename);
				if (fl > 3 && fl - 3 < sizeof(name) &&
				    !strcasecmp(inner.filename + fl - 3, ".gz")) {
					memcpy(name, inner.filename, fl - 3);
					name[fl - 3] = '\0';
					inner.filename = name;
				}
			}
			rc = doc_extract(qbuf_cstr(&plain), plain.len, &inner, out, err);
		}
		qbuf_release(&plain);
		return rc;
	}
	return doc_extract_plain(data, len, opt, out, err);
}

/* Terminal control sequences out of everything extracted, in one place for
 * every reader: a page's "ESC [ 2 J" or OSC 8 link would otherwise reach
 * the terminal as "[2J" residue, and JSON output as raw DEL and C1. HTML
 * and text are also stripped before parsing, since the HTML parser drops a
 * bare ESC and leaves the rest of its sequence as text. */
static void strip_controls(struct doc *d)
{
	char *fields[] = {d->title, d->author, d->date, d->lang, d->site_name, d->description};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i])
			ctl_strip(fields[i], strlen(fields[i]));
	if (d->text)
		d->text_len = ctl_strip(d->text, d->text_len);
}

static int doc_extract_plain(const char *data, size_t len, const struct doc_options *opt, struct doc *out,
			     struct q_error *err)
{
	static const struct doc_options defaults;
	char label[CHARSET_NAME_MAX];
	struct qbuf utf8;
	int rc;

	if (!opt)
		opt = &defaults;
	doc_global_init();
	memset(out, 0, sizeof(*out));
	out->kind = doc_sniff(data, len, opt->content_type, opt->filename);
	switch (out->kind) {
	case DOC_KIND_UNKNOWN:
		return q_error_set(err, Q_EUNSUPPORTED,
				   "unsupported content%s%s: quarry reads HTML, PDF, DOCX, Markdown and text",
				   opt->content_type ? " type " : "",
				   opt->content_type ? opt->content_type : "");
	case DOC_KIND_PDF:
		rc = pdf_extract(data, len, opt->pdf_timeout_s, out, err);
		goto done;
	case DOC_KIND_DOCX:
		rc = docx_extract(data, len, opt, out, err);
		goto done;
	default:
		break;
	}
	charset_from_content_type(opt->content_type, label);
	charset_detect(data, len, label[0] ? label : NULL, out->kind == DOC_KIND_HTML, out->charset);
	qbuf_init(&utf8, len > DOC_MAX_TEXT_BYTES ? len * 4 : DOC_MAX_TEXT_BYTES * 4);
	rc = charset_to_utf8(data, len, out->charset, &utf8, err);
	if (!rc && utf8.data) /* before parsing: libxml2 drops a bare ESC but keeps "[2J" */
		utf8.len = ctl_strip(utf8.data, utf8.len);
	if (!rc) {
		if (out->kind == DOC_KIND_HTML)
			rc = html_extract(qbuf_cstr(&utf8), utf8.len, opt, out, err);
		else
			rc = plain_extract(qbuf_cstr(&utf8), utf8.len, out->kind, out, err);
	}
	qbuf_release(&utf8);
done:
	if (rc) {
		doc_release(out);
		return rc;
	}
	strip_controls(out);
	return 0;
}

void doc_release(struct doc *doc)
{
	q_free(doc->title);
	q_free(doc->author);
	q_free(doc->date);
	q_free(doc->lang);
	q_free(doc->site_name);
	q_free(doc->description);
	q_free(doc->text);
	memset(doc, 0, sizeof(*doc));
}
