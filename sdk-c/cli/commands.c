/*
 * commands.c - one function per `stratus NOUN VERB` for instances, images,
 * the catalogue, billing and administration, each a thin use of
 * libstratus; the table that names them with their summaries; and the
 * dispatch over it and net.c's table (networking).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define num cli_num

/* ---- instances ---- */

static void instance_kv(cli *c, const stratus_instance *i)
{
    print_kv(c->json, i->json, "id", i->id, "name", i->name, "state", i->state_name, "task",
             i->task, "flavor_id", i->flavor_id, "image_id", i->image_id, "vcpus", num(i->vcpus),
             "memory_mib", num(i->memory_mib), "disk_gib", num(i->disk_gib), "node_id", i->node_id,
             "host_status", i->host_status, "fault", i->fault, "last_stop", i->last_stop,
             "created_at", i->created_at, (char *)NULL);
}

static int instance_create(cli *c)
{
    stratus_instance_spec sp = {0};
    sp.flavor = cli_opt(c, "--flavor");
    sp.image = cli_opt(c, "--image");
    sp.keypair = cli_opt(c, "--keypair");
    sp.server_group_id = cli_opt(c, "--server-group");
    sp.idempotency_key = cli_opt(c, "--idempotency-key");
    /* --network and --port, repeatable: one NIC each, in the order given */
    static const char *const nic_opts[] = {"--network", "--port", NULL};
    char nets[4096] = "[";
    int nnic = 0, none = 0, bad = 0;
    const char *which, *v;
    while ((v = cli_opt_any(c, nic_opts, &which))) {
        if (!strcmp(which, "--network") && !strcmp(v, "none")) {
            none = 1;
            continue;
        }
        char *q = json_quote(v);
        size_t l = strlen(nets);
        bad |= snprintf(nets + l, sizeof nets - l, "%s{\"%s\":%s}", nnic++ ? "," : "",
                        !strcmp(which, "--port") ? "port_id" : "network_id",
                        q) >= (int)(sizeof nets - l - 1);
        free(q);
    }
    strcat(nets, "]");
    const char *udf = cli_opt(c, "--user-data-file");
    const char *wait = cli_opt(c, "--wait");
    sp.name = cli_arg(c);
    if (!sp.name || !sp.flavor || !sp.image || c->argc || bad || (none && nnic))
        return cli_usage("usage: stratus instance create NAME --flavor F --image I [--keypair K]"
                         " [--network none|NETWORK_ID]... [--port PORT_ID]..."
                         " [--user-data-file FILE] [--server-group ID] [--idempotency-key KEY]"
                         " [--wait SECONDS]\n"
                         "Each --network or --port is one NIC, in order; without either the"
                         " tenant's default network.\n");
    if (none)
        sp.networks_json = "\"none\"";
    else if (nnic)
        sp.networks_json = nets;
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
    int force = cli_flag(c, "--force");
    return instance_simple(c, "stop", force ? stratus_instance_stop_force : stratus_instance_stop);
}
static int instance_reboot(cli *c)
{
    int hard = cli_flag(c, "--hard");
    return instance_simple(c, "reboot",
                           hard ? stratus_instance_reboot_hard : stratus_instance_reboot);
}

static void image_kv(cli *c, const stratus_image *i);

static int instance_snapshot(cli *c)
{
    const char *id = cli_arg(c), *name = cli_arg(c);
    if (!id || !name || c->argc)
        return cli_usage("usage: stratus instance snapshot ID NAME\n");
    CONNECT();
    char *image_id = NULL;
    TRY("instance snapshot", stratus_instance_snapshot(c->s, id, name, &image_id));
    stratus_image *img;
    int rc = stratus_image_show(c->s, image_id, &img);
    free(image_id);
    if (rc < 0)
        return cli_fail("image show", rc);
    image_kv(c, img);
    stratus_image_free(img);
    return 0;
}

static int instance_evacuate(cli *c)
{
    const char *host = cli_opt(c, "--host");
    int confirm = cli_flag(c, "--confirm-data-loss");
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus instance evacuate ID [--host HOST]"
                         " [--confirm-data-loss]  (cloud admins)\n"
                         "Rebuilds an instance of a dead host on another (HOST: a node's name or"
                         " id; default: the scheduler's choice). A disk on the host's local"
                         " storage is rebuilt from the image, losing what the guest wrote: say"
                         " --confirm-data-loss.\n");
    CONNECT();
    stratus_instance *i;
    TRY("instance evacuate", stratus_instance_evacuate(c->s, id, host, confirm, &i));
    instance_kv(c, i);
    stratus_instance_free(i);
    return 0;
}

