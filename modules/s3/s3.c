/* The S3 target module: AWS S3, Tencent COS, any S3 (another RGW too).
 *
 * A copy is a small state machine on the loop:
 *   HEAD source -> HEAD target (skip when it holds this etag+mtime)
 *   -> create the target bucket (once per process) -> GET source | PUT target
 * The GET streams into a ring buffer the PUT drains (curl pause/unpause on
 * both sides), so memory per copy is the ring, whatever the object size.
 *
 * Small objects of a full sync take a shorter way: the listing already gave
 * their etag, size and mtime, so there is no source HEAD; the whole object is
 * read into the ring first (its GET answer carries the metadata a HEAD would
 * have), then PUT. And where a bucket's prefix on the target was empty when
 * its full sync began (one LIST, probe_start), there is no target HEAD
 * either: a small object costs a GET and a PUT.
 * The GET carries If-Match: <source etag>: an object that changes mid-copy
 * fails with 412 and is left to the log entry that changed it; never a torn
 * copy. Where the source ETag is the MD5 of the object (a single-PUT source),
 * it goes with the PUT as Content-MD5 and the target checks the bytes: no
 * hashing here. Else the MD5 of the bytes sent is checked against the PUT's
 * ETag. A single PUT that fails on a retryable error (a 5xx, a reset, bytes
 * that fail the MD5 check) is sent again, with the source read again, up to
 * COPY_ATTEMPTS times with capped exponential backoff and jitter. */
#include "sync/target.h"

#include "config.h"
#include "err.h"
#include "hex.h"
#include "http/s3.h"
#include "http/sigv4.h"
#include "log.h"
#include "multipart.h"
#include "http/xml.h"
#include "sync/grants.h"
#include "sync/mapping.h"
#include "sync/parts.h"
#include "timefmt.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RING_SIZE     (256u * 1024u)
#define META_PREFIX   "x-amz-meta-"
#define WAIT_MS       20 /* polling for another copy's CreateBucket or LIST probe */
#define COPY_ATTEMPTS 6  /* sends of one single PUT, the first one included */

/* Is there anything under a bucket's prefix on the target? Asked once per
 * process, by the first full-sync object of that prefix. */
enum probe_state { PROBE_RUNNING, PROBE_EMPTY, PROBE_HELD };

struct probe {
    char *bucket;
    char *prefix;
    enum probe_state state;
};

struct s3_target {
    struct loop *loop;
    struct s3_client *s3;
    const struct cfg_connection *conn;
    char **buckets; /* created (or found ours) in this process */
    size_t nbuckets;
    char **creating; /* a CreateBucket in flight: other copies wait for it */
    size_t ncreating;
    struct probe *probes;
    size_t nprobes;
    bool dry_run;
    uint64_t threshold; /* objects this large or larger go multipart */
    struct mp_env mp;
};

enum copy_state {
    CP_HEAD_SRC,
    CP_PROBE,
    CP_HEAD_DST,
    CP_GET_ACL,
    CP_GET_TAGS,
    CP_GET_SRC, /* the short way: the whole small object into the ring */
    CP_MKBUCKET,
    CP_TRANSFER,
    CP_DELETE
};

struct copy {
    struct s3_target *t;
    struct sync_event *ev;
    enum copy_state state;
    struct s3_call a; /* the current single request; the GET in transfer */
    struct s3_call put;
    struct s3_call src_head; /* kept: its headers become the target's metadata */
    char *etag;
    char mtime[40];
    uint64_t size;
    struct loop_timer wait; /* waiting for another copy's CreateBucket */
    bool fast;              /* the short way (see the top of this file) */
    struct grants grants;   /* mapped from the source ACL */
    char *tagging;          /* x-amz-tagging value, NULL when the object has no tags */

    /* transfer */
    char *ring;
    size_t ring_cap; /* RING_SIZE, or the object's size when smaller */
    size_t ring_head, ring_used;
    uint64_t put_taken;
    bool get_done, put_done, get_paused, put_paused;
    int get_err, put_err;
    EVP_MD_CTX *md5;      /* NULL while the target checks Content-MD5 */
    char content_md5[25]; /* the source ETag in base64, "" when it is no MD5 */
    int attempts;         /* single PUTs sent and failed */
};

static struct probe *probe_find(struct s3_target *t, const char *b, const char *prefix)
{
    for (size_t i = 0; i < t->nprobes; i++)
        if (strcmp(t->probes[i].bucket, b) == 0 && strcmp(t->probes[i].prefix, prefix) == 0)
            return &t->probes[i];
    return NULL;
}

static struct probe *probe_add(struct s3_target *t, const char *b, const char *prefix)
{
    struct probe *np = realloc(t->probes, (t->nprobes + 1) * sizeof(*np));
    if (!np)
        return NULL;
    t->probes = np;
    struct probe *p = &np[t->nprobes];
    p->bucket = strdup(b);
    p->prefix = strdup(prefix);
    p->state = PROBE_RUNNING;
    if (!p->bucket || !p->prefix) {
        free(p->bucket);
        free(p->prefix);
        return NULL;
    }
    t->nprobes++;
    return p;
}

/* ------------------------------------------------------------ lifecycle */

