/*
 * fakenet.h - what the tests' local servers (fakeweb, fakellm) share:
 * a loopback listener that writes its port to a file and hands each
 * connection to a thread, and a send that survives short writes.
 */
#ifndef Q_FAKENET_H
#define Q_FAKENET_H

#include <stddef.h>

/* Send all n bytes (no SIGPIPE); 0, or -1 when the peer went away. */
int fake_write_all(int fd, const void *p, size_t n);

/*
 * Listen on 127.0.0.1 at a free port, store it in *port and write it to
 * portfile, then serve forever: each connection goes to handle(fd) on a
 * detached thread. The process exits after lifetime_s seconds, so a test
 * that dies cannot leave a server behind. Returns 1 only on failure.
 */
int fake_serve(const char *name, const char *portfile, unsigned lifetime_s, void *(*handle)(void *),
	       unsigned *port);

#endif
