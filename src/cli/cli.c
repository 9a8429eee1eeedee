/*
 * cli.c - option parsing, number parsing and document printing shared by
 * the commands.
 */
#include "../core/qbuf.h"
#include "cli.h"
#include "term.h"

#include "../core/config.h"
#include "../index/corpus.h"
#include "../index/store.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ; /* read here, in the front end, never in the core */

int cli_store_home(const char *home_flag, char *out, size_t out_size, struct q_error *err)
{
	return store_home_in(home_flag, environ, out, out_size, err);
}

void cli_parser_init(struct cli_parser *p, const char *cmd, int argc, char **argv)
{
	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
	p->index = 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	char msg[CLI_ERROR_MAX];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error("quarry %s: %s (see 'quarry help %s')\n", cmd, msg, cmd);
	return EXIT_USAGE;
}

int cli_edit_distance(const char *a, size_t na, const char *b)
{
	size_t nb = strlen(b), i, j;
	int prev2[CLI_MAX_WORD + 1], prev[CLI_MAX_WORD + 1], row[CLI_MAX_WORD + 1];

	if (na > CLI_MAX_WORD || nb > CLI_MAX_WORD)
		return 1000;
	/* Levenshtein plus adjacent transpositions ("hlep" is one typo from
	 * "help"): the optimal string alignment distance. */
	for (j = 0; j <= nb; j++)
		prev[j] = prev2[j] = (int)j;
	for (i = 1; i <= na; i++) {
		row[0] = (int)i;
		for (j = 1; j <= nb; j++) {
			int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			row[j] = best;
		}
		memcpy(prev2, prev, sizeof(prev));
		memcpy(prev, row, sizeof(row));
	}
	return prev[nb];
}

const char *cli_nearest(const char *name, const char *const *choices)
{
	const char *best = NULL;
	int best_d = 1000, d;
	size_t i;

	for (i = 0; choices[i]; i++) {
		d = cli_edit_distance(name, strlen(name), choices[i]);
		if (d < best_d) {
			best_d = d;
			best = choices[i];
		}
	}
	return best && cli_close_enough(best_d, strlen(name)) ? best : NULL;
}

int cli_close_enough(int distance, size_t len)
{
	/* One typo in a short word, two in a longer one: "serach", "--deph". */
	return distance <= (len <= 4 ? 1 : 2);
}

/* The long option nearest to name[0..n), if close enough; else NULL. */
static const char *nearest_opt(const struct cli_opt *opts, const char *name, size_t n)
{
	const struct cli_opt *o;
	const char *best = NULL;
	int best_d = 1000, d;

	for (o = opts; o->long_name; o++) {
		d = cli_edit_distance(name, n, o->long_name);
		if (d < best_d) {
			best_d = d;
			best = o->long_name;
		}
	}
	return best && cli_close_enough(best_d, n) ? best : NULL;
}

static int take_value(struct cli_parser *p, const struct cli_opt *o, const char *inline_value, const char *shown)
{
	if (!o->takes_value) {
		if (inline_value) {
			cli_usage_error(p->cmd, "option '%s' takes no value", shown);
			return -2;
		}
		p->value = NULL;
		return o->id;
	}
	if (inline_value) {
		p->value = inline_value;
		return o->id;
	}
	if (p->index >= p->argc) {
		cli_usage_error(p->cmd, "option '%s' needs a value", shown);
		return -2;
	}
	p->value = p->argv[p->index++];
	return o->id;
}

int cli_next_opt(struct cli_parser *p, const struct cli_opt *opts, char **operands, int *n_operands,
		 int max_operands)
{
	while (p->index < p->argc) {
		char *a = p->argv[p->index];
		const struct cli_opt *o;

		if (p->operands_only || a[0] != '-' || !strcmp(a, "-")) {
			if (*n_operands >= max_operands) {
				cli_usage_error(p->cmd, "too many arguments (at most %d)", max_operands);
				return -2;
			}
			operands[(*n_operands)++] = a;
			p->index++;
			continue;
		}
		p->index++;
		if (!strcmp(a, "--")) {
			p->operands_only = 1;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			for (o = opts; o->long_name; o++)
				if (strlen(o->long_name) == n && !strncmp(o->long_name, name, n))
					return take_value(p, o, eq ? eq + 1 : NULL, a);
			const char *near = nearest_opt(opts, name, n);
			if (near)
				cli_usage_error(p->cmd, "unknown option '%.*s'; did you mean '--%s'?",
						(int)(n + 2), a, near);
			else
				cli_usage_error(p->cmd, "unknown option '%.*s'", (int)(n + 2), a);
			return -2;
		}
		for (o = opts; o->long_name; o++) {
			if (o->short_name && o->short_name == a[1]) {
				char shown[3] = {'-', a[1], 0};
				if (a[2] && !o->takes_value) {
					cli_usage_error(p->cmd, "option '%s' takes no value", shown);
					return -2;
				}
				return take_value(p, o, a[2] ? a + 2 : NULL, shown);
			}
		}
		cli_usage_error(p->cmd, "unknown option '%s'", a);
		return -2;
	}
	return -1;
}

