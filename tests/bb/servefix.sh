# `quarry serve` fixes from the new-user trial (issue 14): dead workers are
# replaced, /healthz tells when queued runs have no worker, JSON errors,
# clean shutdown of streams, exit codes and status reasons.
# Uses start_serve, stop_serve and hreq from tests/bb/serve.sh.
SFH="$TMP/servefixhome"

# ---- a worker killed with -9 is reaped and replaced (with a note on stderr) ----
start_serve "$SFH" -j 1
WPID=$(sed -n 's/.*worker pid \([0-9]*\).*/\1/p' "$TMP/serve.out" | head -n 1)
NAME=servefix-worker-pid-logged; RC=0
if [ -n "$WPID" ]; then ok; else bad "serve logs no worker pid"; fi
[ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null
i=0
while ! grep -q "started worker" "$TMP/serve.err" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
NAME=servefix-worker-restarted
NPID=$(sed -n 's/.*started worker \([0-9]*\) in place.*/\1/p' "$TMP/serve.err" | head -n 1)
if [ -n "$NPID" ] && [ "$NPID" != "$WPID" ] && kill -0 "$NPID" 2>/dev/null; then ok
else bad "the killed worker $WPID was not replaced: $(cat "$TMP/serve.err")"; fi
NAME=servefix-worker-death-said
if grep -q "worker $WPID was killed by signal 9" "$TMP/serve.err"; then ok
else bad "no note that worker $WPID died"; fi
NAME=servefix-worker-zombie-reaped
if [ -z "$WPID" ] || ! grep -q '^State:.*Z' "/proc/$WPID/status" 2>/dev/null; then ok
else bad "worker $WPID is left a zombie"; fi
stop_serve

# ---- /healthz is degraded when runs are queued and no worker runs ----
start_serve "$SFH" -j 0
hreq servefix-healthz-idle "$SU/healthz"; rc_is 200; out_has '"status":"ok"'
hreq servefix-queue -H "$SA" -H "$JSON" -d '{"question":"who carries this run?"}' "$SU/v1/research"
rc_is 202
hreq servefix-healthz-degraded "$SU/healthz"; rc_is 200; out_has '"status":"degraded"'
out_has '"queued":1'; out_has '"workers":0'; out_has "quarry worker"
stop_serve

# ---- messages: usage exit code, a failed run's report, status reasons ----
run servefix-listen-nonsense "$Q" serve --home "$SFH" --listen nonsense -j 0
rc_is 2; err_has "--listen takes HOST:PORT"
SFF="$TMP/servefixfailed"
QUARRY_SEARXNG_URL=http://127.0.0.1:1 "$Q" research --home "$SFF" --sources web --no-llm \
	'zzq a run that finds nothing' >/dev/null 2>&1
start_serve "$SFF" -j 0 --queue-max 1
hreq servefix-failed-md -H "$SA" "$SU/v1/research/1?format=md"; rc_is 409
out_lacks "ask again when it is done"; out_has "is failed and has no report"
out_has "will not get one"
hreq servefix-q1 -H "$SA" -H "$JSON" -d '{"question":"one"}' "$SU/v1/research"; rc_is 202
hreq servefix-429 -H "$SA" -H "$JSON" -d '{"question":"two"}' "$SU/v1/research"; rc_is 429
NAME=servefix-429-reason
if grep -q '^HTTP/1.1 429 Too Many Requests' "$TMP/err"; then ok
else bad "429 status line: $(head -n 1 "$TMP/err")"; fi
hreq servefix-421 -H "$SA" -H "Host: evil.example:$SPORT" "$SU/v1/research"; rc_is 421
NAME=servefix-421-reason
if grep -q '^HTTP/1.1 421 Misdirected Request' "$TMP/err"; then ok
else bad "421 status line: $(head -n 1 "$TMP/err")"; fi
stop_serve

# ---- SIGTERM ends open SSE streams properly; stopping workers is said ----
SFS="$TMP/servefixstop"
start_serve "$SFS" -j 0
hreq servefix-stop-queue -H "$SA" -H "$JSON" -d '{"question":"a run nobody carries"}' "$SU/v1/research"
curl -s -N -m 20 -H "$SA" "$SU/v1/research/1/events" >"$TMP/sse.out" 2>/dev/null &
SFC=$!
i=0
while ! grep -q "quarry events" "$TMP/sse.out" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
stop_serve
wait "$SFC"; RC=$?
NAME=servefix-sse-clean-end; rc_is 0
NAME=servefix-sse-shutdown-event
if grep -q "^event: shutdown" "$TMP/sse.out"; then ok; else bad "no shutdown event: $(cat "$TMP/sse.out")"; fi
start_serve "$SFS" -j 1
stop_serve
NAME=servefix-stop-says-workers
if grep -q "a run they carry goes back to the queue" "$TMP/serve.err"; then ok
else bad "serve does not say what happens to its workers"; fi

# ---- the OpenAPI document lists the OpenAI and MCP routes too ----
start_serve "$SFS" -j 0
hreq servefix-openapi "$SU/v1/openapi.json"; rc_is 200
out_has '"/v1/chat/completions"'; out_has '"/v1/models"'; out_has '"/mcp"'; out_has 'degraded'
stop_serve
