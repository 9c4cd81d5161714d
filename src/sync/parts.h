/* Multipart planning and the part buffer pool (DESIGN.md §4).
 *
 * Part size = max(configured minimum, provider minimum, ceil(size / 10,000)),
 * rounded up to a multiple of 4 MiB (RGW's stripe: each ranged read maps
 * onto whole RADOS objects), at most 5 GiB. */
#ifndef RGW2CLOUD_PARTS_H
#define RGW2CLOUD_PARTS_H

#include <stddef.h>
#include <stdint.h>

#define PARTS_MAX      10000u
#define PARTS_STRIPE   (4ull << 20)
#define PARTS_MAX_SIZE (5ull << 30)
#define PARTS_AWS_MIN  (5ull << 20)
#define PARTS_COS_MIN  1000000ull

struct part_plan {
    uint64_t part_size;
    uint32_t nparts;
    uint64_t last_size; /* the last part's size (<= part_size, > 0 unless size == 0) */
};

/* provider_min: the target's smallest part (PARTS_AWS_MIN for AWS and
 * generic S3, PARTS_COS_MIN for COS). -EFBIG when size needs more than
 * 10,000 parts of 5 GiB; -EINVAL for size 0 (not a multipart object). */
int part_plan(struct part_plan *out, uint64_t size, uint64_t min_part, uint64_t provider_min);

/* Byte range [*first, *last] of part n (1-based) of plan. */
void part_range(const struct part_plan *p, uint32_t n, uint64_t *first, uint64_t *last);

/* A pool of part buffers under one byte budget (sync.max_inflight_bytes):
 * buffers in use plus buffers kept for reuse never exceed it; and at most
 * max_bufs (sync.max_inflight_parts, 0 = no limit) handed out at once: a
 * part in flight holds one buffer. One thread. */
struct bufpool;

int bufpool_new(struct bufpool **out, uint64_t budget, size_t max_bufs);
void bufpool_free(struct bufpool *p); /* accepts NULL; all buffers returned */
/* A new count limit (a config reload); buffers out above it stay out. */
void bufpool_set_max_bufs(struct bufpool *p, size_t max_bufs);

/* A buffer of exactly size bytes, or NULL when the budget or the count has
 * no room now (the caller waits for a release) or size exceeds the whole
 * budget. */
void *bufpool_get(struct bufpool *p, size_t size);
void bufpool_put(struct bufpool *p, void *buf); /* accepts NULL */

uint64_t bufpool_in_use(const struct bufpool *p);    /* bytes handed out */
uint64_t bufpool_allocated(const struct bufpool *p); /* in use + kept for reuse */
size_t bufpool_out(const struct bufpool *p);         /* buffers handed out */
uint64_t bufpool_budget(const struct bufpool *p);

#endif
