/* Unit tests: the search tokenizer on its own and inside SQLite FTS5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/core/alloc.h"
#include "../../src/core/qbuf.h"
#include "../../src/doc/sniff.h"
#include "../../src/index/corpus.h"
#include "../../src/index/neardup.h"
#include "../../src/index/rank.h"
#include "../../src/index/split.h"
#include "../../src/index/store.h"
#include "../../src/index/tokenize.h"

/* Collect tokens as "a b c"; a colocated token is written "+tok". */
static int collect(void *ctx, const char *tok, size_t len, size_t start, size_t end, int colocated)
{
	struct qbuf *b = ctx;

	(void)start;
	(void)end;
	if (b->len)
		qbuf_addc(b, ' ');
	if (colocated)
		qbuf_addc(b, '+');
	qbuf_add(b, tok, len);
	return 0;
}

static void check_tokens(struct tokenizer *t, const char *text, enum tokenize_mode mode, const char *want)
{
	struct qbuf b;

	qbuf_init(&b, 1 << 16);
	assert_int_equal(tokenizer_run(t, text, strlen(text), mode, collect, &b), 0);
	assert_string_equal(qbuf_cstr(&b), want);
	qbuf_release(&b);
}

static void words_fold_and_stem(void **state)
{
	struct tokenizer *t = tokenizer_new(1);

	(void)state;
	check_tokens(t, "Running RUNS, the runner's café!", TOKENIZE_DOCUMENT, "run run the runner s cafe");
	check_tokens(t, "Straße ÉCOLE naïve Ｆｕｌｌ１２", TOKENIZE_DOCUMENT, "strass ecol naiv full12");
	check_tokens(t, "ΑΘΗΝΑ Москва", TOKENIZE_DOCUMENT, "αθηνα москва");
	check_tokens(t, "Tiếng Việt ՀԱՅԵՐԵՆ", TOKENIZE_DOCUMENT, "tieng viet հայերեն");
	check_tokens(t, "e\xcc\x81te", TOKENIZE_DOCUMENT, "ete"); /* decomposed é */
	check_tokens(t, "GPT-4o 2024 x86_64", TOKENIZE_DOCUMENT, "gpt 4o 2024 x86 64");
	tokenizer_free(t);
	t = tokenizer_new(0);
	check_tokens(t, "Running runs", TOKENIZE_DOCUMENT, "running runs");
	tokenizer_free(t);
}

static void cjk_bigrams(void **state)
{
	struct tokenizer *t = tokenizer_new(1);

	(void)state;
	check_tokens(t, "中国人", TOKENIZE_DOCUMENT, "中 +中国 国 +国人 人");
	check_tokens(t, "中国人", TOKENIZE_QUERY, "中国 国人");
	check_tokens(t, "中", TOKENIZE_QUERY, "中");
	check_tokens(t, "GPS定位，精度", TOKENIZE_DOCUMENT, "gps 定 +定位 位 精 +精度 度");
	check_tokens(t, "東京タワー", TOKENIZE_QUERY, "東京 京タ タワ ワー");
	tokenizer_free(t);
}

static void hostile_input(void **state)
{
	struct tokenizer *t = tokenizer_new(1);
	char big[5000];
	struct qbuf b;

	(void)state;
	check_tokens(t, "", TOKENIZE_DOCUMENT, "");
	check_tokens(t, "\xff\xfe word \xc3", TOKENIZE_DOCUMENT, "word");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	qbuf_init(&b, 1 << 16);
	tokenizer_run(t, big, strlen(big), TOKENIZE_DOCUMENT, collect, &b);
	assert_true(b.len <= TOKEN_MAX_BYTES); /* one token, cut */
	qbuf_release(&b);
	tokenizer_free(t);
}

static int count_matches(sqlite3 *db, const char *query)
{
	sqlite3_stmt *st;
	int n = 0;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ?1", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, query, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		n++;
	sqlite3_finalize(st);
	return n;
}