static int s3t_create(const struct target_env *env, void **inst)
{
    struct s3_target *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->loop = env->loop;
    t->conn = env->conn;
    t->dry_run = env->dry_run;
    struct s3_endpoint ep = {
        .url = env->conn->endpoint,
        .access_key = env->conn->access_key,
        .secret = env->conn->secret,
        .region = env->conn->region,
        .virtual_host = env->conn->virtual_host,
    };
    struct mp_hasher *hasher = NULL;
    int r = mp_hasher_new(&hasher, env->loop);
    if (r == 0)
        r = s3_client_new(&t->s3, env->loop, &ep);
    if (r < 0) {
        mp_hasher_free(hasher);
        free(t);
        return r;
    }
    s3_client_set_rate(t->s3, env->rate);
    const struct config *cfg = env->cfg;
    t->threshold =
        cfg && cfg->s3.multipart_sync_threshold ? cfg->s3.multipart_sync_threshold : 32ull << 20;
    t->mp = (struct mp_env){
        .loop = env->loop,
        .dst = t->s3,
        .st = env->st,
        .pool = env->pool,
        .hasher = hasher,
        .target_id = env->conn->id ? env->conn->id : env->conn->endpoint,
        .min_part = cfg ? cfg->s3.multipart_min_part_size : 32ull << 20,
        .provider_min = env->conn->provider == CFG_PROVIDER_COS ? PARTS_COS_MIN : PARTS_AWS_MIN,
        .part_concurrency = cfg && cfg->sync.part_concurrency ? cfg->sync.part_concurrency : 8,
        /* COS's multipart ETag is not the md5 of the part md5s */
        .etag_md5_of_parts = env->conn->provider != CFG_PROVIDER_COS,
    };
    *inst = t;
    return 0;
}

static void s3t_destroy(void *inst)
{
    struct s3_target *t = inst;
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        free(t->buckets[i]);
    free(t->buckets);
    for (size_t i = 0; i < t->ncreating; i++)
        free(t->creating[i]);
    free(t->creating);
    for (size_t i = 0; i < t->nprobes; i++) {
        free(t->probes[i].bucket);
        free(t->probes[i].prefix);
    }
    free(t->probes);
    mp_hasher_free(t->mp.hasher);
    s3_client_free(t->s3);
    free(t);
}

static bool bucket_known(const struct s3_target *t, const char *b)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        if (strcmp(t->buckets[i], b) == 0)
            return true;
    return false;
}

static void bucket_remember(struct s3_target *t, const char *b)
{
    char **nb = realloc(t->buckets, (t->nbuckets + 1) * sizeof(char *));
    if (!nb)
        return; /* forgetting only costs another CreateBucket */
    t->buckets = nb;
    if ((t->buckets[t->nbuckets] = strdup(b)))
        t->nbuckets++;
}

static bool bucket_creating(const struct s3_target *t, const char *b)
{
    for (size_t i = 0; i < t->ncreating; i++)
        if (strcmp(t->creating[i], b) == 0)
            return true;
    return false;
}

static void creating_set(struct s3_target *t, const char *b, bool on)
{
    for (size_t i = 0; i < t->ncreating; i++) {
        if (strcmp(t->creating[i], b) == 0) {
            if (!on) {
                free(t->creating[i]);
                t->creating[i] = t->creating[--t->ncreating];
            }
            return;
        }
    }
    if (!on)
        return;
    char **nc = realloc(t->creating, (t->ncreating + 1) * sizeof(char *));
    if (!nc)
        return; /* then a second CreateBucket goes out: harmless */
    t->creating = nc;
    if ((nc[t->ncreating] = strdup(b)))
        t->ncreating++;
}

static void copy_free(struct copy *c)
{
    loop_timer_cancel(c->t->loop, &c->wait);
    s3_call_finish(&c->a);
    s3_call_finish(&c->put);
    s3_call_finish(&c->src_head);
    free(c->etag);
    grants_finish(&c->grants);
    free(c->tagging);
    free(c->ring);
    EVP_MD_CTX_free(c->md5);
    free(c);
}

/* The end of a job: report once, free everything. */
static void copy_end(struct copy *c, int err, const char *detail)
{
    if (c->state == CP_MKBUCKET) /* ended before its CreateBucket answered */
        creating_set(c->t, c->ev->dst_bucket, false);
    if (c->state == CP_PROBE) { /* ended before its LIST answered: HEADs then */
        struct probe *p = probe_find(c->t, c->ev->dst_bucket, c->ev->dst_prefix);
        if (p)
            p->state = PROBE_HELD;
    }
    struct sync_event *ev = c->ev;
    if (err < 0 && !ev->detail)
        ev->detail = strdup(detail && *detail ? detail : "s3 target: failed");
    copy_free(c);
    ev->done(ev, err);
}

static void step(struct copy *c);

static void on_call_done(struct s3_call *call, void *ud)
{
    (void) call;
    step(ud);
}

/* ------------------------------------------------------------- the pipe */

static size_t pipe_get_write(void *ud, const char *buf, size_t len)
{
    struct copy *c = ud;
    if (c->ring_cap - c->ring_used < len && c->state == CP_GET_SRC)
        return 0; /* more than the listing said, and no PUT drains it: fail the GET */
    if (c->ring_cap - c->ring_used < len) {
        c->get_paused = true; /* curl hands the same bytes again on unpause */
        return S3_WRITE_PAUSE;
    }
    size_t tail = (c->ring_head + c->ring_used) % c->ring_cap;
    size_t first = c->ring_cap - tail < len ? c->ring_cap - tail : len;
    memcpy(c->ring + tail, buf, first);
    memcpy(c->ring, buf + first, len - first);
    c->ring_used += len;
    if (c->put_paused) {
        c->put_paused = false;
        s3_call_unpause(&c->put);
    }
    return len;
}

