/* faultproxy: an HTTP/1.1 forwarding proxy between rgw2cloud and the lab's
 * target radosgw, for what a real server cannot be made to do on demand:
 * answer 503 SlowDown or 500 InternalError, reset the connection in the
 * middle of a request body, or stall. It also counts, per S3 operation
 * (s3op.h), the requests and the request-body bytes it actually sent upstream.
 *
 *   faultproxy --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT
 *              [--rules FILE] [--stats FILE]
 *
 * PORT 0 for --listen picks a free port; the first stdout line is "port N".
 * Both addresses MUST be loopback: this is a test fake, never a service.
 * SIGTERM (or SIGINT) writes the stats file once more and exits 0.
 *
 * Forwarding is byte for byte (the Host header too: the client signed for
 * the proxy's host:port and radosgw recomputes the signature over the Host
 * it receives), keep-alive on both sides, one thread and one upstream
 * connection per client connection, bodies streamed (wire.h). Expect:
 * 100-continue works: the 100 comes from upstream.
 *
 * Counters, per operation:
 *   requests  requests whose head was forwarded upstream
 *   bytes     request-body bytes sent upstream; a cut counts only what went
 *   injected  requests a rule fired on
 *   peak      the most requests in the proxy at once (from their head to
 *             the end of their answer, injected ones too); a reset starts it
 *             at the number in the proxy then
 * The stats file (--stats) is rewritten atomically (tmp + rename) whenever a
 * request starts, ends, is injected, and on reset; between those the bytes of
 * a body in flight are only in memory (GET /__faultproxy/stats sees them).
 *
 * Control requests (never forwarded, never counted):
 *   GET  /__faultproxy/stats   the counters as JSON
 *   GET  /__faultproxy/rules   the rules in force, as last loaded
 *   POST /__faultproxy/rules   replace the rules (rules.h), restarting their
 *                              counts and PRNGs; a bad body answers 400 and
 *                              keeps the old ones
 *   POST /__faultproxy/reset   zero the counters
 *
 * What the actions do:
 *   503, 500  the request body is read and dropped (after our own 100
 *             Continue when the client expects one), then an S3 XML error is
 *             answered on the still usable connection; nothing goes upstream
 *   reset     the head and the first after_bytes body bytes go upstream,
 *             then the client connection is closed with RST (SO_LINGER 0);
 *             after_bytes >= the body length sends the whole request and
 *             cuts before the answer: the server did it, the client cannot know
 *   stall     wait stall_ms, then forward as usual; stall_ms 0 never answers
 *             (the client must time out)
 *   corrupt   forward as usual, but the body byte at offset after_bytes goes
 *             upstream inverted: the server stores other bytes than the
 *             client sent (what a checksum must catch) */
#include "rules.h"
#include "s3op.h"
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS        256        /* client connections at once; more are refused */
#define MAX_CONTROL_BODY (1u << 20) /* rules bodies and files */
#define CONTROL_PREFIX   "/__faultproxy/"

struct opstat {
    uint64_t requests, bytes, injected;
    uint64_t inflight, peak; /* requests in the proxy now, and the most at once */
};

struct proxy {
    pthread_mutex_t lock; /* guards the fields up to conns */
    struct opstat st[OP_COUNT];
    struct ruleset rules;
    uint64_t seq; /* request ids of our own answers */
    int conns;
    /* immutable after start */
    const char *stats_path;
    char *stats_tmp;
    struct sockaddr_in upstream;
};

struct conn {
    struct proxy *px;
    struct sock client, up;
    char head[WIRE_BUF_SIZE + 1]; /* the message head being handled, NUL-terminated */
    size_t head_len;
    char target[8192];
    char host[256];
    int op; /* of the request being forwarded */
};

/* ---- small helpers */

