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
			"object", "model", "created", (json_int_t)created, "owned_by", "quarry",
			"description", model_about[i]));
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
	json_array_foreach((json_t *)content, i, part) {
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
				"quarry-ask and quarry-research-deep (GET /v1/models)", name);
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
	static const char *const roles[] = {"system", "developer", "user", "assistant", "tool",
					    "function", NULL};
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
	json_array_foreach((json_t *)msgs, i, m) {
		role = json_string_value(json_object_get(m, "role"));
		for (k = 0; role && roles[k] && strcmp(roles[k], role); k++)
			;
		if (!role || !roles[k])
			return openai_error_set(e, 400, "invalid_request_error", "messages", NULL,
						"messages[%zu].role must be system, user, assistant or "
						"tool", i);
		c = json_object_get(m, "content");
		if (c && !json_is_null(c) && !json_is_string(c) && !json_is_array(c))
			return openai_error_set(e, 400, "invalid_request_error", "messages", NULL,
						"messages[%zu].content must be a string or an array of "
						"parts", i);
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

int openai_parse_request(const char *body, size_t len, struct openai_request *out,
			 struct openai_error *e)
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
		openai_error_set(e, 400, "invalid_request_error", "messages", NULL, q.err ?
				 "the question is longer than %d bytes" : "the last user message "
				 "is empty: it is the question", OPENAI_MAX_QUESTION_BYTES);
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
	snprintf(a->id, sizeof(a->id), "chatcmpl-quarry%016llx",
		 (unsigned long long)q_random_u64());
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
	return json_pack("{s:s, s:s, s:I, s:s, s:n, s:o}", "id", a->id, "object",
			 "chat.completion.chunk", "created", (json_int_t)a->created, "model", a->model,
			 "system_fingerprint", "choices", choices);
}

int openai_sse_delta(struct openai_answer *a, struct qbuf *out, const char *reasoning,
		     const char *content)
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
	return sse_event(out, chunk_of(a, json_pack("[{s:i, s:o, s:n, s:n}]", "index", 0, "delta",
						    delta, "logprobs", "finish_reason")));
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
	sse_event(out, chunk_of(a, json_pack("[{s:i, s:{}, s:n, s:s}]", "index", 0, "delta",
					     "logprobs", "finish_reason", finish_reason)));
	usage_chunk = chunk_of(a, json_array());
	if (usage_chunk)
		json_object_set_new(usage_chunk, "usage", usage_of(prompt_tokens, completion_tokens));
	sse_event(out, usage_chunk);
	return qbuf_adds(out, "data: [DONE]\n\n");
}

json_t *openai_completion(const struct openai_answer *a, const char *content,
			  const char *reasoning, long prompt_tokens, long completion_tokens)
{
	json_t *msg = json_pack("{s:s, s:s}", "role", "assistant", "content", content ? content : "");

	if (msg && reasoning)
		json_object_set_new(msg, "reasoning_content", json_string(reasoning));
	return json_pack("{s:s, s:s, s:I, s:s, s:n, s:[{s:i, s:o, s:n, s:s}], s:o}", "id", a->id,
			 "object", "chat.completion", "created", (json_int_t)a->created, "model",
			 a->model, "system_fingerprint", "choices", "index", 0, "message", msg,
			 "logprobs", "finish_reason", "stop", "usage",
			 usage_of(prompt_tokens, completion_tokens));
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

	while ((p = strstr(p, OPENAI_RUN_MARK))) {   /* the last one counts */
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
