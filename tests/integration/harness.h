/* What the integration tests share: child processes and their logs, the
 * files of a run's work dir, MD5s and reproducible bodies, the fault
 * proxy's control API, status --json and the scenario config.
 *
 * No CHECK in here: testlib.h's counters are per translation unit, so an
 * assertion made in harness.c would be counted by nobody. Helpers return
 * what they saw and print TAP comments ("# ...") about failures; every
 * test decides and asserts itself. No state either: what a helper needs
 * of the run comes in a struct harness the test owns. */
#ifndef RGW2CLOUD_TESTS_HARNESS_H
#define RGW2CLOUD_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct evp_md_ctx_st; /* EVP_MD_CTX */
struct json_t;
struct labenv;
struct s3_client;
struct s3_endpoint;

/* One test run, as the helpers see it. The test owns the strings. */
struct harness {
    const char *bin;     /* the rgw2cloud binary */
    const char *workdir; /* the run's mkdtemp'd dir: configs, state dbs, logs */
};

/* ---------------------------------------------------------------- time */

double now_s(void); /* CLOCK_MONOTONIC */
void sleep_ms(long ms);

/* --------------------------------------------------------------- files */

/* A file's bytes (malloc'd, NUL-terminated) and their count into *len
 * (len may be NULL); NULL when it cannot be opened. */
char *slurp_len(const char *path, size_t *len);
/* A file's text (malloc'd); "" when it cannot be opened. */
char *slurp(const char *path);
bool file_contains(const char *path, const char *needle);
/* The number after `name=` on the last line of a log holding `msg="caught up"` or
 * `msg="not caught up"` (sync --once's totals); -1 when there is none. */
long long log_total(const char *path, const char *name);
/* The last n lines of a log, as TAP comments. */
void print_tail(const char *path, int n);
/* The first max_lines lines of a file, as TAP comments. */
void print_head(const char *path, int max_lines);

/* <workdir>/<name> */
void path_in(char *out, size_t n, const struct harness *h, const char *name);
/* Fills tmpl with "$TMPDIR/<name>-XXXXXX" (/tmp without TMPDIR), for mkdtemp(). */
void workdir_template(char *tmpl, size_t n, const char *name);
/* Removes the work dir and the files in it (no subdirectories made). */
void workdir_remove(const char *workdir);
/* A config file: it holds secrets, so it is created 0600 (truncated when
 * it exists). NULL, with a comment, when it cannot be. */
FILE *cfg_create(const char *path);

/* ----------------------------------------------------------- processes */

/* How spawn() opens the files for stdout and stderr. */
enum out_mode {
    OUT_APPEND,   /* a log that goes on over several runs (test_sync, test_transfer) */
    OUT_TRUNCATE, /* each run's own .out/.err, started empty (test_dryrun) */
};

/* fork + exec args[0] with stdout/stderr to the files out and err (err
 * may be the same path as out), stdin from /dev/null. The pid, or -1. */
pid_t spawn(const char *const *args, const char *out, const char *err, enum out_mode mode);
/* Wait for pid up to timeout_ms: its exit code, 128+signal when killed by
 * a signal, -1 when it did not end (then it is SIGKILLed and reaped). */
int wait_exit(pid_t pid, long timeout_ms);
/* spawn() and wait_exit(): the exit code. */
int run_cmd(const char *const *args, const char *out, const char *err, enum out_mode mode,
            long timeout_ms);

/* `sync -c cfg --once` with everything appended to log; the exit code
 * (the log's tail printed when it is not 0). */
int sync_once(const struct harness *h, const char *cfg, const char *log, long timeout_ms);
/* `status -c cfg --json` (output in status-<tag>.out/.err), parsed; NULL
 * (and the output printed) on failure. */
struct json_t *status_json(const struct harness *h, const char *cfg, const char *tag);

struct daemon {
    pid_t pid; /* -1 once it ended */
    int exit_code;
    char log[512];
};

/* Still running? Reaps it (and keeps its exit code) when it is not. */
bool daemon_alive(struct daemon *d);
/* `run -c cfg` in the background, logging to <workdir>/<name>.log; waits
 * until it listens (its log says so). 0, or -1 with its log printed. */
