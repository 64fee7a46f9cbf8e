/* uuid.c - version 4 UUIDs from the kernel's CSPRNG. */
#include "stratus/uuid.h"
#include "stratus/crypto.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>

void st_uuid_v4(char out[ST_UUID_LEN + 1])
{
    uint8_t b[16];
    st_random_bytes(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, ST_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
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
