/*
 * cli_llm.c - model setup shared by ask, research, models and doctor.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../research/runstore.h"
#include "term.h"
#include "cli.h"
#include "cli_llm.h"

extern char **environ; /* the environment, read by the front end only */

void cli_model_init(struct cli_model *m) { memset(m, 0, sizeof(*m)); }

/* Exit EXIT_USAGE for a --provider that is no preset, with the list and
 * the nearest name. */
static int check_provider(const char *cmd, const char *value)
{
	const char *names[64];
	char list[512];
	size_t n, i, k = 0;
	const struct llm_preset *p = llm_presets(&n);
	const char *near;

	if (!*value || !strcasecmp(value, "custom") || llm_preset_find(value))
		return 0;
	list[0] = '\0';
	for (i = 0; i < n && i < 63; i++) {
		names[i] = p[i].name;
		k += (size_t)snprintf(list + k, k < sizeof(list) ? sizeof(list) - k : 0, "%s%s",
				      i ? ", " : "", p[i].name);
		if (k >= sizeof(list))
			k = sizeof(list) - 1;
	}
	names[i] = NULL;
	near = cli_nearest(value, names);
	cli_usage_error(cmd, "unknown provider '%s'%s%s%s: use one of %s, or custom with --base-url", value,
			near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", list);
	return -1;
}

int cli_model_opt(struct cli_model *m, const char *cmd, int id, const char *value)
{
	switch (id) {
	case CLI_O_PROVIDER:
		if (check_provider(cmd, value))
			return -1;
		m->ov.provider = value;
		return 1;
	case CLI_O_MODEL:
		m->ov.model = value;
		return 1;
	case CLI_O_FAST_MODEL:
		m->ov.fast_model = value;
		return 1;
	case CLI_O_BASE_URL:
		m->ov.base_url = value;
		return 1;
	case CLI_O_CONFIG:
		m->config_path = value;
		return 1;
	case CLI_O_ALLOW_INSECURE_HTTP:
		m->ov.allow_insecure_http = 1;
		return 1;
	}
	return 0;
}

int cli_model_load_file(struct cli_model *m, const char *cmd)
{
	struct q_error err = {0};

	if (m->have_file)
		return 0;
	if (config_load(&m->file, m->config_path, environ, &err)) {
		cli_error("quarry %s: %s\n", cmd, err.msg);
		return 1;
	}
	m->have_file = 1;
	cli_warn_unknown_keys(&m->file);
	return 0;
}

int cli_model_open(struct cli_model *m, const char *cmd, const char *home, int cache)
{
	struct q_error err = {0};
	char dir[4096];

	if (cli_model_load_file(m, cmd))
		return 1;
	if (llm_config_resolve(&m->cfg, &m->ov, &m->file, &err)) {
		cli_error("quarry %s: %s\n", cmd, err.msg);
		return 1;
	}
	m->have_cfg = 1;
	if (m->cfg.api_key) {
		/* The key is in memory from here on: no core files of us. */
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if (llm_client_new(&m->cfg, &m->client, &err)) {
		cli_error("quarry %s: %s\n", cmd, err.msg);
		return 1;
	}
	m->have_client = 1;
	if (cache) {
		if (cli_store_home(home, dir, sizeof(dir), &err) || store_open(&m->store, dir, &err)) {
			cli_error("quarry %s: warning: no reply cache: %s\n", cmd, err.msg);
			return 0;
		}
		m->have_store = 1;
		if (runstore_wrap_sqlite(&m->replies, &m->store, &err)) {
			cli_error("quarry %s: warning: no reply cache: %s\n", cmd, err.msg);
			return 0;
		}
		llm_client_set_cache(m->client, m->replies);
	}
	return 0;
}

void cli_model_close(struct cli_model *m)
{
	if (m->have_client)
		llm_client_free(m->client);
	runstore_close(m->runs);
	runstore_close(m->replies);
	if (m->have_store)
		store_close(&m->store);
	if (m->have_cfg)
		llm_config_release(&m->cfg);
	if (m->have_file)
		config_release(&m->file);
	memset(m, 0, sizeof(*m));
}

void cli_format_usage(char *out, size_t size, long prompt, long cached, long completion, long reasoning,
		      int estimated, double cost, int cost_known)
{
	char c1[48] = "", c2[48] = "", money[48];

	if (cached > 0)
		snprintf(c1, sizeof(c1), " (%ld cached)", cached);
	if (reasoning > 0)
		snprintf(c2, sizeof(c2), " (%ld reasoning)", reasoning);
	if (cost_known)
		snprintf(money, sizeof(money), "$%.4f", cost);
	else
		snprintf(money, sizeof(money), "cost unknown (set price.MODEL in the config)");
	snprintf(out, size, "%s%ld prompt%s + %ld completion%s tokens, %s", estimated ? "~" : "", prompt, c1,
		 completion, c2, money);
}
