/*
 * routes_docs.c - the corpus API: search, upload, list and remove documents.
 *
 * An upload (multipart/form-data, one or more "file" parts; or a raw body
 * with ?name=FILE) is written under $QUARRY_HOME/uploads with a name of
 * our own making (a random prefix and the upload's name reduced to safe
 * characters, so no path from the client is ever used) and added with
 * corpus_add, the code `quarry index add` runs: same types, same caps,
 * same sniffing. Removing a document removes its uploaded file too.
 *
 * The listing reads the documents table directly (the corpus module has
 * no list function yet; `index ls` has its own query in cmd_index.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/qbuf.h"
#include "../core/random.h"
#include "../index/corpus.h"
#include "../index/store.h"
#include "serve_int.h"

#define UPLOAD_DIR "uploads"
#define UPLOAD_NAME_MAX 100 /* bytes of the name kept from the client's */
#define UPLOAD_MAX_FILES 32 /* parts in one request */
#define SEARCH_K_MAX 100
#define DOCS_LIST_MAX 1000

struct part {
	const char *filename; /* points into a copy we own */
	char name_buf[UPLOAD_NAME_MAX + 1];
	const unsigned char *data;
	size_t len;
};

/* The client's file name reduced to [A-Za-z0-9._-] (no dot first). */
static void safe_name(const char *in, size_t n, char *out, size_t out_size)
{
	size_t i, o = 0;
	const char *slash;

	for (slash = in; slash < in + n; slash++) /* the last path segment only */
		if (*slash == '/' || *slash == '\\') {
			n -= (size_t)(slash + 1 - in);
			in = slash + 1;
			slash = in - 1;
		}
	for (i = 0; i < n && o + 1 < out_size; i++) {
		char c = in[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || (c == '.' && o > 0))
			out[o++] = c;
		else if (o > 0 && out[o - 1] != '_')
			out[o++] = '_';
	}
	out[o] = 0;
	if (!o)
		snprintf(out, out_size, "upload.txt");
}

static const unsigned char *find_bytes(const unsigned char *h, size_t hn, const char *needle, size_t nn)
{
	return memmem(h, hn, needle, nn);
}

/* The parts of a multipart/form-data body with a filename. -1 with the
 * 400 answered. */
static int parse_multipart(struct serve_req *r, const char *ctype, struct part *parts, int *n)
{
	const char *b = strstr(ctype, "boundary=");
	char delim[300];
	size_t dl, blen;
	const unsigned char *body = serve_body(r, &blen), *p, *end = body + blen, *hdr_end, *next;

	*n = 0;
	if (!b)
		goto bad;
	b += 9;
	if (*b == '"')
		b++;
	dl = strcspn(b, "\";");
	if (dl == 0 || dl > 200)
		goto bad;
	snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)dl, b);
	dl += 4;
	/* The first delimiter has no CRLF before it. */
	p = find_bytes(body, blen, delim + 2, dl - 2);
	if (!p)
		goto bad;
	p += dl - 2;
	for (;;) {
		const unsigned char *fn;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0; /* the closing delimiter */
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			goto bad;
		p += 2;
		hdr_end = find_bytes(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!hdr_end)
			goto bad;
		next = find_bytes(hdr_end + 4, (size_t)(end - hdr_end - 4), delim, dl);
		if (!next)
			goto bad;
		fn = find_bytes(p, (size_t)(hdr_end - p), "filename=\"", 10);
		if (fn) {
			const unsigned char *fe;
			fn += 10;
			fe = memchr(fn, '"', (size_t)(hdr_end - fn));
			if (!fe)
				goto bad;
			if (*n >= UPLOAD_MAX_FILES) {
				serve_reply_error(r, 413, "too_many_files", "file",
						  "at most %d files in one upload", UPLOAD_MAX_FILES);
				return -1;
			}
			safe_name((const char *)fn, (size_t)(fe - fn), parts[*n].name_buf,
				  sizeof(parts[*n].name_buf));
			parts[*n].filename = parts[*n].name_buf;
			parts[*n].data = hdr_end + 4;
			parts[*n].len = (size_t)(next - hdr_end - 4);
			(*n)++;
		}
		p = next + dl;
	}
bad:
	serve_reply_error(r, 400, "bad_multipart", "file",
			  "the body is not multipart/form-data with a boundary; send the files as "
			  "'file' parts (curl -F file=@report.pdf)");
	return -1;
}

