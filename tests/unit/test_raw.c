/* Span bodies on plain http run on sockets of our own (http/raw.c). Through the s3 layer, as
 * the multipart parts use them: a GET's body lands in the caller's spans, a PUT's body is sent
 * from them with Content-Length; connections are kept and reused, and not reused after an
 * answer that cut the exchange short; errors come as curl's would (status, error document,
 * retryable); a paused body goes on after s3_call_unpause(). RGW2CLOUD_CURL_ONLY=1 puts the
 * same calls on curl, and so does a proxy in the environment (curl's business).
 *
 * An in-process HTTP/1.1 server on 127.0.0.1:0 answers each request by the test's script and
 * keeps what it received. */
#include "testlib.h"

#include "http/s3.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum how {
    ANSWER,       /* read the request (body too), answer, keep the connection */
    ANSWER_CLOSE, /* the same, then close without saying so */
    EARLY,        /* answer after the head, before the body, then close */
    TRUNCATE,     /* send the head and half the body, then close */
};

struct script {
    enum how how;
    const char *head; /* status line and headers, without the blank line */
    const char *body;
    size_t body_len;
};

#define MAXREQ 8

struct server {
    int lfd, port;
    struct script req[MAXREQ];
    int nreq, served;
    int accepted;
    char got_head[MAXREQ][4096];
    unsigned char *got_body[MAXREQ];
    size_t got_body_len[MAXREQ];
    pthread_t thr;
};

static size_t head_len_of(const char *buf, size_t n)
{
    const char *e = memmem(buf, n, "\r\n\r\n", 4);
    return e ? (size_t) (e - buf) + 4 : 0;
}

static uint64_t content_length(const char *head)
{
    const char *p = strcasestr(head, "\r\ncontent-length:");
    return p ? strtoull(p + 17, NULL, 10) : 0;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t) w;
    }
}

static void answer(int fd, const struct script *s, size_t body_len)
{
    char head[1024];
    int n = snprintf(head, sizeof(head), "%s\r\nContent-Length: %zu\r\n\r\n", s->head, body_len);
    write_all(fd, head, (size_t) n);
    /* the body apart, in two writes, as RGW writes head and body */
    size_t half = s->body_len / 2;
    write_all(fd, s->body, half);
    usleep(2000);
    if (s->how != TRUNCATE)
        write_all(fd, s->body + half, s->body_len - half);
}

/* one request on fd: 0 served and kept, 1 served and closed, -1 the client went */
static int serve_one(struct server *sv, int fd)
{
    int i = sv->served;
    char buf[8192];
    size_t have = 0, hl = 0;
    while (!(hl = head_len_of(buf, have))) {
        ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (r <= 0)
            return -1;
        have += (size_t) r;
    }
    if (i >= sv->nreq)
        return -1;
    memcpy(sv->got_head[i], buf, hl < sizeof(sv->got_head[i]) ? hl : sizeof(sv->got_head[i]) - 1);
    const struct script *s = &sv->req[i];
    uint64_t clen = content_length(sv->got_head[i]);
    sv->served++;
    if (s->how == EARLY) {
        answer(fd, s, s->body_len);
        /* a lingering close: no reset that could overtake the answer */
        shutdown(fd, SHUT_WR);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (poll(&p, 1, 2000) > 0 && recv(fd, buf, sizeof(buf), 0) > 0)
            ;
        return 1;
    }
    unsigned char *body = malloc(clen + 1);
    size_t got = have - hl;
    memcpy(body, buf + hl, got);
    while (got < clen) {
        ssize_t r = recv(fd, body + got, clen - got, 0);
        if (r <= 0)
            break;
        got += (size_t) r;
    }
    sv->got_body[i] = body;
    sv->got_body_len[i] = got;
    answer(fd, s, s->body_len);
    return s->how == ANSWER ? 0 : 1;
}

static void *serve(void *ud)
{
    struct server *sv = ud;
    while (sv->served < sv->nreq) {
        int fd = accept(sv->lfd, NULL, NULL);
        if (fd < 0)
            break;
        sv->accepted++;
        while (serve_one(sv, fd) == 0 && sv->served < sv->nreq)
            ;
        /* the last answer kept the connection: wait for the client to go */
        if (sv->served == sv->nreq && sv->req[sv->nreq - 1].how == ANSWER) {
            char c;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 2000) > 0)
                (void) !recv(fd, &c, 1, 0);
        }
        close(fd);
    }
    return NULL;
}

