/* libFuzzer target: search provider replies (SearXNG, Brave, Tavily, Serper). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../src/search/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum search_kind k;

	for (k = SEARCH_SEARXNG; k <= SEARCH_SERPER; k++) {
		struct search_outcome o;
		memset(&o, 0, sizeof(o));
		search_parse_reply(k, (const char *)data, size, 20, &o);
		search_outcome_release(&o);
	}
	return 0;
}
