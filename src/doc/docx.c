/*
 * docx.c - DOCX to text (see docx.h).
 */
#include "docx.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <stdio.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/qbuf.h"
#include "zip.h"

struct docx_walk {
	struct qbuf *out;
	struct qbuf para;
	struct qbuf row;
	enum doc_format format;
	int heading; /* level of the current paragraph, 0 = body */
	int list;    /* current paragraph is a list item */
	int in_cell; /* inside a table cell */
};

/* Value of the current element's attribute with local name `local`
 * (w:val...), copied into buf; "" if absent. Leaves the reader on the
 * element. */
static const char *reader_attr(xmlTextReaderPtr rd, const char *local, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (xmlTextReaderMoveToFirstAttribute(rd) == 1) {
		do {
			const char *name = (const char *)xmlTextReaderConstLocalName(rd);
			const char *v = (const char *)xmlTextReaderConstValue(rd);
			if (name && v && !strcmp(name, local)) {
				snprintf(buf, cap, "%s", v);
				break;
			}
		} while (xmlTextReaderMoveToNextAttribute(rd) == 1);
		xmlTextReaderMoveToElement(rd);
	}
	return buf;
}

static void style_of(struct docx_walk *w, const char *v)
{
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

static void enter(struct docx_walk *w, xmlTextReaderPtr rd, const char *name)
{
	char val[64];

	if (!strcmp(name, "pStyle"))
		style_of(w, reader_attr(rd, "val", val, sizeof(val)));
	else if (!strcmp(name, "numPr"))
		w->list = 1;
	else if (!strcmp(name, "tab"))
		qbuf_addc(&w->para, '\t');
	else if (!strcmp(name, "br") || !strcmp(name, "cr"))
		qbuf_addc(&w->para, '\n');
	else if (!strcmp(name, "tc"))
		w->in_cell = 1;
	else if (!strcmp(name, "tr"))
		qbuf_reset(&w->row);
}

static void leave(struct docx_walk *w, const char *name)
{
	if (!strcmp(name, "p")) {
		end_paragraph(w);
	} else if (!strcmp(name, "tc")) {
		w->in_cell = 0;
		qbuf_adds(&w->row, w->format == DOC_FORMAT_MARKDOWN ? " | " : "\t");
	} else if (!strcmp(name, "tr")) {
		qbuf_rtrim(&w->row, " |\t");
		if (w->row.len) {
			qbuf_add(w->out, w->row.data, w->row.len);
			qbuf_addc(w->out, '\n');
		}
		qbuf_reset(&w->row);
	}
}

/*
 * Stream word/document.xml through libxml2's reader, which keeps only
 * the current node and its ancestors: a 96 KB file of empty <w:p/>
 * (60 MB of XML) built a 1.5 GB tree when parsed whole. Elements past
 * DOCX_MAX_NODES end the reading (the text so far is kept, with a note);
 * the deadline and cancel flag are looked at every DOCX_CHECK_EVERY.
 * Text counts when its parent is a <w:t>, as in Word's model.
 */
static int walk(struct docx_walk *w, const char *xml, size_t len, const struct doc_options *opt,
		struct doc *out, struct q_error *err)
{
	xmlTextReaderPtr rd;
	int t_depth = -1, ret, rc = 0;
	unsigned long nodes = 0;

	rd = xmlReaderForMemory(xml, (int)len, "word/document.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!rd)
		return q_error_set(err, Q_ENOMEM, "out of memory reading the document");
	while ((ret = xmlTextReaderRead(rd)) == 1) {
		int type = xmlTextReaderNodeType(rd), depth = xmlTextReaderDepth(rd);
		const char *name = (const char *)xmlTextReaderConstLocalName(rd);

		if (type == XML_READER_TYPE_ELEMENT) {
			if (++nodes > DOCX_MAX_NODES) {
				snprintf(out->note, sizeof(out->note),
					 "only the start of the document "
					 "was read: it has more than %u elements",
					 DOCX_MAX_NODES);
				break;
			}
			if (nodes % DOCX_CHECK_EVERY == 0 && opt &&
			    ((opt->cancel && __atomic_load_n(opt->cancel, __ATOMIC_RELAXED)) ||
			     (opt->deadline_ms > 0 && q_now_ms() > opt->deadline_ms))) {
				rc = q_error_set(
					err, Q_ETIMEOUT,
					opt->cancel && *opt->cancel
						? "extraction was cancelled"
						: "reading the document took longer than its time limit");
				break;
			}
			if (!name)
				continue;
			enter(w, rd, name);
			if (xmlTextReaderIsEmptyElement(rd) == 1)
				leave(w, name);
			else if (!strcmp(name, "t"))
				t_depth = depth;
		} else if (type == XML_READER_TYPE_END_ELEMENT) {
			if (depth == t_depth)
				t_depth = -1;
			if (name)
				leave(w, name);
		} else if ((type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_WHITESPACE ||
			    type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) &&
			   t_depth >= 0 && depth == t_depth + 1) {
			const char *v = (const char *)xmlTextReaderConstValue(rd);
			if (v)
				qbuf_adds(&w->para, v);
		}
	}
	if (ret < 0 && !rc)
		rc = q_error_set(err, Q_EPARSE,
				 "damaged DOCX file: word/document.xml is not "
				 "well-formed XML");
	xmlFreeTextReader(rd);
	if (!rc)
		end_paragraph(w);
	return rc;
}

/* docProps/core.xml, parsed whole: it is capped at DOCX_MAX_CORE_BYTES,
 * so its tree stays small. NULL if absent or damaged. */
static xmlDoc *parse_core(const char *zip, size_t len)
{
	struct qbuf xml;
	xmlDoc *doc = NULL;

	qbuf_init(&xml, DOCX_MAX_CORE_BYTES);
	/* No entity expansion and no network: the XML is untrusted. */
	if (zip_read_member(zip, len, "docProps/core.xml", &xml, NULL) == 0)
		doc = xmlReadMemory(qbuf_cstr(&xml), (int)xml.len, "docProps/core.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	qbuf_release(&xml);
	return doc;
}

static int is(const xmlNode *n, const char *local)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, local);
}

static char *child_text(xmlNode *root, const char *local)
{
	xmlNode *n;

	for (n = root ? root->children : NULL; n; n = n->next)
		if (is(n, local) && n->children && n->children->content)
			return q_strndup((const char *)n->children->content, DOC_MAX_META_BYTES);
	return NULL;
}

static void read_core_props(const char *zip, size_t len, struct doc *out)
{
	xmlDoc *core = parse_core(zip, len);
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

int docx_extract(const char *data, size_t len, const struct doc_options *opt, struct doc *out,
		 struct q_error *err)
{
	struct docx_walk w;
	struct qbuf text, xml;
	int rc;

	memset(&w, 0, sizeof(w));
	qbuf_init(&xml, DOCX_MAX_XML_BYTES);
	qbuf_init(&text, DOC_MAX_TEXT_BYTES);
	qbuf_init(&w.para, DOC_MAX_TEXT_BYTES);
	qbuf_init(&w.row, DOC_MAX_TEXT_BYTES);
	w.out = &text;
	w.format = opt ? opt->format : DOC_FORMAT_TEXT;
	rc = zip_read_member(data, len, "word/document.xml", &xml, err);
	if (rc) {
		if (err && rc == Q_EPARSE) {
			char why[Q_ERROR_MSG_MAX];
			memcpy(why, err->msg, sizeof(why));
			q_error_set(err, rc, "damaged DOCX file: %s", why);
		}
		goto out;
	}
	rc = walk(&w, qbuf_cstr(&xml), xml.len, opt, out, err);
	if (rc)
		goto out;
	rc = text.err ? text.err : (w.para.err ? w.para.err : w.row.err);
	if (rc) {
		q_error_set(err, rc, "document text over the size limit");
		goto out;
	}
	qbuf_rtrim(&text, "\n");
	out->text = qbuf_detach(&text, &out->text_len);
	if (!out->text) {
		rc = q_error_set(err, Q_ENOMEM, "out of memory");
		goto out;
	}
	read_core_props(data, len, out);
out:
	qbuf_release(&xml);
	qbuf_release(&text);
	qbuf_release(&w.para);
	qbuf_release(&w.row);
	return rc;
}
