/* crypto.h - randomness, hashes and constant-time comparison (OpenSSL). */
#ifndef STRATUS_CRYPTO_H
#define STRATUS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* Cryptographically secure random bytes; aborts if the kernel has none. */
void st_random_bytes(void *buf, size_t n);
/* n random bytes as 2n lowercase hex digits (out holds 2n+1). */
void st_random_hex(char *out, size_t n);
/* SHA-256 of buf as 64 hex digits (out holds 65). */
void st_sha256_hex(const void *buf, size_t n, char out[65]);
/* FNV-1a, 64 bits: a fast hash for tables and names, NOT for secrets. */
uint64_t st_fnv1a64(const void *buf, size_t n);
/* Constant-time equality of two equal-length buffers (1 equal, 0 not). */
int st_ct_equal(const void *a, const void *b, size_t n);
/* Constant-time equality of two strings (length leaks, contents do not). */
int st_ct_streq(const char *a, const char *b);

#endif
