/* Part-size plans and the part buffer pool. */
#include "testlib.h"

#include "sync/parts.h"

#include <errno.h>
#include <stdint.h>

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static void test_parts__small_object_one_stripe_part(void)
{
    struct part_plan p;
    CHECK_INT(part_plan(&p, 40 * MiB, 32 * MiB, PARTS_AWS_MIN), 0);
    CHECK_INT(p.part_size, 32 * MiB);
    CHECK_INT(p.nparts, 2);
    CHECK_INT(p.last_size, 8 * MiB);
}

static void test_parts__minimum_rounds_up_to_stripe(void)
{
    struct part_plan p;
    /* 5 MiB (AWS's floor) becomes 8 MiB: whole RADOS stripes */
    CHECK_INT(part_plan(&p, 100 * MiB, 5 * MiB, PARTS_AWS_MIN), 0);
    CHECK_INT(p.part_size, 8 * MiB);
    CHECK_INT(p.nparts, 13);
    CHECK_INT(p.last_size, 4 * MiB);
    /* COS allows 1 MB parts: the stripe still wins */
    CHECK_INT(part_plan(&p, 100 * MiB, 0, PARTS_COS_MIN), 0);
    CHECK_INT(p.part_size, 4 * MiB);
    CHECK_INT(p.nparts, 25);
}

static void test_parts__exact_multiple_has_full_last_part(void)
{
    struct part_plan p;
    CHECK_INT(part_plan(&p, 64 * MiB, 16 * MiB, PARTS_AWS_MIN), 0);
    CHECK_INT(p.nparts, 4);
    CHECK_INT(p.last_size, 16 * MiB);
    uint64_t a, b;
    part_range(&p, 4, &a, &b);
    CHECK_INT(a, 48 * MiB);
    CHECK_INT(b, 64 * MiB - 1);
    part_range(&p, 1, &a, &b);
    CHECK_INT(a, 0);
    CHECK_INT(b, 16 * MiB - 1);
}

static void test_parts__ten_thousand_part_limit_raises_size(void)
{
    struct part_plan p;
    /* 1 TiB with 8 MiB minimum: 131,072 parts would be too many */
    CHECK_INT(part_plan(&p, 1024 * GiB, 8 * MiB, PARTS_AWS_MIN), 0);
    CHECK(p.nparts <= PARTS_MAX);
    CHECK_INT(p.part_size % PARTS_STRIPE, 0);
    CHECK((uint64_t) p.nparts * p.part_size >= 1024 * GiB);
    CHECK((uint64_t) (p.nparts - 1) * p.part_size < 1024 * GiB);
    /* one byte over 10,000 parts of the minimum */
    uint64_t size = (uint64_t) PARTS_MAX * 8 * MiB + 1;
    CHECK_INT(part_plan(&p, size, 8 * MiB, PARTS_AWS_MIN), 0);
    CHECK_INT(p.part_size, 12 * MiB);
    CHECK(p.nparts <= PARTS_MAX);
}

static void test_parts__largest_object_and_beyond(void)
{
    struct part_plan p;
    CHECK_INT(part_plan(&p, (uint64_t) PARTS_MAX * 5 * GiB, 8 * MiB, PARTS_AWS_MIN), 0);
    CHECK_INT(p.part_size, 5 * GiB);
    CHECK_INT(p.nparts, PARTS_MAX);
    CHECK_INT(part_plan(&p, (uint64_t) PARTS_MAX * 5 * GiB + 1, 8 * MiB, PARTS_AWS_MIN), -EFBIG);
    CHECK_INT(part_plan(&p, 0, 8 * MiB, PARTS_AWS_MIN), -EINVAL);
}

