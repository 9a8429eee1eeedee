/*
 * llm.c - the chat-completions client (see llm.h).
 *
 * One attempt = one libcurl easy transfer on the calling thread. Bytes
 * go to the SSE parser (streams) or a capped buffer (JSON replies and
 * errors). llm_chat wraps attempts in the limits (a slot, pacing, token
 * bucket), the retry loop and the cache.
 */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/qbuf.h"
#include "../core/sha256.h"
#include "../core/utf8.h"
#include "../core/version.h"
#include "../index/store.h"
#include "jsonx.h"
#include "llm.h"
#include "sse.h"

#define MAX_ERROR_BODY (64 * 1024)
#define MAX_JSON_BODY (16L * 1024 * 1024)
#define MAX_RETRY_AFTER_MS (300L * 1000)
#define BACKOFF_CAP_MS (30L * 1000)


/* ---- token estimates ---- */

long llm_estimate_tokens(const char *text, size_t n)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + n;
	double t = 0;

	while (p < end) {
		uint32_t cp;
		size_t k;
		if (*p < 0x80) {
			t += 0.25;
			p++;
			continue;
		}
		k = utf8_decode(p, (size_t)(end - p), &cp);
		if (k == 0)
			k = 1;
		t += utf8_is_cjk(cp) ? 1.0 : 0.5;
		p += k;
	}
	return (long)ceil(t);
}

long llm_estimate_prompt(const struct llm_message *m, size_t n)
{
	long t = 3;
	size_t i;

	for (i = 0; i < n; i++)
		t += 4 + (m[i].content ? llm_estimate_tokens(m[i].content, strlen(m[i].content)) : 0);
	return t;
}

/* ---- the client ---- */

int llm_client_init(struct llm_client *c, struct llm_config *cfg, struct q_error *err)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	if (pthread_mutex_init(&c->mu, NULL))
		return q_error_set(err, Q_ENOMEM, "cannot create a mutex");
	if (pthread_cond_init(&c->cv, NULL)) {
		pthread_mutex_destroy(&c->mu);
		return q_error_set(err, Q_ENOMEM, "cannot create a condition variable");
	}
	c->tpm_tokens = (double)cfg->tpm;
	c->tpm_at_ms = q_now_ms();
	return 0;
}

