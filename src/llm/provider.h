/*
 * provider.h - which model server to talk to, and how: provider presets
 * and the resolved configuration.
 *
 * Settings come from flags (struct llm_overrides), then the environment,
 * then the config file, then the provider's preset. Choosing a provider
 * with a flag takes its base URL and models unless those are flags too,
 * so `--provider deepseek` is not silently redirected by an old
 * QUARRY_LLM_BASE_URL. Anything not in a preset is reached through
 * QUARRY_LLM_BASE_URL (provider "custom"); a known host in that URL
 * (matched exactly, not as a substring) picks its preset's limits and
 * prices.
 *
 * Environment: QUARRY_LLM_PROVIDER, QUARRY_LLM_BASE_URL (OPENAI_BASE_URL
 * as a fallback), QUARRY_LLM_API_KEY (else the preset's variable, e.g.
 * DEEPSEEK_API_KEY, else OPENAI_API_KEY), QUARRY_LLM_MODEL,
 * QUARRY_FAST_MODEL, QUARRY_LLM_CONTEXT, QUARRY_LLM_MAX_CONCURRENT,
 * QUARRY_LLM_RPM, QUARRY_LLM_TPM, QUARRY_LLM_TIMEOUT,
 * QUARRY_LLM_IDLE_TIMEOUT, QUARRY_LLM_RETRIES, QUARRY_LLM_PRICE
 * ("IN,OUT[,CACHED]" USD per million tokens, for the main model).
 * Config keys: the same names in lower case without QUARRY_LLM_ (provider,
 * base_url, model, fast_model, context, ...), api_key_env (the variable
 * holding the key: keys never go in the file), json_mode
 * (schema|object|none), stream (1|0), price.MODEL = IN,OUT[,CACHED].
 *
 * The key lives only in struct llm_config.api_key; it is wiped on release
 * and goes nowhere but the Authorization header. A provider's variable is
 * sent only to that provider's hosts, OPENAI_API_KEY only to
 * api.openai.com or OPENAI_BASE_URL; QUARRY_LLM_API_KEY (and the config's
 * api_key_env) go to whatever server is configured. A key is never sent
 * over http:// to a host other than this machine unless allowed
 * (allow_insecure_http in struct llm_overrides, QUARRY_LLM_ALLOW_INSECURE_HTTP
 * or allow_insecure_http = true in the config file).
 */
#ifndef Q_PROVIDER_H
#define Q_PROVIDER_H

#include <stddef.h>

#include "../core/config.h"
#include "../core/err.h"

enum llm_json_mode { LLM_JSON_NONE, LLM_JSON_OBJECT, LLM_JSON_SCHEMA };

/* USD per million tokens. */
struct llm_price {
	double in;        /* prompt tokens not served from the provider's cache */
	double cached_in; /* prompt tokens served from its cache */
	double out;       /* completion tokens, reasoning included */
};

struct llm_preset {
	const char *name;
	const char *title; /* "DeepSeek", for listings */
	const char *base_url;
	const char *key_env;     /* NULL: no key needed */
	const char *smart_model; /* NULL: the user must name one */
	const char *fast_model;
	const char *host; /* its hosts, exact, space-separated, or ":PORT"; may be NULL */
	long context;     /* tokens */
	int max_concurrent;
	int rpm;  /* requests per minute, 0 = unlimited */
	long tpm; /* tokens per minute, 0 = unlimited */
	enum llm_json_mode json_mode;
	int local; /* runs on the user's machine: no key, no cost */
};

struct llm_model_price {
	const char *model;
	struct llm_price price;
};

struct llm_overrides {
	const char *provider;
	const char *base_url;
	const char *model;
	const char *fast_model;
	int allow_insecure_http; /* send a key over http:// to another machine */
};

#define LLM_DEFAULT_TIMEOUT_MS (10L * 60 * 1000)
#define LLM_DEFAULT_IDLE_MS (90L * 1000)
#define LLM_DEFAULT_CONNECT_MS (15L * 1000)
#define LLM_DEFAULT_RETRIES 4

struct llm_config {
	char provider[32];   /* preset name or "custom" */
	char base_url[1024]; /* without a trailing slash */
	char model[256];
	char fast_model[256];
	char key_env[64]; /* where the key came from, "" if none */
	char *api_key;    /* secret; NULL if none */
	long context;
	int max_concurrent;
	int rpm;
	long tpm;
	enum llm_json_mode json_mode;
	int stream; /* stream replies (default 1) */
	int local;
	long timeout_ms; /* one attempt, whole */
	long idle_ms;    /* no byte for this long: the attempt stalled */
	long connect_ms;
	int max_retries;
	long backoff_ms;        /* first retry's wait before jitter; 0: 1000 */
	struct llm_price price; /* main model */
	struct llm_price fast_price;
	int price_known;
	int fast_price_known;
	const struct config *file; /* for price.MODEL lookups; may be NULL */
};

const struct llm_preset *llm_presets(size_t *n);
const struct llm_preset *llm_preset_find(const char *name);
/* Built-in prices, {NULL} terminated. */
const struct llm_model_price *llm_builtin_prices(void);

/*
 * Resolve the configuration. Errors (Q_EINVAL) say what to set: no model
 * server configured, unknown provider, a key variable that is empty, a
 * custom server without a model name, a malformed number.
 */
int llm_config_resolve(struct llm_config *c, const struct llm_overrides *o, const struct config *file,
		       struct q_error *err);
void llm_config_release(struct llm_config *c);

/* Price of model: the config's price.MODEL, else the override for the
 * main model, else the built-in table; 0 if unknown (*known = 0). Local
 * servers cost nothing. */
struct llm_price llm_price_of(const struct llm_config *c, const char *model, int *known);

/* Parse "IN,OUT[,CACHED]"; -1 on error. */
int llm_parse_price(const char *s, struct llm_price *p);

#endif
