/*
 * pgconn.c - a libpq connection that reconnects: see pgconn.h.
 *
 * Loss is noticed where libpq reports it: a result whose connection is
 * now CONNECTION_BAD, or one of the SQLSTATEs a server sends as it goes
 * down (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
 * cannot_connect_now). Then the connection is dropped and made again:
 * at once, then after 100 ms, 200 ms, ... up to 5 s between attempts,
 * each wait drawn from its upper half at random so that many workers cut
 * off by one restart do not knock on the new server in step. Login
 * failures and malformed URLs are not retried: waiting will not fix them.
 *
 * statement_timeout is set with set_config after each connect rather
 * than through the `options` keyword, so a URL that sets options of its
 * own keeps our timeout too.
 */
#include "pgconn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/random.h"

/* Append s[0..n) to out (size, used *len), truncating; keeps it terminated. */
static void put(char *out, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len + 1 >= size)
		return;
	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
}

int pgconn_is_url(const char *s)
{
	if (!s)
		return 0;
	if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0)
		return 1;
	return strstr(s, "host=") != NULL || strstr(s, "dbname=") != NULL;
}

/* The URI form: user:PASSWORD@ in the authority, password=... in the query. */
static void redact_uri(const char *url, char *out, size_t size)
{
	size_t len = 0;
	const char *auth = strstr(url, "://") + 3;
	const char *auth_end = auth + strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < auth_end; p++)
		if (*p == '@')
			at = p;
	put(out, size, &len, url, (size_t)(auth - url));
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon) {
		put(out, size, &len, auth, (size_t)(colon + 1 - auth));
		put(out, size, &len, "***", 3);
		put(out, size, &len, at, (size_t)(auth_end - at));
	} else {
		put(out, size, &len, auth, (size_t)(auth_end - auth));
	}
	const char *p = auth_end;
	while (*p) {
		/* p is at '/', '?', '&' or '#': copy the separator and the name. */
		size_t seg = 1 + strcspn(p + 1, "?&#=");
		put(out, size, &len, p, seg);
		int is_pw = *p != '/' && seg == 9 && strncmp(p + 1, "password", 8) == 0;
		p += seg;
		if (*p == '=') {
			size_t v = 1 + strcspn(p + 1, "&#");
			if (is_pw) {
				put(out, size, &len, "=***", 4);
			} else {
				put(out, size, &len, p, v);
			}
			p += v;
		}
	}
}

/* The key=value form: password = value, value bare or 'quoted'. */
static void redact_keywords(const char *s, char *out, size_t size)
{
	size_t len = 0;
	const char *p = s;
	while (*p) {
		const char *k = strstr(p, "password");
		if (!k) {
			put(out, size, &len, p, strlen(p));
			return;
		}
		const char *q = k + 8;
		while (*q == ' ' || *q == '\t')
			q++;
		int at_word = k == s || k[-1] == ' ' || k[-1] == '\t';
		if (!at_word || *q != '=') {
			put(out, size, &len, p, (size_t)(q - p));
			p = q;
			continue;
		}
		q++;
		while (*q == ' ' || *q == '\t')
			q++;
		put(out, size, &len, p, (size_t)(q - p));
		put(out, size, &len, "***", 3);
		if (*q == '\'') {
			for (q++; *q && *q != '\''; q++)
				if (*q == '\\' && q[1])
					q++;
			if (*q)
				q++;
		} else {
			q += strcspn(q, " \t");
		}
		p = q;
	}
}

void pgconn_redact(const char *url, char *out, size_t out_size)
{
	if (!out || out_size == 0)
		return;
	out[0] = '\0';
	if (!url)
		return;
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
		redact_uri(url, out, out_size);
	else
		redact_keywords(url, out, out_size);
}

const char *pgconn_shown(const struct pgconn *c) { return c->shown; }

/* msg from libpq, fit for a user: the password replaced, quoted pieces of
 * a URL (libpq quotes the token it could not parse) hidden when we do not
 * know the password, the trailing newline dropped. */
static void scrub(const struct pgconn *c, const char *msg, char *out, size_t size)
{
	size_t len = 0;
	size_t pwlen = strlen(c->password);
	out[0] = '\0';
	for (const char *p = msg ? msg : ""; *p;) {
		if (pwlen && strncmp(p, c->password, pwlen) == 0) {
			put(out, size, &len, "***", 3);
			p += pwlen;
		} else if (*p == '\n' || *p == '\r' || *p == '\t') {
			put(out, size, &len, " ", 1);
			p++;
		} else {
			put(out, size, &len, p, 1);
			p++;
		}
	}
	while (len > 0 && out[len - 1] == ' ')
		out[--len] = '\0';
	/* libpq's "...failed: " prefix and "\tIs the server running" hint
	 * leave double spaces. */
	for (char *d = strstr(out, "  "); d; d = strstr(d, "  "))
		memmove(d, d + 1, strlen(d + 1) + 1);
}

