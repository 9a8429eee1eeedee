/*
 * url.c - URL parsing, resolution and normal form (see url.h).
 */
#include "url.h"

#include <stdio.h>
#include <string.h>

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static int bad_char(unsigned char c) { return c <= 0x20 || c == 0x7f; }

/* Remove "." and ".." segments from path in place (RFC 3986 5.2.4). The
 * output never outruns the input, so one buffer serves both. */
static void remove_dot_segments(char *path)
{
	char *in = path, *out = path;

	while (*in) {
		if (!strncmp(in, "../", 3)) {
			in += 3;
		} else if (!strncmp(in, "./", 2)) {
			in += 2;
		} else if (!strncmp(in, "/./", 3)) {
			in += 2;
		} else if (!strcmp(in, "/.")) {
			in[1] = '\0';
		} else if (!strncmp(in, "/../", 4) || !strcmp(in, "/..")) {
			if (in[3] == '\0')
				in[2] = '/';
			in += in[3] == '\0' ? 2 : 3;
			while (out > path && *--out != '/')
				;
		} else if (!strcmp(in, ".") || !strcmp(in, "..")) {
			*in = '\0';
		} else {
			if (*in == '/')
				*out++ = *in++;
			while (*in && *in != '/')
				*out++ = *in++;
		}
	}
	*out = '\0';
}

static int parse_host_port(const char *s, size_t n, struct url *u, struct q_error *err)
{
	const char *at = memchr(s, '@', n), *colon = NULL, *end = s + n;
	size_t hlen, i;

	/* Userinfo is accepted but never kept: credentials must not travel
	 * into logs or normal forms. */
	if (at) {
		const char *last = at;
		while ((at = memchr(last + 1, '@', (size_t)(end - last - 1))))
			last = at;
		s = last + 1;
		n = (size_t)(end - s);
	}
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return q_error_set(err, Q_EINVAL, "bad IPv6 address in URL");
		hlen = (size_t)(close - s - 1);
		if (hlen == 0 || hlen >= URL_MAX_HOST)
			return q_error_set(err, Q_EINVAL, "bad IPv6 address in URL");
		for (i = 0; i < hlen; i++) {
			char c = s[1 + i];
			if (!(c == ':' || c == '.' || (c >= '0' && c <= '9') ||
			      (lower(c) >= 'a' && lower(c) <= 'f')))
				return q_error_set(err, Q_EINVAL, "bad IPv6 address in URL");
			u->host[i] = (char)lower(c);
		}
		u->host[hlen] = '\0';
		u->is_ipv6 = 1;
		if (close + 1 < end) {
			if (close[1] != ':')
				return q_error_set(err, Q_EINVAL, "bad characters after IPv6 address");
			colon = close + 1;
		}
	} else {
		colon = memchr(s, ':', n);
		hlen = colon ? (size_t)(colon - s) : n;
		if (hlen == 0)
			return q_error_set(err, Q_EINVAL, "URL has no host");
		if (hlen >= URL_MAX_HOST)
			return q_error_set(err, Q_EINVAL, "host name too long");
		for (i = 0; i < hlen; i++) {
			unsigned char c = (unsigned char)s[i];
			if (bad_char(c) || strchr("<>\"{}|\\^`%", c))
				return q_error_set(err, Q_EINVAL, "bad character in host name");
			u->host[i] = (char)lower(c);
		}
		u->host[hlen] = '\0';
		while (hlen > 1 && u->host[hlen - 1] == '.')
			u->host[--hlen] = '\0'; /* "example.com." */
	}
	if (colon && colon + 1 < end) {
		unsigned long port = 0;
		const char *p;
		for (p = colon + 1; p < end; p++) {
			if (*p < '0' || *p > '9' || port > 65535)
				return q_error_set(err, Q_EINVAL, "bad port in URL");
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			return q_error_set(err, Q_EINVAL, "bad port in URL");
		u->port = (unsigned)port;
	}
	return 0;
}

