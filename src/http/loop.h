/* One event loop over curl's multi interface.
 *
 * Every transfer of the process runs in one multi, driven by one thread: the
 * connections (keep-alive), DNS and TLS sessions are shared without locks,
 * and scheduling, retries and rate limits live in one place. Callers embed a
 * struct loop_xfer, configure its easy handle and start it; the loop calls
 * done() once when the transfer ends, from loop_run_once(). */
#ifndef RGW2CLOUD_LOOP_H
#define RGW2CLOUD_LOOP_H

#include <curl/curl.h>
#include <stdbool.h>

struct loop;

struct loop_xfer {
    CURL *easy; /* from loop_easy_get(); configured by the owner */
    /* Called once, from loop_run_once(), after the easy handle left the
     * multi. The owner MAY free x (and return the easy handle) inside. */
    void (*done)(struct loop_xfer *x, CURLcode result);
};

struct loop_opts {
    long max_host_connections; /* 0 = unlimited */
    long max_connections;      /* cache size; 0 = curl's default */
};

int loop_new(struct loop **out, const struct loop_opts *opts);
void loop_free(struct loop *l); /* accepts NULL; no transfer may be running */

/* A reset easy handle with the loop's common options (share, keepalive,
 * stall detection, no signals). NULL on ENOMEM. */
CURL *loop_easy_get(struct loop *l);
void loop_easy_put(struct loop *l, CURL *easy); /* accepts NULL; keeps a few for reuse */

/* Hand x to the multi. 0 or -ENOMEM / -EINVAL; on error done() is not called. */
int loop_start(struct loop *l, struct loop_xfer *x);

/* Remove a running transfer without calling done(). */
void loop_cancel(struct loop *l, struct loop_xfer *x);

/* Wait up to timeout_ms for activity, drive transfers, call done() for the
 * finished ones. Returns the number of transfers still running, or a
 * negative errno when curl's multi failed. */
int loop_run_once(struct loop *l, int timeout_ms);

/* Number of transfers in the multi. */
int loop_running(const struct loop *l);

/* ACK what easy's connection received, now. Call it when a response's
 * status line is in: a server that writes the head and the body of a
 * response apart, with Nagle on (RGW's default), sends the body only once the
 * head is ACKed, and Linux delays that ACK by up to 40 ms on a keep-alive
 * connection. Returns the socket ACKed, or -1 (none found: nothing done). */
int loop_quick_ack(struct loop *l, CURL *easy);

/* Wake a loop_run_once() blocked in poll; callable from any thread. */
void loop_wakeup(struct loop *l);

/* A one-shot timer: fn(ud) is called from loop_run_once() once ms have
 * passed (not before). Caller-owned storage; it MUST stay valid until fired
 * or cancelled. Re-arming a pending timer moves it. */
struct loop_timer {
    void (*fn)(void *ud);
    void *ud;
    long long due_ms; /* monotonic; internal */
    struct loop_timer *next; /* internal */
    bool armed;
};
void loop_timer_arm(struct loop *l, struct loop_timer *t, long ms, void (*fn)(void *), void *ud);
void loop_timer_cancel(struct loop *l, struct loop_timer *t); /* no-op when not armed */

/* A socket of our own in the loop (the plain-HTTP data path, raw.c): fn is
 * called from loop_run_once() with the poll revents when one of events is
 * ready. Caller-owned storage, valid until loop_fd_del(). A watcher counts
 * as a running transfer (loop_running, loop_run_once's result) even while
 * its events are 0 (paused). */
struct loop_fd {
    int fd;
    short events; /* POLLIN | POLLOUT, changed by the owner at any time */
    void (*fn)(struct loop_fd *w, short revents);
    int slot; /* internal: index in the loop's list, -1 when not in it */
};
int loop_fd_add(struct loop *l, struct loop_fd *w); /* 0 or -ENOMEM */
void loop_fd_del(struct loop *l, struct loop_fd *w); /* no-op when not added */

/* Monotonic milliseconds. */
long long loop_now_ms(void);

#endif
