/* The source's admin API answers, read without a network: the real RGW
 * 16.2.15 bodies in tests/data/json-rgw16 (see its README), plus the shapes
 * later releases send, written inline and marked as such. What must hold:
 * markers travel as opaque strings, unknown fields are ignored, and a body
 * that is cut short (RGW streams listings: an error mid-stream truncates the
 * JSON) or has the wrong shape is -EAGAIN, leaving nothing to free. */
#include "testlib.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "source/rgw.h"

#define INSTANCE "d4429821-b933-48a8-971e-7eb5b6d20aa8.4129.2"

/* A sample file's bytes (not NUL-terminated beyond len); exits when absent:
 * a test that cannot read its data must not pass. */
static char *slurp(const char *name, size_t *len)
{
    const char *dir = getenv("TEST_DATA");
    char path[1024];
    (void) snprintf(path, sizeof(path), "%s/json-rgw16/%s", dir ? dir : "tests/data", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("Bail out! cannot open %s\n", path);
        exit(1);
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                printf("Bail out! out of memory\n");
                exit(1);
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    (void) fclose(f);
    *len = n;
    return buf;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return false;
    return true;
}

static bool detail_has(const char *what)
{
    bool ok = strstr(err_get(), what) != NULL;
    if (!ok)
        printf("# detail \"%s\" lacks \"%s\"\n", err_get(), what);
    return ok;
}

/* ------------------------------------------------------------ datalog */

static void test_rgw__dl_info_reads_fifo_omap_and_empty_shards(void)
{
    size_t len;
    char *body = slurp("dl_info_fifo.json", &len);
    struct rgw_dl_info i;
    CHECK_INT(rgw_parse_dl_info(body, len, &i), 0);
    CHECK_STR(i.marker, "00000000000000000000:00000000000000000512");
    CHECK_STR(i.last_update, "2026-11-21T16:01:12.211340Z");
    rgw_dl_info_finish(&i);
    CHECK(all_zero(&i, sizeof(i)));
    free(body);

    body = slurp("dl_info_omap.json", &len);
    CHECK_INT(rgw_parse_dl_info(body, len, &i), 0);
    CHECK_STR(i.marker, "1_1795276793.947108_47.1");
    CHECK_STR(i.last_update, "2026-11-21T15:59:53.947108Z");
    rgw_dl_info_finish(&i);
    free(body);

    body = slurp("dl_info_empty.json", &len);
    CHECK_INT(rgw_parse_dl_info(body, len, &i), 0);
    CHECK_STR(i.marker, "");
    CHECK_STR(i.last_update, "0.000000");
    rgw_dl_info_finish(&i);
    free(body);
}

static void test_rgw__dl_list_extra_info_sample_parses(void)
{
    size_t len;
    char *body = slurp("dl_list_extra_info.json", &len);
    struct rgw_dl_page p;
    CHECK_INT(rgw_parse_dl_page(body, len, &p), 0);
    CHECK_INT(p.n, 1);
    CHECK(!p.truncated);
    CHECK_STR(p.marker, "00000000000000000000:00000000000000000512");
    CHECK_STR(p.entries[0].log_id, "00000000000000000000:00000000000000000512");
    /* the log's time (log_timestamp), not the change's */
    CHECK_STR(p.entries[0].timestamp, "2026-11-21T16:01:12.211340Z");
    CHECK_STR(p.entries[0].key, "cap-bkt:" INSTANCE ":2");
    rgw_dl_page_finish(&p);
    CHECK(all_zero(&p, sizeof(p)));
    free(body);
}

static void test_rgw__dl_list_empty_page_keeps_marker_empty(void)
{
    /* asked after the newest entry: RGW answers marker "" and the caller
     * keeps its own (RGWDataSyncShardCR::incremental_sync) */
    size_t len;
    char *body = slurp("dl_list_after_last.json", &len);
    struct rgw_dl_page p;
    CHECK_INT(rgw_parse_dl_page(body, len, &p), 0);
    CHECK_INT(p.n, 0);
    CHECK_STR(p.marker, "");
    CHECK(!p.truncated);
    rgw_dl_page_finish(&p);
    free(body);
}

static void check_dl_marker(const char *marker)
{
    char body[1024];
    (void) snprintf(body, sizeof(body),
                    "{\"marker\":\"%s\",\"truncated\":true,\"entries\":["
                    "{\"log_id\":\"%s\",\"log_timestamp\":\"2026-11-21T16:01:12.211340Z\","
                    "\"entry\":{\"entity_type\":\"bucket\",\"key\":\"b:i:0\","
                    "\"timestamp\":\"2026-11-21T16:01:12.208537Z\"}}]}",
                    marker, marker);
    struct rgw_dl_page p;
    CHECK_INT(rgw_parse_dl_page(body, strlen(body), &p), 0);
    CHECK_INT(p.n, 1);
    CHECK(p.truncated);
    CHECK_STR(p.marker, marker);
    CHECK_STR(p.entries[0].log_id, marker);
    rgw_dl_page_finish(&p);

    /* a page whose marker is "" takes its last entry's id */
    (void) snprintf(body, sizeof(body),
                    "{\"marker\":\"\",\"truncated\":false,\"entries\":["
                    "{\"log_id\":\"first\",\"entry\":{\"key\":\"b:i:0\"}},"
                    "{\"log_id\":\"%s\",\"entry\":{\"key\":\"b:i:1\"}}]}",
                    marker);
    CHECK_INT(rgw_parse_dl_page(body, strlen(body), &p), 0);
    CHECK_INT(p.n, 2);
    CHECK_STR(p.marker, marker);
    /* no log_timestamp: the entry's own */
    CHECK_STR(p.entries[1].timestamp, "");
    rgw_dl_page_finish(&p);
}

static void test_rgw__dl_markers_of_every_backing_pass_unchanged(void)
{
    /* rgw-sync-protocol.md §1.1: omap (cls_log), FIFO, FIFO of generation 2 */
    check_dl_marker("1_1646626637.491370_281779.1");
    check_dl_marker("00000000000000000000:00000000000000000512");
    check_dl_marker("G00000000000000000002@00000000000000000000:00000000000000000512");
}

static void test_rgw__dl_list_quincy_fields_are_ignored(void)
{
    /* written, not captured: Reef's rgw_data_change::dump adds "gen" */
    static const char body[] =
        "{\"marker\":\"G00000000000000000001@00000000000000000000:00000000000000000639\","
        "\"truncated\":false,\"future\":{\"x\":[1,2]},\"entries\":["
        "{\"log_id\":\"G00000000000000000001@00000000000000000000:00000000000000000639\","
        "\"log_timestamp\":\"2026-11-21T16:01:24.029792Z\",\"shard\":7,"
        "\"entry\":{\"entity_type\":\"bucket\",\"key\":\"acme/bkt1:" INSTANCE ":5\","
        "\"timestamp\":\"2026-11-21T16:01:24.029792Z\",\"gen\":2}}]}";
    struct rgw_dl_page p;
    CHECK_INT(rgw_parse_dl_page(body, strlen(body), &p), 0);
    CHECK_INT(p.n, 1);
    CHECK_STR(p.entries[0].key, "acme/bkt1:" INSTANCE ":5");
    CHECK_STR(p.marker, "G00000000000000000001@00000000000000000000:00000000000000000639");
    rgw_dl_page_finish(&p);
}

static void test_rgw__dl_list_without_extra_info_is_retryable_shape_error(void)
{
    /* we always ask extra-info=true: without log_id an entry has no position */
    size_t len;
    char *body = slurp("dl_list_plain.json", &len);
    struct rgw_dl_page p;
    memset(&p, 0xa5, sizeof(p));
    err_clear();
    CHECK_INT(rgw_parse_dl_page(body, len, &p), -EAGAIN);
    CHECK(all_zero(&p, sizeof(p)));
    CHECK(detail_has("datalog list"));
    free(body);
}

static void test_rgw__dl_wrong_shape_is_retryable(void)
{
    static const char *const bad[] = {
        "[]",
        "{}",
        "null",
        "\"entries\"",
        "{\"marker\":\"\",\"entries\":{}}",
        "{\"marker\":\"\",\"entries\":[1]}",
        "{\"marker\":\"\",\"entries\":[{\"log_id\":\"a\",\"entry\":{\"key\":\"b:i\"}},{}]}",
        "{\"marker\":\"\",\"entries\":[{\"log_id\":7,\"entry\":{\"key\":\"b:i\"}}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rgw_dl_page p;
        err_clear();
        CHECK_INT(rgw_parse_dl_page(bad[i], strlen(bad[i]), &p), -EAGAIN);
        CHECK(all_zero(&p, sizeof(p)));
        CHECK(detail_has("datalog list"));
    }
    static const char *const bad_info[] = {"[]", "null", "1"};
    for (size_t i = 0; i < sizeof(bad_info) / sizeof(bad_info[0]); i++) {
        struct rgw_dl_info info;
        CHECK_INT(rgw_parse_dl_info(bad_info[i], strlen(bad_info[i]), &info), -EAGAIN);
        CHECK(all_zero(&info, sizeof(info)));
    }
}

/* -------------------------------------------------------------- bilog */

static void test_rgw__bl_info_whole_bucket_keeps_composite_marker(void)
{
    /* one shard#marker per index shard: the marker RGW takes back for the
     * whole bucket; cutting at the first '#' would give ",1#,2#..." */
    size_t len;
    char *body = slurp("bl_info_bucket.json", &len);
    struct rgw_bl_info i;
    CHECK_INT(rgw_parse_bl_info(body, len, &i), 0);
    CHECK_STR(i.max_marker, "0#,1#,2#00000000001.8.6,3#00000000017.28.6,4#,5#,6#00000000001.3.6,"
                            "7#,8#,9#,10#00000000002.12.6");
    CHECK(!i.syncstopped);
    rgw_bl_info_finish(&i);
    CHECK(all_zero(&i, sizeof(i)));
    free(body);
}

static void test_rgw__bl_info_single_shard_marker_is_bare(void)
{
    size_t len;
    char *body = slurp("bl_info_shard.json", &len);
    struct rgw_bl_info i;
    CHECK_INT(rgw_parse_bl_info(body, len, &i), 0);
    CHECK_STR(i.max_marker, ""); /* shard 0 has no entries */
    CHECK(!i.syncstopped);
    rgw_bl_info_finish(&i);
    free(body);

    /* the hand-run answer for a shard with entries */
    static const char shard[] = "{\"bucket_ver\":\"0#3\",\"master_ver\":\"0#0\","
                                "\"max_marker\":\"00000000002.9.6\",\"syncstopped\":\"false\"}";
    CHECK_INT(rgw_parse_bl_info(shard, strlen(shard), &i), 0);
    CHECK_STR(i.max_marker, "00000000002.9.6");
    rgw_bl_info_finish(&i);
}

static void test_rgw__bl_info_unsharded_bucket_loses_shard_prefix(void)
{
    /* an unsharded bucket's one index object is shard 0 of the composite */
    static const char one[] = "{\"bucket_ver\":\"0#2\",\"master_ver\":\"0#0\","
                              "\"max_marker\":\"0#00000000002.4.6\",\"syncstopped\":\"false\"}";
    struct rgw_bl_info i;
    CHECK_INT(rgw_parse_bl_info(one, strlen(one), &i), 0);
    CHECK_STR(i.max_marker, "00000000002.4.6");
    rgw_bl_info_finish(&i);

    static const char empty[] = "{\"max_marker\":\"0#\",\"syncstopped\":\"false\"}";
    CHECK_INT(rgw_parse_bl_info(empty, strlen(empty), &i), 0);
    CHECK_STR(i.max_marker, "");
    rgw_bl_info_finish(&i);
}

static void test_rgw__bl_info_syncstopped_as_string_or_bool(void)
{
    static const char *const stopped[] = {
        "{\"max_marker\":\"00000000002.9.6\",\"syncstopped\":\"true\"}",
        "{\"max_marker\":\"00000000002.9.6\",\"syncstopped\":true,\"oldest_gen\":0,"
        "\"latest_gen\":1,\"generations\":[{\"gen\":1,\"num_shards\":11}]}",
    };
    for (size_t k = 0; k < 2; k++) {
        struct rgw_bl_info i;
        CHECK_INT(rgw_parse_bl_info(stopped[k], strlen(stopped[k]), &i), 0);
        CHECK(i.syncstopped);
        CHECK_STR(i.max_marker, "00000000002.9.6");
        rgw_bl_info_finish(&i);
    }
    /* no max_marker at all: from the start */
    struct rgw_bl_info i;
    CHECK_INT(rgw_parse_bl_info("{}", 2, &i), 0);
    CHECK_STR(i.max_marker, "");
    CHECK(!i.syncstopped);
    rgw_bl_info_finish(&i);
    CHECK_INT(rgw_parse_bl_info("[]", 2, &i), -EAGAIN);
    CHECK(all_zero(&i, sizeof(i)));
    CHECK(detail_has("bilog info"));
}

static void test_rgw__bl_list_full_entry_parses_every_field(void)
{
    size_t len;
    char *body = slurp("bl_list_shard_full_entry.json", &len);
    struct rgw_bl_page p;
    CHECK_INT(rgw_parse_bl_page(body, len, &p), 0);
    CHECK_INT(p.n, 1);
    const struct rgw_bl_entry *e = &p.entries[0];
    CHECK_STR(e->id, "00000000001.6.6");
    CHECK_INT(e->op, RGW_BL_WRITE);
    CHECK_STR(e->object, "small.bin");
    CHECK_STR(e->instance, "");
    CHECK(e->complete);
    CHECK_STR(e->timestamp, "2026-11-21T16:01:11.418995998Z");
    CHECK_INT(e->ver_pool, 6);
    CHECK_INT(e->ver_epoch, 3);
    CHECK(!e->versioned);
    CHECK_INT(e->nzones_trace, 1);
    CHECK_STR(e->zones_trace[0], "d4429821-b933-48a8-971e-7eb5b6d20aa8:cap-bkt:" INSTANCE);
    rgw_bl_page_finish(&p);
    CHECK(all_zero(&p, sizeof(p)));
    free(body);
}

static void test_rgw__bl_list_op_ids_lose_shard_prefix(void)
{
    /* the whole-bucket listing: ids "<shard>#<marker>", shards interleaved */
    size_t len;
    char *body = slurp("bl_list_bucket.json", &len);
    struct rgw_bl_page p;
    CHECK_INT(rgw_parse_bl_page(body, len, &p), 0);
    CHECK_INT(p.n, 21);
    for (size_t i = 0; i < p.n; i++)
        CHECK(strchr(p.entries[i].id, '#') == NULL);
    CHECK_STR(p.entries[0].id, "00000000001.8.6");
    CHECK_STR(p.entries[0].object, "__under"); /* as logged; see index_key */
    CHECK_STR(p.entries[2].object, "a b+c/ü.txt");
    CHECK_STR(p.entries[3].id, "00000000001.10.6"); /* from "10#" */
    CHECK_STR(p.entries[3].object, "dir/small.txt");
    CHECK_INT(p.entries[5].op, RGW_BL_DEL);
    CHECK_STR(p.entries[5].id, "00000000002.12.6");
    CHECK_STR(p.entries[11].object, "big40.bin");
    CHECK_INT(p.entries[11].op, RGW_BL_WRITE);
    CHECK_STR(p.entries[20].id, "00000000017.28.6");
    CHECK_STR(p.entries[20].timestamp, "2026-11-21T16:01:17.469044317Z");
    for (size_t i = 0; i < p.n; i++) {
        CHECK(p.entries[i].complete);
        CHECK_INT(p.entries[i].nzones_trace, 0);
    }
    rgw_bl_page_finish(&p);
    free(body);
}

static void test_rgw__bl_list_versioned_ops_parse_into_enum(void)
{
    size_t len;
    char *body = slurp("bl_list_versioned.json", &len);
    struct rgw_bl_page p;
    CHECK_INT(rgw_parse_bl_page(body, len, &p), 0);
    static const enum rgw_bl_op want[] = {
        RGW_BL_WRITE,        RGW_BL_LINK_OLH,        RGW_BL_WRITE, RGW_BL_LINK_OLH,
        RGW_BL_LINK_OLH_DEL, RGW_BL_UNLINK_INSTANCE, RGW_BL_DEL,
    };
    static const char *const inst[] = {
        ".hcmtS89UB0PC1zH292pcSnhItRA9fW", ".hcmtS89UB0PC1zH292pcSnhItRA9fW",
        "b.qjzHW7mN4j2abD4EJ-Wisteskw9od", "b.qjzHW7mN4j2abD4EJ-Wisteskw9od",
        "PbmTPMdxijluuG1ja9SN7tzPJSZIgrV", ".hcmtS89UB0PC1zH292pcSnhItRA9fW",
        ".hcmtS89UB0PC1zH292pcSnhItRA9fW",
    };
    CHECK_INT(p.n, 7);
    for (size_t i = 0; i < p.n && i < 7; i++) {
        CHECK_INT(p.entries[i].op, want[i]);
        CHECK_STR(p.entries[i].instance, inst[i]);
        CHECK_STR(p.entries[i].object, "x");
        CHECK(p.entries[i].versioned);
        CHECK(p.entries[i].complete); /* no state printed: complete */
    }
    CHECK_STR(p.entries[4].id, "00000000005.13.12");
    CHECK_STR(p.entries[4].timestamp, "2026-11-21T16:01:23.428761938Z");
    rgw_bl_page_finish(&p);
    free(body);
}

static void test_rgw__bl_list_every_op_name_and_pending_state(void)
{
    static const char body[] =
        "[{\"op_id\":\"1.1.1\",\"op\":\"cancel\",\"object\":\"a\",\"state\":\"pending\"},"
        "{\"op_id\":\"1.1.2\",\"op\":\"syncstop\",\"object\":\"\"},"
        "{\"op_id\":\"1.1.3\",\"op\":\"resync\",\"object\":\"\"},"
        "{\"op_id\":\"1.1.4\",\"op\":\"unknown\",\"object\":\"b\"},"
        "{\"op_id\":\"1.1.5\",\"op\":\"rename_olh\",\"object\":\"c\"},"
        "{\"op_id\":\"1.1.6\",\"object\":\"d\",\"state\":\"complete\"},"
        "{\"op_id\":\"1.1.7\",\"op\":\"write\",\"object\":\"e\",\"state\":\"pending\","
        "\"ver\":{\"pool\":-1,\"epoch\":4},\"zones_trace\":[\"z1\",{\"entry\":\"z2:b:i\"}]}]";
    struct rgw_bl_page p;
    CHECK_INT(rgw_parse_bl_page(body, strlen(body), &p), 0);
    CHECK_INT(p.n, 7);
    CHECK_INT(p.entries[0].op, RGW_BL_CANCEL);
    CHECK(!p.entries[0].complete);
    CHECK_INT(p.entries[1].op, RGW_BL_SYNCSTOP);
    CHECK_INT(p.entries[2].op, RGW_BL_RESYNC);
    CHECK_INT(p.entries[3].op, RGW_BL_UNKNOWN);
    CHECK_INT(p.entries[4].op, RGW_BL_UNKNOWN); /* a future op is not guessed at */
    CHECK_INT(p.entries[5].op, RGW_BL_UNKNOWN);
    CHECK(p.entries[5].complete);
    CHECK_STR(p.entries[5].id, "1.1.6"); /* no '#': the id as is */
    CHECK(!p.entries[6].complete);
    CHECK_INT(p.entries[6].ver_pool, -1); /* epoch is the OLH epoch */
    CHECK_INT(p.entries[6].ver_epoch, 4);
    CHECK_INT(p.entries[6].nzones_trace, 2);
    CHECK_STR(p.entries[6].zones_trace[0], "z1");
    CHECK_STR(p.entries[6].zones_trace[1], "z2:b:i");
    rgw_bl_page_finish(&p);
}

static void test_rgw__bl_list_quincy_entries_wrapper_accepted(void)
{
    /* written, not captured: Reef with format-ver=2 */
    static const char body[] =
        "{\"entries\":[{\"op_id\":\"3#00000000001.6.6\",\"op_tag\":\"t\",\"op\":\"write\","
        "\"object\":\"small.bin\",\"instance\":\"\",\"state\":\"complete\",\"index_ver\":1,"
        "\"timestamp\":\"2026-11-21T16:01:11.418995998Z\",\"ver\":{\"pool\":6,\"epoch\":3},"
        "\"bilog_flags\":0,\"versioned\":false,\"owner\":\"\",\"owner_display_name\":\"\","
        "\"zones_trace\":[],\"gen\":1}],"
        "\"truncated\":false,\"next_log\":{\"generation\":1,\"num_shards\":11}}";
    struct rgw_bl_page p;
    CHECK_INT(rgw_parse_bl_page(body, strlen(body), &p), 0);
    CHECK_INT(p.n, 1);
    CHECK_STR(p.entries[0].id, "00000000001.6.6");
    CHECK_INT(p.entries[0].op, RGW_BL_WRITE);
    CHECK_INT(p.entries[0].nzones_trace, 0);
    rgw_bl_page_finish(&p);

    static const char empty[] = "{\"entries\":[],\"truncated\":false}";
    CHECK_INT(rgw_parse_bl_page(empty, strlen(empty), &p), 0);
    CHECK_INT(p.n, 0);
    rgw_bl_page_finish(&p);

    /* Pacific's end of the log */
    CHECK_INT(rgw_parse_bl_page("[]", 2, &p), 0);
    CHECK_INT(p.n, 0);
    rgw_bl_page_finish(&p);
}

static void test_rgw__bl_wrong_shape_is_retryable(void)
{
    static const char *const bad[] = {
        "{}",
        "null",
        "{\"entries\":{}}",
        "[{\"op\":\"write\",\"object\":\"x\"}]",
        "[{\"op_id\":\"1.1.1\",\"op\":\"write\"}]",
        "[{\"op_id\":\"1.1.1\",\"object\":\"x\"},{\"op_id\":2,\"object\":\"x\"}]",
        /* the op_id-only arrays the research file prints for paging are
         * jq output, not an answer */
        "[\"3#00000000001.6.6\",\"3#00000000002.8.6\"]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rgw_bl_page p;
        err_clear();
        CHECK_INT(rgw_parse_bl_page(bad[i], strlen(bad[i]), &p), -EAGAIN);
        CHECK(all_zero(&p, sizeof(p)));
        CHECK(detail_has("bilog list"));
    }
}

static void check_index_key(const char *key, const char *want, bool want_ns)
{
    char *name = NULL;
    bool ns = !want_ns;
    CHECK_INT(rgw_index_key_parse(key, &name, &ns), 0);
    CHECK_STR(name, want);
    if (ns != want_ns)
        printf("# \"%s\": namespaced %d\n", key, ns);
    CHECK(ns == want_ns);
    free(name);
}

static void test_rgw__index_key_unescapes_and_flags_namespaces(void)
{
    /* the S3 key "_under", index-escaped by RGW */
    check_index_key("__under", "_under", false);
    check_index_key("___x", "__x", false);
    /* multipart upload parts and meta: not objects of their own */
    check_index_key("_multipart_big40.bin.2~7mKRidCAfK4KlBeSIB8XNV9R8tdaGkC.meta",
                    "big40.bin.2~7mKRidCAfK4KlBeSIB8XNV9R8tdaGkC.meta", true);
    check_index_key("_multipart_x.2~abc.meta", "x.2~abc.meta", true);
    check_index_key("_multipart_big40.bin.2~7mKRidCAfK4KlBeSIB8XNV9R8tdaGkC.5",
                    "big40.bin.2~7mKRidCAfK4KlBeSIB8XNV9R8tdaGkC.5", true);
    check_index_key("_shadow_obj", "obj", true);
    /* plain names, '_' anywhere but first included */
    check_index_key("plain", "plain", false);
    check_index_key("small.bin", "small.bin", false);
    check_index_key("a b+c/ü.txt", "a b+c/ü.txt", false);
    check_index_key("dir/_x", "dir/_x", false);
    check_index_key("x_", "x_", false);
}

/* ------------------------------------------------------------ buckets */

static void test_rgw__bucket_instance_sample_parses(void)
{
    size_t len;
    char *body = slurp("bucket_instance_get.json", &len);
    struct rgw_bucket b;
    CHECK_INT(rgw_parse_bucket_instance(body, len, &b), 0);
    CHECK_STR(b.tenant, "");
    CHECK_STR(b.name, "cap-bkt");
    CHECK_STR(b.bucket_id, INSTANCE);
    CHECK_STR(b.owner, "src");
    CHECK_INT(b.num_shards, 11);
    CHECK_INT(b.flags, 0);
    CHECK(!(b.flags & RGW_BUCKET_VERSIONED));
    rgw_bucket_finish(&b);
    CHECK(all_zero(&b, sizeof(b)));
    free(body);
}

static void test_rgw__bucket_instance_tenanted_versioned_unsharded(void)
{
    /* written from the same shape: a tenanted, versioned, unsharded bucket */
    static const char body[] =
        "{\"key\":\"bucket.instance:acme/photos:" INSTANCE "\",\"ver\":{\"tag\":\"t\",\"ver\":3},"
        "\"data\":{\"bucket_info\":{\"bucket\":{\"name\":\"photos\",\"marker\":\"" INSTANCE "\","
        "\"bucket_id\":\"" INSTANCE "\",\"tenant\":\"acme\"},\"owner\":\"acme$alice\","
        "\"flags\":2,\"num_shards\":0,\"layout\":{\"current_index\":{\"gen\":0}}},\"attrs\":[]}}";
    struct rgw_bucket b;
    CHECK_INT(rgw_parse_bucket_instance(body, strlen(body), &b), 0);
    CHECK_STR(b.tenant, "acme");
    CHECK_STR(b.name, "photos");
    CHECK_STR(b.owner, "acme$alice");
    CHECK_INT(b.num_shards, 0);
    CHECK(b.flags & RGW_BUCKET_VERSIONED);
    rgw_bucket_finish(&b);

    /* owner as an object (later releases), num_shards and flags missing */
    static const char obj[] = "{\"data\":{\"bucket_info\":{\"bucket\":{\"name\":\"n\","
                              "\"bucket_id\":\"i\",\"tenant\":\"\"},"
                              "\"owner\":{\"tenant\":\"\",\"id\":\"bob\"}}}}";
    CHECK_INT(rgw_parse_bucket_instance(obj, strlen(obj), &b), 0);
    CHECK_STR(b.owner, "bob");
    CHECK_INT(b.num_shards, 0);
    CHECK_INT(b.flags, 0);
    rgw_bucket_finish(&b);
}

static void test_rgw__bucket_instance_wrong_shape_is_retryable(void)
{
    static const char *const bad[] = {
        "[]",
        "{}",
        "{\"data\":{}}",
        "{\"data\":{\"bucket_info\":{\"bucket\":\"cap-bkt\"}}}",
        /* the entrypoint (metadata/bucket) is not an instance */
        "{\"key\":\"bucket:cap-bkt\","
        "\"data\":{\"bucket\":{\"name\":\"cap-bkt\"},\"owner\":\"src\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rgw_bucket b;
        err_clear();
        CHECK_INT(rgw_parse_bucket_instance(bad[i], strlen(bad[i]), &b), -EAGAIN);
        CHECK(all_zero(&b, sizeof(b)));
        CHECK(detail_has("bucket.instance"));
    }
}

static void check_bs_round_trip(const char *tenant, const char *name, const char *id, int shard,
                                const char *want)
{
    struct rgw_bucket b = {
        .tenant = (char *) tenant, .name = (char *) name, .bucket_id = (char *) id};
    char *key = rgw_bs_key(&b, shard);
    CHECK_STR(key, want);
    char *t = NULL, *n = NULL, *i = NULL;
    int s = -2;
    CHECK_INT(rgw_bs_key_parse(key ? key : "", &t, &n, &i, &s), 0);
    CHECK_STR(t, tenant ? tenant : "");
    CHECK_STR(n, name);
    CHECK_STR(i, id);
    CHECK_INT(s, shard);
    free(t);
    free(n);
    free(i);
    free(key);
}

static void test_rgw__bs_key_round_trips(void)
{
    check_bs_round_trip("", "cap-bkt", INSTANCE, 2, "cap-bkt:" INSTANCE ":2");
    check_bs_round_trip("", "cap-bkt", INSTANCE, 0, "cap-bkt:" INSTANCE ":0");
    check_bs_round_trip("", "cap-bkt", INSTANCE, 10, "cap-bkt:" INSTANCE ":10");
    check_bs_round_trip("", "cap-bkt", INSTANCE, -1, "cap-bkt:" INSTANCE);
    check_bs_round_trip(NULL, "cap-bkt", INSTANCE, -1, "cap-bkt:" INSTANCE);
    check_bs_round_trip("acme", "photos", INSTANCE, 3, "acme/photos:" INSTANCE ":3");
    check_bs_round_trip("acme", "photos", INSTANCE, -1, "acme/photos:" INSTANCE);
    check_bs_round_trip("", "lab-ready-probe", "d4429821-b933-48a8-971e-7eb5b6d20aa8.4129.1", 0,
                        "lab-ready-probe:d4429821-b933-48a8-971e-7eb5b6d20aa8.4129.1:0");
}

static void test_rgw__bs_key_parse_reads_datalog_keys(void)
{
    /* the keys of the sample datalog entries */
    char *t = NULL, *n = NULL, *i = NULL;
    int s = -2;
    CHECK_INT(
        rgw_bs_key_parse("cap-vbkt:d4429821-b933-48a8-971e-7eb5b6d20aa8.4129.3:4", &t, &n, &i, &s),
        0);
    CHECK_STR(t, "");
    CHECK_STR(n, "cap-vbkt");
    CHECK_STR(i, "d4429821-b933-48a8-971e-7eb5b6d20aa8.4129.3");
    CHECK_INT(s, 4);
    free(t);
    free(n);
    free(i);
}

static void test_rgw__bs_key_parse_rejects_bad_keys(void)
{
    static const char *const bad[] = {
        "",
        "cap-bkt",
        "acme/cap-bkt",
        ":" INSTANCE,
        "acme/:" INSTANCE,
        "cap-bkt:",
        "cap-bkt::3",
        "cap-bkt:" INSTANCE ":",
        "cap-bkt:" INSTANCE ":x",
        "cap-bkt:" INSTANCE ":3x",
        "cap-bkt:" INSTANCE ":3:4",
        "cap-bkt:" INSTANCE ":-1",
        "cap-bkt:" INSTANCE ":+3",
        "cap-bkt:" INSTANCE ": 3",
        "cap-bkt:" INSTANCE ":65536",
        "cap-bkt:" INSTANCE ":99999999999999999999",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        char *t = (char *) "x", *n = (char *) "x", *i = (char *) "x";
        int s = 7;
        int r = rgw_bs_key_parse(bad[k], &t, &n, &i, &s);
        if (r != -EINVAL)
            printf("# accepted \"%s\"\n", bad[k]);
        CHECK_INT(r, -EINVAL);
        CHECK(t == NULL && n == NULL && i == NULL);
        CHECK(strstr(err_get(), "bucket shard key") != NULL);
    }
}

/* ------------------------------------------------------------ listing */

/* Written from rgw-sync-protocol.md §1.4 and RGW's send_versioned_response
 * (no capture yet): IsTruncated and IsLatest are strings, IsDeleteMarker a
 * bool, ETag quoted, RgwxMtime ns ISO; a system request's answer. */
static const char listing_unversioned[] =
    "{\"Name\":\"cap-bkt\",\"Prefix\":\"\",\"KeyMarker\":\"\",\"VersionIdMarker\":\"\","
    "\"MaxKeys\":1000,\"IsTruncated\":\"false\",\"Entries\":["
    "{\"IsDeleteMarker\":false,\"Key\":\"big40.bin\",\"VersionId\":\"null\",\"IsLatest\":\"true\","
    "\"LastModified\":\"2026-11-21T16:01:14.639Z\","
    "\"ETag\":\"\\\"282c6a83e32aca701b4032e8650bde07-5\\\"\",\"Size\":41943040,"
    "\"StorageClass\":\"STANDARD\",\"Owner\":{\"ID\":\"src\",\"DisplayName\":\"src\"},"
    "\"VersionedEpoch\":0,\"RgwxTag\":\"d4429821-b933-48a8-971e-7eb5b6d20aa8.4127.99\","
    "\"RgwxMtime\":\"2026-11-21T16:01:14.639083722Z\",\"Type\":\"Normal\"},"
    "{\"IsDeleteMarker\":false,\"Key\":\"small.bin\",\"VersionId\":\"null\",\"IsLatest\":\"true\","
    "\"LastModified\":\"2026-11-21T16:01:17.469Z\","
    "\"ETag\":\"\\\"8ce4b16b22b58894aa86c421e8759df3\\\"\",\"Size\":1,"
    "\"StorageClass\":\"STANDARD\",\"Owner\":{\"ID\":\"src\",\"DisplayName\":\"src\"},"
    "\"VersionedEpoch\":0,\"RgwxTag\":\"d4429821-b933-48a8-971e-7eb5b6d20aa8.4127.100\","
    "\"RgwxMtime\":\"2026-11-21T16:01:17.469044317Z\",\"Type\":\"Normal\"}]}";

static void test_rgw__obj_page_unversioned_listing_parses(void)
{
    struct rgw_obj_page p;
    CHECK_INT(rgw_parse_obj_page(listing_unversioned, strlen(listing_unversioned), &p), 0);
    CHECK(!p.truncated); /* "false" as a string */
    CHECK_INT(p.n, 2);
    const struct rgw_obj *o = &p.objs[0];
    CHECK_STR(o->key, "big40.bin");
    CHECK_STR(o->version_id, "null");
    CHECK(!o->delete_marker);
    CHECK(o->is_latest);
    CHECK_STR(o->etag, "282c6a83e32aca701b4032e8650bde07-5"); /* quotes gone */
    CHECK_INT(o->size, 41943040);
    CHECK_STR(o->mtime, "2026-11-21T16:01:14.639083722Z"); /* RgwxMtime wins */
    CHECK_INT(o->versioned_epoch, 0);
    CHECK_STR(o->owner, "src");
    CHECK_STR(p.objs[1].key, "small.bin");
    CHECK_STR(p.objs[1].etag, "8ce4b16b22b58894aa86c421e8759df3");
    rgw_obj_page_finish(&p);
    CHECK(all_zero(&p, sizeof(p)));
}

static void test_rgw__obj_page_versioned_listing_with_delete_marker(void)
{
    /* written: the versioned bucket's "x" after the delete marker, as a
     * non-system answer (no Rgwx*: LastModified is the mtime) */
    static const char body[] =
        "{\"Name\":\"cap-vbkt\",\"IsTruncated\":true,\"Entries\":["
        "{\"IsDeleteMarker\":true,\"Key\":\"x\",\"VersionId\":\"PbmTPMdxijluuG1ja9SN7tzPJSZIgrV\","
        "\"IsLatest\":\"true\",\"LastModified\":\"2026-11-21T16:01:23.428Z\","
        "\"Owner\":{\"ID\":\"src\",\"DisplayName\":\"src\"},\"VersionedEpoch\":5},"
        "{\"IsDeleteMarker\":\"false\",\"Key\":\"x\","
        "\"VersionId\":\"b.qjzHW7mN4j2abD4EJ-Wisteskw9od\","
        "\"IsLatest\":false,\"LastModified\":\"2026-11-21T16:01:22.581Z\",\"ETag\":\"unquoted\","
        "\"Size\":\"7\",\"VersionedEpoch\":3}]}";
    struct rgw_obj_page p;
    CHECK_INT(rgw_parse_obj_page(body, strlen(body), &p), 0);
    CHECK(p.truncated);
    CHECK_INT(p.n, 2);
    CHECK(p.objs[0].delete_marker);
    CHECK(p.objs[0].is_latest);
    CHECK_STR(p.objs[0].etag, "");
    CHECK_INT(p.objs[0].size, 0);
    CHECK_STR(p.objs[0].mtime, "2026-11-21T16:01:23.428Z");
    CHECK_INT(p.objs[0].versioned_epoch, 5);
    CHECK(!p.objs[1].delete_marker);
    CHECK(!p.objs[1].is_latest);
    CHECK_STR(p.objs[1].version_id, "b.qjzHW7mN4j2abD4EJ-Wisteskw9od");
    CHECK_STR(p.objs[1].etag, "unquoted");
    CHECK_INT(p.objs[1].size, 7);
    CHECK_STR(p.objs[1].owner, ""); /* no Owner */
    rgw_obj_page_finish(&p);

    static const char empty[] = "{\"IsTruncated\":\"false\",\"Entries\":[]}";
    CHECK_INT(rgw_parse_obj_page(empty, strlen(empty), &p), 0);
    CHECK_INT(p.n, 0);
    CHECK(!p.truncated);
    rgw_obj_page_finish(&p);
}

static void test_rgw__obj_page_wrong_shape_is_retryable(void)
{
    static const char *const bad[] = {
        "[]",
        "{}",
        /* objs-container=false: entries under "Versions"; we always ask true */
        "{\"IsTruncated\":\"false\",\"Versions\":[{\"Key\":\"x\"}]}",
        "{\"Entries\":{}}",
        "{\"Entries\":[{\"Key\":\"a\"},{\"Size\":1}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rgw_obj_page p;
        err_clear();
        CHECK_INT(rgw_parse_obj_page(bad[i], strlen(bad[i]), &p), -EAGAIN);
        CHECK(all_zero(&p, sizeof(p)));
        CHECK(detail_has("bucket shard listing"));
    }
}

/* ------------------------------------------------------ cut-short bodies */

enum parser { P_DL_INFO, P_DL_PAGE, P_BL_INFO, P_BL_PAGE, P_BUCKET, P_OBJ_PAGE };

/* One parse of body[0..len) by p; on success the result is freed. The
 * returned code is the parser's; out must be zero after an error. */
static int parse_with(enum parser p, const char *body, size_t len, bool *zero_after_error)
{
    union {
        struct rgw_dl_info dli;
        struct rgw_dl_page dlp;
        struct rgw_bl_info bli;
        struct rgw_bl_page blp;
        struct rgw_bucket b;
        struct rgw_obj_page op;
    } u;
    int r = -1;
    memset(&u, 0x5a, sizeof(u));
    switch (p) {
    case P_DL_INFO:
        r = rgw_parse_dl_info(body, len, &u.dli);
        if (r == 0)
            rgw_dl_info_finish(&u.dli);
        *zero_after_error = all_zero(&u.dli, sizeof(u.dli));
        break;
    case P_DL_PAGE:
        r = rgw_parse_dl_page(body, len, &u.dlp);
        if (r == 0)
            rgw_dl_page_finish(&u.dlp);
        *zero_after_error = all_zero(&u.dlp, sizeof(u.dlp));
        break;
    case P_BL_INFO:
        r = rgw_parse_bl_info(body, len, &u.bli);
        if (r == 0)
            rgw_bl_info_finish(&u.bli);
        *zero_after_error = all_zero(&u.bli, sizeof(u.bli));
        break;
    case P_BL_PAGE:
        r = rgw_parse_bl_page(body, len, &u.blp);
        if (r == 0)
            rgw_bl_page_finish(&u.blp);
        *zero_after_error = all_zero(&u.blp, sizeof(u.blp));
        break;
    case P_BUCKET:
        r = rgw_parse_bucket_instance(body, len, &u.b);
        if (r == 0)
            rgw_bucket_finish(&u.b);
        *zero_after_error = all_zero(&u.b, sizeof(u.b));
        break;
    case P_OBJ_PAGE:
        r = rgw_parse_obj_page(body, len, &u.op);
        if (r == 0)
            rgw_obj_page_finish(&u.op);
        *zero_after_error = all_zero(&u.op, sizeof(u.op));
        break;
    }
    return r;
}

/* Every proper prefix of body (trailing whitespace aside, which a complete
 * document may lack) is -EAGAIN with a detail and leaves out zeroed; the
 * whole body parses. Each prefix sits in a buffer of exactly its size, so
 * a read past len is a valgrind error. One CHECK per property, not per
 * cut, to keep the TAP output readable. */
static void check_every_cut(enum parser p, const char *body, size_t len)
{
    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == ' '))
        len--;
    bool zero = false;
    CHECK_INT(parse_with(p, body, len, &zero), 0);
    size_t not_eagain = 0, not_zero = 0, no_detail = 0;
    for (size_t cut = 0; cut < len; cut++) {
        char *prefix = malloc(cut ? cut : 1);
        if (!prefix)
            exit(1);
        memcpy(prefix, body, cut);
        err_clear();
        int r = parse_with(p, prefix, cut, &zero);
        if (r != -EAGAIN) {
            if (not_eagain++ == 0)
                printf("# cut %zu of %zu: %d\n", cut, len, r);
        } else if (!zero) {
            not_zero++;
        } else if (!strstr(err_get(), "unreadable JSON")) {
            if (no_detail++ == 0)
                printf("# cut %zu: detail \"%s\"\n", cut, err_get());
        }
        free(prefix);
    }
    CHECK_INT(not_eagain, 0);
    CHECK_INT(not_zero, 0);
    CHECK_INT(no_detail, 0);
}