void llm_client_release(struct llm_client *c)
{
	while (c->n_idle > 0)
		curl_easy_cleanup(c->idle[--c->n_idle]);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

void llm_client_set_cache(struct llm_client *c, struct store *s)
{
	pthread_mutex_lock(&c->mu);
	c->cache = s;
	pthread_mutex_unlock(&c->mu);
}

void llm_client_cancel(struct llm_client *c) { c->cancelled = 1; }

struct llm_totals llm_client_totals(struct llm_client *c)
{
	struct llm_totals t;

	pthread_mutex_lock(&c->mu);
	t = c->totals;
	pthread_mutex_unlock(&c->mu);
	return t;
}

void llm_client_set_budget(struct llm_client *c, long tokens, double usd, long time_limit_ms)
{
	pthread_mutex_lock(&c->mu);
	c->budget_tokens = tokens;
	c->budget_usd = usd;
	c->deadline_ms = time_limit_ms > 0 ? q_now_ms() + (double)time_limit_ms : 0;
	pthread_mutex_unlock(&c->mu);
}

/* Caller holds mu. */
static const char *spent_locked(struct llm_client *c, char *buf, size_t size)
{
	const struct llm_totals *t = &c->totals;

	if (c->budget_tokens > 0 && t->prompt + t->completion >= c->budget_tokens)
		snprintf(buf, size, "the token budget (%ld) is spent", c->budget_tokens);
	else if (c->budget_usd > 0 && t->cost_usd >= c->budget_usd)
		snprintf(buf, size, "the money budget ($%.4g) is spent", c->budget_usd);
	else if (c->deadline_ms > 0 && q_now_ms() >= c->deadline_ms)
		snprintf(buf, size, "the time limit is reached");
	else
		return NULL;
	return buf;
}

const char *llm_budget_spent(struct llm_client *c, char *buf, size_t size)
{
	const char *r;

	pthread_mutex_lock(&c->mu);
	r = spent_locked(c, buf, size);
	pthread_mutex_unlock(&c->mu);
	return r;
}

/* Wait on the condition variable for at most ms. */
static void wait_ms(struct llm_client *c, double ms)
{
	struct timespec ts;
	double until;

	if (ms > 200)
		ms = 200;   /* wake up often enough to notice a cancel */
	clock_gettime(CLOCK_REALTIME, &ts);
	until = (double)ts.tv_nsec / 1e6 + ms;
	ts.tv_sec += (time_t)(until / 1000);
	ts.tv_nsec = (long)(fmod(until, 1000.0) * 1e6);
	pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

/* Take a slot within the concurrency, pacing and token limits. */
static int acquire(struct llm_client *c, long tokens, struct q_error *err)
{
	const struct llm_config *cfg = c->cfg;
	char why[128];

	pthread_mutex_lock(&c->mu);
	for (;;) {
		double t = q_now_ms(), wait = 0;

		if (c->cancelled) {
			pthread_mutex_unlock(&c->mu);
			return q_error_set(err, Q_ETIMEOUT, "cancelled");
		}
		if (spent_locked(c, why, sizeof(why))) {
			pthread_mutex_unlock(&c->mu);
			return q_error_set(err, Q_EBUDGET, "%s", why);
		}
		if (cfg->tpm > 0) {
			c->tpm_tokens += (t - c->tpm_at_ms) * (double)cfg->tpm / 60000.0;
			if (c->tpm_tokens > (double)cfg->tpm)
				c->tpm_tokens = (double)cfg->tpm;
			c->tpm_at_ms = t;
		}
		if (c->active >= cfg->max_concurrent)
			wait = 200;
		else if (t < c->paused_until_ms)
			wait = c->paused_until_ms - t;
		else if (cfg->rpm > 0 && t < c->next_start_ms)
			wait = c->next_start_ms - t;
		else if (cfg->tpm > 0 && c->tpm_tokens < (double)(tokens < cfg->tpm ? tokens : cfg->tpm))
			wait = ((double)(tokens < cfg->tpm ? tokens : cfg->tpm) - c->tpm_tokens) * 60000.0 /
			       (double)cfg->tpm;
		if (wait <= 0) {
			c->active++;
			if (cfg->rpm > 0)
				c->next_start_ms = (c->next_start_ms > t ? c->next_start_ms : t) +
						   60000.0 / cfg->rpm;
			if (cfg->tpm > 0)
				c->tpm_tokens -= (double)(tokens < cfg->tpm ? tokens : cfg->tpm);
			pthread_mutex_unlock(&c->mu);
			return 0;
		}
		wait_ms(c, wait);
	}
}

static void release_slot(struct llm_client *c)
{
	pthread_mutex_lock(&c->mu);
	c->active--;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Replace every copy of the key in msg with "***". */
static void mask_key(const struct llm_config *cfg, char *msg)
{
	size_t kn;
	char *p;

	if (!cfg->api_key || (kn = strlen(cfg->api_key)) < 4)
		return;
	while ((p = strstr(msg, cfg->api_key)) != NULL) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + kn, strlen(p + kn) + 1);
	}
}

/* ---- the request body ---- */

static const char *model_of(const struct llm_client *c, const struct llm_request *r)
{
	if (r->model && *r->model)
		return r->model;
	return r->fast ? c->cfg->fast_model : c->cfg->model;
}

static json_t *build_body(struct llm_client *c, const struct llm_request *r,
			  enum llm_json_mode mode, int stream)
{
	json_t *body = json_object(), *msgs = json_array();
	char *schema_text = NULL;
	size_t i;

	if (!body || !msgs)
		goto fail;
	json_object_set_new(body, "model", json_string(model_of(c, r)));
	if (r->json && r->schema)
		schema_text = json_dumps(r->schema, JSON_COMPACT | JSON_SORT_KEYS);
	for (i = 0; i < r->n_messages; i++) {
		const struct llm_message *m = &r->messages[i];
		json_t *o = json_object();
		if (!o || json_array_append_new(msgs, o))
			goto fail;
		json_object_set_new(o, "role", json_string(m->role ? m->role : "user"));
		if (r->json && i + 1 == r->n_messages && strcmp(m->role ? m->role : "user", "user") == 0) {
			/* Say it in words too: every mode needs it (OpenAI's
			 * json_object demands the word JSON in the prompt). */
			struct qbuf b;
			qbuf_init(&b, LLM_MAX_REPLY_BYTES);
			qbuf_adds(&b, m->content ? m->content : "");
			qbuf_adds(&b, "\n\nReply with one JSON value only, no prose and no code fences.");
			if (schema_text && mode != LLM_JSON_SCHEMA)
				qbuf_addf(&b, " It must match this JSON Schema: %s", schema_text);
			json_object_set_new(o, "content", json_string(qbuf_cstr(&b)));
			qbuf_release(&b);
		} else {
			json_object_set_new(o, "content", json_string(m->content ? m->content : ""));
		}
		if (m->tool_call_id)
			json_object_set_new(o, "tool_call_id", json_string(m->tool_call_id));
	}
	json_object_set_new(body, "messages", msgs);
	msgs = NULL;
	if (r->temperature >= 0 && !c->no_temperature)
		json_object_set_new(body, "temperature", json_real(r->temperature));
	if (r->max_tokens > 0)
		json_object_set_new(body,
				    strcmp(c->cfg->provider, "openai") == 0 ? "max_completion_tokens"
									     : "max_tokens",
				    json_integer(r->max_tokens));
	if (r->n_stop > 0) {
		json_t *a = json_array();
		for (i = 0; i < r->n_stop && i < 4; i++)
			json_array_append_new(a, json_string(r->stop[i]));
		json_object_set_new(body, "stop", a);
	}
	if (r->tools) {
		json_object_set(body, "tools", r->tools);
		if (r->tool_choice)
			json_object_set_new(body, "tool_choice", json_string(r->tool_choice));
	}
	if (r->json && mode == LLM_JSON_SCHEMA && r->schema) {
		json_t *rf = json_pack("{s:s, s:{s:s, s:O, s:b}}", "type", "json_schema", "json_schema",
				       "name", r->schema_name ? r->schema_name : "reply", "schema",
				       r->schema, "strict", 0);
		json_object_set_new(body, "response_format", rf);
	} else if (r->json && mode != LLM_JSON_NONE) {
		json_object_set_new(body, "response_format", json_pack("{s:s}", "type", "json_object"));
	}
	if (stream) {
		json_object_set_new(body, "stream", json_true());
		json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1));
	}
	free(schema_text);
	return body;
fail:
	free(schema_text);
	json_decref(msgs);
	json_decref(body);
	return NULL;
}

/* ---- one attempt ---- */

struct tool_acc {
	struct qbuf id, name, args;
	int used;
};

struct attempt {
	struct llm_client *c;
	const struct llm_request *req;
	const struct llm_callbacks *cb;
	CURL *curl;
	long status;
	int is_sse;
	int decided;               /* status and type looked at */
	struct sse_parser sse;
	struct qbuf body;          /* non-SSE body */
	struct qbuf content;       /* raw answer text, <think> included */
	struct qbuf reasoning;     /* reasoning_content */
	struct tool_acc tools[LLM_MAX_TOOL_CALLS];
	int n_tools;
	int in_think;              /* streaming <think> splitter */
	int text_started;          /* answer text other than blank lines emitted */
	char hold[16];
	size_t held;
	int done;                  /* [DONE] seen */
	int finished;              /* a finish_reason seen */
	char finish[32];
	char model[128];
	json_t *usage;
	char stream_error[300];
	int stream_error_retry;
	int protocol_error;        /* a chunk was not JSON */
	double last_byte_ms;
	int stalled;
	int cancelled;
	int too_big;
	char retry_after[64];
	char ctype[128];
};

