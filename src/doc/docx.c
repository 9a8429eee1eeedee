/*
 * docx.c - DOCX to text (see docx.h).
 */
#include "docx.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/qbuf.h"
#include "xmlwalk.h"
#include "zip.h"

struct docx_walk {
	struct qbuf *out;
	struct qbuf para;
	struct qbuf row;
	enum doc_format format;
	int heading;       /* level of the current paragraph, 0 = body */
	int list;          /* current paragraph is a list item */
	int in_cell;       /* inside a table cell */
};

static const char *wattr(const xmlNode *n, const char *local)
{
	xmlAttr *a;

	for (a = n->properties; a; a = a->next)
		if (!strcmp((const char *)a->name, local) && a->children && a->children->content)
			return (const char *)a->children->content;
	return NULL;
}

static int is(const xmlNode *n, const char *local)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, local);
}

static void style_of(struct docx_walk *w, const xmlNode *pstyle)
{
	const char *v = wattr(pstyle, "val");

	if (!v)
		return;
	if (!strncmp(v, "Heading", 7) && v[7] >= '1' && v[7] <= '9')
		w->heading = v[7] - '0' > 6 ? 6 : v[7] - '0';
	else if (!strcmp(v, "Title"))
		w->heading = 1;
	else if (!strncmp(v, "List", 4))
		w->list = 1;
}

static void end_paragraph(struct docx_walk *w)
{
	struct qbuf *p = &w->para;

	qbuf_rtrim(p, " \t\n");
	if (p->len) {
		if (w->in_cell) {
			char last = w->row.len ? w->row.data[w->row.len - 1] : ' ';
			if (last != ' ' && last != '\t')
				qbuf_addc(&w->row, ' ');
			qbuf_add(&w->row, p->data, p->len);
		} else {
			if (w->out->len)
				qbuf_adds(w->out, w->list ? "" : "\n");
			if (w->heading && w->format == DOC_FORMAT_MARKDOWN) {
				qbuf_add(w->out, "######", (size_t)w->heading);
				qbuf_addc(w->out, ' ');
			} else if (w->list) {
				qbuf_adds(w->out, "- ");
			}
			qbuf_add(w->out, p->data, p->len);
			qbuf_addc(w->out, '\n');
		}
	}
	qbuf_reset(p);
	w->heading = 0;
	w->list = 0;
}

static void enter(struct docx_walk *w, xmlNode *n)
{
	if (is(n, "pStyle"))
		style_of(w, n);
	else if (is(n, "numPr"))
		w->list = 1;
	else if (is(n, "tab"))
		qbuf_addc(&w->para, '\t');
	else if (is(n, "br") || is(n, "cr"))
		qbuf_addc(&w->para, '\n');
	else if (is(n, "tc"))
		w->in_cell = 1;
	else if (is(n, "tr"))
		qbuf_reset(&w->row);
}

static void leave(struct docx_walk *w, xmlNode *n)
{
	if (is(n, "p")) {
		end_paragraph(w);
	} else if (is(n, "tc")) {
		w->in_cell = 0;
		qbuf_adds(&w->row, w->format == DOC_FORMAT_MARKDOWN ? " | " : "\t");
	} else if (is(n, "tr")) {
		qbuf_rtrim(&w->row, " |\t");
		if (w->row.len) {
			qbuf_add(w->out, w->row.data, w->row.len);
			qbuf_addc(w->out, '\n');
		}
		qbuf_reset(&w->row);
	}
}

static int docx_visit(xmlNode *n, void *ctx)
{
	struct docx_walk *w = ctx;

	if (n->type == XML_ELEMENT_NODE) {
		enter(w, n);
		return 1;
	}
	if (n->type == XML_TEXT_NODE && n->parent && is(n->parent, "t") && n->content)
		qbuf_adds(&w->para, (const char *)n->content);
	return 0;
}

static void docx_leave(xmlNode *n, void *ctx)
{
	leave(ctx, n);
}

static void walk(struct docx_walk *w, xmlNode *root)
{
	xml_walk(root, docx_visit, docx_leave, w);
	end_paragraph(w);
}

static xmlDoc *parse_part(const char *zip, size_t len, const char *name,
			  struct q_error *err)
{
	struct qbuf xml;
	xmlDoc *doc = NULL;

	qbuf_init(&xml, DOCX_MAX_XML_BYTES);
	if (zip_read_member(zip, len, name, &xml, err))
		goto out;
	/* No entity expansion and no network: the XML is untrusted. */
	doc = xmlReadMemory(qbuf_cstr(&xml), (int)xml.len, name, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		q_error_set(err, Q_EPARSE, "damaged document: %s is not well-formed XML", name);
out:
	qbuf_release(&xml);
	return doc;
}

static char *child_text(xmlNode *root, const char *local)
{
	xmlNode *n;

	for (n = root ? root->children : NULL; n; n = n->next)
		if (is(n, local) && n->children && n->children->content)
			return q_strndup((const char *)n->children->content, DOC_MAX_META_BYTES);
	return NULL;
}

static void read_core_props(const char *zip, size_t len, struct q_doc *out)
{
	xmlDoc *core = parse_part(zip, len, "docProps/core.xml", NULL);
	xmlNode *root;

	if (!core)
		return;
	root = xmlDocGetRootElement(core);
	out->title = child_text(root, "title");
	out->author = child_text(root, "creator");
	out->date = child_text(root, "created");
	out->lang = child_text(root, "language");
	xmlFreeDoc(core);
}

int docx_extract(const char *data, size_t len, enum doc_format format,
		 struct q_doc *out, struct q_error *err)
{
	struct docx_walk w;
	struct qbuf text;
	xmlDoc *doc;
	int rc;

	doc = parse_part(data, len, "word/document.xml", err);
	if (!doc) {
		rc = err && err->code ? err->code : Q_EPARSE;
		if (err && rc == Q_EPARSE) {
			char why[Q_ERROR_MSG_MAX];
			memcpy(why, err->msg, sizeof(why));
			q_error_set(err, rc, "damaged DOCX file: %s", why);
		}
		return rc;
	}
	memset(&w, 0, sizeof(w));
	qbuf_init(&text, DOC_MAX_TEXT_BYTES);
	qbuf_init(&w.para, DOC_MAX_TEXT_BYTES);
	qbuf_init(&w.row, DOC_MAX_TEXT_BYTES);
	w.out = &text;
	w.format = format;
	walk(&w, xmlDocGetRootElement(doc));
	xmlFreeDoc(doc);
	rc = text.err ? text.err : (w.para.err ? w.para.err : w.row.err);
	qbuf_release(&w.para);
	qbuf_release(&w.row);
	if (rc) {
		qbuf_release(&text);
		return q_error_set(err, rc, "document text over the size limit");
	}
	qbuf_rtrim(&text, "\n");
	out->text = qbuf_detach(&text, &out->text_len);
	if (!out->text)
		return q_error_set(err, Q_ENOMEM, "out of memory");
	read_core_props(data, len, out);
	return 0;
}
