/*
 * html_extract.c - find the main content of an HTML page.
 *
 * Design. A page is a tree whose leaves are runs of text. Some runs are
 * what a reader came for (paragraphs, posts, list items of a spec sheet),
 * the rest is chrome (menus, footers, share bars, teaser lists). We:
 *
 *  0. Parse under limits on tags, depth, attributes and time
 *     (html_parse.c), so a hostile page costs at most about a second.
 *     Script and style bodies (a third of a news page's bytes) are not
 *     fed to libxml2 at all, nor blank text between blocks kept.
 *  1. Walk the tree once in document order (iteratively: a page can nest
 *     10,000 deep and must not drive our stack). Elements that are never
 *     content (script, style, form controls, hidden nodes) are marked
 *     removed; navigation, footers, asides, ARIA landmarks and elements
 *     whose class or id reads like chrome ("cookie", "share", "related",
 *     "sidebar"...) are marked boilerplate.
 *  2. Give every text run to its nearest block element, weighting a
 *     CJK character as three Latin ones (a Chinese word is ~1.7
 *     characters, an English one ~6 with its space).
 *  3. Classify each block: "good" when it has enough non-link text or
 *     reads like a sentence, "bad" otherwise (link lists, labels, menus).
 *     Boilerplate subtrees count all their text as bad.
 *  4. Every element scores good - LAMBDA * bad over its subtree; the
 *     highest-scoring element is the content. LAMBDA depends on the page
 *     type the page declares (html_meta.c: schema.org, og:type) or its
 *     address suggests (forum software). This is the body-text-
 *     extraction idea (maximise content inside, chrome outside) applied
 *     to DOM subtrees instead of token runs: it picks a whole forum
 *     thread or documentation body where readability-style paragraph
 *     scoring picks one post.
 *  5. If nothing reads like prose (product grids, listings), fall back
 *     to <main>/role=main/<article>, else the body, minus boilerplate.
 *  6. Render it (html_render.c), leaving out chrome inside it: comment
 *     sections (kept on discussions), link lists, quoted posts, labels,
 *     paragraphs said before. Where the content holds the article's own
 *     container (itemprop=articleBody, "entry-content", or an <article>
 *     with 40% of its prose), the text ends with that container: what
 *     follows it in the content is teasers and related lists. Taking the
 *     container alone was tried and lost the lead paragraphs templates
 *     put above it. Such a lead just before the content element (or its
 *     wrappers), up to two prose blocks, is rendered first.
 *  7. A page that shows less than a fifth of its JSON-LD articleBody
 *     (it builds the article in script) gets that body as its text.
 *
 * Rejected: trafilatura's XPath cascade (many site-specific rules, slow
 * to evaluate per node), and pure readability scoring (one best paragraph
 * container; misses multi-container pages). Numbers: docs/BENCHMARKS.md.
 */
#include "html.h"

#include <assert.h>
#include <libxml/HTMLparser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "../core/hash.h"
#include "../core/utf8.h"
#include "html_int.h"
#include "xmlwalk.h"

/* Chrome costs this much per character against content ... */
#define LAMBDA 0.3f
/* ... more on a page that declares itself an article (its text sits in
 * one place; what surrounds it is chrome) and less on a page that
 * declares nothing (services, listings: content made of short blocks). */
#define LAMBDA_ARTICLE 0.6f
#define LAMBDA_UNKNOWN 0.15f
/* A <noscript> with less text than this is a notice, not the page. */
#define NOSCRIPT_NOTICE_CHARS 300.0f
/* A block with at least this much non-link text is content ... */
#define GOOD_BLOCK_CHARS 60.0f
/* ... or this much if it has sentence punctuation. */
#define GOOD_SENTENCE_CHARS 25.0f
/* Weighted prose below which we fall back to <main> or the body. */
#define MIN_PROSE_CHARS 500.0f
/* Above this share of code characters a block is not prose. */
#define CODE_SHARE_MAX 0.08f
/* Prose above which a subtree marked as chrome is kept as content. */
#define BOILER_MAX_GOOD 2000.0f
/* ... and the same when the only hint was a weak class word. */
#define WEAK_BOILER_MAX_GOOD 150.0f
/* A page whose prose is below this share of its text may be a listing. */
#define LISTING_PROSE_SHARE 0.5f
/* ... and then its main region replaces a best node holding less than
 * this share of the region's text. */
#define WIDEN_MAX_SHARE 0.3f
/* Extracted text shorter than this sends the page through a second pass
 * that reads inline-hidden elements too. */
#define HIDDEN_RETRY_BYTES 200
/* A page's JSON-LD articleBody of at least this many bytes replaces the
 * extracted text when that is under JSONLD_BODY_SHARE of it: the page
 * builds its article in script (one page of trafilatura's set; the
 * body's own markup, when it holds any, is not ours to trust). */
#define JSONLD_BODY_MIN_BYTES 500
#define JSONLD_BODY_SHARE 0.2
/* Largest class+id string we look at. */
#define MAX_CLASS_BYTES 512

/* What a tag is, by name (sorted by strcmp for bsearch; html_tags_sorted checks). */
#define T_DROP 1   /* never rendered: script, style, form controls, media */
#define T_BLOCK 2  /* starts and ends a paragraph */
#define T_BOILER 4 /* chrome by itself: nav, footer, aside, menu */
/* Controls that are chrome when small, but that libxml2 (which does not
 * implement HTML5's tree fixing) may wrap around the rest of a page when
 * a page leaves one unclosed: weak hints, not removal. */
#define T_WEAK_BOILER 8

