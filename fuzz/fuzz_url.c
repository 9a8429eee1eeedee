/* libFuzzer target: URL parsing, normal and canonical form, resolution, and the
 * address policy on the parsed host. The input is
 * split at the first newline into a base and a reference. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/net/addrpolicy.h"
#include "../src/net/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *nl;
	struct url u;
	char out[URL_MAX_BYTES * 2];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	nl = strchr(s, '\n');
	if (nl)
		*nl = '\0';
	if (url_parse(s, &u, NULL) == 0) {
		url_format(&u, out, sizeof(out));
		url_origin(&u, out, sizeof(out));
		addr_policy_refusal_str(u.host);          /* numeric hosts: v4, v6 with v4 inside */
		url_canonical(s, out, sizeof(out), NULL); /* tracking parameters dropped */
	}
	if (nl)
		url_resolve(s, nl + 1, out, sizeof(out), NULL);
	free(s);
	return 0;
}
