#include "rgw.h"

#include "err.h"
#include "http/loop.h"
#include "http/s3.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rgw_source {
    struct s3_client *s3;
};

int rgw_source_new(struct rgw_source **out, struct loop *loop, const char *endpoint,
                   const char *access_key, const char *secret, const char *region)
{
    struct rgw_source *src = calloc(1, sizeof(*src));
    if (!src)
        return -ENOMEM;
    struct s3_endpoint ep = {
        .url = endpoint,
        .access_key = access_key,
        .secret = secret,
        .region = region,
        .virtual_host = false,
    };
    int r = s3_client_new(&src->s3, loop, &ep);
    if (r < 0) {
        free(src);
        return r;
    }
    *out = src;
    return 0;
}

void rgw_source_free(struct rgw_source *src)
{
    if (!src)
        return;
    s3_client_free(src->s3);
    free(src);
}

struct s3_client *rgw_source_s3(const struct rgw_source *src)
{
    return src->s3;
}

/* ------------------------------------------------------------ helpers */

struct qp {
    const char *name;
    const char *value;
};

static int call_prepare(struct s3_call *call, const char *bucket, const char *key,
                        const struct qp *q, size_t nq)
{
    int r = s3_call_set(call, "GET", bucket, key);
    for (size_t i = 0; r == 0 && i < nq; i++)
        if (q[i].name)
            r = s3_call_query(call, q[i].name, q[i].value);
    return r;
}

/* A finished call's outcome: 0 when it has a 2xx answer in call->resp. */
static int call_outcome(const struct s3_call *call)
{
    if (call->err < 0 && call->detail)
        err_set("source: %s", call->detail);
    return call->err;
}

/* body[0..len) as JSON into *out (new reference). A body that does not parse
 * is -EAGAIN: RGW streams listings, so an error mid-stream truncates the
 * JSON. body may be NULL when len is 0. */
static int parse_json(const char *body, size_t len, const char *what, json_t **out)
{
    json_error_t jerr;
    json_t *j = json_loadb(body ? body : "", body ? len : 0, JSON_DECODE_ANY, &jerr);
    if (!j) {
        err_set("source: %s: unreadable JSON answer (%s at byte %d); will retry", what, jerr.text,
                jerr.position);
        return -EAGAIN;
    }
    *out = j;
    return 0;
}

/* A parser's -EAGAIN detail gets the request in front, so the one line the
 * deciding caller logs says which request it was. Returns r. */
static int in_request(int r, const char *bucket, const char *key)
{
    if (r != -EAGAIN)
        return r;
    char detail[1024];
    const char *d = err_get();
    if (strncmp(d, "source: ", 8) == 0)
        d += 8;
    (void) snprintf(detail, sizeof(detail), "%s", d); /* err_set() overwrites err_get()'s */
    err_set("source: GET /%s/%s: %s", bucket, key ? key : "", detail);
    return r;
}

/* GET /<bucket>/<key>?query as the system user, synchronously; on 0 the
 * answer is in call->resp and the caller finishes the call either way. */
static int get_call(struct rgw_source *src, struct s3_call *call, const char *bucket,
                    const char *key, const struct qp *q, size_t nq)
{
    s3_call_init(call);
    int r = call_prepare(call, bucket, key, q, nq);
    if (r == 0) {
        (void) s3_call_run(src->s3, call);
        r = call_outcome(call);
    }
    return r;
}

/* The same, parsed as JSON into *out (new reference). */
static int get_json(struct rgw_source *src, const char *bucket, const char *key, const struct qp *q,
                    size_t nq, const char *what, json_t **out)
{
    struct s3_call call;
    int r = get_call(src, &call, bucket, key, q, nq);
    if (r == 0)
        r = in_request(parse_json(call.resp, call.resp_len, what, out), bucket, key);
    s3_call_finish(&call);
    return r;
}

/* Borrowed string member or def. */
static const char *jstr(const json_t *o, const char *name, const char *def)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : def;
}

static char *jdup(const json_t *o, const char *name)
{
    return strdup(jstr(o, name, ""));
}

/* RGW prints some booleans as strings ("false"), others as JSON booleans. */
static bool jbool(const json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (json_is_boolean(v))
        return json_is_true(v);
    const char *s = json_string_value(v);
    return s && strcmp(s, "true") == 0;
}

static int64_t jint(const json_t *o, const char *name, int64_t def)
{
    json_t *v = json_object_get(o, name);
    if (json_is_integer(v))
        return (int64_t) json_integer_value(v);
    const char *s = json_string_value(v);
    if (s && *s) {
        char *end;
        long long n = strtoll(s, &end, 10);
        if (*end == '\0')
            return n;
    }
    return def;
}

