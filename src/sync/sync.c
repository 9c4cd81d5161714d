/* The controller: datalog shards, full sync of every bucket, retries, and
 * the daemon's loop. */
#include "sync/sync.h"

#include "config.h"
#include "err.h"
#include "http/loop.h"
#include "http/s3.h"
#include "log.h"
#include "server/server.h"
#include "sync/mapping.h"
#include "sync/parts.h"
#include "sync/peer.h"
#include "sync/sync_int.h"
#include "sync/uploads.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RETRY_FIRST       60
#define RETRY_MAX         600
#define SWEEP_FIRST_MS    (60 * 1000LL)
#define SWEEP_INTERVAL_MS (3600 * 1000LL)
/* datalog shards not read are marked at the source's end this often (RGW
 * trims every rgw_sync_log_trim_interval, 20 min by default) */
#define MARK_UNREAD_MS (600 * 1000LL)

/* ----------------------------------------------------------- small parts */

void sync_count_error(struct sync *s, int err, bool target_side)
{
    (void) err;
    if (target_side)
        atomic_fetch_add(&s->stats.errors_target, 1);
    else
        atomic_fetch_add(&s->stats.errors_source, 1);
}

void sync_mapping_vars(const struct sync *s, const struct rgw_bucket *b, struct mapping_vars *v)
{
    *v = (struct mapping_vars){
        .sid = s->sid,
        .zonegroup = s->period.zonegroup_name,
        .zonegroup_id = s->period.zonegroup_id,
        .zone = s->cfg->source.zone,
        .zone_id = s->period.zone_id,
        .tenant = b->tenant,
        .bucket = b->name,
        .owner = b->owner,
    };
}

void sync_wait_below(struct sync *s, size_t limit)
{
    while (s->inflight >= limit && s->inflight > 0)
        (void) loop_run_once(s->loop, 1000);
}

int sync_target(struct sync *s, const struct cfg_connection *conn, struct target_inst **out)
{
    for (size_t i = 0; i < s->ntargets; i++) {
        if (s->targets[i].conn == conn) {
            *out = &s->targets[i];
            return 0;
        }
    }
    struct target_inst *nt = realloc(s->targets, (s->ntargets + 1) * sizeof(*nt));
    if (!nt)
        return -ENOMEM;
    s->targets = nt;
    struct target_inst *t = &s->targets[s->ntargets];
    t->conn = conn;
    t->ops = &target_s3;
    t->inst = NULL;
    struct target_env env = {
        .loop = s->loop,
        .conn = conn,
        .cfg = s->cfg,
        .st = &s->st,
        .pool = s->pool,
        .rate = s->rate,
        .dry_run = false,
    };
    int r = t->ops->create(&env, &t->inst);
    if (r < 0)
        return r;
    s->ntargets++;
    *out = t;
    return 0;
}

static int sid_load(struct sync *s)
{
    int r = s->st.ops->meta_get(s->st.inst, "sid", &s->sid);
    if (r != -ENOENT)
        return r;
    /* our sync instance id: random once, then stable (RGW's is %llx of a
     * random 64-bit number; ${sid} in target paths depends on it) */
    unsigned long long v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t) sizeof(v)) {
        if (fd >= 0)
            (void) close(fd);
        err_set("sync: cannot read /dev/urandom for the sync instance id");
        return -EIO;
    }
    (void) close(fd);
    char buf[20];
    (void) snprintf(buf, sizeof(buf), "%llx", v);
    if ((r = s->st.ops->meta_put(s->st.inst, "sid", buf)) < 0)
        return r;
    s->sid = strdup(buf);
    return s->sid ? 0 : -ENOMEM;
}

