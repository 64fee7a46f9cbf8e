/*
 * vmm_bench - stratus-vmm beside QEMU, same guest, same run.
 *
 *   1. wall time from process start to the guest's first serial line and to
 *      its exit (the project's test guest, scenario=boot), median of N runs,
 *      beside QEMU -M pc (qboot) and QEMU -M microvm (qboot too, its fastest
 *      configuration: no PCI, no ACPI tables to build for a PC);
 *   2. VMM memory overhead: the process's RSS minus the guest RAM it has
 *      touched (the guest-RAM mapping's own RSS), sampled while the guest
 *      runs scenario=cpu;
 *   3. exits per second: a tiny guest prints a line, then does LOOPS port
 *      writes (port 0x80), MMIO writes (an unclaimed address in the PCI
 *      hole), or virtio notify writes (queue 0 of a virtio-rng at 00:03.0,
 *      an ioeventfd in both VMMs: the guest maps the BAR itself when the
 *      firmware left it unassigned, as qboot does, and sets DRIVER_OK, when
 *      QEMU binds its ioeventfd), then a second line; the rate is the count
 *      over the time between the two lines, the best of min(runs, 3) runs
 *      each. Ring 0 is emulated on this host, so the loop's own instructions
 *      are part of every figure, for both;
 *   4. virtio-blk 4 KiB random-read IOPS (the guest's blk.bench=randread, at
 *      queue depth 1 and 16, 64 MiB raw file);
 *   5. virtio-net 64-byte frames/s: a flooding guest and a sinking guest on
 *      taps joined by a bridge in a network namespace the bench makes.
 *
 * usage: vmm_bench STRATUS_VMM GUEST_ELF [runs [loops [sections]]]
 *   runs: 10; loops: the writes of 3. (200000); sections: a comma list of
 *   start,mem,exits,blk,net (all). bench/vmm/exits-nested.sh runs it inside
 *   the nested test host with fewer of each: the figures are rates.
 *   VMM_BENCH_STRACE=PREFIX: after the timed loops, one more run of each loop
 *   under each VMM with "strace -f -c -o PREFIX.VMM.KIND" (kind 0 port I/O,
 *   1 MMIO, 2 notify): the syscalls each exit costs, not timed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long loops = 200000;
static const char *vmm_bin, *guest_elf;
static const char *netns; /* run the VMM inside this network namespace when set */
static char dir[] = "/tmp/vmm-bench-XXXXXX";
static const char *strace_out; /* run_one runs its command under "strace -f -c -o" this when set */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct run {
    double first_line_ms, second_line_ms, exit_ms;
    long overhead_kib, rss_kib, guest_kib;
    int status;
    char out[8192]; /* the first 8 KiB of serial output */
} run;

/* The number after "DATA key=" in a run's output, or -1. */
static double data_num(const run *r, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "DATA %s=", key);
    const char *p = strstr(r->out, pat);
    return p ? atof(p + strlen(pat)) : -1;
}

/* Guest RAM mapping's RSS (kB) and the total RSS, from /proc/pid/smaps. */
static void sample_mem(pid_t pid, long *total, long *guest)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "r");
    *total = *guest = 0;
    if (!f)
        return;
    int in_guest = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && strchr(line, ' ')) {
            /* both: the 128 MiB anonymous mapping that is guest RAM */
            in_guest = b - a == 128ul << 20;
            continue;
        }
        long kb;
        if (sscanf(line, "Rss: %ld kB", &kb) == 1) {
            *total += kb;
            if (in_guest)
                *guest += kb;
        }
    }
    fclose(f);
}

