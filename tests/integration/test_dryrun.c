/* dry-run end to end: the rgw2cloud binary (dry-run, sync --once, status)
 * against the lab's source zone and target.
 *
 * One config routes two source buckets through two profiles to two target
 * buckets — the second through a connection of its own (an id in
 * "connections", the same target endpoint) with acl_mode none — and
 * excludes a third bucket (every other bucket of the lab is excluded by a
 * "*" profile). Buckets are named after this run, so re-runs against the
 * same lab do not collide.
 *
 *   1. dry-run before anything: a plan per object (create / exclude), and
 *      nothing written: the target (ListBuckets and every bucket's objects)
 *      is identical before and after, and no state file appears;
 *   2. sync --once does exactly what was planned, object by object; the
 *      excluded bucket's objects are nowhere on the target;
 *   3. a second dry-run says skip for every object and changes neither the
 *      target nor the state (db bytes and status --json);
 *   4. the mapped grant (uri AllUsers READ) is on the target, acl_mode none
 *      sent none, storage class, tags and metadata are there;
 *   5. a changed object is "update", a deleted one (delete marker) "delete";
 *      after the next sync both are "skip" again. */
#include "harness.h"
#include "labenv.h"
#include "testlib.h"

#include "err.h"
#include "http/loop.h"
#include "http/s3.h"
#include "http/xml.h"
#include "sync/parts.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define ALL_USERS "http://acs.amazonaws.com/groups/global/AllUsers"
#define BIG_SIZE  (12u << 20)

static struct labenv senv, tenv;
static struct loop *loop;
static struct s3_client *src; /* alice on the source */
static struct s3_client *tgt; /* the target */
static const char *bin;
static char workdir[256];
static struct harness ctx; /* bin and workdir, for the shared helpers */
static char run_id[32];
static char cfg_path[512], state_path[512];
static char bucket_a[64], bucket_b[64], bucket_c[64]; /* source */
static char tbucket_a[64], tbucket_b[64];             /* target */
static bool synced;

/* ------------------------------------------------------------- small bits */

/* md5 of a file's bytes, "absent" when it does not exist. */
static void file_md5(char out[40], const char *path)
{
    size_t len = 0;
    char *t = slurp_len(path, &len);
    if (!t) {
        snprintf(out, 40, "absent");
        return;
    }
    md5_hex(out, t, len);
    free(t);
}

/* ------------------------------------------------------------- processes */

/* Run the binary with stdout and stderr to <workdir>/<tag>.out / .err,
 * each run's own (truncated). */
static int run_bin(const char *const *args, const char *tag, char *out, char *err, size_t n)
{
    snprintf(out, n, "%s/%s.out", workdir, tag);
    snprintf(err, n, "%s/%s.err", workdir, tag);
    return run_cmd(args, out, err, OUT_TRUNCATE, 300000);
}

/* `sync --once` with the config, output in <tag>.out/.err; the exit code. */
static int sync_once_tag(const char *tag)
{
    char out[512], err[512];
    const char *args[] = {bin, "sync", "-c", cfg_path, "--once", NULL};
    int rc = run_bin(args, tag, out, err, sizeof(out));
    if (rc != 0) {
        printf("# sync --once exited %d\n", rc);
        print_head(err, 40);
    }
    return rc;
}

/* ------------------------------------------------------------- dry-run */

/* The plans of one dry-run --json: only our buckets' lines are kept. */
struct plans {
    json_t *lines; /* array of our lines, in output order */
    size_t all;    /* every line printed */
    int bad;       /* lines that were not a JSON object with every key */
    int rc;
};

static const char *const plan_keys[] = {
    "bucket",        "key",        "version_id",    "size",   "action", "target_endpoint",
    "target_bucket", "target_key", "storage_class", "grants", "parts",  NULL};

static void plans_free(struct plans *p)
{
    json_decref(p->lines);
    memset(p, 0, sizeof(*p));
}

static bool ours(const char *bucket)
{
    return bucket && (strcmp(bucket, bucket_a) == 0 || strcmp(bucket, bucket_b) == 0 ||
                      strcmp(bucket, bucket_c) == 0);
}

