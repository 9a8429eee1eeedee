/* Unit tests: capped buffers, UTF-8 helpers, allocation fault injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "../../src/core/alloc.h"
#include "../../src/core/ctl.h"
#include "../../src/core/err.h"
#include "../../src/core/pool.h"
#include "../../src/core/procmem.h"
#include "../../src/core/qbuf.h"
#include "../../src/core/random.h"
#include "../../src/core/utf8.h"

/* The first value a forked child draws (after the parent drew). */
static uint64_t random_in_child(void)
{
	int fds[2];
	uint64_t v = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		v = q_random_u64();
		_exit(write(fds[1], &v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &v, sizeof(v)), (ssize_t)sizeof(v));
	close(fds[0]);
	waitpid(pid, NULL, 0);
	return v;
}

/* Jitter differs between processes (rand() unseeded gave every process the
 * same sequence, and a forked child would repeat its parent's), and the
 * unit interval is [0, 1). */
static void random_differs_per_process(void **state)
{
	uint64_t parent_next, a, b;
	int i;

	(void)state;
	(void)q_random_u64();
	a = random_in_child();
	b = random_in_child();
	parent_next = q_random_u64();
	assert_true(a != b);
	assert_true(a != parent_next && b != parent_next);
	for (i = 0; i < 10000; i++) {
		double u = q_random_unit();
		assert_true(u >= 0.0 && u < 1.0);
	}
}

static void qbuf_appends_and_caps(void **state)
{
	struct qbuf b;

	(void)state;
	qbuf_init(&b, 10);
	assert_string_equal(qbuf_cstr(&b), "");
	assert_int_equal(qbuf_adds(&b, "hello"), 0);
	assert_int_equal(qbuf_addf(&b, "%d", 1234), 0);
	assert_string_equal(qbuf_cstr(&b), "hello1234");
	assert_int_equal(qbuf_adds(&b, "xy"), Q_ETOOBIG);
	/* Sticky: later appends are no-ops and keep the error. */
	assert_int_equal(qbuf_addc(&b, 'z'), Q_ETOOBIG);
	assert_string_equal(qbuf_cstr(&b), "hello1234");
	assert_null(qbuf_detach(&b, NULL));
	qbuf_reset(&b);
	assert_int_equal(b.err, 0);
	qbuf_adds(&b, "ab  \n");
	qbuf_rtrim(&b, " \n");
	assert_string_equal(qbuf_cstr(&b), "ab");
	qbuf_release(&b);
}

static void qbuf_detach_hands_over(void **state)
{
	struct qbuf b;
	size_t len = 0;
	char *s;

	(void)state;
	qbuf_init(&b, 100);
	s = qbuf_detach(&b, &len); /* empty buffer still yields "" */
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	q_free(s);
	qbuf_adds(&b, "abc");
	s = qbuf_detach(&b, &len);
	assert_string_equal(s, "abc");
	assert_int_equal(len, 3);
	assert_null(b.data);
	q_free(s);
}

static void qbuf_survives_failed_allocation(void **state)
{
	struct qbuf b;

	(void)state;
	qbuf_init(&b, 1 << 20);
	q_alloc_fail_after(0);
	assert_int_equal(qbuf_adds(&b, "x"), Q_ENOMEM);
	q_alloc_fail_after(-1);
	assert_int_equal(qbuf_adds(&b, "x"), Q_ENOMEM); /* sticky */
	qbuf_release(&b);
}

