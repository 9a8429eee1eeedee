/*
 * cmd_index.c - `quarry index add|rm|ls|stats|check|rebuild`: the local
 * corpus, and `quarry search`.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../index/corpus.h"
#include "../index/recover.h"
#include "../index/store.h"
#include "cli.h"
#include "term.h"

#define INDEX_MAX_PATHS 4096

enum { O_HOME, O_VERBOSE, O_K, O_JSON, O_FOLLOW };

static const struct cli_opt index_opts[] = {{"home", 0, 1, O_HOME},
					    {"verbose", 'v', 0, O_VERBOSE},
					    {"follow-symlinks", 0, 0, O_FOLLOW},
					    {"json", 0, 0, O_JSON}, /* ls */
					    {NULL, 0, 0, 0}};

#define MAX_REASONS 8

struct progress {
	int tty;
	int verbose;
	long files;
	/* Why files were skipped or failed, counted per reason for the
	 * summary ("unsupported file type", "too large"...). */
	char reason[MAX_REASONS][64];
	long reason_count[MAX_REASONS];
	int n_reasons;
	long other_reasons;
};

static void count_reason(struct progress *p, const char *why)
{
	char key[64];
	size_t n;
	int i;

	if (!why)
		why = "unknown";
	n = strcspn(why, "(:"); /* "too large (2048 MB ...)" -> "too large" */
	while (n > 0 && why[n - 1] == ' ')
		n--;
	if (n >= sizeof(key))
		n = sizeof(key) - 1;
	memcpy(key, why, n);
	key[n] = '\0';
	for (i = 0; i < p->n_reasons; i++)
		if (!strcmp(p->reason[i], key)) {
			p->reason_count[i]++;
			return;
		}
	if (p->n_reasons == MAX_REASONS) {
		p->other_reasons++;
		return;
	}
	memcpy(p->reason[p->n_reasons], key, n + 1);
	p->reason_count[p->n_reasons++] = 1;
}

static const char *event_name(enum corpus_event ev)
{
	switch (ev) {
	case CORPUS_ADDED:
		return "added";
	case CORPUS_UPDATED:
		return "updated";
	case CORPUS_UNCHANGED:
		return "unchanged";
	case CORPUS_REMOVED:
		return "removed";
	case CORPUS_SKIPPED:
		return "skipped";
	case CORPUS_FAILED:
		return "failed";
	case CORPUS_KEPT:
		return "kept";
	}
	return "?";
}

static void on_progress(void *ctx, enum corpus_event ev, const char *path, const char *why)
{
	struct progress *p = ctx;

	if (ev == CORPUS_SKIPPED && why && !strcmp(why, CORPUS_WHY_HIDDEN)) {
		char name[4096]; /* not counted: only -v says which were passed over */
		if (p->verbose) {
			if (p->tty)
				cli_status_clear();
			cli_error("skipped: %s: hidden\n", cli_clean(name, sizeof(name), path));
		}
		return;
	}
	p->files++;
	if (ev == CORPUS_KEPT) {
		char name[4096], reason[1024];
		if (p->tty)
			cli_status_clear();
		cli_error("%s: %s: %s\n", event_name(ev), cli_clean(name, sizeof(name), path),
			  cli_clean(reason, sizeof(reason), why));
		return;
	}
	if (ev == CORPUS_SKIPPED || ev == CORPUS_FAILED)
		count_reason(p, why);
	if (p->tty) {
		char line[4200];
		snprintf(line, sizeof(line), "%ld files  %s %s", p->files, event_name(ev), path);
		cli_status_line(line); /* fits the window, cleaned of controls */
	}
	if (ev == CORPUS_FAILED || (p->verbose && ev != CORPUS_UNCHANGED)) {
		char name[4096], reason[1024];
		if (p->tty)
			cli_status_clear();
		cli_error("%s: %s%s%s\n", event_name(ev), cli_clean(name, sizeof(name), path),
			  why ? ": " : "", cli_clean(reason, sizeof(reason), why));
	}
}

/* Commands that only read open the database read-only, so a read-only
 * file or folder can still be searched and listed. */
static int cmd_writes(const char *cmd)
{
	return !strcmp(cmd, "index add") || !strcmp(cmd, "index rm") || !strcmp(cmd, "index rebuild");
}

