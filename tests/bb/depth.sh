# Black-box cases of report depth (issue 13): the research-quality fixture
# site (bench/research_quality) behind its own fakeweb, the "rich" fake
# model (tests/fakellm.c), and the data path a real model's report rests
# on: every row of the table page reaches the report's table, each
# sub-question gets a section, the limitations section exists and is not
# tagged, a French question is asked for and labelled in French, every
# call carries max_tokens and today's date, a cut-off reply is continued.
# Sourced by tests/blackbox.sh (run, rc_is, out_has, start_llm, $Q, $TMP).
DQ_SITE="$TMP/dq-site"
sh bench/research_quality/site.sh "$DQ_SITE"
"$BUILD/fakeweb" "$TMP/dq-wport" "$DQ_SITE" &
LLM_PIDS="$LLM_PIDS $!"
i=0
while [ ! -s "$TMP/dq-wport" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
DQ_WEB="http://127.0.0.1:$(cat "$TMP/dq-wport")/rq"
DQ_TODAY=$(date -u +%Y-%m-%d)
DQ_Q=$(sed -n 's/^tariffs|//p' bench/research_quality/questions.txt)
DQ_FR=$(sed -n 's/^fr|//p' bench/research_quality/questions.txt)
start_llm dq-rich '[{"auto":"research","rich":true,"usage":"count"}]'
DQ_LLM=$LU
DQ_LOG="$TMP/dq-rich.log"
dq() {   # dq NAME [OPTIONS] QUESTION: research the fixture site
	n=$1
	shift
	run "$n" env QUARRY_SEARXNG_URL="$DQ_WEB" QUARRY_LLM_BASE_URL="$DQ_LLM" QUARRY_LLM_MODEL=m \
		QUARRY_LLM_CONTEXT=65536 "$Q" research --home "$TMP/dq-home-$n" --allow-private \
		--sources web --no-cache "$@"
}
# Lines of the fake model's log that are chat calls, and those of them with s.
dq_calls() { grep -c '"path":"/v1/chat/completions"' "$1"; }
dq_calls_with() { grep '"path":"/v1/chat/completions"' "$1" | grep -cF -- "$2"; }

: >"$DQ_LOG"
dq dq-table "$DQ_Q"
rc_is 0
# Every row of the 9-row table, each cited, in the report's table.
for d in 2018-01-22 2018-03-01 2018-03-22 2018-04-03 2018-05-31 2018-06-15 2018-07-06 2018-07-10 2018-09-17; do
	if grep -q "^| $d | .*\[[0-9]*\] |$" "$TMP/out"; then ok; else bad "the report's table lacks the cited row of $d"; fi
done
out_has "| Date | Announcement | 10-year change (bp) | 30-year change (bp) |"
# A section per sub-question.
out_has "## What was it?"; out_has "## What followed?"
# The limitations section, written by quarry, never tagged.
out_has "## Limitations and open questions"; out_has "## Suggested follow-up questions"
if sed -n '/^## Limitations/,/^## Sources/p' "$TMP/out" | grep -q "unsupported"; then
	bad "the limitations section is tagged [unsupported]"; else ok; fi
# Sources carry their site and date: published, else the day they were read.
out_has "Treasury yields on the 2018 tariff announcement days (Fixture Markets Desk, 2019-02-14)."
if grep -q "^\[[0-9]*\] Market note .* (127.0.0.1, read $DQ_TODAY)\. http" "$TMP/out" ||
   ! grep -q "^\[[0-9]*\] Market note" "$TMP/out"; then ok; else bad "a source without a date lacks the day it was read"; fi
# max_tokens and today's date on every call; site and date reach the prompts.
c=$(dq_calls "$DQ_LOG")
if [ "$c" -ge 5 ] && [ "$(dq_calls_with "$DQ_LOG" '\"max_tokens\":')" -eq "$c" ]; then ok; else bad "not every one of $c calls carries max_tokens"; fi
if [ "$(dq_calls_with "$DQ_LOG" "Today is $DQ_TODAY.")" -eq "$c" ]; then ok; else bad "not every one of $c prompts carries the date"; fi
if grep -qF 'site=\\\"Fixture Markets Desk\\\" published=\\\"2019-02-14\\\"' "$DQ_LOG"; then ok; else bad "site and date do not reach the prompts"; fi
# Sections written in parallel after an outline made from the findings, then the lead.
if [ "$(dq_calls_with "$DQ_LOG" 'Write the section')" -eq 2 ] && [ "$(dq_calls_with "$DQ_LOG" 'Write the lead')" -eq 1 ] &&
   [ "$(dq_calls_with "$DQ_LOG" 'Group the findings into the sections')" -eq 1 ]; then ok; else bad "not outline, two sections and a lead"; fi
# A large context reads more: 20 pages (all the site has), most of each page.
dq dq-table-json -f json "$DQ_Q"
rc_is 0; out_has '"sources_read": 20'
eb=$(grep -o '"noted_excerpt_bytes": [0-9]*' "$TMP/out" | grep -o '[0-9]*$')
sb=$(grep -o '"noted_source_bytes": [0-9]*' "$TMP/out" | grep -o '[0-9]*$')
if [ "${eb:-0}" -gt 0 ] && [ $((eb * 2)) -gt "${sb:-0}" ]; then ok; else bad "the note model saw under half of the pages ($eb of $sb bytes)"; fi

# A French question: the prompts ask for French, the report's own
# sections are in French, the searches for French.
: >"$DQ_LOG"
dq dq-french "$DQ_FR"
rc_is 0; out_has "## Limites et questions ouvertes"
if [ "$(dq_calls_with "$DQ_LOG" 'French (français)')" -ge 3 ]; then ok; else bad "the prompts do not ask for French"; fi
out_lacks "## Limitations and open questions"

# --length: a usage error for anything else; long asks for a longer reply.
run dq-length-bad "$Q" research --length huge "x y z"
rc_is 2; err_has "--length takes short, standard or long"
: >"$DQ_LOG"
dq dq-length-long --length long "$DQ_Q"
rc_is 0
if [ "$(grep 'Write the section' "$DQ_LOG" | grep 'about 2000 words' | grep -c '\\"max_tokens\\":8192')" -eq 2 ]; then ok; else bad "--length long did not reach the section writers"; fi

# The brief: sections the question prescribes are followed literally.
start_llm dq-brief '[{"match":"Plan research","content":"{\"sub_questions\":[\"When were tariffs announced?\"],\"queries\":[\"tariffs 2018 yields\"],\"outline\":[\"Background\"],\"brief\":{\"answer\":\"How yields moved\",\"sections\":[\"Table of moves\",\"Why yields fell\"],\"tables\":[{\"title\":\"Moves\",\"columns\":[\"Date\",\"10-year change\"]}],\"entities\":[\"Section 301\"],\"time_window\":\"2018\"}}"},{"auto":"research","rich":true}]'
run dq-brief env QUARRY_SEARXNG_URL="$DQ_WEB" QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" research \
	--home "$TMP/dq-home-brief" --allow-private --sources web --no-cache --depth 2 "$DQ_Q"
rc_is 0; out_has "## Table of moves"; out_has "## Why yields fell"
if grep -qF 'in this order: Table of moves; Why yields fell' "$TMP/dq-brief.log"; then ok; else bad "the brief's sections did not reach the writer"; fi
if grep '<source ' "$TMP/dq-brief.log" | grep -qF 'Table: Moves, columns: Date | 10-year change'; then ok; else bad "the brief did not reach the note step"; fi
if grep 'still unanswered' "$TMP/dq-brief.log" | grep -qF 'Section 301: '; then ok; else bad "reflect does not see the entities' coverage"; fi

# A reply cut off at its length limit is continued, and the pieces joined.
start_llm dq-cut '[{"match":"Continue exactly where it stopped","content":"The yields fell on most of those days [F1].\n"},{"match":"<finding id=","times":1,"content":"Tariffs were announced nine times in 2018, and each time the bond market moved [F1]. The yields fell on some of","finish_reason":"length"},{"auto":"research"}]'
run dq-continued env QUARRY_SEARXNG_URL="$DQ_WEB" QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" research \
	--home "$TMP/dq-home-cut" --allow-private --sources web --no-cache --depth 1 "$DQ_Q"
rc_is 0; out_has "Tariffs were announced nine times in 2018, and each time the bond market moved [1]. The yields fell on most of those days [1]."
out_lacks "on some of"
err_lacks_cut() { if grep -qF "cut off at the token limit" "$TMP/err"; then bad "a continued reply is still called cut off"; else ok; fi; }
err_lacks_cut

# --plan-only prints the brief and plan and stores the run; resume goes on
# from it, with an edited plan file too.
run dq-plan-only env QUARRY_SEARXNG_URL="$DQ_WEB" QUARRY_LLM_BASE_URL="$DQ_LLM" QUARRY_LLM_MODEL=m "$Q" research \
	--home "$TMP/dq-home-plan" --allow-private --sources web --no-cache --plan-only "$DQ_Q"
rc_is 0; out_has "# Plan: How did long-term US Treasury yields"; out_has "## Sub-questions"
out_has "1. What was it?"; out_has "## Search queries"; out_has "quarry runs resume 1"
out_lacks "## Sources"
run dq-plan-only-ls "$Q" runs ls --home "$TMP/dq-home-plan"
rc_is 0; out_has "interrupted"   # stored so: resume goes on from the plan
run dq-plan-json env QUARRY_SEARXNG_URL="$DQ_WEB" QUARRY_LLM_BASE_URL="$DQ_LLM" QUARRY_LLM_MODEL=m "$Q" research \
	--home "$TMP/dq-home-plan" --allow-private --sources web --no-cache --plan-only -f json "$DQ_Q"
rc_is 0; out_has '"plan_only": true'; out_has '"queries": ['
printf '{"sub_questions":["Which days did yields fall?"],"queries":["edited query about yields"],"outline":["Days"],"brief":{"sections":["Days of falling yields"]}}\n' >"$TMP/dq-plan.json"
: >"$DQ_LOG"
run dq-plan-resume env QUARRY_SEARXNG_URL="$DQ_WEB" QUARRY_LLM_BASE_URL="$DQ_LLM" QUARRY_LLM_MODEL=m "$Q" runs resume 1 \
	--home "$TMP/dq-home-plan" --plan "$TMP/dq-plan.json"
rc_is 0; out_has "## Days of falling yields"; out_has "## Limitations and open questions"
if grep -q 'Plan research' "$DQ_LOG"; then bad "the edited plan was planned again"; else ok; fi
if grep -qF 'edited query about yields' "$DQ_LOG"; then ok; else bad "the edited plan's queries were not used"; fi
printf 'not json\n' >"$TMP/dq-plan-bad.json"
run dq-plan-bad env QUARRY_LLM_BASE_URL="$DQ_LLM" QUARRY_LLM_MODEL=m "$Q" runs resume 2 --home "$TMP/dq-home-plan" \
	--plan "$TMP/dq-plan-bad.json"
rc_is 1; err_has "the plan file is not a plan"
run dq-plan-only-ask "$Q" ask --plan-only "x y z"
rc_is 2

# ask --run ID: a follow-up from a run's sources and findings; searches
# only for what they lack (none when the model says nothing is missing).
start_llm dq-follow '[{"match":"still unanswered","content":"{\"gaps\": [], \"queries\": []}"},{"auto":"research","rich":true}]'
run dq-follow env QUARRY_SEARXNG_URL="$DQ_WEB" QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" ask \
	--home "$TMP/dq-home-dq-table" --allow-private --sources web --run 1 --events "$TMP/dq-follow.ev" \
	"Which tariff day moved the 10-year yield most?"
rc_is 0; out_has "[1]"; out_has "## Sources"
if grep -q '"type":"follow_up","from_run":1' "$TMP/dq-follow.ev" || grep -q '"type":"follow_up"' "$TMP/dq-follow.ev"; then ok; else bad "no follow_up event"; fi
if grep -q '"type":"search"' "$TMP/dq-follow.ev"; then bad "a follow-up the run answers searched again"; else ok; fi
if grep -q '"findings":[1-9]' "$TMP/dq-follow.ev"; then ok; else bad "the follow-up kept none of the run's findings"; fi
run dq-follow-none env QUARRY_SEARXNG_URL="$DQ_WEB" QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" ask --home "$TMP/dq-home-dq-table" \
	--allow-private --sources web --run 99 "Which day?"
rc_is 1; err_has "run 99 has no report to follow up"
run dq-follow-research "$Q" research --run 1 "x y z"
rc_is 2; err_has "--run ID is for 'quarry ask'"
run dq-follow-search env QUARRY_SEARXNG_URL="$DQ_WEB" QUARRY_LLM_BASE_URL="$DQ_LLM" QUARRY_LLM_MODEL=m "$Q" ask \
	--home "$TMP/dq-home-dq-table" --allow-private --sources web --run 1 --events "$TMP/dq-follow2.ev" \
	"What did the French press say?"
rc_is 0; out_has "## Sources"
if grep -q '"type":"search"' "$TMP/dq-follow2.ev" && grep -q '"type":"follow_up"' "$TMP/dq-follow2.ev"; then ok; else bad "a follow-up with gaps did not search for them"; fi
if grep -q 'Plan research' "$DQ_LOG" && [ "$(grep -c 'What did the French press say' "$DQ_LOG")" -gt 0 ] &&
   grep 'What did the French press say' "$DQ_LOG" | grep -q 'Plan research'; then bad "the follow-up was planned from scratch"; else ok; fi