int sync_new(struct sync **out, const struct config *cfg)
{
    if (!cfg->source.present) {
        err_set("%s: .source: missing; expected the source zone (endpoint, access_key, secret, "
                "zonegroup, zone)",
                cfg->path);
        return -EINVAL;
    }
    struct sync *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = cfg;
    s->concurrency = cfg->sync.concurrency ? cfg->sync.concurrency : 32;
    (void) pthread_mutex_init(&s->notify_lock, NULL);
    struct loop_opts lo = {.max_host_connections = 0};
    int r = loop_new(&s->loop, &lo);
    if (r < 0)
        goto fail;
    r = rgw_source_new(&s->src, s->loop, cfg->source.endpoint, cfg->source.access_key,
                       cfg->source.secret, cfg->source.zonegroup);
    if (r < 0)
        goto fail;
    r = state_open(&s->st, cfg);
    if (r < 0)
        goto fail;
    r = bufpool_new(&s->pool,
                    cfg->sync.max_inflight_bytes ? cfg->sync.max_inflight_bytes : 1ull << 30,
                    cfg->sync.max_inflight_parts);
    if (r < 0)
        goto fail;
    r = s3_rate_new(&s->rate, cfg->sync.bandwidth_limit);
    if (r < 0)
        goto fail;
    r = sid_load(s);
    if (r < 0)
        goto fail;
    r = rgw_period_get(s->src, cfg->source.zonegroup, cfg->source.zone, &s->period);
    if (r == -EACCES) {
        char what[512];
        (void) snprintf(what, sizeof(what), "%s", err_get());
        err_set("the source %s refused our credentials (%s); check source.access_key and "
                "source.secret in %s: they must be the zonegroup's system user's keys",
                cfg->source.endpoint, what, cfg->path);
    }
    if (r < 0)
        goto fail;
    if (!s->period.zone_id) {
        err_set("source: zone \"%s\" is not in zonegroup \"%s\"; register it first "
                "(rgw2cloud zone -c %s --apply)",
                cfg->source.zone, cfg->source.zonegroup, cfg->path);
        r = -ENOENT;
        goto fail;
    }
    r = rgw_datalog_num_shards(s->src, &s->num_shards);
    if (r < 0)
        goto fail;
    s->notified = calloc((size_t) s->num_shards, 1);
    s->shard_lag = calloc((size_t) s->num_shards, sizeof(*s->shard_lag));
    if (!s->notified || !s->shard_lag) {
        r = -ENOMEM;
        goto fail;
    }
    for (int i = 0; i < s->num_shards; i++)
        s->shard_lag[i] = -1;
    *out = s;
    return 0;
fail:
    sync_free(s);
    return r;
}

void sync_free(struct sync *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ntargets; i++)
        s->targets[i].ops->destroy(s->targets[i].inst);
    free(s->targets);
    bucket_prefetch_drop(s);
    follow_free(s);
    free(s->bucket_key);
    rgw_bucket_finish(&s->bucket);
    rgw_period_finish(&s->period);
    rgw_source_free(s->src);
    state_close(&s->st);
    bufpool_free(s->pool);
    s3_rate_free(s->rate);
    loop_free(s->loop);
    free(s->sid);
    config_free(s->owned_cfg);
    free(s->notified);
    for (size_t i = 0; i < s->nnotified_keys; i++)
        free(s->notified_keys[i]);
    free(s->notified_keys);
    free(s->shard_lag);
    (void) pthread_mutex_destroy(&s->notify_lock);
    free(s);
}

/* ------------------------------------------------------------ the retries */

static int64_t backoff(int attempts)
{
    int64_t d = RETRY_FIRST;
    for (int i = 1; i < attempts && d < RETRY_MAX; i++)
        d *= 2;
    if (d > RETRY_MAX)
        d = RETRY_MAX;
    return d + (int64_t) (random() % (d / 10 + 1)); /* jitter: no thundering herd */
}

/* Record a failed bucket shard durably. Only after this may the datalog
 * marker that named it move: else a crash would lose the bucket shard. */
int sync_retry_record(struct sync *s, const char *bs_key, const char *timestamp, int err)
{
    /* the failure's words first: the state lookup below may set err_get() */
    char line[512];
    (void) snprintf(line, sizeof(line), "%s", err_get()[0] ? err_get() : strerror(-err));
    struct state_retry old = {0};
    int attempts = s->st.ops->retry_get(s->st.inst, bs_key, &old) == 0 ? old.attempts : 0;
    state_retry_finish(&old);
    struct state_retry r = {
        .key = (char *) bs_key,
        .timestamp = (char *) (timestamp ? timestamp : ""),
        .next_try = (int64_t) time(NULL) + backoff(attempts + 1),
        .attempts = attempts + 1,
        .last_error = line,
    };
    log_warn("bucket_shard=%s msg=\"sync failed, retry in %llds\" error=\"%s\"", bs_key,
             (long long) (r.next_try - time(NULL)), line);
    return s->st.ops->retry_put(s->st.inst, &r);
}

struct retry_walk {
    char **keys;
    char **stamps;
    size_t n, cap;
};

static int retry_collect(void *ud, const struct state_retry *r)
{
    struct retry_walk *w = ud;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        char **k = realloc(w->keys, cap * sizeof(char *));
        if (!k)
            return -ENOMEM;
        w->keys = k;
        char **t = realloc(w->stamps, cap * sizeof(char *));
        if (!t)
            return -ENOMEM;
        w->stamps = t;
        w->cap = cap;
    }
    w->keys[w->n] = strdup(r->key);
    w->stamps[w->n] = strdup(r->timestamp ? r->timestamp : "");
    if (!w->keys[w->n] || !w->stamps[w->n]) {
        free(w->keys[w->n]);
        free(w->stamps[w->n]);
        return -ENOMEM;
    }
    w->n++;
    return 0;
}

