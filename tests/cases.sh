#!/bin/sh
# cases.sh: run the black-box cases (tests/cases/*.case), CASE_JOBS at a
# time (default: one per core), each in its own directory, home and fake
# servers. CASE=NAME (a shell pattern: CASE='serve-*') runs only those.
# Ends with one line tests/run.sh reads: "cases: N passed, N failed, N skipped".
# The format of a case and how to add one: tests/README.md.
set -u
BUILD=${BUILD:-build}
BUILD_ABS=$(cd "$BUILD" && pwd)
JOBS=${CASE_JOBS:-$(nproc 2>/dev/null || echo 2)}
CASE_OUT=$BUILD_ABS/cases
rm -rf "$CASE_OUT"
mkdir -p "$CASE_OUT/bin"
# quarry, fakeweb and fakellm by name on the cases' PATH.
for p in quarry fakeweb fakellm; do ln -s "$BUILD_ABS/$p" "$CASE_OUT/bin/$p"; done
CASE_BIN=$CASE_OUT/bin
FX=$CASE_OUT/fx
"$BUILD_ABS/fakeweb" --fixtures "$FX" || { echo "cases: cannot write the fixtures"; exit 1; }
export BUILD BUILD_ABS CASE_OUT CASE_BIN FX

# CASE=tests/cases/x.case (a completed file name) means CASE=x.
CASE=${CASE:-}
CASE=${CASE##*/}
CASE=${CASE%.case}
list=$(ls tests/cases/${CASE:-*}.case 2>/dev/null)
if [ -z "$list" ]; then
	echo "cases: no case matches tests/cases/${CASE:-*}.case"
	echo "cases: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
# Slowest first (the times of the last full run), so both cores stay busy
# to the end.
TIMES=$BUILD_ABS/case-times
t0=$(date +%s)
[ -f "$TIMES" ] || : >"$TIMES"
printf '%s\n' $list | awk -v times="$TIMES" '
	BEGIN { while ((getline line < times) > 0) { split(line, f, " "); secs[f[1]] = f[2] } }
	{ n = $0; sub(/.*\//, "", n); sub(/\.case$/, "", n); print ((n in secs) ? secs[n] : 999), $0 }' |
	sort -rn | cut -d' ' -f2 | xargs -P "$JOBS" -n 1 sh tests/case.sh
t1=$(date +%s)

pass=0 fail=0 skip=0 n=0
for r in "$CASE_OUT"/*.res; do
	read -r p f s <"$r"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s)) n=$((n + 1))
done
cat "$CASE_OUT"/*.skip 2>/dev/null
cat "$CASE_OUT"/*.fail 2>/dev/null
if [ -z "${CASE:-}" ]; then
	for s in "$CASE_OUT"/*.secs; do echo "$(basename "$s" .secs) $(cat "$s")"; done >"$TIMES"
fi
echo "cases: $pass passed, $fail failed, $skip skipped ($n cases, $((t1 - t0)) s)"
[ "$fail" -eq 0 ]
