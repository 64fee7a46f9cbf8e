/* The control-plane services as tests start them (see st_svc.h). */
#include "st_svc.h"
#include "st_httpc.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const svc_name[] = {"gateway", "images", "billing"};
static const char *const svc_bin[] = {"api-gateway/stratus-gateway", "image-store/stratus-images",
                                      "billing/stratus-billing"};

const char *st_svc_bin(st_svc_kind kind)
{
    return st_build_path(svc_bin[kind]);
}

/* GET /healthz until it answers 200: the port file is written once the
 * socket is bound, a moment before the server loop runs. */
static int wait_healthy(const char *url)
{
    char u[128];
    snprintf(u, sizeof u, "%s/healthz", url);
    for (int i = 0; i < 500; i++) {
        st_resp r;
        st_http(&r, "GET", u, NULL, NULL, NULL);
        long st = r.status;
        st_resp_free(&r);
        if (st == 200)
            return 0;
        usleep(10000);
    }
    return -1;
}

static int port_url(const char *port_file, char url[64])
{
    if (st_wait_file(port_file, 60000) < 0)
        return -1;
    snprintf(url, 64, "http://127.0.0.1:%d", st_read_port(port_file));
    return 0;
}

int st_svc_start(st_proc *p, st_svc_kind kind, const st_svc_opts *o, char url[64],
                 char data_url[64])
{
    const char *name = o->name ? o->name : svc_name[kind];
    char pf[600], dpf[620], log[600], db[1200], tok[160], lvl[64], store[620], dport[640];
    char img[160], idata[160], bill[160];
    snprintf(pf, sizeof pf, "%s/%s.port", o->dir, name);
    snprintf(dpf, sizeof dpf, "%s/%s-data.port", o->dir, name);
    snprintf(log, sizeof log, "%s/%s.log", o->dir, name);
    snprintf(db, sizeof db, "db.url=%s", o->conninfo);
    snprintf(tok, sizeof tok, "auth.internal_token=%s", o->internal_token);
    /* the gateway's own log kept at its default, the backends' quiet */
    snprintf(lvl, sizeof lvl, "log.level=%s",
             o->log_level             ? o->log_level
             : kind == ST_SVC_GATEWAY ? "info"
                                      : "warn");
    unlink(pf);
    unlink(dpf);
    const char *argv[96] = {st_svc_bin(kind),
                            "--listen",
                            o->listen ? o->listen : "127.0.0.1:0",
                            "--port-file",
                            pf,
                            "--set",
                            db,
                            "--set",
                            tok,
                            "--set",
                            lvl,
                            "--set",
                            "http.access_log=false"};
    int n = 13;
    int tls = 0;
    switch (kind) {
    case ST_SVC_GATEWAY:
        snprintf(img, sizeof img, "images.url=%s", o->images_url ? o->images_url : "");
        snprintf(idata, sizeof idata, "images.data_url=%s",
                 o->images_data_url ? o->images_data_url : "");
        snprintf(bill, sizeof bill, "billing.url=%s", o->billing_url ? o->billing_url : "");
        argv[n++] = "--set", argv[n++] = "auth.argon2_m_kib=1024";
        argv[n++] = "--set", argv[n++] = "db.pool_size=16";
        argv[n++] = "--set", argv[n++] = img;
        argv[n++] = "--set", argv[n++] = idata;
        argv[n++] = "--set", argv[n++] = bill;
        break;
    case ST_SVC_IMAGES:
        snprintf(store, sizeof store, "store.path=%s/%s-store", o->dir, name);
        snprintf(dport, sizeof dport, "data.port_file=%s", dpf);
        argv[n++] = "--set", argv[n++] = store;
        argv[n++] = "--set", argv[n++] = "data.listen=127.0.0.1:0";
        argv[n++] = "--set", argv[n++] = dport;
        argv[n++] = "--set", argv[n++] = "store.fsync=false";
        break;
    case ST_SVC_BILLING: break;
    }
    for (int i = 0; o->sets && o->sets[i] && n < 92; i++) {
        argv[n++] = "--set";
        argv[n++] = o->sets[i];
        tls |= !strncmp(o->sets[i], "tls.", 4);
    }
    argv[n] = NULL;
    if (st_proc_start(p, (char *const *)argv, NULL, log) < 0) {
        fprintf(stderr, "st_svc: cannot start %s\n", argv[0]);
        return -1;
    }
    if (port_url(pf, url) < 0 || (kind == ST_SVC_IMAGES && port_url(dpf, data_url) < 0) ||
        (!tls && wait_healthy(url) < 0)) { /* over TLS the caller speaks https itself */
        fprintf(stderr, "st_svc: %s did not start\n", argv[0]);
        st_proc_dump_log(p);
        return -1;
    }
    return 0;
}