static int shape_error(const char *what)
{
    err_set("source: unexpected answer to %s; will retry", what);
    return -EAGAIN;
}

/* ---------------------------------------------------------------- period */

void rgw_period_finish(struct rgw_period *p)
{
    free(p->period_id);
    free(p->zonegroup_id);
    free(p->zonegroup_name);
    free(p->zone_id);
    free(p->master_zone_id);
    memset(p, 0, sizeof(*p));
}

int rgw_period_get(struct rgw_source *src, const char *zg_name, const char *zone_name,
                   struct rgw_period *out)
{
    memset(out, 0, sizeof(*out));
    json_t *j = NULL;
    int r = get_json(src, "admin", "realm/period", NULL, 0, "realm period", &j);
    if (r < 0)
        return r;
    json_t *zgs = json_object_get(json_object_get(j, "period_map"), "zonegroups");
    json_t *zg = NULL, *it;
    size_t i;
    json_array_foreach(zgs, i, it) {
        if (strcmp(jstr(it, "name", ""), zg_name) == 0)
            zg = it;
    }
    if (!zg) {
        err_set("source: zonegroup \"%s\" is not in the current period; check source.zonegroup",
                zg_name);
        json_decref(j);
        return -ENOENT;
    }
    out->period_id = jdup(j, "id");
    out->epoch = (uint64_t) jint(j, "epoch", 0);
    out->realm_epoch = (uint64_t) jint(j, "realm_epoch", 0);
    out->zonegroup_id = jdup(zg, "id");
    out->zonegroup_name = jdup(zg, "name");
    out->master_zone_id = jdup(zg, "master_zone");
    json_array_foreach(json_object_get(zg, "zones"), i, it) {
        if (zone_name && strcmp(jstr(it, "name", ""), zone_name) == 0)
            out->zone_id = jdup(it, "id");
    }
    json_decref(j);
    if (!out->period_id || !out->zonegroup_id || !out->zonegroup_name || !out->master_zone_id) {
        rgw_period_finish(out);
        return -ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------- datalog */

int rgw_datalog_num_shards(struct rgw_source *src, int *out)
{
    json_t *j = NULL;
    const struct qp q[] = {{"type", "data"}};
    int r = get_json(src, "admin", "log", q, 1, "datalog info", &j);
    if (r < 0)
        return r;
    int64_t n = jint(j, "num_objects", -1);
    json_decref(j);
    if (n <= 0 || n > 65536)
        return shape_error("datalog info");
    *out = (int) n;
    return 0;
}

void rgw_dl_info_finish(struct rgw_dl_info *i)
{
    free(i->marker);
    free(i->last_update);
    memset(i, 0, sizeof(*i));
}

int rgw_parse_dl_info(const char *body, size_t len, struct rgw_dl_info *out)
{
    memset(out, 0, sizeof(*out));
    json_t *j = NULL;
    int r = parse_json(body, len, "datalog shard info", &j);
    if (r < 0)
        return r;
    if (!json_is_object(j)) {
        json_decref(j);
        return shape_error("datalog shard info");
    }
    out->marker = jdup(j, "marker");
    out->last_update = jdup(j, "last_update");
    json_decref(j);
    if (!out->marker || !out->last_update) {
        rgw_dl_info_finish(out);
        return -ENOMEM;
    }
    return 0;
}

int rgw_datalog_info(struct rgw_source *src, int shard, struct rgw_dl_info *out)
{
    memset(out, 0, sizeof(*out));
    char id[16];
    (void) snprintf(id, sizeof(id), "%d", shard);
    const struct qp q[] = {{"type", "data"}, {"id", id}, {"info", NULL}};
    struct s3_call call;
    int r = get_call(src, &call, "admin", "log", q, 3);
    if (r == 0)
        r = in_request(rgw_parse_dl_info(call.resp, call.resp_len, out), "admin", "log");
    s3_call_finish(&call);
    return r;
}

void rgw_dl_page_finish(struct rgw_dl_page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->entries[i].log_id);
        free(p->entries[i].timestamp);
        free(p->entries[i].key);
    }
    free(p->entries);
    free(p->marker);
    memset(p, 0, sizeof(*p));
}

