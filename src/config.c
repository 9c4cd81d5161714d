/* Loading and checking the config file (CONFIG.md; RGW's tier-config schema
 * in research/anchors.md §1.2).
 *
 * Two passes over the JSON tree, which stays alive for the whole load:
 * parse every block on its own (types, enums, sizes, unknown keys), then
 * resolve references and inheritance and run the checks that need the
 * resolved values (provider rules, target bucket names). A problem never
 * stops the load: everything is checked, and a value that was already
 * reported is left out of later checks so one mistake gives one line. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define KiB           (UINT64_C(1024))
#define MiB           (KiB * 1024)
#define GiB           (MiB * 1024)
#define MIN_PART_SIZE (5 * MiB) /* S3's smallest part but the last */
#define MAX_PART_SIZE (5 * GiB) /* S3's largest part and largest single PUT */
#define SECRET_MAX    4096
#define JP_MAX        200

/* ---------------------------------------------------------------- text -- */

/* A JSON path like ".profiles[1].connection_id", built by value. */
struct jpath {
    char s[JP_MAX];
};

/* A user-supplied string made safe for one line: quoted, control bytes as
 * '?', cut at 64 bytes. Never pass a secret. */
struct quoted {
    char s[80];
};

static struct quoted q(const char *s)
{
    struct quoted out;
    size_t o = 0, i = 0;
    out.s[o++] = '"';
    for (; s[i] && i < 64; i++)
        out.s[o++] = (unsigned char) s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (s[i]) {
        while (o > 1 && ((unsigned char) out.s[o - 1] & 0xc0) == 0x80)
            o--; /* don't cut inside a UTF-8 sequence */
        if (o > 1 && (unsigned char) out.s[o - 1] >= 0xc0)
            o--;
        memcpy(out.s + o, "...", 3);
        o += 3;
    }
    out.s[o++] = '"';
    out.s[o] = '\0';
    return out;
}

static bool is_ident(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static struct jpath jp_key(const char *parent, const char *key)
{
    struct jpath p;
    if (is_ident(key))
        (void) snprintf(p.s, sizeof(p.s), "%s.%s", parent, key);
    else
        (void) snprintf(p.s, sizeof(p.s), "%s[%s]", parent, q(key).s);
    return p;
}

static struct jpath jp_idx(const char *parent, size_t i)
{
    struct jpath p;
    (void) snprintf(p.s, sizeof(p.s), "%s[%zu]", parent, i);
    return p;
}

/* "5 MiB" when exact, else "5242881 bytes". */
static struct quoted size_text(uint64_t v)
{
    static const char *const units[] = {"GiB", "MiB", "KiB"};
    static const uint64_t mult[] = {GiB, MiB, KiB};
    struct quoted out;
    for (size_t i = 0; i < 3; i++) {
        if (v >= mult[i] && v % mult[i] == 0) {
            (void) snprintf(out.s, sizeof(out.s), "%" PRIu64 " %s", v / mult[i], units[i]);
            return out;
        }
    }
    (void) snprintf(out.s, sizeof(out.s), "%" PRIu64 " bytes", v);
    return out;
}

static bool has_ctrl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_lower_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || is_digit(ch);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ------------------------------------------------------------ problems -- */

struct ctx {
    const char *file;
    char *dir; /* of file, for relative secret_file paths */
    struct config_problems *pb;
    struct config *cfg;
    bool oom;
    bool inline_secret; /* some "secret" key is in the file itself */
};

static void add_line(struct ctx *c, char ***lines, size_t *n, const char *jp, const char *fmt,
                     va_list ap)
{
    char *msg = NULL, *line = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) {
        c->oom = true;
        return;
    }
    int r = jp ? asprintf(&line, "%s: %s: %s", c->file, jp[0] ? jp : ".", msg)
               : asprintf(&line, "%s: %s", c->file, msg);
    free(msg);
    if (r < 0) {
        c->oom = true;
        return;
    }
    char **grown = realloc(*lines, (*n + 1) * sizeof(*grown));
    if (!grown) {
        free(line);
        c->oom = true;
        return;
    }
    grown[(*n)++] = line;
    *lines = grown;
}

__attribute__((format(printf, 3, 4))) static void problem(struct ctx *c, const char *jp,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(c, &c->pb->lines, &c->pb->n, jp, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void warning(struct ctx *c, const char *jp,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(c, &c->pb->warnings, &c->pb->nwarnings, jp, fmt, ap);
    va_end(ap);
}

static char *xdup(struct ctx *c, const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        c->oom = true;
    return d;
}

/* --------------------------------------------------------- JSON access -- */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a fractional number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

struct key_hint {
    const char *key;
    const char *hint; /* replaces the "expected one of" part */
};

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Every key of obj not in known[] is a problem naming it: a typo must not
 * silently disable a setting. */
static void check_keys(struct ctx *c, json_t *obj, const char *jp, const char *const *known,
                       const struct key_hint *hints)
{
    const char *key;
    json_t *v; /* borrowed */
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(known[i], key) == 0;
        if (ok)
            continue;
        struct jpath kp = jp_key(jp, key);
        const char *hint = NULL;
        for (size_t i = 0; hints && hints[i].key && !hint; i++)
            if (strcmp(hints[i].key, key) == 0)
                hint = hints[i].hint;
        if (hint) {
            problem(c, kp.s, "unknown key %s here; %s", q(key).s, hint);
            continue;
        }
        char list[512] = "", mean[96] = "";
        size_t used = 0, best = 3;
        for (size_t i = 0; known[i]; i++) {
            int r = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", known[i]);
            if (r > 0 && (size_t) r < sizeof(list) - used)
                used += (size_t) r;
            size_t d = edit_distance(key, known[i]);
            if (d < best && d * 3 <= strlen(known[i])) {
                best = d;
                (void) snprintf(mean, sizeof(mean), " (did you mean \"%s\"?)", known[i]);
            }
        }
        problem(c, kp.s, "unknown key %s%s; expected one of: %s", q(key).s, mean, list);
    }
}

/* The get_* helpers: 1 = present and valid (*out set), 0 = absent, -1 = a
 * problem was reported. Values read from the tree are borrowed. They never
 * print the value they were given, so they are safe for secrets. */

enum { STR_EMPTY_OK = 1 };

static int get_str(struct ctx *c, json_t *obj, const char *jp, const char *key, unsigned flags,
                   const char *expect, const char **out)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    if (!v)
        return 0;
    struct jpath kp = jp_key(jp, key);
    if (!json_is_string(v)) {
        problem(c, kp.s, "is %s; expected %s", type_name(v), expect);
        return -1;
    }
    const char *s = json_string_value(v);
    if (!s[0] && !(flags & STR_EMPTY_OK)) {
        problem(c, kp.s, "is empty; expected %s", expect);
        return -1;
    }
    if (has_ctrl(s)) {
        problem(c, kp.s, "contains a control character; expected %s", expect);
        return -1;
    }
    *out = s;
    return 1;
}

static int get_uint(struct ctx *c, json_t *obj, const char *jp, const char *key, uint64_t min,
                    uint64_t max, const char *unit, uint64_t *out)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    if (!v)
        return 0;
    struct jpath kp = jp_key(jp, key);
    if (!json_is_integer(v)) {
        problem(c, kp.s, "is %s; expected an integer from %" PRIu64 " to %" PRIu64 "%s",
                type_name(v), min, max, unit);
        return -1;
    }
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t) i < min || (uint64_t) i > max) {
        problem(c, kp.s,
                "%" JSON_INTEGER_FORMAT " is out of range; expected %" PRIu64 " to %" PRIu64 "%s",
                i, min, max, unit);
        return -1;
    }
    *out = (uint64_t) i;
    return 1;
}

static const char size_expect[] =
    "bytes as an integer or a string like \"33554432\", \"32M\", \"32MiB\", \"1G\"";

/* Sizes: a JSON integer, or a string (RGW keeps every value as a string, so
 * "33554432" must work; we add the units). */
static int get_size(struct ctx *c, json_t *obj, const char *jp, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    if (!v)
        return 0;
    struct jpath kp = jp_key(jp, key);
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) {
            problem(c, kp.s, "%" JSON_INTEGER_FORMAT " is negative; expected %s",
                    json_integer_value(v), size_expect);
            return -1;
        }
        *out = (uint64_t) json_integer_value(v);
        return 1;
    }
    if (!json_is_string(v)) {
        problem(c, kp.s, "is %s; expected %s", type_name(v), size_expect);
        return -1;
    }
    int r = config_parse_size(out, json_string_value(v));
    if (r == -ERANGE) {
        problem(c, kp.s, "%s is too large; expected %s", q(json_string_value(v)).s, size_expect);
        return -1;
    }
    if (r < 0) {
        problem(c, kp.s, "%s is not a size; expected %s", q(json_string_value(v)).s, size_expect);
        return -1;
    }
    return 1;
}

