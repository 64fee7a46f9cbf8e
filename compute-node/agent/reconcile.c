/*
 * reconcile.c - making this host match the gateway's desired set.
 *
 * Level-triggered: every interval.reconcile_ms (and at once when the
 * desired set's long-poll, longpoll.c, says it changed) the agent fetches
 * the whole desired set and, for each instance without a job in flight, compares the
 * order (generation, desired, reboot_seq) with its own record. While the
 * long-poll holds, the set is fetched only every interval.resync_ms and the
 * passes between compare against the set held:
 *
 *   new generation, or the record still "applying" (a kill -9 cut it short):
 *     running  + VM runs       -> reset if reboot_seq grew, else just report active
 *     running  + no VM         -> launch (image, overlay, VMM), report active
 *     stopped  + VM runs       -> stop, report stopped
 *     stopped  + no VM         -> report stopped
 *     deleted                  -> stop, remove disk and state, report deleted
 *     snapshot_image_id set    -> snapshot.c (the VM paused around the copy,
 *                                 if it runs), report the state as it is,
 *                                 naming the image (and the fault)
 *   same generation, done: report again only if the gateway's state differs
 *     from what is true here (and the gateway did not refuse that already).
 *
 * The generation is what keeps a powered-off guest from being restarted
 * behind the tenant's back: the agent acts on each order once; a VMM that
 * exits on its own is reported (stopped for a guest power-off, error with the
 * exit status otherwise) and stays down until a new order arrives.
 *
 * Every job writes the record with phase "applying" before it acts and
 * "done" after, and every action is idempotent (launch reuses a VMM it finds
 * for the instance; stop and delete of nothing succeed), so a restarted
 * agent simply redoes what was applying. A report answered 409 is stale:
 * the agent notes it and re-reads the desired set instead of insisting.
 *
 * Instances the gateway no longer lists (in error, moved away) keep their
 * disk; a VM still running for one after two fetches is stopped, so a moved
 * instance can never run twice. One the gateway lists under `evacuated`
 * (rebuilt elsewhere while this host was silent) is removed - VM, disk and
 * record - and its removal confirmed, whereupon it leaves that list.
 *
 * Live migration (api-gateway/migrate.c has the protocol). An instance
 * in the set's `incoming` is started here as an incoming VM once its taps
 * exist (JOB_INCOMING: its disk from vm.shared_disk_dir, a port of
 * migration.ports, the VMM listening on migration.address) and the
 * gateway is told where it listens; when the entry goes, the instance is
 * either listed here (the migration completed: its new generation finds
 * the VM running and reports it active) or not (failed or cancelled: the
 * incoming VM and its directory go, never the shared disk). An instance
 * whose entry carries `migration` is sent (JOB_MIGRATE): PUT, then GET
 * every 500 ms with the progress reported each second, DELETE when the
 * gateway says cancel (or the fence, or a delete, cuts in); completed, its
 * record says stopped and a marker file `migrated` is written before the
 * VMM is stopped and the outcome reported, so no exit report ("stopped")
 * ever reaches the gateway for it - which would fail the migration and
 * drop the only running copy - and a restarted agent reports completed
 * again instead.
 *
 * While the agent is fenced (fence.c: no heartbeat taken for fence.timeout)
 * every running VM is force-stopped and nothing is started; once the fence
 * lifts, the VMs it stopped that the gateway still wants running here are
 * launched again.
 */
#include "agent.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stratus/log.h"
#include "stratus/uuid.h"

typedef enum job_kind {
    JOB_LAUNCH,
    JOB_STOP,
    JOB_RESET,
    JOB_DESTROY,
    JOB_REPORT,        /* save the record, report its state */
    JOB_EXITED,        /* a VMM ended on its own */
    JOB_PARK,          /* stop a VM the gateway no longer lists; no report */
    JOB_POLL,          /* is a VM with no pidfd (libvirt) still running? */
    JOB_SNAPSHOT,      /* the disk into the order's snapshot image (snapshot.c) */
    JOB_SNAP_REPORT,   /* a snapshot taken whose report the gateway has not accepted yet */
    JOB_FENCE,         /* the fence: stop the VM at once; no report */
    JOB_EVACUATED,     /* remove what is left of an instance evacuated from here; confirm */
    JOB_INCOMING,      /* start an incoming VM for a live migration, report where it listens */
    JOB_INCOMING_DROP, /* a migration here ended otherwise: the incoming VM and record go */
    JOB_MIGRATE,       /* send the VM to the target, report progress and the outcome */
    JOB_MIG_REPORT,    /* a completed migration whose report the gateway has not taken */
} job_kind;

static const char *const job_names[] = {
    "launch",   "stop",          "reset",    "destroy",         "report", "exited",
    "park",     "poll",          "snapshot", "snapshot report", "fence",  "evacuated",
    "incoming", "incoming drop", "migrate",  "migration report"};

typedef struct job {
    uv_work_t w;
    nd_agent *a;
    nd_inst *in;
    job_kind kind;
    nd_record rec;
    char *user_data;
    char gw_state[16];
    int pidfd;    /* dup of the watched pidfd (stop, destroy), or -1 */
    int maybe_vm; /* a VMM may exist already (the record was applying) */
    int exit_code, exit_sig, exit_known;
    /* results */
    int new_pidfd;
    int remove_inst;
    int poll_gone; /* JOB_POLL found the VM gone (exit_code, exit_sig) */
    long report_status;
    char reported[16];   /* the state the last report carried */
    nd_stop_how stopped; /* how this job's stop ended: its report says so */
    /* live migration */
    char mid[ND_ID_LEN];   /* the migration */
    nd_mig_order mig;      /* JOB_MIGRATE: the order */
    int mig_completed;     /* JOB_MIGRATE: the VM went to the target and was stopped here */
    int mig_reported;      /* the outcome's report was taken (or is moot) */
    int incoming_reported; /* JOB_INCOMING: the listening report was taken */
    long long mig_downtime_ms, mig_total_ms;
    char mig_end[16], mig_error[256]; /* a failed or cancelled one's outcome ("" completed) */
    long long t_queued, t_start, t_image, t_vm; /* launch timings, ms */
    char err[512];
} job;

nd_inst *nd_inst_find(nd_agent *a, const char *id)
{
    for (nd_inst *in = a->insts; in; in = in->next)
        if (!strcmp(in->rec.o.id, id))
            return in;
    return NULL;
}

static nd_inst *inst_new(nd_agent *a, const char *id)
{
    nd_inst *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    snprintf(in->rec.o.id, sizeof in->rec.o.id, "%s", id);
    in->rec.phase = ND_PHASE_DONE;
    in->rec.actual = ND_ACTUAL_NONE;
    in->pidfd = -1;
    in->refused_gen = -1;
    in->snap_ok_gen = -1;
    in->next = a->insts;
    a->insts = in;
    return in;
}

static void inst_free(nd_agent *a, nd_inst *in)
{
    for (nd_inst **p = &a->insts; *p; p = &(*p)->next)
        if (*p == in) {
            *p = in->next;
            break;
        }
    nd_watch_stop(in);
    free(in->want.user_data);
    free(in->want.ssh_key);
    free(in);
}

static int vm_running(const nd_inst *in)
{
    return in->rec.actual == ND_ACTUAL_RUNNING;
}

/* ---- jobs (thread pool) ---- */

static void save(job *j)
{
    int rc = nd_record_save(j->a->c.state_dir, &j->rec, j->a->c.state_fsync);
    if (rc < 0)
        st_error("node.state", "saving the record of %s: %s", j->rec.o.id, strerror(-rc));
}

