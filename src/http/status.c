#include "status.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>

struct code_map {
    const char *code;
    int err;
    bool retryable;
};

/* S3 error codes whose meaning differs from their HTTP status class. */
static const struct code_map s3_codes[] = {
    {"SlowDown", -EAGAIN, true},
    {"RequestTimeout", -ETIMEDOUT, true},
    {"RequestTimeTooSkewed", -EAGAIN, true}, /* re-signed on the next attempt */
    {"InternalError", -EIO, true},
    {"ServiceUnavailable", -EAGAIN, true},
    {"OperationAborted", -EAGAIN, true},
    {"BadDigest", -EBADMSG, false},
    {"InvalidDigest", -EBADMSG, false},
    {"XAmzContentSHA256Mismatch", -EBADMSG, false},
    {"NoSuchKey", -ENOENT, false},
    {"NoSuchBucket", -ENOENT, false},
    {"NoSuchUpload", -ENOENT, false},
    {"PreconditionFailed", -ESTALE, false},
    {"BucketAlreadyOwnedByYou", -EEXIST, false},
    {"BucketAlreadyExists", -EEXIST, false},
    {"InvalidAccessKeyId", -EACCES, false},
    {"SignatureDoesNotMatch", -EACCES, false},
    {"AccessDenied", -EACCES, false},
    {"EntityTooSmall", -EINVAL, false},
    {"EntityTooLarge", -EFBIG, false},
    {"InvalidPart", -EINVAL, false},
    {"InvalidPartOrder", -EINVAL, false},
    {"InvalidRange", -ERANGE, false},
    {"NotImplemented", -EOPNOTSUPP, false},
};

static int curl_to_errno(int cc, bool *retryable)
{
    *retryable = true;
    switch ((CURLcode) cc) {
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return -ECONNRESET;
    case CURLE_ABORTED_BY_CALLBACK:
        *retryable = false;
        return -ECANCELED;
    case CURLE_OUT_OF_MEMORY:
        *retryable = false;
        return -ENOMEM;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
        *retryable = false;
        return -EPROTO;
    case CURLE_READ_ERROR:  /* our body source failed: its owner decides */
    case CURLE_WRITE_ERROR: /* our body sink refused: its owner decides */
        *retryable = false;
        return -EIO;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        *retryable = false;
        return -EINVAL;
    default:
        return -EIO;
    }
}

static int http_to_errno(long http, bool *retryable)
{
    *retryable = false;
    switch (http) {
    case 400:
    case 411:
        return -EINVAL;
    case 401:
    case 403:
        return -EACCES;
    case 404:
        return -ENOENT;
    case 405:
    case 501:
        return -EOPNOTSUPP;
    case 408:
        *retryable = true;
        return -ETIMEDOUT;
    case 409:
        return -EEXIST;
    case 412:
        return -ESTALE;
    case 416:
        return -ERANGE;
    case 429:
    case 503:
        *retryable = true;
        return -EAGAIN;
    case 507:
        *retryable = true;
        return -ENOSPC;
    default:
        if (http >= 500) {
            *retryable = true;
            return -EIO;
        }
        return -EPROTO;
    }
}

int status_to_errno(int curl_code, long http, const char *s3_code, bool *retryable)
{
    bool dummy;
    if (!retryable)
        retryable = &dummy;
    if (curl_code != CURLE_OK)
        return curl_to_errno(curl_code, retryable);
    if (http >= 200 && http < 300 && !s3_code) {
        *retryable = false;
        return 0;
    }
    if (s3_code) {
        for (size_t i = 0; i < sizeof(s3_codes) / sizeof(s3_codes[0]); i++) {
            if (strcmp(s3_code, s3_codes[i].code) == 0) {
                *retryable = s3_codes[i].retryable;
                return s3_codes[i].err;
            }
        }
    }
    if (http >= 200 && http < 300) { /* 200 carrying an unknown <Error> */
        *retryable = true;
        return -EIO;
    }
    if (http == 0) { /* no response at all but curl said OK: treat as a reset */
        *retryable = true;
        return -ECONNRESET;
    }
    return http_to_errno(http, retryable);
}
