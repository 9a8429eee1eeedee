/*
 * html_parse.c - run libxml2's HTML parser on a page under limits.
 *
 * Why. libxml2's HTML parser does work a page can make quadratic: each
 * new attribute of an element is compared with the ones before it
 * (80,000 attributes on one element took 19.6 s; 1.4M in a 10 MB page ran
 * past 600 s), every stray end tag searches the whole stack of open
 * elements, and every tag becomes a node of ~200 bytes (10 MB of "<p>"
 * peaked at 727 MB). It also runs to the end once started, so no timeout
 * or Ctrl-C reached it.
 *
 * How. We do not hand libxml2 the page in one piece; it reads it through
 * an I/O callback (htmlCtxtReadIO, the same parser and code path as
 * htmlReadMemory), at most HTML_FEED_BYTES at a time, each piece ending
 * after a '>'. libxml2 asks for more input whenever it runs low, also in
 * the middle of a start tag's attribute list, so each call is a
 * checkpoint: there we look at the parser's own
 * state (its stack of open elements, the attributes of the tag it is
 * reading) and at the deadline and cancel flag, and end the input (EOF)
 * when a limit is passed. libxml2 then closes what is open and returns
 * the tree read so far: the page is cut, never half-built. Because the
 * checks read libxml2's state rather than a guess of it, markup that a
 * pre-scanner might read differently (comments, scripts, odd quoting)
 * cannot slip past them.
 *
 *  - Tags: every element, end tag, comment and doctype starts with '<',
 *    and text nodes sit between them, so counting '<' as we feed bounds
 *    the nodes (at most twice that) and the end tags. Past HTML_MAX_TAGS
 *    the input ends just before the next '<'.
 *  - Depth: the stack of open elements (ctxt->nameNr), at most
 *    HTML_MAX_DEPTH. Each end tag costs libxml2 a search of that stack,
 *    so we add up, for each "</" fed, the elements open at that moment
 *    (an upper bound: a matching end tag is found at the top), and end
 *    the input past HTML_MAX_END_TAG_WORK. A 10,000-deep page that
 *    closes what it opens costs 50M and is read whole; 1,000 open
 *    elements followed by 500,000 stray end tags (1.15 s) is cut.
 *  - Attributes: of the tag being read (libxml2 NULL-terminates its
 *    ctxt->atts list after each one) and per page (counted in a SAX
 *    startElement wrapper).
 *
 * Alternatives measured or rejected: a pre-scan that rewrites the bytes
 * (drops attributes past a cap) keeps more of a hostile page but has to
 * agree with libxml2 on every corner of tokenisation to be safe; the push
 * parser (htmlParseChunk) is a different code path in libxml2 with
 * different output, so extraction quality would move. Feeding 4 KB
 * pieces costs nothing measurable (bench below).
 */
#include <string.h>
#include <strings.h>

#include "../core/clock.h"
#include "html_int.h"

/* Most bytes handed to libxml2 per read: the granularity of every check.
 * libxml2 asks for 4,000; smaller pieces change the tree it builds
 * (2 to 9 of the 1,497 bench pages differ at 512 bytes), because some of
 * its look-aheads stop at the end of the buffer. Between two checks a
 * tag can gain at most ~2,000 attributes and the stack ~1,300 elements. */
#define HTML_FEED_BYTES 4096
/* Longest entity reference a cut must not split ("&CounterClockwise
 * ContourIntegral;" is 33), and how far back we look for a safe cut. */
#define ENTITY_MAX_BYTES 40
#define PIECE_BACKOFF_BYTES 256

#define RAW_NONE ((size_t)-1)

/* Byte ranges of the page left out of what libxml2 reads (see "Script
 * and style bodies" below): those of one start tag at a time. */
#define SKIPS_MAX 32
struct html_skips {
	size_t from[SKIPS_MAX], to[SKIPS_MAX];
	unsigned char is_attr[SKIPS_MAX]; /* an attribute (counted as one), else a body */
	size_t n, next;                   /* ranges found, and the next one to pass */
	size_t scan;                      /* where the reader goes on (outside any tag),
					* RAW_NONE once it has stopped */
};

