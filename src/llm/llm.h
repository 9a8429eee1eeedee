/*
 * llm.h - OpenAI-compatible chat completions, made to survive real
 * providers.
 *
 * One struct llm_client per model server (a resolved llm_config), shared
 * by any number of threads: llm_chat blocks the calling thread for one
 * completion; llm_chat_many runs a batch on worker threads and returns
 * when all are done. The client:
 *   - streams over SSE by default (reasoning, answer text and tool-call
 *     deltas reach callbacks as they arrive; tool calls split across
 *     chunks are assembled), or asks for one JSON reply;
 *   - separates reasoning (`reasoning_content`, `reasoning`, and inline
 *     <think>...</think>) from the answer;
 *   - retries 408/409/429/5xx, timeouts, dropped connections, stalled and
 *     truncated streams with exponential backoff and jitter, honouring
 *     Retry-After (which also pauses every other request to that server);
 *     400/401/402/403/404/413/422 are not retried and get a message that
 *     says what to fix;
 *   - keeps to the server's limits: concurrent requests, requests and
 *     tokens per minute, and the model's context length (an over-long
 *     prompt is refused before it is sent);
 *   - counts prompt, completion, reasoning and cached tokens (estimated
 *     when the server sends no usage) and their cost;
 *   - caches replies in the quarry database, keyed by a hash of the
 *     request (model, messages, parameters; never the key), when a store
 *     is attached, and keeps every reply with the run it belongs to;
 *   - puts the API key in the Authorization header and nowhere else:
 *     error messages have it masked even when a server echoes it.
 * Nothing here prints.
 *
 * Ownership and threads. The caller owns the client (llm_client_new,
 * llm_client_free; its insides are private to src/llm) and the
 * llm_config it is made from, which the client borrows. What belongs to
 * the server is on the client and
 * shared by every job that uses it: the configuration, the pool of open
 * connections, the concurrency slots, rpm/tpm pacing, a Retry-After
 * pause, what the server refused (response_format, temperature), how
 * far its prompt figures run above our estimate, and the shared reply
 * cache. What belongs to one job (a research run, one `ask`) is on its
 * struct llm_account, which each request names (llm_request.account):
 * token and cost totals, budgets with their reservations, the deadline,
 * the run whose replies are kept, and cancel. Many jobs may share one
 * client at once; each job's figures, budgets and cancel are its own. A
 * request that names no account uses the client's solo account, for a
 * client carrying one job at a time (tests, `models`, `doctor`); the
 * llm_client_* budget, totals and cancel calls act on that account only.
 * Lock order: an account's lock and the client's lock are never held
 * together.
 */
#ifndef Q_LLM_H
#define Q_LLM_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "../core/err.h"
#include "provider.h"

#define LLM_MAX_REPLY_BYTES (8L * 1024 * 1024) /* answer + reasoning */
#define LLM_MAX_TOOL_CALLS 64
#define LLM_POOL_MAX 64

struct llm_message {
	const char *role; /* "system", "user", "assistant", "tool" */
	const char *content;
	const char *tool_call_id; /* role "tool" */
};

/* Streaming callbacks; any may be NULL. Called on the thread running the
 * request. text is not NUL-terminated. */
struct llm_callbacks {
	void (*on_text)(void *ctx, const char *text, size_t n);
	void (*on_reasoning)(void *ctx, const char *text, size_t n);
	void (*on_tool_delta)(void *ctx, int index, const char *name, const char *args, size_t n);
	/* A failed attempt will be retried after delay_ms; text already
	 * passed to on_text/on_reasoning will come again. */
	void (*on_retry)(void *ctx, int attempt, const char *why, long delay_ms);
	void *ctx;
};

struct llm_request {
	const struct llm_message *messages;
	size_t n_messages;
	int fast;                /* use the fast model */
	const char *model;       /* overrides both; NULL = by `fast` */
	double temperature;      /* < 0: server default */
	long max_tokens;         /* 0: server default */
	const char *const *stop; /* up to 4 */
	size_t n_stop;
	json_t *tools;           /* borrowed: array of {"type":"function",...} */
	const char *tool_choice; /* "auto", "none", "required" or NULL */
	/* Structured output: with a schema, json_schema where the server
	 * supports it, else json_object, else instructions only. */
	int json;
	json_t *schema; /* borrowed; may be NULL with json set */
	const char *schema_name;
	int no_cache;
	const struct llm_callbacks *cb;
	/* Borrowed: the job this call is counted, budgeted and cancelled
	 * with; NULL = the client's solo account. */
	struct llm_account *account;
};

