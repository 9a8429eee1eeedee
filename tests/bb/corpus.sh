# Black-box cases for the corpus and its database (quarry index, search):
# hostile folders, concurrent writers, damaged and read-only databases.
# Sourced by tests/blackbox.sh; homes live under $TMP/cx.
CX="$TMP/cx"
mkdir -p "$CX"

# Files without a known extension are sniffed: text is read (README,
# NEWS.gz, .rst, source code), binary skipped, FIFOs skipped.
D="$CX/sniff"
mkdir -p "$D/doc"
printf 'The readme explains the heliograph.\n' >"$D/doc/README"
printf 'heliograph release news\n' | gzip >"$D/doc/NEWS.gz"
printf 'Heliograph\n==========\n\nA restructured text note.\n' >"$D/doc/notes.rst"
printf '/* heliograph driver */\nint main(void) { return 0; }\n' >"$D/doc/main.c"
printf '{"device": "heliograph"}\n' >"$D/doc/data.json"
head -c 4000 /dev/urandom >"$D/doc/blob"
cp "$Q" "$D/doc/program"
head -c 4000 /dev/urandom | gzip >"$D/doc/data.gz"
printf '\211PNG\r\n\032\nheliograph' >"$D/doc/image.png"
mkfifo "$D/doc/pipe" 2>/dev/null
run corpus-sniff "$Q" index add --verbose --home "$D/home" "$D/doc"
rc_is 0; out_has "added 5,"; err_has "program: binary content"; err_has "blob: binary content"
err_has "image.png: unsupported file type"; err_has "data.gz: unsupported content"
run corpus-sniff-ls "$Q" index ls --home "$D/home"
out_has "doc/README"; out_has "NEWS.gz"; out_has "notes.rst"; out_has "main.c"; out_has "data.json"
out_lacks "program"; out_lacks "blob"; out_lacks "pipe"
run corpus-sniff-search "$Q" search --home "$D/home" heliograph; rc_is 0; out_has "README"; out_has "NEWS.gz"

# Symlinked files: followed inside the folder, not to a file outside it
# (unless --follow-symlinks); --verbose says which were skipped.
D="$CX/links"
mkdir -p "$D/tree" "$D/outside"
printf 'inside text about semaphores\n' >"$D/tree/inside.txt"
printf 'outside secret about semaphores\n' >"$D/outside/secret.txt"
ln -s inside.txt "$D/tree/again.txt"
ln -s "$D/outside/secret.txt" "$D/tree/a.txt"
run corpus-symlink-out "$Q" index add --verbose --home "$D/home" "$D/tree"
rc_is 0; out_has "added 2,"; err_has "a.txt: symlink to a file outside the folder"
run corpus-symlink-search "$Q" search --home "$D/home" semaphores; out_has "inside.txt"; out_lacks "a.txt"
run corpus-symlink-follow "$Q" index add --follow-symlinks --home "$D/home2" "$D/tree"
rc_is 0; out_has "added 3,"

# An unreadable subfolder (here: too many open files, which root cannot
# bypass) drops nothing; the error names the folder.
D="$CX/emfile"
P="$D/tree"
i=1
while [ $i -le 30 ]; do P="$P/l$i"; i=$((i + 1)); done
mkdir -p "$P"
printf 'deep notes about comets\n' >"$P/deep.txt"
printf 'top notes\n' >"$D/tree/top.txt"
"$Q" index add --home "$D/home" "$D/tree" >/dev/null 2>&1
run corpus-walk-error sh -c "ulimit -n 16; exec \"$Q\" index add --home \"$D/home\" \"$D/tree\""
rc_is 1; out_has "removed 0"; err_has "cannot read folder: Too many open files"; err_has "/l9"
err_has "no document under it was dropped"
run corpus-walk-error-kept "$Q" search --home "$D/home" comets; rc_is 0; out_has "deep.txt"
# Once it can be read, files really gone are dropped.
rm "$P/deep.txt"
run corpus-walk-later "$Q" index add --home "$D/home" "$D/tree"; rc_is 0; out_has "removed 1"

