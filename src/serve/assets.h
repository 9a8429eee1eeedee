/*
 * assets.h - the web UI's files, compiled into the binary by tools/embed.c
 * from src/serve/ui/ (the generated table is $(BUILD)/gen/ui_assets.c).
 */
#ifndef Q_ASSETS_H
#define Q_ASSETS_H

#include <stddef.h>

struct serve_asset {
	const char *path; /* "/app.js" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};

/* Ends with an entry whose path is NULL. */
extern const struct serve_asset serve_assets[];

#endif
