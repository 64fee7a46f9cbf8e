/*
 * commands.c - one function per `stratus NOUN VERB`, each a thin use of
 * libstratus, and the table that names them with their usage lines.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECT()                                                                                  \
    do {                                                                                           \
        int rc_ = cli_connect(c);                                                                  \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)
#define TRY(what, call)                                                                            \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ < 0)                                                                               \
            return cli_fail(what, rc_);                                                            \
    } while (0)

static char num_buf[8][32];
static int num_i;
/* A number as text for a table cell (a small ring of buffers). */
static const char *num(long long v)
{
    char *b = num_buf[num_i++ % 8];
    snprintf(b, 32, "%lld", v);
    return b;
}

/* ---- instances ---- */

static void instance_kv(cli *c, const stratus_instance *i)
{
    print_kv(c->json, i->json, "id", i->id, "name", i->name, "state", i->state_name, "task",
             i->task, "flavor_id", i->flavor_id, "image_id", i->image_id, "vcpus", num(i->vcpus),
             "memory_mib", num(i->memory_mib), "disk_gib", num(i->disk_gib), "node_id", i->node_id,
             "host_status", i->host_status, "fault", i->fault, "created_at", i->created_at,
             (char *)NULL);
}

static int instance_create(cli *c)
{
    stratus_instance_spec sp = {0};
    sp.flavor = cli_opt(c, "--flavor");
    sp.image = cli_opt(c, "--image");
    sp.keypair = cli_opt(c, "--keypair");
    sp.server_group_id = cli_opt(c, "--server-group");
    sp.idempotency_key = cli_opt(c, "--idempotency-key");
    const char *net = cli_opt(c, "--network");
    const char *udf = cli_opt(c, "--user-data-file");
    const char *wait = cli_opt(c, "--wait");
    sp.name = cli_arg(c);
    if (!sp.name || !sp.flavor || !sp.image || c->argc)
        return cli_usage("usage: stratus instance create NAME --flavor F --image I [--keypair K]"
                         " [--network none|NETWORK_ID] [--user-data-file FILE]"
                         " [--server-group ID] [--idempotency-key KEY] [--wait SECONDS]\n");
    char nets[128];
    if (net && !strcmp(net, "none"))
        sp.networks_json = "\"none\"";
    else if (net) {
        snprintf(nets, sizeof nets, "[{\"network_id\":\"%.40s\"}]", net);
        sp.networks_json = nets;
    }
    char *ud = NULL;
    if (udf) {
        FILE *f = fopen(udf, "rb");
        if (!f)
            return fprintf(stderr, "stratus: %s: cannot read\n", udf), EX_USAGE_;
        ud = calloc(1, 65537);
        size_t n = fread(ud, 1, 65536, f);
        fclose(f);
        ud[n] = 0;
        sp.user_data = ud;
    }
    CONNECT();
    stratus_instance *i;
    int rc = stratus_instance_create(c->s, &sp, &i);
    free(ud);
    if (rc < 0)
        return cli_fail("instance create", rc);
    if (wait) {
        char id[64];
        snprintf(id, sizeof id, "%s", i->id);
        stratus_instance_free(i);
        rc = stratus_instance_wait(c->s, id, STRATUS_ACTIVE, atol(wait) * 1000, &i);
        if (rc < 0) {
            int ex = cli_fail("instance create --wait", rc);
            stratus_instance_free(i);
            return ex;
        }
    }
    instance_kv(c, i);
    stratus_instance_free(i);
    return 0;
}

static int instance_list(cli *c)
{
    const char *state = cli_opt(c, "--state"), *limit = cli_opt(c, "--limit");
    if (c->argc)
        return cli_usage("usage: stratus instance list [--state STATE] [--limit PAGE]\n");
    CONNECT();
    char filter[64] = "";
    if (state)
        snprintf(filter, sizeof filter, "state=%.40s", state);
    stratus_list_opts o = {.limit = limit ? atoi(limit) : 0, .filter = state ? filter : NULL};
    stratus_iter *it;
    TRY("instance list", stratus_instance_list(c->s, &o, &it));
    static const char *const head[] = {"ID",    "NAME",       "STATE", "TASK",
                                       "VCPUS", "MEMORY_MIB", "HOST",  "CREATED"};
    table t;
    table_init(&t, 8, head);
    stratus_instance *i;
    int rc;
    while ((rc = stratus_instance_next(it, &i)) == 1) {
        table_add(&t, i->json, i->id, i->name, i->state_name, i->task, num(i->vcpus),
                  num(i->memory_mib), i->host_status, i->created_at);
        stratus_instance_free(i);
    }
    stratus_iter_free(it);
    if (rc < 0) {
        table_free(&t);
        return cli_fail("instance list", rc);
    }
    table_print(&t, c->json);
    table_free(&t);
    return 0;
}

