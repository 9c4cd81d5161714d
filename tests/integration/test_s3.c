/* Every S3 operation of src/http/s3.h against the lab's target radosgw. */
#include "harness.h"
#include "labenv.h"
#include "testlib.h"

#include "err.h"
#include "http/loop.h"
#include "http/s3.h"
#include "http/xml.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static struct labenv env;
static struct loop *loop;
static struct s3_client *s3;
static char bucket[64];

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

static int put_bytes(const char *key, const char *data, size_t len, const char *const *hdrs)
{
    struct s3_call call;
    s3_call_init(&call);
    struct src s = {data, len, 0};
    int r = s3_put_object_prepare(&call, bucket, key, src_read, &s, len);
    for (size_t i = 0; r == 0 && hdrs && hdrs[i]; i += 2)
        r = s3_call_header(&call, hdrs[i], hdrs[i + 1]);
    if (r == 0)
        r = s3_call_run(s3, &call);
    if (r < 0)
        printf("# put %s: %s\n", key, err_get());
    s3_call_finish(&call);
    return r;
}

static int get_bytes(const char *key, struct sink *out, uint64_t first, uint64_t last,
                     const char *if_match)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_get_object_prepare(&call, bucket, key, first, last, if_match, sink_write, out);
    if (r == 0)
        r = s3_call_run(s3, &call);
    s3_call_finish(&call);
    return r;
}

static bool listing_has(const char *key)
{
    char *token = NULL;
    bool found = false;
    for (;;) {
        struct xml_list_objects l = {0};
        int r = s3_list_objects(s3, bucket, NULL, token, 100, &l);
        free(token);
        token = NULL;
        if (r < 0)
            return false;
        for (size_t i = 0; i < l.nobjects; i++)
            found = found || strcmp(l.objects[i].key, key) == 0;
        if (l.truncated && l.next_token)
            token = strdup(l.next_token);
        xml_list_objects_finish(&l);
        if (!token)
            break;
    }
    return found;
}

/* ---- tests */

static void test_s3__create_bucket_twice_is_ok(void)
{
    snprintf(bucket, sizeof(bucket), "it-s3-%ld-%d", (long) time(NULL), (int) (random() % 1000));
    CHECK_INT(s3_create_bucket(s3, bucket, NULL), 0);
    /* BucketAlreadyOwnedByYou (or RGW's 200) counts as success */
    CHECK_INT(s3_create_bucket(s3, bucket, NULL), 0);
}

static void test_s3__weird_keys_round_trip(void)
{
    static char long_key[1001];
    memset(long_key, 'k', 1000);
    memcpy(long_key, "long/", 5);
    const char *keys[] = {
        "plain.txt",      "with space/and more spaces", "utf8/ключ-日本語-é",
        "chars+%~#?&=",   "_leading-underscore",        "__double",
        "dir//double/slash", "tilde~and!bang*(x)'", "a+b=c&d?e#f%20g", long_key,
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "body of key %zu", i);
        CHECK_INT(put_bytes(keys[i], body, strlen(body), NULL), 0);
        struct sink got = {0};
        CHECK_INT(get_bytes(keys[i], &got, 1, 0, NULL), 0);
        CHECK_STR(got.buf, body);
        free(got.buf);
        struct s3_call head;
        s3_call_init(&head);
        CHECK_INT(s3_head_object(s3, &head, bucket, keys[i]), 0);
        char len[16];
        snprintf(len, sizeof(len), "%zu", strlen(body));
        CHECK_STR(s3_call_resp_header(&head, "content-length"), len);
        s3_call_finish(&head);
        CHECK(listing_has(keys[i]));
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        CHECK_INT(s3_delete_object(s3, bucket, keys[i]), 0);
        struct s3_call head;
        s3_call_init(&head);
        CHECK_INT(s3_head_object(s3, &head, bucket, keys[i]), -ENOENT);
        s3_call_finish(&head);
    }
}

