/* The command line: parse arguments, call the core, map errors to exit
 * codes (0 ok, 1 runtime failure, 2 usage or config error). */
#include "config.h"
#include "err.h"
#include "log.h"
#include "sync/dryrun.h"
#include "sync/sync.h"
#include "sync/uploads.h"
#include "version.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct args {
    const char *verb;
    const char *config;
    const char *bucket;
    bool once;
    bool json;
    bool apply;
    bool abort_orphans;
};

static const char usage_text[] =
    "usage: rgw2cloud VERB [options]\n"
    "\n"
    "Export a Ceph RGW zone to S3-compatible clouds, following its change logs.\n"
    "\n"
    "verbs:\n"
    "  run -c FILE                  the daemon, in the foreground (SIGTERM drains, SIGHUP reloads)\n"
    "  sync -c FILE --once          sync until caught up, then exit\n"
    "  dry-run -c FILE [--bucket B] [--json]\n"
    "                               plan every object; write nothing, move no marker\n"
    "  status -c FILE [--json]      per shard and bucket: state, marker, lag; retries; uploads\n"
    "  check-config -c FILE         validate the config: exit 0, or 2 with one line per problem\n"
    "  zone -c FILE [--apply]       print (or run) the radosgw-admin commands registering our zone\n"
    "  uploads -c FILE [--abort-orphans]\n"
    "                               multipart uploads in progress; abort those no record owns\n"
    "\n"
    "options:\n"
    "  -c, --config FILE   the JSON config\n"
    "  --log-level LEVEL   error | warn | info (default) | debug\n"
    "  --version           print the version\n"
    "  -h, --help          this text\n"
    "\n"
    "exit codes: 0 success, 1 runtime failure, 2 usage or config error\n";

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "rgw2cloud: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "; see 'rgw2cloud --help'\n");
    return EXIT_USAGE;
}

static const char *const verbs[] = {"run",     "sync",   "dry-run", "status",
                                    "check-config", "zone", "uploads", NULL};

static int parse_args(struct args *a, int argc, char **argv)
{
    enum { OPT_ONCE = 1000, OPT_JSON, OPT_BUCKET, OPT_APPLY, OPT_ABORT, OPT_LOG, OPT_VERSION };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"once", no_argument, NULL, OPT_ONCE},
        {"json", no_argument, NULL, OPT_JSON},
        {"bucket", required_argument, NULL, OPT_BUCKET},
        {"apply", no_argument, NULL, OPT_APPLY},
        {"abort-orphans", no_argument, NULL, OPT_ABORT},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case OPT_ONCE:
            a->once = true;
            break;
        case OPT_JSON:
            a->json = true;
            break;
        case OPT_BUCKET:
            a->bucket = optarg;
            break;
        case OPT_APPLY:
            a->apply = true;
            break;
        case OPT_ABORT:
            a->abort_orphans = true;
            break;
        case OPT_LOG: {
            enum log_level lvl;
            if (log_level_parse(optarg, &lvl) < 0)
                return usage_error("--log-level \"%s\" is not valid; expected error, warn, "
                                   "info or debug",
                                   optarg);
            log_set_level(lvl);
            break;
        }
        case OPT_VERSION:
            printf("rgw2cloud %s\n", RGW2CLOUD_VERSION);
            exit(EXIT_OK);
        case 'h':
            fputs(usage_text, stdout);
            exit(EXIT_OK);
        default:
            return usage_error("unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    /* GNU getopt moved the operands (the verb) behind the options */
    if (optind < argc)
        a->verb = argv[optind++];
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!a->verb)
        return usage_error("%sno verb given", "");
    bool known = false;
    for (size_t i = 0; verbs[i]; i++)
        known = known || strcmp(verbs[i], a->verb) == 0;
    if (!known)
        return usage_error("unknown verb \"%s\"", a->verb);
    if (!a->config)
        return usage_error("%s needs -c FILE", a->verb);
    if (strcmp(a->verb, "sync") == 0 && !a->once)
        return usage_error("%s needs --once (the daemon is 'rgw2cloud run')", a->verb);
    return -1; /* go on */
}

/* Load the config or print every problem; EXIT_OK with *out set, else the
 * exit code. */
static int load_config(struct config **out, const char *path)
{
    struct config_problems problems = {0};
    int r = config_load(out, &problems, path);
    if (r < 0) {
        for (size_t i = 0; i < problems.n; i++)
            fprintf(stderr, "%s\n", problems.lines[i]);
        if (problems.n == 0)
            fprintf(stderr, "%s: %s\n", path, strerror(-r));
        config_problems_finish(&problems);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < problems.nwarnings; i++)
        log_warn("%s", problems.warnings[i]);
    config_problems_finish(&problems);
    if ((*out)->secrets_readable_by_others)
        log_warn("config=%s msg=\"the file holds secrets and is readable by group or others; "
                 "chmod 600 it\"",
                 path);
    return EXIT_OK;
}

static int verb_check_config(const struct args *a)
{
    struct config *cfg = NULL;
    int rc = load_config(&cfg, a->config);
    if (rc != EXIT_OK)
        return rc;
    printf("%s: ok (%zu profiles, %zu connections)\n", a->config, cfg->nprofiles,
           cfg->nconnections);
    config_free(cfg);
    return EXIT_OK;
}

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_stop(int sig)
{
    (void) sig;
    stop_flag = 1;
}

static void on_reload(int sig)
{
    (void) sig;
    reload_flag = 1;
}

static void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    (void) sigaction(SIGTERM, &sa, NULL);
    (void) sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload;
    (void) sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    (void) sigaction(SIGPIPE, &sa, NULL);
}

