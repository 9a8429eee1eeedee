# Per-run state: cancel reaches the run's model call in flight (sourced
# by tests/blackbox.sh). The in-process cases (four runs on one client,
# budgets per run) are in tests/unit/test_runs.c.

# SIGTERM while a note call waits on a slow model: research_cancel stops
# the run's own account within 2 s, keeps what was done, says how to resume.
start_llm rsslow '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":20000},{"auto":"research"}]'
env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $Q research --home "$TMP/rscancel" --allow-private \
	--sources web --no-cache --depth 1 --max-sources 4 "$RQ" >"$TMP/out" 2>"$TMP/err" &
KPID=$!
i=0
while ! grep -q '<source ' "$TMP/rsslow.log" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
T0=$(date +%s%N)
kill -TERM $KPID
wait $KPID
RC=$?
T1=$(date +%s%N)
NAME=runstate-cancel-model-call; rc_is 143; err_has "resume with 'quarry runs resume 1'"
[ $(((T1 - T0) / 1000000)) -le 2000 ] && ok || bad "the cancel took $(((T1 - T0) / 1000000)) ms to stop a model call"
run runstate-cancel-status "$Q" runs ls --home "$TMP/rscancel"; out_has "interrupted"
