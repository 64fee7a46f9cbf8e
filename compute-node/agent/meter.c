/*
 * meter.c - metering samples for billing, spooled on disk before they are
 * sent, so no usage is lost while billing is unreachable.
 *
 * A sample is billing's instance sample (billing/README.md): tenant,
 * instance, flavor, state, the instance's allocated disk bytes (disk_gib of
 * its spec), the VMM's boot id, a sequence number that grows
 * within one (instance, boot) - the wall clock in milliseconds, bumped past
 * the last one used - and the VMM's counter document verbatim but for one
 * key added to each NIC: the network port it plugs into (port_id, from the
 * instance's ports; name_ports()), so billing keeps bytes per port. Every
 * metering round makes one batch with a fresh batch_id and writes it to
 * <state_dir>/spool/<20-digit number>.json (temporary file + rename, fsynced)
 * BEFORE anything is sent. The sender posts spooled batches oldest first
 * and deletes each on 200; on a transport error or 5xx it stops and retries
 * later with the same file, hence the same batch_id (billing dedups); a 4xx
 * means billing will never take it: the file moves to spool/rejected/ and is
 * logged, never retried.
 *
 * The spool is bounded (spool.max_mib): a host whose billing stays away for
 * weeks must not fill its disk with samples. When a new batch takes the
 * spool past the bound, the oldest batches are dropped - logged as errors
 * and counted (stratus_node_spool_dropped_total), since that usage is lost
 * to billing - until it fits. The newest batch is always kept. Trimming
 * happens only when no flush is running (it waits for the next batch
 * otherwise), so a batch being sent is never dropped under the sender.
 */
#include "agent.h"
#include "stratus/httpc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stratus/log.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

static pthread_mutex_t g_spool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_flush_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long g_spool_next; /* 0: not yet scanned */
static long long g_spool_max;           /* bytes; 0: unbounded */

void nd_spool_set_limit(long long max_bytes)
{
    g_spool_max = max_bytes > 0 ? max_bytes : 0;
}

/*
 * Names each NIC's network port, so billing keeps bytes per port: the
 * VMM's NIC "net<i>" is the i-th port of the spec the agent launched it
 * with (drv_vmm.c), which is the order's ports in order (nd_spec_ports). A
 * NIC with any other id, or beyond the order's ports, is left without one
 * (billing then bills its bytes on the instance's own lines).
 */
static void name_ports(const nd_record *r, json_t *counters)
{
    size_t i;
    json_t *nic;
    json_array_foreach(json_object_get(counters, "nics"), i, nic)
    {
        const char *id = json_string_value(json_object_get(nic, "id"));
        char *end;
        if (!json_is_object(nic) || !id || strncmp(id, "net", 3) != 0 || !id[3] || id[3] < '0' ||
            id[3] > '9')
            continue;
        long k = strtol(id + 3, &end, 10);
        if (*end || k < 0 || k >= r->o.nports || k >= ND_MAX_PORTS || !r->o.ports[k].id[0])
            continue;
        json_object_set_new(nic, "port_id", json_string(r->o.ports[k].id));
    }
}

char *nd_sample_make(const nd_record *r, const char *state, long long seq, const char *counters)
{
    json_t *cj = json_loads(counters, 0, NULL);
    const char *boot = json_string_value(json_object_get(cj, "boot_id"));
    if (!json_is_object(cj) || !boot || !st_uuid_valid(boot)) {
        json_decref(cj);
        return NULL;
    }
    name_ports(r, cj);
    char flavor[80], ts[64];
    if (r->o.flavor[0])
        snprintf(flavor, sizeof flavor, "%s", r->o.flavor);
    else
        snprintf(flavor, sizeof flavor, "v%d.m%d.d%d", r->o.vcpus, r->o.memory_mib, r->o.disk_gib);
    st_time_format_us(st_now_us(), ts);
    /* The disk the gateway allocated to it (the spec's disk_gib), not what the
     * guest wrote: billing rates allocated GiB over time, as block storage is. */
    json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:I}", "tenant_id",
                          r->o.tenant_id, "instance_id", r->o.id, "flavor", flavor, "state", state,
                          "boot_id", boot, "seq", (json_int_t)seq, "sampled_at", ts, "counters", cj,
                          "disk_bytes", (json_int_t)r->o.disk_gib << 30);
    char *out = s ? json_dumps(s, JSON_COMPACT) : NULL;
    json_decref(s);
    return out;
}

