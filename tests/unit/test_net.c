/* Unit tests: URL parsing and resolution, the address policy, robots.txt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "../../src/core/clock.h"
#include "../../src/net/addrpolicy.h"
#include "../../src/net/http.h"
#include "../../src/net/robots.h"
#include "../../src/net/url.h"

static void url_parses_parts(void **state)
{
	struct url u;
	char out[URL_MAX_BYTES];

	(void)state;
	assert_int_equal(url_parse("HTTPS://User:pw@Example.COM.:8443/a/./b/../c?q=1#frag", &u, NULL), 0);
	assert_string_equal(u.scheme, "https");
	assert_string_equal(u.host, "example.com");
	assert_int_equal(u.port, 8443);
	assert_string_equal(u.path, "/a/c");
	assert_string_equal(u.query, "q=1");
	assert_int_equal(url_format(&u, out, sizeof(out)), 0);
	assert_string_equal(out, "https://example.com:8443/a/c?q=1"); /* no userinfo, no fragment */
	assert_int_equal(url_parse("http://[::1]:8080", &u, NULL), 0);
	assert_true(u.is_ipv6);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.path, "/");
	url_format(&u, out, sizeof(out));
	assert_string_equal(out, "http://[::1]:8080/");
	assert_int_equal(url_parse("http://example.com:80/", &u, NULL), 0);
	url_format(&u, out, sizeof(out));
	assert_string_equal(out, "http://example.com/");
}

static void url_rejects_bad_input(void **state)
{
	struct url u;
	struct q_error e;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(url_parse("ftp://example.com/", &u, &e), Q_EINVAL);
	assert_non_null(strstr(e.msg, "only http and https"));
	assert_int_equal(url_parse("file:///etc/passwd", &u, NULL), Q_EINVAL);
	assert_int_equal(url_parse("example.com", &u, NULL), Q_EINVAL);
	assert_int_equal(url_parse("http://", &u, NULL), Q_EINVAL);
	assert_int_equal(url_parse("http://a b/", &u, NULL), Q_EINVAL);
	assert_int_equal(url_parse("http://host:99999/", &u, NULL), Q_EINVAL);
	assert_int_equal(url_parse("http://host:0/", &u, NULL), Q_EINVAL);
	assert_int_equal(url_parse("http://[::1/", &u, NULL), Q_EINVAL);
	assert_int_equal(url_parse("http://[zz]/", &u, NULL), Q_EINVAL);
	{
		char big[URL_MAX_BYTES + 10];
		memset(big, 'a', sizeof(big));
		memcpy(big, "http://x/", 9);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(url_parse(big, &u, NULL), Q_EINVAL);
	}
}

static void url_resolves_references(void **state)
{
	char out[URL_MAX_BYTES];
	const char *base = "http://a.example/b/c/d;p?q";

	(void)state;
	/* Examples from RFC 3986 section 5.4. */
	assert_int_equal(url_resolve(base, "g", out, sizeof(out), NULL), 0);
	assert_string_equal(out, "http://a.example/b/c/g");
	url_resolve(base, "./g", out, sizeof(out), NULL);
	assert_string_equal(out, "http://a.example/b/c/g");
	url_resolve(base, "/g", out, sizeof(out), NULL);
	assert_string_equal(out, "http://a.example/g");
	url_resolve(base, "//g.example/x", out, sizeof(out), NULL);
	assert_string_equal(out, "http://g.example/x");
	url_resolve(base, "?y", out, sizeof(out), NULL);
	assert_string_equal(out, "http://a.example/b/c/d;p?y");
	url_resolve(base, "../g", out, sizeof(out), NULL);
	assert_string_equal(out, "http://a.example/b/g");
	url_resolve(base, "../../../g", out, sizeof(out), NULL);
	assert_string_equal(out, "http://a.example/g");
	url_resolve(base, "g/..", out, sizeof(out), NULL);
	assert_string_equal(out, "http://a.example/b/c/");
	url_resolve(base, "#s", out, sizeof(out), NULL);
	assert_string_equal(out, "http://a.example/b/c/d;p?q");
	url_resolve(base, "https://other.example/", out, sizeof(out), NULL);
	assert_string_equal(out, "https://other.example/");
	assert_int_equal(url_resolve(base, "javascript:alert(1)", out, sizeof(out), NULL), Q_EINVAL);
}

/* The canonical URL drops trackers and keeps every other parameter in its
 * order, whatever its place among them. */
