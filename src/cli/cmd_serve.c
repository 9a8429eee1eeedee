/*
 * cmd_serve.c - `quarry serve`: the HTTP API and web UI (src/serve) on
 * this machine's quarry home.
 *
 * This file only takes the flags, finds the token, refuses an unprotected
 * non-loopback address, prints how to log in, and runs the server until
 * SIGINT or SIGTERM. Workers for the queue are separate processes
 * (`quarry worker`), started here when none is running.
 */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../index/store.h"
#include "../serve/openai_http.h"
#include "../serve/serve.h"
#include "../research/runstore.h"
#include "../serve/workers.h"
#include "../research/runstore.h"
#include "cli.h"
#include "term.h"

#define SERVE_MAX_ALLOWED_HOSTS 16

enum {
	OPT_LISTEN = 1,
	OPT_WORKERS,
	OPT_TOKEN_FILE,
	OPT_INSECURE,
	OPT_ALLOWED_HOST,
	OPT_HOME,
	OPT_MAX_BODY,
	OPT_MAX_UPLOAD,
	OPT_QUEUE_MAX,
	OPT_MAX_WATCHERS,
	OPT_RATE,
	OPT_MAX_CONN,
	OPT_HEADER_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_ALLOW_PRIVATE
};

static const struct cli_opt serve_opts[] = {{"listen", 'l', 1, OPT_LISTEN},
					    {"workers", 'j', 1, OPT_WORKERS},
					    {"token-file", 0, 1, OPT_TOKEN_FILE},
					    {"insecure-http", 0, 0, OPT_INSECURE},
					    {"allowed-host", 0, 1, OPT_ALLOWED_HOST},
					    {"home", 0, 1, OPT_HOME},
					    {"max-body", 0, 1, OPT_MAX_BODY},
					    {"max-upload", 0, 1, OPT_MAX_UPLOAD},
					    {"queue-max", 0, 1, OPT_QUEUE_MAX},
					    {"max-watchers", 0, 1, OPT_MAX_WATCHERS},
					    {"rate-limit", 0, 1, OPT_RATE},
					    {"max-connections", 0, 1, OPT_MAX_CONN},
					    {"header-timeout", 0, 1, OPT_HEADER_TIMEOUT},
					    {"idle-timeout", 0, 1, OPT_IDLE_TIMEOUT},
					    {"allow-private", 0, 0, OPT_ALLOW_PRIVATE},
					    {NULL, 0, 0, 0}};

static void on_signal(evutil_socket_t sig, short what, void *arg) { serve_stop(arg); }

/* Every second: reap workers that died and replace them (with backoff). */
static void on_tend(evutil_socket_t fd, short what, void *arg)
{
	char note[2048];

	serve_workers_tend(arg, note, sizeof(note));
	if (note[0]) {
		fprintf(stderr, "quarry serve: %s", note);
		fflush(stderr);
	}
}

/* Whether host (of --listen) is a loopback address. */
static int is_loopback(const char *listen)
{
	return !strncmp(listen, "127.", 4) || !strncmp(listen, "[::1]", 5) ||
	       !strncmp(listen, "localhost:", 10) || !strchr(listen, ':');
}

struct serve_flags {
	const char *listen, *token_file, *home;
	const char *hosts[SERVE_MAX_ALLOWED_HOSTS + 1];
	int n_hosts, insecure, workers, allow_private;
	struct serve_limits limits;
};

/* One numeric flag into its limit; 0, or EXIT_USAGE after saying why. */
static int take_number(int id, const char *v, struct serve_flags *f)
{
	long long n;

	switch (id) {
	case OPT_WORKERS:
		n = cli_parse_int(v, 0, 64);
		if (n >= 0)
			f->workers = (int)n;
		break;
	case OPT_MAX_BODY:
		n = cli_parse_size(v);
		if (n > 0)
			f->limits.body_max = (long)n;
		break;
	case OPT_MAX_UPLOAD:
		n = cli_parse_size(v);
		if (n > 0)
			f->limits.upload_max = (long)n;
		break;
	case OPT_QUEUE_MAX:
		n = cli_parse_int(v, 1, 1000000);
		if (n >= 0)
			f->limits.queue_max = (int)n;
		break;
	case OPT_MAX_WATCHERS:
		n = cli_parse_int(v, 1, 100000);
		if (n >= 0)
			f->limits.max_watchers = (int)n;
		break;
	case OPT_RATE:
		n = cli_parse_int(v, 0, 10000000);
		if (n >= 0)
			f->limits.rate_per_min = (int)n;
		break;
	case OPT_MAX_CONN:
		n = cli_parse_int(v, 1, 1000000);
		if (n >= 0)
			f->limits.max_connections = (int)n;
		break;
	case OPT_HEADER_TIMEOUT:
		n = cli_parse_duration_ms(v);
		if (n > 0)
			f->limits.header_timeout_ms = (long)n;
		break;
	default: /* OPT_IDLE_TIMEOUT */
		n = cli_parse_duration_ms(v);
		if (n > 0)
			f->limits.idle_timeout_ms = (long)n;
		break;
	}
	if (n <= 0 && !(n == 0 && (id == OPT_WORKERS || id == OPT_RATE))) {
		const char *name = "an option";
		size_t i;
		for (i = 0; serve_opts[i].long_name; i++)
			if (serve_opts[i].id == id)
				name = serve_opts[i].long_name;
		return cli_usage_error("serve", "bad value '%s' for --%s", v, name);
	}
	return 0;
}