int daemon_start(struct daemon *d, const struct harness *h, const char *cfg, const char *name);
/* SIGTERM and wait: its exit code (-1: it had ended already, or did not
 * stop within timeout_ms and was killed). */
int daemon_stop(struct daemon *d, long timeout_ms);
/* SIGKILL and reap: the exit code (128 + 9 when the signal killed it; the
 * one it had when it was not running). */
int daemon_kill9(struct daemon *d);

/* ---------------------------------------------------------------- lab */

/* Whether every one of keys (NULL-terminated) has a value in e; the first
 * one missing is printed ("# <which> env lacks KEY"). */
bool env_has_all(const struct labenv *e, const char *const *keys, const char *which);
/* A port number kept under key; 0 when it is not one. */
int env_port(const struct labenv *e, const char *key);
/* alice (the user keys) on the source zone. Borrows from senv. */
void lab_source_user(struct s3_endpoint *out, const struct labenv *senv);
/* The target's S3 user. Borrows from tenv. */
void lab_target(struct s3_endpoint *out, const struct labenv *tenv);

/* A scenario's config, as test_sync and test_transfer write it: the lab's
 * source zone (system key) exported by our listener on listen_port, a
 * sqlite state, one target connection, and profiles that export only the
 * source buckets "<prefix>*" (to "<target_bucket>/${bucket}") and exclude
 * every other bucket of the lab. */
struct scen_cfg {
    const struct labenv *senv, *tenv;
    int listen_port;
    const char *state;           /* the sqlite db */
    const char *state_json;      /* else: the whole "state" object (JSON text) */
    const char *source_secret;   /* NULL: the lab's system secret */
    const char *target_endpoint; /* NULL: the lab target's */
    const char *target_secret;   /* NULL: the lab target's */
    const char *sync;            /* the members of "sync" (JSON text) */
    const char *s3;              /* the members of "s3" (JSON text); NULL: no "s3" */
    const char *prefix;
    const char *const *names; /* NULL-terminated: a profile per bucket, not "<prefix>*" */
    const char *target_bucket;
};
/* Writes path (0600): 0 or -1. */
int scen_cfg_write(const char *path, const struct scen_cfg *c);

/* ------------------------------------------------------ bytes and MD5s */

void md5_hex(char out[33], const void *data, size_t len);
/* Finishes ctx (the caller still frees it). */
void md5_final_hex(char out[33], struct evp_md_ctx_st *ctx);
/* Reproducible bytes for (key, version): xorshift seeded from both.
 * malloc'd; the caller frees. */
char *gen_body(const char *key, int version, size_t len);

/* GET and hash, nothing kept: 0 and the MD5 in out (its length into *len,
 * may be NULL), or a negative errno (detail in err_get()). */
int download_md5(char out[33], uint64_t *len, struct s3_client *c, const char *bucket,
                 const char *key);

/* A growing NUL-terminated buffer: buf is malloc'd (NULL until the first
 * byte), the owner frees it. */
struct sink {
    char *buf;
    size_t len;
};
/* For s3 response bodies: len, or 0 when out of memory. */
size_t sink_write(void *ud, const char *buf, size_t len);
/* The same as a CURLOPT_WRITEFUNCTION. */
size_t curl_sink(char *p, size_t size, size_t n, void *ud);

/* --------------------------------------------------------- faultproxy */

/* Runs proxy_bin --listen listen_at --upstream upstream --stats stats.
 * The child's pid (-1 when it cannot be started); *port is the port it
 * printed, 0 when it printed none (it refused, or died). */
pid_t proxy_spawn(int *port, const char *proxy_bin, const char *listen_at, const char *upstream,
                  const char *stats);
/* A control request to the proxy on port: the HTTP status (0: no answer);
 * the body into *out (malloc'd, may be NULL; out may be NULL). */
long proxy_control(int port, const char *method, const char *what, const char *body, char **out);
/* Replaces the rules: the HTTP status. */
long proxy_rules(int port, const char *rules);
/* Zeroes the counters: the HTTP status. */
long proxy_reset(int port);
/* One counter (op as S3 names it) of a stats JSON text; -1 when absent. */
long long proxy_stat(const char *stats, const char *op, const char *field);
/* One live counter; -1 when unreadable. */
long long proxy_counter(int port, const char *op, const char *field);

#endif
