/* Node power against two real gateways on one PostgreSQL, with a shell
 * script as power.off_command and power.on_command that records its argv:
 * idle hosts powered off keeping the spares, once across both gateways;
 * draining hosts first, and one kept as the spare no longer draining; the scheduler skipping hosts
 * that are not on; a create that powers a host on and waits for its heartbeat; the power-on
 * timeout; failed commands; an agent's hostile hostname passed as one argument, never to a shell;
 * the admin's actions and their refusals. */
#include "gwt.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gwt T, T2;
static gwt_tenant A;
static char dir[64], flavor[40], image[40];
static char *tok[4];
static char ids[4][40];
static const char *names[4] = {"pw-a", "pw-b", "pw-c", "pw-d"};
enum { NA, NB, NC, ND };

static void node_path(int k, char *path, size_t n, const char *tail)
{
    snprintf(path, n, "/v1/nodes/%.40s%.16s", ids[k], tail);
}

static char *node_field(int k, const char *field)
{
    char path[128];
    node_path(k, path, sizeof path, "");
    st_resp r;
    gwt_call(&T, &r, "GET", path, T.admin_token, NULL);
    json_t *v = json_object_get(r.json, field);
    char *s = strdup(json_is_string(v) ? json_string_value(v) : "");
    st_resp_free(&r);
    return s;
}

/* Waits up to ms for node k's power_state to be want; 1 when it is. */
static int wait_power(int k, const char *want, int ms)
{
    for (int t = 0; t <= ms; t += 100) {
        char *s = node_field(k, "power_state");
        int ok = !strcmp(s, want);
        free(s);
        if (ok)
            return 1;
        usleep(100000);
    }
    return 0;
}

static char *calls(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/calls.log", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Waits up to ms for the log to hold needle; 1 when it does. */
static int wait_call(const char *needle, int ms)
{
    for (int t = 0; t <= ms; t += 100) {
        char *c = calls();
        int ok = strstr(c, needle) != NULL;
        free(c);
        if (ok)
            return 1;
        usleep(100000);
    }
    return 0;
}

static long patch_disabled(int k, int disabled)
{
    char path[128];
    node_path(k, path, sizeof path, "");
    return gwt_status(&T, "PATCH", path, T.admin_token,
                      disabled ? "{\"disabled\":true}" : "{\"disabled\":false}");
}

static void set_disabled(int k, int disabled)
{
    ST_ASSERT_INT_EQ(patch_disabled(k, disabled), 200);
}

static long action(const char *token, int k, const char *act)
{
    char path[128], body[64];
    node_path(k, path, sizeof path, "/actions");
    snprintf(body, sizeof body, "{\"action\":\"%s\"}", act);
    return gwt_status(&T, "POST", path, token, body);
}

static void touch(const char *name)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

static int suite_init(void)
{
    snprintf(dir, sizeof dir, "/tmp/gw-power-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    /* argv, one bracketed word each, to calls.log; fails (status 3, a line
     * of output) while a file fail-<action>-<node> exists */
    char script[128], text[1024];
    snprintf(script, sizeof script, "%s/power.sh", dir);
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "d='%s'\n"
             "{ printf 'call'; for a in \"$@\"; do printf ' [%%s]' \"$a\"; done;"
             " printf ' env=%%s\\n' \"$STRATUS_NODE_NAME\"; } >> \"$d/calls.log\"\n"
             "if [ -e \"$d/fail-$1-$2\" ]; then echo \"bmc of $2 unreachable\" >&2; exit 3; fi\n"
             "exit 0\n",
             dir);
    FILE *f = fopen(script, "w");
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    chmod(script, 0755);
    char off[256], on[256];
    snprintf(off, sizeof off, "power.off_command=%s off %%n %%h %%a %%i", script);
    snprintf(on, sizeof on, "power.on_command=%s on %%n %%h", script);
    const char *settings[] = {off,
                              on,
                              "power.idle_after=3",
                              "power.min_spare_hosts=1",
                              "power.on_timeout=3",
                              "power.command_timeout=5",
                              "power.interval_ms=200",
                              "nodes.down_after=600",
                              NULL};
    gwt_start(&T, "gw_power", settings);
    gwt_start_peer(&T2, &T, settings);
    gwt_make_tenant(&T, "power", &A);
    gwt_make_catalog(&T, flavor, image);
    st_resp r;
    if (gwt_status(&T, "POST", "/v1/flavors", T.admin_token,
                   "{\"name\":\"pw.full\",\"vcpus\":1,\"memory_mib\":2048,\"disk_gib\":10}") != 201)
        return -1;
    for (int k = 0; k < 4; k++) {
        tok[k] = gwt_make_node(&T, names[k], 2, 2048, 100);
        gwt_call(&T, &r, "GET", "/v1/nodes", T.admin_token, NULL);
        json_t *it;
        size_t i;
        json_array_foreach(json_object_get(r.json, "nodes"), i, it)
        {
            if (!strcmp(json_string_value(json_object_get(it, "name")), names[k]))
                snprintf(ids[k], 40, "%s", json_string_value(json_object_get(it, "id")));
        }
        st_resp_free(&r);
        /* nothing is powered off before the tests say so */
        if (patch_disabled(k, 1) != 200)
            return -1;
    }
    return 0;
}

