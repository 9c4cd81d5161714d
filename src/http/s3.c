#include "s3.h"

#include "err.h"
#include "log.h"
#include "strbuf.h"
#include "http/sigv4.h"
#include "http/status.h"
#include "http/xml.h"

#include <ctype.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct s3_client {
    struct loop *loop;
    char *scheme; /* "http" | "https" */
    char *host;   /* "127.0.0.1:8000" (port kept when given) */
    char *access_key;
    char *secret;
    char *region;
    bool virtual_host;
    int retries;
    struct s3_rate *rate; /* borrowed; NULL: bodies go out unlimited */
    struct raw_pool *raw; /* plain http: connections for span bodies (raw.h); else NULL */
    bool raw_off;         /* the endpoint answered what raw.c does not read: curl from now on */
};

#define RATE_PIECE 16384.0 /* bytes: the least burst, and what a paused body waits for */

struct s3_rate {
    double per_ms;     /* bytes per millisecond; 0: no limit */
    double burst;      /* most tokens kept */
    double tokens;     /* bytes that may go now */
    long long last_ms; /* when tokens were last topped up */
};

/* ---------------------------------------------------------------- rate */

int s3_rate_new(struct s3_rate **out, uint64_t bytes_per_s)
{
    struct s3_rate *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    s3_rate_set(r, bytes_per_s);
    r->tokens = r->burst;
    *out = r;
    return 0;
}

void s3_rate_set(struct s3_rate *r, uint64_t bytes_per_s)
{
    r->per_ms = (double) bytes_per_s / 1000.0;
    r->burst = (double) bytes_per_s / 20.0;
    if (r->burst < RATE_PIECE)
        r->burst = RATE_PIECE;
    if (r->tokens > r->burst)
        r->tokens = r->burst;
    r->last_ms = loop_now_ms();
}

void s3_rate_free(struct s3_rate *r)
{
    free(r);
}

void s3_client_set_rate(struct s3_client *c, struct s3_rate *r)
{
    c->rate = r;
}

static void rate_refill(struct s3_rate *r)
{
    long long now = loop_now_ms();
    if (now > r->last_ms) {
        r->tokens += (double) (now - r->last_ms) * r->per_ms;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
        r->last_ms = now;
    }
}

static void rate_resume(void *ud)
{
    s3_call_unpause(ud);
}

/* ---------------------------------------------------------------- client */

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

/* Span bodies go on our own sockets (raw.h) where curl would do no more than
 * plain HTTP/1.1 to the endpoint's own address: no TLS, no proxy from the
 * environment (curl honours it), path-style (a virtual host's name may
 * resolve elsewhere). RGW2CLOUD_CURL_ONLY=1 keeps every body on curl. */
static bool raw_suits(const struct s3_client *c)
{
    const char *curl_only = getenv("RGW2CLOUD_CURL_ONLY");
    return strcmp(c->scheme, "http") == 0 && !c->virtual_host &&
           !(curl_only && strcmp(curl_only, "1") == 0) && !env_set("http_proxy") &&
           !env_set("HTTP_PROXY") && !env_set("all_proxy") && !env_set("ALL_PROXY");
}