static size_t pipe_put_read(void *ud, char *buf, size_t max)
{
    struct copy *c = ud;
    if (c->ring_used == 0) {
        if (c->get_done) /* the source ended (or failed) short of the length */
            return S3_READ_ABORT;
        c->put_paused = true;
        return S3_READ_PAUSE;
    }
    size_t n = c->ring_used < max ? c->ring_used : max;
    size_t first = c->ring_cap - c->ring_head < n ? c->ring_cap - c->ring_head : n;
    memcpy(buf, c->ring + c->ring_head, first);
    memcpy(buf + first, c->ring, n - first);
    c->ring_head = (c->ring_head + n) % c->ring_cap;
    c->ring_used -= n;
    c->put_taken += n;
    if (c->md5)
        (void) EVP_DigestUpdate(c->md5, buf, n);
    if (c->get_paused) {
        c->get_paused = false;
        s3_call_unpause(&c->a);
    }
    return n;
}

/* The same pipe as spans (plain-http endpoints): the GET recv()s straight
 * into the ring's free space, the PUT send()s straight from its bytes. */
static size_t pipe_get_span(void *ud, char **p)
{
    struct copy *c = ud;
    if (c->ring_used == c->ring_cap) {
        if (c->state == CP_GET_SRC)
            return S3_SPAN_ABORT; /* more than the listing said, and no PUT drains it */
        c->get_paused = true;
        return 0;
    }
    size_t tail = (c->ring_head + c->ring_used) % c->ring_cap;
    size_t room = c->ring_cap - c->ring_used;
    *p = c->ring + tail;
    return c->ring_cap - tail < room ? c->ring_cap - tail : room;
}

static void pipe_get_commit(void *ud, size_t n)
{
    struct copy *c = ud;
    c->ring_used += n;
    if (c->put_paused) {
        c->put_paused = false;
        s3_call_unpause(&c->put);
    }
}

static size_t pipe_put_span(void *ud, const char **p)
{
    struct copy *c = ud;
    if (c->ring_used == 0) {
        if (c->get_done) /* the source ended (or failed) short of the length */
            return S3_SPAN_ABORT;
        c->put_paused = true;
        return 0;
    }
    *p = c->ring + c->ring_head;
    return c->ring_cap - c->ring_head < c->ring_used ? c->ring_cap - c->ring_head : c->ring_used;
}

static void pipe_put_commit(void *ud, size_t n)
{
    struct copy *c = ud;
    if (c->md5)
        (void) EVP_DigestUpdate(c->md5, c->ring + c->ring_head, n);
    c->ring_head = (c->ring_head + n) % c->ring_cap;
    c->ring_used -= n;
    c->put_taken += n;
    if (c->get_paused) {
        c->get_paused = false;
        s3_call_unpause(&c->a);
    }
}

static void transfer_start(struct copy *c);

static void transfer_retry_cb(void *ud)
{
    transfer_start(ud);
}

/* A single PUT that failed on err: true when it goes again after a backoff,
 * false when its attempts are spent (the caller ends the copy). */
static bool transfer_retry_later(struct copy *c, int err, const char *detail)
{
    if (++c->attempts >= COPY_ATTEMPTS)
        return false;
    long ms = s3_backoff_ms(250, c->attempts, 250L << 6); /* as a part's */
    c->ev->retries++;
    log_debug("target=s3 key=\"%s\" msg=\"PUT again in %ldms\" error=\"%s\" errno=%d",
              c->ev->dst_key, ms, detail ? detail : "", -err);
    loop_timer_arm(c->t->loop, &c->wait, ms, transfer_retry_cb, c);
    return true;
}

/* What the PUT's answer says of the bytes it stored: 0, or -EBADMSG with a
 * one-line detail in d. */
