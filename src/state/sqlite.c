/* The sqlite state backend: one file, WAL, every commit fsync'd.
 *
 * Durability: journal_mode=WAL with synchronous=FULL syncs the WAL on every
 * commit, so a write is on disk when its call returns 0. Outside txn_begin()
 * each write is one statement, hence its own transaction; retry_put() is a
 * single UPSERT so its max() cannot race another writer.
 *
 * Sharing: WAL lets readers (the status verb in another process) run beside
 * the daemon's writer; a writer waits up to BUSY_TIMEOUT_MS for the lock and
 * then fails with -EAGAIN.
 *
 * Walks read PAGE rows at a time, each page its own short read transaction,
 * and run the callbacks with no statement active: a callback may write
 * (durably) or walk again, and a long walk never pins the WAL against
 * checkpoints.
 *
 * Strings are stored as TEXT; SQLite compares TEXT with memcmp (collation
 * BINARY), which is the byte-string order the API asks for. */
#include "state_api.h"

#include "config.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* PRAGMA user_version: bump with a migration in sq_schema(). */
#define SCHEMA_VERSION 1
/* PRAGMA application_id: marks the file as ours (0x72326373, "r2cs"),
 * decimal because the pragma takes no hex. */
#define APPLICATION_ID  1915904883
#define STR_(x)         #x
#define STR(x)          STR_(x)
#define BUSY_TIMEOUT_MS 10000
/* Rows per walk page; uploads carry their parts list, so fewer of them. */
#define PAGE        128
#define UPLOAD_PAGE 8

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " value TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS dl_shard ("
    " shard INTEGER PRIMARY KEY,"
    " phase TEXT NOT NULL,"
    " marker TEXT NOT NULL,"
    " full_marker TEXT NOT NULL,"
    " last_change INTEGER NOT NULL,"
    " updated INTEGER NOT NULL"
    ");"
    "CREATE TABLE IF NOT EXISTS bucket_shard ("
    " key TEXT PRIMARY KEY NOT NULL,"
    " phase TEXT NOT NULL,"
    " inc_marker TEXT NOT NULL,"
    " full_key TEXT NOT NULL,"
    " full_version TEXT NOT NULL,"
    " full_count INTEGER NOT NULL,"
    " updated INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS retry ("
    " key TEXT PRIMARY KEY NOT NULL,"
    " timestamp TEXT NOT NULL,"
    " next_try INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " last_error TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS retry_by_next_try ON retry (next_try, key);"
    "CREATE TABLE IF NOT EXISTS upload ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " src_bucket TEXT NOT NULL,"
    " src_key TEXT NOT NULL,"
    " src_version TEXT NOT NULL,"
    " src_etag TEXT NOT NULL,"
    " src_mtime TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " target TEXT NOT NULL,"
    " dst_bucket TEXT NOT NULL,"
    " dst_key TEXT NOT NULL,"
    " upload_id TEXT NOT NULL,"
    " part_size INTEGER NOT NULL,"
    " parts_json TEXT NOT NULL,"
    " started INTEGER NOT NULL"
    ") WITHOUT ROWID;";

/* Column lists: the *_read() functions depend on this order. */
#define DL_COLS    "shard, phase, marker, full_marker, last_change, updated"
#define BS_COLS    "key, phase, inc_marker, full_key, full_version, full_count, updated"
#define RETRY_COLS "key, timestamp, next_try, attempts, last_error"
#define UPLOAD_COLS                                                                                \
    "id, src_bucket, src_key, src_version, src_etag, src_mtime, size, target, dst_bucket, "        \
    "dst_key, upload_id, part_size, parts_json, started"

/* Walk statements take the page size as ?1 and the page's lower bound after
 * it; the bound is inclusive (see bind_after()). */
