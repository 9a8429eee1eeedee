/*
 * bench_util.c - command line, gunzip and clock for the extraction
 * benches (see bench_util.h).
 */
#include "bench_util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

int bench_args_parse(int argc, char **argv, struct bench_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	if (argc < 2 || argv[1][0] == '-')
		goto usage;
	a->dir = argv[1];
	for (i = 2; i < argc; i += 2) {
		if (i + 1 >= argc)
			goto usage;
		if (!strcmp(argv[i], "--dump"))
			a->dump = argv[i + 1];
		else if (!strcmp(argv[i], "--only"))
			a->only = argv[i + 1];
		else
			goto usage;
	}
	return 0;
usage:
	fprintf(stderr, "usage: %s DATA_DIR [--dump DIR] [--only NNNN]\n", argc ? argv[0] : "bench");
	return -1;
}

int bench_gunzip(const char *path, struct qbuf *out)
{
	gzFile gz = gzopen(path, "rb");
	char chunk[65536];
	int n;

	if (!gz)
		return -1;
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0)
		qbuf_add(out, chunk, (size_t)n);
	gzclose(gz);
	return out->err ? -1 : 0;
}

double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
