/*
 * routes_research.c - the research API: start, read, list and cancel runs,
 * and their events as Server-Sent Events.
 */
#include "../core/qbuf.h"
#include "serve_int.h"

void serve_metrics_runs(struct serve *s, struct qbuf *b)
{
	(void)s;
	(void)b;
}

const struct serve_route serve_research_routes[] = {
	{NULL, NULL, NULL, 0, NULL}
};