enum stmt_id {
    S_META_GET,
    S_META_PUT,
    S_DL_GET,
    S_DL_PUT,
    S_DL_LIST,
    S_BS_GET,
    S_BS_PUT,
    S_BS_DEL,
    S_BS_LIST,
    S_RETRY_PUT,
    S_RETRY_DEL,
    S_RETRY_LIST,
    S_RETRY_COUNT,
    S_RETRY_GET,
    S_UPLOAD_GET,
    S_UPLOAD_PUT,
    S_UPLOAD_DEL,
    S_UPLOAD_LIST,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_META_GET] = "SELECT value FROM meta WHERE name = ?1",
    [S_META_PUT] = "INSERT INTO meta (name, value) VALUES (?1, ?2)"
                   " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    [S_DL_GET] = "SELECT " DL_COLS " FROM dl_shard WHERE shard = ?1",
    [S_DL_PUT] = "REPLACE INTO dl_shard (" DL_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_DL_LIST] = "SELECT " DL_COLS " FROM dl_shard WHERE shard >= ?2 ORDER BY shard LIMIT ?1",
    [S_BS_GET] = "SELECT " BS_COLS " FROM bucket_shard WHERE key = ?1",
    [S_BS_PUT] = "REPLACE INTO bucket_shard (" BS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_BS_DEL] = "DELETE FROM bucket_shard WHERE key = ?1",
    /* The prefix is checked in C (bs_in_prefix()): a range scan from the
     * prefix, stopped at the first key without it, is exact for any bytes,
     * where LIKE/GLOB would treat '%', '_', '*' as wildcards. */
    [S_BS_LIST] = "SELECT " BS_COLS " FROM bucket_shard WHERE key >= ?2 ORDER BY key LIMIT ?1",
    /* max() of two TEXT values compares them with BINARY, i.e. bytewise. */
    [S_RETRY_PUT] = "INSERT INTO retry (" RETRY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)"
                    " ON CONFLICT (key) DO UPDATE SET"
                    " timestamp = max(timestamp, excluded.timestamp),"
                    " next_try = excluded.next_try, attempts = excluded.attempts,"
                    " last_error = excluded.last_error",
    [S_RETRY_DEL] = "DELETE FROM retry WHERE key = ?1 AND (?2 IS NULL OR timestamp <= ?2)",
    [S_RETRY_LIST] = "SELECT " RETRY_COLS " FROM retry"
                     " WHERE next_try <= ?2 AND (next_try, key) >= (?3, ?4)"
                     " ORDER BY next_try, key LIMIT ?1",
    [S_RETRY_COUNT] = "SELECT count(*) FROM retry",
    [S_RETRY_GET] = "SELECT " RETRY_COLS " FROM retry WHERE key = ?1",
    [S_UPLOAD_GET] = "SELECT " UPLOAD_COLS " FROM upload WHERE id = ?1",
    [S_UPLOAD_PUT] = "REPLACE INTO upload (" UPLOAD_COLS ") VALUES"
                     " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [S_UPLOAD_DEL] = "DELETE FROM upload WHERE id = ?1",
    [S_UPLOAD_LIST] = "SELECT " UPLOAD_COLS " FROM upload WHERE id >= ?2 ORDER BY id LIMIT ?1",
    /* IMMEDIATE takes the write lock up front, where the busy timeout
     * applies; a deferred transaction could fail to upgrade mid-way. */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
};

/* Phases are stored by name, so the file reads plainly in the sqlite3 shell
 * and does not depend on enum values. Indexed by the enums. */
static const char *const dl_phase_names[] = {"init", "full", "incremental"};
static const char *const bs_phase_names[] = {"init", "full", "incremental", "stopped"};
#define NPHASES(a) (sizeof(a) / sizeof((a)[0]))

struct sq {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[S_COUNT]; /* prepared once at open */
};

/* ---- errors ---- */

static int sq_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EAGAIN;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    default:
        return -EIO;
    }
}

/* Record what failed (op on key) with SQLite's message; the errno for rc. */
static int sq_fail(const struct sq *q, int rc, const char *op, const char *key)
{
    /* The handle's message only when it is about rc (not a failed bind). */
    const char *msg =
        q->db && sqlite3_extended_errcode(q->db) == rc ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    err_set("state: %s: %s%s%s: %s", q->path, op, key ? " " : "", key ? key : "", msg);
    return sq_errno(rc);
}

/* ---- binding and reading ---- */

/* Binds that remember the first failure, so a put binds everything and
 * checks once. Text is bound SQLITE_STATIC: sq_done() clears the bindings
 * before the caller's strings can go away. */
struct bind {
    sqlite3_stmt *st;
    int rc;
};

static void bind_text(struct bind *b, int i, const char *s)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_text(b->st, i, s ? s : "", -1, SQLITE_STATIC);
}

static void bind_int(struct bind *b, int i, int64_t v)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->st, i, v);
}

static void bind_null(struct bind *b, int i)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_null(b->st, i);
}

/* Bind the smallest string greater than key: key followed by "\x01". Keys
 * are C strings (no NUL), so `col >= key "\x01"` is exactly `col > key`,
 * which lets one statement serve the first page (`>= start`) and the next
 * ones (`> last`). */
static void bind_after(struct bind *b, int i, const char *key)
{
    if (b->rc != SQLITE_OK)
        return;
    size_t len = strlen(key);
    char *buf = malloc(len + 2);
    if (!buf) {
        b->rc = SQLITE_NOMEM;
        return;
    }
    memcpy(buf, key, len);
    buf[len] = '\x01';
    buf[len + 1] = '\0';
    /* SQLite frees buf with free(), even when the bind fails. */
    b->rc = sqlite3_bind_text64(b->st, i, buf, len + 1, free, SQLITE_UTF8);
}

/* Reads that remember the first failure (-ENOMEM); a record whose read
 * failed is freed by its *_finish(). */
struct row {
    sqlite3_stmt *st;
    int err;
};

