# pg.sh - a database of the case's own on the PostgreSQL test cluster
# (make test starts it; QUARRY_TEST_DATABASE_URL). A case loads it with
# 'needs: postgres' and 'use: pg'.
PG_URL=$QUARRY_TEST_DATABASE_URL
# pg_db NAME: a fresh database NAME on the test cluster (each case its
# own name); its URL in $PGU.
pg_db() {
	psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
	PGU="${PG_URL%/*}/$1"
}
