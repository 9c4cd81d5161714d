/* Per-thread error detail: the text that travels beside a negative errno.
 * Library code sets it where the failure happens; the caller that decides
 * reads it once and logs one line. */
#ifndef RGW2CLOUD_ERR_H
#define RGW2CLOUD_ERR_H

/* Replace this thread's detail. Never fails (truncates at 1 KiB). */
void err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Borrowed pointer to this thread's detail, "" when none. Valid until the
 * next err_set()/err_clear() on this thread. */
const char *err_get(void);

void err_clear(void);

#endif