static int transfer_verify(struct copy *c, const char *put_etag, char *d, size_t dlen)
{
    if (!c->md5) {
        /* the target took the source ETag as Content-MD5: it has checked the
         * bytes; a 32-hex ETag answered must be that same MD5 */
        if (put_etag && strlen(put_etag) == 32 && strcasecmp(put_etag, c->etag) != 0) {
            (void) snprintf(d, dlen,
                            "s3 target: PUT %s/%s: ETag %s is not the source ETag %s sent as "
                            "Content-MD5",
                            c->ev->dst_bucket, c->ev->dst_key, put_etag, c->etag);
            return -EBADMSG;
        }
        return 0;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    (void) EVP_DigestFinal_ex(c->md5, md, NULL);
    char hex[33];
    hex_encode(hex, md, 16);
    /* a target ETag is the MD5 of the bytes for a single PUT (no SSE-KMS/C);
     * where it is something else, the target is not one we can check */
    if (put_etag && strlen(put_etag) == 32 && strcasecmp(put_etag, hex) != 0) {
        (void) snprintf(d, dlen,
                        "s3 target: PUT %s/%s: ETag %s is not the MD5 %s of the bytes sent",
                        c->ev->dst_bucket, c->ev->dst_key, put_etag, hex);
        return -EBADMSG;
    }
    /* the source etag is the MD5 too when it was a single PUT */
    if (c->etag && strlen(c->etag) == 32 && strcasecmp(c->etag, hex) != 0) {
        (void) snprintf(d, dlen, "s3 target: %s/%s: bytes read have MD5 %s, source ETag %s",
                        c->ev->bucket_name, c->ev->key, hex, c->etag);
        return -EBADMSG;
    }
    return 0;
}

static void transfer_check_end(struct copy *c)
{
    if (!c->get_done || !c->put_done)
        return;
    int err = c->get_err < 0 ? c->get_err : c->put_err;
    if (c->get_err == -ESTALE || c->get_err == -ENOENT) {
        /* the source changed or vanished after our HEAD: the log entry that
         * did it brings the new state; this one is done */
        log_debug("target=s3 key=%s msg=\"source changed during copy, left to its log entry\"",
                  c->ev->key);
        c->ev->skipped = true;
        copy_end(c, 0, NULL);
        return;
    }
    if (err < 0) {
        const char *d = c->get_err < 0 ? c->a.detail : c->put.detail;
        /* BadDigest: the bytes the target got are not the source's */
        bool again = err == -EBADMSG || (c->get_err < 0 ? c->a.retryable : c->put.retryable);
        if (!again || !transfer_retry_later(c, err, d))
            copy_end(c, err, d);
        return;
    }
    char *put_etag = NULL;
    (void) s3_call_etag(&c->put, &put_etag);
    char d[256];
    int r = transfer_verify(c, put_etag, d, sizeof(d));
    free(put_etag);
    if (r < 0) {
        if (!transfer_retry_later(c, r, d))
            copy_end(c, r, d);
        return;
    }
    c->ev->bytes_sent = c->put_taken;
    copy_end(c, 0, NULL);
}

static void on_get_done(struct s3_call *call, void *ud)
{
    struct copy *c = ud;
    c->get_done = true;
    c->get_err = call->err;
    if (call->err < 0 && !c->put_done) {
        s3_call_abort(&c->put);
        c->put_done = true;
        c->put_err = -ECANCELED;
    } else if (c->put_paused) {
        c->put_paused = false;
        s3_call_unpause(&c->put); /* let it drain what is left, or see the end */
    }
    transfer_check_end(c);
}

static void on_put_done(struct s3_call *call, void *ud)
{
    struct copy *c = ud;
    c->put_done = true;
    c->put_err = call->err;
    if (call->err < 0 && !c->get_done) {
        s3_call_abort(&c->a);
        c->get_done = true;
        c->get_err = 0;
    }
    transfer_check_end(c);
}

/* Metadata the target keeps: an allow-list, never response headers copied
 * wholesale (x-amz-request-id, x-amz-version-id... would be nonsense). */
static const char *const kept_headers[] = {
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    NULL,
};

static int add_put_headers(struct copy *c)
{
    const struct s3_call *h = &c->src_head;
    int r = 0;
    for (size_t i = 0; r == 0 && kept_headers[i]; i++) {
        const char *v = s3_call_resp_header(h, kept_headers[i]);
        if (v)
            r = s3_call_header(&c->put, kept_headers[i], v);
    }
    for (size_t i = 0; r == 0 && i < h->nresp_headers; i++) {
        const char *n = h->resp_headers[i].name;
        if (strncmp(n, META_PREFIX, sizeof(META_PREFIX) - 1) == 0 &&
            strncmp(n, META_PREFIX "rgwx-", sizeof(META_PREFIX "rgwx-") - 1) != 0)
            r = s3_call_header(&c->put, n, h->resp_headers[i].value);
    }
    if (r == 0)
        r = s3_call_header(&c->put, META_PREFIX "rgwx-source-etag", c->etag);
    if (r == 0)
        r = s3_call_header(&c->put, META_PREFIX "rgwx-source-mtime", c->mtime);
    if (r == 0) {
        /* metadata values must be header-safe: keys may hold anything, so
         * carry the key URI-encoded as RFC 2047 would be overkill */
        char *enc = NULL;
        size_t n = strlen(c->ev->key);
        enc = malloc(3 * n + 1);
        if (!enc)
            return -ENOMEM;
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char) c->ev->key[i];
            if (ch < 0x20 || ch >= 0x7f || ch == '%') {
                (void) snprintf(enc + o, 4, "%%%02X", ch);
                o += 3;
            } else {
                enc[o++] = (char) ch;
            }
        }
        enc[o] = '\0';
        r = s3_call_header(&c->put, META_PREFIX "rgwx-source-key", enc);
        free(enc);
    }
    if (r == 0 && c->ev->version_id && *c->ev->version_id && strcmp(c->ev->version_id, "null") != 0)
        r = s3_call_header(&c->put, META_PREFIX "rgwx-source-version-id", c->ev->version_id);
    if (r == 0 && c->ev->versioned_epoch) {
        char e[24];
        (void) snprintf(e, sizeof(e), "%llu", (unsigned long long) c->ev->versioned_epoch);
        r = s3_call_header(&c->put, META_PREFIX "rgwx-versioned-epoch", e);
    }
    if (r == 0 && c->ev->storage_class && *c->ev->storage_class)
        r = s3_call_header(&c->put, "x-amz-storage-class", c->ev->storage_class);
    for (int i = 0; r == 0 && i < GRANT_NHEADERS; i++)
        if (c->grants.value[i])
            r = s3_call_header(&c->put, grant_header_names[i], c->grants.value[i]);
    if (r == 0 && c->grants.canned)
        r = s3_call_header(&c->put, "x-amz-acl", c->grants.canned);
    if (r == 0 && c->tagging)
        r = s3_call_header(&c->put, "x-amz-tagging", c->tagging);
    return r;
}

static void on_multipart_done(void *ud, int err, char *detail, uint64_t bytes_sent,
                              unsigned retries)
{
    struct copy *c = ud;
    c->ev->bytes_sent = bytes_sent;
    c->ev->retries += retries;
    if (err == -ESTALE) {
        /* the source changed mid-upload: the upload is aborted and the log
         * entry of the change brings the new version */
        c->ev->skipped = true;
        err = 0;
    }
    copy_end(c, err, detail);
    free(detail);
}

/* Large objects: the resumable parallel multipart engine (multipart.c),
 * with the same metadata on CreateMultipartUpload as a single PUT has. */
