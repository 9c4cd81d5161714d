/* S3 XML: every real RGW 16 sample in tests/data/xml-rgw16, plus crafted
 * documents for what RGW won't send on demand (200 + <Error>, keep-alive
 * whitespace, truncation, garbage, AWS-only fields) and builder round trips
 * through libxml2 itself. */
#include "src/http/xml.h"

#include "src/err.h"
#include "tests/testlib.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define NS   " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static char *load(const char *name, size_t *len)
{
    const char *dir = getenv("TEST_DATA");
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/xml-rgw16/%s", dir ? dir : "tests/data", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("# cannot open %s\n", path);
        *len = 0;
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            char *p = realloc(buf, cap);
            if (!p)
                abort();
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (!got)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

static bool has(const char *haystack, const char *needle)
{
    return haystack && strstr(haystack, needle) != NULL;
}

/* ---- the real RGW samples ---- */

static void test_xml__rgw_error_nosuchkey(void)
{
    size_t len;
    char *body = load("error_nosuchkey.xml", &len);
    struct xml_error e;
    CHECK_INT(xml_parse_error(&e, body, len), 0);
    CHECK_STR(e.code, "NoSuchKey");
    CHECK_STR(e.message, "");
    CHECK_STR(e.request_id, "tx00000080d72c8b5a0115d-006b01bbfb-100e-default");
    CHECK(e.region == NULL);
    CHECK(e.endpoint == NULL);
    xml_error_finish(&e);
    CHECK(e.code == NULL);
    xml_error_finish(&e); /* twice is fine */

    char *root;
    CHECK_INT(xml_root_name(&root, body, len), 0);
    CHECK_STR(root, "Error");
    free(root);

    /* Not a CompleteMultipartUploadResult, so a 200 carrying it is -EIO. */
    struct xml_complete c;
    err_clear();
    CHECK_INT(xml_parse_complete(&c, body, len), -EIO);
    CHECK(has(err_get(), "NoSuchKey"));
    CHECK(c.etag == NULL && c.key == NULL);
    free(body);
}

static void test_xml__rgw_initiate(void)
{
    size_t len;
    char *body = load("initiate.xml", &len);
    char *id = NULL;
    CHECK_INT(xml_parse_initiate(&id, body, len), 0);
    CHECK_STR(id, "2~iG7JQV2ntNhRrVI7Z2PzrI6f2H-Sp7T");
    free(id);

    char *root;
    CHECK_INT(xml_root_name(&root, body, len), 0);
    CHECK_STR(root, "InitiateMultipartUploadResult");
    free(root);

    struct xml_error e;
    CHECK_INT(xml_parse_error(&e, body, len), -ENOMSG);
    CHECK(e.code == NULL);
    free(body);
}

static void test_xml__rgw_list_parts_page1(void)
{
    size_t len;
    char *body = load("list_parts.xml", &len);
    struct xml_list_parts l;
    CHECK_INT(xml_parse_list_parts(&l, body, len), 0);
    CHECK_INT(l.nparts, 2);
    CHECK(l.truncated);
    CHECK_INT(l.next_marker, 2);
    if (l.nparts == 2) {
        CHECK_INT(l.parts[0].number, 1);
        CHECK_STR(l.parts[0].etag, "ffc88b4ca90a355f8ddba6b2c3b2af5c");
        CHECK_INT(l.parts[0].size, 5);
        CHECK_INT(l.parts[1].number, 2);
        CHECK_STR(l.parts[1].etag, "d067a0fa9dc61a6e7195ca99696b5a89");
        CHECK_INT(l.parts[1].size, 5);
    }
    xml_list_parts_finish(&l);
    CHECK(l.parts == NULL && l.nparts == 0);
    free(body);
}

static void test_xml__rgw_list_parts_page2(void)
{
    size_t len;
    char *body = load("list_parts_page2.xml", &len);
    struct xml_list_parts l;
    CHECK_INT(xml_parse_list_parts(&l, body, len), 0);
    CHECK_INT(l.nparts, 1);
    CHECK(!l.truncated);
    CHECK_INT(l.next_marker, 3);
    if (l.nparts == 1) {
        CHECK_INT(l.parts[0].number, 3);
        CHECK_STR(l.parts[0].etag, "49dcd91231f801159e893fb5c6674985");
        CHECK_INT(l.parts[0].size, 5);
    }
    xml_list_parts_finish(&l);
    free(body);
}

static void test_xml__rgw_list_uploads(void)
{
    size_t len;
    char *body = load("list_uploads.xml", &len);
    struct xml_list_uploads l;
    CHECK_INT(xml_parse_list_uploads(&l, body, len), 0);
    CHECK_INT(l.nuploads, 1);
    CHECK(!l.truncated);
    CHECK_STR(l.next_key_marker, "mp2");
    CHECK_STR(l.next_upload_id_marker, "2~iG7JQV2ntNhRrVI7Z2PzrI6f2H-Sp7T");
    if (l.nuploads == 1) {
        CHECK_STR(l.uploads[0].key, "mp2");
        CHECK_STR(l.uploads[0].upload_id, "2~iG7JQV2ntNhRrVI7Z2PzrI6f2H-Sp7T");
        CHECK_STR(l.uploads[0].initiated, "2026-11-21T15:42:51.020Z");
    }
    xml_list_uploads_finish(&l);
    free(body);
}

static void test_xml__rgw_list_v2(void)
{
    size_t len;
    char *body = load("list_v2.xml", &len);
    struct xml_list_objects l;
    CHECK_INT(xml_parse_list_objects(&l, body, len), 0);
    CHECK_INT(l.nobjects, 2);
    CHECK_INT(l.nprefixes, 0);
    CHECK(l.truncated);
    CHECK(!l.url_encoded);
    CHECK_STR(l.next_token, "big-copy");
    if (l.nobjects == 2) {
        CHECK_STR(l.objects[0].key, "big");
        CHECK_INT(l.objects[0].size, 67108871);
        CHECK_STR(l.objects[0].etag, "282c6a83e32aca701b4032e8650bde07-9");
        CHECK_STR(l.objects[0].last_modified, "2026-11-21T15:42:15.269Z");
        CHECK_STR(l.objects[0].storage_class, "STANDARD");
        CHECK_STR(l.objects[1].key, "big-copy");
        CHECK_INT(l.objects[1].size, 67108871);
        CHECK_STR(l.objects[1].etag, "46519db6738265c8abb299d18cc6c6de");
        CHECK_STR(l.objects[1].last_modified, "2026-11-21T15:42:16.276Z");
    }
    xml_list_objects_finish(&l);
    CHECK(l.objects == NULL && l.next_token == NULL);
    free(body);
}

static void test_xml__rgw_list_v2_urlenc_is_decoded(void)
{
    size_t len;
    char *body = load("list_v2_urlenc.xml", &len);
    struct xml_list_objects l;
    CHECK_INT(xml_parse_list_objects(&l, body, len), 0);
    CHECK(l.url_encoded);
    CHECK(!l.truncated);
    CHECK(l.next_token == NULL);
    CHECK_INT(l.nobjects, 1);
    if (l.nobjects == 1) {
        /* dir%2Fa%20b%2Bc%E2%82%AC!.txt */
        CHECK_STR(l.objects[0].key, "dir/a b+c\xE2\x82\xAC!.txt");
        CHECK_INT(l.objects[0].size, 1);
        CHECK_STR(l.objects[0].etag, "8ce4b16b22b58894aa86c421e8759df3");
        CHECK_STR(l.objects[0].last_modified, "2026-11-21T15:40:53.482Z");
    }
    xml_list_objects_finish(&l);
    free(body);
}

static void test_xml__rgw_acl(void)
{
    size_t len;
    char *body = load("acl.xml", &len);
    struct xml_acl a;
    CHECK_INT(xml_parse_acl(&a, body, len), 0);
    CHECK_STR(a.owner_id, "tester");
    CHECK_STR(a.owner_display_name, "tester");
    CHECK_INT(a.ngrants, 2);
    if (a.ngrants == 2) {
        CHECK_INT(a.grants[0].type, XML_GRANTEE_URI);
        CHECK_STR(a.grants[0].id, "http://acs.amazonaws.com/groups/global/AllUsers");
        CHECK(a.grants[0].display_name == NULL);
        CHECK_STR(a.grants[0].permission, "READ");
        CHECK_INT(a.grants[1].type, XML_GRANTEE_ID);
        CHECK_STR(a.grants[1].id, "tester");
        CHECK_STR(a.grants[1].display_name, "tester");
        CHECK_STR(a.grants[1].permission, "FULL_CONTROL");
    }
    xml_acl_finish(&a);
    CHECK(a.grants == NULL && a.owner_id == NULL);
    free(body);
}

/* Each sample through a parser for another document: -EBADMSG, nothing kept. */
static void test_xml__wrong_root_is_badmsg(void)
{
    size_t len;
    char *body = load("list_v2.xml", &len);
    char *id = (char *)"sentinel";
    CHECK_INT(xml_parse_initiate(&id, body, len), -EBADMSG);
    CHECK(id == NULL);
    CHECK(has(err_get(), "ListBucketResult"));
    struct xml_list_parts p;
    CHECK_INT(xml_parse_list_parts(&p, body, len), -EBADMSG);
    CHECK(p.parts == NULL && p.nparts == 0);
    struct xml_acl a;
    CHECK_INT(xml_parse_acl(&a, body, len), -EBADMSG);
    struct xml_tagging t;
    CHECK_INT(xml_parse_tagging(&t, body, len), -EBADMSG);
    struct xml_list_uploads u;
    CHECK_INT(xml_parse_list_uploads(&u, body, len), -EBADMSG);
    struct xml_complete c;
    CHECK_INT(xml_parse_complete(&c, body, len), -EBADMSG);
    CHECK(has(err_get(), "CompleteMultipartUploadResult"));
    free(body);

    body = load("list_parts.xml", &len);
    struct xml_list_objects o;
    CHECK_INT(xml_parse_list_objects(&o, body, len), -EBADMSG);
    CHECK(o.objects == NULL && o.nobjects == 0);
    free(body);
}

/* ---- truncation: every prefix of every sample ---- */

typedef int (*parse_fn)(const char *body, size_t len);

static int p_error(const char *b, size_t n)
{
    struct xml_error e;
    int rc = xml_parse_error(&e, b, n);
    xml_error_finish(&e);
    return rc;
}
static int p_initiate(const char *b, size_t n)
{
    char *id;
    int rc = xml_parse_initiate(&id, b, n);
    free(id);
    return rc;
}
static int p_parts(const char *b, size_t n)
{
    struct xml_list_parts l;
    int rc = xml_parse_list_parts(&l, b, n);
    xml_list_parts_finish(&l);
    return rc;
}
static int p_uploads(const char *b, size_t n)
{
    struct xml_list_uploads l;
    int rc = xml_parse_list_uploads(&l, b, n);
    xml_list_uploads_finish(&l);
    return rc;
}
static int p_objects(const char *b, size_t n)
{
    struct xml_list_objects l;
    int rc = xml_parse_list_objects(&l, b, n);
    xml_list_objects_finish(&l);
    return rc;
}
static int p_acl(const char *b, size_t n)
{
    struct xml_acl a;
    int rc = xml_parse_acl(&a, b, n);
    xml_acl_finish(&a);
    return rc;
}
static int p_root(const char *b, size_t n)
{
    char *r;
    int rc = xml_root_name(&r, b, n);
    free(r);
    return rc;
}

static const struct {
    const char *file;
    parse_fn parse;
} samples[] = {
    {"acl.xml", p_acl},          {"error_nosuchkey.xml", p_error},  {"initiate.xml", p_initiate},
    {"list_parts.xml", p_parts}, {"list_parts_page2.xml", p_parts}, {"list_uploads.xml", p_uploads},
    {"list_v2.xml", p_objects},  {"list_v2_urlenc.xml", p_objects},
};

/* Each sample ends with its root's '>', so no strict prefix is a document:
 * all must fail with -EBADMSG and detail, none may crash or leak. Each
 * prefix lives in its own exact-size heap block so valgrind/ASan see any
 * read past it. */
static void test_xml__every_prefix_of_every_sample_fails_cleanly(void)
{
    for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
        size_t len;
        char *body = load(samples[s].file, &len);
        CHECK(body != NULL && len > 0);
        CHECK_INT(samples[s].parse(body, len), 0);
        size_t bad = 0;
        for (size_t cut = 0; cut < len; cut++) {
            char *prefix = malloc(cut ? cut : 1);
            memcpy(prefix, body, cut);
            err_clear();
            int rc = samples[s].parse(prefix, cut);
            int rc_root = p_root(prefix, cut);
            if (rc != -EBADMSG || rc_root != -EBADMSG || !*err_get()) {
                if (!bad)
                    printf("# %s cut at %zu: rc %d root rc %d err \"%s\"\n", samples[s].file, cut,
                           rc, rc_root, err_get());
                bad++;
            }
            free(prefix);
        }
        printf("# %s: %zu prefixes\n", samples[s].file, len);
        CHECK_INT(bad, 0);
        free(body);
    }
}

