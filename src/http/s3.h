/* S3 requests over the event loop, signed with our SigV4.
 *
 * A struct s3_call is one request and its outcome, in caller-owned storage:
 * s3_call_init(), describe it (s3_<op>_prepare() or by hand), then either
 * run it synchronously (s3_call_run(): drives the loop until this call is
 * done, other transfers progress meanwhile) or start it (s3_call_start())
 * and get done() from the loop. s3_call_finish() frees what it holds.
 * Every op also has a synchronous convenience function s3_<op>().
 *
 * Errors: 0 or a negative errno from status_to_errno(); call->retryable says
 * whether sending it again may help; err_get() holds the detail
 * ("s3: PUT bucket/key: HTTP 403 AccessDenied: <message> (request id ...)"). */
#ifndef RGW2CLOUD_S3_H
#define RGW2CLOUD_S3_H

#include "loop.h"
#include "raw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xml_list_parts;
struct xml_list_objects;
struct xml_list_uploads;
struct xml_acl;
struct xml_tagging;
struct xml_part;

#define S3_MAX_QUERY    12
#define S3_MAX_HEADERS  64
#define S3_MAX_XML_BODY (16u << 20) /* response bodies we buffer (XML, JSON) */

/* What a body reader returns besides a byte count. */
#define S3_READ_PAUSE ((size_t) -1) /* no data now; s3_call_unpause() later */
#define S3_READ_ABORT ((size_t) -2) /* give up: the call fails with -EIO */
/* What a body writer returns besides the count it took. */
#define S3_WRITE_PAUSE ((size_t) -1)
/* What a span function returns besides a byte count (0 = pause). */
#define S3_SPAN_ABORT ((size_t) -2)

struct s3_endpoint {
    const char *url; /* "http://127.0.0.1:8000" or "https://s3.eu-west-1.amazonaws.com" */
    const char *access_key;
    const char *secret;
    const char *region; /* signing region; NULL -> "us-east-1" */
    bool virtual_host;  /* bucket.host/key instead of host/bucket/key */
};

struct s3_client;

/* Copies *ep; borrows loop, which must outlive the client. */
int s3_client_new(struct s3_client **out, struct loop *loop, const struct s3_endpoint *ep);
void s3_client_free(struct s3_client *c); /* accepts NULL */
struct loop *s3_client_loop(const struct s3_client *c);
void s3_client_set_retries(struct s3_client *c, int retries); /* default 4 */
const char *s3_client_region(const struct s3_client *c);      /* borrowed */

/* The wait before a retry: first_ms doubled per attempt (0, 1, ..., at most
 * 6 doublings), no more than cap_ms, then a random half of it dropped
 * (jitter: retries of many requests do not come back together). */
long s3_backoff_ms(long first_ms, int attempt, long cap_ms);

/* A byte rate shared by clients: the request bodies of every client it is
 * set on, together, go out at no more than bytes_per_s on average (bursts of
 * 1/20 s, at least 16 KiB). A body that has no bytes to go pauses its
 * transfer and goes on when the rate allows. One thread (the loop's). */
struct s3_rate;
int s3_rate_new(struct s3_rate **out, uint64_t bytes_per_s); /* 0: no limit */
void s3_rate_set(struct s3_rate *r, uint64_t bytes_per_s);   /* 0: no limit */
void s3_rate_free(struct s3_rate *r);                        /* accepts NULL */
/* Borrows r, which must outlive the client's calls; NULL: no limit. */
void s3_client_set_rate(struct s3_client *c, struct s3_rate *r);

struct s3_kv {
    char *name;
    char *value;
};

struct s3_call;
typedef size_t (*s3_read_fn)(void *ud, char *buf, size_t max); /* 0 = end of body */
typedef size_t (*s3_write_fn)(void *ud, const char *buf,
                              size_t len); /* len taken, or PAUSE; less = abort */
typedef void (*s3_done_fn)(struct s3_call *call, void *ud);
/* Zero-copy bodies (plain-http endpoints, http/raw.h): the caller's memory itself. A sink span
 * is room for the response body at *p, a source span the request body's next bytes at *p: the
 * count, 0 (pause until s3_call_unpause) or S3_SPAN_ABORT; the commit says how many bytes the
 * socket wrote there or took from there. */
typedef size_t (*s3_sink_span_fn)(void *ud, char **p);
typedef size_t (*s3_source_span_fn)(void *ud, const char **p);
typedef void (*s3_span_commit_fn)(void *ud, size_t n);

