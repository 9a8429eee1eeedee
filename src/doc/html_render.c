/*
 * html_render.c - turn the chosen content subtree into text or Markdown.
 *
 * Block elements start and end paragraphs; inline text is joined with
 * white space collapsed (kept inside <pre>); list items, table rows and
 * headings get their Markdown markers in Markdown mode and light ones in
 * text mode. Chrome inside the content is skipped: boilerplate subtrees
 * (a share bar in an article), comment sections below an article, link
 * lists without prose, quoted posts in a discussion, labels on prose
 * pages, and paragraphs said before. The walk is iterative, like the
 * scorer's.
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/hash.h"
#include "../core/utf8.h"
#include "html_int.h"
#include "xmlwalk.h"

/* Content whose prose is at least this share of its text is a prose
 * page, where short label blocks are dropped. */
#define PROSE_PAGE_SHARE 0.5f
/* Blocks shorter than this (weighted characters) can be labels. */
#define LABEL_MAX_CHARS 25.0f
/* Comments are dropped when the prose outside them is at least this
 * much, and this share of theirs. */
#define COMMENTS_MIN_OUTSIDE 300.0f
#define COMMENTS_OUTSIDE_SHARE 0.15f
/* A block of at least this much text, this share of it in links, with
 * this many links and no prose is a link list. */
#define LINK_LIST_MIN_CHARS 30.0f
#define LINK_LIST_SHARE 0.6f
#define LINK_LIST_MIN_ANCHORS 2
/* A paragraph of at least this many bytes is said once: pages repeat
 * whole sections for other screen sizes or in hidden tabs. */
#define REPEAT_MIN_BYTES 40

struct render {
	struct qbuf *out;
	xmlNode *root;           /* the content element being rendered */
	struct qbuf para;        /* the paragraph being built */
	enum doc_format format;
	const char *title;       /* skip the first heading equal to this */
	int title_skipped;
	int pending_space;       /* a collapsed space is owed before more text */
	int list_depth;
	int in_pre;
	int cells_in_row;        /* cells so far in the current <tr> */
	const char *prefix;      /* marker for the paragraph being built */
	int heading;             /* its heading level, 0 if none */
	int prose_page;          /* the content is mostly prose */
	int last_tight;          /* the previous line was a list item (1) or row (2) */
	int table_rows;          /* rows emitted in the current table */
	int row_cells;           /* cells in the table's first row */
	enum doc_page_type page_type;
	uint64_t *said;          /* hashes of long paragraphs emitted (open addressing) */
	size_t said_cap, said_used;
};

/* 1 if this paragraph was emitted before; else remember it. Memory
 * trouble only means repeats are not caught. */
static int said_before(struct render *r, const char *s, size_t n)
{
	uint64_t h = q_fnv1a(s, n) | 1;   /* 0 marks an empty slot */
	size_t i;

	if (r->said_used * 2 >= r->said_cap) {
		size_t cap = r->said_cap ? r->said_cap * 2 : 256, k;
		uint64_t *t = q_calloc(cap, sizeof(*t));
		if (!t)
			return 0;
		for (k = 0; k < r->said_cap; k++) {
			if (!r->said[k])
				continue;
			for (i = (size_t)(r->said[k] % cap); t[i]; i = (i + 1) % cap)
				;
			t[i] = r->said[k];
		}
		q_free(r->said);
		r->said = t;
		r->said_cap = cap;
	}
	for (i = (size_t)(h % r->said_cap); r->said[i]; i = (i + 1) % r->said_cap)
		if (r->said[i] == h)
			return 1;
	r->said[i] = h;
	r->said_used++;
	return 0;
}

