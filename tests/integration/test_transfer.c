/* The transfer engine end to end: resumable parallel multipart copies of
 * large objects by the rgw2cloud binary (sync --once, run, status, uploads)
 * from the lab's source zone to the lab's target radosgw, through
 * tests/fakes' faultproxy, which counts the bytes of every UploadPart and
 * injects what the real server cannot be made to do on demand (500, 503,
 * resets mid-body, stalls).
 *
 * Every scenario has its own config (chmod 600), fresh state db, source
 * bucket "<run>-<scen>-src" and target bucket "<run>-<scen>-tgt" (target
 * path "<run>-<scen>-tgt/${bucket}"); every other bucket of the lab is
 * excluded by a "*" profile. The target connection of the configs is the
 * proxy; the test itself reads and writes the target directly, so the
 * proxy's counters are rgw2cloud's traffic alone. Source bytes come from a
 * seeded PRNG, streamed (never whole in memory), MD5 kept. Big objects are
 * deleted at the end of each scenario (the lab's memstore keeps them in RAM).
 * A log is printed as TAP comments when a check about it fails. */
#include "harness.h"
#include "labenv.h"
#include "testlib.h"

#include "err.h"
#include "http/loop.h"
#include "http/s3.h"
#include "http/xml.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024ull * 1024ull)

static struct labenv senv, tenv;
static struct loop *loop;
static struct s3_client *src; /* alice on the source: writes the data */
static struct s3_client *tgt; /* the target radosgw, directly (not through the proxy) */
static const char *bin;
static const char *proxy_bin;
static char workdir[256];
static char run_id[32];
static int exporter_port;
static pid_t proxy_pid = -1;
static int proxy_port;
static struct harness ctx; /* bin and workdir, for the shared helpers */

/* How long `sync --once` may take, and `run` to stop after SIGTERM. */
enum { ONCE_MS = 240000, STOP_MS = 60000 };

/* ------------------------------------------------------------- processes */

/* `uploads -c cfg --abort-orphans` with everything to <log>; the exit code. */
static int abort_orphans(const char *cfg, const char *log)
{
    const char *args[] = {bin, "uploads", "-c", cfg, "--abort-orphans", NULL};
    int rc = run_cmd(args, log, log, OUT_APPEND, 60000);
    print_tail(log, 12);
    return rc;
}

/* status' uploads[] (borrowed from root), or NULL. */
static json_t *status_uploads(json_t *root)
{
    json_t *u = json_object_get(root, "uploads");
    return json_is_array(u) ? u : NULL;
}

static long long jint(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long) json_integer_value(v) : -1;
}

