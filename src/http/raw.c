#include "http/raw.h"

#include "err.h"
#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define POOL_MAX   64
#define HEAD_MAX   (16u << 10) /* a response head larger than this is not S3's */
#define CONNECT_MS 10000       /* as curl's CONNECTTIMEOUT in loop.c */
#define STALL_MS   60000       /* as curl's LOW_SPEED_TIME in loop.c */
#define RESOLVE_MS 60000
#define WATCH_MS   1000
/* body bytes sent per wake-up; then poll again, for an early answer and for the others */
#define SEND_TURN_MAX (1u << 20)

enum { ST_CONNECT, ST_HEAD_OUT, ST_BODY_OUT, ST_HEAD_IN, ST_BODY_IN };

static const char *const state_names[] = {"connect", "head-out", "body-out", "head-in", "body-in"};

/* every change of an exchange's state goes through here */
static void raw_state(struct raw_xfer *x, int st)
{
    log_debug("http=raw fd=%d from=%s to=%s", x->w.fd, state_names[x->state], state_names[st]);
    x->state = st;
}

struct raw_pool {
    char *host;
    char *port;
    struct sockaddr_storage addr;
    socklen_t addrlen; /* 0 until resolved */
    long long resolved_ms;
    int idle[POOL_MAX];
    int nidle;
};

int raw_pool_new(struct raw_pool **out, const char *hostport)
{
    struct raw_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    const char *colon = strrchr(hostport, ':');
    if (hostport[0] == '[') { /* [v6]:port */
        const char *close = strchr(hostport, ']');
        colon = close && close[1] == ':' ? close + 1 : NULL;
        p->host = close ? strndup(hostport + 1, (size_t) (close - hostport - 1)) : NULL;
    } else {
        p->host = colon ? strndup(hostport, (size_t) (colon - hostport)) : strdup(hostport);
    }
    p->port = strdup(colon ? colon + 1 : "80");
    if (!p->host || !p->port) {
        raw_pool_free(p);
        return -ENOMEM;
    }
    *out = p;
    return 0;
}

void raw_pool_free(struct raw_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nidle; i++)
        close(p->idle[i]);
    free(p->host);
    free(p->port);
    free(p);
}

/* an idle connection the server has not closed meanwhile, or -1 */
static int pool_take(struct raw_pool *p)
{
    while (p->nidle > 0) {
        int fd = p->idle[--p->nidle];
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return fd;
        close(fd); /* closed by the server (0), or bytes nobody asked for */
    }
    return -1;
}

static void pool_give(struct raw_pool *p, int fd)
{
    if (p->nidle < POOL_MAX)
        p->idle[p->nidle++] = fd;
    else
        close(fd);
}

static int pool_connect(struct raw_pool *p, int *out)
{
    /* resolved again after a minute, as curl's DNS cache does */
    if (p->addrlen == 0 || loop_now_ms() - p->resolved_ms > RESOLVE_MS) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        int g = getaddrinfo(p->host, p->port, &hints, &ai);
        if (g != 0 || !ai) {
            err_set("http: cannot resolve %s: %s", p->host, gai_strerror(g));
            return -EHOSTUNREACH;
        }
        memcpy(&p->addr, ai->ai_addr, ai->ai_addrlen);
        p->addrlen = ai->ai_addrlen;
        p->resolved_ms = loop_now_ms();
        freeaddrinfo(ai);
    }
    int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    (void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &(int){1}, sizeof(int));
    if (connect(fd, (struct sockaddr *) &p->addr, p->addrlen) != 0 && errno != EINPROGRESS) {
        int e = -errno;
        close(fd);
        return e;
    }
    *out = fd;
    return 0;
}

/* ------------------------------------------------------------ exchange */

static void finish(struct raw_xfer *x, CURLcode rc)
{
    loop_fd_del(x->loop, &x->w);
    loop_timer_cancel(x->loop, &x->timer);
    loop_timer_cancel(x->loop, &x->kick);
    /* kept when the request went out whole and the answer did not say close */
    if (rc == CURLE_OK && x->body_off == x->body_len && !x->to_close)
        pool_give(x->pool, x->w.fd);
    else
        close(x->w.fd);
    x->w.fd = -1;
    free(x->hbuf);
    x->hbuf = NULL;
    x->active = false;
    x->ops->done(x->ud, rc, x->status); /* may free x: nothing after */
}