struct s3_call {
    /* request (filled by prepare functions or s3_call_set_*) */
    char *method;
    char *bucket; /* NULL: service-level request */
    char *key;    /* NULL: bucket-level request */
    struct s3_kv query[S3_MAX_QUERY];
    size_t nquery;
    struct s3_kv headers[S3_MAX_HEADERS];
    size_t nheaders;
    /* body: a copy in memory (hashed into the signature), or a reader with a
     * known length (sent UNSIGNED-PAYLOAD), or none */
    const char *body; /* points at body_owned or at the caller's buffer */
    char *body_owned;
    size_t body_len;
    bool unsigned_payload; /* memory body sent UNSIGNED-PAYLOAD (with Content-MD5) */
    size_t body_off;
    s3_read_fn read;
    void *read_ud;
    uint64_t read_len;
    /* response body: to write() when set and the status is 2xx, else
     * buffered (capped at S3_MAX_XML_BODY) */
    s3_write_fn write;
    void *write_ud;
    /* the same bodies as spans (s3_call_spans): used instead of read/write
     * where the endpoint is plain http */
    s3_sink_span_fn sink_span;
    s3_source_span_fn source_span;
    s3_span_commit_fn span_commit;
    void *span_ud;

    /* outcome */
    int err; /* 0 or negative errno */
    bool retryable;
    long status; /* HTTP status, 0 if none */
    char *resp;  /* buffered body, NUL-terminated */
    size_t resp_len;
    struct s3_kv *resp_headers; /* names lower-case, values trimmed */
    size_t nresp_headers;
    char *detail; /* one line saying what failed, NULL when err == 0 */
    uint64_t bytes_sent;
    uint64_t bytes_received;
    int attempts; /* sends so far, retries included */

    /* internal */
    struct loop_xfer xfer;
    struct s3_client *client;
    struct curl_slist *slist;
    char *url;
    s3_done_fn done;
    void *done_ud;
    bool finished;
    bool headers_reset;
    struct loop_timer rate_timer; /* armed while the body waits for the client's rate */
    struct raw_xfer raw;          /* the exchange when it runs on our own socket */
    char *raw_head;
    bool on_raw;
};

void s3_call_init(struct s3_call *call);
/* Frees everything the call holds and leaves it initialised for reuse.
 * MUST NOT be called while the call is running (s3_call_abort first). */
void s3_call_finish(struct s3_call *call);

/* Setters copy their strings. -ENOMEM, or -E2BIG when the table is full. */
int s3_call_set(struct s3_call *call, const char *method, const char *bucket, const char *key);
int s3_call_query(struct s3_call *call, const char *name, const char *value /* NULL: valueless */);
int s3_call_header(struct s3_call *call, const char *name, const char *value);
int s3_call_body(struct s3_call *call, const void *data, size_t len); /* copies */
/* Borrows data, which MUST stay valid and unchanged until the call is finished. */
void s3_call_body_ref(struct s3_call *call, const void *data, size_t len);
void s3_call_reader(struct s3_call *call, s3_read_fn fn, void *ud, uint64_t len);
void s3_call_writer(struct s3_call *call, s3_write_fn fn, void *ud);
/* The body of the reader or the writer set before, also as spans: on a plain-http endpoint the
 * call then runs on a socket of our own with no copy (http/raw.h), else through curl with the
 * reader or writer. One of sink (a GET) or source (a PUT), the other NULL. */
void s3_call_spans(struct s3_call *call, s3_sink_span_fn sink, s3_source_span_fn source,
                   s3_span_commit_fn commit, void *ud);

/* Response header by name (case-insensitive); borrowed, NULL if absent. */
const char *s3_call_resp_header(const struct s3_call *call, const char *name);
/* s without one pair of surrounding double quotes (ETags); malloc'd, NULL
 * on ENOMEM. */
char *s3_unquote(const char *s);

/* The ETag response header without quotes into *out (malloc'd); -ENOENT. */
int s3_call_etag(const struct s3_call *call, char **out);

/* Sign now and hand to the loop; done() is called once from the loop.
 * Returns 0, or a negative errno (then done() is not called). */
int s3_call_start(struct s3_client *c, struct s3_call *call, s3_done_fn done, void *ud);
/* Start and drive the loop until this call finishes. Returns call->err, and
 * puts call->detail into err_set(). A call whose body is in memory (or has
 * none) is retried on retryable errors up to the client's retry count, with
 * capped exponential backoff and jitter, re-signed each time; a streamed
 * body is never retried here (its owner re-reads the source). */
