/*
 * vmm_control_api - the control API of `stratus-vmm --api-sock PATH` before a VM
 * is started, which needs no /dev/kvm: routing (404, 405 with Allow), JSON errors,
 * X-Request-Id, body limits, hostile HTTP, the configuration's validation and the
 * answers that come before an exit (stop, a failed start). The same server
 * against a running VM is vmm_control's (host KVM).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "st_rawhttp.h"
#include "st_test.h"

static vt_api A;

static int setup(void)
{
    return vt_api_start(&A, "vmm-api", "never run\n");
}

static int teardown(void)
{
    vt_api_end(&A);
    return 0;
}

static int api(const char *method, const char *path, const char *body)
{
    return vt_http_retry(A.sock, method, path, body, NULL);
}

/* A raw request's reply, head included. */
static void raw(const char *request, st_raw *r)
{
    st_raw_send(A.sock, 0, request, strlen(request), 5000, r);
}

static void test_not_started(void)
{
    json_t *j = NULL;
    ST_ASSERT_INT_EQ(api("GET", "/vm", NULL), 200);
    ST_ASSERT_INT_EQ(vt_http_json(A.sock, "GET", "/vm", NULL, &j), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "state")), "not_started");
    CU_ASSERT(json_is_false(json_object_get(j, "configured")));
    CU_ASSERT(json_string_length(json_object_get(j, "boot_id")) == 36);
    json_decref(j);
    ST_ASSERT_INT_EQ(api("GET", "/vm/counters", NULL), 409);
    ST_ASSERT_INT_EQ(api("GET", "/vm/serial", NULL), 409);
    ST_ASSERT_INT_EQ(api("POST", "/vm/serial", "x"), 409);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": \"pause\"}"), 409);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": \"power_button\"}"), 409);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": \"start\"}"), 409);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/snapshot", "{\"dir\": \"/tmp\"}"), 409);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/upgrade", "{\"socket\": \"/tmp/u.sock\"}"), 409);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/migrate", "{\"uri\": \"tcp:127.0.0.1:4444\"}"), 409);
    ST_ASSERT_INT_EQ(api("DELETE", "/vm/migrate", NULL), 409);
    ST_ASSERT_INT_EQ(vt_http_json(A.sock, "GET", "/vm/migrate", NULL, &j), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "state")), "none");
    json_decref(j);
    ST_ASSERT_INT_EQ(api("GET", "/healthz", NULL), 200);
}

static void test_config_validated(void)
{
    char body[1024];
    ST_ASSERT_INT_EQ(api("PUT", "/vm/config", "{oops"), 400);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/config", "{\"kernel\": \"k\", \"vcpu\": 1}"), 400);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/config", "{\"vcpus\": 2}"), 400); /* no kernel */
    snprintf(body, sizeof body, "{\"kernel\": \"%s\", \"control_socket\": \"/tmp/x\"}", A.kernel);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/config", body), 400);
    ST_ASSERT_INT_EQ(api("GET", "/vm/config", NULL), 405);
    json_t *j = NULL;
    ST_ASSERT_INT_EQ(vt_http_json(A.sock, "GET", "/vm", NULL, &j), 200);
    CU_ASSERT(json_is_false(json_object_get(j, "configured"))); /* nothing refused was kept */
    json_decref(j);
    snprintf(body, sizeof body, "{\"kernel\": \"%s\", \"memory_mib\": 32}", A.kernel);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/config", body), 204);
    ST_ASSERT_INT_EQ(vt_http_json(A.sock, "GET", "/vm", NULL, &j), 200);
    CU_ASSERT(json_is_true(json_object_get(j, "configured")));
    json_decref(j);
}

/* Every answer comes from common's server: JSON errors with a code, an
 * X-Request-Id (the caller's when sane), 405 naming the methods allowed. */
