/* Multi-buffer MD5 against OpenSSL's MD5, for every implementation this CPU can run. */
#include "testlib.h"

#include "md5mb.h"

#include <errno.h>
#include <stdint.h>

#include <openssl/evp.h>

#define KiB ((size_t) 1 << 10)
#define MiB ((size_t) 1 << 20)

/* Streams are slices of one random pool at random (so mostly unaligned) offsets. */
#define POOL_LEN (4 * MiB)
static unsigned char *pool;

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    /* splitmix64: fixed seed, so a failure replays */
    uint64_t z = (rnd_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void ref_md5(const void *p, size_t len, unsigned char out[MD5MB_DIGEST_LEN])
{
    unsigned olen = 0;
    if (EVP_Digest(p, len, out, &olen, EVP_md5(), NULL) != 1 || olen != MD5MB_DIGEST_LEN)
        memset(out, 0, MD5MB_DIGEST_LEN); /* then no md5mb digest matches */
}

static void hex(char out[2 * MD5MB_DIGEST_LEN + 1], const unsigned char d[MD5MB_DIGEST_LEN])
{
    for (int i = 0; i < MD5MB_DIGEST_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int proc_cpuinfo_has(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[8192];
    int found = 0;
    size_t n = strlen(flag);
    while (!found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        for (char *p = strstr(line, flag); p && !found; p = strstr(p + 1, flag))
            found = p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0');
    }
    fclose(f);
    return found;
}

static int cpu_runs(const char *impl)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (strcmp(impl, "avx512") == 0)
        return __builtin_cpu_supports("avx512f");
    if (strcmp(impl, "avx2") == 0)
        return __builtin_cpu_supports("avx2");
#endif
    return strcmp(impl, "scalar") == 0;
}

static void test_md5mb__default_is_avx512_when_cpu_has_avx512f(void)
{
    /* valgrind's CPUID hides AVX-512 that /proc/cpuinfo still lists */
    const char *preload = getenv("LD_PRELOAD");
    int valgrind = preload && strstr(preload, "vgpreload");
    if (proc_cpuinfo_has("avx512f") && !valgrind)
        CHECK_STR(md5mb_impl(), "avx512");
    else if (proc_cpuinfo_has("avx2"))
        CHECK(strcmp(md5mb_impl(), "scalar") != 0);
    const char *best = cpu_runs("avx512") ? "avx512" : cpu_runs("avx2") ? "avx2" : "scalar";
    CHECK_STR(md5mb_impl(), best);
}

static void test_md5mb__forcing_unknown_or_unsupported_is_einval(void)
{
    static const char *const impls[] = {"avx512", "avx2", "scalar"};
    for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
        int want = cpu_runs(impls[i]) ? 0 : -EINVAL;
        CHECK_INT(md5mb_force(impls[i]), want);
        if (want == 0) {
            CHECK_STR(md5mb_impl(), impls[i]);
            CHECK_INT(md5mb_lanes(), i == 0 ? 16 : i == 1 ? 8 : 1); /* what callers fill */
        }
    }
    CHECK_INT(md5mb_force("scalar"), 0);
    CHECK_INT(md5mb_force("sse9"), -EINVAL);
    CHECK_INT(md5mb_force(""), -EINVAL);
    CHECK_INT(md5mb_force("AVX2"), -EINVAL);
    CHECK_STR(md5mb_impl(), "scalar"); /* a refused force changes nothing */
    CHECK_INT(md5mb_force("auto"), 0);
    CHECK(strcmp(md5mb_impl(), "scalar") != 0 || !cpu_runs("avx2"));
    CHECK_INT(md5mb_force(NULL), 0);
}

static void test_md5mb__rfc1321_suite(void)
{
    static const char *const msg[] = {
        "",
        "a",
        "abc",
        "message digest",
        "abcdefghijklmnopqrstuvwxyz",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
    };
    static const char *const want[] = {
        "d41d8cd98f00b204e9800998ecf8427e", "0cc175b9c0f1b6a831c399e269772661",
        "900150983cd24fb0d6963f7d28e17f72", "f96b697d7cb7938d525a2f31aaf161d0",
        "c3fcd3d76192e4007dfb496cca67e13b", "d174ab98d277d9f5a5611c2c9f419d9f",
        "57edf4a22be3c955ac49da2e2107b67a",
    };
    enum { N = sizeof(msg) / sizeof(msg[0]) };
    struct md5mb one[N], many[N];
    struct md5mb *ctx[N];
    const unsigned char *data[N];
    size_t len[N];
    for (size_t i = 0; i < N; i++) {
        md5mb_init(&one[i]);
        md5mb_update(&one[i], msg[i], strlen(msg[i]));
        md5mb_init(&many[i]);
        ctx[i] = &many[i];
        data[i] = (const unsigned char *) msg[i];
        len[i] = strlen(msg[i]);
    }
    md5mb_update_many(ctx, data, len, N);
    for (size_t i = 0; i < N; i++) {
        unsigned char d[MD5MB_DIGEST_LEN], ref[MD5MB_DIGEST_LEN];
        char h[2 * MD5MB_DIGEST_LEN + 1];
        ref_md5(msg[i], len[i], ref);
        hex(h, ref);
        CHECK_STR(h, want[i]); /* the reference itself */
        md5mb_final(&one[i], d);
        hex(h, d);
        CHECK_STR(h, want[i]);
        md5mb_final(&many[i], d);
        hex(h, d);
        CHECK_STR(h, want[i]);
    }
}

/* Every length 0..300 (no, part of, one, several blocks; every tail size) alone through
 * md5mb_update(), and all 301 at once through one md5mb_update_many(). */
static void test_md5mb__every_length_0_to_300(void)
{
    enum { N = 301 };
    static struct md5mb one[N], many[N];
    struct md5mb *ctx[N];
    const unsigned char *data[N];
    size_t len[N];
    for (size_t i = 0; i < N; i++) {
        md5mb_init(&one[i]);
        md5mb_init(&many[i]);
        ctx[i] = &many[i];
        data[i] = pool + 7 * i;
        len[i] = i;
        md5mb_update(&one[i], data[i], len[i]);
    }
    md5mb_update_many(ctx, data, len, N);
    int bad_one = 0, bad_many = 0;
    for (size_t i = 0; i < N; i++) {
        unsigned char d[MD5MB_DIGEST_LEN], ref[MD5MB_DIGEST_LEN];
        ref_md5(data[i], len[i], ref);
        md5mb_final(&one[i], d);
        if (memcmp(d, ref, sizeof(d)) != 0) {
            printf("# update: length %zu differs\n", i);
            bad_one++;
        }
        md5mb_final(&many[i], d);
        if (memcmp(d, ref, sizeof(d)) != 0) {
            printf("# update_many: length %zu differs\n", i);
            bad_many++;
        }
    }
    CHECK_INT(bad_one, 0);
    CHECK_INT(bad_many, 0);
}

/* A chunk of what a stream has left: nothing, sub-block, odd, whole blocks or large. */
static size_t chunk_len(size_t left)
{
    size_t c;
    switch (rnd() % 8) {
    case 0:
        c = 0;
        break;
    case 1:
        c = rnd() % 64;
        break;
    case 2:
        c = rnd() % 300;
        break;
    case 3:
        c = 64 * (rnd() % 64);
        break;
    default:
        c = rnd() % MiB;
        break;
    }
    return c < left ? c : left;
}

/* n streams of unequal random lengths, fed in random chunks over many md5mb_update_many()
 * calls with some md5mb_update() calls mixed in; returns how many digests differ. */
static int streams_differing(size_t n)
{
    enum { NMAX = 40 };
    struct md5mb c[NMAX];
    const unsigned char *start[NMAX];
    size_t total[NMAX], done[NMAX];
    for (size_t i = 0; i < n; i++) {
        /* most a few hundred KiB, one in four up to 3 MiB */
        total[i] = rnd() % 4 == 0 ? rnd() % (3 * MiB) : rnd() % (300 * KiB);
        start[i] = pool + rnd() % (POOL_LEN - total[i]);
        done[i] = 0;
        md5mb_init(&c[i]);
    }
    for (;;) {
        struct md5mb *ctx[NMAX] = {NULL};
        const unsigned char *data[NMAX] = {NULL};
        size_t len[NMAX] = {0}, m = 0, left = 0;
        for (size_t i = 0; i < n; i++) {
            size_t k = chunk_len(total[i] - done[i]);
            if (rnd() % 6 == 0) {
                md5mb_update(&c[i], start[i] + done[i], k);
            } else {
                ctx[m] = &c[i];
                data[m] = k ? start[i] + done[i] : NULL;
                len[m++] = k;
            }
            done[i] += k;
            left += total[i] - done[i];
        }
        md5mb_update_many(ctx, data, len, m);
        if (left == 0)
            break;
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char d[MD5MB_DIGEST_LEN], ref[MD5MB_DIGEST_LEN];
        ref_md5(start[i], total[i], ref);
        md5mb_final(&c[i], d);
        if (memcmp(d, ref, sizeof(d)) != 0) {
            printf("# stream %zu of %zu (%zu bytes) differs\n", i, n, total[i]);
            bad++;
        }
    }
    return bad;
}

static void test_md5mb__unequal_streams_in_random_chunks(void)
{
    static const size_t counts[] = {1, 2, 7, 8, 9, 15, 16, 17, 40};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        int bad = streams_differing(counts[i]);
        if (bad)
            printf("# %zu streams: %d differ\n", counts[i], bad);
        CHECK_INT(bad, 0);
    }
}

