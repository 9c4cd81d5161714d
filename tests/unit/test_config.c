/* config_load(): the examples load clean, every broken config fails with the
 * line its .expect names, secrets never show, and the RGW rules (defaults,
 * inheritance from "default", profile matching, part size floor) hold. */
#include "testlib.h"

#include "src/config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Writes dir/name with mode; returns the path (static buffer rotated). */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    (void) snprintf(path, 512, "%s/%s", tmpdir, name);
    (void) unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return path;
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t) len)
        printf("# short write to %s\n", path);
    (void) fchmod(fd, mode); /* past the umask */
    (void) close(fd);
    return path;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return strdup(buf);
}

static bool any_line_contains(const struct config_problems *p, const char *needle)
{
    for (size_t i = 0; i < p->n; i++)
        if (strstr(p->lines[i], needle))
            return true;
    for (size_t i = 0; i < p->nwarnings; i++)
        if (strstr(p->warnings[i], needle))
            return true;
    return false;
}

static void dump(const struct config_problems *p)
{
    for (size_t i = 0; i < p->n; i++)
        printf("#   E %s\n", p->lines[i]);
    for (size_t i = 0; i < p->nwarnings; i++)
        printf("#   W %s\n", p->warnings[i]);
}

/* Loads text from a temp file with mode 0600. */
static int load_text(struct config **cfg, struct config_problems *pb, const char *text)
{
    const char *path = write_file("cfg.json", text, 0600);
    *cfg = NULL;
    int r = config_load(cfg, pb, path);
    if (r != 0)
        dump(pb);
    return r;
}

#define TARGET                                                                                     \
    "\"connection\": {\"endpoint\": \"http://127.0.0.1:18100\", \"access_key\": \"AK\", "          \
    "\"secret\": \"SECRET-VALUE-T\"}"

static void test_config__examples_load_clean(void)
{
    char dirpath[512];
    (void) snprintf(dirpath, sizeof(dirpath), "%s/etc", env_or("TEST_SRCDIR", "."));
    DIR *d = opendir(dirpath);
    CHECK(d != NULL);
    if (!d)
        return;
    int seen = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char path[1024];
        (void) snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
        struct config *cfg = NULL;
        struct config_problems pb;
        int r = config_load(&cfg, &pb, path);
        printf("# %s: %d\n", de->d_name, r);
        dump(&pb);
        CHECK_INT(r, 0);
        CHECK_INT(pb.n, 0);
        CHECK(cfg != NULL);
        CHECK(!any_line_contains(&pb, "PLACEHOLDER"));
        config_problems_finish(&pb);
        config_free(cfg);
        seen++;
    }
    closedir(d);
    CHECK(seen >= 5);
}

static void test_config__bad_configs_fail_with_their_line(void)
{
    char dirpath[512];
    (void) snprintf(dirpath, sizeof(dirpath), "%s/config", env_or("TEST_DATA", "tests/data"));
    DIR *d = opendir(dirpath);
    CHECK(d != NULL);
    if (!d)
        return;
    int seen = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "bad-", 4) != 0 || len < 6 ||
            strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char path[1024], expect_path[1024], prefix[1100];
        (void) snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
        (void) snprintf(expect_path, sizeof(expect_path), "%s/%.*s.expect", dirpath,
                        (int) (len - 5), de->d_name);
        char *expect = read_text(expect_path);
        printf("# %s: expect %s\n", de->d_name, expect ? expect : "(no .expect file)");
        CHECK(expect != NULL && expect[0]);

        struct config *cfg = NULL;
        struct config_problems pb;
        int r = config_load(&cfg, &pb, path);
        dump(&pb);
        CHECK_INT(r, -EINVAL);
        CHECK(cfg == NULL);
        CHECK(pb.n >= 1);
        CHECK(expect && any_line_contains(&pb, expect));
        /* every line starts with the file; secrets in these files all hold
         * SECRET-VALUE and must never be echoed */
        (void) snprintf(prefix, sizeof(prefix), "%s:", path);
        bool prefixed = true, clean = true, one_line = true;
        for (size_t i = 0; i < pb.n; i++) {
            prefixed &= strncmp(pb.lines[i], prefix, strlen(prefix)) == 0;
            clean &= strstr(pb.lines[i], "SECRET-VALUE") == NULL;
            one_line &= strchr(pb.lines[i], '\n') == NULL;
        }
        CHECK(prefixed);
        CHECK(clean);
        CHECK(one_line);
        config_problems_finish(&pb);
        CHECK(pb.n == 0 && pb.lines == NULL);
        free(expect);
        seen++;
    }
    closedir(d);
    CHECK(seen >= 12);
}

