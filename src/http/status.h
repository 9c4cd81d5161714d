/* The one place where transport and server outcomes become errno values.
 * Decisions (retry, give up, count as done) are made on the errno and the
 * retryable flag only, never on message text. */
#ifndef RGW2CLOUD_STATUS_H
#define RGW2CLOUD_STATUS_H

#include <stdbool.h>

/* Map one finished exchange to 0 or a negative errno.
 *   curl_code:  the CURLcode of the transfer (as int, 0 = CURLE_OK)
 *   http:       HTTP status (0 when no response arrived)
 *   s3_code:    <Error><Code> of the body, NULL if none
 * *retryable is set true for what may succeed when sent again unchanged
 * (timeouts, resets, 500/502/503/504, SlowDown, RequestTimeout, skew after
 * re-signing), false otherwise (403, 404, 400, TLS trust failures).
 * Mapping highlights: 403 -> -EACCES, 404 -> -ENOENT, 412 -> -ESTALE (the
 * source changed under If-Match), 409 -> -EEXIST, 503/429 -> -EAGAIN,
 * 5xx -> -EIO, BadDigest -> -EBADMSG, transport failures -> -ECONNRESET,
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH. */
int status_to_errno(int curl_code, long http, const char *s3_code, bool *retryable);

#endif
