#include "sigv4.h"

#include "hex.h"
#include "strbuf.h"

#include "err.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static void buf_add_encoded(struct strbuf *b, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            strbuf_addc(b, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            strbuf_add(b, esc, sizeof(esc));
        }
    }
}

char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash)
{
    struct strbuf b = {0};
    buf_add_encoded(&b, s, len, keep_slash);
    return strbuf_steal(&b);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *sigv4_uri_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
        /* "%00" would cut the C string short and sign another name than the
         * caller meant: refuse it like a malformed escape. */
        if (lo < 0 || (hi | lo) == 0) {
            free(out);
            errno = EINVAL;
            return NULL;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

void sigv4_sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    /* Only fails when libcrypto cannot allocate a context; an empty string
     * then fails every comparison instead of signing garbage. */
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        out[0] = '\0';
        return;
    }
    hex_encode(out, md, 32);
}

void sigv4_amz_date(char out[17], long long unix_seconds)
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    /* Years outside 0000-9999 do not fit the format; sigv4_sign() then
     * refuses the empty date instead of signing a malformed one. */
    if ((long long)t != unix_seconds || !gmtime_r(&t, &tm) || tm.tm_year < -1900 ||
        tm.tm_year > 9999 - 1900 || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        out[0] = '\0';
}

void sigv4_result_finish(struct sigv4_result *res)
{
    if (!res)
        return;
    free(res->canonical_path);
    free(res->canonical_query);
    free(res->canonical_request);
    free(res->string_to_sign);
    free(res->signed_headers);
    free(res->authorization);
    *res = (struct sigv4_result){0};
}

/* "YYYYMMDDTHHMMSSZ", digits only where digits belong. */
static bool amz_date_valid(const char *d)
{
    if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (d[i] < '0' || d[i] > '9'))
            return false;
    return true;
}

/* Dot-segment removal and empty-segment collapse on the decoded path, as
 * the non-S3 suites expect ("//a/./b/../" -> "/a/"). A path that ended in
 * '/', "." or ".." keeps a trailing '/' (RFC 3986 5.2.4). */
static char *path_normalize(const char *path)
{
    size_t n = strlen(path);
    struct strbuf b = {0};
    /* Each kept segment's start offset in b, to pop on "..". */
    size_t *starts = calloc(n / 2 + 2, sizeof(*starts));
    size_t depth = 0;
    bool trailing = false;
    if (!starts)
        return NULL;
    strbuf_addc(&b, '/');
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t seg = j - i;
        trailing = j < n;
        if (seg == 0 || (seg == 1 && path[i] == '.')) {
            trailing = true;
        } else if (seg == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (depth > 0)
                b.len = starts[--depth];
            if (b.p)
                b.p[b.len] = '\0';
            trailing = true;
        } else {
            starts[depth++] = b.len;
            if (b.len > 1)
                strbuf_addc(&b, '/');
            strbuf_add(&b, path + i, seg);
        }
        i = j + 1;
    }
    if (trailing && depth > 0)
        strbuf_addc(&b, '/');
    free(starts);
    return strbuf_steal(&b);
}

struct canon_kv {
    char *name;
    char *value;
    size_t order; /* input position: keeps duplicate headers in request order */
};

static void canon_kv_free(struct canon_kv *kv, size_t n)
{
    if (!kv)
        return;
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

static int query_cmp(const void *a, const void *b)
{
    const struct canon_kv *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static int header_cmp(const void *a, const void *b)
{
    const struct canon_kv *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Encoded, sorted "a=1&b=" into *out. */
static int canonical_query(char **out, const struct sigv4_kv *q, size_t n)
{
    struct canon_kv *kv = n ? calloc(n, sizeof(*kv)) : NULL;
    struct strbuf b = {0};
    int r = -ENOMEM;
    if (n && !kv)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!q[i].name) {
            err_set("sigv4: query parameter %zu has no name", i);
            r = -EINVAL;
            goto out;
        }
        const char *v = q[i].value ? q[i].value : "";
        kv[i].name = sigv4_uri_encode(q[i].name, strlen(q[i].name), false);
        kv[i].value = sigv4_uri_encode(v, strlen(v), false);
        if (!kv[i].name || !kv[i].value)
            goto out;
    }
    if (n)
        qsort(kv, n, sizeof(*kv), query_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addc(&b, '&');
        strbuf_adds(&b, kv[i].name);
        strbuf_addc(&b, '=');
        strbuf_adds(&b, kv[i].value);
    }
    *out = strbuf_steal(&b);
    r = *out ? 0 : -ENOMEM;
out:
    canon_kv_free(kv, n);
    return r;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Lower-cased name; NULL with *bad set when it is no HTTP token. */
static char *header_name(const char *s, bool *bad)
{
    size_t n = strlen(s);
    *bad = n == 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == ':')
            *bad = true;
    }
    if (*bad)
        return NULL;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
    return out;
}