static void url_canonical_drops_trackers(void **state)
{
	char out[URL_MAX_BYTES];

	(void)state;
	assert_int_equal(url_canonical("https://Example.com/a?utm_source=x&id=3&utm_medium=email"
				       "&fbclid=zz&b=2&gclid=1&mc_cid=c&mc_eid=e&ref_src=twsrc#top",
				       out, sizeof(out), NULL),
			 0);
	assert_string_equal(out, "https://example.com/a?id=3&b=2");
	assert_int_equal(url_canonical("http://e.org/p?utm_source=x", out, sizeof(out), NULL), 0);
	assert_string_equal(out, "http://e.org/p");
	assert_int_equal(
		url_canonical("http://e.org/p?msclkid=1&_ga=2&q=a%26b&utm_campaign", out, sizeof(out), NULL),
		0);
	assert_string_equal(out, "http://e.org/p?q=a%26b");
	/* look-alikes are content: ref, source, utm (no suffix), gclid_x */
	assert_int_equal(
		url_canonical("http://e.org/?ref=a&source=b&utm=c&gclid_x=d&&z", out, sizeof(out), NULL), 0);
	assert_string_equal(out, "http://e.org/?ref=a&source=b&utm=c&gclid_x=d&z");
	assert_int_equal(url_canonical("http://e.org/?", out, sizeof(out), NULL), 0);
	assert_string_equal(out, "http://e.org/");
	assert_int_equal(url_canonical("ftp://e.org/", out, sizeof(out), NULL), Q_EINVAL);
	assert_int_equal(url_canonical("http://e.org/", out, 8, NULL), Q_ETOOBIG);
	assert_true(url_is_tracking_param("utm_source=x", 12));
	assert_false(url_is_tracking_param("utm_=x", 6));
}

static void policy_blocks_private_ranges(void **state)
{
	static const char *const blocked[] = {"127.0.0.1",
					      "127.255.0.9",
					      "10.1.2.3",
					      "172.16.0.1",
					      "172.31.255.255",
					      "192.168.1.1",
					      "169.254.169.254",
					      "169.254.1.1",
					      "100.64.0.1",
					      "100.100.100.200",
					      "0.0.0.0",
					      "224.0.0.1",
					      "255.255.255.255",
					      "192.0.2.1",
					      "::1",
					      "::",
					      "fe80::1",
					      "fc00::1",
					      "fd00:ec2::254",
					      "ff02::1",
					      "::ffff:127.0.0.1",
					      "::ffff:10.0.0.1",
					      "64:ff9b::a9fe:a9fe",
					      "2002:7f00:1::",
					      "2001:db8::1",
					      NULL};
	static const char *const allowed[] = {"93.184.216.34",  "8.8.8.8",     "1.1.1.1",
					      "172.32.0.1",     "100.128.0.1", "2606:4700::1111",
					      "::ffff:8.8.8.8", NULL};
	int i;

	(void)state;
	for (i = 0; blocked[i]; i++) {
		if (!addr_policy_refusal_str(blocked[i]))
			fail_msg("%s should be refused", blocked[i]);
	}
	for (i = 0; allowed[i]; i++) {
		const char *why = addr_policy_refusal_str(allowed[i]);
		if (why)
			fail_msg("%s refused: %s", allowed[i], why);
	}
	assert_string_equal(addr_policy_refusal_str("169.254.169.254"), "cloud metadata address");
	assert_string_equal(addr_policy_refusal_str("127.0.0.1"), "loopback address");
}

/* IPv6 spellings of IPv4 addresses get the IPv4 answer; local-use NAT64
 * is refused; the IPv6 metadata address is named for what it is. */
