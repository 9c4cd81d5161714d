/* The generic checkers of config_load(): JSON paths and quoting for problem
 * lines, value types, unknown keys ("did you mean"), sizes with units,
 * URLs and host:port. They know no key of the schema but the ones their
 * caller names. */
#include "config_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- text -- */

struct quoted cfg_quote(const char *s)
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

bool cfg_is_ident(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

struct jpath cfg_jp_key(const char *parent, const char *key)
{
    struct jpath p;
    if (cfg_is_ident(key))
        (void) snprintf(p.s, sizeof(p.s), "%s.%s", parent, key);
    else
        (void) snprintf(p.s, sizeof(p.s), "%s[%s]", parent, cfg_quote(key).s);
    return p;
}

struct jpath cfg_jp_idx(const char *parent, size_t i)
{
    struct jpath p;
    (void) snprintf(p.s, sizeof(p.s), "%s[%zu]", parent, i);
    return p;
}

struct quoted cfg_size_text(uint64_t v)
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

bool cfg_has_ctrl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* --------------------------------------------------------- JSON access -- */

const char *cfg_type_name(const json_t *v)
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

bool cfg_check_type(struct cfg_ctx *c, const json_t *v, json_type type, const char *jp,
                    const char *expect)
{
    if (json_typeof(v) == type)
        return true;
    cfg_problem(c, jp, "is %s; expected %s", cfg_type_name(v), expect);
    return false;
}

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

/* "did you mean" names the known key closest to a typo: at most two edits,
 * and no more than a third of the key's length. */
void cfg_check_keys(struct cfg_ctx *c, json_t *obj, const char *jp, const char *const *known,
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
        struct jpath kp = cfg_jp_key(jp, key);
        const char *hint = NULL;
        for (size_t i = 0; hints && hints[i].key && !hint; i++)
            if (strcmp(hints[i].key, key) == 0)
                hint = hints[i].hint;
        if (hint) {
            cfg_problem(c, kp.s, "unknown key %s here; %s", cfg_quote(key).s, hint);
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
        cfg_problem(c, kp.s, "unknown key %s%s; expected one of: %s", cfg_quote(key).s, mean, list);
    }
}

int cfg_get_str(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key, unsigned flags,
                const char *expect, const char **out)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    if (!v)
        return 0;
    struct jpath kp = cfg_jp_key(jp, key);
    if (!cfg_check_type(c, v, JSON_STRING, kp.s, expect))
        return -1;
    const char *s = json_string_value(v);
    if (!s[0] && !(flags & STR_EMPTY_OK)) {
        cfg_problem(c, kp.s, "is empty; expected %s", expect);
        return -1;
    }
    if (cfg_has_ctrl(s)) {
        cfg_problem(c, kp.s, "contains a control character; expected %s", expect);
        return -1;
    }
    *out = s;
    return 1;
}

int cfg_get_str_required(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key,
                         const char *expect, const char *missing, const char **out)
{
    int r = cfg_get_str(c, obj, jp, key, 0, expect, out);
    if (r == 0)
        cfg_problem(c, cfg_jp_key(jp, key).s, "missing; expected %s", missing ? missing : expect);
    return r;
}

int cfg_get_uint(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key, uint64_t min,
                 uint64_t max, const char *unit, uint64_t *out)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    if (!v)
        return 0;
    struct jpath kp = cfg_jp_key(jp, key);
    if (!json_is_integer(v)) {
        cfg_problem(c, kp.s, "is %s; expected an integer from %" PRIu64 " to %" PRIu64 "%s",
                    cfg_type_name(v), min, max, unit);
        return -1;
    }
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t) i < min || (uint64_t) i > max) {
        cfg_problem(c, kp.s,
                    "%" JSON_INTEGER_FORMAT " is out of range; expected %" PRIu64 " to %" PRIu64
                    "%s",
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
int cfg_get_size(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    if (!v)
        return 0;
    struct jpath kp = cfg_jp_key(jp, key);
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) {
            cfg_problem(c, kp.s, "%" JSON_INTEGER_FORMAT " is negative; expected %s",
                        json_integer_value(v), size_expect);
            return -1;
        }
        *out = (uint64_t) json_integer_value(v);
        return 1;
    }
    if (!cfg_check_type(c, v, JSON_STRING, kp.s, size_expect))
        return -1;
    int r = config_parse_size(out, json_string_value(v));
    if (r == -ERANGE) {
        cfg_problem(c, kp.s, "%s is too large; expected %s", cfg_quote(json_string_value(v)).s,
                    size_expect);
        return -1;
    }
    if (r < 0) {
        cfg_problem(c, kp.s, "%s is not a size; expected %s", cfg_quote(json_string_value(v)).s,
                    size_expect);
        return -1;
    }
    return 1;
}

int cfg_get_bool(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        cfg_problem(c, cfg_jp_key(jp, key).s, "is %s; expected true or false", cfg_type_name(v));
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

int cfg_get_enum(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key,
                 const char *const *names, const char *expect, int *out)
{
    const char *s = NULL;
    int r = cfg_get_str(c, obj, jp, key, 0, expect, &s);
    if (r <= 0)
        return r;
    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return 1;
        }
    }
    cfg_problem(c, cfg_jp_key(jp, key).s, "%s is not valid; expected %s", cfg_quote(s).s, expect);
    return -1;
}

/* -------------------------------------------------------------- values -- */

int config_parse_size(uint64_t *out, const char *text)
{
    if (!text || !cfg_is_digit(text[0]))
        return -EINVAL;
    uint64_t v = 0;
    const char *p = text;
    for (; cfg_is_digit(*p); p++) {
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
        if (!cfg_is_digit(s[i]))
            return false;
        v = v * 10 + (unsigned) (s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

bool cfg_host_char(char ch)
{
    return cfg_is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '-' ||
           ch == '_';
}

const char *cfg_check_hostport(const char *s, size_t n, bool port_required, char *host,
                               size_t hostlen)
{
    size_t hend, pstart;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return "has an unterminated IPv6 address";
        for (const char *p = s + 1; p < close; p++)
            if (!cfg_is_digit(*p) && !strchr("abcdefABCDEF:.", *p))
                return "has an invalid IPv6 address";
        if (close == s + 1)
            return "has an empty host";
        hend = (size_t) (close - s) + 1;
        if (hend < n && s[hend] != ':')
            return "has junk after the IPv6 address";
    } else {
        for (hend = 0; hend < n && s[hend] != ':'; hend++)
            if (!cfg_host_char(s[hend]))
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

const char *cfg_check_url(const char *url, char *host, size_t hostlen)
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
    const char *why = cfg_check_hostport(rest, n, false, host, hostlen);
    if (why)
        return why;
    if (rest[n] == '?' || rest[n] == '#')
        return "has a query or fragment";
    if (rest[n] == '/' && rest[n + 1] != '\0')
        return "has a path; the bucket and key prefix belong in target_path";
    return NULL;
}
