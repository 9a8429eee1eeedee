/* libFuzzer target: model-written reports (citation markers of every
 * shape, sentence flags, Markdown neutralising and rendering), quote
 * checks (table blocks row by row), the language guess and passage
 * ranking (abbreviations included). The input is split
 * at the first NUL: report/quote/query | source. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/qbuf.h"
#include "../src/research/report.h"
#include "../src/research/research.h"
#include "../src/research/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = malloc(size + 1), *b;
	struct cite_finding f[5] = {{0}, {1}, {0}, {2}, {3}};
	struct cite_result r;
	struct qbuf n;

	memcpy(a, data, size);
	a[size] = '\0';
	b = a + strlen(a) + (strlen(a) < size ? 1 : 0);
	if (cite_process(a, f, 5, 1, &r) == 0) {
		json_t *rep = json_pack("{s:s, s:s, s:s, s:[{s:i, s:i, s:s}], s:[], s:{}}", "title", "t",
					"mode", "model", "body", r.body, "findings", "id", 1, "n", 1, "quote",
					"q", "sources", "verification");
		struct qbuf out;
		struct q_error err = {0};
		qbuf_init(&out, 1 << 24);
		if (rep) {
			research_render(rep, "md", &out, &err);
			qbuf_reset(&out);
			research_render(rep, "html", &out, &err);
		}
		qbuf_release(&out);
		json_decref(rep);
	}
	cite_result_release(&r);
	{
		struct qbuf o;
		qbuf_init(&o, 1 << 20);
		cite_strip_markers(b, strlen(b), &o);
		qbuf_release(&o);
	}
	qbuf_init(&n, 1 << 20);
	text_normalize(b, strlen(b), &n);
	text_quote_found(qbuf_cstr(&n), a);
	{ /* a block of table rows, checked row by row */
		struct qbuf kept;
		int dropped;
		qbuf_init(&kept, 1 << 20);
		text_quote_rows(qbuf_cstr(&n), a, &kept, &dropped);
		qbuf_release(&kept);
	}
	text_guess_lang(a);
	qbuf_release(&n);
	{
		const char *texts[2] = {b, a};
		const int plain[2] = {0, 1}; /* the report read as Markdown, as plain text */
		struct rpassage *ps = NULL;
		size_t np = 0;
		if (text_rank_passages_ex(texts, plain, 2, a, &ps, &np) == 0)
			free(ps);
	}
	free(a);
	return 0;
}
