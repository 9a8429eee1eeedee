/*
 * bench_util.h - what the extraction benches (extract_bench.c,
 * article_bench.c) share: their command line, reading a gzipped page,
 * the clocks, and the timed call of doc_extract with its report.
 */
#ifndef Q_BENCH_UTIL_H
#define Q_BENCH_UTIL_H

#include "../src/core/qbuf.h"
#include "../src/doc/doc.h"

/* The benches' command line: DATA_DIR [--dump DIR] [--only NNNN]. */
struct bench_args {
	const char *dir;  /* the data set */
	const char *dump; /* write each text and a line per page here, or NULL */
	const char *only; /* run this page alone, or NULL */
};

/* Fill *a from argv; on a usage error print the usage to stderr and
 * return -1 (the caller exits 2). */
int bench_args_parse(int argc, char **argv, struct bench_args *a);

/* Append the inflated contents of the gzip file path to out (not timed
 * by the benches). 0 or -1 (unreadable, or out's cap reached). */
int bench_gunzip(const char *path, struct qbuf *out);

/* Seconds on the monotonic clock. */
double bench_now_s(void);

/* CPU seconds this process has used: steadier than the wall clock on a
 * shared machine, where other jobs take turns on the cores. */
double bench_cpu_s(void);

/* What the timed calls of doc_extract over a bench's pages add up to. */
struct bench_timing {
	double bytes;  /* HTML read */
	double wall_s; /* monotonic clock inside doc_extract */
	double cpu_s;  /* this process's CPU time inside doc_extract */
	int errors;    /* pages doc_extract refused */
};

/* Extract html (as text/html, base_url may be NULL) into *doc (out; the
 * caller releases it), timed into *t: charset detection and conversion,
 * parse, extraction. On an error *doc is empty and t->errors counts it. */
void bench_extract(const struct qbuf *html, const char *base_url, struct doc *doc, struct bench_timing *t);

/* Print the lines both benches end with: throughput by the wall clock
 * and by CPU time, and the process's peak RSS. */
void bench_print_timing(const struct bench_timing *t);

#endif
