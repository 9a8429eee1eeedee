/*
 * cmd_fetch.c - `quarry fetch`: fetch URLs and print their main content.
 *
 * Transfers run in parallel; results are printed in the order the URLs
 * were given, each as soon as it and every URL before it are done. Each
 * response is extracted the moment its transfer ends and only its
 * rendered text is kept, so a slow first URL does not make the others'
 * raw bodies pile up in memory.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "term.h"
#include "../core/alloc.h"
#include "../core/clock.h"
#include "../net/http.h"
#include "cli.h"

#define FETCH_MAX_URLS 10000

enum { O_FORMAT, O_JOBS, O_TIMEOUT, O_CONNECT, O_MAXB, O_MAXPDF, O_PRIVATE, O_ROBOTS };

static const struct cli_opt opts[] = {{"format", 'f', 1, O_FORMAT},
				      {"jobs", 'j', 1, O_JOBS},
				      {"timeout", 0, 1, O_TIMEOUT},
				      {"connect-timeout", 0, 1, O_CONNECT},
				      {"max-bytes", 0, 1, O_MAXB},
				      {"max-pdf-bytes", 0, 1, O_MAXPDF},
				      {"allow-private", 0, 0, O_PRIVATE},
				      {"ignore-robots", 0, 0, O_ROBOTS},
				      {NULL, 0, 0, 0}};

/* What one URL prints, rendered as soon as its transfer ends so its body
 * can be freed, and held until the URLs before it have printed. */
struct rendered {
	char *out, *err;
	size_t out_len, err_len;
};

struct fetch_run {
	char **urls;
	size_t n;
	struct http_response *resps;
	struct rendered *shown;
	char *done; /* done[i]: response i is rendered */
	size_t next_to_print;
	enum out_format fmt;
	long timeout_ms;
	int failures;
	pthread_mutex_t mu; /* pages are extracted on pool threads: done, printing */
};

static void report_failure(struct fetch_run *fr, size_t i, const struct cli_doc_figures *fig, int code,
			   const char *msg, FILE *out, FILE *err)
{
	__atomic_add_fetch(&fr->failures, 1, __ATOMIC_RELAXED);
	if (fr->fmt == OUT_JSON)
		cli_print_json_error(out, fig, code, msg);
	if (err == stderr)
		cli_error("quarry fetch: %s: %s\n", fr->urls[i], msg);
	else {
		char shown[CLI_ERROR_MAX];
		cli_flag_hints(msg, shown, sizeof(shown));
		fprintf(err, "quarry fetch: %s: %s\n", fr->urls[i], shown); /* cleaned when shown */
	}
}

static void render_one(struct fetch_run *fr, size_t i, FILE *out, FILE *errf)
{
	struct http_response *r = &fr->resps[i];
	struct cli_doc_figures fig;
	struct doc_options dopt;
	struct doc doc;
	struct q_error err;
	struct timespec t0;

	memset(&fig, 0, sizeof(fig));
	fig.url = fr->urls[i];
	fig.final_url = r->final_url;
	fig.status = r->status;
	fig.content_type = r->content_type;
	fig.bytes = (double)r->body.len;
	fig.wire_bytes = r->wire_bytes;
	fig.fetch_ms = r->total_ms;
	if (r->rc) {
		report_failure(fr, i, &fig, r->rc, r->err.msg, out, errf);
		return;
	}
	memset(&dopt, 0, sizeof(dopt));
	memset(&err, 0, sizeof(err));
	dopt.format = fr->fmt == OUT_MARKDOWN ? DOC_FORMAT_MARKDOWN : DOC_FORMAT_TEXT;
	dopt.base_url = r->final_url ? r->final_url : fr->urls[i];
	dopt.content_type = r->content_type;
	dopt.filename = dopt.base_url;
	dopt.pdf_timeout_s = (unsigned)(fr->timeout_ms / 1000 > 0 ? fr->timeout_ms / 1000 : 1);
	dopt.deadline_ms = q_now_ms() + (double)fr->timeout_ms; /* --timeout bounds extraction too */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (doc_extract(qbuf_cstr(&r->body), r->body.len, &dopt, &doc, &err)) {
		report_failure(fr, i, &fig, err.code, err.msg, out, errf);
		return;
	}
	fig.extract_ms = cli_ms_since(&t0);
	if (!doc.text_len && !doc.title) {
		char why[Q_ERROR_MSG_MAX];
		snprintf(why, sizeof(why), "the page has no readable content%s%s", doc.note[0] ? "; " : "",
			 doc.note);
		report_failure(fr, i, &fig, Q_EEMPTY, why, out, errf);
		doc_release(&doc);
		return;
	}
	if (doc.note[0])
		fprintf(errf, "quarry fetch: %s: %s\n", fr->urls[i], doc.note); /* cleaned when shown */
	if (fr->n > 1 && fr->fmt != OUT_JSON)
		fprintf(out, "%s==> %s <==\n", i ? "\n" : "", fr->urls[i]);
	cli_print_doc(out, fr->fmt, &doc, &fig);
	doc_release(&doc);
}