static void report(job *j, const char *state, const char *fault, int retryable)
{
    char err[512] = "";
    int active = !strcmp(state, "active");
    snprintf(j->reported, sizeof j->reported, "%s", state);
    int snap = j->kind == JOB_SNAPSHOT || j->kind == JOB_SNAP_REPORT;
    j->report_status = nd_gw_report(
        &j->a->c, j->rec.o.id, state, j->rec.o.generation, active ? j->rec.o.reboot_seq : -1,
        nd_stop_how_name(j->stopped), fault, retryable, snap ? j->rec.o.snapshot_image : NULL,
        snap && j->rec.snapshot_fault[0] ? j->rec.snapshot_fault : NULL, err, sizeof err);
    nd_metric_inc("reports", j->report_status == 409                             ? "stale"
                             : j->report_status >= 200 && j->report_status < 300 ? "ok"
                                                                                 : "failed");
    if (j->report_status == 409)
        st_info("node.report.stale", "%s: %s refused as stale: %s", j->rec.o.id, state, err);
    else if (j->report_status < 200 || j->report_status > 299)
        st_warn("node.report", "%s: reporting %s: %s", j->rec.o.id, state, err);
}

static void begin(job *j, nd_want target)
{
    j->rec.target = target;
    j->rec.phase = ND_PHASE_APPLYING;
    save(j);
}

static void done(job *j)
{
    j->rec.phase = ND_PHASE_DONE;
    save(j);
}

static void vm_gone(job *j, nd_actual actual)
{
    nd_meter_final(j->a, &j->rec, actual == ND_ACTUAL_ERROR ? "error" : "stopped");
    j->rec.vm.pid = 0;
    j->rec.vm.start = 0;
    j->rec.actual = actual;
}

static void do_launch(job *j)
{
    nd_agent *a = j->a;
    const char *dir = nd_inst_dir(a->c.state_dir, j->rec.o.id);
    char dirbuf[4200];
    snprintf(dirbuf, sizeof dirbuf, "%s", dir);
    j->t_start = nd_now_ms();
    begin(j, ND_WANT_RUNNING); /* the record first: a kill from here on is redone */
    nd_vm_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.id = j->rec.o.id;
    spec.dir = dirbuf;
    spec.vcpus = j->rec.o.vcpus;
    spec.memory_mib = j->rec.o.memory_mib;
    if (!j->maybe_vm) {
        j->rec.vm.pid = 0; /* nothing can run yet: skip the /proc scan */
        j->rec.vm.start = 0;
        spec.fresh = 1;
    }
    int rc = nd_spec_ports(&j->rec.o, &spec, j->err, sizeof j->err);
    if (rc == 0)
        rc = nd_image_prepare(&a->c, &j->rec, j->user_data, &spec, j->err, sizeof j->err);
    j->t_image = nd_now_ms();
    if (rc == 0) {
        int fd = -1;
        rc = a->drv->ops->launch(a->drv, &spec, &j->rec.vm, &fd, j->err, sizeof j->err);
        j->new_pidfd = fd;
    }
    j->t_vm = nd_now_ms();
    nd_metric_inc("launches", rc == 0 ? "ok" : "failed");
    if (rc == 0) {
        nd_metric_launch_seconds((double)(j->t_vm - j->t_start) / 1000.0);
        j->rec.actual = ND_ACTUAL_RUNNING;
        j->rec.fault[0] = 0;
        j->rec.launched_once = 1;
        done(j);
        st_log_fields(ST_LOG_INFO, "node.launch",
                      json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "instance", j->rec.o.id, "pid",
                                (int)j->rec.vm.pid, "queued_ms",
                                (json_int_t)(j->t_start - j->t_queued), "record_image_disk_ms",
                                (json_int_t)(j->t_image - j->t_start), "vmm_ms",
                                (json_int_t)(j->t_vm - j->t_image), "generation",
                                (json_int_t)j->rec.o.generation));
        report(j, "active", NULL, 0);
        return;
    }
    /* The launch failed on this host. A first launch (still building here,
     * no disk that ever ran) is retryable elsewhere: clean up everything. */
    int retry = !strcmp(j->gw_state, "building") && !j->rec.launched_once;
    st_log_fields(
        ST_LOG_WARN, "node.launch_failed",
        json_pack("{s:s, s:s, s:b}", "instance", j->rec.o.id, "fault", j->err, "retryable", retry));
    if (retry) {
        nd_rmtree(dirbuf);
        j->remove_inst = 1;
    } else {
        j->rec.actual = ND_ACTUAL_ERROR;
        snprintf(j->rec.fault, sizeof j->rec.fault, "%.255s", j->err);
        done(j);
    }
    report(j, "error", j->err, retry);
}

/* park: no order, no report (a VM no longer listed, or the fence's: then
 * at once, without the guest's grace). */
static void do_stop(job *j, int park)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    if (!park)
        begin(j, ND_WANT_STOPPED);
    int now = j->rec.o.stop_force || j->kind == JOB_FENCE;
    a->drv->ops->stop(a->drv, dir, &j->rec.vm, j->pidfd, now ? 0 : a->c.stop_timeout_ms,
                      &j->in->hurry, &j->stopped, j->err, sizeof j->err);
    if (j->stopped != ND_STOP_NONE)
        st_info("node.stop", "%s: %s", j->rec.o.id, nd_stop_how_name(j->stopped));
    vm_gone(j, ND_ACTUAL_STOPPED);
    done(j);
    if (!park)
        report(j, "stopped", NULL, 0);
}

/* A reboot. Soft (the default): the power button, the grace period, forced
 * after it, then a fresh boot, as OpenStack's soft reboot and EC2's reboot
 * do; the report says how the stop ended. Hard: a reset at once. */
static void do_reset(job *j)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    begin(j, ND_WANT_RUNNING);
    if (!j->rec.o.reboot_hard) {
        a->drv->ops->stop(a->drv, dir, &j->rec.vm, j->pidfd, a->c.stop_timeout_ms, &j->in->hurry,
                          &j->stopped, j->err, sizeof j->err);
        st_info("node.reboot", "%s: stop %s, booting again", j->rec.o.id,
                nd_stop_how_name(j->stopped) ? nd_stop_how_name(j->stopped) : "(not running)");
        vm_gone(j, ND_ACTUAL_STOPPED);
        j->err[0] = 0;
        j->maybe_vm = 0;
        if (nd_hurried(&j->in->hurry)) {
            done(j); /* a delete came meanwhile: it follows, no new boot first */
            return;
        }
        do_launch(j);
        return;
    }
    if (a->drv->ops->reset(a->drv, dir, &j->rec.vm, j->err, sizeof j->err) < 0) {
        /* The VM is not there to reset (its guest just powered off, say):
         * a reboot of a machine that is off is a boot. */
        st_warn("node.reset", "%s: %s; booting it instead", j->rec.o.id, j->err);
        nd_stop_how how;
        a->drv->ops->stop(a->drv, dir, &j->rec.vm, j->pidfd, 0, NULL, &how, j->err, sizeof j->err);
        vm_gone(j, ND_ACTUAL_STOPPED);
        j->err[0] = 0;
        j->maybe_vm = 0;
        do_launch(j);
        return;
    }
    done(j);
    report(j, "active", NULL, 0);
}

/* An instance evacuated from this host: its VM (stopped by the fence, if
 * it ran) and its directory go, then the gateway is told. No report: the
 * instance is another host's now. */
static void do_evacuated(job *j)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    if (access(dir, F_OK) == 0) {
        nd_stop_how how;
        a->drv->ops->stop(a->drv, dir, &j->rec.vm, j->pidfd, 0, NULL, &how, j->err, sizeof j->err);
        a->drv->ops->destroy(a->drv, dir, &j->rec.vm, j->pidfd, j->err, sizeof j->err);
        if (j->rec.actual == ND_ACTUAL_RUNNING)
            vm_gone(j, ND_ACTUAL_STOPPED);
        if (nd_rmtree(dir) < 0) {
            st_error("node.evacuated", "%s: removing %s: %s", j->rec.o.id, dir, strerror(errno));
            return; /* tried again on a later pass */
        }
        st_info("node.evacuated", "%s: evacuated from this node: VM and %s removed", j->rec.o.id,
                j->rec.o.rbd ? "local files (its disk on Ceph is the new host's)" : "disk");
    }
    char err[512] = "";
    long st = nd_gw_evacuated(&a->c, j->rec.o.id, err, sizeof err);
    if (st != 204)
        st_warn("node.evacuated", "%s: confirming the removal: %s", j->rec.o.id, err);
    j->remove_inst = 1;
}

