/* HTTP/1.1 on sockets of our own, for request and response bodies that stream through the
 * caller's memory with no copy of ours (plain-http endpoints only).
 *
 * curl copies every body byte twice in user space: from the socket into its buffer and from
 * there into ours (a GET), or from ours into its buffer and from there into the socket (a PUT),
 * in pieces of 16 to 64 KiB. Here recv() writes straight into the caller's span and send()
 * reads straight from it, as much as the span and the socket take. The multipart parts use it
 * (modules/s3/multipart.c): on the lab it is most of the difference between a part path that
 * costs more CPU than rclone's single PUTs and one that costs less.
 *
 * One exchange at a time per raw_xfer: a request head and an optional body out, a response
 * head and body in; the connection goes back to the pool (keep-alive) when the exchange ended
 * cleanly. Errors come as curl's codes (CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, ...), so that the
 * caller classifies them as it does curl's (http/status.h). */
#ifndef RGW2CLOUD_RAW_H
#define RGW2CLOUD_RAW_H

#include "loop.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAW_SPAN_ABORT ((size_t) -2)

/* Idle keep-alive connections to one host:port. */
struct raw_pool;
int raw_pool_new(struct raw_pool **out, const char *hostport); /* "host[:port]", port 80 */
void raw_pool_free(struct raw_pool *p);                        /* accepts NULL */

struct raw_ops {
    /* the request body's next bytes at *p: their count, 0 for none now (the body pauses until
     * raw_unpause), or RAW_SPAN_ABORT */
    size_t (*body_span)(void *ud, const char **p);
    void (*body_took)(void *ud, size_t n); /* n bytes of that span are sent */
    /* every line of the response head without its CRLF, the status line first; < 0 aborts */
    int (*header)(void *ud, const char *line, size_t len);
    /* a 2xx response's body when the exchange has a sink: room at *p, 0 (pause) or
     * RAW_SPAN_ABORT; then sink_put() says how many bytes landed there */
    size_t (*sink_span)(void *ud, char **p);
    void (*sink_put)(void *ud, size_t n);
    /* any other response body, copied: < 0 aborts */
    int (*data)(void *ud, const char *buf, size_t n);
    /* the end, once: CURLE_OK or what failed, with the HTTP status (0 if none came) */
    void (*done)(void *ud, CURLcode rc, long status);
};

struct raw_xfer {
    /* set by the caller before raw_start() */
    const struct raw_ops *ops;
    void *ud;
    struct loop *loop;
    struct raw_pool *pool;
    char *head; /* the request head, CRLF CRLF included; owned by the caller */
    size_t head_len;
    uint64_t body_len; /* request body bytes, from body_span() */
    bool sink;         /* a 2xx body goes to sink_span() */

    /* internal */
    struct loop_fd w;
    struct loop_timer timer, kick;
    int state;
    bool active, paused_in, paused_out, to_close;
    char *hbuf;
    size_t hlen;
    size_t lo_off, lo_len; /* body bytes read with the head, in hbuf, not delivered yet */
    size_t head_off;
    uint64_t body_off;
    long status;
    uint64_t clen, rbody;
    bool have_clen;
    long long last_ms;
};

/* Starts x: a connection from the pool or a new one. 0, or a negative errno (done() is then
 * not called). */
int raw_start(struct raw_xfer *x);
/* The body (or the sink) has bytes (room) again. */
void raw_unpause(struct raw_xfer *x);
/* Ends a running x without done(); its connection is closed. No-op when not running. */
void raw_abort(struct raw_xfer *x);

#endif
