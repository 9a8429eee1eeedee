/*
 * search_quality.c - retrieval quality of the corpus on judged queries.
 *
 * usage: search_quality HOME WCXB_DIR [ZH_QUERIES]
 *
 * English, known-item: WCXB_DIR/html (1,497 real pages) is indexed into
 * HOME with corpus_add; for every page with `with` snippets (text a
 * reader would call the page's content, hand-checked), the query is up to
 * 8 words from the first snippet (bag of words, no phrase syntax), and
 * the one relevant passage set is that page's passages. Reports
 * recall@10 (the page among the top 10) and nDCG@10 (1/log2(1+rank) of
 * the first passage from the page).
 *
 * Chinese: ZH_QUERIES is a file of lines "QUERY<TAB>FILE[<TAB>q]", judged
 * by hand against bench/data/zh (indexed too): same two figures, split
 * into two-character queries, longer terms and phrases, and natural
 * questions as people type them (third field "q": unspaced, with question
 * words and punctuation, not held verbatim by any document).
 */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "../src/core/qbuf.h"
#include "../src/index/corpus.h"
#include "../src/index/store.h"

struct tally {
	int n, found;
	double ndcg;
};

static void judge(struct store *s, const char *query, const char *want_suffix, struct tally *t)
{
	struct corpus_hit *hits;
	int n = 0, i;

	t->n++;
	if (corpus_search(s, query, 10, "", "", &hits, &n, NULL))
		return;
	for (i = 0; i < n; i++) {
		const char *p = hits[i].path;
		size_t pl = p ? strlen(p) : 0, wl = strlen(want_suffix);
		if (pl >= wl && !strcmp(p + pl - wl, want_suffix)) {
			t->found++;
			t->ndcg += 1.0 / log2(2.0 + i);
			break;
		}
	}
	corpus_hits_free(hits, n);
}

static void print_tally(const char *name, const struct tally *t)
{
	if (t->n)
		printf("%-34s %5d queries  recall@10 %.3f  nDCG@10 %.3f\n", name, t->n,
		       (double)t->found / t->n, t->ndcg / t->n);
}

/* Up to 8 words of letters/digits from snippet, space-separated. */
static void query_from(const char *snippet, char *out, size_t size)
{
	size_t k = 0;
	int words = 0, in = 0;

	for (; *snippet && words <= 8 && k + 2 < size; snippet++) {
		unsigned char c = (unsigned char)*snippet;
		int wc = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 c >= 0x80;
		if (wc) {
			if (!in && words == 8)
				break;
			if (!in && k)
				out[k++] = ' ';
			if (!in)
				words++;
			in = 1;
			out[k++] = (char)c;
		} else {
			in = 0;
		}
	}
	out[k] = '\0';
}

int main(int argc, char **argv)
{
	struct store s;
	struct corpus_counts c;
	struct tally en = {0, 0, 0}, zh2 = {0, 0, 0}, zhn = {0, 0, 0}, zhq = {0, 0, 0};
	char path[4096], *add[2];
	DIR *d;
	struct dirent *e;

	if (argc < 3) {
		fprintf(stderr, "usage: %s HOME WCXB_DIR [ZH_QUERIES]\n", argv[0]);
		return 2;
	}
	if (store_open(&s, argv[1], NULL))
		return 1;
	snprintf(path, sizeof(path), "%s/html", argv[2]);
	add[0] = path;
	add[1] = (char *)"bench/data/zh";
	corpus_add(&s, add, argc > 3 ? 2 : 1, NULL, NULL, &c, NULL);
	printf("indexed: added %ld, updated %ld, unchanged %ld, failed %ld\n", c.added, c.updated,
	       c.unchanged, c.failed);
	snprintf(path, sizeof(path), "%s/ground-truth", argv[2]);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char gt_path[4400], q[512], want[64];
		json_t *gt, *with;
		if (!strstr(e->d_name, ".json"))
			continue;
		snprintf(gt_path, sizeof(gt_path), "%s/%s", path, e->d_name);
		gt = json_load_file(gt_path, 0, NULL);
		with = json_object_get(json_object_get(gt, "ground_truth"), "with");
		if (json_array_size(with) > 0) {
			query_from(json_string_value(json_array_get(with, 0)), q, sizeof(q));
			snprintf(want, sizeof(want), "/%.4s.html.gz", e->d_name);
			if (q[0])
				judge(&s, q, want, &en);
		}
		json_decref(gt);
	}
	if (d)
		closedir(d);
	print_tally("English known-item (WCXB snippets)", &en);
	if (argc > 3) {
		FILE *f = fopen(argv[3], "r");
		char line[1024];
		while (f && fgets(line, sizeof(line), f)) {
			char *tab = strchr(line, '\t'), *nl, *kind;
			size_t chars = 0;
			const char *p;
			if (!tab || line[0] == '#')
				continue;
			*tab = '\0';
			if ((nl = strchr(tab + 1, '\n')))
				*nl = '\0';
			if ((kind = strchr(tab + 1, '\t')))
				*kind++ = '\0';
			for (p = line; *p; p++)
				chars += ((unsigned char)*p & 0xC0) != 0x80;
			judge(&s, line, tab + 1, kind && *kind == 'q' ? &zhq : chars == 2 ? &zh2 : &zhn);
		}
		if (f)
			fclose(f);
		print_tally("Chinese, two-character queries", &zh2);
		print_tally("Chinese, longer queries", &zhn);
		print_tally("Chinese, natural questions", &zhq);
	}
	store_close(&s);
	return 0;
}