static int get_bool(struct ctx *c, json_t *obj, const char *jp, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        problem(c, jp_key(jp, key).s, "is %s; expected true or false", type_name(v));
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

/* names[] is NULL-terminated; *out is the index. Enum values are not
 * secret, so a bad one is quoted back. */
static int get_enum(struct ctx *c, json_t *obj, const char *jp, const char *key,
                    const char *const *names, const char *expect, int *out)
{
    const char *s = NULL;
    int r = get_str(c, obj, jp, key, 0, expect, &s);
    if (r <= 0)
        return r;
    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return 1;
        }
    }
    problem(c, jp_key(jp, key).s, "%s is not valid; expected %s", q(s).s, expect);
    return -1;
}

/* -------------------------------------------------------------- values -- */

int config_parse_size(uint64_t *out, const char *text)
{
    if (!text || !is_digit(text[0]))
        return -EINVAL;
    uint64_t v = 0;
    const char *p = text;
    for (; is_digit(*p); p++) {
        unsigned d = (unsigned) (*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    unsigned shift = 0;
    switch (*p) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        break;
    }
    if (shift) {
        p++;
        if (p[0] == 'i' && p[1] == 'B')
            p += 2;
        else if (p[0] == 'B')
            p++;
    } else if (*p == 'B') {
        p++;
    }
    if (*p)
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -ERANGE;
    *out = v << shift;
    return 0;
}

/* Digits only, value in [1, 65535]. */
static bool valid_port(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (unsigned) (s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

static bool host_char(char ch)
{
    return is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '-' || ch == '_';
}

/* "host:port" or "[v6]:port" at s[0..n): NULL or what is wrong. */
static const char *check_hostport(const char *s, size_t n, bool port_required, char *host,
                                  size_t hostlen)
{
    size_t hend, pstart;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return "has an unterminated IPv6 address";
        for (const char *p = s + 1; p < close; p++)
            if (!is_digit(*p) && !strchr("abcdefABCDEF:.", *p))
                return "has an invalid IPv6 address";
        if (close == s + 1)
            return "has an empty host";
        hend = (size_t) (close - s) + 1;
        if (hend < n && s[hend] != ':')
            return "has junk after the IPv6 address";
    } else {
        for (hend = 0; hend < n && s[hend] != ':'; hend++)
            if (!host_char(s[hend]))
                return "has an invalid character in the host";
        if (hend == 0)
            return "has an empty host";
    }
    if (hend < n) {
        pstart = hend + 1;
        if (!valid_port(s + pstart, n - pstart))
            return "has an invalid port";
    } else if (port_required) {
        return "has no port";
    }
    if (host) {
        size_t len = hend < hostlen - 1 ? hend : hostlen - 1;
        for (size_t i = 0; i < len; i++)
            host[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char) (s[i] - 'A' + 'a') : s[i];
        host[len] = '\0';
    }
    return NULL;
}

/* NULL when url is "http[s]://host[:port][/]", else what is wrong. host
 * (may be NULL) receives the host, lowercase. */
static const char *check_url(const char *url, char *host, size_t hostlen)
{
    const char *rest;
    if (strncasecmp(url, "https://", 8) == 0)
        rest = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else
        return "is not an http:// or https:// URL";
    size_t n = strcspn(rest, "/?#");
    if (memchr(rest, '@', n))
        return "holds credentials; they belong in access_key and secret";
    const char *why = check_hostport(rest, n, false, host, hostlen);
    if (why)
        return why;
    if (rest[n] == '?' || rest[n] == '#')
        return "has a query or fragment";
    if (rest[n] == '/' && rest[n + 1] != '\0')
        return "has a path; the bucket and key prefix belong in target_path";
    return NULL;
}

static bool valid_region(const char *s)
{
    for (; *s; s++)
        if (!host_char(*s))
            return false;
    return true;
}

/* The region an AWS or COS service host names, or "" when it names none. */
static void region_of_host(enum cfg_provider provider, const char *host, char *out, size_t n)
{
    out[0] = '\0';
    const char *suffix = provider == CFG_PROVIDER_AWS ? ".amazonaws.com" : ".myqcloud.com";
    size_t hl = strlen(host), sl = strlen(suffix);
    if (hl <= sl || strcmp(host + hl - sl, suffix) != 0)
        return;
    /* the label just before the suffix */
    size_t end = hl - sl, start = end;
    while (start > 0 && host[start - 1] != '.')
        start--;
    const char *label = host + start;
    size_t len = end - start;
    if (provider == CFG_PROVIDER_AWS && len > 3 && strncmp(label, "s3-", 3) == 0) {
        label += 3; /* legacy s3-<region>.amazonaws.com */
        len -= 3;
    }
    /* regions look like eu-west-1, ap-guangzhou, us-gov-west-1; anything
     * else (s3, s3-external-1, fips-..., accelerate) is not checked */
    if (len < 4 || len >= n || !(label[0] >= 'a' && label[0] <= 'z') ||
        !(label[1] >= 'a' && label[1] <= 'z') || label[2] != '-')
        return;
    if (provider == CFG_PROVIDER_AWS && !is_digit(label[len - 1]))
        return;
    memcpy(out, label, len);
    out[len] = '\0';
}

/* ----------------------------------------------------------- secrets -- */

static char *path_join(struct ctx *c, const char *file)
{
    char *p = NULL;
    if (file[0] == '/' || !c->dir)
        return xdup(c, file);
    if (asprintf(&p, "%s/%s", c->dir, file) < 0) {
        c->oom = true;
        return NULL;
    }
    return p;
}

static void secret_wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Read a secret from file: one line, trailing newline/blanks stripped.
 * Relative names are relative to the config file's directory. The content
 * never reaches a problem line. */
static int read_secret_file(struct ctx *c, const char *jp, const char *name, char **out)
{
    char *path = path_join(c, name);
    if (!path)
        return -1;
    int ret = -1, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char buf[SECRET_MAX + 1];
    size_t len = 0;
    if (fd < 0 || fstat(fd, &st) < 0) {
        problem(c, jp, "cannot read %s: %s; expected a readable file holding the secret key",
                q(path).s, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        problem(c, jp, "%s is not a regular file; expected a file holding the secret key",
                q(path).s);
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            problem(c, jp, "cannot read %s: %s; expected a readable file holding the secret key",
                    q(path).s, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t) r;
        if (len == sizeof(buf)) {
            problem(c, jp, "%s is larger than %d bytes; expected a file holding one secret key",
                    q(path).s, SECRET_MAX);
            goto out;
        }
    }
    while (len && strchr("\r\n \t", buf[len - 1]))
        len--;
    buf[len] = '\0';
    if (len == 0) {
        problem(c, jp, "%s is empty; expected a file holding the secret key", q(path).s);
        goto out;
    }
    if (strlen(buf) != len || has_ctrl(buf)) {
        problem(c, jp,
                "%s holds more than one line or control characters; expected one line "
                "holding the secret key",
                q(path).s);
        goto out;
    }
    if (st.st_mode & (S_IRGRP | S_IROTH))
        warning(c, jp, "%s is readable by group or others; expected mode 0600 or 0400", q(path).s);
    *out = xdup(c, buf);
    ret = *out ? 1 : -1;
out:
    explicit_bzero(buf, sizeof(buf));
    if (fd >= 0)
        (void) close(fd);
    free(path);
    return ret;
}

/* access_key + secret | secret_file of obj. Returns whether any is present;
 * *bad when a problem was reported. *ak and *secret are heap copies. */
static bool parse_keys(struct ctx *c, json_t *obj, const char *jp, char **ak, char **secret,
                       bool *bad)
{
    const char *a = NULL, *s = NULL, *f = NULL;
    int ra = get_str(c, obj, jp, "access_key", 0, "the access key as a string", &a);
    int rs = get_str(c, obj, jp, "secret", 0, "the secret key as a string", &s);
    int rf = get_str(c, obj, jp, "secret_file", 0, "the path of a file holding the secret key", &f);
    if (json_object_get(obj, "secret"))
        c->inline_secret = true;
    *bad = ra < 0 || rs < 0 || rf < 0;
    if (!ra && !rs && !rf)
        return false;
    if (rs && rf) {
        problem(c, jp_key(jp, "secret_file").s,
                "given together with \"secret\"; expected one of \"secret\" or \"secret_file\"");
        *bad = true;
    } else if (rs > 0) {
        *secret = xdup(c, s);
    } else if (rf > 0) {
        if (read_secret_file(c, jp_key(jp, "secret_file").s, f, secret) < 0)
            *bad = true;
    }
    if (!ra) {
        problem(c, jp_key(jp, "access_key").s,
                "missing; expected it beside \"secret\" / \"secret_file\"");
        *bad = true;
    } else if (!rs && !rf) {
        problem(c, jp_key(jp, "secret").s,
                "missing; expected \"secret\" or \"secret_file\" beside \"access_key\"");
        *bad = true;
    }
    if (ra > 0)
        *ak = xdup(c, a);
    return true;
}

/* -------------------------------------------------------- connections -- */

static const char *const provider_names[] = {"generic", "aws", "cos", NULL};
static const char *const host_style_names[] = {"path", "virtual", NULL};

/* Load-time facts about one cfg->connections[] slot. has_* = the key is
 * given (own or inherited); has_* with a NULL value = given but reported. */
struct conn_meta {
    struct jpath jp;
    bool invalid; /* not an object: reported, skip it */
    bool has_endpoint, has_key, has_host_style, has_region, has_provider;
    bool bad_key, bad_host_style, bad_provider;
    bool host_style_virtual;
    const char *host_style_from; /* jp it was inherited from, or NULL */
};

static const char *const conn_keys[] = {"endpoint",   "access_key", "secret",   "secret_file",
                                        "host_style", "region",     "provider", NULL};
static const char *const named_conn_keys[] = {"id",     "endpoint",    "access_key",
                                              "secret", "secret_file", "host_style",
                                              "region", "provider",    NULL};
static const struct key_hint key_hints[] = {
    {"secret_key", "expected \"secret\" or \"secret_file\""},
    {"access_key_id", "expected \"access_key\""},
    {"secret_access_key", "expected \"secret\" or \"secret_file\""},
    {NULL, NULL}};
static const struct key_hint conn_hints[] = {
    {"connection_id", "a .connections[] entry is named by \"id\" (profiles refer to it with "
                      "\"connection_id\")"},
    {"secret_key", "expected \"secret\" or \"secret_file\""},
    {"access_key_id", "expected \"access_key\""},
    {"secret_access_key", "expected \"secret\" or \"secret_file\""},
    {NULL, NULL}};
static const struct key_hint inline_conn_hints[] = {
    {"id", "only .connections[] entries have an id; refer to one with \"connection_id\" "
           "beside (not inside) \"connection\""},
    {"secret_key", "expected \"secret\" or \"secret_file\""},
    {"access_key_id", "expected \"access_key\""},
    {"secret_access_key", "expected \"secret\" or \"secret_file\""},
    {NULL, NULL}};

static void parse_connection(struct ctx *c, json_t *obj, const char *jp, bool named,
                             struct cfg_connection *conn, struct conn_meta *m)
{
    (void) snprintf(m->jp.s, sizeof(m->jp.s), "%s", jp);
    if (!json_is_object(obj)) {
        problem(c, jp, "is %s; expected an object with endpoint, access_key, secret...",
                type_name(obj));
        m->invalid = true;
        return;
    }
    check_keys(c, obj, jp, named ? named_conn_keys : conn_keys,
               named ? conn_hints : inline_conn_hints);

    const char *s = NULL;
    if (named) {
        int r = get_str(c, obj, jp, "id", 0, "the connection's name as a string", &s);
        if (r > 0)
            conn->id = xdup(c, s);
        else if (r == 0)
            problem(c, jp_key(jp, "id").s,
                    "missing; expected the name profiles use in \"connection_id\"");
    }

    int r = get_str(c, obj, jp, "endpoint", 0, "an http:// or https:// URL", &s);
    m->has_endpoint = r != 0;
    if (r > 0) {
        const char *why = check_url(s, NULL, 0);
        if (why)
            problem(c, jp_key(jp, "endpoint").s,
                    "%s %s; expected an http:// or https:// URL "
                    "like \"https://s3.eu-west-1.amazonaws.com\"",
                    q(s).s, why);
        else
            conn->endpoint = xdup(c, s);
    }

    m->has_key = parse_keys(c, obj, jp, &conn->access_key, &conn->secret, &m->bad_key);

    int idx = 0;
    r = get_enum(c, obj, jp, "host_style", host_style_names, "\"path\" or \"virtual\"", &idx);
    m->has_host_style = r != 0;
    m->bad_host_style = r < 0;
    m->host_style_virtual = r > 0 && idx == 1;

    r = get_str(c, obj, jp, "region", 0, "a region name like \"eu-west-1\"", &s);
    m->has_region = r != 0;
    if (r > 0) {
        if (valid_region(s))
            conn->region = xdup(c, s);
        else
            problem(c, jp_key(jp, "region").s,
                    "%s is not a region name; expected letters, "
                    "digits, '-', '_', '.' like \"eu-west-1\"",
                    q(s).s);
    }

    r = get_enum(c, obj, jp, "provider", provider_names, "\"aws\", \"cos\" or \"generic\"", &idx);
    m->has_provider = r != 0;
    m->bad_provider = r < 0;
    if (r > 0)
        conn->provider = (enum cfg_provider) idx;
}

/* RGW: a connection takes endpoint, host_style and the key pair it lacks
 * from the default connection. Region and provider describe the endpoint,
 * so they come along with it only. */
static void conn_inherit(struct ctx *c, struct cfg_connection *conn, struct conn_meta *m,
                         const struct cfg_connection *base, const struct conn_meta *bm)
{
    if (m->invalid || conn == base)
        return;
    if (!m->has_endpoint && bm->has_endpoint) {
        m->has_endpoint = true;
        conn->endpoint = xdup(c, base->endpoint);
        if (!m->has_region && bm->has_region) {
            m->has_region = true;
            conn->region = xdup(c, base->region);
        }
        if (!m->has_provider && bm->has_provider) {
            m->has_provider = true;
            m->bad_provider = bm->bad_provider;
            conn->provider = base->provider;
        }
    }
    if (!m->has_host_style && bm->has_host_style) {
        m->has_host_style = true;
        m->bad_host_style = bm->bad_host_style;
        m->host_style_virtual = bm->host_style_virtual;
        m->host_style_from = bm->jp.s;
    }
    if (!m->has_key && bm->has_key) {
        m->has_key = true;
        m->bad_key = bm->bad_key;
        conn->access_key = xdup(c, base->access_key);
        conn->secret = xdup(c, base->secret);
    }
}

/* The checks that need the inherited values: required fields, provider
 * rules knowable without a request. */
static void conn_finish(struct ctx *c, struct cfg_connection *conn, const struct conn_meta *m,
                        bool have_base)
{
    if (m->invalid)
        return;
    const char *jp = m->jp.s;
    const char *inherit = have_base ? ""
                                    : " (here, or in \"default\".connection for every "
                                      "connection to inherit)";
    bool known_provider = !m->bad_provider;
    bool cloud = known_provider && conn->provider != CFG_PROVIDER_GENERIC;

    if (m->has_host_style)
        conn->virtual_host = m->host_style_virtual;
    else
        conn->virtual_host = cloud;

    if (!m->has_endpoint)
        problem(c, jp_key(jp, "endpoint").s, "missing; expected an http:// or https:// URL%s",
                inherit);
    if (!m->has_key)
        problem(c, jp_key(jp, "access_key").s,
                "missing; expected \"access_key\" and \"secret\" (or \"secret_file\")%s", inherit);

    if (!cloud)
        return;
    const char *pname = provider_names[conn->provider];
    if (!m->has_region)
        problem(c, jp_key(jp, "region").s,
                "missing; provider \"%s\" signs requests for a region, expected e.g. \"%s\"", pname,
                conn->provider == CFG_PROVIDER_COS ? "ap-guangzhou" : "eu-west-1");
    if (conn->provider == CFG_PROVIDER_COS && m->has_host_style && !m->bad_host_style &&
        !m->host_style_virtual)
        problem(c, jp_key(jp, "host_style").s,
                "\"path\"%s%s is not supported by provider \"cos\"; expected \"virtual\" (COS "
                "addresses a bucket as <bucket>.cos.<region>.myqcloud.com)",
                m->host_style_from ? " inherited from " : "",
                m->host_style_from ? m->host_style_from : "");
    if (!conn->endpoint)
        return;

    char host[256], region[64];
    (void) check_url(conn->endpoint, host, sizeof(host));
    if (conn->provider == CFG_PROVIDER_COS && ends_with(host, ".myqcloud.com")) {
        size_t dots = 0;
        for (const char *p = host; *p; p++)
            dots += *p == '.';
        if (dots > 3 || strncmp(host, "cos.", 4) != 0) {
            problem(c, jp_key(jp, "endpoint").s,
                    "%s names a bucket; expected the service endpoint like "
                    "\"https://cos.ap-guangzhou.myqcloud.com\" and the bucket in target_path",
                    q(conn->endpoint).s);
            return;
        }
    }
    region_of_host(conn->provider, host, region, sizeof(region));
    if (region[0] && conn->region && strcmp(region, conn->region) != 0)
        problem(c, jp_key(jp, "region").s,
                "%s does not match the endpoint %s; expected %s (requests signed for another "
                "region are refused)",
                q(conn->region).s, q(conn->endpoint).s, q(region).s);
}

static struct cfg_connection *find_connection(struct config *cfg, size_t nnamed, const char *id)
{
    for (size_t i = 0; i < nnamed; i++)
        if (cfg->connections[i].id && strcmp(cfg->connections[i].id, id) == 0)
            return &cfg->connections[i];
    return NULL;
}

/* --------------------------------------------------------------- ACLs -- */

static const char *const acl_type_names[] = {"id", "email", "uri", NULL};
static const char *const acl_keys[] = {"type", "source_id", "dest_id", NULL};

/* Reports and returns -1 when arr is not a list of mappings; acls that
 * parse are kept either way. */
static int parse_acls(struct ctx *c, json_t *arr, const char *jp, struct cfg_acl_profile *out)
{
    if (!json_is_array(arr)) {
        problem(c, jp, "is %s; expected a list of {\"type\", \"source_id\", \"dest_id\"}",
                type_name(arr));
        return -1;
    }
    size_t n = json_array_size(arr);
    if (n) {
        out->acls = calloc(n, sizeof(*out->acls));
        if (!out->acls) {
            c->oom = true;
            return -1;
        }
    }
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i); /* borrowed */
        struct jpath ep = jp_idx(jp, i);
        if (!json_is_object(e)) {
            problem(c, ep.s, "is %s; expected {\"type\", \"source_id\", \"dest_id\"}",
                    type_name(e));
            ret = -1;
            continue;
        }
        check_keys(c, e, ep.s, acl_keys, NULL);
        int type = CFG_ACL_ID;
        const char *src = NULL, *dst = NULL;
        int rt =
            get_enum(c, e, ep.s, "type", acl_type_names, "\"id\", \"email\" or \"uri\"", &type);
        int rs = get_str(c, e, ep.s, "source_id", 0, "the source user, email or group URI", &src);
        int rd = get_str(c, e, ep.s, "dest_id", 0, "the target user, email or group URI", &dst);
        if (!rs)
            problem(c, jp_key(ep.s, "source_id").s,
                    "missing; expected the source user id, email or group URI");
        if (!rd)
            problem(c, jp_key(ep.s, "dest_id").s,
                    "missing; expected the target user id, email or group URI");
        if (rt < 0 || rs <= 0 || rd <= 0) {
            ret = -1;
            continue;
        }
        for (size_t j = 0; j < out->nacls; j++) {
            if (strcmp(out->acls[j].source_id, src) == 0) {
                problem(c, jp_key(ep.s, "source_id").s,
                        "%s is mapped twice; expected one mapping per source_id", q(src).s);
                ret = -1;
            }
        }
        struct cfg_acl *a = &out->acls[out->nacls++];
        a->type = (enum cfg_acl_type) type;
        a->source_id = xdup(c, src);
        a->dest_id = xdup(c, dst);
    }
    return ret;
}

static struct cfg_acl_profile *find_acl_profile(struct config *cfg, size_t nnamed, const char *id)
{
    for (size_t i = 0; i < nnamed; i++)
        if (cfg->acl_profiles[i].id && strcmp(cfg->acl_profiles[i].id, id) == 0)
            return &cfg->acl_profiles[i];
    return NULL;
}

/* -------------------------------------------------------- target_path -- */

static const char *const path_vars[] = {"sid",     "zonegroup", "zonegroup_id", "zone",
                                        "zone_id", "bucket",    "owner",        NULL};

/* NULL when name (3-63 chars) is a valid S3 bucket name, else why not. */
static const char *bucket_name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > 63)
        return "is not 3 to 63 characters long";
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(name[i]) && name[i] != '.' && name[i] != '-')
            return "has a character other than lowercase letters, digits, '.' and '-'";
    if (!is_lower_alnum(name[0]) || !is_lower_alnum(name[n - 1]))
        return "does not start and end with a letter or digit";
    if (strstr(name, ".."))
        return "has two adjacent dots";
    bool ip = true;
    for (size_t i = 0; i < n && ip; i++)
        ip = is_digit(name[i]) || name[i] == '.';
    if (ip)
        return "looks like an IP address";
    return NULL;
}

