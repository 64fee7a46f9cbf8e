/*
 * log.c - JSON-lines logging to stderr.
 *
 * A line is built in memory and written with one write(2): POSIX makes writes
 * of up to PIPE_BUF bytes to a pipe atomic, and for files opened O_APPEND the
 * kernel appends each write whole, so concurrent threads never interleave
 * lines. Lines longer than the buffer are truncated and say so.
 */
#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static char log_service[32] = "stratus";
static st_log_level log_min = ST_LOG_INFO;
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

int st_log_enabled(st_log_level level) { return level >= log_min; }

static void emit(json_t *line)
{
    char buf[8192];
    size_t n = json_dumpb(line, buf, sizeof buf - 1, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (n >= sizeof buf - 1) {
        static const char trunc[] = "{\"level\":\"error\",\"event\":\"log.truncated\"}";
        memcpy(buf, trunc, sizeof trunc - 1);
        n = sizeof trunc - 1;
    }
    buf[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, n);
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
