/*
 * auth.c - who may talk to the server: the token, the Host and Origin
 * checks, and the per-token request rate.
 *
 * The token is the only credential. Scripts send it as
 * "Authorization: Bearer"; a browser gets it once through the login URL
 * and then carries it as an HttpOnly, SameSite=Strict cookie, so page
 * scripts never see it and other sites' pages never send it.
 *
 * A page on another site can still aim requests at 127.0.0.1 through DNS
 * rebinding (its own name resolving to loopback): its requests carry its
 * own name as Host, so a Host that is not one of ours is refused. A form
 * on another site posting here carries its Origin: state-changing
 * requests from a foreign Origin (or one a browser marks cross-site) are
 * refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/sha256.h"
#include "serve_int.h"

int serve_token_equal(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), i;
	unsigned char diff = na != nb;

	for (i = 0; i < na && i < nb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* The first line of path into out; the file must be private (0600). */
static int read_token_file(const char *path, char *out, size_t out_size, struct q_error *err)
{
	struct stat st;
	FILE *f = NULL;
	size_t n;
	int rc = Q_EIO;

	f = fopen(path, "r");
	if (!f) {
		q_error_set(err, Q_EIO, "cannot read the token file %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		q_error_set(err, Q_EINVAL,
			    "the token file %s can be read by others (mode %03o); run 'chmod 600 %s'", path,
			    (unsigned)(st.st_mode & 0777), path);
		rc = Q_EINVAL;
		goto out;
	}
	if (!fgets(out, (int)out_size, f)) {
		q_error_set(err, Q_EINVAL, "the token file %s is empty", path);
		rc = Q_EINVAL;
		goto out;
	}
	n = strcspn(out, "\r\n");
	out[n] = 0;
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		out[--n] = 0;
	if (n < 16) {
		q_error_set(err, Q_EINVAL,
			    "the token in %s is %zu bytes; use at least 16 (e.g. 'openssl rand -hex 32')",
			    path, n);
		rc = Q_EINVAL;
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	return rc;
}

int serve_token_load(const char *home, const char *token_file, char *out, size_t out_size, int *generated,
		     struct q_error *err)
{
	char path[4200];
	unsigned char raw[32];
	int fd, i;
	FILE *f;

	*generated = 0;
	if (token_file)
		return read_token_file(token_file, out, out_size, err);
	snprintf(path, sizeof(path), "%s/%s", home, SERVE_TOKEN_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return read_token_file(path, out, out_size, err);
	if (fd < 0)
		return q_error_set(err, Q_EIO, "cannot create the token file %s: %s", path, strerror(errno));
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw) || out_size < 65) {
		close(fd);
		unlink(path);
		return q_error_set(err, Q_EIO, "cannot get random bytes for the token");
	}
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	f = fdopen(fd, "w");
	if (!f || fprintf(f, "%s\n", out) < 0 || fclose(f) != 0) {
		if (!f)
			close(fd);
		unlink(path);
		return q_error_set(err, Q_EIO, "cannot write the token file %s", path);
	}
	*generated = 1;
	return 0;
}

/* The host part of a Host value (no port, brackets kept off) into out. */
static void host_part(const char *host, char *out, size_t out_size)
{
	const char *end;
	size_t n;

	if (host[0] == '[') {
		end = strchr(host, ']');
		host++;
		n = end ? (size_t)(end - host) : strlen(host);
	} else {
		end = strchr(host, ':');
		n = end ? (size_t)(end - host) : strlen(host);
	}
	if (n >= out_size)
		n = out_size - 1;
	memcpy(out, host, n);
	out[n] = 0;
}

static int is_ip_literal(const char *h)
{
	size_t i;
	int dots = 0;

	if (strchr(h, ':')) /* IPv6 (only from a bracketed Host) */
		return 1;
	for (i = 0; h[i]; i++) {
		if (h[i] == '.')
			dots++;
		else if (h[i] < '0' || h[i] > '9')
			return 0;
	}
	return dots == 3;
}

int serve_check_host(struct serve *s, struct serve_req *r)
{
	const char *host = serve_header(r, "Host");
	char h[256];
	size_t i;

	if (!host || !*host) {
		serve_reply_error(r, 400, "bad_request", NULL, "the request has no Host header");
		return -1;
	}
	host_part(host, h, sizeof(h));
	if (!strcasecmp(h, "localhost") || !strcmp(h, "127.0.0.1") || !strcmp(h, "::1") ||
	    !strcasecmp(h, s->listen_host))
		return 0;
	if (s->wildcard && is_ip_literal(h))
		return 0;
	for (i = 0; s->allowed_hosts[i]; i++)
		if (!strcasecmp(h, s->allowed_hosts[i]))
			return 0;
	serve_reply_error(r, 421, "foreign_host", NULL,
			  "the Host '%s' is not this server's name; open it by its address "
			  "(http://127.0.0.1:%d/) or start serve with --allowed-host %s",
			  h, s->port, h);
	return -1;
}

