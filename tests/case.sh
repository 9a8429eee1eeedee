#!/bin/sh
# case.sh FILE: run one black-box case (tests/cases/NAME.case) in its own
# directory, home and fake servers, with a time limit; leave its result in
# $CASE_OUT/NAME.res (and .fail / .skip) and print one status line.
# Normally started by tests/cases.sh, which sets BUILD_ABS, CASE_OUT,
# CASE_BIN and FX; see tests/README.md.
set -u
f=$1
name=$(basename "$f" .case)
dir=$CASE_OUT/$name
rm -rf "$dir" "$CASE_OUT/$name".res "$CASE_OUT/$name".fail "$CASE_OUT/$name".skip
mkdir -p "$dir"
# A case file with mistakes runs nothing: each mistake is one failure.
if ! awk -f tests/lib/compile.awk "$f" >"$dir/case.sh" 2>"$dir/compile.err"; then
	sed "s|^|FAIL: $name: |; s|\$| (see tests/README.md)|" "$dir/compile.err" >"$CASE_OUT/$name.fail"
	echo "0 $(wc -l <"$dir/compile.err") 0" >"$CASE_OUT/$name.res"
	echo "0" >"$CASE_OUT/$name.secs"
	printf '%-4s %-40s the case file has mistakes\n' FAIL "$name"
	exit 0
fi
t0=$(date +%s.%N)
CASE_FILE=$f CASE_NAME=$name CASE_DIR=$dir/tmp CASE_RES=$CASE_OUT/$name \
	timeout -k 10 "${CASE_TIMEOUT:-600}" sh -c 'mkdir -p "$CASE_DIR" && . "$0"' "$dir/case.sh" \
	>"$dir/log" 2>&1 </dev/null
t1=$(date +%s.%N)
secs=$(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }')
if [ ! -s "$CASE_OUT/$name.res" ]; then
	echo "FAIL: $name ($f): the case ended without a result (timed out after ${CASE_TIMEOUT:-600} s or the shell died); its output: $dir/log" \
		>>"$CASE_OUT/$name.fail"
	echo "0 1 0" >"$CASE_OUT/$name.res"
fi
echo "$secs" >"$CASE_OUT/$name.secs"
read -r p fl s <"$CASE_OUT/$name.res"
# A case that checked nothing proves nothing.
if [ "$p" -eq 0 ] && [ "$fl" -eq 0 ] && [ "$s" -eq 0 ]; then
	echo "FAIL: $name ($f): the case made no check (add exit:, stdout:, check: ...)" >>"$CASE_OUT/$name.fail"
	fl=1
	echo "0 1 0" >"$CASE_OUT/$name.res"
fi
if [ "$fl" -ne 0 ]; then st=FAIL; elif [ "$s" -ne 0 ]; then st=skip; else st=ok; fi
printf '%-4s %-40s %3s checks %6s s\n' "$st" "$name" "$p" "$secs"
# Keep the directory of a failed case to look at; drop the others.
[ "$st" = FAIL ] || rm -rf "$dir"
