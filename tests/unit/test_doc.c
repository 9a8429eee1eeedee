/* Unit tests: charset detection and conversion, HTML extraction, ZIP,
 * content sniffing, and allocation failures through the whole pipeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../src/core/alloc.h"
#include "../../src/core/clock.h"
#include "../../src/core/qbuf.h"
#include "../../src/doc/charset.h"
#include "../../src/doc/doc.h"
#include "../../src/doc/html.h"
#include "../../src/doc/zip.h"

static char *extract(const char *html, enum doc_format fmt, struct doc *doc)
{
	struct doc_options o;
	struct q_error e;

	memset(&o, 0, sizeof(o));
	memset(&e, 0, sizeof(e));
	o.format = fmt;
	o.content_type = "text/html";
	assert_int_equal(doc_extract(html, strlen(html), &o, doc, &e), 0);
	return doc->text;
}

static void charset_labels(void **state)
{
	char out[CHARSET_NAME_MAX];

	(void)state;
	assert_int_equal(charset_canonical("GB2312", out), 0);
	assert_string_equal(out, "GB18030");
	charset_canonical("x-sjis", out);
	assert_string_equal(out, "CP932");
	charset_canonical("ISO-8859-1", out);
	assert_string_equal(out, "WINDOWS-1252");
	charset_canonical("windows-1251", out);
	assert_string_equal(out, "WINDOWS-1251");
	charset_canonical("\"utf-8\"", out);
	assert_string_equal(out, "UTF-8");
	assert_int_equal(charset_canonical("klingon-1", out), Q_EUNSUPPORTED);
	assert_int_equal(charset_from_content_type("text/html; Charset=\"gbk\"", out), 1);
	assert_string_equal(out, "gbk");
	assert_int_equal(charset_from_content_type("text/html", out), 0);
}

static void charset_detection_order(void **state)
{
	char cs[CHARSET_NAME_MAX];
	const char *utf8_zh = "<p>中文内容</p>";
	const char *gbk_zh =
		"<p>\xd6\xd0\xce\xc4\xc4\xda\xc8\xdd\xb5\xc4\xce\xc4\xd5\xc2</p>"; /* 中文内容的文章 */

	(void)state;
	/* A gb2312 label on UTF-8 bytes: the bytes win. */
	charset_detect(utf8_zh, strlen(utf8_zh), "gb2312", 1, cs);
	assert_string_equal(cs, "UTF-8");
	/* Real GBK with a label. */
	charset_detect(gbk_zh, strlen(gbk_zh), "gbk", 1, cs);
	assert_string_equal(cs, "GB18030");
	/* Real GBK with a lying UTF-8 label: sniffed. */
	charset_detect(gbk_zh, strlen(gbk_zh), NULL, 1, cs);
	assert_string_equal(cs, "GB18030");
	/* BOM wins over everything. */
	charset_detect("\xff\xfeh\0i\0", 6, "gbk", 1, cs);
	assert_string_equal(cs, "UTF-16LE");
	/* <meta charset> in the first bytes. */
	{
		const char *m =
			"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\">"
			"</head><body>\xcf\xf0\xe8\xe2\xe5\xf2</body></html>";
		charset_detect(m, strlen(m), NULL, 1, cs);
		assert_string_equal(cs, "WINDOWS-1251");
	}
	/* Pure ASCII is UTF-8. */
	charset_detect("plain", 5, NULL, 1, cs);
	assert_string_equal(cs, "UTF-8");
}

static void charset_conversion_replaces_bad_bytes(void **state)
{
	struct qbuf b;

	(void)state;
	qbuf_init(&b, 1000);
	assert_int_equal(charset_to_utf8("caf\xe9 \x80", 6, "WINDOWS-1252", &b, NULL), 0);
	assert_string_equal(qbuf_cstr(&b), "café €");
	qbuf_reset(&b);
	/* 0xFF is not valid GBK lead byte: replaced, the rest kept. */
	assert_int_equal(charset_to_utf8("\xd6\xd0\xff\xce\xc4", 5, "GB18030", &b, NULL), 0);
	assert_string_equal(qbuf_cstr(&b), "中\xef\xbf\xbd文");
	qbuf_reset(&b);
	assert_int_equal(charset_to_utf8("\xef\xbb\xbfok", 5, "UTF-8", &b, NULL), 0);
	assert_string_equal(qbuf_cstr(&b), "ok");
	qbuf_release(&b);
}

static void html_keeps_content_drops_chrome(void **state)
{
	struct doc d;
	const char *html =
		"<html lang=en><head><title>Story title | Site</title></head><body>"
		"<nav><ul><li><a href=/>Home</a></li><li><a href=/a>About</a></li></ul></nav>"
		"<div class=content><h1>Story title</h1>"
		"<p>The first paragraph of the story is long enough to be content, with commas, and a full stop.</p>"
		"<div class=social-share><a href=#>Tweet</a><a href=#>Share</a></div>"
		"<p>A second paragraph continues the story with more detail, more words, and another sentence.</p>"
		"<pre>code   keeps\n  its spaces</pre>"
		"<script>var hidden = 'script text';</script><p style='display:none'>invisible text</p>"
		"</div><footer>Copyright footer text</footer></body></html>";
	char *t;

	(void)state;
	t = extract(html, DOC_FORMAT_TEXT, &d);
	assert_non_null(strstr(t, "The first paragraph"));
	assert_non_null(strstr(t, "A second paragraph"));
	assert_non_null(strstr(t, "code   keeps\n  its spaces"));
	assert_null(strstr(t, "Home"));
	assert_null(strstr(t, "Tweet"));
	assert_null(strstr(t, "script text"));
	assert_null(strstr(t, "invisible"));
	assert_null(strstr(t, "Copyright"));
	assert_null(strstr(t, "Story title")); /* the title is metadata, not body */
	assert_string_equal(d.title, "Story title");
	assert_string_equal(d.lang, "en");
	doc_release(&d);
}

static void html_metadata_sources(void **state)
{
	struct doc d;
	const char *html =
		"<html><head><title>Fallback title for the page - Example</title>"
		"<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@graph\":["
		"{\"@type\":\"NewsArticle\",\"headline\":\"JSON-LD headline\",\"datePublished\":\"2024-03-01\","
		"\"author\":[{\"@type\":\"Person\",\"name\":\"Ann Writer\"}]}]}</script>"
		"<meta name=description content='A description.'></head>"
		"<body><p>Body text that is long enough to count as the main content of this test page.</p></body></html>";

	(void)state;
	extract(html, DOC_FORMAT_TEXT, &d);
	assert_string_equal(d.title, "JSON-LD headline");
	assert_string_equal(d.author, "Ann Writer");
	assert_string_equal(d.date, "2024-03-01");
	assert_string_equal(d.description, "A description.");
	doc_release(&d);
	/* Broken JSON-LD is ignored, the <title> is cut at the site name. */
	extract("<html><head><title>A reasonably long title - Example Site</title>"
		"<script type=application/ld+json>{broken</script></head><body><p>x</p></body></html>",
		DOC_FORMAT_TEXT, &d);
	assert_string_equal(d.title, "A reasonably long title");
	assert_null(d.author);
	doc_release(&d);
}

