/*
 * neardup.c - near-duplicate texts by MinHash over token shingles (design
 * in neardup.h).
 *
 * Why tokens and not bytes: case, punctuation and spacing changes (a
 * README reflowed, a title recased) should not count as differences, and
 * the tokenizer already folds them for every script; byte windows would
 * also cost a mix per byte. Why MinHash and not a diff: sources are
 * compared pairwise as a run adds them, and a fixed 64-entry signature
 * makes each comparison 64 integer compares, whatever the texts' sizes.
 */
#include "neardup.h"

#include <string.h>

#include "../core/hash.h"
#include "tokenize.h"

/* splitmix64's finaliser: a good 64-bit mix, cheap. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

struct sign_ctx {
	struct neardup_sig *sig;
	uint64_t window[NEARDUP_SHINGLE]; /* hashes of the last tokens, a ring */
	long n_tokens;
};

static int on_token(void *vctx, const char *tok, size_t len, size_t start, size_t end, int colocated)
{
	struct sign_ctx *c = vctx;
	uint64_t h = 0;
	int k;

	(void)start;
	(void)end;
	(void)colocated;
	c->window[c->n_tokens % NEARDUP_SHINGLE] = q_fnv1a(tok, len);
	c->n_tokens++;
	if (c->n_tokens < NEARDUP_SHINGLE)
		return 0;
	/* The shingle: its tokens in order, oldest first. */
	for (k = 0; k < NEARDUP_SHINGLE; k++)
		h = mix(h ^ c->window[(c->n_tokens + k) % NEARDUP_SHINGLE]);
	for (k = 0; k < NEARDUP_SIG; k++) {
		uint64_t v = mix(h + (uint64_t)(k + 1) * 0x9e3779b97f4a7c15ULL);
		if (v < c->sig->min[k])
			c->sig->min[k] = v;
	}
	c->sig->n_shingles++;
	return 0;
}

void neardup_sign(const char *text, size_t len, struct neardup_sig *out)
{
	struct tokenizer *t = tokenizer_new(0);
	struct sign_ctx c;

	memset(out, 0, sizeof(*out));
	if (!t)
		return;
	memset(out->min, 0xff, sizeof(out->min));
	memset(&c, 0, sizeof(c));
	c.sig = out;
	tokenizer_run(t, text, len, TOKENIZE_QUERY, on_token, &c);
	tokenizer_free(t);
}

double neardup_similarity(const struct neardup_sig *a, const struct neardup_sig *b)
{
	int k, equal = 0;

	if (a->n_shingles < NEARDUP_MIN_SHINGLES || b->n_shingles < NEARDUP_MIN_SHINGLES)
		return 0;
	for (k = 0; k < NEARDUP_SIG; k++)
		equal += a->min[k] == b->min[k];
	return (double)equal / NEARDUP_SIG;
}

int neardup_same(const struct neardup_sig *a, const struct neardup_sig *b)
{
	return neardup_similarity(a, b) >= NEARDUP_THRESHOLD;
}
