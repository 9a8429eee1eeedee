/*
 * mcp.h - the Model Context Protocol server, independent of transport.
 *
 * A transport (stdio in `quarry mcp`, Streamable HTTP on `quarry serve`)
 * hands every JSON-RPC 2.0 message it receives to mcp_server_handle and
 * writes out whatever the server passes to its send callback: responses,
 * and notifications (progress). Tool calls run on their own threads, so
 * a long research call leaves the session free for ping, other calls and
 * notifications/cancelled, which stops the call it names (no response is
 * sent for a cancelled call, as the specification asks).
 *
 * Protocol: the MCP revision 2025-11-25 (what @modelcontextprotocol/sdk
 * 1.32 speaks), and the earlier ones it lists (2025-06-18, 2025-03-26,
 * 2024-11-05). initialize answers with the client's version when it is
 * one of those, else with the newest. Methods: initialize, ping,
 * tools/list, tools/call, resources/list, resources/read,
 * resources/templates/list; notifications/initialized and
 * notifications/cancelled are read, notifications/progress is sent when
 * a call carries _meta.progressToken. JSON-RPC batches (arrays) were
 * removed from MCP in 2025-06-18 and are answered as invalid requests.
 *
 * Everything a client sends is untrusted: a message is refused past
 * MCP_MAX_MESSAGE_BYTES or MCP_MAX_DEPTH levels of nesting, calls past
 * MCP_MAX_PENDING running at once, and tool arguments are checked against
 * each tool's schema (types, lengths, ranges) before anything runs.
 */
#ifndef Q_MCP_H
#define Q_MCP_H

#include <stddef.h>

#include <jansson.h>

#include "../core/config.h"
#include "../core/err.h"
#include "../llm/llm.h"

#define MCP_MAX_MESSAGE_BYTES (4L * 1024 * 1024)
#define MCP_MAX_DEPTH 32  /* arrays and objects inside each other */
#define MCP_MAX_PENDING 8 /* tool calls running at once per session */
#define MCP_PROTOCOL_LATEST "2025-11-25"
#define MCP_MAX_ID_BYTES 256 /* a string request id or progress token */

/* JSON-RPC 2.0 error codes (and MCP's resource-not-found). */
enum {
	MCP_PARSE_ERROR = -32700,
	MCP_INVALID_REQUEST = -32600,
	MCP_METHOD_NOT_FOUND = -32601,
	MCP_INVALID_PARAMS = -32602,
	MCP_INTERNAL_ERROR = -32603,
	MCP_RESOURCE_NOT_FOUND = -32002
};

/* Called with one complete JSON-RPC message (no newline), from the
 * thread that called mcp_server_handle or from a tool call's thread; the
 * server serialises the calls, so it is never called twice at once.
 * about is the id of the request the message answers or reports the
 * progress of (a transport with a stream per request, Streamable HTTP,
 * sends it there), NULL for none; it is borrowed for the call. */
typedef void (*mcp_send_fn)(void *ctx, const char *json, size_t len, const json_t *about);

/* What the tools run with; borrowed for the server's life. */
struct mcp_env {
	const char *home;          /* the quarry home folder (cli_store_home's answer) */
	const struct config *file; /* the config file's settings, may be NULL */
	struct llm_client *llm;    /* shared by the calls; NULL: extractive research */
	int allow_private;         /* fetch_url and research may reach private addresses */
	/* research and ask queue their runs for the workers and follow them
	 * through the run store (quarry serve, which runs no research itself)
	 * instead of running them on the call's thread with llm. */
	int queue;
	/* tools/call checks its arguments and answers without running the
	 * tool: for the fuzz target, which must not reach the network. */
	int validate_only;
};

struct mcp_server; /* opaque */

/* A server for one session. 0, or Q_ENOMEM. */
int mcp_server_new(struct mcp_server **out, const struct mcp_env *env, mcp_send_fn send, void *ctx,
		   struct q_error *err);
/* Handle one message of len bytes (need not be NUL-terminated). Answers
 * go through send, now or (tool calls) later from the call's thread.
 * Not to be called from two threads at once. */
void mcp_server_handle(struct mcp_server *s, const char *msg, size_t len);
/* The protocol version initialize agreed on, "" before it. */
const char *mcp_server_version(const struct mcp_server *s);
/* Wait until no tool call runs (the input ended: let them answer).
 * Polls *stop every 100 ms (may be NULL): once it is non-zero, the calls
 * still running are cancelled and not waited for past their ending. */
void mcp_server_wait(struct mcp_server *s, volatile int *stop);
/* Cancel every running call, wait for their threads, free. NULL is fine. */
void mcp_server_free(struct mcp_server *s);

/* A research event (docs/EVENTS.md) as one line a person reads while the
 * run goes on ("read [3] Why the US switched off SA"), for MCP progress
 * and the OpenAI endpoint's reasoning deltas: 1 with msg set, 0 for
 * events not worth a line. */
#define MCP_EVENT_SUMMARY_MAX 300
int mcp_event_summary(const json_t *ev, char *msg, size_t size);

/* The version to answer a client asking for requested (NULL: none). */
const char *mcp_negotiate_version(const char *requested);

#endif
