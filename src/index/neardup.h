/*
 * neardup.h - is one text nearly a copy of another? (the same README under
 * two package names, a page saved twice with one line edited).
 *
 * A text's signature is a MinHash of its shingles: every run of
 * NEARDUP_SHINGLE consecutive tokens (the search tokenizer's query tokens,
 * no stemming: words, and character pairs for CJK) is hashed, and for each
 * of NEARDUP_SIG seeded mixes the smallest value is kept. The share of
 * equal entries of two signatures estimates the Jaccard similarity of
 * their shingle sets (standard error about 0.035 at 0.8). Exact copies are
 * caught before this by a hash of the whole text; this is for the rest.
 */
#ifndef Q_NEARDUP_H
#define Q_NEARDUP_H

#include <stddef.h>
#include <stdint.h>

#define NEARDUP_SIG 128
#define NEARDUP_SHINGLE 5
/* Texts of fewer shingles are too short to judge: never near-duplicates. */
#define NEARDUP_MIN_SHINGLES 20
/* Estimated Jaccard similarity at or above which two texts are one. A
 * 340-word file with its title and one sentence edited (a README under
 * another package name) scores 0.94; the test site's template pages,
 * the same 3,100 shingles but other numbers, at most 0.67 over 820 pairs;
 * texts on the same subject under 0.1. */
#define NEARDUP_THRESHOLD 0.8

struct neardup_sig {
	long n_shingles; /* 0: empty or out of memory */
	uint64_t min[NEARDUP_SIG];
};

/* Sign text[0..len) (UTF-8) into *out. Out of memory leaves n_shingles 0,
 * so the text is simply never found a near-duplicate. Thread-safe. */
void neardup_sign(const char *text, size_t len, struct neardup_sig *out);

/* Estimated Jaccard similarity, 0..1; 0 when either text is too short. */
double neardup_similarity(const struct neardup_sig *a, const struct neardup_sig *b);

/* neardup_similarity(a, b) >= NEARDUP_THRESHOLD. */
int neardup_same(const struct neardup_sig *a, const struct neardup_sig *b);

#endif
