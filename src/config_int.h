/* Inside config_load(): what config.c, config_value.c, config_secret.c,
 * config_connection.c, config_acl.c and config_profile.c share.
 *
 * One load is one struct cfg_ctx. Problems go to it (cfg_problem(),
 * cfg_warning()) and never stop the load; a value that was already reported
 * is left out of later checks so one mistake gives one line. Out of memory
 * only sets ctx->oom: the load goes on and fails with -ENOMEM at the end. */
#ifndef RGW2CLOUD_CONFIG_INT_H
#define RGW2CLOUD_CONFIG_INT_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define KiB    (UINT64_C(1024))
#define MiB    (KiB * 1024)
#define GiB    (MiB * 1024)
#define JP_MAX 200

/* ------------------------------------------------------ the load (config.c) */

struct cfg_ctx {
    const char *file;
    char *dir; /* of file, for relative secret_file paths */
    struct config_problems *pb;
    struct config *cfg;
    bool oom;
    bool inline_secret; /* some "secret" key is in the file itself */
};

/* One line "<file>: <jp>: <fmt...>" into the errors / the warnings. */
__attribute__((format(printf, 3, 4))) void cfg_problem(struct cfg_ctx *c, const char *jp,
                                                       const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void cfg_warning(struct cfg_ctx *c, const char *jp,
                                                       const char *fmt, ...);
/* "<jp>: \"<id>\" is already the id of <list>[<j>]; expected unique ids" */
void cfg_duplicate_id(struct cfg_ctx *c, const char *jp, const char *id, const char *list,
                      size_t j);
/* strdup() that sets c->oom on failure; NULL for NULL. */
char *cfg_strdup(struct cfg_ctx *c, const char *s);

/* ---------------------------------------------- text (config_value.c) -- */

/* A JSON path like ".profiles[1].connection_id", built by value. */
struct jpath {
    char s[JP_MAX];
};

/* A user-supplied string made safe for one line: quoted, control bytes as
 * '?', cut at 64 bytes. Never pass a secret. */
struct quoted {
    char s[80];
};

struct quoted cfg_quote(const char *s);
struct jpath cfg_jp_key(const char *parent, const char *key); /* .key or ["odd key"] */
struct jpath cfg_jp_idx(const char *parent, size_t i);        /* [i] */
struct quoted cfg_size_text(uint64_t v);                      /* "5 MiB", "5242881 bytes" */
bool cfg_is_ident(const char *s);                             /* [A-Za-z0-9_-]+ */
bool cfg_has_ctrl(const char *s);
bool cfg_host_char(char ch); /* letters, digits, '.', '-', '_' */

static inline bool cfg_is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static inline bool cfg_is_lower_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || cfg_is_digit(ch);
}

/* NULL when s[0..n) is "host:port" or "[v6]:port" (the port optional
 * unless port_required), else what is wrong. host (may be NULL) receives
 * the host, lowercase. */
const char *cfg_check_hostport(const char *s, size_t n, bool port_required, char *host,
                               size_t hostlen);
/* NULL when url is "http[s]://host[:port][/]", else what is wrong. host
 * (may be NULL) receives the host, lowercase. */
const char *cfg_check_url(const char *url, char *host, size_t hostlen);

/* ---------------------------------------- JSON access (config_value.c) -- */

/* "an object", "a string", "null"... for "is %s; expected ..." */
const char *cfg_type_name(const json_t *v);

/* true when v is of type; else reports "<jp>: is <type>; expected <expect>". */
bool cfg_check_type(struct cfg_ctx *c, const json_t *v, json_type type, const char *jp,
                    const char *expect);

struct key_hint {
    const char *key;
    const char *hint; /* replaces the "expected one of" part */
};

/* Every key of obj not in known[] (NULL-terminated) is a problem naming it:
 * a typo must not silently disable a setting. hints (may be NULL; ends
 * with {NULL, NULL}) say where a known mistake belongs instead. */
void cfg_check_keys(struct cfg_ctx *c, json_t *obj, const char *jp, const char *const *known,
                    const struct key_hint *hints);

/* The get_* helpers: 1 = present and valid (*out set), 0 = absent, -1 = a
 * problem was reported. Values read from the tree are borrowed. They never
 * print the value they were given, so they are safe for secrets; expect is
 * the "expected ..." part of their lines. */

enum { STR_EMPTY_OK = 1 };

int cfg_get_str(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key, unsigned flags,
                const char *expect, const char **out);
/* cfg_get_str() for a key that must be there: 0 = absent, reported as
 * "missing; expected <missing>" (missing NULL: the same as expect). */
