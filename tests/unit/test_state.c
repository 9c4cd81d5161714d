/* The state API on the sqlite backend: every record type, the retry rules,
 * walks, transactions, persistence and sharing one file. */
#include "testlib.h"

#include "config.h"
#include "labenv.h"
#include "labrados.h"
#include "err.h"
#include "state/state_api.h"

#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A state file in a fresh temporary directory, opened through state_open. */
struct fx {
    char dir[64];
    char path[128];
    char ns[64];
    struct config cfg;
    struct state st;
};

/* TEST_STATE_BACKEND=rados (the integration suite): the tests that hold
 * for every backend run against the lab's cluster, each in a namespace of
 * its own in pool LABRADOS_POOL. */
static bool rados_mode;
static char rados_conf[512];

static void fx_config(struct fx *f)
{
    static unsigned seq;
    memset(&f->cfg, 0, sizeof(f->cfg));
    f->cfg.state.backend = CFG_STATE_SQLITE;
    f->cfg.state.path = f->path;
    if (rados_mode) {
        (void) snprintf(f->ns, sizeof(f->ns), "t%ld-%d-%u", (long) time(NULL), (int) getpid(),
                        ++seq);
        f->cfg.state.backend = CFG_STATE_RADOS;
        f->cfg.state.path = NULL;
        f->cfg.state.pool = (char *) LABRADOS_POOL;
        f->cfg.state.namespace_ = f->ns;
        f->cfg.state.ceph_conf = rados_conf;
        f->cfg.state.client = (char *) "client.admin";
    }
}

/* The directory and config, nothing opened yet. sub: directories between
 * the temp dir and the file ("" for none). */
static int fx_prepare(struct fx *f, const char *sub)
{
    memset(f, 0, sizeof(*f));
    (void) snprintf(f->dir, sizeof(f->dir), "/tmp/test_state.XXXXXX");
    if (!mkdtemp(f->dir))
        return -errno;
    (void) snprintf(f->path, sizeof(f->path), "%s%s/state.db", f->dir, sub);
    fx_config(f);
    return 0;
}

static int fx_setup_in(struct fx *f, const char *sub)
{
    int r = fx_prepare(f, sub);
    return r < 0 ? r : state_open(&f->st, &f->cfg);
}

static int fx_setup(struct fx *f)
{
    return fx_setup_in(f, "");
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void) remove(path);
    return 0;
}

static void fx_teardown(struct fx *f)
{
    state_close(&f->st);
    (void) nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#define OPS(f)  ((f)->st.ops)
#define INST(f) ((f)->st.inst)

/* ---- collecting walks ---- */

struct seen {
    char keys[512][48];
    int64_t nums[512];
    size_t n;
    size_t stop_at; /* return 7 from this visit (1-based), 0 = never */
};

static int seen_add(struct seen *s, const char *key, int64_t num)
{
    if (s->n < 512) {
        (void) snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key ? key : "(null)");
        s->nums[s->n] = num;
    }
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

static int seen_dl(void *ud, const struct state_dl_shard *s)
{
    return seen_add(ud, s->marker, s->shard);
}

static int seen_bs(void *ud, const struct state_bs *bs)
{
    return seen_add(ud, bs->key, (int64_t) bs->full_count);
}

static int seen_retry(void *ud, const struct state_retry *r)
{
    return seen_add(ud, r->key, r->next_try);
}

static int seen_upload(void *ud, const struct state_upload *u)
{
    return seen_add(ud, u->id, (int64_t) u->size);
}

/* ---- helpers ---- */

static int put_bs(struct fx *f, const char *key, uint64_t count)
{
    struct state_bs bs = {
        .key = (char *) key,
        .phase = STATE_BS_INCREMENTAL,
        .inc_marker = (char *) "00000000001.1.5",
        .full_key = (char *) "",
        .full_version = (char *) "",
        .full_count = count,
    };
    return OPS(f)->bs_put(INST(f), &bs);
}

static int put_retry(struct fx *f, const char *key, const char *ts, int64_t next_try)
{
    struct state_retry r = {
        .key = (char *) key,
        .timestamp = (char *) ts,
        .next_try = next_try,
        .attempts = 1,
        .last_error = (char *) "s3: PUT b/k: 503",
    };
    return OPS(f)->retry_put(INST(f), &r);
}

/* ---- tests ---- */

static void test_state__open_creates_private_dir_and_file(void)
{
    struct fx f;
    mode_t old = umask(022);
    CHECK_INT(fx_setup_in(&f, "/a/b"), 0);
    (void) umask(old);

    struct stat sb;
    char dir[160];
    (void) snprintf(dir, sizeof(dir), "%s/a/b", f.dir);
    CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK_INT(sb.st_mode & 0777, 0700);
    (void) snprintf(dir, sizeof(dir), "%s/a", f.dir);
    CHECK(stat(dir, &sb) == 0);
    CHECK_INT(sb.st_mode & 0777, 0700);
    CHECK(stat(f.path, &sb) == 0 && S_ISREG(sb.st_mode));
    CHECK_INT(sb.st_mode & 0777, 0600);
    fx_teardown(&f);
}

static void test_state__rados_without_a_cluster_names_the_conf(void)
{
    struct config cfg = {0};
    struct state st = {0};
    cfg.state.backend = CFG_STATE_RADOS;
    cfg.state.ceph_conf = (char *) "/nonexistent/rgw2cloud-test/ceph.conf";
    err_clear();
    CHECK(state_open(&st, &cfg) < 0);
    CHECK(strstr(err_get(), "/nonexistent/rgw2cloud-test/ceph.conf") != NULL);
    CHECK(strstr(err_get(), "state.ceph_conf") != NULL);
    CHECK(st.ops == NULL && st.inst == NULL);
    state_close(&st); /* zeroed: a no-op */
    state_close(NULL);
}

/* rados: a pool that does not exist is named, with the command that makes it */
static void test_state__rados_missing_pool_says_how_to_create_it(void)
{
    struct fx f;
    CHECK_INT(fx_prepare(&f, ""), 0);
    f.cfg.state.pool = (char *) "rgw2cloud-no-such-pool";
    err_clear();
    CHECK(state_open(&f.st, &f.cfg) < 0);
    CHECK(strstr(err_get(), "ceph osd pool create rgw2cloud-no-such-pool") != NULL);
    fx_teardown(&f);
}

/* rados: a store written by a newer version is refused, not misread */
static void test_state__rados_refuses_a_newer_schema(void)
{
    struct fx f;
    char *v = NULL;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->meta_put(INST(&f), ".schema", "2"), 0);
    CHECK_INT(OPS(&f)->meta_get(INST(&f), ".schema", &v), 0);
    CHECK_STR(v, "2");
    free(v);
    state_close(&f.st);
    err_clear();
    CHECK_INT(state_open(&f.st, &f.cfg), -EPROTO);
    CHECK(strstr(err_get(), "schema 2") != NULL);
    fx_teardown(&f);
}

