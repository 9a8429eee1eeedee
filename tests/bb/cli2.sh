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
