/* The listener the source RGW talks to (DESIGN.md §2): our sync status, which
 * it asks before trimming its logs, the wake-ups it pushes, period pushes,
 * plus /metrics and /health. libmicrohttpd, one internal polling thread,
 * bound only to the configured "host:port".
 *
 * Routes (a trailing '/' on the path is ignored; the source sends
 * "/admin/log/?..."):
 *   GET  /admin/log?type=data&status&source-zone=ID          -> data_status
 *   GET  /admin/log?type=bucket-index&status&options=merge&bucket=KEY[&source-zone=]
 *                                                             -> bucket_status
 *   GET  /admin/log?type=metadata&status                      -> metadata_status
 *   POST /admin/log?type=data&notify[2][&source-zone=ID]      -> data_notify
 *   POST /admin/log?type=metadata&notify                      -> period_push
 *   POST /admin/realm/period[?period=&epoch=]                 -> period_push
 *   GET  /metrics (Prometheus text), GET /health              -> metrics, health
 * Every /admin/ request must be signed with the system key (auth.h, v2 or
 * v4), else 403 and a JSON S3 error ({"Code":"AccessDenied",...}); /metrics
 * and /health need no signature. Unknown paths 404; a known /admin path with
 * another method or type 405; bodies over SERVER_MAX_BODY 413.
 * The server is the one that decides about a refused signature or a failing
 * hook, so it logs them: a warning at most once a minute per kind (with the
 * count suppressed), debug otherwise. */
#ifndef RGW2CLOUD_SERVER_H
#define RGW2CLOUD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVER_MAX_BODY (1024 * 1024)

/* rgw_md_log_max_shards' default: how many mdlog shards the master has. */
#define SERVER_MDLOG_SHARDS_DEFAULT 64

struct server;

/* Every hook runs on the server's thread, concurrently with the rest of the
 * program: each MUST be thread-safe and SHOULD return quickly (the source
 * waits; the listener serves one request at a time). Every hook MAY be NULL.
 * A string a hook returns through char ** MUST be malloc'd (the server frees
 * it); the server_json_*() builders below produce exactly that.
 * A negative return is an error: -ENOENT answers 404, -EINVAL 400, anything
 * else 500; err_set() detail is logged (rate-limited), not sent. */
struct server_hooks {
    void *ud;

    /* Our rgw_data_sync_status for the source zone source_zone ("" if the
     * request named none): server_json_data_status(). NULL hook: 404, which
     * the source takes as "cannot trim the datalog" (safe: nothing we have
     * not read is dropped; the log grows). */
    int (*data_status)(void *ud, const char *source_zone, char **json);

    /* Our [rgw_bucket_shard_sync_info...] for bucket instance key
     * "[tenant/]name:instance_id" (the "bucket" parameter, else
     * "source-bucket"): server_json_bucket_status(). NULL hook: 404 (the
     * source keeps that bucket's bilog). */
    int (*bucket_status)(void *ud, const char *bucket_instance, char **json);

    /* Our rgw_meta_sync_status. NULL hook: we consume no mdlog, so the
     * answer is server_json_meta_status() at the realm epoch last given to
     * server_set_mdlog() or seen in a period push; none known yet: 503 (the
     * master then keeps its mdlog this round). */
    int (*metadata_status)(void *ud, char **json);

    /* Wake-up: these datalog shards changed (ids >= 0, deduplicated, n >= 1).
     * Bodies accepted: Pacific [{"key":shard,"val":["bs key",...]}], Quincy
     * notify2 [{"key":shard,"val":[{"key":..,"gen":..}]}], an object
     * {"shard":[...]} and a bare [shard,...]. Notifications never move
     * markers. MAY be NULL (then only counted). */
    void (*data_notify)(void *ud, const int *shards, size_t n);

    /* The same notify's bucket shard keys ("[tenant/]name:id[:shard]": the
     * "val" lists), deduplicated, n >= 1; called after data_notify. RGW's
     * datalog writes one entry per bucket shard per 30 s window, so a second
     * change within the window reaches the log late: the keys let the sync
     * act at once. Never moves markers. MAY be NULL. */
    void (*data_notify_keys)(void *ud, const char *const *keys, size_t n);

    /* The body of a period push (POST /admin/realm/period: a period JSON
     * object; re-read zone ids) or of a metadata notify (POST
     * /admin/log?type=metadata&notify: a JSON array of mdlog shard ids).
     * Always answered 200. body is NUL-terminated (len excludes it). */
    void (*period_push)(void *ud, const char *body, size_t len);

    /* Prometheus text exposition; the server appends its own
     * rgw2cloud_server_* counters. NULL hook: those counters only. */
    int (*metrics)(void *ud, char **text);

