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
CATPID=$!
run out-fifo env -u QUARRY_LLM_BASE_URL $CR -o "$TMP/cliout/fifo" "$CQ"
wait $CATPID
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

# ---- the terminal: controls from untrusted text never reach it ----
mkdir -p "$TMP/clictl"
printf '# Title \033]0;pwned\007here\n\nSelective text \033[2J\033[31mred\033[0m and \302\233 csi and bell\007 end.\n' \
	>"$TMP/clictl/evil.md"
cli_no_ctl() {   # stdout and stderr hold no ESC, BEL, CR or 8-bit CSI
	if LC_ALL=C grep -q "$(printf '[\033\007\r]')" "$TMP/out" "$TMP/err" ||
		LC_ALL=C grep -q "$(printf '\302\233')" "$TMP/out" "$TMP/err"; then
		bad "a control character reached the output"; else ok; fi
}
run ctl-extract "$Q" extract "$TMP/clictl/evil.md"
rc_is 0; out_has "Selective text red and  csi and bell end."; cli_no_ctl   # a stray U+009B eats nothing
run ctl-extract-md "$Q" extract -f markdown "$TMP/clictl/evil.md"
rc_is 0; out_has "here"; cli_no_ctl
run ctl-extract-json "$Q" extract -f json "$TMP/clictl/evil.md"
rc_is 0; out_lacks '\u001B'; out_lacks '[2J'; out_has 'Selective text red and'   # stripped at extraction
cp "$TMP/clictl/evil.md" "$TMP/clictl/name$(printf '\033')[2Jx.md"
run ctl-index "$Q" index add -v --home "$TMP/clictlhome" "$TMP/clictl"
rc_is 0; cli_no_ctl; err_has "namex.md"
run ctl-search "$Q" search --home "$TMP/clictlhome" selective
rc_is 0; out_has "Selective"; cli_no_ctl
run ctl-brief env -u QUARRY_LLM_BASE_URL "$Q" research --home "$TMP/clictlhome" --sources corpus --no-llm "selective text"
rc_is 0; cli_no_ctl
start_llm clictl '[{"content":"Answer \u001b]0;pwned\u0007with \u001b[2Jcontrols \u009b and \u00e9t\u00e9."}]'
run ctl-ask env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" ask --no-search --no-cache --home "$TMP/clictlhome" hi
rc_is 0; out_has "Answer with controls  and été."; cli_no_ctl

# ---- the terminal: colour and readable -v ----
run color-always-search "$Q" --color=always search --home "$CH" selective
rc_is 0; out_has "$(printf '\033[1m')"
run color-never-search "$Q" search --color never --home "$CH" selective
rc_is 0; out_has "["; out_lacks "$(printf '\033')"
run verbose-readable env -u QUARRY_LLM_BASE_URL $CR -v -o "$TMP/cliout/v.md" "$CQ"
rc_is 0; err_has "source_read"; if grep -q '^{"type"' "$TMP/err"; then bad "-v printed JSON"; else ok; fi
if command -v script >/dev/null 2>&1; then
	start_llm clitty '[{"content":"Plain answer.", "reasoning":"Thinking hard."}]'
	run color-no-color env NO_COLOR=1 QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m script -qec \
		"$Q ask --no-search --no-cache --home $TMP/clictlhome hi" /dev/null
	rc_is 0; out_has "Thinking hard."; out_lacks "$(printf '\033[2m')"
	run color-never-ask env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m script -qec \
		"$Q --color=never ask --no-search --no-cache --home $TMP/clictlhome hi" /dev/null
	rc_is 0; out_has "Plain answer."; out_lacks "$(printf '\033[2m')"
	# The progress line is cut to the window (COLUMNS when the pty has no size)
	# and redrawn in place: no piece between carriage returns is wider.
	mkdir -p "$TMP/cw"
	for i in 1 2 3 4 5; do echo "text $i" >"$TMP/cw/选择可用性选择可用性选择可用性选择可用性-$i.txt"; done
	run progress-width env COLUMNS=60 script -qec "stty cols 60 2>/dev/null; $Q index add --home $TMP/cwhome $TMP/cw" /dev/null
	rc_is 0
	W=$(tr '\r' '\n' <"$TMP/out" | sed 's/\x1b\[K//g' | grep -v '^added ' | LC_ALL=C.UTF-8 wc -L)
	if [ "$W" -le 59 ]; then ok; else bad "a progress line is $W columns wide (window: 60)"; fi
	if grep -q 'files  added .*选择可' "$TMP/out"; then ok; else bad "no progress line was drawn"; fi
else
	SKIP=$((SKIP + 1)); echo "skip: cli tty cases (no script command)"
fi

# ---- SearXNG with its JSON format off (403), SearXNG down ----
start_llm cliauto '[{"auto":"research"}]'
run searxng-403 env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_SEARXNG_URL="$B/nojson" \
	"$Q" research --home "$CH" --allow-private --depth 1 "$CQ"
rc_is 0; out_has "## Sources"
err_has "its JSON format is off; enable it with 'search: formats: [html, json]' in its settings.yml"
if [ "$(grep -c 'JSON format is off' "$TMP/err")" = 1 ]; then ok; else bad "the 403 was reported $(grep -c 'JSON format is off' "$TMP/err") times"; fi
if grep -q 'refused the key' "$TMP/err"; then bad "403 called a refused key"; else ok; fi
run searxng-down-empty env -u QUARRY_LLM_BASE_URL QUARRY_SEARXNG_URL=http://127.0.0.1:9 \
	"$Q" research --home "$TMP/cliempty" --no-llm "$CQ"