static int dl_page_parse(json_t *j, struct rgw_dl_page *out)
{
    json_t *entries = json_object_get(j, "entries");
    if (!json_is_array(entries))
        return shape_error("datalog list");
    size_t n = json_array_size(entries);
    out->entries = calloc(n ? n : 1, sizeof(*out->entries));
    out->marker = jdup(j, "marker");
    out->truncated = jbool(j, "truncated");
    if (!out->entries || !out->marker) {
        rgw_dl_page_finish(out);
        return -ENOMEM;
    }
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        json_t *inner = json_object_get(e, "entry");
        const char *log_id = jstr(e, "log_id", NULL);
        const char *key = jstr(inner, "key", NULL);
        if (!log_id || !key) {
            rgw_dl_page_finish(out);
            return shape_error("datalog list (entry without log_id or key)");
        }
        struct rgw_dl_entry *d = &out->entries[out->n++];
        d->log_id = strdup(log_id);
        d->timestamp = strdup(jstr(e, "log_timestamp", jstr(inner, "timestamp", "")));
        d->key = strdup(key);
        if (!d->log_id || !d->timestamp || !d->key) {
            rgw_dl_page_finish(out);
            return -ENOMEM;
        }
    }
    /* RGW's rule: an empty answer keeps the old marker; else the last id */
    if (!out->marker[0] && out->n) {
        free(out->marker);
        out->marker = strdup(out->entries[out->n - 1].log_id);
        if (!out->marker) {
            rgw_dl_page_finish(out);
            return -ENOMEM;
        }
    }
    return 0;
}

int rgw_parse_dl_page(const char *body, size_t len, struct rgw_dl_page *out)
{
    memset(out, 0, sizeof(*out));
    json_t *j = NULL;
    int r = parse_json(body, len, "datalog list", &j);
    if (r < 0)
        return r;
    r = dl_page_parse(j, out);
    json_decref(j);
    return r;
}

struct dl_list_q {
    char id[16], mx[16];
    struct qp q[5];
};

static void dl_list_query(struct dl_list_q *l, int shard, const char *marker, int max)
{
    (void) snprintf(l->id, sizeof(l->id), "%d", shard);
    (void) snprintf(l->mx, sizeof(l->mx), "%d", max > 0 && max <= 1000 ? max : 1000);
    l->q[0] = (struct qp){"type", "data"};
    l->q[1] = (struct qp){"id", l->id};
    l->q[2] = (struct qp){"marker", marker ? marker : ""};
    l->q[3] = (struct qp){"max-entries", l->mx};
    l->q[4] = (struct qp){"extra-info", "true"};
}

int rgw_datalog_list(struct rgw_source *src, int shard, const char *marker, int max,
                     struct rgw_dl_page *out)
{
    memset(out, 0, sizeof(*out));
    struct dl_list_q l;
    dl_list_query(&l, shard, marker, max);
    struct s3_call call;
    int r = get_call(src, &call, "admin", "log", l.q, 5);
    if (r == 0)
        r = in_request(rgw_parse_dl_page(call.resp, call.resp_len, out), "admin", "log");
    s3_call_finish(&call);
    return r;
}

int rgw_datalog_shard_of(const char *name, int shard, int num_shards)
{
    uint32_t h = 0; /* ceph_str_hash_linux */
    for (const unsigned char *p = (const unsigned char *) name; *p; p++)
        h = (h + ((uint32_t) *p << 4) + ((uint32_t) *p >> 4)) * 11u;
    return (int) ((h + (uint32_t) (shard > 0 ? shard : 0)) % (uint32_t) num_shards);
}

/* ---- many requests at once: RGW delays each admin answer's body ~40 ms
 * (Nagle, beast without tcp_nodelay), so n requests in a row cost n times
 * that. One engine: a request i is built by prepare(), its answer parsed by
 * parse(); up to MANY_IN_FLIGHT go at once on the source's loop. */

#define MANY_IN_FLIGHT 32

struct many {
    struct rgw_source *src;
    int *errs;
    int inflight;
    int (*prepare)(const struct many *m, int i, struct s3_call *call);
    int (*parse)(const struct many *m, int i, const struct s3_call *call);
    /* the asking function's arguments and results */
    struct rgw_dl_info *infos;
    struct rgw_dl_page *pages;
    const char *const *markers;
    const char *const *versions;
    const char *const *keys;
    const struct rgw_bucket *bucket;
    const int *shards;
    struct rgw_bl_info *bl_infos;
    struct rgw_obj_page *obj_pages;
    struct rgw_bl_page *bl_pages;
    int max;
};

struct many_call {
    struct s3_call call;
    struct many *m;
    int i;
};

static void many_done(struct s3_call *call, void *ud)
{
    struct many_call *c = ud;
    struct many *m = c->m;
    int r = call_outcome(call);
    if (r == 0)
        r = m->parse(m, c->i, call);
    m->errs[c->i] = r;
    m->inflight--;
    s3_call_finish(&c->call);
    free(c);
}

static int many_start(struct many *m, int i)
{
    struct many_call *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    s3_call_init(&c->call);
    c->m = m;
    c->i = i;
    int r = m->prepare(m, i, &c->call);
    if (r == 0)
        r = s3_call_start(m->src->s3, &c->call, many_done, c);
    if (r < 0) {
        s3_call_finish(&c->call);
        free(c);
        return r;
    }
    m->inflight++;
    return 0;
}

