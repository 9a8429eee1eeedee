# Black-box cases of the research run, second file: small contexts and
# budgets, plans that cannot be made, questions with no content words,
# citation judging, budget wording, the brief, localised labels, escapes.
# Sourced by tests/blackbox.sh (run, rc_is, out_has, start_llm, $Q, $TMP).
R2Q="Why did the US switch off GPS Selective Availability?"
R2H="$TMP/r2-home"
"$Q" index add --home "$R2H" sample/corpus >/dev/null 2>&1
R2="$Q research --home $R2H --no-cache --sources corpus"
start_llm r2-auto '[{"auto":"research"}]'
R2AUTO=$LU

# A small context still sends findings to the writer: no report of "ok".
for c in 2048 3000; do
	run r2-small-context-$c env QUARRY_LLM_BASE_URL="$R2AUTO" QUARRY_LLM_MODEL=m QUARRY_LLM_CONTEXT=$c $R2 "$R2Q"
	rc_is 0; out_has "had shrunk [1]."; out_has "[1] GPS Selective Availability"
	if grep -qx "ok" "$TMP/out"; then bad "the report is the model's 'ok'"; else ok; fi
done
run r2-small-context-budget env QUARRY_LLM_BASE_URL="$R2AUTO" QUARRY_LLM_MODEL=m QUARRY_LLM_CONTEXT=2048 $R2 --budget-tokens 3000 "$R2Q"
rc_is 0; out_has "[1] GPS Selective Availability"
if grep -qx "ok" "$TMP/out"; then bad "the report is the model's 'ok'"; else ok; fi
# The findings report (the writer failed twice) lists every finding, cited.
start_llm r2-json '[{"match":"<finding id=","content":"{\"report\": \"x\"}"},{"auto":"research"}]'
run r2-notes-small-context env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_CONTEXT=2048 $R2 "$R2Q"
rc_is 0; out_has "as checked findings"; out_has "[1] GPS Selective Availability"
if grep -q '^- .*\[1\]$' "$TMP/out"; then ok; else bad "the findings report lists no cited finding"; fi

# A budget or time limit too small for the plan: the question is still
# searched and read, and the brief says the budget bound; no time at all
# is an error that says so.
run r2-plan-budget env QUARRY_LLM_BASE_URL="$R2AUTO" QUARRY_LLM_MODEL=m $R2 --budget-tokens 300 "$R2Q"
rc_is 0; out_has "[1] GPS Selective Availability"; out_lacks "Sources read: 0"
out_has "stopped early: the token budget (300)"; err_has "no note was taken because the token budget"
run r2-plan-budget-web env QUARRY_LLM_BASE_URL="$R2AUTO" QUARRY_LLM_MODEL=m QUARRY_SEARXNG_URL="$B" \
	"$Q" research --home "$R2H" --no-cache --allow-private --sources web --budget-tokens 300 "$R2Q"
rc_is 0; out_has "## Sources"; out_has "[1] "; out_lacks "Sources read: 0"
run r2-ask-budget env QUARRY_LLM_BASE_URL="$R2AUTO" QUARRY_LLM_MODEL=m "$Q" ask --home "$R2H" --no-cache \
	--sources corpus --budget-tokens 500 "$R2Q"
rc_is 0; out_has "[1] GPS Selective Availability"; out_lacks "Sources read: 0"
run r2-plan-no-time env QUARRY_LLM_BASE_URL="$R2AUTO" QUARRY_LLM_MODEL=m $R2 --time-limit 1ms "$R2Q"
rc_is 1; err_has "the time limit (1 ms) ran out before any source was read"; out_lacks "## Sources"

# A question of stop words only: nothing is relevant, and the error says why.
for q in "the" "what is it"; do
	run r2-no-content-words "$Q" research --home "$R2H" --no-llm --sources corpus "$q"
	rc_is 1; err_has "nothing relevant found"; err_has "(the question has no content words"
	out_lacks "[1]"
done

# Short sentences that had a marker are judged: a removed one is flagged;
# the JSON body numbers citations as the Markdown does.
start_llm r2-short '[{"match":"<finding id=","content":"It ended in 2000 [7]. Users gained a lot [F1]. Errors fell [5][6]. Then came GPS III.\n"},{"auto":"research"}]'
run r2-short-sentences env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $R2 "$R2Q"
rc_is 0; out_has "It ended in 2000. [unsupported]"; out_has "Errors fell. [unsupported]"
out_has "Users gained a lot [1]."; out_lacks "Then came GPS III. [unsupported]"
out_has "Sentences checked for a citation: 3; without one: 2"
run r2-json-body env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $R2 -f json "$R2Q"
rc_is 0; out_has '"body": "It ended in 2000. [unsupported] Users gained a lot [1].'
out_has '"body_findings": "It ended in 2000. [unsupported] Users gained a lot [F1].'

# Escape sequences in a model reply go whole, in every format: no "]0;" or
# "[31m" residue.
start_llm r2-esc '[{"match":"<finding id=","content":"It ended in May 2000 and users gained a lot [F1]. \u001b]0;PWNED\u0007Title \u001b[2J\u001b[31mred \u009b31mdone [F1].\n"},{"auto":"research"}]'
for fmt in md html json; do
	run r2-escapes-$fmt env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $R2 -f $fmt "$R2Q"
	rc_is 0; out_has "Title"; out_lacks "PWNED"; out_lacks "[2J"; out_lacks "[31m"; out_lacks "31mdone"
done

# The brief: a page's own markers go with their spacing mended, and the
# figures say how many of the sources read are listed.
mkdir -p "$TMP/r2-marks"
printf '# Satellite clocks\n\nThe satellite clocks drift over time [12] and receivers correct the signals [3]. Ground stations upload fresh clock corrections every day.[4]Receivers apply the satellite clock corrections at once.\n' >"$TMP/r2-marks/a.md"
"$Q" index add --home "$TMP/r2-marks-home" "$TMP/r2-marks" >/dev/null 2>&1
run r2-brief-marks "$Q" research --home "$TMP/r2-marks-home" --no-llm --sources corpus "satellite clock corrections"
rc_is 0; out_has "drift over time and receivers correct the signals."; out_lacks "time  and"
out_lacks "signals ."; out_lacks "every day.Receivers"; out_lacks "[12]"
out_has "Sources read: 1 (1 cited, listed above); failed: 0"

# A Chinese report has Chinese fixed labels; [unsupported] is [无依据].
run r2-zh-labels env QUARRY_LLM_BASE_URL="$R2AUTO" QUARRY_LLM_MODEL=m $R2 "美国为什么关闭GPS选择可用性？"
rc_is 0; out_has "## 来源"; out_has "## 核查"; out_has "[无依据]"; out_has "已读来源"
out_lacks "## Sources"; out_lacks "## Verification"; out_lacks "[unsupported]"
run r2-zh-brief "$Q" research --home "$R2H" --no-llm --sources corpus "选择可用性"
rc_is 0; out_has "最相关的段落原文"; out_has "## 来源"; out_lacks "What the best-matching"
