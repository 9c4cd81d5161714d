/* Checking that a request to our listener was signed with the zone's system
 * key, the way the source RGW signs it (research/rgw-sync-protocol.md §0).
 *
 * AWS v2 ("Authorization: AWS AK:base64(HMAC-SHA1)"), as RGW builds it
 * (rgw_auth_s3.cc rgw_create_s3_canonical_header; the client side is
 * rgw_rest_client.cc sign_request):
 *
 *     METHOD \n Content-MD5 \n Content-Type \n DATE \n AMZ-HEADERS RESOURCE
 *
 * - DATE is the Date header, or "" when an x-amz-date header is present
 *   (x-amz-date then travels among the amz headers, and is the time the
 *   skew check uses). RGW's client sends Date as "%a, %d %b %Y %H:%M:%S
 *   +0000"; every RFC 2616 form is accepted, as RGW's parse_rfc2616 does.
 * - AMZ-HEADERS: each x-amz-* header (x-goog-, x-dho-, x-rgw-, x-object-,
 *   x-container- are renamed x-amz-*, as RGW's init_meta_info does) as
 *   "name:value\n", name lower-cased, sorted by name, repeats joined by ','.
 * - RESOURCE is the request path exactly as sent (still percent-encoded,
 *   trailing slash kept: the source asks for "/admin/log/"), followed only by
 *   the S3 sub-resources RGW signs (acl, cors, ..., uploadId, versionId,
 *   versions, website, object-lock; in RGW's fixed order, "?k[=v]&...", values
 *   decoded). Every other query parameter (type, status, source-zone,
 *   rgwx-zonegroup, ...) is not signed.
 *
 * AWS v4 (header form only): the canonical request is recomputed with
 * sigv4_sign() from the method, the decoded path and query, the values of the
 * SignedHeaders and x-amz-content-sha256 (a hex hash MUST match the body;
 * absent, the body's hash is used; UNSIGNED-PAYLOAD accepted; streaming
 * payloads refused). Region and service are taken from the credential scope.
 *
 * Both: the access key must be ours, the signature compares in constant time,
 * the request time may be at most 15 minutes off (RGW_AUTH_GRACE). */
#ifndef RGW2CLOUD_AUTH_H
#define RGW2CLOUD_AUTH_H

#include <stddef.h>

struct sigv4_kv;

#define AUTH_MAX_SKEW_SECONDS (15 * 60)

/* auth_request.now: the current time is read from the clock. */
#define AUTH_NOW_CLOCK 0
/* auth_request.now: no clock-skew check at all (fixed-date test vectors only). */
#define AUTH_NOW_NO_SKEW_CHECK (-1)

struct auth_request {
    const char *method;           /* "GET", "POST", ... */
    const char *raw_path;         /* path as received, percent-encoded, without '?' */
    const struct sigv4_kv *query; /* decoded names/values (NULL value = valueless
                                   * "?status"), in the order received */
    size_t nquery;
    const struct sigv4_kv *headers; /* every header received, any case, repeats
                                     * as separate entries in received order */
    size_t nheaders;
    const void *body; /* the whole body (v4 payload hash); NULL if empty */
    size_t body_len;
    long long now; /* unix seconds to judge skew against, AUTH_NOW_CLOCK or
                    * AUTH_NOW_NO_SKEW_CHECK */
};

/* Verify req against the one key pair access_key/secret.
 * Returns 0 when signed by it; -EACCES when not (no or unknown Authorization,
 * other access key, bad signature, skewed or unparsable date, unsigned host,
 * body that does not match its declared hash, ...); -ENOMEM; -EIO if libcrypto
 * fails. err_set() says why, never echoing the secret or the expected
 * signature. Thread-safe. */
int auth_verify(const struct auth_request *req, const char *access_key, const char *secret);

/* The v2 string to sign for req, as RGW computes it (see above). malloc'd into
 * *out. Returns 0, -EACCES when a required part is missing or malformed
 * (no Date nor x-amz-date, Content-MD5 not base64), -ENOMEM. Exposed for
 * tests and debug logs. */
int auth_v2_string_to_sign(char **out, const struct auth_request *req);

/* Parse an RFC 2616 date (RFC 1123 with GMT/UTC/+hhmm, RFC 850, asctime)
 * into unix seconds. Returns 0 or -EINVAL. */
int auth_parse_http_date(const char *s, long long *out);

#endif
