/* The listener the source RGW talks to: request signatures (v2 as RGW's
 * client signs, v4), routing, notify parsing, and the status bodies in the
 * shapes RGW's decode_json reads. The server is started on 127.0.0.1:0 and
 * driven over loopback with libcurl; the hooks are recorders. */
#include "testlib.h"

#include "err.h"
#include "http/sigv4.h"
#include "server/auth.h"
#include "server/server.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define AK     "SYSAK0123456789"
#define SECRET "sys-secret-0123456789"

/* ---- auth, without a server --------------------------------------------- */

static void test_auth__v2_aws_documented_example(void)
{
    /* AWS's v2 example (path-style resource), signature as published */
    const struct sigv4_kv hdr[] = {
        {"Host", "johnsmith.s3.amazonaws.com"},
        {"Date", "Tue, 27 Mar 2007 19:36:42 +0000"},
        {"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="},
    };
    struct auth_request r = {.method = "GET",
                             .raw_path = "/johnsmith/photos/puppy.jpg",
                             .headers = hdr,
                             .nheaders = 3,
                             .now = AUTH_NOW_NO_SKEW_CHECK};
    char *sts = NULL;
    CHECK_INT(auth_v2_string_to_sign(&sts, &r), 0);
    CHECK_STR(sts, "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg");
    free(sts);
    CHECK_INT(auth_verify(&r, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
              0);
    /* the same request is 2007: with the clock on it is far too old */
    r.now = AUTH_NOW_CLOCK;
    CHECK_INT(auth_verify(&r, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
              -EACCES);
    CHECK(strstr(err_get(), "Date") != NULL);
}

/* What RGWRESTConn sends for DataLogTrimCR's status read: the resource keeps
 * its trailing slash, no query parameter is signed. Expected signature from
 *   printf 'GET\n\n\nMon, 06 Mar 2023 10:00:00 +0000\n/admin/log/' |
 *   openssl dgst -sha1 -hmac sys-secret-0123456789 -binary | base64 */
static void test_auth__v2_rgw_status_read(void)
{
    const struct sigv4_kv q[] = {
        {"type", "data"}, {"status", NULL}, {"source-zone", "z1"}, {"rgwx-zonegroup", "zg"}};
    const struct sigv4_kv hdr[] = {
        {"Host", "127.0.0.1:8088"},
        {"DATE", "Mon, 06 Mar 2023 10:00:00 +0000"},
        {"authorization", "AWS " AK ":cPQVHtM7GZsX6ZhuK8W2ydx+H2U="},
        {"Accept", "*/*"},
    };
    struct auth_request r = {.method = "GET",
                             .raw_path = "/admin/log/",
                             .query = q,
                             .nquery = 4,
                             .headers = hdr,
                             .nheaders = 4,
                             .now = 1678096800};
    CHECK_INT(auth_verify(&r, AK, SECRET), 0);
    r.now = 1678096800 + 14 * 60;
    CHECK_INT(auth_verify(&r, AK, SECRET), 0);
    r.now = 1678096800 + 16 * 60;
    CHECK_INT(auth_verify(&r, AK, SECRET), -EACCES);
    r.now = 1678096800 - 16 * 60;
    CHECK_INT(auth_verify(&r, AK, SECRET), -EACCES);
    r.now = 1678096800;
    CHECK_INT(auth_verify(&r, AK, "another-secret"), -EACCES);
    CHECK(strstr(err_get(), "signature") != NULL);
    CHECK_INT(auth_verify(&r, "OTHERAK", SECRET), -EACCES);
    CHECK(strstr(err_get(), "access key") != NULL);
    r.raw_path = "/admin/log"; /* the slash is part of what was signed */
    CHECK_INT(auth_verify(&r, AK, SECRET), -EACCES);
    r.raw_path = "/admin/log/";
    r.nheaders = 2; /* no Authorization */
    CHECK_INT(auth_verify(&r, AK, SECRET), -EACCES);
    CHECK(strstr(err_get(), "not signed") != NULL);
}

/* Sub-resources in RGW's order with decoded values, x-amz-date replacing the
 * Date line, amz headers lower-cased, sorted and merged. Expected from
 *   printf 'PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\n\n'\
 *   'x-amz-date:Tue, 27 Mar 2007 21:06:08 +0000\nx-amz-meta-a:1,2\n'\
 *   '/admin/log/?acl&uploadId=u 1' | openssl dgst -sha1 -hmac ... | base64 */
static void test_auth__v2_subresources_and_amz_headers(void)
{
    const struct sigv4_kv q[] = {{"uploadId", "u 1"}, {"acl", NULL}, {"type", "data"}};
    const struct sigv4_kv hdr[] = {
        {"Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="},
        {"Content-Type", "application/x-download"},
        {"Date", "Wed, 28 Mar 2007 01:00:00 +0000"},
        {"X-Amz-Meta-A", "1 "},
        {"x-amz-date", "Tue, 27 Mar 2007 21:06:08 +0000"},
        {"X-AMZ-META-A", "2"},
        {"Authorization", "AWS " AK ":WreaakC84amXt158TccZaL5dATo="},
    };
    struct auth_request r = {.method = "PUT",
                             .raw_path = "/admin/log/",
                             .query = q,
                             .nquery = 3,
                             .headers = hdr,
                             .nheaders = 7,
                             .now = 1175029568};
    char *sts = NULL;
    CHECK_INT(auth_v2_string_to_sign(&sts, &r), 0);
    CHECK_STR(sts, "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\n\n"
                   "x-amz-date:Tue, 27 Mar 2007 21:06:08 +0000\nx-amz-meta-a:1,2\n"
                   "/admin/log/?acl&uploadId=u 1");
    free(sts);
    /* the skew is judged on x-amz-date (21:06:08), not on Date */
    CHECK_INT(auth_verify(&r, AK, SECRET), 0);
}

static void test_auth__http_dates(void)
{
    long long t = 0;
    const char *same[] = {
        "Tue, 27 Mar 2007 19:36:42 GMT",   "Tue, 27 Mar 2007 19:36:42 +0000",
        "tue, 27 mar 2007 19:36:42 UTC",   "Tue, 27 Mar 2007 21:06:42 +0130",
        "Tuesday, 27-Mar-07 19:36:42 GMT", "Tue Mar 27 19:36:42 2007",
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        t = 0;
        CHECK_INT(auth_parse_http_date(same[i], &t), 0);
        CHECK_INT(t, 1175024202);
    }
    const char *bad[] = {"",
                         "27 Mar 2007 19:36:42 GMT",
                         "Tue, 27 Mar 2007 19:36:42",
                         "Tue, 27 Foo 2007 19:36:42 GMT",
                         "Tue, 27 Mar 2007 25:36:42 GMT",
                         "Tue, 27 Mar 2007 19:36:42 GMT x",
                         "20070327T193642Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(auth_parse_http_date(bad[i], &t), -EINVAL);
}

/* AWS's published S3 v4 example (GET /test.txt with Range), not produced by
 * our signer: the verifier must accept it. */
static void test_auth__v4_aws_documented_example(void)
{
    const struct sigv4_kv hdr[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
        {"x-amz-date", "20130524T000000Z"},
        {"Authorization",
         "AWS4-HMAC-SHA256 "
         "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
         "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
    };
    struct auth_request r = {.method = "GET",
                             .raw_path = "/test.txt",
                             .headers = hdr,
                             .nheaders = 5,
                             .now = AUTH_NOW_NO_SKEW_CHECK};
    CHECK_INT(auth_verify(&r, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
              0);
    CHECK_INT(auth_verify(&r, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ"),
              -EACCES);
    r.raw_path = "/test.txt2";
    CHECK_INT(auth_verify(&r, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
              -EACCES);
    r.raw_path = "/test.txt";
    r.now = 1369353600 + 20 * 60; /* 2013-05-24T00:20:00Z */
    CHECK_INT(auth_verify(&r, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
              -EACCES);
    CHECK(strstr(err_get(), "x-amz-date") != NULL);
    r.now = 1369353600 + 10 * 60;
    CHECK_INT(auth_verify(&r, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
              0);
}

/* Signs with sigv4_sign, then checks what the verifier makes of the body. */
static void test_auth__v4_body_hash(void)
{
    const char *body = "[{\"key\":1,\"val\":[]}]";
    char hash[65];
    sigv4_sha256_hex(hash, body, strlen(body));
    const struct sigv4_kv q[] = {{"type", "data"}, {"notify", NULL}, {"source-zone", "a b"}};
    struct sigv4_kv sh[] = {
        {"host", "h:1"}, {"x-amz-date", "20240101T000000Z"}, {"x-amz-content-sha256", hash}};
    struct sigv4_request sr = {.method = "POST",
                               .path = "/admin/log/",
                               .query = q,
                               .nquery = 3,
                               .headers = sh,
                               .nheaders = 3,
                               .amz_date = "20240101T000000Z",
                               .payload_hash = hash};
    struct sigv4_creds cr = {.access_key = AK, .secret = SECRET, .region = "zg1"};
    struct sigv4_result res = {0};
    CHECK_INT(sigv4_sign(&res, &sr, &cr), 0);
    struct sigv4_kv hdr[] = {{"Host", "h:1"},
                             {"X-Amz-Date", "20240101T000000Z"},
                             {"X-Amz-Content-Sha256", hash},
                             {"Authorization", res.authorization}};
    struct auth_request r = {.method = "POST",
                             .raw_path = "/admin/log/",
                             .query = q,
                             .nquery = 3,
                             .headers = hdr,
                             .nheaders = 4,
                             .body = body,
                             .body_len = strlen(body),
                             .now = 1704067200};
    CHECK_INT(auth_verify(&r, AK, SECRET), 0);
    r.body = "[{\"key\":2,\"val\":[]}]"; /* same length, other bytes */
    CHECK_INT(auth_verify(&r, AK, SECRET), -EACCES);
    CHECK(strstr(err_get(), "body") != NULL);
    r.body = body;
    CHECK_INT(auth_verify(&r, "OTHER", SECRET), -EACCES);
    r.method = "PUT";
    CHECK_INT(auth_verify(&r, AK, SECRET), -EACCES);
    /* a v4 request that does not sign host is refused outright */
    r.method = "POST";
    hdr[3].value = "AWS4-HMAC-SHA256 Credential=" AK "/20240101/zg1/s3/aws4_request, "
                   "SignedHeaders=x-amz-date, Signature=" SIGV4_EMPTY_SHA256;
    CHECK_INT(auth_verify(&r, AK, SECRET), -EACCES);
    CHECK(strstr(err_get(), "canonicalise") != NULL);
    hdr[3].value = "AWS4-HMAC-SHA256 Credential=" AK "/20240102/zg1/s3/aws4_request, "
                   "SignedHeaders=host;x-amz-date, Signature=" SIGV4_EMPTY_SHA256;
    CHECK_INT(auth_verify(&r, AK, SECRET), -EACCES);
    CHECK(strstr(err_get(), "scope date") != NULL);
    sigv4_result_finish(&res);
}

/* ---- a server with recording hooks -------------------------------------- */

struct rec {
    pthread_mutex_t lock;
    char zone[128];
    char bucket[256];
    int shards[16];
    size_t nshards;
    int notifies;
    char *pushed;
    int pushes;
    int data_rc; /* what data_status returns */
    bool healthy;
};

static struct rec rec = {.lock = PTHREAD_MUTEX_INITIALIZER, .healthy = true};

static int h_data_status(void *ud, const char *zone, char **json)
{
    struct rec *r = ud;
    pthread_mutex_lock(&r->lock);
    (void) snprintf(r->zone, sizeof(r->zone), "%s", zone);
    int rc = r->data_rc;
    pthread_mutex_unlock(&r->lock);
    if (rc < 0) {
        err_set("fake: data status fails");
        return rc;
    }
    struct server_dl_marker m[2] = {{.marker = "1_1646626637.491370_281779.1"},
                                    {.full_sync = true, .next_step_marker = "nsm"}};
    return server_json_data_status(json, m, 2, 42);
}

static int h_bucket_status(void *ud, const char *bucket, char **json)
{
    struct rec *r = ud;
    pthread_mutex_lock(&r->lock);
    (void) snprintf(r->bucket, sizeof(r->bucket), "%s", bucket);
    pthread_mutex_unlock(&r->lock);
    struct server_bs_status s = {.state = SERVER_BS_INCREMENTAL, .inc_position = "00000000002.9.6"};
    return server_json_bucket_status(json, &s, 1);
}

static void h_data_notify(void *ud, const int *shards, size_t n)
{
    struct rec *r = ud;
    pthread_mutex_lock(&r->lock);
    r->nshards = n < 16 ? n : 16;
    memcpy(r->shards, shards, r->nshards * sizeof(int));
    r->notifies++;
    pthread_mutex_unlock(&r->lock);
}

static void h_period_push(void *ud, const char *body, size_t len)
{
    struct rec *r = ud;
    pthread_mutex_lock(&r->lock);
    free(r->pushed);
    r->pushed = strndup(body, len);
    r->pushes++;
    pthread_mutex_unlock(&r->lock);
}

static int h_metrics(void *ud, char **text)
{
    (void) ud;
    *text = strdup("# TYPE fake_lag_seconds gauge\nfake_lag_seconds 1.5\n");
    return *text ? 0 : -ENOMEM;
}

static int h_health(void *ud, char **text)
{
    struct rec *r = ud;
    pthread_mutex_lock(&r->lock);
    bool ok = r->healthy;
    pthread_mutex_unlock(&r->lock);
    if (ok)
        return 0;
    *text = strdup("target unreachable\n");
    return -EIO;
}

static struct server *srv;
static int port;
static const char *host = "127.0.0.1"; /* where http() connects */

struct resp {
    long status;
    char *body;
    size_t len;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    char *b = realloc(r->body, r->len + sz * n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, sz * n);
    r->body = b;
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

/* method + "/path?query" to our server with extra headers (NULL-terminated
 * "Name: value" strings) and body. Returns the status, body in *out. */
static long http(const char *method, const char *target, const char *const *headers,
                 const char *body, size_t body_len, struct resp *out)
{
    char url[2048];
    (void) snprintf(url, sizeof(url), "http://%s:%d%s", host, port, target);
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    /* a body past the cap goes the way a careful client sends it: behind
     * Expect: 100-continue, so the server's early 413 arrives before any
     * of it (without, the server closing on 413 races the upload) */
    bool big = body && body_len > SERVER_MAX_BODY;
    if (!big)
        hl = curl_slist_append(hl, "Expect:");
    else
        curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 30000L);
    hl = curl_slist_append(hl, "Accept:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) body_len);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        printf("# curl: %s\n", curl_easy_strerror(cc));
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return out->status;
}

static size_t on_read_spaces(char *buf, size_t sz, size_t n, void *ud)
{
    size_t *left = ud, k = sz * n < *left ? sz * n : *left;
    memset(buf, ' ', k);
    *left -= k;
    return k;
}

/* POST of total bytes with chunked transfer encoding (no Content-Length). */
static long http_chunked(const char *target, size_t total)
{
    char url[256];
    long status = 0;
    (void) snprintf(url, sizeof(url), "http://%s:%d%s", host, port, target);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    hl = curl_slist_append(hl, "Expect:");
    struct resp out = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read_spaces);
    curl_easy_setopt(c, CURLOPT_READDATA, &total);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    free(out.body);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return status;
}

/* An independent v2 signer (RGW's client recipe): METHOD\n\nTYPE\nDATE\nPATH. */
static void v2_headers(char date_h[128], char auth_h[256], const char *method, const char *ctype,
                       const char *raw_path, const char *secret)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char sts[1024];
    (void) snprintf(sts, sizeof(sts), "%s\n\n%s\n%s\n%s", method, ctype ? ctype : "", date,
                    raw_path);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha1(), secret, (int) strlen(secret), (unsigned char *) sts, strlen(sts), mac,
         &maclen);
    char b64[64];
    EVP_EncodeBlock((unsigned char *) b64, mac, (int) maclen);
    (void) snprintf(date_h, 128, "Date: %s", date);
    (void) snprintf(auth_h, 256, "Authorization: AWS %s:%s", AK, b64);
}

static long v2_call(const char *method, const char *raw_path, const char *query, const char *secret,
                    const char *body, struct resp *out)
{
    char date_h[128], auth_h[256], target[1024];
    const char *ctype = body ? "application/json" : NULL;
    v2_headers(date_h, auth_h, method, ctype, raw_path, secret);
    const char *h[] = {date_h, auth_h, body ? "Content-Type: application/json" : NULL, NULL};
    (void) snprintf(target, sizeof(target), "%s%s%s", raw_path, query ? "?" : "",
                    query ? query : "");
    return http(method, target, h, body, body ? strlen(body) : 0, out);
}

/* v4 through our signer, sending exactly the encoded path/query it made. */
static long v4_call(const char *method, const char *path, const struct sigv4_kv *q, size_t nq,
                    const char *secret, const char *body, struct resp *out)
{
    char hosthdr[64], amz_date[17], hash[65];
    (void) snprintf(hosthdr, sizeof(hosthdr), "127.0.0.1:%d", port);
    sigv4_amz_date(amz_date, (long long) time(NULL));
    sigv4_sha256_hex(hash, body ? body : "", body ? strlen(body) : 0);
    struct sigv4_kv sh[] = {
        {"host", hosthdr}, {"x-amz-date", amz_date}, {"x-amz-content-sha256", hash}};
    struct sigv4_request sr = {.method = method,
                               .path = path,
                               .query = q,
                               .nquery = nq,
                               .headers = sh,
                               .nheaders = 3,
                               .amz_date = amz_date,
                               .payload_hash = hash};
    struct sigv4_creds cr = {.access_key = AK, .secret = secret};
    struct sigv4_result res = {0};
    if (sigv4_sign(&res, &sr, &cr) < 0) {
        printf("# sigv4_sign: %s\n", err_get());
        return -1;
    }
    char target[1024], h_date[64], h_hash[128], h_auth[512];
    (void) snprintf(target, sizeof(target), "%s%s%s", res.canonical_path,
                    res.canonical_query[0] ? "?" : "", res.canonical_query);
    (void) snprintf(h_date, sizeof(h_date), "X-Amz-Date: %s", amz_date);
    (void) snprintf(h_hash, sizeof(h_hash), "X-Amz-Content-SHA256: %s", hash);
    (void) snprintf(h_auth, sizeof(h_auth), "Authorization: %s", res.authorization);
    const char *h[] = {h_date, h_hash, h_auth, body ? "Content-Type: application/json" : NULL,
                       NULL};
    long st = http(method, target, h, body, body ? strlen(body) : 0, out);
    sigv4_result_finish(&res);
    return st;
}

static const char *json_code(const struct resp *r, char buf[64])
{
    json_t *j = r->body ? json_loads(r->body, 0, NULL) : NULL;
    const char *c = json_string_value(json_object_get(j, "Code"));
    (void) snprintf(buf, 64, "%s", c ? c : "");
    json_decref(j);
    return buf;
}

static void start_server(void)
{
    struct server_hooks hooks = {.ud = &rec,
                                 .data_status = h_data_status,
                                 .bucket_status = h_bucket_status,
                                 .data_notify = h_data_notify,
                                 .period_push = h_period_push,
                                 .metrics = h_metrics,
                                 .health = h_health};
    int rc = server_start(&srv, "127.0.0.1:0", AK, SECRET, &hooks);
    if (rc < 0)
        printf("# server_start: %s\n", err_get());
    CHECK_INT(rc, 0);
    port = srv ? server_port(srv) : 0;
    CHECK(port > 0);
}

static void test_server__unsigned_admin_is_403(void)
{
    struct resp r;
    char code[64];
    CHECK_INT(http("GET", "/admin/log?type=data&status&source-zone=z1", NULL, NULL, 0, &r), 403);
    CHECK_STR(json_code(&r, code), "AccessDenied");
    free(r.body);
    const char *garbage[] = {"Authorization: Bearer x", NULL};
    CHECK_INT(http("GET", "/admin/log/?type=data&status", garbage, NULL, 0, &r), 403);
    free(r.body);
}

static void test_server__v4_signed_status_returns_hook_json(void)
{
    const struct sigv4_kv q[] = {{"type", "data"}, {"status", NULL}, {"source-zone", "z 1/x"}};
    struct resp r;
    CHECK_INT(v4_call("GET", "/admin/log", q, 3, SECRET, NULL, &r), 200);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    CHECK(json_is_object(json_object_get(j, "info")));
    CHECK_INT(json_array_size(json_object_get(j, "markers")), 2);
    json_decref(j);
    pthread_mutex_lock(&rec.lock);
    CHECK_STR(rec.zone, "z 1/x");
    pthread_mutex_unlock(&rec.lock);
    free(r.body);
    CHECK_INT(v4_call("GET", "/admin/log", q, 3, "wrong-secret", NULL, &r), 403);
    free(r.body);
}

static void test_server__v2_signed_as_rgw_does(void)
{
    struct resp r;
    /* DataLogTrimCR: "/admin/log/" with a trailing slash */
    CHECK_INT(v2_call("GET", "/admin/log/", "type=data&status&source-zone=z2&rgwx-zonegroup=zg",
                      SECRET, NULL, &r),
              200);
    CHECK(r.body && strstr(r.body, "\"instance_id\":42") != NULL);
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    CHECK_STR(rec.zone, "z2");
    pthread_mutex_unlock(&rec.lock);
    CHECK_INT(v2_call("GET", "/admin/log", "type=data&status&source-zone=z3", SECRET, NULL, &r),
              200);
    free(r.body);
    CHECK_INT(v2_call("GET", "/admin/log/", "type=data&status", "wrong-secret", NULL, &r), 403);
    free(r.body);
    /* BucketTrimInstanceCR: the bucket key arrives encoded */
    CHECK_INT(v2_call("GET", "/admin/log/",
                      "type=bucket-index&status&options=merge&bucket=t%2Fb%3Aid.1&source-zone=z",
                      SECRET, NULL, &r),
              200);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    CHECK_INT(json_array_size(j), 1);
    json_decref(j);
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    CHECK_STR(rec.bucket, "t/b:id.1");
    pthread_mutex_unlock(&rec.lock);
    /* v2 signs the path as sent: an encoded one must verify (then 404) */
    CHECK_INT(v2_call("GET", "/admin/x%2Fy", NULL, SECRET, NULL, &r), 404);
    free(r.body);
}

static void test_server__notify_body_becomes_shard_ids(void)
{
    struct resp r;
    const struct sigv4_kv q[] = {{"type", "data"}, {"notify", NULL}, {"source-zone", "z1"}};
    CHECK_INT(v4_call("POST", "/admin/log", q, 3, SECRET,
                      "[{\"key\":3,\"val\":[\"b:i:1\"]},{\"key\":7,\"val\":[]}]", &r),
              200);
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    CHECK_INT(rec.nshards, 2);
    CHECK_INT(rec.shards[0], 3);
    CHECK_INT(rec.shards[1], 7);
    pthread_mutex_unlock(&rec.lock);

    CHECK_INT(v2_call("POST", "/admin/log", "type=data&notify&source-zone=z1", SECRET,
                      "{\"5\":[\"b:i\"],\"9\":[]}", &r),
              200);
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    CHECK_INT(rec.nshards, 2);
    CHECK_INT(rec.shards[0], 5);
    CHECK_INT(rec.shards[1], 9);
    pthread_mutex_unlock(&rec.lock);

    CHECK_INT(v2_call("POST", "/admin/log/", "type=data&notify2", SECRET,
                      "[{\"key\":4,\"val\":[{\"key\":\"b:i\",\"gen\":1}]},{\"key\":4,\"val\":[]},"
                      "{\"key\":\"11\",\"val\":[]}]",
                      &r),
              200);
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    CHECK_INT(rec.nshards, 2);
    CHECK_INT(rec.shards[0], 4);
    CHECK_INT(rec.shards[1], 11);
    int before = rec.notifies;
    pthread_mutex_unlock(&rec.lock);

    CHECK_INT(v2_call("POST", "/admin/log", "type=data&notify", SECRET, "[-1]", &r), 400);
    free(r.body);
    CHECK_INT(v2_call("POST", "/admin/log", "type=data&notify", SECRET, "{not json", &r), 400);
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    CHECK_INT(rec.notifies, before);
    pthread_mutex_unlock(&rec.lock);
}

static void test_server__period_push_and_default_metadata_status(void)
{
    struct resp r;
    char code[64];
    /* no metadata hook and no epoch known yet: the master must not trim */
    CHECK_INT(v2_call("GET", "/admin/log/", "type=metadata&status", SECRET, NULL, &r), 503);
    CHECK_STR(json_code(&r, code), "ServiceUnavailable");
    free(r.body);

    server_set_mdlog(srv, 3, 4);
    CHECK_INT(v2_call("GET", "/admin/log/", "type=metadata&status", SECRET, NULL, &r), 200);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "info"), "realm_epoch")), 3);
    CHECK_INT(json_array_size(json_object_get(j, "markers")), 4);
    json_decref(j);
    free(r.body);

    const char *period = "{\"id\":\"p2\",\"epoch\":1,\"realm_epoch\":5,\"period_map\":{}}";
    CHECK_INT(v2_call("POST", "/admin/realm/period", "period=p2&epoch=1", SECRET, period, &r), 200);
    CHECK_INT(r.len, 0);
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    CHECK_STR(rec.pushed, period);
    pthread_mutex_unlock(&rec.lock);
    CHECK_INT(v2_call("GET", "/admin/log/", "type=metadata&status", SECRET, NULL, &r), 200);
    j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "info"), "realm_epoch")), 5);
    json_decref(j);
    free(r.body);

    CHECK_INT(v2_call("POST", "/admin/log", "type=metadata&notify", SECRET, "[1,5]", &r), 200);
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    CHECK_STR(rec.pushed, "[1,5]");
    CHECK_INT(rec.pushes, 2);
    pthread_mutex_unlock(&rec.lock);
}

