#!/bin/sh
# tests/pg/cluster.sh - a private PostgreSQL cluster for the tests.
#
#   sh tests/pg/cluster.sh available        exit 0 when the binaries exist
#   sh tests/pg/cluster.sh start DIR        initdb + start in DIR (created),
#                                           on 127.0.0.1 and a free port;
#                                           writes DIR/url (with a password)
#   sh tests/pg/cluster.sh stop DIR         stop it (fast) and delete DIR
#   sh tests/pg/cluster.sh restart DIR      stop and start again (same port)
#   sh tests/pg/cluster.sh kill DIR         stop it (immediate), keep DIR
#   sh tests/pg/cluster.sh up DIR           start a stopped cluster again
#   sh tests/pg/cluster.sh with CMD...      start one in a temp dir, run CMD
#                                           with QUARRY_TEST_DATABASE_URL
#                                           set, stop it (also on failure);
#                                           CMD's status
#   PG_FSYNC=on: a durable cluster (default off: tests need no durability)
#   sh tests/pg/cluster.sh auto CMD...      `with` when the binaries exist,
#                                           else say so and run CMD alone
#
# Why a private cluster: the tests must not depend on (or damage) a
# PostgreSQL the machine runs, and CI starts from nothing. PostgreSQL
# refuses to run as root, and CI runs as root: then initdb, pg_ctl and
# postgres run as the `postgres` system user (runuser, else setpriv), with
# the data directory owned by it. The socket directory is the data dir,
# so nothing under /var/run is needed. Host connections need a password
# (scram), so the tests also see that a password never reaches a log.
set -u

PG_BIN=${PG_BIN:-}
if [ -z "$PG_BIN" ]; then
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && PG_BIN=$d
	done
fi
PG_USER=quarry
PG_PASSWORD=quarry-test-pw-$$
PG_DB=quarry

die() {
	echo "tests/pg/cluster.sh: $*" >&2
	exit 1
}

# as_owner CMD...: run CMD as the cluster's owner (postgres when we are root).
as_owner() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u postgres -- "$@"
	else
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	fi
}

# A port nobody listens on: random in 20000..59999, checked with ss when it
# exists (pg_ctl start fails on a taken port too, and start retries).
free_port() {
	while :; do
		p=$(( (($(od -An -N2 -tu2 /dev/urandom)) % 40000) + 20000 ))
		if command -v ss >/dev/null 2>&1 && ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			continue
		fi
		echo "$p"
		return
	done
}

start_on() {  # DIR PORT
	as_owner "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/log" -w -t 30 \
		-o "-p $2 -k $1 -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c max_connections=200" \
		start >/dev/null 2>&1
}

cmd_start() {
	dir=$1
	[ -n "$PG_BIN" ] || die "no PostgreSQL binaries (/usr/lib/postgresql/*/bin/initdb); apt-get install postgresql"
	mkdir -p "$dir" || die "cannot create $dir"
	if [ "$(id -u)" -eq 0 ]; then
		getent passwd postgres >/dev/null || die "running as root needs the postgres system user"
		chown postgres "$dir" || die "cannot give $dir to postgres"
	fi
	chmod 700 "$dir"
	printf '%s\n' "$PG_PASSWORD" >"$dir/pw"
	[ "$(id -u)" -eq 0 ] && chown postgres "$dir/pw"
	as_owner "$PG_BIN/initdb" -D "$dir/data" -U "$PG_USER" --pwfile="$dir/pw" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
		|| { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	tries=0
	while :; do
		port=$(free_port)
		start_on "$dir" "$port" && break
		tries=$((tries + 1))
		[ $tries -lt 10 ] || { tail -20 "$dir/log" >&2; die "postgres did not start"; }
	done
	echo "$port" >"$dir/port"
	as_owner "$PG_BIN/createdb" -h "$dir" -p "$port" -U "$PG_USER" "$PG_DB" \
		|| die "createdb failed"
	echo "postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DB" >"$dir/url"
	[ "$(id -u)" -eq 0 ] && chmod 755 "$dir" && chmod 644 "$dir/url"
	return 0
}

cmd_kill() {
	[ -f "$1/data/postmaster.pid" ] || return 0
	as_owner "$PG_BIN/pg_ctl" -D "$1/data" -m "${2:-fast}" -w -t 30 stop >/dev/null 2>&1
}

cmd_stop() {
	dir=$1
	[ -d "$dir" ] || return 0
	cmd_kill "$dir" fast
	rm -rf "$dir"
}

case ${1:-} in
available)
	[ -n "$PG_BIN" ] && { [ "$(id -u)" -ne 0 ] || getent passwd postgres >/dev/null; }
	;;
start)
	[ $# -eq 2 ] || die "usage: start DIR"
	cmd_start "$2"
	;;
stop)
	[ $# -eq 2 ] || die "usage: stop DIR"
	cmd_stop "$2"
	;;
kill)
	[ $# -eq 2 ] || die "usage: kill DIR"
	cmd_kill "$2" immediate
	;;
up)
	[ $# -eq 2 ] || die "usage: up DIR"
	start_on "$2" "$(cat "$2/port")" || die "postgres did not start again"
	;;
restart)
	[ $# -eq 2 ] || die "usage: restart DIR"
	cmd_kill "$2" fast
	start_on "$2" "$(cat "$2/port")" || die "postgres did not start again"
	;;
auto)
	shift
	if ! sh "$0" available; then
		echo "PostgreSQL tests skipped: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)"
		exec "$@"
	fi
	exec sh "$0" with "$@"
	;;
with)
	shift
	[ $# -ge 1 ] || die "usage: with CMD..."
	dir=$(mktemp -d /tmp/quarry-pg.XXXXXX) || die "mktemp failed"
	trap 'cmd_stop "$dir"' EXIT
	trap 'exit 130' INT TERM
	cmd_start "$dir" || exit 1
	QUARRY_TEST_DATABASE_URL=$(cat "$dir/url")
	QUARRY_TEST_PG_DIR=$dir
	export QUARRY_TEST_DATABASE_URL QUARRY_TEST_PG_DIR
	"$@"
	exit $?
	;;
*)
	die "usage: available | start DIR | stop DIR | restart DIR | kill DIR | up DIR | with CMD..."
	;;
esac
