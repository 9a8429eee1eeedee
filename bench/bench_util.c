/*
 * bench_util.c - command line, gunzip, clocks and the timed extraction
 * for the extraction benches (see bench_util.h).
 */
#include "bench_util.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
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

void bench_extract(const struct qbuf *html, const char *base_url, struct doc *doc, struct bench_timing *t)
{
	struct doc_options opt;
	struct q_error err;
	double t0, c0;

	memset(&opt, 0, sizeof(opt));
	memset(&err, 0, sizeof(err));
	opt.content_type = "text/html";
	opt.base_url = base_url;
	t0 = bench_now_s();
	c0 = bench_cpu_s();
	if (doc_extract(qbuf_cstr(html), html->len, &opt, doc, &err)) {
		t->errors++;
		memset(doc, 0, sizeof(*doc));
	}
	t->wall_s += bench_now_s() - t0;
	t->cpu_s += bench_cpu_s() - c0;
	t->bytes += (double)html->len;
}

void bench_print_timing(const struct bench_timing *t)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("html %.1f MB in %.2f s: %.1f MB/s of wall clock (one thread, charset+parse+extract)\n",
	       t->bytes / 1e6, t->wall_s, t->wall_s > 0 ? t->bytes / 1e6 / t->wall_s : 0);
	printf("cpu %.2f s: %.1f MB/s of CPU time (steadier on a shared machine)\n", t->cpu_s,
	       t->cpu_s > 0 ? t->bytes / 1e6 / t->cpu_s : 0);
	printf("peak RSS %.1f MB\n", ru.ru_maxrss / 1024.0);
}
