/*
 * pool.h - one thread pool for the whole process.
 *
 * Parallel work in quarry comes in batches: search every query on every
 * provider, call the model on many prompts, extract the pages a fetch
 * batch brings in. A batch is a set of tasks that its owner waits for as
 * a whole. The pool's threads are started once (pool_create, or the
 * process pool on first use of pool_shared) and take tasks from every
 * open batch in turn, so several runs in one process share the threads
 * fairly and no batch pays for starting or joining threads.
 *
 * A batch limits how many of its tasks run at once (max_parallel), and
 * its owner helps: pool_batch_wait runs the batch's tasks no thread has
 * taken yet on the waiting thread. So a batch always finishes, even when
 * every pool thread is busy or a task itself waits for a batch.
 *
 * The queue is bounded (POOL_MAX_QUEUED tasks across all batches): a
 * task submitted to a full queue, or when the pool could not start or
 * allocate, runs at once on the submitting thread.
 *
 * Thread safety: every function may be called from any thread, on any
 * batch, at once; a batch's own functions by its owner only
 * (pool_batch_init, pool_submit, pool_batch_wait).
 */
#ifndef Q_POOL_H
#define Q_POOL_H

#include <stddef.h>

/* Threads of the process pool. Tasks are mostly network waits (model
 * calls, searches), so more threads than cores: 64, the most threads one
 * model batch started before the pool (idle threads cost a stack's
 * address space, not memory); a batch's owner works on top. */
#define POOL_SHARED_THREADS 64
#define POOL_MAX_THREADS 256
/* Tasks waiting across all batches; past it a submit runs the task itself. */
#define POOL_MAX_QUEUED 4096

struct pool;
struct pool_task;

/* A task: fn(ctx, index), as given to pool_submit. */
typedef void (*pool_fn)(void *ctx, size_t index);

/* One batch of tasks. Lives with its owner (often on the stack) from
 * pool_batch_init until pool_batch_wait returns; fields are private. */
struct pool_batch {
	struct pool *pool;      /* NULL: every task runs at once on the submitter */
	size_t max_parallel;    /* tasks of this batch running at once, >= 1 */
	size_t pending;         /* submitted, not finished */
	size_t running;         /* taken, not finished */
	struct pool_task *head; /* not taken yet, in submission order */
	struct pool_task *tail;
	struct pool_batch *next; /* on the pool's ready list */
	int ready;               /* on the ready list now */
};

/* Start a pool of n_threads threads (1..POOL_MAX_THREADS). *out is owned
 * by the caller (pool_destroy). Returns 0, Q_EINVAL or Q_ENOMEM (threads
 * that could not start make it fail). */
int pool_create(size_t n_threads, struct pool **out);

/* Stop and join the threads and free the pool. Every batch must have
 * been waited for. NULL is fine. */
void pool_destroy(struct pool *p);

/* The process pool of POOL_SHARED_THREADS threads, started on the first
 * call and kept until the process ends. NULL when it could not start
 * (batches on NULL run their tasks on the submitter). Thread-safe. */
struct pool *pool_shared(void);

/* Threads of p (0 for NULL). */
size_t pool_threads(const struct pool *p);

/* Open batch b on pool p (may be NULL) with at most max_parallel of its
 * tasks running at once (0 means 1). */
void pool_batch_init(struct pool_batch *b, struct pool *p, size_t max_parallel);

/* Queue fn(ctx, index) on b. Never fails: when the task cannot be queued
 * (no pool, queue full, out of memory) it runs here before returning.
 * fn must not exit the thread; it may open and wait for batches of its own. */
void pool_submit(struct pool_batch *b, pool_fn fn, void *ctx, size_t index);

/* Run b's tasks no thread has taken yet here, then wait until every task
 * of b has finished. b may then be opened again or dropped. */
void pool_batch_wait(struct pool_batch *b);

/* Run fn(ctx, 0..n) on p with at most max_parallel at once, the calling
 * thread one of them; returns when all are done. One task, or one at a
 * time, runs on the caller alone. */
void pool_run(struct pool *p, size_t n, size_t max_parallel, pool_fn fn, void *ctx);

#endif
