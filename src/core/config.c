/*
 * config.c - the `key = value` config file (see config.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "qbuf.h"

static int key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '.' || c == '-';
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Keep in step with the readers: src/llm/provider.c and src/search/search.c. */
const char *const config_known_keys[] = {"provider",
					 "base_url",
					 "model",
					 "fast_model",
					 "api_key_env",
					 "json_mode",
					 "stream",
					 "price",
					 "context",
					 "max_concurrent",
					 "rpm",
					 "tpm",
					 "retries",
					 "timeout",
					 "idle_timeout",
					 "searxng_url",
					 "brave_api_key_env",
					 "brave_url",
					 "tavily_api_key_env",
					 "tavily_url",
					 "serper_api_key_env",
					 "serper_url",
					 "allow_insecure_http",
					 "database_url",
					 NULL};

int config_key_known(const char *key)
{
	size_t i;

	if (!strncmp(key, "price.", 6) && key[6])
		return 1;
	for (i = 0; config_known_keys[i]; i++)
		if (!strcmp(key, config_known_keys[i]))
			return 1;
	return 0;
}

static int add_entry(struct config *c, const char *k, size_t kn, const char *v, size_t vn, int line)
{
	struct config_entry *e = q_reallocarray(c->entries, c->n + 1, sizeof(*e));

	if (!e)
		return Q_ENOMEM;
	c->entries = e;
	e[c->n].key = q_strndup(k, kn);
	e[c->n].value = q_strndup(v, vn);
	if (!e[c->n].key || !e[c->n].value) {
		q_free(e[c->n].key);
		q_free(e[c->n].value);
		return Q_ENOMEM;
	}
	e[c->n].line = line;
	c->n++;
	return 0;
}

int config_parse(struct config *c, const char *text, size_t n, const char *name, struct q_error *err)
{
	size_t pos = 0;
	int line = 0;

	memset(c, 0, sizeof(*c));
	if (n > CONFIG_MAX_BYTES)
		return q_error_set(err, Q_ETOOBIG, "%s is larger than %d KB; is it the right file?", name,
				   CONFIG_MAX_BYTES / 1024);
	while (pos < n) {
		size_t end = pos, k0, k1, v0, v1;
		while (end < n && text[end] != '\n')
			end++;
		line++;
		k0 = pos;
		while (k0 < end && is_blank(text[k0]))
			k0++;
		pos = end + 1;
		if (k0 == end || text[k0] == '#' || text[k0] == ';')
			continue;
		k1 = k0;
		while (k1 < end && key_char(text[k1]))
			k1++;
		v0 = k1;
		while (v0 < end && is_blank(text[v0]))
			v0++;
		if (k1 == k0 || v0 >= end || text[v0] != '=') {
			config_release(c);
			return q_error_set(err, Q_EPARSE, "%s line %d: expected 'key = value'", name, line);
		}
		v0++;
		while (v0 < end && is_blank(text[v0]))
			v0++;
		v1 = end;
		while (v1 > v0 && is_blank(text[v1 - 1]))
			v1--;
		if (v1 - v0 >= 2 && text[v0] == '"' && text[v1 - 1] == '"') {
			v0++;
			v1--;
		}
		if (memchr(text + v0, '\0', v1 - v0) || memchr(text + k0, '\0', k1 - k0)) {
			config_release(c);
			return q_error_set(err, Q_EPARSE, "%s line %d: NUL byte in the file", name, line);
		}
		if (c->n >= CONFIG_MAX_ENTRIES) {
			config_release(c);
			return q_error_set(err, Q_ETOOBIG, "%s has more than %d settings", name,
					   CONFIG_MAX_ENTRIES);
		}
		if (add_entry(c, text + k0, k1 - k0, text + v0, v1 - v0, line)) {
			config_release(c);
			return q_error_set(err, Q_ENOMEM, "out of memory reading %s", name);
		}
	}
	return 0;
}

static void free_entries(struct config_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		q_free(e[i].key);
		q_free(e[i].value);
	}
	q_free(e);
}

const char *config_envp_get(char *const *envp, const char *name)
{
	size_t i, k = strlen(name);

	for (i = 0; envp && envp[i] && i < CONFIG_MAX_ENV; i++)
		if (!strncmp(envp[i], name, k) && envp[i][k] == '=')
			return envp[i][k + 1] ? envp[i] + k + 1 : NULL;
	return NULL;
}

