/*
 * st_proc.h - run the real service binaries from integration tests.
 *
 * st_proc_start() forks and execs a program with extra environment
 * variables, its stdout and stderr going to a log file the test can show
 * when something fails. Servers are started with `--listen 127.0.0.1:0
 * --port-file F`; st_wait_file() waits for F and st_read_port() reads the
 * port the kernel chose, so parallel tests never fight over ports.
 */
#ifndef ST_PROC_H
#define ST_PROC_H

#include <sys/types.h>

typedef struct st_proc {
    pid_t pid;
    char log[256];
} st_proc;

/* argv[0] is a path; env_extra is a NULL-terminated list of "K=V" or NULL. */
int st_proc_start(st_proc *p, char *const argv[], char *const env_extra[], const char *log);
/* Sends sig and waits up to timeout_ms; then SIGKILL. Returns the wait status. */
int st_proc_stop(st_proc *p, int sig, int timeout_ms);
/* 1 while the process has not exited. */
int st_proc_alive(st_proc *p);
/* Prints the last bytes of the process log to stderr (for failing tests). */
void st_proc_dump_log(const st_proc *p);
/* Waits until path exists and is non-empty; 0 on success, -1 on timeout. */
int st_wait_file(const char *path, int timeout_ms);
/* Reads a decimal port from a port file, 0 on failure. */
int st_read_port(const char *path);
/* $STRATUS_BUILD_DIR/rel (or rel when the variable is unset); static buffer. */
const char *st_build_path(const char *rel);
/* $STRATUS_SOURCE_DIR/rel; static buffer. */
const char *st_source_path(const char *rel);
/* mkdtemp under /tmp with the given tag; returns a malloc'd path. */
char *st_tmpdir(const char *tag);
/* rm -rf path (best effort). */
void st_rmtree(const char *path);
/* Milliseconds on the monotonic clock. */
long long st_now_ms(void);
/* Runs a printf-formatted shell command (up to 4 KiB); its exit status,
 * -1 when it did not exit normally. */
__attribute__((format(printf, 1, 2))) int st_sh(const char *fmt, ...);
/* A printf-formatted shell command's standard output (malloc'd; "" when it
 * cannot be run). */
__attribute__((format(printf, 1, 2))) char *st_out(const char *fmt, ...);
/* Runs a printf-formatted shell command (up to 8 KiB), its stdout and stderr into out (may be
 * NULL; at most outlen - 1 bytes kept). Returns the exit status, or -1 when it did not exit
 * normally. */
__attribute__((format(printf, 3, 4))) int st_run(char *out, size_t outlen, const char *fmt, ...);
/* A throwaway single-node Ceph (image-store/tests/ceph-cluster.sh: memstore, 127.0.0.1, about
 * 2 s, an RBD pool "images") in dir/c: 0 with its ceph.conf's path in conf; st_skip() when
 * Ceph is not installed; -1, with the script's output on stderr. st_ceph_stop kills it. */
int st_ceph_start(const char *dir, char *conf, size_t n);
void st_ceph_stop(const char *dir);
/* Runs cmd (its stderr dropped) every 200 ms until its output contains
 * (want = 1) or lacks (want = 0) needle: 0, or -1 after timeout_ms (said on
 * stderr). */
int st_wait_out(const char *cmd, const char *needle, int want, int timeout_ms);

#endif
