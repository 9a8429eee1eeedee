/*
 * term.c - the terminal as an output device for untrusted text.
 *
 * Page text, Markdown files, file names and model replies may carry raw
 * escape sequences (ESC ] 0; title BEL, ESC [ 2 J, 8-bit CSI 0x9B) that a
 * terminal would obey. Everything from such sources goes through
 * cli_clean_write, which feeds it to the core stripper (src/core/ctl.c:
 * escape sequences dropped whole, then every other C0 control but tab and
 * newline, DEL and C1) and replaces invalid UTF-8. Dropping beats
 * escaping them visibly (^[) because the text is for reading. Extraction
 * strips documents the same way, so JSON output holds no controls either.
 *
 * The status line (research and index progress) is cut to the window's
 * width by display width: a line one column too long wraps, and every
 * redraw then leaves a line of scrollback behind (a 100-column pane
 * collected 1,849 of them in one `index add`).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../core/utf8.h"
#include "term.h"

enum cli_color_mode cli_color = CLI_COLOR_AUTO;

static const char BOLD_ON[] = "\033[1m", BOLD_OFF[] = "\033[0m";

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

/* ctl_emit_fn writing to a FILE. */
static void emit_file(void *arg, const char *p, size_t n) { fwrite(p, 1, n, (FILE *)arg); }

/* Write code point cp (bytes p[0..k)) if the stripper keeps it; invalid
 * UTF-8 becomes U+FFFD. */
static void put_cp(FILE *f, struct ctl_state *ctl, uint32_t cp, const unsigned char *p, size_t k)
{
	if (cp == UTF8_REPLACEMENT && k == 1)
		ctl_feed(ctl, cp, "\xef\xbf\xbd", 3, emit_file, f);
	else
		ctl_feed(ctl, cp, (const char *)p, k, emit_file, f);
}

/* Clean s[0..n) into f; returns how many trailing bytes form an incomplete
 * sequence that was not written (only when keep_tail). */
static size_t clean_chunk(FILE *f, struct ctl_state *ctl, const unsigned char *s, size_t n, int keep_tail,
			  int bold)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		if (bold && ctl_idle(ctl) && s[i] == 0x1b && n - i >= 4 &&
		    (!memcmp(s + i, BOLD_ON, 4) || !memcmp(s + i, BOLD_OFF, 4))) {
			fwrite(s + i, 1, 4, f);
			i += 4;
			continue;
		}
		if (s[i] < 0x80) {
			put_cp(f, ctl, s[i], s + i, 1);
			i++;
			continue;
		}
		if (keep_tail && seq_len(s[i]) > n - i)
			return n - i;
		k = utf8_decode(s + i, n - i, &cp);
		put_cp(f, ctl, cp, s + i, k);
		i += k;
	}
	return 0;
}

void cli_clean_write(struct cli_clean_state *st, FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t left;

	if (!st) {
		struct ctl_state ctl;

		memset(&ctl, 0, sizeof(ctl));
		clean_chunk(f, &ctl, u, n, 0, 0);
		ctl_end(&ctl, emit_file, f);
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
			return; /* still incomplete */
		clean_chunk(f, &st->ctl, st->carry, st->n, 0, 0);
		st->n = 0;
	}
	left = clean_chunk(f, &st->ctl, u, n, 1, 0);
	if (left) {
		memcpy(st->carry, u + n - left, left);
		st->n = left;
	}
}

void cli_clean_write_marked(FILE *f, const char *s, size_t n)
{
	struct ctl_state ctl;

	memset(&ctl, 0, sizeof(ctl));
	clean_chunk(f, &ctl, (const unsigned char *)s, n, 0, 1);
	ctl_end(&ctl, emit_file, f);
}

void cli_clean_flush(struct cli_clean_state *st, FILE *f)
{
	if (!st)
		return;
	if (st->n) {
		clean_chunk(f, &st->ctl, st->carry, st->n, 0, 0);
		st->n = 0;
	}
	ctl_end(&st->ctl, emit_file, f);
}

