/* The source zone's RGW, read as its zonegroup's system user: the data log,
 * bucket-index logs, bucket metadata, shard listings and the period.
 * (research/rgw-sync-protocol.md §1; Pacific shapes, tolerant of later
 * releases: unknown fields are ignored, missing optional ones defaulted.)
 *
 * Every call is synchronous on the caller's loop (other transfers keep
 * moving while it waits). Errors: 0 or a negative errno; a body that is not
 * the JSON expected (a truncated stream included) is -EAGAIN: retryable.
 * Result structs are caller storage; *_finish() frees and accepts zeroed.
 *
 * The answers are read by pure parsers, rgw_parse_*(), that the calls use
 * and tests can feed: body[0..len) is the HTTP body (need not be
 * NUL-terminated; NULL with len 0 reads as empty). They zero *out first and
 * return 0, -EAGAIN with err_set() when the body is not JSON (a truncated
 * stream) or not the shape expected, or -ENOMEM; on error *out holds
 * nothing. Unknown fields are ignored, so later releases' additions pass. */
#ifndef RGW2CLOUD_RGW_H
#define RGW2CLOUD_RGW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct s3_client;

struct rgw_source;

/* endpoint/keys of the system user; the source is always path style. */
int rgw_source_new(struct rgw_source **out, struct loop *loop, const char *endpoint,
                   const char *access_key, const char *secret, const char *region);
void rgw_source_free(struct rgw_source *src); /* accepts NULL */
/* The S3 client to the source (object GET/HEAD, ?acl, ?tagging); borrowed. */
struct s3_client *rgw_source_s3(const struct rgw_source *src);

/* ---- period: who is who in the zonegroup */
struct rgw_period {
    char *period_id;
    uint64_t epoch;       /* the period's own epoch */
    uint64_t realm_epoch; /* the realm's: what peers report in metadata status */
    char *zonegroup_id;
    char *zonegroup_name;
    char *zone_id;    /* the zone asked for by name (ours), NULL if absent */
    char *master_zone_id;
};
/* GET /admin/realm/period: find zonegroup zg_name and zone zone_name in it. */
int rgw_period_get(struct rgw_source *src, const char *zg_name, const char *zone_name,
                   struct rgw_period *out);
void rgw_period_finish(struct rgw_period *p);

/* ---- datalog */
int rgw_datalog_num_shards(struct rgw_source *src, int *out);
/* The datalog shard a change of index shard `shard` (-1 or 0: unsharded) of
 * bucket `name` (bare, without its tenant) goes to, of num_shards: RGW's
 * RGWDataChangesLog::choose_oid, the same from Jewel to Squid. */
int rgw_datalog_shard_of(const char *name, int shard, int num_shards);

struct rgw_dl_info {
    char *marker;      /* "" for an empty shard */
    char *last_update; /* ISO time or "0.000000" */
};
int rgw_datalog_info(struct rgw_source *src, int shard, struct rgw_dl_info *out);
/* Shards 0..n-1 (those with want[i], or all when want is NULL) at once:
 * RGW answers admin requests with a Nagle-delayed body (~40 ms each on
 * loopback), so asking 128 shards one by one is slow. Drives the source's
 * loop until every answer is in (others' transfers move meanwhile).
 * infos[i] / errs[i] (0 or negative errno) per shard; unasked ones zeroed.
 * The caller finishes every infos[i]. */
void rgw_datalog_info_many(struct rgw_source *src, int n, const bool *want,
                           struct rgw_dl_info *infos, int *errs);
void rgw_dl_info_finish(struct rgw_dl_info *i);
/* The answer to GET /admin/log?type=data&id=N&info: {"marker","last_update"}. */
int rgw_parse_dl_info(const char *body, size_t len, struct rgw_dl_info *out);

struct rgw_dl_entry {
    char *log_id;    /* this entry's marker */
    char *timestamp; /* log_timestamp */
    char *key;       /* bucket shard key: "[tenant/]name:instance[:shard]" */
};
struct rgw_dl_page {
    struct rgw_dl_entry *entries;
    size_t n;
    char *marker; /* last entry returned; "" when none */
    bool truncated;
};
/* Entries after marker ("" = from the start), at most max (<= 1000). */
int rgw_datalog_list(struct rgw_source *src, int shard, const char *marker, int max,
                     struct rgw_dl_page *out);
