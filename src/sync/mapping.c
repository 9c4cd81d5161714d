#include "sync/mapping.h"

#include "config.h"
#include "err.h"
#include "strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_tenanted(struct strbuf *b, const char *tenant, const char *name)
{
    if (tenant && *tenant) {
        strbuf_adds(b, tenant);
        strbuf_addc(b, '-');
    }
    strbuf_adds(b, name);
    return 0;
}

/* ${owner} as RGW's cloud module writes it, "<owner tenant>-<owner id>", but
 * never empty: a plain id for an untenanted owner. Pacific prints the owner
 * as rgw_user::to_str(), "tenant$id" or "tenant$ns$id" (rgw_user::from_str
 * takes the id after the last '$'); an owner without a tenant of its own
 * takes the bucket's. */
static int add_owner(struct strbuf *b, const char *bucket_tenant, const char *owner)
{
    const char *dollar = strchr(owner, '$');
    if (!dollar)
        return add_tenanted(b, bucket_tenant, owner);
    const char *id = strrchr(owner, '$') + 1;
    if (!*id)
        return -EINVAL;
    if (dollar == owner)
        return add_tenanted(b, bucket_tenant, id);
    strbuf_add(b, owner, (size_t) (dollar - owner));
    strbuf_addc(b, '-');
    strbuf_adds(b, id);
    return 0;
}

/* The value of variable name[0..n) into b; -EINVAL when unknown or empty. */
static int add_var(struct strbuf *b, const char *name, size_t n, const struct mapping_vars *v)
{
#define IS(s) (n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
    if (IS("bucket"))
        return v->bucket && *v->bucket ? add_tenanted(b, v->tenant, v->bucket) : -EINVAL;
    if (IS("owner"))
        return v->owner && *v->owner ? add_owner(b, v->tenant, v->owner) : -EINVAL;
    const char *val = IS("sid")            ? v->sid
                      : IS("zonegroup")    ? v->zonegroup
                      : IS("zonegroup_id") ? v->zonegroup_id
                      : IS("zone")         ? v->zone
                      : IS("zone_id")      ? v->zone_id
                                           : NULL;
#undef IS
    if (!val || !*val)
        return -EINVAL;
    strbuf_adds(b, val);
    return 0;
}

int mapping_expand(char **out, const char *tmpl, const struct mapping_vars *v)
{
    struct strbuf b = {0};
    int r = 0;
    const char *p = tmpl;
    while (r == 0 && *p) {
        const char *d = strstr(p, "${");
        if (!d) {
            strbuf_adds(&b, p);
            break;
        }
        strbuf_add(&b, p, (size_t) (d - p));
        const char *end = strchr(d, '}');
        if (!end) {
            err_set("target_path \"%s\": unterminated ${", tmpl);
            r = -EINVAL;
            break;
        }
        size_t n = (size_t) (end - d - 2);
        r = add_var(&b, d + 2, n, v);
        if (r == -EINVAL)
            /* an unknown or empty variable would silently fold the path */
            err_set("target_path \"%s\": ${%.*s} is unknown or has no value for bucket \"%s\"",
                    tmpl, (int) n, d + 2, v->bucket ? v->bucket : "");
        p = end + 1;
    }
    if (r < 0) {
        strbuf_finish(&b);
        return r;
    }
    *out = strbuf_steal(&b);
    return *out ? 0 : -ENOMEM;
}

int mapping_split(char **bucket, char **prefix, const char *path)
{
    while (*path == '/')
        path++;
    size_t n = strcspn(path, "/");
    if (n == 0) {
        err_set("target path \"%s\" has no bucket part", path);
        return -EINVAL;
    }
    const char *rest = path[n] ? path + n + 1 : "";
    size_t rn = strlen(rest);
    while (rn > 0 && rest[rn - 1] == '/')
        rn--;
    *bucket = strndup(path, n);
    *prefix = strndup(rest, rn);
    if (!*bucket || !*prefix) {
        free(*bucket);
        free(*prefix);
        return -ENOMEM;
    }
    return 0;
}

int mapping_target(char **bucket, char **prefix, const char *target_path,
                   const struct mapping_vars *vars)
{
    char *path = NULL;
    int r = mapping_expand(&path, target_path ? target_path : CFG_DEFAULT_TARGET_PATH, vars);
    if (r == 0)
        r = mapping_split(bucket, prefix, path);
    free(path);
    return r;
}

char *mapping_key(const char *prefix, const char *key)
{
    char *out = NULL;
    if (!prefix || !*prefix)
        return strdup(key);
    if (asprintf(&out, "%s/%s", prefix, key) < 0)
        return NULL;
    return out;
}
