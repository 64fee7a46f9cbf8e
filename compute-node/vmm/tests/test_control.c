/*
 * vmm_control - the control API on its unix socket, against a running VM
 * whose tiny guest prints a few lines and then spins in ring 0. What needs no
 * running VM (routing, errors, hostile HTTP, the configuration) is
 * vmm_control_api's, which runs without /dev/kvm.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "st_test.h"

static char *dir;
static char sock[256];
static st_proc vmm;

static int start_vm(void)
{
    char kernel[512];
    vt_code c = {0};
    vt_print(&c, "line one\nline two\nline three\n");
    vt_spin(&c);
    snprintf(kernel, sizeof kernel, "%s/spin.elf", dir);
    snprintf(sock, sizeof sock, "%s/api.sock", dir);
    unlink(vt_path(dir, "serial.log"));
    if (vt_write_elf(kernel, &c))
        return -1;
    char extra[512];
    snprintf(extra, sizeof extra, "\"control_socket\": \"%s\", \"rng\": true", sock);
    char *cfg = vt_config(dir, kernel, extra);
    int rc = vt_start(&vmm, dir, cfg);
    free(cfg);
    if (rc)
        return -1;
    if (vt_wait_exists(sock, 10000) ||
        vt_wait_for(vt_path(dir, "serial.log"), "line three\n", 10000)) {
        st_proc_dump_log(&vmm);
        st_proc_stop(&vmm, SIGKILL, 1000);
        return -1;
    }
    return 0;
}

static int setup(void)
{
    dir = st_tmpdir("vmm-ctl");
    return dir && start_vm() == 0 ? 0 : -1;
}

static int teardown(void)
{
    if (st_proc_alive(&vmm))
        st_proc_stop(&vmm, SIGKILL, 1000);
    st_rmtree(dir);
    free(dir);
    return 0;
}

static long long cpu_ns(void)
{
    json_t *j = NULL;
    long long ns = -1;
    if (vt_http_json(sock, "GET", "/vm/counters", NULL, &j) == 200)
        ns = json_integer_value(json_object_get(j, "cpu_time_ns_total"));
    json_decref(j);
    return ns;
}

static const char *state(void)
{
    static char buf[32];
    json_t *j = NULL;
    buf[0] = 0;
    if (vt_http_json(sock, "GET", "/vm", NULL, &j) == 200)
        snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(j, "state")));
    json_decref(j);
    return buf;
}

static void test_state_lists_devices(void)
{
    json_t *j = NULL;
    ST_ASSERT_INT_EQ(vt_http_json(sock, "GET", "/vm", NULL, &j), 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "state")), "running");
    json_t *devs = json_object_get(j, "devices");
    ST_ASSERT_INT_EQ(json_array_size(devs), 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(devs, 0), "type")), "rng");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(devs, 0), "pci")), "00:01.0");
    json_decref(j);
}

static void test_counters_shape(void)
{
    json_t *j = NULL;
    ST_ASSERT_INT_EQ(vt_http_json(sock, "GET", "/vm/counters", NULL, &j), 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    const char *boot_id = json_string_value(json_object_get(j, "boot_id"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(boot_id);
    ST_ASSERT_INT_EQ(strlen(boot_id), 36);
    json_t *vcpus = json_object_get(j, "vcpus");
    ST_ASSERT_INT_EQ(json_array_size(vcpus), 1);
    json_t *v0 = json_array_get(vcpus, 0);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(v0, "id")), 0);
    CU_ASSERT(json_integer_value(json_object_get(v0, "cpu_time_ns")) > 0);
    CU_ASSERT(json_integer_value(json_object_get(v0, "cycles")) > 0);
    CU_ASSERT(json_is_integer(json_object_get(j, "cpu_time_ns_total")));
    CU_ASSERT(json_is_integer(json_object_get(j, "cycles_total")));
    CU_ASSERT(json_is_array(json_object_get(j, "nics")));
    CU_ASSERT(json_is_array(json_object_get(j, "disks")));
    /* 3 lines of output = at least one port I/O exit per byte written. */
    json_t *exits = json_object_get(j, "exits");
    CU_ASSERT(json_integer_value(json_object_get(exits, "io")) >= 29);
    CU_ASSERT(json_is_integer(json_object_get(exits, "mmio")));
    CU_ASSERT(json_is_integer(json_object_get(exits, "hlt")));
    json_decref(j);
}

