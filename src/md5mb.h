/* MD5 of many independent streams at once: the Content-MD5 of the multipart parts in flight.
 *
 * One stream's MD5 is serial (each 64-byte block needs the state the previous block left), so
 * one core hashes one stream at ~700 MB/s however wide its vectors are. Parts are independent:
 * md5mb_update_many() hashes their whole blocks side by side in SIMD lanes (16 with AVX-512F,
 * 8 with AVX2, chosen at run time), and the plain RFC 1321 block function does the rest and
 * everything on CPUs without them.
 *
 * A context is plain storage the caller owns: nothing to free, no allocation anywhere. A
 * context belongs to one thread at a time; different contexts may be used by different threads
 * at once. */
#ifndef RGW2CLOUD_MD5MB_H
#define RGW2CLOUD_MD5MB_H

#include <stddef.h>
#include <stdint.h>

#define MD5MB_DIGEST_LEN 16

struct md5mb {
    uint32_t h[4];          /* state after the blocks hashed so far */
    uint64_t len;           /* bytes absorbed, hashed or in tail */
    unsigned char tail[64]; /* absorbed bytes not yet hashed: less than one block */
    unsigned ntail;         /* < 64 */
};

/* Starts c as the MD5 of nothing. Can't fail. */
void md5mb_init(struct md5mb *c);

/* Absorbs data[0..len) into one stream. data may be NULL when len is 0. */
void md5mb_update(struct md5mb *c, const void *data, size_t len);

/* Absorbs data[i][0..len[i]) into ctx[i] for every i < n, exactly as n calls of md5mb_update()
 * would, but with the whole blocks of up to 16 streams hashed together. Any lengths (0 too;
 * data[i] may then be NULL) and any n; the ctx[i] MUST be distinct. Stack only, no allocation. */
void md5mb_update_many(struct md5mb *const *ctx, const unsigned char *const *data,
                       const size_t *len, size_t n);

/* Writes the digest of everything absorbed to out. c MUST be md5mb_init()ed again before reuse. */
void md5mb_final(struct md5mb *c, unsigned char out[MD5MB_DIGEST_LEN]);

/* The implementation md5mb_update_many() uses now: "avx512", "avx2" or "scalar". Static
 * string. md5mb_update() is always scalar (one stream gains nothing from lanes). */
const char *md5mb_impl(void);

/* How many streams md5mb_update_many() hashes side by side with that implementation: 16, 8
 * or 1. A caller that hands it at least this many equally long streams keeps every lane busy. */
unsigned md5mb_lanes(void);

/* For tests and benchmarks: makes md5mb_update_many() use impl ("avx512", "avx2", "scalar"), or
 * the best this CPU supports for NULL or "auto". -EINVAL for an unknown name or one this CPU
 * (or OS) can't run; the choice is then unchanged. Affects the whole process: not to be called
 * while other threads hash. */
int md5mb_force(const char *impl);

#endif
