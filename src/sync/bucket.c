/* One bucket shard: init -> full sync -> incremental (RGW's
 * RGWRunBucketSyncCoroutine, research/rgw-sync-protocol.md §2.3-2.4).
 *
 * Object operations of a batch (a listing page, a bilog page) run in
 * parallel on the loop; one batch at a time per bucket shard, and within a
 * batch one operation per (key, instance) after squashing, so there is
 * never more than one operation in flight per key. */
#include "sync/sync_int.h"

#include "config.h"
#include "err.h"
#include "http/loop.h"
#include "log.h"
#include "sync/mapping.h"
#include "sync/marker.h"
#include "timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 1000

/* Where the objects of one bucket shard go. */
struct bs_ctx {
    struct sync *s;
    const char *bs_key;
    int shard;
    const struct rgw_bucket *b;
    const struct cfg_profile *prof;
    struct target_inst *tgt;
    char *src_bucket; /* "tenant:name" as the source's S3 paths want it */
    char *dst_bucket;
    char *prefix;
};

struct full_bs;

struct batch {
    struct bs_ctx *ctx;
    struct marker *m; /* incremental: positions are bilog ids */
    size_t inflight;
    size_t failed;
    int first_err;
    char first_detail[512];
    /* a page of an overlapped full sync (bucket_full_start): settled pages
     * commit their position in listing order */
    struct full_bs *fb;
    struct batch *next;
    bool closed; /* every op of the page has started */
    char *last_key, *last_version;
    uint64_t count;
};

/* Someone waiting for one shard's full sync to end (bucket_sync). */
struct full_wait {
    bool done;
    int err; /* 0: the shard follows its log now; -EINTR: stopped; else failed */
    char detail[512];
};

/* The full sync of one bucket shard while others run: its listing pages'
 * objects are in flight together with those of other shards (bounded by
 * sync.concurrency), and each page's position is stored once it and every
 * page before it are done. */
struct full_bs {
    struct sync *s;
    char *key;
    struct rgw_bucket b; /* owned: c.b points here */
    struct bs_ctx c;
    struct state_bs st;
    struct batch *head, *tail; /* pages not yet committed, in listing order */
    bool listing_done;
    bool interrupted; /* stopped by a signal: positions stay, no phase change */
    bool relist;      /* a re-listing of an incremental shard: no state written */
    bool failed;
    int err;
    char detail[512];
    struct full_wait *wait; /* a caller waiting for the end, or NULL */
};

static void full_advance(struct full_bs *fb);
static int bs_state_load(struct sync *s, const struct bs_ctx *c, const char *bs_key,
                         struct state_bs *st);

struct op {
    struct sync_event ev;
    struct batch *batch;
    struct op *rl_prev, *rl_next; /* a re-listing's: in s->relist_ops */
    bool relist;
    char *pos;
    char *key;
    char *version;
    char *timestamp;
    char *etag;
    char *dst_key;
};

static void op_free(struct op *o)
{
    free(o->ev.detail);
    free(o->pos);
    free(o->key);
    free(o->version);
    free(o->timestamp);
    free(o->etag);
    free(o->dst_key);
    free(o);
}

static const char *const op_names[] = {"copy", "remove", "delete-marker"};

static void op_done(struct sync_event *ev, int err)
{
    struct op *o = (struct op *) ev;
    struct batch *b = o->batch;
    struct sync *s = b->ctx->s;
    if (o->relist) {
        if (o->rl_prev)
            o->rl_prev->rl_next = o->rl_next;
        else
            s->relist_ops = o->rl_next;
        if (o->rl_next)
            o->rl_next->rl_prev = o->rl_prev;
    }
    b->inflight--;
    s->inflight--;
    atomic_fetch_add(&s->stats.sends_retried, ev->retries);
    if (err == 0) {
        if (ev->skipped)
            atomic_fetch_add(&s->stats.objects_skipped, 1);
        else if (ev->op == SYNC_OP_COPY)
            atomic_fetch_add(&s->stats.objects_copied, 1);
        else
            atomic_fetch_add(&s->stats.objects_removed, 1);
        atomic_fetch_add(&s->stats.bytes_sent, ev->bytes_sent);
        atomic_fetch_add(&s->stats.grants_dropped, ev->grants_dropped);
        log_debug("op=%s bucket=%s key=\"%s\" result=%s bytes=%llu", op_names[ev->op],
                  ev->bucket_name, ev->key, ev->skipped ? "skipped" : "done",
                  (unsigned long long) ev->bytes_sent);
        if (b->m && o->pos)
            (void) marker_finish(b->m, o->pos);
    } else {
        /* never finished in the tracker: the mark stays below it */
        b->failed++;
        if (!b->first_err) {
            b->first_err = err;
            (void) snprintf(b->first_detail, sizeof(b->first_detail), "%s",
                            ev->detail ? ev->detail : strerror(-err));
        }
        sync_count_error(s, err, true);
        log_warn("op=%s bucket=%s key=\"%s\" error=\"%s\"", op_names[ev->op], ev->bucket_name,
                 ev->key, ev->detail ? ev->detail : strerror(-err));
    }
    op_free(o);
    if (b->fb && b->closed && b->inflight == 0)
        full_advance(b->fb); /* may free b and its bucket shard */
}

