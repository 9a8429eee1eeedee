/*
 * http.c - the batch fetcher on libcurl's multi interface (see http.h).
 *
 * A batch runs in two rounds: first robots.txt of every origin in the
 * batch (once each), then the URLs robots.txt allows. Both rounds use
 * run_transfers(), a plain multi loop that keeps up to max_parallel
 * transfers going and finishes each as it completes.
 *
 * Caps beyond the body's: header bytes (status lines, headers and
 * trailers of every response of one fetch, redirects included) stop at
 * HTTP_MAX_HEADER_BYTES, because libcurl keeps every header it sees and
 * an endless trailer section would otherwise grow without bound; and a
 * body that is itself a gzip file (a page.html.gz served as text/html,
 * no Content-Encoding) is inflated here, under the same byte cap, so the
 * cap always counts the bytes a reader will parse.
 */
#include "http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "../core/alloc.h"
#include "../core/pool.h"
#include "../core/version.h"
#include "../doc/zip.h"
#include "addrpolicy.h"
#include "robots.h"
#include "url.h"

#define ACCEPT_HEADER \
	"Accept: text/html,application/xhtml+xml,application/pdf;q=0.9," \
	"text/plain;q=0.8,text/markdown;q=0.8,*/*;q=0.5"

struct transfer {
	CURL *easy;
	size_t index; /* position in the caller's batch */
	struct http_response *resp;
	const struct http_options *opt;
	long cap; /* body cap decided at the first byte */
	int cap_decided;
	int too_big;
	int headers_too_big;   /* header and trailer bytes passed HTTP_MAX_HEADER_BYTES */
	size_t header_bytes;   /* of every response of this transfer, trailers included */
	int is_robots;         /* truncate instead of failing */
	char unsupported[128]; /* content type refused at the headers */
	char refused_why[64];  /* address policy refusal, if any */
	char refused_ip[64];
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers;
};

/* Where finished URLs go: done(index, &resps[index], ctx), through a pool
 * batch that runs them on pool threads, or here when it has no pool. */
struct delivery {
	http_done_fn done;
	void *ctx;
	struct http_response *resps; /* indexed by the caller's index */
	struct pool_batch batch;
};

static void deliver_one(void *arg, size_t index)
{
	struct delivery *d = arg;

	d->done(index, &d->resps[index], d->ctx);
}

static void deliver(struct delivery *d, size_t index)
{
	if (d && d->done)
		pool_submit(&d->batch, deliver_one, d, index);
}

int http_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : Q_ENET; }

void http_response_release(struct http_response *r)
{
	q_free(r->final_url);
	q_free(r->content_type);
	qbuf_release(&r->body);
	memset(r, 0, sizeof(*r));
}

static long opt_or(long v, long def) { return v > 0 ? v : def; }

/* Types we never read: refuse them at the headers instead of
 * downloading megabytes of video. */
