# Black-box cases of the MCP server (`quarry mcp`) and, through node, the
# official MCP SDK client against it (tests/js/mcp_*.test.mjs; each of
# their "ok"/"not ok" lines counts as a case here).
MH="$TMP/mcp-home"
MQ="env -u QUARRY_ALLOW_PRIVATE $Q mcp --home $MH"

# node_test NAME FILE [VAR=VALUE...]: run a tests/js file, count its checks.
node_test() {
	NAME=$1
	f=$2
	shift 2
	if [ ! -d tests/js/node_modules ]; then
		bad "tests/js/node_modules is missing: run 'npm ci --prefix tests/js' (make test does)"
		return
	fi
	env -u QUARRY_ALLOW_PRIVATE QUARRY="$Q" B="$B" "$@" timeout 300 node "tests/js/$f" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	grep -q '^ok ' "$TMP/out" || bad "$f made no check (exit $RC)"
	while IFS= read -r line; do
		case $line in
		"ok "*) ok ;;
		"not ok "*) NAME="$f: ${line#not ok }"; bad "check failed" ;;
		esac
	done <"$TMP/out"
	if [ "$RC" -ne 0 ] && ! grep -q '^not ok ' "$TMP/out"; then bad "$f exited $RC"; fi
}

# Plain stdio: one message per line in, one per line out, errors with codes.
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}' \
	'{"jsonrpc":"2.0","id":2,"method":"ping"}' '{oops' '' \
	'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"fetch_url","arguments":{"url":"http://127.0.0.1:9/"}}}' \
	>"$TMP/mcp-in"
run mcp-stdio-basics $MQ --no-llm <"$TMP/mcp-in"
rc_is 0; out_has '"protocolVersion":"2025-06-18"'; out_has '"id":2,"result":{}'
out_has '"code":-32700'; out_has 'loopback address'
if [ "$(wc -l <"$TMP/out")" -eq 4 ]; then ok; else bad "not one line per answer"; fi
if [ -s "$TMP/err" ]; then bad "stderr not empty"; else ok; fi
run mcp-operand $MQ extra; rc_is 2; err_has "no arguments"
# A line over the 4 MB cap is skipped to its newline and refused; the next one is read.
head -c 5000000 /dev/zero | tr '\0' 'x' >"$TMP/mcp-big"
printf '\n{"jsonrpc":"2.0","id":9,"method":"ping"}\n' >>"$TMP/mcp-big"
run mcp-overlong $MQ --no-llm <"$TMP/mcp-big"
rc_is 0; out_has 'longer than the cap'; out_has '"id":9,"result":{}'

start_llm mcp-auto '[{"auto":"research"}]'
MCP_AUTO=$LU
start_llm mcp-stall '[{"fault":"slow_start","delay_ms":20000,"content":"late"}]'
node_test mcp-stdio mcp_stdio.test.mjs QHOME="$MH" LLM_AUTO="$MCP_AUTO" LLM_STALL="$LU"

# quarry serve (with its worker, the fake model and the sample corpus):
# the openai npm client on /v1, the MCP SDK over Streamable HTTP on /mcp.
# No QUARRY_ALLOW_PRIVATE: fetch_url must refuse the loopback fake site, so
# research reads the corpus (the fake site's pages are refused).
SVH="$TMP/mcp-serve-home"
"$Q" index add --home "$SVH" sample/corpus >/dev/null 2>&1
start_llm mcp-serve '[{"match":"slow model stalls","fault":"slow_start","delay_ms":30000,"content":"late"},{"auto":"research"}]'
env -u QUARRY_ALLOW_PRIVATE QUARRY_SERVER_TOKEN=mcp-serve-token-0123456789 QUARRY_LLM_BASE_URL="$LU" \
	QUARRY_LLM_MODEL=m QUARRY_LLM_BACKOFF_MS=10 QUARRY_SEARXNG_URL="$B" \
	"$Q" serve --home "$SVH" --listen 127.0.0.1:0 >"$TMP/mcp-serve.out" 2>"$TMP/mcp-serve.err" &
MCP_SERVE_PID=$!
LLM_PIDS="$LLM_PIDS $MCP_SERVE_PID"
i=0
while ! grep -qs 'listening on' "$TMP/mcp-serve.out" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
SURL=$(sed -n 's#.*listening on \(http://[^/]*\)/.*#\1#p' "$TMP/mcp-serve.out" | head -1)
NAME=mcp-serve-up
if [ -n "$SURL" ]; then ok; else bad "quarry serve did not start: $(head -3 "$TMP/mcp-serve.err")"; fi
node_test openai openai.test.mjs SURL="$SURL" TOKEN=mcp-serve-token-0123456789
node_test mcp-http mcp_http.test.mjs SURL="$SURL" TOKEN=mcp-serve-token-0123456789
kill "$MCP_SERVE_PID" 2>/dev/null
wait "$MCP_SERVE_PID" 2>/dev/null
