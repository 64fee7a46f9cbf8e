/*
 * guest_run.h - run the Stratus test guest (tests/guest) under a VMM and
 * judge the run: the host half of the guest's contract (README.md).
 *
 * A run is judged from two things the guest produces: its serial output
 * (one "STRATUS-GUEST start scenario=NAME" line, "DATA key=value" lines,
 * exactly one "RESULT NAME PASS|FAIL reason" line) and the value it wrote to
 * the debug-exit port 0xf4 (0x10 PASS, 0x11 FAIL), which QEMU turns into the
 * exit status (v << 1) | 1 = 33 / 35 and stratus-vmm returns as is (16 / 17).
 * A run PASSes only when the RESULT line and the exit value agree, or, for a
 * scenario that ends in an ACPI power-off (it prints "DATA poweroff=acpi"
 * before RESULT PASS), when the VMM then exits with status 0.
 *
 *     guest_argv a = {0};
 *     guest_argv_qemu(&a, "scenario=boot");          // or build a stratus-vmm argv
 *     guest_result r;
 *     guest_run(a.v, "/tmp/x/serial.log", 20000, &r);
 *     if (r.verdict != GUEST_PASS) guest_result_print(&r, stderr);
 *     guest_data_u64(&r, "mem.total", &total);
 *     guest_result_free(&r); guest_argv_free(&a);
 *
 * Only libc: link the static library stratus_guest_run (no CUnit needed).
 */
#ifndef GUEST_RUN_H
#define GUEST_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define GUEST_EXIT_PASS 0x10
#define GUEST_EXIT_FAIL 0x11

enum guest_verdict {
    GUEST_PASS = 0,   /* RESULT PASS and exit value 0x10 */
    GUEST_FAIL = 1,   /* RESULT FAIL and exit value 0x11: the guest says what failed */
    GUEST_BROKEN = 2, /* no start line, no or several RESULT lines, or they and the exit disagree */
    GUEST_TIMEOUT = 3, /* killed after the time limit */
};

typedef struct guest_result {
    enum guest_verdict verdict;
    int wait_status; /* raw waitpid() status, -1 when not reaped */
    int exit_code;   /* WEXITSTATUS, or -1 when killed by a signal */
    int exit_value;  /* 0x10 / 0x11 decoded from 33 / 35 or 16 / 17, else -1 */
    int timed_out;
    long long elapsed_ms; /* spawn to exit */
    int started;          /* saw the start line */
    char scenario[64];    /* from the start line */
    int result_count;     /* RESULT lines seen */
    int result_pass;      /* 1 PASS, 0 FAIL, -1 none */
    char reason[256];     /* what follows "FAIL " */
    char why[256];        /* the harness's explanation of a verdict other than PASS */
    char *output;         /* the whole serial output (malloc'd, NUL-terminated) */
} guest_result;

/* The guest ELF: $STRATUS_GUEST_ELF, else $STRATUS_BUILD_DIR/tests/guest/guest.elf,
 * else the one of the build tree the library was built in. */
const char *guest_elf_path(void);
/* 1 when /dev/kvm can be opened read-write. */
int guest_kvm_available(void);

/* 0x10 / 0x11 from a waitpid() status (33/35 under QEMU, 16/17 under stratus-vmm), else -1. */
int guest_exit_value(int wait_status);
/* Parses output (copied) into r and judges it with wait_status; returns r->verdict. */
int guest_judge(guest_result *r, const char *output, int wait_status, int timed_out);
const char *guest_verdict_name(int verdict);

/* DATA lines: the first (or idx-th) value for key; 0 when found, -1 when not. */
int guest_data(const guest_result *r, const char *key, char *buf, size_t n);
int guest_data_nth(const guest_result *r, const char *key, int idx, char *buf, size_t n);
int guest_data_u64(const guest_result *r, const char *key, unsigned long long *v);
int guest_data_count(const guest_result *r, const char *key);

/* A running VMM: stdout (the serial console) goes to out_path, stderr to
 * out_path.err, stdin is /dev/null; it leads its own process group. */
typedef struct guest_proc {
    pid_t pid;
    long long t0_ms;
    char out_path[512];
} guest_proc;
int guest_spawn(guest_proc *p, char *const argv[], const char *out_path);
/* Waits up to timeout_ms (then SIGKILLs the group), reads the output, judges. */
int guest_wait(guest_proc *p, int timeout_ms, guest_result *r);
/* guest_spawn + guest_wait; returns the verdict, or -1 when it could not start. */
int guest_run(char *const argv[], const char *out_path, int timeout_ms, guest_result *r);
/* Re-judges r from a serial log written elsewhere (a VMM logging to a file). */
int guest_judge_file(guest_result *r, const char *serial_path);
/* Prints the verdict, the exit status and the serial output (for failing tests). */
void guest_result_print(const guest_result *r, FILE *f);
void guest_result_free(guest_result *r);

/* An argv under construction; every string is owned (strdup'd). */
#define GUEST_ARGV_MAX 96
typedef struct guest_argv {
    int n;
    char *v[GUEST_ARGV_MAX + 1];
} guest_argv;
void guest_argv_add(guest_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* qemu-system-x86_64 -M pc with qboot and the flags this host needs, 128 MiB,
 * the debug-exit device, -kernel <guest ELF> -append <cmdline>. Add devices after. */
void guest_argv_qemu(guest_argv *a, const char *cmdline);
/* The same under QEMU's TCG (-accel tcg -cpu max) instead of KVM, for hosts
 * without /dev/kvm: slower, and the guest's TSC source is the PIT. */
void guest_argv_qemu_tcg(guest_argv *a, const char *cmdline);
void guest_argv_free(guest_argv *a);

/* The blk scenario's pattern and checksum (README.md), for checking a disk from the host. */
void guest_blk_pattern(uint64_t sector, uint32_t seed, uint8_t out[512]);
uint32_t guest_fnv1a32(uint32_t h, const void *p, size_t n);
#define GUEST_FNV1A32_INIT 0x811c9dc5u
/* Checks sectors [start, start+count) of a raw image hold the pattern; 0 when
 * they do (and *checksum is their FNV-1a), else -1 with a message in err. */
int guest_blk_check_raw(const char *path, uint64_t start, uint64_t count, uint32_t seed,
                        uint32_t *checksum, char *err, size_t errlen);

#endif
