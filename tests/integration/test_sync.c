/* The zone follower end to end: the rgw2cloud binary (sync --once, run,
 * status) against the lab's source zone and target.
 *
 * Every scenario writes its own config (chmod 600) and state db under one
 * mkdtemp directory, exports only the source buckets of its own prefix
 * (every other bucket of the lab is excluded by a "*" profile) into its own
 * target bucket ("<target bucket>/<source bucket>/<key>"), and names its
 * buckets after this run, so scenarios are independent and re-runs against
 * the same lab do not collide. The data is written by alice, concurrently
 * through the async S3 API; what the target must hold is tracked here and
 * compared with full listings (every page), downloads and HEADs.
 * A daemon's log is printed as TAP comments when a check about it fails. */
#include "harness.h"
#include "labenv.h"
#include "labrados.h"
#include "testlib.h"

#include "err.h"
#include "http/loop.h"
#include "http/s3.h"
#include "http/xml.h"
#include "source/rgw.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static struct labenv senv, tenv;
static struct loop *loop;
static struct s3_client *src; /* alice on the source: writes the data */
static struct s3_client *tgt; /* the target */
static const char *bin;
static char workdir[256];
static char run_id[32];
static int exporter_port;
static struct harness ctx; /* bin and workdir, for the shared helpers */

/* How long `sync --once` may take, and `run` to stop after SIGTERM. */
enum { ONCE_MS = 180000, STOP_MS = 30000 };

/* ---------------------------------------------------------------- configs */

struct cfgopt {
    const char *name;          /* scenario tag: file names, bucket prefix */
    const char *state;         /* state db file name under workdir */
    unsigned poll;             /* sync.poll_interval, 0 = default */
    const char *source_secret; /* NULL = the lab's */
    const char *target_secret; /* NULL = the lab's */
    const char *file;          /* config file name; NULL = "<name>.json" */
    unsigned relist;           /* sync.reconcile_interval, 0 = never */
    const char *state_json;    /* the "state" object instead of sqlite's */
    const char *bw;            /* sync.bandwidth_limit; NULL = none */
    const char *const *names;  /* NULL-terminated bucket names: a profile each, no prefix */
};

/* The source buckets of a scenario start with "<run>-<name>-", and go to
 * target bucket "<run>-<name>-t" (which matches no source prefix). */
static void src_bucket(char *out, size_t n, const char *scen, const char *suffix)
{
    snprintf(out, n, "%s-%s-%s", run_id, scen, suffix);
}

static void tgt_bucket(char *out, size_t n, const char *scen)
{
    snprintf(out, n, "%s-%s-tgt", run_id, scen);
}

static int cfg_write(char *path, size_t n, const struct cfgopt *o)
{
    char file[128], state[512], tb[64], prefix[80], sync[160];
    snprintf(file, sizeof(file), "%s", o->file ? o->file : "");
    if (!o->file)
        snprintf(file, sizeof(file), "%s.json", o->name);
    path_in(path, n, &ctx, file);
    path_in(state, sizeof(state), &ctx, o->state);
    tgt_bucket(tb, sizeof(tb), o->name);
    snprintf(prefix, sizeof(prefix), "%s-%s-", run_id, o->name);
    snprintf(sync, sizeof(sync),
             "\"poll_interval\": %u, \"reconcile_interval\": %u, \"bandwidth_limit\": \"%s\"",
             o->poll ? o->poll : 5, o->relist, o->bw ? o->bw : "0");
    struct scen_cfg c = {
        .senv = &senv,
        .tenv = &tenv,
        .listen_port = exporter_port,
        .state = state,
        .state_json = o->state_json,
        .source_secret = o->source_secret,
        .target_secret = o->target_secret,
        .sync = sync,
        .prefix = prefix,
        .names = o->names,
        .target_bucket = tb,
    };
    return scen_cfg_write(path, &c);
}

/* Write the scenario's config into cfg and start `run` on it (log <tag>.log):
 * whether the daemon runs. */
static bool run_start(struct daemon *d, char *cfg, size_t n, const struct cfgopt *o,
                      const char *tag)
{
    CHECK_INT(cfg_write(cfg, n, o), 0);
    CHECK_INT(daemon_start(d, &ctx, cfg, tag), 0);
    return d->pid > 0;
}

/* ------------------------------------------------- what the target must hold */

struct exp_obj {
    char *key;
    char md5[33];
};

struct expect {
    struct exp_obj *v;
    size_t n, cap;
};

static struct exp_obj *exp_find(struct expect *e, const char *key)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->v[i].key, key) == 0)
            return &e->v[i];
    return NULL;
}

static void exp_set(struct expect *e, const char *key, const char *md5)
{
    struct exp_obj *o = exp_find(e, key);
    if (!o) {
        if (e->n == e->cap) {
            e->cap = e->cap ? e->cap * 2 : 64;
            e->v = realloc(e->v, e->cap * sizeof(*e->v));
        }
        o = &e->v[e->n++];
        o->key = strdup(key);
    }
    snprintf(o->md5, sizeof(o->md5), "%s", md5);
}

static void exp_del(struct expect *e, const char *key)
{
    struct exp_obj *o = exp_find(e, key);
    if (!o)
        return;
    free(o->key);
    *o = e->v[--e->n];
}

static void exp_free(struct expect *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].key);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

struct listing {
    char **keys;
    char **etags;
    size_t n, cap;
};

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->keys[i]);
        free(l->etags[i]);
    }
    free(l->keys);
    free(l->etags);
    memset(l, 0, sizeof(*l));
}

/* Every page of ListObjectsV2 under prefix; keys without the prefix. */
static int list_all(struct s3_client *c, const char *bucket, const char *prefix,
                    struct listing *out)
{
    memset(out, 0, sizeof(*out));
    size_t plen = prefix ? strlen(prefix) : 0;
    char *token = NULL;
    for (;;) {
        struct xml_list_objects l = {0};
        int r = s3_list_objects(c, bucket, prefix, token, 1000, &l);
        free(token);
        token = NULL;
        if (r < 0)
            return r;
        for (size_t i = 0; i < l.nobjects; i++) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 256;
                out->keys = realloc(out->keys, out->cap * sizeof(char *));
                out->etags = realloc(out->etags, out->cap * sizeof(char *));
            }
            out->keys[out->n] = strdup(l.objects[i].key + plen);
            out->etags[out->n] = strdup(l.objects[i].etag ? l.objects[i].etag : "");
            out->n++;
        }
        if (l.truncated && l.next_token)
            token = strdup(l.next_token);
        xml_list_objects_finish(&l);
        if (!token)
            return 0;
    }
}

/* Mismatches between a listing and what is expected (missing, extra,
 * other etag); the first few are printed when verbose. -1: cannot list. */
static int compare(struct s3_client *c, const char *bucket, const char *prefix, struct expect *e,
                   bool verbose)
{
    struct listing l;
    int r = list_all(c, bucket, prefix, &l);
    if (r < 0) {
        if (verbose)
            printf("# list %s/%s: %s\n", bucket, prefix ? prefix : "", err_get());
        return -1;
    }
    int bad = 0;
    bool *seen = calloc(e->n + 1, sizeof(bool));
    for (size_t i = 0; i < l.n; i++) {
        struct exp_obj *o = exp_find(e, l.keys[i]);
        if (!o) {
            if (verbose && bad < 8)
                printf("# %s/%s: extra key \"%s\"\n", bucket, prefix ? prefix : "", l.keys[i]);
            bad++;
            continue;
        }
        seen[o - e->v] = true;
        if (strcmp(o->md5, l.etags[i]) != 0) {
            if (verbose && bad < 8)
                printf("# %s/%s: key \"%s\" has etag %s, want %s\n", bucket, prefix ? prefix : "",
                       l.keys[i], l.etags[i], o->md5);
            bad++;
        }
    }
    for (size_t i = 0; i < e->n; i++) {
        if (!seen[i]) {
            if (verbose && bad < 8)
                printf("# %s/%s: missing key \"%s\"\n", bucket, prefix ? prefix : "", e->v[i].key);
            bad++;
        }
    }
    if (verbose && bad)
        printf("# %s/%s: %d mismatches (%zu listed, %zu expected)\n", bucket, prefix ? prefix : "",
               bad, l.n, e->n);
    free(seen);
    listing_free(&l);
    return bad;
}

/* The target copy of source bucket sb for scenario scen. */
static int compare_target(const char *scen, const char *sb, struct expect *e, bool verbose)
{
    char tb[64], prefix[128];
    tgt_bucket(tb, sizeof(tb), scen);
    snprintf(prefix, sizeof(prefix), "%s/", sb);
    return compare(tgt, tb, prefix, e, verbose);
}

/* Poll until every bucket's target copy matches (or the deadline): true
 * when converged; *took = seconds it took. Mismatches printed on failure. */
static bool wait_converged(const char *scen, const char *const *buckets, struct expect *const *e,
                           size_t nb, double deadline_s, double *took)
{
    double t0 = now_s();
    for (;;) {
        bool all = true;
        for (size_t i = 0; all && i < nb; i++)
            all = compare_target(scen, buckets[i], e[i], false) == 0;
        if (all) {
            if (took)
                *took = now_s() - t0;
            return true;
        }
        if (now_s() - t0 > deadline_s)
            break;
        sleep_ms(500);
    }
    printf("# %s: the target did not converge within %.0f s\n", scen, deadline_s);
    for (size_t i = 0; i < nb; i++)
        (void) compare_target(scen, buckets[i], e[i], true);
    return false;
}

/* HEAD on the target every 20 ms until the copy of source object sb/key is
 * there, for up to secs: whether it arrived. */
static bool arrives_on_target(const char *scen, const char *sb, const char *key, double secs)
{
    double t0 = now_s();
    char tb[64], tkey[128];
    tgt_bucket(tb, sizeof(tb), scen);
    snprintf(tkey, sizeof(tkey), "%s/%s", sb, key);
    bool arrived = false;
    while (!arrived && now_s() - t0 < secs) {
        struct s3_call h;
        s3_call_init(&h);
        arrived = s3_head_object(tgt, &h, tb, tkey) == 0;
        s3_call_finish(&h);
        if (!arrived)
            sleep_ms(20);
    }
    return arrived;
}

/* ------------------------------------------------ concurrent source writes */

struct wop {
    char bucket[64];
    char *key;
    char *data; /* owned */
    size_t len;
    const char *const *hdrs; /* name, value, ..., NULL */
    bool del;
    struct s3_call call;
    bool running, done;
};

struct wops {
    struct wop *v;
    size_t n, cap;
};

