/* Throughput of md5mb against OpenSSL's MD5: aggregate MB/s (10^6 bytes/s) on one core.
 *
 *     ninja -C build tests/unit/md5mb_bench
 *     build/tests/unit/md5mb_bench [MiB per stream, 16] [chunk KiB, 0 = whole stream per call]
 *
 * OpenSSL hashes the streams one after another (EVP MD5); md5mb hashes 1, 4, 8 and 16 streams
 * with every implementation this CPU runs, each stream fed in one md5mb_update_many() call, or
 * in chunk-sized calls covering all streams (as parts arriving from the network would be).
 * Best of 3 runs; the data is random and touched once before timing. */
#include "md5mb.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#define MiB  ((size_t) 1 << 20)
#define NMAX 16
#define RUNS 3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static size_t arg_size(const char *s, size_t dflt)
{
    if (!s)
        return dflt;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *end == '\0' ? (size_t) v : dflt;
}

static double openssl_mbs(unsigned char *const *buf, size_t n, size_t size)
{
    double best = 0;
    for (int r = 0; r < RUNS; r++) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned dl;
        double t = now();
        for (size_t i = 0; i < n; i++)
            EVP_Digest(buf[i], size, d, &dl, EVP_md5(), NULL);
        double mbs = (double) (n * size) / (now() - t) / 1e6;
        best = mbs > best ? mbs : best;
    }
    return best;
}

static double md5mb_mbs(unsigned char *const *buf, size_t n, size_t size, size_t chunk)
{
    double best = 0;
    for (int r = 0; r < RUNS; r++) {
        struct md5mb c[NMAX];
        struct md5mb *ctx[NMAX];
        const unsigned char *data[NMAX];
        size_t len[NMAX];
        unsigned char d[MD5MB_DIGEST_LEN];
        double t = now();
        for (size_t i = 0; i < n; i++) {
            md5mb_init(&c[i]);
            ctx[i] = &c[i];
        }
        for (size_t off = 0; off < size; off += chunk) {
            size_t k = size - off < chunk ? size - off : chunk;
            for (size_t i = 0; i < n; i++) {
                data[i] = buf[i] + off;
                len[i] = k;
            }
            md5mb_update_many(ctx, data, len, n);
        }
        for (size_t i = 0; i < n; i++)
            md5mb_final(&c[i], d);
        double mbs = (double) (n * size) / (now() - t) / 1e6;
        best = mbs > best ? mbs : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    size_t size = arg_size(argc > 1 ? argv[1] : NULL, 16) * MiB;
    size_t chunk = arg_size(argc > 2 ? argv[2] : NULL, 0) * 1024;
    if (size == 0)
        return 2;
    if (chunk == 0)
        chunk = size;

    unsigned char *buf[NMAX];
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < NMAX; i++) {
        buf[i] = malloc(size);
        if (!buf[i])
            return 1;
        for (size_t j = 0; j + 8 <= size; j += 8) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            memcpy(buf[i] + j, &x, 8);
        }
    }

    printf("%zu MiB per stream, %zu KiB per call\n", size / MiB, chunk / 1024);
    printf("openssl  1 stream : %8.0f MB/s\n", openssl_mbs(buf, NMAX, size));
    static const char *const impls[] = {"scalar", "avx2", "avx512"};
    static const size_t counts[] = {1, 4, 8, 16};
    for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
        if (md5mb_force(impls[i]) != 0) {
            printf("%-8s not supported by this CPU\n", impls[i]);
            continue;
        }
        for (size_t j = 0; j < sizeof(counts) / sizeof(counts[0]); j++)
            printf("%-8s %2zu streams: %8.0f MB/s\n", impls[i], counts[j],
                   md5mb_mbs(buf, counts[j], size, chunk));
    }
    for (size_t i = 0; i < NMAX; i++)
        free(buf[i]);
    return 0;
}