static void test_boot_id_stable(void)
{
    json_t *a = NULL, *b = NULL;
    vt_http_json(sock, "GET", "/vm/counters", NULL, &a);
    vt_http_json(sock, "GET", "/vm", NULL, &b);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(a, "boot_id")),
                     json_string_value(json_object_get(b, "boot_id")));
    json_decref(a);
    json_decref(b);
}

static void test_serial_tail(void)
{
    char *body = NULL;
    ST_ASSERT_INT_EQ(vt_http(sock, "GET", "/vm/serial?tail=1", NULL, &body), 200);
    ST_ASSERT_STR_EQ(body, "line three\n");
    free(body);
    ST_ASSERT_INT_EQ(vt_http(sock, "GET", "/vm/serial?tail=2", NULL, &body), 200);
    ST_ASSERT_STR_EQ(body, "line two\nline three\n");
    free(body);
    ST_ASSERT_INT_EQ(vt_http(sock, "GET", "/vm/serial", NULL, &body), 200);
    ST_ASSERT_STR_EQ(body, "line one\nline two\nline three\n");
    free(body);
}

/* The guest reads no input: the FIFO fills at VMM_SERIAL_RX bytes and then takes nothing. */
static void test_serial_input(void)
{
    char in[301];
    memset(in, 'x', 300);
    in[300] = 0;
    json_t *j = NULL;
    ST_ASSERT_INT_EQ(vt_http_json(sock, "POST", "/vm/serial", in, &j), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "accepted")), 256);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "bytes")), 300);
    json_decref(j);
    j = NULL;
    ST_ASSERT_INT_EQ(vt_http_json(sock, "POST", "/vm/serial", "y", &j), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "accepted")), 0);
    json_decref(j);
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/serial", "y", NULL), 405);
}

static void test_pause_stops_cpu_time(void)
{
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{\"action\": \"pause\"}", NULL), 204);
    ST_ASSERT_STR_EQ(state(), "paused");
    /* A parked vCPU thread uses no CPU at all: two samples 300 ms apart agree (a few
     * tries, in case the thread was still entering its futex wait on a busy host). */
    long long a = -1, b = -2;
    for (int i = 0; i < 5 && a != b; i++) {
        a = cpu_ns();
        usleep(300 * 1000);
        b = cpu_ns();
    }
    CU_ASSERT(a > 0);
    ST_ASSERT_INT_EQ(b, a);
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{\"action\": \"resume\"}", NULL), 204);
    ST_ASSERT_STR_EQ(state(), "running");
    long long c = cpu_ns();
    for (int i = 0; i < 200 && c <= b; i++) {
        usleep(20 * 1000);
        c = cpu_ns();
    }
    CU_ASSERT(c > b);
}

static void test_malformed_requests(void)
{
    char *body = NULL;
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{not json", &body), 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"error\""));
    free(body);
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{\"action\": \"fly\"}", NULL), 400);
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{\"action\": 3}", NULL), 400);
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{\"action\": \"pause\", \"x\": 1}", NULL),
                     400);
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "[]", NULL), 400);
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "", NULL), 400);
    ST_ASSERT_INT_EQ(vt_http(sock, "GET", "/vm/serial?tail=abc", NULL, NULL), 400);
    ST_ASSERT_INT_EQ(vt_http(sock, "GET", "/vm/serial?tail=-1", NULL, NULL), 400);
    ST_ASSERT_INT_EQ(vt_http(sock, "GET", "/nope", NULL, NULL), 404);
    ST_ASSERT_INT_EQ(vt_http(sock, "POST", "/vm", "{}", NULL), 405);
    ST_ASSERT_INT_EQ(vt_http(sock, "GET", "/vm/actions", NULL, NULL), 405);
    char big[70 * 1024];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", big, NULL), 413);
    ST_ASSERT_STR_EQ(state(), "running");
}

/* The press itself reaching the guest's interrupt controller is vmm_power_button's. */
static void test_power_button_action(void)
{
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{\"action\": \"power_button\"}", NULL),
                     204);
    ST_ASSERT_STR_EQ(state(), "running"); /* the guest decides what a press means */
    CU_ASSERT(vt_wait_for(vt_path(dir, "vmm.log"), "power button pressed", 5000) == 0);
}

