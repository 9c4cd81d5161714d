#include "server/server.h"

#include "err.h"
#include "http/sigv4.h"
#include "log.h"
#include "server/auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* "trim everything" marker: sorts after any cls_log / FIFO marker
 * (RGWSyncLogTrimCR::max_marker in rgw_sync.cc). */
#define META_TRIM_ALL_MARKER "99999999"

#define MAX_NOTIFY_SHARDS 65536
#define COMPLAIN_INTERVAL 60 /* seconds between two warnings of one kind */

enum complaint { C_AUTH, C_HOOK, C_COUNT };

struct server {
    struct MHD_Daemon *mhd;
    int port;
    char *access_key;
    char *secret;
    struct server_hooks hooks;

    pthread_mutex_t lock;    /* guards md_* (server_set_mdlog() runs elsewhere) */
    uint32_t md_realm_epoch; /* 0 = unknown */
    unsigned md_num_shards;

    /* server thread only */
    uint64_t responses[6]; /* by status class: [2] = 2xx ... [5] = 5xx */
    uint64_t auth_failures;
    uint64_t data_notifies;
    uint64_t period_pushes;
    time_t last_complaint[C_COUNT];
    uint64_t suppressed[C_COUNT];
};

/* One request: the raw URI (the access handler only sees it decoded) and the
 * body, allocated when MHD reads the request line. */
struct req {
    char *raw_uri;
    char *body;
    size_t len, cap;
    bool started;
    bool too_large;
};

/* A decoded query string, in received order. */
struct query {
    struct sigv4_kv *kv;
    size_t n;
};

/* ---- small helpers ------------------------------------------------------ */

/* Warn once per COMPLAIN_INTERVAL for each kind, debug otherwise. */
static void complain(struct server *s, enum complaint kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void complain(struct server *s, enum complaint kind, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    (void) vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    if (now - s->last_complaint[kind] >= COMPLAIN_INTERVAL) {
        if (s->suppressed[kind])
            log_warn("server: %s (and %" PRIu64 " similar in the last %d s)", msg,
                     s->suppressed[kind], COMPLAIN_INTERVAL);
        else
            log_warn("server: %s", msg);
        s->last_complaint[kind] = now;
        s->suppressed[kind] = 0;
    } else {
        s->suppressed[kind]++;
        log_debug("server: %s", msg);
    }
}

static void query_finish(struct query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free((char *) q->kv[i].name);
        free((char *) q->kv[i].value);
    }
    free(q->kv);
    q->kv = NULL;
    q->n = 0;
}

/* Splits "a=1&b&c=" (no leading '?') and percent-decodes names and values.
 * Returns 0, -EINVAL (bad escape), -ENOMEM. */
static int query_parse(struct query *q, const char *qs)
{
    size_t cap = 1;
    for (const char *p = qs; *p; p++)
        cap += *p == '&';
    q->n = 0;
    q->kv = calloc(cap, sizeof(*q->kv));
    if (!q->kv)
        return -ENOMEM;
    const char *p = qs;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t nl = eq ? (size_t) (eq - p) : len;
            char *name = sigv4_uri_decode(p, nl);
            char *value = NULL;
            if (name && eq)
                value = sigv4_uri_decode(eq + 1, len - nl - 1);
            if (!name || (eq && !value)) {
                int rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
                free(name);
                query_finish(q);
                return rc;
            }
            q->kv[q->n].name = name;
            q->kv[q->n].value = value;
            q->n++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* RGWHTTPArgs::get: "" for a valueless parameter, NULL when absent. */
static const char *query_get(const struct query *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->kv[i].name, name) == 0)
            return q->kv[i].value ? q->kv[i].value : "";
    return NULL;
}

/* ---- responses ---------------------------------------------------------- */

/* Queues status with body (ownership taken when must_free). */
static enum MHD_Result reply(struct server *s, struct MHD_Connection *c, unsigned status,
                             const char *ctype, char *body, size_t len, bool must_free)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (must_free)
            free(body);
        return MHD_NO;
    }
    if (ctype)
        (void) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    if (status / 100 < 6)
        s->responses[status / 100]++;
    return ret;
}