static int instance_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus instance show ID\n");
    CONNECT();
    stratus_instance *i;
    TRY("instance show", stratus_instance_show(c->s, id, &i));
    instance_kv(c, i);
    stratus_instance_free(i);
    return 0;
}

static int instance_simple(cli *c, const char *verb, int (*fn)(stratus_session *, const char *))
{
    const char *id = cli_arg(c);
    if (!id || c->argc) {
        fprintf(stderr, "usage: stratus instance %s ID\n", verb);
        return EX_USAGE_;
    }
    CONNECT();
    char what[64];
    snprintf(what, sizeof what, "instance %s", verb);
    TRY(what, fn(c->s, id));
    return 0;
}
static int instance_delete(cli *c)
{
    return instance_simple(c, "delete", stratus_instance_delete);
}
static int instance_start(cli *c)
{
    return instance_simple(c, "start", stratus_instance_start);
}
static int instance_stop(cli *c)
{
    return instance_simple(c, "stop", stratus_instance_stop);
}
static int instance_reboot(cli *c)
{
    return instance_simple(c, "reboot", stratus_instance_reboot);
}

static int instance_console(cli *c)
{
    const char *tail = cli_opt(c, "--tail"), *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus instance console ID [--tail BYTES]\n");
    CONNECT();
    char *out;
    TRY("instance console", stratus_instance_console(c->s, id, tail ? atol(tail) : 0, &out));
    fputs(out, stdout);
    if (*out && out[strlen(out) - 1] != '\n')
        fputc('\n', stdout);
    free(out);
    return 0;
}

static int instance_wait(cli *c)
{
    const char *state = cli_opt(c, "--state"), *timeout = cli_opt(c, "--timeout");
    const char *id = cli_arg(c);
    stratus_state want = stratus_state_parse(state ? state : "active");
    if (!id || c->argc || want == STRATUS_UNKNOWN)
        return cli_usage("usage: stratus instance wait ID [--state active|stopped|deleted|...]"
                         " [--timeout SECONDS (300)]\n");
    CONNECT();
    stratus_instance *i = NULL;
    int rc = stratus_instance_wait(c->s, id, want, (timeout ? atol(timeout) : 300) * 1000, &i);
    if (rc < 0) {
        int ex = cli_fail("instance wait", rc);
        stratus_instance_free(i);
        return ex;
    }
    instance_kv(c, i);
    stratus_instance_free(i);
    return 0;
}

/* ---- images ---- */

static void image_kv(cli *c, const stratus_image *i)
{
    print_kv(c->json, i->json, "id", i->id, "name", i->name, "status", i->status, "disk_format",
             i->disk_format, "visibility", i->visibility, "size_bytes", num(i->size_bytes),
             "checksum", i->checksum, "created_at", i->created_at, (char *)NULL);
}

static int image_upload(cli *c)
{
    stratus_image_spec sp = {0};
    sp.name = cli_opt(c, "--name");
    sp.disk_format = cli_opt(c, "--format");
    sp.visibility = cli_opt(c, "--visibility");
    const char *id = cli_opt(c, "--id");
    int quiet = cli_flag(c, "--no-progress"), bar = cli_flag(c, "--progress");
    const char *file = cli_arg(c);
    if (!file || c->argc || (!id && !sp.name))
        return cli_usage("usage: stratus image upload FILE --name NAME [--format raw|qcow2]"
                         " [--visibility private|public] [--progress|--no-progress]\n"
                         "       stratus image upload FILE --id IMAGE_ID  (an image made"
                         " already, still queued)\n");
    if (!sp.disk_format) {
        size_t l = strlen(file);
        sp.disk_format = l > 6 && !strcmp(file + l - 6, ".qcow2") ? "qcow2" : "raw";
    }
    CONNECT();
    stratus_image *img = NULL;
    if (!id) {
        TRY("image create", stratus_image_create(c->s, &sp, &img));
        id = img->id;
    }
    int show = (c->progress || bar) && !quiet;
    int rc = stratus_image_upload(c->s, id, file, show ? progress_bar : NULL, NULL);
    if (rc < 0) {
        int ex = cli_fail("image upload", rc);
        stratus_image_free(img);
        return ex;
    }
    stratus_image *shown;
    rc = stratus_image_show(c->s, id, &shown);
    stratus_image_free(img);
    if (rc < 0)
        return cli_fail("image show", rc);
    image_kv(c, shown);
    stratus_image_free(shown);
    return 0;
}

