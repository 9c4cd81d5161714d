/* The high-water-mark marker tracker and the per-key in-flight set
 * (research/rgw-sync-protocol.md §2.4-2.5, RGW's RGWSyncShardMarkerTrack and
 * can_do_op()).
 *
 * marker: log entries are started in log order (the order they are read);
 * positions are opaque strings, never compared, only ordered by when they were
 * started. Work finishes in any order. The committable position is the
 * highest one such that it and everything started before it are finished:
 * that is the only position that may be stored, so that after a crash replay
 * starts at or below the first entry not yet applied. An entry that failed is
 * simply never finished and pins the mark below itself until the caller
 * decides otherwise (it MAY call marker_finish() once the entry is safe on a
 * retry list).
 *
 * Memory is O(window): entries still pending plus finished entries behind the
 * lowest pending one. Finished entries are dropped as soon as the committable
 * position passes them, whether or not it has been stored yet. Every call is
 * O(1) amortised (positions are found through a hash map).
 *
 * keylock: the set of keys (objects) with one op in flight; a second op on a
 * held key waits until the first one releases it.
 *
 * Neither object is thread-safe: one owner (the sync loop) calls them. */
#ifndef RGW2CLOUD_SYNC_MARKER_H
#define RGW2CLOUD_SYNC_MARKER_H

#include <stdbool.h>
#include <stddef.h>

struct marker;
struct keylock;

/* committed: the position already stored durably ("" or NULL = none). It is
 * what marker_committable() returns until something new finishes, and the
 * tracker starts clean (not dirty). -ENOMEM. */
int marker_new(struct marker **out, const char *committed);

/* Accepts NULL. Pending entries are forgotten (their work is not undone). */
void marker_free(struct marker *m);

/* Begin work on pos, the next entry in log order.
 * -EINVAL: pos NULL or "".
 * -EEXIST: pos is a duplicate: still pending, finished but not yet passed by
 *          the committable position, or equal to the committable position.
 *          The tracker is unchanged; the caller drops the entry.
 * -ENOMEM: the tracker is unchanged.
 * A position that the committable position has already passed is not
 * remembered; starting it again breaks log order and is not detected. */
int marker_start(struct marker *m, const char *pos);

/* The work on pos is done (applied, or safe on the retry list).
 * -ENOENT: pos is not pending (never started, skipped, or already finished);
 *          the tracker is unchanged. */
int marker_finish(struct marker *m, const char *pos);

/* An entry that needs no work (filtered out): counts as started and finished,
 * so it can advance the mark. Same errors as marker_start(). */
int marker_skip(struct marker *m, const char *pos);

/* Borrowed; valid until the next call that changes m. The highest position
 * such that it and everything started before it are finished; the committed
 * value given to marker_new() while nothing new qualifies. Never moves back. */
const char *marker_committable(const struct marker *m);

/* True when marker_committable() differs from what was last reported stored
 * (marker_stored(), or the value given to marker_new()). */
bool marker_dirty(const struct marker *m);

/* The caller stored pos durably (normally a value marker_committable()
 * returned; with an asynchronous writer it may be an older one, and the
 * tracker stays dirty). Can't fail. Memory needs no help from here: finished
 * entries are already dropped once the committable position passes them. */
void marker_stored(struct marker *m, const char *pos);

/* Entries started and not yet finished. */
size_t marker_pending(const struct marker *m);

/* Entries the tracker holds in memory: pending ones plus finished ones behind
 * the lowest pending one (for tests and metrics). */
size_t marker_held(const struct marker *m);

/* -ENOMEM. */
int keylock_new(struct keylock **out);

/* Accepts NULL. Keys still held are forgotten. */
void keylock_free(struct keylock *k);

/* Take key: true when it was free and is now held by the caller; false when
 * it is already held (wait for its release), or, rarely, when memory ran out
 * (err_get() says so; treat it like busy and try again later). key NULL is
 * never taken. */
bool keylock_try(struct keylock *k, const char *key);

/* Release a key taken with keylock_try(). Releasing a key not held does
 * nothing. */
void keylock_release(struct keylock *k, const char *key);

/* Keys currently held. */
size_t keylock_held(const struct keylock *k);

#endif
