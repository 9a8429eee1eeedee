/* libFuzzer target: the whole document pipeline on HTML input (charset
 * detection and conversion, libxml2 parse, scoring, rendering, metadata). */
#include <stddef.h>
#include <stdint.h>

#include "../src/doc/doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct doc_options o = {0};
	struct doc d;
	struct q_error e;

	doc_global_init();
	o.content_type = "text/html";
	o.format = size && (data[0] & 1) ? DOC_FORMAT_MARKDOWN : DOC_FORMAT_TEXT;
	if (doc_extract((const char *)data, size, &o, &d, &e) == 0)
		doc_release(&d);
	return 0;
}
