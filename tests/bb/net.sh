# Black-box cases for the fetcher (src/net) and the PDF reader: hostile
# bodies, header floods, the address policy and the page cache, kill -9.

# A gzip file served as text/html (no Content-Encoding) is inflated under
# --max-bytes: 60 KB on the wire, 60 MB inside; before, 5.8 GB of memory.
run net-gzip-body timeout 20 "$Q" fetch "$B/gzip-as-html"
rc_is 1; err_has "larger than 10485760 bytes after decoding"; err_has "raise --max-bytes"
run net-gzip-page "$Q" fetch "$B/gzip-page-as-html"; rc_is 0; out_has "gzipped whole and served"
# Endless headers, before the body or as trailers after the last chunk,
# stop at the header cap at once (before: 2.2 GB in 20 s, then the timeout).
run net-header-flood timeout 20 "$Q" fetch "$B/header-flood"
rc_is 1; err_has "more than 262144 bytes of headers"
run net-trailer-flood timeout 20 "$Q" fetch "$B/trailer-flood"
rc_is 1; err_has "more than 262144 bytes of headers"