static const struct tag_kind {
	const char *name;
	unsigned bits;
} tag_kinds[] = {
	{"address", T_BLOCK},
	{"area", T_DROP},
	{"article", T_BLOCK},
	{"aside", T_BLOCK | T_BOILER},
	{"audio", T_DROP},
	{"blockquote", T_BLOCK},
	{"body", T_BLOCK},
	{"button", T_WEAK_BOILER},
	{"canvas", T_DROP},
	{"caption", T_BLOCK},
	{"center", T_BLOCK},
	{"dd", T_BLOCK},
	{"details", T_BLOCK},
	{"dialog", T_WEAK_BOILER},
	{"dir", T_BLOCK},
	{"div", T_BLOCK},
	{"dl", T_BLOCK},
	{"dt", T_BLOCK},
	{"embed", T_DROP},
	{"fieldset", T_BLOCK},
	{"figcaption", T_BLOCK},
	{"figure", T_BLOCK},
	{"footer", T_BLOCK | T_BOILER},
	{"form", T_BLOCK},
	{"h1", T_BLOCK},
	{"h2", T_BLOCK},
	{"h3", T_BLOCK},
	{"h4", T_BLOCK},
	{"h5", T_BLOCK},
	{"h6", T_BLOCK},
	{"head", T_DROP},
	{"header", T_BLOCK},
	{"hgroup", T_BLOCK},
	{"hr", T_BLOCK},
	{"html", T_BLOCK},
	{"iframe", T_DROP},
	{"img", T_DROP},
	{"input", T_DROP},
	{"label", T_WEAK_BOILER},
	{"legend", T_BLOCK},
	{"li", T_BLOCK},
	{"link", T_DROP},
	{"main", T_BLOCK},
	{"map", T_DROP},
	{"menu", T_BLOCK | T_BOILER},
	{"meta", T_DROP},
	{"nav", T_BLOCK | T_BOILER},
	{"noframes", T_BLOCK},
	{"object", T_DROP},
	{"ol", T_BLOCK},
	{"option", T_DROP},
	{"p", T_BLOCK},
	{"picture", T_DROP},
	{"pre", T_BLOCK},
	{"rp", T_DROP},
	{"rt", T_DROP},
	{"script", T_DROP},
	{"section", T_BLOCK},
	{"select", T_DROP},
	{"source", T_DROP},
	{"style", T_DROP},
	{"summary", T_BLOCK},
	{"svg", T_DROP},
	{"table", T_BLOCK},
	{"tbody", T_BLOCK},
	{"td", T_BLOCK},
	{"template", T_DROP},
	{"textarea", T_DROP},
	{"tfoot", T_BLOCK},
	{"th", T_BLOCK},
	{"thead", T_BLOCK},
	{"tr", T_BLOCK},
	{"track", T_DROP},
	{"ul", T_BLOCK},
	{"video", T_DROP},
};

static int by_tag_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tag_kind *)elem)->name);
}

/* T_* bits of n's tag (one binary search instead of scans of lists). */
static unsigned tag_bits(const xmlNode *n)
{
	const struct tag_kind *k = bsearch(n->name, tag_kinds, sizeof(tag_kinds) / sizeof(tag_kinds[0]),
					   sizeof(tag_kinds[0]), by_tag_name);

	return k ? k->bits : 0;
}

/* Tag kinds already looked up in this page. libxml2 keeps one copy of
 * each element name in its dictionary, so a name's address finds it; a
 * name not shared is only a miss. */
#define TAG_CACHE_SLOTS 64
struct tag_cache {
	const xmlChar *name[TAG_CACHE_SLOTS];
	unsigned bits[TAG_CACHE_SLOTS];
};

static unsigned tag_bits_cached(const xmlNode *n, struct tag_cache *c)
{
	size_t slot = ((uintptr_t)n->name >> 3) % TAG_CACHE_SLOTS;

	if (c->name[slot] != n->name) {
		c->name[slot] = n->name;
		c->bits[slot] = tag_bits(n);
	}
	return c->bits[slot];
}

static const char *const boiler_roles[] = {"navigation", "banner",      "contentinfo", "complementary",
					   "search",     "menu",        "menubar",     "toolbar",
					   "dialog",     "alertdialog", NULL};

/* Class/id substrings that mark chrome wherever they appear. The
 * author and user families are looked for only where "author" or "user"
 * occurs: one strstr instead of thirty on most elements. */
static const char *const boiler_strong[] = {
	"share", "social", "related", "breadcrumb", "advert", "promo", "popup", "subscribe", "sponsor",
	"recommend", "upsell", "cross-sell", "crosssell", "also-viewed", "alsoviewed", "recently-viewed",
	"recentlyviewed",
	/* a forum poster's profile beside each post */
	"postprofile", "expandlink",
	/* a blog post's own metadata and widgets after it: categories, tags,
	 * "comments are closed", likes */
	"postmetadata", "post-meta", "entry-utility", "entry-meta", "nocomments", "likes-", NULL};

/* ... and, each containing "author", the writer's biography under an article */
static const char *const boiler_author[] = {
	"author-bio",         "author_bio",       "authorbio",      "author-box",
	"author_box",         "authorbox",        "about-author",   "about-the-author",
	"about_author",       "aboutauthor",      "author-info",    "author_info",
	"authorinfo",         "author-card",      "author-profile", "author-details",
	"author-description", "author-about",     "author-wrap",    "author-block",
	"author-section",     "author-container", "author-meta",    NULL};

/* ... and, each containing "user", a forum poster's rank, join date and post count */
static const char *const boiler_user[] = {
	"usertitle",    "user-title",  "userextras", "user-extras", "user-info",
	"user-details", "userdetails", "user-stats", "userstats",   NULL};

/* Class/id substrings of things that are never content, however much
 * text they hold (consent dialogs carry pages of legal prose). */
static const char *const boiler_never[] = {"cookie",     "consent", "gdpr",     "onetrust", "cmplz",
					   "newsletter", "disqus",  "outbrain", "taboola",  NULL};

/* Beside "paywall", words of the article's own container. */
static const char *const paywall_content[] = {"no-paywall", "nopaywall", "content", "article",
					      "body",       "text",      "story",   NULL};

/* Class/id words that mark chrome unless a content word is present too
 * (both sorted by strcmp for bsearch; html_tags_sorted checks). */
static const char *const boiler_weak[] = {
	"ad",      "ads",         "banner",  "bio",        "drawer",    "dropdown", "facet",
	"facets",  "filter",      "filters", "footer",     "login",     "masthead", "menu",
	"modal",   "nav",         "navbar",  "navigation", "offcanvas", "pager",    "pagination",
	"postbit", "refinements", "sidebar", "signature",  "signup",    "sorting",  "tagcloud",
	"tags",    "toolbar",     "topbar",  "userinfo"};

static const char *const content_words[] = {"article", "body", "content", "entry",
					    "main",    "post", "story",   "text"};

/* Classes of the article's own container (sorted by strcmp for bsearch;
 * html_tags_sorted checks). */
