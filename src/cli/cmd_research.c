/*
 * cmd_research.c - `quarry research`, `quarry ask` (with search) and
 * `quarry runs`: the research engine on the command line.
 */
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/qbuf.h"
#include "../net/http.h"
#include "../core/config.h"
#include "../research/research.h"
#include "../research/runstore.h"
#include "cli.h"
#include "cli_llm.h"
#include "outfile.h"
#include "term.h"

enum {
	O_DEPTH,
	O_BREADTH,
	O_MAX_SOURCES,
	O_BUDGET_TOKENS,
	O_BUDGET_USD,
	O_TIME_LIMIT,
	O_SOURCES,
	O_LANG,
	O_FORMAT,
	O_OUTPUT,
	O_EVENTS,
	O_NO_LLM,
	O_HOME,
	O_VERBOSE,
	O_ALLOW_PRIVATE,
	O_IGNORE_ROBOTS,
	O_NO_CACHE,
	O_NO_SEARCH,
	O_HIDE_REASONING,
	O_SHOW_REASONING,
	O_SYSTEM,
	O_MAX_TOKENS,
	O_TEMPERATURE,
	O_JSON,
	O_DETACH,
	O_LENGTH,
	O_PLAN_ONLY,
	O_PLAN,
	O_RUN
};

static const struct cli_opt research_opts_tab[] = {{"depth", 0, 1, O_DEPTH},
						   {"breadth", 0, 1, O_BREADTH},
						   {"max-sources", 0, 1, O_MAX_SOURCES},
						   {"budget-tokens", 0, 1, O_BUDGET_TOKENS},
						   {"budget-usd", 0, 1, O_BUDGET_USD},
						   {"time-limit", 0, 1, O_TIME_LIMIT},
						   {"sources", 0, 1, O_SOURCES},
						   {"lang", 0, 1, O_LANG},
						   {"format", 'f', 1, O_FORMAT},
						   {"output", 'o', 1, O_OUTPUT},
						   {"events", 0, 1, O_EVENTS},
						   {"no-llm", 0, 0, O_NO_LLM},
						   {"home", 0, 1, O_HOME},
						   {"verbose", 'v', 0, O_VERBOSE},
						   {"allow-private", 0, 0, O_ALLOW_PRIVATE},
						   {"ignore-robots", 0, 0, O_IGNORE_ROBOTS},
						   {"no-cache", 0, 0, O_NO_CACHE},
						   {"length", 0, 1, O_LENGTH},
						   {"plan-only", 0, 0, O_PLAN_ONLY},
						   {"plan", 0, 1, O_PLAN},
						   {"run", 0, 1, O_RUN},
						   /* ask's own, so `ask --no-search` can be handed over */
						   {"no-search", 0, 0, O_NO_SEARCH},
						   {"hide-reasoning", 0, 0, O_HIDE_REASONING},
						   {"show-reasoning", 0, 0, O_SHOW_REASONING},
						   {"system", 0, 1, O_SYSTEM},
						   {"max-tokens", 0, 1, O_MAX_TOKENS},
						   {"temperature", 0, 1, O_TEMPERATURE},
						   {"json", 0, 0, O_JSON},
						   {"detach", 0, 0, O_DETACH},
						   CLI_MODEL_OPTS,
						   {NULL, 0, 0, 0}};

/* The run a Ctrl-C stops (research_cancel only sets a flag: safe here). */
static struct research_env *volatile active_env;
static volatile int cancel_flag;

static volatile sig_atomic_t stop_signal; /* SIGINT or SIGTERM: exit 128+N */

static void on_signal(int sig)
{
	struct research_env *env = active_env;

	stop_signal = sig;
	cancel_flag = 1;
	if (env)
		research_cancel(env);
}

/* Distinct warnings remembered for saying each once; later ones all print. */
#define PROGRESS_MAX_SAID 64
#define PROGRESS_LINE_MAX_BYTES 4096 /* one progress line before it is cut to the terminal */
#define CLI_REPORT_MAX_BYTES ((size_t)256 * 1024 * 1024) /* the rendered report: HTML wraps 64 MB of body */

struct progress {
	int tty, verbose;
	long run_id; /* from the events, for the cancel watcher */
	long queries, searches, read, failed;
	char phase[24];
	struct llm_account *llm; /* the run's figures, NULL without a model */
	/* or, watching a run of another process, its figures from the events */
	int ev_usage; /* an event carried them */
	long ev_tokens;
	double ev_cost_usd; /* -1: not known */
	long budget_tokens;
	double budget_usd;
	int drawn;
	pthread_mutex_t mu; /* the ticker thread draws too */
	double t0;
	volatile int stop;
	uint64_t said[PROGRESS_MAX_SAID]; /* hashes of the warnings printed */
	int n_said;
};

/* Whether this warning was printed already in this run (and remember it):
 * a provider failing the same way for every query is said once. */
