# Black-box cases for the model client: hostile model servers (keep-alive
# floods, huge replies), key handling and provider presets.
LH="$TMP/llmhome"
mkdir -p "$LH"

# A server that answers with SSE comments, blank lines and empty deltas
# forever: the idle timer does not count them, and ask ends by its limit.
start_llm pings '[{"fault":"keepalive"}]'
t0=$(date +%s)
run llm-keepalive-time-limit env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_IDLE_TIMEOUT=60s \
	"$Q" ask --no-search --no-cache --time-limit 3s --home "$LH" hello
t1=$(date +%s)
rc_is 1; err_has "no complete answer within the time limit of 3 s"; err_has "--time-limit"
if [ $((t1 - t0)) -le 15 ]; then ok; else bad "ask took $((t1 - t0)) s with --time-limit 3s"; fi
run llm-keepalive-idle env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_IDLE_TIMEOUT=1s \
	QUARRY_LLM_RETRIES=1 QUARRY_LLM_BACKOFF_MS=10 "$Q" ask --no-search --no-cache --home "$LH" hello
rc_is 1; err_has "sent no answer for 1.0 s (keep-alives and empty chunks do not count)"
run llm-time-limit-bad "$Q" ask --no-search --time-limit soon hello
rc_is 2; err_has "--time-limit takes a duration"

# Half an answer, then only pings: said once, not asked again.
start_llm halfpings '[{"fault":"keepalive","content":"The first half of the answer arrives, then only pings."}]'
run llm-keepalive-mid-answer env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_IDLE_TIMEOUT=1s \
	QUARRY_LLM_BACKOFF_MS=10 "$Q" ask --no-search --no-cache --home "$LH" hello
rc_is 1; out_has "The first half"; err_has "stopped sending its answer"; err_lacks_retry=$(grep -c "retrying" "$TMP/err")
if [ "$err_lacks_retry" -eq 0 ]; then ok; else bad "a stall mid-answer was retried"; fi
if [ "$(grep -c '"path"' "$TMP/halfpings.log")" -eq 1 ]; then ok; else bad "a stall mid-answer was asked again"; fi

# 64 tool calls of 8 MB each (once 1 GB of memory): the reply is too big.
start_llm toolflood "[{\"tool_args_bytes\":8388608,\"tool_calls\":[$(i=0; while [ $i -lt 64 ]; do [ $i -gt 0 ] && printf ','; printf '{"id":"c%d","name":"f","arguments":""}' $i; i=$((i + 1)); done)]}]"
run llm-tool-flood env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m "$Q" ask --no-search --no-cache --home "$LH" hello
rc_is 1; err_has "the model's reply is too big (a tool call's arguments passed 2097152 bytes, limit 2097152)"

# An error that echoes the key across the 240-character cut: nothing of
# the key reaches stderr, the events file or the database.
KPAD=$(printf '%0230d' 0)
start_llm echo401 "[{\"status\":401,\"body\":\"{\\\"error\\\":{\\\"message\\\":\\\"$KPAD sk-straddle-secret-77 is wrong\\\"}}\"}]"
run llm-key-straddle env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_API_KEY=sk-straddle-secret-77 \
	"$Q" research --home "$LH/k" --allow-private --sources web --events "$TMP/llmkey.jsonl" "what is a key"
err_has "refused the API key"
if grep -qF "sk-strad" "$TMP/err" "$TMP/out" "$TMP/llmkey.jsonl" "$LH/k"/quarry.db* 2>/dev/null; then bad "part of the key leaked"; else ok; fi

# Keys go only where they belong: a host that merely contains a
# provider's gets nothing, nor does a custom server get OPENAI_API_KEY.
run llm-preset-lookalike env QUARRY_LLM_BASE_URL=https://api.deepseek.com.evil.test/v1 QUARRY_LLM_MODEL=m \
	DEEPSEEK_API_KEY=sk-deep-lookalike "$Q" models
rc_is 0; out_has "provider       custom"; out_has "API key        none"
start_llm keyless '[{"content":"fine without a key"}]'
run llm-openai-key-stays env -u QUARRY_LLM_API_KEY QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m \
	OPENAI_API_KEY=sk-openai-not-for-you "$Q" ask --no-search --no-cache --home "$LH" hi
rc_is 0; out_has "fine without a key"
if grep -qF "sk-openai-not-for-you" "$TMP/keyless.log"; then bad "OPENAI_API_KEY went to a custom server"; else ok; fi
run llm-openai-base-pair env -u QUARRY_LLM_API_KEY -u QUARRY_LLM_BASE_URL OPENAI_BASE_URL="$LU" QUARRY_LLM_MODEL=m \
	OPENAI_API_KEY=sk-openai-pair "$Q" ask --no-search --no-cache --home "$LH" hi
rc_is 0; if grep -qF "Bearer sk-openai-pair" "$TMP/keyless.log"; then ok; else bad "OPENAI_API_KEY not sent to OPENAI_BASE_URL"; fi

# A key over plain http to another machine is refused, doctor included.
run llm-clear-text env QUARRY_LLM_BASE_URL=http://203.0.113.9/v1 QUARRY_LLM_MODEL=m QUARRY_LLM_API_KEY=sk-clear \
	"$Q" ask --no-search --home "$LH" hi
rc_is 1; err_has "refusing to send the API key (QUARRY_LLM_API_KEY) in clear text to 203.0.113.9"; err_has "--allow-insecure-http"
run llm-clear-text-doctor env QUARRY_LLM_BASE_URL=http://203.0.113.9/v1 QUARRY_LLM_MODEL=m QUARRY_LLM_API_KEY=sk-clear \
	"$Q" doctor --no-model-call --home "$LH"
rc_is 1; out_has "refusing to send the API key"
run llm-clear-text-allowed env QUARRY_LLM_BASE_URL=http://203.0.113.9/v1 QUARRY_LLM_MODEL=m QUARRY_LLM_API_KEY=sk-clear \
	"$Q" models --allow-insecure-http
rc_is 0; out_has "API key        QUARRY_LLM_API_KEY"

# ask with search ends by its time limit too; the plan took all of it, so
# no source could be read and it says so (exit 1).
start_llm pingsearch '[{"fault":"keepalive","stream":true}]'
t0=$(date +%s)
run llm-keepalive-ask-search env QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m QUARRY_LLM_IDLE_TIMEOUT=60s \
	"$Q" ask --home "$LH/s" --allow-private --sources web --time-limit 3s "why GPS"
t1=$(date +%s)
rc_is 1; err_has "the time limit (3000 ms) ran out before any source was read"
if [ $((t1 - t0)) -le 15 ]; then ok; else bad "ask with search took $((t1 - t0)) s with --time-limit 3s"; fi
