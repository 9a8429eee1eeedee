#!/bin/sh
# Build the research-quality fixture site in DIR: the hand-written pages
# of bench/research_quality/site (a table page, two pages that contradict
# each other, a French and a Chinese page), each padded to about 40 KB of
# ordinary prose after its article, and 15 generated market pages of the
# same size, plus rq-index.txt, the list tests/fakeweb's /rq/search serves.
#
# usage: sh bench/research_quality/site.sh DIR
set -eu
DIR=$1
HERE=$(dirname "$0")
mkdir -p "$DIR"
# About 40 KB of prose that mentions the topic without its facts, its
# words drawn by a generator seeded with the page's name, so no two pages
# are near-copies (quarry would keep only one of them).
pad() {
	awk -v seed="$1" 'BEGIN {
		n = split("traders funds banks brokers desks analysts clients dealers insurers savers " \
			"auditors lenders exporters importers farmers shippers retailers economists", who, " ")
		m = split("watched followed discussed priced ignored doubted welcomed feared tracked " \
			"questioned summarised reported debated", did, " ")
		k = split("headlines forecasts auctions spreads curves futures swaps surveys minutes " \
			"payrolls invoices shipments orders margins quotas duties rebates", what, " ")
		h = 0; for (i = 1; i <= length(seed); i++) h = (h * 31 + index("abcdefghijklmnopqrstuvwxyz0123456789", substr(seed, i, 1))) % 2147483647
		srand(h + 1)
		for (p = 0; p < 110; p++) {
			line = "<p>"
			for (s = 0; s < 4; s++)
				line = line sprintf("The %s %s the %s of %s week %d, and the %s %s the %s. ",
					who[int(rand() * n) + 1], did[int(rand() * m) + 1], what[int(rand() * k) + 1],
					(rand() < 0.5 ? "that" : "the next"), int(rand() * 52) + 1,
					who[int(rand() * n) + 1], did[int(rand() * m) + 1], what[int(rand() * k) + 1])
			print line "</p>"
		}
	}'
}
: >"$DIR/rq-index.txt"
for f in "$HERE"/site/*.html; do
	b=$(basename "$f")
	title=$(sed -n 's:.*<title>\(.*\)</title>.*:\1:p' "$f" | head -1)
	sed '/<\/article>/,$d' "$f" >"$DIR/$b"
	pad "$title" >>"$DIR/$b"
	echo "</article></body></html>" >>"$DIR/$b"
	printf '%s\t%s\n' "$b" "$title" >>"$DIR/rq-index.txt"
done
n=1
while [ $n -le 15 ]; do
	{
		echo "<html><head><title>Market note $n on Treasuries and trade in 2018</title></head><body><article>"
		echo "<h1>Market note $n on Treasuries and trade in 2018</h1>"
		echo "<p>Market note $n records that the 10-year Treasury yield stood at $((240 + n * 5)) basis points in week $n of 2018, and that trade headlines were one of $((2 + n % 4)) themes traders named that week.</p>"
		echo "<p>Note $n argues that tariff news mattered less for long-term yields than the Federal Reserve's rate path in 2018.</p>"
		pad "market note $n"
		echo "</article></body></html>"
	} >"$DIR/market-$n.html"
	printf 'market-%s.html\tMarket note %s on Treasuries and trade in 2018\n' "$n" "$n" >>"$DIR/rq-index.txt"
	n=$((n + 1))
done
