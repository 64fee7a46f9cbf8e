/* svc.c - see svc.h. */
#include "svc.h"
#include "st_pg.h"
#include "st_test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int launch(svc *s, const char *const *extra)
{
    char api_pf[600], data_pf[600], store[600], log[600], db[1200];
    snprintf(api_pf, sizeof api_pf, "%s/api.port", s->dir);
    snprintf(data_pf, sizeof data_pf, "%s/data.port", s->dir);
    snprintf(store, sizeof store, "store.path=%s/store", s->dir);
    snprintf(log, sizeof log, "%s/service.log", s->dir);
    snprintf(db, sizeof db, "db.url=%s", s->conninfo);
    unlink(api_pf);
    unlink(data_pf);
    char apis[640], datas[640];
    snprintf(apis, sizeof apis, "http.port_file=%s", api_pf);
    snprintf(datas, sizeof datas, "data.port_file=%s", data_pf);
    const char *argv[64] = {st_build_path("image-store/stratus-images"),
                            "--set",
                            db,
                            "--set",
                            "http.listen=127.0.0.1:0",
                            "--set",
                            apis,
                            "--set",
                            "data.listen=127.0.0.1:0",
                            "--set",
                            datas,
                            "--set",
                            store,
                            "--set",
                            "auth.internal_token=" SVC_TOKEN,
                            "--set",
                            "auth.url_key=" SVC_URL_KEY,
                            "--set",
                            "http.access_log=false",
                            "--set",
                            "http.threads=2"};
    int n = 21;
    for (int i = 0; extra && extra[i] && n < 60; i++) {
        argv[n++] = "--set";
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    if (st_proc_start(&s->proc, (char *const *)argv, NULL, log) < 0)
        return -1;
    if (st_wait_file(api_pf, 20000) < 0 || st_wait_file(data_pf, 20000) < 0) {
        st_proc_dump_log(&s->proc);
        return -1;
    }
    s->api_port = st_read_port(api_pf);
    s->data_port = st_read_port(data_pf);
    snprintf(s->api, sizeof s->api, "http://127.0.0.1:%d", s->api_port);
    snprintf(s->data, sizeof s->data, "http://127.0.0.1:%d", s->data_port);
    return s->api_port && s->data_port ? 0 : -1;
}

int svc_start(svc *s, const char *tag, const char *const *extra)
{
    memset(s, 0, sizeof *s);
    s->dir = st_tmpdir(tag);
    s->conninfo = st_pg_fresh_db(tag);
    return launch(s, extra);
}

int svc_restart(svc *s, const char *const *extra)
{
    return launch(s, extra);
}

/* A sanitizer report in the service's log fails the test that stopped it. */
static void check_log(svc *s)
{
    FILE *f = fopen(s->proc.log, "r");
    if (!f)
        return;
    char line[1024];
    int bad = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:"))
            bad = 1;
    fclose(f);
    if (bad) {
        st_proc_dump_log(&s->proc);
        CU_FAIL("the service's log has a sanitizer report");
    }
}

void svc_stop(svc *s)
{
    if (s->proc.pid > 0) {
        int st = st_proc_stop(&s->proc, 15, 10000);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            st_proc_dump_log(&s->proc);
            CU_FAIL("the service did not exit cleanly on SIGTERM");
        }
        check_log(s);
    }
    s->proc.pid = 0;
}

void svc_free(svc *s)
{
    svc_stop(s);
    if (s->conninfo)
        st_pg_drop_db(s->conninfo);
    free(s->conninfo);
    if (s->dir)
        st_rmtree(s->dir);
    free(s->dir);
}

static int headers_for(const who *w, const char **h, int n, char buf[4][128])
{
    int k = 0;
    if (!w)
        return n;
    if (w->tenant) {
        snprintf(buf[k], sizeof buf[k], "X-Stratus-Tenant: %s", w->tenant);
        h[n++] = buf[k++];
    }
    snprintf(buf[k], sizeof buf[k], "X-Stratus-User: 6b1d4c38-9a43-4d36-9d1e-5f3a2f7f0a01");
    h[n++] = buf[k++];
    if (w->role) {
        snprintf(buf[k], sizeof buf[k], "X-Stratus-Role: %s", w->role);
        h[n++] = buf[k++];
    }
    snprintf(buf[k], sizeof buf[k], "X-Stratus-Cloud-Admin: %s", w->admin ? "true" : "false");
    h[n++] = buf[k++];
    return n;
}

int svc_api(svc *s, st_resp *r, const char *method, const char *path, const who *w,
            const char *body)
{
    char url[512], buf[4][128];
    const char *h[8];
    int n = headers_for(w, h, 0, buf);
    if (body)
        h[n++] = "Content-Type: application/json";
    h[n] = NULL;
    snprintf(url, sizeof url, "%s%s", s->api, path);
    return st_http(r, method, url, SVC_TOKEN, body, h);
}

int svc_data(svc *s, st_resp *r, const char *method, const char *path, const who *w,
             const void *body, size_t len, const char *const *extra)
{
    char url[1024], buf[4][128];
    const char *h[16];
    int n = headers_for(w, h, 0, buf);
    for (int i = 0; extra && extra[i] && n < 14; i++)
        h[n++] = extra[i];
    h[n] = NULL;
    snprintf(url, sizeof url, "%s%s", strncmp(path, "http", 4) == 0 ? "" : s->data, path);
    return st_http_n(r, method, url, w ? SVC_TOKEN : NULL, body, len, h);
}

const char *svc_create(svc *s, const who *w, const char *name, const char *fmt)
{
    static char id[40];
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"disk_format\":\"%s\"}", name, fmt);
    st_resp r;
    svc_api(s, &r, "POST", "/v1/images", w, body);
    const char *v =
        r.status == 201 && r.json ? json_string_value(json_object_get(r.json, "id")) : NULL;
    if (v)
        snprintf(id, sizeof id, "%s", v);
    else
        fprintf(stderr, "create failed: %ld %s\n", r.status, r.body ? r.body : "");
    st_resp_free(&r);
    return v ? id : NULL;
}

const char *svc_status(svc *s, const char *id)
{
    static char st[32];
    char path[128];
    snprintf(path, sizeof path, "/v1/images/%s", id);
    who admin = {NULL, NULL, 1};
    st_resp r;
    svc_api(s, &r, "GET", path, &admin, NULL);
    const char *v = r.json ? json_string_value(json_object_get(r.json, "status")) : NULL;
    snprintf(st, sizeof st, "%s", v ? v : "?");
    st_resp_free(&r);
    return st;
}

static int count_files(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        n += depth ? count_files(p, depth - 1) : 1;
    }
    closedir(d);
    return n;
}

int svc_blob_count(svc *s)
{
    char p[600];
    snprintf(p, sizeof p, "%s/store/blobs", s->dir);
    return count_files(p, 1);
}

int svc_tmp_count(svc *s)
{
    char p[600];
    snprintf(p, sizeof p, "%s/store/tmp", s->dir);
    return count_files(p, 0);
}

int svc_raw_connect(svc *s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->data_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int svc_raw_reply(int fd, char *out, size_t outlen)
{
    size_t n = 0;
    while (n + 1 < outlen) {
        ssize_t k = recv(fd, out + n, outlen - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        out[n] = 0;
        char *end = strstr(out, "\r\n\r\n");
        char *cl = strcasestr(out, "Content-Length:");
        if (end && cl && cl < end && n >= (size_t)(end + 4 - out) + (size_t)atol(cl + 15))
            break;
    }
    out[n] = 0;
    int status = 0;
    sscanf(out, "HTTP/1.%*d %d", &status);
    return status;
}
