/*
 * log.c - JSON-lines logging to stderr, or to a file (log.file) that
 * st_log_reopen() opens again after a rotation.
 *
 * A line is built in memory and written with one write(2): POSIX makes writes
 * of up to PIPE_BUF bytes to a pipe atomic, and for files opened O_APPEND the
 * kernel appends each write whole, so concurrent threads never interleave
 * lines. Lines longer than the buffer are truncated and say so. A reopen
 * dup2()s the new file onto the same descriptor, so a thread writing at
 * that moment writes whole to the old file or to the new one. Reals are
 * written with 6 significant digits ("ms":2.995, not 2.9949999999999997).
 */
#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static char log_service[32] = "stratus";
static volatile st_log_level log_min = ST_LOG_INFO;
static int log_fd = STDERR_FILENO;
static char *log_path; /* NULL: stderr */
static pthread_mutex_t log_file_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void st_log_init(const char *service, st_log_level min_level)
{
    snprintf(log_service, sizeof log_service, "%s", service);
    log_min = min_level;
}

int st_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return ST_LOG_WARN;
    return -1;
}

int st_log_enabled(st_log_level level)
{
    return level >= log_min;
}

void st_log_set_level(st_log_level min_level)
{
    log_min = min_level;
}

/* Opens path for appending onto log_fd (a descriptor of its own the first
 * time, the same one after). Caller holds log_file_mu. */
static int open_onto(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (log_fd == STDERR_FILENO) {
        log_fd = fd;
        return 0;
    }
    int rc = dup3(fd, log_fd, O_CLOEXEC) < 0 ? -1 : 0;
    if (rc < 0)
        snprintf(err, errlen, "%s: dup3: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int st_log_set_file(const char *path, char *err, size_t errlen)
{
    pthread_mutex_lock(&log_file_mu);
    int rc = 0;
    if (path && *path) {
        if ((rc = open_onto(path, err, errlen)) == 0) {
            free(log_path);
            log_path = strdup(path);
        }
    } else if (log_fd != STDERR_FILENO) {
        dup3(STDERR_FILENO, log_fd, O_CLOEXEC); /* lines go to stderr from now on */
        free(log_path);
        log_path = NULL;
    }
    pthread_mutex_unlock(&log_file_mu);
    return rc;
}

int st_log_reopen(char *err, size_t errlen)
{
    pthread_mutex_lock(&log_file_mu);
    int rc = log_path ? open_onto(log_path, err, errlen) : 0;
    pthread_mutex_unlock(&log_file_mu);
    return rc;
}

static void emit(json_t *line)
{
    char buf[8192];
    size_t n = json_dumpb(line, buf, sizeof buf - 1,
                          JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (n >= sizeof buf - 1) {
        static const char trunc[] = "{\"level\":\"error\",\"event\":\"log.truncated\"}";
        memcpy(buf, trunc, sizeof trunc - 1);
        n = sizeof trunc - 1;
    }
    buf[n++] = '\n';
    ssize_t w = write(log_fd, buf, n);
    (void)w;
}

static json_t *line_start(st_log_level level, const char *event)
{
    char ts[ST_TIME_LEN];
    st_time_format_us(st_now_us(), ts);
    return json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[level], "svc",
                     log_service, "event", event ? event : "log");
}

void st_log(st_log_level level, const char *event, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *line = line_start(level, event);
    /* json_stringn_nocheck would accept invalid UTF-8; be strict instead. */
    json_t *m = json_string(msg);
    json_object_set_new(line, "msg", m ? m : json_string("(message not valid UTF-8)"));
    emit(line);
    json_decref(line);
}

void st_log_fields(st_log_level level, const char *event, json_t *fields)
{
    if (level < log_min) {
        json_decref(fields);
        return;
    }
    json_t *line = line_start(level, event);
    if (json_is_object(fields))
        json_object_update(line, fields);
    json_decref(fields);
    emit(line);
    json_decref(line);
}