static const char *const body_classes[] = {"article-body",     "article-body-content", "article-content",
					   "article-text",     "article__body",        "article__content",
					   "article__text",    "article_body",         "articlebody",
					   "articletext",      "blog-post-content",    "body-text",
					   "c-article-body",   "entry-body",           "entry-content",
					   "field--name-body", "field-name-body",      "news-text",
					   "post-body",        "post-content",         "post-entry",
					   "post__content",    "single-post-content",  "story-body",
					   "story-content",    "td-post-content",      "text-formatted"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int by_string(const void *key, const void *elem) { return strcmp(key, *(const char *const *)elem); }

/* 1 if the NUL-terminated word w is in the sorted list of n words. */
static int in_sorted(const char *w, const char *const *list, size_t n)
{
	return bsearch(w, list, n, sizeof(list[0]), by_string) != NULL;
}

/* 1 if the n words of list are sorted strictly by strcmp. */
static int sorted_strictly(const char *const *list, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (strcmp(list[i - 1], list[i]) >= 0)
			return 0;
	return 1;
}

int html_tags_sorted(void)
{
	size_t i;

	for (i = 1; i < sizeof(tag_kinds) / sizeof(tag_kinds[0]); i++)
		if (strcmp(tag_kinds[i - 1].name, tag_kinds[i].name) >= 0)
			return 0;
	return sorted_strictly(boiler_weak, N_OF(boiler_weak)) &&
	       sorted_strictly(content_words, N_OF(content_words)) &&
	       sorted_strictly(body_classes, N_OF(body_classes));
}

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

int html_heading_level(const xmlNode *n)
{
	const char *s = (const char *)n->name;

	if (s[0] == 'h' && s[1] >= '1' && s[1] <= '6' && !s[2])
		return s[1] - '0';
	return 0;
}

const char *html_attr(const xmlNode *n, const char *name)
{
	xmlAttr *a;

	/* html_parse.c leaves every attribute not named in its read_attrs
	 * out of the tree: one read here and missing there would be empty. */
	assert(html_attr_is_read(name, strlen(name)));

	for (a = n->properties; a; a = a->next)
		if (a->children && a->children->content && !strcasecmp((const char *)a->name, name))
			return (const char *)a->children->content;
	return NULL;
}

/* A utility class that sets a display value ("d-md-block", "lg:flex"). */
static int shows_display(const char *w)
{
	static const char *const kinds[] = {"block", "flex", "inline", "grid", "table", "contents", NULL};
	int i;

	for (i = 0; kinds[i]; i++)
		if (strstr(w, kinds[i]))
			return 1;
	return 0;
}

/* Utility classes that hide an element at every screen size (Bootstrap's
 * d-none; visually-hidden, text for screen readers only) unless another
 * class of the same element shows it again at some size (d-md-block).
 * Tailwind's bare "hidden" is left alone: pages pair it with md:block
 * and the like too often to tell. */
static int class_hides(const char *cls)
{
	char w[64];
	int hides = 0, shows = 0;

	while (*cls) {
		size_t k = 0;
		while (*cls == ' ' || *cls == '\t' || *cls == '\n')
			cls++;
		while (*cls && *cls != ' ' && *cls != '\t' && *cls != '\n') {
			if (k < sizeof(w) - 1)
				w[k++] = *cls;
			cls++;
		}
		w[k] = '\0';
		if (!k)
			break;
		if (!strcmp(w, "d-none") || !strcmp(w, "visually-hidden") || !strcmp(w, "visuallyhidden"))
			hides = 1;
		else if ((!strncmp(w, "d-", 2) || strchr(w, ':')) && shows_display(w))
			shows = 1;
	}
	return hides && !shows;
}

/* The attributes the scorer reads, found in one pass over an element's
 * attribute list (the first of each name, as html_attr finds it). */
struct el_attrs {
	const char *cls, *id, *style, *role, *aria_hidden, *aria_modal, *itemprop;
	int hidden;  /* a "hidden" attribute, with or without a value */
	int toggles; /* aria-expanded or aria-controls with a value */
};

static void el_attrs_read(const xmlNode *n, struct el_attrs *ea)
{
	const xmlAttr *a;

	memset(ea, 0, sizeof(*ea));
	for (a = n->properties; a; a = a->next) {
		const char *name = (const char *)a->name;
		const char *v = a->children && a->children->content ? (const char *)a->children->content : NULL;
		const char **slot = NULL;

		switch (name[0] | 0x20) {
		case 'a':
			if (!strcasecmp(name, "aria-hidden"))
				slot = &ea->aria_hidden;
			else if (!strcasecmp(name, "aria-modal"))
				slot = &ea->aria_modal;
			else if (v && (!strcasecmp(name, "aria-expanded") || !strcasecmp(name, "aria-controls")))
				ea->toggles = 1;
			break;
		case 'c':
			if (!strcasecmp(name, "class"))
				slot = &ea->cls;
			break;
		case 'h':
			if (!strcasecmp(name, "hidden"))
				ea->hidden = 1;
			break;
		case 'i':
			if (!strcasecmp(name, "id"))
				slot = &ea->id;
			else if (!strcasecmp(name, "itemprop"))
				slot = &ea->itemprop;
			break;
		case 'r':
			if (!strcasecmp(name, "role"))
				slot = &ea->role;
			break;
		case 's':
			if (!strcasecmp(name, "style"))
				slot = &ea->style;
			break;
		}
		if (slot && v && !*slot)
			*slot = v;
	}
}

/* styled_ok: inline display:none / visibility:hidden do not count (the
 * second pass, for pages whose script reveals what the HTML hides). */
static int is_hidden(const struct el_attrs *ea, int styled_ok)
{
	const char *v;

	if (ea->hidden) {
		/* React streaming puts server-rendered content in
		 * <div hidden id="S:0"> and moves it into place with script. */
		v = ea->id;
		return !(v && v[0] == 'S' && v[1] == ':');
	}
	if (ea->cls && class_hides(ea->cls))
		return 1;
	v = ea->aria_hidden;
	if (v && !strcasecmp(v, "true"))
		return 1;
	v = styled_ok ? NULL : ea->style;
	if (v) {
		char s[256];
		size_t i, k = 0;

		/* Compare with spaces removed: "display : none". */
		for (i = 0; v[i] && k < sizeof(s) - 1; i++)
			if (v[i] != ' ')
				s[k++] = (char)((v[i] >= 'A' && v[i] <= 'Z') ? v[i] + 32 : v[i]);
		s[k] = '\0';
		if (strstr(s, "display:none") || strstr(s, "visibility:hidden"))
			return 1;
	}
	return 0;
}

/* An element's class and id, lower-cased (each cut at MAX_CLASS_BYTES),
 * made once per element for the boilerplate and comment tests; both
 * holds "class\x01id", so a word looked for in either is one strstr. */
struct class_id {
	char cls[MAX_CLASS_BYTES];
	char id[MAX_CLASS_BYTES];
	char both[2 * MAX_CLASS_BYTES];
	int has_cls, has_id;
};

/* Copy src lower-cased into dst (at most MAX_CLASS_BYTES - 1 bytes);
 * returns the length. */
static size_t lower_into(char *dst, const char *src)
{
	size_t k = 0;

	for (; *src && k < MAX_CLASS_BYTES - 1; src++)
		dst[k++] = (char)((*src >= 'A' && *src <= 'Z') ? *src + 32 : *src);
	dst[k] = '\0';
	return k;
}

static void class_id_read(const struct el_attrs *ea, struct class_id *ci)
{
	size_t cl = 0, il = 0;

	ci->has_cls = ea->cls != NULL;
	ci->has_id = ea->id != NULL;
	ci->cls[0] = ci->id[0] = '\0';
	if (ea->cls)
		cl = lower_into(ci->cls, ea->cls);
	if (ea->id)
		il = lower_into(ci->id, ea->id);
	memcpy(ci->both, ci->cls, cl);
	ci->both[cl] = '\x01';
	memcpy(ci->both + cl + 1, ci->id, il + 1);
}

/* 1 if one of the NULL-terminated needles occurs in the class or the id. */
static int class_id_has(const struct class_id *ci, const char *const *needles)
{
	for (; *needles; needles++)
		if (strstr(ci->both, *needles))
			return 1;
	return 0;
}

/* Look up the words of s (split at white space, '-', '_', ':'): sets
 * *weak for a boilerplate word, *positive for a content word. */
static void class_words(const char *s, int *weak, int *positive)
{
	char w[32];

	while (*s) {
		size_t k = 0, len = strcspn(s, " \t\r\n-_:");
		if (len && len < sizeof(w)) {
			for (; k < len; k++)
				w[k] = s[k];
			w[k] = '\0';
			if (in_sorted(w, boiler_weak, N_OF(boiler_weak)))
				*weak = 1;
			else if (in_sorted(w, content_words, N_OF(content_words)))
				*positive = 1;
		}
		s += len;
		if (*s)
			s++;
	}
}

/* Test class and id against the boilerplate lists: 3 never content,
 * 2 a strong hint, 1 a weak one, 0 none. */
static int class_says_boiler(const struct class_id *ci)
{
	int weak = 0, positive = 0;

	if (!ci->has_cls && !ci->has_id)
		return 0;
	if (class_id_has(ci, boiler_never))
		return 3;
	/* A skip link is never content, but the element it jumps to (often
	 * id="skiplink-content") is the content: only the class counts. */
	if (strstr(ci->cls, "skiplink") || strstr(ci->cls, "skip-link"))
		return 3;
	/* A paywall's prompt is never content, but "content-behind-paywall"
	 * and "no-paywall" hold the article. */
	if (strstr(ci->both, "paywall") && !class_id_has(ci, paywall_content))
		return 3;
	class_words(ci->cls, &weak, &positive);
	class_words(ci->id, &weak, &positive);
	/* "entry share", "post-content social": a strong word beside a
	 * content word is only a weak hint (kept when it holds prose). */
	if (class_id_has(ci, boiler_strong))
		return positive ? 1 : 2;
	if (strstr(ci->both, "author") && class_id_has(ci, boiler_author))
		return 2;
	if (strstr(ci->both, "user") && class_id_has(ci, boiler_user))
		return 2;
	return weak && !positive;
}

/* 1 if the lower-cased class list cls names the article's container. */
static int class_says_body(const char *cls)
{
	char w[32];

	while (*cls) {
		size_t k, len = strcspn(cls, " \t\n");
		if (len && len < sizeof(w)) {
			for (k = 0; k < len; k++)
				w[k] = cls[k];
			w[k] = '\0';
			if (in_sorted(w, body_classes, N_OF(body_classes)))
				return 1;
		}
		cls += len;
		if (*cls)
			cls++;
	}
	return 0;
}

/* 0 not chrome, 1 weak hint (class word), 2 strong (tag, role, class
 * words like "share"), 3 never content ("cookie", "consent"). */
static int is_boiler(const xmlNode *n, unsigned bits, const struct el_attrs *ea, int class_boiler)
{
	const char *role;

	if (tag_is(n, "body") || tag_is(n, "html") || tag_is(n, "main") || tag_is(n, "article"))
		return 0;
	/* A modal (privacy policy, size guide, sign-up) is never the page's content. */
	if ((role = ea->aria_modal) != NULL && !strcasecmp(role, "true"))
		return 3;
	/* Page footers hold legal text, addresses and link farms: never the content. */
	if (tag_is(n, "footer"))
		return 3;
	if (bits & T_BOILER)
		return 2;
	/* An accordion's toggle holds its heading (an FAQ's question). */
	if (tag_is(n, "button") && ea->toggles)
		return 0;
	if (bits & T_WEAK_BOILER)
		return 1;
	role = ea->role;
	if (role && in_list(role, boiler_roles))
		return 2;
	return class_boiler;
}

/* 1 if s holds "comment" other than in "commentary" (an opinion piece:
 * news sites class their column articles so). */
static int names_comment(const char *s)
{
	for (s = strstr(s, "comment"); s; s = strstr(s + 7, "comment"))
		if (strncmp(s + 7, "ary", 3))
			return 1;
	return 0;
}

/* Reader comments (and product reviews, the same kind of text): content
 * on a forum, an appendix on an article or product page; the renderer
 * decides which (see html_render.c). Returns 2 for the markup
 * blog engines give their comment section, 1 for any comment hint. */
static int says_comments(const struct class_id *ci)
{
	static const char *const section_classes[] = {
		"comments-area",   "comment-list",     "commentlist",        "comments-section",
		"comment-section", "comments-wrapper", "comments-container", NULL};
	const char *v[2] = {ci->cls, ci->id};
	int i;

	if (!ci->has_cls && !ci->has_id)
		return 0;
	if (!strcmp(ci->id, "comments") || !strcmp(ci->id, "respond") || !strcmp(ci->id, "disqus_thread"))
		return 2;
	for (i = 0; section_classes[i]; i++)
		if (strstr(ci->cls, section_classes[i]))
			return 2;
	for (i = 0; i < 2; i++)
		if (names_comment(v[i]) || !strcmp(v[i], "respond") || !strcmp(v[i], "replies") ||
		    strstr(v[i], "reviews"))
			return 1;
	return 0;
}

/* Weighted length of a text run, plus its punctuation count, its count
 * of characters typical of code and data rather than prose, and its last
 * visible character (unchanged if it has none). */
static float text_weight(const char *s, uint16_t *punct, float *code, uint32_t *last)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	float w = 0;
	unsigned pc = 0, cc = 0;

	while (i < n) {
		uint32_t cp;

		if (p[i] < 0x80) {
			unsigned char c = p[i++];
			if (c > ' ') {
				w += 1;
				*last = c;
			}
			if (c == ',' || c == '.' || c == ';' || c == '!' || c == '?')
				pc++;
			if (c && strchr("{}[]<>=;|\\`$'\"", c))
				cc++;
			continue;
		}
		i += utf8_decode(p + i, n - i, &cp);
		if (utf8_is_space(cp))
			continue;
		*last = cp;
		if (utf8_is_comma(cp) || utf8_is_sentence_end(cp))
			pc++;
		w += utf8_is_cjk(cp) ? 3.0f : 1.0f;
	}
	*punct = (uint16_t)(pc > 60000 ? 60000 : pc);
	*code = (float)cc;
	return w;
}

