/* Lower-case hex of bytes, and bytes of hex: digests (MD5 ETags, SHA-256
 * signatures) go between the two forms. */
#ifndef RGW2CLOUD_HEX_H
#define RGW2CLOUD_HEX_H

#include <stddef.h>

/* out[2n + 1]: the lower-case hex of in[0..n), NUL-terminated. */
void hex_encode(char *out, const unsigned char *in, size_t n);

/* out[0..n) from the first 2n characters of hex (either case). 0, or -1 when
 * one of them is no hex digit (out is then all zeros). */
int hex_decode(unsigned char *out, const char *hex, size_t n);

#endif
