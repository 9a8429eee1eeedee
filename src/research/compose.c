/*
 * compose.c - the last steps of a research run (see run.c): choose the
 * findings that fit the writer's context, have the model write the
 * report (or, without a model, build the extractive brief or the notes
 * report), then verify citations and assemble the report object.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/ctl.h"
#include "../core/clock.h"
#include "../core/procmem.h"
#include "../core/qbuf.h"
#include "prompts.h"
#include "report.h"
#include "research.h"
#include "run_int.h"
#include "text.h"

/* ---- write ---- */

#define WRITE_ECHO_MAX_BYTES 6000     /* of a bad reply shown back to the model in the retry */
#define WRITE_INSTRUCTION_TOKENS 1500 /* the write prompt's own text; the reply's cap comes on top */
#define WRITE_CONTINUATIONS 2         /* of a reply cut at its length limit */
#define WRITE_MIN_FINDINGS \
	3 /* sent even when the context is small: a write prompt
				     * of no findings gets a report of nothing ("ok") */
/* A reply with its continuations (8,192 tokens a call is ~50 KB); the
 * sections and the lead joined (a few replies); the notes report or the
 * brief (WRITE_MAX_FINDINGS findings). The caps stop a runaway, not a report. */
#define WRITE_REPLY_MAX_BYTES ((size_t)4 * 1024 * 1024)
#define WRITE_REPORT_MAX_BYTES ((size_t)8 * 1024 * 1024)
#define COMPOSE_TEXT_MAX_BYTES ((size_t)4 * 1024 * 1024)
#define WRITE_PARAGRAPH_MAX_BYTES (1024 * 1024) /* one paragraph normalised for the repeat check */
#define BRIEF_LINE_MAX_BYTES (64 * 1024)        /* one passage of the brief flattened to a line */

/* The report's length in words and the write call's reply cap. */
static int write_words(const struct run *r)
{
	const char *l = r->opts->length ? r->opts->length : "";

	return strcmp(l, "short") == 0 ? 600 : strcmp(l, "long") == 0 ? 4000 : 1500;
}

static long write_max_tokens(const struct run *r)
{
	/* About two tokens a word in English and more in other scripts, with
	 * room for tables and citations; a reply cut at the cap is continued. */
	return r->opts->quick ? 2048 : write_words(r) <= 600 ? 2048 : write_words(r) <= 1500 ? 4096 : 8192;
}

/* Tokens a finding takes in the write prompt. */
static long finding_tokens(const struct run *r, const struct finding *f)
{
	return 12 + llm_estimate_tokens(f->claim, strlen(f->claim)) +
	       llm_estimate_tokens(f->quote, strlen(f->quote)) +
	       llm_estimate_tokens(r->sources[f->source].title, strlen(r->sources[f->source].title));
}

/*
 * The findings the writer sees: one from each source in turn (so a few
 * rich sources do not crowd out the rest), as many as fit in the model's
 * context next to the instructions and the reply. Ids in *ids.
 */
int compose_pick_findings(struct run *r, int *ids, int max)
{
	long context = llm_client_config(r->env->llm)->context;
	/* A small context (2048) keeps half for the instructions and the reply
	 * instead of the fixed reserve, which left no room for any finding. */
	long reserve = WRITE_INSTRUCTION_TOKENS + write_max_tokens(r);
	long room = (context > 2 * reserve ? context - reserve : context / 2) -
		    llm_estimate_tokens(r->opts->question, strlen(r->opts->question));
	int *next = q_calloc((size_t)(r->n_sources ? r->n_sources : 1), sizeof(int));
	int n = 0, progress = 1, i, s;

	if (room > 60000) /* long prompts cost money and dilute attention */
		room = 60000;
	if (!next)
		return 0;
	while (progress && n < max) {
		progress = 0;
		for (s = 0; s < r->n_sources && n < max; s++) {
			for (i = next[s]; i < r->n_findings; i++)
				if (r->findings[i].source == s)
					break;
			if (i >= r->n_findings)
				continue;
			next[s] = i + 1;
			if (finding_tokens(r, &r->findings[i]) > room)
				continue;
			room -= finding_tokens(r, &r->findings[i]);
			ids[n++] = i;
			progress = 1;
		}
	}
	q_free(next);
	/* Never none (nor fewer than a few) while findings exist: the shortest
	 * ones not yet taken, even if the prompt then runs over the estimate. */
	while (n < WRITE_MIN_FINDINGS && n < max && n < r->n_findings) {
		int best = -1, k;
		for (i = 0; i < r->n_findings; i++) {
			for (k = 0; k < n && ids[k] != i; k++)
				;
			if (k == n && (best < 0 || finding_tokens(r, &r->findings[i]) <
							   finding_tokens(r, &r->findings[best])))
				best = i;
		}
		ids[n++] = best;
	}
	/* Keep them in source order: the writer reads them as evidence per source. */
	for (i = 1; i < n; i++)
		for (s = i; s > 0 && ids[s - 1] > ids[s]; s--) {
			int t = ids[s];
			ids[s] = ids[s - 1];
			ids[s - 1] = t;
		}
	return n;
}

/*
 * The report as it is written: the model's text deltas become
 * "report_delta" events (docs/EVENTS.md), coalesced to at least
 * DELTA_MIN_BYTES or DELTA_MAX_MS so the event table holds tens of rows
 * for a report, not one per token. Each event says at which byte of this
 * write call's reply its text starts; a retried attempt starts again at 0.
 */
#define DELTA_MIN_BYTES 200
#define DELTA_MAX_MS 100.0
#define DELTA_REPLAY_BYTES 4096 /* pieces of a reply that came from the cache */

struct delta_stream {
	struct run *r;
	int call;            /* write calls of this run, 1-based */
	struct qbuf pending; /* not sent yet */
	size_t offset;       /* reply bytes sent before pending */
	size_t streamed;     /* bytes this call's attempts streamed in all */
	double last_ms;      /* when the last event went out */
};

/* Where to cut buf[0..len) so no UTF-8 sequence is split: before an
 * unfinished last character, else at len. */
static size_t whole_chars(const char *buf, size_t len)
{
	size_t i = len, cont = 0, need;
	unsigned char lead;

	while (i > 0 && cont < 3 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80) {
		i--;
		cont++;
	}
	if (i == 0)
		return len;
	lead = (unsigned char)buf[i - 1];
	need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
	return need > cont ? i - 1 : len;
}

/* Send pending up to its last whole character (all of it when final). */
static void delta_flush(struct delta_stream *d, int final)
{
	size_t cut = final ? d->pending.len : whole_chars(d->pending.data, d->pending.len);

	if (cut == 0)
		return;
	run_emit(d->r, "report_delta",
		 json_pack("{s:i, s:I, s:s%}", "call", d->call, "offset", (json_int_t)d->offset, "text",
			   d->pending.data, cut));
	d->offset += cut;
	memmove(d->pending.data, d->pending.data + cut, d->pending.len - cut);
	d->pending.len -= cut;
	d->pending.data[d->pending.len] = '\0';
	d->last_ms = q_now_ms();
}

static void delta_text(void *ctx, const char *text, size_t n)
{
	struct delta_stream *d = ctx;

	d->streamed += n;
	if (qbuf_add(&d->pending, text, n))
		return; /* over the report cap: the reply itself will fail too */
	if (d->pending.len >= DELTA_MIN_BYTES || q_now_ms() - d->last_ms >= DELTA_MAX_MS)
		delta_flush(d, 0);
}