static void test_server__metrics_and_health_need_no_auth(void)
{
    struct resp r;
    CHECK_INT(http("GET", "/metrics", NULL, NULL, 0, &r), 200);
    CHECK(r.body && strstr(r.body, "fake_lag_seconds 1.5\n") != NULL);
    CHECK(r.body && strstr(r.body, "rgw2cloud_server_auth_failures_total ") != NULL);
    CHECK(r.body && strstr(r.body, "rgw2cloud_server_auth_failures_total 0\n") == NULL);
    free(r.body);
    CHECK_INT(http("GET", "/health", NULL, NULL, 0, &r), 200);
    CHECK_STR(r.body, "ok\n");
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    rec.healthy = false;
    pthread_mutex_unlock(&rec.lock);
    CHECK_INT(http("GET", "/health/", NULL, NULL, 0, &r), 503);
    CHECK_STR(r.body, "target unreachable\n");
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    rec.healthy = true;
    pthread_mutex_unlock(&rec.lock);
}

static void test_server__unknown_paths_and_errors(void)
{
    struct resp r;
    char code[64];
    CHECK_INT(http("GET", "/nope", NULL, NULL, 0, &r), 404);
    free(r.body);
    CHECK_INT(http("GET", "/admin/nope", NULL, NULL, 0, &r), 403); /* auth comes first */
    free(r.body);
    CHECK_INT(v2_call("GET", "/admin/nope", NULL, SECRET, NULL, &r), 404);
    free(r.body);
    CHECK_INT(v2_call("DELETE", "/admin/log", "type=data&id=1&marker=x", SECRET, NULL, &r), 405);
    free(r.body);

    pthread_mutex_lock(&rec.lock);
    rec.data_rc = -EIO;
    pthread_mutex_unlock(&rec.lock);
    CHECK_INT(v2_call("GET", "/admin/log/", "type=data&status", SECRET, NULL, &r), 500);
    CHECK_STR(json_code(&r, code), "InternalError");
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    rec.data_rc = -ENOENT;
    pthread_mutex_unlock(&rec.lock);
    CHECK_INT(v2_call("GET", "/admin/log/", "type=data&status", SECRET, NULL, &r), 404);
    free(r.body);
    pthread_mutex_lock(&rec.lock);
    rec.data_rc = 0;
    pthread_mutex_unlock(&rec.lock);

    size_t big = SERVER_MAX_BODY + 1;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[big] = '\0';
    CHECK_INT(http("POST", "/admin/log?type=data&notify", NULL, body, big, &r), 413);
    free(r.body);
    free(body);
    /* no Content-Length: read up to the cap, drained past it, then refused */
    CHECK_INT(http_chunked("/admin/log?type=data&notify", big), 413);
    CHECK_INT(http_chunked("/admin/log?type=data&notify", 1000), 403);
}

