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
	{"utf-8", "UTF-8"},
	{"utf8", "UTF-8"},
	{"unicode-1-1-utf-8", "UTF-8"},
	{"utf-16", "UTF-16LE"},
	{"utf-16le", "UTF-16LE"},
	{"utf-16be", "UTF-16BE"},
	{"gb2312", "GB18030"},
	{"gbk", "GB18030"},
	{"gb18030", "GB18030"},
	{"x-gbk", "GB18030"},
	{"cp936", "GB18030"},
	{"euc-cn", "GB18030"},
	{"chinese", "GB18030"},
	{"csgb2312", "GB18030"},
	{"gb_2312-80", "GB18030"},
	{"big5", "BIG5-HKSCS"},
	{"big5-hkscs", "BIG5-HKSCS"},
	{"x-x-big5", "BIG5-HKSCS"},
	{"cn-big5", "BIG5-HKSCS"},
	{"cp950", "BIG5-HKSCS"},
	{"shift_jis", "CP932"},
	{"shift-jis", "CP932"},
	{"sjis", "CP932"},
	{"x-sjis", "CP932"},
	{"ms_kanji", "CP932"},
	{"windows-31j", "CP932"},
	{"cp932", "CP932"},
	{"csshiftjis", "CP932"},
	{"euc-jp", "EUC-JP"},
	{"x-euc-jp", "EUC-JP"},
	{"iso-2022-jp", "ISO-2022-JP"},
	{"euc-kr", "CP949"},
	{"ks_c_5601-1987", "CP949"},
	{"cp949", "CP949"},
	{"windows-949", "CP949"},
	{"korean", "CP949"},
	{"iso-8859-1", "WINDOWS-1252"},
	{"latin1", "WINDOWS-1252"},
	{"l1", "WINDOWS-1252"},
	{"us-ascii", "WINDOWS-1252"},
	{"ascii", "WINDOWS-1252"},
	{"iso_8859-1", "WINDOWS-1252"},
	{"cp1252", "WINDOWS-1252"},
	{"iso-8859-2", "ISO-8859-2"},
	{"iso-8859-3", "ISO-8859-3"},
	{"iso-8859-4", "ISO-8859-4"},
	{"iso-8859-5", "ISO-8859-5"},
	{"iso-8859-6", "ISO-8859-6"},
	{"iso-8859-7", "ISO-8859-7"},
	{"iso-8859-8", "ISO-8859-8"},
	{"iso-8859-9", "WINDOWS-1254"},
	{"iso-8859-10", "ISO-8859-10"},
	{"iso-8859-13", "ISO-8859-13"},
	{"iso-8859-14", "ISO-8859-14"},
	{"iso-8859-15", "ISO-8859-15"},
	{"iso-8859-16", "ISO-8859-16"},
	{"latin2", "ISO-8859-2"},
	{"koi8-r", "KOI8-R"},
	{"koi8-u", "KOI8-U"},
	{"tis-620", "CP874"},
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
	while (p + n < end && n < CHARSET_NAME_MAX - 1 && !strchr(" \"';,>/\t\r\n", p[n]))
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

/* Frequent characters of Chinese (simplified and traditional) and Korean
 * text, sorted. Right decodings are full of them; a wrong CJK decoding
 * of the same bytes yields rare characters. Kana count as frequent for
 * Japanese. */
