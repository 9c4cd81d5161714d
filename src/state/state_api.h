/* The sync state: where we are in the source's logs and what is unfinished.
 *
 * A backend is a const ops table (like Knot's kr_cdb_api). `sqlite` is the
 * embedded default (one file, WAL); `rados` keeps it in the omap of one
 * object, so that several exporters (or a standby) can share it. Every write is durable when the call returns 0:
 * callers rely on that ("the datalog marker may move only after the retry
 * record is stored"). Strings in the structs below are heap strings owned by
 * the struct; *_finish() frees them and accepts zeroed structs.
 *
 * Records: *_put() inserts or replaces the whole record (a NULL string field
 * is stored as ""; a NULL key is -EINVAL). *_get() overwrites *out, which
 * need not be initialised, and leaves it untouched on error; every string it
 * returns is non-NULL. Deleting an absent record is not an error.
 *
 * Markers are opaque strings. Comparisons, where a backend must make them
 * (retry timestamps), are plain byte-string comparisons, as RGW's. */
#ifndef RGW2CLOUD_STATE_API_H
#define RGW2CLOUD_STATE_API_H

#include <stdbool.h>
#include <stdint.h>

struct config;

#define STATE_ABI_1 1u

/* One datalog shard of the source. */
enum state_dl_phase { STATE_DL_INIT = 0, STATE_DL_FULL, STATE_DL_INCREMENTAL };
struct state_dl_shard {
    int shard;
    enum state_dl_phase phase;
    char *marker;      /* last datalog entry fully handled ("" = from the start) */
    char *full_marker; /* the shard's max marker recorded at init: incremental starts there */
    int64_t last_change; /* unix seconds of the newest entry seen, 0 = none */
    int64_t updated;     /* unix seconds of the last write of this record:
                            set by the backend on put, ignored on input */
};

/* One bucket-index shard ("[tenant/]name:instance:shard", shard omitted
 * when unsharded — RGW's rgw_bucket_shard::get_key()). */
enum state_bs_phase { STATE_BS_INIT = 0, STATE_BS_FULL, STATE_BS_INCREMENTAL, STATE_BS_STOPPED };
struct state_bs {
    char *key;
    enum state_bs_phase phase;
    char *inc_marker;   /* bilog position: entries after it are not yet applied */
    char *full_key;     /* full sync: listing resumes after this key ... */
    char *full_version; /* ... and version id ("" when none) */
    uint64_t full_count; /* objects handled in full sync so far */
    int64_t updated;     /* as in state_dl_shard: set by the backend on put */
};

/* A bucket shard whose sync failed: retried with backoff until it works. */
struct state_retry {
    char *key;        /* bucket shard key */
    char *timestamp;  /* the datalog entry's timestamp that asked for it; kept max */
    int64_t next_try; /* unix seconds */
    int attempts;
    char *last_error; /* one line, for status */
};

/* Resume state of one multipart upload (the transfer engine's). */
struct state_upload {
    char *id;             /* "<bucket instance>/<key>/<version>": the record's key */
    char *src_bucket;
    char *src_key;
    char *src_version;    /* "" when unversioned */
    char *src_etag;
    char *src_mtime;      /* "sec.nsec" */
    uint64_t size;
    char *target;         /* connection id or endpoint */
    char *dst_bucket;
    char *dst_key;
    char *upload_id;
    uint64_t part_size;
    char *parts_json;     /* [{"n":1,"etag":"..."},...] of finished parts */
    int64_t started;
};

typedef int (*state_dl_fn)(void *ud, const struct state_dl_shard *s);
typedef int (*state_bs_fn)(void *ud, const struct state_bs *bs);
typedef int (*state_retry_fn)(void *ud, const struct state_retry *r);
typedef int (*state_upload_fn)(void *ud, const struct state_upload *u);

