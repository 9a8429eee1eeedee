/*
 * corpus.c - adding and removing the user's documents (see corpus.h);
 * searching them is in corpus_search.c.
 */
#include "corpus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/hash.h"
#include "../doc/doc.h"
#include "../doc/sniff.h"
#include "split.h"

static const char *const supported_ext[] = {".html",     ".htm", ".xhtml", ".pdf",  ".md",
					    ".markdown", ".txt", ".text",  ".docx", NULL};

/* ---- the walk ---- */

struct seen {
	char **paths;
	size_t n, cap;
};

/* A file read and extracted, waiting for its batch to be written. */
struct pending_doc {
	char *path;     /* as the index names it; owned */
	struct stat st; /* of the bytes extracted */
	char hash[32];
	long long id;   /* the stored version's id then, 0 if none */
	struct doc doc; /* owned */
};

struct add_run {
	struct store *s;
	corpus_progress_fn fn;
	void *ctx;
	struct corpus_counts *counts;
	struct q_error *err;
	int in_batch;
	struct pending_doc *pend; /* CORPUS_BATCH_FILES: extracted, not yet written */
	int n_pend;
	double pend_text_bytes;
	struct seen seen;
	int fatal;           /* a database error stopped the run */
	int follow_symlinks; /* read symlinked files wherever they point */
	const char *root;    /* the folder being walked (real path), or NULL */
	size_t root_len;
	int walk_failed; /* a folder or entry under root could not be read */
	/* Added, updated and removed in the open batch: they count only
	 * once it commits, so a rolled-back batch is not reported as done. */
	long pending_added, pending_updated, pending_removed;
	double pending_text_bytes;
};

static void report(struct add_run *r, enum corpus_event ev, const char *path, const char *why)
{
	switch (ev) {
	case CORPUS_ADDED:
		r->pending_added++;
		break;
	case CORPUS_UPDATED:
		r->pending_updated++;
		break;
	case CORPUS_UNCHANGED:
		r->counts->unchanged++;
		break;
	case CORPUS_REMOVED:
		r->pending_removed++;
		break;
	case CORPUS_SKIPPED:
		r->counts->skipped++;
		break;
	case CORPUS_FAILED:
		r->counts->failed++;
		break;
	case CORPUS_KEPT:
		r->counts->kept++;
		break;
	}
	if (r->fn)
		r->fn(r->ctx, ev, path, why);
}

static int seen_add(struct seen *s, const char *path)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		char **p = q_reallocarray(s->paths, cap, sizeof(*p));
		if (!p)
			return Q_ENOMEM;
		s->paths = p;
		s->cap = cap;
	}
	s->paths[s->n] = q_strdup(path);
	if (!s->paths[s->n])
		return Q_ENOMEM;
	s->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void seen_release(struct seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		q_free(s->paths[i]);
	q_free(s->paths);
	memset(s, 0, sizeof(*s));
}

/* page.html, notes.md, and gzipped ones such as page.html.gz. */
static int has_supported_ext(const char *path) { return sniff_name_ends_in(path, supported_ext); }

/* ---- writing ---- */

/* Write transactions hold only writes: files are read and extracted
 * before (add_file), and a batch of them is written in one short
 * transaction (flush_pending), so a research run or another quarry
 * waits for one batch's writes, never for extraction. */
static int batch_begin(struct add_run *r)
{
	if (r->in_batch)
		return 0;
	if (store_begin_write(r->s, "writing the index", r->err))
		return r->err ? r->err->code : Q_EIO;
	r->in_batch = 1;
	return 0;
}

/* Forget what the open batch did: it was rolled back. */
static void batch_rollback(struct add_run *r)
{
	if (r->in_batch)
		store_rollback(r->s);
	r->in_batch = 0;
	r->pending_added = r->pending_updated = r->pending_removed = 0;
	r->pending_text_bytes = 0;
}

