#include "multipart.h"

#include "err.h"
#include "hex.h"
#include "http/loop.h"
#include "http/s3.h"
#include "http/xml.h"
#include "log.h"
#include "md5mb.h"
#include "state/state_api.h"
#include "sync/parts.h"
#include "sync/target.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PART_ATTEMPTS 6
#define POOL_WAIT_MS  20
/* A part holding this many bytes read and not hashed is ready for a hashing
 * round; a round starts when as many parts are ready as md5mb has lanes, and
 * gives each the same number of bytes, so that no lane idles. */
#define HASH_QUANTUM (64u << 10)
/* a part streams through a ring this large (or its own size, if smaller):
 * 16 KiB pieces of curl, 16 hashing quanta. 16 rings of 1 MiB copy as fast
 * as 16 of 4 MiB in the lab (alternating runs) at half the peak RSS. */
#define PART_RING (1u << 20)
/* a GET paused on a full ring goes on when this much is free (curl hands
 * up to 16 KiB at once) */
#define RING_WAKE (16u << 10)
/* Parts that wait for hashing (their GET on a full ring, or their MD5 to
 * settle) start a round without full lanes once they are this share of
 * the parts in flight: 1/URGENT_SHARE. A part waiting costs no CPU while
 * others move; a round with idle lanes does. */
#define URGENT_SHARE 2

enum part_state { PART_TODO = 0, PART_BUSY, PART_DONE };

struct mp;

struct part_job {
    struct mp *m;
    uint32_t n;
    uint64_t len;
    int attempts;
    struct s3_call get, put;
    struct loop_timer timer;
    /* the ranged GET writes the ring; UploadPart and md5mb each read it at
     * their own pace: positions in the part, sent <= got, hashed <= got,
     * got <= min(sent, hashed) + cap */
    char *ring;
    size_t cap;
    uint64_t got, hashed, sent;
    struct md5mb md5; /* of the part's bytes [0, hashed) */
    bool hashing;     /* in the hasher's list (else hashed as read) */
    bool get_done, put_done, get_paused, put_paused;
    bool settle_wait;              /* both requests ended well; the MD5 is not whole yet */
    bool get_aborted, put_aborted; /* ended by us because the other failed */
};

struct mp_hasher {
    struct loop *loop;
    struct part_job **jobs; /* parts in flight */
    size_t n, cap;
    struct part_job **wake; /* scratch for a round, cap entries */
    struct md5mb **ctx;
    const unsigned char **data;
    size_t *len;
    struct loop_timer timer;
};

struct mp {
    struct mp_env env;
    struct s3_client *src;
    char *src_bucket, *key, *version, *dst_bucket, *dst_key;
    char *etag, *mtime;
    uint64_t size;
    char **hdr; /* name, value, ... */
    size_t nhdr;
    mp_done_fn done;
    void *ud;

    char *id;
    char *upload_id;
    struct part_plan plan;
    uint8_t *pstate;
    char **petag; /* per part, unquoted */
    uint32_t next;
    unsigned inflight;
    int err; /* first failure: no new parts start */
    char detail[512];
    bool source_changed;
    uint64_t bytes_sent;
    unsigned retries; /* part sends repeated */
    int list_marker;

    struct s3_call ctl; /* create / list / complete / head / abort, one at a time */
    struct loop_timer pool_timer;
    int64_t started;
    bool pumping, repump;
    bool completing; /* CompleteMultipartUpload (or its HEAD) asked: no part starts again */
    char *stale_bucket, *stale_key, *stale_upload; /* an older version's upload to abort */
};

static void mp_free(struct mp *m)
{
    free(m->src_bucket);
    free(m->key);
    free(m->version);
    free(m->dst_bucket);
    free(m->dst_key);
    free(m->etag);
    free(m->mtime);
    for (size_t i = 0; i < m->nhdr; i++)
        free(m->hdr[i]);
    free(m->hdr);
    free(m->id);
    free(m->upload_id);
    free(m->stale_bucket);
    free(m->stale_key);
    free(m->stale_upload);
    if (m->petag)
        for (uint32_t i = 0; i < m->plan.nparts; i++)
            free(m->petag[i]);
    free(m->petag);
    free(m->pstate);
    s3_call_finish(&m->ctl);
    loop_timer_cancel(m->env.loop, &m->pool_timer);
    free(m);
}

static void mp_end(struct mp *m, int err)
{
    char *detail = err < 0 ? strdup(m->detail[0] ? m->detail : strerror(-err)) : NULL;
    mp_done_fn fn = m->done;
    void *ud = m->ud;
    uint64_t bytes = m->bytes_sent;
    unsigned retries = m->retries;
    mp_free(m);
    fn(ud, err, detail, bytes, retries);
}

static void fail(struct mp *m, int err, const char *detail)
{
    if (m->err == 0) {
        m->err = err;
        (void) snprintf(m->detail, sizeof(m->detail), "%s", detail ? detail : strerror(-err));
    }
}

/* ---------------------------------------------------------------- record */

