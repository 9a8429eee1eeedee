/*
 * jsonx.c - tolerant JSON extraction from model output (see jsonx.h).
 */
#include "jsonx.h"

#include <assert.h>
#include <string.h>
#include <strings.h>

static const char *find_ci(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;

	for (i = 0; i + m <= n; i++)
		if (!strncasecmp(s + i, needle, m))
			return s + i;
	return NULL;
}

/*
 * Linear in n: the next opening tag is looked up once and kept until the
 * scan passes it (rescanning the rest of the reply for every stray
 * </think> made 80,000 of them take 143 s).
 */
int jsonx_split_reasoning(const char *text, size_t n, struct qbuf *answer, struct qbuf *reasoning)
{
	const char *p = text, *end = text + n, *open = NULL;
	int open_known = 0; /* open is the first <think> at or after p (NULL: none) */

	while (p < end) {
		const char *close;

		if (!open_known || (open && open < p)) {
			open = find_ci(p, (size_t)(end - p), "<think>");
			open_known = 1;
		}
		/* A reply that starts mid-reasoning (the opening tag was in
		 * the prompt) has a </think> but no <think>. */
		close = find_ci(p, (size_t)((open ? open : end) - p), "</think>");
		if (close) {
			if (reasoning)
				qbuf_add(reasoning, p, (size_t)(close - p));
			p = close + 8;
			continue;
		}
		if (!open) {
			qbuf_add(answer, p, (size_t)(end - p));
			break;
		}
		qbuf_add(answer, p, (size_t)(open - p));
		p = open + 7;
		close = find_ci(p, (size_t)(end - p), "</think>");
		if (reasoning)
			qbuf_add(reasoning, p, (size_t)((close ? close : end) - p));
		p = close ? close + 8 : end;
	}
	return answer->err;
}

/* Inside of the first ```json (or plain ```) fence holding a { or [. */
static void prefer_fence(const char **s, size_t *n)
{
	const char *f = find_ci(*s, *n, "```"), *body, *close;

	while (f) {
		body = f + 3;
		while (body < *s + *n && *body != '\n')
			body++; /* skip the info string ("json") */
		close = find_ci(body, (size_t)(*s + *n - body), "```");
		if (!close)
			close = *s + *n;
		if (memchr(body, '{', (size_t)(close - body)) || memchr(body, '[', (size_t)(close - body))) {
			*n = (size_t)(close - body);
			*s = body;
			return;
		}
		if (close >= *s + *n)
			return;
		f = find_ci(close + 3, (size_t)(*s + *n - close - 3), "```");
	}
}

static int is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '$';
}

/* Strings may be delimited by ", ' or curly quotes; output always ". */
static size_t quote_len(const char *p, const char *end, int *kind)
{
	if (*p == '"') {
		*kind = 1;
		return 1;
	}
	if (*p == '\'') {
		*kind = 2;
		return 1;
	}
	if (end - p >= 3 && !memcmp(p, "\xe2\x80\x9c", 3)) {
		*kind = 3;
		return 3;
	} /* “ */
	return 0;
}

static int closes(const char *p, const char *end, int kind, size_t *len)
{
	if (kind == 1 && *p == '"') {
		*len = 1;
		return 1;
	}
	if (kind == 2 && *p == '\'') {
		*len = 1;
		return 1;
	}
	if (kind == 3 && end - p >= 3 && !memcmp(p, "\xe2\x80\x9d", 3)) {
		*len = 3;
		return 1;
	} /* ” */
	return 0;
}

/*
 * Copy the first balanced value starting at the first { or [ into out,
 * repairing as it goes. Returns 0, or Q_EPARSE / Q_ETOOBIG with err.
 */
