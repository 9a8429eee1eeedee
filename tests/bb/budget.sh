# Budgets, the run store and resume (sourced by tests/blackbox.sh).

# fig FILE NAME: a number from a JSON report's figures.
fig() { sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" "$1" | head -1; }

# ---- hard budgets: measured by the provider's own usage figures ----
# The fake model counts tokens itself (4 bytes a token) and cuts replies at
# max_tokens, as a real provider does; quarry estimates on its own.
start_llm bcount '[{"auto":"research","usage":"count"}]'
BCOUNT=$LU
for b in 1000 3000 10000; do
	run "budget-hard-$b" env QUARRY_LLM_BASE_URL="$BCOUNT" QUARRY_LLM_MODEL=m \
		$Q research --home "$TMP/bh$b" --allow-private --sources web --no-cache \
		--budget-tokens $b -f json -o "$TMP/bh$b.json" "$RQ"
	rc_is 0; err_has "stopped early (the token budget ($b) is spent"
	if grep -q "\"stopped\": \"the token budget ($b) is spent" "$TMP/bh$b.json"; then ok
	else bad "the report does not say the token budget bound"; fi
	T=$(($(fig "$TMP/bh$b.json" prompt_tokens) + $(fig "$TMP/bh$b.json" completion_tokens)))
	[ "$T" -gt 0 ] && [ "$T" -le $((b * 105 / 100)) ] && ok || bad "spent $T tokens of a $b budget"
done
# What a run paid before a resume still counts against its budget: the
# resumed run replays its replies and stops where it stopped.
N1=$(wc -l <"$TMP/bcount.log")
run budget-resume env QUARRY_LLM_BASE_URL="$BCOUNT" QUARRY_LLM_MODEL=m \
	$Q runs resume 1 --home "$TMP/bh10000" -o "$TMP/bh10000r.json"
rc_is 0; err_has "stopped early (the token budget (10000) is spent"
T=$(($(fig "$TMP/bh10000r.json" prompt_tokens) + $(fig "$TMP/bh10000r.json" completion_tokens)))
[ "$T" -gt 0 ] && [ "$T" -le 10500 ] && ok || bad "spent $T tokens of a 10000 budget across a resume"
[ "$(wc -l <"$TMP/bcount.log")" -eq "$N1" ] && ok || bad "the resumed run called the model again"
run budget-hard-usd env QUARRY_LLM_BASE_URL="$BCOUNT" QUARRY_LLM_MODEL=m QUARRY_LLM_PRICE=0.1,0.2 \
	$Q research --home "$TMP/bhusd" --allow-private --sources web --no-cache \
	--budget-usd 0.001 -f json -o "$TMP/bhusd.json" "$RQ"
rc_is 0; err_has "stopped early (the money budget (\$0.001) is spent"
if grep -q '"stopped": "the money budget' "$TMP/bhusd.json"; then ok; else bad "the report does not say the money budget bound"; fi
C=$(fig "$TMP/bhusd.json" cost_usd)
if awk -v c="$C" 'BEGIN { exit !(c > 0 && c <= 0.00105) }'; then ok; else bad "spent \$$C of a \$0.001 budget"; fi
# Parallel note calls reserve from one pool and their replies are capped.
if grep -q 'max_tokens' "$TMP/bcount.log"; then ok; else bad "replies not capped under a budget"; fi

# ---- replies are kept with their run: resume pays for nothing twice ----
# A --no-cache run whose report reply was cut at its token limit: resuming
# the finished run asks the model nothing again.
start_llm bkeep '[{"match":"<finding id=","auto":"research","finish_reason":"length"},{"auto":"research"}]'
run keep-nocache env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m \
	$Q research --home "$TMP/bkeep" --allow-private --sources web --no-cache --depth 1 --max-sources 4 "$RQ"
rc_is 0; out_has "Sources read: 4"
N1=$(wc -l <"$TMP/bkeep.log")
run keep-resume-done env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" runs resume 1 --home "$TMP/bkeep" --no-cache
rc_is 0; out_has "Sources read: 4"
N2=$(wc -l <"$TMP/bkeep.log")
[ "$N1" -ge 3 ] && [ "$N2" -eq "$N1" ] && ok || bad "resuming a finished --no-cache run made $((N2 - N1)) model calls again (of $N1)"
run keep-resume-cache env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" runs resume 1 --home "$TMP/bkeep"
rc_is 0; [ "$(wc -l <"$TMP/bkeep.log")" -eq "$N1" ] && ok || bad "resume with the cache on asked again"

# kill -9 in the middle of a --no-cache run written with -o and -f, then
# resume: only the call in flight at the kill may be made twice, and the
# report goes where the run said. While it runs `runs ls` says so and
# `runs rm` refuses; once its process is gone it is interrupted.
start_llm bslow '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":1500},{"auto":"research"}]'
case "$Q" in /*) QA=$Q ;; *) QA="$(pwd)/$Q" ;; esac
mkdir -p "$TMP/bcwd"
(cd "$TMP/bcwd" && exec env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_MAX_CONCURRENT=1 \
	"$QA" research --home "$TMP/bkill" --allow-private --sources web --no-cache --depth 1 --max-sources 4 \
	-f json -o kept.json "$RQ" >/dev/null 2>&1) &
KPID=$!
sleep 2
run runs-ls-running "$Q" runs ls --home "$TMP/bkill"; rc_is 0; out_has "running"
run runs-rm-running "$Q" runs rm 1 --home "$TMP/bkill"; rc_is 1; err_has "run 1 is running"
run runs-resume-running "$Q" runs resume 1 --home "$TMP/bkill"; rc_is 1; err_has "run 1 is running in another quarry"
sleep 2
kill -9 $KPID 2>/dev/null
wait $KPID 2>/dev/null
BEFORE=$(wc -l <"$TMP/bslow.log")
run runs-ls-dead "$Q" runs ls --home "$TMP/bkill"; rc_is 0; out_has "interrupted"; out_lacks "running"
run runs-ls-json "$Q" runs ls --json --home "$TMP/bkill"; rc_is 0; out_has '"status":"interrupted"'
out_has '"id":1'
run keep-kill-resume env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_MAX_CONCURRENT=1 \
	"$Q" runs resume 1 --home "$TMP/bkill" --no-cache
rc_is 0; err_has "report written to $TMP/bcwd/kept.json"; out_lacks "Sources read"
if grep -q '"sources_read": 4' "$TMP/bcwd/kept.json"; then ok; else bad "the resumed report is not the run's JSON file"; fi
AFTER=$(wc -l <"$TMP/bslow.log")
# A clean run: 1 plan + 4 notes + 1 write = 6 calls.
[ "$BEFORE" -ge 2 ] && ok || bad "the killed run had not got far ($BEFORE calls)"
[ "$AFTER" -le 7 ] && ok || bad "resume repeated model calls ($BEFORE before the kill, $AFTER in all)"
run runs-resume-md "$Q" runs resume 1 --home "$TMP/bkill" -f md -o "$TMP/bcwd/again.md"
rc_is 0; if grep -q "^## Sources" "$TMP/bcwd/again.md"; then ok; else bad "-f and -o given again are not obeyed"; fi
run runs-ls-done "$Q" runs ls --home "$TMP/bkill"; out_has "done"

# runs rm deletes the run and what was kept with it.
run runs-rm "$Q" runs rm 1 --home "$TMP/bkill"; rc_is 0; out_has "removed run 1"
run runs-rm-gone "$Q" runs show 1 --home "$TMP/bkill"; rc_is 1; err_has "no run 1"
run runs-rm-again "$Q" runs rm 1 --home "$TMP/bkill"; rc_is 1; err_has "no run 1"
run runs-ls-empty "$Q" runs ls --json --home "$TMP/bkill"; rc_is 0; out_lacks '"id"'   # one object per line: none
if command -v sqlite3 >/dev/null; then
	N=$(sqlite3 "$TMP/bkill/quarry.db" "SELECT (SELECT count(*) FROM run_cache) + (SELECT count(*) FROM run_events)")
	[ "$N" = 0 ] && ok || bad "runs rm left $N records of the run"
fi
run runs-json-usage "$Q" runs show 1 --json --home "$TMP/bkill"; rc_is 2
