/* The integration tests' shared helpers: see harness.h. */
#include "harness.h"

#include "labenv.h"

#include "http/s3.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- time */

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* --------------------------------------------------------------- files */

char *slurp_len(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "r");
    if (len_out)
        *len_out = 0;
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[8192];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + k + 1 > cap) {
            cap = (len + k + 1) * 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + len, chunk, k);
        len += k;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

char *slurp(const char *path)
{
    char *t = slurp_len(path, NULL);
    return t ? t : strdup("");
}

bool file_contains(const char *path, const char *needle)
{
    char *t = slurp(path);
    bool f = strstr(t, needle) != NULL;
    free(t);
    return f;
}

long long log_total(const char *path, const char *name)
{
    char *t = slurp(path);
    long long v = -1;
    char want[64];
    (void) snprintf(want, sizeof(want), " %s=", name);
    for (char *line = t; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        const char *at;
        if ((strstr(line, "msg=\"caught up\"") || strstr(line, "msg=\"not caught up\"")) &&
            (at = strstr(line, want)))
            v = strtoll(at + strlen(want), NULL, 10);
        line = nl ? nl + 1 : NULL;
    }
    free(t);
    return v;
}

/* Up to max lines from p on, each as a TAP comment. */
static void print_lines(const char *p, int max)
{
    for (int n = 0; *p && n < max; n++) {
        const char *nl = strchr(p, '\n');
        int l = nl ? (int) (nl - p) : (int) strlen(p);
        printf("#   %.*s\n", l, p);
        p += l + (nl ? 1 : 0);
    }
    printf("# ----\n");
    fflush(stdout);
}

void print_tail(const char *path, int n)
{
    char *text = slurp(path);
    size_t len = strlen(text);
    const char *start = text + len;
    int lines = 0;
    while (start > text && lines <= n) {
        start--;
        if (*start == '\n')
            lines++;
    }
    if (*start == '\n')
        start++;
    printf("# ---- tail of %s\n", path);
    print_lines(start, INT_MAX);
    free(text);
}

void print_head(const char *path, int max_lines)
{
    char *text = slurp(path);
    printf("# ---- %s\n", path);
    print_lines(text, max_lines);
    free(text);
}

void path_in(char *out, size_t n, const struct harness *h, const char *name)
{
    snprintf(out, n, "%s/%s", h->workdir, name);
}

void workdir_template(char *tmpl, size_t n, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpl, n, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
}

void workdir_remove(const char *workdir)
{
    DIR *dir = opendir(workdir);
    struct dirent *de;
    char p[600];
    while (dir && (de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", workdir, de->d_name);
        (void) unlink(p);
    }
    if (dir)
        closedir(dir);
    (void) rmdir(workdir);
}

FILE *cfg_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        printf("# cannot write %s\n", path);
        if (fd >= 0)
            (void) close(fd);
    }
    return f;
}

/* ----------------------------------------------------------- processes */

pid_t spawn(const char *const *args, const char *out, const char *err, enum out_mode mode)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == OUT_APPEND ? O_APPEND : O_TRUNC);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out, flags, 0600);
        int e = strcmp(out, err) == 0 ? o : open(err, flags, 0600);
        if (o < 0 || e < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        execv(args[0], (char *const *) args);
        _exit(127);
    }
    return pid;
}

int wait_exit(pid_t pid, long timeout_ms)
{
    double deadline = now_s() + (double) timeout_ms / 1000.0;
    for (;;) {
        int st = 0;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (w < 0)
            return -1;
        if (now_s() > deadline) {
            kill(pid, SIGKILL);
            (void) waitpid(pid, &st, 0);
            printf("# pid %d did not end within %ld ms: killed\n", (int) pid, timeout_ms);
            return -1;
        }
        sleep_ms(20);
    }
}

int run_cmd(const char *const *args, const char *out, const char *err, enum out_mode mode,
            long timeout_ms)
{
    pid_t pid = spawn(args, out, err, mode);
    if (pid < 0)
        return -1;
    return wait_exit(pid, timeout_ms);
}

