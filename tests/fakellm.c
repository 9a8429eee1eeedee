/*
 * fakellm.c - a scripted OpenAI-compatible chat server for quarry's tests.
 *
 * usage: fakellm PORTFILE SCRIPT.json LOGFILE
 *
 * SCRIPT is a JSON array of rules. Each request to /v1/chat/completions
 * takes the first rule whose "match" (a substring of the request body, or
 * absent) fits and whose "times" (absent = unlimited) is not used up.
 * A rule says what to answer:
 *   status (200), body (raw, for errors), headers ("Retry-After: 1\r\n"),
 *   content_type, content, reasoning (sent as reasoning_content),
 *   tool_calls [{id, name, arguments}], stream (default: as requested),
 *   chunk (bytes per write: SSE split at arbitrary boundaries), usage
 *   (default true: usage in the last chunk; "count": figures counted from
 *   the request and reply at 4 bytes a token, and the reply cut at the
 *   request's max_tokens with finish_reason "length"), prompt_tokens (a
 *   figure reported as given, hostile ones included), model, finish_reason,
 *   fault: "stall" (send half, then go silent), "truncate" (send half,
 *   then close), "invalid_json" (a chunk that is not JSON), "drop" (close
 *   without answering), "huge" (content of "huge_bytes" bytes),
 *   "slow_start" (sleep delay_ms before answering), "keepalive" (send half
 *   the content, or none if there is none, then only SSE comments, blank
 *   lines and empty deltas, every 50 ms, until the client hangs up).
 *   rich (with auto): notes take up to the findings asked for and, when
 *   the prompt asks for blocks of rows, quote each table whole; the
 *   outline deals the findings out to the required sections (else one per
 *   sub-question; without rich it returns no section); the writer follows the brief's
 *   sections (else one per sub-question) and puts every table row of its
 *   findings in one table, each row cited.
 *   tool_args_bytes: each tool call's arguments are that many 'x' bytes,
 *   streamed in 64 KB deltas (a flood no script file needs to hold).
 * GET /v1/models lists one model. Every request is appended to LOGFILE
 * as one JSON line: {"path", "auth", "body"}. Exits after
 * FAKELLM_LIFETIME_S. Test code: one thread per connection.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakenet.h"

#define FAKELLM_LIFETIME_S 600

static json_t *rules;
static int *used;
static const char *log_path;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Length of the piece of at most step bytes at p, not splitting a UTF-8
 * character (JSON strings must stay valid). */
static size_t piece_len(const char *p, size_t left, size_t step)
{
	size_t k = left < step ? left : step;

	while (k < left && ((unsigned char)p[k] & 0xC0) == 0x80)
		k++;
	return k;
}

/* Write in pieces of `chunk` bytes (0 = all at once). */
static int write_chunked(int fd, const char *p, size_t n, int chunk)
{
	size_t step = chunk > 0 ? (size_t)chunk : n;

	while (n > 0) {
		size_t k = n < step ? n : step;
		if (fake_write_all(fd, p, k))
			return -1;
		p += k;
		n -= k;
		if (chunk > 0)
			usleep(200);
	}
	return 0;
}

static json_t *pick_rule(const char *body)
{
	size_t i;
	json_t *r;

	pthread_mutex_lock(&mu);
	json_array_foreach (rules, i, r) {
		const char *m = json_string_value(json_object_get(r, "match"));
		json_t *times = json_object_get(r, "times");
		if (m && !strstr(body, m))
			continue;
		if (json_is_integer(times) && used[i] >= json_integer_value(times))
			continue;
		used[i]++;
		pthread_mutex_unlock(&mu);
		return r;
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void log_request(const char *path, const char *auth, const char *body, int conn)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "path", path, "auth", auth, "body", body, "conn", conn);
	char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
	FILE *f;

	pthread_mutex_lock(&mu);
	if (line && (f = fopen(log_path, "a")) != NULL) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
	pthread_mutex_unlock(&mu);
	free(line);
	json_decref(o);
}