/* ---- crafted documents ---- */

static void test_xml__complete_200_with_error_is_eio(void)
{
    const char *body = DECL "<Error><Code>InternalError</Code><Message>We encountered an internal "
                            "error. Please try again.</Message><RequestId>tx-42</RequestId>"
                            "<HostId>h</HostId></Error>";
    struct xml_complete c;
    err_clear();
    CHECK_INT(xml_parse_complete(&c, body, strlen(body)), -EIO);
    CHECK(has(err_get(), "InternalError"));
    CHECK(has(err_get(), "internal error"));
    CHECK(has(err_get(), "tx-42"));
    CHECK(c.location == NULL && c.etag == NULL);

    /* S3 sends the 200 at once, then keep-alive spaces until the verdict. */
    const char *late = "\n  \n  \n  " DECL "\n<Error><Code>SlowDown</Code></Error>";
    CHECK_INT(xml_parse_complete(&c, late, strlen(late)), -EIO);
    CHECK(has(err_get(), "SlowDown"));

    /* An <Error> that is itself broken is malformed, not an S3 error. */
    const char *broken = DECL "<Error><Code>InternalError</Code>";
    CHECK_INT(xml_parse_complete(&c, broken, strlen(broken)), -EBADMSG);
}

static void test_xml__complete_result(void)
{
    /* RGW 16 sends an empty ETag. */
    const char *rgw = DECL "<CompleteMultipartUploadResult" NS
                           "><Location>http://rgw:8000/examplebucket/mp2</Location>"
                           "<Bucket>examplebucket</Bucket><Key>mp2</Key><ETag></ETag>"
                           "</CompleteMultipartUploadResult>";
    struct xml_complete c;
    CHECK_INT(xml_parse_complete(&c, rgw, strlen(rgw)), 0);
    CHECK_STR(c.location, "http://rgw:8000/examplebucket/mp2");
    CHECK_STR(c.bucket, "examplebucket");
    CHECK_STR(c.key, "mp2");
    CHECK_STR(c.etag, "");
    xml_complete_finish(&c);
    CHECK(c.key == NULL);

    const char *aws = "   " DECL "\n\n<CompleteMultipartUploadResult" NS
                      ">\n  <Location>https://b.s3.amazonaws.com/a%26b</Location>\n"
                      "  <Bucket>b</Bucket>\n  <Key>a&amp;b</Key>\n"
                      "  <ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>\n"
                      "</CompleteMultipartUploadResult>\n";
    CHECK_INT(xml_parse_complete(&c, aws, strlen(aws)), 0);
    CHECK_STR(c.key, "a&b");
    CHECK_STR(c.etag, "3858f62230ac3c915f300c664312c11f-9");
    xml_complete_finish(&c);

    const char *other = DECL "<Foo/>";
    CHECK_INT(xml_parse_complete(&c, other, strlen(other)), -EBADMSG);
    CHECK(has(err_get(), "Foo"));
}

