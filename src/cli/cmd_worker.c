/*
 * cmd_worker.c - `quarry worker`: carry the home's queued research runs
 * (src/research/worker.h), and the detached worker `research --detach`
 * starts when none is running.
 *
 * The front end's part of a worker: the configuration (flags, config
 * file, environment) is read here once, and each run's model client is
 * made from it and the run's stored model options (the "llm" object
 * `research --detach` keeps with the run), so the core reads no
 * environment. Keys are never stored with a run: the worker's own
 * environment or config file supplies them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../research/runstore.h"
#include "../research/worker.h"
#include "cli.h"
#include "cli_llm.h"
#include "term.h"

/* A detached worker leaves once the queue has been empty this long. */
#define DETACHED_IDLE_EXIT_S 60
#define WORKER_LOG_NAME "worker.log"
/* Held while one `--detach` looks for a worker and starts one, and by the
 * worker it starts until that one is registered: concurrent `--detach`
 * calls start one worker, not one each. */
#define WORKER_LOCK_NAME "worker.lock"
#define WORKER_LOCK_FD_ENV "QUARRY_WORKER_LOCK_FD"
/* A lock holder that hangs (a worker stuck before registering) is not
 * waited for longer than this: then the look goes on without the lock. */
#define WORKER_LOCK_WAIT_MS 5000

enum { O_JOBS, O_IDLE_EXIT, O_HOME, O_LEASE };

static const struct cli_opt worker_opts[] = {{"jobs", 'j', 1, O_JOBS}, {"idle-exit", 0, 1, O_IDLE_EXIT},
					     {"home", 0, 1, O_HOME},   {"lease", 0, 1, O_LEASE},
					     CLI_MODEL_OPTS,           {NULL, 0, 0, 0}};

static volatile int stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* A run's model: its configuration and client, freed together. */
struct run_model {
	struct llm_client *client; /* owned */
	struct llm_config cfg;
	struct runstore *replies; /* the reply cache on the slot's store, or NULL */
};

struct front {
	struct cli_model m; /* the worker's flags and config file */
};

