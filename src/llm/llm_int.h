/*
 * llm_int.h - what the model client's files share: the client's insides
 * (struct llm_client, opaque outside src/llm), llm.c (the client,
 * limits, request body, cache and the retry loop of llm_chat) and
 * attempt.c (one HTTP transfer: streaming, reasoning, tool calls, and
 * the verdict on how it went).
 */
#ifndef Q_LLM_INT_H
#define Q_LLM_INT_H

#include <curl/curl.h>
#include <jansson.h>

#include "../core/err.h"
#include "../core/qbuf.h"
#include "llm.h"
#include "sse.h"

/* The client (llm.h): shared by every job using the server. Callers
 * outside src/llm see it only as a pointer. */
struct llm_client {
	struct llm_config *cfg; /* borrowed; outlives the client */
	struct runstore *cache; /* shared replies: borrowed or NULL; used under mu, like every account's run_store */
	int cache_writes_off; /* read-only cache */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int active;             /* requests in flight */
	double next_start_ms;   /* rpm pacing */
	double paused_until_ms; /* Retry-After from any request */
	double tpm_tokens;      /* token bucket */
	double tpm_at_ms;
	int json_downgraded; /* the server refused response_format */
	int no_temperature;  /* the model refused a temperature (reasoning models) */
	double prompt_ratio; /* most the server's prompt figure exceeded our estimate by (>= 1) */
	/* Idle libcurl handles: each keeps its connections open, so calls
	 * after the first skip the TCP and TLS handshakes. Guarded by mu. */
	void *idle[LLM_POOL_MAX];
	int n_idle;
	/* The account of requests that name none: one job at a time. */
	struct llm_account solo;
};

/* Set up *c for cfg (borrowed); 0, or Q_ENOMEM with err set. What
 * llm_client_new does after allocating; the unit tests use it on a client
 * of their own. */
int llm_client_init(struct llm_client *c, struct llm_config *cfg, struct q_error *err);
/* Undo llm_client_init (c itself is the caller's). */
void llm_client_release(struct llm_client *c);

/* A tool call's arguments; the whole reply (answer, reasoning and every
 * tool call's id, name and arguments) stays within LLM_MAX_REPLY_BYTES,
 * and more than LLM_MAX_TOOL_CALLS calls is an error: 64 calls of 8 MB
 * each once took 1 GB. 2 MB is past any model's output-token limit. */
#define LLM_MAX_TOOL_ARGS_BYTES (2L * 1024 * 1024)
#define LLM_MAX_TOOL_NAME_BYTES 256
/* JSON values in one reply body or stream event: a chat completion has a
 * few dozen (a few thousand with 64 tool calls), while 7 million zeros in
 * a 14 MB body took 315 MB to parse. Counted before parsing. */
#define LLM_MAX_JSON_VALUES 100000

/* Why an attempt stopped reading: the reply passed a cap. */
enum llm_too_big {
	LLM_FITS,
	LLM_TOO_BIG_REPLY,  /* answer + reasoning + tool calls */
	LLM_TOO_BIG_TOOLS,  /* more tool calls than LLM_MAX_TOOL_CALLS */
	LLM_TOO_BIG_ARGS,   /* one call's arguments */
	LLM_TOO_BIG_NAME,   /* one call's id or name */
	LLM_TOO_BIG_EVENT,  /* one SSE line or event */
	LLM_TOO_BIG_VALUES, /* one body or event holds more than LLM_MAX_JSON_VALUES */
	LLM_TOO_BIG_BODY    /* a JSON (non-streamed) body */
};

struct tool_acc {
	struct qbuf id, name, args;
	int used;
};

struct llm_attempt {
	struct llm_client *c;
	struct llm_account *acct; /* the request's, or the client's solo account */
	double deadline_ms;       /* the account's, when the attempt began; 0 = none */
	const struct llm_request *req;
	const struct llm_callbacks *cb;
	CURL *curl;
	long status;
	int is_sse;
	int decided; /* status and type looked at */
	struct sse_parser sse;
	struct qbuf body;      /* non-SSE body */
	struct qbuf content;   /* raw answer text, <think> included */
	struct qbuf reasoning; /* reasoning_content */
	struct tool_acc tools[LLM_MAX_TOOL_CALLS];
	int n_tools;
	int in_think;     /* streaming <think> splitter */
	int text_started; /* answer text other than blank lines emitted */
	char hold[16];
	size_t held;
	int done;     /* [DONE] seen */
	int finished; /* a finish_reason seen */
	char finish[32];
	char model[128];
	json_t *usage;
	char stream_error[300];
	int stream_error_retry;
	int protocol_error;      /* a chunk was not JSON */
	double last_progress_ms; /* answer, reasoning or tool bytes (or a JSON body's) last came */
	size_t answer_bytes;     /* of those, received so far */
	int stalled;
	int cancelled;
	enum llm_too_big too_big;
	char retry_after[64];
	char ctype[128];
};

/* How an attempt went, and what llm_chat does next. */
enum llm_outcome {
	LLM_OK,
	LLM_RETRY,
	LLM_FAIL,
	LLM_DOWNGRADE,     /* send again without response_format */
	LLM_NO_TEMPERATURE /* send again without a temperature */
};

/* attempt.c */
void llm_attempt_init(struct llm_attempt *a, struct llm_client *c, const struct llm_request *r);
void llm_attempt_release(struct llm_attempt *a);
/* Run the transfer of body_text; returns the CURLcode. */
int llm_attempt_run(struct llm_client *c, struct llm_attempt *a, const char *body_text, int stream);
/* The verdict on a finished transfer; err says what went wrong, and
 * *connect_failure whether the server could not be reached at all. */
enum llm_outcome llm_attempt_judge(struct llm_attempt *a, CURLcode cc, const char *model, struct q_error *err,
				   int *connect_failure);
/* Fill resp from a transfer judged LLM_OK. */
int llm_attempt_finish(struct llm_client *c, struct llm_attempt *a, const struct llm_request *r,
		       struct llm_response *resp, struct q_error *err);
/* Retry-After (seconds or an HTTP date) in ms, or -1. */
long llm_retry_after_ms(const char *v);
/* o[k] as a long, 0 if absent. */
long llm_json_long(json_t *o, const char *k);

/* attempt.c: what a server said, control characters blanked, the key
 * masked, then cut to at most max characters (and size - 1 bytes). */
void llm_server_text(const struct llm_config *cfg, const char *m, size_t max, char *out, size_t size);

/* llm.c */
/* Replace every copy of the key in msg, and every piece of 8 or more
 * characters that starts or ends the key, with "***". Mask a message
 * before cutting it to length: a cut inside the key hides it from this. */
void llm_mask_key(const struct llm_config *cfg, char *msg);
/* The model a request goes to. */
const char *llm_model_of(const struct llm_client *c, const struct llm_request *r);
/* The account a request is counted with. */
struct llm_account *llm_account_of(struct llm_client *c, const struct llm_request *r);

#endif
