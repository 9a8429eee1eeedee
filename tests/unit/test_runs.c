/*
 * Unit tests: many research runs at once in one process, on one home and
 * one shared model client (tests/fakellm and tests/fakeweb started as
 * subprocesses). Each run's token and cost figures must be exactly what
 * the same run makes alone, a cancel must stop its own run (in flight
 * too) and no other, and each run's budget binds that run only. Before
 * runs had their own model accounts the client summed every run's
 * tokens into each report, one run's budget stopped the others, and one
 * cancel turned the rest into extractive briefs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/core/clock.h"
#include "../../src/core/config.h"
#include "../../src/index/store.h"
#include "../../src/llm/llm.h"
#include "../../src/research/research.h"
#include "../../src/research/runstore.h"
#include "../../src/research/worker.h"

#include "resolve_env.h"

#define MAX_JOBS 4

static char tmpdir[256];
static pid_t llm_pid, web_pid;
static struct llm_config cfg;
static struct llm_client *client;

/* Start BIN PORTFILE ARGS... and read the port it listens on. */
static int start_server(const char *name, const char *arg2, const char *arg3, pid_t *pid)
{
	char bin[512], portf[512];
	const char *build = getenv("BUILD");
	FILE *f;
	int i, port = 0;

	snprintf(bin, sizeof(bin), "%s/%s", build && *build ? build : "build", name);
	snprintf(portf, sizeof(portf), "%s/%s.port", tmpdir, name);
	unlink(portf);
	*pid = fork();
	if (*pid == 0) {
		execl(bin, bin, portf, arg2, arg3, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		f = fopen(portf, "r");
		if (f && fscanf(f, "%d", &port) == 1) {
			fclose(f);
			return port;
		}
		if (f)
			fclose(f);
		usleep(20000);
	}
	fail_msg("%s did not start (%s)", name, bin);
	return 0;
}

static void stop_server(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
		*pid = 0;
	}
}

/*
 * The fake model answers every research prompt (counting tokens itself,
 * 4 bytes a token, as a provider does); calls of a question with
 * "slowpoke" in it wait 1.5 s first, so a cancel finds them in flight.
 */