/* Long enough, with punctuation, to be prose. */
#define PROSE(x) \
	"<p>" x " is a paragraph long enough to read as prose, with commas, clauses, and a full stop.</p>"

static void html_page_types(void **state)
{
	struct doc d;
	struct doc_options o;
	struct q_error e;
	const char *plain = "<html><body>" PROSE("Plain") "</body></html>";

	(void)state;
	assert_true(html_tags_sorted()); /* tag kinds are looked up by binary search */
	extract("<html><head><meta property=og:type content=article></head><body>" PROSE("One") "</body></html>",
		DOC_FORMAT_TEXT, &d);
	assert_int_equal(d.page_type, DOC_PAGE_ARTICLE);
	assert_string_equal(doc_page_type_name(d.page_type), "article");
	doc_release(&d);
	/* One Product is a product page; a forum type outranks an article. */
	extract("<html><head><script type=application/ld+json>{\"@type\":[\"Product\",\"Thing\"],"
		"\"name\":\"Kettle\"}</script></head><body>" PROSE("Kettle") "</body></html>",
		DOC_FORMAT_TEXT, &d);
	assert_int_equal(d.page_type, DOC_PAGE_PRODUCT);
	doc_release(&d);
	extract("<html><head><meta property=og:type content=article><script type=application/ld+json>"
		"{\"@type\":\"WebPage\",\"mainEntity\":{\"@type\":\"DiscussionForumPosting\"}}</script>"
		"</head><body>" PROSE("Post") "</body></html>",
		DOC_FORMAT_TEXT, &d);
	assert_int_equal(d.page_type, DOC_PAGE_FORUM);
	doc_release(&d);
	/* Several products, a list, or only og:type product: a category page. */
	extract("<html><head><script type=application/ld+json>[{\"@type\":\"Product\"},{\"@type\":\"Product\"}]"
		"</script></head><body>" PROSE("Shelf") "</body></html>",
		DOC_FORMAT_TEXT, &d);
	assert_int_equal(d.page_type, DOC_PAGE_UNKNOWN);
	assert_null(doc_page_type_name(d.page_type));
	doc_release(&d);
	extract("<html><head><meta property=og:type content=product></head><body>" PROSE("Shelf") "</body></html>",
		DOC_FORMAT_TEXT, &d);
	assert_int_equal(d.page_type, DOC_PAGE_UNKNOWN);
	doc_release(&d);
	/* The address of forum software marks a discussion; other pages do not. */
	memset(&o, 0, sizeof(o));
	memset(&e, 0, sizeof(e));
	o.content_type = "text/html";
	o.base_url = "https://forums.example.org/threads/kettles.123/";
	assert_int_equal(doc_extract(plain, strlen(plain), &o, &d, &e), 0);
	assert_int_equal(d.page_type, DOC_PAGE_FORUM);
	doc_release(&d);
	o.base_url = "https://news.example.org/topic/kettles";
	assert_int_equal(doc_extract(plain, strlen(plain), &o, &d, &e), 0);
	assert_int_equal(d.page_type, DOC_PAGE_UNKNOWN);
	doc_release(&d);
}

static void html_discussion_keeps_replies(void **state)
{
	struct doc d;
	char *t;
	/* The same markup: a blog post's comments go, a declared discussion's stay. */
	const char *body = "<body><div class=post><h1>Which kettle?</h1>" PROSE("The question") PROSE(
		"More of the question") PROSE("Still the question")
		PROSE("The end of the question") "</div>"
						 "<div id=comments class=comments-area><div class=comment>" PROSE(
							 "A reply") "<blockquote class=bbCodeBlock--quote>The question is a paragraph long enough</blockquote>"
								    "</div><div class=comment>" PROSE(
									    "Another reply") "</div></div></body></html>";
	char html[4096];

	(void)state;
	snprintf(html, sizeof(html), "<html><head><title>Which kettle?</title></head>%s", body);
	t = extract(html, DOC_FORMAT_TEXT, &d);
	assert_non_null(strstr(t, "The question"));
	assert_null(strstr(t, "A reply"));
	assert_null(strstr(t, "Which kettle?"));
	doc_release(&d);
	snprintf(html, sizeof(html),
		 "<html><head><title>Which kettle?</title><script type=application/ld+json>"
		 "{\"@type\":\"DiscussionForumPosting\"}</script></head>%s",
		 body);
	t = extract(html, DOC_FORMAT_TEXT, &d);
	assert_non_null(strstr(t, "A reply"));
	assert_non_null(strstr(t, "Another reply"));
	assert_non_null(strstr(t, "Which kettle?")); /* a thread's title is its question */
	/* The quoted post is not repeated. */
	assert_null(strstr(strstr(t, "The question is") + 1, "The question is"));
	doc_release(&d);
}

static void html_chrome_inside_content(void **state)
{
	struct doc d;
	char *t;
	const char *html =
		"<html><head><meta property=og:type content=article></head><body><article>"
		"<noscript>Please enable JavaScript.</noscript>" PROSE("First") PROSE("Second") PROSE(
			"Third") PROSE("Fourth") PROSE("Fifth")
			PROSE("Sixth") "<span class=visually-hidden>Screen reader only text</span>"
				       "<time class=d-none>2024-01-01T00:00:00Z</time><div class='d-none d-md-block'>Shown on wide screens, like this note.</div>"
				       "<div class=faq><button aria-expanded=false>How long does it take?</button>"
				       "<button class=x>Which colour suits a kitchen best?</button><button>Close</button>"
				       "<div>" PROSE(
					       "The answer") "</div></div>"
							     "<ul><li><a href=/a>Another story about kettles</a></li><li><a href=/b>Yet another story</a></li>"
							     "<li><a href=/c>A third story on this site</a></li></ul>"
							     "<p><a href=/gift>A sentence that is one long link to a page about giving, with punctuation.</a></p>"
							     "<div class=author-bio><p>Ann Writer is a journalist who has covered kettles for ten years, and more.</p></div>"
							     "</article></body></html>";

	(void)state;
	t = extract(html, DOC_FORMAT_TEXT, &d);
	assert_non_null(strstr(t, "First is a paragraph"));
	assert_non_null(strstr(t, "The answer is"));
	assert_non_null(strstr(t, "How long does it take?"));
	assert_non_null(strstr(t, "Which colour suits"));
	assert_non_null(strstr(t, "Shown on wide screens"));
	assert_non_null(strstr(t, "A sentence that is one long link"));
	assert_null(strstr(t, "JavaScript"));
	assert_null(strstr(t, "Screen reader"));
	assert_null(strstr(t, "2024-01-01"));
	assert_null(strstr(t, "Close"));
	assert_null(strstr(t, "Another story"));
	assert_null(strstr(t, "Ann Writer"));
	doc_release(&d);
	/* A section repeated for another screen size is said once; short
	 * repeats ("Reply") and code are left alone. */
	t = extract(
		"<html><body><article>" PROSE("Once") PROSE("Twice") "<div class=mobile>" PROSE(
			"Once") "</div><pre>x = 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 + 11</pre>"
				"<pre>x = 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 + 11</pre></article></body></html>",
		DOC_FORMAT_TEXT, &d);
	assert_null(strstr(strstr(t, "Once is") + 1, "Once is"));
	assert_non_null(strstr(strstr(t, "x = 1") + 1, "x = 1"));
	doc_release(&d);
	/* A page whose script reveals content the HTML hides: read it when
	 * nothing else is there; otherwise hidden stays hidden. */
	t = extract("<html><body><div style='display:none'><main>" PROSE("Revealed")
			    PROSE("Later") "</main></div></body></html>",
		    DOC_FORMAT_TEXT, &d);
	assert_non_null(strstr(t, "Revealed is"));
	doc_release(&d);
	t = extract("<html><body><main>" PROSE("Shown") PROSE("Also shown") "<div style='display: none'>" PROSE(
			    "Hidden") "</div></main></body></html>",
		    DOC_FORMAT_TEXT, &d);
	assert_non_null(strstr(t, "Shown is"));
	assert_null(strstr(t, "Hidden is"));
	doc_release(&d);
}