static void test_config__unreadable_file_is_one_line(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    char path[256];
    (void) snprintf(path, sizeof(path), "%s/no-such.json", tmpdir);
    CHECK_INT(config_load(&cfg, &pb, path), -ENOENT);
    CHECK_INT(pb.n, 1);
    CHECK(pb.n == 1 && strncmp(pb.lines[0], path, strlen(path)) == 0);
    CHECK(cfg == NULL);
    config_problems_finish(&pb);
    config_problems_finish(NULL);
    config_free(NULL);
}

static void test_config__secrets_never_in_problem_lines(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    /* a secret in every place a value could be echoed from */
    const char *text =
        "{ \"source\": {\"endpoint\": \"http://h:1\", \"access_key\": \"SECRET-VALUE-AK\", "
        "\"secret\": \"SECRET-VALUE-1\", \"secret_file\": \"x\", \"zonegroup\": \"z\"},"
        "  \"connection\": {\"endpoint\": \"http://h:2\", \"access_key\": \"a\", "
        "\"secret\": \"SECRET-VALUE-2\\u0001\", \"secrte\": \"SECRET-VALUE-3\"},"
        "  \"connections\": [{\"id\": \"c\", \"endpoint\": \"http://h:3\", \"secret\": "
        "\"SECRET-VALUE-4\"}],"
        "  \"profiles\": [{\"source_bucket\": \"b\", \"connection_id\": \"c\", "
        "\"connection\": {\"secret\": \"SECRET-VALUE-5\"}}] }";
    CHECK_INT(load_text(&cfg, &pb, text), -EINVAL);
    CHECK(pb.n >= 5);
    CHECK(!any_line_contains(&pb, "SECRET-VALUE"));
    config_problems_finish(&pb);
}

static void test_config__parse_size(void)
{
    uint64_t v = 7;
    CHECK_INT(config_parse_size(&v, "0"), 0);
    CHECK_INT(v, 0);
    CHECK_INT(config_parse_size(&v, "33554432"), 0);
    CHECK_INT(v, 33554432);
    CHECK_INT(config_parse_size(&v, "32M"), 0);
    CHECK_INT(v, 32 << 20);
    CHECK_INT(config_parse_size(&v, "32MiB"), 0);
    CHECK_INT(v, 32 << 20);
    CHECK_INT(config_parse_size(&v, "32MB"), 0);
    CHECK_INT(v, 32 << 20);
    CHECK_INT(config_parse_size(&v, "1G"), 0);
    CHECK_INT(v, 1 << 30);
    CHECK_INT(config_parse_size(&v, "512k"), 0);
    CHECK_INT(v, 512 << 10);
    CHECK_INT(config_parse_size(&v, "2T"), 0);
    CHECK(v == (UINT64_C(2) << 40));
    CHECK_INT(config_parse_size(&v, "100B"), 0);
    CHECK_INT(v, 100);
    CHECK_INT(config_parse_size(&v, "18446744073709551615"), 0);
    CHECK(v == UINT64_MAX);

    v = 7;
    static const char *const junk[] = {"",    "M",     "-1", "+1",   " 1",  "1 M", "1.5G", "1Mi",
                                       "1Mb", "1MiBx", "1X", "0x10", "1e6", "1M ", "1KK",  NULL};
    for (size_t i = 0; junk[i]; i++) {
        int r = config_parse_size(&v, junk[i]);
        if (r != -EINVAL)
            printf("# \"%s\" -> %d\n", junk[i], r);
        CHECK_INT(r, -EINVAL);
    }
    CHECK_INT(config_parse_size(&v, NULL), -EINVAL);
    CHECK_INT(config_parse_size(&v, "18446744073709551616"), -ERANGE);
    CHECK_INT(config_parse_size(&v, "16777216T"), -ERANGE);
    CHECK_INT(config_parse_size(&v, "16777215T"), 0);
    CHECK_INT(v == (UINT64_C(16777215) << 40), 1);
    v = 7;
    CHECK_INT(config_parse_size(&v, "1.5G"), -EINVAL);
    CHECK_INT(v, 7); /* untouched on error */
}