/* Write data to a new file under home/uploads; its path into out. */
static int save_upload(const char *home, const struct part *pt, char *out, size_t out_size, struct q_error *err)
{
	char dir[4200];
	int fd;
	size_t off = 0;
	ssize_t w;

	snprintf(dir, sizeof(dir), "%s/%s", home, UPLOAD_DIR);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return q_error_set(err, Q_EIO, "cannot make %s: %s", dir, strerror(errno));
	snprintf(out, out_size, "%s/%08llx-%s", dir, (unsigned long long)(q_random_u64() & 0xffffffffULL),
		 pt->filename);
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return q_error_set(err, Q_EIO, "cannot write %s: %s", out, strerror(errno));
	while (off < pt->len) {
		w = write(fd, pt->data + off, pt->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(out);
			return q_error_set(err, Q_EIO, "cannot write %s (disk full?)", out);
		}
		off += (size_t)w;
	}
	if (close(fd)) {
		unlink(out);
		return q_error_set(err, Q_EIO, "cannot write %s", out);
	}
	return 0;
}

struct add_result {
	json_t *files; /* one object per file handled */
};

static void on_added(void *ctx, enum corpus_event ev, const char *path, const char *why)
{
	struct add_result *a = ctx;
	static const char *const names[] = {"added",   "updated", "unchanged", "removed",
					    "skipped", "failed",  "kept"};

	if (why && !strcmp(why, CORPUS_WHY_HIDDEN))
		return;
	json_array_append_new(a->files,
			      json_pack("{s:s, s:s, s:s?}", "path", path, "result", names[ev], "why", why));
}

static void documents_post(struct serve_req *r)
{
	struct serve *s = serve_req_server(r);
	const char *ctype = serve_header(r, "Content-Type"), *raw_name = serve_query(r, "name");
	struct part *parts = q_calloc(UPLOAD_MAX_FILES, sizeof(*parts));
	char *paths[UPLOAD_MAX_FILES];
	char path_buf[UPLOAD_MAX_FILES][4400];
	struct corpus_counts counts = {0};
	struct add_result res = {json_array()};
	struct q_error err = {0};
	int n = 0, i, saved = 0;
	size_t blen;

	if (!parts || !res.files) {
		serve_reply_error(r, 503, "busy", NULL, "out of memory; try again");
		goto out;
	}
	if (ctype && !strncasecmp(ctype, "multipart/form-data", 19)) {
		if (parse_multipart(r, ctype, parts, &n))
			goto out;
	} else if (raw_name) {
		safe_name(raw_name, strlen(raw_name), parts[0].name_buf, sizeof(parts[0].name_buf));
		parts[0].filename = parts[0].name_buf;
		parts[0].data = serve_body(r, &blen);
		parts[0].len = blen;
		n = 1;
	}
	if (!n) {
		serve_reply_error(r, 400, "missing_field", "file",
				  "send files as multipart/form-data 'file' parts (curl -F "
				  "file=@notes.md), or a body with ?name=FILE");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (save_upload(serve_home(s), &parts[i], path_buf[i], sizeof(path_buf[i]), &err)) {
			serve_reply_qerror(r, &err);
			goto out;
		}
		paths[i] = path_buf[i];
		saved = i + 1;
	}
	if (corpus_add(serve_store(s), paths, n, on_added, &res, &counts, &err)) {
		serve_reply_qerror(r, &err);
		goto out;
	}
	/* Files the corpus would not take are not kept. */
	for (i = 0; i < n; i++) {
		struct stat st;
		size_t k;
		json_t *f;
		json_array_foreach (res.files, k, f) {
			const char *res_name = json_string_value(json_object_get(f, "result"));
			if (!strcmp(json_string_value(json_object_get(f, "path")), paths[i]) &&
			    (!strcmp(res_name, "skipped") || !strcmp(res_name, "failed")) &&
			    stat(paths[i], &st) == 0)
				unlink(paths[i]);
		}
	}
	saved = 0;
	serve_reply_json(r, counts.added + counts.updated ? 201 : 422,
			 json_pack("{s:I, s:I, s:I, s:O}", "added", (json_int_t)counts.added, "skipped",
				   (json_int_t)counts.skipped, "failed", (json_int_t)counts.failed, "files",
				   res.files));
out:
	for (i = 0; i < saved; i++)
		unlink(path_buf[i]);
	json_decref(res.files);
	q_free(parts);
}