/* A message from libpq for a URL we could not parse: quoted parts out. */
static void scrub_unparsed(const char *msg, char *out, size_t size)
{
	size_t len = 0;
	int quoted = 0;
	out[0] = '\0';
	for (const char *p = msg ? msg : ""; *p; p++) {
		if (*p == '"') {
			put(out, size, &len, quoted ? "...\"" : "\"", quoted ? 4 : 1);
			quoted = !quoted;
		} else if (!quoted && *p != '\n') {
			put(out, size, &len, p, 1);
		}
	}
}

/* Whether a failed connect is worth trying again (the server is down,
 * starting, stopping or full), judged by libpq's message. */
static int connect_transient(const char *msg)
{
	static const char *const transient[] = {
		"Connection refused",     "starting up",         "shutting down",
		"not yet accepting",      "timeout expired",     "server closed the connection",
		"Connection reset",       "No route to host",    "Network is unreachable",
		"recovery mode",          "too many clients",    "No such file or directory",
		"could not receive data", "could not send data", NULL};
	for (int i = 0; transient[i]; i++)
		if (strstr(msg, transient[i]))
			return 1;
	return 0;
}

/* libpq prints notices (and errors that arrive between statements) on
 * stderr unless told otherwise; the core prints nothing. */
static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* One attempt: connect, set the statement timeout, renew the LISTENs.
 * 1 transient failure, 0 success, negative permanent failure. */
