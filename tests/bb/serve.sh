# `quarry serve`: the HTTP API, its checks and limits, SSE, restarts.
# hreq NAME CURL-ARGS...: one request; body in $TMP/out, headers in $TMP/err,
# status in $RC (000 when no answer).
hreq() {
	NAME=$1
	shift
	RC=$(curl -s -m 10 -o "$TMP/out" -D "$TMP/err" -w '%{http_code}' "$@")
}
# start_serve HOME [ARGS...]: a server on a free port; sets SU, SPID, SA (auth header).
start_serve() {
	sh_home=$1
	shift
	rm -f "$TMP/serve.out"
	"$Q" serve --home "$sh_home" --listen 127.0.0.1:0 -j 0 "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
	SPID=$!
	i=0
	while ! grep -q "listening on" "$TMP/serve.out" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	SPORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/serve.out")
	SU="http://127.0.0.1:$SPORT"
	ST=$(cat "$sh_home/server-token" 2>/dev/null)
	[ -n "${QUARRY_SERVER_TOKEN:-}" ] && ST=$QUARRY_SERVER_TOKEN
	SA="Authorization: Bearer $ST"
}
stop_serve() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
JSON="Content-Type: application/json"
SH="$TMP/servehome"

# ---- start-up: token, login URL, loopback rule ----
start_serve "$SH"
NAME=serve-start; RC=0
if grep -q "login?token=$ST" "$TMP/serve.out"; then ok; else bad "no login URL with the token"; fi
if [ "$(stat -c %a "$SH/server-token")" = 600 ]; then ok; else bad "token file mode is not 0600"; fi
run serve-public-needs-flag "$Q" serve --home "$SH" --listen 0.0.0.0:0 -j 0
rc_is 2; err_has "--insecure-http"; err_has "TLS"

# ---- access ----
hreq healthz "$SU/healthz"; rc_is 200; out_has '"status":"ok"'
hreq no-token "$SU/v1/research"; rc_is 401; out_has "Authorization: Bearer"
hreq bad-token -H "Authorization: Bearer nope" "$SU/v1/research"; rc_is 401; out_has "token is wrong"
hreq foreign-host -H "$SA" -H "Host: evil.example:$SPORT" "$SU/v1/research"; rc_is 421
out_has "--allowed-host evil.example"
hreq foreign-origin -H "$SA" -H "$JSON" -H "Origin: http://evil.example" -d '{"question":"x"}' "$SU/v1/research"
rc_is 403; out_has "foreign_origin"
hreq cross-site -H "$SA" -H "$JSON" -H "Sec-Fetch-Site: cross-site" -d '{"question":"x"}' "$SU/v1/research"
rc_is 403
hreq login-bad "$SU/login?token=wrong"; rc_is 401
hreq login "$SU/login?token=$ST"; rc_is 303
if grep -qi "^Set-Cookie: quarry_token=$ST; Path=/; HttpOnly; SameSite=Strict" "$TMP/err"; then ok
else bad "login sets no HttpOnly SameSite=Strict cookie"; fi
hreq cookie -H "Cookie: quarry_token=$ST" "$SU/v1/research"; rc_is 200
hreq ui "$SU/"; rc_is 200; out_has '<script type="module" src="/ui/app.js">'
if grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self'" "$TMP/err"; then ok
else bad "the UI has no strict CSP"; fi
hreq openapi "$SU/v1/openapi.json"; rc_is 200; out_has '"openapi": "3.0.3"'
hreq not-found -H "$SA" "$SU/v1/nope"; rc_is 404; out_has "openapi.json"
hreq method -H "$SA" -X PUT "$SU/v1/research"; rc_is 405

