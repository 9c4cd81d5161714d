/* The rados state backend: the whole state in the omap of one object,
 * "rgw2cloud.state", in state.pool / state.namespace of the cluster that
 * state.ceph_conf describes, as state.client. Several exporters (or a
 * standby) can then share one state without a shared file system.
 *
 * Keys: "m:<name>" meta, "d:<shard, 5 digits>" datalog shards (so a walk is
 * in shard order), "b:<bucket shard key>", "r:<bucket shard key>" retries,
 * "u:<upload id>" uploads; values are JSON objects. One omap write op is
 * durable when librados acknowledges it (the OSDs have it on disk), which is
 * what the API asks of a put. A transaction is one write op: its keys are
 * stored together or not at all.
 *
 * Read-modify-writes (a retry keeps the newest timestamp; a delete spares
 * a newer failure) read then write: atomic within an instance, which one
 * thread uses at a time; two exporters sharing a store must not follow the
 * same bucket shards (the same holds for RGW's own sync). */
#include "state_api.h"

#include "config.h"
#include "err.h"

#include <errno.h>
#include <jansson.h>
#include <rados/librados.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OBJ          "rgw2cloud.state"
#define PAGE         512
#define SCHEMA_KEY   "m:.schema"
#define SCHEMA_VALUE "1"

struct rs {
    rados_t cluster;
    rados_ioctx_t io;
    rados_write_op_t txn; /* an open transaction, or NULL */
    char where[256];      /* "pool/namespace", for messages */
};

/* The API's errno for a librados one. */
static int errno_map(int r)
{
    switch (r) {
    case -ENOENT:
    case -ENOMEM:
    case -EINVAL:
    case -EPROTO:
        return r;
    case -EACCES:
    case -EPERM:
        return -EACCES;
    case -ENOSPC:
    case -EDQUOT:
        return -ENOSPC;
    case -ETIMEDOUT:
    case -EAGAIN:
    case -EBUSY:
        return -EAGAIN;
    default:
        return -EIO;
    }
}

/* The same, with a message naming what failed. */
static int rs_fail(const struct rs *s, int r, const char *what, const char *key)
{
    err_set("state: rados %s: %s%s%s: %s", s->where, what, key ? " " : "", key ? key : "",
            strerror(-r));
    return errno_map(r);
}

/* ------------------------------------------------------------------ omap */

/* The value of key: a heap string, or -ENOENT. */
static int kv_get(struct rs *s, const char *key, char **val)
{
    rados_read_op_t op = rados_create_read_op();
    if (!op)
        return -ENOMEM;
    rados_omap_iter_t it = NULL;
    int prval = 0;
    const char *keys[1] = {key};
    rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
    int r = rados_read_op_operate(op, s->io, OBJ, 0);
    if (r == 0 && prval < 0)
        r = prval;
    if (r == 0) {
        char *k = NULL, *v = NULL;
        size_t len = 0;
        r = rados_omap_get_next(it, &k, &v, &len);
        if (r == 0 && !k)
            r = -ENOENT;
        else if (r == 0 && !(*val = strndup(v ? v : "", len)))
            r = -ENOMEM;
    }
    if (it)
        rados_omap_get_end(it);
    rados_release_read_op(op);
    return r;
}

/* Set (val) or remove (val NULL) key: now, or with the open transaction. */
static int kv_write(struct rs *s, const char *key, const char *val, const char *what)
{
    rados_write_op_t op = s->txn ? s->txn : rados_create_write_op();
    if (!op)
        return -ENOMEM;
    const char *keys[1] = {key};
    if (val) {
        const char *vals[1] = {val};
        size_t lens[1] = {strlen(val)};
        rados_write_op_omap_set(op, keys, vals, lens, 1);
    } else {
        rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
        rados_write_op_omap_rm_keys(op, keys, 1);
    }
    if (s->txn)
        return 0;
    int r = rados_write_op_operate(op, s->io, OBJ, NULL, 0);
    rados_release_write_op(op);
    return r < 0 ? rs_fail(s, r, what, key) : 0;
}

struct kv {
    char *key;
    char *val;
};

static void kvs_free(struct kv *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].val);
    }
    free(v);
}

/* Every key starting with prefix, in key order, a page at a time; the page
 * is copied before fn sees it, so fn may write. */