static int parse_flags(int argc, char **argv, struct serve_flags *f)
{
	struct cli_parser p;
	char *operands[1];
	int n_operands = 0, id;

	memset(f, 0, sizeof(*f));
	f->workers = -1;
	serve_limits_default(&f->limits);
	cli_parser_init(&p, "serve", argc, argv);
	while ((id = cli_next_opt(&p, serve_opts, operands, &n_operands, 1)) != -1) {
		if (id == -2)
			return EXIT_USAGE;
		if (id == OPT_LISTEN)
			f->listen = p.value;
		else if (id == OPT_TOKEN_FILE)
			f->token_file = p.value;
		else if (id == OPT_HOME)
			f->home = p.value;
		else if (id == OPT_INSECURE)
			f->insecure = 1;
		else if (id == OPT_ALLOW_PRIVATE)
			f->allow_private = 1;
		else if (id == OPT_ALLOWED_HOST) {
			if (f->n_hosts >= SERVE_MAX_ALLOWED_HOSTS)
				return cli_usage_error("serve", "at most %d --allowed-host",
						       SERVE_MAX_ALLOWED_HOSTS);
			f->hosts[f->n_hosts++] = p.value;
		} else if (take_number(id, p.value, f))
			return EXIT_USAGE;
	}
	if (n_operands)
		return cli_usage_error("serve", "unexpected argument '%s'", operands[0]);
	if (!f->listen)
		f->listen = SERVE_DEFAULT_LISTEN;
	return 0;
}