static int record_write(struct mp *m)
{
    json_t *parts = json_array();
    for (uint32_t i = 0; i < m->plan.nparts; i++) {
        if (m->pstate[i] != PART_DONE || !m->petag[i])
            continue;
        json_t *p = json_object();
        json_object_set_new(p, "n", json_integer(i + 1));
        json_object_set_new(p, "etag", json_string(m->petag[i]));
        json_array_append_new(parts, p); /* steals p */
    }
    char *pj = json_dumps(parts, JSON_COMPACT);
    json_decref(parts);
    if (!pj)
        return -ENOMEM;
    struct state_upload u = {
        .id = m->id,
        .src_bucket = m->src_bucket,
        .src_key = m->key,
        .src_version = m->version,
        .src_etag = m->etag,
        .src_mtime = m->mtime,
        .size = m->size,
        .target = (char *) m->env.target_id,
        .dst_bucket = m->dst_bucket,
        .dst_key = m->dst_key,
        .upload_id = m->upload_id,
        .part_size = m->plan.part_size,
        .parts_json = pj,
        .started = m->started,
    };
    int r = m->env.st->ops->upload_put(m->env.st->inst, &u);
    free(pj);
    return r;
}

/* ------------------------------------------------------------- complete */

static void on_abort_done(struct s3_call *call, void *ud)
{
    struct mp *m = ud;
    if (call->err < 0 && call->err != -ENOENT)
        log_warn("target=s3 key=\"%s\" msg=\"abort of a stale upload failed; the sweeper will "
                 "retry\" error=\"%s\"",
                 m->dst_key, call->detail ? call->detail : "");
    else
        (void) m->env.st->ops->upload_del(m->env.st->inst, m->id);
    mp_end(m, m->source_changed ? -ESTALE : m->err);
}

/* The source changed (or the job must start over): abort the target's
 * upload so nobody pays for its parts, drop the record, then report. */
static void abort_upload(struct mp *m)
{
    s3_call_finish(&m->ctl);
    int r = s3_call_set(&m->ctl, "DELETE", m->dst_bucket, m->dst_key);
    if (r == 0)
        r = s3_call_query(&m->ctl, "uploadId", m->upload_id);
    if (r == 0)
        r = s3_call_start(m->env.dst, &m->ctl, on_abort_done, m);
    if (r < 0)
        mp_end(m, m->source_changed ? -ESTALE : m->err);
}

static void composite_etag(struct mp *m, char out[48])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    (void) EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (uint32_t i = 0; i < m->plan.nparts; i++) {
        unsigned char bin[16];
        (void) hex_decode(bin, m->petag[i] ? m->petag[i] : "", 16);
        (void) EVP_DigestUpdate(ctx, bin, 16);
    }
    unsigned char md[16];
    unsigned int n = 0;
    (void) EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    hex_encode(out, md, 16);
    (void) snprintf(out + 32, 16, "-%u", m->plan.nparts);
}

static void on_head_after_complete(struct s3_call *call, void *ud)
{
    struct mp *m = ud;
    char *etag = NULL;
    if (call->err == 0 && s3_call_etag(call, &etag) == 0 && m->env.etag_md5_of_parts) {
        char want[48];
        composite_etag(m, want);
        if (strcasecmp(etag, want) != 0) {
            char d[256];
            (void) snprintf(d, sizeof(d), "s3 target: %s/%s: completed ETag %s, expected %s",
                            m->dst_bucket, m->dst_key, etag, want);
            fail(m, -EBADMSG, d);
        }
    }
    free(etag);
    /* the object is whole on the target either way: the record goes */
    (void) m->env.st->ops->upload_del(m->env.st->inst, m->id);
    mp_end(m, m->err);
}

static void on_complete(struct s3_call *call, void *ud)
{
    struct mp *m = ud;
    if (call->err < 0) {
        fail(m, call->err, call->detail);
        mp_end(m, m->err); /* record kept: a later attempt completes */
        return;
    }
    struct xml_complete c = {0};
    int r = xml_parse_complete(&c, call->resp ? call->resp : "", call->resp_len);
    if (r < 0) { /* a 200 carrying <Error> */
        char d[512];
        (void) snprintf(d, sizeof(d), "s3 target: complete %s/%s: %s", m->dst_bucket, m->dst_key,
                        err_get());
        fail(m, r, d);
        mp_end(m, m->err);
        return;
    }
    xml_complete_finish(&c);
    /* RGW 16 answers an empty ETag: ask for it */
    s3_call_finish(&m->ctl);
    r = s3_head_object_prepare(&m->ctl, m->dst_bucket, m->dst_key);
    if (r == 0)
        r = s3_call_start(m->env.dst, &m->ctl, on_head_after_complete, m);
    if (r < 0) {
        (void) m->env.st->ops->upload_del(m->env.st->inst, m->id);
        mp_end(m, 0);
    }
}