static void test_xml__leading_whitespace_is_skipped(void)
{
    size_t len;
    char *sample = load("initiate.xml", &len);
    const char *pad = " \t\r\n\n\n   \r\n";
    size_t plen = strlen(pad);
    char *body = malloc(plen + len);
    memcpy(body, pad, plen);
    memcpy(body + plen, sample, len);
    char *id = NULL;
    CHECK_INT(xml_parse_initiate(&id, body, plen + len), 0);
    CHECK_STR(id, "2~iG7JQV2ntNhRrVI7Z2PzrI6f2H-Sp7T");
    free(id);
    free(body);
    free(sample);

    /* Only whitespace is no document. */
    CHECK_INT(xml_parse_initiate(&id, pad, plen), -EBADMSG);
    CHECK(has(err_get(), "empty"));
}

static void test_xml__empty_body(void)
{
    char *root = NULL;
    CHECK_INT(xml_root_name(&root, "", 0), -EBADMSG);
    CHECK(root == NULL);
    CHECK_INT(xml_root_name(&root, NULL, 0), -EBADMSG);
    struct xml_error e;
    CHECK_INT(xml_parse_error(&e, "", 0), -EBADMSG);
    struct xml_list_objects l;
    CHECK_INT(xml_parse_list_objects(&l, NULL, 0), -EBADMSG);
    CHECK(has(err_get(), "empty"));
}