static void test_state__unknown_backend_lists_known(void)
{
    struct config cfg = {0};
    struct state st = {0};
    cfg.state.backend = (enum cfg_state_backend) 42;
    CHECK_INT(state_open(&st, &cfg), -ENOENT);
    CHECK(strstr(err_get(), "known: sqlite") != NULL);
}

static void test_state__meta_sid_round_trip(void)
{
    struct fx f;
    char *v = (char *) "untouched";
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->meta_get(INST(&f), "sid", &v), -ENOENT);
    CHECK_STR(v, "untouched");
    CHECK_INT(OPS(&f)->meta_put(INST(&f), "sid", "a1b2c3"), 0);
    CHECK_INT(OPS(&f)->meta_get(INST(&f), "sid", &v), 0);
    CHECK_STR(v, "a1b2c3");
    free(v);
    CHECK_INT(OPS(&f)->meta_put(INST(&f), "sid", "d4e5"), 0);
    CHECK_INT(OPS(&f)->meta_put(INST(&f), "zone_id", "z-1"), 0);
    CHECK_INT(OPS(&f)->meta_get(INST(&f), "sid", &v), 0);
    CHECK_STR(v, "d4e5");
    free(v);
    CHECK_INT(OPS(&f)->meta_get(INST(&f), "zone_id", &v), 0);
    CHECK_STR(v, "z-1");
    free(v);
    fx_teardown(&f);
}

static void test_state__dl_shard_round_trip_and_update(void)
{
    struct fx f;
    struct state_dl_shard out = {0};
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->dl_get(INST(&f), 3, &out), -ENOENT);
    CHECK(out.marker == NULL);

    struct state_dl_shard s = {
        .shard = 3,
        .phase = STATE_DL_FULL,
        .marker = (char *) "",
        .full_marker = (char *) "1_1700000000.123456_42.1",
        .last_change = 1700000000,
        .updated = 5, /* ignored: the backend stamps it */
    };
    int64_t before = (int64_t) time(NULL);
    CHECK_INT(OPS(&f)->dl_put(INST(&f), &s), 0);
    int64_t after = (int64_t) time(NULL);
    CHECK_INT(OPS(&f)->dl_get(INST(&f), 3, &out), 0);
    CHECK_INT(out.shard, 3);
    CHECK_INT(out.phase, STATE_DL_FULL);
    CHECK_STR(out.marker, "");
    CHECK_STR(out.full_marker, "1_1700000000.123456_42.1");
    CHECK_INT(out.last_change, 1700000000);
    CHECK(out.updated >= before && out.updated <= after);
    state_dl_shard_finish(&out);
    CHECK(out.marker == NULL && out.full_marker == NULL);

    s.phase = STATE_DL_INCREMENTAL;
    s.marker = (char *) "1_1700000001.000001_43.1";
    s.full_marker = NULL; /* stored as "" */
    CHECK_INT(OPS(&f)->dl_put(INST(&f), &s), 0);
    CHECK_INT(OPS(&f)->dl_get(INST(&f), 3, &out), 0);
    CHECK_INT(out.phase, STATE_DL_INCREMENTAL);
    CHECK_STR(out.marker, "1_1700000001.000001_43.1");
    CHECK_STR(out.full_marker, "");
    state_dl_shard_finish(&out);

    s.phase = (enum state_dl_phase) 9;
    CHECK_INT(OPS(&f)->dl_put(INST(&f), &s), -EINVAL);
    fx_teardown(&f);
}

