# Runs as jobs (sourced by tests/blackbox.sh): research --detach, workers,
# runs watch / wait / cancel, leases that lapse when a worker dies, and
# many processes on one home.

case "$Q" in /*) JQ=$Q ;; *) JQ="$(pwd)/$Q" ;; esac
JE="env QUARRY_ALLOW_PRIVATE=1 QUARRY_WORKER_IDLE_EXIT=2"
jms() { date +%s%3N; }
# jwait_for SECONDS CMD...: poll CMD (quietly) every 0.1 s until it succeeds.
jwait_for() {
	_t=$(($1 * 10)); shift
	while [ $_t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; _t=$((_t - 1)); done
	return 1
}
# jstatus HOME ID: the run's status from runs ls --json.
jstatus() {
	"$Q" runs ls --json --home "$1" 2>/dev/null | grep "\"id\":$2," | sed 's/.*"status":"\([a-z]*\)".*/\1/'
}
jstatus_is() { [ "$(jstatus "$1" "$2")" = "$3" ]; }
# jworker HOME LOG ARGS...: a worker in the background, killed at the end.
jworker() {
	_h=$1; _l=$2; shift 2
	$JE "$JQ" worker --home "$_h" "$@" 2>"$_l" &
	JPID=$!
	LLM_PIDS="$LLM_PIDS $JPID"
	# registered (so detach starts no other) once it says it serves
	jwait_for 10 grep -q "serving" "$_l"
	sleep 0.3
}

# ---- detach: the id at once, a worker started for the home ----
start_llm jauto '[{"auto":"research"}]'
JA=$LU
JH="$TMP/jobs-detach"
T0=$(jms)
run jobs-detach $JE QUARRY_LLM_BASE_URL="$JA" QUARRY_LLM_MODEL=m "$Q" research --detach --home "$JH" \
	--sources web --depth 1 --max-sources 4 "$RQ"
T1=$(jms)
rc_is 0; err_has "run 1 queued"; err_has "a worker was started"
[ "$(cat "$TMP/out")" = "1" ] && ok || bad "stdout is not the run id: $(cat "$TMP/out")"
[ $((T1 - T0)) -lt 1000 ] && ok || bad "detach took $((T1 - T0)) ms"
run jobs-watch "$Q" runs watch 1 --home "$JH" -v
rc_is 0; out_has "## Sources"; err_has "source_read"; err_has "run 1 done"
run jobs-wait-done "$Q" runs wait 1 --home "$JH"; rc_is 0; err_has "run 1 done"
if grep -q "run 1: claimed" "$JH/worker.log" 2>/dev/null; then ok; else bad "worker.log does not say it ran run 1"; fi
run jobs-ls-done "$Q" runs ls --home "$JH"; rc_is 0; out_has "done"; out_has "WORKER"
run jobs-detach-o $JE "$Q" research --detach --home "$JH" -o "$TMP/x.md" "$RQ"; rc_is 2
err_has "runs export ID"
run jobs-cancel-none "$Q" runs cancel 99 --home "$JH"; rc_is 1; err_has "no such run"
run jobs-cancel-ended "$Q" runs cancel 1 --home "$JH"; rc_is 0; out_has "already ended: done"

# A run that fails exits 1 from wait, with why.
run jobs-detach-fail $JE "$Q" research --detach --home "$JH" --no-llm --sources corpus "$RQ"
rc_is 0
run jobs-wait-failed "$Q" runs wait 2 --home "$JH"; rc_is 1; err_has "run 2 failed: the corpus is empty"

# ---- cancel: a slow model call in flight, then a slow page fetch ----
start_llm jslow '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":20000},{"auto":"research"}]'
JC="$TMP/jobs-cancel"
jworker "$JC" "$TMP/jc.log" -j 2
run jobs-cancel-model-start $JE QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" research --detach --home "$JC" \
	--sources web --depth 1 --max-sources 4 "$RQ"
rc_is 0; err_has "run 1 queued;"
jwait_for 20 grep -q "<source " "$TMP/jslow.log" && ok || bad "the note calls never started"
sleep 0.3
T0=$(jms)
run jobs-cancel-model "$Q" runs cancel 1 --home "$JC"
T1=$(jms)
rc_is 0; out_has "run 1 cancelled"
[ $((T1 - T0)) -lt 2000 ] && ok || bad "cancel during a model call took $((T1 - T0)) ms"
run jobs-cancel-model-status "$Q" runs ls --json --home "$JC"; out_has '"status":"cancelled"'
run jobs-cancel-model-report "$Q" runs show 1 --home "$JC"; rc_is 0; out_has "## Sources"
out_has "stopped early: cancelled"
run jobs-wait-cancelled "$Q" runs wait 1 --home "$JC"; rc_is 130; err_has "run 1 was cancelled"