static void do_destroy(job *j)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    if (access(dir, F_OK) == 0) {
        begin(j, ND_WANT_DELETED);
        nd_stop_how how; /* a delete does not ask the guest: OpenStack and EC2 do not either */
        a->drv->ops->stop(a->drv, dir, &j->rec.vm, j->pidfd, 0, NULL, &how, j->err, sizeof j->err);
        a->drv->ops->destroy(a->drv, dir, &j->rec.vm, j->pidfd, j->err, sizeof j->err);
        if (j->rec.actual == ND_ACTUAL_RUNNING)
            vm_gone(j, ND_ACTUAL_STOPPED);
        if (nd_rmtree(dir) < 0)
            st_error("node.delete", "%s: removing %s: %s", j->rec.o.id, dir, strerror(errno));
        if (a->c.shared_disk_dir && *a->c.shared_disk_dir) { /* its disk on shared storage */
            char disk[4200];
            nd_shared_disk_path(&a->c, j->rec.o.id, disk, sizeof disk);
            if (unlink(disk) < 0 && errno != ENOENT)
                st_error("node.delete", "%s: removing %s: %s", j->rec.o.id, disk, strerror(errno));
        }
    }
    /* A disk on Ceph outlives hosts (an evacuated instance's leftovers elsewhere keep it):
     * only the deletion removes it, from whichever host the instance is on. */
    char err[400];
    if (j->rec.o.rbd && nd_image_remove_rbd(&a->c, j->rec.o.id, err, sizeof err) < 0)
        st_error("node.delete", "%s: removing its disk on Ceph: %s", j->rec.o.id, err);
    j->remove_inst = 1;
    report(j, "deleted", NULL, 0);
}

static void do_exited(job *j)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    nd_vm_exit x;
    a->drv->ops->exit_status(a->drv, dir, &j->rec.vm, j->exit_code, j->exit_sig, j->exit_known, &x);
    int clean = x.stopped, code = x.code, sig = x.signal;
    if (clean) {
        vm_gone(j, ND_ACTUAL_STOPPED);
    } else {
        snprintf(j->rec.fault, sizeof j->rec.fault, "%s", x.fault);
        vm_gone(j, ND_ACTUAL_ERROR);
    }
    done(j);
    nd_metric_inc("vm_exits", clean ? "stopped" : "error");
    st_log_fields(ST_LOG_WARN, "node.vm_exited",
                  json_pack("{s:s, s:i, s:i, s:s}", "instance", j->rec.o.id, "code", code, "signal",
                            sig, "state", nd_actual_name(j->rec.actual)));
    if (clean)
        report(j, "stopped", NULL, 0);
    else
        report(j, "error", j->rec.fault, 0);
}

/* The state as it is here, reported (a snapshot's report names its image). */
static void report_actual(job *j)
{
    if (j->rec.actual == ND_ACTUAL_RUNNING)
        report(j, "active", NULL, 0);
    else if (j->rec.actual == ND_ACTUAL_ERROR)
        report(j, "error", j->rec.fault, 0);
    else if (j->rec.actual == ND_ACTUAL_NONE && j->rec.target == ND_WANT_DELETED)
        report(j, "deleted", NULL, 0);
    else
        report(j, "stopped", NULL, 0);
}

static void do_report(job *j)
{
    save(j);
    report_actual(j);
}

/* A snapshot of the disk (snapshot.c); the VM's state is what it was. The
 * record is applying meanwhile, so an agent killed mid-copy takes it again. */
static void do_snapshot(job *j)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    begin(j, j->rec.target);
    long long t0 = nd_now_ms();
    int failed =
        nd_snapshot_take(&a->c, a->drv, dir, &j->rec.vm, j->rec.actual == ND_ACTUAL_RUNNING,
                         j->rec.o.snapshot_image, j->err, sizeof j->err) < 0;
    snprintf(j->rec.snapshot_fault, sizeof j->rec.snapshot_fault, "%.255s", failed ? j->err : "");
    done(j); /* the outcome is kept: a report that does not get through is sent again */
    st_log_fields(failed ? ST_LOG_WARN : ST_LOG_INFO, "node.snapshot",
                  json_pack("{s:s, s:s, s:b, s:I, s:s}", "instance", j->rec.o.id, "image",
                            j->rec.o.snapshot_image, "ok", !failed, "ms",
                            (json_int_t)(nd_now_ms() - t0), "fault", j->err));
    report_actual(j);
}

static void do_poll(job *j)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    nd_vm_status st;
    int fd = -1;
    a->drv->ops->status(a->drv, dir, &j->rec.vm, &st, &fd);
    if (fd >= 0)
        close(fd);
    if (st.state == ND_VM_EXITED || st.state == ND_VM_ABSENT) {
        j->poll_gone = 1;
        j->exit_code = st.exit_code;
        j->exit_sig = st.signal;
    }
}

/* ---- live migration (jobs) ---- */

/* A migration report; the gateway's answer says where the migration stands
 * (*state), "" when it did not answer. */
static long mig_report(job *j, json_t *body, char *state, size_t statelen)
{
    char err[512] = "";
    long st = nd_gw_migration(&j->a->c, j->mid, body, state, statelen, err, sizeof err);
    json_decref(body);
    if (st < 200 || st > 299)
        st_warn("node.migration", "%s: migration %s: report: %s", j->rec.o.id, j->mid, err);
    return st;
}

/* The gateway has the outcome (200), or it is moot: the migration is not
 * this node's (404) or ended otherwise (409). */
static int taken(long status)
{
    return status == 200 || status == 404 || status == 409;
}

/* The address incoming VMMs listen on. */
static const char *mig_address(const nd_conf *c)
{
    return c->mig_address && *c->mig_address ? c->mig_address
           : c->tunnel_ip[0]                 ? c->tunnel_ip
                                             : "127.0.0.1";
}

/* A port of migration.ports nothing listens on at addr now, tried from a
 * point the migration's id picks (two incoming VMs rarely race for one);
 * -1 when none. */