/* COS: "<name>-<APPID>", lowercase letters, digits and '-' only. seg may
 * hold ${variables}; the APPID must be literal at its end. */
static const char *cos_bucket_problem(const char *seg, size_t n)
{
    size_t i = n;
    while (i > 0 && is_digit(seg[i - 1]))
        i--;
    if (i == n || i < 2 || seg[i - 1] != '-')
        return "does not end in -<APPID>";
    for (size_t j = 0; j < n; j++)
        if (seg[j] == '.')
            return "has a '.', which COS bucket names cannot hold";
    return NULL;
}

/* Syntax of a target_path where it is written: known ${variables}, a
 * bucket part that can be a bucket name. Returns false when reported. */
static bool check_target_path(struct ctx *c, const char *jp, const char *path)
{
    bool ok = true;
    size_t seg = strcspn(path, "/");
    if (seg == 0) {
        problem(c, jp, "%s has an empty bucket part; expected \"<bucket>/<key prefix>\" like %s",
                q(path).s, q(CFG_DEFAULT_TARGET_PATH).s);
        return false;
    }
    bool vars_in_bucket = false;
    for (const char *p = path; (p = strstr(p, "${")) != NULL;) {
        const char *end = strchr(p, '}');
        if (!end) {
            problem(c, jp, "%s has an unterminated \"${\"; expected ${name}", q(path).s);
            return false;
        }
        size_t len = (size_t) (end - p - 2);
        bool known = false;
        for (size_t i = 0; path_vars[i] && !known; i++)
            known = strlen(path_vars[i]) == len && strncmp(path_vars[i], p + 2, len) == 0;
        if (!known) {
            /* no control characters: get_str() refused them */
            problem(c, jp,
                    "variable ${%.*s} is unknown; expected ${sid}, ${zonegroup}, "
                    "${zonegroup_id}, ${zone}, ${zone_id}, ${bucket} or ${owner}",
                    (int) (len < 60 ? len : 60), p + 2);
            ok = false;
        }
        if ((size_t) (p - path) < seg)
            vars_in_bucket = true;
        p = end + 1;
    }
    if (!ok)
        return false;
    char bucket[256];
    (void) snprintf(bucket, sizeof(bucket), "%.*s", (int) seg, path);
    if (!vars_in_bucket) {
        const char *why = bucket_name_problem(bucket);
        if (why) {
            problem(c, jp,
                    "bucket part %s %s; expected an S3 bucket name (3-63 lowercase "
                    "letters, digits, '.', '-')",
                    q(bucket).s, why);
            return false;
        }
        return true;
    }
    /* the literal characters around the variables must fit a bucket name */
    for (size_t i = 0; i < seg; i++) {
        if (path[i] == '$' && path[i + 1] == '{') {
            i = (size_t) (strchr(path + i, '}') - path);
            continue;
        }
        if (!is_lower_alnum(path[i]) && path[i] != '.' && path[i] != '-') {
            problem(c, jp,
                    "bucket part %s has %c; expected lowercase letters, digits, '.', '-' "
                    "and ${variables}",
                    q(bucket).s, path[i]);
            return false;
        }
    }
    return true;
}

