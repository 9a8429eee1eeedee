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

# The same for `quarry fetch`: one transfer at a time (-j 1), the slow PDF
# first; the three pages after it are asked for while pdftotext works.
rm -f "$TMP/core-pdf-end"
core_t0=$(date +%s%3N)
run core-fetch-slow-pdf env PATH="$TMP/core-slowpdf:$PATH" "$Q" fetch -j 1 "$B/doc.pdf" \
	"$B/delay/100/core-a" "$B/delay/100/core-b" "$B/delay/100/core-c"
rc_is 0; out_has "slowly, in this test"; out_has "==> $B/delay/100/core-c <=="
NAME=core-fetch-slow-pdf-flows
curl -s "$B/requests-since/$core_t0" | grep ' /delay/100/core-' >"$TMP/core-fetch-reqs"
core_pdf_end=$(cat "$TMP/core-pdf-end" 2>/dev/null || echo 0)
core_late=$(awk -v end="$core_pdf_end" '$1 >= end' "$TMP/core-fetch-reqs" | wc -l)
if [ "$core_pdf_end" -gt 0 ] && [ "$(wc -l <"$TMP/core-fetch-reqs")" -eq 3 ] && [ "$core_late" -eq 0 ]; then ok
else bad "pages asked for after the slow PDF's extraction ended: $core_late of 3"; fi

# Research during `index add` of a large folder: index add used to keep
# its write transaction open while it read and extracted the next 1,024
# files, so a research run alongside waited for all of them (here: the
# PDFs among them, 0.5 s each) or failed with "database is busy" after
# 10 s. Now extraction happens outside the transactions and each small
# batch is written in a short one. 2,000 small files and 24 slow PDFs.
mkdir -p "$TMP/core-big" "$TMP/core-slowpdf2"
awk -v dir="$TMP/core-big" 'BEGIN { for (f = 0; f < 2000; f++) { fn = sprintf("%s/doc%04d.md", dir, f)
	printf "# Receivers %d\n\nSelective availability degraded civilian GPS accuracy; receivers in region %d improved after the change.\n\nSurveyors and farmers benefited from the open signal in year %d.\n", f, f % 17, 1990 + f % 30 > fn; close(fn) } }'
i=0; while [ $i -lt 24 ]; do cp "$TMP/fx/sample.pdf" "$TMP/core-big/paper$i.pdf"; i=$((i + 1)); done
cat >"$TMP/core-slowpdf2/pdftotext" <<EOS
#!/bin/sh
sleep 0.5
echo "Quarry reads PDF files through pdftotext, slowly, while a research run goes on."
EOS
chmod +x "$TMP/core-slowpdf2/pdftotext"
"$Q" index add --home "$TMP/core-h2" sample/pages >/dev/null 2>&1
env PATH="$TMP/core-slowpdf2:$PATH" "$Q" index add --home "$TMP/core-h2" "$TMP/core-big" \
	>"$TMP/core-idx.out" 2>"$TMP/core-idx.err" &
core_idx=$!
sleep 1
core_r0=$(date +%s%3N)
run core-research-during-index "$Q" research --home "$TMP/core-h2" --sources corpus --no-llm \
	--events "$TMP/core-ev.jsonl" "selective availability receivers accuracy"
core_ms=$(( $(date +%s%3N) - core_r0 ))
rc_is 0; out_has "[1]"
if grep -qi "busy" "$TMP/err"; then bad "busy error"; else ok; fi
if [ "$core_ms" -lt 4000 ]; then ok; else bad "research took $core_ms ms during index add (alone: well under 1 s)"; fi
wait $core_idx; core_idx_rc=$?
NAME=core-index-during-research
if [ "$core_idx_rc" -eq 0 ] && grep -q "added 2024" "$TMP/core-idx.out"; then ok
else bad "index add: status $core_idx_rc, $(cat "$TMP/core-idx.out" "$TMP/core-idx.err" | tail -2)"; fi
# No lost event: every event the run emitted is stored with it.
if command -v sqlite3 >/dev/null; then
	NAME=core-no-lost-event
	core_stored=$(sqlite3 "$TMP/core-h2/quarry.db" "SELECT count(*) FROM run_events")
	core_emitted=$(wc -l <"$TMP/core-ev.jsonl")
	if [ "$core_stored" -eq "$core_emitted" ] && [ "$core_emitted" -gt 3 ]; then ok
	else bad "$core_emitted events emitted, $core_stored stored"; fi
fi

# The report streams as it is written: report_delta events, coalesced
# (at least 200 bytes or 100 ms each, not one per token: about 170 pieces
# of 7 bytes make at most a dozen events), whose texts put
# together at their offsets are the model's reply, before verification.
core_report="Selective availability was switched off in May 2000 because its value had shrunk [F1]. Civilian receivers became far more accurate overnight, which surveyors, farmers and drivers noticed at once [F2].

## Background

The deliberate error had degraded civilian accuracy to about a hundred metres, while differential corrections already let careful users remove most of it [F1]. Café owners and 选择可用性 researchers alike cite the change — and its timing — as a turning point [F2].

## Consequences

Opening the signal created broad value for many users that the military could not have captured itself [F2]. Later satellites were built without the feature at all, so the decision cannot be reversed [F1]. The question of what remains open is answered by the findings only in part [F2]."
core_rules=$(jq -cn --arg c "$core_report" '[{"match":"Write the report in","content":$c},{"auto":"research"}]' 2>/dev/null)
if [ -n "$core_rules" ]; then
	start_llm core3 "$core_rules"
	run core-report-delta env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" research --home "$TMP/core-h3" \
		--allow-private --sources web --depth 1 --events "$TMP/core-ev3.jsonl" "$RQ"
	rc_is 0
	NAME=core-report-delta-text
	jq -rj 'select(.type == "report_delta" and .call == 1) | .text' "$TMP/core-ev3.jsonl" >"$TMP/core-delta.txt"
	printf '%s' "$core_report" >"$TMP/core-want.txt"
	if cmp -s "$TMP/core-delta.txt" "$TMP/core-want.txt"; then ok; else bad "deltas do not make the reply: $(head -c 120 "$TMP/core-delta.txt")"; fi
	NAME=core-report-delta-offsets
	if jq -s '[.[] | select(.type == "report_delta" and .call == 1)] | . as $d
		| (length >= 2 and length <= 12) and $d[0].offset == 0 and ([range(1; length)] | all(. as $i
		| $d[$i].offset == $d[$i-1].offset + ($d[$i-1].text | utf8bytelength)))' \
		"$TMP/core-ev3.jsonl" | grep -q true; then ok
	else bad "report_delta events not coalesced or offsets wrong: $(grep -c report_delta "$TMP/core-ev3.jsonl")"; fi
else
	SKIP=$((SKIP + 1)); echo "skip: core-report-delta (needs jq)"
fi

# The run's figures carry the process's peak memory during the run
# (VmHWM, or sampled VmRSS when the process's peak came before the run).
run core-peak-rss "$Q" research --home "$TMP/core-h2" --sources corpus --no-llm -f json \
	"selective availability receivers accuracy"
rc_is 0
NAME=core-peak-rss-figure
core_rss=$(grep -o '"peak_rss_mb": *[0-9.]*' "$TMP/out" | head -1 | sed 's/.*: *//')
if [ -n "$core_rss" ] && awk -v m="$core_rss" 'BEGIN { exit !(m > 1 && m < 4096) }'; then ok
else bad "peak_rss_mb is '$core_rss'"; fi