static void test_state__dl_list_ascending_shard(void)
{
    struct fx f;
    struct seen seen = {0};
    CHECK_INT(fx_setup(&f), 0);
    static const int shards[] = {10, 2, 127, 0, 64, 1};
    for (size_t i = 0; i < sizeof(shards) / sizeof(shards[0]); i++) {
        char m[16];
        (void) snprintf(m, sizeof(m), "m%d", shards[i]);
        struct state_dl_shard s = {.shard = shards[i], .marker = m};
        CHECK_INT(OPS(&f)->dl_put(INST(&f), &s), 0);
    }
    CHECK_INT(OPS(&f)->dl_list(INST(&f), seen_dl, &seen), 0);
    CHECK_INT(seen.n, 6);
    CHECK_INT(seen.nums[0], 0);
    CHECK_INT(seen.nums[1], 1);
    CHECK_INT(seen.nums[2], 2);
    CHECK_INT(seen.nums[3], 10);
    CHECK_INT(seen.nums[4], 64);
    CHECK_INT(seen.nums[5], 127);
    CHECK_STR(seen.keys[5], "m127");
    fx_teardown(&f);
}

static void test_state__bs_round_trip_update_delete(void)
{
    struct fx f;
    struct state_bs out = {0};
    CHECK_INT(fx_setup(&f), 0);
    const char *key = "tenant/photos:c0ffee.4711.1:7";
    CHECK_INT(OPS(&f)->bs_get(INST(&f), key, &out), -ENOENT);

    struct state_bs bs = {
        .key = (char *) key,
        .phase = STATE_BS_FULL,
        .inc_marker = (char *) "00000000012.345.6",
        .full_key = (char *) "dir/obj 1",
        .full_version = (char *) "v1",
        .full_count = UINT64_MAX, /* the whole range survives the int64 column */
    };
    CHECK_INT(OPS(&f)->bs_put(INST(&f), &bs), 0);
    CHECK_INT(OPS(&f)->bs_get(INST(&f), key, &out), 0);
    CHECK_STR(out.key, key);
    CHECK_INT(out.phase, STATE_BS_FULL);
    CHECK_STR(out.inc_marker, "00000000012.345.6");
    CHECK_STR(out.full_key, "dir/obj 1");
    CHECK_STR(out.full_version, "v1");
    CHECK(out.full_count == UINT64_MAX);
    CHECK(out.updated > 0);
    state_bs_finish(&out);

    bs.phase = STATE_BS_STOPPED;
    bs.full_key = NULL;
    bs.full_version = NULL;
    bs.full_count = 12;
    CHECK_INT(OPS(&f)->bs_put(INST(&f), &bs), 0);
    CHECK_INT(OPS(&f)->bs_get(INST(&f), key, &out), 0);
    CHECK_INT(out.phase, STATE_BS_STOPPED);
    CHECK_STR(out.full_key, "");
    CHECK_STR(out.full_version, "");
    CHECK_INT(out.full_count, 12);
    state_bs_finish(&out);

    CHECK_INT(OPS(&f)->bs_del(INST(&f), key), 0);
    CHECK_INT(OPS(&f)->bs_get(INST(&f), key, &out), -ENOENT);
    CHECK_INT(OPS(&f)->bs_del(INST(&f), key), 0); /* absent: not an error */
    CHECK_INT(OPS(&f)->bs_get(INST(&f), NULL, &out), -EINVAL);
    fx_teardown(&f);
}