static int instance_migrate(cli *c)
{
    stratus_migrate_opts o = {.host = cli_opt(c, "--host")};
    const char *dt = cli_opt(c, "--downtime-ms"), *to = cli_opt(c, "--timeout");
    o.on_timeout = cli_opt(c, "--on-timeout");
    int cancel = cli_flag(c, "--cancel");
    unsigned int flags = (cli_flag(c, "--block") ? STRATUS_MIGRATE_BLOCK : 0) |
                         (cli_flag(c, "--no-block") ? STRATUS_MIGRATE_NO_BLOCK : 0);
    const char *id = cli_arg(c);
    char *end = NULL;
    if (dt)
        o.downtime_ms = (int)strtol(dt, &end, 10);
    if (!id || c->argc || (dt && (*end || o.downtime_ms <= 0)) ||
        (to && (o.timeout_s = atoi(to)) <= 0) ||
        flags == (STRATUS_MIGRATE_BLOCK | STRATUS_MIGRATE_NO_BLOCK))
        return cli_usage("usage: stratus instance migrate ID [--host HOST] [--downtime-ms N]"
                         " [--timeout SECONDS] [--on-timeout cancel|force] [--block|--no-block]"
                         " | --cancel  (cloud admins)\n"
                         "Moves an active instance to another host while it runs (HOST: a node's"
                         " name or id; default: the scheduler's choice); its task is migrating"
                         " until it ends (instance show, migration list). A disk on the host's"
                         " local storage is copied along unless --no-block (then refused);"
                         " --block insists on the copy. --cancel cancels one under way.\n");
    CONNECT();
    stratus_instance *i;
    if (cancel)
        TRY("instance migrate", stratus_instance_migrate_cancel(c->s, id, &i));
    else
        TRY("instance migrate", stratus_instance_migrate_flags(c->s, id, &o, flags, &i));
    instance_kv(c, i);
    stratus_instance_free(i);
    return 0;
}

