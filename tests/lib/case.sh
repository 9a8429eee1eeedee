# case.sh - what every compiled black-box case runs on: the assertion
# helpers, the fake servers and the case's own home. Sourced once at the
# top of the script tests/lib/compile.awk makes from a case file; the
# format and these names are in tests/README.md.
#
# Set by tests/case.sh: CASE_FILE, CASE_NAME, CASE_DIR (this case's own
# directory, empty at start), CASE_RES (where the result goes), BUILD, FX
# (fixtures made once per run by fakeweb --fixtures).

Q=$BUILD_ABS/quarry
TMP=$CASE_DIR
OUT=$TMP/out
ERR=$TMP/err
PASS=0
FAIL=0
SKIP=0
RC=0
LINE=0
RUN_TIMEOUT=120
CASE_PIDS=
CASE_CLEANUP=
: >"$OUT"
: >"$ERR"

# Each case starts from a clean environment: no model, search or key
# settings leak in from the developer's shell, and $HOME is the case's own.
for v in $(env | sed -n 's/^\(QUARRY_[A-Za-z0-9_]*\)=.*/\1/p; s/^\([A-Za-z0-9_]*_API_KEY\)=.*/\1/p; s/^\(OPENAI_[A-Za-z0-9_]*\)=.*/\1/p'); do
	[ "$v" = QUARRY_TEST_DATABASE_URL ] || unset "$v"
done
export HOME="$TMP/home" QUARRY_HOME="$TMP/qhome"
mkdir -p "$HOME"
export PATH="$CASE_BIN:$PATH"

# Result line for tests/cases.sh: "pass fail skip".
case_result() { printf '%s %s %s\n' "$PASS" "$FAIL" "$SKIP" >"$CASE_RES.res"; }

case_cleanup() {
	case_result
	# The case's own "cleanup:" commands, in the order given.
	[ -n "${CASE_CLEANUP-}" ] && eval "$CASE_CLEANUP"
	for p in $CASE_PIDS; do kill "$p" 2>/dev/null; done
	# Anything else the case left running in its process group.
	trap '' TERM
	kill -TERM 0 2>/dev/null
}
trap case_cleanup EXIT
# Stopped from outside (tests/case.sh's time limit, or Ctrl-C): a failure,
# not a pass with the checks done so far.
trap 'bad "the case was stopped before its end (timed out after ${CASE_TIMEOUT:-600} s, or interrupted)"; exit 143' INT TERM

# at_exit CMD: run CMD (as shell, when the case ends, however it ends):
# unmount, stop a cluster of the case's own. "cleanup: CMD" in a case.
at_exit() {
	CASE_CLEANUP="$CASE_CLEANUP
$1"
}

ok() { PASS=$((PASS + 1)); }
# bad MSG: one failure, named by the case file and line, with the last
# command's output.
bad() {
	FAIL=$((FAIL + 1))
	{
		echo "FAIL: $CASE_NAME ($CASE_FILE:$LINE): $1"
		sed 's/^/    stdout: /' "$OUT" | head -5
		sed 's/^/    stderr: /' "$ERR" | head -5
	} >>"$CASE_RES.fail"
}
# skip REASON: the case cannot run here; it ends now, counted as skipped.
skip() { SKIP=$((SKIP + 1)); echo "skip: $CASE_NAME: $1" >>"$CASE_RES.skip"; exit 0; }
case_end() { exit 0; }

# xp TEXT: TEXT with each ${NAME} replaced by that variable's value, in XP.
xp() {
	_s=$1
	XP=
	while :; do
		case $_s in
		*'${'*'}'*)
			XP=$XP${_s%%'${'*}
			_s=${_s#*'${'}
			_n=${_s%%'}'*}
			_s=${_s#*'}'}
			case $_n in
			'' | [0-9]* | *[!A-Za-z0-9_]*) XP="$XP\${$_n}" ;;
			*) eval "XP=\$XP\${$_n-}" ;;
			esac
			;;
		*) XP=$XP$_s; break ;;
		esac
	done
}

# run CMD...: run with a time limit (RUN_TIMEOUT seconds), stdout and
# stderr in $OUT and $ERR, the status in $RC. Its stdin is the case's
# (/dev/null) unless the run: line redirects it ("run: quarry mcp <FILE").
run() {
	timeout -k 5 "$RUN_TIMEOUT" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}
