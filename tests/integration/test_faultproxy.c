/* The fault-injecting proxy (tests/fakes/faultproxy.c) in front of the lab's
 * target radosgw, driven by our own S3 client: it forwards every operation
 * unchanged, counts requests and body bytes per operation, and injects
 * 503 SlowDown, 500, resets and stalls by rules changed at run time. The
 * client is told not to retry, so each injected fault is seen as it is. */
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
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static struct labenv env;
static struct loop *loop;
static struct s3_client *s3; /* through the proxy, retries off */
static char bucket[64];
static const char *proxy_bin;
static char upstream[64]; /* "127.0.0.1:PORT" of the lab target */
static char tmpdir[64] = "/tmp/test-faultproxy-XXXXXX";
static char stats_path[128];
static pid_t proxy_pid = -1;
static int proxy_port;

/* ---- helpers */

struct src {
    const char *data;
    size_t len, off;
};

static size_t src_read(void *ud, char *buf, size_t max)
{
    struct src *s = ud;
    size_t k = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->data + s->off, k);
    s->off += k;
    return k;
}

static char *pattern(size_t len, unsigned seed)
{
    char *p = malloc(len);
    for (size_t i = 0; p && i < len; i++)
        p[i] = (char) ((i * 2654435761u + seed) >> 13);
    return p;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void) p;
    (void) ud;
    return size * n;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* harness.h's proxy helpers, bound to the one proxy under test. */
static long set_rules(const char *rules)
{
    return proxy_rules(proxy_port, rules);
}

/* One counter of the live stats; -1 when unreadable. */
static long long counter(const char *op, const char *field)
{
    return proxy_counter(proxy_port, op, field);
}

static void stats_reset(void)
{
    CHECK_INT(proxy_reset(proxy_port), 200);
}

static int put_bytes(const char *key, const char *data, size_t len, bool *retryable)
{
    struct s3_call call;
    s3_call_init(&call);
    struct src s = {data, len, 0};
    int r = s3_put_object_prepare(&call, bucket, key, src_read, &s, len);
    if (r == 0)
        r = s3_call_run(s3, &call);
    if (retryable)
        *retryable = call.retryable;
    s3_call_finish(&call);
    return r;
}

static int get_bytes(const char *key, struct sink *out)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_get_object_prepare(&call, bucket, key, 1, 0, NULL, sink_write, out);
    if (r == 0)
        r = s3_call_run(s3, &call);
    s3_call_finish(&call);
    return r;
}

static int head_object(const char *key)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_head_object(s3, &call, bucket, key);
    s3_call_finish(&call);
    return r;
}

static int upload_part(const char *key, const char *upload_id, int number, const char *data,
                       size_t len, char **etag, bool *retryable)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_upload_part_prepare(&call, bucket, key, upload_id, number, data, len);
    if (r == 0)
        r = s3_call_run(s3, &call);
    if (retryable)
        *retryable = call.retryable;
    if (r == 0 && etag)
        r = s3_call_etag(&call, etag);
    s3_call_finish(&call);
    return r;
}

static size_t parts_listed(const char *key, const char *upload_id)
{
    struct xml_list_parts l = {0};
    size_t n = s3_list_parts(s3, bucket, key, upload_id, 0, &l) == 0 ? l.nparts : (size_t) -1;
    xml_list_parts_finish(&l);
    return n;
}

/* ---- tests */

static void test_faultproxy__refuses_non_loopback(void)
{
    int port = -1;
    pid_t pid = proxy_spawn(&port, proxy_bin, "0.0.0.0:0", upstream, stats_path);
    CHECK(pid > 0);
    CHECK_INT(wait_exit(pid, 3000), 2);
    CHECK_INT(port, 0);
    pid = proxy_spawn(&port, proxy_bin, "127.0.0.1:0", "10.1.2.3:80", stats_path);
    CHECK(pid > 0);
    CHECK_INT(wait_exit(pid, 3000), 2);
}

