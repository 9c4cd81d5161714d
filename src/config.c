/* Loading and checking the config file (CONFIG.md; RGW's tier-config schema
 * in research/anchors.md §1.2): the snapshot's life (load, free, lookup),
 * the problem lines, and the top level with its own blocks (source, listen,
 * state, sync, s3).
 *
 * Two passes over the JSON tree, which stays alive for the whole load:
 * parse every block on its own (types, enums, sizes, unknown keys), then
 * resolve references and inheritance and run the checks that need the
 * resolved values (provider rules, target bucket names). A problem never
 * stops the load: everything is checked, and a value that was already
 * reported is left out of later checks so one mistake gives one line.
 *
 * The other pieces: config_value.c (generic checkers), config_secret.c
 * (key pairs), config_connection.c, config_acl.c and config_profile.c (the
 * RGW tier-config part). */
#include "config.h"
#include "config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_PART_SIZE (5 * MiB) /* S3's smallest part but the last */
#define MAX_PART_SIZE (5 * GiB) /* S3's largest part and largest single PUT */

/* ------------------------------------------------------------ problems -- */

/* Takes line (heap) into *lines; on failure frees it and sets c->oom. */
static void lines_push(struct cfg_ctx *c, char ***lines, size_t *n, char *line)
{
    char **grown = realloc(*lines, (*n + 1) * sizeof(*grown));
    if (!grown) {
        free(line);
        c->oom = true;
        return;
    }
    grown[(*n)++] = line;
    *lines = grown;
}

static void add_line(struct cfg_ctx *c, char ***lines, size_t *n, const char *jp, const char *fmt,
                     va_list ap)
{
    char *msg = NULL, *line = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) {
        c->oom = true;
        return;
    }
    int r = jp ? asprintf(&line, "%s: %s: %s", c->file, jp[0] ? jp : ".", msg)
               : asprintf(&line, "%s: %s", c->file, msg);
    free(msg);
    if (r < 0) {
        c->oom = true;
        return;
    }
    lines_push(c, lines, n, line);
}

void cfg_problem(struct cfg_ctx *c, const char *jp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(c, &c->pb->lines, &c->pb->n, jp, fmt, ap);
    va_end(ap);
}

void cfg_warning(struct cfg_ctx *c, const char *jp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(c, &c->pb->warnings, &c->pb->nwarnings, jp, fmt, ap);
    va_end(ap);
}

void cfg_duplicate_id(struct cfg_ctx *c, const char *jp, const char *id, const char *list, size_t j)
{
    cfg_problem(c, jp, "%s is already the id of %s[%zu]; expected unique ids", cfg_quote(id).s,
                list, j);
}

char *cfg_strdup(struct cfg_ctx *c, const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        c->oom = true;
    return d;
}

/* jansson's text ends in " near '<token>'", and the token may be part of a
 * secret: cut it off. */
static void syntax_problem(struct cfg_ctx *c, const json_error_t *e)
{
    char text[JSON_ERROR_TEXT_LENGTH];
    (void) snprintf(text, sizeof(text), "%s", e->text);
    char *near = strstr(text, " near ");
    if (near && strncmp(text, "duplicate object key", 20) != 0)
        *near = '\0'; /* a duplicate's token is the key: worth keeping */
    if (cfg_has_ctrl(text))
        (void) snprintf(text, sizeof(text), "syntax error");
    char *line = NULL;
    if (asprintf(&line,
                 "%s:%d:%d: invalid JSON: %s; expected one JSON object (no comments, no "
                 "trailing commas)",
                 c->file, e->line, e->column, text) < 0) {
        c->oom = true;
        return;
    }
    lines_push(c, &c->pb->lines, &c->pb->n, line);
}

void config_problems_finish(struct config_problems *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->lines[i]);
    free(p->lines);
    for (size_t i = 0; i < p->nwarnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    *p = (struct config_problems){0};
}

/* ---------------------------------------------------------- top level -- */

static const char *const root_keys[] = {"source",     "listen",  "state",         "sync",
                                        "connection", "acls",    "target_path",   "connection_id",
                                        "acls_id",    "default", "connections",   "acl_profiles",
                                        "profiles",   "s3",      "storage_class", "acl_mode",
                                        NULL};