static struct wop *wops_add(struct wops *w, const char *bucket, const char *key)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 256;
        w->v = realloc(w->v, w->cap * sizeof(*w->v));
    }
    struct wop *o = &w->v[w->n++];
    memset(o, 0, sizeof(*o));
    snprintf(o->bucket, sizeof(o->bucket), "%s", bucket);
    o->key = strdup(key);
    return o;
}

/* A PUT of gen_body(key, version, len); records it in e. */
static struct wop *wops_put(struct wops *w, struct expect *e, const char *bucket, const char *key,
                            int version, size_t len, const char *const *hdrs)
{
    struct wop *o = wops_add(w, bucket, key);
    o->data = gen_body(key, version, len);
    o->len = len;
    o->hdrs = hdrs;
    char md5[33];
    md5_hex(md5, o->data, len);
    if (e)
        exp_set(e, key, md5);
    return o;
}

/* n PUTs of keys "<prefix>00".."<prefix>NN" (version, len0 + i bytes). */
static void wops_put_n(struct wops *w, struct expect *e, const char *bucket, const char *prefix,
                       int n, int version, size_t len0)
{
    char key[64];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s%02d", prefix, i);
        wops_put(w, e, bucket, key, version, len0 + (size_t) i, NULL);
    }
}

static void wops_del(struct wops *w, struct expect *e, const char *bucket, const char *key)
{
    struct wop *o = wops_add(w, bucket, key);
    o->del = true;
    if (e)
        exp_del(e, key);
}

static void wops_free(struct wops *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->v[i].key);
        free(w->v[i].data);
    }
    free(w->v);
    memset(w, 0, sizeof(*w));
}

static int wop_prepare(struct wop *o)
{
    s3_call_init(&o->call);
    int r;
    if (o->del) {
        r = s3_delete_object_prepare(&o->call, o->bucket, o->key);
    } else {
        r = s3_call_set(&o->call, "PUT", o->bucket, o->key);
        if (r == 0)
            s3_call_body_ref(&o->call, o->data, o->len);
        for (size_t i = 0; r == 0 && o->hdrs && o->hdrs[i]; i += 2)
            r = s3_call_header(&o->call, o->hdrs[i], o->hdrs[i + 1]);
    }
    return r;
}

static void wop_done(struct s3_call *call, void *ud)
{
    (void) call;
    ((struct wop *) ud)->done = true;
}

/* Run every op, up to conc at once, in order of start. progress(ndone)
 * is called after each op ends. A failed op is sent again synchronously
 * (with the client's retries). Returns the number of ops that failed. */
static int wops_run(struct wops *w, int conc, void (*progress)(size_t ndone, void *ud), void *ud)
{
    size_t next = 0, ndone = 0;
    int running = 0, failed = 0;
    while (ndone < w->n) {
        while (running < conc && next < w->n) {
            struct wop *o = &w->v[next++];
            int r = wop_prepare(o);
            if (r == 0)
                r = s3_call_start(src, &o->call, wop_done, o);
            if (r < 0) {
                printf("# write %s/%s: cannot start: %s\n", o->bucket, o->key, strerror(-r));
                s3_call_finish(&o->call);
                failed++;
                ndone++;
                continue;
            }
            o->running = true;
            running++;
        }
        (void) loop_run_once(loop, 200);
        for (size_t i = 0; i < next; i++) {
            struct wop *o = &w->v[i];
            if (!o->running || !o->done)
                continue;
            o->running = false;
            running--;
            int err = o->call.err;
            if (err == -ENOENT && o->del)
                err = 0;
            s3_call_finish(&o->call);
            if (err < 0) { /* once more, synchronously, with retries */
                int r = wop_prepare(o);
                if (r == 0)
                    r = s3_call_run(src, &o->call);
                if (r < 0 && !(r == -ENOENT && o->del)) {
                    printf("# write %s/%s: %s\n", o->bucket, o->key, err_get());
                    failed++;
                }
                s3_call_finish(&o->call);
            }
            ndone++;
            if (progress)
                progress(ndone, ud);
        }
    }
    return failed;
}

/* wops_run() without progress, then the ops are forgotten (w is empty and
 * takes the next ones): the number that failed. */
static int wops_flush(struct wops *w, int conc)
{
    int failed = wops_run(w, conc, NULL, NULL);
    wops_free(w);
    return failed;
}

static int make_bucket(const char *b)
{
    int r = s3_create_bucket(src, b, NULL);
    if (r < 0)
        printf("# create bucket %s: %s\n", b, err_get());
    return r;
}

/* ================================================================ tests */

/* 1. Full sync: 3 buckets (11 index shards each), ~1,000 objects, weird keys,
 * 0 bytes and 4 MiB +-1, metadata -> sync --once -> the target is identical. */

static const char *const meta_hdrs[][12] = {
    {"Content-Type", "text/x-rgw2cloud", "Cache-Control", "max-age=60", "x-amz-meta-color", "blue",
     "x-amz-meta-a-b", "two words", NULL},
    {"Content-Type", "application/json", "Content-Disposition", "attachment; filename=\"a b.txt\"",
     "Content-Language", "de-CH", "x-amz-meta-n", "1", NULL},
    {"Content-Type", "image/png", "Cache-Control", "no-cache, no-store", "Content-Encoding",
     "identity", "x-amz-meta-utf8", "plain-ascii", NULL},
};

static const char *const compared_headers[] = {
    "content-type",
    "cache-control",
    "content-disposition",
    "content-language",
    "content-encoding",
    "content-length",
    NULL,
};

/* HEAD both sides: the kept headers and every user metadata equal, and
 * the source etag recorded on the target. Returns the number of problems. */
static int compare_heads(const char *sb, const char *key, const char *tb, const char *tkey)
{
    struct s3_call hs, ht;
    s3_call_init(&hs);
    s3_call_init(&ht);
    int bad = 0;
    int rs = s3_head_object(src, &hs, sb, key);
    int rt = s3_head_object(tgt, &ht, tb, tkey);
    if (rs < 0 || rt < 0) {
        printf("# HEAD %s: source %d, target %d\n", key, rs, rt);
        bad++;
        goto out;
    }
    for (size_t i = 0; compared_headers[i]; i++) {
        const char *a = s3_call_resp_header(&hs, compared_headers[i]);
        const char *b = s3_call_resp_header(&ht, compared_headers[i]);
        if ((a || b) && !(a && b && strcmp(a, b) == 0)) {
            printf("# %s: %s: source \"%s\", target \"%s\"\n", key, compared_headers[i],
                   a ? a : "(none)", b ? b : "(none)");
            bad++;
        }
    }
    for (size_t i = 0; i < hs.nresp_headers; i++) {
        const char *n = hs.resp_headers[i].name;
        if (strncmp(n, "x-amz-meta-", 11) != 0)
            continue;
        const char *b = s3_call_resp_header(&ht, n);
        if (!b || strcmp(b, hs.resp_headers[i].value) != 0) {
            printf("# %s: %s: source \"%s\", target \"%s\"\n", key, n, hs.resp_headers[i].value,
                   b ? b : "(none)");
            bad++;
        }
    }
    char *setag = NULL;
    (void) s3_call_etag(&hs, &setag);
    const char *recorded = s3_call_resp_header(&ht, "x-amz-meta-rgwx-source-etag");
    if (!recorded || !setag || strcmp(recorded, setag) != 0) {
        printf("# %s: x-amz-meta-rgwx-source-etag \"%s\", source etag \"%s\"\n", key,
               recorded ? recorded : "(none)", setag ? setag : "(none)");
        bad++;
    }
    if (!s3_call_resp_header(&ht, "x-amz-meta-rgwx-source-mtime")) {
        printf("# %s: no x-amz-meta-rgwx-source-mtime on the target\n", key);
        bad++;
    }
    free(setag);
out:
    s3_call_finish(&hs);
    s3_call_finish(&ht);
    return bad;
}