static int suite_clean(void)
{
    for (int k = 0; k < 4; k++)
        free(tok[k]);
    gwt_free_tenant(&A);
    gwt_stop(&T2);
    gwt_stop(&T);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static void create(const char *name, const char *fl, char id[40])
{
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, name, fl, image, NULL, id), 202);
}

static void test_idle_hosts_power_off_keeping_spares_once(void)
{
    char x[40];
    set_disabled(NA, 0);
    create("x", "pw.full", x);
    char *n = gwt_instance_field(&T, A.member, x, "node_id");
    ST_ASSERT_STR_EQ(n, ids[NA]);
    free(n);
    gwt_report(&T, tok[NA], x, "active", gwt_instance_generation(&T, NULL, x));
    /* B and C empty from now on (the idle clock starts again) */
    gwt_sql(&T, "UPDATE iaas.nodes SET empty_since = NULL");
    set_disabled(NB, 0);
    set_disabled(NC, 0);
    /* the dry run: two empty hosts, one kept as the spare */
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/scheduler/consolidation", T.admin_token, NULL),
                     200);
    CU_ASSERT_TRUE(json_is_true(json_object_get(r.json, "power_management")));
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "nodes_to_power_off")), 1);
    st_resp_free(&r);
    char *s = node_field(NB, "power_state");
    ST_ASSERT_STR_EQ(s, "on");
    free(s);
    /* after power.idle_after: the longest idle (then by name) goes off */
    CU_ASSERT_TRUE_FATAL(wait_power(NB, "off", 8000));
    usleep(1500000); /* several ticks of both gateways later */
    s = node_field(NC, "power_state");
    ST_ASSERT_STR_EQ(s, "on"); /* the spare */
    free(s);
    s = node_field(NA, "power_state");
    ST_ASSERT_STR_EQ(s, "on"); /* holds x */
    free(s);
    char *c = calls(), want[200];
    snprintf(want, sizeof want, "call [off] [pw-b] [test-host] [] [%s] env=pw-b\n", ids[NB]);
    ST_ASSERT_INT_EQ(count_of(c, want), 1); /* once, though two gateways tick */
    ST_ASSERT_INT_EQ(count_of(c, "call "), 1);
    free(c);
}

/* Waits up to ms for node k's draining_until to be (set) or not; 1 when it is. */
static int wait_draining(int k, int set, int ms)
{
    for (int t = 0; t <= ms; t += 100) {
        char *s = node_field(k, "draining_until");
        int ok = !!*s == set;
        free(s);
        if (ok)
            return 1;
        usleep(100000);
    }
    return 0;
}

