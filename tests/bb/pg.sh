# The run store on PostgreSQL (sourced by tests/blackbox.sh): quarry db,
# and many processes sharing one database. The cluster is the one make
# test started (QUARRY_TEST_DATABASE_URL), else a private one started here
# (tests/pg/cluster.sh) and stopped at the end; without PostgreSQL the
# cases are skipped, saying so.
PG_OWN=
PG_URL=${QUARRY_TEST_DATABASE_URL:-}
PG_DIR=${QUARRY_TEST_PG_DIR:-}
if [ -z "$PG_URL" ] && sh tests/pg/cluster.sh available; then
	PG_OWN=$(mktemp -d /tmp/quarry-pg.XXXXXX)
	trap 'sh tests/pg/cluster.sh stop "$PG_OWN"; cleanup' EXIT
	trap 'exit 130' INT TERM
	if sh tests/pg/cluster.sh start "$PG_OWN"; then
		PG_URL=$(cat "$PG_OWN/url")
		PG_DIR=$PG_OWN
	fi
fi

# pg_db NAME: a fresh database on the cluster; its URL in $PGU.
pg_db() {
	psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
	PGU="${PG_URL%/*}/$1"
}

if [ -z "$PG_URL" ]; then
	SKIP=$((SKIP + 1))
	echo "skip: PostgreSQL cases (no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)"
else
PG_PW=$(printf '%s' "$PG_URL" | sed 's|^postgresql://[^:]*:\([^@]*\)@.*|\1|')

# ---- quarry db ----
pg_db qdb
run pg-db-status-empty "$Q" db status --database-url "$PGU"
rc_is 0; out_has "this quarry needs"; out_has "quarry:***@"
run pg-db-migrate env QUARRY_DATABASE_URL="$PGU" "$Q" db migrate
rc_is 0; out_has "migrated"
run pg-db-migrate-again env QUARRY_DATABASE_URL="$PGU" "$Q" db migrate
rc_is 0; out_has "up to date"
printf 'database_url = %s\n' "$PGU" >"$TMP/pg.conf"
run pg-db-status-config "$Q" db status --json --config "$TMP/pg.conf"
rc_is 0; out_has '"schema_version":'; out_has '"runs":{"queued":0,'
if grep -qF "$PG_PW" "$TMP/out" "$TMP/err"; then bad "the password is shown"; else ok; fi
run pg-db-none env -u QUARRY_DATABASE_URL QUARRY_CONFIG=/dev/null "$Q" db status
rc_is 0; out_has "No shared database"
run pg-db-wrong-password "$Q" db status --database-url "postgresql://quarry:NotThePassw0rd@${PG_URL#*@}"
rc_is 1; err_has "password authentication failed"; err_has "quarry:***@"
if grep -qF "NotThePassw0rd" "$TMP/out" "$TMP/err"; then bad "the password is shown"; else ok; fi
run pg-db-unreachable "$Q" db status --database-url "postgresql://u:Secr3tPw@127.0.0.1:1/q"
rc_is 1; err_has "cannot reach PostgreSQL at postgresql://u:***@127.0.0.1:1/q"; err_has "QUARRY_DATABASE_URL"
if grep -qF "Secr3tPw" "$TMP/err"; then bad "the password is shown"; else ok; fi
run pg-db-bad-url "$Q" db status --database-url "/var/lib/nothing"
rc_is 1; err_has "is not a PostgreSQL URL"
run pg-db-usage "$Q" db frob; rc_is 2; err_has "unknown subcommand 'frob'"


# ---- one history on the database, whatever the home ----
pg_db qfg
PGE="env QUARRY_DATABASE_URL=$PGU QUARRY_LLM_MODEL=m"
start_llm pgfg '[{"auto":"research"}]'
run pg-research $PGE QUARRY_LLM_BASE_URL="$LU" "$Q" research --home "$TMP/pga" --allow-private \
	--sources web --depth 1 --max-sources 4 "$RQ"