static void emit(struct attempt *a, int reasoning, const char *s, size_t n)
{
	if (!reasoning && !a->text_started) {   /* R1 puts blank lines after </think> */
		while (n > 0 && (*s == '\n' || *s == '\r' || *s == ' '))
			s++, n--;
		a->text_started = n > 0;
	}
	if (n == 0 || !a->cb)
		return;
	if (reasoning && a->cb->on_reasoning)
		a->cb->on_reasoning(a->cb->ctx, s, n);
	else if (!reasoning && a->cb->on_text)
		a->cb->on_text(a->cb->ctx, s, n);
}

/* Pass answer text to the callbacks with <think> blocks routed to
 * on_reasoning, also when a tag is split between chunks. */
static void think_feed(struct attempt *a, const char *s, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		const char *tag = a->in_think ? "</think>" : "<think>";
		size_t tl = strlen(tag);
		char ch = s[i];

		if (a->held == 0 && ch != '<')
			continue;
		if (a->held == 0) {   /* a '<': flush the run before it, start holding */
			emit(a, a->in_think, s + run, i - run);
			a->hold[a->held++] = ch;
			run = i + 1;
			continue;
		}
		if ((ch | 0x20) == tag[a->held] || ch == tag[a->held]) {
			a->hold[a->held++] = ch;
			run = i + 1;
			if (a->held == tl) {
				a->in_think = !a->in_think;
				a->held = 0;
			}
			continue;
		}
		/* Not the tag after all: what was held is plain text. */
		emit(a, a->in_think, a->hold, a->held);
		a->held = 0;
		run = i;
		i--;   /* look at this byte again (it may be a '<') */
	}
	emit(a, a->in_think, s + run, n - run);
}

static void tool_delta(struct attempt *a, json_t *tc)
{
	json_t *fn = json_object_get(tc, "function");
	json_int_t idx = json_integer_value(json_object_get(tc, "index"));
	const char *id = json_string_value(json_object_get(tc, "id"));
	const char *name = json_string_value(json_object_get(fn, "name"));
	const char *args = json_string_value(json_object_get(fn, "arguments"));
	struct tool_acc *t;

	if (!json_is_integer(json_object_get(tc, "index")))
		idx = a->n_tools > 0 ? a->n_tools - 1 : 0;
	if (idx < 0 || idx >= LLM_MAX_TOOL_CALLS)
		return;
	t = &a->tools[idx];
	if (!t->used) {
		qbuf_init(&t->id, 256);
		qbuf_init(&t->name, 256);
		qbuf_init(&t->args, LLM_MAX_REPLY_BYTES);
		t->used = 1;
	}
	if (idx + 1 > a->n_tools)
		a->n_tools = (int)idx + 1;
	if (id && t->id.len == 0)
		qbuf_adds(&t->id, id);
	if (name)
		qbuf_adds(&t->name, name);
	if (args)
		qbuf_adds(&t->args, args);
	if (a->cb && a->cb->on_tool_delta)
		a->cb->on_tool_delta(a->cb->ctx, (int)idx, name, args ? args : "", args ? strlen(args) : 0);
}

/* Read one chat.completion or chat.completion.chunk object. */
static void take_choice(struct attempt *a, json_t *obj, int streamed)
{
	json_t *choices = json_object_get(obj, "choices"), *ch, *msg, *tcs, *tc;
	const char *s;
	size_t i;

	if ((s = json_string_value(json_object_get(obj, "model"))) != NULL)
		snprintf(a->model, sizeof(a->model), "%s", s);
	if (json_is_object(json_object_get(obj, "usage"))) {
		json_decref(a->usage);
		a->usage = json_incref(json_object_get(obj, "usage"));
	}
	ch = json_array_get(choices, 0);
	if (!ch)
		return;
	msg = json_object_get(ch, streamed ? "delta" : "message");
	if ((s = json_string_value(json_object_get(msg, "reasoning_content"))) != NULL ||
	    (s = json_string_value(json_object_get(msg, "reasoning"))) != NULL) {
		qbuf_adds(&a->reasoning, s);
		emit(a, 1, s, strlen(s));
	}
	if ((s = json_string_value(json_object_get(msg, "content"))) != NULL) {
		qbuf_adds(&a->content, s);
		think_feed(a, s, strlen(s));
	}
	tcs = json_object_get(msg, "tool_calls");
	json_array_foreach(tcs, i, tc) {
		if (!streamed && !json_object_get(tc, "index")) {
			json_t *copy = json_deep_copy(tc);
			json_object_set_new(copy, "index", json_integer((json_int_t)i));
			tool_delta(a, copy);
			json_decref(copy);
		} else {
			tool_delta(a, tc);
		}
	}
	if ((s = json_string_value(json_object_get(ch, "finish_reason"))) != NULL) {
		snprintf(a->finish, sizeof(a->finish), "%s", s);
		a->finished = 1;
	}
}

