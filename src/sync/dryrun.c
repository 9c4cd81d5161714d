/* The dry-run verb: list the source, plan every object, print the plans
 * (sync/dryrun.h says what each action means).
 *
 * One loop drives everything: the source listings are synchronous calls on
 * it, and the target HEADs (plus the source ?acl reads where the profile
 * maps grants) of one listing page run concurrently, up to MAX_INFLIGHT,
 * while the plans are printed in listing order as soon as they are known.
 * Nothing is ever written: no PUT, no CreateBucket, no state write. */
#include "sync/dryrun.h"

#include "config.h"
#include "err.h"
#include "http/loop.h"
#include "http/s3.h"
#include "http/xml.h"
#include "source/rgw.h"
#include "state/state_api.h"
#include "sync/grants.h"
#include "sync/mapping.h"
#include "sync/parts.h"
#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE         1000
#define MAX_INFLIGHT 32
#define RETRIES      4
#define META_PREFIX  "x-amz-meta-"
#define SID_LITERAL  "${sid}"

enum action { ACT_CREATE = 0, ACT_UPDATE, ACT_SKIP, ACT_DELETE, ACT_EXCLUDE, NACT };
static const char *const action_names[NACT] = {"create", "update", "skip", "delete", "exclude"};

/* A target connection and our client for it (HEADs only). */
struct dconn {
    const struct cfg_connection *conn;
    struct s3_client *s3;
};

/* Per target bucket, for the summary. */
struct tsum {
    char *endpoint;
    char *bucket;
    uint64_t n[NACT];
    uint64_t bytes;
};

struct dr {
    const struct config *cfg;
    bool json;
    struct loop *loop;
    struct rgw_source *src;
    struct rgw_period period;
    char *sid;           /* NULL: no state or no sid yet */
    const char *sid_why; /* why it is unknown, for the summary */
    bool sid_used;       /* some target path of a planned bucket uses ${sid} */
    uint64_t threshold;
    struct dconn *conns;
    size_t nconns;
    size_t inflight;

    uint64_t n[NACT];
    uint64_t bytes;
    struct tsum *tsums;
    size_t ntsums;
    size_t buckets, buckets_excluded, buckets_failed;
    bool header_printed;
};

/* One source bucket being planned. */
struct bctx {
    struct dr *d;
    const struct rgw_bucket *b;
    char name[512]; /* "[tenant/]name": what profiles match and the output shows */
    const struct cfg_profile *prof;
    struct dconn *conn; /* NULL when excluded */
    char *src_bucket;   /* "tenant:name" or "name": the source's S3 paths */
    char *dst_bucket;
    char *prefix;
    bool need_acl;
    bool dst_unknown; /* the target bucket holds an unexpanded ${sid}: it cannot exist yet */
    struct tsum *ts;
};

enum stage { ST_NONE = 0, ST_HEAD, ST_ACL };

/* One listing entry's plan. */
struct item {
    struct bctx *bc;
    const struct rgw_obj *o; /* borrowed from the page */
    bool versioned;
    char mtime[40]; /* the source mtime as "sec.nsec" */
    char *dst_key;
    enum action act;
    struct grants grants;
    enum stage stage;
    struct s3_call call;
    struct loop_timer timer;
    bool running; /* call in the loop, or waiting for a resend */
    bool done;
    int err;
    char *detail;
};

/* ------------------------------------------------------------- small bits */

static void human(char *out, size_t n, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double) bytes;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        (void) snprintf(out, n, "%" PRIu64 " B", bytes);
    else
        (void) snprintf(out, n, "%.1f %s", v, units[u]);
}