static void many_run(struct many *m, int n, const bool *want)
{
    struct loop *loop = s3_client_loop(m->src->s3);
    for (int i = 0; i < n; i++) {
        m->errs[i] = 0;
        if (want && !want[i])
            continue;
        while (m->inflight >= MANY_IN_FLIGHT)
            (void) loop_run_once(loop, 1000);
        int r = many_start(m, i);
        if (r < 0)
            m->errs[i] = r;
    }
    while (m->inflight > 0)
        (void) loop_run_once(loop, 1000);
}

static int dl_info_prepare(const struct many *m, int i, struct s3_call *call)
{
    (void) m;
    char id[16];
    (void) snprintf(id, sizeof(id), "%d", i);
    const struct qp q[] = {{"type", "data"}, {"id", id}, {"info", NULL}};
    return call_prepare(call, "admin", "log", q, 3);
}

static int dl_info_parse(const struct many *m, int i, const struct s3_call *call)
{
    return in_request(rgw_parse_dl_info(call->resp, call->resp_len, &m->infos[i]), "admin",
                      "log");
}

static int dl_list_prepare(const struct many *m, int i, struct s3_call *call)
{
    struct dl_list_q l;
    dl_list_query(&l, i, m->markers[i], m->max);
    return call_prepare(call, "admin", "log", l.q, 5);
}

static int dl_list_parse(const struct many *m, int i, const struct s3_call *call)
{
    return in_request(rgw_parse_dl_page(call->resp, call->resp_len, &m->pages[i]), "admin",
                      "log");
}

void rgw_datalog_info_many(struct rgw_source *src, int n, const bool *want,
                           struct rgw_dl_info *infos, int *errs)
{
    memset(infos, 0, (size_t) n * sizeof(*infos));
    struct many m = {.src = src, .errs = errs, .infos = infos, .prepare = dl_info_prepare,
                     .parse = dl_info_parse};
    many_run(&m, n, want);
}

void rgw_datalog_list_many(struct rgw_source *src, int n, const bool *want,
                           const char *const *markers, int max, struct rgw_dl_page *pages,
                           int *errs)
{
    memset(pages, 0, (size_t) n * sizeof(*pages));
    struct many m = {.src = src, .errs = errs, .pages = pages, .markers = markers, .max = max,
                     .prepare = dl_list_prepare, .parse = dl_list_parse};
    many_run(&m, n, want);
}

/* ------------------------------------------------------------------ bilog */

void rgw_bl_info_finish(struct rgw_bl_info *i)
{
    free(i->max_marker);
    memset(i, 0, sizeof(*i));
}

/* max_marker comes in three forms (RGWRados::get_bucket_stats): bare for one
 * shard of a sharded bucket; "0#<m>" for an unsharded bucket (its one index
 * object is shard 0 of BucketIndexShardsManager); "0#<m0>,1#<m1>,..." for a
 * whole sharded bucket. The first two name one log: its marker is <m>. The
 * last is kept whole, the composite marker RGW takes back for that key. */
int rgw_parse_bl_info(const char *body, size_t len, struct rgw_bl_info *out)
{
    memset(out, 0, sizeof(*out));
    json_t *j = NULL;
    int r = parse_json(body, len, "bilog info", &j);
    if (r < 0)
        return r;
    if (!json_is_object(j)) {
        json_decref(j);
        return shape_error("bilog info");
    }
    const char *m = jstr(j, "max_marker", "");
    const char *hash = strchr(m, '#');
    out->max_marker = strdup(hash && !strchr(m, ',') ? hash + 1 : m);
    out->syncstopped = jbool(j, "syncstopped");
    json_decref(j);
    return out->max_marker ? 0 : -ENOMEM;
}

int rgw_bilog_info(struct rgw_source *src, const char *bs_key, struct rgw_bl_info *out)
{
    memset(out, 0, sizeof(*out));
    const struct qp q[] = {{"type", "bucket-index"}, {"bucket-instance", bs_key}, {"info", NULL}};
    struct s3_call call;
    int r = get_call(src, &call, "admin", "log", q, 3);
    if (r == 0)
        r = in_request(rgw_parse_bl_info(call.resp, call.resp_len, out), "admin", "log");
    s3_call_finish(&call);
    return r;
}

static int bl_info_prepare(const struct many *m, int i, struct s3_call *call)
{
    const struct qp q[] = {
        {"type", "bucket-index"}, {"bucket-instance", m->keys[i]}, {"info", NULL}};
    return call_prepare(call, "admin", "log", q, 3);
}

static int bl_info_parse(const struct many *m, int i, const struct s3_call *call)
{
    return in_request(rgw_parse_bl_info(call->resp, call->resp_len, &m->bl_infos[i]), "admin",
                      "log");
}