int config_set_env(struct config *c, char *const *envp)
{
	struct config_entry *e = NULL;
	size_t i, n = 0, cap = 0;
	int rc = 0;

	for (i = 0; envp && envp[i] && cap < CONFIG_MAX_ENV; i++)
		cap++;
	if (cap && !(e = q_reallocarray(NULL, cap, sizeof(*e))))
		return Q_ENOMEM;
	for (i = 0; i < cap; i++) {
		const char *eq = strchr(envp[i], '=');
		if (!eq || eq == envp[i] || strlen(envp[i]) > CONFIG_MAX_ENV_BYTES)
			continue;
		e[n].key = q_strndup(envp[i], (size_t)(eq - envp[i]));
		e[n].value = q_strdup(eq + 1);
		e[n].line = 0;
		if (!e[n].key || !e[n].value) {
			q_free(e[n].key);
			q_free(e[n].value);
			rc = Q_ENOMEM;
			goto out;
		}
		n++;
	}
out:
	if (rc) {
		free_entries(e, n);
		return rc;
	}
	free_entries(c->env, c->n_env);
	c->env = e;
	c->n_env = n;
	return 0;
}

const char *config_env(const struct config *c, const char *name)
{
	size_t i;

	if (!c || !name)
		return NULL;
	for (i = 0; i < c->n_env; i++) /* the first, as getenv */
		if (!strcmp(c->env[i].key, name))
			return c->env[i].value;
	return NULL;
}

int config_load(struct config *c, const char *path_flag, char *const *envp, struct q_error *err)
{
	char path[4096];
	const char *env = config_envp_get(envp, "QUARRY_CONFIG"),
		   *xdg = config_envp_get(envp, "XDG_CONFIG_HOME");
	const char *home = config_envp_get(envp, "HOME");
	struct qbuf b;
	FILE *f;
	int rc, explicit_path = 0;

	memset(c, 0, sizeof(*c));
	if (path_flag && *path_flag) {
		snprintf(path, sizeof(path), "%s", path_flag);
		explicit_path = 1;
	} else if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
		explicit_path = 1;
	} else if (xdg && *xdg) {
		snprintf(path, sizeof(path), "%s/quarry/config", xdg);
	} else if (home && *home) {
		snprintf(path, sizeof(path), "%s/.config/quarry/config", home);
	} else {
		goto env;
	}
	f = fopen(path, "rbe");
	if (!f) {
		if (errno == ENOENT && !explicit_path)
			goto env;
		return q_error_set(err, Q_EIO, "cannot read the config file %s: %s", path, strerror(errno));
	}
	qbuf_init(&b, CONFIG_MAX_BYTES + 1);
	rc = qbuf_read_stream(&b, f);
	fclose(f);
	if (rc && rc != Q_ETOOBIG) {
		qbuf_release(&b);
		return q_error_set(err, Q_EIO, "cannot read the config file %s", path);
	}
	rc = config_parse(c, qbuf_cstr(&b), b.err ? CONFIG_MAX_BYTES + 1 : b.len, path, err);
	qbuf_release(&b);
	if (rc)
		return rc;
	snprintf(c->path, sizeof(c->path), "%s", path);
env:
	if (config_set_env(c, envp)) {
		config_release(c);
		return q_error_set(err, Q_ENOMEM, "out of memory copying the environment");
	}
	return 0;
}

void config_release(struct config *c)
{
	free_entries(c->entries, c->n);
	c->entries = NULL;
	c->n = 0;
	free_entries(c->env, c->n_env);
	c->env = NULL;
	c->n_env = 0;
}

const char *config_setting(const struct config *c, const char *env, const char *key)
{
	const char *v = config_env(c, env);

	if (v && *v)
		return v;
	v = key ? config_get(c, key) : NULL;
	return v && *v ? v : NULL;
}

const char *config_get(const struct config *c, const char *key)
{
	size_t i;

	if (!c)
		return NULL;
	for (i = c->n; i > 0; i--)
		if (strcmp(c->entries[i - 1].key, key) == 0)
			return c->entries[i - 1].value;
	return NULL;
}
