/* libFuzzer target: charset detection (labels, <meta> prescan, CJK
 * sniffing) and conversion to UTF-8. The first byte picks a label. */
#include <stddef.h>
#include <stdint.h>

#include "../src/core/utf8.h"
#include "../src/doc/charset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const labels[] = {NULL,     "gbk",    "utf-8",      "shift_jis",
					     "big5",   "euc-kr", "iso-8859-1", "windows-1251",
					     "utf-16", "euc-jp", "bogus"};
	char cs[CHARSET_NAME_MAX];
	struct qbuf b;
	const char *label = size ? labels[data[0] % 11] : NULL;

	charset_detect((const char *)data, size, label, 1, cs);
	qbuf_init(&b, 1 << 24);
	if (charset_to_utf8((const char *)data, size, cs, &b, NULL) == 0 && !utf8_valid(qbuf_cstr(&b), b.len))
		__builtin_trap(); /* output must always be valid UTF-8 */
	qbuf_release(&b);
	return 0;
}