static void test_state__bs_list_prefix_is_exact(void)
{
    struct fx f;
    CHECK_INT(fx_setup(&f), 0);
    static const char *const keys[] = {
        "a%b:i:0", "a_b:i:0", "axb:i:0", "a%",          "ab:i:1", "a\\b:i:0",
        "b:i",     "a%%:i",   "A%b",     "a\xc3\xa9:i", "a\xff",  "a",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        CHECK_INT(put_bs(&f, keys[i], i), 0);

    struct seen s = {0};
    CHECK_INT(OPS(&f)->bs_list(INST(&f), "a%", seen_bs, &s), 0);
    CHECK_INT(s.n, 3);
    CHECK_STR(s.keys[0], "a%");
    CHECK_STR(s.keys[1], "a%%:i");
    CHECK_STR(s.keys[2], "a%b:i:0");

    memset(&s, 0, sizeof(s));
    CHECK_INT(OPS(&f)->bs_list(INST(&f), "a_", seen_bs, &s), 0);
    CHECK_INT(s.n, 1);
    CHECK_STR(s.keys[0], "a_b:i:0");

    memset(&s, 0, sizeof(s));
    CHECK_INT(OPS(&f)->bs_list(INST(&f), "a\\", seen_bs, &s), 0);
    CHECK_INT(s.n, 1);
    CHECK_STR(s.keys[0], "a\\b:i:0");

    /* Bytes >= 0x80 sort after ASCII, as memcmp does. */
    memset(&s, 0, sizeof(s));
    CHECK_INT(OPS(&f)->bs_list(INST(&f), "a\xff", seen_bs, &s), 0);
    CHECK_INT(s.n, 1);
    CHECK_STR(s.keys[0], "a\xff");

    memset(&s, 0, sizeof(s));
    CHECK_INT(OPS(&f)->bs_list(INST(&f), "zz", seen_bs, &s), 0);
    CHECK_INT(s.n, 0);

    /* NULL and "": everything, in byte order. */
    memset(&s, 0, sizeof(s));
    CHECK_INT(OPS(&f)->bs_list(INST(&f), NULL, seen_bs, &s), 0);
    CHECK_INT(s.n, sizeof(keys) / sizeof(keys[0]));
    CHECK_STR(s.keys[0], "A%b");
    CHECK_STR(s.keys[1], "a");
    CHECK_STR(s.keys[s.n - 2], "a\xff");
    CHECK_STR(s.keys[s.n - 1], "b:i");
    int ordered = 1;
    for (size_t i = 1; i < s.n; i++)
        ordered &= strcmp(s.keys[i - 1], s.keys[i]) < 0;
    CHECK(ordered);

    memset(&s, 0, sizeof(s));
    CHECK_INT(OPS(&f)->bs_list(INST(&f), "", seen_bs, &s), 0);
    CHECK_INT(s.n, sizeof(keys) / sizeof(keys[0]));
    fx_teardown(&f);
}

/* More keys than one page: each once, in order; a nonzero return stops. */
static void test_state__bs_list_spans_pages_and_stops(void)
{
    struct fx f;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->txn_begin(INST(&f)), 0);
    for (int i = 0; i < 300; i++) {
        char key[32];
        (void) snprintf(key, sizeof(key), "bkt:inst:%03d", i);
        (void) put_bs(&f, key, (uint64_t) i);
    }
    (void) put_bs(&f, "bkt:inst", 999); /* a prefix of every other key */
    /* Right after the first page's last key: the next page must start
     * exactly after that key, not one byte value later. */
    (void) put_bs(&f, "bkt:inst:127\x01", 1000);
    CHECK_INT(OPS(&f)->txn_commit(INST(&f)), 0);

    struct seen s = {0};
    CHECK_INT(OPS(&f)->bs_list(INST(&f), "bkt:inst:", seen_bs, &s), 0);
    CHECK_INT(s.n, 301);
    CHECK_STR(s.keys[128], "bkt:inst:127\x01");
    int ok = 1;
    for (size_t i = 1; i < s.n; i++)
        ok &= strcmp(s.keys[i - 1], s.keys[i]) < 0;
    CHECK(ok);

    memset(&s, 0, sizeof(s));
    s.stop_at = 200;
    CHECK_INT(OPS(&f)->bs_list(INST(&f), NULL, seen_bs, &s), 7);
    CHECK_INT(s.n, 200);
    fx_teardown(&f);
}

struct del_ctx {
    struct fx *f;
    int visits;
    int rc;
};

static int del_each(void *ud, const struct state_bs *bs)
{
    struct del_ctx *c = ud;
    c->visits++;
    int r = c->f->st.ops->bs_del(c->f->st.inst, bs->key);
    if (r < 0)
        c->rc = r;
    return 0;
}

/* A callback may write through the same instance mid-walk. */
static void test_state__walk_callback_may_write(void)
{
    struct fx f;
    CHECK_INT(fx_setup(&f), 0);
    for (int i = 0; i < 200; i++) {
        char key[32];
        (void) snprintf(key, sizeof(key), "k%03d", i);
        (void) put_bs(&f, key, 0);
    }
    struct del_ctx c = {&f, 0, 0};
    CHECK_INT(OPS(&f)->bs_list(INST(&f), NULL, del_each, &c), 0);
    CHECK_INT(c.visits, 200);
    CHECK_INT(c.rc, 0);
    struct seen s = {0};
    CHECK_INT(OPS(&f)->bs_list(INST(&f), NULL, seen_bs, &s), 0);
    CHECK_INT(s.n, 0);
    fx_teardown(&f);
}

struct find_retry {
    const char *key;
    struct state_retry r;
    int found;
};

static int find_retry_cb(void *ud, const struct state_retry *r)
{
    struct find_retry *c = ud;
    if (strcmp(r->key, c->key) != 0)
        return 0;
    c->found++;
    c->r.key = strdup(r->key);
    c->r.timestamp = strdup(r->timestamp);
    c->r.next_try = r->next_try;
    c->r.attempts = r->attempts;
    c->r.last_error = strdup(r->last_error);
    return 0;
}

/* The stored record for key, via a walk (the API has no retry_get). */
static int get_retry(struct fx *f, const char *key, struct state_retry *out)
{
    struct find_retry c = {.key = key};
    int r = OPS(f)->retry_list(INST(f), -1, find_retry_cb, &c);
    if (r < 0)
        return r;
    *out = c.r;
    return c.found == 1 ? 0 : -ENOENT;
}

static void test_state__retry_get_reads_one_record(void)
{
    struct fx f;
    struct state_retry r = {0}, l = {0};
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->retry_get(INST(&f), "b:inst:7", &r), -ENOENT);
    CHECK_INT(put_retry(&f, "b:inst:7", "2024-05-01 10:00:00.000002Z", 100), 0);
    CHECK_INT(put_retry(&f, "b:inst:8", "2024-05-01 10:00:00.000003Z", 200), 0);
    CHECK_INT(OPS(&f)->retry_get(INST(&f), "b:inst:7", &r), 0);
    CHECK_INT(get_retry(&f, "b:inst:7", &l), 0);
    CHECK_STR(r.key, l.key);
    CHECK_STR(r.timestamp, l.timestamp);
    CHECK_INT(r.next_try, l.next_try);
    CHECK_INT(r.attempts, l.attempts);
    CHECK_STR(r.last_error, l.last_error);
    state_retry_finish(&r);
    state_retry_finish(&l);
    fx_teardown(&f);
}