static void complete_start(struct mp *m)
{
    /* a late pool timer must not pump into a second complete */
    m->completing = true;
    loop_timer_cancel(m->env.loop, &m->pool_timer);
    struct xml_part *parts = calloc(m->plan.nparts, sizeof(*parts));
    if (!parts) {
        fail(m, -ENOMEM, "out of memory");
        mp_end(m, m->err);
        return;
    }
    for (uint32_t i = 0; i < m->plan.nparts; i++) {
        parts[i].number = (int) i + 1;
        parts[i].etag = m->petag[i];
    }
    char *body = NULL;
    size_t len = 0;
    int r = xml_build_complete(&body, &len, parts, m->plan.nparts);
    free(parts);
    s3_call_finish(&m->ctl);
    if (r == 0)
        r = s3_call_set(&m->ctl, "POST", m->dst_bucket, m->dst_key);
    if (r == 0)
        r = s3_call_query(&m->ctl, "uploadId", m->upload_id);
    if (r == 0)
        r = s3_call_body(&m->ctl, body, len);
    free(body);
    if (r == 0)
        r = s3_call_start(m->env.dst, &m->ctl, on_complete, m);
    if (r < 0) {
        fail(m, r, "s3 target: cannot start CompleteMultipartUpload");
        mp_end(m, m->err);
    }
}

/* ----------------------------------------------------------------- hasher */

int mp_hasher_new(struct mp_hasher **out, struct loop *loop)
{
    struct mp_hasher *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->loop = loop;
    *out = h;
    return 0;
}

void mp_hasher_free(struct mp_hasher *h)
{
    if (!h)
        return;
    loop_timer_cancel(h->loop, &h->timer);
    free(h->jobs);
    free(h->wake);
    free(h->ctx);
    free(h->data);
    free(h->len);
    free(h);
}

static int hasher_add(struct mp_hasher *h, struct part_job *j)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct part_job **jobs = realloc(h->jobs, cap * sizeof(*jobs));
        if (jobs)
            h->jobs = jobs;
        struct part_job **wake = realloc(h->wake, cap * sizeof(*wake));
        if (wake)
            h->wake = wake;
        struct md5mb **ctx = realloc(h->ctx, cap * sizeof(*ctx));
        if (ctx)
            h->ctx = ctx;
        const unsigned char **data = realloc(h->data, cap * sizeof(*data));
        if (data)
            h->data = data;
        size_t *len = realloc(h->len, cap * sizeof(*len));
        if (len)
            h->len = len;
        if (!jobs || !wake || !ctx || !data || !len)
            return -ENOMEM;
        h->cap = cap;
    }
    h->jobs[h->n++] = j;
    j->hashing = true;
    return 0;
}

static void hasher_kick(struct mp_hasher *h);

static void hasher_drop(struct part_job *j)
{
    struct mp_hasher *h = j->m->env.hasher;
    if (!j->hashing)
        return;
    for (size_t i = 0; i < h->n; i++) {
        if (h->jobs[i] == j) {
            h->jobs[i] = h->jobs[--h->n];
            break;
        }
    }
    j->hashing = false;
    if (h->n > 0) /* fewer parts: a round may be due now */
        hasher_kick(h);
}

static void hasher_run(void *ud);

static void hasher_kick(struct mp_hasher *h)
{
    if (!h->timer.armed)
        loop_timer_arm(h->loop, &h->timer, 0, hasher_run, h);
}

/* The bytes of j's ring from position `from` up to `to`, as far as they
 * lie in one piece. */
static size_t ring_piece(const struct part_job *j, uint64_t from, uint64_t to,
                         const unsigned char **at)
{
    size_t off = (size_t) (from % j->cap);
    size_t n = (size_t) (to - from);
    if (n > j->cap - off)
        n = j->cap - off;
    *at = (const unsigned char *) j->ring + off;
    return n;
}

static void part_wake(struct part_job *j);

/* Where the ring's unread bytes begin: what both UploadPart and md5mb are
 * past may be written again. */
static uint64_t ring_low(const struct part_job *j)
{
    return j->sent < j->hashed ? j->sent : j->hashed;
}

/* A part that waits for hashing: its GET is over (the part settles on its
 * MD5), or paused on a ring that hashing, not UploadPart, holds full. */
static bool hash_urgent(const struct part_job *j)
{
    return j->got > j->hashed && (j->get_done || (j->get_paused && j->hashed < j->sent));
}

static int by_unhashed_desc(const void *a, const void *b)
{
    const struct part_job *x = *(struct part_job *const *) a, *y = *(struct part_job *const *) b;
    uint64_t ux = x->got - x->hashed, uy = y->got - y->hashed;
    return ux < uy ? 1 : ux > uy ? -1 : 0;
}

/* Whether a round is due: every lane has a ready part (or every part in
 * flight is ready), or the parts that wait for hashing are 1/URGENT_SHARE
 * of all. Hashing never holds UploadPart back (it sends what the GET
 * wrote), so rounds can wait for full lanes; every part that cannot go on
 * without hashing counts as waiting, so a round always comes. */
static bool hasher_due(const struct mp_hasher *h)
{
    size_t lanes = md5mb_lanes(), ready = 0, urgent = 0;
    for (size_t i = 0; i < h->n; i++) {
        ready += h->jobs[i]->got - h->jobs[i]->hashed >= HASH_QUANTUM;
        urgent += hash_urgent(h->jobs[i]);
    }
    return (ready > 0 && ready >= (h->n < lanes ? h->n : lanes)) ||
           (urgent > 0 && urgent * URGENT_SHARE >= h->n);
}