static void multipart_start(struct copy *c)
{
    c->state = CP_TRANSFER;
    s3_call_finish(&c->put);
    int r = s3_call_set(&c->put, "POST", c->ev->dst_bucket, c->ev->dst_key);
    if (r == 0)
        r = add_put_headers(c);
    const char **hdr = NULL;
    if (r == 0 && !(hdr = calloc(2 * c->put.nheaders + 1, sizeof(char *))))
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && i < c->put.nheaders; i++) {
        hdr[2 * i] = c->put.headers[i].name;
        hdr[2 * i + 1] = c->put.headers[i].value;
    }
    if (r == 0 && (!c->t->mp.st || !c->t->mp.pool))
        r = -EINVAL; /* a target without state cannot resume: refuse rather than lose parts */
    if (r == 0)
        r = mp_start(&c->t->mp, c->ev, c->etag, c->mtime, c->size, hdr, 2 * c->put.nheaders,
                     on_multipart_done, c);
    free(hdr);
    if (r < 0)
        copy_end(c, r, "s3 target: cannot start the multipart upload");
}

/* The ring the GET fills and the PUT drains. */
static int ring_init(struct copy *c)
{
    /* curl hands the GET body in pieces of up to 16 KiB (CURL_MAX_WRITE_SIZE):
     * a smaller ring could never take one */
    c->ring_cap = c->size < RING_SIZE ? (size_t) c->size : RING_SIZE;
    if (c->ring_cap < CURL_MAX_WRITE_SIZE)
        c->ring_cap = CURL_MAX_WRITE_SIZE;
    c->ring = malloc(c->ring_cap);
    return c->ring ? 0 : -ENOMEM;
}

/* The source ETag as Content-MD5 (base64 into b64) when it is an MD5: 32 hex
 * digits. A multipart source's ETag ("...-N") is not. */
static bool etag_content_md5(const char *etag, char b64[25])
{
    unsigned char md[16];
    if (!etag || strlen(etag) != 32 || hex_decode(md, etag, 16) < 0)
        return false;
    (void) EVP_EncodeBlock((unsigned char *) b64, md, 16);
    return true;
}

/* Everything one attempt of a single PUT starts from: the ring as the GET
 * left it (the short way: the whole object still at its start) or empty,
 * and either Content-MD5 or a fresh MD5 of what is sent. */
static int transfer_reset(struct copy *c)
{
    c->ring_head = 0;
    c->ring_used = c->fast ? (size_t) c->size : 0;
    c->put_taken = 0;
    c->get_done = c->fast || c->size == 0; /* the short way read it; nothing to read */
    c->put_done = c->get_paused = c->put_paused = false;
    c->get_err = c->put_err = 0;
    if (etag_content_md5(c->etag, c->content_md5))
        return 0;
    c->content_md5[0] = '\0';
    if (!c->md5 && !(c->md5 = EVP_MD_CTX_new()))
        return -ENOMEM;
    return EVP_DigestInit_ex(c->md5, EVP_md5(), NULL) == 1 ? 0 : -ENOMEM;
}

/* GET the source object into the ring (s3_call c->a; body to pipe_get_write). */
static int source_get_prepare(struct copy *c)
{
    s3_call_finish(&c->a);
    int r = s3_get_object_prepare(&c->a, c->ev->src_bucket, c->ev->key, 1, 0, c->etag,
                                  pipe_get_write, c);
    if (r == 0)
        s3_call_spans(&c->a, pipe_get_span, NULL, pipe_get_commit, c);
    if (r == 0 && c->ev->version_id && *c->ev->version_id && strcmp(c->ev->version_id, "null") != 0)
        r = s3_call_query(&c->a, "versionId", c->ev->version_id);
    return r;
}

static void transfer_start(struct copy *c)
{
    if (c->size >= c->t->threshold) {
        multipart_start(c);
        return;
    }
    c->state = CP_TRANSFER;
    /* the short way has its body in the ring already */
    if ((!c->ring && ring_init(c) < 0) || transfer_reset(c) < 0) {
        copy_end(c, -ENOMEM, "s3 target: out of memory");
        return;
    }
    s3_call_finish(&c->put);
    int r = s3_put_object_prepare(&c->put, c->ev->dst_bucket, c->ev->dst_key, pipe_put_read, c,
                                  c->size);
    if (r == 0) {
        s3_call_spans(&c->put, NULL, pipe_put_span, pipe_put_commit, c);
        r = add_put_headers(c);
    }
    if (r == 0 && c->content_md5[0])
        r = s3_call_header(&c->put, "Content-MD5", c->content_md5);
    if (r < 0) {
        char d[256];
        (void) snprintf(d, sizeof(d), "s3 target: %s/%s: cannot build the PUT (%s)",
                        c->ev->bucket_name, c->ev->key,
                        r == -E2BIG ? "too many metadata headers" : strerror(-r));
        copy_end(c, r, d);
        return;
    }
    if (!c->get_done) {
        r = source_get_prepare(c);
        if (r == 0)
            r = s3_call_start(c->ev->src_s3, &c->a, on_get_done, c);
        if (r < 0) {
            copy_end(c, r, "s3 target: cannot start the source GET");
            return;
        }
    }
    r = s3_call_start(c->t->s3, &c->put, on_put_done, c);
    if (r < 0) {
        if (!c->get_done) {
            s3_call_abort(&c->a);
        }
        copy_end(c, r, "s3 target: cannot start the PUT");
    }
}

/* ------------------------------------------------------ the state machine */

static void start_or_end(struct copy *c, struct s3_client *s3);
static void mkbucket_start(struct copy *c);

/* "k1=v1&k2=v2", each part URI-encoded, for x-amz-tagging. */
static int tagging_header(char **out, const struct xml_tagging *t)
{
    *out = NULL;
    char *s = NULL;
    size_t len = 0;
    FILE *f = t->ntags ? open_memstream(&s, &len) : NULL;
    if (t->ntags && !f)
        return -ENOMEM;
    int r = 0;
    for (size_t i = 0; i < t->ntags && r == 0; i++) {
        char *k = sigv4_uri_encode(t->tags[i].key, strlen(t->tags[i].key), false);
        char *v = sigv4_uri_encode(t->tags[i].value, strlen(t->tags[i].value), false);
        if (!k || !v || fprintf(f, "%s%s=%s", i ? "&" : "", k, v) < 0)
            r = -ENOMEM;
        free(k);
        free(v);
    }
    if (f && fclose(f) != 0)
        r = -ENOMEM;
    if (r < 0) {
        free(s);
        return r;
    }
    *out = s;
    return 0;
}