static int connect_once(struct pgconn *c, struct q_error *err)
{
	char ct[32], msg[Q_ERROR_MSG_MAX];
	snprintf(ct, sizeof ct, "%ld", c->opts.connect_timeout_s);
	const char *app = c->opts.application_name ? c->opts.application_name : "quarry";
	/* Ours first: what the URL says wins (expand_dbname processes it in place). */
	const char *const keys[] = {
		"connect_timeout",     "application_name", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "dbname",     NULL};
	const char *const vals[] = {ct, app, "1", "10", "5", "3", c->url, NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (!conn)
		return q_error_set(err, Q_ENOMEM, "out of memory connecting to PostgreSQL");
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	if (PQstatus(conn) != CONNECTION_OK) {
		scrub(c, PQerrorMessage(conn), msg, sizeof msg);
		int transient = connect_transient(msg);
		PQfinish(conn);
		if (transient) {
			q_error_set(err, Q_ENET,
				    "cannot reach PostgreSQL at %s: %s; check that it runs and that "
				    "database_url (or QUARRY_DATABASE_URL) names it",
				    c->shown, msg);
			return 1;
		}
		return q_error_set(err, Q_EINVAL,
				   "PostgreSQL at %s refused the connection: %s; check the user, "
				   "password and database in database_url (or QUARRY_DATABASE_URL)",
				   c->shown, msg);
	}
	char to[32];
	snprintf(to, sizeof to, "%ld", c->opts.statement_timeout_ms);
	const char *p[] = {to};
	PGresult *res = PQexecParams(conn, "SELECT set_config('statement_timeout', $1, false)", 1, NULL, p,
				     NULL, NULL, 0);
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	for (int i = 0; ok && i < c->n_channels; i++) {
		char sql[PGCONN_CHANNEL_MAX + 16];
		snprintf(sql, sizeof sql, "LISTEN %s", c->channels[i]);
		res = PQexec(conn, sql);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
	}
	if (!ok) {
		scrub(c, PQerrorMessage(conn), msg, sizeof msg);
		PQfinish(conn);
		q_error_set(err, Q_ENET, "PostgreSQL at %s: setting up the connection failed: %s", c->shown,
			    msg);
		return 1;
	}
	c->conn = conn;
	return 0;
}

/* Connect, retrying transient failures with backoff until opts.retry_ms
 * has passed since start_ms. */
static int reconnect(struct pgconn *c, double start_ms, struct q_error *err)
{
	long wait_ms = c->opts.backoff_first_ms;
	if (c->conn) {
		PQfinish(c->conn);
		c->conn = NULL;
	}
	for (;;) {
		int rc = connect_once(c, err);
		if (rc <= 0)
			return rc;
		double left = (double)c->opts.retry_ms - (q_now_ms() - start_ms);
		if (c->opts.retry_ms < 0 || left <= 0)
			return Q_ENET;
		long sleep = wait_ms / 2 + (long)(q_random_unit() * (double)(wait_ms - wait_ms / 2));
		if ((double)sleep > left)
			sleep = (long)left;
		sleep_ms(sleep);
		wait_ms = wait_ms * 2 > c->opts.backoff_max_ms ? c->opts.backoff_max_ms : wait_ms * 2;
	}
}

int pgconn_open(struct pgconn **out, const char *url, const struct pgconn_opts *opts, struct q_error *err)
{
	int rc = Q_ENOMEM;
	struct pgconn *c = NULL;
	char *errmsg = NULL;
	PQconninfoOption *info = NULL;
	*out = NULL;
	if (!url || !*url)
		return q_error_set(err, Q_EINVAL, "no database URL given");
	if (strlen(url) >= PGCONN_URL_MAX)
		return q_error_set(err, Q_ETOOBIG, "the database URL is longer than %d bytes",
				   PGCONN_URL_MAX - 1);
	c = q_calloc(1, sizeof *c);
	if (!c) {
		q_error_set(err, rc, "out of memory");
		goto out;
	}
	memcpy(c->url, url, strlen(url) + 1);
	pgconn_redact(url, c->shown, sizeof c->shown);
	if (opts)
		c->opts = *opts;
	if (c->opts.connect_timeout_s <= 0)
		c->opts.connect_timeout_s = PGCONN_CONNECT_TIMEOUT_S;
	if (c->opts.statement_timeout_ms <= 0)
		c->opts.statement_timeout_ms = PGCONN_STATEMENT_TIMEOUT_MS;
	if (c->opts.retry_ms == 0)
		c->opts.retry_ms = PGCONN_RETRY_MS;
	if (c->opts.backoff_first_ms <= 0)
		c->opts.backoff_first_ms = PGCONN_BACKOFF_FIRST_MS;
	if (c->opts.backoff_max_ms <= 0)
		c->opts.backoff_max_ms = PGCONN_BACKOFF_MAX_MS;
	info = PQconninfoParse(url, &errmsg);
	if (!info) {
		char msg[Q_ERROR_MSG_MAX];
		scrub_unparsed(errmsg ? errmsg : "out of memory", msg, sizeof msg);
		rc = q_error_set(err, Q_EINVAL,
				 "the database URL %s is malformed: %s; write it as "
				 "postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
				 c->shown, msg);
		goto out;
	}
	for (PQconninfoOption *o = info; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && strlen(o->val) < sizeof c->password)
			memcpy(c->password, o->val, strlen(o->val) + 1);
	rc = reconnect(c, q_now_ms(), err);
	if (rc != 0)
		goto out;
	*out = c;
	c = NULL;
out:
	if (errmsg)
		PQfreemem(errmsg);
	if (info)
		PQconninfoFree(info);
	pgconn_close(c);
	return rc;
}

void pgconn_close(struct pgconn *c)
{
	if (!c)
		return;
	if (c->conn)
		PQfinish(c->conn);
	memset(c->password, 0, sizeof c->password);
	memset(c->url, 0, sizeof c->url);
	q_free(c);
}

/* Whether res (or its absence) says the server went away. */
static int connection_lost(const struct pgconn *c, const PGresult *res)
{
	if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD)
		return 1;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return state && strncmp(state, "57P0", 4) == 0 && state[4] >= '1' && state[4] <= '3';
}

/* A failed statement's error: code by SQLSTATE, libpq's text scrubbed. */
static int statement_error(struct pgconn *c, const PGresult *res, struct q_error *err)
{
	char msg[Q_ERROR_MSG_MAX];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *text = res ? PQresultErrorMessage(res) : NULL;
	scrub(c, text && *text ? text : PQerrorMessage(c->conn), msg, sizeof msg);
	if (state && strcmp(state, "57014") == 0)
		return q_error_set(err, Q_ETIMEOUT,
				   "PostgreSQL at %s cancelled a statement after %ld ms "
				   "(statement_timeout): %s",
				   c->shown, c->opts.statement_timeout_ms, msg);
	if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
		return q_error_set(err, Q_ECONFLICT, "PostgreSQL at %s: %s; try again", c->shown, msg);
	return q_error_set(err, Q_EIO, "PostgreSQL at %s: %s", c->shown, msg);
}

