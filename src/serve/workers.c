/*
 * workers.c - start and stop the `quarry worker` processes of a server.
 */
#include "../core/alloc.h"
#include "workers.h"

struct serve_workers {
	int n;
};

int serve_workers_start(struct serve_workers **out, const char *home, int n, struct q_error *err)
{
	*out = NULL;
	(void)home;
	(void)n;
	(void)err;
	return 0;
}

void serve_workers_stop(struct serve_workers *w)
{
	q_free(w);
}