/* All calls return 0 or a negative errno, detail in err_get():
 * -ENOENT no such record; -EINVAL bad argument (NULL key); -ENOMEM;
 * -EAGAIN the store stayed locked by another process (or instance) past the
 * backend's wait: retryable, nothing was written; -EACCES the store is
 * read-only to us; -ENOSPC; -EIO any other storage failure.
 * List callbacks get borrowed structs valid during the call; a nonzero
 * return stops the walk and is returned. A callback MAY call any op on the
 * same instance (a write made there is durable as usual); records written
 * during a walk may or may not be visited by it. A walk does not see one
 * snapshot: records written by others meanwhile may or may not be visited.
 * A backend instance is used by one thread at a time; several instances
 * (and processes) MAY open the same store at once. */
struct state_ops {
    uint32_t abi;     /* STATE_ABI_1 */
    const char *name; /* "sqlite" */

    /* Open (creating when absent) what cfg->state names. -EPROTO: the store
     * is not ours or was written by a newer version. */
    int (*open)(const struct config *cfg, void **inst);
    void (*close)(void *inst); /* MUST accept NULL */

    /* Small named values: "sid" (our sync instance id), period/zone ids...
     * *value is a heap string for the caller to free(). */
    int (*meta_get)(void *inst, const char *name, char **value);
    int (*meta_put)(void *inst, const char *name, const char *value);

    int (*dl_get)(void *inst, int shard, struct state_dl_shard *out);
    int (*dl_put)(void *inst, const struct state_dl_shard *s);
    int (*dl_list)(void *inst, state_dl_fn fn, void *ud); /* ascending shard */

    int (*bs_get)(void *inst, const char *key, struct state_bs *out);
    int (*bs_put)(void *inst, const struct state_bs *bs);
    int (*bs_del)(void *inst, const char *key);
    /* Walk bucket shards whose key starts with prefix (NULL or "" = all), by key. */
    int (*bs_list)(void *inst, const char *prefix, state_bs_fn fn, void *ud);

    /* Insert or update; the stored timestamp becomes max(stored, r->timestamp). */
    int (*retry_put)(void *inst, const struct state_retry *r);
    /* The record of key; -ENOENT when it has none. */
    int (*retry_get)(void *inst, const char *key, struct state_retry *out);
    /* Remove key if the stored timestamp <= timestamp (NULL: unconditionally):
     * a retry that started before a newer failure must not erase it.
     * 0 also when nothing was removed. */
    int (*retry_del)(void *inst, const char *key, const char *timestamp);
    /* Walk records with next_try <= due (due < 0: all), by next_try. */
    int (*retry_list)(void *inst, int64_t due, state_retry_fn fn, void *ud);
    int (*retry_count)(void *inst, uint64_t *count); /* all records, due or not */

    int (*upload_get)(void *inst, const char *id, struct state_upload *out);
    int (*upload_put)(void *inst, const struct state_upload *u);
    int (*upload_del)(void *inst, const char *id);
    int (*upload_list)(void *inst, state_upload_fn fn, void *ud); /* by id */

    /* Group writes so they become durable together (or not at all); other
     * writers wait until commit or abort. Nesting is not supported: -EINVAL
     * from txn_begin inside a transaction, and from txn_commit outside one.
     * When txn_commit fails nothing of the transaction is stored.
     * txn_abort discards every write since txn_begin; a no-op outside a
     * transaction. */
    int (*txn_begin)(void *inst);
    int (*txn_commit)(void *inst);
    void (*txn_abort)(void *inst);
};

/* An open backend: its ops and instance. */
struct state {
    const struct state_ops *ops;
    void *inst;
};

extern const struct state_ops state_sqlite_ops;
extern const struct state_ops state_rados_ops;

/* Open the backend cfg->state names; *out is untouched on error. -ENOENT
 * (with a message listing the known names) for an unknown backend,
 * -ENOTSUP for one this build does not have yet; else the backend's open(). */
int state_open(struct state *out, const struct config *cfg);
void state_close(struct state *st); /* accepts zeroed */

void state_dl_shard_finish(struct state_dl_shard *s);
void state_bs_finish(struct state_bs *bs);
void state_retry_finish(struct state_retry *r);
void state_upload_finish(struct state_upload *u);

#endif
