#include "server/auth.h"

#include "err.h"
#include "http/sigv4.h"
#include "strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>


/* ---- request helpers ---------------------------------------------------- */

/* First value of header name (case-insensitive), NULL if absent. */
static const char *hdr_get(const struct auth_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value ? req->headers[i].value : "";
    return NULL;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static long long now_of(const struct auth_request *req)
{
    return req->now == AUTH_NOW_CLOCK ? (long long) time(NULL) : req->now;
}

static int check_skew(const struct auth_request *req, long long t, const char *what)
{
    if (req->now == AUTH_NOW_NO_SKEW_CHECK)
        return 0;
    long long d = now_of(req) - t;
    if (d > AUTH_MAX_SKEW_SECONDS || d < -AUTH_MAX_SKEW_SECONDS) {
        err_set("auth: %s is %lld s away from our clock (limit %d s)", what, d < 0 ? -d : d,
                AUTH_MAX_SKEW_SECONDS);
        return -EACCES;
    }
    return 0;
}

/* ---- dates -------------------------------------------------------------- */

static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned) (y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long) doe - 719468;
}

static const char *const month_names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
static const char *const day_full[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday"};

static void skip_sp(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* Reads [A-Za-z]+ into w (lower-cased, at most cap-1 chars). */
static bool read_word(const char **p, char *w, size_t cap)
{
    size_t n = 0;
    while (isalpha((unsigned char) **p)) {
        if (n + 1 >= cap)
            return false;
        w[n++] = (char) tolower((unsigned char) **p);
        (*p)++;
    }
    w[n] = '\0';
    return n > 0;
}

static bool read_num(const char **p, int min_digits, int max_digits, int *out)
{
    int n = 0, v = 0;
    while (isdigit((unsigned char) **p) && n < max_digits) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n < min_digits || isdigit((unsigned char) **p))
        return false;
    *out = v;
    return true;
}

static int month_index(const char *w)
{
    for (int i = 0; i < 12; i++)
        if (strcmp(w, month_names[i]) == 0)
            return i + 1;
    return 0;
}

static bool day_name_ok(const char *w)
{
    for (int i = 0; i < 7; i++)
        if (strcmp(w, day_names[i]) == 0 || strcmp(w, day_full[i]) == 0)
            return true;
    return false;
}

static bool read_hms(const char **p, int *h, int *mi, int *s)
{
    if (!read_num(p, 1, 2, h) || **p != ':')
        return false;
    (*p)++;
    if (!read_num(p, 2, 2, mi) || **p != ':')
        return false;
    (*p)++;
    return read_num(p, 2, 2, s);
}

int auth_parse_http_date(const char *s, long long *out)
{
    const char *p = s;
    char w[16];
    int year, mon, day, h, mi, sec;
    long long offset = 0;

    if (!s)
        return -EINVAL;
    skip_sp(&p);
    if (!read_word(&p, w, sizeof(w)) || !day_name_ok(w))
        return -EINVAL;
    if (*p == ',') {
        p++;
        skip_sp(&p);
        if (!read_num(&p, 1, 2, &day))
            return -EINVAL;
        if (*p == '-') { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
            p++;
            if (!read_word(&p, w, sizeof(w)) || !(mon = month_index(w)) || *p != '-')
                return -EINVAL;
            p++;
            if (!read_num(&p, 2, 2, &year))
                return -EINVAL;
            year += year < 69 ? 2000 : 1900; /* strptime's %y */
            skip_sp(&p);
            if (!read_hms(&p, &h, &mi, &sec))
                return -EINVAL;
            skip_sp(&p);
            if (!read_word(&p, w, sizeof(w)) || (strcmp(w, "gmt") != 0 && strcmp(w, "utc") != 0))
                return -EINVAL;
        } else { /* RFC 1123: Sun, 06 Nov 1994 08:49:37 GMT|UTC|+hhmm */
            skip_sp(&p);
            if (!read_word(&p, w, sizeof(w)) || !(mon = month_index(w)))
                return -EINVAL;
            skip_sp(&p);
            if (!read_num(&p, 4, 4, &year))
                return -EINVAL;
            skip_sp(&p);
            if (!read_hms(&p, &h, &mi, &sec))
                return -EINVAL;
            skip_sp(&p);
            if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, hhmm;
                p++;
                if (!read_num(&p, 4, 4, &hhmm) || hhmm % 100 > 59)
                    return -EINVAL;
                offset = sign * ((hhmm / 100) * 3600LL + (hhmm % 100) * 60LL);
            } else if (!read_word(&p, w, sizeof(w)) ||
                       (strcmp(w, "gmt") != 0 && strcmp(w, "utc") != 0)) {
                return -EINVAL;
            }
        }
    } else { /* asctime: Sun Nov  6 08:49:37 1994 */
        skip_sp(&p);
        if (!read_word(&p, w, sizeof(w)) || !(mon = month_index(w)))
            return -EINVAL;
        skip_sp(&p);
        if (!read_num(&p, 1, 2, &day))
            return -EINVAL;
        skip_sp(&p);
        if (!read_hms(&p, &h, &mi, &sec))
            return -EINVAL;
        skip_sp(&p);
        if (!read_num(&p, 4, 4, &year))
            return -EINVAL;
    }
    skip_sp(&p);
    if (*p != '\0')
        return -EINVAL;
    if (year < 1970 || day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    *out = days_from_civil(year, (unsigned) mon, (unsigned) day) * 86400LL + h * 3600LL +
           mi * 60LL + sec - offset;
    return 0;
}

/* n digits at s, no more no less. */
static bool fixed_num(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char) s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "20130524T000000Z" -> unix seconds. */
static int parse_amz_date(const char *s, long long *out)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' || !fixed_num(s, 4, &y) ||
        !fixed_num(s + 4, 2, &mo) || !fixed_num(s + 6, 2, &d) || !fixed_num(s + 9, 2, &h) ||
        !fixed_num(s + 11, 2, &mi) || !fixed_num(s + 13, 2, &sec))
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    *out = days_from_civil(y, (unsigned) mo, (unsigned) d) * 86400LL + h * 3600LL + mi * 60LL + sec;
    return 0;
}

