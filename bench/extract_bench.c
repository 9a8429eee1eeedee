/*
 * extract_bench.c - extraction quality and speed on the WCXB dev set.
 *
 * usage: extract_bench DATA_DIR [--dump DIR] [--only NNNN]
 *
 * For every DATA_DIR/html/NNNN.html.gz: gunzip (not timed), run
 * doc_extract (charset detection + conversion + parse + extraction,
 * timed), and score the text against ground-truth/NNNN.json with the
 * set's metric: lower-case both texts, split into \w+ words, multiset
 * overlap; precision = overlap / predicted, recall = overlap / reference.
 * \w is approximated with iswalnum() under C.UTF-8, plus '_', which is
 * what Python's re does for str patterns.
 *
 * Prints mean F1 / precision / recall overall and per page type, the
 * share of `with` snippets found and `without` snippets kept, HTML
 * throughput in MB/s on one thread, and peak RSS.
 */
#include <dirent.h>
#include <jansson.h>
#include <locale.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <wctype.h>
#include <zlib.h>

#include "../src/core/hash.h"
#include "../src/core/qbuf.h"
#include "../src/core/utf8.h"
#include "../src/doc/doc.h"
#include "bench_util.h"

#define MAX_TYPES 16
#define MAX_PAGE_BYTES (64 * 1024 * 1024)

struct type_stats {
	char name[32];
	int pages;
	double f1, p, r;
};

static struct type_stats types[MAX_TYPES];
static int n_types;

/* ---- a tiny string multiset ---- */
struct bag {
	char **keys;
	int *counts;
	size_t cap, used;
};

static void bag_init(struct bag *b, size_t cap)
{
	b->cap = cap;
	b->used = 0;
	b->keys = calloc(cap, sizeof(char *));
	b->counts = calloc(cap, sizeof(int));
}

static void bag_free(struct bag *b)
{
	size_t i;

	for (i = 0; i < b->cap; i++)
		free(b->keys[i]);
	free(b->keys);
	free(b->counts);
}

static int *bag_slot(struct bag *b, const char *w, size_t n, int create)
{
	size_t i = q_fnv1a(w, n) & (b->cap - 1);

	while (b->keys[i]) {
		if (strlen(b->keys[i]) == n && !memcmp(b->keys[i], w, n))
			return &b->counts[i];
		i = (i + 1) & (b->cap - 1);
	}
	if (!create || b->used * 2 >= b->cap)
		return NULL;
	b->keys[i] = strndup(w, n);
	b->used++;
	return &b->counts[i];
}

/* Split s into lower-cased \w+ words; call fn on each. */
static void words(const char *s, void (*fn)(void *, const char *, size_t), void *ctx)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	struct qbuf w;

	qbuf_init(&w, 1 << 20);
	while (i <= n) {
		uint32_t cp = 0;
		size_t k = 1;
		int is_word;

		if (i < n)
			k = utf8_decode(p + i, n - i, &cp);
		is_word = i < n && (cp == '_' || iswalnum((wint_t)cp));
		if (is_word) {
			char enc[4];
			qbuf_add(&w, enc, utf8_encode((uint32_t)towlower((wint_t)cp), enc));
		} else if (w.len) {
			fn(ctx, w.data, w.len);
			qbuf_reset(&w);
		}
		i += k;
	}
	qbuf_release(&w);
}

static void count_word(void *ctx, const char *w, size_t n)
{
	int *c = bag_slot(ctx, w, n, 1);

	if (c)
		(*c)++;
}

struct overlap_ctx {
	struct bag *ref;
	long overlap, predicted;
};

static void match_word(void *ctx, const char *w, size_t n)
{
	struct overlap_ctx *o = ctx;
	int *c = bag_slot(o->ref, w, n, 0);

	o->predicted++;
	if (c && *c > 0) {
		(*c)--;
		o->overlap++;
	}
}

static void score(const char *pred, const char *ref, double *f1, double *p, double *r)
{
	struct bag b;
	struct overlap_ctx o = {&b, 0, 0};
	long ref_words = 0;
	size_t i;

	bag_init(&b, 1 << 18);
	words(ref, count_word, &b);
	for (i = 0; i < b.cap; i++)
		ref_words += b.counts[i];
	words(pred, match_word, &o);
	*p = o.predicted ? (double)o.overlap / (double)o.predicted : (ref_words ? 0 : 1);
	*r = ref_words ? (double)o.overlap / (double)ref_words : 1;
	*f1 = (*p + *r) > 0 ? 2 * *p * *r / (*p + *r) : 0;
	bag_free(&b);
}

static struct type_stats *type_for(const char *name)
{
	int i;

	for (i = 0; i < n_types; i++)
		if (!strcmp(types[i].name, name))
			return &types[i];
	if (n_types == MAX_TYPES)
		return &types[MAX_TYPES - 1];
	snprintf(types[n_types].name, sizeof(types[n_types].name), "%s", name);
	return &types[n_types++];
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
	struct bench_args args;
	const char *dir, *dump, *only;
	char path[4096];
	json_t *meta, *files;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n_names = 0, i;
	struct bench_timing timing = {0, 0, 0, 0};
	double f1_sum = 0, p_sum = 0, r_sum = 0;
	long with_total = 0, with_found = 0, without_total = 0, without_kept = 0;
	int pages = 0, a;

