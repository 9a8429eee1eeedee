# node.sh - the npm-client tests in tests/js run from a case, each "ok" line
# one check. A case loads it with 'use: node'. The tests read the fake web
# site's URL (B), so loading it starts the site.
start_web
# node_test FILE [VAR=VALUE...]: run tests/js/FILE with QUARRY and B set
# (and no QUARRY_ALLOW_PRIVATE: the case's environment is clean); each of
# its "ok" lines is one check, each "not ok" line one failure.
node_test() {
	nt_f=$1
	shift
	if [ ! -d tests/js/node_modules ]; then
		bad "tests/js/node_modules is missing: run 'npm ci --prefix tests/js' (make test does)"
		return
	fi
	env QUARRY="$Q" B="$B" "$@" timeout 300 node "tests/js/$nt_f" >"$OUT" 2>"$ERR"
	RC=$?
	grep -q '^ok ' "$OUT" || bad "$nt_f made no check (exit $RC)"
	while IFS= read -r line; do
		case $line in
		"ok "*) ok ;;
		"not ok "*) bad "$nt_f: ${line#not ok }" ;;
		esac
	done <"$OUT"
	if [ "$RC" -ne 0 ] && ! grep -q '^not ok ' "$OUT"; then bad "$nt_f exited $RC"; fi
}