static void watch(void *ud)
{
    struct raw_xfer *x = ud;
    long long idle = loop_now_ms() - x->last_ms;
    if (x->paused_in || x->paused_out) /* waiting for us, not for the server */
        x->last_ms = loop_now_ms();
    else if (idle > (x->state == ST_CONNECT ? CONNECT_MS : STALL_MS)) {
        finish(x, x->state == ST_CONNECT ? CURLE_COULDNT_CONNECT : CURLE_OPERATION_TIMEDOUT);
        return;
    }
    loop_timer_arm(x->loop, &x->timer, WATCH_MS, watch, x);
}

static void set_events(struct raw_xfer *x)
{
    switch (x->state) {
    case ST_CONNECT:
    case ST_HEAD_OUT:
        x->w.events = POLLOUT;
        break;
    case ST_BODY_OUT: /* an early answer (an error) ends the body */
        x->w.events = (short) (POLLIN | (x->paused_out ? 0 : POLLOUT));
        break;
    default:
        x->w.events = x->paused_in ? 0 : POLLIN;
        break;
    }
}

static int io_err(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR ? 0 : -1;
}

/* 0: all sent or would block; 1: body paused; < 0: failed (rc in *rc) */
static int send_out(struct raw_xfer *x, CURLcode *rc)
{
    while (x->state == ST_HEAD_OUT) {
        ssize_t n = send(x->w.fd, x->head + x->head_off, x->head_len - x->head_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (io_err(errno) == 0)
                return 0;
            *rc = CURLE_SEND_ERROR;
            return -1;
        }
        x->last_ms = loop_now_ms();
        x->head_off += (size_t) n;
        if (x->head_off == x->head_len)
            raw_state(x, x->body_len ? ST_BODY_OUT : ST_HEAD_IN);
    }
    size_t turn = 0;
    while (x->state == ST_BODY_OUT && turn < SEND_TURN_MAX) {
        const char *p = NULL;
        size_t k = x->ops->body_span(x->ud, &p);
        if (k == RAW_SPAN_ABORT) {
            *rc = CURLE_READ_ERROR;
            return -1;
        }
        if (k == 0) {
            x->paused_out = true;
            return 1;
        }
        if (k > x->body_len - x->body_off)
            k = (size_t) (x->body_len - x->body_off);
        if (k > SEND_TURN_MAX - turn)
            k = SEND_TURN_MAX - turn;
        ssize_t n = send(x->w.fd, p, k, MSG_NOSIGNAL);
        if (n < 0) {
            if (io_err(errno) == 0)
                return 0;
            *rc = CURLE_SEND_ERROR;
            return -1;
        }
        x->last_ms = loop_now_ms();
        x->body_off += (uint64_t) n;
        turn += (size_t) n;
        x->ops->body_took(x->ud, (size_t) n);
        if (x->body_off == x->body_len)
            raw_state(x, ST_HEAD_IN);
    }
    return 0;
}

static bool status_has_body(const struct raw_xfer *x)
{
    return x->status != 204 && x->status != 304;
}

static int parse_head(struct raw_xfer *x, size_t head_end, CURLcode *rc)
{
    char *line = x->hbuf;
    char *end = x->hbuf + head_end;
    bool first = true;
    bool http10 = false;
    x->status = 0;
    bool chunked = false;
    x->have_clen = false;
    while (line < end) {
        char *eol = memchr(line, '\n', (size_t) (end - line));
        if (!eol)
            eol = end;
        size_t len = (size_t) (eol - line);
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (len == 0)
            break;
        if (first) {
            unsigned code = 0;
            char c9 = len > 9 ? line[9] : 0;
            if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || c9 < '1' || c9 > '5' ||
                sscanf(line + 9, "%3u", &code) != 1) {
                *rc = CURLE_WEIRD_SERVER_REPLY;
                return -1;
            }
            http10 = line[7] == '0';
            x->status = (long) code;
            first = false;
        } else if (len > 15 && strncasecmp(line, "content-length:", 15) == 0) {
            char *e;
            unsigned long long v = strtoull(line + 15, &e, 10);
            x->clen = v;
            x->have_clen = true;
        } else if (len > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
            chunked = true;
        } else if (len > 11 && strncasecmp(line, "connection:", 11) == 0) {
            const char *v = line + 11;
            while (*v == ' ')
                v++;
            if (strncasecmp(v, "close", 5) == 0)
                x->to_close = true;
        }
        if (x->ops->header(x->ud, line, len) < 0) {
            *rc = CURLE_WRITE_ERROR;
            return -1;
        }
        line = eol + 1;
    }
    if (http10)
        x->to_close = true;
    if (chunked && status_has_body(x)) {
        /* S3 servers frame object bodies and errors by length; a chunked
         * answer goes to curl's path the next time (the caller retries) */
        *rc = CURLE_WEIRD_SERVER_REPLY;
        return -1;
    }
    return 0;
}