/* The attempt failed and will be retried: its text comes again from 0. */
static void delta_retry(void *ctx, int attempt, const char *why, long delay_ms)
{
	struct delta_stream *d = ctx;

	(void)attempt, (void)why, (void)delay_ms;
	d->pending.len = 0;
	if (d->pending.data)
		d->pending.data[0] = '\0';
	d->offset = 0;
}

/* The call is over: send the rest, or the whole reply when it came from
 * the cache (a resumed run) and nothing streamed. */
static void delta_finish(struct delta_stream *d, const char *content)
{
	size_t len = content ? strlen(content) : 0, at;

	if (d->streamed == 0 && d->offset == 0) {
		for (at = 0; at < len;) {
			size_t k = len - at < DELTA_REPLAY_BYTES ? len - at : DELTA_REPLAY_BYTES;
			while (at + k < len && ((unsigned char)content[at + k] & 0xC0) == 0x80)
				k++;
			run_emit(d->r, "report_delta",
				 json_pack("{s:i, s:I, s:s%}", "call", d->call, "offset", (json_int_t)at,
					   "text", content + at, k));
			at += k;
		}
	} else if (content) {
		delta_flush(d, 1);
	}
	qbuf_release(&d->pending);
}

/*
 * Drop the sentence a length limit cut short from the piece of b that
 * starts at from: the continuation starts with that sentence again, so
 * nothing is joined inside a word (the client trims a reply's leading
 * space, which would tell a new word from the rest of one). Kept whole
 * when no sentence or line ends in its second half.
 */
static void cut_to_sentence(struct qbuf *b, size_t from)
{
	size_t i, end = 0;

	for (i = from; i < b->len; i++)
		if (b->data[i] == '\n' ||
		    ((b->data[i] == '.' || b->data[i] == '!' || b->data[i] == '?') && i + 1 < b->len &&
		     b->data[i + 1] == ' ') ||
		    (i + 3 <= b->len && (memcmp(b->data + i, "\xE3\x80\x82", 3) == 0 || /* 。 */
					 memcmp(b->data + i, "\xEF\xBC\x81", 3) == 0 || /* ！ */
					 memcmp(b->data + i, "\xEF\xBC\x9F", 3) == 0))) /* ？ */
			end = b->data[i] == '\n' || b->data[i] == '.' || b->data[i] == '!' || b->data[i] == '?'
				      ? i + 1
				      : i + 3;
	if (end > from + (b->len - from) / 2 && !b->err) {
		b->len = end;
		b->data[end] = '\0';
	}
}

/*
 * One write call with messages m[0..n): the reply, or NULL (failure
 * recorded). A reply cut off at its length limit is continued: the part
 * so far (up to its last whole sentence) goes back as the assistant's
 * turn with PROMPT_CONTINUE, up to WRITE_CONTINUATIONS times, and the
 * pieces are joined. Each call's text streams out as report_delta events
 * (a continuation is a call of its own, from offset 0).
 */
static char *write_call(struct run *r, struct llm_message *m, size_t n, long max_tokens)
{
	struct llm_message more[8];
	struct llm_request req;
	struct llm_response resp;
	struct q_error err = {0};
	struct llm_callbacks cb;
	struct delta_stream d;
	struct qbuf body;
	size_t start;
	int part, cut = 0;

	qbuf_init(&body, WRITE_REPLY_MAX_BYTES);
	memset(&req, 0, sizeof(req));
	memset(&cb, 0, sizeof(cb));
	memcpy(more, m, n * sizeof(*m));
	cb.on_text = delta_text;
	cb.on_retry = delta_retry;
	cb.ctx = &d;
	req.messages = more;
	req.n_messages = n;
	req.temperature = 0.3;
	req.account = r->acct;
	req.cb = &cb;
	for (part = 0; part <= WRITE_CONTINUATIONS; part++) {
		memset(&d, 0, sizeof(d));
		d.r = r;
		d.call = ++r->write_calls;
		d.last_ms = q_now_ms();
		qbuf_init(&d.pending, WRITE_REPLY_MAX_BYTES);
		req.max_tokens = run_reply_cap(r, max_tokens, more, req.n_messages);
		r->critical_calls++;
		if (llm_chat(r->env->llm, &req, &resp, &err) != 0) {
			delta_finish(&d, NULL);
			run_model_failed(r, "write", err.code, err.msg);
			break;
		}
		run_sample_memory(r);
		delta_finish(&d, resp.content);
		cut = strcmp(resp.finish_reason, "length") == 0;
		if (body.len > 0 && resp.content[0] != '\n' && body.data[body.len - 1] != '\n')
			qbuf_addc(&body, ' '); /* the next sentence of a continued reply */
		start = body.len;
		qbuf_adds(&body, resp.content);
		llm_response_release(&resp);
		if (cut && part < WRITE_CONTINUATIONS)
			cut_to_sentence(&body, start);
		if (!cut || part == WRITE_CONTINUATIONS || n + 2 > sizeof(more) / sizeof(more[0]))
			break;
		run_emit(r, "write_continued", json_pack("{s:i}", "part", part + 2));
		more[n].role = "assistant";
		more[n].content = qbuf_cstr(&body);
		more[n].tool_call_id = NULL;
		more[n + 1].role = "user";
		more[n + 1].content = PROMPT_CONTINUE;
		more[n + 1].tool_call_id = NULL;
		req.n_messages = n + 2;
	}
	if (cut)
		run_emit(r, "warning",
			 json_pack("{s:s, s:s}", "step", "write", "message",
				   "the report was cut off at the token limit"));
	if (body.len == 0) {
		qbuf_release(&body);
		return NULL;
	}
	return qbuf_detach(&body, NULL);
}

/*
 * Why a write reply cannot be the report, or NULL when it can: a reply
 * that is JSON, repeats the prompt, or cites none of the n_ids findings
 * while they are in hand would give a report whose Sources list is empty.
 */
static const char *write_problem(const char *body, int n_ids)
{
	const char *p = body;
	struct cite_finding *cf;
	struct cite_result cr;
	int verified = 0;

	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	if (*p == '{' || strncmp(p, "```json", 7) == 0)
		return "was a JSON object, not a report";
	if (strstr(p, "<finding id=") || strncmp(p, "Question: ", 10) == 0 ||
	    strstr(p, "Findings (each checked against its source)"))
		return "repeated the prompt instead of writing a report";
	if (n_ids <= 0)
		return NULL;
	cf = q_calloc((size_t)n_ids, sizeof(*cf));
	if (cf && cite_process(body, cf, n_ids, 0, &cr) == 0) {
		verified = cr.verified;
		cite_result_release(&cr);
	} else {
		verified = 1; /* out of memory: do not judge the reply by it */
	}
	q_free(cf);
	return verified ? NULL : "cited no finding";
}

/* Finding ids[i] as the writer sees it: F(i+1), its source's title,
 * site and date, its claim and its checked quote. */
static void add_finding(struct run *r, struct qbuf *u, const int *ids, int i)
{
	struct finding *f = &r->findings[ids[i]];
	struct source *src = &r->sources[f->source];

	qbuf_addf(u, "<finding id=\"F%d\" source=\"%s\"", i + 1, src->title);
	if (src->site[0])
		qbuf_addf(u, " site=\"%s\"", src->site);
	if (src->date[0])
		qbuf_addf(u, " %s=\"%s\"", src->date_fetched ? "read" : "published", src->date);
	qbuf_addf(u, ">%s Quote: \"%s\"</finding>\n", f->claim, f->quote);
}

