/* The marker tracker's one promise: the committable position never passes an
 * entry that is not finished, and it advances as far as that allows. Plus the
 * per-key in-flight set. */
#include "testlib.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "sync/marker.h"

/* Datalog-like opaque positions; the tracker never compares them. */
static void pos_fmt(char *buf, size_t len, int i)
{
    (void) snprintf(buf, len, "1_1700000000.%06d_%d.1", i, 7 * i + 3);
}

static struct marker *mk(const char *committed)
{
    struct marker *m = NULL;
    int r = marker_new(&m, committed);
    CHECK_INT(r, 0);
    return m;
}

static void test_marker__new_reports_committed_and_is_clean(void)
{
    struct marker *m = mk("0_stored");
    CHECK_STR(marker_committable(m), "0_stored");
    CHECK(!marker_dirty(m));
    CHECK_INT(marker_pending(m), 0);
    CHECK_INT(marker_held(m), 0);
    marker_free(m);

    m = mk("");
    CHECK_STR(marker_committable(m), "");
    CHECK(!marker_dirty(m));
    marker_free(m);

    m = mk(NULL);
    CHECK_STR(marker_committable(m), "");
    marker_free(m);

    marker_free(NULL);
}

static void test_marker__in_order_finishes_advance_each_step(void)
{
    struct marker *m = mk("");
    CHECK_INT(marker_start(m, "a"), 0);
    CHECK_INT(marker_start(m, "b"), 0);
    CHECK_INT(marker_start(m, "c"), 0);
    CHECK_INT(marker_pending(m), 3);
    CHECK_STR(marker_committable(m), "");
    CHECK(!marker_dirty(m));

    CHECK_INT(marker_finish(m, "a"), 0);
    CHECK_STR(marker_committable(m), "a");
    CHECK(marker_dirty(m));
    CHECK_INT(marker_finish(m, "b"), 0);
    CHECK_STR(marker_committable(m), "b");
    CHECK_INT(marker_finish(m, "c"), 0);
    CHECK_STR(marker_committable(m), "c");
    CHECK_INT(marker_pending(m), 0);
    CHECK_INT(marker_held(m), 0);
    marker_free(m);
}

static void test_marker__commit_stops_below_pending(void)
{
    struct marker *m = mk("0");
    const char *pos[] = {"p1", "p2", "p3", "p4", "p5"};
    for (int i = 0; i < 5; i++)
        CHECK_INT(marker_start(m, pos[i]), 0);

    /* p1 is the lowest pending: nothing after it may be committed. */
    CHECK_INT(marker_finish(m, "p5"), 0);
    CHECK_INT(marker_finish(m, "p3"), 0);
    CHECK_INT(marker_finish(m, "p2"), 0);
    CHECK_STR(marker_committable(m), "0");
    CHECK(!marker_dirty(m));
    CHECK_INT(marker_pending(m), 2);

    /* p1 done: commit jumps to the highest finished below p4 (pending). */
    CHECK_INT(marker_finish(m, "p1"), 0);
    CHECK_STR(marker_committable(m), "p3");
    CHECK(marker_dirty(m));

    CHECK_INT(marker_finish(m, "p4"), 0);
    CHECK_STR(marker_committable(m), "p5");
    CHECK_INT(marker_pending(m), 0);
    marker_free(m);
}

static void test_marker__skips_advance_like_finishes(void)
{
    struct marker *m = mk("");
    /* Nothing pending: a skipped entry is committable at once. */
    CHECK_INT(marker_skip(m, "s1"), 0);
    CHECK_STR(marker_committable(m), "s1");
    CHECK(marker_dirty(m));
    CHECK_INT(marker_pending(m), 0);

    /* Behind a pending entry a skip waits like any finished entry. */
    CHECK_INT(marker_start(m, "w2"), 0);
    CHECK_INT(marker_skip(m, "s3"), 0);
    CHECK_INT(marker_skip(m, "s4"), 0);
    CHECK_STR(marker_committable(m), "s1");
    CHECK_INT(marker_pending(m), 1);
    CHECK_INT(marker_held(m), 3);
    CHECK_INT(marker_finish(m, "w2"), 0);
    CHECK_STR(marker_committable(m), "s4");

    /* A skipped entry is not pending: finishing it is an error. */
    CHECK_INT(marker_finish(m, "s4"), -ENOENT);
    marker_free(m);
}

