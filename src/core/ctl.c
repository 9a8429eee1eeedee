/*
 * ctl.c - the control-sequence stripper (see ctl.h).
 *
 * A small state machine over code points. ESC starts a sequence: CSI
 * (ESC [) runs to its final byte 0x40-0x7E, OSC/DCS/APC/PM/SOS (ESC ] P _ ^
 * X, or their C1 forms) to BEL or ST (ESC \ or U+009C) or CTL_MAX_STRING
 * characters, other escapes take one more character. Dropping whole
 * sequences, not just the ESC, is the point: a terminal-safe "]0;PWNED" is
 * still garbage to a reader.
 *
 * The 8-bit CSI U+009B is the one ambiguous case: it also occurs as stray
 * mis-decoded text (Windows-1252 pages), and treating it like ESC [ would
 * eat the letter after it. So its parameter bytes are held back and only
 * dropped once a final byte completes the sequence; a U+009B followed by
 * anything else is dropped alone.
 */
#include <string.h>

#include "ctl.h"
#include "utf8.h"

/* Sequence states. */
enum { CTL_NONE, CTL_SEEN, CTL_CSI, CTL_STRING, CTL_STRING_ESC, CTL_C1CSI };

int ctl_is_control(uint32_t cp)
{
	if (cp == '\t' || cp == '\n')
		return 0;
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

int ctl_idle(const struct ctl_state *st) { return st->esc == CTL_NONE && !st->npend; }

/* Emit the bytes held after U+009B and forget them. */
static void release(struct ctl_state *st, ctl_emit_fn emit, void *arg)
{
	if (st->npend)
		emit(arg, (const char *)st->pend, st->npend);
	st->npend = 0;
}

void ctl_feed(struct ctl_state *st, uint32_t cp, const char *bytes, size_t k, ctl_emit_fn emit, void *arg)
{
	switch (st->esc) {
	case CTL_SEEN:
		if (cp >= 0x20 && cp <= 0x2f && ++st->len < 8)
			return; /* intermediates: ESC ( B */
		st->esc = cp == '['                                                         ? CTL_CSI
			  : (cp == ']' || cp == 'P' || cp == '_' || cp == '^' || cp == 'X') ? CTL_STRING
											    : CTL_NONE;
		st->len = 0;
		if (st->esc != CTL_NONE || (cp >= 0x20 && cp < 0x7f))
			return; /* a two-character escape ends with this one */
		break;
	case CTL_CSI:
		if (cp >= 0x20 && cp <= 0x3f && ++st->len < CTL_MAX_STRING)
			return; /* parameters and intermediates */
		st->esc = CTL_NONE;
		if (cp >= 0x40 && cp <= 0x7e)
			return; /* the final byte */
		break;
	case CTL_C1CSI:
		if (st->npend < CTL_MAX_PENDING &&
		    ((cp >= 0x30 && cp <= 0x3f) || (st->npend && cp >= 0x21 && cp <= 0x2f))) {
			st->pend[st->npend++] = (unsigned char)cp;
			return;
		}
		st->esc = CTL_NONE;
		if (st->npend && cp >= 0x40 && cp <= 0x7e) {
			st->npend = 0; /* a whole sequence: drop it */
			return;
		}
		release(st, emit, arg); /* a stray U+009B: keep what followed */
		break;
	case CTL_STRING:
	case CTL_STRING_ESC:
		if (cp == 0x07 || (st->esc == CTL_STRING_ESC && cp == '\\') || cp == 0x9c) {
			st->esc = CTL_NONE;
			return;
		}
		if (cp == 0x1b) {
			st->esc = CTL_STRING_ESC;
			return;
		}
		st->esc = CTL_STRING;
		if (++st->len < CTL_MAX_STRING && !(cp < 0x20 && cp != '\t'))
			return;
		st->esc = CTL_NONE;
		break;
	}
	if (cp == 0x1b || cp == 0x9b || cp == 0x9d || cp == 0x90 || cp == 0x9f || cp == 0x9e || cp == 0x98) {
		st->esc = cp == 0x1b ? CTL_SEEN : cp == 0x9b ? CTL_C1CSI : CTL_STRING;
		st->len = 0;
		return;
	}
	if (!ctl_is_control(cp))
		emit(arg, bytes, k);
}

void ctl_end(struct ctl_state *st, ctl_emit_fn emit, void *arg)
{
	if (st->esc == CTL_C1CSI)
		release(st, emit, arg);
	st->esc = CTL_NONE;
	st->len = 0;
	st->npend = 0;
}

/* In-place output for ctl_strip: the write position never passes the read
 * position, since nothing is emitted that was not consumed. */
struct inplace {
	char *s;
	size_t w;
};

static void emit_inplace(void *arg, const char *p, size_t n)
{
	struct inplace *o = arg;

	memmove(o->s + o->w, p, n);
	o->w += n;
}

/* A byte that is its own character and never part of a control. */
static int is_plain(unsigned char c) { return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n'; }

size_t ctl_strip(char *s, size_t n)
{
	struct ctl_state st;
	struct inplace o = {s, 0};
	size_t i = 0, k;
	uint32_t cp;

	memset(&st, 0, sizeof(st));
	while (i < n) {
		/* Printable ASCII outside a sequence is kept as it is: one
		 * memmove a run instead of a decode and a call a byte (this
		 * loop was a sixth of extraction time on HTML). */
		if (st.esc == CTL_NONE && !st.npend && is_plain((unsigned char)s[i])) {
			k = i;
			while (k < n && is_plain((unsigned char)s[k]))
				k++;
			if (o.w != i)
				memmove(s + o.w, s + i, k - i);
			o.w += k - i;
			i = k;
			continue;
		}
		k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		/* An invalid byte is dropped: kept, "\xc2" ESC "\x93" would become
		 * U+0093, a C1 control, once the ESC between them is gone. */
		if (cp != UTF8_REPLACEMENT || k != 1)
			ctl_feed(&st, cp, s + i, k, emit_inplace, &o);
		i += k;
	}
	ctl_end(&st, emit_inplace, &o);
	if (o.w < n)
		s[o.w] = '\0';
	return o.w;
}