struct html_feed {
	const char *data;
	size_t len, pos;
	struct html_skips skips;     /* what is left out of the next tags */
	size_t tags;                 /* '<' fed so far */
	unsigned long long end_work; /* "</" fed times open elements then */
	unsigned long attrs;         /* attributes of elements started */
	htmlParserCtxtPtr ctxt;
	startElementSAXFunc start; /* libxml2's own startElement */
	struct html_limits *lim;
};

int html_limits_check(struct html_limits *lim)
{
	if (lim->stop >= HTML_STOP_TIMEOUT)
		return 1;
	if (lim->cancel && __atomic_load_n(lim->cancel, __ATOMIC_RELAXED)) /* set by another thread */
		lim->stop = HTML_STOP_CANCEL;
	else if (lim->deadline_ms > 0 && q_now_ms() > lim->deadline_ms)
		lim->stop = HTML_STOP_TIMEOUT;
	return lim->stop >= HTML_STOP_TIMEOUT;
}

/* Attributes of the start tag libxml2 is reading now (or read last). */
static size_t open_tag_attrs(const htmlParserCtxtPtr ctxt)
{
	int i;

	if (!ctxt->atts)
		return 0;
	for (i = 0; i + 1 < ctxt->maxatts && ctxt->atts[i]; i += 2)
		;
	return (size_t)i / 2;
}

static void counting_start(void *vctxt, const xmlChar *name, const xmlChar **atts)
{
	htmlParserCtxtPtr ctxt = vctxt;
	struct html_feed *f = ctxt->_private;
	size_t i;

	if (f)
		f->lim->elements++;
	if (f && atts)
		for (i = 0; atts[i]; i += 2)
			f->attrs++;
	if (f && f->start)
		f->start(vctxt, name, atts);
}

/* Would the parser, as it stands, break a limit? Sets lim->stop. */
static int over_limits(struct html_feed *f)
{
	struct html_limits *lim = f->lim;

	if (html_limits_check(lim) || lim->stop)
		return 1;
	if (f->ctxt->nameNr > HTML_MAX_DEPTH)
		lim->stop = HTML_STOP_DEPTH;
	else if (open_tag_attrs(f->ctxt) > HTML_MAX_ATTRS_PER_ELEMENT)
		lim->stop = HTML_STOP_ELEMENT_ATTRS;
	else if (f->attrs > HTML_MAX_ATTRS)
		lim->stop = HTML_STOP_ATTRS;
	return lim->stop != HTML_STOP_NONE;
}

/* Is there an '&' in the last ENTITY_MAX_BYTES of p[0..k) with no ';'
 * after it (an entity a cut at k would split)? */
static int splits_entity(const char *p, size_t k)
{
	size_t i = k > ENTITY_MAX_BYTES ? k - ENTITY_MAX_BYTES : 0;
	int open = 0;

	for (; i < k; i++) {
		if (p[i] == '&')
			open = 1;
		else if (p[i] == ';')
			open = 0;
	}
	return open;
}

/*
 * Where to end a piece of n bytes that the page continues after. Some of
 * libxml2's look-aheads stop at the end of its buffer: a run of white
 * space ending there is dropped as blank, "&#39;" cut after "&" is read
 * as text, a UTF-8 sequence cut in two is an encoding error. So end the
 * piece after a '>' that is followed by '<' (between two tags), else
 * after any '>', else (a tag or text longer than a piece, such as a
 * long inline attribute value) after a letter or digit outside an
 * entity; only a piece with none of these is cut where it stands.
 */