static void test_faultproxy__starts_and_prints_port(void)
{
    proxy_pid = proxy_spawn(&proxy_port, proxy_bin, "127.0.0.1:0", upstream, stats_path);
    CHECK(proxy_pid > 0);
    CHECK(proxy_port > 0);
    /* the stats file exists from the start, all zero */
    char *buf = slurp_len(stats_path, NULL);
    CHECK(buf != NULL);
    CHECK_INT(proxy_stat(buf, "UploadPart", "bytes"), 0);
    CHECK_INT(proxy_stat(buf, "Other", "requests"), 0);
    free(buf);
}

static void test_faultproxy__forwards_put_get_head(void)
{
    snprintf(bucket, sizeof(bucket), "it-fp-%ld-%d", (long) time(NULL), (int) (random() % 1000));
    CHECK_INT(s3_create_bucket(s3, bucket, NULL), 0);
    stats_reset();

    /* 1.5 MiB goes with Expect: 100-continue, the small one without */
    const size_t big = (3u << 20) / 2, small = 1000;
    char *a = pattern(big, 1), *b = pattern(small, 2);
    CHECK_INT(put_bytes("fp/big", a, big, NULL), 0);
    CHECK_INT(put_bytes("fp/small", b, small, NULL), 0);
    struct sink got = {0};
    CHECK_INT(get_bytes("fp/big", &got), 0);
    CHECK(got.len == big && memcmp(got.buf, a, big) == 0);
    free(got.buf);
    got = (struct sink){0};
    CHECK_INT(get_bytes("fp/small", &got), 0);
    CHECK(got.len == small && memcmp(got.buf, b, small) == 0);
    free(got.buf);
    struct s3_call head;
    s3_call_init(&head);
    CHECK_INT(s3_head_object(s3, &head, bucket, "fp/big"), 0);
    CHECK_STR(s3_call_resp_header(&head, "content-length"), "1572864");
    s3_call_finish(&head);
    CHECK_INT(head_object("fp/none"), -ENOENT);
    struct xml_list_objects l = {0};
    CHECK_INT(s3_list_objects(s3, bucket, "fp/", NULL, 10, &l), 0);
    CHECK_INT(l.nobjects, 2);
    xml_list_objects_finish(&l);

    CHECK_INT(counter("PutObject", "requests"), 2);
    CHECK_INT(counter("PutObject", "bytes"), big + small);
    CHECK_INT(counter("GetObject", "requests"), 2);
    CHECK_INT(counter("GetObject", "bytes"), 0);
    CHECK_INT(counter("HeadObject", "requests"), 2);
    CHECK_INT(counter("ListObjects", "requests"), 1);
    CHECK_INT(counter("PutObject", "injected"), 0);

    CHECK_INT(s3_delete_object(s3, bucket, "fp/small"), 0);
    CHECK_INT(counter("DeleteObject", "requests"), 1);
    free(a);
    free(b);
}