/* ---- AWS v2 ------------------------------------------------------------- */

/* rgw_auth_s3.cc signed_subresources, in RGW's order (it is not sorted). */
static const char *const v2_subresources[] = {
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "object-lock",
};

/* RGWHTTPArgs::append: these admin parameters make a sub-resource only when
 * first of their group, and then with an empty value. Of them only "policy"
 * is also a signed sub-resource. */
static const char *const v2_admin_subresources[] = {"subuser", "key",  "caps",   "index", "policy",
                                                    "quota",   "list", "object", "sync"};

static bool is_admin_subresource(const char *name)
{
    for (size_t i = 0; i < sizeof(v2_admin_subresources) / sizeof(v2_admin_subresources[0]); i++)
        if (strcmp(name, v2_admin_subresources[i]) == 0)
            return true;
    return false;
}

/* The value RGW's sub_resources map holds for name; NULL if not a
 * sub-resource of this request. Later repeats win, as map assignment does. */
static const char *subresource_value(const struct auth_request *req, const char *name)
{
    if (strcmp(name, "policy") == 0) {
        for (size_t i = 0; i < req->nquery; i++) {
            if (!is_admin_subresource(req->query[i].name))
                continue;
            return strcmp(req->query[i].name, "policy") == 0 ? "" : NULL;
        }
        return NULL;
    }
    const char *v = NULL;
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].name, name) == 0)
            v = req->query[i].value ? req->query[i].value : "";
    return v;
}

/* RGW's meta_prefixes, all renamed "x-amz..." (rgw_common.cc init_meta_info). */
static const char *const amz_prefixes[] = {"x-amz", "x-goog",   "x-dho",
                                           "x-rgw", "x-object", "x-container"};

struct amz_hdr {
    char *name;  /* canonical, malloc'd */
    char *value; /* merged, malloc'd */
};

static int amz_cmp(const void *a, const void *b)
{
    return strcmp(((const struct amz_hdr *) a)->name, ((const struct amz_hdr *) b)->name);
}

