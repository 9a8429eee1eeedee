/*
 * cmd_models.c - `quarry models`: the provider presets and the active
 * model configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_llm.h"

enum { O_JSON };

static const struct cli_opt models_opts[] = {{"json", 0, 0, O_JSON}, CLI_MODEL_OPTS, {NULL, 0, 0, 0}};

static const char *json_mode_name(enum llm_json_mode m)
{
	return m == LLM_JSON_SCHEMA ? "json_schema" : m == LLM_JSON_OBJECT ? "json_object" : "none";
}

static void print_price(const char *label, const char *model, struct llm_price p, int known, int local)
{
	if (local)
		printf("  %-14s %s: free (local)\n", label, model);
	else if (known)
		printf("  %-14s %s: $%.3g in, $%.3g cached in, $%.3g out per 1M tokens\n", label, model, p.in,
		       p.cached_in, p.out);
	else
		printf("  %-14s %s: unknown (set price.%s = IN,OUT in the config)\n", label, model, model);
}

int cmd_models(int argc, char **argv)
{
	struct cli_parser p;
	struct cli_model m;
	struct q_error err = {0};
	char *ops[4];
	int n = 0, id, taken, json = 0, have;
	size_t i, np;
	const struct llm_preset *ps = llm_presets(&np);

	cli_model_init(&m);
	cli_parser_init(&p, "models", argc, argv);
	while ((id = cli_next_opt(&p, models_opts, ops, &n, 4)) != -1) {
		if ((taken = cli_model_opt(&m, "models", id, p.value)) < 0)
			return EXIT_USAGE;
		if (taken)
			continue;
		if (id == -2)
			return EXIT_USAGE;
		if (id == O_JSON)
			json = 1;
	}
	if (n > 0)
		return cli_usage_error("models", "unexpected argument '%s'", ops[0]);
	if (cli_model_load_file(&m, "models"))
		return 1;
	have = llm_config_resolve(&m.cfg, &m.ov, &m.file, &err) == 0;
	m.have_cfg = have;

	if (json) {
		json_t *o = json_object(), *a = json_array(), *act;
		char *s;
		for (i = 0; i < np; i++) {
			const char *kv = ps[i].key_env ? getenv(ps[i].key_env) : NULL;
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s?, s:b, s:s?, s:s?, s:I, s:s}",
							   "name", ps[i].name, "title", ps[i].title,
							   "base_url", ps[i].base_url, "key_env",
							   ps[i].key_env, "key_set", kv && *kv, "model",
							   ps[i].smart_model, "fast_model", ps[i].fast_model,
							   "context", (json_int_t)ps[i].context, "json_mode",
							   json_mode_name(ps[i].json_mode)));
		}
		json_object_set_new(o, "presets", a);
		if (have) {
			act = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:i, s:i, s:I, s:s, s:b}",
					"provider", m.cfg.provider, "base_url", m.cfg.base_url, "model",
					m.cfg.model, "fast_model", m.cfg.fast_model, "key_env", m.cfg.key_env,
					"key_set", m.cfg.api_key != NULL, "context",
					(json_int_t)m.cfg.context, "max_concurrent", m.cfg.max_concurrent,
					"rpm", m.cfg.rpm, "tpm", (json_int_t)m.cfg.tpm, "json_mode",
					json_mode_name(m.cfg.json_mode), "stream", m.cfg.stream);
			if (m.cfg.price_known)
				json_object_set_new(act, "price",
						    json_pack("{s:f, s:f, s:f}", "in", m.cfg.price.in,
							      "cached_in", m.cfg.price.cached_in, "out",
							      m.cfg.price.out));
			json_object_set_new(o, "active", act);
		} else {
			json_object_set_new(o, "active", json_null());
			json_object_set_new(o, "problem", json_string(err.msg));
		}
		json_object_set_new(o, "config_file", json_string(m.file.path));
		s = json_dumps(o, JSON_COMPACT);
		puts(s);
		free(s);
		json_decref(o);
		cli_model_close(&m);
		return 0;
	}

	printf("Providers (choose with --provider NAME or QUARRY_LLM_PROVIDER):\n\n");
	printf("  %-11s %-22s %-22s %-10s %s\n", "NAME", "MODEL", "FAST MODEL", "CONTEXT", "KEY");
	for (i = 0; i < np; i++) {
		const char *kv = ps[i].key_env ? getenv(ps[i].key_env) : NULL;
		char key[64];
		if (!ps[i].key_env)
			snprintf(key, sizeof(key), "none needed");
		else
			snprintf(key, sizeof(key), "%s (%s)", ps[i].key_env, kv && *kv ? "set" : "not set");
		printf("  %-11s %-22s %-22s %-10ld %s\n", ps[i].name,
		       ps[i].smart_model ? ps[i].smart_model : "(name one)",
		       ps[i].fast_model ? ps[i].fast_model : "(name one)", ps[i].context, key);
	}
	printf("\nAny other OpenAI-compatible server: QUARRY_LLM_BASE_URL=http://host:port/v1\n"
	       "with QUARRY_LLM_MODEL (and QUARRY_LLM_API_KEY if it needs one).\n\n");
	if (!have) {
		printf("Active configuration: none (%s)\n", err.msg);
	} else {
		printf("Active configuration:\n");
		printf("  %-14s %s\n", "provider", m.cfg.provider);
		printf("  %-14s %s\n", "base URL", m.cfg.base_url);
		printf("  %-14s %s\n", "model", m.cfg.model);
		printf("  %-14s %s\n", "fast model", m.cfg.fast_model);
		printf("  %-14s %s\n", "API key", m.cfg.api_key ? m.cfg.key_env : "none");
		printf("  %-14s %ld tokens\n", "context", m.cfg.context);
		printf("  %-14s %d at once, %d requests/min, %ld tokens/min (0 = no limit)\n", "limits",
		       m.cfg.max_concurrent, m.cfg.rpm, m.cfg.tpm);
		printf("  %-14s %s, %s\n", "replies", json_mode_name(m.cfg.json_mode),
		       m.cfg.stream ? "streamed" : "not streamed");
		print_price("price", m.cfg.model, m.cfg.price, m.cfg.price_known, m.cfg.local);
		if (strcmp(m.cfg.fast_model, m.cfg.model) != 0)
			print_price("fast price", m.cfg.fast_model, m.cfg.fast_price, m.cfg.fast_price_known,
				    m.cfg.local);
	}
	printf("  %-14s %s\n", "config file", m.file.path[0] ? m.file.path : "none");
	cli_model_close(&m);
	return 0;
}
