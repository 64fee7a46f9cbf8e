/*
 * log.h - structured logs: one JSON object a line on stderr or in a file.
 *
 *   {"ts":"2026-11-24T08:01:37.123456Z","level":"info","svc":"gateway",
 *    "event":"http.listen","msg":"listening on 127.0.0.1:8080"}
 *
 * Each line is written with a single write(2), so lines from several threads
 * never interleave. st_log_fields() adds arbitrary fields to a line.
 */
#ifndef STRATUS_LOG_H
#define STRATUS_LOG_H

#include <jansson.h>

typedef enum st_log_level { ST_LOG_DEBUG = 0, ST_LOG_INFO, ST_LOG_WARN, ST_LOG_ERROR } st_log_level;

/* Names the service in every line and sets the lowest level written. */
void st_log_init(const char *service, st_log_level min_level);
/* "debug" | "info" | "warn" | "error" -> level; -1 when unknown. */
int st_log_level_parse(const char *name);
int st_log_enabled(st_log_level level);
void st_log_set_level(st_log_level min_level);
/* Lines go to path (appended; created 0640) instead of stderr; NULL or ""
 * goes back to stderr. -1 with err filled when it cannot be opened (the
 * lines keep going where they went). */
int st_log_set_file(const char *path, char *err, size_t errlen);
/* Opens the log file again by its name (after logrotate moved it); 0 when
 * logging to stderr. */
int st_log_reopen(char *err, size_t errlen);

/* event is a short dotted name ("db.reconnect"); msg is printf-formatted. */
__attribute__((format(printf, 3, 4))) void st_log(st_log_level level, const char *event,
                                                  const char *fmt, ...);
/* Writes fields (an object, reference stolen) plus ts/level/svc/event. */
void st_log_fields(st_log_level level, const char *event, json_t *fields);

#define st_debug(ev, ...) st_log(ST_LOG_DEBUG, ev, __VA_ARGS__)
#define st_info(ev, ...) st_log(ST_LOG_INFO, ev, __VA_ARGS__)
#define st_warn(ev, ...) st_log(ST_LOG_WARN, ev, __VA_ARGS__)
#define st_error(ev, ...) st_log(ST_LOG_ERROR, ev, __VA_ARGS__)

#endif
