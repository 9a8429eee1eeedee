/*
 * sniff.c - text or binary, from a file's name and head (see sniff.h).
 *
 * The byte test: a NUL, or more than 1 byte in 100 being a C0 control
 * other than tab, newline, carriage return, form feed and escape, is
 * binary (random or compressed bytes have about 10%, UTF-8 and legacy
 * text none). Known magic numbers (ELF, PNG, JPEG, GIF, ZIP, gzip, PDF,
 * SQLite...) are binary whatever follows, so a file named README that is
 * really an archive is not read as text. A byte-order mark is text.
 */
#include "sniff.h"

#include <string.h>
#include <strings.h>

/* Extensions of text formats people keep notes, data and code in. */
static const char *const text_ext[] = {
	".rst",     ".org",   ".tex",   ".bib",  ".csv",  ".tsv",  ".json",  ".jsonl", ".xml",
	".yaml",    ".yml",   ".toml",  ".ini",  ".cfg",  ".conf", ".log",   ".adoc",  ".asciidoc",
	".textile", ".wiki",  ".pod",   ".man",  ".1",    ".5",    ".8",     ".diff",  ".patch",
	".srt",     ".vtt",   ".sql",   ".c",    ".h",    ".cc",   ".cpp",   ".cxx",   ".hpp",
	".hh",      ".m",     ".mm",    ".py",   ".pyi",  ".js",   ".mjs",   ".cjs",   ".ts",
	".tsx",     ".jsx",   ".go",    ".rs",   ".java", ".kt",   ".scala", ".swift", ".cs",
	".fs",      ".rb",    ".pl",    ".pm",   ".php",  ".lua",  ".r",     ".jl",    ".hs",
	".ml",      ".mli",   ".el",    ".lisp", ".scm",  ".clj",  ".erl",   ".ex",    ".exs",
	".dart",    ".zig",   ".nim",   ".v",    ".vhd",  ".sh",   ".bash",  ".zsh",   ".fish",
	".ps1",     ".bat",   ".cmake", ".mk",   ".mak",  ".css",  ".scss",  ".less",  ".proto",
	".graphql", ".ipynb", NULL};

/* Extensions that are never text: skipped without reading. */
static const char *const binary_ext[] = {
	".png",  ".jpg",   ".jpeg", ".gif",    ".webp",    ".bmp",  ".ico",  ".tif",  ".tiff", ".svg",
	".psd",  ".ps",    ".eps",  ".heic",   ".avif",    ".mp3",  ".ogg",  ".oga",  ".flac", ".wav",
	".m4a",  ".aac",   ".opus", ".mp4",    ".m4v",     ".mkv",  ".webm", ".avi",  ".mov",  ".wmv",
	".zip",  ".tar",   ".tgz",  ".xz",     ".bz2",     ".zst",  ".7z",   ".rar",  ".lz",   ".lzma",
	".deb",  ".rpm",   ".apk",  ".jar",    ".war",     ".iso",  ".img",  ".dmg",  ".so",   ".o",
	".a",    ".dylib", ".dll",  ".exe",    ".class",   ".pyc",  ".pyo",  ".wasm", ".woff", ".woff2",
	".ttf",  ".otf",   ".eot",  ".sqlite", ".sqlite3", ".db",   ".mo",   ".gmo",  ".bin",  ".dat",
	".pack", ".idx",   ".xls",  ".xlsx",   ".ppt",     ".pptx", ".doc",  ".odt",  ".ods",  ".odp",
	".epub", ".gpg",   ".pgp",  ".der",    ".p12",     NULL};

int sniff_name_ends_in(const char *path, const char *const *exts)
{
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	size_t n = strlen(name);
	int i;

	if (n > 3 && !strcasecmp(name + n - 3, ".gz"))
		n -= 3;
	for (i = 0; exts[i]; i++) {
		size_t e = strlen(exts[i]);
		if (n > e && !strncasecmp(name + n - e, exts[i], e))
			return 1;
	}
	return 0;
}

enum sniff_name sniff_name(const char *path)
{
	if (sniff_name_ends_in(path, binary_ext))
		return SNIFF_NAME_BINARY;
	if (sniff_name_ends_in(path, text_ext))
		return SNIFF_NAME_TEXT;
	return SNIFF_NAME_UNKNOWN;
}

static int has_magic(const unsigned char *d, size_t len)
{
	static const struct {
		const char *bytes;
		size_t n;
	} magic[] = {{"\x7f"
		      "ELF",
		      4},
		     {"\x89PNG", 4},
		     {"\xff\xd8\xff", 3},
		     {"GIF8", 4},
		     {"PK\x03\x04", 4},
		     {"\x1f\x8b", 2},
		     {"%PDF", 4},
		     {"SQLite format 3", 15},
		     {"\xfd"
		      "7zXZ",
		      5},
		     {"BZh", 3},
		     {"\x28\xb5\x2f\xfd", 4},
		     {"7z\xbc\xaf", 4},
		     {"Rar!", 4},
		     {"\xca\xfe\xba\xbe", 4},
		     {"\xcf\xfa\xed\xfe", 4},
		     {"OggS", 4},
		     {"RIFF", 4},
		     {"ID3", 3},
		     {"fLaC", 4},
		     {"\x00\x00\x01\xba", 4},
		     {"wOFF", 4},
		     {"!<arch>", 7},
		     {"%!PS", 4}};
	size_t i;

	for (i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if (len >= magic[i].n && !memcmp(d, magic[i].bytes, magic[i].n))
			return 1;
	return 0;
}

int sniff_is_text(const char *data, size_t len)
{
	const unsigned char *d = (const unsigned char *)data;
	size_t i, bad = 0;

	if (len > SNIFF_HEAD_BYTES)
		len = SNIFF_HEAD_BYTES;
	if (len == 0)
		return 0;
	if (len >= 3 && !memcmp(d, "\xEF\xBB\xBF", 3))
		return 1;
	if (has_magic(d, len))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = d[i];
		if (c == 0)
			return 0;
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b)
			bad++;
	}
	return bad * 100 <= len;
}
