/*
 * llm.c - the chat-completions client (see llm.h).
 *
 * One attempt = one libcurl easy transfer on the calling thread
 * (attempt.c). llm_chat wraps attempts in the limits (a slot, pacing,
 * token bucket), the retry loop and the cache.
 *
 * Budgets are hard (llm.h): a call reserves its prompt estimate and its
 * reply cap from its account's pool before it starts and hands back the
 * unused part when it ends, so parallel calls cannot together overrun.
 * The prompt estimate for a budget is the request body's bytes / 3 (more
 * than any tokenizer we know makes of English, and a CJK character's
 * three UTF-8 bytes are about one token), scaled up by the most a
 * server's own prompt figure ever exceeded it. Where it can still
 * undercount: a server that adds a long hidden system prompt, or
 * tokenizes bytes (emoji, rare scripts) at under 3 bytes a token; the
 * first such call overruns by the difference and the ratio corrects the
 * calls after it. A server that ignores max_tokens can overrun by its
 * reply; nothing on our side can stop that once the reply is written.
 */
#include <curl/curl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/qbuf.h"
#include "../core/random.h"
#include "../core/sha256.h"
#include "../core/utf8.h"
#include "../research/runstore.h"
#include "llm.h"
#include "llm_int.h"

#define MAX_RETRY_AFTER_MS (300L * 1000)
#define BACKOFF_CAP_MS (30L * 1000)
#define CACHE_KEY_MAX_BYTES ((size_t)-1) /* no cap: the key's parts are capped where they are made */

static long add_sat(long a, long b);
static long clamp_tokens(long v);
#define LLM_REPLY_KEY_MAX 80 /* "llm:" + a SHA-256 in hex, and room */

/* ---- token estimates ---- */

long llm_estimate_tokens(const char *text, size_t n)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + n;
	double t = 0;

	while (p < end) {
		uint32_t cp;
		size_t k;
		if (*p < 0x80) {
			t += 0.25;
			p++;
			continue;
		}
		k = utf8_decode(p, (size_t)(end - p), &cp);
		if (k == 0)
			k = 1;
		t += utf8_is_cjk(cp) ? 1.0 : 0.5;
		p += k;
	}
	return (long)ceil(t);
}

long llm_estimate_prompt(const struct llm_message *m, size_t n)
{
	long t = 3;
	size_t i;

	for (i = 0; i < n; i++)
		t += 4 + (m[i].content ? llm_estimate_tokens(m[i].content, strlen(m[i].content)) : 0);
	return t;
}

/* ---- the client ---- */

int llm_client_init(struct llm_client *c, struct llm_config *cfg, struct q_error *err)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	if (pthread_mutex_init(&c->mu, NULL))
		return q_error_set(err, Q_ENOMEM, "cannot create a mutex");
	if (pthread_cond_init(&c->cv, NULL)) {
		pthread_mutex_destroy(&c->mu);
		return q_error_set(err, Q_ENOMEM, "cannot create a condition variable");
	}
	if (llm_account_init(&c->solo, err)) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		return err ? err->code : Q_ENOMEM;
	}
	c->tpm_tokens = (double)cfg->tpm;
	c->tpm_at_ms = q_now_ms();
	c->prompt_ratio = 1.0;
	return 0;
}