/* Where the keys people put at the top level by mistake belong. */
static const char in_s3[] =
    "it belongs in \"s3\": {...} (RGW reads the multipart keys from \"s3\")";
static const char in_profile[] = "it belongs in a \"profiles\" entry";
static const char in_conn_or_source[] = "it belongs in \"connection\" (the target) or \"source\"";
static const char in_conn[] = "it belongs in \"connection\"";
static const char in_sync[] = "it belongs in \"sync\"";
static const struct key_hint root_hints[] = {{"multipart_sync_threshold", in_s3},
                                             {"multipart_min_part_size", in_s3},
                                             {"source_bucket", in_profile},
                                             {"exclude", in_profile},
                                             {"endpoint", in_conn_or_source},
                                             {"access_key", in_conn_or_source},
                                             {"secret", in_conn_or_source},
                                             {"secret_file", in_conn_or_source},
                                             {"host_style", in_conn},
                                             {"region", in_conn},
                                             {"provider", in_conn},
                                             {"poll_interval", in_sync},
                                             {"concurrency", in_sync},
                                             {NULL, NULL}};

/* ------------------------------------------------------------- blocks -- */

static const char *const source_keys[] = {"endpoint", KEY_PAIR_KEYS, "zonegroup", "zone", NULL};
static const struct key_hint source_hints[] = {KEY_PAIR_HINTS, {NULL, NULL}};

static void parse_source(struct cfg_ctx *c, json_t *obj)
{
    struct config *cfg = c->cfg;
    const char *jp = ".source";
    cfg->source.present = true;
    if (!cfg_check_type(c, obj, JSON_OBJECT, jp,
                        "an object with endpoint, access_key, secret, zonegroup, zone"))
        return;
    cfg_check_keys(c, obj, jp, source_keys, source_hints);
    const char *s = NULL;
    if (cfg_get_str_required(c, obj, jp, "endpoint", "the URL of an RGW of the source zone", NULL,
                             &s) > 0) {
        const char *why = cfg_check_url(s, NULL, 0);
        if (why)
            cfg_problem(c, ".source.endpoint",
                        "%s %s; expected an http:// or https:// URL like "
                        "\"http://rgw.example:8000\"",
                        cfg_quote(s).s, why);
        else
            cfg->source.endpoint = cfg_strdup(c, s);
    }
    bool bad = false;
    if (!cfg_key_pair_parse(c, obj, jp, &cfg->source.access_key, &cfg->source.secret, &bad))
        cfg_problem(c, ".source.access_key",
                    "missing; expected the zonegroup system user's access_key and secret");
    if (cfg_get_str_required(c, obj, jp, "zonegroup", "the source zonegroup's name", NULL, &s) > 0)
        cfg->source.zonegroup = cfg_strdup(c, s);
    if (cfg_get_str_required(c, obj, jp, "zone", "the name of our zone in the source zonegroup",
                             "the name of our zone in the zonegroup, like \"rgw2cloud\"", &s) > 0)
        cfg->source.zone = cfg_strdup(c, s);
}

static void parse_listen(struct cfg_ctx *c, json_t *root)
{
    const char *s = NULL;
    if (cfg_get_str(c, root, "", "listen", 0, "\"host:port\" like \"127.0.0.1:8090\"", &s) <= 0)
        return;
    const char *why = cfg_check_hostport(s, strlen(s), true, NULL, 0);
    if (why)
        cfg_problem(c, ".listen",
                    "%s %s; expected \"host:port\" like \"127.0.0.1:8090\" or "
                    "\"[::1]:8090\"",
                    cfg_quote(s).s, why);
    else
        c->cfg->listen = cfg_strdup(c, s);
}

static const char *const state_keys[] = {"backend",   "path",   "pool", "namespace",
                                         "ceph_conf", "client", NULL};
static const char *const backend_names[] = {"sqlite", "rados", NULL};