static void test_xml__garbage_is_badmsg(void)
{
    static const char *const docs[] = {
        "not xml at all",
        "<<<>>>",
        "{\"json\": true}",
        "<ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Contents></ListBucketResult>",
        "<ListBucketResult></ListBucketResult>trailing",
        "<ListBucketResult></ListBucketResult><ListBucketResult/>",
        "<ListBucketResult><Key>&bogus;</Key></ListBucketResult>",
        "<ListBucketResult><Key>\xff\xfe</Key></ListBucketResult>",
        "<ListBucketResult><Key>&#0;</Key></ListBucketResult>",
        DECL,
        DECL "<!-- only a comment -->",
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?><ListBucketResult/>",
        "<?xml version=\"1.0\" encoding=\"no-such-charset\"?><ListBucketResult/>",
        "<!DOCTYPE ListBucketResult [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<ListBucketResult><Contents><Key>&x;</Key></Contents></ListBucketResult>",
        "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
        "<ListBucketResult><Contents><Key>&b;</Key></Contents></ListBucketResult>",
        "<a:ListBucketResult><a:IsTruncated>true</a:IsTruncated></a:ListBucketResult>",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct xml_list_objects l;
        err_clear();
        int rc = xml_parse_list_objects(&l, docs[i], strlen(docs[i]));
        if (rc != -EBADMSG)
            printf("# doc %zu: rc %d\n", i, rc);
        CHECK_INT(rc, -EBADMSG);
        CHECK(*err_get() != '\0');
        CHECK(l.objects == NULL && l.next_token == NULL);
    }

    /* Binary noise with NULs, from a fixed seed. */
    uint32_t x = 2463534242u;
    size_t bad = 0;
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + (size_t)round * 3;
        char *buf = malloc(n);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = round % 2 ? "<>/&;a \"=?!"[x % 11] : (char)x;
        }
        buf[0] = '<';
        struct xml_list_objects l;
        if (xml_parse_list_objects(&l, buf, n) != -EBADMSG)
            bad++;
        free(buf);
    }
    CHECK_INT(bad, 0);
}

/* libxml2 would print parse errors on stderr; they must go to err_set(). */
static void test_xml__libxml2_prints_nothing_to_stderr(void)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    CHECK(tmp != NULL);
    if (!tmp)
        return;
    int saved = dup(2);
    (void)dup2(fileno(tmp), 2);
    static const char *const docs[] = {
        "<ListBucketResult><Key>a</Contents>",
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?><ListBucketResult/>",
        "<?xml version=\"1.0\" encoding=\"no-such-charset\"?><ListBucketResult/>",
        "<ListBucketResult><Key>\xff</Key></ListBucketResult>",
        "<ListBucketResult xmlns=\"relative\"><a:b/></ListBucketResult>",
        /* Conversion errors bypass the reader's handler (libxml2 2.9). Only
         * iconv modules without $ORIGIN deps: ld.so's strncmp over a RUNPATH
         * trips a valgrind false positive. */
        "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><ListBucketResult>\x81\xff\x81"
        "</ListBucketResult>",
        "<?xml version=\"1.0\" encoding=\"windows-1252\"?><ListBucketResult>a\x81"
        "b"
        "</ListBucketResult>",
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct xml_list_objects l;
        err_clear();
        int rc = xml_parse_list_objects(&l, docs[i], strlen(docs[i]));
        bool ok = rc == -EBADMSG && *err_get() && !strchr(err_get(), '\n');
        if (!ok)
            printf("# doc %zu: rc %d \"%s\"\n", i, rc, err_get());
        failed += ok;
        xml_list_objects_finish(&l);
    }
    fflush(stderr);
    (void)dup2(saved, 2);
    close(saved);
    (void)fseek(tmp, 0, SEEK_END);
    long size = ftell(tmp);
    fclose(tmp);
    CHECK_INT(failed, (int)(sizeof(docs) / sizeof(docs[0])));
    CHECK_INT(size, 0);
}

static void test_xml__too_big_is_efbig(void)
{
    size_t n = (size_t)XML_BODY_MAX + 1;
    char *big = malloc(n);
    CHECK(big != NULL);
    if (!big)
        return;
    memcpy(big, "<ListBucketResult>", 18);
    struct xml_list_objects l;
    CHECK_INT(xml_parse_list_objects(&l, big, n), -EFBIG);
    CHECK(has(err_get(), "cap"));
    char *root;
    CHECK_INT(xml_root_name(&root, big, n), -EFBIG);
    free(big);
}

