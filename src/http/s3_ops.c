/* The S3 operations on top of the call machinery (s3.c): each request's
 * method, path, query and headers (the *_prepare functions), and the ones run
 * to their end with s3_call_run() with their answers parsed (http/xml.h).
 * Public API only: nothing here knows how a call is carried. */
#include "s3.h"

#include "err.h"
#include "http/xml.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ operations */

int s3_put_object_prepare(struct s3_call *call, const char *bucket, const char *key, s3_read_fn fn,
                          void *ud, uint64_t len)
{
    int r = s3_call_set(call, "PUT", bucket, key);
    if (r < 0)
        return r;
    s3_call_reader(call, fn, ud, len);
    return 0;
}

int s3_get_object_prepare(struct s3_call *call, const char *bucket, const char *key,
                          uint64_t range_first, uint64_t range_last, const char *if_match,
                          s3_write_fn fn, void *ud)
{
    int r = s3_call_set(call, "GET", bucket, key);
    if (r < 0)
        return r;
    if (range_last >= range_first) {
        char range[64];
        (void) snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long) range_first,
                        (unsigned long long) range_last);
        if ((r = s3_call_header(call, "Range", range)) < 0)
            return r;
    }
    if (if_match) {
        char quoted[256];
        (void) snprintf(quoted, sizeof(quoted), "\"%s\"", if_match);
        if ((r = s3_call_header(call, "If-Match", if_match[0] == '"' ? if_match : quoted)) < 0)
            return r;
    }
    s3_call_writer(call, fn, ud);
    return 0;
}

int s3_head_object_prepare(struct s3_call *call, const char *bucket, const char *key)
{
    return s3_call_set(call, "HEAD", bucket, key);
}

int s3_delete_object_prepare(struct s3_call *call, const char *bucket, const char *key)
{
    return s3_call_set(call, "DELETE", bucket, key);
}

int s3_head_object(struct s3_client *c, struct s3_call *call, const char *bucket, const char *key)
{
    int r = s3_head_object_prepare(call, bucket, key);
    return r < 0 ? r : s3_call_run(c, call);
}

int s3_delete_object(struct s3_client *c, const char *bucket, const char *key)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_delete_object_prepare(&call, bucket, key);
    if (r == 0)
        r = s3_call_run(c, &call);
    s3_call_finish(&call);
    return r;
}

int s3_create_bucket(struct s3_client *c, const char *bucket, const char *region)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_call_set(&call, "PUT", bucket, NULL);
    if (r == 0 && region && *region && strcmp(region, "us-east-1") != 0) {
        char *body = NULL;
        size_t len = 0;
        r = xml_build_create_bucket(&body, &len, region);
        if (r == 0)
            r = s3_call_body(&call, body, len);
        free(body);
    }
    if (r == 0)
        r = s3_call_run(c, &call);
    if (r == -EEXIST) {
        struct xml_error xe = {0};
        if (call.resp && xml_parse_error(&xe, call.resp, call.resp_len) == 0 && xe.code &&
            strcmp(xe.code, "BucketAlreadyOwnedByYou") == 0)
            r = 0;
        xml_error_finish(&xe);
        if (r < 0)
            err_set("%s", call.detail ? call.detail : "s3: create bucket failed");
    }
    s3_call_finish(&call);
    return r;
}

int s3_create_multipart_prepare(struct s3_call *call, const char *bucket, const char *key)
{
    int r = s3_call_set(call, "POST", bucket, key);
    return r < 0 ? r : s3_call_query(call, "uploads", NULL);
}

int s3_create_multipart(struct s3_client *c, struct s3_call *call, const char *bucket,
                        const char *key, char **upload_id)
{
    int r = s3_create_multipart_prepare(call, bucket, key);
    if (r == 0)
        r = s3_call_run(c, call);
    if (r == 0) {
        r = xml_parse_initiate(upload_id, call->resp ? call->resp : "", call->resp_len);
        if (r < 0)
            err_set("s3: POST %s/%s?uploads: bad answer: %s", bucket, key, err_get());
    }
    return r;
}

int s3_upload_part_prepare(struct s3_call *call, const char *bucket, const char *key,
                           const char *upload_id, int part_number, const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char num[16], b64[32];
    (void) EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
    (void) EVP_EncodeBlock((unsigned char *) b64, md, (int) mdlen);
    (void) snprintf(num, sizeof(num), "%d", part_number);
    int r;
    if ((r = s3_call_set(call, "PUT", bucket, key)) < 0 ||
        (r = s3_call_query(call, "partNumber", num)) < 0 ||
        (r = s3_call_query(call, "uploadId", upload_id)) < 0 ||
        (r = s3_call_header(call, "Content-MD5", b64)) < 0)
        return r;
    /* parts are large and carry Content-MD5: hashing them again for the
     * signature would only cost CPU */
    s3_call_body_ref(call, data, len);
    call->unsigned_payload = true;
    return 0;
}

