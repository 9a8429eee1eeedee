/* libFuzzer target: model-written reports (citations, sentence flags),
 * quote checks and passage ranking (abbreviations included). The input
 * is split at the first NUL: report/quote/query | source. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/qbuf.h"
#include "../src/research/report.h"
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
	if (cite_process(a, f, 5, 1, &r) == 0)
		cite_result_release(&r);
	else
		cite_result_release(&r);
	qbuf_init(&n, 1 << 20);
	text_normalize(b, strlen(b), &n);
	text_quote_found(qbuf_cstr(&n), a);
	qbuf_release(&n);
	{
		const char *texts[2] = {b, a};
		struct rpassage *ps = NULL;
		size_t np = 0;
		if (text_rank_passages(texts, 2, a, &ps, &np) == 0)
			free(ps);
	}
	free(a);
	return 0;
}
