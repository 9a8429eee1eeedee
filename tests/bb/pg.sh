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

# ---- workers on other "machines" (homes), one database ----
if "$Q" help worker >/dev/null 2>&1; then
pg_db qwork
PGE="env QUARRY_DATABASE_URL=$PGU QUARRY_LLM_MODEL=m"
start_llm pgw '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":150},{"auto":"research"}]'
WPIDS=
for w in 1 2 3 4; do
	$PGE QUARRY_LLM_BASE_URL="$LU" "$Q" worker --home "$TMP/pgw$w" -j 2 --lease 3 >"$TMP/pgw$w.log" 2>&1 &
	WPIDS="$WPIDS $!"
done
sleep 1
# Two front ends (quarry serve, no workers of their own) on the database;
# 40 runs submitted through both, on the corpus each worker has indexed.
# An SSE watcher on front A follows run 6, which was submitted to B and is
# carried by a worker of neither; `runs watch` on another home follows 5.
for w in 1 2 3 4; do "$Q" index add --home "$TMP/pgw$w" sample/corpus >/dev/null 2>&1; done
FRONTS=
for f in A B; do
	env QUARRY_DATABASE_URL="$PGU" QUARRY_SERVER_TOKEN=pg-front-token-0123456789 "$Q" serve --home "$TMP/pgs$f" \
		--listen 127.0.0.1:0 -j 0 >"$TMP/pgs$f.out" 2>"$TMP/pgs$f.err" &
	FRONTS="$FRONTS $!"
