/*
 * report.c - citations, verification and rendering of a research report
 * (see research.h and report.h).
 *
 * The writer cites findings as [F12]. cite_process() checks every such
 * reference against the run's findings (whose quotes were verified
 * against their sources when they were noted), drops the ones that point
 * nowhere, numbers the cited sources in order of first citation, and
 * flags sentences that carry no citation. The report JSON keeps the body
 * with finding ids, so every renderer can show the exact quote behind
 * each [n].
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "../core/ctl.h"
#include "../core/qbuf.h"
#include "../core/utf8.h"
#include "report.h"
#include "research.h"
#include "text.h"

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Parse a citation group at p: "[F1]", "[F1, F3]", "【F2】". Returns its
 * length and the ids (up to max), or 0 if p is not one. */
static size_t parse_cite(const char *p, int *ids, int max, int *n)
{
	const char *q = p, *close;
	size_t open_len;

	*n = 0;
	if (*q == '[') {
		open_len = 1;
		close = "]";
	} else if (strncmp(q, "\xE3\x80\x90", 3) == 0) { /* 【 */
		open_len = 3;
		close = "\xE3\x80\x91";
	} else {
		return 0;
	}
	q += open_len;
	for (;;) {
		char *end;
		long v;
		while (*q == ' ')
			q++;
		if ((*q != 'F' && *q != 'f') || !is_digit(q[1]))
			return 0;
		v = strtol(q + 1, &end, 10);
		if (end == q + 1 || v < 0 || v > 1000000)
			return 0;
		if (*n < max)
			ids[(*n)++] = (int)v;
		q = end;
		while (*q == ' ')
			q++;
		if (*q == ',' || *q == ';') {
			q++;
			continue;
		}
		if (strncmp(q, close, strlen(close)) == 0)
			return (size_t)(q + strlen(close) - p);
		return 0;
	}
}

/*
 * Citation-like markers. The writer is asked for [F#], but models write
 * [1], [2][3], [^1], 【1】, ［1］, (Source 1), [source 2], [S1], [1-3],
 * 【1†source】, \[1\], [[1]] or [1](url). Any of them left in a report
 * would look exactly like a citation quarry checked, so every marker is
 * recognised here; only [F#] ids that name a finding survive.
 */
struct bracket {
	const char *open, *close;
	int needs_word; /* "(1)" is a list number; "(Source 1)" is a citation */
};

static const struct bracket brackets[] = {
	{"[", "]", 0},
	{"\xEF\xBC\xBB", "\xEF\xBC\xBD", 0}, /* ［ ］ */
	{"\xE3\x80\x90", "\xE3\x80\x91", 0}, /* 【 】 */
	{"\xE3\x80\x94", "\xE3\x80\x95", 0}, /* 〔 〕 */
	{"(", ")", 1},
	{"\xEF\xBC\x88", "\xEF\xBC\x89", 1}, /* （ ） */
};

/* Words that say "this number is a reference", longest first where one
 * is a prefix of another. */
static const char *const cite_words[] = {"sources",
					 "source",
					 "src",
					 "references",
					 "reference",
					 "refs",
					 "ref",
					 "citations",
					 "citation",
					 "cite",
					 "findings",
					 "finding",
					 "notes",
					 "note",
					 "documents",
					 "document",
					 "docs",
					 "doc",
					 "s",
					 "\xE6\x9D\xA5\xE6\xBA\x90" /* 来源 */,
					 "\xE8\xB5\x84\xE6\x96\x99" /* 资料 */,
					 "\xE6\x96\x87\xE7\x8C\xAE" /* 文献 */,
					 "\xE5\xBC\x95\xE7\x94\xA8" /* 引用 */,
					 NULL};

#define MARKER_MAX_TAIL 80   /* bytes of "†source" and the like before the close */
#define MARKER_MAX_LINK 2048 /* bytes of a "(url)" right after a marker */
/* The body of n bytes after cite_process rewrites it: markers shrink, and
 * " [unsupported]" (14 bytes) after a sentence of a few bytes at least
 * fits in 4 n; the 1024 covers a tiny body. */
#define CITE_OUT_MAX(n) (4 * (n) + 1024)

/* Length of a cite word at q (case-insensitive, whole word), or 0. */
static size_t cite_word(const char *q)
{
	int i;

	for (i = 0; cite_words[i]; i++) {
		size_t n = strlen(cite_words[i]);
		if (strncasecmp(q, cite_words[i], n) == 0 && !is_letter(q[n]))
			return n;
	}
	return 0;
}

/* The separator of two numbers at q: its length, or 0. */
static size_t cite_sep(const char *q)
{
	if (*q == ',' || *q == ';' || *q == '-' || *q == '&')
		return 1;
	if (strncmp(q, "\xE2\x80\x93", 3) == 0 || strncmp(q, "\xE2\x80\x94", 3) == 0 || /* – — */
	    strncmp(q, "\xEF\xBC\x8C", 3) == 0 || strncmp(q, "\xE3\x80\x81", 3) == 0)   /* ， 、 */
		return 3;
	if (strncasecmp(q, "and ", 4) == 0)
		return 3;
	return 0;
}

/*
 * A citation-like marker at p, of at most max bytes: its length, or 0.
 * Finding ids written as F# go to ids (up to max_ids, count in *n_ids);
 * plain numbers, which no finding is, are counted in *n_plain.
 */
/* A blank at q (space, tab, no-break, ideographic, zero-width space or a
 * direction mark: "[\u200b3]" must not pass for "[3]"): its length, or 0. */
static size_t blank_len(const char *q)
{
	const unsigned char *u = (const unsigned char *)q;

	if (*q == ' ' || *q == '\t')
		return 1;
	if (u[0] == 0xC2 && u[1] == 0xA0)
		return 2;
	if (u[0] == 0xE2 && u[1] == 0x80 && u[2] >= 0x80 && u[2] <= 0x8F) /* U+2000..U+200F */
		return 3;
	if ((u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0xA0) || /* U+2060 word joiner */
	    (u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) || /* U+FEFF */
	    (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80))   /* U+3000 */
		return 3;
	return 0;
}