static size_t piece_end(const char *p, size_t n)
{
	size_t k;

	for (k = n; k > 1; k--)
		if (p[k - 1] == '>' && p[k] == '<')
			return k;
	for (k = n; k > 0; k--)
		if (p[k - 1] == '>')
			return k;
	for (k = n; k > 0 && n - k < PIECE_BACKOFF_BYTES; k--) {
		unsigned char c = (unsigned char)p[k - 1];
		if (((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) && !splits_entity(p, k))
			return k;
	}
	return n;
}

/*
 * Script and style bodies, and attributes nobody reads. libxml2 reads a
 * script a character at a time into text nodes that the extractor then
 * drops (scripts and styles are 35-40% of the bytes of the bench pages),
 * and copies every attribute value twice (hrefs, srcsets, data-*: 30% of
 * the markup left), so the feeder leaves both out: libxml2 sees
 * "<script>" then "</script>", and "<a class=x>" for "<a href=y class=x>".
 * The ranges are found the way libxml2 2.9's recovering parser reads the
 * page, following its tokenizer only as far as that needs: a start tag is
 * '<' and an ASCII letter, its attributes end at the first '>' outside a
 * quoted value that follows '='; a comment ends at "-->" or "--!>"; an
 * end tag, doctype or PI at the next '>'; the body of "script" or "style"
 * (not "<script/>") ends at the next "</script" or "</style" not followed
 * by a name character. An attribute is left out with the blanks after it
 * and only when a blank precedes it and no '=' follows (which a valueless
 * attribute before it would take). Anything this reading is not sure of
 * (a NUL byte, a quote or comment left open, a body that starts with a
 * tag libxml2 reads there, a doctype with '>' inside quotes, a non-ASCII
 * PI target, "</scripty>" inside a script) stops the leaving out for the
 * rest of the page: what is fed then is the page as it is. Bodies whose
 * type names JSON (JSON-LD, data a script renders from) are kept:
 * html_meta.c reads them. tests/unit/test_html_parse.c parses tricky and
 * random pages both ways and compares the trees. Measured: output
 * byte-identical on both bench sets, CPU time -33 to -37%
 * (docs/BENCHMARKS.md).
 */

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* libxml2's htmlParseHTMLName characters. */
static int is_name_start(char c) { return is_letter(c) || c == '_' || c == ':' || c == '.'; }

static int is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '-'; }

static const char *find_byte(const char *p, const char *end, char c)
{
	return p < end ? memchr(p, c, (size_t)(end - p)) : NULL;
}

/* The end of a comment opened at p ("<!--"), or NULL if it never ends:
 * the first "-->" or "--!>" after "<!--" ("<!---->" is empty, "<!-->"
 * is not closed in libxml2 2.9). */
static const char *comment_end(const char *p, const char *end)
{
	const char *s;

	for (s = p + 4; (s = find_byte(s, end, '-')) != NULL && s + 2 < end; s++) {
		if (s[1] != '-')
			continue;
		if (s[2] == '>')
			return s + 3;
		if (s + 3 < end && s[2] == '!' && s[3] == '>')
			return s + 4;
	}
	return NULL;
}

/* Where the body of the raw-text element name, starting at body, ends:
 * the next "</name" not followed by a name character. NULL if it never
 * ends, or at another end tag that starts so ("</scripty>": libxml2
 * reads it as a tag, and what follows it as if the body began there). */
static const char *raw_text_close(const char *body, const char *end, const char *name, size_t name_len)
{
	const char *s;

	for (s = body; (s = find_byte(s, end, '<')) != NULL; s++) {
		if (s + 2 + name_len > end || s[1] != '/' || strncasecmp(s + 2, name, name_len))
			continue;
		return (s + 2 + name_len == end || !is_name_char(s[2 + name_len])) ? s : NULL;
	}
	return NULL;
}

/* The attributes the extractor reads (html_extract.c, html_meta.c), and
 * those libxml2 itself acts on (a meta charset): every other one is left
 * out of what the parser reads (hrefs, srcsets, data-*, SVG paths: 30% of
 * the markup left once scripts are out, each read a character at a time
 * and copied twice). */