void llm_client_release(struct llm_client *c)
{
	while (c->n_idle > 0)
		curl_easy_cleanup(c->idle[--c->n_idle]);
	llm_account_release(&c->solo);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

int llm_client_new(struct llm_config *cfg, struct llm_client **out, struct q_error *err)
{
	struct llm_client *c = q_calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return q_error_set(err, Q_ENOMEM, "out of memory starting the model client");
	if ((rc = llm_client_init(c, cfg, err))) {
		q_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void llm_client_free(struct llm_client *c)
{
	if (!c)
		return;
	llm_client_release(c);
	q_free(c);
}

const struct llm_config *llm_client_config(const struct llm_client *c) { return c->cfg; }

struct llm_account *llm_client_account(struct llm_client *c) { return &c->solo; }

/* ---- accounts ---- */

int llm_account_init(struct llm_account *a, struct q_error *err)
{
	memset(a, 0, sizeof(*a));
	if (pthread_mutex_init(&a->mu, NULL))
		return q_error_set(err, Q_ENOMEM, "cannot create a mutex");
	if (pthread_cond_init(&a->cv, NULL)) {
		pthread_mutex_destroy(&a->mu);
		return q_error_set(err, Q_ENOMEM, "cannot create a condition variable");
	}
	return 0;
}

void llm_account_release(struct llm_account *a)
{
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
}

/* The cancel flags are written by other threads and signal handlers and
 * read without a lock: atomic loads and stores (lock-free for an int, so
 * safe in a handler) make that defined, and visible to ThreadSanitizer. */
void llm_account_cancel(struct llm_account *a) { __atomic_store_n(&a->cancelled, 1, __ATOMIC_RELAXED); }

void llm_account_watch(struct llm_account *a, volatile int *flag)
{
	__atomic_store_n(&a->cancel_flag, flag, __ATOMIC_RELAXED);
}

int llm_account_cancelled(const struct llm_account *a)
{
	volatile int *flag = __atomic_load_n(&a->cancel_flag, __ATOMIC_RELAXED);

	return __atomic_load_n(&a->cancelled, __ATOMIC_RELAXED) ||
	       (flag && __atomic_load_n(flag, __ATOMIC_RELAXED));
}

struct llm_totals llm_account_totals(struct llm_account *a)
{
	struct llm_totals t;

	pthread_mutex_lock(&a->mu);
	t = a->totals;
	pthread_mutex_unlock(&a->mu);
	return t;
}

struct llm_account *llm_account_of(struct llm_client *c, const struct llm_request *r)
{
	return r->account ? r->account : &c->solo;
}

void llm_client_set_cache(struct llm_client *c, struct runstore *rs)
{
	pthread_mutex_lock(&c->mu);
	c->cache = rs;
	pthread_mutex_unlock(&c->mu);
}

/* One kept reply's usage, added to the totals in ctx. */
static int charge_reply(void *ctx, const char *key, const char *value)
{
	struct llm_totals *t = ctx;
	json_t *o = json_loads(value, 0, NULL), *u = json_object_get(o, "usage");
	double cost = json_number_value(json_object_get(u, "cost_usd"));

	(void)key;
	t->prompt = add_sat(t->prompt, clamp_tokens(llm_json_long(u, "prompt")));
	t->completion = add_sat(t->completion, clamp_tokens(llm_json_long(u, "completion")));
	t->cached = add_sat(t->cached, clamp_tokens(llm_json_long(u, "cached")));
	t->reasoning = add_sat(t->reasoning, clamp_tokens(llm_json_long(u, "reasoning")));
	if (isfinite(cost) && cost > 0 && cost < 1e9)
		t->cost_usd += cost;
	json_decref(o);
	return 0;
}

void llm_account_set_run(struct llm_account *a, struct llm_client *c, struct runstore *rs, long run_id)
{
	struct llm_totals kept;

	memset(&kept, 0, sizeof(kept));
	pthread_mutex_lock(&c->mu);
	a->run_store = run_id > 0 ? rs : NULL;
	a->run_id = a->run_store ? run_id : 0;
	/* a store that cannot list the run's cache: earlier costs not added */
	if (a->run_store)
		runstore_cache_each(a->run_store, a->run_id, "llm:", charge_reply, &kept, NULL);
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_lock(&a->mu);
	a->totals.prompt = add_sat(a->totals.prompt, kept.prompt);
	a->totals.completion = add_sat(a->totals.completion, kept.completion);
	a->totals.cached = add_sat(a->totals.cached, kept.cached);
	a->totals.reasoning = add_sat(a->totals.reasoning, kept.reasoning);
	a->totals.cost_usd += kept.cost_usd;
	pthread_mutex_unlock(&a->mu);
}

void llm_client_set_run(struct llm_client *c, struct runstore *rs, long run_id)
{
	llm_account_set_run(&c->solo, c, rs, run_id);
}

void llm_client_cancel(struct llm_client *c) { llm_account_cancel(&c->solo); }

struct llm_totals llm_client_totals(struct llm_client *c) { return llm_account_totals(&c->solo); }

/* ---- untrusted usage figures ---- */

static long clamp_tokens(long v) { return v < 0 ? 0 : v > LLM_MAX_USAGE_TOKENS ? LLM_MAX_USAGE_TOKENS : v; }

/* a + b, stopping at LONG_MAX (a, b >= 0). */
static long add_sat(long a, long b) { return b > LONG_MAX - a ? LONG_MAX : a + b; }

/* Clamp each figure; recompute the cost if any was out of range. */
static void usage_sanitize(struct llm_client *c, const char *model, struct llm_usage *u)
{
	struct llm_usage in = *u;
	struct llm_price price;
	int known;

	u->prompt = clamp_tokens(u->prompt);
	u->completion = clamp_tokens(u->completion);
	u->cached = clamp_tokens(u->cached);
	u->reasoning = clamp_tokens(u->reasoning);
	if (u->cached > u->prompt)
		u->cached = u->prompt;
	if (u->reasoning > u->completion)
		u->reasoning = u->completion;
	if (in.prompt == u->prompt && in.completion == u->completion && in.cached == u->cached &&
	    isfinite(u->cost_usd) && u->cost_usd >= 0)
		return;
	price = llm_price_of(c->cfg, model, &known);
	u->cost_usd = ((double)(u->prompt - u->cached) * price.in + (double)u->cached * price.cached_in +
		       (double)u->completion * price.out) /
		      1e6;
}

void llm_account_set_budget(struct llm_account *a, long tokens, double usd, long time_limit_ms)
{
	pthread_mutex_lock(&a->mu);
	a->budget_tokens = tokens;
	a->budget_usd = usd;
	a->deadline_ms = time_limit_ms > 0 ? q_now_ms() + (double)time_limit_ms : 0;
	pthread_mutex_unlock(&a->mu);
}

void llm_client_set_budget(struct llm_client *c, long tokens, double usd, long time_limit_ms)
{
	llm_account_set_budget(&c->solo, tokens, usd, time_limit_ms);
}

/* Tokens spent so far (caller holds a->mu). */
static long used_tokens(const struct llm_account *a)
{
	return add_sat(a->totals.prompt, a->totals.completion);
}

/* Caller holds a->mu. Spent means not even a minimal call would fit (a
 * minimal prompt and LLM_MIN_USEFUL_REPLY); the real prompt of the next
 * call is checked when it reserves. */
static const char *spent_locked(struct llm_account *a, const struct llm_config *cfg, char *buf, size_t size)
{
	const struct llm_totals *t = &a->totals;
	const long least = LLM_MIN_USEFUL_REPLY + 64;
	double least_usd = cfg->price_known ? (double)least * cfg->price.out / 1e6 : 0;

	if (a->budget_tokens > 0 && used_tokens(a) > a->budget_tokens - least)
		if (used_tokens(a) == 0) /* "spent: 0 used" would puzzle */
			snprintf(buf, size,
				 "the token budget (%ld) is too small for any model call "
				 "(one needs at least %ld tokens): 0 used",
				 a->budget_tokens, least);
		else
			snprintf(buf, size, "the token budget (%ld) is spent: %ld used", a->budget_tokens,
				 used_tokens(a));
	else if (a->budget_usd > 0 && t->cost_usd + least_usd > a->budget_usd)
		snprintf(buf, size, "the money budget ($%.4g) is spent: $%.6f used", a->budget_usd,
			 t->cost_usd);
	else if (a->deadline_ms > 0 && q_now_ms() >= a->deadline_ms)
		snprintf(buf, size, "the time limit is reached");
	else
		return NULL;
	return buf;
}

const char *llm_account_spent(struct llm_account *a, const struct llm_client *c, char *buf, size_t size)
{
	const char *r;

	pthread_mutex_lock(&a->mu);
	r = spent_locked(a, c->cfg, buf, size);
	pthread_mutex_unlock(&a->mu);
	return r;
}

const char *llm_budget_spent(struct llm_client *c, char *buf, size_t size)
{
	return llm_account_spent(&c->solo, c, buf, size);
}

/* Wait on cv (with mu held) for at most ms. */
static void wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, double ms)
{
	struct timespec ts;
	double until;

	if (ms > 200)
		ms = 200; /* wake up often enough to notice a cancel */
	clock_gettime(CLOCK_REALTIME, &ts);
	until = (double)ts.tv_nsec / 1e6 + ms;
	ts.tv_sec += (time_t)(until / 1000);
	ts.tv_nsec = (long)(fmod(until, 1000.0) * 1e6);
	pthread_cond_timedwait(cv, mu, &ts);
}

/* The account's deadline (0: none). */
static double deadline_of(struct llm_account *a)
{
	double d;

	pthread_mutex_lock(&a->mu);
	d = a->deadline_ms;
	pthread_mutex_unlock(&a->mu);
	return d;
}

/* Take a slot within the concurrency, pacing and token limits, for a
 * request of account a. */
static int acquire(struct llm_client *c, struct llm_account *a, long tokens, struct q_error *err)
{
	const struct llm_config *cfg = c->cfg;
	double deadline = deadline_of(a);

	pthread_mutex_lock(&c->mu);
	for (;;) {
		double t = q_now_ms(), wait = 0;

		if (llm_account_cancelled(a)) {
			pthread_mutex_unlock(&c->mu);
			return q_error_set(err, Q_ETIMEOUT, "cancelled");
		}
		/* tokens and money were reserved before; only time can run out */
		if (deadline > 0 && t >= deadline) {
			pthread_mutex_unlock(&c->mu);
			return q_error_set(err, Q_EBUDGET, "the time limit is reached");
		}
		if (cfg->tpm > 0) {
			c->tpm_tokens += (t - c->tpm_at_ms) * (double)cfg->tpm / 60000.0;
			if (c->tpm_tokens > (double)cfg->tpm)
				c->tpm_tokens = (double)cfg->tpm;
			c->tpm_at_ms = t;
		}
		if (c->active >= cfg->max_concurrent)
			wait = 200;
		else if (t < c->paused_until_ms)
			wait = c->paused_until_ms - t;
		else if (cfg->rpm > 0 && t < c->next_start_ms)
			wait = c->next_start_ms - t;
		else if (cfg->tpm > 0 && c->tpm_tokens < (double)(tokens < cfg->tpm ? tokens : cfg->tpm))
			wait = ((double)(tokens < cfg->tpm ? tokens : cfg->tpm) - c->tpm_tokens) * 60000.0 /
			       (double)cfg->tpm;
		if (wait <= 0) {
			c->active++;
			if (cfg->rpm > 0)
				c->next_start_ms = (c->next_start_ms > t ? c->next_start_ms : t) +
						   60000.0 / cfg->rpm;
			if (cfg->tpm > 0)
				c->tpm_tokens -= (double)(tokens < cfg->tpm ? tokens : cfg->tpm);
			pthread_mutex_unlock(&c->mu);
			return 0;
		}
		wait_ms(&c->cv, &c->mu, wait);
	}
}

static void release_slot(struct llm_client *c)
{
	pthread_mutex_lock(&c->mu);
	c->active--;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* ---- hard budgets ---- */

/* What one call holds of the budget while it runs. */
struct budget_hold {
	long tokens;
	double usd;
	long prompt_est; /* the estimate before prompt_ratio, for the ratio */
	int held;
};

/* The prompt of body_bytes of request, as the budget counts it. */
static long budget_prompt_estimate(size_t body_bytes) { return (long)(body_bytes / 3) + 8; }

/* Reserve the prompt and a reply cap for r from account a; *max_tokens
 * gets the cap the request must carry (0: no budget, leave it). Waits
 * while the account's calls in flight hold what this one needs;
 * Q_EBUDGET when it cannot fit. */
static int budget_reserve(struct llm_client *c, struct llm_account *a, const struct llm_request *r,
			  const char *model, long prompt_raw, struct budget_hold *h, long *max_tokens,
			  struct q_error *err)
{
	int known = 0, rc = 0;
	struct llm_price price = llm_price_of(c->cfg, model, &known);
	long want = r->max_tokens > 0 ? r->max_tokens : LLM_BUDGET_REPLY_CAP;
	long least = want < LLM_MIN_USEFUL_REPLY ? want : LLM_MIN_USEFUL_REPLY;
	long prompt;
	double ratio;

	memset(h, 0, sizeof(*h));
	*max_tokens = 0;
	pthread_mutex_lock(&c->mu); /* what we learned of the server, not held with a->mu */
	ratio = c->prompt_ratio;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_lock(&a->mu);
	if (a->budget_tokens <= 0 && (a->budget_usd <= 0 || !known))
		goto out;
	prompt = (long)ceil((double)prompt_raw * ratio);
	if (c->cfg->context > prompt && want > c->cfg->context - prompt)
		want = c->cfg->context - prompt; /* the reply must fit the context too */
	for (;;) {
		long cap = want;
		double usd = 0;
		if (llm_account_cancelled(a)) {
			rc = q_error_set(err, Q_ETIMEOUT, "cancelled");
			goto out;
		}
		if (a->budget_tokens > 0) {
			long left = a->budget_tokens - used_tokens(a) - a->held_tokens - prompt;
			if (left < cap)
				cap = left;
		}
		if (a->budget_usd > 0 && known) {
			double left = a->budget_usd - a->totals.cost_usd - a->held_usd -
				      (double)prompt * price.in / 1e6;
			if (left < 0)
				cap = -1;
			else if (price.out > 0 && left / (price.out / 1e6) < (double)cap)
				cap = (long)floor(left / (price.out / 1e6));
		}
		if (cap >= least) {
			usd = known ? ((double)prompt * price.in + (double)cap * price.out) / 1e6 : 0;
			h->tokens = prompt + cap;
			h->usd = usd;
			h->prompt_est = prompt_raw;
			h->held = 1;
			a->held_tokens += h->tokens;
			a->held_usd += usd;
			a->n_held++;
			*max_tokens = cap;
			if (cap < (r->max_tokens > 0 ? r->max_tokens : LLM_BUDGET_REPLY_CAP))
				a->totals.budget_capped++;
			goto out;
		}
		if (a->n_held == 0)
			break;
		wait_ms(&a->cv, &a->mu, 200); /* calls in flight may hand back what they did not use */
	}
	if (a->budget_tokens > 0 && used_tokens(a) + prompt + least > a->budget_tokens) {
		if (used_tokens(a) == 0) /* "is spent: 0 used" would puzzle */
			rc = q_error_set(err, Q_EBUDGET,
					 "the token budget (%ld) is too small for any model call: "
					 "the first needs about %ld for its prompt and %ld for a reply",
					 a->budget_tokens, prompt, least);
		else
			rc = q_error_set(err, Q_EBUDGET,
					 "the token budget (%ld) is spent: %ld used, and the next "
					 "call needs about %ld for its prompt and %ld for a reply",
					 a->budget_tokens, used_tokens(a), prompt, least);
	} else
		rc = q_error_set(err, Q_EBUDGET,
				 "the money budget ($%.4g) is spent: $%.6f used, and the "
				 "next call needs about $%.6f",
				 a->budget_usd, a->totals.cost_usd,
				 ((double)prompt * price.in + (double)least * price.out) / 1e6);
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* Hand a reservation back (caller holds a->mu). */
static void budget_release_locked(struct llm_account *a, struct budget_hold *h)
{
	if (!h || !h->held)
		return;
	a->held_tokens -= h->tokens;
	a->held_usd -= h->usd;
	a->n_held--;
	if (a->n_held == 0) { /* no drift from float sums */
		a->held_tokens = 0;
		a->held_usd = 0;
	}
	h->held = 0;
	pthread_cond_broadcast(&a->cv);
}

/* Learn how far the server's prompt figure was above the estimate of a
 * budgeted call: a property of the server, so shared by every account. */
static void learn_prompt_ratio(struct llm_client *c, const struct budget_hold *h, const struct llm_usage *u)
{
	if (!h || !h->prompt_est || !u || u->estimated)
		return;
	pthread_mutex_lock(&c->mu);
	if ((double)u->prompt > c->prompt_ratio * (double)h->prompt_est) {
		c->prompt_ratio = (double)u->prompt / (double)h->prompt_est;
		if (c->prompt_ratio > 8)
			c->prompt_ratio = 8;
	}
	pthread_mutex_unlock(&c->mu);
}

/* Replace msg[from, to) with "***" (never longer than what it covers). */
static void mask_span(char *msg, size_t from, size_t to)
{
	memcpy(msg + from, "***", 3);
	memmove(msg + from + 3, msg + to, strlen(msg + to) + 1);
}

/*
 * Mask the key, and any piece of it of LLM_MASK_MIN_PIECE characters or
 * more that starts or ends it: a server that echoes the key may cut it
 * off ("sk-abcd1234...") or quote its end ("key ending in ...9f3a"), and a
 * message cut to length elsewhere may end inside it. Each piece found
 * runs from an occurrence of the key's first (or last) MIN characters as
 * far as it keeps matching the key.
 */
#define LLM_MASK_MIN_PIECE 8
void llm_mask_key(const struct llm_config *cfg, char *msg)
{
	const char *key = cfg->api_key;
	size_t kn, i, m;
	char *p;

	if (!key || (kn = strlen(key)) < 4)
		return;
	while ((p = strstr(msg, key)) != NULL)
		mask_span(msg, (size_t)(p - msg), (size_t)(p - msg) + kn);
	if (kn < LLM_MASK_MIN_PIECE)
		return;
	/* Prefixes: the key's head, extended forwards. */
	for (i = 0; (p = memmem(msg + i, strlen(msg + i), key, LLM_MASK_MIN_PIECE)) != NULL;) {
		size_t at = (size_t)(p - msg);
		for (m = LLM_MASK_MIN_PIECE; m < kn && p[m] == key[m]; m++)
			;
		mask_span(msg, at, at + m);
		i = at + 3;
	}
	/* Suffixes: the key's tail, extended backwards. */
	for (i = 0; (p = memmem(msg + i, strlen(msg + i), key + kn - LLM_MASK_MIN_PIECE, LLM_MASK_MIN_PIECE)) !=
		    NULL;) {
		size_t end = (size_t)(p - msg) + LLM_MASK_MIN_PIECE, start = (size_t)(p - msg);
		for (m = LLM_MASK_MIN_PIECE; m < kn && start > 0 && msg[start - 1] == key[kn - m - 1]; m++)
			start--;
		mask_span(msg, start, end);
		i = start + 3;
	}
}

/* ---- the request body ---- */

const char *llm_model_of(const struct llm_client *c, const struct llm_request *r)
{
	if (r->model && *r->model)
		return r->model;
	return r->fast ? c->cfg->fast_model : c->cfg->model;
}

static json_t *build_body(struct llm_client *c, const struct llm_request *r, enum llm_json_mode mode, int stream)
{
	json_t *body = json_object(), *msgs = json_array();
	char *schema_text = NULL;
	size_t i;

	if (!body || !msgs)
		goto fail;
	json_object_set_new(body, "model", json_string(llm_model_of(c, r)));
	if (r->json && r->schema)
		schema_text = json_dumps(r->schema, JSON_COMPACT | JSON_SORT_KEYS);
	for (i = 0; i < r->n_messages; i++) {
		const struct llm_message *m = &r->messages[i];
		json_t *o = json_object();
		if (!o || json_array_append_new(msgs, o))
			goto fail;
		json_object_set_new(o, "role", json_string(m->role ? m->role : "user"));
		if (r->json && i + 1 == r->n_messages && strcmp(m->role ? m->role : "user", "user") == 0) {
			/* Say it in words too: every mode needs it (OpenAI's
			 * json_object demands the word JSON in the prompt). */
			struct qbuf b;
			qbuf_init(&b, LLM_MAX_REPLY_BYTES);
			qbuf_adds(&b, m->content ? m->content : "");
			qbuf_adds(&b, "\n\nReply with one JSON value only, no prose and no code fences.");
			if (schema_text && mode != LLM_JSON_SCHEMA)
				qbuf_addf(&b, " It must match this JSON Schema: %s", schema_text);
			json_object_set_new(o, "content", json_string(qbuf_cstr(&b)));
			qbuf_release(&b);
		} else {
			json_object_set_new(o, "content", json_string(m->content ? m->content : ""));
		}
		if (m->tool_call_id)
			json_object_set_new(o, "tool_call_id", json_string(m->tool_call_id));
	}
	json_object_set_new(body, "messages", msgs);
	msgs = NULL;
	if (r->temperature >= 0 && !c->no_temperature)
		json_object_set_new(body, "temperature", json_real(r->temperature));
	if (r->max_tokens > 0)
		json_object_set_new(
			body, strcmp(c->cfg->provider, "openai") == 0 ? "max_completion_tokens" : "max_tokens",
			json_integer(r->max_tokens));
	if (r->n_stop > 0) {
		json_t *a = json_array();
		for (i = 0; i < r->n_stop && i < 4; i++)
			json_array_append_new(a, json_string(r->stop[i]));
		json_object_set_new(body, "stop", a);
	}
	if (r->tools) {
		json_object_set(body, "tools", r->tools);
		if (r->tool_choice)
			json_object_set_new(body, "tool_choice", json_string(r->tool_choice));
	}
	if (r->json && mode == LLM_JSON_SCHEMA && r->schema) {
		json_t *rf = json_pack("{s:s, s:{s:s, s:O, s:b}}", "type", "json_schema", "json_schema",
				       "name", r->schema_name ? r->schema_name : "reply", "schema", r->schema,
				       "strict", 0);
		json_object_set_new(body, "response_format", rf);
	} else if (r->json && mode != LLM_JSON_NONE) {
		json_object_set_new(body, "response_format", json_pack("{s:s}", "type", "json_object"));
	}
	if (stream) {
		json_object_set_new(body, "stream", json_true());
		json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1));
	}
	free(schema_text);
	return body;
fail:
	free(schema_text);
	json_decref(msgs);
	json_decref(body);
	return NULL;
}

/* ---- the cache ---- */

static void cache_key(struct llm_client *c, const char *body_text, char key[65])
{
	struct qbuf b;

	qbuf_init(&b, CACHE_KEY_MAX_BYTES);
	qbuf_adds(&b, c->cfg->base_url);
	qbuf_addc(&b, '\n');
	qbuf_adds(&b, body_text);
	sha256_hex(qbuf_cstr(&b), b.len, key);
	qbuf_release(&b);
}

/* o's string member k, or dflt. */
static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : dflt;
}

/* A reply kept in the run store: the shared cache (run_id 0) or the
 * record of one run (its cache, key "llm:" + the request hash); a copy
 * to q_free, or NULL. Called under mu, like every use of the client's
 * run stores. */
static char *reply_load(struct runstore *rs, long run_id, const char *key)
{
	char k[LLM_REPLY_KEY_MAX], *text = NULL;

	if (!rs)
		return NULL;
	if (run_id > 0) {
		snprintf(k, sizeof(k), "llm:%s", key);
		runstore_cache_get(rs, run_id, k, &text, NULL);
	} else {
		runstore_reply_get(rs, key, &text, NULL);
	}
	return text;
}

/* Fill resp from a kept reply; 1 if it was whole. */
static int reply_parse(const char *text, struct llm_response *resp)
{
	json_t *o, *u, *calls, *tc;
	json_error_t jerr;
	int found = 0;
	size_t i;

	o = text ? json_loads(text, 0, &jerr) : NULL;
	if (!o || !json_is_string(json_object_get(o, "content")))
		goto out;
	resp->content = q_strdup(jstr(o, "content", ""));
	resp->reasoning = q_strdup(jstr(o, "reasoning", ""));
	snprintf(resp->finish_reason, sizeof(resp->finish_reason), "%s", jstr(o, "finish_reason", "stop"));
	snprintf(resp->model, sizeof(resp->model), "%s", jstr(o, "model", ""));
	u = json_object_get(o, "usage");
	resp->usage.prompt = clamp_tokens(llm_json_long(u, "prompt"));
	resp->usage.completion = clamp_tokens(llm_json_long(u, "completion"));
	resp->usage.reasoning = clamp_tokens(llm_json_long(u, "reasoning"));
	resp->usage.cached = clamp_tokens(llm_json_long(u, "cached"));
	resp->usage.cost_known = 1;
	calls = json_object_get(o, "tool_calls");
	if (json_array_size(calls) > 0 && json_array_size(calls) <= LLM_MAX_TOOL_CALLS) {
		resp->calls = q_calloc(json_array_size(calls), sizeof(*resp->calls));
		json_array_foreach (calls, i, tc) {
			if (!resp->calls)
				break;
			resp->calls[i].id = q_strdup(jstr(tc, "id", ""));
			resp->calls[i].name = q_strdup(jstr(tc, "name", ""));
			resp->calls[i].arguments = q_strdup(jstr(tc, "arguments", ""));
			resp->n_calls++;
		}
	}
	found = resp->content && resp->reasoning;
	resp->from_cache = found;
out:
	json_decref(o);
	return found;
}

/* The reply for key: this run's record first (whatever the cache
 * setting: resume must not pay twice), then the shared cache. */
static int cache_get(struct llm_client *c, struct llm_account *a, const char *key, int use_shared,
		     struct llm_response *resp)
{
	char *text;
	int found;

	pthread_mutex_lock(&c->mu);
	text = reply_load(a->run_store, a->run_id, key);
	if (!text && use_shared)
		text = reply_load(c->cache, 0, key);
	pthread_mutex_unlock(&c->mu);
	found = reply_parse(text, resp);
	q_free(text);
	return found;
}

/* Keep a completed reply: always with the run (any finish reason, since a
 * reply cut at its cap was paid for too), and in the shared cache when
 * caching is on and the reply is whole (a reply cut by one run's budget
 * is no answer for another run). */
static void cache_put(struct llm_client *c, struct llm_account *a, const char *key, int use_shared,
		      const struct llm_response *r)
{
	json_t *o, *calls = json_array();
	char *text;
	size_t i;

	for (i = 0; i < r->n_calls; i++)
		json_array_append_new(calls,
				      json_pack("{s:s, s:s, s:s}", "id", r->calls[i].id ? r->calls[i].id : "",
						"name", r->calls[i].name ? r->calls[i].name : "", "arguments",
						r->calls[i].arguments ? r->calls[i].arguments : ""));
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:f}}", "content", r->content,
		      "reasoning", r->reasoning, "finish_reason", r->finish_reason, "model", r->model,
		      "tool_calls", calls, "usage", "prompt", (json_int_t)r->usage.prompt, "completion",
		      (json_int_t)r->usage.completion, "reasoning", (json_int_t)r->usage.reasoning, "cached",
		      (json_int_t)r->usage.cached, "cost_usd", r->usage.cost_usd);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return;
	pthread_mutex_lock(&c->mu);
	if (a->run_store && a->run_id > 0) {
		char k[LLM_REPLY_KEY_MAX];

		snprintf(k, sizeof(k), "llm:%s", key);
		runstore_cache_put(a->run_store, a->run_id, k, text, NULL); /* as below: no failure of the call */
	}
	/* a cache that cannot be written is no failure */
	if (use_shared && strcmp(r->finish_reason, "length") != 0 && c->cache && !c->cache_writes_off)
		runstore_reply_put(c->cache, key, r->model, text, NULL);
	pthread_mutex_unlock(&c->mu);
	free(text);
}

