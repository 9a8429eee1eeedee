# Black-box cases for the fetcher (src/net) and the PDF reader: hostile
# bodies, header floods, the address policy and the page cache, kill -9.

# A gzip file served as text/html (no Content-Encoding) is inflated under
# --max-bytes: 60 KB on the wire, 60 MB inside; before, 5.8 GB of memory.
run net-gzip-body timeout 20 "$Q" fetch "$B/gzip-as-html"
rc_is 1; err_has "larger than 10485760 bytes after decoding"; err_has "raise --max-bytes"
run net-gzip-page "$Q" fetch "$B/gzip-page-as-html"; rc_is 0; out_has "gzipped whole and served"
# Endless headers, before the body or as trailers after the last chunk,
# stop at the header cap at once (before: 2.2 GB in 20 s, then the timeout).
run net-header-flood timeout 20 "$Q" fetch "$B/header-flood"
rc_is 1; err_has "more than 262144 bytes of headers"
run net-trailer-flood timeout 20 "$Q" fetch "$B/trailer-flood"
rc_is 1; err_has "more than 262144 bytes of headers"
# Trailers that trickle in under the cap still end at the total timeout.
T0=$(date +%s)
run net-trailer-drip timeout 20 "$Q" fetch --timeout 2s "$B/trailer-drip"
rc_is 1; err_has "timed out"
[ $(($(date +%s) - T0)) -le 6 ] && ok || bad "the timeout did not stop a trailer drip"

# Pages read under --allow-private (the fake site is on 127.0.0.1) stay
# out of runs without it: those fetch again and meet the address policy,
# instead of reading the private pages from the page cache.
NH="$TMP/net-rhome"
run net-cache-private env -u QUARRY_ALLOW_PRIVATE "$Q" research --home "$NH" --allow-private --sources web \
	--no-llm --max-sources 4 --events "$TMP/net-ev1.jsonl" "GPS selective availability"
rc_is 0
if [ "$(grep -c '"type":"source_read"' "$TMP/net-ev1.jsonl")" -eq 4 ]; then ok; else bad "4 private pages not read"; fi
run net-cache-public env -u QUARRY_ALLOW_PRIVATE "$Q" research --home "$NH" --sources web \
	--no-llm --max-sources 4 --events "$TMP/net-ev2.jsonl" "GPS selective availability"
if grep -q '"type":"source_read"' "$TMP/net-ev2.jsonl"; then bad "a private page came from the cache"; else ok; fi
if grep -q '"type":"source_failed".*loopback address\|loopback address.*"type":"source_failed"' "$TMP/net-ev2.jsonl"; then ok; else bad "the policy was not applied"; fi
# A run that allows private addresses again still reads them from the cache.
run net-cache-private-again env -u QUARRY_ALLOW_PRIVATE "$Q" research --home "$NH" --allow-private --sources web \
	--no-llm --max-sources 4 --events "$TMP/net-ev3.jsonl" "GPS selective availability"
rc_is 0
if grep -q '"type":"fetching"' "$TMP/net-ev3.jsonl"; then bad "cached private pages fetched again"; else ok; fi

# kill -9 during a slow PDF conversion leaves no copy of the PDF in
# $TMPDIR and no pdftotext behind (it dies with quarry).
mkdir -p "$TMP/net-bin" "$TMP/net-tmp"
cat >"$TMP/net-bin/pdftotext" <<EOS
#!/bin/sh
# Records its pid and whether it could read the PDF, then hangs.
head -c 5 "\$4" >"$TMP/net-pdf.head"
echo \$\$ >"$TMP/net-pdf.pid"
exec sleep 60
EOS
chmod +x "$TMP/net-bin/pdftotext"
net_alive() { [ -d "/proc/$1" ] && ! grep -q ') Z' "/proc/$1/stat" 2>/dev/null; }
env PATH="$TMP/net-bin:$PATH" TMPDIR="$TMP/net-tmp" "$Q" extract "$TMP/fx/sample.pdf" >/dev/null 2>&1 &
KPID=$!
i=0
while [ ! -s "$TMP/net-pdf.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
NAME=net-pdf-kill9; : >"$TMP/out"; : >"$TMP/err"
if [ -s "$TMP/net-pdf.pid" ]; then ok; else bad "the fake pdftotext did not start"; fi
if [ "$(cat "$TMP/net-pdf.head" 2>/dev/null)" = "%PDF-" ]; then ok; else bad "pdftotext could not read the PDF"; fi
kill -9 $KPID 2>/dev/null
wait $KPID 2>/dev/null
PPID_PDF=$(cat "$TMP/net-pdf.pid" 2>/dev/null)
i=0
while [ -n "$PPID_PDF" ] && net_alive "$PPID_PDF" && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done
if [ -n "$PPID_PDF" ] && net_alive "$PPID_PDF"; then bad "pdftotext outlived quarry"; kill -9 "$PPID_PDF"; else ok; fi
if [ -z "$(ls -A "$TMP/net-tmp")" ]; then ok; else bad "left in TMPDIR: $(ls "$TMP/net-tmp")"; fi
