/*
 * http.h - fetch many URLs at once, safely.
 *
 * One call fetches a batch over libcurl's multi interface (one thread,
 * up to max_parallel transfers, connections and DNS shared), then
 * returns. The rules every transfer follows:
 *   - http and https only, redirects included, at most HTTP_MAX_REDIRECTS;
 *   - the address policy (addrpolicy.h) on every connection, unless
 *     allow_private is set;
 *   - robots.txt fetched once per origin and honoured (agent "quarry"),
 *     unless ignore_robots is set;
 *   - connect and total timeouts, and an abort when a transfer stalls;
 *   - a byte cap counted on the decoded body (gzip, deflate, br, zstd),
 *     larger for PDFs, so a compression bomb stops at the cap;
 *   - a body that is itself a gzip file is inflated under the same cap;
 *   - at most HTTP_MAX_HEADER_BYTES of headers and trailers;
 *   - types we cannot read (images, video, archives) abort at the headers.
 * Results arrive through a callback as each transfer finishes, so a
 * caller can stream them in order, or extract them on the process pool
 * while the other transfers go on (done_parallel). Not re-entrant on one options object
 * from several threads at once; separate calls may run in parallel.
 */
#ifndef Q_HTTP_H
#define Q_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

#include "../core/err.h"
#include "../core/qbuf.h"

#define HTTP_MAX_REDIRECTS 5
#define HTTP_DEFAULT_MAX_BYTES (10L * 1024 * 1024)
#define HTTP_DEFAULT_MAX_PDF_BYTES (50L * 1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define HTTP_DEFAULT_PARALLEL 8
#define HTTP_MAX_PARALLEL 64
#define HTTP_ROBOTS_TIMEOUT_MS 10000L
/* Header bytes of one fetch (every response's status line, headers and
 * trailers, redirects included); real sites send a few kB. */
#define HTTP_MAX_HEADER_BYTES (256 * 1024)
#define HTTP_AGENT_TOKEN "quarry"

struct http_options {
	long timeout_ms;         /* whole transfer; 0 = default */
	long connect_timeout_ms; /* 0 = default */
	long stall_ms;           /* abort when no byte arrives for this long; 0 = min(15 s, timeout) */
	long max_bytes;          /* decoded body cap for non-PDF; 0 = default */
	long max_pdf_bytes;      /* 0 = default */
	int max_parallel;        /* 0 = default */
	int allow_private;       /* skip the address policy */
	int ignore_robots;
	const char *user_agent; /* NULL = "quarry/VERSION" */
	volatile int *cancel;   /* non-zero: transfers stop soon (Ctrl-C); may be NULL */
	int done_parallel;      /* > 0: call done on the process pool, this many at
				     once, so slow work there (extraction) never holds
				     up the transfers; 0: on the calling thread */
};

struct http_response {
	int rc; /* 0 or Q_E*; err.msg says why */
	struct q_error err;
	long status;        /* last HTTP status, 0 if none */
	char *final_url;    /* owned; after redirects */
	char *content_type; /* owned; NULL if none */
	struct qbuf body;   /* decoded body */
	double wire_bytes;  /* body bytes as transferred */
	double total_ms;
	int redirects;
	int private_addr; /* allow_private let a connection reach an address the
				     policy refuses: keep the body from runs without it */
};

/* Called once per URL when it is done (success or failure). index is
 * the URL's position in the batch. On the calling thread, between
 * transfers, unless opt->done_parallel is set: then on pool threads,
 * several at once (different indexes), and http_fetch_many returns after
 * the last one has returned. */
typedef void (*http_done_fn)(size_t index, struct http_response *resp, void *ctx);

/*
 * Fetch urls[0..n). responses must have room for n; each is initialised
 * here and must be released with http_response_release. done may be NULL.
 * Returns 0 when the batch ran (individual failures are in the
 * responses), Q_ENOMEM or Q_EINVAL if it could not start.
 */
int http_fetch_many(const char *const *urls, size_t n, const struct http_options *opt,
		    struct http_response *responses, http_done_fn done, void *ctx);

void http_response_release(struct http_response *r);

/* Call once at program start, before threads (curl_global_init). */
int http_global_init(void);

/* A CURLOPT_OPENSOCKETFUNCTION that opens the socket close-on-exec (libcurl
 * does not), for curl handles made outside this module. Thread-safe. */
curl_socket_t http_open_cloexec_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a);

#endif
