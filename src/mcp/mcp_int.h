/*
 * mcp_int.h - what the MCP protocol layer (mcp.c) and the tools and
 * resources (mcp_tools.c, mcp_resources.c) share; not for other modules.
 */
#ifndef Q_MCP_INT_H
#define Q_MCP_INT_H

#include <jansson.h>
#include <pthread.h>

#include "../research/research.h"
#include "mcp.h"

/* One tools/call while it runs, on its own thread. */
struct mcp_call {
	struct mcp_server *srv;
	json_t *id;                    /* the request's id (owned) */
	json_t *progress_token;        /* _meta.progressToken (owned), NULL if none */
	double progress;               /* the last progress sent: it must grow */
	char *name;                    /* the tool (owned) */
	json_t *args;                  /* its arguments, checked (owned) */
	pthread_mutex_t mu;            /* guards cancelled and research */
	volatile int cancelled;        /* notifications/cancelled (or the server closing) */
	struct research_env *research; /* the research the call runs now, NULL if none */
};

/* Send a notifications/progress for the call, if the client asked for
 * progress and the call was not cancelled. Thread-safe. */
void mcp_call_progress(struct mcp_call *c, const char *message);
/* Whether the call was cancelled. Thread-safe. */
int mcp_call_cancelled(struct mcp_call *c);
/* Run fn's research with env cancellable by the call: research_run, with
 * env registered for notifications/cancelled. Q_ETIMEOUT at once when the
 * call was cancelled already. */
int mcp_call_research(struct mcp_call *c, const struct research_opts *o, struct research_env *env,
		      struct research_result *res, struct q_error *err);

/* The tools: the tools/list array (new reference). */
json_t *mcp_tools_list(void);
/* Whether a tool of that name exists. */
int mcp_tool_exists(const char *name);
/* Check args against the tool's schema: 0, or Q_EINVAL with why set. */
int mcp_tool_check(const char *name, const json_t *args, struct q_error *why);
/* Run the tool: a CallToolResult (content, structuredContent, isError),
 * new reference; NULL only when out of memory. */
json_t *mcp_tool_run(struct mcp_call *c, const struct mcp_env *env);

/* Resources: reports of runs as quarry://runs/{id}/report. The
 * resources/list result, the resources/templates/list result, and the
 * resources/read result for uri (NULL with code and why set when there
 * is no such resource or it cannot be read). */
json_t *mcp_resources_list(const struct mcp_env *env, struct q_error *why);
json_t *mcp_resource_templates(void);
json_t *mcp_resource_read(const struct mcp_env *env, const char *uri, int *code, struct q_error *why);

/* A CallToolResult for an error the caller's model can read and act on. */
json_t *mcp_tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