int s3_client_new(struct s3_client **out, struct loop *loop, const struct s3_endpoint *ep)
{
    const char *url = ep->url ? ep->url : "";
    const char *sep = strstr(url, "://");
    if (!sep || sep == url || !sep[3]) {
        err_set("s3: endpoint \"%s\" is not a URL; expected http(s)://host[:port]", url);
        return -EINVAL;
    }
    const char *host = sep + 3;
    size_t host_len = strcspn(host, "/?#");
    if (host_len == 0 || (host[host_len] == '/' && host[host_len + 1] != '\0')) {
        err_set("s3: endpoint \"%s\" has a path; expected http(s)://host[:port]", url);
        return -EINVAL;
    }
    struct s3_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->loop = loop;
    c->scheme = strndup(url, (size_t) (sep - url));
    c->host = strndup(host, host_len);
    c->access_key = strdup(ep->access_key ? ep->access_key : "");
    c->secret = strdup(ep->secret ? ep->secret : "");
    c->region = strdup(ep->region && *ep->region ? ep->region : "us-east-1");
    c->virtual_host = ep->virtual_host;
    c->retries = 4;
    if (!c->scheme || !c->host || !c->access_key || !c->secret || !c->region) {
        s3_client_free(c);
        return -ENOMEM;
    }
    for (char *p = c->scheme; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    if (strcmp(c->scheme, "http") != 0 && strcmp(c->scheme, "https") != 0) {
        err_set("s3: endpoint \"%s\": scheme must be http or https", url);
        s3_client_free(c);
        return -EINVAL;
    }
    if (raw_suits(c) && raw_pool_new(&c->raw, c->host) < 0) {
        s3_client_free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

void s3_client_free(struct s3_client *c)
{
    if (!c)
        return;
    free(c->scheme);
    free(c->host);
    free(c->access_key);
    if (c->secret)
        memset(c->secret, 0, strlen(c->secret));
    free(c->secret);
    free(c->region);
    raw_pool_free(c->raw);
    free(c);
}

struct loop *s3_client_loop(const struct s3_client *c)
{
    return c->loop;
}

const char *s3_client_region(const struct s3_client *c)
{
    return c->region;
}

void s3_client_set_retries(struct s3_client *c, int retries)
{
    c->retries = retries < 0 ? 0 : retries;
}

/* ------------------------------------------------------------------ call */

void s3_call_init(struct s3_call *call)
{
    memset(call, 0, sizeof(*call));
}

static void kv_free(struct s3_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
}

static void call_reset_outcome(struct s3_call *call)
{
    free(call->resp);
    call->resp = NULL;
    call->resp_len = 0;
    kv_free(call->resp_headers, call->nresp_headers);
    free(call->resp_headers);
    call->resp_headers = NULL;
    call->nresp_headers = 0;
    free(call->detail);
    call->detail = NULL;
    call->err = 0;
    call->retryable = false;
    call->status = 0;
    call->bytes_sent = 0;
    call->bytes_received = 0;
    call->finished = false;
    call->body_off = 0;
    curl_slist_free_all(call->slist);
    call->slist = NULL;
    free(call->url);
    call->url = NULL;
}

void s3_call_finish(struct s3_call *call)
{
    if (call->client)
        loop_timer_cancel(call->client->loop, &call->rate_timer);
    call_reset_outcome(call);
    if (call->xfer.easy && call->client)
        loop_easy_put(call->client->loop, call->xfer.easy);
    free(call->method);
    free(call->bucket);
    free(call->key);
    kv_free(call->query, call->nquery);
    kv_free(call->headers, call->nheaders);
    free(call->body_owned);
    free(call->raw_head);
    s3_call_init(call);
}

static int dup_into(char **dst, const char *src)
{
    char *d = NULL;
    if (src && !(d = strdup(src)))
        return -ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

int s3_call_set(struct s3_call *call, const char *method, const char *bucket, const char *key)
{
    int r;
    if ((r = dup_into(&call->method, method)) < 0 || (r = dup_into(&call->bucket, bucket)) < 0 ||
        (r = dup_into(&call->key, key)) < 0)
        return r;
    return 0;
}

static int kv_add(struct s3_kv *kv, size_t *n, size_t max, const char *name, const char *value)
{
    if (*n >= max) {
        err_set("s3: too many query parameters or headers");
        return -E2BIG;
    }
    char *nm = strdup(name);
    char *v = value ? strdup(value) : NULL;
    if (!nm || (value && !v)) {
        free(nm);
        free(v);
        return -ENOMEM;
    }
    kv[*n].name = nm;
    kv[*n].value = v;
    (*n)++;
    return 0;
}

int s3_call_query(struct s3_call *call, const char *name, const char *value)
{
    return kv_add(call->query, &call->nquery, S3_MAX_QUERY, name, value);
}

int s3_call_header(struct s3_call *call, const char *name, const char *value)
{
    return kv_add(call->headers, &call->nheaders, S3_MAX_HEADERS, name, value ? value : "");
}

int s3_call_body(struct s3_call *call, const void *data, size_t len)
{
    char *b = malloc(len + 1);
    if (!b)
        return -ENOMEM;
    if (len)
        memcpy(b, data, len);
    b[len] = '\0';
    free(call->body_owned);
    call->body_owned = b;
    call->body = b;
    call->body_len = len;
    call->read = NULL;
    return 0;
}

void s3_call_body_ref(struct s3_call *call, const void *data, size_t len)
{
    free(call->body_owned);
    call->body_owned = NULL;
    call->body = data ? data : "";
    call->body_len = len;
    call->read = NULL;
}

void s3_call_reader(struct s3_call *call, s3_read_fn fn, void *ud, uint64_t len)
{
    free(call->body_owned);
    call->body_owned = NULL;
    call->body = NULL;
    call->body_len = 0;
    call->read = fn;
    call->read_ud = ud;
    call->read_len = len;
}

void s3_call_spans(struct s3_call *call, s3_sink_span_fn sink, s3_source_span_fn source,
                   s3_span_commit_fn commit, void *ud)
{
    call->sink_span = sink;
    call->source_span = source;
    call->span_commit = commit;
    call->span_ud = ud;
}

void s3_call_writer(struct s3_call *call, s3_write_fn fn, void *ud)
{
    call->write = fn;
    call->write_ud = ud;
}

const char *s3_call_resp_header(const struct s3_call *call, const char *name)
{
    for (size_t i = 0; i < call->nresp_headers; i++)
        if (strcasecmp(call->resp_headers[i].name, name) == 0)
            return call->resp_headers[i].value;
    return NULL;
}

char *s3_unquote(const char *s)
{
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
        return strndup(s + 1, len - 2);
    return strdup(s);
}

int s3_call_etag(const struct s3_call *call, char **out)
{
    const char *e = s3_call_resp_header(call, "etag");
    if (!e)
        return -ENOENT;
    *out = s3_unquote(e);
    return *out ? 0 : -ENOMEM;
}

/* ------------------------------------------------------- curl callbacks */

/* one line of a response head: 0, or -ENOMEM */
static int header_line(struct s3_call *call, const char *buf, size_t len)
{
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after 100-continue or a redirect): forget the
         * previous response's headers */
        kv_free(call->resp_headers, call->nresp_headers);
        call->nresp_headers = 0;
        return 0;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return 0;
    size_t nlen = (size_t) (colon - buf);
    const char *v = colon + 1;
    const char *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    struct s3_kv *nh = realloc(call->resp_headers, (call->nresp_headers + 1) * sizeof(*nh));
    if (!nh)
        return -ENOMEM;
    call->resp_headers = nh;
    char *name = strndup(buf, nlen);
    char *value = strndup(v, (size_t) (end - v));
    if (!name || !value) {
        free(name);
        free(value);
        return -ENOMEM;
    }
    for (char *p = name; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    nh[call->nresp_headers].name = name;
    nh[call->nresp_headers].value = value;
    call->nresp_headers++;
    return 0;
}

static size_t cb_header(char *buf, size_t size, size_t n, void *ud)
{
    struct s3_call *call = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0)
        /* without this, RGW's answers come ~40 ms late (see loop.h) */
        (void) loop_quick_ack(call->client->loop, call->xfer.easy);
    return header_line(call, buf, len) == 0 ? len : 0;
}

static size_t buffer_append(struct s3_call *call, const char *buf, size_t len)
{
    if (call->resp_len + len > S3_MAX_XML_BODY)
        return 0; /* CURLE_WRITE_ERROR: a body this large is not an S3 document */
    char *nb = realloc(call->resp, call->resp_len + len + 1);
    if (!nb)
        return 0;
    memcpy(nb + call->resp_len, buf, len);
    call->resp = nb;
    call->resp_len += len;
    call->resp[call->resp_len] = '\0';
    return len;
}

static size_t cb_write(char *buf, size_t size, size_t n, void *ud)
{
    struct s3_call *call = ud;
    size_t len = size * n;
    long code = 0;
    (void) curl_easy_getinfo(call->xfer.easy, CURLINFO_RESPONSE_CODE, &code);
    if (!call->write || code < 200 || code >= 300) {
        call->bytes_received += len;
        return buffer_append(call, buf, len);
    }
    size_t took = call->write(call->write_ud, buf, len);
    if (took == S3_WRITE_PAUSE)
        return CURL_WRITEFUNC_PAUSE;
    if (took <= len)
        call->bytes_received += took;
    return took;
}

static size_t cb_read(char *buf, size_t size, size_t n, void *ud)
{
    struct s3_call *call = ud;
    size_t max = size * n;
    struct s3_rate *rt = call->client->rate;
    if (rt && rt->per_ms > 0) {
        rate_refill(rt);
        if (rt->tokens < 1.0) {
            /* come back when a piece worth a send() may go (the burst
             * holds at least that) */
            long ms = (long) ((RATE_PIECE - rt->tokens) / rt->per_ms) + 1;
            loop_timer_arm(call->client->loop, &call->rate_timer, ms, rate_resume, call);
            return CURL_READFUNC_PAUSE;
        }
        if ((double) max > rt->tokens)
            max = (size_t) rt->tokens;
    }
    if (!call->read) {
        size_t left = call->body_len - call->body_off;
        size_t k = left < max ? left : max;
        if (k)
            memcpy(buf, call->body + call->body_off, k);
        call->body_off += k;
        call->bytes_sent += k;
        if (rt)
            rt->tokens -= (double) k;
        return k;
    }
    uint64_t left = call->read_len - call->bytes_sent;
    if (left == 0)
        return 0;
    if (max > left)
        max = (size_t) left;
    size_t k = call->read(call->read_ud, buf, max);
    if (k == S3_READ_PAUSE)
        return CURL_READFUNC_PAUSE;
    if (k == S3_READ_ABORT || k > max)
        return CURL_READFUNC_ABORT;
    if (k == 0) /* the source ended before the promised length */
        return CURL_READFUNC_ABORT;
    call->bytes_sent += k;
    if (rt)
        rt->tokens -= (double) k;
    return k;
}

/* ------------------------------------------------------------- sending */

/* the end of a call on either path: status set, rc curl's code or ours (raw.h) */
static void call_complete(struct s3_call *call, CURLcode rc)
{
    struct xml_error xe = {0};
    bool have_error_doc = false;
    if (call->resp_len > 0 && (call->status >= 300 || call->status < 200 || !call->write)) {
        /* an error document, also on 200 (S3 sends 200 then <Error> for
         * Complete and Copy): look at the root, whatever the status */
        have_error_doc = xml_parse_error(&xe, call->resp, call->resp_len) == 0;
        if (!have_error_doc && call->resp[0] == '{') {
            /* RGW's admin API answers errors in JSON: {"Code":..,"Message":..} */
            json_t *j = json_loadb(call->resp, call->resp_len, 0, NULL);
            const char *code = json_string_value(json_object_get(j, "Code"));
            if (code) {
                const char *msg = json_string_value(json_object_get(j, "Message"));
                const char *rid = json_string_value(json_object_get(j, "RequestId"));
                xe.code = strdup(code);
                xe.message = msg && *msg ? strdup(msg) : NULL;
                xe.request_id = rid ? strdup(rid) : NULL;
                have_error_doc = xe.code != NULL;
            }
            json_decref(j);
        }
    }
    call->err =
        status_to_errno((int) rc, call->status, have_error_doc ? xe.code : NULL, &call->retryable);
    if (call->err < 0) {
        char line[1024];
        const char *what = call->key ? call->key : "";
        if (rc != CURLE_OK)
            (void) snprintf(line, sizeof(line), "s3: %s %s/%s: %s", call->method,
                            call->bucket ? call->bucket : "", what, curl_easy_strerror(rc));
        else
            (void) snprintf(line, sizeof(line), "s3: %s %s/%s: HTTP %ld %s%s%s (request id %s)",
                            call->method, call->bucket ? call->bucket : "", what, call->status,
                            have_error_doc && xe.code ? xe.code : "",
                            have_error_doc && xe.message ? ": " : "",
                            have_error_doc && xe.message ? xe.message : "",
                            have_error_doc && xe.request_id ? xe.request_id : "none");
        free(call->detail);
        call->detail = strdup(line);
    }
    xml_error_finish(&xe);
    loop_timer_cancel(call->client->loop, &call->rate_timer);
    call->finished = true;
    if (call->done)
        call->done(call, call->done_ud);
}

static void call_done(struct loop_xfer *x, CURLcode rc)
{
    struct s3_call *call = (struct s3_call *) ((char *) x - offsetof(struct s3_call, xfer));
    (void) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &call->status);
    call_complete(call, rc);
}

/* ---------------------------------------------------- our own sockets */

static size_t raw_body_span(void *ud, const char **p)
{
    struct s3_call *call = ud;
    size_t k = call->source_span(call->span_ud, p);
    if (k == S3_SPAN_ABORT)
        return RAW_SPAN_ABORT;
    uint64_t left = call->read_len - call->bytes_sent;
    return k > left ? (size_t) left : k;
}

static void raw_body_took(void *ud, size_t n)
{
    struct s3_call *call = ud;
    call->bytes_sent += n;
    call->span_commit(call->span_ud, n);
}

static int raw_header(void *ud, const char *line, size_t len)
{
    return header_line(ud, line, len);
}

static size_t raw_sink_span(void *ud, char **p)
{
    struct s3_call *call = ud;
    size_t k = call->sink_span(call->span_ud, p);
    return k == S3_SPAN_ABORT ? RAW_SPAN_ABORT : k;
}

static void raw_sink_put(void *ud, size_t n)
{
    struct s3_call *call = ud;
    call->bytes_received += n;
    call->span_commit(call->span_ud, n);
}

static int raw_data(void *ud, const char *buf, size_t n)
{
    struct s3_call *call = ud;
    call->bytes_received += n;
    return buffer_append(call, buf, n) == n ? 0 : -1;
}

static void raw_done(void *ud, CURLcode rc, long status)
{
    struct s3_call *call = ud;
    call->status = status;
    if (rc == CURLE_WEIRD_SERVER_REPLY && !call->client->raw_off) {
        /* chunked, an odd head: curl reads every HTTP/1.1 answer; the call
         * fails retryable and its next send goes through curl */
        call->client->raw_off = true;
        log_warn("s3=%s msg=\"an answer the plain-http data path does not read (HTTP %ld): "
                 "bodies go through curl from now on\"",
                 call->client->host, status);
    }
    call_complete(call, rc);
}

static const struct raw_ops raw_ops = {
    .body_span = raw_body_span,
    .body_took = raw_body_took,
    .header = raw_header,
    .sink_span = raw_sink_span,
    .sink_put = raw_sink_put,
    .data = raw_data,
    .done = raw_done,
};

/* The signed request (call->url, call->slist) as an HTTP/1.1 head, sent on
 * a socket of ours. */
static int call_start_raw(struct s3_client *c, struct s3_call *call)
{
    const char *target = strstr(call->url, "://");
    target = target ? strchr(target + 3, '/') : NULL;
    if (!target)
        return -EINVAL;
    const char *host = call->url + strlen(c->scheme) + 3;
    struct strbuf sb = {0};
    strbuf_adds(&sb, call->method);
    strbuf_addc(&sb, ' ');
    strbuf_adds(&sb, target);
    strbuf_adds(&sb, " HTTP/1.1\r\nHost: ");
    strbuf_add(&sb, host, (size_t) (target - host));
    strbuf_adds(&sb, "\r\nUser-Agent: rgw2cloud\r\n");
    for (struct curl_slist *l = call->slist; l; l = l->next) {
        if (strcmp(l->data, "Expect:") == 0)
            continue;
        strbuf_adds(&sb, l->data);
        strbuf_adds(&sb, "\r\n");
    }
    if (call->source_span) {
        char len[48];
        (void) snprintf(len, sizeof(len), "Content-Length: %llu\r\n",
                        (unsigned long long) call->read_len);
        strbuf_adds(&sb, len);
    }
    strbuf_adds(&sb, "\r\n");
    char *head = strbuf_steal(&sb);
    if (!head)
        return -ENOMEM;
    free(call->raw_head);
    call->raw_head = head;
    call->raw = (struct raw_xfer){
        .ops = &raw_ops,
        .ud = call,
        .loop = c->loop,
        .pool = c->raw,
        .head = call->raw_head,
        .head_len = strlen(call->raw_head),
        .body_len = call->source_span ? call->read_len : 0,
        .sink = call->sink_span != NULL,
    };
    call->on_raw = true;
    return raw_start(&call->raw);
}

static int call_sign_and_setup(struct s3_client *c, struct s3_call *call)
{
    /* path as the client means it, decoded: the signer encodes it once */
    size_t plen =
        3 + (call->bucket ? strlen(call->bucket) : 0) + (call->key ? strlen(call->key) : 0);
    char *path = malloc(plen);
    char *host = NULL;
    if (!path)
        return -ENOMEM;
    if (call->bucket && c->virtual_host) {
        (void) snprintf(path, plen, "/%s", call->key ? call->key : "");
        if (asprintf(&host, "%s.%s", call->bucket, c->host) < 0)
            host = NULL;
    } else if (call->bucket) {
        if (call->key)
            (void) snprintf(path, plen, "/%s/%s", call->bucket, call->key);
        else
            (void) snprintf(path, plen, "/%s", call->bucket);
        host = strdup(c->host);
    } else {
        (void) snprintf(path, plen, "/");
        host = strdup(c->host);
    }
    if (!host) {
        free(path);
        return -ENOMEM;
    }

    char amz_date[17];
    sigv4_amz_date(amz_date, (long long) time(NULL));
    char payload[65];
    const char *payload_hash;
    if (call->read) {
        payload_hash = SIGV4_UNSIGNED_PAYLOAD;
    } else if (call->body && call->unsigned_payload) {
        payload_hash = SIGV4_UNSIGNED_PAYLOAD;
    } else if (call->body) {
        sigv4_sha256_hex(payload, call->body, call->body_len);
        payload_hash = payload;
    } else {
        payload_hash = SIGV4_EMPTY_SHA256;
    }

    struct sigv4_kv q[S3_MAX_QUERY];
    for (size_t i = 0; i < call->nquery; i++)
        q[i] = (struct sigv4_kv){call->query[i].name, call->query[i].value};
    struct sigv4_kv h[S3_MAX_HEADERS + 3];
    size_t nh = 0;
    h[nh++] = (struct sigv4_kv){"host", host};
    h[nh++] = (struct sigv4_kv){"x-amz-date", amz_date};
    h[nh++] = (struct sigv4_kv){"x-amz-content-sha256", payload_hash};
    for (size_t i = 0; i < call->nheaders; i++)
        h[nh++] = (struct sigv4_kv){call->headers[i].name, call->headers[i].value};

    struct sigv4_request req = {
        .method = call->method,
        .path = path,
        .query = q,
        .nquery = call->nquery,
        .headers = h,
        .nheaders = nh,
        .amz_date = amz_date,
        .payload_hash = payload_hash,
    };
    struct sigv4_creds creds = {c->access_key, c->secret, c->region, "s3"};
    struct sigv4_result sig = {0};
    int r = sigv4_sign(&sig, &req, &creds);
    if (r < 0)
        goto out;

    r = -ENOMEM;
    if (asprintf(&call->url, "%s://%s%s%s%s", c->scheme, host, sig.canonical_path,
                 sig.canonical_query[0] ? "?" : "", sig.canonical_query) < 0) {
        call->url = NULL;
        goto out;
    }
    /* every header we send is signed, except what curl adds and the
     * Authorization itself */
    char line[8192];
    for (size_t i = 1; i < nh; i++) {
        (void) snprintf(line, sizeof(line), "%s: %s", h[i].name, h[i].value);
        struct curl_slist *ns = curl_slist_append(call->slist, line);
        if (!ns)
            goto out;
        call->slist = ns;
    }
    (void) snprintf(line, sizeof(line), "Authorization: %s", sig.authorization);
    struct curl_slist *ns = curl_slist_append(call->slist, line);
    if (!ns)
        goto out;
    call->slist = ns;
    if (call->read) {
        /* no "Expect: 100-continue" on a streamed body: libcurl can lose
         * the wake-up of a read callback that paused while it waited for
         * the 100 (curl/curl#18848), and it costs a round trip per upload */
        if (!(ns = curl_slist_append(call->slist, "Expect:")))
            goto out;
        call->slist = ns;
    }
    r = 0;
out:
    sigv4_result_finish(&sig);
    free(path);
    free(host);
    return r;
}

int s3_call_start(struct s3_client *c, struct s3_call *call, s3_done_fn done, void *ud)
{
    if (!call->method)
        return -EINVAL;
    if (call->xfer.easy) { /* a resend: a fresh handle, the pool resets it */
        loop_easy_put(c->loop, call->xfer.easy);
        call->xfer.easy = NULL;
    }
    call_reset_outcome(call);
    call->client = c;
    call->done = done;
    call->done_ud = ud;
    call->attempts++;
    call->on_raw = false;
    int r = call_sign_and_setup(c, call);
    if (r < 0)
        return r;
    /* span bodies on plain http go on our own sockets (raw.h); a rate limit
     * paces curl's reads, so a limited client stays on curl */
    if (c->raw && !c->raw_off && !(c->rate && c->rate->per_ms > 0) && call->span_commit &&
        ((call->sink_span && !call->read && !call->body && strcmp(call->method, "GET") == 0) ||
         (call->source_span && call->read && strcmp(call->method, "PUT") == 0))) {
        log_debug("http=raw method=%s bucket=%s key=\"%s\"", call->method,
                  call->bucket ? call->bucket : "", call->key ? call->key : "");
        return call_start_raw(c, call);
    }
    if (!call->xfer.easy && !(call->xfer.easy = loop_easy_get(c->loop)))
        return -ENOMEM;

    CURL *e = call->xfer.easy;
    (void) curl_easy_setopt(e, CURLOPT_URL, call->url);
    (void) curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->slist);
    (void) curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, cb_header);
    (void) curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    (void) curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cb_write);
    (void) curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    bool has_body = call->read || call->body;
    if (strcmp(call->method, "HEAD") == 0) {
        (void) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (has_body || strcmp(call->method, "PUT") == 0 || strcmp(call->method, "POST") == 0) {
        /* UPLOAD, not POST: curl would add an unsigned form Content-Type */
        (void) curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        (void) curl_easy_setopt(e, CURLOPT_READFUNCTION, cb_read);
        (void) curl_easy_setopt(e, CURLOPT_READDATA, call);
        (void) curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
                                (curl_off_t) (call->read ? call->read_len : call->body_len));
        if (strcmp(call->method, "PUT") != 0)
            (void) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, call->method);
    } else if (strcmp(call->method, "GET") != 0) {
        (void) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, call->method);
    }
    call->xfer.done = call_done;
    return loop_start(c->loop, &call->xfer);
}

