# compile.awk - turn one black-box case file (tests/cases/NAME.case) into
# the shell script tests/case.sh runs. The format is in tests/README.md:
# one directive per line ("run: quarry extract x.html", "exit: 0",
# "stdout: text"...), a block of tab-indented lines under "sh:", "check:",
# "file PATH:" and "llm NAME:". Every emitted line sets LINE first, so a
# failure names the case file and line it came from.
#
# Pattern text (stdout:, stderr: and their "!" forms) is literal, except
# that ${NAME} is replaced by that shell variable's value (xp in
# tests/lib/case.sh); everything else is shell, expanded as usual.

function sq(s) { gsub(/'/, "'\\''", s); return "'" s "'" }

# A mistake in the case file: said on stderr (tests/case.sh reports each
# one as a failure and runs nothing of the case); awk then exits 1.
function die(msg) {
	printf "%s:%d: %s\n", FILENAME, NR, msg > "/dev/stderr"
	broken = 1
}

# Emit the open block (key, arg, its lines in body) and close it.
function flush(   n, firstline) {
	if (key == "") return
	n = split(body, lines, "\n")
	firstline = lines[1]
	if (key == "run") {
		gsub(/\\\n/, " ", body)
		gsub(/\n/, " ", body)
		printf "LINE=%d; run %s\n", kline, body
	} else if (key == "sh") {
		printf "LINE=%d\n%s\n", kline, body
	} else if (key == "check") {
		printf "LINE=%d; if {\n%s\n}; then ok; else bad %s; fi\n", kline, body, sq("check failed: " firstline (n > 1 ? " ..." : ""))
	} else if (key == "file") {
		printf "LINE=%d; case_file %s <<'CASE_EOF_%d'\n%s\nCASE_EOF_%d\n", kline, arg, kline, body, kline
	} else if (key == "llm") {
		printf "LINE=%d; start_llm %s <<'CASE_EOF_%d'\n%s\nCASE_EOF_%d\n", kline, arg, kline, body, kline
	}
	key = ""; body = ""; arg = ""
}

BEGIN { key = ""; body = ""; blanks = 0; print "# compiled from " ARGV[1] " by tests/lib/compile.awk"; print ". tests/lib/case.sh" }

# A tab-indented line continues the open block.
/^\t/ {
	if (key == "") { die("an indented line belongs under run:, sh:, check:, file or llm"); next }
	line = substr($0, 2)
	while (blanks > 0) { body = body "\n"; blanks-- }
	body = (body == "" && !started) ? line : body "\n" line
	started = 1
	next
}
/^[ \t]*$/ { if (key != "") blanks++; next }
/^#/ {
	flush(); blanks = 0
	if (!summary) { summary = 1; s = $0; sub(/^#[ ]*/, "", s); printf "CASE_SUMMARY=%s\n", sq(s) }
	next
}
{
	flush(); blanks = 0; started = 0
	if (!match($0, /^!?[a-z0-9-]+( [^ :][^ :]*)?:/)) { die("not a directive: " $0); next }
	head = substr($0, 1, RLENGTH - 1)
	rest = substr($0, RLENGTH + 1)
	sub(/^ /, "", rest)
	k = head; a = ""
	if (index(head, " ")) { k = substr(head, 1, index(head, " ") - 1); a = substr(head, index(head, " ") + 1) }
	if ((k == "exit" || k == "timeout") && rest !~ /^[0-9]+$/) { die(k ": needs a number, not '" rest "'"); next }
	if ((k ~ /^!?std(out|err)$/ || k == "env" || k == "needs" || k == "use" || k == "cleanup") && rest == "") {
		die(k ": needs a value (an empty one would match anything)")
		next
	}
	if (k == "exit") printf "LINE=%d; rc_is %s\n", NR, rest
	else if (k == "stdout") printf "LINE=%d; xp %s; out_has \"$XP\"\n", NR, sq(rest)
	else if (k == "!stdout") printf "LINE=%d; xp %s; out_lacks \"$XP\"\n", NR, sq(rest)
	else if (k == "stderr") printf "LINE=%d; xp %s; err_has \"$XP\"\n", NR, sq(rest)
	else if (k == "!stderr") printf "LINE=%d; xp %s; err_lacks \"$XP\"\n", NR, sq(rest)
	else if (k == "stdout-utf8") printf "LINE=%d; out_utf8\n", NR
	else if (k == "env") printf "LINE=%d; export %s\n", NR, rest
	else if (k == "timeout") printf "LINE=%d; RUN_TIMEOUT=%s\n", NR, rest
	else if (k == "needs") printf "LINE=%d; needs %s\n", NR, rest
	else if (k == "web") printf "LINE=%d; start_web\n", NR
	else if (k == "use") {
		n = split(rest, libs, " ")
		for (i = 1; i <= n; i++) printf "LINE=%d; . tests/lib/%s.sh\n", NR, libs[i]
	} else if (k == "cleanup") printf "LINE=%d; at_exit %s\n", NR, sq(rest)
	else if (k == "run" || k == "sh" || k == "check" || k == "file" || k == "llm") {
		if ((k == "file" || k == "llm") && a == "") { die(k " needs a name: '" k " NAME:'"); next }
		if (k != "file" && k != "llm" && a != "") { die("'" k "' takes no name"); next }
		key = k; arg = a; kline = NR; body = rest; started = (rest != "")
	} else die("unknown directive '" k "'")
}
END {
	flush()
	print "case_end"
	if (broken) exit 1
}