char *nd_sample_batch(const char *const *samples, int n)
{
    char id[40];
    st_uuid_v4(id);
    size_t len = 64;
    for (int i = 0; i < n; i++)
        len += strlen(samples[i]) + 1;
    char *b = malloc(len);
    if (!b)
        return NULL;
    int k = snprintf(b, len, "{\"batch_id\":\"%s\",\"samples\":[", id);
    for (int i = 0; i < n; i++) {
        if (i)
            b[k++] = ',';
        size_t sl = strlen(samples[i]);
        memcpy(b + k, samples[i], sl);
        k += (int)sl;
    }
    snprintf(b + k, len - (size_t)k, "]}");
    return b;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_batch(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n == 25 && !strcmp(e->d_name + 20, ".json") && strspn(e->d_name, "0123456789") == 20;
}

/* Drops the oldest batches while the spool is over its bound (the newest
 * always stays); only when no flush is sending. */
static void trim(const char *dir)
{
    if (pthread_mutex_trylock(&g_flush_lock) != 0)
        return;
    struct dirent **ents;
    int n = scandir(dir, &ents, is_batch, by_name);
    long long total = 0, *size = n > 0 ? calloc((size_t)n, sizeof *size) : NULL;
    for (int i = 0; size && i < n; i++) {
        char p[4500];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, ents[i]->d_name);
        if (stat(p, &st) == 0)
            total += size[i] = st.st_size;
    }
    for (int i = 0; size && i < n - 1 && total > g_spool_max; i++) {
        char p[4500];
        snprintf(p, sizeof p, "%s/%s", dir, ents[i]->d_name);
        if (unlink(p) == 0) {
            total -= size[i];
            nd_metric_inc("spool_dropped", "over_bound");
            st_log_fields(ST_LOG_ERROR, "meter.dropped",
                          json_pack("{s:s, s:I, s:I}", "file", p, "bytes", (json_int_t)size[i],
                                    "bound", (json_int_t)g_spool_max));
        }
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    if (n > 0)
        free(ents);
    free(size);
    pthread_mutex_unlock(&g_flush_lock);
}

int nd_spool_add(const char *state_dir, const char *batch_json, size_t len, int do_fsync)
{
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/spool", state_dir);
    nd_mkdirs(dir, 0700);
    pthread_mutex_lock(&g_spool_lock);
    if (!g_spool_next) {
        struct dirent **ents;
        int n = scandir(dir, &ents, is_batch, by_name);
        g_spool_next = 1;
        for (int i = 0; i < n; i++) {
            unsigned long long v = strtoull(ents[i]->d_name, NULL, 10);
            if (v >= g_spool_next)
                g_spool_next = v + 1;
            free(ents[i]);
        }
        if (n > 0)
            free(ents);
    }
    unsigned long long num = g_spool_next++;
    pthread_mutex_unlock(&g_spool_lock);
    snprintf(path, sizeof path, "%s/%020llu.json", dir, num);
    int rc = nd_write_file_atomic(path, batch_json, len, do_fsync);
    if (rc == 0 && do_fsync) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (rc == 0 && g_spool_max)
        trim(dir);
    return rc;
}

static char *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size > (64 << 20)) {
        close(fd);
        return NULL;
    }
    char *b = malloc((size_t)st.st_size + 1);
    ssize_t k = b ? read(fd, b, (size_t)st.st_size) : -1;
    close(fd);
    if (k != st.st_size) {
        free(b);
        return NULL;
    }
    b[k] = 0;
    *len = (size_t)k;
    return b;
}

int nd_spool_flush(const nd_conf *c, int *sent, char *err, size_t errlen)
{
    *sent = 0;
    if (pthread_mutex_trylock(&g_flush_lock) != 0)
        return 0; /* another job is sending: it sends ours too, in order */
    int rc = 0;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/spool", c->state_dir);
    struct dirent **ents;
    int n = scandir(dir, &ents, is_batch, by_name);
    if (n < 0) {
        pthread_mutex_unlock(&g_flush_lock);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
        size_t len;
        char *body = rc == 0 ? read_all(path, &len) : NULL;
        if (rc == 0 && body) {
            char url[1024];
            snprintf(url, sizeof url, "%s/v1/billing/ingest", c->bill_url);
            st_httpc_req q = {.method = "POST",
                              .url = url,
                              .bearer = c->credential,
                              .body = body,
                              .body_len = len,
                              .timeout_ms = 30000};
            st_httpc_resp r;
            long st = st_httpc(&q, &r, err, errlen);
            if (st == 200) {
                unlink(path);
                (*sent)++;
            } else if (st >= 400 && st < 500) {
                char rej[4300], to[4600], m[256];
                snprintf(rej, sizeof rej, "%s/rejected", dir);
                nd_mkdirs(rej, 0700);
                snprintf(to, sizeof to, "%s/%s", rej, ents[i]->d_name);
                rename(path, to);
                st_log_fields(ST_LOG_ERROR, "meter.rejected",
                              json_pack("{s:s, s:I, s:s}", "file", to, "status", (json_int_t)st,
                                        "msg", st_httpc_err_msg(&r, m, sizeof m)));
            } else {
                if (st)
                    snprintf(err, errlen, "billing answered %ld", st);
                rc = -1; /* keep order: stop at the first batch that did not go */
            }
            st_httpc_resp_free(&r);
        }
        free(body);
        free(ents[i]);
    }
    free(ents);
    pthread_mutex_unlock(&g_flush_lock);
    return rc;
}