static void server_start(struct server *sv)
{
    sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    (void) bind(sv->lfd, (struct sockaddr *) &a, sizeof(a));
    (void) listen(sv->lfd, 8);
    socklen_t l = sizeof(a);
    (void) getsockname(sv->lfd, (struct sockaddr *) &a, &l);
    sv->port = ntohs(a.sin_port);
    (void) pthread_create(&sv->thr, NULL, serve, sv);
}

static void server_stop(struct server *sv)
{
    shutdown(sv->lfd, SHUT_RDWR);
    (void) pthread_join(sv->thr, NULL);
    close(sv->lfd);
}

static void server_free(struct server *sv)
{
    for (int i = 0; i < MAXREQ; i++)
        free(sv->got_body[i]);
}

/* ------------------------------------------------------------ the caller's spans */

struct buf {
    unsigned char *p;
    size_t cap, len, off;
    size_t piece; /* at most this much per span */
    int pauses;   /* answer "none now" this many times first */
    int paused;   /* times it did */
    struct s3_call *call;
    struct loop *loop;
    struct loop_timer t;
};

static void buf_unpause(void *ud)
{
    struct buf *b = ud;
    s3_call_unpause(b->call);
}

static size_t sink_span(void *ud, char **p)
{
    struct buf *b = ud;
    if (b->pauses > 0) {
        b->pauses--;
        b->paused++;
        loop_timer_arm(b->loop, &b->t, 5, buf_unpause, b);
        return 0;
    }
    if (b->len == b->cap)
        return S3_SPAN_ABORT;
    *p = (char *) b->p + b->len;
    size_t n = b->cap - b->len;
    return n < b->piece ? n : b->piece;
}

static size_t source_span(void *ud, const char **p)
{
    struct buf *b = ud;
    if (b->pauses > 0) {
        b->pauses--;
        b->paused++;
        loop_timer_arm(b->loop, &b->t, 5, buf_unpause, b);
        return 0;
    }
    *p = (const char *) b->p + b->off;
    size_t n = b->len - b->off;
    return n < b->piece ? n : b->piece;
}

static void sink_commit(void *ud, size_t n)
{
    ((struct buf *) ud)->len += n;
}

static void source_commit(void *ud, size_t n)
{
    ((struct buf *) ud)->off += n;
}

static size_t never_write(void *ud, const char *p, size_t n)
{
    (void) ud, (void) p, (void) n;
    return 0; /* the curl path is not taken where spans run */
}

static size_t curl_write(void *ud, const char *p, size_t n)
{
    struct buf *b = ud;
    if (b->len + n > b->cap)
        return 0;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return n;
}

static size_t never_read(void *ud, char *p, size_t n)
{
    (void) ud, (void) p, (void) n;
    return S3_READ_ABORT;
}

struct fixture {
    struct server sv;
    struct loop *loop;
    struct s3_client *c;
};

static void fixture_start(struct fixture *f, const struct script *req, int nreq)
{
    memset(f, 0, sizeof(*f));
    memcpy(f->sv.req, req, (size_t) nreq * sizeof(*req));
    f->sv.nreq = nreq;
    server_start(&f->sv);
    (void) loop_new(&f->loop, NULL);
    char url[64];
    (void) snprintf(url, sizeof(url), "http://127.0.0.1:%d", f->sv.port);
    struct s3_endpoint ep = {.url = url, .access_key = "AK", .secret = "SK", .region = "r"};
    CHECK_INT(s3_client_new(&f->c, f->loop, &ep), 0);
    s3_client_set_retries(f->c, 0);
}

static void fixture_stop(struct fixture *f)
{
    s3_client_free(f->c);
    loop_free(f->loop);
    server_stop(&f->sv);
}

static void buf_init(struct buf *b, struct fixture *f, struct s3_call *call, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->p = malloc(cap);
    b->cap = cap;
    b->piece = cap;
    b->call = call;
    b->loop = f->loop;
}

