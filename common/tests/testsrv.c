/* testsrv.c - common's HTTP server on a thread, for tests (testsrv.h). */
#include "testsrv.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *run(void *arg)
{
    st_http_server_run(((srv *)arg)->s);
    return NULL;
}

int srv_start(srv *s, const st_http_opts *o, void (*routes)(st_http_server *))
{
    char err[512];
    st_http_opts opts = *o;
    if (!opts.listen)
        opts.listen = "127.0.0.1:0";
    s->s = st_http_server_new(&opts, err, sizeof err);
    if (!s->s) {
        fprintf(stderr, "server: %s\n", err);
        return -1;
    }
    routes(s->s);
    pthread_create(&s->th, NULL, run, s);
    for (int i = 0; i < 500 && !st_http_server_port(s->s); i++)
        usleep(2000);
    usleep(20000); /* workers started after the port is known */
    snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d", opts.tls_cert ? "https" : "http",
             st_http_server_port(s->s));
    return st_http_server_port(s->s) ? 0 : -1;
}

void srv_stop(srv *s)
{
    if (!s->s)
        return;
    st_http_server_stop(s->s);
    pthread_join(s->th, NULL);
    st_http_server_free(s->s);
    s->s = NULL;
}

int srv_self_signed(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
             "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
             dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}