static void after_metadata_cb(void *ud);

/* The object's metadata is complete: create the bucket if needed (once:
 * copies that find a CreateBucket in flight wait for it), copy. */
static void after_metadata(struct copy *c)
{
    if (bucket_known(c->t, c->ev->dst_bucket))
        transfer_start(c);
    else if (bucket_creating(c->t, c->ev->dst_bucket))
        loop_timer_arm(c->t->loop, &c->wait, WAIT_MS, after_metadata_cb, c);
    else
        mkbucket_start(c);
}

static void after_metadata_cb(void *ud)
{
    after_metadata(ud);
}

static void tags_start(struct copy *c)
{
    const char *n = s3_call_resp_header(&c->src_head, "x-amz-tagging-count");
    if (!n || strtoul(n, NULL, 10) == 0) {
        after_metadata(c);
        return;
    }
    c->state = CP_GET_TAGS;
    s3_call_finish(&c->a);
    int r = s3_call_set(&c->a, "GET", c->ev->src_bucket, c->ev->key);
    if (r == 0)
        r = s3_call_query(&c->a, "tagging", NULL);
    if (r == 0 && c->ev->version_id && *c->ev->version_id && strcmp(c->ev->version_id, "null"))
        r = s3_call_query(&c->a, "versionId", c->ev->version_id);
    if (r < 0) {
        copy_end(c, r, "s3 target: cannot build GET ?tagging");
        return;
    }
    start_or_end(c, c->ev->src_s3);
}

/* The short way reads the object now: its answer's headers are what
 * tags_start and the PUT need. */
static void source_read_start(struct copy *c)
{
    c->state = CP_GET_SRC;
    int r = ring_init(c);
    if (r == 0)
        r = source_get_prepare(c);
    if (r < 0) {
        copy_end(c, r, "s3 target: cannot build the source GET");
        return;
    }
    start_or_end(c, c->ev->src_s3);
}

static void metadata_next(struct copy *c)
{
    if (c->fast)
        source_read_start(c);
    else
        tags_start(c);
}

static void acl_start(struct copy *c)
{
    const struct cfg_profile *p = c->ev->profile;
    if (!p || !grants_need_acl(p)) {
        int r = p ? grants_map(&c->grants, p, NULL) : 0; /* none, or the canned one */
        if (r < 0) {
            copy_end(c, r, "out of memory");
            return;
        }
        metadata_next(c);
        return;
    }
    c->state = CP_GET_ACL;
    s3_call_finish(&c->a);
    int r = s3_call_set(&c->a, "GET", c->ev->src_bucket, c->ev->key);
    if (r == 0)
        r = s3_call_query(&c->a, "acl", NULL);
    if (r == 0 && c->ev->version_id && *c->ev->version_id && strcmp(c->ev->version_id, "null"))
        r = s3_call_query(&c->a, "versionId", c->ev->version_id);
    if (r < 0) {
        copy_end(c, r, "s3 target: cannot build GET ?acl");
        return;
    }
    start_or_end(c, c->ev->src_s3);
}

static bool target_holds_version(const struct copy *c)
{
    const char *e = s3_call_resp_header(&c->a, META_PREFIX "rgwx-source-etag");
    const char *m = s3_call_resp_header(&c->a, META_PREFIX "rgwx-source-mtime");
    return e && m && strcmp(e, c->etag) == 0 && strcmp(m, c->mtime) == 0;
}

static void start_or_end(struct copy *c, struct s3_client *s3)
{
    int r = s3_call_start(s3, &c->a, on_call_done, c);
    if (r < 0)
        copy_end(c, r, err_get());
}

static void head_dst_start(struct copy *c)
{
    c->state = CP_HEAD_DST;
    s3_call_finish(&c->a);
    int r = s3_head_object_prepare(&c->a, c->ev->dst_bucket, c->ev->dst_key);
    if (r < 0) {
        copy_end(c, r, "s3 target: cannot build HEAD");
        return;
    }
    start_or_end(c, c->t->s3);
}

static void dst_check_cb(void *ud);

/* Does the target hold the object? A HEAD answers, unless the object comes
 * from a full-sync listing of a prefix found empty (see the top). */
static void dst_check(struct copy *c)
{
    struct sync_event *ev = c->ev;
    if (!c->fast || !ev->dst_prefix) {
        head_dst_start(c);
        return;
    }
    struct probe *p = probe_find(c->t, ev->dst_bucket, ev->dst_prefix);
    if (p && p->state == PROBE_RUNNING) {
        loop_timer_arm(c->t->loop, &c->wait, WAIT_MS, dst_check_cb, c);
        return;
    }
    if (p) {
        if (p->state == PROBE_EMPTY)
            acl_start(c);
        else
            head_dst_start(c);
        return;
    }
    if (!probe_add(c->t, ev->dst_bucket, ev->dst_prefix)) {
        head_dst_start(c);
        return;
    }
    c->state = CP_PROBE;
    char *prefix = *ev->dst_prefix ? mapping_key(ev->dst_prefix, "") : NULL;
    s3_call_finish(&c->a);
    int r = *ev->dst_prefix && !prefix ? -ENOMEM : 0;
    if (r == 0)
        r = s3_list_objects_prepare(&c->a, ev->dst_bucket, prefix, NULL, 1);
    free(prefix);
    if (r < 0) {
        copy_end(c, r, "s3 target: cannot build the LIST");
        return;
    }
    start_or_end(c, c->t->s3);
}