/* A re-listing's operation in flight on dst_bucket/dst_key, or NULL. */
static struct op *relist_op_find(const struct sync *s, const char *dst_bucket, const char *dst_key)
{
    for (struct op *o = s->relist_ops; o; o = o->rl_next)
        if (strcmp(o->dst_key, dst_key) == 0 && strcmp(o->ev.dst_bucket, dst_bucket) == 0)
            return o;
    return NULL;
}

/* Start one object operation; waits for a free slot first. A log entry's
 * operation on an object a re-listing copies also waits for that copy: it
 * may carry an older version, which must not land after the newer one. */
static int op_start(struct batch *b, enum sync_op kind, const char *pos, const char *key,
                    const char *version, const char *timestamp, const char *etag, uint64_t size,
                    uint64_t versioned_epoch)
{
    struct bs_ctx *c = b->ctx;
    struct sync *s = c->s;
    sync_wait_below(s, s->concurrency);
    struct op *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->relist = b->fb && b->fb->relist;
    o->batch = b;
    o->pos = pos ? strdup(pos) : NULL;
    o->key = strdup(key);
    o->version = strdup(version ? version : "");
    o->timestamp = strdup(timestamp ? timestamp : "");
    o->etag = etag ? strdup(etag) : NULL;
    o->dst_key = mapping_key(c->prefix, key);
    if ((pos && !o->pos) || !o->key || !o->version || !o->timestamp || (etag && !o->etag) ||
        !o->dst_key) {
        op_free(o);
        return -ENOMEM;
    }
    while (!o->relist && relist_op_find(s, c->dst_bucket, o->dst_key))
        (void) loop_run_once(s->loop, 1000);
    struct sync_event *ev = &o->ev;
    ev->op = kind;
    ev->src_s3 = rgw_source_s3(s->src);
    ev->src_bucket = c->src_bucket;
    ev->bucket_name = c->b->name;
    ev->key = o->key;
    ev->version_id = o->version;
    ev->timestamp = o->timestamp;
    ev->etag = o->etag;
    ev->size = size;
    ev->versioned_epoch = versioned_epoch;
    ev->dst_bucket = c->dst_bucket;
    ev->dst_key = o->dst_key;
    /* a re-listing must ask the target about every object: the prefix was
     * found empty (if ever) before the first copy */
    ev->dst_prefix = o->relist ? NULL : c->prefix;
    ev->storage_class = c->prof->storage_class;
    ev->profile = c->prof;
    ev->done = op_done;
    ev->ud = b;

    const struct target_ops *ops = c->tgt->ops;
    int r;
    if (kind == SYNC_OP_COPY)
        r = ops->sync_object(c->tgt->inst, ev);
    else if (kind == SYNC_OP_DELETE_MARKER && ops->create_delete_marker)
        r = ops->create_delete_marker(c->tgt->inst, ev);
    else
        r = ops->remove_object(c->tgt->inst, ev);
    if (r < 0) {
        op_free(o);
        return r;
    }
    if (b->m && pos) {
        int mr = marker_start(b->m, pos);
        if (mr < 0)
            log_warn("bucket_shard=%s pos=%s msg=\"%s\"", c->bs_key, pos, err_get());
    }
    if (o->relist) {
        o->rl_next = s->relist_ops;
        if (o->rl_next)
            o->rl_next->rl_prev = o;
        s->relist_ops = o;
    }
    b->inflight++;
    s->inflight++;
    return 0;
}

static void batch_wait(struct batch *b)
{
    while (b->inflight > 0)
        (void) loop_run_once(b->ctx->s->loop, 1000);
}

/* ---------------------------------------------------------------- context */

static void ctx_finish(struct bs_ctx *c)
{
    free(c->src_bucket);
    free(c->dst_bucket);
    free(c->prefix);
}

