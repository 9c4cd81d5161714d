/* The immutable config snapshot (CONFIG.md is the contract).
 *
 * config_load() reads one JSON file, checks the whole schema and returns a
 * snapshot that never changes; reload builds a new one and a bad reload keeps
 * the old. Every problem found is reported, one line each:
 *   "<file>: <json path>: <what is wrong>; <what is expected>"
 * e.g. "/etc/rgw2cloud.json: .connection.host_style: \"vhost\" is not valid;
 * expected \"path\" or \"virtual\"". Secrets never appear in a line. */
#ifndef RGW2CLOUD_CONFIG_H
#define RGW2CLOUD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cfg_provider { CFG_PROVIDER_GENERIC = 0, CFG_PROVIDER_AWS, CFG_PROVIDER_COS };
enum cfg_acl_type { CFG_ACL_ID = 0, CFG_ACL_EMAIL, CFG_ACL_URI };
enum cfg_acl_mode { CFG_ACL_MODE_MAP = 0, CFG_ACL_MODE_NONE, CFG_ACL_MODE_BUCKET_OWNER_FULL };
enum cfg_state_backend { CFG_STATE_SQLITE = 0, CFG_STATE_RADOS };

struct cfg_connection {
    char *id; /* NULL for the top-level / inline connections */
    char *endpoint;
    char *access_key;
    char *secret; /* read from secret_file when that is given */
    bool virtual_host; /* host_style "virtual" (default path, RGW's default) */
    char *region;      /* NULL when unset */
    enum cfg_provider provider;
};

struct cfg_acl {
    enum cfg_acl_type type;
    char *source_id;
    char *dest_id;
};

struct cfg_acl_profile {
    char *id; /* NULL for top-level / inline lists */
    struct cfg_acl *acls;
    size_t nacls;
};

/* A resolved profile: references are pointers into the snapshot, inherited
 * values (default → top level) are already filled in. */
struct cfg_profile {
    char *source_bucket; /* without the trailing '*'; NULL for the root profile */
    bool prefix;         /* source_bucket ended in '*' */
    const struct cfg_connection *conn;   /* never NULL once loaded */
    const struct cfg_acl_profile *acls;  /* may be NULL: no mapping */
    char *target_path;                   /* default "rgw-${zonegroup}-${sid}/${bucket}" */
    char *storage_class;                 /* NULL = target's default */
    enum cfg_acl_mode acl_mode;
    bool exclude;
};

struct config {
    char *path; /* the file it came from */

    struct {
        char *endpoint;
        char *access_key;
        char *secret;
        char *zonegroup;
        char *zone;
    } source;

    char *listen; /* "127.0.0.1:8090"; NULL = no listener */

    struct {
        enum cfg_state_backend backend;
        char *path;      /* sqlite */
        char *pool;      /* rados */
        char *namespace_;
        char *ceph_conf;
        char *client;
    } state;

    struct {
        unsigned poll_interval;     /* seconds, default 5 */
        unsigned concurrency;       /* default 32 */
        unsigned part_concurrency;  /* default 8 */
        uint64_t max_inflight_bytes; /* default 1 GiB */
        uint64_t bandwidth_limit;   /* bytes/s, 0 = none */
        unsigned reconcile_interval; /* seconds, 0 = never */
    } sync;

    struct {
        uint64_t multipart_sync_threshold; /* default 32 MiB */
        uint64_t multipart_min_part_size;  /* default 32 MiB, floor 5 MiB */
    } s3;

    struct cfg_connection *connections; /* every connection: named, top-level, inline */
    size_t nconnections;
    struct cfg_acl_profile *acl_profiles; /* every acl list: named, top-level, inline */
    size_t nacl_profiles;

    struct cfg_profile root; /* the top level (with "default" merged in) */
    struct cfg_profile *profiles;
    size_t nprofiles;

    bool secrets_readable_by_others; /* file mode lets group/others read secrets */
};

struct config_problems {
    char **lines;
    size_t n;
};

/* Load and validate path. 0 and *out on success (problems may still hold
 * warnings? no: only errors; warnings go to the log). -EINVAL with every
 * problem in *problems (caller frees with config_problems_finish) and *out
 * untouched; -ENOENT/-EACCES when the file cannot be read (also one line). */
int config_load(struct config **out, struct config_problems *problems, const char *path);

void config_free(struct config *cfg); /* accepts NULL and half-built */
void config_problems_finish(struct config_problems *p);

/* "32M", "32MiB", "1G", "512k", 1024 (JSON integer given as text) -> bytes.
 * Units K/M/G/T with optional "iB" or "B" are powers of 1024. -EINVAL on junk. */
int config_parse_size(uint64_t *out, const char *text);

/* The profile for a source bucket (tenant-qualified "tenant/name" or "name"):
 * exact name first, then the longest matching prefix, then cfg->root.
 * Borrowed pointer into cfg; never NULL. */
const struct cfg_profile *config_find_profile(const struct config *cfg, const char *bucket);

#endif