/* Value trimmed, inner runs of blanks collapsed to one space. */
static char *header_value(const char *s)
{
    struct strbuf b = {0};
    bool pending_space = false;
    for (; *s; s++) {
        if (is_space(*s)) {
            pending_space = b.len > 0;
            continue;
        }
        if (pending_space)
            strbuf_addc(&b, ' ');
        pending_space = false;
        strbuf_addc(&b, *s);
    }
    return strbuf_steal(&b);
}

/* Canonical header block ("name:value\n"...) and signed-header list.
 * Checks the headers a server compares against our own arguments: a
 * mismatch would be signed fine and then rejected far away. */
static int canonical_headers(char **block, char **signed_headers, const struct sigv4_request *req)
{
    size_t n = req->nheaders;
    struct canon_kv *kv = n ? calloc(n, sizeof(*kv)) : NULL;
    struct strbuf hb = {0}, sb = {0};
    bool have_host = false;
    int r = -ENOMEM;
    if (n && !kv)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct sigv4_kv *h = &req->headers[i];
        bool bad = !h->name || !h->value;
        if (!bad)
            kv[i].name = header_name(h->name, &bad);
        if (!bad && strpbrk(h->value, "\r\n"))
            bad = true; /* would inject a header or break the canonical form */
        if (bad) {
            err_set("sigv4: bad header %zu \"%s\"", i, h->name ? h->name : "(null)");
            r = -EINVAL;
            goto out;
        }
        kv[i].value = header_value(h->value);
        kv[i].order = i;
        if (!kv[i].name || !kv[i].value)
            goto out;
        const char *want = NULL;
        if (strcmp(kv[i].name, "host") == 0)
            have_host = kv[i].value[0] != '\0';
        else if (strcmp(kv[i].name, "x-amz-date") == 0)
            want = req->amz_date;
        else if (strcmp(kv[i].name, "x-amz-content-sha256") == 0)
            want = req->payload_hash;
        if (want && strcmp(kv[i].value, want) != 0) {
            err_set("sigv4: header %s \"%s\" differs from the signed \"%s\"", kv[i].name,
                    kv[i].value, want);
            r = -EINVAL;
            goto out;
        }
    }
    if (!have_host) {
        err_set("sigv4: no host header");
        r = -EINVAL;
        goto out;
    }
    qsort(kv, n, sizeof(*kv), header_cmp);
    for (size_t i = 0; i < n; i++) {
        bool repeat = i > 0 && strcmp(kv[i].name, kv[i - 1].name) == 0;
        if (repeat) {
            strbuf_addc(&hb, ',');
        } else {
            if (i > 0) {
                strbuf_addc(&hb, '\n');
                strbuf_addc(&sb, ';');
            }
            strbuf_adds(&hb, kv[i].name);
            strbuf_addc(&hb, ':');
            strbuf_adds(&sb, kv[i].name);
        }
        strbuf_adds(&hb, kv[i].value);
    }
    strbuf_addc(&hb, '\n');
    *block = strbuf_steal(&hb);
    *signed_headers = strbuf_steal(&sb);
    if (*block && *signed_headers) {
        r = 0;
    } else {
        free(*block);
        free(*signed_headers);
        *block = *signed_headers = NULL;
    }
out:
    free(hb.p);
    free(sb.p);
    canon_kv_free(kv, n);
    return r;
}

/* Encoded path to send, and the form that goes into the canonical request
 * (differs only with double_encode_path). */