int sync_once(const struct harness *h, const char *cfg, const char *log, long timeout_ms)
{
    const char *args[] = {h->bin, "sync", "-c", cfg, "--once", NULL};
    int rc = run_cmd(args, log, log, OUT_APPEND, timeout_ms);
    if (rc != 0)
        print_tail(log, 25);
    return rc;
}

json_t *status_json(const struct harness *h, const char *cfg, const char *tag)
{
    char out[512], err[512];
    snprintf(out, sizeof(out), "%s/status-%s.out", h->workdir, tag);
    snprintf(err, sizeof(err), "%s/status-%s.err", h->workdir, tag);
    /* appended to (a tag is reused when polling): start them empty, so
     * that out parses as this run's one document and err is this run's */
    unlink(out);
    unlink(err);
    const char *args[] = {h->bin, "status", "-c", cfg, "--json", NULL};
    int rc = run_cmd(args, out, err, OUT_APPEND, 60000);
    char *text = slurp(out);
    json_error_t je;
    json_t *j = rc == 0 ? json_loads(text, 0, &je) : NULL;
    if (!j) {
        printf("# status --json exited %d\n", rc);
        print_tail(out, 10);
        print_tail(err, 10);
    }
    free(text);
    return j;
}

bool daemon_alive(struct daemon *d)
{
    if (d->pid <= 0)
        return false;
    int st = 0;
    if (waitpid(d->pid, &st, WNOHANG) == 0)
        return true;
    d->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    d->pid = -1;
    return false;
}

int daemon_start(struct daemon *d, const struct harness *h, const char *cfg, const char *name)
{
    snprintf(d->log, sizeof(d->log), "%s/%s.log", h->workdir, name);
    const char *args[] = {h->bin, "run", "-c", cfg, NULL};
    d->exit_code = -1;
    d->pid = spawn(args, d->log, d->log, OUT_APPEND);
    if (d->pid < 0)
        return -1;
    double deadline = now_s() + 30;
    while (now_s() < deadline) {
        if (file_contains(d->log, "msg=\"listening\""))
            return 0;
        if (!daemon_alive(d)) {
            printf("# %s: rgw2cloud run exited (%d) before listening\n", name, d->exit_code);
            print_tail(d->log, 25);
            return -1;
        }
        sleep_ms(50);
    }
    printf("# %s: rgw2cloud run did not listen within 30 s\n", name);
    print_tail(d->log, 25);
    kill(d->pid, SIGKILL);
    (void) wait_exit(d->pid, 10000);
    d->pid = -1;
    return -1;
}

int daemon_stop(struct daemon *d, long timeout_ms)
{
    if (!daemon_alive(d)) {
        printf("# the daemon had already exited (%d)\n", d->exit_code);
        print_tail(d->log, 25);
        return -1;
    }
    kill(d->pid, SIGTERM);
    int rc = wait_exit(d->pid, timeout_ms);
    d->pid = -1;
    return rc;
}

int daemon_kill9(struct daemon *d)
{
    if (d->pid <= 0)
        return d->exit_code;
    kill(d->pid, SIGKILL);
    int rc = wait_exit(d->pid, 10000);
    d->pid = -1;
    return rc;
}

/* ---------------------------------------------------------------- lab */

bool env_has_all(const struct labenv *e, const char *const *keys, const char *which)
{
    for (size_t i = 0; keys[i]; i++) {
        const char *v = labenv_get(e, keys[i]);
        if (!v || !*v) {
            printf("# %s env lacks %s\n", which, keys[i]);
            return false;
        }
    }
    return true;
}

int env_port(const struct labenv *e, const char *key)
{
    const char *v = labenv_get(e, key);
    char *end = NULL;
    long p = v ? strtol(v, &end, 10) : 0;
    return p > 0 && p < 65536 && end && *end == '\0' ? (int) p : 0;
}

