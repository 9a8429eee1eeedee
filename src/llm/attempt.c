/*
 * attempt.c - one attempt at a chat completion: a libcurl easy transfer
 * on the calling thread. Bytes go to the SSE parser (streams) or a
 * capped buffer (JSON replies and errors); answer text, reasoning
 * (reasoning_content fields and <think> blocks, also split across
 * chunks) and tool-call pieces go to the caller's callbacks as they
 * come. llm_attempt_judge then says whether to keep, retry or give up.
 *
 * The idle timeout counts progress, not bytes: only answer text,
 * reasoning and tool-call pieces restart it (or, for a plain JSON reply,
 * its body). SSE comments, blank lines and empty deltas are free for a
 * server to send forever, and once let `ask` hang for 50 minutes.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/qbuf.h"
#include "../core/version.h"
#include "../net/http.h"
#include "jsonx.h"
#include "llm_int.h"

#define MAX_ERROR_BODY (64 * 1024)
#define MAX_JSON_BODY (16L * 1024 * 1024)
static void emit(struct llm_attempt *a, int reasoning, const char *s, size_t n)
{
	if (!reasoning && !a->text_started) { /* R1 puts blank lines after </think> */
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
static void think_feed(struct llm_attempt *a, const char *s, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		const char *tag = a->in_think ? "</think>" : "<think>";
		size_t tl = strlen(tag);
		char ch = s[i];

		if (a->held == 0 && ch != '<')
			continue;
		if (a->held == 0) { /* a '<': flush the run before it, start holding */
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
		i--; /* look at this byte again (it may be a '<') */
	}
	emit(a, a->in_think, s + run, n - run);
}

/* Answer bytes arrived: the stream is making progress. */
static void progress(struct llm_attempt *a, size_t n)
{
	if (n == 0)
		return;
	a->answer_bytes += n;
	a->last_progress_ms = q_now_ms();
}

static void tool_delta(struct llm_attempt *a, json_t *tc)
{
	json_t *fn = json_object_get(tc, "function");
	json_int_t idx = json_integer_value(json_object_get(tc, "index"));
	const char *id = json_string_value(json_object_get(tc, "id"));
	const char *name = json_string_value(json_object_get(fn, "name"));
	const char *args = json_string_value(json_object_get(fn, "arguments"));
	struct tool_acc *t;

	if (!json_is_integer(json_object_get(tc, "index")))
		idx = a->n_tools > 0 ? a->n_tools - 1 : 0;
	if (idx < 0)
		return;
	if (idx >= LLM_MAX_TOOL_CALLS) {
		a->too_big = LLM_TOO_BIG_TOOLS;
		return;
	}
	t = &a->tools[idx];
	if (!t->used) {
		qbuf_init(&t->id, LLM_MAX_TOOL_NAME_BYTES);
		qbuf_init(&t->name, LLM_MAX_TOOL_NAME_BYTES);
		qbuf_init(&t->args, LLM_MAX_TOOL_ARGS_BYTES);
		t->used = 1;
	}
	if (idx + 1 > a->n_tools)
		a->n_tools = (int)idx + 1;
	progress(a, (id ? strlen(id) : 0) + (name ? strlen(name) : 0) + (args ? strlen(args) : 0));
	if (id && t->id.len == 0)
		qbuf_adds(&t->id, id);
	if (name)
		qbuf_adds(&t->name, name);
	if (args)
		qbuf_adds(&t->args, args);
	if (t->id.err || t->name.err || t->args.err) {
		a->too_big = t->args.err ? LLM_TOO_BIG_ARGS : LLM_TOO_BIG_NAME;
		return;
	}
	if (a->cb && a->cb->on_tool_delta)
		a->cb->on_tool_delta(a->cb->ctx, (int)idx, name, args ? args : "", args ? strlen(args) : 0);
}