static void test_faultproxy__multipart_counts_part_bytes(void)
{
    const char *key = "fp/multi";
    const size_t sizes[3] = {5u << 20, 5u << 20, 123457};
    stats_reset();
    struct s3_call init;
    s3_call_init(&init);
    char *upload_id = NULL;
    CHECK_INT(s3_create_multipart(s3, &init, bucket, key, &upload_id), 0);
    s3_call_finish(&init);
    if (!upload_id)
        return;
    struct xml_part parts[3] = {{0}};
    long long sum = 0;
    for (int i = 0; i < 3; i++) {
        char *data = pattern(sizes[i], (unsigned) i);
        char *etag = NULL;
        CHECK_INT(upload_part(key, upload_id, i + 1, data, sizes[i], &etag, NULL), 0);
        parts[i] = (struct xml_part){.number = i + 1, .etag = etag, .size = sizes[i]};
        sum += (long long) sizes[i];
        free(data);
    }
    CHECK_INT(parts_listed(key, upload_id), 3);
    CHECK_INT(s3_complete_multipart(s3, bucket, key, upload_id, parts, 3, NULL), 0);
    struct s3_call head;
    s3_call_init(&head);
    CHECK_INT(s3_head_object(s3, &head, bucket, key), 0);
    char len[32];
    snprintf(len, sizeof(len), "%lld", sum);
    CHECK_STR(s3_call_resp_header(&head, "content-length"), len);
    char *etag = NULL;
    CHECK_INT(s3_call_etag(&head, &etag), 0);
    CHECK(etag && strstr(etag, "-3") != NULL); /* md5-of-md5s of 3 parts */
    free(etag);
    s3_call_finish(&head);

    CHECK_INT(counter("CreateMultipartUpload", "requests"), 1);
    CHECK_INT(counter("UploadPart", "requests"), 3);
    CHECK_INT(counter("UploadPart", "bytes"), sum);
    CHECK_INT(counter("UploadPart", "peak"), 1); /* one after another */
    CHECK_INT(counter("ListParts", "requests"), 1);
    CHECK_INT(counter("CompleteMultipartUpload", "requests"), 1);
    CHECK(counter("CompleteMultipartUpload", "bytes") > 0); /* the XML part list */
    CHECK_INT(counter("PutObject", "requests"), 0);

    /* the stats file says the same, written at the end of each request */
    char *buf = slurp(stats_path);
    CHECK_INT(proxy_stat(buf, "UploadPart", "bytes"), sum);
    CHECK_INT(proxy_stat(buf, "HeadObject", "requests"), 1);
    free(buf);

    for (int i = 0; i < 3; i++)
        free(parts[i].etag);
    free(upload_id);
    CHECK_INT(s3_delete_object(s3, bucket, key), 0);
}

static void test_faultproxy__503_is_retryable_slowdown(void)
{
    stats_reset();
    CHECK_INT(set_rules("[{\"op\":\"PutObject\",\"action\":\"503\",\"count\":1}]"), 200);
    bool retryable = false;
    const size_t len = (3u << 20) / 2; /* with Expect: the proxy answers the 100 itself */
    char *data = pattern(len, 3);
    CHECK_INT(put_bytes("fp/slow", data, len, &retryable), -EAGAIN);
    CHECK(retryable);
    CHECK(strstr(err_get(), "503") != NULL);
    CHECK(strstr(err_get(), "SlowDown") != NULL);
    CHECK_INT(counter("PutObject", "injected"), 1);
    CHECK_INT(counter("PutObject", "requests"), 0); /* nothing reached the server */
    CHECK_INT(head_object("fp/slow"), -ENOENT);
    /* count 1 is used up: the same connection carries on, and so does the PUT */
    CHECK_INT(put_bytes("fp/slow", data, len, NULL), 0);
    CHECK_INT(counter("PutObject", "requests"), 1);
    CHECK_INT(counter("PutObject", "bytes"), len);
    free(data);
    CHECK_INT(s3_delete_object(s3, bucket, "fp/slow"), 0);
}