# A file added by name is kept when its folder is added again, though
# the walk skips its kind (hidden here).
D="$CX/byname"
mkdir -p "$D/f"
printf 'visible notes on tides\n' >"$D/f/a.md"
printf 'hidden notes on tides\n' >"$D/f/.private.md"
"$Q" index add --home "$D/home" "$D/f/.private.md" >/dev/null 2>&1
run corpus-byname-folder "$Q" index add --home "$D/home" "$D/f"; rc_is 0; out_has "added 1,"; out_has "removed 0"
run corpus-byname-kept "$Q" index ls --home "$D/home"; out_has ".private.md"; out_has "a.md"

# Several `index add` of one folder at once, on a fresh home: all succeed
# (no "UNIQUE constraint failed", no "table documents already exists"),
# each file is added once, and the index is consistent.
D="$CX/conc"
mkdir -p "$D/docs"
i=0
while [ $i -lt 150 ]; do
	printf '# Note %d\n\nA note about lighthouse number %d.\n' "$i" "$i" >"$D/docs/n$i.md"
	i=$((i + 1))
done
for round in 1 2; do
	rm -rf "$D/home"
	PIDS=
	for j in 1 2 3 4 5 6; do
		"$Q" index add --home "$D/home" "$D/docs" >"$D/out$j" 2>&1 &
		PIDS="$PIDS $!"
	done
	BAD=0
	for p in $PIDS; do wait "$p" || BAD=$((BAD + 1)); done
	NAME=corpus-concurrent-$round
	if [ "$BAD" -eq 0 ]; then ok; else bad "$BAD of 6 failed: $(grep -hv '^added' "$D"/out* | head -3)"; fi
	SUM=$(sed -n 's/^added \([0-9]*\),.*/\1/p' "$D"/out* | awk '{s += $1} END {print s}')
	if [ "$SUM" = 150 ]; then ok; else bad "added $SUM in all, expected 150"; fi
	run corpus-concurrent-stats "$Q" index stats --home "$D/home"; out_has "documents   150"; out_has "passages    150"
	run corpus-concurrent-check "$Q" index check --home "$D/home"; rc_is 0; out_has "ok"
done

# A full disk (the home on a 1 MB tmpfs): the rolled-back batch is not
# counted as added; then, made read-only, the database can still be
# searched, listed and checked. Skipped without mount.
D="$CX/full"
mkdir -p "$D/m" "$D/small" "$D/big"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m tmpfs "$D/m" 2>/dev/null; then
	cp sample/pages/article.html "$D/small/"
	i=0
	while [ $i -lt 60 ]; do
		head -c 30000 /dev/urandom | base64 -w 80 | sed 's/^/word /' >"$D/big/f$i.txt"
		i=$((i + 1))
	done
	"$Q" index add --home "$D/m" "$D/small" >/dev/null 2>&1
	run corpus-full-counts "$Q" index add --home "$D/m" "$D/big"
	rc_is 1; err_has "disk is full"; out_has "added 0,"
	run corpus-full-ls "$Q" index ls --home "$D/m"; out_lacks "big/f"
	mount -o remount,ro "$D/m"
	run corpus-ro-search "$Q" search --home "$D/m" selective; rc_is 0; out_has "article.html"
	run corpus-ro-ls "$Q" index ls --home "$D/m"; rc_is 0; out_has "article.html"
	run corpus-ro-stats "$Q" index stats --home "$D/m"; rc_is 0; out_has "documents   1"
	run corpus-ro-check "$Q" index check --home "$D/m"; rc_is 0; out_has "read-only"
	printf 'new notes\n' >"$D/small/new.md"
	run corpus-ro-add "$Q" index add --home "$D/m" "$D/small"; rc_is 1; err_has "cannot write"
	umount "$D/m"
else
	SKIP=$((SKIP + 1)); echo "skip: corpus disk-full and read-only tests (cannot mount a tmpfs here)"