static const char *skip_blanks(const char *q)
{
	size_t n;

	while ((n = blank_len(q)) != 0)
		q += n;
	return q;
}

/* A digit at q, ASCII or full-width (３): its length, its value in *v; or 0. */
static size_t digit_len(const char *q, int *v)
{
	const unsigned char *u = (const unsigned char *)q;

	if (is_digit(*q)) {
		*v = *q - '0';
		return 1;
	}
	if (u[0] == 0xEF && u[1] == 0xBC && u[2] >= 0x90 && u[2] <= 0x99) {
		*v = u[2] - 0x90;
		return 3;
	}
	return 0;
}

static size_t parse_marker(const char *p, size_t max, int *ids, int max_ids, int *n_ids, int *n_plain)
{
	const char *q = p;
	const struct bracket *b = NULL;
	int doubled = 0, word = 0, all_f = 1;
	size_t k, len;

	*n_ids = *n_plain = 0;
	if (*q == '\\')
		q++;
	for (k = 0; k < sizeof(brackets) / sizeof(brackets[0]); k++)
		if (strncmp(q, brackets[k].open, strlen(brackets[k].open)) == 0) {
			b = &brackets[k];
			break;
		}
	if (!b)
		return 0;
	q += strlen(b->open);
	if (b->open[0] == '[' && q[0] == '[') { /* [[1]] */
		doubled = 1;
		q++;
	}
	q = skip_blanks(q);
	if (*q == '^' || *q == '#') {
		q++;
		word = 1;
	}
	if ((len = cite_word(q)) != 0) {
		q += len;
		word = 1;
		while (*q == '.' || *q == ':' || *q == '#' || blank_len(q))
			q += blank_len(q) ? blank_len(q) : 1;
	}
	for (;;) {
		int f = 0;
		long v = 0;
		int digits = 0, dv;
		if ((*q == 'F' || *q == 'f') && digit_len(skip_blanks(q + 1), &dv)) {
			f = 1;
			q = skip_blanks(q + 1);
		}
		while ((len = digit_len(q, &dv)) != 0 && digits < 8) {
			v = v * 10 + dv;
			q += len;
			digits++;
		}
		if (digits == 0 || digit_len(q, &dv))
			return 0;
		if (f && *n_ids < max_ids)
			ids[(*n_ids)++] = (int)v;
		else if (!f)
			(*n_plain)++;
		all_f &= f;
		if (strncmp(q, "\xE2\x80\xA0", 3) == 0 || *q == ':') { /* 【1†source】, [1: p. 3] */
			const char *t = q;
			while (*q && q - t < MARKER_MAX_TAIL && strncmp(q, b->close, strlen(b->close)) != 0 &&
			       *q != '\n')
				q++;
		}
		q = skip_blanks(q);
		if ((len = cite_sep(q)) == 0)
			break;
		q = skip_blanks(q + len);
	}
	if (*q == '\\' && b->open[0] == '[')
		q++;
	if (strncmp(q, b->close, strlen(b->close)) != 0)
		return 0;
	q += strlen(b->close);
	if (doubled) {
		if (*q != ']')
			return 0;
		q++;
	}
	if (b->needs_word && !word && !all_f)
		return 0;
	if (b->open[0] == '[' && *q == '(') { /* [1](https://...) : the link goes too */
		const char *t = q + 1;
		while (*t && *t != ')' && *t != ' ' && *t != '\n' && t - q < MARKER_MAX_LINK)
			t++;
		if (*t == ')')
			q = t + 1;
	}
	if ((size_t)(q - p) > max)
		return 0;
	return (size_t)(q - p);
}

size_t cite_marker_len(const char *s, size_t max)
{
	int ids[1], n_ids, n_plain;

	return parse_marker(s, max, ids, 1, &n_ids, &n_plain);
}

void cite_mend_gap(struct qbuf *out, size_t from, char next)
{
	char prev = out->len > from ? out->data[out->len - 1] : '\0';

	/* "time [12] and" is "time and", "signals [3]." is "signals.",
	 * "signals.[4]The" is "signals. The". */
	if (prev == ' ' && (next == ' ' || next == '\n' || next == '\0' || strchr(".,;:!?)", next)))
		while (out->len > from && out->data[out->len - 1] == ' ')
			out->data[--out->len] = '\0';
	else if (prev && strchr(".!?;:,", prev) && (is_letter(next) || is_digit(next)))
		qbuf_addc(out, ' ');
}

int cite_strip_markers(const char *s, size_t n, struct qbuf *out)
{
	size_t i = 0, len, from = out->len; /* only what this call adds is mended */
	int removed = 0;

	while (i < n) {
		if ((len = cite_marker_len(s + i, n - i)) != 0) {
			i += len;
			removed++;
			if (i < n && cite_marker_len(s + i, n - i))
				continue; /* "[5][6]": mend the spacing after the last */
			/* "time [12] and" is "time and", "signals [3]." is "signals.",
			 * "signals.[4]The" is "signals. The". */
			cite_mend_gap(out, from, i < n ? s[i] : '\0');
			continue;
		}
		qbuf_addc(out, s[i++]);
	}
	return removed;
}

/* Does this sentence make a claim worth a citation? */
static int claim_like(const char *s, size_t n)
{
	size_t i = 0, words = 0, cjk = 0;
	int in_word = 0;

	while (i < n) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k == 0)
			k = 1;
		if (utf8_is_cjk(cp))
			cjk++;
		if (cp == ' ' || cp == '\n') {
			in_word = 0;
		} else if (!in_word) {
			in_word = 1;
			words++;
		}
		i += k;
	}
	return words >= 8 || cjk >= 15;
}

