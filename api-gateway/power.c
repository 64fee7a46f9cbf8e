/*
 * power.c - hosts powered off when idle and on when capacity runs short.
 *
 * A node's power_state (migrations/0028_node_power.sql) is on, powering_off,
 * off or powering_on. The scheduler places only on hosts that are on
 * (sched_core.c's "powered" filter); when none fits and power.on_command is
 * set, it claims a host that is off (or already powering on) as if it were
 * on, marks it powering_on and the instance waits, building, with the task
 * waiting_host_power_on until the host's agent heartbeats (a trigger then
 * makes the host on and clears the task) or power.on_timeout passes (error).
 *
 * The manager is a thread with its own libevent loop: a timer ticks every
 * power.interval_ms. A tick, in one transaction under a PostgreSQL advisory
 * lock (so with several gateways one decides per tick):
 *   - notes when each host that is on became empty (empty_since);
 *   - marks powering_off the hosts empty, alive and enabled for
 *     power.idle_after seconds (no placement on them ended more recently),
 *     longest idle first, keeping power.min_spare_hosts empty hosts on. The
 *     node's row is locked first and its instances counted by a new
 *     statement, so a placement that claimed the host (the claim locks the
 *     same row) is seen, and a host marked powering_off takes no placement;
 *   - gives up on hosts that did not heartbeat within power.on_timeout of a
 *     power-on (off again, with a fault; their waiting instances to error);
 *   - claims every pending command (power_cmd_at set in the same
 *     transaction: no other gateway runs it again).
 * After the commit it starts the claimed commands. A command is the
 * configured template split into words at spaces (no shell: no quoting,
 * no expansion), each %n (node name), %i (id), %h (the hostname its agent
 * reports, untrusted), %a (its address: tunnel_ip) and %% substituted
 * inside its word, never splitting it; the same values are in the
 * environment as STRATUS_NODE_NAME, _ID, _HOSTNAME, _ADDRESS and
 * STRATUS_POWER_ACTION; a word a value would make start with '-' (an
 * option, as ssh's -oProxyCommand) is refused and the command not run. It
 * runs in its own process group, polled every
 * 100 ms, killed after power.command_timeout. Its outcome: off → off, or on
 * again with the fault (exit status and the tail of its output), logged;
 * on → stays powering_on until the heartbeat, or off with the fault and its
 * waiting instances in error.
 *
 * Admins act through POST /v1/nodes/{id}/actions (power_off, power_on; nodes.c
 * routes it, with evacuate).
 *
 * The same thread is the gateway's one host manager: with evacuate.automatic on, each tick
 * also evacuates the dead hosts' Ceph-backed instances (evacuate.c); with rebalance.interval
 * or consolidation.interval set, it carries the plans out on its own (schedrun.c: once per
 * interval across the gateways). It runs when any of power.off_command, evacuate.automatic
 * and those intervals is set; power management is on only with the first.
 */
#include "gateway.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define POWER_LOCK_KEY "hashtext('stratus.gateway.power')"
#define OUT_TAIL 400
#define MAX_WORDS 64

/* What a host holds that keeps it on: an instance that is not deleted (an
 * error one keeps its disk there) or a router. n is the node's row. */
#define NODE_HOLDS                                                                                 \
    "(EXISTS (SELECT 1 FROM iaas.instances i WHERE i.node_id = n.id"                               \
    "  AND i.state <> 'deleted') OR EXISTS (SELECT 1 FROM iaas.routers r"                          \
    "  WHERE r.host_id = n.id))"

typedef struct pcmd {
    struct gw_power *pw;
    pid_t pid;
    int fd; /* its stdout and stderr */
    int off;
    char node_id[40], node_name[64];
    int64_t deadline_us;
    int killed;
    char out[OUT_TAIL + 1];
    size_t outlen;
    struct event *poll;
    struct pcmd *next;
} pcmd;

typedef struct gw_power {
    gw *g;
    char *off_words[MAX_WORDS + 1], *on_words[MAX_WORDS + 1]; /* NULL-terminated */
    char *off_buf, *on_buf;
    long long interval_ms, idle_after_s, min_spare, on_timeout_s, cmd_timeout_s;
    struct event_base *base;
    struct event *tick, *kick, *stop;
    pthread_t th;
    int started;
    pcmd *running;
} gw_power;

