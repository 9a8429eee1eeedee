#!/bin/sh
# Run every test: the cmocka unit tests in $BUILD/tests and the black-box
# suite. Ends with one line CI reads: "N passed, N failed".
set -u
BUILD=${BUILD:-build}
PASS=0
FAIL=0
LOG=$(mktemp)

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

BUILD="$BUILD" sh tests/blackbox.sh >"$LOG" 2>&1
rc=$?
cat "$LOG"
p=$(sed -n 's/^blackbox: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$LOG")
f=$(sed -n 's/^blackbox: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$LOG")
p=${p:-0}
f=${f:-0}
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
PASS=$((PASS + p))
FAIL=$((FAIL + f))
rm -f "$LOG"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