static void test_state__retry_keeps_newest_timestamp(void)
{
    struct fx f;
    struct state_retry r = {0};
    CHECK_INT(fx_setup(&f), 0);
    const char *key = "b:inst:3";
    CHECK_INT(put_retry(&f, key, "2024-05-01 10:00:00.000002Z", 100), 0);
    CHECK_INT(get_retry(&f, key, &r), 0);
    CHECK_STR(r.timestamp, "2024-05-01 10:00:00.000002Z");
    CHECK_INT(r.next_try, 100);
    CHECK_INT(r.attempts, 1);
    CHECK_STR(r.last_error, "s3: PUT b/k: 503");
    state_retry_finish(&r);

    /* An older timestamp: the rest updates, the timestamp stays. */
    struct state_retry older = {
        .key = (char *) key,
        .timestamp = (char *) "2024-05-01 10:00:00.000001Z",
        .next_try = 160,
        .attempts = 2,
        .last_error = (char *) "timeout",
    };
    CHECK_INT(OPS(&f)->retry_put(INST(&f), &older), 0);
    CHECK_INT(get_retry(&f, key, &r), 0);
    CHECK_STR(r.timestamp, "2024-05-01 10:00:00.000002Z");
    CHECK_INT(r.next_try, 160);
    CHECK_INT(r.attempts, 2);
    CHECK_STR(r.last_error, "timeout");
    state_retry_finish(&r);

    /* Byte order, not numeric: "9" > "10". */
    CHECK_INT(put_retry(&f, "k2", "10", 1), 0);
    CHECK_INT(put_retry(&f, "k2", "9", 1), 0);
    CHECK_INT(put_retry(&f, "k2", "099", 1), 0);
    CHECK_INT(get_retry(&f, "k2", &r), 0);
    CHECK_STR(r.timestamp, "9");
    state_retry_finish(&r);

    /* A newer one replaces it. */
    CHECK_INT(put_retry(&f, key, "2024-05-01 10:00:01.000000Z", 100), 0);
    CHECK_INT(get_retry(&f, key, &r), 0);
    CHECK_STR(r.timestamp, "2024-05-01 10:00:01.000000Z");
    state_retry_finish(&r);
    fx_teardown(&f);
}

static void test_state__retry_del_spares_newer_failure(void)
{
    struct fx f;
    struct state_retry r = {0};
    uint64_t n = 99;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(put_retry(&f, "k", "t5", 0), 0);

    /* A retry that started at t4 must not erase the failure at t5. */
    CHECK_INT(OPS(&f)->retry_del(INST(&f), "k", "t4"), 0);
    CHECK_INT(get_retry(&f, "k", &r), 0);
    state_retry_finish(&r);

    CHECK_INT(OPS(&f)->retry_del(INST(&f), "k", "t5"), 0); /* equal: removed */
    CHECK_INT(get_retry(&f, "k", &r), -ENOENT);

    CHECK_INT(put_retry(&f, "k", "t5", 0), 0);
    CHECK_INT(OPS(&f)->retry_del(INST(&f), "k", "t6"), 0);
    CHECK_INT(get_retry(&f, "k", &r), -ENOENT);

    CHECK_INT(put_retry(&f, "k", "t9", 0), 0);
    CHECK_INT(OPS(&f)->retry_del(INST(&f), "k", NULL), 0); /* unconditional */
    CHECK_INT(OPS(&f)->retry_count(INST(&f), &n), 0);
    CHECK_INT(n, 0);
    CHECK_INT(OPS(&f)->retry_del(INST(&f), "absent", NULL), 0);
    fx_teardown(&f);
}

static void test_state__retry_list_due_in_next_try_order(void)
{
    struct fx f;
    uint64_t n = 0;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(put_retry(&f, "c", "t", 300), 0);
    CHECK_INT(put_retry(&f, "a", "t", 200), 0);
    CHECK_INT(put_retry(&f, "b", "t", 100), 0);
    CHECK_INT(put_retry(&f, "d", "t", 200), 0);
    CHECK_INT(put_retry(&f, "e", "t", -5), 0);

    struct seen s = {0};
    CHECK_INT(OPS(&f)->retry_list(INST(&f), 200, seen_retry, &s), 0);
    CHECK_INT(s.n, 4);
    CHECK_STR(s.keys[0], "e");
    CHECK_STR(s.keys[1], "b");
    CHECK_STR(s.keys[2], "a"); /* same next_try: by key */
    CHECK_STR(s.keys[3], "d");

    memset(&s, 0, sizeof(s));
    CHECK_INT(OPS(&f)->retry_list(INST(&f), 99, seen_retry, &s), 0);
    CHECK_INT(s.n, 1);

    memset(&s, 0, sizeof(s));
    CHECK_INT(OPS(&f)->retry_list(INST(&f), -1, seen_retry, &s), 0);
    CHECK_INT(s.n, 5);
    CHECK_STR(s.keys[4], "c");

    CHECK_INT(OPS(&f)->retry_count(INST(&f), &n), 0);
    CHECK_INT(n, 5);
    fx_teardown(&f);
}