/* "127.x.y.z:PORT" into *sa; the address MUST be IPv4 loopback. */
static int parse_loopback(const char *s, bool port0_ok, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    uint64_t port = 0;
    if (!colon || (size_t) (colon - s) >= sizeof(host) || !parse_u64(colon + 1, &port) ||
        port > 65535 || (port == 0 && !port0_ok))
        return -1;
    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = '\0';
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 || (ntohl(sa->sin_addr.s_addr) >> 24) != 127)
        return -1;
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void set_nodelay(int fd)
{
    int one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Close with RST instead of FIN: the peer sees "connection reset". */
static void close_rst(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    (void) close(fd);
}

/* ---- stats and rules, under px->lock */

/* The counters as JSON into out; the caller holds px->lock. */
static size_t stats_json(const struct proxy *px, char *out, size_t cap)
{
    size_t o = 0;
    o += (size_t) snprintf(out, cap, "{");
    for (int i = 0; i < OP_COUNT && o < cap; i++)
        o += (size_t) snprintf(out + o, cap - o,
                               "%s\"%s\":{\"requests\":%" PRIu64 ",\"bytes\":%" PRIu64
                               ",\"injected\":%" PRIu64 ",\"peak\":%" PRIu64 "}",
                               i ? "," : "", op_names[i], px->st[i].requests, px->st[i].bytes,
                               px->st[i].injected, px->st[i].peak);
    if (o < cap)
        o += (size_t) snprintf(out + o, cap - o, "}\n");
    return o < cap ? o : cap - 1;
}

/* Rewrite the stats file; the caller holds px->lock (which also keeps two
 * writers off the one tmp file). */
static void stats_flush(const struct proxy *px)
{
    if (!px->stats_path)
        return;
    char json[4096];
    size_t n = stats_json(px, json, sizeof(json));
    FILE *f = fopen(px->stats_tmp, "w");
    if (!f) {
        fprintf(stderr, "faultproxy: %s: %s\n", px->stats_tmp, strerror(errno));
        return;
    }
    bool ok = fwrite(json, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(px->stats_tmp, px->stats_path) < 0) {
        fprintf(stderr, "faultproxy: cannot write %s\n", px->stats_path);
        (void) unlink(px->stats_tmp);
    }
}

static void stats_add(struct proxy *px, int op, uint64_t requests, uint64_t bytes,
                      uint64_t injected, bool flush)
{
    pthread_mutex_lock(&px->lock);
    px->st[op].requests += requests;
    px->st[op].bytes += bytes;
    px->st[op].injected += injected;
    if (flush)
        stats_flush(px);
    pthread_mutex_unlock(&px->lock);
}

/* A request of op enters (+1) or leaves (-1) the proxy. */
static void stats_inflight(struct proxy *px, int op, int delta)
{
    pthread_mutex_lock(&px->lock);
    px->st[op].inflight += (uint64_t) (int64_t) delta;
    if (px->st[op].inflight > px->st[op].peak)
        px->st[op].peak = px->st[op].inflight;
    pthread_mutex_unlock(&px->lock);
}

/* wire.h's byte counter: body bytes of the request in hand went upstream. */
static void conn_count(void *ud, uint64_t n)
{
    struct conn *c = ud;
    stats_add(c->px, c->op, 0, n, 0, false);
}

/* The rule that fires on this request, if any: a copy in *hit. */
static void rules_pick(struct proxy *px, int op, struct rule *hit)
{
    hit->action = ACT_NONE;
    pthread_mutex_lock(&px->lock);
    if (ruleset_pick(&px->rules, op, hit)) {
        px->st[op].injected++;
        stats_flush(px);
    }
    pthread_mutex_unlock(&px->lock);
}

/* Parse text and, only when all of it is good, replace px's rules. */
static int rules_load(struct proxy *px, const char *text, size_t len, char *err, size_t errcap)
{
    struct ruleset rs;
    if (ruleset_parse(&rs, text, len, err, errcap) < 0)
        return -1;
    pthread_mutex_lock(&px->lock);
    struct ruleset old = px->rules;
    px->rules = rs;
    pthread_mutex_unlock(&px->lock);
    ruleset_finish(&old);
    return 0;
}

/* ---- our own answers */

static int send_answer(struct conn *c, const struct msg *req, const char *status_line,
                       const char *ctype, const char *body, size_t len, bool keep)
{
    char head[512];
    uint64_t id;
    pthread_mutex_lock(&c->px->lock);
    id = ++c->px->seq;
    pthread_mutex_unlock(&c->px->lock);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "x-amz-request-id: faultproxy-%" PRIu64 "\r\nConnection: %s\r\n\r\n",
                     status_line, ctype, len, id, keep ? "keep-alive" : "close");
    if (send_all(c->client.fd, head, (size_t) n) < 0)
        return -1;
    if (strcmp(req->method, "HEAD") != 0 && len > 0 && send_all(c->client.fd, body, len) < 0)
        return -1;
    return 0;
}