/* Sentence end at s[i]? Returns the length of the terminator or 0. */
static size_t sentence_end(const char *s, size_t i, size_t n)
{
	if ((s[i] == '.' || s[i] == '!' || s[i] == '?') && (i + 1 == n || s[i + 1] == ' ' || s[i + 1] == '\n') &&
	    !(i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9'))
		return 1;
	if (i + 3 <= n && (strncmp(s + i, "\xE3\x80\x82", 3) == 0 || /* 。 */
			   strncmp(s + i, "\xEF\xBC\x81", 3) == 0 || /* ！ */
			   strncmp(s + i, "\xEF\xBC\x9F", 3) == 0))  /* ？ */
		return 3;
	return 0;
}

/*
 * Judge the sentence flagged[sent_start..): one that is claim-like or had
 * a marker (kept or removed) counts as checked, and without a valid
 * citation it is flagged [unsupported]. Others (a short transition, a
 * heading-like line) are left alone.
 */
static void judge_sentence(struct cite_result *r, struct qbuf *flagged, size_t sent_start, int has_cite,
			   int had_marker)
{
	const char *t = qbuf_cstr(flagged) + sent_start;
	size_t n = flagged->len > sent_start ? flagged->len - sent_start : 0;

	if (n == 0 || (!has_cite && !had_marker && !claim_like(t, n)))
		return;
	r->claims++;
	if (has_cite)
		return;
	r->unsupported_n++;
	json_array_append_new(r->unsupported, json_stringn(t, n));
	qbuf_adds(flagged, " [unsupported]");
}

int cite_process(const char *body, const struct cite_finding *f, int n_findings, int flag,
		 struct cite_result *r)
{
	struct qbuf out;
	size_t i = 0, n = strlen(body), line_start;
	size_t *gone = NULL, n_gone = 0, gi = 0; /* offsets in out where markers were removed */
	int ids[16], k, j;

	memset(r, 0, sizeof(*r));
	r->source_number = q_calloc((size_t)(n_findings + 1), sizeof(int));
	r->finding_used = q_calloc((size_t)(n_findings + 1), sizeof(int));
	r->unsupported = json_array();
	if (!r->source_number || !r->finding_used || !r->unsupported)
		return Q_ENOMEM;
	qbuf_init(&out, CITE_OUT_MAX(n));

	/* Pass 1: keep valid citations, drop every other marker, number sources. */
	while (i < n) {
		int cnt, plain, line0 = i == 0 || body[i - 1] == '\n';
		size_t len = parse_marker(body + i, n - i, ids, 16, &cnt, &plain);
		int any = 0;
		if (len == 0) {
			qbuf_addc(&out, body[i++]);
			continue;
		}
		if (line0 && body[i + len] == ':') {
			/* "[^1]: Title, https://..." : the writer's own source list goes whole */
			r->citations += cnt + plain;
			r->removed += cnt + plain;
			i += strcspn(body + i, "\n");
			continue;
		}
		for (k = 0; k < cnt; k++)
			any |= ids[k] >= 1 && ids[k] <= n_findings;
		/* a marker that keeps nothing goes with the space before it */
		if (!any && out.len > 0 && out.data[out.len - 1] == ' ')
			out.data[--out.len] = '\0';
		if (!any && flag) { /* its sentence is judged all the same (pass 2) */
			size_t *g = q_reallocarray(gone, n_gone + 1, sizeof(*gone));
			if (g) {
				gone = g;
				gone[n_gone++] = out.len;
			}
		}
		r->citations += plain;
		r->removed += plain;
		for (k = 0; k < cnt; k++) {
			int id = ids[k], src;
			r->citations++;
			if (id < 1 || id > n_findings) {
				r->removed++;
				continue;
			}
			src = f[id - 1].source;
			r->verified++;
			r->finding_used[id] = 1;
			for (j = 0; j < r->n_cited_sources; j++)
				if (r->cited_sources[j] == src)
					break;
			if (j == r->n_cited_sources && r->n_cited_sources < CITE_MAX_SOURCES)
				r->cited_sources[r->n_cited_sources++] = src;
			qbuf_addf(&out, "[F%d]", id);
		}
		i += len;
	}
	for (k = 1; k <= n_findings; k++)
		for (j = 0; j < r->n_cited_sources; j++)
			if (r->cited_sources[j] == f[k - 1].source)
				r->source_number[k] = j + 1;

	if (!flag) {
		r->body = qbuf_detach(&out, NULL);
		return r->body ? 0 : Q_ENOMEM;
	}
	/* Pass 2: judge every sentence that is claim-like or had a citation
	 * marker (kept or removed); flag those without a valid citation. A
	 * short sentence whose only marker pointed at nothing is flagged too. */
	{
		const char *s = qbuf_cstr(&out);
		struct qbuf flagged;
		size_t m = out.len, sent_start;
		int has_cite = 0, skip_line = 0, had_marker = 0;

		qbuf_init(&flagged, CITE_OUT_MAX(m));
		i = 0;
		line_start = 1;
		sent_start = 0;
		while (i < m) {
			size_t t;
			int cnt;
			while (gi < n_gone && gone[gi] <= i) {
				gi++;
				had_marker = 1;
			}
			if (line_start) {
				skip_line = s[i] == '#' || s[i] == '|' || s[i] == '>' ||
					    strncmp(s + i, "```", 3) == 0;
				line_start = 0;
				sent_start = flagged.len;
				has_cite = 0;
				had_marker = 0;
			}
			if (s[i] == '[' && parse_cite(s + i, ids, 16, &cnt)) {
				size_t len = parse_cite(s + i, ids, 16, &cnt);
				qbuf_add(&flagged, s + i, len);
				i += len;
				has_cite = 1;
				continue;
			}
			if (s[i] == '\n') {
				if (!skip_line)
					judge_sentence(r, &flagged, sent_start, has_cite, had_marker);
				qbuf_addc(&flagged, '\n');
				i++;
				line_start = 1;
				sent_start = flagged.len;
				has_cite = had_marker = 0;
				continue;
			}
			if ((t = sentence_end(s, i, m)) != 0 && !skip_line) {
				/* Citations right after the full stop belong to this sentence. */
				size_t after = i + t, len;
				int c2 = 0;
				qbuf_add(&flagged, s + i, t);
				while (after < m && s[after] == ' ' && s[after + 1] == '[' &&
				       parse_cite(s + after + 1, ids, 16, &cnt))
					after++;
				while (after < m && (len = parse_cite(s + after, ids, 16, &cnt)) != 0) {
					qbuf_add(&flagged, s + after, len);
					after += len;
					c2 = 1;
				}
				has_cite |= c2;
				while (gi < n_gone && gone[gi] <= after) { /* "shrunk. [7]" */
					gi++;
					had_marker = 1;
				}
				judge_sentence(r, &flagged, sent_start, has_cite, had_marker);
				i = after;
				sent_start = flagged.len;
				has_cite = 0;
				had_marker = 0;
				continue;
			}
			qbuf_addc(&flagged, s[i++]);
		}
		if (gi < n_gone)
			had_marker = 1;
		if (!skip_line)
			judge_sentence(r, &flagged, sent_start, has_cite, had_marker);
		qbuf_release(&out);
		q_free(gone);
		gone = NULL;
		if (flagged.err) {
			qbuf_release(&flagged);
			return Q_ENOMEM;
		}
		r->body = qbuf_detach(&flagged, NULL);
	}
	q_free(gone);
	return r->body ? 0 : Q_ENOMEM;
}

void cite_result_release(struct cite_result *r)
{
	q_free(r->body);
	q_free(r->source_number);
	q_free(r->finding_used);
	json_decref(r->unsupported);
	memset(r, 0, sizeof(*r));
}

/* ---- rendering ---- */

/*
 * The fixed words of a report in its language: Chinese for a Chinese
 * report, English otherwise. The stored body keeps the machine form
 * "[unsupported]"; rendering shows labels->unsupported ("[无依据]").
 */
struct labels {
	const char *sources, *verification, *unsupported, *unsupported_title;
	const char *citations, *sentences, *quotes, *read, *stopped;
};

static const struct labels labels_en = {
	"Sources",
	"Verification",
	"[unsupported]",
	"no source supports this sentence",
	"- Citations: %lld, all pointing at quotes checked in their sources; %lld removed because "
	"they pointed at nothing\n",
	"- Sentences checked for a citation: %lld; without one: %lld (marked [unsupported])\n",
	"- Quotes found verbatim in their sources: %lld; dropped because they were not: %lld\n",
	"- Sources read: %lld (%lld cited, listed above); failed: %lld\n",
	"- stopped early: %s; this report uses what was gathered until then\n"};

static const struct labels labels_zh = {"来源",
					"核查",
					"[无依据]",
					"没有来源支持这句话",
					"- 引用：%lld 处，均指向已在来源中核对的引文；%lld 处因无所指而删除\n",
					"- 检查了引用的句子：%lld 句；没有引用的：%lld 句（标为 [无依据]）\n",
					"- 在来源中逐字找到的引文：%lld 条；因未找到而删除的：%lld 条\n",
					"- 已读来源：%lld 个（上面列出被引用的 %lld 个）；失败：%lld 个\n",
					"- 提前停止：%s；本报告只用到那时为止收集的内容\n"};

static const struct labels *report_labels(const json_t *report)
{
	const char *lang = json_string_value(json_object_get(report, "lang"));

	return lang && strcmp(lang, "zh") == 0 ? &labels_zh : &labels_en;
}

static int finding_source_n(const json_t *report, int id, const char **quote)
{
	json_t *f = json_array_get(json_object_get(report, "findings"), (size_t)(id - 1));

	*quote = json_string_value(json_object_get(f, "quote"));
	return (int)json_integer_value(json_object_get(f, "n"));
}

static void escape_html(struct qbuf *out, const char *s, int attr);
static void escape_html_n(struct qbuf *out, const char *s, size_t n);

/* Body with [F12] turned into [n] (md) or links (html); repeated [n][n] merged. */
static void render_body(const json_t *report, const char *body, int html, struct qbuf *out)
{
	size_t i = 0, n = strlen(body);
	int last_n = -1, ids[16], cnt;
	const struct labels *lb = report_labels(report);

	while (i < n) {
		size_t len = parse_cite(body + i, ids, 16, &cnt);
		if (len && cnt == 1) {
			const char *quote = NULL;
			int sn = finding_source_n(report, ids[0], &quote);
			if (sn > 0 && sn != last_n) {
				if (html) {
					qbuf_addf(out, "<a class=\"cite\" href=\"#s%d\" title=\"", sn);
					escape_html(out, quote ? quote : "", 1);
					qbuf_addf(out, "\">[%d]</a>", sn);
				} else {
					qbuf_addf(out, "[%d]", sn);
				}
			}
			last_n = sn;
			i += len;
			continue;
		}
		if (strncmp(body + i, "[unsupported]", 13) == 0) {
			if (html)
				qbuf_addf(out, "<span class=\"nosrc\" title=\"%s\">%s</span>",
					  lb->unsupported_title, lb->unsupported);
			else
				qbuf_adds(out, lb->unsupported);
			i += 13;
			last_n = -1;
			continue;
		}
		if (body[i] != ' ')
			last_n = -1;
		if (html)
			escape_html_n(out, body + i, 1);
		else
			qbuf_addc(out, body[i]);
		i++;
	}
}

/* s[0..n) escaped for HTML text and attribute values. */
static void escape_html_n(struct qbuf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '<':
			qbuf_adds(out, "&lt;");
			break;
		case '>':
			qbuf_adds(out, "&gt;");
			break;
		case '&':
			qbuf_adds(out, "&amp;");
			break;
		case '"':
			qbuf_adds(out, "&quot;");
			break;
		case '\'':
			qbuf_adds(out, "&#39;");
			break;
		default:
			qbuf_addc(out, s[i]);
		}
	}
}

