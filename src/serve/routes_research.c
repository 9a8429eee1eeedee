/*
 * routes_research.c - the research API: start, read, list, cancel and
 * delete runs, and their events as Server-Sent Events.
 *
 * The server never runs research: POST queues a run in the store and a
 * worker process carries it, appending numbered events. Watching: one
 * struct serve_watch per run that has watchers, with one timer that reads
 * the run's new events (runstore_events after the last number read) and
 * hands them to every watcher, so a hundred watchers of one run cost one
 * query per tick, not a hundred. A watcher joining (or resuming with
 * Last-Event-ID) first gets what it missed, read for it alone. A stream
 * ends after the run's "report" (or "run_failed") event, or when the run
 * is found ended; a comment every 15 s keeps proxies from closing it.
 */
#include <stdio.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/qbuf.h"
#include "../research/research.h"
#include "../research/runstore.h"
#include "serve_int.h"

#include <event2/event.h>

#define WATCH_POLL_MS 200 /* how often a watched run's events are read */
#define WATCH_HEARTBEAT_MS 15000
#define WATCH_STATUS_EVERY 10 /* polls between status checks (ended without a report event) */
#define QUESTION_MAX_BYTES 4096
#define SOURCES_MAX_BYTES 256 /* "web,corpus" and the like */
#define CATCH_UP_BATCH 200    /* events read at once for one watcher catching up */
#define RETRY_AFTER_QUEUE_S "30"

/* --- the request body ------------------------------------------------- */

enum field_type { F_STRING, F_INT, F_NUMBER, F_SOURCES, F_DURATION, F_BOOL };

struct field_spec {
	const char *name;
	enum field_type type;
	double min, max;
};

static const struct field_spec research_fields[] = {{"question", F_STRING, 1, QUESTION_MAX_BYTES},
						    {"depth", F_INT, 1, RESEARCH_MAX_DEPTH},
						    {"breadth", F_INT, 1, RESEARCH_MAX_BREADTH},
						    {"max_sources", F_INT, 1, RESEARCH_MAX_SOURCES},
						    {"sources", F_SOURCES, 0, 0},
						    {"budget_tokens", F_INT, 0, 1e12},
						    {"budget_usd", F_NUMBER, 0, 1e6},
						    {"time_limit", F_DURATION, 1, 7 * 24 * 3600},
						    {"lang", F_STRING, 2, 16},
						    {"no_llm", F_BOOL, 0, 0},
						    {NULL, 0, 0, 0}};

static const char *const source_names[] = {"web", "corpus", "searxng", "brave", "tavily", "serper", NULL};

static const char *type_word(enum field_type t)
{
	switch (t) {
	case F_STRING:
		return "a string";
	case F_INT:
		return "an integer";
	case F_NUMBER:
		return "a number";
	case F_SOURCES:
		return "a list of web, corpus, searxng, brave, tavily, serper";
	case F_DURATION:
		return "seconds (a number) or a duration string such as \"5m\"";
	default:
		return "true or false";
	}
}

static int known_source(const char *s, size_t n)
{
	int i;

	for (i = 0; source_names[i]; i++)
		if (strlen(source_names[i]) == n && !strncmp(source_names[i], s, n))
			return 1;
	return 0;
}

/* "web,corpus" or ["web", "corpus"] into out ("web,corpus"); 0 or -1. */
static int take_sources(json_t *v, struct qbuf *out)
{
	size_t i;
	json_t *e;
	const char *s, *comma;

	if (json_is_string(v)) {
		for (s = json_string_value(v); *s; s = comma + 1) {
			comma = strchr(s, ',');
			if (!comma)
				comma = s + strlen(s);
			if (!known_source(s, (size_t)(comma - s)))
				return -1;
			if (!*comma)
				break;
		}
		qbuf_adds(out, json_string_value(v));
		return out->len ? 0 : -1;
	}
	if (!json_is_array(v) || !json_array_size(v))
		return -1;
	json_array_foreach (v, i, e) {
		if (!json_is_string(e) || !known_source(json_string_value(e), json_string_length(e)))
			return -1;
		if (i)
			qbuf_addc(out, ',');
		qbuf_adds(out, json_string_value(e));
	}
	return 0;
}