/* The question, the sub-questions and the brief: the head of every write prompt. */
static void write_head(struct run *r, struct qbuf *u)
{
	json_t *s;
	size_t k;

	qbuf_addf(u, "Question: %s\n\n", r->opts->question);
	if (json_array_size(r->sub_questions) && !r->opts->quick) {
		qbuf_adds(u, "Sub-questions:\n");
		json_array_foreach (r->sub_questions, k, s)
			qbuf_addf(u, "%zu. %s\n", k + 1, json_string_value(s));
		qbuf_addc(u, '\n');
	}
	prompt_brief(u, r->brief);
}

/* Whether the budget or a cancel ended the run while it wrote. */
static int should_stop_writing(const struct run *r) { return r->stopped[0] != 0; }

/* ---- sectioned writing ---- */

/*
 * A report of many findings is written in sections, in parallel: an
 * outline call made after research groups the findings into sections
 * (the brief's, literally, when the question prescribes them); each
 * section is written from its own findings by one call of a batch
 * (llm_chat_many); a lead call gives the direct answer from the
 * sections; paragraphs repeated across sections are dropped. Three calls
 * on the critical path instead of one, and each writer sees only what its
 * section needs, so a 4,000-word report is not one reply at its limit.
 * Any step failing falls back to the single write call.
 */
#define SECTIONED_MIN_FINDINGS 12 /* fewer: one call writes it all */
#define MAX_SECTIONS 8
#define LEAD_MAX_TOKENS 1024 /* two to four sentences */

struct section {
	char title[200];
	int *members; /* indexes into ids (0-based) */
	int n;
	char *text; /* the section's body, or NULL */
};

static const char outline_schema_text[] =
	"{\"type\":\"object\",\"required\":[\"sections\"],\"properties\":{\"sections\":{\"type\":"
	"\"array\",\"items\":{\"type\":\"object\",\"required\":[\"title\",\"findings\"],"
	"\"properties\":{\"title\":{\"type\":\"string\"},\"findings\":{\"type\":\"array\","
	"\"items\":{\"type\":\"integer\"}}}}}}}";

/* The outline after research: up to MAX_SECTIONS sections of findings. */
static int write_outline(struct run *r, const int *ids, int n_ids, struct section *sec)
{
	struct llm_message m[2];
	struct llm_request req;
	struct llm_response resp;
	struct q_error err = {0};
	struct qbuf u, sys;
	json_t *schema = json_loads(outline_schema_text, 0, NULL), *it, *id;
	size_t k, j;
	int i, n = 0;

	qbuf_init(&u, RUN_PROMPT_MAX_BYTES);
	qbuf_init(&sys, RUN_SYSTEM_MAX_BYTES);
	write_head(r, &u);
	qbuf_adds(&u, "Findings (id: claim):\n");
	for (i = 0; i < n_ids; i++)
		qbuf_addf(&u, "F%d: %s\n", i + 1, r->findings[ids[i]].claim);
	prompt_outline_task(&u, r->brief, MAX_SECTIONS);
	prompt_system(&sys, PROMPT_WRITE_ROLE, r->date);
	memset(&req, 0, sizeof(req));
	m[0].role = "system";
	m[0].content = qbuf_cstr(&sys);
	m[0].tool_call_id = NULL;
	m[1].role = "user";
	m[1].content = qbuf_cstr(&u);
	m[1].tool_call_id = NULL;
	req.messages = m;
	req.n_messages = 2;
	req.temperature = 0.2;
	req.json = 1;
	req.schema = schema;
	req.schema_name = "outline";
	req.account = r->acct;
	req.max_tokens = run_reply_cap(r, RUN_JSON_MAX_TOKENS, m, 2);
	r->critical_calls++;
	if (schema && llm_chat_json(r->env->llm, &req, &resp, &err) == 0) {
		json_array_foreach (json_object_get(resp.json, "sections"), k, it) {
			const char *title = json_string_value(json_object_get(it, "title"));
			if (n >= MAX_SECTIONS || !title || !*title || strlen(title) >= sizeof(sec[n].title) ||
			    !(sec[n].members = q_calloc((size_t)n_ids, sizeof(int))))
				continue;
			snprintf(sec[n].title, sizeof(sec[n].title), "%s", title);
			for (i = 0; title[i]; i++) /* one line */
				if (sec[n].title[i] == '\n' || sec[n].title[i] == '\r' || sec[n].title[i] == '#')
					sec[n].title[i] = ' ';
			json_array_foreach (json_object_get(it, "findings"), j, id) {
				int f = (int)json_integer_value(id);
				if (f >= 1 && f <= n_ids && sec[n].n < n_ids)
					sec[n].members[sec[n].n++] = f - 1;
			}
			if (sec[n].n > 0)
				n++;
			else
				q_free(sec[n].members), sec[n].members = NULL;
		}
		llm_response_release(&resp);
	} else if (schema) {
		run_model_failed(r, "outline", err.code, err.msg);
	}
	json_decref(schema);
	qbuf_release(&u);
	qbuf_release(&sys);
	return n;
}

/* A section cut at its length limit, continued (as write_call does for
 * one write) from its last whole sentence: the joined text. */
static char *continue_section(struct run *r, const struct llm_message *m, const char *cut)
{
	struct llm_message more[4];
	struct qbuf b;
	char *rest;

	qbuf_init(&b, WRITE_REPLY_MAX_BYTES);
	qbuf_adds(&b, cut);
	cut_to_sentence(&b, 0);
	more[0] = m[0];
	more[1] = m[1];
	more[2].role = "assistant";
	more[2].content = qbuf_cstr(&b);
	more[2].tool_call_id = NULL;
	more[3].role = "user";
	more[3].content = PROMPT_CONTINUE;
	more[3].tool_call_id = NULL;
	run_emit(r, "write_continued", json_pack("{s:i}", "part", 2));
	rest = write_call(r, more, 4, write_max_tokens(r));
	if (rest) {
		if (b.len > 0 && rest[0] != '\n' && b.data[b.len - 1] != '\n')
			qbuf_addc(&b, ' ');
		qbuf_adds(&b, rest);
	}
	q_free(rest);
	return qbuf_detach(&b, NULL);
}

/* The sections' bodies, one call each, in one batch. */
static void write_sections(struct run *r, const int *ids, struct section *sec, int n)
{
	struct llm_request reqs[MAX_SECTIONS];
	struct llm_response resps[MAX_SECTIONS];
	struct llm_message msgs[2 * MAX_SECTIONS];
	struct q_error errs[MAX_SECTIONS];
	struct qbuf prompts[MAX_SECTIONS], sys;
	int rcs[MAX_SECTIONS], i, j, words = write_words(r) / (n > 0 ? n : 1);

	memset(reqs, 0, sizeof(reqs));
	memset(resps, 0, sizeof(resps));
	memset(errs, 0, sizeof(errs));
	qbuf_init(&sys, RUN_SYSTEM_MAX_BYTES);
	prompt_system(&sys, PROMPT_WRITE_ROLE, r->date);
	for (i = 0; i < n; i++) {
		qbuf_init(&prompts[i], RUN_PROMPT_MAX_BYTES);
		write_head(r, &prompts[i]);
		qbuf_adds(&prompts[i], "Findings (each checked against its source):\n");
		for (j = 0; j < sec[i].n; j++)
			add_finding(r, &prompts[i], ids, sec[i].members[j]);
		prompt_section_task(&prompts[i], sec[i].title, run_lang_name(r->lang),
				    words < 150 ? 150 : words);
		msgs[2 * i].role = "system";
		msgs[2 * i].content = qbuf_cstr(&sys);
		msgs[2 * i].tool_call_id = NULL;
		msgs[2 * i + 1].role = "user";
		msgs[2 * i + 1].content = qbuf_cstr(&prompts[i]);
		msgs[2 * i + 1].tool_call_id = NULL;
		reqs[i].messages = &msgs[2 * i];
		reqs[i].n_messages = 2;
		reqs[i].temperature = 0.3;
		reqs[i].account = r->acct;
		reqs[i].max_tokens = run_reply_cap(r, write_max_tokens(r), &msgs[2 * i], 2);
		r->writer_findings += sec[i].n;
		r->writer_prompt_bytes += (long)prompts[i].len;
	}
	run_emit(r, "writing", json_pack("{s:i}", "sections", n));
	r->critical_calls++;
	llm_chat_many(r->env->llm, reqs, (size_t)n, 0, resps, rcs, errs);
	for (i = 0; i < n; i++) {
		if (rcs[i])
			run_model_failed(r, "write", rcs[i], errs[i].msg);
		else if (strcmp(resps[i].finish_reason, "length") == 0 && resps[i].content[0])
			sec[i].text = continue_section(r, &msgs[2 * i], resps[i].content);
		else if (resps[i].content[0])
			sec[i].text = q_strdup(resps[i].content);
		llm_response_release(&resps[i]);
		qbuf_release(&prompts[i]);
	}
	qbuf_release(&sys);
}