int url_parse(const char *s, struct url *u, struct q_error *err)
{
	size_t len = strlen(s), i, n;
	const char *p, *auth, *auth_end, *q, *frag;

	memset(u, 0, sizeof(*u));
	while (len && (unsigned char)*s <= ' ') {
		s++;
		len--;
	}
	while (len && (unsigned char)s[len - 1] <= ' ')
		len--;
	if (len >= URL_MAX_BYTES)
		return q_error_set(err, Q_EINVAL, "URL longer than %d bytes", URL_MAX_BYTES - 1);
	for (i = 0; i < len; i++)
		if (bad_char((unsigned char)s[i]))
			return q_error_set(err, Q_EINVAL, "URL contains spaces or control characters");
	p = memchr(s, ':', len);
	if (!p || p == s || (size_t)(p - s) >= sizeof(u->scheme))
		return q_error_set(err, Q_EINVAL, "not an absolute URL (expected http:// or https://)");
	for (i = 0; s + i < p; i++)
		u->scheme[i] = (char)lower(s[i]);
	if (strcmp(u->scheme, "http") && strcmp(u->scheme, "https"))
		return q_error_set(err, Q_EINVAL,
				   "unsupported URL scheme '%s': only http and https are fetched", u->scheme);
	if (len - (size_t)(p - s) < 3 || p[1] != '/' || p[2] != '/')
		return q_error_set(err, Q_EINVAL, "URL must start with %s://", u->scheme);
	u->port = strcmp(u->scheme, "https") ? 80 : 443;
	auth = p + 3;
	frag = memchr(auth, '#', len - (size_t)(auth - s));
	n = frag ? (size_t)(frag - s) : len;
	auth_end = auth;
	while (auth_end < s + n && *auth_end != '/' && *auth_end != '?')
		auth_end++;
	if (parse_host_port(auth, (size_t)(auth_end - auth), u, err))
		return err ? err->code : Q_EINVAL;
	q = memchr(auth_end, '?', (size_t)(s + n - auth_end));
	if (*auth_end == '/') {
		size_t plen = (size_t)((q ? q : s + n) - auth_end);
		memcpy(u->path, auth_end, plen);
		u->path[plen] = '\0';
		remove_dot_segments(u->path);
	}
	if (!u->path[0]) {
		u->path[0] = '/';
		u->path[1] = '\0';
	}
	if (q) {
		size_t qlen = (size_t)(s + n - q - 1);
		memcpy(u->query, q + 1, qlen);
		u->query[qlen] = '\0';
		u->has_query = 1;
	}
	return 0;
}

int url_origin(const struct url *u, char *out, size_t out_size)
{
	unsigned def = strcmp(u->scheme, "https") ? 80 : 443;
	int k;

	if (u->port == def)
		k = snprintf(out, out_size, u->is_ipv6 ? "%s://[%s]" : "%s://%s", u->scheme, u->host);
	else
		k = snprintf(out, out_size, u->is_ipv6 ? "%s://[%s]:%u" : "%s://%s:%u", u->scheme, u->host,
			     u->port);
	return (k < 0 || (size_t)k >= out_size) ? Q_ETOOBIG : 0;
}

/* Tracking parameters: exact names, then prefixes. Each is added by an ad
 * network, a mailer or a share button, and servers ignore them. Names a
 * site may use for content (id, ref, source, s) are not here. */
static const char *const tracking_names[] = {
	"fbclid",  "gclid",       "dclid",      "gbraid",  "wbraid",    "msclkid",  "yclid",
	"twclid",  "ttclid",      "igshid",     "mc_cid",  "mc_eid",    "ref_src",  "ref_url",
	"_ga",     "_gl",         "_hsenc",     "_hsmi",   "__hstc",    "__hssc",   "__hsfp",
	"mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "wickedid", "srsltid",
};
static const char *const tracking_prefixes[] = {"utm_"};