static int dryrun_json(struct plans *p, const char *tag)
{
    memset(p, 0, sizeof(*p));
    p->lines = json_array();
    char out[512], err[512];
    const char *args[] = {bin, "dry-run", "-c", cfg_path, "--json", NULL};
    p->rc = run_bin(args, tag, out, err, sizeof(out));
    if (p->rc != 0) {
        printf("# dry-run --json exited %d\n", p->rc);
        print_head(err, 30);
    }
    char *text = slurp(out);
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        p->all++;
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        bool ok = json_is_object(j);
        for (size_t i = 0; ok && plan_keys[i]; i++)
            ok = json_object_get(j, plan_keys[i]) != NULL;
        if (!ok) {
            if (p->bad++ < 3)
                printf("# not a plan line: %s\n", line);
            json_decref(j);
            continue;
        }
        if (ours(json_string_value(json_object_get(j, "bucket"))))
            json_array_append_new(p->lines, j);
        else
            json_decref(j);
    }
    free(text);
    return p->rc;
}

static json_t *plan_find(const struct plans *p, const char *bucket, const char *key)
{
    size_t i;
    json_t *j;
    json_array_foreach(p->lines, i, j) {
        if (strcmp(json_string_value(json_object_get(j, "bucket")), bucket) == 0 &&
            strcmp(json_string_value(json_object_get(j, "key")), key) == 0)
            return j;
    }
    return NULL;
}

static const char *jstr(const json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

/* ------------------------------------------------------------- S3 helpers */

static int put_object(const char *bucket, const char *key, const char *body, size_t len,
                      const char *const *hdrs)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_call_set(&call, "PUT", bucket, key);
    if (r == 0)
        s3_call_body_ref(&call, body, len);
    for (size_t i = 0; r == 0 && hdrs && hdrs[i]; i += 2)
        r = s3_call_header(&call, hdrs[i], hdrs[i + 1]);
    if (r == 0)
        r = s3_call_run(src, &call);
    if (r < 0)
        printf("# PUT %s/%s: %s\n", bucket, key, err_get());
    s3_call_finish(&call);
    return r;
}

static int put_versioning(const char *bucket)
{
    static const char body[] =
        "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Status>Enabled</Status></VersioningConfiguration>";
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_call_set(&call, "PUT", bucket, NULL);
    if (r == 0)
        r = s3_call_query(&call, "versioning", NULL);
    if (r == 0)
        r = s3_call_body(&call, body, sizeof(body) - 1);
    if (r == 0)
        r = s3_call_run(src, &call);
    if (r < 0)
        printf("# PUT %s?versioning: %s\n", bucket, err_get());
    s3_call_finish(&call);
    return r;
}

/* Bucket names of ListBuckets, "\n"-joined (sorted by the server). */
static char *list_buckets(struct s3_client *c)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_call_set(&call, "GET", NULL, NULL);
    if (r == 0)
        r = s3_call_run(c, &call);
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    if (r == 0 && call.resp) {
        for (const char *p = call.resp; (p = strstr(p, "<Name>"));) {
            p += 6;
            const char *e = strstr(p, "</Name>");
            if (!e)
                break;
            fprintf(m, "%.*s\n", (int) (e - p), p);
            p = e;
        }
    } else {
        printf("# ListBuckets: %s\n", err_get());
        fprintf(m, "(ListBuckets failed)\n");
    }
    fclose(m);
    s3_call_finish(&call);
    return out;
}

/* Every object of bucket (all pages), one line each: key etag size class
 * mtime; "(no such bucket)" when absent. */
static void list_bucket(FILE *m, struct s3_client *c, const char *bucket)
{
    char *token = NULL;
    for (;;) {
        struct xml_list_objects l = {0};
        int r = s3_list_objects(c, bucket, NULL, token, 1000, &l);
        free(token);
        token = NULL;
        if (r == -ENOENT) {
            fprintf(m, "%s: (no such bucket)\n", bucket);
            return;
        }
        if (r < 0) {
            fprintf(m, "%s: (listing failed: %d)\n", bucket, r);
            return;
        }
        for (size_t i = 0; i < l.nobjects; i++) {
            const struct xml_object *o = &l.objects[i];
            fprintf(m, "%s/%s %s %llu %s %s\n", bucket, o->key, o->etag ? o->etag : "",
                    (unsigned long long) o->size, o->storage_class ? o->storage_class : "",
                    o->last_modified ? o->last_modified : "");
        }
        if (l.truncated && l.next_token)
            token = strdup(l.next_token);
        xml_list_objects_finish(&l);
        if (!token)
            return;
    }
}

/* The whole target as text: every bucket and every object of each, plus
 * our two target buckets (even when they do not exist). */
static char *target_snapshot(void)
{
    char *names = list_buckets(tgt);
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    fprintf(m, "buckets:\n%s", names);
    char *save = NULL;
    for (char *b = strtok_r(names, "\n", &save); b; b = strtok_r(NULL, "\n", &save))
        list_bucket(m, tgt, b);
    list_bucket(m, tgt, tbucket_a);
    list_bucket(m, tgt, tbucket_b);
    fclose(m);
    free(names);
    return out;
}

