/* Profiles: which connection, ACL list, target_path, storage class and
 * acl_mode apply to a source bucket. Parses the RGW tier-config part of the
 * file (connections, acl_profiles, default, the top level, profiles), then
 * resolves connection_id / acls_id and RGW's inheritance from "default",
 * and checks what needs the resolved connection (COS bucket names, storage
 * classes). */
#include "config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------- target_path -- */

static const char *const path_vars[] = {"sid",     "zonegroup", "zonegroup_id", "zone",
                                        "zone_id", "bucket",    "owner",        NULL};

/* NULL when name (3-63 chars) is a valid S3 bucket name, else why not. */
static const char *bucket_name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > 63)
        return "is not 3 to 63 characters long";
    for (size_t i = 0; i < n; i++)
        if (!cfg_is_lower_alnum(name[i]) && name[i] != '.' && name[i] != '-')
            return "has a character other than lowercase letters, digits, '.' and '-'";
    if (!cfg_is_lower_alnum(name[0]) || !cfg_is_lower_alnum(name[n - 1]))
        return "does not start and end with a letter or digit";
    if (strstr(name, ".."))
        return "has two adjacent dots";
    bool ip = true;
    for (size_t i = 0; i < n && ip; i++)
        ip = cfg_is_digit(name[i]) || name[i] == '.';
    if (ip)
        return "looks like an IP address";
    return NULL;
}

/* COS: "<name>-<APPID>", lowercase letters, digits and '-' only. seg may
 * hold ${variables}; the APPID must be literal at its end. */
static const char *cos_bucket_problem(const char *seg, size_t n)
{
    size_t i = n;
    while (i > 0 && cfg_is_digit(seg[i - 1]))
        i--;
    if (i == n || i < 2 || seg[i - 1] != '-')
        return "does not end in -<APPID>";
    for (size_t j = 0; j < n; j++)
        if (seg[j] == '.')
            return "has a '.', which COS bucket names cannot hold";
    return NULL;
}

/* Syntax of a target_path where it is written: known ${variables}, a
 * bucket part that can be a bucket name. Returns false when reported. */
static bool check_target_path(struct cfg_ctx *c, const char *jp, const char *path)
{
    bool ok = true;
    size_t seg = strcspn(path, "/");
    if (seg == 0) {
        cfg_problem(c, jp,
                    "%s has an empty bucket part; expected \"<bucket>/<key prefix>\" like %s",
                    cfg_quote(path).s, cfg_quote(CFG_DEFAULT_TARGET_PATH).s);
        return false;
    }
    bool vars_in_bucket = false;
    for (const char *p = path; (p = strstr(p, "${")) != NULL;) {
        const char *end = strchr(p, '}');
        if (!end) {
            cfg_problem(c, jp, "%s has an unterminated \"${\"; expected ${name}",
                        cfg_quote(path).s);
            return false;
        }
        size_t len = (size_t) (end - p - 2);
        bool known = false;
        for (size_t i = 0; path_vars[i] && !known; i++)
            known = strlen(path_vars[i]) == len && strncmp(path_vars[i], p + 2, len) == 0;
        if (!known) {
            /* no control characters: cfg_get_str() refused them */
            cfg_problem(c, jp,
                        "variable ${%.*s} is unknown; expected ${sid}, ${zonegroup}, "
                        "${zonegroup_id}, ${zone}, ${zone_id}, ${bucket} or ${owner}",
                        (int) (len < 60 ? len : 60), p + 2);
            ok = false;
        }
        if ((size_t) (p - path) < seg)
            vars_in_bucket = true;
        p = end + 1;
    }
    if (!ok)
        return false;
    char bucket[256];
    (void) snprintf(bucket, sizeof(bucket), "%.*s", (int) seg, path);
    if (!vars_in_bucket) {
        const char *why = bucket_name_problem(bucket);
        if (why) {
            cfg_problem(c, jp,
                        "bucket part %s %s; expected an S3 bucket name (3-63 lowercase "
                        "letters, digits, '.', '-')",
                        cfg_quote(bucket).s, why);
            return false;
        }
        return true;
    }
    /* the literal characters around the variables must fit a bucket name */
    for (size_t i = 0; i < seg; i++) {
        if (path[i] == '$' && path[i + 1] == '{') {
            i = (size_t) (strchr(path + i, '}') - path);
            continue;
        }
        if (!cfg_is_lower_alnum(path[i]) && path[i] != '.' && path[i] != '-') {
            cfg_problem(c, jp,
                        "bucket part %s has %c; expected lowercase letters, digits, '.', '-' "
                        "and ${variables}",
                        cfg_quote(bucket).s, path[i]);
            return false;
        }
    }
    return true;
}