/* Resolve profile, target and paths for the bucket of c->b. 1 = excluded. */
static int ctx_init(struct bs_ctx *c)
{
    struct sync *s = c->s;
    const struct rgw_bucket *b = c->b;
    char qualified[512];
    rgw_bucket_qualified(qualified, sizeof(qualified), b);
    c->prof = config_find_profile(s->cfg, qualified);
    if (c->prof->exclude)
        return 1;
    int r = sync_target(s, c->prof->conn, &c->tgt);
    if (r < 0)
        return r;
    struct mapping_vars v;
    sync_mapping_vars(s, b, &v);
    r = mapping_target(&c->dst_bucket, &c->prefix, c->prof->target_path, &v);
    if (r < 0)
        return r;
    c->src_bucket = rgw_bucket_path(b);
    return c->src_bucket ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------ asked ahead */

static struct bs_prefetch *prefetch_find(struct sync *s, const char *bs_key)
{
    for (size_t i = 0; i < s->nprefetch; i++)
        if (s->prefetch[i].bs_key && strcmp(s->prefetch[i].bs_key, bs_key) == 0)
            return &s->prefetch[i];
    return NULL;
}

static bool same_marker(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

void bucket_prefetch_drop(struct sync *s)
{
    for (size_t i = 0; i < s->nprefetch; i++) {
        struct bs_prefetch *pf = &s->prefetch[i];
        free(pf->bs_key);
        free(pf->marker);
        free(pf->version);
        if (pf->has_info)
            rgw_bl_info_finish(&pf->info);
        if (pf->has_objs)
            rgw_obj_page_finish(&pf->objs);
        if (pf->has_bl)
            rgw_bl_page_finish(&pf->bl);
    }
    free(s->prefetch);
    s->prefetch = NULL;
    s->nprefetch = 0;
}

static int prefetch_alloc(struct sync *s, size_t n)
{
    bucket_prefetch_drop(s);
    s->prefetch = calloc(n ? n : 1, sizeof(*s->prefetch));
    if (!s->prefetch)
        return -ENOMEM;
    s->nprefetch = n;
    return 0;
}

int bucket_full_prefetch(struct sync *s, const struct rgw_bucket *b, int first, int n)
{
    struct bs_ctx c = {.s = s, .b = b, .shard = first};
    int r = ctx_init(&c);
    ctx_finish(&c);
    if (r != 0)
        return r > 0 ? 0 : r; /* excluded: nothing to ask */
    size_t un = (size_t) n;
    int *shards = calloc(un, sizeof(*shards));
    int *errs = calloc(un, sizeof(*errs));
    bool *want = calloc(un, sizeof(*want));
    bool *list = calloc(un, sizeof(*list));
    const char **keys = calloc(un, sizeof(*keys));
    const char **km = calloc(un, sizeof(*km));
    const char **vm = calloc(un, sizeof(*vm));
    struct rgw_bl_info *infos = calloc(un, sizeof(*infos));
    struct rgw_obj_page *pages = calloc(un, sizeof(*pages));
    struct state_bs *st = calloc(un, sizeof(*st));
    r = shards && errs && want && list && keys && km && vm && infos && pages && st
            ? prefetch_alloc(s, un)
            : -ENOMEM;
    for (int i = 0; r == 0 && i < n; i++) {
        struct bs_prefetch *pf = &s->prefetch[i];
        shards[i] = b->num_shards > 0 ? first + i : -1;
        if (!(pf->bs_key = rgw_bs_key(b, shards[i]))) {
            r = -ENOMEM;
            break;
        }
        keys[i] = pf->bs_key;
        int gr = s->st.ops->bs_get(s->st.inst, keys[i], &st[i]);
        want[i] = gr == -ENOENT ||
                  (gr == 0 && (st[i].phase == STATE_BS_INIT || st[i].phase == STATE_BS_STOPPED));
        if (gr == 0 && st[i].phase == STATE_BS_FULL) {
            list[i] = true;
            km[i] = st[i].full_key;
            vm[i] = st[i].full_version;
        }
    }
    if (r == 0)
        rgw_bilog_info_many(s->src, n, want, keys, infos, errs);
    /* each position is stored before any listing starts: from then on the
     * source's trimming keeps the log after it (a shard without a state
     * reads as "init, trim all"), and whatever the listing misses is there */
    for (int i = 0; r == 0 && i < n; i++) {
        if (!want[i] || errs[i] < 0) {
            rgw_bl_info_finish(&infos[i]);
            continue;
        }
        s->prefetch[i].info = infos[i];
        s->prefetch[i].has_info = true;
        state_bs_finish(&st[i]);
        memset(&st[i], 0, sizeof(st[i]));
        if (bs_state_load(s, &c, keys[i], &st[i]) == 0 && st[i].phase == STATE_BS_FULL) {
            list[i] = true;
            km[i] = st[i].full_key;
            vm[i] = st[i].full_version;
        }
    }
    if (r == 0)
        rgw_list_shard_many(s->src, b, n, list, shards, km, vm, PAGE, pages, errs);
    for (int i = 0; r == 0 && i < n; i++) {
        if (!list[i])
            continue;
        struct bs_prefetch *pf = &s->prefetch[i];
        if (errs[i] == 0 && (pf->marker = strdup(km[i])) && (pf->version = strdup(vm[i]))) {
            pf->objs = pages[i];
            pf->has_objs = true;
        } else {
            rgw_obj_page_finish(&pages[i]);
        }
    }
    for (int i = 0; st && i < n; i++)
        state_bs_finish(&st[i]);
    free(shards);
    free(errs);
    free(want);
    free(list);
    free(keys);
    free(km);
    free(vm);
    free(infos);
    free(pages);
    free(st);
    return r;
}

int bucket_bilog_prefetch(struct sync *s, char *const *bs_keys, char *const *markers, size_t n)
{
    int *errs = calloc(n ? n : 1, sizeof(*errs));
    struct rgw_bl_page *pages = calloc(n ? n : 1, sizeof(*pages));
    int r = errs && pages ? prefetch_alloc(s, n) : -ENOMEM;
    for (size_t i = 0; r == 0 && i < n; i++) {
        s->prefetch[i].bs_key = strdup(bs_keys[i]);
        s->prefetch[i].marker = strdup(markers[i] ? markers[i] : "");
        if (!s->prefetch[i].bs_key || !s->prefetch[i].marker)
            r = -ENOMEM;
    }
    if (r == 0)
        rgw_bilog_list_many(s->src, (int) n, NULL, (const char *const *) bs_keys,
                            (const char *const *) markers, PAGE, pages, errs);
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (errs[i] == 0) {
            s->prefetch[i].bl = pages[i];
            s->prefetch[i].has_bl = true;
        } else {
            rgw_bl_page_finish(&pages[i]);
        }
    }
    free(errs);
    free(pages);
    return r;
}

/* ------------------------------------------------------ incremental sync */

struct squash {
    const char *name;
    size_t idx; /* the winning entry */
};

static bool is_olh(enum rgw_bl_op op)
{
    return op == RGW_BL_LINK_OLH || op == RGW_BL_LINK_OLH_DEL || op == RGW_BL_UNLINK_INSTANCE;
}

static bool names_our_zone(const struct rgw_bl_entry *e, const char *zone_id)
{
    if (!zone_id)
        return false;
    size_t n = strlen(zone_id);
    for (size_t i = 0; i < e->nzones_trace; i++)
        if (strncmp(e->zones_trace[i], zone_id, n) == 0 &&
            (e->zones_trace[i][n] == '\0' || e->zones_trace[i][n] == ':'))
            return true;
    return false;
}

static int incremental_sync(struct bs_ctx *c, struct state_bs *st)
{
    struct sync *s = c->s;
    for (;;) {
        if (s->stop && *s->stop)
            return -EINTR;
        struct rgw_bl_page page = {0};
        struct bs_prefetch *pf = prefetch_find(s, c->bs_key);
        int r = 0;
        if (pf && pf->has_bl && same_marker(pf->marker, st->inc_marker)) {
            page = pf->bl;
            pf->has_bl = false;
        } else {
            r = rgw_bilog_list(s->src, c->bs_key, st->inc_marker, PAGE, &page);
        }
        if (r < 0) {
            sync_count_error(s, r, false);
            return r;
        }
        if (page.n == 0) {
            rgw_bl_page_finish(&page);
            return 0;
        }
        /* pass 1: the winner per name. The target holds the current object
         * only, so every change of a name in this page collapses into the
         * last one in log order (an OLH change never loses to one of an
         * older OLH epoch); RGW squashes per (name, instance) because its
         * target keeps every version. */
        struct squash *sq = calloc(page.n, sizeof(*sq));
        char **names = calloc(page.n, sizeof(char *));
        bool *ns = calloc(page.n, sizeof(bool));
        const char **why = calloc(page.n, sizeof(char *));
        size_t nsq = 0;
        bool stop_after = false;
        size_t last = page.n; /* entries past a syncstop are not ours to read */
        if (!sq || !names || !ns || !why) {
            r = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < page.n; i++) {
            const struct rgw_bl_entry *e = &page.entries[i];
            if (e->op == RGW_BL_SYNCSTOP) {
                stop_after = true;
                last = i + 1;
                why[i] = "syncstop";
                break;
            }
            if ((r = rgw_index_key_parse(e->object, &names[i], &ns[i])) < 0)
                goto out;
            bool versioned_inst = e->versioned && e->instance[0] && strcmp(e->instance, "null");
            if (e->op == RGW_BL_RESYNC || e->op == RGW_BL_CANCEL || e->op == RGW_BL_UNKNOWN)
                why[i] = "op";
            else if (!e->complete)
                why[i] = "pending";
            else if (ns[i])
                why[i] = "namespaced";
            else if (names_our_zone(e, s->period.zone_id))
                why[i] = "zones_trace";
            /* a versioned write is followed by its link_olh, which makes it
             * current; removing one version (unlink_instance + del) leaves
             * an unversioned target's current object as it is */
            else if (e->op == RGW_BL_UNLINK_INSTANCE ||
                     ((e->op == RGW_BL_DEL || e->op == RGW_BL_WRITE) && versioned_inst))
                why[i] = "version-only";
            if (why[i])
                continue;
            size_t k = 0;
            while (k < nsq && strcmp(sq[k].name, names[i]) != 0)
                k++;
            if (k == nsq) {
                sq[nsq++] = (struct squash){names[i], i};
                continue;
            }
            const struct rgw_bl_entry *old = &page.entries[sq[k].idx];
            uint64_t old_epoch = old->ver_pool < 0 ? old->ver_epoch : 0;
            uint64_t new_epoch = e->ver_pool < 0 ? e->ver_epoch : 0;
            if (is_olh(old->op) && is_olh(e->op) && new_epoch < old_epoch) {
                why[i] = "older-olh-epoch";
                continue;
            }
            why[sq[k].idx] = "squashed";
            sq[k].idx = i;
        }
        /* pass 2: apply the winners in log order, skip the rest */
        struct batch b = {.ctx = c};
        if ((r = marker_new(&b.m, st->inc_marker)) < 0)
            goto out;
        for (size_t i = 0; i < last && r == 0; i++) {
            const struct rgw_bl_entry *e = &page.entries[i];
            if (why[i]) {
                log_debug("bucket_shard=%s id=%s skip=%s", c->bs_key, e->id, why[i]);
                (void) marker_skip(b.m, e->id);
                continue;
            }
            bool versioned_inst = e->versioned && e->instance[0] && strcmp(e->instance, "null");
            enum sync_op kind = e->op == RGW_BL_DEL            ? SYNC_OP_REMOVE
                                : e->op == RGW_BL_LINK_OLH_DEL ? SYNC_OP_DELETE_MARKER
                                                               : SYNC_OP_COPY;
            uint64_t epoch = e->ver_pool < 0 ? e->ver_epoch : 0;
            r = op_start(&b, kind, e->id, names[i], versioned_inst ? e->instance : "", e->timestamp,
                         NULL, 0, epoch);
        }
        batch_wait(&b);
        /* store as far as everything is done: below the first failure */
        const char *mark = marker_committable(b.m);
        if (mark && strcmp(mark, st->inc_marker) != 0) {
            char *nm = strdup(mark);
            if (!nm) {
                r = -ENOMEM;
            } else {
                free(st->inc_marker);
                st->inc_marker = nm;
                st->updated = (int64_t) time(NULL);
                int w = s->st.ops->bs_put(s->st.inst, st);
                if (w < 0 && r == 0)
                    r = w;
            }
        }
        marker_free(b.m);
        if (r == 0 && b.failed) {
            err_set("%s", b.first_detail);
            r = b.first_err;
        }
        if (r == 0 && stop_after) {
            st->phase = STATE_BS_STOPPED;
            r = s->st.ops->bs_put(s->st.inst, st);
            log_info("bucket_shard=%s msg=\"sync stopped on the source (syncstop)\"", c->bs_key);
        }
    out:
        for (size_t i = 0; names && i < page.n; i++)
            free(names[i]);
        free(names);
        free(ns);
        free(why);
        free(sq);
        bool full_page = page.n == PAGE;
        rgw_bl_page_finish(&page);
        if (r < 0 || stop_after || !full_page)
            return r;
    }
}

/* ------------------------------------------- overlapped full sync (init) */

static void full_free(struct full_bs *fb)
{
    while (fb->head) {
        struct batch *p = fb->head;
        fb->head = p->next;
        free(p->last_key);
        free(p->last_version);
        free(p);
    }
    ctx_finish(&fb->c);
    rgw_bucket_finish(&fb->b);
    state_bs_finish(&fb->st);
    free(fb->key);
    free(fb);
}

static void full_fail(struct full_bs *fb, int err, const char *detail)
{
    if (fb->failed)
        return;
    fb->failed = true;
    fb->err = err;
    (void) snprintf(fb->detail, sizeof(fb->detail), "%s",
                    detail && *detail ? detail : strerror(-err));
}

/* Commit settled pages in order; finish the shard when all are done. */
static void full_advance(struct full_bs *fb)
{
    struct sync *s = fb->s;
    while (fb->head && fb->head->closed && fb->head->inflight == 0) {
        struct batch *p = fb->head;
        if (p->failed)
            full_fail(fb, p->first_err, p->first_detail);
        if (!fb->failed && p->last_key) {
            /* resume after this page: everything up to it is on the target
             * (a re-listing keeps its position to itself: never stored) */
            free(fb->st.full_key);
            free(fb->st.full_version);
            fb->st.full_key = p->last_key;
            fb->st.full_version = p->last_version;
            p->last_key = p->last_version = NULL;
            fb->st.full_count += p->count;
            int r = fb->relist ? 0 : s->st.ops->bs_put(s->st.inst, &fb->st);
            if (r < 0)
                full_fail(fb, r, err_get());
        }
        fb->head = p->next;
        if (!fb->head)
            fb->tail = NULL;
        free(p->last_key);
        free(p->last_version);
        free(p);
    }
    if (!fb->listing_done || fb->head)
        return;
    if (fb->relist) {
        /* what failed is copied at the next re-listing, or by the log */
        if (fb->failed)
            log_warn("bucket_shard=%s msg=\"re-listing incomplete\" error=\"%s\"", fb->key,
                     fb->detail);
        else if (!fb->interrupted)
            log_debug("bucket_shard=%s msg=\"re-listed\" objects=%llu", fb->key,
                      (unsigned long long) fb->st.full_count);
    } else if (fb->wait) {
        /* the waiter decides about failures (its retry record carries the
         * datalog entry's timestamp) */
        if (!fb->failed && !fb->interrupted) {
            fb->st.phase = STATE_BS_INCREMENTAL;
            if (s->st.ops->bs_put(s->st.inst, &fb->st) < 0)
                full_fail(fb, -EIO, err_get());
        }
        fb->wait->err = fb->failed ? fb->err : fb->interrupted ? -EINTR : 0;
        (void) snprintf(fb->wait->detail, sizeof(fb->wait->detail), "%s", fb->detail);
        fb->wait->done = true;
    } else if (fb->failed) {
        err_set("%s", fb->detail);
        (void) sync_retry_record(s, fb->key, "", fb->err);
    } else if (!fb->interrupted) {
        fb->st.phase = STATE_BS_INCREMENTAL;
        if (s->st.ops->bs_put(s->st.inst, &fb->st) < 0)
            (void) sync_retry_record(s, fb->key, "", -EIO);
        else
            log_info("bucket_shard=%s msg=\"full sync done\" objects=%llu", fb->key,
                     (unsigned long long) fb->st.full_count);
    }
    full_free(fb);
}

static int bucket_copy(struct rgw_bucket *dst, const struct rgw_bucket *src)
{
    dst->tenant = strdup(src->tenant);
    dst->name = strdup(src->name);
    dst->bucket_id = strdup(src->bucket_id);
    dst->owner = strdup(src->owner);
    dst->num_shards = src->num_shards;
    dst->flags = src->flags;
    return dst->tenant && dst->name && dst->bucket_id && dst->owner ? 0 : -ENOMEM;
}

static int bs_resolve(struct sync *s, const char *bs_key, int *shard, const struct rgw_bucket **b);

/* Start (w == NULL: and forget) the full sync of bs_key; with w, w->done
 * is set when it ends, also when there was nothing to do. */
static int full_run(struct sync *s, const char *bs_key, struct full_wait *w, bool relist)
{
    int shard;
    const struct rgw_bucket *cached = NULL;
    int r = bs_resolve(s, bs_key, &shard, &cached);
    struct full_bs *fb = r == 0 ? calloc(1, sizeof(*fb)) : NULL;
    if (r == 0 && !fb)
        r = -ENOMEM;
    if (fb) {
        fb->s = s;
        fb->key = strdup(bs_key);
        if (!fb->key || bucket_copy(&fb->b, cached) < 0)
            r = -ENOMEM;
    }
    if (r == 0) {
        fb->c = (struct bs_ctx){.s = s, .bs_key = fb->key, .shard = shard, .b = &fb->b};
        r = ctx_init(&fb->c);
    }
    if (r == 0 && relist) {
        /* only a shard that follows its log: the others are in full sync,
         * stopped, or not started (their full sync lists them anyway) */
        r = s->st.ops->bs_get(s->st.inst, bs_key, &fb->st);
        if (r == -ENOENT || (r == 0 && fb->st.phase != STATE_BS_INCREMENTAL))
            r = 1;
        if (r == 0) { /* a private copy, never stored: it lists from the start */
            fb->relist = true;
            fb->st.full_count = 0;
            free(fb->st.full_key);
            free(fb->st.full_version);
            fb->st.full_key = strdup("");
            fb->st.full_version = strdup("");
            if (!fb->st.full_key || !fb->st.full_version)
                r = -ENOMEM;
        }
    } else if (r == 0) {
        r = bs_state_load(s, &fb->c, bs_key, &fb->st);
    }
    if (r != 0 || (!relist && fb->st.phase != STATE_BS_FULL)) {
        /* gone or excluded (1), stopped, already following its log, or
         * failed before anything started */
        if (fb)
            full_free(fb);
        if (w) {
            w->err = r < 0 ? r : 0;
            w->done = true;
        }
        return r > 0 ? 0 : r;
    }
    fb->wait = w;
    for (;;) {
        /* a long re-listing lets the logs be followed between its pages */
        if (fb->relist && fb->tail && sync_relist_yield(s) < 0) {
            fb->interrupted = true;
            break;
        }
        if (s->stop && *s->stop) {
            fb->interrupted = true;
            break;
        }
        /* the listing goes on after the last started page */
        const char *km = fb->tail && fb->tail->last_key ? fb->tail->last_key : fb->st.full_key;
        const char *vm =
            fb->tail && fb->tail->last_key ? fb->tail->last_version : fb->st.full_version;
        struct rgw_obj_page page = {0};
        struct bs_prefetch *pf = fb->tail ? NULL : prefetch_find(s, bs_key);
        if (pf && pf->has_objs && same_marker(pf->marker, km) && same_marker(pf->version, vm)) {
            page = pf->objs;
            pf->has_objs = false;
            r = 0;
        } else {
            r = rgw_list_shard(s->src, &fb->b, shard, km, vm, PAGE, &page);
        }
        if (r < 0) {
            sync_count_error(s, r, false);
            full_fail(fb, r, err_get());
            break;
        }
        struct batch *p = calloc(1, sizeof(*p));
        if (!p) {
            rgw_obj_page_finish(&page);
            full_fail(fb, -ENOMEM, "out of memory");
            break;
        }
        p->ctx = &fb->c;
        p->fb = fb;
        if (page.n) {
            p->last_key = strdup(page.objs[page.n - 1].key);
            p->last_version = strdup(page.objs[page.n - 1].version_id);
            p->count = page.n;
        }
        if (fb->tail)
            fb->tail->next = p;
        else
            fb->head = p;
        fb->tail = p;
        for (size_t i = 0; i < page.n; i++) {
            const struct rgw_obj *o = &page.objs[i];
            if (!o->is_latest || o->delete_marker)
                continue;
            bool versioned = o->version_id[0] && strcmp(o->version_id, "null") != 0;
            int orr = op_start(p, SYNC_OP_COPY, NULL, o->key, versioned ? o->version_id : "",
                               o->mtime, o->etag, o->size, o->versioned_epoch);
            if (orr < 0) {
                full_fail(fb, orr, err_get());
                break;
            }
        }
        bool more = page.truncated && page.n > 0 && !fb->failed;
        rgw_obj_page_finish(&page);
        p->closed = true;
        if (!more)
            break;
    }
    fb->listing_done = true;
    /* pages may all be settled already: commit, maybe finish (frees fb) */
    full_advance(fb);
    return 0;
}

int bucket_full_start(struct sync *s, const char *bs_key)
{
    return full_run(s, bs_key, NULL, false);
}

int bucket_relist_start(struct sync *s, const char *bs_key)
{
    return full_run(s, bs_key, NULL, true);
}

/* ------------------------------------------------------------ the shard */

static int bucket_info(struct sync *s, const char *instance_key, const struct rgw_bucket **out)
{
    if (s->bucket_key && strcmp(s->bucket_key, instance_key) == 0) {
        *out = &s->bucket;
        return 0;
    }
    free(s->bucket_key);
    s->bucket_key = NULL;
    rgw_bucket_finish(&s->bucket);
    int r = rgw_bucket_instance_get(s->src, instance_key, &s->bucket);
    if (r < 0)
        return r;
    s->bucket_key = strdup(instance_key);
    if (!s->bucket_key)
        return -ENOMEM;
    *out = &s->bucket;
    return 0;
}

/* The bucket shard's state, initialised when new: its bilog position is
 * recorded before listing (whatever changes during the listing is in the
 * log after it) and it goes to full sync, or stopped when the source
 * stopped its sync. 0, or a negative errno. */
static int bs_state_load(struct sync *s, const struct bs_ctx *c, const char *bs_key,
                         struct state_bs *st)
{
    const struct rgw_bucket *b = c->b;
    int r;
    r = s->st.ops->bs_get(s->st.inst, bs_key, st);
    if (r == -ENOENT) {
        st->key = strdup(bs_key);
        st->inc_marker = strdup("");
        st->full_key = strdup("");
        st->full_version = strdup("");
        st->phase = STATE_BS_INIT;
        r = st->key && st->inc_marker && st->full_key && st->full_version ? 0 : -ENOMEM;
    }
    if (r < 0)
        return r;

    if (st->phase == STATE_BS_INIT) {
        /* the listener answers bilog status per bucket with one entry per
         * index shard: it needs the count */
        char *inst = rgw_bs_key(b, -1);
        char meta[1200], val[16];
        if (!inst)
            return -ENOMEM;
        (void) snprintf(meta, sizeof(meta), "shards:%s", inst);
        free(inst);
        (void) snprintf(val, sizeof(val), "%d", b->num_shards);
        if ((r = s->st.ops->meta_put(s->st.inst, meta, val)) < 0)
            return r;
    }
    if (st->phase == STATE_BS_INIT || st->phase == STATE_BS_STOPPED) {
        /* the position is recorded before listing: whatever changes during
         * the listing is in the log after it */
        struct rgw_bl_info info = {0};
        struct bs_prefetch *pf = prefetch_find(s, bs_key);
        if (pf && pf->has_info) {
            info = pf->info;
            pf->has_info = false;
            r = 0;
        } else {
            r = rgw_bilog_info(s->src, bs_key, &info);
        }
        if (r < 0) {
            sync_count_error(s, r, false);
            return r;
        }
        if (info.syncstopped) {
            rgw_bl_info_finish(&info);
            if (st->phase != STATE_BS_STOPPED) {
                st->phase = STATE_BS_STOPPED;
                r = s->st.ops->bs_put(s->st.inst, st);
            }
            return r;
        }
        free(st->inc_marker);
        st->inc_marker = info.max_marker;
        info.max_marker = NULL;
        rgw_bl_info_finish(&info);
        free(st->full_key);
        free(st->full_version);
        st->full_key = strdup("");
        st->full_version = strdup("");
        st->full_count = 0;
        st->phase = STATE_BS_FULL;
        st->updated = (int64_t) time(NULL);
        if (!st->full_key || !st->full_version) {
            r = -ENOMEM;
            return r;
        }
        if ((r = s->st.ops->bs_put(s->st.inst, st)) < 0)
            return r;
    }
    return 0;
}

/* The bucket of a bucket shard key; 1 when the instance is gone (a deleted
 * bucket, or one replaced by a reshard: nothing left to copy, as RGW
 * treats it). */
static int bs_resolve(struct sync *s, const char *bs_key, int *shard, const struct rgw_bucket **b)
{
    char *tenant = NULL, *name = NULL, *id = NULL;
    int r = rgw_bs_key_parse(bs_key, &tenant, &name, &id, shard);
    if (r < 0)
        return r;
    char *instance_key = NULL;
    if (asprintf(&instance_key, "%s%s%s:%s", tenant, tenant[0] ? "/" : "", name, id) < 0)
        instance_key = NULL;
    free(tenant);
    free(name);
    free(id);
    if (!instance_key)
        return -ENOMEM;
    r = bucket_info(s, instance_key, b);
    free(instance_key);
    if (r == -ENOENT) {
        log_debug("bucket_shard=%s msg=\"bucket instance gone, nothing to sync\"", bs_key);
        return 1;
    }
    if (r < 0)
        sync_count_error(s, r, false);
    return r;
}

int bucket_sync(struct sync *s, const char *bs_key)
{
    int shard;
    const struct rgw_bucket *b = NULL;
    int r = bs_resolve(s, bs_key, &shard, &b);
    if (r != 0)
        return r > 0 ? 0 : r;
    struct bs_ctx c = {.s = s, .bs_key = bs_key, .shard = shard, .b = b};
    r = ctx_init(&c);
    if (r != 0) {
        ctx_finish(&c);
        if (r > 0)
            log_debug("bucket_shard=%s msg=\"excluded by its profile\"", bs_key);
        return r > 0 ? 0 : r;
    }

    struct state_bs st = {0};
    r = bs_state_load(s, &c, bs_key, &st);
    if (r == 0 && st.phase == STATE_BS_FULL) {
        /* the same full sync as at init, waited for */
        struct full_wait w = {0};
        r = full_run(s, bs_key, &w, false);
        while (r == 0 && !w.done)
            (void) loop_run_once(s->loop, 1000);
        if (r == 0 && w.err < 0) {
            err_set("%s", w.detail);
            r = w.err;
        }
        state_bs_finish(&st);
        if (r == 0)
            r = s->st.ops->bs_get(s->st.inst, bs_key, &st);
    }
    if (r == 0 && st.phase == STATE_BS_INCREMENTAL)
        r = incremental_sync(&c, &st);
    state_bs_finish(&st);
    ctx_finish(&c);
    return r;
}