static int type_unreadable(const char *ct)
{
	static const char *const prefixes[] = {"image/",
					       "video/",
					       "audio/",
					       "font/",
					       "application/zip",
					       "application/x-rar",
					       "application/x-7z",
					       "application/gzip",
					       "application/x-tar",
					       "application/vnd.ms-",
					       "application/x-msdownload",
					       "application/java-archive",
					       NULL};
	int i;

	for (i = 0; prefixes[i]; i++)
		if (!strncasecmp(ct, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

static void decide_cap(struct transfer *t)
{
	char *ct = NULL;

	t->cap_decided = 1;
	t->cap = opt_or(t->opt->max_bytes, HTTP_DEFAULT_MAX_BYTES);
	if (t->is_robots) {
		t->cap = ROBOTS_MAX_BYTES;
		return;
	}
	curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (!ct)
		return;
	if (!strncasecmp(ct, "application/pdf", 15) || !strncasecmp(ct, "application/x-pdf", 17) ||
	    !strncasecmp(ct, "application/octet-stream", 24))
		t->cap = opt_or(t->opt->max_pdf_bytes, HTTP_DEFAULT_MAX_PDF_BYTES);
	else if (type_unreadable(ct))
		snprintf(t->unsupported, sizeof(t->unsupported), "%s", ct);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct transfer *t = ud;
	size_t n = size * nmemb;
	struct qbuf *b = &t->resp->body;

	if (!t->cap_decided)
		decide_cap(t);
	if (t->unsupported[0])
		return 0;
	if ((long)(b->len + n) > t->cap) {
		if (t->is_robots)
			qbuf_add(b, data, (size_t)(t->cap - (long)b->len));
		t->too_big = 1;
		return 0; /* aborts the transfer */
	}
	if (qbuf_add(b, data, n))
		return 0;
	return n;
}

/* Counts header bytes; trailers arrive here too. Returning less than
 * n aborts the transfer. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct transfer *t = ud;
	size_t n = size * nmemb;

	(void)data;
	t->header_bytes += n;
	if (t->header_bytes > HTTP_MAX_HEADER_BYTES) {
		t->headers_too_big = 1;
		return 0;
	}
	return n;
}

static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct transfer *t = ud;

	(void)purpose;
	if (t->opt->allow_private) {
		if (addr_policy_refusal(&a->addr))
			t->resp->private_addr = 1;
	} else {
		const char *why = addr_policy_refusal(&a->addr);
		if (why) {
			snprintf(t->refused_why, sizeof(t->refused_why), "%s", why);
			if (a->family == AF_INET || a->family == AF_INET6) {
				char ip[64] = "";
				if (a->family == AF_INET)
					inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip,
						  sizeof(ip));
				else
					inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip,
						  sizeof(ip));
				snprintf(t->refused_ip, sizeof(t->refused_ip), "%s", ip);
			}
			return CURL_SOCKET_BAD;
		}
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* libcurl 7.88 opens its sockets without close-on-exec; every connection
 * quarry makes goes through here so a forked pdftotext inherits none. */
curl_socket_t http_open_cloexec_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)ud, (void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct transfer *t = ctx;

	(void)dt, (void)dn, (void)ut, (void)un;
	return t->opt->cancel && __atomic_load_n(t->opt->cancel, __ATOMIC_RELAXED); /* set by another thread */
}

static CURL *make_easy(struct transfer *t, const char *url)
{
	const struct http_options *o = t->opt;
	long timeout = o->timeout_ms > 0 ? o->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	long stall = o->stall_ms > 0 ? o->stall_ms : (timeout < 15000 ? timeout : 15000);
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	if (t->is_robots && timeout > HTTP_ROBOTS_TIMEOUT_MS)
		timeout = HTTP_ROBOTS_TIMEOUT_MS;
	t->headers = curl_slist_append(NULL, ACCEPT_HEADER);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT,
			 o->user_agent ? o->user_agent : HTTP_AGENT_TOKEN "/" QUARRY_VERSION);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRECTS);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 o->connect_timeout_ms > 0 ? o->connect_timeout_ms : HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, stall / 1000 > 0 ? stall / 1000 : 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, t->is_robots ? 0L : 1L);
	/* A proxy would be the address we check, not the site: none. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	if (o->cancel) {
		curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
		curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	}
	return e;
}

static void describe_failure(struct transfer *t, CURLcode cc, const char *url)
{
	struct http_response *r = t->resp;
	const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc);

	switch (cc) {
	case CURLE_ABORTED_BY_CALLBACK:
		r->rc = q_error_set(&r->err, Q_ETIMEOUT, "cancelled before %s was read", url);
		return;
	case CURLE_HTTP_RETURNED_ERROR:
		r->rc = q_error_set(&r->err, Q_EHTTP, "HTTP %ld from %s", r->status, url);
		return;
	case CURLE_WRITE_ERROR:
		if (t->headers_too_big)
			r->rc = q_error_set(
				&r->err, Q_ETOOBIG,
				"the server sent more than %d bytes of headers and trailers; the page was abandoned",
				HTTP_MAX_HEADER_BYTES);
		else if (t->unsupported[0])
			r->rc = q_error_set(
				&r->err, Q_EUNSUPPORTED,
				"unsupported content type %s: quarry reads HTML, PDF, DOCX, Markdown and text",
				t->unsupported);
		else if (t->too_big)
			r->rc = q_error_set(
				&r->err, Q_ETOOBIG,
				"body larger than %ld bytes after decoding; raise the max_bytes setting (or the max_pdf_bytes setting) to fetch it",
				t->cap);
		else
			r->rc = q_error_set(&r->err, Q_ENOMEM, "out of memory storing the body");
		return;
	case CURLE_COULDNT_CONNECT:
		if (t->refused_why[0]) {
			r->rc = q_error_set(
				&r->err, Q_EPOLICY,
				"refused to connect to %s (%s); use the allow_private setting to allow it",
				t->refused_ip[0] ? t->refused_ip : "the server", t->refused_why);
			return;
		}
		r->rc = q_error_set(&r->err, Q_ENET, "cannot connect: %s", detail);
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		r->rc = q_error_set(&r->err, Q_ENET,
				    "cannot resolve the host name (check the URL and your DNS): %s", detail);
		return;
	case CURLE_OPERATION_TIMEDOUT:
		r->rc = q_error_set(&r->err, Q_ETIMEOUT,
				    "timed out: %s; raise the timeout setting for slow sites", detail);
		return;
	case CURLE_TOO_MANY_REDIRECTS:
		r->rc = q_error_set(&r->err, Q_ENET, "more than %d redirects (a redirect loop?)",
				    HTTP_MAX_REDIRECTS);
		return;
	case CURLE_UNSUPPORTED_PROTOCOL:
		r->rc = q_error_set(&r->err, Q_EINVAL,
				    "redirected to an unsupported scheme: only http and https are fetched");
		return;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		r->rc = q_error_set(&r->err, Q_ENET, "TLS error: %s", detail);
		return;
	case CURLE_BAD_CONTENT_ENCODING:
		r->rc = q_error_set(&r->err, Q_ENET, "the server sent a damaged compressed body: %s", detail);
		return;
	default:
		r->rc = q_error_set(&r->err, Q_ENET, "transfer failed: %s", detail);
	}
}

static int is_gzip(const struct qbuf *b)
{
	return b->len >= 3 && (unsigned char)b->data[0] == 0x1f && (unsigned char)b->data[1] == 0x8b &&
	       b->data[2] == 8;
}

/* A body that is a gzip file is replaced by what it holds, at most
 * t->cap bytes of it; one level only. */
