/*
 * outfile.h - write a command's result where -o FILE says: "-" is
 * standard output, regular files are replaced atomically keeping their
 * mode (symlinks are followed), devices and FIFOs are written in place.
 */
#ifndef Q_CLI_OUTFILE_H
#define Q_CLI_OUTFILE_H

#include <stddef.h>

/* Write s[0..n) to path as above. 0 on success; -1 with a sentence for
 * the user in msg (msg_cap bytes, "cannot write PATH: REASON"). Nothing is
 * printed. Not thread-safe (reads the umask). */
int cli_write_output(const char *path, const char *s, size_t n, char *msg, size_t msg_cap);

/* Before long work: whether path can plausibly be written (not a
 * directory; a new file's folder exists and is writable). 0, or -1 with
 * the same kind of sentence in msg. Nothing is created. */
int cli_output_check(const char *path, char *msg, size_t msg_cap);

/* The report format a file name implies: "md", "html" or "json" for
 * .md/.markdown, .html/.htm, .json (any case); NULL for anything else. */
const char *cli_format_from_path(const char *path);

#endif
