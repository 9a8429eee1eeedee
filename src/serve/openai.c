/*
 * openai.c - the OpenAI-compatible chat protocol (see openai.h): request
 * checks, the model list, chunks, completions and errors.
 *
 * Messages come from any chat front end, so they are checked like any
 * input: the body, the number of messages, the question and the context
 * kept are capped; content may be a string or an array of parts, of
 * which the text parts are read (images and audio are not: quarry
 * researches text). Models: quarry-research (the research defaults),
 * quarry-ask (one round, short answer) and quarry-research-deep (three
 * rounds, six queries each, up to 40 sources: for questions worth a few
 * minutes more; it earns its place because front ends offer no other
 * way to pass options).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/random.h"
#include "../mcp/mcp.h"
#include "openai.h"

static const char *const model_names[OPENAI_MODEL_N] = {"quarry-research", "quarry-ask",
							"quarry-research-deep"};
static const char *const model_about[OPENAI_MODEL_N] = {
	"research: plan, search, read, take checked notes, write a cited report",
	"a quick cited answer: one round of search and reading",
	"deeper research: three rounds, six queries each, up to 40 sources",
};

const char *openai_model_name(enum openai_model m)
{
	return m < OPENAI_MODEL_N ? model_names[m] : "quarry-research";
}

int openai_error_set(struct openai_error *e, int status, const char *type, const char *param,
		     const char *code, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->type = type;
	e->param = param;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

char *openai_error_body(const struct openai_error *e)
{
	json_t *j = json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", e->message, "type",
			      e->type ? e->type : "invalid_request_error", "param",
			      e->param ? json_string(e->param) : json_null(), "code",
			      e->code ? json_string(e->code) : json_null());
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

json_t *openai_models(long long created)
{
	json_t *data = json_array();
	int i;

	for (i = 0; data && i < OPENAI_MODEL_N; i++)
		json_array_append_new(data, json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", model_names[i],
						      "object", "model", "created", (json_int_t)created,
						      "owned_by", "quarry", "description", model_about[i]));
	return json_pack("{s:s, s:o}", "object", "list", "data", data);
}

/* The text of a message's content: a string, or the text parts of an
 * array of parts, joined by newlines. NULL when there is none. */
static int content_text(const json_t *content, struct qbuf *out)
{
	const json_t *part;
	size_t i;

	if (json_is_string(content))
		return qbuf_add(out, json_string_value(content), json_string_length(content));
	json_array_foreach ((json_t *)content, i, part) {
		const json_t *t = json_object_get(part, "text");
		if (!json_is_string(t))
			continue;
		if (out->len)
			qbuf_addc(out, '\n');
		qbuf_add(out, json_string_value(t), json_string_length(t));
	}
	return out->err;
}

static int parse_model(const json_t *body, enum openai_model *m, struct openai_error *e)
{
	const char *name = json_string_value(json_object_get(body, "model"));
	int i;

	if (!name)
		return openai_error_set(e, 400, "invalid_request_error", "model", NULL,
					"you must provide a model parameter (quarry-research, "
					"quarry-ask or quarry-research-deep)");
	for (i = 0; i < OPENAI_MODEL_N; i++)
		if (!strcmp(name, model_names[i])) {
			*m = (enum openai_model)i;
			return 0;
		}
	return openai_error_set(e, 404, "invalid_request_error", "model", "model_not_found",
				"The model '%.100s' does not exist; this server has quarry-research, "
				"quarry-ask and quarry-research-deep (GET /v1/models)",
				name);
}

/* The earlier turns as "role: text" lines, newest kept first within the
 * cap, in their order; the run the newest quarry answer names. */