static void inflate_gzip_body(struct transfer *t)
{
	struct http_response *r = t->resp;
	struct qbuf plain;
	struct q_error zerr = {0};
	int zr;

	if (t->is_robots || !is_gzip(&r->body))
		return;
	qbuf_init(&plain, (size_t)t->cap);
	zr = zip_inflate((const unsigned char *)r->body.data, r->body.len, 16 + MAX_WBITS, &plain, &zerr);
	if (zr == Q_ETOOBIG) {
		t->too_big = 1;
		r->rc = q_error_set(
			&r->err, Q_ETOOBIG,
			"body larger than %ld bytes after decoding (a gzip file); raise the max_bytes setting to fetch it",
			t->cap);
	} else if (zr) {
		r->rc = q_error_set(&r->err, zr, "the body is gzip data that cannot be read: %s", zerr.msg);
	} else if (is_gzip(&plain)) {
		r->rc = q_error_set(&r->err, Q_EUNSUPPORTED, "nested gzip content is not read");
	} else {
		qbuf_release(&r->body);
		r->body = plain;
		return;
	}
	qbuf_release(&plain);
	qbuf_release(&r->body);
}

static void finish(struct transfer *t, CURLcode cc, const char *url)
{
	struct http_response *r = t->resp;
	char *s = NULL;
	curl_off_t v = 0;
	long redirects = 0;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &s) == CURLE_OK && s)
		r->final_url = q_strdup(s);
	s = NULL;
	if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &s) == CURLE_OK && s)
		r->content_type = q_strdup(s);
	if (curl_easy_getinfo(t->easy, CURLINFO_SIZE_DOWNLOAD_T, &v) == CURLE_OK)
		r->wire_bytes = (double)v;
	if (curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &v) == CURLE_OK)
		r->total_ms = (double)v / 1000.0;
	curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_COUNT, &redirects);
	r->redirects = (int)redirects;
	if (cc == CURLE_OK && !r->body.err) {
		r->rc = 0;
		inflate_gzip_body(t);
	} else if (t->is_robots && t->too_big) {
		r->rc = 0; /* the first ROBOTS_MAX_BYTES are what we read anyway */
	} else {
		describe_failure(t, cc, url);
	}
}