/* ----------------------------------------------------------- profiles -- */

/* One profile as written, before resolution. Strings are borrowed from
 * the tree. */
struct praw {
    struct jpath jp;
    bool invalid;
    const char *connection_id, *acls_id, *target_path, *storage_class, *source_bucket;
    struct cfg_connection *conn;  /* inline, a slot of cfg->connections */
    struct cfg_acl_profile *acls; /* inline, a slot of cfg->acl_profiles */
    bool bad_conn, bad_acls, bad_target_path, bad_storage_class;
    bool has_acl_mode;
    enum cfg_acl_mode acl_mode;
    bool exclude;
    /* resolution */
    const struct cfg_connection *rconn;
    const struct cfg_acl_profile *racls;
};

static const char *const acl_mode_names[] = {"map", "none", "bucket-owner-full-control", NULL};
static const char *const default_keys[] = {"connection",    "acls",    "target_path",
                                           "connection_id", "acls_id", "storage_class",
                                           "acl_mode",      NULL};
static const char *const profile_keys[] = {
    "source_bucket", "connection",    "acls",     "target_path", "connection_id",
    "acls_id",       "storage_class", "acl_mode", "exclude",     NULL};
static const char *const root_keys[] = {"source",     "listen",  "state",         "sync",
                                        "connection", "acls",    "target_path",   "connection_id",
                                        "acls_id",    "default", "connections",   "acl_profiles",
                                        "profiles",   "s3",      "storage_class", "acl_mode",
                                        NULL};