/* Splits s (copied into *buf) at spaces and tabs into words; -1 for none
 * or too many. */
static int split_words(const char *s, char **buf, char **words)
{
    *buf = strdup(s);
    int n = 0;
    char *save = NULL;
    for (char *w = strtok_r(*buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_WORDS)
            return -1;
        words[n++] = w;
    }
    words[n] = NULL;
    return n > 0 ? 0 : -1;
}

gw_power *gw_power_new(gw *g)
{
    const char *off = st_config_str(g->cfg, "power.off_command");
    const char *on = st_config_str(g->cfg, "power.on_command");
    int power = off && *off;
    if (!power && !g->c.auto_evacuate && !g->c.rebalance_interval_s && !g->c.cons_interval_s)
        return NULL;
    gw_power *pw = calloc(1, sizeof *pw);
    pw->g = g;
    pw->interval_ms = st_config_int(g->cfg, "power.interval_ms");
    pw->idle_after_s = st_config_int(g->cfg, "power.idle_after");
    pw->min_spare = st_config_int(g->cfg, "power.min_spare_hosts");
    pw->on_timeout_s = st_config_int(g->cfg, "power.on_timeout");
    pw->cmd_timeout_s = st_config_int(g->cfg, "power.command_timeout");
    if (pw->interval_ms < 100)
        pw->interval_ms = 100;
    if (pw->cmd_timeout_s < 1)
        pw->cmd_timeout_s = 1;
    if (pw->min_spare < 0)
        pw->min_spare = 0;
    if (!power)
        return pw; /* the host manager without power management */
    if (split_words(off, &pw->off_buf, pw->off_words) < 0 ||
        (on && *on && split_words(on, &pw->on_buf, pw->on_words) < 0)) {
        st_error("power.config", "power.off_command and power.on_command take 1 to %d words",
                 MAX_WORDS);
        gw_power_free(pw);
        return NULL;
    }
    return pw;
}

int gw_power_can_wake(const gw *g)
{
    return g->power && g->power->on_words[0];
}

/* Power management is on: power.off_command is set. */
static int power_on(const gw *g)
{
    return g->power && g->power->off_words[0];
}

int gw_power_min_spare(const gw *g)
{
    return power_on(g) ? (int)g->power->min_spare : -1;
}

void gw_power_kick(gw *g)
{
    /* soon, not at once: the caller's transaction has not committed yet */
    struct timeval soon = {0, 200000};
    if (g->power && g->power->kick)
        evtimer_add(g->power->kick, &soon);
}

/* ---- commands ---- */

/* word with %n %i %h %a %% replaced (malloc'd). */
static char *expand(const char *word, const char *const vals[4])
{
    size_t cap = strlen(word) + 1;
    for (int i = 0; i < 4; i++)
        cap += strlen(vals[i]) * (strlen(word) / 2 + 1);
    char *out = malloc(cap), *o = out;
    for (const char *p = word; *p; p++) {
        const char *v = NULL;
        if (p[0] == '%' && p[1]) {
            switch (p[1]) {
            case 'n': v = vals[0]; break;
            case 'i': v = vals[1]; break;
            case 'h': v = vals[2]; break;
            case 'a': v = vals[3]; break;
            case '%': v = "%"; break;
            }
        }
        if (v) {
            size_t l = strlen(v);
            memcpy(o, v, l);
            o += l;
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return out;
}

static void drain(pcmd *c)
{
    char buf[1024];
    ssize_t n;
    while ((n = read(c->fd, buf, sizeof buf)) > 0) {
        /* keep the tail */
        if ((size_t)n >= OUT_TAIL) {
            memcpy(c->out, buf + n - OUT_TAIL, OUT_TAIL);
            c->outlen = OUT_TAIL;
        } else {
            size_t keep = c->outlen + (size_t)n > OUT_TAIL ? OUT_TAIL - (size_t)n : c->outlen;
            memmove(c->out, c->out + c->outlen - keep, keep);
            memcpy(c->out + keep, buf, (size_t)n);
            c->outlen = keep + (size_t)n;
        }
    }
    c->out[c->outlen] = 0;
}

static void finish(gw_power *pw, pcmd *c, int status);

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    pcmd *c = arg;
    drain(c);
    int status;
    pid_t r = waitpid(c->pid, &status, WNOHANG);
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        drain(c);
        finish(c->pw, c, r == c->pid ? status : -1);
        return;
    }
    if (!c->killed && st_mono_us() > c->deadline_us) {
        kill(-c->pid, SIGKILL);
        c->killed = 1;
    }
}

