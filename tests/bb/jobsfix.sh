# Fixes from a new user's trial of the job engine (sourced by
# tests/blackbox.sh): a cancel wins over "nothing found", run ids are
# never reused, --detach --plan-only is refused, a run whose worker was
# killed reads interrupted and cancels at once, watchers of a queued run
# without a worker say so, concurrent --detach calls start one worker,
# and the messages name real commands.

case "$Q" in /*) FQ=$Q ;; *) FQ="$(pwd)/$Q" ;; esac
FE="env QUARRY_ALLOW_PRIVATE=1 QUARRY_WORKER_IDLE_EXIT=3"
# fwait SECONDS CMD...: poll CMD quietly every 0.1 s until it succeeds.
fwait() {
	_t=$(($1 * 10)); shift
	while [ $_t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; _t=$((_t - 1)); done
	return 1
}
fstatus() {
	"$Q" runs ls --json --home "$1" 2>/dev/null | grep "\"id\":$2," | sed 's/.*"status":"\([a-z]*\)".*/\1/'
}
fstatus_is() { [ "$(fstatus "$1" "$2")" = "$3" ]; }
FQUEST="foreground slow GPS question alpha"

# ---- 1. a cancel while nothing relevant was found yet: cancelled, 130 ----
start_llm fxslow '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":8000},{"auto":"research"}]'
FS=$LU
FH="$TMP/jf-cancel-fg"
(env QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_BASE_URL="$FS" QUARRY_LLM_MODEL=m "$FQ" research --home "$FH" \
	--sources web --depth 1 --max-sources 3 "$FQUEST" >"$TMP/jffg.out" 2>"$TMP/jffg.err"; \
	echo $? >"$TMP/jffg.rc") &
fwait 20 grep -q "<source " "$TMP/fxslow.log" && ok || bad "the note calls never started"
run jobsfix-cancel-fg "$Q" runs cancel 1 --home "$FH"
rc_is 0; out_has "run 1 cancelled"; out_has "('quarry runs show 1')"
fwait 15 test -s "$TMP/jffg.rc" && ok || bad "the foreground run did not end"
NAME=jobsfix-cancel-fg-exit
[ "$(cat "$TMP/jffg.rc" 2>/dev/null)" = 130 ] && ok || bad "exit $(cat "$TMP/jffg.rc" 2>/dev/null), not 130: $(cat "$TMP/jffg.err")"
grep -q "nothing relevant" "$TMP/jffg.err" && bad "a cancelled run said 'nothing relevant found'" || ok
run jobsfix-cancel-fg-status "$Q" runs ls --json --home "$FH"; out_has '"status":"cancelled"'
run jobsfix-cancel-fg-show "$Q" runs show 1 --home "$FH"; rc_is 0; out_has "Cancelled before anything relevant"

# the same, detached: runs wait exits 130
FD="$TMP/jf-cancel-bg"
: >"$TMP/fxslow.log"
run jobsfix-cancel-bg-start $FE QUARRY_LLM_BASE_URL="$FS" QUARRY_LLM_MODEL=m "$Q" research --detach \
	--home "$FD" --sources web --depth 1 --max-sources 3 "$FQUEST"
rc_is 0
fwait 20 grep -q "<source " "$TMP/fxslow.log" && ok || bad "the detached note calls never started"
run jobsfix-cancel-bg "$Q" runs cancel 1 --home "$FD"; rc_is 0; out_has "run 1 cancelled"
run jobsfix-cancel-bg-wait "$Q" runs wait 1 --home "$FD"; rc_is 130; err_has "run 1 was cancelled"
if grep -q "failed" "$TMP/err"; then bad "runs wait says failed"; else ok; fi