static const char *const read_attrs[] = {
	"aria-controls", "aria-expanded", "aria-hidden", "aria-modal", "charset", "class",
	"content",       "datetime",      "hidden",      "http-equiv", "id",      "itemprop",
	"lang",          "name",          "property",    "role",       "style",   "type"};

int html_attr_is_read(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(read_attrs) / sizeof(read_attrs[0]); i++)
		if (strlen(read_attrs[i]) == n && !strncasecmp(read_attrs[i], name, n))
			return 1;
	return 0;
}

/* libxml2 reads at most this much of a name: a longer one goes on as a
 * second attribute, so it is never left out. */
#define NAME_MAX_BYTES 100

/* Remember [from, to) as an attribute to leave out, if there is room
 * (one place is kept for a script's body). */
static void skip_attr(struct html_skips *sk, const char *data, const char *from, const char *to)
{
	if (!sk || sk->n + 1 >= SKIPS_MAX)
		return;
	sk->from[sk->n] = (size_t)(from - data);
	sk->to[sk->n] = (size_t)(to - data);
	sk->is_attr[sk->n++] = 1;
}

/* Past the attributes of the start tag whose name ends at p: *self is set
 * for "/>". NULL if the tag never ends. Attributes not read, with a blank
 * before them, go to sk (with the blanks after them: the piece libxml2
 * reads then ends in a blank inside the tag, which it reads past). */
static const char *start_tag_end(const char *data, const char *p, const char *end, int *self, int *json_type,
				 struct html_skips *sk)
{
	*self = 0;
	while (p < end) {
		const char *name = p, *q, *value, *value_end, *after;
		size_t name_len;

		while (p < end && is_blank(*p))
			p++;
		if (p >= end)
			return NULL;
		if (*p == '>')
			return p + 1;
		if (*p == '/' && p + 1 < end && p[1] == '>') {
			*self = 1;
			return p + 2;
		}
		if (!is_name_start(*p)) { /* a bogus attribute: skipped to a blank or the end */
			while (p < end && !is_blank(*p) && *p != '>' &&
			       !(*p == '/' && p + 1 < end && p[1] == '>'))
				p++;
			continue;
		}
		for (name = p; p < end && is_name_char(*p); p++)
			;
		name_len = (size_t)(p - name);
		for (q = p; q < end && is_blank(*q); q++)
			;
		if (q < end && *q == '=') {
			for (q++; q < end && is_blank(*q); q++)
				;
			if (q < end && (*q == '"' || *q == '\'')) {
				value = q + 1;
				if (!(value_end = find_byte(value, end, *q)))
					return NULL;
				p = value_end + 1;
			} else {
				for (value = q; q < end && !is_blank(*q) && *q != '>'; q++)
					;
				p = value_end = q;
			}
			if (name_len == 4 && !strncasecmp(name, "type", 4))
				for (; value + 4 <= value_end; value++)
					if (!strncasecmp(value, "json", 4))
						*json_type = 1;
		}
		for (after = p; after < end && is_blank(*after); after++)
			;
		/* Not when an '=' follows: an attribute without a value
		 * before this one would take it. */
		if (after < end && *after != '=' && is_blank(name[-1]) && name_len <= NAME_MAX_BYTES &&
		    !html_attr_is_read(name, name_len))
			skip_attr(sk, data, name, after);
	}
	return NULL;
}

/* 1 if the tag named at p (before end) would close an open script or
 * style in libxml2 2.9 (its htmlStartClose table: body, frameset and
 * noscript do; any other tag there is body text). */
static int closes_raw_text(const char *p, const char *end)
{
	static const char *const closers[] = {"body", "frameset", "noscript", NULL};
	size_t n = 0;
	int i;

	while (p + n < end && is_name_char(p[n]))
		n++;
	for (i = 0; closers[i]; i++)
		if (n == strlen(closers[i]) && !strncasecmp(p, closers[i], n))
			return 1;
	return 0;
}

