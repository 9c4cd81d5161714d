/* Multipart uploads in progress: ours (upload records) and the target's
 * under our target paths. An upload on the target that no record owns is
 * an orphan (a crash between create and record, a record lost with its
 * state, a hand-made upload): it is billed until aborted, so the sweeper
 * aborts it. */
#include "sync/uploads.h"

#include "config.h"
#include "err.h"
#include "http/s3.h"
#include "http/xml.h"
#include "log.h"
#include "sync/mapping.h"
#include "sync/sync_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct owned {
    char **ids; /* upload ids with a record */
    size_t n, cap;
};

static int owned_visit(void *ud, const struct state_upload *u)
{
    struct owned *o = ud;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        char **ni = realloc(o->ids, cap * sizeof(char *));
        if (!ni)
            return -ENOMEM;
        o->ids = ni;
        o->cap = cap;
    }
    if (!(o->ids[o->n] = strdup(u->upload_id)))
        return -ENOMEM;
    o->n++;
    printf("record  %s/%s -> %s/%s upload=%s size=%llu\n", u->src_bucket, u->src_key,
           u->dst_bucket, u->dst_key, u->upload_id, (unsigned long long) u->size);
    return 0;
}

static bool is_owned(const struct owned *o, const char *id)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->ids[i], id) == 0)
            return true;
    return false;
}

/* One target place (connection, bucket, key prefix), visited once. */
struct place {
    const struct cfg_connection *conn;
    char *bucket;
    char *prefix;
};

struct sweep {
    struct sync *s;
    struct owned owned;
    struct place *places;
    size_t nplaces;
    bool abort_orphans;
    size_t orphans, aborted;
    int err;
};

static int place_add(struct sweep *w, const struct cfg_connection *conn, const char *bucket,
                     const char *prefix)
{
    for (size_t i = 0; i < w->nplaces; i++)
        if (w->places[i].conn == conn && strcmp(w->places[i].bucket, bucket) == 0 &&
            strcmp(w->places[i].prefix, prefix) == 0)
            return 0;
    struct place *np = realloc(w->places, (w->nplaces + 1) * sizeof(*np));
    if (!np)
        return -ENOMEM;
    w->places = np;
    np[w->nplaces].conn = conn;
    np[w->nplaces].bucket = strdup(bucket);
    np[w->nplaces].prefix = strdup(prefix);
    if (!np[w->nplaces].bucket || !np[w->nplaces].prefix) {
        free(np[w->nplaces].bucket);
        free(np[w->nplaces].prefix);
        return -ENOMEM;
    }
    w->nplaces++;
    return 0;
}

/* Every place our target paths name, from the source's buckets. */
static int places_collect(struct sweep *w)
{
    struct sync *s = w->s;
    char *marker = NULL;
    int r = 0;
    for (;;) {
        struct rgw_keys keys = {0};
        r = rgw_bucket_instances(s->src, marker, &keys);
        free(marker);
        marker = NULL;
        if (r < 0)
            return r;
        for (size_t i = 0; i < keys.n && r == 0; i++) {
            struct rgw_bucket b = {0};
            if (rgw_bucket_instance_get(s->src, keys.keys[i], &b) < 0)
                continue;
            char q[512];
            rgw_bucket_qualified(q, sizeof(q), &b);
            const struct cfg_profile *p = config_find_profile(s->cfg, q);
            if (!p->exclude) {
                struct mapping_vars v;
                sync_mapping_vars(s, &b, &v);
                char *bucket = NULL, *prefix = NULL;
                if (mapping_target(&bucket, &prefix, p->target_path, &v) == 0) {
                    /* "prefix/" so that bucket "a" never claims "ab/..." */
                    char *slash = prefix[0] ? mapping_key(prefix, "") : strdup("");
                    if (slash)
                        r = place_add(w, p->conn, bucket, slash);
                    free(slash);
                    free(bucket);
                    free(prefix);
                }
            }
            rgw_bucket_finish(&b);
        }
        if (r == 0 && keys.truncated && keys.marker)
            marker = strdup(keys.marker);
        rgw_keys_finish(&keys);
        if (r < 0 || !marker)
            break;
    }
    return r;
}

static int place_sweep(struct sweep *w, const struct place *pl)
{
    struct s3_endpoint ep = {
        .url = pl->conn->endpoint,
        .access_key = pl->conn->access_key,
        .secret = pl->conn->secret,
        .region = pl->conn->region,
        .virtual_host = pl->conn->virtual_host,
    };
    struct s3_client *c = NULL;
    int r = s3_client_new(&c, w->s->loop, &ep);
    if (r < 0)
        return r;
    char *km = NULL, *um = NULL;
    for (;;) {
        struct xml_list_uploads l = {0};
        r = s3_list_uploads(c, pl->bucket, pl->prefix[0] ? pl->prefix : NULL, km, um, &l);
        free(km);
        free(um);
        km = um = NULL;
        if (r == -ENOENT) { /* no such bucket yet: nothing there */
            r = 0;
            break;
        }
        if (r < 0)
            break;
        for (size_t i = 0; i < l.nuploads; i++) {
            const struct xml_upload *u = &l.uploads[i];
            bool mine = is_owned(&w->owned, u->upload_id);
            printf("target  %s/%s upload=%s initiated=%s %s\n", pl->bucket, u->key, u->upload_id,
                   u->initiated ? u->initiated : "-", mine ? "owned" : "orphan");
            if (mine)
                continue;
            w->orphans++;
            if (!w->abort_orphans)
                continue;
            if (s3_abort_multipart(c, pl->bucket, u->key, u->upload_id) == 0) {
                w->aborted++;
                log_info("msg=\"aborted an orphaned upload\" bucket=%s key=\"%s\" upload=%s",
                         pl->bucket, u->key, u->upload_id);
            } else {
                log_warn("msg=\"cannot abort an orphaned upload\" bucket=%s key=\"%s\" error=\"%s\"",
                         pl->bucket, u->key, err_get());
            }
        }
        if (l.truncated && l.next_key_marker) {
            km = strdup(l.next_key_marker);
            um = l.next_upload_id_marker ? strdup(l.next_upload_id_marker) : NULL;
        }
        xml_list_uploads_finish(&l);
        if (!km)
            break;
    }
    free(km);
    free(um);
    s3_client_free(c);
    return r;
}

int uploads_sweep(struct sync *s, bool abort_orphans, size_t *orphans_left)
{
    struct sweep w = {.s = s, .abort_orphans = abort_orphans};
    int r = s->st.ops->upload_list(s->st.inst, owned_visit, &w.owned);
    if (r == 0)
        r = places_collect(&w);
    for (size_t i = 0; r == 0 && i < w.nplaces; i++) {
        int pr = place_sweep(&w, &w.places[i]);
        if (pr < 0) {
            log_warn("msg=\"cannot list uploads\" bucket=%s error=\"%s\"", w.places[i].bucket,
                     err_get());
            r = pr;
        }
    }
    if (orphans_left)
        *orphans_left = w.orphans - w.aborted;
    printf("uploads: %zu with a record, %zu orphaned on the target, %zu aborted\n", w.owned.n,
           w.orphans, w.aborted);
    for (size_t i = 0; i < w.owned.n; i++)
        free(w.owned.ids[i]);
    free(w.owned.ids);
    for (size_t i = 0; i < w.nplaces; i++) {
        free(w.places[i].bucket);
        free(w.places[i].prefix);
    }
    free(w.places);
    return r;
}
