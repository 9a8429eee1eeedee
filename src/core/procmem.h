/*
 * procmem.h - this process's memory, for the figures of a run.
 *
 * Linux keeps two figures per process in /proc/self/status: VmRSS (the
 * resident set now) and VmHWM (its high-water mark since the process
 * started). Both are per process: runs that share one process (a worker
 * with -j N, the server) share them too. getrusage's ru_maxrss is VmHWM
 * under another name and is the fallback where /proc is not mounted.
 */
#ifndef Q_PROCMEM_H
#define Q_PROCMEM_H

/* Memory of this process in KiB. Thread-safe. */
struct q_procmem {
	long rss_kb; /* resident now; 0 if unknown */
	long hwm_kb; /* peak resident since the process started; 0 if unknown */
};

/* Read both (VmRSS, VmHWM; ru_maxrss when /proc/self/status cannot be
 * read). Returns 0, or Q_EIO when neither source answered (*out zeroed). */
int q_procmem_read(struct q_procmem *out);

#endif
