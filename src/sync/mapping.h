/* Where a source object goes: the profile's target_path expanded for one
 * bucket (CONFIG.md): first segment = target bucket, the rest = key prefix. */
#ifndef RGW2CLOUD_MAPPING_H
#define RGW2CLOUD_MAPPING_H

struct cfg_profile;

struct mapping_vars {
    const char *sid;
    const char *zonegroup;
    const char *zonegroup_id;
    const char *zone;    /* our zone's name */
    const char *zone_id; /* our zone's id */
    const char *tenant;  /* "" when none */
    const char *bucket;  /* plain name */
    const char *owner;   /* owner as bucket_info prints it: "id" or "tenant$id" */
};

/* Expand template with vars into *out (malloc'd). ${bucket} is
 * "<tenant>-<name>" for tenanted buckets; ${owner} is "<tenant>-<id>" for
 * a tenanted owner ("tenant$id") or bucket, the owner id otherwise — never
 * silently empty.
 * -EINVAL with err_set() for an unknown variable or an empty expansion. */
int mapping_expand(char **out, const char *template_, const struct mapping_vars *vars);

/* Split an expanded path at the first '/': *bucket and *prefix (prefix ""
 * or ending in no '/'); both malloc'd. -EINVAL (err_set) when the bucket
 * part is empty. */
int mapping_split(char **bucket, char **prefix, const char *path);

/* Expand target_path (NULL: CFG_DEFAULT_TARGET_PATH) with vars and split
 * it: what mapping_expand() and mapping_split() do, in one call. */
int mapping_target(char **bucket, char **prefix, const char *target_path,
                   const struct mapping_vars *vars);

/* prefix + "/" + key, or key when prefix is "". malloc'd, NULL on ENOMEM. */
char *mapping_key(const char *prefix, const char *key);

#endif