/* Seconds from 90, 90.5 or "90s", "5m", "1h". -1 when it is neither. */
static double duration_s(json_t *v)
{
	const char *s;
	char *end;
	double x;

	if (json_is_number(v))
		return json_number_value(v);
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	x = strtod(s, &end);
	if (end == s)
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		return x;
	if (!strcmp(end, "ms"))
		return x / 1000;
	if (!strcmp(end, "m"))
		return x * 60;
	if (!strcmp(end, "h"))
		return x * 3600;
	return -1;
}

/* Check one field; 0, or the 400 is answered. */
static int check_field(struct serve_req *r, const struct field_spec *f, json_t *v, struct research_opts *o,
		       struct qbuf *sources)
{
	double x = 0;
	int ok;

	switch (f->type) {
	case F_STRING:
		ok = json_is_string(v);
		x = ok ? (double)json_string_length(v) : 0;
		if (ok && (x < f->min || x > f->max)) {
			serve_reply_error(r, 400, "bad_field", f->name, "'%s' must be %g to %g bytes long",
					  f->name, f->min, f->max);
			return -1;
		}
		break;
	case F_INT:
		ok = json_is_integer(v);
		x = ok ? (double)json_integer_value(v) : 0;
		break;
	case F_NUMBER:
		ok = json_is_number(v);
		x = ok ? json_number_value(v) : 0;
		break;
	case F_DURATION:
		x = duration_s(v);
		ok = x >= 0;
		break;
	case F_SOURCES:
		ok = take_sources(v, sources) == 0;
		break;
	default:
		ok = json_is_boolean(v);
		break;
	}
	if (!ok) {
		serve_reply_error(r, 400, "bad_field", f->name, "'%s' must be %s", f->name, type_word(f->type));
		return -1;
	}
	if ((f->type == F_INT || f->type == F_NUMBER || f->type == F_DURATION) && (x < f->min || x > f->max)) {
		serve_reply_error(r, 400, "bad_field", f->name, "'%s' must be between %g and %g", f->name,
				  f->min, f->max);
		return -1;
	}
	if (!strcmp(f->name, "question"))
		o->question = json_string_value(v);
	else if (!strcmp(f->name, "depth"))
		o->depth = (int)x;
	else if (!strcmp(f->name, "breadth"))
		o->breadth = (int)x;
	else if (!strcmp(f->name, "max_sources"))
		o->max_sources = (int)x;
	else if (!strcmp(f->name, "budget_tokens"))
		o->budget_tokens = (long)x;
	else if (!strcmp(f->name, "budget_usd"))
		o->budget_usd = x;
	else if (!strcmp(f->name, "time_limit"))
		o->time_limit_ms = (long)(x * 1000);
	else if (!strcmp(f->name, "lang"))
		o->lang = json_string_value(v);
	else if (!strcmp(f->name, "no_llm"))
		o->no_llm = json_is_true(v);
	return 0;
}

/* The body as research options (pointing into body); 0, or answered. */
static int parse_research(struct serve_req *r, json_t *body, struct research_opts *o, struct qbuf *sources)
{
	const char *key;
	json_t *v;
	const struct field_spec *f;

	memset(o, 0, sizeof(*o));
	json_object_foreach (body, key, v) {
		for (f = research_fields; f->name && strcmp(f->name, key); f++)
			;
		if (!f->name) {
			serve_reply_error(r, 400, "unknown_field", key,
					  "unknown field '%s'; the fields are question, depth, breadth, "
					  "max_sources, sources, budget_tokens, budget_usd, time_limit, "
					  "lang, no_llm",
					  key);
			return -1;
		}
		if (check_field(r, f, v, o, sources))
			return -1;
	}
	if (!o->question) {
		serve_reply_error(r, 400, "missing_field", "question",
				  "'question' is required: the question to research");
		return -1;
	}
	o->sources = sources->len ? qbuf_cstr(sources) : NULL;
	return 0;
}

