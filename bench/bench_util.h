/*
 * bench_util.h - what the extraction benches (extract_bench.c,
 * article_bench.c) share: their command line, reading a gzipped page and
 * a monotonic clock.
 */
#ifndef Q_BENCH_UTIL_H
#define Q_BENCH_UTIL_H

#include "../src/core/qbuf.h"

/* The benches' command line: DATA_DIR [--dump DIR] [--only NNNN]. */
struct bench_args {
	const char *dir;   /* the data set */
	const char *dump;  /* write each text and a line per page here, or NULL */
	const char *only;  /* run this page alone, or NULL */
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

#endif
