/*
 * pgconn.h - one connection to PostgreSQL (libpq) that survives the
 * server going away: timeouts, reconnect with backoff, LISTEN/NOTIFY,
 * and a URL that is never shown with its password.
 *
 * The run store on PostgreSQL (runstore_pg.c) and `quarry db` use it.
 * Every statement is sent with parameters (never pasted into SQL). When
 * the connection is lost (a restart, a failover, a cut network) a call
 * made outside a transaction reconnects, with exponential backoff and
 * jitter, for up to retry_ms, and sends its statement again; LISTENs are
 * renewed on the new connection. Statements run that way must be safe to
 * send twice (the run store's are single statements: a lost reply means
 * the statement either committed or did not run at all, and each is
 * written so the second send does no harm). Inside pgconn_begin ..
 * pgconn_commit nothing is retried: the caller starts the transaction
 * again.
 *
 * Messages name the server by pgconn_shown() (the URL with its password
 * replaced by "***"), and any text from libpq is scrubbed of the password
 * before it reaches an error.
 *
 * One struct pgconn is one connection: use it from one thread at a time.
 */
#ifndef Q_PGCONN_H
#define Q_PGCONN_H

#include <libpq-fe.h>

#include "../core/err.h"

#define PGCONN_URL_MAX 4096         /* bytes of a database URL */
#define PGCONN_CONNECT_TIMEOUT_S 10 /* per connection attempt */
#define PGCONN_STATEMENT_TIMEOUT_MS 30000L
#define PGCONN_RETRY_MS 120000L /* how long a call keeps reconnecting */
#define PGCONN_BACKOFF_FIRST_MS 100L
#define PGCONN_BACKOFF_MAX_MS 5000L
#define PGCONN_CHANNELS_MAX 8  /* LISTENs one connection keeps */
#define PGCONN_CHANNEL_MAX 64  /* bytes of a channel name */
#define PGCONN_PAYLOAD_MAX 256 /* bytes of a payload kept by pgconn_wait */

/* Tunables; zero fields take the defaults above. */
struct pgconn_opts {
	long connect_timeout_s;
	long statement_timeout_ms;
	long retry_ms; /* < 0: never reconnect */
	long backoff_first_ms;
	long backoff_max_ms;
	const char *application_name; /* NULL: "quarry" */
};

struct pgconn {
	PGconn *conn;               /* NULL while disconnected */
	char url[PGCONN_URL_MAX];   /* as given, password and all: never shown */
	char shown[PGCONN_URL_MAX]; /* the URL with its password as "***" */
	char password[256];         /* to scrub libpq's messages, "" if none */
	struct pgconn_opts opts;
	int in_tx;       /* inside pgconn_begin .. commit/rollback */
	long reconnects; /* successful reconnects so far */
	int lost;        /* set by a reconnect, cleared by pgconn_wait */
	char channels[PGCONN_CHANNELS_MAX][PGCONN_CHANNEL_MAX];
	int n_channels;
};

/* Whether s looks like a PostgreSQL URL (postgresql:// or postgres://)
 * or a key=value connection string with host= or dbname=. */
int pgconn_is_url(const char *s);

/* Write url to out with its password (user:PASSWORD@ and password=
 * parameters, URL or key=value form) replaced by "***". Always
 * terminates out (truncating). */
void pgconn_redact(const char *url, char *out, size_t out_size);

/* Connect to url (trying for up to opts->retry_ms with backoff when the
 * server does not answer). *out is the caller's (pgconn_close). Q_ENET
 * when the server cannot be reached, Q_EINVAL for a malformed URL or a
 * refused login (the message says which, without the password). */
int pgconn_open(struct pgconn **out, const char *url, const struct pgconn_opts *opts, struct q_error *err);
void pgconn_close(struct pgconn *c);

/* The URL for messages (no password). */
const char *pgconn_shown(const struct pgconn *c);

/* Run sql with n text parameters (NULL for SQL NULL). On success 0 and,
 * when out is not NULL, the result in *out (the caller PQclear()s it).
 * Q_ETIMEOUT when statement_timeout cancelled it, Q_ECONFLICT on a
 * serialization failure or deadlock, Q_ENET when the server stayed out of
 * reach for retry_ms, Q_EIO for other SQL errors; err says what. Outside
 * a transaction a lost connection is reconnected and sql sent again (see
 * above). */
int pgconn_exec(struct pgconn *c, const char *sql, int n, const char *const *params, PGresult **out,
		struct q_error *err);

/* BEGIN / COMMIT / ROLLBACK. After a failed call inside a transaction,
 * roll back (it never fails the caller a second time) and start over. */
int pgconn_begin(struct pgconn *c, struct q_error *err);
int pgconn_commit(struct pgconn *c, struct q_error *err);
void pgconn_rollback(struct pgconn *c);

/* LISTEN on channel (a plain identifier of [a-z0-9_], at most
 * PGCONN_CHANNEL_MAX - 1 bytes), renewed after every reconnect. */
int pgconn_listen(struct pgconn *c, const char *channel, struct q_error *err);

/* Wait up to timeout_ms for a notification on a channel listened to:
 * 1 when one came (its payload in payload, which may be NULL, of
 * payload_size bytes; "" for none) or the connection was lost and made
 * again since the last wait (notifications may have been missed: look
 * again); 0 on timeout; negative on error. Notifications that arrived
 * earlier are returned at once. */
int pgconn_wait(struct pgconn *c, long timeout_ms, char *payload, size_t payload_size, struct q_error *err);

/* The connection's socket (for an event loop), -1 while disconnected. */
int pgconn_socket(const struct pgconn *c);

/* The value of row r, column col of res as a long (0 for NULL). */
long pgconn_long(const PGresult *res, int r, int col);

#endif
