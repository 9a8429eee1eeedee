/*
 * resolve_env.h - for unit tests that resolve a model config: the
 * process environment as the config's snapshot, as the CLI gives it (the
 * core reads no environment itself). Included by one test file each, so
 * its definitions are static.
 */
#ifndef Q_TEST_RESOLVE_ENV_H
#define Q_TEST_RESOLVE_ENV_H

#include "../../src/core/config.h"
#include "../../src/core/err.h"
#include "../../src/llm/llm.h"

extern char **environ;

static struct config env_only;

/* llm_config_resolve(c, o, file or the environment-only snapshot). */
static int resolve_env(struct llm_config *c, const struct llm_overrides *o, struct config *file,
		       struct q_error *err)
{
	struct config *f = file ? file : &env_only;

	if (config_set_env(f, environ))
		return Q_ENOMEM;
	return llm_config_resolve(c, o, f, err);
}

#endif