static void html_markdown_structure(void **state)
{
	struct doc d;
	const char *html =
		"<body><article><h2>Section</h2><p>Paragraph text that is long enough, with commas, to be content.</p>"
		"<ul><li>one</li><li>two <b>bold</b></li></ul>"
		"<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>"
		"<p>Line<br>break</p></article></body>";
	char *t;

	(void)state;
	t = extract(html, DOC_FORMAT_MARKDOWN, &d);
	assert_non_null(strstr(t, "## Section\n\nParagraph"));
	assert_non_null(strstr(t, "- one\n- two bold\n\n| A | B |")); /* a table after a list needs a blank line */
	assert_non_null(strstr(t, "| A | B |\n| --- | --- |\n| 1 | 2 |"));
	assert_non_null(strstr(t, "Line\nbreak"));
	doc_release(&d);
}

static void html_cjk_weighting(void **state)
{
	struct doc d;
	/* Short in bytes per idea: CJK text must still count as content
	 * against a long English link menu. */
	const char *html =
		"<body><div class=menu><a href=/1>Home page link</a> <a href=/2>Another menu link</a> "
		"<a href=/3>Third menu link here</a></div>"
		"<div class=text><p>全球定位系统的选择可用性于二〇〇〇年被关闭，民用精度大幅提高。</p>"
		"<p>这一决定促进了导航产业的发展，也为开放技术的讨论提供了案例。</p></div></body>";
	char *t;

	(void)state;
	t = extract(html, DOC_FORMAT_TEXT, &d);
	assert_non_null(strstr(t, "全球定位系统"));
	assert_non_null(strstr(t, "开放技术"));
	assert_null(strstr(t, "menu link"));
	doc_release(&d);
}

static void html_degenerate_inputs(void **state)
{
	struct doc d;
	struct doc_options o;
	struct q_error e;
	static const char *const inputs[] = {"",
					     " ",
					     "<",
					     "<html>",
					     "</p></p></div>",
					     "<!-- only a comment -->",
					     "<html><body></body></html>",
					     "\xff\xfe\xfd",
					     "<table><td><td><td>",
					     "<p>unclosed <b><i><u>tags",
					     NULL};
	char long_attrs[1400];
	int i;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.content_type = "text/html";
	/* Regression (found by fuzz_html): class and id together longer than
	 * the classifier's buffer overflowed it by one byte. */
	memset(long_attrs, 'a', sizeof(long_attrs));
	memcpy(long_attrs, "<p class=", 9);
	memcpy(long_attrs + 600, " id=", 4);
	memcpy(long_attrs + sizeof(long_attrs) - 6, ">x</p", 5);
	long_attrs[sizeof(long_attrs) - 1] = '\0';
	memset(&e, 0, sizeof(e));
	assert_int_equal(doc_extract(long_attrs, strlen(long_attrs), &o, &d, &e), 0);
	doc_release(&d);
	for (i = 0; inputs[i]; i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(doc_extract(inputs[i], strlen(inputs[i]), &o, &d, &e), 0);
		doc_release(&d);
	}
}

static void sniffing(void **state)
{
	(void)state;
	assert_int_equal(doc_sniff("%PDF-1.7", 8, NULL, NULL), DOC_KIND_PDF);
	assert_int_equal(doc_sniff("<!DOCTYPE html><p>", 18, NULL, NULL), DOC_KIND_HTML);
	assert_int_equal(doc_sniff("# Title\n", 8, NULL, "notes.md"), DOC_KIND_MARKDOWN);
	assert_int_equal(doc_sniff("hello", 5, "text/plain", NULL), DOC_KIND_TEXT);
	assert_int_equal(doc_sniff("\x89PNG\r\n\x1a\n\0\0\0\0", 12, NULL, NULL), DOC_KIND_UNKNOWN);
	assert_int_equal(doc_sniff("whatever", 8, "text/html; charset=utf-8", NULL), DOC_KIND_HTML);
	assert_int_equal(doc_sniff("PK\003\004", 4, NULL, "a.docx"), DOC_KIND_DOCX);
	assert_int_equal(doc_sniff("PK\003\004", 4, NULL, "a.zip"), DOC_KIND_UNKNOWN);
}

static void zip_rejects_damage(void **state)
{
	struct qbuf b;
	struct q_error e;
	/* An EOCD claiming a central directory past the end. */
	const char eocd[22] = {'P', 'K', 5, 6, 0, 0, 0, 0, 1, 0, 1, 0, 46, 0, 0, 0, 100, 0, 0, 0, 0, 0};

	(void)state;
	qbuf_init(&b, 1 << 20);
	memset(&e, 0, sizeof(e));
	assert_int_equal(zip_read_member("short", 5, "x", &b, &e), Q_EPARSE);
	assert_int_equal(zip_read_member(eocd, sizeof(eocd), "x", &b, &e), Q_EPARSE);
	assert_non_null(strstr(e.msg, "out of range"));
	qbuf_release(&b);
}

/* Fail every allocation in turn through a full extraction: each run must
 * return an error or succeed, never crash or leak (ASan checks leaks). */
static void extraction_survives_allocation_failures(void **state)
{
	const char *html = "<html><head><title>T</title><meta name=author content=A>"
			   "<script type=application/ld+json>{\"headline\":\"H\"}</script></head>"
			   "<body><nav><a href=/>x</a></nav><article><h2>S</h2>"
			   "<p>Some paragraph text that is long enough to be content, with commas.</p>"
			   "<ul><li>a</li></ul><table><tr><td>1</td></tr></table></article></body></html>";
	struct doc_options o;
	long n;
	int ok = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.content_type = "text/html";
	for (n = 0; n < 400; n++) {
		struct doc d;
		struct q_error e;
		memset(&e, 0, sizeof(e));
		q_alloc_fail_after(n);
		if (doc_extract(html, strlen(html), &o, &d, &e) == 0) {
			ok++;
			doc_release(&d);
		}
		q_alloc_fail_after(-1);
	}
	assert_true(ok > 0);
}