static int migration_list(cli *c)
{
    const char *inst = cli_opt(c, "--instance");
    if (c->argc)
        return cli_usage("usage: stratus migration list [--instance ID]  (cloud admins)\n"
                         "Live migrations, newest first, with their progress or outcome"
                         " (JSON).\n");
    CONNECT();
    char *out;
    TRY("migration list", stratus_migrations_list(c->s, inst, 0, &out));
    printf("%s\n", out);
    free(out);
    return 0;
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
    sp.kind = cli_opt(c, "--kind");
    sp.boot = cli_opt(c, "--boot");
    sp.kernel_id = cli_opt(c, "--kernel");
    sp.ramdisk_id = cli_opt(c, "--ramdisk");
    const char *id = cli_opt(c, "--id");
    int quiet = cli_flag(c, "--no-progress"), bar = cli_flag(c, "--progress");
    const char *file = cli_arg(c);
    if (!file || c->argc || (!id && !sp.name))
        return cli_usage("usage: stratus image upload FILE --name NAME [--format raw|qcow2]"
                         " [--visibility private|public] [--progress|--no-progress]\n"
                         "       [--kind disk|kernel|ramdisk] [--boot firmware|kernel]"
                         " [--kernel KERNEL_IMAGE_ID [--ramdisk RAMDISK_IMAGE_ID]]\n"
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
    int rc;
    while ((rc = stratus_flavor_next(it, &f)) == 1) {
        table_add(&t, f->json, f->id, f->name, num(f->vcpus), num(f->memory_mib), num(f->disk_gib));
        stratus_flavor_free(f);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "flavor list");
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
    int rc;
    while ((rc = stratus_keypair_next(it, &k)) == 1) {
        table_add(&t, k->json, k->id, k->name, k->fingerprint);
        stratus_keypair_free(k);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "keypair list");
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
    int rc;
    while ((rc = stratus_server_group_next(it, &g)) == 1) {
        table_add(&t, g->json, g->id, g->name, g->policy, num((long long)g->n_members));
        stratus_server_group_free(g);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "server-group list");
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

/* A quota as RESOURCE USED LIMIT rows, or its JSON. */
static void quota_print(cli *c, const stratus_quota *q)
{
    if (c->json) {
        printf("%s\n", q->json);
        return;
    }
    static const char *const head[] = {"RESOURCE", "USED", "LIMIT"};
    table t;
    table_init(&t, 3, head);
    table_add(&t, NULL, "instances", num(q->usage.instances), num(q->limits.instances));
    table_add(&t, NULL, "vcpus", num(q->usage.vcpus), num(q->limits.vcpus));
    table_add(&t, NULL, "memory_mib", num(q->usage.memory_mib), num(q->limits.memory_mib));
    table_add(&t, NULL, "disk_gib", num(q->usage.disk_gib), num(q->limits.disk_gib));
    table_add(&t, NULL, "networks", num(q->usage.networks), num(q->limits.networks));
    table_add(&t, NULL, "ports", num(q->usage.ports), num(q->limits.ports));
    table_add(&t, NULL, "security_groups", num(q->usage.security_groups),
              num(q->limits.security_groups));
    table_add(&t, NULL, "floating_ips", num(q->usage.floating_ips), num(q->limits.floating_ips));
    table_print(&t, 0);
    table_free(&t);
}

static int quota_show(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus quota show\n");
    CONNECT();
    stratus_quota *q;
    TRY("quota show", stratus_quota_show(c->s, &q));
    quota_print(c, q);
    stratus_quota_free(q);
    return 0;
}

static const char *const quota_opts[] = {"instances",       "vcpus",        "memory-mib",
                                         "disk-gib",        "networks",     "ports",
                                         "security-groups", "floating-ips", NULL};

static int quota_set(cli *c)
{
    jbuf b = {0};
    for (const char *const *o = quota_opts; *o; o++) {
        char opt[40], key[40];
        snprintf(opt, sizeof opt, "--%s", *o);
        snprintf(key, sizeof key, "%s", *o);
        for (char *k = key; *k; k++)
            if (*k == '-')
                *k = '_';
        jb_int(&b, key, cli_opt(c, opt));
    }
    const char *id = cli_arg(c), *bad = NULL, *body = jb_end(&b, &bad);
    if (!id || c->argc || !body || b.n == 0) {
        if (bad)
            fprintf(stderr, "stratus: quota set: %s must be an integer\n", bad);
        jb_free(&b);
        return cli_usage("usage: stratus quota set TENANT_ID [--instances N] [--vcpus N]"
                         " [--memory-mib N] [--disk-gib N] [--networks N] [--ports N]"
                         " [--security-groups N] [--floating-ips N]  (cloud admins; at least"
                         " one)\n");
    }
    int rc = cli_connect(c);
    stratus_quota *q = NULL;
    if (!rc && (rc = stratus_tenant_quota_update(c->s, id, body, &q)) < 0)
        rc = cli_fail("quota set", rc);
    jb_free(&b);
    if (rc)
        return rc;
    quota_print(c, q);
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
    int rc;
    while ((rc = stratus_invoice_next(it, &i)) == 1) {
        table_add(&t, i->json, i->id, i->number_text, i->status, i->period, i->total, i->currency);
        stratus_invoice_free(i);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "invoice list");
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
    static const char *const head[] = {"ID",         "NAME",  "STATE",    "VCPUS",
                                       "MEMORY_MIB", "EMPTY", "DISABLED", "POWER"};
    table t;
    table_init(&t, 8, head);
    stratus_node *n;
    int rc;
    while ((rc = stratus_node_next(it, &n)) == 1) {
        char vc[64], mem[64];
        snprintf(vc, sizeof vc, "%lld/%lld", n->used_vcpus, n->cap_vcpus);
        snprintf(mem, sizeof mem, "%lld/%lld", n->used_memory_mib, n->cap_memory_mib);
        table_add(&t, n->json, n->id, n->name, n->state, vc, mem, n->empty ? "yes" : "no",
                  n->disabled ? "yes" : "no", n->power_state ? n->power_state : "on");
        stratus_node_free(n);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "host list");
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
    int rc;
    while ((rc = stratus_tenant_next(it, &tn)) == 1) {
        table_add(&t, tn->json, tn->id, tn->name, tn->description);
        stratus_tenant_free(tn);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "tenant list");
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
                         "  (cloud admins; see also quota set)\n");
    CONNECT();
    stratus_quota *q;
    if (set)
        TRY("tenant quota", stratus_tenant_quota_update(c->s, id, set, &q));
    else
        TRY("tenant quota", stratus_tenant_quota_show(c->s, id, &q));
    quota_print(c, q);
    stratus_quota_free(q);
    return 0;
}

static int tenant_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus tenant show ID  (cloud admins)\n");
    CONNECT();
    stratus_tenant *t;
    TRY("tenant show", stratus_tenant_show(c->s, id, &t));
    print_kv(c->json, t->json, "id", t->id, "name", t->name, "description", t->description,
             "created_at", t->created_at, (char *)NULL);
    stratus_tenant_free(t);
    return 0;
}