/* Column i as a heap string; NULL (and row->err set) when out of memory. */
static char *row_text(struct row *row, int i)
{
    if (row->err)
        return NULL;
    const unsigned char *t = sqlite3_column_text(row->st, i);
    size_t n = t ? (size_t) sqlite3_column_bytes(row->st, i) : 0;
    /* NULL for a non-NULL value: SQLite ran out of memory converting it. */
    char *s = t || sqlite3_column_type(row->st, i) == SQLITE_NULL ? malloc(n + 1) : NULL;
    if (!s) {
        row->err = -ENOMEM;
        return NULL;
    }
    if (n)
        memcpy(s, t, n);
    s[n] = '\0';
    return s;
}

static int64_t row_int(struct row *row, int i)
{
    return sqlite3_column_int64(row->st, i);
}

/* Column i names a phase in names[0..n); -EIO (the file was not written by
 * us, or by a newer version) for anything else. */
static int row_phase(const struct sq *q, struct row *row, int i, const char *const *names, size_t n,
                     const char *what, int *phase)
{
    const char *t = (const char *) sqlite3_column_text(row->st, i);
    for (size_t k = 0; t && k < n; k++) {
        if (strcmp(t, names[k]) == 0) {
            *phase = (int) k;
            return 0;
        }
    }
    err_set("state: %s: %s: unknown phase \"%s\"", q->path, what, t ? t : "(null)");
    return -EIO;
}

/* Reset after every use: ends the statement's implicit transaction and
 * drops bindings that point at caller memory. */
static void sq_done(sqlite3_stmt *st)
{
    (void) sqlite3_reset(st);
    (void) sqlite3_clear_bindings(st);
}

/* Step a statement that returns no rows (bind_rc: the binds' outcome). */
static int sq_run(struct sq *q, sqlite3_stmt *st, int bind_rc, const char *op, const char *key)
{
    int rc = bind_rc == SQLITE_OK ? sqlite3_step(st) : bind_rc;
    int r = rc == SQLITE_DONE ? 0 : sq_fail(q, rc, op, key);
    sq_done(st);
    return r;
}

typedef int (*row_read_fn)(struct sq *q, sqlite3_stmt *st, void *rec);

/* Step a statement that returns at most one row and read it into rec:
 * -ENOENT when there is none. */
static int sq_get(struct sq *q, sqlite3_stmt *st, int bind_rc, row_read_fn read_row, void *rec,
                  const char *op, const char *key)
{
    int r;
    int rc = bind_rc == SQLITE_OK ? sqlite3_step(st) : bind_rc;
    if (rc == SQLITE_ROW) {
        r = read_row(q, st, rec);
    } else if (rc == SQLITE_DONE) {
        err_set("state: %s: %s %s: not found", q->path, op, key ? key : "");
        r = -ENOENT;
    } else {
        r = sq_fail(q, rc, op, key);
    }
    sq_done(st);
    return r;
}

/* ---- walks ---- */

/* One paged walk. Between pages no statement is active, so the callback
 * may use the instance freely. */
struct walk {
    enum stmt_id stmt;
    size_t size; /* of one record */
    size_t page; /* records per page */
    const char *op;
    /* Bind ?2...: the page starts at the first record after last, or at the
     * beginning when last is NULL. */
    void (*bind)(struct bind *b, const void *last, void *ctx);
    row_read_fn read;
    /* MAY be NULL. false: rec and everything after it is outside the walk. */
    bool (*in_range)(const void *rec, void *ctx);
    int (*visit)(const void *rec, void *ctx);
    void (*finish)(void *rec);
};

/* Fetch one page into recs; *more is false once nothing follows it. */
static int walk_page(struct sq *q, const struct walk *w, void *ctx, const void *last, char *recs,
                     size_t *n, bool *more)
{
    sqlite3_stmt *st = q->stmt[w->stmt];
    struct bind b = {st, SQLITE_OK};
    int r = 0;

    *n = 0;
    *more = false;
    bind_int(&b, 1, (int64_t) w->page);
    w->bind(&b, last, ctx);
    int rc = b.rc;
    while (rc == SQLITE_OK && *n < w->page) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
            break;
        void *rec = recs + *n * w->size;
        r = w->read(q, st, rec);
        if (r < 0)
            break;
        if (w->in_range && !w->in_range(rec, ctx)) {
            w->finish(rec);
            rc = SQLITE_DONE;
            break;
        }
        (*n)++;
        rc = SQLITE_OK;
    }
    if (r == 0 && rc != SQLITE_OK && rc != SQLITE_DONE)
        r = sq_fail(q, rc, w->op, NULL);
    /* A full page may have a successor; a short one (DONE) has none. */
    *more = r == 0 && rc == SQLITE_OK && *n == w->page;
    sq_done(st);
    return r;
}

