/*
 * note.c - the note step of a run (see run.c): for each new source, the
 * excerpts most on the question, one model call asking for findings with
 * verbatim quotes, and the findings whose quotes are found in the source.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "prompts.h"
#include "run_int.h"
#include "text.h"

/* ---- note ---- */

/* One source's prompt: NOTE_EXCERPT_MAX_TOKENS of it, the brief and the instructions. */
#define NOTE_PROMPT_MAX_BYTES (1024 * 1024)

/* The question and sub-questions as one query for local ranking. */
/* Append a finding (claim and quote copied, each cut to its cap); its
 * index, or -1 when memory ran out (nothing is kept then). */
int run_add_finding(struct run *r, int source, const char *claim, size_t claim_n, const char *quote,
		    size_t quote_n, int sub_question)
{
	struct finding *f = q_reallocarray(r->findings, (size_t)r->n_findings + 1, sizeof(*f));

	if (!f)
		return -1;
	r->findings = f;
	f = &r->findings[r->n_findings];
	f->source = source;
	f->claim = q_strndup(claim, claim_n);
	f->quote = q_strndup(quote, quote_n);
	f->sub_question = sub_question;
	if (!f->claim || !f->quote) {
		q_free(f->claim);
		q_free(f->quote);
		return -1;
	}
	return r->n_findings++;
}

void run_focus_query(struct run *r, struct qbuf *q)
{
	json_t *s;
	size_t i;

	qbuf_adds(q, r->opts->question);
	json_array_foreach (r->sub_questions, i, s) {
		qbuf_addc(q, ' ');
		qbuf_adds(q, json_string_value(s));
	}
}

/* The best excerpts of source i for the question, in document order, up
 * to about max_tokens. */