static void on_done(size_t index, struct http_response *resp, void *ctx)
{
	struct fetch_run *fr = ctx;
	struct rendered *sh = &fr->shown[index];
	FILE *out = open_memstream(&sh->out, &sh->out_len);
	FILE *err = open_memstream(&sh->err, &sh->err_len);

	(void)resp;
	if (out && err) {
		render_one(fr, index, out, err);
	} else {
		/* No memory to hold it: print in place, order aside. */
		pthread_mutex_lock(&fr->mu);
		render_one(fr, index, stdout, stderr);
		pthread_mutex_unlock(&fr->mu);
	}
	if (out)
		fclose(out);
	if (err)
		fclose(err);
	http_response_release(&fr->resps[index]); /* the body is no longer needed */
	pthread_mutex_lock(&fr->mu);
	fr->done[index] = 1;
	while (fr->next_to_print < fr->n && fr->done[fr->next_to_print]) {
		struct rendered *p = &fr->shown[fr->next_to_print++];
		if (p->out)
			fwrite(p->out, 1, p->out_len, stdout);
		if (p->err)
			cli_clean_write(NULL, stderr, p->err, p->err_len); /* URLs, server text */
		fflush(stdout);
		free(p->out);
		free(p->err);
		p->out = p->err = NULL;
	}
	pthread_mutex_unlock(&fr->mu);
}

static int env_true(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") && strcasecmp(v, "false") && strcasecmp(v, "no");
}

int cmd_fetch(int argc, char **argv)
{
	struct cli_parser p;
	struct http_options hopt;
	struct fetch_run fr;
	char **urls;
	int n_urls = 0, id, rc;
	long long v;
	size_t i;

	memset(&hopt, 0, sizeof(hopt));
	memset(&fr, 0, sizeof(fr));
	hopt.allow_private = env_true("QUARRY_ALLOW_PRIVATE");
	urls = q_calloc(FETCH_MAX_URLS, sizeof(*urls));
	if (!urls)
		return 1;
	cli_parser_init(&p, "fetch", argc, argv);
	while ((id = cli_next_opt(&p, opts, urls, &n_urls, FETCH_MAX_URLS)) != -1) {
		switch (id) {
		case -2:
			q_free(urls);
			return EXIT_USAGE;
		case O_FORMAT:
			if (cli_parse_format("fetch", p.value, &fr.fmt))
				goto usage;
			break;
		case O_JOBS:
			hopt.max_parallel = (int)cli_parse_int(p.value, 1, HTTP_MAX_PARALLEL);
			if (hopt.max_parallel < 1) {
				cli_usage_error("fetch", "bad value '%s' for --jobs (1 to %d)", p.value,
						HTTP_MAX_PARALLEL);
				goto usage;
			}
			break;
		case O_TIMEOUT:
		case O_CONNECT:
			v = cli_parse_duration_ms(p.value);
			if (v <= 0 || v > 3600000) {
				cli_usage_error("fetch", "bad duration '%s' (e.g. 30s, 500ms, 2m)", p.value);
				goto usage;
			}
			if (id == O_TIMEOUT)
				hopt.timeout_ms = (long)v;
			else
				hopt.connect_timeout_ms = (long)v;
			break;
		case O_MAXB:
		case O_MAXPDF:
			v = cli_parse_size(p.value);
			if (v <= 0 || v > (1LL << 32)) {
				cli_usage_error("fetch", "bad size '%s' (e.g. 10M, 512k; at most 4G)", p.value);
				goto usage;
			}
			if (id == O_MAXB)
				hopt.max_bytes = (long)v;
			else
				hopt.max_pdf_bytes = (long)v;
			break;
		case O_PRIVATE:
			hopt.allow_private = 1;
			break;
		case O_ROBOTS:
			hopt.ignore_robots = 1;
			break;
		}
	}
	if (n_urls == 0) {
		cli_usage_error("fetch", "no URL given");
		goto usage;
	}
	doc_global_init();
	fr.urls = urls;
	fr.n = (size_t)n_urls;
	fr.timeout_ms = hopt.timeout_ms > 0 ? hopt.timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	fr.resps = q_calloc(fr.n, sizeof(*fr.resps));
	fr.shown = q_calloc(fr.n, sizeof(*fr.shown));
	fr.done = q_calloc(fr.n, 1);
	if (!fr.resps || !fr.shown || !fr.done) {
		cli_error("quarry fetch: out of memory\n");
		rc = 1;
		goto out;
	}
	pthread_mutex_init(&fr.mu, NULL);
	hopt.done_parallel = 4; /* extract on the pool: a slow PDF holds up no download */
	rc = http_fetch_many((const char *const *)urls, fr.n, &hopt, fr.resps, on_done, &fr);
	pthread_mutex_destroy(&fr.mu);
	if (rc) {
		cli_error("quarry fetch: could not start the transfers (out of memory)\n");
		rc = 1;
		goto out;
	}
	rc = fr.failures ? 1 : 0;
out:
	if (fr.resps)
		for (i = 0; i < fr.n; i++)
			http_response_release(&fr.resps[i]);
	q_free(fr.resps);
	if (fr.shown)
		for (i = 0; i < fr.n; i++) {
			free(fr.shown[i].out);
			free(fr.shown[i].err);
		}
	q_free(fr.shown);
	q_free(fr.done);
	q_free(urls);
	return rc;
usage:
	q_free(urls);
	return EXIT_USAGE;
}
