/* Reads the lab's env file (scripts/lab.sh writes DIR/env: KEY=VALUE lines).
 * Integration tests find it through $LAB_TARGET_ENV / $LAB_SOURCE_ENV; a
 * missing lab is a test failure, never a skip. */
#ifndef RGW2CLOUD_LABENV_H
#define RGW2CLOUD_LABENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct labenv {
    char keys[64][1024];
    char vals[64][512];
    int n;
};

static inline int labenv_load(struct labenv *e, const char *envvar)
{
    memset(e, 0, sizeof(*e));
    const char *path = getenv(envvar);
    if (!path || !*path) {
        printf("# $%s is not set: run the integration suite through scripts/test.sh, "
               "which brings up the lab\n", envvar);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("# cannot open lab env %s\n", path);
        return -1;
    }
    char line[1024];
    while (e->n < 64 && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#')
            continue;
        *eq = '\0';
        snprintf(e->keys[e->n], sizeof(e->keys[0]), "%s", line);
        snprintf(e->vals[e->n], sizeof(e->vals[0]), "%s", eq + 1);
        e->n++;
    }
    fclose(f);
    return 0;
}

static inline const char *labenv_get(const struct labenv *e, const char *key)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->keys[i], key) == 0)
            return e->vals[i];
    return NULL;
}

#endif
