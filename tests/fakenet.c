/* fakenet.c - see fakenet.h. */
#include "fakenet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int fake_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

int fake_serve(const char *name, const char *portfile, unsigned lifetime_s, void *(*handle)(void *),
	       unsigned *port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int s, one = 1;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(lifetime_s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0) {
		perror(name);
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 64) ||
	    getsockname(s, (struct sockaddr *)&a, &alen)) {
		perror(name);
		return 1;
	}
	*port = ntohs(a.sin_port);
	f = fopen(portfile, "w");
	if (!f) {
		perror(portfile);
		return 1;
	}
	fprintf(f, "%u\n", *port);
	fclose(f);
	for (;;) {
		pthread_t t;
		int c = accept(s, NULL, NULL);

		if (c < 0)
			continue;
		if (pthread_create(&t, NULL, handle, (void *)(long)c) == 0)
			pthread_detach(t);
		else
			close(c);
	}
}