static int kv_walk(struct rs *s, const char *prefix, int (*fn)(void *ud, const struct kv *e),
                   void *ud, const char *what)
{
    char *after = strdup("");
    int r = after ? 0 : -ENOMEM;
    while (r == 0) {
        rados_read_op_t op = rados_create_read_op();
        if (!op) {
            r = -ENOMEM;
            break;
        }
        rados_omap_iter_t it = NULL;
        unsigned char more = 0;
        int prval = 0;
        rados_read_op_omap_get_vals2(op, after, prefix, PAGE, &it, &more, &prval);
        r = rados_read_op_operate(op, s->io, OBJ, 0);
        if (r == 0 && prval < 0)
            r = prval;
        struct kv *page = NULL;
        size_t n = 0;
        if (r == 0 && !(page = calloc(PAGE, sizeof(*page))))
            r = -ENOMEM;
        while (r == 0 && n < PAGE) {
            char *k = NULL, *v = NULL;
            size_t len = 0;
            r = rados_omap_get_next(it, &k, &v, &len);
            if (r < 0 || !k)
                break;
            page[n].key = strdup(k);
            page[n].val = strndup(v ? v : "", len);
            n++;
            if (!page[n - 1].key || !page[n - 1].val)
                r = -ENOMEM;
        }
        if (it)
            rados_omap_get_end(it);
        rados_release_read_op(op);
        if (r == -ENOENT) { /* no object yet: nothing stored */
            kvs_free(page, n);
            r = 0;
            break;
        }
        if (r < 0) {
            kvs_free(page, n);
            r = rs_fail(s, r, what, prefix);
            break;
        }
        for (size_t i = 0; i < n && r == 0; i++)
            r = fn(ud, &page[i]);
        if (r == 0 && n > 0) {
            free(after);
            after = strdup(page[n - 1].key);
            if (!after)
                r = -ENOMEM;
        }
        kvs_free(page, n);
        if (!more || n == 0)
            break;
    }
    free(after);
    return r;
}

/* --------------------------------------------------------------- records */

static char *key_of(const char *tag, const char *name)
{
    char *k = NULL;
    return asprintf(&k, "%s:%s", tag, name) < 0 ? NULL : k;
}

static char *dup_str(json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return strdup(v ? v : "");
}

static int64_t get_int(json_t *o, const char *name)
{
    return (int64_t) json_integer_value(json_object_get(o, name));
}

/* json_dumps of a pack; NULL on ENOMEM */
static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static int put_json(struct rs *s, const char *tag, const char *name, json_t *o, const char *what)
{
    char *key = key_of(tag, name);
    char *val = dump(o);
    int r = key && val ? kv_write(s, key, val, what) : -ENOMEM;
    free(key);
    free(val);
    return r;
}

/* The record tag:name parsed, or -ENOENT. */
static int get_json(struct rs *s, const char *tag, const char *name, json_t **out, const char *what)
{
    char *key = key_of(tag, name), *val = NULL;
    if (!key)
        return -ENOMEM;
    int r = kv_get(s, key, &val);
    if (r == 0) {
        *out = json_loads(val, 0, NULL);
        if (!*out || !json_is_object(*out)) {
            json_decref(*out);
            err_set("state: rados %s: %s %s: not a JSON object; the store is not ours", s->where,
                    what, key);
            r = -EPROTO;
        }
    } else if (r != -ENOENT) {
        r = rs_fail(s, r, what, key);
    }
    free(key);
    free(val);
    return r;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* ------------------------------------------------------------------ meta */

static int rs_meta_get(void *inst, const char *name, char **value)
{
    struct rs *s = inst;
    if (!name)
        return -EINVAL;
    char *key = key_of("m", name);
    if (!key)
        return -ENOMEM;
    int r = kv_get(s, key, value);
    if (r < 0 && r != -ENOENT)
        r = rs_fail(s, r, "meta_get", key);
    free(key);
    return r;
}

static int rs_meta_put(void *inst, const char *name, const char *value)
{
    struct rs *s = inst;
    if (!name)
        return -EINVAL;
    char *key = key_of("m", name);
    int r = key ? kv_write(s, key, or_empty(value), "meta_put") : -ENOMEM;
    free(key);
    return r;
}

/* --------------------------------------------------------------- datalog */

static void dl_name(char *buf, size_t n, int shard)
{
    (void) snprintf(buf, n, "%05d", shard);
}

static int dl_parse(json_t *o, int shard, struct state_dl_shard *out)
{
    out->shard = shard;
    out->phase = (enum state_dl_phase) get_int(o, "phase");
    out->marker = dup_str(o, "marker");
    out->full_marker = dup_str(o, "full_marker");
    out->last_change = get_int(o, "last_change");
    out->updated = get_int(o, "updated");
    if (!out->marker || !out->full_marker) {
        state_dl_shard_finish(out);
        return -ENOMEM;
    }
    return 0;
}

static int rs_dl_get(void *inst, int shard, struct state_dl_shard *out)
{
    char name[16];
    dl_name(name, sizeof(name), shard);
    json_t *o = NULL;
    int r = get_json(inst, "d", name, &o, "dl_get");
    if (r == 0) {
        struct state_dl_shard d = {0};
        r = dl_parse(o, shard, &d);
        if (r == 0)
            *out = d;
    }
    json_decref(o);
    return r;
}

static int rs_dl_put(void *inst, const struct state_dl_shard *d)
{
    if ((unsigned) d->phase > STATE_DL_INCREMENTAL || d->shard < 0) {
        err_set("state: dl_put: shard %d: bad phase %d", d->shard, (int) d->phase);
        return -EINVAL;
    }
    char name[16];
    dl_name(name, sizeof(name), d->shard);
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:I, s:I}", "phase", (int) d->phase, "marker",
                  or_empty(d->marker), "full_marker", or_empty(d->full_marker), "last_change",
                  (json_int_t) d->last_change, "updated", (json_int_t) time(NULL));
    return put_json(inst, "d", name, o, "dl_put");
}