/* Equal lengths: every lane finishes in the same kernel run. */
static void test_md5mb__equal_streams_in_one_call(void)
{
    enum { N = 33 };
    struct md5mb c[N];
    struct md5mb *ctx[N];
    const unsigned char *data[N];
    size_t len[N];
    for (size_t i = 0; i < N; i++) {
        md5mb_init(&c[i]);
        ctx[i] = &c[i];
        data[i] = pool + 4096 * i + i;
        len[i] = 64 * KiB;
    }
    md5mb_update_many(ctx, data, len, N);
    int bad = 0;
    for (size_t i = 0; i < N; i++) {
        unsigned char d[MD5MB_DIGEST_LEN], ref[MD5MB_DIGEST_LEN];
        ref_md5(data[i], len[i], ref);
        md5mb_final(&c[i], d);
        bad += memcmp(d, ref, sizeof(d)) != 0;
    }
    CHECK_INT(bad, 0);
}

static char label[128];

static void run_impl(const char *impl, void (*fn)(void), const char *name)
{
    snprintf(label, sizeof(label), "%s[%s]", name, impl);
    t_current = label;
    printf("# %s\n", label);
    fn();
}

#define RUN_IMPL(impl, fn) run_impl(impl, fn, #fn)

int main(void)
{
    pool = malloc(POOL_LEN);
    if (!pool)
        return 1;
    for (size_t i = 0; i < POOL_LEN; i += 8) {
        uint64_t r = rnd();
        memcpy(pool + i, &r, 8);
    }

    RUN(test_md5mb__default_is_avx512_when_cpu_has_avx512f);
    RUN(test_md5mb__forcing_unknown_or_unsupported_is_einval);
    static const char *const impls[] = {"scalar", "avx2", "avx512"};
    for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
        if (md5mb_force(impls[i]) != 0) {
            printf("# %s: this CPU can't run it, skipped\n", impls[i]);
            continue;
        }
        RUN_IMPL(impls[i], test_md5mb__rfc1321_suite);
        RUN_IMPL(impls[i], test_md5mb__every_length_0_to_300);
        RUN_IMPL(impls[i], test_md5mb__unequal_streams_in_random_chunks);
        RUN_IMPL(impls[i], test_md5mb__equal_streams_in_one_call);
        CHECK_STR(md5mb_impl(), impls[i]); /* still the one under test */
    }
    (void) md5mb_force(NULL);
    free(pool);
    return t_done();
}