static void emit_para(struct render *r)
{
	struct qbuf *o = r->out;
	struct qbuf *p = &r->para;
	/* List items and table rows sit on consecutive lines: 1 list, 2 row. */
	int tight = !r->prefix ? 0 : r->prefix[0] == '|' ? 2 : 1;

	qbuf_rtrim(p, " \n");
	if (p->len == 0)
		goto done;
	if (p->len >= REPEAT_MIN_BYTES && !r->in_pre && said_before(r, p->data, p->len))
		goto done;
	if (r->heading && r->title && !r->title_skipped) {
		r->title_skipped = 1;
		if (!strcmp(qbuf_cstr(p), r->title))
			goto done;
	}
	/* A blank line around each paragraph, list and table. */
	if (o->len && (!tight || tight != r->last_tight))
		qbuf_adds(o, "\n");
	r->last_tight = tight;
	if (r->heading && r->format == DOC_FORMAT_MARKDOWN) {
		static const char hashes[] = "######";
		qbuf_add(o, hashes, (size_t)r->heading);
		qbuf_addc(o, ' ');
	} else if (r->prefix && r->prefix[0] != '|') {
		int i;
		for (i = 1; i < r->list_depth && r->format == DOC_FORMAT_MARKDOWN; i++)
			qbuf_adds(o, "  ");
		qbuf_adds(o, r->prefix);
	}
	if (r->prefix && r->prefix[0] == '|' && r->format == DOC_FORMAT_MARKDOWN) {
		int i;
		qbuf_adds(o, "| ");
		qbuf_add(o, p->data, p->len);
		qbuf_adds(o, " |\n");
		if (r->table_rows++ == 0) {
			r->row_cells = r->cells_in_row > 0 ? r->cells_in_row : 1;
			for (i = 0; i < r->row_cells; i++)
				qbuf_adds(o, i ? " --- |" : "| --- |");
			qbuf_addc(o, '\n');
		}
	} else if (r->in_pre && r->format == DOC_FORMAT_MARKDOWN) {
		qbuf_adds(o, "```\n");
		qbuf_add(o, p->data, p->len);
		qbuf_adds(o, "\n```\n");
	} else {
		qbuf_add(o, p->data, p->len);
		qbuf_addc(o, '\n');
	}
done:
	qbuf_reset(p);
	r->pending_space = 0;
	r->prefix = NULL;
	r->heading = 0;
}

static void add_text(struct render *r, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0;

	if (r->in_pre) {
		qbuf_add(&r->para, s, n);
		return;
	}
	while (i < n) {
		uint32_t cp;
		size_t k;

		if (p[i] < 0x80) {
			if (p[i] > ' ') {
				if (r->pending_space && r->para.len)
					qbuf_addc(&r->para, ' ');
				r->pending_space = 0;
				run = i;
				while (i < n && p[i] > ' ' && p[i] < 0x80)
					i++;
				qbuf_add(&r->para, s + run, i - run);
			} else {
				r->pending_space = 1;
				i++;
			}
			continue;
		}
		k = utf8_decode(p + i, n - i, &cp);
		if (utf8_is_space(cp)) {
			r->pending_space = 1;
		} else {
			if (r->pending_space && r->para.len)
				qbuf_addc(&r->para, ' ');
			r->pending_space = 0;
			qbuf_add(&r->para, s + i, k);
		}
		i += k;
	}
}

static void enter(struct render *r, xmlNode *n)
{
	int level;

	if (tag_is(n, "br")) {
		if (r->in_pre)
			qbuf_addc(&r->para, '\n');
		else if (r->para.len) {
			qbuf_addc(&r->para, '\n');
			r->pending_space = 0;
		}
		return;
	}
	if (tag_is(n, "td") || tag_is(n, "th")) {
		if (r->cells_in_row++ > 0 && r->para.len) {
			qbuf_adds(&r->para, r->format == DOC_FORMAT_MARKDOWN ? " | " : "\t");
			r->pending_space = 0;
		}
		return;
	}
	if (!(ns(n)->flags & NS_BLOCK))
		return;
	emit_para(r);
	if (tag_is(n, "ul") || tag_is(n, "ol")) {
		r->list_depth++;
	} else if (tag_is(n, "li")) {
		r->prefix = "- ";
	} else if (tag_is(n, "table")) {
		r->table_rows = 0;
	} else if (tag_is(n, "tr")) {
		r->cells_in_row = 0;
		r->prefix = "|";
	} else if (tag_is(n, "pre")) {
		r->in_pre = 1;
	} else if ((level = html_heading_level(n)) > 0) {
		r->heading = level;
	}
}

static void leave(struct render *r, xmlNode *n)
{
	if (!(ns(n)->flags & NS_BLOCK) || tag_is(n, "td") || tag_is(n, "th"))
		return;
	emit_para(r);
	if (tag_is(n, "ul") || tag_is(n, "ol")) {
		if (r->list_depth > 0)
			r->list_depth--;
	} else if (tag_is(n, "pre")) {
		r->in_pre = 0;
	}
}

/*
 * On a prose page, a short block with no sentence punctuation that is not
 * a paragraph, heading, list item or cell is a label: "Posts: 1,204", "Reply",
 * "Joined Mar 2019", "Click to expand...".
 */
static int is_label_text(const xmlNode *t)
{
	const xmlNode *b;
	const struct nstat *s;

	if (!t->parent || !t->parent->_private)
		return 0;
	b = ns(t->parent)->block;
	if (!b || !b->_private)
		return 0;
	s = ns(b);
	if (s->own_text <= 0 || s->own_text >= LABEL_MAX_CHARS || s->own_punct > 0 ||
	    (s->flags & NS_PRE))
		return 0;
	if (html_heading_level(b) || tag_is(b, "p") || tag_is(b, "li") || tag_is(b, "td") || tag_is(b, "th") ||
	    tag_is(b, "dt") || tag_is(b, "dd") || tag_is(b, "pre") || tag_is(b, "caption") ||
	    tag_is(b, "figcaption") || tag_is(b, "blockquote"))
		return 0;
	return 1;
}