static void fts5_search(void **state)
{
	sqlite3 *db;
	struct q_error err;

	(void)state;
	memset(&err, 0, sizeof(err));
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(tokenizer_register_fts5(db, &err), 0);
	assert_int_equal(
		sqlite3_exec(db,
			     "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='quarry');"
			     "INSERT INTO t VALUES ('The runners were running past the Café de Flore.');"
			     "INSERT INTO t VALUES ('美国政府关闭了选择可用性，民用精度大幅提高。');"
			     "INSERT INTO t VALUES ('选择与可用性是两个不同的问题。');"
			     "INSERT INTO t VALUES ('Selective availability was switched off in 2000.');",
			     NULL, NULL, NULL),
		SQLITE_OK);
	assert_int_equal(count_matches(db, "run"), 1);
	assert_int_equal(count_matches(db, "RUNNING"), 1);
	assert_int_equal(count_matches(db, "cafe"), 1);
	assert_int_equal(count_matches(db, "café"), 1);
	assert_int_equal(count_matches(db, "\"switched off\""), 1);
	assert_int_equal(count_matches(db, "availability NOT 2000"), 0);
	assert_int_equal(count_matches(db, "选择可用性"), 1); /* phrase of bigrams */
	assert_int_equal(count_matches(db, "可用性"), 2);
	assert_int_equal(count_matches(db, "精度"), 1);      /* two characters */
	assert_int_equal(count_matches(db, "选"), 2);        /* one character */
	assert_int_equal(count_matches(db, "选择 精度"), 1); /* AND */
	sqlite3_close(db);
}

struct split_log {
	const char *text;
	int n;
	struct passage p[64];
};

static int log_passage(void *ctx, const struct passage *p)
{
	struct split_log *l = ctx;

	if (l->n < 64)
		l->p[l->n++] = *p;
	return 0;
}

static void split_on_headings_and_size(void **state)
{
	struct split_log l;
	struct qbuf t;
	int i;

	(void)state;
	qbuf_init(&t, 1 << 20);
	qbuf_adds(&t, "Intro paragraph here.\n\n# Setup\n\n## Linux\n\nInstall it.\n\n# Use\n\n");
	for (i = 0; i < 50; i++) /* 50 paragraphs of 20 words */
		qbuf_adds(&t, "one two three four five six seven eight nine ten "
			      "one two three four five six seven eight nine ten.\n\n");
	memset(&l, 0, sizeof(l));
	assert_int_equal(split_passages(t.data, t.len, log_passage, &l), 0);
	assert_true(l.n >= 6);
	assert_string_equal(l.p[0].heading, "");
	assert_string_equal(l.p[1].heading, "Setup > Linux");
	assert_int_equal(strncmp(t.data + l.p[1].start, "Install it.", 11), 0);
	assert_int_equal(l.p[1].end - l.p[1].start, 11);
	for (i = 2; i < l.n; i++) {
		assert_string_equal(l.p[i].heading, "Use");
		assert_true(l.p[i].words <= SPLIT_MAX_WORDS);
		assert_true(l.p[i].end <= t.len);
	}
	assert_true(l.p[2].words >= SPLIT_TARGET_WORDS);
	qbuf_release(&t);
}

static void split_long_paragraph_and_cjk(void **state)
{
	struct split_log l;
	struct qbuf t;
	int i;

	(void)state;
	qbuf_init(&t, 1 << 20);
	for (i = 0; i < 400; i++) /* one paragraph, 2400 CJK chars = 1200 words */
		qbuf_adds(&t, "选择可用性。");
	memset(&l, 0, sizeof(l));
	split_passages(t.data, t.len, log_passage, &l);
	assert_true(l.n >= 4);
	for (i = 0; i < l.n; i++) {
		assert_true(l.p[i].words <= SPLIT_MAX_WORDS);
		/* every passage starts on a character boundary */
		assert_true(((unsigned char)t.data[l.p[i].start] & 0xC0) != 0x80);
	}
	qbuf_release(&t);
}