static int batch_end(struct add_run *r)
{
	if (!r->in_batch)
		return 0;
	r->in_batch = 0;
	if (store_commit(r->s, "writing the index", r->err)) {
		batch_rollback(r);
		return r->err ? r->err->code : Q_EIO;
	}
	r->counts->added += r->pending_added;
	r->counts->updated += r->pending_updated;
	r->counts->removed += r->pending_removed;
	r->counts->text_bytes += r->pending_text_bytes;
	r->pending_added = r->pending_updated = r->pending_removed = 0;
	r->pending_text_bytes = 0;
	return 0;
}

static int delete_doc(struct store *s, long long id)
{
	static const char *const sql[] = {"INSERT INTO passages_fts(passages_fts, rowid, title, heading, body) "
					  "SELECT 'delete', p.id, d.title, p.heading, p.body FROM passages p "
					  "JOIN documents d ON d.id = p.doc_id WHERE p.doc_id = ?1",
					  "DELETE FROM documents WHERE id = ?1", NULL};
	int i, rc = SQLITE_OK;

	for (i = 0; sql[i] && rc == SQLITE_OK; i++) {
		sqlite3_stmt *st;
		rc = sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL);
		if (rc != SQLITE_OK)
			break;
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		sqlite3_finalize(st);
	}
	return rc;
}

struct passage_writer {
	sqlite3_stmt *ins, *fts;
	long long doc_id;
	const char *text;
	const char *title;
	int ord;
	int rc;
	size_t cursor_byte;    /* character counting resumes here ... */
	long long cursor_char; /* ... with this many characters before it */
};

/* Character offset of byte offset `at` (passages come in text order, so
 * counting resumes where the last call stopped). */
static long long char_offset(struct passage_writer *w, size_t at)
{
	for (; w->cursor_byte < at; w->cursor_byte++)
		if (((unsigned char)w->text[w->cursor_byte] & 0xC0) != 0x80)
			w->cursor_char++;
	return w->cursor_char;
}

