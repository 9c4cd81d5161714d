#include "sync/parts.h"

#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int part_plan(struct part_plan *out, uint64_t size, uint64_t min_part, uint64_t provider_min)
{
    if (size == 0)
        return -EINVAL;
    uint64_t ps = min_part > provider_min ? min_part : provider_min;
    uint64_t by_count = size / PARTS_MAX + (size % PARTS_MAX != 0);
    if (by_count > ps)
        ps = by_count;
    ps = (ps + PARTS_STRIPE - 1) / PARTS_STRIPE * PARTS_STRIPE;
    if (ps > PARTS_MAX_SIZE) {
        /* 5 GiB is 1,280 stripes: only objects beyond 10,000 x 5 GiB end here */
        err_set("object of %llu bytes needs parts over 5 GiB; the largest multipart object is "
                "10,000 x 5 GiB",
                (unsigned long long) size);
        return -EFBIG;
    }
    out->part_size = ps;
    out->nparts = (uint32_t) (size / ps + (size % ps != 0));
    out->last_size = size - (uint64_t) (out->nparts - 1) * ps;
    return 0;
}

void part_range(const struct part_plan *p, uint32_t n, uint64_t *first, uint64_t *last)
{
    *first = (uint64_t) (n - 1) * p->part_size;
    *last = *first + (n == p->nparts ? p->last_size : p->part_size) - 1;
}

/* ------------------------------------------------------------ buffer pool */

struct free_buf {
    struct free_buf *next;
    size_t size;
};

struct bufpool {
    uint64_t budget;
    size_t max_bufs; /* buffers handed out at once, 0 = no limit */
    uint64_t in_use;
    uint64_t cached;
    struct free_buf *free; /* kept for reuse; header lives in the buffer */
    /* sizes of handed-out buffers, to account on put */
    void **out_ptr;
    size_t *out_size;
    size_t nout, capout;
};

int bufpool_new(struct bufpool **out, uint64_t budget, size_t max_bufs)
{
    struct bufpool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->budget = budget;
    p->max_bufs = max_bufs;
    *out = p;
    return 0;
}

void bufpool_set_max_bufs(struct bufpool *p, size_t max_bufs)
{
    p->max_bufs = max_bufs;
}

void bufpool_free(struct bufpool *p)
{
    if (!p)
        return;
    while (p->free) {
        struct free_buf *f = p->free;
        p->free = f->next;
        free(f);
    }
    for (size_t i = 0; i < p->nout; i++)
        free(p->out_ptr[i]);
    free(p->out_ptr);
    free(p->out_size);
    free(p);
}

static int track(struct bufpool *p, void *buf, size_t size)
{
    if (p->nout == p->capout) {
        size_t cap = p->capout ? p->capout * 2 : 16;
        void **np = realloc(p->out_ptr, cap * sizeof(void *));
        if (!np)
            return -ENOMEM;
        p->out_ptr = np;
        size_t *ns = realloc(p->out_size, cap * sizeof(size_t));
        if (!ns)
            return -ENOMEM;
        p->out_size = ns;
        p->capout = cap;
    }
    p->out_ptr[p->nout] = buf;
    p->out_size[p->nout] = size;
    p->nout++;
    return 0;
}

void *bufpool_get(struct bufpool *p, size_t size)
{
    if (size < sizeof(struct free_buf))
        size = sizeof(struct free_buf);
    if (size > p->budget || (p->max_bufs && p->nout >= p->max_bufs))
        return NULL;
    /* a kept buffer of this size first */
    for (struct free_buf **f = &p->free; *f; f = &(*f)->next) {
        if ((*f)->size == size) {
            struct free_buf *b = *f;
            *f = b->next;
            if (track(p, b, size) < 0) {
                b->next = p->free;
                p->free = b;
                return NULL;
            }
            p->cached -= size;
            p->in_use += size;
            return b;
        }
    }
    /* make room: drop kept buffers of other sizes */
    while (p->in_use + p->cached + size > p->budget && p->free) {
        struct free_buf *b = p->free;
        p->free = b->next;
        p->cached -= b->size;
        free(b);
    }
    if (p->in_use + p->cached + size > p->budget)
        return NULL;
    void *buf = malloc(size);
    if (!buf)
        return NULL;
    if (track(p, buf, size) < 0) {
        free(buf);
        return NULL;
    }
    p->in_use += size;
    return buf;
}

void bufpool_put(struct bufpool *p, void *buf)
{
    if (!buf)
        return;
    for (size_t i = 0; i < p->nout; i++) {
        if (p->out_ptr[i] == buf) {
            size_t size = p->out_size[i];
            p->out_ptr[i] = p->out_ptr[p->nout - 1];
            p->out_size[i] = p->out_size[p->nout - 1];
            p->nout--;
            p->in_use -= size;
            struct free_buf *f = buf;
            f->size = size;
            f->next = p->free;
            p->free = f;
            p->cached += size;
            return;
        }
    }
}

uint64_t bufpool_in_use(const struct bufpool *p)
{
    return p->in_use;
}

uint64_t bufpool_allocated(const struct bufpool *p)
{
    return p->in_use + p->cached;
}

size_t bufpool_out(const struct bufpool *p)
{
    return p->nout;
}

uint64_t bufpool_budget(const struct bufpool *p)
{
    return p->budget;
}