static void dst_check_cb(void *ud)
{
    dst_check(ud);
}

static void mkbucket_start(struct copy *c)
{
    c->state = CP_MKBUCKET;
    creating_set(c->t, c->ev->dst_bucket, true);
    s3_call_finish(&c->a);
    int r = s3_call_set(&c->a, "PUT", c->ev->dst_bucket, NULL);
    const char *region = c->t->conn->region;
    if (r == 0 && region && *region && strcmp(region, "us-east-1") != 0 &&
        c->t->conn->provider == CFG_PROVIDER_AWS) {
        char body[256];
        int n =
            snprintf(body, sizeof(body),
                     "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                     "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
                     region);
        r = s3_call_body(&c->a, body, (size_t) n);
    }
    if (r < 0) {
        copy_end(c, r, "s3 target: cannot build CreateBucket");
        return;
    }
    start_or_end(c, c->t->s3);
}

static void step(struct copy *c)
{
    struct sync_event *ev = c->ev;
    switch (c->state) {
    case CP_HEAD_SRC: {
        if (c->a.err == -ENOENT || c->a.err == -ESTALE) {
            ev->skipped = true; /* deleted since: its own log entry follows */
            copy_end(c, 0, NULL);
            return;
        }
        if (c->a.err < 0) {
            copy_end(c, c->a.err, c->a.detail);
            return;
        }
        const char *etag = s3_call_resp_header(&c->a, "etag");
        const char *len = s3_call_resp_header(&c->a, "content-length");
        const char *mt = s3_call_resp_header(&c->a, "rgwx-mtime");
        if (!mt)
            mt = s3_call_resp_header(&c->a, "last-modified");
        struct timefmt_ns t;
        if (!etag || !len || !mt || timefmt_parse(&t, mt) < 0) {
            char d[256];
            (void) snprintf(d, sizeof(d),
                            "source: HEAD %s/%s: answer lacks ETag, Content-Length or a time",
                            ev->src_bucket, ev->key);
            copy_end(c, -EPROTO, d);
            return;
        }
        c->etag = s3_unquote(etag);
        c->size = strtoull(len, NULL, 10);
        timefmt_secnsec(c->mtime, sizeof(c->mtime), &t);
        /* keep this call: its headers are the object's metadata */
        c->src_head = c->a;
        s3_call_init(&c->a);
        head_dst_start(c);
        return;
    }
    case CP_PROBE: {
        struct probe *p = probe_find(c->t, ev->dst_bucket, ev->dst_prefix);
        struct xml_list_objects l = {0};
        bool empty = c->a.err == -ENOENT; /* no such bucket */
        if (c->a.err == 0 &&
            xml_parse_list_objects(&l, c->a.resp ? c->a.resp : "", c->a.resp_len) == 0)
            empty = l.nobjects == 0 && l.nprefixes == 0;
        xml_list_objects_finish(&l);
        if (c->a.err < 0 && c->a.err != -ENOENT)
            log_debug("target=s3 bucket=%s prefix=\"%s\" msg=\"cannot list: every object is "
                      "HEADed\" error=\"%s\"",
                      ev->dst_bucket, ev->dst_prefix, c->a.detail ? c->a.detail : "");
        if (p)
            p->state = empty ? PROBE_EMPTY : PROBE_HELD;
        if (empty)
            acl_start(c);
        else
            head_dst_start(c);
        return;
    }
    case CP_HEAD_DST:
        if (c->a.err == 0 && target_holds_version(c)) {
            ev->skipped = true;
            copy_end(c, 0, NULL);
            return;
        }
        if (c->a.err < 0 && c->a.err != -ENOENT) {
            copy_end(c, c->a.err, c->a.detail);
            return;
        }
        if (c->a.err == 0)
            bucket_remember(c->t, ev->dst_bucket);
        acl_start(c);
        return;
    case CP_GET_ACL: {
        struct xml_acl acl = {0};
        int r = c->a.err;
        if (r == -ENOENT || r == -ESTALE) {
            ev->skipped = true; /* gone since: its own log entry follows */
            copy_end(c, 0, NULL);
            return;
        }
        if (r == 0)
            r = xml_parse_acl(&acl, c->a.resp ? c->a.resp : "", c->a.resp_len);
        if (r == 0)
            r = grants_map(&c->grants, ev->profile, &acl);
        xml_acl_finish(&acl);
        if (r < 0) {
            copy_end(c, r, c->a.detail ? c->a.detail : "source: unreadable ACL");
            return;
        }
        ev->grants_dropped = c->grants.dropped;
        if (c->grants.dropped)
            log_debug("bucket=%s key=\"%s\" msg=\"grants without a mapping dropped\" count=%zu",
                      ev->bucket_name, ev->key, c->grants.dropped);
        metadata_next(c);
        return;
    }
    case CP_GET_TAGS: {
        if (c->a.err == -ENOENT || c->a.err == -ESTALE) {
            ev->skipped = true;
            copy_end(c, 0, NULL);
            return;
        }
        struct xml_tagging t = {0};
        int r = c->a.err;
        if (r == 0)
            r = xml_parse_tagging(&t, c->a.resp ? c->a.resp : "", c->a.resp_len);
        if (r == 0)
            r = tagging_header(&c->tagging, &t);
        xml_tagging_finish(&t);
        if (r < 0) {
            copy_end(c, r, c->a.detail ? c->a.detail : "source: unreadable tags");
            return;
        }
        after_metadata(c);
        return;
    }
    case CP_GET_SRC: {
        if (c->a.err == -ENOENT || c->a.err == -ESTALE) {
            ev->skipped = true; /* changed or gone since the listing: its log entry follows */
            copy_end(c, 0, NULL);
            return;
        }
        if (c->a.err < 0) {
            copy_end(c, c->a.err, c->a.detail);
            return;
        }
        /* the answer's headers are the object's metadata, as a HEAD's are;
         * its mtime (to the ns, as a HEAD's) is what the target records */
        const char *mt = s3_call_resp_header(&c->a, "rgwx-mtime");
        struct timefmt_ns t;
        if (mt && timefmt_parse(&t, mt) == 0)
            timefmt_secnsec(c->mtime, sizeof(c->mtime), &t);
        if (c->ring_used != c->size) {
            char d[256];
            (void) snprintf(d, sizeof(d), "source: GET %s/%s: %zu bytes, the listing said %llu",
                            ev->src_bucket, ev->key, c->ring_used, (unsigned long long) c->size);
            copy_end(c, -EPROTO, d);
            return;
        }
        c->src_head = c->a;
        s3_call_init(&c->a);
        c->get_done = true;
        tags_start(c);
        return;
    }
    case CP_MKBUCKET:
        creating_set(c->t, ev->dst_bucket, false);
        if (c->a.err == 0 || c->a.err == -EEXIST) {
            /* BucketAlreadyOwnedByYou is ours; BucketAlreadyExists (COS
             * says that for an owned bucket too) gets its answer from the
             * PUT that follows */
            bucket_remember(c->t, ev->dst_bucket);
            transfer_start(c);
        } else {
            copy_end(c, c->a.err, c->a.detail);
        }
        return;
    case CP_DELETE:
        copy_end(c, c->a.err == -ENOENT ? 0 : c->a.err, c->a.detail);
        return;
    case CP_TRANSFER:
        return; /* driven by on_get_done / on_put_done */
    }
}