/* A block has been closed: decide whether its own text is content. */
static void classify_block(struct nstat *s)
{
	float nonlink = s->own_text - s->own_link;

	if (s->own_text <= 0)
		return;
	/* Script or JSON that leaked into the text (a broken attribute, an
	 * inline data blob) is not prose; real code sits in <pre>. */
	if (!(s->flags & NS_PRE) && s->own_code > CODE_SHARE_MAX * s->own_text) {
		s->bad += s->own_text;
		return;
	}
	if (s->own_link <= 0.5f * s->own_text &&
	    (nonlink >= GOOD_BLOCK_CHARS || (nonlink >= GOOD_SENTENCE_CHARS && s->own_punct > 0))) {
		s->good += nonlink;
		s->bad += s->own_link;
		s->flags |= NS_PROSE;
	} else {
		s->bad += s->own_text;
	}
}

/* What an element's class and id say (says_comments, class_says_boiler,
 * class_says_body), remembered per page: templates repeat the same few
 * class lists on thousands of elements. Keyed by a 64-bit hash of
 * "class\x01id"; a collision (which a page could make on purpose) only
 * misreads that page's own elements. */
#define CLASS_CACHE_SLOTS 256
struct class_verdict {
	uint64_t key; /* 0: empty */
	signed char comments, boiler, body;
};

