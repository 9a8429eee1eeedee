/*
 * utf8.c - UTF-8 decoding and character classes (see utf8.h).
 */
#include <assert.h>
#include <string.h>

#include "utf8.h"

/* utf8_sanitize of n bytes: each bad byte becomes a 3-byte U+FFFD at most. */
#define UTF8_SANITIZED_MAX(n) (3 * (n) + 1)

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *out_cp)
{
	uint32_t cp;
	size_t len, i;
	unsigned char c;

	assert(n > 0); /* utf8.h: n must be > 0 */
	c = s[0];

	if (c < 0x80) {
		*out_cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		goto bad;
	}
	if (n < len)
		goto bad;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		goto bad;
	*out_cp = cp;
	return len;
bad:
	*out_cp = UTF8_REPLACEMENT;
	return 1;
}

size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp >= 0xD800 && cp <= 0xDFFF)
		cp = UTF8_REPLACEMENT;
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp > 0x10FFFF)
		return utf8_encode(UTF8_REPLACEMENT, out);
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_decode(p + i, n - i, &cp);
		if (cp == UTF8_REPLACEMENT && k == 1)
			return 0;
		i += k;
	}
	return 1;
}

int utf8_sanitize_append(struct qbuf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	uint32_t cp;
	char enc[4];

	/* Copy valid runs in one go; only bad bytes take the slow path. */
	while (i < n) {
		size_t k;

		if (p[i] >= 0x01 && p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] == 0) {
			qbuf_add(b, s + run, i - run);
			run = ++i;
			continue;
		}
		k = utf8_decode(p + i, n - i, &cp);
		if (cp == UTF8_REPLACEMENT && k == 1) {
			qbuf_add(b, s + run, i - run);
			qbuf_add(b, enc, utf8_encode(UTF8_REPLACEMENT, enc));
			run = ++i;
			continue;
		}
		i += k;
	}
	qbuf_add(b, s + run, i - run);
	return b->err;
}

int utf8_is_cjk(uint32_t cp)
{
	return (cp >= 0x3040 && cp <= 0x30FF) || /* kana */
	       (cp >= 0x3400 && cp <= 0x4DBF) || /* Han ext A */
	       (cp >= 0x4E00 && cp <= 0x9FFF) || /* Han */
	       (cp >= 0xAC00 && cp <= 0xD7AF) || /* Hangul */
	       (cp >= 0xF900 && cp <= 0xFAFF) || /* Han compat */
	       (cp >= 0x20000 && cp <= 0x2FA1F); /* Han ext B+ */
}

int utf8_is_space(uint32_t cp)
{
	return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
	       cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

int utf8_is_comma(uint32_t cp)
{
	return cp == ',' || cp == ';' || cp == 0x3001 || cp == 0xFF0C || cp == 0xFF1B || cp == 0x060C;
}

int utf8_is_sentence_end(uint32_t cp)
{
	return cp == '.' || cp == '!' || cp == '?' || cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F ||
	       cp == 0xFF0E || cp == 0x0964;
}

char *utf8_sanitize_dup(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	struct qbuf b;

	qbuf_init(&b, UTF8_SANITIZED_MAX(n));
	utf8_sanitize_append(&b, s ? s : "", n);
	return qbuf_detach(&b, NULL);
}