static void test_bufpool__budget_is_never_exceeded(void)
{
    struct bufpool *p = NULL;
    CHECK_INT(bufpool_new(&p, 10 * MiB, 0), 0);
    void *a = bufpool_get(p, 4 * MiB);
    void *b = bufpool_get(p, 4 * MiB);
    CHECK(a && b);
    CHECK(bufpool_get(p, 4 * MiB) == NULL); /* 12 > 10 */
    CHECK_INT(bufpool_in_use(p), 8 * MiB);
    bufpool_put(p, a);
    CHECK_INT(bufpool_in_use(p), 4 * MiB);
    CHECK_INT(bufpool_allocated(p), 8 * MiB);
    void *c = bufpool_get(p, 4 * MiB);
    CHECK(c == a); /* reused, not allocated again */
    CHECK_INT(bufpool_allocated(p), 8 * MiB);
    CHECK(bufpool_get(p, 11 * MiB) == NULL); /* larger than the budget */
    bufpool_put(p, b);
    bufpool_put(p, c);
    /* kept buffers of another size make room for a new size */
    void *d = bufpool_get(p, 6 * MiB);
    CHECK(d != NULL);
    CHECK(bufpool_allocated(p) <= 10 * MiB);
    bufpool_put(p, d);
    bufpool_free(p);
}

static void test_bufpool__random_use_stays_within_budget(void)
{
    struct bufpool *p = NULL;
    CHECK_INT(bufpool_new(&p, 64 * MiB, 0), 0);
    void *held[32] = {0};
    unsigned seed = 7;
    int over = 0;
    for (int i = 0; i < 5000; i++) {
        seed = seed * 1103515245u + 12345u;
        int slot = (int) ((seed >> 8) % 32);
        if (held[slot]) {
            bufpool_put(p, held[slot]);
            held[slot] = NULL;
        } else {
            size_t size = (size_t) (1 + (seed >> 16) % 4) * 4 * MiB;
            held[slot] = bufpool_get(p, size);
        }
        if (bufpool_allocated(p) > bufpool_budget(p))
            over++;
    }
    CHECK_INT(over, 0);
    for (int i = 0; i < 32; i++)
        bufpool_put(p, held[i]);
    CHECK_INT(bufpool_in_use(p), 0);
    bufpool_free(p);
}

static void test_bufpool__count_limit_holds_and_follows_a_reload(void)
{
    struct bufpool *p = NULL;
    CHECK_INT(bufpool_new(&p, 64 * MiB, 3), 0);
    void *b[4] = {0};
    for (int i = 0; i < 3; i++)
        CHECK((b[i] = bufpool_get(p, MiB)) != NULL);
    CHECK(bufpool_get(p, MiB) == NULL); /* a 4th: the budget has room, the count not */
    CHECK_INT(bufpool_out(p), 3);
    bufpool_put(p, b[0]);
    CHECK((b[0] = bufpool_get(p, MiB)) != NULL); /* a release lets the next one in */
    bufpool_set_max_bufs(p, 2); /* fewer: the 3 out stay, nothing new until below 2 */
    CHECK(bufpool_get(p, MiB) == NULL);
    bufpool_put(p, b[0]);
    CHECK(bufpool_get(p, MiB) == NULL); /* 2 out: still none */
    bufpool_put(p, b[1]);
    CHECK((b[1] = bufpool_get(p, MiB)) != NULL);
    bufpool_set_max_bufs(p, 0); /* no limit: only the budget counts */
    CHECK((b[0] = bufpool_get(p, MiB)) != NULL);
    CHECK((b[3] = bufpool_get(p, MiB)) != NULL);
    CHECK_INT(bufpool_out(p), 4);
    for (int i = 0; i < 4; i++)
        bufpool_put(p, b[i]);
    CHECK_INT(bufpool_out(p), 0);
    bufpool_free(p);
}

int main(void)
{
    RUN(test_parts__small_object_one_stripe_part);
    RUN(test_parts__minimum_rounds_up_to_stripe);
    RUN(test_parts__exact_multiple_has_full_last_part);
    RUN(test_parts__ten_thousand_part_limit_raises_size);
    RUN(test_parts__largest_object_and_beyond);
    RUN(test_bufpool__budget_is_never_exceeded);
    RUN(test_bufpool__random_use_stays_within_budget);
    RUN(test_bufpool__count_limit_holds_and_follows_a_reload);
    return t_done();
}