static int verb_sync(const struct args *a, const struct config *cfg)
{
    struct sync *s = NULL;
    int r = sync_new(&s, cfg);
    if (r < 0) {
        log_error("msg=\"cannot start\" error=\"%s\"", err_get());
        return EXIT_RUNTIME;
    }
    signals_install();
    int rc = EXIT_OK;
    if (strcmp(a->verb, "run") == 0) {
        r = sync_run(s, &stop_flag, &reload_flag, a->config);
        rc = r < 0 ? EXIT_RUNTIME : EXIT_OK;
    } else {
        r = sync_pass(s);
        if (r == 0 && !stop_flag)
            r = sync_bilog_sweep(s);
        if (r < 0) {
            log_error("msg=\"sync failed\" error=\"%s\"", err_get());
            rc = EXIT_RUNTIME;
        } else if (!stop_flag && sync_failed_count(s) > 0) {
            /* --once has no later pass: give the failures one more go */
            (void) sync_retry_all(s);
            if (sync_failed_count(s) > 0) {
                sync_print_failures(s);
                rc = EXIT_RUNTIME;
            }
        }
        sync_log_totals(s, rc == EXIT_OK ? "caught up" : "not caught up");
    }
    sync_free(s);
    return rc;
}

static int verb_uploads(const struct args *a, const struct config *cfg)
{
    struct sync *s = NULL;
    if (sync_new(&s, cfg) < 0) {
        log_error("msg=\"cannot start\" error=\"%s\"", err_get());
        return EXIT_RUNTIME;
    }
    int r = uploads_sweep(s, a->abort_orphans, NULL);
    if (r < 0)
        log_error("msg=\"uploads\" error=\"%s\"", err_get());
    sync_free(s);
    return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}

/* The radosgw-admin commands that register our zone in the source's
 * zonegroup (DESIGN.md §2). The secret is never printed: the printed form
 * reads it from $RGW2CLOUD_ZONE_SECRET; --apply passes it directly. */
static int verb_zone(const struct args *a, const struct config *cfg)
{
    if (!cfg->source.present) {
        fprintf(stderr, "%s: .source: missing; expected the source zone to register in\n",
                a->config);
        return EXIT_USAGE;
    }
    char endpoints[512];
    if (cfg->listen)
        (void) snprintf(endpoints, sizeof(endpoints), "--endpoints=http://%s", cfg->listen);
    else
        endpoints[0] = '\0';
    char zg[256], zone[256], key[256], secret[512];
    (void) snprintf(zg, sizeof(zg), "--rgw-zonegroup=%s", cfg->source.zonegroup);
    (void) snprintf(zone, sizeof(zone), "--rgw-zone=%s", cfg->source.zone);
    (void) snprintf(key, sizeof(key), "--access-key=%s", cfg->source.access_key);
    (void) snprintf(secret, sizeof(secret), "--secret=%s", cfg->source.secret);
    if (!cfg->listen)
        fprintf(stderr, "warning: no \"listen\" in %s: without an endpoint the source trims its "
                        "logs without asking us and changes can be lost\n",
                a->config);
    if (!a->apply) {
        printf("# register rgw2cloud as a zone of zonegroup %s (run on a source admin node)\n",
               cfg->source.zonegroup);
        printf("# export RGW2CLOUD_ZONE_SECRET=<the source.secret of %s>\n", a->config);
        printf("radosgw-admin zone create %s %s --tier-type=cloud %s %s "
               "--secret=\"$RGW2CLOUD_ZONE_SECRET\"\n",
               zg, zone, endpoints, key);
        printf("radosgw-admin period update --commit\n");
        return EXIT_OK;
    }
    const char *create[] = {"radosgw-admin", "zone", "create", zg, zone, "--tier-type=cloud",
                            key, secret, endpoints[0] ? endpoints : NULL, NULL};
    const char *commit[] = {"radosgw-admin", "period", "update", "--commit", NULL};
    const char *const *cmds[] = {create, commit};
    for (size_t i = 0; i < 2; i++) {
        printf("running: %s %s %s ...\n", cmds[i][0], cmds[i][1], cmds[i][2]);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            execvp(cmds[i][0], (char *const *) cmds[i]);
            fprintf(stderr, "rgw2cloud: cannot run radosgw-admin: %s\n", strerror(errno));
            _exit(127);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "rgw2cloud: %s %s %s failed; nothing more was run\n", cmds[i][0],
                    cmds[i][1], cmds[i][2]);
            return EXIT_RUNTIME;
        }
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(&a, argc, argv);
    if (rc >= 0)
        return rc;
    if (strcmp(a.verb, "check-config") == 0)
        return verb_check_config(&a);

    struct config *cfg = NULL;
    rc = load_config(&cfg, a.config);
    if (rc != EXIT_OK)
        return rc;
    if (strcmp(a.verb, "sync") == 0 || strcmp(a.verb, "run") == 0)
        rc = verb_sync(&a, cfg);
    else if (strcmp(a.verb, "zone") == 0)
        rc = verb_zone(&a, cfg);
    else if (strcmp(a.verb, "uploads") == 0)
        rc = verb_uploads(&a, cfg);
    else if (strcmp(a.verb, "status") == 0)
        rc = sync_status(cfg, a.json) < 0 ? EXIT_RUNTIME : EXIT_OK;
    else if (strcmp(a.verb, "dry-run") == 0)
        rc = dryrun_run(cfg, a.bucket, a.json);
    else {
        fprintf(stderr, "rgw2cloud: %s: not implemented yet\n", a.verb);
        rc = EXIT_RUNTIME;
    }
    config_free(cfg);
    return rc;
}
