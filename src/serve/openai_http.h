/*
 * openai_http.h - the route tables of the OpenAI-compatible endpoint
 * (openai_http.c) and of MCP's Streamable HTTP transport (mcp_http.c),
 * mounted by `quarry serve`.
 */
#ifndef Q_OPENAI_HTTP_H
#define Q_OPENAI_HTTP_H

#include "serve.h"

/* GET /v1/models, POST /v1/chat/completions */
extern const struct serve_route openai_routes[];
/* POST, GET and DELETE /mcp */
extern const struct serve_route serve_mcp_routes[];

#endif