static int write_passage(void *ctx, const struct passage *p)
{
	struct passage_writer *w = ctx;
	long long id;

	sqlite3_reset(w->ins);
	sqlite3_bind_int64(w->ins, 1, w->doc_id);
	sqlite3_bind_int(w->ins, 2, w->ord++);
	sqlite3_bind_text(w->ins, 3, p->heading, -1, SQLITE_STATIC);
	sqlite3_bind_int64(w->ins, 4, (long long)p->start);
	sqlite3_bind_int64(w->ins, 5, (long long)p->end);
	sqlite3_bind_int64(w->ins, 6, char_offset(w, p->start));
	sqlite3_bind_int64(w->ins, 7, char_offset(w, p->end));
	sqlite3_bind_text(w->ins, 8, w->text + p->start, (int)(p->end - p->start), SQLITE_STATIC);
	w->rc = sqlite3_step(w->ins);
	if (w->rc != SQLITE_DONE)
		return 1;
	id = sqlite3_last_insert_rowid(sqlite3_db_handle(w->ins));
	sqlite3_reset(w->fts);
	sqlite3_bind_int64(w->fts, 1, id);
	sqlite3_bind_text(w->fts, 2, w->title ? w->title : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(w->fts, 3, p->heading, -1, SQLITE_STATIC);
	sqlite3_bind_text(w->fts, 4, w->text + p->start, (int)(p->end - p->start), SQLITE_STATIC);
	w->rc = sqlite3_step(w->fts);
	if (w->rc != SQLITE_DONE)
		return 1;
	w->rc = SQLITE_OK;
	return 0;
}

/* Replace the stored document at path with doc. */
static int store_doc(struct store *s, long long old_id, const char *path, const struct stat *st,
		     const char *hash, const struct doc *doc)
{
	sqlite3_stmt *ins = NULL;
	struct passage_writer w;
	int rc;

	memset(&w, 0, sizeof(w));
	if (old_id && (rc = delete_doc(s, old_id)) != SQLITE_OK)
		return rc;
	rc = sqlite3_prepare_v2(s->db,
				"INSERT INTO documents(path, title, kind, size, mtime_ns, hash, chars, indexed_at) "
				"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
				-1, &ins, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(ins, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 2, doc->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, doc_kind_name(doc->kind), -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 4, (long long)st->st_size);
	sqlite3_bind_int64(ins, 5, (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec);
	sqlite3_bind_text(ins, 6, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 7, (long long)doc->text_len);
	sqlite3_bind_int64(ins, 8, (long long)time(NULL));
	rc = sqlite3_step(ins);
	sqlite3_finalize(ins);
	if (rc != SQLITE_DONE)
		return rc;
	w.doc_id = sqlite3_last_insert_rowid(s->db);
	w.text = doc->text;
	w.title = doc->title;
	rc = sqlite3_prepare_v2(s->db,
				"INSERT INTO passages(doc_id, ord, heading, start, end, "
				"char_start, char_end, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
				-1, &w.ins, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db,
					"INSERT INTO passages_fts(rowid, title, heading, body) "
					"VALUES (?1, ?2, ?3, ?4)",
					-1, &w.fts, NULL);
	if (rc == SQLITE_OK) {
		(doc->kind == DOC_KIND_TEXT ? split_passages_plain : split_passages)(
			doc->text ? doc->text : "", doc->text_len, write_passage, &w);
		rc = w.rc == SQLITE_DONE ? SQLITE_OK : w.rc;
	}
	sqlite3_finalize(w.ins);
	sqlite3_finalize(w.fts);
	return rc;
}

/* What the index knows of path: id, size, mtime, hash. 0 if nothing. */
static long long lookup(struct store *s, const char *path, long long *size, long long *mtime, char *hash,
			size_t hash_size)
{
	sqlite3_stmt *st;
	long long id = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT id, size, mtime_ns, hash FROM documents WHERE path = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		*size = sqlite3_column_int64(st, 1);
		*mtime = sqlite3_column_int64(st, 2);
		snprintf(hash, hash_size, "%s", (const char *)sqlite3_column_text(st, 3));
	}
	sqlite3_finalize(st);
	return id;
}

int corpus_read_file(const char *path, size_t max_bytes, struct qbuf *out, struct stat *st, struct q_error *err)
{
	char chunk[65536];
	int fd, flags, rc = Q_EIO;
	ssize_t n;

	/* O_NONBLOCK: a FIFO swapped in after the walk's lstat must not block
	 * the open; O_NOFOLLOW: nor may a symlink swapped in lead elsewhere. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return q_error_set(err, errno == ENOENT ? Q_EEMPTY : Q_EIO, "%s",
				   errno == ENOENT  ? "vanished while indexing"
				   : errno == ELOOP ? "became a symlink while indexing"
						    : strerror(errno));
	if (fstat(fd, st)) {
		rc = q_error_set(err, Q_EIO, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = q_error_set(err, Q_EUNSUPPORTED, "not a regular file");
		goto out;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		rc = q_error_set(err, Q_EIO, "%s", strerror(errno));
		goto out;
	}
	while (out->len < max_bytes) {
		size_t want = max_bytes - out->len < sizeof(chunk) ? max_bytes - out->len : sizeof(chunk);
		n = read(fd, chunk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = q_error_set(err, Q_EIO, "%s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (qbuf_add(out, chunk, (size_t)n)) {
			rc = q_error_set(err, out->err, "file over the size limit");
			goto out;
		}
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* Where to read an entry the walk found: how the index names it (path)
 * and the file its bytes come from (read_path: the target of a
 * symlink, else path). */
struct entry {
	const char *path;
	const char *read_path;
	int sniff; /* no extension quarry knows: read only if the head is text */
};

/* Remember a new mtime for a touched, unchanged document: one short
 * write of its own. A failure is fatal (the counts would lie). */
static void touch_doc(struct add_run *r, long long id, const struct stat *st, long long mtime)
{
	sqlite3_stmt *up;
	int rc;

	rc = sqlite3_prepare_v2(r->s->db, "UPDATE documents SET size = ?1, mtime_ns = ?2 WHERE id = ?3", -1,
				&up, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(up, 1, (long long)st->st_size);
		sqlite3_bind_int64(up, 2, mtime);
		sqlite3_bind_int64(up, 3, id);
		rc = store_step_retry(up);
		sqlite3_finalize(up);
	}
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		r->fatal = store_error(r->s, rc, "writing the index", r->err);
}

static long long mtime_ns(const struct stat *st)
{
	return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* The head of a file of unknown type: 1 if it is text, else reported. */
static int head_is_text(struct add_run *r, const struct entry *e)
{
	struct qbuf head;
	struct stat st;
	struct q_error herr;
	int text = 0, gz;

	memset(&herr, 0, sizeof(herr));
	qbuf_init(&head, SNIFF_HEAD_BYTES);
	if (corpus_read_file(e->read_path, SNIFF_HEAD_BYTES, &head, &st, &herr)) {
		report(r, herr.code == Q_EUNSUPPORTED ? CORPUS_SKIPPED : CORPUS_FAILED, e->path, herr.msg);
		goto out;
	}
	/* A gzip file (NEWS.gz) is judged after inflating, by doc_extract. */
	gz = head.len >= 2 && (unsigned char)head.data[0] == 0x1f && (unsigned char)head.data[1] == 0x8b;
	text = gz || sniff_is_text(qbuf_cstr(&head), head.len);
	if (!text)
		report(r, CORPUS_SKIPPED, e->path, head.len ? "binary content" : "empty file");
out:
	qbuf_release(&head);
	return text;
}

/* Text bytes of pending documents that make a batch: with the files cap,
 * one batch's transaction stays near 100 ms on a loaded 2-core machine,
 * while each commit still carries enough for FTS5's merge cost to stay a
 * few percent (see CORPUS_BATCH_FILES). */
#define CORPUS_BATCH_TEXT_BYTES (4.0 * 1024 * 1024)

static void pending_release(struct pending_doc *p)
{
	q_free(p->path);
	doc_release(&p->doc);
	memset(p, 0, sizeof(*p));
}

/* Write one pending document inside the open batch. */
static int write_pending(struct add_run *r, struct pending_doc *p)
{
	long long size = -1, mtime = -1, id_now;
	char hash_now[32] = "";
	int rc;

	/* Another quarry may have stored this path since the lookup before
	 * extracting, which ran outside the write transaction: look again. */
	id_now = lookup(r->s, p->path, &size, &mtime, hash_now, sizeof(hash_now));
	if (id_now && id_now != p->id && !strcmp(p->hash, hash_now)) {
		report(r, CORPUS_UNCHANGED, p->path, NULL);
		return 0;
	}
	rc = store_doc(r->s, id_now, p->path, &p->st, p->hash, &p->doc);
	if (rc != SQLITE_OK)
		return r->fatal = store_error(r->s, rc, "writing the index", r->err);
	r->pending_text_bytes += (double)p->doc.text_len;
	report(r, id_now ? CORPUS_UPDATED : CORPUS_ADDED, p->path, NULL);
	return 0;
}

/* Write every pending document in one short transaction. */
static void flush_pending(struct add_run *r)
{
	int i;

	if (r->n_pend && !r->fatal && batch_begin(r))
		r->fatal = r->err ? r->err->code : Q_EIO;
	for (i = 0; i < r->n_pend && !r->fatal; i++)
		write_pending(r, &r->pend[i]);
	if (r->fatal)
		batch_rollback(r);
	else if (batch_end(r))
		r->fatal = r->err ? r->err->code : Q_EIO;
	for (i = 0; i < r->n_pend; i++)
		pending_release(&r->pend[i]);
	r->n_pend = 0;
	r->pend_text_bytes = 0;
}

/* Keep an extracted document for the next batch (takes doc). */
static void queue_doc(struct add_run *r, const char *path, const struct stat *st, const char *hash,
		      long long id, struct doc *doc)
{
	struct pending_doc *p = &r->pend[r->n_pend];

	memset(p, 0, sizeof(*p));
	if (!(p->path = q_strdup(path))) {
		r->fatal = q_error_set(r->err, Q_ENOMEM, "out of memory");
		doc_release(doc);
		return;
	}
	p->st = *st;
	snprintf(p->hash, sizeof(p->hash), "%s", hash);
	p->id = id;
	p->doc = *doc;
	memset(doc, 0, sizeof(*doc));
	r->n_pend++;
	r->pend_text_bytes += (double)p->doc.text_len;
	if (r->n_pend >= CORPUS_BATCH_FILES || r->pend_text_bytes >= CORPUS_BATCH_TEXT_BYTES)
		flush_pending(r);
}

static void add_file(struct add_run *r, const struct entry *e, const struct stat *st0)
{
	long long size = -1, mtime = -1, id;
	char old_hash[32] = "", hash[32];
	struct qbuf data;
	struct doc doc;
	struct doc_options opt;
	struct q_error derr;
	struct stat st;
	int rc;

	if (seen_add(&r->seen, e->path)) {
		r->fatal = q_error_set(r->err, Q_ENOMEM, "out of memory");
		return;
	}
	if (st0->st_size > CORPUS_MAX_FILE_BYTES) {
		char why[96];
		snprintf(why, sizeof(why), "too large (%lld MB; the limit is %ld MB)",
			 (long long)st0->st_size >> 20, CORPUS_MAX_FILE_BYTES >> 20);
		report(r, CORPUS_SKIPPED, e->path, why);
		return;
	}
	id = lookup(r->s, e->path, &size, &mtime, old_hash, sizeof(old_hash));
	if (id && size == (long long)st0->st_size && mtime == mtime_ns(st0)) {
		report(r, CORPUS_UNCHANGED, e->path, NULL);
		return;
	}
	if (e->sniff && !head_is_text(r, e))
		return;
	memset(&derr, 0, sizeof(derr));
	qbuf_init(&data, CORPUS_MAX_FILE_BYTES);
	if (corpus_read_file(e->read_path, CORPUS_MAX_FILE_BYTES, &data, &st, &derr)) {
		report(r, derr.code == Q_EUNSUPPORTED ? CORPUS_SKIPPED : CORPUS_FAILED, e->path, derr.msg);
		qbuf_release(&data);
		return;
	}
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)q_fnv1a(qbuf_cstr(&data), data.len));
	if (id && !strcmp(hash, old_hash)) {
		touch_doc(r, id, &st, mtime_ns(&st)); /* touched, not changed */
		report(r, CORPUS_UNCHANGED, e->path, NULL);
		qbuf_release(&data);
		return;
	}
	memset(&opt, 0, sizeof(opt));
	opt.format = DOC_FORMAT_MARKDOWN;
	opt.filename = e->path;
	rc = doc_extract(qbuf_cstr(&data), data.len, &opt, &doc, &derr);
	qbuf_release(&data);
	if (rc) {
		report(r, rc == Q_EUNSUPPORTED ? CORPUS_SKIPPED : CORPUS_FAILED, e->path, derr.msg);
		return;
	}
	queue_doc(r, e->path, &st, hash, id, &doc);
}

/* A folder or entry the walk could not read: said, and remembered so
 * that nothing under the folder being added is dropped. */
static void walk_error(struct add_run *r, const char *path, const char *what, int errnum)
{
	char why[160];

	r->walk_failed = 1;
	snprintf(why, sizeof(why), "%s: %s", what, strerror(errnum));
	report(r, CORPUS_FAILED, path, why);
}

/* A symlinked file: its target if it may be read, else NULL (reported). */
static const char *symlink_target(struct add_run *r, const char *path, char *target, struct stat *st)
{
	if (!realpath(path, target) || stat(target, st)) {
		report(r, CORPUS_SKIPPED, path, "broken symlink");
		return NULL;
	}
	if (!S_ISREG(st->st_mode))
		return NULL; /* symlinked folders are not followed: no loops */
	if (r->follow_symlinks ||
	    (r->root && !strncmp(target, r->root, r->root_len) && target[r->root_len] == '/'))
		return target;
	{
		char why[PATH_MAX + 80];
		snprintf(why, sizeof(why),
			 "symlink to a file outside the folder (%s); "
			 "the follow_symlinks setting reads it",
			 target);
		report(r, CORPUS_SKIPPED, path, why);
	}
	return NULL;
}

static void walk_entry(struct add_run *r, const char *path, int depth);

static void walk(struct add_run *r, const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;
	char path[PATH_MAX];

	if (depth > CORPUS_MAX_DEPTH) {
		report(r, CORPUS_SKIPPED, dir, "folders nested too deep");
		return;
	}
	d = opendir(dir);
	if (!d) {
		walk_error(r, dir, "cannot read folder", errno);
		return;
	}
	for (;;) {
		errno = 0;
		if (r->fatal || !(de = readdir(d)))
			break;
		if (de->d_name[0] == '.') { /* hidden files and folders, ".", ".." */
			if (r->fn && strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
				r->fn(r->ctx, CORPUS_SKIPPED, path, CORPUS_WHY_HIDDEN); /* for -v, uncounted */
			continue;
		}
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path)) {
			walk_error(r, dir, "a name in it is too long", ENAMETOOLONG);
			continue;
		}
		walk_entry(r, path, depth);
	}
	if (errno && !r->fatal)
		walk_error(r, dir, "cannot read folder", errno);
	closedir(d);
}

static void walk_entry(struct add_run *r, const char *path, int depth)
{
	char target[PATH_MAX];
	struct entry e;
	struct stat st;
	enum sniff_name kind;

	if (lstat(path, &st)) {
		if (errno != ENOENT) /* ENOENT: deleted since readdir */
			walk_error(r, path, "cannot read", errno);
		return;
	}
	e.path = path;
	e.read_path = path;
	if (S_ISLNK(st.st_mode) && !(e.read_path = symlink_target(r, path, target, &st)))
		return;
	if (S_ISDIR(st.st_mode)) {
		walk(r, path, depth + 1);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		report(r, CORPUS_SKIPPED, path, "not a regular file");
		return;
	}
	kind = has_supported_ext(path) ? SNIFF_NAME_TEXT : sniff_name(path);
	if (kind == SNIFF_NAME_BINARY) {
		report(r, CORPUS_SKIPPED, path, "unsupported file type");
		return;
	}
	e.sniff = kind == SNIFF_NAME_UNKNOWN;
	add_file(r, &e, &st);
}

/* Drop documents under folder whose files are gone. A document the walk
 * did not see but whose file is still there (added by name, though the
 * walk skips its kind) is kept; after a walk that could not read
 * everything, nothing is dropped. */
static int drop_vanished(struct add_run *r, const char *folder)
{
	sqlite3_stmt *st;
	char prefix[PATH_MAX + 2];
	long long *ids = NULL;
	size_t n = 0, cap = 0, i;
	int rc;

	if (r->walk_failed) {
		report(r, CORPUS_KEPT, folder,
		       "some of it could not be read (see above), so no "
		       "document under it was dropped; add it again once it can be read");
		return 0;
	}
	snprintf(prefix, sizeof(prefix), "%s/", folder);
	qsort(r->seen.paths, r->seen.n, sizeof(char *), cmp_str);
	flush_pending(r);
	if (r->fatal)
		return r->fatal;
	if (batch_begin(r)) /* look up inside the write transaction */
		return r->fatal = r->err ? r->err->code : Q_EIO;
	rc = sqlite3_prepare_v2(r->s->db, "SELECT id, path FROM documents WHERE substr(path, 1, ?2) = ?1", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return r->fatal = store_error(r->s, rc, "reading the index", r->err);
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)strlen(prefix));
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(st, 1);
		struct stat fs;
		if (bsearch(&p, r->seen.paths, r->seen.n, sizeof(char *), cmp_str))
			continue;
		if (!lstat(p, &fs) ? S_ISREG(fs.st_mode) : (errno != ENOENT && errno != ENOTDIR))
			continue;
		if (n == cap) {
			long long *g = q_reallocarray(ids, cap ? cap * 2 : 64, sizeof(*ids));
			if (!g)
				break;
			ids = g;
			cap = cap ? cap * 2 : 64;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
		report(r, CORPUS_REMOVED, p, "no longer there");
	}
	sqlite3_finalize(st);
	for (i = 0; i < n && !r->fatal; i++) {
		if ((rc = delete_doc(r->s, ids[i])) != SQLITE_OK)
			r->fatal = store_error(r->s, rc, "removing from the index", r->err);
	}
	q_free(ids);
	if (!r->fatal && batch_end(r))
		r->fatal = r->err ? r->err->code : Q_EIO;
	return r->fatal;
}