static void test_routing_and_errors(void)
{
    st_raw r;
    raw("POST /vm HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", &r);
    ST_ASSERT_INT_EQ(r.status, 405);
    CU_ASSERT(r.head && strstr(r.head, "Allow: GET"));
    ST_ASSERT_STR_EQ(st_raw_error_code(&r), "method_not_allowed");
    st_raw_free(&r);
    raw("GET /vm/migrate/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    ST_ASSERT_INT_EQ(r.status, 404);
    ST_ASSERT_STR_EQ(st_raw_error_code(&r), "not_found");
    st_raw_free(&r);
    raw("GET /vm HTTP/1.1\r\nHost: x\r\nX-Request-Id: agent-req-42\r\nConnection: close\r\n\r\n",
        &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT(r.head && strstr(r.head, "X-Request-Id: agent-req-42"));
    st_raw_free(&r);
    raw("GET /vm/migrate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    CU_ASSERT(r.head && strstr(r.head, "X-Request-Id: "));
    st_raw_free(&r);
    /* the /vm/migrate methods, in one Allow */
    raw("POST /vm/migrate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        &r);
    ST_ASSERT_INT_EQ(r.status, 405);
    CU_ASSERT(r.head && strstr(r.head, "Allow: GET, PUT, DELETE"));
    st_raw_free(&r);
    /* the metering counters are the agent's to read, the process's metrics nobody's here */
    ST_ASSERT_INT_EQ(api("GET", "/metrics", NULL), 401);
    char *body = NULL;
    ST_ASSERT_INT_EQ(vt_http_retry(A.sock, "PUT", "/vm/actions", "{not json", &body), 400);
    CU_ASSERT(body && strstr(body, "\"invalid_request\""));
    free(body);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": \"fly\"}"), 400);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": 3}"), 400);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": \"pause\", \"x\": 1}"), 400);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "[]"), 400);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", ""), 400);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/migrate", "{\"uri\": 1}"), 409); /* not started comes first */
    static char big[70 * 1024];
    memset(big, ' ', sizeof big - 1);
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", big), 413);
    ST_ASSERT_INT_EQ(api("GET", "/vm", NULL), 200); /* and it serves on */
}

/* Hostile bytes on the control socket: JSON errors, a trickled head cut at
 * the 10 s deadline, and the VMM still answering. */
static void test_hostile_input(void)
{
    ST_ASSERT_HOSTILE(A.sock, 0, "/vm", 10);
}

/* A start that fails answers 400 start_failed first, then the process exits 1 (with KVM
 * the reason names the missing kernel; without, KVM's set-up fails first). */
static void test_start_failure_exits_1(void)
{
    st_proc p;
    char sock2[300], body[600];
    snprintf(sock2, sizeof sock2, "%s/api2.sock", A.dir);
    CU_ASSERT_FATAL(vt_start_api(&p, A.dir, sock2) == 0);
    CU_ASSERT_FATAL(vt_wait_exists(sock2, 10000) == 0);
    snprintf(body, sizeof body, "{\"kernel\": \"%s/no-such-kernel\"}", A.dir);
    ST_ASSERT_INT_EQ(vt_http_retry(sock2, "PUT", "/vm/config", body, NULL), 204);
    char *resp = NULL;
    ST_ASSERT_INT_EQ(vt_http(sock2, "PUT", "/vm/actions", "{\"action\": \"start\"}", &resp), 400);
    CU_ASSERT(resp && strstr(resp, "\"start_failed\""));
    if (access("/dev/kvm", R_OK | W_OK) == 0)
        CU_ASSERT(resp && strstr(resp, "no-such-kernel"));
    free(resp);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 1);
}

/* stop answers 204 and only then ends the process, with status 0. */
static void test_stop_answers_then_exits_0(void)
{
    ST_ASSERT_INT_EQ(api("PUT", "/vm/actions", "{\"action\": \"stop\"}"), 204);
    ST_ASSERT_INT_EQ(vt_wait(&A.p, 10000), 0);
    CU_ASSERT(access(A.sock, F_OK) != 0); /* its socket file went with it */
}

static CU_TestInfo tests[] = {
    {"before start: state not_started; every action on a VM answers 409", test_not_started},
    {"PUT /vm/config validates like the config file (and refuses control_socket)",
     test_config_validated},
    {"404, 405 with Allow, JSON error codes, X-Request-Id, 413 over 64 KiB",
     test_routing_and_errors},
    {"hostile HTTP gets JSON errors, slow heads are cut, the VMM serves on", test_hostile_input},
    {"a start that fails answers 400, then the VMM exits 1", test_start_failure_exits_1},
    {"stop answers 204, then the VMM exits 0 and removes its socket",
     test_stop_answers_then_exits_0},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"control-api", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
