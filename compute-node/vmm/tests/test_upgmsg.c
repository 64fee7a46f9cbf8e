/*
 * vmm_upgmsg - a live upgrade's frames (upgmsg.h) over a socketpair, without KVM: a state
 * frame with a memfd and a pipe arrives with its payload, and the memfd received maps the
 * sender's bytes; ack and nack frames; then every refusal, each with its reason and with
 * no descriptor left open in the receiver: a bad magic, an unknown kind, more descriptors
 * announced than arrived, fewer, more than the receiver takes, more than a frame carries
 * (truncated control message), an over-long length, a truncated payload, a truncated
 * header, a closed peer. Also "memory_shared" in the config: true, false, absent (-1), and
 * a non-boolean refused; and a reboot's clearing of shared (memfd) RAM: zeros read through the
 * mapping and through the memfd, its pages freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fdsend.h"
#include "st_test.h"
#include "upgmsg.h"
#include "vmm.h"

static void pair(int sv[2])
{
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
}

static void test_round_trip(void)
{
    int sv[2], p[2], fds[VMM_UPG_MAX_FDS], nfds = -1;
    uint8_t *buf;
    size_t len;
    uint32_t kind = 0;
    char err[256];
    pair(sv);
    int mfd = memfd_create("t", MFD_CLOEXEC);
    CU_ASSERT_FATAL(mfd >= 0 && ftruncate(mfd, 8192) == 0 && pipe(p) == 0);
    uint8_t *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    CU_ASSERT_FATAL(m != MAP_FAILED);
    memcpy(m + 4096, "guest bytes", 12);
    int send_fds[2] = {mfd, p[1]};
    CU_ASSERT_EQUAL(vmm_upg_send(sv[0], VMM_UPG_STATE, "vmstate!", 8, send_fds, 2), 0);
    CU_ASSERT_EQUAL(
        vmm_upg_recv(sv[1], &kind, &buf, &len, fds, &nfds, VMM_UPG_MAX_FDS, err, sizeof err), 0);
    CU_ASSERT_EQUAL(kind, VMM_UPG_STATE);
    CU_ASSERT(len == 8 && buf && !memcmp(buf, "vmstate!", 8) && buf[8] == 0);
    CU_ASSERT_EQUAL_FATAL(nfds, 2);
    uint8_t *m2 = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    CU_ASSERT_FATAL(m2 != MAP_FAILED);
    CU_ASSERT_STRING_EQUAL((char *)m2 + 4096, "guest bytes"); /* the same pages, no copy */
    m2[0] = 7;
    CU_ASSERT_EQUAL(m[0], 7);
    CU_ASSERT_EQUAL(write(fds[1], "x", 1), 1); /* the pipe's write end */
    char c = 0;
    CU_ASSERT(read(p[0], &c, 1) == 1 && c == 'x');
    munmap(m2, 8192);
    munmap(m, 8192);
    free(buf);
    close(fds[0]);
    close(fds[1]);
    /* ack (empty) and nack (a message) */
    CU_ASSERT_EQUAL(vmm_upg_send(sv[1], VMM_UPG_ACK, NULL, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(vmm_upg_recv(sv[0], &kind, &buf, &len, fds, &nfds, 0, err, sizeof err), 0);
    CU_ASSERT(kind == VMM_UPG_ACK && len == 0 && buf == NULL && nfds == 0);
    CU_ASSERT_EQUAL(vmm_upg_send(sv[1], VMM_UPG_NACK, "no", 2, NULL, 0), 0);
    CU_ASSERT_EQUAL(vmm_upg_recv(sv[0], &kind, &buf, &len, fds, &nfds, 0, err, sizeof err), 0);
    CU_ASSERT(kind == VMM_UPG_NACK && len == 2 && buf && !strcmp((char *)buf, "no"));
    free(buf);
    close(mfd);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

/* A raw frame: header fields as given, then `body` bytes, `nfds` copies of a pipe's fd. */
static void raw(int sock, const char *magic, uint32_t kind, uint32_t say_fds, uint64_t len,
                const char *body, size_t body_len, int nfds, int fd)
{
    uint8_t hdr[VMM_UPG_HEADER];
    memcpy(hdr, magic, 8);
    for (int i = 0; i < 4; i++) {
        hdr[8 + i] = (uint8_t)(kind >> (8 * i));
        hdr[12 + i] = (uint8_t)(say_fds >> (8 * i));
    }
    for (int i = 0; i < 8; i++)
        hdr[16 + i] = (uint8_t)(len >> (8 * i));
    CU_ASSERT(send_with_fds(sock, hdr, sizeof hdr, fd, nfds) == (ssize_t)sizeof hdr);
    if (body_len)
        CU_ASSERT(write(sock, body, body_len) == (ssize_t)body_len);
}

static void refused(const char *magic, uint32_t kind, uint32_t say_fds, uint64_t len,
                    size_t body_len, int nfds, int maxfds, int close_after, const char *want)
{
    int sv[2], p[2], fds[VMM_UPG_MAX_FDS], nfds_got = -1;
    uint8_t *buf = (uint8_t *)"x";
    size_t got_len = 1;
    uint32_t k = 0;
    char err[256] = "", body[64] = {0};
    pair(sv);
    CU_ASSERT_FATAL(pipe(p) == 0);
    raw(sv[0], magic, kind, say_fds, len, body, body_len, nfds, p[0]);
    if (close_after)
        close(sv[0]);
    close(p[0]);
    int before = fds_open();
    int rc = vmm_upg_recv(sv[1], &k, &buf, &got_len, fds, &nfds_got, maxfds, err, sizeof err);
    CU_ASSERT(rc < 0);
    CU_ASSERT(buf == NULL && got_len == 0 && nfds_got == 0);
    CU_ASSERT_EQUAL(fds_open(), before); /* every descriptor that arrived is closed */
    if (!strstr(err, want))
        fprintf(stderr, "want '%s', got '%s'\n", want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    close(p[1]);
    if (!close_after)
        close(sv[0]);
    close(sv[1]);
}

static void test_refusals(void)
{
    refused("STVMMUPX", VMM_UPG_ACK, 0, 0, 0, 0, 4, 0, "bad magic");
    refused(VMM_UPG_MAGIC, 9, 1, 0, 0, 1, 4, 0, "unknown frame kind 9");
    refused(VMM_UPG_MAGIC, VMM_UPG_STATE, 3, 0, 0, 1, 4, 0, "says 3 descriptors, 1 arrived");
    refused(VMM_UPG_MAGIC, VMM_UPG_STATE, 0, 0, 0, 2, 4, 0, "says 0 descriptors, 2 arrived");
    refused(VMM_UPG_MAGIC, VMM_UPG_STATE, 3, 0, 0, 3, 2, 0, "at most 2 taken");
    refused(VMM_UPG_MAGIC, VMM_UPG_STATE, 30, 0, 0, 30, 16, 0, "more descriptors than");
    refused(VMM_UPG_MAGIC, VMM_UPG_STATE, 1, (uint64_t)VMM_UPG_MAX_LEN + 1, 0, 1, 4, 0,
            "more than");
    refused(VMM_UPG_MAGIC, VMM_UPG_STATE, 1, ~0ull, 0, 1, 4, 0, "more than");
    refused(VMM_UPG_MAGIC, VMM_UPG_STATE, 1, 40, 10, 1, 4, 1, "truncated frame");
    /* a closed peer, and a header cut short */
    int sv[2], fds[4], n = -1;
    uint8_t *buf;
    size_t len;
    uint32_t k;
    char err[256] = "";
    pair(sv);
    close(sv[0]);
    CU_ASSERT(vmm_upg_recv(sv[1], &k, &buf, &len, fds, &n, 4, err, sizeof err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "connection closed"));
    close(sv[1]);
    pair(sv);
    CU_ASSERT(write(sv[0], VMM_UPG_MAGIC "\1\0", 10) == 10);
    close(sv[0]);
    CU_ASSERT(vmm_upg_recv(sv[1], &k, &buf, &len, fds, &n, 4, err, sizeof err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated header"));
    close(sv[1]);
    /* the sender refuses what a receiver would */
    CU_ASSERT_EQUAL(vmm_upg_send(0, VMM_UPG_ACK, NULL, 0, fds, VMM_UPG_MAX_FDS + 1), -EINVAL);
}

static void test_config(void)
{
    vmm_config c;
    char err[256];
    const char *t = "{\"kernel\": \"k\", \"memory_shared\": true}";
    CU_ASSERT_EQUAL_FATAL(vmm_config_parse(&c, t, strlen(t), err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.memory_shared, 1);
    vmm_config_free(&c);
    t = "{\"kernel\": \"k\", \"memory_shared\": false}";
    CU_ASSERT_EQUAL_FATAL(vmm_config_parse(&c, t, strlen(t), err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.memory_shared, 0);
    vmm_config_free(&c);
    t = "{\"kernel\": \"k\"}";
    CU_ASSERT_EQUAL_FATAL(vmm_config_parse(&c, t, strlen(t), err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.memory_shared, -1);
    vmm_config_free(&c);
    t = "{\"kernel\": \"k\", \"memory_shared\": 1}";
    CU_ASSERT_NOT_EQUAL(vmm_config_parse(&c, t, strlen(t), err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "memory_shared"));
}

static void test_clear_shared_ram(void)
{
    static vmm_vm vm;
    struct stat st;
    memset(&vm, 0, sizeof vm);
    vm.ram_fd = -1;
    vm.ram_size = 4u << 20;
    vm.ram_memfd = memfd_create("ram", MFD_CLOEXEC);
    CU_ASSERT_FATAL(vm.ram_memfd >= 0 && ftruncate(vm.ram_memfd, (off_t)vm.ram_size) == 0);
    vm.ram = mmap(NULL, vm.ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm.ram_memfd, 0);
    CU_ASSERT_FATAL(vm.ram != MAP_FAILED);
    memset(vm.ram, 0xA5, vm.ram_size);
    CU_ASSERT(fstat(vm.ram_memfd, &st) == 0 && st.st_blocks > 0);
    CU_ASSERT_EQUAL(vmm_vm_clear_ram(&vm), 0);
    /* the pages were freed (checked first: shmem allocates a page for a read fault) */
    CU_ASSERT(fstat(vm.ram_memfd, &st) == 0 && st.st_blocks == 0);
    int zero = 1;
    for (uint64_t i = 0; i < vm.ram_size; i += 4096)
        zero &= vm.ram[i] == 0 && vm.ram[i + 4095] == 0;
    CU_ASSERT(zero);
    uint8_t b = 1;
    CU_ASSERT(pread(vm.ram_memfd, &b, 1, 12345) == 1 && b == 0);
    CU_ASSERT_EQUAL(vm.ram_memfd >= 0, 1); /* still the same shared RAM */
    munmap(vm.ram, vm.ram_size);
    close(vm.ram_memfd);
}

static CU_TestInfo tests[] = {
    {"state frame with a memfd and a pipe, ack, nack", test_round_trip},
    {"bad magic, kind, fd counts, lengths, truncation refused; no fd kept", test_refusals},
    {"memory_shared in the config", test_config},
    {"a reboot zeroes shared RAM and frees its pages", test_clear_shared_ram},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"upgmsg", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