static int image_download(cli *c)
{
    int quiet = cli_flag(c, "--no-progress"), bar = cli_flag(c, "--progress");
    const char *id = cli_arg(c), *file = cli_arg(c);
    if (!id || !file || c->argc)
        return cli_usage("usage: stratus image download ID FILE [--progress|--no-progress]\n");
    CONNECT();
    int show = (c->progress || bar) && !quiet;
    TRY("image download", stratus_image_download(c->s, id, file, show ? progress_bar : NULL, NULL));
    return 0;
}

static int image_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus image list\n");
    CONNECT();
    stratus_iter *it;
    TRY("image list", stratus_image_list(c->s, NULL, &it));
    static const char *const head[] = {"ID", "NAME", "STATUS", "FORMAT", "VISIBILITY", "SIZE"};
    table t;
    table_init(&t, 6, head);
    stratus_image *i;
    int rc;
    while ((rc = stratus_image_next(it, &i)) == 1) {
        table_add(&t, i->json, i->id, i->name, i->status, i->disk_format, i->visibility,
                  num(i->size_bytes));
        stratus_image_free(i);
    }
    stratus_iter_free(it);
    if (rc < 0) {
        table_free(&t);
        return cli_fail("image list", rc);
    }
    table_print(&t, c->json);
    table_free(&t);
    return 0;
}

static int image_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus image show ID\n");
    CONNECT();
    stratus_image *i;
    TRY("image show", stratus_image_show(c->s, id, &i));
    image_kv(c, i);
    stratus_image_free(i);
    return 0;
}

static int image_delete(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus image delete ID\n");
    CONNECT();
    TRY("image delete", stratus_image_delete(c->s, id));
    return 0;
}

/* ---- flavors, keypairs, server groups, quota ---- */

static int flavor_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus flavor list\n");
    CONNECT();
    stratus_iter *it;
    TRY("flavor list", stratus_flavor_list(c->s, &it));
    static const char *const head[] = {"ID", "NAME", "VCPUS", "MEMORY_MIB", "DISK_GIB"};
    table t;
    table_init(&t, 5, head);
    stratus_flavor *f;
    while (stratus_flavor_next(it, &f) == 1) {
        table_add(&t, f->json, f->id, f->name, num(f->vcpus), num(f->memory_mib), num(f->disk_gib));
        stratus_flavor_free(f);
    }
    stratus_iter_free(it);
    table_print(&t, c->json);
    table_free(&t);
    return 0;
}

static int keypair_create(cli *c)
{
    const char *file = cli_opt(c, "--public-key-file"), *name = cli_arg(c);
    if (!name || !file || c->argc)
        return cli_usage("usage: stratus keypair create NAME --public-key-file FILE\n");
    FILE *f = fopen(file, "r");
    char key[16384] = "";
    if (!f || !fgets(key, sizeof key, f)) {
        if (f)
            fclose(f);
        return fprintf(stderr, "stratus: %s: cannot read\n", file), EX_USAGE_;
    }
    fclose(f);
    key[strcspn(key, "\r\n")] = 0;
    CONNECT();
    stratus_keypair *k;
    TRY("keypair create", stratus_keypair_create(c->s, name, key, &k));
    print_kv(c->json, k->json, "id", k->id, "name", k->name, "fingerprint", k->fingerprint,
             (char *)NULL);
    stratus_keypair_free(k);
    return 0;
}

static int keypair_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus keypair list\n");
    CONNECT();
    stratus_iter *it;
    TRY("keypair list", stratus_keypair_list(c->s, &it));
    static const char *const head[] = {"ID", "NAME", "FINGERPRINT"};
    table t;
    table_init(&t, 3, head);
    stratus_keypair *k;
    while (stratus_keypair_next(it, &k) == 1) {
        table_add(&t, k->json, k->id, k->name, k->fingerprint);
        stratus_keypair_free(k);
    }
    stratus_iter_free(it);
    table_print(&t, c->json);
    table_free(&t);
    return 0;
}