static const struct key_hint root_hints[] = {
    {"multipart_sync_threshold", "it belongs in \"s3\": {...} (RGW reads the multipart keys "
                                 "from \"s3\")"},
    {"multipart_min_part_size", "it belongs in \"s3\": {...} (RGW reads the multipart keys "
                                "from \"s3\")"},
    {"source_bucket", "it belongs in a \"profiles\" entry"},
    {"exclude", "it belongs in a \"profiles\" entry"},
    {"endpoint", "it belongs in \"connection\" (the target) or \"source\""},
    {"access_key", "it belongs in \"connection\" (the target) or \"source\""},
    {"secret", "it belongs in \"connection\" (the target) or \"source\""},
    {"secret_file", "it belongs in \"connection\" (the target) or \"source\""},
    {"host_style", "it belongs in \"connection\""},
    {"region", "it belongs in \"connection\""},
    {"provider", "it belongs in \"connection\""},
    {"poll_interval", "it belongs in \"sync\""},
    {"concurrency", "it belongs in \"sync\""},
    {NULL, NULL}};

struct slots {
    size_t nconn_cap, nacl_cap;
    struct conn_meta *meta; /* parallel to cfg->connections */
};

static struct cfg_connection *conn_slot(struct ctx *c, struct slots *sl, struct conn_meta **m)
{
    if (c->cfg->nconnections >= sl->nconn_cap)
        return NULL; /* can't happen: counted before */
    *m = &sl->meta[c->cfg->nconnections];
    return &c->cfg->connections[c->cfg->nconnections++];
}

static struct cfg_acl_profile *acl_slot(struct ctx *c, struct slots *sl)
{
    if (c->cfg->nacl_profiles >= sl->nacl_cap)
        return NULL;
    return &c->cfg->acl_profiles[c->cfg->nacl_profiles++];
}

/* The keys a profile, "default" and the top level share. */
static void parse_praw(struct ctx *c, struct slots *sl, json_t *obj, struct praw *p)
{
    const char *jp = p->jp.s;
    int r = get_str(c, obj, jp, "connection_id", 0, "the id of a .connections[] entry",
                    &p->connection_id);
    p->bad_conn = r < 0;
    json_t *v = json_object_get(obj, "connection"); /* borrowed */
    if (v) {
        struct conn_meta *m = NULL;
        p->conn = conn_slot(c, sl, &m);
        if (p->conn) {
            parse_connection(c, v, jp_key(jp, "connection").s, false, p->conn, m);
            p->bad_conn |= m->invalid;
        }
        if (p->conn && p->connection_id) {
            problem(c, jp_key(jp, "connection_id").s,
                    "given together with an inline \"connection\"; expected one of them (RGW "
                    "refuses this as ambiguous)");
            m->invalid = true; /* its own gaps would only add noise */
            p->bad_conn = true;
        }
    }
    r = get_str(c, obj, jp, "acls_id", 0, "the id of an .acl_profiles[] entry", &p->acls_id);
    p->bad_acls = r < 0;
    v = json_object_get(obj, "acls");
    if (v) {
        p->acls = acl_slot(c, sl);
        if (p->acls && parse_acls(c, v, jp_key(jp, "acls").s, p->acls) < 0)
            p->bad_acls = true;
    }
    r = get_str(c, obj, jp, "target_path", 0,
                "a path like \"rgw-${zonegroup}-${sid}/${bucket}\" (first segment = bucket)",
                &p->target_path);
    p->bad_target_path = r < 0;
    if (r > 0 && !check_target_path(c, jp_key(jp, "target_path").s, p->target_path))
        p->bad_target_path = true;

    r = get_str(c, obj, jp, "storage_class", 0, "a storage class like \"STANDARD_IA\"",
                &p->storage_class);
    p->bad_storage_class = r < 0;
    if (r > 0 && (!is_ident(p->storage_class) || strchr(p->storage_class, '-'))) {
        /* it becomes a header value: no room for anything else */
        problem(c, jp_key(jp, "storage_class").s,
                "%s is not a storage class name; expected letters, digits and '_' like "
                "\"STANDARD_IA\"",
                q(p->storage_class).s);
        p->bad_storage_class = true;
        p->storage_class = NULL;
    }
    int idx = 0;
    r = get_enum(c, obj, jp, "acl_mode", acl_mode_names,
                 "\"map\", \"none\" or \"bucket-owner-full-control\"", &idx);
    p->has_acl_mode = r > 0;
    p->acl_mode = (enum cfg_acl_mode) idx;
}

/* RGW's init_profile(): connection_id, else the inline connection, else
 * "default"'s, else (our addition) the top level's; unknown ids are errors.
 * (The ambiguous connection_id + connection was reported by parse_praw.) */
static void resolve_refs(struct ctx *c, size_t nnamed_conn, size_t nnamed_acl, struct praw *p,
                         const struct praw *dflt, const struct praw *root, bool required)
{
    const char *jp = p->jp.s;
    if (p->bad_conn) {
        /* reported: ambiguous, or a bad connection_id / connection */
    } else if (p->connection_id) {
        p->rconn = find_connection(c->cfg, nnamed_conn, p->connection_id);
        if (!p->rconn) {
            problem(c, jp_key(jp, "connection_id").s,
                    "%s is not the id of any .connections[] entry; expected one of them",
                    q(p->connection_id).s);
            p->bad_conn = true;
        }
    } else if (p->conn) {
        p->rconn = p->conn;
    }
    if (!p->rconn && !p->bad_conn && dflt && dflt != p)
        p->rconn = dflt->rconn;
    if (!p->rconn && !p->bad_conn && root && root != p)
        p->rconn = root->rconn;
    /* one line for a missing connection: the top level's covers the
     * profiles that would fall back to it */
    if (!p->rconn && !p->bad_conn && required && !(dflt && dflt->bad_conn) && !(root && root != p))
        problem(c, jp_key(jp, "connection").s,
                "missing, and no \"connection_id\" here or in \"default\" either; expected the "
                "target connection (profiles without one use it too)");

    if (p->acls_id && p->acls) {
        problem(c, jp_key(jp, "acls_id").s,
                "given together with inline \"acls\"; expected one of them");
        p->bad_acls = true;
    } else if (p->acls_id) {
        p->racls = find_acl_profile(c->cfg, nnamed_acl, p->acls_id);
        if (!p->racls) {
            problem(c, jp_key(jp, "acls_id").s,
                    "%s is not the id of any .acl_profiles[] entry; expected one of them",
                    q(p->acls_id).s);
            p->bad_acls = true;
        }
    } else if (p->acls) {
        p->racls = p->acls;
    }
    if (!p->racls && !p->bad_acls && !p->acls_id && dflt && dflt != p)
        p->racls = dflt->racls;
}

static const char *const aws_classes[] = {"STANDARD",
                                          "REDUCED_REDUNDANCY",
                                          "STANDARD_IA",
                                          "ONEZONE_IA",
                                          "INTELLIGENT_TIERING",
                                          "GLACIER",
                                          "DEEP_ARCHIVE",
                                          "OUTPOSTS",
                                          "GLACIER_IR",
                                          "SNOW",
                                          "EXPRESS_ONEZONE",
                                          NULL};
static const char *const cos_classes[] = {"STANDARD",
                                          "STANDARD_IA",
                                          "ARCHIVE",
                                          "DEEP_ARCHIVE",
                                          "INTELLIGENT_TIERING",
                                          "MAZ_STANDARD",
                                          "MAZ_STANDARD_IA",
                                          "MAZ_INTELLIGENT_TIERING",
                                          NULL};

/* Fill out from the resolved raw profile; the checks that need the
 * connection's provider. */