int s3_call_run(struct s3_client *c, struct s3_call *call);
/* Resume a paused reader or writer. */
void s3_call_unpause(struct s3_call *call);
/* Stop a running call; done() is not called; the call may then be finished. */
void s3_call_abort(struct s3_call *call);

/* ---- operations. *_prepare describe the request; synchronous wrappers run
 * it and parse the answer. Extra headers (metadata, grants, conditions) are
 * added with s3_call_header() between prepare and run. ---- */

/* PutObject with a body of known length from fn (streamed). */
int s3_put_object_prepare(struct s3_call *call, const char *bucket, const char *key, s3_read_fn fn,
                          void *ud, uint64_t len);
/* GetObject; range_first/last inclusive, last < first = whole object;
 * if_match NULL = none. The body goes to fn. */
int s3_get_object_prepare(struct s3_call *call, const char *bucket, const char *key,
                          uint64_t range_first, uint64_t range_last, const char *if_match,
                          s3_write_fn fn, void *ud);
int s3_head_object_prepare(struct s3_call *call, const char *bucket, const char *key);
int s3_delete_object_prepare(struct s3_call *call, const char *bucket, const char *key);

/* CreateBucket; sends a LocationConstraint unless region is NULL or
 * "us-east-1". BucketAlreadyOwnedByYou counts as success. */
int s3_create_bucket(struct s3_client *c, const char *bucket, const char *region);

int s3_create_multipart(struct s3_client *c, struct s3_call *call /* prepared headers */,
                        const char *bucket, const char *key, char **upload_id);
int s3_create_multipart_prepare(struct s3_call *call, const char *bucket, const char *key);
/* UploadPart from memory (borrowed until the call is finished) with
 * Content-MD5, UNSIGNED-PAYLOAD; *etag (malloc'd, unquoted). */
int s3_upload_part_prepare(struct s3_call *call, const char *bucket, const char *key,
                           const char *upload_id, int part_number, const void *data, size_t len);
/* UploadPart streamed from fn (len bytes), UNSIGNED-PAYLOAD, no Content-MD5:
 * the caller compares the answer's ETag with the MD5 of what it sent. */
int s3_upload_part_stream_prepare(struct s3_call *call, const char *bucket, const char *key,
                                  const char *upload_id, int part_number, s3_read_fn fn, void *ud,
                                  uint64_t len);
int s3_upload_part(struct s3_client *c, const char *bucket, const char *key, const char *upload_id,
                   int part_number, const void *data, size_t len, char **etag);
/* One page of ListParts after part number marker (0 = from the start). */
int s3_list_parts_page(struct s3_client *c, const char *bucket, const char *key,
                       const char *upload_id, int marker, int max_parts,
                       struct xml_list_parts *out);
/* ListParts, all pages of page_size (0 = 1000), into *out (parts ascending). */
int s3_list_parts(struct s3_client *c, const char *bucket, const char *key, const char *upload_id,
                  int page_size, struct xml_list_parts *out);
/* CompleteMultipartUpload; parts sorted ascending. A 200 carrying <Error>
 * fails. *etag (malloc'd, unquoted, may be "") when etag != NULL. */
int s3_complete_multipart(struct s3_client *c, const char *bucket, const char *key,
                          const char *upload_id, const struct xml_part *parts, size_t nparts,
                          char **etag);
int s3_abort_multipart(struct s3_client *c, const char *bucket, const char *key,
                       const char *upload_id);
/* One page of ListMultipartUploads under prefix (NULL = all). */
int s3_list_uploads(struct s3_client *c, const char *bucket, const char *prefix,
                    const char *key_marker, const char *upload_id_marker,
                    struct xml_list_uploads *out);
/* One page of ListObjectsV2 (encoding-type=url, keys decoded). */
int s3_list_objects_prepare(struct s3_call *call, const char *bucket, const char *prefix,
                            const char *continuation, int max_keys);
int s3_list_objects(struct s3_client *c, const char *bucket, const char *prefix,
                    const char *continuation, int max_keys, struct xml_list_objects *out);
int s3_get_acl(struct s3_client *c, const char *bucket, const char *key, struct xml_acl *out);
/* PutObjectAcl with grant headers already added to call (x-amz-grant-*, x-amz-acl). */
int s3_put_acl(struct s3_client *c, struct s3_call *call, const char *bucket, const char *key);
int s3_get_tagging(struct s3_client *c, const char *bucket, const char *key,
                   struct xml_tagging *out);
int s3_head_object(struct s3_client *c, struct s3_call *call, const char *bucket, const char *key);
int s3_delete_object(struct s3_client *c, const char *bucket, const char *key);

#endif