static void retry_walk_free(struct retry_walk *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->keys[i]);
        free(w->stamps[i]);
    }
    free(w->keys);
    free(w->stamps);
}

static int retries_run(struct sync *s, int64_t due)
{
    struct retry_walk w = {0};
    int r = s->st.ops->retry_list(s->st.inst, due, retry_collect, &w);
    for (size_t i = 0; r == 0 && i < w.n; i++) {
        if (s->stop && *s->stop)
            break;
        err_clear();
        int br = bucket_sync(s, w.keys[i]);
        if (br == -EINTR)
            break;
        if (br == 0) {
            /* only a retry that covers the newest failure may erase it */
            r = s->st.ops->retry_del(s->st.inst, w.keys[i], w.stamps[i]);
            log_info("bucket_shard=%s msg=\"retry succeeded\"", w.keys[i]);
        } else {
            r = sync_retry_record(s, w.keys[i], w.stamps[i], br);
        }
    }
    retry_walk_free(&w);
    uint64_t n = 0;
    if (s->st.ops->retry_count(s->st.inst, &n) == 0)
        atomic_store(&s->stats.retry_list, n);
    return r;
}

struct bs_walk {
    char **keys;
    char **markers;
    size_t n, cap;
};

static int bs_collect(void *ud, const struct state_bs *bs)
{
    struct bs_walk *w = ud;
    if (bs->phase != STATE_BS_INCREMENTAL)
        return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        char **k = realloc(w->keys, cap * sizeof(char *));
        if (k)
            w->keys = k;
        char **m = realloc(w->markers, cap * sizeof(char *));
        if (m)
            w->markers = m;
        if (!k || !m)
            return -ENOMEM;
        w->cap = cap;
    }
    w->keys[w->n] = strdup(bs->key);
    w->markers[w->n] = strdup(bs->inc_marker ? bs->inc_marker : "");
    if (!w->keys[w->n] || !w->markers[w->n]) {
        free(w->keys[w->n]);
        free(w->markers[w->n]);
        return -ENOMEM;
    }
    w->n++;
    return 0;
}

int sync_bilog_sweep(struct sync *s)
{
    struct bs_walk w = {0};
    int r = s->st.ops->bs_list(s->st.inst, NULL, bs_collect, &w);
    for (size_t i = 0; r == 0 && i < w.n; i++) {
        if (s->stop && *s->stop)
            break;
        if (i % PREFETCH_GROUP == 0) {
            size_t n = w.n - i < PREFETCH_GROUP ? w.n - i : PREFETCH_GROUP;
            if (bucket_bilog_prefetch(s, w.keys + i, w.markers + i, n) < 0)
                log_debug("msg=\"asking bilogs ahead failed, one by one then\" error=\"%s\"",
                          err_get());
        }
        err_clear();
        int br = bucket_sync(s, w.keys[i]);
        if (br == -EINTR)
            break;
        if (br < 0)
            r = sync_retry_record(s, w.keys[i], "", br);
    }
    bucket_prefetch_drop(s);
    for (size_t i = 0; i < w.n; i++) {
        free(w.keys[i]);
        free(w.markers[i]);
    }
    free(w.keys);
    free(w.markers);
    return r;
}

void sync_log_totals(struct sync *s, const char *msg)
{
    const struct sync_stats *st = &s->stats;
    log_info("msg=\"%s\" copied=%llu skipped=%llu removed=%llu bytes=%llu retried=%llu "
             "errors=%llu",
             msg, (unsigned long long) atomic_load(&st->objects_copied),
             (unsigned long long) atomic_load(&st->objects_skipped),
             (unsigned long long) atomic_load(&st->objects_removed),
             (unsigned long long) atomic_load(&st->bytes_sent),
             (unsigned long long) atomic_load(&st->sends_retried),
             (unsigned long long) (atomic_load(&st->errors_source) +
                                   atomic_load(&st->errors_target) +
                                   atomic_load(&st->errors_other)));
}

int sync_retry_all(struct sync *s)
{
    return retries_run(s, -1);
}

uint64_t sync_failed_count(struct sync *s)
{
    uint64_t n = 0;
    (void) s->st.ops->retry_count(s->st.inst, &n);
    return n;
}

static int retry_print(void *ud, const struct state_retry *r)
{
    (void) ud;
    fprintf(stderr, "failed: bucket_shard=%s attempts=%d error=\"%s\"\n", r->key, r->attempts,
            r->last_error ? r->last_error : "");
    return 0;
}

void sync_print_failures(struct sync *s)
{
    (void) s->st.ops->retry_list(s->st.inst, -1, retry_print, NULL);
}

/* --------------------------------------------------------- datalog shards */