void rgw_bilog_info_many(struct rgw_source *src, int n, const bool *want,
                         const char *const *bs_keys, struct rgw_bl_info *infos, int *errs)
{
    memset(infos, 0, (size_t) n * sizeof(*infos));
    struct many m = {.src = src, .errs = errs, .keys = bs_keys, .bl_infos = infos,
                     .prepare = bl_info_prepare, .parse = bl_info_parse};
    many_run(&m, n, want);
}

void rgw_bl_page_finish(struct rgw_bl_page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        struct rgw_bl_entry *e = &p->entries[i];
        free(e->id);
        free(e->object);
        free(e->instance);
        free(e->timestamp);
        for (size_t k = 0; k < e->nzones_trace; k++)
            free(e->zones_trace[k]);
        free(e->zones_trace);
    }
    free(p->entries);
    memset(p, 0, sizeof(*p));
}

static enum rgw_bl_op bl_op_parse(const char *s)
{
    static const struct {
        const char *name;
        enum rgw_bl_op op;
    } ops[] = {
        {"write", RGW_BL_WRITE},
        {"del", RGW_BL_DEL},
        {"cancel", RGW_BL_CANCEL},
        {"link_olh", RGW_BL_LINK_OLH},
        {"link_olh_del", RGW_BL_LINK_OLH_DEL},
        {"unlink_instance", RGW_BL_UNLINK_INSTANCE},
        {"syncstop", RGW_BL_SYNCSTOP},
        {"resync", RGW_BL_RESYNC},
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(s, ops[i].name) == 0)
            return ops[i].op;
    return RGW_BL_UNKNOWN;
}

static int bl_page_parse(json_t *j, struct rgw_bl_page *out)
{
    /* Pacific: a bare array; later releases may wrap it in {"entries":..} */
    json_t *arr = json_is_array(j) ? j : json_object_get(j, "entries");
    if (!json_is_array(arr))
        return shape_error("bilog list");
    size_t n = json_array_size(arr);
    out->entries = calloc(n ? n : 1, sizeof(*out->entries));
    if (!out->entries)
        return -ENOMEM;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *op_id = jstr(e, "op_id", NULL);
        const char *object = jstr(e, "object", NULL);
        if (!op_id || !object) {
            rgw_bl_page_finish(out);
            return shape_error("bilog list (entry without op_id or object)");
        }
        const char *hash = strchr(op_id, '#');
        struct rgw_bl_entry *b = &out->entries[out->n++];
        b->id = strdup(hash ? hash + 1 : op_id);
        b->op = bl_op_parse(jstr(e, "op", ""));
        b->object = strdup(object);
        b->instance = strdup(jstr(e, "instance", ""));
        b->complete = strcmp(jstr(e, "state", "complete"), "complete") == 0;
        b->timestamp = strdup(jstr(e, "timestamp", ""));
        json_t *ver = json_object_get(e, "ver");
        b->ver_pool = jint(ver, "pool", 0);
        b->ver_epoch = (uint64_t) jint(ver, "epoch", 0);
        b->versioned = jbool(e, "versioned");
        json_t *zt = json_object_get(e, "zones_trace");
        size_t nz = json_array_size(zt);
        if (nz) {
            b->zones_trace = calloc(nz, sizeof(char *));
            if (!b->zones_trace) {
                rgw_bl_page_finish(out);
                return -ENOMEM;
            }
            size_t k;
            json_t *z;
            json_array_foreach(zt, k, z) {
                const char *s = json_is_string(z) ? json_string_value(z) : jstr(z, "entry", "");
                if (!(b->zones_trace[b->nzones_trace++] = strdup(s))) {
                    rgw_bl_page_finish(out);
                    return -ENOMEM;
                }
            }
        }
        if (!b->id || !b->object || !b->instance || !b->timestamp) {
            rgw_bl_page_finish(out);
            return -ENOMEM;
        }
    }
    return 0;
}

int rgw_parse_bl_page(const char *body, size_t len, struct rgw_bl_page *out)
{
    memset(out, 0, sizeof(*out));
    json_t *j = NULL;
    int r = parse_json(body, len, "bilog list", &j);
    if (r < 0)
        return r;
    r = bl_page_parse(j, out);
    json_decref(j);
    return r;
}

int rgw_bilog_list(struct rgw_source *src, const char *bs_key, const char *marker, int max,
                   struct rgw_bl_page *out)
{
    memset(out, 0, sizeof(*out));
    char mx[16];
    (void) snprintf(mx, sizeof(mx), "%d", max > 0 && max <= 1000 ? max : 1000);
    const struct qp q[] = {{"type", "bucket-index"},
                           {"bucket-instance", bs_key},
                           {"marker", marker ? marker : ""},
                           {"max-entries", mx},
                           {"format", "json"}};
    struct s3_call call;
    int r = get_call(src, &call, "admin", "log", q, 5);
    if (r == 0)
        r = in_request(rgw_parse_bl_page(call.resp, call.resp_len, out), "admin", "log");
    s3_call_finish(&call);
    return r;
}

