/* uuid.c - version 4 UUIDs from the kernel's CSPRNG. */
#include "stratus/uuid.h"
#include "stratus/crypto.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void st_uuid_format(const uint8_t in[16], char out[ST_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    memcpy(b, in, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = 0;
}

void st_uuid_v4(char out[ST_UUID_LEN + 1])
{
    uint8_t b[16];
    st_random_bytes(b, sizeof b);
    st_uuid_format(b, out);
}

int st_uuid_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < ST_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[ST_UUID_LEN] == 0;
}
