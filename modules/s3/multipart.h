/* Resumable parallel multipart copies for the S3 target module.
 *
 * One job copies one source object of known etag/mtime/size to the target
 * as a multipart upload, up to part_concurrency parts at a time, each
 * retried alone. A part streams: a ranged GET (If-Match: the source etag)
 * writes a small ring from the buffer pool, UploadPart reads it, so memory
 * is a ring per part in flight whatever the part size. The bytes are
 * hashed on their way, together with those of every other part in flight
 * (md5mb lanes, mp_hasher), and a part counts as sent only when the
 * target's ETag for it is their MD5: the check Content-MD5 makes, done
 * after the upload (a streamed part's MD5 is known only at its end); a
 * part that fails it is sent again before anything completes.
 *
 * The upload record (state backend) is written before the first part and
 * after each part, and deleted after a verified complete: after a crash or
 * an error, a job for the same, unchanged source object asks ListParts and
 * sends only what is missing. */
#ifndef RGW2CLOUD_MULTIPART_H
#define RGW2CLOUD_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufpool;
struct loop;
struct mp_hasher;
struct s3_client;
struct state;
struct sync_event;

struct mp_env {
    struct loop *loop;
    struct s3_client *dst;
    struct state *st;         /* upload records */
    struct bufpool *pool;     /* part rings */
    struct mp_hasher *hasher; /* NULL: each part hashed alone when read */
    const char *target_id;    /* the connection's id or endpoint, for records */
    uint64_t min_part;
    uint64_t provider_min;
    unsigned part_concurrency;
    bool etag_md5_of_parts; /* the target's ETag is md5-of-md5s "-N" (not COS) */
};

/* One per target instance: the parts of all its jobs are hashed together. */
int mp_hasher_new(struct mp_hasher **out, struct loop *loop);
void mp_hasher_free(struct mp_hasher *h); /* accepts NULL; no part in flight */

/* Called once, from the loop: 0 = the target holds the object; -ESTALE =
 * the source changed (the upload was aborted, nothing left behind); other
 * negative errno = failed, record kept for a later resume; *detail one
 * line (malloc'd) on failure. bytes_sent: the part bytes the target
 * confirmed; retries: part sends repeated after a retryable failure. */
typedef void (*mp_done_fn)(void *ud, int err, char *detail, uint64_t bytes_sent, unsigned retries);

/* Start the copy of ev's object (etag, mtime "sec.nsec", size given);
 * headers (name/value pairs, nheaders) go on CreateMultipartUpload. 0 =
 * started (done() later); negative = not started. */
int mp_start(const struct mp_env *env, const struct sync_event *ev, const char *etag,
             const char *mtime, uint64_t size, const char *const *headers, size_t nheaders,
             mp_done_fn done, void *ud);

#endif
