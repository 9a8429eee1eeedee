/*
 * pool.c - the process's worker threads (see pool.h).
 *
 * One mutex guards the pool: the list of batches that have a task a
 * thread may take now (the ready list), the count of queued tasks, and
 * every batch's counters. A thread takes the first task of the first
 * ready batch and moves that batch to the end of the list, so batches
 * (and the runs that own them) take turns instead of the oldest batch
 * starving the rest. A batch leaves the list when it has no task left
 * or already runs max_parallel of them.
 *
 * Tasks are small heap nodes handed over with the lock held; the task
 * function runs unlocked. When a task ends the worker broadcasts one
 * condition that every waiting owner shares: owners recheck their own
 * batch, so a spurious wake costs a lock and a compare. A per-batch
 * condition would save those wakes but would need an init that can fail
 * in pool_batch_init; with a few batches open at once it is not worth it.
 *
 * The owner helps in pool_batch_wait (the caller-runs rule, as in
 * curl's thrdpool and Go's errgroup-style loops): that makes a batch
 * finish even when all threads are busy with other runs' batches, or
 * blocked in a task that waits for a nested batch, and it keeps a batch
 * of one task on its owner's thread, with no hand-over at all.
 *
 * Alternatives rejected: a thread per task or per batch (what quarry did
 * before: 450-930 us for a batch of 8 on the loaded 2-core test machine
 * against 18-20 us here, bench/pool_bench.c, paid on every batch, and no
 * bound on threads when many runs share a process), and
 * work-stealing deques (tasks here last milliseconds to minutes; one
 * lock is never the bottleneck).
 */
#include "pool.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

struct pool_task {
	pool_fn fn;
	void *ctx;
	size_t index;
	struct pool_task *next;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work;           /* a batch became ready, or stopping */
	pthread_cond_t done;           /* some task finished */
	struct pool_batch *ready_head; /* batches with a task a thread may take */
	struct pool_batch *ready_tail;
	size_t queued; /* tasks not taken yet, all batches */
	int stopping;
	size_t n_threads;
	pthread_t *threads;
};

/* ---- the ready list (lock held) ---- */

static int batch_can_start(const struct pool_batch *b) { return b->head && b->running < b->max_parallel; }

static void ready_push(struct pool *p, struct pool_batch *b)
{
	assert(!b->ready); /* on the list at most once */
	b->next = NULL;
	b->ready = 1;
	if (p->ready_tail)
		p->ready_tail->next = b;
	else
		p->ready_head = b;
	p->ready_tail = b;
}

static void ready_remove(struct pool *p, struct pool_batch *b)
{
	struct pool_batch **pp = &p->ready_head, *prev = NULL;

	while (*pp && *pp != b) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = b->next;
	if (p->ready_tail == b)
		p->ready_tail = prev;
	b->next = NULL;
	b->ready = 0;
}

/* Take b's first task and mark it running; b goes to the back of the
 * list if it can still start another, else off it. */
static struct pool_task *take_task(struct pool *p, struct pool_batch *b)
{
	struct pool_task *t = b->head;

	assert(t && p->queued > 0 && b->running < b->max_parallel); /* batch_can_start(b) held */
	b->head = t->next;
	if (!b->head)
		b->tail = NULL;
	b->running++;
	p->queued--;
	if (b->ready)
		ready_remove(p, b);
	if (batch_can_start(b))
		ready_push(p, b);
	return t;
}

/* Bookkeeping after a task of b ended (lock held). */
static void task_finished(struct pool *p, struct pool_batch *b)
{
	assert(b->running > 0 && b->pending >= b->running); /* a running task is still pending */
	b->running--;
	b->pending--;
	if (!b->ready && batch_can_start(b)) {
		ready_push(p, b);
		pthread_cond_signal(&p->work);
	}
	pthread_cond_broadcast(&p->done);
}

/* Run one task unlocked; relocks before returning. */
static void run_task(struct pool *p, struct pool_batch *b, struct pool_task *t)
{
	pthread_mutex_unlock(&p->mu);
	t->fn(t->ctx, t->index);
	q_free(t);
	pthread_mutex_lock(&p->mu);
	task_finished(p, b);
}

