/* What the listener answers for the sync (server.h hooks): our markers in
 * RGW's shapes, so the source trims its logs only below what we exported;
 * wake-ups; metrics; health. These run on the listener's thread: they read
 * the state through their own handle and the counters through atomics. */
#include "sync/peer.h"

#include "config.h"
#include "err.h"
#include "log.h"
#include "server/server.h"
#include "sync/sync.h"
#include "sync/sync_int.h"
#include "timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct peer {
    struct sync *s;
    struct state st; /* the listener thread's own handle */
    pthread_mutex_t lock;
    _Atomic bool period_changed;
    _Atomic bool healthy;
    char *health_text;
};

static int hook_data_status(void *ud, const char *source_zone, char **json)
{
    struct peer *p = ud;
    struct sync *s = p->s;
    (void) source_zone;
    size_t n = (size_t) s->num_shards;
    struct server_dl_marker *m = calloc(n, sizeof(*m));
    struct state_dl_shard *d = calloc(n, sizeof(*d));
    int r = m && d ? 0 : -ENOMEM;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; r == 0 && i < n; i++) {
        int g = p->st.ops->dl_get(p->st.inst, (int) i, &d[i]);
        if (g == -ENOENT) {
            /* never recorded: "" lets the source trim nothing */
            m[i].full_sync = true;
            continue;
        }
        if (g < 0) {
            r = g;
            break;
        }
        /* full sync: the position recorded before listing; incremental:
         * the last entry fully handled. Both only ever move past work the
         * target confirmed. */
        m[i].full_sync = d[i].phase != STATE_DL_INCREMENTAL;
        m[i].marker = d[i].phase == STATE_DL_INCREMENTAL ? d[i].marker : "";
        m[i].next_step_marker = d[i].phase == STATE_DL_FULL ? d[i].full_marker : "";
        m[i].ts_sec = d[i].last_change;
    }
    pthread_mutex_unlock(&p->lock);
    if (r == 0)
        r = server_json_data_status(json, m, n, strtoull(s->sid, NULL, 16));
    for (size_t i = 0; d && i < n; i++)
        state_dl_shard_finish(&d[i]);
    free(d);
    free(m);
    return r;
}

static int hook_bucket_status(void *ud, const char *bucket_instance, char **json)
{
    struct peer *p = ud;
    char name[1200];
    (void) snprintf(name, sizeof(name), "shards:%s", bucket_instance);
    char *v = NULL;
    pthread_mutex_lock(&p->lock);
    int r = p->st.ops->meta_get(p->st.inst, name, &v);
    if (r < 0) {
        pthread_mutex_unlock(&p->lock);
        return r; /* never seen: 404, the source keeps that bilog */
    }
    int nshards = (int) strtol(v, NULL, 10);
    free(v);
    size_t n = nshards > 0 ? (size_t) nshards : 1;
    struct server_bs_status *out = calloc(n, sizeof(*out));
    struct state_bs *st = calloc(n, sizeof(*st));
    r = out && st ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < n; i++) {
        char key[1300];
        if (nshards > 0)
            (void) snprintf(key, sizeof(key), "%s:%zu", bucket_instance, i);
        else
            (void) snprintf(key, sizeof(key), "%s", bucket_instance);
        int g = p->st.ops->bs_get(p->st.inst, key, &st[i]);
        if (g == -ENOENT) {
            /* not started: a full sync will list it, the log is not needed */
            out[i].state = SERVER_BS_INIT;
            continue;
        }
        if (g < 0) {
            r = g;
            break;
        }
        static const enum server_bs_state map[] = {SERVER_BS_INIT, SERVER_BS_FULL_SYNC,
                                                   SERVER_BS_INCREMENTAL, SERVER_BS_STOPPED};
        out[i].state = map[st[i].phase];
        out[i].inc_position = st[i].inc_marker;
        out[i].full_name = st[i].full_key;
        out[i].full_instance = st[i].full_version;
        out[i].full_count = st[i].full_count;
        out[i].inc_ts_sec = st[i].updated;
    }
    pthread_mutex_unlock(&p->lock);
    if (r == 0)
        r = server_json_bucket_status(json, out, n);
    for (size_t i = 0; st && i < n; i++)
        state_bs_finish(&st[i]);
    free(st);
    free(out);
    return r;
}

static void hook_notify(void *ud, const int *shards, size_t n)
{
    struct peer *p = ud;
    sync_notify(p->s, shards, n);
}

static void hook_notify_keys(void *ud, const char *const *keys, size_t n)
{
    struct peer *p = ud;
    sync_notify_keys(p->s, keys, n);
}

