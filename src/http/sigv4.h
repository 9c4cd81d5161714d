/* AWS Signature Version 4, our own (curl 7.88's mis-signs S3 requests).
 *
 * S3 rules (research/s3-client.md §3): the path is URI-encoded once, '/' kept,
 * no dot-segment normalisation; query names and values are encoded the same
 * way ('/', '+', '=', ' ' all encoded), sorted by encoded name then value, a
 * valueless key becomes "k="; header names lower-cased, values trimmed with
 * inner whitespace collapsed, sorted by name, duplicates merged with ','.
 * The request that is sent MUST use exactly the encoded path and query this
 * module produced, or the server computes another signature. */
#ifndef RGW2CLOUD_SIGV4_H
#define RGW2CLOUD_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sigv4_kv {
    const char *name;
    const char *value; /* query: NULL = valueless ("?uploads") */
};

struct sigv4_creds {
    const char *access_key;
    const char *secret;
    const char *region;  /* "us-east-1" when unset */
    const char *service; /* "s3" when unset */
};

struct sigv4_request {
    const char *method;           /* "GET", "PUT", ... */
    const char *path;             /* decoded, e.g. "/bucket/a b+c" ("" means "/"); MUST
                                   * start with '/' */
    const struct sigv4_kv *query; /* decoded names and values, any order */
    size_t nquery;
    const struct sigv4_kv *headers; /* every header to sign, any case/order: MUST
                                     * include host; x-amz-date and
                                     * x-amz-content-sha256 are signed if given and
                                     * MUST then equal amz_date / payload_hash;
                                     * repeated names are merged in given order;
                                     * no CR/LF in names or values */
    size_t nheaders;
    const char *amz_date;     /* "20130524T000000Z"; the scope date is its first 8 chars */
    const char *payload_hash; /* hex SHA-256 of the body or SIGV4_UNSIGNED_PAYLOAD */
    /* Non-S3 services only (test suites); S3: both false.
     * double_encode_path: the canonical request carries canonical_path
     * encoded a second time; canonical_path itself stays encoded once.
     * normalize_path: "." / ".." segments and empty segments are removed
     * from the decoded path first (a trailing '/' survives); canonical_path
     * is then the normalised path. */
    bool double_encode_path;
    bool normalize_path;
};

/* Everything the signer computed; heap strings, freed by sigv4_result_finish(). */
struct sigv4_result {
    char *canonical_path;    /* encoded path to send, e.g. "/bucket/a%20b%2Bc" */
    char *canonical_query;   /* sorted encoded query to send after '?', "" if none */
    char *canonical_request; /* for tests and debug logs */
    char *string_to_sign;
    char *signed_headers; /* "host;x-amz-content-sha256;x-amz-date" */
    char signature[65];   /* lower-case hex */
    char *authorization;  /* full value of the Authorization header */
};

/* Sign req with creds into *out (caller-owned storage, zeroed or finished).
 * Returns 0, -EINVAL on a malformed request (no host header, bad amz_date,
 * bad header name/value, x-amz-date or x-amz-content-sha256 header that
 * disagrees with the arguments, path without leading '/'), -ENOMEM, -EIO if
 * libcrypto fails; err_set() says which. On error *out holds nothing to free.
 * Thread-safe. */
int sigv4_sign(struct sigv4_result *out, const struct sigv4_request *req,
               const struct sigv4_creds *creds);

void sigv4_result_finish(struct sigv4_result *res); /* accepts zeroed/half-built */

/* AWS URI encoding: every byte except A-Za-z0-9-_.~ becomes %XX (upper hex);
 * '/' is kept when keep_slash. Returns a malloc'd string or NULL (ENOMEM). */
char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash);

/* Percent-decoding ("%2F" -> '/', '+' stays '+'). malloc'd, or NULL with
 * errno EINVAL if the input holds a bad escape ('%' not followed by two hex
 * digits, or "%00", which a C string cannot carry), ENOMEM. */
char *sigv4_uri_decode(const char *s, size_t len);

/* Lower-case hex SHA-256 of data into out[65]; "" only if libcrypto cannot
 * allocate. */
void sigv4_sha256_hex(char out[65], const void *data, size_t len);

/* "20130524T000000Z" for t (UTC) into out[17]; "" for years outside
 * 0000-9999 (sigv4_sign() rejects that). */
void sigv4_amz_date(char out[17], long long unix_seconds);

#endif