static void sse_send(int fd, json_t *chunk, int size)
{
	char *s = json_dumps(chunk, JSON_COMPACT);
	size_t n = strlen(s) + 16;
	char *ev = malloc(n);

	snprintf(ev, n, "data: %s\n\n", s);
	write_chunked(fd, ev, strlen(ev), size);
	free(ev);
	free(s);
}

static json_t *delta_chunk(const char *model, json_t *delta, const char *finish)
{
	return json_pack("{s:s, s:s, s:s, s:[{s:i, s:o, s:o}]}", "id", "chatcmpl-fake", "object",
			 "chat.completion.chunk", "model", model, "choices", "index", 0, "delta", delta,
			 "finish_reason", finish ? json_string(finish) : json_null());
}

/* One tool call whose arguments are n bytes of 'x', in 64 KB deltas. */
static void send_big_args(int fd, const char *model, int index, json_t *id, json_t *name, size_t n, int chunk)
{
	static char piece[65536];
	json_t *c;
	size_t sent;

	memset(piece, 'x', sizeof(piece));
	c = delta_chunk(model,
			json_pack("{s:[{s:i, s:O, s:s, s:{s:O, s:s}}]}", "tool_calls", "index", index, "id",
				  id, "type", "function", "function", "name", name, "arguments", ""),
			NULL);
	sse_send(fd, c, chunk);
	json_decref(c);
	for (sent = 0; sent < n; sent += sizeof(piece)) {
		size_t k = n - sent < sizeof(piece) ? n - sent : sizeof(piece);
		c = delta_chunk(model,
				json_pack("{s:[{s:i, s:{s:s%}}]}", "tool_calls", "index", index, "function",
					  "arguments", piece, k),
				NULL);
		sse_send(fd, c, chunk);
		json_decref(c);
	}
}

/* Bytes that say nothing, forever: what a hostile or broken server can
 * send to keep a naive idle timer from ever firing. */
static void keep_alive_forever(int fd, const char *model)
{
	static const char *const fillers[] = {": ping\n\n", "\n\n", "\r\n", ": OPENROUTER PROCESSING\n\n"};
	unsigned k;

	for (k = 0;; k++) {
		json_t *c;
		if (k % 3 == 2) { /* an empty delta, or an empty content string */
			c = delta_chunk(model, k % 2 ? json_object() : json_pack("{s:s}", "content", ""), NULL);
			sse_send(fd, c, 0);
			json_decref(c);
		} else if (fake_write_all(fd, fillers[k % 4], strlen(fillers[k % 4]))) {
			return;
		}
		usleep(50000);
	}
}

/* ---- "auto": "research": replies made from the prompt, as a model would ---- */

static const char *last_user(json_t *req)
{
	json_t *msgs = json_object_get(req, "messages");
	size_t i = json_array_size(msgs);

	while (i-- > 0) {
		json_t *m = json_array_get(msgs, i);
		if (!strcmp(json_string_value(json_object_get(m, "role"))
				    ? json_string_value(json_object_get(m, "role"))
				    : "",
			    "user"))
			return json_string_value(json_object_get(m, "content"));
	}
	return "";
}

/* The text between a and b in s (malloc'd), or NULL. */
static char *between(const char *s, const char *a, const char *b)
{
	const char *p = strstr(s, a), *e;

	if (!p)
		return NULL;
	p += strlen(a);
	e = strstr(p, b);
	if (!e)
		e = p + strlen(p);
	return strndup(p, (size_t)(e - p));
}

static int up_to(const char *u, const char *after)
{
	const char *p = strstr(u, after);
	int n;

	if (!p)
		return 2;
	while (p > u && (p[-1] == ' ' || (p[-1] >= '0' && p[-1] <= '9')))
		p--;
	n = (int)strtol(p, NULL, 10); /* the N of "up to N ..." */
	return n > 0 ? n : 2;
}

/* "rich": true: a model that does what the prompts ask of a good one, so
 * a test can follow the data path. Notes: up to the N findings asked for,
 * and every block of table rows as one finding quoting the rows whole. */
