/* Fault rules: see rules.h. */
#include "rules.h"

#include "s3op.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *state)
{
    return (double) (splitmix64(state) >> 11) / 9007199254740992.0; /* [0, 1) */
}

static int rule_parse(json_t *obj, size_t idx, struct rule *r, char *err, size_t errcap)
{
    *r = (struct rule){.op = -1, .probability = 1.0, .count = -1};
    struct timespec now;
    (void) clock_gettime(CLOCK_REALTIME, &now);
    uint64_t seed = (uint64_t) now.tv_nsec ^ ((uint64_t) now.tv_sec << 30) ^ (idx * 0x9e3779b9u);
    if (!json_is_object(obj)) {
        snprintf(err, errcap, "rule %zu: not an object", idx);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = true;
        if (strcmp(key, "op") == 0) {
            ok = json_is_string(v) && (r->op = op_lookup(json_string_value(v))) >= -1;
        } else if (strcmp(key, "action") == 0) {
            const char *a = json_is_string(v) ? json_string_value(v) : "";
            json_int_t code = json_is_integer(v) ? json_integer_value(v) : 0;
            r->action = strcmp(a, "503") == 0 || code == 503   ? ACT_503
                        : strcmp(a, "500") == 0 || code == 500 ? ACT_500
                        : strcmp(a, "reset") == 0              ? ACT_RESET
                        : strcmp(a, "stall") == 0              ? ACT_STALL
                        : strcmp(a, "corrupt") == 0            ? ACT_CORRUPT
                                                               : ACT_NONE;
            ok = r->action != ACT_NONE;
        } else if (strcmp(key, "probability") == 0) {
            r->probability = json_number_value(v);
            ok = json_is_number(v) && r->probability >= 0.0 && r->probability <= 1.0;
        } else if (strcmp(key, "after_bytes") == 0) {
            ok = json_is_integer(v) && json_integer_value(v) >= 0;
            r->after_bytes = ok ? (uint64_t) json_integer_value(v) : 0;
        } else if (strcmp(key, "stall_ms") == 0) {
            ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
                 json_integer_value(v) <= 24 * 3600 * 1000;
            r->stall_ms = ok ? (long) json_integer_value(v) : 0;
        } else if (strcmp(key, "count") == 0) {
            ok = json_is_integer(v) && json_integer_value(v) >= 0;
            r->count = ok ? (long long) json_integer_value(v) : 0;
        } else if (strcmp(key, "seed") == 0) {
            ok = json_is_integer(v);
            seed = ok ? (uint64_t) json_integer_value(v) : 0;
        } else {
            snprintf(err, errcap, "rule %zu: unknown key \"%s\"", idx, key);
            return -1;
        }
        if (!ok) {
            snprintf(err, errcap, "rule %zu: bad value for \"%s\"", idx, key);
            return -1;
        }
    }
    if (r->action == ACT_NONE) {
        snprintf(err, errcap, "rule %zu: \"action\" is required (503, 500, reset, stall)", idx);
        return -1;
    }
    r->rng = seed;
    return 0;
}

int ruleset_parse(struct ruleset *out, const char *text, size_t len, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root) {
        snprintf(err, errcap, "rules: line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    json_t *list = json_is_object(root) ? json_object_get(root, "rules") /* borrowed */ : root;
    int rc = -1;
    if (!json_is_array(list)) {
        snprintf(err, errcap, "rules: expected a list or {\"rules\": [...]}");
        goto out;
    }
    out->n = json_array_size(list);
    out->v = calloc(out->n ? out->n : 1, sizeof(*out->v));
    out->text = strndup(text, len);
    if (!out->v || !out->text) {
        snprintf(err, errcap, "rules: out of memory");
        goto out;
    }
    for (size_t i = 0; i < out->n; i++)
        if (rule_parse(json_array_get(list, i) /* borrowed */, i, &out->v[i], err, errcap) < 0)
            goto out;
    rc = 0;
out:
    if (rc < 0)
        ruleset_finish(out);
    json_decref(root);
    return rc;
}

void ruleset_finish(struct ruleset *rs)
{
    free(rs->v);
    free(rs->text);
    memset(rs, 0, sizeof(*rs));
}

bool ruleset_pick(struct ruleset *rs, int op, struct rule *hit)
{
    for (size_t i = 0; i < rs->n; i++) {
        struct rule *r = &rs->v[i];
        if ((r->op != -1 && r->op != op) || (r->count >= 0 && r->fired >= r->count))
            continue;
        if (rng_unit(&r->rng) < r->probability) {
            r->fired++;
            *hit = *r;
            return true;
        }
    }
    return false;
}