static void test_sync__full_sync_copies_everything(void)
{
    const char *scen = "full";
    char b[3][64];
    const char *bs[3];
    struct expect e[3];
    struct expect *ep[3];
    memset(e, 0, sizeof(e));
    for (int i = 0; i < 3; i++) {
        src_bucket(b[i], sizeof(b[i]), scen, (const char *[]){"a", "b", "c"}[i]);
        bs[i] = b[i];
        ep[i] = &e[i];
        CHECK_INT(make_bucket(b[i]), 0);
    }

    /* the weird keys of the foundation issue; the long one is 1000 bytes,
     * so that "<source bucket>/<key>" on the target stays within S3's 1024 */
    static char long_key[1001];
    memset(long_key, 'k', 1000);
    memcpy(long_key, "long/", 5);
    const char *weird[] = {
        "plain.txt",           "with space/and more spaces",
        "utf8/ключ-日本語-é",  "chars+%~#?&=",
        "_leading-underscore", "__double",
        "dir//double/slash",   "tilde~and!bang*(x)'",
        "a+b=c&d?e#f%20g",     " leading space",
        "trailing space ",     long_key,
    };
    const size_t nweird = sizeof(weird) / sizeof(weird[0]);
    struct {
        const char *key;
        size_t len;
    } sized[] = {
        {"size/0-bytes", 0},
        {"size/4MiB-1", (4u << 20) - 1},
        {"size/4MiB", 4u << 20},
        {"size/4MiB+1", (4u << 20) + 1},
    };
    struct wops w = {0};
    char key[128];
    for (int i = 0; i < 400; i++) {
        snprintf(key, sizeof(key), "small/%04d", i);
        wops_put(&w, &e[0], b[0], key, 1, (size_t) (i * 37) % 3000, NULL);
        snprintf(key, sizeof(key), "dir%d/obj-%04d.bin", i % 7, i);
        wops_put(&w, &e[1], b[1], key, 1, (size_t) (i * 53) % 2000 + 1, NULL);
    }
    for (int i = 0; i < 180; i++) {
        snprintf(key, sizeof(key), "c/%03d", i);
        wops_put(&w, &e[2], b[2], key, 1, (size_t) i * 11, NULL);
    }
    for (size_t i = 0; i < nweird; i++)
        wops_put(&w, &e[2], b[2], weird[i], 1, 100 + i, NULL);
    for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++)
        wops_put(&w, &e[2], b[2], sized[i].key, 1, sized[i].len, NULL);
    for (size_t i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "meta/object-%zu", i);
        wops_put(&w, &e[2], b[2], key, 1, 64 + i, meta_hdrs[i]);
    }
    double t0 = now_s();
    CHECK_INT(wops_run(&w, 32, NULL, NULL), 0);
    printf("# wrote %zu objects in %.1f s\n", w.n, now_s() - t0);
    wops_free(&w);

    /* the source holds exactly what we wrote (else the rest means nothing) */
    for (int i = 0; i < 3; i++)
        CHECK_INT(compare(src, b[i], NULL, &e[i], true), 0);

    char cfg[512], log[512];
    struct cfgopt o = {.name = scen, .state = "full.db"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    path_in(log, sizeof(log), &ctx, "full-sync.log");
    t0 = now_s();
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    printf("# sync --once: %zu objects in %.1f s\n", e[0].n + e[1].n + e[2].n, now_s() - t0);

    /* exact key set and etags (= MD5 of single-PUT bytes), every page */
    for (int i = 0; i < 3; i++)
        CHECK_INT(compare_target(scen, bs[i], &e[i], true), 0);

    /* bytes by download for the weird keys and the sized ones */
    char tb[64], tkey[1200], md5[33];
    tgt_bucket(tb, sizeof(tb), scen);
    int bad_bytes = 0;
    for (size_t i = 0; i < nweird + sizeof(sized) / sizeof(sized[0]); i++) {
        const char *k = i < nweird ? weird[i] : sized[i - nweird].key;
        snprintf(tkey, sizeof(tkey), "%s/%s", b[2], k);
        struct exp_obj *x = exp_find(&e[2], k);
        int r = download_md5(md5, NULL, tgt, tb, tkey);
        if (r < 0 || !x || strcmp(md5, x->md5) != 0) {
            printf("# download %s: r=%d md5 %s want %s\n", k, r, md5, x ? x->md5 : "?");
            bad_bytes++;
        }
    }
    CHECK_INT(bad_bytes, 0);

    /* metadata by HEAD on both sides */
    int bad_meta = 0;
    for (size_t i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "meta/object-%zu", i);
        snprintf(tkey, sizeof(tkey), "%s/%s", b[2], key);
        bad_meta += compare_heads(b[2], key, tb, tkey);
    }
    for (size_t i = 0; i < nweird; i++) {
        snprintf(tkey, sizeof(tkey), "%s/%s", b[2], weird[i]);
        bad_meta += compare_heads(b[2], weird[i], tb, tkey);
    }
    snprintf(tkey, sizeof(tkey), "%s/%s", b[0], "small/0000"); /* 0 bytes too */
    bad_meta += compare_heads(b[0], "small/0000", tb, tkey);
    CHECK_INT(bad_meta, 0);
    /* what was checked by HEAD is what was written */
    struct s3_call h;
    s3_call_init(&h);
    snprintf(tkey, sizeof(tkey), "%s/meta/object-0", b[2]);
    CHECK_INT(s3_head_object(tgt, &h, tb, tkey), 0);
    CHECK_STR(s3_call_resp_header(&h, "content-type"), "text/x-rgw2cloud");
    CHECK_STR(s3_call_resp_header(&h, "x-amz-meta-a-b"), "two words");
    s3_call_finish(&h);

    /* a second pass finds nothing to do and changes nothing */
    path_in(log, sizeof(log), &ctx, "full-sync-2.log");
    t0 = now_s();
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    printf("# second sync --once: %.1f s\n", now_s() - t0);
    CHECK(wait_converged(scen, bs, ep, 3, 0, NULL));
    for (int i = 0; i < 3; i++)
        exp_free(&e[i]);
}

/* 2. Incremental while `run` is up: puts, overwrites, deletes, a new
 * bucket -> converges; one PUT's replication lag printed; SIGTERM -> 0. */
static void test_sync__incremental_while_running_converges(void)
{
    const char *scen = "inc";
    char b1[64], b2[64];
    src_bucket(b1, sizeof(b1), scen, "a");
    src_bucket(b2, sizeof(b2), scen, "b");
    struct expect e1 = {0}, e2 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    char key[64];
    wops_put_n(&w, &e1, b1, "base/", 40, 1, 500);
    CHECK_INT(wops_flush(&w, 16), 0);

    char cfg[512];
    struct cfgopt o = {.name = scen, .state = "inc.db", .poll = 1};
    struct daemon d;
    if (!run_start(&d, cfg, sizeof(cfg), &o, "inc-run"))
        goto out;
    const char *bs1[] = {b1};
    struct expect *ep1[] = {&e1};
    double took = 0;
    bool ok = wait_converged(scen, bs1, ep1, 1, 60, &took);
    CHECK(ok && "initial full sync by run");
    printf("# initial full sync by run: %.1f s\n", took);

    /* the changes: new keys, overwrites with new bytes, deletes, a new bucket */
    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof(key), "new/%02d", i);
        wops_put(&w, &e1, b1, key, 1, 100 + (size_t) i * 7, NULL);
    }
    wops_put_n(&w, &e1, b1, "base/", 10, 2, 700);
    for (int i = 10; i < 20; i++) {
        snprintf(key, sizeof(key), "base/%02d", i);
        wops_del(&w, &e1, b1, key);
    }
    CHECK_INT(wops_flush(&w, 16), 0);
    CHECK_INT(make_bucket(b2), 0);
    for (int i = 0; i < 25; i++) {
        snprintf(key, sizeof(key), "fresh/%02d", i);
        wops_put(&w, &e2, b2, key, 1, 300 + (size_t) i, NULL);
    }
    /* and a key deleted right after its creation: nothing must be left */
    wops_put(&w, NULL, b2, "short-lived", 1, 10, NULL);
    CHECK_INT(wops_flush(&w, 16), 0);
    wops_del(&w, &e2, b2, "short-lived");
    CHECK_INT(wops_flush(&w, 1), 0);

    const char *bs[] = {b1, b2};
    struct expect *ep[] = {&e1, &e2};
    ok = wait_converged(scen, bs, ep, 2, 60, &took);
    CHECK(ok && "incremental changes converged");
    printf("# incremental changes converged in %.1f s\n", took);
    if (!ok)
        print_tail(d.log, 30);

    /* the lag of one PUT: from the PUT returning to a HEAD on the target */
    wops_put(&w, &e1, b1, "lag-probe", 1, 1000, NULL);
    CHECK_INT(wops_flush(&w, 1), 0);
    double t0 = now_s();
    bool arrived = arrives_on_target(scen, b1, "lag-probe", 30);
    CHECK(arrived);
    printf("# replication lag of one PUT (poll_interval 1, notify on): %.0f ms\n",
           (now_s() - t0) * 1000);

    int rc = daemon_stop(&d, STOP_MS);
    CHECK_INT(rc, 0);
    if (rc != 0)
        print_tail(d.log, 30);
    /* a clean stop leaves nothing behind: the target still matches */
    CHECK(wait_converged(scen, bs, ep, 2, 0, NULL));
out:
    exp_free(&e1);
    exp_free(&e2);
}

/* sync.reconcile_interval: objects the target lost, or that someone changed
 * there, come back from a re-listing while nothing changes at the source
 * (so the logs have nothing to say about them). */
static void test_sync__relisting_restores_what_the_target_lost(void)
{
    const char *scen = "relist";
    char b1[64], tb[64], tkey[128];
    src_bucket(b1, sizeof(b1), scen, "a");
    tgt_bucket(tb, sizeof(tb), scen);
    struct expect e1 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    wops_put_n(&w, &e1, b1, "k", 8, 1, 1000);
    CHECK_INT(wops_flush(&w, 8), 0);

    char cfg[512];
    struct cfgopt o = {.name = scen, .state = "relist.db", .poll = 1, .relist = 2};
    struct daemon d;
    if (!run_start(&d, cfg, sizeof(cfg), &o, "relist-run"))
        goto out;
    const char *bs[] = {b1};
    struct expect *ep[] = {&e1};
    double took = 0;
    CHECK(wait_converged(scen, bs, ep, 1, 60, &took) && "initial full sync");

    /* the target loses two objects; a third gets other bytes */
    for (int i = 0; i < 2; i++) {
        snprintf(tkey, sizeof(tkey), "%s/k%02d", b1, i);
        CHECK_INT(s3_delete_object(tgt, tb, tkey), 0);
    }
    snprintf(tkey, sizeof(tkey), "%s/k02", b1);
    struct s3_call put;
    s3_call_init(&put);
    CHECK_INT(s3_call_set(&put, "PUT", tb, tkey), 0);
    s3_call_body_ref(&put, "not what the source holds", 25);
    CHECK_INT(s3_call_run(tgt, &put), 0);
    s3_call_finish(&put);
    CHECK(!wait_converged(scen, bs, ep, 1, 0, NULL) && "the target differs now");

    bool ok = wait_converged(scen, bs, ep, 1, 30, &took);
    CHECK(ok && "re-listing restored the target");
    printf("# restored in %.1f s (reconcile_interval 2)\n", took);
    CHECK(file_contains(d.log, "msg=\"re-listing done\""));
    int rc = daemon_stop(&d, STOP_MS);
    CHECK_INT(rc, 0);
    if (!ok || rc != 0)
        print_tail(d.log, 30);
out:
    exp_free(&e1);
}

/* How many times needle occurs in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
    char *t = slurp(path);
    int n = 0;
    for (const char *p = t; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(t);
    return n;
}

/* Single PUTs on plain-http endpoints: the source GET recv()s into the
 * copy's ring and the PUT send()s from it (http/raw.c), for an empty object,
 * one read whole before its PUT (the short way) and one streamed through the
 * ring; with RGW2CLOUD_CURL_ONLY=1 the same copies go through curl. */