static void test_faultproxy__500_and_reset_on_parts_are_retryable(void)
{
    const char *key = "fp/faulty-parts";
    const size_t len = 5u << 20;
    stats_reset();
    struct s3_call init;
    s3_call_init(&init);
    char *upload_id = NULL;
    CHECK_INT(s3_create_multipart(s3, &init, bucket, key, &upload_id), 0);
    s3_call_finish(&init);
    if (!upload_id)
        return;
    char *data = pattern(len, 4);
    bool retryable = false;

    CHECK_INT(set_rules("[{\"op\":\"UploadPart\",\"action\":\"500\",\"count\":1}]"), 200);
    CHECK_INT(upload_part(key, upload_id, 1, data, len, NULL, &retryable), -EIO);
    CHECK(retryable);
    CHECK(strstr(err_get(), "InternalError") != NULL);
    CHECK_INT(counter("UploadPart", "bytes"), 0);

    /* cut after exactly 1 MiB went upstream */
    CHECK_INT(set_rules("[{\"op\":\"UploadPart\",\"action\":\"reset\",\"after_bytes\":1048576,"
                        "\"count\":1}]"),
              200);
    retryable = false;
    int r = upload_part(key, upload_id, 1, data, len, NULL, &retryable);
    CHECK_INT(r, -ECONNRESET);
    CHECK(retryable);
    printf("# reset seen as: %s\n", err_get());
    CHECK_INT(counter("UploadPart", "requests"), 1);
    CHECK_INT(counter("UploadPart", "bytes"), 1048576);
    CHECK_INT(counter("UploadPart", "injected"), 2);
    CHECK_INT(parts_listed(key, upload_id), 0); /* the server kept no torn part */

    /* both rules used up: the part goes through */
    char *etag = NULL;
    CHECK_INT(upload_part(key, upload_id, 1, data, len, &etag, NULL), 0);
    CHECK_INT(parts_listed(key, upload_id), 1);
    CHECK_INT(counter("UploadPart", "bytes"), 1048576 + len);
    free(etag);
    CHECK_INT(s3_abort_multipart(s3, bucket, key, upload_id), 0);
    CHECK_INT(counter("AbortMultipartUpload", "requests"), 1);
    free(upload_id);
    free(data);
}

static unsigned heads_pattern(int n)
{
    unsigned bits = 0;
    for (int i = 0; i < n; i++)
        if (head_object("fp/big") < 0)
            bits |= 1u << i;
    return bits;
}

/* corrupt: the server stores what the proxy made of the body; with
 * Content-MD5 (an UploadPart from memory) the server refuses it instead. */
static void test_faultproxy__corrupt_flips_one_body_byte(void)
{
    stats_reset();
    CHECK_INT(set_rules("[{\"op\":\"PutObject\",\"action\":\"corrupt\",\"after_bytes\":1000,"
                        "\"count\":1}]"),
              200);
    const size_t len = 300000;
    char *data = pattern(len, 7);
    CHECK_INT(put_bytes("fp/flip", data, len, NULL), 0);
    CHECK_INT(counter("PutObject", "injected"), 1);
    struct sink got = {0};
    CHECK_INT(get_bytes("fp/flip", &got), 0);
    CHECK_INT(got.len, len);
    size_t diffs = 0, at = 0;
    for (size_t i = 0; got.buf && i < len && i < got.len; i++)
        if (got.buf[i] != data[i]) {
            diffs++;
            at = i;
        }
    CHECK_INT(diffs, 1);
    CHECK_INT(at, 1000);
    free(got.buf);

    CHECK_INT(set_rules("[{\"op\":\"UploadPart\",\"action\":\"corrupt\",\"after_bytes\":5,"
                        "\"count\":1}]"),
              200);
    char *upload_id = NULL;
    struct s3_call create;
    s3_call_init(&create);
    CHECK_INT(s3_create_multipart(s3, &create, bucket, "fp/flip-mp", &upload_id), 0);
    s3_call_finish(&create);
    bool retryable = true;
    CHECK_INT(
        upload_part("fp/flip-mp", upload_id ? upload_id : "", 1, data, len, NULL, &retryable) < 0,
        1);
    CHECK(strstr(err_get(), "BadDigest") != NULL);
    CHECK_INT(upload_part("fp/flip-mp", upload_id ? upload_id : "", 1, data, len, NULL, NULL), 0);
    CHECK_INT(s3_abort_multipart(s3, bucket, "fp/flip-mp", upload_id ? upload_id : ""), 0);
    free(upload_id);
    free(data);
    CHECK_INT(set_rules("[]"), 200);
    CHECK_INT(s3_delete_object(s3, bucket, "fp/flip"), 0);
}