static int setup(void **state)
{
	static const char script[] = "[{\"match\":\"slowpoke\",\"auto\":\"research\",\"usage\":\"count\","
				     "\"fault\":\"slow_start\",\"delay_ms\":1500},"
				     "{\"auto\":\"research\",\"usage\":\"count\"}]";
	char path[512], logf[512], url[128];
	struct llm_overrides ov = {0};
	struct q_error err = {0};
	FILE *f;
	int port;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/quarry-runs-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/script.json", tmpdir);
	snprintf(logf, sizeof(logf), "%s/llm.log", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	port = start_server("fakeweb", "sample/pages", NULL, &web_pid);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("QUARRY_SEARXNG_URL", url, 1);
	port = start_server("fakellm", path, logf, &llm_pid);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", port);
	ov.base_url = url;
	ov.model = "m";
	setenv("QUARRY_LLM_PRICE", "0.1,0.2", 1); /* so cost figures are not all zero */
	assert_int_equal(resolve_env(&cfg, &ov, NULL, &err), 0);
	unsetenv("QUARRY_LLM_PRICE");
	assert_int_equal(llm_client_new(&cfg, &client, &err), 0); /* no shared reply cache */
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	llm_client_free(client);
	llm_config_release(&cfg);
	stop_server(&llm_pid);
	stop_server(&web_pid);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return 0;
}

/* One research run on its own thread, with its own store connection. */
struct job {
	const char *question;
	char home[512];
	long budget_tokens;
	struct research_opts o;
	struct research_env env;
	struct store store;
	struct research_result res;
	struct q_error err;
	int rc;
	int noting; /* its note calls were sent (atomic) */
	double end_ms;
	pthread_t th;
};

static void on_event(void *ctx, const json_t *ev)
{
	struct job *j = ctx;

	if (strcmp(json_string_value(json_object_get(ev, "type")), "noting") == 0)
		__atomic_store_n(&j->noting, 1, __ATOMIC_RELAXED);
}

static void *job_main(void *arg)
{
	struct job *j = arg;

	j->rc = store_open(&j->store, j->home, &j->err);
	if (j->rc == 0) {
		j->rc = research_run(&j->o, &j->env, 0, &j->res, &j->err);
		store_close(&j->store);
	}
	j->end_ms = q_now_ms();
	return NULL;
}

static void job_init(struct job *j, const char *question, const char *home, long budget_tokens)
{
	memset(j, 0, sizeof(*j));
	j->question = question;
	snprintf(j->home, sizeof(j->home), "%s/%s", tmpdir, home);
	j->o.question = question;
	j->o.sources = "web";
	j->o.allow_private = 1;
	j->o.fresh = 1; /* every run fetches its pages itself */
	j->o.budget_tokens = budget_tokens;
	j->env.store = &j->store;
	j->env.home = j->home;
	j->env.file = &env_only; /* the environment snapshot: QUARRY_SEARXNG_URL */
	j->env.llm = client;
	j->env.on_event = on_event;
	j->env.ctx = j;
}

static void job_start(struct job *j) { assert_int_equal(pthread_create(&j->th, NULL, job_main, j), 0); }

static void job_join(struct job *j) { pthread_join(j->th, NULL); }

static void job_release(struct job *j) { research_result_release(&j->res); }

static const char *report_mode(const struct job *j)
{
	const char *m = json_string_value(json_object_get(j->res.report, "mode"));

	return m ? m : "";
}

/* a's figures are exactly b's: tokens and calls equal, cost up to the
 * order its parallel calls were added in. */
static void same_figures(const char *what, const struct llm_totals *a, const struct llm_totals *b)
{
	if (a->prompt != b->prompt || a->completion != b->completion || a->calls != b->calls ||
	    a->failures != b->failures || fabs(a->cost_usd - b->cost_usd) > 1e-12)
		fail_msg("%s: %ld+%ld tokens in %ld calls ($%.9f) at once, %ld+%ld in %ld ($%.9f) "
			 "alone",
			 what, a->prompt, a->completion, a->calls, a->cost_usd, b->prompt, b->completion,
			 b->calls, b->cost_usd);
}

static const char *const questions[MAX_JOBS] = {
	"Why did the US switch off GPS Selective Availability?",
	"What did the end of Selective Availability change for GPS receivers?",
	"Who decided to turn off GPS Selective Availability in 2000?",
	"How slowpoke receivers reacted when Selective Availability ended?",
};

/* Four runs at once on one home and one client; the fourth is cancelled
 * while its note calls are in flight. */
static void four_runs_at_once_keep_their_own_figures(void **state)
{
	struct job alone[MAX_JOBS - 1], at_once[MAX_JOBS];
	struct job *slow = &at_once[MAX_JOBS - 1];
	double cancel_ms;
	int i;

	(void)state;
	for (i = 0; i < MAX_JOBS - 1; i++) { /* each run alone first, on a home of its own */
		char home[32];
		snprintf(home, sizeof(home), "alone%d", i);
		job_init(&alone[i], questions[i], home, 0);
		job_start(&alone[i]);
		job_join(&alone[i]);
		if (alone[i].rc)
			fail_msg("run %d alone: %s", i, alone[i].err.msg);
		assert_string_equal(alone[i].res.status, "done");
		assert_string_equal(report_mode(&alone[i]), "model");
		assert_true(alone[i].res.llm.prompt > 0 && alone[i].res.llm.cost_usd > 0);
	}
	for (i = 0; i < MAX_JOBS; i++)
		job_init(&at_once[i], questions[i], "shared", 0);
	for (i = 0; i < MAX_JOBS; i++)
		job_start(&at_once[i]);
	for (i = 0; i < 3000 && !__atomic_load_n(&slow->noting, __ATOMIC_RELAXED); i++)
		usleep(10000);
	assert_true(__atomic_load_n(&slow->noting, __ATOMIC_RELAXED));
	usleep(300000); /* its note calls are waiting on the slow model now */
	cancel_ms = q_now_ms();
	research_cancel(&slow->env);
	for (i = 0; i < MAX_JOBS; i++)
		job_join(&at_once[i]);

	assert_int_equal(slow->rc, Q_ETIMEOUT);
	assert_string_equal(slow->res.status, "interrupted");
	if (slow->end_ms - cancel_ms > 2000)
		fail_msg("the cancelled run took %.0f ms to stop", slow->end_ms - cancel_ms);
	for (i = 0; i < MAX_JOBS - 1; i++) {
		char what[64];
		if (at_once[i].rc)
			fail_msg("run %d beside a cancelled one: %s", i, at_once[i].err.msg);
		assert_string_equal(at_once[i].res.status, "done");
		assert_string_equal(report_mode(&at_once[i]), "model");
		snprintf(what, sizeof(what), "run %d", i);
		same_figures(what, &at_once[i].res.llm, &alone[i].res.llm);
		job_release(&alone[i]);
	}
	for (i = 0; i < MAX_JOBS; i++)
		job_release(&at_once[i]);
}

/* Two runs with different token budgets on one client: the small one
 * binds its own run and leaves the other's figures as they are alone. */
static void budgets_bind_their_own_run(void **state)
{
	const long small = 3000, large = 1000000;
	struct job alone, big, tight;
	long spent;

	(void)state;
	job_init(&alone, questions[0], "balone", large);
	job_start(&alone);
	job_join(&alone);
	if (alone.rc)
		fail_msg("the run alone: %s", alone.err.msg);
	assert_string_equal(alone.res.status, "done");
	assert_true(alone.res.llm.prompt + alone.res.llm.completion > small);

	job_init(&big, questions[0], "bshared", large);
	job_init(&tight, questions[1], "bshared", small);
	job_start(&big);
	job_start(&tight);
	job_join(&big);
	job_join(&tight);
	if (big.rc || tight.rc)
		fail_msg("%s / %s", big.err.msg, tight.err.msg);
	assert_string_equal(big.res.status, "done");
	assert_string_equal(report_mode(&big), "model");
	same_figures("the large-budget run", &big.res.llm, &alone.res.llm);
	assert_string_equal(tight.res.status, "stopped");
	assert_non_null(strstr(json_string_value(json_object_get(tight.res.report, "stopped")),
			       "the token budget (3000) is spent"));
	spent = tight.res.llm.prompt + tight.res.llm.completion;
	if (spent <= 0 || spent > small * 105 / 100)
		fail_msg("the 3000-token run spent %ld", spent);
	job_release(&alone);
	job_release(&big);
	job_release(&tight);
}

/* A cancel stops its own run's page fetch in flight (pages that take 15
 * s) and leaves the run beside it, on the same client, to finish. */
static void cancel_reaches_a_fetch_in_flight(void **state)
{
	struct job fetching, other;
	double cancel_ms;

	(void)state;
	job_init(&fetching, "slowpages", "fshared", 0);
	fetching.o.no_llm = 1;
	job_init(&other, questions[2], "fshared", 0);
	job_start(&fetching);
	job_start(&other);
	usleep(1500000); /* the slow pages are being fetched */
	cancel_ms = q_now_ms();
	research_cancel(&fetching.env);
	job_join(&fetching);
	job_join(&other);
	assert_int_equal(fetching.rc, Q_ETIMEOUT);
	assert_string_equal(fetching.res.status, "interrupted");
	if (fetching.end_ms - cancel_ms > 2000)
		fail_msg("the cancelled fetch took %.0f ms to stop", fetching.end_ms - cancel_ms);
	if (other.rc)
		fail_msg("the run beside it: %s", other.err.msg);
	assert_string_equal(other.res.status, "done");
	assert_string_equal(report_mode(&other), "model");
	job_release(&fetching);
	job_release(&other);
}

/* research_cancel_final while the note calls wait on the slow model: the
 * run stops as fast as an interrupt and still writes the best report it
 * can, stored as cancelled (not resumable). */
static void cancel_final_keeps_the_best_report(void **state)
{
	struct job slow;
	struct runstore *rs = NULL;
	struct run_record rec;
	double cancel_ms;
	int i;

	(void)state;
	job_init(&slow, questions[3], "cfinal", 0);
	job_start(&slow);
	for (i = 0; i < 3000 && !__atomic_load_n(&slow.noting, __ATOMIC_RELAXED); i++)
		usleep(10000);
	assert_true(__atomic_load_n(&slow.noting, __ATOMIC_RELAXED));
	usleep(300000);
	cancel_ms = q_now_ms();
	research_cancel_final(&slow.env);
	job_join(&slow);
	if (slow.rc)
		fail_msg("the cancelled run: %s", slow.err.msg);
	assert_string_equal(slow.res.status, "cancelled");
	assert_non_null(slow.res.markdown);
	assert_string_equal(json_string_value(json_object_get(slow.res.report, "stopped")), "cancelled");
	if (slow.end_ms - cancel_ms > 2000)
		fail_msg("the cancelled run took %.0f ms to stop", slow.end_ms - cancel_ms);
	assert_int_equal(runstore_open(&rs, slow.home, NULL), 0);
	assert_int_equal(runstore_get(rs, slow.res.run_id, 1, &rec, NULL), 0);
	assert_int_equal(rec.status, RUN_CANCELLED);
	assert_non_null(rec.report_md);
	run_record_release(&rec);
	runstore_close(rs);
	job_release(&slow);
}

static void worker_log(void *ctx, const char *line)
{
	(void)ctx;
	(void)line;
}

/* worker_run carries queued runs two at a time, each to its end, and
 * returns once the queue has been empty for its idle time. */
static void worker_carries_queued_runs(void **state)
{
	struct worker_config wc;
	struct runstore *rs = NULL;
	struct research_opts o;
	char home[512];
	long ids[3], counts[RUN_STATUS_N];
	volatile int stop = 0;
	int i;

	(void)state;
	snprintf(home, sizeof(home), "%s/worker", tmpdir);
	assert_int_equal(runstore_open(&rs, home, NULL), 0);
	for (i = 0; i < 3; i++) {
		json_t *opts;
		memset(&o, 0, sizeof(o));
		o.question = questions[i];
		o.sources = "web";
		o.allow_private = 1;
		o.no_llm = 1;
		o.depth = 1;
		o.max_sources = 2;
		opts = research_opts_to_json(&o);
		assert_int_equal(runstore_create(rs, o.question, opts, RUN_QUEUED, NULL, &ids[i], NULL), 0);
		json_decref(opts);
	}
	memset(&wc, 0, sizeof(wc));
	wc.home = home;
	wc.file = &env_only; /* the worker's settings: QUARRY_SEARXNG_URL */
	wc.slots = 2;
	wc.idle_exit_ms = 600;
	wc.log = worker_log;
	assert_int_equal(worker_run(&wc, &stop, NULL), 0);
	assert_int_equal(runstore_counts(rs, counts, NULL), 0);
	assert_int_equal(counts[RUN_DONE], 3);
	for (i = 0; i < 3; i++) {
		struct run_record rec;
		json_t *evs = NULL;
		assert_int_equal(runstore_get(rs, ids[i], 1, &rec, NULL), 0);
		assert_non_null(rec.report_md);
		assert_int_equal(runstore_events(rs, ids[i], 0, 1, &evs, NULL), 0);
		assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 0), "type")),
				    "run_started");
		json_decref(evs);
		run_record_release(&rec);
	}
	runstore_close(rs);
}