/* Read one chat.completion or chat.completion.chunk object. */
static void take_choice(struct llm_attempt *a, json_t *obj, int streamed)
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
		progress(a, strlen(s));
		qbuf_adds(&a->reasoning, s);
		emit(a, 1, s, strlen(s));
	}
	if ((s = json_string_value(json_object_get(msg, "content"))) != NULL) {
		progress(a, strlen(s));
		qbuf_adds(&a->content, s);
		think_feed(a, s, strlen(s));
	}
	tcs = json_object_get(msg, "tool_calls");
	json_array_foreach (tcs, i, tc) {
		if (a->too_big)
			break;
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

/* 1 if the JSON text s holds more than LLM_MAX_JSON_VALUES values (a
 * cheap upper bound: commas and opening brackets outside strings). */
static int too_many_values(const char *s, size_t n)
{
	size_t i, values = 0;
	int in_string = 0;

	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = 0;
		} else if (ch == '"') {
			in_string = 1;
		} else if ((ch == ',' || ch == '[' || ch == '{') && ++values > LLM_MAX_JSON_VALUES) {
			return 1;
		}
	}
	return 0;
}

/* 1 (stop reading) once the reply passed a cap. */
static int check_size(struct llm_attempt *a)
{
	if (!a->too_big && (a->content.err || a->reasoning.err || a->answer_bytes > (size_t)LLM_MAX_REPLY_BYTES))
		a->too_big = LLM_TOO_BIG_REPLY;
	return a->too_big != LLM_FITS;
}

static int on_sse(void *ctx, const struct sse_event *ev)
{
	struct llm_attempt *a = ctx;
	json_t *obj, *e;
	json_error_t jerr;

	if (strcmp(ev->data, "[DONE]") == 0) {
		a->done = 1;
		return 0;
	}
	if (ev->data_len == 0)
		return 0;
	if (too_many_values(ev->data, ev->data_len)) {
		a->too_big = LLM_TOO_BIG_VALUES;
		return 1;
	}
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
		llm_server_text(a->c->cfg,
				m ? m : (json_is_string(e) ? json_string_value(e) : "error in the stream"),
				240, a->stream_error, sizeof(a->stream_error));
		a->stream_error_retry = k == 0 || k == 429 || k >= 500;
		json_decref(obj);
		return 1;
	}
	take_choice(a, obj, 1);
	json_decref(obj);
	return check_size(a);
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct llm_attempt *a = ctx;
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
		a->retry_after[0] = a->ctype[0] = '\0'; /* a new response (after 100-continue) */
	}
	return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ctx)
{
	struct llm_attempt *a = ctx;
	size_t len = size * n;

	if (!a->decided) {
		curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &a->status);
		a->is_sse = a->status == 200 && strncasecmp(a->ctype, "text/event-stream", 17) == 0;
		a->body.max = a->status == 200 ? (size_t)MAX_JSON_BODY : (size_t)MAX_ERROR_BODY;
		a->decided = 1;
	}
	if (a->is_sse) {
		int rc = sse_feed(&a->sse, p, len);
		if (rc == Q_ETOOBIG && !a->too_big)
			a->too_big = LLM_TOO_BIG_EVENT;
		return rc ? 0 : len;
	}
	a->last_progress_ms = q_now_ms(); /* a JSON body: its bytes are the reply */
	if (qbuf_add(&a->body, p, len)) {
		if (a->status != 200)
			return len; /* keep the start of a long error page */
		a->too_big = LLM_TOO_BIG_BODY;
		return 0;
	}
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct llm_attempt *a = ctx;

	if (llm_account_cancelled(a->acct) || (a->deadline_ms > 0 && q_now_ms() > a->deadline_ms)) {
		a->cancelled = 1;
		return 1;
	}
	if (q_now_ms() - a->last_progress_ms > (double)a->c->cfg->idle_ms) {
		a->stalled = 1;
		return 1;
	}
	return 0;
}

