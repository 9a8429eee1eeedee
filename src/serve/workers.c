/*
 * workers.c - start and stop the `quarry worker` processes of a server.
 *
 * Each is this same binary (/proc/self/exe) run as `quarry worker --home
 * HOME -j N`, so it carries runs with the same code as a foreground
 * research. A worker that dies takes only its run with it, and its lapsed
 * lease puts the run back in the queue for the next one. Extra workers
 * (one the user started, another server's) are harmless: claims are
 * atomic, so they share the queue.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../research/runstore.h"
#include "workers.h"

#define WORKERS_STOP_WAIT_MS 10000   /* after SIGTERM, before SIGKILL */
#define WORKERS_BACKOFF_MIN_MS 1000  /* first wait before a dead worker is replaced */
#define WORKERS_BACKOFF_MAX_MS 60000 /* doubled per quick death, up to this */
#define WORKERS_STABLE_MS 60000      /* a worker that lived this long resets the wait */

struct serve_workers {
	int n;
	pid_t pids[64];
	long started_ms[64]; /* when pids[i] started */
	long restart_ms[64]; /* pids[i] == 0: when to start it again */
	long backoff_ms[64]; /* the wait the next death gets */
	char home[4096];
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fork and exec one `quarry worker`: its pid, or -1 with errno set. */
static pid_t spawn_worker(const char *home)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* The worker goes when the server does (it keeps no run it
		 * cannot resume: its lease lapses). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl("/proc/self/exe", "quarry", "worker", "--home", home, "-j", "1", (char *)NULL);
		_exit(127);
	}
	return pid;
}

int serve_workers_start(struct serve_workers **out, const char *home, int n, struct runstore *rs,
			size_t *existing, struct q_error *err)
{
	struct serve_workers *w;
	struct runstore_worker *live = NULL;
	struct q_error ignored = {0};
	int i;

	*out = NULL;
	*existing = 0;
	if (n < 0)
		n = WORKERS_DEFAULT;
	if (n == 0)
		return 0;
	if (runstore_workers(rs, RUNSTORE_LEASE_MS, &live, existing, &ignored) == 0 && *existing) {
		q_free(live);
		return 0;
	}
	q_free(live);
	*existing = 0;
	if (n > 64)
		n = 64;
	w = q_calloc(1, sizeof(*w));
	if (!w)
		return q_error_set(err, Q_ENOMEM, "out of memory starting workers");
	snprintf(w->home, sizeof(w->home), "%s", home);
	for (i = 0; i < n; i++) {
		pid_t pid = spawn_worker(w->home);
		if (pid < 0) {
			q_error_set(err, Q_ESUBPROC,
				    "cannot start a worker: %s; runs stay queued "
				    "until one runs ('quarry worker')",
				    strerror(errno));
			break;
		}
		w->started_ms[w->n] = now_ms();
		w->backoff_ms[w->n] = WORKERS_BACKOFF_MIN_MS;
		w->pids[w->n++] = pid;
	}
	*out = w;
	return err && err->code ? Q_ESUBPROC : 0;
}

int serve_workers_pid(const struct serve_workers *w, int i)
{
	return w && i >= 0 && i < w->n ? (int)w->pids[i] : 0;
}

int serve_workers_tend(struct serve_workers *w, char *note, size_t cap)
{
	size_t used = 0;
	long now = now_ms();
	int i, st, live = 0;

	if (cap)
		note[0] = '\0';
	if (!w)
		return 0;
	for (i = 0; i < w->n; i++) {
		if (w->pids[i] > 0 && waitpid(w->pids[i], &st, WNOHANG) == w->pids[i]) {
			char how[48];
			if (WIFSIGNALED(st))
				snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(st));
			else
				snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(st));
			if (now - w->started_ms[i] >= WORKERS_STABLE_MS)
				w->backoff_ms[i] = WORKERS_BACKOFF_MIN_MS;
			w->restart_ms[i] = now + w->backoff_ms[i];
			if (used < cap)
				used += (size_t)snprintf(note + used, cap - used,
							 "worker %d %s; its run goes back to the queue when "
							 "its lease lapses; a new worker starts in %ld s\n",
							 (int)w->pids[i], how, w->backoff_ms[i] / 1000);
			if (w->backoff_ms[i] < WORKERS_BACKOFF_MAX_MS)
				w->backoff_ms[i] *= 2;
			w->pids[i] = 0;
		}
		if (w->pids[i] == 0 && now >= w->restart_ms[i]) {
			pid_t pid = spawn_worker(w->home);
			if (pid > 0) {
				w->pids[i] = pid;
				w->started_ms[i] = now;
				if (used < cap)
					used += (size_t)snprintf(note + used, cap - used,
								 "started worker %d in place of the "
								 "one that died\n",
								 (int)pid);
			} else {
				w->restart_ms[i] = now + w->backoff_ms[i];
				if (used < cap)
					used += (size_t)snprintf(note + used, cap - used,
								 "cannot start a worker: %s; trying "
								 "again in %ld s\n",
								 strerror(errno), w->backoff_ms[i] / 1000);
			}
		}
		if (w->pids[i] > 0)
			live++;
	}
	return live;
}

void serve_workers_stop(struct serve_workers *w)
{
	int i, left;
	struct timespec step = {0, 50 * 1000000L};
	long waited = 0;

	if (!w)
		return;
	for (i = 0; i < w->n; i++)
		kill(w->pids[i], SIGTERM);
	do {
		left = 0;
		for (i = 0; i < w->n; i++) {
			if (w->pids[i] <= 0)
				continue;
			if (waitpid(w->pids[i], NULL, WNOHANG) == w->pids[i] || errno == ECHILD)
				w->pids[i] = 0;
			else
				left++;
		}
		if (left) {
			nanosleep(&step, NULL);
			waited += 50;
		}
	} while (left && waited < WORKERS_STOP_WAIT_MS);
	for (i = 0; i < w->n; i++)
		if (w->pids[i] > 0) {
			kill(w->pids[i], SIGKILL);
			waitpid(w->pids[i], NULL, 0);
		}
	q_free(w);
}