/* Room for the body at *p: its size; 0 when the sink pauses (then the socket
 * is not polled until raw_unpause); RAW_SPAN_ABORT with *rc set. A body that
 * is not a 2xx's with a sink goes to data(), through our buffer. */
static size_t body_room(struct raw_xfer *x, bool to_sink, char **p, CURLcode *rc)
{
    if (!to_sink) {
        *p = x->hbuf;
        return HEAD_MAX;
    }
    size_t k = x->ops->sink_span(x->ud, p);
    if (k == RAW_SPAN_ABORT)
        *rc = CURLE_WRITE_ERROR;
    else if (k == 0)
        x->paused_in = true;
    return k;
}

/* n body bytes are at p (room from body_room, or our buffer): hand them on */
static int body_got(struct raw_xfer *x, bool to_sink, const char *p, size_t n, CURLcode *rc)
{
    x->rbody += n;
    if (to_sink) {
        x->ops->sink_put(x->ud, n);
        return 0;
    }
    if (x->ops->data(x->ud, p, n) < 0) {
        *rc = CURLE_WRITE_ERROR;
        return -1;
    }
    return 0;
}

/* 0: go on (would block or paused); 1: the exchange is complete; < 0: failed */
static int recv_in(struct raw_xfer *x, CURLcode *rc)
{
    while (x->state == ST_HEAD_IN) {
        if (x->hlen == HEAD_MAX) {
            *rc = CURLE_WEIRD_SERVER_REPLY;
            return -1;
        }
        ssize_t n = recv(x->w.fd, x->hbuf + x->hlen, HEAD_MAX - x->hlen, 0);
        if (n < 0) {
            if (io_err(errno) == 0)
                return 0;
            *rc = CURLE_RECV_ERROR;
            return -1;
        }
        if (n == 0) {
            *rc = x->hlen == 0 ? CURLE_GOT_NOTHING : CURLE_RECV_ERROR;
            return -1;
        }
        x->last_ms = loop_now_ms();
        if (x->hlen == 0) /* RGW sends the body once the head is ACKed (loop.h) */
            (void) setsockopt(x->w.fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
        size_t from = x->hlen > 3 ? x->hlen - 3 : 0;
        x->hlen += (size_t) n;
        char *e = memmem(x->hbuf + from, x->hlen - from, "\r\n\r\n", 4);
        if (!e)
            continue;
        size_t head_end = (size_t) (e - x->hbuf) + 4;
        if (parse_head(x, head_end, rc) < 0)
            return -1;
        if (x->status == 100) { /* an interim answer: the real one follows */
            memmove(x->hbuf, x->hbuf + head_end, x->hlen - head_end);
            x->hlen -= head_end;
            continue;
        }
        raw_state(x, ST_BODY_IN);
        x->rbody = 0;
        if (!status_has_body(x)) {
            x->have_clen = true;
            x->clen = 0;
        } else if (!x->have_clen)
            x->to_close = true; /* the body ends with the connection */
        size_t extra = x->hlen - head_end;
        if (x->have_clen && extra > x->clen) {
            *rc = CURLE_WEIRD_SERVER_REPLY;
            return -1;
        }
        /* body bytes that came with the head: delivered first, below */
        x->lo_off = head_end;
        x->lo_len = extra;
    }
    bool to_sink = x->sink && x->status >= 200 && x->status < 300;
    while (x->state == ST_BODY_IN) {
        if (x->have_clen && x->rbody == x->clen)
            return 1;
        char *p = NULL;
        size_t k = body_room(x, to_sink, &p, rc);
        if (k == RAW_SPAN_ABORT)
            return -1;
        if (k == 0)
            return 0;
        if (x->lo_len > 0) { /* bytes that came with the head first */
            if (k > x->lo_len)
                k = x->lo_len;
            if (p != x->hbuf + x->lo_off)
                memmove(p, x->hbuf + x->lo_off, k);
            x->lo_off += k;
            x->lo_len -= k;
            if (body_got(x, to_sink, p, k, rc) < 0)
                return -1;
            continue;
        }
        if (x->have_clen && k > x->clen - x->rbody)
            k = (size_t) (x->clen - x->rbody);
        ssize_t n = recv(x->w.fd, p, k, 0);
        if (n < 0) {
            if (io_err(errno) == 0)
                return 0;
            *rc = CURLE_RECV_ERROR;
            return -1;
        }
        if (n == 0) {
            if (!x->have_clen)
                return 1; /* the end of a body framed by the connection */
            *rc = CURLE_PARTIAL_FILE;
            return -1;
        }
        x->last_ms = loop_now_ms();
        if (body_got(x, to_sink, p, (size_t) n, rc) < 0)
            return -1;
    }
    return 0;
}

static void on_event(struct loop_fd *w, short revents)
{
    struct raw_xfer *x = (struct raw_xfer *) ((char *) w - offsetof(struct raw_xfer, w));
    CURLcode rc = CURLE_OK;
    if (x->state == ST_CONNECT) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            finish(x, CURLE_COULDNT_CONNECT);
            return;
        }
        raw_state(x, ST_HEAD_OUT);
    }
    if (x->state == ST_BODY_OUT && (revents & (POLLIN | POLLHUP | POLLERR))) {
        /* the server answers before the body is in: an error; the rest of
         * the body is not sent and the connection is not kept */
        raw_state(x, ST_HEAD_IN);
        x->paused_out = false;
    }
    if (x->state == ST_HEAD_OUT || x->state == ST_BODY_OUT) {
        if (send_out(x, &rc) < 0) {
            finish(x, rc);
            return;
        }
    }
    if (x->state == ST_HEAD_IN || x->state == ST_BODY_IN) {
        int r = recv_in(x, &rc);
        if (r < 0) {
            finish(x, rc);
            return;
        }
        if (r == 1) {
            finish(x, CURLE_OK);
            return;
        }
    }
    set_events(x);
}