static void test_draining_hosts_go_off_first_and_a_kept_one_stops_draining(void)
{
    /* A holds x, B off, C the spare. D joins, empty and draining (a consolidation emptied
     * it): with one spare kept, D goes off, not C, though C is idle longer */
    gwt_sql(&T, "UPDATE iaas.nodes SET draining_until = now() + interval '1 hour'"
                " WHERE name = 'pw-d'");
    set_disabled(ND, 0);
    CU_ASSERT_TRUE_FATAL(wait_power(ND, "off", 8000));
    char *s = node_field(NC, "power_state");
    ST_ASSERT_STR_EQ(s, "on");
    free(s);
    char *c = calls();
    ST_ASSERT_INT_EQ(count_of(c, "call [off] [pw-d]"), 1);
    ST_ASSERT_INT_EQ(count_of(c, "call [off] [pw-c]"), 0);
    free(c);
    /* C alone empty and draining: it stays on as the spare, and its mark goes (a spare that
     * takes no instance is none) */
    gwt_sql(&T, "UPDATE iaas.nodes SET draining_until = now() + interval '1 hour'"
                " WHERE name = 'pw-c'");
    CU_ASSERT_TRUE(wait_draining(NC, 0, 8000));
    s = node_field(NC, "power_state");
    ST_ASSERT_STR_EQ(s, "on");
    free(s);
    /* D back as the others expect it: on, disabled */
    set_disabled(ND, 1);
    gwt_sql(&T, "UPDATE iaas.nodes SET power_state = 'on', power_cmd_at = NULL,"
                " draining_until = NULL, empty_since = NULL WHERE name = 'pw-d'");
}

static void test_scheduler_skips_hosts_not_on(void)
{
    /* C powering off (its command claimed, so none runs), B off and
     * disabled (so not powered on), A full: nowhere to go */
    gwt_sql(&T, "UPDATE iaas.nodes SET power_state = 'powering_off', power_cmd_at = now()"
                " WHERE name = 'pw-c'");
    set_disabled(NB, 1);
    char z[40];
    create("z", "m1.small", z);
    char *st = gwt_instance_field(&T, A.member, z, "state"),
         *fault = gwt_instance_field(&T, A.member, z, "fault"),
         *node = gwt_instance_field(&T, A.member, z, "node_id");
    ST_ASSERT_STR_EQ(st, "error");
    CU_ASSERT_PTR_NOT_NULL(strstr(fault, "1 powered off"));
    ST_ASSERT_STR_EQ(node, "(null)");
    free(st);
    free(fault);
    free(node);
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", z);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 202);
    gwt_sql(&T, "UPDATE iaas.nodes SET power_state = 'on', power_cmd_at = NULL,"
                " empty_since = NULL WHERE name = 'pw-c'");
    set_disabled(NB, 0);
}

static void test_create_powers_a_host_on_and_waits_for_its_heartbeat(void)
{
    char w[40], v[40];
    create("w", "pw.full", w); /* onto C, the spare */
    char *n = gwt_instance_field(&T, A.member, w, "node_id");
    ST_ASSERT_STR_EQ(n, ids[NC]);
    free(n);
    create("v", "pw.full", v); /* no host that is on fits: B is powered on */
    n = gwt_instance_field(&T, A.member, v, "node_id");
    char *st = gwt_instance_field(&T, A.member, v, "state"),
         *task = gwt_instance_field(&T, A.member, v, "task");
    ST_ASSERT_STR_EQ(n, ids[NB]);
    ST_ASSERT_STR_EQ(st, "building");
    ST_ASSERT_STR_EQ(task, "waiting_host_power_on");
    free(n);
    free(st);
    free(task);
    CU_ASSERT_TRUE(wait_call("call [on] [pw-b] [test-host] env=pw-b\n", 3000));
    usleep(600000); /* the command done: still powering on until the agent beats */
    char *s = node_field(NB, "power_state");
    ST_ASSERT_STR_EQ(s, "powering_on");
    free(s);
    gwt_heartbeat(&T, tok[NB], 2, 2048, 100);
    s = node_field(NB, "power_state");
    ST_ASSERT_STR_EQ(s, "on");
    free(s);
    task = gwt_instance_field(&T, A.member, v, "task");
    ST_ASSERT_STR_EQ(task, "(null)"); /* placed: the agent's desired set has it */
    free(task);
    ST_ASSERT_INT_EQ(gwt_report(&T, tok[NB], v, "active", gwt_instance_generation(&T, NULL, v)),
                     200);
    char *c = calls();
    ST_ASSERT_INT_EQ(count_of(c, "call [on] [pw-b]"), 1);
    free(c);
}

