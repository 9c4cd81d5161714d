/* status_to_errno: the one mapping from transport/HTTP/S3 outcomes to errno. */
#include "testlib.h"

#include "http/status.h"

#include <curl/curl.h>
#include <errno.h>

static void test_status__success_is_zero(void)
{
    bool retry = true;
    CHECK_INT(status_to_errno(CURLE_OK, 200, NULL, &retry), 0);
    CHECK(!retry);
    CHECK_INT(status_to_errno(CURLE_OK, 204, NULL, &retry), 0);
    CHECK_INT(status_to_errno(CURLE_OK, 206, NULL, &retry), 0);
}

static void test_status__200_with_error_document_fails(void)
{
    bool retry = false;
    CHECK_INT(status_to_errno(CURLE_OK, 200, "InternalError", &retry), -EIO);
    CHECK(retry);
    CHECK_INT(status_to_errno(CURLE_OK, 200, "SomethingNew", &retry), -EIO);
    CHECK(retry);
    CHECK_INT(status_to_errno(CURLE_OK, 200, "InvalidPart", &retry), -EINVAL);
    CHECK(!retry);
}

static void test_status__retryable_server_errors(void)
{
    bool retry = false;
    CHECK_INT(status_to_errno(CURLE_OK, 503, "SlowDown", &retry), -EAGAIN);
    CHECK(retry);
    retry = false;
    CHECK_INT(status_to_errno(CURLE_OK, 500, NULL, &retry), -EIO);
    CHECK(retry);
    retry = false;
    CHECK_INT(status_to_errno(CURLE_OK, 502, NULL, &retry), -EIO);
    CHECK(retry);
    retry = false;
    CHECK_INT(status_to_errno(CURLE_OK, 400, "RequestTimeout", &retry), -ETIMEDOUT);
    CHECK(retry);
    retry = false;
    CHECK_INT(status_to_errno(CURLE_OK, 429, NULL, &retry), -EAGAIN);
    CHECK(retry);
}

static void test_status__client_errors_are_final(void)
{
    bool retry = true;
    CHECK_INT(status_to_errno(CURLE_OK, 403, "AccessDenied", &retry), -EACCES);
    CHECK(!retry);
    retry = true;
    CHECK_INT(status_to_errno(CURLE_OK, 403, "SignatureDoesNotMatch", &retry), -EACCES);
    CHECK(!retry);
    retry = true;
    CHECK_INT(status_to_errno(CURLE_OK, 403, NULL, &retry), -EACCES);
    CHECK(!retry);
    CHECK_INT(status_to_errno(CURLE_OK, 404, NULL, &retry), -ENOENT);
    CHECK_INT(status_to_errno(CURLE_OK, 404, "NoSuchUpload", &retry), -ENOENT);
    CHECK_INT(status_to_errno(CURLE_OK, 412, NULL, &retry), -ESTALE);
    CHECK_INT(status_to_errno(CURLE_OK, 409, "BucketAlreadyOwnedByYou", &retry), -EEXIST);
    CHECK_INT(status_to_errno(CURLE_OK, 400, "BadDigest", &retry), -EBADMSG);
    CHECK(!retry);
    CHECK_INT(status_to_errno(CURLE_OK, 416, NULL, &retry), -ERANGE);
    CHECK_INT(status_to_errno(CURLE_OK, 400, "EntityTooSmall", &retry), -EINVAL);
}

static void test_status__transport_failures(void)
{
    bool retry = false;
    CHECK_INT(status_to_errno(CURLE_OPERATION_TIMEDOUT, 0, NULL, &retry), -ETIMEDOUT);
    CHECK(retry);
    retry = false;
    CHECK_INT(status_to_errno(CURLE_RECV_ERROR, 0, NULL, &retry), -ECONNRESET);
    CHECK(retry);
    retry = false;
    CHECK_INT(status_to_errno(CURLE_GOT_NOTHING, 0, NULL, &retry), -ECONNRESET);
    CHECK(retry);
    retry = false;
    CHECK_INT(status_to_errno(CURLE_COULDNT_CONNECT, 0, NULL, &retry), -ECONNREFUSED);
    CHECK(retry);
    retry = true;
    CHECK_INT(status_to_errno(CURLE_PEER_FAILED_VERIFICATION, 0, NULL, &retry), -EPROTO);
    CHECK(!retry);
    retry = true;
    CHECK_INT(status_to_errno(CURLE_ABORTED_BY_CALLBACK, 0, NULL, &retry), -ECANCELED);
    CHECK(!retry);
    /* a transport failure wins over whatever status was seen before it */
    CHECK_INT(status_to_errno(CURLE_PARTIAL_FILE, 200, NULL, &retry), -ECONNRESET);
    CHECK(retry);
}

int main(void)
{
    RUN(test_status__success_is_zero);
    RUN(test_status__200_with_error_document_fails);
    RUN(test_status__retryable_server_errors);
    RUN(test_status__client_errors_are_final);
    RUN(test_status__transport_failures);
    return t_done();
}