static void hook_period(void *ud, const char *body, size_t len)
{
    struct peer *p = ud;
    (void) len;
    if (body[0] == '{') /* a period (not a metadata notify): zone ids may change */
        p->period_changed = true;
}

static int hook_metrics(void *ud, char **text)
{
    struct peer *p = ud;
    struct sync_stats *st = &p->s->stats;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
#define COUNTER(name, help, v)                                                                     \
    fprintf(f, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n",            \
            (unsigned long long) (v))
    COUNTER("rgw2cloud_objects_copied_total", "Objects written to targets.",
            atomic_load(&st->objects_copied));
    COUNTER("rgw2cloud_objects_skipped_total", "Objects the target already held.",
            atomic_load(&st->objects_skipped));
    COUNTER("rgw2cloud_objects_removed_total", "Objects removed from targets.",
            atomic_load(&st->objects_removed));
    COUNTER("rgw2cloud_bytes_sent_total", "Object bytes sent to targets.",
            atomic_load(&st->bytes_sent));
    COUNTER("rgw2cloud_sync_passes_total", "Sync passes over the datalog.",
            atomic_load(&st->passes));
    COUNTER("rgw2cloud_sends_retried_total",
            "Parts and single PUTs sent again after a retryable failure (5xx, a cut "
            "connection, a failed MD5 check).",
            atomic_load(&st->sends_retried));
    COUNTER("rgw2cloud_grants_dropped_total",
            "Source ACL grants not sent: no mapping in acls/acl_profiles.",
            atomic_load(&st->grants_dropped));
#undef COUNTER
    fprintf(f, "# HELP rgw2cloud_errors_total Failed operations by where they failed.\n"
               "# TYPE rgw2cloud_errors_total counter\n");
    fprintf(f, "rgw2cloud_errors_total{kind=\"source\"} %llu\n",
            (unsigned long long) atomic_load(&st->errors_source));
    fprintf(f, "rgw2cloud_errors_total{kind=\"target\"} %llu\n",
            (unsigned long long) atomic_load(&st->errors_target));
    fprintf(f, "rgw2cloud_errors_total{kind=\"other\"} %llu\n",
            (unsigned long long) atomic_load(&st->errors_other));
    fprintf(f, "# HELP rgw2cloud_retry_list Bucket shards waiting for a retry.\n"
               "# TYPE rgw2cloud_retry_list gauge\nrgw2cloud_retry_list %llu\n",
            (unsigned long long) atomic_load(&st->retry_list));
    fprintf(f, "# HELP rgw2cloud_datalog_shard_lag_seconds How far behind the source each "
               "datalog shard is (-1 unknown).\n"
               "# TYPE rgw2cloud_datalog_shard_lag_seconds gauge\n");
    for (int i = 0; i < p->s->num_shards; i++)
        fprintf(f, "rgw2cloud_datalog_shard_lag_seconds{shard=\"%d\"} %lld\n", i,
                (long long) p->s->shard_lag[i]);
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *text = buf;
    return 0;
}

static int hook_health(void *ud, char **text)
{
    struct peer *p = ud;
    bool ok = p->healthy;
    *text = strdup(ok ? "ok\n" : "the last sync pass failed: see the log\n");
    return ok ? 0 : -EIO;
}

int peer_start(struct peer **out, struct sync *s)
{
    const struct config *cfg = s->cfg;
    struct peer *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->s = s;
    p->healthy = true;
    (void) pthread_mutex_init(&p->lock, NULL);
    int r = state_open(&p->st, cfg);
    if (r < 0) {
        free(p);
        return r;
    }
    struct server_hooks hooks = {
        .ud = p,
        .data_status = hook_data_status,
        .bucket_status = hook_bucket_status,
        .metadata_status = NULL, /* we read no mdlog: the default lets it trim */
        .data_notify = hook_notify,
        .data_notify_keys = hook_notify_keys,
        .period_push = hook_period,
        .metrics = hook_metrics,
        .health = hook_health,
    };
    r = server_start(&s->server, cfg->listen, cfg->source.access_key, cfg->source.secret, &hooks);
    if (r < 0) {
        state_close(&p->st);
        free(p);
        return r;
    }
    server_set_mdlog(s->server, (uint32_t) s->period.realm_epoch, 0);
    *out = p;
    return 0;
}

void peer_stop(struct peer *p)
{
    if (!p)
        return;
    server_stop(p->s->server);
    p->s->server = NULL;
    state_close(&p->st);
    (void) pthread_mutex_destroy(&p->lock);
    free(p);
}

void peer_set_healthy(struct peer *p, bool healthy)
{
    if (p)
        p->healthy = healthy;
}

bool peer_take_period_change(struct peer *p)
{
    return p && atomic_exchange(&p->period_changed, false);
}
