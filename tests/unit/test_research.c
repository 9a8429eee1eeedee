/* Unit tests: quote checks, citations, URL keys, passage ranking, search replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/qbuf.h"
#include "../../src/research/report.h"
#include "../../src/research/research.h"
#include "../../src/research/text.h"
#include "../../src/search/search.h"

static int found(const char *source, const char *quote)
{
	struct qbuf n;
	int r;

	qbuf_init(&n, 1 << 20);
	text_normalize(source, strlen(source), &n);
	r = text_quote_found(qbuf_cstr(&n), quote);
	qbuf_release(&n);
	return r;
}

static void quotes_are_checked_verbatim(void **state)
{
	const char *src = "The change took effect at midnight,   and in the early hours of 2 May 2000 "
			  "the error vanished.\nOverdrive: receivers became “ten times” more accurate — "
			  "**roughly**. 选择可用性于二〇〇〇年五月被关闭，民用精度提高。";

	assert_true(found(src, "the error vanished"));
	assert_true(found(src, "The change took effect at midnight, and in the early hours"));
	assert_true(found(src, "receivers became \"ten times\" more accurate - roughly."));
	assert_true(found(src, "The change took effect ... the error vanished."));
	assert_true(found(src, "The change took effect… 2 May 2000"));
	assert_true(found(src, "选择可用性于二〇〇〇年五月被关闭"));
	assert_false(found(src, "the error vanished ... The change took effect"));   /* order */
	assert_false(found(src, "the error disappeared"));
	assert_false(found(src, "2 May 2000"));                                        /* too short */
	assert_false(found(src, ""));
	assert_false(found(src, "..."));
}

static void citations_are_checked_and_numbered(void **state)
{
	struct cite_finding f[3] = {{4}, {2}, {4}};
	struct cite_result r;
	const char *body = "A direct answer with a claim that is cited right here [F2]. Another claim "
			   "sentence that cites two findings at once [F1, F3].\n\n## Section\n\n"
			   "This long sentence makes a claim but has no citation at all here. "
			   "Short one. A bogus citation points nowhere in this text [F9].\n"
			   "- a list item that is long enough to be a claim of its own [F3]\n";

	assert_int_equal(cite_process(body, f, 3, 1, &r), 0);
	assert_int_equal(r.citations, 5);
	assert_int_equal(r.verified, 4);
	assert_int_equal(r.removed, 1);
	assert_int_equal(r.n_cited_sources, 2);
	assert_int_equal(r.cited_sources[0], 2);   /* F2's source is cited first */
	assert_int_equal(r.source_number[2], 1);
	assert_int_equal(r.source_number[1], 2);
	assert_int_equal(r.unsupported_n, 2);
	assert_non_null(strstr(r.body, "at all here. [unsupported]"));
	assert_non_null(strstr(r.body, "nowhere in this text. [unsupported]"));
	assert_null(strstr(r.body, "F9"));
	assert_non_null(strstr(r.body, "[F1][F3]"));
	assert_null(strstr(r.body, "Short one. [unsupported]"));
	cite_result_release(&r);

	assert_int_equal(cite_process("【F1】 and [f2] and [F] and [F1", f, 3, 0, &r), 0);
	assert_int_equal(r.verified, 2);
	assert_non_null(strstr(r.body, "[F] and [F1"));
	cite_result_release(&r);
}

static void url_keys_merge_the_same_page(void **state)
{
	char a[512], b[512];

	assert_int_equal(text_url_key("https://www.Example.com/a/b/?utm_source=x&id=3#top", a, sizeof(a)), 0);
	assert_int_equal(text_url_key("http://example.com/a/b?id=3&fbclid=zz", b, sizeof(b)), 0);
	assert_string_equal(a, b);
	assert_int_equal(text_url_key("ftp://example.com/", a, sizeof(a)), -1);
}

static void passages_rank_by_question(void **state)
{
	const char *texts[2] = {
		"# Cooking\n\nBoil the pasta in salted water for ten minutes and serve it with sauce.",
		"# GPS\n\nSelective availability was switched off in May 2000, which made civilian "
		"receivers far more accurate.\n\n## Other\n\nThe weather was fine that week."};
	struct rpassage *p;
	size_t n, s, e;

	assert_int_equal(text_rank_passages(texts, 2, "why was selective availability switched off?",
					    &p, &n), 0);
	assert_true(n >= 2);
	assert_int_equal(p[0].source, 1);
	assert_true(p[0].score > 0);
	assert_int_equal(text_key_sentence(texts[1], p[0].start, p[0].end, "selective availability",
					   &s, &e), 0);
	assert_non_null(strstr(texts[1] + s, "Selective availability was switched"));
	free(p);
	{
		/* An abbreviation the document defines stands for its words. */
		const char *t[1] = {
			"# GPS\n\nSelective Availability (SA) degraded the civilian signal on purpose.\n\n"
			"## Later\n\nIn 2000 the White House ended SA, a decade after it began.\n\n"
			"## Unrelated\n\nThe weather was fine that week, and nobody noticed."};
		size_t k;
		int found = 0;

		assert_int_equal(text_rank_passages(t, 1, "selective availability", &p, &n), 0);
		for (k = 0; k < n; k++)
			if (strstr(t[0] + p[k].start, "In 2000 the White House") == t[0] + p[k].start) {
				assert_true(p[k].score > 0);
				found = 1;
			}
		assert_true(found);
		free(p);
	}
	assert_string_equal(text_guess_lang("美国为什么关闭GPS选择可用性？"), "zh");
	assert_string_equal(text_guess_lang("Why did the US switch off GPS?"), "en");
	assert_string_equal(text_guess_lang("東京の天気はどうですか"), "ja");
}

