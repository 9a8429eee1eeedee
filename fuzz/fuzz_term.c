/* libFuzzer target: the terminal cleaner (src/cli/term.c) and the core
 * stripper it uses (src/core/ctl.c, ctl_strip in place). Whatever the
 * input and wherever a stream splits it, the output holds no C0 control
 * but tab and newline, no DEL, no C1 control, and is valid UTF-8. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/cli/term.c"

static void check(const unsigned char *s, size_t n)
{
	size_t i = 0;
	uint32_t cp;

	assert(utf8_valid((const char *)s, n));
	while (i < n) {
		size_t k = utf8_decode(s + i, n - i, &cp);
		assert(!ctl_is_control(cp));
		i += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_clean_state st;
	char *buf = NULL, *line;
	size_t len = 0, split = size ? data[0] % (size + 1) : 0;
	FILE *f = open_memstream(&buf, &len);
	char small[64];

	memset(&st, 0, sizeof(st));
	if (!f)
		return 0;
	cli_clean_write(&st, f, (const char *)data, split);
	cli_clean_write(&st, f, (const char *)data + split, size - split);
	cli_clean_flush(&st, f);
	fclose(f);
	check((const unsigned char *)buf, len);
	free(buf);
	/* The core stripper in place: no control, and no longer than before. */
	line = malloc(size + 1);
	if (line) {
		size_t m;

		memcpy(line, data, size);
		m = ctl_strip(line, size);
		assert(m <= size);
		for (size_t i = 0; i < m;) {
			uint32_t cp;
			size_t k = utf8_decode((const unsigned char *)line + i, m - i, &cp);
			assert(!ctl_is_control(cp));
			i += k;
		}
		free(line);
	}
	line = malloc(size + 1);
	if (line) {
		memcpy(line, data, size);
		line[size] = '\0';
		cli_clean(small, sizeof(small), line);
		check((const unsigned char *)small, strlen(small));
		cli_display_width(line, size);
		free(line);
	}
	return 0;
}
