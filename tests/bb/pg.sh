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
rc_is 0; out_has "schema:    0, this quarry needs 1: run 'quarry db migrate'"; out_has "quarry:***@"
run pg-db-migrate env QUARRY_DATABASE_URL="$PGU" "$Q" db migrate
rc_is 0; out_has "schema 0 -> 1: migrated"
run pg-db-migrate-again env QUARRY_DATABASE_URL="$PGU" "$Q" db migrate
rc_is 0; out_has "schema 1: up to date"
printf 'database_url = %s\n' "$PGU" >"$TMP/pg.conf"
run pg-db-status-config "$Q" db status --json --config "$TMP/pg.conf"
rc_is 0; out_has '"schema_version":1'; out_has '"runs":{"queued":0,'
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

fi   # PostgreSQL available
if [ -n "$PG_OWN" ]; then
	sh tests/pg/cluster.sh stop "$PG_OWN"
	trap cleanup EXIT INT TERM
fi
