#include "hex.h"

#include <string.h>

void hex_encode(char *out, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int hex_decode(unsigned char *out, const char *hex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = digit(hex[2 * i]);
        int lo = hi < 0 ? -1 : digit(hex[2 * i + 1]);
        if (lo < 0) {
            memset(out, 0, n);
            return -1;
        }
        out[i] = (unsigned char) (hi << 4 | lo);
    }
    return 0;
}
