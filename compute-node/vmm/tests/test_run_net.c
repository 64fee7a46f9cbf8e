/*
 * vmm_run_net - two stratus-vmm guests exchange frames: their virtio-net
 * devices sit on taps joined by a bridge, all inside a network namespace
 * this test makes and removes. One guest pings, the other answers; both
 * must pass, and each VMM's NIC counters must show the traffic.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "st_test.h"
#include "vg.h"

static vg_vm a, b;
static char ns[64];

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void)
{
    char cmd[1024];
    snprintf(ns, sizeof ns, "stvmm%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "set -e; ip netns add %s; ip -n %s link set lo up;"
             " ip -n %s link add br0 type bridge; ip -n %s link set br0 up;"
             " for t in tapa tapb; do ip -n %s tuntap add dev $t mode tap;"
             " ip -n %s link set $t master br0; ip -n %s link set $t up; done",
             ns, ns, ns, ns, ns, ns, ns);
    if (sh(cmd) != 0) {
        fprintf(stderr, "could not build the network namespace %s\n", ns);
        return -1;
    }
    if (vg_init(&a, "net-a") || vg_init(&b, "net-b"))
        return -1;
    snprintf(a.netns, sizeof a.netns, "%s", ns);
    snprintf(b.netns, sizeof b.netns, "%s", ns);
    vg_set(&a, "\"nics\": [{\"tap\": \"tapa\", \"mac\": \"52:54:00:00:00:0a\"}]");
    vg_set(&b, "\"nics\": [{\"tap\": \"tapb\", \"mac\": \"52:54:00:00:00:0b\"}]");
    return 0;
}

static int teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", ns);
    sh(cmd);
    vg_cleanup(&a);
    vg_cleanup(&b);
    return 0;
}

/* tx/rx packets of net0 in a VMM's final counters log line. */
static void nic_counters(vg_vm *vm, long long *tx, long long *rx, long long *txb, long long *rxb)
{
    char err[600];
    snprintf(err, sizeof err, "%s.err", vm->serial);
    char *log = vt_slurp(err);
    *tx = *rx = *txb = *rxb = -1;
    for (char *l = log ? strtok(log, "\n") : NULL; l; l = strtok(NULL, "\n")) {
        if (!strstr(l, "\"vmm.counters\""))
            continue;
        json_t *j = json_loads(l, 0, NULL);
        json_t *n = json_array_get(json_object_get(json_object_get(j, "counters"), "nics"), 0);
        if (n && !strcmp(json_string_value(json_object_get(n, "id")), "net0")) {
            *tx = json_integer_value(json_object_get(n, "tx_packets"));
            *rx = json_integer_value(json_object_get(n, "rx_packets"));
            *txb = json_integer_value(json_object_get(n, "tx_bytes"));
            *rxb = json_integer_value(json_object_get(n, "rx_bytes"));
        }
        json_decref(j);
    }
    free(log);
}

static void test_ping_pong(void)
{
    guest_proc pa, pb;
    guest_result ra, rb;
    char mac[32], pongs[16], answered[16];
    CU_ASSERT_FATAL(vg_spawn(&b, "scenario=net net.role=pong net.count=4 net.wait_ms=8000", &pb) ==
                    0);
    CU_ASSERT_FATAL(vg_spawn(&a, "scenario=net net.role=ping net.count=4 net.wait_ms=8000", &pa) ==
                    0);
    int va = guest_wait(&pa, 30000, &ra);
    int vb = guest_wait(&pb, 30000, &rb);
    if (va != GUEST_PASS)
        guest_result_print(&ra, stderr);
    if (vb != GUEST_PASS)
        guest_result_print(&rb, stderr);
    ST_ASSERT_INT_EQ(va, GUEST_PASS);
    ST_ASSERT_INT_EQ(vb, GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data(&ra, "net.mac", mac, sizeof mac), 0);
    ST_ASSERT_STR_EQ(mac, "52:54:00:00:00:0a"); /* the MAC from the config */
    ST_ASSERT_INT_EQ(guest_data(&ra, "net.pongs", pongs, sizeof pongs), 0);
    ST_ASSERT_STR_EQ(pongs, "4");
    ST_ASSERT_INT_EQ(guest_data(&rb, "net.answered", answered, sizeof answered), 0);
    CU_ASSERT(atoi(answered) >= 4); /* resent pings are answered again */
    guest_result_free(&ra);
    guest_result_free(&rb);

    long long tx, rx, txb, rxb;
    nic_counters(&a, &tx, &rx, &txb, &rxb);
    CU_ASSERT(tx >= 4); /* at least the four pings (64-byte frames) */
    CU_ASSERT(rx >= 4);
    CU_ASSERT(txb >= 4 * 64);
    CU_ASSERT(rxb >= 4 * 64);
    nic_counters(&b, &tx, &rx, &txb, &rxb);
    CU_ASSERT(tx >= 4);
    CU_ASSERT(rx >= 4);
}

static CU_TestInfo tests[] = {
    {"net: two guests on bridged taps ping and pong; NIC counters count it", test_ping_pong},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"net", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    return st_test_main(argc, argv, suites);
}