/* Keys of one target bucket (NULL-terminated, malloc'd); NULL when absent. */
static char **target_keys(const char *bucket, size_t *n)
{
    *n = 0;
    char **keys = NULL;
    char *token = NULL;
    for (;;) {
        struct xml_list_objects l = {0};
        int r = s3_list_objects(tgt, bucket, NULL, token, 1000, &l);
        free(token);
        token = NULL;
        if (r < 0)
            break;
        for (size_t i = 0; i < l.nobjects; i++) {
            keys = realloc(keys, (*n + 2) * sizeof(char *));
            keys[(*n)++] = strdup(l.objects[i].key);
            keys[*n] = NULL;
        }
        if (l.truncated && l.next_token)
            token = strdup(l.next_token);
        xml_list_objects_finish(&l);
        if (!token)
            break;
    }
    return keys;
}

static void keys_free(char **k)
{
    for (size_t i = 0; k && k[i]; i++)
        free(k[i]);
    free(k);
}

static char *head_header(struct s3_client *c, const char *bucket, const char *key, const char *name,
                         int *err)
{
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_head_object(c, &call, bucket, key);
    char *v = NULL;
    if (r == 0) {
        if (strcmp(name, "etag") == 0) {
            (void) s3_call_etag(&call, &v);
        } else {
            const char *h = s3_call_resp_header(&call, name);
            v = h ? strdup(h) : NULL;
        }
    }
    if (err)
        *err = r;
    s3_call_finish(&call);
    return v;
}

/* status --json without what comes from the source (lag moves with time). */
static json_t *status_state(const char *tag)
{
    char out[512], err[512];
    const char *args[] = {bin, "status", "-c", cfg_path, "--json", NULL};
    int rc = run_bin(args, tag, out, err, sizeof(out));
    char *text = slurp(out);
    json_error_t je;
    json_t *j = rc == 0 ? json_loads(text, 0, &je) : NULL;
    free(text);
    if (!j) {
        printf("# status --json exited %d\n", rc);
        print_head(err, 10);
        return NULL;
    }
    json_object_del(j, "source");
    json_t *sum = json_object_get(j, "summary");
    json_object_del(sum, "shards_behind");
    json_object_del(sum, "max_lag_seconds");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(j, "datalog_shards"), i, d) {
        json_object_del(d, "source_marker");
        json_object_del(d, "behind");
        json_object_del(d, "lag_seconds");
    }
    return j;
}

/* The state's bytes: the db and its WAL. */
static void state_md5(char db[40], char wal[40])
{
    char p[600];
    file_md5(db, state_path);
    snprintf(p, sizeof(p), "%s-wal", state_path);
    file_md5(wal, p);
}

/* ------------------------------------------------------------- the data */

struct srcobj {
    const char *bucket; /* one of bucket_a/b/c */
    const char *key;
    size_t size;
    const char *const *hdrs;
};

static const char *const hdr_meta[] = {"Content-Type", "text/plain", "x-amz-meta-color", "blue",
                                       NULL};
static const char *const hdr_public[] = {"x-amz-acl", "public-read", NULL};
static const char *const hdr_tags[] = {"x-amz-tagging", "env=test&team=dry%20run", NULL};

static struct srcobj objs[] = {
    {bucket_a, "k1", 1000, hdr_meta},     {bucket_a, "pub", 2000, hdr_public},
    {bucket_a, "tagged", 3000, hdr_tags}, {bucket_a, "dir/sub key+plus", 10, NULL},
    {bucket_a, "big", BIG_SIZE, NULL},    {bucket_b, "x1", 500, NULL},
    {bucket_b, "x2", 600, hdr_public},    {bucket_c, "c1", 100, NULL},
    {bucket_c, "c2", 200, NULL},
};
#define NOBJS (sizeof(objs) / sizeof(objs[0]))

static void expected_target(const struct srcobj *o, char *tb, size_t tbn, char *tk, size_t tkn)
{
    if (o->bucket == bucket_a) {
        snprintf(tb, tbn, "%s", tbucket_a);
        snprintf(tk, tkn, "%s/%s", bucket_a, o->key);
    } else if (o->bucket == bucket_b) {
        snprintf(tb, tbn, "%s", tbucket_b);
        snprintf(tk, tkn, "copy/%s", o->key);
    } else {
        tb[0] = tk[0] = '\0';
    }
}

