/*
 * cmd_mcp.c - `quarry mcp`: the MCP server over stdio.
 *
 * The stdio transport of the MCP specification: one JSON-RPC message
 * per line on standard input, one per line on standard output, nothing
 * else on standard output (logs go to stderr). The protocol itself is
 * src/mcp; this file reads lines (each capped at MCP_MAX_MESSAGE_BYTES:
 * a longer one is skipped to its newline and answered with an error),
 * writes what the server sends, and ends cleanly: at the end of input it
 * lets running calls answer, and SIGINT or SIGTERM (what a client sends
 * when it stops waiting) cancels them, keeping their runs resumable.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/qbuf.h"
#include "../mcp/mcp.h"
#include "cli.h"
#include "cli_llm.h"
#include "term.h"

#define MCP_READ_CHUNK 65536

enum { O_HOME, O_NO_LLM, O_ALLOW_PRIVATE, O_NO_CACHE };

static const struct cli_opt mcp_opts[] = {{"home", 0, 1, O_HOME},
					  {"no-llm", 0, 0, O_NO_LLM},
					  {"allow-private", 0, 0, O_ALLOW_PRIVATE},
					  {"no-cache", 0, 0, O_NO_CACHE},
					  CLI_MODEL_OPTS,
					  {NULL, 0, 0, 0}};

static volatile int stop_flag;  /* SIGINT or SIGTERM */
static volatile int out_closed; /* stdout is gone: nobody reads answers */

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The server's messages, one per line (the server calls this one at a time). */
static void write_line(void *ctx, const char *json, size_t len, const json_t *about)
{
	(void)ctx;
	(void)about;
	if (out_closed)
		return;
	if (fwrite(json, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout))
		out_closed = 1;
}

/* One line from the input: handed over, or refused past the cap. */
static void take_line(struct mcp_server *srv, struct qbuf *line, int *overlong)
{
	static const char too_long[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
				       "\"message\":\"message longer than the cap (4 MB); skipped\"}}";

	qbuf_rtrim(line, "\r");
	if (*overlong)
		write_line(NULL, too_long, sizeof(too_long) - 1, NULL);
	else if (line->len)
		mcp_server_handle(srv, qbuf_cstr(line), line->len);
	qbuf_reset(line);
	*overlong = 0;
}

/* Read standard input to its end (or a stop signal), a line at a time. */
static int serve_stdin(struct mcp_server *srv)
{
	static char chunk[MCP_READ_CHUNK];
	struct qbuf line;
	int overlong = 0, rc = 0;
	ssize_t got;

	qbuf_init(&line, (size_t)MCP_MAX_MESSAGE_BYTES);
	while (!stop_flag && !out_closed) {
		char *p, *nl, *end;
		got = read(0, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			cli_error("quarry mcp: cannot read standard input: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		if (got == 0)
			break;
		for (p = chunk, end = chunk + got; p < end; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!overlong && qbuf_add(&line, p, (size_t)((nl ? nl : end) - p)))
				overlong = 1; /* drop the rest up to the newline */
			if (!nl)
				break;
			take_line(srv, &line, &overlong);
		}
	}
	if (line.len || overlong)
		take_line(srv, &line, &overlong); /* a last message without its newline */
	qbuf_release(&line);
	return rc;
}

int cmd_mcp(int argc, char **argv)
{
	struct cli_parser p;
	struct cli_model m;
	struct mcp_env env;
	struct mcp_server *srv = NULL;
	struct q_error err = {0};
	struct sigaction sa;
	const char *home = NULL, *v;
	char dir[4096];
	int id, n = 0, no_llm = 0, no_cache = 0, rc = 1, taken;
	char *operands[1];

	memset(&env, 0, sizeof(env));
	cli_model_init(&m);
	cli_parser_init(&p, "mcp", argc, argv);
	while ((id = cli_next_opt(&p, mcp_opts, operands, &n, 1)) != -1) {
		if (id == -2)
			return EXIT_USAGE;
		if ((taken = cli_model_opt(&m, "mcp", id, p.value)))
			if (taken < 0)
				return EXIT_USAGE;
		switch (id) {
		case O_HOME:
			home = p.value;
			break;
		case O_NO_LLM:
			no_llm = 1;
			break;
		case O_ALLOW_PRIVATE:
			env.allow_private = 1;
			break;
		case O_NO_CACHE:
			no_cache = 1;
			break;
		}
	}
	if (n)
		return cli_usage_error("mcp", "no arguments, only options (it talks JSON-RPC on "
					      "standard input and output)");
	if ((v = getenv("QUARRY_ALLOW_PRIVATE")) && !strcmp(v, "1"))
		env.allow_private = 1;
	if (cli_store_home(home, dir, sizeof(dir), &err)) {
		cli_error("quarry mcp: %s\n", err.msg);
		return 1;
	}
	if (cli_model_load_file(&m, "mcp"))
		return 1;
	if (!no_llm) {
		struct llm_config probe;
		struct q_error perr = {0};
		if (llm_config_resolve(&probe, &m.ov, &m.file, &perr) == 0) {
			llm_config_release(&probe);
			if (cli_model_open(&m, "mcp", home, !no_cache))
				goto out;
			env.llm = m.client;
		} else if (strstr(perr.msg, "no model configured")) {
			cli_error("quarry mcp: %s; research and ask write extractive briefs\n", perr.msg);
		} else {
			cli_error("quarry mcp: %s\n", perr.msg);
			goto out;
		}
	}
	env.home = dir;
	env.file = &m.file;
	if (mcp_server_new(&srv, &env, write_line, NULL, &err)) {
		cli_error("quarry mcp: %s\n", err.msg);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: a read in progress returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = serve_stdin(srv);
	mcp_server_wait(srv, &stop_flag);
	mcp_server_free(srv);
out:
	cli_model_close(&m);
	return rc;
}
