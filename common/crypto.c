/* crypto.c - randomness, SHA-256 and constant-time comparison on OpenSSL. */
#include "stratus/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void st_random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (RAND_bytes(p, (int)n) == 1)
                return;
            fprintf(stderr, "st_random_bytes: no randomness available\n");
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[b[i] >> 4];
        out[2 * i + 1] = hexdig[b[i] & 15];
    }
    out[2 * n] = 0;
}

void st_random_hex(char *out, size_t n)
{
    uint8_t buf[256];
    while (n > 0) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        st_random_bytes(buf, k);
        to_hex(buf, k, out);
        out += 2 * k;
        n -= k;
    }
}

uint64_t st_fnv1a64(const void *buf, size_t n)
{
    const unsigned char *p = buf;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

void st_sha256_hex(const void *buf, size_t n, char out[65])
{
    uint8_t md[32];
    unsigned int len = 0;
    EVP_Digest(buf, n, md, &len, EVP_sha256(), NULL);
    to_hex(md, 32, out);
}

int st_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

int st_ct_streq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}
