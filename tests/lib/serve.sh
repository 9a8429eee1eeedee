# serve.sh - quarry serve for the serve-, mcp- and openai cases: start it on
# a free port, send it requests with curl. A case loads it with 'use: serve'.
# hreq CURL-ARGS...: one request; its body in $OUT and its headers in
# $ERR (so stdout:/stderr: check them), the HTTP status in $RC (000: no
# answer), so exit: checks it.
hreq() { RC=$(curl -s -m 10 -o "$OUT" -D "$ERR" -w '%{http_code}' "$@"); }
# start_serve HOME [ARGS...]: quarry serve on a free port, no workers
# unless ARGS say -j N; sets SU, SPORT, SPID, ST (its token) and SA (the
# Authorization header).
start_serve() {
	sh_home=$1
	shift
	rm -f "$TMP/serve.out"
	bg quarry serve --home "$sh_home" --listen 127.0.0.1:0 -j 0 "$@" >"$TMP/serve.out" 2>"$TMP/serve.err"
	SPID=$BG
	i=0
	while ! grep -q "listening on" "$TMP/serve.out" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	SPORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/serve.out")
	SU="http://127.0.0.1:$SPORT"
	ST=${QUARRY_SERVER_TOKEN:-$(cat "$sh_home/server-token" 2>/dev/null)}
	SA="Authorization: Bearer $ST"
}
stop_serve() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
JSON="Content-Type: application/json"