static void test_config__sizes_as_numbers_or_strings(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    CHECK_INT(load_text(&cfg, &pb,
                        "{" TARGET ", \"s3\": {\"multipart_sync_threshold\": \"16777216\", "
                        "\"multipart_min_part_size\": 8388608},"
                        " \"sync\": {\"max_inflight_bytes\": \"256MiB\", "
                        "\"bandwidth_limit\": \"10M\", \"max_inflight_parts\": 40}}"),
              0);
    if (cfg) {
        CHECK_INT(cfg->s3.multipart_sync_threshold, 16 << 20);
        CHECK_INT(cfg->s3.multipart_min_part_size, 8 << 20);
        CHECK_INT(cfg->sync.max_inflight_bytes, 256 << 20);
        CHECK_INT(cfg->sync.bandwidth_limit, 10 << 20);
        CHECK_INT(cfg->sync.max_inflight_parts, 40);
    }
    config_free(cfg);
    config_problems_finish(&pb);
}

static void test_config__defaults(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    CHECK_INT(load_text(&cfg, &pb, "{" TARGET "}"), 0);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(pb.nwarnings, 0);
    CHECK(!cfg->source.present);
    CHECK(cfg->source.endpoint == NULL);
    CHECK(cfg->listen == NULL);
    CHECK_INT(cfg->state.backend, CFG_STATE_SQLITE);
    CHECK_STR(cfg->state.path, "/var/lib/rgw2cloud/state.db");
    CHECK(cfg->state.pool == NULL);
    CHECK_INT(cfg->sync.poll_interval, 5);
    CHECK_INT(cfg->sync.concurrency, 32);
    CHECK_INT(cfg->sync.part_concurrency, 8);
    CHECK_INT(cfg->sync.max_inflight_bytes, 1 << 30);
    CHECK_INT(cfg->sync.max_inflight_parts, 16);
    CHECK_INT(cfg->sync.bandwidth_limit, 0);
    CHECK_INT(cfg->sync.reconcile_interval, 0);
    CHECK_INT(cfg->s3.multipart_sync_threshold, 32 << 20);
    CHECK_INT(cfg->s3.multipart_min_part_size, 32 << 20);
    CHECK(cfg->root.conn != NULL);
    if (cfg->root.conn) {
        CHECK_STR(cfg->root.conn->endpoint, "http://127.0.0.1:18100");
        CHECK_STR(cfg->root.conn->secret, "SECRET-VALUE-T");
        CHECK(!cfg->root.conn->virtual_host); /* RGW's default: path */
        CHECK_INT(cfg->root.conn->provider, CFG_PROVIDER_GENERIC);
        CHECK(cfg->root.conn->region == NULL);
        CHECK(cfg->root.conn->id == NULL);
    }
    CHECK(cfg->root.source_bucket == NULL);
    CHECK(cfg->root.acls == NULL);
    CHECK_STR(cfg->root.target_path, "rgw-${zonegroup}-${sid}/${bucket}");
    CHECK(cfg->root.storage_class == NULL);
    CHECK_INT(cfg->root.acl_mode, CFG_ACL_MODE_MAP);
    CHECK(!cfg->root.exclude);
    CHECK_INT(cfg->nprofiles, 0);
    CHECK(!cfg->secrets_readable_by_others); /* written 0600 */
    CHECK(strstr(cfg->path, "cfg.json") != NULL);
    config_free(cfg);
    config_problems_finish(&pb);

    /* rados defaults; cloud providers default to virtual host style */
    CHECK_INT(load_text(&cfg, &pb,
                        "{\"state\": {\"backend\": \"rados\"}, \"listen\": \"[::1]:8090\","
                        " \"connection\": {\"endpoint\": \"https://s3.eu-west-1.amazonaws.com\","
                        " \"access_key\": \"AK\", \"secret\": \"S\", \"region\": \"eu-west-1\","
                        " \"provider\": \"aws\"}}"),
              0);
    if (cfg) {
        CHECK_INT(cfg->state.backend, CFG_STATE_RADOS);
        CHECK(cfg->state.path == NULL);
        CHECK_STR(cfg->state.pool, "rgw2cloud");
        CHECK_STR(cfg->state.namespace_, "");
        CHECK_STR(cfg->state.ceph_conf, "/etc/ceph/ceph.conf");
        CHECK_STR(cfg->state.client, "client.admin");
        CHECK_STR(cfg->listen, "[::1]:8090");
        CHECK(cfg->root.conn && cfg->root.conn->virtual_host);
        CHECK(cfg->root.conn && cfg->root.conn->provider == CFG_PROVIDER_AWS);
    }
    config_free(cfg);
    config_problems_finish(&pb);
}