int sync_dl_load(struct sync *s, int shard, struct state_dl_shard *d)
{
    int r = s->st.ops->dl_get(s->st.inst, shard, d);
    if (r != -ENOENT)
        return r;
    memset(d, 0, sizeof(*d));
    d->shard = shard;
    d->phase = STATE_DL_INIT;
    d->marker = strdup("");
    d->full_marker = strdup("");
    return d->marker && d->full_marker ? 0 : -ENOMEM;
}

int sync_txn_end(struct sync *s, bool txn, int r)
{
    if (!txn)
        return r;
    if (r == 0)
        return s->st.ops->txn_commit(s->st.inst);
    s->st.ops->txn_abort(s->st.inst);
    return r;
}

/* init: every shard's current end, recorded before anything is listed:
 * whatever changes during the full sync is in the log after it. */
static int init_shards(struct sync *s, bool *full_due)
{
    *full_due = false;
    int n = s->num_shards;
    struct state_dl_shard *d = calloc((size_t) n, sizeof(*d));
    struct rgw_dl_info *infos = calloc((size_t) n, sizeof(*infos));
    int *errs = calloc((size_t) n, sizeof(int));
    bool *ask = calloc((size_t) n, sizeof(bool));
    int r = d && infos && errs && ask ? 0 : -ENOMEM;
    for (int i = 0; r == 0 && i < n; i++) {
        if (!sync_follows(s, i))
            continue; /* stays as it is: INIT when never read */
        r = sync_dl_load(s, i, &d[i]);
        ask[i] = r == 0 && d[i].phase == STATE_DL_INIT;
    }
    if (r == 0)
        rgw_datalog_info_many(s->src, n, ask, infos, errs);
    /* one transaction: one sync of the state, not one per shard */
    bool txn = r == 0 && (r = s->st.ops->txn_begin(s->st.inst)) == 0;
    for (int i = 0; r == 0 && i < n; i++) {
        if (ask[i]) {
            if ((r = errs[i]) < 0)
                break;
            free(d[i].full_marker);
            d[i].full_marker = infos[i].marker;
            infos[i].marker = NULL;
            d[i].phase = STATE_DL_FULL;
            d[i].updated = (int64_t) time(NULL);
            r = s->st.ops->dl_put(s->st.inst, &d[i]);
        }
        if (r == 0 && d[i].phase == STATE_DL_FULL)
            *full_due = true;
    }
    r = sync_txn_end(s, txn, r);
    for (int i = 0; i < n; i++) {
        if (d)
            state_dl_shard_finish(&d[i]);
        if (infos)
            rgw_dl_info_finish(&infos[i]);
    }
    free(d);
    free(infos);
    free(errs);
    free(ask);
    return r;
}

/* Every bucket instance, every shard of it: its full sync started, or
 * (relist) its re-listing. Returns with objects still in flight. */
static int walk_shards(struct sync *s, bool relist, size_t *nbuckets)
{
    char *marker = NULL;
    int r = 0;
    *nbuckets = 0;
    for (;;) {
        struct rgw_keys keys = {0};
        r = rgw_bucket_instances(s->src, marker, &keys);
        free(marker);
        marker = NULL;
        if (r < 0)
            break;
        for (size_t i = 0; i < keys.n && r == 0; i++) {
            if (s->stop && *s->stop) {
                r = -EINTR;
                break;
            }
            /* "[tenant/]name:id": a bucket its profile excludes is not read */
            const char *key = keys.keys[i];
            char *name = strndup(key, strcspn(key, ":"));
            if (!name) {
                r = -ENOMEM;
                break;
            }
            bool excluded = config_find_profile(s->cfg, name)->exclude;
            free(name);
            if (excluded)
                continue;
            struct rgw_bucket b = {0};
            int br = rgw_bucket_instance_get(s->src, key, &b);
            if (br == -ENOENT)
                continue;
            if (br < 0) {
                r = br;
                break;
            }
            (*nbuckets)++;
            int nsh = b.num_shards > 0 ? b.num_shards : 1;
            for (int sh = 0; sh < nsh && r == 0; sh++) {
                if (!relist && sh % PREFETCH_GROUP == 0) {
                    int n = nsh - sh < PREFETCH_GROUP ? nsh - sh : PREFETCH_GROUP;
                    int pr = bucket_full_prefetch(s, &b, sh, n);
                    if (pr < 0)
                        log_debug("bucket=%s msg=\"asking ahead failed, shard by shard then\" "
                                  "error=\"%s\"",
                                  b.name, err_get());
                }
                char *bs = rgw_bs_key(&b, b.num_shards > 0 ? sh : -1);
                if (!bs) {
                    r = -ENOMEM;
                    break;
                }
                err_clear();
                if (relist) {
                    br = bucket_relist_start(s, bs);
                    if (br < 0)
                        log_warn("bucket_shard=%s msg=\"cannot re-list\" error=\"%s\"", bs,
                                 err_get());
                    if (sync_relist_yield(s) < 0)
                        r = -EINTR;
                } else {
                    br = bucket_full_start(s, bs);
                    if (br < 0)
                        r = sync_retry_record(s, bs, "", br);
                }
                free(bs);
            }
            bucket_prefetch_drop(s);
            rgw_bucket_finish(&b);
        }
        if (r == 0 && keys.truncated && keys.marker)
            marker = strdup(keys.marker);
        rgw_keys_finish(&keys);
        if (r < 0 || !marker)
            break;
    }
    free(marker);
    return r;
}

