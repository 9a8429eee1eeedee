/*
 * pool_bench.c - what starting a batch costs: a thread per task started
 * and joined for every batch (how llm_chat_many and search_many ran
 * before core/pool.c) against the process pool (pool_run).
 *
 * Each batch runs W empty tasks with W-way parallelism, the calling
 * thread one of them, as both callers did; the figure is the wall time
 * per batch, so it is the pure overhead a batch adds before any search
 * or model call starts.
 *
 * Build and run (no Makefile rule: it needs only libquarry.a):
 *   make && cc -O2 -D_GNU_SOURCE -o build/pool_bench bench/pool_bench.c \
 *      build/libquarry.a $(pkg-config --libs libcurl libxml-2.0 jansson zlib sqlite3) \
 *      -lstemmer -lm -lpthread && build/pool_bench
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "../src/core/pool.h"

#define BATCHES 2000

static volatile long sink;

static void empty_task(void *ctx, size_t i)
{
	(void)ctx;
	__atomic_add_fetch(&sink, (long)i, __ATOMIC_RELAXED);
}

static void *thread_task(void *arg)
{
	empty_task(NULL, (size_t)arg);
	return NULL;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The old way: W-1 threads started and joined, the caller the W-th. */
static double per_batch_threads(size_t w)
{
	pthread_t th[64];
	double t0 = now_us();
	size_t b, k;

	for (b = 0; b < BATCHES; b++) {
		size_t started = 0;
		for (k = 1; k < w; k++)
			if (pthread_create(&th[started], NULL, thread_task, (void *)k) == 0)
				started++;
		empty_task(NULL, 0);
		for (k = 0; k < started; k++)
			pthread_join(th[k], NULL);
	}
	return (now_us() - t0) / BATCHES;
}

static double per_batch_pool(size_t w)
{
	struct pool *p = pool_shared();
	double t0 = now_us();
	size_t b;

	for (b = 0; b < BATCHES; b++)
		pool_run(p, w, w, empty_task, NULL);
	return (now_us() - t0) / BATCHES;
}

int main(void)
{
	static const size_t widths[] = {1, 2, 8, 16};
	size_t i;

	pool_shared(); /* started once, as in quarry; not counted */
	printf("%-6s %18s %14s\n", "tasks", "thread/batch us", "pool us");
	for (i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
		printf("%-6zu %18.1f %14.1f\n", widths[i], per_batch_threads(widths[i]),
		       per_batch_pool(widths[i]));
	return 0;
}
