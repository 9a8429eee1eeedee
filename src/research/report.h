/*
 * report.h - citations and their check (internal to src/research).
 */
#ifndef Q_REPORT_H
#define Q_REPORT_H

#include <jansson.h>

#include "../core/qbuf.h"

#define CITE_MAX_SOURCES 512

struct cite_finding {
	int source; /* index of the finding's source */
};

struct cite_result {
	char *body;    /* [F#] kept where valid, [unsupported] flags added */
	int citations; /* references the writer made */
	int verified;  /* of which point at a real finding */
	int removed;
	int claims; /* claim-like sentences */
	int unsupported_n;
	json_t *unsupported;                 /* their text */
	int cited_sources[CITE_MAX_SOURCES]; /* source indexes in citation order */
	int n_cited_sources;
	int *source_number; /* [finding id] -> its source's number, 0 if uncited */
	int *finding_used;  /* [finding id] -> cited */
};

/* findings[0..n) are F1..Fn. */
/* flag: mark claim-like sentences without a citation (model-written text). */
int cite_process(const char *body, const struct cite_finding *findings, int n, int flag, struct cite_result *r);
void cite_result_release(struct cite_result *r);

/* Length of the citation-like marker at s ([1], [F2], (Source 3), 【4】,
 * [^5] ...; at most max bytes), or 0 when s starts with none. s is read
 * up to its NUL, so it must be a C string even where max is shorter. */
size_t cite_marker_len(const char *s, size_t max);
/* Append s[0..n) to out without any citation-like marker (text from a page
 * must not bring citations of its own). Returns how many were dropped. */
int cite_strip_markers(const char *s, size_t n, struct qbuf *out);
/* Mend the spacing where a marker was just dropped from what was added to
 * out since offset from, next being the character after it ('\0' at the
 * end): no double space, no space before punctuation, a space between
 * sentences. */
void cite_mend_gap(struct qbuf *out, size_t from, char next);

#endif