static void amz_free(struct amz_hdr *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

/* Canonical name for an amz-ish header, or NULL (not one; errno ENOMEM on
 * allocation failure, else 0). */
static char *amz_name(const char *name)
{
    errno = 0;
    for (size_t i = 0; i < sizeof(amz_prefixes) / sizeof(amz_prefixes[0]); i++) {
        size_t pl = strlen(amz_prefixes[i]);
        if (!has_prefix_ci(name, amz_prefixes[i]))
            continue;
        const char *rest = name + pl;
        size_t n = 5 + strlen(rest);
        char *out = malloc(n + 1);
        if (!out) {
            errno = ENOMEM;
            return NULL;
        }
        memcpy(out, "x-amz", 5);
        for (size_t j = 0; rest[j]; j++) {
            char c = (char) tolower((unsigned char) rest[j]);
            out[5 + j] = c == '_' ? '-' : c;
        }
        out[n] = '\0';
        return out;
    }
    return NULL;
}

/* Appends "name:value\n" for every amz header, sorted, repeats merged. */
static int add_amz_headers(struct strbuf *b, const struct auth_request *req)
{
    struct amz_hdr *h = calloc(req->nheaders ? req->nheaders : 1, sizeof(*h));
    size_t n = 0;
    int rc = 0;
    if (!h)
        return -ENOMEM;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *val = req->headers[i].value ? req->headers[i].value : "";
        char *name = amz_name(req->headers[i].name);
        if (!name) {
            if (errno == ENOMEM) {
                rc = -ENOMEM;
                goto out;
            }
            continue;
        }
        size_t j;
        for (j = 0; j < n; j++)
            if (strcmp(h[j].name, name) == 0)
                break;
        if (j < n) { /* RGW: trim_right(old) + "," + new */
            free(name);
            size_t ol = strlen(h[j].value);
            while (ol > 0 && isspace((unsigned char) h[j].value[ol - 1]))
                ol--;
            size_t vl = strlen(val);
            char *m = malloc(ol + 1 + vl + 1);
            if (!m) {
                rc = -ENOMEM;
                goto out;
            }
            memcpy(m, h[j].value, ol);
            m[ol] = ',';
            memcpy(m + ol + 1, val, vl + 1);
            free(h[j].value);
            h[j].value = m;
        } else {
            h[n].name = name;
            h[n].value = strdup(val);
            n++;
            if (!h[n - 1].value) {
                rc = -ENOMEM;
                goto out;
            }
        }
    }
    qsort(h, n, sizeof(*h), amz_cmp);
    for (size_t i = 0; i < n; i++) {
        strbuf_adds(b, h[i].name);
        strbuf_add(b, ":", 1);
        strbuf_adds(b, h[i].value);
        strbuf_add(b, "\n", 1);
    }
out:
    amz_free(h, n);
    return rc;
}

static bool base64_charset(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char) *s) || isspace((unsigned char) *s) || *s == '+' ||
              *s == '/' || *s == '='))
            return false;
    return true;
}

int auth_v2_string_to_sign(char **out, const struct auth_request *req)
{
    struct strbuf b = {0};
    const char *md5 = hdr_get(req, "Content-MD5");
    const char *ctype = hdr_get(req, "Content-Type");
    const char *date = hdr_get(req, "Date");
    int rc;

    *out = NULL;
    if (md5 && !base64_charset(md5)) {
        err_set("auth: Content-MD5 is not base64");
        return -EACCES;
    }
    if (hdr_get(req, "x-amz-date")) {
        date = ""; /* RGW signs x-amz-date among the amz headers instead */
    } else if (!date) {
        err_set("auth: v2 request without Date or x-amz-date");
        return -EACCES;
    }
    strbuf_adds(&b, req->method ? req->method : "");
    strbuf_add(&b, "\n", 1);
    strbuf_adds(&b, md5 ? md5 : "");
    strbuf_add(&b, "\n", 1);
    strbuf_adds(&b, ctype ? ctype : "");
    strbuf_add(&b, "\n", 1);
    strbuf_adds(&b, date);
    strbuf_add(&b, "\n", 1);
    rc = add_amz_headers(&b, req);
    if (rc < 0) {
        free(b.p);
        err_set("auth: out of memory");
        return rc;
    }
    strbuf_adds(&b, req->raw_path ? req->raw_path : "");
    bool first = true;
    for (size_t i = 0; i < sizeof(v2_subresources) / sizeof(v2_subresources[0]); i++) {
        const char *v = subresource_value(req, v2_subresources[i]);
        if (!v)
            continue;
        strbuf_add(&b, first ? "?" : "&", 1);
        first = false;
        strbuf_adds(&b, v2_subresources[i]);
        if (*v) {
            strbuf_add(&b, "=", 1);
            strbuf_adds(&b, v);
        }
    }
    if (b.oom || !b.p) {
        free(b.p);
        err_set("auth: out of memory");
        return -ENOMEM;
    }
    *out = b.p;
    return 0;
}