static void test_xml__list_v1_next_marker_and_prefixes(void)
{
    const char *plain = DECL "<ListBucketResult" NS "><Name>b</Name><Prefix>d/</Prefix>"
                             "<Marker></Marker><NextMarker>d/x+y</NextMarker><MaxKeys>2</MaxKeys>"
                             "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
                             "<Contents><Key>d/a</Key><Size>0</Size></Contents>"
                             "<CommonPrefixes><Prefix>d/sub/</Prefix></CommonPrefixes>"
                             "<CommonPrefixes><Prefix>d/x+y/</Prefix></CommonPrefixes>"
                             "</ListBucketResult>";
    struct xml_list_objects l;
    CHECK_INT(xml_parse_list_objects(&l, plain, strlen(plain)), 0);
    CHECK(l.truncated);
    CHECK(!l.url_encoded);
    CHECK_STR(l.next_token, "d/x+y"); /* not encoded: '+' stays */
    CHECK_INT(l.nobjects, 1);
    CHECK_INT(l.nprefixes, 2);
    if (l.nobjects == 1) {
        CHECK_STR(l.objects[0].key, "d/a");
        CHECK_INT(l.objects[0].size, 0);
        CHECK(l.objects[0].etag == NULL);
    }
    if (l.nprefixes == 2) {
        CHECK_STR(l.prefixes[0], "d/sub/");
        CHECK_STR(l.prefixes[1], "d/x+y/");
    }
    xml_list_objects_finish(&l);

    /* AWS form-encodes (space as '+'); EncodingType may come last. */
    const char *enc = DECL "<ListBucketResult" NS "><NextMarker>d%2Fx%2By+z</NextMarker>"
                           "<IsTruncated>true</IsTruncated>"
                           "<Contents><Key>d%2Fa+b%26c</Key></Contents>"
                           "<CommonPrefixes><Prefix>d%2Fs%C3%A9%2F</Prefix></CommonPrefixes>"
                           "<EncodingType>url</EncodingType></ListBucketResult>";
    CHECK_INT(xml_parse_list_objects(&l, enc, strlen(enc)), 0);
    CHECK(l.url_encoded);
    CHECK_STR(l.next_token, "d/x+y z");
    if (l.nobjects == 1)
        CHECK_STR(l.objects[0].key, "d/a b&c");
    if (l.nprefixes == 1)
        CHECK_STR(l.prefixes[0], "d/s\xC3\xA9/");
    xml_list_objects_finish(&l);

    /* The v2 token is opaque: never decoded, and it wins over NextMarker. */
    const char *v2 = DECL "<ListBucketResult><EncodingType>url</EncodingType>"
                          "<NextMarker>m</NextMarker>"
                          "<NextContinuationToken>1%2Fabc+=</NextContinuationToken>"
                          "<IsTruncated>true</IsTruncated></ListBucketResult>";
    CHECK_INT(xml_parse_list_objects(&l, v2, strlen(v2)), 0);
    CHECK_STR(l.next_token, "1%2Fabc+=");
    CHECK_INT(l.nobjects, 0);
    xml_list_objects_finish(&l);

    /* An empty token means none. */
    const char *empty = DECL "<ListBucketResult><NextContinuationToken></NextContinuationToken>"
                             "<IsTruncated>false</IsTruncated></ListBucketResult>";
    CHECK_INT(xml_parse_list_objects(&l, empty, strlen(empty)), 0);
    CHECK(l.next_token == NULL);
    xml_list_objects_finish(&l);
}

static void test_xml__list_bad_values_are_badmsg(void)
{
    static const char *const docs[] = {
        "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>12a</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>18446744073709551616</Size></Contents>"
        "</ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size></Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
        "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a%2</Key></Contents>"
        "</ListBucketResult>",
        "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a%zz</Key></Contents>"
        "</ListBucketResult>",
        "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a%00b</Key></Contents>"
        "</ListBucketResult>",
        "<ListBucketResult><EncodingType>url</EncodingType><NextMarker>%</NextMarker>"
        "</ListBucketResult>",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct xml_list_objects l;
        int rc = xml_parse_list_objects(&l, docs[i], strlen(docs[i]));
        if (rc != -EBADMSG)
            printf("# doc %zu: rc %d\n", i, rc);
        CHECK_INT(rc, -EBADMSG);
        CHECK(l.objects == NULL && l.nobjects == 0 && l.prefixes == NULL);
    }
    const char *max = "<ListBucketResult><Contents><Key>k</Key><Size>18446744073709551615</Size>"
                      "</Contents></ListBucketResult>";
    struct xml_list_objects l;
    CHECK_INT(xml_parse_list_objects(&l, max, strlen(max)), 0);
    if (l.nobjects == 1)
        CHECK(l.objects[0].size == UINT64_MAX);
    xml_list_objects_finish(&l);
}

/* & < > arrive escaped (or in CDATA) and must come out as the real bytes;
 * a whitespace-only key survives XML_PARSE_NOBLANKS; prefixes and unknown
 * elements don't matter. */
static void test_xml__keys_with_markup_characters(void)
{
    const char *body =
        DECL "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
             "<s3:Contents><s3:Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</s3:Key>"
             "<s3:Owner><s3:ID>x</s3:ID><s3:Key>not-this</s3:Key></s3:Owner>"
             "<s3:Future><s3:Key>nor-this</s3:Key></s3:Future>"
             "</s3:Contents>"
             "<s3:Contents><s3:Key><![CDATA[x<y>&z]]></s3:Key></s3:Contents>"
             "<s3:Contents><s3:Key> </s3:Key></s3:Contents>"
             "<s3:Contents><s3:Key>p&#x20AC;q&#10;r</s3:Key></s3:Contents>"
             "<!-- a comment --><?pi ignored?>"
             "</s3:ListBucketResult>";
    struct xml_list_objects l;
    CHECK_INT(xml_parse_list_objects(&l, body, strlen(body)), 0);
    CHECK_INT(l.nobjects, 4);
    if (l.nobjects == 4) {
        CHECK_STR(l.objects[0].key, "a&b<c>d\"e'f");
        CHECK_STR(l.objects[1].key, "x<y>&z");
        CHECK_STR(l.objects[2].key, " ");
        CHECK_STR(l.objects[3].key, "p\xE2\x82\xACq\nr");
    }
    xml_list_objects_finish(&l);
}

/* Elements deeper than any S3 document are ignored; absurd depth is
 * refused by libxml2's own limit. */
static void test_xml__deep_nesting(void)
{
    const char *body = "<ListBucketResult><Contents><Key>k</Key><a><b><c><d><e><f><g><h>"
                       "<Key>deep</Key></h></g></f></e></d></c></b></a></Contents>"
                       "</ListBucketResult>";
    struct xml_list_objects l;
    CHECK_INT(xml_parse_list_objects(&l, body, strlen(body)), 0);
    CHECK_INT(l.nobjects, 1);
    if (l.nobjects == 1)
        CHECK_STR(l.objects[0].key, "k");
    xml_list_objects_finish(&l);

    size_t depth = 5000, n = 0;
    char *deep = malloc(depth * 7 + 64);
    n += (size_t)snprintf(deep, 64, "<ListBucketResult>");
    for (size_t i = 0; i < depth; i++) {
        memcpy(deep + n, "<a>", 3);
        n += 3;
    }
    for (size_t i = 0; i < depth; i++) {
        memcpy(deep + n, "</a>", 4);
        n += 4;
    }
    n += (size_t)snprintf(deep + n, 64, "</ListBucketResult>");
    CHECK_INT(xml_parse_list_objects(&l, deep, n), -EBADMSG);
    CHECK(has(err_get(), "depth"));
    free(deep);
}