static void test_reset_reboots(void)
{
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{\"action\": \"reset\"}", NULL), 204);
    /* The guest runs from its entry again: its three lines appear a second time. */
    long long end = st_now_ms() + 10000;
    int twice = 0;
    while (!twice && st_now_ms() < end) {
        char *s = vt_slurp(vt_path(dir, "serial.log"));
        char *first = s ? strstr(s, "line three\n") : NULL;
        twice = first && strstr(first + 1, "line three\n");
        free(s);
        if (!twice)
            usleep(20000);
    }
    CU_ASSERT(twice);
    ST_ASSERT_STR_EQ(state(), "running");
}

static void test_no_privileges(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)vmm.pid);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int seen = 0, nnp = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapPrm:", 7)) {
            seen++;
            ST_ASSERT_STR_EQ(line + 8 + strspn(line + 8, "\t "), "0000000000000000\n");
        }
        if (!strncmp(line, "NoNewPrivs:", 11))
            nnp = atoi(line + 11);
    }
    fclose(f);
    ST_ASSERT_INT_EQ(seen, 2);
    ST_ASSERT_INT_EQ(nnp, 1);
}

static void test_shutdown_exits_0(void)
{
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{\"action\": \"shutdown\"}", NULL), 204);
    ST_ASSERT_INT_EQ(vt_wait(&vmm, 10000), 0);
    CU_ASSERT(access(sock, F_OK) != 0); /* the socket is removed */
}

/* ---- configure and start through the API (stratus-vmm --api-sock) ---- */

static vt_api A;

static int api_setup(void)
{
    return vt_api_start(&A, "vmm-api", "configured through the API\n");
}

static int api_teardown(void)
{
    vt_api_end(&A);
    return 0;
}

static int api(const char *method, const char *path, const char *body)
{
    return vt_http_retry(A.sock, method, path, body, NULL);
}

static void test_api_configure_and_start(void)
{
    char body[1024], *serial = NULL;
    json_t *j = NULL;
    snprintf(body, sizeof body, "{\"kernel\": \"%s\", \"memory_mib\": 64}", A.kernel);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/config", body), 204); /* replaced before start: fine */
    snprintf(body, sizeof body,
             "{\"kernel\": \"%s\", \"memory_mib\": 32, \"rng\": true, "
             "\"serial_log\": \"%s/serial.log\"}",
             A.kernel, A.dir);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/config", body), 204);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": \"start\"}"), 204);
    ST_ASSERT_INT_EQ(vt_http_json(A.sock, "GET", "/vm", NULL, &j), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "state")), "running");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(j, "memory_mib")), 32);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(j, "devices")), 1);
    json_decref(j);
    CU_ASSERT(vt_wait_for(vt_path(A.dir, "serial.log"), "configured through the API\n", 10000) ==
              0);
    ST_ASSERT_INT_EQ(vt_http(A.sock, "GET", "/vm/serial?tail=1", NULL, &serial), 200);
    ST_ASSERT_STR_EQ(serial, "configured through the API\n");
    free(serial);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/config", body), 409);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": \"start\"}"), 409);
    ST_ASSERT_INT_EQ(api("GET", "/vm/counters", NULL), 200);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": \"shutdown\"}"), 204);
    ST_ASSERT_INT_EQ(vt_wait(&A.p, 10000), 0);
}

static CU_TestInfo api_tests[] = {
    {"PUT /vm/config then start boots the guest; config and start are refused afterwards",
     test_api_configure_and_start},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests[] = {
    {"GET /vm shows the state and the devices with their PCI addresses", test_state_lists_devices},
    {"GET /vm/counters has the metering shape billing relies on", test_counters_shape},
    {"boot_id is the same in /vm and /vm/counters", test_boot_id_stable},
    {"GET /vm/serial?tail=N returns the last N lines", test_serial_tail},
    {"POST /vm/serial queues console input up to the FIFO's room", test_serial_input},
    {"pause parks the vCPUs (CPU time frozen), resume runs them again", test_pause_stops_cpu_time},
    {"malformed requests get 4xx and change nothing", test_malformed_requests},
    {"power_button presses the ACPI power button and the guest runs on", test_power_button_action},
    {"reset reboots the guest from its entry point", test_reset_reboots},
    {"the running VMM holds no capabilities and has no_new_privs", test_no_privileges},
    {"shutdown answers 204, then the VMM exits 0", test_shutdown_exits_0},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"control", setup, teardown, NULL, NULL, tests},
    {"configure-and-start", api_setup, api_teardown, NULL, NULL, api_tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    return st_test_main(argc, argv, suites);
}