static void test_sync__single_puts_take_the_plain_http_path(void)
{
    const char *scen = "rawput";
    char b1[64];
    src_bucket(b1, sizeof(b1), scen, "a");
    struct expect e1 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    wops_put(&w, &e1, b1, "empty", 1, 0, NULL);
    wops_put(&w, &e1, b1, "short", 1, 1000, NULL);
    wops_put(&w, &e1, b1, "streamed", 1, (600u << 10) + 7, NULL);
    CHECK_INT(wops_flush(&w, 3), 0);

    char cfg[512], log[512];
    struct cfgopt o = {.name = scen, .state = "rawput.db"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    path_in(log, sizeof(log), &ctx, "rawput.log");
    const char *args[] = {bin, "sync", "-c", cfg, "--once", "--log-level", "debug", NULL};
    CHECK_INT(run_cmd(args, log, log, OUT_APPEND, ONCE_MS), 0);
    const char *bs[] = {b1};
    struct expect *ep[] = {&e1};
    CHECK(wait_converged(scen, bs, ep, 1, 0, NULL) && "the raw path copied all three");
    /* GETs: the source's; PUTs: the target's (the upload name is the key's) */
    char get_short[160], put_streamed[160];
    snprintf(get_short, sizeof(get_short), "http=raw method=GET bucket=%s key=\"short\"", b1);
    snprintf(put_streamed, sizeof(put_streamed),
             "http=raw method=PUT bucket=%s-%s-tgt key=\"%s/streamed\"", run_id, scen, b1);
    CHECK(file_contains(log, get_short));
    CHECK(file_contains(log, put_streamed));
    CHECK_INT(count_in_file(log, "http=raw method=PUT"), 3);

    /* the same copies again (new bytes) with every body through curl */
    wops_put(&w, &e1, b1, "short", 2, 1001, NULL);
    wops_put(&w, &e1, b1, "streamed", 2, (600u << 10) + 9, NULL);
    CHECK_INT(wops_flush(&w, 2), 0);
    char log2[512];
    path_in(log2, sizeof(log2), &ctx, "rawput-curl.log");
    setenv("RGW2CLOUD_CURL_ONLY", "1", 1);
    int rc = run_cmd(args, log2, log2, OUT_APPEND, ONCE_MS);
    unsetenv("RGW2CLOUD_CURL_ONLY");
    CHECK_INT(rc, 0);
    CHECK(wait_converged(scen, bs, ep, 1, 0, NULL) && "curl copied the new versions");
    CHECK(file_contains(log2, "copied=2"));
    CHECK_INT(count_in_file(log2, "http=raw"), 0);
    exp_free(&e1);
}

/* `run` on o (log <tag>.log) until the target holds buckets[0..nb) (a
 * check), then stopped: whether it ran. */
static bool run_converged_stop(struct daemon *d, char *cfg, size_t n, const struct cfgopt *o,
                               const char *tag, const char *const *buckets, struct expect *const *e,
                               size_t nb)
{
    if (!run_start(d, cfg, n, o, tag))
        return false;
    CHECK(wait_converged(o->name, buckets, e, nb, 60, NULL) && "initial full sync");
    CHECK_INT(daemon_stop(d, STOP_MS), 0);
    return true;
}

/* `run` on o (log <tag>.log) until its first re-listing has begun (a
 * check): whether it runs. */
static bool run_relisting(struct daemon *d, char *cfg, size_t n, const struct cfgopt *o,
                          const char *tag)
{
    if (!run_start(d, cfg, n, o, tag))
        return false;
    double t0 = now_s();
    while (count_in_file(d->log, "msg=\"re-listing started\"") == 0 && now_s() - t0 < 30)
        sleep_ms(50);
    CHECK(count_in_file(d->log, "msg=\"re-listing started\"") > 0 && "a re-listing began");
    return true;
}

/* A re-listing does not hold the logs back: while a slow one runs (24
 * objects the target lost while the daemon was stopped, copied again at
 * 1 MiB/s), a bucket created at the source meanwhile, with an object,
 * arrives on the target before that re-listing is done. A new bucket is
 * never re-listed (its shards do not follow their log yet): only a pass
 * over the logs brings it. */
static void test_sync__relisting_lets_the_logs_be_followed(void)
{
    const char *scen = "relog";
    char b1[64], b2[64], tb[64], tkey[128];
    src_bucket(b1, sizeof(b1), scen, "a");
    src_bucket(b2, sizeof(b2), scen, "b");
    tgt_bucket(tb, sizeof(tb), scen);
    struct expect e1 = {0}, e2 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    wops_put_n(&w, &e1, b1, "k", 24, 1, 256 * 1024);
    CHECK_INT(wops_flush(&w, 8), 0);

    char cfg[512];
    struct cfgopt o = {.name = scen, .state = "relog.db", .poll = 1, .relist = 1, .bw = "1M"};
    struct daemon d;
    const char *bs[] = {b1, b2};
    struct expect *ep[] = {&e1, &e2};
    if (!run_converged_stop(&d, cfg, sizeof(cfg), &o, "relog-run", bs, ep, 1))
        goto out;
    for (int i = 0; i < 24; i++) {
        snprintf(tkey, sizeof(tkey), "%s/k%02d", b1, i);
        CHECK_INT(s3_delete_object(tgt, tb, tkey), 0);
    }
    if (!run_relisting(&d, cfg, sizeof(cfg), &o, "relog-run2"))
        goto out;
    const char *done = "msg=\"re-listing done\"";
    int done0 = count_in_file(d.log, done);

    CHECK_INT(make_bucket(b2), 0);
    wops_put(&w, &e2, b2, "late", 1, 100, NULL);
    CHECK_INT(wops_flush(&w, 1), 0);
    double t0 = now_s();
    bool arrived = arrives_on_target(scen, b2, "late", 30);
    double took = now_s() - t0;
    int done1 = count_in_file(d.log, done);
    printf("# a new bucket's object arrived %.1f s after its PUT; re-listings done meanwhile: "
           "%d\n",
           took, done1 - done0);
    CHECK(arrived);
    CHECK_INT(done1, done0); /* it came while that re-listing still ran */
    CHECK(wait_converged(scen, bs, ep, 2, 60, NULL) && "the re-listing restored the rest");
    int rc = daemon_stop(&d, STOP_MS);
    CHECK_INT(rc, 0);
    if (!arrived || done1 != done0 || rc != 0)
        print_tail(d.log, 40);
out:
    exp_free(&e1);
    exp_free(&e2);
}

/* A log entry's copy never lands before a re-listing's copy of the same
 * object that read an older version: the re-listing copies an 8 MiB object
 * the target lost (at 512 KiB/s), the source overwrites it with 1 KiB
 * meanwhile, and the pass the re-listing makes for the logs waits for that
 * copy before it sends the new version. When the re-listing is done, the
 * target holds the new version (the other order would leave the old one
 * there until the next re-listing). The overwrite comes 30 s after the
 * first write of the object: RGW logs a bucket shard again only after
 * rgw_data_log_window (30 s), else the pass would not see it yet. */
static void test_sync__relisting_never_lands_an_older_version_last(void)
{
    const char *scen = "reord";
    char b1[64], tb[64], tkey[128];
    src_bucket(b1, sizeof(b1), scen, "a");
    tgt_bucket(tb, sizeof(tb), scen);
    struct expect e1 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    wops_put(&w, &e1, b1, "big", 1, 8 << 20, NULL);
    CHECK_INT(wops_flush(&w, 1), 0);
    double logged = now_s();

    char cfg[512];
    struct cfgopt o = {.name = scen, .state = "reord.db", .poll = 1};
    struct daemon d;
    const char *bs[] = {b1};
    struct expect *ep[] = {&e1};
    if (!run_converged_stop(&d, cfg, sizeof(cfg), &o, "reord-run", bs, ep, 1))
        goto out;
    snprintf(tkey, sizeof(tkey), "%s/big", b1);
    CHECK_INT(s3_delete_object(tgt, tb, tkey), 0);
    while (now_s() - logged < 31)
        sleep_ms(100);
    o.relist = 1;
    o.bw = "512K";
    if (!run_relisting(&d, cfg, sizeof(cfg), &o, "reord-run2"))
        goto out;
    const char *done = "msg=\"re-listing done\"";
    sleep_ms(2000); /* its copy of the old 8 MiB is under way (16 s at 512 KiB/s) */
    int done0 = count_in_file(d.log, done);
    wops_put(&w, &e1, b1, "big", 2, 1024, NULL);
    CHECK_INT(wops_flush(&w, 1), 0);
    double t0 = now_s();
    while (count_in_file(d.log, done) == done0 && now_s() - t0 < 60)
        sleep_ms(20);
    CHECK(count_in_file(d.log, done) > done0 && "that re-listing ended");
    char got[33] = "";
    uint64_t len = 0;
    CHECK_INT(download_md5(got, &len, tgt, tb, tkey), 0);
    printf("# when the re-listing was done the target held %llu bytes\n", (unsigned long long) len);
    CHECK_INT(len, 1024);
    CHECK(wait_converged(scen, bs, ep, 1, 30, NULL));
    int rc = daemon_stop(&d, STOP_MS);
    CHECK_INT(rc, 0);
    if (len != 1024 || rc != 0)
        print_tail(d.log, 40);
out:
    exp_free(&e1);
}

/* state.backend rados: the state in the lab cluster's omap. A full sync
 * and then changes converge, and a restart goes on from the stored
 * positions (the changes made while it was down arrive; nothing is copied
 * again). */
static void test_sync__rados_state_follows_and_resumes(void)
{
    const char *scen = "rados";
    char b1[64], state[1024], conf[512];
    src_bucket(b1, sizeof(b1), scen, "a");
    struct expect e1 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    wops_put_n(&w, &e1, b1, "k", 6, 1, 700);
    CHECK_INT(wops_flush(&w, 6), 0);
    snprintf(conf, sizeof(conf), "%s", labenv_get(&senv, "LAB_CEPH_CONF"));
    CHECK_INT(labrados_pool(conf, LABRADOS_POOL), 0);
    snprintf(state, sizeof(state),
             "{\"backend\": \"rados\", \"pool\": \"%s\", \"namespace\": \"%s\", "
             "\"ceph_conf\": \"%s\"}",
             LABRADOS_POOL, run_id, conf);
    char cfg[512];
    struct cfgopt o = {.name = scen, .state = "unused.db", .poll = 1, .state_json = state};
    struct daemon d;
    if (!run_start(&d, cfg, sizeof(cfg), &o, "rados-run"))
        goto out;
    const char *bs[] = {b1};
    struct expect *ep[] = {&e1};
    double took = 0;
    bool ok = wait_converged(scen, bs, ep, 1, 60, &took);
    CHECK(ok && "full sync with the rados state");
    wops_put(&w, &e1, b1, "later", 1, 333, NULL);
    wops_del(&w, &e1, b1, "k00");
    CHECK_INT(wops_flush(&w, 2), 0);
    ok = wait_converged(scen, bs, ep, 1, 60, &took);
    CHECK(ok && "incremental with the rados state");
    CHECK_INT(daemon_stop(&d, STOP_MS), 0);
    if (!ok)
        print_tail(d.log, 30);

    /* down: a change; up again: only that change is copied */
    wops_put(&w, &e1, b1, "while-down", 1, 444, NULL);
    CHECK_INT(wops_flush(&w, 1), 0);
    CHECK_INT(daemon_start(&d, &ctx, cfg, "rados-run2"), 0);
    if (d.pid <= 0)
        goto out;
    ok = wait_converged(scen, bs, ep, 1, 60, &took);
    CHECK(ok && "resumed from the rados state");
    CHECK_INT(daemon_stop(&d, STOP_MS), 0);
    CHECK(!file_contains(d.log, "msg=\"full sync started\""));
    if (!ok)
        print_tail(d.log, 30);
out:
    exp_free(&e1);
}

/* 3. kill -9 during a burst of writes; restart -> nothing missing, nothing extra. */

struct killer {
    struct daemon *d;
    const char *scen;
    const char *b1, *b2;
    size_t from;   /* writes done before the first look */
    size_t looked; /* writes done at the last look */
    bool done;
    int on_target; /* burst keys on the target at the kill */
    size_t at;
    double when;
};

static int burst_on_target(const char *scen, const char *b)
{
    char tb[64], prefix[128];
    tgt_bucket(tb, sizeof(tb), scen);
    snprintf(prefix, sizeof(prefix), "%s/burst/", b);
    struct listing l;
    if (list_all(tgt, tb, prefix, &l) < 0)
        return 0;
    int n = (int) l.n;
    listing_free(&l);
    return n;
}

/* SIGKILL as soon as the daemon is copying the burst (some of it landed),
 * while the writes go on. */
static void kill_progress(size_t ndone, void *ud)
{
    struct killer *k = ud;
    if (k->done || ndone < k->from || ndone - k->looked < 4)
        return;
    k->looked = ndone;
    int n = burst_on_target(k->scen, k->b1) + burst_on_target(k->scen, k->b2);
    if (n >= 3) {
        kill(k->d->pid, SIGKILL);
        k->done = true;
        k->on_target = n;
        k->at = ndone;
        k->when = now_s();
    }
}

static void test_sync__kill9_during_burst_loses_nothing(void)
{
    const char *scen = "kill";
    char b1[64], b2[64];
    src_bucket(b1, sizeof(b1), scen, "a");
    src_bucket(b2, sizeof(b2), scen, "b");
    struct expect e1 = {0}, e2 = {0};
    CHECK_INT(make_bucket(b1), 0);
    CHECK_INT(make_bucket(b2), 0);
    struct wops w = {0};
    char key[64];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "old/%02d", i);
        wops_put(&w, &e1, b1, key, 1, 200, NULL);
    }
    CHECK_INT(wops_flush(&w, 16), 0);

    char cfg[512];
    struct cfgopt o = {.name = scen, .state = "kill.db", .poll = 1};
    struct daemon d;
    if (!run_start(&d, cfg, sizeof(cfg), &o, "kill-run-1"))
        goto out;
    const char *bs[] = {b1, b2};
    struct expect *ep[] = {&e1, &e2};
    CHECK(wait_converged(scen, bs, ep, 1, 60, NULL));

    /* the burst: 300 puts over two buckets (every 10th 256 KiB, so copies
     * take a while), deletes of older keys and overwrites mixed in; SIGKILL
     * once its copies land on the target, with the writes still going on */
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "burst/%03d", i);
        wops_put(&w, i % 2 ? &e2 : &e1, i % 2 ? b2 : b1, key, 1,
                 i % 10 == 0 ? 256u << 10 : 100 + (size_t) i, NULL);
        if (i % 20 == 5) {
            snprintf(key, sizeof(key), "old/%02d", i / 20);
            wops_del(&w, &e1, b1, key);
        }
        if (i % 30 == 7 && i > 30) { /* overwrite an earlier burst key */
            snprintf(key, sizeof(key), "burst/%03d", i - 30);
            wops_put(&w, (i - 30) % 2 ? &e2 : &e1, (i - 30) % 2 ? b2 : b1, key, 2, 333, NULL);
        }
    }
    struct killer k = {.d = &d, .scen = scen, .b1 = b1, .b2 = b2, .from = 20};
    double t0 = now_s();
    CHECK_INT(wops_run(&w, 4, kill_progress, &k), 0);
    printf("# burst of %zu writes in %.1f s; SIGKILL %.1f s in, after %zu writes, with %d burst "
           "keys on the target\n",
           w.n, now_s() - t0, k.when - t0, k.at, k.on_target);
    CHECK(k.done && k.at < w.n && "killed while the burst was being written and copied");
    if (!k.done)
        kill(d.pid, SIGKILL);
    wops_free(&w);
    int rc = wait_exit(d.pid, 10000);
    CHECK_INT(rc, 128 + SIGKILL);
    d.pid = -1;

    /* what it did before the kill is on the target, partly */
    int partial = compare_target(scen, b1, &e1, false) + compare_target(scen, b2, &e2, false);
    printf("# at the restart, %d keys differ on the target\n", partial);

    CHECK_INT(daemon_start(&d, &ctx, cfg, "kill-run-2"), 0);
    if (d.pid <= 0)
        goto out;
    double took = 0;
    bool ok = wait_converged(scen, bs, ep, 2, 60, &took);
    CHECK(ok && "converged after kill -9 and restart");
    printf("# converged %.1f s after the restart\n", took);
    if (!ok) {
        print_tail(d.log, 30);
        char l1[600];
        path_in(l1, sizeof(l1), &ctx, "kill-run-1.log");
        print_tail(l1, 20);
    }
    rc = daemon_stop(&d, STOP_MS);
    CHECK_INT(rc, 0);