static void test_xml__aws_error_with_region_and_endpoint(void)
{
    const char *auth =
        DECL "\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization "
             "header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"
             "</Message><Region>eu-west-1</Region><RequestId>656c76696e6727732072657175657374"
             "</RequestId><HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>"
             "</Error>";
    struct xml_error e;
    CHECK_INT(xml_parse_error(&e, auth, strlen(auth)), 0);
    CHECK_STR(e.code, "AuthorizationHeaderMalformed");
    CHECK(has(e.message, "expecting 'eu-west-1'"));
    CHECK_STR(e.region, "eu-west-1");
    CHECK_STR(e.request_id, "656c76696e6727732072657175657374");
    CHECK(e.endpoint == NULL);
    xml_error_finish(&e);

    const char *redirect = "<Error><Code>PermanentRedirect</Code><Message>The bucket you are "
                           "attempting to access must be addressed using the specified endpoint."
                           "</Message><Bucket>b</Bucket><Endpoint>b.s3.eu-west-1.amazonaws.com"
                           "</Endpoint><RequestId>R</RequestId></Error>";
    CHECK_INT(xml_parse_error(&e, redirect, strlen(redirect)), 0);
    CHECK_STR(e.code, "PermanentRedirect");
    CHECK_STR(e.endpoint, "b.s3.eu-west-1.amazonaws.com");
    CHECK(e.region == NULL);
    xml_error_finish(&e);

    const char *nocode = "<Error><Message>m</Message></Error>";
    CHECK_INT(xml_parse_error(&e, nocode, strlen(nocode)), -EBADMSG);
    CHECK(e.message == NULL);
    const char *notit = "<ListBucketResult/>";
    CHECK_INT(xml_parse_error(&e, notit, strlen(notit)), -ENOMSG);
}

static void test_xml__tagging(void)
{
    const char *body = DECL "<Tagging" NS "><TagSet>"
                            "<Tag><Key>project</Key><Value>rgw&amp;cloud</Value></Tag>"
                            "<Tag><Key>empty</Key><Value></Value></Tag>"
                            "<Tag><Key>novalue</Key></Tag>"
                            "<Tag><Key>a&lt;b&gt;</Key><Value>  spaced  </Value></Tag>"
                            "</TagSet></Tagging>";
    struct xml_tagging t;
    CHECK_INT(xml_parse_tagging(&t, body, strlen(body)), 0);
    CHECK_INT(t.ntags, 4);
    if (t.ntags == 4) {
        CHECK_STR(t.tags[0].key, "project");
        CHECK_STR(t.tags[0].value, "rgw&cloud");
        CHECK_STR(t.tags[1].key, "empty");
        CHECK_STR(t.tags[1].value, "");
        CHECK_STR(t.tags[2].value, "");
        CHECK_STR(t.tags[3].key, "a<b>");
        CHECK_STR(t.tags[3].value, "  spaced  ");
    }
    xml_tagging_finish(&t);
    CHECK(t.tags == NULL && t.ntags == 0);

    const char *none = "<Tagging><TagSet/></Tagging>";
    CHECK_INT(xml_parse_tagging(&t, none, strlen(none)), 0);
    CHECK_INT(t.ntags, 0);
    xml_tagging_finish(&t);

    const char *nokey = "<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>";
    CHECK_INT(xml_parse_tagging(&t, nokey, strlen(nokey)), -EBADMSG);
    CHECK(t.tags == NULL);
}

static void test_xml__acl_email_and_untyped_grantees(void)
{
    const char *body =
        "<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList>"
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xsi:type=\"AmazonCustomerByEmail\"><EmailAddress>a@b.c</EmailAddress></Grantee>"
        "<Permission>WRITE_ACP</Permission></Grant>"
        "<Grant><Grantee><URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI>"
        "</Grantee><Permission>READ_ACP</Permission></Grant>"
        "</AccessControlList></AccessControlPolicy>";
    struct xml_acl a;
    CHECK_INT(xml_parse_acl(&a, body, strlen(body)), 0);
    CHECK_STR(a.owner_id, "o");
    CHECK(a.owner_display_name == NULL);
    CHECK_INT(a.ngrants, 2);
    if (a.ngrants == 2) {
        CHECK_INT(a.grants[0].type, XML_GRANTEE_EMAIL);
        CHECK_STR(a.grants[0].id, "a@b.c");
        CHECK_STR(a.grants[0].permission, "WRITE_ACP");
        CHECK_INT(a.grants[1].type, XML_GRANTEE_URI);
        CHECK_STR(a.grants[1].id, "http://acs.amazonaws.com/groups/global/AuthenticatedUsers");
    }
    xml_acl_finish(&a);

    const char *unknown = "<AccessControlPolicy><AccessControlList><Grant>"
                          "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                          "xsi:type=\"Robot\"><ID>r</ID></Grantee><Permission>READ</Permission>"
                          "</Grant></AccessControlList></AccessControlPolicy>";
    CHECK_INT(xml_parse_acl(&a, unknown, strlen(unknown)), -EBADMSG);
    CHECK(a.grants == NULL && a.ngrants == 0);

    /* Typed as a user but carrying only a URI: no grantee to report. */
    const char *mismatch = "<AccessControlPolicy><AccessControlList><Grant>"
                           "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                           "xsi:type=\"CanonicalUser\"><URI>u</URI></Grantee>"
                           "<Permission>READ</Permission></Grant></AccessControlList>"
                           "</AccessControlPolicy>";
    CHECK_INT(xml_parse_acl(&a, mismatch, strlen(mismatch)), -EBADMSG);
    const char *noperm = "<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>i</ID>"
                         "</Grantee></Grant></AccessControlList></AccessControlPolicy>";
    CHECK_INT(xml_parse_acl(&a, noperm, strlen(noperm)), -EBADMSG);
}

