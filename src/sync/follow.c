/* Which datalog shards the zone follower reads.
 *
 * RGW logs a change of index shard k of bucket NAME to datalog shard
 * (hash(NAME) + k) mod num_shards (rgw_datalog_shard_of). When the profiles
 * name every bucket they take (an excluded "*" turns the rest away), only
 * those buckets' datalog shards can hold an entry we act on; the others are
 * not read at all: not at init, not in polls, not on a notify. A fresh start
 * of a one-bucket config with 11 index shards then asks 2 x 11 shards, not
 * 2 x 128, and every poll 11.
 *
 * A bucket's shard count changes when it is resharded or made again, and the
 * changes of its new instance go to shards that may not be read yet. So each
 * pass asks for every named bucket's current instance (one call per bucket;
 * its shard count only when the instance changed). A shard that joins the
 * set starts as at a first start: its position now, then a full sync, in
 * which the new instance's shards (never seen) are listed from their start.
 * Whatever went to the shard before it was read is copied all the same.
 *
 * The set is kept in the state (meta "follow"): a shard that joins it, also
 * across a restart, starts again from init, whatever it held. A shard left
 * out is read by the daemon only now and then (follow_mark_unread), to tell
 * the source it may trim it.
 *
 * More named buckets than num_shards / FOLLOW_SHARDS_PER_NAME would cost
 * more calls per pass than they save: then every shard is read. */
#include "config.h"
#include "err.h"
#include "hex.h"
#include "log.h"
#include "sync/sync_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FOLLOW_SHARDS_PER_NAME 4

bool sync_follows(const struct sync *s, int shard)
{
    return !s->follow || s->follow[shard];
}

static void followed_free(struct follow_bucket *fb, size_t n)
{
    for (size_t i = 0; fb && i < n; i++) {
        free(fb[i].name);
        free(fb[i].bucket_id);
    }
    free(fb);
}

void follow_free(struct sync *s)
{
    followed_free(s->followed, s->nfollowed);
    s->followed = NULL;
    s->nfollowed = 0;
    free(s->follow);
    s->follow = NULL;
}

/* fb's current instance and its index shard count: a bucket that does not
 * exist (yet) counts as one shard, and is asked again next pass. */
static int bucket_shards(struct sync *s, struct follow_bucket *fb)
{
    char *id = NULL;
    int r = rgw_bucket_current(s->src, fb->name, &id);
    if (r == 0 && fb->bucket_id && strcmp(fb->bucket_id, id) == 0) {
        free(id);
        return 0;
    }
    struct rgw_bucket b = {0};
    if (r == 0) {
        char *key = NULL;
        r = asprintf(&key, "%s:%s", fb->name, id) < 0 ? -ENOMEM : 0;
        if (r == 0)
            r = rgw_bucket_instance_get(s->src, key, &b);
        free(key);
    }
    free(fb->bucket_id);
    fb->bucket_id = NULL;
    fb->num_shards = 1;
    if (r == 0) {
        fb->bucket_id = id;
        id = NULL;
        fb->num_shards = b.num_shards > 0 ? b.num_shards : 1;
    }
    free(id);
    rgw_bucket_finish(&b);
    if (r < 0 && r != -ENOENT) {
        char what[512];
        (void) snprintf(what, sizeof(what), "%s", err_get());
        err_set("bucket \"%s\": %s", fb->name, what);
    }
    return r == -ENOENT ? 0 : r;
}

/* s->followed for these names: what is known of a name stays. */
static int followed_take(struct sync *s, const char *const *names, size_t n)
{
    struct follow_bucket *fb = calloc(n ? n : 1, sizeof(*fb));
    if (!fb)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < s->nfollowed; j++)
            if (s->followed[j].name && strcmp(s->followed[j].name, names[i]) == 0) {
                fb[i] = s->followed[j];
                memset(&s->followed[j], 0, sizeof(s->followed[j]));
                break;
            }
        if (!fb[i].name && !(fb[i].name = strdup(names[i]))) {
            followed_free(fb, n);
            return -ENOMEM;
        }
        if (!fb[i].num_shards)
            fb[i].num_shards = 1;
    }
    followed_free(s->followed, s->nfollowed);
    s->followed = fb;
    s->nfollowed = n;
    return 0;
}

