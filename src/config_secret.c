/* The key pairs of the config: access_key with secret, or with a
 * secret_file read at load time. A secret never reaches a problem line,
 * and its copies are wiped before they are freed. */
#include "config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_MAX 4096

static char *path_join(struct cfg_ctx *c, const char *file)
{
    char *p = NULL;
    if (file[0] == '/' || !c->dir)
        return cfg_strdup(c, file);
    if (asprintf(&p, "%s/%s", c->dir, file) < 0) {
        c->oom = true;
        return NULL;
    }
    return p;
}

void cfg_secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void unreadable(struct cfg_ctx *c, const char *jp, const char *path, int err)
{
    cfg_problem(c, jp, "cannot read %s: %s; expected a readable file holding the secret key",
                cfg_quote(path).s, strerror(err));
}

/* Read a secret from file: one line, trailing newline/blanks stripped.
 * Relative names are relative to the config file's directory. The content
 * never reaches a problem line. */
static int read_secret_file(struct cfg_ctx *c, const char *jp, const char *name, char **out)
{
    char *path = path_join(c, name);
    if (!path)
        return -1;
    int ret = -1, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char buf[SECRET_MAX + 1];
    size_t len = 0;
    if (fd < 0 || fstat(fd, &st) < 0) {
        unreadable(c, jp, path, errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        cfg_problem(c, jp, "%s is not a regular file; expected a file holding the secret key",
                    cfg_quote(path).s);
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            unreadable(c, jp, path, errno);
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t) r;
        if (len == sizeof(buf)) {
            cfg_problem(c, jp, "%s is larger than %d bytes; expected a file holding one secret key",
                        cfg_quote(path).s, SECRET_MAX);
            goto out;
        }
    }
    while (len && strchr("\r\n \t", buf[len - 1]))
        len--;
    buf[len] = '\0';
    if (len == 0) {
        cfg_problem(c, jp, "%s is empty; expected a file holding the secret key",
                    cfg_quote(path).s);
        goto out;
    }
    if (strlen(buf) != len || cfg_has_ctrl(buf)) {
        cfg_problem(c, jp,
                    "%s holds more than one line or control characters; expected one line "
                    "holding the secret key",
                    cfg_quote(path).s);
        goto out;
    }
    if (st.st_mode & (S_IRGRP | S_IROTH))
        cfg_warning(c, jp, "%s is readable by group or others; expected mode 0600 or 0400",
                    cfg_quote(path).s);
    *out = cfg_strdup(c, buf);
    ret = *out ? 1 : -1;
out:
    explicit_bzero(buf, sizeof(buf));
    if (fd >= 0)
        (void) close(fd);
    free(path);
    return ret;
}

bool cfg_key_pair_parse(struct cfg_ctx *c, json_t *obj, const char *jp, char **ak, char **secret,
                        bool *bad)
{
    const char *a = NULL, *s = NULL, *f = NULL;
    int ra = cfg_get_str(c, obj, jp, "access_key", 0, "the access key as a string", &a);
    int rs = cfg_get_str(c, obj, jp, "secret", 0, "the secret key as a string", &s);
    int rf =
        cfg_get_str(c, obj, jp, "secret_file", 0, "the path of a file holding the secret key", &f);
    if (json_object_get(obj, "secret"))
        c->inline_secret = true;
    *bad = ra < 0 || rs < 0 || rf < 0;
    if (!ra && !rs && !rf)
        return false;
    if (rs && rf) {
        cfg_problem(
            c, cfg_jp_key(jp, "secret_file").s,
            "given together with \"secret\"; expected one of \"secret\" or \"secret_file\"");
        *bad = true;
    } else if (rs > 0) {
        *secret = cfg_strdup(c, s);
    } else if (rf > 0) {
        if (read_secret_file(c, cfg_jp_key(jp, "secret_file").s, f, secret) < 0)
            *bad = true;
    }
    if (!ra) {
        cfg_problem(c, cfg_jp_key(jp, "access_key").s,
                    "missing; expected it beside \"secret\" / \"secret_file\"");
        *bad = true;
    } else if (!rs && !rf) {
        cfg_problem(c, cfg_jp_key(jp, "secret").s,
                    "missing; expected \"secret\" or \"secret_file\" beside \"access_key\"");
        *bad = true;
    }
    if (ra > 0)
        *ak = cfg_strdup(c, a);
    return true;
}