/* Starts the command for node (id, name, hostname, address); 0, or -1 with
 * the reason in err. */
static int spawn(gw_power *pw, const char *const vals[4], int off, char *err, size_t errlen)
{
    char *const *tmpl = off ? pw->off_words : pw->on_words;
    char *argv[MAX_WORDS + 1];
    int n = 0;
    int option = 0;
    for (; tmpl[n]; n++) {
        argv[n] = expand(tmpl[n], vals);
        /* a value may not turn a word into an option (ssh -oProxyCommand=...) */
        option |= argv[n][0] == '-' && tmpl[n][0] != '-';
    }
    argv[n] = NULL;
    if (option) {
        snprintf(err, errlen, "not run: a node's value (hostname '%.64s') starts with '-'",
                 vals[2]);
        for (int i = 0; i < n; i++)
            free(argv[i]);
        return -1;
    }
    /* the environment, plus the node's facts */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = calloc(ne + 6, sizeof *envp);
    char *extra[5];
    static const char *const names[] = {"STRATUS_NODE_NAME", "STRATUS_NODE_ID",
                                        "STRATUS_NODE_HOSTNAME", "STRATUS_NODE_ADDRESS"};
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "STRATUS_NODE_", 13) && strncmp(environ[i], "STRATUS_POWER_", 14))
            envp[k++] = environ[i];
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(names[i]) + strlen(vals[i]) + 2;
        extra[i] = malloc(l);
        snprintf(extra[i], l, "%s=%s", names[i], vals[i]);
        envp[k++] = extra[i];
    }
    extra[4] = strdup(off ? "STRATUS_POWER_ACTION=off" : "STRATUS_POWER_ACTION=on");
    envp[k++] = extra[4];
    envp[k] = NULL;

    int p[2] = {-1, -1}, rc = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    pid_t pid = -1;
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGHUP);
    sigaddset(&def, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    int e = posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
    if (e) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
        goto out;
    }
    close(p[1]);
    p[1] = -1;
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    pcmd *c = calloc(1, sizeof *c);
    c->pw = pw;
    c->pid = pid;
    c->fd = p[0];
    p[0] = -1;
    c->off = off;
    snprintf(c->node_name, sizeof c->node_name, "%s", vals[0]);
    snprintf(c->node_id, sizeof c->node_id, "%s", vals[1]);
    c->deadline_us = st_mono_us() + pw->cmd_timeout_s * 1000000;
    c->poll = event_new(pw->base, -1, EV_PERSIST, on_poll, c);
    struct timeval every = {0, 100000};
    event_add(c->poll, &every);
    c->next = pw->running;
    pw->running = c;
    rc = 0;
out:
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    for (int i = 0; i < n; i++)
        free(argv[i]);
    for (int i = 0; i < 5; i++)
        free(extra[i]);
    free(envp);
    return rc;
}