static int member_list(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus tenant member list TENANT_ID\n");
    CONNECT();
    stratus_iter *it;
    TRY("tenant member list", stratus_member_list(c->s, id, &it));
    static const char *const head[] = {"USER_ID", "NAME", "ROLE"};
    table t;
    table_init(&t, 3, head);
    stratus_member *m;
    int rc;
    while ((rc = stratus_member_next(it, &m)) == 1) {
        table_add(&t, m->json, m->user_id, m->name, m->role);
        stratus_member_free(m);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "tenant member list");
}

static int member_add(cli *c)
{
    const char *role = cli_opt(c, "--role"), *tenant = cli_arg(c), *user = cli_arg(c);
    if (!tenant || !user || c->argc)
        return cli_usage("usage: stratus tenant member add TENANT_ID USER_ID"
                         " [--role admin|member|reader (member)]\n"
                         "Adds the user to the tenant, or changes the member's role.\n");
    CONNECT();
    TRY("tenant member add", stratus_member_set(c->s, tenant, user, role ? role : "member"));
    return 0;
}

static int member_remove(cli *c)
{
    const char *tenant = cli_arg(c), *user = cli_arg(c);
    if (!tenant || !user || c->argc)
        return cli_usage("usage: stratus tenant member remove TENANT_ID USER_ID\n");
    CONNECT();
    TRY("tenant member remove", stratus_member_remove(c->s, tenant, user));
    return 0;
}

/* ---- users, flavors, API keys, hosts ---- */

static int user_create(cli *c)
{
    int admin = cli_flag(c, "--cloud-admin"), from_stdin = cli_flag(c, "--password-stdin");
    const char *name = cli_arg(c);
    if (!name || c->argc)
        return cli_usage("usage: stratus user create NAME [--cloud-admin] [--password-stdin]"
                         "  (cloud admins)\n"
                         "The password: $STRATUS_NEW_PASSWORD, else one line of standard"
                         " input.\n");
    char pw[512] = "";
    const char *e = getenv("STRATUS_NEW_PASSWORD");
    if (e && !from_stdin)
        snprintf(pw, sizeof pw, "%s", e);
    else if (!fgets(pw, sizeof pw, stdin))
        return cli_usage("stratus: user create: no password on standard input\n");
    pw[strcspn(pw, "\r\n")] = 0;
    CONNECT();
    stratus_user *u;
    TRY("user create", stratus_user_create(c->s, name, pw, admin, &u));
    print_kv(c->json, u->json, "id", u->id, "name", u->name, "cloud_admin",
             u->cloud_admin ? "yes" : "no", "created_at", u->created_at, (char *)NULL);
    stratus_user_free(u);
    return 0;
}

static int user_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus user list  (cloud admins)\n");
    CONNECT();
    stratus_iter *it;
    TRY("user list", stratus_user_list(c->s, &it));
    static const char *const head[] = {"ID", "NAME", "CLOUD_ADMIN", "DISABLED", "CREATED"};
    table t;
    table_init(&t, 5, head);
    stratus_user *u;
    int rc;
    while ((rc = stratus_user_next(it, &u)) == 1) {
        table_add(&t, u->json, u->id, u->name, u->cloud_admin ? "yes" : "no",
                  u->disabled ? "yes" : "no", u->created_at);
        stratus_user_free(u);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "user list");
}

/* A whole number from an option, or -1. */
static long long whole(const char *v)
{
    char *end;
    long long n = v ? strtoll(v, &end, 10) : -1;
    return v && *v && !*end && n >= 0 ? n : -1;
}

static int flavor_create(cli *c)
{
    long long vcpus = whole(cli_opt(c, "--vcpus")), mem = whole(cli_opt(c, "--memory-mib"));
    long long disk = whole(cli_opt(c, "--disk-gib"));
    const char *name = cli_arg(c);
    if (!name || c->argc || vcpus < 0 || mem < 0 || disk < 0)
        return cli_usage("usage: stratus flavor create NAME --vcpus N --memory-mib N --disk-gib N"
                         "  (cloud admins)\n");
    CONNECT();
    stratus_flavor *f;
    TRY("flavor create", stratus_flavor_create(c->s, name, vcpus, mem, disk, &f));
    print_kv(c->json, f->json, "id", f->id, "name", f->name, "vcpus", num(f->vcpus), "memory_mib",
             num(f->memory_mib), "disk_gib", num(f->disk_gib), (char *)NULL);
    stratus_flavor_free(f);
    return 0;
}

static int flavor_delete(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus flavor delete ID  (cloud admins)\n");
    CONNECT();
    TRY("flavor delete", stratus_flavor_delete(c->s, id));
    return 0;
}