static int free_port(const nd_conf *c, const char *addr, const char *mid)
{
    long n = c->mig_port_hi - c->mig_port_lo + 1;
    unsigned h = 2166136261u;
    for (const char *p = mid; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (n <= 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return -1;
    for (long k = 0; k < n; k++) {
        long port = c->mig_port_lo + (long)((h + (unsigned long)k) % (unsigned long)n);
        sa.sin_port = htons((uint16_t)port);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1, ok = fd >= 0 &&
                          setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
                          bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return (int)port;
    }
    return -1;
}

/* The target: the instance started as an incoming VM on a free port, the
 * gateway told where it listens (or that it could not). */
static void do_incoming(job *j)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    nd_mkdirs(dir, 0700);
    begin(j, ND_WANT_RUNNING);
    nd_vm_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.id = j->rec.o.id;
    spec.dir = dir;
    spec.vcpus = j->rec.o.vcpus;
    spec.memory_mib = j->rec.o.memory_mib;
    spec.fresh = !j->maybe_vm;
    char uri[96] = "", saved[200] = "", upath[4300];
    const char *addr = mig_address(&a->c);
    snprintf(upath, sizeof upath, "%s/incoming", dir);
    FILE *uf = j->maybe_vm ? fopen(upath, "r") : NULL;
    if (uf) {
        if (!fgets(saved, sizeof saved, uf))
            saved[0] = 0;
        fclose(uf);
    }
    /* an incoming VM this job (or an agent before a restart) started for this
     * migration: it listens where it did; told again */
    size_t ml = strlen(j->mid);
    if (!strncmp(saved, j->mid, ml) && saved[ml] == ' ') {
        nd_vm_status vs;
        int fd = -1;
        a->drv->ops->status(a->drv, dir, &j->rec.vm, &vs, &fd);
        if (vs.state == ND_VM_RUNNING || vs.state == ND_VM_NOT_STARTED) {
            snprintf(uri, sizeof uri, "%.*s", (int)strcspn(saved + ml + 1, "\n"), saved + ml + 1);
            j->new_pidfd = fd;
            j->rec.actual = ND_ACTUAL_RUNNING;
            done(j);
            char state[16];
            j->incoming_reported =
                mig_report(j, json_pack("{s:s, s:s}", "state", "listening", "uri", uri), state,
                           sizeof state) == 200;
            return;
        }
        if (fd >= 0)
            close(fd);
    }
    int rc = nd_spec_ports(&j->rec.o, &spec, j->err, sizeof j->err);
    if (rc == 0)
        rc = nd_image_prepare(&a->c, &j->rec, j->user_data, &spec, j->err, sizeof j->err);
    int port = rc == 0 ? free_port(&a->c, addr, j->mid) : -1;
    if (rc == 0 && port < 0) {
        snprintf(j->err, sizeof j->err, "no free port in migration.ports on %s", addr);
        rc = -1;
    }
    if (rc == 0) {
        snprintf(uri, sizeof uri, "tcp:%s:%d", addr, port);
        int fd = -1;
        rc = a->drv->ops->launch_incoming(a->drv, &spec, uri, &j->rec.vm, &fd, j->err,
                                          sizeof j->err);
        j->new_pidfd = fd;
    }
    if (rc == 0) {
        char line[200];
        snprintf(line, sizeof line, "%s %s\n", j->mid, uri);
        nd_write_file_atomic(upath, line, strlen(line), a->c.state_fsync);
    }
    j->rec.actual = rc == 0 ? ND_ACTUAL_RUNNING : ND_ACTUAL_NONE;
    done(j);
    st_log_fields(rc == 0 ? ST_LOG_INFO : ST_LOG_WARN, "node.migration.incoming",
                  json_pack("{s:s, s:s, s:s, s:s}", "instance", j->rec.o.id, "migration", j->mid,
                            "uri", uri, "fault", rc == 0 ? "" : j->err));
    char state[16];
    long st = mig_report(j,
                         rc == 0 ? json_pack("{s:s, s:s}", "state", "listening", "uri", uri)
                                 : json_pack("{s:s, s:s}", "state", "failed", "error", j->err),
                         state, sizeof state);
    j->incoming_reported = st == 200;
}

/* The target: a migration here that ended otherwise (or whose incoming VMM
 * exited, which the gateway is told): the incoming VM and the instance's
 * directory go - the link to a shared disk, never the disk itself. */
static void do_incoming_drop(job *j)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    a->drv->ops->destroy(a->drv, dir, &j->rec.vm, j->pidfd, j->err, sizeof j->err);
    if (j->rec.actual == ND_ACTUAL_RUNNING)
        vm_gone(j, ND_ACTUAL_STOPPED);
    if (j->mid[0]) {
        char state[16];
        mig_report(j,
                   json_pack("{s:s, s:s}", "state", "failed", "error",
                             "the incoming VMM exited before the migration completed"),
                   state, sizeof state);
    }
    if (nd_rmtree(dir) < 0)
        st_error("node.migration", "%s: removing %s: %s", j->rec.o.id, dir, strerror(errno));
    st_info("node.migration", "%s: the incoming VM is gone", j->rec.o.id);
    j->remove_inst = 1;
}

/* The marker a completed migration leaves in the source's instance
 * directory until the gateway took its report: {"migration", "downtime_ms",
 * "total_ms"}. */
static void marker_path(const nd_conf *c, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/migrated", nd_inst_dir(c->state_dir, id));
}

/* The completed report, tried for up to a minute; 1 once taken (or moot:
 * the gateway says the migration is no longer this node's). */
static int report_completed(job *j)
{
    for (int k = 0; k < 60; k++) {
        json_t *b = json_pack("{s:s}", "state", "completed");
        if (j->mig_downtime_ms >= 0)
            json_object_set_new(b, "downtime_ms", json_integer(j->mig_downtime_ms));
        if (j->mig_total_ms >= 0)
            json_object_set_new(b, "total_ms", json_integer(j->mig_total_ms));
        char state[16];
        if (taken(mig_report(j, b, state, sizeof state)))
            return 1;
        sleep(1);
    }
    return 0;
}

/* A failed or cancelled migration's report (body, taken), tried for up to
 * ten seconds: the gateway must hear it, or the migration stays under way
 * until an admin cancels it again; 1 once taken. */
static int report_end(job *j, json_t *body)
{
    for (int k = 0; k < 10; k++) {
        char state[16];
        if (taken(mig_report(j, json_incref(body), state, sizeof state))) {
            json_decref(body);
            return 1;
        }
        sleep(1);
    }
    json_decref(body);
    return 0;
}

/* A failed or cancelled migration's outcome, kept for its report (again). */
static int end_migration(job *j, const char *end, const char *error)
{
    snprintf(j->mig_end, sizeof j->mig_end, "%s", end);
    snprintf(j->mig_error, sizeof j->mig_error, "%s", error ? error : "");
    json_t *b = json_pack("{s:s}", "state", end);
    if (error && *error)
        json_object_set_new(b, "error", json_string(error));
    return report_end(j, b);
}

/* A block migration completed: the target has the disk, this host's copy goes (a link to a
 * shared disk never does). */