static int send_s3_error(struct conn *c, const struct msg *req, const char *status_line,
                         const char *code, const char *message, bool keep)
{
    char path[1024];
    size_t o = 0;
    for (const char *p = c->target; *p && *p != '?' && o + 8 < sizeof(path); p++) {
        const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;
        if (e) {
            memcpy(path + o, e, strlen(e));
            o += strlen(e);
        } else {
            path[o++] = *p;
        }
    }
    path[o] = '\0';
    char body[2048];
    int n = snprintf(body, sizeof(body),
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                     "<Message>%s (faultproxy)</Message><Resource>%s</Resource></Error>\n",
                     code, message, path);
    return send_answer(c, req, status_line, "application/xml", body, (size_t) n, keep);
}

/* Read and drop the request body. */
static int drop_body(struct conn *c, const struct msg *req)
{
    struct fwd f = {.fd = -1, .budget = UINT64_MAX, .flip_at = UINT64_MAX};
    if (req->chunked)
        return relay_chunked(&c->client, &f);
    return req->has_length ? relay_fixed(&c->client, &f, req->length) : RELAY_OK;
}

/* ---- control endpoints */

static bool control(struct conn *c, const struct msg *req)
{
    struct proxy *px = c->px;
    bool keep = !req->close;
    const char *path = c->target + strlen(CONTROL_PREFIX);
    if (req->chunked || (req->has_length && req->length > MAX_CONTROL_BODY)) {
        (void) send_answer(c, req, "413 Payload Too Large", "text/plain", "", 0, false);
        return false;
    }
    if (req->expect && msg_has_body(req) &&
        send_all(c->client.fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
        return false;
    size_t blen = req->has_length ? (size_t) req->length : 0;
    char *body = malloc(blen + 1);
    if (!body)
        return false;
    size_t got = 0;
    while (got < blen) {
        if (c->client.off == c->client.len && sock_fill(&c->client) <= 0) {
            free(body);
            return false;
        }
        size_t k = c->client.len - c->client.off;
        k = k < blen - got ? k : blen - got;
        memcpy(body + got, c->client.buf + c->client.off, k);
        c->client.off += k;
        got += k;
    }
    body[blen] = '\0';

    int rc;
    char out[4096];
    if (strcmp(path, "stats") == 0 && strcmp(req->method, "GET") == 0) {
        pthread_mutex_lock(&px->lock);
        size_t n = stats_json(px, out, sizeof(out));
        pthread_mutex_unlock(&px->lock);
        rc = send_answer(c, req, "200 OK", "application/json", out, n, keep);
    } else if (strcmp(path, "reset") == 0 && strcmp(req->method, "POST") == 0) {
        pthread_mutex_lock(&px->lock);
        for (int i = 0; i < OP_COUNT; i++) {
            uint64_t now = px->st[i].inflight;
            memset(&px->st[i], 0, sizeof(px->st[i]));
            px->st[i].inflight = px->st[i].peak = now;
        }
        stats_flush(px);
        size_t n = stats_json(px, out, sizeof(out));
        pthread_mutex_unlock(&px->lock);
        rc = send_answer(c, req, "200 OK", "application/json", out, n, keep);
    } else if (strcmp(path, "rules") == 0 && strcmp(req->method, "POST") == 0) {
        char err[512];
        if (rules_load(px, body, blen, err, sizeof(err)) == 0) {
            rc = send_answer(c, req, "200 OK", "text/plain", "ok\n", 3, keep);
        } else {
            size_t n = strlen(err);
            err[n++] = '\n';
            rc = send_answer(c, req, "400 Bad Request", "text/plain", err, n, keep);
        }
    } else if (strcmp(path, "rules") == 0 && strcmp(req->method, "GET") == 0) {
        pthread_mutex_lock(&px->lock);
        char *text = strdup(px->rules.text ? px->rules.text : "[]");
        pthread_mutex_unlock(&px->lock);
        rc =
            text ? send_answer(c, req, "200 OK", "application/json", text, strlen(text), keep) : -1;
        free(text);
    } else {
        rc = send_answer(c, req, "404 Not Found", "text/plain", "no such control\n", 16, keep);
    }
    free(body);
    return rc == 0 && keep;
}

/* ---- forwarding */

static void up_close(struct conn *c)
{
    if (c->up.fd >= 0)
        (void) close(c->up.fd);
    c->up.fd = -1;
    c->up.off = c->up.len = 0;
}

/* An upstream connection that is not known to be dead: a kept one is reused
 * unless the server has closed it (readable while idle). */
static int up_ready(struct conn *c)
{
    if (c->up.fd >= 0) {
        struct pollfd p = {.fd = c->up.fd, .events = POLLIN};
        if (c->up.off != c->up.len || poll(&p, 1, 0) != 0)
            up_close(c);
    }
    if (c->up.fd >= 0)
        return 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *) &c->px->upstream, sizeof(c->px->upstream)) < 0) {
        (void) close(fd);
        return -1;
    }
    set_nodelay(fd);
    c->up.fd = fd;
    return 0;
}

