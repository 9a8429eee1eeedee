/*
 * mcp_tools.c - the MCP tools: research, ask, search_corpus, fetch_url,
 * get_run and list_runs.
 *
 * A model that calls tools is untrusted input, so each tool's arguments
 * are declared once, in a table (name, type, range or length, choices),
 * and both the inputSchema tools/list shows and the check tools/call
 * makes are built from that table: a schema cannot promise what the
 * check lets through. Unknown arguments are refused. The tools only
 * search, read the corpus's index and fetch http(s) pages through the
 * address policy (private and loopback addresses only when the server
 * was started allowing them); they run no programs of the caller's
 * choosing and write nothing but the run records in $QUARRY_HOME.
 *
 * Results carry the text a model reads (content) and the same facts as
 * structuredContent, matching each tool's outputSchema.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/qbuf.h"
#include "../doc/doc.h"
#include "../index/corpus.h"
#include "../net/http.h"
#include "../research/runstore.h"
#include "mcp_int.h"

#define TOOL_MAX_QUESTION_BYTES (64 * 1024)
#define TOOL_MAX_URL_BYTES 8192
#define TOOL_MAX_TEXT_CHARS (1000L * 1000) /* fetch_url's text at most */
#define TOOL_DEFAULT_TEXT_CHARS (100L * 1000)
#define TOOL_MAX_HITS 50
#define TOOL_ASK_TIME_LIMIT_MS (10L * 60 * 1000) /* as `quarry ask`: an ask always ends */
#define TOOL_MAX_LIST 100
#define TOOL_QUEUE_POLL_MS 250 /* a queued run's events are looked for this often */
#define TOOL_MAX_LIST_TEXT_BYTES ((size_t)4 * 1024 * 1024)    /* a list of hits or runs as text */
#define TOOL_MAX_REPORT_TEXT_BYTES ((size_t)64 * 1024 * 1024) /* a report: RESEARCH_REPORT_MAX_BYTES */

enum arg_type { ARG_STRING, ARG_INT, ARG_CHOICE, ARG_SOURCES };

/* One argument of a tool: the schema and the check come from this. */
struct tool_arg {
	const char *name;
	enum arg_type type;
	int required;
	long min, max;              /* ARG_INT: the range; strings: bytes */
	const char *const *choices; /* ARG_CHOICE */
	const char *description;
};

struct tool {
	const char *name, *title, *description;
	const struct tool_arg *args; /* ends with a NULL name */
	const char *output_schema;   /* JSON text */
	int read_only;               /* annotations.readOnlyHint */
	json_t *(*run)(struct mcp_call *c, const struct mcp_env *env);
};

static const char *const source_names[] = {"web", "corpus", "searxng", "brave", "tavily", "serper", NULL};
static const char *const fetch_formats[] = {"text", "markdown", NULL};

#define ARG_QUESTION \
	{ \
		"question", ARG_STRING, 1, 1, TOOL_MAX_QUESTION_BYTES, NULL, \
			"the question, in any language (the report is in its language)" \
	}
#define ARG_SOURCES_LIST \
	{ \
		"sources", ARG_SOURCES, 0, 1, 200, NULL, \
			"where to look, comma-separated: web, corpus (the user's indexed " \
			"files), or providers searxng, brave, tavily, serper (default web,corpus)" \
	}
#define ARG_LANG \
	{ \
		"lang", ARG_STRING, 0, 2, 35, NULL, \
			"the report's language, e.g. en, zh, pt-BR (default: the question's)" \
	}
#define ARG_MAX_SOURCES \
	{ \
		"max_sources", ARG_INT, 0, 1, RESEARCH_MAX_SOURCES, NULL, \
			"sources to read at most (default 20; ask: fewer)" \
	}
#define ARG_BUDGET \
	{ \
		"budget_tokens", ARG_INT, 0, 1000, 1000000000L, NULL, \
			"stop spending after this many model tokens and write the best report so far" \
	}
#define ARG_TIME \
	{ \
		"time_limit_seconds", ARG_INT, 0, 10, 3600, NULL, \
			"stop after this long and write the best report so far" \
	}