/* Many records with equal next_try cross pages without loss or repeat. */
static void test_state__retry_list_spans_pages(void)
{
    struct fx f;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->txn_begin(INST(&f)), 0);
    for (int i = 0; i < 400; i++) {
        char key[32];
        (void) snprintf(key, sizeof(key), "k%03d", i);
        (void) put_retry(&f, key, "t", i < 250 ? 10 : 20);
    }
    CHECK_INT(OPS(&f)->txn_commit(INST(&f)), 0);
    struct seen s = {0};
    CHECK_INT(OPS(&f)->retry_list(INST(&f), -1, seen_retry, &s), 0);
    CHECK_INT(s.n, 400);
    int ok = 1;
    for (size_t i = 0; i < 400 && i < s.n; i++) {
        char key[32];
        (void) snprintf(key, sizeof(key), "k%03zu", i);
        ok &= strcmp(s.keys[i], key) == 0;
    }
    CHECK(ok);
    memset(&s, 0, sizeof(s));
    CHECK_INT(OPS(&f)->retry_list(INST(&f), 10, seen_retry, &s), 0);
    CHECK_INT(s.n, 250);
    fx_teardown(&f);
}

static void test_state__upload_round_trip(void)
{
    struct fx f;
    struct state_upload out = {0};
    CHECK_INT(fx_setup(&f), 0);
    const char *id = "c0ffee.4711.1/dir/big.iso/";
    CHECK_INT(OPS(&f)->upload_get(INST(&f), id, &out), -ENOENT);

    struct state_upload u = {
        .id = (char *) id,
        .src_bucket = (char *) "photos",
        .src_key = (char *) "dir/big.iso",
        .src_version = (char *) "",
        .src_etag = (char *) "\"9b2cf535f27731c974343645a3985328-3\"",
        .src_mtime = (char *) "1700000000.123456789",
        .size = 5ull << 40,
        .target = (char *) "aws-main",
        .dst_bucket = (char *) "rgw-zg-sid",
        .dst_key = (char *) "photos/dir/big.iso",
        .upload_id = (char *) "2~abc",
        .part_size = 64ull << 20,
        .parts_json = (char *) "[]",
        .started = 1700000001,
    };
    CHECK_INT(OPS(&f)->upload_put(INST(&f), &u), 0);
    u.parts_json = (char *) "[{\"n\":1,\"etag\":\"a\"},{\"n\":2,\"etag\":\"b\"}]";
    CHECK_INT(OPS(&f)->upload_put(INST(&f), &u), 0);
    CHECK_INT(OPS(&f)->upload_get(INST(&f), id, &out), 0);
    CHECK_STR(out.id, id);
    CHECK_STR(out.src_bucket, "photos");
    CHECK_STR(out.src_key, "dir/big.iso");
    CHECK_STR(out.src_version, "");
    CHECK_STR(out.src_etag, "\"9b2cf535f27731c974343645a3985328-3\"");
    CHECK_STR(out.src_mtime, "1700000000.123456789");
    CHECK(out.size == 5ull << 40);
    CHECK_STR(out.target, "aws-main");
    CHECK_STR(out.dst_bucket, "rgw-zg-sid");
    CHECK_STR(out.dst_key, "photos/dir/big.iso");
    CHECK_STR(out.upload_id, "2~abc");
    CHECK(out.part_size == 64ull << 20);
    CHECK_STR(out.parts_json, "[{\"n\":1,\"etag\":\"a\"},{\"n\":2,\"etag\":\"b\"}]");
    CHECK_INT(out.started, 1700000001);
    state_upload_finish(&out);

    u.id = (char *) "a/first";
    u.size = 1;
    CHECK_INT(OPS(&f)->upload_put(INST(&f), &u), 0);
    struct seen s = {0};
    CHECK_INT(OPS(&f)->upload_list(INST(&f), seen_upload, &s), 0);
    CHECK_INT(s.n, 2);
    CHECK_STR(s.keys[0], "a/first");
    CHECK_STR(s.keys[1], id);

    CHECK_INT(OPS(&f)->upload_del(INST(&f), id), 0);
    CHECK_INT(OPS(&f)->upload_get(INST(&f), id, &out), -ENOENT);
    CHECK_INT(OPS(&f)->upload_del(INST(&f), id), 0);
    fx_teardown(&f);
}

static void test_state__txn_commit_stores_all(void)
{
    struct fx f;
    uint64_t n = 0;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->txn_begin(INST(&f)), 0);
    CHECK_INT(OPS(&f)->txn_begin(INST(&f)), -EINVAL); /* no nesting */
    CHECK_INT(put_retry(&f, "b:i:1", "t1", 10), 0);
    struct state_dl_shard s = {.shard = 0, .phase = STATE_DL_INCREMENTAL, .marker = (char *) "m9"};
    CHECK_INT(OPS(&f)->dl_put(INST(&f), &s), 0);
    CHECK_INT(OPS(&f)->txn_commit(INST(&f)), 0);
    CHECK_INT(OPS(&f)->txn_commit(INST(&f)), -EINVAL); /* none open */

    CHECK_INT(OPS(&f)->retry_count(INST(&f), &n), 0);
    CHECK_INT(n, 1);
    struct state_dl_shard out = {0};
    CHECK_INT(OPS(&f)->dl_get(INST(&f), 0, &out), 0);
    CHECK_STR(out.marker, "m9");
    state_dl_shard_finish(&out);
    fx_teardown(&f);
}

