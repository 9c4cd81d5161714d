/* Fault rules: which requests faultproxy answers itself, cuts or holds.
 *
 * Text: a JSON list (or {"rules": list}) of
 *   {"op": "UploadPart" | ... | "*",
 *    "action": "503" | "500" | "reset" | "stall" | "corrupt",
 *    "probability": 0..1 (1), "after_bytes": N (0), "stall_ms": N (0),
 *    "count": K (unlimited), "seed": S (random)}
 * Unknown keys are errors (a typo must not silently disable a fault).
 * For each request the rules are tried in order; each one whose op matches
 * and whose count is not used up rolls its own PRNG (seeded: reproducible)
 * and the first that hits decides. */
#ifndef FAULTPROXY_RULES_H
#define FAULTPROXY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum action { ACT_NONE, ACT_503, ACT_500, ACT_RESET, ACT_STALL, ACT_CORRUPT };

struct rule {
    int op; /* enum op, or -1: any */
    enum action action;
    double probability;
    uint64_t after_bytes;
    long stall_ms;
    long long count; /* injections allowed; -1: unlimited */
    long long fired;
    uint64_t rng;
};

struct ruleset {
    struct rule *v;
    size_t n;
    char *text; /* as given */
};

/* Parse text into *out (the caller's; finish it). On error -1 with a one-line
 * reason in err, and *out empty. */
int ruleset_parse(struct ruleset *out, const char *text, size_t len, char *err, size_t errcap);
void ruleset_finish(struct ruleset *rs); /* accepts an empty one */

/* The rule that fires on a request of op: true and a copy in *hit (its
 * count and PRNG advanced). Not thread-safe: the caller serialises. */
bool ruleset_pick(struct ruleset *rs, int op, struct rule *hit);

#endif