/* Append text without its own leading headings and without paragraphs
 * already in out (normalised): the short pass against repetition. */
static void add_unrepeated(struct qbuf *out, const char *text, struct qbuf *seen)
{
	const char *p = text;

	while (*p) {
		const char *e = strstr(p, "\n\n");
		size_t n = e ? (size_t)(e - p) : strlen(p);
		struct qbuf norm;
		qbuf_init(&norm, WRITE_PARAGRAPH_MAX_BYTES);
		text_normalize(p, n, &norm);
		if (norm.len > 0 && !(p == text && p[0] == '#') &&
		    !(norm.len > 40 && strstr(qbuf_cstr(seen), qbuf_cstr(&norm)))) {
			qbuf_add(out, p, n);
			qbuf_adds(out, "\n\n");
			qbuf_add(seen, norm.data, norm.len);
			qbuf_addc(seen, '\n');
		}
		qbuf_release(&norm);
		p += n;
		while (*p == '\n')
			p++;
	}
}

/* The sectioned report, or NULL to fall back to one write call. */
static char *write_sectioned(struct run *r, int *ids, int n_ids)
{
	struct section sec[MAX_SECTIONS];
	struct llm_message m[2];
	struct qbuf body, seen, u, sys;
	char *lead = NULL, *out = NULL;
	int n, i, written = 0;

	memset(sec, 0, sizeof(sec));
	n = write_outline(r, ids, n_ids, sec);
	if (n >= 2 && !should_stop_writing(r))
		write_sections(r, ids, sec, n);
	qbuf_init(&body, WRITE_REPORT_MAX_BYTES);
	qbuf_init(&seen, WRITE_REPORT_MAX_BYTES);
	for (i = 0; i < n; i++)
		if (sec[i].text) {
			qbuf_addf(&body, "## %s\n\n", sec[i].title);
			add_unrepeated(&body, sec[i].text, &seen);
			written++;
		}
	if (written >= 2) {
		qbuf_init(&u, WRITE_REPORT_MAX_BYTES);
		qbuf_init(&sys, RUN_SYSTEM_MAX_BYTES);
		qbuf_addf(&u, "Question: %s\n\nThe report's sections:\n\n%s", r->opts->question,
			  qbuf_cstr(&body));
		prompt_lead_task(&u, run_lang_name(r->lang));
		prompt_system(&sys, PROMPT_WRITE_ROLE, r->date);
		m[0].role = "system";
		m[0].content = qbuf_cstr(&sys);
		m[0].tool_call_id = NULL;
		m[1].role = "user";
		m[1].content = qbuf_cstr(&u);
		m[1].tool_call_id = NULL;
		lead = write_call(r, m, 2, LEAD_MAX_TOKENS);
		qbuf_release(&u);
		qbuf_release(&sys);
	}
	if (lead) {
		struct qbuf all;
		qbuf_init(&all, WRITE_REPORT_MAX_BYTES);
		qbuf_adds(&all, lead);
		qbuf_adds(&all, "\n\n");
		qbuf_add(&all, body.data, body.len);
		out = qbuf_detach(&all, NULL);
		qbuf_release(&all);
	}
	for (i = 0; i < n; i++) {
		q_free(sec[i].members);
		q_free(sec[i].text);
	}
	q_free(lead);
	qbuf_release(&body);
	qbuf_release(&seen);
	return out;
}

char *compose_write(struct run *r, int *ids, int n_ids)
{
	struct llm_message m[4];
	struct qbuf u, sys;
	json_t *s;
	size_t k;
	int i;
	char *body = NULL;
	const char *problem;

	qbuf_init(&u, RUN_PROMPT_MAX_BYTES);
	qbuf_init(&sys, RUN_SYSTEM_MAX_BYTES);
	if (!r->opts->quick && n_ids >= SECTIONED_MIN_FINDINGS) {
		body = write_sectioned(r, ids, n_ids);
		if (body && !write_problem(body, n_ids)) {
			qbuf_release(&u);
			qbuf_release(&sys);
			return body;
		}
		q_free(body);
		body = NULL;
		if (should_stop_writing(r)) {
			qbuf_release(&u);
			qbuf_release(&sys);
			return NULL;
		}
	}
	write_head(r, &u);
	if (json_array_size(r->outline)) {
		qbuf_adds(&u, "Outline:\n");
		json_array_foreach (r->outline, k, s)
			qbuf_addf(&u, "- %s\n", json_string_value(s));
		qbuf_addc(&u, '\n');
	}
	qbuf_adds(&u, "Findings (each checked against its source):\n");
	for (i = 0; i < n_ids; i++)
		add_finding(r, &u, ids, i);
	prompt_write_task(&u, run_lang_name(r->lang), r->opts->quick, write_words(r),
			  json_array_size(r->outline) > 0, r->brief);
	prompt_system(&sys, PROMPT_WRITE_ROLE, r->date);
	m[0].role = "system";
	m[0].content = qbuf_cstr(&sys);
	m[0].tool_call_id = NULL;
	m[1].role = "user";
	m[1].content = qbuf_cstr(&u);
	m[1].tool_call_id = NULL;
	run_emit(r, "writing", json_pack("{s:i}", "findings", n_ids));
	r->writer_findings += n_ids;
	r->writer_prompt_bytes += (long)u.len;
	body = write_call(r, m, 2, write_max_tokens(r));
	problem = body ? write_problem(body, n_ids) : NULL;
	if (problem) {
		/* One corrective retry: show the model its reply and say what is wrong. */
		char *first = body, *again;
		char fix[600];
		snprintf(fix, sizeof(fix),
			 "Your reply %s. Write the report itself now: Markdown prose "
			 "in %s that answers the question from the findings above, and after every "
			 "sentence that states a fact cite the findings that support it by their ids in "
			 "square brackets, e.g. [F1] or [F2][F3]. Use no other citation style.",
			 problem, run_lang_name(r->lang));
		if (strlen(first) > WRITE_ECHO_MAX_BYTES)
			first[WRITE_ECHO_MAX_BYTES] = '\0'; /* what it wrote, not all of it */
		m[2].role = "assistant";
		m[2].content = first;
		m[2].tool_call_id = NULL;
		m[3].role = "user";
		m[3].content = fix;
		m[3].tool_call_id = NULL;
		{
			char say[200];
			snprintf(say, sizeof(say), "the model's report %s; asking once more", problem);
			run_emit(r, "warning", json_pack("{s:s, s:s}", "step", "write", "message", say));
		}
		again = write_call(r, m, 4, write_max_tokens(r));
		q_free(first);
		body = NULL;
		problem = again ? write_problem(again, n_ids) : "failed";
		if (!problem) {
			body = again;
		} else {
			q_free(again);
			snprintf(fix, sizeof(fix),
				 "the model's report could not be used (its reply %s, "
				 "twice); the report lists the checked findings instead",
				 problem);
			run_emit(r, "warning", json_pack("{s:s, s:s}", "step", "write", "message", fix));
		}
	}
	qbuf_release(&u);
	qbuf_release(&sys);
	return body;
}

