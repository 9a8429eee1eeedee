#!/bin/sh
# Runs-as-jobs benchmark (make bench-jobs): against the local fake site +
# SearXNG-style API (tests/fakeweb) and a fake model (tests/fakellm).
#   detach:     wall time of `research --detach` with a worker registered
#               (median of DETACHES)
#   cancel:     wall time of `runs cancel` on a run whose note calls are in
#               flight on a slow model, until its status is cancelled
#               (median of CANCELS)
#   throughput: RUNS runs (depth 1, 8 sources each, zero-latency model)
#               queued at once and carried by one worker with -j N, for
#               each N of JOBS: runs per minute and the worker's peak RSS
#               (/usr/bin/time), median of REPEATS.
#
# usage: sh bench/jobs_bench.sh [RUNS] [JOBS] [REPEATS]   (after `make`)
set -eu
BUILD=${BUILD:-build}
RUNS=${1:-20}
JOBS=${2:-"1 2 4 8"}
REPEATS=${3:-3}
DETACHES=20
CANCELS=5
TMP=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null || true; done; rm -rf "$TMP"' EXIT INT TERM
Q=$BUILD/quarry
QUESTION="Why did the US switch off GPS Selective Availability?"

"$BUILD/fakeweb" "$TMP/wport" sample/pages & PIDS="$PIDS $!"
echo '[{"auto":"research"}]' >"$TMP/fast.json"
echo '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":30000},{"auto":"research"}]' \
	>"$TMP/slow.json"
"$BUILD/fakellm" "$TMP/fport" "$TMP/fast.json" "$TMP/fast.log" & PIDS="$PIDS $!"
"$BUILD/fakellm" "$TMP/sport" "$TMP/slow.json" "$TMP/slow.log" & PIDS="$PIDS $!"
while [ ! -s "$TMP/wport" ] || [ ! -s "$TMP/fport" ] || [ ! -s "$TMP/sport" ]; do sleep 0.1; done
export QUARRY_SEARXNG_URL="http://127.0.0.1:$(cat "$TMP/wport")" QUARRY_LLM_MODEL=fake
export QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_MAX_CONCURRENT=16
FAST="http://127.0.0.1:$(cat "$TMP/fport")/v1"
SLOW="http://127.0.0.1:$(cat "$TMP/sport")/v1"
ms() { date +%s%3N; }
count() { c=$(grep -c -- "$1" "$2" 2>/dev/null) || c=0; echo "${c:-0}"; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# ---- detach latency (a worker is registered, so none is started) ----
H="$TMP/detach"
QUARRY_LLM_BASE_URL=$FAST "$Q" worker --home "$H" 2>"$TMP/dw.log" & W=$!; PIDS="$PIDS $W"
while ! grep -q serving "$TMP/dw.log"; do sleep 0.1; done
sleep 0.5
i=0
: >"$TMP/detach.ms"
while [ $i -lt $DETACHES ]; do
	t0=$(ms)
	QUARRY_LLM_BASE_URL=$FAST "$Q" research --detach --home "$H" --no-llm --sources corpus,web \
		"$QUESTION $i" >/dev/null 2>&1
	t1=$(ms)
	echo $((t1 - t0)) >>"$TMP/detach.ms"
	i=$((i + 1))
done
kill $W; wait $W 2>/dev/null || true
echo "detach latency: median $(median <"$TMP/detach.ms") ms, max $(sort -n "$TMP/detach.ms" | tail -1) ms ($DETACHES detaches, a worker carrying the earlier ones)"

# ---- cancel latency: note calls in flight on a 30 s model ----
: >"$TMP/cancel.ms"
i=1
while [ $i -le $CANCELS ]; do
	H="$TMP/cancel$i"
	QUARRY_LLM_BASE_URL=$SLOW "$Q" worker --home "$H" 2>"$TMP/cw$i.log" & W=$!; PIDS="$PIDS $W"
	while ! grep -q serving "$TMP/cw$i.log"; do sleep 0.1; done
	sleep 0.3
	n0=$(count '<source ' "$TMP/slow.log")
	QUARRY_LLM_BASE_URL=$SLOW "$Q" research --detach --home "$H" --sources web --depth 1 \
		--max-sources 4 --no-cache "$QUESTION" >/dev/null 2>&1
	while [ "$(count '<source ' "$TMP/slow.log")" -le "$n0" ]; do sleep 0.05; done
	sleep 0.5
	t0=$(ms)
	"$Q" runs cancel 1 --home "$H" >/dev/null 2>&1
	t1=$(ms)
	echo $((t1 - t0)) >>"$TMP/cancel.ms"
	kill $W; wait $W 2>/dev/null || true
	i=$((i + 1))
done
echo "cancel latency: median $(median <"$TMP/cancel.ms") ms, max $(sort -n "$TMP/cancel.ms" | tail -1) ms ($CANCELS cancels of a run waiting on the model)"

# ---- throughput of N concurrent runs on one worker ----
echo "throughput: $RUNS runs (depth 1, 8 sources, zero-latency model), one worker -j N, on $(nproc) cores"
for j in $JOBS; do
	: >"$TMP/rpm"
	: >"$TMP/rss"
	r=0
	while [ $r -lt "$REPEATS" ]; do
		H="$TMP/tp$j.$r"
		"$Q" runs ls --home "$H" >/dev/null 2>&1   # the database exists: no worker is started
		# a registered worker that does nothing, so detach starts none
		QUARRY_LLM_BASE_URL=$FAST "$Q" worker --home "$H" -j 1 2>"$TMP/idle.log" & IW=$!
		while ! grep -q serving "$TMP/idle.log"; do sleep 0.05; done
		sleep 0.3
		kill -STOP $IW
		i=0
		while [ $i -lt "$RUNS" ]; do
			QUARRY_LLM_BASE_URL=$FAST "$Q" research --detach --home "$H" --sources web --depth 1 \
				--max-sources 8 --no-cache "$QUESTION $i" >/dev/null 2>&1
			i=$((i + 1))
		done
		t0=$(ms)
		QUARRY_LLM_BASE_URL=$FAST /usr/bin/time -f "%M" -o "$TMP/time.out" \
			"$Q" worker --home "$H" -j "$j" --idle-exit 1 2>/dev/null
		t1=$(ms)
		kill -CONT $IW; kill $IW; wait $IW 2>/dev/null || true
		"$Q" runs ls --json --home "$H" >"$TMP/ls.json"
		done_n=$(count '"status":"done"' "$TMP/ls.json")
		[ "$done_n" = "$RUNS" ] || echo "  (only $done_n of $RUNS runs done)"
		# the worker waits 1 s of idle before it exits: not part of the work
		awk -v n="$RUNS" -v t=$((t1 - t0 - 1000)) 'BEGIN {printf "%.1f\n", n * 60000 / t}' >>"$TMP/rpm"
		awk '{printf "%.1f\n", $1 / 1024}' "$TMP/time.out" >>"$TMP/rss"
		r=$((r + 1))
	done
	echo "  -j $j: $(median <"$TMP/rpm") runs/min, peak RSS $(median <"$TMP/rss") MB (median of $REPEATS)"
done
exit 0