/* A round, as one md5mb_update_many() call: the parts with unhashed bytes,
 * most first, each giving up to M bytes. With at least one ready or urgent
 * part per lane, M is the least of the `lanes` largest (whole blocks, at
 * least HASH_QUANTUM): those lanes all run M bytes. With fewer, M is the
 * largest, and the others ride along in lanes that would idle. Parts are
 * taken while the lanes have room (lanes x M bytes); urgent ones always.
 * Then the GETs that wait for ring room and the parts that wait for their
 * MD5 go on, and another round is started if one is due already. */
static void hasher_run(void *ud)
{
    struct mp_hasher *h = ud;
    size_t lanes = md5mb_lanes(), nc = 0, nready = 0;
    if (!hasher_due(h))
        return;
    for (size_t i = 0; i < h->n; i++) {
        struct part_job *j = h->jobs[i];
        if (j->got == j->hashed)
            continue;
        h->wake[nc++] = j; /* scratch: the candidates */
        nready += j->got - j->hashed >= HASH_QUANTUM || hash_urgent(j);
    }
    if (nc == 0)
        return;
    qsort(h->wake, nc, sizeof(*h->wake), by_unhashed_desc);
    struct part_job *last = h->wake[(nready < lanes ? nready : lanes) - (nready > 0)];
    uint64_t m = (last->got - last->hashed) & ~(uint64_t) 63;
    if (m < HASH_QUANTUM)
        m = HASH_QUANTUM;
    uint64_t room = lanes * m;
    size_t k = 0;
    for (size_t i = 0; i < nc; i++) {
        struct part_job *j = h->wake[i];
        uint64_t take = j->got - j->hashed < m ? j->got - j->hashed : m;
        if (i >= lanes && take > room && !hash_urgent(j))
            continue;
        const unsigned char *at;
        size_t n = ring_piece(j, j->hashed, j->hashed + take, &at); /* up to the ring's end */
        room -= n < room ? n : room;
        h->ctx[k] = &j->md5;
        h->data[k] = at;
        h->len[k] = n;
        j->hashed += n;
        k++;
    }
    md5mb_update_many(h->ctx, h->data, h->len, k);

    /* waking a part may end it or start others (hasher_add, hasher_drop):
     * go over a copy of the list */
    size_t nwake = 0;
    for (size_t i = 0; i < h->n; i++)
        h->wake[nwake++] = h->jobs[i];
    for (size_t i = 0; i < nwake; i++)
        part_wake(h->wake[i]);

    if (hasher_due(h))
        hasher_kick(h);
}

/* ------------------------------------------------------------------ parts */

static void pump(struct mp *m);
static void mp_create(struct mp *m);

static void part_free(struct part_job *j)
{
    hasher_drop(j);
    loop_timer_cancel(j->m->env.loop, &j->timer);
    s3_call_finish(&j->get);
    s3_call_finish(&j->put);
    bufpool_put(j->m->env.pool, j->ring);
    free(j);
}

/* A part is over (done or given up): account, then keep the pipe full or
 * finish the job. */
static void part_over(struct part_job *j)
{
    struct mp *m = j->m;
    part_free(j);
    m->inflight--;
    pump(m);
}

static void part_send(void *ud);

/* Part j cannot be sent now: the job fails (its record stays for a resume). */
static void part_give_up(struct part_job *j, int err, const char *detail)
{
    j->m->pstate[j->n - 1] = PART_TODO;
    fail(j->m, err, detail);
    part_over(j);
}

static void part_retry_later(struct part_job *j, int err, const char *detail)
{
    struct mp *m = j->m;
    hasher_drop(j);
    if (++j->attempts >= PART_ATTEMPTS || m->err) {
        part_give_up(j, err, detail);
        return;
    }
    long ms = s3_backoff_ms(250, j->attempts, 250L << 6);
    m->retries++;
    log_debug("target=s3 key=\"%s\" part=%u msg=\"retry in %ldms\" error=\"%s\"", m->dst_key, j->n,
              ms, detail ? detail : "");
    loop_timer_arm(m->env.loop, &j->timer, ms, part_send, j);
}

/* Both requests of a part have ended: the part is sent when the target's
 * ETag for it is the MD5 of the bytes we read (the check Content-MD5 would
 * make, after the upload instead of before: a streamed part's MD5 is known
 * only at its end); else it is sent again. */