static int sq_walk(struct sq *q, const struct walk *w, void *ctx)
{
    char *recs = calloc(w->page, w->size);
    char *last = calloc(1, w->size);
    bool have_last = false, more = true;
    int r = recs && last ? 0 : -ENOMEM;

    while (r == 0 && more) {
        size_t n = 0;
        r = walk_page(q, w, ctx, have_last ? last : NULL, recs, &n, &more);
        for (size_t i = 0; i < n && r == 0; i++)
            r = w->visit(recs + i * w->size, ctx);
        if (n > 0) {
            /* Keep the page's last record: the next page starts after it. */
            if (have_last)
                w->finish(last);
            memcpy(last, recs + (n - 1) * w->size, w->size);
            have_last = true;
            for (size_t i = 0; i + 1 < n; i++)
                w->finish(recs + i * w->size);
        }
    }
    if (have_last)
        w->finish(last);
    free(last);
    free(recs);
    return r;
}

/* ---- files ---- */

/* fsync a directory so a new entry in it survives a crash. */
static int dir_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    (void) close(fd);
    return r;
}

/* mkdir -p dir (mode 0700), syncing each new entry into its parent. dir is
 * modified during the call and restored. path: for messages. */
static int dir_create(char *dir, const char *path)
{
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0700) == 0) {
            char *up = strrchr(dir, '/');
            if (up && up != dir) {
                *up = '\0';
                (void) dir_sync(dir);
                *up = '/';
            } else {
                (void) dir_sync(up ? "/" : ".");
            }
        } else if (errno != EEXIST) {
            int r = -errno;
            err_set("state: %s: cannot create directory %s: %s", path, dir, strerror(-r));
            *p = c;
            return r;
        }
        *p = c;
        if (!c)
            return 0;
    }
}

/* Create the missing directories above path (mode 0700) and the file itself
 * (0600: the WAL and shm files SQLite makes beside it copy its mode). An
 * existing file keeps its mode: the operator may have widened it for a
 * status reader. New entries are synced into their parents, so a crash
 * right after the first commit cannot lose the file. */
static int file_prepare(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return -ENOMEM;
    int r = 0;
    char *slash = strrchr(dir, '/');
    const char *parent = ".";
    struct stat sb;
    if (slash == dir) {
        parent = "/";
    } else if (slash) {
        *slash = '\0';
        parent = dir;
        if (stat(dir, &sb) < 0 && errno == ENOENT)
            r = dir_create(dir, path);
    }
    if (r == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            (void) close(fd);
            (void) dir_sync(parent);
        } else if (errno != EEXIST) {
            r = -errno;
            err_set("state: %s: cannot create: %s", path, strerror(-r));
        }
    }
    free(dir);
    return r;
}

/* ---- open / close ---- */

static int sq_exec(struct sq *q, const char *sql)
{
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sq_fail(q, rc, sql, NULL);
}

/* A pragma that returns one value, as text (*text, may be NULL) or integer. */
static int sq_pragma(struct sq *q, const char *sql, int64_t *num, char **text)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int r = 0;
    if (rc == SQLITE_ROW) {
        if (num)
            *num = sqlite3_column_int64(st, 0);
        if (text) {
            struct row row = {st, 0};
            *text = row_text(&row, 0);
            r = row.err;
        }
    } else {
        r = sq_fail(q, rc, sql, NULL);
    }
    (void) sqlite3_finalize(st);
    return r;
}

/* Check the file is ours and create the schema when it is new. */
static int sq_schema(struct sq *q)
{
    int64_t app = 0, ver = 0, objects = 0;
    int r = sq_pragma(q, "PRAGMA application_id", &app, NULL);
    if (r == 0)
        r = sq_pragma(q, "PRAGMA user_version", &ver, NULL);
    if (r < 0)
        return r;
    if (app == APPLICATION_ID && ver == SCHEMA_VERSION)
        return 0; /* the usual case: no write lock needed */

    /* Create under the write lock, checking again: another process may be
     * creating it at the same time. */
    r = sq_exec(q, "BEGIN IMMEDIATE");
    if (r < 0)
        return r;
    r = sq_pragma(q, "PRAGMA application_id", &app, NULL);
    if (r == 0)
        r = sq_pragma(q, "PRAGMA user_version", &ver, NULL);
    if (r == 0)
        r = sq_pragma(q, "SELECT count(*) FROM sqlite_master", &objects, NULL);
    if (r < 0)
        goto fail;
    if (app != APPLICATION_ID && (app != 0 || objects != 0)) {
        err_set("state: %s: not an rgw2cloud state file", q->path);
        r = -EPROTO;
        goto fail;
    }
    if (ver > SCHEMA_VERSION) {
        err_set("state: %s: schema version %lld is newer than this build's %d", q->path,
                (long long) ver, SCHEMA_VERSION);
        r = -EPROTO;
        goto fail;
    }
    r = sq_exec(q, schema_sql);
    if (r == 0)
        r = sq_exec(q, "PRAGMA application_id = " STR(APPLICATION_ID));
    if (r == 0)
        r = sq_exec(q, "PRAGMA user_version = " STR(SCHEMA_VERSION));
    if (r == 0)
        r = sq_exec(q, "COMMIT");
    if (r == 0)
        return 0;
fail:
    (void) sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

static void sq_close(void *inst)
{
    struct sq *q = inst;
    if (!q)
        return;
    for (size_t i = 0; i < S_COUNT; i++)
        (void) sqlite3_finalize(q->stmt[i]);
    /* An open transaction is rolled back: it was never committed. */
    (void) sqlite3_close_v2(q->db);
    free(q->path);
    free(q);
}

static int sq_open(const struct config *cfg, void **inst)
{
    const char *path = cfg->state.path;
    if (!path || !*path) {
        err_set("state: sqlite: state.path is empty");
        return -EINVAL;
    }
    struct sq *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->path = strdup(path);
    if (!q->path) {
        free(q);
        return -ENOMEM;
    }

    char *mode = NULL;
    int r = file_prepare(path);
    if (r < 0)
        goto fail;

    /* NOMUTEX: an instance is used by one thread at a time (the API says). */
    int rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        r = sq_fail(q, rc, "open", NULL);
        goto fail;
    }
    (void) sqlite3_extended_result_codes(q->db, 1);
    /* Before anything that locks: switching to WAL needs the lock too. */
    (void) sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);

    r = sq_pragma(q, "PRAGMA journal_mode = WAL", NULL, &mode);
    if (r < 0)
        goto fail;
    if (strcmp(mode, "wal") != 0) {
        /* e.g. a file system without shared memory: readers would block
         * the daemon, so refuse rather than run degraded. */
        err_set("state: %s: cannot use WAL (journal mode stays %s)", path, mode);
        r = -EIO;
        goto fail;
    }
    /* Per connection, not stored in the file: set on every open. */
    r = sq_exec(q, "PRAGMA synchronous = FULL");
    if (r == 0)
        r = sq_schema(q);
    for (size_t i = 0; r == 0 && i < S_COUNT; i++) {
        rc = sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->stmt[i],
                                NULL);
        if (rc != SQLITE_OK)
            r = sq_fail(q, rc, "prepare", stmt_sql[i]);
    }
    if (r < 0)
        goto fail;
    free(mode);
    *inst = q;
    return 0;