static const char *opt_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int open_model(void *ctx, const json_t *options, struct store *store, struct llm_client **client,
		      void **model, struct q_error *err)
{
	struct front *f = ctx;
	const json_t *l = json_object_get(options, "llm");
	struct llm_overrides ov = f->m.ov;
	struct run_model *rm;
	int rc;

	*client = NULL;
	*model = NULL;
	if (json_is_true(json_object_get(options, "no_llm")))
		return 0;
	/* the run's own choices (research --detach --model ...) win */
	if (opt_str(l, "provider"))
		ov.provider = opt_str(l, "provider");
	if (opt_str(l, "model"))
		ov.model = opt_str(l, "model");
	if (opt_str(l, "fast_model"))
		ov.fast_model = opt_str(l, "fast_model");
	if (opt_str(l, "base_url"))
		ov.base_url = opt_str(l, "base_url");
	if (json_is_true(json_object_get(l, "allow_insecure_http")))
		ov.allow_insecure_http = 1;
	if (!(rm = q_calloc(1, sizeof(*rm))))
		return q_error_set(err, Q_ENOMEM, "out of memory starting the model client");
	if ((rc = llm_config_resolve(&rm->cfg, &ov, f->m.have_file ? &f->m.file : NULL, err))) {
		q_free(rm);
		/* as in the foreground: no model, an extractive brief */
		return strstr(err->msg, "no model configured") ? (memset(err, 0, sizeof(*err)), 0) : rc;
	}
	if (rm->cfg.api_key) { /* a key in memory: no core files of us */
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if ((rc = llm_client_new(&rm->cfg, &rm->client, err))) {
		llm_config_release(&rm->cfg);
		q_free(rm);
		return rc;
	}
	/* no reply cache is no failure */
	if (store && !json_is_true(json_object_get(l, "no_cache")) &&
	    runstore_wrap_sqlite(&rm->replies, store, NULL) == 0)
		llm_client_set_cache(rm->client, rm->replies);
	*client = rm->client;
	*model = rm;
	return 0;
}

static void close_model(void *ctx, void *model)
{
	struct run_model *rm = model;

	(void)ctx;
	llm_client_free(rm->client);
	runstore_close(rm->replies);
	llm_config_release(&rm->cfg);
	q_free(rm);
}

static void log_line(void *ctx, const char *line)
{
	time_t now = time(NULL);
	struct tm tm;
	char when[32] = "";

	(void)ctx;
	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s quarry worker: %s\n", when, line);
	fflush(stderr);
}

int cmd_worker(int argc, char **argv)
{
	struct cli_parser p;
	struct front f;
	struct worker_config wc;
	struct sigaction sa;
	struct q_error err = {0};
	const char *home = NULL, *v;
	char dir[4096], *ops[4];
	long jobs = 1, idle_s = 0, lease_s = RUNSTORE_LEASE_MS / 1000;
	int id, n = 0, rc;

	memset(&f, 0, sizeof(f));
	cli_model_init(&f.m);
	cli_parser_init(&p, "worker", argc, argv);
	while ((id = cli_next_opt(&p, worker_opts, ops, &n, 4)) != -1) {
		int taken;
		if (id == -2)
			return EXIT_USAGE;
		if ((taken = cli_model_opt(&f.m, "worker", id, p.value)))
			if (taken < 0)
				return EXIT_USAGE;
		if (id == O_JOBS && (jobs = cli_parse_int(p.value, 1, WORKER_MAX_SLOTS)) < 1)
			return cli_usage_error("worker", "-j takes 1 to %d runs at once", WORKER_MAX_SLOTS);
		if (id == O_IDLE_EXIT && (idle_s = cli_parse_int(p.value, 1, 1000000000L)) < 1)
			return cli_usage_error("worker", "--idle-exit takes a number of seconds (1 or more)");
		if (id == O_LEASE && (lease_s = cli_parse_int(p.value, 3, 3600)) < 3)
			return cli_usage_error("worker", "--lease takes 3 to 3600 seconds");
		if (id == O_HOME)
			home = p.value;
	}
	if (n > 0)
		return cli_usage_error("worker", "unexpected '%s': quarry worker takes only options", ops[0]);
	if (cli_store_home(home, dir, sizeof(dir), &err)) {
		cli_error("quarry worker: %s\n", err.msg);
		return 1;
	}
	if (cli_model_load_file(&f.m, "worker"))
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	memset(&wc, 0, sizeof(wc));
	wc.home = dir;
	wc.file = f.m.have_file ? &f.m.file : NULL;
	wc.slots = (int)jobs;
	wc.idle_exit_ms = idle_s * 1000;
	wc.lease_ms = lease_s * 1000;
	/* renewed at least three times a lease */
	wc.heartbeat_ms = wc.lease_ms / 3 < RUNSTORE_HEARTBEAT_MS ? wc.lease_ms / 3 : RUNSTORE_HEARTBEAT_MS;
	wc.llm_open = open_model;
	wc.llm_close = close_model;
	wc.log = log_line;
	wc.ctx = &f;
	if ((v = getenv(WORKER_LOCK_FD_ENV)) != NULL) { /* started by --detach */
		long fd = cli_parse_int(v, 3, 1000000);
		wc.ready_fd = fd > 2 ? (int)fd : 0;
		unsetenv(WORKER_LOCK_FD_ENV);
	}
	rc = worker_run(&wc, &stop_flag, &err);
	if (rc)
		cli_error("quarry worker: %s\n", err.msg);
	cli_model_close(&f.m);
	return rc ? 1 : 0;
}

/* Start `quarry worker --home home` in the background, detached from
 * the terminal (a new session, double fork), logging to home/worker.log. */
static int spawn_worker(const char *home, const char *config_path, int lock_fd, struct q_error *err)
{
	char log_path[4200], idle[32];
	const char *v = getenv("QUARRY_WORKER_IDLE_EXIT");
	pid_t pid;
	int status = 0;

	snprintf(log_path, sizeof(log_path), "%s/%s", home, WORKER_LOG_NAME);
	snprintf(idle, sizeof(idle), "%ld",
		 v && cli_parse_int(v, 1, 86400) > 0 ? cli_parse_int(v, 1, 86400) : (long)DETACHED_IDLE_EXIT_S);
	fflush(NULL);
	if ((pid = fork()) < 0)
		return q_error_set(err, Q_EIO, "cannot start a worker: %s", strerror(errno));
	if (pid == 0) {
		int fd;
		setsid();
		if (fork() != 0)
			_exit(0);
		if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
			dup2(fd, 0);
		if ((fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		signal(SIGINT, SIG_IGN); /* the terminal's Ctrl-C is not for it */
		if (lock_fd > 2 && fcntl(lock_fd, F_SETFD, 0) == 0) { /* kept until it registers */
			char fd_text[16];
			snprintf(fd_text, sizeof(fd_text), "%d", lock_fd);
			setenv(WORKER_LOCK_FD_ENV, fd_text, 1);
		}
		if (config_path)
			execl("/proc/self/exe", "quarry", "worker", "--home", home, "--idle-exit", idle,
			      "--config", config_path, (char *)NULL);
		else
			execl("/proc/self/exe", "quarry", "worker", "--home", home, "--idle-exit", idle,
			      (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return 0;
}

/* The home's worker lock, taken (waiting up to WORKER_LOCK_WAIT_MS): its
 * descriptor, or -1 when it cannot be had (go on without it). */
static int take_worker_lock(const char *home)
{
	char path[4200];
	struct timespec ts = {0, 20 * 1000 * 1000};
	int fd, waited_ms;

	snprintf(path, sizeof(path), "%s/%s", home, WORKER_LOCK_NAME);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	for (waited_ms = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited_ms += 20) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || waited_ms >= WORKER_LOCK_WAIT_MS) {
			close(fd);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return fd;
}

int cli_worker_ensure(const char *home, const char *config_path, int *started, struct q_error *err)
{
	struct runstore *rs = NULL;
	struct runstore_worker *v = NULL;
	size_t n = 0;
	int rc, lock_fd;

	*started = 0;
	lock_fd = take_worker_lock(home);
	if ((rc = runstore_open(&rs, home, err)))
		goto out;
	rc = runstore_workers(rs, RUNSTORE_LEASE_MS, &v, &n, err);
	runstore_close(rs);
	q_free(v);
	if (rc || n > 0)
		goto out;
	if ((rc = spawn_worker(home, config_path, lock_fd, err)) == 0)
		*started = 1;
out:
	if (lock_fd >= 0)
		close(lock_fd); /* the new worker holds it on until it is registered */
	return rc;
}