rc_is() { if [ "$RC" -eq "$1" ]; then ok; else bad "exit status $RC, expected $1"; fi; }
out_has() { if grep -qF -- "$1" "$OUT"; then ok; else bad "stdout lacks '$1'"; fi; }
out_lacks() { if grep -qF -- "$1" "$OUT"; then bad "stdout has '$1'"; else ok; fi; }
err_has() { if grep -qF -- "$1" "$ERR"; then ok; else bad "stderr lacks '$1'"; fi; }
err_lacks() { if grep -qF -- "$1" "$ERR"; then bad "stderr has '$1'"; else ok; fi; }
out_utf8() { if iconv -f UTF-8 -t UTF-8 "$OUT" >/dev/null 2>&1; then ok; else bad "stdout is not valid UTF-8"; fi; }

# bg CMD...: start CMD in the background; it is killed when the case ends.
# Its pid is in $BG.
bg() {
	"$@" &
	BG=$!
	CASE_PIDS="$CASE_PIDS $BG"
}

# wait_file FILE [TENTHS]: wait until FILE is non-empty (default 10 s).
wait_file() {
	_i=0
	while [ ! -s "$1" ] && [ $_i -lt "${2:-100}" ]; do sleep 0.1; _i=$((_i + 1)); done
	[ -s "$1" ]
}

# fwait SECONDS CMD...: poll CMD quietly every 0.1 s until it succeeds;
# fails after SECONDS.
fwait() {
	_t=$(($1 * 10))
	shift
	while [ $_t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; _t=$((_t - 1)); done
	return 1
}

# case_file PATH: write stdin to PATH (under $TMP when relative).
case_file() {
	case $1 in /*) _f=$1 ;; *) _f=$TMP/$1 ;; esac
	mkdir -p "$(dirname "$_f")"
	cat >"$_f"
}

# start_web: this case's own fake web site (tests/fakeweb.c) serving
# sample/pages; sets B (its base URL) and PORT.
start_web() {
	[ -n "${B-}" ] && return 0
	rm -f "$TMP/web.port"
	bg "$BUILD_ABS/fakeweb" "$TMP/web.port" sample/pages
	wait_file "$TMP/web.port" 300 || { bad "the fake web site did not start"; exit 1; }
	PORT=$(cat "$TMP/web.port")
	B="http://127.0.0.1:$PORT"
}

# start_llm NAME: a fake model (tests/fakellm.c) whose rules are stdin;
# its requests are logged in $TMP/NAME.log. Sets LU and LLM_NAME to its
# base URL (".../v1").
start_llm() {
	cat >"$TMP/$1.json"
	rm -f "$TMP/$1.port" "$TMP/$1.log"
	bg "$BUILD_ABS/fakellm" "$TMP/$1.port" "$TMP/$1.json" "$TMP/$1.log"
	wait_file "$TMP/$1.port" 300 || { bad "fake model $1 did not start"; exit 1; }
	LU="http://127.0.0.1:$(cat "$TMP/$1.port")/v1"
	eval "LLM_$(printf '%s' "$1" | tr -c 'A-Za-z0-9_' '_')=\$LU"   # llm a-b: sets LLM_a_b
}

# needs WHAT...: skip the case unless each is here: a command name, or
# "postgres" (a test cluster: QUARRY_TEST_DATABASE_URL), "root",
# "chromium" (/usr/bin/chromium).
needs() {
	for _w in "$@"; do
		case $_w in
		postgres) [ -n "${QUARRY_TEST_DATABASE_URL-}" ] || skip "no PostgreSQL test cluster (QUARRY_TEST_DATABASE_URL)" ;;
		root) [ "$(id -u)" -eq 0 ] || skip "needs root" ;;
		chromium) [ -x /usr/bin/chromium ] || skip "needs /usr/bin/chromium" ;;
		*) command -v "$_w" >/dev/null 2>&1 || skip "needs $_w" ;;
		esac
	done
}

# A case that names the fake web site gets one of its own.
if grep -q '\${\{0,1\}\(B\|PORT\)\([^A-Za-z0-9_]\|$\)' "$CASE_FILE"; then start_web; fi