static const struct tool_arg research_args[] = {
	ARG_QUESTION,
	{"depth", ARG_INT, 0, 1, RESEARCH_MAX_DEPTH, NULL, "rounds of search-read-reflect (default 2)"},
	{"breadth", ARG_INT, 0, 1, RESEARCH_MAX_BREADTH, NULL, "search queries per round (default 4)"},
	ARG_MAX_SOURCES,
	ARG_SOURCES_LIST,
	ARG_BUDGET,
	ARG_TIME,
	ARG_LANG,
	{NULL, 0, 0, 0, 0, NULL, NULL}};
static const struct tool_arg ask_args[] = {ARG_QUESTION,
					   ARG_MAX_SOURCES,
					   ARG_SOURCES_LIST,
					   ARG_BUDGET,
					   ARG_TIME,
					   ARG_LANG,
					   {NULL, 0, 0, 0, 0, NULL, NULL}};
static const struct tool_arg search_args[] = {
	{"query", ARG_STRING, 1, 1, CORPUS_MAX_QUERY_BYTES, NULL,
	 "words (passages with all of them rank first), \"quoted phrases\", -excluded"},
	{"k", ARG_INT, 0, 1, TOOL_MAX_HITS, NULL, "passages to return (default 10)"},
	{NULL, 0, 0, 0, 0, NULL, NULL}};
static const struct tool_arg fetch_args[] = {
	{"url", ARG_STRING, 1, 8, TOOL_MAX_URL_BYTES, NULL, "an http or https address"},
	{"format", ARG_CHOICE, 0, 0, 0, fetch_formats, "text (default) or markdown"},
	{"max_chars", ARG_INT, 0, 100, TOOL_MAX_TEXT_CHARS, NULL,
	 "cut the text after this many characters (default 100000)"},
	{NULL, 0, 0, 0, 0, NULL, NULL}};
static const struct tool_arg get_run_args[] = {
	{"run_id", ARG_INT, 1, 1, 1000000000L, NULL, "the run's number (list_runs, research)"},
	{NULL, 0, 0, 0, 0, NULL, NULL}};
static const struct tool_arg list_runs_args[] = {
	{"limit", ARG_INT, 0, 1, TOOL_MAX_LIST, NULL, "runs to list, newest first (default 20)"},
	{"text", ARG_STRING, 0, 1, 200, NULL, "only runs whose question contains this"},
	{NULL, 0, 0, 0, 0, NULL, NULL}};

#define OUT_REPORT \
	"{\"type\":\"object\",\"properties\":{\"run_id\":{\"type\":\"integer\"}," \
	"\"status\":{\"type\":\"string\"},\"report\":{\"type\":\"string\"," \
	"\"description\":\"the report in Markdown, citing sources as [n]\"}," \
	"\"sources\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}," \
	"\"verification\":{\"type\":\"object\"},\"stopped\":{\"type\":\"string\"}," \
	"\"usage\":{\"type\":\"object\"}}," \
	"\"required\":[\"run_id\",\"status\",\"report\",\"sources\",\"verification\"]}"

static json_t *run_research(struct mcp_call *c, const struct mcp_env *env);
static json_t *run_ask(struct mcp_call *c, const struct mcp_env *env);
static json_t *run_search(struct mcp_call *c, const struct mcp_env *env);
static json_t *run_fetch(struct mcp_call *c, const struct mcp_env *env);
static json_t *run_get_run(struct mcp_call *c, const struct mcp_env *env);
static json_t *run_list_runs(struct mcp_call *c, const struct mcp_env *env);