/* "all", or "<num_shards>:<hex of one bit per shard>" */
static char *follow_encode(const uint8_t *set, int n)
{
    if (!set)
        return strdup("all");
    size_t nb = ((size_t) n + 7) / 8;
    unsigned char *bits = calloc(nb, 1);
    char *out = malloc(nb * 2 + 16);
    if (!bits || !out) {
        free(bits);
        free(out);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (set[i])
            bits[i / 8] |= (unsigned char) (1u << (i % 8));
    int len = snprintf(out, 16, "%d:", n);
    hex_encode(out + len, bits, nb);
    free(bits);
    return out;
}

/* follow_encode's text back: a set of *n shards, malloc'd; NULL for "all"
 * or a text that is no set */
static uint8_t *follow_decode(const char *text, int *n)
{
    char *end = NULL;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || end == text || *end != ':' || v <= 0 || v > 65536)
        return NULL;
    size_t nb = ((size_t) v + 7) / 8;
    if (strlen(end + 1) != nb * 2)
        return NULL;
    unsigned char *bits = calloc(nb, 1);
    uint8_t *set = calloc((size_t) v, 1);
    bool ok = bits && set && hex_decode(bits, end + 1, nb) == 0;
    for (long i = 0; ok && i < v; i++)
        set[i] = (bits[i / 8] >> (i % 8)) & 1u;
    free(bits);
    if (!ok) {
        free(set);
        return NULL;
    }
    *n = (int) v;
    return set;
}

int follow_stored(struct state *st, uint8_t **set, int *n)
{
    char *text = NULL;
    *set = NULL;
    int r = st->ops->meta_get(st->inst, "follow", &text);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    *set = follow_decode(text, n);
    free(text);
    return *set ? 1 : 0;
}

/* A shard that was left out and joins goes back to init: its position
 * now, then a full sync. */
static int shard_reinit(struct sync *s, int shard)
{
    struct state_dl_shard d = {0};
    int r = sync_dl_load(s, shard, &d);
    if (r == 0 && d.phase != STATE_DL_INIT) {
        free(d.marker);
        free(d.full_marker);
        d.marker = strdup("");
        d.full_marker = strdup("");
        d.phase = STATE_DL_INIT;
        d.updated = (int64_t) time(NULL);
        r = d.marker && d.full_marker ? s->st.ops->dl_put(s->st.inst, &d) : -ENOMEM;
        if (r == 0)
            log_info("datalog_shard=%d msg=\"read again: from init\"", shard);
    }
    state_dl_shard_finish(&d);
    return r;
}

/* The set into the state when it changed, with the shards that join it
 * back to init; one transaction. */
static int follow_store(struct sync *s, const uint8_t *set)
{
    int n = s->num_shards;
    char *now = follow_encode(set, n);
    char *old = NULL;
    int r = now ? s->st.ops->meta_get(s->st.inst, "follow", &old) : -ENOMEM;
    if (r == -ENOENT) /* none stored: every shard was read */
        r = 0;
    if (r < 0 || (old && strcmp(old, now) == 0) || (!old && !set)) {
        free(now);
        free(old);
        return r < 0 ? r : 0;
    }
    int wn = 0;
    uint8_t *was = old ? follow_decode(old, &wn) : NULL;
    bool some = was && wn == n; /* another count: every shard was read */
    free(old);
    r = s->st.ops->txn_begin(s->st.inst);
    bool txn = r == 0;
    for (int i = 0; r == 0 && some && i < n; i++)
        if ((!set || set[i]) && !was[i])
            r = shard_reinit(s, i);
    if (r == 0)
        r = s->st.ops->meta_put(s->st.inst, "follow", now);
    r = sync_txn_end(s, txn, r);
    free(now);
    free(was);
    return r;
}

static bool same_set(const uint8_t *a, const uint8_t *b, int n)
{
    return a && b ? memcmp(a, b, (size_t) n) == 0 : !a && !b;
}