static void test_s3__zero_byte_object(void)
{
    CHECK_INT(put_bytes("empty", "", 0, NULL), 0);
    struct sink got = {0};
    CHECK_INT(get_bytes("empty", &got, 1, 0, NULL), 0);
    CHECK_INT(got.len, 0);
    free(got.buf);
    struct s3_call head;
    s3_call_init(&head);
    CHECK_INT(s3_head_object(s3, &head, bucket, "empty"), 0);
    CHECK_STR(s3_call_resp_header(&head, "content-length"), "0");
    char *etag = NULL;
    CHECK_INT(s3_call_etag(&head, &etag), 0);
    CHECK_STR(etag, "d41d8cd98f00b204e9800998ecf8427e");
    free(etag);
    s3_call_finish(&head);
}

static void test_s3__metadata_and_headers_kept(void)
{
    const char *hdrs[] = {"Content-Type",        "text/x-test",
                          "Cache-Control",       "max-age=60",
                          "Content-Disposition", "attachment; filename=\"a b.txt\"",
                          "x-amz-meta-color",    "blue",
                          "x-amz-meta-a",        "1",
                          "x-amz-meta-a-b",      "2",
                          "x-amz-tagging",       "k1=v1&k2=v%202",
                          NULL};
    CHECK_INT(put_bytes("meta", "hello", 5, hdrs), 0);
    struct s3_call head;
    s3_call_init(&head);
    CHECK_INT(s3_head_object(s3, &head, bucket, "meta"), 0);
    CHECK_STR(s3_call_resp_header(&head, "content-type"), "text/x-test");
    CHECK_STR(s3_call_resp_header(&head, "cache-control"), "max-age=60");
    CHECK_STR(s3_call_resp_header(&head, "x-amz-meta-color"), "blue");
    CHECK_STR(s3_call_resp_header(&head, "x-amz-meta-a"), "1");
    CHECK_STR(s3_call_resp_header(&head, "x-amz-meta-a-b"), "2");
    s3_call_finish(&head);

    struct xml_tagging tags = {0};
    CHECK_INT(s3_get_tagging(s3, bucket, "meta", &tags), 0);
    CHECK_INT(tags.ntags, 2);
    bool k1 = false, k2 = false;
    for (size_t i = 0; i < tags.ntags; i++) {
        k1 = k1 || (strcmp(tags.tags[i].key, "k1") == 0 && strcmp(tags.tags[i].value, "v1") == 0);
        k2 = k2 || (strcmp(tags.tags[i].key, "k2") == 0 && strcmp(tags.tags[i].value, "v 2") == 0);
    }
    CHECK(k1 && k2);
    xml_tagging_finish(&tags);
}

static void test_s3__range_and_if_match(void)
{
    const char *data = "0123456789abcdefghij";
    CHECK_INT(put_bytes("ranged", data, strlen(data), NULL), 0);
    struct s3_call head;
    s3_call_init(&head);
    CHECK_INT(s3_head_object(s3, &head, bucket, "ranged"), 0);
    char *etag = NULL;
    CHECK_INT(s3_call_etag(&head, &etag), 0);
    s3_call_finish(&head);

    struct sink got = {0};
    CHECK_INT(get_bytes("ranged", &got, 5, 9, etag), 0);
    CHECK_STR(got.buf, "56789");
    free(got.buf);

    /* the object changed under us: 412, never a torn copy */
    struct sink bad = {0};
    CHECK_INT(get_bytes("ranged", &bad, 0, 3, "00000000000000000000000000000000"), -ESTALE);
    CHECK(strstr(err_get(), "412") != NULL);
    CHECK_INT(bad.len, 0);
    free(bad.buf);
    free(etag);
}

struct part_job {
    struct s3_call call;
    char *data;
    size_t len;
    int number;
    bool done;
};

static void part_done(struct s3_call *call, void *ud)
{
    (void) call;
    ((struct part_job *) ud)->done = true;
}

/* 100 MiB in 8 MiB parts, 4 in flight through the async API, each part made
 * on the fly (never the whole object in memory), verified by downloading
 * and hashing the stream. */
