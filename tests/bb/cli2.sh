# Black-box cases for the command line, second set: control sequences in
# extracted text and messages, config and doctor, usage errors, runs
# messages, help. Sourced by tests/blackbox.sh.

# ---- escape sequences are dropped whole, not just their ESC ----
C2="$TMP/cli2"
mkdir -p "$C2/pages"
printf '<html><head><title>Ti\033[2Jtle\033[31m here</title></head><body><article><p>Alpha \033]8;;http://x\033\\linked\033]8;;\033\\ text with enough words to be the main content of this page. del\177 c1\302\233 stray\302\233hello end.</p><p>Another paragraph with enough words so that the extractor keeps it as content.</p></article></body></html>' >"$C2/pages/evil.html"
run ctl-extract "$Q" extract "$C2/pages/evil.html"
rc_is 0; out_has "Alpha linked text"; out_has "strayhello end"
out_lacks "]8;;"; out_lacks "[2J"; out_lacks "[31m"
run ctl-extract-json "$Q" extract -f json "$C2/pages/evil.html"
rc_is 0; out_has '"title":"Title here"'; out_has 'del c1 strayhello'
if LC_ALL=C grep -q "$(printf '\177')" "$TMP/out"; then bad "raw DEL in JSON"; else ok; fi
if grep -q "$(printf '\302\233')" "$TMP/out"; then bad "raw U+009B in JSON"; else ok; fi
run ctl-index "$Q" index add --home "$C2/home" "$C2/pages"
run ctl-index-ls "$Q" index ls --home "$C2/home"
rc_is 0; out_has "Title here"; out_lacks "[2J"

# ---- messages carry no raw controls (names, URLs, commands are untrusted) ----
# err_raw: stderr holds no ESC or BEL.
err_raw() { if LC_ALL=C grep -q "$(printf '[\033\007]')" "$TMP/err"; then bad "raw ESC/BEL on stderr"; else ok; fi; }
run ctl-msg-extract "$Q" extract "$C2/$(printf 'evil\033]0;PWN\007name.bin')"
rc_is 1; err_has "evilname.bin"; err_raw
run ctl-msg-fetch "$Q" fetch "http://127.0.0.1:1/$(printf 'a\033]0;PWN\007b')"
rc_is 1; err_has "127.0.0.1:1/ab"; err_raw
run ctl-msg-cmd "$Q" "$(printf 'fr\033[2J\007ob')"
rc_is 2; err_has "unknown command 'frob'"; err_raw
run ctl-msg-opt "$Q" fetch "$(printf -- '--x\033]0;T\007y')"
rc_is 2; err_raw

# ---- config and doctor ----
printf 'allow_insecure_http = true\nmodl = x\n' >"$C2/quarry.conf"
run cfg-known env -u QUARRY_LLM_BASE_URL -u QUARRY_SEARXNG_URL QUARRY_CONFIG="$C2/quarry.conf" \
	"$Q" doctor --home "$C2/dochome"
rc_is 1; err_has "unknown setting 'modl'"
if grep -q "allow_insecure_http" "$TMP/err"; then bad "allow_insecure_http called unknown"; else ok; fi
out_has "note     config       $C2/quarry.conf: 1 unknown key (see the warnings above)"
out_lacks "ok       config"; out_has "research has nothing to read"
start_llm cli2doc '[{"content":"ok"}]'
run doctor-model-only env -u QUARRY_SEARXNG_URL QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m \
	"$Q" doctor --home "$C2/dochome"
rc_is 1; out_has "research has nothing to read"
run doctor-searx-url env -u QUARRY_LLM_BASE_URL QUARRY_SEARXNG_URL=http://127.0.0.1:9 "$Q" doctor --home "$C2/dochome"
rc_is 1; out_has "(at http://127.0.0.1:9)"
"$Q" index add --home "$C2/bad" sample/corpus >/dev/null 2>&1
head -c 8192 /dev/urandom >"$C2/bad/quarry.db"
run index-check-damaged "$Q" index check --home "$C2/bad"
rc_is 1; err_has "quarry index rebuild"
if grep -q "'quarry index check' shows" "$TMP/err"; then bad "index check sends you to index check"; else ok; fi

# ---- usage errors: exit 2, say what is wrong, suggest the near name ----
C2H="$C2/corpus"
C2Q="GPS Selective Availability"
"$Q" index add --home "$C2H" sample/corpus >/dev/null 2>&1
run use-index-ad "$Q" index ad x
rc_is 2; err_has "unknown action 'ad'; did you mean 'add'?"
run use-index-foo "$Q" index foo x
rc_is 2; err_has "unknown action 'foo': use add, rm"
run use-runs-lss "$Q" runs lss
rc_is 2; err_has "unknown action 'lss'; did you mean 'ls'?"
run use-hlep "$Q" hlep
rc_is 2; err_has "did you mean 'help'?"
run use-provider env -u QUARRY_LLM_BASE_URL "$Q" research --provider deepsek --home "$C2/uh" x
rc_is 2; err_has "unknown provider 'deepsek' (did you mean 'deepseek'?)"; err_has "ollama"
run use-sources env -u QUARRY_LLM_BASE_URL "$Q" research --sources foo --home "$C2/uh" x
rc_is 2; err_has "unknown source 'foo': use web, corpus, searxng, brave, tavily or serper"
run use-sources-near env -u QUARRY_LLM_BASE_URL "$Q" research --sources web,corpse --home "$C2/uh" x
rc_is 2; err_has "did you mean 'corpus'?"
run use-o-empty env -u QUARRY_LLM_BASE_URL "$Q" research -o '' --home "$C2/uh" x
rc_is 2; err_has "-o needs a file name"
run use-lang-bad env -u QUARRY_LLM_BASE_URL "$Q" research --lang english --home "$C2/uh" x
rc_is 2; err_has "--lang takes a language code"
run use-lang-xx env -u QUARRY_LLM_BASE_URL "$Q" research --lang xx --sources corpus --no-llm --home "$C2H" "$C2Q"
rc_is 0; err_has "'xx' is not an ISO 639-1 language code"
run use-lang-ok env -u QUARRY_LLM_BASE_URL "$Q" research --lang pt-BR --sources corpus --no-llm --home "$C2H" "$C2Q"
rc_is 0; if grep -q "ISO 639-1" "$TMP/err"; then bad "pt-BR warned about"; else ok; fi
run use-brave env -u QUARRY_LLM_BASE_URL -u QUARRY_BRAVE_API_KEY QUARRY_SEARXNG_URL="$B" \
	"$Q" research --sources brave --no-llm --home "$C2/uh" x
