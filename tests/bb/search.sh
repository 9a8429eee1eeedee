# Black-box: corpus search (src/index/search.c, tokenize.c, rank.c).
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