/* Records a command's outcome: ok, or the fault. */
static void record(gw_power *pw, const char *node_id, const char *name, int off, const char *fault)
{
    st_db *db = st_db_get(pw->g->db, 5000);
    if (!db) {
        st_error("power.db", "node %s: the power command's outcome is not recorded", name);
        return;
    }
    long long n;
    if (off && !fault) /* emptied: no longer draining (schedrun.c) */
        n = st_db_x(db,
                    "UPDATE iaas.nodes SET power_state = 'off', power_since = now(),"
                    " power_fault = NULL, power_cmd_at = NULL, draining_until = NULL"
                    " WHERE id = $1 AND power_state = 'powering_off'",
                    node_id);
    else if (off) /* the idle clock starts again: no retry at every tick */
        n = st_db_x(db,
                    "UPDATE iaas.nodes SET power_state = 'on', power_since = now(),"
                    " power_fault = $2, power_cmd_at = NULL, empty_since = NULL"
                    " WHERE id = $1 AND power_state = 'powering_off'",
                    node_id, fault);
    else if (!fault)
        n = 1; /* powering_on until its agent's heartbeat */
    else {
        char msg[600];
        snprintf(msg, sizeof msg, "host %s did not power on: %s", name, fault);
        n = st_db_begin(db) < 0
                ? -1
                : st_db_x(db,
                          "UPDATE iaas.nodes SET power_state = 'off', power_since = now(),"
                          " power_fault = $2, power_cmd_at = NULL"
                          " WHERE id = $1 AND power_state = 'powering_on'",
                          node_id, fault);
        if (n >= 0 && st_db_x(db,
                              "UPDATE iaas.instances SET state = 'error', task = NULL,"
                              " node_id = NULL, fault = $2, generation = generation + 1"
                              " WHERE node_id = $1 AND task = 'waiting_host_power_on'",
                              node_id, msg) < 0)
            n = -1;
        if (n < 0 || st_db_commit(db) < 0) {
            st_db_rollback(db);
            n = -1;
        }
    }
    if (n < 0)
        st_error("power.db", "node %s: the power command's outcome is not recorded: %s", name,
                 st_db_error(db));
    st_db_put(db);
    st_log_fields(fault ? ST_LOG_WARN : ST_LOG_INFO,
                  fault ? "node.power_failed" : "node.power_command",
                  json_pack("{s:s, s:s, s:s, s:s}", "node", name, "node_id", node_id, "action",
                            off ? "power_off" : "power_on", "fault", fault ? fault : ""));
}