int pgconn_exec(struct pgconn *c, const char *sql, int n, const char *const *params, PGresult **out,
		struct q_error *err)
{
	double start_ms = q_now_ms();
	if (out)
		*out = NULL;
	for (;;) {
		if (!c->conn) {
			if (c->in_tx) {
				c->in_tx = 0;
				return q_error_set(err, Q_ENET,
						   "the connection to PostgreSQL at %s was lost inside a "
						   "transaction; it was rolled back",
						   c->shown);
			}
			int rc = reconnect(c, start_ms, err);
			if (rc != 0)
				return rc;
			c->reconnects++;
			c->lost = 1;
		}
		/* Without parameters the simple protocol, which takes several
		 * statements (migrations). */
		PGresult *res = n == 0 ? PQexec(c->conn, sql)
				       : PQexecParams(c->conn, sql, n, NULL, params, NULL, NULL, 0);
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			if (out)
				*out = res;
			else
				PQclear(res);
			return 0;
		}
		if (connection_lost(c, res)) {
			PQclear(res);
			PQfinish(c->conn);
			c->conn = NULL;
			if (c->opts.retry_ms < 0)
				return q_error_set(err, Q_ENET, "the connection to PostgreSQL at %s was lost",
						   c->shown);
			continue;
		}
		int rc = statement_error(c, res, err);
		PQclear(res);
		return rc;
	}
}

int pgconn_begin(struct pgconn *c, struct q_error *err)
{
	int rc = pgconn_exec(c, "BEGIN", 0, NULL, NULL, err);
	if (rc == 0)
		c->in_tx = 1;
	return rc;
}

int pgconn_commit(struct pgconn *c, struct q_error *err)
{
	int rc = pgconn_exec(c, "COMMIT", 0, NULL, NULL, err);
	c->in_tx = 0;
	return rc;
}

void pgconn_rollback(struct pgconn *c)
{
	if (c->conn && c->in_tx) {
		PGresult *res = PQexec(c->conn, "ROLLBACK");
		PQclear(res);
	}
	c->in_tx = 0;
}

int pgconn_listen(struct pgconn *c, const char *channel, struct q_error *err)
{
	size_t len = strlen(channel);
	if (len == 0 || len >= PGCONN_CHANNEL_MAX ||
	    strspn(channel, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
		return q_error_set(err, Q_EINVAL, "bad channel name for LISTEN");
	for (int i = 0; i < c->n_channels; i++)
		if (strcmp(c->channels[i], channel) == 0)
			return 0;
	if (c->n_channels >= PGCONN_CHANNELS_MAX)
		return q_error_set(err, Q_ETOOBIG, "more than %d LISTEN channels on one connection",
				   PGCONN_CHANNELS_MAX);
	char sql[PGCONN_CHANNEL_MAX + 16];
	snprintf(sql, sizeof sql, "LISTEN %s", channel);
	int rc = pgconn_exec(c, sql, 0, NULL, NULL, err);
	if (rc == 0)
		memcpy(c->channels[c->n_channels++], channel, len + 1);
	return rc;
}

/* A notification already received: 1 (payload copied), else 0. */
static int take_notify(struct pgconn *c, char *payload, size_t payload_size)
{
	PGnotify *nf = PQnotifies(c->conn);
	if (!nf)
		return 0;
	if (payload && payload_size) {
		size_t len = strlen(nf->extra);
		if (len >= payload_size)
			len = payload_size - 1;
		memcpy(payload, nf->extra, len);
		payload[len] = '\0';
	}
	PQfreemem(nf);
	return 1;
}

int pgconn_wait(struct pgconn *c, long timeout_ms, char *payload, size_t payload_size, struct q_error *err)
{
	double start_ms = q_now_ms();
	if (payload && payload_size)
		payload[0] = '\0';
	for (;;) {
		if (c->lost) {
			c->lost = 0;
			return 1;
		}
		if (!c->conn || (PQconsumeInput(c->conn) == 0 && PQstatus(c->conn) == CONNECTION_BAD)) {
			int rc = reconnect(c, q_now_ms(), err);
			if (rc != 0)
				return rc;
			c->reconnects++;
			return 1;
		}
		if (take_notify(c, payload, payload_size))
			return 1;
		double left = (double)timeout_ms - (q_now_ms() - start_ms);
		if (left <= 0)
			return 0;
		struct pollfd pfd = {PQsocket(c->conn), POLLIN, 0};
		if (pfd.fd < 0) {
			PQfinish(c->conn);
			c->conn = NULL;
			continue;
		}
		int pr = poll(&pfd, 1, (int)(left + 1));
		if (pr < 0 && errno != EINTR)
			return q_error_set(err, Q_EIO, "waiting for PostgreSQL at %s failed: %s", c->shown,
					   strerror(errno));
	}
}

int pgconn_socket(const struct pgconn *c) { return c->conn ? PQsocket(c->conn) : -1; }

long pgconn_long(const PGresult *res, int r, int col)
{
	if (PQgetisnull(res, r, col))
		return 0;
	return strtol(PQgetvalue(res, r, col), NULL, 10);
}