static void query_translation(void **state)
{
	struct qbuf b;

	(void)state;
	qbuf_init(&b, 4096);
	assert_int_equal(corpus_query_to_fts("open models", &b, NULL), 0);
	assert_string_equal(qbuf_cstr(&b), "(\"open\" OR \"models\")");
	qbuf_reset(&b);
	corpus_query_to_fts("\"switched off\" gps -weights -2007", &b, NULL);
	assert_string_equal(qbuf_cstr(&b), "(\"switched off\") AND (\"gps\") NOT (\"weights\" OR \"2007\")");
	qbuf_reset(&b);
	corpus_query_to_fts("a\"b", &b, NULL); /* quotes inside words are escaped */
	assert_string_equal(qbuf_cstr(&b), "(\"a\"\"b\")");
	qbuf_reset(&b);
	qbuf_reset(&b);
	/* An excluded phrase is kept as written, " AND " inside it too. */
	corpus_query_to_fts("soup -\"salt AND pepper\" -x", &b, NULL);
	assert_string_equal(qbuf_cstr(&b), "(\"soup\") NOT (\"salt AND pepper\" OR \"x\")");
	assert_int_equal(corpus_query_to_fts("-only", &b, NULL), Q_EINVAL);
	qbuf_release(&b);
}

/* In a tiny corpus every word is in most rows: bm25()'s IDF floors to
 * ~0 there, qrank() must still prefer the row with more matches. */
static void qrank_orders_small_corpus(void **state)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	double score;

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(tokenizer_register_fts5(db, NULL), 0);
	assert_int_equal(rank_register_fts5(db, NULL), 0);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='quarry');"
				      "INSERT INTO t VALUES ('gps', 'selective availability was switched off; "
				      "selective availability had degraded the signal');"
				      "INSERT INTO t VALUES ('gps', 'availability of receivers grew');"
				      "INSERT INTO t VALUES ('gps', 'selective reading');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT rowid, qrank(t, 2.0, 1.0) s FROM t "
					    "WHERE t MATCH 'selective OR availability' ORDER BY s",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	score = sqlite3_column_double(st, 1);
	assert_true(score < -0.1); /* a real score, not the 1e-6 floor */
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* A FIFO swapped in for a file must not block the read (the old fopen
 * blocked forever), nor may a symlink be followed. */