static struct dconn *conn_get(struct dr *d, const struct cfg_connection *conn)
{
    for (size_t i = 0; i < d->nconns; i++)
        if (d->conns[i].conn == conn)
            return &d->conns[i];
    struct dconn *nc = realloc(d->conns, (d->nconns + 1) * sizeof(*nc));
    if (!nc)
        return NULL;
    d->conns = nc;
    struct s3_endpoint ep = {
        .url = conn->endpoint,
        .access_key = conn->access_key,
        .secret = conn->secret,
        .region = conn->region,
        .virtual_host = conn->virtual_host,
    };
    struct dconn *c = &d->conns[d->nconns];
    c->conn = conn;
    c->s3 = NULL;
    if (s3_client_new(&c->s3, d->loop, &ep) < 0)
        return NULL;
    d->nconns++;
    return c;
}

static struct tsum *tsum_get(struct dr *d, const char *endpoint, const char *bucket)
{
    for (size_t i = 0; i < d->ntsums; i++)
        if (strcmp(d->tsums[i].endpoint, endpoint) == 0 && strcmp(d->tsums[i].bucket, bucket) == 0)
            return &d->tsums[i];
    struct tsum *nt = realloc(d->tsums, (d->ntsums + 1) * sizeof(*nt));
    if (!nt)
        return NULL;
    d->tsums = nt;
    struct tsum *t = &d->tsums[d->ntsums];
    memset(t, 0, sizeof(*t));
    t->endpoint = strdup(endpoint);
    t->bucket = strdup(bucket);
    if (!t->endpoint || !t->bucket) {
        free(t->endpoint);
        free(t->bucket);
        return NULL;
    }
    d->ntsums++;
    return t;
}

/* ---------------------------------------------------------------- buckets */

static void bctx_finish(struct bctx *c)
{
    free(c->src_bucket);
    free(c->dst_bucket);
    free(c->prefix);
}

/* Profile, connection and target path of the bucket, as the sync's
 * ctx_init() resolves them. 0, or a negative errno with err_get(). */