/* --- reading runs ----------------------------------------------------- */

/* The {id} of the path; 0, or the 404 is answered. */
static int path_id(struct serve_req *r, long *id)
{
	const char *s = serve_param(r, "id");
	char *end;

	*id = s ? strtol(s, &end, 10) : 0;
	if (!s || *end || *id <= 0) {
		serve_reply_error(r, 404, "not_found", "id", "no run '%s': run ids are numbers", s ? s : "");
		return -1;
	}
	return 0;
}

static json_t *run_summary(const struct run_record *rec)
{
	json_t *j = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:b}", "id", (json_int_t)rec->id, "question",
			      rec->question ? rec->question : "", "status", run_status_name(rec->status),
			      "created", (json_int_t)rec->created, "updated", (json_int_t)rec->updated,
			      "last_seq", (json_int_t)rec->last_seq, "cancel_requested", rec->cancel_requested);

	if (j && rec->worker[0])
		json_object_set_new(j, "worker", json_string(rec->worker));
	return j;
}

/* Figures from a finished report's JSON: what the UI and scripts show. */
static void add_report_figures(json_t *j, const json_t *report)
{
	json_t *v;

	if (!report)
		return;
	if ((v = json_object_get(report, "figures")))
		json_object_set(j, "figures", v);
	if ((v = json_object_get(report, "verification")))
		json_object_set(j, "verification", v);
	if ((v = json_object_get(report, "stopped")))
		json_object_set(j, "stopped", v);
}

/* Why a run ended without a report: the message of its last run_failed
 * event (among its newest), else a word on its status. */
static void run_failure_reason(struct runstore *rs, const struct run_record *rec, char *out, size_t cap)
{
	struct q_error err = {0};
	json_t *evs = NULL, *ev;
	size_t i;

	snprintf(out, cap, "%s",
		 rec->status == RUN_INTERRUPTED ? "its process stopped; 'quarry runs resume' goes on with it"
						: "no reason was recorded");
	if (runstore_events(rs, rec->id, rec->last_seq > 50 ? rec->last_seq - 50 : 0, 0, &evs, &err))
		return;
	json_array_foreach (evs, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		const char *msg = json_string_value(json_object_get(ev, "message"));
		if (type && !strcmp(type, "run_failed") && msg && *msg)
			snprintf(out, cap, "%s", msg);
	}
	json_decref(evs);
}

