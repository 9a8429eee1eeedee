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
#include "workers.h"

#define WORKERS_DEFAULT_JOBS "2"          /* runs one worker carries at once */
#define WORKERS_STOP_WAIT_MS 10000        /* after SIGTERM, before SIGKILL */

struct serve_workers {
	int n;
	pid_t pids[64];
};

int serve_workers_start(struct serve_workers **out, const char *home, int n, struct q_error *err)
{
	struct serve_workers *w;
	int i;

	*out = NULL;
	if (n < 0)
		n = 1;
	if (n == 0)
		return 0;
	if (n > 64)
		n = 64;
	w = q_calloc(1, sizeof(*w));
	if (!w)
		return q_error_set(err, Q_ENOMEM, "out of memory starting workers");
	for (i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* The worker goes when the server does (it keeps no run it
			 * cannot resume: its lease lapses). */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			execl("/proc/self/exe", "quarry", "worker", "--home", home, "-j",
			      WORKERS_DEFAULT_JOBS, (char *)NULL);
			_exit(127);
		}
		if (pid < 0) {
			q_error_set(err, Q_ESUBPROC, "cannot start a worker: %s; runs stay queued "
				    "until one runs ('quarry worker')", strerror(errno));
			break;
		}
		w->pids[w->n++] = pid;
	}
	*out = w;
	return err && err->code ? Q_ESUBPROC : 0;
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
