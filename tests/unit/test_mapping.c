/* Where a source object lands: target_path expanded for one bucket
 * (CONFIG.md), split into target bucket + key prefix, joined with the key.
 * The one promise beyond RGW's cloud module: a variable never expands to
 * nothing (RGW gives ${owner} = "" for untenanted owners and writes to
 * "rgw-zg-sid//bucket"); an unknown or empty one is -EINVAL. */
#include "testlib.h"

#include <errno.h>

#include "config.h"
#include "err.h"
#include "sync/mapping.h"

/* realm2 lab names; ids as RGW prints them */
static const struct mapping_vars plain = {
    .sid = "5e0c9a1f2b3d4c6e",
    .zonegroup = "zg1",
    .zonegroup_id = "16679bac-a9d6-404e-9f15-2dc8c317a46a",
    .zone = "z1",
    .zone_id = "ce0d556b-5a1e-4c4f-9d2b-0b1c6e7f8a90",
    .tenant = "",
    .bucket = "cap-bkt",
    .owner = "src",
};

static void check_expand(const char *tmpl, const struct mapping_vars *v, const char *want)
{
    char *out = NULL;
    int r = mapping_expand(&out, tmpl, v);
    if (r != 0)
        printf("# %s: %s\n", tmpl, err_get());
    CHECK_INT(r, 0);
    CHECK_STR(out, want);
    free(out);
}

static void check_expand_fails(const char *tmpl, const struct mapping_vars *v, const char *names)
{
    char *out = (char *) "untouched";
    err_clear();
    int r = mapping_expand(&out, tmpl, v);
    CHECK_INT(r, -EINVAL);
    CHECK_STR(out, "untouched");
    /* the detail names the variable, so the operator can fix the template */
    if (!strstr(err_get(), names))
        printf("# detail \"%s\" lacks \"%s\"\n", err_get(), names);
    CHECK(strstr(err_get(), names) != NULL);
}

static void test_mapping__each_variable_expands(void)
{
    check_expand("${sid}", &plain, "5e0c9a1f2b3d4c6e");
    check_expand("${zonegroup}", &plain, "zg1");
    check_expand("${zonegroup_id}", &plain, "16679bac-a9d6-404e-9f15-2dc8c317a46a");
    check_expand("${zone}", &plain, "z1");
    check_expand("${zone_id}", &plain, "ce0d556b-5a1e-4c4f-9d2b-0b1c6e7f8a90");
    check_expand("${bucket}", &plain, "cap-bkt");
    check_expand("${owner}", &plain, "src");
}

static void test_mapping__variables_mix_with_literal_text(void)
{
    /* the example in RGW's docs (etc/rgw-tier-config.json) */
    check_expand("rgwx-${zone}-${sid}/${owner}/${bucket}", &plain,
                 "rgwx-z1-5e0c9a1f2b3d4c6e/src/cap-bkt");
    check_expand("${zonegroup}${zone}", &plain, "zg1z1");
    check_expand(
        "archive/${zonegroup_id}/${zone_id}/x", &plain,
        "archive/16679bac-a9d6-404e-9f15-2dc8c317a46a/ce0d556b-5a1e-4c4f-9d2b-0b1c6e7f8a90/x");
    /* a '$' or '{' that opens no variable is text */
    check_expand("a$b{c}/${bucket}$", &plain, "a$b{c}/cap-bkt$");
    check_expand("no-variables", &plain, "no-variables");
    check_expand("", &plain, "");
}

static void test_mapping__default_path_is_zonegroup_sid_then_bucket(void)
{
    char *path = NULL, *bucket = NULL, *prefix = NULL;
    CHECK_STR(CFG_DEFAULT_TARGET_PATH, "rgw-${zonegroup}-${sid}/${bucket}");
    CHECK_INT(mapping_expand(&path, CFG_DEFAULT_TARGET_PATH, &plain), 0);
    CHECK_STR(path, "rgw-zg1-5e0c9a1f2b3d4c6e/cap-bkt");
    CHECK_INT(mapping_split(&bucket, &prefix, path), 0);
    CHECK_STR(bucket, "rgw-zg1-5e0c9a1f2b3d4c6e");
    CHECK_STR(prefix, "cap-bkt");
    char *key = mapping_key(prefix, "a b+c/ü.txt");
    CHECK_STR(key, "cap-bkt/a b+c/ü.txt");
    free(key);
    free(bucket);
    free(prefix);
    free(path);
}

static void test_mapping__tenanted_bucket_and_owner_get_tenant_prefix(void)
{
    struct mapping_vars v = plain;
    v.tenant = "acme";
    v.bucket = "photos";
    /* Pacific prints a tenanted owner as rgw_user::to_str(): "tenant$id" */
    v.owner = "acme$alice";
    check_expand("${bucket}", &v, "acme-photos");
    check_expand("${owner}", &v, "acme-alice");
    check_expand("rgw-${zonegroup}-${sid}/${owner}/${bucket}", &v,
                 "rgw-zg1-5e0c9a1f2b3d4c6e/acme-alice/acme-photos");

    /* an owner given without its tenant takes the bucket's */
    v.owner = "alice";
    check_expand("${owner}", &v, "acme-alice");

    /* "tenant$ns$id": the id is after the last '$' (rgw_user::from_str) */
    v.owner = "acme$oidc$alice";
    check_expand("${owner}", &v, "acme-alice");

    /* the owner's own tenant wins over the bucket's */
    v.owner = "other$bob";
    check_expand("${owner}", &v, "other-bob");
}

