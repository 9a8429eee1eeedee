/*
 * cmd_ask.c - `quarry ask`: a question straight to the model, the answer
 * streamed to stdout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/qbuf.h"
#include "cli.h"
#include "term.h"
#include "cli_llm.h"

enum {
	O_NO_SEARCH,
	O_HIDE_REASONING,
	O_SHOW_REASONING,
	O_VERBOSE,
	O_SYSTEM,
	O_MAX_TOKENS,
	O_TEMPERATURE,
	O_NO_CACHE,
	O_HOME,
	O_JSON,
	O_TIME_LIMIT
};

static const struct cli_opt ask_opts[] = {{"no-search", 0, 0, O_NO_SEARCH},
					  {"hide-reasoning", 0, 0, O_HIDE_REASONING},
					  {"show-reasoning", 0, 0, O_SHOW_REASONING},
					  {"verbose", 'v', 0, O_VERBOSE},
					  {"system", 0, 1, O_SYSTEM},
					  {"max-tokens", 0, 1, O_MAX_TOKENS},
					  {"temperature", 0, 1, O_TEMPERATURE},
					  {"no-cache", 0, 0, O_NO_CACHE},
					  {"home", 0, 1, O_HOME},
					  {"json", 0, 0, O_JSON},
					  {"time-limit", 0, 1, O_TIME_LIMIT},
					  {"timeout", 0, 1, O_TIME_LIMIT},
					  CLI_MODEL_OPTS,
					  {NULL, 0, 0, 0}};

struct out {
	int tty;
	int reasoning_mode; /* 0 hidden, 1 dimmed on stdout, 2 on stderr */
	int in_reasoning;   /* the dim attribute is on */
	int wrote_text;
	int wrote_any;
	int color;                                 /* dim reasoning (cli_use_color) */
	struct cli_clean_state text_st, reason_st; /* model output is untrusted */
};

/* The ask a Ctrl-C stops (llm_account_cancel only sets a flag). */
static struct llm_account *volatile active_account;
static volatile sig_atomic_t stop_signal; /* the signal that stopped us, for 128+N */

static void on_sigint(int sig)
{
	struct llm_account *a = active_account;

	stop_signal = sig;
	if (a)
		llm_account_cancel(a);
}

static void end_reasoning(struct out *o)
{
	if (o->in_reasoning) {
		cli_clean_flush(&o->reason_st, o->reasoning_mode == 1 ? stdout : stderr);
		if (o->reasoning_mode == 1)
			fputs(o->color ? "\033[0m\n\n" : "\n\n", stdout);
		else
			fputc('\n', stderr);
		o->in_reasoning = 0;
	}
}

static void on_text(void *ctx, const char *s, size_t n)
{
	struct out *o = ctx;

	end_reasoning(o);
	cli_clean_write(&o->text_st, stdout, s, n);
	fflush(stdout);
	o->wrote_text = o->wrote_any = 1;
}

static void on_reasoning(void *ctx, const char *s, size_t n)
{
	struct out *o = ctx;
	FILE *f = o->reasoning_mode == 1 ? stdout : stderr;

	if (!o->reasoning_mode)
		return;
	if (!o->in_reasoning) {
		if (o->reasoning_mode == 1 && o->color)
			fputs("\033[2m", stdout);
		o->in_reasoning = 1;
	}
	cli_clean_write(&o->reason_st, f, s, n);
	fflush(f);
	o->wrote_any = 1;
}

static void on_retry(void *ctx, int attempt, const char *why, long delay_ms)
{
	struct out *o = ctx;

	end_reasoning(o);
	if (o->wrote_any) {
		fputs("\n", stdout);
		o->wrote_any = 0;
	}
	cli_error("quarry ask: %s; retrying in %.1f s (attempt %d)\n", why, (double)delay_ms / 1000.0,
		  attempt + 1);
}

