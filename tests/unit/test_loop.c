/* The transfer loop's timers, and its quick ACK. Timers: a callback may
 * cancel (and free) or re-arm another timer that is due in the same run.
 * Quick ACK: loop_quick_ack() must find the socket a
 * transfer is on, while it runs, over fresh, reused and replaced
 * connections. An in-process HTTP server on 127.0.0.1:0 writes each
 * response's head and body apart (as RGW does) and names, in a header, the
 * client port it answers; the socket ACKed must have that local port. */
#include "testlib.h"

#include "http/loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 16

struct server {
    int lfd;
    int port;
    volatile int close_after; /* answer "Connection: close" to this many requests, then none */
    volatile bool stop;
    pthread_t thr;
};

static void answer(struct server *sv, int fd, int peer_port)
{
    char head[256];
    bool close_it = false;
    if (sv->close_after > 0) {
        sv->close_after--;
        close_it = true;
    }
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nX-Peer-Port: %d\r\nContent-Length: 2\r\n%s\r\n", peer_port,
                     close_it ? "Connection: close\r\n" : "");
    (void) !write(fd, head, (size_t) n);
    (void) !write(fd, "ok", 2); /* apart, as RGW writes head and body */
    if (close_it)
        shutdown(fd, SHUT_WR);
}

static void *serve(void *ud)
{
    struct server *sv = ud;
    struct pollfd p[MAXC + 1];
    int peer[MAXC + 1];
    char buf[MAXC + 1][2048];
    size_t have[MAXC + 1];
    int n = 1;
    p[0] = (struct pollfd){.fd = sv->lfd, .events = POLLIN};
    while (!sv->stop) {
        if (poll(p, (nfds_t) n, 50) <= 0)
            continue;
        if ((p[0].revents & POLLIN) && n <= MAXC) {
            struct sockaddr_in a;
            socklen_t al = sizeof(a);
            int fd = accept(sv->lfd, (struct sockaddr *) &a, &al);
            if (fd >= 0) {
                p[n] = (struct pollfd){.fd = fd, .events = POLLIN};
                peer[n] = ntohs(a.sin_port);
                have[n++] = 0;
            }
        }
        for (int i = 1; i < n; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(p[i].fd, buf[i] + have[i], sizeof(buf[i]) - 1 - have[i]);
            if (r <= 0) {
                close(p[i].fd);
                p[i] = p[n - 1];
                peer[i] = peer[n - 1];
                memcpy(buf[i], buf[n - 1], have[n - 1]);
                have[i] = have[n - 1];
                n--;
                i--;
                continue;
            }
            have[i] += (size_t) r;
            buf[i][have[i]] = '\0';
            char *end;
            while ((end = strstr(buf[i], "\r\n\r\n")) != NULL) {
                answer(sv, p[i].fd, peer[i]);
                size_t used = (size_t) (end + 4 - buf[i]);
                memmove(buf[i], buf[i] + used, have[i] - used + 1);
                have[i] -= used;
            }
        }
    }
    for (int i = 1; i < n; i++)
        close(p[i].fd);
    return NULL;
}

static int server_start(struct server *sv)
{
    memset(sv, 0, sizeof(*sv));
    sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (sv->lfd < 0 || bind(sv->lfd, (struct sockaddr *) &a, sizeof(a)) != 0 ||
        listen(sv->lfd, 16) != 0 || getsockname(sv->lfd, (struct sockaddr *) &a, &al) != 0)
        return -1;
    sv->port = ntohs(a.sin_port);
    return pthread_create(&sv->thr, NULL, serve, sv) == 0 ? 0 : -1;
}

static void server_stop(struct server *sv)
{
    sv->stop = true;
    pthread_join(sv->thr, NULL);
    close(sv->lfd);
}

struct xfer {
    struct loop_xfer x;
    struct loop *l;
    int acked_fd;   /* what loop_quick_ack() returned on the status line */
    int acked_port; /* that socket's local port, read at once */
    int peer_port;  /* what the server says it answered */
    CURLcode result;
    bool done;
};

static int local_port(int fd)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    if (fd < 0 || getsockname(fd, (struct sockaddr *) &a, &al) != 0)
        return -1;
    return ntohs(a.sin_port);
}

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    struct xfer *t = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(b, "HTTP/", 5) == 0) {
        t->acked_fd = loop_quick_ack(t->l, t->x.easy);
        t->acked_port = local_port(t->acked_fd);
    } else if (len > 13 && strncasecmp(b, "X-Peer-Port: ", 13) == 0) {
        t->peer_port = (int) strtol(b + 13, NULL, 10);
    }
    return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *ud)
{
    (void) b;
    (void) ud;
    return size * n;
}

static void on_done(struct loop_xfer *x, CURLcode result)
{
    struct xfer *t = (struct xfer *) x;
    t->result = result;
    t->done = true;
    loop_easy_put(t->l, x->easy);
    x->easy = NULL;
}

/* n transfers at once; returns how many were ACKed on the socket the server
 * answered on */
