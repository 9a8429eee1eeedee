/*
 * banned.h - functions we never call, made compile errors.
 *
 * Included into every translation unit by the Makefile (-include).
 * Compiled with -D_GNU_SOURCE so feature macros are set before this. Each of
 * these either cannot be bounded (strcpy, sprintf, gets) or hides errors
 * (atoi, atol, strtok's hidden state), or shares hidden state between
 * threads (gmtime, localtime, ctime, asctime, rand), or silently truncates
 * without a terminator (strncpy). Use the bounded helpers in qbuf.h,
 * snprintf, strtol with checks, strtok_r, gmtime_r/localtime_r, or
 * q_random_u64 (random.h) instead.
 */
#ifndef Q_BANNED_H
#define Q_BANNED_H

/* The standard headers that declare these come first, so the macros below
 * do not rewrite their declarations; include guards keep later includes
 * from seeing the macros. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef gmtime
#define gmtime(x) BANNED(gmtime)
#undef localtime
#define localtime(x) BANNED(localtime)
#undef ctime
#define ctime(x) BANNED(ctime)
#undef asctime
#define asctime(x) BANNED(asctime)
#undef rand
#define rand() BANNED(rand)
#undef srand
#define srand(x) BANNED(srand)

#endif