static void test_s3__multipart_100mib_streamed(void)
{
    const size_t total = 100u << 20, part = 8u << 20;
    const int nparts = (int) ((total + part - 1) / part);
    const char *key = "big/multipart 100MiB";
    EVP_MD_CTX *whole = EVP_MD_CTX_new();
    EVP_DigestInit_ex(whole, EVP_md5(), NULL);

    struct s3_call init;
    s3_call_init(&init);
    s3_call_header(&init, "x-amz-meta-kind", "multipart");
    char *upload_id = NULL;
    CHECK_INT(s3_create_multipart(s3, &init, bucket, key, &upload_id), 0);
    s3_call_finish(&init);
    if (!upload_id)
        return;

    struct xml_part *parts = calloc((size_t) nparts, sizeof(*parts));
    struct part_job jobs[4];
    memset(jobs, 0, sizeof(jobs));
    int next = 1, finished = 0, failures = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    while (finished < nparts) {
        for (int j = 0; j < 4 && next <= nparts; j++) {
            if (jobs[j].data)
                continue;
            size_t len = next == nparts ? total - (size_t) (nparts - 1) * part : part;
            jobs[j].data = malloc(len);
            for (size_t i = 0; i < len; i += 8) { /* xorshift: cheap, reproducible */
                seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
                memcpy(jobs[j].data + i, &seed, len - i < 8 ? len - i : 8);
            }
            EVP_DigestUpdate(whole, jobs[j].data, len);
            jobs[j].len = len;
            jobs[j].number = next++;
            jobs[j].done = false;
            s3_call_init(&jobs[j].call);
            int r = s3_upload_part_prepare(&jobs[j].call, bucket, key, upload_id,
                                           jobs[j].number, jobs[j].data, len);
            if (r == 0)
                r = s3_call_start(s3, &jobs[j].call, part_done, &jobs[j]);
            if (r < 0) {
                failures++;
                jobs[j].done = true;
            }
        }
        (void) loop_run_once(loop, 1000);
        for (int j = 0; j < 4; j++) {
            if (!jobs[j].data || !jobs[j].done)
                continue;
            if (jobs[j].call.err == 0) {
                char *etag = NULL;
                if (s3_call_etag(&jobs[j].call, &etag) == 0) {
                    parts[jobs[j].number - 1].number = jobs[j].number;
                    parts[jobs[j].number - 1].etag = etag;
                    parts[jobs[j].number - 1].size = jobs[j].len;
                } else {
                    failures++;
                }
            } else {
                printf("# part %d: %s\n", jobs[j].number, jobs[j].call.detail);
                failures++;
            }
            s3_call_finish(&jobs[j].call);
            free(jobs[j].data);
            jobs[j].data = NULL;
            finished++;
        }
    }
    CHECK_INT(failures, 0);

    /* ListParts across pages of 5 sees every part with its ETag */
    struct xml_list_parts listed = {0};
    CHECK_INT(s3_list_parts(s3, bucket, key, upload_id, 5, &listed), 0);
    CHECK_INT(listed.nparts, nparts);
    bool same = listed.nparts == (size_t) nparts;
    for (size_t i = 0; same && i < listed.nparts; i++)
        same = listed.parts[i].number == (int) i + 1 && parts[i].etag &&
               strcmp(listed.parts[i].etag, parts[i].etag) == 0;
    CHECK(same);
    xml_list_parts_finish(&listed);

    /* the upload shows in ListMultipartUploads until completed */
    struct xml_list_uploads ups = {0};
    CHECK_INT(s3_list_uploads(s3, bucket, "big/", NULL, NULL, &ups), 0);
    bool seen = false;
    for (size_t i = 0; i < ups.nuploads; i++)
        seen = seen || strcmp(ups.uploads[i].upload_id, upload_id) == 0;
    CHECK(seen);
    xml_list_uploads_finish(&ups);

    char *final_etag = NULL;
    CHECK_INT(s3_complete_multipart(s3, bucket, key, upload_id, parts, (size_t) nparts,
                                    &final_etag),
              0);
    free(final_etag);

    char want[33];
    md5_final_hex(want, whole);

    char have[33];
    uint64_t have_len = 0;
    CHECK_INT(download_md5(have, &have_len, s3, bucket, key), 0);
    CHECK_INT(have_len, total);
    CHECK_STR(have, want);

    struct s3_call head;
    s3_call_init(&head);
    CHECK_INT(s3_head_object(s3, &head, bucket, key), 0);
    CHECK_STR(s3_call_resp_header(&head, "x-amz-meta-kind"), "multipart");
    char *etag = NULL;
    CHECK_INT(s3_call_etag(&head, &etag), 0);
    CHECK(etag && strstr(etag, "-13") != NULL); /* md5-of-md5s "-N" */
    free(etag);
    s3_call_finish(&head);

    for (int i = 0; i < nparts; i++)
        free(parts[i].etag);
    free(parts);
    free(upload_id);
    EVP_MD_CTX_free(whole);
    CHECK_INT(s3_delete_object(s3, bucket, key), 0);
}

