/* HTTP/1.1 on the wire: see wire.h. */
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* ---- sock */

ssize_t sock_fill(struct sock *s)
{
    if (s->off == s->len)
        s->off = s->len = 0;
    if (s->len == WIRE_BUF_SIZE && s->off > 0) {
        memmove(s->buf, s->buf + s->off, s->len - s->off);
        s->len -= s->off;
        s->off = 0;
    }
    if (s->len == WIRE_BUF_SIZE)
        return -1;
    for (;;) {
        ssize_t r = recv(s->fd, s->buf + s->len, WIRE_BUF_SIZE - s->len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0)
            s->len += (size_t) r;
        return r;
    }
}

int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

ssize_t sock_read_head(struct sock *s, char *out, size_t cap)
{
    size_t scanned = 0;
    for (;;) {
        size_t avail = s->len - s->off;
        const char *start = s->buf + s->off;
        size_t from = scanned > 3 ? scanned - 3 : 0;
        const char *end = avail >= 4 ? memmem(start + from, avail - from, "\r\n\r\n", 4) : NULL;
        if (end) {
            size_t n = (size_t) (end + 4 - start);
            if (n >= cap)
                return -1;
            memcpy(out, start, n);
            out[n] = '\0';
            s->off += n;
            return (ssize_t) n;
        }
        scanned = avail; /* offsets from s->off survive sock_fill's compaction */
        ssize_t r = sock_fill(s);
        if (r <= 0)
            return r == 0 && avail == 0 ? 0 : -1;
    }
}

/* One line through "\n" into out (NUL-terminated); its length or -1. */
static ssize_t sock_read_line(struct sock *s, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        if (s->off == s->len && sock_fill(s) <= 0)
            return -1;
        char ch = s->buf[s->off++];
        if (n + 1 >= cap)
            return -1;
        out[n++] = ch;
        if (ch == '\n') {
            out[n] = '\0';
            return (ssize_t) n;
        }
    }
}

/* ---- relay */

static int fwd_send(struct fwd *f, const char *p, size_t n, bool body)
{
    if (f->fd < 0)
        return RELAY_OK;
    while (n > 0) {
        ssize_t w = send(f->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return RELAY_DST;
        if (body && f->count)
            f->count(f->ud, (uint64_t) w);
        p += w;
        n -= (size_t) w;
    }
    return RELAY_OK;
}

int relay_fixed(struct sock *src, struct fwd *f, uint64_t n)
{
    while (n > 0) {
        if (f->budget == 0)
            return RELAY_CUT;
        if (src->off == src->len && sock_fill(src) <= 0)
            return RELAY_SRC;
        uint64_t k = src->len - src->off;
        if (k > n)
            k = n;
        if (k > f->budget)
            k = f->budget;
        char *p = src->buf + src->off;
        bool flip = f->flip_at >= f->done && f->flip_at - f->done < k;
        if (flip)
            p[f->flip_at - f->done] = (char) ~p[f->flip_at - f->done];
        int r = fwd_send(f, p, (size_t) k, true);
        if (r)
            return r;
        f->done += k;
        src->off += (size_t) k;
        n -= k;
        if (f->budget != UINT64_MAX)
            f->budget -= k;
    }
    return RELAY_OK;
}

int relay_chunked(struct sock *src, struct fwd *f)
{
    char line[4096];
    for (;;) {
        ssize_t n = sock_read_line(src, line, sizeof(line));
        if (n < 0)
            return RELAY_SRC;
        char *end = NULL;
        errno = 0;
        uint64_t size = strtoull(line, &end, 16);
        if (errno || end == line)
            return RELAY_SRC;
        int r = fwd_send(f, line, (size_t) n, false);
        if (r)
            return r;
        if (size == 0)
            break;
        if ((r = relay_fixed(src, f, size)) != RELAY_OK)
            return r;
        if ((n = sock_read_line(src, line, sizeof(line))) < 0)
            return RELAY_SRC;
        if ((r = fwd_send(f, line, (size_t) n, false)) != RELAY_OK)
            return r;
    }
    for (;;) { /* trailers up to the empty line */
        ssize_t n = sock_read_line(src, line, sizeof(line));
        if (n < 0)
            return RELAY_SRC;
        int r = fwd_send(f, line, (size_t) n, false);
        if (r || strcmp(line, "\r\n") == 0 || strcmp(line, "\n") == 0)
            return r;
    }
}

int relay_until_close(struct sock *src, struct fwd *f)
{
    for (;;) {
        if (src->off == src->len) {
            ssize_t r = sock_fill(src);
            if (r == 0)
                return RELAY_OK;
            if (r < 0)
                return RELAY_SRC;
        }
        int r = fwd_send(f, src->buf + src->off, src->len - src->off, true);
        if (r)
            return r;
        src->off = src->len;
    }
}

/* ---- head */

bool head_header(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = strstr(head, "\r\n");
    while (p && p[2] != '\r' && p[2] != '\0') {
        p += 2;
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t) (eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1, *e = eol;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            snprintf(out, cap, "%.*s", (int) (e - v), v);
            return true;
        }
        p = eol;
    }
    return false;
}

/* Framing and connection headers, common to requests and responses. */
static int head_parse_framing(const char *h, struct msg *m, bool v10)
{
    char v[256];
    if (head_header(h, "Transfer-Encoding", v, sizeof(v)))
        m->chunked = strcasestr(v, "chunked") != NULL;
    if (!m->chunked && head_header(h, "Content-Length", v, sizeof(v))) {
        if (!parse_u64(v, &m->length))
            return -1;
        m->has_length = true;
    }
    m->expect = head_header(h, "Expect", v, sizeof(v)) && strcasecmp(v, "100-continue") == 0;
    /* HTTP/1.0 closes unless asked to keep alive */
    if (head_header(h, "Connection", v, sizeof(v)))
        m->close = strcasestr(v, "close") != NULL || (v10 && !strcasestr(v, "keep-alive"));
    else
        m->close = v10;
    return 0;
}

int head_parse_request(const char *head, struct msg *m, char *target, size_t tcap, char *host,
                       size_t hcap)
{
    memset(m, 0, sizeof(*m));
    const char *sp1 = strchr(head, ' ');
    const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    const char *eol = strstr(head, "\r\n");
    if (!sp1 || !sp2 || !eol || sp2 > eol || (size_t) (sp1 - head) >= sizeof(m->method) ||
        (size_t) (sp2 - sp1 - 1) >= tcap || sp1[1] != '/')
        return -1;
    memcpy(m->method, head, (size_t) (sp1 - head));
    memcpy(target, sp1 + 1, (size_t) (sp2 - sp1 - 1));
    target[sp2 - sp1 - 1] = '\0';
    if (!head_header(head, "Host", host, hcap))
        host[0] = '\0';
    bool v10 = eol - sp2 == 9 && strncmp(sp2, " HTTP/1.0", 9) == 0;
    return head_parse_framing(head, m, v10);
}

int head_parse_response(const char *head, struct msg *m)
{
    memset(m, 0, sizeof(*m));
    if (strncmp(head, "HTTP/1.", 7) != 0 || strlen(head) < 12)
        return -1;
    for (int i = 9; i < 12; i++) {
        if (head[i] < '0' || head[i] > '9')
            return -1;
        m->status = m->status * 10 + (head[i] - '0');
    }
    if (m->status < 100)
        return -1;
    return head_parse_framing(head, m, strncmp(head, "HTTP/1.0", 8) == 0);
}

bool msg_has_body(const struct msg *m)
{
    return m->chunked || (m->has_length && m->length > 0);
}
