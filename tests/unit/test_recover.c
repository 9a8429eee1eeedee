/*
 * Unit tests: store_recover (src/index/recover.c) on a database whose
 * damage is made on purpose, byte by byte, so the case is the same every
 * run (the black-box cases flip random bytes).
 *
 * The damage: in the interior page at the root of the documents table, one
 * cell's key (the largest rowid of its left child) is raised above the
 * next cell's. A seek for "the next rowid after N" then lands in a child
 * that holds nothing after N and steps on into the next one, whose first
 * rowid is below N. recover.c once took that answer as progress and
 * walked the table for ever; now it must end, and read back each row at
 * most once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/core/err.h"
#include "../../src/index/recover.h"
#include "../../src/index/store.h"

#define N_ROWS 200 /* about four rows to a 4 KiB leaf: ~50 leaves */
#define PAGE 4096

static char home[256];

/* A store with N_ROWS documents whose paths are long, so the table's
 * root is an interior page; returns that page's number. */
static long make_store(void)
{
	struct store s;
	struct q_error err = {0};
	sqlite3_stmt *st;
	char path[1100];
	long root = 0;
	int i;

	assert_int_equal(store_open(&s, home, &err), 0);
	assert_int_equal(sqlite3_exec(s.db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(s.db,
				   "INSERT INTO documents(id, path, kind, size, mtime_ns, hash, chars, indexed_at) "
				   "VALUES (?1, ?2, 'text', 1, 1, 'h', 1, 1)",
				   -1, &st, NULL),
		SQLITE_OK);
	for (i = 1; i <= N_ROWS; i++) {
		snprintf(path, sizeof(path), "/gone/%04d/%0900d.md", i, i);
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_exec(s.db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(s.db, "SELECT rootpage FROM sqlite_master WHERE name = 'documents'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	root = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	store_close(&s);
	return root;
}

/* Raise the key of the root page's second cell above the third's. */
static void damage_root(long root)
{
	char file[512];
	unsigned char page[PAGE];
	int fd, n_cells, c1, c2;

	snprintf(file, sizeof(file), "%s/quarry.db", home);
	fd = open(file, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, page, PAGE, (root - 1) * PAGE), PAGE);
	assert_int_equal(page[0], 0x05); /* an interior table page */
	n_cells = page[3] << 8 | page[4];
	assert_true(n_cells >= 4);
	c1 = page[12 + 2] << 8 | page[12 + 3]; /* second cell's offset */
	c2 = page[12 + 4] << 8 | page[12 + 5]; /* third cell's */
	/* Keys below 128 are one-byte varints after the 4-byte child page. */
	assert_true(page[c1 + 4] < 0x80 && page[c2 + 4] < 0x80);
	assert_true(page[c2 + 4] < 0x7f);
	page[c1 + 4] = 0x7f; /* 127 > the third key */
	assert_int_equal(pwrite(fd, page, PAGE, (root - 1) * PAGE), PAGE);
	close(fd);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "store_recover did not end within 20 s: it walks the table for ever\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
	_exit(1);
}

static void test_seek_back_ends(void **state)
{
	struct store fresh;
	struct store_recovery rec;
	struct q_error err = {0};
	long root;
	int i, docs = -1;

	(void)state;
	root = make_store();
	damage_root(root);
	signal(SIGALRM, on_alarm);
	alarm(20);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(store_recover(home, &fresh, &rec, &err), 0);
	alarm(0);
	for (i = 0; i < RECOVER_N_TABLES; i++)
		if (!strcmp(rec.tables[i].name, "documents"))
			docs = i;
	assert_true(docs >= 0);
	/* Each path read back at most once, and most of them read. */
	assert_true(rec.n_paths <= N_ROWS);
	assert_true(rec.n_paths >= N_ROWS / 2);
	assert_true(rec.tables[docs].unreadable >= 1);
	store_recovery_release(&rec);
	store_close(&fresh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seek_back_ends),
	};
	char cmd[300];
	int rc;

	snprintf(home, sizeof(home), "/tmp/quarry-test-recover-XXXXXX");
	if (!mkdtemp(home))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
