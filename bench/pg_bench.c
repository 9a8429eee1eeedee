/*
 * pg_bench.c - the run store's queue and event figures, PostgreSQL
 * against SQLite on one machine.
 *
 *   pg_bench HOME [DATABASE_URL]
 *
 * HOME is a scratch folder for the SQLite store (created); DATABASE_URL a
 * PostgreSQL database the bench may fill (make bench-pg makes a private
 * cluster). For each backend:
 *   - claim latency: CLAIM_JOBS queued runs claimed by CLAIMERS threads,
 *     each on its own connection, as fast as they go: the time of one
 *     runstore_claim (median, p99) and claims per second;
 *   - event latency: a writer thread appends EVENTS events to a run, one
 *     every EVENT_GAP_MS; a watcher on another connection waits with
 *     runstore_wait_events and reads: the time from the append returning
 *     to the watcher holding the event (median, p99).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/core/clock.h"
#include "../src/research/runstore.h"

#define CLAIM_JOBS 400
#define CLAIMERS 4
#define EVENTS 200
#define EVENT_GAP_MS 5

static const char *home, *url;

static struct runstore *open_store(void)
{
	struct runstore *rs = NULL;
	struct q_error err = {0};
	if (runstore_open_db(&rs, home, url, &err)) {
		fprintf(stderr, "pg_bench: %s\n", err.msg);
		exit(1);
	}
	return rs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	int i = (int)(p * (n - 1) + 0.5);
	return n ? v[i] : 0;
}

struct claimer {
	char name[32];
	double ms[CLAIM_JOBS];
	int n;
};

static void *claim_main(void *arg)
{
	struct claimer *c = arg;
	struct runstore *rs = open_store();
	struct q_error err = {0};
	for (;;) {
		long id = 0;
		double t0 = q_now_ms();
		if (runstore_claim(rs, c->name, 600000, &id, &err)) {
			fprintf(stderr, "pg_bench: claim: %s\n", err.msg);
			break;
		}
		if (id == 0)
			break;
		c->ms[c->n++] = q_now_ms() - t0;
		runstore_save_report(rs, id, RUN_DONE, NULL, "r", &err);
	}
	runstore_close(rs);
	return NULL;
}

static void bench_claims(void)
{
	struct runstore *rs = open_store();
	struct q_error err = {0};
	static struct claimer c[CLAIMERS];
	static double all[CLAIM_JOBS];
	pthread_t t[CLAIMERS];
	int n = 0;
	for (int i = 0; i < CLAIM_JOBS; i++) {
		long id;
		if (runstore_create(rs, "bench job", NULL, RUN_QUEUED, NULL, &id, &err)) {
			fprintf(stderr, "pg_bench: %s\n", err.msg);
			exit(1);
		}
	}
	double t0 = q_now_ms();
	for (int i = 0; i < CLAIMERS; i++) {
		memset(&c[i], 0, sizeof c[i]);
		snprintf(c[i].name, sizeof c[i].name, "bench/%d", i);
		pthread_create(&t[i], NULL, claim_main, &c[i]);
	}
	for (int i = 0; i < CLAIMERS; i++) {
		pthread_join(t[i], NULL);
		memcpy(all + n, c[i].ms, sizeof(double) * (size_t)c[i].n);
		n += c[i].n;
	}
	double secs = (q_now_ms() - t0) / 1000;
	printf("  claim: %d runs by %d claimers, %.0f claims/s (each with its report saved); "
	       "one claim %.2f ms median, %.2f ms p99\n",
	       n, CLAIMERS, n / secs, pct(all, n, 0.5), pct(all, n, 0.99));
	runstore_close(rs);
}

struct events {
	long run;
	long long appended_us[EVENTS + 1]; /* by seq, q_now_ms in microseconds */
};

static void *write_main(void *arg)
{
	struct events *e = arg;
	struct runstore *rs = open_store();
	struct q_error err = {0};
	struct timespec gap = {0, EVENT_GAP_MS * 1000000L};
	for (int i = 1; i <= EVENTS; i++) {
		json_t *ev = json_pack("{s:s, s:i}", "type", "step", "i", i);
		long seq = 0;
		nanosleep(&gap, NULL);
		runstore_event_add(rs, e->run, ev, &seq, &err);
		if (seq >= 1 && seq <= EVENTS)
			__atomic_store_n(&e->appended_us[seq], (long long)(q_now_ms() * 1000),
					 __ATOMIC_RELEASE);
		json_decref(ev);
	}
	runstore_close(rs);
	return NULL;
}

static void bench_events(void)
{
	struct runstore *rs = open_store();
	struct q_error err = {0};
	static struct events e;
	static double lat[EVENTS];
	pthread_t t;
	long last = 0;
	int n = 0;
	memset(&e, 0, sizeof e);
	runstore_create(rs, "bench events", NULL, RUN_RUNNING, "bench", &e.run, &err);
	pthread_create(&t, NULL, write_main, &e);
	while (last < EVENTS) {
		json_t *evs = NULL;
		if (runstore_wait_events(rs, e.run, last, 5000, &err) < 0 ||
		    runstore_events(rs, e.run, last, 0, &evs, &err)) {
			fprintf(stderr, "pg_bench: %s\n", err.msg);
			break;
		}
		double now = q_now_ms();
		for (size_t i = 0; i < json_array_size(evs); i++) {
			long seq = (long)json_integer_value(json_object_get(json_array_get(evs, i), "seq"));
			double at = (double)__atomic_load_n(&e.appended_us[seq], __ATOMIC_ACQUIRE) / 1000;
			/* the append may not have returned yet: count from now */
			lat[n++] = at > 0 && now > at ? now - at : 0;
			last = seq;
		}
		json_decref(evs);
	}
	pthread_join(t, NULL);
	printf("  events: %d appended one every %d ms, seen by a watcher on another connection "
	       "%.2f ms median, %.2f ms p99 after the append returned\n",
	       n, EVENT_GAP_MS, pct(lat, n, 0.5), pct(lat, n, 0.99));
	runstore_close(rs);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: pg_bench HOME [DATABASE_URL]\n");
		return 2;
	}
	home = argv[1];
	printf("SQLite (%s, WAL, one file):\n", home);
	bench_claims();
	bench_events();
	if (argc == 3) {
		url = argv[2];
		printf("PostgreSQL (%s):\n", "a private cluster on this machine");
		bench_claims();
		bench_events();
	}
	return 0;
}
