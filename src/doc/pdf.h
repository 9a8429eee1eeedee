/*
 * pdf.h - text from PDF through poppler's pdftotext, run as a subprocess.
 *
 * PDF parsers are a classic attack surface and pdftotext can spin on a
 * crafted file, so it runs in its own process group with limits: CPU
 * seconds, address space, output bytes and a wall-clock deadline after
 * which the whole group is killed. The PDF goes through a private
 * temporary file (pdftotext wants a seekable input). Thread-safe: fork
 * happens with the program path resolved beforehand, and the child calls
 * only async-signal-safe functions before exec.
 */
#ifndef Q_PDF_H
#define Q_PDF_H

#include <stddef.h>

#include "doc.h"

#define PDF_MAX_TEXT_BYTES (32u * 1024 * 1024)      /* text we read back */
#define PDF_MAX_MEMORY_BYTES (1024ul * 1024 * 1024) /* RLIMIT_AS of pdftotext */
#define PDF_DEFAULT_TIMEOUT_S 30

/* 1 if data starts like a PDF ("%PDF-" within the first 1 KiB). */
int pdf_sniff(const char *data, size_t len);

/*
 * Extract text of pdf[0..len) into out->text. timeout_s 0 means the
 * default. Q_ESUBPROC if pdftotext is missing, fails or is killed;
 * Q_ETIMEOUT past the deadline.
 */
int pdf_extract(const char *pdf, size_t len, unsigned timeout_s, struct doc *out, struct q_error *err);

#endif
