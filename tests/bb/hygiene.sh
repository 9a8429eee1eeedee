# Black-box cases for process hygiene: what a forked pdftotext inherits.

# pdftotext is forked while quarry holds sockets (curl's, the fake
# servers'), the database and temporary files: none of them may reach the
# child. The fake pdftotext lists its open descriptors (ls's own directory
# descriptor aside); only 0, 1, 2 and 3 (the PDF, handed on purpose) may be
# there.
mkdir -p "$TMP/hyg-bin"
cat >"$TMP/hyg-bin/pdftotext" <<EOS
#!/bin/sh
ls -l /proc/self/fd | awk 'NF >= 9 && \$NF !~ /^\/proc\/[0-9]+\/fd\$/ { print \$9, \$NF }' >>"$TMP/hyg-fds.\$PPID"
echo "Quarry reads PDF files through pdftotext"
EOS
chmod +x "$TMP/hyg-bin/pdftotext"
# hyg_fds_only NAME: every listing pdftotext made names only 0-3.
hyg_fds_only() {
	NAME=$1
	set -- "$TMP"/hyg-fds.*
	if [ ! -s "$1" ]; then bad "the fake pdftotext did not run"; return; fi
	if awk '$1 !~ /^[0-3]$/ { bad = 1 } END { exit bad }' "$TMP"/hyg-fds.*; then ok
	else bad "pdftotext inherited: $(awk '$1 !~ /^[0-3]$/' "$TMP"/hyg-fds.* | sort -u | tr '\n' ' ')"; fi
	rm -f "$TMP"/hyg-fds.*
}
rm -f "$TMP"/hyg-fds.*
run hyg-cloexec-fetch env PATH="$TMP/hyg-bin:$PATH" "$Q" fetch -j 4 "$B/pages/article.html" "$B/doc.pdf" \
	"$B/pages/forum.html"
rc_is 0; out_has "Quarry reads PDF files"
hyg_fds_only hyg-cloexec-fetch
mkdir -p "$TMP/hyg-corpus"
cp "$TMP/fx/sample.pdf" sample/pages/article.html "$TMP/hyg-corpus/"
run hyg-cloexec-index env PATH="$TMP/hyg-bin:$PATH" "$Q" index add --home "$TMP/hyg-home" "$TMP/hyg-corpus"
rc_is 0
hyg_fds_only hyg-cloexec-index
start_llm hyg '[{"auto":"research"}]'
run hyg-cloexec-research env PATH="$TMP/hyg-bin:$PATH" QUARRY_LLM_BASE_URL="$LU" QUARRY_LLM_MODEL=m \
	"$Q" research --home "$TMP/hyg-home" --allow-private --sources web,corpus --max-sources 6 \
	"zzpdfpage pdftotext reads PDF files"
rc_is 0
hyg_fds_only hyg-cloexec-research

# SIGPIPE is ignored: output to a reader that went away is a failed write,
# not a signal that kills quarry (before: exit status 141). The text is
# larger than a pipe's buffer, so quarry is still writing when head leaves.
NAME=hyg-sigpipe; : >"$TMP/out"; : >"$TMP/err"
awk 'BEGIN { for (i = 0; i < 6000; i++) print "Line " i " of a long text that goes to a closed pipe." }' >"$TMP/hyg-big.txt"
{ "$Q" extract "$TMP/hyg-big.txt" 2>"$TMP/err"; echo $? >"$TMP/hyg-rc"; } | head -c 1 >/dev/null
if [ "$(cat "$TMP/hyg-rc")" != 141 ]; then ok; else bad "killed by SIGPIPE"; fi
