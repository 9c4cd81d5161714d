/* A tiny TAP producer: meson runs each test binary with protocol 'tap' and
 * counts every CHECK as a result. A test prints its name; a failed CHECK
 * prints where and what. */
#ifndef RGW2CLOUD_TESTLIB_H
#define RGW2CLOUD_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_count __attribute__((unused)), t_failed __attribute__((unused));
static const char *t_current __attribute__((unused)) = "";

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        t_count++;                                                                                 \
        if (cond) {                                                                                \
            printf("ok %d - %s: %s\n", t_count, t_current, #cond);                                 \
        } else {                                                                                   \
            t_failed++;                                                                            \
            printf("not ok %d - %s: %s (%s:%d)\n", t_count, t_current, #cond, __FILE__, __LINE__); \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *t_a = (a), *t_b = (b);                                                         \
        int t_ok = t_a && t_b && strcmp(t_a, t_b) == 0;                                            \
        if (!t_ok)                                                                                 \
            printf("# %s: got \"%s\" want \"%s\"\n", t_current, t_a ? t_a : "(null)",             \
                   t_b ? t_b : "(null)");                                                          \
        CHECK(t_ok && #a " == " #b);                                                               \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long t_a = (long long) (a), t_b = (long long) (b);                                    \
        if (t_a != t_b)                                                                            \
            printf("# %s: got %lld want %lld\n", t_current, t_a, t_b);                             \
        CHECK(t_a == t_b && #a " == " #b);                                                         \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        t_current = #fn;                                                                           \
        printf("# %s\n", #fn);                                                                     \
        fn();                                                                                      \
    } while (0)

/* Call last from main(): prints the plan and returns the exit code. */
static inline int t_done(void)
{
    printf("1..%d\n", t_count);
    if (t_count == 0) {
        printf("not ok 1 - no checks ran\n");
        return 1;
    }
    return t_failed ? 1 : 0;
}

#endif