struct llm_tool_call {
	char *id;
	char *name;
	char *arguments; /* JSON text as sent; may be invalid */
};

struct llm_usage {
	long prompt;     /* all prompt tokens, cached included */
	long cached;     /* of which the provider served from cache */
	long completion; /* reasoning included */
	long reasoning;
	int estimated; /* the server sent no usage */
	double cost_usd;
	int cost_known;
};

struct llm_response {
	char *content;   /* the answer, reasoning removed; never NULL after success */
	char *reasoning; /* may be "" */
	struct llm_tool_call *calls;
	size_t n_calls;
	char finish_reason[32]; /* "stop", "length", "tool_calls", ... */
	char model[128];        /* as the server named it */
	struct llm_usage usage;
	json_t *json; /* llm_chat_json: the parsed value */
	int attempts;
	int from_cache;
	double ms;
};

struct llm_totals {
	long calls; /* completed, cached included */
	long cache_hits;
	long failures;
	long retries;
	long prompt, cached, completion, reasoning;
	long estimated_calls;
	double cost_usd;
	int cost_unknown;   /* some call had no price */
	long budget_capped; /* replies whose max_tokens a budget lowered */
};

struct runstore; /* src/research/runstore.h: the run records and reply cache */
struct llm_client;

/*
 * One job's share of a model client: its figures, budgets and cancel.
 * The job owns it (init before its first request, release after its
 * last has returned); every request of the job points at it, from any
 * number of threads and on any number of clients. Hard budgets: before
 * a call starts it reserves its prompt estimate plus its reply cap
 * (max_tokens, lowered to what is left) from the account's pool; the end
 * of the call releases the reservation and counts the real usage. A call
 * that does not fit waits for the account's calls in flight to release
 * theirs, and fails with Q_EBUDGET when none is left to wait for. Calls
 * of other accounts never wait for, or count against, this one.
 */
struct llm_account {
	pthread_mutex_t mu; /* guards every field below but the cancel flags */
	pthread_cond_t cv;  /* a reservation was released */
	struct llm_totals totals;
	long budget_tokens; /* prompt + completion, all calls; 0 = none */
	double budget_usd;  /* 0 = none */
	double deadline_ms; /* q_now_ms() time; 0 = none */
	long held_tokens;   /* reserved by calls in flight */
	double held_usd;
	int n_held;
	/* Where run_id's replies are kept (llm_account_set_run; borrowed);
	 * used only under the lock of the client given there. */
	struct runstore *run_store;
	long run_id;
	/* Read and written with atomic builtins, without mu. */
	volatile int cancelled;    /* llm_account_cancel */
	volatile int *cancel_flag; /* borrowed, may be NULL: non-zero cancels too */
};

/* 0, or Q_ENOMEM with err set. */
int llm_account_init(struct llm_account *a, struct q_error *err);
/* After the account's last request has returned. */
void llm_account_release(struct llm_account *a);
/* Budgets for the account's calls; time_limit_ms from now. 0 = no
 * limit. Thread-safe. */
void llm_account_set_budget(struct llm_account *a, long tokens, double usd, long time_limit_ms);
/* Keep every completed reply of the account with run run_id in rs (the
 * run's cache, keys "llm:" + the request hash; rs is borrowed and must
 * outlive the attachment) and replay from there first, whatever the
 * cache setting or finish reason; run_id 0 (or rs NULL) detaches. What
 * the kept replies cost is added to the totals, so a resumed run's
 * budgets and figures include what it paid before (not on a run store
 * that cannot list a run's cache: runstore_cache_each). c is the client
 * the account's requests go to: rs is used from its pool threads, one
 * call at a time under c's lock, from then on; give a runstore no other
 * thread uses meanwhile (it may share a SQLite connection with c's reply
 * cache, which that lock guards too). Call it while no request of the
 * account is in flight. */
void llm_account_set_run(struct llm_account *a, struct llm_client *c, struct runstore *rs, long run_id);
/* Make every request of the account, in flight or waiting, fail with
 * Q_ETIMEOUT "cancelled" soon: a waiting one within 200 ms, a transfer
 * in flight at libcurl's next progress call (about a second when the
 * server is silent; 0.8-0.9 s measured). The client's other accounts go
 * on. From any thread; async-signal-safe. */
void llm_account_cancel(struct llm_account *a);
/* Cancel also whenever *flag is non-zero (polled; NULL = none). Set it
 * before the first request. */