/* The NUL-terminated s escaped (attr: for an attribute value; the same
 * escaping serves both). */
static void escape_html(struct qbuf *out, const char *s, int attr)
{
	(void)attr;
	escape_html_n(out, s, strlen(s));
}

/*
 * Markdown a viewer renders must not fetch or run anything: a remote image
 * ![](http://x/?d=...) is fetched when the report is shown (an exfiltration
 * channel), raw HTML runs in some viewers, and an entity such as &#91;3&#93;
 * would show as a citation quarry never made. Images become a note with
 * their alt text, '<' of a tag or autolink becomes &lt;, '&' of an entity
 * becomes &amp;, a link to javascript:, data: or file: stops being a link. Code spans are treated like prose: the escape shows in
 * them, but no tracking of backticks can be fooled into leaving a tag raw.
 */
#define MD_MAX_ALT 300 /* bytes of an image's alt text kept in its note */
#define MD_MAX_IMAGE_URL 4096
#define MD_CELL_MAX_BYTES (1024 * 1024)              /* one table cell, as Markdown and as HTML */
#define MD_LINE_MAX_BYTES ((size_t)16 * 1024 * 1024) /* one line of the report and its HTML */
#define MD_META_MAX_BYTES 4096                       /* a source's site and date */
#define MD_VERIFICATION_MAX_BYTES (1024 * 1024) /* the verification summary: counts and a few sentences */