static int on_sse(void *ctx, const struct sse_event *ev)
{
	struct attempt *a = ctx;
	json_t *obj, *e;
	json_error_t jerr;

	if (strcmp(ev->data, "[DONE]") == 0) {
		a->done = 1;
		return 0;
	}
	if (ev->data_len == 0)
		return 0;
	obj = json_loadb(ev->data, ev->data_len, 0, &jerr);
	if (!obj) {
		a->protocol_error = 1;
		return 1;
	}
	if ((e = json_object_get(obj, "error")) != NULL) {
		/* OpenRouter and others report failures inside the stream. */
		const char *m = json_string_value(json_object_get(e, "message"));
		json_t *code = json_object_get(e, "code");
		long k = json_is_integer(code) ? (long)json_integer_value(code) : 0;
		snprintf(a->stream_error, sizeof(a->stream_error), "%s",
			 m ? m : (json_is_string(e) ? json_string_value(e) : "error in the stream"));
		a->stream_error_retry = k == 0 || k == 429 || k >= 500;
		json_decref(obj);
		return 1;
	}
	take_choice(a, obj, 1);
	json_decref(obj);
	if (a->content.err || a->reasoning.err) {
		a->too_big = 1;
		return 1;
	}
	return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct attempt *a = ctx;
	size_t len = size * n, k;

	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		for (k = 12; k < len && (p[k] == ' ' || p[k] == '\t'); k++)
			;
		snprintf(a->retry_after, sizeof(a->retry_after), "%.*s", (int)(len - k), p + k);
		a->retry_after[strcspn(a->retry_after, "\r\n")] = '\0';
	} else if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
		for (k = 13; k < len && (p[k] == ' ' || p[k] == '\t'); k++)
			;
		snprintf(a->ctype, sizeof(a->ctype), "%.*s", (int)(len - k), p + k);
		a->ctype[strcspn(a->ctype, "\r\n")] = '\0';
	} else if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		a->retry_after[0] = a->ctype[0] = '\0';   /* a new response (after 100-continue) */
	}
	return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ctx)
{
	struct attempt *a = ctx;
	size_t len = size * n;

	a->last_byte_ms = q_now_ms();
	if (!a->decided) {
		curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &a->status);
		a->is_sse = a->status == 200 && strncasecmp(a->ctype, "text/event-stream", 17) == 0;
		a->body.max = a->status == 200 ? (size_t)MAX_JSON_BODY : (size_t)MAX_ERROR_BODY;
		a->decided = 1;
	}
	if (a->is_sse) {
		int rc = sse_feed(&a->sse, p, len);
		if (rc == Q_ETOOBIG)
			a->too_big = 1;
		return rc ? 0 : len;
	}
	if (qbuf_add(&a->body, p, len)) {
		if (a->status != 200)
			return len;   /* keep the start of a long error page */
		a->too_big = 1;
		return 0;
	}
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct attempt *a = ctx;

	if (a->c->cancelled || (a->c->deadline_ms > 0 && q_now_ms() > a->c->deadline_ms)) {
		a->cancelled = 1;
		return 1;
	}
	if (q_now_ms() - a->last_byte_ms > (double)a->c->cfg->idle_ms) {
		a->stalled = 1;
		return 1;
	}
	return 0;
}

static void attempt_init(struct attempt *a, struct llm_client *c, const struct llm_request *r)
{
	memset(a, 0, sizeof(*a));
	a->c = c;
	a->req = r;
	a->cb = r->cb;
	sse_init(&a->sse, on_sse, a);
	qbuf_init(&a->body, MAX_ERROR_BODY);
	qbuf_init(&a->content, LLM_MAX_REPLY_BYTES);
	qbuf_init(&a->reasoning, LLM_MAX_REPLY_BYTES);
}

static void attempt_release(struct attempt *a)
{
	int i;

	if (a->curl) {   /* back to the pool, connections and all */
		pthread_mutex_lock(&a->c->mu);
		if (a->c->n_idle < LLM_POOL_MAX) {
			a->c->idle[a->c->n_idle++] = a->curl;
			a->curl = NULL;
		}
		pthread_mutex_unlock(&a->c->mu);
		if (a->curl)
			curl_easy_cleanup(a->curl);
	}
	a->curl = NULL;
	sse_release(&a->sse);
	qbuf_release(&a->body);
	qbuf_release(&a->content);
	qbuf_release(&a->reasoning);
	for (i = 0; i < LLM_MAX_TOOL_CALLS; i++)
		if (a->tools[i].used) {
			qbuf_release(&a->tools[i].id);
			qbuf_release(&a->tools[i].name);
			qbuf_release(&a->tools[i].args);
		}
	json_decref(a->usage);
}