static void answer_report(struct serve_req *r, const struct run_record *rec, const char *format)
{
	struct qbuf out;
	struct q_error err = {0};

	if (!rec->report && (run_status_final(rec->status) || rec->status == RUN_INTERRUPTED)) {
		char why[512];
		run_failure_reason(serve_runstore(serve_req_server(r)), rec, why, sizeof(why));
		serve_reply_error(r, 409, "no_report", NULL,
				  "run %ld is %s and has no report (it will not get one): %s; "
				  "see /v1/research/%ld/events, or ask again with POST /v1/research",
				  rec->id, run_status_name(rec->status), why, rec->id);
		return;
	}
	if (!rec->report) {
		serve_reply_error(r, 409, "not_ready", NULL,
				  "run %ld is %s and has no report yet; watch "
				  "/v1/research/%ld/events or ask again when it is done",
				  rec->id, run_status_name(rec->status), rec->id);
		return;
	}
	if (!strcmp(format, "json")) {
		serve_reply_json(r, 200, json_incref(rec->report));
		return;
	}
	qbuf_init(&out, RESEARCH_REPORT_MAX_BYTES);
	if (research_render(rec->report, format, &out, &err)) {
		serve_reply_qerror(r, &err);
	} else if (!strcmp(format, "html")) {
		/* A report is a page of its own: no script at all may run in it. */
		serve_add_header(r, "Content-Security-Policy",
				 "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
		serve_reply(r, 200, "text/html; charset=utf-8", out.data, out.len);
	} else {
		serve_reply(r, 200, "text/markdown; charset=utf-8", out.data, out.len);
	}
	qbuf_release(&out);
}

static void research_get(struct serve_req *r)
{
	struct runstore *rs = serve_runstore(serve_req_server(r));
	const char *format = serve_query(r, "format"), *fig = serve_query(r, "figures");
	int want_figures = fig && !strcmp(fig, "1");
	struct run_record rec;
	struct q_error err = {0};
	json_t *j;
	long id;

	if (path_id(r, &id))
		return;
	if (format && strcmp(format, "md") && strcmp(format, "html") && strcmp(format, "json")) {
		serve_reply_error(r, 400, "bad_field", "format", "format is md, html or json, not '%s'",
				  format);
		return;
	}
	memset(&rec, 0, sizeof(rec));
	/* A status poll reads one row; the report only when asked for. */
	if (runstore_get(rs, id, format || want_figures, &rec, &err)) {
		serve_reply_qerror(r, &err);
		return;
	}
	if (format) {
		answer_report(r, &rec, format);
	} else {
		j = run_summary(&rec);
		if (j) {
			json_object_set(j, "options", rec.options ? rec.options : json_null());
			add_report_figures(j, rec.report);
		}
		serve_reply_json(r, 200, j);
	}
	run_record_release(&rec);
}

static void research_post(struct serve_req *r)
{
	struct serve *s = serve_req_server(r);
	struct research_opts o;
	struct qbuf sources;
	struct q_error err = {0};
	long counts[RUN_STATUS_N], id = 0;
	json_t *body = serve_body_json(r), *opts = NULL;
	char where[64];

	qbuf_init(&sources, SOURCES_MAX_BYTES);
	if (!body || parse_research(r, body, &o, &sources))
		goto out;
	if (runstore_counts(serve_runstore(s), counts, &err)) {
		serve_reply_qerror(r, &err);
		goto out;
	}
	if (counts[RUN_QUEUED] >= s->limits.queue_max) {
		serve_add_header(r, "Retry-After", RETRY_AFTER_QUEUE_S);
		serve_reply_error(r, 429, "queue_full", NULL,
				  "%ld runs are already waiting (the limit is %d); try again in " RETRY_AFTER_QUEUE_S
				  " s, or cancel one",
				  counts[RUN_QUEUED], s->limits.queue_max);
		goto out;
	}
	o.allow_private = s->allow_private;
	opts = research_opts_to_json(&o);
	if (!opts || runstore_create(serve_runstore(s), o.question, opts, RUN_QUEUED, "", &id, &err)) {
		if (!err.code)
			q_error_set(&err, Q_ENOMEM, "out of memory queueing the run; try again");
		serve_reply_qerror(r, &err);
		goto out;
	}
	s->runs_created++;
	snprintf(where, sizeof(where), "/v1/research/%ld", id);
	serve_add_header(r, "Location", where);
	serve_reply_json(r, 202,
			 json_pack("{s:I, s:s, s:s, s:s+}", "id", (json_int_t)id, "status", "queued", "url",
				   where, "events", where, "/events"));
out:
	json_decref(opts);
	json_decref(body);
	qbuf_release(&sources);
}

static void research_delete(struct serve_req *r)
{
	struct runstore *rs = serve_runstore(serve_req_server(r));
	struct run_record rec;
	struct q_error err = {0};
	long id;
	int final;

	if (path_id(r, &id))
		return;
	memset(&rec, 0, sizeof(rec));
	if (runstore_get(rs, id, 0, &rec, &err)) {
		serve_reply_qerror(r, &err);
		return;
	}
	final = run_status_final(rec.status) || rec.status == RUN_INTERRUPTED;
	run_record_release(&rec);
	if (!final) {
		if (runstore_request_cancel(rs, id, &err))
			serve_reply_qerror(r, &err);
		else
			serve_reply_json(
				r, 202, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "cancelling"));
		return;
	}
	if (runstore_remove(rs, id, &err))
		serve_reply_qerror(r, &err);
	else
		serve_reply_json(r, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "deleted"));
}