/* An image ![alt](url) at s: its length, the alt text in alt, alt_n; or 0. */
static size_t md_image(const char *s, const char **alt, size_t *alt_n)
{
	const char *a = s + 2, *e = a, *u;

	while (*e && *e != ']' && *e != '\n' && e - a <= MD_MAX_ALT)
		e++;
	if (*e != ']' || e[1] != '(')
		return 0;
	for (u = e + 2; *u && *u != ')' && *u != '\n' && u - e <= MD_MAX_IMAGE_URL; u++)
		;
	if (*u != ')')
		return 0;
	*alt = a;
	*alt_n = (size_t)(e - a);
	return (size_t)(u + 1 - s);
}

/* An HTML entity (&name; &#91; &#x5B;) at s? */
static int md_entity(const char *s)
{
	size_t i = 1;

	if (s[i] == '#') {
		i++;
		if (s[i] == 'x' || s[i] == 'X')
			i++;
	}
	while (i < 40 && (is_letter(s[i]) || is_digit(s[i])))
		i++;
	return i > 1 && s[i] == ';';
}

/* Does the link target at u name a scheme other than http, https or mailto? */
static int md_bad_scheme(const char *u)
{
	size_t n = 0;

	while (*u == ' ' || *u == '<')
		u++;
	while (n < 32 &&
	       (is_letter(u[n]) || (n > 0 && (is_digit(u[n]) || u[n] == '+' || u[n] == '.' || u[n] == '-'))))
		n++;
	if (n == 0 || u[n] != ':')
		return 0; /* relative, or not a scheme */
	return !((n == 4 && strncasecmp(u, "http", 4) == 0) || (n == 5 && strncasecmp(u, "https", 5) == 0) ||
		 (n == 6 && strncasecmp(u, "mailto", 6) == 0));
}

static void md_neutralize(struct qbuf *b)
{
	struct qbuf o;
	const char *s = qbuf_cstr(b);
	size_t len;

	qbuf_init(&o, b->max);
	while (*s) {
		const char *alt;
		size_t alt_n;
		if (s[0] == '!' && s[1] == '[') {
			if ((len = md_image(s, &alt, &alt_n)) != 0) {
				struct qbuf a;
				qbuf_init(&a, MD_MAX_ALT * 2);
				cite_strip_markers(alt, alt_n, &a);
				qbuf_addf(&o, "(image not shown%s%s)", a.len ? ": " : "", qbuf_cstr(&a));
				qbuf_release(&a);
				s += len;
			} else {
				qbuf_adds(&o, "!\\[");
				s += 2;
			}
			continue;
		}
		if (s[0] == '<' && (is_letter(s[1]) || s[1] == '/' || s[1] == '!' || s[1] == '?')) {
			qbuf_adds(&o, "&lt;");
			s++;
			continue;
		}
		if (s[0] == ']' && s[1] == '(' && md_bad_scheme(s + 2)) {
			qbuf_adds(&o, "] ("); /* no longer a link: javascript:, data:, file: ... */
			s += 2;
			continue;
		}
		if (s[0] == '&' && md_entity(s)) {
			qbuf_adds(&o, "&amp;");
			s++;
			continue;
		}
		qbuf_addc(&o, *s++);
	}
	qbuf_release(b);
	*b = o;
}

/* Drop control characters from what was added to out since offset from. */
static void strip_controls_from(struct qbuf *out, size_t from)
{
	if (out->len > from && !out->err)
		out->len = from + ctl_strip(out->data + from, out->len - from);
}

/* " (site, 2019-02-14)" or " (site, read 2026-12-01)" of a web source. */
static void md_source_meta(const json_t *s, struct qbuf *out)
{
	const char *site = json_string_value(json_object_get(s, "site"));
	const char *date = json_string_value(json_object_get(s, "date"));
	int read = json_is_true(json_object_get(s, "date_is_read"));

	if ((!site || !*site) && (!date || !*date))
		return;
	qbuf_adds(out, " (");
	if (site && *site) {
		size_t k = out->len;
		cite_strip_markers(site, strlen(site), out);
		for (; k < out->len && !out->err; k++)
			if (out->data[k] == '\n' || out->data[k] == '\r')
				out->data[k] = ' ';
	}
	if (date && *date)
		qbuf_addf(out, "%s%s%s", site && *site ? ", " : "", read ? "read " : "", date);
	qbuf_addc(out, ')');
}