static void test_s3__abort_and_bad_complete(void)
{
    const char *key = "aborted";
    struct s3_call init;
    s3_call_init(&init);
    char *upload_id = NULL;
    CHECK_INT(s3_create_multipart(s3, &init, bucket, key, &upload_id), 0);
    s3_call_finish(&init);
    if (!upload_id)
        return;
    char data[1024];
    memset(data, 'x', sizeof(data));
    char *etag = NULL;
    CHECK_INT(s3_upload_part(s3, bucket, key, upload_id, 1, data, sizeof(data), &etag), 0);
    char want[33];
    md5_hex(want, data, sizeof(data));
    CHECK_STR(etag, want);
    free(etag);

    /* a wrong part ETag: the server refuses, we report it */
    struct xml_part wrong = {.number = 1, .etag = "00000000000000000000000000000000"};
    CHECK(s3_complete_multipart(s3, bucket, key, upload_id, &wrong, 1, NULL) < 0);
    CHECK(strstr(err_get(), "InvalidPart") != NULL);

    CHECK_INT(s3_abort_multipart(s3, bucket, key, upload_id), 0);
    struct xml_list_parts listed = {0};
    CHECK_INT(s3_list_parts(s3, bucket, key, upload_id, 0, &listed), -ENOENT);
    /* RGW 16 answers NoSuchKey here, AWS NoSuchUpload: either way a 404
     * whose S3 code travels in the detail */
    CHECK(strstr(err_get(), "HTTP 404 NoSuch") != NULL);
    struct xml_list_uploads ups = {0};
    CHECK_INT(s3_list_uploads(s3, bucket, key, NULL, NULL, &ups), 0);
    CHECK_INT(ups.nuploads, 0);
    xml_list_uploads_finish(&ups);
    free(upload_id);
}

static void test_s3__acl_put_and_get(void)
{
    CHECK_INT(put_bytes("acl-obj", "a", 1, NULL), 0);
    struct s3_call call;
    s3_call_init(&call);
    s3_call_header(&call, "x-amz-grant-read", "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"");
    CHECK_INT(s3_put_acl(s3, &call, bucket, "acl-obj"), 0);
    s3_call_finish(&call);

    struct xml_acl acl = {0};
    CHECK_INT(s3_get_acl(s3, bucket, "acl-obj", &acl), 0);
    CHECK(acl.owner_id && *acl.owner_id);
    bool all_users_read = false;
    for (size_t i = 0; i < acl.ngrants; i++)
        all_users_read = all_users_read ||
                         (acl.grants[i].type == XML_GRANTEE_URI && strstr(acl.grants[i].id, "AllUsers") &&
                          strcmp(acl.grants[i].permission, "READ") == 0);
    CHECK(all_users_read);
    xml_acl_finish(&acl);
}

static void test_s3__listing_pages(void)
{
    char key[32];
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof(key), "page/%02d", i);
        CHECK_INT(put_bytes(key, "p", 1, NULL), 0);
    }
    int seen = 0, pages = 0;
    char *token = NULL;
    do {
        struct xml_list_objects l = {0};
        CHECK_INT(s3_list_objects(s3, bucket, "page/", token, 3, &l), 0);
        free(token);
        token = l.truncated && l.next_token ? strdup(l.next_token) : NULL;
        seen += (int) l.nobjects;
        pages++;
        xml_list_objects_finish(&l);
    } while (token && pages < 10);
    CHECK_INT(seen, 7);
    CHECK_INT(pages, 3);
}