static long long parse_scaled(const char *s, const char *const *suffixes, const long long *scales)
{
	char *end;
	double v;
	int i;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (!*end)
		return (long long)v * scales[0];
	for (i = 1; suffixes[i]; i++)
		if (!strcasecmp(end, suffixes[i])) {
			double r = v * (double)scales[i];
			return r > 9e18 ? -1 : (long long)r;
		}
	return -1;
}

double cli_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

long long cli_parse_size(const char *s)
{
	static const char *const suf[] = {"",    "k", "kb", "kib", "m", "mb",
					  "mib", "g", "gb", "gib", "b", NULL};
	static const long long sc[] = {1,       1024,      1024,      1024,      1 << 20, 1 << 20,
				       1 << 20, 1LL << 30, 1LL << 30, 1LL << 30, 1};
	return parse_scaled(s, suf, sc);
}

long long cli_parse_duration_ms(const char *s)
{
	static const char *const suf[] = {"", "ms", "s", "m", "min", "h", NULL};
	static const long long sc[] = {1000, 1, 1000, 60000, 60000, 3600000};
	return parse_scaled(s, suf, sc);
}

long cli_parse_int(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

int cli_parse_format(const char *cmd, const char *s, enum out_format *out)
{
	if (!strcmp(s, "text"))
		*out = OUT_TEXT;
	else if (!strcmp(s, "markdown") || !strcmp(s, "md"))
		*out = OUT_MARKDOWN;
	else if (!strcmp(s, "json"))
		*out = OUT_JSON;
	else
		return cli_usage_error(cmd, "unknown format '%s': use text, markdown or json", s);
	return 0;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static void set_num(json_t *o, const char *key, double v)
{
	if (v >= 0)
		json_object_set_new(o, key, json_real(v));
}

static void put_json(FILE *f, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s) {
		fputs(s, f);
		fputc('\n', f);
		free(s);
	}
	json_decref(o);
}

static void set_source(json_t *o, const struct cli_doc_figures *fig)
{
	if (fig->url)
		set_str(o, "url", fig->url);
	if (fig->url)
		set_str(o, "final_url", fig->final_url);
	if (fig->path)
		set_str(o, "path", fig->path);
	if (fig->status)
		json_object_set_new(o, "status", json_integer(fig->status));
}

void cli_print_doc(FILE *f, enum out_format fmt, const struct doc *doc, const struct cli_doc_figures *fig)
{
	json_t *o;

	if (fmt != OUT_JSON) {
		/* A thread's text already opens with its title. */
		size_t tl = doc->title ? strlen(doc->title) : 0;
		const char *t = doc->text ? doc->text + strspn(doc->text, "#") : NULL;
		int repeated;

		if (t && t != doc->text && *t == ' ')
			t++;
		repeated = tl && t && !strncmp(t, doc->title, tl) && (t[tl] == '\n' || t[tl] == '\0');
		/* Page text is untrusted: no terminal controls reach the screen. */
		if (tl && !repeated) {
			if (fmt == OUT_MARKDOWN)
				fputs("# ", f);
			cli_clean_write(NULL, f, doc->title, tl);
			fputs("\n\n", f);
		}
		if (doc->text && *doc->text) {
			cli_clean_write(NULL, f, doc->text, doc->text_len);
			fputc('\n', f);
		}
		return;
	}
	o = json_object();
	set_source(o, fig);
	set_str(o, "content_type", fig->content_type);
	set_str(o, "kind", doc_kind_name(doc->kind));
	set_str(o, "charset", doc->charset[0] ? doc->charset : NULL);
	set_str(o, "title", doc->title);
	set_str(o, "author", doc->author);
	set_str(o, "published", doc->date);
	set_str(o, "language", doc->lang);
	set_str(o, "site_name", doc->site_name);
	set_str(o, "description", doc->description);
	set_str(o, "page_type", doc_page_type_name(doc->page_type));
	json_object_set_new(o, "text", json_stringn(doc->text ? doc->text : "", doc->text_len));
	json_object_set_new(o, "text_bytes", json_integer((json_int_t)doc->text_len));
	set_num(o, "bytes", fig->bytes);
	set_num(o, "wire_bytes", fig->wire_bytes);
	set_num(o, "fetch_ms", fig->fetch_ms);
	set_num(o, "extract_ms", fig->extract_ms);
	put_json(f, o);
}

void cli_print_json_error(FILE *f, const struct cli_doc_figures *fig, int code, const char *msg)
{
	json_t *o = json_object();

	set_source(o, fig);
	set_str(o, "error", q_strerror(code));
	set_str(o, "message", msg);
	put_json(f, o);
}

void cli_print_hit(FILE *f, int json, const struct corpus_hit *h, int rank)
{
	const char *s;
	json_t *o;

	if (!json) {
		/* Paths, titles and snippets come from files: cleaned of controls. */
		char path[4096], title[1024], heading[1024];
		int marked = cli_use_color(fileno(f)); /* cmd_search's choice of markers */
		fprintf(f, "%d. %s%s%s%s  (score %.3f)\n", rank, cli_clean(path, sizeof(path), h->path),
			h->title && *h->title ? "  \"" : "", cli_clean(title, sizeof(title), h->title),
			h->title && *h->title ? "\"" : "", h->score);
		if (h->heading && *h->heading)
			fprintf(f, "   %s\n", cli_clean(heading, sizeof(heading), h->heading));
		fputs("   ", f);
		s = h->snippet ? h->snippet : "";
		while (*s) {
			size_t run = strcspn(s, "\n\t");
			if (marked)
				cli_clean_write_marked(f, s, run);
			else
				cli_clean_write(NULL, f, s, run);
			s += run;
			if (*s) {
				fputc(' ', f); /* one line */
				s++;
			}
		}
		fputs("\n\n", f);
		return;
	}
	o = json_object();
	json_object_set_new(o, "rank", json_integer(rank));
	set_str(o, "path", h->path);
	set_str(o, "title", h->title);
	set_str(o, "heading", h->heading);
	json_object_set_new(o, "score", json_real(h->score));
	set_str(o, "snippet", h->snippet);
	json_object_set_new(o, "passage_id", json_integer(h->passage_id));
	json_object_set_new(o, "start", json_integer(h->start));
	json_object_set_new(o, "end", json_integer(h->end));
	json_object_set_new(o, "char_start", json_integer(h->char_start));
	json_object_set_new(o, "char_end", json_integer(h->char_end));
	put_json(f, o);
}

int cli_join_words(const char *cmd, const char *what, char **words, int n, size_t max, struct qbuf *out)
{
	int i;

	if (n == 0)
		return cli_usage_error(cmd, "no %s given", what);
	for (i = 0; i < n && !words[i][strspn(words[i], " \t\n\r\f\v")]; i++)
		;
	if (i == n)
		return cli_usage_error(cmd, "the %s is empty", what);
	qbuf_init(out, max);
	for (i = 0; i < n; i++) {
		if (i)
			qbuf_addc(out, ' ');
		qbuf_adds(out, words[i]);
	}
	if (out->err) {
		qbuf_release(out);
		return cli_usage_error(cmd, "%s too long (%zu KB at most)", what, max / 1024);
	}
	return 0;
}

void cli_warn_unknown_keys(const struct config *c)
{
	size_t i, k;
	char key[128];

	for (i = 0; i < c->n; i++) {
		const char *best = NULL;
		int best_d = 1000, d;
		if (config_key_known(c->entries[i].key))
			continue;
		for (k = 0; config_known_keys[k]; k++) {
			d = cli_edit_distance(c->entries[i].key, strlen(c->entries[i].key),
					      config_known_keys[k]);
			if (d < best_d) {
				best_d = d;
				best = config_known_keys[k];
			}
		}
		cli_clean(key, sizeof(key), c->entries[i].key);
		if (best && cli_close_enough(best_d, strlen(c->entries[i].key)))
			cli_error("quarry: %s line %d: unknown setting '%s' ignored; did you mean "
				  "'%s'? (see 'quarry help models')\n",
				  c->path, c->entries[i].line, key, best);
		else
			cli_error("quarry: %s line %d: unknown setting '%s' ignored (see 'quarry help "
				  "models')\n",
				  c->path, c->entries[i].line, key);
	}
}
