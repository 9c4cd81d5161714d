/* Inside the zone follower: what sync.c, bucket.c and status.c share. */
#ifndef RGW2CLOUD_SYNC_INT_H
#define RGW2CLOUD_SYNC_INT_H

#include "source/rgw.h"
#include "state/state_api.h"
#include "sync/target.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct bufpool;
struct s3_rate;
struct config;
struct mapping_vars;
struct cfg_connection;
struct loop;
struct server;

/* A bucket the profiles name (follow.c): its instance as last read. */
struct follow_bucket {
    char *name;      /* "[tenant/]name", as the profile has it */
    char *bucket_id; /* NULL: none when last asked */
    int num_shards;  /* its index shards; 1 when unsharded or absent */
};

struct target_inst {
    const struct cfg_connection *conn;
    const struct target_ops *ops;
    void *inst;
};

/* Counters the listener's thread reads for /metrics. */
struct sync_stats {
    atomic_uint_fast64_t objects_copied;
    atomic_uint_fast64_t objects_skipped;
    atomic_uint_fast64_t objects_removed;
    atomic_uint_fast64_t bytes_sent;
    atomic_uint_fast64_t errors_source;
    atomic_uint_fast64_t errors_target;
    atomic_uint_fast64_t errors_other;
    atomic_uint_fast64_t retry_list;
    atomic_uint_fast64_t passes;
    atomic_uint_fast64_t grants_dropped;
    atomic_uint_fast64_t sends_retried;
};

/* Answers asked ahead for a group of bucket shards at once (RGW answers
 * each admin request ~40 ms late, so asking shard after shard starves the
 * copies); the shard's own sync takes its answer instead of asking, if it
 * is for the same position. Dropped after the group. */
struct bs_prefetch {
    char *bs_key;
    char *marker, *version; /* what the page was read after */
    bool has_info, has_objs, has_bl;
    struct rgw_bl_info info;  /* bilog position (a shard to init) */
    struct rgw_obj_page objs; /* first listing page (full sync) */
    struct rgw_bl_page bl;    /* first bilog page (incremental) */
};

#define PREFETCH_GROUP 32

struct sync {
    const struct config *cfg;
    struct config *owned_cfg; /* a reloaded snapshot (the first is the caller's) */
    struct loop *loop;
    struct state st;
    struct rgw_source *src;
    struct rgw_period period;
    char *sid;
    int num_shards;

    struct bufpool *pool; /* part buffers of every multipart copy */
    struct s3_rate *rate; /* sync.bandwidth_limit: bodies to all targets together */
    struct target_inst *targets;
    size_t ntargets;

    unsigned concurrency;
    size_t inflight; /* object operations started, not done */
    /* a re-listing runs: when it makes its next sync pass over the logs
     * (loop ms); 0 when none runs, or inside that pass */
    long long relist_pass_at;
    struct op *relist_ops; /* a re-listing's operations in flight (bucket.c) */

    /* the newest bucket instance read, reused across a batch */
    char *bucket_key;
    struct rgw_bucket bucket;

    struct sync_stats stats;

    struct bs_prefetch *prefetch;
    size_t nprefetch;

    /* notify: set by the listener's thread, read by the loop */
    pthread_mutex_t notify_lock;
    uint8_t *notified; /* one flag per datalog shard */
    bool any_notified;
    char **notified_keys; /* bucket shards a notify named, not yet synced */
    size_t nnotified_keys;

    /* the datalog shards read (follow.c): NULL = every one */
    uint8_t *follow;
    struct follow_bucket *followed;
    size_t nfollowed;
    bool follow_saved; /* follow is what the state holds */

    /* per datalog shard, for /metrics: seconds behind (-1 unknown) */
    _Atomic int64_t *shard_lag;

    struct server *server;
    volatile sig_atomic_t *stop;
};

/* Sync one bucket shard as far as its log goes: init, full or incremental
 * as its state says. 0 when caught up (or nothing to do: bucket gone,
 * excluded, sync stopped); a negative errno when some object failed or the
 * source could not be read; err_get() says what. Markers already stored
 * stay: the next attempt resumes there. */
int bucket_sync(struct sync *s, const char *bs_key);

/* Start the full sync of one bucket shard without waiting for its objects:
 * they run beside other shards' (bounded by sync.concurrency); positions
 * are stored page by page as pages finish; the shard goes incremental, or
 * to the retry list, once all its objects are done. Only for shards in
 * init or full sync (others: nothing to do). 0 = started or nothing to do;
 * negative = not started (the caller records a retry). */
int bucket_full_start(struct sync *s, const char *bs_key);

/* Start a re-listing of one bucket shard that follows its log
 * (sync.reconcile_interval): every object is compared with the target and
 * copied where it is missing or differs; no state is written. Others:
 * nothing to do. Failures are logged; the next re-listing tries again. */
int bucket_relist_start(struct sync *s, const char *bs_key);
/* Called between the shards and pages of a re-listing: every poll_interval
 * it lets the copies in flight finish and makes a sync pass over the logs.
 * 0, or -EINTR when stopping. */
int sync_relist_yield(struct sync *s);

/* Ask ahead, for bucket_full_start() of shards first..first+n-1 of b: the
 * bilog positions of those to init, then their first listing pages. For
 * bucket_sync() of bs_keys[0..n) at markers[i]: their first bilog pages.
 * Failures are left to the shards' own requests. */
int bucket_full_prefetch(struct sync *s, const struct rgw_bucket *b, int first, int n);
int bucket_bilog_prefetch(struct sync *s, char *const *bs_keys, char *const *markers, size_t n);
void bucket_prefetch_drop(struct sync *s);

/* A datalog shard's state; a shard never stored comes back as init. */
int sync_dl_load(struct sync *s, int shard, struct state_dl_shard *d);
/* Ends a transaction opened when txn: commits after r == 0, else drops it
 * (the shards stay where they were, and the step runs again). */
int sync_txn_end(struct sync *s, bool txn, int r);

/* follow.c: the datalog shards this config needs, asked again each pass
 * (s->follow); 0, or a negative errno when the source could not say. */
int follow_update(struct sync *s);
/* true when datalog shard `shard` is read */
bool sync_follows(const struct sync *s, int shard);
void follow_free(struct sync *s);
/* The daemon, now and then: each shard not read takes the source's end as
 * its marker, so that the source's trimming (which asks for our markers)
 * does not keep its log forever. Nothing in it is ours; when it joins the
 * set it starts from init again. */
int follow_mark_unread(struct sync *s);
/* The set the last pass stored: 1 and *set (malloc'd, one flag for each of
 * *n shards); 0 when every shard is read; or a negative errno. */
int follow_stored(struct state *st, uint8_t **set, int *n);

/* Record a failed bucket shard on the durable retry list (backoff). */
int sync_retry_record(struct sync *s, const char *bs_key, const char *timestamp, int err);

/* Drive the loop until fewer than `limit` object operations are in flight. */
void sync_wait_below(struct sync *s, size_t limit);

/* The target instance for a connection (created on first use). */
int sync_target(struct sync *s, const struct cfg_connection *conn, struct target_inst **out);

/* The target-path variables of bucket b in this zone (borrowed strings). */
void sync_mapping_vars(const struct sync *s, const struct rgw_bucket *b, struct mapping_vars *v);

/* Count an error by where it came from (source/target/other). */
void sync_count_error(struct sync *s, int err, bool target_side);

#endif