/* peak: the most requests of an operation in the proxy at once. Three
 * GETs held by a stall are in it together; one after another count 1. */
static void test_faultproxy__peak_counts_requests_at_once(void)
{
    stats_reset();
    CHECK_INT(counter("GetObject", "peak"), 0);
    CHECK_INT(set_rules("[{\"op\":\"GetObject\",\"action\":\"stall\",\"stall_ms\":300,"
                        "\"count\":3}]"),
              200);
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s/fp/big", proxy_port, bucket);
    CURLM *multi = curl_multi_init();
    CURL *e[3];
    for (int i = 0; i < 3; i++) { /* unsigned: the server says 403, the proxy counts them */
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_NOBODY, 0L);
        curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(multi, e[i]);
    }
    int running = 1;
    while (running > 0) {
        curl_multi_perform(multi, &running);
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < 3; i++) {
        long code = 0;
        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &code);
        CHECK_INT(code, 403);
        curl_multi_remove_handle(multi, e[i]);
        curl_easy_cleanup(e[i]);
    }
    curl_multi_cleanup(multi);
    CHECK_INT(counter("GetObject", "injected"), 3);
    CHECK_INT(counter("GetObject", "peak"), 3);
    CHECK_INT(set_rules("[]"), 200);

    stats_reset(); /* nothing in the proxy now: peak starts at 0 */
    CHECK_INT(counter("GetObject", "peak"), 0);
    CHECK_INT(head_object("fp/big"), 0);
    CHECK_INT(head_object("fp/big"), 0);
    CHECK_INT(counter("HeadObject", "requests"), 2);
    CHECK_INT(counter("HeadObject", "peak"), 1);
}

static void test_faultproxy__rules_change_at_run_time(void)
{
    stats_reset();
    CHECK_INT(set_rules("[{\"op\":\"HeadObject\",\"action\":\"503\"}]"), 200);
    CHECK_INT(head_object("fp/big"), -EAGAIN);
    CHECK_INT(head_object("fp/big"), -EAGAIN);
    CHECK_INT(set_rules("[]"), 200);
    CHECK_INT(head_object("fp/big"), 0);

    /* a bad body is refused and the rules in force stay */
    const char *good = "[{\"op\":\"*\",\"action\":\"503\",\"probability\":0.5,\"seed\":7}]";
    CHECK_INT(set_rules(good), 200);
    CHECK_INT(set_rules("[{\"op\":\"HeadObject\",\"action\":\"explode\"}]"), 400);
    CHECK_INT(set_rules("[{\"op\":\"NoSuchOp\",\"action\":\"503\"}]"), 400);
    CHECK_INT(set_rules("{not json"), 400);
    char *now = NULL;
    CHECK_INT(proxy_control(proxy_port, "GET", "rules", NULL, &now), 200);
    CHECK_STR(now, good);
    free(now);

    /* probability with a seed: some fail, some pass, the same ones again
     * after reloading the same rules */
    stats_reset();
    unsigned first = heads_pattern(20);
    int failed = __builtin_popcount(first);
    CHECK(failed > 0 && failed < 20);
    CHECK_INT(counter("HeadObject", "injected"), failed);
    CHECK_INT(counter("HeadObject", "requests"), 20 - failed);
    CHECK_INT(set_rules(good), 200);
    CHECK_INT(heads_pattern(20), first);
    CHECK_INT(set_rules("[]"), 200);
}

