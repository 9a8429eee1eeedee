/*
 * index_bench.c - corpus indexing and search benchmark.
 *
 * usage: index_bench DIR [PASSAGES [COMPARE_PASSAGES]]
 *        (WCXB=DIR for the real text; PASSAGES or COMPARE_PASSAGES 0 skips
 *        that part)
 *
 * 0. Real text: the hand-checked main text of each page of the WCXB
 *    development set (WCXB/ground-truth/NNNN.json, main_content; 1,476
 *    pages, 14.3 MB, mostly English, some German, French, Chinese...) is
 *    written once as files to DIR/real/; then `quarry index add` of that
 *    folder (corpus_add into a fresh store: read, hash, split, passages,
 *    FTS5 with the quarry tokenizer) is timed against plain FTS5 with
 *    unicode61 (remove_diacritics 2) on the same files (read, one row per
 *    file), best of REAL_RUNS (5) each, wall and CPU time. Skipped, saying where the data
 *    comes from, when WCXB is absent.
 * 1. Indexing: the same generated passages go into an FTS5 table with the
 *    quarry tokenizer and into one with plain unicode61 (remove_diacritics
 *    2), one after the other in this process; prints text MB/s for both
 *    and their ratio.
 * 2. Search: PASSAGES passages (default 1,000,000) are written through
 *    the quarry schema (documents, passages, FTS5) in DIR/home, then
 *    queries of several kinds run through corpus_search (top 10); prints
 *    p50 and p99 latency per kind, and index size against text size.
 *
 * Text: words drawn from a Zipf distribution over a 50,000-word generated
 * vocabulary (so the most common words are in most passages, like "the"),
 * 80-160 words per passage, some sentence punctuation. Deterministic.
 * AUTOMERGE=N sets FTS5's automerge for the comparison tables (tuning aid).
 */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../src/core/qbuf.h"
#include "../src/index/corpus.h"
#include "../src/index/store.h"
#include "../src/index/tokenize.h"

#define VOCAB 50000
#define QUERIES 300

static char *vocab[VOCAB];
static double all_lat[QUERIES * 8];
static int n_all;
static double cdf[VOCAB];
static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: steadier than wall time on a shared
 * machine (the real-text comparison reports both). */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_vocab(void)
{
	double sum = 0;
	int i;

	for (i = 0; i < VOCAB; i++) {
		int len = 3 + (int)(next_rand() % 8), k;
		vocab[i] = malloc((size_t)len + 1);
		for (k = 0; k < len; k++)
			vocab[i][k] = (char)('a' + next_rand() % 26);
		vocab[i][len] = '\0';
		sum += 1.0 / (i + 1.0);
		cdf[i] = sum;
	}
	for (i = 0; i < VOCAB; i++)
		cdf[i] /= sum;
}

