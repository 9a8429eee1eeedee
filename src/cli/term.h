/*
 * term.h - what the command line writes to a terminal: untrusted text with
 * control characters removed, a status line that fits the window, and the
 * colour choice (--color, NO_COLOR).
 */
#ifndef Q_CLI_TERM_H
#define Q_CLI_TERM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "../core/ctl.h"

/* Carry for cli_clean_write across calls (a streamed reply may split a
 * UTF-8 sequence between chunks). Zero-initialise. */
struct cli_clean_state {
	unsigned char carry[4];
	size_t n;
	struct ctl_state ctl; /* inside an escape sequence, and how far */
};

/*
 * Write s[0..n) to f without terminal controls: escape sequences (CSI,
 * OSC and other control strings, two-character escapes) are dropped whole,
 * other C0 controls but tab and newline, DEL and C1 controls (U+0080-U+009F)
 * one by one, so text from
 * pages, files and models cannot move the cursor, retitle the window or
 * ring the bell; invalid UTF-8 becomes U+FFFD. st may be NULL (s is
 * complete); with a state, an incomplete sequence at the end is kept for
 * the next call and cli_clean_flush writes what is left.
 */
void cli_clean_write(struct cli_clean_state *st, FILE *f, const char *s, size_t n);
void cli_clean_flush(struct cli_clean_state *st, FILE *f);
/* The same for a complete string, but two exact sequences pass: bold on
 * and off (ESC [ 1 m, ESC [ 0 m), the match markers of search snippets
 * on a colour terminal. */
void cli_clean_write_marked(FILE *f, const char *s, size_t n);

/* s (NULL: "") without controls, in buf (cap bytes, cut at a character
 * boundary): for untrusted names in messages. Returns buf. */
const char *cli_clean(char *buf, size_t cap, const char *s);

/* Print a message to stderr with controls removed (newlines kept): every
 * message that may hold untrusted text (file names, URLs, server and model
 * replies, command names) goes through here, so none can retitle the
 * window or ring the bell. Messages longer than CLI_ERROR_MAX are cut. */
#define CLI_ERROR_MAX 8192
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_verror(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* A core message for the command line: each "the NAME setting" it names
 * (src/core/err.h) becomes the flag that sets it ("the max_bytes setting"
 * -> "--max-bytes"). Writes at most cap bytes (NUL included) to out and
 * returns the length; a message cut at cap is cut, never overrun. */
size_t cli_flag_hints(const char *msg, char *out, size_t cap);

/* Columns of the terminal on fd: TIOCGWINSZ, else $COLUMNS, else 80. */
int cli_term_width(int fd);

/* Columns s[0..n) takes on a terminal (East Asian wide characters 2,
 * combining marks 0). */
size_t cli_display_width(const char *s, size_t n);

/* Redraw the one status line on stderr in place: carriage return, the text
 * cut to fit the window (so it never wraps and scrolls), erase to the end. */
void cli_status_line(const char *text);
/* Erase the status line (before printing a message, or at the end). */
void cli_status_clear(void);

enum cli_color_mode { CLI_COLOR_AUTO, CLI_COLOR_ALWAYS, CLI_COLOR_NEVER };
/* Set from --color=auto|always|never (main.c). */
extern enum cli_color_mode cli_color;
/* Whether to colour output on fd: always, never, or (auto) when fd is a
 * terminal and NO_COLOR is unset or empty. */
int cli_use_color(int fd);

#endif