static void policy_ipv6_embeddings(void **state)
{
	static const struct {
		const char *ip, *why; /* why NULL: allowed */
	} cases[] = {
		{"::ffff:127.0.0.1", "loopback address"}, /* ::ffff:0:0/96, mapped */
		{"::ffff:7f00:1", "loopback address"},
		{"::ffff:169.254.169.254", "cloud metadata address"},
		{"::ffff:8.8.8.8", NULL},
		{"::ffff:0:127.0.0.1", "loopback address"}, /* ::ffff:0:0:0/96, translated */
		{"::ffff:0:a00:1", "private address"},
		{"::ffff:0:808:808", NULL},
		{"64:ff9b::7f00:1", "loopback address"}, /* 64:ff9b::/96, well-known NAT64 */
		{"64:ff9b::192.168.0.1", "private address"},
		{"64:ff9b::a9fe:a9fe", "cloud metadata address"},
		{"64:ff9b::8.8.8.8", NULL},
		{"64:ff9b:1::7f00:1", "local-use NAT64 address"}, /* 64:ff9b:1::/48 */
		{"64:ff9b:1:ffff::808:808", "local-use NAT64 address"},
		{"64:ff9b:2::1", NULL},
		{"fd00:ec2::254", "cloud metadata address"},
		{"fd00:ec2::253", "private address"},
		{"100::1", "discard-only address"},
		{"2001:2::1", "benchmarking address"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = addr_policy_refusal_str(cases[i].ip);
		if (!cases[i].why != !why || (why && strcmp(why, cases[i].why)))
			fail_msg("%s: got %s, want %s", cases[i].ip, why ? why : "allowed",
				 cases[i].why ? cases[i].why : "allowed");
	}
}

static void robots_longest_match_wins(void **state)
{
	struct robots r;
	const char *txt = "# comment\n"
			  "User-agent: otherbot\nDisallow: /\n\n"
			  "User-agent: *\nDisallow: /private\nAllow: /private/open\nDisallow: /*.pdf$\n"
			  "Disallow:\n";

	(void)state;
	assert_int_equal(robots_parse(txt, strlen(txt), "quarry", &r), 0);
	assert_true(robots_allowed(&r, "/"));
	assert_false(robots_allowed(&r, "/private/x"));
	assert_true(robots_allowed(&r, "/private/open/x"));
	assert_false(robots_allowed(&r, "/docs/a.pdf"));
	assert_true(robots_allowed(&r, "/docs/a.pdf?x=1"));
	robots_release(&r);
}

static void robots_specific_group_beats_star(void **state)
{
	struct robots r;
	const char *txt =
		"User-agent: *\nDisallow: /\n\nUser-agent: Quarry/1.0\nUser-agent: x\nDisallow: /tmp\n";

	(void)state;
	assert_int_equal(robots_parse(txt, strlen(txt), "quarry", &r), 0);
	assert_true(robots_allowed(&r, "/page"));
	assert_false(robots_allowed(&r, "/tmp/a"));
	robots_release(&r);
	txt = "User-agent: *\r\nDisallow: /\r\n";
	robots_parse(txt, strlen(txt), "quarry", &r);
	assert_false(robots_allowed(&r, "/anything"));
	robots_release(&r);
	robots_parse("", 0, "quarry", &r);
	assert_true(robots_allowed(&r, "/anything"));
	r.disallow_all = 1;
	assert_false(robots_allowed(&r, "/anything"));
	robots_release(&r);
}

static void robots_wildcards(void **state)
{
	struct robots r;
	const char *txt = "User-agent: *\nDisallow: /*/edit\nDisallow: /a*b*c$\n";

	(void)state;
	robots_parse(txt, strlen(txt), "quarry", &r);
	assert_false(robots_allowed(&r, "/wiki/edit"));
	assert_false(robots_allowed(&r, "/wiki/page/edit?x"));
	assert_true(robots_allowed(&r, "/wiki/view"));
	assert_false(robots_allowed(&r, "/a-b-c"));
	assert_true(robots_allowed(&r, "/a-b-c-d"));
	robots_release(&r);
}

/* Rules that made the old backtracking matcher cost seconds per URL: a
 * robots.txt full of long literal runs after a '*', against a long path
 * that almost matches each of them. Must stay linear in the input. */
static void robots_pathological_rules_are_fast(void **state)
{
	static char txt[ROBOTS_MAX_BYTES + 1], path[URL_MAX_BYTES];
	struct robots r;
	size_t k = 0;
	double t0, ms;
	int i;

	(void)state;
	k += (size_t)snprintf(txt, sizeof(txt), "User-agent: *\n");
	while (k + 1100 < ROBOTS_MAX_BYTES) {
		memcpy(txt + k, "Disallow: /*", 12);
		k += 12;
		memset(txt + k, 'a', 1000);
		k += 1000;
		memcpy(txt + k, "b*c$\n", 5);
		k += 5;
	}
	txt[k] = '\0';
	path[0] = '/';
	memset(path + 1, 'a', sizeof(path) - 2);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(robots_parse(txt, k, "quarry", &r), 0);
	assert_true(r.n > 400);
	t0 = q_now_ms();
	for (i = 0; i < 10; i++)
		assert_true(robots_allowed(&r, path));
	ms = q_now_ms() - t0;
	assert_true(ms < 1000.0); /* the old matcher: seconds per URL */
	path[5000] = 'b';
	path[6000] = 'c';
	assert_true(robots_allowed(&r, path)); /* "...b...c" but not at the end: "$" fails */
	path[sizeof(path) - 2] = 'c';
	assert_false(robots_allowed(&r, path));
	robots_release(&r);
}

/* A plainly right recursive matcher (exponential, fine on tiny inputs):
 * the reference the linear one must agree with. The old backtracking
 * matcher failed here too: it took "/ab*$" not to match "/abb". */
static int reference_match(const char *p, const char *s)
{
	if (*p == '$' && p[1] == '\0')
		return *s == '\0';
	if (*p == '\0')
		return 1;
	if (*p == '*')
		return reference_match(p + 1, s) || (*s && reference_match(p, s + 1));
	return *s && *p == *s && reference_match(p + 1, s + 1);
}

/* Short random patterns over {a, b, *, $} against random paths: the
 * linear matcher gives the reference's answer every time. */
static void robots_matcher_agrees_with_reference(void **state)
{
	static const char pat_chars[] = "ab*$";
	unsigned seed = 12345;
	int iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		char pat[12], path[14], txt[64];
		struct robots r;
		int i, pl, sl;

		seed = seed * 1103515245u + 12345u;
		pl = 1 + (int)(seed >> 16) % 8;
		pat[0] = '/';
		for (i = 1; i < pl; i++) {
			seed = seed * 1103515245u + 12345u;
			pat[i] = pat_chars[(seed >> 16) % 4];
		}
		pat[pl] = '\0';
		seed = seed * 1103515245u + 12345u;
		sl = 1 + (int)(seed >> 16) % 10;
		path[0] = '/';
		for (i = 1; i < sl; i++) {
			seed = seed * 1103515245u + 12345u;
			path[i] = "ab$"[(seed >> 16) % 3];
		}
		path[sl] = '\0';
		snprintf(txt, sizeof(txt), "User-agent: *\nDisallow: %s\n", pat);
		assert_int_equal(robots_parse(txt, strlen(txt), "quarry", &r), 0);
		if (robots_allowed(&r, path) != !reference_match(pat, path))
			fail_msg("pattern %s, path %s", pat, path);
		robots_release(&r);
	}
}

