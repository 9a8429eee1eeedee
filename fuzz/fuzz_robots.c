/* libFuzzer target: robots.txt parsing and matching. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../src/net/robots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char long_path[4097];
	struct robots r;

	if (robots_parse((const char *)data, size, "quarry", &r) == 0) {
		robots_allowed(&r, "/");
		robots_allowed(&r, "/a/b/c.html?x=1");
		robots_allowed(&r, "/private/deep/path/with/many/segments/and*stars$");
		/* A long near-miss path: matching must stay linear (-timeout). */
		if (!long_path[0]) {
			memset(long_path, 'a', sizeof(long_path) - 1);
			long_path[0] = '/';
		}
		robots_allowed(&r, long_path);
		robots_release(&r);
	}
	return 0;
}
