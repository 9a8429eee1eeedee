/*
 * provider.c - provider presets and configuration (see provider.h).
 *
 * Prices are USD per million tokens as published by each provider in late
 * 2025; they change, so users override them (price.MODEL in the config
 * file, or QUARRY_LLM_PRICE). Limits are conservative defaults for a
 * first-tier account.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "../core/alloc.h"
#include "../net/url.h"
#include "provider.h"

static const struct llm_preset presets[] = {
	{"deepseek", "DeepSeek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "deepseek-chat",
	 "deepseek-chat", "api.deepseek.com", 131072, 16, 0, 0, LLM_JSON_OBJECT, 0},
	{"moonshot", "Moonshot (Kimi)", "https://api.moonshot.ai/v1", "MOONSHOT_API_KEY", "kimi-k2-0905-preview",
	 "kimi-k2-0905-preview", "api.moonshot.ai api.moonshot.cn", 262144, 8, 200, 0, LLM_JSON_OBJECT, 0},
	{"qwen", "Qwen (DashScope)", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
	 "DASHSCOPE_API_KEY", "qwen-plus", "qwen-flash",
	 "dashscope-intl.aliyuncs.com dashscope.aliyuncs.com dashscope-us.aliyuncs.com", 131072, 8, 0, 0,
	 LLM_JSON_OBJECT, 0},
	{"openai", "OpenAI", "https://api.openai.com/v1", "OPENAI_API_KEY", "gpt-4.1", "gpt-4.1-mini",
	 "api.openai.com", 1047576, 8, 500, 0, LLM_JSON_SCHEMA, 0},
	{"openrouter", "OpenRouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "openai/gpt-4.1",
	 "openai/gpt-4.1-mini", "openrouter.ai", 128000, 8, 0, 0, LLM_JSON_SCHEMA, 0},
	{"ollama", "Ollama (local)", "http://127.0.0.1:11434/v1", NULL, "qwen2.5", "qwen2.5", ":11434", 8192,
	 1, 0, 0, LLM_JSON_OBJECT, 1},
	{"llamacpp", "llama.cpp server (local)", "http://127.0.0.1:8080/v1", NULL, "local", "local", NULL,
	 8192, 2, 0, 0, LLM_JSON_SCHEMA, 1},
	{"vllm", "vLLM (local or your cluster)", "http://127.0.0.1:8000/v1", "VLLM_API_KEY", NULL, NULL, NULL,
	 32768, 16, 0, 0, LLM_JSON_SCHEMA, 1},
};

static const struct llm_model_price prices[] = {
	{"deepseek-chat", {0.28, 0.028, 0.42}},
	{"deepseek-reasoner", {0.28, 0.028, 0.42}},
	{"kimi-k2-0905-preview", {0.60, 0.15, 2.50}},
	{"kimi-k2-turbo-preview", {1.15, 0.15, 8.00}},
	{"qwen-plus", {0.40, 0.40, 1.20}},
	{"qwen-flash", {0.05, 0.05, 0.40}},
	{"qwen-max", {1.60, 1.60, 6.40}},
	{"gpt-4.1", {2.00, 0.50, 8.00}},
	{"gpt-4.1-mini", {0.40, 0.10, 1.60}},
	{"gpt-4.1-nano", {0.10, 0.025, 0.40}},
	{"gpt-4o", {2.50, 1.25, 10.00}},
	{"gpt-4o-mini", {0.15, 0.075, 0.60}},
	{"gpt-5", {1.25, 0.125, 10.00}},
	{"gpt-5-mini", {0.25, 0.025, 2.00}},
	{"gpt-5-nano", {0.05, 0.005, 0.40}},
	{NULL, {0, 0, 0}},
};

const struct llm_preset *llm_presets(size_t *n)
{
	*n = sizeof(presets) / sizeof(presets[0]);
	return presets;
}

const struct llm_preset *llm_preset_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcasecmp(presets[i].name, name) == 0)
			return &presets[i];
	if (strcasecmp(name, "kimi") == 0)
		return llm_preset_find("moonshot");
	if (strcasecmp(name, "dashscope") == 0)
		return llm_preset_find("qwen");
	if (strcasecmp(name, "llama.cpp") == 0)
		return llm_preset_find("llamacpp");
	return NULL;
}

const struct llm_model_price *llm_builtin_prices(void) { return prices; }

int llm_parse_price(const char *s, struct llm_price *p)
{
	double v[3] = {0, 0, -1};
	int i;
	char *end;

	for (i = 0; i < 3; i++) {
		errno = 0;
		v[i] = strtod(s, &end);
		if (end == s || errno || v[i] < 0 || v[i] > 1e6)
			return -1;
		s = end;
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		if (*s != ',' || i == 2)
			return -1;
		s++;
	}
	if (i == 0)
		return -1; /* one number is not a price pair */
	p->in = v[0];
	p->out = v[1];
	p->cached_in = i == 2 ? v[2] : v[0];
	return 0;
}