static int round_of(struct loop *l, const char *url, int n)
{
    struct xfer t[8];
    int good = 0;
    for (int i = 0; i < n; i++) {
        t[i] = (struct xfer){.l = l, .acked_fd = -2, .acked_port = -1, .peer_port = -3};
        t[i].x.easy = loop_easy_get(l);
        t[i].x.done = on_done;
        curl_easy_setopt(t[i].x.easy, CURLOPT_URL, url);
        curl_easy_setopt(t[i].x.easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(t[i].x.easy, CURLOPT_HEADERDATA, &t[i]);
        curl_easy_setopt(t[i].x.easy, CURLOPT_WRITEFUNCTION, on_body);
        if (loop_start(l, &t[i].x) != 0)
            return -1;
    }
    for (int spins = 0; spins < 10000 && loop_running(l) > 0; spins++)
        (void) loop_run_once(l, 100);
    for (int i = 0; i < n; i++) {
        if (!t[i].done || t[i].result != CURLE_OK)
            printf("# transfer %d: done %d result %d\n", i, t[i].done, (int) t[i].result);
        else if (t[i].acked_fd < 0 || t[i].acked_port != t[i].peer_port)
            printf("# transfer %d: acked fd %d port %d, server answered port %d\n", i,
                   t[i].acked_fd, t[i].acked_port, t[i].peer_port);
        else
            good++;
    }
    return good;
}

static void test_loop__quick_ack_finds_the_transfers_socket(void)
{
    struct server sv;
    CHECK(server_start(&sv) == 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", sv.port);
    struct loop *l = NULL;
    CHECK(loop_new(&l, NULL) == 0);

    CHECK_INT(round_of(l, url, 4), 4); /* fresh connections */
    CHECK_INT(round_of(l, url, 4), 4); /* the same ones, reused in any order */
    CHECK_INT(round_of(l, url, 2), 2); /* some of them */
    sv.close_after = 4;                /* the server closes each after its answer */
    CHECK_INT(round_of(l, url, 4), 4);
    CHECK_INT(round_of(l, url, 4), 4); /* new connections; their fds may be the old numbers */
    CHECK_INT(round_of(l, url, 6), 6); /* reused and fresh mixed */

    loop_free(l);
    server_stop(&sv);
}

/* ---- timers ---------------------------------------------------------- */

struct tmr {
    struct loop *l;
    struct loop_timer self;
    struct tmr *other; /* what this one's callback does to */
    int action;        /* 0 nothing, 1 cancel and free other, 2 re-arm other */
    int fired;
};

static int fired_total;

static void tmr_fire(void *ud)
{
    struct tmr *t = ud;
    t->fired++;
    fired_total++;
    if (t->action == 1 && t->other) {
        loop_timer_cancel(t->l, &t->other->self);
        free(t->other);
        t->other = NULL;
    } else if (t->action == 2 && t->other) {
        loop_timer_arm(t->l, &t->other->self, 0, tmr_fire, t->other);
    }
}

static void settle_ms(int ms)
{
    usleep((useconds_t) ms * 1000);
}

static void test_loop__timer_cancelled_and_freed_by_one_due_with_it_never_fires(void)
{
    struct loop *l = NULL;
    CHECK(loop_new(&l, NULL) == 0);
    struct tmr *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    *a = (struct tmr){.l = l, .other = b, .action = 1};
    *b = (struct tmr){.l = l};
    fired_total = 0;
    loop_timer_arm(l, &a->self, 0, tmr_fire, a);
    loop_timer_arm(l, &b->self, 0, tmr_fire, b); /* due with a, after it */
    settle_ms(3);
    (void) loop_run_once(l, 0);
    CHECK_INT(a->fired, 1);
    CHECK(a->other == NULL);
    CHECK_INT(fired_total, 1); /* b was freed: firing it would be a use after free */
    settle_ms(3);
    (void) loop_run_once(l, 0);
    CHECK_INT(fired_total, 1);
    free(a);
    loop_free(l);
}

static void test_loop__timer_rearmed_by_one_due_with_it_fires_once_in_the_next_run(void)
{
    struct loop *l = NULL;
    CHECK(loop_new(&l, NULL) == 0);
    struct tmr a = {.l = l, .action = 2}, b = {.l = l}, c = {.l = l};
    a.other = &b;
    fired_total = 0;
    loop_timer_arm(l, &a.self, 0, tmr_fire, &a);
    loop_timer_arm(l, &b.self, 0, tmr_fire, &b);
    loop_timer_arm(l, &c.self, 0, tmr_fire, &c); /* behind b in the due list */
    settle_ms(3);
    (void) loop_run_once(l, 0);
    CHECK_INT(a.fired, 1);
    CHECK_INT(b.fired, 0); /* moved to the next run */
    CHECK_INT(c.fired, 1); /* the list behind b is intact */
    CHECK(b.self.armed);
    settle_ms(3);
    (void) loop_run_once(l, 0);
    CHECK_INT(b.fired, 1);
    settle_ms(3);
    (void) loop_run_once(l, 0);
    CHECK_INT(b.fired, 1);
    CHECK_INT(fired_total, 3);
    loop_free(l);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_loop__timer_cancelled_and_freed_by_one_due_with_it_never_fires);
    RUN(test_loop__timer_rearmed_by_one_due_with_it_fires_once_in_the_next_run);
    RUN(test_loop__quick_ack_finds_the_transfers_socket);
    curl_global_cleanup();
    return t_done();
}