static int bctx_init(struct bctx *c)
{
    struct dr *d = c->d;
    const struct rgw_bucket *b = c->b;
    rgw_bucket_qualified(c->name, sizeof(c->name), b);
    c->prof = config_find_profile(d->cfg, c->name);
    if (c->prof->exclude)
        return 0;
    c->conn = conn_get(d, c->prof->conn);
    if (!c->conn) {
        err_set("target %s: cannot create a client", c->prof->conn->endpoint);
        return -ENOMEM;
    }
    const char *tmpl = c->prof->target_path ? c->prof->target_path : CFG_DEFAULT_TARGET_PATH;
    if (strstr(tmpl, "${sid}"))
        d->sid_used = true;
    struct mapping_vars v = {
        .sid = d->sid ? d->sid : SID_LITERAL,
        .zonegroup = d->period.zonegroup_name,
        .zonegroup_id = d->period.zonegroup_id,
        .zone = d->cfg->source.zone,
        .zone_id = d->period.zone_id,
        .tenant = b->tenant,
        .bucket = b->name,
        .owner = b->owner,
    };
    err_clear();
    int r = mapping_target(&c->dst_bucket, &c->prefix, tmpl, &v);
    if (r < 0) {
        char what[600];
        (void) snprintf(what, sizeof(what), "%s", err_get());
        err_set("bucket %s: target_path \"%s\" cannot be expanded: %s", c->name, tmpl,
                what[0] ? what : strerror(-r));
        return r;
    }
    c->dst_unknown = !d->sid && strstr(c->dst_bucket, SID_LITERAL) != NULL;
    c->src_bucket = rgw_bucket_path(b);
    if (!c->src_bucket)
        return -ENOMEM;
    c->need_acl = grants_need_acl(c->prof) != 0;
    c->ts = tsum_get(d, c->conn->conn->endpoint, c->dst_bucket);
    return c->ts ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------ items */

static void item_finish(struct item *it)
{
    s3_call_finish(&it->call);
    grants_finish(&it->grants);
    free(it->dst_key);
    free(it->detail);
}

/* The plan is complete (or failed): the slot is free. */
static void item_end(struct item *it, int err, const char *detail)
{
    struct dr *d = it->bc->d;
    if (it->stage != ST_NONE)
        d->inflight--;
    it->stage = ST_NONE;
    it->running = false;
    it->err = err;
    if (err < 0 && !it->detail)
        it->detail = strdup(detail && *detail ? detail : strerror(-err));
    it->done = true;
}

static void on_call_done(struct s3_call *call, void *ud);

static void resend(void *ud)
{
    struct item *it = ud;
    int r = s3_call_start(it->call.client, &it->call, on_call_done, it);
    if (r < 0)
        item_end(it, r, "cannot resend a request");
}

/* The grants the copy would send; the source ACL first when mapped. */
static void grants_stage(struct item *it)
{
    struct bctx *c = it->bc;
    if (!c->need_acl) {
        int r = grants_map(&it->grants, c->prof, NULL);
        item_end(it, r, "out of memory");
        return;
    }
    it->stage = ST_ACL;
    s3_call_finish(&it->call);
    int r = s3_call_set(&it->call, "GET", c->src_bucket, it->o->key);
    if (r == 0)
        r = s3_call_query(&it->call, "acl", NULL);
    if (r == 0 && it->versioned)
        r = s3_call_query(&it->call, "versionId", it->o->version_id);
    if (r == 0)
        r = s3_call_start(rgw_source_s3(c->d->src), &it->call, on_call_done, it);
    if (r < 0) {
        item_end(it, r, "source: cannot start GET ?acl");
        return;
    }
    it->running = true;
}

static bool target_holds(const struct item *it)
{
    const char *e = s3_call_resp_header(&it->call, META_PREFIX "rgwx-source-etag");
    const char *m = s3_call_resp_header(&it->call, META_PREFIX "rgwx-source-mtime");
    return e && m && strcmp(e, it->o->etag) == 0 && strcmp(m, it->mtime) == 0;
}

/* A delete marker removes the target's object unless the target's copy
 * is newer than the marker (the remove rule of the S3 module). */
static bool target_newer(const struct item *it)
{
    const char *m = s3_call_resp_header(&it->call, META_PREFIX "rgwx-source-mtime");
    struct timefmt_ns held, asked;
    return m && timefmt_parse(&held, m) == 0 && timefmt_parse(&asked, it->o->mtime) == 0 &&
           timefmt_cmp(&held, &asked) > 0;
}

static void on_call_done(struct s3_call *call, void *ud)
{
    struct item *it = ud;
    struct bctx *c = it->bc;
    it->running = false;
    int err = call->err;
    if (err < 0 && call->retryable && call->attempts <= RETRIES) {
        long ms = 200L << (call->attempts - 1);
        it->running = true;
        loop_timer_arm(c->d->loop, &it->timer, ms, resend, it);
        return;
    }
    if (err < 0 && err != -ENOENT && err != -ESTALE) {
        /* say which side failed: the one line the user gets */
        char line[1200];
        (void) snprintf(line, sizeof(line), "%s %s: %s", it->stage == ST_HEAD ? "target" : "source",
                        it->stage == ST_HEAD ? c->conn->conn->endpoint : c->d->cfg->source.endpoint,
                        call->detail ? call->detail : strerror(-err));
        free(it->detail);
        it->detail = strdup(line);
    }
    if (it->stage == ST_HEAD) {
        if (it->o->delete_marker) {
            if (err == -ENOENT) {
                it->act = ACT_SKIP; /* nothing to remove */
                item_end(it, 0, NULL);
            } else if (err < 0) {
                item_end(it, err, call->detail);
            } else {
                it->act = target_newer(it) ? ACT_SKIP : ACT_DELETE;
                item_end(it, 0, NULL);
            }
            return;
        }
        if (err == -ENOENT) {
            it->act = ACT_CREATE;
        } else if (err < 0) {
            item_end(it, err, call->detail);
            return;
        } else if (target_holds(it)) {
            it->act = ACT_SKIP;
            item_end(it, 0, NULL);
            return;
        } else {
            it->act = ACT_UPDATE;
        }
        grants_stage(it);
        return;
    }
    /* ST_ACL */
    if (err == -ENOENT || err == -ESTALE) {
        /* gone since the listing: the copy would skip it, its log entry follows */
        it->act = ACT_SKIP;
        item_end(it, 0, NULL);
        return;
    }
    if (err < 0) {
        item_end(it, err, call->detail);
        return;
    }
    struct xml_acl acl = {0};
    int r = xml_parse_acl(&acl, call->resp ? call->resp : "", call->resp_len);
    if (r == 0)
        r = grants_map(&it->grants, c->prof, &acl);
    xml_acl_finish(&acl);
    item_end(it, r, "source: unreadable ACL");
}

/* Plan one entry: at once when no request is needed, else start it. */
static void item_start(struct item *it)
{
    struct bctx *c = it->bc;
    struct dr *d = c->d;
    const struct rgw_obj *o = it->o;
    if (!c->conn) {
        it->act = ACT_EXCLUDE;
        it->done = true;
        return;
    }
    it->dst_key = mapping_key(c->prefix, o->key);
    if (!it->dst_key) {
        it->err = -ENOMEM;
        it->detail = strdup("out of memory");
        it->done = true;
        return;
    }
    struct timefmt_ns t;
    if (!o->delete_marker) {
        if (timefmt_parse(&t, o->mtime) < 0) {
            char line[600];
            (void) snprintf(line, sizeof(line),
                            "source: %s/%s: listing has no valid mtime (\"%s\")", c->name, o->key,
                            o->mtime);
            it->err = -EPROTO;
            it->detail = strdup(line);
            it->done = true;
            return;
        }
        timefmt_secnsec(it->mtime, sizeof(it->mtime), &t);
    }
    d->inflight++;
    if (c->dst_unknown) {
        /* a target bucket named after a sid not chosen yet cannot exist */
        it->stage = ST_HEAD; /* counted in flight until item_end */
        if (o->delete_marker) {
            it->act = ACT_SKIP;
            item_end(it, 0, NULL);
        } else {
            it->act = ACT_CREATE;
            grants_stage(it);
        }
        return;
    }
    it->stage = ST_HEAD;
    int r = s3_head_object_prepare(&it->call, c->dst_bucket, it->dst_key);
    if (r == 0)
        r = s3_call_start(c->conn->s3, &it->call, on_call_done, it);
    if (r < 0) {
        item_end(it, r, "target: cannot start HEAD");
        return;
    }
    it->running = true;
}

/* Stop whatever an item still has going. */
static void item_abort(struct item *it)
{
    struct dr *d = it->bc->d;
    loop_timer_cancel(d->loop, &it->timer);
    if (it->running)
        s3_call_abort(&it->call);
    if (it->stage != ST_NONE)
        d->inflight--;
    it->stage = ST_NONE;
    it->running = false;
}

/* ----------------------------------------------------------------- output */

static json_t *parts_json(const struct item *it, char *text, size_t n)
{
    const struct dr *d = it->bc->d;
    (void) snprintf(text, n, "-");
    if (it->act == ACT_DELETE || it->act == ACT_EXCLUDE || it->o->delete_marker)
        return json_null(); /* nothing to send */
    if (it->o->size < d->threshold) {
        (void) snprintf(text, n, "1");
        return json_integer(1);
    }
    const struct cfg_connection *conn = it->bc->conn->conn;
    struct part_plan p;
    if (part_plan(&p, it->o->size, d->cfg->s3.multipart_min_part_size,
                  conn->provider == CFG_PROVIDER_COS ? PARTS_COS_MIN : PARTS_AWS_MIN) < 0) {
        (void) snprintf(text, n, "too large");
        return json_null();
    }
    char hs[32];
    human(hs, sizeof(hs), p.part_size);
    (void) snprintf(text, n, "%" PRIu32 " x %s", p.nparts, hs);
    json_t *o = json_object();
    json_object_set_new(o, "count", json_integer(p.nparts));
    json_object_set_new(o, "size", json_integer((json_int_t) p.part_size));
    return o;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static void item_print(struct item *it)
{
    struct bctx *c = it->bc;
    struct dr *d = c->d;
    const struct rgw_obj *o = it->o;
    bool excluded = it->act == ACT_EXCLUDE;
    char parts[64];
    json_t *pj = parts_json(it, parts, sizeof(parts));
    json_t *grants = json_array();
    size_t ngrants = 0;
    for (int i = 0; i < GRANT_NHEADERS; i++) {
        if (!it->grants.value[i])
            continue;
        json_t *g = json_object();
        json_object_set_new(g, "header", json_string(grant_header_names[i]));
        json_object_set_new(g, "value", json_string(it->grants.value[i]));
        json_array_append_new(grants, g);
    }
    if (it->grants.canned) {
        json_t *g = json_object();
        json_object_set_new(g, "header", json_string("x-amz-acl"));
        json_object_set_new(g, "value", json_string(it->grants.canned));
        json_array_append_new(grants, g);
        ngrants++;
    }
    ngrants += it->grants.mapped;
    const char *sc = excluded ? NULL : c->prof->storage_class;

    d->n[it->act]++;
    if (it->act == ACT_CREATE || it->act == ACT_UPDATE)
        d->bytes += o->size;
    if (!excluded && c->ts) {
        c->ts->n[it->act]++;
        if (it->act == ACT_CREATE || it->act == ACT_UPDATE)
            c->ts->bytes += o->size;
    }

    if (d->json) {
        json_t *j = json_object();
        json_object_set_new(j, "bucket", json_string(c->name));
        json_object_set_new(j, "key", json_string(o->key));
        json_object_set_new(j, "version_id",
                            it->versioned ? json_string(o->version_id) : json_null());
        json_object_set_new(j, "size", json_integer((json_int_t) o->size));
        json_object_set_new(j, "action", json_string(action_names[it->act]));
        json_object_set_new(j, "target_endpoint",
                            str_or_null(excluded ? NULL : c->conn->conn->endpoint));
        json_object_set_new(j, "target_bucket", str_or_null(excluded ? NULL : c->dst_bucket));
        json_object_set_new(j, "target_key", str_or_null(excluded ? NULL : it->dst_key));
        json_object_set_new(j, "storage_class", str_or_null(sc));
        json_object_set_new(j, "grants", grants);
        json_object_set_new(j, "grants_dropped", json_integer((json_int_t) it->grants.dropped));
        json_object_set_new(j, "parts", pj);
        char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (line)
            printf("%s\n", line);
        free(line);
        json_decref(j);
        return;
    }
    json_decref(grants);
    json_decref(pj);
    if (!d->header_printed) {
        printf("%-20s %-32s %-7s %-44s %-13s %-6s %s\n", "BUCKET", "KEY", "ACTION", "TARGET",
               "STORAGE CLASS", "GRANTS", "PARTS");
        d->header_printed = true;
    }
    char target[1024], gr[32];
    if (excluded)
        (void) snprintf(target, sizeof(target), "-");
    else
        (void) snprintf(target, sizeof(target), "%s/%s", c->dst_bucket, it->dst_key);
    if (it->grants.dropped)
        (void) snprintf(gr, sizeof(gr), "%zu(-%zu)", ngrants, it->grants.dropped);
    else
        (void) snprintf(gr, sizeof(gr), "%zu", ngrants);
    printf("%-20s %-32s %-7s %-44s %-13s %-6s %s\n", c->name, o->key, action_names[it->act], target,
           sc ? sc : "-", excluded ? "-" : gr, parts);
}

/* ------------------------------------------------------------ the listing */

/* Plan every entry of one page; prints in order. 0, or -1 with the line
 * printed. */
static int plan_page(struct bctx *c, const struct rgw_obj_page *page)
{
    struct dr *d = c->d;
    struct item *items = calloc(page->n ? page->n : 1, sizeof(*items));
    if (!items) {
        fprintf(stderr, "rgw2cloud: dry-run: out of memory\n");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < page->n; i++) {
        const struct rgw_obj *o = &page->objs[i];
        /* what an unversioned target holds: the latest of each key */
        if (!o->is_latest)
            continue;
        /* an excluded bucket's delete markers are no objects to list */
        if (o->delete_marker && c->prof->exclude)
            continue;
        struct item *it = &items[n++];
        it->bc = c;
        it->o = o;
        it->versioned = o->version_id[0] && strcmp(o->version_id, "null") != 0;
        s3_call_init(&it->call);
    }
    size_t next = 0, printed = 0;
    int rc = 0;
    while (printed < n) {
        while (d->inflight < MAX_INFLIGHT && next < n)
            item_start(&items[next++]);
        while (printed < n && items[printed].done) {
            struct item *it = &items[printed];
            if (it->err < 0) {
                fflush(stdout);
                fprintf(stderr, "rgw2cloud: dry-run: %s/%s: %s\n", c->name, it->o->key,
                        it->detail ? it->detail : strerror(-it->err));
                rc = -1;
                break;
            }
            item_print(it);
            printed++;
        }
        if (rc < 0)
            break;
        if (printed < n && loop_run_once(d->loop, 1000) < 0) {
            fprintf(stderr, "rgw2cloud: dry-run: the event loop failed\n");
            rc = -1;
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        item_abort(&items[i]);
        item_finish(&items[i]);
    }
    free(items);
    return rc;
}

/* Every shard of one bucket instance, page by page. */
static int plan_bucket(struct dr *d, const struct rgw_bucket *b)
{
    struct bctx c = {.d = d, .b = b};
    int r = bctx_init(&c);
    if (r < 0) {
        fprintf(stderr, "rgw2cloud: dry-run: %s\n", err_get());
        d->buckets_failed++;
        bctx_finish(&c);
        return r == -ENOMEM ? -1 : 0; /* a bucket that cannot be mapped: the others go on */
    }
    d->buckets++;
    if (c.prof->exclude)
        d->buckets_excluded++;
    int nsh = b->num_shards > 0 ? b->num_shards : 1;
    int rc = 0;
    for (int sh = 0; sh < nsh && rc == 0; sh++) {
        char *key = strdup(""), *ver = strdup("");
        if (!key || !ver)
            rc = -1;
        for (;;) {
            if (rc < 0)
                break;
            struct rgw_obj_page page = {0};
            r = rgw_list_shard(d->src, b, b->num_shards > 0 ? sh : -1, key, ver, PAGE, &page);
            if (r < 0) {
                fprintf(stderr, "rgw2cloud: dry-run: source: listing %s shard %d: %s\n", c.name, sh,
                        err_get());
                rc = -1;
                break;
            }
            rc = plan_page(&c, &page);
            bool more = page.truncated && page.n > 0;
            if (rc == 0 && more) {
                free(key);
                free(ver);
                key = strdup(page.objs[page.n - 1].key);
                ver = strdup(page.objs[page.n - 1].version_id);
                if (!key || !ver)
                    rc = -1;
            }
            rgw_obj_page_finish(&page);
            if (!more)
                break;
        }
        free(key);
        free(ver);
    }
    bctx_finish(&c);
    return rc;
}

/* Plan instance_key if it is its bucket's current instance. */
static int plan_instance(struct dr *d, const char *instance_key, bool must_exist)
{
    struct rgw_bucket b = {0};
    int r = rgw_bucket_instance_get(d->src, instance_key, &b);
    if (r == -ENOENT && !must_exist)
        return 0; /* deleted since it was listed */
    if (r < 0) {
        fprintf(stderr, "rgw2cloud: dry-run: source: bucket instance %s: %s\n", instance_key,
                err_get());
        return -1;
    }
    if (!must_exist) {
        /* a stale instance (left by a reshard) or a deleted bucket's: not listed */
        char name[512], *cur = NULL;
        if (b.tenant[0])
            (void) snprintf(name, sizeof(name), "%s/%s", b.tenant, b.name);
        else
            (void) snprintf(name, sizeof(name), "%s", b.name);
        r = rgw_bucket_current(d->src, name, &cur);
        bool current = r == 0 && strcmp(cur, b.bucket_id) == 0;
        free(cur);
        if (r < 0 && r != -ENOENT) {
            fprintf(stderr, "rgw2cloud: dry-run: source: bucket %s: %s\n", name, err_get());
            rgw_bucket_finish(&b);
            return -1;
        }
        if (!current) {
            rgw_bucket_finish(&b);
            return 0;
        }
    }
    r = plan_bucket(d, &b);
    rgw_bucket_finish(&b);
    return r;
}

static int plan_all(struct dr *d)
{
    char *marker = NULL;
    for (;;) {
        struct rgw_keys keys = {0};
        int r = rgw_bucket_instances(d->src, marker, &keys);
        free(marker);
        marker = NULL;
        if (r < 0) {
            fprintf(stderr, "rgw2cloud: dry-run: source: listing bucket instances: %s\n",
                    err_get());
            return -1;
        }
        for (size_t i = 0; i < keys.n; i++) {
            if (plan_instance(d, keys.keys[i], false) < 0) {
                rgw_keys_finish(&keys);
                return -1;
            }
        }
        if (keys.truncated && keys.marker)
            marker = strdup(keys.marker);
        rgw_keys_finish(&keys);
        if (!marker)
            return 0;
    }
}

static int plan_one(struct dr *d, const char *bucket)
{
    char *id = NULL;
    int r = rgw_bucket_current(d->src, bucket, &id);
    if (r == -ENOENT) {
        fprintf(stderr, "rgw2cloud: dry-run: source: no bucket \"%s\"\n", bucket);
        return -1;
    }
    if (r < 0) {
        fprintf(stderr, "rgw2cloud: dry-run: source: bucket %s: %s\n", bucket, err_get());
        return -1;
    }
    char *key = NULL;
    if (asprintf(&key, "%s:%s", bucket, id) < 0)
        key = NULL;
    free(id);
    if (!key) {
        fprintf(stderr, "rgw2cloud: dry-run: out of memory\n");
        return -1;
    }
    r = plan_instance(d, key, true);
    free(key);
    return r;
}

/* ---------------------------------------------------------------- summary */

static void summary(struct dr *d, FILE *f, bool complete)
{
    uint64_t total = 0;
    for (int i = 0; i < NACT; i++)
        total += d->n[i];
    char hb[32];
    human(hb, sizeof(hb), d->bytes);
    fprintf(f, "%ssummary%s: %" PRIu64 " object%s in %zu bucket%s", d->json ? "" : "\n",
            complete ? "" : " (incomplete: stopped at the failure above)", total,
            total == 1 ? "" : "s", d->buckets, d->buckets == 1 ? "" : "s");
    if (d->buckets_excluded)
        fprintf(f, " (%zu excluded)", d->buckets_excluded);
    fprintf(f, "\n  ");
    for (int i = 0; i < NACT; i++)
        fprintf(f, "%s%s %" PRIu64, i ? ", " : "", action_names[i], d->n[i]);
    fprintf(f, "\n  to send: %s (%" PRIu64 " bytes: create + update)\n", hb, d->bytes);
    for (size_t i = 0; i < d->ntsums; i++) {
        const struct tsum *t = &d->tsums[i];
        human(hb, sizeof(hb), t->bytes);
        fprintf(f,
                "  target %s bucket %s: create %" PRIu64 ", update %" PRIu64 ", skip %" PRIu64
                ", delete %" PRIu64 "; to send %s\n",
                t->endpoint, t->bucket, t->n[ACT_CREATE], t->n[ACT_UPDATE], t->n[ACT_SKIP],
                t->n[ACT_DELETE], hb);
    }
    if (d->buckets_failed)
        fprintf(f, "  %zu bucket%s could not be mapped (see above)\n", d->buckets_failed,
                d->buckets_failed == 1 ? "" : "s");
    if (!d->sid && d->sid_used)
        fprintf(f,
                "  note: %s: ${sid} in target paths is shown unexpanded; the first sync "
                "chooses it\n",
                d->sid_why);
    fprintf(f, "  nothing was written: no object, no bucket, no marker\n");
}

/* ------------------------------------------------------------------ entry */

/* The sid, read from the state only when the state already exists: a dry
 * run creates no state. 0, or -1 with the line printed. */
static int sid_read(struct dr *d)
{
    static char why[700];
    const struct config *cfg = d->cfg;
    if (cfg->state.backend == CFG_STATE_SQLITE && access(cfg->state.path, F_OK) != 0) {
        (void) snprintf(why, sizeof(why), "no state yet (%s)", cfg->state.path);
        d->sid_why = why;
        return 0;
    }
    struct state st = {0};
    int r = state_open(&st, cfg);
    if (r < 0) {
        if (cfg->state.backend != CFG_STATE_SQLITE) {
            (void) snprintf(why, sizeof(why), "the state cannot be read (%s)", err_get());
            d->sid_why = why;
            return 0;
        }
        fprintf(stderr, "rgw2cloud: dry-run: cannot open the state: %s\n", err_get());
        return -1;
    }
    r = st.ops->meta_get(st.inst, "sid", &d->sid);
    state_close(&st);
    if (r == -ENOENT) {
        d->sid = NULL;
        (void) snprintf(why, sizeof(why), "the state has no sync instance id yet");
        d->sid_why = why;
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "rgw2cloud: dry-run: cannot read the state: %s\n", err_get());
        return -1;
    }
    return 0;
}

int dryrun_run(const struct config *cfg, const char *bucket, bool json)
{
    if (!cfg->source.present) {
        fprintf(stderr,
                "%s: .source: missing; expected the source zone (endpoint, access_key, secret, "
                "zonegroup, zone)\n",
                cfg->path);
        return 2;
    }
    struct dr d = {
        .cfg = cfg,
        .json = json,
        .threshold =
            cfg->s3.multipart_sync_threshold ? cfg->s3.multipart_sync_threshold : 32ull << 20,
    };
    int rc = 1;
    if (loop_new(&d.loop, NULL) < 0 ||
        rgw_source_new(&d.src, d.loop, cfg->source.endpoint, cfg->source.access_key,
                       cfg->source.secret, cfg->source.zonegroup) < 0) {
        fprintf(stderr, "rgw2cloud: dry-run: cannot set up the source client: %s\n", err_get());
        goto out;
    }
    if (sid_read(&d) < 0)
        goto out;
    int r = rgw_period_get(d.src, cfg->source.zonegroup, cfg->source.zone, &d.period);
    if (r < 0) {
        fprintf(stderr, "rgw2cloud: dry-run: source %s: reading the period: %s\n",
                cfg->source.endpoint, err_get());
        goto out;
    }
    if (!d.period.zone_id) {
        fprintf(stderr,
                "rgw2cloud: dry-run: source: zone \"%s\" is not in zonegroup \"%s\"; register "
                "it first (rgw2cloud zone -c %s --apply)\n",
                cfg->source.zone, cfg->source.zonegroup, cfg->path);
        goto out;
    }
    r = bucket ? plan_one(&d, bucket) : plan_all(&d);
    fflush(stdout);
    summary(&d, json ? stderr : stdout, r == 0);
    rc = r < 0 || d.buckets_failed ? 1 : 0;
out:
    fflush(stdout);
    for (size_t i = 0; i < d.nconns; i++)
        s3_client_free(d.conns[i].s3);
    free(d.conns);
    for (size_t i = 0; i < d.ntsums; i++) {
        free(d.tsums[i].endpoint);
        free(d.tsums[i].bucket);
    }
    free(d.tsums);
    free(d.sid);
    rgw_period_finish(&d.period);
    rgw_source_free(d.src);
    loop_free(d.loop);
    return rc;
}