static const struct tool tools[] = {
	{"research", "Deep research",
	 "Research a question thoroughly: plan, search the web and the user's corpus, read many "
	 "sources, take notes with verbatim quotes checked against each source, and write a "
	 "report whose every [n] citation is a checked quote. Takes minutes; sends progress "
	 "when asked and can be cancelled. Returns the report in Markdown with its sources and "
	 "the verification of its citations.",
	 research_args, OUT_REPORT, 0, run_research},
	{"ask", "Quick cited answer",
	 "Answer a question quickly: one round of search and reading, then a short answer with "
	 "checked citations. For everyday questions; use research for thorough ones.",
	 ask_args, OUT_REPORT, 0, run_ask},
	{"search_corpus", "Search the user's documents",
	 "Search the user's own indexed documents (quarry's local corpus, BM25 ranking): the best "
	 "passages with their file, title, heading and a snippet.",
	 search_args,
	 "{\"type\":\"object\",\"properties\":{\"hits\":{\"type\":\"array\",\"items\":{\"type\":"
	 "\"object\",\"properties\":{\"rank\":{\"type\":\"integer\"},\"path\":{\"type\":\"string\"},"
	 "\"title\":{\"type\":\"string\"},\"heading\":{\"type\":\"string\"},\"score\":{\"type\":"
	 "\"number\"},\"snippet\":{\"type\":\"string\"}}}}},\"required\":[\"hits\"]}",
	 1, run_search},
	{"fetch_url", "Read a web page",
	 "Fetch one http(s) page and return its readable main content (article, post or "
	 "documentation body without menus and ads); HTML, PDF, DOCX, Markdown and text. "
	 "Private and loopback addresses are refused unless the server allows them.",
	 fetch_args,
	 "{\"type\":\"object\",\"properties\":{\"url\":{\"type\":\"string\"},\"final_url\":{\"type\":"
	 "\"string\"},\"status\":{\"type\":\"integer\"},\"content_type\":{\"type\":\"string\"},"
	 "\"title\":{\"type\":\"string\"},\"text\":{\"type\":\"string\"},\"truncated\":{\"type\":"
	 "\"boolean\"}},\"required\":[\"url\",\"status\",\"text\",\"truncated\"]}",
	 1, run_fetch},
	{"get_run", "Get a stored run",
	 "A stored research run by its number: question, status, and its report (Markdown) with "
	 "sources and verification when it has one.",
	 get_run_args,
	 "{\"type\":\"object\",\"properties\":{\"run_id\":{\"type\":\"integer\"},\"question\":"
	 "{\"type\":\"string\"},\"status\":{\"type\":\"string\"},\"report\":{\"type\":\"string\"},"
	 "\"sources\":{\"type\":\"array\"},\"verification\":{\"type\":\"object\"}},"
	 "\"required\":[\"run_id\",\"question\",\"status\"]}",
	 1, run_get_run},
	{"list_runs", "List stored runs",
	 "The stored research runs, newest first: number, status, question, times.", list_runs_args,
	 "{\"type\":\"object\",\"properties\":{\"runs\":{\"type\":\"array\",\"items\":{\"type\":"
	 "\"object\",\"properties\":{\"run_id\":{\"type\":\"integer\"},\"status\":{\"type\":"
	 "\"string\"},\"question\":{\"type\":\"string\"},\"created\":{\"type\":\"integer\"},"
	 "\"updated\":{\"type\":\"integer\"}}}}},\"required\":[\"runs\"]}",
	 1, run_list_runs},
};
#define N_TOOLS (sizeof(tools) / sizeof(tools[0]))

static const struct tool *find_tool(const char *name)
{
	size_t i;

	for (i = 0; name && i < N_TOOLS; i++)
		if (!strcmp(tools[i].name, name))
			return &tools[i];
	return NULL;
}

int mcp_tool_exists(const char *name) { return find_tool(name) != NULL; }

/* The regular expression a --sources list matches. */
static json_t *sources_pattern(void)
{
	char one[128] = "", pat[320];
	size_t i, k = 0;

	for (i = 0; source_names[i]; i++)
		k += (size_t)snprintf(one + k, sizeof(one) - k, "%s%s", i ? "|" : "", source_names[i]);
	snprintf(pat, sizeof(pat), "^(%s)(,(%s))*$", one, one);
	return json_string(pat);
}

static json_t *arg_schema(const struct tool_arg *a)
{
	json_t *p = json_pack("{s:s}", "description", a->description), *e;
	size_t i;

	if (!p)
		return NULL;
	switch (a->type) {
	case ARG_INT:
		json_object_set_new(p, "type", json_string("integer"));
		json_object_set_new(p, "minimum", json_integer(a->min));
		json_object_set_new(p, "maximum", json_integer(a->max));
		break;
	case ARG_CHOICE:
		json_object_set_new(p, "type", json_string("string"));
		e = json_array();
		for (i = 0; a->choices[i]; i++)
			json_array_append_new(e, json_string(a->choices[i]));
		json_object_set_new(p, "enum", e);
		break;
	case ARG_SOURCES:
		json_object_set_new(p, "pattern", sources_pattern());
		/* fall through */
	case ARG_STRING:
		json_object_set_new(p, "type", json_string("string"));
		json_object_set_new(p, "minLength", json_integer(a->min));
		json_object_set_new(p, "maxLength", json_integer(a->max));
		break;
	}
	return p;
}