struct dl_walk {
    state_dl_fn fn;
    void *ud;
};
struct bs_walk {
    state_bs_fn fn;
    void *ud;
};
struct upload_walk {
    state_upload_fn fn;
    void *ud;
};

static int dl_visit(void *ud, const struct kv *e)
{
    struct dl_walk *w = ud;
    char *end = NULL;
    long shard = strtol(e->key + 2, &end, 10); /* "d:00042" */
    json_t *o = *end == '\0' && shard >= 0 ? json_loads(e->val, 0, NULL) : NULL;
    struct state_dl_shard d = {0};
    int r = o ? dl_parse(o, (int) shard, &d) : -EPROTO;
    json_decref(o);
    if (r == 0)
        r = w->fn(w->ud, &d);
    state_dl_shard_finish(&d);
    return r;
}

static int rs_dl_list(void *inst, state_dl_fn fn, void *ud)
{
    struct dl_walk w = {fn, ud};
    return kv_walk(inst, "d:", dl_visit, &w, "dl_list");
}

/* ---------------------------------------------------------- bucket shards */

static int bs_parse(json_t *o, const char *key, struct state_bs *out)
{
    out->key = strdup(key);
    out->phase = (enum state_bs_phase) get_int(o, "phase");
    out->inc_marker = dup_str(o, "inc_marker");
    out->full_key = dup_str(o, "full_key");
    out->full_version = dup_str(o, "full_version");
    out->full_count = (uint64_t) get_int(o, "full_count");
    out->updated = get_int(o, "updated");
    if (!out->key || !out->inc_marker || !out->full_key || !out->full_version) {
        state_bs_finish(out);
        return -ENOMEM;
    }
    return 0;
}

static int rs_bs_get(void *inst, const char *key, struct state_bs *out)
{
    if (!key)
        return -EINVAL;
    json_t *o = NULL;
    int r = get_json(inst, "b", key, &o, "bs_get");
    if (r == 0) {
        struct state_bs bs = {0};
        r = bs_parse(o, key, &bs);
        if (r == 0)
            *out = bs;
    }
    json_decref(o);
    return r;
}

static int rs_bs_put(void *inst, const struct state_bs *bs)
{
    if (!bs->key)
        return -EINVAL;
    if ((unsigned) bs->phase > STATE_BS_STOPPED) {
        err_set("state: bs_put: %s: bad phase %d", bs->key, (int) bs->phase);
        return -EINVAL;
    }
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I}", "phase", (int) bs->phase, "inc_marker",
                          or_empty(bs->inc_marker), "full_key", or_empty(bs->full_key),
                          "full_version", or_empty(bs->full_version), "full_count",
                          (json_int_t) bs->full_count, "updated", (json_int_t) time(NULL));
    return put_json(inst, "b", bs->key, o, "bs_put");
}

static int rs_bs_del(void *inst, const char *key)
{
    if (!key)
        return -EINVAL;
    char *k = key_of("b", key);
    int r = k ? kv_write(inst, k, NULL, "bs_del") : -ENOMEM;
    free(k);
    return r;
}