static int canonical_path(struct sigv4_result *res, char **creq_path,
                          const struct sigv4_request *req)
{
    const char *path = req->path && req->path[0] ? req->path : "/";
    char *norm = NULL;
    if (path[0] != '/') {
        err_set("sigv4: path \"%s\" does not start with '/'", path);
        return -EINVAL;
    }
    if (req->normalize_path) {
        norm = path_normalize(path);
        if (!norm)
            return -ENOMEM;
        path = norm;
    }
    res->canonical_path = sigv4_uri_encode(path, strlen(path), true);
    free(norm);
    if (!res->canonical_path)
        return -ENOMEM;
    if (req->double_encode_path)
        *creq_path = sigv4_uri_encode(res->canonical_path, strlen(res->canonical_path), true);
    else
        *creq_path = strdup(res->canonical_path);
    return *creq_path ? 0 : -ENOMEM;
}

static bool hmac_sha256(unsigned char out[32], const void *key, size_t keylen, const char *msg)
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out,
                &len) &&
           len == 32;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
 * "aws4_request"). It changes once a day per secret, region and service, and
 * deriving it is four HMACs: each thread keeps the last few it derived (as
 * the AWS SDKs do), so a request costs one HMAC. Key material is wiped. */
#define KEY_CACHE 4

struct signing_key {
    char secret[128];
    char date8[9];
    char region[32];
    char service[16];
    unsigned char key[32];
    unsigned long used;
};

static _Thread_local struct signing_key key_cache[KEY_CACHE];
static _Thread_local unsigned long key_clock;

static bool key_fits(const struct signing_key *k, const char *secret, const char *date8,
                     const char *region, const char *service)
{
    return k->used && strcmp(k->secret, secret) == 0 && strcmp(k->date8, date8) == 0 &&
           strcmp(k->region, region) == 0 && strcmp(k->service, service) == 0;
}

static int derive_key(unsigned char out[32], const char *secret, const char *date8,
                      const char *region, const char *service)
{
    for (int i = 0; i < KEY_CACHE; i++) {
        if (key_fits(&key_cache[i], secret, date8, region, service)) {
            key_cache[i].used = ++key_clock;
            memcpy(out, key_cache[i].key, 32);
            return 0;
        }
    }
    struct strbuf k = {0};
    unsigned char a[32], b[32];
    int r = -EIO;
    strbuf_adds(&k, "AWS4");
    strbuf_adds(&k, secret);
    if (k.oom) {
        free(k.p);
        return -ENOMEM;
    }
    if (hmac_sha256(a, k.p, k.len, date8) && hmac_sha256(b, a, 32, region) &&
        hmac_sha256(a, b, 32, service) && hmac_sha256(out, a, 32, "aws4_request")) {
        r = 0;
    } else {
        err_set("sigv4: HMAC-SHA256 failed in libcrypto");
    }
    OPENSSL_cleanse(k.p, k.len);
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    free(k.p);
    /* remember it when every part fits its slot (a longer one is derived each time) */
    if (r == 0 && strlen(secret) < sizeof(key_cache[0].secret) &&
        strlen(region) < sizeof(key_cache[0].region) &&
        strlen(service) < sizeof(key_cache[0].service)) {
        struct signing_key *victim = &key_cache[0];
        for (int i = 1; i < KEY_CACHE; i++)
            if (key_cache[i].used < victim->used)
                victim = &key_cache[i];
        OPENSSL_cleanse(victim, sizeof(*victim));
        (void) snprintf(victim->secret, sizeof(victim->secret), "%s", secret);
        memcpy(victim->date8, date8, sizeof(victim->date8));
        (void) snprintf(victim->region, sizeof(victim->region), "%s", region);
        (void) snprintf(victim->service, sizeof(victim->service), "%s", service);
        memcpy(victim->key, out, 32);
        victim->used = ++key_clock;
    }
    return r;
}

/* The signature: HMAC(kSigning, string to sign). */
static int compute_signature(char out[65], const char *secret, const char *date8,
                             const char *region, const char *service, const char *sts)
{
    unsigned char key[32], sig[32];
    int r = derive_key(key, secret, date8, region, service);
    if (r == 0 && !hmac_sha256(sig, key, 32, sts)) {
        err_set("sigv4: HMAC-SHA256 failed in libcrypto");
        r = -EIO;
    }
    if (r == 0)
        hex_encode(out, sig, 32);
    OPENSSL_cleanse(key, sizeof(key));
    return r;
}