static int query_number(struct serve_req *r, const char *name, long min, long max, long *out)
{
	const char *v = serve_query(r, name);
	char *end;
	long x;

	if (!v)
		return 0;
	x = strtol(v, &end, 10);
	if (!*v || *end || x < min || x > max) {
		serve_reply_error(r, 400, "bad_field", name, "'%s' must be a number from %ld to %ld", name,
				  min, max);
		return -1;
	}
	*out = x;
	return 0;
}

static void research_list(struct serve_req *r)
{
	struct runstore *rs = serve_runstore(serve_req_server(r));
	struct runstore_filter f = {-1, NULL, 0, 50};
	const char *status = serve_query(r, "status");
	struct run_record *v = NULL;
	struct q_error err = {0};
	size_t n = 0, i;
	long limit = 50, cursor = 0;
	json_t *items, *j;

	if (query_number(r, "limit", 1, RUNSTORE_LIST_MAX, &limit) ||
	    query_number(r, "cursor", 1, 1L << 62, &cursor))
		return;
	if (status && *status && (f.status = run_status_parse(status)) < 0) {
		serve_reply_error(r, 400, "bad_field", "status",
				  "status is queued, running, done, stopped, cancelled, "
				  "interrupted or failed, not '%s'",
				  status);
		return;
	}
	f.text = serve_query(r, "q");
	if (f.text && !*f.text)
		f.text = NULL;
	f.before_id = cursor;
	f.limit = (int)limit;
	if (runstore_list(rs, &f, &v, &n, &err)) {
		serve_reply_qerror(r, &err);
		return;
	}
	items = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(items, run_summary(&v[i]));
	j = json_pack("{s:o}", "runs", items);
	if (j && n == (size_t)limit && n)
		json_object_set_new(j, "next_cursor", json_integer(v[n - 1].id));
	else if (j)
		json_object_set_new(j, "next_cursor", json_null());
	runstore_list_free(v, n);
	serve_reply_json(r, 200, j);
}

/* --- watching --------------------------------------------------------- */

struct watcher {
	struct serve_req *req;
	struct serve_watch *watch;
	long sent; /* the last event number it has */
	int done;  /* it has the run's last event */
	struct watcher *next;
};

struct serve_watch {
	struct serve *srv;
	long id;
	long seq;  /* the last event number read */
	int ended; /* its report (or failure) was read */
	int busy;  /* in a tick: freed at its end when empty */
	int polls;
	double last_beat_ms;
	struct event *timer;
	struct watcher *watchers;
	struct serve_watch *next;
};

