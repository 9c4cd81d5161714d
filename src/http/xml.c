#include "xml.h"

#include "err.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlstring.h>
#include <libxml/xmlwriter.h>

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

/* Deepest element any S3 document here needs, counting the root as 0
 * (AccessControlPolicy/AccessControlList/Grant/Grantee/ID is 4). Deeper
 * elements are parsed but never match a path. */
#define WALK_MAX_DEPTH 8

/* libxml2 2.12 made the structured handler take a const error. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *walk_xml_error;
#else
typedef xmlErrorPtr walk_xml_error;
#endif

/* ---- the walker: one pull loop shared by every parser ---- */

/* What a parser's callback sees. Names are libxml2 dictionary strings, valid
 * for the whole walk. */
struct walk_ev {
    int depth;               /* 0 = root */
    const char *const *path; /* local names path[0..depth]; depth < WALK_MAX_DEPTH */
    const char *text;        /* close: the element's own text ("" if none); open: NULL */
    xmlTextReaderPtr reader; /* open: positioned on the element, for attributes */
};

/* 0 to go on, or a negative errno after err_set(): the walk stops and
 * returns it. */
typedef int (*walk_fn)(void *ctx, const struct walk_ev *ev);

struct walk {
    const char *what; /* expected root, for messages */
    const char *path[WALK_MAX_DEPTH];
    char *text;
    size_t text_len, text_cap;
    bool failed; /* libxml2 reported an error: the document is not well-formed */
    int err_line;
    char err_msg[256];
};

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* libxml2's lazy global init is not thread-safe; run it once before any
 * parser or writer touches it. */
static void xml_global_init(void)
{
    (void)pthread_once(&xml_once, xmlInitParser);
}

/* Keeps libxml2 off stderr: the first error becomes the walk's verdict and
 * detail. Warnings (e.g. a relative namespace URI) are not failures. */