/* full sync: every bucket instance, every shard of it */
static int full_sync_all(struct sync *s)
{
    log_info("msg=\"full sync started\"");
    size_t nbuckets = 0;
    int r = walk_shards(s, false, &nbuckets);
    /* every shard's objects done: each went incremental or to the retry list */
    sync_wait_below(s, 1);
    if (r == 0 && s->stop && *s->stop)
        r = -EINTR;
    if (r < 0)
        return r;
    /* every bucket shard is incremental or on the retry list: the datalog
     * shards go on from the positions recorded at init */
    bool txn = (r = s->st.ops->txn_begin(s->st.inst)) == 0;
    for (int i = 0; i < s->num_shards && r == 0; i++) {
        struct state_dl_shard d = {0};
        r = sync_dl_load(s, i, &d);
        if (r == 0 && d.phase == STATE_DL_FULL) {
            free(d.marker);
            d.marker = strdup(d.full_marker ? d.full_marker : "");
            d.phase = STATE_DL_INCREMENTAL;
            d.updated = (int64_t) time(NULL);
            r = d.marker ? s->st.ops->dl_put(s->st.inst, &d) : -ENOMEM;
        }
        state_dl_shard_finish(&d);
    }
    r = sync_txn_end(s, txn, r);
    if (r == 0)
        log_info("msg=\"full sync done\" buckets=%zu", nbuckets);
    return r;
}

static long long poll_ms(const struct sync *s)
{
    return (long long) (s->cfg->sync.poll_interval ? s->cfg->sync.poll_interval : 5) * 1000;
}

/* A re-listing of a large zone takes hours: the logs do not wait for it.
 * Its copies stay in flight during the pass; a log entry's copy of the same
 * object waits for the re-listing's (op_start), so that an older version
 * from the listing never lands after the newer one. */
int sync_relist_yield(struct sync *s)
{
    if (s->stop && *s->stop)
        return -EINTR;
    if (!s->relist_pass_at || loop_now_ms() < s->relist_pass_at)
        return 0;
    s->relist_pass_at = 0; /* nothing yields inside the pass */
    int r = sync_pass(s);
    if (r < 0)
        log_error("msg=\"sync pass failed\" error=\"%s\"", err_get());
    s->relist_pass_at = loop_now_ms() + poll_ms(s);
    return s->stop && *s->stop ? -EINTR : 0;
}

/* sync.reconcile_interval: every object of every shard that follows its log
 * is listed again and compared with the target (HEAD); what is missing
 * there or differs is copied. Markers do not move. It does not delete what
 * the target holds and the source does not. Every poll_interval it lets the
 * logs be followed for a pass (sync_relist_yield). */
static int reconcile_all(struct sync *s)
{
    uint64_t copied0 = atomic_load(&s->stats.objects_copied);
    uint64_t errors0 = atomic_load(&s->stats.errors_source) + atomic_load(&s->stats.errors_target);
    double t0 = (double) loop_now_ms();
    log_info("msg=\"re-listing started\"");
    size_t nbuckets = 0;
    s->relist_pass_at = loop_now_ms() + poll_ms(s);
    int r = walk_shards(s, true, &nbuckets);
    while (s->inflight > 0) { /* its last copies: the logs are followed meanwhile */
        (void) loop_run_once(s->loop, 1000);
        if (r == 0 && sync_relist_yield(s) < 0)
            r = -EINTR;
    }
    s->relist_pass_at = 0;
    if (r == 0 && s->stop && *s->stop)
        r = -EINTR;
    if (r == 0)
        log_info("msg=\"re-listing done\" buckets=%zu copied=%llu errors=%llu seconds=%.1f",
                 nbuckets, (unsigned long long) (atomic_load(&s->stats.objects_copied) - copied0),
                 (unsigned long long) (atomic_load(&s->stats.errors_source) +
                                       atomic_load(&s->stats.errors_target) - errors0),
                 ((double) loop_now_ms() - t0) / 1000.0);
    return r;
}

static bool seen_before(char **keys, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0)
            return true;
    return false;
}

/* One datalog shard up to its end. Each page: every bucket shard it names
 * is synced or put on the retry list, then the marker moves past the page. */