/* Read-only, but `index check` opens for writing when it can, because
 * FTS5's integrity check needs a writable connection. */
static int open_for_reading(struct store *s, const char *home, const char *cmd, struct q_error *err)
{
	if (!strcmp(cmd, "index check")) {
		int rc = store_open(s, home, err);
		if (rc != Q_EIO)
			return rc;
		memset(err, 0, sizeof(*err));
	}
	return store_open_readonly(s, home, err);
}

static int open_store(const char *home_flag, struct store *s, const char *cmd)
{
	char home[4096];
	struct q_error err;

	memset(&err, 0, sizeof(err));
	if (cli_store_home(home_flag, home, sizeof(home), &err) ||
	    (cmd_writes(cmd) ? store_open(s, home, &err) : open_for_reading(s, home, cmd, &err))) {
		char *self = strstr(err.msg, "; 'quarry index check' shows");
		if (self && !strcmp(cmd, "index check")) /* do not send it back to itself */
			cli_error("quarry %s: %.*s; run 'quarry index rebuild', which moves the file aside "
				  "and recovers what can be read\n",
				  cmd, (int)(self - err.msg), err.msg);
		else
			cli_error("quarry %s: %s\n", cmd, err.msg);
		return 1;
	}
	return 0;
}

static int index_add(const char *home, char **paths, int n, int verbose, const struct corpus_add_options *opt)
{
	struct store s;
	struct progress p;
	struct corpus_counts c;
	struct q_error err;
	int rc, i;

	memset(&p, 0, sizeof(p));
	p.tty = isatty(2);
	p.verbose = verbose;

	memset(&err, 0, sizeof(err));
	if (open_store(home, &s, "index add"))
		return 1;
	rc = corpus_add_with(&s, paths, n, opt, on_progress, &p, &c, &err);
	if (p.tty)
		fputs("\r\033[K", stderr);
	printf("added %ld, updated %ld, unchanged %ld, removed %ld, skipped %ld, failed %ld "
	       "(%.1f kB of text indexed)\n",
	       c.added, c.updated, c.unchanged, c.removed, c.skipped, c.failed, c.text_bytes / 1e3);
	for (i = 0; i < p.n_reasons; i++)
		printf("  %ld: %s\n", p.reason_count[i], p.reason[i]);
	if (p.other_reasons)
		printf("  %ld: other reasons\n", p.other_reasons);
	if ((c.skipped || c.failed) && !verbose)
		printf("(--verbose lists each file)\n");
	if (c.kept)
		printf("nothing was removed under %ld folder%s that could not be read in full\n", c.kept,
		       c.kept == 1 ? "" : "s");
	store_close(&s);
	if (rc) {
		cli_error("quarry index add: %s\n", err.msg);
		return 1;
	}
	return c.failed ? 1 : 0;
}

static int index_rm(const char *home, char **paths, int n)
{
	struct store s;
	struct q_error err;
	long removed = 0;
	int rc;

	memset(&err, 0, sizeof(err));
	if (open_store(home, &s, "index rm"))
		return 1;
	rc = corpus_remove(&s, paths, n, &removed, &err);
	store_close(&s);
	if (rc) {
		cli_error("quarry index rm: %s\n", err.msg);
		return 1;
	}
	printf("removed %ld document%s\n", removed, removed == 1 ? "" : "s");
	return 0;
}

/* One indexed document as a JSON object on one line (index ls --json). */
static void print_doc_json(const struct corpus_doc *d)
{
	json_t *o = json_object();
	char *line;

	json_object_set_new(o, "path", json_string(d->path));
	json_object_set_new(o, "kind", json_string(d->kind));
	json_object_set_new(o, "chars", json_integer(d->chars));
	json_object_set_new(o, "passages", json_integer(d->passages));
	json_object_set_new(o, "title", json_string(d->title ? d->title : ""));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line)
		puts(line);
	free(line);
	json_decref(o);
}

/* One line of index ls: ctx points at the --json flag. */
static void print_doc(void *ctx, const struct corpus_doc *d)
{
	char path[4096], title[1024];

	if (*(const int *)ctx) {
		print_doc_json(d);
		return;
	}
	printf("%s\t%s\t%lld chars\t%ld passages\t%s\n", cli_clean(path, sizeof(path), d->path),
	       d->kind ? d->kind : "(null)", d->chars, d->passages,
	       cli_clean(title, sizeof(title), d->title ? d->title : ""));
}

