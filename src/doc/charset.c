/*
 * charset.c - encoding detection and conversion (design notes in charset.h).
 */
#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "../core/utf8.h"

/* How far into an HTML document we look for <meta charset>. */
#define META_PRESCAN_BYTES 4096
/* How much we decode per candidate when sniffing an unlabelled document. */
#define SNIFF_BYTES 65536

struct label_map {
	const char *label;
	const char *iconv_name;
};

/* Labels as seen in the wild -> the superset browsers decode them with. */
static const struct label_map labels[] = {
	{"utf-8", "UTF-8"}, {"utf8", "UTF-8"}, {"unicode-1-1-utf-8", "UTF-8"},
	{"utf-16", "UTF-16LE"}, {"utf-16le", "UTF-16LE"}, {"utf-16be", "UTF-16BE"},
	{"gb2312", "GB18030"}, {"gbk", "GB18030"}, {"gb18030", "GB18030"},
	{"x-gbk", "GB18030"}, {"cp936", "GB18030"}, {"euc-cn", "GB18030"},
	{"chinese", "GB18030"}, {"csgb2312", "GB18030"}, {"gb_2312-80", "GB18030"},
	{"big5", "BIG5-HKSCS"}, {"big5-hkscs", "BIG5-HKSCS"}, {"x-x-big5", "BIG5-HKSCS"},
	{"cn-big5", "BIG5-HKSCS"}, {"cp950", "BIG5-HKSCS"},
	{"shift_jis", "CP932"}, {"shift-jis", "CP932"}, {"sjis", "CP932"},
	{"x-sjis", "CP932"}, {"ms_kanji", "CP932"}, {"windows-31j", "CP932"},
	{"cp932", "CP932"}, {"csshiftjis", "CP932"},
	{"euc-jp", "EUC-JP"}, {"x-euc-jp", "EUC-JP"}, {"iso-2022-jp", "ISO-2022-JP"},
	{"euc-kr", "CP949"}, {"ks_c_5601-1987", "CP949"}, {"cp949", "CP949"},
	{"windows-949", "CP949"}, {"korean", "CP949"},
	{"iso-8859-1", "WINDOWS-1252"}, {"latin1", "WINDOWS-1252"},
	{"l1", "WINDOWS-1252"}, {"us-ascii", "WINDOWS-1252"}, {"ascii", "WINDOWS-1252"},
	{"iso_8859-1", "WINDOWS-1252"}, {"cp1252", "WINDOWS-1252"},
	{"iso-8859-2", "ISO-8859-2"}, {"iso-8859-3", "ISO-8859-3"},
	{"iso-8859-4", "ISO-8859-4"}, {"iso-8859-5", "ISO-8859-5"},
	{"iso-8859-6", "ISO-8859-6"}, {"iso-8859-7", "ISO-8859-7"},
	{"iso-8859-8", "ISO-8859-8"}, {"iso-8859-9", "WINDOWS-1254"},
	{"iso-8859-10", "ISO-8859-10"}, {"iso-8859-13", "ISO-8859-13"},
	{"iso-8859-14", "ISO-8859-14"}, {"iso-8859-15", "ISO-8859-15"},
	{"iso-8859-16", "ISO-8859-16"}, {"latin2", "ISO-8859-2"},
	{"koi8-r", "KOI8-R"}, {"koi8-u", "KOI8-U"}, {"tis-620", "CP874"},
	{"windows-874", "CP874"},
};