/* ----------------------------------------------------------- profiles -- */

/* One profile as written, before resolution. Strings are borrowed from
 * the tree. */
struct praw {
    struct jpath jp;
    bool invalid;
    const char *connection_id, *acls_id, *target_path, *storage_class, *source_bucket;
    struct cfg_connection *conn;  /* inline, a slot of cfg->connections */
    struct cfg_acl_profile *acls; /* inline, a slot of cfg->acl_profiles */
    bool bad_conn, bad_acls, bad_target_path, bad_storage_class;
    bool has_acl_mode;
    enum cfg_acl_mode acl_mode;
    bool exclude;
    /* resolution */
    const struct cfg_connection *rconn;
    const struct cfg_acl_profile *racls;
};

static const char *const acl_mode_names[] = {"map", "none", "bucket-owner-full-control", NULL};
/* The keys parse_praw() reads: "default" has these only, a profile these
 * and its own. */
#define PRAW_KEYS                                                                                  \
    "connection", "acls", "target_path", "connection_id", "acls_id", "storage_class", "acl_mode"
static const char *const default_keys[] = {PRAW_KEYS, NULL};
static const char *const profile_keys[] = {"source_bucket", PRAW_KEYS, "exclude", NULL};

struct slots {
    size_t nconn_cap, nacl_cap;
    struct cfg_connection_meta *meta; /* parallel to cfg->connections */
};

static struct cfg_connection *conn_slot(struct cfg_ctx *c, struct slots *sl,
                                        struct cfg_connection_meta **m)
{
    if (c->cfg->nconnections >= sl->nconn_cap)
        return NULL; /* can't happen: counted before */
    *m = &sl->meta[c->cfg->nconnections];
    return &c->cfg->connections[c->cfg->nconnections++];
}

static struct cfg_acl_profile *acl_slot(struct cfg_ctx *c, struct slots *sl)
{
    if (c->cfg->nacl_profiles >= sl->nacl_cap)
        return NULL;
    return &c->cfg->acl_profiles[c->cfg->nacl_profiles++];
}

