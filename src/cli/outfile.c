/*
 * outfile.c - writing a command's result to the file named by -o.
 *
 * Three cases, because "write a file" means different things to the user:
 *  - "-" is standard output.
 *  - A regular file (or a symlink to one, or a name not yet taken) is
 *    written atomically: a temporary file in the directory of the resolved
 *    target, fsync, then rename over the target. A crash or full disk never
 *    leaves half a report, a symlink keeps pointing where it pointed (its
 *    target is replaced, not the link), and the file keeps its mode (and,
 *    when we may, its owner): a 0600 report stays 0600.
 *  - Anything else (a character device such as /dev/null or a terminal, a
 *    FIFO, a socket) is opened and written in place: renaming over it would
 *    replace /dev/null with a regular file when run as root.
 * Rejected: always opening with O_TRUNC (a failed write loses the old
 * report), and rename over the path as given (replaces symlinks and
 * devices, resets the mode).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

/* Write all of s[0..n) to fd, retrying short writes and EINTR. */
static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Open a non-regular file (device, FIFO) and write into it. */
static int write_in_place(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY), rc = -1, e;

	if (fd < 0)
		return -1;
	rc = write_all(fd, s, n);
	e = errno;
	if (close(fd) && rc == 0)
		rc = -1;
	else
		errno = e;
	return rc;
}

/* The directory part of path into dir (cap bytes): "." when it has none. */
static int dir_of(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	int len;

	if (!slash)
		len = snprintf(dir, cap, ".");
	else if (slash == path)
		len = snprintf(dir, cap, "/");
	else
		len = snprintf(dir, cap, "%.*s", (int)(slash - path), path);
	if (len < 0 || (size_t)len >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Temp file beside target, written, synced, given mode (and owner), renamed. */
static int write_atomic(const char *target, const struct stat *old, const char *s, size_t n)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 32];
	const char *base;
	int fd = -1, rc = -1, e = 0;
	mode_t mask;

	if (dir_of(target, dir, sizeof(dir)))
		return -1;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (snprintf(tmp, sizeof(tmp), "%s/.%.64s.XXXXXX", dir, base) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	if (old) {
		if (fchown(fd, old->st_uid, old->st_gid)) {
			/* not ours to give away: keep the mode at least */
		}
		if (fchmod(fd, old->st_mode & 07777))
			goto out;
	} else {
		mask = umask(0);
		umask(mask);
		if (fchmod(fd, 0666 & ~mask))
			goto out;
	}
	if (write_all(fd, s, n) || fsync(fd))
		goto out;
	if (close(fd)) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, target))
		goto out;
	rc = 0;
out:
	if (rc) {
		e = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		errno = e;
	}
	return rc;
}

int cli_write_output(const char *path, const char *s, size_t n, char *msg, size_t msg_cap)
{
	char resolved[PATH_MAX];
	struct stat st;
	int rc = -1;

	if (!strcmp(path, "-")) {
		if (fwrite(s, 1, n, stdout) != n || fflush(stdout)) {
			snprintf(msg, msg_cap, "cannot write to standard output: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(msg, msg_cap, "cannot write %s: it is a directory; name a file", path);
			return -1;
		}
		if (!S_ISREG(st.st_mode))
			rc = write_in_place(path, s, n);
		else if (!realpath(path, resolved))
			rc = -1;
		else
			rc = write_atomic(resolved, &st, s, n);
	} else if (errno == ENOENT && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		/* A dangling symlink: create its target through the link. */
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (fd >= 0) {
			rc = write_all(fd, s, n);
			if (close(fd))
				rc = -1;
		}
	} else if (errno == ENOENT) {
		rc = write_atomic(path, NULL, s, n);
	}
	if (rc)
		snprintf(msg, msg_cap, "cannot write %s: %s", path, strerror(errno));
	return rc;
}

int cli_output_check(const char *path, char *msg, size_t msg_cap)
{
	char dir[PATH_MAX];
	struct stat st;

	if (!strcmp(path, "-"))
		return 0;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(msg, msg_cap, "cannot write %s: it is a directory; name a file", path);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT || dir_of(path, dir, sizeof(dir)) || access(dir, W_OK | X_OK)) {
		snprintf(msg, msg_cap, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

const char *cli_format_from_path(const char *path)
{
	const char *dot, *slash;

	if (!path)
		return NULL;
	dot = strrchr(path, '.');
	slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return NULL;
	if (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm"))
		return "html";
	if (!strcasecmp(dot, ".json"))
		return "json";
	if (!strcasecmp(dot, ".md") || !strcasecmp(dot, ".markdown"))
		return "md";
	return NULL;
}
