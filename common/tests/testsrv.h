/*
 * testsrv.h - common's HTTP server on a thread of its own, for the tests of
 * the server (test_http.c) and of the client (test_httpc.c).
 */
#ifndef STRATUS_TESTSRV_H
#define STRATUS_TESTSRV_H

#include "stratus/http.h"

#include <pthread.h>

typedef struct srv {
    st_http_server *s;
    pthread_t th;
    char base[64]; /* "http://127.0.0.1:PORT" (https with a certificate) */
} srv;

/* Starts a server with o (listen defaults to 127.0.0.1:0), routes added by
 * routes(), and waits for its port: 0, or -1 with the reason on stderr. */
int srv_start(srv *s, const st_http_opts *o, void (*routes)(st_http_server *));
void srv_stop(srv *s);
/* Writes a self-signed dir/cert.pem (CN localhost, 127.0.0.1) and dir/key.pem. */
int srv_self_signed(const char *dir);

#endif
