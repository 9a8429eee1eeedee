# Black-box cases for a new user's first runs (src/net and the address
# policy's hint): the policy's refusal says what to do, resume honours a
# newly given --allow-private, and sources are shown without trackers.

# The fake SearXNG and its pages are on 127.0.0.1: without --allow-private
# every page is refused, and the error says why and what to do (before:
# "see the messages above", with no messages and no hint).
N2H="$TMP/net2-home"
run net2-policy-hint env -u QUARRY_ALLOW_PRIVATE "$Q" research --home "$N2H" --sources web --no-llm \
	"GPS selective availability"
rc_is 1; err_has "refused by the address policy"; err_has "private and loopback addresses"
err_has "pass --allow-private or set QUARRY_ALLOW_PRIVATE=1 to read them"
if grep -qF "messages above" "$TMP/err"; then bad "points at messages that are not there"; else ok; fi
# Resumed with --allow-private, the run reads the pages it was refused
# (before: the stored refusals were replayed and it failed the same way).
run net2-resume-allow-private env -u QUARRY_ALLOW_PRIVATE "$Q" runs resume 1 --home "$N2H" --allow-private \
	--no-llm -f json
rc_is 0; out_has '"sources_read":'; out_lacks '"sources_read":0'
run net2-resume-done env -u QUARRY_ALLOW_PRIVATE "$Q" runs ls --json --home "$N2H"
rc_is 0; out_has '"status":"done"'
# QUARRY_ALLOW_PRIVATE=1 given to resume does the same.
N2E="$TMP/net2-env-home"
run net2-policy-env env -u QUARRY_ALLOW_PRIVATE "$Q" research --home "$N2E" --sources web --no-llm \
	"GPS selective availability"
rc_is 1
# (--no-llm is kept with the run too: no warning that no model is set.)
run net2-resume-env env -u QUARRY_LLM_BASE_URL QUARRY_ALLOW_PRIVATE=1 "$Q" runs resume 1 --home "$N2E"
rc_is 0; out_has "## Sources"
if grep -qF "no model configured" "$TMP/err"; then bad "warned of a model the run does not use"; else ok; fi
# Other page failures no longer point at "the messages above" (-v prints
# each page's error).
run net2-dead-pages "$Q" research --home "$TMP/net2-dead" --allow-private --sources web --no-llm \
	"zzdeadpages question"
rc_is 1; err_has "all 3 pages failed (2 HTTP errors, 1 unreachable)"
if grep -qF "messages above" "$TMP/err"; then bad "points at messages that are not there"; else ok; fi

# Sources are shown, fetched and deduplicated without tracking parameters:
# one page under two sets of them is one source, its own ?id=7 kept.
run net2-trackers "$Q" research --home "$TMP/net2-trk" --allow-private --sources web --no-llm \
	--events "$TMP/net2-trk.jsonl" "zztrackers GPS selective availability"
rc_is 0; out_has "/site/7.html?id=7"
out_lacks "utm_source"; out_lacks "mc_cid"; out_lacks "mc_eid"; out_lacks "fbclid"; out_lacks "ref_src"
if [ "$(grep -c '/site/7.html' "$TMP/out")" -eq 1 ]; then ok; else bad "one page listed as two sources"; fi
if grep -q '"type":"fetching".*"urls":1\b\|"urls":1,.*"type":"fetching"' "$TMP/net2-trk.jsonl"; then ok; else bad "the page was fetched twice"; fi