static void test_config__find_profile(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    CHECK_INT(load_text(&cfg, &pb,
                        "{" TARGET ", \"profiles\": ["
                        " {\"source_bucket\": \"logs*\", \"target_path\": \"p-logs/${bucket}\"},"
                        " {\"source_bucket\": \"logs-audit*\", \"target_path\": \"p-audit/x\"},"
                        " {\"source_bucket\": \"logs-audit-2024\", \"target_path\": \"p-exact/x\"},"
                        " {\"source_bucket\": \"logs-audit-2024*\", \"target_path\": \"p-ex/x\"},"
                        " {\"source_bucket\": \"t1/data\", \"target_path\": \"p-tenant/x\"},"
                        " {\"source_bucket\": \"tmp*\", \"exclude\": true}]}"),
              0);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->nprofiles, 6);
    const struct cfg_profile *p;
    p = config_find_profile(cfg, "logs-audit-2024");
    CHECK_STR(p->target_path, "p-exact/x"); /* exact beats a prefix as long as itself */
    CHECK(!p->prefix);
    p = config_find_profile(cfg, "logs-audit-2024-jan");
    CHECK_STR(p->target_path, "p-ex/x"); /* longest prefix wins */
    p = config_find_profile(cfg, "logs-audit-x");
    CHECK_STR(p->target_path, "p-audit/x");
    p = config_find_profile(cfg, "logs");
    CHECK_STR(p->target_path, "p-logs/${bucket}"); /* a prefix matches itself */
    CHECK(p->prefix);
    CHECK_STR(p->source_bucket, "logs");
    p = config_find_profile(cfg, "log");
    CHECK(p == &cfg->root);
    p = config_find_profile(cfg, "t1/data");
    CHECK_STR(p->target_path, "p-tenant/x");
    CHECK(config_find_profile(cfg, "data") == &cfg->root); /* tenant-qualified only */
    p = config_find_profile(cfg, "tmp-123");
    CHECK(p->exclude);
    CHECK(p->conn != NULL); /* never NULL, even excluded */
    CHECK(config_find_profile(cfg, "other") == &cfg->root);
    CHECK(config_find_profile(cfg, "") == &cfg->root);
    config_free(cfg);
    config_problems_finish(&pb);
}