/* Runs argv; times the first two serial lines and the exit; optional memory sample. */
static run run_one(char *const argv[], double sample_at_ms)
{
    run r = {-1, -1, -1, -1, -1, -1, -1, ""};
    size_t nout = 0;
    int pfd[2];
    if (pipe(pfd))
        return r;
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0);
        dup2(nul, 2);
        close(pfd[0]);
        if (strace_out) { /* the syscalls of the whole process, every thread, counted */
            char *v[64] = {"strace", "-f", "-c", "-o", (char *)strace_out};
            int n = 5;
            for (int i = 0; argv[i] && n < 63; i++)
                v[n++] = argv[i];
            v[n] = NULL;
            execvp(v[0], v);
            _exit(127);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    int lines = 0, sampled = sample_at_ms < 0;
    char buf[4096];
    for (;;) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        int n = poll(&p, 1, 5);
        if (!sampled && now_ms() - t0 >= sample_at_ms) {
            long total, guest;
            sample_mem(pid, &total, &guest);
            r.rss_kib = total;
            r.guest_kib = guest;
            r.overhead_kib = total - guest;
            sampled = 1;
        }
        if (n <= 0)
            continue;
        ssize_t got = read(pfd[0], buf, sizeof buf);
        if (got <= 0)
            break;
        size_t keep = (size_t)got < sizeof r.out - 1 - nout ? (size_t)got : sizeof r.out - 1 - nout;
        memcpy(r.out + nout, buf, keep);
        nout += keep;
        r.out[nout] = 0;
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] != '\n')
                continue;
            lines++;
            if (lines == 1)
                r.first_line_ms = now_ms() - t0;
            if (lines == 2)
                r.second_line_ms = now_ms() - t0;
        }
    }
    int st;
    waitpid(pid, &st, 0);
    r.exit_ms = now_ms() - t0;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    close(pfd[0]);
    return r;
}

static int write_config_as(const char *name, const char *kernel, const char *cmdline,
                           const char *extra)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"vcpus\": 1, \"memory_mib\": 128, \"kernel\": \"%s\", \"cmdline\": \"%s\"%s}\n",
            kernel, cmdline, extra ? extra : "");
    fclose(f);
    return 0;
}

static int write_config(const char *kernel, const char *cmdline, const char *extra)
{
    return write_config_as("vm.json", kernel, cmdline, extra);
}