static int collect_context(const json_t *msgs, size_t last_user, struct openai_request *r)
{
	struct qbuf ctx, one;
	size_t i, start = last_user, kept = 0;
	const json_t *m;

	/* How many of the turns before the question fit, newest first. */
	while (start > 0) {
		m = json_array_get(msgs, start - 1);
		qbuf_init(&one, OPENAI_MAX_CONTEXT_BYTES);
		content_text(json_object_get(m, "content"), &one);
		if (one.err || kept + one.len + 16 > (size_t)OPENAI_MAX_CONTEXT_BYTES) {
			qbuf_release(&one);
			break;
		}
		kept += one.len + 16;
		if (!r->follow_run && !strcmp(json_string_value(json_object_get(m, "role")), "assistant"))
			r->follow_run = openai_run_named(qbuf_cstr(&one));
		qbuf_release(&one);
		start--;
	}
	if (start == last_user)
		return 0;
	qbuf_init(&ctx, OPENAI_MAX_CONTEXT_BYTES + 64);
	for (i = start; i < last_user; i++) {
		m = json_array_get(msgs, i);
		qbuf_addf(&ctx, "%s: ", json_string_value(json_object_get(m, "role")));
		content_text(json_object_get(m, "content"), &ctx);
		qbuf_addc(&ctx, '\n');
	}
	if (ctx.err) {
		qbuf_release(&ctx);
		return Q_ENOMEM;
	}
	r->context = qbuf_detach(&ctx, NULL);
	return 0;
}

static int check_messages(const json_t *msgs, size_t *last_user, struct openai_error *e)
{
	static const char *const roles[] = {"system", "developer", "user", "assistant",
					    "tool",   "function",  NULL};
	const json_t *m, *c;
	const char *role;
	size_t i;
	int k, found = 0;

	if (!json_is_array(msgs) || !json_array_size(msgs))
		return openai_error_set(e, 400, "invalid_request_error", "messages", NULL,
					"messages must be a non-empty array");
	if (json_array_size(msgs) > OPENAI_MAX_MESSAGES)
		return openai_error_set(e, 400, "invalid_request_error", "messages", NULL,
					"%zu messages; the most is %d", json_array_size(msgs),
					OPENAI_MAX_MESSAGES);
	json_array_foreach ((json_t *)msgs, i, m) {
		role = json_string_value(json_object_get(m, "role"));
		for (k = 0; role && roles[k] && strcmp(roles[k], role); k++)
			;
		if (!role || !roles[k])
			return openai_error_set(e, 400, "invalid_request_error", "messages", NULL,
						"messages[%zu].role must be system, user, assistant or "
						"tool",
						i);
		c = json_object_get(m, "content");
		if (c && !json_is_null(c) && !json_is_string(c) && !json_is_array(c))
			return openai_error_set(e, 400, "invalid_request_error", "messages", NULL,
						"messages[%zu].content must be a string or an array of "
						"parts",
						i);
		if (!strcmp(role, "user")) {
			*last_user = i;
			found = 1;
		}
	}
	if (!found)
		return openai_error_set(e, 400, "invalid_request_error", "messages", NULL,
					"no user message: the last one is the question");
	return 0;
}

int openai_parse_request(const char *body, size_t len, struct openai_request *out, struct openai_error *e)
{
	json_error_t jerr;
	json_t *msgs, *stream;
	size_t last_user = 0;
	struct qbuf q;

	memset(out, 0, sizeof(*out));
	if (len > (size_t)OPENAI_MAX_BODY_BYTES)
		return openai_error_set(e, 413, "invalid_request_error", NULL, NULL,
					"the request body is %zu bytes; the most is %ld", len,
					OPENAI_MAX_BODY_BYTES);
	out->body = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(out->body)) {
		openai_request_release(out);
		return openai_error_set(e, 400, "invalid_request_error", NULL, NULL,
					"the body is not a JSON object: %s", jerr.text);
	}
	if (parse_model(out->body, &out->model, e))
		goto bad;
	stream = json_object_get(out->body, "stream");
	if (stream && !json_is_boolean(stream) && !json_is_null(stream)) {
		openai_error_set(e, 400, "invalid_request_error", "stream", NULL,
				 "stream must be true or false");
		goto bad;
	}
	out->stream = json_is_true(stream);
	msgs = json_object_get(out->body, "messages");
	if (check_messages(msgs, &last_user, e))
		goto bad;
	qbuf_init(&q, OPENAI_MAX_QUESTION_BYTES);
	content_text(json_object_get(json_array_get(msgs, last_user), "content"), &q);
	qbuf_rtrim(&q, " \t\r\n");
	if (q.err || !q.len) {
		qbuf_release(&q);
		openai_error_set(e, 400, "invalid_request_error", "messages", NULL,
				 q.err ? "the question is longer than %d bytes"
				       : "the last user message "
					 "is empty: it is the question",
				 OPENAI_MAX_QUESTION_BYTES);
		goto bad;
	}
	out->question = qbuf_detach(&q, NULL);
	if (!out->question || collect_context(msgs, last_user, out)) {
		openai_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
		goto bad;
	}
	return 0;