/* Constant-time comparison of two NUL-terminated strings (length leaks). */
static bool secure_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static int verify_v2(const struct auth_request *req, const char *cred, const char *access_key,
                     const char *secret)
{
    const char *colon = strrchr(cred, ':'); /* RGW: rfind(':') */
    if (!colon) {
        err_set("auth: v2 Authorization without ':'");
        return -EACCES;
    }
    size_t aklen = (size_t) (colon - cred);
    if (aklen != strlen(access_key) || memcmp(cred, access_key, aklen) != 0) {
        err_set("auth: v2 request signed with another access key (%.*s)",
                (int) (aklen > 64 ? 64 : aklen), cred);
        return -EACCES;
    }
    const char *sig = colon + 1;

    /* the time first: a stale request is refused whatever its signature */
    const char *tstr = hdr_get(req, "x-amz-date");
    const char *what = "x-amz-date";
    if (!tstr) {
        tstr = hdr_get(req, "Date");
        what = "Date";
    }
    long long t;
    if (!tstr || auth_parse_http_date(tstr, &t) < 0) {
        err_set("auth: v2 request with a missing or unparsable %s", what);
        return -EACCES;
    }
    int rc = check_skew(req, t, what);
    if (rc < 0)
        return rc;

    char *sts;
    rc = auth_v2_string_to_sign(&sts, req);
    if (rc < 0)
        return rc;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha1(), secret, (int) strlen(secret), (const unsigned char *) sts, strlen(sts),
              mac, &maclen)) {
        free(sts);
        err_set("auth: HMAC-SHA1 failed in libcrypto");
        return -EIO;
    }
    free(sts);
    char expect[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    (void) EVP_EncodeBlock((unsigned char *) expect, mac, (int) maclen);
    OPENSSL_cleanse(mac, sizeof(mac));
    bool ok = secure_eq(expect, sig);
    OPENSSL_cleanse(expect, sizeof(expect));
    if (!ok) {
        err_set("auth: v2 signature does not match (string to sign or secret differ)");
        return -EACCES;
    }
    return 0;
}

/* ---- AWS v4 ------------------------------------------------------------- */

struct v4_auth {
    char *credential, *signed_headers, *signature; /* slices of a private copy */
    char *copy;
};

/* "Credential=AK/d/r/s/aws4_request, SignedHeaders=a;b, Signature=hex" */
static int parse_v4_header(struct v4_auth *a, const char *params)
{
    memset(a, 0, sizeof(*a));
    a->copy = strdup(params);
    if (!a->copy) {
        err_set("auth: out of memory");
        return -ENOMEM;
    }
    char *save = NULL;
    for (char *tok = strtok_r(a->copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t l = strlen(tok);
        while (l > 0 && (tok[l - 1] == ' ' || tok[l - 1] == '\t'))
            tok[--l] = '\0';
        char *eq = strchr(tok, '=');
        if (!eq) {
            err_set("auth: malformed v4 Authorization part");
            return -EACCES;
        }
        *eq = '\0';
        if (strcmp(tok, "Credential") == 0)
            a->credential = eq + 1;
        else if (strcmp(tok, "SignedHeaders") == 0)
            a->signed_headers = eq + 1;
        else if (strcmp(tok, "Signature") == 0)
            a->signature = eq + 1;
    }
    if (!a->credential || !a->signed_headers || !a->signature) {
        err_set("auth: v4 Authorization lacks Credential, SignedHeaders or Signature");
        return -EACCES;
    }
    return 0;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char) s[i]))
            return false;
    return s[n] == '\0';
}