/* Build "<html><body><p>lead</p>" + n copies of unit + tail into a new buffer. */
static char *repeat_page(const char *lead, const char *unit, size_t n, const char *tail)
{
	size_t ul = strlen(unit), ll = strlen(lead), tl = strlen(tail), i;
	char *b = q_malloc(ll + ul * n + tl + 1), *p;

	assert_non_null(b);
	memcpy(b, lead, ll);
	p = b + ll;
	for (i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return b;
}

static int extract_opts(const char *html, struct doc_options *o, struct doc *doc, struct q_error *e)
{
	o->content_type = "text/html";
	memset(e, 0, sizeof(*e));
	return doc_extract(html, strlen(html), o, doc, e);
}

#define LEAD "<html><body><p>The lead paragraph is here, read before the flood.</p>"

/* 80,000 attributes on one element took libxml2 19.6 s: the page is cut
 * at the element instead, and says so. */
static void html_attribute_flood_is_cut(void **state)
{
	struct doc_options o = {0};
	struct doc doc;
	struct q_error e;
	char *page = repeat_page(LEAD "<div ", "a00000=1 ", 80000, ">tail</div></body></html>");
	char *p = page + strlen(LEAD "<div ");
	double t0;
	int i;

	(void)state;
	/* Distinct names (a repeated name is dropped, not compared again). */
	for (i = 0; i < 80000; i++, p += 9) {
		char name[8];
		snprintf(name, sizeof(name), "a%05x", (unsigned)i);
		memcpy(p, name, 6);
	}
	t0 = q_now_ms();
	assert_int_equal(extract_opts(page, &o, &doc, &e), 0);
	assert_true(q_now_ms() - t0 < 3000);
	assert_non_null(strstr(doc.text, "lead paragraph"));
	assert_non_null(strstr(doc.note, "more than 256 attributes"));
	doc_release(&doc);
	q_free(page);
	/* Many elements each under the per-element cap: the page total. */
	page = repeat_page(LEAD, "<i a b c d e f g h>t</i>", 60000, "</body></html>");
	assert_int_equal(extract_opts(page, &o, &doc, &e), 0);
	assert_non_null(strstr(doc.note, "more than 400000 attributes"));
	doc_release(&doc);
	q_free(page);
}

/* 10 MB of "<p>" peaked at 727 MB: the parse stops at the tag budget. */
static void html_node_flood_is_cut(void **state)
{
	struct doc_options o = {0};
	struct doc doc;
	struct q_error e;
	char *page = repeat_page(LEAD, "<p>", 600000, "</body></html>");

	(void)state;
	assert_int_equal(extract_opts(page, &o, &doc, &e), 0);
	assert_non_null(strstr(doc.text, "lead paragraph"));
	assert_non_null(strstr(doc.note, "more than 500000 tags"));
	doc_release(&doc);
	q_free(page);
	page = repeat_page(LEAD, "<div>", 25000, "deep</body></html>");
	assert_int_equal(extract_opts(page, &o, &doc, &e), 0);
	assert_non_null(strstr(doc.note, "nest more than 20000 deep"));
	doc_release(&doc);
	q_free(page);
	/* An ordinary page carries no note. */
	assert_int_equal(extract_opts(LEAD "</body></html>", &o, &doc, &e), 0);
	assert_string_equal(doc.note, "");
	doc_release(&doc);
}

/* libxml2 reads the page in pieces: long attribute values, entities and
 * UTF-8 that straddle a piece's end must read as in one piece. */
static void html_pieces_do_not_change_text(void **state)
{
	struct doc_options o = {0};
	struct doc doc;
	struct q_error e;
	char *page = repeat_page("<html><body><p title=\"", "x &#39;y&#39; &gt; ", 2000,
				 "\">Visible after a long attribute.</p><p>");
	char *page2, *p;
	size_t n = 0;

	(void)state;
	page2 = repeat_page(page, "caf\xc3\xa9 &amp; th\xc3\xa9 ", 3000, "</p></body></html>");
	assert_int_equal(extract_opts(page2, &o, &doc, &e), 0);
	assert_non_null(strstr(doc.text, "Visible after a long attribute."));
	assert_null(strstr(doc.text, "&#39;"));
	assert_null(strstr(doc.text, "&amp;"));
	for (p = doc.text; (p = strstr(p, "caf\xc3\xa9 & th\xc3\xa9")) != NULL; p++)
		n++;
	assert_int_equal(n, 3000);
	assert_string_equal(doc.note, "");
	doc_release(&doc);
	q_free(page);
	q_free(page2);
}

/* Extraction gives up at its deadline or when cancelled. */
static void html_deadline_and_cancel(void **state)
{
	struct doc_options o = {0};
	struct doc doc;
	struct q_error e;
	volatile int cancel = 1;
	char *page = repeat_page(LEAD, "<p>some words here</p>", 20000, "</body></html>");

	(void)state;
	o.deadline_ms = q_now_ms() - 1;
	assert_int_equal(extract_opts(page, &o, &doc, &e), Q_ETIMEOUT);
	assert_non_null(strstr(e.msg, "time limit"));
	o.deadline_ms = 0;
	o.cancel = &cancel;
	assert_int_equal(extract_opts(page, &o, &doc, &e), Q_ETIMEOUT);
	assert_non_null(strstr(e.msg, "cancelled"));
	cancel = 0;
	o.deadline_ms = q_now_ms() + 60000;
	assert_int_equal(extract_opts(page, &o, &doc, &e), 0);
	doc_release(&doc);
	q_free(page);
}

/* Issue 17: markup escaped inside <noscript> (script frameworks do this
 * to their fallback images and tracking pixels) came out as text. */
static void html_noscript_markup_is_not_text(void **state)
{
	struct doc doc;
	struct qbuf page;
	const char *para = "<p>The council approved the new budget on Tuesday, after a debate "
			   "that lasted well into the night and ended with a narrow vote.</p>";
	char *t;
	int i;

	(void)state;
	qbuf_init(&page, 1 << 20);
	qbuf_adds(&page, "<html><head><title>t</title></head><body><article>");
	for (i = 0; i < 6; i++) {
		qbuf_adds(&page, para);
		qbuf_adds(&page, "<p>Paragraph ");
		qbuf_addc(&page, (char)('a' + i));
		qbuf_adds(&page, " says more, and more, about the budget.</p>");
	}
	/* Over 300 characters: not a short "enable JavaScript" notice. */
	qbuf_adds(&page, "<p>Photo<noscript>&lt;img height=\"1\" width=\"1\" style=\"display:none\" "
			 "src=\"https://www.example.com/tr?id=123&amp;amp;ev=PageView");
	for (i = 0; i < 30; i++)
		qbuf_adds(&page, "&amp;amp;x=abcdefghij");
	qbuf_adds(&page, "\"/&gt;</noscript></p>");
	qbuf_adds(&page, "<noscript><p>This long fallback paragraph is read by people without "
			 "scripts, so it stays in the text as before, with its full sentence. "
			 "It is long enough not to be a notice: forum software serves its posts "
			 "this way, and readers without scripts see them, so the extractor keeps "
			 "them as it did before this change to the noscript handling. Another "
			 "sentence or two make sure of it, whatever the count of spaces is.</p>"
			 "</noscript></article></body></html>");
	t = extract(qbuf_cstr(&page), DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "narrow vote"));
	assert_non_null(strstr(t, "Photo"));
	assert_null(strstr(t, "<img"));
	assert_null(strstr(t, "height="));
	assert_non_null(strstr(t, "long fallback paragraph"));
	doc_release(&doc);
	qbuf_release(&page);
}

/* Issue 17: a news page keeps its article's text and loses what sits
 * around and inside it: dateline, captions and credits, a "Read more"
 * teaser, a subscription prompt, the related list after the body. */