static enum MHD_Result reply_text(struct server *s, struct MHD_Connection *c, unsigned status,
                                  const char *text)
{
    return reply(s, c, status, "text/plain; charset=utf-8", (char *) text, strlen(text), false);
}

/* S3-style JSON error, as RGW's admin API sends with its JSON formatter. */
static enum MHD_Result reply_error(struct server *s, struct MHD_Connection *c, unsigned status,
                                   const char *code)
{
    json_t *j = json_pack("{s:s}", "Code", code);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body)
        return reply_text(s, c, status, code);
    return reply(s, c, status, "application/json", body, strlen(body), true);
}

static unsigned status_of_hook_error(int rc, const char **code)
{
    switch (rc) {
    case -ENOENT:
        *code = "NoSuchKey";
        return MHD_HTTP_NOT_FOUND;
    case -EINVAL:
        *code = "InvalidArgument";
        return MHD_HTTP_BAD_REQUEST;
    default:
        *code = "InternalError";
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* Answers a status hook's outcome: JSON on success, mapped error else. */
static enum MHD_Result reply_hook(struct server *s, struct MHD_Connection *c, const char *what,
                                  int rc, char *json)
{
    if (rc >= 0 && json)
        return reply(s, c, MHD_HTTP_OK, "application/json", json, strlen(json), true);
    free(json);
    if (rc >= 0) {
        rc = -EIO;
        err_set("hook returned no body");
    }
    const char *code;
    unsigned status = status_of_hook_error(rc, &code);
    if (status == MHD_HTTP_INTERNAL_SERVER_ERROR)
        complain(s, C_HOOK, "%s failed (%s): %s", what, strerror(-rc), err_get());
    else
        log_debug("server: %s: %s: %s", what, strerror(-rc), err_get());
    return reply_error(s, c, status, code);
}

/* ---- default bodies ----------------------------------------------------- */

static enum MHD_Result serve_meta_status(struct server *s, struct MHD_Connection *c)
{
    char *json = NULL;
    int rc;
    if (s->hooks.metadata_status) {
        err_clear();
        rc = s->hooks.metadata_status(s->hooks.ud, &json);
        return reply_hook(s, c, "metadata status", rc, json);
    }
    pthread_mutex_lock(&s->lock);
    uint32_t epoch = s->md_realm_epoch;
    unsigned shards = s->md_num_shards;
    pthread_mutex_unlock(&s->lock);
    if (epoch == 0) {
        log_debug("server: metadata status asked before the realm epoch is known");
        return reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable");
    }
    rc = server_json_meta_status(&json, epoch, NULL, shards);
    return reply_hook(s, c, "metadata status", rc, json);
}

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends formatted text; on ENOMEM frees *buf and leaves NULL. */
static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    if (!*buf)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            free(*buf);
            *buf = NULL;
            return;
        }
        if ((size_t) n < *cap - *len) {
            *len += (size_t) n;
            return;
        }
        size_t ncap = (*cap + (size_t) n + 1) * 2;
        char *p = realloc(*buf, ncap);
        if (!p) {
            free(*buf);
            *buf = NULL;
            return;
        }
        *buf = p;
        *cap = ncap;
    }
}

