/*
 * main.c - stratus-node: start-up, the loop, shutdown.
 *
 *   stratus-node --config node.conf [--set key=value ...]   (--help: every key)
 *   stratus-node --config node.conf teardown-network        remove the host's data
 *                                                           plane (the agent stopped)
 *
 * Start-up: configuration, capabilities dropped, the driver opened, every
 * instance recorded under state_dir adopted (running VMMs are found and
 * watched, not restarted), the data plane opened (netstep.c), then the
 * timers: heartbeat, reconcile, metering, console, spool, network. SIGTERM/SIGINT stop the agent
 * cleanly once the jobs in flight end; VMMs keep running (a new agent adopts them).
 * SIGHUP reopens log.file and applies log.level (st_service_reload).
 */
#include "agent.h"
#include "jail.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stratus/log.h"
#include "stratus/service.h"

static void on_stop_closed(uv_handle_t *h) {}

/* log file and log.level, as every service (service.h) */
static uv_signal_t sig_hup;

static void on_signal(uv_signal_t *s, int sig)
{
    nd_agent *a = s->data;
    st_info("node.signal", "signal %d: stopping (VMMs keep running)", sig);
    a->stopping = 1;
    a->lp_abort = 1; /* a held long-poll gives up (longpoll.c) */
    uv_timer_t *ts[] = {&a->t_hb,    &a->t_rec,      &a->t_meter, &a->t_console,
                        &a->t_spool, &a->t_image_gc, &a->t_fence};
    for (int i = 0; i < 7; i++)
        uv_close((uv_handle_t *)ts[i], on_stop_closed);
    nd_net_stop(a, on_stop_closed);
    uv_close((uv_handle_t *)&a->sig_term, on_stop_closed);
    uv_close((uv_handle_t *)&a->sig_int, on_stop_closed);
    uv_close((uv_handle_t *)&sig_hup, on_stop_closed); /* an open handle keeps the loop */
    for (nd_inst *in = a->insts; in; in = in->next)
        nd_watch_stop(in);
}

/* jail.enabled and cgroup.enabled: auto is on where it works here; true
 * refuses to start without it. -1 when a required one cannot be had. */
static int jail_conf(const nd_conf *c, nd_jail_conf *j)
{
    char err[512];
    int cg_version = 0;
    memset(j, 0, sizeof *j);
    j->uid_base = (unsigned)c->jail_uid_base;
    j->uid_count = (unsigned)c->jail_uid_count;
    j->state_dir = c->state_dir;
    j->cg_parent = c->cg_parent;
    j->mem_overhead_mib = c->cg_overhead_mib;
    j->cpu_max = !strcmp(c->cg_cpu_max, "vcpus")   ? ND_CPU_MAX_VCPUS
                 : !strcmp(c->cg_cpu_max, "share") ? ND_CPU_MAX_SHARE
                                                   : ND_CPU_MAX_NONE;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    j->overcommit = cpus > 0 && c->vcpus > cpus ? (double)c->vcpus / (double)cpus : 1;
    if (strcmp(c->jail_enabled, "false") != 0) {
        j->on =
            c->jail_uid_count > 0 && c->jail_uid_base > 0 && nd_jail_supported(j, err, sizeof err);
        if (c->jail_uid_count <= 0 || c->jail_uid_base <= 0)
            snprintf(err, sizeof err, "jail.uid_base and jail.uid_count must be positive");
        if (!j->on && !strcmp(c->jail_enabled, "true")) {
            st_error("node.jail", "jail.enabled = true but no jail can be made here: %s", err);
            return -1;
        }
        if (!j->on)
            st_warn("node.jail", "VMMs run unjailed (as root, in the host's namespaces): %s", err);
    }
    if (strcmp(c->cg_enabled, "false") != 0) {
        cg_version = j->on ? nd_cgroup_supported(c->cg_parent, err, sizeof err) : 0;
        j->cg_on = cg_version > 0;
        if (!j->on)
            snprintf(err, sizeof err, "instance cgroups come with the jail, which is off");
        if (!j->cg_on && !strcmp(c->cg_enabled, "true")) {
            st_error("node.cgroup", "cgroup.enabled = true but: %s", err);
            return -1;
        }
        if (!j->cg_on)
            st_warn("node.cgroup", "instances get no cgroup (no CPU or memory limit): %s", err);
    }
    st_info("node.jail", "jail %s (uids %u..%u), cgroups %s (%s, v%d)", j->on ? "on" : "off",
            j->uid_base, j->uid_base + j->uid_count - 1, j->cg_on ? "on" : "off", c->cg_parent,
            cg_version);
    return 0;
}