void lab_source_user(struct s3_endpoint *out, const struct labenv *senv)
{
    *out = (struct s3_endpoint){
        .url = labenv_get(senv, "LAB_ENDPOINT"),
        .access_key = labenv_get(senv, "LAB_USER_ACCESS_KEY"),
        .secret = labenv_get(senv, "LAB_USER_SECRET_KEY"),
        .region = labenv_get(senv, "LAB_REGION"),
    };
}

void lab_target(struct s3_endpoint *out, const struct labenv *tenv)
{
    *out = (struct s3_endpoint){
        .url = labenv_get(tenv, "LAB_ENDPOINT"),
        .access_key = labenv_get(tenv, "LAB_ACCESS_KEY"),
        .secret = labenv_get(tenv, "LAB_SECRET_KEY"),
        .region = labenv_get(tenv, "LAB_REGION"),
    };
}

int scen_cfg_write(const char *path, const struct scen_cfg *c)
{
    const struct labenv *s = c->senv, *t = c->tenv;
    FILE *f = cfg_create(path);
    if (!f)
        return -1;
    fprintf(f,
            "{\n"
            "  \"source\": {\"endpoint\": \"%s\", \"access_key\": \"%s\", \"secret\": \"%s\",\n"
            "             \"zonegroup\": \"%s\", \"zone\": \"%s\"},\n"
            "  \"listen\": \"127.0.0.1:%d\",\n"
            "  \"state\": %s%s%s,\n"
            "  \"sync\": {%s},\n",
            labenv_get(s, "LAB_ENDPOINT"), labenv_get(s, "LAB_SYSTEM_ACCESS_KEY"),
            c->source_secret ? c->source_secret : labenv_get(s, "LAB_SYSTEM_SECRET_KEY"),
            labenv_get(s, "LAB_ZONEGROUP"), labenv_get(s, "LAB_EXPORTER_ZONE"), c->listen_port,
            c->state_json ? "" : "{\"backend\": \"sqlite\", \"path\": \"",
            c->state_json ? c->state_json : c->state, c->state_json ? "" : "\"}", c->sync);
    if (c->s3)
        fprintf(f, "  \"s3\": {%s},\n", c->s3);
    fprintf(f,
            "  \"connection\": {\"endpoint\": \"%s\", \"access_key\": \"%s\", \"secret\": \"%s\",\n"
            "                 \"region\": \"%s\"},\n"
            "  \"profiles\": [\n"
            "    {\"source_bucket\": \"*\", \"exclude\": true}",
            c->target_endpoint ? c->target_endpoint : labenv_get(t, "LAB_ENDPOINT"),
            labenv_get(t, "LAB_ACCESS_KEY"),
            c->target_secret ? c->target_secret : labenv_get(t, "LAB_SECRET_KEY"),
            labenv_get(t, "LAB_REGION"));
    for (size_t i = 0; c->names && c->names[i]; i++)
        fprintf(f, ",\n    {\"source_bucket\": \"%s\", \"target_path\": \"%s/${bucket}\"}",
                c->names[i], c->target_bucket);
    if (!c->names)
        fprintf(f, ",\n    {\"source_bucket\": \"%s*\", \"target_path\": \"%s/${bucket}\"}",
                c->prefix, c->target_bucket);
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------ bytes and MD5s */

void md5_hex(char out[33], const void *data, size_t len)
{
    unsigned char md[16];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void md5_final_hex(char out[33], EVP_MD_CTX *ctx)
{
    unsigned char md[16];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

char *gen_body(const char *key, int version, size_t len)
{
    char *b = malloc(len ? len : 1);
    /* FNV-1a of the key, version 0 adding nothing: test_dryrun's bodies
     * (always version 0) are the ones it has always written */
    uint64_t seed = 0xcbf29ce484222325ull ^ (uint64_t) version * 0x9e3779b97f4a7c15ull;
    for (const char *p = key; *p; p++)
        seed = (seed ^ (unsigned char) *p) * 0x100000001b3ull;
    if (!seed) /* xorshift would stay at 0 */
        seed = 1;
    for (size_t i = 0; i < len; i += 8) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        memcpy(b + i, &seed, len - i < 8 ? len - i : 8);
    }
    return b;
}

struct md5sink {
    EVP_MD_CTX *md5;
    uint64_t len;
};

static size_t md5sink_write(void *ud, const char *buf, size_t len)
{
    struct md5sink *s = ud;
    EVP_DigestUpdate(s->md5, buf, len);
    s->len += len;
    return len;
}

int download_md5(char out[33], uint64_t *len, struct s3_client *c, const char *bucket,
                 const char *key)
{
    struct md5sink s = {EVP_MD_CTX_new(), 0};
    EVP_DigestInit_ex(s.md5, EVP_md5(), NULL);
    struct s3_call call;
    s3_call_init(&call);
    int r = s3_get_object_prepare(&call, bucket, key, 1, 0, NULL, md5sink_write, &s);
    if (r == 0)
        r = s3_call_run(c, &call);
    s3_call_finish(&call);
    md5_final_hex(out, s.md5);
    EVP_MD_CTX_free(s.md5);
    if (len)
        *len = s.len;
    return r;
}

size_t sink_write(void *ud, const char *buf, size_t len)
{
    struct sink *s = ud;
    char *nb = realloc(s->buf, s->len + len + 1);
    if (!nb)
        return 0;
    memcpy(nb + s->len, buf, len);
    s->buf = nb;
    s->len += len;
    s->buf[s->len] = '\0';
    return len;
}

size_t curl_sink(char *p, size_t size, size_t n, void *ud)
{
    return sink_write(ud, p, size * n);
}

/* --------------------------------------------------------- faultproxy */

pid_t proxy_spawn(int *port, const char *proxy_bin, const char *listen_at, const char *upstream,
                  const char *stats)
{
    int fds[2];
    *port = 0;
    if (pipe(fds) < 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        (void) dup2(fds[1], STDOUT_FILENO);
        (void) close(fds[0]);
        (void) close(fds[1]);
        execl(proxy_bin, "faultproxy", "--listen", listen_at, "--upstream", upstream, "--stats",
              stats, (char *) NULL);
        _exit(127);
    }
    (void) close(fds[1]);
    /* its first line, "port N\n", once it listens; EOF when it refused */
    FILE *f = fdopen(fds[0], "r");
    char line[64] = "";
    if (f && !fgets(line, sizeof(line), f))
        line[0] = '\0';
    if (f)
        fclose(f);
    else
        (void) close(fds[0]);
    char *end = NULL;
    long p = strncmp(line, "port ", 5) == 0 ? strtol(line + 5, &end, 10) : 0;
    *port = p > 0 && p < 65536 && end && *end == '\n' ? (int) p : 0;
    return pid;
}

long proxy_control(int port, const char *method, const char *what, const char *body, char **out)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/__faultproxy/%s", port, what);
    struct sink s = {0};
    CURL *e = curl_easy_init();
    long status = 0;
    if (!e)
        return 0;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_sink);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    if (body)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (out)
        *out = s.buf;
    else
        free(s.buf);
    return status;
}

long proxy_rules(int port, const char *rules)
{
    return proxy_control(port, "POST", "rules", rules, NULL);
}

long proxy_reset(int port)
{
    return proxy_control(port, "POST", "reset", NULL, NULL);
}

long long proxy_stat(const char *stats, const char *op, const char *field)
{
    json_t *root = stats ? json_loads(stats, 0, NULL) : NULL;
    json_t *v = json_object_get(json_object_get(root, op), field); /* borrowed */
    long long n = json_is_integer(v) ? (long long) json_integer_value(v) : -1;
    json_decref(root);
    return n;
}

long long proxy_counter(int port, const char *op, const char *field)
{
    char *text = NULL;
    long long n =
        proxy_control(port, "GET", "stats", NULL, &text) == 200 ? proxy_stat(text, op, field) : -1;
    free(text);
    return n;
}