void llm_account_watch(struct llm_account *a, volatile int *flag);
/* Whether the account was cancelled (either way). */
int llm_account_cancelled(const struct llm_account *a);
struct llm_totals llm_account_totals(struct llm_account *a);
/* Why no new request of the account may start ("the token budget (50000)
 * is spent"), or NULL while budgets last; c gives the price. */
const char *llm_account_spent(struct llm_account *a, const struct llm_client *c, char *buf, size_t size);

/* Shared by every job using the server (see the top of this file). Opaque:
 * its insides are src/llm's (llm_int.h); callers hold a pointer. */
/* A client for the server cfg describes: *out is the caller's, freed with
 * llm_client_free after its last request has returned; cfg is borrowed
 * and must outlive it. 0, or Q_ENOMEM with err set (*out NULL). */
int llm_client_new(struct llm_config *cfg, struct llm_client **out, struct q_error *err);
/* Free a client from llm_client_new and its idle connections; NULL is
 * fine. It does not free its configuration or detach caches (borrowed). */
void llm_client_free(struct llm_client *c);
/* The configuration the client was made with (borrowed from the caller of
 * llm_client_new; read-only here). */
const struct llm_config *llm_client_config(const struct llm_client *c);
/* The client's solo account (the one of requests that name none), owned
 * by the client and valid until llm_client_free: for a front end that
 * runs one job on the client and needs the account itself (a signal
 * handler's llm_account_cancel, llm_account_cancelled). */
struct llm_account *llm_client_account(struct llm_client *c);
/* Attach the shared reply cache (runstore_reply_get/put; borrowed,
 * NULL detaches): used from then on under c's lock only. */
void llm_client_set_cache(struct llm_client *c, struct runstore *rs);
/* The solo account's llm_account_set_run. */
void llm_client_set_run(struct llm_client *c, struct runstore *rs, long run_id);
/* The solo account's llm_account_cancel: requests naming an account of
 * their own go on. Async-signal-safe. */
void llm_client_cancel(struct llm_client *c);
/* The solo account's totals. */
struct llm_totals llm_client_totals(struct llm_client *c);
/* Usage figures a server reports are clamped to 0..LLM_MAX_USAGE_TOKENS
 * each, and the totals saturate: a hostile figure can neither wrap them
 * negative nor keep a budget from tripping. */
#define LLM_MAX_USAGE_TOKENS 1000000000L
/* Under a budget, a call starts only if its prompt and a reply of this
 * many tokens (or its own smaller max_tokens) still fit. */
#define LLM_MIN_USEFUL_REPLY 256
/* Under a budget, the reply cap of a call that sets no max_tokens. */
#define LLM_BUDGET_REPLY_CAP 4096

/* The solo account's budgets; time_limit_ms from now. 0 = no limit. */
void llm_client_set_budget(struct llm_client *c, long tokens, double usd, long time_limit_ms);
/* The solo account's llm_account_spent. */
const char *llm_budget_spent(struct llm_client *c, char *buf, size_t size);

/* One completion. Returns 0 or Q_E* with err set (say what to fix). */
int llm_chat(struct llm_client *c, const struct llm_request *req, struct llm_response *resp,
	     struct q_error *err);

/*
 * JSON reply: ask for structured output as the server allows, extract the
 * first JSON value from the answer (jsonx), check it against the schema
 * (types, required properties, enums, array items) and, if it is wrong,
 * retry once telling the model what was wrong. resp->json holds the
 * value.
 */
int llm_chat_json(struct llm_client *c, const struct llm_request *req, struct llm_response *resp,
		  struct q_error *err);

/* A batch: reqs[i] -> resps[i], rcs[i], errs[i]; up to the client's
 * concurrency at once (shared with every other job on the client), each
 * counted with its own request's account, on the process pool
 * (core/pool.h; the calling thread works too). json: use llm_chat_json. */
void llm_chat_many(struct llm_client *c, const struct llm_request *reqs, size_t n, int json,
		   struct llm_response *resps, int *rcs, struct q_error *errs);

void llm_response_release(struct llm_response *r);

/* Rough token count of text (no tokenizer: ~4 bytes per token for Latin
 * text, ~1 token per CJK character). */
long llm_estimate_tokens(const char *text, size_t n);
/* Tokens a prompt of these messages would take. */
long llm_estimate_prompt(const struct llm_message *m, size_t n);

/* Check a JSON value against a JSON Schema subset (type, properties,
 * required, items, enum, minItems, maxItems). 0 or Q_EPARSE with a
 * sentence naming the first problem. */
int llm_schema_check(const json_t *schema, const json_t *value, struct q_error *err);

#endif
