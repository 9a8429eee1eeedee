/* libFuzzer target: the search tokenizer in both modes. Tokens must lie
 * inside the input and never exceed TOKEN_MAX_BYTES (after stemming they
 * can only shrink). */
#include <stddef.h>
#include <stdint.h>

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
	return 0;
}