static bool method_valid(const char *m)
{
    if (!m || !*m)
        return false;
    for (; *m; m++)
        if ((unsigned char)*m <= ' ' || (unsigned char)*m >= 0x7f)
            return false;
    return true;
}

int sigv4_sign(struct sigv4_result *out, const struct sigv4_request *req,
               const struct sigv4_creds *creds)
{
    struct sigv4_result res = {0};
    char *creq_path = NULL, *header_block = NULL;
    struct strbuf b = {0};
    char date8[9], hash[65];
    int r;

    *out = (struct sigv4_result){0};
    if (!method_valid(req->method) || !creds->access_key || !creds->secret || !req->payload_hash ||
        !req->payload_hash[0] || strpbrk(req->payload_hash, "\r\n")) {
        err_set("sigv4: request lacks method, payload hash or credentials");
        return -EINVAL;
    }
    if (!amz_date_valid(req->amz_date)) {
        err_set("sigv4: bad amz_date \"%s\"", req->amz_date ? req->amz_date : "(null)");
        return -EINVAL;
    }
    const char *region = creds->region && creds->region[0] ? creds->region : "us-east-1";
    const char *service = creds->service && creds->service[0] ? creds->service : "s3";
    memcpy(date8, req->amz_date, 8);
    date8[8] = '\0';

    r = canonical_path(&res, &creq_path, req);
    if (r < 0)
        goto fail;
    r = canonical_query(&res.canonical_query, req->query, req->nquery);
    if (r < 0)
        goto fail;
    r = canonical_headers(&header_block, &res.signed_headers, req);
    if (r < 0)
        goto fail;

    r = -ENOMEM;
    strbuf_adds(&b, req->method);
    strbuf_addc(&b, '\n');
    strbuf_adds(&b, creq_path);
    strbuf_addc(&b, '\n');
    strbuf_adds(&b, res.canonical_query);
    strbuf_addc(&b, '\n');
    strbuf_adds(&b, header_block);
    strbuf_addc(&b, '\n');
    strbuf_adds(&b, res.signed_headers);
    strbuf_addc(&b, '\n');
    strbuf_adds(&b, req->payload_hash);
    res.canonical_request = strbuf_steal(&b);
    if (!res.canonical_request)
        goto fail;

    sigv4_sha256_hex(hash, res.canonical_request, strlen(res.canonical_request));
    if (!hash[0]) {
        err_set("sigv4: SHA-256 failed in libcrypto");
        r = -EIO;
        goto fail;
    }
    strbuf_adds(&b, SIGV4_ALGORITHM "\n");
    strbuf_adds(&b, req->amz_date);
    strbuf_addc(&b, '\n');
    strbuf_adds(&b, date8);
    strbuf_addc(&b, '/');
    strbuf_adds(&b, region);
    strbuf_addc(&b, '/');
    strbuf_adds(&b, service);
    strbuf_adds(&b, "/aws4_request\n");
    strbuf_adds(&b, hash);
    res.string_to_sign = strbuf_steal(&b);
    if (!res.string_to_sign)
        goto fail;

    r = compute_signature(res.signature, creds->secret, date8, region, service, res.string_to_sign);
    if (r < 0)
        goto fail;

    r = -ENOMEM;
    strbuf_adds(&b, SIGV4_ALGORITHM " Credential=");
    strbuf_adds(&b, creds->access_key);
    strbuf_addc(&b, '/');
    strbuf_adds(&b, date8);
    strbuf_addc(&b, '/');
    strbuf_adds(&b, region);
    strbuf_addc(&b, '/');
    strbuf_adds(&b, service);
    strbuf_adds(&b, "/aws4_request, SignedHeaders=");
    strbuf_adds(&b, res.signed_headers);
    strbuf_adds(&b, ", Signature=");
    strbuf_adds(&b, res.signature);
    res.authorization = strbuf_steal(&b);
    if (!res.authorization)
        goto fail;

    free(creq_path);
    free(header_block);
    *out = res;
    return 0;

fail:
    if (r == -ENOMEM)
        err_set("sigv4: out of memory");
    free(header_block);
    free(creq_path);
    sigv4_result_finish(&res);
    return r;
}