int corpus_add(struct store *s, char *const *paths, int n, corpus_progress_fn fn, void *ctx,
	       struct corpus_counts *counts, struct q_error *err)
{
	return corpus_add_with(s, paths, n, NULL, fn, ctx, counts, err);
}

int corpus_add_with(struct store *s, char *const *paths, int n, const struct corpus_add_options *o,
		    corpus_progress_fn fn, void *ctx, struct corpus_counts *counts, struct q_error *err)
{
	struct add_run r;
	int i;

	memset(&r, 0, sizeof(r));
	memset(counts, 0, sizeof(*counts));
	r.s = s;
	r.fn = fn;
	r.ctx = ctx;
	r.counts = counts;
	r.err = err;
	r.follow_symlinks = o && o->follow_symlinks;
	if (!(r.pend = q_calloc(CORPUS_BATCH_FILES, sizeof(*r.pend))))
		return q_error_set(err, Q_ENOMEM, "out of memory");
	doc_global_init();
	for (i = 0; i < n && !r.fatal; i++) {
		char real[PATH_MAX];
		struct stat st;
		struct entry e;

		if (!realpath(paths[i], real) || stat(real, &st)) {
			report(&r, CORPUS_FAILED, paths[i], strerror(errno));
			continue;
		}
		e.path = e.read_path = real;
		e.sniff = 0; /* named by the user: always tried */
		if (S_ISDIR(st.st_mode)) {
			r.root = real;
			r.root_len = strlen(real);
			r.walk_failed = 0;
			walk(&r, real, 0);
			if (!r.fatal)
				drop_vanished(&r, real);
			r.root = NULL;
		} else if (S_ISREG(st.st_mode)) {
			add_file(&r, &e, &st);
		} else {
			report(&r, CORPUS_SKIPPED, paths[i], "not a file or folder");
		}
	}
	flush_pending(&r);
	if (!r.fatal && batch_end(&r))
		r.fatal = err ? err->code : Q_EIO;
	if (r.fatal)
		batch_rollback(&r);
	seen_release(&r.seen);
	q_free(r.pend);
	return r.fatal;
}