/* What a server said went wrong, from its JSON error or its text. */
static void server_message(struct attempt *a, char *out, size_t size)
{
	json_error_t jerr;
	json_t *o = json_loadb(qbuf_cstr(&a->body), a->body.len, 0, &jerr), *e;
	const char *m = NULL;
	size_t i, k = 0;

	out[0] = '\0';
	if (o) {
		e = json_object_get(o, "error");
		m = json_string_value(json_object_get(e, "message"));
		if (!m)
			m = json_string_value(e);
		if (!m)
			m = json_string_value(json_object_get(o, "message"));
		if (!m)
			m = json_string_value(json_object_get(o, "detail"));
	}
	if (!m)
		m = qbuf_cstr(&a->body);
	for (i = 0; m[i] && k + 1 < size && k < 240; i++) {
		unsigned char ch = (unsigned char)m[i];
		out[k++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	out[k] = '\0';
	json_decref(o);
	mask_key(a->c->cfg, out);
}

static int mentions(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcasestr(s, *words))
			return 1;
	return 0;
}

enum outcome { OK, RETRY, FAIL, DOWNGRADE, NO_TEMPERATURE };

/* Turn a finished transfer into an outcome and, on failure, a message. */
static enum outcome judge(struct attempt *a, CURLcode cc, const char *model, struct q_error *err,
			  int *connect_failure)
{
	const struct llm_config *cfg = a->c->cfg;
	static const char *const ctx_words[] = {"context", "maximum", "too long", "token", NULL};
	static const char *const rf_words[] = {"response_format", "json_schema", "json_object",
					       "structured", NULL};
	char sm[300];
	long st;

	*connect_failure = 0;
	if (a->cancelled)
		return a->c->cancelled ? (q_error_set(err, Q_ETIMEOUT, "cancelled"), FAIL)
				       : (q_error_set(err, Q_EBUDGET, "the time limit is reached"), FAIL);
	if (a->too_big)
		return q_error_set(err, Q_ETOOBIG, "the model's reply passed %ld MB; stopped reading",
				   LLM_MAX_REPLY_BYTES >> 20), FAIL;
	if (a->stalled)
		return q_error_set(err, Q_ETIMEOUT, "the model server sent nothing for %ld s",
				   cfg->idle_ms / 1000), RETRY;
	if (cc != CURLE_OK && !(a->is_sse && cc == CURLE_WRITE_ERROR)) {
		*connect_failure = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST;
		if (cc == CURLE_OPERATION_TIMEDOUT)
			q_error_set(err, Q_ETIMEOUT, "the model server did not finish within %ld s",
				    cfg->timeout_ms / 1000);
		else if (cc == CURLE_COULDNT_RESOLVE_HOST)
			q_error_set(err, Q_ENET, "cannot resolve the model server's host in %s: check "
				    "QUARRY_LLM_BASE_URL and your network", cfg->base_url);
		else if (cc == CURLE_COULDNT_CONNECT)
			q_error_set(err, Q_ENET, "cannot connect to the model server at %s: is it "
				    "running?", cfg->base_url);
		else
			q_error_set(err, Q_ENET, "talking to the model server failed: %s",
				    curl_easy_strerror(cc));
		return cc == CURLE_SSL_CACERT || cc == CURLE_PEER_FAILED_VERIFICATION ||
				       cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT
			       ? FAIL
			       : RETRY;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &st);
	a->status = st;
	if (st != 200) {
		server_message(a, sm, sizeof(sm));
		switch (st) {
		case 400:
		case 422:
			if (a->req->json && mentions(sm, rf_words) && !a->c->json_downgraded)
				return DOWNGRADE;
			/* Reasoning models (o-series, GPT-5) take no temperature. */
			if (a->req->temperature >= 0 && !a->c->no_temperature && strcasestr(sm, "temperature"))
				return NO_TEMPERATURE;
			if (mentions(sm, ctx_words) && strcasestr(sm, "context"))
				return q_error_set(err, Q_ETOOBIG, "the prompt is too long for %s's context "
						   "window (%s): set QUARRY_LLM_CONTEXT to the model's real "
						   "limit", model, sm), FAIL;
			return q_error_set(err, Q_EINVAL, "the model server refused the request (%ld): %s",
					   st, sm), FAIL;
		case 401:
			return q_error_set(err, Q_EINVAL, "the model server refused the API key (401%s%s): "
					   "check %s", *sm ? ": " : "", sm,
					   *cfg->key_env ? cfg->key_env : "QUARRY_LLM_API_KEY"), FAIL;
		case 402:
			return q_error_set(err, Q_EINVAL, "the model account has no credit left (402): %s",
					   sm), FAIL;
		case 403:
			return q_error_set(err, Q_EINVAL, "the key has no access to model %s (403): %s",
					   model, sm), FAIL;
		case 404:
			return q_error_set(err, Q_EINVAL, "model %s or the endpoint %s/chat/completions "
					   "does not exist (404): check --model and QUARRY_LLM_BASE_URL "
					   "(it usually ends in /v1)", model, cfg->base_url), FAIL;
		case 413:
			return q_error_set(err, Q_ETOOBIG, "the request is too large for the model "
					   "server (413): %s", sm), FAIL;
		case 408:
		case 409:
		case 425:
		case 429:
		case 500:
		case 502:
		case 503:
		case 504:
			q_error_set(err, Q_EHTTP, "the model server answered %ld%s%s", st,
				    *sm ? ": " : "", sm);
			return RETRY;
		default:
			q_error_set(err, Q_EHTTP, "the model server answered %ld%s%s", st, *sm ? ": " : "",
				    sm);
			return st >= 520 && st <= 529 ? RETRY : FAIL;
		}
	}
	if (a->is_sse) {
		if (a->stream_error[0]) {
			mask_key(cfg, a->stream_error);
			q_error_set(err, Q_EHTTP, "the model server reported an error mid-stream: %s",
				    a->stream_error);
			return a->stream_error_retry ? RETRY : FAIL;
		}
		if (a->protocol_error)
			return q_error_set(err, Q_EPARSE, "the model server sent a stream chunk that is "
					   "not JSON"), RETRY;
		if (!a->done && !a->finished)
			return q_error_set(err, Q_ENET, "the reply stream was cut off before it ended"),
			       RETRY;
		return OK;
	}
	/* A JSON reply (asked for, or a server that ignores "stream"). */
	{
		json_error_t jerr;
		json_t *o;

		if (strncasecmp(a->ctype, "text/html", 9) == 0)
			return q_error_set(err, Q_EPARSE, "%s answered with a web page, not the API: "
					   "check QUARRY_LLM_BASE_URL (it usually ends in /v1)",
					   cfg->base_url), FAIL;
		o = json_loadb(qbuf_cstr(&a->body), a->body.len, 0, &jerr);
		if (!o && a->body.len > 0 && memmem(a->body.data, a->body.len, "data:", 5)) {
			/* An event stream with the wrong content type. */
			sse_feed(&a->sse, a->body.data, a->body.len);
			sse_finish(&a->sse);
			a->is_sse = 1;
			return judge(a, CURLE_OK, model, err, connect_failure);
		}
		if (!o || !json_is_array(json_object_get(o, "choices"))) {
			json_decref(o);
			return q_error_set(err, Q_EPARSE, "the model server's reply is not a chat "
					   "completion (%s%s): check QUARRY_LLM_BASE_URL",
					   *a->ctype ? "content type " : "empty type",
					   a->ctype), RETRY;
		}
		take_choice(a, o, 0);
		json_decref(o);
		if (a->content.err || a->reasoning.err)
			return q_error_set(err, Q_ETOOBIG, "the model's reply is too large"), FAIL;
		return OK;
	}
}

static long get_long(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* Fill resp from a successful attempt. */
static int finish_response(struct llm_client *c, struct attempt *a, const struct llm_request *r,
			   struct llm_response *resp, struct q_error *err)
{
	struct qbuf answer, inline_reasoning;
	const char *ans;
	int i, known;
	long v;
	struct llm_price price;

	qbuf_init(&answer, LLM_MAX_REPLY_BYTES);
	qbuf_init(&inline_reasoning, LLM_MAX_REPLY_BYTES);
	jsonx_split_reasoning(qbuf_cstr(&a->content), a->content.len, &answer, &inline_reasoning);
	if (a->held)   /* a held '<' that never became a tag */
		emit(a, a->in_think, a->hold, a->held);
	ans = qbuf_cstr(&answer);
	while (*ans == '\n' || *ans == ' ' || *ans == '\r')
		ans++;
	resp->content = q_strdup(ans);
	if (a->reasoning.len > 0 && inline_reasoning.len > 0)
		qbuf_addc(&a->reasoning, '\n');
	qbuf_add(&a->reasoning, qbuf_cstr(&inline_reasoning), inline_reasoning.len);
	resp->reasoning = q_strdup(qbuf_cstr(&a->reasoning));
	qbuf_release(&answer);
	qbuf_release(&inline_reasoning);
	if (!resp->content || !resp->reasoning)
		return q_error_set(err, Q_ENOMEM, "out of memory");
	if (a->n_tools > 0) {
		resp->calls = q_calloc((size_t)a->n_tools, sizeof(*resp->calls));
		if (!resp->calls)
			return q_error_set(err, Q_ENOMEM, "out of memory");
		for (i = 0; i < a->n_tools; i++) {
			struct tool_acc *t = &a->tools[i];
			if (!t->used)
				continue;
			resp->calls[resp->n_calls].id = q_strdup(qbuf_cstr(&t->id));
			resp->calls[resp->n_calls].name = q_strdup(qbuf_cstr(&t->name));
			resp->calls[resp->n_calls].arguments = q_strdup(qbuf_cstr(&t->args));
			resp->n_calls++;
		}
	}
	snprintf(resp->finish_reason, sizeof(resp->finish_reason), "%s",
		 a->finished ? a->finish : (a->done ? "stop" : ""));
	snprintf(resp->model, sizeof(resp->model), "%.127s", a->model[0] ? a->model : model_of(c, r));

	/* Usage: as reported, else estimated. */
	if (a->usage && (v = get_long(a->usage, "prompt_tokens")) >= 0) {
		json_t *pd = json_object_get(a->usage, "prompt_tokens_details");
		json_t *cd = json_object_get(a->usage, "completion_tokens_details");
		resp->usage.prompt = v;
		resp->usage.completion = get_long(a->usage, "completion_tokens");
		if (resp->usage.completion < 0)
			resp->usage.completion = 0;
		if ((v = get_long(pd, "cached_tokens")) >= 0 ||
		    (v = get_long(a->usage, "prompt_cache_hit_tokens")) >= 0)
			resp->usage.cached = v;
		if ((v = get_long(cd, "reasoning_tokens")) >= 0)
			resp->usage.reasoning = v;
		else if (a->reasoning.len > 0)
			resp->usage.reasoning = llm_estimate_tokens(qbuf_cstr(&a->reasoning),
								    a->reasoning.len);
	} else {
		resp->usage.estimated = 1;
		resp->usage.prompt = llm_estimate_prompt(r->messages, r->n_messages);
		resp->usage.reasoning = llm_estimate_tokens(qbuf_cstr(&a->reasoning), a->reasoning.len);
		resp->usage.completion = llm_estimate_tokens(qbuf_cstr(&a->content), a->content.len) +
					 resp->usage.reasoning;
	}
	if (resp->usage.cached > resp->usage.prompt)
		resp->usage.cached = resp->usage.prompt;
	price = llm_price_of(c->cfg, model_of(c, r), &known);
	resp->usage.cost_known = known;
	resp->usage.cost_usd = ((double)(resp->usage.prompt - resp->usage.cached) * price.in +
				(double)resp->usage.cached * price.cached_in +
				(double)resp->usage.completion * price.out) / 1e6;
	return 0;
}

/* Retry-After: seconds or an HTTP date; -1 if absent or unreadable. */
static long retry_after_ms(const char *v)
{
	char *end;
	double s;
	struct tm tm;

	if (!*v)
		return -1;
	errno = 0;
	s = strtod(v, &end);
	if (end != v && !errno && s >= 0 && (*end == '\0' || *end == ' '))
		return (long)(s * 1000);
	memset(&tm, 0, sizeof(tm));
	if (strptime(v, "%a, %d %b %Y %H:%M:%S", &tm)) {
		time_t t = timegm(&tm), now = time(NULL);
		return t > now ? (long)(t - now) * 1000 : 0;
	}
	return -1;
}

static int attempt_run(struct llm_client *c, struct attempt *a, const char *body_text,
		       int stream)
{
	const struct llm_config *cfg = c->cfg;
	struct curl_slist *h = NULL;
	char url[1100], *auth = NULL;
	CURLcode cc;

	snprintf(url, sizeof(url), "%s/chat/completions", cfg->base_url);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, stream ? "Accept: text/event-stream" : "Accept: application/json");
	if (cfg->api_key) {
		size_t n = strlen(cfg->api_key) + 32;
		auth = q_malloc(n);
		if (auth) {
			snprintf(auth, n, "Authorization: Bearer %s", cfg->api_key);
			h = curl_slist_append(h, auth);
			explicit_bzero(auth, n);   /* curl copied it */
			q_free(auth);
		}
	}
	pthread_mutex_lock(&c->mu);
	a->curl = c->n_idle > 0 ? c->idle[--c->n_idle] : NULL;
	pthread_mutex_unlock(&c->mu);
	if (a->curl)
		curl_easy_reset(a->curl);   /* options cleared, live connections kept */
	else
		a->curl = curl_easy_init();
	if (!a->curl || !h) {
		curl_slist_free_all(h);
		if (a->curl)
			curl_easy_cleanup(a->curl);
		a->curl = NULL;
		return CURLE_OUT_OF_MEMORY;
	}
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body_text);
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "quarry/" QUARRY_VERSION);
	curl_easy_setopt(a->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_ms);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(a->curl, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(a->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(a->curl, CURLOPT_XFERINFODATA, a);
	curl_easy_setopt(a->curl, CURLOPT_NOPROGRESS, 0L);
	a->last_byte_ms = q_now_ms();
	cc = curl_easy_perform(a->curl);
	/* A partial event at the end is never dispatched: a stream cut in the
	 * middle of one is judged as cut off (done/finished stay unset). */
	if (a->is_sse)
		sse_finish(&a->sse);
	curl_slist_free_all(h);   /* holds the key: freed, curl's copy goes with the handle */
	return (int)cc;
}

/* ---- the cache ---- */

static void cache_key(struct llm_client *c, const char *body_text, char key[65])
{
	struct qbuf b;

	qbuf_init(&b, (size_t)-1);
	qbuf_adds(&b, c->cfg->base_url);
	qbuf_addc(&b, '\n');
	qbuf_adds(&b, body_text);
	sha256_hex(qbuf_cstr(&b), b.len, key);
	qbuf_release(&b);
}

/* o's string member k, or dflt. */
static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : dflt;
}

