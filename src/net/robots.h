/*
 * robots.h - robots.txt (RFC 9309) for one user agent.
 *
 * robots_parse keeps only the rules that apply to our agent token: the
 * groups naming it, or else the "*" groups. robots_allowed applies the
 * longest matching rule, Allow winning ties, with '*' and '$' patterns.
 * Input is capped (ROBOTS_MAX_BYTES, ROBOTS_MAX_RULES); a robots.txt
 * past the caps is read up to them. Thread-safe on separate objects.
 */
#ifndef Q_ROBOTS_H
#define Q_ROBOTS_H

#include <stddef.h>

#define ROBOTS_MAX_BYTES (512 * 1024)
#define ROBOTS_MAX_RULES 10000
#define ROBOTS_MAX_PATTERN 2048

struct robots_rule {
	char *pattern; /* owned; starts with '/' or '*' */
	int allow;
};

struct robots {
	struct robots_rule *rules; /* owned */
	size_t n;
	int disallow_all; /* set when robots.txt was a 5xx error */
};

/* Parse text for agent (e.g. "quarry"). Returns 0 or Q_ENOMEM. */
int robots_parse(const char *text, size_t len, const char *agent, struct robots *out);

/* 1 if path (path plus "?query") may be fetched. */
int robots_allowed(const struct robots *r, const char *path);

void robots_release(struct robots *r);

#endif
