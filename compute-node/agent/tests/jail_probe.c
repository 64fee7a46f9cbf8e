/*
 * jail_probe.c - stands in for stratus-vmm inside a jail (test_jail.c):
 * prints what it can see, one "key value" line each.
 *
 *   jail_probe --eat MIB          touches MIB MiB of memory, then exits 0
 *   jail_probe --spin CPU         pinned to host CPU number CPU, spins until
 *                                 killed (exits 4 when it cannot be pinned)
 *   jail_probe HOST_PID PATH...   uid, gid, pid, the pids /proc lists,
 *                                 whether HOST_PID can be signalled, and
 *                                 for each PATH the errno of opening it
 *                                 read-write then read-only (0: opened);
 *                                 a PATH tap:NAME attaches to that tap
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "--eat") && argc == 3) { /* touch MiB of memory, 1 MiB at a time */
        for (long i = 0; i < atol(argv[2]); i++) {
            char *p = malloc(1 << 20);
            if (!p)
                return 3;
            memset(p, 1, 1 << 20);
        }
        return 0;
    }
    if (!strcmp(argv[1], "--spin") && argc == 3) { /* a busy vCPU on one host CPU */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(argv[2]), &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            return 4;
        for (volatile unsigned long n = 0;; n++)
            ;
    }
    printf("uid %d\ngid %d\npid %d\n", (int)getuid(), (int)getgid(), (int)getpid());
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (isdigit((unsigned char)e->d_name[0]))
            n++;
    if (d)
        closedir(d);
    printf("procs %d\n", n);
    printf("kill_host %d\n", kill((pid_t)atoi(argv[1]), 0) == 0 ? 0 : errno);
    for (int i = 2; i < argc; i++) {
        if (!strncmp(argv[i], "tap:", 4)) { /* attach to a tap as the VMM does */
            int t = open("/dev/net/tun", O_RDWR);
            struct ifreq ifr;
            memset(&ifr, 0, sizeof ifr);
            ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
            snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[i] + 4);
            printf("tap %s %d\n", argv[i] + 4,
                   t >= 0 && ioctl(t, TUNSETIFF, &ifr) == 0 ? 0 : errno);
            if (t >= 0)
                close(t);
            continue;
        }
        int fd = open(argv[i], O_RDWR);
        int rw = fd >= 0 ? 0 : errno;
        if (fd >= 0)
            close(fd);
        fd = open(argv[i], O_RDONLY);
        int ro = fd >= 0 ? 0 : errno;
        if (fd >= 0)
            close(fd);
        printf("open %s %d %d\n", argv[i], rw, ro);
    }
    int fd = open("/planted", O_WRONLY | O_CREAT, 0600);
    printf("write_root %d\n", fd >= 0 ? 0 : errno);
    return 0;
}