static void test_mapping__untenanted_owner_is_plain_never_empty(void)
{
    check_expand("${owner}/${bucket}", &plain, "src/cap-bkt");

    struct mapping_vars v = plain;
    v.tenant = NULL; /* NULL tenant reads as none */
    check_expand("${owner}/${bucket}", &v, "src/cap-bkt");

    /* "$ns$id" has no tenant: the plain id */
    v.owner = "$oidc$carol";
    check_expand("${owner}", &v, "carol");
}

static void test_mapping__empty_or_missing_value_is_einval(void)
{
    struct mapping_vars v = plain;
    v.owner = "";
    check_expand_fails("x/${owner}/${bucket}", &v, "${owner}");
    v.owner = NULL;
    check_expand_fails("x/${owner}", &v, "${owner}");
    v.owner = "acme$"; /* a tenant and no id */
    check_expand_fails("x/${owner}", &v, "${owner}");

    v = plain;
    v.bucket = "";
    check_expand_fails("x/${bucket}", &v, "${bucket}");

    /* our zone is not in the period: zone_id unknown */
    v = plain;
    v.zone_id = NULL;
    check_expand_fails("${zone_id}/${bucket}", &v, "${zone_id}");
    /* ...which matters only to templates that use it */
    check_expand("${zone}/${bucket}", &v, "z1/cap-bkt");

    v = plain;
    v.sid = "";
    check_expand_fails(CFG_DEFAULT_TARGET_PATH, &v, "${sid}");
}

static void test_mapping__unknown_variable_is_einval(void)
{
    check_expand_fails("${region}/${bucket}", &plain, "${region}");
    check_expand_fails("${Bucket}", &plain, "${Bucket}");
    check_expand_fails("${bucket }", &plain, "${bucket }");
    check_expand_fails("x/${}", &plain, "${}");
    check_expand_fails("x/${bucket", &plain, "unterminated");
}

static void check_split(const char *path, const char *want_bucket, const char *want_prefix)
{
    char *bucket = NULL, *prefix = NULL;
    int r = mapping_split(&bucket, &prefix, path);
    if (r != 0)
        printf("# split \"%s\": %s\n", path, err_get());
    CHECK_INT(r, 0);
    CHECK_STR(bucket, want_bucket);
    CHECK_STR(prefix, want_prefix);
    free(bucket);
    free(prefix);
}

static void test_mapping__split_first_segment_is_bucket(void)
{
    check_split("bkt", "bkt", "");
    check_split("bkt/", "bkt", "");
    check_split("bkt/p", "bkt", "p");
    check_split("bkt/a/b/c", "bkt", "a/b/c");
}

static void test_mapping__split_prefix_loses_trailing_slashes(void)
{
    check_split("bkt/a/b/", "bkt", "a/b");
    check_split("bkt/a//", "bkt", "a");
    check_split("bkt//", "bkt", "");
}

static void test_mapping__split_ignores_leading_slashes(void)
{
    check_split("/bkt/a", "bkt", "a");
    check_split("///bkt", "bkt", "");
}

static void test_mapping__split_empty_bucket_is_einval(void)
{
    static const char *const cases[] = {"", "/", "//"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *bucket = (char *) "untouched", *prefix = (char *) "untouched";
        CHECK_INT(mapping_split(&bucket, &prefix, cases[i]), -EINVAL);
        CHECK_STR(bucket, "untouched");
        CHECK_STR(prefix, "untouched");
    }
}

static void test_mapping__key_joins_prefix_and_key(void)
{
    char *k = mapping_key("", "small.bin");
    CHECK_STR(k, "small.bin");
    free(k);
    k = mapping_key(NULL, "small.bin");
    CHECK_STR(k, "small.bin");
    free(k);
    k = mapping_key("cap-bkt", "dir/small.txt");
    CHECK_STR(k, "cap-bkt/dir/small.txt");
    free(k);
    k = mapping_key("a/b", "_under");
    CHECK_STR(k, "a/b/_under");
    free(k);
}

int main(void)
{
    RUN(test_mapping__each_variable_expands);
    RUN(test_mapping__variables_mix_with_literal_text);
    RUN(test_mapping__default_path_is_zonegroup_sid_then_bucket);
    RUN(test_mapping__tenanted_bucket_and_owner_get_tenant_prefix);
    RUN(test_mapping__untenanted_owner_is_plain_never_empty);
    RUN(test_mapping__empty_or_missing_value_is_einval);
    RUN(test_mapping__unknown_variable_is_einval);
    RUN(test_mapping__split_first_segment_is_bucket);
    RUN(test_mapping__split_prefix_loses_trailing_slashes);
    RUN(test_mapping__split_ignores_leading_slashes);
    RUN(test_mapping__split_empty_bucket_is_einval);
    RUN(test_mapping__key_joins_prefix_and_key);
    return t_done();
}
