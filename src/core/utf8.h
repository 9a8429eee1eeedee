/*
 * utf8.h - small UTF-8 helpers: decode, encode, validate, sanitise, and the
 * character classes extraction needs (CJK scripts, Unicode spaces, sentence
 * punctuation including full-width forms).
 *
 * All functions are pure and thread-safe.
 */
#ifndef Q_UTF8_H
#define Q_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "qbuf.h"

#define UTF8_REPLACEMENT 0xFFFDu

/*
 * Decode one code point at s (n bytes available). Stores it in *out_cp and
 * returns the bytes consumed (1-4). Invalid or truncated sequences,
 * overlongs, surrogates and values past U+10FFFF give U+FFFD and consume 1.
 * n must be > 0.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *out_cp);

/* Encode cp into out (4 bytes room); returns bytes written. */
size_t utf8_encode(uint32_t cp, char *out);

/* 1 if s[0..n) is valid UTF-8 (no NULs check), else 0. */
int utf8_valid(const char *s, size_t n);

/* Append s[0..n) to b with invalid sequences replaced by U+FFFD and NUL
 * bytes dropped. Returns b->err. */
int utf8_sanitize_append(struct qbuf *b, const char *s, size_t n);

/* A sanitised copy of the string s (NULL: ""), for text that must be
 * UTF-8 (reports, JSON). Free with q_free; NULL when out of memory. */
char *utf8_sanitize_dup(const char *s);

/* Han, Hiragana, Katakana, Hangul (scripts written without spaces or
 * with dense syllables, whose characters carry more than a Latin letter). */
int utf8_is_cjk(uint32_t cp);

/* Unicode white space (incl. NBSP, ideographic space, zero-width space). */
int utf8_is_space(uint32_t cp);

/* Comma-like and sentence-ending punctuation, ASCII and full-width. */
int utf8_is_comma(uint32_t cp);
int utf8_is_sentence_end(uint32_t cp);

#endif