static void finish(gw_power *pw, pcmd *c, int status)
{
    for (pcmd **p = &pw->running; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    event_free(c->poll);
    close(c->fd);
    char fault[600] = "";
    const char *what = c->off ? "power-off" : "power-on";
    /* the output's last line or so, without its trailing newline */
    while (c->outlen && (c->out[c->outlen - 1] == '\n' || c->out[c->outlen - 1] == '\r'))
        c->out[--c->outlen] = 0;
    const char *sep = c->outlen ? ": " : "";
    if (c->killed)
        snprintf(fault, sizeof fault, "the %s command timed out after %lld s%s%s", what,
                 pw->cmd_timeout_s, sep, c->out);
    else if (status < 0)
        snprintf(fault, sizeof fault, "the %s command's status was lost", what);
    else if (WIFSIGNALED(status))
        snprintf(fault, sizeof fault, "the %s command was killed by signal %d%s%s", what,
                 WTERMSIG(status), sep, c->out);
    else if (WEXITSTATUS(status) != 0)
        snprintf(fault, sizeof fault, "the %s command exited with status %d%s%s", what,
                 WEXITSTATUS(status), sep, c->out);
    record(pw, c->node_id, c->node_name, c->off, fault[0] ? fault : NULL);
    free(c);
}

/* ---- the tick ---- */

/* Hosts that did not heartbeat within power.on_timeout of their power-on:
 * off with a fault, their waiting instances in error. 0 or -1. */
static int give_up_power_on(gw_power *pw, st_db *db)
{
    char to[24];
    snprintf(to, sizeof to, "%lld", pw->on_timeout_s);
    PGresult *r = st_db_q(db,
                          "UPDATE iaas.nodes SET power_state = 'off', power_since = now(),"
                          " power_cmd_at = NULL, power_fault = 'no heartbeat within ' || $1"
                          "  || ' s of the power-on'"
                          " WHERE power_state = 'powering_on'"
                          " AND power_since < now() - $1::int * interval '1 second'"
                          " RETURNING id, name",
                          to);
    int rc = r ? 0 : -1;
    for (int i = 0; r && i < PQntuples(r) && rc == 0; i++) {
        char msg[200];
        snprintf(msg, sizeof msg, "host %s did not power on within %s s", st_db_val(r, i, 1), to);
        if (st_db_x(db,
                    "UPDATE iaas.instances SET state = 'error', task = NULL, node_id = NULL,"
                    " fault = $2, generation = generation + 1"
                    " WHERE node_id = $1 AND task = 'waiting_host_power_on'",
                    st_db_val(r, i, 0), msg) < 0)
            rc = -1;
        else
            st_warn("node.power_failed", "node %s: %s", st_db_val(r, i, 1), msg);
    }
    PQclear(r);
    return rc;
}

/* Marks powering_off the idle hosts beyond the spares; 0 or -1. */
static int power_off_idle(gw_power *pw, st_db *db)
{
    char down[16], idle[24], spare[24];
    snprintf(down, sizeof down, "%d", pw->g->c.node_down_after_s);
    snprintf(idle, sizeof idle, "%lld", pw->idle_after_s);
    snprintf(spare, sizeof spare, "%lld", pw->min_spare);
    if (st_db_x0(db, "UPDATE iaas.nodes n SET empty_since = NULL"
                     " WHERE empty_since IS NOT NULL AND " NODE_HOLDS) < 0 ||
        st_db_x0(db, "UPDATE iaas.nodes n SET empty_since = now()"
                     " WHERE empty_since IS NULL AND power_state = 'on' AND NOT " NODE_HOLDS) < 0)
        return -1;
    /* spares: empty hosts that are on, alive and enabled; candidates among
     * them idle long enough, draining ones first (a consolidation run,
     * schedrun.c, emptied them to power them off, and no placement may use them: never the
     * spare while another host can be), then longest idle first. The first
     * (spares - min_spare) go off; a draining one left over is kept as a
     * spare, so its mark goes (a spare that takes nothing is none). */
    PGresult *r = st_db_q(db,
                          "WITH spare AS (SELECT n.id, n.name, n.empty_since,"
                          "  coalesce(n.draining_until > now(), false) AS draining"
                          "  FROM iaas.nodes n"
                          "  WHERE n.power_state = 'on' AND NOT n.disabled"
                          "  AND n.last_heartbeat > now() - $1::int * interval '1 second'"
                          "  AND n.empty_since IS NOT NULL)"
                          " SELECT s.id, s.name, s.draining,"
                          "  row_number() OVER (ORDER BY s.draining DESC, s.empty_since, s.name)"
                          "  <= (SELECT count(*) FROM spare) - $3::int AS goes"
                          " FROM spare s"
                          " WHERE s.empty_since <= now() - $2::int * interval '1 second'"
                          " AND NOT EXISTS (SELECT 1 FROM iaas.placements p"
                          "  WHERE p.node_id = s.id"
                          "  AND coalesce(p.until, now()) > now() - $2::int * interval '1 second')"
                          " ORDER BY s.draining DESC, s.empty_since, s.name",
                          down, idle, spare);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = st_db_val(r, i, 0);
        if (*st_db_val(r, i, 3) != 't') {
            long long kept = *st_db_val(r, i, 2) != 't'
                                 ? 0
                                 : st_db_x(db,
                                           "UPDATE iaas.nodes SET draining_until = NULL"
                                           " WHERE id = $1 AND draining_until IS NOT NULL",
                                           id);
            if (kept < 0) {
                PQclear(r);
                return -1;
            }
            if (kept == 1)
                st_info("node.power_off",
                        "node %s: kept on as one of power.min_spare_hosts (%s), no longer draining",
                        st_db_val(r, i, 1), spare);
            continue;
        }
        PGresult *lk = st_db_q(db, "SELECT 1 FROM iaas.nodes WHERE id = $1 FOR UPDATE", id);
        long long n = lk ? st_db_x(db,
                                   "UPDATE iaas.nodes n SET power_state = 'powering_off',"
                                   " power_since = now(), power_cmd_at = NULL"
                                   " WHERE id = $1 AND power_state = 'on' AND NOT " NODE_HOLDS,
                                   id)
                         : -1;
        PQclear(lk);
        if (n < 0) {
            PQclear(r);
            return -1;
        }
        if (n == 1)
            st_info("node.power_off", "node %s: idle for %s s, powering off", st_db_val(r, i, 1),
                    idle);
    }
    PQclear(r);
    return 0;
}