static void utf8_decodes_and_rejects(void **state)
{
	uint32_t cp;

	(void)state;
	assert_int_equal(utf8_decode((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(utf8_decode((const unsigned char *)"\xe4\xb8\xad", 3, &cp), 3);
	assert_int_equal(cp, 0x4E2D);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1F600);
	/* overlong, surrogate, truncated, stray continuation */
	utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	assert_int_equal(utf8_decode((const unsigned char *)"\xe4\xb8", 2, &cp), 1);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	utf8_decode((const unsigned char *)"\x80", 1, &cp);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	assert_true(utf8_valid("héllo 中文", strlen("héllo 中文")));
	assert_false(utf8_valid("bad \xff", 5));
}

static void utf8_sanitize_replaces_bad_bytes(void **state)
{
	struct qbuf b;

	(void)state;
	qbuf_init(&b, 1000);
	utf8_sanitize_append(&b, "a\xffz\0q\xe4\xb8\xad", 8);
	assert_string_equal(qbuf_cstr(&b), "a\xef\xbf\xbdzq\xe4\xb8\xad");
	qbuf_release(&b);
}

static void utf8_classes(void **state)
{
	(void)state;
	assert_true(utf8_is_cjk(0x4E2D));
	assert_true(utf8_is_cjk(0x3042)); /* hiragana */
	assert_true(utf8_is_cjk(0xAC00)); /* hangul */
	assert_false(utf8_is_cjk('a'));
	assert_true(utf8_is_space(0x3000));
	assert_true(utf8_is_space(0xA0));
	assert_true(utf8_is_comma(0xFF0C));
	assert_true(utf8_is_sentence_end(0x3002));
	assert_false(utf8_is_sentence_end(','));
}

static void alloc_refuses_overflow(void **state)
{
	(void)state;
	assert_null(q_calloc(SIZE_MAX / 2, 4));
	assert_null(q_reallocarray(NULL, SIZE_MAX / 2, 4));
	q_alloc_fail_after(1);
	void *a = q_malloc(8);
	assert_non_null(a);
	assert_null(q_malloc(8));
	q_alloc_fail_after(-1);
	q_free(a);
}

static void error_messages(void **state)
{
	struct q_error e;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(q_error_set(&e, Q_ETIMEOUT, "after %d s", 5), Q_ETIMEOUT);
	assert_string_equal(e.msg, "after 5 s");
	assert_string_equal(q_strerror(Q_ETIMEOUT), "timed out");
	assert_int_equal(q_error_set(NULL, Q_EIO, "x"), Q_EIO);
}

/* Strip a copy of in; compare with want. */
static void strips_to(const char *in, const char *want)
{
	char buf[256];
	size_t n = strlen(in);

	memcpy(buf, in, n + 1);
	assert_int_equal(ctl_strip(buf, n), strlen(want));
	assert_string_equal(buf, want);
}

static void ctl_strip_drops_whole_sequences(void **state)
{
	(void)state;
	strips_to("a\033]0;PWNED\007b", "ab");
	strips_to("a\033[2J\033[31mb", "ab");
	strips_to("a\xc2\x9b"
		  "31mb",
		  "ab");                       /* 8-bit CSI with parameters */
	strips_to("a\xc2\x9bhello", "ahello"); /* stray U+009B eats nothing */
	strips_to("a\xc2\x9b"
		  "2026 was",
		  "a2026 was");
	strips_to("x\xc2\x9b"
		  "12",
		  "x12"); /* unfinished at the end */
	strips_to("\033]8;;http://x\033\\link\033]8;;\033\\", "link");
	strips_to("del\x7f c1\xc2\x85 bel\007 tab\t nl\n", "del c1 bel tab\t nl\n");
	strips_to("\033Pdcs\xc2\x9c"
		  "after",
		  "after");
	strips_to("caf\xc3\xa9 \xe4\xb8\xad", "caf\xc3\xa9 \xe4\xb8\xad");
	strips_to("bad\xff byte", "bad byte");
	strips_to("j\xc2\007\x93oin", "join"); /* no U+0093 made of the pieces */
	assert_int_equal(ctl_strip(NULL, 0), 0);
}

/* ---- the thread pool ---- */

struct count_ctx {
	int hits[512];            /* per index, bumped by its task */
	int running, max_running; /* of this batch at once */
	long sleep_us;
};

static void count_task(void *vctx, size_t i)
{
	struct count_ctx *c = vctx;
	int now = __atomic_add_fetch(&c->running, 1, __ATOMIC_SEQ_CST);
	int seen = __atomic_load_n(&c->max_running, __ATOMIC_SEQ_CST);

	while (now > seen && !__atomic_compare_exchange_n(&c->max_running, &seen, now, 0, __ATOMIC_SEQ_CST,
							  __ATOMIC_SEQ_CST))
		;
	if (c->sleep_us)
		usleep((useconds_t)c->sleep_us);
	__atomic_add_fetch(&c->hits[i], 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&c->running, 1, __ATOMIC_SEQ_CST);
}

static int threads_of_process(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Every task of every batch runs exactly once, at most max_parallel at
 * once but really in parallel, and batches start no thread. */
static void pool_runs_each_task_once(void **state)
{
	struct pool *p = NULL;
	struct count_ctx *c = calloc(1, sizeof(*c));
	int batch, threads_before, i;

	(void)state;
	assert_int_equal(pool_create(4, &p), 0);
	assert_int_equal(pool_threads(p), 4);
	threads_before = threads_of_process();
	for (batch = 0; batch < 200; batch++)
		pool_run(p, 37, 8, count_task, c);
	assert_int_equal(threads_of_process(), threads_before);
	for (i = 0; i < 37; i++)
		assert_int_equal(c->hits[i], 200);
	assert_int_equal(c->hits[37], 0);
	memset(c, 0, sizeof(*c));
	c->sleep_us = 20000;
	pool_run(p, 12, 3, count_task, c);
	assert_true(c->max_running <= 3);
	assert_true(c->max_running >= 2);
	for (i = 0; i < 12; i++)
		assert_int_equal(c->hits[i], 1);
	pool_destroy(p);
	free(c);
}

struct runner_arg {
	struct pool *p;
	struct count_ctx c;
	int batches;
};

static void *runner(void *varg)
{
	struct runner_arg *a = varg;
	int k;

	for (k = 0; k < a->batches; k++)
		pool_run(a->p, 1 + (size_t)(k % 50), 1 + (size_t)(k % 5), count_task, &a->c);
	return NULL;
}

/* Eight threads (runs) with batches on one pool at once: each gets all its
 * own tasks run, none of another's. */
static void pool_shared_by_many_threads(void **state)
{
	struct pool *p = NULL;
	struct runner_arg *args = calloc(8, sizeof(*args));
	pthread_t th[8];
	int t, i, k;

	(void)state;
	assert_int_equal(pool_create(3, &p), 0);
	for (t = 0; t < 8; t++) {
		args[t].p = p;
		args[t].batches = 100;
		assert_int_equal(pthread_create(&th[t], NULL, runner, &args[t]), 0);
	}
	for (t = 0; t < 8; t++)
		pthread_join(th[t], NULL);
	for (t = 0; t < 8; t++)
		for (i = 0; i < 50; i++) {
			int want = 0;
			for (k = 0; k < 100; k++)
				want += i < 1 + k % 50;
			assert_int_equal(args[t].c.hits[i], want);
		}
	pool_destroy(p);
	free(args);
}

struct nest_ctx {
	struct pool *p;
	struct count_ctx inner;
};

static void nest_task(void *vctx, size_t i)
{
	struct nest_ctx *n = vctx;

	(void)i;
	pool_run(n->p, 5, 2, count_task, &n->inner);
}

/* A task that waits for a batch of its own, on a pool whose only thread
 * it occupies, still finishes (its owner runs the inner tasks). */
static void pool_nested_batch_finishes(void **state)
{
	struct nest_ctx *n = calloc(1, sizeof(*n));
	int i;

	(void)state;
	assert_int_equal(pool_create(1, &n->p), 0);
	pool_run(n->p, 4, 4, nest_task, n);
	for (i = 0; i < 5; i++)
		assert_int_equal(n->inner.hits[i], 4);
	pool_destroy(n->p);
	free(n);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* pool_submit hands the task over and returns at once (the fetch loop
 * relies on it); without a pool the task runs on the submitter. */
static void pool_submit_does_not_block(void **state)
{
	struct pool *p = NULL;
	struct pool_batch b;
	struct count_ctx *c = calloc(1, sizeof(*c));
	double t0;

	(void)state;
	assert_int_equal(pool_create(2, &p), 0);
	c->sleep_us = 200000;
	pool_batch_init(&b, p, 2);
	t0 = now_ms();
	pool_submit(&b, count_task, c, 0);
	pool_submit(&b, count_task, c, 1);
	assert_true(now_ms() - t0 < 100);
	pool_batch_wait(&b);
	assert_true(now_ms() - t0 >= 190);
	assert_int_equal(c->hits[0] + c->hits[1], 2);
	c->sleep_us = 0;
	pool_batch_init(&b, NULL, 4);
	pool_submit(&b, count_task, c, 2);
	assert_int_equal(c->hits[2], 1); /* ran before submit returned */
	pool_batch_wait(&b);
	pool_destroy(p);
	assert_non_null(pool_shared());
	assert_ptr_equal(pool_shared(), pool_shared());
	assert_int_equal(pool_threads(pool_shared()), POOL_SHARED_THREADS);
	free(c);
}

/* VmRSS and VmHWM move with memory the process touches: 64 MiB touched
 * raise both by about that much, and unmapping it lowers VmRSS only. */
static void procmem_follows_memory(void **state)
{
	struct q_procmem a, b, c;
	size_t n = (size_t)64 << 20, i;
	volatile char *p;

	(void)state;
	assert_int_equal(q_procmem_read(&a), 0);
	assert_true(a.rss_kb > 0 && a.hwm_kb >= a.rss_kb);
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true((void *)p != MAP_FAILED); /* not malloc: ASan keeps freed blocks */
	for (i = 0; i < n; i += 4096)
		p[i] = 1;
	assert_int_equal(q_procmem_read(&b), 0);
	assert_true(b.rss_kb - a.rss_kb >= 60 * 1024);
	assert_true(b.hwm_kb - a.hwm_kb >= 60 * 1024 - (a.hwm_kb - a.rss_kb));
	munmap((void *)p, n);
	/* The kernel folds per-thread RSS counts in lazily: look again for up
	 * to a second before calling it wrong. */
	for (i = 0; i < 100; i++) {
		struct timespec ts = {0, 10 * 1000000L};
		assert_int_equal(q_procmem_read(&c), 0);
		if (c.rss_kb < b.rss_kb - 30 * 1024)
			break;
		nanosleep(&ts, NULL);
	}
	assert_true(c.rss_kb < b.rss_kb - 30 * 1024);
	assert_true(c.hwm_kb >= b.hwm_kb - 1024); /* the kernel's counters lag by a few pages */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qbuf_appends_and_caps),
		cmocka_unit_test(qbuf_detach_hands_over),
		cmocka_unit_test(qbuf_survives_failed_allocation),
		cmocka_unit_test(utf8_decodes_and_rejects),
		cmocka_unit_test(utf8_sanitize_replaces_bad_bytes),
		cmocka_unit_test(utf8_classes),
		cmocka_unit_test(ctl_strip_drops_whole_sequences),
		cmocka_unit_test(alloc_refuses_overflow),
		cmocka_unit_test(error_messages),
		cmocka_unit_test(random_differs_per_process),
		cmocka_unit_test(pool_runs_each_task_once),
		cmocka_unit_test(pool_shared_by_many_threads),
		cmocka_unit_test(pool_nested_batch_finishes),
		cmocka_unit_test(pool_submit_does_not_block),
		cmocka_unit_test(procmem_follows_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
