/* Target connections: .connections[] entries, the inline "connection" of
 * the top level, "default" and profiles; RGW's inheritance from the
 * default connection and the provider rules (aws, cos) knowable without a
 * request. */
#include "config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cfg_provider_names[] = {"generic", "aws", "cos", NULL};
static const char *const host_style_names[] = {"path", "virtual", NULL};

/* A named connection's keys; an inline one has all but the "id". */
static const char *const named_conn_keys[] = {"id",     "endpoint", KEY_PAIR_KEYS, "host_style",
                                              "region", "provider", NULL};
static const char *const *const inline_conn_keys = named_conn_keys + 1;
static const struct key_hint named_conn_hints[] = {
    {"connection_id", "a .connections[] entry is named by \"id\" (profiles refer to it with "
                      "\"connection_id\")"},
    KEY_PAIR_HINTS,
    {NULL, NULL}};
static const struct key_hint inline_conn_hints[] = {
    {"id", "only .connections[] entries have an id; refer to one with \"connection_id\" "
           "beside (not inside) \"connection\""},
    KEY_PAIR_HINTS,
    {NULL, NULL}};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool valid_region(const char *s)
{
    for (; *s; s++)
        if (!cfg_host_char(*s))
            return false;
    return true;
}

/* The region an AWS or COS service host names, or "" when it names none. */
static void region_of_host(enum cfg_provider provider, const char *host, char *out, size_t n)
{
    out[0] = '\0';
    const char *suffix = provider == CFG_PROVIDER_AWS ? ".amazonaws.com" : ".myqcloud.com";
    size_t hl = strlen(host), sl = strlen(suffix);
    if (hl <= sl || strcmp(host + hl - sl, suffix) != 0)
        return;
    /* the label just before the suffix */
    size_t end = hl - sl, start = end;
    while (start > 0 && host[start - 1] != '.')
        start--;
    const char *label = host + start;
    size_t len = end - start;
    if (provider == CFG_PROVIDER_AWS && len > 3 && strncmp(label, "s3-", 3) == 0) {
        label += 3; /* legacy s3-<region>.amazonaws.com */
        len -= 3;
    }
    /* regions look like eu-west-1, ap-guangzhou, us-gov-west-1; anything
     * else (s3, s3-external-1, fips-..., accelerate) is not checked */
    if (len < 4 || len >= n || !(label[0] >= 'a' && label[0] <= 'z') ||
        !(label[1] >= 'a' && label[1] <= 'z') || label[2] != '-')
        return;
    if (provider == CFG_PROVIDER_AWS && !cfg_is_digit(label[len - 1]))
        return;
    memcpy(out, label, len);
    out[len] = '\0';
}

void cfg_connection_parse(struct cfg_ctx *c, json_t *obj, const char *jp, bool named,
                          struct cfg_connection *conn, struct cfg_connection_meta *m)
{
    (void) snprintf(m->jp.s, sizeof(m->jp.s), "%s", jp);
    if (!cfg_check_type(c, obj, JSON_OBJECT, jp,
                        "an object with endpoint, access_key, secret...")) {
        m->invalid = true;
        return;
    }
    cfg_check_keys(c, obj, jp, named ? named_conn_keys : inline_conn_keys,
                   named ? named_conn_hints : inline_conn_hints);

    const char *s = NULL;
    if (named) {
        if (cfg_get_str_required(c, obj, jp, "id", "the connection's name as a string",
                                 "the name profiles use in \"connection_id\"", &s) > 0)
            conn->id = cfg_strdup(c, s);
    }

    int r = cfg_get_str(c, obj, jp, "endpoint", 0, "an http:// or https:// URL", &s);
    m->has_endpoint = r != 0;
    if (r > 0) {
        const char *why = cfg_check_url(s, NULL, 0);
        if (why)
            cfg_problem(c, cfg_jp_key(jp, "endpoint").s,
                        "%s %s; expected an http:// or https:// URL "
                        "like \"https://s3.eu-west-1.amazonaws.com\"",
                        cfg_quote(s).s, why);
        else
            conn->endpoint = cfg_strdup(c, s);
    }

    m->has_key = cfg_key_pair_parse(c, obj, jp, &conn->access_key, &conn->secret, &m->bad_key);

    int idx = 0;
    r = cfg_get_enum(c, obj, jp, "host_style", host_style_names, "\"path\" or \"virtual\"", &idx);
    m->has_host_style = r != 0;
    m->bad_host_style = r < 0;
    m->host_style_virtual = r > 0 && idx == 1;

    r = cfg_get_str(c, obj, jp, "region", 0, "a region name like \"eu-west-1\"", &s);
    m->has_region = r != 0;
    if (r > 0) {
        if (valid_region(s))
            conn->region = cfg_strdup(c, s);
        else
            cfg_problem(c, cfg_jp_key(jp, "region").s,
                        "%s is not a region name; expected letters, "
                        "digits, '-', '_', '.' like \"eu-west-1\"",
                        cfg_quote(s).s);
    }

    r = cfg_get_enum(c, obj, jp, "provider", cfg_provider_names, "\"aws\", \"cos\" or \"generic\"",
                     &idx);
    m->has_provider = r != 0;
    m->bad_provider = r < 0;
    if (r > 0)
        conn->provider = (enum cfg_provider) idx;
}

/* RGW: a connection takes endpoint, host_style and the key pair it lacks
 * from the default connection. Region and provider describe the endpoint,
 * so they come along with it only. */