static void walk_on_xml_error(void *arg, walk_xml_error e)
{
    struct walk *w = arg;
    if (!e || e->level < XML_ERR_ERROR || w->failed)
        return;
    w->failed = true;
    w->err_line = e->line;
    (void)snprintf(w->err_msg, sizeof(w->err_msg), "%s", e->message ? e->message : "error");
    /* One line of detail: libxml2 ends messages with '\n' and some carry a
     * second line ("Bytes: 0xFF ..."). */
    size_t n = strlen(w->err_msg);
    while (n && (w->err_msg[n - 1] == '\n' || w->err_msg[n - 1] == ' '))
        w->err_msg[--n] = '\0';
    for (char *p = w->err_msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static int walk_text_append(struct walk *w, const char *s)
{
    size_t n = strlen(s);
    if (w->text_len + n + 1 > w->text_cap) {
        size_t cap = w->text_cap ? w->text_cap : 64;
        while (cap < w->text_len + n + 1)
            cap *= 2;
        char *p = realloc(w->text, cap);
        if (!p)
            return -ENOMEM;
        w->text = p;
        w->text_cap = cap;
    }
    memcpy(w->text + w->text_len, s, n + 1);
    w->text_len += n;
    return 0;
}

static const char *walk_text(struct walk *w)
{
    return w->text_len ? w->text : "";
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Handles one reader node. Returns 0 or a negative errno with err_set(). */
static int walk_node(struct walk *w, xmlTextReaderPtr r, const char *root, walk_fn on_open,
                     walk_fn on_close, void *ctx, bool *seen_root)
{
    int type = xmlTextReaderNodeType(r);
    int depth = xmlTextReaderDepth(r);
    struct walk_ev ev = {.depth = depth, .path = w->path};

    switch (type) {
    case XML_READER_TYPE_ELEMENT: {
        const char *name = (const char *)xmlTextReaderConstLocalName(r);
        bool empty = xmlTextReaderIsEmptyElement(r) == 1;
        if (!name || depth < 0) {
            err_set("xml: <%s>: reader lost its element", w->what);
            return -ENOMEM;
        }
        if (depth == 0) {
            *seen_root = true;
            if (root && strcmp(name, root) != 0) {
                err_set("xml: expected <%s>, got <%.64s>", root, name);
                return -ENOMSG;
            }
        }
        w->text_len = 0;
        if (depth >= WALK_MAX_DEPTH)
            return 0;
        w->path[depth] = name;
        int rc = 0;
        if (on_open) {
            ev.reader = r;
            rc = on_open(ctx, &ev);
            ev.reader = NULL;
        }
        /* <a/> has no END_ELEMENT node: close it here. */
        if (rc == 0 && empty && on_close) {
            ev.text = "";
            rc = on_close(ctx, &ev);
        }
        return rc;
    }
    case XML_READER_TYPE_END_ELEMENT: {
        int rc = 0;
        if (depth >= 0 && depth < WALK_MAX_DEPTH && on_close) {
            ev.text = walk_text(w);
            rc = on_close(ctx, &ev);
        }
        w->text_len = 0;
        return rc;
    }
    case XML_READER_TYPE_TEXT:
    case XML_READER_TYPE_CDATA:
    /* A whitespace-only value (<Key> </Key>) is reported as whitespace. */
    case XML_READER_TYPE_WHITESPACE:
    case XML_READER_TYPE_SIGNIFICANT_WHITESPACE: {
        const char *v = (const char *)xmlTextReaderConstValue(r);
        if (v && walk_text_append(w, v) < 0) {
            err_set("xml: <%s>: out of memory", w->what);
            return -ENOMEM;
        }
        return 0;
    }
    case XML_READER_TYPE_DOCUMENT_TYPE:
    case XML_READER_TYPE_ENTITY_REFERENCE:
        /* S3 never sends a DTD; refusing it keeps entity tricks (XXE,
         * expansion bombs, text silently hidden in entity references) out. */
        err_set("xml: <%s>: DOCTYPE not allowed", w->what);
        return -EBADMSG;
    default:
        return 0; /* comments, processing instructions */
    }
}

/* Parses body with the pull reader, calling on_open at each element start
 * and on_close at each element end (both MAY be NULL). root NULL accepts any
 * root; a different root stops the walk with -ENOMSG. Returns 0, -EBADMSG
 * (malformed, truncated, empty), -EFBIG (over XML_BODY_MAX), -ENOMSG,
 * -ENOMEM, or what a callback returned; err_set() detail on every error. */
static int walk(const char *what, const char *root, const char *body, size_t len, walk_fn on_open,
                walk_fn on_close, void *ctx)
{
    if (len > XML_BODY_MAX) {
        err_set("xml: <%s>: body of %zu bytes exceeds the %u byte cap", what, len, XML_BODY_MAX);
        return -EFBIG;
    }
    if (!body && len) {
        err_set("xml: <%s>: NULL body", what);
        return -EINVAL;
    }
    /* Keep-alive whitespace may precede "<?xml", which libxml2 refuses. */
    while (len && is_ascii_space(*body)) {
        body++;
        len--;
    }
    if (!len) {
        err_set("xml: <%s>: empty body", what);
        return -EBADMSG;
    }

    xml_global_init();
    struct walk w = {.what = what};
    /* Errors raised outside a parser context (I/O, encoding conversion) go
     * to the thread's global handler: borrow it for the walk, then restore. */
    xmlStructuredErrorFunc old_fn = xmlStructuredError;
    void *old_ctx = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(&w, walk_on_xml_error);

    int rc = 0;
    bool seen_root = false;
    xmlTextReaderPtr r =
        xmlReaderForMemory(body, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    if (!r) {
        err_set("xml: <%s>: cannot create reader", what);
        rc = -ENOMEM;
        goto out;
    }
    xmlTextReaderSetStructuredErrorHandler(r, walk_on_xml_error, &w);

    int ret;
    while ((ret = xmlTextReaderRead(r)) == 1 && !w.failed) {
        rc = walk_node(&w, r, root, on_open, on_close, ctx, &seen_root);
        if (rc)
            break;
    }
    if (w.failed) {
        if (w.err_line > 0)
            err_set("xml: <%s>: line %d: %s", what, w.err_line, w.err_msg);
        else /* I/O and encoding errors carry no position */
            err_set("xml: <%s>: %s", what, w.err_msg);
        rc = -EBADMSG;
    } else if (rc == 0 && ret < 0) {
        err_set("xml: <%s>: parse error", what);
        rc = -EBADMSG;
    } else if (rc == 0 && !seen_root) {
        err_set("xml: <%s>: no root element", what);
        rc = -EBADMSG;
    }

out:
    xmlFreeTextReader(r);
    xmlSetStructuredErrorFunc(old_ctx, old_fn);
    free(w.text);
    return rc;
}

/* True when ev's path below the root is exactly the NULL-terminated names. */
static bool at(const struct walk_ev *ev, ...)
{
    va_list ap;
    va_start(ap, ev);
    int d = 1;
    bool ok = true;
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) {
        if (d > ev->depth || strcmp(ev->path[d], name) != 0) {
            ok = false;
            break;
        }
        d++;
    }
    va_end(ap);
    return ok && d == ev->depth + 1;
}

/* ---- field helpers: each returns 0 or a negative errno with err_set() ---- */

static int nomem(void)
{
    err_set("xml: out of memory");
    return -ENOMEM;
}

/* Replaces *dst with a copy of s (a repeated element: last one wins). */
static int set_str(char **dst, const char *s)
{
    char *p = strdup(s);
    if (!p)
        return nomem();
    free(*dst);
    *dst = p;
    return 0;
}

/* Like set_str, but an empty value means absent (NULL): an empty marker or
 * token can only make a caller loop. */
static int set_opt(char **dst, const char *s)
{
    if (!*s) {
        free(*dst);
        *dst = NULL;
        return 0;
    }
    return set_str(dst, s);
}

/* ETags arrive as "\"hex\"" once the parser decoded &quot;. */
static int set_etag(char **dst, const char *s)
{
    size_t n = strlen(s);
    if (n && s[0] == '"') {
        s++;
        n--;
    }
    if (n && s[n - 1] == '"')
        n--;
    char *p = strndup(s, n);
    if (!p)
        return nomem();
    free(*dst);
    *dst = p;
    return 0;
}

static int set_u64(uint64_t *dst, const struct walk_ev *ev)
{
    const char *s = ev->text;
    uint64_t v = 0;
    if (!*s)
        goto bad;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            goto bad;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            goto bad;
        v = v * 10 + d;
    }
    *dst = v;
    return 0;
bad:
    err_set("xml: <%s>: not a number: \"%.40s\"", ev->path[ev->depth], ev->text);
    return -EBADMSG;
}

static int set_int(int *dst, const struct walk_ev *ev)
{
    uint64_t v;
    int rc = set_u64(&v, ev);
    if (rc)
        return rc;
    if (v > INT_MAX) {
        err_set("xml: <%s>: out of range: \"%.40s\"", ev->path[ev->depth], ev->text);
        return -EBADMSG;
    }
    *dst = (int)v;
    return 0;
}

static int set_bool(bool *dst, const struct walk_ev *ev)
{
    if (strcasecmp(ev->text, "true") == 0)
        *dst = true;
    else if (strcasecmp(ev->text, "false") == 0)
        *dst = false;
    else {
        err_set("xml: <%s>: not a boolean: \"%.40s\"", ev->path[ev->depth], ev->text);
        return -EBADMSG;
    }
    return 0;
}

/* Room for one more elem-sized entry after n in arr (capacity *cap).
 * Returns the (maybe moved) array or NULL; arr stays valid on NULL. */
static void *grow(void *arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Undoes S3's encoding-type=url, in place (decoding only shrinks). AWS and
 * MinIO send a space as '+', RGW as %20, and all of them escape a real '+'
 * as %2B, so '+' -> ' ' is right everywhere (botocore decodes with
 * unquote_plus). A bad escape or %00 (no C string can hold it) is -EBADMSG:
 * guessing would sync another key than the one listed. */
static int url_decode_inplace(char *s)
{
    char *o = s;
    for (const char *i = s; *i; i++) {
        if (*i == '+') {
            *o++ = ' ';
            continue;
        }
        if (*i != '%') {
            *o++ = *i;
            continue;
        }
        int hi = hex_digit(i[1]);
        int lo = hi >= 0 ? hex_digit(i[2]) : -1;
        if (lo < 0 || (hi | lo) == 0) {
            err_set("xml: bad percent-escape in url-encoded name \"%.64s\"", s);
            return -EBADMSG;
        }
        *o++ = (char)(hi << 4 | lo);
        i += 2;
    }
    *o = '\0';
    return 0;
}

static int url_decode_opt(char *s)
{
    return s ? url_decode_inplace(s) : 0;
}

/* ---- root name ---- */

static int root_open(void *ctx, const struct walk_ev *ev)
{
    return ev->depth == 0 ? set_str(ctx, ev->path[0]) : 0;
}

int xml_root_name(char **out, const char *body, size_t len)
{
    *out = NULL;
    int rc = walk("document", NULL, body, len, root_open, NULL, out);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- Error ---- */

static int error_close(void *ctx, const struct walk_ev *ev)
{
    struct xml_error *e = ctx;
    if (ev->depth != 1)
        return 0;
    const char *n = ev->path[1];
    if (strcmp(n, "Code") == 0)
        return set_str(&e->code, ev->text);
    if (strcmp(n, "Message") == 0)
        return set_str(&e->message, ev->text);
    if (strcmp(n, "RequestId") == 0)
        return set_str(&e->request_id, ev->text);
    if (strcmp(n, "Region") == 0)
        return set_opt(&e->region, ev->text);
    if (strcmp(n, "Endpoint") == 0)
        return set_opt(&e->endpoint, ev->text);
    return 0;
}

int xml_parse_error(struct xml_error *out, const char *body, size_t len)
{
    memset(out, 0, sizeof(*out));
    int rc = walk("Error", "Error", body, len, NULL, error_close, out);
    if (rc == 0 && (!out->code || !*out->code)) {
        err_set("xml: <Error> without <Code>");
        rc = -EBADMSG;
    }
    if (rc)
        xml_error_finish(out);
    return rc;
}

void xml_error_finish(struct xml_error *e)
{
    if (!e)
        return;
    free(e->code);
    free(e->message);
    free(e->request_id);
    free(e->region);
    free(e->endpoint);
    memset(e, 0, sizeof(*e));
}

/* Every parser but xml_parse_error treats a foreign root as malformed. */
static int not_ours(int rc)
{
    return rc == -ENOMSG ? -EBADMSG : rc;
}

/* ---- InitiateMultipartUploadResult ---- */

static int initiate_close(void *ctx, const struct walk_ev *ev)
{
    return at(ev, "UploadId", NULL) ? set_str(ctx, ev->text) : 0;
}

int xml_parse_initiate(char **upload_id, const char *body, size_t len)
{
    *upload_id = NULL;
    int rc = not_ours(walk("InitiateMultipartUploadResult", "InitiateMultipartUploadResult", body,
                           len, NULL, initiate_close, upload_id));
    if (rc == 0 && (!*upload_id || !**upload_id)) {
        err_set("xml: <InitiateMultipartUploadResult> without <UploadId>");
        rc = -EBADMSG;
    }
    if (rc) {
        free(*upload_id);
        *upload_id = NULL;
    }
    return rc;
}

/* ---- ListPartsResult ---- */

struct parts_ctx {
    struct xml_list_parts *l;
    size_t cap;
};

static int parts_open(void *ctx, const struct walk_ev *ev)
{
    struct parts_ctx *c = ctx;
    if (!at(ev, "Part", NULL))
        return 0;
    struct xml_part *p = grow(c->l->parts, c->l->nparts, &c->cap, sizeof(*p));
    if (!p)
        return nomem();
    c->l->parts = p;
    memset(&p[c->l->nparts++], 0, sizeof(*p));
    return 0;
}

static int parts_close(void *ctx, const struct walk_ev *ev)
{
    struct xml_list_parts *l = ((struct parts_ctx *)ctx)->l;
    struct xml_part *p = l->nparts ? &l->parts[l->nparts - 1] : NULL;
    if (at(ev, "Part", "PartNumber", NULL))
        return set_int(&p->number, ev);
    if (at(ev, "Part", "ETag", NULL))
        return set_etag(&p->etag, ev->text);
    if (at(ev, "Part", "Size", NULL))
        return set_u64(&p->size, ev);
    if (at(ev, "Part", NULL)) {
        if (p->number < 1 || !p->etag) {
            err_set("xml: <ListPartsResult>: <Part> %zu lacks PartNumber or ETag", l->nparts);
            return -EBADMSG;
        }
        return 0;
    }
    if (at(ev, "IsTruncated", NULL))
        return set_bool(&l->truncated, ev);
    if (at(ev, "NextPartNumberMarker", NULL))
        return *ev->text ? set_int(&l->next_marker, ev) : 0;
    return 0;
}

int xml_parse_list_parts(struct xml_list_parts *out, const char *body, size_t len)
{
    memset(out, 0, sizeof(*out));
    struct parts_ctx c = {.l = out};
    int rc = not_ours(
        walk("ListPartsResult", "ListPartsResult", body, len, parts_open, parts_close, &c));
    if (rc)
        xml_list_parts_finish(out);
    return rc;
}

void xml_list_parts_finish(struct xml_list_parts *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nparts; i++)
        free(l->parts[i].etag);
    free(l->parts);
    memset(l, 0, sizeof(*l));
}

/* ---- ListBucketResult (v1 and v2) ---- */

struct objects_ctx {
    struct xml_list_objects *l;
    size_t cap_objects, cap_prefixes;
    char *next_v2; /* NextContinuationToken: opaque, never decoded */
    char *next_v1; /* NextMarker: a key, decoded like one */
};

static int objects_open(void *ctx, const struct walk_ev *ev)
{
    struct objects_ctx *c = ctx;
    if (!at(ev, "Contents", NULL))
        return 0;
    struct xml_object *o = grow(c->l->objects, c->l->nobjects, &c->cap_objects, sizeof(*o));
    if (!o)
        return nomem();
    c->l->objects = o;
    memset(&o[c->l->nobjects++], 0, sizeof(*o));
    return 0;
}

static int objects_close(void *ctx, const struct walk_ev *ev)
{
    struct objects_ctx *c = ctx;
    struct xml_list_objects *l = c->l;
    struct xml_object *o = l->nobjects ? &l->objects[l->nobjects - 1] : NULL;
    if (ev->depth == 2 && strcmp(ev->path[1], "Contents") == 0) {
        const char *n = ev->path[2];
        if (strcmp(n, "Key") == 0)
            return set_str(&o->key, ev->text);
        if (strcmp(n, "Size") == 0)
            return set_u64(&o->size, ev);
        if (strcmp(n, "ETag") == 0)
            return set_etag(&o->etag, ev->text);
        if (strcmp(n, "LastModified") == 0)
            return set_str(&o->last_modified, ev->text);
        if (strcmp(n, "StorageClass") == 0)
            return set_str(&o->storage_class, ev->text);
        return 0;
    }
    if (at(ev, "Contents", NULL) && !o->key) {
        err_set("xml: <ListBucketResult>: <Contents> %zu without <Key>", l->nobjects);
        return -EBADMSG;
    }
    if (at(ev, "CommonPrefixes", "Prefix", NULL)) {
        char **p = grow(l->prefixes, l->nprefixes, &c->cap_prefixes, sizeof(*p));
        if (!p)
            return nomem();
        l->prefixes = p;
        p[l->nprefixes] = NULL;
        int rc = set_str(&p[l->nprefixes], ev->text);
        if (rc == 0)
            l->nprefixes++;
        return rc;
    }
    if (at(ev, "IsTruncated", NULL))
        return set_bool(&l->truncated, ev);
    if (at(ev, "NextContinuationToken", NULL))
        return set_opt(&c->next_v2, ev->text);
    if (at(ev, "NextMarker", NULL))
        return set_opt(&c->next_v1, ev->text);
    if (at(ev, "EncodingType", NULL))
        l->url_encoded = strcasecmp(ev->text, "url") == 0;
    return 0;
}

/* EncodingType may come after the keys, so decoding waits for the end. */
static int objects_finish_parse(struct objects_ctx *c)
{
    struct xml_list_objects *l = c->l;
    int rc = 0;
    if (l->url_encoded) {
        for (size_t i = 0; rc == 0 && i < l->nobjects; i++)
            rc = url_decode_inplace(l->objects[i].key);
        for (size_t i = 0; rc == 0 && i < l->nprefixes; i++)
            rc = url_decode_inplace(l->prefixes[i]);
        if (rc == 0)
            rc = url_decode_opt(c->next_v1);
    }
    if (rc)
        return rc;
    if (c->next_v2) {
        l->next_token = c->next_v2;
        c->next_v2 = NULL;
    } else {
        l->next_token = c->next_v1;
        c->next_v1 = NULL;
    }
    return 0;
}

int xml_parse_list_objects(struct xml_list_objects *out, const char *body, size_t len)
{
    memset(out, 0, sizeof(*out));
    struct objects_ctx c = {.l = out};
    int rc = not_ours(
        walk("ListBucketResult", "ListBucketResult", body, len, objects_open, objects_close, &c));
    if (rc == 0)
        rc = objects_finish_parse(&c);
    free(c.next_v1);
    free(c.next_v2);
    if (rc)
        xml_list_objects_finish(out);
    return rc;
}

void xml_list_objects_finish(struct xml_list_objects *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nobjects; i++) {
        free(l->objects[i].key);
        free(l->objects[i].etag);
        free(l->objects[i].last_modified);
        free(l->objects[i].storage_class);
    }
    free(l->objects);
    for (size_t i = 0; i < l->nprefixes; i++)
        free(l->prefixes[i]);
    free(l->prefixes);
    free(l->next_token);
    memset(l, 0, sizeof(*l));
}

/* ---- ListMultipartUploadsResult ---- */

struct uploads_ctx {
    struct xml_list_uploads *l;
    size_t cap;
    bool url_encoded;
};

static int uploads_open(void *ctx, const struct walk_ev *ev)
{
    struct uploads_ctx *c = ctx;
    if (!at(ev, "Upload", NULL))
        return 0;
    struct xml_upload *u = grow(c->l->uploads, c->l->nuploads, &c->cap, sizeof(*u));
    if (!u)
        return nomem();
    c->l->uploads = u;
    memset(&u[c->l->nuploads++], 0, sizeof(*u));
    return 0;
}

static int uploads_close(void *ctx, const struct walk_ev *ev)
{
    struct uploads_ctx *c = ctx;
    struct xml_list_uploads *l = c->l;
    struct xml_upload *u = l->nuploads ? &l->uploads[l->nuploads - 1] : NULL;
    if (at(ev, "Upload", "Key", NULL))
        return set_str(&u->key, ev->text);
    if (at(ev, "Upload", "UploadId", NULL))
        return set_str(&u->upload_id, ev->text);
    if (at(ev, "Upload", "Initiated", NULL))
        return set_str(&u->initiated, ev->text);
    if (at(ev, "Upload", NULL)) {
        if (!u->key || !u->upload_id || !*u->upload_id) {
            err_set("xml: <ListMultipartUploadsResult>: <Upload> %zu lacks Key or UploadId",
                    l->nuploads);
            return -EBADMSG;
        }
        return 0;
    }
    if (at(ev, "IsTruncated", NULL))
        return set_bool(&l->truncated, ev);
    if (at(ev, "NextKeyMarker", NULL))
        return set_opt(&l->next_key_marker, ev->text);
    if (at(ev, "NextUploadIdMarker", NULL))
        return set_opt(&l->next_upload_id_marker, ev->text);
    if (at(ev, "EncodingType", NULL))
        c->url_encoded = strcasecmp(ev->text, "url") == 0;
    return 0;
}

int xml_parse_list_uploads(struct xml_list_uploads *out, const char *body, size_t len)
{
    memset(out, 0, sizeof(*out));
    struct uploads_ctx c = {.l = out};
    int rc = not_ours(walk("ListMultipartUploadsResult", "ListMultipartUploadsResult", body, len,
                           uploads_open, uploads_close, &c));
    if (rc == 0 && c.url_encoded) {
        for (size_t i = 0; rc == 0 && i < out->nuploads; i++)
            rc = url_decode_inplace(out->uploads[i].key);
        if (rc == 0)
            rc = url_decode_opt(out->next_key_marker);
    }
    if (rc)
        xml_list_uploads_finish(out);
    return rc;
}

void xml_list_uploads_finish(struct xml_list_uploads *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nuploads; i++) {
        free(l->uploads[i].key);
        free(l->uploads[i].upload_id);
        free(l->uploads[i].initiated);
    }
    free(l->uploads);
    free(l->next_key_marker);
    free(l->next_upload_id_marker);
    memset(l, 0, sizeof(*l));
}

/* ---- AccessControlPolicy ---- */

struct acl_ctx {
    struct xml_acl *a;
    size_t cap;
    int type;               /* enum xml_grantee_type from xsi:type, -1 when absent */
    char *id, *email, *uri; /* the current Grantee's candidates */
};

static void acl_grantee_reset(struct acl_ctx *c)
{
    c->type = -1;
    free(c->id);
    free(c->email);
    free(c->uri);
    c->id = c->email = c->uri = NULL;
}

/* Reads xsi:type (namespaces ignored, so any "type" attribute) and leaves
 * the reader back on the element. */
static int acl_grantee_type(struct acl_ctx *c, xmlTextReaderPtr r)
{
    int rc = 0;
    if (xmlTextReaderMoveToFirstAttribute(r) != 1)
        return 0;
    do {
        const char *n = (const char *)xmlTextReaderConstLocalName(r);
        const char *v = (const char *)xmlTextReaderConstValue(r);
        if (!n || !v || strcmp(n, "type") != 0)
            continue;
        const char *colon = strchr(v, ':');
        if (colon)
            v = colon + 1;
        if (strcmp(v, "CanonicalUser") == 0)
            c->type = XML_GRANTEE_ID;
        else if (strcmp(v, "AmazonCustomerByEmail") == 0)
            c->type = XML_GRANTEE_EMAIL;
        else if (strcmp(v, "Group") == 0)
            c->type = XML_GRANTEE_URI;
        else {
            err_set("xml: <AccessControlPolicy>: unknown grantee type \"%.40s\"", v);
            rc = -EBADMSG;
        }
    } while (rc == 0 && xmlTextReaderMoveToNextAttribute(r) == 1);
    (void)xmlTextReaderMoveToElement(r);
    return rc;
}

static int acl_open(void *ctx, const struct walk_ev *ev)
{
    struct acl_ctx *c = ctx;
    if (at(ev, "AccessControlList", "Grant", NULL)) {
        struct xml_grant *g = grow(c->a->grants, c->a->ngrants, &c->cap, sizeof(*g));
        if (!g)
            return nomem();
        c->a->grants = g;
        memset(&g[c->a->ngrants++], 0, sizeof(*g));
        acl_grantee_reset(c);
        return 0;
    }
    if (at(ev, "AccessControlList", "Grant", "Grantee", NULL))
        return acl_grantee_type(c, ev->reader);
    return 0;
}

/* Moves the candidate the grantee type names into g->id. */
static int acl_grant_close(struct acl_ctx *c, struct xml_grant *g)
{
    int type = c->type;
    if (type < 0) /* no xsi:type: infer from the child present */
        type = c->id ? XML_GRANTEE_ID : c->email ? XML_GRANTEE_EMAIL : XML_GRANTEE_URI;
    char **src = type == XML_GRANTEE_ID ? &c->id : type == XML_GRANTEE_EMAIL ? &c->email : &c->uri;
    if (!*src || !g->permission) {
        err_set("xml: <AccessControlPolicy>: <Grant> %zu lacks its grantee or Permission",
                c->a->ngrants);
        return -EBADMSG;
    }
    g->type = (enum xml_grantee_type)type;
    g->id = *src;
    *src = NULL;
    acl_grantee_reset(c);
    return 0;
}

static int acl_close(void *ctx, const struct walk_ev *ev)
{
    struct acl_ctx *c = ctx;
    struct xml_acl *a = c->a;
    if (at(ev, "Owner", "ID", NULL))
        return set_str(&a->owner_id, ev->text);
    if (at(ev, "Owner", "DisplayName", NULL))
        return set_str(&a->owner_display_name, ev->text);
    if (ev->depth < 2 || strcmp(ev->path[1], "AccessControlList") != 0 ||
        strcmp(ev->path[2], "Grant") != 0)
        return 0;
    struct xml_grant *g = &a->grants[a->ngrants - 1];
    if (at(ev, "AccessControlList", "Grant", NULL))
        return acl_grant_close(c, g);
    if (at(ev, "AccessControlList", "Grant", "Permission", NULL))
        return set_str(&g->permission, ev->text);
    if (ev->depth != 4 || strcmp(ev->path[3], "Grantee") != 0)
        return 0;
    const char *n = ev->path[4];
    if (strcmp(n, "ID") == 0)
        return set_str(&c->id, ev->text);
    if (strcmp(n, "EmailAddress") == 0)
        return set_str(&c->email, ev->text);
    if (strcmp(n, "URI") == 0)
        return set_str(&c->uri, ev->text);
    if (strcmp(n, "DisplayName") == 0)
        return set_opt(&g->display_name, ev->text);
    return 0;
}

int xml_parse_acl(struct xml_acl *out, const char *body, size_t len)
{
    memset(out, 0, sizeof(*out));
    struct acl_ctx c = {.a = out, .type = -1};
    int rc = not_ours(
        walk("AccessControlPolicy", "AccessControlPolicy", body, len, acl_open, acl_close, &c));
    acl_grantee_reset(&c);
    if (rc)
        xml_acl_finish(out);
    return rc;
}

void xml_acl_finish(struct xml_acl *a)
{
    if (!a)
        return;
    free(a->owner_id);
    free(a->owner_display_name);
    for (size_t i = 0; i < a->ngrants; i++) {
        free(a->grants[i].id);
        free(a->grants[i].display_name);
        free(a->grants[i].permission);
    }
    free(a->grants);
    memset(a, 0, sizeof(*a));
}

/* ---- Tagging ---- */

struct tagging_ctx {
    struct xml_tagging *t;
    size_t cap;
};

static int tagging_open(void *ctx, const struct walk_ev *ev)
{
    struct tagging_ctx *c = ctx;
    if (!at(ev, "TagSet", "Tag", NULL))
        return 0;
    struct xml_tag *t = grow(c->t->tags, c->t->ntags, &c->cap, sizeof(*t));
    if (!t)
        return nomem();
    c->t->tags = t;
    memset(&t[c->t->ntags++], 0, sizeof(*t));
    return 0;
}

static int tagging_close(void *ctx, const struct walk_ev *ev)
{
    struct xml_tagging *tg = ((struct tagging_ctx *)ctx)->t;
    struct xml_tag *t = tg->ntags ? &tg->tags[tg->ntags - 1] : NULL;
    if (at(ev, "TagSet", "Tag", "Key", NULL))
        return set_str(&t->key, ev->text);
    if (at(ev, "TagSet", "Tag", "Value", NULL))
        return set_str(&t->value, ev->text);
    if (at(ev, "TagSet", "Tag", NULL)) {
        if (!t->key || !*t->key) {
            err_set("xml: <Tagging>: <Tag> %zu without <Key>", tg->ntags);
            return -EBADMSG;
        }
        return t->value ? 0 : set_str(&t->value, ""); /* an empty value is legal */
    }
    return 0;
}

int xml_parse_tagging(struct xml_tagging *out, const char *body, size_t len)
{
    memset(out, 0, sizeof(*out));
    struct tagging_ctx c = {.t = out};
    int rc = not_ours(walk("Tagging", "Tagging", body, len, tagging_open, tagging_close, &c));
    if (rc)
        xml_tagging_finish(out);
    return rc;
}

void xml_tagging_finish(struct xml_tagging *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ntags; i++) {
        free(t->tags[i].key);
        free(t->tags[i].value);
    }
    free(t->tags);
    memset(t, 0, sizeof(*t));
}

