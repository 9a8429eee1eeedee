#!/bin/sh
# Run every test: the cmocka unit tests in $BUILD/tests and the black-box
# cases (tests/cases.sh). Ends with one line CI reads: "N passed, N failed".
# CASE=NAME runs only the black-box cases matching NAME (tests/README.md).
set -u
BUILD=${BUILD:-build}
PASS=0
FAIL=0
LOG=$(mktemp)

# tally LOG PREFIX: add the "PREFIX N passed, N failed" line of LOG.
tally() {
	p=$(sed -n "s/^$2 \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p" "$1")
	f=$(sed -n "s/^$2 \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p" "$1")
	p=${p:-0}
	f=${f:-0}
	[ "$3" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
}

if [ -n "${CASE:-}" ]; then
	BUILD="$BUILD" sh tests/cases.sh >"$LOG" 2>&1
	rc=$?
	cat "$LOG"
	tally "$LOG" cases: "$rc"
	rm -f "$LOG"
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
	exit
fi

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	BUILD="$BUILD" "$t" >"$LOG" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$LOG" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$LOG" | tail -1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1   # crashed or failed outside cmocka's count
	fi
	echo "unit $(basename "$t"): $p passed, $f failed"
	[ "$f" -ne 0 ] && cat "$LOG"
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
done

BUILD="$BUILD" sh tests/cases.sh >"$LOG" 2>&1
rc=$?
grep -v '^ok ' "$LOG"
tally "$LOG" cases: "$rc"
rm -f "$LOG"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