static const char news_page[] =
	"<html><head><title>Council passes the budget</title>\n"
	"<meta property=\"og:type\" content=\"article\"></head>\n"
	"<body><nav><a href=\"/\">Home</a> <a href=\"/news\">News</a></nav>\n"
	"<div class=\"wrap\"><article>\n"
	"<h1>Council passes the budget</h1>\n"
	"<div class=\"dateline\">03.04.2020</div>\n"
	"<div class=\"entry-content\">\n"
	"<p>The city council approved the new budget on Tuesday, after a debate that lasted well into the night and ended with a narrow vote of seven to six.</p>\n"
	"<figure><img src=\"a.jpg\"><figcaption>The council chamber during the vote. Photo: Jane Roe</figcaption></figure>\n"
	"<p>Read more: <a href=\"/other\">Mayor under pressure over the new tram line</a></p>\n"
	"<p>Most of the new money goes to schools and to repairs of the bridges over the river, which engineers had warned about for years.</p>\n"
	"<p>Foto: Archiv</p>\n"
	"<p>The budget also sets aside money for a new library in the north of the city, the first one built there in forty years, and for longer opening hours at the swimming pools.</p>\n"
	"<p>The mayor thanked the members for their work and said the vote showed that the council could still agree on the big questions, even after a difficult year.</p>\n"
	"<p>Subscribe to our newsletter for more local news.</p>\n"
	"<p>Critics said the plan leaves too little for housing, and promised to bring the question back before the summer recess.<noscript>&lt;img height=\"1\" width=\"1\" style=\"display:none\" src=\"https://px.example.com/tr?id=1234567890&amp;amp;ev=PageView&amp;amp;noscript=1&amp;amp;a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"/&gt;</noscript></p>\n"
	"</div>\n"
	"<h3>Related</h3>\n"
	"<ul><li><a href=\"/a\">Schools get new roofs</a> A short summary of another story about schools.</li>\n"
	"<li><a href=\"/b\">Bridge closed for repairs</a> Another summary line of a different story.</li>\n"
	"<li><a href=\"/c\">Tram line delayed again</a> And one more summary line of yet another story.</li></ul>\n"
	"</article></div>\n"
	"<footer>Copyright 2020 The Example Times</footer></body></html>\n";

static void html_article_chrome_left_out(void **state)
{
	struct doc doc;
	char *t, *plain, *at;

	(void)state;
	t = extract(news_page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "narrow vote of seven to six."));
	assert_non_null(strstr(t, "engineers had warned about for years."));
	assert_non_null(strstr(t, "before the summer recess."));
	assert_null(strstr(t, "03.04.2020"));                  /* date line */
	assert_null(strstr(t, "Photo: Jane Roe"));             /* figcaption */
	assert_null(strstr(t, "Read more:"));                  /* one-link teaser */
	assert_null(strstr(t, "Foto: Archiv"));                /* credit line */
	assert_null(strstr(t, "Subscribe to our newsletter")); /* prompt */
	assert_null(strstr(t, "Schools get new roofs"));       /* after the body */
	assert_null(strstr(t, "<img"));
	doc_release(&doc);
	/* Without the body's class, the "Related" heading ends the text. */
	plain = q_strdup(news_page);
	assert_non_null(plain);
	at = strstr(plain, "<div class=\"entry-content\">");
	assert_non_null(at);
	memset(at + 4, ' ', strlen(" class=\"entry-content\""));
	t = extract(plain, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "before the summer recess."));
	assert_null(strstr(t, "Schools get new roofs"));
	doc_release(&doc);
	q_free(plain);
}

/* An article whose text closes with short lines that do not end like a
 * sentence: what follows the article on real pages ("Weitere
 * Informationen", "Kontakt:"), with no class or link to tell them. */
static const char tail_page[] =
	"<html><head><title>T</title></head><body><div>"
	"<p>The council met on Tuesday evening to discuss the new budget, which had been "
	"delayed twice by the summer floods and by a dispute over school repairs.</p>"
	"<p>After four hours of debate the members agreed on a compromise that keeps the "
	"library open and moves the road works to next spring, the mayor said.</p>"
	"<p>Residents who spoke at the meeting welcomed the decision but asked for a clear "
	"timetable for the repairs that engineers had warned about for years.</p>"
	"<ul><li>Library hours unchanged</li></ul>"
	"<p>The mayor wrote on Twitter that the vote was a good day for the town.</p>"
	"<p>The final vote is due before the summer recess.</p>"
	"<p>Weitere Informationen</p><p>Kontakt:</p><p>Press office</p>"
	"<p>Get the latest news straight to your phone with the Town Council app.</p>"
	"</div></body></html>";

static void html_tail_lines_left_out(void **state)
{
	struct doc doc;
	char *t, *page, *at;

	(void)state;
	t = extract(tail_page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "before the summer recess."));
	assert_non_null(strstr(t, "Library hours unchanged")); /* a list item stays */
	assert_null(strstr(t, "Weitere Informationen"));
	assert_null(strstr(t, "Kontakt:"));
	assert_null(strstr(t, "Press office"));
	assert_null(strstr(t, "with the Town Council app")); /* a closing prompt */
	assert_non_null(strstr(t, "wrote on Twitter"));      /* not at the end: kept */
	doc_release(&doc);
	/* Closing lines inside the last paragraph (<br>) go the same way. */
	page = q_strdup(tail_page);
	assert_non_null(page);
	at = strstr(page, "summer recess.</p><p>");
	assert_non_null(at);
	memcpy(at + strlen("summer recess."), "<br>   ", 7); /* one paragraph on */
	t = extract(page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "before the summer recess."));
	assert_null(strstr(t, "Weitere Informationen"));
	doc_release(&doc);
	q_free(page);
}

/* The element a skip link jumps to, and a container named for the
 * paywall it is behind, hold the article. */
static void html_skip_target_and_paywall_content_kept(void **state)
{
	static const char *const wrappers[][2] = {
		{"<div id=\"skiplink-inhalt\">", "</div>"},
		{"<div class=\"content-behind-paywall\">", "</div>"},
		{"<div class=\"Article-Content no-paywall\">", "</div>"},
	};
	char page[2048];
	struct doc doc;
	size_t i;
	char *t;

	(void)state;
	for (i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++) {
		snprintf(page, sizeof(page),
			 "<html><body><nav><a href=\"/\">Home</a> <a href=\"/n\">News</a></nav>%s"
			 "<p>The council met on Tuesday evening to discuss the new budget, which had "
			 "been delayed twice by the summer floods.</p><p>After four hours of debate "
			 "the members agreed on a compromise that keeps the library open.</p>%s"
			 "<div class=\"paywall\">Subscribe now to read on for only one euro a "
			 "month, cancel at any time, no questions asked.</div></body></html>",
			 wrappers[i][0], wrappers[i][1]);
		t = extract(page, DOC_FORMAT_TEXT, &doc);
		assert_non_null(strstr(t, "keeps the library open."));
		assert_null(strstr(t, "cancel at any time")); /* the paywall prompt */
		doc_release(&doc);
	}
}

/* A strong chrome word beside a content word ("entry share") is only a
 * weak hint: the article inside is kept; a bare share bar still goes. */
