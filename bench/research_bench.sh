#!/bin/sh
# Research-run benchmark: a depth-2, breadth-4 run that reads 50 sources,
# against a local fake site + SearXNG-style API (tests/fakeweb) and a
# zero-latency fake model (tests/fakellm, replies made from the prompts).
# Each run starts from an empty database (no caches). Prints every run
# and the medians: wall time, peak memory, model calls (all / on the
# critical path), sources read.
#
# usage: sh bench/research_bench.sh [RUNS] [MODEL_DELAY_MS]    (after `make`)
# MODEL_DELAY_MS makes every model call take that long (default 0).
set -eu
BUILD=${BUILD:-build}
RUNS=${1:-5}
DELAY=${2:-0}
TMP=$(mktemp -d)
trap 'kill $WPID $LPID 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
"$BUILD/fakeweb" "$TMP/wport" sample/pages & WPID=$!
if [ "$DELAY" -gt 0 ]; then
	echo "[{\"auto\":\"research\",\"fault\":\"slow_start\",\"delay_ms\":$DELAY}]" >"$TMP/llm.json"
else
	echo '[{"auto":"research"}]' >"$TMP/llm.json"
fi
"$BUILD/fakellm" "$TMP/lport" "$TMP/llm.json" "$TMP/llm.log" & LPID=$!
while [ ! -s "$TMP/wport" ] || [ ! -s "$TMP/lport" ]; do sleep 0.1; done
export QUARRY_SEARXNG_URL="http://127.0.0.1:$(cat "$TMP/wport")"
export QUARRY_LLM_BASE_URL="http://127.0.0.1:$(cat "$TMP/lport")/v1" QUARRY_LLM_MODEL=fake
export QUARRY_LLM_MAX_CONCURRENT=16
Q="Why did the US switch off GPS Selective Availability?"
i=0
while [ $i -lt "$RUNS" ]; do
	rm -rf "$TMP/home"
	t0=$(date +%s%N)
	"$BUILD/quarry" research --home "$TMP/home" --allow-private --sources web --depth 2 --breadth 4 \
		--max-sources 50 --no-cache -f json -o "$TMP/r.json" "$Q" 2>/dev/null
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	rss=$(grep -o '"peak_rss_mb": [0-9.]*' "$TMP/r.json" | grep -o '[0-9.]*$')
	calls=$(grep -o '"model_calls": [0-9]*' "$TMP/r.json" | grep -o '[0-9]*$')
	crit=$(grep -o '"model_calls_critical_path": [0-9]*' "$TMP/r.json" | grep -o '[0-9]*$')
	src=$(grep -o '"sources_read": [0-9]*' "$TMP/r.json" | head -1 | grep -o '[0-9]*$')
	echo "run $i: ${ms} ms wall, ${rss} MB peak, $calls model calls ($crit on the critical path), $src sources read"
	echo "$ms $rss" >>"$TMP/all"
	i=$((i + 1))
done
echo "median wall: $(cut -d' ' -f1 "$TMP/all" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') ms;" \
	"median peak memory: $(cut -d' ' -f2 "$TMP/all" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') MB"