run jobs-cancel-fetch-start $JE "$Q" research --detach --home "$JC" --no-llm --sources web slowpages
rc_is 0
jwait_for 20 jstatus_is "$JC" 2 running && ok || bad "the slow-page run never started"
sleep 1   # its page is being fetched (it takes 15 s)
T0=$(jms)
run jobs-cancel-fetch "$Q" runs cancel 2 --home "$JC"
T1=$(jms)
rc_is 0; out_has "run 2 cancelled"
[ $((T1 - T0)) -lt 2000 ] && ok || bad "cancel during a page fetch took $((T1 - T0)) ms"
run jobs-wait-cancelled-fetch "$Q" runs wait 2 --home "$JC"; rc_is 130

kill "$JPID" 2>/dev/null; wait "$JPID" 2>/dev/null

# A queued run is cancelled at once, and no worker takes it (the home's
# worker is registered but stopped, so detach starts none).
JQ1="$TMP/jobs-q1"
jworker "$JQ1" "$TMP/jq1.log"
kill -STOP "$JPID"
run jobs-queue-one $JE "$Q" research --detach --home "$JQ1" --no-llm --sources web "$RQ"
rc_is 0; err_has "run 1 queued;"
run jobs-cancel-queued "$Q" runs cancel 1 --home "$JQ1"; rc_is 0; out_has "run 1 cancelled after"
kill -CONT "$JPID"
sleep 0.5
run jobs-cancel-queued-status "$Q" runs ls --json --home "$JQ1"; out_has '"status":"cancelled"'
grep -q "run 1: claimed" "$TMP/jq1.log" && bad "a worker took a cancelled run" || ok
kill "$JPID" 2>/dev/null; wait "$JPID" 2>/dev/null