/* The keys a profile, "default" and the top level share. */
static void parse_praw(struct cfg_ctx *c, struct slots *sl, json_t *obj, struct praw *p)
{
    const char *jp = p->jp.s;
    int r = cfg_get_str(c, obj, jp, "connection_id", 0, "the id of a .connections[] entry",
                        &p->connection_id);
    p->bad_conn = r < 0;
    json_t *v = json_object_get(obj, "connection"); /* borrowed */
    if (v) {
        struct cfg_connection_meta *m = NULL;
        p->conn = conn_slot(c, sl, &m);
        if (p->conn) {
            cfg_connection_parse(c, v, cfg_jp_key(jp, "connection").s, false, p->conn, m);
            p->bad_conn |= m->invalid;
        }
        if (p->conn && p->connection_id) {
            cfg_problem(c, cfg_jp_key(jp, "connection_id").s,
                        "given together with an inline \"connection\"; expected one of them (RGW "
                        "refuses this as ambiguous)");
            m->invalid = true; /* its own gaps would only add noise */
            p->bad_conn = true;
        }
    }
    r = cfg_get_str(c, obj, jp, "acls_id", 0, "the id of an .acl_profiles[] entry", &p->acls_id);
    p->bad_acls = r < 0;
    v = json_object_get(obj, "acls");
    if (v) {
        p->acls = acl_slot(c, sl);
        if (p->acls && cfg_acl_list_parse(c, v, cfg_jp_key(jp, "acls").s, p->acls) < 0)
            p->bad_acls = true;
    }
    r = cfg_get_str(c, obj, jp, "target_path", 0,
                    "a path like \"rgw-${zonegroup}-${sid}/${bucket}\" (first segment = bucket)",
                    &p->target_path);
    p->bad_target_path = r < 0;
    if (r > 0 && !check_target_path(c, cfg_jp_key(jp, "target_path").s, p->target_path))
        p->bad_target_path = true;

    r = cfg_get_str(c, obj, jp, "storage_class", 0, "a storage class like \"STANDARD_IA\"",
                    &p->storage_class);
    p->bad_storage_class = r < 0;
    if (r > 0 && (!cfg_is_ident(p->storage_class) || strchr(p->storage_class, '-'))) {
        /* it becomes a header value: no room for anything else */
        cfg_problem(c, cfg_jp_key(jp, "storage_class").s,
                    "%s is not a storage class name; expected letters, digits and '_' like "
                    "\"STANDARD_IA\"",
                    cfg_quote(p->storage_class).s);
        p->bad_storage_class = true;
        p->storage_class = NULL;
    }
    int idx = 0;
    r = cfg_get_enum(c, obj, jp, "acl_mode", acl_mode_names,
                     "\"map\", \"none\" or \"bucket-owner-full-control\"", &idx);
    p->has_acl_mode = r > 0;
    p->acl_mode = (enum cfg_acl_mode) idx;
}

/* "<jp>.<key>: \"<id>\" is not the id of any <list>[] entry; ..." */
static void unknown_id(struct cfg_ctx *c, const char *jp, const char *key, const char *id,
                       const char *list)
{
    cfg_problem(c, cfg_jp_key(jp, key).s,
                "%s is not the id of any %s[] entry; expected one of them", cfg_quote(id).s, list);
}

/* RGW's init_profile(): connection_id, else the inline connection, else
 * "default"'s, else (our addition) the top level's; unknown ids are errors.
 * (The ambiguous connection_id + connection was reported by parse_praw.) */
static void resolve_refs(struct cfg_ctx *c, size_t nnamed_conn, size_t nnamed_acl, struct praw *p,
                         const struct praw *dflt, const struct praw *root, bool required)
{
    const char *jp = p->jp.s;
    if (p->bad_conn) {
        /* reported: ambiguous, or a bad connection_id / connection */
    } else if (p->connection_id) {
        p->rconn = cfg_connection_find(c->cfg, nnamed_conn, p->connection_id);
        if (!p->rconn) {
            unknown_id(c, jp, "connection_id", p->connection_id, ".connections");
            p->bad_conn = true;
        }
    } else if (p->conn) {
        p->rconn = p->conn;
    }
    if (!p->rconn && !p->bad_conn && dflt && dflt != p)
        p->rconn = dflt->rconn;
    if (!p->rconn && !p->bad_conn && root && root != p)
        p->rconn = root->rconn;
    /* one line for a missing connection: the top level's covers the
     * profiles that would fall back to it */
    if (!p->rconn && !p->bad_conn && required && !(dflt && dflt->bad_conn) && !(root && root != p))
        cfg_problem(c, cfg_jp_key(jp, "connection").s,
                    "missing, and no \"connection_id\" here or in \"default\" either; expected the "
                    "target connection (profiles without one use it too)");

    if (p->acls_id && p->acls) {
        cfg_problem(c, cfg_jp_key(jp, "acls_id").s,
                    "given together with inline \"acls\"; expected one of them");
        p->bad_acls = true;
    } else if (p->acls_id) {
        p->racls = cfg_acl_profile_find(c->cfg, nnamed_acl, p->acls_id);
        if (!p->racls) {
            unknown_id(c, jp, "acls_id", p->acls_id, ".acl_profiles");
            p->bad_acls = true;
        }
    } else if (p->acls) {
        p->racls = p->acls;
    }
    if (!p->racls && !p->bad_acls && !p->acls_id && dflt && dflt != p)
        p->racls = dflt->racls;
}

