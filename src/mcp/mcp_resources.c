/*
 * mcp_resources.c - reports of stored runs as MCP resources,
 * quarry://runs/{id}/report (Markdown), read through the run store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../research/runstore.h"
#include "mcp_int.h"

#define RESOURCES_LIST_MAX 100 /* the newest runs resources/list shows */
#define RESOURCE_URI_PREFIX "quarry://runs/"
#define RESOURCE_URI_SUFFIX "/report"

json_t *mcp_resource_templates(void)
{
	return json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "uriTemplate",
			 RESOURCE_URI_PREFIX "{id}" RESOURCE_URI_SUFFIX, "name", "run-report", "title",
			 "Report of a research run", "description",
			 "The Markdown report of quarry research run {id} (see list_runs)", "mimeType",
			 "text/markdown");
}

json_t *mcp_resources_list(const struct mcp_env *env, struct q_error *why)
{
	struct runstore *rs = NULL;
	struct runstore_filter f;
	struct run_record *v = NULL;
	json_t *list = NULL, *r;
	char uri[64], name[80];
	size_t n = 0, i;

	memset(&f, 0, sizeof(f));
	f.status = RUN_DONE;
	f.limit = RESOURCES_LIST_MAX;
	if (runstore_open(&rs, env->home, why) || runstore_list(rs, &f, &v, &n, why))
		goto out;
	list = json_array();
	for (i = 0; list && i < n; i++) {
		snprintf(uri, sizeof(uri), RESOURCE_URI_PREFIX "%ld" RESOURCE_URI_SUFFIX, v[i].id);
		snprintf(name, sizeof(name), "run-%ld-report", v[i].id);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "uri", uri, "name", name,
						      "title", v[i].question ? v[i].question : "", "mimeType",
						      "text/markdown"));
	}
	r = json_pack("{s:o}", "resources", list);
	list = r;
out:
	runstore_list_free(v, n);
	runstore_close(rs);
	return list;
}

/* The run id of a quarry://runs/{id}/report address, 0 if it is none. */
static long uri_run_id(const char *uri)
{
	const char *p;
	char *end;
	long id;

	if (strncmp(uri, RESOURCE_URI_PREFIX, strlen(RESOURCE_URI_PREFIX)))
		return 0;
	p = uri + strlen(RESOURCE_URI_PREFIX);
	if (*p < '1' || *p > '9')
		return 0;
	id = strtol(p, &end, 10);
	if (id <= 0 || id > 1000000000L || strcmp(end, RESOURCE_URI_SUFFIX))
		return 0;
	return id;
}

json_t *mcp_resource_read(const struct mcp_env *env, const char *uri, int *code, struct q_error *why)
{
	struct runstore *rs = NULL;
	struct run_record rec;
	long id = uri_run_id(uri);
	json_t *out = NULL;
	int rc;

	memset(&rec, 0, sizeof(rec));
	*code = MCP_RESOURCE_NOT_FOUND;
	if (!id) {
		q_error_set(why, Q_ENOTFOUND,
			    "no such resource: quarry serves " RESOURCE_URI_PREFIX "{id}" RESOURCE_URI_SUFFIX);
		return NULL;
	}
	if (runstore_open(&rs, env->home, why)) {
		*code = MCP_INTERNAL_ERROR;
		return NULL;
	}
	rc = runstore_get(rs, id, 1, &rec, why);
	if (rc) {
		if (rc != Q_ENOTFOUND)
			*code = MCP_INTERNAL_ERROR;
		else
			q_error_set(why, rc, "there is no run %ld", id);
		goto out;
	}
	if (!rec.report_md) {
		q_error_set(why, Q_ENOTFOUND, "run %ld has no report (it is %s)", id,
			    run_status_name(rec.status));
		goto out;
	}
	out = json_pack("{s:[{s:s, s:s, s:s}]}", "contents", "uri", uri, "mimeType", "text/markdown", "text",
			rec.report_md);
	if (!out)
		*code = MCP_INTERNAL_ERROR;
out:
	run_record_release(&rec);
	runstore_close(rs);
	return out;
}