bad:
	openai_request_release(out);
	return -1;
}

void openai_request_release(struct openai_request *r)
{
	q_free(r->question);
	q_free(r->context);
	json_decref(r->body);
	memset(r, 0, sizeof(*r));
}

void openai_request_opts(const struct openai_request *r, struct research_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->question = r->question;
	if (r->model == OPENAI_ASK) {
		o->quick = 1;
	} else if (r->model == OPENAI_RESEARCH_DEEP) {
		o->depth = 3;
		o->breadth = 6;
		o->max_sources = 40;
	}
}

void openai_answer_init(struct openai_answer *a, enum openai_model m, long long now)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "chatcmpl-quarry%016llx", (unsigned long long)q_random_u64());
	a->created = now;
	a->model = openai_model_name(m);
}

/* Append "data: JSON\n\n" (chunk taken). */
static int sse_event(struct qbuf *out, json_t *chunk)
{
	char *s = chunk ? json_dumps(chunk, JSON_COMPACT) : NULL;
	int rc;

	json_decref(chunk);
	if (!s)
		return Q_ENOMEM;
	qbuf_adds(out, "data: ");
	qbuf_adds(out, s);
	rc = qbuf_adds(out, "\n\n");
	free(s);
	return rc;
}

static json_t *chunk_of(const struct openai_answer *a, json_t *choices)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:n, s:o}", "id", a->id, "object", "chat.completion.chunk",
			 "created", (json_int_t)a->created, "model", a->model, "system_fingerprint",
			 "choices", choices);
}

int openai_sse_delta(struct openai_answer *a, struct qbuf *out, const char *reasoning, const char *content)
{
	json_t *delta = json_object();

	if (!delta)
		return Q_ENOMEM;
	if (!a->role_sent)
		json_object_set_new(delta, "role", json_string("assistant"));
	a->role_sent = 1;
	if (reasoning)
		json_object_set_new(delta, "reasoning_content", json_string(reasoning));
	if (content)
		json_object_set_new(delta, "content", json_string(content));
	return sse_event(out, chunk_of(a, json_pack("[{s:i, s:o, s:n, s:n}]", "index", 0, "delta", delta,
						    "logprobs", "finish_reason")));
}

static json_t *usage_of(long prompt, long completion)
{
	return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)prompt, "completion_tokens",
			 (json_int_t)completion, "total_tokens", (json_int_t)(prompt + completion));
}

int openai_sse_finish(struct openai_answer *a, struct qbuf *out, const char *finish_reason,
		      long prompt_tokens, long completion_tokens)
{
	json_t *usage_chunk;

	if (!a->role_sent)
		openai_sse_delta(a, out, NULL, "");
	sse_event(out, chunk_of(a, json_pack("[{s:i, s:{}, s:n, s:s}]", "index", 0, "delta", "logprobs",
					     "finish_reason", finish_reason)));
	usage_chunk = chunk_of(a, json_array());
	if (usage_chunk)
		json_object_set_new(usage_chunk, "usage", usage_of(prompt_tokens, completion_tokens));
	sse_event(out, usage_chunk);
	return qbuf_adds(out, "data: [DONE]\n\n");
}

json_t *openai_completion(const struct openai_answer *a, const char *content, const char *reasoning,
			  long prompt_tokens, long completion_tokens)
{
	json_t *msg = json_pack("{s:s, s:s}", "role", "assistant", "content", content ? content : "");

	if (msg && reasoning)
		json_object_set_new(msg, "reasoning_content", json_string(reasoning));
	return json_pack("{s:s, s:s, s:I, s:s, s:n, s:[{s:i, s:o, s:n, s:s}], s:o}", "id", a->id, "object",
			 "chat.completion", "created", (json_int_t)a->created, "model", a->model,
			 "system_fingerprint", "choices", "index", 0, "message", msg, "logprobs",
			 "finish_reason", "stop", "usage", usage_of(prompt_tokens, completion_tokens));
}

int openai_run_line(long run_id, char *buf, size_t size)
{
	return snprintf(buf, size, "\n\n*" OPENAI_RUN_MARK "%ld*\n", run_id);
}

