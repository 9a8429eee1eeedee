/* libFuzzer target: the MCP JSON-RPC handler (src/mcp) on one message:
 * the size and nesting caps, the message shape, every method's params
 * and every tool's argument check (validate_only: no tool runs, nothing
 * reaches the network). Everything the server sends back must be JSON. */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../src/mcp/mcp.h"

static void check_reply(void *ctx, const char *json, size_t len, const json_t *about)
{
	json_t *m = json_loadb(json, len, 0, NULL);

	(void)ctx;
	(void)about;
	if (!m || !json_is_object(m))
		__builtin_trap();
	json_decref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcp_env env = {0};
	struct mcp_server *srv = NULL;

	env.home = "/nonexistent/quarry-fuzz";
	env.validate_only = 1;
	if (mcp_server_new(&srv, &env, check_reply, NULL, NULL))
		return 0;
	mcp_server_handle(srv, (const char *)data, size);
	mcp_server_free(srv);
	return 0;
}