static void drop_copied_disk(const char *id, const char *dir)
{
    char disk[4300];
    struct stat st;
    snprintf(disk, sizeof disk, "%s/disk.qcow2", dir);
    if (lstat(disk, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    if (unlink(disk) < 0)
        st_error("node.migration", "%s: removing %s: %s", id, disk, strerror(errno));
    else
        st_info("node.migration", "%s: its disk went with it (block migration): %s removed", id,
                disk);
}

/* The source: PUT /vm/migrate, then polled every 500 ms until it ends;
 * progress reported each second; a cancel (the gateway's, the fence's or a
 * delete's hurry) sent once. */
static void do_migrate(job *j)
{
    nd_agent *a = j->a;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, j->rec.o.id));
    nd_mig_params p = {.uri = j->mig.uri,
                       .downtime_ms = j->mig.downtime_ms,
                       .timeout_ms = j->mig.timeout_ms,
                       .on_timeout = j->mig.on_timeout[0] ? j->mig.on_timeout : NULL,
                       .block_migration = j->mig.block};
    char state[16];
    j->mig_downtime_ms = j->mig_total_ms = -1;
    if (__atomic_load_n(&j->in->mig_cancel, __ATOMIC_ACQUIRE)) {
        j->mig_reported = end_migration(j, "cancelled", NULL);
        return; /* cancelled before anything was sent */
    }
    st_info("node.migration", "%s: sending to %s (migration %s)", j->rec.o.id, j->mig.uri, j->mid);
    if (a->drv->ops->migrate_out(a->drv, dir, &j->rec.vm, &p, j->err, sizeof j->err) < 0) {
        j->mig_reported = end_migration(j, "failed", j->err);
        return;
    }
    int cancelled = 0, misses = 0;
    long long last_report = 0, cancel_at = 0;
    nd_mig_status ms;
    for (;;) {
        usleep(500000);
        int want_cancel =
            __atomic_load_n(&j->in->mig_cancel, __ATOMIC_ACQUIRE) || nd_hurried(&j->in->hurry);
        if (want_cancel && !cancelled) {
            cancelled = 1;
            cancel_at = nd_now_ms();
            a->drv->ops->migrate_cancel(a->drv, dir, &j->rec.vm, j->err, sizeof j->err);
        }
        if (a->drv->ops->migrate_status(a->drv, dir, &j->rec.vm, &ms, j->err, sizeof j->err) < 0) {
            if (++misses < 10)
                continue;
            ms.state = ND_MIG_FAILED; /* the VMM no longer answers */
            snprintf(ms.error, sizeof ms.error, "the source VMM does not answer: %.200s", j->err);
        }
        misses = 0;
        if (ms.state == ND_MIG_ACTIVE && cancelled && nd_now_ms() - cancel_at > 30000) {
            ms.state = ND_MIG_FAILED;
            snprintf(ms.error, sizeof ms.error, "the cancel did not end the migration in 30 s");
        }
        if (ms.state == ND_MIG_ACTIVE) {
            if (nd_now_ms() - last_report >= 1000) {
                last_report = nd_now_ms();
                long st = mig_report(j,
                                     json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "state", "active",
                                               "round", (json_int_t)ms.round, "transferred_bytes",
                                               (json_int_t)ms.transferred_bytes, "remaining_bytes",
                                               (json_int_t)ms.remaining_bytes, "total_bytes",
                                               (json_int_t)ms.total_bytes, "throttle_pct",
                                               (json_int_t)ms.throttle_pct),
                                     state, sizeof state);
                /* the gateway ended it meanwhile (the instance deleted): stop sending */
                if ((st == 409 || st == 404 || (st == 200 && strcmp(state, "migrating"))) &&
                    !cancelled)
                    __atomic_store_n(&j->in->mig_cancel, 1, __ATOMIC_RELEASE);
            }
            continue;
        }
        break;
    }
    if (ms.state == ND_MIG_COMPLETED) {
        /* The guest runs on the target now. The record says so first (no exit
         * report for it), then the marker, then the VMM is stopped (it exits
         * 0) and the gateway told. */
        nd_vm_handle vm = j->rec.vm;
        j->mig_downtime_ms = ms.downtime_ms;
        j->mig_total_ms = ms.total_ms;
        vm_gone(j, ND_ACTUAL_STOPPED);
        snprintf(j->rec.fault, sizeof j->rec.fault, "migrated away (migration %s)", j->mid);
        done(j);
        char mk[4300];
        marker_path(&a->c, j->rec.o.id, mk, sizeof mk);
        json_t *mj =
            json_pack("{s:s, s:I, s:I}", "migration", j->mid, "downtime_ms",
                      (json_int_t)j->mig_downtime_ms, "total_ms", (json_int_t)j->mig_total_ms);
        char *text = mj ? json_dumps(mj, JSON_COMPACT) : NULL;
        json_decref(mj);
        if (text)
            nd_write_file_atomic(mk, text, strlen(text), a->c.state_fsync);
        free(text);
        nd_stop_how how;
        char e[256];
        a->drv->ops->stop(a->drv, dir, &vm, j->pidfd, 0, NULL, &how, e, sizeof e);
        if (j->mig.block)
            drop_copied_disk(j->rec.o.id, dir);
        j->mig_completed = 1;
        st_log_fields(ST_LOG_INFO, "node.migration.completed",
                      json_pack("{s:s, s:s, s:I, s:I}", "instance", j->rec.o.id, "migration",
                                j->mid, "downtime_ms", (json_int_t)ms.downtime_ms, "total_ms",
                                (json_int_t)ms.total_ms));
        j->mig_reported = report_completed(j);
        if (j->mig_reported)
            unlink(mk);
        return;
    }
    const char *end = ms.state == ND_MIG_CANCELLED ? "cancelled" : "failed";
    st_warn("node.migration", "%s: migration %s %s: %s", j->rec.o.id, j->mid, end, ms.error);
    j->mig_reported = end_migration(j, end,
                                    ms.error[0]                    ? ms.error
                                    : ms.state == ND_MIG_CANCELLED ? NULL
                                                                   : "the source VMM has no"
                                                                     " migration under way");
}

/* A migration's outcome reported again (an agent that restarted, or a
 * gateway that was away): completed from the marker, or how it failed. */
static void do_mig_report(job *j)
{
    if (j->mig_end[0]) {
        j->mig_reported = end_migration(j, j->mig_end, j->mig_error);
        return;
    }
    char mk[4300];
    marker_path(&j->a->c, j->rec.o.id, mk, sizeof mk);
    j->mig_reported = report_completed(j);
    if (j->mig_reported)
        unlink(mk);
}

static void job_run(uv_work_t *w)
{
    job *j = w->data;
    switch (j->kind) {
    case JOB_POLL: do_poll(j); break;
    case JOB_LAUNCH: do_launch(j); break;
    case JOB_STOP: do_stop(j, 0); break;
    case JOB_PARK:
    case JOB_FENCE: do_stop(j, 1); break;
    case JOB_EVACUATED: do_evacuated(j); break;
    case JOB_RESET: do_reset(j); break;
    case JOB_DESTROY: do_destroy(j); break;
    case JOB_EXITED: do_exited(j); break;
    case JOB_REPORT: do_report(j); break;
    case JOB_SNAPSHOT: do_snapshot(j); break;
    case JOB_SNAP_REPORT: report_actual(j); break;
    case JOB_INCOMING: do_incoming(j); break;
    case JOB_INCOMING_DROP: do_incoming_drop(j); break;
    case JOB_MIGRATE: do_migrate(j); break;
    case JOB_MIG_REPORT: do_mig_report(j); break;
    }
}

static void decide(nd_agent *a, nd_inst *in);

/* id's leftovers are gone and the gateway told: off the list held, so the
 * passes before the next fetch do not do it again. */
static void evacuated_done(nd_agent *a, const char *id)
{
    for (size_t i = 0; i < a->nevacuated; i++)
        if (!strcmp(a->evacuated[i], id)) {
            memcpy(a->evacuated[i], a->evacuated[a->nevacuated - 1], ND_ID_LEN);
            a->nevacuated--;
            return;
        }
}

/* The set's `evacuated` becomes the list held (moved from s). */
static void take_evacuated(nd_agent *a, nd_desired_set *s)
{
    free(a->evacuated);
    a->evacuated = s->evacuated;
    a->nevacuated = s->nevacuated;
    s->evacuated = NULL;
    s->nevacuated = 0;
}

static void job_done(uv_work_t *w, int status)
{
    job *j = w->data;
    nd_agent *a = j->a;
    nd_inst *in = j->in;
    in->rec = j->rec;
    in->busy = 0;
    if (j->pidfd >= 0)
        close(j->pidfd);
    if (j->new_pidfd >= 0 && a->stopping) {
        close(j->new_pidfd); /* shutting down: the next agent adopts it */
    } else if (j->new_pidfd >= 0) {
        in->exit_seen = 0;
        nd_watch_start(a, in, j->new_pidfd);
    }
    if (j->report_status == 409) {
        in->refused_gen = in->rec.o.generation;
        nd_reconcile_kick(a);
    } else if (j->report_status >= 200 && j->report_status < 300) {
        in->refused_gen = -1;
        if (j->kind == JOB_SNAPSHOT || j->kind == JOB_SNAP_REPORT)
            in->snap_ok_gen = in->rec.o.generation;
        /* the gateway holds this now: do not report it again off a stale fetch */
        snprintf(in->gw_state, sizeof in->gw_state, "%s", j->reported);
    }
    if (j->kind == JOB_FENCE)
        in->fence_stopped = 1;
    if (j->kind == JOB_INCOMING)
        in->incoming_reported = j->incoming_reported;
    if (j->kind == JOB_MIGRATE || j->kind == JOB_MIG_REPORT) { /* never started again */
        snprintf(in->mig_done, sizeof in->mig_done, "%s", j->mid);
        __atomic_store_n(&in->mig_cancel, 0, __ATOMIC_RELEASE);
        in->mig_report_pending = !j->mig_reported;
        in->mig_downtime_ms = j->mig_downtime_ms;
        in->mig_total_ms = j->mig_total_ms;
        snprintf(in->mig_end, sizeof in->mig_end, "%s", j->mig_end);
        snprintf(in->mig_error, sizeof in->mig_error, "%s", j->mig_error);
    }
    if (j->kind == JOB_STOP || j->kind == JOB_PARK || j->kind == JOB_DESTROY ||
        j->kind == JOB_EXITED || j->kind == JOB_FENCE || j->kind == JOB_EVACUATED ||
        j->kind == JOB_INCOMING_DROP || j->mig_completed) {
        in->exit_seen = 0;
        nd_watch_stop(in); /* the VM is gone (the watcher may not have fired yet) */
    }
    free(j->user_data);
    if (j->kind == JOB_EVACUATED && j->remove_inst)
        evacuated_done(a, in->rec.o.id);
    int remove = j->remove_inst, gone = j->poll_gone, code = j->exit_code, sig = j->exit_sig;
    job_kind j_kind = j->kind;
    free(j);
    if (gone && !a->stopping) {
        nd_inst_exited(a, in, code, sig, 1);
        return;
    }
    if (remove) {
        inst_free(a, in);
        return;
    }
    if (a->stopping)
        return;
    if (in->exit_seen) {
        nd_inst_exited(a, in, in->exit_code, in->exit_sig, in->exit_known);
        return;
    }
    /* Chain the next step at once (an order that arrived meanwhile), except
     * after a bare report: a report that failed waits for the next fetch, so a
     * gateway that is down is not hammered. */
    if (in->present && j_kind != JOB_REPORT && j_kind != JOB_SNAP_REPORT &&
        j_kind != JOB_MIG_REPORT)
        decide(a, in);
}