int corpus_remove(struct store *s, char *const *paths, int n, long *removed, struct q_error *err)
{
	sqlite3_stmt *st;
	int i, rc;

	*removed = 0;
	if (store_begin_write(s, "removing from the index", err))
		return err ? err->code : Q_EIO;
	for (i = 0; i < n; i++) {
		char real[PATH_MAX], prefix[PATH_MAX + 2];
		const char *p = realpath(paths[i], real) ? real : paths[i];

		snprintf(prefix, sizeof(prefix), "%s/", p);
		rc = sqlite3_prepare_v2(s->db,
					"SELECT id FROM documents WHERE path = ?1 OR substr(path, 1, ?3) = ?2",
					-1, &st, NULL);
		if (rc != SQLITE_OK)
			goto fail;
		sqlite3_bind_text(st, 1, p, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, prefix, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 3, (int)strlen(prefix));
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			int drc = delete_doc(s, sqlite3_column_int64(st, 0));
			if (drc != SQLITE_OK) {
				sqlite3_finalize(st);
				rc = drc;
				goto fail;
			}
			(*removed)++;
		}
		sqlite3_finalize(st);
	}
	if (store_commit(s, "removing from the index", err))
		return err ? err->code : Q_EIO;
	return 0;
fail:
	i = store_error(s, rc, "removing from the index", err);
	store_rollback(s);
	return i;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