int raw_start(struct raw_xfer *x)
{
    x->head_off = 0;
    x->body_off = 0;
    x->hlen = 0;
    x->status = 0;
    x->clen = x->rbody = 0;
    x->lo_off = x->lo_len = 0;
    x->have_clen = x->to_close = false;
    x->paused_in = x->paused_out = false;
    x->hbuf = malloc(HEAD_MAX);
    if (!x->hbuf)
        return -ENOMEM;
    int fd = pool_take(x->pool);
    bool reused = fd >= 0;
    if (!reused) {
        int r = pool_connect(x->pool, &fd);
        if (r < 0) {
            free(x->hbuf);
            x->hbuf = NULL;
            return r;
        }
    }
    /* the first state: on a kept connection the request goes out at once */
    x->state = reused ? ST_HEAD_OUT : ST_CONNECT;
    log_debug("http=raw fd=%d state=%s", fd, state_names[x->state]);
    x->w.fd = fd;
    x->w.fn = on_event;
    x->w.slot = -1;
    set_events(x);
    if (loop_fd_add(x->loop, &x->w) < 0) {
        close(fd);
        free(x->hbuf);
        x->hbuf = NULL;
        return -ENOMEM;
    }
    x->active = true;
    x->last_ms = loop_now_ms();
    loop_timer_arm(x->loop, &x->timer, WATCH_MS, watch, x);
    return 0;
}

static void kick(void *ud)
{
    struct raw_xfer *x = ud;
    if (!x->paused_in) /* paused again meanwhile: the next unpause kicks */
        on_event(&x->w, 0);
}

void raw_unpause(struct raw_xfer *x)
{
    if (!x->active)
        return;
    x->paused_in = x->paused_out = false;
    set_events(x);
    /* bytes that came with the head wait in our buffer, not in the socket:
     * no poll would say so */
    if (x->lo_len > 0)
        loop_timer_arm(x->loop, &x->kick, 0, kick, x);
}

void raw_abort(struct raw_xfer *x)
{
    if (!x->active)
        return;
    loop_fd_del(x->loop, &x->w);
    loop_timer_cancel(x->loop, &x->timer);
    loop_timer_cancel(x->loop, &x->kick);
    close(x->w.fd);
    x->w.fd = -1;
    free(x->hbuf);
    x->hbuf = NULL;
    x->active = false;
}
