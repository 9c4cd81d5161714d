/* The time forms RGW and S3 send, read into one (sec, nsec) and written
 * back: ISO 8601 at any precision (bilog ns, utime_t us, S3 ms), "sec.nsec"
 * (Rgwx-Mtime), RFC 1123 (Last-Modified). The pairs below are RGW's own:
 * the omap datalog marker "1_1795276793.947108_47.1" was answered with
 * last_update "2026-11-21T15:59:53.947108Z" (rgw-admin-api-samples.md). */
#include "testlib.h"

#include <errno.h>
#include <stdint.h>

#include "timefmt.h"

static struct timefmt_ns parsed(const char *text)
{
    struct timefmt_ns t = {-1, -1};
    int r = timefmt_parse(&t, text);
    if (r != 0)
        printf("# timefmt_parse(\"%s\") = %d\n", text, r);
    CHECK_INT(r, 0);
    return t;
}

static void test_timefmt__iso_nine_digits_keeps_nanoseconds(void)
{
    /* a bilog timestamp (gmtime_nsec) */
    struct timefmt_ns t = parsed("2026-11-21T16:01:12.206737249Z");
    CHECK_INT(t.sec, 1795276872);
    CHECK_INT(t.nsec, 206737249);
}

static void test_timefmt__iso_six_digits_is_microseconds(void)
{
    /* utime_t JSON: datalog timestamps, shard info last_update */
    struct timefmt_ns t = parsed("2026-11-21T15:59:53.947108Z");
    CHECK_INT(t.sec, 1795276793);
    CHECK_INT(t.nsec, 947108000);
}

static void test_timefmt__iso_three_digits_is_milliseconds(void)
{
    /* S3 XML LastModified */
    struct timefmt_ns t = parsed("2026-11-21T15:42:54.574Z");
    CHECK_INT(t.sec, 1795275774);
    CHECK_INT(t.nsec, 574000000);
}

static void test_timefmt__iso_without_fraction_is_whole_seconds(void)
{
    struct timefmt_ns t = parsed("2026-11-21T15:59:53Z");
    CHECK_INT(t.sec, 1795276793);
    CHECK_INT(t.nsec, 0);

    t = parsed("1970-01-01T00:00:00Z");
    CHECK_INT(t.sec, 0);
    CHECK_INT(t.nsec, 0);

    t = parsed("2000-02-29T23:59:59Z");
    CHECK_INT(t.sec, 951868799);

    /* a missing Z is still UTC */
    t = parsed("2026-11-21T15:59:53");
    CHECK_INT(t.sec, 1795276793);
}

static void test_timefmt__iso_past_nine_digits_truncates(void)
{
    struct timefmt_ns t = parsed("2026-11-21T15:59:53.1234567899Z");
    CHECK_INT(t.sec, 1795276793);
    CHECK_INT(t.nsec, 123456789);
}

static void test_timefmt__secnsec_matches_iso(void)
{
    struct timefmt_ns a = parsed("1795276793.947108000");
    struct timefmt_ns b = parsed("2026-11-21T15:59:53.947108Z");
    CHECK_INT(a.sec, 1795276793);
    CHECK_INT(a.nsec, 947108000);
    CHECK_INT(timefmt_cmp(&a, &b), 0);

    /* fewer digits are a fraction, not a count of nanoseconds */
    a = parsed("1795276793.5");
    CHECK_INT(a.nsec, 500000000);

    a = parsed("1795276793");
    CHECK_INT(a.sec, 1795276793);
    CHECK_INT(a.nsec, 0);

    /* RGW's zero utime_t */
    a = parsed("0.000000");
    CHECK_INT(a.sec, 0);
    CHECK_INT(a.nsec, 0);
}

static void test_timefmt__rfc1123_is_whole_seconds(void)
{
    struct timefmt_ns t = parsed("Sat, 21 Nov 2026 15:59:53 GMT");
    CHECK_INT(t.sec, 1795276793);
    CHECK_INT(t.nsec, 0);
}