int cfg_get_str_required(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key,
                         const char *expect, const char *missing, const char **out);
/* An integer in [min, max]; unit (" seconds" or "") follows max in lines. */
int cfg_get_uint(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key, uint64_t min,
                 uint64_t max, const char *unit, uint64_t *out);
/* Bytes: an integer, or a string config_parse_size() reads. */
int cfg_get_size(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key, uint64_t *out);
int cfg_get_bool(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key, bool *out);
/* names[] is NULL-terminated; *out is the index. Enum values are not
 * secret, so a bad one is quoted back. */
int cfg_get_enum(struct cfg_ctx *c, json_t *obj, const char *jp, const char *key,
                 const char *const *names, const char *expect, int *out);

/* ------------------------------------------ secrets (config_secret.c) -- */

/* The keys of an object holding a key pair, and the hints for the names
 * other tools use for them. */
#define KEY_PAIR_KEYS "access_key", "secret", "secret_file"
/* clang-format off */
#define KEY_PAIR_HINTS                                                  \
    {"secret_key", "expected \"secret\" or \"secret_file\""},           \
    {"access_key_id", "expected \"access_key\""},                       \
    {"secret_access_key", "expected \"secret\" or \"secret_file\""}
/* clang-format on */

/* access_key + secret | secret_file of obj. Returns whether any is present;
 * *bad when a problem was reported. *ak and *secret are heap copies (free
 * the secret with cfg_secret_free()). */
bool cfg_key_pair_parse(struct cfg_ctx *c, json_t *obj, const char *jp, char **ak, char **secret,
                        bool *bad);
void cfg_secret_free(char *s); /* wipes, then frees; accepts NULL */

/* ----------------------------------- connections (config_connection.c) -- */

extern const char *const cfg_provider_names[]; /* by enum cfg_provider */

/* Load-time facts about one cfg->connections[] slot. has_* = the key is
 * given (own or inherited); has_* with a NULL value = given but reported. */
struct cfg_connection_meta {
    struct jpath jp;
    bool invalid; /* not an object: reported, skip it */
    bool has_endpoint, has_key, has_host_style, has_region, has_provider;
    bool bad_key, bad_host_style, bad_provider;
    bool host_style_virtual;
    const char *host_style_from; /* jp it was inherited from, or NULL */
};

/* One connection object at jp: a .connections[] entry when named (it has
 * an "id"), else an inline one. */
void cfg_connection_parse(struct cfg_ctx *c, json_t *obj, const char *jp, bool named,
                          struct cfg_connection *conn, struct cfg_connection_meta *m);
/* .connections: fills cfg->connections[0..n) and meta[0..n), n =
 * json_array_size(list), both sized by the caller. */
void cfg_connection_parse_list(struct cfg_ctx *c, json_t *list, struct cfg_connection_meta *meta);
/* RGW: what conn lacks comes from the default connection base. */
void cfg_connection_inherit(struct cfg_ctx *c, struct cfg_connection *conn,
                            struct cfg_connection_meta *m, const struct cfg_connection *base,
                            const struct cfg_connection_meta *bm);
/* After inheritance: required fields and the provider rules. */
void cfg_connection_check(struct cfg_ctx *c, struct cfg_connection *conn,
                          const struct cfg_connection_meta *m, bool have_base);
/* The named connection id among cfg->connections[0..nnamed), or NULL. */
struct cfg_connection *cfg_connection_find(struct config *cfg, size_t nnamed, const char *id);

/* ------------------------------------------------- ACLs (config_acl.c) -- */

/* A list of {type, source_id, dest_id} at jp into out. Reports and
 * returns -1 when it is not a list of mappings; acls that parse are kept
 * either way. */
int cfg_acl_list_parse(struct cfg_ctx *c, json_t *arr, const char *jp, struct cfg_acl_profile *out);
/* .acl_profiles: fills cfg->acl_profiles[0..n), n = json_array_size(list),
 * sized by the caller. */
void cfg_acl_profile_parse_list(struct cfg_ctx *c, json_t *list);
/* The named acl list id among cfg->acl_profiles[0..nnamed), or NULL. */
struct cfg_acl_profile *cfg_acl_profile_find(struct config *cfg, size_t nnamed, const char *id);

/* ---------------------------------------- profiles (config_profile.c) -- */

/* connections, acl_profiles, default, the top level and profiles: the
 * RGW tier-config part. */
void cfg_targets_parse(struct cfg_ctx *c, json_t *root);

#endif
