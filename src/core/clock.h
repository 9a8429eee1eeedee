/*
 * clock.h - the one monotonic clock: milliseconds for timeouts, deadlines
 * and figures. Thread-safe.
 */
#ifndef Q_CLOCK_H
#define Q_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC (arbitrary origin). */
double q_now_ms(void);

#endif