static int write_config(void)
{
    path_in(cfg_path, sizeof(cfg_path), &ctx, "dryrun.json");
    path_in(state_path, sizeof(state_path), &ctx, "state.db");
    FILE *f = cfg_create(cfg_path);
    if (!f)
        return -1;
    const char *te = labenv_get(&tenv, "LAB_ENDPOINT"), *tak = labenv_get(&tenv, "LAB_ACCESS_KEY"),
               *tsk = labenv_get(&tenv, "LAB_SECRET_KEY"), *treg = labenv_get(&tenv, "LAB_REGION");
    fprintf(
        f,
        "{\n"
        "  \"source\": {\"endpoint\": \"%s\", \"access_key\": \"%s\", \"secret\": \"%s\",\n"
        "             \"zonegroup\": \"%s\", \"zone\": \"%s\"},\n"
        "  \"state\": {\"backend\": \"sqlite\", \"path\": \"%s\"},\n"
        "  \"connection\": {\"endpoint\": \"%s\", \"access_key\": \"%s\", \"secret\": \"%s\",\n"
        "                 \"region\": \"%s\"},\n"
        "  \"connections\": [{\"id\": \"second\", \"endpoint\": \"%s\", \"access_key\": \"%s\",\n"
        "                    \"secret\": \"%s\", \"region\": \"%s\"}],\n"
        "  \"acl_profiles\": [{\"id\": \"public\", \"acls\": [{\"type\": \"uri\",\n"
        "      \"source_id\": \"" ALL_USERS "\", \"dest_id\": \"" ALL_USERS "\"}]}],\n"
        "  \"profiles\": [\n"
        "    {\"source_bucket\": \"*\", \"exclude\": true},\n"
        "    {\"source_bucket\": \"%s\", \"target_path\": \"%s/${bucket}\",\n"
        "     \"storage_class\": \"STANDARD\", \"acls_id\": \"public\"},\n"
        "    {\"source_bucket\": \"%s\", \"connection_id\": \"second\",\n"
        "     \"target_path\": \"%s/copy\", \"acl_mode\": \"none\"},\n"
        "    {\"source_bucket\": \"%s\", \"exclude\": true}\n"
        "  ],\n"
        "  \"s3\": {\"multipart_sync_threshold\": \"8M\", \"multipart_min_part_size\": \"5M\"}\n"
        "}\n",
        labenv_get(&senv, "LAB_ENDPOINT"), labenv_get(&senv, "LAB_SYSTEM_ACCESS_KEY"),
        labenv_get(&senv, "LAB_SYSTEM_SECRET_KEY"), labenv_get(&senv, "LAB_ZONEGROUP"),
        labenv_get(&senv, "LAB_EXPORTER_ZONE"), state_path, te, tak, tsk, treg, te, tak, tsk, treg,
        bucket_a, tbucket_a, bucket_b, tbucket_b, bucket_c);
    return fclose(f) == 0 ? 0 : -1;
}

/* ================================================================ tests */

static struct plans first; /* the first dry-run's plans, for later tests */

