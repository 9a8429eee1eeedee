/* Unit tests: html_parse.c's feeder leaves script and style bodies out of
 * what libxml2 reads. Each page here is parsed twice, with and without
 * that, and the two trees must be the same once script and style
 * children are set aside: pages whose markup could make a simpler reader
 * of tags lose their place (comments holding "<script>", quoted '>'
 * in attributes and doctypes, templates in scripts, pieces of 4 KB). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../src/core/alloc.h"
#include "../../src/core/qbuf.h"
#include "../../src/doc/html_int.h"

/* Append a serialisation of n's subtree to b; the children of script and
 * style elements are written as "#raw" and only the attributes the
 * extractor reads are written (keep_bodies: all of them). */
static void dump_tree(const xmlNode *n, struct qbuf *b, int keep_bodies)
{
	for (; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			const xmlAttr *a;
			int raw = !strcmp((const char *)n->name, "script") ||
				  !strcmp((const char *)n->name, "style");
			qbuf_addf(b, "<%s", n->name);
			for (a = n->properties; a; a = a->next)
				if (keep_bodies ||
				    html_attr_is_read((const char *)a->name, strlen((const char *)a->name)))
					qbuf_addf(b, " %s=%s", a->name,
						  a->children && a->children->content
							  ? (const char *)a->children->content
							  : "");
			qbuf_adds(b, ">");
			if (raw && !keep_bodies)
				qbuf_adds(b, "#raw");
			else
				dump_tree(n->children, b, keep_bodies);
			qbuf_addf(b, "</%s>", n->name);
		} else if (n->content) {
			qbuf_addf(b, "[%d:%s]", (int)n->type, (const char *)n->content);
		}
	}
}

/* The tree of page[0..len) as text; keep_raw_text as in html_limits. */
static char *parse_dump(const char *page, size_t len, int keep_raw_text, int keep_bodies)
{
	struct html_limits lim = {0, NULL, HTML_STOP_NONE, keep_raw_text, 0};
	int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
		      HTML_PARSE_COMPACT | XML_PARSE_HUGE;
	htmlDocPtr doc = html_parse_limited(page, len, NULL, options, &lim);
	struct qbuf b;
	size_t n;

	qbuf_init(&b, 64u << 20);
	assert_non_null(doc);
	dump_tree(doc->children, &b, keep_bodies);
	xmlFreeDoc(doc);
	return qbuf_detach(&b, &n);
}

/* Parsed with and without the bodies fed, page gives the same tree. */
static void same_tree(const char *page, size_t len)
{
	char *fed = parse_dump(page, len, 1, 0), *left_out = parse_dump(page, len, 0, 0);

	if (strcmp(fed, left_out))
		fail_msg("trees differ for %.200s\nfed:      %.600s\nleft out: %.600s", page, fed, left_out);
	q_free(fed);
	q_free(left_out);
}

static const char *const tricky_pages[] = {
	"<html><body><!-- <script> --><p>one</p><script>var a = 1;</script><p>two</p></body></html>",
	"<div title=\"<script>\">t</div><script>var a = \"<p>\";</script><p>c</p>",
	"<p a=b\"c>d\" e='<script>'>t</p><script>q()</script><p>after</p>",
	"<div \"foo>bar\"><script>x()</script>kept</div>",
	"<SCRIPT>x()</SCRIPT><STYLE>p{color:red}</style><p>upper case</p>",
	"<script/><p>after self-closing</p><script>y()</script><p>end</p>",
	"<script src=a.js /><p>after</p>",
	"<script type=text/template><div>template</div></script><p>after template</p>",
	"<script><noscript>x</noscript></script><p>z</p>",
	"<script></div>x</script><p>z</p>",
	"<script><body class=x>y</script><p>z</p>",
	"<style><!-- p {} --></style><p>old style comment</p>",
	"<script><!--\ndocument.write('<p>x</p>');\n//--></script><p>old script comment</p>",
	"<p>a</p><script>never closed <p>b</p>",
	"<!DOCTYPE html PUBLIC \"a>b\" \"c\"><script>x()</script><p>d</p>",
	"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\" \"x.dtd\"><script>x()</script><p>d</p>",
	"<?xml version=\"1.0\"?><script>x()</script><p>pi</p>",
	"<? x><script>y()</script><p>pi2</p>",
	"<?\xc3\xa9t x><script>y()</script><p>pi3</p>",
	"</ p><script>z()</script><p>bad end tag</p>",
	"</3><script>z()</script><p>bad end tag 2</p>",
	"<!----><script>a()</script><!--><script>b()</script><!---><script>c()</script><p>e</p>",
	"<!-- x --!><script>a()</script><p>bang</p>",
	"<!-- never closed <script>a()</script><p>lost</p>",
	"<!foo><script>a()</script><p>bogus decl</p>",
	"<script>a</scripty>b</script><p>scripty</p>",
	"<script>a</scripty </script> b</script><p>c</p>",
	"<script>a</scripty x <b>y</b> </script> b</script><p>c</p>",
	"<script>a</script x <script>y()</script>>z",
	"<div>a</div x <!-- <script>b()</script> -->>z<script>c()</script>",
	"<!-- x --!><script>a() --> <p>visible</p> </script><p>e</p>",
	"<!--><script>a()</script>--><script>b()</script><p>e</p>",
	"<script>a</ScRiPt ><p>mixed case end</p>",
	"<style>a</style ><p>x</p>",
	"<textarea><script>x()</script></textarea><title><script>y()</script></title>",
	"<script type=\"application/ld+json\">{\"articleBody\": \"<p>kept</p>\"}</script><p>j</p>",
	"<script type='module'>import x from \"y\";</script><p>m</p>",
	"<div data-x='a\"b' data-y=\"c'd\"><script>e()</script></div>",
	"<a href=/x/><script>f()</script></a>",
	"<p>text < 3 and <3</p><script>if (a < b) {}</script>",
	"<svg><style>.a{}</style></svg><p>svg</p>",
	"<script\n type=\"text/javascript\"\n>a()</script><p>newlines</p>",
	"<script/ >a()</script><p>slash</p>",
	"<script src=\"a\"/ >b()</script><p>slash 2</p>",
	"<scriptfoo>a</scriptfoo><script:x>b</script:x><p>not scripts</p>",
	"<style media=all>p{}</style><p>media</p>",
	"<script type=application/ld+json>{\"a\": 2}</script><p>unquoted json</p>",
	"<a href=\"/x\" class=\"k\" data-track='{\"a\":\">\"}' id=i>link</a><p hidden data-x>h</p>",
	"<img src=a.png srcset=\"a 1x, b 2x\" alt=\"A > B\"/><br data-x=1 /><p>imgs</p>",
	"<a href=x/>unquoted slash</a><a href=\"y\"class=z>no blank</a><a\thref=t\nclass=c\n>tabs</a>",
	"<div aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaclass=x>long name</div>",
	"<meta charset=utf-8 data-x=1><meta http-equiv=content-type content=\"text/html\"><p>meta</p>",
	"<html lang=de data-theme=dark><body class=b onload=\"f()\"><p>root attrs</p><body data-y=2 id=dup>",
	"<a href=\"never closed>text</a><p>after</p>",
	"<script async src=\"a.js\" data-cfasync=false>x()</script><p>script attrs</p>",
	"<script>",
	"<script",
	"<scr",
	"<script>a</",
};

