/* The time formats RGW and S3 use, normalised to "sec.nsec" (9 digits):
 * the form x-amz-meta-rgwx-source-mtime carries (as RGW's cloud module
 * writes it) and compares as a number, at the source's ns precision. */
#ifndef RGW2CLOUD_TIMEFMT_H
#define RGW2CLOUD_TIMEFMT_H

#include <stdint.h>

struct timefmt_ns {
    int64_t sec;
    long nsec;
};

/* Accepts "2026-11-21T18:44:32.243588089Z" (any fraction length, also
 * none), "1795286672.243588089" (Rgwx-Mtime), and RFC 1123
 * "Sat, 21 Nov 2026 18:44:32 GMT" (Last-Modified). -EINVAL otherwise. */
int timefmt_parse(struct timefmt_ns *out, const char *text);

/* "sec.nsec" with 9 digits into out (>= 32 bytes). */
void timefmt_secnsec(char *out, unsigned long size, const struct timefmt_ns *t);

/* <0, 0, >0 like strcmp. */
int timefmt_cmp(const struct timefmt_ns *a, const struct timefmt_ns *b);

/* "2026-11-21T18:44:32.243588Z" (RGW's utime_t JSON form, microseconds). */
void timefmt_iso(char *out, unsigned long size, const struct timefmt_ns *t);

#endif