fail:
    free(mode);
    sq_close(q);
    return r;
}

/* ---- meta ---- */

static int meta_read(struct sq *q, sqlite3_stmt *st, void *rec)
{
    struct row row = {st, 0};
    *(char **) rec = row_text(&row, 0);
    return row.err;
}

static int sq_meta_get(void *inst, const char *name, char **value)
{
    struct sq *q = inst;
    if (!name)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_META_GET];
    struct bind b = {st, SQLITE_OK};
    char *v = NULL;
    bind_text(&b, 1, name);
    int r = sq_get(q, st, b.rc, meta_read, &v, "meta_get", name);
    if (r == 0)
        *value = v;
    return r;
}

static int sq_meta_put(void *inst, const char *name, const char *value)
{
    struct sq *q = inst;
    if (!name)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_META_PUT];
    struct bind b = {st, SQLITE_OK};
    bind_text(&b, 1, name);
    bind_text(&b, 2, value);
    return sq_run(q, st, b.rc, "meta_put", name);
}

/* ---- datalog shards ---- */

static int dl_read(struct sq *q, sqlite3_stmt *st, void *rec)
{
    struct state_dl_shard *s = rec;
    struct row row = {st, 0};
    int phase = 0;
    memset(s, 0, sizeof(*s));
    s->shard = (int) row_int(&row, 0);
    int r = row_phase(q, &row, 1, dl_phase_names, NPHASES(dl_phase_names), "datalog shard", &phase);
    s->phase = (enum state_dl_phase) phase;
    s->marker = row_text(&row, 2);
    s->full_marker = row_text(&row, 3);
    s->last_change = row_int(&row, 4);
    s->updated = row_int(&row, 5);
    if (r == 0)
        r = row.err;
    if (r < 0)
        state_dl_shard_finish(s);
    return r;
}

static int sq_dl_get(void *inst, int shard, struct state_dl_shard *out)
{
    struct sq *q = inst;
    sqlite3_stmt *st = q->stmt[S_DL_GET];
    struct bind b = {st, SQLITE_OK};
    struct state_dl_shard s;
    char name[32];
    (void) snprintf(name, sizeof(name), "shard %d", shard);
    bind_int(&b, 1, shard);
    int r = sq_get(q, st, b.rc, dl_read, &s, "dl_get", name);
    if (r == 0)
        *out = s;
    return r;
}

static int sq_dl_put(void *inst, const struct state_dl_shard *s)
{
    struct sq *q = inst;
    if ((unsigned) s->phase >= NPHASES(dl_phase_names)) {
        err_set("state: dl_put: shard %d: bad phase %d", s->shard, (int) s->phase);
        return -EINVAL;
    }
    sqlite3_stmt *st = q->stmt[S_DL_PUT];
    struct bind b = {st, SQLITE_OK};
    char name[32];
    (void) snprintf(name, sizeof(name), "shard %d", s->shard);
    bind_int(&b, 1, s->shard);
    bind_text(&b, 2, dl_phase_names[s->phase]);
    bind_text(&b, 3, s->marker);
    bind_text(&b, 4, s->full_marker);
    bind_int(&b, 5, s->last_change);
    bind_int(&b, 6, (int64_t) time(NULL));
    return sq_run(q, st, b.rc, "dl_put", name);
}

