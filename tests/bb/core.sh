# Black-box cases for the core made for many runs: the thread pool,
# extraction off the fetch loop, short SQLite writes, streamed reports.

# A slow PDF does not hold up the other downloads: extraction runs on the
# pool, not on the fetch loop's thread. The fake pdftotext takes 4 s and
# notes when it ends; every planned query finds the PDF first, twenty
# pages are read and eight fetched at once, so before the change the
# pages after the first eight were not even asked for until pdftotext had
# finished (4 s later).
mkdir -p "$TMP/core-slowpdf"
cat >"$TMP/core-slowpdf/pdftotext" <<EOS
#!/bin/sh
sleep 4
date +%s%3N >"$TMP/core-pdf-end"
echo "Quarry reads PDF files through pdftotext, slowly, in this test of the fetch loop."
EOS
chmod +x "$TMP/core-slowpdf/pdftotext"
rm -f "$TMP/core-pdf-end"
start_llm core1 '[{"auto":"research"}]'
core_t0=$(date +%s%3N)
run core-slow-pdf env PATH="$TMP/core-slowpdf:$PATH" QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m \
	"$Q" research --home "$TMP/core-h1" --allow-private --sources web --depth 1 --max-sources 20 \
	"zzpdfpage selective availability receivers accuracy"
rc_is 0
NAME=core-slow-pdf-fetches-flow
curl -s "$B/requests-since/$core_t0" | grep ' /site/' >"$TMP/core-site-reqs"
core_pdf_end=$(cat "$TMP/core-pdf-end" 2>/dev/null || echo 0)
core_n=$(wc -l <"$TMP/core-site-reqs")
core_late=$(awk -v end="$core_pdf_end" '$1 >= end' "$TMP/core-site-reqs" | wc -l)
if [ "$core_pdf_end" -gt 0 ] && [ "$core_n" -ge 12 ] && [ "$core_late" -eq 0 ]; then ok
else bad "pages asked for after the slow PDF's extraction ended: $core_late of $core_n"; fi
