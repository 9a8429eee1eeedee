/*
 * openai.h - the OpenAI-compatible chat endpoint's protocol, apart from
 * the HTTP server: requests in, JSON and Server-Sent Events out.
 *
 * A chat front end (Open WebUI, LobeChat, Chatbox) picks quarry as a
 * model: "quarry-research", "quarry-ask" or "quarry-research-deep". The
 * last user message is the question; earlier turns are context, and an
 * earlier answer of quarry names its run ("quarry run 12" on its last
 * line), so a follow-up can start from that run. With stream:true the
 * answer is chat.completion.chunk events: the run's progress as
 * delta.reasoning_content (front ends show it as thinking), the report
 * as delta.content, a last chunk with finish_reason, one with usage
 * (choices empty) and "data: [DONE]". Errors are OpenAI's shape,
 * {"error": {"message", "type", "param", "code"}}.
 *
 * Everything here is pure: no sockets, no threads, no store.
 */
#ifndef Q_OPENAI_H
#define Q_OPENAI_H

#include <jansson.h>
#include <stddef.h>

#include "../core/err.h"
#include "../core/qbuf.h"
#include "../research/research.h"
#include "../research/runstore.h"

#define OPENAI_MAX_BODY_BYTES (4L * 1024 * 1024)
#define OPENAI_MAX_MESSAGES 500
#define OPENAI_MAX_QUESTION_BYTES (64 * 1024)
#define OPENAI_MAX_CONTEXT_BYTES (32 * 1024) /* earlier turns kept, newest first */
#define OPENAI_ID_MAX 48
#define OPENAI_REUSE_S (6L * 3600) /* the same question within this long: the same run */
#define OPENAI_POLL_MS 250         /* how often a waiting answer looks for new events */

enum openai_model { OPENAI_RESEARCH, OPENAI_ASK, OPENAI_RESEARCH_DEEP, OPENAI_MODEL_N };

/* "quarry-research", ... */
const char *openai_model_name(enum openai_model m);

struct openai_request {
	enum openai_model model;
	char *question;  /* the last user message (owned) */
	char *context;   /* earlier turns, oldest first, "user: ..." lines; NULL if none */
	long follow_run; /* the run an earlier quarry answer named, 0 if none */
	int stream;
	json_t *body; /* the parsed request (owned) */
};

/* An error a client reads: HTTP status and OpenAI's fields. */
struct openai_error {
	int status;        /* 400, 401, 404, 405, 413, 500, 503 */
	const char *type;  /* "invalid_request_error", "authentication_error", "server_error" */
	const char *param; /* the offending field, or NULL */
	const char *code;  /* "model_not_found", "invalid_api_key", ... or NULL */
	char message[Q_ERROR_MSG_MAX];
};

/* Parse and check a POST /v1/chat/completions body. 0, or -1 with e set. */
int openai_parse_request(const char *body, size_t len, struct openai_request *out, struct openai_error *e);
void openai_request_release(struct openai_request *r);
/* The research options the model stands for (depth, sources, quick):
 * o->question is the request's question, kept borrowed. */
void openai_request_opts(const struct openai_request *r, struct research_opts *o);

/* Set e (returns -1). */
int openai_error_set(struct openai_error *e, int status, const char *type, const char *param,
		     const char *code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The error's JSON body (caller frees with free()), NULL when out of memory. */
char *openai_error_body(const struct openai_error *e);

/* GET /v1/models: {"object": "list", "data": [...]}. */
json_t *openai_models(long long created);

/* One answer's identity: every chunk of it carries the same id, created
 * time and model. */
struct openai_answer {
	char id[OPENAI_ID_MAX];
	long long created;
	const char *model; /* openai_model_name: static */
	int role_sent;
};
void openai_answer_init(struct openai_answer *a, enum openai_model m, long long now);

/* Append one SSE event "data: {chunk}\n\n" with a reasoning and/or a
 * content delta (either may be NULL) to out; the first also carries
 * delta.role. */
int openai_sse_delta(struct openai_answer *a, struct qbuf *out, const char *reasoning, const char *content);
/* Append the end of a stream: the chunk with finish_reason ("stop"), the
 * usage chunk (choices empty) and "data: [DONE]". */
int openai_sse_finish(struct openai_answer *a, struct qbuf *out, const char *finish_reason,
		      long prompt_tokens, long completion_tokens);
/* The whole answer when not streaming (chat.completion). */
json_t *openai_completion(const struct openai_answer *a, const char *content, const char *reasoning,
			  long prompt_tokens, long completion_tokens);

/* The line that ends every answer and names its run ("quarry run 12"),
 * and the run an answer's text names (0 if none). */
#define OPENAI_RUN_MARK "quarry run "
int openai_run_line(long run_id, char *buf, size_t size);
long openai_run_named(const char *text);

/*
 * One answer being made: a run of the job queue, followed through its
 * events. The run belongs to the queue, not to the connection: a client
 * that goes away leaves it running, and the same question asked again
 * within OPENAI_REUSE_S (same model) follows that run again (or gets its
 * report at once when it has ended) instead of starting another. A
 * follow-up (a question after an answer that names its run) is asked as
 * the follow-up of that run's question, so the new run searches with
 * the earlier question's context and reads the earlier sources again
 * from the shared page cache.
 */
struct openai_chat {
	struct openai_answer a;
	long run_id;
	long last_seq; /* the newest event already shown */
	int reused;    /* an earlier run of the same question */
	int said_queued;
	int stream;
	long long started; /* Unix seconds */
};

/* Find or queue the run for request r (allow_private goes into a new
 * run's options). 0, or -1 with e set. */
int openai_chat_start(struct openai_chat *c, struct runstore *rs, const struct openai_request *r,
		      int allow_private, long long now, struct openai_error *e);
/* Append what is new to out: streaming, a reasoning delta per new event
 * and, once the run has ended, the report as content and the stream's
 * end; not streaming, the chat.completion JSON once the run has ended.
 * *done is set when the answer is complete. 0, or -1 with e set (the
 * store failed). */
int openai_chat_poll(struct openai_chat *c, struct runstore *rs, struct qbuf *out, int *done,
		     struct openai_error *e);

#endif
