# quality.sh - the research-quality site (bench/research_quality/site.sh:
# pages on tariffs and yields with known answers) served by a fake web
# site of the case's own. A case loads it with 'use: quality'.

# quality_site: build the site and serve it; its search API in $DQ_WEB.
quality_site() {
	sh bench/research_quality/site.sh "$TMP/site"
	bg fakeweb "$TMP/dq.port" "$TMP/site"
	wait_file "$TMP/dq.port" 300
	DQ_WEB="http://127.0.0.1:$(cat "$TMP/dq.port")/rq"
}