static int keypair_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus keypair show ID\n");
    CONNECT();
    stratus_keypair *k;
    TRY("keypair show", stratus_keypair_show(c->s, id, &k));
    print_kv(c->json, k->json, "id", k->id, "name", k->name, "fingerprint", k->fingerprint,
             "public_key", k->public_key, (char *)NULL);
    stratus_keypair_free(k);
    return 0;
}

static int keypair_delete(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus keypair delete ID\n");
    CONNECT();
    TRY("keypair delete", stratus_keypair_delete(c->s, id));
    return 0;
}

static int group_create(cli *c)
{
    const char *policy = cli_opt(c, "--policy"), *name = cli_arg(c);
    if (!name || !policy || c->argc)
        return cli_usage(
            "usage: stratus server-group create NAME --policy affinity|anti-affinity\n");
    CONNECT();
    stratus_server_group *g;
    TRY("server-group create", stratus_server_group_create(c->s, name, policy, &g));
    print_kv(c->json, g->json, "id", g->id, "name", g->name, "policy", g->policy, (char *)NULL);
    stratus_server_group_free(g);
    return 0;
}

static int group_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus server-group list\n");
    CONNECT();
    stratus_iter *it;
    TRY("server-group list", stratus_server_group_list(c->s, &it));
    static const char *const head[] = {"ID", "NAME", "POLICY", "MEMBERS"};
    table t;
    table_init(&t, 4, head);
    stratus_server_group *g;
    while (stratus_server_group_next(it, &g) == 1) {
        table_add(&t, g->json, g->id, g->name, g->policy, num((long long)g->n_members));
        stratus_server_group_free(g);
    }
    stratus_iter_free(it);
    table_print(&t, c->json);
    table_free(&t);
    return 0;
}

static int group_delete(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus server-group delete ID\n");
    CONNECT();
    TRY("server-group delete", stratus_server_group_delete(c->s, id));
    return 0;
}

static int quota_show(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus quota show\n");
    CONNECT();
    stratus_quota *q;
    TRY("quota show", stratus_quota_show(c->s, &q));
    static const char *const head[] = {"RESOURCE", "USED", "LIMIT"};
    table t;
    table_init(&t, 3, head);
    table_add(&t, NULL, "instances", num(q->usage.instances), num(q->limits.instances));
    table_add(&t, NULL, "vcpus", num(q->usage.vcpus), num(q->limits.vcpus));
    table_add(&t, NULL, "memory_mib", num(q->usage.memory_mib), num(q->limits.memory_mib));
    table_add(&t, NULL, "disk_gib", num(q->usage.disk_gib), num(q->limits.disk_gib));
    if (c->json)
        printf("%s\n", q->json);
    else
        table_print(&t, 0);
    table_free(&t);
    stratus_quota_free(q);
    return 0;
}

/* ---- billing ---- */

static int usage_show(cli *c)
{
    const char *from = cli_opt(c, "--from"), *to = cli_opt(c, "--to");
    const char *gran = cli_opt(c, "--granularity"), *inst = cli_opt(c, "--instance");
    if (c->argc)
        return cli_usage("usage: stratus usage [--from RFC3339] [--to RFC3339]"
                         " [--granularity hour|day|month] [--instance ID]\n"
                         "Prints the usage document as JSON (see billing/README.md).\n");
    CONNECT();
    char *json;
    TRY("usage", stratus_usage_show(c->s, from, to, gran, inst, &json));
    printf("%s\n", json);
    free(json);
    return 0;
}

static void invoice_kv(cli *c, const stratus_invoice *i)
{
    print_kv(c->json, i->json, "id", i->id, "number", i->number_text, "status", i->status, "period",
             i->period, "currency", i->currency, "total", i->total, "issued_at", i->issued_at,
             (char *)NULL);
}

static int invoice_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus invoice list\n");
    CONNECT();
    stratus_iter *it;
    TRY("invoice list", stratus_invoice_list(c->s, &it));
    static const char *const head[] = {"ID", "NUMBER", "STATUS", "PERIOD", "TOTAL", "CURRENCY"};
    table t;
    table_init(&t, 6, head);
    stratus_invoice *i;
    while (stratus_invoice_next(it, &i) == 1) {
        table_add(&t, i->json, i->id, i->number_text, i->status, i->period, i->total, i->currency);
        stratus_invoice_free(i);
    }
    stratus_iter_free(it);
    table_print(&t, c->json);
    table_free(&t);
    return 0;
}