int corpus_passages(struct store *s, const char *path, corpus_passage_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int n = 0, rc;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT d.title, p.heading, p.body, d.kind FROM passages p "
			       "JOIN documents d ON d.id = p.doc_id WHERE d.path = ?1 ORDER BY p.ord",
			       -1, &st, NULL) != SQLITE_OK)
		return Q_EIO;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fn(ctx, col_text(st, 0), col_text(st, 1), col_text(st, 2), col_text(st, 3));
		n++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? n : Q_EIO;
}

long corpus_document_count(struct store *s)
{
	return (long)store_query_int(s, "SELECT count(*) FROM documents");
}

long corpus_list(struct store *s, int flags, long max_docs, corpus_doc_fn fn, void *ctx, struct q_error *err)
{
	static const char *const sql[4] = {
		"SELECT id, path, title, kind, size, chars, indexed_at, -1 FROM documents "
		"ORDER BY path LIMIT ?",
		"SELECT id, path, title, kind, size, chars, indexed_at, -1 FROM documents "
		"ORDER BY id DESC LIMIT ?",
		"SELECT d.id, d.path, d.title, d.kind, d.size, d.chars, d.indexed_at, "
		"(SELECT count(*) FROM passages p WHERE p.doc_id = d.id) FROM documents d "
		"ORDER BY d.path LIMIT ?",
		"SELECT d.id, d.path, d.title, d.kind, d.size, d.chars, d.indexed_at, "
		"(SELECT count(*) FROM passages p WHERE p.doc_id = d.id) FROM documents d "
		"ORDER BY d.id DESC LIMIT ?"};
	sqlite3_stmt *st = NULL;
	long n = 0;
	int rc;

	rc = sqlite3_prepare_v2(s->db, sql[flags & 3], -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, max_docs > 0 ? (sqlite3_int64)max_docs : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct corpus_doc d;
		const char *path = (const char *)sqlite3_column_text(st, 1);
		d.id = sqlite3_column_int64(st, 0);
		d.path = path ? path : "";
		d.title = (const char *)sqlite3_column_text(st, 2);
		d.kind = (const char *)sqlite3_column_text(st, 3);
		d.size = sqlite3_column_int64(st, 4);
		d.chars = sqlite3_column_int64(st, 5);
		d.indexed_at = sqlite3_column_int64(st, 6);
		d.passages = (long)sqlite3_column_int64(st, 7);
		fn(ctx, &d);
		n++;
	}
out:
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_error(s, rc, "listing the documents", err);
	return n;
}

int corpus_document_path(struct store *s, long long id, char **path, struct q_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*path = NULL;
	rc = sqlite3_prepare_v2(s->db, "SELECT path FROM documents WHERE id = ?", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(st, 0);
		*path = q_strdup(p ? p : "");
		rc = *path ? SQLITE_OK : SQLITE_NOMEM;
	}
out:
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return q_error_set(err, Q_ENOTFOUND, "no document %lld", id);
	if (rc == SQLITE_NOMEM)
		return q_error_set(err, Q_ENOMEM, "out of memory reading document %lld", id);
	if (rc != SQLITE_OK)
		return store_error(s, rc, "reading a document", err);
	return 0;
}

int corpus_totals(struct store *s, struct corpus_totals *t, struct q_error *err)
{
	t->documents = store_query_int(s, "SELECT count(*) FROM documents");
	t->passages = store_query_int(s, "SELECT count(*) FROM passages");
	t->text_chars = store_query_int(s, "SELECT coalesce(sum(chars), 0) FROM documents");
	if (t->documents < 0 || t->passages < 0 || t->text_chars < 0)
		return store_error(s, sqlite3_errcode(s->db), "counting the documents", err);
	return 0;
}
