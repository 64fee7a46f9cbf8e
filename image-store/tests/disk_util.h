/* disk_util.h - helpers for the disk library's tests: running qemu-img,
 * deterministic pseudo-random data, files. */
#ifndef IMAGES_DISK_UTIL_H
#define IMAGES_DISK_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "st_proc.h" /* st_run */

/* xorshift64* stream: fills buf deterministically from *state. */
void tu_fill(uint64_t *state, void *buf, size_t n);
uint64_t tu_rand(uint64_t *state);
/* Writes n pseudo-random bytes (seeded) to a new file. 0 or -1. */
int tu_write_random_file(const char *path, uint64_t size, uint64_t seed);
/* 1 when qemu-img check says clean (0) or leaks only (3, when leaks_ok). */
int tu_qemu_check(const char *path, int leaks_ok, char *out, size_t outlen);

#endif