static void test_server__bad_listen_and_busy_port(void)
{
    struct server *s2 = NULL;
    char addr[64];
    CHECK_INT(server_start(&s2, "127.0.0.1", AK, SECRET, NULL), -EINVAL);
    CHECK_INT(server_start(&s2, "127.0.0.1:99999", AK, SECRET, NULL), -EINVAL);
    CHECK_INT(server_start(&s2, "127.0.0.1:0", AK, "", NULL), -EINVAL);
    (void) snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    CHECK_INT(server_start(&s2, addr, AK, SECRET, NULL), -EADDRINUSE);
    CHECK(s2 == NULL);
    server_stop(NULL);
    /* no hooks at all: sensible defaults (IPv6 loopback when there is one) */
    int rc = server_start(&s2, "[::1]:0", AK, SECRET, NULL);
    if (rc == 0) {
        host = "[::1]";
    } else {
        printf("# SKIP no IPv6 loopback (%s)\n", err_get());
        rc = server_start(&s2, "127.0.0.1:0", AK, SECRET, NULL);
    }
    CHECK_INT(rc, 0);
    if (!s2)
        return;
    int p1 = port;
    port = server_port(s2);
    struct resp r;
    CHECK_INT(http("GET", "/health", NULL, NULL, 0, &r), 200);
    free(r.body);
    CHECK_INT(http("GET", "/metrics", NULL, NULL, 0, &r), 200);
    CHECK(r.body && strncmp(r.body, "# HELP rgw2cloud_server_responses_total", 39) == 0);
    free(r.body);
    CHECK_INT(v2_call("GET", "/admin/log/", "type=data&status&source-zone=z", SECRET, NULL, &r),
              404);
    free(r.body);
    CHECK_INT(
        v2_call("GET", "/admin/log/", "type=bucket-index&status&bucket=b:i", SECRET, NULL, &r),
        404);
    free(r.body);
    CHECK_INT(v2_call("POST", "/admin/log/", "type=data&notify", SECRET, "[1]", &r), 200);
    free(r.body);
    port = p1;
    host = "127.0.0.1";
    server_stop(s2);
}

