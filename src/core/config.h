/*
 * config.h - the user's config file: `key = value` lines.
 *
 * Found at $QUARRY_CONFIG, else $XDG_CONFIG_HOME/quarry/config, else
 * ~/.config/quarry/config; a missing file is an empty config. '#' starts a
 * comment line; keys are [A-Za-z0-9_.-]+ and case-sensitive; values are
 * trimmed and may be wrapped in double quotes. A later key wins. Errors name
 * the file and line. Settings come from flags, then the environment, then
 * this file, then defaults: callers ask config_get last.
 *
 * The environment is not read here or anywhere in the core: the front end
 * (src/cli) hands config_load a copy of its environment (envp), which is
 * kept in the config as a snapshot. Every "environment" setting of a run
 * (model, keys, search providers, backoff) is looked up in that snapshot,
 * so two runs holding two configs use two sets of settings in one process.
 */
#ifndef Q_CONFIG_H
#define Q_CONFIG_H

#include <stddef.h>

#include "err.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_ENTRIES 1024
#define CONFIG_MAX_ENV 4096        /* environment entries kept; more are ignored */
#define CONFIG_MAX_ENV_BYTES 65536 /* a longer NAME=value is ignored */

struct config_entry {
	char *key;
	char *value;
	int line; /* 1-based line in the file, for messages */
};

struct config {
	struct config_entry *entries;
	size_t n;
	char path[4096];          /* the file read, "" if none */
	struct config_entry *env; /* snapshot of the environment; line unused */
	size_t n_env;
};

/* Parse text (from file `name`, used in messages). Returns 0 or
 * Q_EPARSE / Q_ETOOBIG / Q_ENOMEM with err naming the line. */
int config_parse(struct config *c, const char *text, size_t n, const char *name, struct q_error *err);

/* Load the user's config file (see above) and keep a copy of envp (a
 * NULL-terminated NAME=value array, may be NULL: no environment), which
 * also locates the file; path_flag overrides the search. */
int config_load(struct config *c, const char *path_flag, char *const *envp, struct q_error *err);

/* Replace c's environment snapshot with a copy of envp (may be NULL).
 * Returns 0 or Q_ENOMEM. */
int config_set_env(struct config *c, char *const *envp);

/* Variable name's value in envp (a NULL-terminated NAME=value array, may
 * be NULL), as getenv would find it; NULL if absent or empty. */
const char *config_envp_get(char *const *envp, const char *name);

/* The snapshot's value of variable name, or NULL (c may be NULL). */
const char *config_env(const struct config *c, const char *name);

void config_release(struct config *c);

/* Every key quarry reads (NULL-terminated), besides "price.MODEL". */
extern const char *const config_known_keys[];
/* 1 if key is one quarry reads, 0 if it is unknown (a typo, most often). */
int config_key_known(const char *key);

/* The last value of key, or NULL. */
const char *config_get(const struct config *c, const char *key);

/* A setting: environment variable env (from c's snapshot), else the
 * file's key (c may be NULL; key may be NULL); an empty value counts as
 * unset. NULL if neither is set. */
const char *config_setting(const struct config *c, const char *env, const char *key);

#endif
