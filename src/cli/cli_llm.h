/*
 * cli_llm.h - the model configuration as commands see it: flags, config
 * file, client and reply cache in one place.
 */
#ifndef Q_CLI_LLM_H
#define Q_CLI_LLM_H

#include "../core/config.h"
#include "../index/store.h"
#include "../llm/llm.h"

/* Option ids the model flags use; commands put them in their tables
 * with CLI_MODEL_OPTS. */
enum {
	CLI_O_PROVIDER = 1000,
	CLI_O_MODEL,
	CLI_O_FAST_MODEL,
	CLI_O_BASE_URL,
	CLI_O_CONFIG,
	CLI_O_ALLOW_INSECURE_HTTP
};
#define CLI_MODEL_OPTS \
	{"provider", 0, 1, CLI_O_PROVIDER}, {"model", 'm', 1, CLI_O_MODEL}, \
		{"fast-model", 0, 1, CLI_O_FAST_MODEL}, {"base-url", 0, 1, CLI_O_BASE_URL}, \
		{"config", 0, 1, CLI_O_CONFIG}, \
	{ \
		"allow-insecure-http", 0, 0, CLI_O_ALLOW_INSECURE_HTTP \
	}

#define CLI_MODEL_HELP \
	"  --provider NAME        deepseek, moonshot, qwen, openai, openrouter, ollama,\n" \
	"                         llamacpp or vllm (see 'quarry models')\n" \
	"  -m, --model NAME       the model (default: the provider's, or\n" \
	"                         QUARRY_LLM_MODEL)\n" \
	"  --fast-model NAME      the cheaper model for bulk steps\n" \
	"  --base-url URL         an OpenAI-compatible server (QUARRY_LLM_BASE_URL)\n" \
	"  --config FILE          config file (default ~/.config/quarry/config)\n" \
	"  --allow-insecure-http  send the API key over http:// to another machine\n" \
	"                         (refused by default: anyone on the way can read it)\n"

/* `quarry ask` gives up after this long in all, retries included, unless
 * --time-limit says otherwise: a model server that keeps the connection
 * busy without answering cannot hold it for longer. */
#define CLI_ASK_DEFAULT_TIME_LIMIT_MS (10L * 60 * 1000)

struct cli_model {
	struct llm_overrides ov;
	const char *config_path;
	struct config file;
	struct llm_config cfg;
	struct llm_client *client; /* owned (have_client) */
	struct store store;
	int have_file, have_cfg, have_client, have_store;
	struct runstore *runs;    /* the shared run store (cli_open_shared_runs) or NULL */
	struct runstore *replies; /* the reply cache on store, or NULL */
};

void cli_model_init(struct cli_model *m);
/* Take a model option for command cmd: 1 if id was one, 0 if not, -1 if
 * its value is wrong (an unknown --provider; the usage error is printed,
 * exit EXIT_USAGE). */
int cli_model_opt(struct cli_model *m, const char *cmd, int id, const char *value);
/* Load the config file only (exit status 0, or 1 with the error printed). */
int cli_model_load_file(struct cli_model *m, const char *cmd);
/* Resolve the configuration and start a client; with cache, open the
 * database under home for the reply cache. 0, or 1 with the error
 * printed as "quarry CMD: ...". Core dumps are switched off once a key
 * is in memory. */
int cli_model_open(struct cli_model *m, const char *cmd, const char *home, int cache);
void cli_model_close(struct cli_model *m);

/* "100 prompt (40 cached) + 20 completion (5 reasoning) tokens, $0.0012" */
void cli_format_usage(char *out, size_t size, long prompt, long cached, long completion, long reasoning,
		      int estimated, double cost, int cost_known);

#endif