static int dl_shard_sync(struct sync *s, int shard, struct rgw_dl_page *first)
{
    struct state_dl_shard d = {0};
    int r = sync_dl_load(s, shard, &d);
    if (r < 0 || d.phase != STATE_DL_INCREMENTAL) {
        state_dl_shard_finish(&d);
        if (first)
            rgw_dl_page_finish(first);
        return r;
    }
    for (;;) {
        if (s->stop && *s->stop) {
            r = -EINTR;
            break;
        }
        struct rgw_dl_page page = {0};
        if (first) { /* read ahead by dl_poll */
            page = *first;
            memset(first, 0, sizeof(*first));
            first = NULL;
        } else {
            r = rgw_datalog_list(s->src, shard, d.marker, 1000, &page);
        }
        if (r < 0) {
            sync_count_error(s, r, false);
            break;
        }
        if (page.n == 0) {
            rgw_dl_page_finish(&page);
            s->shard_lag[shard] = 0;
            break;
        }
        char **done = calloc(page.n, sizeof(char *));
        size_t ndone = 0;
        if (!done) {
            rgw_dl_page_finish(&page);
            r = -ENOMEM;
            break;
        }
        for (size_t i = 0; i < page.n && r == 0; i++) {
            const struct rgw_dl_entry *e = &page.entries[i];
            if (seen_before(done, ndone, e->key))
                continue; /* at-least-once, coalesced: once per page is enough */
            done[ndone++] = e->key;
            err_clear();
            int br = bucket_sync(s, e->key);
            if (br == -EINTR)
                r = br;
            else if (br < 0)
                r = sync_retry_record(s, e->key, e->timestamp, br);
            else
                (void) s->st.ops->retry_del(s->st.inst, e->key, e->timestamp);
        }
        free(done);
        if (r == 0) {
            free(d.marker);
            d.marker = strdup(page.marker);
            struct timefmt_ns t;
            if (timefmt_parse(&t, page.entries[page.n - 1].timestamp) == 0)
                d.last_change = t.sec;
            d.updated = (int64_t) time(NULL);
            r = d.marker ? s->st.ops->dl_put(s->st.inst, &d) : -ENOMEM;
        }
        bool more = page.truncated;
        rgw_dl_page_finish(&page);
        if (r < 0 || !more) {
            if (r == 0)
                s->shard_lag[shard] = 0;
            break;
        }
    }
    state_dl_shard_finish(&d);
    if (first)
        rgw_dl_page_finish(first);
    return r;
}

/* Sync the datalog shards (only the notified ones when only_notified):
 * ask all of them at once, then work through those with entries. */
static int dl_poll(struct sync *s, bool only_notified)
{
    int n = s->num_shards;
    struct rgw_dl_page *pages = calloc((size_t) n, sizeof(*pages));
    struct state_dl_shard *d = calloc((size_t) n, sizeof(*d));
    const char **markers = calloc((size_t) n, sizeof(char *));
    int *errs = calloc((size_t) n, sizeof(int));
    bool *ask = calloc((size_t) n, sizeof(bool));
    int r = pages && d && markers && errs && ask ? 0 : -ENOMEM;
    for (int i = 0; r == 0 && i < n; i++) {
        pthread_mutex_lock(&s->notify_lock);
        bool mine = s->notified[i];
        s->notified[i] = 0;
        pthread_mutex_unlock(&s->notify_lock);
        if ((only_notified && !mine) || !sync_follows(s, i))
            continue;
        r = sync_dl_load(s, i, &d[i]);
        ask[i] = r == 0 && d[i].phase == STATE_DL_INCREMENTAL;
        markers[i] = d[i].marker;
    }
    if (r == 0)
        rgw_datalog_list_many(s->src, n, ask, markers, 1000, pages, errs);
    for (int i = 0; r == 0 && i < n; i++) {
        if (!ask[i])
            continue;
        if (errs[i] < 0) {
            sync_count_error(s, errs[i], false);
            r = errs[i];
            log_warn("datalog_shard=%d msg=\"cannot read the datalog\" error=\"%s\"", i, err_get());
            break;
        }
        if (pages[i].n == 0) {
            s->shard_lag[i] = 0;
            continue;
        }
        /* behind by the age of the oldest change not handled yet */
        struct timefmt_ns t;
        if (timefmt_parse(&t, pages[i].entries[0].timestamp) == 0) {
            int64_t lag = (int64_t) time(NULL) - t.sec;
            s->shard_lag[i] = lag < 0 ? 0 : lag;
        }
        r = dl_shard_sync(s, i, &pages[i]);
    }
    for (int i = 0; i < n; i++) {
        if (pages)
            rgw_dl_page_finish(&pages[i]);
        if (d)
            state_dl_shard_finish(&d[i]);
    }
    free(pages);
    free(d);
    free(markers);
    free(errs);
    free(ask);
    return r;
}