rc_is 0; out_has "Sources read: 4"
run pg-runs-ls-elsewhere $PGE "$Q" runs ls --home "$TMP/pgb"
rc_is 0; out_has "done"; out_has "Selective Availability"
run pg-runs-show-elsewhere $PGE "$Q" runs export 1 --home "$TMP/pgb"; rc_is 0; out_has "## Sources"
run pg-runs-local-empty env -u QUARRY_DATABASE_URL "$Q" runs ls --home "$TMP/pga"
out_lacks "Selective Availability"   # nothing went to the home's own store
if [ -f "$TMP/pga/quarry.db" ] && command -v sqlite3 >/dev/null; then
	N=$(sqlite3 "$TMP/pga/quarry.db" "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM run_cache)")
	[ "$N" = 0 ] && ok || bad "$N run records went to the local store"
fi

# kill -9 in the middle of a run on one "machine" (home), resume it on
# another: the model replies kept with the run in PostgreSQL are replayed,
# so only the call in flight at the kill may be asked twice.
start_llm pgkill '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":1200},{"auto":"research"}]'
$PGE QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MAX_CONCURRENT=1 "$Q" research --home "$TMP/pgk1" \
	--allow-private --sources web --no-cache --depth 1 --max-sources 4 "$RQ" >/dev/null 2>&1 &
KPID=$!
i=0
while [ "$(cat "$TMP/pgkill.log" 2>/dev/null | grep -c '<source ')" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1.5
kill -9 $KPID 2>/dev/null
wait $KPID 2>/dev/null
BEFORE=$(wc -l <"$TMP/pgkill.log")
run pg-kill-interrupted $PGE "$Q" runs ls --home "$TMP/pgk2"; out_has "interrupted"
run pg-kill-resume $PGE QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MAX_CONCURRENT=1 "$Q" runs resume 2 \
	--home "$TMP/pgk2" --no-cache
rc_is 0; out_has "Sources read: 4"
DUP=$(sed 's/"conn":[0-9]*//' "$TMP/pgkill.log" | sort | uniq -d | wc -l)
[ "$BEFORE" -ge 3 ] && ok || bad "the killed run had not got far ($BEFORE calls)"
[ "$DUP" -le 1 ] && ok || bad "$DUP completed model calls were paid again after the resume elsewhere"
run pg-kill-done $PGE "$Q" runs ls --home "$TMP/pgk3"; out_lacks "interrupted"

# PostgreSQL restarted while 10 runs write to it: every one reconnects and
# finishes, and the database holds each run's events once, numbered 1..N.
if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/port" ]; then
pg_db qrestart
PGE="env QUARRY_DATABASE_URL=$PGU QUARRY_LLM_MODEL=m"
start_llm pgrs '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":800},{"auto":"research"}]'
PIDS=
for k in 1 2 3 4 5 6 7 8 9 10; do
	$PGE QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MAX_CONCURRENT=1 "$Q" research --home "$TMP/pgr$k" \
		--allow-private --sources web \
		--depth 1 --max-sources 3 "$RQ $k" >"$TMP/pgr$k.out" 2>"$TMP/pgr$k.err" &
	PIDS="$PIDS $!"
done
# Restart once every run is taking its notes (each note call takes 0.8 s).
i=0
while [ "$(cat "$TMP/pgrs.log" 2>/dev/null | grep -c '<source ')" -lt 10 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
LIVE=0
for p in $PIDS; do kill -0 $p 2>/dev/null && LIVE=$((LIVE + 1)); done
sh tests/pg/cluster.sh restart "$PG_DIR" || echo "pg.sh: restart failed"
NAME=pg-restart-mid-run
[ "$LIVE" -ge 5 ] && ok || bad "only $LIVE runs were still going when PostgreSQL restarted"
NOK=0
for p in $PIDS; do wait $p && NOK=$((NOK + 1)); done
NAME=pg-restart-all-finish
[ "$NOK" -eq 10 ] && ok || { bad "$NOK of 10 runs finished across the restart"; cat "$TMP"/pgr*.err | head -5; }
run pg-restart-status $PGE "$Q" db status --json
out_has '"done":10,'
N=$(psql -At "$PGU" -c "SELECT count(*) FROM runs r WHERE last_seq != (SELECT count(*) FROM run_events e WHERE e.run_id = r.id) OR last_seq != (SELECT max(seq) FROM run_events e WHERE e.run_id = r.id)" 2>/dev/null)
[ "$N" = 0 ] && ok || bad "events of $N runs are not numbered 1..N once"
fi

fi   # PostgreSQL available
if [ -n "$PG_OWN" ]; then
	sh tests/pg/cluster.sh stop "$PG_OWN"
	trap cleanup EXIT INT TERM
fi