static void test_timefmt__garbage_is_einval_and_leaves_out_alone(void)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "2026-11-21",
        "2026-11-21T15:59",
        "2026-11-21T15:59:53Zjunk",
        "2026-11-21T15:59:53 Z",
        "2026-11-21T15:59:53+02:00",
        "2026-11-21T15:59:53.Z",
        "2026-11-21T15:59:53.12a",
        "1795276793.",
        "1795276793.12x",
        "1795276793 ",
        "-5",
        " 1795276793",
        "99999999999999999999",
        "Sat, 21 Nov 2026 15:59:53 UTC",
        "Sat, 21 Nov 2026 15:59:53 GMT trailing",
        "Blursday, 99 Nov 2026",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct timefmt_ns t = {7, 7};
        int r = timefmt_parse(&t, bad[i]);
        if (r != -EINVAL)
            printf("# accepted \"%s\"\n", bad[i]);
        CHECK_INT(r, -EINVAL);
        CHECK(t.sec == 7 && t.nsec == 7);
    }
    struct timefmt_ns t = {7, 7};
    CHECK_INT(timefmt_parse(&t, NULL), -EINVAL);
}

static void test_timefmt__secnsec_prints_nine_digits(void)
{
    char buf[32];
    struct timefmt_ns t = {1795276793, 947108000};
    timefmt_secnsec(buf, sizeof(buf), &t);
    CHECK_STR(buf, "1795276793.947108000");

    t = (struct timefmt_ns){0, 5};
    timefmt_secnsec(buf, sizeof(buf), &t);
    CHECK_STR(buf, "0.000000005");

    t = (struct timefmt_ns){1795276872, 206737249};
    timefmt_secnsec(buf, sizeof(buf), &t);
    CHECK_STR(buf, "1795276872.206737249");

    /* what it prints reads back the same */
    struct timefmt_ns back = parsed(buf);
    CHECK_INT(timefmt_cmp(&back, &t), 0);
}

static void test_timefmt__cmp_orders_by_sec_then_nsec(void)
{
    struct timefmt_ns a = {100, 999999999}, b = {101, 0}, c = {101, 1}, d = {101, 1};
    CHECK(timefmt_cmp(&a, &b) < 0);
    CHECK(timefmt_cmp(&b, &a) > 0);
    CHECK(timefmt_cmp(&b, &c) < 0);
    CHECK(timefmt_cmp(&c, &b) > 0);
    CHECK_INT(timefmt_cmp(&c, &d), 0);

    /* ns precision decides: two writes in the same microsecond differ */
    struct timefmt_ns x = parsed("2026-11-21T16:01:14.629978984Z");
    struct timefmt_ns y = parsed("2026-11-21T16:01:14.629978985Z");
    CHECK(timefmt_cmp(&x, &y) < 0);
    /* and the forms agree with each other */
    struct timefmt_ns z = parsed("1795276874.629978985");
    CHECK_INT(timefmt_cmp(&y, &z), 0);
}

static void test_timefmt__iso_prints_microseconds_like_utime(void)
{
    char buf[40];
    struct timefmt_ns t = {1795276793, 947108999};
    timefmt_iso(buf, sizeof(buf), &t);
    CHECK_STR(buf, "2026-11-21T15:59:53.947108Z");

    t = (struct timefmt_ns){0, 0};
    timefmt_iso(buf, sizeof(buf), &t);
    CHECK_STR(buf, "1970-01-01T00:00:00.000000Z");

    /* round trip at the printed precision */
    t = (struct timefmt_ns){1795276872, 206737000};
    timefmt_iso(buf, sizeof(buf), &t);
    struct timefmt_ns back = parsed(buf);
    CHECK_INT(timefmt_cmp(&back, &t), 0);
}

int main(void)
{
    RUN(test_timefmt__iso_nine_digits_keeps_nanoseconds);
    RUN(test_timefmt__iso_six_digits_is_microseconds);
    RUN(test_timefmt__iso_three_digits_is_milliseconds);
    RUN(test_timefmt__iso_without_fraction_is_whole_seconds);
    RUN(test_timefmt__iso_past_nine_digits_truncates);
    RUN(test_timefmt__secnsec_matches_iso);
    RUN(test_timefmt__rfc1123_is_whole_seconds);
    RUN(test_timefmt__garbage_is_einval_and_leaves_out_alone);
    RUN(test_timefmt__secnsec_prints_nine_digits);
    RUN(test_timefmt__cmp_orders_by_sec_then_nsec);
    RUN(test_timefmt__iso_prints_microseconds_like_utime);
    return t_done();
}