out:
    (void) daemon_kill9(&d);
    exp_free(&e1);
    exp_free(&e2);
}

/* 4. notify: polling every 60 s, yet a PUT reaches the target within 20 s. */
static void test_sync__notify_beats_the_poll_interval(void)
{
    const char *scen = "ntfy";
    char b1[64];
    src_bucket(b1, sizeof(b1), scen, "a");
    struct expect e1 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    wops_put(&w, &e1, b1, "initial", 1, 100, NULL);
    CHECK_INT(wops_flush(&w, 1), 0);

    char cfg[512];
    struct cfgopt o = {.name = scen, .state = "ntfy.db", .poll = 60};
    struct daemon d;
    if (!run_start(&d, cfg, sizeof(cfg), &o, "ntfy-run"))
        goto out;
    const char *bs[] = {b1};
    struct expect *ep[] = {&e1};
    double t_up = now_s();
    CHECK(wait_converged(scen, bs, ep, 1, 30, NULL));
    /* caught up: every datalog shard incremental and none behind */
    bool caught_up = false;
    while (!caught_up && now_s() - t_up < 30) {
        json_t *st = status_json(&ctx, cfg, "ntfy");
        json_t *sum = st ? json_object_get(st, "summary") : NULL;
        caught_up = sum && json_integer_value(json_object_get(sum, "shards")) > 0 &&
                    json_is_integer(json_object_get(sum, "shards_behind")) &&
                    json_integer_value(json_object_get(sum, "shards_behind")) == 0;
        json_decref(st);
        if (!caught_up)
            sleep_ms(500);
    }
    CHECK(caught_up);
    sleep_ms(1500); /* the first pass is over: the daemon now waits for the poll or a notify */

    wops_put(&w, &e1, b1, "after-notify", 1, 200, NULL);
    CHECK_INT(wops_flush(&w, 1), 0);
    double t0 = now_s();
    bool arrived = arrives_on_target(scen, b1, "after-notify", 20);
    double lag = now_s() - t0;
    printf(
        "# with poll_interval 60: the PUT reached the target after %.0f ms (%.0f s after start)\n",
        lag * 1000, now_s() - t_up);
    CHECK(arrived && lag < 20);
    if (!arrived)
        print_tail(d.log, 30);
    CHECK(wait_converged(scen, bs, ep, 1, 5, NULL));

    /* A second PUT to the same key, seconds later: RGW writes no datalog
     * entry for that bucket shard until its rgw_data_log_window (30 s)
     * renews, but it notifies us at once, naming the bucket shard. It
     * must arrive in well under the poll interval too. */
    sleep_ms(1000);
    wops_put(&w, &e1, b1, "after-notify", 2, 300, NULL);
    CHECK_INT(wops_flush(&w, 1), 0);
    t0 = now_s();
    bool ok = false;
    while (!ok && now_s() - t0 < 20) {
        ok = compare_target(scen, b1, &e1, false) == 0;
        if (!ok)
            sleep_ms(50);
    }
    lag = now_s() - t0;
    printf("# an overwrite 1 s later reached the target after %.0f ms%s\n", lag * 1000,
           ok ? "" : " (not within 20 s)");
    CHECK(ok && "an overwrite within RGW's datalog window arrives within 20 s (notify)");
    if (!ok) {
        print_tail(d.log, 15);
        /* how long it takes without the notify doing it */
        bool late = wait_converged(scen, bs, ep, 1, 60, NULL);
        printf("# ... it arrived after %.0f s%s\n", now_s() - t0, late ? "" : " (never)");
    }
    CHECK_INT(daemon_stop(&d, STOP_MS), 0);
out:
    (void) daemon_kill9(&d);
    exp_free(&e1);
}

/* 5. Wrong source credentials: exit 1 with a line naming the problem; the
 * state's markers are unchanged. */

static char *dl_markers(const char *cfg, const char *tag)
{
    json_t *st = status_json(&ctx, cfg, tag);
    if (!st)
        return NULL;
    json_t *arr = json_object_get(st, "datalog_shards");
    json_t *keep = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        json_t *o = json_object();
        json_object_set(o, "shard", json_object_get(v, "shard"));
        json_object_set(o, "state", json_object_get(v, "state"));
        json_object_set(o, "marker", json_object_get(v, "marker"));
        json_array_append_new(keep, o);
    }
    json_t *bsh = json_object_get(st, "bucket_shards");
    char *text = json_array_size(arr) ? json_dumps(keep, JSON_COMPACT) : NULL;
    char *bs_text = json_dumps(bsh ? bsh : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    char *both = NULL;
    if (text && bs_text && asprintf(&both, "%s %s", text, bs_text) < 0)
        both = NULL;
    free(text);
    free(bs_text);
    json_decref(keep);
    json_decref(st);
    return both;
}

