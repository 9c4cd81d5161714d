/* The immutable config snapshot (CONFIG.md is the contract).
 *
 * config_load() reads one JSON file, checks the whole schema and returns a
 * snapshot that never changes; reload builds a new one and a bad reload keeps
 * the old. Every problem found is reported, one line each:
 *   "<file>: <json path>: <what is wrong>; <what is expected>"
 * e.g. "/etc/rgw2cloud.json: .connection.host_style: \"vhost\" is not valid;
 * expected \"path\" or \"virtual\"". Secrets never appear in a line.
 *
 * The file is a superset of RGW's cloud-sync tier-config (research/anchors.md
 * §1.2): every RGW key is accepted with RGW's meaning. Where RGW silently
 * guesses (unknown keys ignored, host_style "vhost" => path, acls_id beside
 * inline acls), we refuse with a problem line instead.
 *
 * Inheritance, RGW's rules plus our keys:
 * - a profile without connection / connection_id takes "default"'s; when
 *   "default" has none, the top-level one (RGW would refuse such a config);
 * - every connection but the default one takes endpoint, host_style and
 *   access_key+secret it lacks from the default connection; region and
 *   provider come along with an inherited endpoint (they describe it);
 * - acls and target_path come from "default" only, as in RGW (a warning says
 *   so when the top level has them and a profile does not get them);
 * - storage_class and acl_mode: profile, then "default", then top level. */
#ifndef RGW2CLOUD_CONFIG_H
#define RGW2CLOUD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cfg_provider { CFG_PROVIDER_GENERIC = 0, CFG_PROVIDER_AWS, CFG_PROVIDER_COS };
enum cfg_acl_type { CFG_ACL_ID = 0, CFG_ACL_EMAIL, CFG_ACL_URI };
enum cfg_acl_mode { CFG_ACL_MODE_MAP = 0, CFG_ACL_MODE_NONE, CFG_ACL_MODE_BUCKET_OWNER_FULL };
enum cfg_state_backend { CFG_STATE_SQLITE = 0, CFG_STATE_RADOS };

#define CFG_DEFAULT_TARGET_PATH "rgw-${zonegroup}-${sid}/${bucket}"
#define CFG_DEFAULT_STATE_PATH  "/var/lib/rgw2cloud/state.db"

struct cfg_connection {
    char *id;       /* NULL for the top-level / default / inline connections */
    char *endpoint; /* "http[s]://host[:port]", no path */
    char *access_key;
    char *secret;      /* read from secret_file when that is given */
    bool virtual_host; /* host_style "virtual"; when absent: virtual for aws/cos, else path */
    char *region;      /* NULL when unset (always set for aws/cos) */
    enum cfg_provider provider;
};

struct cfg_acl {
    enum cfg_acl_type type;
    char *source_id;
    char *dest_id;
};

struct cfg_acl_profile {
    char *id;             /* NULL for top-level / default / inline lists */
    struct cfg_acl *acls; /* source_id unique within one list */
    size_t nacls;
};

/* A resolved profile: references are pointers into the snapshot, inherited
 * values are already filled in (see the rules at the top). */
struct cfg_profile {
    char *source_bucket;                /* without the trailing '*'; NULL for the root profile */
    bool prefix;                        /* source_bucket ended in '*' */
    const struct cfg_connection *conn;  /* never NULL once loaded (an excluded profile
                                           without its own gets the root's) */
    const struct cfg_acl_profile *acls; /* may be NULL: no mapping */
    char *target_path;                  /* default CFG_DEFAULT_TARGET_PATH */
    char *storage_class;                /* NULL = target's default */
    enum cfg_acl_mode acl_mode;
    bool exclude; /* always false for the root */
};

struct config {
    char *path; /* the file it came from */

    struct {
        bool present; /* a pure RGW tier-config has no "source": check-config only */
        char *endpoint;
        char *access_key;
        char *secret;
        char *zonegroup;
        char *zone;
    } source; /* when present, every field is set */

