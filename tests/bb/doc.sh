# Black-box: hostile documents (issue 11). Attribute, tag, depth and DOCX
# element floods end within their limits with a note; binary bodies
# labelled as text are refused with what they are.
D="$TMP/bb-doc"
mkdir -p "$D"

# 80,000 distinct attributes on one element: libxml2 took 20 s on them.
{ printf '<html><body><p>The lead paragraph comes before the flood.</p><div '
  seq 1 80000 | sed 's/^/a/' | tr '\n' ' '
  printf '>x</div></body></html>'; } > "$D/attrs.html"
run doc-attr-flood timeout 10 "$Q" extract "$D/attrs.html"
rc_is 0; out_has "lead paragraph"; err_has "more than 256 attributes"

# 600,000 <p>: cut at the tag budget (the tree peaked at 742 MB).
{ printf '<html><body><p>The lead paragraph comes before the flood.</p>'
  yes '<p>' | head -n 600000 | tr -d '\n'; } > "$D/tags.html"
run doc-tag-flood timeout 20 "$Q" extract "$D/tags.html"
rc_is 0; out_has "lead paragraph"; err_has "more than 500000 tags"

# Deep nesting then stray end tags: each one searches the open elements.
{ printf '<html><body><p>The lead paragraph comes before the flood.</p>'
  yes '<div>' | head -n 5000 | tr -d '\n'
  yes '</span>' | head -n 100000 | tr -d '\n'; } > "$D/stray.html"
run doc-stray-end-tags timeout 10 "$Q" extract "$D/stray.html"
rc_is 0; out_has "lead paragraph"; err_has "too many end tags"

# A DOCX of 4.2M empty paragraphs (a few KB zipped) is streamed, not
# built as a tree (1.5 GB before), and cut at the element budget.
if command -v zip >/dev/null 2>&1; then
	mkdir -p "$D/docx/word"
	{ printf '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>First paragraph.</w:t></w:r></w:p>'
	  yes '<w:p/>' | head -n 4200000 | tr -d '\n'
	  printf '</w:body></w:document>'; } > "$D/docx/word/document.xml"
	printf '<Types/>' > "$D/docx/[Content_Types].xml"
	(cd "$D/docx" && zip -q -9 -r ../flood.docx .)
	run doc-docx-flood timeout 20 "$Q" extract "$D/flood.docx"
	rc_is 0; out_has "First paragraph."; err_has "more than 4000000 elements"
fi

# Binary data labelled as text: refused, exit 1, saying what it is.
run doc-png-as-html "$Q" fetch "$B/png-as-html"
rc_is 1; err_has "is binary data (PNG image) though labelled text/html"; err_has "$B/png-as-html"
run doc-nul-as-text "$Q" fetch "$B/nul-as-text"
rc_is 1; err_has "is binary data though labelled text/plain"
printf '\177ELF\002\001\001\000\000\000\000\000' > "$D/prog"
run doc-elf-as-html "$Q" extract --content-type text/html "$D/prog"
rc_is 1; err_has "binary data (ELF executable) though labelled text/html"