static void profile_finish(struct ctx *c, struct cfg_profile *out, const struct praw *p,
                           const struct praw *dflt, const struct praw *root)
{
    const char *jp = p->jp.s;
    bool is_root = p == root;
    out->conn = p->rconn ? p->rconn : (root ? root->rconn : NULL);
    out->acls = p->racls;
    out->exclude = p->exclude;

    const char *tp = p->target_path, *tp_from = NULL;
    bool tp_bad = p->bad_target_path;
    struct jpath own = jp_key(jp, "target_path");
    if (!tp && !tp_bad && dflt && dflt->target_path) {
        tp = dflt->target_path;
        tp_from = ".default.target_path";
    } else if (!tp && !tp_bad && dflt && dflt->bad_target_path) {
        tp_bad = true;
    }
    if (!tp && !tp_bad) {
        tp = CFG_DEFAULT_TARGET_PATH;
        tp_from = "the built-in default";
        if (!is_root && root && root->target_path && !p->exclude)
            warning(c, jp,
                    "no target_path here or in \"default\", so the built-in %s applies, "
                    "not the top-level one (RGW's rule); expected \"target_path\" here or "
                    "in \"default\" if that is not intended",
                    q(CFG_DEFAULT_TARGET_PATH).s);
    }
    if (!is_root && !p->acls && !p->acls_id && !p->racls && root && root->racls && !p->exclude)
        warning(c, jp,
                "no acls here or in \"default\", so this profile maps no ACLs, not the "
                "top-level ones (RGW's rule); expected \"acls\" or \"acls_id\" here or "
                "in \"default\" if that is not intended");
    out->target_path = xdup(c, tp ? tp : CFG_DEFAULT_TARGET_PATH);

    const char *sc = p->storage_class;
    if (!sc && !p->bad_storage_class && dflt && dflt != p)
        sc = dflt->storage_class;
    if (!sc && !p->bad_storage_class && root && root != p)
        sc = root->storage_class;
    out->storage_class = xdup(c, sc);

    out->acl_mode = CFG_ACL_MODE_MAP;
    if (p->has_acl_mode)
        out->acl_mode = p->acl_mode;
    else if (dflt && dflt != p && dflt->has_acl_mode)
        out->acl_mode = dflt->acl_mode;
    else if (root && root != p && root->has_acl_mode)
        out->acl_mode = root->acl_mode;

    const struct cfg_connection *conn = p->rconn;
    if (!conn || p->exclude)
        return;

    if (tp && !tp_bad && conn->provider == CFG_PROVIDER_COS) {
        size_t seg = strcspn(tp, "/");
        const char *why = cos_bucket_problem(tp, seg);
        if (why) {
            char bucket[256];
            (void) snprintf(bucket, sizeof(bucket), "%.*s", (int) seg, tp);
            if (tp_from)
                problem(c, own.s,
                        "unset, so %s from %s applies, and its bucket part %s %s; expected a "
                        "target_path whose bucket is a COS bucket <name>-<APPID> like "
                        "\"archive-1250000000/${bucket}\"",
                        q(tp).s, tp_from, q(bucket).s, why);
            else
                problem(c, own.s,
                        "bucket part %s %s; expected a COS bucket name <name>-<APPID> like "
                        "\"archive-1250000000\"",
                        q(bucket).s, why);
        }
    }
    if (tp && !tp_bad && (is_root || out->prefix) && !strstr(tp, "${bucket}"))
        warning(c, tp_from ? jp : own.s,
                "target_path %s has no ${bucket}: objects of every bucket this profile matches "
                "share one key space; expected ${bucket} somewhere in it",
                q(tp).s);

    if (sc && conn->provider != CFG_PROVIDER_GENERIC) {
        const char *const *known = conn->provider == CFG_PROVIDER_AWS ? aws_classes : cos_classes;
        bool found = false;
        for (size_t i = 0; known[i] && !found; i++)
            found = strcmp(known[i], sc) == 0;
        if (!found)
            warning(c, p->storage_class ? jp_key(jp, "storage_class").s : jp,
                    "storage class %s is not one %s is known to accept; it is sent as is", q(sc).s,
                    provider_names[conn->provider]);
    }
}

static void parse_profile(struct ctx *c, struct slots *sl, json_t *obj, struct praw *p)
{
    const char *jp = p->jp.s;
    if (!json_is_object(obj)) {
        problem(c, jp, "is %s; expected an object with \"source_bucket\"", type_name(obj));
        p->invalid = true;
        return;
    }
    check_keys(c, obj, jp, profile_keys, NULL);
    int r = get_str(c, obj, jp, "source_bucket", 0,
                    "a bucket name, or a prefix ending in '*' like \"logs*\"", &p->source_bucket);
    if (r == 0)
        problem(c, jp_key(jp, "source_bucket").s,
                "missing; expected a bucket name, or a prefix ending in '*' like \"logs*\"");
    if (r > 0) {
        const char *star = strchr(p->source_bucket, '*');
        if (star && star[1] != '\0') {
            problem(c, jp_key(jp, "source_bucket").s,
                    "%s has a '*' before its end; expected a name, or a prefix ending in '*'",
                    q(p->source_bucket).s);
            p->source_bucket = NULL;
        } else if (strpbrk(p->source_bucket, " \t")) {
            problem(c, jp_key(jp, "source_bucket").s,
                    "%s has a blank; expected a bucket name or prefix", q(p->source_bucket).s);
            p->source_bucket = NULL;
        }
    }
    (void) get_bool(c, obj, jp, "exclude", &p->exclude);
    parse_praw(c, sl, obj, p);
}

/* ---------------------------------------------------- the other blocks -- */

static const char *const source_keys[] = {"endpoint",  "access_key", "secret", "secret_file",
                                          "zonegroup", "zone",       NULL};

static void parse_source(struct ctx *c, json_t *obj)
{
    struct config *cfg = c->cfg;
    const char *jp = ".source";
    cfg->source.present = true;
    if (!json_is_object(obj)) {
        problem(c, jp,
                "is %s; expected an object with endpoint, access_key, secret, "
                "zonegroup, zone",
                type_name(obj));
        return;
    }
    check_keys(c, obj, jp, source_keys, key_hints);
    const char *s = NULL;
    int r = get_str(c, obj, jp, "endpoint", 0, "the URL of an RGW of the source zone", &s);
    if (r > 0) {
        const char *why = check_url(s, NULL, 0);
        if (why)
            problem(c, ".source.endpoint",
                    "%s %s; expected an http:// or https:// URL like "
                    "\"http://rgw.example:8000\"",
                    q(s).s, why);
        else
            cfg->source.endpoint = xdup(c, s);
    } else if (r == 0) {
        problem(c, ".source.endpoint", "missing; expected the URL of an RGW of the source zone");
    }
    bool bad = false;
    if (!parse_keys(c, obj, jp, &cfg->source.access_key, &cfg->source.secret, &bad))
        problem(c, ".source.access_key",
                "missing; expected the zonegroup system user's access_key and secret");
    r = get_str(c, obj, jp, "zonegroup", 0, "the source zonegroup's name", &s);
    if (r > 0)
        cfg->source.zonegroup = xdup(c, s);
    else if (r == 0)
        problem(c, ".source.zonegroup", "missing; expected the source zonegroup's name");
    r = get_str(c, obj, jp, "zone", 0, "the name of our zone in the source zonegroup", &s);
    if (r > 0)
        cfg->source.zone = xdup(c, s);
    else if (r == 0)
        problem(c, ".source.zone",
                "missing; expected the name of our zone in the zonegroup, "
                "like \"rgw2cloud\"");
}

static void parse_listen(struct ctx *c, json_t *root)
{
    const char *s = NULL;
    if (get_str(c, root, "", "listen", 0, "\"host:port\" like \"127.0.0.1:8090\"", &s) <= 0)
        return;
    const char *why = check_hostport(s, strlen(s), true, NULL, 0);
    if (why)
        problem(c, ".listen",
                "%s %s; expected \"host:port\" like \"127.0.0.1:8090\" or "
                "\"[::1]:8090\"",
                q(s).s, why);
    else
        c->cfg->listen = xdup(c, s);
}

static const char *const state_keys[] = {"backend",   "path",   "pool", "namespace",
                                         "ceph_conf", "client", NULL};
static const char *const backend_names[] = {"sqlite", "rados", NULL};

static void parse_state(struct ctx *c, json_t *obj)
{
    struct config *cfg = c->cfg;
    const char *jp = ".state";
    const char *path = NULL, *pool = NULL, *ns = NULL, *conf = NULL, *client = NULL;
    int backend = CFG_STATE_SQLITE;
    if (obj && !json_is_object(obj)) {
        problem(c, jp, "is %s; expected {\"backend\": \"sqlite\", \"path\": ...}", type_name(obj));
        obj = NULL;
    }
    if (obj) {
        check_keys(c, obj, jp, state_keys, NULL);
        (void) get_enum(c, obj, jp, "backend", backend_names, "\"sqlite\" or \"rados\"", &backend);
        (void) get_str(c, obj, jp, "path", 0, "the path of the sqlite database", &path);
        (void) get_str(c, obj, jp, "pool", 0, "a RADOS pool name", &pool);
        (void) get_str(c, obj, jp, "namespace", STR_EMPTY_OK, "a RADOS namespace", &ns);
        (void) get_str(c, obj, jp, "ceph_conf", 0, "the path of ceph.conf", &conf);
        (void) get_str(c, obj, jp, "client", 0, "a Ceph client name like \"client.admin\"",
                       &client);
    }
    cfg->state.backend = (enum cfg_state_backend) backend;
    if (backend == CFG_STATE_SQLITE) {
        static const char *const rados_only[] = {"pool", "namespace", "ceph_conf", "client", NULL};
        for (size_t i = 0; obj && rados_only[i]; i++)
            if (json_object_get(obj, rados_only[i]))
                problem(c, jp_key(jp, rados_only[i]).s,
                        "applies to \"backend\": \"rados\" only; expected it absent for sqlite");
        cfg->state.path = xdup(c, path ? path : CFG_DEFAULT_STATE_PATH);
        return;
    }
    if (obj && json_object_get(obj, "path"))
        problem(c, ".state.path",
                "applies to \"backend\": \"sqlite\" only; expected \"pool\" for rados");
    if (client && strncmp(client, "client.", 7) != 0) {
        problem(c, ".state.client",
                "%s is not a client name; expected \"client.<id>\" like "
                "\"client.admin\"",
                q(client).s);
        client = NULL;
    }
    cfg->state.pool = xdup(c, pool ? pool : "rgw2cloud");
    cfg->state.namespace_ = xdup(c, ns ? ns : "");
    cfg->state.ceph_conf = xdup(c, conf ? conf : "/etc/ceph/ceph.conf");
    cfg->state.client = xdup(c, client ? client : "client.admin");
}

