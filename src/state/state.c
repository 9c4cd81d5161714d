#include "state_api.h"

#include "config.h"
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The backends this build has; looked up by the name cfg->state selects. */
static const struct state_ops *const state_backends[] = {
    &state_sqlite_ops,
    &state_rados_ops,
    NULL,
};

/* Every name the config accepts, indexed by enum cfg_state_backend. A name
 * here but not in state_backends is a backend still to come. */
static const char *const backend_names[] = {
    [CFG_STATE_SQLITE] = "sqlite",
    [CFG_STATE_RADOS] = "rados",
};

static const struct state_ops *backend_find(const char *name)
{
    for (size_t i = 0; state_backends[i]; i++)
        if (strcmp(state_backends[i]->name, name) == 0)
            return state_backends[i];
    return NULL;
}

/* "sqlite, other": for messages; truncates quietly (it is only a hint). */
static void backend_known(char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; state_backends[i] && len < size; i++) {
        int n = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", state_backends[i]->name);
        if (n < 0)
            break;
        len += (size_t) n;
    }
}

int state_open(struct state *out, const struct config *cfg)
{
    unsigned backend = (unsigned) cfg->state.backend;
    const char *name = NULL;
    char known[128];

    if (backend < sizeof(backend_names) / sizeof(backend_names[0]))
        name = backend_names[backend];
    if (!name) {
        backend_known(known, sizeof(known));
        err_set("state: unknown backend %u; known: %s", backend, known);
        return -ENOENT;
    }

    const struct state_ops *ops = backend_find(name);
    if (!ops) {
        err_set("state: backend %s is not available yet; use sqlite", name);
        return -ENOTSUP;
    }
    if (ops->abi != STATE_ABI_1) {
        err_set("state: backend %s has ABI %u, expected %u", name, ops->abi, STATE_ABI_1);
        return -ENOTSUP;
    }

    void *inst = NULL;
    int r = ops->open(cfg, &inst);
    if (r < 0)
        return r;
    out->ops = ops;
    out->inst = inst;
    return 0;
}

void state_close(struct state *st)
{
    if (!st)
        return;
    if (st->ops)
        st->ops->close(st->inst);
    st->ops = NULL;
    st->inst = NULL;
}

void state_dl_shard_finish(struct state_dl_shard *s)
{
    if (!s)
        return;
    free(s->marker);
    free(s->full_marker);
    memset(s, 0, sizeof(*s));
}

void state_bs_finish(struct state_bs *bs)
{
    if (!bs)
        return;
    free(bs->key);
    free(bs->inc_marker);
    free(bs->full_key);
    free(bs->full_version);
    memset(bs, 0, sizeof(*bs));
}

void state_retry_finish(struct state_retry *r)
{
    if (!r)
        return;
    free(r->key);
    free(r->timestamp);
    free(r->last_error);
    memset(r, 0, sizeof(*r));
}

void state_upload_finish(struct state_upload *u)
{
    if (!u)
        return;
    free(u->id);
    free(u->src_bucket);
    free(u->src_key);
    free(u->src_version);
    free(u->src_etag);
    free(u->src_mtime);
    free(u->target);
    free(u->dst_bucket);
    free(u->dst_key);
    free(u->upload_id);
    free(u->parts_json);
    memset(u, 0, sizeof(*u));
}