/* Without a model, or when it could not write: the findings themselves,
 * grouped by sub-question. */
char *compose_notes(struct run *r, int *ids, int *n_ids_io)
{
	struct qbuf b;
	int g, i, any, n_ids;
	int groups = (int)json_array_size(r->sub_questions);
	int zh = strcmp(r->lang, "zh") == 0; /* the report's fixed words in its language */

	/* Every finding, not the writer's pick: no context bounds this list. */
	for (n_ids = 0; ids && n_ids < r->n_findings && n_ids < WRITE_MAX_FINDINGS; n_ids++)
		ids[n_ids] = n_ids;
	*n_ids_io = n_ids;

	qbuf_init(&b, COMPOSE_TEXT_MAX_BYTES);
	if (zh) {
		qbuf_adds(&b, "来源所说的，即已核对的发现（模型没有写报告");
		qbuf_addf(&b, "%s%s）。\n", r->stopped[0] ? "：" : "", r->stopped);
	} else {
		qbuf_adds(&b, "What the sources say, as checked findings (the model did not write a "
			      "report");
		qbuf_addf(&b, "%s%s).\n", r->stopped[0] ? ": " : "", r->stopped);
	}
	for (g = 0; g <= groups; g++) {
		any = 0;
		for (i = 0; i < n_ids; i++) {
			struct finding *f = &r->findings[ids[i]];
			if ((g < groups && f->sub_question != g + 1) ||
			    (g == groups && f->sub_question >= 1 && f->sub_question <= groups))
				continue;
			if (!any)
				qbuf_addf(&b, "\n## %s\n\n",
					  g < groups ? json_string_value(
							       json_array_get(r->sub_questions, (size_t)g))
						     : (groups ? (zh ? "其他发现" : "Other findings")
							       : (zh ? "发现" : "Findings")));
			any = 1;
			qbuf_addf(&b, "- %s [F%d]\n", f->claim, i + 1);
		}
	}
	return qbuf_detach(&b, NULL);
}

/* Around the key sentence [ss, se) of text[a, e): whole sentences up to
 * about 35 words before and 45 after, so a brief shows context, not pages. */
static void excerpt_window(const char *text, size_t a, size_t e, size_t ss, size_t se, size_t *ws, size_t *we)
{
	size_t i = ss, words = 0, best;

	while (i > a && words < 35) {
		i--;
		if (text[i] == ' ' || text[i] == '\n')
			words++;
	}
	best = ss; /* the earliest sentence start at or after i */
	if (i == a) {
		best = a;
	} else {
		size_t k;
		for (k = i; k < ss; k++)
			if ((text[k] == '.' || text[k] == '!' || text[k] == '?' || text[k] == '\n') &&
			    (text[k + 1] == ' ' || text[k + 1] == '\n')) {
				best = k + 1;
				while (best < ss && (text[best] == ' ' || text[best] == '\n'))
					best++;
				break;
			}
	}
	*ws = best;
	i = se;
	words = 0;
	best = se;
	while (i < e && words < 45) {
		if (text[i] == ' ' || text[i] == '\n')
			words++;
		if ((text[i] == '.' || text[i] == '!' || text[i] == '?') &&
		    (i + 1 == e || text[i + 1] == ' ' || text[i + 1] == '\n'))
			best = i + 1;
		i++;
	}
	*we = i == e ? e : best;
}

/*
 * The relevance floor of the brief. BM25 ranks whatever shares a word with
 * the question, so a question the corpus knows nothing about would still
 * get a confident brief of passages that share "home" or "use". A passage
 * counts only when it covers enough of the question's content terms (its
 * heading included): two of them (one for a one-word question), and a
 * quarter of them for long questions. Not half: a compound question such
 * as the demo's ("why X, and what does that teach about Y", 11 terms) has
 * good passages that answer one half with 3 or 4 terms. And it must score
 * at least BRIEF_MIN_SHARE of the best passage, so a long tail of weak
 * matches does not pad the brief.
 */
#define BRIEF_MIN_TERMS 2
#define BRIEF_TERMS_FRACTION 4 /* at least 1/4 of the terms */
#define BRIEF_MIN_SHARE 0.2
#define BRIEF_BULLETS 5 /* key sentences that open the brief */

static int brief_relevant(const struct rpassage *p, double best)
{
	int need = (p->n_terms + BRIEF_TERMS_FRACTION - 1) / BRIEF_TERMS_FRACTION;

	if (need < BRIEF_MIN_TERMS)
		need = BRIEF_MIN_TERMS;
	if (need > p->n_terms)
		need = p->n_terms;
	return p->score > 0 && p->matched >= need && p->score >= BRIEF_MIN_SHARE * best;
}

/* The key sentence of a chosen passage and the finding made of it. */
struct brief_pick {
	struct rpassage *p;
	size_t a, e;   /* the passage's prose (its own heading lines dropped) */
	size_t ss, se; /* the key sentence; ss == se when there is none */
	int id;        /* its finding as cited ([F id]), 0 when none */
};

/* The passage's prose and key sentence; the sentence becomes a finding. */
static void brief_key(struct run *r, const char *query, struct brief_pick *k, int *ids, int *n_ids)
{
	const char *text = r->sources[k->p->source].text;
	int id;

	k->a = k->p->start;
	k->e = k->p->end;
	k->ss = k->se = k->e;
	k->id = 0;
	while (k->a < k->e && text[k->a] == '#' && !r->sources[k->p->source].plain) {
		while (k->a < k->e && text[k->a] != '\n')
			k->a++;
		while (k->a < k->e && text[k->a] == '\n')
			k->a++;
	}
	if (text_key_sentence(text, k->a, k->e, query, &k->ss, &k->se) != 0) {
		k->ss = k->se = k->e;
		return;
	}
	id = run_add_finding(r, k->p->source, text + k->ss, k->se - k->ss, text + k->ss, k->se - k->ss, 0);
	if (id < 0)
		return;
	ids[(*n_ids)++] = id;
	k->id = *n_ids;
}

/* text[a..e) on one line, without the page's own citation markers. */
static void add_flat(struct qbuf *b, const char *text, size_t a, size_t e)
{
	struct qbuf t;
	size_t i;

	qbuf_init(&t, BRIEF_LINE_MAX_BYTES);
	cite_strip_markers(text + a, e - a, &t);
	for (i = 0; i < t.len; i++)
		if (t.data[i] == '\n')
			t.data[i] = ' ';
	qbuf_add(b, t.data, t.len);
	qbuf_release(&t);
}

