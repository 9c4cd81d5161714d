#include "sync/marker.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* A chained hash table of entries embedded in their owners' nodes (the entry
 * is the first member, so a node pointer and its entry pointer convert). The
 * table owns only its bucket array. */

struct hent {
    struct hent *hnext;
    size_t hash;
    const char *key; /* points into the owning node */
};

struct htab {
    struct hent **b;
    size_t nb; /* 0 or a power of two */
    size_t n;
};

#define HTAB_MIN 16

static size_t str_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return (size_t) (h ^ (h >> 32));
}

/* On error the table is unchanged. */
static int htab_resize(struct htab *t, size_t nb)
{
    struct hent **b = calloc(nb, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < t->nb; i++) {
        struct hent *e = t->b[i];
        while (e) {
            struct hent *next = e->hnext;
            size_t j = e->hash & (nb - 1);
            e->hnext = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

static struct hent *htab_find(const struct htab *t, const char *key, size_t hash)
{
    if (t->nb == 0)
        return NULL;
    for (struct hent *e = t->b[hash & (t->nb - 1)]; e; e = e->hnext)
        if (e->hash == hash && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* -ENOMEM only while the table has no buckets at all; a failed grow later
 * just makes chains longer. On error the table is unchanged. */
static int htab_insert(struct htab *t, struct hent *e)
{
    if (t->n >= t->nb) {
        int r = htab_resize(t, t->nb ? t->nb * 2 : HTAB_MIN);
        if (r < 0 && t->nb == 0)
            return r;
    }
    size_t i = e->hash & (t->nb - 1);
    e->hnext = t->b[i];
    t->b[i] = e;
    t->n++;
    return 0;
}

/* e must be in t. Shrinks when mostly empty, so memory follows the window. */
static void htab_remove(struct htab *t, struct hent *e)
{
    struct hent **pp = &t->b[e->hash & (t->nb - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->hnext = NULL;
    t->n--;
    if (t->nb > HTAB_MIN && t->n * 8 < t->nb)
        (void) htab_resize(t, t->nb / 2); /* on failure keep the bigger table */
}

static void htab_fini(struct htab *t)
{
    free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}

/* ---- marker ---- */

struct mnode {
    struct hent h;      /* first: see struct hent */
    struct mnode *next; /* the next one started */
    bool finished;
    char pos[];
};

/* Invariant: nodes started after the committable position, in start order,
 * each in the table. When the list is not empty its head is pending (finished
 * heads are popped at once), so the committable position is always base. */
struct marker {
    struct htab tab;
    struct mnode *head, *tail;
    struct mnode *base; /* the committable position; not in the list or table */
    size_t pending;
    size_t held;
    bool clean; /* base is what was last stored */
};

static struct mnode *mnode_new(const char *pos, size_t hash)
{
    size_t len = strlen(pos);
    struct mnode *n = malloc(sizeof(*n) + len + 1);
    if (!n)
        return NULL;
    memcpy(n->pos, pos, len + 1);
    n->h.hnext = NULL;
    n->h.hash = hash;
    n->h.key = n->pos;
    n->next = NULL;
    n->finished = false;
    return n;
}

int marker_new(struct marker **out, const char *committed)
{
    *out = NULL;
    if (!committed)
        committed = "";
    struct marker *m = calloc(1, sizeof(*m));
    if (!m)
        goto nomem;
    m->base = mnode_new(committed, str_hash(committed));
    if (!m->base)
        goto nomem;
    m->base->finished = true;
    m->clean = true;
    *out = m;
    return 0;

nomem:
    marker_free(m);
    err_set("marker: out of memory");
    return -ENOMEM;
}

void marker_free(struct marker *m)
{
    if (!m)
        return;
    struct mnode *n = m->head;
    while (n) {
        struct mnode *next = n->next;
        free(n);
        n = next;
    }
    free(m->base);
    htab_fini(&m->tab);
    free(m);
}

/* Start tracking pos, pending or already finished. The committable position
 * counts as tracked, so starting it again is a duplicate too. On error m is
 * unchanged. */
static int track(struct marker *m, const char *pos, bool finished)
{
    if (!pos || !*pos) {
        err_set("marker: empty position");
        return -EINVAL;
    }
    size_t hash = str_hash(pos);
    if (strcmp(pos, m->base->pos) == 0) {
        err_set("marker: %s is a duplicate (already committable)", pos);
        return -EEXIST;
    }
    const struct hent *e = htab_find(&m->tab, pos, hash);
    if (e) {
        err_set("marker: %s is a duplicate (already %s)", pos,
                ((const struct mnode *) e)->finished ? "finished" : "pending");
        return -EEXIST;
    }

    struct mnode *n = mnode_new(pos, hash);
    if (!n)
        goto nomem;
    n->finished = finished;
    if (finished && !m->head) {
        /* Nothing pending before it: it is committable right away. */
        free(m->base);
        m->base = n;
        m->clean = false;
        return 0;
    }
    if (htab_insert(&m->tab, &n->h) < 0) {
        free(n);
        goto nomem;
    }
    if (m->tail)
        m->tail->next = n;
    else
        m->head = n;
    m->tail = n;
    m->held++;
    if (!finished)
        m->pending++;
    return 0;

nomem:
    err_set("marker: out of memory");
    return -ENOMEM;
}

int marker_start(struct marker *m, const char *pos)
{
    return track(m, pos, false);
}

int marker_skip(struct marker *m, const char *pos)
{
    return track(m, pos, true);
}

int marker_finish(struct marker *m, const char *pos)
{
    struct hent *e = pos ? htab_find(&m->tab, pos, str_hash(pos)) : NULL;
    struct mnode *n = (struct mnode *) e;
    if (!n || n->finished) {
        err_set("marker: finish of %s, which is not pending", pos ? pos : "(null)");
        return -ENOENT;
    }
    n->finished = true;
    m->pending--;
    /* Pop the finished prefix: each popped node becomes the committable
     * position. Every node is popped once, so this is O(1) amortised. */
    while (m->head && m->head->finished) {
        struct mnode *h = m->head;
        m->head = h->next;
        if (!m->head)
            m->tail = NULL;
        htab_remove(&m->tab, &h->h);
        m->held--;
        h->next = NULL;
        free(m->base);
        m->base = h;
        m->clean = false;
    }
    return 0;
}

const char *marker_committable(const struct marker *m)
{
    return m->base->pos;
}

bool marker_dirty(const struct marker *m)
{
    return !m->clean;
}

void marker_stored(struct marker *m, const char *pos)
{
    /* What is durable now is pos; clean only if that is where we stand. */
    m->clean = pos && strcmp(pos, m->base->pos) == 0;
}

size_t marker_pending(const struct marker *m)
{
    return m->pending;
}

size_t marker_held(const struct marker *m)
{
    return m->held;
}

/* ---- keylock ---- */

struct knode {
    struct hent h; /* first: see struct hent */
    char key[];
};

struct keylock {
    struct htab tab;
};

int keylock_new(struct keylock **out)
{
    *out = calloc(1, sizeof(**out));
    if (!*out) {
        err_set("keylock: out of memory");
        return -ENOMEM;
    }
    return 0;
}

void keylock_free(struct keylock *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->tab.nb; i++) {
        struct hent *e = k->tab.b[i];
        while (e) {
            struct hent *next = e->hnext;
            free(e);
            e = next;
        }
    }
    htab_fini(&k->tab);
    free(k);
}

bool keylock_try(struct keylock *k, const char *key)
{
    if (!key)
        return false;
    size_t hash = str_hash(key);
    if (htab_find(&k->tab, key, hash))
        return false;
    size_t len = strlen(key);
    struct knode *n = malloc(sizeof(*n) + len + 1);
    if (!n)
        goto nomem;
    memcpy(n->key, key, len + 1);
    n->h.hnext = NULL;
    n->h.hash = hash;
    n->h.key = n->key;
    if (htab_insert(&k->tab, &n->h) < 0) {
        free(n);
        goto nomem;
    }
    return true;

nomem:
    err_set("keylock: out of memory taking %s", key);
    return false;
}

void keylock_release(struct keylock *k, const char *key)
{
    if (!key)
        return;
    struct hent *e = htab_find(&k->tab, key, str_hash(key));
    if (!e)
        return;
    htab_remove(&k->tab, e);
    free(e);
}

size_t keylock_held(const struct keylock *k)
{
    return k->tab.n;
}