static void test_sync__wrong_source_credentials_exit_1_markers_unchanged(void)
{
    const char *scen = "cred";
    char b1[64];
    src_bucket(b1, sizeof(b1), scen, "a");
    struct expect e1 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    char key[64];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        wops_put(&w, &e1, b1, key, 1, 10, NULL);
    }
    CHECK_INT(wops_flush(&w, 5), 0);

    char good[512], bad[512], log[512];
    struct cfgopt o = {.name = scen, .state = "cred.db"};
    CHECK_INT(cfg_write(good, sizeof(good), &o), 0);
    path_in(log, sizeof(log), &ctx, "cred-good.log");
    CHECK_INT(sync_once(&ctx, good, log, ONCE_MS), 0);
    char *before = dl_markers(good, "cred-before");
    CHECK(before != NULL);

    /* changes the bad run would move markers past, if it could read them */
    for (int i = 5; i < 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        wops_put(&w, &e1, b1, key, 1, 10, NULL);
    }
    CHECK_INT(wops_flush(&w, 5), 0);

    o.source_secret = "not-the-secret-0000000000000000000000000";
    o.file = "cred-bad.json";
    CHECK_INT(cfg_write(bad, sizeof(bad), &o), 0);
    char out[512], err[512];
    path_in(out, sizeof(out), &ctx, "cred-bad.out");
    path_in(err, sizeof(err), &ctx, "cred-bad.err");
    const char *args[] = {bin, "sync", "-c", bad, "--once", NULL};
    int rc = run_cmd(args, out, err, OUT_APPEND, 60000);
    CHECK_INT(rc, 1);
    char *text = slurp(err);
    bool named = strstr(text, "403") || strstr(text, "SignatureDoesNotMatch") ||
                 strstr(text, "AccessDenied");
    CHECK(named && "stderr names the refusal");
    /* one clear line: print it */
    char *line = strstr(text, "SignatureDoesNotMatch");
    if (!line)
        line = strstr(text, "403");
    if (line) {
        while (line > text && line[-1] != '\n')
            line--;
        printf("# stderr: %.*s\n", (int) strcspn(line, "\n"), line);
    } else {
        print_tail(err, 10);
    }
    CHECK(strstr(text, "not-the-secret") == NULL && "the secret is never printed");
    free(text);

    char *after = dl_markers(good, "cred-after");
    CHECK(after != NULL);
    CHECK(before && after && strcmp(before, after) == 0 && "datalog and bucket markers unchanged");
    if (before && after && strcmp(before, after) != 0)
        printf("# before: %.300s\n# after:  %.300s\n", before, after);
    free(before);
    free(after);
    /* and the good credentials carry on from there. RGW logs a bucket
     * shard in the datalog at most once per rgw_data_log_window (30 s; a
     * renew thread writes the later changes up to ~22 s after them), so
     * `sync --once` right after a write may not see it yet: repeat. */
    const char *bs[] = {b1};
    struct expect *ep[] = {&e1};
    double t0 = now_s();
    int passes = 0, last_rc = 0;
    bool ok = false;
    while (!ok && now_s() - t0 < 45) {
        snprintf(log, sizeof(log), "%s/cred-good-%d.log", workdir, ++passes);
        last_rc = sync_once(&ctx, good, log, ONCE_MS);
        if (last_rc != 0)
            break;
        ok = compare_target(scen, b1, &e1, false) == 0;
        if (!ok)
            sleep_ms(2000);
    }
    CHECK_INT(last_rc, 0);
    CHECK(ok && "the good credentials carry on from the unchanged markers");
    if (!ok)
        (void) wait_converged(scen, bs, ep, 1, 0, NULL);
    printf("# later writes exported after %d sync --once runs, %.0f s\n", passes, now_s() - t0);
    exp_free(&e1);
}

/* 6. The listener: /admin/log unsigned -> 403, signed with the system key -> 200. */

/* GET url unsigned: the HTTP status (0: no answer); the body into *body
 * ("" when empty; body may be NULL). */
static long http_get(const char *url, char **body)
{
    CURL *c = curl_easy_init();
    struct sink m = {calloc(1, 1), 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (body)
        *body = m.buf;
    else
        free(m.buf);
    return code;
}

/* A client of our listener as the source is: the zone's system key, with
 * this secret (NULL: the right one). 0 or a negative errno. */
static int peer_client(struct s3_client **out, const char *secret)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", exporter_port);
    struct s3_endpoint ep = {
        .url = url,
        .access_key = labenv_get(&senv, "LAB_SYSTEM_ACCESS_KEY"),
        .secret = secret ? secret : labenv_get(&senv, "LAB_SYSTEM_SECRET_KEY"),
        .region = labenv_get(&senv, "LAB_REGION"),
    };
    return s3_client_new(out, loop, &ep);
}

/* GET /admin/log?type=data&status through peer (it signs) into call, which
 * the caller inits and finishes: 0 or a negative errno. */
static int admin_data_status(struct s3_client *peer, struct s3_call *call)
{
    int r = s3_call_set(call, "GET", "admin", "log");
    if (r == 0)
        r = s3_call_query(call, "type", "data");
    if (r == 0)
        r = s3_call_query(call, "status", NULL);
    if (r == 0)
        r = s3_call_run(peer, call);
    return r;
}

static void test_sync__admin_log_needs_a_signature(void)
{
    const char *scen = "auth";
    char cfg[512];
    struct cfgopt o = {.name = scen, .state = "auth.db", .poll = 1};
    struct daemon d;
    if (!run_start(&d, cfg, sizeof(cfg), &o, "auth-run"))
        return;
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/admin/log?type=data&status", exporter_port);
    char *body = NULL;
    long code = http_get(url, &body);
    CHECK_INT(code, 403);
    CHECK(body && strstr(body, "AccessDenied"));
    free(body);
    snprintf(url, sizeof(url),
             "http://127.0.0.1:%d/admin/log/?type=bucket-index&status&options=merge&bucket=x:y",
             exporter_port);
    CHECK_INT(http_get(url, NULL), 403);

    /* signed (SigV4) with the zone's system key: our markers */
    struct s3_client *peer = NULL;
    CHECK_INT(peer_client(&peer, NULL), 0);
    /* the first pass may still be recording positions: the answer is ours either way */
    struct s3_call call;
    s3_call_init(&call);
    int r = admin_data_status(peer, &call);
    CHECK_INT(r, 0);
    CHECK_INT(call.status, 200);
    json_error_t je;
    json_t *j = call.resp ? json_loads(call.resp, 0, &je) : NULL;
    json_t *markers = j ? json_object_get(j, "markers") : NULL;
    CHECK(json_is_array(markers));
    if (!json_is_array(markers))
        printf("# answer: %.300s\n", call.resp ? call.resp : "(none)");
    else
        printf("# signed data status: %zu markers\n", json_array_size(markers));
    json_decref(j);
    s3_call_finish(&call);
    s3_client_free(peer);

    /* signed with the right access key and a wrong secret: 403 */
    CHECK_INT(peer_client(&peer, "not-the-secret-0000000000000000000000000"), 0);
    s3_client_set_retries(peer, 0);
    s3_call_init(&call);
    (void) admin_data_status(peer, &call); /* what counts is the status */
    CHECK_INT(call.status, 403);
    s3_call_finish(&call);
    s3_client_free(peer);

    /* /health needs no signature */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", exporter_port);
    CHECK_INT(http_get(url, NULL), 200);
    int rc = daemon_stop(&d, STOP_MS);
    CHECK_INT(rc, 0);
    if (rc != 0)
        print_tail(d.log, 20);
}

/* 7. Trim safety: the source trims its logs (every 10 s) only below what
 * our listener says we exported. With every copy failing (wrong target
 * secret), the bilog entries we have not exported survive several trim
 * rounds; after a restart with the right secret nothing is lost. */

struct bilog_seen {
    size_t entries;
    char **writes; /* object names with a complete write entry */
    size_t nwrites;
};

static int bilog_list(const char *bucket, struct bilog_seen *out)
{
    memset(out, 0, sizeof(*out));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "radosgw-admin -c '%s' bilog list --bucket='%s' --max-entries=100000 2>/dev/null",
             labenv_get(&senv, "LAB_CEPH_CONF"), bucket);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char *buf = NULL;
    size_t len = 0;
    char chunk[8192];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), p)) > 0) {
        buf = realloc(buf, len + k + 1);
        memcpy(buf + len, chunk, k);
        len += k;
    }
    int st = pclose(p);
    if (!buf || st != 0) {
        printf("# %s: exit status %d\n", cmd, st);
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    json_error_t je;
    json_t *arr = json_loads(buf, 0, &je);
    free(buf);
    if (!json_is_array(arr)) {
        printf("# bilog list: not a JSON array: %s\n", je.text);
        json_decref(arr);
        return -1;
    }
    out->entries = json_array_size(arr);
    out->writes = calloc(out->entries + 1, sizeof(char *));
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *op = json_string_value(json_object_get(v, "op"));
        const char *state = json_string_value(json_object_get(v, "state"));
        const char *obj = json_string_value(json_object_get(v, "object"));
        if (op && state && obj && strcmp(op, "write") == 0 && strcmp(state, "complete") == 0)
            out->writes[out->nwrites++] = strdup(obj);
    }
    json_decref(arr);
    return 0;
}

static bool bilog_has(const struct bilog_seen *b, const char *obj)
{
    for (size_t i = 0; i < b->nwrites; i++)
        if (strcmp(b->writes[i], obj) == 0)
            return true;
    return false;
}

/* How many of "<prefix>/00" .. "<prefix>/<n-1>" have a write entry. */
static int bilog_count(const struct bilog_seen *b, const char *prefix, int n)
{
    char key[64];
    int found = 0;
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s/%02d", prefix, i);
        found += bilog_has(b, key);
    }
    return found;
}

/* A counter of status' summary (borrowed; NULL when status failed, and
 * then absent is the answer). */
static long long summary_int(const json_t *sum, const char *key, long long absent)
{
    return sum ? (long long) json_integer_value(json_object_get(sum, key)) : absent;
}

static void bilog_free(struct bilog_seen *b)
{
    for (size_t i = 0; i < b->nwrites; i++)
        free(b->writes[i]);
    free(b->writes);
}