static void parse_state(struct cfg_ctx *c, json_t *obj)
{
    struct config *cfg = c->cfg;
    const char *jp = ".state";
    const char *path = NULL, *pool = NULL, *ns = NULL, *conf = NULL, *client = NULL;
    int backend = CFG_STATE_SQLITE;
    if (obj && !cfg_check_type(c, obj, JSON_OBJECT, jp, "{\"backend\": \"sqlite\", \"path\": ...}"))
        obj = NULL;
    if (obj) {
        cfg_check_keys(c, obj, jp, state_keys, NULL);
        (void) cfg_get_enum(c, obj, jp, "backend", backend_names, "\"sqlite\" or \"rados\"",
                            &backend);
        (void) cfg_get_str(c, obj, jp, "path", 0, "the path of the sqlite database", &path);
        (void) cfg_get_str(c, obj, jp, "pool", 0, "a RADOS pool name", &pool);
        (void) cfg_get_str(c, obj, jp, "namespace", STR_EMPTY_OK, "a RADOS namespace", &ns);
        (void) cfg_get_str(c, obj, jp, "ceph_conf", 0, "the path of ceph.conf", &conf);
        (void) cfg_get_str(c, obj, jp, "client", 0, "a Ceph client name like \"client.admin\"",
                           &client);
    }
    cfg->state.backend = (enum cfg_state_backend) backend;
    if (backend == CFG_STATE_SQLITE) {
        static const char *const rados_only[] = {"pool", "namespace", "ceph_conf", "client", NULL};
        for (size_t i = 0; obj && rados_only[i]; i++)
            if (json_object_get(obj, rados_only[i]))
                cfg_problem(
                    c, cfg_jp_key(jp, rados_only[i]).s,
                    "applies to \"backend\": \"rados\" only; expected it absent for sqlite");
        cfg->state.path = cfg_strdup(c, path ? path : CFG_DEFAULT_STATE_PATH);
        return;
    }
    if (obj && json_object_get(obj, "path"))
        cfg_problem(c, ".state.path",
                    "applies to \"backend\": \"sqlite\" only; expected \"pool\" for rados");
    if (client && strncmp(client, "client.", 7) != 0) {
        cfg_problem(c, ".state.client",
                    "%s is not a client name; expected \"client.<id>\" like "
                    "\"client.admin\"",
                    cfg_quote(client).s);
        client = NULL;
    }
    cfg->state.pool = cfg_strdup(c, pool ? pool : "rgw2cloud");
    cfg->state.namespace_ = cfg_strdup(c, ns ? ns : "");
    cfg->state.ceph_conf = cfg_strdup(c, conf ? conf : "/etc/ceph/ceph.conf");
    cfg->state.client = cfg_strdup(c, client ? client : "client.admin");
}

static const char *const sync_keys[] = {
    "poll_interval",      "concurrency",     "part_concurrency",   "max_inflight_bytes",
    "max_inflight_parts", "bandwidth_limit", "reconcile_interval", NULL};