/* One passage as a block quote, its key sentence in bold. */
static void brief_quote(struct run *r, const struct brief_pick *k, struct qbuf *b)
{
	const char *text = r->sources[k->p->source].text;
	size_t a = k->a, e = k->e, ss = k->ss, se = k->se, t, from;

	if (se > ss)
		excerpt_window(text, k->a, k->e, ss, se, &a, &e);
	qbuf_adds(b, "\n> ");
	if (a > k->p->start && a > 0 && text[a - 1] != '\n')
		qbuf_adds(b, "… ");
	from = b->len;
	for (t = a; t < e; t++) {
		size_t ml;
		if (t == ss)
			qbuf_adds(b, "**");
		/* The page's own [3] would pass for a citation quarry made. */
		ml = cite_marker_len(text + t, e - t);
		if (ml && !(t < se && t + ml > se) && !(t < ss && t + ml > ss)) {
			t += ml - 1;
			if (t + 1 >= e || !cite_marker_len(text + t + 1, e - t - 1))
				cite_mend_gap(b, from, t + 1 < e ? text[t + 1] : '\0');
			if (t + 1 == se)
				qbuf_adds(b, "**");
			continue;
		}
		if (text[t] == '\n')
			qbuf_adds(b, t + 1 < e && text[t + 1] != '\n' ? " " : "");
		else
			qbuf_addc(b, text[t]);
		if (t + 1 == se)
			qbuf_adds(b, "**");
	}
	if (e < k->p->end && e > ss && text[e] != '\n')
		qbuf_adds(b, " …");
	if (k->id)
		qbuf_addf(b, " [F%d]", k->id);
	else
		qbuf_addf(b, " (%s)", r->sources[k->p->source].title);
	qbuf_addc(b, '\n');
}

/* The group label of a passage: its heading, else its source's title. */
static const char *brief_label(struct run *r, const struct rpassage *p)
{
	return p->heading[0] ? p->heading : r->sources[p->source].title;
}

/* The extractive brief: up to five bullets (the key sentences of the
 * best passages), then the passages grouped by where they come from, each
 * cited, the key sentence in bold. Findings are the key sentences (in
 * their source by construction). No passage over the relevance floor:
 * *n_ids is 0 and the caller says "nothing relevant found". */
char *compose_brief(struct run *r, int **ids_out, int *n_ids)
{
	const char **texts = q_calloc((size_t)(r->n_sources ? r->n_sources : 1), sizeof(char *));
	int *plain = q_calloc((size_t)(r->n_sources ? r->n_sources : 1), sizeof(int));
	struct rpassage *ps = NULL;
	size_t n = 0, k;
	int per_source[RESEARCH_MAX_SOURCES] = {0}, n_chosen = 0, i, j, bullets = 0;
	struct brief_pick pick[BRIEF_PASSAGES];
	struct qbuf b, q;
	int *ids = q_calloc(BRIEF_PASSAGES + 1, sizeof(int));

	*ids_out = NULL;
	*n_ids = 0;
	qbuf_init(&b, COMPOSE_TEXT_MAX_BYTES);
	qbuf_init(&q, RUN_FOCUS_MAX_BYTES);
	run_focus_query(r, &q);
	/* Only stop words ("the", "what is it"): the relevance floor would fall
	 * back on them and pass any passage, so nothing is relevant. */
	r->no_content_words = text_content_terms(qbuf_cstr(&q)) == 0;
	for (i = 0; texts && plain && i < r->n_sources; i++) {
		texts[i] = r->sources[i].text;
		plain[i] = r->sources[i].plain;
	}
	if (!texts || !plain || !ids || r->no_content_words ||
	    text_rank_passages_ex(texts, plain, (size_t)r->n_sources, qbuf_cstr(&q), &ps, &n))
		n = 0;
	for (k = 0; k < n && n_chosen < BRIEF_PASSAGES; k++) {
		if (!brief_relevant(&ps[k], ps[0].score) || per_source[ps[k].source] >= 2)
			continue;
		per_source[ps[k].source]++;
		pick[n_chosen].p = &ps[k];
		brief_key(r, qbuf_cstr(&q), &pick[n_chosen], ids, n_ids);
		n_chosen++;
	}
	if (n_chosen == 0)
		goto out;
	/* The answer first: key sentences of the best passages, best first. */
	qbuf_adds(&b, strcmp(r->lang, "zh") == 0
			      ? "最相关的段落原文（摘录，未经概括）：\n\n"
			      : "What the best-matching passages say (extracted, not summarised):\n\n");
	for (i = 0; i < n_chosen && bullets < BRIEF_BULLETS; i++) {
		const char *text = r->sources[pick[i].p->source].text;
		if (!pick[i].id)
			continue;
		for (j = 0; j < i; j++) /* the same sentence twice (a copied page) once */
			if (pick[j].id && pick[j].se - pick[j].ss == pick[i].se - pick[i].ss &&
			    memcmp(r->sources[pick[j].p->source].text + pick[j].ss, text + pick[i].ss,
				   pick[i].se - pick[i].ss) == 0)
				break;
		if (j < i)
			continue;
		qbuf_adds(&b, "- ");
		add_flat(&b, text, pick[i].ss, pick[i].se);
		qbuf_addf(&b, " [F%d]\n", pick[i].id);
		bullets++;
	}
	qbuf_adds(&b, strcmp(r->lang, "zh") == 0
			      ? "\n按主题分组的段落，每段的关键句以粗体标出。\n"
			      : "\nThe passages, grouped by topic, with the key sentence of each in bold.\n");
	for (i = 0; i < n_chosen; i++) {
		const char *label = brief_label(r, pick[i].p);
		for (j = 0; j < i; j++)
			if (strcmp(brief_label(r, pick[j].p), label) == 0)
				break;
		if (j < i)
			continue; /* its group is written */
		qbuf_adds(&b, "\n## ");
		add_flat(&b, label, 0, strlen(label));
		qbuf_addc(&b, '\n');
		for (j = i; j < n_chosen; j++)
			if (strcmp(brief_label(r, pick[j].p), label) == 0)
				brief_quote(r, &pick[j], &b);
	}
out:
	q_free(texts);
	q_free(plain);
	q_free(ps);
	qbuf_release(&q);
	*ids_out = ids;
	return qbuf_detach(&b, NULL);
}

/* ---- the report ---- */

void run_sample_memory(struct run *r)
{
	struct q_procmem m;

	if (q_procmem_read(&m) == 0 && m.rss_kb > r->mem_rss_peak_kb)
		r->mem_rss_peak_kb = m.rss_kb;
}

/* The process's peak resident memory during this run, in KiB: VmHWM when
 * the process set a new high during the run (exact), else the highest
 * VmRSS sampled during the run (the peak came before it began). Per
 * process: runs sharing one count each other's memory. */
static long run_peak_rss_kb(struct run *r)
{
	struct q_procmem m;

	run_sample_memory(r);
	if (q_procmem_read(&m) == 0 && m.hwm_kb > r->mem_hwm_start_kb)
		return m.hwm_kb;
	return r->mem_rss_peak_kb;
}

/* The honesty sections' words in the report's language (English for the
 * languages not listed). */
struct honesty_words {
	const char *lang, *limits, *next;
	const char *stopped;    /* %s the reason, %d sources read */
	const char *failed;     /* %d failed, %d chosen */
	const char *dropped;    /* %d quotes */
	const char *unanswered; /* before a sub-question */
	const char *still_open; /* before a gap */
	const char *rests_on;   /* %d sources read */
};