static void test_config__inherits_from_default(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    CHECK_INT(
        load_text(&cfg, &pb,
                  "{ \"default\": {"
                  "    \"connection\": {\"endpoint\": \"https://s3.eu-west-1.amazonaws.com\","
                  "      \"access_key\": \"DAK\", \"secret\": \"DSECRET\", "
                  "      \"host_style\": \"virtual\", \"region\": \"eu-west-1\","
                  "      \"provider\": \"aws\"},"
                  "    \"acls\": [{\"source_id\": \"alice\", \"dest_id\": \"bob\"}],"
                  "    \"target_path\": \"d-bucket/${bucket}\","
                  "    \"storage_class\": \"STANDARD_IA\"},"
                  "  \"acl_mode\": \"none\", \"storage_class\": \"GLACIER\","
                  "  \"connections\": [{\"id\": \"keys-only\", \"access_key\": \"NAK\","
                  "      \"secret\": \"NSECRET\"},"
                  "    {\"id\": \"other\", \"endpoint\": \"http://minio:9000\"}],"
                  "  \"profiles\": ["
                  "    {\"source_bucket\": \"a\", \"connection\": {\"host_style\": \"path\"}},"
                  "    {\"source_bucket\": \"b\", \"connection_id\": \"keys-only\","
                  "     \"acl_mode\": \"map\", \"storage_class\": \"STANDARD\"},"
                  "    {\"source_bucket\": \"c\", \"connection_id\": \"other\","
                  "     \"target_path\": \"c-bucket\"},"
                  "    {\"source_bucket\": \"d\"}]}"),
        0);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    dump(&pb);
    CHECK_INT(pb.nwarnings, 0);
    const struct cfg_profile *root = &cfg->root;
    CHECK(root->conn && root->conn->virtual_host);
    CHECK_STR(root->target_path, "d-bucket/${bucket}");
    CHECK(root->acls && root->acls->nacls == 1);
    if (root->acls && root->acls->nacls == 1) {
        CHECK_INT(root->acls->acls[0].type, CFG_ACL_ID); /* RGW's default type */
        CHECK_STR(root->acls->acls[0].source_id, "alice");
    }
    CHECK_STR(root->storage_class, "GLACIER"); /* the root's own beats default's */
    CHECK_INT(root->acl_mode, CFG_ACL_MODE_NONE);

    /* a: inline connection takes endpoint and keys, keeps its own host style;
     * region and provider come along with the endpoint */
    const struct cfg_profile *a = config_find_profile(cfg, "a");
    CHECK_STR(a->source_bucket, "a");
    CHECK(a->conn && a->conn != root->conn);
    if (a->conn) {
        CHECK_STR(a->conn->endpoint, "https://s3.eu-west-1.amazonaws.com");
        CHECK_STR(a->conn->access_key, "DAK");
        CHECK_STR(a->conn->secret, "DSECRET");
        CHECK(!a->conn->virtual_host);
        CHECK_STR(a->conn->region, "eu-west-1");
        CHECK_INT(a->conn->provider, CFG_PROVIDER_AWS);
    }
    CHECK_STR(a->target_path, "d-bucket/${bucket}");
    CHECK(a->acls == root->acls);
    CHECK_STR(a->storage_class, "STANDARD_IA"); /* default's beats the top level's */
    CHECK_INT(a->acl_mode, CFG_ACL_MODE_NONE);

    /* b: a named connection with its own keys inherits the endpoint */
    const struct cfg_profile *b = config_find_profile(cfg, "b");
    CHECK(b->conn != NULL);
    if (b->conn) {
        CHECK_STR(b->conn->id, "keys-only");
        CHECK_STR(b->conn->endpoint, "https://s3.eu-west-1.amazonaws.com");
        CHECK_STR(b->conn->access_key, "NAK");
        CHECK_STR(b->conn->secret, "NSECRET");
        CHECK(b->conn->virtual_host);
    }
    CHECK_STR(b->storage_class, "STANDARD");
    CHECK_INT(b->acl_mode, CFG_ACL_MODE_MAP);

    /* c: its own endpoint, so neither aws region nor provider is inherited;
     * host style and keys are (RGW) */
    const struct cfg_profile *c = config_find_profile(cfg, "c");
    CHECK(c->conn != NULL);
    if (c->conn) {
        CHECK_STR(c->conn->endpoint, "http://minio:9000");
        CHECK_INT(c->conn->provider, CFG_PROVIDER_GENERIC);
        CHECK(c->conn->region == NULL);
        CHECK(c->conn->virtual_host);
        CHECK_STR(c->conn->access_key, "DAK");
    }
    CHECK_STR(c->target_path, "c-bucket");

    /* d: nothing of its own: all from default */
    const struct cfg_profile *d = config_find_profile(cfg, "d");
    CHECK(d->conn == root->conn);
    CHECK_STR(d->target_path, "d-bucket/${bucket}");
    CHECK(d->acls == root->acls);
    config_free(cfg);
    config_problems_finish(&pb);
}

/* RGW's rules: acls and target_path come from "default" only; the top-level
 * connection is our fallback for profiles (RGW would refuse). */
static void test_config__top_level_is_not_default_for_rgw_keys(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    CHECK_INT(load_text(&cfg, &pb,
                        "{" TARGET ", \"target_path\": \"top-bucket/${bucket}\","
                        " \"acls\": [{\"type\": \"email\", \"source_id\": \"a@x\", "
                        "\"dest_id\": \"b@y\"}],"
                        " \"profiles\": [{\"source_bucket\": \"p\"}]}"),
              0);
    if (cfg) {
        const struct cfg_profile *p = config_find_profile(cfg, "p");
        CHECK(p->conn == cfg->root.conn);
        CHECK_STR(p->target_path, "rgw-${zonegroup}-${sid}/${bucket}");
        CHECK(p->acls == NULL);
        CHECK_STR(cfg->root.target_path, "top-bucket/${bucket}");
        CHECK(cfg->root.acls && cfg->root.acls->acls[0].type == CFG_ACL_EMAIL);
        CHECK_INT(pb.nwarnings, 2); /* one each for target_path and acls */
        CHECK(any_line_contains(&pb, ".profiles[0]: no target_path here"));
    }
    config_free(cfg);
    config_problems_finish(&pb);
}