void llm_attempt_init(struct llm_attempt *a, struct llm_client *c, const struct llm_request *r)
{
	memset(a, 0, sizeof(*a));
	a->c = c;
	a->acct = llm_account_of(c, r);
	pthread_mutex_lock(&a->acct->mu); /* the progress callback then reads no shared state */
	a->deadline_ms = a->acct->deadline_ms;
	pthread_mutex_unlock(&a->acct->mu);
	a->req = r;
	a->cb = r->cb;
	sse_init(&a->sse, on_sse, a);
	qbuf_init(&a->body, MAX_ERROR_BODY);
	qbuf_init(&a->content, LLM_MAX_REPLY_BYTES);
	qbuf_init(&a->reasoning, LLM_MAX_REPLY_BYTES);
}

void llm_attempt_release(struct llm_attempt *a)
{
	int i;

	if (a->curl) { /* back to the pool, connections and all */
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
static void server_message(struct llm_attempt *a, char *out, size_t size)
{
	json_error_t jerr;
	json_t *o = json_loadb(qbuf_cstr(&a->body), a->body.len, 0, &jerr), *e;
	const char *m = NULL;

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
	llm_server_text(a->c->cfg, m, 240, out, size);
	json_decref(o);
}

void llm_server_text(const struct llm_config *cfg, const char *m, size_t max, char *out, size_t size)
{
	size_t n = strnlen(m, MAX_ERROR_BODY), i, k;
	char *full = q_malloc(n + 1);

	out[0] = '\0';
	if (!full || size == 0) {
		q_free(full);
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)m[i];
		full[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	full[n] = '\0';
	llm_mask_key(cfg, full); /* first: a cut through the key would hide it */
	k = strlen(full);
	if (k > max)
		k = max;
	if (k > size - 1)
		k = size - 1;
	while (k > 0 && k < strlen(full) && ((unsigned char)full[k] & 0xC0) == 0x80)
		k--; /* not inside a UTF-8 character */
	memcpy(out, full, k);
	out[k] = '\0';
	explicit_bzero(full, n + 1);
	q_free(full);
}

/* "the model's reply is too big (N bytes, limit M)", for the cap it passed. */
static void too_big_error(const struct llm_attempt *a, struct q_error *err)
{
	static const char hint[] = "stopped reading it: ask for a shorter answer (the max_tokens setting) or "
				   "check the server";

	switch (a->too_big) {
	case LLM_TOO_BIG_TOOLS:
		q_error_set(err, Q_ETOOBIG,
			    "the model's reply is too big (more than %d tool calls, "
			    "limit %d); %s",
			    LLM_MAX_TOOL_CALLS, LLM_MAX_TOOL_CALLS, hint);
		break;
	case LLM_TOO_BIG_ARGS:
		q_error_set(err, Q_ETOOBIG,
			    "the model's reply is too big (a tool call's arguments "
			    "passed %ld bytes, limit %ld); %s",
			    LLM_MAX_TOOL_ARGS_BYTES, LLM_MAX_TOOL_ARGS_BYTES, hint);
		break;
	case LLM_TOO_BIG_NAME:
		q_error_set(err, Q_ETOOBIG,
			    "the model's reply is too big (a tool call's name or id "
			    "passed %d bytes, limit %d); %s",
			    LLM_MAX_TOOL_NAME_BYTES, LLM_MAX_TOOL_NAME_BYTES, hint);
		break;
	case LLM_TOO_BIG_EVENT:
		q_error_set(err, Q_ETOOBIG,
			    "the model's reply is too big (one stream event passed "
			    "%d bytes, limit %d); %s",
			    SSE_MAX_EVENT_BYTES, SSE_MAX_EVENT_BYTES, hint);
		break;
	case LLM_TOO_BIG_VALUES:
		q_error_set(err, Q_ETOOBIG,
			    "the model's reply is too big (more than %d JSON values in "
			    "one message, limit %d); %s",
			    LLM_MAX_JSON_VALUES, LLM_MAX_JSON_VALUES, hint);
		break;
	case LLM_TOO_BIG_BODY:
		q_error_set(err, Q_ETOOBIG,
			    "the model's reply is too big (more than %zu bytes, limit "
			    "%ld); %s",
			    a->body.len, MAX_JSON_BODY, hint);
		break;
	default:
		q_error_set(err, Q_ETOOBIG, "the model's reply is too big (%zu bytes, limit %ld); %s",
			    a->answer_bytes, LLM_MAX_REPLY_BYTES, hint);
		break;
	}
}

static int mentions(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcasestr(s, *words))
			return 1;
	return 0;
}

/* Turn a finished transfer into an outcome and, on failure, a message. */
enum llm_outcome llm_attempt_judge(struct llm_attempt *a, CURLcode cc, const char *model, struct q_error *err,
				   int *connect_failure)
{
	const struct llm_config *cfg = a->c->cfg;
	static const char *const ctx_words[] = {"context", "maximum", "too long", "token", NULL};
	static const char *const rf_words[] = {"response_format", "json_schema", "json_object", "structured",
					       NULL};
	char sm[300];
	long st;

	*connect_failure = 0;
	if (a->cancelled)
		return llm_account_cancelled(a->acct)
			       ? (q_error_set(err, Q_ETIMEOUT, "cancelled"), LLM_FAIL)
			       : (q_error_set(err, Q_EBUDGET, "the time limit is reached"), LLM_FAIL);
	if (a->too_big)
		return too_big_error(a, err), LLM_FAIL;
	/* Stopped after part of the answer came (and went to the caller's
	 * callbacks): sending it again would pay twice and print it twice,
	 * and a server that drips or goes quiet mid-answer does it again. */
	if ((a->stalled || cc == CURLE_OPERATION_TIMEDOUT) && a->answer_bytes > 0) {
		char what[96];
		if (a->stalled)
			snprintf(what, sizeof(what), "nothing more for %.1f s", (double)cfg->idle_ms / 1000.0);
		else
			snprintf(what, sizeof(what), "it ran past the %.1f s timeout",
				 (double)cfg->timeout_ms / 1000.0);
		return q_error_set(err, Q_ETIMEOUT,
				   "the model server stopped sending its answer (%zu "
				   "bytes came, then %s); not asked again, as that would pay and print "
				   "it twice: try later, or raise %s",
				   a->answer_bytes, what,
				   a->stalled ? "QUARRY_LLM_IDLE_TIMEOUT" : "QUARRY_LLM_TIMEOUT"),
		       LLM_FAIL;
	}
	if (a->stalled)
		return q_error_set(err, Q_ETIMEOUT,
				   "the model server sent no answer for %.1f s "
				   "(keep-alives and empty chunks do not count)",
				   (double)cfg->idle_ms / 1000.0),
		       LLM_RETRY;
	if (cc != CURLE_OK && !(a->is_sse && cc == CURLE_WRITE_ERROR)) {
		*connect_failure = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST;
		if (cc == CURLE_OPERATION_TIMEDOUT)
			q_error_set(err, Q_ETIMEOUT, "the model server did not finish within %ld s",
				    cfg->timeout_ms / 1000);
		else if (cc == CURLE_COULDNT_RESOLVE_HOST)
			q_error_set(err, Q_ENET,
				    "cannot resolve the model server's host in %s: check "
				    "QUARRY_LLM_BASE_URL and your network",
				    cfg->base_url);
		else if (cc == CURLE_COULDNT_CONNECT)
			q_error_set(err, Q_ENET,
				    "cannot connect to the model server at %s: is it "
				    "running?",
				    cfg->base_url);
		else
			q_error_set(err, Q_ENET, "talking to the model server failed: %s",
				    curl_easy_strerror(cc));
		return cc == CURLE_SSL_CACERT || cc == CURLE_PEER_FAILED_VERIFICATION ||
				       cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT
			       ? LLM_FAIL
			       : LLM_RETRY;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &st);
	a->status = st;
	if (st != 200) {
		server_message(a, sm, sizeof(sm));
		switch (st) {
		case 400:
		case 422:
			if (a->req->json && mentions(sm, rf_words) && !a->c->json_downgraded)
				return LLM_DOWNGRADE;
			/* Reasoning models (o-series, GPT-5) take no temperature. */
			if (a->req->temperature >= 0 && !a->c->no_temperature && strcasestr(sm, "temperature"))
				return LLM_NO_TEMPERATURE;
			if (mentions(sm, ctx_words) && strcasestr(sm, "context"))
				return q_error_set(err, Q_ETOOBIG,
						   "the prompt is too long for %s's context "
						   "window (%s): set QUARRY_LLM_CONTEXT to the model's real "
						   "limit",
						   model, sm),
				       LLM_FAIL;
			return q_error_set(err, Q_EINVAL, "the model server refused the request (%ld): %s",
					   st, sm),
			       LLM_FAIL;
		case 401:
			return q_error_set(err, Q_EINVAL,
					   "the model server refused the API key (401%s%s): "
					   "check %s",
					   *sm ? ": " : "", sm,
					   *cfg->key_env ? cfg->key_env : "QUARRY_LLM_API_KEY"),
			       LLM_FAIL;
		case 402:
			return q_error_set(err, Q_EINVAL, "the model account has no credit left (402): %s", sm),
			       LLM_FAIL;
		case 403:
			return q_error_set(err, Q_EINVAL, "the key has no access to model %s (403): %s",
					   model, sm),
			       LLM_FAIL;
		case 404:
			return q_error_set(err, Q_EINVAL,
					   "model %s or the endpoint %s/chat/completions "
					   "does not exist (404): check the model setting and QUARRY_LLM_BASE_URL "
					   "(it usually ends in /v1)",
					   model, cfg->base_url),
			       LLM_FAIL;
		case 413:
			return q_error_set(err, Q_ETOOBIG,
					   "the request is too large for the model "
					   "server (413): %s",
					   sm),
			       LLM_FAIL;
		case 408:
		case 409:
		case 425:
		case 429:
		case 500:
		case 502:
		case 503:
		case 504:
			q_error_set(err, Q_EHTTP, "the model server answered %ld%s%s", st, *sm ? ": " : "", sm);
			return LLM_RETRY;
		default:
			q_error_set(err, Q_EHTTP, "the model server answered %ld%s%s", st, *sm ? ": " : "", sm);
			return st >= 520 && st <= 529 ? LLM_RETRY : LLM_FAIL;
		}
	}
	if (a->is_sse) {
		if (a->stream_error[0]) {
			q_error_set(err, Q_EHTTP, "the model server reported an error mid-stream: %s",
				    a->stream_error);
			return a->stream_error_retry ? LLM_RETRY : LLM_FAIL;
		}
		if (a->protocol_error)
			return q_error_set(err, Q_EPARSE,
					   "the model server sent a stream chunk that is "
					   "not JSON"),
			       LLM_RETRY;
		if (!a->done && !a->finished)
			return q_error_set(err, Q_ENET, "the reply stream was cut off before it ended"),
			       LLM_RETRY;
		return LLM_OK;
	}
	/* A JSON reply (asked for, or a server that ignores "stream"). */
	{
		json_error_t jerr;
		json_t *o;

		if (strncasecmp(a->ctype, "text/html", 9) == 0)
			return q_error_set(err, Q_EPARSE,
					   "%s answered with a web page, not the API: "
					   "check QUARRY_LLM_BASE_URL (it usually ends in /v1)",
					   cfg->base_url),
			       LLM_FAIL;
		/* JSON (not an event stream that was labelled as something else,
		 * whose many small events each pass the count on their own). */
		const char *b = qbuf_cstr(&a->body);
		char first = b[strspn(b, " \t\r\n")];

		if ((first == '{' || first == '[') && too_many_values(a->body.data, a->body.len)) {
			a->too_big = LLM_TOO_BIG_VALUES;
			return too_big_error(a, err), LLM_FAIL;
		}
		o = json_loadb(qbuf_cstr(&a->body), a->body.len, 0, &jerr);
		if (!o && a->body.len > 0 && memmem(a->body.data, a->body.len, "data:", 5)) {
			/* An event stream with the wrong content type. */
			sse_feed(&a->sse, a->body.data, a->body.len);
			sse_finish(&a->sse);
			a->is_sse = 1;
			return llm_attempt_judge(a, CURLE_OK, model, err, connect_failure);
		}
		if (!o || !json_is_array(json_object_get(o, "choices"))) {
			json_decref(o);
			return q_error_set(err, Q_EPARSE,
					   "the model server's reply is not a chat "
					   "completion (%s%s): check QUARRY_LLM_BASE_URL",
					   *a->ctype ? "content type " : "empty type", a->ctype),
			       LLM_RETRY;
		}
		take_choice(a, o, 0);
		json_decref(o);
		if (check_size(a))
			return too_big_error(a, err), LLM_FAIL;
		return LLM_OK;
	}
}

long llm_json_long(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* Fill resp from a successful attempt. */
int llm_attempt_finish(struct llm_client *c, struct llm_attempt *a, const struct llm_request *r,
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
	if (a->held) /* a held '<' that never became a tag */
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
	snprintf(resp->model, sizeof(resp->model), "%.127s", a->model[0] ? a->model : llm_model_of(c, r));

	/* Usage: as reported, else estimated. */
	if (a->usage && (v = llm_json_long(a->usage, "prompt_tokens")) >= 0) {
		json_t *pd = json_object_get(a->usage, "prompt_tokens_details");
		json_t *cd = json_object_get(a->usage, "completion_tokens_details");
		resp->usage.prompt = v;
		resp->usage.completion = llm_json_long(a->usage, "completion_tokens");
		if (resp->usage.completion < 0)
			resp->usage.completion = 0;
		if ((v = llm_json_long(pd, "cached_tokens")) >= 0 ||
		    (v = llm_json_long(a->usage, "prompt_cache_hit_tokens")) >= 0)
			resp->usage.cached = v;
		if ((v = llm_json_long(cd, "reasoning_tokens")) >= 0)
			resp->usage.reasoning = v;
		else if (a->reasoning.len > 0)
			resp->usage.reasoning = llm_estimate_tokens(qbuf_cstr(&a->reasoning), a->reasoning.len);
	} else {
		resp->usage.estimated = 1;
		resp->usage.prompt = llm_estimate_prompt(r->messages, r->n_messages);
		resp->usage.reasoning = llm_estimate_tokens(qbuf_cstr(&a->reasoning), a->reasoning.len);
		resp->usage.completion = llm_estimate_tokens(qbuf_cstr(&a->content), a->content.len) +
					 resp->usage.reasoning;
	}
	if (resp->usage.cached > resp->usage.prompt)
		resp->usage.cached = resp->usage.prompt;
	price = llm_price_of(c->cfg, llm_model_of(c, r), &known);
	resp->usage.cost_known = known;
	resp->usage.cost_usd = ((double)(resp->usage.prompt - resp->usage.cached) * price.in +
				(double)resp->usage.cached * price.cached_in +
				(double)resp->usage.completion * price.out) /
			       1e6;
	return 0;
}

/* Retry-After: seconds or an HTTP date; -1 if absent or unreadable. */
long llm_retry_after_ms(const char *v)
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

int llm_attempt_run(struct llm_client *c, struct llm_attempt *a, const char *body_text, int stream)
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
			explicit_bzero(auth, n); /* curl copied it */
			q_free(auth);
		}
	}
	pthread_mutex_lock(&c->mu);
	a->curl = c->n_idle > 0 ? c->idle[--c->n_idle] : NULL;
	pthread_mutex_unlock(&c->mu);
	if (a->curl)
		curl_easy_reset(a->curl); /* options cleared, live connections kept */
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
	curl_easy_setopt(a->curl, CURLOPT_OPENSOCKETFUNCTION, http_open_cloexec_socket);
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
	a->last_progress_ms = q_now_ms();
	cc = curl_easy_perform(a->curl);
	/* A partial event at the end is never dispatched: a stream cut in the
	 * middle of one is judged as cut off (done/finished stay unset). */
	if (a->is_sse)
		sse_finish(&a->sse);
	curl_slist_free_all(h); /* holds the key: freed, curl's copy goes with the handle */
	return (int)cc;
}