static int zipf_word(void)
{
	double u = (double)(next_rand() % 1000000007) / 1000000007.0;
	int lo = 0, hi = VOCAB - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void make_passage(struct qbuf *b)
{
	int n = 80 + (int)(next_rand() % 81), i;

	qbuf_reset(b);
	for (i = 0; i < n; i++) {
		qbuf_adds(b, vocab[zipf_word()]);
		qbuf_adds(b, (i % 17 == 16) ? ". " : " ");
	}
}

static double index_rate(const char *path, const char *tokenize, long n)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	struct qbuf b;
	char sql[256];
	double bytes = 0, t0;
	long i;

	remove(path);
	sqlite3_open(path, &db);
	tokenizer_register_fts5(db, NULL);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;",
		     NULL, NULL, NULL);
	snprintf(sql, sizeof(sql), "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='%s')", tokenize);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (getenv("AUTOMERGE")) {
		snprintf(sql, sizeof(sql), "INSERT INTO t(t, rank) VALUES('automerge', %s)",
			 getenv("AUTOMERGE"));
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	sqlite3_prepare_v2(db, "INSERT INTO t(body) VALUES (?1)", -1, &st, NULL);
	qbuf_init(&b, 1 << 20);
	rng = 12345;
	t0 = now_s();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (i = 0; i < n; i++) {
		make_passage(&b);
		bytes += (double)b.len;
		sqlite3_bind_text(st, 1, b.data, (int)b.len, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
		if (i % 10000 == 9999) {
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		}
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	t0 = now_s() - t0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	qbuf_release(&b);
	remove(path);
	return bytes / 1e6 / t0;
}

/* Generation time alone, to subtract from both rates. */
static double generate_seconds(long n, double *bytes)
{
	struct qbuf b;
	double t0 = now_s();
	long i;

	qbuf_init(&b, 1 << 20);
	rng = 12345;
	*bytes = 0;
	for (i = 0; i < n; i++) {
		make_passage(&b);
		*bytes += (double)b.len;
	}
	qbuf_release(&b);
	return now_s() - t0;
}

/* ---- real text ---- */

#define REAL_RUNS 5

/* Write WCXB's main texts as DIR/real/NNNN.txt (once); the number of
 * files, 0 when the data is not there. */
static int write_real_files(const char *wcxb, const char *real_dir, double *bytes)
{
	char gt_dir[4200], in[4600], out[4600];
	struct dirent *e;
	DIR *d;
	int n = 0;

	*bytes = 0;
	snprintf(gt_dir, sizeof(gt_dir), "%s/ground-truth", wcxb);
	d = opendir(gt_dir);
	if (!d)
		return 0;
	mkdir(real_dir, 0755);
	while ((e = readdir(d))) {
		json_t *gt;
		const char *text;
		size_t len;
		FILE *f;
		if (!strstr(e->d_name, ".json"))
			continue;
		snprintf(in, sizeof(in), "%s/%s", gt_dir, e->d_name);
		gt = json_load_file(in, 0, NULL);
		text = json_string_value(json_object_get(json_object_get(gt, "ground_truth"), "main_content"));
		len = text ? strlen(text) : 0;
		snprintf(out, sizeof(out), "%s/%.4s.txt", real_dir, e->d_name);
		if (len && (f = fopen(out, "w"))) {
			fwrite(text, 1, len, f);
			fclose(f);
			*bytes += (double)len;
			n++;
		}
		json_decref(gt);
	}
	closedir(d);
	return n;
}

/* Plain FTS5 (unicode61) on the same files: read each, one row each. */
static double plain_fts5_seconds(const char *db_path, const char *real_dir, double *cpu)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	struct dirent *e;
	DIR *d;
	char path[4600];
	double t0 = now_s(), c0 = cpu_s();

	remove(db_path);
	sqlite3_open(db_path, &db);
	sqlite3_exec(db,
		     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		     "CREATE VIRTUAL TABLE t USING fts5(path, body, tokenize='unicode61 remove_diacritics 2');"
		     "BEGIN",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO t(path, body) VALUES (?1, ?2)", -1, &st, NULL);
	d = opendir(real_dir);
	while (d && (e = readdir(d))) {
		struct qbuf b;
		FILE *f;
		char chunk[65536];
		size_t k;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", real_dir, e->d_name);
		if (!(f = fopen(path, "rb")))
			continue;
		qbuf_init(&b, 1 << 26);
		while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
			qbuf_add(&b, chunk, k);
		fclose(f);
		sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, b.data ? b.data : "", (int)b.len, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
		qbuf_release(&b);
	}
	if (d)
		closedir(d);
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	t0 = now_s() - t0;
	*cpu = cpu_s() - c0;
	remove(db_path);
	return t0;
}

/* corpus_add of the folder into a fresh store, as `quarry index add`. */
static double corpus_add_seconds(const char *home, const char *real_dir, double *cpu)
{
	char db_path[4300], *paths[1];
	struct corpus_counts c;
	struct store s;
	double t0, c0;

	snprintf(db_path, sizeof(db_path), "%s/quarry.db", home);
	remove(db_path);
	mkdir(home, 0755);
	if (store_open(&s, home, NULL))
		return *cpu = -1;
	paths[0] = (char *)real_dir;
	memset(&c, 0, sizeof(c));
	t0 = now_s();
	c0 = cpu_s();
	corpus_add(&s, paths, 1, NULL, NULL, &c, NULL);
	store_close(&s); /* the last checkpoint counts too */
	t0 = now_s() - t0;
	*cpu = cpu_s() - c0;
	remove(db_path);
	return t0;
}

static void bench_real_text(const char *dir)
{
	const char *wcxb = getenv("WCXB");
	char real_dir[4200], home[4200], db_path[4200];
	double bytes, q_best = 1e9, u_best = 1e9, qc_best = 1e9, uc_best = 1e9;
	int files, i;

	if (!wcxb || !*wcxb)
		wcxb = "../shared/data/wcxb-dev";
	snprintf(real_dir, sizeof(real_dir), "%s/real", dir);
	files = write_real_files(wcxb, real_dir, &bytes);
	if (!files) {
		printf("real text: skipped: no %s/ground-truth. The data is the WCXB development set\n"
		       "  (1,497 pages with hand-checked main text, CC-BY-4.0), kept beside the clone as\n"
		       "  ../shared/data/wcxb-dev; point WCXB=DIR at a copy elsewhere.\n",
		       wcxb);
		return;
	}
	snprintf(home, sizeof(home), "%s/real-home", dir);
	snprintf(db_path, sizeof(db_path), "%s/real-plain.db", dir);
	for (i = 0; i < REAL_RUNS; i++) {
		double qc, uc, q = corpus_add_seconds(home, real_dir, &qc),
			       u = plain_fts5_seconds(db_path, real_dir, &uc);
		if (q >= 0 && q < q_best)
			q_best = q;
		if (q >= 0 && qc < qc_best)
			qc_best = qc;
		if (u < u_best)
			u_best = u;
		if (uc < uc_best)
			uc_best = uc;
	}
	printf("real text: %d files, %.1f MB, the main text of the pages in %s (best of %d):\n", files,
	       bytes / 1e6, wcxb, REAL_RUNS);
	printf("  quarry index add (corpus_add)    %6.2f s  %6.1f MB/s  (CPU %.2f s)\n", q_best,
	       bytes / 1e6 / q_best, qc_best);
	printf("  plain FTS5 unicode61, same files %6.2f s  %6.1f MB/s  (CPU %.2f s)\n", u_best,
	       bytes / 1e6 / u_best, uc_best);
	printf("  time ratio quarry/plain: %.2f wall, %.2f CPU\n", q_best / u_best, qc_best / uc_best);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void build_store(struct store *s, long n, double *text_bytes)
{
	sqlite3_stmt *doc, *pas, *fts;
	struct qbuf b;
	long i;

	sqlite3_prepare_v2(s->db,
			   "INSERT INTO documents(path, title, kind, size, mtime_ns, hash, chars, indexed_at)"
			   " VALUES (?1, ?2, 'text', 0, 0, '', 0, 0)",
			   -1, &doc, NULL);
	sqlite3_prepare_v2(s->db,
			   "INSERT INTO passages(doc_id, ord, heading, start, end, char_start,"
			   " char_end, body) VALUES (?1, ?2, '', 0, ?3, 0, ?3, ?4)",
			   -1, &pas, NULL);
	sqlite3_prepare_v2(s->db,
			   "INSERT INTO passages_fts(rowid, title, heading, body) VALUES (?1, ?2, '', ?3)",
			   -1, &fts, NULL);
	char title[64] = "";

	qbuf_init(&b, 1 << 20);
	rng = 999;
	*text_bytes = 0;
	sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
	for (i = 0; i < n; i++) {
		char path[64];
		long long doc_id, pid;
		if (i % 10 == 0) {
			snprintf(path, sizeof(path), "/bench/doc%ld.txt", i / 10);
			snprintf(title, sizeof(title), "%s %s", vocab[zipf_word()], vocab[zipf_word()]);
			sqlite3_bind_text(doc, 1, path, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(doc, 2, title, -1, SQLITE_TRANSIENT);
			sqlite3_step(doc);
			sqlite3_reset(doc);
		}
		doc_id = (long long)(i / 10) + 1;
		make_passage(&b);
		*text_bytes += (double)b.len;
		sqlite3_bind_int64(pas, 1, doc_id);
		sqlite3_bind_int(pas, 2, (int)(i % 10));
		sqlite3_bind_int64(pas, 3, (long long)b.len);
		sqlite3_bind_text(pas, 4, b.data, (int)b.len, SQLITE_STATIC);
		sqlite3_step(pas);
		sqlite3_reset(pas);
		pid = sqlite3_last_insert_rowid(s->db);
		sqlite3_bind_int64(fts, 1, pid);
		sqlite3_bind_text(fts, 2, title, -1, SQLITE_STATIC); /* as the view reads it */
		sqlite3_bind_text(fts, 3, b.data, (int)b.len, SQLITE_STATIC);
		sqlite3_step(fts);
		sqlite3_reset(fts);
		if (i % 20000 == 19999) {
			sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
			sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
		}
	}
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	sqlite3_finalize(doc);
	sqlite3_finalize(pas);
	sqlite3_finalize(fts);
	qbuf_release(&b);
}

static void run_queries(struct store *s, const char *kind, int lo, int hi, int words, int phrase)
{
	double lat[QUERIES];
	int q, hits_total = 0;

	for (q = 0; q < QUERIES; q++) {
		char query[256] = "";
		struct corpus_hit *hits;
		int n = 0, w;
		double t0;
		for (w = 0; w < words; w++) {
			size_t k = strlen(query);
			int idx = lo + (int)(next_rand() % (unsigned)(hi - lo));
			snprintf(query + k, sizeof(query) - k, "%s%s%s%s", w ? " " : "",
				 phrase && !w ? "\"" : "", vocab[idx], phrase && w == words - 1 ? "\"" : "");
		}
		t0 = now_s();
		corpus_search(s, query, 10, "[", "]", &hits, &n, NULL);
		lat[q] = (now_s() - t0) * 1000;
		hits_total += n;
		corpus_hits_free(hits, n);
	}
	memcpy(all_lat + n_all, lat, sizeof(lat));
	n_all += QUERIES;
	qsort(lat, QUERIES, sizeof(double), cmp_double);
	printf("  %-28s p50 %7.2f ms  p99 %7.2f ms  (mean hits %.1f)\n", kind, lat[QUERIES / 2],
	       lat[QUERIES * 99 / 100], (double)hits_total / QUERIES);
}

int main(int argc, char **argv)
{
	const char *dir;
	long n, n_cmp;
	char path[4200], home[4096];
	double gen_bytes, gen_s, q_rate, u_rate, text_bytes, t0;
	struct store s;
	struct stat st;
	sqlite3_stmt *pg;
	long long fts_bytes = -1;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [PASSAGES [COMPARE_PASSAGES]]\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
	n_cmp = argc > 3 ? strtol(argv[3], NULL, 10) : 100000;
	mkdir(dir, 0755);
	make_vocab();
	bench_real_text(dir);
	if (n_cmp <= 0)
		goto search;

	gen_s = generate_seconds(n_cmp, &gen_bytes);
	snprintf(path, sizeof(path), "%s/cmp.db", dir);
	q_rate = index_rate(path, "quarry", n_cmp);
	u_rate = index_rate(path, "unicode61 remove_diacritics 2", n_cmp);
	/* Rates above include generating the text; report both raw and net. */
	{
		double q_net = gen_bytes / 1e6 / (gen_bytes / 1e6 / q_rate - gen_s);
		double u_net = gen_bytes / 1e6 / (gen_bytes / 1e6 / u_rate - gen_s);
		printf("indexing %ld passages, %.1f MB of text (FTS5 insert, generation excluded):\n", n_cmp,
		       gen_bytes / 1e6);
		printf("  quarry tokenizer    %6.1f MB/s\n", q_net);
		printf("  unicode61           %6.1f MB/s\n", u_net);
		printf("  time ratio quarry/unicode61: %.2f\n", u_net / q_net);
	}
search:
	if (n <= 0)
		return 0;

	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(path, sizeof(path), "%s/quarry.db", home);
	/* INDEX_BENCH_REUSE=1 keeps a store built by an earlier run. */
	if (!getenv("INDEX_BENCH_REUSE"))
		remove(path);
	if (store_open(&s, home, NULL)) {
		fprintf(stderr, "cannot open store in %s\n", home);
		return 1;
	}
	t0 = now_s();
	if (!getenv("INDEX_BENCH_REUSE")) {
		build_store(&s, n, &text_bytes);
		printf("stored %ld passages (%.1f MB of text) through the quarry schema in %.1f s\n", n,
		       text_bytes / 1e6, now_s() - t0);
	} else {
		sqlite3_stmt *tb;
		text_bytes = 0;
		if (sqlite3_prepare_v2(s.db, "SELECT sum(length(CAST(body AS BLOB))) FROM passages", -1, &tb,
				       NULL) == SQLITE_OK) {
			if (sqlite3_step(tb) == SQLITE_ROW)
				text_bytes = sqlite3_column_double(tb, 0);
			sqlite3_finalize(tb);
		}
		rng = 4242;
	}
	if (sqlite3_prepare_v2(s.db, "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'passages_fts%'", -1,
			       &pg, NULL) == SQLITE_OK) {
		if (sqlite3_step(pg) == SQLITE_ROW)
			fts_bytes = sqlite3_column_int64(pg, 0);
		sqlite3_finalize(pg);
	}
	if (!stat(path, &st))
		printf("full-text index %.1f MB = %.2f x the text; database file %.1f MB\n", fts_bytes / 1e6,
		       fts_bytes / text_bytes, st.st_size / 1e6);
	printf("search, top 10, %d queries each:\n", QUERIES);
	run_queries(&s, "rare word (rank 5000-50000)", 5000, VOCAB, 1, 0);
	run_queries(&s, "mid word (rank 100-5000)", 100, 5000, 1, 0);
	run_queries(&s, "common word (rank 0-20)", 0, 20, 1, 0);
	run_queries(&s, "two mid words", 100, 5000, 2, 0);
	run_queries(&s, "three words, any rank", 0, 20000, 3, 0);
	run_queries(&s, "phrase of two common words", 0, 50, 2, 1);
	qsort(all_lat, (size_t)n_all, sizeof(double), cmp_double);
	printf("  %-28s p50 %7.2f ms  p99 %7.2f ms  (%d queries)\n", "all of the above", all_lat[n_all / 2],
	       all_lat[n_all * 99 / 100], n_all);
	store_close(&s);
	return 0;
}
