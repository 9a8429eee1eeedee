# Budgets, the run store and resume (sourced by tests/blackbox.sh).

# fig FILE NAME: a number from a JSON report's figures.
fig() { sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" "$1" | head -1; }

# ---- hard budgets: measured by the provider's own usage figures ----
# The fake model counts tokens itself (4 bytes a token) and cuts replies at
# max_tokens, as a real provider does; quarry estimates on its own.
start_llm bcount '[{"auto":"research","usage":"count"}]'
BCOUNT=$LU
for b in 1000 3000 10000; do
	run "budget-hard-$b" env QUARRY_LLM_BASE_URL="$BCOUNT" QUARRY_LLM_MODEL=m \
		$Q research --home "$TMP/bh$b" --allow-private --sources web --no-cache \
		--budget-tokens $b -f json -o "$TMP/bh$b.json" "$RQ"
	rc_is 0; err_has "stopped early (the token budget ($b) is spent"
	if grep -q "\"stopped\": \"the token budget ($b) is spent" "$TMP/bh$b.json"; then ok
	else bad "the report does not say the token budget bound"; fi
	T=$(($(fig "$TMP/bh$b.json" prompt_tokens) + $(fig "$TMP/bh$b.json" completion_tokens)))
	[ "$T" -gt 0 ] && [ "$T" -le $((b * 105 / 100)) ] && ok || bad "spent $T tokens of a $b budget"
done
run budget-hard-usd env QUARRY_LLM_BASE_URL="$BCOUNT" QUARRY_LLM_MODEL=m QUARRY_LLM_PRICE=0.1,0.2 \
	$Q research --home "$TMP/bhusd" --allow-private --sources web --no-cache \
	--budget-usd 0.001 -f json -o "$TMP/bhusd.json" "$RQ"
rc_is 0; err_has "stopped early (the money budget (\$0.001) is spent"
if grep -q '"stopped": "the money budget' "$TMP/bhusd.json"; then ok; else bad "the report does not say the money budget bound"; fi
C=$(fig "$TMP/bhusd.json" cost_usd)
if awk -v c="$C" 'BEGIN { exit !(c > 0 && c <= 0.00105) }'; then ok; else bad "spent \$$C of a \$0.001 budget"; fi
# Parallel note calls reserve from one pool and their replies are capped.
if grep -q 'max_tokens' "$TMP/bcount.log"; then ok; else bad "replies not capped under a budget"; fi