long openai_run_named(const char *text)
{
	const char *p = text, *hit = NULL;
	char *end;
	long id;

	while ((p = strstr(p, OPENAI_RUN_MARK))) { /* the last one counts */
		hit = p;
		p += strlen(OPENAI_RUN_MARK);
	}
	if (!hit)
		return 0;
	hit += strlen(OPENAI_RUN_MARK);
	if (*hit < '1' || *hit > '9')
		return 0;
	id = strtol(hit, &end, 10);
	return id > 0 && id <= 1000000000L && *end == '*' ? id : 0;
}

/* ---- an answer: a run of the queue, followed ---- */

/* Whether run options o (stored) ask for the same research as want. */
static int same_research(const json_t *o, const json_t *want)
{
	static const char *const keys[] = {"depth", "breadth", "max_sources", "quick", "sources", NULL};
	int i;

	for (i = 0; keys[i]; i++)
		if (!json_equal(json_object_get(o, keys[i]), json_object_get(want, keys[i])))
			return 0;
	return 1;
}

/* The newest run of this question and research asked within
 * OPENAI_REUSE_S that is going on or ended with a report: 0 if none. */
static long reusable_run(struct runstore *rs, const char *question, const json_t *want, long long now)
{
	struct runstore_filter f;
	struct run_record *v = NULL;
	size_t n = 0, i;
	long id = 0;

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.text = question;
	f.limit = 20;
	if (runstore_list(rs, &f, &v, &n, NULL))
		return 0;
	for (i = 0; i < n && !id; i++) {
		struct run_record rec;
		if (strcmp(v[i].question ? v[i].question : "", question) ||
		    v[i].created < now - OPENAI_REUSE_S || v[i].status == RUN_FAILED ||
		    v[i].status == RUN_CANCELLED)
			continue;
		memset(&rec, 0, sizeof(rec));
		if (runstore_get(rs, v[i].id, 0, &rec, NULL) == 0 && same_research(rec.options, want))
			id = rec.id;
		run_record_release(&rec);
	}
	runstore_list_free(v, n);
	return id;
}

/* The question a run is asked: a follow-up carries the question it follows. */
static char *run_question(struct runstore *rs, const struct openai_request *r)
{
	struct run_record prev;
	struct qbuf q;

	memset(&prev, 0, sizeof(prev));
	if (!r->follow_run || runstore_get(rs, r->follow_run, 0, &prev, NULL) || !prev.question)
		return q_strdup(r->question);
	qbuf_init(&q, OPENAI_MAX_QUESTION_BYTES * 2 + 64);
	qbuf_addf(&q, "%s (a follow-up to: %s)", r->question, prev.question);
	run_record_release(&prev);
	return q.err ? NULL : qbuf_detach(&q, NULL);
}

/* The earlier run a follow-up is answered from first (its sources and
 * findings, searching only for what they lack: research_opts.follow_run),
 * when it has a report to follow; 0 otherwise (then it is a new run). */
static long follow_source(struct runstore *rs, const struct openai_request *r)
{
	struct run_record prev;
	long id = 0;

	if (!r->follow_run || runstore_get(rs, r->follow_run, 0, &prev, NULL))
		return 0;
	if (prev.status == RUN_DONE || prev.status == RUN_STOPPED)
		id = prev.id;
	run_record_release(&prev);
	return id;
}

int openai_chat_start(struct openai_chat *c, struct runstore *rs, const struct openai_request *r,
		      int allow_private, long long now, struct openai_error *e)
{
	struct research_opts o;
	struct q_error err = {0};
	json_t *opts = NULL;
	char *question = NULL;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	openai_answer_init(&c->a, r->model, now);
	c->stream = r->stream;
	c->started = now;
	question = run_question(rs, r);
	openai_request_opts(r, &o);
	o.question = question;
	o.follow_run = follow_source(rs, r);
	o.allow_private = allow_private;
	opts = question ? research_opts_to_json(&o) : NULL;
	if (!opts) {
		openai_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
		goto out;
	}
	c->run_id = reusable_run(rs, question, opts, now);
	c->reused = c->run_id != 0;
	if (!c->run_id && runstore_create(rs, question, opts, RUN_QUEUED, NULL, &c->run_id, &err)) {
		openai_error_set(e, 503, "server_error", NULL, NULL, "cannot queue the research: %s", err.msg);
		goto out;
	}
	rc = 0;
out:
	json_decref(opts);
	q_free(question);
	return rc;
}