static enum MHD_Result serve_metrics(struct server *s, struct MHD_Connection *c)
{
    char *text = NULL;
    if (s->hooks.metrics) {
        err_clear();
        int rc = s->hooks.metrics(s->hooks.ud, &text);
        if (rc < 0) {
            free(text);
            complain(s, C_HOOK, "metrics failed (%s): %s", strerror(-rc), err_get());
            return reply_text(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics unavailable\n");
        }
    }
    size_t len = text ? strlen(text) : 0, cap = len + 1024;
    char *buf = malloc(cap);
    if (!buf) {
        free(text);
        return reply_text(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    memcpy(buf, text ? text : "", len + 1);
    free(text);
    if (len > 0 && buf[len - 1] != '\n')
        append(&buf, &len, &cap, "\n");
    /* counted before this response is queued, so /metrics sees its callers */
    append(&buf, &len, &cap,
           "# HELP rgw2cloud_server_responses_total Responses of the listener by status class.\n"
           "# TYPE rgw2cloud_server_responses_total counter\n");
    for (int k = 1; k <= 5; k++)
        append(&buf, &len, &cap, "rgw2cloud_server_responses_total{code=\"%dxx\"} %" PRIu64 "\n", k,
               s->responses[k]);
    append(&buf, &len, &cap,
           "# HELP rgw2cloud_server_auth_failures_total Requests refused for their signature.\n"
           "# TYPE rgw2cloud_server_auth_failures_total counter\n"
           "rgw2cloud_server_auth_failures_total %" PRIu64 "\n"
           "# HELP rgw2cloud_server_data_notifies_total Datalog notifications received.\n"
           "# TYPE rgw2cloud_server_data_notifies_total counter\n"
           "rgw2cloud_server_data_notifies_total %" PRIu64 "\n"
           "# HELP rgw2cloud_server_period_pushes_total Period pushes and mdlog notifications "
           "received.\n"
           "# TYPE rgw2cloud_server_period_pushes_total counter\n"
           "rgw2cloud_server_period_pushes_total %" PRIu64 "\n",
           s->auth_failures, s->data_notifies, s->period_pushes);
    if (!buf)
        return reply_text(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return reply(s, c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf, len, true);
}

static enum MHD_Result serve_health(struct server *s, struct MHD_Connection *c)
{
    char *text = NULL;
    int rc = 0;
    if (s->hooks.health) {
        err_clear();
        rc = s->hooks.health(s->hooks.ud, &text);
    }
    unsigned status = rc < 0 ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
    if (!text)
        return reply_text(s, c, status, rc < 0 ? "unhealthy\n" : "ok\n");
    return reply(s, c, status, "text/plain; charset=utf-8", text, strlen(text), true);
}

/* ---- notifications ------------------------------------------------------ */

static bool shard_of(const json_t *j, const char *str_key, int *out)
{
    long long v;
    if (json_is_integer(j)) {
        v = json_integer_value(j);
    } else {
        const char *s = json_is_string(j) ? json_string_value(j) : str_key;
        if (!s || !*s)
            return false;
        char *end;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
            return false;
    }
    if (v < 0 || v > INT32_MAX)
        return false;
    *out = (int) v;
    return true;
}

static int add_shard(int *shards, size_t *n, int id)
{
    for (size_t i = 0; i < *n; i++)
        if (shards[i] == id)
            return 0;
    if (*n >= MAX_NOTIFY_SHARDS)
        return -EINVAL;
    shards[(*n)++] = id;
    return 0;
}

/* Datalog shard ids named by a notify body (forms in server.h). Returns 0
 * and a malloc'd *shards (NULL when n == 0), -EINVAL, -ENOMEM. */
static int parse_notify(const char *body, size_t len, int **shards, size_t *n)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    int rc = 0;
    *shards = NULL;
    *n = 0;
    if (!root) {
        err_set("notify body is not JSON: %s", jerr.text);
        return -EINVAL;
    }
    size_t count = json_is_array(root) ? json_array_size(root) : json_object_size(root);
    if (!json_is_array(root) && !json_is_object(root)) {
        err_set("notify body is neither an array nor an object");
        rc = -EINVAL;
        goto out;
    }
    if (count > MAX_NOTIFY_SHARDS) {
        err_set("notify body names %zu shards", count);
        rc = -EINVAL;
        goto out;
    }
    *shards = malloc((count ? count : 1) * sizeof(int));
    if (!*shards) {
        rc = -ENOMEM;
        goto out;
    }
    int id;
    if (json_is_array(root)) {
        size_t i;
        json_t *e;
        json_array_foreach(root, i, e)
        {
            const json_t *k = json_is_object(e) ? json_object_get(e, "key") : e;
            if (!k || !shard_of(k, NULL, &id) || add_shard(*shards, n, id) < 0) {
                err_set("notify entry %zu names no shard id", i);
                rc = -EINVAL;
                goto out;
            }
        }
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
        {
            if (!shard_of(NULL, key, &id) || add_shard(*shards, n, id) < 0) {
                err_set("notify key \"%.32s\" is not a shard id", key);
                rc = -EINVAL;
                goto out;
            }
        }
    }
out:
    json_decref(root);
    if (rc < 0) {
        free(*shards);
        *shards = NULL;
        *n = 0;
    } else if (*n == 0) {
        free(*shards);
        *shards = NULL;
    }
    return rc;
}

/* The bucket shard keys of a notify body: Pacific [{"key":N,"val":["k",..]}],
 * Quincy notify2 [{"key":N,"val":[{"key":"k","gen":G}..]}], or {"N":["k"..]}.
 * Deduplicated, at most MAX_NOTIFY_SHARDS * 16; *keys NULL when none. */
static void notify_keys(const char *body, size_t len, char ***keys, size_t *n)
{
    *keys = NULL;
    *n = 0;
    json_t *root = json_loadb(body, len, 0, NULL);
    if (!root)
        return;
    size_t cap = 0;
    void *it = json_is_object(root) ? json_object_iter(root) : NULL;
    size_t i = 0;
    for (;;) {
        json_t *vals;
        if (json_is_array(root)) {
            if (i >= json_array_size(root))
                break;
            vals = json_object_get(json_array_get(root, i++), "val");
        } else if (it) {
            vals = json_object_iter_value(it);
            it = json_object_iter_next(root, it);
        } else {
            break;
        }
        size_t k;
        json_t *v;
        json_array_foreach(vals, k, v)
        {
            const char *key = json_is_string(v) ? json_string_value(v)
                                                : json_string_value(json_object_get(v, "key"));
            if (!key || !*key || *n >= MAX_NOTIFY_SHARDS * 16)
                continue;
            bool dup = false;
            for (size_t d = 0; d < *n && !dup; d++)
                dup = strcmp((*keys)[d], key) == 0;
            if (dup)
                continue;
            if (*n == cap) {
                size_t nc = cap ? cap * 2 : 8;
                char **nk = realloc(*keys, nc * sizeof(char *));
                if (!nk)
                    goto out;
                *keys = nk;
                cap = nc;
            }
            if (((*keys)[*n] = strdup(key)))
                (*n)++;
        }
    }
out:
    json_decref(root);
}

/* A pushed period is committed: its realm_epoch is the realm's current. */
static void learn_period(struct server *s, const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *e = root ? json_object_get(root, "realm_epoch") : NULL;
    if (json_is_integer(e) && json_integer_value(e) > 0 && json_integer_value(e) <= UINT32_MAX) {
        uint32_t epoch = (uint32_t) json_integer_value(e);
        pthread_mutex_lock(&s->lock);
        if (epoch > s->md_realm_epoch)
            s->md_realm_epoch = epoch;
        pthread_mutex_unlock(&s->lock);
    }
    json_decref(root);
}

/* ---- routing ------------------------------------------------------------ */

struct hdr_list {
    struct sigv4_kv *kv;
    size_t n, cap;
    bool oom;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct hdr_list *h = cls;
    (void) kind;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        struct sigv4_kv *kv = realloc(h->kv, cap * sizeof(*kv));
        if (!kv) {
            h->oom = true;
            return MHD_NO;
        }
        h->kv = kv;
        h->cap = cap;
    }
    h->kv[h->n].name = key;
    h->kv[h->n].value = value ? value : "";
    h->n++;
    return MHD_YES;
}

static bool is_get(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static enum MHD_Result serve_admin_log(struct server *s, struct MHD_Connection *c,
                                       const char *method, const struct query *q,
                                       const struct req *r)
{
    const char *type = query_get(q, "type");
    char *json = NULL;
    int rc;

    if (!type)
        return reply_error(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed");
    if (is_get(method) && query_get(q, "status") && !query_get(q, "id") && !query_get(q, "info")) {
        if (strcmp(type, "data") == 0) {
            const char *zone = query_get(q, "source-zone");
            if (!s->hooks.data_status)
                return reply_error(s, c, MHD_HTTP_NOT_FOUND, "NoSuchKey");
            err_clear();
            rc = s->hooks.data_status(s->hooks.ud, zone ? zone : "", &json);
            return reply_hook(s, c, "data status", rc, json);
        }
        if (strcmp(type, "bucket-index") == 0) {
            const char *key = query_get(q, "bucket");
            if (!key || !*key)
                key = query_get(q, "source-bucket");
            if (!key || !*key)
                return reply_error(s, c, MHD_HTTP_BAD_REQUEST, "InvalidArgument");
            if (!s->hooks.bucket_status)
                return reply_error(s, c, MHD_HTTP_NOT_FOUND, "NoSuchKey");
            err_clear();
            rc = s->hooks.bucket_status(s->hooks.ud, key, &json);
            return reply_hook(s, c, "bucket status", rc, json);
        }
        if (strcmp(type, "metadata") == 0)
            return serve_meta_status(s, c);
    }
    if (strcmp(method, "POST") == 0 && strcmp(type, "data") == 0 &&
        (query_get(q, "notify") || query_get(q, "notify2"))) {
        int *shards;
        size_t n;
        rc = parse_notify(r->body ? r->body : "", r->len, &shards, &n);
        if (rc == -ENOMEM)
            return reply_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError");
        if (rc < 0) {
            log_debug("server: data notify refused: %s", err_get());
            return reply_error(s, c, MHD_HTTP_BAD_REQUEST, "InvalidArgument");
        }
        s->data_notifies++;
        if (n > 0 && s->hooks.data_notify)
            s->hooks.data_notify(s->hooks.ud, shards, n);
        free(shards);
        if (s->hooks.data_notify_keys) {
            char **keys = NULL;
            size_t nk = 0;
            notify_keys(r->body ? r->body : "", r->len, &keys, &nk);
            if (nk > 0)
                s->hooks.data_notify_keys(s->hooks.ud, (const char *const *) keys, nk);
            for (size_t i = 0; i < nk; i++)
                free(keys[i]);
            free(keys);
        }
        return reply(s, c, MHD_HTTP_OK, NULL, (char *) "", 0, false);
    }
    if (strcmp(method, "POST") == 0 && strcmp(type, "metadata") == 0 && query_get(q, "notify")) {
        s->period_pushes++;
        if (s->hooks.period_push)
            s->hooks.period_push(s->hooks.ud, r->body ? r->body : "", r->len);
        return reply(s, c, MHD_HTTP_OK, NULL, (char *) "", 0, false);
    }
    return reply_error(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed");
}

static enum MHD_Result serve_admin(struct server *s, struct MHD_Connection *c, const char *method,
                                   const char *raw_path, const char *route, const char *qs,
                                   const struct req *r)
{
    struct query q = {0};
    struct hdr_list h = {0};
    enum MHD_Result ret;

    int rc = query_parse(&q, qs);
    if (rc < 0) {
        ret = rc == -ENOMEM ? reply_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError")
                            : reply_error(s, c, MHD_HTTP_BAD_REQUEST, "InvalidArgument");
        goto out;
    }
    (void) MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &h);
    if (h.oom) {
        ret = reply_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError");
        goto out;
    }
    struct auth_request ar = {
        .method = method,
        .raw_path = raw_path,
        .query = q.kv,
        .nquery = q.n,
        .headers = h.kv,
        .nheaders = h.n,
        .body = r->body,
        .body_len = r->len,
        .now = AUTH_NOW_CLOCK,
    };
    err_clear();
    rc = auth_verify(&ar, s->access_key, s->secret);
    if (rc == -ENOMEM || rc == -EIO) {
        complain(s, C_HOOK, "%s %s: cannot check the signature: %s", method, route, err_get());
        ret = reply_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError");
        goto out;
    }
    if (rc < 0) {
        s->auth_failures++;
        complain(s, C_AUTH, "403 %s %s: %s", method, route, err_get());
        ret = reply_error(s, c, MHD_HTTP_FORBIDDEN, "AccessDenied");
        goto out;
    }

    if (strcmp(route, "/admin/log") == 0) {
        ret = serve_admin_log(s, c, method, &q, r);
    } else if (strcmp(route, "/admin/realm/period") == 0) {
        if (strcmp(method, "POST") != 0) {
            ret = reply_error(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed");
        } else {
            s->period_pushes++;
            learn_period(s, r->body ? r->body : "", r->len);
            if (s->hooks.period_push)
                s->hooks.period_push(s->hooks.ud, r->body ? r->body : "", r->len);
            ret = reply(s, c, MHD_HTTP_OK, NULL, (char *) "", 0, false);
        }
    } else {
        ret = reply_error(s, c, MHD_HTTP_NOT_FOUND, "NoSuchKey");
    }
out:
    free(h.kv);
    query_finish(&q);
    return ret;
}

static enum MHD_Result dispatch(struct server *s, struct MHD_Connection *c, const char *method,
                                const char *url, struct req *r)
{
    const char *uri = r->raw_uri ? r->raw_uri : url;
    const char *qmark = strchr(uri, '?');
    size_t plen = qmark ? (size_t) (qmark - uri) : strlen(uri);
    const char *qs = qmark ? qmark + 1 : "";
    char *raw_path = strndup(uri, plen);
    char *route = raw_path ? sigv4_uri_decode(raw_path, plen) : NULL;
    enum MHD_Result ret;

    if (!raw_path || !route) {
        bool oom = !raw_path || errno == ENOMEM;
        ret = oom ? reply_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError")
                  : reply_error(s, c, MHD_HTTP_BAD_REQUEST, "InvalidURI");
        goto out;
    }
    size_t rl = strlen(route);
    if (rl > 1 && route[rl - 1] == '/')
        route[rl - 1] = '\0';

    if (strcmp(route, "/admin") == 0 || strncmp(route, "/admin/", 7) == 0) {
        ret = serve_admin(s, c, method, raw_path, route, qs, r);
    } else if (strcmp(route, "/health") == 0) {
        ret = is_get(method) ? serve_health(s, c)
                             : reply_text(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    } else if (strcmp(route, "/metrics") == 0) {
        ret = is_get(method) ? serve_metrics(s, c)
                             : reply_text(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    } else {
        ret = reply_error(s, c, MHD_HTTP_NOT_FOUND, "NoSuchKey");
    }
out:
    free(route);
    free(raw_path);
    return ret;
}

/* ---- libmicrohttpd callbacks -------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void) cls;
    (void) c;
    struct req *r = calloc(1, sizeof(*r));
    if (r && uri) {
        r->raw_uri = strdup(uri);
        if (!r->raw_uri) {
            free(r);
            r = NULL;
        }
    }
    return r; /* NULL: the access handler answers 500 */
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void) cls;
    (void) c;
    (void) toe;
    struct req *r = *con_cls;
    if (r) {
        free(r->raw_uri);
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct server *s = cls;
    struct req *r = *con_cls;
    (void) version;

    if (!r)
        return reply_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError");
    if (!r->started) {
        r->started = true;
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || *end || v > SERVER_MAX_BODY)
                return reply_error(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "EntityTooLarge");
        }
        return MHD_YES; /* MHD sends 100-continue if asked, then the body */
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large || r->len + n > SERVER_MAX_BODY) {
            r->too_large = true; /* chunked past the cap: drain, answer at the end */
            return MHD_YES;
        }
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 4096;
            while (cap < r->len + n + 1)
                cap *= 2;
            char *p = realloc(r->body, cap);
            if (!p) {
                r->too_large = true;
                return MHD_YES;
            }
            r->body = p;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (r->too_large)
        return reply_error(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "EntityTooLarge");
    return dispatch(s, c, method, url, r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void) cls;
    (void) vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_debug("server: libmicrohttpd: %s", msg);
}

/* ---- start / stop ------------------------------------------------------- */

/* "host:port", "[v6]:port" -> bound, listening socket. */
static int listen_socket(const char *listen_on, int *fd_out, int *port_out)
{
    char host[256];
    const char *port;
    const char *colon;

    if (!listen_on || !*listen_on) {
        err_set("server: empty listen address");
        return -EINVAL;
    }
    if (listen_on[0] == '[') {
        const char *rb = strchr(listen_on, ']');
        if (!rb || rb[1] != ':' || (size_t) (rb - listen_on - 1) >= sizeof(host)) {
            err_set("server: listen \"%s\" is not [addr]:port", listen_on);
            return -EINVAL;
        }
        memcpy(host, listen_on + 1, (size_t) (rb - listen_on - 1));
        host[rb - listen_on - 1] = '\0';
        port = rb + 2;
    } else {
        colon = strrchr(listen_on, ':');
        if (!colon || colon == listen_on || (size_t) (colon - listen_on) >= sizeof(host) ||
            memchr(listen_on, ':', (size_t) (colon - listen_on))) {
            err_set("server: listen \"%s\" is not host:port", listen_on);
            return -EINVAL;
        }
        memcpy(host, listen_on, (size_t) (colon - listen_on));
        host[colon - listen_on] = '\0';
        port = colon + 1;
    }
    char *end;
    errno = 0;
    unsigned long pv = strtoul(port, &end, 10);
    if (!*port || *end || errno || pv > 65535) {
        err_set("server: listen \"%s\": bad port", listen_on);
        return -EINVAL;
    }

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        err_set("server: listen \"%s\": %s", listen_on, gai_strerror(gai));
        return gai == EAI_MEMORY ? -ENOMEM : -EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        freeaddrinfo(ai);
        err_set("server: socket: %s", strerror(e));
        return -e;
    }
    int one = 1;
    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        freeaddrinfo(ai);
        (void) close(fd);
        err_set("server: listen on %s: %s", listen_on, strerror(e));
        return -e;
    }
    freeaddrinfo(ai);

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *) &ss, &sl) < 0) {
        int e = errno;
        (void) close(fd);
        err_set("server: getsockname: %s", strerror(e));
        return -e;
    }
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *) &ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *) &ss)->sin_port);
    *fd_out = fd;
    return 0;
}

