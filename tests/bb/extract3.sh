# Black-box: article pages, fourth round (issue 17). An opinion column
# classed "commentary" comes out (not left out as reader comments), its
# closing bio, support appeal and trademark small print do not; a page
# that builds its article in script gives its JSON-LD articleBody.
D="$TMP/bb-extract3"
mkdir -p "$D"
cat > "$D/column.html" <<'PAGE'
<html><head><meta charset="UTF-8"><title>Coal</title>
<meta property="og:type" content="article"></head>
<body><div class="page news commentary"><article itemprop="articleBody">
<h1>Coal and the climate</h1>
<p>The chief executive met the activist on Friday and offered her a seat on the board of the new energy company, talking at length about the climate and the future.</p>
<p>On Sunday the company announced it would keep its contract for the mine's railway signalling, which it had promised to review after the protests in the spring.</p>
<p>The logic is simple: the contract is small, but walking away from it would have cost the group its reputation as a reliable supplier, he said on the radio.</p>
<p>About the author: Jane Roe has written this column since 2009 and lives with her family on the edge of town, where she keeps bees and a very old dog.</p>
<p>Independent reporting costs money. If you value this column, please consider a monthly gift to support our journalism; readers like you keep the newsroom open.</p>
<p>All brand names and logos are trademarks or registered trademarks of their respective owners.</p>
</article></div>
<div class="discussion"><p>Readers have written to us about this story and many of them disagree with the company, which they say did what any company would do.</p>
<p>We read every letter before we publish it, and we publish letters that keep to the rules of the discussion, which you can find on our help pages.</p>
<p>Please register before you write, and keep to our rules for the discussion; letters without a name are not published.</p></div>
</body></html>
PAGE
run extract3-commentary "$Q" extract "$D/column.html"
rc_is 0
out_has "offered her a seat on the board"
out_has "as a reliable supplier, he said on the radio."
out_lacks "Jane Roe"
out_lacks "support our journalism"
out_lacks "registered trademarks"

body=""
for i in 1 2 3 4 5 6; do
	body="$body The president's re-election was no easy feat number $i, and her comeback surprised even her own party's strategists."
done
cat > "$D/script.html" <<PAGE
<html><head><title>Tsai</title><script type="application/ld+json">
{"@type": "NewsArticle", "headline": "Tsai wins", "articleBody": "$body"}
</script></head><body><div id="app"><p>Loading the story, please wait.</p></div></body></html>
PAGE
run extract3-jsonld-body "$Q" extract "$D/script.html"
rc_is 0
out_has "no easy feat number 6"
out_lacks "Loading the story"
