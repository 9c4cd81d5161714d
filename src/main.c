/* The command line: parse arguments, call the core, map errors to exit
 * codes (0 ok, 1 runtime failure, 2 usage or config error). */
#include "config.h"
#include "err.h"
#include "log.h"
#include "version.h"

#include <errno.h>
#include <getopt.h>
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
    fprintf(stderr, "rgw2cloud: %s: not implemented yet\n", a.verb);
    config_free(cfg);
    return EXIT_RUNTIME;
}