static void part_settle(struct part_job *j)
{
    struct mp *m = j->m;
    struct s3_call *get = &j->get, *put = &j->put;
    if (get->err == -ESTALE || get->err == -ENOENT) {
        m->source_changed = true;
        part_give_up(j, -ESTALE, "source changed during the copy");
        return;
    }
    bool get_failed = !j->get_aborted && (get->err < 0 || j->got != j->len);
    if (get_failed) { /* a GET that ended without error but short is worth another try */
        const char *d = get->detail ? get->detail : "source: short ranged read";
        if (get->err == 0 || get->retryable)
            part_retry_later(j, get->err ? get->err : -EIO, d);
        else
            part_give_up(j, get->err, d);
        return;
    }
    if (put->err < 0) { /* also when the GET was stopped because the PUT failed first */
        if (put->retryable)
            part_retry_later(j, put->err, put->detail);
        else
            part_give_up(j, put->err, put->detail);
        return;
    }
    if (j->hashing && j->hashed < j->got) { /* the hasher settles it after the last round */
        j->settle_wait = true;
        hasher_kick(m->env.hasher);
        return;
    }
    char *etag = NULL;
    if (s3_call_etag(put, &etag) < 0) {
        part_retry_later(j, -EPROTO, "s3 target: UploadPart answer without ETag");
        return;
    }
    unsigned char md[MD5MB_DIGEST_LEN];
    char hex[2 * MD5MB_DIGEST_LEN + 1];
    md5mb_final(&j->md5, md);
    hex_encode(hex, md, MD5MB_DIGEST_LEN);
    if (strcasecmp(etag, hex) != 0) {
        char d[256];
        (void) snprintf(d, sizeof(d),
                        "s3 target: %s/%s part %u: ETag %s is not the MD5 %s of the bytes sent "
                        "(a target that encrypts with KMS keys cannot be checked)",
                        m->dst_bucket, m->dst_key, j->n, etag, hex);
        free(etag);
        part_retry_later(j, -EBADMSG, d);
        return;
    }
    m->petag[j->n - 1] = etag;
    m->pstate[j->n - 1] = PART_DONE;
    m->bytes_sent += j->len;
    /* durable before we count the part as sent: a resume trusts it */
    int r = record_write(m);
    if (r < 0)
        fail(m, r, err_get());
    part_over(j);
}

static void on_part_get(struct s3_call *call, void *ud)
{
    struct part_job *j = ud;
    j->get_done = true;
    if (call->err < 0 || j->got != j->len) {
        if (!j->put_done) { /* the PUT can never get its length: stop it */
            s3_call_abort(&j->put);
            j->put_aborted = true;
            j->put_done = true;
        }
        if (j->put_done)
            part_settle(j);
        return;
    }
    if (j->hashing)
        hasher_kick(j->m->env.hasher); /* the tail is hashed in the next round */
    if (j->put_done)
        part_settle(j);
}

static void on_part_put(struct s3_call *call, void *ud)
{
    struct part_job *j = ud;
    j->put_done = true;
    if (call->err < 0 && !j->get_done) {
        s3_call_abort(&j->get);
        j->get_aborted = true;
        j->get_done = true;
    }
    if (j->get_done)
        part_settle(j);
}

static void part_got(struct part_job *j, const char *buf, size_t len);
static void part_sent(struct part_job *j, size_t n);
static void get_wake(struct part_job *j);

/* The GET waits for room in the ring; get_wake() lets it go on. */
static void get_pause(struct part_job *j)
{
    j->get_paused = true;
    if (j->hashing && j->hashed < j->sent)
        hasher_kick(j->m->env.hasher); /* hashing holds the ring */
}

/* The ranged GET's bytes into the ring; the GET pauses while it is full. */
static size_t part_sink(void *ud, const char *buf, size_t len)
{
    struct part_job *j = ud;
    if (j->got + len > j->len)
        return 0; /* more than the range: abort, the source is not what we planned */
    if (j->got + len - ring_low(j) > j->cap) {
        get_pause(j); /* curl hands the same bytes again on unpause */
        return S3_WRITE_PAUSE;
    }
    size_t off = (size_t) (j->got % j->cap);
    size_t first = j->cap - off < len ? j->cap - off : len;
    memcpy(j->ring + off, buf, first);
    memcpy(j->ring, buf + first, len - first);
    part_got(j, buf, len);
    return len;
}

/* The GET's room in the ring, for recv() itself (plain http): at least
 * RING_WAKE, or what is left of the part. */
static size_t part_sink_span(void *ud, char **p)
{
    struct part_job *j = ud;
    if (j->got >= j->len)
        return S3_SPAN_ABORT; /* more than the range */
    uint64_t room = j->cap - (j->got - ring_low(j));
    uint64_t left = j->len - j->got;
    if (room < RING_WAKE && room < left) {
        get_pause(j);
        return 0;
    }
    size_t off = (size_t) (j->got % j->cap);
    uint64_t n = room < left ? room : left;
    if (n > j->cap - off)
        n = j->cap - off;
    *p = j->ring + off;
    return (size_t) n;
}

static void part_sink_commit(void *ud, size_t n)
{
    struct part_job *j = ud;
    part_got(j, j->ring + (size_t) (j->got % j->cap), n);
}

/* len bytes more in the ring, the last ones at buf */
static void part_got(struct part_job *j, const char *buf, size_t len)
{
    j->got += len;
    struct mp_hasher *h = j->m->env.hasher;
    if (!j->hashing) { /* hashed alone, at once */
        md5mb_update(&j->md5, buf, len);
        j->hashed = j->got;
    } else {
        uint64_t unhashed = j->got - j->hashed;
        /* just became ready: that may fill the lanes */
        if (unhashed >= HASH_QUANTUM && unhashed - len < HASH_QUANTUM && hasher_due(h))
            hasher_kick(h);
    }
    if (j->put_paused) { /* new bytes for UploadPart */
        j->put_paused = false;
        s3_call_unpause(&j->put);
    }
}