static void check_every_cut_of(enum parser p, const char *file)
{
    size_t len;
    char *body = slurp(file, &len);
    printf("# %s\n", file);
    check_every_cut(p, body, len);
    free(body);
}

static void test_rgw__truncated_json_is_retryable_at_every_cut(void)
{
    check_every_cut_of(P_DL_INFO, "dl_info_fifo.json");
    check_every_cut_of(P_DL_INFO, "dl_info_omap.json");
    check_every_cut_of(P_DL_PAGE, "dl_list_extra_info.json");
    check_every_cut_of(P_DL_PAGE, "dl_list_after_last.json");
    check_every_cut_of(P_BL_INFO, "bl_info_bucket.json");
    check_every_cut_of(P_BL_INFO, "bl_info_shard.json");
    check_every_cut_of(P_BL_PAGE, "bl_list_shard_full_entry.json");
    check_every_cut_of(P_BL_PAGE, "bl_list_bucket.json");
    check_every_cut_of(P_BL_PAGE, "bl_list_versioned.json");
    check_every_cut_of(P_BUCKET, "bucket_instance_get.json");
    check_every_cut(P_OBJ_PAGE, listing_unversioned, strlen(listing_unversioned));
}

static void test_rgw__empty_or_trailing_garbage_body_is_retryable(void)
{
    bool zero = false;
    /* no body at all (a 200 with nothing) */
    for (int p = P_DL_INFO; p <= P_OBJ_PAGE; p++) {
        err_clear();
        CHECK_INT(parse_with((enum parser) p, NULL, 0, &zero), -EAGAIN);
        CHECK(zero);
        CHECK(detail_has("unreadable JSON"));
    }
    /* two documents, or an HTML error page after a good one */
    static const char two[] = "[][]";
    CHECK_INT(parse_with(P_BL_PAGE, two, strlen(two), &zero), -EAGAIN);
    static const char html[] = "{\"marker\":\"\",\"truncated\":false,\"entries\":[]}<html>";
    CHECK_INT(parse_with(P_DL_PAGE, html, strlen(html), &zero), -EAGAIN);
    CHECK(zero);
    /* len is honoured: the rest of the buffer is not read */
    static const char longer[] = "{\"max_marker\":\"00000000002.9.6\"}GARBAGE";
    CHECK_INT(parse_with(P_BL_INFO, longer, strlen(longer) - 7, &zero), 0);
}