# ---- 2. an id is never given twice (the newest run deleted) ----
FI="$TMP/jf-ids"
run jobsfix-ids-1 "$Q" research --home "$FI" --no-llm --sources corpus "$RQ"; rc_is 1
run jobsfix-ids-2 "$Q" research --home "$FI" --no-llm --sources corpus "$RQ"; rc_is 1
run jobsfix-ids-rm "$Q" runs rm 2 --home "$FI"; rc_is 0
run jobsfix-ids-3 "$Q" research --home "$FI" --no-llm --sources corpus "$RQ"; rc_is 1
run jobsfix-ids-ls "$Q" runs ls --json --home "$FI"; out_has '"id":3,'
out_lacks '"id":2,'

# ---- 3. --detach --plan-only is a usage error ----
run jobsfix-detach-plan $FE "$Q" research --detach --plan-only --home "$TMP/jf-plan" "$RQ"
rc_is 2; err_has "--plan-only does not go with --detach"
[ -e "$TMP/jf-plan/worker.log" ] && bad "a worker was started" || ok

# ---- 4. the worker killed (kill -9): interrupted, and a cancel is at once ----
FK="$TMP/jf-kill"
: >"$TMP/fxslow.log"
env QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_BASE_URL="$FS" QUARRY_LLM_MODEL=m "$FQ" worker --home "$FK" \
	2>"$TMP/jfk.log" &
FKP=$!
LLM_PIDS="$LLM_PIDS $FKP"
fwait 10 grep -q "serving" "$TMP/jfk.log"
run jobsfix-kill-start env QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_BASE_URL="$FS" QUARRY_LLM_MODEL=m "$Q" research --detach --home "$FK" \
	--sources web --depth 1 --max-sources 3 "$RQ"
rc_is 0; err_has "run 1 queued;"
fwait 20 grep -q "<source " "$TMP/fxslow.log" && ok || bad "the killed worker's run never got to its notes"
run jobsfix-resume-workers "$Q" runs resume 1 --home "$FK"
rc_is 1; err_has "stop it with 'quarry runs cancel 1'"
kill -9 "$FKP"; wait "$FKP" 2>/dev/null
run jobsfix-kill-ls "$Q" runs ls --json --home "$FK"; out_has '"status":"interrupted"'
T0=$(date +%s%3N)
run jobsfix-kill-cancel "$Q" runs cancel 1 --home "$FK"
T1=$(date +%s%3N)
rc_is 0; out_has "run 1 cancelled"
[ $((T1 - T0)) -lt 2000 ] && ok || bad "cancelling a dead worker's run took $((T1 - T0)) ms"
run jobsfix-kill-status "$Q" runs ls --json --home "$FK"; out_has '"status":"cancelled"'

# ---- 5. watching a queued run with no worker says so, and waits ----
FW="$TMP/jf-noworker"
# a worker registered (so --detach starts none), then killed: the queued
# run is left to no one
env QUARRY_ALLOW_PRIVATE=1 "$FQ" worker --home "$FW" 2>"$TMP/jfw.log" &
FWP=$!
LLM_PIDS="$LLM_PIDS $FWP"
fwait 10 grep -q "serving" "$TMP/jfw.log"
kill -STOP "$FWP"
run jobsfix-nw-queue env QUARRY_ALLOW_PRIVATE=1 "$Q" research --detach --home "$FW" --no-llm --sources web "$RQ"
rc_is 0; err_has "run 1 queued;"
kill -9 "$FWP"; kill -CONT "$FWP" 2>/dev/null; wait "$FWP" 2>/dev/null
run jobsfix-nw-wait timeout 2 "$Q" runs wait 1 --home "$FW"
[ "$RC" = 124 ] && ok || bad "runs wait did not keep waiting (exit $RC)"
err_has "run 1 is queued and no worker is running: start one with 'quarry worker'"
run jobsfix-nw-watch timeout 2 "$Q" runs watch 1 --home "$FW"
err_has "no worker is running"
run jobsfix-nw-cancel "$Q" runs cancel 1 --home "$FW"; rc_is 0