/* A GET paused on a full ring goes on once there is room. */
static void get_wake(struct part_job *j)
{
    if (j->get_paused && j->cap - (j->got - ring_low(j)) >= RING_WAKE) {
        j->get_paused = false;
        s3_call_unpause(&j->get);
    }
}

/* UploadPart's next bytes in the ring, for send() itself (plain http) */
static size_t part_source_span(void *ud, const char **p)
{
    struct part_job *j = ud;
    if (j->sent == j->got) {
        j->put_paused = true;
        return 0;
    }
    const unsigned char *at;
    size_t n = ring_piece(j, j->sent, j->got, &at);
    *p = (const char *) at;
    return n;
}

static void part_source_commit(void *ud, size_t n)
{
    part_sent(ud, n);
}

/* UploadPart's body through curl: the same bytes, copied. */
static size_t part_source(void *ud, char *buf, size_t max)
{
    const char *at;
    size_t n = part_source_span(ud, &at);
    if (n == 0)
        return S3_READ_PAUSE;
    if (n > max)
        n = max;
    memcpy(buf, at, n);
    part_sent(ud, n);
    return n;
}

static void part_sent(struct part_job *j, size_t n)
{
    j->sent += n;
    if (j->hashing && hash_urgent(j)) /* sending passed hashing on a full ring */
        hasher_kick(j->m->env.hasher);
    get_wake(j);
}

static void settle_now(void *ud)
{
    part_settle(ud);
}

/* After a hashing round: room in the ring for the GET, or the whole MD5
 * for a part that waits to settle (from the loop, not under the round). */
static void part_wake(struct part_job *j)
{
    get_wake(j);
    if (j->settle_wait && j->hashed == j->got) {
        j->settle_wait = false;
        loop_timer_arm(j->m->env.loop, &j->timer, 0, settle_now, j);
    }
}

/* (Re)send part j: a ranged GET streamed through the ring into UploadPart. */
static void part_send(void *ud)
{
    struct part_job *j = ud;
    struct mp *m = j->m;
    if (m->err) { /* another part failed meanwhile: the job ends */
        part_give_up(j, m->err, NULL);
        return;
    }
    uint64_t first, last;
    part_range(&m->plan, j->n, &first, &last);
    hasher_drop(j);
    j->got = j->hashed = j->sent = 0;
    j->get_done = j->put_done = j->get_paused = j->put_paused = false;
    j->get_aborted = j->put_aborted = j->settle_wait = false;
    md5mb_init(&j->md5);
    if (m->env.hasher && hasher_add(m->env.hasher, j) < 0)
        log_debug("target=s3 key=\"%s\" part=%u msg=\"hashed alone: out of memory\"", m->dst_key,
                  j->n);
    s3_call_finish(&j->get);
    s3_call_finish(&j->put);
    int r =
        s3_get_object_prepare(&j->get, m->src_bucket, m->key, first, last, m->etag, part_sink, j);
    if (r == 0 && m->version[0])
        r = s3_call_query(&j->get, "versionId", m->version);
    if (r == 0)
        r = s3_upload_part_stream_prepare(&j->put, m->dst_bucket, m->dst_key, m->upload_id,
                                          (int) j->n, part_source, j, j->len);
    if (r == 0) {
        s3_call_spans(&j->get, part_sink_span, NULL, part_sink_commit, j);
        s3_call_spans(&j->put, NULL, part_source_span, part_source_commit, j);
    }
    if (r == 0)
        r = s3_call_start(m->src, &j->get, on_part_get, j);
    if (r < 0) {
        part_retry_later(j, r, "source: cannot start the ranged GET");
        return;
    }
    r = s3_call_start(m->env.dst, &j->put, on_part_put, j);
    if (r < 0) {
        s3_call_abort(&j->get);
        part_retry_later(j, r, "s3 target: cannot start UploadPart");
    }
}

static void pool_retry(void *ud)
{
    pump(ud);
}

static void pump(struct mp *m)
{
    /* part_send() may end a part at once, which pumps again: only the
     * outermost call goes on, so nothing below frees m under a caller */
    if (m->pumping) {
        m->repump = true;
        return;
    }
    if (m->completing)
        return;
    m->pumping = true;
again:
    m->repump = false;
    while (!m->err && m->inflight < m->env.part_concurrency && m->next < m->plan.nparts) {
        uint32_t i = m->next;
        if (m->pstate[i] != PART_TODO) {
            m->next++;
            continue;
        }
        uint64_t len = i + 1 == m->plan.nparts ? m->plan.last_size : m->plan.part_size;
        /* a part wholly in its ring never waits for room (curl hands up to
         * 16 KiB at once, PART_RING is far more) */
        size_t cap = len < PART_RING ? (size_t) len : PART_RING;
        char *buf = bufpool_get(m->env.pool, cap);
        if (!buf) {
            /* the byte budget or sync.max_inflight_parts is in use (maybe by
             * other objects): try again soon; a part of ours that ends pumps
             * again too, so an object under way keeps its parts going and
             * ends sooner than one that has not begun */
            if (!m->pool_timer.armed)
                loop_timer_arm(m->env.loop, &m->pool_timer, POOL_WAIT_MS, pool_retry, m);
            m->pumping = false;
            return;
        }
        struct part_job *j = calloc(1, sizeof(*j));
        if (!j) {
            bufpool_put(m->env.pool, buf);
            fail(m, -ENOMEM, "out of memory");
            break;
        }
        j->m = m;
        j->n = i + 1;
        j->ring = buf;
        j->cap = cap;
        j->len = len;
        s3_call_init(&j->get);
        s3_call_init(&j->put);
        m->pstate[i] = PART_BUSY;
        m->inflight++;
        m->next++;
        part_send(j);
    }
    if (m->repump)
        goto again;
    m->pumping = false;
    if (m->inflight > 0)
        return;
    if (m->source_changed) {
        abort_upload(m);
        return;
    }
    if (m->err) {
        mp_end(m, m->err); /* the record stays: a later attempt resumes */
        return;
    }
    for (uint32_t i = 0; i < m->plan.nparts; i++)
        if (m->pstate[i] != PART_DONE)
            return; /* still waiting for a buffer */
    complete_start(m);
}