void rgw_dl_page_finish(struct rgw_dl_page *p);
/* The answer to a datalog list with extra-info=true:
 * {"marker","truncated","entries":[{"log_id","log_timestamp","entry":{"key",..}}]}.
 * Markers (omap, FIFO, "G<gen>@" prefixed) are opaque and copied as given.
 * An entry without log_id or key is a shape error; an empty page keeps the
 * answer's marker (RGW sends ""), a non-empty one with marker "" takes the
 * last log_id. */
int rgw_parse_dl_page(const char *body, size_t len, struct rgw_dl_page *out);

/* The first page after markers[i] of many shards at once, as
 * rgw_datalog_info_many() does; pages[i] belong to the caller. */
void rgw_datalog_list_many(struct rgw_source *src, int n, const bool *want,
                           const char *const *markers, int max, struct rgw_dl_page *pages,
                           int *errs);

/* ---- bucket-index log (one bucket shard) */
struct rgw_bl_info {
    char *max_marker; /* "" when the shard has no entries */
    bool syncstopped;
};
int rgw_bilog_info(struct rgw_source *src, const char *bs_key, struct rgw_bl_info *out);
/* bs_keys[i] (those with want[i], or all) at once, as rgw_datalog_info_many()
 * does; infos[i] / errs[i] per key, the caller finishes every infos[i]. */
void rgw_bilog_info_many(struct rgw_source *src, int n, const bool *want,
                         const char *const *bs_keys, struct rgw_bl_info *infos, int *errs);
void rgw_bl_info_finish(struct rgw_bl_info *i);
/* The answer to GET /admin/log?type=bucket-index&bucket-instance=K&info.
 * max_marker: bare for one shard; "0#<m>" (an unsharded bucket) gives <m>;
 * a composite "0#<m0>,1#<m1>,..." (a whole sharded bucket) is kept whole. */
int rgw_parse_bl_info(const char *body, size_t len, struct rgw_bl_info *out);

enum rgw_bl_op {
    RGW_BL_UNKNOWN = 0,
    RGW_BL_WRITE,
    RGW_BL_DEL,
    RGW_BL_CANCEL,
    RGW_BL_LINK_OLH,
    RGW_BL_LINK_OLH_DEL,
    RGW_BL_UNLINK_INSTANCE,
    RGW_BL_SYNCSTOP,
    RGW_BL_RESYNC,
};
struct rgw_bl_entry {
    char *id;       /* op_id with any "<shard>#" prefix removed: the marker */
    enum rgw_bl_op op;
    char *object;   /* the index key as logged (may be "__x" escaped or "_ns_x") */
    char *instance; /* "" or "null" for unversioned */
    bool complete;  /* state == "complete" */
    char *timestamp; /* ns precision, ISO */
    int64_t ver_pool;
    uint64_t ver_epoch;
    bool versioned;
    char **zones_trace; /* "entry" strings */
    size_t nzones_trace;
};
struct rgw_bl_page {
    struct rgw_bl_entry *entries;
    size_t n;
};
/* Entries after marker; Pacific has no truncated flag: a page shorter than
 * max is the end. */
int rgw_bilog_list(struct rgw_source *src, const char *bs_key, const char *marker, int max,
                   struct rgw_bl_page *out);
/* The first page after markers[i] of many bs_keys[i] at once, as
 * rgw_datalog_info_many() does; the caller finishes every pages[i]. */
void rgw_bilog_list_many(struct rgw_source *src, int n, const bool *want,
                         const char *const *bs_keys, const char *const *markers, int max,
                         struct rgw_bl_page *pages, int *errs);
void rgw_bl_page_finish(struct rgw_bl_page *p);
/* The answer to a bilog list: a bare array of entries (Pacific) or
 * {"entries":[...],..} (Quincy+ format-ver=2). An entry without op_id or
 * object is a shape error; an unknown op is RGW_BL_UNKNOWN; a missing state
 * counts as complete. */
int rgw_parse_bl_page(const char *body, size_t len, struct rgw_bl_page *out);

/* Parse a bilog index key: "__x" -> "x" (escaped leading '_'); "_ns_x" ->
 * "x" and *namespaced true (multipart parts, shadow objects: not objects of
 * their own); anything else is the name as is. *name_out malloc'd. */