static void test_config__rgw_tier_config_loads_unchanged(void)
{
    char path[512];
    (void) snprintf(path, sizeof(path), "%s/etc/rgw-tier-config.json", env_or("TEST_SRCDIR", "."));
    struct config *cfg = NULL;
    struct config_problems pb;
    CHECK_INT(config_load(&cfg, &pb, path), 0);
    dump(&pb);
    if (cfg) {
        CHECK(!cfg->source.present);
        CHECK_INT(cfg->s3.multipart_sync_threshold, 33554432);
        CHECK_INT(cfg->s3.multipart_min_part_size, 33554432);
        CHECK(cfg->root.conn && cfg->root.conn->virtual_host);
        CHECK_STR(cfg->root.target_path, "rgwx-${zone}-${sid}/${owner}/${bucket}");
        const struct cfg_profile *p = config_find_profile(cfg, "backups-2024");
        CHECK(p->conn && p->conn->id && strcmp(p->conn->id, "backup") == 0);
        CHECK(p->conn && !p->conn->virtual_host);
        CHECK(p->acls && p->acls->id && strcmp(p->acls->id, "mapped") == 0);
        p = config_find_profile(cfg, "photos");
        CHECK(p->conn == cfg->root.conn);
        CHECK_STR(p->target_path, "photos-archive/${bucket}");
        CHECK(p->acls == cfg->root.acls);
    }
    config_free(cfg);
    config_problems_finish(&pb);
}

static void test_config__min_part_size_floor(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    CHECK_INT(load_text(&cfg, &pb, "{" TARGET ", \"s3\": {\"multipart_min_part_size\": \"1M\"}}"),
              0);
    if (cfg)
        CHECK_INT(cfg->s3.multipart_min_part_size, 5 << 20);
    CHECK_INT(pb.nwarnings, 1);
    CHECK(any_line_contains(&pb, ".s3.multipart_min_part_size: 1 MiB is below 5 MiB"));
    config_free(cfg);
    config_problems_finish(&pb);

    CHECK_INT(load_text(&cfg, &pb, "{" TARGET ", \"s3\": {\"multipart_min_part_size\": 5242880}}"),
              0);
    if (cfg)
        CHECK_INT(cfg->s3.multipart_min_part_size, 5 << 20);
    CHECK_INT(pb.nwarnings, 0);
    config_free(cfg);
    config_problems_finish(&pb);
}

static void test_config__secret_file(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    const char *key = write_file("target.key", "SECRET-VALUE-FROM-FILE\r\n", 0600);
    char text[1024];
    (void) snprintf(text, sizeof(text),
                    "{\"connection\": {\"endpoint\": \"http://h:1\", \"access_key\": \"AK\","
                    " \"secret_file\": \"%s\"}}",
                    key);
    CHECK_INT(load_text(&cfg, &pb, text), 0);
    if (cfg && cfg->root.conn)
        CHECK_STR(cfg->root.conn->secret, "SECRET-VALUE-FROM-FILE");
    CHECK_INT(pb.nwarnings, 0);
    CHECK(cfg && !cfg->secrets_readable_by_others); /* the secret is not in the file */
    config_free(cfg);
    config_problems_finish(&pb);

    /* relative to the config's directory; group-readable: a warning */
    (void) write_file("rel.key", "SECRET-VALUE-REL\n", 0640);
    CHECK_INT(load_text(&cfg, &pb,
                        "{\"connection\": {\"endpoint\": \"http://h:1\", \"access_key\": \"AK\","
                        " \"secret_file\": \"rel.key\"}}"),
              0);
    if (cfg && cfg->root.conn)
        CHECK_STR(cfg->root.conn->secret, "SECRET-VALUE-REL");
    CHECK_INT(pb.nwarnings, 1);
    CHECK(any_line_contains(&pb, "rel.key\" is readable by group or others"));
    CHECK(!any_line_contains(&pb, "SECRET-VALUE"));
    config_free(cfg);
    config_problems_finish(&pb);

    /* empty, two lines, unreadable: problems naming the file, no content */
    (void) write_file("empty.key", "\n", 0600);
    (void) write_file("two.key", "SECRET-VALUE-A\nSECRET-VALUE-B\n", 0600);
    (void) write_file("locked.key", "SECRET-VALUE-L\n", 0000);
    CHECK_INT(load_text(&cfg, &pb,
                        "{\"connection\": {\"endpoint\": \"http://h:1\", \"access_key\": \"AK\","
                        " \"secret_file\": \"empty.key\"},"
                        " \"connections\": [{\"id\": \"x\", \"endpoint\": \"http://h:2\","
                        " \"access_key\": \"AK\", \"secret_file\": \"two.key\"},"
                        " {\"id\": \"y\", \"endpoint\": \"http://h:3\","
                        " \"access_key\": \"AK\", \"secret_file\": \"locked.key\"},"
                        " {\"id\": \"z\", \"endpoint\": \"http://h:4\","
                        " \"access_key\": \"AK\", \"secret_file\": \".\"}]}"),
              -EINVAL);
    CHECK(cfg == NULL);
    CHECK(any_line_contains(&pb, ".connection.secret_file: \""));
    CHECK(any_line_contains(&pb, "empty.key\" is empty"));
    CHECK(any_line_contains(&pb, ".connections[0].secret_file: \""));
    CHECK(any_line_contains(&pb, "two.key\" holds more than one line"));
    if (geteuid() != 0) /* root reads mode 0000 files */
        CHECK(any_line_contains(&pb, "locked.key\": Permission denied"));
    CHECK(any_line_contains(&pb, ".connections[2].secret_file: \""));
    CHECK(!any_line_contains(&pb, "SECRET-VALUE"));
    config_problems_finish(&pb);
}

