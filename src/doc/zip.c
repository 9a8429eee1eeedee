/*
 * zip.c - minimal in-memory ZIP member reader (see zip.h).
 */
#include "zip.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define EOCD_SIG 0x06054b50u
#define CDIR_SIG 0x02014b50u
#define LOCAL_SIG 0x04034b50u
#define EOCD_MIN 22
#define CDIR_MIN 46
#define LOCAL_MIN 30
/* Central directory entries we look at before giving up. */
#define MAX_ENTRIES 65535

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

int zip_sniff(const char *data, size_t len)
{
	return len >= 4 && rd32((const unsigned char *)data) == LOCAL_SIG;
}

int zip_inflate(const unsigned char *src, size_t n, int window_bits, struct qbuf *out, struct q_error *err)
{
	z_stream z;
	unsigned char chunk[32768];
	int zr;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, window_bits) != Z_OK)
		return q_error_set(err, Q_ENOMEM, "could not start decompression");
	z.next_in = (unsigned char *)src;
	z.avail_in = n > 0xFFFFFFFFu ? 0xFFFFFFFFu : (unsigned)n;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			inflateEnd(&z);
			return q_error_set(err, Q_EPARSE, "damaged compressed data");
		}
		if (qbuf_add(out, chunk, sizeof(chunk) - z.avail_out)) {
			inflateEnd(&z);
			return q_error_set(err, out->err, "decompressed content larger than %zu bytes",
					   out->max);
		}
		if (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0)
			break; /* input ended before the stream did */
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
	if (zr != Z_STREAM_END)
		return q_error_set(err, Q_EPARSE, "truncated compressed data");
	return 0;
}

static int read_entry(const unsigned char *z, size_t len, const unsigned char *cd, struct qbuf *out,
		      struct q_error *err)
{
	uint16_t method = rd16(cd + 10), flags = rd16(cd + 8);
	uint32_t csize = rd32(cd + 20), loff = rd32(cd + 42);
	const unsigned char *local;
	size_t data_off;

	if (flags & 1)
		return q_error_set(err, Q_EPARSE, "encrypted archives are not supported");
	if (csize == 0xFFFFFFFFu || loff == 0xFFFFFFFFu)
		return q_error_set(err, Q_EPARSE, "ZIP64 archives are not supported");
	if ((size_t)loff > len || len - loff < LOCAL_MIN)
		return q_error_set(err, Q_EPARSE, "damaged archive: bad local header offset");
	local = z + loff;
	if (rd32(local) != LOCAL_SIG)
		return q_error_set(err, Q_EPARSE, "damaged archive: bad local header");
	data_off = (size_t)loff + LOCAL_MIN + rd16(local + 26) + rd16(local + 28);
	if (data_off > len || len - data_off < csize)
		return q_error_set(err, Q_EPARSE, "damaged archive: member runs past the end");
	if (method == 0) {
		if (qbuf_add(out, z + data_off, csize))
			return q_error_set(err, out->err, "archive member too large");
		return 0;
	}
	if (method == 8)
		return zip_inflate(z + data_off, csize, -MAX_WBITS, out, err);
	return q_error_set(err, Q_EPARSE, "unsupported ZIP compression method %u", method);
}

int zip_read_member(const char *zip, size_t len, const char *name, struct qbuf *out, struct q_error *err)
{
	const unsigned char *z = (const unsigned char *)zip, *eocd = NULL, *p, *end;
	size_t i, name_len = strlen(name), stop;
	uint32_t cd_off, cd_size;
	unsigned entries, k;

	if (len < EOCD_MIN)
		return q_error_set(err, Q_EPARSE, "not a ZIP archive (too short)");
	/* The EOCD record sits in the last 64 KiB + 22 bytes. */
	stop = len > 65535 + EOCD_MIN ? len - 65535 - EOCD_MIN : 0;
	for (i = len - EOCD_MIN + 1; i-- > stop;) {
		if (rd32(z + i) == EOCD_SIG) {
			eocd = z + i;
			break;
		}
	}
	if (!eocd)
		return q_error_set(err, Q_EPARSE, "not a ZIP archive (no central directory)");
	entries = rd16(eocd + 10);
	cd_size = rd32(eocd + 12);
	cd_off = rd32(eocd + 16);
	if ((size_t)cd_off > len || len - cd_off < cd_size)
		return q_error_set(err, Q_EPARSE, "damaged archive: central directory out of range");
	p = z + cd_off;
	end = p + cd_size;
	for (k = 0; k < entries && k < MAX_ENTRIES; k++) {
		size_t n, extra, comment;

		if ((size_t)(end - p) < CDIR_MIN || rd32(p) != CDIR_SIG)
			return q_error_set(err, Q_EPARSE, "damaged archive: bad directory entry");
		n = rd16(p + 28);
		extra = rd16(p + 30);
		comment = rd16(p + 32);
		if ((size_t)(end - p) < CDIR_MIN + n + extra + comment)
			return q_error_set(err, Q_EPARSE, "damaged archive: directory entry too long");
		if (n == name_len && !memcmp(p + CDIR_MIN, name, n))
			return read_entry(z, len, p, out, err);
		p += CDIR_MIN + n + extra + comment;
	}
	return q_error_set(err, Q_EEMPTY, "archive has no %s", name);
}