fi
# A 0444 database in a 0555 folder, searched by its (unprivileged) owner.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups "$Q" --version >/dev/null 2>&1; then
	D="$CX/ro444"
	mkdir -p "$D/home" "$D/docs"
	printf 'notes about glaciers\n' >"$D/docs/g.md"
	"$Q" index add --home "$D/home" "$D/docs" >/dev/null 2>&1
	chown -R 65534:65534 "$D/home"
	chmod 0444 "$D/home/quarry.db"
	chmod 0555 "$D/home"
	chmod 755 "$CX" "$D" "$TMP"
	run corpus-0444-search setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$Q" search --home "$D/home" glaciers
	rc_is 0; out_has "g.md"
	chmod 0755 "$D/home"
else
	SKIP=$((SKIP + 1)); echo "skip: corpus-0444-search (cannot run as an unprivileged user here)"
fi

# A damaged database has a way out: `index rebuild` moves it aside,
# copies what can be read (runs too), re-indexes the known files and
# says what was lost. Cases: a bad header, bytes flipped in middle pages,
# a file of random bytes.
D="$CX/damage"
mkdir -p "$D/docs"
i=0
while [ $i -lt 120 ]; do
	printf '# Note %d\n\nA note about lighthouse %d and the harbour.\n\n%s\n' "$i" "$i" \
		"$(head -c 900 /dev/urandom | base64 -w 0)" >"$D/docs/n$i.md"
	i=$((i + 1))
done
"$Q" index add --home "$D/good" "$D/docs" >/dev/null 2>&1
"$Q" research --home "$D/good" --sources corpus --no-llm 'lighthouse harbour' >/dev/null 2>&1
damaged_home() {   # damaged_home NAME OFFSET BYTES: a copy of the good home, damaged
	rm -rf "$D/$1"
	mkdir -p "$D/$1"
	cp "$D/good/quarry.db" "$D/$1/"
	head -c "$3" /dev/urandom | dd of="$D/$1/quarry.db" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
SZ=$(wc -c <"$D/good/quarry.db")
damaged_home hdr 0 16
run corpus-damaged-msg "$Q" search --home "$D/hdr" lighthouse; rc_is 1; err_has "'quarry index rebuild' moves the file aside"
run corpus-recover-header "$Q" index rebuild --home "$D/hdr"
rc_is 0; out_has "moved it to $D/hdr/quarry.db.damaged-"; out_has "header was unreadable"
out_has "recovered: 120 documents re-indexed"; out_has "1 runs"
run corpus-recover-header-check "$Q" index check --home "$D/hdr"; rc_is 0; out_has "ok"
run corpus-recover-header-search "$Q" search --home "$D/hdr" lighthouse; rc_is 0; out_has "n1"
run corpus-recover-header-runs "$Q" runs ls --home "$D/hdr"; rc_is 0; out_has "lighthouse harbour"
for k in 3 8 13; do
	damaged_home mid$k $(( SZ / 4096 * k / 16 * 4096 + 8 )) 64
	run corpus-recover-mid$k "$Q" index rebuild --home "$D/mid$k"; rc_is 0
	run corpus-recover-mid$k-check "$Q" index check --home "$D/mid$k"; rc_is 0; out_has "ok"
	run corpus-recover-mid$k-stats "$Q" index stats --home "$D/mid$k"; out_has "documents   120"
done
# Documents whose files are gone are named as lost.
damaged_home gone 0 16
mv "$D/docs/n7.md" "$D/n7.md"
run corpus-recover-gone "$Q" index rebuild --verbose --home "$D/gone"
rc_is 0; out_has "recovered: 119 documents"; out_has "lost: 1 document whose files are gone"; err_has "lost: $D/docs/n7.md"
mv "$D/n7.md" "$D/docs/n7.md"
mkdir -p "$D/random"
head -c 8192 /dev/urandom >"$D/random/quarry.db"
run corpus-recover-random "$Q" index rebuild --home "$D/random"; rc_is 0; out_has "nothing could be read"
run corpus-recover-random-check "$Q" index check --home "$D/random"; rc_is 0; out_has "ok"