/* ---- JSON builders, read back the way RGW's decode_json reads them ------- */

static void test_json__data_status_shape(void)
{
    struct server_dl_marker m[3] = {
        {.marker = "1_1646626637.491370_281779.1", .ts_sec = 1646626637, .ts_nsec = 491370123},
        {.full_sync = true,
         .next_step_marker = "00000000000000000000:00000000000000000512",
         .total_entries = 7,
         .pos = 3},
        {0},
    };
    char *out = NULL;
    CHECK_INT(server_json_data_status(&out, m, 3, 0x8000000000000005ULL), 0);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    json_t *info = json_object_get(j, "info");
    CHECK_STR(json_string_value(json_object_get(info, "status")), "sync");
    CHECK_INT(json_integer_value(json_object_get(info, "num_shards")), 3);
    CHECK_INT(json_integer_value(json_object_get(info, "instance_id")), 5);
    json_t *mk = json_object_get(j, "markers");
    CHECK_INT(json_array_size(mk), 3);
    for (size_t i = 0; i < json_array_size(mk); i++)
        CHECK_INT(json_integer_value(json_object_get(json_array_get(mk, i), "key")), i);
    json_t *v0 = json_object_get(json_array_get(mk, 0), "val");
    json_t *v1 = json_object_get(json_array_get(mk, 1), "val");
    json_t *v2 = json_object_get(json_array_get(mk, 2), "val");
    CHECK_STR(json_string_value(json_object_get(v0, "status")), "incremental-sync");
    CHECK_STR(json_string_value(json_object_get(v0, "marker")), "1_1646626637.491370_281779.1");
    CHECK_STR(json_string_value(json_object_get(v0, "next_step_marker")), "");
    CHECK_STR(json_string_value(json_object_get(v0, "timestamp")), "2022-03-07T04:17:17.491370Z");
    CHECK_STR(json_string_value(json_object_get(v1, "status")), "full-sync");
    CHECK_STR(json_string_value(json_object_get(v1, "next_step_marker")),
              "00000000000000000000:00000000000000000512");
    CHECK_INT(json_integer_value(json_object_get(v1, "total_entries")), 7);
    CHECK_INT(json_integer_value(json_object_get(v1, "pos")), 3);
    CHECK_STR(json_string_value(json_object_get(v1, "timestamp")), "0.000000");
    CHECK_STR(json_string_value(json_object_get(v2, "marker")), "");
    json_decref(j);
    free(out);
    CHECK_INT(server_json_data_status(&out, m, 0, 0), -EINVAL);
    CHECK(out == NULL);
}

