/* libFuzzer target: the ZIP reader and DOCX text extraction. */
#include <stddef.h>
#include <stdint.h>

#include "../src/doc/doc.h"
#include "../src/doc/docx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct doc_options o = {0};
	struct doc d = {0};
	struct q_error e;

	doc_global_init();
	o.format = DOC_FORMAT_MARKDOWN;
	if (docx_extract((const char *)data, size, &o, &d, &e) == 0)
		doc_release(&d);
	else
		doc_release(&d);
	return 0;
}
