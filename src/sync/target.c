#include "sync/target.h"

#include "err.h"

#include <stddef.h>
#include <string.h>

static const struct target_ops *const registry[] = {&target_s3, &target_log, NULL};

const struct target_ops *target_find(const char *name)
{
    for (size_t i = 0; registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    err_set("target module \"%s\" is unknown; known: s3, log", name);
    return NULL;
}
