/*
 * article_bench.c - extraction precision and recall on article pages
 * (trafilatura's evaluation set, ../shared/data/trafilatura-eval).
 *
 * usage: article_bench DATA_DIR [--dump DIR] [--only NNNN]
 *
 * For every page of DATA_DIR/evaldata.json: gunzip html/NNNN.html.gz
 * (not timed), run doc_extract (charset + parse + extract, timed) and
 * score the text with the set's own metric: white space normalised in
 * the text and in each snippet (runs become one space, trimmed); a
 * `with` snippet contained in the text is a true positive, else a false
 * negative; a `without` snippet contained in it is a false positive.
 * Counts are summed over all pages; precision = TP/(TP+FP), recall =
 * TP/(TP+FN), F1 = 2TP/(2TP+FP+FN). Figures are printed for all pages
 * and for even- and odd-numbered pages apart (a check on overfitting),
 * with throughput and peak RSS. --dump writes each text to DIR/NNNN.txt
 * and prints one line per page (tp fp fn) to sort the worst pages by.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "../src/core/qbuf.h"
#include "../src/doc/doc.h"
#include "bench_util.h"

#define MAX_PAGE_BYTES (64 * 1024 * 1024)

/* Counts of one group of pages. */
struct tally {
	long tp, fp, fn, tn;
};

/* s with runs of white space made one space, trimmed; caller frees. */
static char *norm_ws(const char *s)
{
	size_t n = strlen(s), k = 0;
	char *o = malloc(n + 1);
	int space = 0;

	if (!o)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			space = 1;
			continue;
		}
		/* U+00A0 no-break space counts as white space (Python's \s). */
		if (c == 0xC2 && (unsigned char)s[1] == 0xA0) {
			space = 1;
			s++;
			continue;
		}
		if (space && k)
			o[k++] = ' ';
		space = 0;
		o[k++] = (char)c;
	}
	o[k] = '\0';
	return o;
}

/* Count how many of the snippets in arr occur in text. */
static long found(const char *text, json_t *arr, long *total)
{
	size_t k;
	long hits = 0;

	for (k = 0; k < json_array_size(arr); k++) {
		const char *v = json_string_value(json_array_get(arr, k));
		char *s = norm_ws(v ? v : "");
		(*total)++;
		if (s && strstr(text, s))
			hits++;
		free(s);
	}
	return hits;
}

static void print_tally(const char *name, const struct tally *t)
{
	double p = t->tp + t->fp ? (double)t->tp / (double)(t->tp + t->fp) : 0;
	double r = t->tp + t->fn ? (double)t->tp / (double)(t->tp + t->fn) : 0;
	double f = 2 * t->tp + t->fp + t->fn ? 2.0 * t->tp / (double)(2 * t->tp + t->fp + t->fn) : 0;

	printf("%-6s precision %.3f recall %.3f F1 %.4f (tp %ld fp %ld fn %ld tn %ld)\n", name, p, r, f,
	       t->tp, t->fp, t->fn, t->tn);
}

int main(int argc, char **argv)
{
	struct bench_args args;
	const char *dir, *dump, *only;
	char path[4096];
	json_t *eval;
	const char *id;
	json_t *page;
	struct tally all = {0, 0, 0, 0}, half[2] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
	struct bench_timing timing = {0, 0, 0, 0};
	int pages = 0;

	if (bench_args_parse(argc, argv, &args))
		return 2;
	dir = args.dir;
	dump = args.dump;
	only = args.only;
	doc_global_init();
	snprintf(path, sizeof(path), "%s/evaldata.json", dir);
	eval = json_load_file(path, 0, NULL);
	if (!json_is_object(eval)) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	json_object_foreach (eval, id, page) {
		struct qbuf html;
		struct doc doc;
		const char *file = json_string_value(json_object_get(page, "file"));
		char *text;
		long with_n = 0, without_n = 0, tp, fp;
		struct tally *h;

		if (!file || (only && strcmp(only, id)))
			continue;
		qbuf_init(&html, MAX_PAGE_BYTES);
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		if (bench_gunzip(path, &html)) {
			qbuf_release(&html);
			continue;
		}
		bench_extract(&html, NULL, &doc, &timing);
		text = norm_ws(doc.text ? doc.text : "");
		tp = found(text ? text : "", json_object_get(page, "with"), &with_n);
		fp = found(text ? text : "", json_object_get(page, "without"), &without_n);
		h = &half[strtol(id, NULL, 10) % 2];
		all.tp += tp;
		all.fn += with_n - tp;
		all.fp += fp;
		all.tn += without_n - fp;
		h->tp += tp;
		h->fn += with_n - tp;
		h->fp += fp;
		h->tn += without_n - fp;
		if (dump) {
			FILE *f;
			snprintf(path, sizeof(path), "%s/%s.txt", dump, id);
			f = fopen(path, "w");
			if (f) {
				fprintf(f, "%s\n", doc.text ? doc.text : "");
				fclose(f);
			}
			printf("%s tp %ld fp %ld fn %ld bytes %zu\n", id, tp, fp, with_n - tp,
			       doc.text ? strlen(doc.text) : 0);
		}
		pages++;
		free(text);
		doc_release(&doc);
		qbuf_release(&html);
	}
	printf("pages %d (errors %d)\n", pages, timing.errors);
	print_tally("all", &all);
	print_tally("even", &half[0]);
	print_tally("odd", &half[1]);
	bench_print_timing(&timing);
	json_decref(eval);
	return 0;
}