static void test_config__secrets_readable_by_others(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    const char *path = write_file("open.json", "{" TARGET "}", 0644);
    CHECK_INT(config_load(&cfg, &pb, path), 0);
    CHECK(cfg && cfg->secrets_readable_by_others);
    config_free(cfg);
    config_problems_finish(&pb);

    path = write_file("group.json", "{" TARGET "}", 0640);
    CHECK_INT(config_load(&cfg, &pb, path), 0);
    CHECK(cfg && cfg->secrets_readable_by_others);
    config_free(cfg);
    config_problems_finish(&pb);

    path = write_file("closed.json", "{" TARGET "}", 0600);
    CHECK_INT(config_load(&cfg, &pb, path), 0);
    CHECK(cfg && !cfg->secrets_readable_by_others);
    config_free(cfg);
    config_problems_finish(&pb);
}

static void test_config__collects_every_problem(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    CHECK_INT(load_text(&cfg, &pb,
                        "{\"conection\": 1, \"sync\": {\"concurency\": 3, \"poll_interval\": 0},"
                        " \"connection\": {\"endpoint\": \"http://h:1\", \"access_key\": \"a\","
                        " \"secret\": \"s\", \"host_style\": \"vhost\"},"
                        " \"state\": {\"backend\": \"etcd\"}}"),
              -EINVAL);
    CHECK_INT(pb.n, 5);
    CHECK(any_line_contains(&pb, ": .conection: unknown key"));
    CHECK(any_line_contains(&pb, ": .sync.concurency: unknown key \"concurency\" (did you mean "
                                 "\"concurrency\"?)"));
    CHECK(any_line_contains(&pb, ": .sync.poll_interval: 0 is out of range"));
    CHECK(any_line_contains(&pb, ": .connection.host_style: \"vhost\" is not valid; expected "
                                 "\"path\" or \"virtual\""));
    CHECK(any_line_contains(&pb, ": .state.backend: \"etcd\" is not valid"));
    config_problems_finish(&pb);
}

static void test_config__target_path_rules(void)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    /* variables in the bucket part: only the literal characters are checked */
    CHECK_INT(load_text(&cfg, &pb,
                        "{" TARGET ", \"target_path\": \"rgw-${zone_id}-x/${owner}/${bucket}\"}"),
              0);
    config_free(cfg);
    config_problems_finish(&pb);
    CHECK_INT(load_text(&cfg, &pb, "{" TARGET ", \"target_path\": \"RGW-${zone}/${bucket}\"}"),
              -EINVAL);
    CHECK(any_line_contains(&pb, ".target_path: bucket part \"RGW-${zone}\" has R"));
    config_problems_finish(&pb);

    static const char *const bad[] = {"ab/x", "-abc/x",   "a..b/x", "192.168.1.1/x",
                                      "/x",   "ab${zone", NULL};
    for (size_t i = 0; bad[i]; i++) {
        char text[512];
        (void) snprintf(text, sizeof(text), "{" TARGET ", \"target_path\": \"%s\"}", bad[i]);
        printf("# target_path %s\n", bad[i]);
        CHECK_INT(load_text(&cfg, &pb, text), -EINVAL);
        CHECK(any_line_contains(&pb, ": .target_path: "));
        config_problems_finish(&pb);
    }

    /* cos: the APPID may follow variables */
    CHECK_INT(load_text(&cfg, &pb,
                        "{\"connection\": {\"endpoint\": \"https://cos.ap-guangzhou.myqcloud.com\","
                        " \"access_key\": \"a\", \"secret\": \"s\", \"region\": \"ap-guangzhou\","
                        " \"provider\": \"cos\"},"
                        " \"target_path\": \"rgw-${zonegroup}-1250000000/${bucket}\"}"),
              0);
    if (cfg && cfg->root.conn)
        CHECK(cfg->root.conn->virtual_host); /* cos defaults to virtual */
    config_free(cfg);
    config_problems_finish(&pb);
    CHECK_INT(load_text(&cfg, &pb,
                        "{\"connection\": {\"endpoint\": \"https://cos.ap-guangzhou.myqcloud.com\","
                        " \"access_key\": \"a\", \"secret\": \"s\", \"region\": \"ap-guangzhou\","
                        " \"provider\": \"cos\"},"
                        " \"target_path\": \"my.archive-1250000000/${bucket}\"}"),
              -EINVAL);
    CHECK(any_line_contains(&pb, "has a '.', which COS bucket names cannot hold"));
    config_problems_finish(&pb);
}

