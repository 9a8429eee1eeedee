/*
 * zip.h - read one member out of a ZIP archive held in memory.
 *
 * Just enough ZIP for DOCX: the central directory, stored and deflated
 * members, no ZIP64, no encryption. Every offset and size read from the
 * archive is bounds-checked, and inflation stops at the caller's cap
 * whatever the header claims (a zip bomb costs at most max_bytes).
 * Thread-safe.
 */
#ifndef Q_ZIP_H
#define Q_ZIP_H

#include <stddef.h>

#include "../core/err.h"
#include "../core/qbuf.h"

/*
 * Find member `name` in zip[0..len) and append its uncompressed bytes to
 * out (whose own max caps the size). Returns 0; Q_EEMPTY if there is no
 * such member; Q_EPARSE for a damaged or unsupported archive; Q_ETOOBIG
 * past out's cap.
 */
int zip_read_member(const char *zip, size_t len, const char *name, struct qbuf *out, struct q_error *err);

/*
 * Inflate src[0..n) into out, stopping at out's cap whatever the stream
 * claims. window_bits as for zlib's inflateInit2: -15 raw deflate (ZIP),
 * 16 + 15 gzip. Q_EPARSE for damaged or truncated data, Q_ETOOBIG.
 */
int zip_inflate(const unsigned char *src, size_t n, int window_bits, struct qbuf *out, struct q_error *err);

/* 1 if data looks like a ZIP archive (local header signature). */
int zip_sniff(const char *data, size_t len);

#endif