static void test_json__bucket_status_shape(void)
{
    struct server_bs_status s[2] = {
        {.state = SERVER_BS_FULL_SYNC,
         .full_name = "obj",
         .full_instance = "v1",
         .full_count = 9,
         .inc_position = "00000000011.94.3",
         .inc_ts_sec = 1646626637},
        {.state = SERVER_BS_INIT},
    };
    char *out = NULL;
    CHECK_INT(server_json_bucket_status(&out, s, 2), 0);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    CHECK(json_is_array(j));
    CHECK_INT(json_array_size(j), 2);
    json_t *e0 = json_array_get(j, 0), *e1 = json_array_get(j, 1);
    CHECK_STR(json_string_value(json_object_get(e0, "status")), "full-sync");
    json_t *fm = json_object_get(e0, "full_marker");
    json_t *pos = json_object_get(fm, "position");
    CHECK_STR(json_string_value(json_object_get(pos, "name")), "obj");
    CHECK_STR(json_string_value(json_object_get(pos, "instance")), "v1");
    CHECK_STR(json_string_value(json_object_get(pos, "ns")), "");
    CHECK_INT(json_integer_value(json_object_get(fm, "count")), 9);
    json_t *im = json_object_get(e0, "inc_marker");
    CHECK_STR(json_string_value(json_object_get(im, "position")), "00000000011.94.3");
    CHECK_STR(json_string_value(json_object_get(im, "timestamp")), "2022-03-07T04:17:17.000000Z");
    CHECK_STR(json_string_value(json_object_get(e1, "status")), "init");
    CHECK_STR(json_string_value(json_object_get(json_object_get(e1, "inc_marker"), "position")),
              "");
    json_decref(j);
    free(out);
    s[1].state = (enum server_bs_state) 9;
    CHECK_INT(server_json_bucket_status(&out, s, 2), -EINVAL);
    CHECK_INT(server_json_bucket_status(&out, s, 0), -EINVAL);
}