static void test_faultproxy__stall_delays_or_never_answers(void)
{
    stats_reset();
    CHECK_INT(set_rules("[{\"op\":\"HeadObject\",\"action\":\"stall\",\"stall_ms\":400,"
                        "\"count\":1}]"),
              200);
    long long t0 = now_ms();
    CHECK_INT(head_object("fp/big"), 0);
    CHECK(now_ms() - t0 >= 400);

    /* stall_ms 0: no answer at all, the client times out (no signature
     * needed: nothing reaches the server) */
    CHECK_INT(set_rules("[{\"op\":\"GetObject\",\"action\":\"stall\",\"count\":1}]"), 200);
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s/fp/big", proxy_port, bucket);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 500L);
    t0 = now_ms();
    CHECK_INT(curl_easy_perform(e), CURLE_OPERATION_TIMEDOUT);
    CHECK(now_ms() - t0 >= 450); /* ms truncation on both sides */
    curl_easy_cleanup(e);
    CHECK_INT(counter("GetObject", "injected"), 1);
    CHECK_INT(counter("GetObject", "requests"), 0);
    CHECK_INT(counter("HeadObject", "requests"), 1);
    CHECK_INT(set_rules("[]"), 200);
}

struct put_job {
    struct s3_call call;
    struct src src;
    bool done;
};

static void put_done(struct s3_call *call, void *ud)
{
    (void) call;
    ((struct put_job *) ud)->done = true;
}

/* 32 PUTs held 300 ms each: in parallel they take about 300 ms, one by one
 * they would take 9.6 s. */
static void test_faultproxy__32_connections_in_parallel(void)
{
    enum { N = 32 };
    stats_reset();
    CHECK_INT(set_rules("[{\"op\":\"PutObject\",\"action\":\"stall\",\"stall_ms\":300}]"), 200);
    static struct put_job jobs[N];
    const size_t len = 200000;
    char *data = pattern(len, 5);
    long long t0 = now_ms();
    int started = 0;
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "fp/par/%02d", i);
        jobs[i] = (struct put_job){.src = {data, len, 0}};
        s3_call_init(&jobs[i].call);
        int r = s3_put_object_prepare(&jobs[i].call, bucket, key, src_read, &jobs[i].src, len);
        if (r == 0)
            r = s3_call_start(s3, &jobs[i].call, put_done, &jobs[i]);
        if (r == 0)
            started++;
        else
            jobs[i].done = true;
    }
    CHECK_INT(started, N);
    for (int left = N; left > 0 && now_ms() - t0 < 20000;) {
        (void) loop_run_once(loop, 200);
        left = 0;
        for (int i = 0; i < N; i++)
            left += !jobs[i].done;
    }
    long long took = now_ms() - t0;
    int ok = 0;
    for (int i = 0; i < N; i++) {
        if (!jobs[i].done)
            s3_call_abort(&jobs[i].call);
        else if (jobs[i].call.err == 0)
            ok++;
        else
            printf("# put %d: %s\n", i, jobs[i].call.detail);
        s3_call_finish(&jobs[i].call);
    }
    printf("# 32 stalled PUTs took %lld ms\n", took);
    CHECK_INT(ok, N);
    CHECK(took < 3000);
    CHECK_INT(counter("PutObject", "requests"), N);
    CHECK_INT(counter("PutObject", "injected"), N);
    CHECK_INT(counter("PutObject", "bytes"), (long long) N * (long long) len);
    CHECK_INT(set_rules("[]"), 200);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "fp/par/%02d", i);
        (void) s3_delete_object(s3, bucket, key);
    }
    free(data);
}

static void test_faultproxy__reset_zeroes_stats(void)
{
    CHECK(counter("DeleteObject", "requests") > 0);
    stats_reset();
    char *text = NULL;
    CHECK_INT(proxy_control(proxy_port, "GET", "stats", NULL, &text), 200);
    json_t *root = text ? json_loads(text, 0, NULL) : NULL;
    CHECK_INT(json_object_size(root), 11); /* every operation, zeros included */
    const char *op;
    json_t *v;
    long long total = 0;
    json_object_foreach(root, op, v)
    {
        total += json_integer_value(json_object_get(v, "requests")) +
                 json_integer_value(json_object_get(v, "bytes")) +
                 json_integer_value(json_object_get(v, "injected")) +
                 json_integer_value(json_object_get(v, "peak"));
    }
    CHECK_INT(total, 0);
    json_decref(root);
    free(text);
    CHECK_INT(proxy_control(proxy_port, "GET", "nonsense", NULL, NULL), 404);
}