# ---- bad input ----
hreq malformed -H "$SA" -H "$JSON" -d '{"question":' "$SU/v1/research"; rc_is 400; out_has '"bad_json"'
hreq not-object -H "$SA" -H "$JSON" -d '[1]' "$SU/v1/research"; rc_is 400; out_has "JSON object"
hreq wrong-type -H "$SA" -H "$JSON" -d '{"question":"q","depth":"3"}' "$SU/v1/research"
rc_is 400; out_has '"field":"depth"'; out_has "must be an integer"
hreq wrong-type2 -H "$SA" -H "$JSON" -d '{"question":"q","sources":["web","moon"]}' "$SU/v1/research"
rc_is 400; out_has '"field":"sources"'
hreq range -H "$SA" -H "$JSON" -d '{"question":"q","max_sources":100000}' "$SU/v1/research"
rc_is 400; out_has '"field":"max_sources"'
hreq unknown-field -H "$SA" -H "$JSON" -d '{"question":"q","colour":"red"}' "$SU/v1/research"
rc_is 400; out_has '"field":"colour"'
hreq missing-question -H "$SA" -H "$JSON" -d '{"depth":1}' "$SU/v1/research"; rc_is 400; out_has '"field":"question"'
hreq form-post -H "$SA" -d 'question=x' "$SU/v1/research"; rc_is 415
head -c 2000000 /dev/zero | tr '\0' 'a' >"$TMP/big.json"
hreq huge-body -H "$SA" -H "$JSON" --data-binary @"$TMP/big.json" "$SU/v1/research"; rc_is 413
head -c 40000 /dev/zero | tr '\0' 'a' >"$TMP/bighdr"
hreq huge-header -H "$SA" -H "X-Big: $(cat "$TMP/bighdr")" "$SU/healthz"
if [ "$RC" = 400 ] || [ "$RC" = 431 ] || [ "$RC" = 413 ] || [ "$RC" = 000 ]; then ok; else bad "huge header answered $RC"; fi
hreq bad-id -H "$SA" "$SU/v1/research/abc"; rc_is 404
hreq no-run -H "$SA" "$SU/v1/research/999"; rc_is 404
hreq bad-format -H "$SA" "$SU/v1/research/1?format=pdf"; rc_is 400; out_has '"field":"format"'
hreq bad-limit -H "$SA" "$SU/v1/research?limit=0"; rc_is 400; out_has '"field":"limit"'
hreq bad-status -H "$SA" "$SU/v1/research?status=sleepy"; rc_is 400

# ---- the research API without a worker: queue, read, list, cancel ----
hreq create -H "$SA" -H "$JSON" -d '{"question":"first queued","depth":1,"sources":"corpus","time_limit":"5m"}' "$SU/v1/research"
rc_is 202; out_has '"id":1'; out_has '"status":"queued"'
if grep -qi "^Location: /v1/research/1" "$TMP/err"; then ok; else bad "no Location"; fi
hreq create2 -H "$SA" -H "$JSON" -d '{"question":"second queued","budget_usd":0.5}' "$SU/v1/research"; rc_is 202
hreq get -H "$SA" "$SU/v1/research/1"; rc_is 200; out_has '"question":"first queued"'
out_has '"time_limit_ms":300000'; out_has '"status":"queued"'
hreq not-ready -H "$SA" "$SU/v1/research/1?format=md"; rc_is 409; out_has "no report yet"
hreq list -H "$SA" "$SU/v1/research?limit=1"; rc_is 200; out_has '"second queued"'; out_has '"next_cursor":2'
hreq list-page -H "$SA" "$SU/v1/research?limit=1&cursor=2"; rc_is 200; out_has '"first queued"'
hreq list-q -H "$SA" "$SU/v1/research?q=second"; rc_is 200; out_has '"second queued"'; out_lacks '"first queued"'
hreq list-status -H "$SA" "$SU/v1/research?status=done"; rc_is 200; out_has '"runs":[]'
hreq cancel -H "$SA" -X DELETE "$SU/v1/research/2"; rc_is 202; out_has '"cancelling"'
hreq cancelled -H "$SA" "$SU/v1/research/2"; rc_is 200; out_has '"status":"cancelled"'
hreq delete -H "$SA" -X DELETE "$SU/v1/research/2"; rc_is 200; out_has '"deleted"'
hreq deleted -H "$SA" "$SU/v1/research/2"; rc_is 404
hreq metrics -H "$SA" "$SU/metrics"; rc_is 200; out_has 'quarry_runs{status="queued"} 1'
out_has 'quarry_queue_length 1'; out_has 'quarry_http_requests_total{route="research_create",code="2xx"} 2'
out_has 'quarry_http_request_seconds_bucket{route="research_get",le="+Inf"}'
stop_serve