static void search_replies_parse(void **state)
{
	struct search_outcome o;
	const char searx[] = "{\"results\":[{\"url\":\"https://a.test/1\",\"title\":\"A\",\"content\":\"x\"},"
			     "{\"url\":\"javascript:alert(1)\",\"title\":\"bad\"},{\"title\":\"no url\"},7]}";
	const char brave[] = "{\"web\":{\"results\":[{\"url\":\"https://b.test/\",\"title\":\"B\","
			     "\"description\":\"d\"}]}}";
	const char serper[] = "{\"organic\":[{\"link\":\"https://c.test/\",\"title\":\"C\",\"snippet\":\"s\"}]}";

	memset(&o, 0, sizeof(o));
	assert_int_equal(search_parse_reply(SEARCH_SEARXNG, searx, sizeof(searx) - 1, 10, &o), 0);
	assert_int_equal(o.n, 1);
	assert_string_equal(o.results[0].url, "https://a.test/1");
	search_outcome_release(&o);
	assert_int_equal(search_parse_reply(SEARCH_BRAVE, brave, sizeof(brave) - 1, 10, &o), 0);
	assert_string_equal(o.results[0].snippet, "d");
	search_outcome_release(&o);
	assert_int_equal(search_parse_reply(SEARCH_BRAVE, "{}", 2, 10, &o), 0);   /* no results */
	assert_int_equal(o.n, 0);
	assert_int_equal(search_parse_reply(SEARCH_SERPER, serper, sizeof(serper) - 1, 10, &o), 0);
	assert_string_equal(o.results[0].url, "https://c.test/");
	search_outcome_release(&o);
	assert_int_equal(search_parse_reply(SEARCH_TAVILY, "<html>", 6, 10, &o), Q_EPARSE);
	assert_int_equal(search_parse_reply(SEARCH_SEARXNG, "{}", 2, 10, &o), Q_EPARSE);
}

static void html_report_escapes_everything(void **state)
{
	json_t *rep = json_loads(
		"{\"title\":\"<b>Q</b>\",\"mode\":\"model\",\"body\":\"Claim <img src=x onerror=alert(1)> [F1].\","
		"\"findings\":[{\"id\":1,\"n\":1,\"quote\":\"\\\"><script>alert(2)</script>\"}],"
		"\"sources\":[{\"n\":1,\"title\":\"<i>T</i>\",\"url\":\"javascript:alert(3)\",\"quotes\":[\"<q>\"]}],"
		"\"verification\":{}}", 0, NULL);
	struct qbuf out;
	struct q_error err = {0};

	assert_non_null(rep);
	qbuf_init(&out, 1 << 20);
	assert_int_equal(research_render(rep, "html", &out, &err), 0);
	assert_null(strstr(qbuf_cstr(&out), "<script>"));
	assert_null(strstr(qbuf_cstr(&out), "<img"));
	assert_null(strstr(qbuf_cstr(&out), "<b>Q"));
	assert_null(strstr(qbuf_cstr(&out), "href=\"javascript"));
	assert_non_null(strstr(qbuf_cstr(&out), "&lt;img src=x"));
	assert_non_null(strstr(qbuf_cstr(&out), "title=\"&quot;&gt;&lt;script&gt;"));
	qbuf_release(&out);
	qbuf_init(&out, 1 << 20);
	assert_int_equal(research_render(rep, "md", &out, &err), 0);
	assert_non_null(strstr(qbuf_cstr(&out), "[1]"));
	assert_int_equal(research_render(rep, "pdf", &out, &err), Q_EINVAL);
	qbuf_release(&out);
	json_decref(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quotes_are_checked_verbatim),
		cmocka_unit_test(citations_are_checked_and_numbered),
		cmocka_unit_test(url_keys_merge_the_same_page),
		cmocka_unit_test(passages_rank_by_question),
		cmocka_unit_test(search_replies_parse),
		cmocka_unit_test(html_report_escapes_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