static void lower_copy(const char *s, size_t n, char *out)
{
	size_t i;

	if (n >= CHARSET_NAME_MAX)
		n = CHARSET_NAME_MAX - 1;
	for (i = 0; i < n; i++) {
		char c = s[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	out[n] = '\0';
}

int charset_canonical(const char *label, char *out)
{
	char low[CHARSET_NAME_MAX];
	size_t i, n;

	out[0] = '\0';
	if (!label)
		return Q_EUNSUPPORTED;
	while (*label == ' ' || *label == '"' || *label == '\'')
		label++;
	n = strcspn(label, " \"';,\t\r\n");
	lower_copy(label, n, low);
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		if (!strcmp(low, labels[i].label)) {
			memcpy(out, labels[i].iconv_name, strlen(labels[i].iconv_name) + 1);
			return 0;
		}
	}
	/* windows-1250..1258 and cp125x map to themselves. */
	if ((!strncmp(low, "windows-125", 11) && low[11] && !low[12]) ||
	    (!strncmp(low, "cp125", 5) && low[5] && !low[6])) {
		char d = low[strlen(low) - 1];
		if (d >= '0' && d <= '8') {
			memcpy(out, "WINDOWS-125", 11);
			out[11] = d;
			out[12] = '\0';
			return 0;
		}
	}
	return Q_EUNSUPPORTED;
}

/* Case-insensitive search for needle in hay[0..n). */
static const char *memcasestr(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;

	if (m > n)
		return NULL;
	for (i = 0; i + m <= n; i++)
		if (!strncasecmp(hay + i, needle, m))
			return hay + i;
	return NULL;
}

static int extract_label(const char *p, const char *end, char *out)
{
	size_t n;

	while (p < end && (*p == ' ' || *p == '=' || *p == '"' || *p == '\''))
		p++;
	n = 0;
	while (p + n < end && n < CHARSET_NAME_MAX - 1 &&
	       !strchr(" \"';,>/\t\r\n", p[n]))
		n++;
	if (!n)
		return 0;
	memcpy(out, p, n);
	out[n] = '\0';
	return 1;
}

int charset_from_content_type(const char *ct, char *out)
{
	const char *p;

	out[0] = '\0';
	if (!ct)
		return 0;
	p = memcasestr(ct, strlen(ct), "charset");
	if (!p)
		return 0;
	p += 7;
	while (*p == ' ')
		p++;
	if (*p != '=')
		return 0;
	return extract_label(p, p + strlen(p), out);
}

/* Find charset=... inside a <meta ...> tag in the first bytes of an HTML
 * document. Only looks inside meta tags so text mentioning "charset" in a
 * script or body does not count. */
static int meta_charset(const char *data, size_t len, char *out)
{
	const char *p = data, *end = data + (len < META_PRESCAN_BYTES ? len : META_PRESCAN_BYTES);

	while (p < end) {
		const char *tag = memcasestr(p, (size_t)(end - p), "<meta");
		const char *close, *cs;

		if (!tag)
			return 0;
		close = memchr(tag, '>', (size_t)(end - tag));
		if (!close)
			return 0;
		cs = memcasestr(tag, (size_t)(close - tag), "charset");
		if (cs) {
			cs += 7;
			while (cs < close && *cs == ' ')
				cs++;
			if (cs < close && *cs == '=' && extract_label(cs, close, out))
				return 1;
		}
		p = close + 1;
	}
	return 0;
}

static int has_high_bytes(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/*
 * Decode up to SNIFF_BYTES of data as `cs`; return a score: CJK characters
 * decoded, or -1 if the bytes are not valid in that encoding. A truncated
 * sequence at the very end of the sample does not count as invalid.
 */
static long sniff_score(const char *data, size_t len, const char *cs)
{
	iconv_t cd = iconv_open("UTF-32LE", cs);
	char outbuf[4096];
	char *in = (char *)data;
	size_t inleft = len < SNIFF_BYTES ? len : SNIFF_BYTES;
	long score = 0, bad = 0;

	if (cd == (iconv_t)-1)
		return -1;
	while (inleft > 0) {
		char *out = outbuf;
		size_t outleft = sizeof(outbuf), k;
		size_t r = iconv(cd, &in, &inleft, &out, &outleft);

		for (k = 0; k + 4 <= sizeof(outbuf) - outleft; k += 4) {
			const unsigned char *u = (const unsigned char *)outbuf + k;
			uint32_t cp = u[0] | (u[1] << 8) | ((uint32_t)u[2] << 16) | ((uint32_t)u[3] << 24);
			if (utf8_is_cjk(cp))
				score++;
			else if (cp >= 0xE000 && cp <= 0xF8FF)
				bad++;  /* private use: a wrong guess */
		}
		if (r == (size_t)-1) {
			if (errno == E2BIG)
				continue;
			if (errno == EINVAL)
				break;   /* truncated at the end of the sample */
			iconv_close(cd);
			return -1;
		}
	}
	iconv_close(cd);
	return score - 4 * bad;
}

void charset_detect(const char *data, size_t len, const char *http_label,
		    int is_html, char *out)
{
	const unsigned char *u = (const unsigned char *)data;
	static const char *const cjk[] = {"GB18030", "CP932", "EUC-JP", "CP949", "BIG5-HKSCS"};
	char label[CHARSET_NAME_MAX];
	long best = 0;
	size_t i;

	if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF)
		goto utf8;
	if (len >= 2 && u[0] == 0xFF && u[1] == 0xFE) {
		memcpy(out, "UTF-16LE", 9);
		return;
	}
	if (len >= 2 && u[0] == 0xFE && u[1] == 0xFF) {
		memcpy(out, "UTF-16BE", 9);
		return;
	}
	if (has_high_bytes(data, len) && utf8_valid(data, len))
		goto utf8;
	if (http_label && !charset_canonical(http_label, out) &&
	    strncmp(out, "UTF-16", 6))
		return;
	if (is_html && meta_charset(data, len, label) &&
	    !charset_canonical(label, out) && strncmp(out, "UTF-16", 6)) {
		/* A UTF-8 label on bytes that are not UTF-8: sniff instead. */
		if (strcmp(out, "UTF-8"))
			return;
	}
	if (!has_high_bytes(data, len))
		goto utf8;
	memcpy(out, "WINDOWS-1252", 13);
	for (i = 0; i < sizeof(cjk) / sizeof(cjk[0]); i++) {
		long s = sniff_score(data, len, cjk[i]);
		if (s > best) {
			best = s;
			memcpy(out, cjk[i], strlen(cjk[i]) + 1);
		}
	}
	return;
utf8:
	memcpy(out, "UTF-8", 6);
}

int charset_to_utf8(const char *data, size_t len, const char *charset,
		    struct qbuf *out, struct q_error *err)
{
	const unsigned char *u = (const unsigned char *)data;
	iconv_t cd;
	char *in;
	size_t inleft;
	char chunk[16384];

	if (!strcmp(charset, "UTF-8")) {
		if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
			data += 3;
			len -= 3;
		}
		if (utf8_sanitize_append(out, data, len))
			return q_error_set(err, out->err, "text too large while decoding");
		return 0;
	}
	if (!strncmp(charset, "UTF-16", 6) && len >= 2 &&
	    ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
		data += 2;
		len -= 2;
	}
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return q_error_set(err, Q_EUNSUPPORTED,
				   "character encoding %s is not supported by this system's iconv",
				   charset);
	in = (char *)data;
	inleft = len;
	while (inleft > 0 && !out->err) {
		char *o = chunk;
		size_t oleft = sizeof(chunk);
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);

		/* iconv output is valid UTF-8, but may contain NULs. */
		utf8_sanitize_append(out, chunk, sizeof(chunk) - oleft);
		if (r == (size_t)-1) {
			if (errno == E2BIG)
				continue;
			/* EILSEQ or EINVAL: replace one byte and go on. */
			qbuf_add(out, "\xEF\xBF\xBD", 3);
			in++;
			inleft--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	iconv_close(cd);
	if (out->err)
		return q_error_set(err, out->err, "text too large while decoding");
	return 0;
}