static int invoice_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus invoice show ID\n");
    CONNECT();
    stratus_invoice *i;
    TRY("invoice show", stratus_invoice_show(c->s, id, &i));
    invoice_kv(c, i);
    stratus_invoice_free(i);
    return 0;
}

static int invoice_download(cli *c)
{
    const char *fmt = cli_opt(c, "--format"), *file = cli_opt(c, "--file");
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus invoice download ID [--format pdf|csv|html|json]"
                         " [--file PATH]  (default: invoice-ID.FORMAT)\n");
    if (!fmt)
        fmt = "pdf";
    char path[512];
    snprintf(path, sizeof path, "%s", file ? file : "");
    if (!file)
        snprintf(path, sizeof path, "invoice-%.64s.%.8s", id, fmt);
    CONNECT();
    TRY("invoice download", stratus_invoice_download(c->s, id, fmt, path));
    fprintf(stderr, "wrote %s\n", path);
    return 0;
}

/* ---- admin ---- */

static int host_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus host list  (cloud admins)\n");
    CONNECT();
    stratus_iter *it;
    TRY("host list", stratus_node_list(c->s, &it));
    static const char *const head[] = {"ID",         "NAME",  "STATE",   "VCPUS",
                                       "MEMORY_MIB", "EMPTY", "DISABLED"};
    table t;
    table_init(&t, 7, head);
    stratus_node *n;
    while (stratus_node_next(it, &n) == 1) {
        char vc[64], mem[64];
        snprintf(vc, sizeof vc, "%lld/%lld", n->used_vcpus, n->cap_vcpus);
        snprintf(mem, sizeof mem, "%lld/%lld", n->used_memory_mib, n->cap_memory_mib);
        table_add(&t, n->json, n->id, n->name, n->state, vc, mem, n->empty ? "yes" : "no",
                  n->disabled ? "yes" : "no");
        stratus_node_free(n);
    }
    stratus_iter_free(it);
    table_print(&t, c->json);
    table_free(&t);
    return 0;
}

static int tenant_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus tenant list\n");
    CONNECT();
    stratus_iter *it;
    TRY("tenant list", stratus_tenant_list(c->s, &it));
    static const char *const head[] = {"ID", "NAME", "DESCRIPTION"};
    table t;
    table_init(&t, 3, head);
    stratus_tenant *tn;
    while (stratus_tenant_next(it, &tn) == 1) {
        table_add(&t, tn->json, tn->id, tn->name, tn->description);
        stratus_tenant_free(tn);
    }
    stratus_iter_free(it);
    table_print(&t, c->json);
    table_free(&t);
    return 0;
}

static int tenant_create(cli *c)
{
    const char *desc = cli_opt(c, "--description"), *name = cli_arg(c);
    if (!name || c->argc)
        return cli_usage(
            "usage: stratus tenant create NAME [--description TEXT]  (cloud admins)\n");
    CONNECT();
    stratus_tenant *t;
    TRY("tenant create", stratus_tenant_create(c->s, name, desc, &t));
    print_kv(c->json, t->json, "id", t->id, "name", t->name, (char *)NULL);
    stratus_tenant_free(t);
    return 0;
}

static int tenant_delete(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus tenant delete ID  (cloud admins)\n");
    CONNECT();
    TRY("tenant delete", stratus_tenant_delete(c->s, id));
    return 0;
}

static int tenant_quota(cli *c)
{
    const char *set = cli_opt(c, "--set"), *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus tenant quota TENANT_ID [--set '{\"instances\":20,...}']"
                         "  (cloud admins)\n");
    CONNECT();
    stratus_quota *q;
    if (set)
        TRY("tenant quota", stratus_tenant_quota_update(c->s, id, set, &q));
    else
        TRY("tenant quota", stratus_tenant_quota_show(c->s, id, &q));
    static const char *const head[] = {"RESOURCE", "USED", "LIMIT"};
    table t;
    table_init(&t, 3, head);
    table_add(&t, NULL, "instances", num(q->usage.instances), num(q->limits.instances));
    table_add(&t, NULL, "vcpus", num(q->usage.vcpus), num(q->limits.vcpus));
    table_add(&t, NULL, "memory_mib", num(q->usage.memory_mib), num(q->limits.memory_mib));
    table_add(&t, NULL, "disk_gib", num(q->usage.disk_gib), num(q->limits.disk_gib));
    if (c->json)
        printf("%s\n", q->json);
    else
        table_print(&t, 0);
    table_free(&t);
    stratus_quota_free(q);
    return 0;
}