done
i=0
while { ! grep -q "listening on" "$TMP/pgsA.out" || ! grep -q "listening on" "$TMP/pgsB.out"; } 2>/dev/null &&
	[ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
SUA=$(sed -n 's|.*listening on \(http://127.0.0.1:[0-9]*\)/.*|\1|p' "$TMP/pgsA.out")
SUB=$(sed -n 's|.*listening on \(http://127.0.0.1:[0-9]*\)/.*|\1|p' "$TMP/pgsB.out")
NQ=0
for k in $(seq 1 40); do
	F=$SUA; [ $((k % 2)) -eq 0 ] && F=$SUB
	code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer pg-front-token-0123456789" \
		-H "Content-Type: application/json" \
		-d "{\"question\":\"$RQ $k\",\"depth\":1,\"max_sources\":3,\"sources\":\"corpus\"}" "$F/v1/research")
	[ "$code" = 202 ] && NQ=$((NQ + 1))
	[ $k -eq 5 ] && { $PGE "$Q" runs watch 5 -v --home "$TMP/pgwatch" >"$TMP/pgwatch.out" 2>"$TMP/pgwatch.err" & WATCH=$!; }
	[ $k -eq 6 ] && { curl -s -N -m 60 -H "Authorization: Bearer pg-front-token-0123456789" "$SUA/v1/research/6/events" >"$TMP/pgsse" & SSE=$!; }
done
NAME=pg-workers-queued; [ "$NQ" -eq 40 ] && ok || bad "$NQ of 40 runs queued"
i=0
while [ $i -lt 600 ]; do
	D=$($PGE "$Q" db status --json | sed -n 's/.*"done":\([0-9]*\).*/\1/p')
	[ "${D:-0}" -ge 40 ] && break
	sleep 0.1; i=$((i + 1))
done
NAME=pg-workers-40-done; [ "${D:-0}" -eq 40 ] && ok || bad "${D:-0} of 40 runs done"
C=$(cat "$TMP"/pgw?.log | grep -c ': claimed')
U=$(cat "$TMP"/pgw?.log | sed -n 's/.*run \([0-9]*\): claimed.*/\1/p' | sort -u | wc -l)
NAME=pg-workers-once; [ "$C" -eq 40 ] && [ "$U" -eq 40 ] && ok || bad "$C claims of $U runs (40 each once)"
NW=0; for w in 1 2 3 4; do grep -q ': claimed' "$TMP/pgw$w.log" && NW=$((NW + 1)); done
NAME=pg-workers-shared; [ "$NW" -ge 2 ] && ok || bad "only $NW of 4 workers carried runs"
wait $WATCH
RC=$?
NAME=pg-watch-elsewhere; rc_is 0
# (-v prints the events it shows: in order, none twice, none skipped)
SEQS=$(sed -n 's/.* seq=\([0-9]*\).*/\1/p' "$TMP/pgwatch.err" | tr '\n' ' ')
NS=$(echo "$SEQS" | wc -w)
[ "$NS" -ge 5 ] && [ "$SEQS" = "$(seq 1 "$NS" | tr '\n' ' ')" ] && ok || \
	bad "runs watch on another home saw events '$SEQS'"
if grep -q "## Sources" "$TMP/pgwatch.out"; then ok; else bad "the watcher printed no report"; fi
wait $SSE
SEQS=$(sed -n 's/^id: \([0-9]*\)$/\1/p' "$TMP/pgsse" | tr '\n' ' ')
LASTSEQ=$(psql -At "$PGU" -c "SELECT last_seq FROM runs WHERE id = 6")
NAME=pg-sse-other-front
[ -n "$LASTSEQ" ] && [ "$SEQS" = "$(seq 1 "$LASTSEQ" | tr '\n' ' ')" ] && ok || \
	bad "front A's SSE watcher saw events '$SEQS' of run 6 (submitted to B), which has 1..$LASTSEQ"
for p in $FRONTS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done

# kill -9 of a worker in the middle of a run: another takes it over when
# its 3 s lease lapses and finishes it; no completed model call is asked
# twice (only the one in flight at the kill may be).
start_llm pgk9 '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":700},{"auto":"research"}]'
for p in $WPIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
$PGE QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MAX_CONCURRENT=1 "$Q" worker --home "$TMP/pgk9a" --lease 3 \
	>"$TMP/pgk9a.log" 2>&1 &
KA=$!
sleep 1   # registered: --detach starts no worker of its own
ID=$($PGE QUARRY_LLM_BASE_URL="$LU" "$Q" research --detach --home "$TMP/pgf1" --allow-private --sources web --no-cache --depth 1 \
	--max-sources 4 "$RQ killed" 2>/dev/null)
i=0
while [ "$(cat "$TMP/pgk9.log" 2>/dev/null | grep -c '<source ')" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 $KA; wait $KA 2>/dev/null
BEFORE=$(wc -l <"$TMP/pgk9.log")
$PGE QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MAX_CONCURRENT=1 "$Q" worker --home "$TMP/pgk9b" --lease 3 \
	>"$TMP/pgk9b.log" 2>&1 &
KB=$!
# (runs wait would stop at "interrupted", what the run reads as between
# its lease lapsing and the takeover)
i=0
while ! $PGE "$Q" runs ls --json --home "$TMP/pgf0" | grep -q "\"id\":$ID,\"status\":\"done\"" && [ $i -lt 300 ]; do
	sleep 0.1; i=$((i + 1))
done
run pg-kill9-done $PGE "$Q" runs ls --json --home "$TMP/pgf0"; out_has "\"id\":$ID,\"status\":\"done\""
grep -q "run $ID: claimed" "$TMP/pgk9b.log" && ok || bad "the second worker did not take run $ID over"
DUP=$(sed 's/"conn":[0-9]*//' "$TMP/pgk9.log" | sort | uniq -d | wc -l)
[ "$BEFORE" -ge 3 ] && ok || bad "the killed worker had not got far ($BEFORE calls)"
[ "$DUP" -le 1 ] && ok || bad "$DUP completed model calls were paid again after the takeover"

# PostgreSQL restarted while workers carry 10 runs: all finish.
if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/port" ]; then
start_llm pgwr '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":800},{"auto":"research"}]'
kill $KB 2>/dev/null; wait $KB 2>/dev/null
WPIDS=
for w in 1 2 3 4; do
	$PGE QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MAX_CONCURRENT=1 "$Q" worker --home "$TMP/pgw$w" -j 3 \
		--lease 10 >"$TMP/pgwr$w.log" 2>&1 &
	WPIDS="$WPIDS $!"
done
sleep 1
IDS=
for k in $(seq 1 10); do
	IDS="$IDS $($PGE QUARRY_LLM_BASE_URL="$LU" "$Q" research --detach --home "$TMP/pgf0" --allow-private --sources web --depth 1 \
		--max-sources 3 "$RQ restart $k" 2>/dev/null)"
done
i=0
while [ "$(cat "$TMP/pgwr.log" 2>/dev/null | grep -c '<source ')" -lt 10 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
sh tests/pg/cluster.sh restart "$PG_DIR" || echo "pg.sh: restart failed"
NOK=0
for id in $IDS; do $PGE "$Q" runs wait "$id" --home "$TMP/pgf0" >/dev/null 2>&1 && NOK=$((NOK + 1)); done
NAME=pg-workers-restart; [ "$NOK" -eq 10 ] && ok || bad "$NOK of 10 runs finished across the restart"
fi
for p in $WPIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
else
	SKIP=$((SKIP + 1)); echo "skip: PostgreSQL worker cases (no 'quarry worker' in this build)"
fi

fi   # PostgreSQL available
if [ -n "$PG_OWN" ]; then
	sh tests/pg/cluster.sh stop "$PG_OWN"
	trap cleanup EXIT INT TERM
fi
