/*
 * sshkey.c - validation and fingerprints of OpenSSH public keys.
 *
 * A keypair upload is "<type> <base64 blob> [comment]" on one line. The blob
 * is decoded and must itself begin with the same type as an SSH string
 * (uint32 big-endian length, bytes), which catches pasted private keys,
 * truncated lines and type mismatches. The fingerprint is what
 * `ssh-keygen -l` prints: "SHA256:" and the unpadded base64 of the blob's
 * SHA-256.
 */
#include "sshkey.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const key_types[] = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    NULL,
};

int gw_sshkey_check(const char *text, char *fingerprint, size_t fplen, char *err, size_t errlen)
{
    size_t len = strlen(text);
    if (len > GW_SSHKEY_MAX) {
        snprintf(err, errlen, "public_key is longer than %d bytes", GW_SSHKEY_MAX);
        return -1;
    }
    if (strpbrk(text, "\r\n")) {
        snprintf(err, errlen, "public_key must be a single line");
        return -1;
    }
    const char *sp = strchr(text, ' ');
    if (!sp) {
        snprintf(err, errlen, "public_key must be '<type> <base64> [comment]'");
        return -1;
    }
    size_t tl = (size_t)(sp - text);
    int known = 0;
    for (int i = 0; key_types[i]; i++)
        if (strlen(key_types[i]) == tl && memcmp(key_types[i], text, tl) == 0)
            known = 1;
    if (!known) {
        snprintf(err, errlen, "unsupported key type '%.*s'", (int)(tl > 40 ? 40 : tl), text);
        return -1;
    }
    const char *b64 = sp + 1;
    size_t bl = strcspn(b64, " ");
    if (bl == 0 || bl % 4 != 0) {
        snprintf(err, errlen, "public_key's key data is not valid base64");
        return -1;
    }
    unsigned char *blob = malloc(bl);
    int n = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)bl);
    if (n < 0) {
        free(blob);
        snprintf(err, errlen, "public_key's key data is not valid base64");
        return -1;
    }
    /* EVP_DecodeBlock counts padding bytes as data: take them off. */
    if (bl >= 1 && b64[bl - 1] == '=')
        n--;
    if (bl >= 2 && b64[bl - 2] == '=')
        n--;
    uint32_t inner =
        n >= 4
            ? ((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3])
            : 0;
    if (n < 4 + (int)tl + 4 || inner != tl || memcmp(blob + 4, text, tl) != 0) {
        free(blob);
        snprintf(err, errlen, "public_key's key data does not match its type");
        return -1;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(blob, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
    free(blob);
    unsigned char enc[48];
    int el = EVP_EncodeBlock(enc, md, 32);
    while (el > 0 && enc[el - 1] == '=')
        el--;
    snprintf(fingerprint, fplen, "SHA256:%.*s", el, (const char *)enc);
    return 0;
}
