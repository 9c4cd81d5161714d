/* One line per event, key=value, to stderr. The level is the only global
 * besides the config snapshot. Secrets are never passed here. */
#ifndef RGW2CLOUD_LOG_H
#define RGW2CLOUD_LOG_H

enum log_level { LL_ERROR = 0, LL_WARN, LL_INFO, LL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* "error" | "warn" | "info" | "debug" -> 0, or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() >= LL_DEBUG)                                                           \
            log_msg(LL_DEBUG, __VA_ARGS__);                                                        \
    } while (0)

#endif
