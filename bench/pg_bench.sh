#!/bin/sh
# bench/pg_bench.sh - throughput of 40 research runs carried by 4 workers
# (2 runs at once each) with a zero-latency model (tests/fakellm) and the
# fake web site, on the SQLite store (one home, the workers share it) and
# on PostgreSQL (a private durable cluster, each worker its own home, as
# on separate machines). The runs are queued first; the clock runs from
# starting the workers to the last run done.
#
#   sh bench/pg_bench.sh            (after make; BUILD=build-san etc. works)
set -u
BUILD=${BUILD:-build}
Q="$BUILD/quarry"
RUNS=${RUNS:-40}
TMP=$(mktemp -d)
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	[ -n "${PGD:-}" ] && sh tests/pg/cluster.sh stop "$PGD"
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$BUILD/fakeweb" "$TMP/port" sample/pages & PIDS="$PIDS $!"
echo '[{"auto":"research"}]' >"$TMP/auto.json"
"$BUILD/fakellm" "$TMP/lport" "$TMP/auto.json" "$TMP/llm.log" & PIDS="$PIDS $!"
i=0
while { [ ! -s "$TMP/port" ] || [ ! -s "$TMP/lport" ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
export QUARRY_SEARXNG_URL="http://127.0.0.1:$(cat "$TMP/port")"
export QUARRY_LLM_BASE_URL="http://127.0.0.1:$(cat "$TMP/lport")/v1" QUARRY_LLM_MODEL=m
export QUARRY_ALLOW_PRIVATE=1 QUARRY_CONFIG=/dev/null
Qq="Why did the US switch off GPS Selective Availability?"

# one NAME HOMES...: a worker per home (registered, so --detach starts
# none of its own), RUNS queued one after another with research --detach
# on the first home; the clock runs from the first submission to the last
# run done.
one() {
	name=$1
	shift
	W=
	n=0
	for h in "$@"; do
		n=$((n + 1))
		"$Q" worker --home "$h" -j 2 >"$TMP/w$n.log" 2>&1 &
		W="$W $!"
	done
	PIDS="$PIDS $W"
	sleep 1
	t0=$(date +%s%N)
	for k in $(seq 1 "$RUNS"); do
		"$Q" research --detach --home "$1" --sources web --depth 1 --max-sources 3 "$Qq $k" \
			>/dev/null 2>&1 || { echo "pg_bench: queueing failed"; exit 1; }
	done
	t1=$(date +%s%N)
	while :; do
		d=$("$Q" runs ls --json --home "$1" | grep -c '"status":"done"')
		[ "$d" -ge "$RUNS" ] && break
		sleep 0.05
	done
	t2=$(date +%s%N)
	for p in $W; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ms=$(((t2 - t0) / 1000000))
	echo "$name: $RUNS runs submitted in $(((t1 - t0) / 1000000)) ms, all done $ms ms after the" \
		"first ($(awk -v r="$RUNS" -v ms="$ms" 'BEGIN { printf "%.1f", r * 1000 / ms }') runs/s);" \
		"claims per worker: $(for k in 1 2 3 4; do grep -c claimed "$TMP/w$k.log"; done | tr '\n' ' ')"
}

unset QUARRY_DATABASE_URL
mkdir -p "$TMP/sq"
one "SQLite (one home)" "$TMP/sq/h" "$TMP/sq/h" "$TMP/sq/h" "$TMP/sq/h"

PGD=$(mktemp -d /tmp/quarry-pg.XXXXXX)   # postgres must reach it: not under $TMP
PG_FSYNC=on sh tests/pg/cluster.sh start "$PGD" || exit 1
export QUARRY_DATABASE_URL="$(cat "$PGD/url")"
one "PostgreSQL (4 homes)" "$TMP/pg/h1" "$TMP/pg/h2" "$TMP/pg/h3" "$TMP/pg/h4"
