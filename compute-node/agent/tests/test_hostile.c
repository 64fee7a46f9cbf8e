/*
 * node_hostile: the gateway's answers are untrusted. With VMs
 * running, the agent is restarted against a fake gateway that answers every
 * call with something broken - malformed JSON, wrong types, bad ids, an
 * oversized body, a body cut short, a 500, a 401 - in turn. The agent must
 * stay up and leave the VMs exactly as they are (a malformed desired set is
 * refused whole, never read as "run nothing"); pointed back at the real
 * gateway, it carries on.
 */
#include "st_cloud.h"
#include "st_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static cloud C;
static cloud_agent A;
static int fake_fd = -1, fake_port, fake_served;
static volatile int fake_stop;

#define LONG_CPU "scenario=cpu cpu.ms=600000"

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void answer(int fd, int k)
{
    static const char *const bodies[] = {
        "{not json",
        "{\"instances\":\"all of them\"}",
        "{\"instances\":[{\"id\":\"../../../etc/passwd\",\"desired\":\"running\"}]}",
        "{\"instances\":[{\"id\":\"11111111-1111-4111-8111-111111111111\",\"tenant_id\":"
        "\"11111111-1111-4111-8111-111111111111\",\"image_id\":\"11111111-1111-4111-8111-"
        "111111111111\",\"state\":\"active\",\"desired\":\"running\",\"generation\":1e99,"
        "\"reboot_seq\":0,\"vcpus\":1,\"memory_mib\":32,\"disk_gib\":1}]}",
        "[]",
        "\"instances\"",
    };
    char head[256];
    int nb = (int)(sizeof bodies / sizeof bodies[0]);
    int kind = k % (nb + 4);
    if (kind < nb) {
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 strlen(bodies[kind]));
        send_all(fd, head, strlen(head));
        send_all(fd, bodies[kind], strlen(bodies[kind]));
    } else if (kind == nb) { /* 33 MiB of JSON-looking bytes: over the client's cap */
        size_t n = 33u << 20;
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
        send_all(fd, head, strlen(head));
        char *big = malloc(1 << 20);
        memset(big, '[', 1 << 20);
        for (size_t i = 0; i < n >> 20; i++)
            send_all(fd, big, 1 << 20);
        free(big);
    } else if (kind == nb + 1) { /* promised 1000 bytes, sends 10 and hangs up */
        const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"instanc";
        send_all(fd, h, strlen(h));
    } else if (kind == nb + 2) {
        const char *h = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}";
        send_all(fd, h, strlen(h));
    } else {
        const char *h = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        send_all(fd, h, strlen(h));
    }
}

static void *fake_gateway(void *arg)
{
    int k = 0;
    while (!fake_stop) {
        int c = accept(fake_fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[8192];
        ssize_t n = recv(c, req, sizeof req - 1, 0); /* the head is enough */
        if (n > 0)
            answer(c, k++);
        __atomic_store_n(&fake_served, k, __ATOMIC_RELEASE);
        shutdown(c, SHUT_RDWR);
        close(c);
    }
    return NULL;
}

static int setup(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        st_skip("no /dev/kvm");
    cloud_start(&C, "node_hostile");
    /* no fence: a gateway that takes no heartbeat for long enough would
     * rightly have the agent stop its VMs (node_fence); here the answers
     * are what is tested */
    static const char *const no_fence[] = {"fence.timeout = 0", NULL};
    cloud_agent_start(&C, &A, "node-h", no_fence);
    fake_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(fake_fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fake_fd, 64) < 0 ||
        getsockname(fake_fd, (struct sockaddr *)&a, &al) < 0)
        return 1;
    fake_port = ntohs(a.sin_port);
    return 0;
}

static int teardown(void)
{
    cloud_agent_stop(&A, SIGTERM);
    cloud_stop(&C);
    if (fake_fd >= 0)
        close(fake_fd);
    return 0;
}

static void test_hostile_answers(void)
{
    char a[40], b[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "h-a", LONG_CPU, a), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "h-b", LONG_CPU, b), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, a, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, b, "state", "active", 30000), 0);
    int before[8];
    ST_ASSERT_INT_EQ_FATAL(cloud_vmm_pids(A.state_dir, before, 8), 2);

    /* the same agent, its gateway now hostile */
    cloud_agent_stop(&A, SIGTERM);
    FILE *f = fopen(A.conf, "a");
    fprintf(f, "gateway.url = http://127.0.0.1:%d\n", fake_port);
    fclose(f);
    pthread_t th;
    fake_stop = 0;
    pthread_create(&th, NULL, fake_gateway, NULL);
    cloud_agent_restart(&C, &A);
    long long end = st_now_ms() + 30000;
    while (st_now_ms() < end && __atomic_load_n(&fake_served, __ATOMIC_ACQUIRE) < 40)
        usleep(100000);
    ST_ASSERT_INT_EQ(__atomic_load_n(&fake_served, __ATOMIC_ACQUIRE) >= 40, 1);
    ST_ASSERT_INT_EQ(st_proc_alive(&A.p), 1); /* still up */
    int during[8];
    ST_ASSERT_INT_EQ(cloud_vmm_pids(A.state_dir, during, 8), 2);
    ST_ASSERT_INT_EQ(during[0] + during[1], before[0] + before[1]); /* the same VMs */
    char log[800];
    snprintf(log, sizeof log, "%s/%s.log", C.dir, A.name);
    ST_ASSERT_INT_EQ(cloud_file_count(log, "\"node.fetch\"") > 0, 1);
    ST_ASSERT_INT_EQ(cloud_file_count(log, "node.park"), 0); /* nothing stopped */

    /* back to the real gateway: the agent picks up where it was */
    cloud_agent_stop(&A, SIGTERM);
    fake_stop = 1;
    int wake = socket(AF_INET, SOCK_STREAM, 0); /* unblock accept() */
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)fake_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    connect(wake, (struct sockaddr *)&sa, sizeof sa);
    close(wake);
    pthread_join(th, NULL);
    f = fopen(A.conf, "a");
    fprintf(f, "gateway.url = %s\n", C.gw.base);
    fclose(f);
    cloud_agent_restart(&C, &A);
    ST_ASSERT_INT_EQ(cloud_action(&C, a, "stop"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, a, "state", "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_delete(&C, a), 202);
    ST_ASSERT_INT_EQ(cloud_delete(&C, b), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, a, 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, b, 30000), 0);
}

static CU_TestInfo tests[] = {
    {"hostile gateway answers neither crash the agent nor touch its VMs", test_hostile_answers},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"hostile", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
