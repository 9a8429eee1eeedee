/*
 * random.h - random numbers for jitter (retry backoff and the like), not
 * for secrets.
 *
 * rand() shares one hidden state between threads and, never seeded, gives
 * every process the same sequence, so workers retrying against one server
 * all waited the same "random" time. Here the state is seeded once per
 * process from getrandom (the clock and pid if that fails) and advanced
 * atomically, so any thread may call these at any time.
 */
#ifndef Q_RANDOM_H
#define Q_RANDOM_H

#include <stdint.h>

/* 64 random bits. Thread-safe. */
uint64_t q_random_u64(void);

/* A number in [0, 1). Thread-safe. */
double q_random_unit(void);

#endif