static void md_sources(const json_t *report, struct qbuf *out)
{
	json_t *sources = json_object_get(report, "sources"), *s;
	size_t i;

	qbuf_addf(out, "\n## %s\n\n", report_labels(report)->sources);
	json_array_foreach (sources, i, s) {
		json_int_t n = json_integer_value(json_object_get(s, "n"));
		if (n <= 0)
			continue;
		const char *t = json_string_value(json_object_get(s, "title"));
		size_t k;
		qbuf_addf(out, "[%lld] ", (long long)n);
		if (!t || !*t)
			t = "(untitled)";
		/* A page title's own "[2]" or line break must not make a second entry. */
		k = out->len;
		cite_strip_markers(t, strlen(t), out);
		for (; k < out->len && !out->err; k++)
			if (out->data[k] == '\n' || out->data[k] == '\r')
				out->data[k] = ' ';
		md_source_meta(s, out);
		qbuf_addf(out, ". %s\n",
			  json_string_value(json_object_get(s, "url"))
				  ? json_string_value(json_object_get(s, "url"))
				  : "");
	}
}

static void md_verification(const json_t *report, struct qbuf *out)
{
	json_t *v = json_object_get(report, "verification"), *s;
	const char *stop = json_string_value(json_object_get(report, "stopped"));
	const struct labels *lb = report_labels(report);
	long long listed = 0;
	size_t i;

	json_array_foreach (json_object_get(report, "sources"), i, s)
		listed += json_integer_value(json_object_get(s, "n")) > 0;
	qbuf_addf(out, "\n## %s\n\n", lb->verification);
	qbuf_addf(out, lb->citations, (long long)json_integer_value(json_object_get(v, "citations_verified")),
		  (long long)json_integer_value(json_object_get(v, "citations_removed")));
	if (strcmp(json_string_value(json_object_get(report, "mode"))
			   ? json_string_value(json_object_get(report, "mode"))
			   : "",
		   "model") == 0)
		qbuf_addf(out, lb->sentences,
			  (long long)json_integer_value(json_object_get(v, "claims_checked")),
			  (long long)json_integer_value(json_object_get(v, "unsupported_sentences")));
	qbuf_addf(out, lb->quotes, (long long)json_integer_value(json_object_get(v, "quotes_verified")),
		  (long long)json_integer_value(json_object_get(v, "quotes_dropped")));
	/* Read is not listed: Sources lists only the sources a citation uses. */
	qbuf_addf(out, lb->read, (long long)json_integer_value(json_object_get(v, "sources_read")), listed,
		  (long long)json_integer_value(json_object_get(v, "sources_failed")));
	if (stop && *stop)
		qbuf_addf(out, lb->stopped, stop);
}

/* Minimal Markdown to HTML: headings, lists, block quotes, paragraphs,
 * **bold**. Everything is escaped first. */
/* One Markdown table row ("| a | b [F1] |") as <tr>, cells rendered as
 * the body is (escaped, citations linked); th for the table's first row. */
static void html_table_row(const json_t *report, const char *l, size_t n, int head, struct qbuf *out)
{
	size_t i = l[0] == '|' ? 1 : 0;

	while (n > i && (l[n - 1] == ' ' || l[n - 1] == '\r'))
		n--;
	if (n > i && l[n - 1] == '|')
		n--;
	qbuf_adds(out, "<tr>");
	while (i <= n) {
		size_t e = i;
		struct qbuf cell, html;
		while (e < n && l[e] != '|')
			e++;
		qbuf_init(&cell, MD_CELL_MAX_BYTES);
		qbuf_init(&html, MD_CELL_MAX_BYTES);
		qbuf_add(&cell, l + i, e - i);
		render_body(report, qbuf_cstr(&cell), 1, &html);
		qbuf_addf(out, "<%s>%s</%s>", head ? "th" : "td", qbuf_cstr(&html), head ? "th" : "td");
		qbuf_release(&cell);
		qbuf_release(&html);
		i = e + 1;
	}
	qbuf_adds(out, "</tr>\n");
}

/* A table's separator row ("| --- | :-: |"). */
static int md_table_rule(const char *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr("|-: \t\r", l[i]))
			return 0;
	return n > 2;
}

static void md_to_html(const json_t *report, const char *md, struct qbuf *out)
{
	const char *p = md;
	int in_list = 0, in_para = 0, in_table = 0;

	while (*p) {
		size_t n = strcspn(p, "\n");
		struct qbuf line, tmp;
		const char *l = p;
		int h = 0;

		qbuf_init(&line, MD_LINE_MAX_BYTES);
		qbuf_init(&tmp, MD_LINE_MAX_BYTES);
		while (h < 6 && l[h] == '#')
			h++;
		if (in_table && l[0] != '|')
			qbuf_adds(out, "</table>\n"), in_table = 0;
		if (l[0] == '|' && n > 1) {
			if (in_para)
				qbuf_adds(out, "</p>\n"), in_para = 0;
			if (in_list)
				qbuf_adds(out, "</ul>\n"), in_list = 0;
			if (!in_table)
				qbuf_adds(out, "<table>\n");
			if (!md_table_rule(l, n))
				html_table_row(report, l, n, !in_table, out);
			in_table = 1;
		} else if (h && l[h] == ' ') {
			if (in_para)
				qbuf_adds(out, "</p>\n"), in_para = 0;
			if (in_list)
				qbuf_adds(out, "</ul>\n"), in_list = 0;
			qbuf_add(&tmp, l + h + 1, n - (size_t)h - 1);
			render_body(report, qbuf_cstr(&tmp), 1, &line);
			qbuf_addf(out, "<h%d>%s</h%d>\n", h, qbuf_cstr(&line), h);
		} else if ((l[0] == '-' || l[0] == '*') && l[1] == ' ') {
			if (in_para)
				qbuf_adds(out, "</p>\n"), in_para = 0;
			if (!in_list)
				qbuf_adds(out, "<ul>\n"), in_list = 1;
			qbuf_add(&tmp, l + 2, n - 2);
			render_body(report, qbuf_cstr(&tmp), 1, &line);
			qbuf_addf(out, "<li>%s</li>\n", qbuf_cstr(&line));
		} else if (n == 0) {
			if (in_para)
				qbuf_adds(out, "</p>\n"), in_para = 0;
			if (in_list)
				qbuf_adds(out, "</ul>\n"), in_list = 0;
		} else {
			int quote = l[0] == '>';
			if (in_list)
				qbuf_adds(out, "</ul>\n"), in_list = 0;
			qbuf_add(&tmp, l + (quote ? 1 : 0), n - (quote ? 1 : 0));
			render_body(report, qbuf_cstr(&tmp), 1, &line);
			if (quote) {
				if (in_para)
					qbuf_adds(out, "</p>\n"), in_para = 0;
				qbuf_addf(out, "<blockquote>%s</blockquote>\n", qbuf_cstr(&line));
			} else {
				qbuf_adds(out, in_para ? "\n" : "<p>");
				in_para = 1;
				qbuf_adds(out, qbuf_cstr(&line));
			}
		}
		qbuf_release(&line);
		qbuf_release(&tmp);
		p += n;
		if (*p == '\n')
			p++;
	}
	if (in_para)
		qbuf_adds(out, "</p>\n");
	if (in_list)
		qbuf_adds(out, "</ul>\n");
	if (in_table)
		qbuf_adds(out, "</table>\n");
}

