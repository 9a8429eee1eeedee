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
	float text;     /* weighted visible characters in the subtree */
	float link;     /* ... of which inside <a> */
	float good;     /* ... in blocks that read like content */
	float bad;      /* ... in link-heavy or short blocks */
	float own_text; /* text whose nearest block element is this one */
	float own_link;
	uint16_t own_punct; /* commas and sentence ends in own text */
	float own_code;     /* braces, brackets, quotes, '=' ... in own text */
	uint16_t flags;     /* NS_* below */
	uint16_t anchors;   /* <a> elements in the subtree (saturating) */
	uint32_t last;      /* last visible character of the subtree's text */
	xmlNode *block;     /* nearest block ancestor-or-self */
};

#define NS_REMOVED 0x01          /* never rendered: script, hidden, form control */
#define NS_BOILER 0x02           /* navigation, footer, share bars, banners */
#define NS_BLOCK 0x04            /* block-level element */
#define NS_INLINK 0x08           /* inside an <a> */
#define NS_PRE 0x10              /* inside <pre> (whitespace kept) */
#define NS_WEAK 0x20             /* with NS_BOILER: only a weak class-name hint */
#define NS_COMMENTS 0x40         /* class or id says reader comments */
#define NS_NEVER 0x80            /* with NS_BOILER: never content, however long */
#define NS_COMMENT_SECTION 0x100 /* a blog's comment section (id=comments...) */
#define NS_NOSCRIPT 0x200        /* inside <noscript> */
#define NS_PROSE 0x400           /* the block's own text reads as content */
#define NS_HOLDS_BODY 0x800      /* is or holds the article's own container */
#define NS_BODY 0x1000           /* is the article's own container (itemprop, class) */

static inline struct nstat *ns(const xmlNode *n) { return (struct nstat *)n->_private; }

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

/*
 * Text inside <noscript> that is markup ("<img height=\"1\" ...>"): pages
 * built by script frameworks escape the fallback markup, so the parser
 * sees it as text; a browser never shows it. Kept text inside <noscript>
 * (forum software serves posts there) does not start with a tag.
 */
static inline int html_text_is_markup(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s[0] == '<' &&
	       ((s[1] >= 'a' && s[1] <= 'z') || (s[1] >= 'A' && s[1] <= 'Z') || s[1] == '/' || s[1] == '!');
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
int html_heading_level(const xmlNode *n); /* 1-6, or 0 */

/* Append the collapsed visible text of n's subtree (skipping NS_REMOVED
 * when stats exist) to b, at most max_bytes. */
void html_node_text(const xmlNode *n, struct qbuf *b, size_t max_bytes);

/* Fill title/author/date/lang/site_name/description of out; *article_body
 * (out) gets the longest JSON-LD articleBody, or NULL: the caller frees
 * it with q_free. */
int html_meta_extract(xmlDoc *doc, struct doc *out, char **article_body);

/* Render root's subtree into out (format, title to skip if it repeats).
 * end, if not NULL, is a descendant of root after which nothing more is
 * rendered (the article's own container: what follows it is teasers). */
int html_render(xmlNode *root, const xmlNode *end, enum doc_format format, const char *title,
		enum doc_page_type page_type, struct qbuf *out);

/* Limits on what one page may make the parser do (html_parse.c; the
 * reasons are in docs/SECURITY.md). Plain numbers: they are also quoted
 * in messages. */
#define HTML_MAX_TAGS 500000 /* '<' read: nodes, end tags */
#define HTML_MAX_DEPTH 20000 /* elements open at once */
/* End tags read times elements open when read: libxml2 searches its
 * stack of open elements for each end tag (about 0.25 s of work). */
#define HTML_MAX_END_TAG_WORK 100000000
#define HTML_MAX_ATTRS_PER_ELEMENT 256 /* on one start tag */
#define HTML_MAX_ATTRS 400000          /* on the whole page */

#define Q_STR_(x) #x
#define Q_STR(x) Q_STR_(x)

/* Why a parse or an extraction ended early. */
enum html_stop {
	HTML_STOP_NONE = 0,
	HTML_STOP_TAGS,          /* the page was cut: too many tags */
	HTML_STOP_DEPTH,         /* ... nested too deep */
	HTML_STOP_END_TAGS,      /* ... too many end tags in deep nesting */
	HTML_STOP_ELEMENT_ATTRS, /* ... an element with too many attributes */
	HTML_STOP_ATTRS,         /* ... too many attributes in all */
	HTML_STOP_TIMEOUT,       /* the deadline passed: no result */
	HTML_STOP_CANCEL         /* the cancel flag was set: no result */
};

/* The deadline and cancel flag of one extraction, and why it stopped. */
struct html_limits {
	double deadline_ms;   /* q_now_ms() value; 0 = none */
	volatile int *cancel; /* non-zero: stop; may be NULL */
	enum html_stop stop;  /* out: first limit hit */
	int keep_raw_text;    /* feed script and style bodies too (tests) */
	size_t elements;      /* out: elements the parser started */
};

/*
 * Parse utf8[0..len) with libxml2's HTML parser under the HTML_MAX_*
 * limits, the deadline and the cancel flag. Returns the tree (caller
 * frees with xmlFreeDoc), or NULL when libxml2 could not start; a page
 * cut at a limit still returns the tree of what came before the cut,
 * with lim->stop saying which limit. The bodies of script and style
 * elements (but JSON ones) and the attributes the extractor does not
 * read (html_attr_is_read) are left out of the tree unless
 * lim->keep_raw_text is set: the elements stay, empty.
 */
htmlDocPtr html_parse_limited(const char *utf8, size_t len, const char *base_url, int options,
			      struct html_limits *lim);

/* 1 if the attribute name[0..n) is one the extractor reads; the others
 * are left out of the tree by html_parse_limited (unless keep_raw_text). */
int html_attr_is_read(const char *name, size_t n);

/* 1 (and lim->stop set to TIMEOUT or CANCEL) when the deadline passed
 * or cancel is set; a cut at a parsing limit does not count. */
int html_limits_check(struct html_limits *lim);

/* "it has more than 500000 tags"..., or NULL for timeout/cancel/none. */
const char *html_limits_reason(enum html_stop stop);

#endif