static void replay(const struct llm_request *r, const struct llm_response *resp)
{
	size_t i;

	if (!r->cb)
		return;
	if (r->cb->on_reasoning && resp->reasoning[0])
		r->cb->on_reasoning(r->cb->ctx, resp->reasoning, strlen(resp->reasoning));
	if (r->cb->on_text && resp->content[0])
		r->cb->on_text(r->cb->ctx, resp->content, strlen(resp->content));
	for (i = 0; i < resp->n_calls && r->cb->on_tool_delta; i++)
		r->cb->on_tool_delta(r->cb->ctx, (int)i, resp->calls[i].name, resp->calls[i].arguments,
				     strlen(resp->calls[i].arguments));
}

/* ---- llm_chat ---- */

/* The wait before retry attempt+1: cfg's first wait (llm_config.backoff_ms,
 * resolved by the front end; 0 means 1 s), doubled per attempt, capped. */
static long backoff_ms(const struct llm_config *cfg, int attempt)
{
	long base = cfg->backoff_ms > 0 ? cfg->backoff_ms : 1000, d;
	double jitter = 0.5 + q_random_unit(); /* 0.5 .. 1.5, different in every process */

	if (base < 1)
		base = 1;
	if (base > BACKOFF_CAP_MS)
		base = BACKOFF_CAP_MS; /* and the shift below cannot overflow */
	d = base << (attempt < 10 ? attempt : 10);
	if (d > BACKOFF_CAP_MS)
		d = BACKOFF_CAP_MS;
	return (long)((double)d * jitter);
}