    char *listen; /* "127.0.0.1:8090", "[::1]:8090"; NULL = no listener */

    struct {
        enum cfg_state_backend backend; /* default sqlite */
        char *path;                     /* sqlite; default CFG_DEFAULT_STATE_PATH */
        char *pool;                     /* rados; default "rgw2cloud" */
        char *namespace_;               /* rados; default "" */
        char *ceph_conf;                /* rados; default "/etc/ceph/ceph.conf" */
        char *client;                   /* rados; default "client.admin" */
    } state;                            /* the fields of the other backend are NULL */

    struct {
        unsigned poll_interval;      /* seconds, default 5 */
        unsigned concurrency;        /* default 32 */
        unsigned part_concurrency;   /* default 8 */
        uint64_t max_inflight_bytes; /* default 1 GiB, at least multipart_min_part_size */
        unsigned max_inflight_parts; /* default 16: parts in flight over all objects */
        uint64_t bandwidth_limit;    /* bytes/s, 0 = none */
        unsigned reconcile_interval; /* seconds, 0 = never */
    } sync;

    struct {
        uint64_t multipart_sync_threshold; /* default 32 MiB, at most 5 GiB */
        uint64_t multipart_min_part_size;  /* default 32 MiB, floor 5 MiB, at most 5 GiB */
    } s3;

    struct cfg_connection *connections; /* every connection: named first, then
                                           default, top-level, inline */
    size_t nconnections;
    struct cfg_acl_profile *acl_profiles; /* every acl list: named first, then
                                             default, top-level, inline */
    size_t nacl_profiles;

    struct cfg_profile root; /* the top level (with "default" merged in) */
    struct cfg_profile *profiles;
    size_t nprofiles;

    bool secrets_readable_by_others; /* the file holds a "secret" and its mode lets
                                        group/others read it: the caller warns */
};

struct config_problems {
    char **lines; /* errors: any => config_load() failed */
    size_t n;
    char **warnings; /* same line format; the config is still usable */
    size_t nwarnings;
};

/* Load and validate path.
 * *problems is overwritten (it need not be initialised) and always holds
 * whatever was found; free it with config_problems_finish() in every case.
 * - 0: *out is the new snapshot (free with config_free()); problems->lines is
 *   empty, problems->warnings may hold lines for the caller to log (e.g.
 *   multipart_min_part_size raised to 5 MiB).
 * - -EINVAL: problems->lines holds every error, one line each; *out untouched.
 * - -ENOENT / -EACCES / -EISDIR...: the file cannot be read (one line).
 * - -ENOMEM. */
int config_load(struct config **out, struct config_problems *problems, const char *path);

void config_free(struct config *cfg);                   /* accepts NULL and half-built */
void config_problems_finish(struct config_problems *p); /* accepts NULL and zeroed */

/* "32M", "32MiB", "32MB", "1G", "512k", "1024" -> bytes. Units K/M/G/T
 * (either case) with optional "iB" or "B" are powers of 1024; no sign, no
 * fraction, no spaces. -EINVAL on junk, -ERANGE past 2^64-1; *out untouched
 * on error. */
int config_parse_size(uint64_t *out, const char *text);

/* The profile for a source bucket (tenant-qualified "tenant/name" or "name"):
 * exact name first, then the longest matching prefix, then cfg->root.
 * Borrowed pointer into cfg; never NULL. An excluded bucket gets a profile
 * with exclude set. */
const struct cfg_profile *config_find_profile(const struct config *cfg, const char *bucket);

/* The buckets the profiles take, when they can be named: every profile that
 * is not excluded names one bucket, and an excluded "*" turns the rest away.
 * Then true, and *names (malloc'd; the strings are cfg's) holds them, *n of
 * them (maybe 0). False when a prefix or the top level takes buckets. */
bool config_named_buckets(const struct config *cfg, const char ***names, size_t *n);

#endif