# ---- limits: queue, rate, watchers ----
start_serve "$SH" --queue-max 1 --rate-limit 5 --max-watchers 1
hreq queue-full -H "$SA" -H "$JSON" -d '{"question":"one too many"}' "$SU/v1/research"; rc_is 429
out_has '"queue_full"'; if grep -qi "^Retry-After: 30" "$TMP/err"; then ok; else bad "no Retry-After"; fi
curl -s -N -m 3 -H "$SA" "$SU/v1/research/1/events" >"$TMP/w1" &
W1=$!
sleep 0.3
hreq watcher-cap -H "$SA" "$SU/v1/research/1/events"; rc_is 503; out_has "too_many_watchers"
kill $W1 2>/dev/null; wait $W1 2>/dev/null
for i in 1 2 3 4; do hreq rate -H "$SA" "$SU/v1/research"; [ "$RC" = 429 ] && break; done; rc_is 429; out_has "rate_limited"
if grep -qi "^Retry-After: [0-9]" "$TMP/err"; then ok; else bad "no Retry-After on 429"; fi
hreq rate-health "$SU/healthz"; rc_is 200   # no token: not counted against it
stop_serve

# ---- connections: slowloris headers, 1,000 idle connections ----
if command -v node >/dev/null 2>&1; then
	start_serve "$SH" --header-timeout 2s
	NAME=serve-slowloris
	r=$(node tests/js/serve_conns.mjs slowloris "$SPORT")
	case "$r" in "closed after "*) ms=${r#closed after }
		if [ "$ms" -lt 5000 ]; then ok; else bad "slow headers held $ms ms"; fi ;;
	*) bad "slow headers: $r" ;; esac
	NAME=serve-idle-1000
	r=$(node tests/js/serve_conns.mjs idle "$SPORT" 1000)
	case "$r" in "idle 1000 ok "*) ok ;; *) bad "1000 idle connections: $r" ;; esac
	stop_serve
else
	SKIP=$((SKIP + 1)); echo "skip: serve connection tests (no node)"
fi

# ---- corpus API ----
start_serve "$SH"
printf '# Okapi notes\n\nThe okapi is the only living relative of the giraffe.\n' >"$TMP/okapi.md"
hreq upload -H "$SA" -F "file=@$TMP/okapi.md" "$SU/v1/documents"; rc_is 201; out_has '"added":1'
hreq upload-origin -H "$SA" -H "Origin: http://evil.example" -F "file=@$TMP/okapi.md" "$SU/v1/documents"; rc_is 403
hreq upload-raw -H "$SA" --data-binary 'plain words about tapirs' "$SU/v1/documents?name=../../tapir.txt"
rc_is 201; out_has '/uploads/'; out_lacks '../'
hreq upload-binary -H "$SA" -F "file=@$Q;filename=prog.bin" "$SU/v1/documents"; rc_is 422; out_has '"skipped":1'
hreq upload-empty -H "$SA" -H "Content-Type: multipart/form-data; boundary=x" --data-binary 'junk' "$SU/v1/documents"
rc_is 400; out_has '"field":"file"'
head -c 34000000 /dev/zero >"$TMP/huge.txt"
hreq upload-huge -H "$SA" -F "file=@$TMP/huge.txt" "$SU/v1/documents"
if [ "$RC" = 413 ] || [ "$RC" = 000 ]; then ok; else bad "a 34 MB upload answered $RC"; fi
rm -f "$TMP/huge.txt"
hreq search -H "$SA" "$SU/v1/search?q=okapi+giraffe&k=5"; rc_is 200; out_has '"title":"Okapi notes"'
hreq search-noq -H "$SA" "$SU/v1/search"; rc_is 400; out_has '"field":"q"'
hreq search-k -H "$SA" "$SU/v1/search?q=x&k=1000"; rc_is 400; out_has '"field":"k"'
hreq docs -H "$SA" "$SU/v1/documents"; rc_is 200; out_has '"title":"Okapi notes"'
DOC=$(sed -n 's/.*"id":\([0-9]*\),"path":"[^"]*okapi.md".*/\1/p' "$TMP/out")
hreq doc-delete -H "$SA" -X DELETE "$SU/v1/documents/$DOC"; rc_is 200
hreq search-gone -H "$SA" "$SU/v1/search?q=okapi"; rc_is 200; out_lacks "Okapi notes"
NAME=serve-upload-file-gone
if ls "$SH/uploads" | grep -q okapi; then bad "the uploaded file was kept"; else ok; fi
hreq doc-delete-none -H "$SA" -X DELETE "$SU/v1/documents/99999"; rc_is 404
stop_serve

