/* The uploads verb and the periodic sweep of orphaned multipart uploads. */
#ifndef RGW2CLOUD_UPLOADS_H
#define RGW2CLOUD_UPLOADS_H

#include <stdbool.h>
#include <stddef.h>

struct sync;

/* Print our upload records and the target's uploads under our target paths
 * (one line each, "owned" or "orphan"); with abort_orphans, abort those no
 * record owns. MUST run when no copy is in flight (between passes): a copy
 * writes its record right after creating its upload. 0 or negative errno;
 * *orphans_left (may be NULL) counts orphans not aborted. */
int uploads_sweep(struct sync *s, bool abort_orphans, size_t *orphans_left);

#endif