static const char *jstr(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The number of upload records status reports; -1 when status failed. */
static long long records_left(const char *cfg, const char *tag)
{
    json_t *st = status_json(&ctx, cfg, tag);
    json_t *u = status_uploads(st);
    long long n = u ? (long long) json_array_size(u) : -1;
    if (n > 0) {
        char *dump = json_dumps(u, JSON_COMPACT);
        printf("# records left: %s\n", dump ? dump : "?");
        free(dump);
    }
    json_decref(st);
    return n;
}

/* `sync --once` in the background (to be SIGKILLed). */
static int once_start(struct daemon *d, const char *cfg, const char *name)
{
    snprintf(d->log, sizeof(d->log), "%s/%s.log", workdir, name);
    const char *args[] = {bin, "sync", "-c", cfg, "--once", NULL};
    d->exit_code = -1;
    d->pid = spawn(args, d->log, d->log, OUT_APPEND);
    return d->pid > 0 ? 0 : -1;
}

/* ------------------------------------------------------------ faultproxy */

/* harness.h's proxy helpers, bound to the proxy in front of the target. */
static long set_rules(const char *rules)
{
    return proxy_rules(proxy_port, rules);
}

static long stats_reset(void)
{
    return proxy_reset(proxy_port);
}

/* One live counter of the proxy (op as S3 names it); -1 when unreadable. */
static long long counter(const char *op, const char *field)
{
    return proxy_counter(proxy_port, op, field);
}

static void print_stats(const char *when)
{
    char *text = NULL;
    if (proxy_control(proxy_port, "GET", "stats", NULL, &text) == 200 && text) {
        text[strcspn(text, "\n")] = '\0';
        printf("# proxy stats %s: %s\n", when, text);
    }
    free(text);
}

/* Poll the proxy until op's field reaches at least min (every 10 ms), or
 * the deadline, or while alive says the process still runs. The value. */
static long long wait_counter(const char *op, const char *field, long long min, double secs,
                              struct daemon *alive)
{
    double deadline = now_s() + secs;
    long long v = -1;
    while (now_s() < deadline) {
        v = counter(op, field);
        if (v >= min)
            return v;
        if (alive && !daemon_alive(alive)) {
            printf("# the process ended (%d) before %s.%s reached %lld\n", alive->exit_code, op,
                   field, min);
            print_tail(alive->log, 20);
            return v;
        }
        sleep_ms(10);
    }
    printf("# %s.%s is %lld after %.0f s, wanted %lld\n", op, field, v, secs, min);
    return v;
}

/* ---------------------------------------------------------------- configs */

struct cfgopt {
    const char *name;      /* scenario tag: file names, bucket names */
    unsigned poll;         /* sync.poll_interval, 0 = 5 */
    unsigned part_conc;    /* sync.part_concurrency */
    const char *threshold; /* s3.multipart_sync_threshold */
    const char *min_part;  /* s3.multipart_min_part_size */
    const char *inflight;  /* sync.max_inflight_bytes, NULL = default */
    const char *bw;        /* sync.bandwidth_limit, NULL = none */
    unsigned parts;        /* sync.max_inflight_parts, 0 = default */
};

static void src_bucket(char *out, size_t n, const char *scen)
{
    snprintf(out, n, "%s-%s-src", run_id, scen);
}

static void tgt_bucket(char *out, size_t n, const char *scen)
{
    snprintf(out, n, "%s-%s-tgt", run_id, scen);
}

/* <workdir>/<name>.json with a fresh <name>.db; the target is the proxy. */
static int cfg_write(char *path, size_t n, const struct cfgopt *o)
{
    char file[128], state[512], tb[64], prefix[80], endpoint[64], sync[256], s3[160];
    snprintf(file, sizeof(file), "%s.json", o->name);
    path_in(path, n, &ctx, file);
    snprintf(file, sizeof(file), "%s.db", o->name);
    path_in(state, sizeof(state), &ctx, file);
    unlink(state);
    tgt_bucket(tb, sizeof(tb), o->name);
    snprintf(prefix, sizeof(prefix), "%s-%s-", run_id, o->name);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", proxy_port);
    snprintf(sync, sizeof(sync),
             "\"poll_interval\": %u, \"part_concurrency\": %u,\n"
             "           \"max_inflight_bytes\": \"%s\", \"bandwidth_limit\": \"%s\",\n"
             "           \"max_inflight_parts\": %u",
             o->poll ? o->poll : 5, o->part_conc, o->inflight ? o->inflight : "1G",
             o->bw ? o->bw : "0", o->parts ? o->parts : 16);
    snprintf(s3, sizeof(s3),
             "\"multipart_sync_threshold\": \"%s\", \"multipart_min_part_size\": \"%s\"",
             o->threshold, o->min_part);
    struct scen_cfg c = {
        .senv = &senv,
        .tenv = &tenv,
        .listen_port = exporter_port,
        .state = state,
        .target_endpoint = endpoint,
        .sync = sync,
        .s3 = s3,
        .prefix = prefix,
        .target_bucket = tb,
    };
    return scen_cfg_write(path, &c);
}

/* ------------------------------------------------------- source objects */

/* A seeded xorshift byte stream of a given length, MD5 taken as it is read. */
struct stream {
    uint64_t s;
    uint64_t len, off;
    unsigned char word[8];
    unsigned avail;
    EVP_MD_CTX *md5;
};

static void stream_init(struct stream *g, uint64_t seed, uint64_t len)
{
    memset(g, 0, sizeof(*g));
    g->s = seed ? seed * 0x9e3779b97f4a7c15ull : 1;
    g->len = len;
    g->md5 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(g->md5, EVP_md5(), NULL);
}

static uint64_t stream_next(struct stream *g)
{
    g->s ^= g->s << 13;
    g->s ^= g->s >> 7;
    g->s ^= g->s << 17;
    return g->s;
}

static size_t stream_read(void *ud, char *buf, size_t max)
{
    struct stream *g = ud;
    size_t n = g->len - g->off < max ? (size_t) (g->len - g->off) : max;
    size_t i = 0;
    while (i < n && g->avail) {
        buf[i++] = (char) g->word[8 - g->avail];
        g->avail--;
    }
    while (n - i >= 8) {
        uint64_t w = stream_next(g);
        memcpy(buf + i, &w, 8);
        i += 8;
    }
    while (i < n) {
        if (!g->avail) {
            uint64_t w = stream_next(g);
            memcpy(g->word, &w, 8);
            g->avail = 8;
        }
        buf[i++] = (char) g->word[8 - g->avail];
        g->avail--;
    }
    EVP_DigestUpdate(g->md5, buf, n);
    g->off += n;
    return n;
}

/* PUT len bytes of seed's stream as bucket/key on the source, streamed (one
 * request); the MD5 of the bytes and the source's ETag (unquoted). 0 or a
 * negative errno. */
static int put_big(const char *bucket, const char *key, uint64_t seed, uint64_t len, char md5[33],
                   char etag[80])
{
    struct stream g;
    stream_init(&g, seed, len);
    struct s3_call call;
    s3_call_init(&call);
    double t0 = now_s();
    int r = s3_put_object_prepare(&call, bucket, key, stream_read, &g, len);
    if (r == 0)
        r = s3_call_run(src, &call);
    char *e = NULL;
    if (r == 0)
        r = s3_call_etag(&call, &e);
    if (r < 0)
        printf("# PUT %s/%s (%llu bytes): %s\n", bucket, key, (unsigned long long) len, err_get());
    s3_call_finish(&call);
    md5_final_hex(md5, g.md5);
    EVP_MD_CTX_free(g.md5);
    snprintf(etag, 80, "%s", e ? e : "");
    free(e);
    if (r == 0)
        printf("# source %s/%s: %llu MiB in %.1f s, md5 %s\n", bucket, key,
               (unsigned long long) (len / MiB), now_s() - t0, md5);
    if (r == 0 && g.off != len) {
        printf("# PUT %s/%s: %llu of %llu bytes read\n", bucket, key, (unsigned long long) g.off,
               (unsigned long long) len);
        r = -EIO;
    }
    return r;
}

/* Download from the target and hash: 0 and md5 in out, or a negative errno. */
static int target_md5(const char *bucket, const char *key, char out[33], uint64_t *len)
{
    int r = download_md5(out, len, tgt, bucket, key);
    if (r < 0)
        printf("# GET %s/%s on the target: %s\n", bucket, key, err_get());
    return r;
}

/* The target holds bucket/key whole: its length and MD5 are the source's. */
static void target_holds(const char *bucket, const char *key, uint64_t size, const char *md5)
{
    char got[33];
    uint64_t glen = 0;
    CHECK_INT(target_md5(bucket, key, got, &glen), 0);
    CHECK_INT(glen, size);
    CHECK_STR(got, md5);
}

/* HEAD on the target: its x-amz-meta-rgwx-source-etag into out ("" when
 * absent); 0 or a negative errno (-ENOENT: no object). */
static int target_source_etag(const char *bucket, const char *key, char out[80])
{
    struct s3_call h;
    s3_call_init(&h);
    int r = s3_head_object(tgt, &h, bucket, key);
    const char *v = r == 0 ? s3_call_resp_header(&h, "x-amz-meta-rgwx-source-etag") : NULL;
    snprintf(out, 80, "%s", v ? v : "");
    s3_call_finish(&h);
    return r;
}

/* ------------------------------------------------------ target uploads */

/* Multipart uploads in progress in bucket (every page): their count, -1
 * when the list fails. found: whether upload id want is among them; first:
 * the first one's id. */
static long long target_uploads(const char *bucket, const char *want, bool *found, char *first,
                                size_t first_cap)
{
    long long n = 0;
    char *km = NULL, *um = NULL;
    if (found)
        *found = false;
    for (;;) {
        struct xml_list_uploads l = {0};
        int r = s3_list_uploads(tgt, bucket, NULL, km, um, &l);
        free(km);
        free(um);
        km = um = NULL;
        if (r < 0) {
            printf("# ListMultipartUploads %s: %s\n", bucket, err_get());
            return -1;
        }
        for (size_t i = 0; i < l.nuploads; i++) {
            n++;
            printf("# upload on the target: %s/%s id=%s\n", bucket, l.uploads[i].key,
                   l.uploads[i].upload_id);
            if (found && want && strcmp(l.uploads[i].upload_id, want) == 0)
                *found = true;
            if (first && n == 1)
                snprintf(first, first_cap, "%s", l.uploads[i].upload_id);
        }
        if (l.truncated && l.next_key_marker) {
            km = strdup(l.next_key_marker);
            um = l.next_upload_id_marker ? strdup(l.next_upload_id_marker) : NULL;
        }
        xml_list_uploads_finish(&l);
        if (!km)
            return n;
    }
}

/* Abort whatever is left in bucket (cleanup after a failure). */
static void target_abort_all(const char *bucket)
{
    struct xml_list_uploads l = {0};
    if (s3_list_uploads(tgt, bucket, NULL, NULL, NULL, &l) == 0)
        for (size_t i = 0; i < l.nuploads; i++)
            (void) s3_abort_multipart(tgt, bucket, l.uploads[i].key, l.uploads[i].upload_id);
    xml_list_uploads_finish(&l);
}

/* A multipart upload made by hand, directly on the target, with one 5 MiB
 * part (so that it is billed); its upload id (malloc'd) or NULL. */
static char *hand_made_upload(const char *bucket, const char *key)
{
    struct s3_call init;
    s3_call_init(&init);
    char *id = NULL;
    int r = s3_create_multipart(tgt, &init, bucket, key, &id);
    s3_call_finish(&init);
    if (r < 0) {
        printf("# CreateMultipartUpload %s/%s: %s\n", bucket, key, err_get());
        return NULL;
    }
    size_t len = 5 * MiB;
    char *data = malloc(len);
    struct stream g;
    stream_init(&g, 77, len);
    (void) stream_read(&g, data, len);
    EVP_MD_CTX_free(g.md5);
    char *etag = NULL;
    r = s3_upload_part(tgt, bucket, key, id, 1, data, len, &etag);
    if (r < 0)
        printf("# UploadPart %s/%s: %s\n", bucket, key, err_get());
    free(etag);
    free(data);
    return id;
}

/* End of a scenario: the big objects go from both sides (memstore keeps
 * them in RAM), and any upload a failure left behind. */
static void cleanup(const char *sb, const char *key, const char *tb)
{
    char tkey[256];
    snprintf(tkey, sizeof(tkey), "%s/%s", sb, key);
    target_abort_all(tb);
    int rs = s3_delete_object(src, sb, key);
    int rt = s3_delete_object(tgt, tb, tkey);
    if ((rs < 0 && rs != -ENOENT) || (rt < 0 && rt != -ENOENT))
        printf("# cleanup: delete source %d, target %d\n", rs, rt);
}

/* Expected part plan of the engine: max(min_part, ceil(size / 10000))
 * rounded up to 4 MiB. */
static uint64_t plan_part_size(uint64_t size, uint64_t min_part)
{
    uint64_t p = (size + 9999) / 10000;
    if (p < min_part)
        p = min_part;
    return (p + 4 * MiB - 1) / (4 * MiB) * (4 * MiB);
}

/* ================================================================ tests */

/* 1. A 300 MiB object, 16 MiB parts, 4 in flight: SIGKILL once >= 5 parts
 * are confirmed, restart: only the missing parts are sent. */
static void test_transfer__kill9_resume_sends_only_missing_parts(void)
{
    const char *scen = "kill";
    const uint64_t size = 300 * MiB, part = 16 * MiB;
    const unsigned conc = 4;
    const char *key = "big/300MiB.bin";
    char sb[64], tb[64], tkey[256], cfg[512], log[512], md5[33], etag[80];
    src_bucket(sb, sizeof(sb), scen);
    tgt_bucket(tb, sizeof(tb), scen);
    snprintf(tkey, sizeof(tkey), "%s/%s", sb, key);
    CHECK_INT(plan_part_size(size, part), part);
    const long long nparts = (long long) ((size + part - 1) / part);

    CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
    CHECK_INT(put_big(sb, key, 1, size, md5, etag), 0);
    CHECK_STR(etag, md5); /* a single PUT: the source ETag is the MD5 */

    struct cfgopt o = {.name = scen, .part_conc = conc, .threshold = "16M", .min_part = "16M"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(stats_reset(), 200);
    /* CompleteMultipartUpload is never answered in the first run: whatever
     * the timing, the kill lands before the object is whole */
    CHECK_INT(set_rules("[{\"op\":\"CompleteMultipartUpload\",\"action\":\"stall\","
                        "\"stall_ms\":0}]"),
              200);

    struct daemon d;
    double t0 = now_s();
    CHECK_INT(once_start(&d, cfg, "kill-once-1"), 0);
    /* a part starts only when one ended (and its record was written): with
     * 4 in flight, the 9th UploadPart under way means >= 5 confirmed */
    long long started = wait_counter("UploadPart", "requests", 2 * conc + 1, 120, &d);
    /* and then, to cut a part in the middle, until some part is half-sent */
    long long bytes_at_kill = counter("UploadPart", "bytes");
    for (double until = now_s() + 3; bytes_at_kill % (long long) part == 0 && now_s() < until;) {
        sleep_ms(2);
        bytes_at_kill = counter("UploadPart", "bytes");
    }
    int rc = daemon_kill9(&d);
    double t_kill = now_s() - t0;
    CHECK_INT(rc, 128 + SIGKILL);
    printf("# SIGKILL %.1f s in: %lld UploadParts started, %lld bytes (%.1f MiB) of parts sent\n",
           t_kill, started, bytes_at_kill, (double) bytes_at_kill / (double) MiB);

    /* the record says how far it got: >= 5 parts confirmed, not all */
    json_t *st = status_json(&ctx, cfg, "kill-after");
    json_t *ups = status_uploads(st);
    CHECK(ups && json_array_size(ups) == 1);
    json_t *u = ups ? json_array_get(ups, 0) : NULL;
    long long done_at_kill = jint(u, "parts_done");
    char upload_id[256];
    snprintf(upload_id, sizeof(upload_id), "%s", jstr(u, "upload_id"));
    printf("# after the kill: record %s -> %s upload %s, %lld of %lld parts done\n",
           jstr(u, "source"), jstr(u, "target"), upload_id, done_at_kill, nparts);
    CHECK(done_at_kill >= 5);
    CHECK(done_at_kill < nparts);
    CHECK_INT(jint(u, "size"), size);
    CHECK_INT(jint(u, "part_size"), part);
    json_decref(st);
    bool found = false;
    CHECK_INT(target_uploads(tb, upload_id, &found, NULL, 0), 1);
    CHECK(found && "the recorded upload is on the target");

    /* restart, counters not reset: both runs count */
    CHECK_INT(set_rules("[]"), 200);
    path_in(log, sizeof(log), &ctx, "kill-once-2.log");
    double t1 = now_s();
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    printf("# restart: sync --once %.1f s\n", now_s() - t1);
    CHECK(file_contains(log, "resuming upload"));
    print_stats("after both runs");

    long long sent = counter("UploadPart", "bytes");
    long long bound = (long long) size + (long long) (conc + 1) * (long long) part;
    printf("# UploadPart bytes over both runs: %lld (%.1f MiB), bound %lld (%.0f MiB), size %llu\n",
           sent, (double) sent / (double) MiB, bound, (double) bound / (double) MiB,
           (unsigned long long) size);
    CHECK(sent >= (long long) size);
    CHECK(sent <= bound);
    CHECK_INT(counter("CreateMultipartUpload", "requests"), 1); /* resumed, not started over */
    CHECK_INT(counter("AbortMultipartUpload", "requests"), 0);

    target_holds(tb, tkey, size, md5);
    char recorded[80];
    CHECK_INT(target_source_etag(tb, tkey, recorded), 0);
    CHECK_STR(recorded, etag);
    CHECK_INT(records_left(cfg, "kill-end"), 0);
    CHECK_INT(target_uploads(tb, NULL, NULL, NULL, 0), 0);
    cleanup(sb, key, tb);
}

/* 2. 20% of UploadParts fail (500, 503, reset mid-body, seeded): each part
 * is retried alone, the copy completes and nothing is left behind. */
static void test_transfer__part_failures_retried_alone(void)
{
    const char *scen = "flaky";
    const uint64_t size = 200 * MiB + 12345, part = 8 * MiB;
    const char *key = "big/200MiB.bin";
    char sb[64], tb[64], tkey[256], cfg[512], log[512], md5[33], etag[80];
    src_bucket(sb, sizeof(sb), scen);
    tgt_bucket(tb, sizeof(tb), scen);
    snprintf(tkey, sizeof(tkey), "%s/%s", sb, key);
    CHECK_INT(plan_part_size(size, part), part);

    CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
    CHECK_INT(put_big(sb, key, 2, size, md5, etag), 0);

    struct cfgopt o = {.name = scen, .part_conc = 4, .threshold = "16M", .min_part = "8M"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(stats_reset(), 200);
    /* 1 - (1 - 0.0717)^3 = 20% of UploadParts hit one of the three */
    CHECK_INT(set_rules("["
                        "{\"op\":\"UploadPart\",\"action\":\"500\",\"probability\":0.0717,"
                        "\"seed\":101},"
                        "{\"op\":\"UploadPart\",\"action\":\"503\",\"probability\":0.0717,"
                        "\"seed\":202},"
                        "{\"op\":\"UploadPart\",\"action\":\"reset\",\"after_bytes\":4194304,"
                        "\"probability\":0.0717,\"seed\":303}"
                        "]"),
              200);
    int rc = -1, runs = 0;
    long long retried = 0;
    double t0 = now_s();
    while (rc != 0 && runs < 3) {
        char name[64];
        snprintf(name, sizeof(name), "flaky-once-%d.log", ++runs);
        path_in(log, sizeof(log), &ctx, name);
        rc = sync_once(&ctx, cfg, log, ONCE_MS);
        retried += log_total(log, "retried");
        printf("# sync --once #%d: exit %d (%.1f s in)\n", runs, rc, now_s() - t0);
    }
    CHECK_INT(rc, 0);
    print_stats("with faults");
    long long injected = counter("UploadPart", "injected");
    long long forwarded = counter("UploadPart", "requests");
    long long sent = counter("UploadPart", "bytes");
    long long nparts = (long long) ((size + part - 1) / part);
    printf("# faults injected on UploadPart: %lld of %lld attempts (%lld parts), %d sync "
           "--once run(s), %.1f s\n",
           injected, injected + forwarded, nparts, runs, now_s() - t0);
    CHECK(injected > 0 && "the rules fired: else this proves nothing");
    /* every fault is one part sent again (a part that gave up is not) */
    CHECK(retried <= injected);
    CHECK(runs > 1 || retried == injected);
    /* retried alone: nothing but the failed parts went again (a reset may
     * have sent up to a whole part before the cut) */
    CHECK(sent >= (long long) size);
    CHECK(sent <= (long long) size + injected * (long long) part);
    CHECK_INT(set_rules("[]"), 200);

    target_holds(tb, tkey, size, md5);
    CHECK_INT(records_left(cfg, "flaky-end"), 0);
    CHECK_INT(target_uploads(tb, NULL, NULL, NULL, 0), 0);
    cleanup(sb, key, tb);
}

/* Three objects of six 8 MiB parts (the last one 7 MiB + 7 bytes: its ring
 * is 1 MiB too), part_concurrency 4 each. With the defaults their parts go
 * in parallel across objects: the proxy sees more UploadParts at once than
 * one object may have. With sync.max_inflight_parts 3, never more than 3 at
 * once, and still more than one. With an 8 MiB byte budget (8 rings of
 * 1 MiB; the least a budget may be is one part), never more than 8: copies
 * wait for buffers, and all complete (a copy once waited forever for a
 * buffer). Everything lands, no record is left. */
static void test_transfer__parts_in_flight_are_capped_over_objects(void)
{
    const uint64_t size = 47 * MiB + 7;
    static const struct {
        const char *scen;
        unsigned parts;
        const char *inflight;
        long long min_peak, max_peak;
    } runs[3] = {
        {"partdef", 0, NULL, 5, 16}, {"partcap", 3, NULL, 2, 3}, {"budget", 0, "8M", 2, 8}};
    for (int r = 0; r < 3; r++) {
        const char *scen = runs[r].scen;
        char sb[64], tb[64], cfg[512], log[512], name[64];
        char md5[3][33], etag[80];
        src_bucket(sb, sizeof(sb), scen);
        tgt_bucket(tb, sizeof(tb), scen);
        CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
        for (int i = 0; i < 3; i++) {
            char key[32];
            snprintf(key, sizeof(key), "obj%d", i);
            CHECK_INT(put_big(sb, key, 50 + (uint64_t) i, size, md5[i], etag), 0);
        }
        struct cfgopt o = {.name = scen,
                           .part_conc = 4,
                           .threshold = "16M",
                           .min_part = "8M",
                           .inflight = runs[r].inflight,
                           .parts = runs[r].parts};
        CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
        CHECK_INT(set_rules("[]"), 200);
        CHECK_INT(stats_reset(), 200);
        snprintf(name, sizeof(name), "%s-once.log", scen);
        path_in(log, sizeof(log), &ctx, name);
        CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
        long long peak = counter("UploadPart", "peak");
        printf("# %s: max_inflight_parts %u, max_inflight_bytes %s: at most %lld UploadParts at "
               "once\n",
               scen, runs[r].parts ? runs[r].parts : 16, runs[r].inflight ? runs[r].inflight : "1G",
               peak);
        CHECK(peak >= runs[r].min_peak);
        CHECK(peak <= runs[r].max_peak);
        CHECK_INT(counter("UploadPart", "requests"), 18);
        for (int i = 0; i < 3; i++) {
            char key[32], tkey[128];
            snprintf(key, sizeof(key), "obj%d", i);
            snprintf(tkey, sizeof(tkey), "%s/%s", sb, key);
            target_holds(tb, tkey, size, md5[i]);
            cleanup(sb, key, tb);
        }
        snprintf(name, sizeof(name), "%s-end", scen);
        CHECK_INT(records_left(cfg, name), 0);
    }
}

/* sync.bandwidth_limit: what goes to the target, multipart parts and single
 * PUTs together, is held to the rate. 2 MiB/s for ~9.9 MiB must take at
 * least ~4.4 s (the first 1 MiB allowed for bursts and rounding); unlimited,
 * it takes well under a second here. Only this lower bound is checked: a
 * slow machine makes the copy slower, never faster. The bytes land intact. */
static void test_transfer__bandwidth_limit_holds_bodies_back(void)
{
    const char *scen = "bw";
    const uint64_t big = 9 * MiB + 11, small = 300 * 1024 + 5, rate = 2 * MiB;
    static const char *const keys[4] = {"big", "small1", "small2", "small3"};
    const uint64_t sizes[4] = {big, small, small, small};
    char sb[64], tb[64], cfg[512], log[512];
    char md5[4][33], etag[80];
    src_bucket(sb, sizeof(sb), scen);
    tgt_bucket(tb, sizeof(tb), scen);
    CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
    for (int i = 0; i < 4; i++)
        CHECK_INT(put_big(sb, keys[i], 70 + (uint64_t) i, sizes[i], md5[i], etag), 0);
    struct cfgopt o = {
        .name = scen, .part_conc = 4, .threshold = "8M", .min_part = "8M", .bw = "2M"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(set_rules("[]"), 200);
    path_in(log, sizeof(log), &ctx, "bw-once.log");
    double t0 = now_s();
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    double took = now_s() - t0;
    double floor_s = (double) (big + 3 * small - MiB) / (double) rate;
    printf("# %.1f MiB at 2 MiB/s: %.2f s (at least %.2f s)\n", (double) (big + 3 * small) / MiB,
           took, floor_s);
    CHECK(took >= floor_s);
    for (int i = 0; i < 4; i++) {
        char tkey[128];
        snprintf(tkey, sizeof(tkey), "%s/%s", sb, keys[i]);
        target_holds(tb, tkey, sizes[i], md5[i]);
        cleanup(sb, keys[i], tb);
    }
    CHECK_INT(records_left(cfg, "bw-end"), 0);
}

/* 3. The source object is overwritten (other bytes, other size) while its
 * parts are in flight: the old upload is aborted, the new bytes land. */
static void test_transfer__source_overwritten_mid_upload(void)
{
    const char *scen = "overw";
    const uint64_t size1 = 128 * MiB, size2 = 88 * MiB + 4321;
    const char *key = "big/overwritten.bin";
    char sb[64], tb[64], tkey[256], cfg[512], md5_1[33], etag1[80], md5_2[33], etag2[80];
    src_bucket(sb, sizeof(sb), scen);
    tgt_bucket(tb, sizeof(tb), scen);
    snprintf(tkey, sizeof(tkey), "%s/%s", sb, key);
    CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
    CHECK_INT(put_big(sb, key, 3, size1, md5_1, etag1), 0);

    struct cfgopt o = {
        .name = scen, .poll = 1, .part_conc = 4, .threshold = "16M", .min_part = "16M"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(stats_reset(), 200);
    /* every UploadPart held 4 s: with 8 parts and 4 in flight, parts 5-8
     * are read from the source only after the overwrite */
    CHECK_INT(set_rules("[{\"op\":\"UploadPart\",\"action\":\"stall\",\"stall_ms\":4000}]"), 200);

    struct daemon d;
    double t0 = now_s();
    CHECK_INT(daemon_start(&d, &ctx, cfg, "overw-run"), 0);
    if (d.pid <= 0)
        goto out;
    CHECK(wait_counter("UploadPart", "injected", 1, 60, &d) >= 1);
    double t_stall = now_s();
    char old_id[256] = "";
    CHECK_INT(target_uploads(tb, NULL, NULL, old_id, sizeof(old_id)), 1);

    CHECK_INT(put_big(sb, key, 4, size2, md5_2, etag2), 0);
    double t_over = now_s();
    CHECK_INT(set_rules("[]"), 200);
    printf("# first part stalled %.1f s after start; overwrite done %.1f s later; old upload %s\n",
           t_stall - t0, t_over - t_stall, old_id);
    /* parts 5-8 are read from the source only after a stalled part ended */
    CHECK(t_over - t_stall < 4.0 && "the overwrite landed while parts were in flight");
    json_t *st = status_json(&ctx, cfg, "overw-during");
    json_t *ups = status_uploads(st);
    json_t *u = ups && json_array_size(ups) == 1 ? json_array_get(ups, 0) : NULL;
    CHECK_STR(jstr(u, "upload_id"), old_id); /* (status reads the state before asking the source) */
    json_decref(st);

    /* the new version lands: its bytes, its source etag */
    bool landed = false;
    char recorded[80] = "";
    while (now_s() - t_over < 120) {
        if (target_source_etag(tb, tkey, recorded) == 0 && strcmp(recorded, etag2) == 0) {
            landed = true;
            break;
        }
        if (!daemon_alive(&d))
            break;
        sleep_ms(300);
    }
    printf("# new version on the target %.1f s after the overwrite\n", now_s() - t_over);
    CHECK(landed && "the target holds the new version");
    if (!landed) {
        printf("# target's x-amz-meta-rgwx-source-etag \"%s\", want \"%s\"\n", recorded, etag2);
        print_tail(d.log, 30);
    }
    target_holds(tb, tkey, size2, md5_2);
    print_stats("after the overwrite");
    /* the old upload was aborted (by us: the proxy saw it), not left */
    CHECK(counter("AbortMultipartUpload", "requests") >= 1);
    CHECK_INT(counter("CreateMultipartUpload", "requests"), 2);
    struct xml_list_parts lp = {0};
    int lr = s3_list_parts(tgt, tb, tkey, old_id, 0, &lp);
    xml_list_parts_finish(&lp);
    CHECK_INT(lr, -ENOENT);
    CHECK_INT(target_uploads(tb, NULL, NULL, NULL, 0), 0);
    CHECK_INT(records_left(cfg, "overw-end"), 0);
    CHECK_INT(daemon_stop(&d, STOP_MS), 0);
out:
    (void) set_rules("[]");
    (void) daemon_kill9(&d);
    cleanup(sb, key, tb);
}

/* 4. Orphan sweep: an upload started by hand under our target path is
 * aborted by `uploads --abort-orphans`; one owned by a record is kept,
 * and the copy it belongs to then completes. */
static void test_transfer__orphan_sweep_keeps_owned_uploads(void)
{
    const char *scen = "orph";
    const uint64_t size = 160 * MiB, part = 16 * MiB;
    const unsigned conc = 4;
    const char *key = "big/owned.bin";
    char sb[64], tb[64], tkey[256], okey[256], cfg[512], log[512], md5[33], etag[80];
    src_bucket(sb, sizeof(sb), scen);
    tgt_bucket(tb, sizeof(tb), scen);
    snprintf(tkey, sizeof(tkey), "%s/%s", sb, key);
    snprintf(okey, sizeof(okey), "%s/hand-made/orphan", sb);
    CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
    CHECK_INT(put_big(sb, key, 5, size, md5, etag), 0);
    struct cfgopt o = {.name = scen, .part_conc = conc, .threshold = "16M", .min_part = "16M"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(stats_reset(), 200);

    /* an upload nobody owns, under our target path: aborted */
    CHECK_INT(s3_create_bucket(tgt, tb, NULL), 0);
    char *orphan = hand_made_upload(tb, okey);
    CHECK(orphan != NULL);
    bool found = false;
    CHECK_INT(target_uploads(tb, orphan, &found, NULL, 0), 1);
    CHECK(found);
    path_in(log, sizeof(log), &ctx, "orph-uploads-1.log");
    CHECK_INT(abort_orphans(cfg, log), 0);
    CHECK_INT(target_uploads(tb, orphan, &found, NULL, 0), 0);
    CHECK(!found && "the orphan is gone");
    CHECK(file_contains(log, orphan));
    free(orphan);

    /* an upload owned by a record: a copy SIGKILLed after >= 1 part */
    CHECK_INT(set_rules("[{\"op\":\"CompleteMultipartUpload\",\"action\":\"stall\","
                        "\"stall_ms\":0}]"),
              200);
    struct daemon d;
    CHECK_INT(once_start(&d, cfg, "orph-once-1"), 0);
    (void) wait_counter("UploadPart", "requests", conc + 1, 120, &d);
    CHECK_INT(daemon_kill9(&d), 128 + SIGKILL);
    CHECK_INT(set_rules("[]"), 200);
    json_t *st = status_json(&ctx, cfg, "orph-after-kill");
    json_t *ups = status_uploads(st);
    CHECK(ups && json_array_size(ups) == 1);
    json_t *u = ups ? json_array_get(ups, 0) : NULL;
    char owned[256];
    snprintf(owned, sizeof(owned), "%s", jstr(u, "upload_id"));
    printf("# owned upload %s: %lld parts done\n", owned, jint(u, "parts_done"));
    CHECK(jint(u, "parts_done") >= 1);
    CHECK(jint(u, "parts_done") < (long long) ((size + part - 1) / part));
    json_decref(st);

    /* one more orphan beside it: the same sweep tells them apart */
    orphan = hand_made_upload(tb, okey);
    CHECK(orphan != NULL);
    path_in(log, sizeof(log), &ctx, "orph-uploads-2.log");
    CHECK_INT(abort_orphans(cfg, log), 0);
    bool orphan_left = true;
    CHECK_INT(target_uploads(tb, orphan ? orphan : "", &orphan_left, NULL, 0), 1);
    CHECK(!orphan_left && "the second orphan is gone");
    CHECK_INT(target_uploads(tb, owned, &found, NULL, 0), 1);
    CHECK(found && "the owned upload is kept");
    /* the sweeps' aborts go to the connection, the proxy: both orphans, no more */
    CHECK_INT(counter("AbortMultipartUpload", "requests"), 2);
    free(orphan);

    /* and the copy it belongs to completes from it */
    path_in(log, sizeof(log), &ctx, "orph-once-2.log");
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    CHECK(file_contains(log, "resuming upload"));
    CHECK_INT(counter("CreateMultipartUpload", "requests"), 1);
    target_holds(tb, tkey, size, md5);
    CHECK_INT(records_left(cfg, "orph-end"), 0);
    CHECK_INT(target_uploads(tb, NULL, NULL, NULL, 0), 0);
    cleanup(sb, key, tb);
}

/* 5. Small objects of a full sync into an empty target prefix: a GET and a
 * PUT each, one LIST for the prefix, no target HEAD, and the metadata a
 * source HEAD would have given still lands. A second full sync (a fresh
 * state, the same target) finds the prefix held: a HEAD each, nothing sent. */
#define SMALL_N 24

/* len random bytes (malloc'd; NULL when out of memory) and their MD5. */
static unsigned char *random_data(size_t len, char md5[33])
{
    unsigned char *data = malloc(len ? len : 1);
    if (!data)
        return NULL;
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char) random();
    md5_hex(md5, data, len);
    return data;
}

static int put_small(const char *bucket, const char *key, size_t len, bool with_meta, char md5[33])
{
    unsigned char *data = random_data(len, md5);
    if (!data)
        return -ENOMEM;
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_call_set(&call, "PUT", bucket, key);
    if (r == 0)
        r = s3_call_body(&call, data, len);
    if (r == 0 && with_meta) {
        r = s3_call_header(&call, "Content-Type", "text/x-small");
        if (r == 0)
            r = s3_call_header(&call, "x-amz-meta-colour", "teal");
        if (r == 0)
            r = s3_call_header(&call, "x-amz-tagging", "tier=gold");
    }
    if (r == 0)
        r = s3_call_run(src, &call);
    if (r < 0)
        printf("# PUT %s/%s: %s\n", bucket, key, err_get());
    s3_call_finish(&call);
    free(data);
    return r;
}

static void test_transfer__small_full_sync_costs_get_and_put(void)
{
    const char *scen = "small";
    char sb[64], tb[64], cfg[512], log[512], md5[SMALL_N][33];
    src_bucket(sb, sizeof(sb), scen);
    tgt_bucket(tb, sizeof(tb), scen);
    CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
    for (int i = 0; i < SMALL_N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "s%02d", i);
        /* 0 bytes, a few, and up to the short way's 256 KiB ring and past it */
        size_t len = i == 0 ? 0 : i == SMALL_N - 1 ? 256 * 1024 + 1 : (size_t) i * 9973;
        CHECK_INT(put_small(sb, key, len, i == 1, md5[i]), 0);
    }
    struct cfgopt o = {.name = scen, .part_conc = 4, .threshold = "32M", .min_part = "8M"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(set_rules("[]"), 200);
    CHECK_INT(stats_reset(), 200);
    path_in(log, sizeof(log), &ctx, "small-once.log");
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    print_stats("after the first full sync");
    CHECK_INT(counter("PutObject", "requests"), SMALL_N);
    CHECK_INT(counter("ListObjects", "requests"), 1);
    /* the one past the ring goes the long way (HEAD source, HEAD target) */
    CHECK_INT(counter("HeadObject", "requests"), 1);
    for (int i = 0; i < SMALL_N; i++) {
        char tkey[128], got[33];
        uint64_t glen = 0;
        snprintf(tkey, sizeof(tkey), "%s/s%02d", sb, i);
        CHECK_INT(target_md5(tb, tkey, got, &glen), 0);
        CHECK_STR(got, md5[i]);
    }
    struct s3_call head;
    s3_call_init(&head);
    char tkey[128];
    snprintf(tkey, sizeof(tkey), "%s/s01", sb);
    CHECK_INT(s3_head_object(tgt, &head, tb, tkey), 0);
    const char *ct = s3_call_resp_header(&head, "content-type");
    const char *colour = s3_call_resp_header(&head, "x-amz-meta-colour");
    const char *tags = s3_call_resp_header(&head, "x-amz-tagging-count");
    const char *setag = s3_call_resp_header(&head, "x-amz-meta-rgwx-source-etag");
    CHECK_STR(ct ? ct : "", "text/x-small");
    CHECK_STR(colour ? colour : "", "teal");
    CHECK_STR(tags ? tags : "", "1");
    CHECK_STR(setag ? setag : "", md5[1]);
    s3_call_finish(&head);

    /* again from a fresh state: everything is there already */
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(stats_reset(), 200);
    path_in(log, sizeof(log), &ctx, "small-once-2.log");
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    print_stats("after the second full sync");
    CHECK_INT(counter("PutObject", "requests"), 0);
    CHECK_INT(counter("ListObjects", "requests"), 1);
    CHECK_INT(counter("HeadObject", "requests"), SMALL_N);
    for (int i = 0; i < SMALL_N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "s%02d", i);
        cleanup(sb, key, tb);
    }
}

/* 6. Parts the target stores with other bytes than were sent (the proxy
 * flips one byte of two UploadParts): their ETags are not the MD5 of what
 * was read, so they are sent again; the object lands whole. */
static void test_transfer__corrupted_parts_sent_again(void)
{
    const char *scen = "flip";
    const uint64_t size = 40 * MiB + 3;
    char sb[64], tb[64], cfg[512], log[512], md5[33], etag[80];
    src_bucket(sb, sizeof(sb), scen);
    tgt_bucket(tb, sizeof(tb), scen);
    CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
    CHECK_INT(put_big(sb, "obj", 77, size, md5, etag), 0);
    struct cfgopt o = {.name = scen, .part_conc = 4, .threshold = "16M", .min_part = "8M"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(stats_reset(), 200);
    CHECK_INT(set_rules("[{\"op\":\"UploadPart\",\"action\":\"corrupt\",\"after_bytes\":12345,"
                        "\"count\":2}]"),
              200);
    path_in(log, sizeof(log), &ctx, "flip-once.log");
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    CHECK_INT(counter("UploadPart", "injected"), 2);
    /* 6 parts, 2 of them twice */
    CHECK_INT(counter("UploadPart", "requests"), 8);
    CHECK_INT(log_total(log, "retried"), 2);
    char tkey[128];
    snprintf(tkey, sizeof(tkey), "%s/obj", sb);
    target_holds(tb, tkey, size, md5);
    CHECK_INT(records_left(cfg, "flip-end"), 0);
    CHECK_INT(target_uploads(tb, NULL, NULL, NULL, 0), 0);
    CHECK_INT(set_rules("[]"), 200);
    cleanup(sb, "obj", tb);
}

/* A source object made by multipart upload (two parts: its ETag is
 * "<md5 of md5s>-2", no MD5 of the bytes): the MD5 of its bytes in md5. */
static int put_multipart_src(const char *bucket, const char *key, size_t len1, size_t len2,
                             char md5[33])
{
    unsigned char *data = random_data(len1 + len2, md5);
    if (!data)
        return -ENOMEM;
    struct s3_call call;
    s3_call_init(&call);
    char *uid = NULL;
    struct xml_part parts[2] = {{.number = 1, .size = len1}, {.number = 2, .size = len2}};
    int r = s3_create_multipart(src, &call, bucket, key, &uid);
    if (r == 0)
        r = s3_upload_part(src, bucket, key, uid, 1, data, len1, &parts[0].etag);
    if (r == 0)
        r = s3_upload_part(src, bucket, key, uid, 2, data + len1, len2, &parts[1].etag);
    if (r == 0)
        r = s3_complete_multipart(src, bucket, key, uid, parts, 2, NULL);
    if (r < 0)
        printf("# multipart PUT %s/%s: %s\n", bucket, key, err_get());
    s3_call_finish(&call);
    free(parts[0].etag);
    free(parts[1].etag);
    free(uid);
    free(data);
    return r;
}

/* 7. Single PUTs that fail are sent again by the copy itself, the source
 * read again: the proxy corrupts the first three PutObjects, answers 503 to
 * the next two and cuts the one after. Two sources have an MD5 ETag (a
 * small one read whole first, a streamed one): it goes as Content-MD5 and
 * the target refuses the corrupted bytes (BadDigest). The third is a
 * multipart source, whose ETag is no MD5: the target stores the corrupted
 * bytes, its ETag is not the MD5 hashed here, and the next PUT replaces
 * them. One sync --once run lands all three whole. Then a PUT corrupted on
 * every attempt: its copy fails after COPY_ATTEMPTS (6) sends, the failure
 * is recorded in its own words, and the target never holds the corrupted
 * bytes. */
static void test_transfer__single_puts_sent_again(void)
{
    const char *scen = "single";
    const char *keys[3] = {"fast.bin", "stream.bin", "mpsrc.bin"};
    const uint64_t sizes[3] = {100 * 1024 + 1, 3 * MiB + 5, 6 * MiB + 7};
    char sb[64], tb[64], cfg[512], log[512], md5[3][33], etag[80], tkey[128];
    src_bucket(sb, sizeof(sb), scen);
    tgt_bucket(tb, sizeof(tb), scen);
    CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
    CHECK_INT(put_small(sb, keys[0], (size_t) sizes[0], false, md5[0]), 0);
    CHECK_INT(put_big(sb, keys[1], 7, sizes[1], md5[1], etag), 0);
    CHECK_STR(etag, md5[1]); /* a single-PUT source: its ETag is the MD5 */
    CHECK_INT(put_multipart_src(sb, keys[2], 5 * MiB, (size_t) (sizes[2] - 5 * MiB), md5[2]), 0);

    struct cfgopt o = {.name = scen, .part_conc = 4, .threshold = "16M", .min_part = "8M"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(stats_reset(), 200);
    CHECK_INT(set_rules("[{\"op\":\"PutObject\",\"action\":\"corrupt\",\"after_bytes\":1000,"
                        "\"count\":3},"
                        "{\"op\":\"PutObject\",\"action\":\"503\",\"count\":2},"
                        "{\"op\":\"PutObject\",\"action\":\"reset\",\"after_bytes\":2000,"
                        "\"count\":1}]"),
              200);
    path_in(log, sizeof(log), &ctx, "single-once.log");
    CHECK_INT(sync_once(&ctx, cfg, log, ONCE_MS), 0);
    print_stats("single PUTs with faults");
    CHECK_INT(counter("PutObject", "injected"), 6);
    /* forwarded: 3 corrupted, 1 cut, 3 that landed (the 503s never went up) */
    CHECK_INT(counter("PutObject", "requests"), 7);
    CHECK_INT(log_total(log, "copied"), 3);
    CHECK_INT(log_total(log, "retried"), 6);
    for (int i = 0; i < 3; i++) {
        snprintf(tkey, sizeof(tkey), "%s/%s", sb, keys[i]);
        target_holds(tb, tkey, sizes[i], md5[i]);
    }

    /* every PUT of the small object corrupted: it never lands */
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    snprintf(tkey, sizeof(tkey), "%s/%s", sb, keys[0]);
    CHECK_INT(s3_delete_object(tgt, tb, tkey), 0);
    for (int i = 1; i < 3; i++)
        cleanup(sb, keys[i], tb);
    CHECK_INT(stats_reset(), 200);
    CHECK_INT(set_rules("[{\"op\":\"PutObject\",\"action\":\"corrupt\",\"after_bytes\":10}]"), 200);
    path_in(log, sizeof(log), &ctx, "single-bad-once.log");
    CHECK(sync_once(&ctx, cfg, log, ONCE_MS) != 0);
    /* COPY_ATTEMPTS sends, twice: --once tries its failed shards once more */
    CHECK_INT(counter("PutObject", "injected"), 12);
    CHECK_INT(log_total(log, "retried"), 10); /* 5 of each copy's 6 sends were again */
    CHECK_INT(log_total(log, "copied"), 0);
    /* the retry record and its log line name the failure (the first one
     * once named the state lookup of the retry record instead) */
    CHECK(file_contains(log, "msg=\"sync failed, retry in"));
    CHECK(!file_contains(log, "retry_get"));
    CHECK(file_contains(log, "BadDigest"));
    struct s3_call head;
    s3_call_init(&head);
    CHECK_INT(s3_head_object(tgt, &head, tb, tkey), -ENOENT);
    s3_call_finish(&head);
    CHECK_INT(set_rules("[]"), 200);
    cleanup(sb, keys[0], tb);
}

/* The curl path, as on an https target: with RGW2CLOUD_CURL_ONLY=1 every
 * body goes through curl's callbacks instead of our own sockets. Parts of a
 * multipart copy answered 503 or cut mid-body, and a single PUT corrupted
 * on the way, are sent again; both objects land whole, no record and no
 * upload is left. */
static void test_transfer__curl_path_sends_again_too(void)
{
    const char *scen = "curlpath";
    const uint64_t big = 40 * MiB + 3, small = 300 * 1024 + 1;
    static const char *const keys[2] = {"big.bin", "small.bin"};
    const uint64_t sizes[2] = {big, small};
    char sb[64], tb[64], cfg[512], log[512], md5[2][33], etag[80], tkey[128];
    src_bucket(sb, sizeof(sb), scen);
    tgt_bucket(tb, sizeof(tb), scen);
    CHECK_INT(s3_create_bucket(src, sb, NULL), 0);
    for (int i = 0; i < 2; i++)
        CHECK_INT(put_big(sb, keys[i], 90 + (uint64_t) i, sizes[i], md5[i], etag), 0);
    struct cfgopt o = {.name = scen, .part_conc = 4, .threshold = "16M", .min_part = "8M"};
    CHECK_INT(cfg_write(cfg, sizeof(cfg), &o), 0);
    CHECK_INT(stats_reset(), 200);
    CHECK_INT(set_rules("[{\"op\":\"UploadPart\",\"action\":\"503\",\"count\":1},"
                        "{\"op\":\"UploadPart\",\"action\":\"reset\",\"after_bytes\":1048576,"
                        "\"count\":1},"
                        "{\"op\":\"PutObject\",\"action\":\"corrupt\",\"after_bytes\":1000,"
                        "\"count\":1}]"),
              200);
    path_in(log, sizeof(log), &ctx, "curlpath-once.log");
    const char *args[] = {bin, "sync", "-c", cfg, "--once", "--log-level", "debug", NULL};
    setenv("RGW2CLOUD_CURL_ONLY", "1", 1);
    int rc = run_cmd(args, log, log, OUT_APPEND, ONCE_MS);
    unsetenv("RGW2CLOUD_CURL_ONLY");
    CHECK_INT(rc, 0);
    CHECK(file_contains(log, "level=debug") && !file_contains(log, "http=raw"));
    print_stats("curl path with faults");
    CHECK_INT(counter("UploadPart", "injected"), 2);
    CHECK_INT(counter("PutObject", "injected"), 1);
    CHECK_INT(log_total(log, "copied"), 2);
    CHECK_INT(log_total(log, "retried"), 3);
    CHECK_INT(set_rules("[]"), 200);
    for (int i = 0; i < 2; i++) {
        snprintf(tkey, sizeof(tkey), "%s/%s", sb, keys[i]);
        target_holds(tb, tkey, sizes[i], md5[i]);
    }
    CHECK_INT(records_left(cfg, "curlpath-end"), 0);
    CHECK_INT(target_uploads(tb, NULL, NULL, NULL, 0), 0);
    for (int i = 0; i < 2; i++)
        cleanup(sb, keys[i], tb);
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
    proxy_bin = getenv("FAULTPROXY_BIN");
    ctx = (struct harness){.bin = bin, .workdir = workdir};
    CHECK(bin && access(bin, X_OK) == 0 && "RGW2CLOUD_BIN is the rgw2cloud binary");
    CHECK(proxy_bin && access(proxy_bin, X_OK) == 0 && "FAULTPROXY_BIN is the faultproxy binary");
    const char *need_s[] = {"LAB_ENDPOINT",
                            "LAB_SYSTEM_ACCESS_KEY",
                            "LAB_SYSTEM_SECRET_KEY",
                            "LAB_USER_ACCESS_KEY",
                            "LAB_USER_SECRET_KEY",
                            "LAB_ZONEGROUP",
                            "LAB_EXPORTER_ZONE",
                            "LAB_EXPORTER_PORT",
                            "LAB_REGION",
                            NULL};
    const char *need_t[] = {"LAB_ENDPOINT", "LAB_ACCESS_KEY", "LAB_SECRET_KEY", "LAB_REGION", NULL};
    ok = ok && env_has_all(&senv, need_s, "source");
    ok = ok && env_has_all(&tenv, need_t, "target");
    const char *tep_url = ok ? labenv_get(&tenv, "LAB_ENDPOINT") : "";
    ok = ok && strncmp(tep_url, "http://", 7) == 0;
    CHECK(ok && "lab env complete, target endpoint http://HOST:PORT");
    if (!ok || !bin || access(bin, X_OK) != 0 || !proxy_bin || access(proxy_bin, X_OK) != 0)
        return t_done();
    exporter_port = env_port(&senv, "LAB_EXPORTER_PORT");
    snprintf(run_id, sizeof(run_id), "tr%lx%02lx", (unsigned long) time(NULL) & 0xffffffful,
             (unsigned long) (random() % 256));
    workdir_template(workdir, sizeof(workdir), "rgw2cloud-test-transfer");
    CHECK(mkdtemp(workdir) != NULL);
    printf("# run %s, work dir %s, rgw2cloud %s\n", run_id, workdir, bin);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    char stats[320];
    path_in(stats, sizeof(stats), &ctx, "proxy-stats.json");
    proxy_pid = proxy_spawn(&proxy_port, proxy_bin, "127.0.0.1:0", tep_url + 7, stats);
    CHECK(proxy_pid > 0 && proxy_port > 0 && "faultproxy in front of the target");
    printf("# faultproxy on 127.0.0.1:%d -> %s\n", proxy_port, tep_url + 7);

    CHECK_INT(loop_new(&loop, NULL), 0);
    struct s3_endpoint sep, tep; /* tep: the target directly, not the proxy */
    lab_source_user(&sep, &senv);
    lab_target(&tep, &tenv);
    CHECK_INT(s3_client_new(&src, loop, &sep), 0);
    CHECK_INT(s3_client_new(&tgt, loop, &tep), 0);
    if (src && tgt && proxy_port > 0) {
        double t0 = now_s();
        RUN(test_transfer__kill9_resume_sends_only_missing_parts);
        printf("# (%.0f s)\n", now_s() - t0);
        RUN(test_transfer__part_failures_retried_alone);
        printf("# (%.0f s)\n", now_s() - t0);
        RUN(test_transfer__source_overwritten_mid_upload);
        printf("# (%.0f s)\n", now_s() - t0);
        RUN(test_transfer__orphan_sweep_keeps_owned_uploads);
        printf("# (%.0f s)\n", now_s() - t0);
        RUN(test_transfer__parts_in_flight_are_capped_over_objects);
        printf("# (%.0f s)\n", now_s() - t0);
        RUN(test_transfer__small_full_sync_costs_get_and_put);
        printf("# (%.0f s)\n", now_s() - t0);
        RUN(test_transfer__corrupted_parts_sent_again);
        printf("# (%.0f s)\n", now_s() - t0);
        RUN(test_transfer__single_puts_sent_again);
        printf("# (%.0f s)\n", now_s() - t0);
        RUN(test_transfer__curl_path_sends_again_too);
        printf("# (%.0f s)\n", now_s() - t0);
        RUN(test_transfer__bandwidth_limit_holds_bodies_back);
        printf("# total %.0f s\n", now_s() - t0);
    }

    s3_client_free(src);
    s3_client_free(tgt);
    loop_free(loop);
    if (proxy_pid > 0) {
        kill(proxy_pid, SIGTERM);
        CHECK_INT(wait_exit(proxy_pid, 5000), 0);
    }
    curl_global_cleanup();
    /* configs (with secrets), state dbs, logs: kept only for a failure */
    if (t_failed == 0)
        workdir_remove(workdir);
    else
        printf("# configs, state dbs and logs kept in %s\n", workdir);
    return t_done();
}