void cfg_connection_inherit(struct cfg_ctx *c, struct cfg_connection *conn,
                            struct cfg_connection_meta *m, const struct cfg_connection *base,
                            const struct cfg_connection_meta *bm)
{
    if (m->invalid || conn == base)
        return;
    if (!m->has_endpoint && bm->has_endpoint) {
        m->has_endpoint = true;
        conn->endpoint = cfg_strdup(c, base->endpoint);
        if (!m->has_region && bm->has_region) {
            m->has_region = true;
            conn->region = cfg_strdup(c, base->region);
        }
        if (!m->has_provider && bm->has_provider) {
            m->has_provider = true;
            m->bad_provider = bm->bad_provider;
            conn->provider = base->provider;
        }
    }
    if (!m->has_host_style && bm->has_host_style) {
        m->has_host_style = true;
        m->bad_host_style = bm->bad_host_style;
        m->host_style_virtual = bm->host_style_virtual;
        m->host_style_from = bm->jp.s;
    }
    if (!m->has_key && bm->has_key) {
        m->has_key = true;
        m->bad_key = bm->bad_key;
        conn->access_key = cfg_strdup(c, base->access_key);
        conn->secret = cfg_strdup(c, base->secret);
    }
}

/* The checks that need the inherited values: required fields, provider
 * rules knowable without a request. */
void cfg_connection_check(struct cfg_ctx *c, struct cfg_connection *conn,
                          const struct cfg_connection_meta *m, bool have_base)
{
    if (m->invalid)
        return;
    const char *jp = m->jp.s;
    const char *inherit = have_base ? ""
                                    : " (here, or in \"default\".connection for every "
                                      "connection to inherit)";
    bool known_provider = !m->bad_provider;
    bool cloud = known_provider && conn->provider != CFG_PROVIDER_GENERIC;

    if (m->has_host_style)
        conn->virtual_host = m->host_style_virtual;
    else
        conn->virtual_host = cloud;

    if (!m->has_endpoint)
        cfg_problem(c, cfg_jp_key(jp, "endpoint").s,
                    "missing; expected an http:// or https:// URL%s", inherit);
    if (!m->has_key)
        cfg_problem(c, cfg_jp_key(jp, "access_key").s,
                    "missing; expected \"access_key\" and \"secret\" (or \"secret_file\")%s",
                    inherit);

    if (!cloud)
        return;
    const char *pname = cfg_provider_names[conn->provider];
    if (!m->has_region)
        cfg_problem(c, cfg_jp_key(jp, "region").s,
                    "missing; provider \"%s\" signs requests for a region, expected e.g. \"%s\"",
                    pname, conn->provider == CFG_PROVIDER_COS ? "ap-guangzhou" : "eu-west-1");
    if (conn->provider == CFG_PROVIDER_COS && m->has_host_style && !m->bad_host_style &&
        !m->host_style_virtual)
        cfg_problem(c, cfg_jp_key(jp, "host_style").s,
                    "\"path\"%s%s is not supported by provider \"cos\"; expected \"virtual\" (COS "
                    "addresses a bucket as <bucket>.cos.<region>.myqcloud.com)",
                    m->host_style_from ? " inherited from " : "",
                    m->host_style_from ? m->host_style_from : "");
    if (!conn->endpoint)
        return;

    char host[256], region[64];
    (void) cfg_check_url(conn->endpoint, host, sizeof(host));
    if (conn->provider == CFG_PROVIDER_COS && ends_with(host, ".myqcloud.com")) {
        size_t dots = 0;
        for (const char *p = host; *p; p++)
            dots += *p == '.';
        if (dots > 3 || strncmp(host, "cos.", 4) != 0) {
            cfg_problem(c, cfg_jp_key(jp, "endpoint").s,
                        "%s names a bucket; expected the service endpoint like "
                        "\"https://cos.ap-guangzhou.myqcloud.com\" and the bucket in target_path",
                        cfg_quote(conn->endpoint).s);
            return;
        }
    }
    region_of_host(conn->provider, host, region, sizeof(region));
    if (region[0] && conn->region && strcmp(region, conn->region) != 0)
        cfg_problem(c, cfg_jp_key(jp, "region").s,
                    "%s does not match the endpoint %s; expected %s (requests signed for another "
                    "region are refused)",
                    cfg_quote(conn->region).s, cfg_quote(conn->endpoint).s, cfg_quote(region).s);
}

struct cfg_connection *cfg_connection_find(struct config *cfg, size_t nnamed, const char *id)
{
    for (size_t i = 0; i < nnamed; i++)
        if (cfg->connections[i].id && strcmp(cfg->connections[i].id, id) == 0)
            return &cfg->connections[i];
    return NULL;
}

void cfg_connection_parse_list(struct cfg_ctx *c, json_t *list, struct cfg_connection_meta *meta)
{
    struct config *cfg = c->cfg;
    for (size_t i = 0; i < json_array_size(list); i++) {
        struct cfg_connection *conn = &cfg->connections[i];
        cfg->nconnections = i + 1;
        struct jpath jp = cfg_jp_idx(".connections", i);
        cfg_connection_parse(c, json_array_get(list, i), jp.s, true, conn, &meta[i]);
        const struct cfg_connection *first =
            conn->id ? cfg_connection_find(cfg, i, conn->id) : NULL;
        if (first)
            cfg_duplicate_id(c, cfg_jp_key(jp.s, "id").s, conn->id, ".connections",
                             (size_t) (first - cfg->connections));
    }
}