/* ---- CompleteMultipartUploadResult ---- */

static int complete_close(void *ctx, const struct walk_ev *ev)
{
    struct xml_complete *c = ctx;
    if (ev->depth != 1)
        return 0;
    const char *n = ev->path[1];
    if (strcmp(n, "Location") == 0)
        return set_str(&c->location, ev->text);
    if (strcmp(n, "Bucket") == 0)
        return set_str(&c->bucket, ev->text);
    if (strcmp(n, "Key") == 0)
        return set_str(&c->key, ev->text);
    if (strcmp(n, "ETag") == 0)
        return set_etag(&c->etag, ev->text);
    return 0;
}

int xml_parse_complete(struct xml_complete *out, const char *body, size_t len)
{
    memset(out, 0, sizeof(*out));
    int rc = walk("CompleteMultipartUploadResult", "CompleteMultipartUploadResult", body, len, NULL,
                  complete_close, out);
    if (rc == 0)
        return 0;
    xml_complete_finish(out);
    if (rc != -ENOMSG)
        return rc;

    /* The 200 may carry an <Error> instead (S3 answers at once, then works). */
    char wrong_root[256];
    (void)snprintf(wrong_root, sizeof(wrong_root), "%s", err_get());
    struct xml_error e;
    rc = xml_parse_error(&e, body, len);
    if (rc == -ENOMSG) {
        err_set("%s", wrong_root);
        return -EBADMSG;
    }
    if (rc)
        return rc;
    err_set("xml: 200 with <Error>: %s: %s (request %s)", e.code, e.message ? e.message : "",
            e.request_id ? e.request_id : "?");
    xml_error_finish(&e);
    return -EIO;
}