static nd_driver *open_driver(const nd_conf *c)
{
    char err[512];
    nd_driver *d = NULL;
    if (!strcmp(c->driver, "vmm")) {
        static nd_jail_conf jc;
        if (jail_conf(c, &jc) < 0)
            return NULL;
        nd_vmm_opts o = {.vmm_path = c->vmm_path, .log_level = c->vmm_log_level, .jail = &jc};
        d = nd_driver_vmm_new(&o, err, sizeof err);
    } else if (!strcmp(c->driver, "libvirt")) {
        d = nd_driver_libvirt_new(c->libvirt_uri, err, sizeof err);
    } else {
        snprintf(err, sizeof err, "driver must be vmm or libvirt");
    }
    if (!d)
        st_error("node.driver", "%s", err);
    return d;
}

static void on_hup(uv_signal_t *h, int sig)
{
    st_service_reload();
}

int main(int argc, char **argv)
{
    static nd_agent a;
    a.cfg = nd_conf_load(argc, argv, &a.c);
    st_service_log_init("node", a.cfg);
    gethostname(a.hostname, sizeof a.hostname - 1);
    if (!*a.c.node_name)
        a.c.node_name = a.hostname;
    if (a.c.command) { /* teardown-network: the data plane's objects, then exit */
        int rc = nd_net_teardown(&a.c);
        st_config_free(a.cfg);
        return rc < 0 ? 1 : 0;
    }
    if (!*a.c.credential) {
        st_error("node.config", "node.credential is required (stratus-gateway node-add NAME)");
        return 2;
    }
    char err[512], v[16];
    if (a.c.drop_caps &&
        nd_caps_drop(a.c.external_if[0] != 0, strcmp(a.c.jail_enabled, "false") != 0, err,
                     sizeof err) < 0) {
        st_error("node.caps", "%s", err);
        return 1;
    }
    snprintf(v, sizeof v, "%lld", a.c.threads);
    setenv("UV_THREADPOOL_SIZE", v, 1); /* read once, at the first queued work */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = nd_mkdirs(a.c.state_dir, 0700);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/instances", a.c.state_dir);
    if (rc == 0)
        rc = nd_mkdirs(sub, 0700);
    if (rc < 0) {
        st_error("node.state", "%s: %s", a.c.state_dir, strerror(-rc));
        return 1;
    }
    a.drv = open_driver(&a.c);
    if (!a.drv)
        return 1;
    if (nd_status_start(&a, st_config_str(a.cfg, "http.listen"),
                        st_config_str(a.cfg, "http.port_file")) < 0)
        return 1;
    nd_spool_set_limit(a.c.spool_max_mib << 20);
    a.loop = uv_default_loop();
    st_info("node.start", "node %s, driver %s, state %s, capacity %lld vCPUs %lld MiB %lld GiB",
            a.c.node_name, a.drv->ops->name, a.c.state_dir, a.c.vcpus, a.c.memory_mib,
            a.c.disk_gib);
    nd_adopt_all(&a);
    uv_signal_init(a.loop, &a.sig_term);
    uv_signal_init(a.loop, &a.sig_int);
    a.sig_term.data = a.sig_int.data = &a;
    uv_signal_start(&a.sig_term, on_signal, SIGTERM);
    uv_signal_start(&a.sig_int, on_signal, SIGINT);
    uv_signal_init(a.loop, &sig_hup);
    uv_signal_start(&sig_hup, on_hup, SIGHUP);
    if (nd_net_start(&a) < 0)
        return 1;
    nd_fence_start(&a);
    nd_periodic_start(&a);
    nd_reconcile_start(&a);
    uv_run(a.loop, UV_RUN_DEFAULT);
    uv_loop_close(a.loop);
    for (nd_inst *in = a.insts, *next; in; in = next) {
        next = in->next;
        free(in->want.user_data);
        free(in->want.ssh_key);
        free(in);
    }
    free(a.evacuated);
    nd_status_stop();
    nd_net_free(&a);
    a.drv->ops->free(a.drv);
    curl_global_cleanup();
    st_config_free(a.cfg);
    st_info("node.exit", "stopped");
    return 0;
}
