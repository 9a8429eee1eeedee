#!/bin/sh
# serve_bench.sh - figures of `quarry serve` (docs/BENCHMARKS.md):
#   idle memory; time from POST to the first event; 100 SSE watchers on one
#   run while wrk polls its status as fast as it can (p99 of those polls).
# Needs build/quarry, build/fakeweb, build/fakellm (make; make build/fakeweb
# build/fakellm), wrk and node. Runs against the fake model and site, offline.
#   sh bench/serve_bench.sh [WATCHERS] [SECONDS]
set -u
BUILD=${BUILD:-build}
N=${1:-100}
SECS=${2:-10}
T=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM
wait_file() { i=0; while [ ! -s "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done; }

"$BUILD/fakeweb" "$T/web.port" sample/pages & PIDS="$PIDS $!"
# Each source's note takes 2.5 s, so the run lasts long enough to watch.
echo '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":2500},{"auto":"research"}]' >"$T/llm.json"
"$BUILD/fakellm" "$T/llm.port" "$T/llm.json" "$T/llm.log" & PIDS="$PIDS $!"
wait_file "$T/web.port"; wait_file "$T/llm.port"
export QUARRY_LLM_BASE_URL="http://127.0.0.1:$(cat "$T/llm.port")/v1" QUARRY_LLM_MODEL=m
export QUARRY_SEARXNG_URL="http://127.0.0.1:$(cat "$T/web.port")" QUARRY_SERVER_TOKEN=bench-token-0123456789abcdef

"$BUILD/quarry" serve --home "$T/home" --listen 127.0.0.1:0 -j 1 --allow-private --rate-limit 0 \
	--max-watchers 1000 >"$T/serve.out" 2>"$T/serve.err" & SPID=$!
PIDS="$PIDS $SPID"
i=0; while ! grep -q listening "$T/serve.out" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/serve.out")
U="http://127.0.0.1:$PORT"
sleep 1
echo "idle_rss_kb $(awk '/VmRSS/ {print $2}' /proc/$SPID/status)  (the server process alone; workers are separate)"

node bench/serve_watch.mjs "$U" "$QUARRY_SERVER_TOKEN" "$N" \
	"Why did the US switch off GPS Selective Availability?" >"$T/watch.out" &
WPID=$!
sleep 1
RUN=$(curl -s -H "Authorization: Bearer $QUARRY_SERVER_TOKEN" "$U/v1/research?limit=1" | sed -n 's/.*"id":\([0-9]*\).*/\1/p' | head -1)
echo "polling GET /v1/research/$RUN with wrk for ${SECS}s while $N watchers stream it"
wrk -t2 -c16 -d"${SECS}s" --latency -H "Authorization: Bearer $QUARRY_SERVER_TOKEN" "$U/v1/research/$RUN" >"$T/wrk.out"
grep -E "Requests/sec|Latency  |50%|90%|99%|Non-2xx|Socket errors" "$T/wrk.out"
wait $WPID
cat "$T/watch.out"
echo "server_rss_kb_after $(awk '/VmRSS/ {print $2}' /proc/$SPID/status)"
