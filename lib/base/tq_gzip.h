/* tq_gzip — gzip encoding and decoding of whole buffers (libdeflate), used by the cache (tiles are
 * checked and stored gzip-compressed) and by HTTP content negotiation. */
#ifndef TQ_GZIP_H
#define TQ_GZIP_H

#include <stddef.h>
#include <stdint.h>

/* 1 when data starts with the gzip magic bytes. */
int tq_gzip_is(const void *data, size_t len);

/* gzip-encodes in[0..len) into a malloc'd buffer the caller frees, at level 6. Returns
 * 0, or -1 (OOM, compressor error). */
int tq_gzip_compress(const void *in, size_t len, unsigned char **out, size_t *outlen);

/* The same at level 0..9 (1: fastest that compresses; libdeflate's levels). The output is
 * deterministic for given bytes and level (no name, mtime 0), so two processes make the same
 * member. */
int tq_gzip_compress_level(const void *in, size_t len, int level, unsigned char **out,
                           size_t *outlen);

/* Decodes a gzip stream (one member) into a malloc'd buffer the caller frees, refusing
 * output larger than max_out; bytes after the member are ignored. The member's CRC-32 and
 * length are checked. Returns 0, or -1 (corrupt, too large, OOM). */
int tq_gzip_decompress(const void *in, size_t len, size_t max_out, unsigned char **out,
                       size_t *outlen);

/* The same for input that must be exactly one whole member (nothing after it): a cached
 * tile's check. *crc (when not NULL) gets the member's CRC-32 of the plain bytes. */
int tq_gzip_member(const void *in, size_t len, size_t max_out, unsigned char **out, size_t *outlen,
                   uint32_t *crc);

#endif