static int bl_list_prepare(const struct many *m, int i, struct s3_call *call)
{
    char mx[16];
    (void) snprintf(mx, sizeof(mx), "%d", m->max > 0 && m->max <= 1000 ? m->max : 1000);
    const struct qp q[] = {{"type", "bucket-index"},
                           {"bucket-instance", m->keys[i]},
                           {"marker", m->markers[i] ? m->markers[i] : ""},
                           {"max-entries", mx},
                           {"format", "json"}};
    return call_prepare(call, "admin", "log", q, 5);
}

static int bl_list_parse(const struct many *m, int i, const struct s3_call *call)
{
    return in_request(rgw_parse_bl_page(call->resp, call->resp_len, &m->bl_pages[i]), "admin",
                      "log");
}

void rgw_bilog_list_many(struct rgw_source *src, int n, const bool *want,
                         const char *const *bs_keys, const char *const *markers, int max,
                         struct rgw_bl_page *pages, int *errs)
{
    memset(pages, 0, (size_t) n * sizeof(*pages));
    struct many m = {.src = src, .errs = errs, .keys = bs_keys, .markers = markers, .max = max,
                     .bl_pages = pages, .prepare = bl_list_prepare, .parse = bl_list_parse};
    many_run(&m, n, want);
}

int rgw_index_key_parse(const char *index_key, char **name_out, bool *namespaced)
{
    /* rgw_obj_key::parse_raw_oid: a leading '_' marks an escape ("__x" is
     * "_x") or a namespace ("_multipart_x", "_shadow_x") */
    *namespaced = false;
    const char *name = index_key;
    if (index_key[0] == '_') {
        if (index_key[1] == '_') {
            name = index_key + 1;
        } else {
            *namespaced = true;
            const char *sep = strchr(index_key + 1, '_');
            name = sep ? sep + 1 : index_key + 1;
        }
    }
    *name_out = strdup(name);
    return *name_out ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- buckets */

void rgw_keys_finish(struct rgw_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->keys[i]);
    free(k->keys);
    free(k->marker);
    memset(k, 0, sizeof(*k));
}

int rgw_bucket_instances(struct rgw_source *src, const char *marker, struct rgw_keys *out)
{
    memset(out, 0, sizeof(*out));
    const struct qp q[] = {{"max-entries", "1000"}, {marker ? "marker" : NULL, marker}};
    json_t *j = NULL;
    int r = get_json(src, "admin", "metadata/bucket.instance", q, 2, "bucket.instance list", &j);
    if (r < 0)
        return r;
    json_t *keys = json_is_array(j) ? j : json_object_get(j, "keys");
    if (!json_is_array(keys)) {
        json_decref(j);
        return shape_error("bucket.instance list");
    }
    size_t n = json_array_size(keys);
    out->keys = calloc(n ? n : 1, sizeof(char *));
    if (!out->keys) {
        json_decref(j);
        return -ENOMEM;
    }
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *s = json_string_value(k);
        if (s && !(out->keys[out->n++] = strdup(s))) {
            json_decref(j);
            rgw_keys_finish(out);
            return -ENOMEM;
        }
    }
    out->truncated = json_is_object(j) && jbool(j, "truncated");
    const char *m = json_is_object(j) ? jstr(j, "marker", NULL) : NULL;
    if (out->truncated && m && *m)
        out->marker = strdup(m);
    else
        out->truncated = false; /* no marker to go on with: stop, never loop */
    json_decref(j);
    return 0;
}

void rgw_bucket_finish(struct rgw_bucket *b)
{
    free(b->tenant);
    free(b->name);
    free(b->bucket_id);
    free(b->owner);
    memset(b, 0, sizeof(*b));
}

int rgw_parse_bucket_instance(const char *body, size_t len, struct rgw_bucket *out)
{
    memset(out, 0, sizeof(*out));
    json_t *j = NULL;
    int r = parse_json(body, len, "bucket.instance get", &j);
    if (r < 0)
        return r;
    json_t *info = json_object_get(json_object_get(j, "data"), "bucket_info");
    json_t *bucket = json_object_get(info, "bucket");
    if (!json_is_object(bucket)) {
        json_decref(j);
        return shape_error("bucket.instance get");
    }
    out->tenant = jdup(bucket, "tenant");
    out->name = jdup(bucket, "name");
    out->bucket_id = jdup(bucket, "bucket_id");
    /* owner is a string in Pacific; an object {"tenant","id"} elsewhere */
    json_t *owner = json_object_get(info, "owner");
    out->owner = strdup(json_is_string(owner) ? json_string_value(owner) : jstr(owner, "id", ""));
    out->num_shards = (int) jint(info, "num_shards", 0);
    out->flags = (uint32_t) jint(info, "flags", 0);
    json_decref(j);
    if (!out->tenant || !out->name || !out->bucket_id || !out->owner) {
        rgw_bucket_finish(out);
        return -ENOMEM;
    }
    return 0;
}