/* One document of GET /v1/documents appended to the array ctx. */
static void document_json(void *ctx, const struct corpus_doc *d)
{
	const char *base = strrchr(d->path, '/');

	json_array_append_new((json_t *)ctx,
			      json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:I, s:I, s:I}", "id", (json_int_t)d->id,
					"path", d->path, "name", base ? base + 1 : d->path, "title", d->title,
					"kind", d->kind, "size", (json_int_t)d->size, "chars",
					(json_int_t)d->chars, "indexed_at", (json_int_t)d->indexed_at));
}

static void documents_list(struct serve_req *r)
{
	struct store *st = serve_store(serve_req_server(r));
	json_t *docs = json_array();
	struct q_error err = {0};

	if (corpus_list(st, CORPUS_LIST_NEWEST, DOCS_LIST_MAX, document_json, docs, &err) < 0) {
		json_decref(docs);
		serve_reply_qerror(r, &err);
		return;
	}
	serve_reply_json(r, 200, json_pack("{s:o}", "documents", docs));
}

static void documents_delete(struct serve_req *r)
{
	struct serve *s = serve_req_server(r);
	struct store *st = serve_store(s);
	const char *ids = serve_param(r, "id");
	struct q_error err = {0};
	int rc;
	char *path = NULL, *end, upl[4200];
	long id = ids ? strtol(ids, &end, 10) : 0, removed = 0;

	if (!ids || *end || id <= 0) {
		serve_reply_error(r, 404, "not_found", "id", "no document '%s': ids are numbers",
				  ids ? ids : "");
		return;
	}
	rc = corpus_document_path(st, id, &path, &err);
	if (rc == Q_ENOTFOUND) {
		serve_reply_error(r, 404, "not_found", "id", "no document %ld (GET /v1/documents lists them)",
				  id);
		return;
	}
	if (rc) {
		serve_reply_qerror(r, &err);
		return;
	}
	if (corpus_remove(st, &path, 1, &removed, &err)) {
		serve_reply_qerror(r, &err);
	} else {
		snprintf(upl, sizeof(upl), "%s/%s/", serve_home(s), UPLOAD_DIR);
		if (!strncmp(path, upl, strlen(upl))) /* ours: the uploaded copy goes too */
			unlink(path);
		serve_reply_json(r, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "deleted"));
	}
	q_free(path);
}

static void search(struct serve_req *r)
{
	struct store *st = serve_store(serve_req_server(r));
	const char *q = serve_query(r, "q"), *ks = serve_query(r, "k");
	struct corpus_hit *hits = NULL;
	struct q_error err = {0};
	int n = 0, i;
	long k = 10;
	char *end;
	json_t *out;

	if (!q || !*q) {
		serve_reply_error(r, 400, "missing_field", "q", "'q' is required: the words to search for");
		return;
	}
	if (ks) {
		k = strtol(ks, &end, 10);
		if (*end || k < 1 || k > SEARCH_K_MAX) {
			serve_reply_error(r, 400, "bad_field", "k", "'k' must be a number from 1 to %d",
					  SEARCH_K_MAX);
			return;
		}
	}
	if (corpus_search(st, q, (int)k, "", "", &hits, &n, &err)) {
		serve_reply_qerror(r, &err);
		return;
	}
	out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(out,
				      json_pack("{s:i, s:s, s:s?, s:s?, s:s?, s:f, s:I, s:I}", "rank", i + 1,
						"path", hits[i].path, "title", hits[i].title, "heading",
						hits[i].heading, "snippet", hits[i].snippet, "score",
						hits[i].score, "char_start", (json_int_t)hits[i].char_start,
						"char_end", (json_int_t)hits[i].char_end));
	corpus_hits_free(hits, n);
	serve_reply_json(r, 200, json_pack("{s:s, s:o}", "query", q, "hits", out));
}

const struct serve_route serve_docs_routes[] = {
	{"GET", "/v1/search", search, 0, "search"},
	{"POST", "/v1/documents", documents_post, SERVE_RAW_BODY, "documents_add"},
	{"GET", "/v1/documents", documents_list, 0, "documents_list"},
	{"DELETE", "/v1/documents/{id}", documents_delete, 0, "documents_delete"},
	{NULL, NULL, NULL, 0, NULL}};