/* ---- networks ---- */

static int network_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus network list\n");
    CONNECT();
    stratus_iter *it;
    TRY("network list", stratus_network_list(c->s, NULL, &it));
    static const char *const head[] = {"ID", "NAME", "STATUS", "MTU", "SHARED", "EXTERNAL"};
    table t;
    table_init(&t, 6, head);
    stratus_network *n;
    int rc;
    while ((rc = stratus_network_next(it, &n)) == 1) {
        table_add(&t, n->json, n->id, n->name, n->status, num(n->mtu), n->shared ? "yes" : "no",
                  n->external ? "yes" : "no");
        stratus_network_free(n);
    }
    stratus_iter_free(it);
    if (rc < 0) {
        table_free(&t);
        return cli_fail("network list", rc);
    }
    table_print(&t, c->json);
    table_free(&t);
    return 0;
}

static void network_kv(cli *c, const stratus_network *n)
{
    print_kv(c->json, n->json, "id", n->id, "name", n->name, "status", n->status, "mtu",
             num(n->mtu), "segmentation_id", num(n->segmentation_id), "shared",
             n->shared ? "yes" : "no", "external", n->external ? "yes" : "no", (char *)NULL);
}

static int network_create(cli *c)
{
    const char *cidr = cli_opt(c, "--subnet"), *name = cli_arg(c);
    if (!name || c->argc)
        return cli_usage("usage: stratus network create NAME [--subnet CIDR]\n");
    CONNECT();
    stratus_network *n;
    TRY("network create", stratus_network_create(c->s, name, NULL, &n));
    if (cidr) {
        stratus_subnet *sub;
        int rc = stratus_subnet_create(c->s, n->id, cidr, NULL, &sub);
        if (rc < 0) {
            stratus_network_free(n);
            return cli_fail("subnet create", rc);
        }
        stratus_subnet_free(sub);
        char id[64];
        snprintf(id, sizeof id, "%s", n->id);
        stratus_network_free(n);
        TRY("network show", stratus_network_show(c->s, id, &n));
    }
    network_kv(c, n);
    stratus_network_free(n);
    return 0;
}

static int network_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus network show ID\n");
    CONNECT();
    stratus_network *n;
    TRY("network show", stratus_network_show(c->s, id, &n));
    network_kv(c, n);
    stratus_network_free(n);
    return 0;
}

static int network_delete(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus network delete ID\n");
    CONNECT();
    TRY("network delete", stratus_network_delete(c->s, id));
    return 0;
}

/* ---- price plans (documents as JSON) ---- */

static int plan_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus plan list  (cloud admins; JSON, see billing/README.md)\n");
    CONNECT();
    char *json;
    TRY("plan list", stratus_plan_list(c->s, &json));
    printf("%s\n", json);
    free(json);
    return 0;
}

static int plan_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus plan show ID  (cloud admins; JSON)\n");
    CONNECT();
    char *json;
    TRY("plan show", stratus_plan_show(c->s, id, &json));
    printf("%s\n", json);
    free(json);
    return 0;
}

static int whoami(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus whoami\n");
    CONNECT();
    stratus_whoami *w;
    TRY("whoami", stratus_session_whoami(c->s, &w));
    print_kv(c->json, w->json, "user", w->user_name, "user_id", w->user_id, "tenant_id",
             w->tenant_id, "role", w->role, "cloud_admin", w->cloud_admin ? "yes" : "no",
             "token_kind", w->token_kind, (char *)NULL);
    stratus_whoami_free(w);
    return 0;
}

/* ---- the table ---- */

typedef struct command {
    const char *noun, *verb;
    int (*fn)(cli *);
    const char *summary;
} command;

