/* ACL mappings: the .acl_profiles[] entries and the inline "acls" lists of
 * the top level, "default" and profiles. A mapping turns a source grantee
 * (user id, email or group URI) into the target's. */
#include "config_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const acl_type_names[] = {"id", "email", "uri", NULL};
static const char *const acl_keys[] = {"type", "source_id", "dest_id", NULL};

int cfg_acl_list_parse(struct cfg_ctx *c, json_t *arr, const char *jp, struct cfg_acl_profile *out)
{
    if (!cfg_check_type(c, arr, JSON_ARRAY, jp, "a list of {\"type\", \"source_id\", \"dest_id\"}"))
        return -1;
    size_t n = json_array_size(arr);
    if (n) {
        out->acls = calloc(n, sizeof(*out->acls));
        if (!out->acls) {
            c->oom = true;
            return -1;
        }
    }
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i); /* borrowed */
        struct jpath ep = cfg_jp_idx(jp, i);
        if (!cfg_check_type(c, e, JSON_OBJECT, ep.s, "{\"type\", \"source_id\", \"dest_id\"}")) {
            ret = -1;
            continue;
        }
        cfg_check_keys(c, e, ep.s, acl_keys, NULL);
        int type = CFG_ACL_ID;
        const char *src = NULL, *dst = NULL;
        int rt =
            cfg_get_enum(c, e, ep.s, "type", acl_type_names, "\"id\", \"email\" or \"uri\"", &type);
        int rs =
            cfg_get_str(c, e, ep.s, "source_id", 0, "the source user, email or group URI", &src);
        int rd = cfg_get_str(c, e, ep.s, "dest_id", 0, "the target user, email or group URI", &dst);
        if (!rs)
            cfg_problem(c, cfg_jp_key(ep.s, "source_id").s,
                        "missing; expected the source user id, email or group URI");
        if (!rd)
            cfg_problem(c, cfg_jp_key(ep.s, "dest_id").s,
                        "missing; expected the target user id, email or group URI");
        if (rt < 0 || rs <= 0 || rd <= 0) {
            ret = -1;
            continue;
        }
        for (size_t j = 0; j < out->nacls; j++) {
            if (strcmp(out->acls[j].source_id, src) == 0) {
                cfg_problem(c, cfg_jp_key(ep.s, "source_id").s,
                            "%s is mapped twice; expected one mapping per source_id",
                            cfg_quote(src).s);
                ret = -1;
            }
        }
        struct cfg_acl *a = &out->acls[out->nacls++];
        a->type = (enum cfg_acl_type) type;
        a->source_id = cfg_strdup(c, src);
        a->dest_id = cfg_strdup(c, dst);
    }
    return ret;
}

struct cfg_acl_profile *cfg_acl_profile_find(struct config *cfg, size_t nnamed, const char *id)
{
    for (size_t i = 0; i < nnamed; i++)
        if (cfg->acl_profiles[i].id && strcmp(cfg->acl_profiles[i].id, id) == 0)
            return &cfg->acl_profiles[i];
    return NULL;
}

static const char *const acl_profile_keys[] = {"id", "acls", NULL};
static const struct key_hint acl_profile_hints[] = {
    {"acls_id", "an .acl_profiles[] entry is named by \"id\" (profiles refer to it "
                "with \"acls_id\")"},
    {NULL, NULL}};

void cfg_acl_profile_parse_list(struct cfg_ctx *c, json_t *list)
{
    struct config *cfg = c->cfg;
    for (size_t i = 0; i < json_array_size(list); i++) {
        struct cfg_acl_profile *ap = &cfg->acl_profiles[i];
        cfg->nacl_profiles = i + 1;
        struct jpath jp = cfg_jp_idx(".acl_profiles", i);
        json_t *e = json_array_get(list, i); /* borrowed */
        const char *id = NULL;
        if (!cfg_check_type(c, e, JSON_OBJECT, jp.s, "{\"id\", \"acls\"}"))
            continue;
        cfg_check_keys(c, e, jp.s, acl_profile_keys, acl_profile_hints);
        if (cfg_get_str_required(c, e, jp.s, "id", "the profile's name as a string",
                                 "the name profiles use in \"acls_id\"", &id) > 0) {
            const struct cfg_acl_profile *first = cfg_acl_profile_find(cfg, i, id);
            if (first)
                cfg_duplicate_id(c, cfg_jp_key(jp.s, "id").s, id, ".acl_profiles",
                                 (size_t) (first - cfg->acl_profiles));
            ap->id = cfg_strdup(c, id);
        }
        json_t *acls = json_object_get(e, "acls"); /* borrowed */
        if (acls)
            (void) cfg_acl_list_parse(c, acls, cfg_jp_key(jp.s, "acls").s, ap);
    }
}
