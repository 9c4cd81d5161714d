/* A growable NUL-terminated string for builders (canonical requests,
 * strings to sign, target paths). Appends after an allocation failure are
 * no-ops and set oom, so a builder checks once, at the end. */
#ifndef RGW2CLOUD_STRBUF_H
#define RGW2CLOUD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *p; /* NULL until something is added */
    size_t len, cap;
    bool oom;
};

void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_adds(struct strbuf *b, const char *s);
void strbuf_addc(struct strbuf *b, char c);

/* Hands the string to the caller: "" when nothing was added, NULL (buffer
 * released) if any append ran out of memory. b is empty afterwards. */
char *strbuf_steal(struct strbuf *b);

void strbuf_finish(struct strbuf *b); /* frees; accepts zeroed */

#endif
