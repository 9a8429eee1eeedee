/*
 * err.c - error messages and names for the Q_E* codes.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

int q_error_set(struct q_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

const char *q_strerror(int code)
{
	switch (code) {
	case Q_OK:
		return "ok";
	case Q_ENOMEM:
		return "out of memory";
	case Q_EINVAL:
		return "invalid input";
	case Q_EIO:
		return "I/O error";
	case Q_ETOOBIG:
		return "too big";
	case Q_ENET:
		return "network error";
	case Q_ETIMEOUT:
		return "timed out";
	case Q_EPOLICY:
		return "refused by address policy";
	case Q_EHTTP:
		return "HTTP error";
	case Q_EUNSUPPORTED:
		return "unsupported content";
	case Q_EPARSE:
		return "parse error";
	case Q_EROBOTS:
		return "forbidden by robots.txt";
	case Q_EEMPTY:
		return "no content";
	case Q_ESUBPROC:
		return "helper program failed";
	case Q_EBUDGET:
		return "budget spent";
	case Q_ENOTFOUND:
		return "not found";
	case Q_ECONFLICT:
		return "held by another";
	}
	return "unknown error";
}