/* After parse_s3(): max_inflight_bytes must hold one part. */
static void parse_sync(struct cfg_ctx *c, json_t *obj)
{
    struct config *cfg = c->cfg;
    const char *jp = ".sync";
    uint64_t v;
    cfg->sync.poll_interval = 5;
    cfg->sync.concurrency = 32;
    cfg->sync.part_concurrency = 8;
    cfg->sync.max_inflight_bytes = GiB;
    cfg->sync.max_inflight_parts = 16;
    if (!obj || !cfg_check_type(c, obj, JSON_OBJECT, jp, "an object like {\"concurrency\": 32}"))
        return;
    cfg_check_keys(c, obj, jp, sync_keys, NULL);
    const struct { /* the counts and their ranges */
        const char *key;
        unsigned min, max;
        const char *unit;
        unsigned *out;
    } counts[] = {
        {"poll_interval", 1, 3600, " seconds", &cfg->sync.poll_interval},
        {"concurrency", 1, 4096, "", &cfg->sync.concurrency},
        {"part_concurrency", 1, 1024, "", &cfg->sync.part_concurrency},
        {"max_inflight_parts", 1, 65536, "", &cfg->sync.max_inflight_parts},
        {"reconcile_interval", 0, 366 * 86400, " seconds (0 = never)",
         &cfg->sync.reconcile_interval},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if (cfg_get_uint(c, obj, jp, counts[i].key, counts[i].min, counts[i].max, counts[i].unit,
                         &v) > 0)
            *counts[i].out = (unsigned) v;
    (void) cfg_get_size(c, obj, jp, "bandwidth_limit", &cfg->sync.bandwidth_limit);
    if (cfg_get_size(c, obj, jp, "max_inflight_bytes", &v) > 0) {
        if (v < cfg->s3.multipart_min_part_size)
            cfg_problem(c, ".sync.max_inflight_bytes",
                        "%s is less than one part; expected at least multipart_min_part_size (%s)",
                        cfg_size_text(v).s, cfg_size_text(cfg->s3.multipart_min_part_size).s);
        else
            cfg->sync.max_inflight_bytes = v;
    }
}

static const char *const s3_keys[] = {"multipart_sync_threshold", "multipart_min_part_size", NULL};

static void parse_s3(struct cfg_ctx *c, json_t *obj)
{
    struct config *cfg = c->cfg;
    const char *jp = ".s3";
    uint64_t v;
    cfg->s3.multipart_sync_threshold = 32 * MiB;
    cfg->s3.multipart_min_part_size = 32 * MiB;
    if (!obj ||
        !cfg_check_type(c, obj, JSON_OBJECT, jp,
                        "{\"multipart_sync_threshold\": ..., \"multipart_min_part_size\": ...}"))
        return;
    cfg_check_keys(c, obj, jp, s3_keys, NULL);
    if (cfg_get_size(c, obj, jp, "multipart_sync_threshold", &v) > 0) {
        if (v > MAX_PART_SIZE)
            cfg_problem(c, ".s3.multipart_sync_threshold",
                        "%s is above 5 GiB, the largest single PUT; expected at most 5 GiB",
                        cfg_size_text(v).s);
        else
            cfg->s3.multipart_sync_threshold = v;
    }
    if (cfg_get_size(c, obj, jp, "multipart_min_part_size", &v) > 0) {
        if (v > MAX_PART_SIZE) {
            cfg_problem(c, ".s3.multipart_min_part_size",
                        "%s is above 5 GiB, the largest part; expected 5 MiB to 5 GiB",
                        cfg_size_text(v).s);
        } else if (v < MIN_PART_SIZE) {
            cfg_warning(c, ".s3.multipart_min_part_size",
                        "%s is below 5 MiB, the smallest part S3 accepts; raised to 5 MiB",
                        cfg_size_text(v).s);
            cfg->s3.multipart_min_part_size = MIN_PART_SIZE;
        } else {
            cfg->s3.multipart_min_part_size = v;
        }
    }
}

/* ----------------------------------------------------------- snapshot -- */

static void cfg_connection_finish(struct cfg_connection *conn)
{
    free(conn->id);
    free(conn->endpoint);
    free(conn->access_key);
    cfg_secret_free(conn->secret);
    free(conn->region);
}

static void cfg_acl_profile_finish(struct cfg_acl_profile *ap)
{
    for (size_t i = 0; i < ap->nacls; i++) {
        free(ap->acls[i].source_id);
        free(ap->acls[i].dest_id);
    }
    free(ap->acls);
    free(ap->id);
}

static void cfg_profile_finish(struct cfg_profile *p)
{
    free(p->source_bucket);
    free(p->target_path);
    free(p->storage_class);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->source.endpoint);
    free(cfg->source.access_key);
    cfg_secret_free(cfg->source.secret);
    free(cfg->source.zonegroup);
    free(cfg->source.zone);
    free(cfg->listen);
    free(cfg->state.path);
    free(cfg->state.pool);
    free(cfg->state.namespace_);
    free(cfg->state.ceph_conf);
    free(cfg->state.client);
    for (size_t i = 0; cfg->connections && i < cfg->nconnections; i++)
        cfg_connection_finish(&cfg->connections[i]);
    free(cfg->connections);
    for (size_t i = 0; cfg->acl_profiles && i < cfg->nacl_profiles; i++)
        cfg_acl_profile_finish(&cfg->acl_profiles[i]);
    free(cfg->acl_profiles);
    cfg_profile_finish(&cfg->root);
    for (size_t i = 0; cfg->profiles && i < cfg->nprofiles; i++)
        cfg_profile_finish(&cfg->profiles[i]);
    free(cfg->profiles);
    free(cfg);
}