static int api_key_create(cli *c)
{
    const char *days = cli_opt(c, "--expires-days"), *name = cli_arg(c);
    if (!name || c->argc || (days && whole(days) < 1))
        return cli_usage("usage: stratus api-key create NAME [--expires-days N]\n"
                         "Prints the key (stk_...) once: keep it; use it as $STRATUS_TOKEN.\n");
    CONNECT();
    stratus_api_key *k;
    TRY("api-key create", stratus_api_key_create(c->s, name, days ? (int)whole(days) : 0, &k));
    print_kv(c->json, k->json, "id", k->id, "name", k->name, "key", k->key, "expires_at",
             k->expires_at, (char *)NULL);
    stratus_api_key_free(k);
    return 0;
}

static int api_key_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus api-key list\n");
    CONNECT();
    stratus_iter *it;
    TRY("api-key list", stratus_api_key_list(c->s, &it));
    static const char *const head[] = {"ID", "NAME", "CREATED", "EXPIRES"};
    table t;
    table_init(&t, 4, head);
    stratus_api_key *k;
    int rc;
    while ((rc = stratus_api_key_next(it, &k)) == 1) {
        table_add(&t, k->json, k->id, k->name, k->created_at, k->expires_at);
        stratus_api_key_free(k);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "api-key list");
}

static int api_key_delete(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus api-key delete ID\n");
    CONNECT();
    TRY("api-key delete", stratus_api_key_delete(c->s, id));
    return 0;
}

static int host_evacuate(cli *c)
{
    int confirm = cli_flag(c, "--confirm-data-loss");
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus host evacuate ID [--confirm-data-loss]  (cloud admins)\n"
                         "Rebuilds every instance of a dead host on others; prints each one's"
                         " outcome (JSON). Local disks are rebuilt from their images, losing"
                         " what the guests wrote: say --confirm-data-loss.\n");
    CONNECT();
    char *out;
    TRY("host evacuate", stratus_node_evacuate(c->s, id, confirm, &out));
    printf("%s\n", out);
    free(out);
    return 0;
}

static int host_add(cli *c)
{
    const char *name = cli_arg(c);
    if (!name || c->argc)
        return cli_usage("usage: stratus host add NAME  (cloud admins)\n"
                         "Registers a compute host and prints its node credential once (the"
                         " agent's; JSON: the node and \"credential\").\n");
    CONNECT();
    stratus_node *n;
    char *cred;
    TRY("host add", stratus_node_create(c->s, name, &n, &cred));
    if (c->json) {
        char *q = json_quote(cred);
        printf("{\"node\":%s,\"credential\":%s}\n", n->json, q);
        free(q);
    } else {
        print_kv(0, NULL, "id", n->id, "name", n->name, "state", n->state, "credential", cred,
                 (char *)NULL);
    }
    free(cred);
    stratus_node_free(n);
    return 0;
}

/* host power-off|power-on ID: the gateway's power manager runs the
 * configured command; prints the node, powering_off or powering_on. */
static int host_power(cli *c, const char *action, const char *what, const char *usage)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage(usage);
    CONNECT();
    stratus_node *n;
    TRY(what, stratus_node_power(c->s, id, action, &n));
    if (c->json)
        printf("%s\n", n->json);
    else
        print_kv(0, NULL, "id", n->id, "name", n->name, "power_state", n->power_state,
                 (char *)NULL);
    stratus_node_free(n);
    return 0;
}

static int host_power_off(cli *c)
{
    return host_power(c, "power_off", "host power-off",
                      "usage: stratus host power-off ID  (cloud admins; only a host holding no "
                      "instance, through the gateway's power.off_command)\n");
}

static int host_power_on(cli *c)
{
    return host_power(c, "power_on", "host power-on",
                      "usage: stratus host power-on ID  (cloud admins; a host that is off, "
                      "through the gateway's power.on_command)\n");
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

/* A billing document (JSON as the billing service sends it) on stdout. */
static int print_doc(const char *what, int rc, char **json)
{
    if (rc < 0)
        return cli_fail(what, rc);
    printf("%s\n", *json);
    free(*json);
    return 0;
}

static int plan_create(cli *c)
{
    const char *arg = cli_arg(c);
    if (!arg || c->argc)
        return cli_usage("usage: stratus plan create JSON|@FILE  (cloud admins)\n"
                         "The body is billing's plan document (billing/README.md), e.g."
                         " '{\"name\":\"standard\",\"currency\":\"EUR\",...}'.\n");
    char *body = cli_json_arg(arg);
    if (!body)
        return EX_USAGE_;
    int rc = cli_connect(c);
    char *json = NULL;
    if (!rc)
        rc = print_doc("plan create", stratus_plan_create(c->s, body, &json), &json);
    free(body);
    return rc;
}

static int period_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus period list  (cloud admins; JSON)\n");
    CONNECT();
    char *json = NULL;
    return print_doc("period list", stratus_period_list(c->s, &json), &json);
}