static void *worker_main(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct pool_batch *b;

		while (!p->stopping && !p->ready_head)
			pthread_cond_wait(&p->work, &p->mu);
		if (!p->ready_head)
			break; /* stopping, nothing left */
		b = p->ready_head;
		run_task(p, b, take_task(p, b));
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- the pool ---- */

int pool_create(size_t n_threads, struct pool **out)
{
	struct pool *p;
	size_t i;

	*out = NULL;
	if (n_threads < 1 || n_threads > POOL_MAX_THREADS)
		return Q_EINVAL;
	p = q_calloc(1, sizeof(*p));
	if (!p)
		return Q_ENOMEM;
	p->threads = q_calloc(n_threads, sizeof(*p->threads));
	if (!p->threads)
		goto fail_alloc;
	if (pthread_mutex_init(&p->mu, NULL))
		goto fail_alloc;
	if (pthread_cond_init(&p->work, NULL))
		goto fail_mu;
	if (pthread_cond_init(&p->done, NULL))
		goto fail_work;
	for (i = 0; i < n_threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p))
			break;
		p->n_threads++;
	}
	if (p->n_threads < n_threads) {
		pool_destroy(p);
		return Q_ENOMEM;
	}
	*out = p;
	return 0;
fail_work:
	pthread_cond_destroy(&p->work);
fail_mu:
	pthread_mutex_destroy(&p->mu);
fail_alloc:
	q_free(p->threads);
	q_free(p);
	return Q_ENOMEM;
}

void pool_destroy(struct pool *p)
{
	size_t i;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	q_free(p->threads);
	q_free(p);
}

static struct pool *shared_pool;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void start_shared(void)
{
	if (pool_create(POOL_SHARED_THREADS, &shared_pool))
		shared_pool = NULL;
}

struct pool *pool_shared(void)
{
	pthread_once(&shared_once, start_shared);
	return shared_pool;
}

size_t pool_threads(const struct pool *p) { return p ? p->n_threads : 0; }

/* ---- batches ---- */

void pool_batch_init(struct pool_batch *b, struct pool *p, size_t max_parallel)
{
	memset(b, 0, sizeof(*b));
	b->pool = p;
	b->max_parallel = max_parallel ? max_parallel : 1;
}

void pool_submit(struct pool_batch *b, pool_fn fn, void *ctx, size_t index)
{
	struct pool *p = b->pool;
	struct pool_task *t = p ? q_malloc(sizeof(*t)) : NULL;

	if (t) {
		pthread_mutex_lock(&p->mu);
		if (p->queued >= POOL_MAX_QUEUED) {
			pthread_mutex_unlock(&p->mu);
			q_free(t);
			t = NULL;
		}
	}
	if (!t) {
		fn(ctx, index); /* no pool, no memory or a full queue: the caller runs it */
		return;
	}
	t->fn = fn;
	t->ctx = ctx;
	t->index = index;
	t->next = NULL;
	if (b->tail)
		b->tail->next = t;
	else
		b->head = t;
	b->tail = t;
	b->pending++;
	p->queued++;
	if (!b->ready && batch_can_start(b)) {
		ready_push(p, b);
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->mu);
}

void pool_batch_wait(struct pool_batch *b)
{
	struct pool *p = b->pool;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	while (b->pending > 0) {
		if (batch_can_start(b))
			run_task(p, b, take_task(p, b));
		else
			pthread_cond_wait(&p->done, &p->mu);
	}
	if (b->ready)
		ready_remove(p, b);
	assert(!b->head && b->running == 0 && !b->ready); /* nothing of b is left in the pool */
	pthread_mutex_unlock(&p->mu);
}

void pool_run(struct pool *p, size_t n, size_t max_parallel, pool_fn fn, void *ctx)
{
	struct pool_batch b;
	size_t i;

	if (n <= 1 || max_parallel <= 1) { /* one at a time: the caller is enough */
		for (i = 0; i < n; i++)
			fn(ctx, i);
		return;
	}
	pool_batch_init(&b, p, max_parallel);
	for (i = 0; i < n; i++)
		pool_submit(&b, fn, ctx, i);
	pool_batch_wait(&b);
}
