/* The status verb: what the state says, and how far behind the source we
 * are (when the source answers). Fields are documented in README.md. */
#include "sync/sync.h"

#include "config.h"
#include "err.h"
#include "http/loop.h"
#include "http/s3.h"
#include "source/rgw.h"
#include "state/state_api.h"
#include "sync/sync_int.h"
#include "timefmt.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const dl_phase_names[] = {"init", "full-sync", "incremental"};
static const char *const bs_phase_names[] = {"init", "full-sync", "incremental", "stopped"};

struct walk {
    json_t *arr;
    uint64_t counts[4];
    /* datalog shards: the set read (NULL: all), and how many are not */
    const uint8_t *follow;
    int nfollow;
    int not_read;
};

static json_t *time_or_null(int64_t t)
{
    if (t <= 0)
        return json_null();
    struct timefmt_ns ts = {t, 0};
    char buf[64];
    timefmt_iso(buf, sizeof(buf), &ts);
    return json_string(buf);
}

static int dl_visit(void *ud, const struct state_dl_shard *d)
{
    struct walk *w = ud;
    if (w->follow && d->shard < w->nfollow && !w->follow[d->shard])
        return 0; /* not read: no named bucket logs there */
    json_t *o = json_object();
    json_object_set_new(o, "shard", json_integer(d->shard));
    json_object_set_new(o, "state", json_string(dl_phase_names[d->phase]));
    json_object_set_new(o, "marker", json_string(d->marker ? d->marker : ""));
    json_object_set_new(o, "last_change", time_or_null(d->last_change));
    json_object_set_new(o, "updated", time_or_null(d->updated));
    json_array_append_new(w->arr, o); /* steals o */
    return 0;
}

static int bs_visit(void *ud, const struct state_bs *bs)
{
    struct walk *w = ud;
    if ((unsigned) bs->phase < 4)
        w->counts[bs->phase]++;
    if (bs->phase == STATE_BS_INCREMENTAL)
        return 0; /* only those not following their log are listed */
    json_t *o = json_object();
    json_object_set_new(o, "bucket_shard", json_string(bs->key));
    json_object_set_new(o, "state", json_string(bs_phase_names[bs->phase]));
    json_object_set_new(o, "marker", json_string(bs->inc_marker ? bs->inc_marker : ""));
    json_object_set_new(o, "full_sync_position", json_string(bs->full_key ? bs->full_key : ""));
    json_object_set_new(o, "full_sync_objects", json_integer((json_int_t) bs->full_count));
    json_array_append_new(w->arr, o);
    return 0;
}

static int retry_visit(void *ud, const struct state_retry *r)
{
    struct walk *w = ud;
    json_t *o = json_object();
    json_object_set_new(o, "bucket_shard", json_string(r->key));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "next_try", time_or_null(r->next_try));
    json_object_set_new(o, "error", json_string(r->last_error ? r->last_error : ""));
    json_array_append_new(w->arr, o);
    return 0;
}

static int upload_visit(void *ud, const struct state_upload *u)
{
    struct walk *w = ud;
    json_t *o = json_object();
    json_object_set_new(o, "source", json_sprintf("%s/%s", u->src_bucket, u->src_key));
    json_object_set_new(o, "target", json_sprintf("%s/%s", u->dst_bucket, u->dst_key));
    json_object_set_new(o, "upload_id", json_string(u->upload_id ? u->upload_id : ""));
    json_object_set_new(o, "size", json_integer((json_int_t) u->size));
    json_object_set_new(o, "part_size", json_integer((json_int_t) u->part_size));
    json_t *parts = u->parts_json ? json_loads(u->parts_json, 0, NULL) : NULL;
    json_object_set_new(o, "parts_done", json_integer((json_int_t) json_array_size(parts)));
    json_decref(parts);
    json_object_set_new(o, "started", time_or_null(u->started));
    json_array_append_new(w->arr, o);
    return 0;
}

/* Ask the source for each shard's end (all at once, see
 * rgw_datalog_info_many): behind and lag per shard. */