/* rgw_datalog_shard_of(): as the lab's radosgw 16.2.15 logged bucket
 * "hashcheck-1" (11 index shards) in 128 datalog shards: shard k in 112 + k;
 * the integration test checks it on every run against the real log. */
static void test_rgw__datalog_shard_of_is_rgws_choose_oid(void)
{
    for (int k = 0; k < 11; k++)
        CHECK_INT(rgw_datalog_shard_of("hashcheck-1", k, 128), 112 + k);
    /* unsharded (-1) logs where index shard 0 does */
    CHECK_INT(rgw_datalog_shard_of("hashcheck-1", -1, 128), 112);
    /* past the last shard it wraps */
    CHECK_INT(rgw_datalog_shard_of("hashcheck-1", 16, 128), 0);
    CHECK_INT(rgw_datalog_shard_of("hashcheck-1", 20, 128), 4);
    /* ceph_str_hash_linux by hand: "" is 0; "a" is (97*16 + 6) * 11 = 17138 */
    CHECK_INT(rgw_datalog_shard_of("", 0, 128), 0);
    CHECK_INT(rgw_datalog_shard_of("a", 0, 128), 17138 % 128);
    CHECK_INT(rgw_datalog_shard_of("a", 0, 1), 0);
    /* bytes above 0x7f hash unsigned: "\xff" is (255*16 + 15) * 11 = 45045 */
    CHECK_INT(rgw_datalog_shard_of("\xff", 0, 1000), 45045 % 1000);
}

