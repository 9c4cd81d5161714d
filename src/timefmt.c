#include "timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Digits after a '.': at least one; past 9 they are dropped (truncated). */
static int parse_fraction(const char *p, const char **end, long *nsec)
{
    long n = 0;
    int digits = 0;
    if (!isdigit((unsigned char) *p))
        return -EINVAL;
    while (isdigit((unsigned char) *p)) {
        if (digits < 9) {
            n = n * 10 + (*p - '0');
            digits++;
        }
        p++;
    }
    while (digits++ < 9)
        n *= 10;
    *nsec = n;
    *end = p;
    return 0;
}

int timefmt_parse(struct timefmt_ns *out, const char *text)
{
    if (!text || !*text)
        return -EINVAL;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p;
    /* ISO 8601, UTC */
    p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p) {
        long nsec = 0;
        if (*p == '.' && parse_fraction(p + 1, &p, &nsec) < 0)
            return -EINVAL;
        if (*p == 'Z')
            p++;
        if (*p != '\0')
            return -EINVAL;
        out->sec = (int64_t) timegm(&tm);
        out->nsec = nsec;
        return 0;
    }
    /* sec.nsec */
    if (isdigit((unsigned char) text[0])) {
        char *end;
        errno = 0;
        long long sec = strtoll(text, &end, 10);
        if (errno == ERANGE)
            return -EINVAL;
        long nsec = 0;
        p = end;
        if (*p == '.' && parse_fraction(p + 1, &p, &nsec) < 0)
            return -EINVAL;
        if (*p != '\0')
            return -EINVAL;
        out->sec = sec;
        out->nsec = nsec;
        return 0;
    }
    /* RFC 1123 */
    memset(&tm, 0, sizeof(tm));
    p = strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (p && *p == '\0') {
        out->sec = (int64_t) timegm(&tm);
        out->nsec = 0;
        return 0;
    }
    return -EINVAL;
}

void timefmt_secnsec(char *out, unsigned long size, const struct timefmt_ns *t)
{
    (void) snprintf(out, size, "%lld.%09ld", (long long) t->sec, t->nsec);
}

int timefmt_cmp(const struct timefmt_ns *a, const struct timefmt_ns *b)
{
    if (a->sec != b->sec)
        return a->sec < b->sec ? -1 : 1;
    if (a->nsec != b->nsec)
        return a->nsec < b->nsec ? -1 : 1;
    return 0;
}

void timefmt_iso(char *out, unsigned long size, const struct timefmt_ns *t)
{
    struct tm tm;
    time_t s = (time_t) t->sec;
    (void) gmtime_r(&s, &tm);
    (void) snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t->nsec / 1000);
}