static int period_preview(cli *c)
{
    const char *month = cli_arg(c);
    if (!month || c->argc)
        return cli_usage("usage: stratus period preview YYYY-MM  (cloud admins; JSON)\n"
                         "What issuing the month would produce; stores nothing.\n");
    CONNECT();
    char *json = NULL;
    return print_doc("period preview", stratus_period_preview(c->s, month, &json), &json);
}

static int period_issue(cli *c)
{
    int empty = cli_flag(c, "--confirm-empty");
    const char *month = cli_arg(c);
    if (!month || c->argc)
        return cli_usage("usage: stratus period issue YYYY-MM [--confirm-empty]  (cloud admins)\n"
                         "Issues every tenant's invoice for an ended month, for good. A month"
                         " with no usage is\nrefused (exit 6) unless --confirm-empty.\n");
    CONNECT();
    char *json = NULL;
    return print_doc(
        "period issue",
        stratus_period_issue_flags(c->s, month, empty ? STRATUS_ISSUE_CONFIRM_EMPTY : 0, &json),
        &json);
}

/* `scheduler rebalance|consolidation --dry-run|--run [--<frac> F] [--max-moves N]`. */
static int scheduler_plan(cli *c, const char *what, const char *frac_opt, const char *usage,
                          int (*dry_fn)(stratus_session *, double, int, char **),
                          int (*run_fn)(stratus_session *, double, int, char **))
{
    int dry = cli_flag(c, "--dry-run"), run = cli_flag(c, "--run");
    const char *t = cli_opt(c, frac_opt), *m = cli_opt(c, "--max-moves");
    char *end = NULL;
    double frac = t ? strtod(t, &end) : 0;
    if (dry == run || c->argc || (t && (end == t || *end || frac <= 0)))
        return cli_usage(usage);
    long max = m ? strtol(m, &end, 10) : 0;
    if (m && (end == m || *end || max <= 0))
        return cli_usage(usage);
    CONNECT();
    char *json = NULL;
    return print_doc(what, (run ? run_fn : dry_fn)(c->s, frac, (int)max, &json), &json);
}

static int scheduler_rebalance(cli *c)
{
    static const char usage[] =
        "usage: stratus scheduler rebalance --dry-run|--run [--threshold F] [--max-moves N]"
        "  (cloud admins; JSON)\n"
        "The rebalancing plan: which running instances would move (live migration) to even"
        " out the\nhosts' CPU and memory loads, each host's load and the imbalance before"
        " and after.\n--dry-run: nothing moves. --run: the moves begin as live migrations"
        " (at most the\ngateway's rebalance.max_concurrent at once; started and skipped say"
        " which). --threshold\n(0.01-1) and --max-moves (1-1000) default to the gateway's"
        " rebalance.*.\n";
    return scheduler_plan(c, "scheduler rebalance", "--threshold", usage,
                          stratus_scheduler_rebalance, stratus_scheduler_rebalance_run);
}