static char *rich_note(const char *u)
{
	char *ex = between(u, "\">\n", "\n</source>"), *save = NULL, *line, *out;
	json_t *fs = json_array(), *o;
	char block[16384];
	size_t bn = 0;
	int max = up_to(u, " findings that help"), got = 0;
	int blocks = strstr(u, "block of rows") != NULL; /* asked to quote tables whole */

	block[0] = '\0';
	for (line = strtok_r(ex ? ex : (char *)"", "\n", &save); line && got < max;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '|' && blocks) {
			if (bn + strlen(line) + 2 < sizeof(block))
				bn += (size_t)snprintf(block + bn, sizeof(block) - bn, "%s%s", bn ? "\n" : "",
						       line);
			continue;
		}
		if (bn) {
			json_array_append_new(fs, json_pack("{s:s, s:s, s:i}", "claim",
							    "The table gives these rows.", "quote", block,
							    "sub_question", 1));
			got++;
			bn = 0;
			block[0] = '\0';
		}
		/* Not asked for blocks: a row is a line like any other. */
		if (line[0] == '#' || line[0] == '[' || strlen(line) < 40 || got >= max ||
		    strncmp(line, "| ---", 5) == 0)
			continue;
		json_array_append_new(fs, json_pack("{s:s, s:s, s:i}", "claim", line, "quote", line,
						    "sub_question", 1 + got % 2));
		got++;
	}
	if (bn && got < max)
		json_array_append_new(fs, json_pack("{s:s, s:s, s:i}", "claim", "The table gives these rows.",
						    "quote", block, "sub_question", 1));
	o = json_pack("{s:o}", "findings", fs);
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(ex);
	return out;
}

/* The outline after research: the required sections, else one per
 * sub-question, the findings dealt out in turn. */