static void test_dryrun__plans_before_first_sync_and_writes_nothing(void)
{
    CHECK_INT(write_config(), 0);
    CHECK_INT(s3_create_bucket(src, bucket_a, NULL), 0);
    CHECK_INT(s3_create_bucket(src, bucket_b, NULL), 0);
    CHECK_INT(put_versioning(bucket_b), 0);
    CHECK_INT(s3_create_bucket(src, bucket_c, NULL), 0);
    int failed = 0;
    for (size_t i = 0; i < NOBJS; i++) {
        char *body = gen_body(objs[i].key, 0, objs[i].size);
        failed += put_object(objs[i].bucket, objs[i].key, body, objs[i].size, objs[i].hdrs) < 0;
        free(body);
    }
    CHECK_INT(failed, 0);

    char *before = target_snapshot();
    CHECK(access(state_path, F_OK) != 0);
    CHECK_INT(dryrun_json(&first, "dryrun-1"), 0);
    char *after = target_snapshot();
    CHECK_STR(after, before);
    CHECK(access(state_path, F_OK) != 0 && "no state file created by a dry-run");
    free(before);
    free(after);

    CHECK_INT(first.bad, 0);
    CHECK(first.all >= NOBJS);
    CHECK_INT(json_array_size(first.lines), NOBJS);
    const char *te = labenv_get(&tenv, "LAB_ENDPOINT");
    struct part_plan pp;
    CHECK_INT(part_plan(&pp, BIG_SIZE, 5u << 20, PARTS_AWS_MIN), 0);
    for (size_t i = 0; i < NOBJS; i++) {
        const struct srcobj *o = &objs[i];
        json_t *j = plan_find(&first, o->bucket, o->key);
        if (!j) {
            printf("# no plan for %s/%s\n", o->bucket, o->key);
            CHECK(j != NULL);
            continue;
        }
        char tb[128], tk[256];
        expected_target(o, tb, sizeof(tb), tk, sizeof(tk));
        CHECK_INT(json_integer_value(json_object_get(j, "size")), o->size);
        if (o->bucket == bucket_c) {
            CHECK_STR(jstr(j, "action"), "exclude");
            CHECK(json_is_null(json_object_get(j, "target_bucket")));
            CHECK(json_is_null(json_object_get(j, "target_key")));
            CHECK(json_array_size(json_object_get(j, "grants")) == 0);
            continue;
        }
        CHECK_STR(jstr(j, "action"), "create");
        CHECK_STR(jstr(j, "target_endpoint"), te);
        CHECK_STR(jstr(j, "target_bucket"), tb);
        CHECK_STR(jstr(j, "target_key"), tk);
        json_t *grants = json_object_get(j, "grants");
        if (o->bucket == bucket_a) {
            CHECK_STR(jstr(j, "storage_class"), "STANDARD");
            CHECK(json_is_null(json_object_get(j, "version_id")));
        } else {
            CHECK(json_is_null(json_object_get(j, "storage_class")));
            CHECK(json_is_string(json_object_get(j, "version_id")) &&
                  "a versioned bucket's object has its version id");
            /* acl_mode none: not even the public-read object gets a grant */
            CHECK_INT(json_array_size(grants), 0);
        }
        if (o->bucket == bucket_a && strcmp(o->key, "pub") == 0) {
            json_t *g = json_array_get(grants, 0);
            CHECK_INT(json_array_size(grants), 1);
            CHECK_STR(jstr(g, "header"), "x-amz-grant-read");
            CHECK_STR(jstr(g, "value"), "uri=\"" ALL_USERS "\"");
        } else if (o->bucket == bucket_a) {
            CHECK_INT(json_array_size(grants), 0); /* private: the owner's grant only */
        }
        json_t *parts = json_object_get(j, "parts");
        if (o->size >= (8u << 20)) {
            CHECK_INT(json_integer_value(json_object_get(parts, "count")), pp.nparts);
            CHECK_INT(json_integer_value(json_object_get(parts, "size")), pp.part_size);
        } else {
            CHECK_INT(json_integer_value(parts), 1);
        }
    }

    /* the table, one bucket */
    char out[512], err[512];
    const char *args[] = {bin, "dry-run", "-c", cfg_path, "--bucket", bucket_a, NULL};
    CHECK_INT(run_bin(args, "dryrun-table", out, err, sizeof(out)), 0);
    char *table = slurp(out);
    CHECK(strstr(table, "ACTION") && strstr(table, "create") && strstr(table, "summary"));
    CHECK(strstr(table, "create 5,") != NULL);
    CHECK(strstr(table, "${sid}") == NULL || strstr(table, "note:") != NULL);
    CHECK(strstr(table, bucket_b) == NULL && "--bucket lists only that bucket");
    if (!strstr(table, "create 5,"))
        print_head(out, 30);
    free(table);
    CHECK(access(state_path, F_OK) != 0);

    /* an unknown bucket: exit 1, one line */
    char nob[96];
    snprintf(nob, sizeof(nob), "%s-nosuch", run_id);
    const char *args2[] = {bin, "dry-run", "-c", cfg_path, "--bucket", nob, NULL};
    CHECK_INT(run_bin(args2, "dryrun-nosuch", out, err, sizeof(out)), 1);
    char *e = slurp(err);
    CHECK(strstr(e, "no bucket") != NULL);
    free(e);
}

