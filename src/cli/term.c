/*
 * term.c - the terminal as an output device for untrusted text.
 *
 * Page text, Markdown files, file names and model replies may carry raw
 * escape sequences (ESC ] 0; title BEL, ESC [ 2 J, 8-bit CSI 0x9B) that a
 * terminal would obey. Everything from such sources goes through
 * cli_clean_write, which drops escape sequences whole (CSI up to its final
 * byte, OSC/DCS/APC strings up to BEL or ST, at most ESC_MAX_STRING
 * characters so a stray ESC cannot swallow a page), then any other C0 (but
 * tab and newline), DEL and C1 control. Dropping beats escaping them
 * visibly (^[) because the text is for reading, and JSON output keeps the
 * exact characters anyway.
 *
 * The status line (research and index progress) is cut to the window's
 * width by display width: a line one column too long wraps, and every
 * redraw then leaves a line of scrollback behind (a 100-column pane
 * collected 1,849 of them in one `index add`).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../core/utf8.h"
#include "term.h"

enum cli_color_mode cli_color = CLI_COLOR_AUTO;

static const char BOLD_ON[] = "\033[1m", BOLD_OFF[] = "\033[0m";

static int is_control(uint32_t cp)
{
	if (cp == '\t' || cp == '\n')
		return 0;
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* Expected length of the UTF-8 sequence starting with byte c (1 if invalid). */
static size_t seq_len(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 1;
}

/* Escape-sequence states: the whole sequence is dropped, not only its
 * ESC, so "ESC ] 0 ; title BEL" leaves no "]0;title" behind. */
enum { ESC_NONE, ESC_SEEN, ESC_CSI, ESC_STRING, ESC_STRING_ESC };

/* A control string (OSC, DCS...) longer than this was no sequence: what
 * follows is shown again, so a stray "ESC ]" cannot hide a page. */
#define ESC_MAX_STRING 512

/* Feed one code point through the escape state machine: 1 if it is text
 * to keep, 0 if it is (part of) a control. */
static int esc_step(int *esc, int *esc_len, uint32_t cp)
{
	switch (*esc) {
	case ESC_SEEN:
		if (cp >= 0x20 && cp <= 0x2f && ++*esc_len < 8)
			return 0;   /* intermediates: ESC ( B */
		*esc = cp == '[' ? ESC_CSI : (cp == ']' || cp == 'P' || cp == '_' || cp == '^' ||
					      cp == 'X') ? ESC_STRING : ESC_NONE;
		*esc_len = 0;
		if (*esc != ESC_NONE || (cp >= 0x20 && cp < 0x7f))
			return 0;   /* a two-character escape ends with this one */
		break;
	case ESC_CSI:
		if (cp >= 0x20 && cp <= 0x3f && ++*esc_len < ESC_MAX_STRING)
			return 0;   /* parameters and intermediates */
		*esc = ESC_NONE;
		if (cp >= 0x40 && cp <= 0x7e)
			return 0;   /* the final byte */
		break;
	case ESC_STRING:
	case ESC_STRING_ESC:
		if (cp == 0x07 || (*esc == ESC_STRING_ESC && cp == '\\') || cp == 0x9c) {
			*esc = ESC_NONE;
			return 0;
		}
		if (cp == 0x1b) {
			*esc = ESC_STRING_ESC;
			return 0;
		}
		*esc = ESC_STRING;
		if (++*esc_len < ESC_MAX_STRING && !(cp < 0x20 && cp != '\t'))
			return 0;
		*esc = ESC_NONE;
		break;
	}
	if (cp == 0x1b || cp == 0x9b || cp == 0x9d || cp == 0x90 || cp == 0x9f || cp == 0x9e) {
		*esc = cp == 0x1b ? ESC_SEEN : cp == 0x9b ? ESC_CSI : ESC_STRING;
		*esc_len = 0;
		return 0;
	}
	return !is_control(cp);
}

/* Write code point cp (bytes p[0..k)) if the state machine keeps it. */
static void put_cp(FILE *f, int *esc, int *esc_len, uint32_t cp, const unsigned char *p, size_t k)
{
	if (!esc_step(esc, esc_len, cp))
		return;
	if (cp == UTF8_REPLACEMENT && k == 1)
		fputs("\xef\xbf\xbd", f);
	else
		fwrite(p, 1, k, f);
}

/* Clean s[0..n) into f; returns how many trailing bytes form an incomplete
 * sequence that was not written (only when keep_tail). */