	if (bench_args_parse(argc, argv, &args))
		return 2;
	dir = args.dir;
	dump = args.dump;
	only = args.only;
	setlocale(LC_CTYPE, "C.UTF-8");
	doc_global_init();
	snprintf(path, sizeof(path), "%s/metadata.json", dir);
	meta = json_load_file(path, 0, NULL);
	files = json_object_get(meta, "files");
	snprintf(path, sizeof(path), "%s/html", dir);
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "cannot open %s\n", path);
		return 1;
	}
	while ((e = readdir(d))) {
		if (!strstr(e->d_name, ".html.gz"))
			continue;
		char **grown = realloc(names, (n_names + 1) * sizeof(char *));
		if (!grown) {
			fprintf(stderr, "out of memory listing %s\n", path);
			closedir(d);
			return 1;
		}
		names = grown;
		names[n_names++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n_names, sizeof(char *), cmp_name);

	for (i = 0; i < n_names; i++) {
		char id[16];
		struct qbuf html;
		json_t *gt, *g, *snip;
		const char *ref, *type = NULL;
		struct doc doc;
		double f1, p, r;
		size_t k;

		snprintf(id, sizeof(id), "%.*s", (int)strcspn(names[i], "."), names[i]);
		if (only && strcmp(only, id))
			continue;
		snprintf(path, sizeof(path), "%s/ground-truth/%s.json", dir, id);
		gt = json_load_file(path, 0, NULL);
		g = json_object_get(gt, "ground_truth");
		ref = json_string_value(json_object_get(g, "main_content"));
		if (!ref) {
			json_decref(gt);
			continue;
		}
		type = json_string_value(json_object_get(json_object_get(files, id), "page_type"));
		if (!type)
			type = json_string_value(json_object_get(
				json_object_get(json_object_get(json_object_get(gt, "_internal"), "page_type"),
						"primary"),
				"x"));
		if (!type)
			type = json_string_value(json_object_get(
				json_object_get(json_object_get(gt, "_internal"), "page_type"), "primary"));
		if (!type)
			type = "unknown";
		qbuf_init(&html, MAX_PAGE_BYTES);
		snprintf(path, sizeof(path), "%s/html/%s", dir, names[i]);
		if (bench_gunzip(path, &html)) {
			qbuf_release(&html);
			json_decref(gt);
			continue;
		}
		bench_extract(&html, json_string_value(json_object_get(gt, "url")), &doc, &timing);
		score(doc.text ? doc.text : "", ref, &f1, &p, &r);
		if (dump) {
			FILE *f;
			snprintf(path, sizeof(path), "%s/%s.txt", dump, id);
			f = fopen(path, "w");
			if (f) {
				fprintf(f, "%s\n", doc.text ? doc.text : "");
				fclose(f);
			}
			printf("%s %-13s f1=%.3f p=%.3f r=%.3f\n", id, type, f1, p, r);
		}
		snip = json_object_get(g, "with");
		for (k = 0; k < json_array_size(snip); k++) {
			with_total++;
			if (doc.text && strstr(doc.text, json_string_value(json_array_get(snip, k))))
				with_found++;
		}
		snip = json_object_get(g, "without");
		for (k = 0; k < json_array_size(snip); k++) {
			without_total++;
			if (doc.text && strstr(doc.text, json_string_value(json_array_get(snip, k))))
				without_kept++;
		}
		{
			struct type_stats *ts = type_for(type);
			ts->pages++;
			ts->f1 += f1;
			ts->p += p;
			ts->r += r;
		}
		pages++;
		f1_sum += f1;
		p_sum += p;
		r_sum += r;
		doc_release(&doc);
		qbuf_release(&html);
		json_decref(gt);
	}
	printf("pages %d (errors %d)\n", pages, timing.errors);
	printf("%-14s %5s %6s %6s %6s\n", "type", "pages", "F1", "prec", "recall");
	for (a = 0; a < n_types; a++)
		printf("%-14s %5d %6.3f %6.3f %6.3f\n", types[a].name, types[a].pages,
		       types[a].f1 / types[a].pages, types[a].p / types[a].pages, types[a].r / types[a].pages);
	printf("%-14s %5d %6.4f %6.4f %6.4f\n", "ALL", pages, f1_sum / pages, p_sum / pages, r_sum / pages);
	printf("with snippets found  %.3f (%ld/%ld)\n", with_total ? (double)with_found / with_total : 0,
	       with_found, with_total);
	printf("without snippets kept %.3f (%ld/%ld)\n",
	       without_total ? (double)without_kept / without_total : 0, without_kept, without_total);
	bench_print_timing(&timing);
	for (i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	json_decref(meta);
	return 0;
}
