/*
 * routes_docs.c - the corpus API: search, upload, list and remove documents.
 */
#include "serve_int.h"

const struct serve_route serve_docs_routes[] = {
	{NULL, NULL, NULL, 0, NULL}
};