/* The first of these that is set and not empty. */
static const char *env_first(const struct config *file, const char *a, const char *b)
{
	const char *v = config_env(file, a);

	if (v && *v)
		return v;
	v = config_env(file, b);
	return v && *v ? v : NULL;
}

static int parse_long(const char *what, const char *s, long min, long max, long *out, struct q_error *err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max)
		return q_error_set(err, Q_EINVAL, "%s must be a whole number from %ld to %ld, not '%s'", what,
				   min, max, s);
	*out = v;
	return 0;
}

/* "90", "90s", "1500ms", "2m" -> ms. */
static int parse_ms(const char *what, const char *s, long *out, struct q_error *err)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0)
		goto bad;
	if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1000;
	else if (strcmp(end, "m") == 0)
		v *= 60000;
	else if (strcmp(end, "ms") != 0)
		goto bad;
	if (v < 1 || v > 24.0 * 3600 * 1000)
		goto bad;
	*out = (long)v;
	return 0;
bad:
	return q_error_set(err, Q_EINVAL, "%s must be a duration such as 90s, 1500ms or 2m, not '%s'", what, s);
}

static int copy_to(char *dst, size_t size, const char *src, const char *what, struct q_error *err)
{
	if (strlen(src) >= size)
		return q_error_set(err, Q_EINVAL, "%s is too long (%zu bytes at most)", what, size - 1);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int numbers(struct llm_config *c, const struct config *file, struct q_error *err)
{
	static const struct {
		const char *env, *key, *what;
		long min, max;
		int kind; /* 0 long, 1 int, 2 duration */
		size_t off;
	} tab[] = {
		{"QUARRY_LLM_CONTEXT", "context", "the context length", 512, 100000000, 0,
		 offsetof(struct llm_config, context)},
		{"QUARRY_LLM_MAX_CONCURRENT", "max_concurrent", "max_concurrent", 1, 256, 1,
		 offsetof(struct llm_config, max_concurrent)},
		{"QUARRY_LLM_RPM", "rpm", "the requests-per-minute limit", 0, 1000000, 1,
		 offsetof(struct llm_config, rpm)},
		{"QUARRY_LLM_TPM", "tpm", "the tokens-per-minute limit", 0, 1000000000, 0,
		 offsetof(struct llm_config, tpm)},
		{"QUARRY_LLM_RETRIES", "retries", "the retry count", 0, 20, 1,
		 offsetof(struct llm_config, max_retries)},
		{"QUARRY_LLM_TIMEOUT", "timeout", "the model timeout", 0, 0, 2,
		 offsetof(struct llm_config, timeout_ms)},
		{"QUARRY_LLM_IDLE_TIMEOUT", "idle_timeout", "the idle timeout", 0, 0, 2,
		 offsetof(struct llm_config, idle_ms)},
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		const char *v = config_setting(file, tab[i].env, tab[i].key);
		long n = 0;
		int rc;

		if (!v)
			continue;
		rc = tab[i].kind == 2 ? parse_ms(tab[i].what, v, &n, err)
				      : parse_long(tab[i].what, v, tab[i].min, tab[i].max, &n, err);
		if (rc)
			return rc;
		if (tab[i].kind == 1)
			*(int *)(void *)((char *)c + tab[i].off) = (int)n;
		else
			*(long *)(void *)((char *)c + tab[i].off) = n;
	}
	return 0;
}

struct llm_price llm_price_of(const struct llm_config *c, const char *model, int *known)
{
	struct llm_price p = {0, 0, 0};
	const char *slash, *v;
	char key[300];
	size_t i;

	*known = 1;
	if (c->local)
		return p;
	snprintf(key, sizeof(key), "price.%s", model);
	v = config_get(c->file, key);
	if (v && llm_parse_price(v, &p) == 0)
		return p;
	if (strcmp(model, c->model) == 0 && c->price_known)
		return c->price;
	if (strcmp(model, c->fast_model) == 0 && c->fast_price_known)
		return c->fast_price;
	slash = strrchr(model, '/'); /* "openai/gpt-4.1" on OpenRouter */
	for (i = 0; prices[i].model; i++)
		if (strcmp(prices[i].model, model) == 0 || (slash && strcmp(prices[i].model, slash + 1) == 0))
			return prices[i].price;
	*known = 0;
	return p;
}

/* Does host (lower case, no trailing dot) on port match a preset's host
 * list: exact names separated by spaces, or ":PORT" for any host on it? */
static int preset_host_matches(const struct llm_preset *p, const char *host, unsigned port)
{
	const char *h = p->host;
	size_t hn = strlen(host);

	if (!h)
		return 0;
	while (*h) {
		size_t n = strcspn(h, " ");
		if (h[0] == ':' && strtoul(h + 1, NULL, 10) == port)
			return 1;
		if (n == hn && strncmp(h, host, n) == 0)
			return 1;
		h += n;
		h += strspn(h, " ");
	}
	return 0;
}

/* localhost, *.localhost, 127.0.0.0/8, ::1 and ::ffff:127.x: traffic that
 * never leaves the machine. */
static int host_is_loopback(const char *host)
{
	unsigned char a[16];
	size_t n = strlen(host);

	if (strcmp(host, "localhost") == 0 || (n > 10 && strcmp(host + n - 10, ".localhost") == 0))
		return 1;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char one[16] = {[15] = 1};
		static const unsigned char v4mapped[12] = {[10] = 0xff, [11] = 0xff};
		return memcmp(a, one, 16) == 0 || (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
	}
	return 0;
}

/* Same scheme, host and port, and the same path but for trailing slashes. */
static int same_base_url(const char *a, const char *b)
{
	size_t an = strlen(a), bn = strlen(b);

	while (an > 0 && a[an - 1] == '/')
		an--;
	while (bn > 0 && b[bn - 1] == '/')
		bn--;
	return an == bn && strncmp(a, b, an) == 0;
}

static void strip_slashes(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

/* The base URL's host, lower case without a trailing dot, and its port. */
static int base_host(const char *base, char *host, size_t size, unsigned *port, struct q_error *err)
{
	struct url *u = q_malloc(sizeof(*u));
	struct q_error uerr = {0};
	size_t n;
	int rc = Q_ENOMEM;

	if (!u)
		return q_error_set(err, Q_ENOMEM, "out of memory");
	if (url_parse(base, u, &uerr)) {
		rc = q_error_set(err, Q_EINVAL,
				 "the model server's address '%.200s' is not a valid "
				 "URL (%s): check QUARRY_LLM_BASE_URL or the base_url setting",
				 base, uerr.msg);
		goto out;
	}
	snprintf(host, size, "%s", u->host);
	n = strlen(host);
	while (n > 0 && host[n - 1] == '.')
		host[--n] = '\0';
	*port = u->port;
	rc = 0;
out:
	q_free(u);
	return rc;
}

/*
 * The key, and which variable it came from. A key goes only where it
 * belongs: QUARRY_LLM_API_KEY and the config's api_key_env are the user's
 * own choice for the configured server; a provider's variable
 * (DEEPSEEK_API_KEY, ...) only to that provider's own hosts (or, for
 * presets without fixed hosts such as vllm, to the server the user
 * named); OPENAI_API_KEY only to api.openai.com or to OPENAI_BASE_URL.
 * A base URL that merely contains a provider's host gets nothing.
 */
static int pick_key(struct llm_config *c, const struct llm_preset *p, const struct llm_preset *host_preset,
		    const char *host, const struct config *file, struct q_error *err)
{
	const char *key = NULL, *openai_base = env_first(file, "OPENAI_BASE_URL", NULL);
	const char *named = config_get(file, "api_key_env");
	int provider_key_ok = p && p->key_env && (p->host == NULL || host_preset == p);
	int openai_ok = strcmp(host, "api.openai.com") == 0 ||
			(openai_base && same_base_url(openai_base, c->base_url));
	const char *cands[4];
	size_t i;

	cands[0] = "QUARRY_LLM_API_KEY";
	cands[1] = provider_key_ok ? p->key_env : NULL;
	cands[2] = named;
	cands[3] = openai_ok ? "OPENAI_API_KEY" : NULL;
	for (i = 0; i < 4 && !key; i++) {
		if (cands[i] && (key = env_first(file, cands[i], NULL)) != NULL)
			snprintf(c->key_env, sizeof(c->key_env), "%s", cands[i]);
	}
	if (!key && p && !p->local && p->key_env) {
		if (!provider_key_ok && env_first(file, p->key_env, NULL))
			return q_error_set(err, Q_EINVAL,
					   "%s is only sent to %s's own servers, not to "
					   "%s: set QUARRY_LLM_API_KEY to the key for %s",
					   p->key_env, p->title, host, c->base_url);
		return q_error_set(err, Q_EINVAL, "no API key for %s: set %s (or QUARRY_LLM_API_KEY)",
				   p->title, p->key_env);
	}
	if (!key)
		return 0;
	if (strlen(key) > 4096 || strpbrk(key, "\r\n"))
		return q_error_set(err, Q_EINVAL,
				   "the API key in %s is malformed (too long or "
				   "contains a line break)",
				   c->key_env);
	c->api_key = q_strdup(key);
	if (!c->api_key)
		return q_error_set(err, Q_ENOMEM, "out of memory");
	return 0;
}

/*
 * A key over plain http to another machine can be read by anyone on the
 * way: refused unless the user allows it (--allow-insecure-http,
 * QUARRY_LLM_ALLOW_INSECURE_HTTP=1 or allow_insecure_http = true).
 * Keyless servers, and any server on this machine, are fine over http.
 */
static int check_clear_text(const struct llm_config *c, const struct llm_overrides *o,
			    const struct config *file, const char *host, struct q_error *err)
{
	const char *v = config_setting(file, "QUARRY_LLM_ALLOW_INSECURE_HTTP", "allow_insecure_http");
	int allowed = o->allow_insecure_http ||
		      (v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0));

	if (!c->api_key || strncmp(c->base_url, "http://", 7) != 0 || host_is_loopback(host) || allowed)
		return 0;
	return q_error_set(err, Q_EINVAL,
			   "refusing to send the API key (%s) in clear text to %s over "
			   "http://: use https://, or if the network to it is trusted enable "
			   "the allow_insecure_http setting",
			   c->key_env, host);
}

int llm_config_resolve(struct llm_config *c, const struct llm_overrides *o, const struct config *file,
		       struct q_error *err)
{
	static const struct llm_overrides none;
	const struct llm_preset *p = NULL, *host_preset;
	const char *name, *base, *model, *fast, *v;
	char host[URL_MAX_HOST];
	unsigned port = 0;
	int flag_provider, user_model;
	size_t i, np;
	int rc;

	if (!o)
		o = &none;
	memset(c, 0, sizeof(*c));
	c->file = file;
	c->stream = 1;
	c->timeout_ms = LLM_DEFAULT_TIMEOUT_MS;
	c->idle_ms = LLM_DEFAULT_IDLE_MS;
	c->connect_ms = LLM_DEFAULT_CONNECT_MS;
	c->max_retries = LLM_DEFAULT_RETRIES;
	{ /* tests shorten it; resolved here so the client reads no environment */
		const char *b = config_setting(file, "QUARRY_LLM_BACKOFF_MS", NULL);
		c->backoff_ms = b ? strtol(b, NULL, 10) : 0;
	}

	flag_provider = o->provider && *o->provider;
	name = flag_provider ? o->provider : config_setting(file, "QUARRY_LLM_PROVIDER", "provider");
	if (name && strcasecmp(name, "custom") != 0) {
		p = llm_preset_find(name);
		if (!p)
			return q_error_set(err, Q_EINVAL,
					   "unknown provider '%s': use deepseek, moonshot, qwen, openai, "
					   "openrouter, ollama, llamacpp or vllm, or set QUARRY_LLM_BASE_URL "
					   "(see quarry help models)",
					   name);
	}
	/* A provider flag brings its own address and models unless they are flags too. */
	if (o->base_url && *o->base_url)
		base = o->base_url;
	else if (flag_provider && p)
		base = p->base_url;
	else if ((base = config_setting(file, "QUARRY_LLM_BASE_URL", "base_url")) == NULL)
		base = p ? p->base_url : env_first(file, "OPENAI_BASE_URL", NULL);
	if (!base)
		return q_error_set(err, Q_EINVAL,
				   "no model configured: set QUARRY_LLM_BASE_URL or use the provider setting "
				   "(see quarry help models)");
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
		return q_error_set(err, Q_EINVAL,
				   "the model server's address must start with http:// or https://, "
				   "e.g. https://api.deepseek.com/v1 (got '%.200s')",
				   base);
	if ((rc = copy_to(c->base_url, sizeof(c->base_url), base, "the base URL", err)))
		return rc;
	strip_slashes(c->base_url);
	if ((rc = base_host(c->base_url, host, sizeof(host), &port, err)))
		return rc;
	host_preset = NULL; /* the preset whose host this is, matched exactly */
	for (i = 0, llm_presets(&np); i < np && !host_preset; i++)
		if (preset_host_matches(&presets[i], host, port))
			host_preset = &presets[i];
	if (!p) /* a known host in a custom URL brings its preset's defaults */
		p = host_preset;
	snprintf(c->provider, sizeof(c->provider), "%s", p ? p->name : "custom");

	user_model = 1;
	if (o->model && *o->model)
		model = o->model;
	else if (flag_provider && p)
		model = p->smart_model, user_model = 0;
	else if ((model = config_setting(file, "QUARRY_LLM_MODEL", "model")) == NULL)
		model = p ? p->smart_model : NULL, user_model = 0;
	if (!model)
		return q_error_set(err, Q_EINVAL,
				   "no model name for %s: set QUARRY_LLM_MODEL or use the model setting "
				   "(the server's model list: curl %s/models)",
				   p ? p->title : c->base_url, c->base_url);
	/* The fast model: named, else the preset's unless the user chose the main model. */
	if (o->fast_model && *o->fast_model)
		fast = o->fast_model;
	else if (flag_provider && p && !user_model)
		fast = p->fast_model;
	else if ((fast = config_setting(file, "QUARRY_FAST_MODEL", "fast_model")) == NULL)
		fast = (p && !user_model) ? p->fast_model : model;
	if (!fast)
		fast = model;
	if ((rc = copy_to(c->model, sizeof(c->model), model, "the model name", err)) ||
	    (rc = copy_to(c->fast_model, sizeof(c->fast_model), fast, "the fast model name", err)))
		return rc;
	if ((rc = pick_key(c, p, host_preset, host, file, err)))
		return rc;
	if ((rc = check_clear_text(c, o, file, host, err)))
		goto fail;

	c->context = p ? p->context : 32768;
	c->max_concurrent = p ? p->max_concurrent : 4;
	c->rpm = p ? p->rpm : 0;
	c->tpm = p ? p->tpm : 0;
	c->json_mode = p ? p->json_mode : LLM_JSON_OBJECT;
	c->local = p ? p->local : 0;
	if ((rc = numbers(c, file, err)))
		goto fail;
	if ((v = config_get(file, "json_mode")) != NULL) {
		if (strcmp(v, "schema") == 0)
			c->json_mode = LLM_JSON_SCHEMA;
		else if (strcmp(v, "object") == 0)
			c->json_mode = LLM_JSON_OBJECT;
		else if (strcmp(v, "none") == 0)
			c->json_mode = LLM_JSON_NONE;
		else {
			rc = q_error_set(err, Q_EINVAL, "json_mode must be schema, object or none, not '%s'",
					 v);
			goto fail;
		}
	}
	if ((v = config_setting(file, "QUARRY_LLM_STREAM", "stream")) != NULL)
		c->stream = strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 && strcasecmp(v, "no") != 0;
	if ((v = config_setting(file, "QUARRY_LLM_PRICE", "price")) != NULL) {
		if (llm_parse_price(v, &c->price)) {
			rc = q_error_set(err, Q_EINVAL,
					 "QUARRY_LLM_PRICE must be 'IN,OUT[,CACHED]' in USD per million "
					 "tokens, e.g. 0.28,0.42 (got '%.100s')",
					 v);
			goto fail;
		}
		c->price_known = 1;
		c->local = 0;
	}
	if (!c->price_known) {
		int known;
		c->price = llm_price_of(c, c->model, &known);
		c->price_known = known;
	}
	{
		int known; /* not &c->fast_price_known: llm_price_of reads it */
		c->fast_price = llm_price_of(c, c->fast_model, &known);
		c->fast_price_known = known;
	}
	return 0;
fail:
	llm_config_release(c);
	return rc;
}

void llm_config_release(struct llm_config *c)
{
	if (c->api_key) {
		explicit_bzero(c->api_key, strlen(c->api_key));
		q_free(c->api_key);
		c->api_key = NULL;
	}
}