struct class_cache {
	struct class_verdict slot[CLASS_CACHE_SLOTS];
};

static struct class_verdict class_verdict_of(const struct class_id *ci, struct class_cache *c)
{
	struct class_verdict v = {0, 0, 0, 0}, *e;

	if (!ci->has_cls && !ci->has_id)
		return v;
	v.key = q_fnv1a(ci->both, strlen(ci->both)) | 1;
	e = &c->slot[v.key % CLASS_CACHE_SLOTS];
	if (e->key == v.key)
		return *e;
	v.comments = (signed char)says_comments(ci);
	v.boiler = (signed char)class_says_boiler(ci);
	v.body = (signed char)(ci->has_cls && class_says_body(ci->cls));
	*e = v;
	return v;
}

/* 1 if the element is marked as the article's body (itemprop, or a
 * template class: cv). */
static int says_article_body(const struct el_attrs *ea, const struct class_verdict *cv)
{
	const char *v = ea->itemprop;

	return (v && !strcasecmp(v, "articleBody")) || cv->body;
}

static void enter_element(xmlNode *n, struct nstat *s, const struct nstat *parent, int styled_ok,
			  struct tag_cache *tags, struct class_cache *classes)
{
	unsigned bits = tag_bits_cached(n, tags);
	struct el_attrs ea;
	struct class_id ci;
	struct class_verdict cv;

	memset(s, 0, sizeof(*s));
	n->_private = s;
	if (parent)
		s->flags = parent->flags & (NS_INLINK | NS_PRE | NS_NOSCRIPT);
	if (bits & T_DROP) {
		s->flags |= NS_REMOVED;
		return;
	}
	el_attrs_read(n, &ea);
	if (is_hidden(&ea, styled_ok)) {
		s->flags |= NS_REMOVED;
		return;
	}
	if (bits & T_BLOCK) {
		s->flags |= NS_BLOCK;
		s->block = n;
	} else {
		s->block = parent ? parent->block : NULL;
	}
	if (tag_is(n, "a")) {
		s->flags |= NS_INLINK;
		s->anchors = 1;
	}
	if (tag_is(n, "pre"))
		s->flags |= NS_PRE;
	if (tag_is(n, "noscript"))
		s->flags |= NS_NOSCRIPT;
	class_id_read(&ea, &ci);
	cv = class_verdict_of(&ci, classes);
	switch (cv.comments) {
	case 2:
		s->flags |= NS_COMMENTS | NS_COMMENT_SECTION;
		break;
	case 1:
		s->flags |= NS_COMMENTS;
		break;
	}
	if (says_article_body(&ea, &cv))
		s->flags |= NS_BODY | NS_HOLDS_BODY;
	switch (is_boiler(n, bits, &ea, cv.boiler)) {
	case 3:
		s->flags |= NS_BOILER | NS_NEVER;
		break;
	case 2:
		s->flags |= NS_BOILER;
		break;
	case 1:
		s->flags |= NS_BOILER | NS_WEAK;
		break;
	}
}

/* A button whose label is a question is an FAQ entry's toggle. */
static int button_asks(const struct nstat *s)
{
	return s->text >= 12 && (s->last == '?' || s->last == 0xFF1F); /* ? or ？ */
}

