/*
 * err.h - the one error type of quarry.
 *
 * Every fallible function returns an int: 0 (Q_OK) on success or a negative
 * Q_E* code. When the caller passes a struct q_error, the function also
 * writes a sentence a user can act on ("robots.txt of example.com forbids
 * /private; use the ignore_robots setting to fetch it anyway"). The core never
 * prints or exits; the CLI decides what to show.
 *
 * A message names the setting that would change the outcome as "the NAME
 * setting", NAME as in the config file (max_bytes, allow_private, ...),
 * never as a command-line flag: each front end says it its own way (the
 * CLI turns it into the flag, cli_flag_hints in src/cli/term.h).
 */
#ifndef Q_ERR_H
#define Q_ERR_H

#include <stddef.h>

enum {
	Q_OK = 0,
	Q_ENOMEM = -1,       /* allocation failed */
	Q_EINVAL = -2,       /* bad argument or input */
	Q_EIO = -3,          /* file or pipe I/O failed */
	Q_ETOOBIG = -4,      /* input exceeded a size, depth or count cap */
	Q_ENET = -5,         /* DNS, connect, TLS or transfer failure */
	Q_ETIMEOUT = -6,     /* a time limit ran out */
	Q_EPOLICY = -7,      /* address policy refused the connection */
	Q_EHTTP = -8,        /* server answered with an HTTP error status */
	Q_EUNSUPPORTED = -9, /* content type or format we do not handle */
	Q_EPARSE = -10,      /* malformed input we could not make sense of */
	Q_EROBOTS = -11,     /* robots.txt forbids the URL */
	Q_EEMPTY = -12,      /* input had no usable content */
	Q_ESUBPROC = -13,    /* a helper program failed or was killed */
	Q_EBUDGET = -14,     /* a token, money or time budget ran out */
	Q_ENOTFOUND = -15,   /* no such record (run, document) */
	Q_ECONFLICT = -16    /* someone else holds it now (a run's lease) */
};

/* Length of the message buffer in struct q_error, terminator included. */
#define Q_ERROR_MSG_MAX 512

/* An error code plus a human-readable message. Zero-initialise before use. */
struct q_error {
	int code;                  /* last Q_E* code set, 0 if none */
	char msg[Q_ERROR_MSG_MAX]; /* NUL-terminated sentence, "" if none */
};

/*
 * Record code and a printf-style message in err (err may be NULL).
 * Returns code, so callers can write `return q_error_set(err, ...)`.
 */
int q_error_set(struct q_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A short static name for a Q_E* code, e.g. "timeout". Never NULL. */
const char *q_strerror(int code);

#endif