long s3_backoff_ms(long first_ms, int attempt, long cap_ms)
{
    long base = first_ms << (attempt < 6 ? attempt : 6);
    if (base > cap_ms)
        base = cap_ms;
    return base / 2 + (long) (random() % (base / 2 + 1));
}

int s3_call_run(struct s3_client *c, struct s3_call *call)
{
    call->attempts = 0;
    for (;;) {
        int r = s3_call_start(c, call, NULL, NULL);
        if (r < 0) {
            call->err = r;
            return r;
        }
        while (!call->finished) {
            r = loop_run_once(c->loop, 1000);
            if (r < 0) {
                s3_call_abort(call);
                call->err = r;
                return r;
            }
        }
        if (call->err == 0 || !call->retryable || call->read || call->attempts > c->retries)
            break;
        /* wait, but keep the loop's other transfers moving */
        struct timespec until, now;
        (void) clock_gettime(CLOCK_MONOTONIC, &until);
        long ms = s3_backoff_ms(200, call->attempts - 1, 10000); /* 0.2 .. 10 s */
        until.tv_sec += ms / 1000;
        until.tv_nsec += (ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        for (;;) {
            (void) clock_gettime(CLOCK_MONOTONIC, &now);
            long left =
                (until.tv_sec - now.tv_sec) * 1000 + (until.tv_nsec - now.tv_nsec) / 1000000;
            if (left <= 0)
                break;
            (void) loop_run_once(c->loop, (int) left);
        }
    }
    if (call->err < 0)
        err_set("%s", call->detail ? call->detail : "s3: request failed");
    return call->err;
}

void s3_call_unpause(struct s3_call *call)
{
    if (call->on_raw)
        raw_unpause(&call->raw);
    else if (call->xfer.easy)
        (void) curl_easy_pause(call->xfer.easy, CURLPAUSE_CONT);
}

void s3_call_abort(struct s3_call *call)
{
    if (call->client)
        loop_timer_cancel(call->client->loop, &call->rate_timer);
    if (call->on_raw)
        raw_abort(&call->raw);
    else if (call->client && call->xfer.easy && !call->finished)
        loop_cancel(call->client->loop, &call->xfer);
    call->finished = true;
}