static const command commands[] = {
    {"whoami", NULL, whoami, "the signed-in user, tenant and role"},
    {"instance", "create", instance_create,
     "create an instance (--wait SECONDS to wait for active)"},
    {"instance", "list", instance_list, "list instances (every page)"},
    {"instance", "show", instance_show, "show an instance"},
    {"instance", "delete", instance_delete, "delete an instance"},
    {"instance", "start", instance_start, "start a stopped instance"},
    {"instance", "stop", instance_stop, "stop an active instance"},
    {"instance", "reboot", instance_reboot, "reboot an active instance"},
    {"instance", "console", instance_console, "print the instance's console"},
    {"instance", "wait", instance_wait, "wait for a state (default active)"},
    {"image", "upload", image_upload, "create an image and upload a file into it (progress bar)"},
    {"image", "download", image_download, "download an image's bytes"},
    {"image", "list", image_list, "list images"},
    {"image", "show", image_show, "show an image"},
    {"image", "delete", image_delete, "delete an image"},
    {"flavor", "list", flavor_list, "list flavors"},
    {"keypair", "create", keypair_create, "add an SSH public key"},
    {"keypair", "list", keypair_list, "list keypairs"},
    {"keypair", "show", keypair_show, "show a keypair"},
    {"keypair", "delete", keypair_delete, "delete a keypair"},
    {"server-group", "create", group_create, "create a server group"},
    {"server-group", "list", group_list, "list server groups"},
    {"server-group", "delete", group_delete, "delete a server group"},
    {"quota", "show", quota_show, "the tenant's limits and usage"},
    {"usage", NULL, usage_show, "metered usage (JSON)"},
    {"invoice", "list", invoice_list, "list invoices (issued and this month's draft)"},
    {"invoice", "show", invoice_show, "show an invoice"},
    {"invoice", "download", invoice_download, "download an invoice as PDF, CSV, HTML or JSON"},
    {"host", "list", host_list, "compute hosts: state, load, capacity (cloud admins)"},
    {"tenant", "list", tenant_list, "list tenants"},
    {"tenant", "create", tenant_create, "create a tenant (cloud admins)"},
    {"tenant", "delete", tenant_delete, "delete a tenant (cloud admins)"},
    {"tenant", "quota", tenant_quota, "a tenant's quota, or set it (cloud admins)"},
    {"network", "create", network_create, "create a network (--subnet CIDR adds a subnet)"},
    {"network", "list", network_list, "list networks (own, shared, external)"},
    {"network", "show", network_show, "show a network"},
    {"network", "delete", network_delete, "delete a network"},
    {"plan", "list", plan_list, "price plans (cloud admins)"},
    {"plan", "show", plan_show, "a price plan (cloud admins)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

void cli_help_all(FILE *f)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s%s", commands[i].noun, commands[i].verb ? " " : "",
                 commands[i].verb ? commands[i].verb : "");
        fprintf(f, "  %-22s %s\n", name, commands[i].summary);
    }
}

/* Every command's own --help: its usage, from the command itself given an
 * option it does not know (every command checks its arguments before it
 * does anything, and prints its usage to stderr), sent to stdout instead. */
static int command_help(cli *c, const command *cmd)
{
    printf("stratus %s%s%s: %s\n", cmd->noun, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "",
           cmd->summary);
    fflush(stdout);
    static char help[] = "--help", *argv[] = {help, NULL};
    c->argc = 1;
    c->argv = argv;
    int saved = dup(2);
    dup2(1, 2);
    cmd->fn(c);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return 0;
}

int cli_dispatch(cli *c, const char *noun)
{
    int known = 0;
    for (size_t i = 0; i < NCOMMANDS; i++)
        known |= !strcmp(commands[i].noun, noun);
    if (!known) {
        fprintf(stderr, "stratus: unknown command %s (see stratus --help)\n", noun);
        return EX_USAGE_;
    }
    const char *verb = NULL;
    if (c->argc && c->argv[0][0] != '-') {
        verb = c->argv[0];
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command *cmd = &commands[i];
        if (strcmp(cmd->noun, noun))
            continue;
        if (cmd->verb && (!verb || strcmp(cmd->verb, verb)))
            continue;
        if (cmd->verb) {
            c->argc--;
            c->argv++;
        }
        if (cli_flag(c, "--help") || cli_flag(c, "-h"))
            return command_help(c, cmd);
        return cmd->fn(c);
    }
    int help =
        verb == NULL && c->argc && (!strcmp(c->argv[0], "--help") || !strcmp(c->argv[0], "-h"));
    FILE *f = help ? stdout : stderr;
    if (verb)
        fprintf(f, "stratus: %s has no command %s\n", noun, verb);
    fprintf(f, "usage: stratus %s COMMAND ...\n", noun);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].noun, noun))
            fprintf(f, "  %-10s %s\n", commands[i].verb ? commands[i].verb : "",
                    commands[i].summary);
    return help ? 0 : EX_USAGE_;
}
