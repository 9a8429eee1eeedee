#!/bin/sh
# Install the Debian 12 packages quarry needs to build, test and run.
# Idempotent and non-interactive; uses sudo when not root.
set -eu

PACKAGES="build-essential pkg-config libcurl4-openssl-dev libxml2-dev \
libjansson-dev zlib1g-dev libsqlite3-dev libstemmer-dev libcmocka-dev poppler-utils clang \
libevent-dev libpq-dev postgresql chromium wrk cppcheck clang-format"
# nodejs and npm run the protocol and browser tests (tests/js); a machine
# that has node from elsewhere (with its own npm) keeps it.
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root or install sudo, or install them yourself:" >&2
	echo "  apt-get install$missing" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