static int cache_get(struct llm_client *c, const char *key, struct llm_response *resp)
{
	sqlite3_stmt *st = NULL;
	json_t *o = NULL, *u, *calls, *tc;
	json_error_t jerr;
	int found = 0;
	size_t i;

	pthread_mutex_lock(&c->mu);
	if (c->cache && sqlite3_prepare_v2(c->cache->db, "SELECT reply FROM llm_cache WHERE key = ?1",
					   -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			o = json_loads((const char *)sqlite3_column_text(st, 0), 0, &jerr);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&c->mu);
	if (!o || !json_is_string(json_object_get(o, "content")))
		goto out;
	resp->content = q_strdup(jstr(o, "content", ""));
	resp->reasoning = q_strdup(jstr(o, "reasoning", ""));
	snprintf(resp->finish_reason, sizeof(resp->finish_reason), "%s", jstr(o, "finish_reason", "stop"));
	snprintf(resp->model, sizeof(resp->model), "%s", jstr(o, "model", ""));
	u = json_object_get(o, "usage");
	resp->usage.prompt = get_long(u, "prompt") > 0 ? get_long(u, "prompt") : 0;
	resp->usage.completion = get_long(u, "completion") > 0 ? get_long(u, "completion") : 0;
	resp->usage.reasoning = get_long(u, "reasoning") > 0 ? get_long(u, "reasoning") : 0;
	resp->usage.cached = get_long(u, "cached") > 0 ? get_long(u, "cached") : 0;
	resp->usage.cost_known = 1;
	calls = json_object_get(o, "tool_calls");
	if (json_array_size(calls) > 0 && json_array_size(calls) <= LLM_MAX_TOOL_CALLS) {
		resp->calls = q_calloc(json_array_size(calls), sizeof(*resp->calls));
		json_array_foreach(calls, i, tc) {
			if (!resp->calls)
				break;
			resp->calls[i].id = q_strdup(jstr(tc, "id", ""));
			resp->calls[i].name = q_strdup(jstr(tc, "name", ""));
			resp->calls[i].arguments = q_strdup(jstr(tc, "arguments", ""));
			resp->n_calls++;
		}
	}
	found = resp->content && resp->reasoning;
	resp->from_cache = found;
out:
	json_decref(o);
	return found;
}

static void cache_put(struct llm_client *c, const char *key, const struct llm_response *r)
{
	json_t *o, *calls = json_array();
	sqlite3_stmt *st = NULL;
	char *text;
	size_t i;

	for (i = 0; i < r->n_calls; i++)
		json_array_append_new(calls, json_pack("{s:s, s:s, s:s}", "id", r->calls[i].id ?
						       r->calls[i].id : "", "name", r->calls[i].name ?
						       r->calls[i].name : "", "arguments",
						       r->calls[i].arguments ? r->calls[i].arguments : ""));
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I}}", "content", r->content,
		      "reasoning", r->reasoning, "finish_reason", r->finish_reason, "model", r->model,
		      "tool_calls", calls, "usage", "prompt", (json_int_t)r->usage.prompt,
		      "completion", (json_int_t)r->usage.completion, "reasoning",
		      (json_int_t)r->usage.reasoning, "cached", (json_int_t)r->usage.cached);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->cache && !c->cache_writes_off &&
	    sqlite3_prepare_v2(c->cache->db, "INSERT OR REPLACE INTO llm_cache(key, model, created, "
			       "reply) VALUES (?1, ?2, strftime('%s','now'), ?3)", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->model, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
		sqlite3_step(st);   /* a cache that cannot be written is no failure */
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&c->mu);
	free(text);
}

