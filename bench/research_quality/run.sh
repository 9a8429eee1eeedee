#!/bin/sh
# The research-quality benchmark (docs/BENCHMARKS.md, "Research quality").
#
# With the fake model (default; what CI can run): the fixture site of
# site.sh behind tests/fakeweb's /rq/search, the scripted model of
# tests/fakellm (replies made from the prompts, tokens counted at 4 bytes,
# MODEL_DELAY_MS per call), one run of the table question, and the
# figures per run: share of each page the note model saw, findings per
# source, findings and tokens that reached the writer, report words,
# model calls on the critical path, wall time and cost at DeepSeek's
# prices (QUARRY_LLM_PRICE, default 0.28,0.42,0.028 USD per million).
#
# With a real model (REAL=1 and the usual QUARRY_LLM_* or --provider
# settings in the environment): every question of questions.txt is
# researched on the fixture site and the model judges each report against
# the question's rubric items (rubric.txt), one yes/no per item; the
# script prints a table per question and the total.
#
# usage: sh bench/research_quality/run.sh [MODEL_DELAY_MS]     (after `make`)
set -eu
BUILD=${BUILD:-build}
HERE=$(dirname "$0")
DELAY=${1:-0}
TMP=$(mktemp -d)
LPID=
trap 'kill $WPID $LPID 2>/dev/null; [ -n "${KEEP:-}" ] && cp -r "$TMP" "$KEEP"; rm -rf "$TMP"' EXIT INT TERM
sh "$HERE/site.sh" "$TMP/site"
"$BUILD/fakeweb" "$TMP/wport" "$TMP/site" & WPID=$!
if [ "${REAL:-0}" != 1 ]; then
	echo "[{\"auto\":\"research\",\"rich\":true,\"usage\":\"count\",\"fault\":\"slow_start\",\"delay_ms\":$DELAY}]" >"$TMP/llm.json"
	"$BUILD/fakellm" "$TMP/lport" "$TMP/llm.json" "$TMP/llm.log" & LPID=$!
	while [ ! -s "$TMP/lport" ]; do sleep 0.1; done
	export QUARRY_LLM_BASE_URL="http://127.0.0.1:$(cat "$TMP/lport")/v1" QUARRY_LLM_MODEL=fake
	export QUARRY_LLM_CONTEXT=${QUARRY_LLM_CONTEXT:-65536} QUARRY_LLM_MAX_CONCURRENT=16
	export QUARRY_LLM_PRICE=${QUARRY_LLM_PRICE:-0.28,0.42,0.028}
fi
while [ ! -s "$TMP/wport" ]; do sleep 0.1; done
export QUARRY_SEARXNG_URL="http://127.0.0.1:$(cat "$TMP/wport")/rq"
unset QUARRY_BRAVE_API_KEY QUARRY_TAVILY_API_KEY QUARRY_SERPER_API_KEY

num() { grep -o "\"$1\": [0-9.e+-]*" "$2" | head -1 | sed 's/.*: //'; }

# research ID QUESTION: the JSON report in $TMP/ID.json, Markdown in $TMP/ID.md
# (each in its own home, so its run is run 1).
research() {
	t0=$(date +%s%N)
	"$BUILD/quarry" research --home "$TMP/home-$1" --allow-private --sources web --no-cache \
		${LENGTH:+--length "$LENGTH"} -f json -o "$TMP/$1.json" "$2" 2>"$TMP/$1.err" || {
		echo "research failed for $1:"; cat "$TMP/$1.err"; exit 1; }
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 )) >"$TMP/$1.ms"
	"$BUILD/quarry" runs export 1 --home "$TMP/home-$1" -f md -o "$TMP/$1.md"
}

if [ "${REAL:-0}" != 1 ]; then
	Q=$(sed -n 's/^tariffs|//p' "$HERE/questions.txt")
	research tariffs "$Q"
	J="$TMP/tariffs.json"
	src=$(num sources_read "$J"); f=$(num findings_kept "$J")
	sb=$(num noted_source_bytes "$J"); eb=$(num noted_excerpt_bytes "$J")
	words=$(sed '/^## Sources/,$d' "$TMP/tariffs.md" | wc -w)
	echo "sources read:                 $src"
	echo "share of a page the note model saw: $(awk "BEGIN {printf \"%.0f%%\", $eb * 100 / ($sb ? $sb : 1)}")"
	echo "findings per source:          $(awk "BEGIN {printf \"%.1f\", $f / ($src ? $src : 1)}") ($f in all)"
	echo "findings reaching the writer: $(num writer_findings "$J")"
	echo "tokens of the write prompt(s): $(num writer_prompt_tokens "$J")"
	echo "report words:                 $words"
	echo "model calls:                  $(num model_calls "$J") ($(num model_calls_critical_path "$J") on the critical path)"
	echo "wall time:                    $(cat "$TMP/tariffs.ms") ms (model delay $DELAY ms)"
	echo "cost at DeepSeek prices:      \$$(num cost_usd "$J") ($(num prompt_tokens "$J") prompt + $(num completion_tokens "$J") completion tokens)"
	echo "table rows in the report:     $(grep -c '^| 2018-' "$TMP/tariffs.md" || true) of 9"
	exit 0
fi

# A real model: research every question, then judge each rubric item.
total=0; passed=0
printf '%-10s %6s %6s\n' question items passed
grep -v '^#' "$HERE/questions.txt" | while IFS='|' read -r id q; do
	research "$id" "$q"
	n=0; ok=0
	grep "^$id|" "$HERE/rubric.txt" >"$TMP/$id.rubric"
	while IFS='|' read -r _ kind item _; do
		n=$((n + 1))
		{
			echo "Judge a research report against one rubric item. Reply with one word, yes or no."
			echo "Rubric item ($kind): $item"
			echo "Question: $q"
			echo "Report:"
			sed '/^## Sources/,$d' "$TMP/$id.md" | head -c 60000
		} >"$TMP/judge.txt"
		verdict=$("$BUILD/quarry" ask --home "$TMP/home-judge" --no-search "$(cat "$TMP/judge.txt")" 2>/dev/null || true)
		case "$verdict" in [Yy]es*|*[!a-z][Yy]es*) ok=$((ok + 1)) ;; esac
	done <"$TMP/$id.rubric"
	printf '%-10s %6d %6d\n' "$id" "$n" "$ok"
	echo "$n $ok" >>"$TMP/totals"
done
awk '{n += $1; ok += $2} END {printf "%-10s %6d %6d (%.0f%%)\n", "total", n, ok, n ? ok * 100 / n : 0}' "$TMP/totals"
