/*
 * st_rawhttp.h - hostile HTTP clients for tests: bytes on a raw socket, and
 * the checks every listener must pass.
 *
 *     st_raw r;
 *     st_raw_send("127.0.0.1", port, "BOGUS\r\n\r\n", 9, 2000, &r);
 *     ST_ASSERT_INT_EQ(r.status, 400);          // 0: closed without a reply
 *     CU_ASSERT_PTR_NOT_NULL(r.json);           // the body, when it is JSON
 *     st_raw_free(&r);
 *
 * st_hostile_listener() sends a listener malformed request lines, a huge
 * head, an unsupported method and a head that trickles in one line at a
 * time, and records what it saw (the expectations are listed in the
 * struct). ST_ASSERT_HOSTILE() runs it and asserts all of them:
 *
 *     ST_ASSERT_HOSTILE("127.0.0.1", port, "/healthz", 3);  // a 3 s deadline
 */
#ifndef ST_RAWHTTP_H
#define ST_RAWHTTP_H

#include <jansson.h>
#include <stddef.h>

typedef struct st_raw {
    int status;   /* the reply's status, 0 when the server closed without one */
    char *head;   /* the reply's head, NUL-terminated, or NULL */
    char *body;   /* the reply's body, NUL-terminated, or NULL */
    json_t *json; /* the body parsed, when it is JSON */
    int closed;   /* the server closed the connection within the wait */
    double secs;  /* from connecting to the close (or to giving up) */
} st_raw;

/* Connects (TCP, or a Unix socket when host starts with '/'; port unused
 * then), writes n bytes, and reads until the server closes or wait_ms pass. */
int st_raw_send(const char *host, int port, const void *data, size_t n, int wait_ms, st_raw *r);
/* Connects and returns the socket, or -1. */
int st_raw_connect(const char *host, int port);
/* Reads what the server sends on fd until it closes or wait_ms pass. */
void st_raw_read(int fd, int wait_ms, st_raw *r);
/* The "code" of a {"error":{"code",...}} body, or "". */
const char *st_raw_error_code(const st_raw *r);
void st_raw_free(st_raw *r);

/* What st_hostile_listener() saw. Every listener must give: a JSON error
 * (status 400..599 with an {"error":{"code"}} body) for each malformed
 * request; a trickled head cut within the listener's timeout (plus a
 * margin); and a healthy answer to a plain request at the end. */
typedef struct st_hostile {
    int bad_line_status, bad_line_json;       /* "NOT HTTP AT ALL\r\n\r\n" */
    int bad_version_status, bad_version_json; /* "GET / HTTP/7.3" */
    int huge_head_status, huge_head_json;     /* a 100 KB header */
    int method_status, method_json;           /* an unknown method */
    int slow_closed;                          /* the trickled head was cut */
    double slow_secs;                         /* after this long */
    int slow_status, slow_json;               /* and what it was told first (0: nothing) */
    int after_status;                         /* GET ok_path afterwards */
} st_hostile;

/* Runs the checks against host:port; ok_path is a path that answers 2xx
 * without credentials ("/healthz"); trickle_s bounds the slow-head check
 * (the listener's timeout plus a margin). */
void st_hostile_listener(const char *host, int port, const char *ok_path, int trickle_s,
                         st_hostile *out);

/* Runs st_hostile_listener() against a listener whose whole-request deadline
 * is deadline_s and asserts, at the caller's line, every expectation above:
 * 400 with a JSON error for the bad request line; 400..505 for the bad
 * version, 400/413/431 for the huge head and 400..501 for the method, each
 * with a JSON error; the trickled head answered 408 (JSON) and cut within
 * deadline_s + 3 s; and ok_path answering 200 afterwards. A failure names the
 * listener and what it answered. */
#define ST_ASSERT_HOSTILE(host, port, ok_path, deadline_s)                                         \
    st_assert_hostile((host), (port), (ok_path), (deadline_s), __FILE__, __LINE__)
void st_assert_hostile(const char *host, int port, const char *ok_path, int deadline_s,
                       const char *file, int line);

#endif