int sync_pass(struct sync *s)
{
    atomic_fetch_add(&s->stats.passes, 1);
    bool full_due = false;
    int r = follow_update(s);
    if (r == 0)
        r = init_shards(s, &full_due);
    if (r == 0 && full_due)
        r = full_sync_all(s);
    if (r == 0)
        r = dl_poll(s, false);
    if (r == 0)
        r = retries_run(s, (int64_t) time(NULL));
    if (r == -EINTR)
        return 0;
    return r;
}

/* Only the shards a notify named (the rest wait for the poll). */
static int notified_pass(struct sync *s)
{
    int r = dl_poll(s, true);
    return r == -EINTR ? 0 : r;
}

void sync_notify(struct sync *s, const int *shards, size_t n)
{
    pthread_mutex_lock(&s->notify_lock);
    for (size_t i = 0; i < n; i++)
        if (shards[i] >= 0 && shards[i] < s->num_shards)
            s->notified[shards[i]] = 1;
    s->any_notified = true;
    pthread_mutex_unlock(&s->notify_lock);
    loop_wakeup(s->loop);
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* SIGHUP: a new snapshot, built beside the old; a bad one is refused and
 * the old kept. Applied between passes, when no operation is in flight, so
 * nothing holds a pointer into the old one. What a running process cannot
 * change (source, state, listener) is kept, with a warning. */
static void config_reload(struct sync *s, const char *path)
{
    struct config *ncfg = NULL;
    struct config_problems pr = {0};
    int r = config_load(&ncfg, &pr, path);
    for (size_t i = 0; i < pr.n; i++)
        log_error("msg=\"reload refused, old config kept\" problem=\"%s\"", pr.lines[i]);
    for (size_t i = 0; i < pr.nwarnings; i++)
        log_warn("%s", pr.warnings[i]);
    config_problems_finish(&pr);
    if (r < 0) {
        if (pr.n == 0)
            log_error("msg=\"reload refused, old config kept\" error=\"%s\"", strerror(-r));
        return;
    }
    const struct config *o = s->cfg;
    if (!same(o->source.endpoint, ncfg->source.endpoint) ||
        !same(o->source.zone, ncfg->source.zone) ||
        !same(o->source.zonegroup, ncfg->source.zonegroup) ||
        !same(o->source.access_key, ncfg->source.access_key) ||
        !same(o->source.secret, ncfg->source.secret) || !same(o->state.path, ncfg->state.path) ||
        o->state.backend != ncfg->state.backend || !same(o->listen, ncfg->listen))
        log_warn("msg=\"reload: source, state and listen changes need a restart; the rest is "
                 "applied\"");
    sync_wait_below(s, 1);
    for (size_t i = 0; i < s->ntargets; i++)
        s->targets[i].ops->destroy(s->targets[i].inst);
    free(s->targets);
    s->targets = NULL;
    s->ntargets = 0;
    /* keep what cannot change in a running process */
    struct config *keep = s->owned_cfg;
    s->cfg = ncfg;
    s->owned_cfg = ncfg;
    config_free(keep);
    s->concurrency = ncfg->sync.concurrency ? ncfg->sync.concurrency : 32;
    s3_rate_set(s->rate, ncfg->sync.bandwidth_limit);
    bufpool_set_max_bufs(s->pool, ncfg->sync.max_inflight_parts);
    log_info("msg=\"config reloaded\" config=%s profiles=%zu", path, ncfg->nprofiles);
}

static void period_reread(struct sync *s)
{
    struct rgw_period p = {0};
    if (rgw_period_get(s->src, s->cfg->source.zonegroup, s->cfg->source.zone, &p) < 0) {
        log_warn("msg=\"cannot re-read the period after a push\" error=\"%s\"", err_get());
        return;
    }
    if (!p.zone_id) {
        log_error("msg=\"our zone is no longer in the zonegroup; keeping the old ids\"");
        rgw_period_finish(&p);
        return;
    }
    if (s->server)
        server_set_mdlog(s->server, (uint32_t) p.realm_epoch, 0);
    rgw_period_finish(&s->period);
    s->period = p;
}

#define MAX_NOTIFIED_KEYS 4096

void sync_notify_keys(struct sync *s, const char *const *keys, size_t n)
{
    pthread_mutex_lock(&s->notify_lock);
    for (size_t i = 0; i < n && s->nnotified_keys < MAX_NOTIFIED_KEYS; i++) {
        bool dup = false;
        for (size_t k = 0; k < s->nnotified_keys && !dup; k++)
            dup = strcmp(s->notified_keys[k], keys[i]) == 0;
        if (dup)
            continue;
        char **nk = realloc(s->notified_keys, (s->nnotified_keys + 1) * sizeof(char *));
        if (!nk)
            break;
        s->notified_keys = nk;
        if ((nk[s->nnotified_keys] = strdup(keys[i])))
            s->nnotified_keys++;
    }
    s->any_notified = true;
    pthread_mutex_unlock(&s->notify_lock);
    loop_wakeup(s->loop);
}

/* The bucket shards a notify named: synced at once. A failure here loses
 * nothing (the datalog names the shard too, and its failure goes to the
 * retry list then); it is only logged. */
static void notified_keys_sync(struct sync *s)
{
    pthread_mutex_lock(&s->notify_lock);
    char **keys = s->notified_keys;
    size_t n = s->nnotified_keys;
    s->notified_keys = NULL;
    s->nnotified_keys = 0;
    pthread_mutex_unlock(&s->notify_lock);
    for (size_t i = 0; i < n; i++) {
        if (!*s->stop) {
            struct state_bs st = {0};
            /* only shards already following their log: a new bucket shard
             * is initialised by its datalog entry, in order */
            if (s->st.ops->bs_get(s->st.inst, keys[i], &st) == 0 &&
                st.phase == STATE_BS_INCREMENTAL && bucket_sync(s, keys[i]) < 0)
                log_debug("bucket_shard=%s msg=\"notified sync failed; the datalog brings it "
                          "again\" error=\"%s\"",
                          keys[i], err_get());
            state_bs_finish(&st);
        }
        free(keys[i]);
    }
    free(keys);
}

int sync_run(struct sync *s, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
             const char *config_path)
{
    (void) config_path;
    s->stop = stop;
    struct peer *peer = NULL;
    if (s->cfg->listen) {
        int r = peer_start(&peer, s);
        if (r < 0) {
            log_error("msg=\"cannot start the listener\" listen=%s error=\"%s\"", s->cfg->listen,
                      err_get());
            return r;
        }
        log_info("msg=\"listening\" listen=%s", s->cfg->listen);
    }
    log_info("msg=\"following the source\" source=%s zone=%s shards=%d sid=%s",
             s->cfg->source.endpoint, s->cfg->source.zone, s->num_shards, s->sid);
    /* A start or a reload is how a fixed config (target credentials, an
     * endpoint) takes effect: the retry list is retried at once, whatever
     * its stored backoff (RGW keeps that backoff in memory, so a restarted
     * RGW does the same). Else a restart waits up to RETRY_MAX. */
    bool retry_all = true;
    long long next_sweep = loop_now_ms() + SWEEP_FIRST_MS;
    long long next_mark = loop_now_ms();
    long long last_relist = loop_now_ms();
    while (!*stop) {
        if (reload && *reload) {
            *reload = 0;
            config_reload(s, config_path);
            retry_all = true;
        }
        if (peer_take_period_change(peer))
            period_reread(s);
        int r = sync_pass(s);
        if (r == 0 && retry_all && !*stop) {
            r = sync_retry_all(s);
            if (r == -EINTR)
                r = 0;
        }
        retry_all = false;
        peer_set_healthy(peer, r == 0);
        if (r == 0 && !*stop && loop_now_ms() >= next_sweep) {
            /* between passes no copy is in flight: every live upload has
             * its record, so what has none is an orphan */
            if (uploads_sweep(s, true, NULL) < 0)
                log_warn("msg=\"orphan sweep failed\" error=\"%s\"", err_get());
            next_sweep = loop_now_ms() + SWEEP_INTERVAL_MS;
        }
        if (r == 0 && !*stop && loop_now_ms() >= next_mark) {
            if (follow_mark_unread(s) < 0)
                log_warn("msg=\"cannot mark the datalog shards not read\" error=\"%s\"", err_get());
            next_mark = loop_now_ms() + MARK_UNREAD_MS;
        }
        uint64_t relist_s = s->cfg->sync.reconcile_interval;
        if (r == 0 && !*stop && relist_s &&
            loop_now_ms() - last_relist >= (long long) relist_s * 1000) {
            r = reconcile_all(s);
            if (r == -EINTR)
                r = 0;
            last_relist = loop_now_ms();
        }
        if (r < 0)
            log_error("msg=\"sync pass failed\" error=\"%s\"", err_get());
        long long until = loop_now_ms() + poll_ms(s);
        while (!*stop && loop_now_ms() < until) {
            (void) loop_run_once(s->loop, 1000);
            pthread_mutex_lock(&s->notify_lock);
            bool woke = s->any_notified;
            s->any_notified = false;
            pthread_mutex_unlock(&s->notify_lock);
            if (woke) {
                notified_keys_sync(s);
                if (notified_pass(s) < 0)
                    log_error("msg=\"sync of notified shards failed\" error=\"%s\"", err_get());
            }
        }
    }
    /* the batch in progress finished inside the pass: nothing in flight */
    sync_wait_below(s, 1);
    peer_stop(peer);
    log_info("msg=\"stopped\"");
    return 0;
}