static void html_strong_word_beside_content_word(void **state)
{
	static const char page[] = "<html><body><nav><a href=\"/\">Home</a> <a href=\"/n\">News</a></nav>"
				   "<div class=\"entry themeform share\">"
				   "<p>The council met on Tuesday evening to discuss the new budget, which had "
				   "been delayed twice by the summer floods.</p><p>After four hours of debate "
				   "the members agreed on a compromise that keeps the library open.</p></div>"
				   "<div class=\"share\"><a href=\"/fb\">Share on Facebook</a> "
				   "<a href=\"/tw\">Share on Twitter</a></div></body></html>";
	struct doc doc;
	char *t;

	(void)state;
	t = extract(page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "keeps the library open."));
	assert_null(strstr(t, "Share on"));
	doc_release(&doc);
}

/* A long comment thread under a shorter article: the article is the
 * content, not the thread. */
static void html_article_beats_longer_comments(void **state)
{
	const char *para = "<p>The council met on Tuesday evening to discuss the new budget, which "
			   "had been delayed twice by the summer floods and the dispute.</p>";
	const char *comment = "<li class=\"comment\"><p>I was at the meeting and I think the "
			      "council got it wrong again, as it does every single year.</p></li>";
	struct qbuf page;
	struct doc doc;
	char *t;
	int i;

	(void)state;
	qbuf_init(&page, 1 << 20);
	qbuf_adds(&page, "<html><head><meta property=\"og:type\" content=\"article\"></head>"
			 "<body><nav>");
	for (i = 0; i < 60; i++) /* chrome outside both, so the body loses */
		qbuf_adds(&page, "<a href=\"/x\">Another section of the site</a> ");
	qbuf_adds(&page, "</nav><div class=\"story\"><h1>Budget</h1>");
	for (i = 0; i < 5; i++)
		qbuf_adds(&page, para);
	qbuf_adds(&page, "</div><section class=\"vhb-comments-container\"><ol>");
	for (i = 0; i < 14; i++)
		qbuf_adds(&page, comment);
	qbuf_adds(&page, "</ol></section></body></html>");
	t = extract(qbuf_cstr(&page), DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "delayed twice by the summer floods"));
	assert_null(strstr(t, "got it wrong again"));
	doc_release(&doc);
	qbuf_release(&page);
}

/* Before the first sentence: a category label and a byline go, the
 * headline stays. */
static void html_lines_before_first_sentence_left_out(void **state)
{
	static const char page[] =
		"<html><body><div><p>Kategorie: News</p><p>VON Sina Giebel</p>"
		"<h2>Budget agreed</h2>"
		"<p>The council met on Tuesday evening to discuss the new budget, which had "
		"been delayed twice by the summer floods.</p><p>After four hours of debate "
		"the members agreed on a compromise that keeps the library open.</p>"
		"<p>Residents who spoke at the meeting welcomed the decision but asked for a "
		"clear timetable for the repairs.</p></div></body></html>";
	struct doc doc;
	char *t;

	(void)state;
	t = extract(page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "Budget agreed"));
	assert_non_null(strstr(t, "keeps the library open."));
	assert_null(strstr(t, "Kategorie"));
	assert_null(strstr(t, "Sina Giebel"));
	doc_release(&doc);
}

/* A UTF-8 label on UTF-8 text with one stray byte (a string cut
 * mid-character) is UTF-8, not windows-1252 mojibake of the whole page;
 * a UTF-8 label on text that is mostly not UTF-8 is still sniffed. */
static void charset_utf8_label_with_a_stray_byte(void **state)
{
	char cs[CHARSET_NAME_MAX];
	struct qbuf page;
	int i;

	(void)state;
	qbuf_init(&page, 1 << 20);
	qbuf_adds(&page, "<html><head><meta charset=\"UTF-8\"></head><body><p>");
	for (i = 0; i < 60; i++)
		qbuf_adds(&page, "Sprzeciw wobec atak\xc3\xb3w na Fundacj\xc4\x99. ");
	qbuf_adds(&page, "papieros\xc3...</p></body></html>");
	charset_detect(page.data, page.len, NULL, 1, cs);
	assert_string_equal(cs, "UTF-8");
	qbuf_reset(&page);
	qbuf_adds(&page, "<html><head><meta charset=\"UTF-8\"></head><body><p>");
	for (i = 0; i < 60; i++)
		qbuf_adds(&page, "Fran\xe7"
				 "ais, d\xe9j\xe0 vu. ");
	qbuf_adds(&page, "</p></body></html>");
	charset_detect(page.data, page.len, NULL, 1, cs);
	assert_string_equal(cs, "WINDOWS-1252");
	qbuf_release(&page);
}

/* Chrome around the article's own container (a sticky share bar that
 * wraps the text) is not chrome. */
static void html_chrome_around_article_body_kept(void **state)
{
	static const char page[] =
		"<html><body><nav><a href=\"/\">Home</a> <a href=\"/n\">News</a></nav>"
		"<div id=\"socialicons-sticky\"><a href=\"/fb\">Facebook</a>"
		"<div class=\"entry-content\"><p>The council met on Tuesday evening to discuss "
		"the new budget, which had been delayed twice by the summer floods.</p><p>After "
		"four hours of debate the members agreed on a compromise that keeps the library "
		"open.</p></div></div></body></html>";
	struct doc doc;
	char *t;

	(void)state;
	t = extract(page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "keeps the library open."));
	doc_release(&doc);
}

/* The intro a template puts above the element holding the rest of the
 * article is part of the text; the menu before it is not. */
static void html_lead_before_content_kept(void **state)
{
	struct qbuf page;
	struct doc doc;
	char *t;
	int i;

	(void)state;
	qbuf_init(&page, 1 << 20);
	qbuf_adds(&page, "<html><head><meta property=\"og:type\" content=\"article\"></head><body>"
			 "<div class=\"col3\"><div class=\"menu\">");
	for (i = 0; i < 40; i++) /* chrome beside both, so the column loses */
		qbuf_adds(&page, "<a href=\"/x\">Another section of the site</a> ");
	qbuf_adds(&page, "</div><p class=\"intro\">The German capital has launched a five-year "
			 "project to examine its colonial past, the city said.</p><div class=\"group\">"
			 "<div class=\"longText\">");
	for (i = 0; i < 8; i++)
		qbuf_adds(&page, "<p>The council met on Tuesday evening to discuss the new budget, which "
				 "had been delayed twice by the summer floods and the dispute.</p>");
	qbuf_adds(&page, "</div></div></div></body></html>");
	t = extract(qbuf_cstr(&page), DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "delayed twice by the summer floods"));
	assert_non_null(strstr(t, "five-year project to examine its colonial past"));
	assert_true(strstr(t, "colonial past") < strstr(t, "delayed twice"));
	assert_null(strstr(t, "Another section"));
	doc_release(&doc);
	qbuf_release(&page);
}

/* "Weitere Informationen", "Was this article helpful?" open what closes
 * an article: the box they head is left out. */