/* Past the doctype at p, or NULL when its end is unclear. */
static const char *doctype_end(const char *p, const char *end)
{
	const char *gt = find_byte(p, end, '>'), *s;

	if (!gt)
		return NULL;
	/* A system id in quotes may hold a '>' that libxml2 reads past. */
	for (s = p; s < gt; s++)
		if ((*s == '"' || *s == '\'') && !(s = find_byte(s + 1, gt, *s)))
			return NULL;
	return gt + 1;
}

/*
 * From sk->scan (outside any tag), find the next start tag with something
 * to leave out: its attributes not read, and its body if it is a script
 * or style. Fills sk and returns 1; returns 0 (sk->scan = RAW_NONE) at the
 * end of the page or when the reading above stops being sure.
 */
static int skips_next(const char *data, size_t len, struct html_skips *sk)
{
	const char *p = data + sk->scan, *end = data + len;

	sk->n = sk->next = 0;
	while (sk->scan != RAW_NONE && (p = find_byte(p, end, '<')) != NULL && p + 1 < end) {
		const char *name = p + 1, *body, *close;
		int self, json_type = 0;
		size_t name_len;

		if (p[1] == '!') {
			if (p + 3 < end && p[2] == '-' && p[3] == '-')
				p = comment_end(p, end);
			else if (p + 8 < end && !strncasecmp(p + 2, "doctype", 7)) {
				/* Right after a doctype libxml2 reads "</" and "<!"
				 * (but a comment) as text. */
				p = doctype_end(p, end);
				if (p && p + 1 < end && p[0] == '<' &&
				    (p[1] == '/' ||
				     (p[1] == '!' && !(p + 3 < end && p[2] == '-' && p[3] == '-'))))
					break;
			} else
				p++;
		} else if (p[1] == '?') {
			if (p + 2 < end && ((unsigned char)p[2] >= 0x80))
				break;
			p = (p + 2 < end && is_name_start(p[2])) ? find_byte(p, end, '>') : p + 2;
		} else if (p[1] == '/') {
			p = (p + 2 < end && is_name_start(p[2])) ? find_byte(p, end, '>') : p + 2;
		} else if (is_letter(p[1])) {
			for (p = name; p < end && is_name_char(*p); p++)
				;
			name_len = (size_t)(p - name);
			if (!(body = start_tag_end(data, p, end, &self, &json_type, sk)))
				break;
			p = body;
			if (!self && ((name_len == 6 && !strncasecmp(name, "script", 6)) ||
				      (name_len == 5 && !strncasecmp(name, "style", 5)))) {
				if (!(close = raw_text_close(body, end, name, name_len)))
					break;
				if (close != body && body[0] == '<' &&
				    (body[1] == '/' || closes_raw_text(body + 1, close)))
					break; /* libxml2 reads a tag there first */
				if (!json_type && close != body) {
					sk->from[sk->n] = (size_t)(body - data);
					sk->to[sk->n] = (size_t)(close - data);
					sk->is_attr[sk->n++] = 0;
				}
				p = close;
			}
			if (sk->n) {
				sk->scan = (size_t)(p - data);
				return 1;
			}
			continue;
		} else {
			p++;
		}
		if (!p)
			break;
	}
	sk->n = sk->next = 0;
	sk->scan = RAW_NONE;
	return 0;
}

/* Pass the ranges that start at f->pos (finding the next ones when all
 * are passed); returns where the next range starts, or f->len. */
static size_t skip_here(struct html_feed *f)
{
	struct html_skips *sk = &f->skips;

	for (;;) {
		while (sk->next < sk->n && f->pos == sk->from[sk->next]) {
			f->attrs += sk->is_attr[sk->next]; /* still counted against the limits */
			f->pos = sk->to[sk->next++];
		}
		if (sk->next < sk->n)
			return sk->from[sk->next];
		if (!skips_next(f->data, f->len, sk))
			return f->len;
	}
}

/* Count the tags of p[0..n) against the limits; returns how much of it
 * may be fed (less when the tag limit falls inside). */