static void replay(const struct llm_request *r, const struct llm_response *resp)
{
	size_t i;

	if (!r->cb)
		return;
	if (r->cb->on_reasoning && resp->reasoning[0])
		r->cb->on_reasoning(r->cb->ctx, resp->reasoning, strlen(resp->reasoning));
	if (r->cb->on_text && resp->content[0])
		r->cb->on_text(r->cb->ctx, resp->content, strlen(resp->content));
	for (i = 0; i < resp->n_calls && r->cb->on_tool_delta; i++)
		r->cb->on_tool_delta(r->cb->ctx, (int)i, resp->calls[i].name, resp->calls[i].arguments,
				     strlen(resp->calls[i].arguments));
}

/* ---- llm_chat ---- */

static long backoff_ms(int attempt)
{
	const char *b = getenv("QUARRY_LLM_BACKOFF_MS");   /* tests shorten it */
	long base = b && *b ? atol(b) : 1000, d;
	double jitter = 0.5 + (double)(rand() % 1000) / 1000.0;   /* 0.5 .. 1.5 */

	if (base < 1)
		base = 1;
	d = base << (attempt < 10 ? attempt : 10);
	if (d > BACKOFF_CAP_MS)
		d = BACKOFF_CAP_MS;
	return (long)((double)d * jitter);
}

/* Sleep ms unless the client is cancelled. */
static int nap(struct llm_client *c, long ms)
{
	double until = q_now_ms() + (double)ms;

	pthread_mutex_lock(&c->mu);
	while (!c->cancelled && q_now_ms() < until)
		wait_ms(c, until - q_now_ms());
	pthread_mutex_unlock(&c->mu);
	return c->cancelled ? Q_ETIMEOUT : 0;
}