/* All of n's subtree is closed: finish its figures and pass them up. */
static void leave_element(xmlNode *n)
{
	struct nstat *s = ns(n), *p;

	if (s->flags & NS_REMOVED)
		return;
	if (s->flags & NS_BLOCK)
		classify_block(s);
	/* A short <noscript> is a "please enable JavaScript" notice; a long
	 * one can be the page itself (forum software serves posts there). */
	if (tag_is(n, "noscript") && s->text < NOSCRIPT_NOTICE_CHARS)
		s->flags |= NS_BOILER | NS_NEVER;
	if ((s->flags & NS_WEAK) && tag_is(n, "button") && button_asks(s))
		s->flags &= (uint16_t) ~(NS_BOILER | NS_WEAK);
	if (s->flags & NS_BOILER) {
		/* Class names lie (an Elementor "widget" wraps the article):
		 * a subtree with this much prose is content after all. */
		float keep = (s->flags & NS_WEAK) ? WEAK_BOILER_MAX_GOOD : BOILER_MAX_GOOD;
		float ratio = (s->flags & NS_WEAK) ? 0.5f : 1.0f;
		/* ... and so is one around the article's own container (a
		 * sticky share bar wrapping the text). */
		if (!(s->flags & NS_NEVER) &&
		    ((s->flags & NS_HOLDS_BODY) ? s->good >= WEAK_BOILER_MAX_GOOD
						: s->good >= keep && s->good >= ratio * s->bad)) {
			s->flags &= (uint16_t) ~(NS_BOILER | NS_WEAK);
		} else {
			s->bad += s->good;
			s->good = 0;
		}
	}
	if (n->parent && n->parent->type == XML_ELEMENT_NODE && n->parent->_private) {
		p = ns(n->parent);
		p->text += s->text;
		p->link += s->link;
		p->good += s->good;
		p->bad += s->bad;
		p->anchors = (uint16_t)(p->anchors + s->anchors > 60000 ? 60000 : p->anchors + s->anchors);
		p->flags |= s->flags & NS_HOLDS_BODY;
		if (s->text > 0)
			p->last = s->last;
	}
}

static void add_text(xmlNode *t)
{
	struct nstat *ps, *bs;
	uint16_t punct;
	float w, code;

	if (!t->parent || !t->parent->_private || !t->content)
		return;
	ps = ns(t->parent);
	if ((ps->flags & NS_REMOVED) || !ps->block ||
	    ((ps->flags & NS_NOSCRIPT) && html_text_is_markup((const char *)t->content)))
		return;
	w = text_weight((const char *)t->content, &punct, &code, &ps->last);
	if (w <= 0)
		return;
	bs = ns(ps->block);
	bs->own_text += w;
	bs->own_code += code;
	bs->own_punct = (uint16_t)(bs->own_punct + punct > 60000 ? 60000 : bs->own_punct + punct);
	ps->text += w;
	if (ps->flags & NS_INLINK) {
		bs->own_link += w;
		ps->link += w;
	}
}

static size_t count_elements(xmlNode *root)
{
	size_t count = 0;
	xmlNode *n;

	for (n = root; n; n = tree_next(n, root, 1))
		if (n->type == XML_ELEMENT_NODE)
			count++;
	return count;
}

/* Elements scored between two looks at the deadline and cancel flag. */
#define SCORE_CHECK_EVERY 8192

struct score_walk {
	struct nstat *stats;
	size_t next, cap; /* stats used, and allocated */
	int styled_ok;    /* see is_hidden */
	struct html_limits *lim;
	struct tag_cache tags;
	struct class_cache classes;
};

static int score_visit(xmlNode *n, void *ctx)
{
	struct score_walk *w = ctx;

	if (n->type == XML_ELEMENT_NODE) {
		struct nstat *parent = (n->parent && n->parent->type == XML_ELEMENT_NODE) ? ns(n->parent)
											  : NULL;
		/* Once stopped, enter nothing more: the walk ends quickly
		 * and the caller discards the result. */
		if ((w->next % SCORE_CHECK_EVERY == 0 && html_limits_check(w->lim)) ||
		    w->lim->stop >= HTML_STOP_TIMEOUT || w->next >= w->cap)
			return 0;
		enter_element(n, &w->stats[w->next++], parent, w->styled_ok, &w->tags, &w->classes);
		return !(ns(n)->flags & NS_REMOVED);
	}
	if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
		add_text(n);
	return 0;
}

static void score_leave(xmlNode *n, void *ctx)
{
	(void)ctx;
	leave_element(n);
}

/* Steps 1-3: one iterative enter/leave walk filling the stats (room for
 * cap elements). Returns non-zero when the deadline or cancel stopped it
 * (stats incomplete), -1 when the tree has more than cap elements. */
static int score_tree(xmlNode *root, struct nstat *stats, size_t cap, int styled_ok, struct html_limits *lim)
{
	struct score_walk w;

	memset(&w, 0, sizeof(w));
	w.stats = stats;
	w.cap = cap;
	w.styled_ok = styled_ok;
	w.lim = lim;

	xml_walk(root, score_visit, score_leave, &w);
	if (lim->stop >= HTML_STOP_TIMEOUT)
		return 1;
	return w.next >= cap && count_elements(root) > cap ? -1 : 0;
}

static float page_lambda(enum doc_page_type type)
{
	switch (type) {
	case DOC_PAGE_ARTICLE:
		return LAMBDA_ARTICLE;
	case DOC_PAGE_UNKNOWN:
		return LAMBDA_UNKNOWN;
	case DOC_PAGE_PRODUCT:
	case DOC_PAGE_FORUM:
		break;
	}
	return LAMBDA;
}

static float node_score(const xmlNode *n, float lambda)
{
	const struct nstat *s = ns(n);

	return s->good - lambda * s->bad;
}

/* Step 4: the element with the best score, or NULL if no prose.
 * skip: subtrees with these flags are not looked into. */
static xmlNode *best_node_skipping(xmlNode *root, float lambda, uint16_t skip)
{
	xmlNode *n, *best = NULL;
	float best_score = 0;

	for (n = root; n;) {
		int descend = 1;

		if (n->type == XML_ELEMENT_NODE) {
			struct nstat *s = ns(n);
			if (s->flags & skip) {
				descend = 0;
			} else if (s->good >= MIN_PROSE_CHARS) {
				float sc = node_score(n, lambda);
				/* Pre-order: on a tie the later, deeper node
				 * wins, so an ancestor must add content to win. */
				if (!best || sc >= best_score) {
					best = n;
					best_score = sc;
				}
			}
		}
		n = tree_next(n, root, descend);
	}
	return best;
}

/* The best element outside reader comments, unless the page is a
 * discussion or nothing outside them reads as prose: a long comment
 * thread under a short article must not replace the article. */
static xmlNode *best_node(xmlNode *root, float lambda, enum doc_page_type type)
{
	xmlNode *best = NULL;

	if (type != DOC_PAGE_FORUM)
		best = best_node_skipping(root, lambda, NS_REMOVED | NS_BOILER | NS_COMMENTS);
	return best ? best : best_node_skipping(root, lambda, NS_REMOVED | NS_BOILER);
}

/* Step 5: <main>, role=main, a single <article>, an element with a
 * content id ("content", "main-content"...), else body. */
