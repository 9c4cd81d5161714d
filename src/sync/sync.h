/* The zone follower: init -> full sync -> incremental, like an RGW peer
 * zone's data sync (DESIGN.md §3, research/rgw-sync-protocol.md §2).
 *
 * One thread drives everything through one event loop: the controller
 * reads logs and listings with synchronous calls (the loop keeps the object
 * operations moving meanwhile) and starts object operations up to
 * sync.concurrency. Markers are stored only past work the target confirmed;
 * a failed bucket shard is put on the durable retry list before the datalog
 * marker that named it moves. */
#ifndef RGW2CLOUD_SYNC_H
#define RGW2CLOUD_SYNC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct state;

struct sync;

/* Connects to the source and the state; reads the period (our zone's id).
 * 0, or a negative errno with err_set() naming what failed. */
int sync_new(struct sync **out, const struct config *cfg);
void sync_free(struct sync *s); /* accepts NULL */

/* One pass: record positions of new datalog shards, full sync where due,
 * every datalog shard up to its end, due retries. 0 when the pass ran
 * (failures went to the retry list); a negative errno when the source
 * cannot be followed at all (unreachable, refused credentials). */
int sync_pass(struct sync *s);

/* Read the bucket-index log of every bucket shard we follow, whatever the
 * datalog says. RGW logs a bucket shard in the datalog at most once per
 * 30 s window, so a change made just after an earlier one may not be in the
 * datalog yet: `sync --once` uses this to leave nothing behind that the
 * source has logged. One bilog request per bucket shard. */
int sync_bilog_sweep(struct sync *s);

/* Retry every bucket shard on the retry list now, whatever its backoff. */
int sync_retry_all(struct sync *s);

/* Retry records left (failed bucket shards). */
uint64_t sync_failed_count(struct sync *s);
/* Print the retry list, one line each, to stderr. */
void sync_print_failures(struct sync *s);

/* One log line: msg and what this process did so far (objects copied,
 * skipped, removed, bytes sent, sends retried, errors). */
void sync_log_totals(struct sync *s, const char *msg);

/* The daemon: passes every poll_interval or at once on notify, until *stop;
 * the pass in progress finishes its batch (in-flight objects complete and
 * markers are stored) before it returns. *reload asks for a config reload
 * at the next pass boundary. Starts the listener when cfg->listen is set. */
int sync_run(struct sync *s, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
             const char *config_path);

/* Thread-safe: wake the loop for these datalog shards. */
void sync_notify(struct sync *s, const int *shards, size_t n);
/* Thread-safe: sync these bucket shards at once (out of band: the datalog
 * still brings every change; this only cuts the lag). */
void sync_notify_keys(struct sync *s, const char *const *keys, size_t n);

/* Status (the status verb): per datalog shard, bucket shards in trouble,
 * retry list; to stdout, as text or one JSON document. Reads the state
 * only, plus the source's shard positions when reachable (lag). */
int sync_status(const struct config *cfg, bool json);

#endif