# ---- 6. six --detach calls at once in a fresh home start one worker ----
F6="$TMP/jf-six"
for k in 1 2 3 4 5 6; do
	$FE "$Q" research --detach --home "$F6" --no-llm --sources web "$RQ" >/dev/null 2>"$TMP/jf6.$k" &
done
wait_n=0
while [ "$(cat "$TMP"/jf6.* 2>/dev/null | grep -c 'queued')" -lt 6 ] && [ $wait_n -lt 100 ]; do
	sleep 0.1; wait_n=$((wait_n + 1))
done
NAME=jobsfix-six-detach
N6=$(cat "$TMP"/jf6.* | grep -c "a worker was started")
[ "$N6" = 1 ] && ok || bad "$N6 workers were started for 6 --detach calls"
fwait 30 sh -c "[ \$(grep -c ': done\|: failed' '$F6/worker.log') -ge 6 ]" && ok || bad "the six runs did not all end"

# ---- 7. messages ----
run jobsfix-msg-follow-none "$Q" ask --run 999 --home "$FI" --no-llm "And then?"
rc_is 1; err_has "no run 999"; if grep -q "runs resume 999" "$TMP/err"; then bad "suggests resuming a run that is not there"; else ok; fi
run jobsfix-msg-follow-nosearch "$Q" ask --run 1 --no-search --home "$FI" "And then?"
rc_is 2; err_has "--run and --no-search do not go together"
run jobsfix-msg-follow-count "$Q" runs ls --json --home "$FI"
[ "$(grep -c '"id"' "$TMP/out")" = 2 ] && ok || bad "a refused follow-up stored a run"

start_llm fxauto '[{"auto":"research"}]'
FP="$TMP/jf-planonly"
run jobsfix-plan-hint env QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" research \
	--home "$FP" --sources web --plan-only "$RQ"
rc_is 0; out_has "save it with 'quarry runs export 1 -f json -o plan.json'"
run jobsfix-plan-export "$Q" runs export 1 --home "$FP" -f json -o "$TMP/jfplan.json"
rc_is 0
grep -q '"plan_only": true' "$TMP/jfplan.json" && ok || bad "the export is not the plan"
run jobsfix-follow-plan env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" ask --run 1 --home "$FP" "And then?"
rc_is 1; err_has "run 1 has no report to follow up (it is a plan only"
run jobsfix-follow-plan-count "$Q" runs ls --json --home "$FP"
[ "$(grep -c '"id"' "$TMP/out")" = 1 ] && ok || bad "a refused follow-up of a plan stored a run"
run jobsfix-budget-tiny env QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" research \
	--home "$FP" --sources web --budget-tokens 300 "$RQ"
rc_is 0; out_has "the token budget (300) is too small for any model call"; out_lacks "is spent: 0 used"

# ---- 8. a resumed run's figures count its earlier attempts ----
start_llm fxresume '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":4000},{"auto":"research"}]'
FR="$TMP/jf-resume"
env QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$FQ" research --home "$FR" \
	--sources web --depth 1 --max-sources 3 --no-cache "$RQ" >/dev/null 2>"$TMP/jfr.err" &
FRP=$!
fwait 20 grep -q "<source " "$TMP/fxresume.log" && ok || bad "the run to resume never got to its notes"
sleep 2
kill -TERM "$FRP"; wait "$FRP" 2>/dev/null
run jobsfix-resume-figures env QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" runs resume 1 \
	--home "$FR" -f json
rc_is 0; out_has '"seconds_this_attempt"'
S_ALL=$(sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' "$TMP/out" | head -1)
S_NOW=$(sed -n 's/.*"seconds_this_attempt": \([0-9.]*\).*/\1/p' "$TMP/out" | head -1)
awk "BEGIN { exit !($S_ALL >= $S_NOW + 2) }" && ok || bad "seconds $S_ALL does not count the first attempt (this one $S_NOW)"