static void test_faultproxy__sigterm_stops_it(void)
{
    /* leave the lab as found: the bucket goes (its one object first) */
    CHECK_INT(s3_delete_object(s3, bucket, "fp/big"), 0);
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_call_set(&call, "DELETE", bucket, NULL);
    if (r == 0)
        r = s3_call_run(s3, &call);
    CHECK_INT(r, 0);
    s3_call_finish(&call);

    CHECK_INT(kill(proxy_pid, SIGTERM), 0);
    CHECK_INT(wait_exit(proxy_pid, 3000), 0);
    proxy_pid = -1;
    /* its last word is in the stats file: the deletes just made */
    char *buf = slurp(stats_path);
    CHECK_INT(proxy_stat(buf, "DeleteObject", "requests"), 1);
    CHECK_INT(proxy_stat(buf, "Other", "requests"), 1);
    free(buf);
}

int main(void)
{
    srandom((unsigned) time(NULL) ^ (unsigned) getpid());
    proxy_bin = getenv("FAULTPROXY_BIN");
    if (!proxy_bin || !*proxy_bin) {
        printf("# $FAULTPROXY_BIN is not set: run through meson test\n");
        CHECK(!"faultproxy binary known");
        return t_done();
    }
    if (labenv_load(&env, "LAB_TARGET_ENV") < 0) {
        CHECK(!"lab target env available");
        return t_done();
    }
    const char *ep = labenv_get(&env, "LAB_ENDPOINT");
    if (!ep || strncmp(ep, "http://", 7) != 0 || !mkdtemp(tmpdir)) {
        CHECK(!"lab endpoint is http://HOST:PORT and a temp dir exists");
        return t_done();
    }
    snprintf(upstream, sizeof(upstream), "%s", ep + 7);
    snprintf(stats_path, sizeof(stats_path), "%s/stats.json", tmpdir);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    RUN(test_faultproxy__refuses_non_loopback);
    RUN(test_faultproxy__starts_and_prints_port);
    if (proxy_port <= 0)
        return t_done();
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", proxy_port);
    struct s3_endpoint sep = {
        .url = url,
        .access_key = labenv_get(&env, "LAB_ACCESS_KEY"),
        .secret = labenv_get(&env, "LAB_SECRET_KEY"),
        .region = labenv_get(&env, "LAB_REGION"),
    };
    CHECK_INT(loop_new(&loop, NULL), 0);
    CHECK_INT(s3_client_new(&s3, loop, &sep), 0);
    if (s3) {
        s3_client_set_retries(s3, 0);
        RUN(test_faultproxy__forwards_put_get_head);
        RUN(test_faultproxy__multipart_counts_part_bytes);
        RUN(test_faultproxy__503_is_retryable_slowdown);
        RUN(test_faultproxy__500_and_reset_on_parts_are_retryable);
        RUN(test_faultproxy__peak_counts_requests_at_once);
        RUN(test_faultproxy__rules_change_at_run_time);
        RUN(test_faultproxy__corrupt_flips_one_body_byte);
        RUN(test_faultproxy__stall_delays_or_never_answers);
        RUN(test_faultproxy__32_connections_in_parallel);
        RUN(test_faultproxy__reset_zeroes_stats);
        RUN(test_faultproxy__sigterm_stops_it);
    }
    s3_client_free(s3);
    loop_free(loop);
    if (proxy_pid > 0) {
        (void) kill(proxy_pid, SIGTERM);
        (void) wait_exit(proxy_pid, 3000);
    }
    (void) unlink(stats_path);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", stats_path);
    (void) unlink(tmp);
    (void) rmdir(tmpdir);
    curl_global_cleanup();
    return t_done();
}