void xml_complete_finish(struct xml_complete *c)
{
    if (!c)
        return;
    free(c->location);
    free(c->bucket);
    free(c->key);
    free(c->etag);
    memset(c, 0, sizeof(*c));
}

/* ---- builders ---- */

/* XML 1.0 carries valid UTF-8 without C0 controls other than tab, LF, CR;
 * anything else would make the server reject the whole body. */
static bool text_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return xmlCheckUTF8((const xmlChar *)s) == 1;
}

struct builder {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
};

/* Starts a document whose root is name in the S3 namespace. */
static int builder_start(struct builder *b, const char *name)
{
    xml_global_init();
    b->w = NULL;
    b->buf = xmlBufferCreate();
    if (b->buf)
        b->w = xmlNewTextWriterMemory(b->buf, 0);
    if (!b->w)
        return nomem();
    if (xmlTextWriterStartDocument(b->w, NULL, "UTF-8", NULL) < 0 ||
        xmlTextWriterStartElement(b->w, BAD_CAST name) < 0 ||
        xmlTextWriterWriteAttribute(b->w, BAD_CAST "xmlns", BAD_CAST S3_XMLNS) < 0)
        return nomem();
    return 0;
}

/* Closes every element and hands out the text; frees b in every case. */
static int builder_end(struct builder *b, int rc, char **out, size_t *out_len)
{
    if (rc == 0 && xmlTextWriterEndDocument(b->w) < 0)
        rc = nomem();
    xmlFreeTextWriter(b->w); /* flushes into buf */
    if (rc == 0) {
        size_t n = (size_t)xmlBufferLength(b->buf);
        char *p = malloc(n + 1);
        if (!p) {
            rc = nomem();
        } else {
            memcpy(p, xmlBufferContent(b->buf), n);
            p[n] = '\0';
            *out = p;
            *out_len = n;
        }
    }
    xmlBufferFree(b->buf);
    return rc;
}

