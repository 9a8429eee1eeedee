/*
 * sniff.h - is a file text, judged from its name and its first bytes?
 *
 * The corpus walk meets many files without an extension quarry knows
 * (README, TODO, copyright, NEWS.gz, Makefile, notes.rst, main.c). Names
 * are judged first, so a folder of photos or archives is skipped without
 * reading a byte of it; everything else is judged from its head: text in
 * any charset quarry decodes (UTF-8, the legacy 8-bit and CJK multibyte
 * charsets) has almost no NULs or C0 control bytes, while executables,
 * images, archives and databases are full of them or start with a known
 * magic number.
 *
 * Pure functions of their arguments: thread-safe.
 */
#ifndef Q_SNIFF_H
#define Q_SNIFF_H

#include <stddef.h>

/* Bytes of a file's head that sniff_is_text looks at. */
#define SNIFF_HEAD_BYTES 8192

enum sniff_name {
	SNIFF_NAME_UNKNOWN = 0, /* decide from the bytes */
	SNIFF_NAME_TEXT,        /* a text format read as plain text (.rst, .c, .json...) */
	SNIFF_NAME_BINARY       /* images, audio, video, archives, objects: not read */
};

/* Judge a file name (a path's last part; a trailing ".gz" is looked
 * through: "notes.rst.gz" is text, "x.tar.gz" binary). */
enum sniff_name sniff_name(const char *path);

/* 1 if the last part of path ends in one of exts (a NULL-ended list of
 * ".ext" strings, matched without case; a trailing ".gz" is looked
 * through, and the name must be longer than the extension). */
int sniff_name_ends_in(const char *path, const char *const *exts);

/* 1 if data[0..len) (a file's head, at most SNIFF_HEAD_BYTES are read)
 * looks like text, 0 if binary. An empty head is not text. */
int sniff_is_text(const char *data, size_t len);

#endif
