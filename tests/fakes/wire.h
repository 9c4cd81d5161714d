/* HTTP/1.1 on the wire, for faultproxy: buffered sockets, message heads,
 * and bodies relayed from one socket to another in pieces of at most
 * WIRE_BUF_SIZE (never a whole body in memory). Blocking I/O; one thread
 * owns a sock at a time. */
#ifndef FAULTPROXY_WIRE_H
#define FAULTPROXY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WIRE_BUF_SIZE (64u << 10) /* per socket; also the largest message head */

/* A socket with a read buffer: heads are parsed out of buf, bodies relayed
 * from it first. buf holds WIRE_BUF_SIZE bytes, owned by the caller. */
struct sock {
    int fd;
    char *buf;
    size_t off, len;
};

/* The framing and connection facts of one message head. */
struct msg {
    char method[16]; /* requests */
    int status;      /* responses */
    uint64_t length; /* Content-Length, when has_length */
    bool has_length, chunked, expect, close;
};

/* Where relayed bytes go. */
struct fwd {
    int fd;          /* -1: dropped */
    uint64_t budget; /* body bytes that may still go; UINT64_MAX: no cut */
    uint64_t flip_at; /* the body byte at this offset goes inverted; UINT64_MAX: none */
    uint64_t done;    /* body bytes relayed so far */
    /* MAY be NULL; called with each count of body bytes the peer took */
    void (*count)(void *ud, uint64_t n);
    void *ud;
};

/* What the relay functions return. */
enum { RELAY_OK = 0, RELAY_CUT = 1 /* budget used up */, RELAY_SRC = -1, RELAY_DST = -2 };

/* More bytes into s->buf: >0 read, 0 EOF, -1 error or buffer full. */
ssize_t sock_fill(struct sock *s);
/* One message head (through the empty line) into out, NUL-terminated.
 * Returns its length, 0 on EOF before its first byte, -1 on error or a head
 * larger than the buffer or cap. */
ssize_t sock_read_head(struct sock *s, char *out, size_t cap);
/* All of p, or -1. Never raises SIGPIPE. */
int send_all(int fd, const char *p, size_t n);

/* A body of n bytes, a chunked body (only chunk data is body: counted and
 * held to the budget; framing passes as is), or all until src closes. */
int relay_fixed(struct sock *src, struct fwd *f, uint64_t n);
int relay_chunked(struct sock *src, struct fwd *f);
int relay_until_close(struct sock *src, struct fwd *f);

/* Header name's value (trimmed, first occurrence) into out; false if absent. */
bool head_header(const char *head, const char *name, char *out, size_t cap);
/* A request head: method into m, the request target (origin form only) and
 * the Host header into target and host. -1 on a malformed head. */
int head_parse_request(const char *head, struct msg *m, char *target, size_t tcap, char *host,
                       size_t hcap);
/* A response head: status into m. -1 on a malformed head. */
int head_parse_response(const char *head, struct msg *m);
bool msg_has_body(const struct msg *m);

/* A decimal without sign or junk. */
bool parse_u64(const char *s, uint64_t *out);

#endif