static const uint32_t frequent_cp[] = {
	0x4E00, 0x4E03, 0x4E07, 0x4E09, 0x4E0A, 0x4E0B, 0x4E0D, 0x4E0E, 0x4E13, 0x4E14, 0x4E16, 0x4E1A,
	0x4E1C, 0x4E24, 0x4E25, 0x4E2A, 0x4E2D, 0x4E3A, 0x4E3B, 0x4E48, 0x4E49, 0x4E4B, 0x4E5D, 0x4E5F,
	0x4E60, 0x4E66, 0x4E86, 0x4E89, 0x4E8B, 0x4E8C, 0x4E8E, 0x4E94, 0x4E9B, 0x4EA4, 0x4EA7, 0x4EAC,
	0x4EB2, 0x4EBA, 0x4EC0, 0x4ECA, 0x4ECE, 0x4ED6, 0x4EE3, 0x4EE5, 0x4EEC, 0x4EF6, 0x4EF7, 0x4EFB,
	0x4F17, 0x4F1A, 0x4F20, 0x4F46, 0x4F4D, 0x4F4E, 0x4F4F, 0x4F53, 0x4F55, 0x4F5C, 0x4F60, 0x4F7F,
	0x4F86, 0x4F8B, 0x4FBF, 0x4FDD, 0x4FE1, 0x500B, 0x5011, 0x5019, 0x503C, 0x505A, 0x513F, 0x5143,
	0x5148, 0x5149, 0x514B, 0x515A, 0x5165, 0x5168, 0x5169, 0x516B, 0x516C, 0x516D, 0x5171, 0x5173,
	0x5176, 0x5177, 0x517B, 0x5185, 0x518D, 0x5199, 0x519B, 0x519C, 0x51B3, 0x51B5, 0x51C6, 0x51E0,
	0x51FA, 0x5206, 0x5207, 0x5212, 0x5217, 0x5219, 0x5229, 0x522B, 0x5230, 0x5236, 0x524D, 0x529B,
	0x529E, 0x52A0, 0x52A1, 0x52A8, 0x52B3, 0x52D5, 0x5305, 0x5316, 0x5317, 0x533A, 0x5340, 0x5341,
	0x5343, 0x534A, 0x534E, 0x5355, 0x5357, 0x5373, 0x5374, 0x5382, 0x5386, 0x538B, 0x539F, 0x53BB,
	0x53BF, 0x53C2, 0x53C8, 0x53CA, 0x53CD, 0x53D1, 0x53D6, 0x53D7, 0x53D8, 0x53E3, 0x53EA, 0x53EB,
	0x53EF, 0x53F2, 0x53F7, 0x5404, 0x5408, 0x540C, 0x540D, 0x540E, 0x5411, 0x542C, 0x5458, 0x5468,
	0x547D, 0x548C, 0x54C1, 0x54CD, 0x54E1, 0x5546, 0x554F, 0x5668, 0x56DB, 0x56DE, 0x56E0, 0x56E2,
	0x56FD, 0x56FE, 0x5706, 0x570B, 0x5718, 0x571F, 0x5728, 0x5730, 0x573A, 0x578B, 0x57FA, 0x5831,
	0x5834, 0x589E, 0x58F0, 0x5904, 0x5907, 0x590D, 0x5916, 0x591A, 0x5927, 0x5929, 0x592A, 0x5934,
	0x5979, 0x597D, 0x5982, 0x59CB, 0x59D4, 0x5B50, 0x5B58, 0x5B66, 0x5B78, 0x5B83, 0x5B89, 0x5B8C,
	0x5B9A, 0x5B9E, 0x5BB6, 0x5BB9, 0x5BE6, 0x5BF9, 0x5BFC, 0x5C06, 0x5C07, 0x5C0D, 0x5C0F, 0x5C11,
	0x5C31, 0x5C40, 0x5C42, 0x5C55, 0x5C5E, 0x5C71, 0x5DE5, 0x5DF2, 0x5E02, 0x5E03, 0x5E26, 0x5E38,
	0x5E72, 0x5E73, 0x5E74, 0x5E76, 0x5E7F, 0x5E94, 0x5E9C, 0x5EA6, 0x5EFA, 0x5F00, 0x5F0F, 0x5F15,
	0x5F20, 0x5F3A, 0x5F53, 0x5F62, 0x5F71, 0x5F80, 0x5F88, 0x5F8B, 0x5F8C, 0x5F97, 0x5F9E, 0x5FC3,
	0x5FC5, 0x5FD7, 0x5FEB, 0x601D, 0x6027, 0x603B, 0x60C5, 0x60F3, 0x610F, 0x611F, 0x61C9, 0x6210,
	0x6211, 0x6216, 0x6218, 0x6240, 0x624B, 0x624D, 0x6253, 0x6280, 0x628A, 0x62A5, 0x62C9, 0x6301,
	0x6307, 0x6309, 0x636E, 0x63A5, 0x63D0, 0x64DA, 0x652F, 0x6536, 0x6539, 0x653E, 0x653F, 0x6548,
	0x6559, 0x6570, 0x6574, 0x6578, 0x6587, 0x6597, 0x6599, 0x65AD, 0x65AF, 0x65B0, 0x65B9, 0x65BC,
	0x65CF, 0x65E0, 0x65E5, 0x65F6, 0x660E, 0x6613, 0x662F, 0x6642, 0x66F4, 0x66F8, 0x6700, 0x6703,
	0x6708, 0x6709, 0x671F, 0x672C, 0x672F, 0x673A, 0x6743, 0x6761, 0x6765, 0x6771, 0x6781, 0x6784,
	0x6797, 0x679C, 0x67E5, 0x6807, 0x6837, 0x6839, 0x683C, 0x689D, 0x696D, 0x6A23, 0x6B21, 0x6B63,
	0x6B64, 0x6B65, 0x6BB5, 0x6BCF, 0x6BD4, 0x6BDB, 0x6C11, 0x6C14, 0x6C34, 0x6C42, 0x6C5F, 0x6C7A,
	0x6CA1, 0x6CB9, 0x6CBB, 0x6CD5, 0x6D3B, 0x6D3E, 0x6D41, 0x6D4E, 0x6D77, 0x6D88, 0x6DF1, 0x6E05,
	0x6E29, 0x6EE1, 0x7063, 0x706B, 0x70B9, 0x70BA, 0x70ED, 0x7121, 0x7136, 0x7167, 0x7247, 0x7269,
	0x7279, 0x72B6, 0x7387, 0x738B, 0x73B0, 0x73FE, 0x7406, 0x751F, 0x7522, 0x7528, 0x7531, 0x7535,
	0x754C, 0x7576, 0x767C, 0x767D, 0x767E, 0x7684, 0x76EE, 0x76F4, 0x76F8, 0x7701, 0x770B, 0x771F,
	0x773C, 0x7740, 0x77E5, 0x77F3, 0x77FF, 0x7814, 0x786E, 0x793A, 0x793E, 0x79BB, 0x79CD, 0x79D1,
	0x79EF, 0x79F0, 0x7A0B, 0x7A2E, 0x7A76, 0x7A7A, 0x7ACB, 0x7B2C, 0x7B49, 0x7B97, 0x7BA1, 0x7C73,
	0x7C7B, 0x7CBE, 0x7CFB, 0x7D20, 0x7D50, 0x7D93, 0x7DB2, 0x7E3D, 0x7EA2, 0x7EA6, 0x7EA7, 0x7EBF,
	0x7EC4, 0x7EC6, 0x7EC7, 0x7ECF, 0x7ED3, 0x7ED9, 0x7EDF, 0x7EF4, 0x7F6E, 0x7F8E, 0x7FA4, 0x7FA9,
	0x8001, 0x8005, 0x800C, 0x8054, 0x8072, 0x80B2, 0x80FD, 0x81EA, 0x81F3, 0x81FA, 0x8207, 0x822C,
	0x8272, 0x8282, 0x82B1, 0x83EF, 0x842C, 0x8655, 0x884C, 0x8868, 0x88AB, 0x88C5, 0x88E1, 0x897F,
	0x8981, 0x89BA, 0x89C1, 0x89C2, 0x89C4, 0x89D2, 0x89E3, 0x8A71, 0x8A8D, 0x8A9E, 0x8AAA, 0x8B70,
	0x8B80, 0x8BA1, 0x8BA4, 0x8BAE, 0x8BB0, 0x8BB8, 0x8BBA, 0x8BBE, 0x8BC1, 0x8BC6, 0x8BDD, 0x8BE5,
	0x8BF4, 0x8C03, 0x8C61, 0x8D28, 0x8D44, 0x8D70, 0x8D77, 0x8D8A, 0x8DEF, 0x8EAB, 0x8ECA, 0x8F49,
	0x8F66, 0x8F6C, 0x8F83, 0x8FB9, 0x8FBE, 0x8FC7, 0x8FD0, 0x8FD1, 0x8FD8, 0x8FD9, 0x8FDB, 0x8FDE,
	0x9002, 0x9009, 0x9019, 0x901A, 0x901F, 0x9020, 0x9032, 0x904E, 0x9053, 0x9054, 0x9084, 0x908A,
	0x90A3, 0x90E8, 0x90FD, 0x9178, 0x91C7, 0x91CC, 0x91CD, 0x91CF, 0x91D1, 0x94C1, 0x9577, 0x957F,
	0x9580, 0x958B, 0x9593, 0x95DC, 0x95E8, 0x95EE, 0x95F4, 0x961F, 0x9636, 0x9645, 0x9662, 0x9664,
	0x96BE, 0x96C6, 0x96FB, 0x9700, 0x9752, 0x975E, 0x9762, 0x9769, 0x97F3, 0x9801, 0x982D, 0x984C,
	0x985E, 0x987B, 0x9886, 0x9898, 0x98A8, 0x98CE, 0x9A6C, 0x9A8C, 0x9AD4, 0x9AD8, 0xAC00, 0xAC70,
	0xAC83, 0xAC8C, 0xACBD, 0xACC4, 0xACE0, 0xACF5, 0xAD6C, 0xADF8, 0xAE30, 0xAE4C, 0xB098, 0xB0B4,
	0xB294, 0xB2E4, 0xB300, 0xB358, 0xB3C4, 0xB3D9, 0xB4E4, 0xB77C, 0xB7EC, 0xB85C, 0xB97C, 0xB9AC,
	0xB9CC, 0xBA74, 0xBAA8, 0xBC29, 0xBCF4, 0xBD80, 0xC0AC, 0xC0C1, 0xC11C, 0xC120, 0xC131, 0xC18C,
	0xC218, 0xC2DC, 0xC2E0, 0xC544, 0xC5B4, 0xC5C6, 0xC5D0, 0xC5EC, 0xC5F0, 0xC694, 0xC6A9, 0xC6B0,
	0xC6D0, 0xC744, 0xC74C, 0xC758, 0xC774, 0xC778, 0xC77C, 0xC788, 0xC790, 0xC7A5, 0xC801, 0xC804,
	0xC815, 0xC81C, 0xC8FC, 0xC9C0, 0xCD9C, 0xD558, 0xD55C, 0xD574, 0xD68C};

