#!/bin/sh
# Fetch benchmark: N pages from the local fake site, each answering after
# DELAY_MS (a slow site), fetched with -j 1 and with -j 8. Prints the
# median wall time of RUNS runs for each and their ratio.
#
# usage: sh bench/fetch_bench.sh [N] [DELAY_MS] [RUNS]     (after make)
set -eu
BUILD=${BUILD:-build}
N=${1:-50}
DELAY=${2:-100}
RUNS=${3:-5}
TMP=$(mktemp -d)
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
make -s "$BUILD/quarry" "$BUILD/fakeweb"
"$BUILD/fakeweb" "$TMP/port" sample/pages &
PID=$!
while [ ! -s "$TMP/port" ]; do sleep 0.1; done
B="http://127.0.0.1:$(cat "$TMP/port")"
urls=""
i=0
while [ $i -lt "$N" ]; do urls="$urls $B/delay/$DELAY/page$i.html"; i=$((i + 1)); done

median_ms() {  # median wall ms of RUNS runs of: quarry fetch -j $1
	for r in $(seq "$RUNS"); do
		t0=$(date +%s%N)
		# shellcheck disable=SC2086
		QUARRY_ALLOW_PRIVATE=1 "$BUILD/quarry" fetch --ignore-robots -j "$1" $urls >/dev/null
		echo $((($(date +%s%N) - t0) / 1000000))
	done | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}
j1=$(median_ms 1)
j8=$(median_ms 8)
echo "fetch $N pages, ${DELAY} ms each: -j 1 median ${j1} ms, -j 8 median ${j8} ms, speed-up $(awk "BEGIN{printf \"%.1f\", $j1/$j8}")x"