/* The whole of a small file (or a fake web server's request log, by curl)
 * into buf; "" when it cannot be read. */
static void slurp(const char *cmd_or_path, int is_cmd, char *buf, size_t size)
{
	FILE *f = is_cmd ? popen(cmd_or_path, "r") : fopen(cmd_or_path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (!f)
		return;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	if (is_cmd)
		pclose(f);
	else
		fclose(f);
}

/* Two runs at once in this process, each with its own settings (its own
 * search server, model server, model name and key, resolved from its own
 * environment snapshot): each run's requests reach only its own servers,
 * and the core reads nothing from the process environment (which names a
 * third, dead, search server). */
static void two_runs_use_their_own_settings(void **state)
{
	static const char script[] = "[{\"auto\":\"research\",\"usage\":\"count\"}]";
	struct side {
		pid_t web, llm;
		char web_url[128], llm_url[128], logf[512], var[160], key[80];
		char *envp[3];
		struct config file;
		struct llm_config cfg;
		struct llm_client *client;
		struct job job;
	} sd[2];
	static char log[2][1 << 20];
	char path[512], cmd[256], seen[8192];
	struct q_error err = {0};
	FILE *f;
	int i, port;

	(void)state;
	snprintf(path, sizeof(path), "%s/script2.json", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	setenv("QUARRY_SEARXNG_URL", "http://127.0.0.1:9/", 1); /* nobody there: must not be used */
	for (i = 0; i < 2; i++) {
		struct side *d = &sd[i];
		struct llm_overrides ov = {0};
		memset(d, 0, sizeof(*d));
		port = start_server("fakeweb", "sample/pages", NULL, &d->web);
		snprintf(d->web_url, sizeof(d->web_url), "http://127.0.0.1:%d", port);
		snprintf(d->var, sizeof(d->var), "QUARRY_SEARXNG_URL=http://127.0.0.1:%d", port);
		snprintf(d->logf, sizeof(d->logf), "%s/llm-side%d.log", tmpdir, i);
		port = start_server("fakellm", path, d->logf, &d->llm);
		snprintf(d->llm_url, sizeof(d->llm_url), "http://127.0.0.1:%d/v1", port);
		snprintf(d->key, sizeof(d->key), "QUARRY_LLM_API_KEY=sk-side-%d", i);
		d->envp[0] = d->var;
		d->envp[1] = d->key;
		assert_int_equal(config_set_env(&d->file, d->envp), 0);
		ov.base_url = d->llm_url;
		ov.model = i ? "model-b" : "model-a";
		assert_int_equal(llm_config_resolve(&d->cfg, &ov, &d->file, &err), 0);
		assert_int_equal(llm_client_new(&d->cfg, &d->client, &err), 0);
		job_init(&d->job, questions[i], i ? "side1" : "side0", 0);
		d->job.env.file = &d->file;
		d->job.env.llm = d->client;
	}
	for (i = 0; i < 2; i++)
		job_start(&sd[i].job);
	for (i = 0; i < 2; i++)
		job_join(&sd[i].job);
	for (i = 0; i < 2; i++) {
		struct side *d = &sd[i];
		char want[64];
		if (d->job.rc)
			fail_msg("run %d: %s", i, d->job.err.msg);
		assert_string_equal(report_mode(&d->job), "model");
		slurp(d->logf, 0, log[i], sizeof(log[i]));
		snprintf(want, sizeof(want), "Bearer sk-side-%d", i);
		if (!strstr(log[i], want) || !strstr(log[i], i ? "model-b" : "model-a"))
			fail_msg("model server %d did not see its own run's key and model", i);
		snprintf(want, sizeof(want), "sk-side-%d", 1 - i);
		if (strstr(log[i], want) || strstr(log[i], i ? "model-a" : "model-b"))
			fail_msg("model server %d saw the other run's key or model", i);
		snprintf(cmd, sizeof(cmd), "curl -s %s/requests-since/0", d->web_url);
		slurp(cmd, 1, seen, sizeof(seen));
		if (!strstr(seen, "/search?"))
			fail_msg("search server %d got no search from its run: %s", i, seen);
	}
	for (i = 0; i < 2; i++) {
		job_release(&sd[i].job);
		llm_client_free(sd[i].client);
		llm_config_release(&sd[i].cfg);
		config_release(&sd[i].file);
		stop_server(&sd[i].llm);
		stop_server(&sd[i].web);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(four_runs_at_once_keep_their_own_figures),
		cmocka_unit_test(budgets_bind_their_own_run),
		cmocka_unit_test(cancel_reaches_a_fetch_in_flight),
		cmocka_unit_test(cancel_final_keeps_the_best_report),
		cmocka_unit_test(worker_carries_queued_runs),
		cmocka_unit_test(two_runs_use_their_own_settings),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