/* Run transfers ts[0..n) with up to max_parallel at once; deliver
 * each as it ends. */
static int run_transfers(struct transfer *ts, const char *const *urls, size_t n, int max_parallel,
			 struct delivery *d)
{
	CURLM *m = curl_multi_init();
	size_t next = 0, finished = 0;
	int running = 0;

	if (!m)
		return Q_ENOMEM;
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_parallel);
	while (finished < n) {
		CURLMsg *msg;
		int left, still = 0;

		while (running < max_parallel && next < n) {
			struct transfer *t = &ts[next];
			t->easy = make_easy(t, urls[next]);
			if (!t->easy || curl_multi_add_handle(m, t->easy) != CURLM_OK) {
				t->resp->rc =
					q_error_set(&t->resp->err, Q_ENOMEM, "could not start the transfer");
				if (t->easy)
					curl_easy_cleanup(t->easy);
				t->easy = NULL;
				finished++;
				deliver(d, t->index);
			} else {
				running++;
			}
			next++;
		}
		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct transfer *t = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			finish(t, msg->data.result, urls[t - ts]);
			curl_multi_remove_handle(m, t->easy);
			curl_easy_cleanup(t->easy);
			curl_slist_free_all(t->headers);
			t->easy = NULL;
			t->headers = NULL;
			running--;
			finished++;
			deliver(d, t->index);
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, ts[0].opt->cancel ? 200 : 1000, NULL);
	}
	curl_multi_cleanup(m);
	return 0;
}

/* ---- robots.txt round ---- */

struct origin {
	char name[URL_MAX_HOST + 32];
	struct robots rules;
};

struct robots_round {
	struct origin *origins;
	struct http_response *resps;
};

static void robots_done(size_t index, struct http_response *r, void *ctx)
{
	struct robots_round *rr = ctx;
	struct origin *o = &rr->origins[index];

	if (r->rc == 0 && r->status >= 200 && r->status < 300)
		robots_parse(qbuf_cstr(&r->body), r->body.len, HTTP_AGENT_TOKEN, &o->rules);
	else if (r->rc == 0 && r->status >= 500)
		o->rules.disallow_all = 1; /* RFC 9309: server error means "not now" */

	/* 4xx, unreachable: no rules, everything allowed. */
}

static size_t find_origin(struct origin *os, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(os[i].name, name))
			return i;
	return n;
}

int http_fetch_many(const char *const *urls, size_t n, const struct http_options *opt,
		    struct http_response *resps, http_done_fn done, void *ctx)
{
	struct transfer *ts = NULL, *rts = NULL;
	struct origin *origins = NULL;
	struct http_response *rresps = NULL;
	const char **fetch_urls = NULL, **robots_urls = NULL;
	size_t *origin_of = NULL;
	size_t i, n_origins = 0, n_fetch = 0;
	int max_parallel = opt->max_parallel > 0 ? opt->max_parallel : HTTP_DEFAULT_PARALLEL;
	int rc = Q_ENOMEM;
	struct url *u = NULL;
	/* cppcheck-suppress ctuuninitvar ; resps are out-parameters, each filled before it is read */
	struct delivery d = {done, ctx, resps, {0}};