static int by_start(const void *a, const void *b)
{
	const struct rpassage *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void excerpts(struct run *r, int i, long max_tokens, struct qbuf *out)
{
	const char *texts[1] = {r->sources[i].text};
	struct rpassage *rank[1 + RESEARCH_MAX_BREADTH] = {NULL};
	size_t nr[1 + RESEARCH_MAX_BREADTH] = {0}, pos[1 + RESEARCH_MAX_BREADTH] = {0}, n, k, j;
	size_t n_sub = json_array_size(r->sub_questions), m, *picked = NULL, n_picked = 0;
	long used = 0;
	int progress = 1;

	if (n_sub > RESEARCH_MAX_BREADTH)
		n_sub = RESEARCH_MAX_BREADTH;
	if (llm_estimate_tokens(r->sources[i].text, strlen(r->sources[i].text)) <= max_tokens ||
	    text_rank_passages(texts, 1, r->opts->question, &rank[0], &nr[0]) || nr[0] == 0) {
		/* Short enough, or cannot rank: the start of the text. */
		size_t len = strlen(r->sources[i].text), cut = (size_t)max_tokens * 4;
		if (cut < len) {
			while (cut > 0 && ((unsigned char)r->sources[i].text[cut] & 0xC0) == 0x80)
				cut--;
			len = cut;
		}
		qbuf_add(out, r->sources[i].text, len);
		q_free(rank[0]);
		return;
	}
	/* One ranking for the question and one per sub-question: the excerpts
	 * take the best passage of each in turn, so every sub-question gets
	 * its evidence, until the budget is used. */
	for (m = 0; m < n_sub; m++)
		if (text_rank_passages(texts, 1, json_string_value(json_array_get(r->sub_questions, m)),
				       &rank[m + 1], &nr[m + 1]))
			nr[m + 1] = 0;
	n = nr[0];
	picked = q_calloc(n, sizeof(size_t));
	while (picked && progress && used < max_tokens) {
		progress = 0;
		for (m = 0; m <= n_sub && used < max_tokens; m++) {
			while (pos[m] < nr[m]) {
				struct rpassage *p = &rank[m][pos[m]++];
				long t;
				int dup = 0;
				if (p->score <= 0 && m > 0)
					break; /* this sub-question has nothing more here */
				for (k = 0; k < n_picked; k++)
					dup |= picked[k] == p->start;
				if (dup)
					continue;
				t = llm_estimate_tokens(r->sources[i].text + p->start, p->end - p->start);
				if (used + t > max_tokens && used > 0)
					continue;
				picked[n_picked++] = p->start;
				used += t;
				progress = 1;
				break;
			}
		}
	}
	/* Document order reads better than score order. */
	qsort(rank[0], nr[0], sizeof(*rank[0]), by_start);
	for (k = 0, j = 0; k < nr[0]; k++) {
		size_t x;
		for (x = 0; x < n_picked && picked[x] != rank[0][k].start; x++)
			;
		if (x == n_picked)
			continue;
		if (j++ > 0)
			qbuf_adds(out, "\n[...]\n");
		qbuf_add(out, r->sources[i].text + rank[0][k].start, rank[0][k].end - rank[0][k].start);
	}
	q_free(picked);
	for (m = 0; m <= n_sub; m++)
		q_free(rank[m]);
}

/*
 * The excerpt tokens of one note prompt: they scale with the model's
 * context (half of it, less the instructions), up to NOTE_EXCERPT_MAX_TOKENS.
 * The fixed 2,500 tokens this replaced showed the note model about a
 * fifth of a 40 KB page; 8,000 show it most of one (docs/BENCHMARKS.md,
 * "Research quality"), at about $0.002 a source on DeepSeek.
 */
static long note_room(const struct run *r)
{
	long room = llm_client_config(r->env->llm)->context / 2 - 1500;

	if (room > NOTE_EXCERPT_MAX_TOKENS)
		room = NOTE_EXCERPT_MAX_TOKENS;
	if (room < 300)
		room = 300;
	return room;
}

static const char note_schema_text[] =
	"{\"type\":\"object\",\"required\":[\"findings\"],\"properties\":{\"findings\":{\"type\":"
	"\"array\",\"items\":{\"type\":\"object\",\"required\":[\"claim\",\"quote\"],\"properties\":{"
	"\"claim\":{\"type\":\"string\"},\"quote\":{\"type\":\"string\"},\"sub_question\":{\"type\":"
	"\"integer\"}}}}}}";

void run_note(struct run *r, int first)
{
	int n = r->n_sources - first, i;
	struct llm_request *reqs;
	struct llm_response *resps;
	struct llm_message *msgs;
	struct q_error *errs;
	struct qbuf *prompts, sys;
	int *rcs;
	json_t *schema;

	if (n <= 0 || !r->env->llm || run_should_stop(r))
		return;
	qbuf_init(&sys, RUN_SYSTEM_MAX_BYTES);
	prompt_system(&sys, PROMPT_NOTE_ROLE, r->date);
	reqs = q_calloc((size_t)n, sizeof(*reqs));
	resps = q_calloc((size_t)n, sizeof(*resps));
	msgs = q_calloc((size_t)n * 2, sizeof(*msgs));
	errs = q_calloc((size_t)n, sizeof(*errs));
	prompts = q_calloc((size_t)n, sizeof(*prompts));
	rcs = q_calloc((size_t)n, sizeof(int));
	schema = json_loads(note_schema_text, 0, NULL);
	if (!reqs || !resps || !msgs || !errs || !prompts || !rcs || !schema)
		goto out;
	for (i = 0; i < n; i++) {
		struct source *s = &r->sources[first + i];
		struct qbuf *p = &prompts[i];
		json_t *sq;
		size_t k;
		long room = note_room(r);
		qbuf_init(p, NOTE_PROMPT_MAX_BYTES);
		qbuf_addf(p, "Research question: %s\n", r->opts->question);
		if (json_array_size(r->sub_questions)) {
			qbuf_adds(p, "Sub-questions:\n");
			json_array_foreach (r->sub_questions, k, sq)
				qbuf_addf(p, "%zu. %s\n", k + 1, json_string_value(sq));
		}
		prompt_brief(p, r->brief);
		qbuf_addf(p, "\n<source title=\"%s\" url=\"%s\"", s->title, s->url);
		if (s->site[0])
			qbuf_addf(p, " site=\"%s\"", s->site);
		if (s->date[0])
			qbuf_addf(p, " %s=\"%s\"", s->date_fetched ? "read" : "published", s->date);
		qbuf_adds(p, ">\n");
		k = p->len;
		excerpts(r, first + i, room, p);
		r->noted_excerpt_bytes += (long)(p->len - k);
		r->noted_source_bytes += (long)strlen(s->text);
		qbuf_adds(p, "\n</source>\n\n");
		prompt_note_task(p, r->opts->quick ? NOTE_FINDINGS_QUICK : NOTE_FINDINGS,
				 run_lang_name(r->lang));
		msgs[2 * i].role = "system";
		msgs[2 * i].content = qbuf_cstr(&sys);
		msgs[2 * i + 1].role = "user";
		msgs[2 * i + 1].content = qbuf_cstr(p);
		reqs[i].messages = &msgs[2 * i];
		reqs[i].n_messages = 2;
		reqs[i].fast = 1;
		reqs[i].temperature = 0;
		reqs[i].json = 1;
		reqs[i].schema = schema;
		reqs[i].schema_name = "findings";
		reqs[i].account = r->acct;
		reqs[i].max_tokens = run_reply_cap(r, RUN_JSON_MAX_TOKENS, &msgs[2 * i], 2);
	}
	run_emit(r, "noting", json_pack("{s:i}", "sources", n));
	r->critical_calls++;
	llm_chat_many(r->env->llm, reqs, (size_t)n, 1, resps, rcs, errs);
	for (i = 0; i < n; i++) {
		json_t *fs, *it;
		size_t k;
		int kept = 0, dropped = 0, src = first + i;
		if (rcs[i]) {
			run_model_failed(r, "note", rcs[i], errs[i].msg);
			continue;
		}
		r->notes_answered++;
		fs = json_object_get(resps[i].json, "findings");
		json_array_foreach (fs, k, it) {
			const char *claim = json_string_value(json_object_get(it, "claim"));
			const char *quote = json_string_value(json_object_get(it, "quote"));
			json_t *sqv = json_object_get(it, "sub_question");
			int d, dup = 0, sub, rows_dropped = 0;
			struct qbuf checked;
			if (!claim || !quote || !*claim || r->n_findings >= MAX_FINDINGS)
				continue;
			qbuf_init(&checked, RUN_QUOTE_MAX_BYTES);
			if (text_quote_rows(r->sources[src].norm, quote, &checked, &rows_dropped) == 0) {
				dropped++;
				qbuf_release(&checked);
				continue;
			}
			dropped += rows_dropped; /* rows of a block not in the source */
			for (d = 0; d < r->n_findings; d++)
				dup |= r->findings[d].source == src &&
				       strcmp(r->findings[d].quote, qbuf_cstr(&checked)) == 0;
			sub = json_is_integer(sqv) ? (int)json_integer_value(sqv) : 0;
			if (sub < 0 || sub > (int)json_array_size(r->sub_questions))
				sub = 0;
			if (!dup && run_add_finding(r, src, claim, 2000, qbuf_cstr(&checked), 16000, sub) >= 0)
				kept++;
			qbuf_release(&checked);
		}
		r->quotes_dropped += dropped;
		run_emit(r, "note",
			 json_pack("{s:i, s:s, s:i, s:i}", "source", src + 1, "url", r->sources[src].url,
				   "findings", kept, "quotes_dropped", dropped));
	}
out:
	for (i = 0; resps && i < n; i++)
		llm_response_release(&resps[i]);
	for (i = 0; prompts && i < n; i++)
		qbuf_release(&prompts[i]);
	q_free(reqs);
	q_free(resps);
	q_free(msgs);
	q_free(errs);
	q_free(prompts);
	q_free(rcs);
	json_decref(schema);
	qbuf_release(&sys);
}