static const struct honesty_words honesty[] = {
	{"en", "Limitations and open questions", "Suggested follow-up questions",
	 "- The run stopped early (%s): it read %d sources and this report uses what was gathered "
	 "until then.\n",
	 "- %d of the %d sources chosen could not be read (see the run's events), so what they say "
	 "is missing here.\n",
	 "- %d quotes the model gave were not found in their sources and were left out, with their "
	 "claims.\n",
	 "- No source read answered: ", "- Still open after the last search: ",
	 "- Everything here rests on the %d sources read; sources that were not found or not read "
	 "may say otherwise.\n"},
	{"fr", "Limites et questions ouvertes", "Questions pour aller plus loin",
	 "- La recherche s'est arrêtée tôt (%s) : elle a lu %d sources et ce rapport utilise ce qui "
	 "avait été réuni jusque-là.\n",
	 "- %d des %d sources choisies n'ont pas pu être lues (voir les événements de la recherche) ; "
	 "ce qu'elles disent manque ici.\n",
	 "- %d citations données par le modèle n'ont pas été trouvées dans leurs sources et ont été "
	 "écartées, avec leurs affirmations.\n",
	 "- Aucune source lue ne répond à : ", "- Encore ouvert après la dernière recherche : ",
	 "- Tout ceci repose sur les %d sources lues ; des sources non trouvées ou non lues peuvent "
	 "dire autre chose.\n"},
	{"de", "Grenzen und offene Fragen", "Weiterführende Fragen",
	 "- Die Recherche endete früh (%s): Sie las %d Quellen, und dieser Bericht nutzt, was bis "
	 "dahin gesammelt war.\n",
	 "- %d der %d gewählten Quellen konnten nicht gelesen werden (siehe die Ereignisse der "
	 "Recherche); was sie sagen, fehlt hier.\n",
	 "- %d Zitate des Modells fanden sich nicht in ihren Quellen und wurden mit ihren Aussagen "
	 "weggelassen.\n",
	 "- Keine gelesene Quelle beantwortet: ", "- Nach der letzten Suche noch offen: ",
	 "- Alles hier beruht auf den %d gelesenen Quellen; nicht gefundene oder nicht gelesene "
	 "Quellen können anderes sagen.\n"},
	{"es", "Limitaciones y preguntas abiertas", "Preguntas para seguir",
	 "- La investigación se detuvo antes de tiempo (%s): leyó %d fuentes y este informe usa lo "
	 "reunido hasta entonces.\n",
	 "- %d de las %d fuentes elegidas no se pudieron leer (ver los eventos de la investigación); "
	 "lo que dicen falta aquí.\n",
	 "- %d citas del modelo no se encontraron en sus fuentes y se descartaron, con sus "
	 "afirmaciones.\n",
	 "- Ninguna fuente leída responde: ", "- Aún abierto tras la última búsqueda: ",
	 "- Todo esto se basa en las %d fuentes leídas; fuentes no encontradas o no leídas pueden "
	 "decir otra cosa.\n"},
	{"pt", "Limitações e questões em aberto", "Perguntas para continuar",
	 "- A pesquisa parou cedo (%s): leu %d fontes e este relatório usa o que foi reunido até "
	 "então.\n",
	 "- %d das %d fontes escolhidas não puderam ser lidas (ver os eventos da pesquisa); o que "
	 "dizem falta aqui.\n",
	 "- %d citações do modelo não foram encontradas nas suas fontes e foram retiradas, com as "
	 "suas afirmações.\n",
	 "- Nenhuma fonte lida responde: ", "- Ainda em aberto após a última busca: ",
	 "- Tudo aqui se apoia nas %d fontes lidas; fontes não encontradas ou não lidas podem dizer "
	 "outra coisa.\n"},
	{"it", "Limiti e domande aperte", "Domande per approfondire",
	 "- La ricerca si è fermata presto (%s): ha letto %d fonti e questo rapporto usa quanto "
	 "raccolto fino ad allora.\n",
	 "- %d delle %d fonti scelte non si sono potute leggere (vedi gli eventi della ricerca); ciò "
	 "che dicono qui manca.\n",
	 "- %d citazioni del modello non sono state trovate nelle loro fonti e sono state escluse, "
	 "con le loro affermazioni.\n",
	 "- Nessuna fonte letta risponde a: ", "- Ancora aperto dopo l'ultima ricerca: ",
	 "- Tutto qui si basa sulle %d fonti lette; fonti non trovate o non lette possono dire "
	 "altro.\n"},
	{"ja", "限界と未解決の問い", "次に調べるべき問い",
	 "- 調査は途中で止まりました（%s）。%d 件の情報源を読み、この報告はそれまでに集めた内容を使っています。\n",
	 "- 選んだ情報源のうち %d 件（全 %d 件）は読めませんでした（実行イベントを参照）。その内容は含まれていません。\n",
	 "- モデルが示した引用 %d 件は情報源に見つからず、その主張とともに除きました。\n",
	 "- 読んだ情報源のどれも答えていない問い：", "- 最後の検索の後もなお未解決：",
	 "- ここでの内容は読んだ %d 件の情報源だけに基づきます。見つからなかった、または読まなかった情報源は別のことを言うかもしれません。\n"},
	{"zh", "局限与未决问题", "值得追问的问题",
	 "- 研究提前停止（%s）：共读了 %d 个来源，本报告只用到那时为止收集的内容。\n",
	 "- 选定的来源中有 %d 个（共 %d 个）无法读取（见运行事件），它们的内容未能纳入。\n",
	 "- 模型给出的 %d 条引文在来源中找不到，已连同其论断一起删除。\n", "- 已读来源均未回答：",
	 "- 最后一次搜索后仍未解决：", "- 以上内容只依据已读的 %d 个来源；未找到或未读的来源可能有不同说法。\n"},
};

static const struct honesty_words *honesty_for(const char *lang)
{
	size_t i;

	for (i = 0; i < sizeof(honesty) / sizeof(honesty[0]); i++)
		if (strcmp(lang, honesty[i].lang) == 0)
			return &honesty[i];
	return &honesty[0];
}

/* Findings of sub-question k (1-based). */
static int sub_findings(const struct run *r, int k)
{
	int i, n = 0;

	for (i = 0; i < r->n_findings; i++)
		n += r->findings[i].sub_question == k;
	return n;
}

/*
 * "Limitations and open questions" and "Suggested follow-up questions",
 * written by quarry from what it knows (not by the model, so they are
 * not judged for citations and cannot be [unsupported]): the gaps of the
 * last reflection, sub-questions no finding answers, sources that could
 * not be read, quotes dropped, a budget that stopped the run.
 */
static void add_honesty(struct run *r, struct qbuf *b)
{
	const struct honesty_words *w = honesty_for(r->lang);
	const char *next = w->next;
	json_t *g;
	size_t k;
	int any = 0, follow = 0;

	qbuf_addf(b, "\n\n## %s\n\n", w->limits);
	if (r->stopped[0]) {
		qbuf_addf(b, w->stopped, r->stopped, r->n_sources);
		any = 1;
	}
	if (r->sources_failed > 0) {
		qbuf_addf(b, w->failed, r->sources_failed, r->sources_failed + r->n_sources);
		any = 1;
	}
	if (r->quotes_dropped > 0) {
		qbuf_addf(b, w->dropped, r->quotes_dropped);
		any = 1;
	}
	for (k = 0; k < json_array_size(r->sub_questions); k++)
		if (sub_findings(r, (int)k + 1) == 0) {
			qbuf_addf(b, "%s%s\n", w->unanswered,
				  json_string_value(json_array_get(r->sub_questions, k)));
			any = 1;
		}
	json_array_foreach (r->gaps, k, g) {
		qbuf_addf(b, "%s%s\n", w->still_open, json_string_value(g));
		any = 1;
	}
	if (!any)
		qbuf_addf(b, w->rests_on, r->n_sources);
	/* Follow-ups: the gaps still open first, then those the run searched. */
	json_array_foreach (r->gaps, k, g)
		if (follow++ == 0)
			qbuf_addf(b, "\n## %s\n\n- %s\n", next, json_string_value(g));
		else if (follow <= 5)
			qbuf_addf(b, "- %s\n", json_string_value(g));
	json_array_foreach (r->all_gaps, k, g) {
		size_t j;
		json_t *h;
		int open = 0;
		json_array_foreach (r->gaps, j, h)
			open |= json_equal(g, h);
		if (open || follow >= 5)
			continue;
		qbuf_addf(b, follow++ == 0 ? "\n## %s\n\n" : "%.0s", next);
		qbuf_addf(b, "- %s\n", json_string_value(g));
	}
	for (k = 0; k < json_array_size(r->sub_questions) && follow < 3; k++)
		if (sub_findings(r, (int)k + 1) <= 1) {
			qbuf_addf(b, follow++ == 0 ? "\n## %s\n\n" : "%.0s", next);
			qbuf_addf(b, "- %s\n", json_string_value(json_array_get(r->sub_questions, k)));
		}
}