static char *rich_outline(const char *u)
{
	char *secs = between(u, "in this order: ", ". "), *subs = between(u, "Sub-questions:\n", "\n\n");
	char *save = NULL, *t, *out;
	json_t *a = json_array(), *o;
	const char *p;
	size_t n, k = 0;
	int id;

	if (secs)
		for (t = strtok_r(secs, ";", &save); t; t = strtok_r(NULL, ";", &save))
			json_array_append_new(
				a, json_pack("{s:s, s:[]}", "title", t + strspn(t, " "), "findings"));
	else if (subs)
		for (t = strtok_r(subs, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
			json_array_append_new(a, json_pack("{s:s, s:[]}", "title",
							   t + strspn(t, "0123456789. "), "findings"));
	n = json_array_size(a);
	for (p = strstr(u, "\nF"); p && n; p = strstr(p + 1, "\nF")) {
		id = (int)strtol(p + 2, NULL, 10);
		if (id > 0)
			json_array_append_new(json_object_get(json_array_get(a, k++ % n), "findings"),
					      json_integer(id));
	}
	o = json_pack("{s:o}", "sections", a);
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(secs);
	free(subs);
	return out;
}

/* Writer: a lead, one section per sub-question (or per required section),
 * and every table row of the findings in one table, each row cited. */
static char *rich_write(const char *u)
{
	size_t cap = strlen(u) + 4096, n = 0;
	char *out = malloc(cap), *secs = between(u, "in this order: ", ".\n");
	char *subs = between(u, "Sub-questions:\n", "\n\n");
	const char *p;
	int id, table = 0;

	n += (size_t)snprintf(out + n, cap - n, "The findings answer the question directly [F1].\n");
	if (strstr(u, "Write the section")) { /* sectioned: the body only */
		free(secs);
		free(subs);
		secs = subs = NULL;
	}
	if (secs) { /* the brief's sections, literally */
		char *save = NULL, *t;
		for (t = strtok_r(secs, ";", &save); t; t = strtok_r(NULL, ";", &save))
			n += (size_t)snprintf(out + n, cap - n,
					      "\n## %s\n\nThis section rests on the findings [F1][F2].\n",
					      t + strspn(t, " "));
	} else if (subs) {
		char *save = NULL, *t;
		for (t = strtok_r(subs, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
			n += (size_t)snprintf(out + n, cap - n,
					      "\n## %s\n\nThis section rests on the findings [F1][F2].\n",
					      t + strspn(t, "0123456789. "));
	}
	for (p = strstr(u, "<finding id=\"F"); p; p = strstr(p + 1, "<finding id=\"F")) {
		const char *q = strstr(p, "Quote: \""), *end = strstr(p, "</finding>");
		id = (int)strtol(p + 14, NULL, 10);
		if (!q || !end)
			continue;
		for (q += 8; q && q < end; q = strchr(q, '\n')) {
			size_t len;
			q += *q == '\n';
			if (*q != '|' || q >= end)
				continue;
			len = strcspn(q, "\n");
			if (q + len > end)
				len = (size_t)(end - q) - 1; /* the closing quote mark */
			if (strncmp(q, "| ---", 5) == 0 || strstr(q, "| Date") == q) {
				if (!table && strstr(q, "| Date") == q) {
					n += (size_t)snprintf(out + n, cap - n, "\n%.*s\n", (int)len, q);
					n += (size_t)snprintf(out + n, cap - n, "| --- | --- | --- | --- |\n");
					table = 1;
				}
				continue;
			}
			while (len > 0 && (q[len - 1] == ' ' || q[len - 1] == '|'))
				len--;
			if (n + len + 64 < cap)
				n += (size_t)snprintf(out + n, cap - n, "%.*s [F%d] |\n", (int)len, q, id);
		}
	}
	free(secs);
	free(subs);
	return out;
}

static char *research_reply(json_t *req, json_t *rule)
{
	const char *u = last_user(req);
	int zh = strstr(u, "in Chinese") != NULL;
	json_t *o = NULL;
	char *out, buf[2048];
	int i, n;

	if (strstr(u, "Plan research")) {
		char *q = between(u, "Question: ", "\n\n");
		json_t *qs = json_array();
		n = up_to(u, " web search queries");
		for (i = 0; i < n; i++) {
			snprintf(buf, sizeof(buf), "%s%s%d%s", q ? q : "question", i ? " aspect " : "", i,
				 json_is_true(json_object_get(rule, "inject")) && i == 1 ? " inject" : "");
			if (i == 0)
				snprintf(buf, sizeof(buf), "%s", q ? q : "question");
			json_array_append_new(qs, json_string(buf));
		}
		o = json_pack("{s:[s,s], s:o, s:[s,s]}", "sub_questions", "What was it?", "What followed?",
			      "queries", qs, "outline", zh ? "背景" : "Background",
			      zh ? "影响" : "Consequences");
		free(q);
	} else if (strstr(u, "Group the findings into the sections")) {
		if (!json_is_true(json_object_get(rule, "rich")))
			return strdup("{\"sections\": []}"); /* one write call, as before */
		return rich_outline(u);
	} else if (strstr(u, "Write the lead") && json_is_true(json_object_get(rule, "rich"))) {
		return strdup("The findings answer the question directly [F1].");
	} else if (strstr(u, "<source ") && json_is_true(json_object_get(rule, "rich"))) {
		return rich_note(u);
	} else if (strstr(u, "<finding id=") && json_is_true(json_object_get(rule, "rich"))) {
		return rich_write(u);
	} else if (strstr(u, "<source ")) {
		char *ex = between(u, "\">\n", "\n</source>");
		json_t *fs = json_array();
		char *save = NULL, *line;
		int got = 0;
		for (line = strtok_r(ex ? ex : (char *)"", "\n", &save); line && got < 2;
		     line = strtok_r(NULL, "\n", &save)) {
			char *dot;
			if (line[0] == '#' || line[0] == '[' || strlen(line) < 40)
				continue;
			dot = strstr(line, ". ");
			if (dot)
				dot[1] = '\0';
			json_array_append_new(fs, json_pack("{s:s, s:s, s:i}", "claim", line, "quote", line,
							    "sub_question", 1));
			got++;
		}
		if (json_is_true(json_object_get(rule, "invent")))
			json_array_append_new(
				fs, json_pack("{s:s, s:s}", "claim", "An invented fact.", "quote",
					      "This sentence appears nowhere in the source and was made up."));
		o = json_pack("{s:o}", "findings", fs);
		free(ex);
	} else if (strstr(u, "still unanswered")) {
		char *q = between(u, "Research question: ", "\n\n");
		json_t *qs = json_array();
		int again = json_is_true(json_object_get(rule, "same_gaps"));
		if (!strstr(u, "follow-up") || again) {
			n = up_to(u, " new search queries");
			for (i = 0; i < n; i++) {
				snprintf(buf, sizeof(buf), "%s follow-up %d%s", q ? q : "q", i,
					 again && strstr(u, "follow-up") ? " more" : "");
				if (again && strstr(u, " more"))
					snprintf(buf, sizeof(buf), "%s follow-up %d more again", q ? q : "q",
						 i);
				json_array_append_new(qs, json_string(buf));
			}
			o = json_pack("{s:[s], s:o}", "gaps", "the effects in detail", "queries", qs);
		} else {
			o = json_pack("{s:[], s:o}", "gaps", "queries", qs);
		}
		free(q);
	} else if (strstr(u, "<finding id=")) {
		const char *t =
			zh ? "选择可用性于二〇〇〇年五月被关闭，因为它的价值已经变小 [F1]。开放信号创造了广泛的价值 [F2][F1]。\n\n"
			     "## 背景\n\n这种降级主要损害了普通用户的利益 [F3]。\n\n"
			     "## 影响\n\n这一句话没有任何引用，却声称了一个关于世界的重要事实，应该被标记出来。一个伪造的引用指向不存在的发现 [F999]。\n"
			   : "Selective availability was switched off in May 2000 because its value had shrunk [F1]. "
			     "Opening the signal created broad value for many users [F2][F1].\n\n"
			     "## Background\n\nThe degradation mostly penalised ordinary users of the signal in every region [F3].\n\n"
			     "## Consequences\n\nThis sentence has no citation at all and claims something important about the world. "
			     "A bogus citation points at a finding that does not exist at all [F999].\n";
		return strdup(t);
	} else {
		return strdup("ok");
	}
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (json_is_true(json_object_get(rule, "wrap"))) {
		/* As a reasoning model without structured output would answer. */
		size_t wn = strlen(out) + 200;
		char *w = malloc(wn);
		snprintf(w, wn,
			 "<think>The user wants {\"draft\": true, JSON}; let me think.</think>\n"
			 "Here it is:\n```json\n%s\n```",
			 out);
		free(out);
		out = w;
	}
	return out;
}

static int keepalive; /* FAKELLM_KEEPALIVE=1: JSON replies keep the connection */

/* Tokens as this fake provider counts them: 4 bytes each, rounded up. */
static json_int_t fake_tokens(const char *s) { return s ? (json_int_t)((strlen(s) + 3) / 4) : 0; }

/* usage "count": the prompt's figure, and the reply cut to max_tokens
 * (*content may be replaced by *owned, a copy the caller frees). */
static void count_usage(json_t *req, const char **content, char **owned, const char **finish,
			json_int_t *prompt, json_int_t *completion)
{
	json_t *m, *mt = json_object_get(req, "max_tokens");
	json_int_t max = json_integer_value(mt ? mt : json_object_get(req, "max_completion_tokens"));
	size_t i, k;

	*prompt = 3; /* like a real tokenizer's framing */
	json_array_foreach (json_object_get(req, "messages"), i, m)
		*prompt += 4 + fake_tokens(json_string_value(json_object_get(m, "content")));
	*completion = fake_tokens(*content);
	if (max <= 0 || *completion <= max || !*content)
		return;
	for (k = (size_t)max * 4; k > 0 && ((unsigned char)(*content)[k] & 0xC0) == 0x80; k--)
		; /* not inside a UTF-8 character */
	free(*owned);
	*owned = strndup(*content, k);
	*content = *owned;
	*completion = max;
	*finish = "length";
}

/* Returns 1 when the connection stays open for another request. */
static int answer(int fd, json_t *req, json_t *rule)
{
	int status = rule ? (int)json_integer_value(json_object_get(rule, "status")) : 0;
	const char *body = json_string_value(json_object_get(rule, "body"));
	const char *headers = json_string_value(json_object_get(rule, "headers"));
	const char *ctype = json_string_value(json_object_get(rule, "content_type"));
	const char *content = json_string_value(json_object_get(rule, "content"));
	const char *reasoning = json_string_value(json_object_get(rule, "reasoning"));
	const char *fault = json_string_value(json_object_get(rule, "fault"));
	const char *model = json_string_value(json_object_get(rule, "model"));
	const char *finish = json_string_value(json_object_get(rule, "finish_reason"));
	json_t *tools = json_object_get(rule, "tool_calls");
	json_t *st = json_object_get(rule, "stream");
	int chunk = (int)json_integer_value(json_object_get(rule, "chunk"));
	int usage = !json_is_false(json_object_get(rule, "usage"));
	json_int_t args_bytes = json_integer_value(json_object_get(rule, "tool_args_bytes"));
	json_t *t_rule;
	json_int_t ptok = 100, ctok = 20, cached = 40;
	char *cut = NULL;
	int stream = json_is_boolean(st) ? json_is_true(st) : json_is_true(json_object_get(req, "stream"));
	char head[1024], *huge = NULL, *made = NULL;
	size_t i;

	if (rule && json_is_string(json_object_get(rule, "auto")))
		content = made = research_reply(req, rule);

	if (made && !huge)
		huge = made; /* freed with it */
	if (!status)
		status = 200;
	if (!model)
		model = json_string_value(json_object_get(req, "model"));
	if (!model)
		model = "fake";
	if (!finish)
		finish = json_array_size(tools) ? "tool_calls" : "stop";
	if (!rule)
		content = "no rule matched this request";
	if (json_is_string(json_object_get(rule, "usage"))) {
		count_usage(req, &content, &cut, &finish, &ptok, &ctok);
		ctok += fake_tokens(reasoning);
		cached = 0;
	}
	if (json_is_integer(json_object_get(rule, "prompt_tokens")))
		ptok = json_integer_value(json_object_get(rule, "prompt_tokens"));
	if (cut && !huge)
		huge = cut; /* freed with it */
	else if (cut)
		free(huge), huge = cut;
	if (fault && strcmp(fault, "drop") == 0)
		return 0;
	if (fault && strcmp(fault, "slow_start") == 0)
		usleep((useconds_t)json_integer_value(json_object_get(rule, "delay_ms")) * 1000);
	if (fault && strcmp(fault, "huge") == 0) {
		size_t n = (size_t)json_integer_value(json_object_get(rule, "huge_bytes"));
		huge = malloc(n + 1);
		memset(huge, 'x', n);
		huge[n] = '\0';
		content = huge;
	}
	if (body || status != 200) {
		if (!body)
			body = "{\"error\":{\"message\":\"scripted failure\"}}";
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
			 status, ctype ? ctype : "application/json", strlen(body), headers ? headers : "");
		fake_write_all(fd, head, strlen(head));
		fake_write_all(fd, body, strlen(body));
		free(huge);
		return 0;
	}
	if (!stream) {
		json_t *msg = json_pack("{s:s}", "role", "assistant"), *o;
		char *text;
		if (content)
			json_object_set_new(msg, "content", json_string(content));
		else
			json_object_set_new(msg, "content", json_null());
		if (reasoning)
			json_object_set_new(msg, "reasoning_content", json_string(reasoning));
		if (json_array_size(tools)) {
			json_t *a = json_array(), *t;
			json_array_foreach (tools, i, t)
				json_array_append_new(a, json_pack("{s:O, s:s, s:{s:O, s:O}}", "id",
								   json_object_get(t, "id"), "type",
								   "function", "function", "name",
								   json_object_get(t, "name"), "arguments",
								   json_object_get(t, "arguments")));
			json_object_set_new(msg, "tool_calls", a);
		}
		o = json_pack("{s:s, s:s, s:s, s:[{s:i, s:o, s:s}]}", "id", "chatcmpl-fake", "object",
			      "chat.completion", "model", model, "choices", "index", 0, "message", msg,
			      "finish_reason", finish);
		if (usage)
			json_object_set_new(o, "usage",
					    json_pack("{s:I, s:I, s:I}", "prompt_tokens", ptok,
						      "completion_tokens", ctok, "total_tokens",
						      ptok < 1000000000 ? ptok + ctok : ptok));
		text = json_dumps(o, JSON_COMPACT);
		if (fault && strcmp(fault, "invalid_json") == 0)
			text[strlen(text) / 2] = '\0';
		snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: %s\r\n\r\n",
			 ctype ? ctype : "application/json", strlen(text), headers ? headers : "",
			 keepalive && !fault ? "keep-alive" : "close");
		fake_write_all(fd, head, strlen(head));
		write_chunked(fd, text, strlen(text), chunk);
		free(text);
		json_decref(o);
		free(huge);
		return keepalive && !fault;
	}
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%sConnection: close\r\n\r\n",
		 ctype ? ctype : "text/event-stream", headers ? headers : "");
	fake_write_all(fd, head, strlen(head));
	write_chunked(fd, ": keep-alive\n\n", 14, chunk);
	sse_send(fd, delta_chunk(model, json_pack("{s:s}", "role", "assistant"), NULL), chunk);
	/* Reasoning and content go out in pieces of 7 characters (bytes, so
	 * UTF-8 sequences get split too: the client must cope). */
	for (i = 0; reasoning && i < strlen(reasoning);) {
		size_t k = piece_len(reasoning + i, strlen(reasoning + i), 7);
		json_t *c =
			delta_chunk(model, json_pack("{s:s%}", "reasoning_content", reasoning + i, k), NULL);
		sse_send(fd, c, chunk);
		json_decref(c);
		i += k;
	}
	if (fault && strcmp(fault, "keepalive") == 0 && (!content || !*content)) {
		keep_alive_forever(fd, model);
		return 0;
	}
	if (content) {
		size_t n = strlen(content), half = n / 2, step = huge ? 65536 : 7, k;
		for (i = 0; i < n; i += k) {
			json_t *c;
			k = piece_len(content + i, n - i, step);
			if (fault && i >= half && strcmp(fault, "keepalive") == 0) {
				keep_alive_forever(fd, model);
				free(huge);
				return 0;
			}
			if (fault && i >= half &&
			    (strcmp(fault, "stall") == 0 || strcmp(fault, "truncate") == 0)) {
				if (strcmp(fault, "stall") == 0)
					sleep(30);
				free(huge);
				return 0;
			}
			if (fault && i >= half && strcmp(fault, "invalid_json") == 0) {
				fake_write_all(fd, "data: {not json\n\n", 17);
				fault = NULL;
			}
			c = delta_chunk(model, json_pack("{s:s%}", "content", content + i, k), NULL);
			sse_send(fd, c, chunk);
			json_decref(c);
		}
	}
	json_array_foreach (tools, i, t_rule) {
		/* Each call in three chunks: id+name, then the arguments in two halves. */
		const char *args = json_string_value(json_object_get(t_rule, "arguments"));
		size_t half;
		if (args_bytes > 0) { /* a flood: 'x' * args_bytes in 64 KB deltas */
			send_big_args(fd, model, (int)i, json_object_get(t_rule, "id"),
				      json_object_get(t_rule, "name"), (size_t)args_bytes, chunk);
			continue;
		}
		half = strlen(args) / 2;
		json_t *c = delta_chunk(model,
					json_pack("{s:[{s:i, s:O, s:s, s:{s:O, s:s}}]}", "tool_calls",
						  "index", (int)i, "id", json_object_get(t_rule, "id"),
						  "type", "function", "function", "name",
						  json_object_get(t_rule, "name"), "arguments", ""),
					NULL);
		sse_send(fd, c, chunk);
		json_decref(c);
		c = delta_chunk(model,
				json_pack("{s:[{s:i, s:{s:s%}}]}", "tool_calls", "index", (int)i, "function",
					  "arguments", args, half),
				NULL);
		sse_send(fd, c, chunk);
		json_decref(c);
		c = delta_chunk(model,
				json_pack("{s:[{s:i, s:{s:s}}]}", "tool_calls", "index", (int)i, "function",
					  "arguments", args + half),
				NULL);
		sse_send(fd, c, chunk);
		json_decref(c);
	}
	{
		json_t *c = delta_chunk(model, json_object(), finish);
		sse_send(fd, c, chunk);
		json_decref(c);
	}
	if (usage) {
		json_t *u = json_pack("{s:s, s:s, s:s, s:[], s:{s:I, s:I, s:I, s:{s:I}, s:{s:i}}}", "id",
				      "chatcmpl-fake", "object", "chat.completion.chunk", "model", model,
				      "choices", "usage", "prompt_tokens", ptok, "completion_tokens", ctok,
				      "total_tokens", ptok < 1000000000 ? ptok + ctok : ptok,
				      "prompt_tokens_details", "cached_tokens", cached,
				      "completion_tokens_details", "reasoning_tokens", reasoning ? 5 : 0);
		sse_send(fd, u, chunk);
		json_decref(u);
	}
	write_chunked(fd, "data: [DONE]\n\n", 14, chunk);
	free(huge);
	return 0;
}

static int conn_seq;

static void *handle(void *arg)
{
	int fd = (int)(long)arg, conn, keep = 1;
	char *buf = malloc(1 << 20), *end, *cl, *auth, path[256], authv[512];
	size_t len = 0, need = 0;
	json_t *req;
	json_error_t jerr;

	pthread_mutex_lock(&mu);
	conn = ++conn_seq;
	pthread_mutex_unlock(&mu);
	while (keep) {
		path[0] = authv[0] = '\0';
		for (;;) {
			ssize_t r;
			buf[len] = '\0';
			if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
				cl = strcasestr(buf, "content-length:");
				need = (size_t)(end + 4 - buf) +
				       (cl && cl < end ? (size_t)strtoul(cl + 15, NULL, 10) : 0);
				if (len >= need || len >= (1 << 20) - 1)
					break;
			}
			r = recv(fd, buf + len, (1 << 20) - 1 - len, 0);
			if (r <= 0)
				goto out;
			len += (size_t)r;
		}
		if (need > len)
			need = len;
		{
			char saved = buf[need];
			buf[need] = '\0'; /* this request's body ends here */
			sscanf(buf, "%*s %255s", path);
			if ((auth = strcasestr(buf, "\r\nauthorization:")) != NULL && auth < end)
				sscanf(auth + 16, " %511[^\r\n]", authv);
			log_request(path, authv, end + 4, conn);
			if (strstr(path, "/models")) {
				const char *b =
					"{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":\"model\"}]}";
				char head[256];
				snprintf(head, sizeof(head),
					 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
					 strlen(b));
				fake_write_all(fd, head, strlen(head));
				fake_write_all(fd, b, strlen(b));
				goto out;
			}
			req = json_loads(end + 4, 0, &jerr);
			keep = answer(fd, req, pick_rule(end + 4));
			json_decref(req);
			buf[need] = saved;
		}
		memmove(buf, buf + need, len - need);
		len -= need;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	json_error_t jerr;
	unsigned port;

	if (argc != 4) {
		fprintf(stderr, "usage: fakellm PORTFILE SCRIPT.json LOGFILE\n");
		return 2;
	}
	rules = json_load_file(argv[2], 0, &jerr);
	if (!json_is_array(rules)) {
		fprintf(stderr, "fakellm: %s: %s (line %d)\n", argv[2], jerr.text, jerr.line);
		return 2;
	}
	used = calloc(json_array_size(rules) + 1, sizeof(int));
	log_path = argv[3];
	keepalive = getenv("FAKELLM_KEEPALIVE") && !strcmp(getenv("FAKELLM_KEEPALIVE"), "1");
	return fake_serve("fakellm", argv[1], FAKELLM_LIFETIME_S, handle, &port);
}
