/*
 * html_meta.c - page metadata: title, author, published date, language,
 * site name and description.
 *
 * Sources, best first: Open Graph / article:* meta tags, JSON-LD
 * (schema.org Article, NewsArticle, BlogPosting, WebPage...), plain
 * <meta name=...>, <title>, the page's only <h1>, <time datetime>.
 */
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "html_int.h"

/* JSON-LD blocks larger than this are ignored. */
#define MAX_JSONLD_BYTES (256 * 1024)

enum meta_field { M_TITLE, M_AUTHOR, M_DATE, M_LANG, M_SITE, M_DESC, M_COUNT };

/* Candidate values per field; a lower rank wins. */
struct meta_pick {
	char *value[M_COUNT];
	int rank[M_COUNT];
	enum doc_page_type page_type;
	int products; /* Product entities declared */
	int lists;    /* ItemList, CollectionPage ... declared */
	char *body;   /* the longest JSON-LD articleBody, or NULL (owned) */
	size_t body_len;
};

static const char *const forum_types[] = {"DiscussionForumPosting", "QAPage", "forum", NULL};

static int in_list_ci(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcasecmp(s, *list))
			return 1;
	return 0;
}

/* A declared type (schema.org @type, og:type) raises the page type: a
 * discussion outranks a product, a product an article (reviews embed
 * products, forums embed articles). Returns the type t stands for. */
static enum doc_page_type offer_type(struct meta_pick *m, const char *t)
{
	static const char *const product[] = {"Product", "ProductGroup", NULL};
	static const char *const article[] = {"Article",          "NewsArticle", "BlogPosting", "TechArticle",
					      "ScholarlyArticle", "Report",      "article",     NULL};
	static const char *const list[] = {"ItemList", "CollectionPage", "SearchResultsPage", "OfferCatalog",
					   NULL};
	enum doc_page_type k = DOC_PAGE_UNKNOWN;

	if (!t)
		return k;
	if (in_list_ci(t, list))
		m->lists++;
	if (in_list_ci(t, forum_types))
		k = DOC_PAGE_FORUM;
	else if (in_list_ci(t, product))
		k = DOC_PAGE_PRODUCT;
	else if (in_list_ci(t, article))
		k = DOC_PAGE_ARTICLE;
	if (k > m->page_type)
		m->page_type = k;
	return k;
}

static void offer(struct meta_pick *m, enum meta_field f, int rank, const char *v, size_t n)
{
	char *copy;
	size_t i, k = 0;
	int space = 0;

	if (!v || (m->value[f] && m->rank[f] <= rank))
		return;
	if (n > DOC_MAX_META_BYTES) {
		/* Cut at a character boundary. */
		n = DOC_MAX_META_BYTES;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--;
	}
	copy = q_malloc(n + 1);
	if (!copy)
		return;
	/* Collapse white space; metadata is one line. */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= ' ') {
			space = k > 0;
			continue;
		}
		if (space)
			copy[k++] = ' ';
		space = 0;
		copy[k++] = (char)c;
	}
	copy[k] = '\0';
	if (!k) {
		q_free(copy);
		return;
	}
	q_free(m->value[f]);
	m->value[f] = copy;
	m->rank[f] = rank;
}

static void offer_s(struct meta_pick *m, enum meta_field f, int rank, const char *v)
{
	if (v)
		offer(m, f, rank, v, strlen(v));
}