static int verify_v4(const struct auth_request *req, const char *params, const char *access_key,
                     const char *secret)
{
    struct v4_auth a;
    struct sigv4_kv *hv = NULL;
    struct sigv4_result res = {0};
    char *names = NULL;
    int rc = parse_v4_header(&a, params);
    if (rc < 0)
        goto out;

    /* AK/YYYYMMDD/region/service/aws4_request */
    char *parts[5];
    char *p = a.credential;
    for (int i = 0; i < 5; i++) {
        parts[i] = p;
        char *slash = i < 4 ? strchr(p, '/') : NULL;
        if (i < 4 && !slash) {
            err_set("auth: v4 Credential is not AK/date/region/service/aws4_request");
            rc = -EACCES;
            goto out;
        }
        if (slash) {
            *slash = '\0';
            p = slash + 1;
        }
    }
    if (strchr(parts[4], '/') || strcmp(parts[4], "aws4_request") != 0) {
        err_set("auth: v4 Credential is not AK/date/region/service/aws4_request");
        rc = -EACCES;
        goto out;
    }
    if (strcmp(parts[0], access_key) != 0) {
        err_set("auth: v4 request signed with another access key (%.64s)", parts[0]);
        rc = -EACCES;
        goto out;
    }

    const char *amz_date = hdr_get(req, "x-amz-date");
    long long t;
    if (!amz_date || parse_amz_date(amz_date, &t) < 0) {
        err_set("auth: v4 request with a missing or unparsable x-amz-date");
        rc = -EACCES;
        goto out;
    }
    if (strlen(parts[1]) != 8 || strncmp(parts[1], amz_date, 8) != 0) {
        err_set("auth: v4 credential scope date %.16s is not the x-amz-date day", parts[1]);
        rc = -EACCES;
        goto out;
    }
    rc = check_skew(req, t, "x-amz-date");
    if (rc < 0)
        goto out;

    /* the payload hash the signature covers, and that it is this body's */
    char body_hash[65];
    const char *payload = hdr_get(req, "x-amz-content-sha256");
    if (payload && has_prefix_ci(payload, "STREAMING-")) {
        err_set("auth: streaming v4 payloads are not accepted here");
        rc = -EACCES;
        goto out;
    }
    if (!payload || strcmp(payload, SIGV4_UNSIGNED_PAYLOAD) != 0) {
        sigv4_sha256_hex(body_hash, req->body ? req->body : "", req->body ? req->body_len : 0);
        if (!body_hash[0]) {
            err_set("auth: SHA-256 failed in libcrypto");
            rc = -EIO;
            goto out;
        }
        if (payload && (!all_hex(payload, 64) || strcasecmp(payload, body_hash) != 0)) {
            err_set("auth: body does not match x-amz-content-sha256");
            rc = -EACCES;
            goto out;
        }
        if (!payload)
            payload = body_hash;
    }

    /* the signed headers' values, every occurrence, in received order */
    names = strdup(a.signed_headers);
    size_t nsigned = 1;
    for (const char *c = a.signed_headers; *c; c++)
        nsigned += *c == ';';
    size_t hv_cap = req->nheaders + nsigned;
    hv = calloc(hv_cap, sizeof(*hv));
    if (!names || !hv) {
        err_set("auth: out of memory");
        rc = -ENOMEM;
        goto out;
    }
    size_t nh = 0;
    char *save = NULL;
    for (char *n = strtok_r(names, ";", &save); n; n = strtok_r(NULL, ";", &save)) {
        bool found = false;
        for (size_t i = 0; i < req->nheaders; i++) {
            if (strcasecmp(req->headers[i].name, n) != 0)
                continue;
            if (nh >= hv_cap)
                break;
            hv[nh].name = n;
            hv[nh].value = req->headers[i].value ? req->headers[i].value : "";
            nh++;
            found = true;
        }
        if (!found) {
            err_set("auth: v4 signed header %.64s is not in the request", n);
            rc = -EACCES;
            goto out;
        }
    }

    struct sigv4_request sr = {
        .method = req->method,
        .path = NULL,
        .query = req->query,
        .nquery = req->nquery,
        .headers = hv,
        .nheaders = nh,
        .amz_date = amz_date,
        .payload_hash = payload,
    };
    char *path = sigv4_uri_decode(req->raw_path, strlen(req->raw_path));
    if (!path) {
        rc = errno == ENOMEM ? -ENOMEM : -EACCES;
        err_set("auth: request path does not decode");
        goto out;
    }
    sr.path = path;
    struct sigv4_creds cr = {
        .access_key = access_key,
        .secret = secret,
        .region = parts[2],
        .service = parts[3],
    };
    rc = sigv4_sign(&res, &sr, &cr);
    free(path);
    if (rc == -EINVAL) {
        /* e.g. host not signed: nothing a valid request would do */
        char why[256];
        snprintf(why, sizeof(why), "%s", err_get());
        err_set("auth: v4 request cannot be canonicalised (%s)", why);
        rc = -EACCES;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (strlen(a.signature) != 64 || CRYPTO_memcmp(res.signature, a.signature, 64) != 0) {
        err_set("auth: v4 signature does not match (canonical request or secret differ)");
        rc = -EACCES;
        goto out;
    }
    rc = 0;
out:
    sigv4_result_finish(&res);
    free(hv);
    free(names);
    free(a.copy);
    return rc;
}

/* ---- entry point -------------------------------------------------------- */

int auth_verify(const struct auth_request *req, const char *access_key, const char *secret)
{
    if (!access_key || !*access_key || !secret || !*secret) {
        err_set("auth: no system key configured");
        return -EACCES;
    }
    if (!req->method || !req->raw_path || req->raw_path[0] != '/') {
        err_set("auth: request without method or absolute path");
        return -EACCES;
    }
    const char *auth = hdr_get(req, "Authorization");
    if (!auth) {
        err_set("auth: request is not signed (no Authorization header)");
        return -EACCES;
    }
    if (strncmp(auth, "AWS4-HMAC-SHA256", 16) == 0 && (auth[16] == ' ' || auth[16] == '\t'))
        return verify_v4(req, auth + 17, access_key, secret);
    if (strncmp(auth, "AWS ", 4) == 0)
        return verify_v2(req, auth + 4, access_key, secret);
    err_set("auth: unsupported Authorization scheme");
    return -EACCES;
}