static void read_file_refuses_fifo_and_links(void **state)
{
	char dir[] = "/tmp/quarry-test-XXXXXX", fifo[64], link[64], file[64];
	struct qbuf b;
	struct stat st;
	struct q_error err;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/pipe", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(file, sizeof(file), "%s/file.txt", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("some text\n", f);
	fclose(f);
	assert_int_equal(symlink(file, link), 0);
	qbuf_init(&b, 1 << 20);
	alarm(10); /* a blocking open fails the test instead of hanging it */
	memset(&err, 0, sizeof(err));
	assert_int_equal(corpus_read_file(fifo, 1 << 20, &b, &st, &err), Q_EUNSUPPORTED);
	assert_string_equal(err.msg, "not a regular file");
	assert_int_not_equal(corpus_read_file(link, 1 << 20, &b, &st, &err), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(corpus_read_file(file, 4, &b, &st, &err), 0);
	assert_int_equal(b.len, 4); /* stops at max_bytes */
	assert_int_equal(st.st_size, 10);
	alarm(0);
	qbuf_release(&b);
	unlink(fifo);
	unlink(link);
	unlink(file);
	rmdir(dir);
}

static void sniff_text_and_binary(void **state)
{
	static const char gbk[] = "\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7\n"; /* GBK text */
	static const char elf[] = "\x7f"
				  "ELFabcdefgh";
	char noisy[200];

	(void)state;
	assert_true(sniff_is_text("Release notes\n\tfixed a bug\r\n", 28));
	assert_true(sniff_is_text(gbk, sizeof(gbk) - 1));
	assert_true(sniff_is_text("\xEF\xBB\xBFhi", 5));
	assert_false(sniff_is_text("", 0));
	assert_false(sniff_is_text("text\0more", 9));
	assert_false(sniff_is_text(elf, sizeof(elf) - 1));
	assert_false(sniff_is_text("%PDF-1.7 text", 13));
	memset(noisy, 'a', sizeof(noisy));
	noisy[10] = 0x01;
	noisy[20] = 0x02;
	noisy[30] = 0x03;
	assert_false(sniff_is_text(noisy, sizeof(noisy))); /* 1.5% controls */
	assert_int_equal(sniff_name("/d/README"), SNIFF_NAME_UNKNOWN);
	assert_int_equal(sniff_name("/d/notes.RST"), SNIFF_NAME_TEXT);
	assert_int_equal(sniff_name("/d/main.c"), SNIFF_NAME_TEXT);
	assert_int_equal(sniff_name("/d/changes.org.gz"), SNIFF_NAME_TEXT);
	assert_int_equal(sniff_name("/d/photo.JPG"), SNIFF_NAME_BINARY);
	assert_int_equal(sniff_name("/d/src.tar.gz"), SNIFF_NAME_BINARY);
	assert_int_equal(sniff_name("/d/NEWS.gz"), SNIFF_NAME_UNKNOWN);
}

/* Unquoted CJK is split into its bigrams (and Latin words), each a term
 * of its own; quoted CJK stays one phrase. */
static void cjk_query_split_into_terms(void **state)
{
	struct qbuf b;

	(void)state;
	qbuf_init(&b, 4096);
	assert_int_equal(corpus_query_to_fts("美国关闭GPS", &b, NULL), 0);
	assert_string_equal(qbuf_cstr(&b), "(\"美国\" OR \"国关\" OR \"关闭\" OR \"GPS\")");
	qbuf_reset(&b);
	assert_int_equal(corpus_query_to_fts("\"选择可用\" 原因？", &b, NULL), 0);
	assert_string_equal(qbuf_cstr(&b), "(\"选择可用\") AND (\"原因\")");
	qbuf_reset(&b);
	assert_int_equal(corpus_query_to_fts("熊", &b, NULL), 0); /* a lone character */
	assert_string_equal(qbuf_cstr(&b), "(\"熊\")");
	qbuf_reset(&b);
	assert_int_equal(corpus_query_to_fts("soup -选择可用", &b, NULL), 0); /* excluded whole */
	assert_string_equal(qbuf_cstr(&b), "(\"soup\") NOT (\"选择可用\")");
	qbuf_release(&b);
}

/* A natural Chinese question finds the passage that answers it, though
 * the passage does not hold the question verbatim. */
static void cjk_question_finds_passage(void **state)
{
	char home[] = "/tmp/quarry-test-index-XXXXXX", dir[64], file[96], cmd[96], *paths[1];
	struct store s;
	struct corpus_counts c;
	struct corpus_hit *hits = NULL;
	int n = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(home));
	snprintf(dir, sizeof(dir), "%s/docs", home);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/gps.md", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("# 选择可用性\n\n二〇〇〇年五月，美国政府关闭了全球定位系统的选择可用性。\n", f);
	fclose(f);
	snprintf(file, sizeof(file), "%s/tea.md", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("# 龙井茶\n\n龙井茶产于杭州西湖一带，清明前采摘的嫩芽称为明前茶。\n", f);
	fclose(f);
	assert_int_equal(store_open(&s, home, NULL), 0);
	paths[0] = dir;
	assert_int_equal(corpus_add(&s, paths, 1, NULL, NULL, &c, NULL), 0);
	assert_int_equal(corpus_search(&s, "美国关闭GPS选择可用性原因", 10, "", "", &hits, &n, NULL), 0);
	assert_true(n >= 1);
	assert_non_null(strstr(hits[0].path, "gps.md"));
	corpus_hits_free(hits, n);
	/* Quoted, the question is one phrase again: no document holds it. */
	assert_int_equal(corpus_search(&s, "\"美国关闭选择可用性\"", 10, "", "", &hits, &n, NULL), 0);
	assert_int_equal(n, 0);
	corpus_hits_free(hits, n);
	store_close(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	assert_int_equal(system(cmd), 0);
}

/* A copy with one line changed, recased and reflowed is a near-duplicate;
 * a text on the same subject, a short text, or an empty one is not. */
static void near_duplicates(void **state)
{
	static const char para[] =
		"Selective Availability was a deliberate degradation of the civilian GPS signal by the "
		"United States Department of Defense. The satellites added a slowly varying error to "
		"their clock and orbit data, so that a receiver without the military keys could locate "
		"itself only to within about 100 metres. On 1 May 2000 President Clinton announced "
		"that the United States would stop the intentional degradation of GPS signals, and in "
		"the early hours of 2 May the error vanished: receivers became ten times more accurate.\n";
	struct qbuf a, b, c;
	struct neardup_sig sa, sb, sc, sshort, sempty;
	int i;

	(void)state;
	qbuf_init(&a, 1 << 16);
	qbuf_init(&b, 1 << 16);
	qbuf_init(&c, 1 << 16);
	for (i = 0; i < 4; i++) {
		qbuf_adds(&a, "# gps-notes\n");
		qbuf_adds(&a, para);
		qbuf_adds(&b, i == 2 ? "# GPS-NOTES-EXTRA, the other package\n" : "# gps-notes\n");
		qbuf_adds(&b, para);
	}
	qbuf_adds(&c, "Differential GPS corrects the signal with a reference station at a known "
		      "position, which broadcasts the difference between the measured and the true "
		      "range. Before Selective Availability was switched off in May 2000 this was the "
		      "main way for civilian users to get metre-level accuracy from GPS receivers.");
	neardup_sign(a.data, a.len, &sa);
	neardup_sign(b.data, b.len, &sb);
	neardup_sign(c.data, c.len, &sc);
	neardup_sign("Selective Availability was switched off.", 40, &sshort);
	neardup_sign("", 0, &sempty);
	assert_true(neardup_same(&sa, &sb));
	assert_true(neardup_similarity(&sa, &sa) == 1.0);
	assert_false(neardup_same(&sa, &sc));
	assert_true(neardup_similarity(&sa, &sc) < 0.3);
	assert_false(neardup_same(&sshort, &sshort)); /* too short to judge */
	assert_false(neardup_same(&sempty, &sempty));
	qbuf_release(&a);
	qbuf_release(&b);
	qbuf_release(&c);
}

/* A CJK match is highlighted whole: quoted or not, and the last
 * character of its last bigram too (FTS5 alone gave "[选择可用]性" and
 * "[选][择][可][用]性"); Latin words keep their own highlights. */
static void cjk_snippet_highlights_whole_match(void **state)
{
	static const char *const queries[] = {"\"选择可用性\"", "选择可用性"};
	char home[] = "/tmp/quarry-test-index-XXXXXX", dir[64], file[96], cmd[96], *paths[1];
	struct store s;
	struct corpus_counts c;
	struct corpus_hit *hits = NULL;
	int n = 0;
	size_t q;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(home));
	snprintf(dir, sizeof(dir), "%s/docs", home);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/gps.md", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("# 背景\n\n美国政府关闭了GPS的选择可用性，民用精度随之提高。\n", f);
	fclose(f);
	assert_int_equal(store_open(&s, home, NULL), 0);
	paths[0] = dir;
	assert_int_equal(corpus_add(&s, paths, 1, NULL, NULL, &c, NULL), 0);
	for (q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
		assert_int_equal(corpus_search(&s, queries[q], 10, "[", "]", &hits, &n, NULL), 0);
		assert_int_equal(n, 1);
		if (!strstr(hits[0].snippet, "[选择可用性]，"))
			fail_msg("query %s: snippet %s", queries[q], hits[0].snippet);
		corpus_hits_free(hits, n);
	}
	/* a lone character, and a character the query does not pair with */
	assert_int_equal(corpus_search(&s, "GPS 用", 10, "[", "]", &hits, &n, NULL), 0);
	assert_int_equal(n, 1);
	if (!strstr(hits[0].snippet, "[GPS]的选择可[用]性"))
		fail_msg("snippet %s", hits[0].snippet);
	corpus_hits_free(hits, n);
	store_close(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	assert_int_equal(system(cmd), 0);
}

/* Documents corpus_list collects: paths joined by ' ', passages summed. */
struct listing {
	char paths[512];
	long long ids[8];
	long passages, chars;
	int n;
};

static void collect_doc(void *ctx, const struct corpus_doc *d)
{
	struct listing *l = ctx;
	const char *base = strrchr(d->path, '/');
	size_t len = strlen(l->paths);

	snprintf(l->paths + len, sizeof(l->paths) - len, "%s%s", len ? " " : "", base ? base + 1 : d->path);
	if (l->n < 8)
		l->ids[l->n] = d->id;
	l->n++;
	l->passages += d->passages;
	l->chars += (long)d->chars;
	assert_non_null(d->kind);
	assert_true(d->size > 0 && d->indexed_at > 0);
}

static void count_problem(void *ctx, const char *problem)
{
	(void)problem;
	(*(int *)ctx)++;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char file[128];
	FILE *f;

	snprintf(file, sizeof(file), "%s/%s", dir, name);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The queries the CLI and the server use: list, look up, count, check. */
static void corpus_listing_and_checks(void **state)
{
	char home[] = "/tmp/quarry-test-index-XXXXXX", dir[64], cmd[96], *paths[1], *path = NULL;
	struct store s;
	struct corpus_counts c;
	struct corpus_totals t;
	struct listing l;
	struct q_error err = {0};
	int problems = 0;

	(void)state;
	assert_non_null(mkdtemp(home));
	snprintf(dir, sizeof(dir), "%s/docs", home);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(dir, "b.md", "# Bees\n\nBees make honey.\n\n## Hives\n\nA hive holds a colony.\n");
	write_file(dir, "a.md", "# Ants\n\nAnts build nests.\n");
	write_file(dir, "c.txt", "Cats sleep a lot.\n");
	assert_int_equal(store_open(&s, home, NULL), 0);
	paths[0] = dir;
	assert_int_equal(corpus_add(&s, paths, 1, NULL, NULL, &c, NULL), 0);
	assert_int_equal(c.added, 3);

	memset(&l, 0, sizeof(l));
	assert_int_equal(corpus_list(&s, CORPUS_LIST_BY_PATH | CORPUS_LIST_PASSAGES, 0, collect_doc, &l, &err),
			 3);
	assert_string_equal(l.paths, "a.md b.md c.txt");
	assert_true(l.passages >= 3);
	/* Newest first, capped; without the count passages are -1 each. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(corpus_list(&s, CORPUS_LIST_NEWEST, 2, collect_doc, &l, &err), 2);
	assert_int_equal(l.passages, -2);
	assert_true(l.ids[0] > l.ids[1]);

	assert_int_equal(corpus_document_path(&s, l.ids[0], &path, &err), 0);
	assert_non_null(strstr(path, "/docs/"));
	q_free(path);
	assert_int_equal(corpus_document_path(&s, 999999, &path, &err), Q_ENOTFOUND);
	assert_null(path);

	assert_int_equal(corpus_totals(&s, &t, &err), 0);
	assert_int_equal(t.documents, 3);
	memset(&l, 0, sizeof(l));
	corpus_list(&s, CORPUS_LIST_BY_PATH | CORPUS_LIST_PASSAGES, 0, collect_doc, &l, &err);
	assert_int_equal(t.passages, l.passages);
	assert_int_equal(t.text_chars, l.chars);

	assert_true(store_fts_bytes(&s) > 0);
	assert_int_equal(store_integrity_check(&s, count_problem, &problems), 1);
	assert_int_equal(problems, 0);
	assert_int_equal(store_quick_check(&s, &err), 1);
	assert_int_equal(store_fts_check(&s, &err), 0);
	assert_int_equal(store_rebuild_fts(&s, &err), 0);
	assert_int_equal(store_fts_check(&s, &err), 0);
	/* An index that lost its entries no longer matches the passages. */
	assert_int_equal(sqlite3_exec(s.db, "DELETE FROM passages_fts_data WHERE id > 10", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_true(store_fts_check(&s, &err) < 0);
	assert_true(err.msg[0] != 0);
	store_close(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_file_refuses_fifo_and_links),
		cmocka_unit_test(sniff_text_and_binary),
		cmocka_unit_test(words_fold_and_stem),
		cmocka_unit_test(cjk_bigrams),
		cmocka_unit_test(hostile_input),
		cmocka_unit_test(fts5_search),
		cmocka_unit_test(split_on_headings_and_size),
		cmocka_unit_test(split_long_paragraph_and_cjk),
		cmocka_unit_test(query_translation),
		cmocka_unit_test(qrank_orders_small_corpus),
		cmocka_unit_test(cjk_query_split_into_terms),
		cmocka_unit_test(cjk_question_finds_passage),
		cmocka_unit_test(near_duplicates),
		cmocka_unit_test(cjk_snippet_highlights_whole_match),
		cmocka_unit_test(corpus_listing_and_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