static void power_tick(gw_power *pw, st_db *db)
{
    char lost[24];
    snprintf(lost, sizeof lost, "%lld", pw->cmd_timeout_s + 30);
    PGresult *cmds = NULL, *lk = NULL;
    if (st_db_begin(db) < 0)
        goto fail;
    lk = st_db_q0(db, "SELECT pg_try_advisory_xact_lock(" POWER_LOCK_KEY ")");
    if (!lk)
        goto fail;
    if (*st_db_val(lk, 0, 0) != 't') { /* another gateway's tick */
        st_db_rollback(db);
        goto out;
    }
    /* power-ons past their timeout; a power-off whose gateway went away
     * mid-command (its outcome is lost: on again, with a fault) */
    if (give_up_power_on(pw, db) < 0 ||
        st_db_x(db,
                "UPDATE iaas.nodes SET power_state = 'on', power_since = now(),"
                " power_cmd_at = NULL, empty_since = NULL,"
                " power_fault = 'the power-off command''s outcome was lost (its gateway stopped)'"
                " WHERE power_state = 'powering_off'"
                " AND power_cmd_at < now() - $1::int * interval '1 second'",
                lost) < 0 ||
        power_off_idle(pw, db) < 0)
        goto fail;
    cmds = st_db_q0(db, "UPDATE iaas.nodes SET power_cmd_at = now()"
                        " WHERE power_state IN ('powering_off', 'powering_on')"
                        " AND power_cmd_at IS NULL"
                        " RETURNING name, id::text, hostname, coalesce(host(tunnel_ip), ''),"
                        " power_state = 'powering_off'");
    if (!cmds || st_db_commit(db) < 0)
        goto fail;
    for (int i = 0; i < PQntuples(cmds); i++) {
        const char *vals[4] = {st_db_val(cmds, i, 0), st_db_val(cmds, i, 1), st_db_val(cmds, i, 2),
                               st_db_val(cmds, i, 3)};
        int off = *st_db_val(cmds, i, 4) == 't';
        char err[300];
        if (!off && !pw->on_words[0])
            snprintf(err, sizeof err, "power.on_command is not configured");
        else if (spawn(pw, vals, off, err, sizeof err) == 0)
            continue;
        record(pw, vals[1], vals[0], off, err);
    }
    goto out;
fail:
    st_error("power.tick", "power manager: %s", st_db_error(db));
    st_db_rollback(db);
out:
    PQclear(lk);
    PQclear(cmds);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    gw_power *pw = arg;
    st_db *db = st_db_get(pw->g->db, 2000);
    if (!db)
        return;
    if (pw->off_words[0])
        power_tick(pw, db);
    if (pw->g->c.auto_evacuate && gw_evacuate_dead_hosts(pw->g, db) < 0)
        st_error("evacuate.auto", "automatic evacuation: %s", st_db_error(db));
    gw_sched_auto_tick(pw->g, db);
    st_db_put(db);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(((gw_power *)arg)->base);
}

static void *power_main(void *arg)
{
    gw_power *pw = arg;
    event_base_dispatch(pw->base);
    return NULL;
}

int gw_power_start(gw_power *pw)
{
    pw->base = event_base_new();
    if (!pw->base)
        return -1;
    pw->tick = event_new(pw->base, -1, EV_PERSIST, on_tick, pw);
    pw->kick = evtimer_new(pw->base, on_tick, pw);
    pw->stop = event_new(pw->base, -1, 0, on_stop, pw);
    struct timeval every = {pw->interval_ms / 1000, (pw->interval_ms % 1000) * 1000};
    event_add(pw->tick, &every);
    if (pthread_create(&pw->th, NULL, power_main, pw) != 0)
        return -1;
    pw->started = 1;
    if (pw->off_words[0])
        st_info(
            "power.start",
            "power manager: idle hosts off after %lld s, %lld spare, power-on %s, every %lld ms",
            pw->idle_after_s, pw->min_spare, pw->on_words[0] ? "on" : "not configured",
            pw->interval_ms);
    if (pw->g->c.auto_evacuate)
        st_info("evacuate.start",
                "automatic evacuation: Ceph-backed instances of hosts silent for over %d s, "
                "checked every %lld ms",
                pw->g->c.node_down_after_s + pw->g->c.fence_margin_s, pw->interval_ms);
    if (pw->g->c.rebalance_interval_s || pw->g->c.cons_interval_s)
        st_info("scheduler.auto_start",
                "scheduler runs: rebalancing every %d s, consolidation every %d s (0: never)",
                pw->g->c.rebalance_interval_s, pw->g->c.cons_interval_s);
    return 0;
}

