/*
 * charset.h - find a document's character encoding and convert it to UTF-8.
 *
 * Detection follows the spirit of the WHATWG encoding sniffing algorithm,
 * with one deliberate difference: labels lie. Order of evidence:
 *   1. a byte-order mark (UTF-8, UTF-16LE/BE) wins outright;
 *   2. bytes that are valid UTF-8 with non-ASCII content are UTF-8 whatever
 *      the label says (a page labelled gb2312 that is really UTF-8 is the
 *      most common mislabelling on the Chinese web);
 *   3. the HTTP Content-Type charset, then a <meta charset> / http-equiv
 *      in the first 4 KiB;
 *   4. no usable label: try the CJK legacy encodings and keep the one that
 *      decodes cleanly with the most CJK characters, else windows-1252.
 * Labels are mapped to supersets the way browsers do (gb2312 and gbk ->
 * GB18030, shift_jis -> CP932, euc-kr -> CP949, iso-8859-1 and ascii ->
 * windows-1252).
 *
 * Conversion uses glibc iconv; bytes that do not decode become U+FFFD,
 * never passed through. All functions are thread-safe.
 */
#ifndef Q_CHARSET_H
#define Q_CHARSET_H

#include <stddef.h>

#include "../core/err.h"
#include "../core/qbuf.h"

/* Longest canonical charset name we return, terminator included. */
#define CHARSET_NAME_MAX 32

/*
 * Map a label ("GB2312", "x-sjis", "latin1") to the iconv name we decode
 * it with. Writes into out (CHARSET_NAME_MAX bytes). Returns 0, or
 * Q_EUNSUPPORTED for a label we do not know (out is then "").
 */
int charset_canonical(const char *label, char *out);

/*
 * Find a charset= parameter in a Content-Type value; copies the raw label
 * into out (CHARSET_NAME_MAX bytes). Returns 1 if found, else 0.
 */
int charset_from_content_type(const char *content_type, char *out);

/*
 * Decide the encoding of data[0..len). http_label may be NULL. is_html
 * enables the <meta> prescan. Writes the iconv name into out.
 */
void charset_detect(const char *data, size_t len, const char *http_label, int is_html, char *out);

/*
 * Convert data from charset (an iconv name from charset_detect or
 * charset_canonical) to UTF-8, appending to out. A leading BOM is dropped.
 * Returns 0, or out->err / Q_EUNSUPPORTED with err filled.
 */
int charset_to_utf8(const char *data, size_t len, const char *charset, struct qbuf *out, struct q_error *err);

#endif