/* **x** -> <strong>x</strong> in already-escaped HTML. */
static void bold_pass(struct qbuf *b)
{
	struct qbuf o;
	const char *s = qbuf_cstr(b);
	int open = 0;

	qbuf_init(&o, b->max);
	while (*s) {
		if (s[0] == '*' && s[1] == '*') {
			qbuf_adds(&o, open ? "</strong>" : "<strong>");
			open = !open;
			s += 2;
			continue;
		}
		qbuf_addc(&o, *s++);
	}
	if (open)
		qbuf_adds(&o, "</strong>");
	qbuf_release(b);
	*b = o;
}

/* A list of strings as Markdown lines: "- s" or "1. s". */
static void md_list(struct qbuf *out, const json_t *a, int numbered)
{
	json_t *v;
	size_t i;

	json_array_foreach (a, i, v)
		if (json_is_string(v)) {
			if (numbered)
				qbuf_addf(out, "%zu. ", i + 1);
			else
				qbuf_adds(out, "- ");
			cite_strip_markers(json_string_value(v), json_string_length(v), out);
			qbuf_addc(out, '\n');
		}
}

/* The plan of a plan-only run (--plan-only): brief, sub-questions,
 * queries, outline, and how to go on. Text from the model, so escaped
 * in HTML like a report and stripped of control characters. */
static int render_plan(const json_t *p, const char *format, struct qbuf *out, struct q_error *err)
{
	const json_t *brief = json_object_get(p, "brief"), *t;
	const char *answer = json_string_value(json_object_get(brief, "answer"));
	const char *window = json_string_value(json_object_get(brief, "time_window"));
	json_int_t run = json_integer_value(json_object_get(p, "run"));
	struct qbuf md;
	size_t i, from = out->len;

	if (strcmp(format, "json") == 0) {
		char *s = json_dumps(p, JSON_INDENT(2));
		if (!s)
			return q_error_set(err, Q_ENOMEM, "out of memory");
		qbuf_adds(out, s);
		qbuf_addc(out, '\n');
		free(s);
		return out->err;
	}
	qbuf_init(&md, RESEARCH_PLAN_MAX_BYTES);
	qbuf_adds(&md, "# Plan: ");
	qbuf_adds(&md, json_string_value(json_object_get(p, "question"))
			       ? json_string_value(json_object_get(p, "question"))
			       : "");
	qbuf_adds(&md, "\n\n## Brief\n\n");
	if (answer && *answer)
		qbuf_addf(&md, "- Answer: %s\n", answer);
	if (json_array_size(json_object_get(brief, "sections"))) {
		qbuf_adds(&md, "- Required sections:\n");
		md_list(&md, json_object_get(brief, "sections"), 0);
	}
	json_array_foreach (json_object_get(brief, "tables"), i, t) {
		qbuf_addf(&md, "- Table: %s, columns:\n",
			  json_string_value(json_object_get(t, "title"))
				  ? json_string_value(json_object_get(t, "title"))
				  : "");
		md_list(&md, json_object_get(t, "columns"), 0);
	}
	if (json_array_size(json_object_get(brief, "entities"))) {
		qbuf_adds(&md, "- Must cover:\n");
		md_list(&md, json_object_get(brief, "entities"), 0);
	}
	if (window && *window)
		qbuf_addf(&md, "- Time window: %s\n", window);
	qbuf_adds(&md, "\n## Sub-questions\n\n");
	md_list(&md, json_object_get(p, "sub_questions"), 1);
	qbuf_adds(&md, "\n## Search queries\n\n");
	md_list(&md, json_object_get(p, "queries"), 0);
	qbuf_adds(&md, "\n## Outline\n\n");
	md_list(&md, json_object_get(p, "outline"), 0);
	qbuf_addf(&md,
		  "\nRun %lld is stored with this plan. Go on with 'quarry runs resume %lld'; to "
		  "change the plan, save it with 'quarry runs export %lld -f json -o plan.json', "
		  "edit it and give it with 'quarry runs resume %lld --plan plan.json'.\n",
		  (long long)run, (long long)run, (long long)run, (long long)run);
	if (strcmp(format, "html") == 0) {
		qbuf_adds(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Plan</title>"
			       "</head><body><pre>");
		escape_html(out, qbuf_cstr(&md), 0);
		qbuf_adds(out, "</pre></body></html>\n");
	} else {
		qbuf_add(out, md.data, md.len);
	}
	qbuf_release(&md);
	strip_controls_from(out, from);
	return out->err;
}