/* Starts argv in the background with stdout to out_path. */
static pid_t spawn_bg(char *const argv[], const char *out_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nul = open("/dev/null", O_RDWR);
        dup2(fd, 1);
        dup2(nul, 0);
        dup2(nul, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Waits for pid and returns the number after "DATA key=" in its output file, or -1. */
static double bg_result(pid_t pid, const char *out_path, const char *key)
{
    int st;
    waitpid(pid, &st, 0);
    run r;
    memset(&r, 0, sizeof r);
    FILE *f = fopen(out_path, "r");
    if (f) {
        size_t n = fread(r.out, 1, sizeof r.out - 1, f);
        r.out[n] = 0;
        fclose(f);
    }
    return data_num(&r, key);
}

static run run_vmm(const char *kernel, const char *cmdline, const char *extra, double sample)
{
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s/vm.json", dir);
    write_config(kernel, cmdline, extra);
    char *argv[] = {"ip", "netns", "exec", (char *)netns, (char *)vmm_bin, "--config", cfg, NULL};
    return run_one(netns ? argv : argv + 4, sample);
}

static run run_qemu_m(const char *machine, const char *kernel, const char *cmdline, const char *dev,
                      const char *dev2, double sample)
{
    char *argv[48];
    int n = 0;
    if (netns) {
        argv[n++] = "ip";
        argv[n++] = "netns";
        argv[n++] = "exec";
        argv[n++] = (char *)netns;
    }
    const char *fixed[] = {"qemu-system-x86_64",
                           "-M",
                           machine,
                           "-bios",
                           "/usr/share/qemu/qboot.rom",
                           "-enable-kvm",
                           "-cpu",
                           "host,-arch-capabilities",
                           "-nodefaults",
                           "-display",
                           "none",
                           "-monitor",
                           "none",
                           "-serial",
                           "stdio",
                           "-no-reboot",
                           "-m",
                           "128",
                           "-device",
                           "isa-debug-exit,iobase=0xf4,iosize=0x04",
                           NULL};
    for (int i = 0; fixed[i]; i++)
        argv[n++] = (char *)fixed[i];
    if (dev) {
        argv[n++] = dev[0] == '-' ? (char *)dev : "-device";
        if (dev[0] == '-') { /* "-drive ..." or "-netdev ...": option and value */
            argv[n - 1] = strdup(dev);
            char *sp = strchr(argv[n - 1], ' ');
            *sp = 0;
            argv[n++] = sp + 1;
        } else {
            argv[n++] = (char *)dev;
        }
    }
    if (dev2) {
        argv[n++] = "-device";
        argv[n++] = (char *)dev2;
    }
    argv[n++] = "-kernel";
    argv[n++] = (char *)kernel;
    argv[n++] = "-append";
    argv[n++] = (char *)cmdline;
    argv[n] = NULL;
    return run_one(argv, sample);
}

static run run_qemu2(const char *kernel, const char *cmdline, const char *dev, const char *dev2,
                     double sample)
{
    return run_qemu_m("pc", kernel, cmdline, dev, dev2, sample);
}

static run run_qemu(const char *kernel, const char *cmdline, const char *dev, double sample)
{
    return run_qemu2(kernel, cmdline, dev, NULL, sample);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- tiny guests for the exit-rate loops (32-bit code at 1 MiB, PVH note) ---- */

static uint8_t code[512];
static size_t ncode;

static void emit(const void *b, size_t n)
{
    memcpy(code + ncode, b, n);
    ncode += n;
}

static void print_line(char c)
{
    uint8_t op[] = {0x66, 0xba, 0xf8, 0x03, 0xb0, (uint8_t)c, 0xee, 0xb0, '\n', 0xee};
    emit(op, sizeof op);
}

/* kind: 0 PIO to 0x80, 1 MMIO to 0xd0000000, 2 notify at (BAR of 00:03.0 bar_reg) + 0x3000 */
static int write_loop_guest(const char *path, int kind, int bar_reg)
{
    ncode = 0;
    print_line('a');
    if (kind == 2) {
        /* mov eax, 0x80000000 | dev 3 | reg; mov dx, 0xcf8; out dx, eax; mov dx, 0xcfc;
         * in eax, dx; and eax, ~0xf; jnz assigned */
        uint32_t addr = 0x80000000u | (3u << 11) | (uint32_t)bar_reg;
        uint8_t op[] = {0xb8, 0,    0,    0,    0,    0x66, 0xba, 0xf8, 0x0c, 0xef,
                        0x66, 0xba, 0xfc, 0x0c, 0xed, 0x83, 0xe0, 0xf0, 0x75, 0x20};
        memcpy(op + 1, &addr, 4);
        emit(op, sizeof op);
        /* Unassigned (qboot leaves QEMU's BARs so, and the loop then wrote guest RAM at 0x3000):
         * out dx, eax with eax = 0xe0000000 (the BAR); the command register (0x04) := memory
         * decoding, a 16-bit write; eax = 0xe0000000. 32 bytes. */
        uint32_t cmd = 0x80000000u | (3u << 11) | 0x04u;
        uint8_t un[] = {0xb8, 0,    0,    0,    0xe0, 0xef, 0xb8, 0,    0,    0,    0,
                        0x66, 0xba, 0xf8, 0x0c, 0xef, 0x66, 0xba, 0xfc, 0x0c, 0xb8, 0x02,
                        0,    0,    0,    0x66, 0xef, 0xb8, 0,    0,    0,    0xe0};
        memcpy(un + 7, &cmd, 4);
        emit(un, sizeof un);
        /* assigned: add eax, 0x3000; mov ebx, eax; mov byte [ebx - 0x3000 + 0x14], 7: the
         * common configuration's device_status := ACKNOWLEDGE | DRIVER | DRIVER_OK, the moment
         * QEMU binds the queue's ioeventfd (stratus-vmm binds it when the BAR is mapped) */
        uint8_t as[] = {0x05, 0x00, 0x30, 0x00, 0x00, 0x89, 0xc3,
                        0xc6, 0x83, 0x14, 0xd0, 0xff, 0xff, 0x07};
        emit(as, sizeof as);
    } else {
        uint8_t op[] = {0xbb, 0x00, 0x00, 0x00, 0xd0}; /* mov ebx, 0xd0000000 */
        emit(op, sizeof op);
    }
    uint32_t n = (uint32_t)loops;
    uint8_t setup[] = {0xb9, 0,    0,    0,    0,   0x66,
                       0xba, 0x80, 0x00, 0x31, 0xc0}; /* ecx; dx=0x80; eax=0 */
    memcpy(setup + 1, &n, 4);
    emit(setup, sizeof setup);
    if (kind == 0) {
        uint8_t op[] = {0xee, 0x49, 0x75, 0xfc}; /* out dx, al; dec ecx; jnz */
        emit(op, sizeof op);
    } else if (kind == 1) {
        uint8_t op[] = {0x89, 0x03, 0x49, 0x75, 0xfb}; /* mov [ebx], eax; dec ecx; jnz */
        emit(op, sizeof op);
    } else {
        uint8_t op[] = {0x66, 0x89, 0x03, 0x49, 0x75, 0xfa}; /* mov [ebx], ax (queue 0) */
        emit(op, sizeof op);
    }
    print_line('b');
    uint8_t ex[] = {0xb8, 0x10, 0, 0, 0, 0x66, 0xba, 0xf4, 0x00, 0xef, 0xf4, 0xeb, 0xfe};
    emit(ex, sizeof ex);

    uint8_t img[0x1000 + sizeof code];
    memset(img, 0, sizeof img);
    memcpy(img, "\177ELF\2\1\1", 7);
    uint16_t h16[] = {2, 62};
    memcpy(img + 16, h16, 4);
    uint32_t one = 1;
    memcpy(img + 20, &one, 4);
    uint64_t base = 0x100000, phoff = 64;
    memcpy(img + 24, &base, 8);
    memcpy(img + 32, &phoff, 8);
    uint16_t ph[] = {64, 56, 2};
    memcpy(img + 52, ph, 6);
    uint32_t load[] = {1, 5};
    uint64_t l64[] = {0x1000, base, base, ncode, ncode, 0x1000};
    memcpy(img + 64, load, 8);
    memcpy(img + 72, l64, 48);
    uint32_t note[] = {4, 4};
    uint64_t n64[] = {176, 0, 0, 20, 20, 4};
    memcpy(img + 120, note, 8);
    memcpy(img + 128, n64, 48);
    uint32_t nh[] = {4, 4, 18};
    memcpy(img + 176, nh, 12);
    memcpy(img + 188, "Xen", 4);
    uint32_t entry = 0x100000;
    memcpy(img + 192, &entry, 4);
    memcpy(img + 0x1000, code, ncode);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(img, 1, 0x1000 + ncode, f);
    fclose(f);
    return 0;
}

/* virtio-blk: random 4 KiB reads over a 64 MiB raw file (page cache warm), guest ring 3. */
static void bench_blk(void)
{
    char img[256], extra[512], drive[512], cmd[128];
    snprintf(img, sizeof img, "%s/disk.img", dir);
    int fd = open(img, O_CREAT | O_RDWR | O_TRUNC, 0644);
    static char block[1 << 20];
    memset(block, 0x5a, sizeof block);
    for (int i = 0; i < 64; i++)
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
            break;
    close(fd);
    snprintf(extra, sizeof extra, ", \"disks\": [{\"path\": \"%s\"}]", img);
    snprintf(drive, sizeof drive, "-drive file=%s,format=raw,if=none,id=d0,cache=writeback", img);
    printf("virtio-blk 4 KiB random reads, 64 MiB raw file, 2 s     stratus-vmm      qemu\n");
    for (int depth = 1; depth <= 16; depth *= 16) {
        snprintf(cmd, sizeof cmd, "scenario=blk blk.bench=randread blk.ms=2000 blk.depth=%d",
                 depth);
        run v = run_vmm(guest_elf, cmd, extra, -1);
        run q = run_qemu2(guest_elf, cmd, drive, "virtio-blk-pci,drive=d0,disable-legacy=on", -1);
        printf("  IOPS at queue depth %-2d                          %10.0f  %10.0f\n", depth,
               data_num(&v, "blk.iops"), data_num(&q, "blk.iops"));
    }
}

/* virtio-net: one guest floods 64-byte frames, another on the same bridge sinks them. */
static void bench_net(void)
{
    char ns[64], sh[1024];
    snprintf(ns, sizeof ns, "vmmbench%d", (int)getpid());
    snprintf(sh, sizeof sh,
             "set -e; ip netns add %s; ip -n %s link add br0 type bridge; ip -n %s link set br0 up;"
             " for t in tv1 tv2 tq1 tq2; do ip -n %s tuntap add dev $t mode tap;"
             " ip -n %s link set $t master br0; ip -n %s link set $t up; done",
             ns, ns, ns, ns, ns, ns);
    if (system(sh) != 0) {
        printf("virtio-net: could not build a network namespace (root needed); skipped\n");
        return;
    }
    netns = ns;
    char out[256], cfg2[256];
    snprintf(out, sizeof out, "%s/sink.out", dir);
    snprintf(cfg2, sizeof cfg2, "%s/sink.json", dir);
    const char *flood = "scenario=net net.role=flood net.ms=2000";
    const char *sink = "scenario=net net.role=sink net.wait_ms=5000";
    double v_tx, v_rx, q_tx, q_rx;
    {
        write_config_as("sink.json", guest_elf, sink,
                        ", \"nics\": [{\"tap\": \"tv2\", \"mac\": \"52:54:00:00:01:02\"}]");
        char *argv[] = {"ip", "netns", "exec", ns, (char *)vmm_bin, "--config", cfg2, NULL};
        pid_t s = spawn_bg(argv, out);
        usleep(300000);
        run f = run_vmm(guest_elf, flood,
                        ", \"nics\": [{\"tap\": \"tv1\", \"mac\": \"52:54:00:00:01:01\"}]", -1);
        v_tx = data_num(&f, "net.tx_fps");
        v_rx = bg_result(s, out, "net.rx_fps");
    }
    {
        char *argv[] = {"ip",
                        "netns",
                        "exec",
                        ns,
                        "qemu-system-x86_64",
                        "-M",
                        "pc",
                        "-bios",
                        "/usr/share/qemu/qboot.rom",
                        "-enable-kvm",
                        "-cpu",
                        "host,-arch-capabilities",
                        "-nodefaults",
                        "-display",
                        "none",
                        "-monitor",
                        "none",
                        "-serial",
                        "stdio",
                        "-no-reboot",
                        "-m",
                        "128",
                        "-device",
                        "isa-debug-exit,iobase=0xf4,iosize=0x04",
                        "-netdev",
                        "tap,id=n0,ifname=tq2,script=no,downscript=no",
                        "-device",
                        "virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:00:02:02",
                        "-kernel",
                        (char *)guest_elf,
                        "-append",
                        (char *)sink,
                        NULL};
        pid_t s = spawn_bg(argv, out);
        usleep(300000);
        run f = run_qemu2(guest_elf, flood, "-netdev tap,id=n0,ifname=tq1,script=no,downscript=no",
                          "virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:00:02:01", -1);
        q_tx = data_num(&f, "net.tx_fps");
        q_rx = bg_result(s, out, "net.rx_fps");
    }
    netns = NULL;
    snprintf(sh, sizeof sh, "ip netns del %s", ns);
    if (system(sh) != 0)
        fprintf(stderr, "could not remove the namespace %s\n", ns);
    printf("virtio-net 64-byte frames, two guests on a bridge, 2 s    stratus-vmm      qemu\n");
    printf("  frames/s sent (flood)                            %10.0f  %10.0f\n", v_tx, q_tx);
    printf("  frames/s received (sink)                         %10.0f  %10.0f\n", v_rx, q_rx);
}

/* 1 when name is in the comma list sections (or the list is NULL: all). */
static int wanted(const char *sections, const char *name)
{
    if (!sections)
        return 1;
    size_t n = strlen(name);
    for (const char *p = sections; (p = strstr(p, name)); p += n)
        if ((p == sections || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            return 1;
    return 0;
}

static void bench_start(int runs)
{
    static double vf[1000], vx[1000], qf[1000], qx[1000], mf[1000], mx[1000];
    for (int i = 0; i < runs; i++) {
        run v = run_vmm(guest_elf, "scenario=boot", NULL, -1);
        run q = run_qemu(guest_elf, "scenario=boot", NULL, -1);
        run m = run_qemu_m("microvm", guest_elf, "scenario=boot", NULL, NULL, -1);
        if (v.status != 16 || q.status != 33 || m.status != 33)
            fprintf(stderr, "warning: run %d exit status vmm %d qemu %d microvm %d\n", i, v.status,
                    q.status, m.status);
        vf[i] = v.first_line_ms, vx[i] = v.exit_ms, qf[i] = q.first_line_ms, qx[i] = q.exit_ms;
        mf[i] = m.first_line_ms, mx[i] = m.exit_ms;
    }
    printf("test guest scenario=boot, %d runs, median ms  stratus-vmm  qemu -M pc  qemu -M microvm"
           "  stratus/microvm\n",
           runs);
    double a = median(vf, runs), b = median(qf, runs), c = median(mf, runs);
    printf("  process start -> first serial line         %10.1f  %10.1f  %15.1f  %14.2fx\n", a, b,
           c, c > 0 ? a / c : 0);
    a = median(vx, runs), b = median(qx, runs), c = median(mx, runs);
    printf("  process start -> exit                      %10.1f  %10.1f  %15.1f  %14.2fx\n", a, b,
           c, c > 0 ? a / c : 0);
}

static void bench_mem(void)
{
    run vm = run_vmm(guest_elf, "scenario=cpu cpu.ms=1500", NULL, 1000);
    run qm = run_qemu(guest_elf, "scenario=cpu cpu.ms=1500", NULL, 1000);
    printf("memory while the guest runs (KiB): RSS total / guest RAM touched / overhead\n");
    printf("  stratus-vmm                                      %7ld / %7ld / %7ld\n", vm.rss_kib,
           vm.guest_kib, vm.overhead_kib);
    printf("  qemu                                             %7ld / %7ld / %7ld\n", qm.rss_kib,
           qm.guest_kib, qm.overhead_kib);
}

/* Writes per second between a run's two serial lines, or 0. */
static double loop_rate(const run *r)
{
    return r->second_line_ms > r->first_line_ms
               ? loops / ((r->second_line_ms - r->first_line_ms) / 1e3)
               : 0;
}

static void bench_exits(int reps)
{
    static const char *const names[] = {"port I/O writes (0x80)", "MMIO writes (unclaimed)",
                                        "virtio notify writes"};
    printf("exits per second (%ld writes between two serial lines, best of %d)"
           "  stratus-vmm  qemu -M pc  ratio\n",
           loops, reps);
    for (int kind = 0; kind < 3; kind++) {
        char kv[256], kq[256];
        snprintf(kv, sizeof kv, "%s/loop-vmm-%d.elf", dir, kind);
        snprintf(kq, sizeof kq, "%s/loop-qemu-%d.elf", dir, kind);
        /* Our virtio-rng is 00:01.0's BAR0... but the loop reads 00:03.0: put two disks first. */
        write_loop_guest(kv, kind, 0x10);
        write_loop_guest(kq, kind, 0x20);
        char extra[512] = "";
        if (kind == 2)
            snprintf(extra, sizeof extra,
                     ", \"disks\": [{\"path\": \"%s\", \"read_only\": true}, "
                     "{\"path\": \"%s\", \"read_only\": true}], \"rng\": true",
                     guest_elf, guest_elf);
        double rv = 0, rq = 0;
        for (int i = 0; i < reps; i++) { /* alternate, so that a burst of load hits both */
            run v = run_vmm(kv, "x", extra, -1);
            run q = run_qemu(kq, "x",
                             kind == 2 ? "virtio-rng-pci,disable-legacy=on,addr=03.0" : NULL, -1);
            rv = loop_rate(&v) > rv ? loop_rate(&v) : rv;
            rq = loop_rate(&q) > rq ? loop_rate(&q) : rq;
        }
        const char *st = getenv("VMM_BENCH_STRACE"); /* one more run of each, untimed */
        if (st && *st) {
            char ov[300], oq[300];
            snprintf(ov, sizeof ov, "%s.stratus-vmm.%d", st, kind);
            snprintf(oq, sizeof oq, "%s.qemu.%d", st, kind);
            strace_out = ov;
            run_vmm(kv, "x", extra, -1);
            strace_out = oq;
            run_qemu(kq, "x", kind == 2 ? "virtio-rng-pci,disable-legacy=on,addr=03.0" : NULL, -1);
            strace_out = NULL;
        }
        printf("  %-40s %26.0f  %10.0f  %4.2fx\n", names[kind], rv, rq, rq > 0 ? rv / rq : 0);
    }
    printf("(virtio notify: the guest sets DRIVER_OK but no queue up: both VMMs take the write in\n"
           " KVM's ioeventfd; QEMU's main loop then reads the kicks (it listens from DRIVER_OK),\n"
           " stratus-vmm's does not (it listens once a queue is live).)\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s STRATUS_VMM GUEST_ELF [runs [loops [sections]]]\n", argv[0]);
        return 2;
    }
    vmm_bin = argv[1];
    guest_elf = argv[2];
    int runs = argc > 3 ? atoi(argv[3]) : 10;
    loops = argc > 4 ? atol(argv[4]) : loops;
    const char *sections = argc > 5 ? argv[5] : NULL;
    if (runs < 1 || runs > 1000 || loops < 1 || loops > 100000000 || !mkdtemp(dir))
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (wanted(sections, "start"))
        bench_start(runs);
    if (wanted(sections, "mem"))
        bench_mem();
    if (wanted(sections, "exits"))
        bench_exits(runs < 3 ? runs : 3);
    if (wanted(sections, "blk"))
        bench_blk();
    if (wanted(sections, "net"))
        bench_net();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
