/* The dry-run verb (CONFIG.md): plan every object of the source with the
 * rules the sync applies, without writing anything anywhere.
 *
 * Every current bucket instance (or only one bucket) is listed shard by
 * shard, one page at a time (memory is bounded by a page, never the
 * bucket). Each entry that is the latest of its key gets one plan:
 *   exclude  the bucket's profile excludes it (no target request)
 *   create   the target has no object at the key (HEAD 404)
 *   skip     the target already holds this source etag + mtime
 *            (x-amz-meta-rgwx-source-etag / -source-mtime, as the copy checks)
 *   update   the target holds something else at the key
 *   delete   a latest delete marker, and the target holds the key (not newer
 *            than the marker); a latest delete marker with nothing there is skip
 * Grants are the ones the copy would send (create/update only; [] otherwise):
 * the source ?acl mapped through the profile, or the canned one for
 * acl_mode bucket-owner-full-control. "parts" is 1 for a single PUT, or
 * {"count":N,"size":S} when size >= s3.multipart_sync_threshold (the
 * multipart plan on that connection); null for delete markers and excluded objects.
 *
 * Read-only everywhere: target HEADs only (no bucket created), source reads
 * only, and the state is opened only when its file exists, to read the sid
 * (without one, ${sid} stays literally "${sid}" in target paths and the
 * summary says so). */
#ifndef RGW2CLOUD_DRYRUN_H
#define RGW2CLOUD_DRYRUN_H

#include <stdbool.h>

struct config;

/* bucket: NULL = every bucket, else "[tenant/]name" (its current
 * instance). json: one compact JSON object per object on stdout and
 * nothing else there (the summary goes to stderr); else a table and the
 * summary on stdout.
 * Returns the exit code: 0 planned everything, 1 the source or a target
 * failed or a bucket could not be mapped (one line each on stderr), 2 the
 * config has no source. */
int dryrun_run(const struct config *cfg, const char *bucket, bool json);

#endif