static int said_before(struct progress *p, const char *type, const char *msg)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	const char *s;
	int i;

	for (s = type; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	for (s = msg; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	for (i = 0; i < p->n_said; i++)
		if (p->said[i] == h)
			return 1;
	if (p->n_said < PROGRESS_MAX_SAID)
		p->said[p->n_said++] = h;
	return 0;
}

static void draw(struct progress *p, double t);

/* Redraw twice a second, so the clock moves while a model call runs. */
static void *ticker(void *arg)
{
	struct progress *p = arg;
	struct timespec ts = {0, 500 * 1000 * 1000};

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&p->mu);
		if (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
			draw(p, (q_now_ms() - p->t0) / 1000.0);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

static void draw(struct progress *p, double t)
{
	char money[64] = "", toks[64] = "", line[256];

	if (p->llm) {
		struct llm_totals tt = llm_account_totals(p->llm);
		if (p->budget_tokens)
			snprintf(toks, sizeof(toks), " | %ld/%ld tokens", tt.prompt + tt.completion,
				 p->budget_tokens);
		else
			snprintf(toks, sizeof(toks), " | %ld tokens", tt.prompt + tt.completion);
		if (p->budget_usd > 0)
			snprintf(money, sizeof(money), " $%.4f/$%.4g", tt.cost_usd, p->budget_usd);
		else if (!tt.cost_unknown)
			snprintf(money, sizeof(money), " $%.4f", tt.cost_usd);
	} else if (p->ev_usage) {
		snprintf(toks, sizeof(toks), " | %ld tokens", p->ev_tokens);
		if (p->ev_cost_usd >= 0)
			snprintf(money, sizeof(money), " $%.4f", p->ev_cost_usd);
	}
	snprintf(line, sizeof(line), "%-9s %ld queries | %ld read, %ld failed%s%s | %.1fs", p->phase,
		 p->queries, p->read, p->failed, toks, money, t);
	cli_status_line(line);
	p->drawn = 1;
}

/* One event as a line a person reads (-v): "  2.1s source_read url=... title=...".
 * Strings are cut and cleaned of controls; arrays show their length; the
 * exact JSON goes to --events. */
static void print_event_line(const json_t *ev, const char *type, double t)
{
	struct qbuf b;
	const char *key;
	json_t *v;
	char clean[240];

	qbuf_init(&b, PROGRESS_LINE_MAX_BYTES);
	qbuf_addf(&b, "%6.1fs %s", t, type);
	json_object_foreach ((json_t *)ev, key, v) {
		if (!strcmp(key, "type") || !strcmp(key, "t"))
			continue;
		if (json_is_string(v))
			qbuf_addf(&b, " %s=%s", key, cli_clean(clean, sizeof(clean), json_string_value(v)));
		else if (json_is_integer(v))
			qbuf_addf(&b, " %s=%lld", key, (long long)json_integer_value(v));
		else if (json_is_real(v))
			qbuf_addf(&b, " %s=%.4g", key, json_real_value(v));
		else if (json_is_boolean(v))
			qbuf_addf(&b, " %s=%s", key, json_is_true(v) ? "yes" : "no");
		else if (json_is_array(v))
			qbuf_addf(&b, " %s=[%zu]", key, json_array_size(v));
	}
	cli_error("%s\n", b.err ? type : qbuf_cstr(&b));
	qbuf_release(&b);
}

static void on_event(void *ctx, const json_t *ev)
{
	struct progress *p = ctx;
	const char *type = json_string_value(json_object_get(ev, "type"));
	double t = json_number_value(json_object_get(ev, "t"));

	if (!type)
		return;
	pthread_mutex_lock(&p->mu);
	if (json_integer_value(json_object_get(ev, "run")) > 0)
		p->run_id = (long)json_integer_value(json_object_get(ev, "run"));
	if (!strcmp(type, "plan") || !strcmp(type, "reflect"))
		snprintf(p->phase, sizeof(p->phase), "%s", !strcmp(type, "plan") ? "planning" : "reflecting");
	else if (!strcmp(type, "queries") || !strcmp(type, "reflect"))
		p->queries += (long)json_array_size(json_object_get(ev, "queries"));
	else if (!strcmp(type, "search"))
		snprintf(p->phase, sizeof(p->phase), "searching");
	else if (!strcmp(type, "fetching"))
		snprintf(p->phase, sizeof(p->phase), "reading");
	else if (!strcmp(type, "source_read"))
		p->read++;
	else if (!strcmp(type, "source_failed"))
		p->failed++;
	else if (!strcmp(type, "noting"))
		snprintf(p->phase, sizeof(p->phase), "noting");
	else if (!strcmp(type, "writing"))
		snprintf(p->phase, sizeof(p->phase), "writing");
	if (!strcmp(type, "reflect"))
		p->queries += (long)json_array_size(json_object_get(ev, "queries"));
	if (json_is_integer(json_object_get(ev, "tokens"))) {
		p->ev_usage = 1;
		p->ev_tokens = (long)json_integer_value(json_object_get(ev, "tokens"));
		p->ev_cost_usd = json_is_number(json_object_get(ev, "cost_usd"))
					 ? json_number_value(json_object_get(ev, "cost_usd"))
					 : -1;
	}
	if (p->verbose) {
		if (p->drawn)
			cli_status_clear();
		print_event_line(ev, type, t);
		p->drawn = 0;
	} else if (!strcmp(type, "warning") || !strcmp(type, "search_failed") || !strcmp(type, "budget_spent")) {
		const char *m = json_string_value(json_object_get(ev, "message"));
		if (!m)
			m = json_string_value(json_object_get(ev, "reason"));
		const char *step = json_string_value(json_object_get(ev, "step"));
		char clean[600];
		if (!said_before(p, type, m ? m : type)) {
			if (p->drawn)
				cli_status_clear();
			cli_error("quarry: %s%s%s%s%s\n",
				  !strcmp(type, "search_failed") ? "search failed: " : "",
				  !strcmp(type, "budget_spent") ? "stopping: " : "", step ? step : "",
				  step ? ": " : "", cli_clean(clean, sizeof(clean), m ? m : type));
			p->drawn = 0;
		}
	}
	if (p->tty && !p->verbose)
		draw(p, t);
	pthread_mutex_unlock(&p->mu);
}

/* Render the report and print it, or write it where -o says (outfile.c).
 * format NULL: the output file's extension decides, else Markdown. */
static int emit_report(const char *cmd, const json_t *report, const char *format, const char *output)
{
	struct qbuf b;
	struct q_error err = {0};
	char msg[4400];
	int rc = 1;

	if (!format)
		format = cli_format_from_path(output);
	qbuf_init(&b, CLI_REPORT_MAX_BYTES);
	if (research_render(report, format ? format : "md", &b, &err)) {
		cli_error("quarry %s: %s\n", cmd, err.msg);
		goto out;
	}
	if (output && strcmp(output, "-")) {
		if (cli_write_output(output, qbuf_cstr(&b), b.len, msg, sizeof(msg))) {
			cli_error("quarry %s: %s\n", cmd, msg);
			goto out;
		}
	} else {
		cli_clean_write(NULL, stdout, qbuf_cstr(&b), b.len);
		if (fflush(stdout) || ferror(stdout)) {
			cli_error("quarry %s: cannot write to standard output: %s\n", cmd, strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	qbuf_release(&b);
	return rc;
}

struct common {
	struct research_opts o;
	struct cli_model m;
	const char *format, *output, *events, *home;
	const char *plan_file; /* runs resume --plan FILE */
	int verbose, no_cache, detach;
};

/* The --sources names; a wrong one is a usage error, with a suggestion. */
static const char *const source_names[] = {"web", "corpus", "searxng", "brave", "tavily", "serper", NULL};

static int check_sources(const char *cmd, const char *v)
{
	const char *p = v;
	char name[CLI_MAX_WORD + 1];

	if (!*v)
		return cli_usage_error(cmd, "--sources needs a value: web, corpus, searxng, brave, "
					    "tavily or serper, separated by commas");
	while (*p) {
		size_t k = strcspn(p, ","), i;
		snprintf(name, sizeof(name), "%.*s", (int)(k < CLI_MAX_WORD ? k : CLI_MAX_WORD), p);
		for (i = 0; source_names[i] && strcmp(source_names[i], name); i++)
			;
		if (!source_names[i]) {
			const char *near = cli_nearest(name, source_names);
			return cli_usage_error(cmd,
					       "unknown source '%s'%s%s%s: use web, corpus, searxng, "
					       "brave, tavily or serper, separated by commas",
					       name, near ? " (did you mean '" : "", near ? near : "",
					       near ? "'?)" : "");
		}
		p += k + (p[k] == ',');
	}
	return 0;
}

/* ISO 639-1 codes: --lang takes any tag (it is passed to the search engines
 * and named to the model), but an unknown two-letter one is most likely a
 * typo, so it is warned about. */
static const char lang_codes[] =
	"aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
	"cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
	"ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
	"ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
	"nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
	"sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
	"vi vo wa wo xh yi yo za zh zu";

/* --lang: a language tag such as en, zh or pt-BR (exit 2 if not shaped
 * like one); a warning for a two-letter code that is no ISO 639-1 code. */
static int check_lang(const char *cmd, const char *v)
{
	size_t k = 0, i;
	const char *p = v;
	char two[3];

	while ((p[k] >= 'a' && p[k] <= 'z') || (p[k] >= 'A' && p[k] <= 'Z'))
		k++;
	if (k < 2 || k > 3)
		goto bad;
	for (p += k; *p;) { /* -subtags: 1 to 8 letters or digits */
		if (*p++ != '-')
			goto bad;
		for (i = 0; (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
			    (p[i] >= '0' && p[i] <= '9');
		     i++)
			;
		if (i < 1 || i > 8)
			goto bad;
		p += i;
	}
	if (k == 2) {
		two[0] = (char)(v[0] | 0x20);
		two[1] = (char)(v[1] | 0x20);
		two[2] = '\0';
		if (!strstr(lang_codes, two) || (strstr(lang_codes, two) - lang_codes) % 3)
			cli_error("quarry %s: warning: '%.2s' is not an ISO 639-1 language code (en, zh, "
				  "ja, de, fr...); using it as given\n",
				  cmd, v);
	}
	return 0;
bad:
	return cli_usage_error(cmd, "--lang takes a language code such as en, zh or pt-BR, not '%s'", v);
}

static int parse_common(struct cli_parser *p, int id, struct common *c, const char *cmd)
{
	long long v;
	char *end;
	int taken = cli_model_opt(&c->m, cmd, id, p->value);

	if (taken)
		return taken < 0 ? EXIT_USAGE : 0;
	switch (id) {
	case O_DEPTH:
		if ((c->o.depth = (int)cli_parse_int(p->value, 1, RESEARCH_MAX_DEPTH)) < 1)
			return cli_usage_error(cmd, "--depth takes 1 to %d", RESEARCH_MAX_DEPTH);
		return 0;
	case O_BREADTH:
		if ((c->o.breadth = (int)cli_parse_int(p->value, 1, RESEARCH_MAX_BREADTH)) < 1)
			return cli_usage_error(cmd, "--breadth takes 1 to %d", RESEARCH_MAX_BREADTH);
		return 0;
	case O_MAX_SOURCES:
		if ((c->o.max_sources = (int)cli_parse_int(p->value, 1, RESEARCH_MAX_SOURCES)) < 1)
			return cli_usage_error(cmd, "--max-sources takes 1 to %d", RESEARCH_MAX_SOURCES);
		return 0;
	case O_BUDGET_TOKENS:
		if ((c->o.budget_tokens = cli_parse_int(p->value, 1, 1000000000L)) < 1)
			return cli_usage_error(cmd, "--budget-tokens takes a positive number");
		return 0;
	case O_BUDGET_USD:
		c->o.budget_usd = strtod(p->value, &end);
		if (*end || end == p->value || c->o.budget_usd <= 0)
			return cli_usage_error(cmd, "--budget-usd takes an amount such as 0.50");
		return 0;
	case O_TIME_LIMIT:
		if ((v = cli_parse_duration_ms(p->value)) <= 0)
			return cli_usage_error(cmd, "--time-limit takes a duration such as 90s or 5m");
		c->o.time_limit_ms = (long)v;
		return 0;
	case O_SOURCES:
		if (check_sources(cmd, p->value))
			return EXIT_USAGE;
		c->o.sources = p->value;
		return 0;
	case O_LANG:
		if (check_lang(cmd, p->value))
			return EXIT_USAGE;
		c->o.lang = p->value;
		return 0;
	case O_FORMAT:
		if (strcmp(p->value, "md") && strcmp(p->value, "markdown") && strcmp(p->value, "html") &&
		    strcmp(p->value, "json"))
			return cli_usage_error(cmd, "--format takes md, html or json, not '%s'", p->value);
		c->format = p->value;
		return 0;
	case O_OUTPUT:
		if (!*p->value)
			return cli_usage_error(cmd, "-o needs a file name (or - for standard output)");
		c->output = p->value;
		return 0;
	case O_LENGTH:
		if (strcmp(p->value, "short") && strcmp(p->value, "standard") && strcmp(p->value, "long"))
			return cli_usage_error(cmd,
					       "--length takes short, standard or long (about 600, "
					       "1,500 or 4,000 words), not '%s'",
					       p->value);
		c->o.length = p->value;
		return 0;
	case O_PLAN_ONLY:
		if (strcmp(cmd, "research") != 0)
			return cli_usage_error(cmd, "--plan-only is for 'quarry research'");
		c->o.plan_only = 1;
		return 0;
	case O_PLAN:
		if (strcmp(cmd, "runs") != 0)
			return cli_usage_error(cmd, "--plan FILE is for 'quarry runs resume ID'");
		c->plan_file = p->value;
		return 0;
	case O_RUN:
		if (strcmp(cmd, "ask") != 0)
			return cli_usage_error(cmd, "--run ID is for 'quarry ask': a follow-up question on "
						    "that run's sources");
		if ((c->o.follow_run = (long)cli_parse_int(p->value, 1, 1000000000L)) < 1)
			return cli_usage_error(cmd, "--run takes a run id ('quarry runs ls' lists them)");
		return 0;
	case O_EVENTS:
		c->events = p->value;
		return 0;
	case O_NO_LLM:
		c->o.no_llm = 1;
		return 0;
	case O_HOME:
		c->home = p->value;
		return 0;
	case O_VERBOSE:
		c->verbose = 1;
		return 0;
	case O_ALLOW_PRIVATE:
		c->o.allow_private = 1;
		return 0;
	case O_IGNORE_ROBOTS:
		c->o.ignore_robots = 1;
		return 0;
	case O_NO_CACHE:
		c->no_cache = 1;
		c->o.fresh = 1;
		return 0;
	case O_DETACH:
		c->detach = 1;
		return 0;
	}
	return cli_usage_error(cmd, "option '%s' is not for this command", p->argv[p->index - 1]);
}

/* A web search named in --sources by itself (not through "web") but not
 * set up: say which and how, instead of the general "no web search
 * configured" (1 with the message printed). */
static int check_named_sources(const char *cmd, const char *sources, const struct config *file)
{
	static const struct {
		const char *name, *env, *cfg;
	} need[] = {
		{"searxng", "QUARRY_SEARXNG_URL", "searxng_url"},
		{"brave", "QUARRY_BRAVE_API_KEY", "brave_api_key_env"},
		{"tavily", "QUARRY_TAVILY_API_KEY", "tavily_api_key_env"},
		{"serper", "QUARRY_SERPER_API_KEY", "serper_api_key_env"},
	};
	size_t i, n;
	const char *p;

	for (i = 0; sources && i < sizeof(need) / sizeof(need[0]); i++) {
		int named = 0, set;
		n = strlen(need[i].name);
		for (p = sources; *p; p += strcspn(p, ","), p += *p == ',')
			named |= strcspn(p, ",") == n && !strncmp(p, need[i].name, n);
		if (!named)
			continue;
		if (i == 0) {
			set = config_setting(file, need[i].env, need[i].cfg) != NULL;
		} else {
			const char *k = getenv(need[i].env), *alt = config_get(file, need[i].cfg);
			set = (k && *k) || (alt && (k = getenv(alt)) && *k);
		}
		if (!set) {
			cli_error("quarry %s: %s is not configured: set %s (see 'quarry help models')\n", cmd,
				  need[i].name, need[i].env);
			return 1;
		}
	}
	return 0;
}

/* The model a detached run is to use, resolved here (flags, environment,
 * config file) as a foreground run would, without the key: the worker
 * finds the key the same way in its own environment. NULL without one. */
static json_t *detach_model(struct common *c, int have_model)
{
	struct llm_config cfg;
	json_t *l;

	if (!have_model || llm_config_resolve(&cfg, &c->m.ov, &c->m.file, NULL))
		return NULL;
	l = json_pack("{s:s?, s:s, s:s, s:s?, s:b, s:b}", "provider",
		      strcmp(cfg.provider, "custom") ? cfg.provider : NULL, "base_url", cfg.base_url, "model",
		      cfg.model, "fast_model", cfg.fast_model[0] ? cfg.fast_model : NULL,
		      "allow_insecure_http", c->m.ov.allow_insecure_http, "no_cache", c->no_cache);
	llm_config_release(&cfg);
	return l;
}

/* `research --detach`: queue the run with its options and model choice
 * (never a key), print its id, and see that a worker carries it. */
static int detach_run(const char *cmd, struct common *c, int have_model)
{
	struct runstore *rs = NULL;
	struct q_error err = {0};
	json_t *opts = research_opts_to_json(&c->o), *l = detach_model(c, have_model);
	char dir[4096];
	long id = 0;
	int rc = 1, started = 0;

	if (!opts || (l && json_object_set_new(opts, "llm", l)) ||
	    (!l && json_object_set_new(opts, "no_llm", json_true()))) {
		cli_error("quarry %s: out of memory\n", cmd);
		goto out;
	}
	if (cli_store_home(c->home, dir, sizeof(dir), &err) || runstore_open(&rs, dir, &err) ||
	    runstore_create(rs, c->o.question, opts, RUN_QUEUED, NULL, &id, &err)) {
		cli_error("quarry %s: %s\n", cmd, err.msg);
		goto out;
	}
	printf("%ld\n", id);
	fflush(stdout);
	if (cli_worker_ensure(dir, c->m.config_path, &started, &err))
		cli_error("quarry %s: run %ld is queued, but %s; start one with 'quarry worker'\n", cmd, id,
			  err.msg);
	else
		cli_error("quarry %s: run %ld queued%s; follow it with 'quarry runs watch %ld'\n", cmd, id,
			  started ? " (a worker was started: its log is worker.log in the home)" : "", id);
	rc = 0;
out:
	runstore_close(rs);
	json_decref(opts);
	cli_model_close(&c->m);
	return rc;
}

/* While a foreground run goes on: a `runs cancel` from another process
 * (through the database) cancels it. Its own connection, read twice a
 * second. */
struct cancel_watch {
	struct progress *p;
	struct research_env *env;
	const char *home;
	volatile int stop;
	pthread_t th;
};

static void *cancel_watcher(void *arg)
{
	struct cancel_watch *w = arg;
	struct timespec ts = {0, 250 * 1000 * 1000};
	struct runstore *rs = NULL;
	int tick = 0;

	if (runstore_open(&rs, w->home, NULL))
		return NULL;
	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		long id;
		struct run_record rec;
		nanosleep(&ts, NULL);
		if (++tick % 2)
			continue;
		pthread_mutex_lock(&w->p->mu);
		id = w->p->run_id;
		pthread_mutex_unlock(&w->p->mu);
		if (id > 0 && runstore_get(rs, id, 0, &rec, NULL) == 0) {
			int cancel = rec.cancel_requested;
			run_record_release(&rec);
			if (cancel) {
				research_cancel_final(w->env);
				break;
			}
		}
	}
	runstore_close(rs);
	return NULL;
}

/* Run (or resume) and print. */
static int run_research(const char *cmd, struct common *c, long resume_id)
{
	struct research_env env;
	struct research_result res;
	struct progress prog;
	struct llm_account acct; /* the run's model figures, shown live */
	struct q_error err = {0};
	struct sigaction sa;
	struct cancel_watch watch;
	char dir[4096];
	const char *v;
	int rc, have_model = 0, ticking = 0, watching = 0;
	FILE *events = NULL;
	pthread_t tick;

	if ((v = getenv("QUARRY_ALLOW_PRIVATE")) && strcmp(v, "1") == 0)
		c->o.allow_private = 1;
	if (cli_model_load_file(&c->m, cmd))
		return 1;
	if (check_named_sources(cmd, c->o.sources, &c->m.file))
		return 1;
	if (c->output) { /* say it now, not after a paid run */
		char msg[4400];
		if (cli_output_check(c->output, msg, sizeof(msg))) {
			cli_error("quarry %s: %s\n", cmd, msg);
			return 1;
		}
	}
	if (!c->o.no_llm) {
		struct llm_config probe;
		struct q_error perr = {0};
		if (llm_config_resolve(&probe, &c->m.ov, &c->m.file, &perr)) {
			if (strstr(perr.msg, "no model configured")) {
				cli_error("quarry %s: %s; writing an extractive brief instead\n", cmd,
					  perr.msg);
			} else {
				cli_error("quarry %s: %s\n", cmd, perr.msg);
				return 1;
			}
		} else {
			llm_config_release(&probe);
			have_model = 1;
		}
	}
	if (c->detach)
		return detach_run(cmd, c, have_model);
	if (have_model && cli_model_open(&c->m, cmd, c->home, !c->no_cache))
		return 1;
	/* Runs live in the database, model or not (cli_model_open opened it
	 * for the reply cache unless --no-cache). */
	if (cli_store_home(c->home, dir, sizeof(dir), &err) ||
	    (!c->m.have_store && store_open(&c->m.store, dir, &err))) {
		cli_error("quarry %s: %s\n", cmd, err.msg);
		cli_model_close(&c->m);
		return 1;
	}
	c->m.have_store = 1;
	if (cli_open_shared_runs(cmd, &c->m.file, &c->m.runs)) {
		cli_model_close(&c->m);
		return 1;
	}
	if (c->events && !(events = fopen(c->events, "ae"))) {
		cli_error("quarry %s: cannot write events to %s: %s\n", cmd, c->events, strerror(errno));
		cli_model_close(&c->m);
		return 1;
	}
	memset(&prog, 0, sizeof(prog));
	prog.tty = isatty(2);
	prog.verbose = c->verbose;
	if (llm_account_init(&acct, &err)) {
		fprintf(stderr, "quarry %s: %s\n", cmd, err.msg);
		if (events)
			fclose(events);
		cli_model_close(&c->m);
		return 1;
	}
	prog.llm = have_model ? &acct : NULL;
	prog.budget_tokens = c->o.budget_tokens;
	prog.budget_usd = c->o.budget_usd;
	snprintf(prog.phase, sizeof(prog.phase), "starting");
	memset(&env, 0, sizeof(env));
	env.store = &c->m.store;
	env.runs = c->m.runs; /* NULL: the run goes in env.store */
	env.home = dir;
	env.file = &c->m.file;
	env.llm = have_model ? c->m.client : NULL;
	env.events = events;
	env.on_event = on_event;
	env.ctx = &prog;
	env.account = have_model ? &acct : NULL;

	active_env = &env;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pthread_mutex_init(&prog.mu, NULL);
	prog.t0 = q_now_ms();
	if (prog.tty && !prog.verbose && pthread_create(&tick, NULL, ticker, &prog) == 0)
		ticking = 1;
	memset(&watch, 0, sizeof(watch));
	watch.p = &prog;
	watch.env = &env;
	watch.home = dir;
	if (pthread_create(&watch.th, NULL, cancel_watcher, &watch) == 0)
		watching = 1;
	rc = research_run(&c->o, &env, resume_id, &res, &err);
	active_env = NULL;
	__atomic_store_n(&prog.stop, 1, __ATOMIC_RELEASE); /* the ticker reads it unlocked */
	__atomic_store_n(&watch.stop, 1, __ATOMIC_RELAXED);
	if (ticking)
		pthread_join(tick, NULL);
	if (watching)
		pthread_join(watch.th, NULL);
	pthread_mutex_destroy(&prog.mu);
	llm_account_release(&acct); /* the ticker is gone; res.llm keeps the figures */
	if (prog.drawn)
		cli_status_clear();
	if (events)
		fclose(events);
	if (rc) {
		if (cancel_flag || run_status_parse(res.status) == RUN_INTERRUPTED) {
			cli_error("quarry %s: interrupted; what was done is saved: resume with "
				  "'quarry runs resume %ld'\n",
				  cmd, res.run_id);
			cli_model_close(&c->m);
			return 128 + (stop_signal ? stop_signal : SIGINT); /* 130 or 143 */
		}
		if (run_status_parse(res.status) == RUN_CANCELLED) {
			cli_error("quarry %s: run %ld was cancelled: %s\n", cmd, res.run_id, err.msg);
			cli_model_close(&c->m);
			return 128 + SIGINT;
		}
		cli_error("quarry %s: %s%s\n", cmd, err.msg,
			  rc == Q_EPOLICY ? "; pass --allow-private or set QUARRY_ALLOW_PRIVATE=1 to read them"
					  : "");
		cli_model_close(&c->m);
		return 1;
	}
	rc = emit_report(cmd, res.report, c->format, c->output);
	if (rc && c->output && strcmp(c->output, "-"))
		cli_error("quarry %s: the run itself is done (run %ld) and its report is stored: get it "
			  "with 'quarry runs export %ld -o FILE'\n",
			  cmd, res.run_id, res.run_id);
	{
		const char *stop = json_string_value(json_object_get(res.report, "stopped"));
		json_t *fig = json_object_get(res.report, "figures");
		if (stop && *stop)
			cli_error("quarry %s: stopped early (%s); the report uses what was gathered\n", cmd,
				  stop);
		if (c->verbose || prog.tty) {
			char u[256] = "no model";
			if (have_model) {
				struct llm_totals t = res.llm;
				cli_format_usage(u, sizeof(u), t.prompt, t.cached, t.completion, t.reasoning,
						 t.estimated_calls > 0, t.cost_usd, !t.cost_unknown);
			}
			cli_error("quarry %s: run %ld %s in %.1f s: %lld sources read, %lld failed; "
				  "%s\n",
				  cmd, res.run_id, res.status,
				  json_number_value(json_object_get(fig, "seconds")),
				  (long long)json_integer_value(json_object_get(fig, "sources_read")),
				  (long long)json_integer_value(json_object_get(fig, "sources_failed")), u);
		}
		if (c->output && strcmp(c->output, "-") && rc == 0)
			cli_error("quarry %s: report written to %s (run %ld)\n", cmd, c->output, res.run_id);
	}
	if (rc == 0 && run_status_parse(res.status) == RUN_CANCELLED)
		rc = 128 + SIGINT; /* stopped by a user, as Ctrl-C: 130 */
	research_result_release(&res);
	cli_model_close(&c->m);
	return rc;
}

static int open_runs(struct common *c, struct store *s, struct runstore **rs);

/* `ask --run ID`: the run must exist and have a report with sources, said
 * before a new run is stored (a follow-up of nothing would be a failed
 * run in the list). 0 when it can be followed up. */
static int follow_check(const char *cmd, struct common *c, long run)
{
	struct store s;
	struct runstore *rs = NULL;
	struct run_record rec;
	struct q_error err = {0};
	int rc = 1;

	if (open_runs(c, &s, &rs))
		return 1;
	if (runstore_get(rs, run, 1, &rec, &err)) {
		if (err.code == Q_ENOTFOUND)
			cli_error("quarry %s: run %ld has no report to follow up: there is no run %ld "
				  "('quarry runs ls' lists them)\n",
				  cmd, run, run);
		else
			cli_error("quarry %s: %s\n", cmd, err.msg);
		goto out;
	}
	if (json_is_array(json_object_get(rec.report, "sources")))
		rc = 0;
	else if (rec.report || !run_status_final(rec.status))
		cli_error("quarry %s: run %ld has no report to follow up (it is %s%s); finish it first "
			  "with 'quarry runs resume %ld'\n",
			  cmd, run, rec.report ? "a plan only, " : "", run_status_name(rec.status), run);
	else
		cli_error("quarry %s: run %ld has no report to follow up (it is %s)\n", cmd, run,
			  run_status_name(rec.status));
	run_record_release(&rec);
out:
	runstore_close(rs);
	if (s.db)
		store_close(&s);
	return rc;
}

/* research and ask (with search) share everything but a few options. */
static int research_command(const char *cmd, int quick, int argc, char **argv)
{
	struct cli_parser p;
	struct common c;
	char *words[256], abs_out[8200];
	int n = 0, id, rc;
	struct qbuf q;

	memset(&c, 0, sizeof(c));
	cli_model_init(&c.m);
	cli_parser_init(&p, cmd, argc, argv);
	while ((id = cli_next_opt(&p, research_opts_tab, words, &n, 256)) != -1) {
		if (id == -2)
			return EXIT_USAGE;
		if (!quick && id >= O_NO_SEARCH && id <= O_JSON)
			return cli_usage_error(cmd, "'%s' is an option of 'quarry ask'", p.argv[p.index - 1]);
		if (quick && id == O_DEPTH)
			return cli_usage_error(cmd, "ask makes one round; use 'quarry research --depth'");
		if (quick && id >= O_HIDE_REASONING && id <= O_JSON)
			return cli_usage_error(cmd, "'%s' works with --no-search only", p.argv[p.index - 1]);
		if (quick && id == O_DETACH)
			return cli_usage_error(cmd, "--detach is for 'quarry research'");
		if (parse_common(&p, id, &c, cmd))
			return EXIT_USAGE;
	}
	if (cli_join_words(cmd, "question", words, n, 64 * 1024, &q))
		return EXIT_USAGE;
	if (c.detach && (c.output || c.events || c.verbose)) {
		qbuf_release(&q);
		return cli_usage_error(cmd, "--detach keeps the report with the run: get it with 'quarry "
					    "runs watch ID' or 'quarry runs export ID' (-o, -f); -v and "
					    "--events are for watching too");
	}
	if (c.detach && c.o.plan_only) { /* a worker would run the whole research */
		qbuf_release(&q);
		return cli_usage_error(cmd, "--plan-only does not go with --detach (a plan is one "
					    "model call): run 'quarry research --plan-only' without "
					    "--detach, then 'quarry runs resume ID' goes on from the plan");
	}
	c.o.question = qbuf_cstr(&q);
	c.o.quick = quick;
	if (quick && c.o.time_limit_ms <= 0) /* ask always ends */
		c.o.time_limit_ms = CLI_ASK_DEFAULT_TIME_LIMIT_MS;
	c.o.format = c.format;
	c.o.output = c.output;
	if (c.output && c.output[0] != '/' && strcmp(c.output, "-") != 0) {
		/* kept with the run for `runs resume`, which may start elsewhere */
		char cwd[4096];
		size_t kc, ko = strlen(c.output);
		if (getcwd(cwd, sizeof(cwd)) && (kc = strlen(cwd)) + ko + 2 < sizeof(abs_out)) {
			memcpy(abs_out, cwd, kc);
			abs_out[kc] = '/';
			memcpy(abs_out + kc + 1, c.output, ko + 1);
			c.o.output = abs_out;
		}
	}
	if (c.o.follow_run > 0 && follow_check(cmd, &c, c.o.follow_run)) {
		qbuf_release(&q);
		return 1;
	}
	rc = run_research(cmd, &c, 0);
	qbuf_release(&q);
	return rc;
}

int cmd_research(int argc, char **argv) { return research_command("research", 0, argc, argv); }

/* `quarry ask` with search: one round, a short cited answer. */
int cmd_ask_search(int argc, char **argv) { return research_command("ask", 1, argc, argv); }

/* ---- quarry runs ---- */

static int open_db(const char *home, struct store *s)
{
	struct q_error err = {0};
	char dir[4096];

	if (cli_store_home(home, dir, sizeof(dir), &err) || store_open(s, dir, &err)) {
		cli_error("quarry runs: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static long parse_id(const char *s) { return cli_parse_int(s, 1, 1000000000L); }

/* Unix seconds as "YYYY-MM-DD HH:MM:SS" (UTC). */
static void utc_time(long long t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, size, "?");
}

static int runs_ls(struct runstore *rs, int as_json)
{
	struct runstore_filter f = {-1, NULL, 0, 200};
	struct run_record *v = NULL;
	struct q_error err = {0};
	size_t n = 0, i;

	if (runstore_list(rs, &f, &v, &n, &err)) {
		cli_error("quarry runs: %s\n", err.msg);
		return 1;
	}
	for (i = 0; i < n; i++) {
		char started[32], updated[32];
		const char *status = run_status_name(v[i].status);
		utc_time(v[i].created, started, sizeof(started));
		utc_time(v[i].updated, updated, sizeof(updated));
		if (as_json) { /* one object per line, like `index ls --json` */
			json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)v[i].id,
					      "status", status, "started", started, "updated", updated,
					      "worker", v[i].status == RUN_RUNNING ? v[i].worker : "",
					      "question", v[i].question);
			char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
			if (text)
				printf("%s\n", text);
			free(text);
			json_decref(o);
			continue;
		}
		if (i == 0)
			printf("%-6s %-12s %-20s %-22s %s\n", "ID", "STATUS", "STARTED (UTC)", "WORKER",
			       "QUESTION");
		printf("%-6ld %-12s %-20s %-22.60s %.100s\n", v[i].id, status, started,
		       v[i].status == RUN_RUNNING && v[i].worker[0] ? v[i].worker : "-", v[i].question);
	}
	if (!as_json && n == 0)
		cli_error("quarry runs: no runs yet; start one with 'quarry research QUESTION'\n");
	runstore_list_free(v, n);
	return 0;
}

/* The run records of the home c names (opened with their store). */
static int open_runs(struct common *c, struct store *s, struct runstore **rs)
{
	struct q_error err = {0};

	memset(s, 0, sizeof(*s));
	if (cli_model_load_file(&c->m, "runs") || cli_open_shared_runs("runs", &c->m.file, rs))
		return 1;
	if (*rs) /* the shared store (PostgreSQL): the home's has no runs to show */
		return 0;
	if (open_db(c->home, s))
		return 1;
	if (runstore_wrap(rs, s, &err)) {
		cli_error("quarry runs: %s\n", err.msg);
		store_close(s);
		return 1;
	}
	return 0;
}

/* `runs resume ID`: refuse a run that a live process carries; keep the
 * run's own -o and -f unless given again, and its --no-llm. */
#define PLAN_FILE_MAX_BYTES (1024 * 1024)

/* The text of an edited plan file (malloc'd), or NULL with the error said. */
static char *read_plan_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t n = 0;

	if (!f) {
		cli_error("quarry runs: cannot read the plan %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((text = malloc(PLAN_FILE_MAX_BYTES + 1)) != NULL)
		n = fread(text, 1, PLAN_FILE_MAX_BYTES + 1, f);
	fclose(f);
	if (!text || n > PLAN_FILE_MAX_BYTES) {
		cli_error("quarry runs: the plan %s is over 1 MB: give the JSON that "
			  "'quarry research --plan-only -f json' writes\n",
			  path);
		free(text);
		return NULL;
	}
	text[n] = '\0';
	return text;
}

static int runs_resume(struct common *c, long run, char *out_buf, size_t out_size, char *fmt_buf,
		       size_t fmt_size)
{
	struct store s;
	struct runstore *rs = NULL;
	struct run_record rec;
	json_t *opts = NULL;
	char holder[RUNSTORE_WORKER_MAX] = "";
	int rc = 0, alive = 0;

	if (open_runs(c, &s, &rs))
		return 1;
	if (runstore_get(rs, run, 0, &rec, NULL) == 0) {
		opts = json_incref(rec.options);
		alive = rec.status == RUN_RUNNING;
		snprintf(holder, sizeof(holder), "%s", rec.worker);
		run_record_release(&rec);
	}
	runstore_close(rs);
	store_close(&s);
	if (alive && holder[0]) {
		cli_error("quarry runs: run %ld is running in worker %s; wait for it with 'quarry runs "
			  "wait %ld', or stop it with 'quarry runs cancel %ld'\n",
			  run, holder, run, run);
		rc = 1;
	} else if (alive) {
		cli_error("quarry runs: run %ld is running in another quarry; wait for it ('quarry runs "
			  "wait %ld'), or stop it there with Ctrl-C and resume then\n",
			  run, run);
		rc = 1;
	} else {
		const char *o = json_string_value(json_object_get(opts, "output"));
		const char *f = json_string_value(json_object_get(opts, "format"));
		if (json_is_true(json_object_get(opts, "no_llm")))
			c->o.no_llm = 1; /* no "no model configured" warning for a --no-llm run */
		if (!c->output && o && strlen(o) < out_size) {
			snprintf(out_buf, out_size, "%s", o);
			c->output = out_buf;
		}
		if (!c->format && f && strlen(f) < fmt_size) {
			snprintf(fmt_buf, fmt_size, "%s", f);
			c->format = fmt_buf;
		}
		if (json_is_true(json_object_get(opts, "no_llm")))
			c->o.no_llm = 1; /* no model needed, nor a warning that none is set */
	}
	json_decref(opts);
	return rc;
}

/* The exit status a foreground run with this end would have had. */
static int status_exit(enum run_status s)
{
	if (s == RUN_DONE || s == RUN_STOPPED)
		return 0;
	if (s == RUN_CANCELLED || s == RUN_INTERRUPTED)
		return 128 + SIGINT;
	return 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Poll interval of watch and wait: events reach the screen within it. */
#define RUNS_POLL_MS 200

/* Feed the run's events after *last to the display (p NULL: only
 * count them); the last failure message into fail. How many there were. */
static int feed_events(struct runstore *rs, long run, long *last, struct progress *p, char *fail,
		       size_t fail_size, struct q_error *err)
{
	json_t *evs = NULL, *ev;
	size_t i;
	int n;

	if (runstore_events(rs, run, *last, 0, &evs, err))
		return -1;
	json_array_foreach (evs, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		*last = (long)json_integer_value(json_object_get(ev, "seq"));
		if (type && !strcmp(type, "run_failed"))
			snprintf(fail, fail_size, "%s",
				 json_string_value(json_object_get(ev, "message"))
					 ? json_string_value(json_object_get(ev, "message"))
					 : "");
		if (p)
			on_event(p, ev);
	}
	n = (int)json_array_size(evs);
	json_decref(evs);
	return n;
}

/* `runs watch ID` (show progress, then the report) and `runs wait ID`:
 * until the run ends, then exit as it would have in the foreground. */
/* How often a watcher of a queued run looks for a live worker. */
#define RUNS_WORKER_CHECK_MS 3000.0

/* Whether no live worker serves the store (a failed look counts as some:
 * say nothing rather than something false). */
static int no_live_worker(struct runstore *rs)
{
	struct runstore_worker *v = NULL;
	size_t n = 0;
	int none;

	if (strcmp(runstore_backend(rs), "sqlite") != 0)
		return 0; /* PostgreSQL keeps no registry yet: its workers may be anywhere */
	none = runstore_workers(rs, RUNSTORE_LEASE_MS, &v, &n, NULL) == 0 && n == 0;
	q_free(v);
	return none;
}

static int runs_follow(struct runstore *rs, long run, struct common *c, int show)
{
	struct progress prog;
	struct run_record rec;
	struct q_error err = {0};
	char fail[600] = "", clean[600];
	long last = 0;
	int said_queued = 0, ticking = 0, n, rc;
	double next_worker_check = 0;
	pthread_t tick;

	if (runstore_get(rs, run, 0, &rec, &err)) {
		cli_error("quarry runs: %s\n", err.code == Q_ENOTFOUND ? "no such run ('quarry runs ls' "
									 "lists them)"
								       : err.msg);
		return 1;
	}
	memset(&prog, 0, sizeof(prog));
	prog.tty = isatty(2);
	prog.verbose = c->verbose;
	pthread_mutex_init(&prog.mu, NULL);
	prog.t0 = q_now_ms() - 1000.0 * (double)(time(NULL) - rec.created);
	snprintf(prog.phase, sizeof(prog.phase), "%s", rec.status == RUN_QUEUED ? "queued" : "starting");
	run_record_release(&rec);
	if (show && prog.tty && !prog.verbose && pthread_create(&tick, NULL, ticker, &prog) == 0)
		ticking = 1;
	for (;;) {
		if ((n = feed_events(rs, run, &last, show ? &prog : NULL, fail, sizeof(fail), &err)) < 0)
			break;
		if (n >= RUNSTORE_EVENTS_MAX)
			continue;
		if (runstore_get(rs, run, 0, &rec, &err))
			break;
		if (rec.status == RUN_QUEUED && said_queued < 2 && q_now_ms() >= next_worker_check) {
			/* Said once each: waiting (watch only), and no live worker at all
			 * (watch and wait), looked for again every few seconds. */
			int none = no_live_worker(rs);
			next_worker_check = q_now_ms() + RUNS_WORKER_CHECK_MS;
			if ((none || (show && !said_queued))) {
				pthread_mutex_lock(&prog.mu);
				if (prog.drawn)
					cli_status_clear();
				prog.drawn = 0;
				if (none)
					cli_error("quarry runs: run %ld is queued and no worker is running: "
						  "start one with 'quarry worker'\n",
						  run);
				else
					cli_error("quarry runs: run %ld is queued, waiting for a worker\n",
						  run);
				pthread_mutex_unlock(&prog.mu);
				said_queued = none ? 2 : 1;
			}
		}
		if (rec.status != RUN_QUEUED && rec.status != RUN_RUNNING) {
			n = feed_events(rs, run, &last, show ? &prog : NULL, fail, sizeof(fail), &err);
			break;
		}
		run_record_release(&rec);
		/* PostgreSQL wakes it the moment an event is stored elsewhere. */
		if (runstore_wait_events(rs, run, last, RUNS_POLL_MS, NULL) < 0)
			sleep_ms(RUNS_POLL_MS);
	}
	__atomic_store_n(&prog.stop, 1, __ATOMIC_RELEASE); /* the ticker reads it unlocked */
	if (ticking)
		pthread_join(tick, NULL);
	pthread_mutex_destroy(&prog.mu);
	if (prog.drawn)
		cli_status_clear();
	if (err.code) {
		cli_error("quarry runs: %s\n", err.msg);
		return 1;
	}
	run_record_release(&rec);
	if (runstore_get(rs, run, show, &rec, &err)) {
		cli_error("quarry runs: %s\n", err.msg);
		return 1;
	}
	rc = status_exit(rec.status);
	if (show && rec.report && emit_report("runs", rec.report, c->format, c->output))
		rc = 1;
	if (rec.status == RUN_FAILED)
		cli_error("quarry runs: run %ld failed%s%s\n", run, fail[0] ? ": " : "",
			  cli_clean(clean, sizeof(clean), fail));
	else if (rec.status == RUN_INTERRUPTED)
		cli_error("quarry runs: run %ld was interrupted; resume it with 'quarry runs resume "
			  "%ld'\n",
			  run, run);
	else if (rec.status == RUN_CANCELLED)
		cli_error("quarry runs: run %ld was cancelled%s\n", run,
			  rec.report || !show ? "" : " before it had a report");
	else
		cli_error("quarry runs: run %ld %s\n", run, run_status_name(rec.status));
	run_record_release(&rec);
	return rc;
}

/* `runs cancel ID`: ask, then wait (up to RUNS_CANCEL_WAIT_MS) for the
 * run to stop. */
#define RUNS_CANCEL_WAIT_MS 10000
static int runs_cancel(struct runstore *rs, long run)
{
	struct run_record rec;
	struct q_error err = {0};
	double t0 = q_now_ms();
	int waited = 0;

	if (runstore_get(rs, run, 0, &rec, &err)) {
		cli_error("quarry runs: %s\n", err.code == Q_ENOTFOUND ? "no such run ('quarry runs ls' "
									 "lists them)"
								       : err.msg);
		return 1;
	}
	if (run_status_final(rec.status)) {
		printf("run %ld had already ended: %s\n", run, run_status_name(rec.status));
		run_record_release(&rec);
		return 0;
	}
	run_record_release(&rec);
	if (runstore_request_cancel(rs, run, &err)) {
		cli_error("quarry runs: %s\n", err.msg);
		return 1;
	}
	for (;;) {
		if (runstore_get(rs, run, 0, &rec, &err)) {
			cli_error("quarry runs: %s\n", err.msg);
			return 1;
		}
		if (rec.status != RUN_RUNNING || q_now_ms() - t0 > RUNS_CANCEL_WAIT_MS)
			break;
		run_record_release(&rec);
		waited = 1;
		sleep_ms(50);
	}
	if (rec.status == RUN_RUNNING) {
		cli_error("quarry runs: asked run %ld to stop, but it still runs after %d s; its worker "
			  "(%s) stops it at its next check\n",
			  run, RUNS_CANCEL_WAIT_MS / 1000, rec.worker[0] ? rec.worker : "a foreground quarry");
		run_record_release(&rec);
		return 1;
	}
	if (rec.status != RUN_CANCELLED) { /* it ended on its own first */
		printf("run %ld ended before the cancel reached it: %s\n", run, run_status_name(rec.status));
		run_record_release(&rec);
		return 0;
	}
	printf("run %ld cancelled after %.1f s", run, (q_now_ms() - t0) / 1000.0);
	if (waited)
		printf("; it keeps the best report it could make ('quarry runs show %ld')", run);
	printf("\n");
	run_record_release(&rec);
	return 0;
}

/* `runs show ID` (status on stderr, then the report) and `runs export ID`. */
static int runs_report(struct runstore *rs, const char *action, long run, struct common *c)
{
	struct run_record rec;
	struct q_error err = {0};
	const char *status;
	int rc = 1;

	if (runstore_get(rs, run, 1, &rec, &err)) {
		if (err.code == Q_ENOTFOUND)
			cli_error("quarry runs: no run %ld ('quarry runs ls' lists them)\n", run);
		else
			cli_error("quarry runs: %s\n", err.msg);
		return 1;
	}
	status = run_status_name(rec.status);
	if (!rec.report && rec.report_md) {
		cli_error("quarry runs: run %ld's stored report is damaged\n", run);
	} else if (!rec.report) {
		int resumable = rec.status != RUN_DONE && rec.status != RUN_RUNNING;
		cli_error("quarry runs: run %ld is %s and has no report yet%s%.0ld%s\n", run, status,
			  resumable ? "; finish it with 'quarry runs resume " : "", resumable ? run : 0,
			  resumable ? "'" : "");
		if (strcmp(action, "show") == 0)
			printf("question: %s\nstatus: %s\n", rec.question, status);
	} else {
		if (strcmp(action, "show") == 0)
			cli_error("run %ld: %s\n", run, status);
		rc = emit_report("runs", rec.report, c->format, c->output);
	}
	run_record_release(&rec);
	return rc;
}

int cmd_runs(int argc, char **argv)
{
	struct cli_parser p;
	struct common c;
	char *ops[8];
	int n = 0, id, rc = 0, as_json = 0;
	struct store s;
	struct runstore *rs = NULL;
	long run;

	memset(&c, 0, sizeof(c));
	cli_model_init(&c.m);
	cli_parser_init(&p, "runs", argc, argv);
	while ((id = cli_next_opt(&p, research_opts_tab, ops, &n, 8)) != -1) {
		if (id == -2)
			return EXIT_USAGE;
		if (id == O_JSON) {
			as_json = 1;
			continue;
		}
		if (parse_common(&p, id, &c, "runs"))
			return EXIT_USAGE;
	}
	if (n == 0)
		return cli_usage_error("runs", "say what to do: ls, watch ID, wait ID, cancel ID, show ID, "
					       "export ID, resume ID, rm ID");
	{
		static const char *const actions[] = {"ls",    "show", "export", "resume", "rm",
						      "watch", "wait", "cancel", NULL};
		const char *near = cli_nearest(ops[0], actions);
		size_t i;
		for (i = 0; actions[i] && strcmp(actions[i], ops[0]); i++)
			;
		if (!actions[i] && near)
			return cli_usage_error("runs", "unknown action '%s'; did you mean '%s'?", ops[0], near);
	}
	if (as_json && strcmp(ops[0], "ls") != 0)
		return cli_usage_error("runs", "--json is for 'runs ls'; 'runs export ID -f json' "
					       "gives a run as JSON");
	if (strcmp(ops[0], "resume") == 0) {
		char out_buf[8200], fmt_buf[16];
		if (n != 2 || (run = parse_id(ops[1])) < 1)
			return cli_usage_error("runs", "usage: quarry runs resume ID");
		if (runs_resume(&c, run, out_buf, sizeof(out_buf), fmt_buf, sizeof(fmt_buf)))
			return 1;
		if (c.plan_file) { /* an edited plan replaces the model's */
			char *plan = read_plan_file(c.plan_file);
			if (!plan)
				return 1;
			c.o.plan_json = plan;
			rc = run_research("runs resume", &c, run);
			free(plan);
			return rc;
		}
		return run_research("runs resume", &c, run);
	}
	if (strcmp(ops[0], "ls") && strcmp(ops[0], "show") && strcmp(ops[0], "export") && strcmp(ops[0], "rm") &&
	    strcmp(ops[0], "watch") && strcmp(ops[0], "wait") && strcmp(ops[0], "cancel"))
		return cli_usage_error("runs",
				       "unknown action '%s': use ls, watch, wait, cancel, show, "
				       "export, resume or rm",
				       ops[0]);
	if (strcmp(ops[0], "ls") != 0 && (n != 2 || parse_id(ops[1]) < 1))
		return cli_usage_error("runs", "usage: quarry runs %s ID", ops[0]);
	if (strcmp(ops[0], "ls") == 0 && n != 1)
		return cli_usage_error("runs", "usage: quarry runs ls [--json]");
	if (open_runs(&c, &s, &rs)) {
		cli_model_close(&c.m);
		return 1;
	}
	if (strcmp(ops[0], "ls") == 0) {
		rc = runs_ls(rs, as_json);
	} else if (strcmp(ops[0], "watch") == 0 || strcmp(ops[0], "wait") == 0) {
		rc = runs_follow(rs, parse_id(ops[1]), &c, strcmp(ops[0], "watch") == 0);
	} else if (strcmp(ops[0], "cancel") == 0) {
		rc = runs_cancel(rs, parse_id(ops[1]));
	} else if (strcmp(ops[0], "rm") == 0) {
		struct q_error err = {0};
		run = parse_id(ops[1]);
		if (runstore_remove(rs, run, &err)) {
			cli_error("quarry runs: %s\n", err.msg);
			rc = 1;
		} else {
			printf("removed run %ld\n", run);
		}
	} else {
		rc = runs_report(rs, ops[0], parse_id(ops[1]), &c);
	}
	runstore_close(rs);
	store_close(&s);
	cli_model_close(&c.m);
	return rc;
}
