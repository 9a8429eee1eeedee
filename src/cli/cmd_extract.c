/*
 * cmd_extract.c - `quarry extract`: main content of a local file or stdin.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "term.h"
#include "../core/alloc.h"
#include "../core/qbuf.h"
#include "cli.h"

#define EXTRACT_DEFAULT_MAX_BYTES (64LL * 1024 * 1024)

enum { O_FORMAT, O_URL, O_CT, O_MAXB };

static const struct cli_opt opts[] = {{"format", 'f', 1, O_FORMAT},
				      {"url", 0, 1, O_URL},
				      {"content-type", 0, 1, O_CT},
				      {"max-bytes", 0, 1, O_MAXB},
				      {NULL, 0, 0, 0}};

int cmd_extract(int argc, char **argv)
{
	struct cli_parser p;
	char *operands[2];
	int n_operands = 0, id, rc = 1;
	enum out_format fmt = OUT_TEXT;
	struct doc_options dopt;
	struct cli_doc_figures fig;
	struct doc doc;
	struct q_error err;
	struct qbuf in;
	long long max_bytes = EXTRACT_DEFAULT_MAX_BYTES;
	const char *path = NULL;
	FILE *f;
	struct timespec t0;

	memset(&dopt, 0, sizeof(dopt));
	memset(&fig, 0, sizeof(fig));
	memset(&err, 0, sizeof(err));
	memset(&doc, 0, sizeof(doc));
	cli_parser_init(&p, "extract", argc, argv);
	while ((id = cli_next_opt(&p, opts, operands, &n_operands, 1)) != -1) {
		switch (id) {
		case -2:
			return EXIT_USAGE;
		case O_FORMAT:
			if (cli_parse_format("extract", p.value, &fmt))
				return EXIT_USAGE;
			break;
		case O_URL:
			dopt.base_url = p.value;
			break;
		case O_CT:
			dopt.content_type = p.value;
			break;
		case O_MAXB:
			max_bytes = cli_parse_size(p.value);
			if (max_bytes <= 0)
				return cli_usage_error("extract", "bad size '%s' for --max-bytes (e.g. 10M)",
						       p.value);
			break;
		}
	}
	if (n_operands == 1 && strcmp(operands[0], "-"))
		path = operands[0];
	dopt.format = fmt == OUT_MARKDOWN ? DOC_FORMAT_MARKDOWN : DOC_FORMAT_TEXT;
	dopt.filename = path;
	fig.path = path ? path : "-";
	fig.url = NULL;
	fig.fetch_ms = -1;
	fig.wire_bytes = -1;
	fig.content_type = dopt.content_type;

	qbuf_init(&in, (size_t)max_bytes);
	f = path ? fopen(path, "rbe") : stdin;
	if (!f) {
		cli_error("quarry extract: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	rc = qbuf_read_stream(&in, f);
	if (path)
		fclose(f);
	if (rc) {
		if (rc == Q_ETOOBIG)
			cli_error("quarry extract: %s is larger than %lld bytes; raise --max-bytes to read it\n",
				  fig.path, max_bytes);
		else
			cli_error("quarry extract: cannot read %s: %s\n", fig.path, q_strerror(rc));
		qbuf_release(&in);
		return 1;
	}
	fig.bytes = (double)in.len;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = doc_extract(qbuf_cstr(&in), in.len, &dopt, &doc, &err);
	fig.extract_ms = cli_ms_since(&t0);
	qbuf_release(&in);
	if (rc) {
		if (fmt == OUT_JSON)
			cli_print_json_error(stdout, &fig, rc, err.msg);
		cli_error("quarry extract: %s: %s\n", fig.path, err.msg[0] ? err.msg : q_strerror(rc));
		return 1;
	}
	if (!doc.text_len && !doc.title) {
		if (fmt == OUT_JSON)
			cli_print_json_error(stdout, &fig, Q_EEMPTY, "no readable content");
		cli_error("quarry extract: %s: no readable content%s%s\n", fig.path, doc.note[0] ? "; " : "",
			  doc.note);
		doc_release(&doc);
		return 1;
	}
	if (doc.note[0])
		cli_error("quarry extract: %s: %s\n", fig.path, doc.note);
	cli_print_doc(stdout, fmt, &doc, &fig);
	doc_release(&doc);
	return 0;
}