static void test_marker__duplicate_start_is_eexist(void)
{
    struct marker *m = mk("c0");
    CHECK_INT(marker_start(m, "a"), 0);
    CHECK_INT(marker_start(m, "b"), 0);
    CHECK_INT(marker_finish(m, "b"), 0);

    CHECK_INT(marker_start(m, "a"), -EEXIST);  /* pending */
    CHECK_INT(marker_skip(m, "a"), -EEXIST);   /* pending, as a skip */
    CHECK_INT(marker_start(m, "b"), -EEXIST);  /* finished, behind a */
    CHECK_INT(marker_start(m, "c0"), -EEXIST); /* the committed position */
    CHECK(strstr(err_get(), "duplicate") != NULL);
    /* A refused duplicate leaves the tracker as it was. */
    CHECK_INT(marker_pending(m), 1);
    CHECK_INT(marker_held(m), 2);
    CHECK_STR(marker_committable(m), "c0");

    CHECK_INT(marker_finish(m, "a"), 0);
    CHECK_STR(marker_committable(m), "b");
    CHECK_INT(marker_start(m, "b"), -EEXIST); /* now the committable one */

    CHECK_INT(marker_start(m, ""), -EINVAL);
    CHECK_INT(marker_start(m, NULL), -EINVAL);
    CHECK_INT(marker_skip(m, ""), -EINVAL);
    marker_free(m);
}

static void test_marker__finish_unknown_is_enoent(void)
{
    struct marker *m = mk("");
    CHECK_INT(marker_finish(m, "never-started"), -ENOENT);
    CHECK_INT(marker_finish(m, NULL), -ENOENT);
    CHECK_INT(marker_start(m, "a"), 0);
    CHECK_INT(marker_start(m, "b"), 0);
    CHECK_INT(marker_finish(m, "b"), 0);
    CHECK_INT(marker_finish(m, "b"), -ENOENT); /* finished twice, still held */
    CHECK_INT(marker_finish(m, "a"), 0);
    CHECK_INT(marker_finish(m, "a"), -ENOENT); /* finished twice, dropped */
    CHECK_STR(marker_committable(m), "b");
    CHECK_INT(marker_pending(m), 0);
    marker_free(m);
}

static void test_marker__failed_entry_pins_mark_until_finished(void)
{
    struct marker *m = mk("");
    char buf[64];
    CHECK_INT(marker_start(m, "ok-before"), 0);
    CHECK_INT(marker_finish(m, "ok-before"), 0);
    CHECK_INT(marker_start(m, "failed"), 0);
    int all_ok = 1;
    for (int i = 0; i < 1000; i++) {
        pos_fmt(buf, sizeof(buf), i);
        all_ok &= marker_start(m, buf) == 0;
        all_ok &= marker_finish(m, buf) == 0;
        /* Never past the entry that failed, however much finishes after it. */
        all_ok &= strcmp(marker_committable(m), "ok-before") == 0;
    }
    CHECK(all_ok);
    CHECK_INT(marker_pending(m), 1);
    CHECK_INT(marker_held(m), 1001);

    /* The caller put it on its retry list and decides to let the mark go. */
    CHECK_INT(marker_finish(m, "failed"), 0);
    pos_fmt(buf, sizeof(buf), 999);
    CHECK_STR(marker_committable(m), buf);
    CHECK_INT(marker_held(m), 0);
    marker_free(m);
}

static void test_marker__dirty_until_committable_is_stored(void)
{
    struct marker *m = mk("");
    CHECK_INT(marker_start(m, "a"), 0);
    CHECK_INT(marker_start(m, "b"), 0);
    CHECK_INT(marker_finish(m, "a"), 0);
    CHECK(marker_dirty(m));
    marker_stored(m, "a");
    CHECK(!marker_dirty(m));
    CHECK_STR(marker_committable(m), "a");

    /* An asynchronous writer reports an older value after the mark moved:
     * what is durable is behind, so still dirty. */
    CHECK_INT(marker_finish(m, "b"), 0);
    marker_stored(m, "a");
    CHECK(marker_dirty(m));
    marker_stored(m, "b");
    CHECK(!marker_dirty(m));

    /* Nothing new: stays clean. */
    CHECK_INT(marker_start(m, "c"), 0);
    CHECK(!marker_dirty(m));
    marker_free(m);
}

