# Loose ends of runs as jobs (sourced by tests/blackbox.sh): an event the
# run store cannot keep is counted and reported, never lost silently.

# ---- a failed event write: one warning, and the count on what follows ----
J2H="$TMP/jobs2-lost"
run jobs2-lost-first env -u QUARRY_LLM_BASE_URL "$Q" research --home "$J2H" --allow-private \
	--sources web --no-llm "$RQ"
rc_is 0
# every source_read the run store is asked to keep fails from now on
sqlite3 "$J2H/quarry.db" "CREATE TRIGGER lose_reads BEFORE INSERT ON run_events WHEN \
	json_extract(NEW.event, '\$.type') = 'source_read' BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
run jobs2-lost env -u QUARRY_LLM_BASE_URL "$Q" research --home "$J2H" --allow-private \
	--sources web --no-llm --events "$TMP/j2ev.jsonl" "$RQ"
rc_is 0
J2READ=$(grep -c '"type":"source_read"' "$TMP/j2ev.jsonl")
J2WARN=$(grep '"type":"warning"' "$TMP/j2ev.jsonl" | grep -c 'could not be stored (.*injected fault')
[ "$J2READ" -gt 0 ] && [ "$J2WARN" -eq 1 ] && ok || bad "$J2READ sources read, $J2WARN warnings of lost events (want 1)"
grep '"type":"report"' "$TMP/j2ev.jsonl" | grep -q "\"events_lost\":$J2READ[,}]" && ok ||
	bad "the report event does not count $J2READ lost events: $(grep '"type":"report"' "$TMP/j2ev.jsonl" | cut -c1-200)"
# the warning itself was kept, so a watcher learns of the loss
[ "$(sqlite3 "$J2H/quarry.db" "SELECT count(*) FROM run_events WHERE run_id = 2 AND \
	json_extract(event, '\$.step') = 'events'")" = 1 ] && ok || bad "the lost-events warning is not stored"
run jobs2-lost-watch "$Q" runs watch 2 --home "$J2H"
rc_is 0; err_has "could not be stored"

# ---- runs watch shows the run's tokens and cost from its events ----
case "$Q" in /*) J2Q=$Q ;; *) J2Q="$(pwd)/$Q" ;; esac
start_llm j2auto '[{"auto":"research"}]'
J2U="$TMP/jobs2-usage"
run jobs2-usage-run env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_PRICE=1,2 "$Q" research \
	--home "$J2U" --allow-private --sources web --depth 1 --max-sources 4 "$RQ"
rc_is 0
run jobs2-usage-events "$Q" runs watch 1 --home "$J2U" -v
rc_is 0
grep -E ' note .*tokens=[1-9][0-9]* cost_usd=0\.0' "$TMP/err" >/dev/null && ok ||
	bad "the note events carry no tokens and cost: $(grep ' note ' "$TMP/err" | head -1)"
grep -E ' report .*tokens=[1-9]' "$TMP/err" >/dev/null && ok || bad "the report event carries no tokens"
# on a terminal the status line of a watcher (no model of its own) shows them
run jobs2-usage-tty env COLUMNS=200 script -qec "$J2Q runs watch 1 --home $J2U -o $TMP/j2u.md" /dev/null
rc_is 0
grep -aE '[1-9][0-9]* tokens \$0\.[0-9]{4}' "$TMP/out" >/dev/null && ok ||
	bad "the watcher's status line shows no tokens and cost"