static xmlNode *fallback_node(xmlNode *root)
{
	static const char *const content_ids[] = {
		"content", "main", "main-content", "maincontent", "primary", "page-content", NULL};
	xmlNode *n, *body = NULL, *article = NULL, *by_id = NULL;
	int articles = 0;

	for (n = root; n; n = tree_next(n, root, n->type != XML_ELEMENT_NODE || !(ns(n)->flags & NS_REMOVED))) {
		const char *role;

		if (n->type != XML_ELEMENT_NODE || (ns(n)->flags & NS_REMOVED))
			continue;
		role = html_attr(n, "role");
		if (tag_is(n, "main") || (role && !strcmp(role, "main")))
			return n;
		if (tag_is(n, "article")) {
			articles++;
			article = n;
		}
		if (tag_is(n, "body"))
			body = n;
		if (!by_id && html_attr(n, "id") && !(ns(n)->flags & NS_BOILER)) {
			const char *id = html_attr(n, "id");
			int i;
			for (i = 0; content_ids[i]; i++)
				if (!strcasecmp(id, content_ids[i]) && ns(n)->text > 0)
					by_id = n;
		}
	}
	if (articles == 1 && ns(article)->text > 0)
		return article;
	if (by_id)
		return by_id;
	return body ? body : root;
}

/*
 * Listings, product pages and link indexes are made of short items, so
 * the best-scoring element there is often one intro paragraph. When the
 * page as a whole is not prose (little good text for its size) and the
 * page marks its main region, take that region instead.
 */
static xmlNode *widen_for_listing(xmlNode *root, xmlNode *best)
{
	xmlNode *n;

	if (ns(root)->good >= LISTING_PROSE_SHARE * ns(root)->text)
		return best;
	for (n = best->parent; n && n->type == XML_ELEMENT_NODE; n = n->parent) {
		const char *role = html_attr(n, "role");
		if (tag_is(n, "main") || (role && !strcmp(role, "main"))) {
			if (ns(best)->text < WIDEN_MAX_SHARE * ns(n)->text)
				return n;
			return best;
		}
	}
	return best;
}

/* Class tokens that article templates (WordPress, Drupal, news CMSes)
 * give the element holding the article's own text, without headline,
 * teasers or trailing lists. */
/* The article's container replaces a best node when it holds at least
 * this share of the best node's prose. */
#define BODY_MIN_SHARE 0.4f

/*
 * News and blog templates mark the element that holds the article's own
 * text; the best-scoring element often also holds the headline block,
 * "read more" teasers and lists after the text. Take the marked element
 * with the most prose inside best when it carries most of best's prose.
 */
static xmlNode *article_body(xmlNode *best)
{
	xmlNode *n, *pick = NULL, *article = NULL;

	for (n = best->children ? best->children : NULL; n;) {
		int descend = 1;
		if (n->type == XML_ELEMENT_NODE) {
			struct nstat *s = ns(n);
			if (!s || (s->flags & (NS_REMOVED | NS_BOILER)))
				descend = 0;
			else if (s->good >= MIN_PROSE_CHARS && (s->flags & NS_BODY) &&
				 (!pick || s->good > ns(pick)->good))
				pick = n;
			else if (s->good >= MIN_PROSE_CHARS && tag_is(n, "article") &&
				 (!article || s->good > ns(article)->good))
				article = n;
		}
		n = tree_next(n, best, descend);
	}
	if (pick && ns(pick)->good >= BODY_MIN_SHARE * ns(best)->good)
		return pick;
	if (article && ns(article)->good >= BODY_MIN_SHARE * ns(best)->good)
		return article;
	return NULL;
}

/* Addresses of discussion pages: forum software and comment threads. */
static int url_says_forum(const char *url)
{
	static const char *const parts[] = {"/forum/",    "/forums/",       "/forum.",       "://forum.",
					    "://forums.", "://community.",  "://boards.",    "://bbs.",
					    "/comments/", "/discussion/",   "/discussions/", "/thread/",
					    "/threads/",  "showthread.php", "viewtopic.php", "/t/",
					    NULL};
	int i;

	if (!url || !strstr(url, "://"))
		return 0;
	for (i = 0; parts[i]; i++)
		if (strcasestr(url, parts[i]))
			return 1;
	return 0;
}

static int set_text(struct doc *out, struct qbuf *b)
{
	qbuf_rtrim(b, " \n");
	if (b->err)
		return b->err;
	q_free(out->text);
	out->text = qbuf_detach(b, &out->text_len);
	return out->text ? 0 : Q_ENOMEM;
}

/* A lead is a prose block just before the content element (or before
 * the wrappers around it): templates put the article's intro above the
 * element that holds the rest. Up to LEAD_MAX_BLOCKS are taken, each
 * at least LEAD_PROSE_SHARE prose and at most LEAD_LINK_SHARE links. */
#define LEAD_MAX_BLOCKS 2
#define LEAD_PROSE_SHARE 0.6f
#define LEAD_LINK_SHARE 0.3f

/* Fill leads[] with the lead blocks before best, nearest first; returns
 * how many. Empty elements and headings are passed over; anything else
 * ends the search. */
static size_t find_leads(xmlNode *best, xmlNode **leads)
{
	xmlNode *top = best, *sib;
	size_t n = 0;

	while (top->parent && top->parent->type == XML_ELEMENT_NODE && top->parent->_private &&
	       ns(top->parent)->good <= ns(top)->good + 1)
		top = top->parent;
	for (sib = top->prev; sib && n < LEAD_MAX_BLOCKS; sib = sib->prev) {
		const struct nstat *s;

		if (sib->type != XML_ELEMENT_NODE || !sib->_private)
			continue;
		s = ns(sib);
		if ((s->flags & NS_REMOVED) || s->text <= 0 || html_heading_level(sib))
			continue;
		if ((s->flags & NS_BOILER) || s->good < LEAD_PROSE_SHARE * s->text ||
		    s->link > LEAD_LINK_SHARE * s->text)
			break;
		leads[n++] = sib;
	}
	return n;
}

/* Steps 4-6 on scored stats: pick the content element, render it into b. */
static int choose_and_render(xmlNode *root, const struct doc_options *opt, const struct doc *out,
			     struct qbuf *b)
{
	xmlNode *main_node = best_node(root, page_lambda(out->page_type), out->page_type);
	xmlNode *body_end, *leads[LEAD_MAX_BLOCKS];
	enum doc_format format = opt ? opt->format : DOC_FORMAT_TEXT;
	size_t n_leads;
	int rc = 0;

