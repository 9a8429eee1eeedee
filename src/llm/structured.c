/*
 * structured.c - JSON replies checked against a schema, and batches of
 * requests (see llm.h).
 */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/pool.h"
#include "../core/qbuf.h"
#include "jsonx.h"
#include "llm.h"
#include "llm_int.h"

#define SCHEMA_MAX_DEPTH 32
#define SCHEMA_PATH_MAX_BYTES 4096 /* "$.a[3].b" of a failure: SCHEMA_MAX_DEPTH short keys */
#define FIX_PROMPT_MAX_BYTES 8192  /* the retry's "that reply cannot be used: ..." */

static int type_ok(const char *type, const json_t *v)
{
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "null") == 0)
		return json_is_null(v);
	return 1;
}

static const char *kind_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int check(const json_t *schema, const json_t *v, struct qbuf *path, int depth, struct q_error *err)
{
	const json_t *t = json_object_get(schema, "type"), *e, *props, *req, *items, *x;
	size_t i, mark = path->len;
	const char *k;
	json_t *sub;

	if (depth > SCHEMA_MAX_DEPTH || !json_is_object(schema))
		return 0;
	if (json_is_string(t) && !type_ok(json_string_value(t), v))
		return q_error_set(err, Q_EPARSE, "%s should be %s %s but is %s",
				   path->len ? qbuf_cstr(path) : "the reply",
				   strchr("aeiou", json_string_value(t)[0]) ? "an" : "a",
				   json_string_value(t), kind_of(v));
	if (json_is_array(t)) {
		int any = 0;
		json_array_foreach (t, i, sub)
			any |= json_is_string(sub) && type_ok(json_string_value(sub), v);
		if (!any)
			return q_error_set(err, Q_EPARSE, "%s has the wrong type (%s)",
					   path->len ? qbuf_cstr(path) : "the reply", kind_of(v));
	}
	if (json_is_array(e = json_object_get(schema, "enum"))) {
		int found = 0;
		json_array_foreach (e, i, sub)
			found |= json_equal(sub, (json_t *)v);
		if (!found) {
			char *allowed = json_dumps(e, JSON_COMPACT);
			q_error_set(err, Q_EPARSE, "%s must be one of %.200s",
				    path->len ? qbuf_cstr(path) : "the reply", allowed ? allowed : "the enum");
			free(allowed);
			return Q_EPARSE;
		}
	}
	if (json_is_object(v)) {
		req = json_object_get(schema, "required");
		json_array_foreach (req, i, sub) {
			if (json_is_string(sub) && !json_object_get(v, json_string_value(sub)))
				return q_error_set(err, Q_EPARSE, "%s lacks the required field \"%s\"",
						   path->len ? qbuf_cstr(path) : "the reply object",
						   json_string_value(sub));
		}
		props = json_object_get(schema, "properties");
		json_object_foreach ((json_t *)props, k, sub) {
			int rc;
			if (!(x = json_object_get(v, k)))
				continue;
			qbuf_addf(path, "%s%s", path->len ? "." : "", k);
			rc = check(sub, x, path, depth + 1, err);
			path->len = mark;
			if (path->data)
				path->data[mark] = '\0';
			if (rc)
				return rc;
		}
	}
	if (json_is_array(v)) {
		json_int_t mn = json_integer_value(json_object_get(schema, "minItems"));
		json_t *mx = json_object_get(schema, "maxItems");
		if ((json_int_t)json_array_size(v) < mn)
			return q_error_set(err, Q_EPARSE, "%s needs at least %lld items",
					   path->len ? qbuf_cstr(path) : "the reply", (long long)mn);
		if (json_is_integer(mx) && (json_int_t)json_array_size(v) > json_integer_value(mx))
			return q_error_set(err, Q_EPARSE, "%s has more than %lld items",
					   path->len ? qbuf_cstr(path) : "the reply",
					   (long long)json_integer_value(mx));
		items = json_object_get(schema, "items");
		json_array_foreach ((json_t *)v, i, x) {
			int rc;
			qbuf_addf(path, "[%zu]", i);
			rc = check(items, x, path, depth + 1, err);
			path->len = mark;
			if (path->data)
				path->data[mark] = '\0';
			if (rc)
				return rc;
		}
	}
	return 0;
}