# ---- SSE: a run carried by a foreground research, watched across a restart ----
SSEH="$TMP/ssehome"
start_llm sseslow '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":400},{"auto":"research"}]'
start_serve "$SSEH"
env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" research --home "$SSEH" --allow-private \
	--sources web "$RQ" >"$TMP/sse-research.out" 2>&1 &
RPID=$!
i=0
while ! curl -s -H "$SA" "$SU/v1/research/1" | grep -q '"status"' && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
curl -s -N -m 60 -H "$SA" "$SU/v1/research/1/events" >"$TMP/sse1" &
C1=$!
sleep 1.5
stop_serve   # the server goes in the middle of the run
wait $C1 2>/dev/null
LAST=$(sed -n 's/^id: //p' "$TMP/sse1" | tail -1)
NAME=serve-sse-first; RC=0
if [ -n "$LAST" ] && [ "$LAST" -ge 1 ]; then ok; else bad "no events before the restart"; fi
start_serve "$SSEH"
curl -s -N -m 60 -H "$SA" -H "Last-Event-ID: ${LAST:-0}" "$SU/v1/research/1/events" >"$TMP/sse2"
wait $RPID 2>/dev/null
NAME=serve-sse-resume
cat "$TMP/sse1" "$TMP/sse2" | sed -n 's/^id: //p' >"$TMP/sse-ids"
n=$(wc -l <"$TMP/sse-ids")
if [ "$n" -ge 5 ] && [ "$(sort -n -u "$TMP/sse-ids" | wc -l)" -eq "$n" ] && \
   [ "$(tail -1 "$TMP/sse-ids")" -eq "$n" ]; then ok; else bad "events not 1..N once each: $(tr '\n' ' ' <"$TMP/sse-ids")"; fi
if grep -q '"type":"report"' "$TMP/sse2" && grep -q '^event: end' "$TMP/sse2"; then ok
else bad "the resumed stream did not end after the report"; fi
if head -3 "$TMP/sse2" | grep -q '^: quarry events'; then ok; else bad "no opening comment"; fi
hreq after-done -H "$SA" "$SU/v1/research/1/events?after=3"; rc_is 200; out_has "id: 4"
if grep -qx "id: 3" "$TMP/out"; then bad "?after=3 sent event 3"; else ok; fi
out_has "event: end"
hreq report-md -H "$SA" "$SU/v1/research/1?format=md"; rc_is 200; out_has "## Sources"
hreq report-html -H "$SA" "$SU/v1/research/1?format=html"; rc_is 200; out_has "<!DOCTYPE html>"
if grep -qi "^Content-Security-Policy: default-src 'none'" "$TMP/err"; then ok; else bad "report HTML without CSP"; fi
hreq report-json -H "$SA" "$SU/v1/research/1?format=json"; rc_is 200; out_has '"verification"'
hreq status-done -H "$SA" "$SU/v1/research/1"; rc_is 200; out_has '"status":"done"'; out_has '"figures"'
hreq running-delete -H "$SA" -X DELETE "$SU/v1/research/1"; rc_is 200
stop_serve

# ---- the token from the environment and from a file ----
printf 'file-token-0123456789abcdef\n' >"$TMP/tok"
chmod 644 "$TMP/tok"
run serve-token-open "$Q" serve --home "$SH" --listen 127.0.0.1:0 -j 0 --token-file "$TMP/tok"
rc_is 1; err_has "chmod 600"
chmod 600 "$TMP/tok"
start_serve "$SH" --token-file "$TMP/tok"
hreq token-file -H "Authorization: Bearer file-token-0123456789abcdef" "$SU/v1/research"; rc_is 200
hreq token-file-old -H "$SA" "$SU/v1/research"
if [ "$ST" = file-token-0123456789abcdef ]; then ok; else rc_is 401; fi
stop_serve
QUARRY_SERVER_TOKEN=env-token-0123456789abcdef
export QUARRY_SERVER_TOKEN
start_serve "$SH"
hreq token-env -H "Authorization: Bearer env-token-0123456789abcdef" "$SU/v1/research"; rc_is 200
stop_serve
unset QUARRY_SERVER_TOKEN