static int repair(const char *s, size_t n, struct qbuf *out, struct q_error *err)
{
	const char *p = s, *end = s + n;
	char stack[JSONX_MAX_DEPTH];
	int depth = 0;

	while (p < end && *p != '{' && *p != '[')
		p++;
	if (p >= end)
		return q_error_set(err, Q_EPARSE, "the reply contains no JSON object or array");
	while (p < end) {
		char c = *p;
		int kind;
		size_t ql;

		if ((ql = quote_len(p, end, &kind)) > 0) {
			/* A string: copy it with " delimiters and escapes fixed. */
			p += ql;
			qbuf_addc(out, '"');
			while (p < end) {
				size_t cl;
				if (*p == '\\' && p + 1 < end) {
					if (p[1] == '\'') {
						qbuf_addc(out, '\''); /* \' is not JSON */
					} else {
						qbuf_add(out, p, 2);
					}
					p += 2;
					continue;
				}
				if (closes(p, end, kind, &cl)) {
					p += cl;
					break;
				}
				if (*p == '"')
					qbuf_adds(out, "\\\"");
				else if (*p == '\n')
					qbuf_adds(out, "\\n");
				else if (*p == '\r')
					qbuf_adds(out, "\\r");
				else if (*p == '\t')
					qbuf_adds(out, "\\t");
				else
					qbuf_addc(out, *p);
				p++;
			}
			/* The closing quote; one is added for a reply cut off
			 * inside a string. */
			qbuf_addc(out, '"');
			continue;
		}
		if (c == '/' && p + 1 < end && (p[1] == '/' || p[1] == '*')) {
			const char *e = p[1] == '/' ? memchr(p, '\n', (size_t)(end - p))
						    : find_ci(p + 2, (size_t)(end - p - 2), "*/");
			p = e ? e + (p[1] == '/' ? 1 : 2) : end;
			continue;
		}
		if (c == '{' || c == '[') {
			if (depth == JSONX_MAX_DEPTH)
				return q_error_set(err, Q_ETOOBIG, "JSON nested deeper than %d levels",
						   JSONX_MAX_DEPTH);
			stack[depth++] = c == '{' ? '}' : ']';
			assert(depth <= JSONX_MAX_DEPTH);
			qbuf_addc(out, c);
			p++;
			continue;
		}
		if (c == '}' || c == ']') {
			qbuf_rtrim(out, " \t\r\n");
			qbuf_rtrim(out, ","); /* trailing comma */
			if (depth == 0 || stack[depth - 1] != c)
				return q_error_set(err, Q_EPARSE, "mismatched '%c' in the JSON", c);
			qbuf_addc(out, c);
			p++;
			if (--depth == 0)
				return out->err;
			continue;
		}
		if (is_ident(c) && !(c >= '0' && c <= '9') && c != '-') {
			const char *w = p, *q;
			size_t wl;
			while (p < end && is_ident(*p))
				p++;
			wl = (size_t)(p - w);
			q = p;
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (q < end && *q == ':') {
				qbuf_addc(out, '"'); /* unquoted key */
				qbuf_add(out, w, wl);
				qbuf_addc(out, '"');
			} else if (wl == 4 && !memcmp(w, "True", 4)) {
				qbuf_adds(out, "true");
			} else if (wl == 5 && !memcmp(w, "False", 5)) {
				qbuf_adds(out, "false");
			} else if (wl == 4 && !memcmp(w, "None", 4)) {
				qbuf_adds(out, "null");
			} else {
				qbuf_add(out, w, wl);
			}
			continue;
		}
		qbuf_addc(out, c);
		p++;
	}
	/* Cut off: close what is open. */
	qbuf_rtrim(out, " \t\r\n");
	qbuf_rtrim(out, ",");
	if (out->len && out->data[out->len - 1] == ':')
		qbuf_adds(out, "null");
	while (depth > 0)
		qbuf_addc(out, stack[--depth]);
	return out->err;
}

json_t *jsonx_extract(const char *text, size_t n, struct q_error *err)
{
	struct qbuf answer, fixed;
	const char *s;
	size_t len;
	json_t *v = NULL;
	json_error_t jerr;

	if (n > JSONX_MAX_INPUT_BYTES) {
		q_error_set(err, Q_ETOOBIG, "reply larger than %d bytes", JSONX_MAX_INPUT_BYTES);
		return NULL;
	}
	qbuf_init(&answer, JSONX_MAX_INPUT_BYTES);
	qbuf_init(&fixed, JSONX_MAX_INPUT_BYTES * 2);
	if (jsonx_split_reasoning(text, n, &answer, NULL)) {
		q_error_set(err, answer.err, "reply too large");
		goto out;
	}
	s = qbuf_cstr(&answer);
	len = answer.len;
	prefer_fence(&s, &len);
	if (repair(s, len, &fixed, err))
		goto out;
	v = json_loadb(qbuf_cstr(&fixed), fixed.len, 0, &jerr);
	if (!v)
		q_error_set(err, Q_EPARSE, "the JSON in the reply is invalid: %s (at character %d)",
			    jerr.text, jerr.position);
out:
	qbuf_release(&answer);
	qbuf_release(&fixed);
	return v;
}