static void test_state__txn_abort_leaves_nothing(void)
{
    struct fx f;
    uint64_t n = 0;
    char *v = NULL;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->meta_put(INST(&f), "sid", "before"), 0);
    CHECK_INT(OPS(&f)->txn_begin(INST(&f)), 0);
    CHECK_INT(put_retry(&f, "b:i:1", "t1", 10), 0);
    CHECK_INT(put_bs(&f, "b:i:1", 1), 0);
    CHECK_INT(OPS(&f)->meta_put(INST(&f), "sid", "during"), 0);
    OPS(&f)->txn_abort(INST(&f));
    OPS(&f)->txn_abort(INST(&f)); /* outside a transaction: a no-op */

    CHECK_INT(OPS(&f)->retry_count(INST(&f), &n), 0);
    CHECK_INT(n, 0);
    struct state_bs bs = {0};
    CHECK_INT(OPS(&f)->bs_get(INST(&f), "b:i:1", &bs), -ENOENT);
    CHECK_INT(OPS(&f)->meta_get(INST(&f), "sid", &v), 0);
    CHECK_STR(v, "before");
    free(v);
    /* The instance is usable afterwards. */
    CHECK_INT(OPS(&f)->txn_begin(INST(&f)), 0);
    CHECK_INT(OPS(&f)->txn_commit(INST(&f)), 0);
    fx_teardown(&f);
}

/* Closing with a transaction open stores none of it. */
static void test_state__close_discards_open_txn(void)
{
    struct fx f;
    uint64_t n = 9;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->txn_begin(INST(&f)), 0);
    CHECK_INT(put_retry(&f, "k", "t", 1), 0);
    state_close(&f.st);
    CHECK(f.st.ops == NULL);
    CHECK_INT(state_open(&f.st, &f.cfg), 0);
    CHECK_INT(OPS(&f)->retry_count(INST(&f), &n), 0);
    CHECK_INT(n, 0);
    fx_teardown(&f);
}

static void test_state__reopen_persists(void)
{
    struct fx f;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(OPS(&f)->meta_put(INST(&f), "sid", "s-1"), 0);
    CHECK_INT(put_bs(&f, "b:i", 42), 0);
    CHECK_INT(put_retry(&f, "b:i", "t", 7), 0);
    struct state_dl_shard s = {.shard = 5, .phase = STATE_DL_FULL, .marker = (char *) "m"};
    CHECK_INT(OPS(&f)->dl_put(INST(&f), &s), 0);
    state_close(&f.st);

    CHECK_INT(state_open(&f.st, &f.cfg), 0);
    char *v = NULL;
    CHECK_INT(OPS(&f)->meta_get(INST(&f), "sid", &v), 0);
    CHECK_STR(v, "s-1");
    free(v);
    struct state_bs bs = {0};
    CHECK_INT(OPS(&f)->bs_get(INST(&f), "b:i", &bs), 0);
    CHECK_INT(bs.full_count, 42);
    CHECK_INT(bs.phase, STATE_BS_INCREMENTAL);
    state_bs_finish(&bs);
    struct state_dl_shard out = {0};
    CHECK_INT(OPS(&f)->dl_get(INST(&f), 5, &out), 0);
    CHECK_INT(out.phase, STATE_DL_FULL);
    state_dl_shard_finish(&out);
    uint64_t n = 0;
    CHECK_INT(OPS(&f)->retry_count(INST(&f), &n), 0);
    CHECK_INT(n, 1);
    fx_teardown(&f);
}

static void test_state__two_instances_share_file(void)
{
    struct fx f;
    struct state other = {0};
    char *v = NULL;
    CHECK_INT(fx_setup(&f), 0);
    CHECK_INT(state_open(&other, &f.cfg), 0);

    CHECK_INT(OPS(&f)->meta_put(INST(&f), "sid", "w1"), 0);
    CHECK_INT(other.ops->meta_get(other.inst, "sid", &v), 0);
    CHECK_STR(v, "w1");
    free(v);

    /* Uncommitted writes are invisible to the reader, which is not blocked. */
    CHECK_INT(OPS(&f)->txn_begin(INST(&f)), 0);
    CHECK_INT(put_bs(&f, "b:i", 1), 0);
    struct state_bs bs = {0};
    CHECK_INT(other.ops->bs_get(other.inst, "b:i", &bs), -ENOENT);
    CHECK_INT(OPS(&f)->txn_commit(INST(&f)), 0);
    CHECK_INT(other.ops->bs_get(other.inst, "b:i", &bs), 0);
    CHECK_INT(bs.full_count, 1);
    state_bs_finish(&bs);

    /* And the other way round. */
    CHECK_INT(other.ops->meta_put(other.inst, "sid", "w2"), 0);
    CHECK_INT(OPS(&f)->meta_get(INST(&f), "sid", &v), 0);
    CHECK_STR(v, "w2");
    free(v);
    state_close(&other);
    fx_teardown(&f);
}

/* The child's half of the test below; its exit code is the verdict. The
 * pipes order the steps: to_child says "go on", to_parent "done". */