static void dispatch(nd_agent *a, nd_inst *in, job_kind k, const char *user_data)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->w.data = j;
    j->a = a;
    j->in = in;
    j->kind = k;
    j->rec = in->rec;
    j->pidfd = -1;
    j->new_pidfd = -1;
    j->t_queued = nd_now_ms();
    j->maybe_vm = in->rec.phase != ND_PHASE_DONE || in->rec.vm.pid > 0;
    snprintf(j->gw_state, sizeof j->gw_state, "%s", in->gw_state);
    if (user_data)
        j->user_data = strdup(user_data);
    if ((k == JOB_STOP || k == JOB_PARK || k == JOB_DESTROY || k == JOB_FENCE ||
         k == JOB_EVACUATED || k == JOB_MIGRATE || k == JOB_INCOMING_DROP) &&
        in->pidfd >= 0)
        j->pidfd = dup(in->pidfd);
    if (k == JOB_INCOMING || (k == JOB_INCOMING_DROP && in->incoming_listed))
        snprintf(j->mid, sizeof j->mid, "%s", in->incoming); /* a drop while listed: an exit */
    if (k == JOB_MIGRATE) {
        j->mig = in->want.mig;
        snprintf(j->mid, sizeof j->mid, "%s", in->want.mig.id);
    }
    if (k == JOB_MIG_REPORT) {
        snprintf(j->mid, sizeof j->mid, "%s", in->mig_done);
        snprintf(j->mig_end, sizeof j->mig_end, "%s", in->mig_end);
        snprintf(j->mig_error, sizeof j->mig_error, "%s", in->mig_error);
        j->mig_downtime_ms = in->mig_downtime_ms;
        j->mig_total_ms = in->mig_total_ms;
    }
    j->exit_code = in->exit_code;
    j->exit_sig = in->exit_sig;
    j->exit_known = in->exit_known;
    in->busy = 1;
    in->busy_gen = in->want.o.generation;
    __atomic_store_n(&in->hurry, 0, __ATOMIC_RELEASE);
    if (k == JOB_MIGRATE) /* cancelled before it began: reported as such at once */
        __atomic_store_n(&in->mig_cancel, in->want.mig.cancel, __ATOMIC_RELEASE);
    st_debug("node.job", "%s %s (generation %lld)", job_names[k], in->rec.o.id,
             in->rec.o.generation);
    if (uv_queue_work(a->loop, &j->w, job_run, job_done) != 0) {
        in->busy = 0;
        if (j->pidfd >= 0)
            close(j->pidfd);
        free(j->user_data);
        free(j);
    }
}

/* The loop learned that in's VMM ended (watch.c or adoption). */
void nd_inst_exited(nd_agent *a, nd_inst *in, int code, int sig, int known)
{
    in->exit_seen = 1;
    in->exit_code = code;
    in->exit_sig = sig;
    in->exit_known = known;
    if (in->busy)
        return; /* the job in flight (a stop, say) accounts for it when it ends */
    in->exit_seen = 0;
    if (!vm_running(in))
        return;
    if (in->incoming[0] && !in->present) { /* an incoming VMM: the migration failed */
        dispatch(a, in, JOB_INCOMING_DROP, NULL);
        return;
    }
    dispatch(a, in, JOB_EXITED, NULL);
}

static const char *expected_gw_state(const nd_inst *in)
{
    if (in->rec.actual == ND_ACTUAL_RUNNING)
        return "active";
    if (in->rec.actual == ND_ACTUAL_ERROR)
        return "error";
    return "stopped";
}

static void decide(nd_agent *a, nd_inst *in)
{
    const nd_desired *w = &in->want;
    if (in->busy) {
        /* A force stop or a delete ordered while a graceful stop waits for
         * the guest ends the wait now (EC2's force stop of a stopping
         * instance); the job's end then chains the newer order. */
        if (w->o.generation > in->busy_gen &&
            (w->desired == ND_WANT_DELETED || (w->desired == ND_WANT_STOPPED && w->o.stop_force)))
            __atomic_store_n(&in->hurry, 1, __ATOMIC_RELEASE);
        if (w->mig.id[0] && w->mig.cancel) /* the gateway cancels the migration in flight */
            __atomic_store_n(&in->mig_cancel, 1, __ATOMIC_RELEASE);
        return;
    }
    if (a->stopping)
        return;
    if (a->fenced) { /* fence.c: stop what runs, start nothing, report nothing */
        if (vm_running(in))
            dispatch(a, in, JOB_FENCE, NULL);
        return;
    }
    /* a record follows the order it applies */
    int new_order = w->o.generation > in->rec.o.generation || in->rec.phase != ND_PHASE_DONE;
    if (in->fence_stopped && (new_order || w->desired != ND_WANT_RUNNING || vm_running(in)))
        in->fence_stopped = 0; /* a new order, or nothing to restart: as any other */
    if (w->desired == ND_WANT_DELETED) {
        in->rec.o.generation = w->o.generation;
        dispatch(a, in, JOB_DESTROY, NULL);
        return;
    }
    /* a live migration to carry out (no new generation: the order rides on
     * the entry while the target listens) */
    if (w->mig.id[0] && !new_order) {
        if (!strcmp(in->mig_done, w->mig.id)) {
            /* carried out; its outcome is reported until the gateway takes
             * it, and nothing else is (a completed one's VM stopped: no
             * "stopped") */
            if (in->mig_report_pending)
                dispatch(a, in, JOB_MIG_REPORT, NULL);
            return;
        }
        if (vm_running(in)) {
            dispatch(a, in, JOB_MIGRATE, NULL);
            return;
        }
    }
    /* a VM starts only on taps that exist (netstep.c makes them) */
    if (new_order && w->desired == ND_WANT_RUNNING && !vm_running(in) && !nd_net_ready(a, &w->o))
        return;
    if (new_order) {
        nd_record *r = &in->rec;
        long long done_reboot = r->o.reboot_seq;
        r->o = w->o; /* the record follows the order; reboot_seq once the reboot is done */
        r->o.reboot_seq = done_reboot;
        if (w->o.snapshot_image[0]) {
            /* the gateway takes a snapshot only of an instance with no task:
             * nothing else is ordered with it */
            dispatch(a, in, JOB_SNAPSHOT, NULL);
            return;
        }
        if (w->desired == ND_WANT_RUNNING) {
            if (vm_running(in)) {
                if (w->o.reboot_seq > r->o.reboot_seq) {
                    r->o.reboot_seq = w->o.reboot_seq;
                    /* a soft reboot boots again: the launch reads user_data (the command line) */
                    dispatch(a, in, JOB_RESET, w->user_data);
                } else {
                    r->target = ND_WANT_RUNNING;
                    r->phase = ND_PHASE_DONE;
                    dispatch(a, in, JOB_REPORT, NULL);
                }
            } else {
                r->o.reboot_seq = w->o.reboot_seq;
                dispatch(a, in, JOB_LAUNCH, w->user_data);
            }
        } else {
            if (vm_running(in)) {
                dispatch(a, in, JOB_STOP, NULL);
            } else {
                r->target = ND_WANT_STOPPED;
                r->phase = ND_PHASE_DONE;
                if (r->actual == ND_ACTUAL_NONE || r->actual == ND_ACTUAL_RUNNING)
                    r->actual = ND_ACTUAL_STOPPED;
                dispatch(a, in, JOB_REPORT, NULL);
            }
        }
        return;
    }
    /* the fence stopped it and the gateway still wants it running here: the
     * same order, carried out again (as after a kill -9 mid-launch) */
    if (in->fence_stopped) {
        if (!nd_net_ready(a, &w->o))
            return;
        in->fence_stopped = 0;
        st_info("node.fence", "%s: started again after the fence", in->rec.o.id);
        dispatch(a, in, JOB_LAUNCH, w->user_data);
        return;
    }
    /* a snapshot taken whose report has not got through (the gateway was
     * away, or the agent restarted) is reported again, never taken again */
    if (w->o.snapshot_image[0] && !strcmp(w->o.snapshot_image, in->rec.o.snapshot_image) &&
        in->snap_ok_gen != in->rec.o.generation && in->refused_gen != in->rec.o.generation) {
        dispatch(a, in, JOB_SNAP_REPORT, NULL);
        return;
    }
    if (strcmp(in->gw_state, expected_gw_state(in)) != 0 &&
        in->refused_gen != in->rec.o.generation && in->rec.actual != ND_ACTUAL_NONE)
        dispatch(a, in, JOB_REPORT, NULL);
}

