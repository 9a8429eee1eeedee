#!/bin/sh
# Black-box tests: run build/quarry against the fake web server and
# generated fixtures, and check what it prints and how it exits.
# Prints one line per failure and ends with "blackbox: N passed, N failed".
set -u
BUILD=${BUILD:-build}
Q="$BUILD/quarry"
TMP=$(mktemp -d)
PASS=0
FAIL=0
FAKEWEB_PID=
FAKELLM_PID=
LLM_PIDS=

cleanup() {
	[ -n "$FAKEWEB_PID" ] && kill "$FAKEWEB_PID" 2>/dev/null
	[ -n "$FAKELLM_PID" ] && kill "$FAKELLM_PID" 2>/dev/null
	for p in $LLM_PIDS; do kill "$p" 2>/dev/null; done
	umount "$TMP/full" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$BUILD/fakeweb" --fixtures "$TMP/fx" || { echo "blackbox: cannot write fixtures"; exit 1; }
"$BUILD/fakeweb" "$TMP/port" sample/pages &
FAKEWEB_PID=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(cat "$TMP/port")
B="http://127.0.0.1:$PORT"

# run NAME CMD...: run with a time limit, keep stdout, stderr and status.
run() {
	NAME=$1
	shift
	timeout 120 "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
}
ok() { PASS=$((PASS + 1)); }
bad() {
	FAIL=$((FAIL + 1))
	echo "FAIL: $NAME: $1"
	sed 's/^/    stdout: /' "$TMP/out" | head -5
	sed 's/^/    stderr: /' "$TMP/err" | head -5
}
rc_is() { if [ "$RC" -eq "$1" ]; then ok; else bad "exit status $RC, expected $1"; fi; }
out_has() { if grep -qF -- "$1" "$TMP/out"; then ok; else bad "stdout lacks '$1'"; fi; }
out_lacks() { if grep -qF -- "$1" "$TMP/out"; then bad "stdout has '$1'"; else ok; fi; }
err_has() { if grep -qF -- "$1" "$TMP/err"; then ok; else bad "stderr lacks '$1'"; fi; }
out_utf8() { if iconv -f UTF-8 -t UTF-8 "$TMP/out" >/dev/null 2>&1; then ok; else bad "stdout is not valid UTF-8"; fi; }

# ---- the command line ----
run version "$Q" --version; rc_is 0; out_has "quarry 0."
run help "$Q" --help; rc_is 0; out_has "fetch"; out_has "extract"
run help-fetch "$Q" help fetch; rc_is 0; out_has "usage: quarry fetch"
run fetch-dash-help "$Q" fetch --help; rc_is 0; out_has "--allow-private"
run no-args "$Q"; rc_is 2
run unknown-cmd "$Q" frobnicate; rc_is 2; err_has "unknown command 'frobnicate'"; err_has "quarry --help"
run unknown-flag "$Q" fetch --frob "$B/"; rc_is 2; err_has "unknown option '--frob'"; err_has "quarry help fetch"
run missing-value "$Q" fetch -j; rc_is 2; err_has "needs a value"
run bad-jobs "$Q" fetch -j 0 "$B/"; rc_is 2
run no-url "$Q" fetch; rc_is 2; err_has "no URL"
run bad-format "$Q" extract -f pdf sample/pages/article.html; rc_is 2

# ---- extract: sample pages ----
run extract-article "$Q" extract sample/pages/article.html
rc_is 0; out_has "stopped deliberately degrading"; out_has "Lessons for opening up technology"
out_has "Emergency services could locate"; out_has "about 100 m"
out_lacks "We use cookies"; out_lacks "All rights reserved"; out_lacks "Most read"
out_lacks "Ten gadgets"; out_lacks "Share on X"; out_lacks "Galileo reaches"
run extract-forum "$Q" extract sample/pages/forum.html
rc_is 0; out_has "I keep reading"; out_has "It matters more"; out_has "GPS III satellites"
out_lacks "Powered by"; out_lacks "Register"
# At a forum's address the page is a discussion: its title opens the text, once.
run extract-forum-type "$Q" extract -f json --url https://forum.example.org/t/sa/1 sample/pages/forum.html
rc_is 0; out_has '"page_type":"forum"'; out_has '"text":"Does turning off Selective Availability still matter?\n'
run extract-forum-title-once "$Q" extract --url https://forum.example.org/t/sa/1 sample/pages/forum.html
if [ "$(grep -c 'Does turning off Selective' "$TMP/out")" -eq 1 ]; then ok; else bad "thread title printed twice"; fi
run extract-zh "$Q" extract sample/pages/zh-article.html
rc_is 0; out_has "选择可用性"; out_has "对开放技术的启示"; out_lacks "热门文章"; out_lacks "版权所有"
run extract-json "$Q" extract -f json sample/pages/article.html
rc_is 0; out_has '"title":"Why the US Switched Off GPS Selective Availability"'
out_has '"author":"Jordan Lee"'; out_has '"published":"2025-05-02T08:00:00Z"'; out_has '"language":"en"'
out_has '"site_name":"The Sample Gazette"'; out_has '"kind":"html"'
run extract-markdown "$Q" extract -f markdown sample/pages/article.html
rc_is 0; out_has "## What changed for users"; out_has "| --- |"; out_has "- Surveyors needed"
run extract-stdin sh -c "cat sample/pages/article.html | $Q extract -"
rc_is 0; out_has "Selective Availability"

# ---- extract: other formats and bad files ----
run extract-pdf "$Q" extract "$TMP/fx/sample.pdf"; rc_is 0; out_has "Quarry reads PDF files through pdftotext"
run extract-docx "$Q" extract -f markdown "$TMP/fx/sample.docx"
rc_is 0; out_has "# Findings Report"; out_has "# Quarterly Findings"; out_has "Revenue grew by twelve percent."
out_has "- First bullet point"; out_has "Region | Sales"; out_has "市场份额继续扩大"
run extract-docx-json "$Q" extract -f json "$TMP/fx/sample.docx"; out_has '"author":"Ada Analyst"'
run extract-gbk-sniff "$Q" extract "$TMP/fx/gbk-nolabel.html"; rc_is 0; out_has "全球定位系统"; out_utf8
run extract-sjis-sniff "$Q" extract "$TMP/fx/sjis-nolabel.html"; rc_is 0; out_has "東京の天気"
run extract-ct-flag "$Q" extract --content-type "text/html; charset=gbk" "$TMP/fx/gbk-nolabel.html"; rc_is 0; out_has "全球定位系统"
gzip -c sample/pages/article.html >"$TMP/article.html.gz"
run extract-gzip "$Q" extract "$TMP/article.html.gz"; rc_is 0; out_has "stopped deliberately degrading"
head -c 20000 /dev/zero | gzip -c | gzip -c >"$TMP/nested.gz"
run extract-nested-gzip "$Q" extract "$TMP/nested.gz"; rc_is 1; err_has "nested gzip"
run extract-broken-docx "$Q" extract "$TMP/fx/broken.docx"; rc_is 1; err_has "damaged"
run extract-bomb-docx "$Q" extract "$TMP/fx/bomb.docx"; rc_is 1; err_has "larger than"
run extract-binary "$Q" extract "$TMP/fx/binary.bin"; rc_is 1; err_has "unsupported"
run extract-empty "$Q" extract "$TMP/fx/empty.html"; rc_is 1; err_has "no readable content"
run extract-deep "$Q" extract "$TMP/fx/deep.html"; rc_is 0; out_has "deep text"
# 120,000 unclosed buttons (each wraps the rest of the page): linear work, not quadratic.
awk 'BEGIN { printf "<html><body><p>Some text that is long enough to read as a sentence, with commas.</p>"; for (i = 0; i < 120000; i++) printf "<button>"; print "end</body></html>" }' >"$TMP/buttons.html"
run extract-buttons timeout 10 "$Q" extract "$TMP/buttons.html"; rc_is 0; out_has "Some text"
run extract-missing "$Q" extract "$TMP/nope.html"; rc_is 1; err_has "cannot open"
run extract-cap "$Q" extract --max-bytes 1k sample/pages/article.html; rc_is 1; err_has "raise --max-bytes"
mkdir -p "$TMP/nopath"
run extract-no-pdftotext env PATH="$TMP/nopath" "$Q" extract "$TMP/fx/sample.pdf"; rc_is 1; err_has "poppler-utils"

# ---- fetch: the address policy ----
run policy-loopback env -u QUARRY_ALLOW_PRIVATE "$Q" fetch "$B/pages/article.html"
rc_is 1; err_has "loopback address"; err_has "--allow-private"
run policy-env env QUARRY_ALLOW_PRIVATE=1 "$Q" fetch "$B/pages/article.html"; rc_is 0
run policy-ipv6-loopback env -u QUARRY_ALLOW_PRIVATE "$Q" fetch "http://[::1]:$PORT/"; rc_is 1; err_has "loopback"
export QUARRY_ALLOW_PRIVATE=1

# ---- fetch: good pages and formats ----
run fetch-article "$Q" fetch "$B/pages/article.html"
rc_is 0; out_has "stopped deliberately degrading"; out_lacks "We use cookies"
run fetch-json "$Q" fetch -f json "$B/redirect/3"
rc_is 0; out_has "\"final_url\":\"$B/pages/article.html\""; out_has '"status":200'
out_has '"content_type":"text/html; charset=utf-8"'; out_has '"fetch_ms":'; out_has '"charset":"UTF-8"'
run fetch-gzip "$Q" fetch "$B/gzip"; rc_is 0; out_has "arrived gzip-compressed"
run fetch-pdf "$Q" fetch "$B/doc.pdf"; rc_is 0; out_has "Quarry reads PDF files"
run fetch-docx "$Q" fetch "$B/doc.docx"; rc_is 0; out_has "Quarterly Findings"
run fetch-md "$Q" fetch -f json "$B/notes.md"; rc_is 0; out_has '"kind":"markdown"'; out_has '"title":"Field notes"'
run fetch-txt "$Q" fetch "$B/plain.txt"; rc_is 0; out_has "Second line."
run fetch-many "$Q" fetch -j 4 "$B/pages/forum.html" "$B/404" "$B/pages/article.html" "$B/gzip"
rc_is 1; out_has "I keep reading"; out_has "stopped deliberately"; err_has "HTTP 404"
if [ "$(grep -n '==>' "$TMP/out" | cut -d: -f1 | tr '\n' ' ')" = "$(grep -n '==>' "$TMP/out" | sort -t: -k1,1n | cut -d: -f1 | tr '\n' ' ')" ] &&
   grep '==>' "$TMP/out" | head -1 | grep -q forum.html && grep '==>' "$TMP/out" | tail -1 | grep -q gzip; then ok; else bad "output not in input order"; fi

# ---- fetch: charsets ----
for path in gb2312-but-utf8 gbk gbk-meta gbk-nolabel; do
	run "charset-$path" "$Q" fetch "$B/$path"; rc_is 0; out_has "全球定位系统的选择可用性"; out_utf8
done
run charset-big5 "$Q" fetch "$B/big5"; rc_is 0; out_has "全球定位系統的選擇可用性"
run charset-sjis "$Q" fetch "$B/sjis"; rc_is 0; out_has "東京の天気は晴れ"
run charset-latin1 "$Q" fetch "$B/latin1"; rc_is 0; out_has "Café crème brûlée naïve “quoted”"
run charset-invalid "$Q" fetch "$B/invalid-utf8"; rc_is 0; out_has "Bad bytes �� here"; out_utf8

# ---- fetch: failures ----
run redirects-5 "$Q" fetch "$B/redirect/4"; rc_is 0
run redirects-6 "$Q" fetch "$B/redirect/5"; rc_is 1; err_has "more than 5 redirects"
run redirect-loop "$Q" fetch "$B/loop"; rc_is 1; err_has "redirect"
run redirect-ftp "$Q" fetch "$B/to-ftp"; rc_is 1; err_has "only http and https"
run scheme "$Q" fetch "file:///etc/passwd"; rc_is 1; err_has "only http and https"
run bomb "$Q" fetch "$B/bomb"; rc_is 1; err_has "larger than 10485760 bytes after decoding"
run huge "$Q" fetch "$B/huge"; rc_is 1; err_has "raise --max-bytes"
run chunked "$Q" fetch "$B/chunked"; rc_is 1; err_has "larger than"
run huge-allowed "$Q" fetch --max-bytes 30M -f json "$B/huge"; rc_is 0; out_has '"bytes":20971520'
run stall "$Q" fetch --timeout 2s "$B/stall"; rc_is 1; err_has "timed out"
run truncated "$Q" fetch "$B/truncated"; rc_is 1; err_has "transfer failed"
run http-500 "$Q" fetch "$B/500"; rc_is 1; err_has "HTTP 500"
run image "$Q" fetch "$B/image.png"; rc_is 1; err_has "unsupported content type image/png"
run binary "$Q" fetch "$B/binary"; rc_is 1; err_has "unsupported"
run empty "$Q" fetch "$B/empty"; rc_is 1; err_has "no readable content"
run deep "$Q" fetch "$B/deep"; rc_is 0; out_has "deep text"
run refused "$Q" fetch "http://127.0.0.1:1/"; rc_is 1; err_has "cannot connect"
run tls "$Q" fetch --timeout 5s "https://127.0.0.1:$PORT/"; rc_is 1; err_has "TLS"
run dns "$Q" fetch --timeout 5s "http://no-such-host.invalid/"; rc_is 1; err_has "resolve"
run json-error "$Q" fetch -f json "$B/500"; rc_is 1; out_has '"error":"HTTP error"'
run pdf-hang env PATH="$PWD/tests/fakebin:$PATH" "$Q" fetch --timeout 2s "$B/doc.pdf"; rc_is 1; err_has "pdftotext took too long"

# ---- fetch: robots.txt ----
run robots-deny "$Q" fetch "$B/private/secret.html"; rc_is 1; err_has "robots.txt"; err_has "--ignore-robots"
run robots-ignore "$Q" fetch --ignore-robots "$B/private/secret.html"; rc_is 0; out_has "listed in robots.txt"
run robots-allow "$Q" fetch "$B/private/open.html"; rc_is 0

# ---- the local corpus: quarry index and quarry search ----
H="$TMP/home"
C="$TMP/corpus"
mkdir -p "$C/sub/deeper" "$C/.hidden"
cp sample/pages/*.html "$C/"
cp "$TMP/fx/sample.pdf" "$TMP/fx/sample.docx" "$C/sub/"
cp "$TMP/fx/gbk-nolabel.html" "$C/sub/deeper/gbk.html"
printf '# Field notes\n\nThe quarterly revenue figures were discussed at length.\n' >"$C/notes.md"
printf 'Plain text about telescopes and lenses.\n' >"$C/sub/plain.txt"
printf 'secret hidden text\n' >"$C/.hidden/secret.md"
cp "$TMP/fx/binary.bin" "$C/sub/program.bin"
ln -s .. "$C/sub/loop"
run index-add "$Q" index add --home "$H" "$C"
rc_is 0; out_has "added 8,"; out_has "skipped 1"
run index-ls "$Q" index ls --home "$H"
rc_is 0; out_has "article.html"; out_has "sample.docx"; out_has "gbk.html"; out_lacks "secret"; out_lacks "loop"
run index-stats "$Q" index stats --home "$H"; rc_is 0; out_has "documents   8"
run index-again "$Q" index add --home "$H" "$C"; rc_is 0; out_has "added 0, updated 0, unchanged 8"
sleep 1
printf '# Field notes\n\nThe meeting moved to the observatory instead.\n' >"$C/notes.md"
rm "$C/sub/plain.txt"
touch "$C/forum.html"
run index-incremental "$Q" index add --home "$H" "$C"
rc_is 0; out_has "updated 1, unchanged 6, removed 1"
run search-updated "$Q" search --home "$H" observatory; rc_is 0; out_has "notes.md"
run search-old-gone "$Q" search --home "$H" quarterly revenue; out_lacks "notes.md"
run search-vanished "$Q" search --home "$H" telescopes; out_lacks "plain.txt"
run search-phrase "$Q" search --home "$H" '"switched off"'; rc_is 0; out_has "article.html"
run search-exclude "$Q" search --home "$H" 'selective -2007'; rc_is 0; out_has "article.html"; out_lacks "forum.html"
run search-stem "$Q" search --home "$H" degrade; rc_is 0; out_has "article.html"
# Passages with every word come before those with some: only the forum
# post says both "selective" and "hardware".
run search-all-words-first "$Q" search --home "$H" --json -k 3 selective hardware
rc_is 0
NAME=search-all-words-first; if head -1 "$TMP/out" | grep -q forum.html; then ok; else bad "forum.html not first"; fi
out_has "article.html"
run search-zh-2 "$Q" search --home "$H" 精度; rc_is 0; out_has "zh-article.html"; out_has "gbk.html"
run search-zh-1 "$Q" search --home "$H" 降; rc_is 0; out_has "zh-article.html"
run search-docx "$Q" search --home "$H" revenue; rc_is 0; out_has "sample.docx"
run search-pdf "$Q" search --home "$H" pdftotext; rc_is 0; out_has "sample.pdf"
run search-json "$Q" search --home "$H" --json -k 2 selective
rc_is 0; out_has '"rank":1'; out_has '"heading":'; out_has '"start":'; out_has '"char_start":'
# In Chinese text byte and character offsets differ (3 bytes a character).
run search-char-offsets "$Q" search --home "$H" --json -k 1 对开放技术的启示
NAME=search-char-offsets
END_B=$(sed -n 's/.*"end":\([0-9]*\),.*/\1/p' "$TMP/out")
END_C=$(sed -n 's/.*"char_end":\([0-9]*\).*/\1/p' "$TMP/out")
if [ -n "$END_B" ] && [ -n "$END_C" ] && [ "$END_C" -gt 0 ] && [ "$END_C" -lt "$END_B" ]; then ok
else bad "char_end ($END_C) should be below the byte end ($END_B) in Chinese text"; fi
run search-only-not "$Q" search --home "$H" -- -gps; rc_is 1; err_has "only exclusions"
run search-syntax "$Q" search --home "$H" 'AND OR NOT ( ) * ^ : "'; rc_is 0
run index-rm "$Q" index rm --home "$H" "$C/sub"; rc_is 0; out_has "removed 3 documents"
run index-check "$Q" index check --home "$H"; rc_is 0; out_has "ok"
run index-rebuild "$Q" index rebuild --home "$H"; rc_is 0; out_has "rebuilt the full-text index"
run search-after-rebuild "$Q" search --home "$H" observatory; rc_is 0; out_has "notes.md"
run index-bad-action "$Q" index frob --home "$H"; rc_is 2; err_has "unknown action"
mkdir -p "$TMP/badhome"
head -c 8192 /dev/urandom >"$TMP/badhome/quarry.db"
run index-corrupt "$Q" index stats --home "$TMP/badhome"; rc_is 1; err_has "quarry index check"; err_has "rebuild"
run index-env-home env QUARRY_HOME="$H" "$Q" index ls; rc_is 0; out_has "notes.md"
# A 2 GB file (sparse: no disk used) is skipped with a reason, not read.
truncate -s 2G "$C/huge.txt"
run index-2gb "$Q" index add --verbose --home "$H" "$C/huge.txt"; rc_is 0; out_has "skipped 1"; err_has "too large"
rm -f "$C/huge.txt"
# Searching while an index run writes (SQLite WAL): both succeed.
mkdir -p "$TMP/many"
i=0
while [ $i -lt 150 ]; do
	cp sample/pages/article.html "$TMP/many/a$i.html"
	printf 'Copy %d of a page about lighthouses and harbours.\n' "$i" >"$TMP/many/n$i.md"
	i=$((i + 1))
done
"$Q" index add --home "$H" "$TMP/many" >"$TMP/bg.out" 2>&1 &
BG=$!
run search-during-index "$Q" search --home "$H" observatory; rc_is 0; out_has "notes.md"
wait $BG
NAME=index-concurrent; if grep -q "added 300" "$TMP/bg.out"; then ok; else bad "background index run: $(cat "$TMP/bg.out")"; fi

# Permission denied: as an unprivileged user (tests usually run as root,
# who can read anything). Skipped where that cannot be arranged.
SKIP=0
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups "$Q" --version >/dev/null 2>&1; then
	P="$TMP/perm"
	mkdir -p "$P/docs" "$P/home"
	printf 'readable notes about comets\n' >"$P/docs/ok.md"
	printf 'locked notes\n' >"$P/docs/locked.md"
	chmod 000 "$P/docs/locked.md"
	chmod 777 "$P" "$P/home" "$TMP"
	run index-permission setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$Q" index add --home "$P/home" "$P/docs"
	rc_is 1; out_has "added 1"; out_has "failed 1"; err_has "Permission denied"
else
	SKIP=$((SKIP + 1)); echo "skip: index-permission (cannot run as an unprivileged user here)"
fi
# A full disk: the home on a 1 MB tmpfs. The batch fails whole, the error
# says so, and what was indexed before is intact. Skipped without mount.
F="$TMP/full"
mkdir -p "$F"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m tmpfs "$F" 2>/dev/null; then
	mkdir -p "$TMP/small" "$TMP/big"
	cp sample/pages/article.html "$TMP/small/"
	i=0
	while [ $i -lt 60 ]; do
		head -c 30000 /dev/urandom | base64 -w 80 | sed 's/^/word /' >"$TMP/big/f$i.txt"
		i=$((i + 1))
	done
	run disk-first "$Q" index add --home "$F" "$TMP/small"; rc_is 0; out_has "added 1"
	run disk-full "$Q" index add --home "$F" "$TMP/big"; rc_is 1; err_has "disk is full"
	run disk-intact "$Q" search --home "$F" selective; rc_is 0; out_has "article.html"
	run disk-check "$Q" index check --home "$F"; rc_is 0; out_has "ok"
	umount "$F"
else
	SKIP=$((SKIP + 1)); echo "skip: disk-full tests (cannot mount a tmpfs here)"
fi

# ---- the model: ask, models, doctor against tests/fakellm ----
cat >"$TMP/llm.json" <<'EOS'
[
 {"match":"reasoner", "reasoning":"Step one: recall 2000.", "content":"It was switched off in May 2000.", "chunk":2},
 {"match":"thinktag", "content":"<think>private thoughts</think>\n\nVisible answer.", "chunk":1},
 {"match":"storm", "times":1, "status":429, "headers":"Retry-After: 1\r\n"},
 {"match":"storm", "content":"after the storm"},
 {"match":"badkey", "status":401, "body":"{\"error\":{\"message\":\"Incorrect API key provided: sk-blackbox-secret\"}}"},
 {"match":"jsonplease", "content":"Sure! ```json\n{'answer': 42,}\n```"},
 {"match":"Reply with the single word", "content":"ok"},
 {"content":"Hello from the fake model. 你好。"}
]
EOS
"$BUILD/fakellm" "$TMP/llmport" "$TMP/llm.json" "$TMP/llm.log" &
FAKELLM_PID=$!
i=0
while [ ! -s "$TMP/llmport" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
L="http://127.0.0.1:$(cat "$TMP/llmport")/v1"
H="$TMP/llmhome"
unset QUARRY_LLM_PROVIDER QUARRY_LLM_MODEL OPENAI_API_KEY OPENAI_BASE_URL QUARRY_LLM_API_KEY
run ask-no-model env -u QUARRY_LLM_BASE_URL HOME="$TMP" "$Q" ask --no-search --home "$H" hi
rc_is 1; err_has "no model configured: set QUARRY_LLM_BASE_URL or use --provider (see quarry help models)"
run ask-nothing-to-search env -u QUARRY_SEARXNG_URL "$Q" ask --home "$TMP/emptyhome" hi
rc_is 1; err_has "no web search configured"; err_has "the corpus is empty: add files with 'quarry index add DIR'"
run ask-no-question "$Q" ask --no-search; rc_is 2; err_has "no question"
run ask-plain env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m QUARRY_LLM_API_KEY=sk-blackbox-secret \
	"$Q" ask --no-search --home "$H" -v hello
rc_is 0; out_has "Hello from the fake model. 你好。"; err_has "100 prompt (40 cached) + 20 completion tokens"
if grep -qF "Bearer sk-blackbox-secret" "$TMP/llm.log"; then ok; else bad "key not sent in the header"; fi
run ask-reasoning-hidden env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m "$Q" ask --no-search --home "$H" reasoner
rc_is 0; out_has "It was switched off in May 2000."; out_lacks "Step one"
run ask-reasoning-shown env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m "$Q" ask --no-search --no-cache --show-reasoning --home "$H" reasoner
rc_is 0; err_has "Step one: recall 2000."; out_lacks "Step one"
if command -v script >/dev/null 2>&1; then
	run ask-tty env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m script -qec \
		"$Q ask --no-search --no-cache --home $H reasoner" /dev/null
	rc_is 0; out_has "$(printf '\033[2mStep one: recall 2000.')"; out_has "It was switched off"
	run ask-tty-hidden env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m script -qec \
		"$Q ask --no-search --no-cache --hide-reasoning --home $H reasoner" /dev/null
	rc_is 0; out_lacks "Step one"
else
	SKIP=$((SKIP + 1)); echo "skip: ask-tty (no script command)"
fi
run ask-think env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m "$Q" ask --no-search --home "$H" thinktag
rc_is 0; out_has "Visible answer."; out_lacks "private thoughts"; out_lacks "think>"
if [ "$(head -c 7 "$TMP/out")" = "Visible" ]; then ok; else bad "answer does not start at once"; fi
run ask-429 env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m "$Q" ask --no-search --home "$H" storm
rc_is 0; out_has "after the storm"; err_has "answered 429"; err_has "retrying in 1.0 s"
run ask-401 env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m QUARRY_LLM_API_KEY=sk-blackbox-secret \
	"$Q" ask --no-search --home "$H" badkey
rc_is 1; err_has "refused the API key"; err_has "check QUARRY_LLM_API_KEY"
if grep -qF "sk-blackbox-secret" "$TMP/err" "$TMP/out"; then bad "key printed"; else ok; fi
N=$(grep -c badkey "$TMP/llm.log"); [ "$N" -eq 1 ] && ok || bad "401 was retried ($N requests)"
run ask-json env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m "$Q" ask --no-search --json --home "$H" jsonplease
rc_is 0; out_has '"answer": 42'
# The cache: asking again sends nothing.
N1=$(wc -l <"$TMP/llm.log")
run ask-cached env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m "$Q" ask --no-search -v --home "$H" hello
rc_is 0; out_has "Hello from the fake model."; err_has "from the cache"
N2=$(wc -l <"$TMP/llm.log"); [ "$N1" -eq "$N2" ] && ok || bad "cached ask made a request"
if grep -qaF "sk-blackbox-secret" "$H"/quarry.db*; then bad "key stored in the database"; else ok; fi
run ask-down env QUARRY_LLM_BASE_URL=http://127.0.0.1:9/v1 QUARRY_LLM_MODEL=m "$Q" ask --no-search --no-cache --home "$H" hi
rc_is 1; err_has "cannot connect to the model server"
run ask-bad-provider "$Q" ask --no-search --provider nope hi; rc_is 2; err_has "unknown provider 'nope'"
run ask-missing-key env -u DEEPSEEK_API_KEY "$Q" ask --no-search --provider deepseek hi
rc_is 1; err_has "set DEEPSEEK_API_KEY"
run models env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m DEEPSEEK_API_KEY=sk-blackbox-secret "$Q" models
rc_is 0; out_has "deepseek"; out_has "DEEPSEEK_API_KEY (set)"; out_has "model          m"; out_lacks "sk-blackbox-secret"
run models-json env DEEPSEEK_API_KEY=x "$Q" models --json --provider deepseek
rc_is 0; out_has '"provider":"deepseek"'; out_has '"base_url":"https://api.deepseek.com/v1"'
printf 'provider = qwen\nmodel = qwen-max\nprice.qwen-max = 1.6,6.4\n' >"$TMP/cfg"
run models-config env DASHSCOPE_API_KEY=x "$Q" models --config "$TMP/cfg"
rc_is 0; out_has "qwen-max: \$1.6 in"
printf 'provider qwen\n' >"$TMP/badcfg"
run models-badconfig "$Q" models --config "$TMP/badcfg"; rc_is 1; err_has "line 1: expected 'key = value'"
run doctor env QUARRY_LLM_BASE_URL="$L" QUARRY_LLM_MODEL=m "$Q" doctor --home "$H"
rc_is 1; out_has "ok       reply"; out_has "research has nothing to read"   # no search, empty corpus
run doctor-bad env QUARRY_LLM_BASE_URL=http://127.0.0.1:9/v1 QUARRY_LLM_MODEL=m "$Q" doctor --home "$H"
rc_is 1; out_has "PROBLEM  reply"; out_has "cannot connect"
kill "$FAKELLM_PID" 2>/dev/null

# ---- research: against the fake site, a SearXNG-style API and scripted models ----
LLM_PIDS=
# start_llm NAME JSON: a fake model with these rules; sets LU to its base URL.
start_llm() {
	printf '%s\n' "$2" >"$TMP/$1.json"
	rm -f "$TMP/$1.port" "$TMP/$1.log"
	"$BUILD/fakellm" "$TMP/$1.port" "$TMP/$1.json" "$TMP/$1.log" &
	LLM_PIDS="$LLM_PIDS $!"
	i=0
	while [ ! -s "$TMP/$1.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	LU="http://127.0.0.1:$(cat "$TMP/$1.port")/v1"
}
RQ="Why did the US switch off GPS Selective Availability?"
export QUARRY_SEARXNG_URL="$B"
RH="$TMP/rhome"
R="$Q research --home $RH --allow-private --sources web"

start_llm auto '[{"auto":"research"}]'
AUTO=$LU
run research-full env QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m QUARRY_LLM_API_KEY=sk-research-secret \
	$R --events "$TMP/ev.jsonl" -f json -o "$TMP/report.json" "$RQ"
rc_is 0; err_has "report written to"
if grep -q '"citations_removed": 1' "$TMP/report.json"; then ok; else bad "bogus citation not removed"; fi
if grep -q '"unsupported_sentences": 2' "$TMP/report.json"; then ok; else bad "unsupported sentences not flagged"; fi
if grep -q '"quotes_dropped": 0' "$TMP/report.json"; then ok; else bad "quotes dropped from an honest model"; fi
if grep -q '"sources_read": 20' "$TMP/report.json"; then ok; else bad "not 20 sources read"; fi
if grep -q '"model_calls_critical_path": 6' "$TMP/report.json"; then ok; else bad "critical path is not plan+note+reflect+note+outline+write"; fi
if grep -q '"type":"source_read"' "$TMP/ev.jsonl" && grep -q '"type":"report"' "$TMP/ev.jsonl"; then ok; else bad "events missing"; fi
if grep -qF "sk-research-secret" "$TMP/report.json" "$TMP/ev.jsonl" "$RH"/quarry.db*; then bad "key leaked"; else ok; fi
# A second run on the same question reads the pages the first one fetched today.
run research-page-cache env QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m $R --events "$TMP/ev4.jsonl" "$RQ"
rc_is 0; out_has "Sources read: 20"
if grep -q '"type":"fetching"' "$TMP/ev4.jsonl"; then bad "pages fetched again"; else ok; fi
run research-md "$Q" runs export 1 --home "$RH"
rc_is 0; out_has "[1]"; out_has "## Sources"; out_has "[unsupported]"; out_lacks "[F"; out_lacks "F999"
out_has "Citations: 4, all pointing at quotes checked in their sources; 1 removed"
# Every cited source is listed, every listed one was read in the run.
for n in $(grep -o '\[[0-9]*\]' "$TMP/out" | sort -u | tr -d '[]'); do
	if grep -q "^\[$n\] Report" "$TMP/out"; then ok; else bad "citation [$n] has no source"; fi
done
run research-html "$Q" runs export 1 --home "$RH" -f html
rc_is 0; out_has "<!DOCTYPE html>"; out_has 'class="cite"'; out_has "&lt;script&gt;alert(1)&lt;/script&gt;"
out_lacks "<script>"
run runs-ls "$Q" runs ls --home "$RH"; rc_is 0; out_has "done"; out_has "Selective Availability"
run runs-show-missing "$Q" runs show 99 --home "$RH"; rc_is 1; err_has "no run 99"

# A small context (a local model): excerpts and findings are cut to fit, the model still writes.
run research-small-context env QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m QUARRY_LLM_CONTEXT=4096 \
	$R --no-cache -f json "$RQ"
rc_is 0; out_has '"mode": "model"'; out_has '"citations_verified": 4'
if grep -q "too long\|context" "$TMP/err"; then bad "context overflow"; else ok; fi

# Reasoning-model output: <think> and code fences around every JSON reply.
start_llm wrap '[{"auto":"research","wrap":true}]'
run research-think env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $R "$RQ"
rc_is 0; out_has "Sources read: 20"; out_lacks "think>"; out_lacks "draft"
# Invalid JSON first, then right after the corrective retry.
start_llm badjson '[{"match":"Plan research","times":1,"content":"{\"sub_questions\": [\"a\"], \"queries\": "},{"auto":"research"}]'
run research-badjson env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $R "$RQ"
rc_is 0; out_has "Sources read: 20"
if grep -q "cannot be used" "$TMP/badjson.log"; then ok; else bad "no corrective retry"; fi

# A model that answers nonsense everywhere: warnings, then the extractive brief; never a crash.
start_llm garbage '[{"match":"Plan research","content":"I cannot help with planning."},{"match":"<source","content":"{\"findings\": [{\"claim\": 3, \"quote\": null}, \"x\"]}"},{"match":"unanswered","content":"[]"},{"content":"A report without any citations at all, which is long enough to be flagged."}]'
run research-garbage-model env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $R -f json "$RQ"
rc_is 0; out_has '"mode": "extractive"'; err_has "note: the model's reply was not the JSON asked for, twice"
err_has "no note was taken because every note call failed"

# A model that invents quotes: they are dropped and counted.
start_llm invent '[{"auto":"research","invent":true}]'
run research-invent env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $R "$RQ"
rc_is 0; out_has "dropped because they were not: 20"; out_lacks "was made up"

# A failing provider does not stop the run; all of them failing does.
run research-provider-fails env QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m \
	QUARRY_BRAVE_API_KEY=k QUARRY_BRAVE_URL=http://127.0.0.1:9/x \
	"$Q" research --home "$RH" --allow-private --sources web --depth 1 "$RQ"
rc_is 0; err_has "search failed: brave"; out_has "Sources read: 20"
# Each provider's API as it is called (keys in their headers), and all four at once.
PROV="QUARRY_BRAVE_URL=$B/brave QUARRY_TAVILY_URL=$B/tavily QUARRY_SERPER_URL=$B/serper"
for p in brave tavily serper; do
	KEYVAR=$(echo "QUARRY_${p}_API_KEY" | tr a-z A-Z)
	run "provider-$p" env $PROV "$KEYVAR=$p-key" QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m \
		"$Q" research --home "$RH" --allow-private --sources $p --depth 1 "$RQ"
	rc_is 0; out_has "Sources read: "; out_lacks "Sources read: 0"
	run "provider-$p-badkey" env $PROV "$KEYVAR=wrong" QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m \
		"$Q" research --home "$RH" --allow-private --sources $p --depth 1 "$RQ"
	rc_is 1; err_has "$p refused the key (401): check $KEYVAR"
done
run providers-all env $PROV QUARRY_BRAVE_API_KEY=brave-key QUARRY_TAVILY_API_KEY=tavily-key \
	QUARRY_SERPER_API_KEY=serper-key QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m \
	"$Q" research --home "$RH" --allow-private --sources web --depth 1 -v "$RQ"
rc_is 0; for p in searxng brave tavily serper; do err_has "provider=$p"; done
run research-all-fail env QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m QUARRY_SEARXNG_URL=http://127.0.0.1:9 \
	$R "$RQ"
rc_is 1; err_has "every search failed"
run research-model-down env QUARRY_LLM_BASE_URL=http://127.0.0.1:9/v1 QUARRY_LLM_MODEL=m $R "$RQ"
rc_is 1; err_has "the model failed: cannot connect to the model server"
run doctor-search env -u QUARRY_LLM_BASE_URL QUARRY_BRAVE_API_KEY=k QUARRY_BRAVE_URL=http://127.0.0.1:9/x \
	"$Q" doctor --home "$RH"
rc_is 1; out_has "ok       search       searxng answered"; out_has "PROBLEM  search       brave:"
out_has "note     model        no model configured"
run research-bad-source "$Q" research --sources gopher "$RQ"; rc_is 2; err_has "unknown source 'gopher'"

# The same gaps coming back end the loop before --depth.
start_llm same '[{"auto":"research","same_gaps":true}]'
run research-same-gaps env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $R --depth 6 --max-sources 60 \
	--events "$TMP/ev3.jsonl" "$RQ"
rc_is 0
if grep -q '"same_gaps":true' "$TMP/ev3.jsonl"; then ok; else bad "same gaps not noticed"; fi
N=$(grep -c '"type":"reflect"' "$TMP/ev3.jsonl"); [ "$N" -eq 2 ] && ok || bad "$N reflections, expected 2"

# Budgets: tokens, money, time. The run stops, still writes a report, says so.
run budget-tokens env QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m $R --no-cache --budget-tokens 400 "$RQ"
rc_is 0; err_has "stopped early (the token budget (400) is spent"; out_has "stopped early: the token budget"
out_has "## Sources"
run budget-usd env QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m QUARRY_LLM_PRICE=1000,1000 $R --no-cache --budget-usd 0.25 "$RQ"
rc_is 0; err_has "the money budget"; out_has "stopped early"
start_llm slow '[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":3000},{"auto":"research"}]'
SLOW=$LU
T0=$(date +%s)
run budget-time env QUARRY_LLM_BASE_URL="$SLOW" QUARRY_LLM_MODEL=m $R --time-limit 1500ms "$RQ"
T1=$(date +%s)
rc_is 0; err_has "time limit"; out_has "## Sources"
[ $((T1 - T0)) -le 4 ] && ok || bad "time limit overrun: $((T1 - T0)) s"

# kill -9 in the middle, then resume: no model call made twice.
RH2="$TMP/rhome2"
START=$(wc -l <"$TMP/slow.log")
env QUARRY_LLM_BASE_URL="$SLOW" QUARRY_LLM_MODEL=m QUARRY_LLM_MAX_CONCURRENT=1 \
	$Q research --home "$RH2" --allow-private --sources web --depth 1 --max-sources 4 "$RQ" >/dev/null 2>&1 &
KPID=$!
sleep 4.5
kill -9 $KPID 2>/dev/null
wait $KPID 2>/dev/null
BEFORE=$(($(wc -l <"$TMP/slow.log") - START))
run resume env QUARRY_LLM_BASE_URL="$SLOW" QUARRY_LLM_MODEL=m QUARRY_LLM_MAX_CONCURRENT=1 \
	"$Q" runs resume 1 --home "$RH2" --allow-private
rc_is 0; out_has "Sources read: 4"
AFTER=$(($(wc -l <"$TMP/slow.log") - START))
# A clean run makes 1 plan + 4 note + 1 write calls = 6; killed + resumed may
# repeat only the one call that was in flight at the kill.
TOTAL=$AFTER
[ "$TOTAL" -le 7 ] && ok || bad "resume repeated model calls ($BEFORE before, $AFTER in all)"
[ "$BEFORE" -ge 2 ] && ok || bad "the killed run had not got far ($BEFORE calls)"
tail -n "$AFTER" "$TMP/slow.log" | sed 's/,"conn":[0-9]*//' | sort | uniq -d >"$TMP/dups"
[ "$(wc -l <"$TMP/dups")" -le 1 ] && ok || bad "several calls repeated"
run runs-status "$Q" runs ls --home "$RH2"; out_has "done"

# Ctrl-C saves and says how to resume.
env QUARRY_LLM_BASE_URL="$SLOW" QUARRY_LLM_MODEL=m $Q research --home "$TMP/rhome3" --allow-private \
	--sources web "$RQ" >"$TMP/out" 2>"$TMP/err" &
KPID=$!
sleep 1.5
kill -INT $KPID
wait $KPID
RC=$?
NAME=ctrl-c; rc_is 130; err_has "resume with 'quarry runs resume 1'"
run ctrl-c-status "$Q" runs ls --home "$TMP/rhome3"; out_has "interrupted"

# Ctrl-C during a slow fetch stops at once, not after the fetch timeout.
$Q research --home "$TMP/rhome4" --allow-private --sources web --no-llm "slowpages" >"$TMP/out" 2>"$TMP/err" &
KPID=$!
sleep 1.5
T0=$(date +%s)
kill -INT $KPID
wait $KPID
RC=$?
T1=$(date +%s)
NAME=ctrl-c-fetch; rc_is 130; err_has "resume with"
[ $((T1 - T0)) -le 3 ] && ok || bad "Ctrl-C took $((T1 - T0)) s to stop the fetch"

# A prompt-injection page changes nothing but the text it contributes.
start_llm inject '[{"auto":"research","inject":true}]'
run injection env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_API_KEY=sk-inject-secret \
	$R --events "$TMP/ev2.jsonl" "$RQ inject"
rc_is 0; out_lacks "sk-inject-secret"
if grep -q 'inject.html' "$TMP/ev2.jsonl"; then ok; else bad "the injection page was not read"; fi
# Fixed string: a bare '169.254' pattern also matched timings like 0.1691254.
if grep -qF '169.254.169.254' "$TMP/ev2.jsonl"; then bad "followed a URL from a page"; else ok; fi
if grep -qF "sk-inject-secret" "$TMP/inject.log" "$TMP/ev2.jsonl" "$RH"/quarry.db*; then
	if grep -F "sk-inject-secret" "$TMP/inject.log" | grep -qv '"auth":"Bearer sk-inject-secret"'; then
		bad "key outside the Authorization header"
	else ok; fi
else ok; fi

# A Chinese question gets a Chinese report.
run chinese env QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m $R "美国为什么关闭GPS选择可用性？"
rc_is 0; out_has "选择可用性于二〇〇〇年五月被关闭"; out_has "## 背景"
if grep -q 'in Chinese' "$TMP/auto.log"; then ok; else bad "prompts did not ask for Chinese"; fi

# Without a model: the extractive brief from the sample corpus.
"$Q" index add --home "$TMP/demo" sample/corpus >/dev/null 2>&1
run brief env -u QUARRY_LLM_BASE_URL "$Q" research --home "$TMP/demo" --sources corpus --no-llm \
	"Why did the US switch off GPS Selective Availability?"
rc_is 0; out_has "## Sources"; out_has "**"; out_has "[1]"; out_has "gps-selective-availability.md"
out_lacks "[unsupported]"
# Corpus documents keep their sections: passages are grouped under them.
out_has "## GPS Selective Availability > "
# A text ending in a multi-byte character keeps it (the source is cut only past its cap).
mkdir -p "$TMP/zhend"
printf '# 测试\n\n全球定位系统的选择可用性于二〇〇〇年五月被美国政府关闭，民用精度提高到约二十米。\n' >"$TMP/zhend/a.md"
"$Q" index add --home "$TMP/zhhome" "$TMP/zhend" >/dev/null 2>&1
run brief-zh-end "$Q" research --home "$TMP/zhhome" --sources corpus --no-llm 选择可用性
rc_is 0; out_has "民用精度提高到约二十米。**"

# A file name that is not UTF-8 still yields a cited source (shown with U+FFFD).
mkdir -p "$TMP/u8"
cp sample/corpus/gps-civil-use.md "$TMP/u8/$(printf 'bad\377name.md')"
"$Q" index add --home "$TMP/u8home" "$TMP/u8" >/dev/null 2>&1
run brief-bad-filename "$Q" research --home "$TMP/u8home" --sources corpus --no-llm -f json "GPS civilian use"
rc_is 0; out_has '"sources_read": 1'; out_has "$(printf 'bad\357\277\275name.md')"; out_utf8
run ask-search env QUARRY_LLM_BASE_URL="$AUTO" QUARRY_LLM_MODEL=m "$Q" ask --home "$RH" --allow-private \
	--sources web "$RQ"
rc_is 0; out_has "Sources read: 6"; out_has "[1]"
for p in $LLM_PIDS; do kill "$p" 2>/dev/null; done
LLM_PIDS=

# Further cases, one file per area (tests/bb/AREA.sh), run in this shell so
# they share run/ok/bad, start_llm, $Q, $B and the fake web site. Each file
# makes its own homes under $TMP and starts its own fake models.
for f in tests/bb/*.sh; do
	[ -f "$f" ] || continue
	. "./$f"
done
for p in $LLM_PIDS; do kill "$p" 2>/dev/null; done

echo "blackbox: $PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" -eq 0 ]