static int scheduler_consolidation(cli *c)
{
    static const char usage[] =
        "usage: stratus scheduler consolidation --dry-run|--run [--target F] [--max-moves N]"
        "  (cloud admins; JSON)\n"
        "The consolidation plan: which running instances would move (live migration) to"
        " empty whole\nhosts so they can be powered off, destinations filled up to --target"
        " (0.5-1).\n--dry-run: nothing moves. --run: the hosts being emptied take no new"
        " instance (draining)\nand the moves begin as live migrations (at most the gateway's"
        " rebalance.max_concurrent\nat once; started and skipped say which); the power"
        " manager powers the emptied hosts off\nonce idle (nodes_to_power_off). --target and"
        " --max-moves (1-1000) default to the\ngateway's consolidation.*.\n";
    return scheduler_plan(c, "scheduler consolidation", "--target", usage,
                          stratus_scheduler_consolidation, stratus_scheduler_consolidation_run);
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

static const command commands[] = {
    {"whoami", NULL, whoami, "the signed-in user, tenant and role"},
    {"instance", "create", instance_create,
     "create an instance (--network/--port per NIC; --wait SECONDS)"},
    {"instance", "list", instance_list, "list instances (every page)"},
    {"instance", "show", instance_show, "show an instance"},
    {"instance", "delete", instance_delete, "delete an instance"},
    {"instance", "start", instance_start, "start a stopped instance"},
    {"instance", "stop", instance_stop,
     "stop an active instance (the power button, then forced; --force: at once)"},
    {"instance", "reboot", instance_reboot,
     "reboot an active instance (a graceful stop and a new boot; --hard: reset)"},
    {"instance", "snapshot", instance_snapshot,
     "snapshot an active or stopped instance into a new image (printed; queued until the"
     " node has uploaded it)"},
    {"instance", "evacuate", instance_evacuate,
     "rebuild an instance of a dead host on another (cloud admins; --host, --confirm-data-loss)"},
    {"instance", "migrate", instance_migrate,
     "live-migrate an active instance to another host (cloud admins; --host, --downtime-ms,"
     " --block, --no-block, --cancel)"},
    {"migration", "list", migration_list, "live migrations and their outcome (cloud admins)"},
    {"instance", "console", instance_console, "print the instance's console"},
    {"instance", "wait", instance_wait, "wait for a state (default active)"},
    {"image", "upload", image_upload, "create an image and upload a file into it (progress bar)"},
    {"image", "download", image_download, "download an image's bytes"},
    {"image", "list", image_list, "list images"},
    {"image", "show", image_show, "show an image"},
    {"image", "delete", image_delete, "delete an image"},
    {"flavor", "list", flavor_list, "list flavors"},
    {"flavor", "create", flavor_create, "create a flavor (cloud admins)"},
    {"flavor", "delete", flavor_delete, "delete a flavor (cloud admins)"},
    {"keypair", "create", keypair_create, "add an SSH public key"},
    {"keypair", "list", keypair_list, "list keypairs"},
    {"keypair", "show", keypair_show, "show a keypair"},
    {"keypair", "delete", keypair_delete, "delete a keypair"},
    {"server-group", "create", group_create, "create a server group"},
    {"server-group", "list", group_list, "list server groups"},
    {"server-group", "delete", group_delete, "delete a server group"},
    {"quota", "show", quota_show, "the tenant's limits and usage"},
    {"quota", "set", quota_set, "set a tenant's limits (cloud admins)"},
    {"api-key", "create", api_key_create, "create an API key (printed once)"},
    {"api-key", "list", api_key_list, "list the tenant's API keys"},
    {"api-key", "delete", api_key_delete, "revoke an API key"},
    {"usage", NULL, usage_show, "metered usage (JSON)"},
    {"invoice", "list", invoice_list, "list invoices (issued and this month's draft)"},
    {"invoice", "show", invoice_show, "show an invoice"},
    {"invoice", "download", invoice_download, "download an invoice as PDF, CSV, HTML or JSON"},
    {"host", "list", host_list, "compute hosts: state, load, capacity (cloud admins)"},
    {"host", "add", host_add, "register a compute host, print its credential (cloud admins)"},
    {"host", "power-off", host_power_off, "power an empty host off (cloud admins)"},
    {"host", "power-on", host_power_on, "power a host that is off on (cloud admins)"},
    {"host", "evacuate", host_evacuate,
     "rebuild every instance of a dead host on others (cloud admins; --confirm-data-loss)"},
    {"tenant", "list", tenant_list, "list tenants"},
    {"tenant", "show", tenant_show, "show a tenant (cloud admins)"},
    {"tenant", "create", tenant_create, "create a tenant (cloud admins)"},
    {"tenant", "delete", tenant_delete, "delete a tenant (cloud admins)"},
    {"tenant", "quota", tenant_quota, "a tenant's quota, or set it as JSON (cloud admins)"},
    {"tenant", "member list", member_list, "a tenant's members and roles"},
    {"tenant", "member add", member_add, "add a user to a tenant, or change the role"},
    {"tenant", "member remove", member_remove, "remove a user from a tenant"},
    {"user", "create", user_create, "create a user (cloud admins)"},
    {"user", "list", user_list, "list users (cloud admins)"},
    {"plan", "list", plan_list, "price plans (cloud admins)"},
    {"plan", "show", plan_show, "a price plan (cloud admins)"},
    {"plan", "create", plan_create, "create a price plan from JSON (cloud admins)"},
    {"period", "list", period_list, "billing periods and what is issued (cloud admins)"},
    {"period", "preview", period_preview, "what issuing a month would produce (cloud admins)"},
    {"period", "issue", period_issue, "issue a month's invoices for good (cloud admins)"},
    {"scheduler", "rebalance", scheduler_rebalance,
     "the rebalancing plan, a dry run: moves that even out host load (cloud admins)"},
    {"scheduler", "consolidation", scheduler_consolidation,
     "the consolidation plan: moves that empty hosts to power off (cloud admins)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Both tables, as one: commands.c's, then net.c's. */
static const command *cmd_at(size_t i)
{
    return i < NCOMMANDS ? &commands[i] : &net_commands[i - NCOMMANDS];
}
#define NALL (NCOMMANDS + net_ncommands)

static void cmd_name(const command *cmd, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s", cmd->noun, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
}

/* Every command, a noun's together (in the order nouns first appear). */
void cli_help_all(FILE *f)
{
    for (size_t i = 0; i < NALL; i++) {
        size_t first = 0;
        while (strcmp(cmd_at(first)->noun, cmd_at(i)->noun))
            first++;
        if (first != i)
            continue;
        for (size_t k = i; k < NALL; k++) {
            if (strcmp(cmd_at(k)->noun, cmd_at(i)->noun))
                continue;
            char name[64];
            cmd_name(cmd_at(k), name, sizeof name);
            fprintf(f, "  %-28s %s\n", name, cmd_at(k)->summary);
        }
    }
}

/* Every command's own --help: its usage, from the command itself given an
 * option it does not know (every command checks its arguments before it
 * does anything, and prints its usage to stderr), sent to stdout instead. */
static int command_help(cli *c, const command *cmd)
{
    char name[64];
    cmd_name(cmd, name, sizeof name);
    printf("stratus %s: %s\n", name, cmd->summary);
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

/* How many of argv's words a command's verb takes ("member add": 2), if
 * they match it; 0 if not. */
static int verb_match(const command *cmd, cli *c)
{
    const char *v = cmd->verb, *sp = strchr(v, ' ');
    if (!c->argc || c->argv[0][0] == '-')
        return 0;
    if (!sp)
        return strcmp(v, c->argv[0]) ? 0 : 1;
    size_t l = (size_t)(sp - v);
    return c->argc >= 2 && strlen(c->argv[0]) == l && !strncmp(v, c->argv[0], l) &&
                   !strcmp(sp + 1, c->argv[1])
               ? 2
               : 0;
}

int cli_dispatch(cli *c, const char *noun)
{
    int known = 0;
    for (size_t i = 0; i < NALL; i++)
        known |= !strcmp(cmd_at(i)->noun, noun);
    if (!known) {
        fprintf(stderr, "stratus: unknown command %s (see stratus --help)\n", noun);
        return EX_USAGE_;
    }
    for (size_t i = 0; i < NALL; i++) {
        const command *cmd = cmd_at(i);
        if (strcmp(cmd->noun, noun))
            continue;
        int words = cmd->verb ? verb_match(cmd, c) : 0;
        if (cmd->verb && !words)
            continue;
        c->argc -= words;
        c->argv += words;
        if (cli_flag(c, "--help") || cli_flag(c, "-h"))
            return command_help(c, cmd);
        return cmd->fn(c);
    }
    /* no such verb: the noun's commands (those of a group when one is named) */
    const char *verb = c->argc && c->argv[0][0] != '-' ? c->argv[0] : NULL;
    int help =
        c->argc && (!strcmp(c->argv[c->argc - 1], "--help") || !strcmp(c->argv[c->argc - 1], "-h"));
    size_t vl = verb ? strlen(verb) : 0;
    int group = 0;
    for (size_t i = 0; i < NALL && verb; i++)
        group |= !strcmp(cmd_at(i)->noun, noun) && cmd_at(i)->verb &&
                 !strncmp(cmd_at(i)->verb, verb, vl) && cmd_at(i)->verb[vl] == ' ';
    help = help && (!verb || group);
    FILE *f = help ? stdout : stderr;
    if (verb && !help)
        fprintf(f, "stratus: %s has no command %s%s%s\n", noun, verb,
                group && c->argc > 1 ? " " : "", group && c->argc > 1 ? c->argv[1] : "");
    fprintf(f, "usage: stratus %s%s%s COMMAND ...\n", noun, group ? " " : "", group ? verb : "");
    for (size_t i = 0; i < NALL; i++) {
        const command *cmd = cmd_at(i);
        if (strcmp(cmd->noun, noun) ||
            (group && (strncmp(cmd->verb, verb, vl) || cmd->verb[vl] != ' ')))
            continue;
        fprintf(f, "  %-20s %s\n", cmd->verb ? cmd->verb : "", cmd->summary);
    }
    return help ? 0 : EX_USAGE_;
}