struct dl_walk {
    state_dl_fn fn;
    void *ud;
};

static void dl_bind(struct bind *b, const void *last, void *ctx)
{
    const struct state_dl_shard *s = last;
    /* int64: last + 1 cannot overflow. */
    bind_int(b, 2, s ? (int64_t) s->shard + 1 : INT64_MIN);
}

static int dl_visit(const void *rec, void *ctx)
{
    struct dl_walk *c = ctx;
    return c->fn(c->ud, rec);
}

static void dl_finish(void *rec)
{
    state_dl_shard_finish(rec);
}

static int sq_dl_list(void *inst, state_dl_fn fn, void *ud)
{
    static const struct walk w = {
        .stmt = S_DL_LIST,
        .size = sizeof(struct state_dl_shard),
        .page = PAGE,
        .op = "dl_list",
        .bind = dl_bind,
        .read = dl_read,
        .visit = dl_visit,
        .finish = dl_finish,
    };
    struct dl_walk c = {fn, ud};
    return sq_walk(inst, &w, &c);
}

/* ---- bucket shards ---- */

static int bs_read(struct sq *q, sqlite3_stmt *st, void *rec)
{
    struct state_bs *bs = rec;
    struct row row = {st, 0};
    int phase = 0;
    memset(bs, 0, sizeof(*bs));
    bs->key = row_text(&row, 0);
    int r = row_phase(q, &row, 1, bs_phase_names, NPHASES(bs_phase_names), "bucket shard", &phase);
    bs->phase = (enum state_bs_phase) phase;
    bs->inc_marker = row_text(&row, 2);
    bs->full_key = row_text(&row, 3);
    bs->full_version = row_text(&row, 4);
    bs->full_count = (uint64_t) row_int(&row, 5);
    bs->updated = row_int(&row, 6);
    if (r == 0)
        r = row.err;
    if (r < 0)
        state_bs_finish(bs);
    return r;
}

static int sq_bs_get(void *inst, const char *key, struct state_bs *out)
{
    struct sq *q = inst;
    if (!key)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_BS_GET];
    struct bind b = {st, SQLITE_OK};
    struct state_bs bs;
    bind_text(&b, 1, key);
    int r = sq_get(q, st, b.rc, bs_read, &bs, "bs_get", key);
    if (r == 0)
        *out = bs;
    return r;
}

static int sq_bs_put(void *inst, const struct state_bs *bs)
{
    struct sq *q = inst;
    if (!bs->key)
        return -EINVAL;
    if ((unsigned) bs->phase >= NPHASES(bs_phase_names)) {
        err_set("state: bs_put: %s: bad phase %d", bs->key, (int) bs->phase);
        return -EINVAL;
    }
    sqlite3_stmt *st = q->stmt[S_BS_PUT];
    struct bind b = {st, SQLITE_OK};
    bind_text(&b, 1, bs->key);
    bind_text(&b, 2, bs_phase_names[bs->phase]);
    bind_text(&b, 3, bs->inc_marker);
    bind_text(&b, 4, bs->full_key);
    bind_text(&b, 5, bs->full_version);
    bind_int(&b, 6, (int64_t) bs->full_count); /* read back as uint64_t: round-trips */
    bind_int(&b, 7, (int64_t) time(NULL));
    return sq_run(q, st, b.rc, "bs_put", bs->key);
}

static int sq_bs_del(void *inst, const char *key)
{
    struct sq *q = inst;
    if (!key)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_BS_DEL];
    struct bind b = {st, SQLITE_OK};
    bind_text(&b, 1, key);
    return sq_run(q, st, b.rc, "bs_del", key);
}

struct bs_walk {
    state_bs_fn fn;
    void *ud;
    const char *prefix;
    size_t prefix_len;
};

static void bs_bind(struct bind *b, const void *last, void *ctx)
{
    const struct bs_walk *c = ctx;
    if (last)
        bind_after(b, 2, ((const struct state_bs *) last)->key);
    else
        bind_text(b, 2, c->prefix);
}

/* Keys come in byte order from the prefix on: the first one without the
 * prefix ends the walk. */
static bool bs_in_prefix(const void *rec, void *ctx)
{
    const struct bs_walk *c = ctx;
    return strncmp(((const struct state_bs *) rec)->key, c->prefix, c->prefix_len) == 0;
}

static int bs_visit(const void *rec, void *ctx)
{
    struct bs_walk *c = ctx;
    return c->fn(c->ud, rec);
}

static void bs_finish(void *rec)
{
    state_bs_finish(rec);
}