int xml_build_complete(char **out, size_t *out_len, const struct xml_part *parts, size_t nparts)
{
    *out = NULL;
    *out_len = 0;
    if (!parts || nparts == 0) {
        err_set("xml: CompleteMultipartUpload needs at least one part");
        return -EINVAL;
    }
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].number < 1 || (i && parts[i].number <= parts[i - 1].number)) {
            err_set("xml: CompleteMultipartUpload: part %d at index %zu breaks ascending order",
                    parts[i].number, i);
            return -EINVAL;
        }
        if (!parts[i].etag || !text_ok(parts[i].etag)) {
            err_set("xml: CompleteMultipartUpload: part %d: missing or unencodable ETag",
                    parts[i].number);
            return -EINVAL;
        }
    }

    struct builder b;
    int rc = builder_start(&b, "CompleteMultipartUpload");
    for (size_t i = 0; rc == 0 && i < nparts; i++) {
        char num[16];
        (void)snprintf(num, sizeof(num), "%d", parts[i].number);
        /* S3 documents the ETag quoted; RGW and AWS accept it either way. */
        if (xmlTextWriterStartElement(b.w, BAD_CAST "Part") < 0 ||
            xmlTextWriterWriteElement(b.w, BAD_CAST "PartNumber", BAD_CAST num) < 0 ||
            xmlTextWriterStartElement(b.w, BAD_CAST "ETag") < 0 ||
            xmlTextWriterWriteString(b.w, BAD_CAST "\"") < 0 ||
            xmlTextWriterWriteString(b.w, BAD_CAST parts[i].etag) < 0 ||
            xmlTextWriterWriteString(b.w, BAD_CAST "\"") < 0 || xmlTextWriterEndElement(b.w) < 0 ||
            xmlTextWriterEndElement(b.w) < 0)
            rc = nomem();
    }
    return builder_end(&b, rc, out, out_len);
}

int xml_build_create_bucket(char **out, size_t *out_len, const char *region)
{
    *out = NULL;
    *out_len = 0;
    if (!region || !*region || !text_ok(region)) {
        err_set("xml: CreateBucketConfiguration: missing or unencodable region");
        return -EINVAL;
    }
    struct builder b;
    int rc = builder_start(&b, "CreateBucketConfiguration");
    if (rc == 0 &&
        xmlTextWriterWriteElement(b.w, BAD_CAST "LocationConstraint", BAD_CAST region) < 0)
        rc = nomem();
    return builder_end(&b, rc, out, out_len);
}
