/*
 * cmd_doctor.c - `quarry doctor`: check the setup and say what to fix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

#include "cli.h"
#include "../core/config.h"
#include "../index/corpus.h"
#include "../search/search.h"
#include "cli_llm.h"

enum { O_HOME, O_NO_MODEL };

static const struct cli_opt doctor_opts[] = {
	{"home", 0, 1, O_HOME}, {"no-model-call", 0, 0, O_NO_MODEL}, CLI_MODEL_OPTS, {NULL, 0, 0, 0}};

static int problems;

/* What the checks found, for the closing sentence on what research will do. */
struct setup {
	int model; /* 1 configured (and answering, if called), 0 none, -1 broken */
	char model_name[260];
	long docs;           /* corpus documents, -1 if the database failed */
	int web_ok;          /* web search providers that answered */
	char web_names[200]; /* their names, comma-separated */
};

static void line(const char *what, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void line(const char *what, int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%-8s %-12s ", ok > 0 ? "ok" : ok == 0 ? "PROBLEM" : "note", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (ok == 0)
		problems++;
}

static int on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	while (path && *path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (access(buf, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

static void check_model(struct cli_model *m, int call, struct setup *su)
{
	struct llm_message msg = {"user", "Reply with the single word: ok", NULL};
	struct llm_request req;
	struct llm_response resp;
	struct q_error err = {0};
	char u[256];

	su->model = -1;
	if (cli_model_load_file(m, "doctor")) {
		problems++;
		return;
	}
	{
		size_t i, unknown = 0;
		for (i = 0; i < m->file.n; i++)
			unknown += !config_key_known(m->file.entries[i].key);
		if (unknown)
			line("config", -1, "%s: %zu unknown key%s (see the warnings above)", m->file.path,
			     unknown, unknown == 1 ? "" : "s");
		else
			line("config", 1, "%s", m->file.path[0] ? m->file.path : "no config file (optional)");
	}
	if (llm_config_resolve(&m->cfg, &m->ov, &m->file, &err)) {
		if (strstr(err.msg, "no model configured")) { /* quarry works without one */
			line("model", -1, "%s; until then research writes extractive briefs", err.msg);
			su->model = 0;
		} else
			line("model", 0, "%s", err.msg);
		return;
	}
	m->have_cfg = 1;
	snprintf(su->model_name, sizeof(su->model_name), "%s", m->cfg.model);
	line("model", 1, "%s via %s at %s (key: %s)", m->cfg.model, m->cfg.provider, m->cfg.base_url,
	     m->cfg.api_key ? m->cfg.key_env : "none");
	if (!call) {
		su->model = 1;
		return;
	}
	m->cfg.max_retries = 1;
	if (m->cfg.timeout_ms > 60000)
		m->cfg.timeout_ms = 60000;
	if (llm_client_new(&m->cfg, &m->client, &err)) {
		line("model", 0, "%s", err.msg);
		return;
	}
	m->have_client = 1;
	memset(&req, 0, sizeof(req));
	req.messages = &msg;
	req.n_messages = 1;
	req.temperature = -1;
	req.no_cache = 1;
	if (llm_chat(m->client, &req, &resp, &err)) {
		line("reply", 0, "%s", err.msg);
		return;
	}
	cli_format_usage(u, sizeof(u), resp.usage.prompt, resp.usage.cached, resp.usage.completion,
			 resp.usage.reasoning, resp.usage.estimated, resp.usage.cost_usd,
			 resp.usage.cost_known);
	line("reply", 1, "%s answered in %.1f s (%s)%s", resp.model, resp.ms / 1000.0, u,
	     resp.reasoning[0] ? ", with reasoning kept apart" : "");
	if (!resp.content[0])
		line("reply", 0, "the answer was empty: is %s a chat model?", m->cfg.model);
	else
		su->model = 1;
	llm_response_release(&resp);
}

static void check_store(const char *home, struct setup *su)
{
	struct q_error err = {0};
	struct store s;
	char dir[4096];
	struct corpus_totals t;
	long docs = 0, passages = 0;

	if (cli_store_home(home, dir, sizeof(dir), &err) || store_open(&s, dir, &err)) {
		line("database", 0, "%s", err.msg);
		su->docs = -1;
		return;
	}
	if (!corpus_totals(&s, &t, &err)) {
		docs = (long)t.documents;
		passages = (long)t.passages;
	}
	line("database", 1, "%s", s.path);
	su->docs = docs;
	if (docs)
		line("corpus", 1, "%ld documents, %ld passages", docs, passages);
	else
		line("corpus", -1, "empty (optional): add your files with 'quarry index add DIR'");
	store_close(&s);
}

static void check_search(const struct config *file, struct setup *su)
{
	struct search_provider p[SEARCH_MAX_PROVIDERS];
	struct search_outcome out[SEARCH_MAX_PROVIDERS];
	const char *q[1] = {"global positioning system"};
	char missing[300];
	struct q_error err = {0};
	size_t n = 0, i;

	if (search_providers("web", NULL, file, p, &n, missing, sizeof(missing), &err) || n == 0) {
		line("search", -1, "%s", missing[0] ? missing : err.msg);
		return;
	}
	search_many(p, n, q, 1, 3, NULL, NULL, out);
	for (i = 0; i < n; i++) {
		if (out[i].rc)
			line("search", 0, "%s (at %s)", out[i].msg, p[i].url);
		else {
			size_t k = strlen(su->web_names);
			line("search", 1, "%s answered in %.1f s with %zu results", p[i].name,
			     out[i].ms / 1000.0, out[i].n);
			snprintf(su->web_names + k, sizeof(su->web_names) - k, "%s%s", k ? ", " : "",
				 p[i].name);
			su->web_ok++;
		}
		search_outcome_release(&out[i]);
	}
	search_providers_release(p, n);
}

/* Say plainly what `quarry research` will do with what works now. */
static void print_verdict(const struct setup *su)
{
	char corpus[64], web[260];

	if (su->docs > 0)
		snprintf(corpus, sizeof(corpus), "your corpus (%ld document%s)", su->docs,
			 su->docs == 1 ? "" : "s");
	else
		snprintf(corpus, sizeof(corpus), "your corpus (empty)");
	snprintf(web, sizeof(web), "the web (%s)", su->web_names);
	if (su->model < 0) {
		printf("research: the model is not working, so research would fail; fix it (above) or "
		       "use --no-llm for extractive briefs\n");
	} else if (su->web_ok == 0 && su->docs <= 0) {
		printf("research: %s: research has nothing to read; set up web search "
		       "(QUARRY_SEARXNG_URL, QUARRY_BRAVE_API_KEY, ...) or add files with 'quarry index "
		       "add DIR'%s\n",
		       su->model > 0 ? "a model but no web search and an empty corpus"
				     : "no model, no web search and an empty corpus",
		       su->model > 0 ? " ('quarry ask --no-search' works now)" : "");
		problems++; /* research cannot run: doctor must not say all is well */
	} else if (su->model > 0) {
		printf("research: %s will plan, read %s%s%s and write reports citing checked quotes%s\n",
		       su->model_name, su->web_ok ? web : "", su->web_ok && su->docs > 0 ? " and " : "",
		       su->docs > 0 ? corpus : "", su->web_ok ? "" : " (no web search: the corpus only)");
	} else {
		printf("research: %s%s: research will write extractive briefs (cited passages, no "
		       "model) of %s%s%s\n",
		       "no model", su->web_ok ? "" : " and no web search", su->web_ok ? web : "",
		       su->web_ok && su->docs > 0 ? " and " : "",
		       su->docs > 0 ? corpus : (su->web_ok ? "" : "your corpus only"));
	}
}

int cmd_doctor(int argc, char **argv)
{
	struct cli_parser p;
	struct cli_model m;
	char *ops[4];
	int n = 0, id, taken, call = 1;
	const char *home = NULL;
	struct setup su;

	memset(&su, 0, sizeof(su));
	cli_model_init(&m);
	cli_parser_init(&p, "doctor", argc, argv);
	while ((id = cli_next_opt(&p, doctor_opts, ops, &n, 4)) != -1) {
		if ((taken = cli_model_opt(&m, "doctor", id, p.value)) < 0)
			return EXIT_USAGE;
		if (taken)
			continue;
		if (id == -2)
			return EXIT_USAGE;
		if (id == O_HOME)
			home = p.value;
		else if (id == O_NO_MODEL)
			call = 0;
	}
	if (n > 0)
		return cli_usage_error("doctor", "unexpected argument '%s'", ops[0]);
	problems = 0;
	printf("quarry %s\n", QUARRY_VERSION);
	check_model(&m, call, &su);
	check_store(home, &su);
	line("pdftotext", on_path("pdftotext"), "%s",
	     on_path("pdftotext")
		     ? "found (PDFs can be read)"
		     : "missing: PDFs cannot be read; install poppler-utils (sh scripts/install-deps.sh)");
	check_search(m.have_file ? &m.file : NULL, &su);
	cli_model_close(&m);
	print_verdict(&su);
	if (problems)
		printf("Fix the problems above, then run 'quarry doctor' again.\n");
	return problems ? 1 : 0;
}