int serve_check_origin(struct serve *s, struct serve_req *r)
{
	const char *m = serve_method(r), *origin = serve_header(r, "Origin");
	const char *host = serve_header(r, "Host"), *site = serve_header(r, "Sec-Fetch-Site");
	const char *rest;

	if (!strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS"))
		return 0;
	if (origin) {
		rest = !strncmp(origin, "http://", 7)    ? origin + 7
		       : !strncmp(origin, "https://", 8) ? origin + 8
							 : NULL;
		if (rest && host && !strcasecmp(rest, host))
			return 0;
		goto refuse;
	}
	if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
		goto refuse;
	return 0;
refuse:
	serve_reply_error(r, 403, "foreign_origin", NULL,
			  "requests that change something must come from this server's own pages "
			  "(Origin %s is not http://%s)",
			  origin ? origin : "(cross-site)", host ? host : "?");
	return -1;
}

/* The value of cookie name in a Cookie header into out, or 0. */
static int cookie_value(const char *cookies, const char *name, char *out, size_t out_size)
{
	size_t nl = strlen(name), n;
	const char *p = cookies;

	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (!strncmp(p, name, nl) && p[nl] == '=') {
			p += nl + 1;
			n = strcspn(p, ";");
			if (n >= out_size)
				return 0;
			memcpy(out, p, n);
			out[n] = 0;
			return 1;
		}
		p = strchr(p, ';');
	}
	return 0;
}

int serve_check_token(struct serve *s, struct serve_req *r, const char **token)
{
	const char *auth = serve_header(r, "Authorization"), *cookies = serve_header(r, "Cookie");
	char from_cookie[SERVE_TOKEN_MAX + 1];
	const char *given = NULL;

	if (auth && !strncasecmp(auth, "Bearer ", 7))
		given = auth + 7;
	else if (cookies && cookie_value(cookies, SERVE_COOKIE, from_cookie, sizeof(from_cookie)))
		given = from_cookie;
	if (given && serve_token_equal(given, s->token)) {
		*token = s->token;
		return 0;
	}
	serve_add_header(r, "WWW-Authenticate", "Bearer realm=\"quarry\"");
	if (!given)
		serve_reply_error(r, 401, "unauthorized", NULL,
				  "send the server's token as 'Authorization: Bearer TOKEN' (it is in "
				  "$QUARRY_HOME/%s, or open the login URL 'quarry serve' printed)",
				  SERVE_TOKEN_FILE);
	else
		serve_reply_error(r, 401, "unauthorized", NULL,
				  "the token is wrong; use the one in $QUARRY_HOME/%s or "
				  "QUARRY_SERVER_TOKEN",
				  SERVE_TOKEN_FILE);
	return -1;
}

int serve_check_rate(struct serve *s, struct serve_req *r, const char *token)
{
	unsigned char key[32];
	struct sha256 h;
	struct serve_rate_slot *slot = NULL, *oldest = &s->rate[0];
	time_t now = time(NULL);
	long long minute = (long long)now / 60;
	char retry[16];
	int i;

	if (s->limits.rate_per_min <= 0)
		return 0;
	sha256_init(&h);
	sha256_update(&h, token, strlen(token));
	sha256_final(&h, key);
	for (i = 0; i < SERVE_RATE_SLOTS; i++) {
		if (s->rate[i].used && !memcmp(s->rate[i].key, key, sizeof(key))) {
			slot = &s->rate[i];
			break;
		}
		if (!s->rate[i].used || s->rate[i].minute < oldest->minute)
			oldest = &s->rate[i];
	}
	if (!slot) {
		slot = oldest;
		memcpy(slot->key, key, sizeof(key));
		slot->used = 1;
		slot->minute = minute;
		slot->count = 0;
	}
	if (slot->minute != minute) {
		slot->minute = minute;
		slot->count = 0;
	}
	if (++slot->count <= s->limits.rate_per_min)
		return 0;
	snprintf(retry, sizeof(retry), "%ld", (long)(60 - now % 60));
	serve_add_header(r, "Retry-After", retry);
	serve_reply_error(r, 429, "rate_limited", NULL,
			  "more than %d requests this minute with this token; wait %s s "
			  "(or raise --rate-limit)",
			  s->limits.rate_per_min, retry);
	return -1;
}