/* ---- the batch fetcher's callbacks ---- */

struct done_log {
	double start_ms[8], end_ms[8];
	char msg[8][Q_ERROR_MSG_MAX];
};

/* The first URL is "slow to extract": its callback takes 600 ms. */
static void slow_first_done(size_t i, struct http_response *r, void *ctx)
{
	struct done_log *log = ctx;

	log->start_ms[i] = q_now_ms();
	snprintf(log->msg[i], sizeof(log->msg[i]), "%s", r->err.msg);
	if (i == 0)
		usleep(600000);
	log->end_ms[i] = q_now_ms();
}

/* With done_parallel the callbacks run on the pool: a slow one holds up
 * none of the others (on the fetch loop's thread they waited for it), and
 * http_fetch_many returns only after the slow one is done. The URLs are
 * refused by the address policy, so no server is needed; the refusal names
 * the setting, not a flag (the CLI adds that). */
static void fetch_callbacks_do_not_wait_for_a_slow_one(void **state)
{
	const char *urls[8];
	char buf[8][64];
	struct http_response resps[8];
	struct http_options o;
	struct done_log log;
	double t0, t1;
	int i;

	(void)state;
	memset(&o, 0, sizeof(o));
	memset(&log, 0, sizeof(log));
	o.ignore_robots = 1;
	o.max_parallel = 1; /* one transfer at a time: each waits for the loop */
	o.done_parallel = 4;
	for (i = 0; i < 8; i++) {
		snprintf(buf[i], sizeof(buf[i]), "http://127.0.0.1:9/page%d", i);
		urls[i] = buf[i];
	}
	assert_int_equal(http_global_init(), 0);
	t0 = q_now_ms();
	assert_int_equal(http_fetch_many(urls, 8, &o, resps, slow_first_done, &log), 0);
	t1 = q_now_ms();
	assert_true(t1 - t0 >= 590); /* waited for the slow callback */
	for (i = 1; i < 8; i++) {
		assert_true(log.end_ms[i] > 0);
		assert_true(log.start_ms[i] < log.end_ms[0]); /* not queued behind it */
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(resps[i].rc, Q_EPOLICY);
		assert_non_null(strstr(log.msg[i], "use the allow_private setting to allow it"));
		assert_null(strstr(log.msg[i], "--"));
		http_response_release(&resps[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(url_parses_parts),
		cmocka_unit_test(url_rejects_bad_input),
		cmocka_unit_test(url_resolves_references),
		cmocka_unit_test(url_canonical_drops_trackers),
		cmocka_unit_test(policy_blocks_private_ranges),
		cmocka_unit_test(policy_ipv6_embeddings),
		cmocka_unit_test(robots_longest_match_wins),
		cmocka_unit_test(robots_specific_group_beats_star),
		cmocka_unit_test(robots_wildcards),
		cmocka_unit_test(robots_pathological_rules_are_fast),
		cmocka_unit_test(robots_matcher_agrees_with_reference),
		cmocka_unit_test(fetch_callbacks_do_not_wait_for_a_slow_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