int url_is_tracking_param(const char *name, size_t len)
{
	const char *eq = memchr(name, '=', len);
	size_t i, n = eq ? (size_t)(eq - name) : len;

	for (i = 0; i < sizeof(tracking_names) / sizeof(tracking_names[0]); i++)
		if (strlen(tracking_names[i]) == n && memcmp(name, tracking_names[i], n) == 0)
			return 1;
	for (i = 0; i < sizeof(tracking_prefixes) / sizeof(tracking_prefixes[0]); i++) {
		size_t k = strlen(tracking_prefixes[i]);
		if (n > k && memcmp(name, tracking_prefixes[i], k) == 0)
			return 1;
	}
	return 0;
}

void url_drop_tracking(struct url *u)
{
	char *r = u->query, *w = u->query; /* the kept text never outruns the read */

	while (*r) {
		size_t n = strcspn(r, "&");
		if (n > 0 && !url_is_tracking_param(r, n)) {
			if (w != u->query)
				*w++ = '&';
			memmove(w, r, n);
			w += n;
		}
		r += n + (r[n] == '&');
	}
	*w = '\0';
	if (w == u->query)
		u->has_query = 0;
}

int url_canonical(const char *s, char *out, size_t out_size, struct q_error *err)
{
	struct url u;
	int rc;

	if ((rc = url_parse(s, &u, err)))
		return rc;
	url_drop_tracking(&u);
	return url_format(&u, out, out_size);
}

int url_format(const struct url *u, char *out, size_t out_size)
{
	size_t k;
	int m;

	if (url_origin(u, out, out_size))
		return Q_ETOOBIG;
	k = strlen(out);
	m = snprintf(out + k, out_size - k, "%s%s%s", u->path, u->has_query ? "?" : "", u->query);
	return (m < 0 || (size_t)m >= out_size - k) ? Q_ETOOBIG : 0;
}

int url_resolve(const char *base, const char *ref, char *out, size_t out_size, struct q_error *err)
{
	struct url b;
	char tmp[URL_MAX_BYTES * 2 + 16];
	const char *r = ref;
	int k;

	while ((unsigned char)*r <= ' ' && *r)
		r++;
	/* Absolute reference with a scheme: parse it on its own. */
	{
		const char *c = r;
		while ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		       (c > r && ((*c >= '0' && *c <= '9') || *c == '+' || *c == '-' || *c == '.')))
			c++;
		if (c > r && *c == ':') {
			struct url u;
			if (url_parse(r, &u, err))
				return err ? err->code : Q_EINVAL;
			return url_format(&u, out, out_size) ? q_error_set(err, Q_ETOOBIG, "URL too long") : 0;
		}
	}
	if (url_parse(base, &b, err))
		return err ? err->code : Q_EINVAL;
	if (r[0] == '/' && r[1] == '/') {
		k = snprintf(tmp, sizeof(tmp), "%s:%s", b.scheme, r);
	} else if (r[0] == '/') {
		char origin[URL_MAX_HOST + 32];
		url_origin(&b, origin, sizeof(origin));
		k = snprintf(tmp, sizeof(tmp), "%s%s", origin, r);
	} else if (r[0] == '?') {
		char origin[URL_MAX_HOST + 32];
		url_origin(&b, origin, sizeof(origin));
		k = snprintf(tmp, sizeof(tmp), "%s%s%s", origin, b.path, r);
	} else if (r[0] == '#' || r[0] == '\0') {
		k = url_format(&b, tmp, sizeof(tmp)) ? -1 : (int)strlen(tmp);
	} else {
		char origin[URL_MAX_HOST + 32];
		const char *slash = strrchr(b.path, '/');
		url_origin(&b, origin, sizeof(origin));
		k = snprintf(tmp, sizeof(tmp), "%s%.*s%s", origin, (int)(slash ? slash - b.path + 1 : 1),
			     slash ? b.path : "/", r);
	}
	if (k < 0 || (size_t)k >= sizeof(tmp))
		return q_error_set(err, Q_ETOOBIG, "URL too long");
	{
		struct url u;
		if (url_parse(tmp, &u, err))
			return err ? err->code : Q_EINVAL;
		if (url_format(&u, out, out_size))
			return q_error_set(err, Q_ETOOBIG, "URL too long");
	}
	return 0;
}
