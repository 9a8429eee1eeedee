/* Unit tests: the search tokenizer on its own and inside SQLite FTS5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <string.h>

#include "../../src/core/qbuf.h"
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

static void check_tokens(struct tokenizer *t, const char *text, enum tokenize_mode mode,
			 const char *want)
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
	check_tokens(t, "Running RUNS, the runner's café!", TOKENIZE_DOCUMENT,
		     "run run the runner s cafe");
	check_tokens(t, "Straße ÉCOLE naïve Ｆｕｌｌ１２", TOKENIZE_DOCUMENT,
		     "strass ecol naiv full12");
	check_tokens(t, "ΑΘΗΝΑ Москва", TOKENIZE_DOCUMENT, "αθηνα москва");
	check_tokens(t, "e\xcc\x81te", TOKENIZE_DOCUMENT, "ete");   /* decomposed é */
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
	assert_true(b.len <= TOKEN_MAX_BYTES);   /* one token, cut */
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
	assert_int_equal(sqlite3_exec(db,
		"CREATE VIRTUAL TABLE t USING fts5(body, tokenize='quarry');"
		"INSERT INTO t VALUES ('The runners were running past the Café de Flore.');"
		"INSERT INTO t VALUES ('美国政府关闭了选择可用性，民用精度大幅提高。');"
		"INSERT INTO t VALUES ('选择与可用性是两个不同的问题。');"
		"INSERT INTO t VALUES ('Selective availability was switched off in 2000.');",
		NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(count_matches(db, "run"), 1);
	assert_int_equal(count_matches(db, "RUNNING"), 1);
	assert_int_equal(count_matches(db, "cafe"), 1);
	assert_int_equal(count_matches(db, "café"), 1);
	assert_int_equal(count_matches(db, "\"switched off\""), 1);
	assert_int_equal(count_matches(db, "availability NOT 2000"), 0);
	assert_int_equal(count_matches(db, "选择可用性"), 1);   /* phrase of bigrams */
	assert_int_equal(count_matches(db, "可用性"), 2);
	assert_int_equal(count_matches(db, "精度"), 1);         /* two characters */
	assert_int_equal(count_matches(db, "选"), 2);           /* one character */
	assert_int_equal(count_matches(db, "选择 精度"), 1);     /* AND */
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(words_fold_and_stem),
		cmocka_unit_test(cjk_bigrams),
		cmocka_unit_test(hostile_input),
		cmocka_unit_test(fts5_search),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