static json_t *input_schema(const struct tool_arg *args)
{
	json_t *props = json_object(), *req = json_array();
	const struct tool_arg *a;

	for (a = args; a->name; a++) {
		json_object_set_new(props, a->name, arg_schema(a));
		if (a->required)
			json_array_append_new(req, json_string(a->name));
	}
	return json_pack("{s:s, s:o, s:o, s:b}", "type", "object", "properties", props, "required", req,
			 "additionalProperties", 0);
}

json_t *mcp_tools_list(void)
{
	json_t *list = json_array(), *t;
	size_t i;

	for (i = 0; list && i < N_TOOLS; i++) {
		t = json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:b, s:b}}", "name", tools[i].name, "title",
			      tools[i].title, "description", tools[i].description, "inputSchema",
			      input_schema(tools[i].args), "outputSchema",
			      json_loads(tools[i].output_schema, 0, NULL), "annotations", "readOnlyHint",
			      tools[i].read_only, "openWorldHint",
			      strcmp(tools[i].name, "get_run") && strcmp(tools[i].name, "list_runs") &&
				      strcmp(tools[i].name, "search_corpus"));
		json_array_append_new(list, t);
	}
	return list;
}

/* Whether v is one of the comma-separated source names. */
static int sources_ok(const char *v)
{
	const char *p = v;
	size_t i, k;

	do {
		k = strcspn(p, ",");
		for (i = 0; source_names[i]; i++)
			if (strlen(source_names[i]) == k && !strncmp(source_names[i], p, k))
				break;
		if (!source_names[i])
			return 0;
		p += k;
	} while (*p++ == ',');
	return 1;
}

static int check_arg(const struct tool_arg *a, const json_t *v, struct q_error *why)
{
	size_t len, i;

	if (a->type == ARG_INT) {
		if (!json_is_integer(v))
			return q_error_set(why, Q_EINVAL, "argument '%s' must be an integer", a->name);
		if (json_integer_value(v) < a->min || json_integer_value(v) > a->max)
			return q_error_set(why, Q_EINVAL, "argument '%s' must be from %ld to %ld", a->name,
					   a->min, a->max);
		return 0;
	}
	if (!json_is_string(v))
		return q_error_set(why, Q_EINVAL, "argument '%s' must be a string", a->name);
	len = json_string_length(v);
	if (strlen(json_string_value(v)) != len)
		return q_error_set(why, Q_EINVAL, "argument '%s' holds a NUL character", a->name);
	if (a->type == ARG_CHOICE) {
		for (i = 0; a->choices[i]; i++)
			if (!strcmp(a->choices[i], json_string_value(v)))
				return 0;
		return q_error_set(why, Q_EINVAL, "argument '%s' must be %s or %s", a->name, a->choices[0],
				   a->choices[1]);
	}
	if ((long)len < a->min || (long)len > a->max)
		return q_error_set(why, Q_EINVAL, "argument '%s' must be %ld to %ld bytes long", a->name,
				   a->min, a->max);
	if (a->type == ARG_SOURCES && !sources_ok(json_string_value(v)))
		return q_error_set(why, Q_EINVAL,
				   "argument '%s' takes web, corpus, searxng, brave, "
				   "tavily or serper, separated by commas",
				   a->name);
	return 0;
}