static int sq_bs_list(void *inst, const char *prefix, state_bs_fn fn, void *ud)
{
    static const struct walk w = {
        .stmt = S_BS_LIST,
        .size = sizeof(struct state_bs),
        .page = PAGE,
        .op = "bs_list",
        .bind = bs_bind,
        .read = bs_read,
        .in_range = bs_in_prefix,
        .visit = bs_visit,
        .finish = bs_finish,
    };
    if (!prefix)
        prefix = "";
    struct bs_walk c = {fn, ud, prefix, strlen(prefix)};
    return sq_walk(inst, &w, &c);
}

/* ---- retry list ---- */

static int retry_read(struct sq *q, sqlite3_stmt *st, void *rec)
{
    struct state_retry *r = rec;
    struct row row = {st, 0};
    memset(r, 0, sizeof(*r));
    r->key = row_text(&row, 0);
    r->timestamp = row_text(&row, 1);
    r->next_try = row_int(&row, 2);
    r->attempts = (int) row_int(&row, 3);
    r->last_error = row_text(&row, 4);
    if (row.err)
        state_retry_finish(r);
    return row.err;
}

static int sq_retry_put(void *inst, const struct state_retry *r)
{
    struct sq *q = inst;
    if (!r->key)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_RETRY_PUT];
    struct bind b = {st, SQLITE_OK};
    bind_text(&b, 1, r->key);
    bind_text(&b, 2, r->timestamp);
    bind_int(&b, 3, r->next_try);
    bind_int(&b, 4, r->attempts);
    bind_text(&b, 5, r->last_error);
    return sq_run(q, st, b.rc, "retry_put", r->key);
}

static int sq_retry_get(void *inst, const char *key, struct state_retry *out)
{
    struct sq *q = inst;
    if (!key)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_RETRY_GET];
    struct bind b = {st, SQLITE_OK};
    struct state_retry r;
    bind_text(&b, 1, key);
    int rc = sq_get(q, st, b.rc, retry_read, &r, "retry_get", key);
    if (rc == 0)
        *out = r;
    return rc;
}

static int sq_retry_del(void *inst, const char *key, const char *timestamp)
{
    struct sq *q = inst;
    if (!key)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_RETRY_DEL];
    struct bind b = {st, SQLITE_OK};
    bind_text(&b, 1, key);
    if (timestamp)
        bind_text(&b, 2, timestamp);
    else
        bind_null(&b, 2);
    return sq_run(q, st, b.rc, "retry_del", key);
}

struct retry_walk {
    state_retry_fn fn;
    void *ud;
    int64_t due;
};

static void retry_bind(struct bind *b, const void *last, void *ctx)
{
    const struct retry_walk *c = ctx;
    const struct state_retry *r = last;
    /* An upper bound even for "all", so the index bounds the scan. */
    bind_int(b, 2, c->due < 0 ? INT64_MAX : c->due);
    if (r) {
        bind_int(b, 3, r->next_try);
        bind_after(b, 4, r->key);
    } else {
        bind_int(b, 3, INT64_MIN);
        bind_text(b, 4, "");
    }
}

static int retry_visit(const void *rec, void *ctx)
{
    struct retry_walk *c = ctx;
    return c->fn(c->ud, rec);
}

static void retry_finish(void *rec)
{
    state_retry_finish(rec);
}

static int sq_retry_list(void *inst, int64_t due, state_retry_fn fn, void *ud)
{
    static const struct walk w = {
        .stmt = S_RETRY_LIST,
        .size = sizeof(struct state_retry),
        .page = PAGE,
        .op = "retry_list",
        .bind = retry_bind,
        .read = retry_read,
        .visit = retry_visit,
        .finish = retry_finish,
    };
    struct retry_walk c = {fn, ud, due};
    return sq_walk(inst, &w, &c);
}

static int count_read(struct sq *q, sqlite3_stmt *st, void *rec)
{
    *(uint64_t *) rec = (uint64_t) sqlite3_column_int64(st, 0);
    return 0;
}

static int sq_retry_count(void *inst, uint64_t *count)
{
    struct sq *q = inst;
    uint64_t n = 0;
    int r = sq_get(q, q->stmt[S_RETRY_COUNT], SQLITE_OK, count_read, &n, "retry_count", NULL);
    if (r == 0)
        *count = n;
    return r;
}

/* ---- upload records ---- */

static int upload_read(struct sq *q, sqlite3_stmt *st, void *rec)
{
    struct state_upload *u = rec;
    struct row row = {st, 0};
    memset(u, 0, sizeof(*u));
    u->id = row_text(&row, 0);
    u->src_bucket = row_text(&row, 1);
    u->src_key = row_text(&row, 2);
    u->src_version = row_text(&row, 3);
    u->src_etag = row_text(&row, 4);
    u->src_mtime = row_text(&row, 5);
    u->size = (uint64_t) row_int(&row, 6);
    u->target = row_text(&row, 7);
    u->dst_bucket = row_text(&row, 8);
    u->dst_key = row_text(&row, 9);
    u->upload_id = row_text(&row, 10);
    u->part_size = (uint64_t) row_int(&row, 11);
    u->parts_json = row_text(&row, 12);
    u->started = row_int(&row, 13);
    if (row.err)
        state_upload_finish(u);
    return row.err;
}