static void test_json__meta_status_lets_master_trim(void)
{
    char *out = NULL;
    CHECK_INT(server_json_meta_status(&out, 2, "4ccb1337", 64), 0);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    json_t *info = json_object_get(j, "info");
    CHECK_STR(json_string_value(json_object_get(info, "status")), "sync");
    CHECK_INT(json_integer_value(json_object_get(info, "num_shards")), 64);
    CHECK_STR(json_string_value(json_object_get(info, "period")), "4ccb1337");
    CHECK_INT(json_integer_value(json_object_get(info, "realm_epoch")), 2);
    json_t *mk = json_object_get(j, "markers");
    CHECK_INT(json_array_size(mk), 64);
    json_t *v = json_object_get(json_array_get(mk, 63), "val");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(mk, 63), "key")), 63);
    /* rgw_meta_sync_marker decodes "state" as an int: 1 = IncrementalSync */
    CHECK(json_is_integer(json_object_get(v, "state")));
    CHECK_INT(json_integer_value(json_object_get(v, "state")), 1);
    CHECK_STR(json_string_value(json_object_get(v, "marker")), "99999999");
    /* ... which sorts after real mdlog markers */
    CHECK(strcmp("99999999", "1_1795276868.222962_78.1") > 0);
    CHECK_STR(json_string_value(json_object_get(v, "next_step_marker")), "");
    CHECK_INT(json_integer_value(json_object_get(v, "realm_epoch")), 2);
    CHECK(json_is_string(json_object_get(v, "timestamp")));
    json_decref(j);
    free(out);
    CHECK_INT(server_json_meta_status(&out, 0, NULL, 64), -EINVAL);
    CHECK_INT(server_json_meta_status(&out, 2, NULL, 0), -EINVAL);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_auth__v2_aws_documented_example);
    RUN(test_auth__v2_rgw_status_read);
    RUN(test_auth__v2_subresources_and_amz_headers);
    RUN(test_auth__http_dates);
    RUN(test_auth__v4_aws_documented_example);
    RUN(test_auth__v4_body_hash);
    RUN(test_json__data_status_shape);
    RUN(test_json__bucket_status_shape);
    RUN(test_json__meta_status_lets_master_trim);

    RUN(start_server);
    if (srv) {
        RUN(test_server__unsigned_admin_is_403);
        RUN(test_server__v4_signed_status_returns_hook_json);
        RUN(test_server__v2_signed_as_rgw_does);
        RUN(test_server__notify_body_becomes_shard_ids);
        RUN(test_server__period_push_and_default_metadata_status);
        RUN(test_server__metrics_and_health_need_no_auth);
        RUN(test_server__unknown_paths_and_errors);
        RUN(test_server__bad_listen_and_busy_port);
    }
    server_stop(srv);
    free(rec.pushed);
    curl_global_cleanup();
    return t_done();
}
