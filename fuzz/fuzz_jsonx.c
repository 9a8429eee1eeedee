/* libFuzzer target: JSON extraction and repair from model output. Any
 * value it returns must serialise and parse back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../src/llm/jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = jsonx_extract((const char *)data, size, NULL);
	char *s;

	if (!v)
		return 0;
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s) {
		json_t *back = json_loads(s, JSON_DECODE_ANY, NULL);
		if (!back)
			__builtin_trap();
		json_decref(back);
		free(s);
	}
	json_decref(v);
	return 0;
}