void gw_power_free(gw_power *pw)
{
    if (!pw)
        return;
    if (pw->started) {
        event_active(pw->stop, 0, 0);
        pthread_join(pw->th, NULL);
    }
    /* commands still running: ended, their outcome lost (a later tick
     * notices the power-off; a power-on ends with its timeout) */
    while (pw->running) {
        pcmd *c = pw->running;
        pw->running = c->next;
        kill(-c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        event_free(c->poll);
        close(c->fd);
        free(c);
    }
    if (pw->tick)
        event_free(pw->tick);
    if (pw->kick)
        event_free(pw->kick);
    if (pw->stop)
        event_free(pw->stop);
    if (pw->base)
        event_base_free(pw->base);
    free(pw->off_buf);
    free(pw->on_buf);
    free(pw);
}

/* ---- POST /v1/nodes/{id}/actions ---- */

/*
 * power_off: a host that is on and holds nothing is marked powering_off
 * (409 otherwise), power_on: a host that is off is marked powering_on; the
 * manager runs the command at once. 202 with the node.
 */
void gw_node_power(gw_ctx *c, const char *id, const char *action)
{
    int off = !strcmp(action, "power_off");
    if (!power_on(c->gw) || (!off && !gw_power_can_wake(c->gw))) {
        st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                            "power management is off: power.%s_command is not configured",
                            off || !power_on(c->gw) ? "off" : "on");
        return;
    }
    if (st_db_begin(c->db) < 0) {
        gw_fail_db(c);
        return;
    }
    PGresult *r = st_db_q(c->db, "SELECT power_state FROM iaas.nodes WHERE id = $1 FOR UPDATE", id);
    if (!(r = gw_one_row(c, r, "node"))) {
        st_db_rollback(c->db);
        return;
    }
    char state[16];
    snprintf(state, sizeof state, "%s", st_db_val(r, 0, 0));
    PQclear(r);
    if (strcmp(state, off ? "on" : "off")) {
        st_db_rollback(c->db);
        st_http_reply_error(c->req, 409, ST_E_CONFLICT, "cannot %s a node that is %s",
                            off ? "power off" : "power on", state);
        return;
    }
    /* a new statement after the lock: sees every placement committed */
    r = st_db_q(c->db,
                "SELECT (SELECT count(*) FROM iaas.instances i WHERE i.node_id = n.id"
                " AND i.state <> 'deleted'), (SELECT count(*) FROM iaas.routers r"
                " WHERE r.host_id = n.id) FROM iaas.nodes n WHERE n.id = $1",
                id);
    if (!r) {
        gw_fail_db(c);
        return;
    }
    long long inst = st_db_int(r, 0, 0), routers = st_db_int(r, 0, 1);
    PQclear(r);
    if (off && (inst || routers)) {
        st_db_rollback(c->db);
        st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                            "the node holds %lld instance%s and %lld router%s: only an empty node "
                            "is powered off",
                            inst, inst == 1 ? "" : "s", routers, routers == 1 ? "" : "s");
        return;
    }
    if (st_db_x(c->db,
                "UPDATE iaas.nodes SET power_state = $2, power_since = now(), power_cmd_at = NULL,"
                " power_fault = NULL WHERE id = $1",
                id, off ? "powering_off" : "powering_on") != 1 ||
        st_db_commit(c->db) < 0) {
        gw_fail_db(c);
        return;
    }
    st_log_fields(
        ST_LOG_INFO, "node.power_action",
        json_pack("{s:s, s:s, s:s}", "node_id", id, "action", action, "user", c->p.user_name));
    gw_power_kick(c->gw);
    gw_node_reply(c, 202, id);
}