/* An instance migrating here (the set's `incoming`, not its `instances`). */
static void decide_incoming(nd_agent *a, nd_inst *in)
{
    if (in->busy || a->stopping)
        return;
    if (a->fenced) {
        if (vm_running(in))
            dispatch(a, in, JOB_FENCE, NULL);
        return;
    }
    if (in->fence_stopped) { /* the fence stopped the incoming VM: this migration failed */
        in->fence_stopped = 0;
        dispatch(a, in, JOB_INCOMING_DROP, NULL);
        return;
    }
    if (in->incoming_reported)
        return; /* listening (or failed) and the gateway knows: it moves next */
    if (!vm_running(in) && !nd_net_ready(a, &in->want.o))
        return; /* its taps first (netstep.c builds the ports of incoming instances too) */
    in->rec.o = in->want.o;
    dispatch(a, in, JOB_INCOMING, in->want.user_data);
}

/* ---- the fetch ---- */

typedef struct fetch {
    uv_work_t w;
    nd_agent *a;
    long long started_ms; /* a fetch begun after the fence's heartbeat lifts it */
    long status;          /* 200, 304 (unchanged since etag), else failed */
    nd_desired_set set;
    char etag[128], etag_out[128];
    char err[512];
} fetch;

static void fetch_run(uv_work_t *w)
{
    fetch *f = w->data;
    char *body = NULL;
    size_t len = 0;
    f->status = nd_gw_desired(&f->a->c, f->etag, f->etag_out, &body, &len, f->err, sizeof f->err);
    if (f->status == 200 && nd_desired_parse(body, len, &f->set, f->err, sizeof f->err) < 0)
        f->status = -1;
    free(body);
}

static void apply(nd_agent *a, nd_desired_set *s)
{
    for (nd_inst *in = a->insts; in; in = in->next)
        in->present = in->incoming_listed = 0;
    for (size_t i = 0; i < s->n; i++) {
        nd_desired *d = &s->v[i];
        nd_inst *in = nd_inst_find(a, d->o.id);
        if (!in && !(in = inst_new(a, d->o.id)))
            continue;
        in->present = 1;
        in->absent_count = 0;
        free(in->want.user_data);
        free(in->want.ssh_key);
        in->want = *d;
        d->user_data = d->ssh_key = NULL; /* moved */
        snprintf(in->gw_state, sizeof in->gw_state, "%s", d->state);
        if (in->incoming[0]) { /* it came here by live migration: its own now */
            st_info("node.migration", "%s: migrated here (migration %s)", d->o.id, in->incoming);
            in->incoming[0] = 0;
            in->incoming_reported = 0;
        }
        decide(a, in);
    }
    for (size_t i = 0; i < s->nincoming; i++) {
        nd_incoming *g = &s->incoming[i];
        nd_inst *in = nd_inst_find(a, g->d.o.id);
        if (in && in->present)
            continue; /* the gateway does not list one in both */
        if (!in && !(in = inst_new(a, g->d.o.id)))
            continue;
        in->incoming_listed = 1;
        in->absent_count = 0;
        if (strcmp(in->incoming, g->mid)) {
            snprintf(in->incoming, sizeof in->incoming, "%s", g->mid);
            in->incoming_reported = 0;
        }
        free(in->want.user_data);
        free(in->want.ssh_key);
        in->want = g->d;
        g->d.user_data = g->d.ssh_key = NULL; /* moved */
        decide_incoming(a, in);
    }
    /* what is left of instances evacuated from here goes (never while fenced:
     * the set may be older than the fence) */
    for (size_t i = 0; i < a->nevacuated && !a->fenced; i++) {
        nd_inst *in = nd_inst_find(a, a->evacuated[i]);
        if (in && (in->present || in->busy))
            continue;
        if (!in && !(in = inst_new(a, a->evacuated[i])))
            continue;
        in->present = 0;
        dispatch(a, in, JOB_EVACUATED, NULL);
    }
    for (nd_inst *in = a->insts, *next; in; in = next) {
        next = in->next;
        if (in->present || in->incoming_listed)
            continue;
        if (in->incoming[0] && !in->busy && !a->fenced) {
            /* its migration ended without bringing it here: the incoming VM goes */
            dispatch(a, in, JOB_INCOMING_DROP, NULL);
            continue;
        }
        if (a->fenced && vm_running(in) && !in->busy) {
            dispatch(a, in, JOB_FENCE, NULL);
            continue;
        }
        if (++in->absent_count >= 2 && vm_running(in) && !in->busy) {
            st_warn("node.park", "%s is no longer listed for this node: stopping its VM",
                    in->rec.o.id);
            dispatch(a, in, JOB_PARK, NULL);
        }
    }
}

/* The gateway said the desired set is the one last fetched: decide again
 * from what each listed instance was last told (level-triggered). */
static void apply_unchanged(nd_agent *a, nd_desired_set *s)
{
    size_t n = 0, ni = 0;
    for (nd_inst *in = a->insts; in; in = in->next) {
        n += in->present;
        ni += in->incoming_listed;
    }
    s->v = calloc(n ? n : 1, sizeof *s->v);
    s->incoming = calloc(ni ? ni : 1, sizeof *s->incoming);
    if (!s->v || !s->incoming)
        return; /* an empty set would read as "all gone": decide nothing */
    for (nd_inst *in = a->insts; in; in = in->next) {
        if (!in->incoming_listed)
            continue;
        nd_incoming *g = &s->incoming[s->nincoming++];
        snprintf(g->mid, sizeof g->mid, "%s", in->incoming);
        g->d = in->want;
        g->d.user_data = in->want.user_data ? strdup(in->want.user_data) : NULL;
        g->d.ssh_key = in->want.ssh_key ? strdup(in->want.ssh_key) : NULL;
    }
    for (nd_inst *in = a->insts; in; in = in->next) {
        if (!in->present)
            continue;
        s->v[s->n] = in->want;
        s->v[s->n].user_data = in->want.user_data ? strdup(in->want.user_data) : NULL;
        s->v[s->n].ssh_key = in->want.ssh_key ? strdup(in->want.ssh_key) : NULL;
        s->n++;
    }
    apply(a, s);
}