/* Sleep ms unless account a is cancelled. */
static int nap(struct llm_client *c, struct llm_account *a, long ms)
{
	double until = q_now_ms() + (double)ms, deadline = deadline_of(a);

	if (deadline > 0 && until > deadline)
		until = deadline; /* a long Retry-After does not outlast the time limit */
	pthread_mutex_lock(&c->mu);
	while (!llm_account_cancelled(a) && q_now_ms() < until)
		wait_ms(&c->cv, &c->mu, until - q_now_ms());
	pthread_mutex_unlock(&c->mu);
	return llm_account_cancelled(a) ? Q_ETIMEOUT : 0;
}

void llm_response_release(struct llm_response *r)
{
	size_t i;

	q_free(r->content);
	q_free(r->reasoning);
	for (i = 0; i < r->n_calls; i++) {
		q_free(r->calls[i].id);
		q_free(r->calls[i].name);
		q_free(r->calls[i].arguments);
	}
	q_free(r->calls);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* Count a finished call with account a and release its reservation, in
 * one step so no other call of a sees the budget without both. */
static void count(struct llm_client *c, struct llm_account *a, const struct llm_response *r, int failed,
		  int retries, struct budget_hold *h)
{
	struct llm_totals *t = &a->totals;

	if (!failed && !r->from_cache)
		learn_prompt_ratio(c, h, &r->usage);
	pthread_mutex_lock(&a->mu);
	budget_release_locked(a, h);
	t->retries += retries;
	if (failed) {
		t->failures++;
	} else if (r->from_cache) {
		t->calls++;
		t->cache_hits++;
	} else {
		t->calls++;
		t->prompt = add_sat(t->prompt, r->usage.prompt);
		t->cached = add_sat(t->cached, r->usage.cached);
		t->completion = add_sat(t->completion, r->usage.completion);
		t->reasoning = add_sat(t->reasoning, r->usage.reasoning);
		t->estimated_calls += r->usage.estimated;
		t->cost_usd += r->usage.cost_usd;
		if (!r->usage.cost_known)
			t->cost_unknown = 1;
	}
	pthread_mutex_unlock(&a->mu);
}

int llm_chat(struct llm_client *c, const struct llm_request *r, struct llm_response *resp, struct q_error *err)
{
	const struct llm_config *cfg = c->cfg;
	struct llm_account *acct = llm_account_of(c, r);
	const char *model = llm_model_of(c, r);
	double t0 = q_now_ms();
	long est = llm_estimate_prompt(r->messages, r->n_messages);
	int attempt = 0, rc = 0, connect_failures = 0, stream = cfg->stream;
	char key[65], *keytext = NULL;
	json_t *body;
	struct llm_request capped;
	struct budget_hold hold = {0};
	size_t body_bytes;
	long cap;

	memset(resp, 0, sizeof(*resp));
	if (r->n_messages == 0)
		return q_error_set(err, Q_EINVAL, "no messages to send");
	if (est + (r->max_tokens > 0 ? r->max_tokens : 0) > cfg->context)
		return q_error_set(err, Q_ETOOBIG,
				   "the prompt is about %ld tokens%s, more than %s's "
				   "context of %ld: shorten it, or set QUARRY_LLM_CONTEXT if the model "
				   "takes more",
				   est, r->max_tokens > 0 ? " plus the reply" : "", model, cfg->context);
	/* The cache key ignores how the reply travels (stream or not). */
	body = build_body(c, r, c->json_downgraded ? LLM_JSON_NONE : cfg->json_mode, 0);
	keytext = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(body);
	if (!keytext)
		return q_error_set(err, Q_ENOMEM, "out of memory building the request");
	cache_key(c, keytext, key);
	body_bytes = strlen(keytext);
	free(keytext);
	if (cache_get(c, acct, key, !r->no_cache, resp)) {
		resp->ms = q_now_ms() - t0;
		replay(r, resp);
		count(c, acct, resp, 0, 0, NULL);
		return 0;
	}
	llm_response_release(resp);

	/* Under a budget the call reserves its prompt and reply first, and
	 * the reply may not run past what is left (the cache key above is
	 * the request as asked, so a resumed run still finds it). */
	if ((rc = budget_reserve(c, acct, r, model, budget_prompt_estimate(body_bytes), &hold, &cap, err)))
		return rc;
	if (cap > 0) {
		capped = *r;
		capped.max_tokens = cap;
		r = &capped;
	}

	for (;;) {
		struct llm_attempt a;
		enum llm_outcome out;
		char *text;
		int cc, conn;
		long delay;

		body = build_body(c, r, c->json_downgraded ? LLM_JSON_NONE : cfg->json_mode, stream);
		text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (!text) {
			rc = q_error_set(err, Q_ENOMEM, "out of memory building the request");
			break;
		}
		if ((rc = acquire(c, acct, est + (r->max_tokens > 0 ? r->max_tokens : 512), err))) {
			free(text);
			break;
		}
		llm_attempt_init(&a, c, r);
		cc = llm_attempt_run(c, &a, text, stream);
		free(text);
		release_slot(c);
		attempt++;
		out = llm_attempt_judge(&a, (CURLcode)cc, model, err, &conn);
		if (out == LLM_OK) {
			rc = llm_attempt_finish(c, &a, r, resp, err);
			if (!rc && a.finished == 0 && a.done == 0 && !a.is_sse)
				resp->finish_reason[0] = '\0';
			if (!rc)
				usage_sanitize(c, model, &resp->usage);
		}
		delay = llm_retry_after_ms(a.retry_after);
		llm_attempt_release(&a);
		if (out == LLM_OK)
			break;
		if (out == LLM_DOWNGRADE || out == LLM_NO_TEMPERATURE) { /* drop what the server refused */
			pthread_mutex_lock(&c->mu);
			if (out == LLM_DOWNGRADE)
				c->json_downgraded = 1;
			else
				c->no_temperature = 1;
			pthread_mutex_unlock(&c->mu);
			attempt--;
			continue;
		}
		rc = err ? err->code : Q_EIO;
		if (rc == 0)
			rc = Q_EIO;
		if (out == LLM_FAIL)
			break;
		connect_failures += conn;
		if (attempt > cfg->max_retries || connect_failures > 1)
			break;
		if (delay > MAX_RETRY_AFTER_MS) {
			if (err) {
				char prev[Q_ERROR_MSG_MAX];
				memcpy(prev, err->msg, sizeof(prev));
				q_error_set(err, Q_EHTTP,
					    "%.300s; the server asks to wait %ld s, longer "
					    "than we will",
					    prev, delay / 1000);
			}
			break;
		}
		if (delay < 0)
			delay = backoff_ms(cfg, attempt - 1);
		else { /* pause every request to this server, not just this one */
			pthread_mutex_lock(&c->mu);
			if (q_now_ms() + (double)delay > c->paused_until_ms)
				c->paused_until_ms = q_now_ms() + (double)delay;
			pthread_mutex_unlock(&c->mu);
		}
		if (r->cb && r->cb->on_retry)
			r->cb->on_retry(r->cb->ctx, attempt, err ? err->msg : "", delay);
		if (nap(c, acct, delay)) {
			rc = q_error_set(err, Q_ETIMEOUT, "cancelled");
			break;
		}
	}
	resp->attempts = attempt;
	resp->ms = q_now_ms() - t0;
	if (rc) {
		if (attempt > 1 && err && !llm_account_cancelled(acct)) {
			char prev[Q_ERROR_MSG_MAX];
			memcpy(prev, err->msg, sizeof(prev));
			q_error_set(err, rc, "%.400s (after %d attempts)", prev, attempt);
		}
		if (err)
			llm_mask_key(cfg, err->msg);
		count(c, acct, resp, 1, attempt > 0 ? attempt - 1 : 0, &hold);
		llm_response_release(resp);
		return rc;
	}
	count(c, acct, resp, 0, attempt - 1, &hold);
	cache_put(c, acct, key, !r->no_cache, resp);
	return 0;
}