static void test_sync__source_trims_only_below_our_markers(void)
{
    const char *scen = "trim";
    char b1[64];
    src_bucket(b1, sizeof(b1), scen, "a");
    struct expect e1 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    char key[64];
    const int npre = 12, nnew = 60;
    for (int i = 0; i < npre; i++) {
        snprintf(key, sizeof(key), "pre/%02d", i);
        wops_put(&w, &e1, b1, key, 1, 100, NULL);
    }
    CHECK_INT(wops_flush(&w, 8), 0);

    /* every copy fails: wrong target secret */
    char badcfg[512], goodcfg[512];
    struct cfgopt o = {.name = scen,
                       .state = "trim.db",
                       .poll = 1,
                       .target_secret = "not-the-secret-0000000000000000000000000",
                       .file = "trim-badtarget.json"};
    CHECK_INT(cfg_write(badcfg, sizeof(badcfg), &o), 0);
    o.target_secret = NULL;
    o.file = NULL;
    CHECK_INT(cfg_write(goodcfg, sizeof(goodcfg), &o), 0);
    struct daemon d;
    CHECK_INT(daemon_start(&d, &ctx, badcfg, "trim-run-bad"), 0);
    if (d.pid <= 0)
        goto out;
    /* wait until it has recorded its positions for every shard of the
     * bucket (full sync failed: on the retry list) */
    double t0 = now_s();
    bool recorded = false;
    while (!recorded && now_s() - t0 < 30) {
        json_t *st = status_json(&ctx, badcfg, "trim");
        json_t *sum = st ? json_object_get(st, "summary") : NULL;
        long long full = summary_int(sum, "bucket_shards_full_sync", 0);
        long long inc = summary_int(sum, "bucket_shards_incremental", 0);
        long long retries = summary_int(sum, "retries", 0);
        recorded = full + inc >= 11 && retries > 0;
        json_decref(st);
        if (!recorded)
            sleep_ms(300);
    }
    CHECK(recorded && "positions recorded, copies failing");
    if (!recorded)
        print_tail(d.log, 20);

    /* writes it cannot export, spread over a few seconds */
    for (int i = 0; i < nnew; i++) {
        snprintf(key, sizeof(key), "new/%02d", i);
        wops_put(&w, &e1, b1, key, 1, 150, NULL);
        if (i % 10 == 9) {
            CHECK_INT(wops_flush(&w, 8), 0);
            sleep_ms(700);
        }
    }
    CHECK_INT(wops_flush(&w, 8), 0);
    double t_last = now_s();
    struct bilog_seen b0;
    CHECK_INT(bilog_list(b1, &b0), 0);
    int pre0 = bilog_count(&b0, "pre", npre);
    /* more than two trim rounds (rgw_sync_log_trim_interval = 10) */
    while (now_s() - t_last < 25 && daemon_alive(&d))
        sleep_ms(500);
    CHECK(daemon_alive(&d) && "the exporter runs on while every copy fails");
    struct bilog_seen b1s;
    CHECK_INT(bilog_list(b1, &b1s), 0);
    int kept = 0;
    for (int i = 0; i < nnew; i++) {
        snprintf(key, sizeof(key), "new/%02d", i);
        if (bilog_has(&b1s, key))
            kept++;
        else if (i - kept < 5)
            printf("# the source trimmed the write of %s, which we never exported\n", key);
    }
    int pre1 = bilog_count(&b1s, "pre", npre);
    printf("# bilog of %s: %zu entries before, %zu after %.0f s; writes from before our "
           "positions: %d then %d (below our markers: the source may trim them)\n",
           b1, b0.entries, b1s.entries, now_s() - t_last, pre0, pre1);
    CHECK_INT(kept, nnew);
    /* and the source does trim (what is below our markers): else this
     * proves nothing; the lab needs rgw_sync_log_trim_interval = 10 */
    CHECK(pre1 < npre && "the source trims its bilog below our markers");
    bilog_free(&b0);
    bilog_free(&b1s);

    json_t *st = status_json(&ctx, badcfg, "trim-2");
    json_t *sum = st ? json_object_get(st, "summary") : NULL;
    printf("# while failing: %lld bucket shards in full sync, %lld incremental, %lld on the retry "
           "list\n",
           summary_int(sum, "bucket_shards_full_sync", -1),
           summary_int(sum, "bucket_shards_incremental", -1), summary_int(sum, "retries", -1));
    json_decref(st);
    /* nothing reached the target */
    char tb[64];
    tgt_bucket(tb, sizeof(tb), scen);
    struct listing l;
    int lr = list_all(tgt, tb, NULL, &l);
    CHECK(lr < 0 || l.n == 0);
    if (lr == 0)
        listing_free(&l);

    int rc = daemon_stop(&d, STOP_MS);
    CHECK_INT(rc, 0);
    if (rc != 0)
        print_tail(d.log, 20);

    /* the right secret, the same state: nothing lost */
    CHECK_INT(daemon_start(&d, &ctx, goodcfg, "trim-run-good"), 0);
    if (d.pid <= 0)
        goto out;
    const char *bs[] = {b1};
    struct expect *ep[] = {&e1};
    double took = 0;
    bool ok = wait_converged(scen, bs, ep, 1, 60, &took);
    CHECK(ok && "converged after the restart with good credentials");
    printf("# converged %.1f s after the restart\n", took);
    if (!ok)
        print_tail(d.log, 30);
    CHECK_INT(daemon_stop(&d, STOP_MS), 0);
out:
    (void) daemon_kill9(&d);
    exp_free(&e1);
}

/* 13-14. Profiles that name their buckets: only the datalog shards those
 * buckets log to are read, and a bucket made later or resharded widens
 * them. */

/* The source as the zone's system user (the admin API). */
static struct rgw_source *admin_source(void)
{
    struct rgw_source *a = NULL;
    if (rgw_source_new(
            &a, loop, labenv_get(&senv, "LAB_ENDPOINT"), labenv_get(&senv, "LAB_SYSTEM_ACCESS_KEY"),
            labenv_get(&senv, "LAB_SYSTEM_SECRET_KEY"), labenv_get(&senv, "LAB_ZONEGROUP")) < 0)
        return NULL;
    return a;
}

/* The bucket's index shard count on the source (1 when unsharded), or -1. */
static int index_shards(struct rgw_source *a, const char *bucket)
{
    char *id = NULL, key[160];
    if (rgw_bucket_current(a, bucket, &id) < 0)
        return -1;
    snprintf(key, sizeof(key), "%s:%s", bucket, id);
    free(id);
    struct rgw_bucket b = {0};
    int r = rgw_bucket_instance_get(a, key, &b);
    int n = r < 0 ? -1 : b.num_shards > 0 ? b.num_shards : 1;
    rgw_bucket_finish(&b);
    return n;
}

/* has[i] for each datalog shard in which RGW logged a change of bucket:
 * every shard read from its start, every page. 0, or -1. */
static int datalog_holds(struct rgw_source *a, const char *bucket, int n, bool *has)
{
    size_t blen = strlen(bucket);
    for (int i = 0; i < n; i++) {
        has[i] = false;
        char *marker = strdup("");
        for (;;) {
            struct rgw_dl_page pg = {0};
            if (rgw_datalog_list(a, i, marker, 1000, &pg) < 0) {
                printf("# datalog shard %d: %s\n", i, err_get());
                free(marker);
                return -1;
            }
            for (size_t k = 0; k < pg.n; k++)
                if (strncmp(pg.entries[k].key, bucket, blen) == 0 && pg.entries[k].key[blen] == ':')
                    has[i] = true;
            free(marker);
            marker = pg.truncated && pg.marker ? strdup(pg.marker) : NULL;
            rgw_dl_page_finish(&pg);
            if (!marker)
                break;
        }
    }
    return 0;
}

/* Requests for the datalog ("GET /admin/log?...type=data") in the source
 * radosgw's log from byte off on; *end = its size now. -1: no log. */
static long datalog_requests(long off, long *end)
{
    char path[512];
    const char *dir = labenv_get(&senv, "LAB_DIR");
    if (!dir)
        return -1;
    snprintf(path, sizeof(path), "%s/log/rgw.log", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long n = 0;
    char line[4096];
    if (off > 0)
        (void) fseek(f, off, SEEK_SET);
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "\"GET /admin/log?") && strstr(line, "type=data"))
            n++;
    *end = ftell(f);
    fclose(f);
    return n;
}

/* The status's datalog shards and its summary counts. */
static bool status_shards(const char *cfg, const char *tag, bool *listed, int n, long *shards,
                          long *not_read)
{
    json_t *st = status_json(&ctx, cfg, tag);
    json_t *sum = st ? json_object_get(st, "summary") : NULL;
    if (!sum) {
        json_decref(st);
        return false;
    }
    *shards = (long) json_integer_value(json_object_get(sum, "shards"));
    *not_read = (long) json_integer_value(json_object_get(sum, "shards_not_read"));
    for (int i = 0; listed && i < n; i++)
        listed[i] = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(st, "datalog_shards"), i, v)
    {
        long sh = (long) json_integer_value(json_object_get(v, "shard"));
        if (listed && sh >= 0 && sh < n)
            listed[sh] = true;
    }
    json_decref(st);
    return true;
}

static void test_sync__named_buckets_read_only_their_datalog_shards(void)
{
    const char *scen = "named";
    char b1[64];
    src_bucket(b1, sizeof(b1), scen, "a");
    struct expect e1 = {0};
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    wops_put_n(&w, &e1, b1, "k", 60, 1, 300);
    CHECK_INT(wops_flush(&w, 16), 0);

    struct rgw_source *a = admin_source();
    CHECK(a != NULL);
    int nds = 0;
    CHECK_INT(a ? rgw_datalog_num_shards(a, &nds) : -1, 0);
    int nis = a ? index_shards(a, b1) : -1;
    CHECK(nis >= 1);
    if (!a || nds <= 0 || nis < 1 || nds > 4096)
        goto out;
    printf("# %s: %d index shards; the source has %d datalog shards\n", b1, nis, nds);

    const char *names[] = {b1, NULL};
    char cfg[512], log[512], want[160];
    struct cfgopt o = {.name = scen, .state = "named.db", .names = names};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    path_in(log, sizeof(log), &ctx, "named-1.log");
    long off = 0, n0 = datalog_requests(0, &off);
    CHECK(n0 >= 0 && "the source radosgw's log is readable");
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    long n1 = datalog_requests(off, &off);
    const char *bs[] = {b1};
    struct expect *ep[] = {&e1};
    CHECK(wait_converged(scen, bs, ep, 1, 0, NULL));

    /* the set: index shard k of b1 logs to (hash(b1) + k) mod nds */
    int nset = nis < nds ? nis : nds;
    snprintf(want, sizeof(want), "buckets=1 shards=%d of=%d", nset, nds);
    CHECK(file_contains(log, want));
    bool *listed = calloc((size_t) nds, sizeof(bool));
    bool *has = calloc((size_t) nds, sizeof(bool));
    long shards = -1, not_read = -1;
    CHECK(status_shards(cfg, "named-st", listed, nds, &shards, &not_read));
    CHECK_INT(shards, nset);
    CHECK_INT(not_read, nds - nset);
    int outside = 0;
    for (int k = 0; k < nis; k++)
        if (!listed[rgw_datalog_shard_of(b1, k, nds)])
            outside++;
    CHECK_INT(outside, 0);
    /* and RGW itself logged b1's changes there, nowhere else */
    CHECK_INT(datalog_holds(a, b1, nds, has), 0);
    int logged = 0, elsewhere = 0;
    for (int i = 0; i < nds; i++) {
        logged += has[i];
        if (has[i] && !listed[i]) {
            printf("# RGW logged %s in datalog shard %d, which is not read\n", b1, i);
            elsewhere++;
        }
    }
    printf("# RGW logged %s in %d datalog shards; %ld datalog requests in the first run\n", b1,
           logged, n1);
    CHECK(logged > 0);
    CHECK_INT(elsewhere, 0);
    /* init and the pass after the full sync: 2 per shard read, + the count */
    CHECK(n1 > 0 && n1 <= 2L * nset + 1);

    /* changes after it come through those shards */
    wops_put_n(&w, &e1, b1, "later-", 20, 1, 700);
    wops_del(&w, &e1, b1, "k00");
    CHECK_INT(wops_flush(&w, 16), 0);
    (void) datalog_requests(off, &off); /* datalog_holds' own */
    path_in(log, sizeof(log), &ctx, "named-2.log");
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    long n2 = datalog_requests(off, &off);
    printf("# %ld datalog requests in the second run\n", n2);
    CHECK(n2 > 0 && n2 <= 2L * nset + 1);
    CHECK(wait_converged(scen, bs, ep, 1, 0, NULL));
    free(listed);
    free(has);
out:
    rgw_source_free(a);
    exp_free(&e1);
}