int mcp_tool_check(const char *name, const json_t *args, struct q_error *why)
{
	const struct tool *t = find_tool(name);
	const struct tool_arg *a;
	const char *key;
	json_t *v;

	if (!t)
		return q_error_set(why, Q_EINVAL, "unknown tool '%.64s'", name ? name : "");
	json_object_foreach ((json_t *)args, key, v) {
		for (a = t->args; a->name && strcmp(a->name, key); a++)
			;
		if (!a->name)
			return q_error_set(why, Q_EINVAL,
					   "%s takes no argument '%.64s' (see its "
					   "inputSchema)",
					   name, key);
		if (check_arg(a, v, why))
			return why->code;
	}
	for (a = t->args; a->name; a++)
		if (a->required && !json_object_get(args, a->name))
			return q_error_set(why, Q_EINVAL, "%s needs the argument '%s'", name, a->name);
	return 0;
}

json_t *mcp_tool_run(struct mcp_call *c, const struct mcp_env *env)
{
	const struct tool *t = find_tool(c->name);

	return t ? t->run(c, env) : mcp_tool_error("unknown tool");
}

json_t *mcp_tool_error(const char *fmt, ...)
{
	char msg[Q_ERROR_MSG_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", msg, "isError", 1);
}

/* A result with text for the model and the same facts structured (both taken). */
static json_t *tool_result(char *text, json_t *structured)
{
	json_t *r;

	if (!text || !structured) {
		q_free(text);
		json_decref(structured);
		return NULL;
	}
	r = json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text", "text", text,
		      "structuredContent", structured, "isError", 0);
	q_free(text);
	return r;
}

static const char *arg_str(const json_t *args, const char *name)
{
	return json_string_value(json_object_get(args, name));
}

static long arg_int(const json_t *args, const char *name, long dflt)
{
	json_t *v = json_object_get(args, name);

	return json_is_integer(v) ? (long)json_integer_value(v) : dflt;
}

/* ---- research and ask ---- */

/* A research event as a progress notification, for those worth one. */
static void progress_of_event(void *ctx, const json_t *ev)
{
	char msg[MCP_EVENT_SUMMARY_MAX];

	if (mcp_event_summary(ev, msg, sizeof(msg)))
		mcp_call_progress(ctx, msg);
}

/* What research and ask return: the report's Markdown and its parts. */
static json_t *report_result(long run_id, const char *status, const char *markdown, const json_t *rep,
			     long prompt, long completion, double cost_usd)
{
	json_t *st;
	const char *stop = json_string_value(json_object_get(rep, "stopped"));

	st = json_pack("{s:I, s:s, s:s, s:O, s:O, s:{s:I, s:I, s:f}}", "run_id", (json_int_t)run_id, "status",
		       status, "report", markdown ? markdown : "", "sources",
		       json_object_get(rep, "sources") ? json_object_get(rep, "sources") : json_null(),
		       "verification",
		       json_object_get(rep, "verification") ? json_object_get(rep, "verification")
							    : json_null(),
		       "usage", "prompt_tokens", (json_int_t)prompt, "completion_tokens",
		       (json_int_t)completion, "cost_usd", cost_usd);
	if (st && !json_is_array(json_object_get(st, "sources")))
		json_object_set_new(st, "sources", json_array());
	if (st && !json_is_object(json_object_get(st, "verification")))
		json_object_set_new(st, "verification", json_object());
	if (st && stop && *stop)
		json_object_set_new(st, "stopped", json_string(stop));
	return tool_result(q_strdup(markdown ? markdown : ""), st);
}

/* Progress for the run's events after *seq (moved on). */
static int progress_of_run(struct mcp_call *c, struct runstore *rs, long id, long *seq, struct q_error *err)
{
	json_t *evs = NULL, *ev;
	size_t i;

	if (runstore_events(rs, id, *seq, 0, &evs, err))
		return err->code;
	json_array_foreach (evs, i, ev) {
		*seq = (long)json_integer_value(json_object_get(ev, "seq"));
		progress_of_event(c, ev);
	}
	json_decref(evs);
	return 0;
}