static void test_dryrun__sync_does_what_was_planned(void)
{
    CHECK_INT(sync_once_tag("sync-1"), 0);
    synced = true;
    size_t na = 0, nb = 0;
    char **ka = target_keys(tbucket_a, &na);
    char **kb = target_keys(tbucket_b, &nb);
    size_t planned_a = 0, planned_b = 0;
    size_t i;
    json_t *j;
    json_array_foreach(first.lines, i, j) {
        const char *action = jstr(j, "action");
        const char *b = jstr(j, "bucket"), *k = jstr(j, "key");
        if (strcmp(action, "exclude") == 0)
            continue;
        CHECK_STR(action, "create");
        const char *tb = jstr(j, "target_bucket"), *tk = jstr(j, "target_key");
        if (strcmp(tb, tbucket_a) == 0)
            planned_a++;
        else if (strcmp(tb, tbucket_b) == 0)
            planned_b++;
        /* the object the plan named is there, and it is the source's */
        int herr = 0;
        char *setag = head_header(src, b, k, "etag", NULL);
        char *recorded = head_header(tgt, tb, tk, "x-amz-meta-rgwx-source-etag", &herr);
        char *len = head_header(tgt, tb, tk, "content-length", NULL);
        if (herr != 0)
            printf("# %s/%s: HEAD %s/%s: %d\n", b, k, tb, tk, herr);
        CHECK_INT(herr, 0);
        CHECK_STR(recorded, setag);
        char want[32];
        snprintf(want, sizeof(want), "%lld",
                 (long long) json_integer_value(json_object_get(j, "size")));
        CHECK_STR(len, want);
        free(setag);
        free(recorded);
        free(len);
    }
    /* and nothing else: exactly the planned keys */
    CHECK_INT(na, planned_a);
    CHECK_INT(nb, planned_b);
    CHECK_INT(planned_a, 5);
    CHECK_INT(planned_b, 2);
    /* the excluded bucket's objects are nowhere */
    for (size_t k = 0; k < na; k++)
        CHECK(strstr(ka[k], bucket_c) == NULL && strcmp(ka[k], "c1") && strcmp(ka[k], "c2"));
    for (size_t k = 0; k < nb; k++)
        CHECK(strstr(kb[k], bucket_c) == NULL && strcmp(kb[k], "copy/c1") &&
              strcmp(kb[k], "copy/c2"));
    char *names = list_buckets(tgt);
    CHECK(strstr(names, bucket_c) == NULL && "no target bucket for the excluded one");
    char *all = target_snapshot();
    char c1[128];
    snprintf(c1, sizeof(c1), "%s/c1 ", bucket_c);
    CHECK(strstr(all, c1) == NULL);
    free(all);
    free(names);
    keys_free(ka);
    keys_free(kb);
}

static void test_dryrun__second_run_skips_and_writes_nothing(void)
{
    CHECK(synced);
    char db0[40], wal0[40], db1[40], wal1[40];
    json_t *st0 = status_state("status-0");
    state_md5(db0, wal0);
    char *before = target_snapshot();
    struct plans p;
    CHECK_INT(dryrun_json(&p, "dryrun-2"), 0);
    char *after = target_snapshot();
    state_md5(db1, wal1);
    json_t *st1 = status_state("status-1");
    CHECK_STR(after, before);
    CHECK_STR(db1, db0);
    CHECK_STR(wal1, wal0);
    CHECK(st0 && st1 && json_equal(st0, st1));
    CHECK(strcmp(db0, "absent") != 0);
    CHECK(st0 && json_is_string(json_object_get(st0, "sid")));
    CHECK_INT(json_array_size(p.lines), NOBJS);
    size_t i;
    json_t *j;
    int not_skip = 0;
    json_array_foreach(p.lines, i, j) {
        bool excl = strcmp(jstr(j, "bucket"), bucket_c) == 0;
        const char *want = excl ? "exclude" : "skip";
        if (strcmp(jstr(j, "action"), want) != 0) {
            printf("# %s/%s: %s, want %s\n", jstr(j, "bucket"), jstr(j, "key"), jstr(j, "action"),
                   want);
            not_skip++;
        }
        if (!excl) /* the same target as planned the first time */
            CHECK_STR(jstr(j, "target_key"),
                      jstr(plan_find(&first, jstr(j, "bucket"), jstr(j, "key")), "target_key"));
    }
    CHECK_INT(not_skip, 0);
    json_decref(st0);
    json_decref(st1);
    free(before);
    free(after);
    plans_free(&p);
}

