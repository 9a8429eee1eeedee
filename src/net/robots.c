/*
 * robots.c - robots.txt parsing and matching (see robots.h).
 */
#include "robots.h"

#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "../core/err.h"

struct parse_state {
	struct robots specific; /* rules from groups naming our agent */
	struct robots star;     /* rules from "*" groups */
	int in_agents;          /* still reading the group's user-agent lines */
	int group_specific;     /* current group names our agent */
	int group_star;         /* current group is "*" */
	int err;
};

static int add_rule(struct robots *r, const char *pat, size_t n, int allow)
{
	struct robots_rule *grown;

	if (r->n >= ROBOTS_MAX_RULES)
		return 0;
	if (n > ROBOTS_MAX_PATTERN)
		n = ROBOTS_MAX_PATTERN;
	grown = q_reallocarray(r->rules, r->n + 1, sizeof(*r->rules));
	if (!grown)
		return Q_ENOMEM;
	r->rules = grown;
	r->rules[r->n].pattern = q_strndup(pat, n);
	if (!r->rules[r->n].pattern)
		return Q_ENOMEM;
	r->rules[r->n].allow = allow;
	r->n++;
	return 0;
}

/* Does the user-agent value name our agent? Compare the product token. */
static int agent_matches(const char *v, size_t n, const char *agent)
{
	size_t k = 0;

	while (k < n && v[k] != '/' && v[k] != ' ')
		k++;
	return k == strlen(agent) && !strncasecmp(v, agent, k);
}

static void handle_line(struct parse_state *st, const char *key, size_t klen, const char *val, size_t vlen,
			const char *agent)
{
	if (klen == 10 && !strncasecmp(key, "user-agent", 10)) {
		if (!st->in_agents) {
			st->in_agents = 1;
			st->group_specific = 0;
			st->group_star = 0;
		}
		if (vlen == 1 && val[0] == '*')
			st->group_star = 1;
		else if (agent_matches(val, vlen, agent))
			st->group_specific = 1;
		return;
	}
	if ((klen == 5 && !strncasecmp(key, "allow", 5)) || (klen == 8 && !strncasecmp(key, "disallow", 8))) {
		int allow = klen == 5;
		st->in_agents = 0;
		if (vlen == 0)
			return; /* "Disallow:" with nothing allows everything */
		if (st->group_specific && !st->err)
			st->err = add_rule(&st->specific, val, vlen, allow);
		if (st->group_star && !st->err)
			st->err = add_rule(&st->star, val, vlen, allow);
		return;
	}
	/* Sitemap, crawl-delay and unknown keys end the agent list too. */
	st->in_agents = 0;
}

int robots_parse(const char *text, size_t len, const char *agent, struct robots *out)
{
	struct parse_state st;
	size_t i = 0;

	memset(&st, 0, sizeof(st));
	memset(out, 0, sizeof(*out));
	if (len > ROBOTS_MAX_BYTES)
		len = ROBOTS_MAX_BYTES;
	while (i < len && !st.err) {
		size_t start = i, end, colon, k0, k1, v0, v1;

		while (i < len && text[i] != '\n' && text[i] != '\r')
			i++;
		end = i;
		while (i < len && (text[i] == '\n' || text[i] == '\r'))
			i++;
		for (colon = start; colon < end && text[colon] != '#'; colon++)
			if (text[colon] == ':')
				break;
		if (colon >= end || text[colon] != ':')
			continue;
		k0 = start;
		while (k0 < colon && (text[k0] == ' ' || text[k0] == '\t'))
			k0++;
		k1 = colon;
		while (k1 > k0 && (text[k1 - 1] == ' ' || text[k1 - 1] == '\t'))
			k1--;
		v0 = colon + 1;
		v1 = v0;
		while (v1 < end && text[v1] != '#')
			v1++;
		while (v0 < v1 && (text[v0] == ' ' || text[v0] == '\t'))
			v0++;
		while (v1 > v0 && (text[v1 - 1] == ' ' || text[v1 - 1] == '\t'))
			v1--;
		handle_line(&st, text + k0, k1 - k0, text + v0, v1 - v0, agent);
	}
	if (st.err) {
		robots_release(&st.specific);
		robots_release(&st.star);
		return st.err;
	}
	if (st.specific.n) {
		*out = st.specific;
		robots_release(&st.star);
	} else {
		*out = st.star;
		robots_release(&st.specific);
	}
	return 0;
}

/*
 * Does pattern match the start of path? '*' is any run of characters and
 * a final '$' anchors the end. The pattern is a list of literal segments
 * between stars: the first must be a prefix of the path, each later one
 * is found leftmost after the previous (leftmost is always safe when the
 * only wildcard is '*'), and an anchored last segment must end the path.
 * memmem is linear (two-way) in glibc, so a match costs
 * O(len(pattern) + len(path)) whatever the pattern: the backtracking
 * matcher this replaces spent seconds per URL on "/ *aaaa...b" rules.
 */
static int pattern_matches(const char *pat, size_t plen, const char *path, size_t slen)
{
	const char *s = path, *end = path + slen;
	int anchored = plen > 0 && pat[plen - 1] == '$';
	size_t i = 0, seg_start;

	if (anchored)
		plen--;
	/* The first segment: a plain prefix. */
	while (i < plen && pat[i] != '*')
		i++;
	if (i > slen || memcmp(pat, s, i))
		return 0;
	s += i;
	if (i == plen)
		return !anchored || s == end;
	for (;;) {
		size_t seg_len;
		const char *hit;

		while (i < plen && pat[i] == '*')
			i++;
		seg_start = i;
		while (i < plen && pat[i] != '*')
			i++;
		seg_len = i - seg_start;
		if (i == plen) { /* the last segment */
			if (!anchored)
				return seg_len == 0 ||
				       memmem(s, (size_t)(end - s), pat + seg_start, seg_len) != NULL;
			return seg_len <= (size_t)(end - s) && !memcmp(end - seg_len, pat + seg_start, seg_len);
		}
		hit = memmem(s, (size_t)(end - s), pat + seg_start, seg_len);
		if (!hit)
			return 0;
		s = hit + seg_len;
	}
}

int robots_allowed(const struct robots *r, const char *path)
{
	size_t i, best_len = 0, path_len = strlen(path);
	int allowed = 1, found = 0;

	if (r->disallow_all)
		return 0;
	for (i = 0; i < r->n; i++) {
		size_t plen = strlen(r->rules[i].pattern);
		if (!pattern_matches(r->rules[i].pattern, plen, path, path_len))
			continue;
		if (!found || plen > best_len || (plen == best_len && r->rules[i].allow)) {
			best_len = plen;
			allowed = r->rules[i].allow;
			found = 1;
		}
	}
	return allowed;
}

void robots_release(struct robots *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		q_free(r->rules[i].pattern);
	q_free(r->rules);
	memset(r, 0, sizeof(*r));
}
