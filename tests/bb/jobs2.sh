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