/* The text that ends an answer: the report and the line naming its run. */
static char *answer_text(const struct run_record *rec, const char *failure)
{
	struct qbuf b;
	char line[64];

	qbuf_init(&b, RESEARCH_REPORT_MAX_BYTES);
	if (rec->report_md)
		qbuf_adds(&b, rec->report_md);
	else
		qbuf_addf(&b, "The research ended without a report (%s)%s%s.", run_status_name(rec->status),
			  *failure ? ": " : "", failure);
	qbuf_rtrim(&b, "\n");
	openai_run_line(rec->id, line, sizeof(line));
	qbuf_adds(&b, line);
	return b.err ? NULL : qbuf_detach(&b, NULL);
}

/* Reasoning deltas for the run's new events (streaming only); the
 * message of a run_failed event into failure. */
static int show_events(struct openai_chat *c, struct runstore *rs, struct qbuf *out, char *failure,
		       size_t failure_size, struct openai_error *e)
{
	char msg[MCP_EVENT_SUMMARY_MAX + 2];
	struct q_error err = {0};
	json_t *evs = NULL, *ev;
	size_t i, k;

	if (runstore_events(rs, c->run_id, c->last_seq, 0, &evs, &err))
		return openai_error_set(e, 500, "server_error", NULL, NULL, "cannot read the run: %s", err.msg);
	json_array_foreach (evs, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		c->last_seq = (long)json_integer_value(json_object_get(ev, "seq"));
		if (type && !strcmp(type, "run_failed"))
			snprintf(failure, failure_size, "%s",
				 json_string_value(json_object_get(ev, "message"))
					 ? json_string_value(json_object_get(ev, "message"))
					 : "");
		if (!c->stream || !mcp_event_summary(ev, msg, sizeof(msg) - 2))
			continue;
		k = strlen(msg);
		msg[k] = '\n';
		msg[k + 1] = '\0';
		openai_sse_delta(&c->a, out, msg, NULL);
	}
	json_decref(evs);
	return 0;
}

/* Tokens the run's model calls used, from its report's figures. */
static void run_usage(const struct run_record *rec, long *prompt, long *completion)
{
	json_t *fig = json_object_get(rec->report, "figures");

	*prompt = (long)json_integer_value(json_object_get(fig, "prompt_tokens"));
	*completion = (long)json_integer_value(json_object_get(fig, "completion_tokens"));
}

int openai_chat_poll(struct openai_chat *c, struct runstore *rs, struct qbuf *out, int *done,
		     struct openai_error *e)
{
	struct run_record rec;
	struct q_error err = {0};
	char failure[Q_ERROR_MSG_MAX] = "", intro[96];
	char *text = NULL;
	long prompt = 0, completion = 0;
	int rc = -1;

	*done = 0;
	memset(&rec, 0, sizeof(rec));
	if (c->stream && !c->a.role_sent) {
		snprintf(intro, sizeof(intro), "%s%ld%s\n", OPENAI_RUN_MARK, c->run_id,
			 c->reused ? ": this question was asked before" : "");
		openai_sse_delta(&c->a, out, intro, NULL);
	}
	if (show_events(c, rs, out, failure, sizeof(failure), e))
		goto out;
	if (runstore_get(rs, c->run_id, 1, &rec, &err)) {
		openai_error_set(e, 500, "server_error", NULL, NULL, "cannot read run %ld: %s", c->run_id,
				 err.msg);
		goto out;
	}
	if (rec.status == RUN_QUEUED && c->stream && !c->said_queued) {
		openai_sse_delta(&c->a, out, "queued: waiting for a worker\n", NULL);
		c->said_queued = 1;
	}
	if (!run_status_final(rec.status)) {
		rc = 0;
		goto out;
	}
	if (!(text = answer_text(&rec, failure))) {
		openai_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
		goto out;
	}
	run_usage(&rec, &prompt, &completion);
	if (c->stream) {
		openai_sse_delta(&c->a, out, NULL, text);
		openai_sse_finish(&c->a, out, "stop", prompt, completion);
	} else {
		json_t *j = openai_completion(&c->a, text, NULL, prompt, completion);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (s)
			qbuf_adds(out, s);
		free(s);
	}
	if (out->err) {
		openai_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
		goto out;
	}
	*done = 1;
	rc = 0;
out:
	q_free(text);
	run_record_release(&rec);
	return rc;
}