int rgw_index_key_parse(const char *index_key, char **name_out, bool *namespaced);

/* ---- bucket metadata */
struct rgw_keys {
    char **keys;
    size_t n;
    char *marker; /* NULL when not truncated */
    bool truncated;
};
/* One page of bucket.instance keys ("[tenant/]name:id"). */
int rgw_bucket_instances(struct rgw_source *src, const char *marker, struct rgw_keys *out);
void rgw_keys_finish(struct rgw_keys *k);

#define RGW_BUCKET_VERSIONED 0x2u /* BUCKET_VERSIONED in bucket_info flags */
struct rgw_bucket {
    char *tenant; /* "" when none */
    char *name;
    char *bucket_id;
    char *owner;
    int num_shards; /* 0 = unsharded */
    uint32_t flags;
};
/* instance_key "[tenant/]name:id". -ENOENT when the instance is gone. */
int rgw_bucket_instance_get(struct rgw_source *src, const char *instance_key,
                            struct rgw_bucket *out);
/* The answer to GET /admin/metadata/bucket.instance?key=K:
 * data.bucket_info.{bucket{tenant,name,bucket_id},owner,num_shards,flags}.
 * owner is taken as a string (Pacific: "id" or "tenant$id") or an object's
 * "id"; a missing num_shards or flags is 0. */
int rgw_parse_bucket_instance(const char *body, size_t len, struct rgw_bucket *out);
/* The current instance id of bucket "[tenant/]name" into *bucket_id. */
int rgw_bucket_current(struct rgw_source *src, const char *bucket, char **bucket_id);
void rgw_bucket_finish(struct rgw_bucket *b);

/* "tenant/name" or "name": how profiles name a bucket (into out, size). */
void rgw_bucket_qualified(char *out, size_t size, const struct rgw_bucket *b);
/* "tenant:name" or "name": the bucket in the source's S3 paths. malloc'd. */
char *rgw_bucket_path(const struct rgw_bucket *b);

/* "[tenant/]name:id[:shard]" for b and shard (-1 = unsharded). malloc'd. */
char *rgw_bs_key(const struct rgw_bucket *b, int shard);
/* Split a bucket shard key into tenant ("" when none), name, id and shard
 * (-1 when absent), all malloc'd. -EINVAL (err_set) when the name or the id
 * is empty or the shard is not a number in 0..65535; then nothing is set. */
int rgw_bs_key_parse(const char *bs_key, char **tenant, char **name, char **bucket_id,
                     int *shard);

/* ---- full-sync listing of one bucket shard */
struct rgw_obj {
    char *key;
    char *version_id; /* "" or "null" when unversioned */
    bool delete_marker;
    bool is_latest;
    char *etag;  /* unquoted */
    uint64_t size;
    char *mtime; /* RgwxMtime (ns) when given, else LastModified: timefmt_parse() */
    uint64_t versioned_epoch;
    char *owner;
};
struct rgw_obj_page {
    struct rgw_obj *objs;
    size_t n;
    bool truncated;
};
/* Objects of b's shard after (key_marker, version_marker), at most max. */
int rgw_list_shard(struct rgw_source *src, const struct rgw_bucket *b, int shard,
                   const char *key_marker, const char *version_marker, int max,
                   struct rgw_obj_page *out);
/* The pages of many shards of b at once (shards[i] from key_markers[i],
 * version_markers[i]), as rgw_datalog_info_many() does; pages[i] / errs[i]
 * per entry, the caller finishes every pages[i]. */
void rgw_list_shard_many(struct rgw_source *src, const struct rgw_bucket *b, int n,
                         const bool *want, const int *shards, const char *const *key_markers,
                         const char *const *version_markers, int max, struct rgw_obj_page *pages,
                         int *errs);
void rgw_obj_page_finish(struct rgw_obj_page *p);
/* The answer to that listing (objs-container=true):
 * {"IsTruncated","Entries":[{"Key","VersionId","IsDeleteMarker","IsLatest",
 * "ETag","Size","RgwxMtime","VersionedEpoch","Owner":{"ID"}},..]}. RGW
 * prints some booleans as strings ("false"); both forms are read. The ETag
 * loses its quotes. An entry without Key is a shape error. */
int rgw_parse_obj_page(const char *body, size_t len, struct rgw_obj_page *out);

#endif