/* config_named_buckets(): the buckets can be named only when an excluded
 * "*" turns the rest away and no prefix takes any. */
static void named_case(const char *profiles, bool want, const char *const *names)
{
    struct config *cfg = NULL;
    struct config_problems pb;
    char text[1024];
    (void) snprintf(text, sizeof(text), "{" TARGET ", \"profiles\": [%s]}", profiles);
    printf("# profiles %s\n", profiles);
    CHECK_INT(load_text(&cfg, &pb, text), 0);
    config_problems_finish(&pb);
    if (!cfg)
        return;
    const char **got = NULL;
    size_t n = 99;
    bool named = config_named_buckets(cfg, &got, &n);
    CHECK(named == want);
    size_t nwant = 0;
    while (names && names[nwant])
        nwant++;
    CHECK_INT(named ? (long) n : 0L, named ? (long) nwant : 0L);
    for (size_t i = 0; named && i < n && i < nwant; i++)
        CHECK_STR(got[i], names[i]);
    CHECK(named || got == NULL);
    free(got);
    config_free(cfg);
}

static void test_config__named_buckets(void)
{
#define EXCL_ALL "{\"source_bucket\": \"*\", \"exclude\": true}"
    named_case(EXCL_ALL ", {\"source_bucket\": \"photos\"}, {\"source_bucket\": \"t1/docs\"}", true,
               (const char *const[]){"photos", "t1/docs", NULL});
    /* an excluded name or prefix takes nothing */
    named_case(EXCL_ALL ", {\"source_bucket\": \"a\"}, {\"source_bucket\": \"tmp-*\", "
                        "\"exclude\": true}, {\"source_bucket\": \"b\", \"exclude\": true}",
               true, (const char *const[]){"a", NULL});
    named_case(EXCL_ALL, true, (const char *const[]){NULL});
    /* the top level takes every bucket no profile matches */
    named_case("{\"source_bucket\": \"photos\"}", false, NULL);
    /* a prefix that takes buckets cannot be named */
    named_case(EXCL_ALL ", {\"source_bucket\": \"logs-*\"}", false, NULL);
    named_case(EXCL_ALL ", {\"source_bucket\": \"a\"}, {\"source_bucket\": \"logs*\"}", false,
               NULL);
#undef EXCL_ALL
}

int main(void)
{
    (void) snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("not ok 1 - mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_config__examples_load_clean);
    RUN(test_config__bad_configs_fail_with_their_line);
    RUN(test_config__unreadable_file_is_one_line);
    RUN(test_config__secrets_never_in_problem_lines);
    RUN(test_config__parse_size);
    RUN(test_config__sizes_as_numbers_or_strings);
    RUN(test_config__defaults);
    RUN(test_config__find_profile);
    RUN(test_config__inherits_from_default);
    RUN(test_config__top_level_is_not_default_for_rgw_keys);
    RUN(test_config__rgw_tier_config_loads_unchanged);
    RUN(test_config__min_part_size_floor);
    RUN(test_config__secret_file);
    RUN(test_config__secrets_readable_by_others);
    RUN(test_config__collects_every_problem);
    RUN(test_config__target_path_rules);
    RUN(test_config__named_buckets);

    /* clean up the temp dir: only the files written above */
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            char path[512];
            (void) snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
            (void) unlink(path);
        }
    }
    if (d)
        closedir(d);
    (void) rmdir(tmpdir);
    return t_done();
}