static void test_xml__list_uploads_encoded_and_empty_markers(void)
{
    const char *body = DECL "<ListMultipartUploadsResult" NS "><Bucket>b</Bucket>"
                            "<EncodingType>url</EncodingType>"
                            "<NextKeyMarker>a%2Fb+c</NextKeyMarker>"
                            "<NextUploadIdMarker></NextUploadIdMarker>"
                            "<IsTruncated>true</IsTruncated>"
                            "<Upload><Key>a%2Fb+c</Key><UploadId>u1</UploadId></Upload>"
                            "<Upload><Key>z</Key><UploadId>u2</UploadId>"
                            "<Initiated>2026-01-01T00:00:00.000Z</Initiated></Upload>"
                            "</ListMultipartUploadsResult>";
    struct xml_list_uploads l;
    CHECK_INT(xml_parse_list_uploads(&l, body, strlen(body)), 0);
    CHECK(l.truncated);
    CHECK_STR(l.next_key_marker, "a/b c");
    CHECK(l.next_upload_id_marker == NULL);
    CHECK_INT(l.nuploads, 2);
    if (l.nuploads == 2) {
        CHECK_STR(l.uploads[0].key, "a/b c");
        CHECK(l.uploads[0].initiated == NULL);
        CHECK_STR(l.uploads[1].upload_id, "u2");
        CHECK_STR(l.uploads[1].initiated, "2026-01-01T00:00:00.000Z");
    }
    xml_list_uploads_finish(&l);

    const char *noid = "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload>"
                       "</ListMultipartUploadsResult>";
    CHECK_INT(xml_parse_list_uploads(&l, noid, strlen(noid)), -EBADMSG);
    CHECK(l.uploads == NULL);
}

static void test_xml__list_parts_bad_parts(void)
{
    static const char *const docs[] = {
        "<ListPartsResult><Part><ETag>\"e\"</ETag></Part></ListPartsResult>",
        "<ListPartsResult><Part><PartNumber>1</PartNumber></Part></ListPartsResult>",
        "<ListPartsResult><Part><PartNumber>2147483648</PartNumber><ETag>e</ETag></Part>"
        "</ListPartsResult>",
        "<ListPartsResult><NextPartNumberMarker>x</NextPartNumberMarker></ListPartsResult>",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct xml_list_parts l;
        CHECK_INT(xml_parse_list_parts(&l, docs[i], strlen(docs[i])), -EBADMSG);
        CHECK(l.parts == NULL && l.nparts == 0);
    }
    const char *empty = "<ListPartsResult><NextPartNumberMarker/><IsTruncated>false</IsTruncated>"
                        "</ListPartsResult>";
    struct xml_list_parts l;
    CHECK_INT(xml_parse_list_parts(&l, empty, strlen(empty)), 0);
    CHECK_INT(l.nparts, 0);
    CHECK_INT(l.next_marker, 0);
    xml_list_parts_finish(&l);
}

static void test_xml__initiate_without_upload_id(void)
{
    const char *body = "<InitiateMultipartUploadResult><UploadId></UploadId>"
                       "</InitiateMultipartUploadResult>";
    char *id = NULL;
    CHECK_INT(xml_parse_initiate(&id, body, strlen(body)), -EBADMSG);
    CHECK(id == NULL);
}

static void test_xml__finish_accepts_zeroed_and_null(void)
{
    struct xml_error e = {0};
    struct xml_list_parts p = {0};
    struct xml_list_objects o = {0};
    struct xml_list_uploads u = {0};
    struct xml_acl a = {0};
    struct xml_tagging t = {0};
    struct xml_complete c = {0};
    xml_error_finish(&e);
    xml_list_parts_finish(&p);
    xml_list_objects_finish(&o);
    xml_list_uploads_finish(&u);
    xml_acl_finish(&a);
    xml_tagging_finish(&t);
    xml_complete_finish(&c);
    xml_error_finish(NULL);
    xml_list_parts_finish(NULL);
    xml_list_objects_finish(NULL);
    xml_list_uploads_finish(NULL);
    xml_acl_finish(NULL);
    xml_tagging_finish(NULL);
    xml_complete_finish(NULL);
    CHECK(e.code == NULL && o.objects == NULL);
}

/* ---- builders, checked by parsing their output with libxml2 ---- */

static const char *text_of(xmlNodePtr n, xmlChar **hold)
{
    *hold = xmlNodeGetContent(n);
    return (const char *)*hold;
}