static const char *const sync_keys[] = {"poll_interval",
                                        "concurrency",
                                        "part_concurrency",
                                        "max_inflight_bytes",
                                        "bandwidth_limit",
                                        "reconcile_interval",
                                        NULL};

/* After parse_s3(): max_inflight_bytes must hold one part. */
static void parse_sync(struct ctx *c, json_t *obj)
{
    struct config *cfg = c->cfg;
    const char *jp = ".sync";
    uint64_t v;
    cfg->sync.poll_interval = 5;
    cfg->sync.concurrency = 32;
    cfg->sync.part_concurrency = 8;
    cfg->sync.max_inflight_bytes = GiB;
    if (!obj)
        return;
    if (!json_is_object(obj)) {
        problem(c, jp, "is %s; expected an object like {\"concurrency\": 32}", type_name(obj));
        return;
    }
    check_keys(c, obj, jp, sync_keys, NULL);
    if (get_uint(c, obj, jp, "poll_interval", 1, 3600, " seconds", &v) > 0)
        cfg->sync.poll_interval = (unsigned) v;
    if (get_uint(c, obj, jp, "concurrency", 1, 4096, "", &v) > 0)
        cfg->sync.concurrency = (unsigned) v;
    if (get_uint(c, obj, jp, "part_concurrency", 1, 1024, "", &v) > 0)
        cfg->sync.part_concurrency = (unsigned) v;
    if (get_uint(c, obj, jp, "reconcile_interval", 0, 366 * 86400, " seconds (0 = never)", &v) > 0)
        cfg->sync.reconcile_interval = (unsigned) v;
    (void) get_size(c, obj, jp, "bandwidth_limit", &cfg->sync.bandwidth_limit);
    if (get_size(c, obj, jp, "max_inflight_bytes", &v) > 0) {
        if (v < cfg->s3.multipart_min_part_size)
            problem(c, ".sync.max_inflight_bytes",
                    "%s is less than one part; expected at least multipart_min_part_size (%s)",
                    size_text(v).s, size_text(cfg->s3.multipart_min_part_size).s);
        else
            cfg->sync.max_inflight_bytes = v;
    }
}

static const char *const s3_keys[] = {"multipart_sync_threshold", "multipart_min_part_size", NULL};

static void parse_s3(struct ctx *c, json_t *obj)
{
    struct config *cfg = c->cfg;
    const char *jp = ".s3";
    uint64_t v;
    cfg->s3.multipart_sync_threshold = 32 * MiB;
    cfg->s3.multipart_min_part_size = 32 * MiB;
    if (!obj)
        return;
    if (!json_is_object(obj)) {
        problem(c, jp,
                "is %s; expected {\"multipart_sync_threshold\": ..., "
                "\"multipart_min_part_size\": ...}",
                type_name(obj));
        return;
    }
    check_keys(c, obj, jp, s3_keys, NULL);
    if (get_size(c, obj, jp, "multipart_sync_threshold", &v) > 0) {
        if (v > MAX_PART_SIZE)
            problem(c, ".s3.multipart_sync_threshold",
                    "%s is above 5 GiB, the largest single PUT; expected at most 5 GiB",
                    size_text(v).s);
        else
            cfg->s3.multipart_sync_threshold = v;
    }
    if (get_size(c, obj, jp, "multipart_min_part_size", &v) > 0) {
        if (v > MAX_PART_SIZE) {
            problem(c, ".s3.multipart_min_part_size",
                    "%s is above 5 GiB, the largest part; expected 5 MiB to 5 GiB", size_text(v).s);
        } else if (v < MIN_PART_SIZE) {
            warning(c, ".s3.multipart_min_part_size",
                    "%s is below 5 MiB, the smallest part S3 accepts; raised to 5 MiB",
                    size_text(v).s);
            cfg->s3.multipart_min_part_size = MIN_PART_SIZE;
        } else {
            cfg->s3.multipart_min_part_size = v;
        }
    }
}

/* ------------------------------------------------------------- targets -- */

/* connections, acl_profiles, default, the top level and profiles: the
 * RGW tier-config part. */
static void parse_targets(struct ctx *c, json_t *root)
{
    struct config *cfg = c->cfg;
    json_t *jconns = json_object_get(root, "connections"); /* borrowed */
    json_t *jacls = json_object_get(root, "acl_profiles");
    json_t *jdefault = json_object_get(root, "default");
    json_t *jprofiles = json_object_get(root, "profiles");
    struct slots sl = {0};
    struct praw dflt = {0}, rootp = {0}, *praws = NULL;
    size_t nconn = 0, nacl = 0, nprof = 0;

    if (jconns && !json_is_array(jconns)) {
        problem(c, ".connections", "is %s; expected a list of connections with \"id\"",
                type_name(jconns));
        jconns = NULL;
    }
    if (jacls && !json_is_array(jacls)) {
        problem(c, ".acl_profiles", "is %s; expected a list of {\"id\", \"acls\"}",
                type_name(jacls));
        jacls = NULL;
    }
    if (jdefault && !json_is_object(jdefault)) {
        problem(c, ".default",
                "is %s; expected an object with connection, acls, "
                "target_path, connection_id, acls_id",
                type_name(jdefault));
        jdefault = NULL;
    }
    if (jprofiles && !json_is_array(jprofiles)) {
        problem(c, ".profiles", "is %s; expected a list of profiles with \"source_bucket\"",
                type_name(jprofiles));
        jprofiles = NULL;
    }
    nconn = json_array_size(jconns); /* 0 for NULL */
    nacl = json_array_size(jacls);
    nprof = json_array_size(jprofiles);

    /* every slot counted up front: profiles point into these arrays */
    sl.nconn_cap = nconn + 2 + nprof;
    sl.nacl_cap = nacl + 2 + nprof;
    cfg->connections = calloc(sl.nconn_cap, sizeof(*cfg->connections));
    cfg->acl_profiles = calloc(sl.nacl_cap, sizeof(*cfg->acl_profiles));
    sl.meta = calloc(sl.nconn_cap, sizeof(*sl.meta));
    praws = calloc(nprof + 1, sizeof(*praws));
    if (nprof)
        cfg->profiles = calloc(nprof, sizeof(*cfg->profiles));
    if (!cfg->connections || !cfg->acl_profiles || !sl.meta || !praws ||
        (nprof && !cfg->profiles)) {
        c->oom = true;
        goto out;
    }
    cfg->nprofiles = nprof;

    for (size_t i = 0; i < nconn; i++) {
        struct conn_meta *m = NULL;
        struct cfg_connection *conn = conn_slot(c, &sl, &m);
        struct jpath jp = jp_idx(".connections", i);
        parse_connection(c, json_array_get(jconns, i), jp.s, true, conn, m);
        if (!conn->id)
            continue;
        for (size_t j = 0; j < i; j++) {
            if (cfg->connections[j].id && strcmp(cfg->connections[j].id, conn->id) == 0) {
                problem(c, jp_key(jp.s, "id").s,
                        "%s is already the id of .connections[%zu]; expected unique ids",
                        q(conn->id).s, j);
                break;
            }
        }
    }

    for (size_t i = 0; i < nacl; i++) {
        static const char *const keys[] = {"id", "acls", NULL};
        static const struct key_hint hints[] = {
            {"acls_id", "an .acl_profiles[] entry is named by \"id\" (profiles refer to it "
                        "with \"acls_id\")"},
            {NULL, NULL}};
        struct cfg_acl_profile *ap = acl_slot(c, &sl);
        struct jpath jp = jp_idx(".acl_profiles", i);
        json_t *e = json_array_get(jacls, i); /* borrowed */
        const char *id = NULL;
        if (!json_is_object(e)) {
            problem(c, jp.s, "is %s; expected {\"id\", \"acls\"}", type_name(e));
            continue;
        }
        check_keys(c, e, jp.s, keys, hints);
        int r = get_str(c, e, jp.s, "id", 0, "the profile's name as a string", &id);
        if (r == 0)
            problem(c, jp_key(jp.s, "id").s,
                    "missing; expected the name profiles use in \"acls_id\"");
        if (r > 0) {
            for (size_t j = 0; j < i; j++) {
                if (cfg->acl_profiles[j].id && strcmp(cfg->acl_profiles[j].id, id) == 0) {
                    problem(c, jp_key(jp.s, "id").s,
                            "%s is already the id of .acl_profiles[%zu]; expected unique ids",
                            q(id).s, j);
                    break;
                }
            }
            ap->id = xdup(c, id);
        }
        json_t *list = json_object_get(e, "acls");
        if (list)
            (void) parse_acls(c, list, jp_key(jp.s, "acls").s, ap);
    }
    /* only named ones may be referred to; inline lists come after */
    size_t nnamed_conn = cfg->nconnections, nnamed_acl = cfg->nacl_profiles;

    (void) snprintf(dflt.jp.s, sizeof(dflt.jp.s), ".default");
    if (jdefault) {
        check_keys(c, jdefault, ".default", default_keys, NULL);
        parse_praw(c, &sl, jdefault, &dflt);
        resolve_refs(c, nnamed_conn, nnamed_acl, &dflt, NULL, NULL, false);
    }
    /* the top level's keys were checked with the root's */
    rootp.jp.s[0] = '\0';
    parse_praw(c, &sl, root, &rootp);
    for (size_t i = 0; i < nprof; i++) {
        praws[i].jp = jp_idx(".profiles", i);
        parse_profile(c, &sl, json_array_get(jprofiles, i), &praws[i]);
    }

    /* inheritance from the default connection, then the checks needing it */
    const struct cfg_connection *base = dflt.rconn;
    const struct conn_meta *bm = base ? &sl.meta[base - cfg->connections] : NULL;
    for (size_t i = 0; base && i < cfg->nconnections; i++)
        conn_inherit(c, &cfg->connections[i], &sl.meta[i], base, bm);
    for (size_t i = 0; i < cfg->nconnections; i++)
        conn_finish(c, &cfg->connections[i], &sl.meta[i], base != NULL);

    resolve_refs(c, nnamed_conn, nnamed_acl, &rootp, jdefault ? &dflt : NULL, NULL, true);
    for (size_t i = 0; i < nprof; i++)
        if (!praws[i].invalid)
            resolve_refs(c, nnamed_conn, nnamed_acl, &praws[i], jdefault ? &dflt : NULL, &rootp,
                         !praws[i].exclude);

    profile_finish(c, &cfg->root, &rootp, jdefault ? &dflt : NULL, &rootp);
    for (size_t i = 0; i < nprof; i++) {
        struct cfg_profile *out = &cfg->profiles[i];
        const struct praw *p = &praws[i];
        if (p->invalid)
            continue;
        if (p->source_bucket) {
            size_t len = strlen(p->source_bucket);
            out->prefix = len && p->source_bucket[len - 1] == '*';
            out->source_bucket = strndup(p->source_bucket, len - out->prefix);
            if (!out->source_bucket)
                c->oom = true;
            for (size_t j = 0; j < i && out->source_bucket; j++) {
                const struct cfg_profile *o = &cfg->profiles[j];
                if (o->source_bucket && o->prefix == out->prefix &&
                    strcmp(o->source_bucket, out->source_bucket) == 0) {
                    problem(c, jp_key(p->jp.s, "source_bucket").s,
                            "%s is already matched by .profiles[%zu]; expected each bucket or "
                            "prefix once",
                            q(p->source_bucket).s, j);
                    break;
                }
            }
        }
        profile_finish(c, out, p, jdefault ? &dflt : NULL, &rootp);
    }
out:
    free(sl.meta);
    free(praws);
}