static int bs_visit(void *ud, const struct kv *e)
{
    struct bs_walk *w = ud;
    json_t *o = json_loads(e->val, 0, NULL);
    struct state_bs bs = {0};
    int r = o ? bs_parse(o, e->key + 2, &bs) : -EPROTO;
    json_decref(o);
    if (r == 0)
        r = w->fn(w->ud, &bs);
    state_bs_finish(&bs);
    return r;
}

static int rs_bs_list(void *inst, const char *prefix, state_bs_fn fn, void *ud)
{
    char *p = key_of("b", or_empty(prefix));
    if (!p)
        return -ENOMEM;
    struct bs_walk w = {fn, ud};
    int r = kv_walk(inst, p, bs_visit, &w, "bs_list");
    free(p);
    return r;
}

/* ---------------------------------------------------------------- retries */

static int retry_parse(json_t *o, const char *key, struct state_retry *out)
{
    out->key = strdup(key);
    out->timestamp = dup_str(o, "timestamp");
    out->next_try = get_int(o, "next_try");
    out->attempts = (int) get_int(o, "attempts");
    out->last_error = dup_str(o, "last_error");
    if (!out->key || !out->timestamp || !out->last_error) {
        state_retry_finish(out);
        return -ENOMEM;
    }
    return 0;
}

static int rs_retry_get(void *inst, const char *key, struct state_retry *out)
{
    if (!key)
        return -EINVAL;
    json_t *o = NULL;
    int r = get_json(inst, "r", key, &o, "retry_get");
    if (r == 0) {
        struct state_retry rr = {0};
        r = retry_parse(o, key, &rr);
        if (r == 0)
            *out = rr;
    }
    json_decref(o);
    return r;
}

static int rs_retry_put(void *inst, const struct state_retry *rt)
{
    if (!rt->key)
        return -EINVAL;
    struct state_retry old = {0};
    int r = rs_retry_get(inst, rt->key, &old);
    if (r < 0 && r != -ENOENT)
        return r;
    const char *ts = or_empty(rt->timestamp);
    if (r == 0 && strcmp(old.timestamp, ts) > 0)
        ts = old.timestamp; /* the newest failure's timestamp stays */
    json_t *o =
        json_pack("{s:s, s:I, s:i, s:s}", "timestamp", ts, "next_try", (json_int_t) rt->next_try,
                  "attempts", rt->attempts, "last_error", or_empty(rt->last_error));
    r = put_json(inst, "r", rt->key, o, "retry_put");
    state_retry_finish(&old);
    return r;
}

static int rs_retry_del(void *inst, const char *key, const char *timestamp)
{
    if (!key)
        return -EINVAL;
    if (timestamp) {
        struct state_retry old = {0};
        int r = rs_retry_get(inst, key, &old);
        if (r == -ENOENT)
            return 0;
        if (r < 0)
            return r;
        bool newer = strcmp(old.timestamp, timestamp) > 0;
        state_retry_finish(&old);
        if (newer)
            return 0; /* a failure after the retry started: it stays */
    }
    char *k = key_of("r", key);
    int r = k ? kv_write(inst, k, NULL, "retry_del") : -ENOMEM;
    free(k);
    return r;
}

struct retries {
    struct state_retry *v;
    size_t n, cap;
    int64_t due;
};

static int retry_collect(void *ud, const struct kv *e)
{
    struct retries *c = ud;
    json_t *o = json_loads(e->val, 0, NULL);
    if (!o)
        return -EPROTO;
    struct state_retry r = {0};
    int rc = retry_parse(o, e->key + 2, &r);
    json_decref(o);
    if (rc < 0)
        return rc;
    if (c->due >= 0 && r.next_try > c->due) {
        state_retry_finish(&r);
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct state_retry *nv = realloc(c->v, cap * sizeof(*nv));
        if (!nv) {
            state_retry_finish(&r);
            return -ENOMEM;
        }
        c->v = nv;
        c->cap = cap;
    }
    c->v[c->n++] = r;
    return 0;
}

