/*
 * html_int.h - internals shared by the HTML extractor's files:
 * html_extract.c (tree walk, scoring, choosing the content node),
 * html_render.c (turning a subtree into text or Markdown) and
 * html_meta.c (title, author, date, language).
 */
#ifndef Q_HTML_INT_H
#define Q_HTML_INT_H

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdint.h>

#include "../core/qbuf.h"
#include "doc.h"

/* Per-element facts, hung off xmlNode._private during one extraction. */
struct nstat {
	float text;        /* weighted visible characters in the subtree */
	float link;        /* ... of which inside <a> */
	float good;        /* ... in blocks that read like content */
	float bad;         /* ... in link-heavy or short blocks */
	float own_text;    /* text whose nearest block element is this one */
	float own_link;
	uint16_t own_punct;/* commas and sentence ends in own text */
	float own_code;    /* braces, brackets, quotes, '=' ... in own text */
	uint16_t flags;    /* NS_* below */
	uint16_t anchors;  /* <a> elements in the subtree (saturating) */
	uint32_t last;     /* last visible character of the subtree's text */
	xmlNode *block;    /* nearest block ancestor-or-self */
};

#define NS_REMOVED 0x01  /* never rendered: script, hidden, form control */
#define NS_BOILER  0x02  /* navigation, footer, share bars, banners */
#define NS_BLOCK   0x04  /* block-level element */
#define NS_INLINK  0x08  /* inside an <a> */
#define NS_PRE     0x10  /* inside <pre> (whitespace kept) */
#define NS_WEAK    0x20  /* with NS_BOILER: only a weak class-name hint */
#define NS_COMMENTS 0x40 /* class or id says reader comments */
#define NS_NEVER   0x80  /* with NS_BOILER: never content, however long */
#define NS_COMMENT_SECTION 0x100 /* a blog's comment section (id=comments...) */

static inline struct nstat *ns(const xmlNode *n)
{
	return (struct nstat *)n->_private;
}

/* Lower-case ASCII tag names; libxml2's HTML parser already lower-cases. */
static inline int tag_is(const xmlNode *n, const char *name)
{
	const char *a = (const char *)n->name, *b = name;

	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* The next node in document order; stays inside root. descend=0 skips
 * n's children. */
static inline xmlNode *tree_next(xmlNode *n, const xmlNode *root, int descend)
{
	if (descend && n->children)
		return n->children;
	while (n && n != root) {
		if (n->next)
			return n->next;
		n = n->parent;
	}
	return NULL;
}

/* Value of attribute name (case-insensitive) or NULL. */
const char *html_attr(const xmlNode *n, const char *name);
int html_heading_level(const xmlNode *n);   /* 1-6, or 0 */

/* Append the collapsed visible text of n's subtree (skipping NS_REMOVED
 * when stats exist) to b, at most max_bytes. */
void html_node_text(const xmlNode *n, struct qbuf *b, size_t max_bytes);

/* Fill title/author/date/lang/site_name/description of out. */
int html_meta_extract(xmlDoc *doc, struct q_doc *out);

/* Render root's subtree into out (format, title to skip if it repeats). */
int html_render(xmlNode *root, enum doc_format format, const char *title,
		enum doc_page_type page_type, struct qbuf *out);

#endif
