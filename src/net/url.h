/*
 * url.h - parse, resolve and normalise http(s) URLs.
 *
 * Enough of RFC 3986 for fetching and deduplicating web pages: scheme,
 * optional userinfo (kept out of normal form), host (names, IPv4, [IPv6]),
 * port, path, query, fragment. Parsing never allocates: struct url has
 * fixed, capped fields, and anything longer than URL_MAX_BYTES is refused.
 * Thread-safe.
 */
#ifndef Q_URL_H
#define Q_URL_H

#include <stddef.h>

#include "../core/err.h"

#define URL_MAX_BYTES 8192
#define URL_MAX_HOST 256

struct url {
	char scheme[8];          /* "http" or "https", lower case */
	char host[URL_MAX_HOST]; /* lower case; IPv6 without brackets */
	int is_ipv6;
	unsigned port;             /* explicit or the scheme's default */
	char path[URL_MAX_BYTES];  /* starts with '/', never empty */
	char query[URL_MAX_BYTES]; /* without '?', "" if none */
	int has_query;
};

/*
 * Parse an absolute http or https URL. Returns 0; Q_EINVAL with a message
 * for anything else (no scheme, other schemes, bad port, bad host, spaces
 * or control characters, too long).
 */
int url_parse(const char *s, struct url *out, struct q_error *err);

/*
 * Resolve ref against base (RFC 3986 section 5), writing an absolute URL
 * into out (out_size bytes). Returns 0 or Q_EINVAL / Q_ETOOBIG.
 */
int url_resolve(const char *base, const char *ref, char *out, size_t out_size, struct q_error *err);

/*
 * Write u in normal form: lower-case scheme and host, default port
 * dropped, dot segments removed, no fragment, no userinfo. Returns 0 or
 * Q_ETOOBIG.
 */
int url_format(const struct url *u, char *out, size_t out_size);

/* "scheme://host[:port]" of u, for per-origin caches. */
int url_origin(const struct url *u, char *out, size_t out_size);

/*
 * Whether the query parameter named by the len bytes at name (up to its
 * '=', if any) is a well-known tracker that never changes the page:
 * utm_*, fbclid, gclid, mc_cid, mc_eid, ref_src and their like (the list
 * is in url.c). Case-sensitive, as the trackers spell them.
 */
int url_is_tracking_param(const char *name, size_t len);

/* Remove tracking parameters from u's query in place, keeping the others
 * in their order; a query left empty is dropped. */
void url_drop_tracking(struct url *u);

/*
 * The canonical form of an http(s) URL, used to dedupe and show sources:
 * url_format's normal form without tracking parameters. Returns 0, or
 * Q_EINVAL (err set) / Q_ETOOBIG.
 */
int url_canonical(const char *s, char *out, size_t out_size, struct q_error *err);

#endif