static xmlNodePtr first_elem(xmlNodePtr n)
{
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

static void test_xml__build_complete_round_trip(void)
{
    struct xml_part parts[] = {
        {.number = 1, .etag = "ffc88b4ca90a355f8ddba6b2c3b2af5c"},
        {.number = 2, .etag = "a&b<c>d\"e'f"},
        {.number = 10000, .etag = "d067a0fa9dc61a6e7195ca99696b5a89-3"},
    };
    char *out = NULL;
    size_t len = 0;
    CHECK_INT(xml_build_complete(&out, &len, parts, 3), 0);
    CHECK(out != NULL && len == strlen(out));
    if (!out)
        return;
    printf("# %s", out);
    CHECK(strstr(out, "a&b") == NULL); /* raw markup never reaches the wire */
    CHECK(has(out, "a&amp;b&lt;c&gt;d"));

    xmlDocPtr doc = xmlReadMemory(out, (int)len, NULL, NULL, XML_PARSE_NONET);
    CHECK(doc != NULL);
    if (doc) {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        CHECK_STR((const char *)root->name, "CompleteMultipartUpload");
        CHECK(root->ns &&
              strcmp((const char *)root->ns->href, "http://s3.amazonaws.com/doc/2006-03-01/") == 0);
        size_t i = 0;
        for (xmlNodePtr p = first_elem(root->children); p; p = first_elem(p->next), i++) {
            CHECK_STR((const char *)p->name, "Part");
            xmlNodePtr num = first_elem(p->children);
            xmlNodePtr etag = num ? first_elem(num->next) : NULL;
            CHECK(num && etag && i < 3);
            if (!num || !etag || i >= 3)
                break;
            xmlChar *a, *b;
            char want_num[16], want_etag[64];
            (void)snprintf(want_num, sizeof(want_num), "%d", parts[i].number);
            (void)snprintf(want_etag, sizeof(want_etag), "\"%s\"", parts[i].etag);
            CHECK_STR((const char *)num->name, "PartNumber");
            CHECK_STR(text_of(num, &a), want_num);
            CHECK_STR((const char *)etag->name, "ETag");
            CHECK_STR(text_of(etag, &b), want_etag);
            xmlFree(a);
            xmlFree(b);
        }
        CHECK_INT(i, 3);
        xmlFreeDoc(doc);
    }
    free(out);
}

static void test_xml__build_complete_rejects_bad_parts(void)
{
    char *out = (char *)"sentinel";
    size_t len = 99;
    struct xml_part unsorted[] = {{.number = 2, .etag = "a"}, {.number = 1, .etag = "b"}};
    CHECK_INT(xml_build_complete(&out, &len, unsorted, 2), -EINVAL);
    CHECK(out == NULL && len == 0);
    struct xml_part dup[] = {{.number = 1, .etag = "a"}, {.number = 1, .etag = "b"}};
    CHECK_INT(xml_build_complete(&out, &len, dup, 2), -EINVAL);
    struct xml_part zero[] = {{.number = 0, .etag = "a"}};
    CHECK_INT(xml_build_complete(&out, &len, zero, 1), -EINVAL);
    struct xml_part noetag[] = {{.number = 1, .etag = NULL}};
    CHECK_INT(xml_build_complete(&out, &len, noetag, 1), -EINVAL);
    struct xml_part ctrl[] = {{.number = 1, .etag = "a\x01"}};
    CHECK_INT(xml_build_complete(&out, &len, ctrl, 1), -EINVAL);
    struct xml_part badutf[] = {{.number = 1, .etag = "a\xff"}};
    CHECK_INT(xml_build_complete(&out, &len, badutf, 1), -EINVAL);
    CHECK_INT(xml_build_complete(&out, &len, unsorted, 0), -EINVAL);
    CHECK(*err_get() != '\0');
}

static void test_xml__build_create_bucket_round_trip(void)
{
    const char *regions[] = {"eu-west-1", "a&b<c>d"};
    for (size_t i = 0; i < 2; i++) {
        char *out = NULL;
        size_t len = 0;
        CHECK_INT(xml_build_create_bucket(&out, &len, regions[i]), 0);
        if (!out)
            continue;
        CHECK(len == strlen(out));
        xmlDocPtr doc = xmlReadMemory(out, (int)len, NULL, NULL, XML_PARSE_NONET);
        CHECK(doc != NULL);
        if (doc) {
            xmlNodePtr root = xmlDocGetRootElement(doc);
            CHECK_STR((const char *)root->name, "CreateBucketConfiguration");
            xmlNodePtr lc = first_elem(root->children);
            CHECK(lc && strcmp((const char *)lc->name, "LocationConstraint") == 0);
            if (lc) {
                xmlChar *t;
                CHECK_STR(text_of(lc, &t), regions[i]);
                xmlFree(t);
            }
            xmlFreeDoc(doc);
        }
        free(out);
    }
    char *out = NULL;
    size_t len = 0;
    CHECK_INT(xml_build_create_bucket(&out, &len, ""), -EINVAL);
    CHECK_INT(xml_build_create_bucket(&out, &len, NULL), -EINVAL);
    CHECK(out == NULL);
}

int main(void)
{
    RUN(test_xml__rgw_error_nosuchkey);
    RUN(test_xml__rgw_initiate);
    RUN(test_xml__rgw_list_parts_page1);
    RUN(test_xml__rgw_list_parts_page2);
    RUN(test_xml__rgw_list_uploads);
    RUN(test_xml__rgw_list_v2);
    RUN(test_xml__rgw_list_v2_urlenc_is_decoded);
    RUN(test_xml__rgw_acl);
    RUN(test_xml__wrong_root_is_badmsg);
    RUN(test_xml__every_prefix_of_every_sample_fails_cleanly);
    RUN(test_xml__complete_200_with_error_is_eio);
    RUN(test_xml__complete_result);
    RUN(test_xml__leading_whitespace_is_skipped);
    RUN(test_xml__empty_body);
    RUN(test_xml__garbage_is_badmsg);
    RUN(test_xml__libxml2_prints_nothing_to_stderr);
    RUN(test_xml__too_big_is_efbig);
    RUN(test_xml__list_v1_next_marker_and_prefixes);
    RUN(test_xml__list_bad_values_are_badmsg);
    RUN(test_xml__keys_with_markup_characters);
    RUN(test_xml__deep_nesting);
    RUN(test_xml__aws_error_with_region_and_endpoint);
    RUN(test_xml__tagging);
    RUN(test_xml__acl_email_and_untyped_grantees);
    RUN(test_xml__list_uploads_encoded_and_empty_markers);
    RUN(test_xml__list_parts_bad_parts);
    RUN(test_xml__initiate_without_upload_id);
    RUN(test_xml__finish_accepts_zeroed_and_null);
    RUN(test_xml__build_complete_round_trip);
    RUN(test_xml__build_complete_rejects_bad_parts);
    RUN(test_xml__build_create_bucket_round_trip);
    xmlCleanupParser();
    return t_done();
}