static void test_power_on_timeout_puts_the_instance_in_error(void)
{
    gwt_sql(&T, "UPDATE iaas.nodes SET power_state = 'off' WHERE name = 'pw-d'");
    set_disabled(ND, 0);
    char u[40];
    create("u", "m1.small", u); /* A, B and C are full */
    char *n = gwt_instance_field(&T, A.member, u, "node_id");
    ST_ASSERT_STR_EQ(n, ids[ND]);
    free(n);
    CU_ASSERT_TRUE(wait_call("call [on] [pw-d]", 3000));
    /* one power-on serves the next placement too; deleted while it waits,
     * an instance is gone at once (no agent ever saw it) */
    char small[40];
    create("small", "m1.small", small);
    n = gwt_instance_field(&T, A.member, small, "node_id");
    ST_ASSERT_STR_EQ(n, ids[ND]);
    free(n);
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", small);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "DELETE", path, A.member, NULL), 202);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "state")), "deleted");
    st_resp_free(&r);
    /* no heartbeat: after power.on_timeout the host is off with a fault */
    CU_ASSERT_TRUE_FATAL(wait_power(ND, "off", 8000));
    char *st = gwt_instance_field(&T, A.member, u, "state"),
         *fault = gwt_instance_field(&T, A.member, u, "fault"), *pf = node_field(ND, "power_fault");
    ST_ASSERT_STR_EQ(st, "error");
    CU_ASSERT_PTR_NOT_NULL(strstr(fault, "did not power on within 3 s"));
    CU_ASSERT_PTR_NOT_NULL(strstr(pf, "no heartbeat within 3 s"));
    free(st);
    free(fault);
    free(pf);
}

static void test_failed_commands_show_a_fault_and_restore_the_state(void)
{
    /* power-on fails: the host is off again, the instance in error */
    touch("fail-on-pw-d");
    char u[40];
    create("u2", "pw.full", u);
    CU_ASSERT_TRUE(wait_call("call [on] [pw-d]", 3000));
    for (int t = 0; t < 50; t++) {
        char *st = gwt_instance_field(&T, A.member, u, "state");
        int done = !strcmp(st, "error");
        free(st);
        if (done)
            break;
        usleep(100000);
    }
    char *st = gwt_instance_field(&T, A.member, u, "state"),
         *fault = gwt_instance_field(&T, A.member, u, "fault"), *pf = node_field(ND, "power_fault"),
         *ps = node_field(ND, "power_state");
    ST_ASSERT_STR_EQ(st, "error");
    CU_ASSERT_PTR_NOT_NULL(strstr(fault, "exited with status 3: bmc of pw-d unreachable"));
    ST_ASSERT_STR_EQ(pf, "the power-on command exited with status 3: bmc of pw-d unreachable");
    ST_ASSERT_STR_EQ(ps, "off");
    free(st);
    free(fault);
    free(pf);
    free(ps);
    /* power-off fails: C (emptied) is on again with the fault */
    char w[40] = "";
    st_resp r;
    gwt_call(&T, &r, "GET", "/v1/instances?limit=1000", A.member, NULL);
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(r.json, "instances"), i,
                       it) if (!strcmp(json_string_value(json_object_get(it, "name")), "w"))
        snprintf(w, sizeof w, "%s", json_string_value(json_object_get(it, "id")));
    st_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", w);
    ST_ASSERT_INT_EQ(action(T.admin_token, NC, "power_off"), 409); /* holds w */
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 202);
    ST_ASSERT_INT_EQ(gwt_report(&T, tok[NC], w, "deleted", gwt_instance_generation(&T, NULL, w)),
                     200);
    touch("fail-off-pw-c");
    ST_ASSERT_INT_EQ(action(T.admin_token, NC, "power_off"), 202);
    CU_ASSERT_TRUE(wait_call("call [off] [pw-c]", 3000));
    usleep(300000);
    CU_ASSERT_TRUE(wait_power(NC, "on", 3000));
    pf = node_field(NC, "power_fault");
    ST_ASSERT_STR_EQ(pf, "the power-off command exited with status 3: bmc of pw-c unreachable");
    free(pf);
    /* refusals */
    ST_ASSERT_INT_EQ(action(T.admin_token, NA, "power_off"), 409); /* holds x */
    ST_ASSERT_INT_EQ(action(T.admin_token, NA, "power_on"), 409);  /* on already */
    ST_ASSERT_INT_EQ(action(T.admin_token, NA, "reboot"), 400);
    ST_ASSERT_INT_EQ(action(A.admin, NC, "power_off"), 403);
    ST_ASSERT_INT_EQ(action(A.member, ND, "power_on"), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST",
                                "/v1/nodes/00000000-0000-4000-8000-000000000000/actions",
                                T.admin_token, "{\"action\":\"power_on\"}"),
                     404);
}