static int by_next_try(const void *a, const void *b)
{
    const struct state_retry *x = a, *y = b;
    if (x->next_try != y->next_try)
        return x->next_try < y->next_try ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int rs_retry_list(void *inst, int64_t due, state_retry_fn fn, void *ud)
{
    struct retries c = {.due = due};
    int r = kv_walk(inst, "r:", retry_collect, &c, "retry_list");
    if (r == 0 && c.n > 1)
        qsort(c.v, c.n, sizeof(*c.v), by_next_try);
    for (size_t i = 0; r == 0 && i < c.n; i++)
        r = fn(ud, &c.v[i]);
    for (size_t i = 0; i < c.n; i++)
        state_retry_finish(&c.v[i]);
    free(c.v);
    return r;
}

static int count_one(void *ud, const struct kv *e)
{
    (void) e;
    (*(uint64_t *) ud)++;
    return 0;
}

static int rs_retry_count(void *inst, uint64_t *count)
{
    uint64_t n = 0;
    int r = kv_walk(inst, "r:", count_one, &n, "retry_count");
    if (r == 0)
        *count = n;
    return r;
}

/* ---------------------------------------------------------------- uploads */

static int upload_parse(json_t *o, const char *id, struct state_upload *out)
{
    out->id = strdup(id);
    out->src_bucket = dup_str(o, "src_bucket");
    out->src_key = dup_str(o, "src_key");
    out->src_version = dup_str(o, "src_version");
    out->src_etag = dup_str(o, "src_etag");
    out->src_mtime = dup_str(o, "src_mtime");
    out->size = (uint64_t) get_int(o, "size");
    out->target = dup_str(o, "target");
    out->dst_bucket = dup_str(o, "dst_bucket");
    out->dst_key = dup_str(o, "dst_key");
    out->upload_id = dup_str(o, "upload_id");
    out->part_size = (uint64_t) get_int(o, "part_size");
    out->parts_json = dup_str(o, "parts");
    out->started = get_int(o, "started");
    if (!out->id || !out->src_bucket || !out->src_key || !out->src_version || !out->src_etag ||
        !out->src_mtime || !out->target || !out->dst_bucket || !out->dst_key || !out->upload_id ||
        !out->parts_json) {
        state_upload_finish(out);
        return -ENOMEM;
    }
    return 0;
}

static int rs_upload_get(void *inst, const char *id, struct state_upload *out)
{
    if (!id)
        return -EINVAL;
    json_t *o = NULL;
    int r = get_json(inst, "u", id, &o, "upload_get");
    if (r == 0) {
        struct state_upload u = {0};
        r = upload_parse(o, id, &u);
        if (r == 0)
            *out = u;
    }
    json_decref(o);
    return r;
}

static int rs_upload_put(void *inst, const struct state_upload *u)
{
    if (!u->id)
        return -EINVAL;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:I}",
                          "src_bucket", or_empty(u->src_bucket), "src_key", or_empty(u->src_key),
                          "src_version", or_empty(u->src_version), "src_etag",
                          or_empty(u->src_etag), "src_mtime", or_empty(u->src_mtime), "size",
                          (json_int_t) u->size, "target", or_empty(u->target), "dst_bucket",
                          or_empty(u->dst_bucket), "dst_key", or_empty(u->dst_key), "upload_id",
                          or_empty(u->upload_id), "part_size", (json_int_t) u->part_size, "parts",
                          or_empty(u->parts_json), "started", (json_int_t) u->started);
    return put_json(inst, "u", u->id, o, "upload_put");
}

static int rs_upload_del(void *inst, const char *id)
{
    if (!id)
        return -EINVAL;
    char *k = key_of("u", id);
    int r = k ? kv_write(inst, k, NULL, "upload_del") : -ENOMEM;
    free(k);
    return r;
}

static int upload_visit(void *ud, const struct kv *e)
{
    struct upload_walk *w = ud;
    json_t *o = json_loads(e->val, 0, NULL);
    struct state_upload u = {0};
    int r = o ? upload_parse(o, e->key + 2, &u) : -EPROTO;
    json_decref(o);
    if (r == 0)
        r = w->fn(w->ud, &u);
    state_upload_finish(&u);
    return r;
}

static int rs_upload_list(void *inst, state_upload_fn fn, void *ud)
{
    struct upload_walk w = {fn, ud};
    return kv_walk(inst, "u:", upload_visit, &w, "upload_list");
}

/* ------------------------------------------------------------ transaction */

static int rs_txn_begin(void *inst)
{
    struct rs *s = inst;
    if (s->txn)
        return -EINVAL;
    s->txn = rados_create_write_op();
    return s->txn ? 0 : -ENOMEM;
}

static int rs_txn_commit(void *inst)
{
    struct rs *s = inst;
    if (!s->txn)
        return -EINVAL;
    rados_write_op_t op = s->txn;
    s->txn = NULL;
    int r = rados_write_op_operate(op, s->io, OBJ, NULL, 0);
    rados_release_write_op(op);
    return r < 0 ? rs_fail(s, r, "txn_commit", NULL) : 0;
}