/* Our markers as the listener answers the source (signed with the zone's
 * system key), into m[n]: 0 or -1. */
static int listener_markers(char **m, int n)
{
    struct s3_client *peer = NULL;
    if (peer_client(&peer, NULL) < 0)
        return -1;
    struct s3_call call;
    s3_call_init(&call);
    int r = admin_data_status(peer, &call);
    json_t *j = r == 0 && call.resp ? json_loads(call.resp, 0, NULL) : NULL;
    json_t *arr = j ? json_object_get(j, "markers") : NULL;
    r = json_is_array(arr) && (int) json_array_size(arr) == n ? 0 : -1;
    for (int i = 0; r == 0 && i < n; i++) {
        json_t *v = json_object_get(json_array_get(arr, (size_t) i), "val");
        const char *mk = json_string_value(json_object_get(v, "marker"));
        m[i] = strdup(mk ? mk : "");
    }
    json_decref(j);
    s3_call_finish(&call);
    s3_client_free(peer);
    return r;
}

/* Every shard not read carries the source's end as our marker (so the
 * source trims it): how many do not. -1 on error. */
static int unread_unmarked(struct rgw_source *a, const bool *listed, int n)
{
    char **m = calloc((size_t) n, sizeof(char *));
    int bad = listener_markers(m, n) < 0 ? -1 : 0;
    for (int i = 0; bad >= 0 && i < n; i++) {
        if (listed[i])
            continue;
        struct rgw_dl_info info = {0};
        if (rgw_datalog_info(a, i, &info) < 0) {
            bad = -1;
            break;
        }
        if (strcmp(info.marker, m[i] ? m[i] : "") != 0)
            bad++;
        rgw_dl_info_finish(&info);
    }
    for (int i = 0; i < n; i++)
        free(m[i]);
    free(m);
    return bad;
}

static void test_sync__named_bucket_made_later_or_resharded_is_read_whole(void)
{
    const char *scen = "later";
    char b1[64];
    src_bucket(b1, sizeof(b1), scen, "a"); /* made after the daemon starts */
    struct expect e1 = {0};
    struct rgw_source *a = admin_source();
    int nds = 0;
    CHECK_INT(a ? rgw_datalog_num_shards(a, &nds) : -1, 0);
    if (!a || nds <= 0 || nds > 4096)
        goto out;
    bool *listed = calloc((size_t) nds, sizeof(bool));

    const char *names[] = {b1, NULL};
    char cfg[512];
    struct cfgopt o = {.name = scen, .state = "later.db", .poll = 1, .names = names};
    struct daemon d;
    if (!run_start(&d, cfg, sizeof(cfg), &o, "later-run")) {
        free(listed);
        goto out;
    }
    /* no such bucket yet: the one shard its index shard 0 would log to */
    long shards = -1, not_read = -1;
    double t0 = now_s();
    while (now_s() - t0 < 30 &&
           !(status_shards(cfg, "later-st", listed, nds, &shards, &not_read) && shards == 1))
        sleep_ms(300);
    CHECK_INT(shards, 1);
    CHECK_INT(not_read, nds - 1);
    CHECK(listed[rgw_datalog_shard_of(b1, 0, nds)]);
    /* the daemon marks the others at the source's end: the source may trim them */
    int unmarked = -1;
    t0 = now_s();
    while (now_s() - t0 < 30 && (unmarked = unread_unmarked(a, listed, nds)) != 0)
        sleep_ms(500);
    CHECK_INT(unmarked, 0);

    /* the bucket is made: objects on all its index shards land */
    CHECK_INT(make_bucket(b1), 0);
    struct wops w = {0};
    wops_put_n(&w, &e1, b1, "k", 80, 1, 200);
    CHECK_INT(wops_flush(&w, 16), 0);
    const char *bs[] = {b1};
    struct expect *ep[] = {&e1};
    CHECK(wait_converged(scen, bs, ep, 1, 60, NULL));
    int nis = index_shards(a, b1);
    CHECK(status_shards(cfg, "later-st2", listed, nds, &shards, &not_read));
    CHECK_INT(shards, nis < nds ? nis : nds);
    /* the shards it joined had been marked: they started from init again */
    CHECK(nis == 1 || file_contains(d.log, "read again: from init"));

    /* resharded to more index shards: a new instance, whose new shards log
     * to datalog shards not read before. (Only writes: a delete made before
     * a new instance's shard is first listed stays on the target, as a full
     * sync deletes nothing, with every shard read as well.) */
    char cmd[1024];
    int more = nis + 12;
    snprintf(cmd, sizeof(cmd),
             "radosgw-admin -c '%s' bucket reshard --bucket='%s' --num-shards=%d "
             ">/dev/null 2>&1",
             labenv_get(&senv, "LAB_CEPH_CONF"), b1, more);
    CHECK_INT(system(cmd), 0);
    CHECK_INT(index_shards(a, b1), more);
    wops_put_n(&w, &e1, b1, "after-reshard-", 80, 1, 300);
    CHECK_INT(wops_flush(&w, 16), 0);
    CHECK(wait_converged(scen, bs, ep, 1, 60, NULL));
    t0 = now_s();
    while (now_s() - t0 < 10 &&
           !(status_shards(cfg, "later-st3", listed, nds, &shards, &not_read) &&
             shards == (more < nds ? more : nds)))
        sleep_ms(300);
    CHECK_INT(shards, more < nds ? more : nds);
    int rc = daemon_stop(&d, STOP_MS);
    CHECK_INT(rc, 0);
    if (rc != 0)
        print_tail(d.log, 20);
    free(listed);
out:
    rgw_source_free(a);
    exp_free(&e1);
}

int main(void)
{
    srandom((unsigned) time(NULL) ^ (unsigned) getpid());
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    bool ok = labenv_load(&senv, "LAB_SOURCE_ENV") == 0;
    ok = labenv_load(&tenv, "LAB_TARGET_ENV") == 0 && ok;
    CHECK(ok && "lab env files available");
    bin = getenv("RGW2CLOUD_BIN");
    ctx = (struct harness){.bin = bin, .workdir = workdir};
    CHECK(bin && access(bin, X_OK) == 0 && "RGW2CLOUD_BIN is the rgw2cloud binary");
    const char *need_s[] = {"LAB_ENDPOINT",
                            "LAB_SYSTEM_ACCESS_KEY",
                            "LAB_SYSTEM_SECRET_KEY",
                            "LAB_USER_ACCESS_KEY",
                            "LAB_USER_SECRET_KEY",
                            "LAB_ZONEGROUP",
                            "LAB_EXPORTER_ZONE",
                            "LAB_EXPORTER_PORT",
                            "LAB_CEPH_CONF",
                            "LAB_REGION",
                            NULL};
    const char *need_t[] = {"LAB_ENDPOINT", "LAB_ACCESS_KEY", "LAB_SECRET_KEY", "LAB_REGION", NULL};
    ok = ok && env_has_all(&senv, need_s, "source");
    ok = ok && env_has_all(&tenv, need_t, "target");
    CHECK(ok && "lab env complete");
    if (!ok || !bin || access(bin, X_OK) != 0)
        return t_done();
    exporter_port = env_port(&senv, "LAB_EXPORTER_PORT");
    snprintf(run_id, sizeof(run_id), "it%lx%02lx", (unsigned long) time(NULL) & 0xffffffful,
             (unsigned long) (random() % 256));
    workdir_template(workdir, sizeof(workdir), "rgw2cloud-test-sync");
    CHECK(mkdtemp(workdir) != NULL);
    printf("# run %s, work dir %s, rgw2cloud %s\n", run_id, workdir, bin);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CHECK_INT(loop_new(&loop, NULL), 0);
    struct s3_endpoint sep, tep;
    lab_source_user(&sep, &senv);
    lab_target(&tep, &tenv);
    CHECK_INT(s3_client_new(&src, loop, &sep), 0);
    CHECK_INT(s3_client_new(&tgt, loop, &tep), 0);
    if (!src || !tgt)
        return t_done();

    double t0 = now_s();
    RUN(test_sync__full_sync_copies_everything);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__incremental_while_running_converges);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__relisting_restores_what_the_target_lost);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__single_puts_take_the_plain_http_path);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__relisting_lets_the_logs_be_followed);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__relisting_never_lands_an_older_version_last);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__rados_state_follows_and_resumes);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__kill9_during_burst_loses_nothing);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__notify_beats_the_poll_interval);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__wrong_source_credentials_exit_1_markers_unchanged);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__admin_log_needs_a_signature);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__source_trims_only_below_our_markers);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__named_buckets_read_only_their_datalog_shards);
    printf("# (%.0f s)\n", now_s() - t0);
    RUN(test_sync__named_bucket_made_later_or_resharded_is_read_whole);
    printf("# total %.0f s\n", now_s() - t0);

    s3_client_free(src);
    s3_client_free(tgt);
    loop_free(loop);
    curl_global_cleanup();
    /* configs (with secrets), state dbs, logs: kept only for a failure */
    if (t_failed == 0)
        workdir_remove(workdir);
    else
        printf("# configs, state dbs and logs kept in %s\n", workdir);
    return t_done();
}
