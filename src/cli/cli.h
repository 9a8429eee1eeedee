/*
 * cli.h - shared pieces of the command-line front end: the command table,
 * option parsing, and printing documents.
 *
 * Each command lives in its own cmd_*.c file with a `cmd_NAME(argc, argv)`
 * entry point returning the process exit status: 0 success, 1 the work
 * failed (some URL could not be fetched), 2 usage error.
 */
#ifndef Q_CLI_H
#define Q_CLI_H

#include <stdio.h>
#include <time.h>

#include "../core/version.h"
#include "../doc/doc.h"

#define EXIT_USAGE 2

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* one line for `quarry --help` */
	const char *help;    /* full text for `quarry help NAME` */
};

const struct command *cli_find_command(const char *name);
extern const struct command cli_commands[];

/*
 * A small getopt_long replacement that gives our error messages.
 * Options: "--name" / "--name=value" / "--name value" and "-x value" /
 * "-xvalue". After the loop, *optind points at the first operand.
 */
struct cli_opt {
	const char *long_name; /* without dashes */
	char short_name;       /* 0 if none */
	int takes_value;
	int id; /* returned by cli_next_opt */
};

struct cli_parser {
	const char *cmd; /* for messages: "fetch" */
	int argc;
	char **argv;
	int index;         /* next argv index to look at */
	const char *value; /* value of the option just returned */
	int operands_only; /* after "--" */
};

void cli_parser_init(struct cli_parser *p, const char *cmd, int argc, char **argv);
/* Next option id; -1 when the options end (p->index is the first
 * operand, operands may also follow options); -2 on a usage error,
 * already printed. Operands are collected into operands[] (up to max). */
int cli_next_opt(struct cli_parser *p, const struct cli_opt *opts, char **operands, int *n_operands,
		 int max_operands);

/* Edit distance (Levenshtein with adjacent transpositions) between
 * a[0..na) and b (words up to CLI_MAX_WORD bytes; longer ones give 1000),
 * for "did you mean". */
#define CLI_MAX_WORD 64
int cli_edit_distance(const char *a, size_t na, const char *b);
/* Whether a word of len bytes distance edits away is worth suggesting. */
int cli_close_enough(int distance, size_t len);
/* The word of the NULL-terminated choices nearest to name, if close enough
 * to suggest; else NULL. */
const char *cli_nearest(const char *name, const char *const *choices);

struct config;
/* Warn on stderr about each key of the config file quarry does not read,
 * with the file, the line and the nearest known key. */
void cli_warn_unknown_keys(const struct config *c);

/* Milliseconds since t0 (CLOCK_MONOTONIC). */
double cli_ms_since(const struct timespec *t0);

/* Parse "10M", "512k", "1G", "4096" into bytes. -1 on error. */
long long cli_parse_size(const char *s);
/* Parse "30", "30s", "500ms", "2m" into milliseconds. -1 on error. */
long long cli_parse_duration_ms(const char *s);
/* Parse a non-negative integer in [min, max]; -1 on error. */
long cli_parse_int(const char *s, long min, long max);

struct qbuf;
/* Join operands with spaces into out (initialised here, max bytes): the
 * question or query of ask, research and search. 0, or EXIT_USAGE after
 * printing "no WHAT given" / "WHAT too long". */
int cli_join_words(const char *cmd, const char *what, char **words, int n, size_t max, struct qbuf *out);

/* Print a usage error "quarry CMD: MSG" plus the help hint to stderr. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum out_format { OUT_TEXT, OUT_MARKDOWN, OUT_JSON };
int cli_parse_format(const char *cmd, const char *s, enum out_format *out);

/* The home folder (store_home_in with this process's environment): the
 * front end reads the environment, the core does not. */
struct q_error;
int cli_store_home(const char *home_flag, char *out, size_t out_size, struct q_error *err);

/* Figures printed in JSON output next to the document. */
struct cli_doc_figures {
	const char *url;       /* as asked, may be NULL (files) */
	const char *final_url; /* after redirects, may be NULL */
	const char *path;      /* local file, may be NULL */
	long status;           /* HTTP status, 0 if none */
	const char *content_type;
	double bytes;      /* body bytes after decoding */
	double wire_bytes; /* bytes over the network, -1 unknown */
	double fetch_ms;   /* -1 if not fetched */
	double extract_ms;
};

/* Print one document: text/markdown with the title on top, or a JSON
 * object on one line. */
void cli_print_doc(FILE *f, enum out_format fmt, const struct doc *doc, const struct cli_doc_figures *fig);
/* Print a failure as a JSON object (url/path, error, message). */
void cli_print_json_error(FILE *f, const struct cli_doc_figures *fig, int code, const char *msg);

struct corpus_hit;
/* Print one search hit: a text block, or a JSON object on one line. */
void cli_print_hit(FILE *f, int json, const struct corpus_hit *h, int rank);

int cmd_fetch(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_research(int argc, char **argv);
int cmd_ask_search(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
int cmd_db(int argc, char **argv);

/* The run store's database URL: flag, else QUARRY_DATABASE_URL, else
 * database_url in file (may be NULL); NULL for the local SQLite store. */
const char *cli_database_url(const char *flag, const struct config *file);
int cmd_worker(int argc, char **argv);

struct q_error;
/* Start a detached `quarry worker` for home (log: home/worker.log) unless
 * a live one is registered there; *started says whether one was. */
int cli_worker_ensure(const char *home, const char *config_path, int *started, struct q_error *err);
struct runstore;
/* Open the run store database_url names (cli_database_url(NULL, file)):
 * 0 with *out NULL when none is set (the caller uses its home's SQLite
 * store), 0 with *out open (the caller closes it), or 1 with the error
 * printed as "quarry CMD: ...". */
int cli_open_shared_runs(const char *cmd, const struct config *file, struct runstore **out);
/* At start: the shared database (QUARRY_DATABASE_URL, else database_url
 * in the config file of QUARRY_CONFIG or the default place) for every
 * run store of the process (runstore_set_database). 0, or 1 with the
 * error printed. */
int cli_setup_database(void);

#endif