/* --------------------------------------------------------------- load -- */

int config_load(struct config **out, struct config_problems *problems, const char *path)
{
    struct cfg_ctx c = {.file = path, .pb = problems};
    struct stat st;
    json_error_t jerr;
    json_t *root = NULL; /* owned */
    int ret;

    *problems = (struct config_problems){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) < 0) {
        ret = -errno;
        cfg_problem(&c, NULL, "cannot read: %s; expected a readable JSON file", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        cfg_problem(&c, NULL, "not a regular file; expected a JSON file");
        goto out;
    }
    root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        syntax_problem(&c, &jerr);
        ret = -EINVAL;
        goto out;
    }
    if (!json_is_object(root)) {
        cfg_problem(&c, "", "the file holds %s; expected one JSON object", cfg_type_name(root));
        ret = -EINVAL;
        goto out;
    }

    c.cfg = calloc(1, sizeof(*c.cfg));
    const char *slash = strrchr(path, '/');
    c.dir = slash ? strndup(path, (size_t) (slash - path) + (slash == path)) : NULL;
    if (!c.cfg || (slash && !c.dir)) {
        ret = -ENOMEM;
        goto out;
    }
    c.cfg->path = cfg_strdup(&c, path);

    cfg_check_keys(&c, root, "", root_keys, root_hints);
    json_t *v = json_object_get(root, "source"); /* borrowed */
    if (v)
        parse_source(&c, v);
    parse_listen(&c, root);
    parse_state(&c, json_object_get(root, "state"));
    parse_s3(&c, json_object_get(root, "s3"));
    parse_sync(&c, json_object_get(root, "sync"));
    cfg_targets_parse(&c, root);

    c.cfg->secrets_readable_by_others = c.inline_secret && (st.st_mode & (S_IRGRP | S_IROTH));
    if (c.oom)
        ret = -ENOMEM;
    else if (problems->n)
        ret = -EINVAL;
    else
        ret = 0;
out:
    if (ret == 0) {
        *out = c.cfg;
        c.cfg = NULL;
    }
    config_free(c.cfg);
    free(c.dir);
    json_decref(root);
    if (fd >= 0)
        (void) close(fd);
    return ret;
}

/* -------------------------------------------------------------- match -- */

const struct cfg_profile *config_find_profile(const struct config *cfg, const char *bucket)
{
    const struct cfg_profile *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < cfg->nprofiles; i++) {
        const struct cfg_profile *p = &cfg->profiles[i];
        if (!p->source_bucket)
            continue;
        if (!p->prefix) {
            if (strcmp(p->source_bucket, bucket) == 0)
                return p;
            continue;
        }
        size_t len = strlen(p->source_bucket);
        if (strncmp(p->source_bucket, bucket, len) == 0 && (!best || len > best_len)) {
            best = p;
            best_len = len;
        }
    }
    return best ? best : &cfg->root;
}

bool config_named_buckets(const struct config *cfg, const char ***names, size_t *n)
{
    bool rest_excluded = false;
    size_t count = 0;
    *names = NULL;
    *n = 0;
    for (size_t i = 0; i < cfg->nprofiles; i++) {
        const struct cfg_profile *p = &cfg->profiles[i];
        if (!p->source_bucket)
            continue;
        if (p->prefix && !p->exclude)
            return false;
        if (p->prefix && !p->source_bucket[0])
            rest_excluded = true;
        if (!p->prefix && !p->exclude)
            count++;
    }
    if (!rest_excluded)
        return false;
    const char **out = calloc(count + 1, sizeof(*out));
    if (!out)
        return false;
    for (size_t i = 0; i < cfg->nprofiles; i++) {
        const struct cfg_profile *p = &cfg->profiles[i];
        if (p->source_bucket && !p->prefix && !p->exclude)
            out[(*n)++] = p->source_bucket;
    }
    *names = out;
    return true;
}
