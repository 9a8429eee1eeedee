# Black-box: article pages, third round (issue 17). A page whose article
# sits behind a paywall class and inside a skip link's target comes out
# whole; the dateline and byline above its first sentence, its closing
# "Weitere Informationen" box, the app prompt and short lines after its
# last sentence do not; a UTF-8 page with one stray byte is not mojibake.
D="$TMP/bb-extract2"
mkdir -p "$D"
cat > "$D/paywall.html" <<'PAGE'
<html><head><meta charset="UTF-8"><title>Budget</title>
<meta property="og:type" content="article"></head>
<body><a class="skip-link" href="#skiplink-inhalt">Zum Inhalt springen</a>
<nav><a href="/">Start</a> <a href="/news">Nachrichten</a></nav>
<div id="skiplink-inhalt"><div class="content-behind-paywall">
<p>Kategorie: Politik</p><p>VON Sina Giebel</p>
<p>Der Stadtrat hat am Dienstag den neuen Haushalt beschlossen, nach einer Debatte, die bis tief in die Nacht dauerte und mit sieben zu sechs Stimmen endete.</p>
<p>Das meiste neue Geld geht an die Schulen und in die Reparatur der Brücken über den Fluss, vor deren Zustand Ingenieure seit Jahren gewarnt hatten.</p>
<p>Auf der Liste stehen Brücken, Flüsse, Gärten, Größen, Übungen, Öfen, Äpfel, Söhne, Türen, Füße, Hüte, Mühlen, Küsten, Bürger und Grüße; dazu Brücken, Flüsse, Gärten, Größen, Übungen, Öfen, Äpfel, Söhne, Türen, Füße, Hüte, Mühlen, Küsten, Bürger und Grüße; und noch einmal Brücken, Flüsse, Gärten, Größen, Übungen, Öfen, Äpfel, Söhne, Türen, Füße, Hüte, Mühlen, Küsten, Bürger und Grüße.</p>
<p>Die Kritiker sagten, der Plan lasse zu wenig für den Wohnungsbau übrig, und kündigten an, die Frage vor der Sommerpause erneut zu stellen. Der Bürgermeister dankte für die Arbeit.</p>
<h3>Weitere Informationen</h3>
<p>Die Pressestelle beantwortet Fragen werktags zwischen neun und fünf Uhr, telefonisch oder schriftlich.</p>
</div></div>
<p>Get the latest news straight to your phone with the Example Times app.</p>
<p>Stadtrat</p><p>Haushalt 2020 \xc3</p>
<div class="paywall">Jetzt abonnieren und weiterlesen: nur ein Euro im Monat, jederzeit kündbar, ohne Fragen.</div>
</body></html>
PAGE
printf '%b' "$(cat "$D/paywall.html")" > "$D/page.html"
run extract2-paywall-article "$Q" extract "$D/page.html"
rc_is 0
out_has "mit sieben zu sechs Stimmen endete."
out_has "vor der Sommerpause erneut zu stellen."
out_utf8
out_has "Reparatur der Brücken über den Fluss"; out_lacks "Ã"
out_lacks "Kategorie: Politik"; out_lacks "Sina Giebel"
out_lacks "Pressestelle"; out_lacks "Example Times app"
out_lacks "jederzeit kündbar"; out_lacks "Zum Inhalt springen"