static void html_closing_headings_end_the_text(void **state)
{
	static const char *const heads[] = {"Weitere Informationen", "Was this article helpful?",
					    "Vos réactions"};
	char page[2048];
	struct doc doc;
	size_t i;
	char *t;

	(void)state;
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		snprintf(page, sizeof(page),
			 "<html><body><div><p>The council met on Tuesday evening to discuss the new "
			 "budget, which had been delayed twice by the summer floods.</p><p>After four "
			 "hours of debate the members agreed on a compromise that keeps the library "
			 "open.</p><p>Residents who spoke at the meeting welcomed the decision but "
			 "asked for a clear timetable for the repairs that engineers had warned "
			 "about for years.</p><p>The final vote is due before the summer recess, "
			 "the mayor told reporters after the meeting.</p><h3>%s</h3><p>Our press office answers "
			 "questions on weekdays between nine and five, by telephone or by letter.</p>"
			 "</div></body></html>",
			 heads[i]);
		t = extract(page, DOC_FORMAT_TEXT, &doc);
		assert_non_null(strstr(t, "before the summer recess,"));
		assert_null(strstr(t, "press office"));
		doc_release(&doc);
	}
}

/* Closing paragraphs that read like prose but are the site's small print
 * or the writer's biography (trademarks, a disclaimer, an affiliate
 * note, "About the author") or a support appeal: cut at the end, kept
 * inside the article. */
static const char fine_print_page[] =
	"<html><head><title>T</title></head><body><div>"
	"<p>The council met on Tuesday evening to discuss the new budget, which had been "
	"delayed twice by the summer floods and by a dispute over school repairs.</p>"
	"<p>After four hours of debate the members agreed on a compromise that keeps the "
	"library open and moves the road works to next spring, the mayor said.</p>"
	"<p>The town's trademark blue benches, a councillor noted, will be repainted by "
	"volunteers from the local school before the autumn fair opens its gates.</p>"
	"<p>Residents who spoke at the meeting welcomed the decision but asked for a clear "
	"timetable for the repairs that engineers had warned about for years.</p>"
	"<p>About the author: Jane Roe has covered local politics for the paper since 2009 "
	"and lives with her family on the edge of town.</p>"
	"<p>The views and opinions expressed in this article are those of the author and "
	"do not necessarily reflect the position of the publisher.</p>"
	"<p>Town Daily is a participant in the Amazon Services LLC Associates Program, an "
	"affiliate advertising program designed to provide a means to earn fees.</p>"
	"<p>Local news costs money to make. If you value what you read here, please consider "
	"a monthly gift to support our journalism; every reader counts, and readers like you "
	"keep the newsroom open for everyone.</p>"
	"<p>All brand names and logos are trademarks or registered trademarks of their "
	"respective owners.</p>"
	"</div></body></html>";

static void html_fine_print_at_end_left_out(void **state)
{
	struct doc doc;
	char *t;

	(void)state;
	t = extract(fine_print_page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "warned about for years."));
	assert_non_null(strstr(t, "trademark blue benches")); /* inside: kept */
	assert_null(strstr(t, "Jane Roe"));
	assert_null(strstr(t, "opinions expressed"));
	assert_null(strstr(t, "Associates Program"));
	assert_null(strstr(t, "registered trademarks"));
	assert_null(strstr(t, "support our journalism"));
	doc_release(&doc);
}

/* A blog template's own lines around the post (categories and tags,
 * "comments are closed", the likes widget) are not the post. */
static void html_blog_post_meta_left_out(void **state)
{
	static const char page[] =
		"<html><head><title>T</title></head><body><div class=\"post\"><h2>Trains in winter</h2>"
		"<div class=\"entry\"><p>"
		"The night train to the coast runs again from December, after two winters in which the line was closed for repairs to its bridges.</p>"
		"<p>"
		"Tickets are sold from next week, and the operator says that the first trains are already half full, which it had not expected.</p>"
		"<p>"
		"The old sleeping cars have been rebuilt with new heating, and a dining car is back for the first time since the line was sold.</p>"
		"</div><div class=\"entry-utility\">This entry was posted in Travel, Trains and tagged night train, winter.</div>"
		"<p class=\"postmetadata\">Filed under Travel on Monday, and the comments are closed for this entry.</p>"
		"<div class=\"likes-text\"><span>%d bloggers like this post about trains.</span></div>"
		"</div></body></html>";
	struct doc doc;
	char *t;

	(void)state;
	t = extract(page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "first time since the line was sold."));
	assert_null(strstr(t, "This entry was posted"));
	assert_null(strstr(t, "Filed under"));
	assert_null(strstr(t, "bloggers like"));
	doc_release(&doc);
}

/* A caption whose credit follows its text ("... Foto: Andina", "Name
 * Getty Images") is a photo credit, not a line of the article. */
static void html_caption_with_credit_left_out(void **state)
{
	static const char page[] =
		"<html><head><title>T</title><meta property=\"og:type\" content=\"article\"></head>"
		"<body><article><p>Pupils in a classroom in Lima. Foto: Andina</p><p>"
		"There are three holiday periods in the school year, and the ministry has now set the dates for the coming one in every region.</p>"
		"<p>Dee Dee Myers Getty Images</p><p>"
		"Teachers say the new calendar leaves too little time before the exams, and their union has asked for a meeting this month.</p>"
		"<p>"
		"The ministry says it will listen, but that the dates follow the harvest in the Andes, when many children help their families.</p>"
		"</article></body></html>";
	struct doc doc;
	char *t;

	(void)state;
	t = extract(page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "help their families."));
	assert_null(strstr(t, "Andina"));
	assert_null(strstr(t, "Getty"));
	doc_release(&doc);
}

/* Advertising disclosures ("*Werbung.", "Anzeige, enthält Affiliate
 * Links", "contains affiliate links") are the site's notice, not the
 * article; a sentence about advertising stays. */
static void html_ad_disclosures_left_out(void **state)
{
	static const char page[] =
		"<html><head><title>T</title><meta property=\"og:type\" content=\"article\"></head>"
		"<body><article><p>Anzeige, enth\xc3\xa4lt Affiliate Links</p><p>"
		"Werbung im Fernsehen kostet die Marken jedes Jahr mehr, und viele gehen deshalb mit ihrem Geld zu den Plattformen im Netz.</p>"
		"<p>*Werbung. Dieser Beitrag enth\xc3\xa4lt Werbung f\xc3\xbcr eine Marke.</p><p>"
		"Die Sender halten dagegen, dass ihre Zuschauer treuer sind, und bieten Pakete an, die beides verbinden, Fernsehen und Netz.</p>"
		"<p>This post contains affiliate links to the shops we tested.</p><p>"
		"Im Herbst will der Verband neue Zahlen vorlegen; bis dahin, sagt er, sei der Streit um die Reichweite nicht zu entscheiden.</p>"
		"</article></body></html>";
	struct doc doc;
	char *t;

	(void)state;
	t = extract(page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "Werbung im Fernsehen kostet"));
	assert_non_null(strstr(t, "nicht zu entscheiden."));
	assert_null(strstr(t, "Affiliate Links"));
	assert_null(strstr(t, "Dieser Beitrag"));
	assert_null(strstr(t, "affiliate links"));
	doc_release(&doc);
}

/* Ruby annotations (furigana over kanji, pinyin over hanzi) are printed
 * above the text they read: interleaved, they broke every sentence of a
 * page written for learners ("子こどもへの"). */
