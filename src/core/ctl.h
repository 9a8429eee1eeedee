/*
 * ctl.h - terminal control sequences out of untrusted text.
 *
 * Page text, titles, file names and model replies may carry escape
 * sequences (ESC ] 0;title BEL, ESC [ 2 J, 8-bit CSI U+009B) that a
 * terminal obeys. ctl_strip and the streaming ctl_feed drop each sequence
 * whole, so no "]0;title" or "[31m" residue is left, then every other C0
 * control but tab and newline, DEL and every C1 control (U+0080-U+009F).
 * One implementation for extraction (src/doc), reports (src/research) and
 * the terminal writer (src/cli/term.c).
 *
 * All functions are pure and thread-safe (state is the caller's).
 */
#ifndef Q_CTL_H
#define Q_CTL_H

#include <stddef.h>
#include <stdint.h>

/* An OSC/DCS/APC/PM/SOS string longer than this many characters was no
 * sequence: what follows is kept again, so a stray "ESC ]" cannot hide a
 * page. */
#define CTL_MAX_STRING 512
/* Parameter bytes after an 8-bit CSI (U+009B) held back until the final
 * byte shows it is a sequence; past this it is not, and they are kept. */
#define CTL_MAX_PENDING 32

/* Where ctl_feed is in a sequence. Zero-initialise. */
struct ctl_state {
	int esc;                             /* CTL_* state (ctl.c) */
	int len;                             /* characters of the sequence so far */
	unsigned char pend[CTL_MAX_PENDING]; /* held bytes after U+009B */
	size_t npend;                        /* how many are held */
};

/* Receives kept text: n bytes at p (not NUL-terminated). */
typedef void (*ctl_emit_fn)(void *arg, const char *p, size_t n);

/* 1 if cp is a control ctl drops (C0 but tab and newline, DEL, C1). */
int ctl_is_control(uint32_t cp);

/* 1 when st is outside any sequence and holds nothing back. */
int ctl_idle(const struct ctl_state *st);

/*
 * Feed one code point cp, whose bytes are bytes[0..k), through the
 * stripper: emit gets the bytes to keep (possibly with held-back bytes
 * before them), nothing for controls. U+009B starts a sequence only when
 * parameter bytes and a final byte follow ("\u009b31m"); otherwise only it
 * is dropped and the text after it stays.
 */
void ctl_feed(struct ctl_state *st, uint32_t cp, const char *bytes, size_t k, ctl_emit_fn emit, void *arg);

/* End of input: emit what is held back and reset st. */
void ctl_end(struct ctl_state *st, ctl_emit_fn emit, void *arg);

/*
 * Strip s[0..n) in place; returns the new length and, when it is shorter
 * than n, writes a NUL there. Invalid UTF-8 bytes are dropped too (kept,
 * two of them could join into a C1 control once what stood between them
 * is gone). s may be NULL when n is 0.
 */
size_t ctl_strip(char *s, size_t n);

#endif
