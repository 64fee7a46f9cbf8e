/* uuid.h - random (version 4) UUIDs in canonical lowercase text form. */
#ifndef STRATUS_UUID_H
#define STRATUS_UUID_H

#include <stdint.h>

#define ST_UUID_LEN 36

void st_uuid_v4(char out[ST_UUID_LEN + 1]);
/* A version 4 UUID from 16 random bytes the caller drew. */
void st_uuid_format(const uint8_t random[16], char out[ST_UUID_LEN + 1]);
/* 1 when s is exactly 8-4-4-4-12 hex digits (either case). */
int st_uuid_valid(const char *s);

#endif