/* The run queued for the workers and followed until it ends (env->queue). */
static json_t *queued_research(struct mcp_call *c, const struct mcp_env *env, const struct research_opts *o)
{
	struct timespec tick = {0, TOOL_QUEUE_POLL_MS * 1000L * 1000};
	struct runstore *rs = NULL;
	struct run_record rec;
	struct q_error err = {0};
	json_t *opts = research_opts_to_json(o), *out = NULL, *fig;
	char msg[64];
	long id = 0, seq = 0;

	memset(&rec, 0, sizeof(rec));
	if (!opts || runstore_open(&rs, env->home, &err) ||
	    runstore_create(rs, o->question, opts, RUN_QUEUED, NULL, &id, &err)) {
		out = mcp_tool_error("cannot queue the research: %s", err.msg[0] ? err.msg : "out of memory");
		goto out;
	}
	snprintf(msg, sizeof(msg), "queued run %ld", id);
	mcp_call_progress(c, msg);
	for (;;) {
		if (mcp_call_cancelled(c)) {
			runstore_request_cancel(rs, id, NULL); /* its worker stops it, keeping what it has */
			out = mcp_tool_error("cancelled");     /* not sent: the call was cancelled */
			goto out;
		}
		if (progress_of_run(c, rs, id, &seq, &err) || runstore_get(rs, id, 1, &rec, &err)) {
			out = mcp_tool_error("cannot follow run %ld: %s", id, err.msg);
			goto out;
		}
		if (run_status_final(rec.status))
			break;
		run_record_release(&rec);
		memset(&rec, 0, sizeof(rec));
		nanosleep(&tick, NULL);
	}
	fig = json_object_get(rec.report, "figures");
	out = rec.report_md
		      ? report_result(id, run_status_name(rec.status), rec.report_md, rec.report,
				      (long)json_integer_value(json_object_get(fig, "prompt_tokens")),
				      (long)json_integer_value(json_object_get(fig, "completion_tokens")),
				      json_number_value(json_object_get(fig, "cost_usd")))
		      : mcp_tool_error("run %ld ended (%s) without a report", id, run_status_name(rec.status));
out:
	run_record_release(&rec);
	json_decref(opts);
	runstore_close(rs);
	return out;
}

static json_t *research_tool(struct mcp_call *c, const struct mcp_env *env, int quick)
{
	struct research_opts o;
	struct research_env re;
	struct research_result res;
	struct q_error err = {0};
	struct store st;
	json_t *out;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&re, 0, sizeof(re));
	memset(&res, 0, sizeof(res));
	o.question = arg_str(c->args, "question");
	o.quick = quick;
	o.depth = quick ? 0 : (int)arg_int(c->args, "depth", 0);
	o.breadth = (int)arg_int(c->args, "breadth", 0);
	o.max_sources = (int)arg_int(c->args, "max_sources", 0);
	o.budget_tokens = arg_int(c->args, "budget_tokens", 0);
	o.time_limit_ms = arg_int(c->args, "time_limit_seconds", 0) * 1000;
	if (quick && !o.time_limit_ms)
		o.time_limit_ms = TOOL_ASK_TIME_LIMIT_MS;
	o.sources = arg_str(c->args, "sources");
	o.lang = arg_str(c->args, "lang");
	o.allow_private = env->allow_private;
	if (env->queue)
		return queued_research(c, env, &o);
	if (store_open(&st, env->home, &err))
		return mcp_tool_error("cannot open the quarry database: %s", err.msg);
	re.store = &st;
	re.home = env->home;
	re.file = env->file;
	re.llm = env->llm;
	re.on_event = progress_of_event;
	re.ctx = c;
	rc = mcp_call_research(c, &o, &re, &res, &err);
	if (rc)
		out = res.run_id ? mcp_tool_error("research failed (run %ld): %s", res.run_id, err.msg)
				 : mcp_tool_error("research failed: %s", err.msg);
	else
		out = report_result(res.run_id, res.status, res.markdown, res.report, res.llm.prompt,
				    res.llm.completion, res.llm.cost_usd);
	research_result_release(&res);
	store_close(&st);
	return out;
}

static json_t *run_research(struct mcp_call *c, const struct mcp_env *env)
{
	return research_tool(c, env, 0);
}

static json_t *run_ask(struct mcp_call *c, const struct mcp_env *env) { return research_tool(c, env, 1); }

/* ---- search_corpus ---- */

