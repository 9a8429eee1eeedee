# Black-box: news and article pages (issue 17). The article's text comes
# out without its dateline, photo captions and credits, "Read more"
# teasers, subscription prompts, the related-story list after it, and
# without markup escaped inside <noscript> printed as text.
D="$TMP/bb-extract"
mkdir -p "$D"
cat > "$D/news.html" <<'PAGE'
<html><head><title>Council passes the budget</title>
<meta property="og:type" content="article"></head>
<body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
<div class="wrap"><article>
<h1>Council passes the budget</h1>
<div class="dateline">03.04.2020</div>
<div class="entry-content">
<p>The city council approved the new budget on Tuesday, after a debate that lasted well into the night and ended with a narrow vote of seven to six.</p>
<figure><img src="a.jpg"><figcaption>The council chamber during the vote. Photo: Jane Roe</figcaption></figure>
<p>Read more: <a href="/other">Mayor under pressure over the new tram line</a></p>
<p>Most of the new money goes to schools and to repairs of the bridges over the river, which engineers had warned about for years.</p>
<p>Foto: Archiv</p>
<p>The budget also sets aside money for a new library in the north of the city, the first one built there in forty years, and for longer opening hours at the swimming pools.</p>
<p>The mayor thanked the members for their work and said the vote showed that the council could still agree on the big questions, even after a difficult year.</p>
<p>Subscribe to our newsletter for more local news.</p>
<p>Critics said the plan leaves too little for housing, and promised to bring the question back before the summer recess.<noscript>&lt;img height="1" width="1" style="display:none" src="https://px.example.com/tr?id=1234567890&amp;amp;ev=PageView&amp;amp;noscript=1&amp;amp;a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"/&gt;</noscript></p>
</div>
<h3>Related</h3>
<ul><li><a href="/a">Schools get new roofs</a> A short summary of another story about schools.</li>
<li><a href="/b">Bridge closed for repairs</a> Another summary line of a different story.</li>
<li><a href="/c">Tram line delayed again</a> And one more summary line of yet another story.</li></ul>
</article></div>
<footer>Copyright 2020 The Example Times</footer></body></html>
PAGE
run extract-news-article "$Q" extract "$D/news.html"
rc_is 0
out_has "ended with a narrow vote of seven to six."
out_has "engineers had warned about for years."
out_has "before the summer recess."
out_lacks "<img"; out_lacks "height="
out_lacks "Read more:"; out_lacks "Photo: Jane Roe"; out_lacks "Foto: Archiv"
out_lacks "Subscribe to our newsletter"; out_lacks "03.04.2020"
out_lacks "Schools get new roofs"; out_lacks "Copyright 2020"

# Without a body class the "Related" heading still ends the article.
sed 's/<div class="entry-content">/<div>/' "$D/news.html" > "$D/news-plain.html"
run extract-news-related-heading "$Q" extract "$D/news-plain.html"
rc_is 0
out_has "before the summer recess."
out_lacks "Schools get new roofs"; out_lacks "<img"