/* ----------------------------------------------------------- start/resume */

static void on_list_parts(struct s3_call *call, void *ud)
{
    struct mp *m = ud;
    if (call->err == -ENOENT) {
        /* the upload is gone (aborted by someone, or expired): start over */
        log_info("target=s3 key=\"%s\" msg=\"recorded upload is gone, starting over\"", m->dst_key);
        (void) m->env.st->ops->upload_del(m->env.st->inst, m->id);
        m->err = 0;
        free(m->upload_id);
        m->upload_id = NULL;
        for (uint32_t i = 0; i < m->plan.nparts; i++)
            m->pstate[i] = PART_TODO;
        mp_create(m);
        return;
    }
    if (call->err < 0) {
        fail(m, call->err, call->detail);
        mp_end(m, m->err);
        return;
    }
    struct xml_list_parts page = {0};
    int r = xml_parse_list_parts(&page, call->resp ? call->resp : "", call->resp_len);
    if (r < 0) {
        fail(m, r, err_get());
        mp_end(m, m->err);
        return;
    }
    /* the target's list is the truth: a part counts as sent when it is
     * there with the expected size */
    for (size_t i = 0; i < page.nparts; i++) {
        int n = page.parts[i].number;
        if (n < 1 || (uint32_t) n > m->plan.nparts)
            continue;
        uint64_t want = (uint32_t) n == m->plan.nparts ? m->plan.last_size : m->plan.part_size;
        if (page.parts[i].size != want)
            continue;
        free(m->petag[n - 1]);
        m->petag[n - 1] = strdup(page.parts[i].etag);
        m->pstate[n - 1] = m->petag[n - 1] ? PART_DONE : PART_TODO;
    }
    bool more = page.truncated && page.next_marker > m->list_marker;
    m->list_marker = page.next_marker;
    xml_list_parts_finish(&page);
    s3_call_finish(&m->ctl);
    if (more) {
        char mk[16];
        (void) snprintf(mk, sizeof(mk), "%d", m->list_marker);
        r = s3_call_set(&m->ctl, "GET", m->dst_bucket, m->dst_key);
        if (r == 0)
            r = s3_call_query(&m->ctl, "uploadId", m->upload_id);
        if (r == 0)
            r = s3_call_query(&m->ctl, "part-number-marker", mk);
        if (r == 0)
            r = s3_call_start(m->env.dst, &m->ctl, on_list_parts, m);
        if (r < 0) {
            fail(m, r, "s3 target: cannot list parts");
            mp_end(m, m->err);
        }
        return;
    }
    uint32_t have = 0;
    for (uint32_t i = 0; i < m->plan.nparts; i++)
        have += m->pstate[i] == PART_DONE;
    log_info("target=s3 key=\"%s\" msg=\"resuming upload\" parts_done=%u parts=%u", m->dst_key,
             have, m->plan.nparts);
    m->next = 0;
    pump(m);
}

static void resume_start(struct mp *m)
{
    s3_call_finish(&m->ctl);
    int r = s3_call_set(&m->ctl, "GET", m->dst_bucket, m->dst_key);
    if (r == 0)
        r = s3_call_query(&m->ctl, "uploadId", m->upload_id);
    if (r == 0)
        r = s3_call_start(m->env.dst, &m->ctl, on_list_parts, m);
    if (r < 0) {
        fail(m, r, "s3 target: cannot list parts");
        mp_end(m, m->err);
    }
}

static void on_create(struct s3_call *call, void *ud)
{
    struct mp *m = ud;
    if (call->err < 0) {
        fail(m, call->err, call->detail);
        mp_end(m, m->err);
        return;
    }
    int r = xml_parse_initiate(&m->upload_id, call->resp ? call->resp : "", call->resp_len);
    if (r < 0) {
        fail(m, r, err_get());
        mp_end(m, m->err);
        return;
    }
    /* the record exists before the first part: a crash from here on resumes */
    m->started = (int64_t) time(NULL);
    if ((r = record_write(m)) < 0) {
        fail(m, r, err_get());
        abort_upload(m);
        return;
    }
    pump(m);
}