static void tricky_markup_reads_the_same(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(tricky_pages) / sizeof(tricky_pages[0]); i++)
		same_tree(tricky_pages[i], strlen(tricky_pages[i]));
}

/* Pages made of random runs of the tokens that matter to the reader:
 * whatever it makes of them, the trees must agree. */
static void random_markup_reads_the_same(void **state)
{
	static const char *const tokens[] = {
		"<script>",
		"</script>",
		"</script",
		"</scripty>",
		"<style>",
		"</style>",
		"<!--",
		"-->",
		"--!>",
		"-",
		"<",
		">",
		"/>",
		"\"",
		"'",
		"=",
		" ",
		"a",
		"<p>",
		"</p>",
		"<!DOCTYPE html>",
		"<!doctype \"",
		"<?x ",
		"<? ",
		"</",
		"type=json ",
		"<script type=",
		"<noscript>",
		"<body>",
		"<div title=",
		"\n",
		"&amp;",
		"<textarea>",
		"x()",
		"<a href=x",
		" href=/y/",
		" data-a=\"b>c\"",
		" hidden",
		" class=k",
		" id='i'",
		" data-x",
		" srcset='a b'",
		"<img src=a.png alt=\"\">",
		" style=\"d\"",
		"\t",
	};
	uint64_t seed = 0x2545f4914f6cdd1dull;
	struct qbuf b;
	int page, i;

	(void)state;
	qbuf_init(&b, 1u << 20);
	for (page = 0; page < 30000; page++) {
		qbuf_reset(&b);
		for (i = 0; i < 32; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			qbuf_adds(&b, tokens[(seed >> 33) % (sizeof(tokens) / sizeof(tokens[0]))]);
		}
		same_tree(qbuf_cstr(&b), b.len);
	}
	qbuf_release(&b);
}

/* Bodies and tags that cross the feeder's 4 KB pieces. */
static void long_pages_read_the_same(void **state)
{
	struct qbuf b;
	size_t n, i;
	char *page;

	(void)state;
	qbuf_init(&b, 16u << 20);
	qbuf_adds(&b, "<!DOCTYPE html><html><head><title>T</title></head><body>");
	for (i = 0; i < 400; i++) {
		qbuf_addf(&b, "<p class=\"c%zu\">para %zu &amp; caf\xc3\xa9</p><script>var s%zu = '", i, i, i);
		for (n = 0; n < (i * 37) % 900; n++)
			qbuf_addc(&b, (char)('a' + n % 26));
		qbuf_adds(&b, "</p>';</script><!-- c --><style>.x{}</style>");
	}
	qbuf_adds(&b, "</body></html>");
	page = qbuf_detach(&b, &n);
	same_tree(page, n);
	q_free(page);
}

/* The bodies really are left out, but JSON (read for metadata) is kept;
 * a page with a NUL byte is fed as it is. */
static void bodies_left_out_json_kept(void **state)
{
	static const char page[] = "<script>var secret = 1;</script><style>.hid{}</style>"
				   "<script type=\"application/ld+json\">{\"a\": 1}</script><p>x</p>";
	static const char nul_page[] = "<script>var a = 1;\0</script><p>x</p>";
	char *t;

	(void)state;
	t = parse_dump(page, strlen(page), 0, 1);
	assert_null(strstr(t, "secret"));
	assert_null(strstr(t, ".hid"));
	assert_non_null(strstr(t, "{\"a\": 1}"));
	q_free(t);
	t = parse_dump(page, strlen(page), 1, 1);
	assert_non_null(strstr(t, "secret"));
	q_free(t);
	t = parse_dump(nul_page, sizeof(nul_page) - 1, 0, 1);
	assert_non_null(strstr(t, "var a"));
	q_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tricky_markup_reads_the_same),
		cmocka_unit_test(random_markup_reads_the_same),
		cmocka_unit_test(long_pages_read_the_same),
		cmocka_unit_test(bodies_left_out_json_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