static const char *const aws_classes[] = {"STANDARD",
                                          "REDUCED_REDUNDANCY",
                                          "STANDARD_IA",
                                          "ONEZONE_IA",
                                          "INTELLIGENT_TIERING",
                                          "GLACIER",
                                          "DEEP_ARCHIVE",
                                          "OUTPOSTS",
                                          "GLACIER_IR",
                                          "SNOW",
                                          "EXPRESS_ONEZONE",
                                          NULL};
static const char *const cos_classes[] = {"STANDARD",
                                          "STANDARD_IA",
                                          "ARCHIVE",
                                          "DEEP_ARCHIVE",
                                          "INTELLIGENT_TIERING",
                                          "MAZ_STANDARD",
                                          "MAZ_STANDARD_IA",
                                          "MAZ_INTELLIGENT_TIERING",
                                          NULL};

/* Fill out from the resolved raw profile; the checks that need the
 * connection's provider. */
static void profile_finish(struct cfg_ctx *c, struct cfg_profile *out, const struct praw *p,
                           const struct praw *dflt, const struct praw *root)
{
    const char *jp = p->jp.s;
    bool is_root = p == root;
    out->conn = p->rconn ? p->rconn : (root ? root->rconn : NULL);
    out->acls = p->racls;
    out->exclude = p->exclude;

    const char *tp = p->target_path, *tp_from = NULL;
    bool tp_bad = p->bad_target_path;
    struct jpath own = cfg_jp_key(jp, "target_path");
    if (!tp && !tp_bad && dflt && dflt->target_path) {
        tp = dflt->target_path;
        tp_from = ".default.target_path";
    } else if (!tp && !tp_bad && dflt && dflt->bad_target_path) {
        tp_bad = true;
    }
    if (!tp && !tp_bad) {
        tp = CFG_DEFAULT_TARGET_PATH;
        tp_from = "the built-in default";
        if (!is_root && root && root->target_path && !p->exclude)
            cfg_warning(c, jp,
                        "no target_path here or in \"default\", so the built-in %s applies, "
                        "not the top-level one (RGW's rule); expected \"target_path\" here or "
                        "in \"default\" if that is not intended",
                        cfg_quote(CFG_DEFAULT_TARGET_PATH).s);
    }
    if (!is_root && !p->acls && !p->acls_id && !p->racls && root && root->racls && !p->exclude)
        cfg_warning(c, jp,
                    "no acls here or in \"default\", so this profile maps no ACLs, not the "
                    "top-level ones (RGW's rule); expected \"acls\" or \"acls_id\" here or "
                    "in \"default\" if that is not intended");
    out->target_path = cfg_strdup(c, tp ? tp : CFG_DEFAULT_TARGET_PATH);

    const char *sc = p->storage_class;
    if (!sc && !p->bad_storage_class && dflt && dflt != p)
        sc = dflt->storage_class;
    if (!sc && !p->bad_storage_class && root && root != p)
        sc = root->storage_class;
    out->storage_class = cfg_strdup(c, sc);

    out->acl_mode = CFG_ACL_MODE_MAP;
    if (p->has_acl_mode)
        out->acl_mode = p->acl_mode;
    else if (dflt && dflt != p && dflt->has_acl_mode)
        out->acl_mode = dflt->acl_mode;
    else if (root && root != p && root->has_acl_mode)
        out->acl_mode = root->acl_mode;

    const struct cfg_connection *conn = p->rconn;
    if (!conn || p->exclude)
        return;

    if (tp && !tp_bad && conn->provider == CFG_PROVIDER_COS) {
        size_t seg = strcspn(tp, "/");
        const char *why = cos_bucket_problem(tp, seg);
        if (why) {
            char bucket[256];
            (void) snprintf(bucket, sizeof(bucket), "%.*s", (int) seg, tp);
            if (tp_from)
                cfg_problem(c, own.s,
                            "unset, so %s from %s applies, and its bucket part %s %s; expected a "
                            "target_path whose bucket is a COS bucket <name>-<APPID> like "
                            "\"archive-1250000000/${bucket}\"",
                            cfg_quote(tp).s, tp_from, cfg_quote(bucket).s, why);
            else
                cfg_problem(c, own.s,
                            "bucket part %s %s; expected a COS bucket name <name>-<APPID> like "
                            "\"archive-1250000000\"",
                            cfg_quote(bucket).s, why);
        }
    }
    if (tp && !tp_bad && (is_root || out->prefix) && !strstr(tp, "${bucket}"))
        cfg_warning(c, tp_from ? jp : own.s,
                    "target_path %s has no ${bucket}: objects of every bucket this profile matches "
                    "share one key space; expected ${bucket} somewhere in it",
                    cfg_quote(tp).s);

    if (sc && conn->provider != CFG_PROVIDER_GENERIC) {
        const char *const *known = conn->provider == CFG_PROVIDER_AWS ? aws_classes : cos_classes;
        bool found = false;
        for (size_t i = 0; known[i] && !found; i++)
            found = strcmp(known[i], sc) == 0;
        if (!found)
            cfg_warning(c, p->storage_class ? cfg_jp_key(jp, "storage_class").s : jp,
                        "storage class %s is not one %s is known to accept; it is sent as is",
                        cfg_quote(sc).s, cfg_provider_names[conn->provider]);
    }
}

