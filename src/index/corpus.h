/*
 * corpus.h - the user's documents in the index: add, remove, list, search.
 *
 * corpus_add walks files and folders (recursively, not following symlinked
 * folders, nor symlinked files that point outside the folder being added,
 * skipping hidden and binary files), reads each supported file through the
 * document pipeline (doc.h), splits it into passages (split.h) and stores
 * it. Files without an extension quarry knows (README, NEWS.gz) are read
 * when their first bytes are text (sniff.h). Files are opened without
 * following links or blocking (a FIFO swapped in is skipped). It is
 * incremental: a file whose size and mtime are unchanged is not read; one
 * whose content hash is unchanged is not re-indexed; documents under a
 * folder being added whose files are gone are dropped, but nothing is
 * dropped under a folder the walk could not wholly read (EACCES, EMFILE,
 * a stale mount). Writes happen in batches, each one transaction (BEGIN
 * IMMEDIATE; every lookup that decides a write is repeated inside it, so
 * two quarry processes adding one folder agree), so a full disk or a
 * crash never leaves half a document behind, and the counts report only
 * committed batches.
 *
 * Search takes the user's syntax: plain words (passages with all of them
 * first, then with any; ranked by BM25 with titles and headings weighing
 * more), "quoted phrases" (must
 * match), -word (must not). Very common words are handled so that search
 * stays fast at a million passages (see COMMON_DF_SHARE).
 */
#ifndef Q_CORPUS_H
#define Q_CORPUS_H

#include <stddef.h>

#include "../core/qbuf.h"
#include "store.h"

#define CORPUS_MAX_FILE_BYTES (256L * 1024 * 1024)
#define CORPUS_MAX_DEPTH 64
/* Files per transaction. Each commit makes FTS5 flush and merge its
 * pending terms: 64 cost 15% of `index add` time on real text
 * (bench-index), 1,024 a few percent. */
#define CORPUS_BATCH_FILES 1024
#define CORPUS_MAX_QUERY_BYTES 4096
/* Search: a word matching more than this share of the newest
 * COMMON_PROBE passages is "very common": it is left out when rarer terms
 * are present, and a query of only such words (or phrases of them) gets
 * the newest matching passages, unranked. Corpora under
 * COMMON_MIN_PASSAGES are searched plainly. */
#define COMMON_DF_SHARE 0.05
#define COMMON_PROBE 2000
#define COMMON_MIN_PASSAGES 50000

enum corpus_event {
	CORPUS_ADDED,
	CORPUS_UPDATED,
	CORPUS_UNCHANGED,
	CORPUS_REMOVED,
	CORPUS_SKIPPED,
	CORPUS_FAILED,
	CORPUS_KEPT /* a folder whose vanished documents were kept: the walk hit errors */
};

/* Per file, as it is handled; why is NULL or a reason ("hidden",
 * "unsupported type .png", the extraction error). */
/* The why of a hidden file or folder passed over: reported to the progress
 * function only (it is no skipped document and is not counted). */
#define CORPUS_WHY_HIDDEN "hidden"
typedef void (*corpus_progress_fn)(void *ctx, enum corpus_event ev, const char *path, const char *why);

/* Committed work only: a batch rolled back (full disk) counts nothing. */
struct corpus_counts {
	long added, updated, unchanged, removed, skipped, failed;
	long kept;         /* folders whose documents were kept after walk errors */
	double text_bytes; /* extracted text of files (re)indexed */
};

struct corpus_add_options {
	int follow_symlinks; /* read symlinked files that point outside the folder */
};

/* Add files and folders; the options may be NULL (defaults). Returns 0,
 * or the Q_E* code of a database error that stopped the run (err says
 * what); per-file problems only go to fn and the counts. */
int corpus_add(struct store *s, char *const *paths, int n, corpus_progress_fn fn, void *ctx,
	       struct corpus_counts *counts, struct q_error *err);
int corpus_add_with(struct store *s, char *const *paths, int n, const struct corpus_add_options *o,
		    corpus_progress_fn fn, void *ctx, struct corpus_counts *counts, struct q_error *err);

/* Read at most max_bytes of the regular file at path into out, opening it
 * with O_NOFOLLOW and O_NONBLOCK (so a symlink or FIFO swapped in cannot
 * redirect or block the read); *st is the descriptor's fstat. Q_EUNSUPPORTED
 * for anything but a regular file, Q_EEMPTY if it vanished, Q_EIO. */
struct stat;
int corpus_read_file(const char *path, size_t max_bytes, struct qbuf *out, struct stat *st,
		     struct q_error *err);

/* Remove documents at these paths (files, or everything under folders). */
int corpus_remove(struct store *s, char *const *paths, int n, long *removed, struct q_error *err);

/* Called for each passage of a document, in order (strings valid during
 * the call; never NULL). */
typedef void (*corpus_passage_fn)(void *ctx, const char *title, const char *heading, const char *body,
				  const char *kind);
/* The passages of the document stored under path: fn for each. The number
 * of passages (0: no such document), or Q_EIO when the database fails. */
int corpus_passages(struct store *s, const char *path, corpus_passage_fn fn, void *ctx);
/* How many documents the corpus holds; -1 when the database fails. */
long corpus_document_count(struct store *s);

/* One document as corpus_list gives it; the strings are valid during the
 * call only. path is never NULL; title and kind are NULL when unset. */
struct corpus_doc {
	long long id;
	const char *path, *title, *kind;
	long long size, chars, indexed_at; /* bytes of the file, characters of text, unix s */
	long passages;                     /* -1 unless CORPUS_LIST_PASSAGES */
};
/* Called for each listed document. */
typedef void (*corpus_doc_fn)(void *ctx, const struct corpus_doc *d);
#define CORPUS_LIST_BY_PATH 0  /* order by path */
#define CORPUS_LIST_NEWEST 1   /* newest (highest id) first */
#define CORPUS_LIST_PASSAGES 2 /* also count each document's passages */
/* The documents, in the order flags name, at most max_docs of them
 * (max_docs <= 0: all; rows are streamed to fn, nothing is held).
 * Returns the number listed, or a Q_E* code with err set. */
long corpus_list(struct store *s, int flags, long max_docs, corpus_doc_fn fn, void *ctx, struct q_error *err);
/* The path of document id into *path (caller frees with q_free).
 * 0, Q_ENOTFOUND when there is no such document, Q_ENOMEM, or Q_EIO
 * (err set) when the database fails. */
int corpus_document_path(struct store *s, long long id, char **path, struct q_error *err);
/* Whole-corpus counts; each is -1 when the database could not tell. */
struct corpus_totals {
	long long documents, passages, text_chars;
};
/* Fill *t. 0, or a Q_E* code (err set; the fields that failed are -1). */
int corpus_totals(struct store *s, struct corpus_totals *t, struct q_error *err);

struct corpus_hit {
	char *path, *title, *heading, *snippet; /* owned */
	double score;                           /* higher is better */
	long passage_id;
	long start, end;           /* bytes in the extracted text */
	long char_start, char_end; /* the same span in characters */
};

/* Top k passages for query. *hits is an array the caller frees with
 * corpus_hits_free. Q_EINVAL with a message for queries we cannot run. */
int corpus_search(struct store *s, const char *query, int k, const char *mark_open, const char *mark_close,
		  struct corpus_hit **hits, int *n, struct q_error *err);
void corpus_hits_free(struct corpus_hit *hits, int n);

/* The FTS5 expression for a user query (exposed for tests). */
int corpus_query_to_fts(const char *query, struct qbuf *out, struct q_error *err);

#endif
