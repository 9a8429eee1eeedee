/* libFuzzer target: the search tokenizer in both modes. Tokens must lie
 * inside the input and never exceed TOKEN_MAX_BYTES (after stemming they
 * can only shrink). Then the corpus query syntax (corpus_query_to_fts),
 * which splits unquoted CJK text with the tokenizer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/qbuf.h"
#include "../src/index/corpus.h"
#include "../src/index/tokenize.h"

static int check(void *ctx, const char *tok, size_t len, size_t start, size_t end, int colocated)
{
	size_t size = *(size_t *)ctx;

	(void)tok;
	(void)colocated;
	if (start > end || end > size || len == 0 || len > TOKEN_MAX_BYTES + 4)
		__builtin_trap();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tokenizer *t;

	if (!t)
		t = tokenizer_new(1);
	tokenizer_run(t, (const char *)data, size, TOKENIZE_DOCUMENT, check, &size);
	tokenizer_run(t, (const char *)data, size, TOKENIZE_QUERY, check, &size);
	if (size <= CORPUS_MAX_QUERY_BYTES) {
		char *q = malloc(size + 1);
		struct qbuf b;
		if (!q)
			return 0;
		memcpy(q, data, size);
		q[size] = '\0';
		qbuf_init(&b, CORPUS_MAX_QUERY_BYTES * 16);
		corpus_query_to_fts(q, &b, NULL);
		qbuf_release(&b);
		free(q);
	}
	return 0;
}
