/* The log target module: writes nothing anywhere, prints every operation as
 * one line on stdout. For auditing a mapping and for tests. */
#include "sync/target.h"

#include "config.h"
#include "http/loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct log_target {
    struct loop *loop;
    const struct cfg_connection *conn;
};

struct log_op {
    struct loop_timer timer;
    struct sync_event *ev;
};

static int logt_create(const struct target_env *env, void **inst)
{
    struct log_target *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->loop = env->loop;
    t->conn = env->conn;
    *inst = t;
    return 0;
}

static void logt_destroy(void *inst)
{
    free(inst);
}

static void logt_fire(void *ud)
{
    struct log_op *op = ud;
    struct sync_event *ev = op->ev;
    free(op);
    ev->done(ev, 0);
}

/* done() must come from the loop, never from inside the call */
static int logt_emit(struct log_target *t, struct sync_event *ev, const char *what)
{
    struct log_op *op = calloc(1, sizeof(*op));
    if (!op)
        return -ENOMEM;
    op->ev = ev;
    printf("%s bucket=%s key=\"%s\" version=%s -> %s/%s/%s\n", what, ev->bucket_name, ev->key,
           ev->version_id && *ev->version_id ? ev->version_id : "-",
           t->conn && t->conn->endpoint ? t->conn->endpoint : "-", ev->dst_bucket, ev->dst_key);
    fflush(stdout);
    loop_timer_arm(t->loop, &op->timer, 0, logt_fire, op);
    return 0;
}

static int logt_sync_object(void *inst, struct sync_event *ev)
{
    return logt_emit(inst, ev, "copy");
}

static int logt_remove_object(void *inst, struct sync_event *ev)
{
    return logt_emit(inst, ev, "remove");
}

static int logt_create_delete_marker(void *inst, struct sync_event *ev)
{
    return logt_emit(inst, ev, "delete-marker");
}

const struct target_ops target_log = {
    .abi = TARGET_ABI_1,
    .name = "log",
    .create = logt_create,
    .destroy = logt_destroy,
    .sync_object = logt_sync_object,
    .remove_object = logt_remove_object,
    .create_delete_marker = logt_create_delete_marker,
};