# ---- a foreground run is cancelled from another process too ----
(env QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$JQ" research \
	--home "$TMP/jobs-fg" --sources web --depth 1 --max-sources 4 "$RQ" >"$TMP/jfg.out" 2>"$TMP/jfg.err"; \
	echo $? >"$TMP/jfg.rc") &
jwait_for 20 jstatus_is "$TMP/jobs-fg" 1 running && ok || bad "the foreground run never started"
sleep 1
T0=$(jms)
run jobs-cancel-foreground "$Q" runs cancel 1 --home "$TMP/jobs-fg"
T1=$(jms)
rc_is 0; out_has "run 1 cancelled"
[ $((T1 - T0)) -lt 2000 ] && ok || bad "cancelling a foreground run took $((T1 - T0)) ms"
jwait_for 10 test -s "$TMP/jfg.rc" && ok || bad "the foreground run did not end"
[ "$(cat "$TMP/jfg.rc" 2>/dev/null)" = 130 ] && ok || bad "the cancelled foreground run exited $(cat "$TMP/jfg.rc" 2>/dev/null)"
grep -q "## Sources" "$TMP/jfg.out" && ok || bad "the cancelled foreground run printed no report"

# ---- kill -9 a worker mid-run: another takes the run over when its
# lease lapses and finishes it, repeating no completed model call ----
start_llm jkill '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":1500},{"auto":"research"}]'
JK="$TMP/jobs-kill"
# One model call at a time: two notes done and the third in flight at the kill.
JE0=$JE
JE="$JE QUARRY_LLM_MAX_CONCURRENT=1"
jworker "$JK" "$TMP/jka.log" --lease 3
JE=$JE0
A=$JPID
run jobs-kill-start $JE QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m \
	"$Q" research --detach --home "$JK" --sources web --depth 1 --max-sources 4 --no-cache "$RQ"
rc_is 0; err_has "run 1 queued;"
jwait_for 20 sh -c "[ \$(grep -c '<source ' '$TMP/jkill.log') -ge 3 ]" && ok || bad "the run never got to its notes"
kill -9 "$A"; wait "$A" 2>/dev/null
BEFORE=$(wc -l <"$TMP/jkill.log")
env QUARRY_ALLOW_PRIVATE=1 QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_MAX_CONCURRENT=1 \
	"$JQ" worker --home "$JK" --idle-exit 6 2>"$TMP/jkb.log"
grep -q "run 1: claimed" "$TMP/jkb.log" && ok || bad "the second worker did not take the run over"
run jobs-kill-done "$Q" runs wait 1 --home "$JK"; rc_is 0
AFTER=$(wc -l <"$TMP/jkill.log")
[ "$(grep -c 'Plan research' "$TMP/jkill.log")" = 1 ] && ok || bad "the plan was asked for again"
# every request but the one in flight at the kill is in the log once
# (requests as sent: the log's connection number left out)
sed 's/,"conn":[0-9]*//; s/"conn":[0-9]*,//' "$TMP/jkill.log" >"$TMP/jkill.req"
D=$(sort "$TMP/jkill.req" | uniq -d | wc -l)
[ "$D" -le 1 ] && ok || bad "$D model calls were made again"
# the two notes answered before the kill were not asked again
for k in 2 3; do
	R=$(sed -n "${k}p" "$TMP/jkill.req")
	[ "$(grep -cxF -- "$R" "$TMP/jkill.req")" = 1 ] && ok || bad "completed call $k was made again"
done
[ "$BEFORE" -ge 4 ] && [ "$AFTER" -le 7 ] && ok || bad "calls: $BEFORE before the kill, $AFTER in all (a clean run makes 6)"
run jobs-kill-report "$Q" runs show 1 --home "$JK"; rc_is 0; out_has "Sources read: 4"

# SIGTERM: the run in flight goes back to the queue at once.
JT="$TMP/jobs-term"
jworker "$JT" "$TMP/jt.log"
run jobs-term-start $JE "$Q" research --detach --home "$JT" --no-llm --sources web slowpages
jwait_for 20 jstatus_is "$JT" 1 running && ok || bad "the run never started"
kill -TERM "$JPID"
jwait_for 5 sh -c "! kill -0 $JPID" && ok || bad "the worker did not stop on SIGTERM"
grep -q "run 1: given back to the queue" "$TMP/jt.log" && ok || bad "SIGTERM did not give the run back"
jstatus_is "$JT" 1 queued && ok || bad "the run is $(jstatus "$JT" 1), not queued"

# ---- two workers, 10 queued runs: each carried exactly once ----
JW="$TMP/jobs-two"
mkdir -p "$JW"
"$Q" runs ls --home "$JW" >/dev/null 2>&1
jworker "$JW" "$TMP/jw1.log" -j 2 --idle-exit 3
W1=$JPID
jworker "$JW" "$TMP/jw2.log" -j 2 --idle-exit 3
W2=$JPID
sleep 0.3
i=1
while [ $i -le 10 ]; do
	$JE "$Q" research --detach --home "$JW" --no-llm --sources corpus,web "GPS selective availability $i" \
		>/dev/null 2>&1
	i=$((i + 1))
done
wait "$W1" 2>/dev/null; wait "$W2" 2>/dev/null
N=$("$Q" runs ls --json --home "$JW" | grep -c '"status":"done"')
[ "$N" = 10 ] && ok || bad "$N of 10 runs done"
C=$(cat "$TMP/jw1.log" "$TMP/jw2.log" | grep -c ': claimed')
[ "$C" = 10 ] && ok || bad "$C claims for 10 runs"
D=$(cat "$TMP/jw1.log" "$TMP/jw2.log" | sed -n 's/.*run \([0-9]*\): claimed.*/\1/p' | sort | uniq -d | wc -l)
[ "$D" = 0 ] && ok || bad "$D runs were carried twice"
grep -q claimed "$TMP/jw1.log" && grep -q claimed "$TMP/jw2.log" && ok || bad "one worker did all the work"

# ---- 8 processes opening one fresh home at once ----
JF="$TMP/jobs-fresh"
i=1
JFP=
while [ $i -le 8 ]; do
	("$JQ" runs ls --home "$JF" >/dev/null 2>"$TMP/jf$i.err"; echo $? >"$TMP/jf$i.rc") &
	JFP="$JFP $!"
	i=$((i + 1))
done
for p in $JFP; do wait "$p"; done
F=0
i=1
while [ $i -le 8 ]; do [ "$(cat "$TMP/jf$i.rc")" = 0 ] || F=$((F + 1)); i=$((i + 1)); done
[ "$F" = 0 ] && ok || bad "$F of 8 processes opening a fresh home failed: $(cat "$TMP"/jf*.err | head -2)"