/* The node's version in a desired-set tag ("<node id>.<version>", quoted),
 * or -1. */
static long long tag_version(const char *etag)
{
    const char *dot = strrchr(etag, '.');
    return dot ? strtoll(dot + 1, NULL, 10) : -1;
}

/* 1 unless tag `held` is of the same node and as new as `tag` or newer: a
 * fetch and the long-poll may answer out of order. */
static int newer(const char *tag, const char *held)
{
    long long t = tag_version(tag), h = tag_version(held);
    const char *td = strrchr(tag, '.'), *hd = strrchr(held, '.');
    if (t < 0 || h < 0 || td - tag != hd - held || strncmp(tag, held, (size_t)(td - tag)) != 0)
        return 1;
    return t > h;
}

int nd_reconcile_apply(nd_agent *a, nd_desired_set *s, const char *etag)
{
    if (a->stopping || !newer(etag, a->desired_etag))
        return 0;
    st_debug("node.fetch", "%zu instances desired (long-poll)", s->n);
    snprintf(a->desired_etag, sizeof a->desired_etag, "%s", etag);
    take_evacuated(a, s);
    apply(a, s);
    nd_net_desired(a, &s->net);
    return 1;
}

static void fetch_start(nd_agent *a);

/* The end of every pass: VMs nothing watches asked whether they still
 * run, gauges set. */
static void watch_pass(nd_agent *a)
{
    /* VMs nothing watches (a back end without ND_CAP_EXIT_WATCH, such
     * as libvirt, or no pidfd): ask whether they still run */
    int watched = (a->drv->ops->caps & ND_CAP_EXIT_WATCH) != 0;
    for (nd_inst *in = a->insts; in; in = in->next)
        if (!in->busy && vm_running(in) && (!watched || in->pidfd < 0))
            dispatch(a, in, JOB_POLL, NULL);
    int total = 0, running = 0;
    for (nd_inst *in = a->insts; in; in = in->next) {
        total++;
        running += vm_running(in);
    }
    nd_metric_instances(total, running);
}

/* A pass with the set unchanged: the held set applied again (level-
 * triggered: retries, VMs that ended, instances no longer listed). */
static void local_pass(nd_agent *a)
{
    nd_desired_set s;
    memset(&s, 0, sizeof s);
    apply_unchanged(a, &s);
    nd_desired_free(&s);
    watch_pass(a);
}

static void fetch_done(uv_work_t *w, int status)
{
    fetch *f = w->data;
    nd_agent *a = f->a;
    a->fetching = 0;
    nd_metric_inc("fetches", f->status == 200 ? "ok" : f->status == 304 ? "unchanged" : "failed");
    if (f->status == 200 || f->status == 304) {
        nd_status_fetch_ok();
        a->fetched_ms = nd_now_ms();
        nd_fence_fetched(a, f->started_ms);
        if (f->status == 200 && newer(f->etag_out, a->desired_etag)) {
            st_debug("node.fetch", "%zu instances desired", f->set.n);
            snprintf(a->desired_etag, sizeof a->desired_etag, "%s", f->etag_out);
            take_evacuated(a, &f->set);
            apply(a, &f->set);
            nd_net_desired(a, &f->set.net); /* after apply: the ports of the new set */
            watch_pass(a);
        } else {
            local_pass(a); /* older than the long-poll's, applied meanwhile */
        }
        if (!a->first_ok_fetch_ms)
            a->first_ok_fetch_ms = nd_now_ms();
    } else {
        st_warn("node.fetch", "%s", f->err[0] ? f->err : "desired set: failed");
    }
    nd_desired_free(&f->set);
    free(f);
    if (a->kick && !a->stopping) {
        a->kick = 0;
        fetch_start(a);
    }
    nd_longpoll_kick(a); /* on the tag the set now has, if none is out */
}

static void fetch_start(nd_agent *a)
{
    if (a->fetching || a->stopping)
        return;
    fetch *f = calloc(1, sizeof *f);
    if (!f)
        return;
    f->w.data = f;
    f->a = a;
    f->started_ms = nd_now_ms();
    snprintf(f->etag, sizeof f->etag, "%s", a->desired_etag);
    a->fetching = 1;
    if (uv_queue_work(a->loop, &f->w, fetch_run, fetch_done) != 0) {
        a->fetching = 0;
        free(f);
    }
}

int nd_reconcile_fence(nd_agent *a)
{
    int n = 0;
    for (nd_inst *in = a->insts; in; in = in->next) {
        if (in->busy) { /* a graceful stop in flight ends now; a launch's VM is stopped after */
            __atomic_store_n(&in->hurry, 1, __ATOMIC_RELEASE);
            continue;
        }
        if (vm_running(in)) {
            dispatch(a, in, JOB_FENCE, NULL);
            n++;
        }
    }
    return n;
}

void nd_reconcile_kick(nd_agent *a)
{
    if (a->fetching)
        a->kick = 1;
    else
        fetch_start(a);
}

/* A fetch each interval.reconcile_ms, unless the long-poll holds: then
 * only every interval.resync_ms, and the passes between are local (the
 * long-poll brings every change at once). */
static void on_rec_timer(uv_timer_t *t)
{
    nd_agent *a = t->data;
    if (a->fetching || !nd_longpoll_holding(a) || nd_now_ms() - a->fetched_ms >= a->c.resync_ms)
        fetch_start(a);
    else
        local_pass(a);
}

void nd_reconcile_start(nd_agent *a)
{
    uv_timer_init(a->loop, &a->t_rec);
    a->t_rec.data = a;
    uv_timer_start(&a->t_rec, on_rec_timer, 0, (uint64_t)a->c.reconcile_ms);
}

/* ---- adoption at start-up ---- */

void nd_adopt_all(nd_agent *a)
{
    char root[4200];
    snprintf(root, sizeof root, "%s/instances", a->c.state_dir);
    DIR *d = opendir(root);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s/state.json", root, e->d_name);
        nd_record r;
        if (nd_record_load(path, &r) < 0 || strcmp(r.o.id, e->d_name) != 0)
            continue;
        nd_inst *in = inst_new(a, r.o.id);
        if (!in)
            break;
        in->rec = r;
        in->refused_gen = -1;
        /* a migration that completed and whose report the gateway did not take */
        char mk[4700];
        snprintf(mk, sizeof mk, "%s/%s/migrated", root, e->d_name);
        json_t *m = json_load_file(mk, 0, NULL);
        const char *mid = json_string_value(json_object_get(m, "migration"));
        if (mid && st_uuid_valid(mid)) {
            snprintf(in->mig_done, sizeof in->mig_done, "%s", mid);
            in->mig_report_pending = 1;
            in->mig_downtime_ms = json_integer_value(json_object_get(m, "downtime_ms"));
            in->mig_total_ms = json_integer_value(json_object_get(m, "total_ms"));
        }
        json_decref(m);
        char dir[4600];
        snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
        nd_vm_status st;
        int fd = -1;
        a->drv->ops->status(a->drv, dir, &in->rec.vm, &st, &fd);
        if (st.state == ND_VM_RUNNING || st.state == ND_VM_NOT_STARTED) {
            in->rec.actual = ND_ACTUAL_RUNNING;
            if (st.state == ND_VM_NOT_STARTED)
                in->rec.phase = ND_PHASE_APPLYING;
            if (fd >= 0)
                nd_watch_start(a, in, fd);
            if (st.state == ND_VM_NOT_STARTED)
                in->rec.actual = ND_ACTUAL_NONE;
            st_info("node.adopt", "%s: VMM pid %d adopted (%s)", r.o.id, (int)in->rec.vm.pid,
                    st.state == ND_VM_RUNNING ? "running" : "launch to finish");
        } else if (in->rec.actual == ND_ACTUAL_RUNNING) {
            /* it ended while no agent watched: account for it now */
            st_info("node.adopt", "%s: its VMM ended while the agent was away", r.o.id);
            nd_inst_exited(a, in, st.exit_code, st.signal, 0);
        }
    }
    closedir(d);
}