/* set (NULL: all) as the one read, and stored once per process: after that
 * the state holds what s->follow says, and an unchanged set is not written
 * or read again. */
static int follow_set(struct sync *s, uint8_t *set)
{
    int n = s->num_shards;
    bool changed = !same_set(set, s->follow, n);
    int r = changed || !s->follow_saved ? follow_store(s, set) : 0;
    if (r < 0) {
        free(set); /* the set read last stays */
        return r;
    }
    s->follow_saved = true;
    int count = 0;
    for (int i = 0; set && i < n; i++) {
        count += set[i];
        if (!set[i])
            s->shard_lag[i] = 0; /* nothing of ours can be there */
    }
    if (changed && set)
        log_info("msg=\"following the datalog shards of the named buckets\" buckets=%zu "
                 "shards=%d of=%d",
                 s->nfollowed, count, n);
    else if (changed)
        log_info("msg=\"following every datalog shard\" shards=%d", n);
    free(s->follow);
    s->follow = set;
    return 0;
}

int follow_update(struct sync *s)
{
    const char **names = NULL;
    size_t n = 0;
    int N = s->num_shards;
    if (!config_named_buckets(s->cfg, &names, &n) || n * FOLLOW_SHARDS_PER_NAME > (size_t) N) {
        free(names);
        followed_free(s->followed, s->nfollowed);
        s->followed = NULL;
        s->nfollowed = 0;
        return follow_set(s, NULL);
    }
    int r = followed_take(s, names, n);
    free(names);
    uint8_t *set = r == 0 ? calloc((size_t) N, 1) : NULL;
    if (r == 0 && !set)
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && i < s->nfollowed; i++) {
        struct follow_bucket *fb = &s->followed[i];
        if ((r = bucket_shards(s, fb)) < 0)
            break;
        const char *slash = strchr(fb->name, '/');
        const char *bare = slash ? slash + 1 : fb->name; /* the hash takes no tenant */
        for (int k = 0; k < fb->num_shards && k < N; k++)
            set[rgw_datalog_shard_of(bare, k, N)] = 1;
    }
    if (r < 0) {
        free(set);
        return r;
    }
    return follow_set(s, set);
}

int follow_mark_unread(struct sync *s)
{
    if (!s->follow)
        return 0;
    int n = s->num_shards;
    bool *ask = calloc((size_t) n, sizeof(bool));
    struct rgw_dl_info *infos = calloc((size_t) n, sizeof(*infos));
    int *errs = calloc((size_t) n, sizeof(int));
    int r = ask && infos && errs ? 0 : -ENOMEM;
    int marked = 0;
    for (int i = 0; r == 0 && i < n; i++)
        ask[i] = !s->follow[i];
    if (r == 0)
        rgw_datalog_info_many(s->src, n, ask, infos, errs);
    bool txn = r == 0 && (r = s->st.ops->txn_begin(s->st.inst)) == 0;
    for (int i = 0; r == 0 && i < n; i++) {
        if (!ask[i])
            continue;
        if ((r = errs[i]) < 0)
            break;
        struct state_dl_shard d = {0};
        r = sync_dl_load(s, i, &d);
        /* a full sync in progress ends on its own; a marker only moves on */
        bool move =
            r == 0 && d.phase != STATE_DL_FULL &&
            (d.phase == STATE_DL_INIT || strcmp(d.marker ? d.marker : "", infos[i].marker) < 0);
        if (move) {
            free(d.marker);
            d.marker = strdup(infos[i].marker);
            d.phase = STATE_DL_INCREMENTAL;
            d.updated = (int64_t) time(NULL);
            r = d.marker ? s->st.ops->dl_put(s->st.inst, &d) : -ENOMEM;
            marked++;
        }
        state_dl_shard_finish(&d);
    }
    r = sync_txn_end(s, txn, r);
    if (r == 0 && marked)
        log_debug("msg=\"datalog shards not read: marked at the source's end\" shards=%d", marked);
    for (int i = 0; infos && i < n; i++)
        rgw_dl_info_finish(&infos[i]);
    free(ask);
    free(infos);
    free(errs);
    return r;
}