static int is_frequent(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(frequent_cp) / sizeof(frequent_cp[0]);

	if (cp >= 0x3041 && cp <= 0x30FA)
		return 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (frequent_cp[mid] == cp)
			return 1;
		if (frequent_cp[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Decode up to SNIFF_BYTES of data as `cs`; return a score: frequent
 * characters decoded, minus private-use ones, or -1 if the bytes are not
 * valid in that encoding. A truncated sequence at the very end of the
 * sample does not count as invalid.
 */
static long sniff_score(const char *data, size_t len, const char *cs)
{
	iconv_t cd = iconv_open("UTF-32LE", cs);
	char outbuf[4096];
	char *in = (char *)data;
	size_t inleft = len < SNIFF_BYTES ? len : SNIFF_BYTES;
	long score = 0;

	if (cd == (iconv_t)-1)
		return -1;
	while (inleft > 0) {
		char *out = outbuf;
		size_t outleft = sizeof(outbuf), k;
		size_t r = iconv(cd, &in, &inleft, &out, &outleft);

		for (k = 0; k + 4 <= sizeof(outbuf) - outleft; k += 4) {
			const unsigned char *u = (const unsigned char *)outbuf + k;
			uint32_t cp = u[0] | (u[1] << 8) | ((uint32_t)u[2] << 16) | ((uint32_t)u[3] << 24);
			if (is_frequent(cp))
				score++;
			else if (cp >= 0xE000 && cp <= 0xF8FF)
				score -= 4; /* private use: a wrong guess */
		}
		if (r == (size_t)-1) {
			if (errno == E2BIG)
				continue;
			if (errno == EINVAL)
				break; /* truncated at the end of the sample */
			iconv_close(cd);
			return -1;
		}
	}
	iconv_close(cd);
	return score;
}

/* Under a UTF-8 label, bytes that are UTF-8 but for a stray invalid
 * sequence (a string cut mid-character) are still UTF-8: at least this
 * many valid multibyte characters for each invalid byte. */
#define UTF8_LABEL_VALID_PER_BAD 50

/* 1 if s[0..n) is UTF-8 with at most one invalid byte per
 * UTF8_LABEL_VALID_PER_BAD valid multibyte characters. */
static int utf8_mostly_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, good = 0, bad = 0, k;
	uint32_t cp;

	while (i < n) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_decode(u + i, n - i, &cp);
		if (cp == UTF8_REPLACEMENT && k == 1)
			bad++;
		else
			good++;
		i += k;
	}
	return bad * UTF8_LABEL_VALID_PER_BAD <= good;
}

void charset_detect(const char *data, size_t len, const char *http_label, int is_html, char *out)
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
	if (http_label && !charset_canonical(http_label, out) && strncmp(out, "UTF-16", 6))
		return;
	if (is_html && meta_charset(data, len, label) && !charset_canonical(label, out) &&
	    strncmp(out, "UTF-16", 6)) {
		/* A UTF-8 label on bytes that are not UTF-8: sniff instead,
		 * unless all but a few stray bytes are UTF-8. */
		if (strcmp(out, "UTF-8") || utf8_mostly_valid(data, len))
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

int charset_to_utf8(const char *data, size_t len, const char *charset, struct qbuf *out, struct q_error *err)
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
				   "character encoding %s is not supported by this system's iconv", charset);
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
