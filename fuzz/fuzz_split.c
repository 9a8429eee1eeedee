/* libFuzzer target: passage splitting of Markdown text and the search
 * query translation. Passages must lie inside the text, in order, and
 * start on UTF-8 character boundaries. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/index/corpus.h"
#include "../src/index/split.h"

struct check {
	size_t len, last_end;
};

static int check_passage(void *ctx, const struct passage *p)
{
	struct check *c = ctx;

	if (p->start > p->end || p->end > c->len || p->start < c->last_end)
		__builtin_trap();
	c->last_end = p->end;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check c = {size, 0};
	char *q = malloc(size + 1);
	struct qbuf out;

	split_passages((const char *)data, size, check_passage, &c);
	if (!q)
		return 0;
	memcpy(q, data, size);
	q[size] = '\0';
	qbuf_init(&out, 1 << 20);
	corpus_query_to_fts(q, &out, NULL);
	qbuf_release(&out);
	free(q);
	return 0;
}
