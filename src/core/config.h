/*
 * config.h - the user's config file: `key = value` lines.
 *
 * Found at $QUARRY_CONFIG, else $XDG_CONFIG_HOME/quarry/config, else
 * ~/.config/quarry/config; a missing file is an empty config. '#' starts a
 * comment line; keys are [A-Za-z0-9_.-]+ and case-sensitive; values are
 * trimmed and may be wrapped in double quotes. A later key wins. Errors name
 * the file and line. Settings come from flags, then the environment, then
 * this file, then defaults: callers ask config_get last.
 */
#ifndef Q_CONFIG_H
#define Q_CONFIG_H

#include <stddef.h>

#include "err.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_ENTRIES 1024

struct config_entry {
	char *key;
	char *value;
	int line;          /* 1-based line in the file, for messages */
};

struct config {
	struct config_entry *entries;
	size_t n;
	char path[4096];   /* the file read, "" if none */
};

/* Parse text (from file `name`, used in messages). Returns 0 or
 * Q_EPARSE / Q_ETOOBIG / Q_ENOMEM with err naming the line. */
int config_parse(struct config *c, const char *text, size_t n, const char *name, struct q_error *err);

/* Load the user's config file (see above); path_flag overrides the search. */
int config_load(struct config *c, const char *path_flag, struct q_error *err);

void config_release(struct config *c);

/* Every key quarry reads (NULL-terminated), besides "price.MODEL". */
extern const char *const config_known_keys[];
/* 1 if key is one quarry reads, 0 if it is unknown (a typo, most often). */
int config_key_known(const char *key);

/* The last value of key, or NULL. */
const char *config_get(const struct config *c, const char *key);

/* A setting: environment variable env, else the file's key (c may be
 * NULL); an empty value counts as unset. NULL if neither is set. */
const char *config_setting(const struct config *c, const char *env, const char *key);

#endif