static void from_meta_tag(struct meta_pick *m, const xmlNode *n)
{
	const char *key = html_attr(n, "property");
	const char *content = html_attr(n, "content");

	if (!key)
		key = html_attr(n, "name");
	if (!key)
		key = html_attr(n, "itemprop");
	if (!key || !content)
		return;
	if (!strcasecmp(key, "og:title"))
		offer_s(m, M_TITLE, 1, content);
	else if (!strcasecmp(key, "twitter:title") || !strcasecmp(key, "dc.title"))
		offer_s(m, M_TITLE, 3, content);
	else if (!strcasecmp(key, "author") || !strcasecmp(key, "article:author") ||
		 !strcasecmp(key, "dc.creator") || !strcasecmp(key, "citation_author"))
		offer_s(m, M_AUTHOR, strchr(content, '/') ? 5 : 1, content);
	else if (!strcasecmp(key, "article:published_time") || !strcasecmp(key, "datePublished") ||
		 !strcasecmp(key, "citation_publication_date"))
		offer_s(m, M_DATE, 1, content);
	else if (!strcasecmp(key, "date") || !strcasecmp(key, "dc.date") ||
		 !strcasecmp(key, "publish-date") || !strcasecmp(key, "pubdate") ||
		 !strcasecmp(key, "sailthru.date") || !strcasecmp(key, "parsely-pub-date"))
		offer_s(m, M_DATE, 3, content);
	else if (!strcasecmp(key, "og:site_name") || !strcasecmp(key, "application-name"))
		offer_s(m, M_SITE, 1, content);
	else if (!strcasecmp(key, "og:description"))
		offer_s(m, M_DESC, 1, content);
	else if (!strcasecmp(key, "description"))
		offer_s(m, M_DESC, 2, content);
	else if (!strcasecmp(key, "og:type") && strncasecmp(content, "product", 7))
		offer_type(m, content); /* shops label category pages og:product too */
	else if (!strcasecmp(key, "og:locale") || !strcasecmp(key, "content-language") ||
		 !strcasecmp(key, "language"))
		offer_s(m, M_LANG, 3, content);
}

static const char *json_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void author_from_json(struct meta_pick *m, json_t *a)
{
	if (json_is_array(a))
		a = json_array_get(a, 0);
	if (json_is_string(a))
		offer_s(m, M_AUTHOR, 2, json_string_value(a));
	else if (json_is_object(a))
		offer_s(m, M_AUTHOR, 2, json_str(a, "name"));
}

/* Keep the article's text as JSON-LD gives it when it is the longest
 * seen: a fallback for pages that build their text in script. */
static void offer_body(struct meta_pick *m, json_t *v)
{
	size_t n;
	char *copy;

	if (!json_is_string(v))
		return;
	n = json_string_length(v);
	if (n <= m->body_len)
		return;
	copy = q_strdup(json_string_value(v));
	if (!copy)
		return;
	q_free(m->body);
	m->body = copy;
	m->body_len = n;
}

static void from_jsonld_object(struct meta_pick *m, json_t *o, int depth)
{
	json_t *graph, *type, *main;
	size_t i;
	int is_product = 0;

	if (depth > 3 || !json_is_object(o))
		return;
	graph = json_object_get(o, "@graph");
	if (json_is_array(graph))
		for (i = 0; i < json_array_size(graph) && i < 64; i++)
			from_jsonld_object(m, json_array_get(graph, i), depth + 1);
	type = json_object_get(o, "@type");
	if (json_is_string(type))
		is_product = offer_type(m, json_string_value(type)) == DOC_PAGE_PRODUCT;
	for (i = 0; json_is_array(type) && i < json_array_size(type) && i < 8; i++)
		if (offer_type(m, json_string_value(json_array_get(type, i))) == DOC_PAGE_PRODUCT)
			is_product = 1;
	m->products += is_product;
	/* A WebPage whose main entity is a forum post or a question. */
	main = json_object_get(o, "mainEntity");
	if (json_is_object(main) && json_is_string(json_object_get(main, "@type")) &&
	    in_list_ci(json_str(main, "@type"), forum_types))
		offer_type(m, json_str(main, "@type"));
	offer_s(m, M_TITLE, 2, json_str(o, "headline"));
	author_from_json(m, json_object_get(o, "author"));
	offer_s(m, M_DATE, 2, json_str(o, "datePublished"));
	offer_s(m, M_LANG, 2, json_str(o, "inLanguage"));
	offer_body(m, json_object_get(o, "articleBody"));
}