/* Bounded output for cli_clean: newlines become nothing (a message is
 * one line), and output stops at a character boundary before cap. */
struct bounded {
	char *buf;
	size_t cap, o;
	int full;
};

static void emit_bounded(void *arg, const char *p, size_t n)
{
	struct bounded *b = arg;
	size_t i = 0, k;
	uint32_t cp;

	while (i < n && !b->full) {
		k = utf8_decode((const unsigned char *)p + i, n - i, &cp);
		if (cp != '\n') {
			if (b->o + k >= b->cap) {
				b->full = 1;
				break;
			}
			memcpy(b->buf + b->o, p + i, k);
			b->o += k;
		}
		i += k;
	}
}

const char *cli_clean(char *buf, size_t cap, const char *s)
{
	const unsigned char *u = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)u), i = 0, k;
	struct bounded b = {buf, cap, 0, 0};
	struct ctl_state ctl;
	uint32_t cp;

	if (!cap)
		return buf;
	memset(&ctl, 0, sizeof(ctl));
	while (i < n && !b.full) {
		k = utf8_decode(u + i, n - i, &cp);
		if (cp == UTF8_REPLACEMENT && k == 1)
			ctl_feed(&ctl, cp, "\xef\xbf\xbd", 3, emit_bounded, &b);
		else
			ctl_feed(&ctl, cp, (const char *)u + i, k, emit_bounded, &b);
		i += k;
	}
	ctl_end(&ctl, emit_bounded, &b);
	buf[b.o] = '\0';
	return buf;
}

/* The settings core messages name, and the flags that set them here. */
static const struct {
	const char *setting;
	const char *flag;
} setting_flags[] = {
	{"allow_insecure_http", "--allow-insecure-http (or allow_insecure_http = true in the config)"},
	{"allow_private", "--allow-private or QUARRY_ALLOW_PRIVATE=1"},
	{"base_url", "--base-url"},
	{"follow_symlinks", "--follow-symlinks"},
	{"home", "--home DIR"},
	{"ignore_robots", "--ignore-robots"},
	{"max_bytes", "--max-bytes"},
	{"max_pdf_bytes", "--max-pdf-bytes"},
	{"max_tokens", "--max-tokens"},
	{"model", "--model"},
	{"provider", "--provider"},
	{"sources", "--sources"},
	{"time_limit", "--time-limit"},
	{"timeout", "--timeout"},
};

/* The flag for "the NAME setting" at s, and its length in *len; NULL if
 * s does not start with one. */
static const char *flag_at(const char *s, size_t *len)
{
	size_t i, n;

	if (strncmp(s, "the ", 4) != 0)
		return NULL;
	for (i = 0; i < sizeof(setting_flags) / sizeof(setting_flags[0]); i++) {
		n = strlen(setting_flags[i].setting);
		if (!strncmp(s + 4, setting_flags[i].setting, n) && !strncmp(s + 4 + n, " setting", 8)) {
			*len = 4 + n + 8;
			return setting_flags[i].flag;
		}
	}
	return NULL;
}

size_t cli_flag_hints(const char *msg, char *out, size_t cap)
{
	size_t k = 0, len;
	const char *flag;

	if (!cap)
		return 0;
	while (*msg && k + 1 < cap) {
		if ((flag = flag_at(msg, &len)) != NULL) {
			int w = snprintf(out + k, cap - k, "%s", flag);
			k = w < 0 ? k : (size_t)w < cap - k ? k + (size_t)w : cap - 1;
			msg += len;
		} else {
			out[k++] = *msg++;
		}
	}
	out[k] = '\0';
	return k;
}

void cli_verror(const char *fmt, va_list ap)
{
	char buf[CLI_ERROR_MAX], shown[CLI_ERROR_MAX];
	size_t n;

	if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
		return;
	n = cli_flag_hints(buf, shown, sizeof(shown));
	cli_clean_write(NULL, stderr, shown, n);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(fmt, ap);
	va_end(ap);
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