static int child_shares_file(const struct fx *f, int to_child, int to_parent)
{
    struct state st = {0};
    char *v = NULL;
    char c;
    int code = 1;
    if (read(to_child, &c, 1) != 1 || state_open(&st, &f->cfg) < 0)
        goto out;
    /* The parent holds a write transaction: reading must not wait for it
     * and must see only what is committed. */
    if (st.ops->meta_get(st.inst, "sid", &v) < 0 || strcmp(v, "parent") != 0)
        goto out;
    if (write(to_parent, "r", 1) != 1 || read(to_child, &c, 1) != 1)
        goto out;
    if (st.ops->meta_put(st.inst, "child", "was here") < 0)
        goto out;
    code = 0;
out:
    free(v);
    state_close(&st);
    return code;
}

/* A second process (the status verb) reads while we hold the file open and
 * write, and writes once we are done. Forked before the parent opens: a
 * SQLite handle must not cross fork(). */
static void test_state__second_process_shares_file(void)
{
    struct fx f;
    int to_child[2], to_parent[2];
    char c = 0;
    CHECK_INT(fx_prepare(&f, ""), 0);
    CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(child_shares_file(&f, to_child[0], to_parent[1]));
    CHECK(pid > 0);

    CHECK_INT(state_open(&f.st, &f.cfg), 0);
    CHECK_INT(OPS(&f)->meta_put(INST(&f), "sid", "parent"), 0);
    CHECK_INT(OPS(&f)->txn_begin(INST(&f)), 0);
    CHECK_INT(OPS(&f)->meta_put(INST(&f), "sid", "uncommitted"), 0);
    CHECK(write(to_child[1], "g", 1) == 1);
    CHECK(read(to_parent[0], &c, 1) == 1 && c == 'r'); /* it has read */
    OPS(&f)->txn_abort(INST(&f));
    CHECK(write(to_child[1], "g", 1) == 1);

    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *v = NULL;
    CHECK_INT(OPS(&f)->meta_get(INST(&f), "child", &v), 0);
    CHECK_STR(v, "was here");
    free(v);
    for (int i = 0; i < 2; i++) {
        (void) close(to_child[i]);
        (void) close(to_parent[i]);
    }
    fx_teardown(&f);
}

static void test_state__refuses_foreign_and_newer_files(void)
{
    struct fx f;
    sqlite3 *db = NULL;
    CHECK_INT(fx_setup(&f), 0);
    state_close(&f.st);

    CHECK(sqlite3_open(f.path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_INT(state_open(&f.st, &f.cfg), -EPROTO);
    CHECK(strstr(err_get(), "newer") != NULL);
    fx_teardown(&f);

    /* Some other program's database. */
    CHECK_INT(fx_setup(&f), 0);
    state_close(&f.st);
    (void) nftw(f.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    CHECK(mkdir(f.dir, 0700) == 0);
    CHECK(sqlite3_open(f.path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_INT(state_open(&f.st, &f.cfg), -EPROTO);
    CHECK(strstr(err_get(), "not an rgw2cloud state file") != NULL);
    CHECK(f.st.ops == NULL);
    fx_teardown(&f);
}

int main(void)
{
    const char *backend = getenv("TEST_STATE_BACKEND");
    if (backend && strcmp(backend, "rados") == 0) {
        struct labenv env;
        t_current = "rados lab";
        CHECK(labenv_load(&env, "LAB_SOURCE_ENV") == 0);
        const char *conf = labenv_get(&env, "LAB_CEPH_CONF");
        CHECK(conf != NULL);
        if (!conf)
            return t_done();
        (void) snprintf(rados_conf, sizeof(rados_conf), "%s", conf);
        rados_mode = true;
        CHECK_INT(labrados_pool(rados_conf, LABRADOS_POOL), 0);
        RUN(test_state__rados_missing_pool_says_how_to_create_it);
        RUN(test_state__rados_refuses_a_newer_schema);
    } else {
        RUN(test_state__open_creates_private_dir_and_file);
        RUN(test_state__rados_without_a_cluster_names_the_conf);
    }
    /* every backend */
    RUN(test_state__unknown_backend_lists_known);
    RUN(test_state__meta_sid_round_trip);
    RUN(test_state__dl_shard_round_trip_and_update);
    RUN(test_state__dl_list_ascending_shard);
    RUN(test_state__bs_round_trip_update_delete);
    RUN(test_state__bs_list_prefix_is_exact);
    RUN(test_state__bs_list_spans_pages_and_stops);
    RUN(test_state__walk_callback_may_write);
    RUN(test_state__retry_get_reads_one_record);
    RUN(test_state__retry_keeps_newest_timestamp);
    RUN(test_state__retry_del_spares_newer_failure);
    RUN(test_state__retry_list_due_in_next_try_order);
    RUN(test_state__retry_list_spans_pages);
    RUN(test_state__upload_round_trip);
    RUN(test_state__txn_commit_stores_all);
    RUN(test_state__txn_abort_leaves_nothing);
    RUN(test_state__close_discards_open_txn);
    RUN(test_state__reopen_persists);
    RUN(test_state__two_instances_share_file);
    if (!rados_mode) { /* a file's: a forked child, foreign files */
        RUN(test_state__second_process_shares_file);
        RUN(test_state__refuses_foreign_and_newer_files);
    }
    return t_done();
}