/* The token: QUARRY_SERVER_TOKEN, --token-file, or the home's own. */
static int find_token(const struct serve_flags *f, const char *home, char *token, size_t size, int *generated)
{
	const char *env = getenv("QUARRY_SERVER_TOKEN");
	struct q_error err = {0};

	*generated = 0;
	if (env && *env && !f->token_file) {
		if (strlen(env) < 16 || strlen(env) >= size) {
			cli_error("quarry serve: QUARRY_SERVER_TOKEN must be 16 to %d bytes "
				  "(e.g. 'openssl rand -hex 32')\n",
				  SERVE_TOKEN_MAX);
			return 1;
		}
		snprintf(token, size, "%s", env);
		return 0;
	}
	if (serve_token_load(home, f->token_file, token, size, generated, &err)) {
		cli_error("quarry serve: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* Create and migrate the database before anyone else opens it. */
static int prepare_home(const char *home)
{
	struct store st;
	struct q_error err = {0};

	if (store_open(&st, home, &err)) {
		cli_error("quarry serve: %s\n", err.msg);
		return 1;
	}
	store_close(&st);
	return 0;
}

static void say_where(const struct serve_flags *f, struct serve *s, const char *home, const char *token,
		      int generated)
{
	char host[300];
	const char *colon = strrchr(f->listen, ':');
	size_t hl = colon ? (size_t)(colon - f->listen) : 0;

	snprintf(host, sizeof(host), "%.*s", (int)hl, f->listen);
	if (!hl || !strcmp(host, "0.0.0.0"))
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (!strcmp(host, "[::]"))
		snprintf(host, sizeof(host), "[::1]");
	printf("quarry serve: listening on http://%s:%d/ (home %s)\n", host, serve_port(s), home);
	printf("  log in once in a browser: http://%s:%d/login?token=%s\n", host, serve_port(s), token);
	printf("  scripts: Authorization: Bearer <the token%s%s%s>\n",
	       f->token_file                   ? " in "
	       : getenv("QUARRY_SERVER_TOKEN") ? " in QUARRY_SERVER_TOKEN"
					       : " in ",
	       f->token_file ? f->token_file : "",
	       (!f->token_file && !getenv("QUARRY_SERVER_TOKEN")) ? SERVE_TOKEN_FILE : "");
	if (generated)
		printf("  a new token was made and kept in %s/%s (mode 0600)\n", home, SERVE_TOKEN_FILE);
	if (!is_loopback(f->listen))
		printf("  WARNING: plain HTTP on a non-loopback address: the token travels in the "
		       "clear; put TLS in front (docs/SERVE.md)\n");
	fflush(stdout);
}

int cmd_serve(int argc, char **argv)
{
	struct serve_flags f;
	struct serve_config cfg;
	struct serve *s = NULL;
	struct serve_workers *w = NULL;
	struct event *sigint = NULL, *sigterm = NULL, *tend = NULL;
	struct timeval second = {1, 0};
	struct q_error err = {0};
	char home[4096], token[SERVE_TOKEN_MAX + 1];
	int rc = EXIT_USAGE, generated, i;
	size_t existing = 0;

	if (parse_flags(argc, argv, &f))
		goto out;
	if (!is_loopback(f.listen) && !f.insecure) {
		cli_error("quarry serve: %s is reachable from other machines and would carry the "
			  "token over plain HTTP; put TLS in front (an nginx or Caddy snippet is in "
			  "docs/SERVE.md) and listen on 127.0.0.1, or pass --insecure-http\n",
			  f.listen);
		goto out;
	}
	rc = 1;
	if (cli_store_home(f.home, home, sizeof(home), &err)) {
		cli_error("quarry serve: %s\n", err.msg);
		goto out;
	}
	if (prepare_home(home) || find_token(&f, home, token, sizeof(token), &generated))
		goto out;
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = f.listen;
	cfg.home = home;
	cfg.database_url = runstore_database(); /* QUARRY_DATABASE_URL or database_url */
	cfg.token = token;
	cfg.allowed_hosts = f.hosts;
	cfg.limits = f.limits;
	cfg.allow_private = f.allow_private ||
			    (getenv("QUARRY_ALLOW_PRIVATE") && !strcmp(getenv("QUARRY_ALLOW_PRIVATE"), "1"));
	if (serve_new(&s, &cfg, &err) || serve_mount_builtin(s, &err) ||
	    serve_mount(s, openai_routes, &err) || serve_mount(s, serve_mcp_routes, &err)) {
		cli_error("quarry serve: %s\n", err.msg);
		if (err.code == Q_EINVAL) /* a bad --listen: a usage error */
			rc = EXIT_USAGE;
		goto out;
	}
	sigint = evsignal_new(serve_event_base(s), SIGINT, on_signal, s);
	sigterm = evsignal_new(serve_event_base(s), SIGTERM, on_signal, s);
	if (!sigint || !sigterm || evsignal_add(sigint, NULL) || evsignal_add(sigterm, NULL)) {
		cli_error("quarry serve: cannot set up signal handling\n");
		goto out;
	}
	if (!cli_find_command("worker")) {
		if (f.workers > 0)
			cli_error("quarry serve: warning: this build has no 'quarry worker'; runs "
				  "stay queued\n");
	} else if (serve_workers_start(&w, home, f.workers, serve_runstore(s), &existing, &err)) {
		cli_error("quarry serve: warning: %s\n", err.msg);
	}
	say_where(&f, s, home, token, generated);
	if (existing)
		printf("  runs go to the %zu worker%s already running for this home\n", existing,
		       existing == 1 ? "" : "s");
	else if (w)
		printf("  started %d worker process%s ('quarry worker')\n",
		       f.workers < 0 ? WORKERS_DEFAULT : f.workers, f.workers == 1 ? "" : "es");
	else
		printf("  no workers started (-j 0): runs wait for 'quarry worker --home %s'\n", home);
	for (i = 0; serve_workers_pid(w, i); i++)
		printf("  worker pid %d\n", serve_workers_pid(w, i));
	fflush(stdout);
	if (w) {
		tend = event_new(serve_event_base(s), -1, EV_PERSIST, on_tend, w);
		if (!tend || event_add(tend, &second))
			cli_error("quarry serve: warning: cannot watch the workers; one that dies is "
				  "not replaced\n");
	}
	rc = serve_run(s) ? 1 : 0;
	printf("quarry serve: stopped (queued and running runs are kept; workers carry on or "
	       "resume them)\n");
	fflush(stdout);
	if (w)
		fprintf(stderr, "quarry serve: stopping the workers it started (SIGTERM, then "
				"SIGKILL after 10 s): a run they carry goes back to the queue and is "
				"resumed by the next worker ('quarry worker' or serve)\n");
out:
	if (tend)
		event_free(tend);
	serve_workers_stop(w);
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	serve_free(s);
	return rc;
}