static bool add_lag(const struct config *cfg, json_t *shards, int64_t *max_lag, int *behind)
{
    struct loop *loop = NULL;
    struct rgw_source *src = NULL;
    bool ok = loop_new(&loop, NULL) == 0 &&
              rgw_source_new(&src, loop, cfg->source.endpoint, cfg->source.access_key,
                             cfg->source.secret, cfg->source.zonegroup) == 0;
    int nshards = 0;
    size_t i;
    json_t *o;
    json_array_foreach(shards, i, o) {
        int sh = (int) json_integer_value(json_object_get(o, "shard"));
        if (sh + 1 > nshards)
            nshards = sh + 1;
    }
    struct rgw_dl_info *infos = calloc((size_t) nshards + 1, sizeof(*infos));
    int *errs = calloc((size_t) nshards + 1, sizeof(int));
    ok = ok && infos && errs;
    if (ok) {
        s3_client_set_retries(rgw_source_s3(src), 0);
        rgw_datalog_info_many(src, nshards, NULL, infos, errs);
    }
    int64_t now = (int64_t) time(NULL);
    json_array_foreach(shards, i, o) {
        int shard = (int) json_integer_value(json_object_get(o, "shard"));
        if (ok && errs[shard] < 0)
            ok = false;
        if (!ok) {
            json_object_set_new(o, "source_marker", json_null());
            json_object_set_new(o, "behind", json_null());
            json_object_set_new(o, "lag_seconds", json_null());
            continue;
        }
        struct rgw_dl_info *info = &infos[shard];
        const char *ours = json_string_value(json_object_get(o, "marker"));
        const char *state = json_string_value(json_object_get(o, "state"));
        /* markers compare as byte strings, as RGW compares them */
        bool is_behind = strcmp(state, "incremental") != 0 || strcmp(ours, info->marker) < 0;
        int64_t lag = 0;
        struct timefmt_ns src_t;
        if (is_behind && info->marker[0] && timefmt_parse(&src_t, info->last_update) == 0) {
            json_t *lc = json_object_get(o, "last_change");
            struct timefmt_ns ours_t = {0, 0};
            if (json_is_string(lc))
                (void) timefmt_parse(&ours_t, json_string_value(lc));
            int64_t base = ours_t.sec ? ours_t.sec : src_t.sec;
            lag = now - base;
            if (lag < 0)
                lag = 0;
        }
        if (is_behind && info->marker[0])
            (*behind)++;
        else
            is_behind = false;
        if (lag > *max_lag)
            *max_lag = lag;
        json_object_set_new(o, "source_marker", json_string(info->marker));
        json_object_set_new(o, "behind", json_boolean(is_behind));
        json_object_set_new(o, "lag_seconds", json_integer(lag));
    }
    for (int k = 0; infos && k <= nshards; k++)
        rgw_dl_info_finish(&infos[k]);
    free(infos);
    free(errs);
    rgw_source_free(src);
    loop_free(loop);
    return ok;
}