static void test_marker__finished_entries_dropped_once_passed(void)
{
    struct marker *m = mk("");
    char buf[64];
    int ok = 1;
    for (int i = 0; i < 5000; i++) {
        pos_fmt(buf, sizeof(buf), i);
        ok &= marker_start(m, buf) == 0;
    }
    CHECK(ok);
    CHECK_INT(marker_held(m), 5000);
    /* Finish in reverse: all held until the first one finishes... */
    for (int i = 4999; i >= 1; i--) {
        pos_fmt(buf, sizeof(buf), i);
        ok &= marker_finish(m, buf) == 0;
    }
    CHECK(ok);
    CHECK_INT(marker_held(m), 5000);
    CHECK_INT(marker_pending(m), 1);
    /* ...then the whole window goes at once, before anything is stored. */
    pos_fmt(buf, sizeof(buf), 0);
    CHECK_INT(marker_finish(m, buf), 0);
    CHECK_INT(marker_held(m), 0);
    pos_fmt(buf, sizeof(buf), 4999);
    CHECK_STR(marker_committable(m), buf);
    marker_stored(m, buf);
    CHECK(!marker_dirty(m));
    CHECK_INT(marker_held(m), 0);
    marker_free(m);
}

/* xorshift64*: reproducible across libcs. */
static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

enum { E_NEW = 0, E_PENDING, E_DONE };

/* Random mix of starts, skips and finishes in random order, plus duplicates,
 * bad finishes, stores, and one entry that fails and is only finished at the
 * end. After every step the tracker must agree with a brute-force scan. */
static void test_marker__random_interleaving_matches_brute_force(void)
{
    enum { N = 10000, POSLEN = 40, MAX_PENDING = 1500 };
    static char pos[N][POSLEN];
    static unsigned char st[N];
    static int pend[N]; /* indices pending, unordered */
    const uint64_t seed = 0x5eed2c10ad5ULL;
    rng_state = seed;
    printf("# seed %#llx\n", (unsigned long long) seed);

    for (int i = 0; i < N; i++) {
        pos_fmt(pos[i], POSLEN, i);
        st[i] = E_NEW;
    }
    const int failed = (int) (rng() % N);
    struct marker *m = mk("0_committed");
    int next = 0, npend = 0, steps = 0, bad = 0, prefix = 0;
    char stored[POSLEN] = "0_committed"; /* what we last told the tracker */

    while (next < N || npend > 0) {
        int r = 0;
        unsigned roll = (unsigned) (rng() % 100);
        bool only_failed_left = npend == 1 && st[failed] == E_PENDING;
        if (next < N && (npend == 0 || (roll < 50 && npend < MAX_PENDING))) {
            int i = next++;
            if (i != failed && rng() % 10 == 0) {
                r = marker_skip(m, pos[i]);
                st[i] = E_DONE;
            } else {
                r = marker_start(m, pos[i]);
                st[i] = E_PENDING;
                pend[npend++] = i;
            }
        } else if (next < N && only_failed_left) {
            continue; /* the failed entry waits for the end */
        } else {
            int k = (int) (rng() % (uint64_t) npend);
            if (pend[k] == failed && next < N)
                continue;
            int i = pend[k];
            pend[k] = pend[--npend];
            r = marker_finish(m, pos[i]);
            st[i] = E_DONE;
        }
        if (r != 0 && bad++ == 0)
            printf("# step %d: call failed with %d\n", steps, r);

        /* Every so often: misuse that must be refused without effect. */
        roll = (unsigned) (rng() % 100);
        if (roll < 3 && npend > 0) {
            int i = pend[rng() % (uint64_t) npend];
            if (marker_start(m, pos[i]) != -EEXIST && bad++ == 0)
                printf("# step %d: duplicate of %s accepted\n", steps, pos[i]);
        } else if (roll < 6 && next > 0) {
            int i = (int) (rng() % (uint64_t) next);
            if (st[i] == E_DONE && marker_finish(m, pos[i]) != -ENOENT && bad++ == 0)
                printf("# step %d: second finish of %s accepted\n", steps, pos[i]);
        } else if (roll < 12) {
            (void) snprintf(stored, sizeof(stored), "%s", marker_committable(m));
            marker_stored(m, stored);
        }

        /* The reference, by brute force from the first entry. */
        prefix = 0;
        while (prefix < next && st[prefix] == E_DONE)
            prefix++;
        const char *want = prefix ? pos[prefix - 1] : "0_committed";
        const char *got = marker_committable(m);
        if (strcmp(got, want) != 0 && bad++ == 0)
            printf("# step %d: committable %s want %s\n", steps, got, want);
        if (marker_pending(m) != (size_t) npend && bad++ == 0)
            printf("# step %d: pending %zu want %d\n", steps, marker_pending(m), npend);
        if (marker_held(m) != (size_t) (next - prefix) && bad++ == 0)
            printf("# step %d: held %zu want %d\n", steps, marker_held(m), next - prefix);
        if (marker_dirty(m) != (strcmp(want, stored) != 0) && bad++ == 0)
            printf("# step %d: dirty %d with %s stored\n", steps, marker_dirty(m), stored);
        steps++;
    }
    printf("# %d steps, failed entry %d\n", steps, failed);
    CHECK_INT(bad, 0);
    CHECK(steps >= 2 * N * 9 / 10);
    CHECK_STR(marker_committable(m), pos[N - 1]);
    CHECK_INT(marker_held(m), 0);
    marker_free(m);
}

