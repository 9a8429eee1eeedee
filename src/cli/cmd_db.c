/*
 * cmd_db.c - `quarry db migrate` and `quarry db status`: the operator's
 * view of a shared PostgreSQL run store; and cli_database_url, the one
 * place the CLI decides which database the run records live in.
 *
 * The core reads no environment: the URL is resolved here (--database-url,
 * then QUARRY_DATABASE_URL, then database_url in the config file) and
 * passed down. Without one, runs stay in the local SQLite store, which
 * migrates itself when opened, so both commands say there is nothing to
 * do and how to point them at PostgreSQL.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ; /* the environment, read by the front end only */

#include "../core/config.h"
#include "../research/pgconn.h"
#include "../research/runstore_pg.h"
#include "cli.h"
#include "term.h"

enum { O_DATABASE_URL, O_CONFIG, O_JSON };

static const struct cli_opt db_opts[] = {{"database-url", 0, 1, O_DATABASE_URL},
					 {"config", 0, 1, O_CONFIG},
					 {"json", 0, 0, O_JSON},
					 {NULL, 0, 0, 0}};

const char *cli_database_url(const char *flag, const struct config *file)
{
	if (flag && *flag)
		return flag;
	return config_setting(file, "QUARRY_DATABASE_URL", "database_url");
}

/* 0 when url reads as PostgreSQL's, else 1 with the error printed. */
static int check_url(const char *cmd, const char *url)
{
	char shown[PGCONN_URL_MAX];

	if (pgconn_is_url(url))
		return 0;
	pgconn_redact(url, shown, sizeof shown);
	cli_error("quarry %s: '%s' is not a PostgreSQL URL; write it as "
		  "postgresql://USER:PASSWORD@HOST:PORT/DATABASE\n",
		  cmd, shown);
	return 1;
}

int cli_open_shared_runs(const char *cmd, const struct config *file, struct runstore **out)
{
	struct q_error err = {0};
	const char *url = cli_database_url(NULL, file);

	*out = NULL;
	if (!url)
		return 0;
	if (check_url(cmd, url))
		return 1;
	if (runstore_open_db(out, NULL, url, &err)) {
		cli_error("quarry %s: %s\n", cmd, err.msg);
		return 1;
	}
	return 0;
}

int cli_setup_database(void)
{
	struct config file = {0};
	struct q_error err = {0};
	const char *url;
	int rc = 0;

	/* A config file that does not parse is the command's to report. */
	if (config_load(&file, NULL, environ, &err))
		memset(&file, 0, sizeof(file));
	url = cli_database_url(NULL, &file);
	if (url && runstore_set_database(url, &err)) {
		cli_error("quarry: %s\n", err.msg);
		rc = 1;
	}
	config_release(&file);
	return rc;
}

static void print_status(const struct pgconn *c, const struct runstore_pg_status *st, int json)
{
	int current = st->schema_version == RUNSTORE_PG_SCHEMA_VERSION;
	if (json) {
		printf("{\"database\":\"postgresql\",\"url\":\"");
		for (const char *p = pgconn_shown(c); *p; p++)
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if ((unsigned char)*p >= 0x20)
				putchar(*p);
		printf("\",\"server_version\":\"%s\",\"schema_version\":%d,\"schema_latest\":%d",
		       st->server_version, st->schema_version, RUNSTORE_PG_SCHEMA_VERSION);
		if (current) {
			printf(",\"runs\":{");
			for (int i = 0; i < RUN_STATUS_N; i++)
				printf("%s\"%s\":%ld", i ? "," : "", run_status_name((enum run_status)i),
				       st->counts[i]);
			printf("},\"workers\":%ld,\"oldest_queued_s\":%ld,\"events\":%ld", st->workers,
			       st->oldest_queued_s, st->events);
		}
		printf("}\n");
		return;
	}
	printf("database:  PostgreSQL %s at %s\n", st->server_version, pgconn_shown(c));
	if (!current) {
		printf("schema:    %d, this quarry needs %d: run 'quarry db migrate'%s\n", st->schema_version,
		       RUNSTORE_PG_SCHEMA_VERSION,
		       st->schema_version > RUNSTORE_PG_SCHEMA_VERSION ? " with a newer quarry" : "");
		return;
	}
	printf("schema:    %d (current)\n", st->schema_version);
	printf("runs:     ");
	for (int i = 0; i < RUN_STATUS_N; i++)
		printf(" %ld %s%s", st->counts[i], run_status_name((enum run_status)i),
		       i + 1 < RUN_STATUS_N ? "," : "\n");
	printf("workers:   %ld holding a lease\n", st->workers);
	if (st->counts[RUN_QUEUED])
		printf("queue:     oldest run waiting %lds\n", st->oldest_queued_s);
	printf("events:    %ld\n", st->events);
}

int cmd_db(int argc, char **argv)
{
	struct cli_parser p;
	struct config file = {0};
	struct q_error err = {0};
	struct pgconn *c = NULL;
	char *ops[2];
	const char *url_flag = NULL, *config_path = NULL, *url;
	int n = 0, id, json = 0, ret = 1;

	cli_parser_init(&p, "db", argc, argv);
	while ((id = cli_next_opt(&p, db_opts, ops, &n, 2)) != -1) {
		if (id == -2)
			return EXIT_USAGE;
		if (id == O_DATABASE_URL)
			url_flag = p.value;
		else if (id == O_CONFIG)
			config_path = p.value;
		else if (id == O_JSON)
			json = 1;
	}
	if (n == 0)
		return cli_usage_error("db", "say 'migrate' or 'status'");
	if (n > 1)
		return cli_usage_error("db", "unexpected argument '%s'", ops[1]);
	int migrate = strcmp(ops[0], "migrate") == 0;
	if (!migrate && strcmp(ops[0], "status") != 0)
		return cli_usage_error("db", "unknown subcommand '%s' (migrate or status)", ops[0]);
	if (config_load(&file, config_path, environ, &err)) {
		cli_error("quarry db: %s\n", err.msg);
		goto out;
	}
	url = cli_database_url(url_flag, &file);
	if (!url) {
		if (json)
			printf("{\"database\":\"sqlite\"}\n");
		else
			printf("No shared database: runs are kept in the local SQLite store under the "
			       "home folder,\nwhich migrates itself when opened. To use PostgreSQL set "
			       "QUARRY_DATABASE_URL\n(or database_url in the config) to "
			       "postgresql://USER:PASSWORD@HOST:PORT/DATABASE.\n");
		ret = 0;
		goto out;
	}
	if (check_url("db", url))
		goto out;
	struct pgconn_opts po = {.application_name = "quarry db", .retry_ms = 3000};
	if (pgconn_open(&c, url, &po, &err)) {
		cli_error("quarry db: %s\n", err.msg);
		goto out;
	}
	if (migrate) {
		int from = 0, to = 0;
		if (runstore_pg_migrate(c, &from, &to, &err)) {
			cli_error("quarry db: %s\n", err.msg);
			goto out;
		}
		if (json)
			printf("{\"from\":%d,\"to\":%d}\n", from, to);
		else if (from == to)
			printf("schema %d: up to date\n", to);
		else
			printf("schema %d -> %d: migrated\n", from, to);
	} else {
		struct runstore_pg_status st;
		if (runstore_pg_status(c, &st, &err)) {
			cli_error("quarry db: %s\n", err.msg);
			goto out;
		}
		print_status(c, &st, json);
	}
	ret = 0;
out:
	pgconn_close(c);
	config_release(&file);
	return ret;
}