    /* 0: healthy, 200 with *text (or "ok" if left NULL); negative: 503 with
     * *text (or "unhealthy"). NULL hook: always 200 "ok". */
    int (*health)(void *ud, char **text);
};

/* Listen on "host:port" ("127.0.0.1:8088", "[::1]:0", "0.0.0.0:8088";
 * port 0 picks a free one, see server_port()) and serve requests signed with
 * access_key/secret (copied). hooks is copied. Returns 0, -EINVAL (bad listen
 * string or empty key), -EADDRINUSE / -EACCES / other bind errors, -ENOMEM,
 * -EIO (libmicrohttpd would not start); err_set() says which. */
int server_start(struct server **out, const char *listen, const char *access_key,
                 const char *secret, const struct server_hooks *hooks);

/* Stop the thread (waits for a running hook; none runs after this returns)
 * and free. Accepts NULL. */
void server_stop(struct server *s);

/* The port actually bound. */
int server_port(const struct server *s);

/* What the default metadata status reports (NULL metadata_status hook):
 * the source's CURRENT realm epoch ("realm_epoch" of GET /admin/realm/period,
 * not the period's own "epoch") and its rgw_md_log_max_shards (0 keeps the
 * previous value, initially SERVER_MDLOG_SHARDS_DEFAULT). Thread-safe. */
void server_set_mdlog(struct server *s, uint32_t realm_epoch, unsigned num_shards);

/* ---- status bodies in RGW's shapes (what the source's decode_json reads) ----
 * Times: sec/nsec since the epoch; 0/0 prints as RGW's zero time "0.000000".
 * All return 0 and a malloc'd NUL-terminated *out, -EINVAL, or -ENOMEM. */

/* One datalog shard, RGW's rgw_data_sync_marker. The source trims shard i up
 * to next_step_marker while full_sync, else up to marker: those MUST be
 * positions every entry up to which we have durably processed ("" = trim
 * nothing). */
struct server_dl_marker {
    bool full_sync;               /* "full-sync", else "incremental-sync" */
    const char *marker;           /* NULL = "" */
    const char *next_step_marker; /* NULL = "" */
    uint64_t total_entries;
    uint64_t pos;
    long long ts_sec; /* timestamp of the last entry processed */
    long ts_nsec;
};

/* rgw_data_sync_status {"info":{"status":"sync","num_shards":n,
 * "instance_id":..},"markers":[{"key":i,"val":{...}}...]} with m[i] the
 * marker of datalog shard i. n MUST be the source's datalog shard count:
 * Pacific's trimmer walks our markers positionally, so fewer markers than
 * shards let it trim the missing shards entirely, and more overrun it.
 * instance_id keeps its low 63 bits (JSON integers are signed here).
 * n == 0: -EINVAL. */
int server_json_data_status(char **out, const struct server_dl_marker *m, size_t n,
                            uint64_t instance_id);

enum server_bs_state {
    SERVER_BS_INIT = 0,    /* "init": the source may trim EVERYTHING */
    SERVER_BS_FULL_SYNC,   /* "full-sync" */
    SERVER_BS_INCREMENTAL, /* "incremental-sync" */
    SERVER_BS_STOPPED,     /* "stopped" */
};

/* One bucket-index shard, RGW's rgw_bucket_shard_sync_info. For any state
 * but INIT the source trims this bilog shard up to inc_position (also during
 * full sync: it MUST then be the bilog position recorded before the listing
 * began; "" = trim nothing). */
struct server_bs_status {
    enum server_bs_state state;
    const char *full_name; /* full_marker.position.{name,instance,ns}; NULL = "" */
    const char *full_instance;
    const char *full_ns;
    uint64_t full_count;
    const char *inc_position; /* bilog id; NULL = "" */
    long long inc_ts_sec;
    long inc_ts_nsec;
};

/* [rgw_bucket_shard_sync_info...] with s[i] for index shard i. n MUST be
 * the bucket instance's shard count (1 for an unsharded bucket); the source
 * refuses to trim on any other count. n == 0: -EINVAL. */
int server_json_bucket_status(char **out, const struct server_bs_status *s, size_t n);

/* rgw_meta_sync_status that lets the metadata master trim its whole mdlog:
 * {"info":{"status":"sync","num_shards":n,"period":..,"realm_epoch":E},
 * "markers":[{"key":i,"val":{"state":1,"marker":"99999999",...}}...]}.
 * "99999999" sorts after every cls_log marker (RGW's own "trim all"
 * max_marker). realm_epoch MUST be the master's current one: lower and it
 * trims nothing; higher and Pacific purges the current period's mdlog and
 * asserts. num_shards MUST be its rgw_md_log_max_shards. period MAY be NULL. */
int server_json_meta_status(char **out, uint32_t realm_epoch, const char *period,
                            unsigned num_shards);

#endif