rc_is 1; err_has "every search failed"; out_lacks "## Sources"

# ---- command-line habits ----
for sub in "index add" "index ls" "runs ls" "runs export" "research" "ask" "search" "doctor"; do
	run "help-$sub" "$Q" $sub --help; rc_is 0; out_has "usage: quarry ${sub%% *}"
done
run help-sub-h "$Q" runs resume -h; rc_is 0; out_has "usage: quarry runs"
run dym-cmd "$Q" serach x; rc_is 2; err_has "did you mean 'search'?"
run dym-help "$Q" help reserch; rc_is 2; err_has "did you mean 'research'?"
run dym-opt "$Q" research --deph 2 x; rc_is 2; err_has "did you mean '--depth'?"
run dym-none "$Q" fetch --zzzzzzzz x; rc_is 2; if grep -q 'did you mean' "$TMP/err"; then bad "suggested something far"; else ok; fi
run usage-color "$Q" --color=sometimes version; rc_is 2; err_has "--color takes auto, always or never"
run usage-index-json "$Q" index stats --json --home "$CH"; rc_is 2
run usage-runs "$Q" runs frob --home "$CH"; rc_is 2
run usage-search "$Q" search; rc_is 2
run search-none "$Q" search --home "$CH" zzyzzxnomatch; rc_is 1; err_has "no matches"
run search-some "$Q" search --home "$CH" selective; rc_is 0
run index-ls-json "$Q" index ls --json --home "$CH"; rc_is 0
out_has '"path":"'; out_has '"kind":"markdown"'; out_has '"passages":'
if [ "$(grep -c "^{" "$TMP/out")" = "$(ls sample/corpus | wc -l)" ]; then ok; else bad "not one JSON line per document"; fi
printf 'model = m\nmodle = y\n\nfrobnicate = 1\nprice.m = 1,2\n' >"$TMP/cli.cfg"
run config-unknown env QUARRY_CONFIG="$TMP/cli.cfg" "$Q" models
rc_is 0; err_has "$TMP/cli.cfg line 2: unknown setting 'modle' ignored; did you mean 'model'?"
err_has "$TMP/cli.cfg line 4: unknown setting 'frobnicate' ignored"
if grep -q "price.m\|line 1:" "$TMP/err"; then bad "warned about a known key"; else ok; fi

# ---- doctor says what research will do ----
run doctor-nothing env -u QUARRY_LLM_BASE_URL -u QUARRY_SEARXNG_URL "$Q" doctor --home "$TMP/clidocempty"
rc_is 1; out_has "research: no model, no web search and an empty corpus: research has nothing to read"
out_lacks "Everything needed works"
run doctor-corpus-only env -u QUARRY_LLM_BASE_URL -u QUARRY_SEARXNG_URL "$Q" doctor --home "$CH"
rc_is 0; out_has "no model and no web search: research will write extractive briefs (cited passages, no model) of your corpus ("
run doctor-web env -u QUARRY_LLM_BASE_URL QUARRY_SEARXNG_URL="$B" "$Q" doctor --home "$CH"
rc_is 0; out_has "research: no model: research will write extractive briefs (cited passages, no model) of the web (searxng) and your corpus ("
start_llm clidoc '[{"content":"ok"}]'
run doctor-full env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_SEARXNG_URL="$B" "$Q" doctor --home "$CH"
rc_is 0; out_has "research: m will plan, read the web (searxng) and your corpus ("
run doctor-model-down env QUARRY_LLM_BASE_URL=http://127.0.0.1:9/v1 QUARRY_LLM_MODEL=m "$Q" doctor --home "$CH"
rc_is 1; out_has "research: the model is not working"

# ---- make install: binary, man page, completions ----
if command -v groff >/dev/null 2>&1; then
	run install-check make -s install-check BUILD="$BUILD"
	rc_is 0; out_has "install-check: ok"
	run install-prefix make -s install DESTDIR="$TMP/cliinst" PREFIX=/opt/q BUILD="$BUILD"
	rc_is 0
	if [ -x "$TMP/cliinst/opt/q/bin/quarry" ] && [ -f "$TMP/cliinst/opt/q/share/man/man1/quarry.1" ] &&
		[ -f "$TMP/cliinst/opt/q/share/bash-completion/completions/quarry" ]; then ok; else bad "files not under DESTDIR/PREFIX"; fi
	run install-man man -l "$TMP/cliinst/opt/q/share/man/man1/quarry.1"
	rc_is 0; out_has "research"
else
	SKIP=$((SKIP + 1)); echo "skip: install-check (no groff)"
fi

# A bad -o is refused before the run starts (nothing is spent, no run stored).
CBEFORE=$("$Q" runs ls --home "$CH" 2>/dev/null | wc -l)
run out-early env -u QUARRY_LLM_BASE_URL $CR -o /nonexistent-dir/x "$CQ"
rc_is 1; err_has "cannot write /nonexistent-dir/x: No such file or directory"
if [ "$("$Q" runs ls --home "$CH" 2>/dev/null | wc -l)" = "$CBEFORE" ]; then ok; else bad "the run started anyway"; fi
run usage-version "$Q" version extra; rc_is 2; err_has "unexpected argument 'extra'"
run usage-help "$Q" help fetch extra; rc_is 2
