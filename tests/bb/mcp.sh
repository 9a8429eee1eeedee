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