int rgw_bucket_instance_get(struct rgw_source *src, const char *instance_key,
                            struct rgw_bucket *out)
{
    memset(out, 0, sizeof(*out));
    const struct qp q[] = {{"key", instance_key}};
    struct s3_call call;
    int r = get_call(src, &call, "admin", "metadata/bucket.instance", q, 1);
    if (r == 0)
        r = in_request(rgw_parse_bucket_instance(call.resp, call.resp_len, out), "admin",
                       "metadata/bucket.instance");
    s3_call_finish(&call);
    return r;
}

int rgw_bucket_current(struct rgw_source *src, const char *bucket, char **bucket_id)
{
    const struct qp q[] = {{"key", bucket}};
    json_t *j = NULL;
    int r = get_json(src, "admin", "metadata/bucket", q, 1, "bucket get", &j);
    if (r < 0)
        return r;
    const char *id = jstr(json_object_get(json_object_get(j, "data"), "bucket"), "bucket_id", NULL);
    if (!id) {
        json_decref(j);
        return shape_error("bucket get");
    }
    *bucket_id = strdup(id);
    json_decref(j);
    return *bucket_id ? 0 : -ENOMEM;
}

void rgw_bucket_qualified(char *out, size_t size, const struct rgw_bucket *b)
{
    (void) snprintf(out, size, "%s%s%s", b->tenant, b->tenant[0] ? "/" : "", b->name);
}

char *rgw_bucket_path(const struct rgw_bucket *b)
{
    char *out = NULL;
    if (asprintf(&out, "%s%s%s", b->tenant, b->tenant[0] ? ":" : "", b->name) < 0)
        return NULL;
    return out;
}

char *rgw_bs_key(const struct rgw_bucket *b, int shard)
{
    char *out = NULL;
    const char *t = b->tenant && *b->tenant ? b->tenant : NULL;
    int n;
    if (shard >= 0)
        n = asprintf(&out, "%s%s%s:%s:%d", t ? t : "", t ? "/" : "", b->name, b->bucket_id, shard);
    else
        n = asprintf(&out, "%s%s%s:%s", t ? t : "", t ? "/" : "", b->name, b->bucket_id);
    return n < 0 ? NULL : out;
}

int rgw_bs_key_parse(const char *bs_key, char **tenant, char **name, char **bucket_id, int *shard)
{
    /* rgw_bucket_parse_bucket_key: [tenant/]name:id[:shard]. Bucket names
     * hold no ':' and ids hold no ':', so split on them. */
    *tenant = *name = *bucket_id = NULL;
    *shard = -1;
    const char *slash = strchr(bs_key, '/');
    const char *start = slash ? slash + 1 : bs_key;
    const char *c1 = strchr(start, ':');
    if (!c1) {
        err_set("source: bucket shard key \"%s\" has no instance id", bs_key);
        return -EINVAL;
    }
    if (c1 == start) {
        err_set("source: bucket shard key \"%s\" has an empty bucket name", bs_key);
        return -EINVAL;
    }
    const char *c2 = strchr(c1 + 1, ':');
    if (c1[1] == '\0' || c2 == c1 + 1) {
        err_set("source: bucket shard key \"%s\" has an empty instance id", bs_key);
        return -EINVAL;
    }
    if (c2) {
        char *end;
        long s = strtol(c2 + 1, &end, 10);
        if (!isdigit((unsigned char) c2[1]) || *end || s > 65535) {
            err_set("source: bucket shard key \"%s\" has a bad shard number", bs_key);
            return -EINVAL;
        }
        *shard = (int) s;
    }
    *tenant = slash ? strndup(bs_key, (size_t) (slash - bs_key)) : strdup("");
    *name = strndup(start, (size_t) (c1 - start));
    *bucket_id = c2 ? strndup(c1 + 1, (size_t) (c2 - c1 - 1)) : strdup(c1 + 1);
    if (!*tenant || !*name || !*bucket_id) {
        free(*tenant);
        free(*name);
        free(*bucket_id);
        *tenant = *name = *bucket_id = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------- listing */

void rgw_obj_page_finish(struct rgw_obj_page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        struct rgw_obj *o = &p->objs[i];
        free(o->key);
        free(o->version_id);
        free(o->etag);
        free(o->mtime);
        free(o->owner);
    }
    free(p->objs);
    memset(p, 0, sizeof(*p));
}

int rgw_parse_obj_page(const char *body, size_t len, struct rgw_obj_page *out)
{
    memset(out, 0, sizeof(*out));
    json_t *j = NULL;
    int r = parse_json(body, len, "bucket shard listing", &j);
    if (r < 0)
        return r;
    json_t *entries = json_object_get(j, "Entries");
    if (!json_is_array(entries)) {
        json_decref(j);
        return shape_error("bucket shard listing");
    }
    size_t n = json_array_size(entries);
    out->objs = calloc(n ? n : 1, sizeof(*out->objs));
    if (!out->objs) {
        json_decref(j);
        return -ENOMEM;
    }
    out->truncated = jbool(j, "IsTruncated");
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        const char *key = jstr(e, "Key", NULL);
        if (!key) {
            json_decref(j);
            rgw_obj_page_finish(out);
            return shape_error("bucket shard listing (entry without Key)");
        }
        struct rgw_obj *o = &out->objs[out->n++];
        o->key = strdup(key);
        o->version_id = strdup(jstr(e, "VersionId", ""));
        o->delete_marker = jbool(e, "IsDeleteMarker");
        o->is_latest = jbool(e, "IsLatest");
        o->etag = s3_unquote(jstr(e, "ETag", ""));
        o->size = (uint64_t) jint(e, "Size", 0);
        o->mtime = strdup(jstr(e, "RgwxMtime", jstr(e, "LastModified", "")));
        o->versioned_epoch = (uint64_t) jint(e, "VersionedEpoch", 0);
        o->owner = strdup(jstr(json_object_get(e, "Owner"), "ID", ""));
        if (!o->key || !o->version_id || !o->etag || !o->mtime || !o->owner) {
            json_decref(j);
            rgw_obj_page_finish(out);
            return -ENOMEM;
        }
    }
    json_decref(j);
    return 0;
}