static void test_hostile_hostname_is_one_argument_never_a_shell(void)
{
    /* the agent reports its hostname: untrusted text */
    char hostile[256], body[512];
    snprintf(hostile, sizeof hostile, "$(touch %s/pwned1); `touch %s/pwned2` 'q\" & x|y", dir, dir);
    json_t *b = json_pack("{s:s, s:{s:i, s:i, s:i}}", "hostname", hostile, "capacity", "vcpus", 2,
                          "memory_mib", 2048, "disk_gib", 100);
    char *txt = json_dumps(b, JSON_COMPACT);
    snprintf(body, sizeof body, "%s", txt);
    free(txt);
    json_decref(b);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/internal/v1/node", tok[NC], body), 200);
    char path[160];
    snprintf(path, sizeof path, "%s/fail-off-pw-c", dir);
    unlink(path);
    ST_ASSERT_INT_EQ(action(T.admin_token, NC, "power_off"), 202);
    CU_ASSERT_TRUE_FATAL(wait_power(NC, "off", 5000));
    char want[400];
    snprintf(want, sizeof want, "call [off] [pw-c] [%s] [] [%s] env=pw-c\n", hostile, ids[NC]);
    char *c = calls();
    ST_ASSERT_INT_EQ(count_of(c, want), 1);
    free(c);
    snprintf(path, sizeof path, "%s/pwned1", dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/pwned2", dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    char *pf = node_field(NC, "power_fault");
    ST_ASSERT_STR_EQ(pf, "");
    free(pf);
    /* a host that heartbeats while off is on */
    gwt_heartbeat(&T, tok[NC], 2, 2048, 100);
    char *s = node_field(NC, "power_state");
    ST_ASSERT_STR_EQ(s, "on");
    free(s);
    /* a hostname that would be an option to the command (ssh's
     * -oProxyCommand runs a shell): the command is not run at all */
    snprintf(hostile, sizeof hostile, "-oProxyCommand=touch %s/pwned3", dir);
    b = json_pack("{s:s, s:{s:i, s:i, s:i}}", "hostname", hostile, "capacity", "vcpus", 2,
                  "memory_mib", 2048, "disk_gib", 100);
    txt = json_dumps(b, JSON_COMPACT);
    snprintf(body, sizeof body, "%s", txt);
    free(txt);
    json_decref(b);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/internal/v1/node", tok[NC], body), 200);
    ST_ASSERT_INT_EQ(action(T.admin_token, NC, "power_off"), 202);
    for (int t = 0; t < 50; t++) {
        pf = node_field(NC, "power_fault");
        int done = pf[0] != 0;
        free(pf);
        if (done)
            break;
        usleep(100000);
    }
    pf = node_field(NC, "power_fault");
    CU_ASSERT_PTR_NOT_NULL(strstr(pf, "not run"));
    CU_ASSERT_PTR_NOT_NULL(strstr(pf, "starts with '-'"));
    free(pf);
    s = node_field(NC, "power_state");
    ST_ASSERT_STR_EQ(s, "on");
    free(s);
    c = calls();
    ST_ASSERT_INT_EQ(count_of(c, "call [off] [pw-c]"), 2); /* none more */
    free(c);
    snprintf(path, sizeof path, "%s/pwned3", dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
}

static CU_TestInfo tests[] = {
    {"idle hosts are powered off after idle_after, spares kept, once across two gateways",
     test_idle_hosts_power_off_keeping_spares_once},
    {"draining hosts go off first; one kept as the spare is no longer draining",
     test_draining_hosts_go_off_first_and_a_kept_one_stops_draining},
    {"the scheduler skips hosts that are off or powering off", test_scheduler_skips_hosts_not_on},
    {"a create that needs capacity powers a host on and waits for its heartbeat",
     test_create_powers_a_host_on_and_waits_for_its_heartbeat},
    {"no heartbeat within on_timeout: the waiting instance goes to error",
     test_power_on_timeout_puts_the_instance_in_error},
    {"failed commands show a fault and restore the power state; refusals",
     test_failed_commands_show_a_fault_and_restore_the_state},
    {"a hostile hostname is one argument, never read by a shell",
     test_hostile_hostname_is_one_argument_never_a_shell},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"power", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
