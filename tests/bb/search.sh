# Black-box: corpus search (src/index/corpus_search.c, tokenize.c, rank.c).
# Sourced by tests/blackbox.sh; makes its own homes under $TMP.

SQH="$TMP/searchq-home"
"$Q" index add --home "$SQH" sample/corpus >/dev/null 2>&1

# An unspaced Chinese question is split into bigram terms ranked by BM25:
# it finds the passage that answers it, though no document holds it verbatim.
run search-zh-question "$Q" search --home "$SQH" 美国关闭GPS选择可用性原因
rc_is 0; out_has "gps-zh.md"
run brief-zh-question env -u QUARRY_LLM_BASE_URL "$Q" research --home "$SQH" --sources corpus \
	--no-llm "美国关闭GPS选择可用性原因"
rc_is 0; out_has "gps-zh.md"; out_has "[1]"
# Quoted, the same text is one phrase again: nothing holds it.
run search-zh-quoted "$Q" search --home "$SQH" '"美国关闭GPS选择可用性原因"'
out_lacks "gps-zh.md"
# A quoted phrase that is there is still found.
run search-zh-phrase "$Q" search --home "$SQH" '"故意降级"'
rc_is 0; out_has "gps-zh.md"

# Near-duplicate documents (the same file under two names, one line
# changed) are one source in the brief; a different document stays.
mkdir -p "$TMP/sq-dup"
cp sample/corpus/gps-selective-availability.md "$TMP/sq-dup/pkg-a.md"
sed 's/Military receivers with the keys removed the error and kept full accuracy./Military receivers, as the gps-notes-extra package explains, kept full accuracy./' \
	sample/corpus/gps-selective-availability.md >"$TMP/sq-dup/pkg-b.md"
cmp -s "$TMP/sq-dup/pkg-a.md" "$TMP/sq-dup/pkg-b.md" && bad "near-duplicate fixture is an exact copy"
cp sample/corpus/gps-civil-use.md "$TMP/sq-dup/"
"$Q" index add --home "$TMP/sq-duph" "$TMP/sq-dup" >/dev/null 2>&1
run brief-near-duplicates env -u QUARRY_LLM_BASE_URL "$Q" research --home "$TMP/sq-duph" \
	--sources corpus --no-llm -f json "Why was GPS Selective Availability switched off?"
rc_is 0; out_has "pkg-a.md"; out_lacks "pkg-b.md"
run brief-near-duplicates-md env -u QUARRY_LLM_BASE_URL "$Q" research --home "$TMP/sq-duph" \
	--sources corpus --no-llm "Why was GPS Selective Availability switched off?"
rc_is 0
if [ "$(grep -c 'pkg-[ab]\.md' "$TMP/out")" -ge 1 ] && ! grep -q 'pkg-b\.md' "$TMP/out"; then ok
else bad "near-duplicate cited twice or not at all"; fi
