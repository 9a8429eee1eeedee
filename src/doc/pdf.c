/*
 * pdf.c - run pdftotext under limits (see pdf.h).
 *
 * Nothing may outlive a quarry that is killed with -9 mid-conversion:
 * the temporary copy of the PDF is unlinked as soon as it is created
 * (pdftotext reads it through the inherited descriptor, as /dev/fd/3),
 * and the child asks the kernel to SIGKILL it when its parent dies
 * (PR_SET_PDEATHSIG, then getppid() for a parent already gone). The
 * death signal follows the thread that forked, which waits for the child
 * before returning, so it fires only when quarry itself goes.
 */
#include "pdf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/clock.h"
#include "../core/qbuf.h"
#include "../core/utf8.h"

int pdf_sniff(const char *data, size_t len)
{
	return memmem(data, len < 1024 ? len : 1024, "%PDF-", 5) != NULL;
}

/* Find prog in $PATH; writes the full path into out. */
static int find_program(const char *prog, char *out, size_t out_size)
{
	const char *path = getenv("PATH");
	const char *p;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p;) {
		size_t n = strcspn(p, ":");
		int k = snprintf(out, out_size, "%.*s/%s", (int)n, p, prog);
		if (k > 0 && (size_t)k < out_size && access(out, X_OK) == 0)
			return 0;
		p += n;
		if (*p == ':')
			p++;
	}
	return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The descriptor pdftotext reads the PDF from, and its name. */
#define PDF_CHILD_FD 3
#define PDF_CHILD_PATH "/dev/fd/3"

/* In the child: close every descriptor from first up. quarry opens its own
 * close-on-exec, but libraries do not all (libcurl 7.88's sockets and its
 * multi handle's wakeup pair, descriptors quarry itself inherited), and any
 * of them held by pdftotext would keep a connection or a file alive.
 * close_range where the kernel has it (5.9+), else one close per possible
 * descriptor (only async-signal-safe calls after fork). */
static void close_inherited(int first)
{
	struct rlimit nofile;
	long fd, max = 4096;

	if (close_range((unsigned)first, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
		max = (long)nofile.rlim_cur;
	if (max > 65536)
		max = 65536;
	for (fd = first; fd < max; fd++)
		close((int)fd);
}

/* In the child: die with the parent, limits, stdout to the pipe, the PDF
 * on PDF_CHILD_FD, then exec. Never returns. */
static void child_exec(const char *prog, int pdf_fd, int out_fd, unsigned cpu_s, pid_t parent)
{
	struct rlimit cpu = {cpu_s, cpu_s + 1};
	struct rlimit mem = {PDF_MAX_MEMORY_BYTES, PDF_MAX_MEMORY_BYTES};
	struct rlimit core = {0, 0};
	char *const argv[] = {
		(char *)"pdftotext", (char *)"-q", (char *)"-enc", (char *)"UTF-8", (char *)PDF_CHILD_PATH,
		(char *)"-",         NULL};
	int devnull;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	setpgid(0, 0);
	setrlimit(RLIMIT_CPU, &cpu);
	setrlimit(RLIMIT_AS, &mem);
	setrlimit(RLIMIT_CORE, &core);
	dup2(out_fd, 1);
	/* dup2 clears close-on-exec, except onto itself. */
	if (pdf_fd == PDF_CHILD_FD)
		fcntl(pdf_fd, F_SETFD, 0);
	else if (dup2(pdf_fd, PDF_CHILD_FD) < 0)
		_exit(127);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 2);
	}
	close_inherited(PDF_CHILD_FD + 1);
	execv(prog, argv);
	_exit(127);
}

/* Read the child's output until EOF, the cap or the deadline. */
static int read_output(int fd, pid_t pid, long deadline, struct qbuf *text, struct q_error *err)
{
	char chunk[16384];

	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		long left = deadline - (long)q_now_ms();
		int pr;
		ssize_t r;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			return q_error_set(err, Q_ETIMEOUT, "pdftotext took too long; the PDF was abandoned");
		}
		pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno != EINTR)
			return q_error_set(err, Q_EIO, "reading pdftotext output failed");
		if (pr <= 0)
			continue;
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return q_error_set(err, Q_EIO, "reading pdftotext output failed");
		}
		if (r == 0)
			return 0;
		if (qbuf_add(text, chunk, (size_t)r)) {
			kill(-pid, SIGKILL);
			return q_error_set(err, Q_ETOOBIG, "PDF text is over %u bytes", PDF_MAX_TEXT_BYTES);
		}
	}
}

static void tidy_pdf_text(struct qbuf *raw, struct qbuf *out)
{
	size_t i;

	/* Form feeds separate pages; make them paragraph breaks. */
	for (i = 0; i < raw->len; i++)
		if (raw->data[i] == '\f')
			raw->data[i] = '\n';
	utf8_sanitize_append(out, qbuf_cstr(raw), raw->len);
	qbuf_rtrim(out, " \n");
}

int pdf_extract(const char *pdf, size_t len, unsigned timeout_s, struct doc *out, struct q_error *err)
{
	char prog[PATH_MAX], tmpl[PATH_MAX];
	const char *tmpdir = getenv("TMPDIR");
	struct qbuf raw, text;
	int fd = -1, pipefd[2] = {-1, -1}, status = 0, rc = Q_ESUBPROC;
	pid_t pid = -1, self = getpid();

	qbuf_init(&raw, PDF_MAX_TEXT_BYTES);
	qbuf_init(&text, PDF_MAX_TEXT_BYTES);
	if (!timeout_s)
		timeout_s = PDF_DEFAULT_TIMEOUT_S;
	if (find_program("pdftotext", prog, sizeof(prog)))
		return q_error_set(err, Q_ESUBPROC, "pdftotext not found: install poppler-utils to read PDFs");
	snprintf(tmpl, sizeof(tmpl), "%s/quarry-pdf-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return q_error_set(err, Q_EIO, "cannot create a temporary file in %s: %s",
				   tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(errno));
	unlink(tmpl); /* the descriptor keeps it; nothing is left if we die */
	if (write_all(fd, pdf, len)) {
		rc = q_error_set(err, Q_EIO, "cannot write temporary file: %s", strerror(errno));
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC)) {
		rc = q_error_set(err, Q_EIO, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = q_error_set(err, Q_ESUBPROC, "cannot start pdftotext: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(prog, fd, pipefd[1], timeout_s, self);
	close(pipefd[1]);
	pipefd[1] = -1;
	rc = read_output(pipefd[0], pid, (long)q_now_ms() + (long)timeout_s * 1000L, &raw, err);
	if (rc)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc)
		goto out;
	if (WIFSIGNALED(status)) {
		rc = q_error_set(err, Q_ESUBPROC, "pdftotext was killed by signal %d (CPU or memory limit)",
				 WTERMSIG(status));
		goto out;
	}
	if (WEXITSTATUS(status) == 127) {
		rc = q_error_set(err, Q_ESUBPROC, "could not run %s", prog);
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		rc = q_error_set(err, Q_EPARSE,
				 "pdftotext could not read this PDF (exit status %d): damaged or encrypted",
				 WEXITSTATUS(status));
		goto out;
	}
	tidy_pdf_text(&raw, &text);
	if (text.err) {
		rc = q_error_set(err, text.err, "PDF text too large");
		goto out;
	}
	out->text = qbuf_detach(&text, &out->text_len);
	rc = out->text ? 0 : Q_ENOMEM;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (fd >= 0)
		close(fd);
	qbuf_release(&raw);
	qbuf_release(&text);
	return rc;
}
