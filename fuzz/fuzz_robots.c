/* libFuzzer target: robots.txt parsing and matching. */
#include <stddef.h>
#include <stdint.h>

#include "../src/net/robots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct robots r;

	if (robots_parse((const char *)data, size, "quarry", &r) == 0) {
		robots_allowed(&r, "/");
		robots_allowed(&r, "/a/b/c.html?x=1");
		robots_allowed(&r, "/private/deep/path/with/many/segments/and*stars$");
		robots_release(&r);
	}
	return 0;
}