int server_start(struct server **out, const char *listen_on, const char *access_key,
                 const char *secret, const struct server_hooks *hooks)
{
    struct server *s;
    int fd = -1, rc;

    *out = NULL;
    if (!access_key || !*access_key || !secret || !*secret) {
        err_set("server: the system key (access key and secret) is required");
        return -EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        err_set("server: out of memory");
        return -ENOMEM;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        err_set("server: cannot create a mutex");
        return -ENOMEM;
    }
    s->md_num_shards = SERVER_MDLOG_SHARDS_DEFAULT;
    if (hooks)
        s->hooks = *hooks;
    s->access_key = strdup(access_key);
    s->secret = strdup(secret);
    if (!s->access_key || !s->secret) {
        err_set("server: out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    rc = listen_socket(listen_on, &fd, &s->port);
    if (rc < 0)
        goto fail;

    s->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                              on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 128, MHD_OPTION_END);
    if (!s->mhd) {
        (void) close(fd);
        err_set("server: libmicrohttpd would not start on %s", listen_on);
        rc = -EIO;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    server_stop(s); /* every goto fail comes after the lock exists */
    return rc;
}

void server_stop(struct server *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd); /* joins the thread, closes the socket */
    free(s->access_key);
    if (s->secret) {
        memset(s->secret, 0, strlen(s->secret));
        free(s->secret);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int server_port(const struct server *s)
{
    return s->port;
}

void server_set_mdlog(struct server *s, uint32_t realm_epoch, unsigned num_shards)
{
    pthread_mutex_lock(&s->lock);
    s->md_realm_epoch = realm_epoch;
    if (num_shards)
        s->md_num_shards = num_shards;
    pthread_mutex_unlock(&s->lock);
}

/* ---- JSON builders ------------------------------------------------------ */

/* utime_t's JSON form (utime_t::gmtime): times under ten years since the
 * epoch print as "sec.usec" (so zero is "0.000000"), others as ISO 8601 UTC
 * with microseconds. RGW's decoder (utime_t::parse_date) reads both. */
static void fmt_utime(char out[64], long long sec, long nsec)
{
    if (nsec < 0 || nsec > 999999999)
        nsec = 0;
    long usec = nsec / 1000;
    if (sec < 60LL * 60 * 24 * 365 * 10) {
        (void) snprintf(out, 64, "%lld.%06ld", sec, usec);
        return;
    }
    time_t t = (time_t) sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        (void) snprintf(out, 64, "0.000000");
        return;
    }
    (void) snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
}

/* Serialise (and release) root into *out. */
static int json_finish(char **out, json_t *root)
{
    if (!root) {
        err_set("server: out of memory building JSON");
        return -ENOMEM;
    }
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!*out) {
        err_set("server: out of memory building JSON");
        return -ENOMEM;
    }
    return 0;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* {"key":i,"val":val} (val stolen), appended to arr; false on failure. */
static bool push_kv(json_t *arr, size_t i, json_t *val)
{
    json_t *e = val ? json_pack("{s:I,s:o}", "key", (json_int_t) i, "val", val) : NULL;
    return e && json_array_append_new(arr, e) == 0;
}

int server_json_data_status(char **out, const struct server_dl_marker *m, size_t n,
                            uint64_t instance_id)
{
    *out = NULL;
    if (n == 0 || !m || n > UINT32_MAX) {
        err_set("server: data status needs one marker per datalog shard");
        return -EINVAL;
    }
    json_t *markers = json_array();
    for (size_t i = 0; markers && i < n; i++) {
        char ts[64];
        fmt_utime(ts, m[i].ts_sec, m[i].ts_nsec);
        json_t *v = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "status",
                              m[i].full_sync ? "full-sync" : "incremental-sync", "marker",
                              nz(m[i].marker), "next_step_marker", nz(m[i].next_step_marker),
                              "total_entries", (json_int_t) m[i].total_entries, "pos",
                              (json_int_t) m[i].pos, "timestamp", ts);
        if (!push_kv(markers, i, v)) {
            json_decref(markers);
            markers = NULL;
        }
    }
    /* jansson integers are signed 64-bit: a u64 id keeps its low 63 bits */
    json_t *root = markers ? json_pack("{s:{s:s,s:I,s:I},s:o}", "info", "status", "sync",
                                       "num_shards", (json_int_t) n, "instance_id",
                                       (json_int_t) (instance_id & INT64_MAX), "markers", markers)
                           : NULL;
    return json_finish(out, root);
}

int server_json_bucket_status(char **out, const struct server_bs_status *s, size_t n)
{
    static const char *const names[] = {"init", "full-sync", "incremental-sync", "stopped"};
    *out = NULL;
    if (n == 0 || !s) {
        err_set("server: bucket status needs one entry per index shard");
        return -EINVAL;
    }
    json_t *root = json_array();
    for (size_t i = 0; root && i < n; i++) {
        char ts[64];
        unsigned st = (unsigned) s[i].state;
        if (st >= sizeof(names) / sizeof(names[0])) {
            json_decref(root);
            err_set("server: bucket shard %zu has an unknown state %u", i, st);
            return -EINVAL;
        }
        fmt_utime(ts, s[i].inc_ts_sec, s[i].inc_ts_nsec);
        json_t *e = json_pack("{s:s,s:{s:{s:s,s:s,s:s},s:I},s:{s:s,s:s}}", "status", names[st],
                              "full_marker", "position", "name", nz(s[i].full_name), "instance",
                              nz(s[i].full_instance), "ns", nz(s[i].full_ns), "count",
                              (json_int_t) s[i].full_count, "inc_marker", "position",
                              nz(s[i].inc_position), "timestamp", ts);
        if (!e || json_array_append_new(root, e) != 0) {
            json_decref(root);
            root = NULL;
        }
    }
    return json_finish(out, root);
}

int server_json_meta_status(char **out, uint32_t realm_epoch, const char *period,
                            unsigned num_shards)
{
    *out = NULL;
    if (num_shards == 0 || realm_epoch == 0) {
        err_set("server: metadata status needs the realm epoch and the mdlog shard count");
        return -EINVAL;
    }
    json_t *markers = json_array();
    for (unsigned i = 0; markers && i < num_shards; i++) {
        /* state 1 = IncrementalSync: the master trims up to "marker" */
        json_t *v = json_pack("{s:i,s:s,s:s,s:I,s:I,s:s,s:I}", "state", 1, "marker",
                              META_TRIM_ALL_MARKER, "next_step_marker", "", "total_entries",
                              (json_int_t) 0, "pos", (json_int_t) 0, "timestamp", "0.000000",
                              "realm_epoch", (json_int_t) realm_epoch);
        if (!push_kv(markers, i, v)) {
            json_decref(markers);
            markers = NULL;
        }
    }
    json_t *root = markers ? json_pack("{s:{s:s,s:I,s:s,s:I},s:o}", "info", "status", "sync",
                                       "num_shards", (json_int_t) num_shards, "period", nz(period),
                                       "realm_epoch", (json_int_t) realm_epoch, "markers", markers)
                           : NULL;
    return json_finish(out, root);
}