static int get_spans(struct fixture *f, struct s3_call *call, struct buf *b)
{
    s3_call_init(call);
    (void) s3_get_object_prepare(call, "b", "k", 0, b->cap - 1, "\"e\"", never_write, b);
    s3_call_spans(call, sink_span, NULL, sink_commit, b);
    return s3_call_run(f->c, call);
}

/* A GET with both bodies: spans where raw.c runs it, curl_write where curl does. */
static int get_either(struct fixture *f, struct s3_call *call, struct buf *b)
{
    s3_call_init(call);
    (void) s3_get_object_prepare(call, "b", "k", 0, b->cap - 1, NULL, curl_write, b);
    s3_call_spans(call, sink_span, NULL, sink_commit, b);
    return s3_call_run(f->c, call);
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char) ((i * 131u + seed) >> 3);
    return p;
}

static void test_raw__a_get_lands_in_the_spans_and_the_connection_is_kept(void)
{
    size_t n = 300000;
    unsigned char *data = pattern(n, 7);
    struct script req[] = {
        {ANSWER, "HTTP/1.1 206 Partial Content\r\nETag: \"e\"", (const char *) data, n},
        {ANSWER, "HTTP/1.1 206 Partial Content\r\nETag: \"e\"", (const char *) data, n},
    };
    struct fixture f;
    fixture_start(&f, req, 2);
    for (int i = 0; i < 2; i++) {
        struct s3_call call;
        struct buf b;
        buf_init(&b, &f, &call, n);
        b.piece = 10000 + (size_t) i * 50000; /* many spans, of two sizes */
        b.pauses = 2;
        CHECK_INT(get_spans(&f, &call, &b), 0);
        CHECK_INT(call.status, 206);
        CHECK_INT(b.len, n);
        CHECK(memcmp(b.p, data, n) == 0);
        CHECK_INT(call.bytes_received, n);
        CHECK_INT(b.paused, 2); /* paused twice, unpaused by s3_call_unpause */
        CHECK_STR(s3_call_resp_header(&call, "etag"), "\"e\"");
        CHECK(!b.t.armed); /* no unpause pending past the end */
        s3_call_finish(&call);
        free(b.p);
    }
    fixture_stop(&f);
    CHECK_INT(f.sv.accepted, 1); /* the second GET on the first one's connection */
    CHECK(strncmp(f.sv.got_head[0], "GET /b/k HTTP/1.1\r\n", 19) == 0);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nHost: 127.0.0.1:") != NULL);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nRange: bytes=0-299999\r\n") != NULL);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nIf-Match: \"e\"\r\n") != NULL);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nAuthorization: AWS4-HMAC-SHA256 ") != NULL);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nContent-Length:") == NULL);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nAccept:") == NULL); /* curl would add it */
    free(data);
    server_free(&f.sv);
}

static void test_raw__a_put_sends_the_spans_with_their_length(void)
{
    size_t n = (1u << 20) + 17;
    unsigned char *data = pattern(n, 3);
    struct script req[] = {{ANSWER, "HTTP/1.1 200 OK\r\nETag: \"x\"", "", 0}};
    struct fixture f;
    fixture_start(&f, req, 1);
    struct s3_call call;
    struct buf b;
    buf_init(&b, &f, &call, n);
    memcpy(b.p, data, n);
    b.len = n;
    b.piece = 70000;
    b.pauses = 1;
    s3_call_init(&call);
    (void) s3_put_object_prepare(&call, "b", "k", never_read, &b, n);
    s3_call_spans(&call, NULL, source_span, source_commit, &b);
    CHECK_INT(s3_call_run(f.c, &call), 0);
    CHECK_INT(call.status, 200);
    CHECK_INT(call.bytes_sent, n);
    CHECK_INT(b.off, n);
    CHECK_INT(b.paused, 1);
    CHECK_STR(s3_call_resp_header(&call, "etag"), "\"x\"");
    s3_call_finish(&call);
    fixture_stop(&f);
    CHECK(strncmp(f.sv.got_head[0], "PUT /b/k HTTP/1.1\r\n", 19) == 0);
    CHECK_INT(content_length(f.sv.got_head[0]), n);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n") != NULL);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nExpect:") == NULL);
    CHECK_INT(f.sv.got_body_len[0], n);
    CHECK(f.sv.got_body_len[0] == n && memcmp(f.sv.got_body[0], data, n) == 0);
    free(b.p);
    free(data);
    server_free(&f.sv);
}

