#include "loop.h"

#include "err.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EASY_POOL_MAX 64

struct loop {
    CURLM *multi;
    CURLSH *share;
    int in_multi;
    CURL *pool[EASY_POOL_MAX];
    int npool;
    struct loop_timer *timers; /* sorted by due_ms */
    struct loop_timer *due;    /* taken off timers by timers_run(), not fired yet */
    struct loop_sock *socks;   /* every socket curl opened, for loop_quick_ack() */
    int nsocks, capsocks;
    struct loop_fd **fds; /* our own sockets (loop_fd_add) */
    int nfds, capfds;
    struct curl_waitfd *wait; /* scratch for curl_multi_poll, capfds entries */
    struct loop_fd **ready;   /* scratch: watchers to call; loop_fd_del() clears its entry */
    int nready;
};

struct loop_sock {
    curl_socket_t fd;
    int port; /* local port; 0 until first looked up */
};

long long loop_now_ms(void)
{
    struct timespec ts;
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool timer_unlink(struct loop_timer **head, struct loop_timer *t)
{
    for (struct loop_timer **p = head; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            return true;
        }
    }
    return false;
}

/* Also for a timer that is due and waits its turn in timers_run(): a
 * callback may cancel (and free) or re-arm another timer due with it. */
void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    if (!t->armed)
        return;
    if (!timer_unlink(&l->timers, t))
        (void) timer_unlink(&l->due, t);
    t->armed = false;
    t->next = NULL;
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, long ms, void (*fn)(void *), void *ud)
{
    loop_timer_cancel(l, t);
    t->fn = fn;
    t->ud = ud;
    t->due_ms = loop_now_ms() + (ms > 0 ? ms : 0);
    struct loop_timer **p = &l->timers;
    while (*p && (*p)->due_ms <= t->due_ms)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    t->armed = true;
}

/* Fire what is due; each fires once even if it re-arms itself (then it is
 * due again only in the next run). */
static void timers_run(struct loop *l)
{
    long long now = loop_now_ms();
    struct loop_timer **tail = &l->due;
    while (*tail)
        tail = &(*tail)->next;
    while (l->timers && l->timers->due_ms <= now) {
        struct loop_timer *t = l->timers;
        l->timers = t->next;
        t->next = NULL;
        *tail = t;
        tail = &t->next;
    }
    while (l->due) {
        struct loop_timer *t = l->due;
        l->due = t->next;
        t->next = NULL;
        t->armed = false;
        t->fn(t->ud); /* may free t, or cancel, free or re-arm others */
    }
}

int loop_new(struct loop **out, const struct loop_opts *opts)
{
    static bool global_done;
    if (!global_done) {
        /* not thread-safe by curl's contract: the first loop is made before
         * any other thread exists */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            err_set("curl: global init failed");
            return -EIO;
        }
        global_done = true;
    }
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->multi = curl_multi_init();
    l->share = curl_share_init();
    if (!l->multi || !l->share) {
        loop_free(l);
        return -ENOMEM;
    }
    (void) curl_share_setopt(l->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    (void) curl_share_setopt(l->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (opts && opts->max_host_connections > 0)
        (void) curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                                 opts->max_host_connections);
    if (opts && opts->max_connections > 0)
        (void) curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, opts->max_connections);
    *out = l;
    return 0;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->npool; i++)
        curl_easy_cleanup(l->pool[i]);
    if (l->multi)
        (void) curl_multi_cleanup(l->multi);
    if (l->share)
        (void) curl_share_cleanup(l->share);
    free(l->socks);
    free(l->fds);
    free(l->wait);
    free(l->ready);
    free(l);
}

int loop_fd_add(struct loop *l, struct loop_fd *w)
{
    if (l->nfds == l->capfds) {
        int cap = l->capfds ? l->capfds * 2 : 32;
        struct loop_fd **nf = realloc(l->fds, (size_t) cap * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        l->fds = nf;
        struct curl_waitfd *nw = realloc(l->wait, (size_t) cap * sizeof(*nw));
        if (!nw)
            return -ENOMEM;
        l->wait = nw;
        struct loop_fd **nr = realloc(l->ready, (size_t) cap * sizeof(*nr));
        if (!nr)
            return -ENOMEM;
        l->ready = nr;
        l->capfds = cap;
    }
    w->slot = l->nfds;
    l->fds[l->nfds++] = w;
    return 0;
}

void loop_fd_del(struct loop *l, struct loop_fd *w)
{
    if (w->slot < 0 || w->slot >= l->nfds || l->fds[w->slot] != w)
        return;
    struct loop_fd *last = l->fds[--l->nfds];
    l->fds[w->slot] = last;
    last->slot = w->slot;
    w->slot = -1;
    for (int i = 0; i < l->nready; i++)
        if (l->ready[i] == w)
            l->ready[i] = NULL;
}

/* poll curl's sockets and ours together; then call our watchers that are ready */
static CURLMcode poll_all(struct loop *l, int timeout_ms)
{
    unsigned n = 0;
    for (int i = 0; i < l->nfds; i++) {
        if (!l->fds[i]->events)
            continue;
        l->wait[n].fd = l->fds[i]->fd;
        l->wait[n].events = l->fds[i]->events;
        l->wait[n].revents = 0;
        n++;
    }
    CURLMcode mc = curl_multi_poll(l->multi, n ? l->wait : NULL, n, timeout_ms, NULL);
    if (mc != CURLM_OK || n == 0)
        return mc;
    l->nready = 0;
    unsigned k = 0;
    for (int i = 0; i < l->nfds && k < n; i++) {
        if (!l->fds[i]->events)
            continue;
        if (l->wait[k].revents) {
            l->ready[l->nready++] = l->fds[i];
            l->wait[l->nready - 1].revents = l->wait[k].revents; /* k >= nready - 1 */
        }
        k++;
    }
    for (int i = 0; i < l->nready; i++) {
        struct loop_fd *w = l->ready[i];
        if (w) /* a watcher called before may have removed it */
            w->fn(w, l->wait[i].revents);
    }
    l->nready = 0;
    return CURLM_OK;
}

/* curl's connections come and go inside the multi; we keep their sockets so
 * that loop_quick_ack() can find the one a transfer is on (curl tells the
 * socket of a transfer only once it has ended). */
static int cb_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    struct loop *l = ud;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKOPT_OK;
    if (l->nsocks == l->capsocks) {
        int cap = l->capsocks ? l->capsocks * 2 : 64;
        struct loop_sock *n = realloc(l->socks, (size_t) cap * sizeof(*n));
        if (!n)
            return CURL_SOCKOPT_OK; /* only loses the quick ACKs of this one */
        l->socks = n;
        l->capsocks = cap;
    }
    l->socks[l->nsocks++] = (struct loop_sock){.fd = fd};
    return CURL_SOCKOPT_OK;
}