static void parse_profile(struct cfg_ctx *c, struct slots *sl, json_t *obj, struct praw *p)
{
    const char *jp = p->jp.s;
    if (!cfg_check_type(c, obj, JSON_OBJECT, jp, "an object with \"source_bucket\"")) {
        p->invalid = true;
        return;
    }
    cfg_check_keys(c, obj, jp, profile_keys, NULL);
    if (cfg_get_str_required(c, obj, jp, "source_bucket",
                             "a bucket name, or a prefix ending in '*' like \"logs*\"", NULL,
                             &p->source_bucket) > 0) {
        const char *star = strchr(p->source_bucket, '*');
        if (star && star[1] != '\0') {
            cfg_problem(c, cfg_jp_key(jp, "source_bucket").s,
                        "%s has a '*' before its end; expected a name, or a prefix ending in '*'",
                        cfg_quote(p->source_bucket).s);
            p->source_bucket = NULL;
        } else if (strpbrk(p->source_bucket, " \t")) {
            cfg_problem(c, cfg_jp_key(jp, "source_bucket").s,
                        "%s has a blank; expected a bucket name or prefix",
                        cfg_quote(p->source_bucket).s);
            p->source_bucket = NULL;
        }
    }
    (void) cfg_get_bool(c, obj, jp, "exclude", &p->exclude);
    parse_praw(c, sl, obj, p);
}

/* ------------------------------------------------------------- targets -- */

/* root[key] when it is of type; NULL when absent or reported. */
static json_t *get_block(struct cfg_ctx *c, json_t *root, const char *key, json_type type,
                         const char *expect)
{
    json_t *v = json_object_get(root, key); /* borrowed */
    if (v && !cfg_check_type(c, v, type, cfg_jp_key("", key).s, expect))
        return NULL;
    return v;
}