static void test_dryrun__grants_storage_class_tags_on_the_target(void)
{
    CHECK(synced);
    char tk[256];
    /* the mapped grant: uri AllUsers READ */
    snprintf(tk, sizeof(tk), "%s/pub", bucket_a);
    struct xml_acl acl = {0};
    CHECK_INT(s3_get_acl(tgt, tbucket_a, tk, &acl), 0);
    bool all_read = false;
    for (size_t i = 0; i < acl.ngrants; i++)
        if (acl.grants[i].type == XML_GRANTEE_URI && acl.grants[i].id &&
            strcmp(acl.grants[i].id, ALL_USERS) == 0 && acl.grants[i].permission &&
            strcmp(acl.grants[i].permission, "READ") == 0)
            all_read = true;
    CHECK(all_read && "AllUsers READ on the target");
    xml_acl_finish(&acl);

    /* acl_mode none: the public-read source object has the owner's grant only */
    memset(&acl, 0, sizeof(acl));
    CHECK_INT(s3_get_acl(tgt, tbucket_b, "copy/x2", &acl), 0);
    CHECK_INT(acl.ngrants, 1);
    if (acl.ngrants >= 1) {
        CHECK(acl.grants[0].type == XML_GRANTEE_ID);
        CHECK_STR(acl.grants[0].id, acl.owner_id);
        CHECK_STR(acl.grants[0].permission, "FULL_CONTROL");
    }
    xml_acl_finish(&acl);

    /* a private object: no grant beyond the owner's either */
    memset(&acl, 0, sizeof(acl));
    snprintf(tk, sizeof(tk), "%s/k1", bucket_a);
    CHECK_INT(s3_get_acl(tgt, tbucket_a, tk, &acl), 0);
    CHECK_INT(acl.ngrants, 1);
    xml_acl_finish(&acl);

    /* storage class: the profile's on profile A's objects */
    struct xml_list_objects l = {0};
    CHECK_INT(s3_list_objects(tgt, tbucket_a, NULL, NULL, 1000, &l), 0);
    CHECK_INT(l.nobjects, 5);
    for (size_t i = 0; i < l.nobjects; i++)
        CHECK_STR(l.objects[i].storage_class, "STANDARD");
    xml_list_objects_finish(&l);
    char *sc = head_header(tgt, tbucket_a, tk, "x-amz-storage-class", NULL);
    CHECK(!sc || strcmp(sc, "STANDARD") == 0);
    free(sc);

    /* metadata */
    char *color = head_header(tgt, tbucket_a, tk, "x-amz-meta-color", NULL);
    CHECK_STR(color, "blue");
    free(color);

    /* tags */
    snprintf(tk, sizeof(tk), "%s/tagged", bucket_a);
    struct xml_tagging tags = {0};
    CHECK_INT(s3_get_tagging(tgt, tbucket_a, tk, &tags), 0);
    CHECK_INT(tags.ntags, 2);
    int found = 0;
    for (size_t i = 0; i < tags.ntags; i++) {
        if (strcmp(tags.tags[i].key, "env") == 0 && strcmp(tags.tags[i].value, "test") == 0)
            found++;
        if (strcmp(tags.tags[i].key, "team") == 0 && strcmp(tags.tags[i].value, "dry run") == 0)
            found++;
    }
    CHECK_INT(found, 2);
    xml_tagging_finish(&tags);
}

static void test_dryrun__update_and_delete_then_skip(void)
{
    CHECK(synced);
    char *body = gen_body("k1-changed", 0, 1500);
    CHECK_INT(put_object(bucket_a, "k1", body, 1500, hdr_meta), 0);
    free(body);
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_delete_object_prepare(&call, bucket_b, "x1");
    if (r == 0)
        r = s3_call_run(src, &call);
    s3_call_finish(&call);
    CHECK_INT(r, 0); /* versioned: a delete marker */

    char *before = target_snapshot();
    struct plans p;
    CHECK_INT(dryrun_json(&p, "dryrun-3"), 0);
    char *after = target_snapshot();
    CHECK_STR(after, before);
    free(before);
    free(after);
    json_t *k1 = plan_find(&p, bucket_a, "k1");
    json_t *x1 = plan_find(&p, bucket_b, "x1");
    CHECK(k1 && x1);
    CHECK_STR(jstr(k1, "action"), "update");
    CHECK_INT(json_integer_value(json_object_get(k1, "size")), 1500);
    CHECK_STR(jstr(x1, "action"), "delete");
    CHECK_STR(jstr(x1, "target_key"), "copy/x1");
    CHECK(json_is_null(json_object_get(x1, "parts")) && "a delete marker sends no part");
    CHECK(json_is_string(json_object_get(x1, "version_id")));
    size_t i;
    json_t *j;
    int others = 0;
    json_array_foreach(p.lines, i, j) {
        if (j == k1 || j == x1)
            continue;
        const char *want = strcmp(jstr(j, "bucket"), bucket_c) == 0 ? "exclude" : "skip";
        others += strcmp(jstr(j, "action"), want) != 0;
    }
    CHECK_INT(others, 0);
    plans_free(&p);

    CHECK_INT(sync_once_tag("sync-2"), 0);
    char tk[256];
    snprintf(tk, sizeof(tk), "%s/k1", bucket_a);
    char *setag = head_header(src, bucket_a, "k1", "etag", NULL);
    char *recorded = head_header(tgt, tbucket_a, tk, "x-amz-meta-rgwx-source-etag", NULL);
    CHECK_STR(recorded, setag);
    free(setag);
    free(recorded);
    int herr = 0;
    free(head_header(tgt, tbucket_b, "copy/x1", "etag", &herr));
    CHECK_INT(herr, -ENOENT);

    CHECK_INT(dryrun_json(&p, "dryrun-4"), 0);
    int not_skip = 0;
    json_array_foreach(p.lines, i, j) {
        const char *want = strcmp(jstr(j, "bucket"), bucket_c) == 0 ? "exclude" : "skip";
        if (strcmp(jstr(j, "action"), want) != 0) {
            printf("# %s/%s: %s, want %s\n", jstr(j, "bucket"), jstr(j, "key"), jstr(j, "action"),
                   want);
            not_skip++;
        }
    }
    CHECK_INT(not_skip, 0);
    CHECK(plan_find(&p, bucket_b, "x1") != NULL && "a latest delete marker is planned (skip)");
    plans_free(&p);
}

