#include "sync/grants.h"

#include "config.h"
#include "http/xml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const grant_header_names[GRANT_NHEADERS] = {
    "x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-write",
    "x-amz-grant-read-acp",     "x-amz-grant-write-acp",
};

static const char *const perm_names[GRANT_NHEADERS] = {
    "FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP",
};

int grants_need_acl(const struct cfg_profile *p)
{
    return p->acl_mode == CFG_ACL_MODE_MAP && p->acls && p->acls->nacls > 0;
}

static enum cfg_acl_type type_of(enum xml_grantee_type t)
{
    return t == XML_GRANTEE_EMAIL ? CFG_ACL_EMAIL : t == XML_GRANTEE_URI ? CFG_ACL_URI : CFG_ACL_ID;
}

static int append(char **dst, const char *kind, const char *id)
{
    char *n = NULL;
    int r = *dst ? asprintf(&n, "%s, %s=\"%s\"", *dst, kind, id) : asprintf(&n, "%s=\"%s\"", kind, id);
    if (r < 0)
        return -ENOMEM;
    free(*dst);
    *dst = n;
    return 0;
}

int grants_map(struct grants *out, const struct cfg_profile *p, const struct xml_acl *acl)
{
    memset(out, 0, sizeof(*out));
    if (p->acl_mode == CFG_ACL_MODE_NONE)
        return 0; /* AWS buckets with ACLs disabled refuse any grant */
    if (p->acl_mode == CFG_ACL_MODE_BUCKET_OWNER_FULL) {
        out->canned = strdup("bucket-owner-full-control");
        return out->canned ? 0 : -ENOMEM;
    }
    if (!acl)
        return 0;
    for (size_t i = 0; i < acl->ngrants; i++) {
        const struct xml_grant *g = &acl->grants[i];
        const struct cfg_acl *m = NULL;
        for (size_t k = 0; p->acls && k < p->acls->nacls && !m; k++) {
            const struct cfg_acl *c = &p->acls->acls[k];
            if (c->type == type_of(g->type) && g->id && strcmp(c->source_id, g->id) == 0)
                m = c;
        }
        int h = -1;
        for (int k = 0; k < GRANT_NHEADERS && g->permission; k++)
            if (strcmp(g->permission, perm_names[k]) == 0)
                h = k;
        if (!m || h < 0) {
            /* the owner's own FULL_CONTROL is implied on the target by its
             * owner: not a loss worth counting */
            bool owner = g->type == XML_GRANTEE_ID && acl->owner_id && g->id &&
                         strcmp(acl->owner_id, g->id) == 0;
            if (!owner)
                out->dropped++;
            continue;
        }
        const char *kind = m->type == CFG_ACL_EMAIL ? "emailAddress"
                           : m->type == CFG_ACL_URI ? "uri"
                                                    : "id";
        if (append(&out->value[h], kind, m->dest_id) < 0) {
            grants_finish(out);
            return -ENOMEM;
        }
        out->mapped++;
    }
    return 0;
}

void grants_finish(struct grants *g)
{
    for (int i = 0; i < GRANT_NHEADERS; i++)
        free(g->value[i]);
    free(g->canned);
    memset(g, 0, sizeof(*g));
}