static void test_raw__an_early_error_ends_the_put_and_its_connection(void)
{
    static const char err[] = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>"
                              "<Message>no</Message><RequestId>rq1</RequestId></Error>";
    size_t n = 64u << 20;
    struct script req[] = {
        {EARLY, "HTTP/1.1 403 Forbidden", err, sizeof(err) - 1},
        {ANSWER, "HTTP/1.1 200 OK\r\nETag: \"y\"", "", 0},
    };
    struct fixture f;
    fixture_start(&f, req, 2);
    struct s3_call call;
    struct buf b;
    buf_init(&b, &f, &call, n);
    memset(b.p, 'a', n);
    b.len = n;
    b.piece = 4096; /* slow enough that the answer comes first */
    s3_call_init(&call);
    (void) s3_put_object_prepare(&call, "b", "k", never_read, &b, n);
    s3_call_spans(&call, NULL, source_span, source_commit, &b);
    CHECK(s3_call_run(f.c, &call) < 0);
    CHECK_INT(call.status, 403);
    CHECK(call.detail && strstr(call.detail, "AccessDenied") && strstr(call.detail, "rq1"));
    CHECK(!call.retryable);
    CHECK(b.off < n);
    s3_call_finish(&call);
    free(b.p);
    /* the next call: a new connection (the cut one is not reused) */
    buf_init(&b, &f, &call, 10);
    memset(b.p, 'b', 10);
    b.len = 10;
    s3_call_init(&call);
    (void) s3_put_object_prepare(&call, "b", "k2", never_read, &b, 10);
    s3_call_spans(&call, NULL, source_span, source_commit, &b);
    CHECK_INT(s3_call_run(f.c, &call), 0);
    s3_call_finish(&call);
    free(b.p);
    fixture_stop(&f);
    CHECK_INT(f.sv.accepted, 2);
    CHECK_INT(f.sv.got_body_len[1], 10);
    server_free(&f.sv);
}

static void test_raw__errors_come_as_curls_do(void)
{
    static const char nsk[] = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
    static const char part[] = "0123456789";
    struct script req[] = {
        {ANSWER, "HTTP/1.1 404 Not Found", nsk, sizeof(nsk) - 1},
        {TRUNCATE, "HTTP/1.1 206 Partial Content", part, 10},
        {ANSWER_CLOSE, "HTTP/1.1 503 Slow Down", "", 0},
    };
    struct fixture f;
    fixture_start(&f, req, 3);
    struct s3_call call;
    struct buf b;

    buf_init(&b, &f, &call, 10);
    CHECK_INT(get_spans(&f, &call, &b), -ENOENT);
    CHECK_INT(call.status, 404);
    CHECK(call.detail && strstr(call.detail, "NoSuchKey"));
    CHECK_INT(b.len, 0); /* an error document is not the object's bytes */
    s3_call_finish(&call);
    free(b.p);

    buf_init(&b, &f, &call, 10);
    CHECK(get_spans(&f, &call, &b) < 0); /* 5 of 10 bytes, then the end */
    CHECK(call.retryable);
    CHECK_INT(b.len, 5);
    s3_call_finish(&call);
    free(b.p);

    buf_init(&b, &f, &call, 10);
    CHECK(get_spans(&f, &call, &b) < 0);
    CHECK_INT(call.status, 503);
    CHECK(call.retryable);
    s3_call_finish(&call);
    free(b.p);
    fixture_stop(&f);
    CHECK_INT(f.sv.accepted, 2); /* the truncated answer's connection is not reused */
    server_free(&f.sv);
}

static void test_raw__a_connection_the_server_closed_is_not_reused(void)
{
    static const char ok[] = "ab";
    struct script req[] = {
        {ANSWER_CLOSE, "HTTP/1.1 206 Partial Content", ok, 2}, /* closes without a word */
        {ANSWER, "HTTP/1.1 206 Partial Content", ok, 2},
    };
    struct fixture f;
    fixture_start(&f, req, 2);
    for (int i = 0; i < 2; i++) {
        struct s3_call call;
        struct buf b;
        buf_init(&b, &f, &call, 2);
        if (i == 1)
            usleep(20000); /* the close has arrived */
        CHECK_INT(get_spans(&f, &call, &b), 0);
        CHECK_INT(b.len, 2);
        s3_call_finish(&call);
        free(b.p);
    }
    fixture_stop(&f);
    CHECK_INT(f.sv.accepted, 2);
    server_free(&f.sv);
}