static int index_ls(const char *home, int json)
{
	struct store s;
	struct q_error err = {0};
	long rc;

	if (open_store(home, &s, "index ls"))
		return 1;
	rc = corpus_list(&s, CORPUS_LIST_BY_PATH | CORPUS_LIST_PASSAGES, 0, print_doc, &json, &err);
	store_close(&s);
	if (rc < 0) {
		cli_error("quarry index ls: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static int index_stats(const char *home)
{
	struct store s;
	struct stat st;
	struct corpus_totals t;
	struct q_error err = {0};
	long long fts_bytes;

	if (open_store(home, &s, "index stats"))
		return 1;
	fts_bytes = store_fts_bytes(&s);
	corpus_totals(&s, &t, &err);
	printf("documents   %lld\n", t.documents);
	printf("passages    %lld\n", t.passages);
	printf("text bytes  %lld\n", t.text_chars);
	if (fts_bytes >= 0)
		printf("index bytes %lld\n", fts_bytes);
	if (!stat(s.path, &st))
		printf("database    %s (%lld bytes)\n", s.path, (long long)st.st_size);
	store_close(&s);
	return 0;
}

/* One problem integrity_check found, printed as it comes. */
static void print_problem(void *ctx, const char *problem)
{
	(void)ctx;
	printf("database: %s\n", problem);
}

static int index_check(const char *home)
{
	struct store s;
	struct q_error err = {0};
	int ok, rc;

	if (open_store(home, &s, "index check"))
		return 1;
	ok = store_integrity_check(&s, print_problem, NULL);
	rc = store_fts_check(&s, &err);
	if (rc == 1) {
		printf("full-text index: not checked (the database is read-only)\n");
	} else if (rc) {
		ok = 0;
		printf("full-text index: %s\n", err.msg);
	}
	store_close(&s);
	if (!ok) {
		printf("problems found: run 'quarry index rebuild', which rebuilds the full-text index, "
		       "or, if the database itself is damaged, moves it aside and recovers what can be read\n");
		return 1;
	}
	printf("ok\n");
	return 0;
}

static const char *const table_label[RECOVER_N_TABLES] = {
	"documents", "runs", "run events", "run caches", "cached model replies", "cached pages"};

/* Re-index the recovered paths whose files still exist; print what came
 * back and what was lost. */
static int report_recovery(struct store *s, struct store_recovery *rec, int verbose)
{
	struct progress p;
	struct corpus_counts c;
	struct q_error err;
	char **exist;
	size_t i, n_exist = 0, n_gone = 0;
	int rc = 0, k, lost_any = 0;

	printf("the database was damaged: moved it to %s\n", rec->aside);
	if (rec->header_rebuilt)
		printf("its header was unreadable and was rebuilt to read the rest\n");
	if (rec->unreadable_schema)
		printf("nothing could be read from it: add your folders again with 'quarry index add'\n");
	exist = q_calloc(rec->n_paths + 1, sizeof(*exist));
	if (!exist)
		return 1;
	for (i = 0; i < rec->n_paths; i++) {
		struct stat st;
		if (!stat(rec->paths[i], &st) && S_ISREG(st.st_mode)) {
			exist[n_exist++] = rec->paths[i];
		} else {
			n_gone++;
			if (verbose)
				cli_error("lost: %s: the file is gone\n", rec->paths[i]);
		}
	}
	memset(&p, 0, sizeof(p));
	memset(&err, 0, sizeof(err));
	memset(&c, 0, sizeof(c));
	p.tty = isatty(2);
	p.verbose = verbose;
	for (i = 0; i < n_exist && !rc; i += INDEX_MAX_PATHS) {
		struct corpus_counts part;
		int n = (int)(n_exist - i < INDEX_MAX_PATHS ? n_exist - i : INDEX_MAX_PATHS);
		rc = corpus_add(s, exist + i, n, on_progress, &p, &part, &err);
		c.added += part.added;
		c.failed += part.failed + part.skipped;
	}
	if (p.tty)
		fputs("\r\033[K", stderr);
	q_free(exist);
	printf("recovered: %ld document%s re-indexed from their files", c.added, c.added == 1 ? "" : "s");
	for (k = 1; k < RECOVER_N_TABLES; k++)
		if (rec->tables[k].copied)
			printf(", %ld %s", rec->tables[k].copied, table_label[k]);
	printf("\n");
	if (n_gone || c.failed) {
		printf("lost: %zu document%s whose files are gone or unreadable%s\n", n_gone + (size_t)c.failed,
		       n_gone + (size_t)c.failed == 1 ? "" : "s", verbose ? "" : " (--verbose lists them)");
		lost_any = 1;
	}
	for (k = 0; k < RECOVER_N_TABLES; k++)
		if (rec->tables[k].unreadable) {
			printf("lost: %ld unreadable row%s or range%s of %s%s\n", rec->tables[k].unreadable,
			       rec->tables[k].unreadable == 1 ? "" : "s",
			       rec->tables[k].unreadable == 1 ? "" : "s", table_label[k],
			       k == 0 ? ": add your folders again with 'quarry index add' "
					"to index what they held"
				      : "");
			lost_any = 1;
		}
	if (!lost_any && !rec->unreadable_schema)
		printf("nothing else was lost\n");
	if (rc) {
		cli_error("quarry index rebuild: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/*
 * Rebuild the full-text index; when the database is damaged (it cannot be
 * opened as a database, quick_check finds damage, or the rebuild hits
 * it), recover instead: move it aside, copy what can be read, re-index
 * the known files.
 */
static int index_rebuild(const char *home_flag, int verbose)
{
	char home[4096];
	struct store s;
	struct store_recovery rec;
	struct q_error err;
	int rc, ok = 0;

	memset(&err, 0, sizeof(err));
	if (cli_store_home(home_flag, home, sizeof(home), &err)) {
		cli_error("quarry index rebuild: %s\n", err.msg);
		return 1;
	}
	rc = store_open(&s, home, &err);
	if (rc && rc != Q_EPARSE) {
		cli_error("quarry index rebuild: %s\n", err.msg);
		return 1;
	}
	if (!rc && (ok = store_quick_check(&s, &err)) < 0) {
		cli_error("quarry index rebuild: %s\n", err.msg);
		store_close(&s);
		return 1;
	}
	if (!rc && ok) {
		rc = store_rebuild_fts(&s, &err);
		if (!rc) {
			struct corpus_totals t;
			corpus_totals(&s, &t, &err);
			printf("rebuilt the full-text index of %lld passages\n", t.passages);
			store_close(&s);
			return 0;
		}
		if (rc != Q_EPARSE) {
			cli_error("quarry index rebuild: %s\n", err.msg);
			store_close(&s);
			return 1;
		}
	}
	store_close(&s);
	memset(&err, 0, sizeof(err));
	if (store_recover(home, &s, &rec, &err)) {
		cli_error("quarry index rebuild: %s\n", err.msg);
		return 1;
	}
	rc = report_recovery(&s, &rec, verbose);
	store_recovery_release(&rec);
	store_close(&s);
	return rc;
}

int cmd_index(int argc, char **argv)
{
	struct cli_parser p;
	char **ops;
	int n = 0, id, verbose = 0, json = 0, rc;
	const char *home = NULL, *sub;
	struct corpus_add_options add_opt;

	ops = q_calloc(INDEX_MAX_PATHS + 1, sizeof(*ops));
	if (!ops)
		return 1;
	memset(&add_opt, 0, sizeof(add_opt));
	cli_parser_init(&p, "index", argc, argv);
	while ((id = cli_next_opt(&p, index_opts, ops, &n, INDEX_MAX_PATHS + 1)) != -1) {
		if (id == -2) {
			q_free(ops);
			return EXIT_USAGE;
		}
		if (id == O_HOME)
			home = p.value;
		else if (id == O_VERBOSE)
			verbose = 1;
		else if (id == O_FOLLOW)
			add_opt.follow_symlinks = 1;
		else if (id == O_JSON)
			json = 1;
	}
	rc = EXIT_USAGE;
	if (n == 0) {
		cli_usage_error("index", "which action? add, rm, ls, stats, check or rebuild");
		goto out;
	}
	sub = ops[0];
	if (json && strcmp(sub, "ls")) {
		cli_usage_error("index", "--json is for 'index ls'");
		goto out;
	}
	{
		static const char *const actions[] = {"add", "rm", "ls", "stats", "check", "rebuild", NULL};
		size_t i;
		for (i = 0; actions[i] && strcmp(actions[i], sub); i++)
			;
		if (!actions[i]) {
			const char *near = cli_nearest(sub, actions);
			if (near)
				cli_usage_error("index", "unknown action '%s'; did you mean '%s'?", sub, near);
			else
				cli_usage_error("index",
						"unknown action '%s': use add, rm, ls, stats, check or "
						"rebuild",
						sub);
			goto out;
		}
	}
	if (!strcmp(sub, "add") || !strcmp(sub, "rm")) {
		if (n < 2) {
			cli_usage_error("index", "'%s' needs at least one file or folder", sub);
			goto out;
		}
		rc = sub[0] == 'a' ? index_add(home, ops + 1, n - 1, verbose, &add_opt)
				   : index_rm(home, ops + 1, n - 1);
	} else if (n > 1) {
		cli_usage_error("index", "'%s' takes no arguments", sub);
	} else if (!strcmp(sub, "ls")) {
		rc = index_ls(home, json);
	} else if (!strcmp(sub, "stats")) {
		rc = index_stats(home);
	} else if (!strcmp(sub, "check")) {
		rc = index_check(home);
	} else if (!strcmp(sub, "rebuild")) {
		rc = index_rebuild(home, verbose);
	} else {
		cli_usage_error("index", "unknown action '%s': use add, rm, ls, stats, check or rebuild", sub);
	}
out:
	q_free(ops);
	return rc;
}

static const struct cli_opt search_opts[] = {
	{"home", 0, 1, O_HOME}, {"k", 'k', 1, O_K}, {"json", 0, 0, O_JSON}, {NULL, 0, 0, 0}};

int cmd_search(int argc, char **argv)
{
	struct cli_parser p;
	char *words[256];
	int n = 0, id, k = 10, json = 0, n_hits = 0, i, rc;
	const char *home = NULL;
	struct qbuf q;
	struct store s;
	struct corpus_hit *hits = NULL;
	struct q_error err;
	int tty = cli_use_color(1);

	cli_parser_init(&p, "search", argc, argv);
	while ((id = cli_next_opt(&p, search_opts, words, &n, 256)) != -1) {
		switch (id) {
		case -2:
			return EXIT_USAGE;
		case O_HOME:
			home = p.value;
			break;
		case O_K:
			k = (int)cli_parse_int(p.value, 1, 1000);
			if (k < 1)
				return cli_usage_error("search", "bad value '%s' for -k (1 to 1000)", p.value);
			break;
		case O_JSON:
			json = 1;
			break;
		}
	}
	if (cli_join_words("search", "query", words, n, CORPUS_MAX_QUERY_BYTES, &q))
		return EXIT_USAGE;
	{ /* '"' or '()' alone: nothing to search for, which is no "exclusion" */
		const unsigned char *u = (const unsigned char *)qbuf_cstr(&q);
		while (*u && !(isalnum(*u) || *u >= 0x80))
			u++;
		if (!*u) {
			qbuf_release(&q);
			return cli_usage_error("search", "the query is empty: give words to search for");
		}
	}
	if (open_store(home, &s, "search")) {
		qbuf_release(&q);
		return 1;
	}
	memset(&err, 0, sizeof(err));
	rc = corpus_search(&s, qbuf_cstr(&q), k, json ? "" : (tty ? "\033[1m" : "["),
			   json ? "" : (tty ? "\033[0m" : "]"), &hits, &n_hits, &err);
	store_close(&s);
	qbuf_release(&q);
	if (rc) {
		cli_error("quarry search: %s\n", err.msg);
		return 1;
	}
	for (i = 0; i < n_hits; i++)
		cli_print_hit(stdout, json, &hits[i], i + 1);
	if (!n_hits && !json)
		cli_error("quarry search: no matches (is the corpus indexed? see 'quarry index stats')\n");
	corpus_hits_free(hits, n_hits);
	return n_hits ? 0 : 1; /* like grep: no match is exit 1 */
}