static void test_keylock__second_try_fails_until_release(void)
{
    struct keylock *k = NULL;
    CHECK_INT(keylock_new(&k), 0);
    CHECK(keylock_try(k, "bucket/obj"));
    CHECK(!keylock_try(k, "bucket/obj"));
    CHECK(keylock_try(k, "bucket/other"));
    CHECK_INT(keylock_held(k), 2);
    keylock_release(k, "bucket/obj");
    CHECK_INT(keylock_held(k), 1);
    CHECK(keylock_try(k, "bucket/obj"));
    CHECK(!keylock_try(k, NULL));
    /* Releasing what is not held does nothing. */
    keylock_release(k, "not-held");
    keylock_release(k, NULL);
    CHECK_INT(keylock_held(k), 2);
    keylock_free(k); /* still holding two: freed with it */
    keylock_free(NULL);
}

static void test_keylock__thousands_of_keys(void)
{
    struct keylock *k = NULL;
    char buf[64];
    CHECK_INT(keylock_new(&k), 0);
    int ok = 1;
    for (int i = 0; i < 20000; i++) {
        pos_fmt(buf, sizeof(buf), i);
        ok &= keylock_try(k, buf);
    }
    CHECK(ok);
    CHECK_INT(keylock_held(k), 20000);
    for (int i = 0; i < 20000; i++) {
        pos_fmt(buf, sizeof(buf), i);
        ok &= !keylock_try(k, buf);
    }
    CHECK(ok);
    for (int i = 0; i < 20000; i += 2) {
        pos_fmt(buf, sizeof(buf), i);
        keylock_release(k, buf);
    }
    CHECK_INT(keylock_held(k), 10000);
    for (int i = 0; i < 20000; i++) {
        pos_fmt(buf, sizeof(buf), i);
        ok &= keylock_try(k, buf) == (i % 2 == 0);
    }
    CHECK(ok);
    CHECK_INT(keylock_held(k), 20000);
    for (int i = 0; i < 20000; i++) {
        pos_fmt(buf, sizeof(buf), i);
        keylock_release(k, buf);
    }
    CHECK_INT(keylock_held(k), 0);
    keylock_free(k);
}

int main(void)
{
    RUN(test_marker__new_reports_committed_and_is_clean);
    RUN(test_marker__in_order_finishes_advance_each_step);
    RUN(test_marker__commit_stops_below_pending);
    RUN(test_marker__skips_advance_like_finishes);
    RUN(test_marker__duplicate_start_is_eexist);
    RUN(test_marker__finish_unknown_is_enoent);
    RUN(test_marker__failed_entry_pins_mark_until_finished);
    RUN(test_marker__dirty_until_committable_is_stored);
    RUN(test_marker__finished_entries_dropped_once_passed);
    RUN(test_marker__random_interleaving_matches_brute_force);
    RUN(test_keylock__second_try_fails_until_release);
    RUN(test_keylock__thousands_of_keys);
    return t_done();
}