rc_is 1; err_has "brave is not configured: set QUARRY_BRAVE_API_KEY"
for qq in '' '   '; do
	run use-research-empty env -u QUARRY_LLM_BASE_URL "$Q" research --home "$C2/uh" "$qq"
	rc_is 2; err_has "the question is empty"
done
for qq in '' '"'; do
	run use-search-empty "$Q" search --home "$C2H" "$qq"
	rc_is 2; err_has "the query is empty"
done

# SIGTERM is 128+15, not Ctrl-C's 130.
env -u QUARRY_LLM_BASE_URL "$Q" research --home "$C2/termhome" --allow-private --sources web --no-llm \
	"slowpages" >"$TMP/out" 2>"$TMP/err" &
KPID=$!
sleep 1.5
kill -TERM $KPID
wait $KPID
RC=$?
NAME=sigterm; rc_is 143; err_has "resume with 'quarry runs resume 1'"

# ---- runs: messages name the run ----
for a in show export; do
	run runs-$a-interrupted "$Q" runs $a 1 --home "$C2/termhome"
	rc_is 1; err_has "finish it with 'quarry runs resume 1'"
done
if [ -w /dev/full ]; then
	"$Q" index add --home "$C2/fullhome" sample/corpus >/dev/null 2>&1
	run runs-o-full env -u QUARRY_LLM_BASE_URL "$Q" research --home "$C2/fullhome" --sources corpus --no-llm -o /dev/full "$C2Q"
	rc_is 1; err_has "report is stored: get it with 'quarry runs export 1 -o FILE'"
fi
run runs-resume-nollm env -u QUARRY_LLM_BASE_URL "$Q" runs resume 1 --home "$C2/termhome" --allow-private
if grep -q "no model configured" "$TMP/err"; then bad "resuming a --no-llm run warns about the model"; else ok; fi

# ---- help and documentation say what the program does ----
run help-models-keys "$Q" help models
rc_is 0
for k in searxng_url brave_api_key_env brave_url tavily_api_key_env tavily_url serper_api_key_env \
	serper_url allow_insecure_http api_key_env idle_timeout; do out_has "$k"; done
mkdir -p "$C2/hid/.git" && printf 'x\n' >"$C2/hid/.secret" && printf '# Shown\n\nvisible text\n' >"$C2/hid/a.md"
run index-hidden-v "$Q" index add -v --home "$C2/hidhome" "$C2/hid"
rc_is 0; err_has "skipped: $C2/hid/.git: hidden"; err_has "skipped: $C2/hid/.secret: hidden"
out_has "skipped 0"   # hidden ones are passed over, not counted
run index-hidden-quiet "$Q" index add --home "$C2/hidhome2" "$C2/hid"
rc_is 0; if grep -q hidden "$TMP/err"; then bad "hidden files reported without -v"; else ok; fi
run help-search-example "$Q" search --home "$C2H" '"selective availability" -military'
rc_is 0; out_has "Selective Availability"
run help-search-text "$Q" help search
out_has "'\"selective availability\" -military'"
if grep -q 'SECURITY.md' README.md && grep -q '^| doc |' README.md; then ok; else bad "README layout lacks SECURITY.md or doc/"; fi
run runs-ls-json-lines "$Q" runs ls --json --home "$C2/termhome"
rc_is 0; out_has '{"id":1,"status":'
if head -c1 "$TMP/out" | grep -q '\['; then bad "runs ls --json prints an array"; else ok; fi
if grep -q 'stopped' doc/quarry.1; then ok; else bad "the man page omits the status stopped"; fi
run help-overview "$Q" --help
out_has "--color=WHEN"; out_has "--version"
run help-sub "$Q" help runs ls
rc_is 0; out_has "usage: quarry runs ls"
for c in research runs ask fetch extract index search models doctor help version; do
	run help-width-$c "$Q" help $c
	if awk 'length($0) > 80 { bad = 1 } END { exit !bad }' "$TMP/out"; then bad "a help line over 80 columns"; else ok; fi
done
run help-width-overview "$Q" --help
if awk 'length($0) > 80 { bad = 1 } END { exit !bad }' "$TMP/out"; then bad "a help line over 80 columns"; else ok; fi