void cfg_targets_parse(struct cfg_ctx *c, json_t *root)
{
    struct config *cfg = c->cfg;
    /* borrowed; NULL when absent or reported */
    json_t *jconns =
        get_block(c, root, "connections", JSON_ARRAY, "a list of connections with \"id\"");
    json_t *jacls = get_block(c, root, "acl_profiles", JSON_ARRAY, "a list of {\"id\", \"acls\"}");
    json_t *jdefault = get_block(c, root, "default", JSON_OBJECT,
                                 "an object with connection, acls, target_path, connection_id, "
                                 "acls_id");
    json_t *jprofiles =
        get_block(c, root, "profiles", JSON_ARRAY, "a list of profiles with \"source_bucket\"");
    size_t nconn = json_array_size(jconns); /* 0 for NULL */
    size_t nacl = json_array_size(jacls);
    size_t nprof = json_array_size(jprofiles);
    struct slots sl = {0};
    struct praw dflt = {0}, rootp = {0}, *praws = NULL;
    const struct praw *pdflt = jdefault ? &dflt : NULL;

    /* every slot counted up front: profiles point into these arrays */
    sl.nconn_cap = nconn + 2 + nprof;
    sl.nacl_cap = nacl + 2 + nprof;
    cfg->connections = calloc(sl.nconn_cap, sizeof(*cfg->connections));
    cfg->acl_profiles = calloc(sl.nacl_cap, sizeof(*cfg->acl_profiles));
    sl.meta = calloc(sl.nconn_cap, sizeof(*sl.meta));
    praws = calloc(nprof + 1, sizeof(*praws));
    if (nprof)
        cfg->profiles = calloc(nprof, sizeof(*cfg->profiles));
    if (!cfg->connections || !cfg->acl_profiles || !sl.meta || !praws ||
        (nprof && !cfg->profiles)) {
        c->oom = true;
        goto out;
    }
    cfg->nprofiles = nprof;

    cfg_connection_parse_list(c, jconns, sl.meta);
    cfg_acl_profile_parse_list(c, jacls);
    /* only named ones may be referred to; inline lists come after */
    size_t nnamed_conn = cfg->nconnections, nnamed_acl = cfg->nacl_profiles;

    (void) snprintf(dflt.jp.s, sizeof(dflt.jp.s), ".default");
    if (jdefault) {
        cfg_check_keys(c, jdefault, ".default", default_keys, NULL);
        parse_praw(c, &sl, jdefault, &dflt);
        resolve_refs(c, nnamed_conn, nnamed_acl, &dflt, NULL, NULL, false);
    }
    /* the top level's keys were checked with the root's */
    rootp.jp.s[0] = '\0';
    parse_praw(c, &sl, root, &rootp);
    for (size_t i = 0; i < nprof; i++) {
        praws[i].jp = cfg_jp_idx(".profiles", i);
        parse_profile(c, &sl, json_array_get(jprofiles, i), &praws[i]);
    }

    /* inheritance from the default connection, then the checks needing it */
    const struct cfg_connection *base = dflt.rconn;
    const struct cfg_connection_meta *bm = base ? &sl.meta[base - cfg->connections] : NULL;
    for (size_t i = 0; base && i < cfg->nconnections; i++)
        cfg_connection_inherit(c, &cfg->connections[i], &sl.meta[i], base, bm);
    for (size_t i = 0; i < cfg->nconnections; i++)
        cfg_connection_check(c, &cfg->connections[i], &sl.meta[i], base != NULL);

    resolve_refs(c, nnamed_conn, nnamed_acl, &rootp, pdflt, NULL, true);
    for (size_t i = 0; i < nprof; i++)
        if (!praws[i].invalid)
            resolve_refs(c, nnamed_conn, nnamed_acl, &praws[i], pdflt, &rootp, !praws[i].exclude);

    profile_finish(c, &cfg->root, &rootp, pdflt, &rootp);
    for (size_t i = 0; i < nprof; i++) {
        struct cfg_profile *out = &cfg->profiles[i];
        const struct praw *p = &praws[i];
        if (p->invalid)
            continue;
        if (p->source_bucket) {
            size_t len = strlen(p->source_bucket);
            out->prefix = len && p->source_bucket[len - 1] == '*';
            out->source_bucket = strndup(p->source_bucket, len - out->prefix);
            if (!out->source_bucket)
                c->oom = true;
            for (size_t j = 0; j < i && out->source_bucket; j++) {
                const struct cfg_profile *o = &cfg->profiles[j];
                if (o->source_bucket && o->prefix == out->prefix &&
                    strcmp(o->source_bucket, out->source_bucket) == 0) {
                    cfg_problem(c, cfg_jp_key(p->jp.s, "source_bucket").s,
                                "%s is already matched by .profiles[%zu]; expected each bucket or "
                                "prefix once",
                                cfg_quote(p->source_bucket).s, j);
                    break;
                }
            }
        }
        profile_finish(c, out, p, pdflt, &rootp);
    }
out:
    free(sl.meta);
    free(praws);
}