int main(void)
{
    RUN(test_rgw__dl_info_reads_fifo_omap_and_empty_shards);
    RUN(test_rgw__dl_list_extra_info_sample_parses);
    RUN(test_rgw__dl_list_empty_page_keeps_marker_empty);
    RUN(test_rgw__dl_markers_of_every_backing_pass_unchanged);
    RUN(test_rgw__dl_list_quincy_fields_are_ignored);
    RUN(test_rgw__dl_list_without_extra_info_is_retryable_shape_error);
    RUN(test_rgw__dl_wrong_shape_is_retryable);
    RUN(test_rgw__bl_info_whole_bucket_keeps_composite_marker);
    RUN(test_rgw__bl_info_single_shard_marker_is_bare);
    RUN(test_rgw__bl_info_unsharded_bucket_loses_shard_prefix);
    RUN(test_rgw__bl_info_syncstopped_as_string_or_bool);
    RUN(test_rgw__bl_list_full_entry_parses_every_field);
    RUN(test_rgw__bl_list_op_ids_lose_shard_prefix);
    RUN(test_rgw__bl_list_versioned_ops_parse_into_enum);
    RUN(test_rgw__bl_list_every_op_name_and_pending_state);
    RUN(test_rgw__bl_list_quincy_entries_wrapper_accepted);
    RUN(test_rgw__bl_wrong_shape_is_retryable);
    RUN(test_rgw__index_key_unescapes_and_flags_namespaces);
    RUN(test_rgw__bucket_instance_sample_parses);
    RUN(test_rgw__bucket_instance_tenanted_versioned_unsharded);
    RUN(test_rgw__bucket_instance_wrong_shape_is_retryable);
    RUN(test_rgw__bs_key_round_trips);
    RUN(test_rgw__bs_key_parse_reads_datalog_keys);
    RUN(test_rgw__bs_key_parse_rejects_bad_keys);
    RUN(test_rgw__obj_page_unversioned_listing_parses);
    RUN(test_rgw__obj_page_versioned_listing_with_delete_marker);
    RUN(test_rgw__obj_page_wrong_shape_is_retryable);
    RUN(test_rgw__truncated_json_is_retryable_at_every_cut);
    RUN(test_rgw__empty_or_trailing_garbage_body_is_retryable);
    RUN(test_rgw__datalog_shard_of_is_rgws_choose_oid);
    return t_done();
}
