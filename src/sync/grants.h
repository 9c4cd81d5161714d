/* ACL mapping (CONFIG.md "acls", "acl_profiles", "acl_mode"): the source
 * object's grants, read with GET ?acl, become x-amz-grant-* headers on the
 * target through the profile's mapping, as RGW's cloud module maps them
 * (research/anchors.md §1.6): a grant whose grantee has no mapping is
 * dropped — and counted, never silently. */
#ifndef RGW2CLOUD_GRANTS_H
#define RGW2CLOUD_GRANTS_H

#include <stddef.h>

struct cfg_profile;
struct xml_acl;

/* Header names, in this order; a value lists grantees joined by ", ". */
enum grant_header {
    GRANT_FULL_CONTROL = 0,
    GRANT_READ,
    GRANT_WRITE,
    GRANT_READ_ACP,
    GRANT_WRITE_ACP,
    GRANT_NHEADERS
};

struct grants {
    char *value[GRANT_NHEADERS]; /* NULL = no such header */
    char *canned;                /* x-amz-acl value (bucket-owner-full-control), or NULL */
    size_t mapped;               /* source grants sent (after mapping) */
    size_t dropped;              /* source grants without a mapping (owner's own excluded) */
};

extern const char *const grant_header_names[GRANT_NHEADERS]; /* "x-amz-grant-read", ... */

/* Grants for profile p from the source ACL (NULL when not read: acl_mode
 * none or bucket-owner-full-control need none). 0 or -ENOMEM. */
int grants_map(struct grants *out, const struct cfg_profile *p, const struct xml_acl *acl);
void grants_finish(struct grants *g); /* accepts zeroed */

/* Does p need the source ACL at all (acl_mode map with a non-empty mapping)? */
int grants_need_acl(const struct cfg_profile *p);

#endif