int cmd_ask(int argc, char **argv)
{
	struct cli_parser p;
	struct cli_model m;
	char *words[256];
	int n = 0, id, taken, i, rc, no_search = 0, run_flag = 0, verbose = 0, no_cache = 0, json = 0,
	    hide = 0, show = 0;
	const char *system = NULL, *home = NULL;
	long max_tokens = 0;
	long long time_limit_ms = CLI_ASK_DEFAULT_TIME_LIMIT_MS;
	double temperature = -1;
	struct qbuf q;
	struct llm_message msgs[2];
	struct llm_request req;
	struct llm_response resp;
	struct llm_callbacks cb;
	struct out o;
	struct q_error err = {0};
	struct sigaction sa;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		no_search |= strcmp(argv[i], "--no-search") == 0;
		run_flag |= strcmp(argv[i], "--run") == 0 || strncmp(argv[i], "--run=", 6) == 0;
	}
	if (no_search && run_flag)
		return cli_usage_error("ask",
				       "--run and --no-search do not go together: --run answers "
				       "from a run's sources (and searches for what they lack); drop one");
	if (!no_search) /* the usual ask: search, read, answer with citations */
		return cmd_ask_search(argc, argv);
	cli_model_init(&m);
	cli_parser_init(&p, "ask", argc, argv);
	while ((id = cli_next_opt(&p, ask_opts, words, &n, 256)) != -1) {
		if ((taken = cli_model_opt(&m, "ask", id, p.value)) < 0)
			return EXIT_USAGE;
		if (taken)
			continue;
		switch (id) {
		case -2:
			return EXIT_USAGE;
		case O_NO_SEARCH:
			no_search = 1;
			break;
		case O_HIDE_REASONING:
			hide = 1;
			break;
		case O_SHOW_REASONING:
			show = 1;
			break;
		case O_VERBOSE:
			verbose = 1;
			break;
		case O_SYSTEM:
			system = p.value;
			break;
		case O_NO_CACHE:
			no_cache = 1;
			break;
		case O_HOME:
			home = p.value;
			break;
		case O_JSON:
			json = 1;
			break;
		case O_TIME_LIMIT:
			if ((time_limit_ms = cli_parse_duration_ms(p.value)) <= 0)
				return cli_usage_error("ask",
						       "--time-limit takes a duration such as 90s or "
						       "5m, not '%s'",
						       p.value);
			break;
		case O_MAX_TOKENS:
			if ((max_tokens = cli_parse_int(p.value, 1, 10000000)) < 1)
				return cli_usage_error("ask", "bad value '%s' for --max-tokens", p.value);
			break;
		case O_TEMPERATURE: {
			char *end;
			temperature = strtod(p.value, &end);
			if (*end || end == p.value || temperature < 0 || temperature > 2)
				return cli_usage_error("ask", "--temperature takes 0 to 2, not '%s'", p.value);
			break;
		}
		}
	}
	if (cli_join_words("ask", "question", words, n, 1024 * 1024, &q))
		return EXIT_USAGE;
	if (cli_model_open(&m, "ask", home, !no_cache)) {
		qbuf_release(&q);
		return 1;
	}

	memset(&o, 0, sizeof(o));
	o.tty = isatty(1);
	o.color = cli_use_color(1);
	o.reasoning_mode = hide ? 0 : show ? 2 : o.tty ? 1 : 0;
	if (json)
		o.reasoning_mode = 0;
	memset(&cb, 0, sizeof(cb));
	cb.on_text = json ? NULL : on_text;
	cb.on_reasoning = on_reasoning;
	cb.on_retry = on_retry;
	cb.ctx = &o;
	i = 0;
	if (system) {
		msgs[i].role = "system";
		msgs[i].content = system;
		msgs[i++].tool_call_id = NULL;
	}
	msgs[i].role = "user";
	msgs[i].content = qbuf_cstr(&q);
	msgs[i++].tool_call_id = NULL;
	memset(&req, 0, sizeof(req));
	req.messages = msgs;
	req.n_messages = (size_t)i;
	req.temperature = temperature;
	req.max_tokens = max_tokens;
	req.no_cache = no_cache;
	req.cb = &cb;
	req.json = json;

	/* The whole ask, retries included, ends by the limit. */
	llm_client_set_budget(m.client, 0, 0, (long)time_limit_ms);
	active_account = llm_client_account(m.client); /* one ask on this client: its solo account */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = json ? llm_chat_json(m.client, &req, &resp, &err) : llm_chat(m.client, &req, &resp, &err);
	active_account = NULL;
	end_reasoning(&o);
	cli_clean_flush(&o.text_st, stdout);
	if (rc) {
		int cancelled = llm_account_cancelled(llm_client_account(m.client));
		if (o.wrote_any)
			fputc('\n', stdout);
		if (cancelled)
			cli_error("quarry ask: interrupted\n");
		else if (err.code == Q_EBUDGET)
			cli_error("quarry ask: no complete answer within the time limit of %.0f s "
				  "(%s); allow longer with --time-limit, e.g. --time-limit 20m\n",
				  (double)time_limit_ms / 1000.0, err.msg);
		else
			cli_error("quarry ask: %s\n", err.msg);
		cli_model_close(&m);
		qbuf_release(&q);
		return cancelled ? 128 + (stop_signal ? stop_signal : SIGINT) : 1;
	}
	if (json) {
		char *s = json_dumps(resp.json, JSON_INDENT(2));
		if (s)
			puts(s);
		free(s);
	} else if (o.wrote_text && resp.content[0] && resp.content[strlen(resp.content) - 1] != '\n') {
		fputc('\n', stdout);
	}
	fflush(stdout);
	if (strcmp(resp.finish_reason, "length") == 0)
		cli_error("quarry ask: the answer was cut off at the token limit%s\n",
			  max_tokens ? " (raise --max-tokens)" : "");
	if (verbose) {
		char u[256];
		cli_format_usage(u, sizeof(u), resp.usage.prompt, resp.usage.cached, resp.usage.completion,
				 resp.usage.reasoning, resp.usage.estimated, resp.usage.cost_usd,
				 resp.usage.cost_known);
		cli_error("quarry ask: %s via %s: %s, %.1f s, %d attempt%s%s\n", resp.model, m.cfg.provider,
			  u, resp.ms / 1000.0, resp.attempts, resp.attempts == 1 ? "" : "s",
			  resp.from_cache ? " (from the cache: nothing paid)" : "");
	}
	llm_response_release(&resp);
	cli_model_close(&m);
	qbuf_release(&q);
	return 0;
}