static size_t count_tags(struct html_feed *f, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *lt = memchr(p + i, '<', n - i);
		if (!lt)
			break;
		i = (size_t)(lt - p);
		if (++f->tags > HTML_MAX_TAGS) {
			f->lim->stop = HTML_STOP_TAGS;
			return i; /* end just before this '<' */
		}
		if (i + 1 < n && p[i + 1] == '/')
			f->end_work += (unsigned long long)f->ctxt->nameNr + 1;
	}
	return n;
}

/* libxml2's read callback: the next piece of the page, 0 for "no more".
 * The piece is made of the page's bytes between the ranges left out. */
static int feed_read(void *vf, char *buf, int want)
{
	struct html_feed *f = vf;
	size_t cap, out = 0;

	f->ctxt->_private = f; /* set after htmlCtxtReset, before any SAX call */
	if (f->pos >= f->len || over_limits(f))
		return 0;
	if (want < 0)
		return -1;
	cap = (size_t)want < HTML_FEED_BYTES ? (size_t)want : HTML_FEED_BYTES;
	while (out < cap && f->pos < f->len && !f->lim->stop) {
		size_t next = skip_here(f), n, fed;

		if (f->pos >= f->len)
			break;
		n = next - f->pos;
		if (n > cap - out) {
			/* A run that does not fit starts the next piece, unless it
			 * is the first: then the piece ends inside it, where
			 * libxml2's look-aheads allow (piece_end). */
			if (out > 0)
				break;
			n = cap;
			if (f->pos + n < f->len)
				n = piece_end(f->data + f->pos, n);
			next = 0;
		}
		fed = count_tags(f, f->data + f->pos, n);
		memcpy(buf + out, f->data + f->pos, fed);
		out += fed;
		f->pos += fed;
		if (fed < n || !next)
			break;
	}
	if (f->end_work > HTML_MAX_END_TAG_WORK)
		f->lim->stop = HTML_STOP_END_TAGS; /* this piece is still read */
	return (int)out;
}

static int feed_close(void *vf)
{
	(void)vf;
	return 0;
}

htmlDocPtr html_parse_limited(const char *utf8, size_t len, const char *base_url, int options,
			      struct html_limits *lim)
{
	struct html_feed f;
	htmlParserCtxtPtr ctxt;
	htmlDocPtr doc;

	memset(&f, 0, sizeof(f));
	f.data = utf8;
	f.len = len;
	f.lim = lim;
	lim->stop = HTML_STOP_NONE;
	lim->elements = 0;
	f.skips.scan = (lim->keep_raw_text || memchr(utf8, '\0', len)) ? RAW_NONE : 0;
	ctxt = htmlNewParserCtxt();
	if (!ctxt)
		return NULL;
	f.ctxt = ctxt;
	if (ctxt->sax) {
		f.start = ctxt->sax->startElement;
		ctxt->sax->startElement = counting_start;
	}
	doc = htmlCtxtReadIO(ctxt, feed_read, feed_close, &f, base_url, "UTF-8", options);
	ctxt->_private = NULL;
	htmlFreeParserCtxt(ctxt);
	return doc;
}

const char *html_limits_reason(enum html_stop stop)
{
	switch (stop) {
	case HTML_STOP_TAGS:
		return "it has more than " Q_STR(HTML_MAX_TAGS) " tags";
	case HTML_STOP_DEPTH:
		return "its elements nest more than " Q_STR(HTML_MAX_DEPTH) " deep";
	case HTML_STOP_END_TAGS:
		return "it has too many end tags inside deeply nested elements";
	case HTML_STOP_ELEMENT_ATTRS:
		return "an element has more than " Q_STR(HTML_MAX_ATTRS_PER_ELEMENT) " attributes";
	case HTML_STOP_ATTRS:
		return "it has more than " Q_STR(HTML_MAX_ATTRS) " attributes";
	case HTML_STOP_TIMEOUT:
	case HTML_STOP_CANCEL:
	case HTML_STOP_NONE:
		break;
	}
	return NULL;
}