static json_t *run_search(struct mcp_call *c, const struct mcp_env *env)
{
	struct store st;
	struct q_error err = {0};
	struct corpus_hit *hits = NULL;
	struct qbuf text;
	json_t *arr = NULL, *out = NULL;
	int n = 0, i;

	if (store_open_readonly(&st, env->home, &err))
		return mcp_tool_error("cannot open the corpus: %s (add files with 'quarry index add')",
				      err.msg);
	if (corpus_search(&st, arg_str(c->args, "query"), (int)arg_int(c->args, "k", 10), "**", "**", &hits,
			  &n, &err)) {
		out = mcp_tool_error("search failed: %s", err.msg);
		goto out;
	}
	qbuf_init(&text, TOOL_MAX_LIST_TEXT_BYTES);
	arr = json_array();
	for (i = 0; i < n; i++) {
		json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:s, s:f, s:s}", "rank", i + 1, "path",
						     hits[i].path ? hits[i].path : "", "title",
						     hits[i].title ? hits[i].title : "", "heading",
						     hits[i].heading ? hits[i].heading : "", "score",
						     hits[i].score, "snippet",
						     hits[i].snippet ? hits[i].snippet : ""));
		qbuf_addf(&text, "%d. %s%s%s (%s)\n   %s\n\n", i + 1, hits[i].title ? hits[i].title : "",
			  hits[i].heading && *hits[i].heading ? " > " : "",
			  hits[i].heading ? hits[i].heading : "", hits[i].path ? hits[i].path : "",
			  hits[i].snippet ? hits[i].snippet : "");
	}
	if (!n)
		qbuf_adds(&text, "No passage of the corpus matches.");
	out = tool_result(text.err ? NULL : qbuf_detach(&text, NULL), json_pack("{s:o}", "hits", arr));
	qbuf_release(&text);
out:
	corpus_hits_free(hits, n);
	store_close(&st);
	return out ? out : mcp_tool_error("out of memory");
}

/* ---- fetch_url ---- */

/* The byte length of text's first max_chars UTF-8 characters. */
static size_t utf8_prefix(const char *text, size_t len, long max_chars)
{
	size_t i = 0;
	long chars = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)text[i] & 0xC0) != 0x80 && chars++ == max_chars)
			break;
	return i;
}

static json_t *run_fetch(struct mcp_call *c, const struct mcp_env *env)
{
	const char *url = arg_str(c->args, "url"), *fmt = arg_str(c->args, "format");
	long max_chars = arg_int(c->args, "max_chars", TOOL_DEFAULT_TEXT_CHARS);
	struct http_options hopt;
	struct http_response r;
	struct doc_options dopt;
	struct doc doc;
	struct q_error err = {0};
	json_t *out = NULL;
	size_t keep;
	int have_doc = 0;

	memset(&hopt, 0, sizeof(hopt));
	hopt.allow_private = env->allow_private;
	hopt.cancel = &c->cancelled;
	if (http_fetch_many(&url, 1, &hopt, &r, NULL, NULL))
		return mcp_tool_error("could not start the transfer (out of memory)");
	if (r.rc) {
		out = mcp_tool_error("%s: %s%s", url, r.err.msg,
				     r.rc == Q_EPOLICY
					     ? " (a setting of the quarry server, not an argument of this tool)"
					     : "");
		goto out;
	}
	memset(&dopt, 0, sizeof(dopt));
	dopt.format = fmt && !strcmp(fmt, "markdown") ? DOC_FORMAT_MARKDOWN : DOC_FORMAT_TEXT;
	dopt.base_url = r.final_url ? r.final_url : url;
	dopt.content_type = r.content_type;
	dopt.filename = dopt.base_url;
	dopt.deadline_ms = q_now_ms() + (double)HTTP_DEFAULT_TIMEOUT_MS;
	dopt.cancel = &c->cancelled;
	if (doc_extract(qbuf_cstr(&r.body), r.body.len, &dopt, &doc, &err)) {
		out = mcp_tool_error("%s: %s", url, err.msg);
		goto out;
	}
	have_doc = 1;
	if (!doc.text_len) {
		out = mcp_tool_error("%s: the page has no readable content%s%s", url, doc.note[0] ? "; " : "",
				     doc.note);
		goto out;
	}
	keep = utf8_prefix(doc.text, doc.text_len, max_chars);
	{
		char *text = q_strndup(doc.text, keep);
		json_t *st = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s%, s:b}", "url", url, "final_url",
				       r.final_url ? r.final_url : url, "status", (json_int_t)r.status,
				       "content_type", r.content_type ? r.content_type : "", "title",
				       doc.title ? doc.title : "", "text", text ? text : "", keep,
				       "truncated", keep < doc.text_len);
		out = tool_result(text, st);
	}