static void test_s3__wrong_credentials_are_eacces(void)
{
    struct s3_endpoint ep = {
        .url = labenv_get(&env, "LAB_ENDPOINT"),
        .access_key = labenv_get(&env, "LAB_ACCESS_KEY"),
        .secret = "not-the-secret",
        .region = labenv_get(&env, "LAB_REGION"),
    };
    struct s3_client *bad = NULL;
    CHECK_INT(s3_client_new(&bad, loop, &ep), 0);
    struct s3_call head;
    s3_call_init(&head);
    CHECK_INT(s3_create_bucket(bad, bucket, NULL), -EACCES);
    CHECK(strstr(err_get(), "SignatureDoesNotMatch") != NULL);
    s3_call_finish(&head);
    s3_client_free(bad);

    ep.access_key = "NOSUCHKEY0000000000";
    CHECK_INT(s3_client_new(&bad, loop, &ep), 0);
    struct xml_list_objects l = {0};
    CHECK_INT(s3_list_objects(bad, bucket, NULL, NULL, 10, &l), -EACCES);
    CHECK(strstr(err_get(), "InvalidAccessKeyId") != NULL);
    s3_client_free(bad);
}

static void test_s3__virtual_host_style(void)
{
    /* the target lab serves rgw_dns_name=localhost and curl resolves
     * *.localhost to the loopback itself */
    const char *url = labenv_get(&env, "LAB_ENDPOINT");
    const char *port = url ? strrchr(url, ':') : NULL;
    char vurl[128];
    snprintf(vurl, sizeof(vurl), "http://localhost%s", port ? port : "");
    struct s3_endpoint ep = {
        .url = vurl,
        .access_key = labenv_get(&env, "LAB_ACCESS_KEY"),
        .secret = labenv_get(&env, "LAB_SECRET_KEY"),
        .region = labenv_get(&env, "LAB_REGION"),
        .virtual_host = true,
    };
    struct s3_client *v = NULL;
    CHECK_INT(s3_client_new(&v, loop, &ep), 0);
    struct s3_call call;
    s3_call_init(&call);
    struct src s = {"vhost body", 10, 0};
    int r = s3_put_object_prepare(&call, bucket, "vhost key+1", src_read, &s, 10);
    if (r == 0)
        r = s3_call_run(v, &call);
    CHECK_INT(r, 0);
    s3_call_finish(&call);
    s3_client_free(v);
    /* and it is the same object path style sees */
    struct sink got = {0};
    CHECK_INT(get_bytes("vhost key+1", &got, 1, 0, NULL), 0);
    CHECK_STR(got.buf, "vhost body");
    free(got.buf);
}

int main(void)
{
    srandom((unsigned) time(NULL) ^ (unsigned) getpid());
    if (labenv_load(&env, "LAB_TARGET_ENV") < 0) {
        CHECK(!"lab target env available");
        return t_done();
    }
    struct s3_endpoint ep = {
        .url = labenv_get(&env, "LAB_ENDPOINT"),
        .access_key = labenv_get(&env, "LAB_ACCESS_KEY"),
        .secret = labenv_get(&env, "LAB_SECRET_KEY"),
        .region = labenv_get(&env, "LAB_REGION"),
    };
    CHECK_INT(loop_new(&loop, NULL), 0);
    CHECK_INT(s3_client_new(&s3, loop, &ep), 0);
    if (!s3)
        return t_done();
    RUN(test_s3__create_bucket_twice_is_ok);
    RUN(test_s3__weird_keys_round_trip);
    RUN(test_s3__zero_byte_object);
    RUN(test_s3__metadata_and_headers_kept);
    RUN(test_s3__range_and_if_match);
    RUN(test_s3__multipart_100mib_streamed);
    RUN(test_s3__abort_and_bad_complete);
    RUN(test_s3__acl_put_and_get);
    RUN(test_s3__listing_pages);
    RUN(test_s3__wrong_credentials_are_eacces);
    RUN(test_s3__virtual_host_style);
    s3_client_free(s3);
    loop_free(loop);
    return t_done();
}