static void html_ruby_annotations_left_out(void **state)
{
	static const char page[] =
		"<html><head><title>T</title></head><body><article><p>"
		"<ruby>\xe5\xad\x90<rp>(</rp><rt>\xe3\x81\x93</rt><rp>)</rp></ruby>"
		"\xe3\x81\xa9\xe3\x82\x82\xe3\x81\xb8\xe3\x81\xae"
		"<ruby>\xe6\xb3\x95\xe5\xbe\x8b<rt>\xe3\x81\xbb\xe3\x81\x86\xe3\x82\x8a\xe3\x81\xa4</rt></ruby>"
		"\xe3\x81\x8c\xe3\x81\xa7\xe3\x81\x8d\xe3\x81\xbe\xe3\x81\x97\xe3\x81\x9f\xe3\x80\x82"
		"</p></article></body></html>";
	struct doc doc;
	char *t;

	(void)state;
	t = extract(page, DOC_FORMAT_TEXT, &doc);
	/* 子どもへの法律ができました。 */
	assert_string_equal(t, "\xe5\xad\x90\xe3\x81\xa9\xe3\x82\x82\xe3\x81\xb8\xe3\x81\xae"
			       "\xe6\xb3\x95\xe5\xbe\x8b\xe3\x81\x8c\xe3\x81\xa7\xe3\x81\x8d"
			       "\xe3\x81\xbe\xe3\x81\x97\xe3\x81\x9f\xe3\x80\x82");
	doc_release(&doc);
}

/* An opinion piece classed "commentary" (as news sites class their
 * columns) is the article, not reader comments to leave out. */
static void html_commentary_is_not_comments(void **state)
{
	/* Beside it, prose outside any comment hint: the old code took
	 * that and left the article out as a comment appendix. */
	static const char page[] =
		"<html><head><title>T</title><meta property=\"og:type\" content=\"article\"></head>"
		"<body><div class=\"page news commentary\"><article itemprop=\"articleBody\"><h1>"
		"Coal and the climate</h1><p>"
		"The chief executive met the activist on Friday and offered her a seat on the board of the new energy company, talking at length about the climate.</p>"
		"<p>"
		"On Sunday the company announced it would keep its contract for the mine's railway signalling, which it had promised to review after the protests.</p>"
		"<p>"
		"The logic is simple: the contract is small, but walking away from it would have cost the group its reputation as a reliable supplier, he said.</p>"
		"</article></div><div class=\"discussion\"><p>"
		"Readers have written to us about this story and many of them disagree with the company, which they say did what any company would do.</p>"
		"<p>"
		"We read every letter before we publish it, and we publish letters that keep to the rules of the discussion, which you can find on our help pages.</p>"
		"<p>"
		"Please register before you write, and keep to our rules for the discussion; letters without a name are not published here.</p>"
		"</div></body></html>";
	struct doc doc;
	char *t;

	(void)state;
	t = extract(page, DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "offered her a seat"));
	assert_non_null(strstr(t, "reliable supplier"));
	doc_release(&doc);
}

/* A page that builds its article in script: the JSON-LD articleBody is
 * the text when the page shows far less; not when the page shows the
 * article itself. */
static void html_jsonld_article_body_fallback(void **state)
{
	static const char head[] =
		"<html><head><title>T</title><script type=\"application/ld+json\">"
		"{\"@type\": \"NewsArticle\", \"headline\": \"Tsai wins\", \"articleBody\": \"";
	static const char sentence[] = "The president's re-election was no easy feat, and her comeback after the "
				       "local elections surprised even her own party's strategists. ";
	static const char shown[] = "\"}</script></head><body><div id=\"app\"><p>Loading the story, please wait "
				    "while the page starts.</p></div></body></html>";
	struct qbuf page;
	struct doc doc;
	char *t;
	int i;

	(void)state;
	qbuf_init(&page, 1 << 20);
	qbuf_adds(&page, head);
	for (i = 0; i < 6; i++)
		qbuf_adds(&page, sentence);
	qbuf_adds(&page, "Asked about it, she said: \\\"We won together.\\\"");
	qbuf_adds(&page, shown);
	assert_int_equal(page.err, 0);
	t = extract(qbuf_cstr(&page), DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "no easy feat"));
	assert_non_null(strstr(t, "\"We won together.\""));
	assert_null(strstr(t, "Loading the story"));
	doc_release(&doc);
	/* The same body beside an article the page shows: the page's text. */
	qbuf_reset(&page);
	qbuf_adds(&page, head);
	for (i = 0; i < 6; i++)
		qbuf_adds(&page, sentence);
	qbuf_adds(&page, "\"}</script></head><body><article>");
	for (i = 0; i < 3; i++) {
		static const char *const day[] = {"Friday", "Saturday", "Sunday"};
		qbuf_adds(&page, "<p>Voters turned out in large numbers on ");
		qbuf_adds(&page, day[i]);
		qbuf_adds(&page, ", and the count was over before midnight in most of the "
				 "island's districts.</p>");
	}
	qbuf_adds(&page, "</article></body></html>");
	assert_int_equal(page.err, 0);
	t = extract(qbuf_cstr(&page), DOC_FORMAT_TEXT, &doc);
	assert_non_null(strstr(t, "Voters turned out"));
	assert_null(strstr(t, "no easy feat"));
	doc_release(&doc);
	qbuf_release(&page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(charset_labels),
		cmocka_unit_test(charset_detection_order),
		cmocka_unit_test(charset_conversion_replaces_bad_bytes),
		cmocka_unit_test(html_keeps_content_drops_chrome),
		cmocka_unit_test(html_metadata_sources),
		cmocka_unit_test(html_page_types),
		cmocka_unit_test(html_discussion_keeps_replies),
		cmocka_unit_test(html_chrome_inside_content),
		cmocka_unit_test(html_markdown_structure),
		cmocka_unit_test(html_cjk_weighting),
		cmocka_unit_test(html_degenerate_inputs),
		cmocka_unit_test(sniffing),
		cmocka_unit_test(zip_rejects_damage),
		cmocka_unit_test(extraction_survives_allocation_failures),
		cmocka_unit_test(html_attribute_flood_is_cut),
		cmocka_unit_test(html_node_flood_is_cut),
		cmocka_unit_test(html_pieces_do_not_change_text),
		cmocka_unit_test(html_deadline_and_cancel),
		cmocka_unit_test(html_noscript_markup_is_not_text),
		cmocka_unit_test(html_article_chrome_left_out),
		cmocka_unit_test(html_tail_lines_left_out),
		cmocka_unit_test(html_skip_target_and_paywall_content_kept),
		cmocka_unit_test(html_strong_word_beside_content_word),
		cmocka_unit_test(html_article_beats_longer_comments),
		cmocka_unit_test(html_lines_before_first_sentence_left_out),
		cmocka_unit_test(charset_utf8_label_with_a_stray_byte),
		cmocka_unit_test(html_chrome_around_article_body_kept),
		cmocka_unit_test(html_lead_before_content_kept),
		cmocka_unit_test(html_closing_headings_end_the_text),
		cmocka_unit_test(html_fine_print_at_end_left_out),
		cmocka_unit_test(html_ruby_annotations_left_out),
		cmocka_unit_test(html_blog_post_meta_left_out),
		cmocka_unit_test(html_caption_with_credit_left_out),
		cmocka_unit_test(html_ad_disclosures_left_out),
		cmocka_unit_test(html_commentary_is_not_comments),
		cmocka_unit_test(html_jsonld_article_body_fallback),
	};
	doc_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