int s3_upload_part_stream_prepare(struct s3_call *call, const char *bucket, const char *key,
                                  const char *upload_id, int part_number, s3_read_fn fn, void *ud,
                                  uint64_t len)
{
    char num[16];
    (void) snprintf(num, sizeof(num), "%d", part_number);
    int r;
    if ((r = s3_call_set(call, "PUT", bucket, key)) < 0 ||
        (r = s3_call_query(call, "partNumber", num)) < 0 ||
        (r = s3_call_query(call, "uploadId", upload_id)) < 0)
        return r;
    s3_call_reader(call, fn, ud, len);
    call->unsigned_payload = true;
    return 0;
}

int s3_upload_part(struct s3_client *c, const char *bucket, const char *key, const char *upload_id,
                   int part_number, const void *data, size_t len, char **etag)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_upload_part_prepare(&call, bucket, key, upload_id, part_number, data, len);
    if (r == 0)
        r = s3_call_run(c, &call);
    if (r == 0 && etag) {
        r = s3_call_etag(&call, etag);
        if (r < 0)
            err_set("s3: PUT %s/%s part %d: no ETag in the answer", bucket, key, part_number);
    }
    s3_call_finish(&call);
    return r;
}

int s3_list_parts_page(struct s3_client *c, const char *bucket, const char *key,
                       const char *upload_id, int marker, int max_parts, struct xml_list_parts *out)
{
    struct s3_call call;
    s3_call_init(&call);
    char m[16], mp[16];
    (void) snprintf(m, sizeof(m), "%d", marker);
    (void) snprintf(mp, sizeof(mp), "%d", max_parts > 0 ? max_parts : 1000);
    int r;
    if ((r = s3_call_set(&call, "GET", bucket, key)) == 0 &&
        (r = s3_call_query(&call, "uploadId", upload_id)) == 0 &&
        (r = s3_call_query(&call, "max-parts", mp)) == 0 &&
        (!marker || (r = s3_call_query(&call, "part-number-marker", m)) == 0))
        r = s3_call_run(c, &call);
    if (r == 0)
        r = xml_parse_list_parts(out, call.resp ? call.resp : "", call.resp_len);
    s3_call_finish(&call);
    return r;
}

int s3_list_parts(struct s3_client *c, const char *bucket, const char *key, const char *upload_id,
                  int page_size, struct xml_list_parts *out)
{
    memset(out, 0, sizeof(*out));
    int marker = 0;
    int r = 0;
    for (;;) {
        struct xml_list_parts page = {0};
        r = s3_list_parts_page(c, bucket, key, upload_id, marker, page_size, &page);
        if (r < 0)
            break;
        if (page.nparts) {
            struct xml_part *np = realloc(out->parts, (out->nparts + page.nparts) * sizeof(*np));
            if (!np) {
                xml_list_parts_finish(&page);
                r = -ENOMEM;
                break;
            }
            /* the parts' strings move to out */
            memcpy(np + out->nparts, page.parts, page.nparts * sizeof(*np));
            out->parts = np;
            out->nparts += page.nparts;
            free(page.parts);
            page.parts = NULL;
            page.nparts = 0;
        }
        /* a marker that does not move would loop forever: stop there */
        bool more = page.truncated && page.next_marker > marker;
        marker = page.next_marker;
        xml_list_parts_finish(&page);
        if (!more)
            break;
    }
    if (r < 0)
        xml_list_parts_finish(out);
    return r;
}

int s3_complete_multipart(struct s3_client *c, const char *bucket, const char *key,
                          const char *upload_id, const struct xml_part *parts, size_t nparts,
                          char **etag)
{
    char *body = NULL;
    size_t len = 0;
    int r = xml_build_complete(&body, &len, parts, nparts);
    if (r < 0)
        return r;
    struct s3_call call;
    s3_call_init(&call);
    if ((r = s3_call_set(&call, "POST", bucket, key)) == 0 &&
        (r = s3_call_query(&call, "uploadId", upload_id)) == 0 &&
        (r = s3_call_body(&call, body, len)) == 0)
        r = s3_call_run(c, &call);
    free(body);
    if (r == 0) {
        struct xml_complete done = {0};
        r = xml_parse_complete(&done, call.resp ? call.resp : "", call.resp_len);
        if (r < 0) {
            char what[512];
            (void) snprintf(what, sizeof(what), "%s", err_get());
            err_set("s3: POST %s/%s?uploadId=%s: complete failed: %s", bucket, key, upload_id,
                    what);
        } else if (etag) {
            *etag = strdup(done.etag ? done.etag : "");
            if (!*etag)
                r = -ENOMEM;
        }
        xml_complete_finish(&done);
    }
    s3_call_finish(&call);
    return r;
}