static void watch_free(struct serve_watch *w)
{
	struct serve_watch **pp;

	for (pp = &w->srv->watches; *pp && *pp != w; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = w->next;
	event_free(w->timer);
	q_free(w);
}

/* Take watcher x out of its watch (freeing the watch when it was the last). */
static void watcher_remove(struct watcher *x)
{
	struct serve_watch *w = x->watch;
	struct watcher **pp;

	for (pp = &w->watchers; *pp && *pp != x; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = x->next;
	q_free(x);
	if (!w->watchers && !w->busy)
		watch_free(w);
}

static void watcher_gone(struct serve_req *r, void *arg) { watcher_remove(arg); }

/* Send ev to x unless it has it; 0, or -1 when x was dropped (freed). */
static int watcher_send(struct watcher *x, json_t *ev)
{
	long seq = (long)json_integer_value(json_object_get(ev, "seq"));
	char *text;
	int rc;

	if (seq <= x->sent)
		return 0;
	text = json_dumps(ev, JSON_COMPACT);
	if (!text)
		return 0;
	rc = serve_sse_event(x->req, seq, NULL, text);
	free(text);
	if (rc) { /* too far behind: dropped; it resumes with Last-Event-ID */
		x->watch->srv->watchers_dropped++;
		watcher_remove(x);
		return -1;
	}
	x->watch->srv->events_sent++;
	x->sent = seq;
	return 0;
}

static int is_last_event(json_t *ev)
{
	const char *t = json_string_value(json_object_get(ev, "type"));

	return t && (!strcmp(t, "report") || !strcmp(t, "run_failed"));
}

/* End x's stream (the run ended). */
/* End x's stream properly (event, final chunk): "end" when the run is
 * over, "shutdown" when the server stops (EventSource then reconnects). */
static void watcher_finish_as(struct watcher *x, const char *event, const char *data)
{
	struct serve_req *r = x->req;

	serve_sse_event(r, -1, event, data);
	serve_on_gone(r, NULL, NULL);
	serve_end(r);
	watcher_remove(x);
}

static void watcher_finish(struct watcher *x) { watcher_finish_as(x, "end", "{}"); }

/* Whether the run has ended (a final status, or none at all). */
static int run_ended(struct serve *s, long id)
{
	struct run_record rec;
	struct q_error err = {0};
	int ended;

	memset(&rec, 0, sizeof(rec));
	if (runstore_get(s->rs, id, 0, &rec, &err))
		return err.code == Q_ENOTFOUND;
	ended = run_status_final(rec.status);
	run_record_release(&rec);
	return ended;
}

static int catch_up(struct serve *s, struct watcher *x, long id);

static void watch_tick(evutil_socket_t fd, short what, void *arg)
{
	struct serve_watch *w = arg;
	struct serve *s = w->srv;
	struct q_error err = {0};
	json_t *evs = NULL, *ev;
	struct watcher *x, *next;
	size_t i;
	double now = q_now_ms();
	int beat = now - w->last_beat_ms >= WATCH_HEARTBEAT_MS;

	long prev = w->seq;

	w->busy = 1;
	/* Those still catching up read on their own. */
	for (x = w->watchers; x; x = next) {
		next = x->next;
		if (x->sent < prev && catch_up(s, x, w->id) == 1)
			x->done = 1;
	}
	if (!w->ended && runstore_events(s->rs, w->id, w->seq, 0, &evs, &err) == 0) {
		json_array_foreach (evs, i, ev) {
			w->seq = (long)json_integer_value(json_object_get(ev, "seq"));
			for (x = w->watchers; x; x = next) {
				next = x->next;
				if (x->sent >= prev)
					watcher_send(x, ev); /* live: drops it when too far behind */
			}
			if (is_last_event(ev))
				w->ended = 1;
		}
		json_decref(evs);
	}
	if (!w->ended && w->watchers && ++w->polls % WATCH_STATUS_EVERY == 0 && run_ended(s, w->id)) {
		/* Ended without a last event: read once more what came before. */
		if (runstore_events(s->rs, w->id, w->seq, 0, &evs, &err) == 0 && json_array_size(evs) == 0)
			w->ended = 1;
		json_decref(evs);
	}
	for (x = w->watchers; x; x = next) {
		next = x->next;
		if (x->done || (w->ended && x->sent >= w->seq))
			watcher_finish(x);
		else if (beat && serve_sse_comment(x->req, "heartbeat"))
			watcher_remove(x); /* dropped */
	}
	if (beat)
		w->last_beat_ms = now;
	w->busy = 0;
	if (!w->watchers)
		watch_free(w);
}

static struct serve_watch *watch_for(struct serve *s, long id, long seq)
{
	struct serve_watch *w;
	struct timeval tv = {0, WATCH_POLL_MS * 1000};

	for (w = s->watches; w; w = w->next)
		if (w->id == id)
			return w;
	w = q_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->srv = s;
	w->id = id;
	w->seq = seq;
	w->last_beat_ms = q_now_ms();
	w->timer = event_new(s->base, -1, EV_PERSIST, watch_tick, w);
	if (!w->timer) {
		q_free(w);
		return NULL;
	}
	event_add(w->timer, &tv);
	w->next = s->watches;
	s->watches = w;
	return w;
}

/* Send x what it missed, paced: only while the client keeps up (less
 * than half the buffer cap unsent), so a long backlog never drops it; the
 * tick goes on where this stopped. 1 when the run's last event was sent. */
static int catch_up(struct serve *s, struct watcher *x, long id)
{
	struct q_error err = {0};
	json_t *evs = NULL, *ev;
	size_t i;
	long half = s->limits.sse_buffer_max / 2;
	int last = 0;

	while ((long)serve_pending(x->req) < half) {
		if (runstore_events(s->rs, id, x->sent, CATCH_UP_BATCH, &evs, &err))
			return 0;
		if (!json_array_size(evs)) {
			json_decref(evs);
			return 0;
		}
		json_array_foreach (evs, i, ev) {
			if ((long)serve_pending(x->req) >= half)
				break;
			last = is_last_event(ev);
			watcher_send(x, ev); /* cannot drop: it is under the cap */
			if (last)
				break;
		}
		json_decref(evs);
		if (last)
			return 1;
	}
	return 0;
}

static void research_events(struct serve_req *r)
{
	struct serve *s = serve_req_server(r);
	const char *resume = serve_header(r, "Last-Event-ID");
	struct run_record rec;
	struct q_error err = {0};
	struct watcher *x;
	struct serve_watch *w;
	long id, after = 0;
	int rc;

	if (path_id(r, &id))
		return;
	if (resume && *resume) {
		char *end;
		after = strtol(resume, &end, 10);
		if (*end || after < 0) {
			serve_reply_error(r, 400, "bad_field", "Last-Event-ID",
					  "Last-Event-ID is the number of the last event you had");
			return;
		}
	} else if (query_number(r, "after", 0, 1L << 62, &after)) {
		return;
	}
	memset(&rec, 0, sizeof(rec));
	if (runstore_get(s->rs, id, 0, &rec, &err)) {
		serve_reply_qerror(r, &err);
		return;
	}
	run_record_release(&rec);
	if (serve_watcher_take(r)) {
		serve_add_header(r, "Retry-After", "10");
		serve_reply_error(r, 503, "too_many_watchers", NULL,
				  "%d event streams are open, the limit; close one or raise "
				  "--max-watchers",
				  s->limits.max_watchers);
		return;
	}
	x = q_calloc(1, sizeof(*x));
	if (!x) {
		serve_reply_error(r, 503, "busy", NULL, "out of memory; try again");
		return;
	}
	x->req = r;
	x->sent = after;
	serve_sse_start(r);
	serve_sse_comment(r, "quarry events");
	/* Joined first so a drop in catch_up frees it the normal way. */
	x->watch = watch_for(s, id, after);
	if (!x->watch) {
		q_free(x);
		serve_end(r);
		return;
	}
	x->next = x->watch->watchers;
	x->watch->watchers = x;
	serve_on_gone(r, watcher_gone, x);
	w = x->watch;
	w->busy = 1;
	rc = catch_up(s, x, id);
	if (rc == 1)
		watcher_finish(x);
	w->busy = 0;
	if (!w->watchers)
		watch_free(w);
}

/* An announced event of run (0: the connection was made again, so any):
 * its watch reads now. */
static void on_announce(void *ctx, long run, long seq)
{
	struct serve *s = ctx;
	struct serve_watch *w, *next;

	/* Not a status change (seq 0): a run stores its final status just
	 * before its last event, which wakes the watch then. */
	if (run != 0 && seq == 0)
		return;
	for (w = s->watches; w; w = next) {
		next = w->next;
		if ((run == 0 || w->id == run) && !w->busy) {
			watch_tick(-1, 0, w); /* may free w; next was kept */
			if (run)
				break;
		}
	}
}

static void on_announced(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;
	struct q_error err = {0};
	int now_fd;

	(void)what;
	runstore_watch_take(s->announce_rs, on_announce, s, &err);
	now_fd = runstore_watch_fd(s->announce_rs, &err);
	if (now_fd != (int)fd) { /* reconnected: a new socket */
		event_free(s->announce_ev);
		s->announce_ev = now_fd >= 0
					 ? event_new(s->base, now_fd, EV_READ | EV_PERSIST, on_announced, s)
					 : NULL;
		if (s->announce_ev)
			event_add(s->announce_ev, NULL);
	}
}

void serve_announce_start(struct serve *s)
{
	struct q_error err = {0};
	int fd;

	if (runstore_reopen(&s->announce_rs, s->rs, &err))
		return; /* SQLite: the watches poll */
	if ((fd = runstore_watch_fd(s->announce_rs, &err)) < 0 ||
	    !(s->announce_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_announced, s)) ||
	    event_add(s->announce_ev, NULL)) {
		serve_announce_stop(s);
		return;
	}
}

void serve_announce_stop(struct serve *s)
{
	if (s->announce_ev)
		event_free(s->announce_ev);
	s->announce_ev = NULL;
	runstore_close(s->announce_rs);
	s->announce_rs = NULL;
}

void serve_watches_close(struct serve *s)
{
	while (s->watches) {
		struct serve_watch *w = s->watches;
		w->busy = 1;
		while (w->watchers)
			watcher_finish_as(w->watchers, "shutdown",
					  "{\"message\":\"the server is stopping; reconnect with "
					  "Last-Event-ID to go on where you left off\"}");
		watch_free(w);
	}
}

void serve_metrics_runs(struct serve *s, struct qbuf *b)
{
	long counts[RUN_STATUS_N];
	struct q_error err = {0};
	int i;

	qbuf_adds(b, "# HELP quarry_runs Runs in the store by status.\n# TYPE quarry_runs gauge\n");
	if (runstore_counts(s->rs, counts, &err) == 0)
		for (i = 0; i < RUN_STATUS_N; i++)
			qbuf_addf(b, "quarry_runs{status=\"%s\"} %ld\n", run_status_name((enum run_status)i),
				  counts[i]);
	qbuf_addf(b,
		  "# HELP quarry_queue_length Runs waiting for a worker.\n"
		  "# TYPE quarry_queue_length gauge\nquarry_queue_length %ld\n"
		  "# HELP quarry_runs_created_total Runs queued through this server.\n"
		  "# TYPE quarry_runs_created_total counter\nquarry_runs_created_total %llu\n"
		  "# HELP quarry_sse_events_sent_total Events written to watchers.\n"
		  "# TYPE quarry_sse_events_sent_total counter\nquarry_sse_events_sent_total %llu\n"
		  "# HELP quarry_sse_watchers_dropped_total Watchers dropped for falling behind.\n"
		  "# TYPE quarry_sse_watchers_dropped_total counter\n"
		  "quarry_sse_watchers_dropped_total %llu\n",
		  err.code ? 0 : counts[RUN_QUEUED], s->runs_created, s->events_sent, s->watchers_dropped);
}

const struct serve_route serve_research_routes[] = {
	{"POST", "/v1/research", research_post, SERVE_STARTS_WORK, "research_create"},
	{"GET", "/v1/research", research_list, 0, "research_list"},
	{"GET", "/v1/research/{id}/events", research_events, 0, "research_events"},
	{"GET", "/v1/research/{id}", research_get, 0, "research_get"},
	{"DELETE", "/v1/research/{id}", research_delete, 0, "research_delete"},
	{NULL, NULL, NULL, 0, NULL}};