static size_t clean_chunk(FILE *f, int *esc, int *esc_len, const unsigned char *s, size_t n,
			  int keep_tail, int bold)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		if (bold && *esc == ESC_NONE && s[i] == 0x1b && n - i >= 4 &&
		    (!memcmp(s + i, BOLD_ON, 4) || !memcmp(s + i, BOLD_OFF, 4))) {
			fwrite(s + i, 1, 4, f);
			i += 4;
			continue;
		}
		if (s[i] < 0x80) {
			put_cp(f, esc, esc_len, s[i], s + i, 1);
			i++;
			continue;
		}
		if (keep_tail && seq_len(s[i]) > n - i)
			return n - i;
		k = utf8_decode(s + i, n - i, &cp);
		put_cp(f, esc, esc_len, cp, s + i, k);
		i += k;
	}
	return 0;
}

void cli_clean_write(struct cli_clean_state *st, FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t left;

	if (!st) {
		int esc = ESC_NONE, esc_len = 0;
		clean_chunk(f, &esc, &esc_len, u, n, 0, 0);
		return;
	}
	/* Complete the carried sequence from the front of s. */
	if (st->n) {
		size_t need = seq_len(st->carry[0]);
		while (st->n < need && n && (*u & 0xc0) == 0x80) {
			st->carry[st->n++] = *u++;
			n--;
		}
		if (st->n < need && !n)
			return;   /* still incomplete */
		clean_chunk(f, &st->esc, &st->esc_len, st->carry, st->n, 0, 0);
		st->n = 0;
	}
	left = clean_chunk(f, &st->esc, &st->esc_len, u, n, 1, 0);
	if (left) {
		memcpy(st->carry, u + n - left, left);
		st->n = left;
	}
}

void cli_clean_write_marked(FILE *f, const char *s, size_t n)
{
	int esc = ESC_NONE, esc_len = 0;

	clean_chunk(f, &esc, &esc_len, (const unsigned char *)s, n, 0, 1);
}

void cli_clean_flush(struct cli_clean_state *st, FILE *f)
{
	if (st && st->n) {
		clean_chunk(f, &st->esc, &st->esc_len, st->carry, st->n, 0, 0);
		st->n = 0;
	}
}

const char *cli_clean(char *buf, size_t cap, const char *s)
{
	const unsigned char *u = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)u), i = 0, o = 0, k;
	int esc = ESC_NONE, esc_len = 0;
	uint32_t cp;

	if (!cap)
		return buf;
	while (i < n) {
		k = utf8_decode(u + i, n - i, &cp);
		if (esc_step(&esc, &esc_len, cp) && cp != '\n') {
			char enc[4];
			size_t m = utf8_encode(cp, enc);
			if (o + m >= cap)
				break;
			memcpy(buf + o, enc, m);
			o += m;
		}
		i += k;
	}
	buf[o] = '\0';
	return buf;
}

int cli_term_width(int fd)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");
	long v;
	char *end;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (c && *c) {
		v = strtol(c, &end, 10);
		if (!*end && v > 0 && v < 10000)
			return (int)v;
	}
	return 80;
}

/* East Asian Wide and Fullwidth ranges (the common ones), and emoji. */
static int char_width(uint32_t cp)
{
	if (cp == 0 || (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f))
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
	    (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
	    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
	    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

size_t cli_display_width(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, w = 0;
	uint32_t cp;

	while (i < n) {
		i += utf8_decode(u + i, n - i, &cp);
		w += (size_t)char_width(cp);
	}
	return w;
}

void cli_status_line(const char *text)
{
	const unsigned char *u;
	size_t n, i = 0, w = 0, k;
	/* One column spare: writing the last column makes some terminals wrap. */
	size_t max = (size_t)cli_term_width(2) - 1;
	uint32_t cp;
	char line[2048];

	cli_clean(line, sizeof(line), text);
	u = (const unsigned char *)line;
	n = strlen(line);
	while (i < n) {
		k = utf8_decode(u + i, n - i, &cp);
		if (w + (size_t)char_width(cp) > max)
			break;
		w += (size_t)char_width(cp);
		i += k;
	}
	fputs("\r\033[K", stderr);
	fwrite(line, 1, i, stderr);
	fflush(stderr);
}

void cli_status_clear(void)
{
	fputs("\r\033[K", stderr);
	fflush(stderr);
}

int cli_use_color(int fd)
{
	const char *nc = getenv("NO_COLOR");

	if (cli_color == CLI_COLOR_ALWAYS)
		return 1;
	if (cli_color == CLI_COLOR_NEVER)
		return 0;
	return isatty(fd) && !(nc && *nc);
}