out:
	if (have_doc)
		doc_release(&doc);
	http_response_release(&r);
	return out ? out : mcp_tool_error("out of memory");
}

/* ---- get_run and list_runs ---- */

static json_t *run_get_run(struct mcp_call *c, const struct mcp_env *env)
{
	struct runstore *rs = NULL;
	struct run_record rec;
	struct q_error err = {0};
	long id = arg_int(c->args, "run_id", 0);
	json_t *st, *out = NULL;
	int rc;

	memset(&rec, 0, sizeof(rec));
	if (runstore_open(&rs, env->home, &err))
		return mcp_tool_error("cannot open the run records: %s", err.msg);
	rc = runstore_get(rs, id, 1, &rec, &err);
	if (rc) {
		out = rc == Q_ENOTFOUND ? mcp_tool_error("there is no run %ld (see list_runs)", id)
					: mcp_tool_error("cannot read run %ld: %s", id, err.msg);
		goto out;
	}
	st = json_pack("{s:I, s:s, s:s}", "run_id", (json_int_t)rec.id, "question",
		       rec.question ? rec.question : "", "status", run_status_name(rec.status));
	if (st && rec.report_md)
		json_object_set_new(st, "report", json_string(rec.report_md));
	if (st && json_is_array(json_object_get(rec.report, "sources")))
		json_object_set(st, "sources", json_object_get(rec.report, "sources"));
	if (st && json_is_object(json_object_get(rec.report, "verification")))
		json_object_set(st, "verification", json_object_get(rec.report, "verification"));
	{
		struct qbuf text;
		qbuf_init(&text, TOOL_MAX_REPORT_TEXT_BYTES);
		qbuf_addf(&text, "Run %ld (%s): %s\n\n%s", rec.id, run_status_name(rec.status),
			  rec.question ? rec.question : "", rec.report_md ? rec.report_md : "(no report yet)");
		out = tool_result(text.err ? NULL : qbuf_detach(&text, NULL), st);
		qbuf_release(&text);
	}
out:
	run_record_release(&rec);
	runstore_close(rs);
	return out ? out : mcp_tool_error("out of memory");
}

static json_t *run_list_runs(struct mcp_call *c, const struct mcp_env *env)
{
	struct runstore *rs = NULL;
	struct runstore_filter f;
	struct run_record *v = NULL;
	struct q_error err = {0};
	struct qbuf text;
	json_t *arr, *out = NULL;
	size_t n = 0, i;

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.text = arg_str(c->args, "text");
	f.limit = (int)arg_int(c->args, "limit", 20);
	if (runstore_open(&rs, env->home, &err))
		return mcp_tool_error("cannot open the run records: %s", err.msg);
	if (runstore_list(rs, &f, &v, &n, &err)) {
		out = mcp_tool_error("cannot list the runs: %s", err.msg);
		goto out;
	}
	arr = json_array();
	qbuf_init(&text, TOOL_MAX_LIST_TEXT_BYTES);
	for (i = 0; i < n; i++) {
		json_array_append_new(
			arr, json_pack("{s:I, s:s, s:s, s:I, s:I}", "run_id", (json_int_t)v[i].id, "status",
				       run_status_name(v[i].status), "question",
				       v[i].question ? v[i].question : "", "created",
				       (json_int_t)v[i].created, "updated", (json_int_t)v[i].updated));
		qbuf_addf(&text, "%ld\t%s\t%s\n", v[i].id, run_status_name(v[i].status),
			  v[i].question ? v[i].question : "");
	}
	if (!n)
		qbuf_adds(&text, "No runs stored yet.");
	out = tool_result(text.err ? NULL : qbuf_detach(&text, NULL), json_pack("{s:o}", "runs", arr));
	qbuf_release(&text);
out:
	runstore_list_free(v, n);
	runstore_close(rs);
	return out ? out : mcp_tool_error("out of memory");
}