static void test_raw__curl_only_sends_the_same_calls_through_curl(void)
{
    static const char body[] = "0123456789";
    struct script req[] = {{ANSWER, "HTTP/1.1 206 Partial Content", body, 10}};
    setenv("RGW2CLOUD_CURL_ONLY", "1", 1);
    struct fixture f;
    fixture_start(&f, req, 1);
    unsetenv("RGW2CLOUD_CURL_ONLY");
    struct s3_call call;
    struct buf b;
    buf_init(&b, &f, &call, 10);
    CHECK_INT(get_either(&f, &call, &b), 0);
    CHECK_INT(b.len, 10);
    CHECK(memcmp(b.p, body, 10) == 0);
    s3_call_finish(&call);
    free(b.p);
    fixture_stop(&f);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nAccept: */*\r\n") != NULL); /* curl's */
    server_free(&f.sv);
}

static void test_raw__an_answer_it_does_not_read_sends_the_client_to_curl(void)
{
    static const char body[] = "0123456789";
    struct script req[] = {
        {ANSWER_CLOSE, "HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked", "", 0},
        {ANSWER, "HTTP/1.1 206 Partial Content", body, 10},
    };
    struct fixture f;
    fixture_start(&f, req, 2);
    struct s3_call call;
    struct buf b;
    buf_init(&b, &f, &call, 10);
    CHECK(get_spans(&f, &call, &b) < 0); /* failed, and may be sent again */
    CHECK(call.retryable);
    s3_call_finish(&call);
    free(b.p);
    buf_init(&b, &f, &call, 10);
    CHECK_INT(get_either(&f, &call, &b), 0);
    CHECK_INT(b.len, 10);
    s3_call_finish(&call);
    free(b.p);
    fixture_stop(&f);
    CHECK(strcasestr(f.sv.got_head[0], "\r\nAccept:") == NULL);
    CHECK(strcasestr(f.sv.got_head[1], "\r\nAccept: */*\r\n") != NULL); /* curl's */
    server_free(&f.sv);
}

static void test_raw__a_proxy_from_the_environment_keeps_curl(void)
{
    static const char body[] = "0123456789";
    struct script req[] = {{ANSWER, "HTTP/1.1 206 Partial Content", body, 10}};
    struct fixture f;
    memset(&f, 0, sizeof(f));
    memcpy(f.sv.req, req, sizeof(req));
    f.sv.nreq = 1;
    server_start(&f.sv);
    /* the test server is its own proxy: curl's request names the origin */
    char proxy[64];
    (void) snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", f.sv.port);
    setenv("http_proxy", proxy, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    (void) loop_new(&f.loop, NULL);
    struct s3_endpoint ep = {.url = "http://127.0.0.2:9", .access_key = "AK", .secret = "SK"};
    CHECK_INT(s3_client_new(&f.c, f.loop, &ep), 0);
    s3_client_set_retries(f.c, 0);
    struct s3_call call;
    struct buf b;
    buf_init(&b, &f, &call, 10);
    CHECK_INT(get_either(&f, &call, &b), 0);
    unsetenv("http_proxy");
    CHECK_INT(b.len, 10);
    s3_call_finish(&call);
    free(b.p);
    fixture_stop(&f);
    CHECK(strncmp(f.sv.got_head[0], "GET http://127.0.0.2:9/b/k HTTP/1.1\r\n", 37) == 0);
    server_free(&f.sv);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_raw__a_get_lands_in_the_spans_and_the_connection_is_kept);
    RUN(test_raw__a_put_sends_the_spans_with_their_length);
    RUN(test_raw__an_early_error_ends_the_put_and_its_connection);
    RUN(test_raw__errors_come_as_curls_do);
    RUN(test_raw__a_connection_the_server_closed_is_not_reused);
    RUN(test_raw__curl_only_sends_the_same_calls_through_curl);
    RUN(test_raw__a_proxy_from_the_environment_keeps_curl);
    RUN(test_raw__an_answer_it_does_not_read_sends_the_client_to_curl);
    curl_global_cleanup();
    return t_done();
}