void llm_response_release(struct llm_response *r)
{
	size_t i;

	q_free(r->content);
	q_free(r->reasoning);
	for (i = 0; i < r->n_calls; i++) {
		q_free(r->calls[i].id);
		q_free(r->calls[i].name);
		q_free(r->calls[i].arguments);
	}
	q_free(r->calls);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static void count(struct llm_client *c, const struct llm_response *r, int failed, int retries)
{
	pthread_mutex_lock(&c->mu);
	c->totals.retries += retries;
	if (failed) {
		c->totals.failures++;
	} else if (r->from_cache) {
		c->totals.calls++;
		c->totals.cache_hits++;
	} else {
		c->totals.calls++;
		c->totals.prompt += r->usage.prompt;
		c->totals.cached += r->usage.cached;
		c->totals.completion += r->usage.completion;
		c->totals.reasoning += r->usage.reasoning;
		c->totals.estimated_calls += r->usage.estimated;
		c->totals.cost_usd += r->usage.cost_usd;
		if (!r->usage.cost_known)
			c->totals.cost_unknown = 1;
	}
	pthread_mutex_unlock(&c->mu);
}

int llm_chat(struct llm_client *c, const struct llm_request *r, struct llm_response *resp,
	     struct q_error *err)
{
	const struct llm_config *cfg = c->cfg;
	const char *model = model_of(c, r);
	double t0 = q_now_ms();
	long est = llm_estimate_prompt(r->messages, r->n_messages);
	int attempt = 0, rc = 0, connect_failures = 0, stream = cfg->stream;
	char key[65], *keytext = NULL;
	json_t *body;
	struct llm_request capped;

	memset(resp, 0, sizeof(*resp));
	if (r->n_messages == 0)
		return q_error_set(err, Q_EINVAL, "no messages to send");
	if (est + (r->max_tokens > 0 ? r->max_tokens : 0) > cfg->context)
		return q_error_set(err, Q_ETOOBIG, "the prompt is about %ld tokens%s, more than %s's "
				   "context of %ld: shorten it, or set QUARRY_LLM_CONTEXT if the model "
				   "takes more", est, r->max_tokens > 0 ? " plus the reply" : "", model,
				   cfg->context);
	/* The cache key ignores how the reply travels (stream or not). */
	body = build_body(c, r, c->json_downgraded ? LLM_JSON_NONE : cfg->json_mode, 0);
	keytext = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(body);
	if (!keytext)
		return q_error_set(err, Q_ENOMEM, "out of memory building the request");
	cache_key(c, keytext, key);
	free(keytext);
	if (!r->no_cache && cache_get(c, key, resp)) {
		resp->ms = q_now_ms() - t0;
		replay(r, resp);
		count(c, resp, 0, 0);
		return 0;
	}
	llm_response_release(resp);

	/* Under a token budget a reply may not run past what is left (the
	 * cache key above is the request as asked, so a resumed run still
	 * finds it). */
	if (c->budget_tokens > 0) {
		struct llm_totals t = llm_client_totals(c);
		long left = c->budget_tokens - (t.prompt + t.completion) - est;
		if (left < 256)
			left = 256;
		capped = *r;
		if (capped.max_tokens == 0 || capped.max_tokens > left)
			capped.max_tokens = left;
		r = &capped;
	}

	for (;;) {
		struct attempt a;
		enum outcome out;
		char *text;
		int cc, conn;
		long delay;

		body = build_body(c, r, c->json_downgraded ? LLM_JSON_NONE : cfg->json_mode, stream);
		text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (!text) {
			rc = q_error_set(err, Q_ENOMEM, "out of memory building the request");
			break;
		}
		if ((rc = acquire(c, est + (r->max_tokens > 0 ? r->max_tokens : 512), err))) {
			free(text);
			break;
		}
		attempt_init(&a, c, r);
		cc = attempt_run(c, &a, text, stream);
		free(text);
		release_slot(c);
		attempt++;
		out = judge(&a, (CURLcode)cc, model, err, &conn);
		if (out == OK) {
			rc = finish_response(c, &a, r, resp, err);
			if (!rc && a.finished == 0 && a.done == 0 && !a.is_sse)
				resp->finish_reason[0] = '\0';
		}
		delay = retry_after_ms(a.retry_after);
		attempt_release(&a);
		if (out == OK)
			break;
		if (out == DOWNGRADE || out == NO_TEMPERATURE) {   /* drop what the server refused */
			pthread_mutex_lock(&c->mu);
			if (out == DOWNGRADE)
				c->json_downgraded = 1;
			else
				c->no_temperature = 1;
			pthread_mutex_unlock(&c->mu);
			attempt--;
			continue;
		}
		rc = err ? err->code : Q_EIO;
		if (rc == 0)
			rc = Q_EIO;
		if (out == FAIL)
			break;
		connect_failures += conn;
		if (attempt > cfg->max_retries || connect_failures > 1)
			break;
		if (delay > MAX_RETRY_AFTER_MS) {
			if (err) {
				char prev[Q_ERROR_MSG_MAX];
				memcpy(prev, err->msg, sizeof(prev));
				q_error_set(err, Q_EHTTP, "%.300s; the server asks to wait %ld s, longer "
					    "than we will", prev, delay / 1000);
			}
			break;
		}
		if (delay < 0)
			delay = backoff_ms(attempt - 1);
		else {   /* pause every request to this server, not just this one */
			pthread_mutex_lock(&c->mu);
			if (q_now_ms() + (double)delay > c->paused_until_ms)
				c->paused_until_ms = q_now_ms() + (double)delay;
			pthread_mutex_unlock(&c->mu);
		}
		if (r->cb && r->cb->on_retry)
			r->cb->on_retry(r->cb->ctx, attempt, err ? err->msg : "", delay);
		if (nap(c, delay)) {
			rc = q_error_set(err, Q_ETIMEOUT, "cancelled");
			break;
		}
	}
	resp->attempts = attempt;
	resp->ms = q_now_ms() - t0;
	if (rc) {
		if (attempt > 1 && err && !c->cancelled) {
			char prev[Q_ERROR_MSG_MAX];
			memcpy(prev, err->msg, sizeof(prev));
			q_error_set(err, rc, "%.400s (after %d attempts)", prev, attempt);
		}
		if (err)
			mask_key(cfg, err->msg);
		count(c, resp, 1, attempt > 0 ? attempt - 1 : 0);
		llm_response_release(resp);
		return rc;
	}
	count(c, resp, 0, attempt - 1);
	if (!r->no_cache && strcmp(resp->finish_reason, "length") != 0)
		cache_put(c, key, resp);
	return 0;
}