static void mp_create(struct mp *m)
{
    s3_call_finish(&m->ctl);
    int r = s3_create_multipart_prepare(&m->ctl, m->dst_bucket, m->dst_key);
    for (size_t i = 0; r == 0 && i + 1 < m->nhdr; i += 2)
        r = s3_call_header(&m->ctl, m->hdr[i], m->hdr[i + 1]);
    if (r == 0)
        r = s3_call_start(m->env.dst, &m->ctl, on_create, m);
    if (r < 0) {
        fail(m, r, "s3 target: cannot start CreateMultipartUpload");
        mp_end(m, m->err);
    }
}

static void on_stale_aborted(struct s3_call *call, void *ud)
{
    struct mp *m = ud;
    if (call->err < 0 && call->err != -ENOENT)
        log_warn("target=s3 key=\"%s\" msg=\"abort of the stale upload failed; the sweeper will "
                 "retry\" error=\"%s\"",
                 m->dst_key, call->detail ? call->detail : "");
    (void) m->env.st->ops->upload_del(m->env.st->inst, m->id);
    mp_create(m);
}

static bool record_matches(const struct mp *m, const struct state_upload *u)
{
    return strcmp(u->src_etag, m->etag) == 0 && strcmp(u->src_mtime, m->mtime) == 0 &&
           u->size == m->size && strcmp(u->dst_bucket, m->dst_bucket) == 0 &&
           strcmp(u->dst_key, m->dst_key) == 0 && strcmp(u->target, m->env.target_id) == 0;
}

static int plan_parts(struct mp *m, uint64_t part_size)
{
    m->plan.part_size = part_size;
    m->plan.nparts = (uint32_t) (m->size / part_size + (m->size % part_size != 0));
    m->plan.last_size = m->size - (uint64_t) (m->plan.nparts - 1) * part_size;
    m->pstate = calloc(m->plan.nparts, 1);
    m->petag = calloc(m->plan.nparts, sizeof(char *));
    return m->pstate && m->petag ? 0 : -ENOMEM;
}

int mp_start(const struct mp_env *env, const struct sync_event *ev, const char *etag,
             const char *mtime, uint64_t size, const char *const *headers, size_t nheaders,
             mp_done_fn done, void *ud)
{
    struct mp *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->env = *env;
    m->src = ev->src_s3;
    m->done = done;
    m->ud = ud;
    m->size = size;
    s3_call_init(&m->ctl);
    const char *ver = ev->version_id && strcmp(ev->version_id, "null") != 0 ? ev->version_id : "";
    m->src_bucket = strdup(ev->src_bucket);
    m->key = strdup(ev->key);
    m->version = strdup(ver);
    m->dst_bucket = strdup(ev->dst_bucket);
    m->dst_key = strdup(ev->dst_key);
    m->etag = strdup(etag);
    m->mtime = strdup(mtime);
    m->hdr = calloc(nheaders ? nheaders : 1, sizeof(char *));
    if (asprintf(&m->id, "%s/%s/%s", ev->src_bucket, ev->key, ver) < 0)
        m->id = NULL;
    int r = m->src_bucket && m->key && m->version && m->dst_bucket && m->dst_key && m->etag &&
                    m->mtime && m->hdr && m->id
                ? 0
                : -ENOMEM;
    for (size_t i = 0; r == 0 && i < nheaders; i++)
        if (!(m->hdr[m->nhdr++] = strdup(headers[i])))
            r = -ENOMEM;
    if (r < 0) {
        mp_free(m);
        return r;
    }

    struct state_upload u = {0};
    int g = env->st->ops->upload_get(env->st->inst, m->id, &u);
    if (g == 0 && record_matches(m, &u) && u.part_size > 0 && u.upload_id[0]) {
        /* same source object, same place: resume with the recorded plan */
        m->upload_id = strdup(u.upload_id);
        r = m->upload_id ? plan_parts(m, u.part_size) : -ENOMEM;
        state_upload_finish(&u);
        if (r < 0) {
            mp_free(m);
            return r;
        }
        resume_start(m);
        return 0;
    }
    if (g == 0) {
        /* the record is for an older version of the object: its upload
         * must not linger, nobody would complete it */
        m->stale_bucket = strdup(u.dst_bucket);
        m->stale_key = strdup(u.dst_key);
        m->stale_upload = strdup(u.upload_id);
    }
    state_upload_finish(&u);
    r = part_plan(&m->plan, size, env->min_part, env->provider_min);
    if (r == 0) {
        uint64_t ps = m->plan.part_size;
        r = plan_parts(m, ps);
    }
    if (r < 0) {
        mp_free(m);
        return r;
    }
    if (m->stale_upload) {
        log_info("target=s3 key=\"%s\" msg=\"source changed since the recorded upload; "
                 "aborting it\"",
                 m->dst_key);
        r = s3_call_set(&m->ctl, "DELETE", m->stale_bucket, m->stale_key);
        if (r == 0)
            r = s3_call_query(&m->ctl, "uploadId", m->stale_upload);
        if (r == 0)
            r = s3_call_start(env->dst, &m->ctl, on_stale_aborted, m);
        if (r == 0)
            return 0;
    }
    mp_create(m);
    return 0;
}
