/* Target modules: where objects go (modules/<name>/).
 *
 * A module is a const ops table; an instance serves one target connection.
 * Operations are asynchronous on the sync's event loop: a call that returns
 * 0 has started and MUST call ev->done(ev, err) exactly once, later, from
 * the loop (never from inside the call). A call that returns a negative
 * errno has not started and MUST NOT call done. Events travel as one struct,
 * so adding a field breaks no module. */
#ifndef RGW2CLOUD_TARGET_H
#define RGW2CLOUD_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufpool;
struct s3_rate;
struct cfg_connection;
struct cfg_profile;
struct config;
struct loop;
struct s3_client;
struct state;

#define TARGET_ABI_1 1u

enum sync_op {
    SYNC_OP_COPY = 0,      /* write / link_olh: make the target hold the source object */
    SYNC_OP_REMOVE,        /* del: remove the target object if not newer */
    SYNC_OP_DELETE_MARKER, /* link_olh_del: the current object was deleted */
};

struct sync_event {
    enum sync_op op;

    /* the source object; src_s3 reads it (GET/HEAD as the system user) */
    struct s3_client *src_s3;
    const char *src_bucket;  /* as the source's S3 path wants it: "tenant:name" or "name" */
    const char *bucket_name; /* plain name, for logs and metadata */
    const char *key;
    const char *version_id; /* NULL or "" when unversioned */
    const char *timestamp;  /* bilog/listing mtime of the change (ISO or "sec.nsec") */
    const char *etag;       /* when known from a full sync's listing, else NULL (the
                             * module HEADs); with it, timestamp is the listing's mtime */
    uint64_t size;          /* valid when etag != NULL */
    uint64_t versioned_epoch;

    /* the target object */
    const char *dst_bucket;
    const char *dst_key;
    const char *dst_prefix;    /* the bucket's key prefix there: "" or "a/b" (no '/' at the end) */
    const char *storage_class; /* NULL = target's default */
    const struct cfg_profile *profile; /* ACL mapping and acl_mode; borrowed */

    /* outcome: 0 = the target holds what the source asked for (copied,
     * already there, or nothing to do because the source changed again and
     * a later log entry covers it); negative errno otherwise. */
    void (*done)(struct sync_event *ev, int err);
    void *ud;

    /* filled by the module for the caller's accounting */
    uint64_t bytes_sent;
    bool skipped;          /* the target already held this version */
    size_t grants_dropped; /* source grants without an ACL mapping, not sent */
    char *detail;          /* one line when err < 0 (malloc'd; the caller frees) */
    unsigned retries;      /* sends repeated after a retryable failure (parts, PUTs) */
};

struct target_env {
    struct loop *loop;
    const struct cfg_connection *conn; /* borrowed; outlives the instance */
    const struct config *cfg;          /* borrowed: s3.* and sync.* settings */
    struct state *st;                  /* borrowed: upload records (resume) */
    struct bufpool *pool;              /* borrowed: part buffers, shared budget */
    struct s3_rate *rate;              /* borrowed: sync.bandwidth_limit, shared; NULL: none */
    bool dry_run;                      /* MUST NOT write anything */
};

struct target_ops {
    uint32_t abi;     /* TARGET_ABI_1 */
    const char *name; /* "s3", "log" */
    /* Create an instance for env->conn. 0 or negative errno + err_set(). */
    int (*create)(const struct target_env *env, void **inst);
    /* MUST accept NULL. No operation may be in flight. */
    void (*destroy)(void *inst);
    int (*sync_object)(void *inst, struct sync_event *ev);
    int (*remove_object)(void *inst, struct sync_event *ev);
    /* MAY be NULL: then remove_object is used. */
    int (*create_delete_marker)(void *inst, struct sync_event *ev);
};

extern const struct target_ops target_s3;
extern const struct target_ops target_log;

/* By name; NULL with err_set() listing the known names when unknown. */
const struct target_ops *target_find(const char *name);

#endif