int llm_schema_check(const json_t *schema, const json_t *value, struct q_error *err)
{
	struct qbuf path;
	int rc;

	if (!schema)
		return 0;
	qbuf_init(&path, SCHEMA_PATH_MAX_BYTES);
	rc = check(schema, value, &path, 0, err);
	qbuf_release(&path);
	return rc;
}

/* Parse and check resp->content; on success resp->json is set. */
static int take_json(const struct llm_request *req, struct llm_response *resp, struct q_error *err)
{
	json_t *v = jsonx_extract(resp->content, strlen(resp->content), err);

	if (!v) {
		if (strcmp(resp->finish_reason, "length") == 0)
			q_error_set(err, Q_EPARSE,
				    "the reply was cut off at the token limit before the "
				    "JSON ended");
		return Q_EPARSE;
	}
	if (llm_schema_check(req->schema, v, err)) {
		json_decref(v);
		return Q_EPARSE;
	}
	resp->json = v;
	return 0;
}

int llm_chat_json(struct llm_client *c, const struct llm_request *req, struct llm_response *resp,
		  struct q_error *err)
{
	struct llm_request r2;
	struct llm_message *msgs;
	struct llm_response second;
	struct q_error why = {0};
	struct qbuf fix;
	int rc;

	if (req->json) {
		rc = llm_chat(c, req, resp, err);
	} else {
		r2 = *req;
		r2.json = 1;
		rc = llm_chat(c, &r2, resp, err);
	}
	if (rc)
		return rc;
	if (take_json(req, resp, &why) == 0)
		return 0;

	/* One corrective round: show the model its reply and what was wrong. */
	msgs = q_calloc(req->n_messages + 2, sizeof(*msgs));
	if (!msgs) {
		llm_response_release(resp);
		return q_error_set(err, Q_ENOMEM, "out of memory");
	}
	memcpy(msgs, req->messages, req->n_messages * sizeof(*msgs));
	msgs[req->n_messages].role = "assistant";
	msgs[req->n_messages].content = resp->content;
	qbuf_init(&fix, FIX_PROMPT_MAX_BYTES);
	qbuf_addf(&fix,
		  "That reply cannot be used: %s. Reply again with only the corrected JSON "
		  "value.",
		  why.msg);
	msgs[req->n_messages + 1].role = "user";
	msgs[req->n_messages + 1].content = qbuf_cstr(&fix);
	r2 = *req;
	r2.json = 1;
	r2.messages = msgs;
	r2.n_messages = req->n_messages + 2;
	rc = llm_chat(c, &r2, &second, err);
	q_free(msgs);
	qbuf_release(&fix);
	if (rc == 0 && take_json(req, &second, &why) == 0) {
		/* Report the corrected reply; usage covers both rounds. */
		second.usage.prompt += resp->usage.prompt;
		second.usage.completion += resp->usage.completion;
		second.usage.reasoning += resp->usage.reasoning;
		second.usage.cost_usd += resp->usage.cost_usd;
		second.attempts += resp->attempts;
		llm_response_release(resp);
		*resp = second;
		return 0;
	}
	if (rc == 0) {
		llm_response_release(&second);
		rc = q_error_set(err, Q_EPARSE, "the model's reply was not the JSON asked for, twice: %s",
				 why.msg);
	}
	llm_response_release(resp);
	return rc;
}

/* ---- batches ---- */

struct batch {
	struct llm_client *c;
	const struct llm_request *reqs;
	int json;
	struct llm_response *resps;
	int *rcs;
	struct q_error *errs;
};

static void chat_one(void *arg, size_t i)
{
	struct batch *b = arg;

	b->rcs[i] = b->json ? llm_chat_json(b->c, &b->reqs[i], &b->resps[i], &b->errs[i])
			    : llm_chat(b->c, &b->reqs[i], &b->resps[i], &b->errs[i]);
}

/* On the process pool: max_concurrent calls at once, this thread one of them. */
void llm_chat_many(struct llm_client *c, const struct llm_request *reqs, size_t n, int json,
		   struct llm_response *resps, int *rcs, struct q_error *errs)
{
	struct batch b = {c, reqs, json, resps, rcs, errs};
	size_t k, want = c->cfg->max_concurrent > 0 ? (size_t)c->cfg->max_concurrent : 1;

	memset(resps, 0, n * sizeof(*resps));
	memset(errs, 0, n * sizeof(*errs));
	for (k = 0; k < n; k++)
		rcs[k] = Q_EIO;
	pool_run(pool_shared(), n, want, chat_one, &b);
}