/* The rest of upstream's answer to req, whose head is in c->head: the body
 * per its framing. *keep says whether both connections may carry on. */
static int forward_response_body(struct conn *c, const struct msg *req, const struct msg *resp,
                                 bool *keep)
{
    struct fwd f = {.fd = c->client.fd, .budget = UINT64_MAX, .flip_at = UINT64_MAX};
    *keep = !req->close && !resp->close;
    if (strcmp(req->method, "HEAD") == 0 || resp->status / 100 == 1 || resp->status == 204 ||
        resp->status == 304)
        return RELAY_OK;
    if (resp->chunked)
        return relay_chunked(&c->up, &f);
    if (resp->has_length)
        return relay_fixed(&c->up, &f, resp->length);
    *keep = false;
    return relay_until_close(&c->up, &f);
}

/* Wait, after forwarding a head with Expect: 100-continue, until upstream
 * answers or the client starts its body anyway (curl waits 1 s for the 100).
 * 1: go on with the body; 0: upstream gave a final answer, forwarded, the
 * connections must close; -1: failure. */
static int await_continue(struct conn *c, const struct msg *req)
{
    for (;;) {
        if (c->client.off != c->client.len)
            return 1;
        struct pollfd p[2] = {{.fd = c->up.fd, .events = POLLIN},
                              {.fd = c->client.fd, .events = POLLIN}};
        if (c->up.off == c->up.len && poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (c->up.off == c->up.len && !p[0].revents)
            return 1; /* the client talks first */
        ssize_t n = sock_read_head(&c->up, c->head, sizeof(c->head));
        struct msg resp;
        if (n <= 0 || head_parse_response(c->head, &resp) < 0)
            return -1;
        if (send_all(c->client.fd, c->head, (size_t) n) < 0)
            return -1;
        if (resp.status == 100)
            return 1;
        if (resp.status / 100 != 1) {
            bool keep;
            (void) forward_response_body(c, req, &resp, &keep);
            return 0;
        }
    }
}

/* Hold a request that is never answered until the client gives up. */
static void stall_forever(struct conn *c)
{
    while (sock_fill(&c->client) > 0)
        c->client.off = c->client.len;
}

/* One request whose head is in c->head. Returns whether the client
 * connection can take the next one. */
static bool forward(struct conn *c, const struct msg *req, int op)
{
    struct proxy *px = c->px;
    struct rule hit;
    rules_pick(px, op, &hit);
    if (hit.action == ACT_503 || hit.action == ACT_500) {
        bool keep = !req->close;
        if (req->expect && msg_has_body(req) &&
            send_all(c->client.fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
            return false;
        if (drop_body(c, req) != RELAY_OK)
            return false;
        int r = hit.action == ACT_503
                    ? send_s3_error(c, req, "503 Slow Down", "SlowDown",
                                    "Please reduce your request rate.", keep)
                    : send_s3_error(c, req, "500 Internal Server Error", "InternalError",
                                    "We encountered an internal error. Please try again.", keep);
        return r == 0 && keep;
    }
    if (hit.action == ACT_STALL) {
        if (hit.stall_ms == 0) {
            stall_forever(c);
            return false;
        }
        sleep_ms(hit.stall_ms);
    }

    /* the head; a kept connection the server closed meanwhile is replaced
     * (nothing of this request has gone yet, so sending again is safe) */
    int sent = -1;
    for (int attempt = 0; attempt < 2 && sent < 0; attempt++) {
        if (up_ready(c) < 0)
            break;
        sent = send_all(c->up.fd, c->head, c->head_len);
        if (sent < 0)
            up_close(c);
    }
    if (sent < 0) {
        if (drop_body(c, req) != RELAY_OK)
            return false;
        (void) send_s3_error(c, req, "502 Bad Gateway", "BadGateway",
                             "faultproxy cannot reach the upstream", false);
        return false;
    }
    stats_add(px, op, 1, 0, 0, true);

    c->op = op;
    struct fwd f = {.fd = c->up.fd,
                    .budget = hit.action == ACT_RESET ? hit.after_bytes : UINT64_MAX,
                    .flip_at = hit.action == ACT_CORRUPT ? hit.after_bytes : UINT64_MAX,
                    .count = conn_count,
                    .ud = c};
    int r = RELAY_OK;
    if (msg_has_body(req)) {
        if (req->expect) {
            int w = await_continue(c, req);
            if (w <= 0) {
                up_close(c);
                return false;
            }
        }
        r = req->chunked ? relay_chunked(&c->client, &f) : relay_fixed(&c->client, &f, req->length);
    }
    stats_add(px, op, 0, 0, 0, true);
    if (hit.action == ACT_RESET || r != RELAY_OK) {
        /* cut: or the client went away, or upstream refused the rest */
        close_rst(c->client.fd);
        c->client.fd = -1;
        up_close(c);
        return false;
    }

    for (;;) { /* interim answers (a late 100) are passed on */
        ssize_t n = sock_read_head(&c->up, c->head, sizeof(c->head));
        struct msg resp;
        if (n <= 0 || head_parse_response(c->head, &resp) < 0 ||
            send_all(c->client.fd, c->head, (size_t) n) < 0) {
            close_rst(c->client.fd);
            c->client.fd = -1;
            up_close(c);
            return false;
        }
        if (resp.status / 100 == 1)
            continue;
        bool keep = false;
        r = forward_response_body(c, req, &resp, &keep);
        if (r != RELAY_OK || !keep) {
            up_close(c);
            return false;
        }
        return true;
    }
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct proxy *px = c->px;
    for (;;) {
        ssize_t n = sock_read_head(&c->client, c->head, sizeof(c->head));
        if (n <= 0)
            break;
        c->head_len = (size_t) n;
        struct msg req;
        if (head_parse_request(c->head, &req, c->target, sizeof(c->target), c->host,
                               sizeof(c->host)) < 0) {
            (void) send_answer(c, &req, "400 Bad Request", "text/plain", "", 0, false);
            break;
        }
        bool go_on;
        if (strncmp(c->target, CONTROL_PREFIX, strlen(CONTROL_PREFIX)) == 0)
            go_on = control(c, &req);
        else {
            int op = op_classify(req.method, c->target, c->host);
            stats_inflight(px, op, +1);
            go_on = forward(c, &req, op);
            stats_inflight(px, op, -1);
        }
        if (!go_on)
            break;
    }
    if (c->client.fd >= 0)
        (void) close(c->client.fd);
    up_close(c);
    free(c->client.buf);
    free(c->up.buf);
    free(c);
    pthread_mutex_lock(&px->lock);
    px->conns--;
    pthread_mutex_unlock(&px->lock);
    return NULL;
}

/* ---- main */

static int stop_pipe[2] = {-1, -1}; /* written by the signal handler */

static void on_signal(int sig)
{
    (void) sig;
    int saved = errno;
    (void) !write(stop_pipe[1], "x", 1);
    errno = saved;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(MAX_CONTROL_BODY + 1);
    size_t n = buf ? fread(buf, 1, MAX_CONTROL_BODY + 1, f) : 0;
    (void) fclose(f);
    if (!buf || n > MAX_CONTROL_BODY) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void usage(void)
{
    fprintf(stderr, "usage: faultproxy --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT "
                    "[--rules FILE] [--stats FILE]\n");
    exit(2);
}

static void accept_one(struct proxy *px, int lfd, const pthread_attr_t *attr)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    pthread_mutex_lock(&px->lock);
    bool room = px->conns < MAX_CONNS;
    if (room)
        px->conns++;
    pthread_mutex_unlock(&px->lock);
    struct conn *c = room ? calloc(1, sizeof(*c)) : NULL;
    if (c) {
        c->px = px;
        c->client = (struct sock){.fd = fd, .buf = malloc(WIRE_BUF_SIZE)};
        c->up = (struct sock){.fd = -1, .buf = malloc(WIRE_BUF_SIZE)};
    }
    pthread_t tid;
    if (c && c->client.buf && c->up.buf && pthread_create(&tid, attr, conn_main, c) == 0) {
        set_nodelay(fd);
        return;
    }
    fprintf(stderr, "faultproxy: refusing a connection (%s)\n", room ? "no memory" : "too many");
    if (c) {
        free(c->client.buf);
        free(c->up.buf);
        free(c);
    }
    if (room) {
        pthread_mutex_lock(&px->lock);
        px->conns--;
        pthread_mutex_unlock(&px->lock);
    }
    (void) close(fd);
}

int main(int argc, char **argv)
{
    static struct proxy px = {.lock = PTHREAD_MUTEX_INITIALIZER};
    const char *listen_at = NULL, *upstream = NULL, *rules_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--listen") == 0)
            listen_at = argv[++i];
        else if (strcmp(argv[i], "--upstream") == 0)
            upstream = argv[++i];
        else if (strcmp(argv[i], "--rules") == 0)
            rules_path = argv[++i];
        else if (strcmp(argv[i], "--stats") == 0)
            px.stats_path = argv[++i];
        else
            usage();
    }
    if (!listen_at || !upstream)
        usage();
    struct sockaddr_in la;
    if (parse_loopback(listen_at, true, &la) < 0 ||
        parse_loopback(upstream, false, &px.upstream) < 0) {
        fprintf(stderr,
                "faultproxy: --listen and --upstream must be 127.x.y.z:PORT (loopback only)\n");
        return 2;
    }
    if (px.stats_path) {
        size_t n = strlen(px.stats_path) + 5;
        px.stats_tmp = malloc(n);
        if (!px.stats_tmp)
            return 1;
        snprintf(px.stats_tmp, n, "%s.tmp", px.stats_path);
    }
    if (rules_path) {
        size_t len = 0;
        char *text = read_file(rules_path, &len);
        char err[512];
        if (!text) {
            fprintf(stderr, "faultproxy: cannot read rules %s\n", rules_path);
            return 2;
        }
        int r = rules_load(&px, text, len, err, sizeof(err));
        free(text);
        if (r < 0) {
            fprintf(stderr, "faultproxy: %s: %s\n", rules_path, err);
            return 2;
        }
    }

    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return 1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    (void) sigaction(SIGTERM, &sa, NULL);
    (void) sigaction(SIGINT, &sa, NULL);
    (void) signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t slen = sizeof(la);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *) &la, sizeof(la)) < 0 || listen(lfd, 128) < 0 ||
        getsockname(lfd, (struct sockaddr *) &la, &slen) < 0) {
        fprintf(stderr, "faultproxy: listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    pthread_mutex_lock(&px.lock);
    stats_flush(&px);
    pthread_mutex_unlock(&px.lock);
    printf("port %d\n", ntohs(la.sin_port));
    fflush(stdout);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256u << 10);
    for (;;) {
        struct pollfd p[2] = {{.fd = lfd, .events = POLLIN},
                              {.fd = stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents)
            accept_one(&px, lfd, &attr);
    }
    /* connections in flight die with the process: a test fake's shutdown */
    (void) close(lfd);
    pthread_mutex_lock(&px.lock);
    stats_flush(&px);
    pthread_mutex_unlock(&px.lock);
    return 0;
}