int main(void)
{
    srandom((unsigned) time(NULL) ^ (unsigned) getpid());
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    bool ok = labenv_load(&senv, "LAB_SOURCE_ENV") == 0;
    ok = labenv_load(&tenv, "LAB_TARGET_ENV") == 0 && ok;
    CHECK(ok && "lab env files available");
    bin = getenv("RGW2CLOUD_BIN");
    ctx = (struct harness){.bin = bin, .workdir = workdir};
    CHECK(bin && access(bin, X_OK) == 0 && "RGW2CLOUD_BIN is the rgw2cloud binary");
    const char *need_s[] = {"LAB_ENDPOINT",
                            "LAB_SYSTEM_ACCESS_KEY",
                            "LAB_SYSTEM_SECRET_KEY",
                            "LAB_USER_ACCESS_KEY",
                            "LAB_USER_SECRET_KEY",
                            "LAB_ZONEGROUP",
                            "LAB_EXPORTER_ZONE",
                            "LAB_REGION",
                            NULL};
    const char *need_t[] = {"LAB_ENDPOINT", "LAB_ACCESS_KEY", "LAB_SECRET_KEY", "LAB_REGION", NULL};
    ok = ok && env_has_all(&senv, need_s, "source");
    ok = ok && env_has_all(&tenv, need_t, "target");
    CHECK(ok && "lab env complete");
    if (!ok || !bin || access(bin, X_OK) != 0)
        return t_done();
    snprintf(run_id, sizeof(run_id), "dr%lx%02lx", (unsigned long) time(NULL) & 0xffffffful,
             (unsigned long) (random() % 256));
    snprintf(bucket_a, sizeof(bucket_a), "%s-a", run_id);
    snprintf(bucket_b, sizeof(bucket_b), "%s-b", run_id);
    snprintf(bucket_c, sizeof(bucket_c), "%s-c", run_id);
    snprintf(tbucket_a, sizeof(tbucket_a), "%s-ta", run_id);
    snprintf(tbucket_b, sizeof(tbucket_b), "%s-tb", run_id);
    workdir_template(workdir, sizeof(workdir), "rgw2cloud-test-dryrun");
    CHECK(mkdtemp(workdir) != NULL);
    printf("# run %s, work dir %s, rgw2cloud %s\n", run_id, workdir, bin);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CHECK_INT(loop_new(&loop, NULL), 0);
    struct s3_endpoint sep, tep;
    lab_source_user(&sep, &senv);
    lab_target(&tep, &tenv);
    CHECK_INT(s3_client_new(&src, loop, &sep), 0);
    CHECK_INT(s3_client_new(&tgt, loop, &tep), 0);
    if (!src || !tgt)
        return t_done();

    double t0 = now_s();
    RUN(test_dryrun__plans_before_first_sync_and_writes_nothing);
    RUN(test_dryrun__sync_does_what_was_planned);
    RUN(test_dryrun__second_run_skips_and_writes_nothing);
    RUN(test_dryrun__grants_storage_class_tags_on_the_target);
    RUN(test_dryrun__update_and_delete_then_skip);
    printf("# total %.0f s\n", now_s() - t0);
    plans_free(&first);

    s3_client_free(src);
    s3_client_free(tgt);
    loop_free(loop);
    curl_global_cleanup();
    /* config (with secrets), state db, outputs: kept only for a failure */
    if (t_failed == 0)
        workdir_remove(workdir);
    else
        printf("# config, state db and outputs kept in %s\n", workdir);
    return t_done();
}