/* A comment section below an article: skipped when the content outside
 * it is substantial prose, kept when the comments are the content (a
 * page that declares itself a discussion, a forum thread, a Q&A page). */
static int is_appendix_comments(const xmlNode *n, const xmlNode *root, enum doc_page_type pt)
{
	float outside;

	const xmlNode *sib;
	int alike = 0;

	if (!(ns(n)->flags & NS_COMMENTS) || pt == DOC_PAGE_FORUM)
		return 0;
	/* Only the outermost comment-marked element is a candidate section. */
	for (sib = n->parent; sib && sib != root; sib = sib->parent)
		if (sib->_private && (ns(sib)->flags & NS_COMMENTS))
			return 0;
	/* One comment among several same-tag siblings that are comments
	 * too is a post of a thread, not the section ("comments" beside
	 * "comment-respond" is still the section). */
	for (sib = n->parent ? n->parent->children : NULL; sib; sib = sib->next)
		if (sib != n && sib->type == XML_ELEMENT_NODE && sib->_private &&
		    (ns(sib)->flags & NS_COMMENTS) && !strcmp((const char *)sib->name, (const char *)n->name) &&
		    ++alike >= 2)
			return 0;
	outside = ns(root)->good - ns(n)->good;
	/* A blog's own comment section goes whenever there is an article. */
	if (ns(n)->flags & NS_COMMENT_SECTION)
		return outside >= COMMENTS_MIN_OUTSIDE;
	return outside >= COMMENTS_MIN_OUTSIDE && outside >= COMMENTS_OUTSIDE_SHARE * ns(n)->good;
}

/*
 * Inside the content of a prose page, a list of links with no prose of
 * its own (a "related posts" block, a tag list, a table of contents of
 * other pages) is navigation that carries no chrome class name.
 * Paragraphs and headings are kept: a sentence may be one long link.
 */
static int is_link_list(const xmlNode *n, const struct render *r)
{
	const struct nstat *s = ns(n);

	if (!r->prose_page || !(s->flags & NS_BLOCK) || s->anchors < LINK_LIST_MIN_ANCHORS ||
	    tag_is(n, "p") || html_heading_level(n))
		return 0;
	return s->text >= LINK_LIST_MIN_CHARS && s->link >= LINK_LIST_SHARE * s->text && s->good <= 0;
}

/* In a discussion, a quoted earlier post repeats text that is already
 * on the page. Forum software marks its quotes with a class. */
static int is_forum_quote(const xmlNode *n, const struct render *r)
{
	const char *c;

	if (r->page_type != DOC_PAGE_FORUM || !tag_is(n, "blockquote"))
		return 0;
	c = html_attr(n, "class");
	return c && strcasestr(c, "quote");
}

static int render_visit(xmlNode *n, void *ctx)
{
	struct render *r = ctx;

	if (n->type == XML_ELEMENT_NODE && n->_private) {
		uint16_t f = ns(n)->flags;
		if (!(f & NS_REMOVED) &&
		    (n == r->root || (!(f & NS_BOILER) && !is_appendix_comments(n, r->root, r->page_type) &&
				      !is_link_list(n, r) && !is_forum_quote(n, r)))) {
			enter(r, n);
			return 1;
		}
	} else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
		   n->content && !(r->prose_page && is_label_text(n))) {
		add_text(r, (const char *)n->content);
	}
	return 0;
}

static void render_leave(xmlNode *n, void *ctx)
{
	leave(ctx, n);
}

int html_render(xmlNode *root, enum doc_format format, const char *title,
		enum doc_page_type page_type, struct qbuf *out)
{
	struct render r;

	memset(&r, 0, sizeof(r));
	r.out = out;
	r.format = format;
	r.title = title;
	r.page_type = page_type;
	/* Posts and product descriptions are read as prose even where the
	 * page around them is mostly short blocks: poster ranks, post
	 * counts, "Add to cart" are labels there too. */
	r.prose_page = ns(root)->good >= PROSE_PAGE_SHARE * ns(root)->text ||
		       page_type == DOC_PAGE_FORUM || page_type == DOC_PAGE_PRODUCT;
	qbuf_init(&r.para, out->max);
	r.root = root;
	xml_walk(root, render_visit, render_leave, &r);
	emit_para(&r);
	if (r.para.err && !out->err)
		out->err = r.para.err;
	qbuf_release(&r.para);
	q_free(r.said);
	return out->err;
}