static void from_jsonld(struct meta_pick *m, const xmlNode *script)
{
	const xmlNode *c = script->children;
	json_t *root;
	size_t i;

	if (!c || !c->content)
		return;
	if (strlen((const char *)c->content) > MAX_JSONLD_BYTES)
		return;
	root = json_loads((const char *)c->content, JSON_DECODE_ANY, NULL);
	if (!root)
		return;
	if (json_is_array(root))
		for (i = 0; i < json_array_size(root) && i < 64; i++)
			from_jsonld_object(m, json_array_get(root, i), 0);
	else
		from_jsonld_object(m, root, 0);
	json_decref(root);
}

/* "Story title | Site" -> "Story title" when the first part is substantial. */
static void offer_title_tag(struct meta_pick *m, const char *t)
{
	static const char *const seps[] = {" | ", " - ", " – ", " — ", " :: ", " · ", NULL};
	size_t n = strlen(t), i;

	for (i = 0; seps[i]; i++) {
		const char *p = strstr(t, seps[i]);
		if (p && (size_t)(p - t) >= 15) {
			n = (size_t)(p - t);
			break;
		}
	}
	offer(m, M_TITLE, 4, t, n);
}

int html_meta_extract(xmlDoc *doc, struct doc *out, char **article_body)
{
	struct meta_pick m;
	xmlNode *root = xmlDocGetRootElement(doc), *n, *h1 = NULL;
	int h1_count = 0, i;
	struct qbuf b;

	memset(&m, 0, sizeof(m));
	qbuf_init(&b, DOC_MAX_META_BYTES + 8);
	if (root && html_attr(root, "lang"))
		offer_s(&m, M_LANG, 1, html_attr(root, "lang"));
	for (n = root; n; n = tree_next(n, root, 1)) {
		const char *type;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (tag_is(n, "meta")) {
			from_meta_tag(&m, n);
		} else if (tag_is(n, "title") && n->children && !m.value[M_TITLE]) {
			qbuf_reset(&b);
			html_node_text(n, &b, DOC_MAX_META_BYTES);
			offer_title_tag(&m, qbuf_cstr(&b));
		} else if (tag_is(n, "script")) {
			type = html_attr(n, "type");
			if (type && !strcasecmp(type, "application/ld+json"))
				from_jsonld(&m, n);
		} else if (tag_is(n, "h1")) {
			if (!h1_count++)
				h1 = n;
		} else if (tag_is(n, "time") && html_attr(n, "datetime")) {
			offer_s(&m, M_DATE, 5, html_attr(n, "datetime"));
		}
	}
	if (h1_count == 1) {
		qbuf_reset(&b);
		html_node_text(h1, &b, DOC_MAX_META_BYTES);
		/* The visible headline beats a <title> padded with the site name. */
		offer_s(&m, M_TITLE, 3, qbuf_cstr(&b));
	}
	qbuf_release(&b);
	out->title = m.value[M_TITLE];
	out->author = m.value[M_AUTHOR];
	out->date = m.value[M_DATE];
	out->lang = m.value[M_LANG];
	out->site_name = m.value[M_SITE];
	out->description = m.value[M_DESC];
	out->page_type = m.page_type;
	/* Several products, or a list of them, make a category page. */
	if (m.page_type == DOC_PAGE_PRODUCT && (m.products > 1 || m.lists > 0))
		out->page_type = DOC_PAGE_UNKNOWN;
	for (i = 0; i < M_COUNT; i++)
		m.value[i] = NULL;
	*article_body = m.body;
	return 0;
}

void html_node_text(const xmlNode *node, struct qbuf *b, size_t max_bytes)
{
	const xmlNode *n;
	int space = 0;

	for (n = node; n; n = tree_next((xmlNode *)n, node, 1)) {
		const char *s;

		if (n->type != XML_TEXT_NODE || !n->content)
			continue;
		if (n->parent && n->parent->_private && (ns(n->parent)->flags & NS_REMOVED))
			continue;
		for (s = (const char *)n->content; *s; s++) {
			if (b->len >= max_bytes && ((unsigned char)*s & 0xC0) != 0x80)
				return;
			if ((unsigned char)*s <= ' ') {
				space = b->len > 0;
				continue;
			}
			if (space)
				qbuf_addc(b, ' ');
			space = 0;
			qbuf_addc(b, *s);
		}
	}
}