int s3_abort_multipart(struct s3_client *c, const char *bucket, const char *key,
                       const char *upload_id)
{
    struct s3_call call;
    s3_call_init(&call);
    int r;
    if ((r = s3_call_set(&call, "DELETE", bucket, key)) == 0 &&
        (r = s3_call_query(&call, "uploadId", upload_id)) == 0)
        r = s3_call_run(c, &call);
    s3_call_finish(&call);
    return r;
}

int s3_list_uploads(struct s3_client *c, const char *bucket, const char *prefix,
                    const char *key_marker, const char *upload_id_marker,
                    struct xml_list_uploads *out)
{
    struct s3_call call;
    s3_call_init(&call);
    int r;
    if ((r = s3_call_set(&call, "GET", bucket, NULL)) == 0 &&
        (r = s3_call_query(&call, "uploads", NULL)) == 0 &&
        (!prefix || (r = s3_call_query(&call, "prefix", prefix)) == 0) &&
        (!key_marker || (r = s3_call_query(&call, "key-marker", key_marker)) == 0) &&
        (!upload_id_marker ||
         (r = s3_call_query(&call, "upload-id-marker", upload_id_marker)) == 0))
        r = s3_call_run(c, &call);
    if (r == 0)
        r = xml_parse_list_uploads(out, call.resp ? call.resp : "", call.resp_len);
    s3_call_finish(&call);
    return r;
}

int s3_list_objects_prepare(struct s3_call *call, const char *bucket, const char *prefix,
                            const char *continuation, int max_keys)
{
    char mk[16];
    (void) snprintf(mk, sizeof(mk), "%d", max_keys > 0 ? max_keys : 1000);
    int r;
    if ((r = s3_call_set(call, "GET", bucket, NULL)) < 0 ||
        (r = s3_call_query(call, "list-type", "2")) < 0 ||
        (r = s3_call_query(call, "encoding-type", "url")) < 0 ||
        (r = s3_call_query(call, "max-keys", mk)) < 0 ||
        (prefix && (r = s3_call_query(call, "prefix", prefix)) < 0) ||
        (continuation && (r = s3_call_query(call, "continuation-token", continuation)) < 0))
        return r;
    return 0;
}

int s3_list_objects(struct s3_client *c, const char *bucket, const char *prefix,
                    const char *continuation, int max_keys, struct xml_list_objects *out)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_list_objects_prepare(&call, bucket, prefix, continuation, max_keys);
    if (r == 0)
        r = s3_call_run(c, &call);
    if (r == 0)
        r = xml_parse_list_objects(out, call.resp ? call.resp : "", call.resp_len);
    s3_call_finish(&call);
    return r;
}

int s3_get_acl(struct s3_client *c, const char *bucket, const char *key, struct xml_acl *out)
{
    struct s3_call call;
    s3_call_init(&call);
    int r;
    if ((r = s3_call_set(&call, "GET", bucket, key)) == 0 &&
        (r = s3_call_query(&call, "acl", NULL)) == 0)
        r = s3_call_run(c, &call);
    if (r == 0)
        r = xml_parse_acl(out, call.resp ? call.resp : "", call.resp_len);
    s3_call_finish(&call);
    return r;
}

int s3_put_acl(struct s3_client *c, struct s3_call *call, const char *bucket, const char *key)
{
    int r;
    if ((r = s3_call_set(call, "PUT", bucket, key)) == 0 &&
        (r = s3_call_query(call, "acl", NULL)) == 0)
        r = s3_call_run(c, call);
    return r;
}

int s3_get_tagging(struct s3_client *c, const char *bucket, const char *key,
                   struct xml_tagging *out)
{
    struct s3_call call;
    s3_call_init(&call);
    int r;
    if ((r = s3_call_set(&call, "GET", bucket, key)) == 0 &&
        (r = s3_call_query(&call, "tagging", NULL)) == 0)
        r = s3_call_run(c, &call);
    if (r == 0)
        r = xml_parse_tagging(out, call.resp ? call.resp : "", call.resp_len);
    s3_call_finish(&call);
    return r;
}