static int s3t_sync_object(void *inst, struct sync_event *ev)
{
    struct s3_target *t = inst;
    struct copy *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->t = t;
    c->ev = ev;
    c->state = CP_HEAD_SRC;
    s3_call_init(&c->a);
    s3_call_init(&c->put);
    s3_call_init(&c->src_head);
    struct timefmt_ns mt;
    if (ev->etag && *ev->etag && ev->size <= RING_SIZE && ev->size < t->threshold &&
        ev->timestamp && timefmt_parse(&mt, ev->timestamp) == 0) {
        /* the short way: the listing told etag, size and mtime */
        c->fast = true;
        c->etag = strdup(ev->etag);
        c->size = ev->size;
        timefmt_secnsec(c->mtime, sizeof(c->mtime), &mt);
        if (!c->etag) {
            copy_free(c);
            return -ENOMEM;
        }
        /* from the loop, not from inside this call: a step may end the copy */
        loop_timer_arm(t->loop, &c->wait, 0, dst_check_cb, c);
        return 0;
    }
    int r = s3_head_object_prepare(&c->a, ev->src_bucket, ev->key);
    if (r == 0 && ev->version_id && *ev->version_id && strcmp(ev->version_id, "null") != 0)
        r = s3_call_query(&c->a, "versionId", ev->version_id);
    if (r == 0)
        r = s3_call_start(ev->src_s3, &c->a, on_call_done, c);
    if (r < 0) {
        copy_free(c);
        return r;
    }
    return 0;
}

/* Remove: RGW's rule (remove_object with unmod_since): delete only when
 * the target's copy is not newer than the change that asked for it. */
static void on_remove_head(struct s3_call *call, void *ud)
{
    struct copy *c = ud;
    struct sync_event *ev = c->ev;
    if (call->err == -ENOENT) {
        copy_end(c, 0, NULL); /* nothing there: done */
        return;
    }
    if (call->err < 0) {
        copy_end(c, call->err, call->detail);
        return;
    }
    const char *m = s3_call_resp_header(call, META_PREFIX "rgwx-source-mtime");
    struct timefmt_ns held, asked;
    if (m && ev->timestamp && timefmt_parse(&held, m) == 0 &&
        timefmt_parse(&asked, ev->timestamp) == 0 && timefmt_cmp(&held, &asked) > 0) {
        log_debug("target=s3 key=%s msg=\"target copy is newer than the removal, kept\"", ev->key);
        ev->skipped = true;
        copy_end(c, 0, NULL);
        return;
    }
    c->state = CP_DELETE;
    s3_call_finish(&c->a);
    int r = s3_delete_object_prepare(&c->a, ev->dst_bucket, ev->dst_key);
    if (r < 0) {
        copy_end(c, r, "s3 target: cannot build DELETE");
        return;
    }
    r = s3_call_start(c->t->s3, &c->a, on_call_done, c);
    if (r < 0)
        copy_end(c, r, err_get());
}

static int s3t_remove_object(void *inst, struct sync_event *ev)
{
    struct s3_target *t = inst;
    struct copy *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->t = t;
    c->ev = ev;
    s3_call_init(&c->a);
    s3_call_init(&c->put);
    s3_call_init(&c->src_head);
    int r = s3_head_object_prepare(&c->a, ev->dst_bucket, ev->dst_key);
    if (r == 0)
        r = s3_call_start(t->s3, &c->a, on_remove_head, c);
    if (r < 0) {
        copy_free(c);
        return r;
    }
    return 0;
}

const struct target_ops target_s3 = {
    .abi = TARGET_ABI_1,
    .name = "s3",
    .create = s3t_create,
    .destroy = s3t_destroy,
    .sync_object = s3t_sync_object,
    .remove_object = s3t_remove_object,
    .create_delete_marker = NULL, /* an unversioned target: the current object goes */
};