static int sq_upload_get(void *inst, const char *id, struct state_upload *out)
{
    struct sq *q = inst;
    if (!id)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_UPLOAD_GET];
    struct bind b = {st, SQLITE_OK};
    struct state_upload u;
    bind_text(&b, 1, id);
    int r = sq_get(q, st, b.rc, upload_read, &u, "upload_get", id);
    if (r == 0)
        *out = u;
    return r;
}

static int sq_upload_put(void *inst, const struct state_upload *u)
{
    struct sq *q = inst;
    if (!u->id)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_UPLOAD_PUT];
    struct bind b = {st, SQLITE_OK};
    bind_text(&b, 1, u->id);
    bind_text(&b, 2, u->src_bucket);
    bind_text(&b, 3, u->src_key);
    bind_text(&b, 4, u->src_version);
    bind_text(&b, 5, u->src_etag);
    bind_text(&b, 6, u->src_mtime);
    bind_int(&b, 7, (int64_t) u->size);
    bind_text(&b, 8, u->target);
    bind_text(&b, 9, u->dst_bucket);
    bind_text(&b, 10, u->dst_key);
    bind_text(&b, 11, u->upload_id);
    bind_int(&b, 12, (int64_t) u->part_size);
    bind_text(&b, 13, u->parts_json);
    bind_int(&b, 14, u->started);
    return sq_run(q, st, b.rc, "upload_put", u->id);
}

static int sq_upload_del(void *inst, const char *id)
{
    struct sq *q = inst;
    if (!id)
        return -EINVAL;
    sqlite3_stmt *st = q->stmt[S_UPLOAD_DEL];
    struct bind b = {st, SQLITE_OK};
    bind_text(&b, 1, id);
    return sq_run(q, st, b.rc, "upload_del", id);
}

struct upload_walk {
    state_upload_fn fn;
    void *ud;
};

static void upload_bind(struct bind *b, const void *last, void *ctx)
{
    if (last)
        bind_after(b, 2, ((const struct state_upload *) last)->id);
    else
        bind_text(b, 2, "");
}

static int upload_visit(const void *rec, void *ctx)
{
    struct upload_walk *c = ctx;
    return c->fn(c->ud, rec);
}

static void upload_finish(void *rec)
{
    state_upload_finish(rec);
}

static int sq_upload_list(void *inst, state_upload_fn fn, void *ud)
{
    static const struct walk w = {
        .stmt = S_UPLOAD_LIST,
        .size = sizeof(struct state_upload),
        .page = UPLOAD_PAGE,
        .op = "upload_list",
        .bind = upload_bind,
        .read = upload_read,
        .visit = upload_visit,
        .finish = upload_finish,
    };
    struct upload_walk c = {fn, ud};
    return sq_walk(inst, &w, &c);
}

/* ---- transactions ---- */

static int sq_txn_begin(void *inst)
{
    struct sq *q = inst;
    if (!sqlite3_get_autocommit(q->db)) {
        err_set("state: %s: txn_begin: a transaction is already open", q->path);
        return -EINVAL;
    }
    return sq_run(q, q->stmt[S_BEGIN], SQLITE_OK, "txn_begin", NULL);
}

static int sq_txn_commit(void *inst)
{
    struct sq *q = inst;
    if (sqlite3_get_autocommit(q->db)) {
        err_set("state: %s: txn_commit: no transaction is open", q->path);
        return -EINVAL;
    }
    int r = sq_run(q, q->stmt[S_COMMIT], SQLITE_OK, "txn_commit", NULL);
    /* A failed COMMIT may leave the transaction open: end it, so that
     * "failed" always means "nothing stored". */
    if (r < 0 && !sqlite3_get_autocommit(q->db))
        (void) sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

/* Leaves err_get() alone: the caller is usually about to report the
 * failure that made it abort. */
static void sq_txn_abort(void *inst)
{
    struct sq *q = inst;
    if (sqlite3_get_autocommit(q->db))
        return;
    (void) sqlite3_step(q->stmt[S_ROLLBACK]);
    sq_done(q->stmt[S_ROLLBACK]);
}

const struct state_ops state_sqlite_ops = {
    .abi = STATE_ABI_1,
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
    .dl_get = sq_dl_get,
    .dl_put = sq_dl_put,
    .dl_list = sq_dl_list,
    .bs_get = sq_bs_get,
    .bs_put = sq_bs_put,
    .bs_del = sq_bs_del,
    .bs_list = sq_bs_list,
    .retry_put = sq_retry_put,
    .retry_get = sq_retry_get,
    .retry_del = sq_retry_del,
    .retry_list = sq_retry_list,
    .retry_count = sq_retry_count,
    .upload_get = sq_upload_get,
    .upload_put = sq_upload_put,
    .upload_del = sq_upload_del,
    .upload_list = sq_upload_list,
    .txn_begin = sq_txn_begin,
    .txn_commit = sq_txn_commit,
    .txn_abort = sq_txn_abort,
};