static void rs_txn_abort(void *inst)
{
    struct rs *s = inst;
    if (s->txn)
        rados_release_write_op(s->txn);
    s->txn = NULL;
}

/* ------------------------------------------------------------- lifecycle */

static void rs_close(void *inst)
{
    struct rs *s = inst;
    if (!s)
        return;
    rs_txn_abort(s);
    if (s->io)
        rados_ioctx_destroy(s->io);
    if (s->cluster)
        rados_shutdown(s->cluster);
    free(s);
}

static int rs_open(const struct config *cfg, void **inst)
{
    const char *pool = cfg->state.pool && *cfg->state.pool ? cfg->state.pool : "rgw2cloud";
    const char *ns = cfg->state.namespace_ ? cfg->state.namespace_ : "";
    const char *conf = cfg->state.ceph_conf && *cfg->state.ceph_conf ? cfg->state.ceph_conf
                                                                     : "/etc/ceph/ceph.conf";
    const char *client =
        cfg->state.client && *cfg->state.client ? cfg->state.client : "client.admin";
    struct rs *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    (void) snprintf(s->where, sizeof(s->where), "%s%s%s", pool, *ns ? "/" : "", ns);
    int r = rados_create2(&s->cluster, "ceph", client, 0);
    if (r < 0) {
        s->cluster = NULL;
        err_set("state: rados: cannot create a client as %s: %s", client, strerror(-r));
        goto fail;
    }
    r = rados_conf_read_file(s->cluster, conf);
    if (r < 0) {
        err_set("state: rados: cannot read %s (state.ceph_conf): %s", conf, strerror(-r));
        goto fail;
    }
    /* a cluster that does not answer fails the start, not hangs it */
    (void) rados_conf_set(s->cluster, "client_mount_timeout", "30");
    (void) rados_conf_set(s->cluster, "rados_mon_op_timeout", "30");
    (void) rados_conf_set(s->cluster, "rados_osd_op_timeout", "30");
    r = rados_connect(s->cluster);
    if (r < 0) {
        err_set("state: rados: cannot connect as %s with %s: %s; check state.client, "
                "state.ceph_conf and its keyring",
                client, conf, strerror(-r));
        goto fail;
    }
    r = rados_ioctx_create(s->cluster, pool, &s->io);
    if (r < 0) {
        s->io = NULL;
        if (r == -ENOENT)
            err_set("state: rados: pool \"%s\" (state.pool) does not exist; create it: ceph osd "
                    "pool create %s",
                    pool, pool);
        else
            err_set("state: rados: pool \"%s\": %s", pool, strerror(-r));
        goto fail;
    }
    rados_ioctx_set_namespace(s->io, ns);
    char *schema = NULL;
    r = kv_get(s, SCHEMA_KEY, &schema);
    if (r == -ENOENT) {
        r = kv_write(s, SCHEMA_KEY, SCHEMA_VALUE, "open");
    } else if (r == 0 && strcmp(schema, SCHEMA_VALUE) != 0) {
        err_set("state: rados %s: %s holds schema %s, this version knows %s: use a newer "
                "rgw2cloud or another state.namespace",
                s->where, OBJ, schema, SCHEMA_VALUE);
        r = -EPROTO;
    } else if (r < 0) {
        r = rs_fail(s, r, "open", OBJ);
    }
    free(schema);
    if (r < 0)
        goto fail_set;
    *inst = s;
    return 0;
fail:
    r = errno_map(r);
fail_set:
    rs_close(s);
    return r;
}

const struct state_ops state_rados_ops = {
    .abi = STATE_ABI_1,
    .name = "rados",
    .open = rs_open,
    .close = rs_close,
    .meta_get = rs_meta_get,
    .meta_put = rs_meta_put,
    .dl_get = rs_dl_get,
    .dl_put = rs_dl_put,
    .dl_list = rs_dl_list,
    .bs_get = rs_bs_get,
    .bs_put = rs_bs_put,
    .bs_del = rs_bs_del,
    .bs_list = rs_bs_list,
    .retry_put = rs_retry_put,
    .retry_get = rs_retry_get,
    .retry_del = rs_retry_del,
    .retry_list = rs_retry_list,
    .retry_count = rs_retry_count,
    .upload_get = rs_upload_get,
    .upload_put = rs_upload_put,
    .upload_del = rs_upload_del,
    .upload_list = rs_upload_list,
    .txn_begin = rs_txn_begin,
    .txn_commit = rs_txn_commit,
    .txn_abort = rs_txn_abort,
};