/* --------------------------------------------------------------- load -- */

static void cfg_connection_finish(struct cfg_connection *conn)
{
    free(conn->id);
    free(conn->endpoint);
    free(conn->access_key);
    secret_wipe_free(conn->secret);
    free(conn->region);
}

static void cfg_acl_profile_finish(struct cfg_acl_profile *ap)
{
    for (size_t i = 0; i < ap->nacls; i++) {
        free(ap->acls[i].source_id);
        free(ap->acls[i].dest_id);
    }
    free(ap->acls);
    free(ap->id);
}

static void cfg_profile_finish(struct cfg_profile *p)
{
    free(p->source_bucket);
    free(p->target_path);
    free(p->storage_class);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->source.endpoint);
    free(cfg->source.access_key);
    secret_wipe_free(cfg->source.secret);
    free(cfg->source.zonegroup);
    free(cfg->source.zone);
    free(cfg->listen);
    free(cfg->state.path);
    free(cfg->state.pool);
    free(cfg->state.namespace_);
    free(cfg->state.ceph_conf);
    free(cfg->state.client);
    for (size_t i = 0; cfg->connections && i < cfg->nconnections; i++)
        cfg_connection_finish(&cfg->connections[i]);
    free(cfg->connections);
    for (size_t i = 0; cfg->acl_profiles && i < cfg->nacl_profiles; i++)
        cfg_acl_profile_finish(&cfg->acl_profiles[i]);
    free(cfg->acl_profiles);
    cfg_profile_finish(&cfg->root);
    for (size_t i = 0; cfg->profiles && i < cfg->nprofiles; i++)
        cfg_profile_finish(&cfg->profiles[i]);
    free(cfg->profiles);
    free(cfg);
}

void config_problems_finish(struct config_problems *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->lines[i]);
    free(p->lines);
    for (size_t i = 0; i < p->nwarnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    *p = (struct config_problems){0};
}

/* jansson's text ends in " near '<token>'", and the token may be part of a
 * secret: cut it off. */
static void syntax_problem(struct ctx *c, const json_error_t *e)
{
    char text[JSON_ERROR_TEXT_LENGTH];
    (void) snprintf(text, sizeof(text), "%s", e->text);
    char *near = strstr(text, " near ");
    if (near && strncmp(text, "duplicate object key", 20) != 0)
        *near = '\0'; /* a duplicate's token is the key: worth keeping */
    if (has_ctrl(text))
        (void) snprintf(text, sizeof(text), "syntax error");
    char *line = NULL;
    if (asprintf(&line,
                 "%s:%d:%d: invalid JSON: %s; expected one JSON object (no comments, no "
                 "trailing commas)",
                 c->file, e->line, e->column, text) < 0) {
        c->oom = true;
        return;
    }
    char **grown = realloc(c->pb->lines, (c->pb->n + 1) * sizeof(*grown));
    if (!grown) {
        free(line);
        c->oom = true;
        return;
    }
    grown[c->pb->n++] = line;
    c->pb->lines = grown;
}

int config_load(struct config **out, struct config_problems *problems, const char *path)
{
    struct ctx c = {.file = path, .pb = problems};
    struct stat st;
    json_error_t jerr;
    json_t *root = NULL; /* owned */
    int ret;

    *problems = (struct config_problems){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) < 0) {
        ret = -errno;
        problem(&c, NULL, "cannot read: %s; expected a readable JSON file", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        problem(&c, NULL, "not a regular file; expected a JSON file");
        goto out;
    }
    root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        syntax_problem(&c, &jerr);
        ret = -EINVAL;
        goto out;
    }
    if (!json_is_object(root)) {
        problem(&c, "", "the file holds %s; expected one JSON object", type_name(root));
        ret = -EINVAL;
        goto out;
    }

    c.cfg = calloc(1, sizeof(*c.cfg));
    const char *slash = strrchr(path, '/');
    c.dir = slash ? strndup(path, (size_t) (slash - path) + (slash == path)) : NULL;
    if (!c.cfg || (slash && !c.dir)) {
        ret = -ENOMEM;
        goto out;
    }
    c.cfg->path = xdup(&c, path);

    check_keys(&c, root, "", root_keys, root_hints);
    json_t *v = json_object_get(root, "source"); /* borrowed */
    if (v)
        parse_source(&c, v);
    parse_listen(&c, root);
    parse_state(&c, json_object_get(root, "state"));
    parse_s3(&c, json_object_get(root, "s3"));
    parse_sync(&c, json_object_get(root, "sync"));
    parse_targets(&c, root);

    c.cfg->secrets_readable_by_others = c.inline_secret && (st.st_mode & (S_IRGRP | S_IROTH));
    if (c.oom)
        ret = -ENOMEM;
    else if (problems->n)
        ret = -EINVAL;
    else
        ret = 0;
out:
    if (ret == 0) {
        *out = c.cfg;
        c.cfg = NULL;
    }
    config_free(c.cfg);
    free(c.dir);
    json_decref(root);
    if (fd >= 0)
        (void) close(fd);
    return ret;
}

/* -------------------------------------------------------------- match -- */

const struct cfg_profile *config_find_profile(const struct config *cfg, const char *bucket)
{
    const struct cfg_profile *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < cfg->nprofiles; i++) {
        const struct cfg_profile *p = &cfg->profiles[i];
        if (!p->source_bucket)
            continue;
        if (!p->prefix) {
            if (strcmp(p->source_bucket, bucket) == 0)
                return p;
            continue;
        }
        size_t len = strlen(p->source_bucket);
        if (strncmp(p->source_bucket, bucket, len) == 0 && (!best || len > best_len)) {
            best = p;
            best_len = len;
        }
    }
    return best ? best : &cfg->root;
}