static int cb_closesocket(void *ud, curl_socket_t fd)
{
    struct loop *l = ud;
    for (int i = 0; i < l->nsocks; i++)
        if (l->socks[i].fd == fd) {
            l->socks[i] = l->socks[--l->nsocks];
            break;
        }
    return close(fd);
}

static int sock_port(curl_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *) &ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *) &ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
    return 0;
}

int loop_quick_ack(struct loop *l, CURL *easy)
{
    long port = 0;
    if (curl_easy_getinfo(easy, CURLINFO_LOCAL_PORT, &port) != CURLE_OK || port <= 0)
        return -1;
    for (int i = 0; i < l->nsocks; i++) {
        struct loop_sock *s = &l->socks[i];
        if (s->port == 0)
            s->port = sock_port(s->fd);
        if (s->port == port)
            return setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int)) == 0 ? s->fd
                                                                                             : -1;
    }
    return -1;
}

static void easy_common(struct loop *l, CURL *e)
{
    (void) curl_easy_setopt(e, CURLOPT_SHARE, l->share);
    (void) curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, cb_sockopt);
    (void) curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, l);
    (void) curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, cb_closesocket);
    (void) curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, l);
    (void) curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    (void) curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    (void) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* a transfer that moves less than 1 byte/s for 60 s is stalled: fail it
     * (retryable) rather than hang a worker forever */
    (void) curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    (void) curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
    (void) curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    (void) curl_easy_setopt(e, CURLOPT_USERAGENT, "rgw2cloud");
}

CURL *loop_easy_get(struct loop *l)
{
    CURL *e;
    if (l->npool > 0) {
        e = l->pool[--l->npool];
        curl_easy_reset(e);
    } else {
        e = curl_easy_init();
        if (!e)
            return NULL;
    }
    easy_common(l, e);
    return e;
}

void loop_easy_put(struct loop *l, CURL *easy)
{
    if (!easy)
        return;
    if (l->npool < EASY_POOL_MAX)
        l->pool[l->npool++] = easy;
    else
        curl_easy_cleanup(easy);
}

int loop_start(struct loop *l, struct loop_xfer *x)
{
    if (!x->easy || !x->done)
        return -EINVAL;
    (void) curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    CURLMcode mc = curl_multi_add_handle(l->multi, x->easy);
    if (mc != CURLM_OK) {
        err_set("curl: multi add: %s", curl_multi_strerror(mc));
        return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
    }
    l->in_multi++;
    return 0;
}

void loop_cancel(struct loop *l, struct loop_xfer *x)
{
    if (curl_multi_remove_handle(l->multi, x->easy) == CURLM_OK)
        l->in_multi--;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
    int still = 0;
    CURLMcode mc = curl_multi_perform(l->multi, &still);
    /* wait only when nothing finished yet: with no transfer at all this
     * still waits, for loop_wakeup() or the timeout */
    if (l->timers) {
        long long wait = l->timers->due_ms - loop_now_ms();
        if (wait < timeout_ms)
            timeout_ms = wait < 0 ? 0 : (int) wait;
    }
    if (mc == CURLM_OK && ((still == l->in_multi && timeout_ms > 0) || l->nfds)) {
        /* our sockets are polled even when curl has news: they have no
         * other way in (timeout 0 then) */
        mc = poll_all(l, still == l->in_multi && timeout_ms > 0 ? timeout_ms : 0);
        if (mc == CURLM_OK)
            mc = curl_multi_perform(l->multi, &still);
    }
    if (mc != CURLM_OK) {
        err_set("curl: multi: %s", curl_multi_strerror(mc));
        return -EIO;
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        struct loop_xfer *x = NULL;
        (void) curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **) &x);
        (void) curl_multi_remove_handle(l->multi, e);
        l->in_multi--;
        /* done() may start new transfers or free x: touch nothing after */
        if (x)
            x->done(x, rc);
    }
    timers_run(l);
    return l->in_multi + l->nfds;
}

int loop_running(const struct loop *l)
{
    return l->in_multi + l->nfds;
}

void loop_wakeup(struct loop *l)
{
    (void) curl_multi_wakeup(l->multi);
}
