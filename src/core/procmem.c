/*
 * procmem.c - VmRSS and VmHWM of this process (see procmem.h).
 */
#include "procmem.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "err.h"

int q_procmem_read(struct q_procmem *out)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	struct rusage ru;

	memset(out, 0, sizeof(*out));
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "VmRSS:", 6))
				sscanf(line + 6, "%ld", &out->rss_kb);
			else if (!strncmp(line, "VmHWM:", 6))
				sscanf(line + 6, "%ld", &out->hwm_kb);
		}
		fclose(f);
	}
	if (!out->hwm_kb && getrusage(RUSAGE_SELF, &ru) == 0)
		out->hwm_kb = ru.ru_maxrss; /* KiB on Linux */
	return out->rss_kb || out->hwm_kb ? 0 : Q_EIO;
}
