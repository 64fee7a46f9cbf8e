/*
 * data_int.h - what data.c (the listener) and conn.c (one connection) share.
 */
#ifndef IMAGES_DATA_INT_H
#define IMAGES_DATA_INT_H

#include "images.h"

#include <openssl/ssl.h>
#include <pthread.h>

#define MAX_CONNS_CAP 1024
#define STAGE 262144

struct img_data {
    img_svc *s;
    int lfd;
    int port;
    int wake[2];
    pthread_t th;
    int timeout_s;
    int max_conns;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int active;
    int fds[MAX_CONNS_CAP];
    volatile int stopping;
    SSL_CTX *ssl;
};

struct img_conn {
    img_data *d;
    int fd;
    SSL *ssl;
    char head[IMG_HEAD_MAX + 1]; /* the current request's head, parsed in place */
    size_t hused;
    uint8_t *stage; /* bytes read from the socket and not consumed yet */
    size_t stage_off, stage_len;
    img_head h;
    int64_t body_left; /* Content-Length bytes not yet read; -1 chunked */
    img_chunked ch;
    int body_done;
    int body_error;
    int close_after;
    int replied;
    int want_continue;
    int status;
    uint64_t sent;
    char reqid[65];
    char peer[64];
};

/* Serves one accepted connection until it closes (conn.c). */
void img_conn_run(img_data *d, int fd, SSL *ssl, const char *peer);

#endif