/* The query of one shard listing page; inst (the shard's key) is the caller's. */
struct list_q {
    char mx[16];
    struct qp q[7];
};

static void list_query(struct list_q *l, const char *inst, const char *key_marker,
                       const char *version_marker, int max)
{
    (void) snprintf(l->mx, sizeof(l->mx), "%d", max > 0 && max <= 1000 ? max : 1000);
    const struct qp q[] = {
        {"rgwx-bucket-instance", inst},
        {"versions", NULL},
        {"format", "json"},
        {"objs-container", "true"},
        {"max-keys", l->mx},
        {key_marker && *key_marker ? "key-marker" : NULL, key_marker},
        {version_marker && *version_marker ? "version-id-marker" : NULL, version_marker},
    };
    memcpy(l->q, q, sizeof(q));
}

int rgw_list_shard(struct rgw_source *src, const struct rgw_bucket *b, int shard,
                   const char *key_marker, const char *version_marker, int max,
                   struct rgw_obj_page *out)
{
    memset(out, 0, sizeof(*out));
    char *inst = rgw_bs_key(b, shard);
    if (!inst)
        return -ENOMEM;
    struct list_q l;
    list_query(&l, inst, key_marker, version_marker, max);
    struct s3_call call;
    int r = get_call(src, &call, b->name, NULL, l.q, 7);
    free(inst);
    if (r == 0)
        r = in_request(rgw_parse_obj_page(call.resp, call.resp_len, out), b->name, NULL);
    s3_call_finish(&call);
    return r;
}

static int list_prepare(const struct many *m, int i, struct s3_call *call)
{
    char *inst = rgw_bs_key(m->bucket, m->shards[i]);
    if (!inst)
        return -ENOMEM;
    struct list_q l;
    list_query(&l, inst, m->markers[i], m->versions[i], m->max);
    int r = call_prepare(call, m->bucket->name, NULL, l.q, 7);
    free(inst);
    return r;
}

static int list_parse(const struct many *m, int i, const struct s3_call *call)
{
    return in_request(rgw_parse_obj_page(call->resp, call->resp_len, &m->obj_pages[i]),
                      m->bucket->name, NULL);
}

void rgw_list_shard_many(struct rgw_source *src, const struct rgw_bucket *b, int n,
                         const bool *want, const int *shards, const char *const *key_markers,
                         const char *const *version_markers, int max, struct rgw_obj_page *pages,
                         int *errs)
{
    memset(pages, 0, (size_t) n * sizeof(*pages));
    struct many m = {.src = src, .errs = errs, .bucket = b, .shards = shards,
                     .markers = key_markers, .versions = version_markers, .max = max,
                     .obj_pages = pages, .prepare = list_prepare, .parse = list_parse};
    many_run(&m, n, want);
}