static json_t *figures(struct run *r)
{
	json_t *fig = json_pack("{s:f, s:i, s:i, s:i, s:i, s:i}", "seconds",
				(q_now_ms() - r->start_ms) / 1000.0, "queries", r->n_queries, "sources_read",
				r->n_sources, "sources_failed", r->sources_failed, "searches_failed",
				r->searches_failed, "model_calls_critical_path", r->critical_calls);

	json_object_set_new(fig, "peak_rss_mb", json_real((double)run_peak_rss_kb(r) / 1024.0));
	if (r->env->llm) {
		struct llm_totals t = llm_account_totals(r->acct);
		json_object_set_new(fig, "noted_source_bytes", json_integer(r->noted_source_bytes));
		json_object_set_new(fig, "noted_excerpt_bytes", json_integer(r->noted_excerpt_bytes));
		json_object_set_new(fig, "findings_kept", json_integer(r->n_findings));
		json_object_set_new(fig, "writer_findings", json_integer(r->writer_findings));
		json_object_set_new(fig, "writer_prompt_tokens", json_integer(r->writer_prompt_bytes / 3));
		json_object_set_new(fig, "model_calls", json_integer(t.calls));
		json_object_set_new(fig, "cache_hits", json_integer(t.cache_hits));
		json_object_set_new(fig, "failed_calls", json_integer(t.failures));
		json_object_set_new(fig, "retries", json_integer(t.retries));
		json_object_set_new(fig, "prompt_tokens", json_integer(t.prompt));
		json_object_set_new(fig, "cached_tokens", json_integer(t.cached));
		json_object_set_new(fig, "completion_tokens", json_integer(t.completion));
		json_object_set_new(fig, "reasoning_tokens", json_integer(t.reasoning));
		json_object_set_new(fig, "cost_usd", json_real(t.cost_usd));
		json_object_set_new(fig, "cost_known", json_boolean(!t.cost_unknown));
		json_object_set_new(fig, "model", json_string(llm_client_config(r->env->llm)->model));
		json_object_set_new(fig, "fast_model", json_string(llm_client_config(r->env->llm)->fast_model));
	}
	return fig;
}

/* s as a JSON string without control characters (see text_strip_controls). */
static json_t *clean_string(const char *s)
{
	char *c = q_strdup(s ? s : "");
	json_t *j;

	if (!c)
		return NULL;
	ctl_strip(c, strlen(c));
	j = json_string(c);
	q_free(c);
	return j;
}

json_t *compose_report(struct run *r, const char *body_raw, int *ids, int n_ids, const char *mode)
{
	struct cite_finding *cf = q_calloc((size_t)(n_ids ? n_ids : 1), sizeof(*cf));
	struct cite_result cr;
	json_t *rep, *findings = json_array(), *sources = json_array(), *v;
	int i;

	for (i = 0; cf && i < n_ids; i++)
		cf[i].source = r->findings[ids[i]].source;
	if (!cf || cite_process(body_raw ? body_raw : "", cf, n_ids, strcmp(mode, "model") == 0, &cr)) {
		q_free(cf);
		json_decref(findings);
		json_decref(sources);
		return NULL;
	}
	ctl_strip(cr.body, strlen(cr.body));
	if (strcmp(mode, "model") == 0 && !r->opts->quick) { /* after the check: not judged */
		struct qbuf b;
		qbuf_init(&b, WRITE_REPORT_MAX_BYTES);
		qbuf_adds(&b, cr.body);
		while (b.len > 0 && b.data[b.len - 1] == '\n')
			b.len--;
		add_honesty(r, &b);
		if (!b.err) {
			q_free(cr.body);
			cr.body = qbuf_detach(&b, NULL);
		}
		qbuf_release(&b);
	}
	for (i = 0; i < n_ids; i++) {
		struct finding *f = &r->findings[ids[i]];
		json_array_append_new(findings,
				      json_pack("{s:i, s:i, s:i, s:o, s:o, s:b}", "id", i + 1, "source",
						f->source + 1, "n", cr.source_number[i + 1], "claim",
						clean_string(f->claim), "quote", clean_string(f->quote),
						"cited", cr.finding_used[i + 1]));
	}
	for (i = 0; i < r->n_sources; i++) {
		int n = 0, j, k;
		json_t *quotes = json_array();
		for (j = 0; j < cr.n_cited_sources; j++)
			if (cr.cited_sources[j] == i)
				n = j + 1;
		for (k = 0; k < n_ids; k++)
			if (r->findings[ids[k]].source == i && cr.finding_used[k + 1])
				json_array_append_new(quotes, clean_string(r->findings[ids[k]].quote));
		json_array_append_new(sources, json_pack("{s:i, s:i, s:o, s:o, s:s, s:I, s:o, s:o, s:o, "
							 "s:b}",
							 "source", i + 1, "n", n, "title",
							 clean_string(r->sources[i].title), "url",
							 clean_string(r->sources[i].url), "kind",
							 r->sources[i].corpus ? "corpus" : "web", "chars",
							 (json_int_t)strlen(r->sources[i].text), "quotes",
							 quotes, "site", clean_string(r->sources[i].site),
							 "date", clean_string(r->sources[i].date),
							 "date_is_read", r->sources[i].date_fetched));
	}
	/* Sources list in citation order. */
	{
		json_t *ordered = json_array(), *s;
		size_t k;
		int j;
		for (j = 1; j <= cr.n_cited_sources; j++)
			json_array_foreach (sources, k, s)
				if (json_integer_value(json_object_get(s, "n")) == j)
					json_array_append(ordered, s);
		json_array_foreach (sources, k, s)
			if (json_integer_value(json_object_get(s, "n")) == 0)
				json_array_append(ordered, s);
		json_decref(sources);
		sources = ordered;
	}
	v = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:O}", "citations", cr.citations,
		      "citations_verified", cr.verified, "citations_removed", cr.removed, "claims_checked",
		      cr.claims, "unsupported_sentences", cr.unsupported_n, "quotes_verified", r->n_findings,
		      "quotes_dropped", r->quotes_dropped, "sources_read", r->n_sources, "sources_failed",
		      r->sources_failed, "unsupported", cr.unsupported);
	rep = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:o, s:o, s:o, s:o, s:s}", "title",
			r->opts->question, "question", r->opts->question, "lang", r->lang, "mode", mode,
			"body", cr.body, "sub_questions", r->sub_questions, "outline", r->outline, "findings",
			findings, "sources", sources, "verification", v, "figures", figures(r), "stopped",
			r->stopped);
	cite_result_release(&cr);
	q_free(cf);
	return rep;
}