	if (!main_node)
		main_node = fallback_node(root);
	else
		main_node = widen_for_listing(root, main_node);
	body_end = article_body(main_node);
#ifdef HTML_EXTRACT_DEBUG
	/* Development aid: which element won, and why (make CFLAGS=-DHTML_EXTRACT_DEBUG). */
	if (getenv("QDEBUG")) {
		xmlNode *x;
		fprintf(stderr, "root %s good=%.0f bad=%.0f text=%.0f\n", root->name, ns(root)->good,
			ns(root)->bad, ns(root)->text);
		for (x = main_node; x && x->type == XML_ELEMENT_NODE; x = x->parent)
			fprintf(stderr, "  %s class=%s flags=%x good=%.0f bad=%.0f text=%.0f\n", x->name,
				html_attr(x, "class") ? html_attr(x, "class") : "", ns(x)->flags, ns(x)->good,
				ns(x)->bad, ns(x)->text);
	}
#endif
	if (out->page_type != DOC_PAGE_FORUM) {
		n_leads = find_leads(main_node, leads);
		while (n_leads > 0 && !rc)
			rc = html_render(leads[--n_leads], NULL, format, out->title, out->page_type, b);
	}
	if (rc)
		return rc;
	/* A thread's title is its opening question: kept in the text. */
	return html_render(main_node, body_end, format, out->page_type == DOC_PAGE_FORUM ? NULL : out->title,
			   out->page_type, b);
}

/* 1 if the JSON-LD articleBody should replace text_len bytes of text. */
static int use_article_body(const char *body, size_t text_len)
{
	size_t n;

	if (!body)
		return 0;
	n = strlen(body);
	return n >= JSONLD_BODY_MIN_BYTES && (double)text_len < JSONLD_BODY_SHARE * (double)n &&
	       !strchr(body, '<');
}

int html_extract(const char *utf8, size_t len, const struct doc_options *opt, struct doc *out,
		 struct q_error *err)
{
	htmlDocPtr doc = NULL;
	struct nstat *stats = NULL;
	struct html_limits lim = {0, NULL, HTML_STOP_NONE, 0, 0};
	xmlNode *root;
	struct qbuf b;
	char *article_body = NULL;
	size_t n_stats;
	int rc = Q_EPARSE, score;
	int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
		      HTML_PARSE_COMPACT | XML_PARSE_HUGE | HTML_PARSE_NOBLANKS;

	qbuf_init(&b, DOC_MAX_TEXT_BYTES);
	if (len > HTML_MAX_INPUT_BYTES)
		return q_error_set(err, Q_ETOOBIG, "HTML is %zu bytes, over the %u-byte limit", len,
				   HTML_MAX_INPUT_BYTES);
	if (len > (size_t)0x7fffffff)
		return q_error_set(err, Q_ETOOBIG, "HTML too large");
	if (opt) {
		lim.deadline_ms = opt->deadline_ms;
		lim.cancel = opt->cancel;
	}
	doc = html_parse_limited(utf8, len, opt ? opt->base_url : NULL, options, &lim);
	if (lim.stop >= HTML_STOP_TIMEOUT)
		goto stopped;
	if (!doc) {
		/* libxml2 gives up only on input it cannot start on (e.g.
		 * empty); that is an empty page, not an error. */
		if (len == 0 || strspn(utf8, " \t\r\n") == len)
			return set_text(out, &b);
		rc = q_error_set(err, Q_EPARSE, "could not parse the HTML");
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!root) {
		rc = set_text(out, &b);
		goto out;
	}
	/* The parser counted the elements it started; the tree holds no
	 * others, but a miscount must not overrun stats: then count them. */
	n_stats = lim.elements + 1;
	stats = q_calloc(n_stats, sizeof(*stats));
	if (stats && (score = score_tree(root, stats, n_stats, 0, &lim)) < 0) {
		q_free(stats);
		n_stats = count_elements(root);
		stats = q_calloc(n_stats, sizeof(*stats));
		score = stats ? score_tree(root, stats, n_stats, 0, &lim) : 0;
	}
	if (!stats) {
		rc = q_error_set(err, Q_ENOMEM, "out of memory extracting HTML");
		goto out;
	}
	if (score)
		goto stopped;
	rc = html_meta_extract(doc, out, &article_body);
	if (rc) {
		q_error_set(err, rc, "out of memory reading page metadata");
		goto out;
	}
	if (out->page_type == DOC_PAGE_UNKNOWN && url_says_forum(opt ? opt->base_url : NULL))
		out->page_type = DOC_PAGE_FORUM;
	rc = choose_and_render(root, opt, out, &b);
	if (!rc && b.len < HIDDEN_RETRY_BYTES) {
		/* Next to nothing is visible: some pages hide their content with
		 * an inline display:none that their script lifts (access
		 * checks, deferred blocks). Read those too, and keep that text
		 * when it clearly outweighs what was visible. */
		struct qbuf again;

		qbuf_init(&again, DOC_MAX_TEXT_BYTES);
		if (score_tree(root, stats, n_stats, 1, &lim)) {
			qbuf_release(&again);
			goto stopped;
		}
		if (choose_and_render(root, opt, out, &again) == 0 && again.len >= 2 * b.len + 40) {
			qbuf_release(&b);
			b = again;
		} else {
			qbuf_release(&again);
		}
	}
	if (!rc && use_article_body(article_body, b.len)) {
		qbuf_reset(&b);
		qbuf_adds(&b, article_body);
	}
	if (!rc)
		rc = set_text(out, &b);
	if (rc)
		q_error_set(err, rc,
			    rc == Q_ETOOBIG ? "extracted text over the size limit"
					    : "out of memory rendering text");
	if (!rc && html_limits_reason(lim.stop))
		snprintf(out->note, sizeof(out->note), "only the start of the page was read: %s",
			 html_limits_reason(lim.stop));
	goto out;
stopped:
	rc = q_error_set(err, Q_ETIMEOUT,
			 lim.stop == HTML_STOP_CANCEL ? "extraction was cancelled"
						      : "extracting the page took longer than its time limit; "
							"raise the time limit or skip this page");
out:
	qbuf_release(&b);
	if (doc) {
		/* libxml2 must not see our pointers in _private when freeing. */
		xmlFreeDoc(doc);
	}
	q_free(stats);
	q_free(article_body);
	return rc;
}
