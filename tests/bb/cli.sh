# Black-box cases for the command line: output files, the terminal,
# command-line habits, doctor, install. Sourced by tests/blackbox.sh.

# ---- -o FILE: atomic for regular files, in place for the rest ----
CH="$TMP/clihome"
CQ="GPS Selective Availability"
"$Q" index add --home "$CH" sample/corpus >/dev/null 2>&1
CR="$Q research --home $CH --sources corpus --no-llm"
mkdir -p "$TMP/cliout"
run out-dev-null env -u QUARRY_LLM_BASE_URL $CR -o /dev/null "$CQ"
rc_is 0
if [ -c /dev/null ]; then ok; else bad "/dev/null is no longer a character device"; fi
printf 'old\n' >"$TMP/cliout/real.md"
ln -sf real.md "$TMP/cliout/link.md"
run out-symlink env -u QUARRY_LLM_BASE_URL $CR -o "$TMP/cliout/link.md" "$CQ"
rc_is 0
if [ -L "$TMP/cliout/link.md" ]; then ok; else bad "the symlink was replaced"; fi
if grep -q '## Sources' "$TMP/cliout/real.md"; then ok; else bad "the symlink's target was not written"; fi
printf 'old\n' >"$TMP/cliout/private.md"; chmod 600 "$TMP/cliout/private.md"
run out-mode env -u QUARRY_LLM_BASE_URL $CR -o "$TMP/cliout/private.md" "$CQ"
rc_is 0
if [ "$(stat -c %a "$TMP/cliout/private.md")" = 600 ]; then ok; else bad "mode $(stat -c %a "$TMP/cliout/private.md"), expected 600"; fi
if grep -q '## Sources' "$TMP/cliout/private.md"; then ok; else bad "the report was not written"; fi
if ls -a "$TMP/cliout" | grep -q '^\.'"private.md"'\.'; then bad "a temporary file was left"; else ok; fi
run out-no-dir env -u QUARRY_LLM_BASE_URL $CR -o /nonexistent-dir/x "$CQ"
rc_is 1; err_has "cannot write /nonexistent-dir/x: No such file or directory"
if grep -q "report written" "$TMP/err"; then bad "says 'report written' after failing"; else ok; fi
if [ "$(grep -c 'cannot write' "$TMP/err")" = 1 ]; then ok; else bad "more than one message"; fi
run out-dir env -u QUARRY_LLM_BASE_URL $CR -o "$TMP/cliout" "$CQ"
rc_is 1; err_has "is a directory"
run out-stdout env -u QUARRY_LLM_BASE_URL $CR -o - "$CQ"
rc_is 0; out_has "## Sources"
if [ -e ./- ]; then bad "wrote a file named '-'"; rm -f ./-; else ok; fi
mkfifo "$TMP/cliout/fifo"
( cat "$TMP/cliout/fifo" >"$TMP/cliout/fifo.out" ) &
run out-fifo env -u QUARRY_LLM_BASE_URL $CR -o "$TMP/cliout/fifo" "$CQ"
wait
rc_is 0
if [ -p "$TMP/cliout/fifo" ]; then ok; else bad "the FIFO was replaced"; fi
if grep -q '## Sources' "$TMP/cliout/fifo.out"; then ok; else bad "nothing came through the FIFO"; fi
# The extension picks the format when -f is not given.
run out-ext-html env -u QUARRY_LLM_BASE_URL $CR -o "$TMP/cliout/r.html" "$CQ"
rc_is 0
if grep -qi '<!doctype html' "$TMP/cliout/r.html"; then ok; else bad "r.html is not HTML"; fi
run out-ext-json env -u QUARRY_LLM_BASE_URL $CR -o "$TMP/cliout/r.json" "$CQ"
rc_is 0
if head -c 1 "$TMP/cliout/r.json" | grep -q '{'; then ok; else bad "r.json is not JSON"; fi
run out-ext-f-wins env -u QUARRY_LLM_BASE_URL $CR -f md -o "$TMP/cliout/r2.json" "$CQ"
rc_is 0
if grep -q '## Sources' "$TMP/cliout/r2.json"; then ok; else bad "-f md did not win over .json"; fi
# runs export goes through the same writer.
CRUN=$("$Q" runs ls --home "$CH" | awk 'NR == 2 {print $1}')
printf 'old\n' >"$TMP/cliout/exp.md"; chmod 600 "$TMP/cliout/exp.md"
ln -sf exp.md "$TMP/cliout/exp-link.md"
run out-export "$Q" runs export "$CRUN" --home "$CH" -o "$TMP/cliout/exp-link.md"
rc_is 0
if [ -L "$TMP/cliout/exp-link.md" ] && [ "$(stat -c %a "$TMP/cliout/exp.md")" = 600 ] &&
	grep -q '## Sources' "$TMP/cliout/exp.md"; then ok; else bad "export did not follow the link or keep the mode"; fi
run out-export-html "$Q" runs export "$CRUN" --home "$CH" -o "$TMP/cliout/exp.html"
rc_is 0
if grep -qi '<!doctype html' "$TMP/cliout/exp.html"; then ok; else bad "exp.html is not HTML"; fi
run out-export-nodir "$Q" runs export "$CRUN" --home "$CH" -o /nonexistent-dir/x
rc_is 1; err_has "cannot write /nonexistent-dir/x"
