/*
 * random.c - see random.h. splitmix64 over an atomic counter: each call
 * takes the next counter value (one atomic add, no lock) and mixes it, so
 * threads never see the same value and the output passes the usual
 * statistical tests; the counter starts at a per-process random seed,
 * drawn again in a forked child (which would otherwise repeat its
 * parent's sequence).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "random.h"

/* splitmix64's increment (the golden ratio in 64 bits). */
#define RANDOM_GAMMA 0x9e3779b97f4a7c15ULL

static _Atomic uint64_t counter;
static _Atomic pid_t seeded_pid; /* the process the counter was seeded in; 0 before */
static pthread_mutex_t seed_mu = PTHREAD_MUTEX_INITIALIZER;

/* Seed the counter unless this process already has. */
static void seed(void)
{
	pid_t self = getpid();
	uint64_t s = 0;
	struct timespec ts;

	if (atomic_load(&seeded_pid) == self)
		return;
	pthread_mutex_lock(&seed_mu);
	if (atomic_load(&seeded_pid) != self) {
		if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)self << 40);
		}
		atomic_store(&counter, s);
		atomic_store(&seeded_pid, self);
	}
	pthread_mutex_unlock(&seed_mu);
}

uint64_t q_random_u64(void)
{
	uint64_t z;

	seed();
	z = atomic_fetch_add(&counter, RANDOM_GAMMA) + RANDOM_GAMMA;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double q_random_unit(void)
{
	return (double)(q_random_u64() >> 11) / 9007199254740992.0; /* 53 bits / 2^53 */
}