	pool_batch_init(&d.batch, opt->done_parallel > 0 ? pool_shared() : NULL, (size_t)opt->done_parallel);
	if (max_parallel > HTTP_MAX_PARALLEL)
		max_parallel = HTTP_MAX_PARALLEL;
	ts = q_calloc(n, sizeof(*ts));
	origins = q_calloc(n, sizeof(*origins));
	origin_of = q_calloc(n, sizeof(*origin_of));
	fetch_urls = q_calloc(n, sizeof(*fetch_urls));
	u = q_malloc(sizeof(*u));
	if (!ts || !origins || !origin_of || !fetch_urls || !u)
		goto out;
	for (i = 0; i < n; i++) {
		memset(&resps[i], 0, sizeof(resps[i]));
		qbuf_init(&resps[i].body, SIZE_MAX / 2); /* on_body enforces the real cap */
		origin_of[i] = (size_t)-1;
		if (url_parse(urls[i], u, &resps[i].err)) {
			resps[i].rc = resps[i].err.code;
			continue;
		}
		if (!opt->ignore_robots) {
			char name[URL_MAX_HOST + 32];
			url_origin(u, name, sizeof(name));
			origin_of[i] = find_origin(origins, n_origins, name);
			if (origin_of[i] == n_origins)
				memcpy(origins[n_origins++].name, name, sizeof(name));
		}
	}
	if (n_origins) {
		struct robots_round rr;
		rts = q_calloc(n_origins, sizeof(*rts));
		rresps = q_calloc(n_origins, sizeof(*rresps));
		robots_urls = q_calloc(n_origins, sizeof(*robots_urls));
		if (!rts || !rresps || !robots_urls)
			goto out;
		for (i = 0; i < n_origins; i++) {
			size_t len = strlen(origins[i].name) + sizeof("/robots.txt");
			char *ru = q_malloc(len);
			if (!ru)
				goto out;
			snprintf(ru, len, "%s/robots.txt", origins[i].name);
			robots_urls[i] = ru;
			rts[i].index = i;
			rts[i].resp = &rresps[i];
			rts[i].opt = opt;
			rts[i].is_robots = 1;
			qbuf_init(&rresps[i].body, ROBOTS_MAX_BYTES + 1);
		}
		struct delivery rd = {robots_done, &rr, rresps, {0}};
		rr.origins = origins;
		rr.resps = rresps;
		pool_batch_init(&rd.batch, NULL, 1); /* parsing robots.txt is quick: here */
		if (run_transfers(rts, robots_urls, n_origins, max_parallel, &rd))
			goto out;
	}
	for (i = 0; i < n; i++) {
		if (resps[i].rc) {
			deliver(&d, i);
			continue;
		}
		if (origin_of[i] != (size_t)-1) {
			url_parse(urls[i], u, NULL);
			char pq[URL_MAX_BYTES * 2 + 2];
			snprintf(pq, sizeof(pq), "%s%s%s", u->path, u->has_query ? "?" : "", u->query);
			if (!robots_allowed(&origins[origin_of[i]].rules, pq)) {
				resps[i].rc = q_error_set(
					&resps[i].err, Q_EROBOTS,
					"robots.txt of %s does not allow %s; use the ignore_robots setting to fetch it anyway",
					origins[origin_of[i]].name, u->path);
				deliver(&d, i);
				continue;
			}
		}
		ts[n_fetch].index = i;
		ts[n_fetch].resp = &resps[i];
		ts[n_fetch].opt = opt;
		fetch_urls[n_fetch] = urls[i];
		n_fetch++;
	}
	rc = run_transfers(ts, fetch_urls, n_fetch, max_parallel, &d);
out:
	pool_batch_wait(&d.batch); /* every done has returned */
	for (i = 0; i < n_origins; i++) {
		robots_release(&origins[i].rules);
		if (rresps)
			http_response_release(&rresps[i]);
		if (robots_urls)
			q_free((void *)robots_urls[i]);
	}
	q_free(robots_urls);
	q_free(rresps);
	q_free(rts);
	q_free(ts);
	q_free(origins);
	q_free(origin_of);
	q_free(fetch_urls);
	q_free(u);
	return rc;
}