int sync_status(const struct config *cfg, bool as_json)
{
    struct state st = {0};
    int r = state_open(&st, cfg);
    if (r < 0) {
        fprintf(stderr, "rgw2cloud: status: cannot open the state: %s\n", err_get());
        return r;
    }
    json_t *root = json_object();
    char *sid = NULL;
    json_object_set_new(root, "sid",
                        st.ops->meta_get(st.inst, "sid", &sid) == 0 ? json_string(sid) : json_null());
    free(sid);

    uint8_t *follow = NULL;
    int nfollow = 0;
    if (follow_stored(&st, &follow, &nfollow) < 0)
        follow = NULL;
    struct walk dl = {.arr = json_array(), .follow = follow, .nfollow = nfollow};
    struct walk bs = {.arr = json_array()};
    struct walk rt = {.arr = json_array()};
    struct walk up = {.arr = json_array()};
    (void) st.ops->dl_list(st.inst, dl_visit, &dl);
    (void) st.ops->bs_list(st.inst, NULL, bs_visit, &bs);
    (void) st.ops->retry_list(st.inst, -1, retry_visit, &rt);
    (void) st.ops->upload_list(st.inst, upload_visit, &up);
    state_close(&st);
    dl.not_read = 0; /* those never stored count too */
    for (int i = 0; follow && i < nfollow; i++)
        dl.not_read += !follow[i];
    free(follow);
    dl.follow = NULL;

    int64_t max_lag = 0;
    int behind = 0;
    bool reachable = cfg->source.present && add_lag(cfg, dl.arr, &max_lag, &behind);
    json_t *src = json_object();
    json_object_set_new(src, "endpoint", json_string(cfg->source.present ? cfg->source.endpoint : ""));
    json_object_set_new(src, "reachable", json_boolean(reachable));
    json_object_set_new(root, "source", src);
    json_t *sum = json_object();
    json_object_set_new(sum, "shards", json_integer((json_int_t) json_array_size(dl.arr)));
    json_object_set_new(sum, "shards_not_read", json_integer(dl.not_read));
    json_object_set_new(sum, "shards_behind", reachable ? json_integer(behind) : json_null());
    json_object_set_new(sum, "max_lag_seconds", reachable ? json_integer(max_lag) : json_null());
    json_object_set_new(sum, "bucket_shards_init", json_integer((json_int_t) bs.counts[0]));
    json_object_set_new(sum, "bucket_shards_full_sync", json_integer((json_int_t) bs.counts[1]));
    json_object_set_new(sum, "bucket_shards_incremental", json_integer((json_int_t) bs.counts[2]));
    json_object_set_new(sum, "bucket_shards_stopped", json_integer((json_int_t) bs.counts[3]));
    json_object_set_new(sum, "retries", json_integer((json_int_t) json_array_size(rt.arr)));
    json_object_set_new(sum, "uploads", json_integer((json_int_t) json_array_size(up.arr)));
    json_object_set_new(root, "summary", sum);
    json_object_set_new(root, "datalog_shards", dl.arr);
    json_object_set_new(root, "bucket_shards", bs.arr);
    json_object_set_new(root, "retries", rt.arr);
    json_object_set_new(root, "uploads", up.arr);

    if (as_json) {
        char *text = json_dumps(root, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
    } else {
        printf("source      %s (%s)\n", cfg->source.present ? cfg->source.endpoint : "-",
               reachable ? "reachable" : "unreachable: lag unknown");
        printf("sid         %s\n", json_string_value(json_object_get(root, "sid"))
                                       ? json_string_value(json_object_get(root, "sid"))
                                       : "(not started yet)");
        printf("datalog     %zu shards", json_array_size(dl.arr));
        if (dl.not_read)
            printf(" (%d more not read: no named bucket logs there)", dl.not_read);
        if (reachable)
            printf(", %d behind, max lag %llds", behind, (long long) max_lag);
        printf("\n");
        printf("buckets     %llu bucket shards incremental, %llu in full sync, %llu init, %llu "
               "stopped\n",
               (unsigned long long) bs.counts[2], (unsigned long long) bs.counts[1],
               (unsigned long long) bs.counts[0], (unsigned long long) bs.counts[3]);
        size_t i;
        json_t *o;
        json_array_foreach(dl.arr, i, o) {
            json_t *b = json_object_get(o, "behind");
            if (json_is_true(b) || strcmp(json_string_value(json_object_get(o, "state")),
                                          "incremental") != 0)
                printf("  shard %3lld  %-11s marker=%s lag=%llds\n",
                       (long long) json_integer_value(json_object_get(o, "shard")),
                       json_string_value(json_object_get(o, "state")),
                       json_string_value(json_object_get(o, "marker")),
                       (long long) json_integer_value(json_object_get(o, "lag_seconds")));
        }
        json_array_foreach(bs.arr, i, o)
            printf("  bucket shard %s  %s\n", json_string_value(json_object_get(o, "bucket_shard")),
                   json_string_value(json_object_get(o, "state")));
        printf("retries     %zu\n", json_array_size(rt.arr));
        json_array_foreach(rt.arr, i, o)
            printf("  %s  attempts=%lld  %s\n",
                   json_string_value(json_object_get(o, "bucket_shard")),
                   (long long) json_integer_value(json_object_get(o, "attempts")),
                   json_string_value(json_object_get(o, "error")));
        printf("uploads     %zu in progress\n", json_array_size(up.arr));
    }
    json_decref(root);
    return 0;
}