int research_render(const json_t *report, const char *format, struct qbuf *out, struct q_error *err)
{
	const char *body = json_string_value(json_object_get(report, "body"));
	const char *title = json_string_value(json_object_get(report, "title"));

	if (json_is_true(json_object_get(report, "plan_only")))
		return render_plan(report, format, out, err);
	if (!body || !title)
		return q_error_set(err, Q_EPARSE, "the stored report is incomplete");
	if (strcmp(format, "json") == 0) {
		/* "body" numbered as the rendered report is ([1] = Sources' [1]);
		 * "body_findings" keeps the [F#] ids of "findings". */
		json_t *copy = json_copy((json_t *)report);
		struct qbuf rb;
		char *s = NULL;
		qbuf_init(&rb, RESEARCH_REPORT_MAX_BYTES);
		render_body(report, body, 0, &rb);
		if (copy && !rb.err) {
			json_object_set(copy, "body_findings", json_object_get(report, "body"));
			json_object_set_new(copy, "body", json_string(qbuf_cstr(&rb)));
			s = json_dumps(copy, JSON_INDENT(2));
		}
		json_decref(copy);
		qbuf_release(&rb);
		if (!s)
			return q_error_set(err, Q_ENOMEM, "out of memory");
		qbuf_adds(out, s);
		qbuf_addc(out, '\n');
		free(s);
		return out->err;
	}
	if (strcmp(format, "md") == 0 || strcmp(format, "markdown") == 0) {
		struct qbuf md;
		qbuf_init(&md, RESEARCH_REPORT_MAX_BYTES);
		qbuf_addf(&md, "# %s\n\n", title);
		render_body(report, body, 0, &md);
		if (md.len && md.data[md.len - 1] != '\n')
			qbuf_addc(&md, '\n');
		md_sources(report, &md);
		md_verification(report, &md);
		md_neutralize(&md);
		strip_controls_from(&md, 0);
		if (md.err) {
			qbuf_release(&md);
			return q_error_set(err, Q_ENOMEM, "the report is too large to render");
		}
		qbuf_add(out, md.data, md.len);
		qbuf_release(&md);
		return out->err;
	}
	if (strcmp(format, "html") == 0) {
		json_t *sources = json_object_get(report, "sources"), *s, *quotes, *q;
		struct qbuf main, ver;
		size_t i, j, start = out->len;

		qbuf_adds(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
			       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			       "style-src 'unsafe-inline'\">\n<title>");
		escape_html(out, title, 0);
		qbuf_adds(out,
			  "</title>\n<style>body{font:16px/1.6 system-ui,sans-serif;max-width:46em;"
			  "margin:2em auto;padding:0 1em;color:#222}a.cite{text-decoration:none;"
			  "font-size:.8em;vertical-align:super}a.cite:hover{background:#ffe58a}"
			  ".nosrc{color:#b00;font-size:.8em}table{border-collapse:collapse}td,th{border:1px solid "
			  "#ccc;padding:.2em .5em}blockquote{color:#555;border-left:3px solid "
			  "#ccc;margin:.5em 0;padding-left:1em}.src{margin:.6em 0}.q{color:#555;"
			  "font-size:.9em}</style>\n</head><body>\n<h1>");
		escape_html(out, title, 0);
		qbuf_adds(out, "</h1>\n");
		qbuf_init(&main, RESEARCH_REPORT_MAX_BYTES);
		md_to_html(report, body, &main);
		bold_pass(&main);
		qbuf_add(out, qbuf_cstr(&main), main.len);
		qbuf_release(&main);
		qbuf_addf(out, "<h2>%s</h2>\n", report_labels(report)->sources);
		json_array_foreach (sources, i, s) {
			json_int_t n = json_integer_value(json_object_get(s, "n"));
			const char *url = json_string_value(json_object_get(s, "url"));
			const char *t = json_string_value(json_object_get(s, "title"));
			if (n <= 0)
				continue;
			qbuf_addf(out, "<div class=\"src\" id=\"s%lld\">[%lld] ", (long long)n, (long long)n);
			if (url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)) {
				qbuf_adds(out, "<a href=\"");
				escape_html(out, url, 1);
				qbuf_adds(out, "\" rel=\"noreferrer noopener\">");
				escape_html(out, t && *t ? t : url, 0);
				qbuf_adds(out, "</a>");
			} else {
				escape_html(out, t && *t ? t : "(untitled)", 0);
				qbuf_adds(out, " <code>");
				escape_html(out, url ? url : "", 0);
				qbuf_adds(out, "</code>");
			}
			{ /* site and date, escaped like the title */
				struct qbuf meta;
				qbuf_init(&meta, MD_META_MAX_BYTES);
				md_source_meta(s, &meta);
				if (meta.len)
					escape_html(out, qbuf_cstr(&meta), 0);
				qbuf_release(&meta);
			}
			quotes = json_object_get(s, "quotes");
			json_array_foreach (quotes, j, q) {
				qbuf_adds(out, "<div class=\"q\">“");
				escape_html(out, json_string_value(q) ? json_string_value(q) : "", 0);
				qbuf_adds(out, "”</div>");
			}
			qbuf_adds(out, "</div>\n");
		}
		qbuf_init(&ver, MD_VERIFICATION_MAX_BYTES);
		md_verification(report, &ver);
		qbuf_init(&main, MD_VERIFICATION_MAX_BYTES);
		md_to_html(report, qbuf_cstr(&ver), &main);
		qbuf_add(out, qbuf_cstr(&main), main.len);
		qbuf_release(&main);
		qbuf_release(&ver);
		qbuf_adds(out, "</body></html>\n");
		strip_controls_from(out, start);
		return out->err;
	}
	return q_error_set(err, Q_EINVAL, "unknown format '%s': use md, html or json", format);
}
